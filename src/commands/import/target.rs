//! Where an import sends: the endpoint (or an in-process sandbox), the token and
//! account, checked before the first lead leaves.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;

use super::Plan;
use crate::api::answer;
use crate::api::auth::{self, AuthError, Secret};
use crate::api::client::{self, ApiClient};
use crate::cli::ImportArgs;
use crate::sandbox::{Sandbox, SandboxConfig};
use crate::{Exit, Failure};

pub(super) fn auth_failure(e: AuthError) -> Failure {
    match e {
        AuthError::Refused(m) => Failure {
            exit: Exit::Auth,
            message: m,
        },
        AuthError::Usage(m) => Failure::usage(m),
    }
}

/// Where to send, with what credentials.
pub(super) struct Target {
    pub client: Arc<ApiClient>,
    pub sandbox: Option<Sandbox>,
    pub account: String,
}

pub(super) async fn target(args: &ImportArgs, plan: &Plan) -> Result<Target, Failure> {
    let (endpoint, token, account, sandbox) = if args.sandbox {
        let sb = Sandbox::start(SandboxConfig {
            keep_clicks: false,
            ..SandboxConfig::default()
        })
        .await
        .map_err(|e| Failure::usage(format!("cannot start the sandbox: {e}")))?;
        if args.account_id.is_some() {
            tracing::warn!("--sandbox: sending with the sandbox's own account id");
        }
        tracing::info!("sandbox listening on {}", sb.base_url());
        (
            sb.endpoint(),
            Secret::new(sb.token()),
            sb.account_id().to_string(),
            Some(sb),
        )
    } else {
        let token = auth::load_token(
            args.token_file.as_deref(),
            std::env::var(auth::TOKEN_ENV).ok(),
        )
        .map_err(auth_failure)?;
        let account = args
            .account_id
            .clone()
            .filter(|a| !a.trim().is_empty())
            .ok_or_else(|| {
                Failure::usage("no account id: give --account-id or set SEALMETRICS_ACCOUNT_ID")
            })?;
        let endpoint = args
            .endpoint
            .clone()
            .unwrap_or_else(|| client::DEFAULT_ENDPOINT.to_string());
        (endpoint, token, account, None)
    };
    let endpoint = client::check_endpoint(&endpoint).map_err(Failure::usage)?;
    auth::preflight(&token, Timestamp::now()).map_err(auth_failure)?;
    let client = ApiClient::new(
        endpoint,
        token,
        account.clone(),
        plan.wire.clone(),
        plan.timeout,
        plan.dispatch.concurrency,
    )
    .map_err(Failure::usage)?;
    check_account(&client, &account).await?;
    Ok(Target {
        client: Arc::new(client),
        sandbox,
        account,
    })
}

/// Ask the accounts endpoint whether the token works and owns the account. Only a
/// clear refusal stops the run; an endpoint that does not answer is passed over.
async fn check_account(client: &ApiClient, account: &str) -> Result<(), Failure> {
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
        return Ok(());
    };
    let status = resp.status().as_u16();
    if status == 401 || status == 403 {
        let body = resp.bytes().await.unwrap_or_default();
        return Err(Failure {
            exit: Exit::Auth,
            message: format!(
                "the API refused the token ({}); check {} or --token-file",
                answer::server_message(&body, status),
                auth::TOKEN_ENV
            ),
        });
    }
    if status == 200
        && let Ok(body) = resp.bytes().await
        && let Ok(serde_json::Value::Object(accounts)) =
            serde_json::from_slice::<serde_json::Value>(&body)
        && !accounts.is_empty()
        && !accounts.contains_key(account)
    {
        let known: Vec<String> = accounts
            .iter()
            .map(|(id, name)| format!("{id} ({})", name.as_str().unwrap_or("")))
            .collect();
        return Err(Failure {
            exit: Exit::Auth,
            message: format!(
                "account '{account}' does not belong to this token; its accounts: {}",
                known.join(", ")
            ),
        });
    }
    Ok(())
}
