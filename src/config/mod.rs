//! The validated configuration. Loading is two-stage, after vector's config compiler: TOML is
//! parsed into a spanned tree ([`doc`]), then [`compile`] turns it into a [`Config`] or returns
//! every error at once with file:line:column and key path. Nothing touches AWS before this passes.

pub mod compile;
pub mod control;
pub mod diag;
pub mod doc;
pub mod probes;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::core::outcome::OutcomeClass;
use crate::runbook::Runbook;

pub use diag::{Diagnostic, Diagnostics, Severity};

/// Which region a step or value refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Primary,
    Standby,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Primary => "primary",
            Side::Standby => "standby",
        }
    }

    pub fn other(self) -> Side {
        match self {
            Side::Primary => Side::Standby,
            Side::Standby => Side::Primary,
        }
    }
}

impl std::fmt::Display for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub path: PathBuf,
    /// FNV-1a of the config text, so a report says exactly which config ran.
    pub digest: String,
    pub service: Service,
    pub aws: Aws,
    pub primary: Region,
    pub standby: Region,
    pub dns: Dns,
    pub health: Health,
    pub failover: Failover,
    pub failback: Failback,
    pub artifacts: Vec<ArtifactSet>,
    pub sync: SyncTuning,
    pub probes: crate::smoke::Probes,
    pub drills: Drills,
    pub control: Control,
    pub webhooks: Vec<Webhook>,
}

/// `[control]`: the daemon's local endpoint (metrics, health, status) and how it takes commands.
#[derive(Debug, Clone)]
pub struct Control {
    /// HTTP listener for `/metrics`, `/healthz`, `/status` (and control, with a token); `None`
    /// turns it off. Loopback by default.
    pub listen: Option<std::net::SocketAddr>,
    /// Unix socket (mode 0600) for `standby approve|pause|resume|ack`.
    pub socket: PathBuf,
    /// Environment variable holding the bearer token that enables control over HTTP.
    pub token_env: Option<String>,
}

/// `[[webhooks]]`: JSON POSTs on events, delivered in the background with retries.
#[derive(Debug, Clone)]
pub struct Webhook {
    pub url: String,
    pub events: Vec<String>,
    pub headers: Vec<(String, crate::smoke::secret::Template)>,
    pub timeout: Duration,
    pub attempts: u32,
}

pub const WEBHOOK_EVENTS: &[&str] = &[
    "verdict",
    "run_started",
    "run_finished",
    "step_failed",
    "rto_breach_projected",
    "approval_needed",
    "approval_escalation",
    "flapping",
    "unarmed",
    "escalation",
    "orchestrator_impaired",
    "state_rederived",
];

impl Config {
    pub fn side(&self, side: Side) -> &Region {
        match side {
            Side::Primary => &self.primary,
            Side::Standby => &self.standby,
        }
    }

    /// Loads and validates a config and the runbooks it names. Warnings ride along on success.
    pub fn load(path: &Path) -> Result<(Config, Diagnostics), Diagnostics> {
        compile::load(path)
    }
}

#[derive(Debug, Clone)]
pub struct Service {
    pub name: String,
    /// The RTO objective the runs are measured against.
    pub rto: Duration,
    pub state_dir: PathBuf,
    pub reports_dir: PathBuf,
}

#[derive(Debug, Clone)]
pub struct Aws {
    pub endpoint_url: Option<String>,
    /// SDK attempts per call; 1 in tests against the emulator so unimplemented calls fail fast.
    pub max_attempts: u32,
    /// The deadline of one AWS call, all its SDK attempts included: a control plane that hangs
    /// (Route 53 in a us-east-1 event) fails the step in bounded time, and the retry policy
    /// takes it from there.
    pub call_timeout: std::time::Duration,
}

