//! The validated configuration. Loading is two-stage, after vector's config compiler: TOML is
//! parsed into a spanned tree ([`doc`]), then [`compile`] turns it into a [`Config`] or returns
//! every error at once with file:line:column and key path. Nothing touches AWS before this passes.

pub mod compile;
pub mod control;
pub mod cost;
pub mod dns;
pub mod prewarm;
pub mod probes;
pub mod readiness;
pub mod state;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::runbook::Runbook;

pub use crate::detector::Policy as Health;
pub use crate::diag::{Diagnostic, Diagnostics, Severity};
pub use crate::drills::ScheduledDrill;
pub use crate::machine::Mode;
pub use crate::side::Side;
pub use crate::sync::{ArtifactSet, SyncMode};

/// How the config compiler reads the files a config names (runbooks, probe bodies): the core
/// reads none itself; the app passes the filesystem, tests pass what they like.
pub trait Files {
    fn read(&self, path: &Path) -> std::io::Result<String>;
}

/// The files a unit test compiles: the repository's examples and runbooks, read from disk.
#[cfg(test)]
pub(crate) struct TestFiles;

#[cfg(test)]
impl Files for TestFiles {
    #[allow(
        clippy::disallowed_methods,
        reason = "tests read the repository's fixtures"
    )]
    fn read(&self, path: &Path) -> std::io::Result<String> {
        std::fs::read_to_string(path)
    }
}

/// For configs compiled from memory that name no files: every read is refused with a reason.
pub struct NoFiles;

impl Files for NoFiles {
    fn read(&self, path: &Path) -> std::io::Result<String> {
        Err(std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            format!(
                "{} not read: this config was compiled from memory",
                path.display()
            ),
        ))
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub path: PathBuf,
    /// SHA-256 of the config text (`sha256sum` of the file), so a report says which config ran.
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
    pub state: StateStore,
    pub lease: crate::lease::Rules,
    pub readiness: readiness::Rules,
    pub cost: cost::Rules,
    pub prewarm: prewarm::Settings,
}

/// `[state]`: where the machine state, run journals, manifests and sync state live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateStore {
    /// Files under `service.state_dir`: one instance on one host.
    File,
    /// Objects in one S3 bucket, shared by every instance, each write a compare-and-swap; one
    /// instance at a time acts, the holder of the lease.
    S3 {
        bucket: String,
        region: String,
        prefix: String,
        /// This instance's name (default: the host name).
        instance: Option<String>,
    },
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
    "readiness",
    "prewarm",
];

impl Config {
    pub fn side(&self, side: Side) -> &Region {
        match side {
            Side::Primary => &self.primary,
            Side::Standby => &self.standby,
        }
    }

    /// Where a side's synthetic requests go: its inference base URL and the probe path.
    pub fn smoke_url(&self, side: Side) -> String {
        let base = self.side(side).inference_url.trim_end_matches('/');
        format!("{base}{}", self.probes.path)
    }

    /// Loads and validates a config and the runbooks and bodies it names, read through `files`
    /// (the core reads no files itself). Warnings ride along on success.
    pub fn load(path: &Path, files: &dyn Files) -> Result<(Config, Diagnostics), Diagnostics> {
        compile::load(path, files)
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
    /// The deadline of one attempt of an S3 call (a copy, a listing page): copies of model
    /// weights legitimately take long, so this bounds an attempt, not the whole call, and the
    /// SDK retries within `[sync] attempts`.
    pub s3_attempt_timeout: std::time::Duration,
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
    /// The InService instances at which a failover may go on to verify and flip while the rest
    /// keeps launching (`min_serving`, a count or a share of `serving`); `serving` by default.
    pub min_serving: u32,
    /// Pre-created groups in the same region, tried in order when this group's launches fail
    /// (no GPU capacity, a quota): each is asked for what is still missing. They are kept at 0
    /// while warm.
    pub fallback: Vec<String>,
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
    /// How traffic moves: an UPSERT of the record (Route 53's control plane), or a gate the
    /// failover records' health check reads (data plane only).
    pub method: DnsMethod,
    /// DNS servers (`ip` or `ip:port`) asked whether the name answers the target after a flip;
    /// empty: the system resolver (`/etc/resolv.conf`).
    pub resolvers: Vec<std::net::SocketAddr>,
    /// `resolvers` was set: a record flip also waits for their answer, not only for INSYNC.
    pub resolvers_set: bool,
}

/// `[dns] method`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DnsMethod {
    /// `ChangeResourceRecordSets` (UPSERT) then `GetChange` until INSYNC: both Route 53
    /// control-plane calls, served from us-east-1 only.
    Record,
    /// A PRIMARY and a SECONDARY failover record exist; the PRIMARY's health check reads the
    /// gate object. Writing the gate (S3 PutObject in the gate's region) is the whole flip.
    FailoverRecords(Gate),
}

/// The object Route 53's health check on the PRIMARY failover record reads: an inverted
/// HTTPS_STR_MATCH check for [`Gate::SEARCH`] is unhealthy exactly while the body says
/// `serve=standby`, so Route 53 answers the SECONDARY record; any other answer (the primary's
/// word, an error, S3 unreachable) keeps the PRIMARY: the gate fails safe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gate {
    pub bucket: String,
    pub region: String,
    pub key: String,
    /// The PRIMARY record's health check, read (control plane, while it answers) by preflight.
    pub health_check_id: Option<String>,
    /// The health check's request interval (Route 53 allows 10s or 30s).
    pub check_interval: std::time::Duration,
    /// Consecutive observations before the check changes state (1-10).
    pub failure_threshold: u32,
}

impl Gate {
    /// The string the inverted health check searches for.
    pub const SEARCH: &'static str = "serve=standby";

    pub fn body(side: Side) -> String {
        format!("serve={side}\n")
    }

    /// The side a gate body sends traffic to: the standby only on its exact word.
    pub fn side_of(body: &str) -> Side {
        if body.contains(Self::SEARCH) {
            Side::Standby
        } else {
            Side::Primary
        }
    }

    /// How long Route 53 may take to act on a gate write at worst: the threshold's observations,
    /// one interval apart, after up to one interval until the first, plus aggregation
    /// across health checkers (AWS: "a few seconds"; counted as one interval more).
    pub fn reaction_bound(&self) -> std::time::Duration {
        self.check_interval * (self.failure_threshold + 1)
    }
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
    pub retry: crate::retry::RetryPolicy,
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

#[derive(Debug, Clone, PartialEq)]
pub struct SyncTuning {
    /// Copies in flight at once, across all parts.
    pub concurrency: usize,
    /// Objects at or above this size are copied with multipart UploadPartCopy.
    pub multipart_threshold: u64,
    pub part_size: u64,
    /// Attempts per S3 call of a sync (the SDK's retries: throttling, server errors and timeouts
    /// are retried, AccessDenied is not).
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
