//! One HTTP/1.1 connection per sender, kept alive across its requests.
//!
//! A general client (reqwest) checks every request out of a shared pool, clones its
//! connector and re-parses its URL; at tens of thousands of requests a second that
//! bookkeeping, and the wake-ups between the tasks sharing the pool, cost more CPU
//! than the requests themselves. Each sender instead owns one connection (TCP, and
//! TLS with the platform's trust store for https) and reconnects when it breaks.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::http::{Request, Response, Uri};
use hyper_util::rt::TokioIo;
use reqwest::Url;
use reqwest::header::{HOST, HeaderValue, USER_AGENT};
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;

use super::answer::Transport;

/// Error answers are read up to this size; the rest is not needed for a message.
const MAX_ANSWER: usize = 64 * 1024;

/// Where the connections go, resolved once from the endpoint URL.
pub struct Origin {
    host: Host,
    port: u16,
    /// `Host` header value: the URL's host, with the port when not the default.
    host_header: HeaderValue,
    /// The request target in origin form (`/path?query`).
    target: Uri,
    tls: Option<(tokio_rustls::TlsConnector, ServerName<'static>)>,
    connect_timeout: Duration,
}

enum Host {
    Addr(std::net::IpAddr),
    Name(String),
}

impl Origin {
    pub fn new(url: &Url, connect_timeout: Duration) -> Result<Origin, String> {
        let port = url
            .port_or_known_default()
            .ok_or_else(|| format!("{url}: no port"))?;
        let (host, name) = match url.host() {
            Some(url::Host::Domain(d)) => (Host::Name(d.to_string()), d.to_string()),
            Some(url::Host::Ipv4(ip)) => (Host::Addr(ip.into()), ip.to_string()),
            Some(url::Host::Ipv6(ip)) => (Host::Addr(ip.into()), ip.to_string()),
            None => return Err(format!("{url}: no host")),
        };
        let authority = match url.port() {
            Some(p) => format!("{}:{p}", url.host_str().unwrap_or_default()),
            None => url.host_str().unwrap_or_default().to_string(),
        };
        let host_header = HeaderValue::from_str(&authority)
            .map_err(|_| format!("{url}: host not usable in a header"))?;
        let target = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        }
        .parse::<Uri>()
        .map_err(|e| format!("{url}: {e}"))?;
        let tls = match url.scheme() {
            "https" => {
                let server = ServerName::try_from(name)
                    .map_err(|e| format!("{url}: not a TLS server name ({e})"))?;
                Some((tokio_rustls::TlsConnector::from(tls_config()?), server))
            }
            _ => None,
        };
        Ok(Origin {
            host,
            port,
            host_header,
            target,
            tls,
            connect_timeout,
        })
    }

    /// A request for `body`, with the headers every request carries.
    pub fn request(
        &self,
        body: Bytes,
        headers: &[(hyper::header::HeaderName, HeaderValue)],
    ) -> Request<Full<Bytes>> {
        let mut req = Request::new(Full::new(body));
        *req.method_mut() = hyper::Method::POST;
        *req.uri_mut() = self.target.clone();
        let h = req.headers_mut();
        h.insert(HOST, self.host_header.clone());
        h.insert(
            USER_AGENT,
            HeaderValue::from_static(concat!("setclick/", env!("CARGO_PKG_VERSION"))),
        );
        for (name, value) in headers {
            h.insert(name.clone(), value.clone());
        }
        req
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, String> {
        let tcp = tokio::time::timeout(self.connect_timeout, self.tcp())
            .await
            .map_err(|_| "connection failed: timed out".to_string())?
            .map_err(|e| format!("connection failed: {e}"))?;
        let _ = tcp.set_nodelay(true);
        match &self.tls {
            None => handshake(tcp).await,
            Some((connector, name)) => {
                let tls = tokio::time::timeout(
                    self.connect_timeout,
                    connector.connect(name.clone(), tcp),
                )
                .await
                .map_err(|_| "connection failed: TLS handshake timed out".to_string())?
                .map_err(|e| format!("connection failed: {e}"))?;
                handshake(tls).await
            }
        }
    }

    async fn tcp(&self) -> std::io::Result<TcpStream> {
        match &self.host {
            Host::Addr(ip) => TcpStream::connect(SocketAddr::new(*ip, self.port)).await,
            Host::Name(name) => TcpStream::connect((name.as_str(), self.port)).await,
        }
    }
}

/// rustls with the platform's verifier, as reqwest builds it, offering HTTP/1.1.
fn tls_config() -> Result<Arc<rustls::ClientConfig>, String> {
    use rustls_platform_verifier::BuilderVerifierExt;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_platform_verifier())
        .map_err(|e| format!("cannot set up TLS: {e}"))?
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

async fn handshake<T>(io: T) -> Result<SendRequest<Full<Bytes>>, String>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = http1::Builder::new()
        .writev(false)
        .handshake(TokioIo::new(io))
        .await
        .map_err(|e| format!("connection failed: {e}"))?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!("connection closed: {e}");
        }
    });
    Ok(sender)
}