#[derive(Debug, Clone)]
pub struct Region {
    pub side: Side,
    pub region: String,
    pub endpoint: String,
    /// Base URL synthetic inference requests go to; default: the origin of `endpoint`.
    pub inference_url: String,
    pub asgs: Vec<AsgSpec>,
    /// Artifact bucket in this region; required when artifact sets are configured.
    pub bucket: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AsgSpec {
    pub name: String,
    pub warm: u32,
    pub serving: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum RecordType {
    #[serde(rename = "CNAME")]
    Cname,
    A,
    #[serde(rename = "AAAA")]
    Aaaa,
}

impl RecordType {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordType::Cname => "CNAME",
            RecordType::A => "A",
            RecordType::Aaaa => "AAAA",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Dns {
    pub zone_id: String,
    pub name: String,
    pub record_type: RecordType,
    pub ttl: u32,
    pub primary: String,
    pub standby: String,
}

impl Dns {
    pub fn value(&self, side: Side) -> &str {
        match side {
            Side::Primary => &self.primary,
            Side::Standby => &self.standby,
        }
    }

    /// Which side a record value points at, tolerating the trailing dot Route 53 adds to names.
    pub fn side_of(&self, value: &str) -> Option<Side> {
        let norm = |s: &str| s.trim_end_matches('.').to_ascii_lowercase();
        let v = norm(value);
        if v == norm(&self.primary) {
            Some(Side::Primary)
        } else if v == norm(&self.standby) {
            Some(Side::Standby)
        } else {
            None
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Health {
    pub interval: Duration,
    pub timeout: Duration,
    pub failure_threshold: u32,
    pub window: Duration,
    pub error_rate: f64,
    /// Rounds needed in the window before the error rate may trigger.
    pub min_samples: u32,
    /// How long the error rate must stay above `error_rate` before the verdict is down.
    pub degraded_for: Duration,
    pub slow: Duration,
    pub recover_after: u32,
    /// Requests per round at most: the first, and immediate retries while it fails.
    pub attempts: u8,
    /// Outcome classes that count as a failed round.
    pub fail_on: Vec<OutcomeClass>,
    /// A primary whose verdict changed `flap_changes` times within `flap_window` is flapping:
    /// one incident with a count, not a webhook per change.
    pub flap_window: Duration,
    pub flap_changes: u32,
}

impl Default for Health {
    fn default() -> Self {
        Health {
            interval: Duration::from_secs(2),
            timeout: Duration::from_secs(1),
            failure_threshold: 2,
            window: Duration::from_secs(300),
            error_rate: 0.05,
            min_samples: 20,
            degraded_for: Duration::from_secs(60),
            slow: Duration::from_secs(3),
            recover_after: 3,
            attempts: 3,
            fail_on: OutcomeClass::DEFAULT_FAILURES.to_vec(),
            flap_window: Duration::from_secs(600),
            flap_changes: 4,
        }
    }
}

impl Health {
    /// The detection bound for a primary that stops answering: the first failing round starts
    /// within one interval of the onset, the streak's last round `failure_threshold - 1`
    /// intervals later, and that round ends by its deadline. Rounds run concurrently, so a
    /// hanging round never delays the next one.
    pub fn detection_time(&self) -> Duration {
        self.streak_time().saturating_add(self.timeout)
    }

    /// The failing streak alone (failure_threshold × interval): how soon a refused or erroring
    /// primary is judged down from its last good probe.
    pub fn streak_time(&self) -> Duration {
        self.interval.saturating_mul(self.failure_threshold.max(1))
    }

    /// The bound per failure mode, for `validate` and the README: (mode, bound, why).
    pub fn detection_bounds(&self) -> Vec<(&'static str, Duration, String)> {
        let t = self.failure_threshold.max(1);
        let streak = self.streak_time();
        let slow_cut = self.slow.min(self.timeout);
        vec![
            (
                "refused / 503 / 5xx",
                streak.saturating_add(Duration::from_millis(100)),
                format!("{t} × interval, plus the answer's own latency (~ms)"),
            ),
            (
                "hang",
                streak.saturating_add(self.timeout),
                format!("{t} × interval + timeout (one deadline per round, shared by its retry)"),
            ),
            (
                "slow 2xx",
                streak.saturating_add(slow_cut),
                format!(
                    "{t} × interval + min(slow, timeout): a 2xx is cut off as `slow` when it crosses it"
                ),
            ),
            (
                "brownout",
                self.window.saturating_add(self.degraded_for),
                format!(
                    "window + degraded_for, for request error rates clearly above {:.1}% (about {:.0}% and more at {} requests per window)",
                    self.error_rate * 100.0,
                    crate::core::detector::detectable_rate(self) * 100.0,
                    self.requests_per_window()
                ),
            ),
        ]
    }

    /// Requests one window holds at one attempt per round.
    pub fn requests_per_window(&self) -> u64 {
        (self.window.as_secs_f64() / self.interval.as_secs_f64().max(1e-3)).floor() as u64
    }

    /// Whether a failed attempt of this class is retried at once within its round: only classes
    /// that would fail the round (a 429 means alive and shedding load, and asking again at once
    /// would add to the load).
    pub fn retries(&self, class: OutcomeClass) -> bool {
        class.retryable() && self.fail_on.contains(&class)
    }

    /// How long a persisted verdict stays fresh after the round behind it: a few intervals.
    pub fn stale_after(&self) -> Duration {
        self.interval.saturating_mul(3).saturating_add(self.timeout)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Automatic,
    Manual,
}

#[derive(Debug, Clone)]
pub struct Failover {
    pub mode: Mode,
    pub cooldown: Duration,
    pub runbook: Runbook,
    pub drill_runbook: Runbook,
    /// Manual mode: how long a run waits for approval before the escalation webhook fires (and
    /// again each time this long passes). It never approves itself.
    pub approval_timeout: Duration,
    /// What a failover does when a step fails: attempts, spacing, when to escalate.
    pub retry: crate::core::retry::RetryPolicy,
}

#[derive(Debug, Clone)]
pub struct Failback {
    pub runbook: Runbook,
    /// `automatic`: fail back once the primary has been healthy for `stable_for`.
    pub mode: Mode,
    pub stable_for: Duration,
}

/// Scheduled drills from `[[drills]]`. The standby drill's runbook is `[failover]
/// drill_runbook`; a full drill runs the failover and failback runbooks.
#[derive(Debug, Clone)]
pub struct Drills {
    pub scheduled: Vec<ScheduledDrill>,
}

#[derive(Debug, Clone)]
pub struct ScheduledDrill {
    pub kind: crate::runbook::RunbookKind,
    pub schedule: crate::sync::schedule::Schedule,
}

/// One artifact set: its own prefix, schedule, RPO objective and failure domain.
#[derive(Debug, Clone)]
pub struct ArtifactSet {
    pub name: String,
    pub prefix: String,
    pub schedule: crate::sync::schedule::Schedule,
    pub rpo: Duration,
    pub mode: SyncMode,
    /// Propagate deletions from the primary.
    pub delete: bool,
    /// Per-set bucket overrides (e.g. weights in their own buckets); default `[primary] bucket`.
    pub primary_bucket: String,
    pub standby_bucket: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncMode {
    /// standby copies the bytes server-side.
    Copy,
    /// S3 Cross-Region Replication moves the bytes; standby verifies and publishes.
    Replication,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SyncTuning {
    /// Copies in flight at once, across all parts.
    pub concurrency: usize,
    /// Objects at or above this size are copied with multipart UploadPartCopy.
    pub multipart_threshold: u64,
    pub part_size: u64,
    /// Attempts per copy call, with exponential backoff and full jitter between them.
    pub attempts: u32,
    /// How often a sync lists the destination in full instead of trusting the manifest.
    pub verify_every: Duration,
}

impl Default for SyncTuning {
    fn default() -> Self {
        // Below ~256 MiB a single server-side CopyObject beats a multipart copy: the per-part
        // requests and the final assembly cost more than the parallelism gains.
        SyncTuning {
            concurrency: 32,
            multipart_threshold: 256 << 20,
            part_size: 64 << 20,
            attempts: 4,
            verify_every: Duration::from_secs(3600),
        }
    }
}
