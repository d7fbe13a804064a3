//! The sandbox's socket side: binding, the accept loop (which closes the listening
//! socket for an outage and binds it again after), and the HTTP/1 connections,
//! including cutting one instead of answering (`--drop-rate`, outages).

use std::io;
use std::net::SocketAddr;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::Router;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::oneshot;

use super::Shared;

/// Marks a response whose connection is to be cut instead of answered.
#[derive(Clone, Copy)]
pub(super) struct CutConnection;

/// Listen on `addr`, with SO_REUSEADDR (on Unix) so that the address can be bound
/// again after an outage while the connections it closed are in TIME_WAIT.
pub(super) fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// Accept connections until `stop` fires (or its sender is dropped), closing the
/// listening socket for each outage.
pub(super) async fn serve(
    mut listener: TcpListener,
    router: Router,
    shared: Arc<Shared>,
    mut stop: oneshot::Receiver<()>,
) {
    loop {
        if accept_until_outage(&listener, &router, &shared, &mut stop)
            .await
            .is_break()
        {
            return;
        }
        drop(listener);
        let outages = &shared.outages;
        outages.refusing.store(true, Ordering::Release);
        shared.count(|st| st.outages += 1);
        outages.begun.notify_waiters();
        if wait_out(&shared, &mut stop).await.is_break() {
            return;
        }
        listener = match rebind(shared.addr, &mut stop).await {
            Some(l) => l,
            None => return,
        };
        outages.refusing.store(false, Ordering::Release);
    }
}

/// Accept and serve connections until an outage begins (`Continue`) or the sandbox
/// stops (`Break`).
async fn accept_until_outage(
    listener: &TcpListener,
    router: &Router,
    shared: &Arc<Shared>,
    stop: &mut oneshot::Receiver<()>,
) -> ControlFlow<()> {
    loop {
        let changed = shared.outages.changed.notified();
        let now = Instant::now();
        if shared.outages.active(now) {
            return ControlFlow::Continue(());
        }
        let next = shared.outages.next_start(now);
        tokio::select! {
            _ = &mut *stop => return ControlFlow::Break(()),
            accepted = listener.accept() => {
                if let Ok((stream, _)) = accepted {
                    tokio::spawn(connection(stream, router.clone(), Arc::clone(shared)));
                }
            }
            _ = sleep_until(next) => {}
            _ = changed => {}
        }
    }
}

/// Wait until no outage is on (`Continue`) or the sandbox stops (`Break`).
async fn wait_out(shared: &Shared, stop: &mut oneshot::Receiver<()>) -> ControlFlow<()> {
    loop {
        let changed = shared.outages.changed.notified();
        let Some(end) = shared.outages.until(Instant::now()) else {
            return ControlFlow::Continue(());
        };
        tokio::select! {
            _ = &mut *stop => return ControlFlow::Break(()),
            _ = sleep_until(Some(end)) => {}
            _ = changed => {}
        }
    }
}

/// Bind `addr` again, retrying while it is taken; `None` if the sandbox stops first.
async fn rebind(addr: SocketAddr, stop: &mut oneshot::Receiver<()>) -> Option<TcpListener> {
    let mut warned = false;
    loop {
        match bind(addr) {
            Ok(l) => return Some(l),
            Err(e) if !warned => {
                tracing::warn!(
                    "the sandbox cannot listen on {addr} again after an outage ({e}); retrying"
                );
                warned = true;
            }
            Err(_) => {}
        }
        tokio::select! {
            _ = &mut *stop => return None,
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// Serve one connection until it ends or an outage begins. A response marked
/// [`CutConnection`], or any request during an outage, closes it unanswered.
async fn connection(stream: TcpStream, router: Router, shared: Arc<Shared>) {
    // Created before the check below, so an outage beginning after it wakes it.
    let outage = shared.outages.begun.notified();
    if shared.outages.active(Instant::now()) {
        shared.count(|st| st.connections_cut += 1);
        return;
    }
    let on_duty = Arc::clone(&shared);
    let service = hyper::service::service_fn(move |req| {
        let mut router = router.clone();
        let shared = Arc::clone(&on_duty);
        async move {
            if shared.outages.active(Instant::now()) {
                shared.count(|st| st.outage_cut += 1);
                return Err(CutError);
            }
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
    let serving =
        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        _ = serving => {}
        _ = outage => shared.count(|st| st.connections_cut += 1),
    }
}

#[derive(Debug)]
struct CutError;

impl std::fmt::Display for CutError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection cut by the sandbox")
    }
}

impl std::error::Error for CutError {}
