//! A preflight check: a verdict and a reason for people (plans and the DNS setup make them).

/// One preflight check with its verdict and reason.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Check {
    pub name: String,
    pub ok: bool,
    pub reason: String,
    /// Passed, but worth a look (e.g. a standby that is not ready under `readiness = "warn"`).
    #[serde(default)]
    pub warning: bool,
}
