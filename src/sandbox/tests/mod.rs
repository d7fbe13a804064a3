//! Tests of the sandbox's faults, against a sandbox on 127.0.0.1:0 through reqwest
//! (loopback only: no proxy from the environment).

mod answers;
mod outages;

use std::time::Duration;

use super::{Sandbox, SandboxConfig};

async fn start(cfg: SandboxConfig) -> Sandbox {
    Sandbox::start(cfg).await.expect("sandbox")
}

/// A client that goes straight to loopback and follows no redirect.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// A valid set-click form; `n` makes each lead distinct.
fn lead(sb: &Sandbox, n: i64) -> Vec<(&'static str, String)> {
    vec![
        ("account_id", sb.account_id().to_string()),
        ("url_parameters", r#"{"utm_source":"test"}"#.to_string()),
        ("click_time", (1_700_000_000_000 + n).to_string()),
        ("settings", "{}".to_string()),
    ]
}

/// POST lead `n` to `url` with the sandbox's token.
async fn send(
    client: &reqwest::Client,
    sb: &Sandbox,
    url: &str,
    n: i64,
) -> reqwest::Result<reqwest::Response> {
    client
        .post(url)
        .bearer_auth(sb.token())
        .form(&lead(sb, n))
        .send()
        .await
}

/// Poll `cond` until it holds, for up to a minute (a generous bound on a loaded
/// machine); whether it came to hold.
async fn eventually(mut cond: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while tokio::time::Instant::now() < deadline {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    cond()
}