/// One sender's connection: opened on first use, dropped when it breaks.
#[derive(Default)]
pub struct Conn {
    sender: Option<SendRequest<Full<Bytes>>>,
}

/// The parts of an answer the dispatcher needs.
pub struct Reply {
    pub status: u16,
    pub headers: hyper::HeaderMap,
    /// The body of an error answer (empty for 2xx).
    pub body: Result<Bytes, String>,
}

impl Conn {
    /// Send one request and read its answer within `timeout` once connected. A
    /// request that a kept-alive connection closed before it was written is sent
    /// again once on a new connection: it never reached the server.
    ///
    /// Errors say whether the request may have reached the server: no connection
    /// ([`Transport::Connect`]), or written with no whole answer
    /// ([`Transport::NoAnswer`]).
    pub async fn exchange(
        &mut self,
        origin: &Origin,
        mut req: Request<Full<Bytes>>,
        timeout: Duration,
    ) -> Result<Reply, Transport> {
        let mut fresh = false;
        loop {
            let sender = self.ready(origin, &mut fresh).await?;
            let sent = tokio::time::timeout(timeout, sender.try_send_request(req)).await;
            let sent = match sent {
                Ok(sent) => sent,
                Err(_) => {
                    // The request may be half written: never reuse that connection.
                    self.sender = None;
                    return Err(Transport::TimedOut(format!(
                        "no answer within {} s (--timeout)",
                        timeout.as_secs_f64()
                    )));
                }
            };
            match sent {
                Ok(resp) => return self.read(resp, timeout).await,
                Err(mut e) => {
                    self.sender = None;
                    match e.take_message() {
                        Some(unsent) if !fresh => req = unsent,
                        Some(_) => {
                            return Err(Transport::Connect(format!(
                                "connection closed before the request was sent: {}",
                                describe(e.error())
                            )));
                        }
                        None => return Err(Transport::NoAnswer(describe(e.error()))),
                    }
                }
            }
        }
    }

    async fn ready(
        &mut self,
        origin: &Origin,
        fresh: &mut bool,
    ) -> Result<&mut SendRequest<Full<Bytes>>, Transport> {
        if let Some(s) = &mut self.sender
            && (s.is_closed() || s.ready().await.is_err())
        {
            self.sender = None;
        }
        let sender = match self.sender.take() {
            Some(s) => s,
            None => {
                *fresh = true;
                origin.connect().await.map_err(Transport::connect)?
            }
        };
        Ok(self.sender.insert(sender))
    }

    async fn read(
        &mut self,
        resp: Response<hyper::body::Incoming>,
        timeout: Duration,
    ) -> Result<Reply, Transport> {
        let (parts, body) = resp.into_parts();
        let status = parts.status.as_u16();
        let body =
            match tokio::time::timeout(timeout, Limited::new(body, MAX_ANSWER).collect()).await {
                Ok(Ok(b)) => Ok(b.to_bytes()),
                Ok(Err(e)) => {
                    // The connection is in an unknown state after a broken body.
                    self.sender = None;
                    Err(format!("answer cut off: {e}"))
                }
                Err(_) => {
                    self.sender = None;
                    Err("answer cut off: timeout".to_string())
                }
            };
        Ok(Reply {
            status,
            headers: parts.headers,
            body,
        })
    }

    /// Forget the connection (after a timeout left a request half done).
    pub fn reset(&mut self) {
        self.sender = None;
    }
}

