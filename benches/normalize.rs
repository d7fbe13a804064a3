//! Hot paths: time parsing and normalizing one row. `cargo bench --bench normalize`.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

use setclick::normalize::time::TimeRules;
use setclick::normalize::{NormalizeOptions, Normalizer};
use setclick::source::{Cell, Row};

fn rules() -> TimeRules {
    TimeRules {
        zone: Some(jiff::tz::TimeZone::get("Europe/Madrid").unwrap()),
        ..TimeRules::default()
    }
}

fn time(c: &mut Criterion) {
    let r = rules();
    for (name, s) in [
        ("naive iso", "2024-07-01 10:31:28"),
        ("rfc3339", "2024-07-01T10:31:28.123+02:00"),
        ("epoch ms", "1719822688123"),
    ] {
        c.bench_function(&format!("time/{name}"), |b| {
            b.iter(|| {
                let w = r.parse_text(black_box(s)).unwrap();
                r.resolve(w, String::new).unwrap()
            })
        });
    }
}

fn row(c: &mut Criterion) {
    let header: Vec<String> = [
        "click_time",
        "email",
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "current_url",
        "referrer",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let opts = NormalizeOptions {
        rules: rules(),
        max_ms: i64::MAX,
        ..NormalizeOptions::default()
    };
    let n = Normalizer::new(&header, &opts).unwrap();
    let cells: Vec<Cell> = [
        "2024-07-01 10:31:28",
        "customer.123@example-9.com",
        "google",
        "cpc",
        "campaign-7",
        "https://shop.example.com/product/77?utm_content=banner-3&page=2",
        "https://www.google.com/",
    ]
    .iter()
    .map(|s| Cell::Text((*s).into()))
    .collect();
    c.bench_function("normalize/row", |b| {
        b.iter(|| {
            let r = Row {
                ordinal: 1,
                pos: 2,
                cells: cells.clone(),
                defect: None,
            };
            n.normalize(black_box(r))
        })
    });
}

criterion_group!(benches, time, row);
criterion_main!(benches);
