//! The profile on stderr, after the summary: the first and last click on the
//! zone's clock, a 24-column hour-of-day strip and the top sources; plain ASCII
//! when the locale or the terminal cannot show block characters.

use super::Profile;

/// Hour-strip levels, lowest to highest; an hour without leads is a space.
const BLOCKS: [char; 5] = ['▁', '▂', '▃', '▅', '▇'];
const ASCII_LEVELS: [char; 5] = ['.', ':', '-', '=', '#'];
/// Sources shown.
const SOURCES: usize = 5;

/// Whether stderr can show block characters: the locale's character set is
/// UTF-8 (`LC_ALL`, else `LC_CTYPE`, else `LANG`, as POSIX orders them) and the
/// terminal is not `dumb`.
pub fn unicode() -> bool {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let locale = var("LC_ALL")
        .or_else(|| var("LC_CTYPE"))
        .or_else(|| var("LANG"));
    utf8_locale(locale.as_deref()) && var("TERM").as_deref() != Some("dumb")
}

fn utf8_locale(locale: Option<&str>) -> bool {
    locale.is_some_and(|l| {
        let l = l.to_ascii_lowercase();
        l.contains("utf-8") || l.contains("utf8")
    })
}

/// The block's lines (none without leads), indented under the summary line.
pub fn lines(p: &Profile, unicode: bool) -> Vec<String> {
    if p.leads == 0 {
        return Vec::new();
    }
    let t = &p.click_time;
    let arrow = if unicode { "→" } else { "->" };
    let mut out = vec![
        format!(
            "  clicks {} {arrow} {} ({})",
            t.first_local, t.last_local, t.zone
        ),
        format!("  hours  00 [{}] 23", strip(&t.by_hour, unicode)),
    ];
    let sources: Vec<String> = p
        .utm_source
        .0
        .iter()
        .take(SOURCES)
        .map(|(v, n)| format!("{} {}", value(v, unicode), share(*n, p.leads)))
        .collect();
    // Past 1,024 distinct values the counts are Space-Saving's estimates.
    let estimated = match p.top_error.get("utm_source") {
        Some(e) => format!(" (estimates, each at most {e} high)"),
        None => String::new(),
    };
    out.push(if sources.is_empty() {
        "  utm_source: none".to_string()
    } else {
        format!("  utm_source: {}{estimated}", sources.join(", "))
    });
    out
}

/// A value from the data as the block shows it: invisible and control
/// characters escaped (a value cannot start a line of its own or pass for
/// another), long ones cut; in ASCII, every other character escaped too.
fn value(v: &str, unicode: bool) -> String {
    let shown = crate::normalize::unicode::shown(v);
    if unicode || shown.is_ascii() {
        return shown.into_owned();
    }
    shown
        .chars()
        .map(|c| match c.is_ascii() {
            true => c.to_string(),
            false => format!("\\u{{{:04X}}}", c as u32),
        })
        .collect()
}

/// Say the block on stderr, as the summary is said (a JSON line each with
/// `--log-format json`, nothing with `-q`).
pub fn print(p: &Profile) {
    for line in lines(p, unicode()) {
        crate::ui::say(line);
    }
}

/// One character per hour, its height the hour's share of the busiest hour's.
pub fn strip(hours: &[u64; 24], unicode: bool) -> String {
    let levels = if unicode { BLOCKS } else { ASCII_LEVELS };
    let max = hours.iter().copied().max().unwrap_or(0);
    hours
        .iter()
        .map(|&n| {
            if n == 0 || max == 0 {
                return ' ';
            }
            // 1..=max onto the five levels, the busiest hour on the highest.
            let level = ((n * 5 - 1) / max).min(4) as usize;
            levels[level]
        })
        .collect()
}

fn share(n: u64, of: u64) -> String {
    let pct = 100.0 * n as f64 / of.max(1) as f64;
    if pct < 1.0 {
        "<1%".to_string()
    } else {
        format!("{pct:.0}%")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::Top;

    fn profile() -> Profile {
        let mut p = Profile {
            leads: 200,
            ..Profile::default()
        };
        let t = &mut p.click_time;
        t.zone = "Europe/Madrid".into();
        t.first_local = "2024-06-01 08:00:00".into();
        t.last_local = "2024-06-02 21:00:00".into();
        t.by_hour[9] = 100;
        t.by_hour[10] = 60;
        t.by_hour[11] = 39;
        t.by_hour[23] = 1;
        p.utm_source = Top(vec![("google".into(), 150), ("bing".into(), 1)]);
        p
    }

    #[test]
    fn strip_heights_follow_the_busiest_hour() {
        let s = strip(&profile().click_time.by_hour, true);
        assert_eq!(s.chars().count(), 24);
        let c: Vec<char> = s.chars().collect();
        assert_eq!((c[0], c[9], c[10], c[11], c[23]), (' ', '▇', '▃', '▂', '▁'));
        let a: Vec<char> = strip(&profile().click_time.by_hour, false)
            .chars()
            .collect();
        assert_eq!((a[9], a[10], a[23]), ('#', '-', '.'));
        assert!(a.iter().all(char::is_ascii));
        assert_eq!(strip(&[0; 24], true), " ".repeat(24));
    }

    #[test]
    fn the_block_in_unicode_and_in_ascii() {
        let u = lines(&profile(), true);
        assert_eq!(
            u[0],
            "  clicks 2024-06-01 08:00:00 → 2024-06-02 21:00:00 (Europe/Madrid)"
        );
        assert!(u[1].starts_with("  hours  00 ["), "{}", u[1]);
        assert_eq!(u[2], "  utm_source: google 75%, bing <1%");
        let a = lines(&profile(), false);
        assert!(a.iter().all(|l| l.is_ascii()), "{a:?}");
        assert!(a[0].contains(" -> "));
        assert!(lines(&Profile::default(), true).is_empty());
    }

    #[test]
    fn values_from_the_data_cannot_break_the_block_or_its_ascii() {
        let mut p = profile();
        p.utm_source = Top(vec![
            ("line1\nFAKE: 0 rows valid\r".into(), 100),
            ("café😀".into(), 50),
        ]);
        let u = lines(&p, true);
        assert_eq!(u.len(), 3, "{u:?}");
        assert!(
            u[2].contains("line1\\u{000A}FAKE: 0 rows valid\\u{000D} 50%"),
            "{}",
            u[2]
        );
        assert!(u[2].contains("café😀 25%"), "{}", u[2]);
        let a = lines(&p, false);
        assert!(a.iter().all(|l| l.is_ascii()), "{a:?}");
        assert!(a[2].contains("caf\\u{00E9}\\u{1F600} 25%"), "{}", a[2]);
        // Estimates say so.
        p.top_error.insert("utm_source".into(), 97);
        assert!(lines(&p, true)[2].ends_with("(estimates, each at most 97 high)"));
    }

    #[test]
    fn locales_that_show_blocks() {
        assert!(utf8_locale(Some("en_US.UTF-8")));
        assert!(utf8_locale(Some("es_ES.utf8")));
        assert!(!utf8_locale(Some("C")));
        assert!(!utf8_locale(Some("POSIX")));
        assert!(!utf8_locale(None));
    }
}
