//! `setclick check`: the token (a JWT's expiry and scope), the account (does it
//! belong to the token?) and the endpoint (does it answer as set-click does?), tried
//! without sending a lead. An empty request is what reaches the endpoint: the API
//! refuses it for its missing fields, which is the answer that says all is well.

use std::time::Duration;

use jiff::Timestamp;

use super::import::target::check_account;
use super::plan::TargetPlan;
use crate::api::answer::{self, Answer, Transport};
use crate::api::auth::{self, AuthError};
use crate::api::client::{ApiClient, Wire};
use crate::dispatch::fault::{FaultKind, RunFault};
use crate::error::{Error, Exit};

/// Check `target`; each finding is a line on stdout, a problem an error.
pub async fn check(target: TargetPlan, timeout: Duration) -> Result<Exit, Error> {
    let TargetPlan::Api {
        endpoint,
        token,
        account,
    } = target
    else {
        return Err(Error::usage(
            "check needs the API's endpoint, not the sandbox",
        ));
    };
    let now = Timestamp::now();
    crate::outln!(
        "token: {}",
        describe_token(auth::preflight(&token, now)?, now)
    )?;
    let client = ApiClient::new(
        endpoint.clone(),
        token,
        account.clone(),
        Wire::default(),
        timeout,
        1,
    )
    .map_err(Error::Internal)?;
    match check_account(&client, &account).await? {
        Some(name) if !name.is_empty() => {
            crate::outln!("account: {account} (\"{name}\") belongs to this token")?
        }
        Some(_) => crate::outln!("account: {account} belongs to this token")?,
        None => crate::outln!(
            "account: {account} (the accounts endpoint did not say; set-click will check it)"
        )?,
    }
    let answer = probe(&client).await;
    crate::outln!(
        "endpoint: {}",
        endpoint_finding(&answer, endpoint.as_str())?
    )?;
    crate::outln!("ready: an import would send to {endpoint} with these credentials")?;
    Ok(Exit::Ok)
}

fn describe_token(claims: Option<auth::Claims>, now: Timestamp) -> String {
    let Some(c) = claims else {
        return "not a JWT: sent as it is (the API decides)".into();
    };
    let scopes = match &c.scopes {
        Some(s) => format!("scopes {}", s.join(", ")),
        None => "no scopes claim".into(),
    };
    let expiry = match c.exp {
        Some(exp) => {
            let days = (exp.as_second() - now.as_second()) / 86_400;
            format!("expires {exp} (in {days} days)")
        }
        None => "no expiry claim".into(),
    };
    format!("a JWT with {scopes}; {expiry}")
}

/// `check`'s advice when the endpoint does not answer (it sent no lead).
const UNREACHABLE: &str = "check --endpoint (or SEALMETRICS_ENDPOINT), the network and any proxy \
     (HTTPS_PROXY) between setclick and the API; then run `setclick check` again";

/// What the endpoint's answer to an empty request says.
fn endpoint_finding(answer: &Answer, endpoint: &str) -> Result<String, Error> {
    let fault = |kind, m: String| {
        let f = RunFault::new(kind, m);
        Err(Error::Fault(match kind {
            FaultKind::Unreachable => f.with_hint(UNREACHABLE),
            _ => f,
        }))
    };
    match answer {
        Answer::Transport(Transport::Unusable(m)) => fault(
            FaultKind::Endpoint,
            format!("cannot connect to {endpoint}: {m}"),
        ),
        Answer::Transport(t) => fault(
            FaultKind::Unreachable,
            format!("{endpoint} did not answer: {}", t.message()),
        ),
        Answer::Status(s) => {
            let msg = s
                .message
                .clone()
                .unwrap_or_else(|| format!("HTTP {}", s.status));
            match s.status {
                400 | 422 if msg.to_ascii_lowercase().contains("missing") => Ok(format!(
                    "{endpoint} answers as set-click does ({msg}, as expected for an empty request)"
                )),
                400 | 422 => Ok(format!("{endpoint} refused the empty request ({msg})")),
                200..=299 => Ok(format!(
                    "{endpoint} accepted an empty request (HTTP {}): it may not be the set-click \
                     endpoint",
                    s.status
                )),
                401 | 403 => Err(AuthError::Refused(format!(
                    "the API refused the credentials ({msg}); check {} or --token-file",
                    auth::TOKEN_ENV
                ))
                .into()),
                300..=399 => fault(
                    FaultKind::Redirected,
                    format!(
                        "{endpoint} redirects (HTTP {}) to {}",
                        s.status,
                        s.location.as_deref().unwrap_or("nowhere")
                    ),
                ),
                500..=599 => fault(
                    FaultKind::Unreachable,
                    format!("{endpoint} answers with server errors now ({msg})"),
                ),
                _ => fault(
                    FaultKind::Endpoint,
                    format!("{endpoint} answered {msg}: it is not the set-click endpoint"),
                ),
            }
        }
    }
}

/// POST an empty form to the endpoint (no lead: the API refuses it).
async fn probe(client: &ApiClient) -> Answer {
    {
        let req = client
            .http()
            .post(client.endpoint().clone())
            .bearer_auth(client.token().expose())
            .header("accept", "application/json")
            .header("content-type", "application/x-www-form-urlencoded")
            .body("");
        match req.send().await {
            Err(e) if e.is_connect() => Answer::Transport(Transport::connect(e.to_string())),
            Err(e) => Answer::Transport(Transport::NoAnswer(e.to_string())),
            Ok(resp) => {
                let status = resp.status().as_u16();
                let headers = resp.headers().clone();
                let body = resp.bytes().await.map_err(|e| e.to_string());
                answer::answer(status, &headers, body)
            }
        }
    }
}
