//! A file's settings in the store: the options that shape the leads a file gives
//! (mapping, time zone and formats, settings, wire options, reader options). A file
//! imported under some may not resume under others; the store keeps them by name,
//! so that the refusal says which changed. Stores from setclick versions that kept
//! only a fingerprint of them are matched by that fingerprint, then upgraded.

use std::collections::BTreeMap;

/// The settings of one import of a file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileSettings {
    /// The fingerprint earlier versions kept (xxh3-128 of their text, hex).
    pub hash: String,
    /// Each option's flag and value; `None`: only the fingerprint is known.
    pub items: Option<BTreeMap<String, String>>,
}

impl From<&str> for FileSettings {
    fn from(hash: &str) -> FileSettings {
        FileSettings {
            hash: hash.to_string(),
            items: None,
        }
    }
}

impl FileSettings {
    /// What the store keeps: the items as JSON, or the fingerprint.
    pub fn stored(&self) -> String {
        match &self.items {
            Some(items) => serde_json::to_string(items).unwrap_or_else(|_| self.hash.clone()),
            None => self.hash.clone(),
        }
    }

    /// How `stored` (from the store) differs from these: `Some([])` the same,
    /// `Some(changes)` each changed option as `--flag was A, now B`, `None` different
    /// but only a fingerprint to tell by.
    pub fn changes(&self, stored: &str) -> Option<Vec<String>> {
        let old: Option<BTreeMap<String, String>> = serde_json::from_str(stored).ok();
        match (old, &self.items) {
            (Some(old), Some(new)) => {
                let keys = old
                    .keys()
                    .chain(new.keys())
                    .collect::<std::collections::BTreeSet<_>>();
                let shown = |v: Option<&String>| match v.map(String::as_str) {
                    None | Some("") => "none".to_string(),
                    Some(v) => v.to_string(),
                };
                Some(
                    keys.into_iter()
                        .filter(|k| old.get(*k) != new.get(*k))
                        .map(|k| {
                            format!("{k} was {}, now {}", shown(old.get(k)), shown(new.get(k)))
                        })
                        .collect(),
                )
            }
            _ => (stored == self.hash || stored == self.stored()).then(Vec::new),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(tz: &str) -> FileSettings {
        FileSettings {
            hash: format!("hash-{tz}"),
            items: Some(BTreeMap::from([
                ("--timezone".to_string(), tz.to_string()),
                ("--map".to_string(), "email=Correo".to_string()),
            ])),
        }
    }

    #[test]
    fn a_change_is_named_with_both_values() {
        let madrid = with("Europe/Madrid");
        assert_eq!(madrid.changes(&madrid.stored()), Some(vec![]));
        assert_eq!(
            with("UTC").changes(&madrid.stored()),
            Some(vec!["--timezone was Europe/Madrid, now UTC".to_string()])
        );
    }

    #[test]
    fn an_older_stores_fingerprint_still_matches() {
        let s = with("UTC");
        assert_eq!(s.changes("hash-UTC"), Some(vec![]), "same fingerprint");
        assert_eq!(s.changes("hash-other"), None, "different, not nameable");
        assert_eq!(FileSettings::from("abc").changes("abc"), Some(vec![]));
    }
}
