//! Where an import sends: the endpoint (or an in-process sandbox), the token and
//! account, checked before the first lead leaves.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;

use crate::api::answer;
use crate::api::auth::{self, AuthError, Secret};
use crate::api::client::{self, ApiClient};
use crate::dispatch::fault::{FaultKind, RunFault};
use crate::engine::plan::{SendPlan, TargetPlan};
use crate::error::Error;
use crate::sandbox::{Sandbox, SandboxConfig};

/// Where to send, with what credentials.
pub struct Target {
    pub client: Arc<ApiClient>,
    pub sandbox: Option<Sandbox>,
    pub account: String,
}

pub async fn target(plan: &SendPlan) -> Result<Target, Error> {
    let (endpoint, token, account, sandbox) = match &plan.target {
        TargetPlan::Sandbox => {
            let sb = Sandbox::start(SandboxConfig {
                keep_clicks: false,
                ..SandboxConfig::default()
            })
            .await
            .map_err(|e| Error::Internal(format!("cannot start the sandbox: {e}")))?;
            tracing::info!("sandbox listening on {}", sb.base_url());
            let endpoint = client::check_endpoint(&sb.endpoint())
                .map_err(|e| Error::Internal(e.to_string()))?;
            (
                endpoint,
                Secret::new(sb.token()),
                sb.account_id().to_string(),
                Some(sb),
            )
        }
        TargetPlan::Api {
            endpoint,
            token,
            account,
        } => (endpoint.clone(), token.clone(), account.clone(), None),
    };
    auth::preflight(&token, Timestamp::now())?;
    let client = ApiClient::new(
        endpoint,
        token,
        account.clone(),
        plan.wire.clone(),
        plan.timeout,
        plan.dispatch.concurrency,
    )
    .map_err(Error::Internal)?;
    check_account(&client, &account).await?;
    Ok(Target {
        client: Arc::new(client),
        sandbox,
        account,
    })
}

/// Ask the accounts endpoint whether the token works and owns the account. Only a
/// clear refusal stops the run; an endpoint that does not answer is passed over.
/// The account's name, when the endpoint listed it.
pub async fn check_account(client: &ApiClient, account: &str) -> Result<Option<String>, Error> {
    let url = client::sibling(client.endpoint(), "/api/auth/accounts");
    let resp = client
        .http()
        .get(url)
        .bearer_auth(client.token().expose())
        .header("accept", "application/json")
        .timeout(Duration::from_secs(15))
        .send()
        .await;
    let Ok(resp) = resp else {
        tracing::debug!("accounts check: no answer");
        return Ok(None);
    };
    let status = resp.status().as_u16();
    if status == 401 || status == 403 {
        let body = resp.bytes().await.unwrap_or_default();
        return Err(AuthError::Refused(format!(
            "the API refused the token ({}); check {} or --token-file",
            answer::server_message(&body, status),
            auth::TOKEN_ENV
        ))
        .into());
    }
    let accounts = match status {
        200 => match resp.bytes().await.map(|b| serde_json::from_slice(&b)) {
            Ok(Ok(serde_json::Value::Object(accounts))) => accounts,
            _ => return Ok(None),
        },
        _ => return Ok(None),
    };
    let listed = accounts
        .get(account)
        .map(|name| name.as_str().unwrap_or_default().to_string());
    if !accounts.is_empty() && listed.is_none() {
        let known: Vec<String> = accounts
            .iter()
            .map(|(id, name)| format!("{id} ({})", name.as_str().unwrap_or("")))
            .collect();
        // The token is good; the account is a setting to fix (exit 2).
        return Err(RunFault::new(
            FaultKind::Account,
            format!(
                "account '{account}' does not belong to this token; its accounts: {}",
                known.join(", ")
            ),
        )
        .into());
    }
    Ok(listed)
}
