//! `setclick sandbox`: check the flags, run the local Set-Click-compatible server
//! until interrupted, and say how to point an import at it.

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use crate::cli::SandboxArgs;
use crate::dispatch::pacing::Rate;
use crate::error::{Error, Exit};
use crate::sandbox::{ErrorBody, Outage, ResetFormat, Sandbox, SandboxConfig, Stats};

pub fn run(args: SandboxArgs) -> Result<Exit, Error> {
    let cfg = config(args)?;
    let listen = cfg.listen;
    if !listen.ip().is_loopback() {
        tracing::warn!("the sandbox listens on {listen}, which is not a loopback address");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::Internal(format!("cannot start the runtime: {e}")))?;
    runtime.block_on(async {
        let sandbox = Sandbox::start(cfg)
            .await
            .map_err(|e| Error::usage(format!("cannot listen on {listen}: {e}")))?;
        // One write, so that a script that reads the first line and closes the pipe
        // cannot make a later line fail; an error writing is no reason to stop serving.
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(banner(&sandbox).as_bytes());
        let _ = out.flush();
        drop(out);
        let mut flush = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => break,
                _ = terminate() => break,
                _ = flush.tick() => sandbox.flush(),
            }
        }
        eprintln!("{}", summary(&sandbox.stats()));
        Ok(Exit::Ok)
    })
}

/// The lines a user needs to point an import at the sandbox. The first, for scripts
/// that wait for it, is `listening on http://ADDR`. The token is the sandbox's own
/// test token, not a secret.
fn banner(sb: &Sandbox) -> String {
    let (endpoint, token, account) = (sb.endpoint(), sb.token(), sb.account_id());
    format!(
        "listening on {}\n\
         set-click URL: {endpoint}\n\
         token: {token} (give it as SEALMETRICS_TOKEN)\n\
         account: {account}\n\
         SEALMETRICS_TOKEN={} setclick import FILE --endpoint {endpoint} --account-id {}\n",
        sb.base_url(),
        shell_word(token),
        shell_word(account),
    )
}

/// `s` as one shell word: as it is when it is plain, else single-quoted.
fn shell_word(s: &str) -> String {
    let plain = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.,:/@%+=".contains(&b));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

fn summary(s: &Stats) -> String {
    let mut line = format!(
        "sandbox: {} requests, {} accepted, {} unauthorized, {} bad, {} rate-limited, {} failed, {} cut",
        s.requests, s.accepted, s.unauthorized, s.bad_request, s.rate_limited, s.failed, s.dropped
    );
    for (n, what) in [
        (s.slow, "slow"),
        (s.error_200, "error-200"),
        (s.redirected, "redirected"),
        (s.login_page, "login page"),
        (s.retry_after, "retry-after"),
        (s.not_found, "not found"),
        (s.outages, "outages"),
        (s.connections_cut, "connections closed by outages"),
        (s.outage_cut, "requests cut by outages"),
    ] {
        if n > 0 {
            let _ = write!(line, ", {n} {what}");
        }
    }
    line
}

/// The flags as a sandbox config, or a usage error naming the flag.
fn config(args: SandboxArgs) -> Result<SandboxConfig, Error> {
    let listen: SocketAddr = args.listen.parse().map_err(|_| {
        Error::usage(format!(
            "--listen {}: expected IP:PORT, e.g. 127.0.0.1:8787",
            args.listen
        ))
    })?;
    let rate_limit = match &args.rate_limit {
        Some(r) => match Rate::parse(r).map_err(|e| Error::usage(format!("--rate-limit {e}")))? {
            Rate::Unlimited => None,
            rate => rate.per_second(),
        },
        None => None,
    };
    for (flag, p) in [
        ("--fail-rate", args.fail_rate),
        ("--drop-rate", args.drop_rate),
        ("--reject-rate", args.reject_rate),
        ("--slow-rate", args.slow_rate),
        ("--error-200", args.error_200),
    ] {
        if !(0.0..=1.0).contains(&p) {
            return Err(Error::usage(format!(
                "{flag} {p}: give a share between 0 and 1"
            )));
        }
    }
    let storm_every = match args.storm_every {
        Some(s) if (1.0..=MAX_SECS).contains(&s) => Some(Duration::from_secs_f64(s)),
        Some(s) => {
            return Err(Error::usage(format!(
                "--storm-every {s}: give at least 1 second (and at most a year)"
            )));
        }
        None => None,
    };
    if args.retry_after == Some(0) {
        return Err(Error::usage("--retry-after 0: give at least 1 second"));
    }
    Ok(SandboxConfig {
        listen,
        token: args.token,
        account_id: args.account_id,
        password: args.password,
        rate_limit,
        fail_rate: args.fail_rate,
        drop_rate: args.drop_rate,
        reject_rate: args.reject_rate,
        storm_every,
        latency: Duration::from_millis(args.latency_ms),
        seed: args.seed,
        record: args.record,
        keep_clicks: false,
        outages: args
            .outage
            .iter()
            .map(|o| parse_outage(o))
            .collect::<Result<_, _>>()?,
        slow_rate: args.slow_rate,
        slow: Duration::from_millis(args.slow_ms),
        error_200_rate: args.error_200,
        error_200_body: match args.error_200_body.as_str() {
            "html" => ErrorBody::Html,
            _ => ErrorBody::Json,
        },
        redirect: args.redirect.map(|r| code(&r)),
        retry_after: args.retry_after,
        retry_after_status: code(&args.retry_after_status),
        reset_format: match args.reset_format.as_str() {
            "epoch-s" => ResetFormat::EpochS,
            "epoch-ms" => ResetFormat::EpochMs,
            _ => ResetFormat::Delta,
        },
        not_found: args.not_found,
    })
}

/// A status among the values clap let through.
fn code(s: &str) -> u16 {
    s.parse().unwrap_or_default()
}

/// The longest span a flag in seconds may give (a year), so that instants stay
/// within the clock's range.
const MAX_SECS: f64 = 365.0 * 86_400.0;

/// `--outage START:SECS`, in seconds after the sandbox started.
fn parse_outage(spec: &str) -> Result<Outage, Error> {
    let secs = |s: &str| s.trim().parse::<f64>().ok().filter(|v| v.is_finite());
    let parsed = spec
        .split_once(':')
        .and_then(|(start, len)| Some((secs(start)?, secs(len)?)));
    match parsed {
        Some((start, len)) if (0.0..=MAX_SECS).contains(&start) && len > 0.0 && len <= MAX_SECS => {
            Ok(Outage {
                start: Duration::from_secs_f64(start),
                len: Duration::from_secs_f64(len),
            })
        }
        _ => Err(Error::usage(format!(
            "--outage {spec}: expected START:SECS in seconds, START at least 0 and SECS \
             more than 0 (each at most a year), e.g. 10:5 (down from 10 s after the start, for 5 s)"
        ))),
    }
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
