//! Credentials: the token as a secret that never prints, loading it from the
//! environment or a file, the JWT preflight (`exp`, `scopes`), and login answers.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use base64::Engine;
use jiff::Timestamp;

/// The scope set-click needs.
pub const SCOPE: &str = "offline-leads";
pub const TOKEN_ENV: &str = "SEALMETRICS_TOKEN";

/// A bearer token. `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<str>);

impl Secret {
    pub fn new(s: &str) -> Secret {
        Secret(Arc::from(s.trim()))
    }

    /// The token itself, for the Authorization header only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// A token the API (or its own claims) refuses: exit 3.
    #[error("{0}")]
    Refused(String),
    /// No token, or a token file that cannot be read: a setting to fix, exit 2.
    #[error("{0}")]
    Usage(String),
}

impl AuthError {
    /// The credentials are refused (exit 3), as opposed to a configuration
    /// problem (exit 2).
    pub fn is_refusal(&self) -> bool {
        matches!(self, AuthError::Refused(_))
    }
}

/// The token from `--token-file` or `SEALMETRICS_TOKEN` (never from a flag value).
pub fn load_token(file: Option<&Path>, env: Option<String>) -> Result<Secret, AuthError> {
    if let Some(path) = file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| AuthError::Usage(format!("--token-file {}: {e}", path.display())))?;
        warn_if_shared(path);
        let token = text.trim();
        if token.is_empty() {
            return Err(AuthError::Usage(format!(
                "--token-file {}: the file is empty",
                path.display()
            )));
        }
        return Ok(Secret::new(token));
    }
    match env {
        Some(t) if !t.trim().is_empty() => Ok(Secret::new(&t)),
        _ => Err(AuthError::Usage(format!(
            "no API token: set {TOKEN_ENV} or give --token-file (get one with `setclick login`, \
             or in the dashboard under Tags & Connectors > Connectors)"
        ))),
    }
}

#[cfg(unix)]
fn warn_if_shared(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(
            "{} can be read by other users; restrict it with: chmod 600 {}",
            path.display(),
            path.display()
        );
    }
}

#[cfg(not(unix))]
fn warn_if_shared(_: &Path) {}

/// What a JWT says about itself (unverified: the server verifies).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    pub exp: Option<Timestamp>,
    pub scopes: Option<Vec<String>>,
}

/// Decode the payload of a JWT; `None` for an opaque token.
pub fn claims(token: &Secret) -> Option<Claims> {
    let mut parts = token.expose().split('.');
    let (_, payload, _) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let obj = v.as_object()?;
    let exp = obj
        .get("exp")
        .and_then(|e| e.as_f64())
        .and_then(|s| Timestamp::from_second(s as i64).ok());
    let scopes = obj.get("scopes").map(|s| match s {
        serde_json::Value::Array(a) => a
            .iter()
            .filter_map(|x| x.as_str().map(String::from))
            .collect(),
        serde_json::Value::String(s) => s
            .split([' ', ','])
            .filter(|x| !x.is_empty())
            .map(String::from)
            .collect(),
        _ => Vec::new(),
    });
    Some(Claims { exp, scopes })
}

/// Check a token before the first request: a JWT must not be expired and, when it
/// lists scopes, must include `offline-leads`. Opaque tokens pass as they are.
pub fn preflight(token: &Secret, now: Timestamp) -> Result<Option<Claims>, AuthError> {
    let Some(c) = claims(token) else {
        return Ok(None);
    };
    if let Some(exp) = c.exp
        && exp <= now
    {
        return Err(AuthError::Refused(format!(
            "the API token expired at {exp}; get a new one with `setclick login` and set {TOKEN_ENV}"
        )));
    }
    if let Some(scopes) = &c.scopes
        && !scopes.iter().any(|s| s == SCOPE)
    {
        return Err(AuthError::Refused(format!(
            "the API token lacks the '{SCOPE}' scope (it has: {}); ask for it to be enabled for your user",
            if scopes.is_empty() {
                "none".to_string()
            } else {
                scopes.join(", ")
            }
        )));
    }
    Ok(Some(c))
}

/// `expires_at` of a login answer: `2025-07-15 15:14:38` (UTC) or
/// `2025-07-09T18:14:44.000000Z`, or Unix seconds.
pub fn parse_expiry(v: &serde_json::Value) -> Option<Timestamp> {
    if let Some(n) = v.as_i64() {
        return Timestamp::from_second(n).ok();
    }
    let s = v.as_str()?.trim();
    if let Ok(ts) = s.parse::<Timestamp>() {
        return Some(ts);
    }
    let dt: jiff::civil::DateTime = s.parse().ok()?;
    jiff::tz::Offset::UTC.to_timestamp(dt).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(payload: &str) -> Secret {
        let b = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        Secret::new(&format!(
            "{}.{}.sig",
            b.encode("{\"alg\":\"HS256\"}"),
            b.encode(payload)
        ))
    }

    fn now() -> Timestamp {
        "2026-01-01T00:00:00Z".parse().unwrap()
    }

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("super-secret-token");
        assert_eq!(format!("{s:?}"), "Secret(***)");
        assert_eq!(format!("{s}"), "***");
        assert!(!format!("{:?}", Some(s.clone())).contains("super"));
    }

    #[test]
    fn preflight_checks_expiry_and_scope() {
        let ok = jwt(r#"{"exp":1800000000,"scopes":["attribution","offline-leads"]}"#);
        assert!(preflight(&ok, now()).unwrap().is_some());
        let expired = jwt(r#"{"exp":1700000000,"scopes":["offline-leads"]}"#);
        let e = preflight(&expired, now()).unwrap_err().to_string();
        assert!(e.contains("expired"), "{e}");
        let scopeless = jwt(r#"{"exp":1800000000,"scopes":["attribution","scoring"]}"#);
        let e = preflight(&scopeless, now()).unwrap_err().to_string();
        assert!(
            e.contains("offline-leads") && e.contains("attribution"),
            "{e}"
        );
        // No scopes claim: fine. Opaque tokens: fine.
        assert!(preflight(&jwt(r#"{"exp":1800000000}"#), now()).is_ok());
        assert_eq!(
            preflight(&Secret::new("opaque-token"), now()).unwrap(),
            None
        );
        assert_eq!(preflight(&Secret::new("a.b.c"), now()).unwrap(), None);
    }

    #[test]
    fn expiry_in_both_documented_formats() {
        let want: Timestamp = "2025-07-15T15:14:38Z".parse().unwrap();
        assert_eq!(
            parse_expiry(&serde_json::json!("2025-07-15 15:14:38")),
            Some(want)
        );
        let want: Timestamp = "2025-07-09T18:14:44Z".parse().unwrap();
        assert_eq!(
            parse_expiry(&serde_json::json!("2025-07-09T18:14:44.000000Z")),
            Some(want)
        );
        assert_eq!(
            parse_expiry(&serde_json::json!(1752592478)).map(|t| t.as_second()),
            Some(1752592478)
        );
        assert_eq!(parse_expiry(&serde_json::json!("soon")), None);
    }

    #[test]
    fn token_comes_from_file_or_env() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("token");
        std::fs::write(&p, "  tok-from-file\n").unwrap();
        assert_eq!(
            load_token(Some(&p), Some("env".into())).unwrap().expose(),
            "tok-from-file"
        );
        assert_eq!(
            load_token(None, Some("tok-env".into())).unwrap().expose(),
            "tok-env"
        );
        let e = load_token(None, None).unwrap_err().to_string();
        assert!(e.contains(TOKEN_ENV), "{e}");
    }
}
