//! Reading a set-click request's form body into a [`Click`], with the 400 and 403
//! answers the endpoint page gives for a missing, malformed or foreign field.

use axum::http::HeaderMap;
use serde_json::Value;

use super::record::Click;

/// Why a set-click form was refused.
#[derive(Debug, PartialEq)]
pub(super) enum Refusal {
    /// 400, with this message.
    Bad(String),
    /// 403: the account id is not the one the token belongs to.
    Forbidden,
}

const FORM: &str = "application/x-www-form-urlencoded";
const REQUIRED: [&str; 4] = ["account_id", "url_parameters", "click_time", "settings"];

/// The click in a request, or why it is refused. The click's fault flags are unset.
pub(super) fn parse(headers: &HeaderMap, body: &[u8], account: &str) -> Result<Click, Refusal> {
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type.starts_with(FORM) {
        return Err(Refusal::Bad(format!("Content-Type must be {FORM}")));
    }
    let form: Vec<(String, String)> = form_urlencoded::parse(body).into_owned().collect();
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .filter(|v| !v.trim().is_empty())
    };
    if let Some(name) = REQUIRED.iter().find(|n| field(n).is_none()) {
        return Err(Refusal::Bad(format!("Missing required parameter: {name}")));
    }
    let account_id = field("account_id").unwrap_or_default();
    if account_id != account {
        return Err(Refusal::Forbidden);
    }
    let object = |name: &str| match serde_json::from_str::<Value>(&field(name).unwrap_or_default())
    {
        Ok(v @ Value::Object(_)) => Ok(v),
        _ => Err(Refusal::Bad(format!(
            "Invalid parameter: {name} must be a JSON object"
        ))),
    };
    let url_parameters = object("url_parameters")?;
    let settings = object("settings")?;
    let Ok(click_time) = field("click_time")
        .unwrap_or_default()
        .trim()
        .parse::<i64>()
    else {
        return Err(Refusal::Bad(
            "Invalid parameter: click_time must be a number".into(),
        ));
    };
    Ok(Click {
        account_id,
        click_time,
        url_parameters,
        settings,
        referrer: field("referrer").or_else(|| field("referrer_url")),
        current_url: field("current_url"),
        cut: false,
        slow: false,
    })
}
