//! `setclick sandbox`: run the local Set-Click-compatible server until interrupted.

use std::net::SocketAddr;
use std::time::Duration;

use crate::cli::SandboxArgs;
use crate::dispatch::pacing::Rate;
use crate::sandbox::{Sandbox, SandboxConfig};
use crate::{Exit, Failure};

pub fn run(args: SandboxArgs) -> Result<Exit, Failure> {
    let listen: SocketAddr = args.listen.parse().map_err(|_| {
        Failure::usage(format!(
            "--listen {}: expected IP:PORT, e.g. 127.0.0.1:8787",
            args.listen
        ))
    })?;
    if !listen.ip().is_loopback() {
        tracing::warn!("the sandbox listens on {listen}, which is not a loopback address");
    }
    let rate_limit = match &args.rate_limit {
        Some(r) => {
            match Rate::parse(r).map_err(|e| Failure::usage(e.replace("--rate", "--rate-limit")))? {
                Rate::Unlimited => None,
                rate => rate.per_second(),
            }
        }
        None => None,
    };
    for (flag, p) in [
        ("--fail-rate", args.fail_rate),
        ("--drop-rate", args.drop_rate),
    ] {
        if !(0.0..=1.0).contains(&p) {
            return Err(Failure::usage(format!(
                "{flag} {p}: give a share between 0 and 1"
            )));
        }
    }
    let cfg = SandboxConfig {
        listen,
        token: args.token,
        account_id: args.account_id,
        password: args.password,
        rate_limit,
        fail_rate: args.fail_rate,
        drop_rate: args.drop_rate,
        reject_rate: args.reject_rate,
        storm_every: match args.storm_every {
            Some(s) if s.is_finite() && s >= 1.0 => Some(Duration::from_secs_f64(s)),
            Some(s) => {
                return Err(Failure::usage(format!(
                    "--storm-every {s}: give at least 1 second"
                )));
            }
            None => None,
        },
        latency: Duration::from_millis(args.latency_ms),
        seed: args.seed,
        record: args.record,
        keep_clicks: false,
        ..SandboxConfig::default()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Failure::usage(format!("cannot start the runtime: {e}")))?;
    runtime.block_on(async {
        let sandbox = Sandbox::start(cfg)
            .await
            .map_err(|e| Failure::usage(format!("cannot listen on {listen}: {e}")))?;
        // The first line on stdout, for scripts that wait for it.
        println!("listening on {}", sandbox.base_url());
        let mut flush = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => break,
                _ = terminate() => break,
                _ = flush.tick() => sandbox.flush(),
            }
        }
        let s = sandbox.stats();
        eprintln!(
            "sandbox: {} requests, {} accepted, {} unauthorized, {} bad, {} rate-limited, {} failed, {} cut",
            s.requests, s.accepted, s.unauthorized, s.bad_request, s.rate_limited, s.failed, s.dropped
        );
        Ok(Exit::Ok)
    })
}

#[cfg(unix)]
async fn terminate() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut s) => {
            s.recv().await;
        }
        Err(_) => std::future::pending::<()>().await,
    }
}

#[cfg(not(unix))]
async fn terminate() {
    std::future::pending::<()>().await
}