fn describe(e: &hyper::Error) -> String {
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_incomplete_message() || e.is_canceled() || e.is_closed() {
        "connection lost"
    } else if e.is_parse() {
        "bad answer"
    } else {
        "transport error"
    };
    let mut detail = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    format!("{kind}: {detail}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    const OK: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
    const SECS: Duration = Duration::from_secs(5);

    /// Read one request (headers and a content-length body) off `s`.
    async fn read_request(s: &mut TcpStream) -> Option<String> {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let n = s.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            buf.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&buf).to_string();
            if let Some(end) = text.find("\r\n\r\n") {
                let len = text[..end]
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length: "))
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                if buf.len() >= end + 4 + len {
                    return Some(text);
                }
            }
        }
    }

    fn origin(url: &str) -> Origin {
        Origin::new(&Url::parse(url).unwrap(), Duration::from_secs(5)).unwrap()
    }

    fn post(o: &Origin, body: &'static str) -> Request<Full<Bytes>> {
        o.request(Bytes::from_static(body.as_bytes()), &[])
    }

    #[tokio::test]
    async fn requests_carry_host_target_and_body() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let req = read_request(&mut s).await.unwrap();
            s.write_all(OK).await.unwrap();
            req
        });
        let o = origin(&format!("http://127.0.0.1:{port}/api/x?y=1"));
        let reply = Conn::default()
            .exchange(&o, post(&o, "a=1"), SECS)
            .await
            .unwrap();
        assert_eq!(reply.status, 200);
        let req = server.await.unwrap();
        assert!(req.starts_with("POST /api/x?y=1 HTTP/1.1\r\n"), "{req}");
        assert!(
            req.contains(&format!("host: 127.0.0.1:{port}\r\n")),
            "{req}"
        );
        assert!(req.ends_with("\r\n\r\na=1"), "{req}");
    }

    #[tokio::test]
    async fn a_connection_closed_between_requests_is_replaced() {
        // The server answers one request per connection and closes it without
        // saying so: the next request finds the kept-alive connection dead.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let mut served = 0;
            while served < 3 {
                let (mut s, _) = listener.accept().await.unwrap();
                if read_request(&mut s).await.is_some() {
                    s.write_all(OK).await.unwrap();
                    served += 1;
                }
            }
            served
        });
        let o = origin(&format!("http://127.0.0.1:{port}/x"));
        let mut conn = Conn::default();
        for _ in 0..3 {
            let reply = conn.exchange(&o, post(&o, "a=1"), SECS).await.unwrap();
            assert_eq!(reply.status, 200);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(server.await.unwrap(), 3);
    }

    #[tokio::test]
    async fn error_answers_keep_their_body_and_headers() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            read_request(&mut s).await;
            let body = r#"{"message":"slow down"}"#;
            let head = format!(
                "HTTP/1.1 429 Too Many Requests\r\nretry-after: 3\r\ncontent-length: {}\r\n\r\n",
                body.len()
            );
            s.write_all(head.as_bytes()).await.unwrap();
            s.write_all(body.as_bytes()).await.unwrap();
        });
        let o = origin(&format!("http://127.0.0.1:{port}/x"));
        let reply = Conn::default()
            .exchange(&o, post(&o, ""), SECS)
            .await
            .unwrap();
        assert_eq!(reply.status, 429);
        assert_eq!(reply.headers["retry-after"], "3");
        assert_eq!(reply.body.unwrap(), r#"{"message":"slow down"}"#.as_bytes());
    }

    #[tokio::test]
    async fn refused_connections_and_failed_tls_handshakes_are_connection_failures() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let failure = |url: String| async move {
            let o = origin(&url);
            Conn::default()
                .exchange(&o, post(&o, ""), SECS)
                .await
                .err()
                .unwrap()
        };
        let e = failure(format!("http://127.0.0.1:{port}/x")).await;
        assert!(
            matches!(&e, Transport::Connect(m) if m.starts_with("connection failed")),
            "{e:?}"
        );

        // A server that answers a TLS hello with plain HTTP.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
        });
        let e = failure(format!("https://127.0.0.1:{port}/x")).await;
        assert!(
            matches!(&e, Transport::Connect(m) if m.starts_with("connection failed")),
            "{e:?}"
        );
    }
}
