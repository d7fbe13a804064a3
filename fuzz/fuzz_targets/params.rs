//! url_parameters and settings: the JSON column, the URL query, emails, truthiness.
#![no_main]

use libfuzzer_sys::fuzz_target;
use setclick::normalize::params::{Pairs, add_json_object, add_url_query, normalize_email, truthy};

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    let mut pairs = Pairs::default();
    let _ = add_json_object(&mut pairs, &s);
    add_url_query(&mut pairs, &s);
    let json = pairs.to_json();
    assert!(
        serde_json::from_str::<serde_json::Value>(&json).is_ok(),
        "invalid JSON written: {json}"
    );
    let _ = normalize_email(s.as_ref());
    let _ = truthy(&s);
});
