//! A local Set-Click-compatible server with fault injection, for trials, tests and
//! benchmarks; this module owns its lifecycle (start, addresses, counts, stop). It
//! answers as the endpoint page describes (bearer check, form body, `Missing
//! required parameter: X`, 200 with an empty body) and can rate-limit, fail, slow
//! down, or cut connections after applying a click.

mod config;
mod endpoints;
mod faults;
mod form;
mod handlers;
mod outage;
mod record;
mod server;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

pub use config::{ErrorBody, Outage, ResetFormat, SandboxConfig};
pub use faults::Bucket;
pub use record::{Click, Stats};

/// The path of the set-click endpoint on the real API and on the sandbox.
pub const SET_CLICK_PATH: &str = "/api/auth/v1.0/set-click";

/// Where 307 and 308 redirects point (`redirect`): set-click, served like the real path.
pub const MOVED_PATH: &str = "/api/auth/v1.0/set-click-moved";

/// Where 301, 302 and 303 redirects point: an HTML page, 200 to any method.
pub const LOGIN_PAGE_PATH: &str = "/login";

/// What the handlers and the accept loop share.
struct Shared {
    cfg: SandboxConfig,
    /// Where the sandbox listens (for absolute `Location`s).
    addr: SocketAddr,
    stats: Mutex<Stats>,
    clicks: Mutex<Vec<Click>>,
    record: record::Record,
    bucket: Option<Mutex<Bucket>>,
    dice: Mutex<faults::Dice>,
    started: Instant,
    /// When the first `retry_after` answer was given.
    held_off_since: Mutex<Option<Instant>>,
    outages: outage::Outages,
}

impl Shared {
    fn count(&self, f: impl FnOnce(&mut Stats)) {
        f(&mut lock(&self.stats));
    }
}

/// A running sandbox. Dropping it stops accepting connections.
pub struct Sandbox {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
}

impl Sandbox {
    /// Bind and serve on the current tokio runtime. A config the sandbox cannot serve
    /// as described (a redirect status that is not one) is `InvalidInput`.
    pub async fn start(cfg: SandboxConfig) -> std::io::Result<Sandbox> {
        cfg.check()
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let listener = server::bind(cfg.listen)?;
        let addr = listener.local_addr()?;
        let started = Instant::now();
        let shared = Arc::new(Shared {
            outages: outage::Outages::new(started, &cfg.outages),
            record: record::Record::open(cfg.record.as_deref())?,
            bucket: cfg.rate_limit.map(|r| Mutex::new(Bucket::new(r))),
            dice: Mutex::new(faults::Dice::new(cfg.seed)),
            started,
            held_off_since: Mutex::new(None),
            addr,
            cfg,
            stats: Mutex::default(),
            clicks: Mutex::default(),
        });
        let router = handlers::router(Arc::clone(&shared));
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        tokio::spawn(server::serve(
            listener,
            router,
            Arc::clone(&shared),
            stop_rx,
        ));
        Ok(Sandbox {
            addr,
            shared,
            stop: Some(stop_tx),
        })
    }

    /// Base URL, e.g. `http://127.0.0.1:8787`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The full set-click URL.
    pub fn endpoint(&self) -> String {
        format!("{}{SET_CLICK_PATH}", self.base_url())
    }

    pub fn token(&self) -> &str {
        &self.shared.cfg.token
    }

    pub fn account_id(&self) -> &str {
        &self.shared.cfg.account_id
    }

    pub fn stats(&self) -> Stats {
        lock(&self.shared.stats).clone()
    }

    /// Accepted clicks, in arrival order (when `keep_clicks`).
    pub fn clicks(&self) -> Vec<Click> {
        lock(&self.shared.clicks).clone()
    }

    pub fn flush(&self) {
        self.shared.record.flush();
    }

    /// Begin an outage now, for `len` (see [`SandboxConfig::outages`]). Callable from
    /// any thread, inside a runtime or not. From its return no request is applied
    /// until the outage ends; the listening socket closes on the accept loop's next
    /// turn (see [`Sandbox::refusing`]).
    pub fn outage(&self, len: Duration) {
        self.shared.outages.add(Instant::now(), len);
    }

    /// Whether the listening socket is closed for an outage right now (new
    /// connections are refused).
    pub fn refusing(&self) -> bool {
        self.shared.outages.refusing.load(Ordering::Acquire)
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.flush();
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
