//! The HTTP client: one set-click request per lead, form-encoded exactly as the
//! endpoint page shows, with connection reuse and timeouts.

use std::time::Duration;

use bytes::Bytes;
use reqwest::Url;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderName, HeaderValue};

use super::answer::{Answer, answer};
use super::auth::Secret;
use super::conn::{Conn, Origin};
use crate::lead::Lead;

/// The real endpoint.
pub const DEFAULT_ENDPOINT: &str = "https://app.sealmetrics.com/api/auth/v1.0/set-click";

/// Wire choices where the API's sources disagree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClickTimeUnit {
    #[default]
    Millis,
    Seconds,
}

#[derive(Debug, Clone)]
pub struct Wire {
    pub click_time_unit: ClickTimeUnit,
    /// `referrer` (endpoint page) or `referrer_url` (original collection).
    pub referrer_field: &'static str,
}

impl Default for Wire {
    fn default() -> Wire {
        Wire {
            click_time_unit: ClickTimeUnit::Millis,
            referrer_field: "referrer",
        }
    }
}

/// An endpoint URL setclick will not send to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    #[error("--endpoint {0}: not a URL ({1})")]
    NotUrl(String, String),
    #[error(
        "--endpoint {0}: plain http is allowed only to loopback addresses (127.0.0.1, ::1, \
         localhost); use https"
    )]
    PlainHttp(String),
    #[error("--endpoint {0}: unsupported scheme '{1}'")]
    Scheme(String, String),
}

/// Check an endpoint URL: https, or plain http only to a loopback address (the
/// token must not cross a network in clear).
pub fn check_endpoint(raw: &str) -> Result<Url, EndpointError> {
    let url = Url::parse(raw).map_err(|e| EndpointError::NotUrl(raw.into(), e.to_string()))?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => Err(EndpointError::PlainHttp(raw.into())),
        other => Err(EndpointError::Scheme(raw.into(), other.into())),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Another API path on the endpoint's origin (login, accounts).
pub fn sibling(endpoint: &Url, path: &str) -> Url {
    let mut u = endpoint.clone();
    u.set_path(path);
    u.set_query(None);
    u
}

pub struct ApiClient {
    /// For the account check, and for leads when a proxy is configured.
    http: reqwest::Client,
    /// Each sender's own connection goes here; `None` behind a proxy.
    origin: Option<Origin>,
    endpoint: Url,
    token: Secret,
    /// The headers of every set-click request; the authorization (`Bearer <token>`,
    /// built once) is marked sensitive, never shown by `Debug`.
    headers: Vec<(HeaderName, HeaderValue)>,
    timeout: Duration,
    account_id: String,
    wire: Wire,
}

/// Whether the environment names a proxy for this endpoint's scheme: the variables
/// reqwest reads (`HTTPS_PROXY` for https, `HTTP_PROXY` for http, `ALL_PROXY` for
/// both, upper or lower case). Leads then go through the general client, which
/// applies them and `NO_PROXY`.
pub fn proxy_configured(url: &Url, var: impl Fn(&str) -> Option<String>) -> bool {
    let names: [&str; 4] = if url.scheme() == "https" {
        ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]
    } else {
        ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"]
    };
    names
        .iter()
        .any(|v| var(v).is_some_and(|x| !x.trim().is_empty()))
}

