//! Ctrl-C and SIGTERM during an import.

use crate::dispatch::Stop;
use crate::error::Exit;

/// Ctrl-C / SIGTERM: the first stops intake and lets in-flight answers arrive; a
/// second exits at once.
pub fn watch_signals(stop: Stop) {
    tokio::spawn(async move {
        let mut seen = 0;
        loop {
            #[cfg(unix)]
            {
                let mut term =
                    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    {
                        Ok(t) => t,
                        Err(_) => return,
                    };
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {},
                    _ = term.recv() => {},
                }
            }
            #[cfg(not(unix))]
            if tokio::signal::ctrl_c().await.is_err() {
                return;
            }
            seen += 1;
            if seen > 1 {
                tracing::warn!("interrupted again: exiting now");
                std::process::exit(Exit::Interrupted as i32);
            }
            tracing::warn!(
                "interrupted: finishing requests in flight (interrupt again to exit at once)"
            );
            stop.interrupt();
        }
    });
}
