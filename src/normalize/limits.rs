//! How long each sent field may be, and where each limit comes from. A value beyond
//! its limit rejects the row: no API takes it, and sending it would only fail later
//! (or worse, be stored cut).

use super::unicode::shown;

/// An email address, in octets: RFC 5321 §4.5.3.1.3 limits a path to 256 octets
/// including its angle brackets, so 254 for the address (RFC 3696 erratum 1690).
pub const EMAIL_MAX: usize = 254;
/// The part of an address before `@`, in octets: RFC 5321 §4.5.3.1.1.
pub const EMAIL_LOCAL_MAX: usize = 64;
/// The domain of an address, in octets: RFC 5321 §4.5.3.1.2.
pub const EMAIL_DOMAIN_MAX: usize = 255;
/// One label of a domain, in octets: RFC 1035 §2.3.4.
pub const DOMAIN_LABEL_MAX: usize = 63;

/// `referrer`, in bytes: browsers send at most 4,096 bytes of a referrer and only its
/// origin beyond (W3C Referrer Policy, "Determine request's Referrer", step 7:
/// "If the result of serializing referrerURL is a string whose length is greater than
/// 4096, set referrerURL to referrerOrigin"; Chrome 77, Firefox 70, Safari 14 on, per
/// MDN browser-compat-data `http.headers.Referer.length_limit_4096B`).
pub const REFERRER_MAX: usize = 4_096;

/// `current_url`, in bytes: the landing page was requested from a web server, whose
/// request line (method, URL, version) common servers take up to 8 KiB by default
/// (nginx `large_client_header_buffers 4 8k`: a longer request line gets 414;
/// Apache httpd `LimitRequestLine 8190`); RFC 9110 §4.1 asks
/// senders and recipients to support at least 8,000 octets.
pub const URL_MAX: usize = 8_192;

/// `url_parameters`, in bytes, as the query string it came from (`k=v&k=v`, keys and
/// values as sent, unencoded): UTM parameters and click ids travel in the landing
/// page's URL, so they fit in [`URL_MAX`] together.
pub const QUERY_MAX: usize = URL_MAX;

/// One `settings` value, in bytes: SealMetrics publishes no limit; a setting is held
/// to what a URL parameter may be, [`URL_MAX`].
pub const SETTING_MAX: usize = URL_MAX;

/// The reason for a value of `what` beyond `max` bytes, naming its start.
pub fn too_long(what: &str, value: &str, max: usize, why: &str) -> String {
    format!(
        "{what} of {} bytes ('{}') is longer than the {max} bytes {why}",
        value.len(),
        preview(value)
    )
}

/// The first 40 characters of `value`, with `…` when there were more, invisible
/// characters escaped.
pub fn preview(value: &str) -> String {
    let head = match value.char_indices().nth(40) {
        Some((i, _)) => format!("{}…", &value[..i]),
        None => value.to_string(),
    };
    shown(&head).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_name_size_limit_and_start() {
        let r = too_long(
            "a referrer",
            &"r".repeat(5000),
            REFERRER_MAX,
            "browsers send",
        );
        assert_eq!(
            r,
            format!(
                "a referrer of 5000 bytes ('{}…') is longer than the 4096 bytes browsers send",
                "r".repeat(40)
            )
        );
    }
}
