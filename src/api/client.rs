//! The HTTP client: one set-click request per lead, form-encoded exactly as the
//! endpoint page shows, with connection reuse and timeouts.

use std::time::Duration;

use bytes::Bytes;
use reqwest::Url;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderName, HeaderValue};

use super::answer::{Answer, Transport, answer};
use super::auth::Secret;
use super::conn::{Conn, Origin, Reply};
use super::form::form_body;
pub use super::form::{ClickTimeUnit, Wire};
use crate::lead::Lead;

/// The real endpoint.
pub const DEFAULT_ENDPOINT: &str = "https://app.sealmetrics.com/api/auth/v1.0/set-click";

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
            .redirect(reqwest::redirect::Policy::none())
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

    /// The form body of one lead (see [`form_body`]).
    pub fn form(&self, lead: &Lead) -> Vec<u8> {
        form_body(lead, &self.wire, &self.account_id)
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

    /// Send one lead on the sender's own connection `conn`, following 307 and 308
    /// redirects (same method and body, at most [`MAX_REDIRECTS`] hops, only to
    /// URLs setclick may send to); any other answer comes back as it is.
    pub async fn send(&self, conn: &mut Conn, lead: &Lead) -> Sent {
        let body = self.body(lead);
        let mut url = self.endpoint.clone();
        let mut redirected = None;
        for hop in 0..=MAX_REDIRECTS {
            let reply = if url == self.endpoint {
                self.exchange(conn, body.clone()).await
            } else {
                self.exchange_elsewhere(&url, body.clone()).await
            };
            let answer = match reply {
                Ok(r) => answer(r.status, &r.headers, r.body),
                Err(t) => Answer::Transport(t),
            };
            if let Answer::Status(s) = &answer
                && matches!(s.status, 307 | 308)
                && hop < MAX_REDIRECTS
                && let Some(next) = s.location.as_deref().and_then(|l| url.join(l).ok())
                && check_endpoint(next.as_str()).is_ok()
            {
                url = next;
                redirected = Some(url.clone());
                continue;
            }
            return Sent { answer, redirected };
        }
        unreachable!("the last hop returns")
    }

    /// One request to the endpoint: on the sender's connection, or through the
    /// proxy.
    async fn exchange(&self, conn: &mut Conn, body: Bytes) -> Result<Reply, Transport> {
        match &self.origin {
            Some(origin) => {
                let req = origin.request(body, &self.headers);
                conn.exchange(origin, req, self.timeout).await
            }
            None => self.exchange_shared(&self.endpoint, body).await,
        }
    }

    /// One request to a URL a redirect named: on a connection of its own.
    async fn exchange_elsewhere(&self, url: &Url, body: Bytes) -> Result<Reply, Transport> {
        if self.origin.is_none() {
            return self.exchange_shared(url, body).await;
        }
        let origin = Origin::new(url, self.timeout.min(Duration::from_secs(10)))
            .map_err(Transport::Unusable)?;
        let req = origin.request(body, &self.headers);
        Conn::default().exchange(&origin, req, self.timeout).await
    }

    /// Through the general client, which honours the proxy variables (and follows
    /// no redirect itself: [`send`](Self::send) decides, as on the direct path).
    async fn exchange_shared(&self, url: &Url, body: Bytes) -> Result<Reply, Transport> {
        let req = self
            .http
            .post(url.clone())
            .headers(self.headers.iter().cloned().collect())
            .body(body);
        let resp = req.send().await.map_err(|e| transport(&e))?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.bytes().await.map_err(|e| describe(&e));
        Ok(Reply {
            status,
            headers,
            body,
        })
    }
}

/// Redirect hops followed at most for one lead.
pub const MAX_REDIRECTS: usize = 3;

/// One lead's answer, and the URL a redirect took it to, if one did.
#[derive(Debug)]
pub struct Sent {
    pub answer: Answer,
    pub redirected: Option<Url>,
}

/// A reqwest error as the dispatcher needs it: did the request leave?
fn transport(e: &reqwest::Error) -> Transport {
    if e.is_connect() {
        Transport::connect(describe(e))
    } else if e.is_timeout() {
        Transport::TimedOut(describe(e))
    } else {
        Transport::NoAnswer(describe(e))
    }
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
            marks: Default::default(),
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
    fn the_authorization_header_never_prints() {
        let c = client(Wire::default());
        let (name, value) = &c.headers[0];
        assert_eq!(name, AUTHORIZATION);
        assert!(value.is_sensitive());
        assert_eq!(format!("{value:?}"), "Sensitive");
        assert!(!format!("{:?}", c.headers).contains("Bearer"));
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
        match c.send(&mut conn, &lead()).await.answer {
            Answer::Transport(Transport::TimedOut(e)) => assert!(e.contains("timeout"), "{e}"),
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
