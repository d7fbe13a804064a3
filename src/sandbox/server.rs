//! The sandbox's socket side: the accept loop and the HTTP/1 connections, including
//! cutting a connection instead of answering (`--drop-rate`).

use axum::Router;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// Marks a response whose connection is to be cut instead of answered.
#[derive(Clone, Copy)]
pub(super) struct CutConnection;

/// Accept connections until `stop` fires (or its sender is dropped).
pub(super) async fn serve(listener: TcpListener, router: Router, mut stop: oneshot::Receiver<()>) {
    loop {
        let (stream, _) = tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(_) => continue,
            },
        };
        tokio::spawn(connection(stream, router.clone()));
    }
}

/// Serve one connection; a response marked [`CutConnection`] closes it unanswered.
async fn connection(stream: TcpStream, router: Router) {
    let service = hyper::service::service_fn(move |req| {
        let mut router = router.clone();
        async move {
            let resp = match tower_service::Service::call(&mut router, req).await {
                Ok(r) => r,
                Err(never) => match never {},
            };
            if resp.extensions().get::<CutConnection>().is_some() {
                return Err(CutError);
            }
            Ok::<_, CutError>(resp)
        }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

#[derive(Debug)]
struct CutError;

impl std::fmt::Display for CutError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection cut by the sandbox")
    }
}

impl std::error::Error for CutError {}
