//! The click_time parser on any text, with and without a day/month order, a zone and
//! an explicit format: errors are fine, panics are not.
#![no_main]

use libfuzzer_sys::fuzz_target;
use setclick::normalize::time::{DateOrder, TimeRules};

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    let zone = jiff::tz::TimeZone::get("Europe/Madrid").ok();
    for rules in [
        TimeRules {
            zone: zone.clone(),
            order: Some(DateOrder::DayFirst),
            ..TimeRules::default()
        },
        TimeRules {
            zone: None,
            order: None,
            ..TimeRules::default()
        },
        TimeRules {
            zone,
            format: Some("%d/%m/%Y %H:%M".into()),
            ..TimeRules::default()
        },
    ] {
        if let Ok(w) = rules.parse_text(&s) {
            let _ = rules.resolve(w, || s.to_string());
        }
    }
});