impl ApiClient {
    pub fn new(
        endpoint: Url,
        token: Secret,
        account_id: String,
        wire: Wire,
        timeout: Duration,
        concurrency: usize,
    ) -> Result<ApiClient, String> {
        let http = reqwest::Client::builder()
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .timeout(timeout)
            .pool_max_idle_per_host(concurrency.max(1))
            .user_agent(concat!("setclick/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        let mut authorization = HeaderValue::from_str(&format!("Bearer {}", token.expose()))
            .map_err(|_| {
                "the API token has characters not allowed in an HTTP header".to_string()
            })?;
        authorization.set_sensitive(true);
        let origin = if proxy_configured(&endpoint, |v| std::env::var(v).ok()) {
            tracing::info!("a proxy is configured: leads go through it");
            None
        } else {
            Some(Origin::new(
                &endpoint,
                timeout.min(Duration::from_secs(10)),
            )?)
        };
        let headers = vec![
            (AUTHORIZATION, authorization),
            (ACCEPT, HeaderValue::from_static("application/json")),
            (
                CONTENT_TYPE,
                HeaderValue::from_static("application/x-www-form-urlencoded"),
            ),
        ];
        Ok(ApiClient {
            http,
            origin,
            endpoint,
            headers,
            timeout,
            token,
            account_id,
            wire,
        })
    }

    pub fn endpoint(&self) -> &Url {
        &self.endpoint
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub fn token(&self) -> &Secret {
        &self.token
    }

    /// The form body of one lead (`application/x-www-form-urlencoded`), fields in
    /// the endpoint page's order.
    pub fn form(&self, lead: &Lead) -> Vec<u8> {
        let click_time = match self.wire.click_time_unit {
            ClickTimeUnit::Millis => lead.click_time,
            ClickTimeUnit::Seconds => lead.click_time.div_euclid(1000),
        };
        let capacity = 64
            + self.account_id.len() * 3
            + 3 * (lead.url_parameters.len()
                + lead.settings.len()
                + lead.referrer.as_ref().map_or(0, String::len)
                + lead.current_url.as_ref().map_or(0, String::len));
        let mut f = Vec::with_capacity(capacity);
        f.extend_from_slice(b"url_parameters=");
        form_escape(&mut f, &lead.url_parameters);
        f.extend_from_slice(b"&click_time=");
        f.extend_from_slice(itoa::Buffer::new().format(click_time).as_bytes());
        f.extend_from_slice(b"&settings=");
        form_escape(&mut f, &lead.settings);
        if let Some(r) = &lead.referrer {
            f.push(b'&');
            f.extend_from_slice(self.wire.referrer_field.as_bytes());
            f.push(b'=');
            form_escape(&mut f, r);
        }
        if let Some(u) = &lead.current_url {
            f.extend_from_slice(b"&current_url=");
            form_escape(&mut f, u);
        }
        f.extend_from_slice(b"&account_id=");
        form_escape(&mut f, &self.account_id);
        f
    }

    /// The lead's body: built ahead on the normalizing threads, or here.
    fn body(&self, lead: &Lead) -> Bytes {
        match &lead.body {
            Some(b) => b.clone(),
            None => Bytes::from(self.form(lead)),
        }
    }

    /// Leads go through reqwest's shared pool (a proxy is set), not one connection
    /// per sender. That pool's connections are driven by the runtime that opened
    /// them, so such a client is used from one runtime only.
    pub fn pooled(&self) -> bool {
        self.origin.is_none()
    }

    /// Send one lead on the sender's own connection `conn`.
    pub async fn send(&self, conn: &mut Conn, lead: &Lead) -> Answer {
        let Some(origin) = &self.origin else {
            return self.send_shared(lead).await;
        };
        let req = origin.request(self.body(lead), &self.headers);
        match tokio::time::timeout(self.timeout, conn.exchange(origin, req)).await {
            Err(_) => {
                // The request may be half written: never reuse that connection.
                conn.reset();
                Answer::Transport("timeout".to_string())
            }
            Ok(Err(e)) => Answer::Transport(e),
            Ok(Ok(reply)) => answer(reply.status, &reply.headers, reply.body),
        }
    }

    /// Through the general client, which honours the proxy variables.
    async fn send_shared(&self, lead: &Lead) -> Answer {
        let req = self
            .http
            .post(self.endpoint.clone())
            .headers(self.headers.iter().cloned().collect())
            .body(self.body(lead));
        match req.send().await {
            Err(e) => Answer::Transport(describe(&e)),
            Ok(resp) => {
                let status = resp.status().as_u16();
                let headers = resp.headers().clone();
                let body = resp.bytes().await.map_err(|e| describe(&e));
                answer(status, &headers, body)
            }
        }
    }
}

/// Bytes that `application/x-www-form-urlencoded` leaves as they are (WHATWG URL
/// standard: alphanumerics and `*-._`).
const FORM_SAFE: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric() || matches!(c, b'*' | b'-' | b'.' | b'_');
        b += 1;
    }
    t
};

/// Append `s` form-encoded: space as `+`, the rest as `%XX` (what
/// `form_urlencoded` writes, without its per-piece iterator).
fn form_escape(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let bytes = s.as_bytes();
    // Room for the worst case, written by index, then cut to what was written.
    let mut at = out.len();
    out.resize(at + 3 * bytes.len(), 0);
    let dst = &mut out[..];
    for &b in bytes {
        if FORM_SAFE[b as usize] {
            dst[at] = b;
            at += 1;
        } else if b == b' ' {
            dst[at] = b'+';
            at += 1;
        } else {
            dst[at] = b'%';
            dst[at + 1] = HEX[(b >> 4) as usize];
            dst[at + 2] = HEX[(b & 15) as usize];
            at += 3;
        }
    }
    out.truncate(at);
}

/// A transport error in a few words, without URLs or headers.
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "answer cut off"
    } else if e.is_request() {
        "connection lost"
    } else {
        "transport error"
    };
    let mut source = std::error::Error::source(e);
    let mut detail = String::new();
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    if detail.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}: {detail}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lead() -> Lead {
        Lead {
            row: 1,
            pos: 2,
            click_time: 1_634_707_888_123,
            url_parameters: r#"{"utm_source":"a b&c"}"#.into(),
            settings: r#"{"email":"ana+x@example.com"}"#.into(),
            referrer: Some("https://facebook.com/".into()),
            current_url: None,
            dst: Default::default(),
            cells: vec![],
            body: None,
            known_fingerprint: None,
        }
    }

    fn client(wire: Wire) -> ApiClient {
        let url = Url::parse("http://127.0.0.1:9/api/auth/v1.0/set-click").unwrap();
        ApiClient::new(
            url,
            Secret::new("t"),
            "acc".into(),
            wire,
            Duration::from_secs(1),
            1,
        )
        .unwrap()
    }

    #[test]
    fn form_body_has_exactly_the_set_click_fields() {
        let body = String::from_utf8(client(Wire::default()).form(&lead())).unwrap();
        let pairs: Vec<(String, String)> = form_urlencoded::parse(body.as_bytes())
            .into_owned()
            .collect();
        let want: Vec<(String, String)> = [
            ("url_parameters", r#"{"utm_source":"a b&c"}"#),
            ("click_time", "1634707888123"),
            ("settings", r#"{"email":"ana+x@example.com"}"#),
            ("referrer", "https://facebook.com/"),
            ("account_id", "acc"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(pairs, want);
        assert!(
            !body.contains(' ') && !body.contains("+x@"),
            "encoded: {body}"
        );

        let legacy = client(Wire {
            click_time_unit: ClickTimeUnit::Seconds,
            referrer_field: "referrer_url",
        });
        let body = String::from_utf8(legacy.form(&lead())).unwrap();
        assert!(
            body.contains("click_time=1634707888&") && body.contains("referrer_url="),
            "{body}"
        );
    }

    #[test]
    fn the_authorization_header_never_prints() {
        let c = client(Wire::default());
        let (name, value) = &c.headers[0];
        assert_eq!(name, AUTHORIZATION);
        assert!(value.is_sensitive());
        assert_eq!(format!("{value:?}"), "Sensitive");
        assert!(!format!("{:?}", c.headers).contains("Bearer"));
    }

    proptest::proptest! {
        #[test]
        fn form_escape_writes_what_form_urlencoded_writes(s in "\\PC*") {
            let mut ours = Vec::new();
            form_escape(&mut ours, &s);
            let theirs: String = form_urlencoded::byte_serialize(s.as_bytes()).collect();
            proptest::prop_assert_eq!(String::from_utf8(ours).unwrap(), theirs);
        }
    }

    #[tokio::test]
    async fn a_server_that_never_answers_times_out_and_the_connection_is_dropped() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let held = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((s, _)) = listener.accept().await {
                held.push(s);
                if held.len() == 2 {
                    return held.len();
                }
            }
            held.len()
        });
        let url = Url::parse(&format!("http://127.0.0.1:{port}/x")).unwrap();
        let c = ApiClient::new(
            url,
            Secret::new("t"),
            "acc".into(),
            Wire::default(),
            Duration::from_millis(200),
            1,
        )
        .unwrap();
        let mut conn = Conn::default();
        let start = std::time::Instant::now();
        match c.send(&mut conn, &lead()).await {
            Answer::Transport(e) => assert_eq!(e, "timeout"),
            other => panic!("{other:?}"),
        }
        assert!(start.elapsed() >= Duration::from_millis(200));
        // The next request does not reuse the connection the timed-out one is on.
        let _ = c.send(&mut conn, &lead()).await;
        assert_eq!(held.await.unwrap(), 2);
    }

    #[test]
    fn proxies_are_looked_up_by_scheme() {
        let https = Url::parse("https://app.sealmetrics.com/x").unwrap();
        let http = Url::parse("http://127.0.0.1:9/x").unwrap();
        let env = |set: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                set.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert!(!proxy_configured(&https, env(&[])));
        assert!(proxy_configured(
            &https,
            env(&[("HTTPS_PROXY", "http://p:3128")])
        ));
        assert!(proxy_configured(
            &https,
            env(&[("all_proxy", "http://p:3128")])
        ));
        assert!(!proxy_configured(
            &https,
            env(&[("HTTP_PROXY", "http://p:3128")])
        ));
        assert!(!proxy_configured(&https, env(&[("HTTPS_PROXY", " ")])));
        assert!(proxy_configured(
            &http,
            env(&[("http_proxy", "http://p:3128")])
        ));
        assert!(!proxy_configured(
            &http,
            env(&[("https_proxy", "http://p:3128")])
        ));
    }

    #[test]
    fn plain_http_only_to_loopback() {
        assert!(check_endpoint("https://app.sealmetrics.com/api/auth/v1.0/set-click").is_ok());
        assert!(check_endpoint("http://127.0.0.1:8787/api/auth/v1.0/set-click").is_ok());
        assert!(check_endpoint("http://localhost/x").is_ok());
        assert!(check_endpoint("http://[::1]:9/x").is_ok());
        let e = check_endpoint("http://app.sealmetrics.com/x")
            .unwrap_err()
            .to_string();
        assert!(e.contains("loopback"), "{e}");
        assert!(check_endpoint("http://10.0.0.1/x").is_err());
        assert!(check_endpoint("ftp://x/y").is_err());
        assert!(check_endpoint("not a url").is_err());
    }

    #[test]
    fn siblings_share_the_origin() {
        let e = Url::parse("https://app.sealmetrics.com/api/auth/v1.0/set-click?x=1").unwrap();
        assert_eq!(
            sibling(&e, "/api/auth/login").as_str(),
            "https://app.sealmetrics.com/api/auth/login"
        );
    }
}
