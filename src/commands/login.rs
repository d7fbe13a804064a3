//! `setclick login`: trade an email and password for an API token.

use std::io::Write;
use std::time::Duration;

use crate::api::auth::{self, AuthError, Secret};
use crate::api::{answer, client};
use crate::cli::LoginArgs;
use crate::error::{Error, Exit};

pub const PASSWORD_ENV: &str = "SEALMETRICS_PASSWORD";

pub fn run(args: LoginArgs) -> Result<Exit, Error> {
    let endpoint =
        client::check_endpoint(&args.endpoint).map_err(|e| Error::usage(e.to_string()))?;
    let url = client::sibling(&endpoint, "/api/auth/login");
    let password = match std::env::var(PASSWORD_ENV) {
        Ok(p) if !p.is_empty() => p,
        _ => rpassword::prompt_password(format!("Password for {}: ", args.email)).map_err(|e| {
            Error::usage(format!(
                "cannot read the password ({e}); set {PASSWORD_ENV}"
            ))
        })?,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Internal(format!("cannot start the runtime: {e}")))?;
    let answer = runtime.block_on(async {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| e.to_string())?;
        let req = http.post(url.clone()).header("accept", "application/json");
        let fields = [
            ("email", args.email.as_str()),
            ("password", password.as_str()),
        ];
        let req = if args.json {
            let body = serde_json::json!({"email": args.email, "password": password});
            req.header("content-type", "application/json")
                .body(body.to_string())
        } else {
            req.form(&fields)
        };
        let resp = req
            .send()
            .await
            .map_err(|e| format!("cannot reach {url}: {e}"))?;
        let status = resp.status().as_u16();
        let body = resp.bytes().await.map_err(|e| e.to_string())?;
        Ok::<_, String>((status, body))
    });
    let (status, body) = answer.map_err(AuthError::Refused)?;
    if status != 200 {
        return Err(AuthError::Refused(format!(
            "login refused: {}",
            answer::server_message(&body, status)
        ))
        .into());
    }
    let v: serde_json::Value =
        serde_json::from_slice(&body).map_err(|_| Error::usage("the login answer is not JSON"))?;
    let token = v["access_token"]
        .as_str()
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Error::usage("the login answer has no access_token"))?;
    let token = Secret::new(token);
    let expiry =
        auth::parse_expiry(&v["expires_at"]).or_else(|| auth::claims(&token).and_then(|c| c.exp));
    match &args.save {
        Some(path) => {
            save_private(path, token.expose())
                .map_err(|e| Error::output(format!("--save {}", path.display()), e))?;
            crate::ui::say(format!(
                "token saved to {} (mode 0600); use it with --token-file",
                path.display()
            ));
        }
        None => crate::outln!("{}", token.expose())?,
    }
    match expiry {
        Some(t) => crate::ui::say(format!("the token expires at {t}")),
        None => crate::ui::say("the login answer did not say when the token expires"),
    }
    Ok(Exit::Ok)
}

fn save_private(path: &std::path::Path, token: &str) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    crate::report::refuse_link(path)?;
    let mut f = opts.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    writeln!(f, "{token}")
}
