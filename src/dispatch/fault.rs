//! Run faults: answers that say the endpoint as a whole is wrong or away, as opposed
//! to answers about one lead. A run fault stops the run; no row is recorded
//! refused or failed for it, so the next run (with the fix) sends those leads.

use std::fmt;

/// What kind of whole-endpoint problem stopped the run; `error::exit_code` maps
/// each to its exit code (2 for a misconfiguration the user fixes in flags, 3 for
/// credentials, redirects away and outages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// 401/403: the token, its scope or the account is refused.
    Credentials,
    /// 404/405/410, or a 2xx whose body is an error page before any lead went in:
    /// `--endpoint` is not the set-click URL.
    Endpoint,
    /// A 2xx whose body is an error about the account before any lead went in.
    Account,
    /// 400 "Missing required parameter" naming a field setclick sends (a proxy or
    /// server that loses the form body).
    Field,
    /// 301/302/303: following would turn the POST into a GET.
    Redirected,
    /// No answer (or only 5xx) for longer than `--max-outage`, or a wait the API
    /// asked for that ends after it.
    Unreachable,
    /// Every sender's requests time out: the API is slower than `--timeout`, and
    /// may apply leads it never answers for; waiting would only send copies.
    TimedOut,
}

/// A fault of the endpoint as a whole, with a message naming the cause and the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunFault {
    pub kind: FaultKind,
    pub message: String,
    /// What to do next, when the command that met the fault is not an import
    /// (`check` sends no lead, so "the leads stay pending" is not its advice).
    next: Option<String>,
}

impl RunFault {
    pub fn new(kind: FaultKind, message: impl Into<String>) -> RunFault {
        RunFault {
            kind,
            message: message.into(),
            next: None,
        }
    }

    /// The same fault with its own advice instead of the import's.
    pub fn with_hint(mut self, next: impl Into<String>) -> RunFault {
        self.next = Some(next.into());
        self
    }

    /// What to do next.
    pub fn hint(&self) -> Option<String> {
        if let Some(next) = &self.next {
            return Some(next.clone());
        }
        Some(
            match self.kind {
                FaultKind::Credentials => {
                    "check SEALMETRICS_TOKEN (or --token-file), the account id, and that your user \
                     has the 'offline-leads' scope; `setclick check` tests them without sending a lead"
                }
                FaultKind::Endpoint => {
                    "--endpoint takes the full set-click URL; the default is \
                     https://app.sealmetrics.com/api/auth/v1.0/set-click"
                }
                FaultKind::Account => "check --account-id (or SEALMETRICS_ACCOUNT_ID)",
                FaultKind::Field => {
                    "the request body did not reach the API whole: check proxies between \
                     setclick and the API (HTTPS_PROXY), or the wire options \
                     --click-time-unit and --referrer-field"
                }
                FaultKind::Redirected => {
                    "give the URL the API redirects to as --endpoint, if you trust it"
                }
                FaultKind::Unreachable => {
                    "the leads not sent stay pending: run the same command again later \
                     (or raise --max-outage)"
                }
                FaultKind::TimedOut => {
                    "raise --timeout; the rows listed uncertain are sent again by the next run \
                     (or only listed, with --uncertain skip)"
                }
            }
            .to_string(),
        )
    }
}

impl fmt::Display for RunFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for RunFault {}
