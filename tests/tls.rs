//! `import` over https: each sender's own TLS connection, verified against the
//! system's trust store (here a test CA given by `SSL_CERT_FILE`), to a server on
//! 127.0.0.1 that speaks HTTP/1.1 behind rustls.

mod common;

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use common::{IMPORT_CALLS, Workdir, leads, write_csv};
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

/// What the server saw of each set-click request: Host header and form body.
type Seen = Arc<Mutex<Vec<(String, String)>>>;

struct TlsServer {
    rt: tokio::runtime::Runtime,
    port: u16,
    seen: Seen,
    /// PEM of the self-signed certificate, for `SSL_CERT_FILE`.
    cert_pem: String,
}

fn start(names: Vec<String>) -> TlsServer {
    let key = rcgen::generate_simple_self_signed(names).expect("certificate");
    let cert_pem = key.cert.pem();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(
        vec![key.cert.der().clone()],
        rustls::pki_types::PrivateKeyDer::Pkcs8(key.signing_key.serialize_der().into()),
    )
    .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let seen: Seen = Arc::default();
    let record = Arc::clone(&seen);
    rt.spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let (acceptor, record) = (acceptor.clone(), Arc::clone(&record));
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service =
                    hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                        let record = Arc::clone(&record);
                        async move {
                            let path = req.uri().path().to_string();
                            let host = req
                                .headers()
                                .get("host")
                                .and_then(|h| h.to_str().ok())
                                .unwrap_or_default()
                                .to_string();
                            let body = req.into_body().collect().await.map(|b| b.to_bytes());
                            let body =
                                String::from_utf8_lossy(&body.unwrap_or_default()).into_owned();
                            let answer = if path.ends_with("/set-click") {
                                record.lock().unwrap().push((host, body));
                                r#"{"status":"ok"}"#
                            } else {
                                "{}"
                            };
                            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(answer))))
                        }
                    });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    TlsServer {
        rt,
        port,
        seen,
        cert_pem,
    }
}

/// `setclick import calls.csv` against the server, trusting its certificate.
fn import(server: &TlsServer, w: &Workdir, extra: &[&str]) -> std::process::Output {
    let ca = w.write("ca.pem", &server.cert_pem);
    w.cmd()
        .env("SSL_CERT_FILE", &ca)
        .env("SEALMETRICS_TOKEN", "test-token")
        .env("SEALMETRICS_ACCOUNT_ID", "acc-1")
        .env(
            "SEALMETRICS_ENDPOINT",
            format!("https://localhost:{}/api/auth/v1.0/set-click", server.port),
        )
        .args(IMPORT_CALLS)
        .args(["--no-state", "--report", "report.json"])
        .args(extra)
        .output()
        .expect("run")
}

#[test]
fn leads_go_over_verified_tls_connections() {
    let server = start(vec!["localhost".into()]);
    let w = Workdir::new();
    write_csv(&w.path("calls.csv"), &leads(60, 31, 0), b',');
    let out = import(&server, &w, &["--concurrency", "4"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let seen = server.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 60, "{stderr}");
    let host = format!("localhost:{}", server.port);
    for (h, body) in &seen {
        assert_eq!(h, &host);
        assert!(
            body.starts_with("url_parameters=") && body.ends_with("&account_id=acc-1"),
            "{body}"
        );
    }
    let report: serde_json::Value = serde_json::from_str(&w.read("report.json")).unwrap();
    assert_eq!(report["totals"]["sent"], 60);
    drop(server.rt);
}

#[test]
fn a_certificate_for_another_name_is_refused() {
    let server = start(vec!["other.example".into()]);
    let w = Workdir::new();
    write_csv(&w.path("calls.csv"), &leads(3, 32, 0), b',');
    let out = import(&server, &w, &["--max-attempts", "1"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{stderr}");
    assert!(server.seen.lock().unwrap().is_empty());
    let report: serde_json::Value = serde_json::from_str(&w.read("report.json")).unwrap();
    assert_eq!(report["totals"]["sent"], 0);
    // A refused certificate is the endpoint's fault, not the leads': none is
    // recorded failed, the run stops at once (exit 2), and they stay pending.
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(report["totals"]["failed"], 0, "{stderr}");
    assert_eq!(report["totals"]["pending"], 3, "{stderr}");
    assert!(stderr.contains("certificate"), "{stderr}");
    drop(server.rt);
}
