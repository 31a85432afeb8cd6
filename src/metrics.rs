//! Prometheus metrics. Live figures (probe latency histograms, outcome and sync counters) are
//! collected in memory by the daemon; the rest is read from the state store at scrape time, so a
//! scrape always agrees with `standby status`. Rendering is pure: [`render`] takes a snapshot.
//! Names carry the `standby_` prefix and base units (seconds, bytes).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

/// Latency buckets in seconds: probes are judged against sub-second to tens-of-seconds limits.
const BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

#[derive(Debug, Clone, Default)]
struct Histogram {
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, v: f64) {
        if self.counts.is_empty() {
            self.counts = vec![0; BUCKETS.len()];
        }
        for (i, b) in BUCKETS.iter().enumerate() {
            if v <= *b {
                self.counts[i] += 1;
            }
        }
        self.sum += v;
        self.count += 1;
    }
}

#[derive(Debug, Default)]
struct Live {
    /// (side, kind) → latency histogram; kind is "health" or "synthetic".
    latency: BTreeMap<(String, String), Histogram>,
    /// (side, class) → rounds.
    outcomes: BTreeMap<(String, String), u64>,
    /// (set, result) → sync runs.
    syncs: BTreeMap<(String, String), u64>,
    sync_bytes: BTreeMap<String, u64>,
    sync_last_seconds: BTreeMap<String, f64>,
    /// Verdict → changes of the primary's verdict to it, since start.
    verdict_changes: BTreeMap<String, u64>,
    /// The last config reload: when, and whether it was accepted.
    reload: Option<(chrono::DateTime<chrono::Utc>, bool)>,
}

/// The daemon's in-memory collectors.
#[derive(Debug, Default)]
pub struct Metrics {
    live: Mutex<Live>,
    /// Run id → what a scrape needs from it, for runs that have finished: a finished record
    /// never changes, so each is read and reported on once, not on every scrape.
    finished: Mutex<BTreeMap<String, FinishedRun>>,
}

/// A finished run as the metrics count it.
#[derive(Debug, Clone, PartialEq)]
pub struct FinishedRun {
    pub kind: String,
    /// When it ended (its record's `finished_at`).
    pub finished_at: Option<chrono::DateTime<chrono::Utc>>,
    /// `succeeded`, `failed`, …
    pub result: String,
    /// (measured, effective) RTO, for a run that recovered service with a figure.
    pub rto: Option<(Duration, Duration)>,
}

impl Metrics {
    pub fn finished_run(&self, id: &str) -> Option<FinishedRun> {
        self.finished.lock().expect("metrics lock").get(id).cloned()
    }

    pub fn remember_finished(&self, id: &str, run: FinishedRun) {
        self.finished
            .lock()
            .expect("metrics lock")
            .insert(id.to_string(), run);
    }

    pub fn probe(&self, side: &str, kind: &str, latency: Duration, class: &str) {
        let mut l = self.live.lock().expect("metrics lock");
        l.latency
            .entry((side.into(), kind.into()))
            .or_default()
            .observe(latency.as_secs_f64());
        *l.outcomes.entry((side.into(), class.into())).or_default() += 1;
    }

    pub fn verdict_changed(&self, to: &str) {
        let mut l = self.live.lock().expect("metrics lock");
        *l.verdict_changes.entry(to.into()).or_default() += 1;
    }

    pub fn reloaded(&self, ok: bool) {
        self.live.lock().expect("metrics lock").reload = Some((chrono::Utc::now(), ok));
    }

    pub fn sync(&self, set: &str, ok: bool, bytes: u64, took: Duration) {
        let mut l = self.live.lock().expect("metrics lock");
        let result = if ok { "ok" } else { "failed" };
        *l.syncs.entry((set.into(), result.into())).or_default() += 1;
        *l.sync_bytes.entry(set.into()).or_default() += bytes;
        l.sync_last_seconds.insert(set.into(), took.as_secs_f64());
    }
}

/// Everything a scrape shows that is not collected live.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// primary, failing_over, standby, failing_back, drilling.
    pub mode: String,
    pub paused: bool,
    pub awaiting_approval: bool,
    /// up, down, unknown, stale.
    pub verdict: String,
    /// Automatic failover armed: the primary has been seen healthy at its probe.
    pub armed: bool,
    /// Verdict changes in the current flapping episode, if the primary is flapping.
    pub flapping: Option<u32>,
    pub cooldown_remaining: Duration,
    pub standby_ready: bool,
    pub rto_objective: Duration,
    /// (kind, result) → finished runs in the journal.
    pub runs: BTreeMap<(String, String), u64>,
    /// kind → runs in progress.
    pub running: BTreeMap<String, u64>,
    /// kind → when the latest finished run of that kind ended, and whether it succeeded.
    pub last_run: BTreeMap<String, (chrono::DateTime<chrono::Utc>, bool)>,
    /// Per set: when its last successful sync finished.
    pub last_sync_ok: BTreeMap<String, chrono::DateTime<chrono::Utc>>,
    /// Where the public name pointed when last read from Route 53: the side, if one of ours.
    pub dns_target: Option<String>,
    /// Each group (serving and spare, both sides) as last read, with when.
    pub groups: Vec<crate::world::ObservedGroup>,
    /// The last readiness evaluation, if any.
    pub readiness: Option<standby_core::readiness::Evaluation>,
    /// `[prewarm] enabled`: the pre-warm under way, and the ended ones.
    pub prewarm: Option<(
        Option<standby_core::prewarm::Episode>,
        crate::prewarm_journal::History,
    )>,
    /// kind → (measured, effective) of the latest finished run of that kind with a figure.
    pub last_rto: BTreeMap<String, (Duration, Duration)>,
    pub projected_rto: Option<Duration>,
    /// Per set: RPO now as a true upper bound (the last figure plus the time since), objective.
    pub rpo: BTreeMap<String, (Option<Duration>, Duration)>,
    /// Per set: the last measured RPO and the instant it is for.
    pub rpo_measured: BTreeMap<String, (Duration, chrono::DateTime<chrono::Utc>)>,
    pub webhooks_dropped: u64,
    /// Run files that are not readable records (skipped).
    pub junk_runs: usize,
    /// The last failover used up its attempts and escalated; nobody has acknowledged it yet.
    pub escalated: bool,
    /// Failed attempts of the failover in progress (0 when none is running).
    pub failover_failed_attempts: u32,
    /// Each kind of this host's own faults (`probe`, `persist`) and whether it holds now.
    pub impaired: Vec<(&'static str, bool)>,
    /// The last attempt to act failed.
    pub act_error: bool,
    /// On a shared store: whether this instance leads, the epoch it last saw, failed renewals.
    pub lease: Option<LeaseMetrics>,
}

#[derive(Debug, Clone, Default)]
pub struct LeaseMetrics {
    pub leader: bool,
    pub epoch: u64,
    pub renew_failures: u64,
}

const MODES: &[&str] = &[
    "primary",
    "failing_over",
    "standby",
    "failing_back",
    "drilling",
];
const VERDICTS: &[&str] = &["up", "down", "unknown", "stale"];
const KINDS: &[&str] = &["failover", "failback", "drill-standby", "drill-full"];

/// The process's own figures under Prometheus's standard names, from /proc (Linux): resident
/// memory, CPU time, open descriptors against the limit, start time. Absent elsewhere.
fn process_metrics(o: &mut String) {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return;
    };
    // Fields after the command name (which may hold spaces, inside parentheses).
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = 100.0; // USER_HZ is 100 on every Linux ABI standby runs on.
    let num = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok());
    // rest[0] is field 3 (state): utime 14, stime 15, starttime 22.
    if let (Some(utime), Some(stime)) = (num(11), num(12)) {
        head(
            o,
            "process_cpu_seconds_total",
            "counter",
            "User and system CPU time.",
        );
        let _ = writeln!(
            o,
            "process_cpu_seconds_total {:.2}",
            (utime + stime) / ticks
        );
    }
    let rss_kib = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        });
    if let Some(kib) = rss_kib {
        head(
            o,
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory.",
        );
        let _ = writeln!(o, "process_resident_memory_bytes {}", kib * 1024);
    }
    let boot = std::fs::read_to_string("/proc/stat").ok().and_then(|t| {
        t.lines()
            .find_map(|l| l.strip_prefix("btime "))
            .and_then(|v| v.trim().parse::<f64>().ok())
    });
    if let (Some(start), Some(boot)) = (num(19), boot) {
        head(
            o,
            "process_start_time_seconds",
            "gauge",
            "Start time (Unix time).",
        );
        let _ = writeln!(o, "process_start_time_seconds {:.2}", boot + start / ticks);
    }
    if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
        head(o, "process_open_fds", "gauge", "Open file descriptors.");
        let _ = writeln!(o, "process_open_fds {}", fds.count());
    }
    let max = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| {
                    l.split_whitespace()
                        .nth(3)
                        .and_then(|v| v.parse::<u64>().ok())
                })
        });
    if let Some(max) = max {
        head(
            o,
            "process_max_fds",
            "gauge",
            "The limit on open file descriptors.",
        );
        let _ = writeln!(o, "process_max_fds {max}");
    }
}

/// Pre-warms: one under way, how each ended (every way from 0), this month's spend.
fn prewarm(
    o: &mut String,
    active: Option<&standby_core::prewarm::Episode>,
    history: &crate::prewarm_journal::History,
) {
    let now = chrono::Utc::now();
    head(
        o,
        "standby_prewarm_active",
        "gauge",
        "1 while a pre-warm holds the standby at serving capacity (or brings it there).",
    );
    let _ = writeln!(o, "standby_prewarm_active {}", bool01(active.is_some()));
    head(
        o,
        "standby_prewarms_total",
        "counter",
        "Pre-warms ended, by how: released (back to warm), failover (a failover took it over), failed.",
    );
    for end in ["released", "failover", "failed"] {
        let _ = writeln!(
            o,
            "standby_prewarms_total{{end=\"{end}\"}} {}",
            history.totals.get(end).copied().unwrap_or(0)
        );
    }
    head(
        o,
        "standby_prewarm_month_dollars",
        "gauge",
        "What this calendar month's pre-warms cost so far (USD, UTC month; unpriced ones count nothing).",
    );
    let _ = writeln!(
        o,
        "standby_prewarm_month_dollars {:.2}",
        standby_core::prewarm::month(&history.episodes, active, now).cost_usd
    );
}

/// The last readiness evaluation: findings per check and severity (every pair from 0), whether
/// it was ready, and when it was made.
fn readiness(o: &mut String, e: Option<&standby_core::readiness::Evaluation>) {
    use standby_core::readiness::{CHECKS, Severity};
    head(
        o,
        "standby_readiness_findings",
        "gauge",
        "Findings of the last readiness evaluation, by check and severity (ok, not_checked, warning, error).",
    );
    for check in CHECKS {
        for sev in Severity::ALL {
            let n = e.map_or(0, |e| {
                e.findings
                    .iter()
                    .filter(|f| f.check == *check && f.severity == sev)
                    .count()
            });
            let _ = writeln!(
                o,
                "standby_readiness_findings{{check=\"{check}\",severity=\"{}\"}} {n}",
                sev.as_str()
            );
        }
    }
    head(
        o,
        "standby_readiness_ready",
        "gauge",
        "1 when the last readiness evaluation had no error (0 too when none was made yet).",
    );
    let _ = writeln!(
        o,
        "standby_readiness_ready {}",
        bool01(e.is_some_and(|e| e.ready()))
    );
    if let Some(c) = e.and_then(|e| e.cost.as_ref()) {
        head(
            o,
            "standby_cost_monthly_dollars",
            "gauge",
            "What the warm standby costs a month (USD, list prices or [cost] prices), by component; absent where a price or a size is unknown.",
        );
        for (component, v) in [
            ("instances", c.warm_monthly),
            ("storage", c.storage_monthly),
            ("transfer", c.transfer_monthly),
            ("total", c.total_monthly),
        ] {
            if let Some(v) = v {
                let _ = writeln!(
                    o,
                    "standby_cost_monthly_dollars{{component=\"{component}\"}} {v:.2}"
                );
            }
        }
        if let Some(v) = c.failover_hour {
            head(
                o,
                "standby_cost_failover_hour_dollars",
                "gauge",
                "One hour of the standby at serving capacity (USD).",
            );
            let _ = writeln!(o, "standby_cost_failover_hour_dollars {v:.2}");
        }
    }
    if let Some(e) = e {
        head(
            o,
            "standby_readiness_last_evaluation_timestamp_seconds",
            "gauge",
            "When the last readiness evaluation was made.",
        );
        let _ = writeln!(
            o,
            "standby_readiness_last_evaluation_timestamp_seconds {}",
            e.at.timestamp()
        );
    }
}

/// The groups' capacity as last read (a plan, a preflight, the scheduled standby probe) and
/// when: a reading hours old is a stale reading, and the timestamp says so.
fn groups(o: &mut String, groups: &[crate::world::ObservedGroup]) {
    head(
        o,
        "standby_asg_capacity",
        "gauge",
        "Each Auto Scaling group's capacity as last read (see standby_asg_read_timestamp_seconds): desired, in_service, pending, min, max.",
    );
    for g in groups {
        let Some(c) = &g.group.capacity else {
            continue;
        };
        for (state, v) in [
            ("desired", c.desired),
            ("in_service", c.in_service),
            ("pending", c.pending),
            ("min", c.min),
            ("max", c.max),
        ] {
            let _ = writeln!(
                o,
                "standby_asg_capacity{{side=\"{}\",region=\"{}\",group=\"{}\",state=\"{state}\"}} {v}",
                g.group.side.as_str(),
                esc(&g.group.region),
                esc(&g.group.name)
            );
        }
    }
    head(
        o,
        "standby_asg_exists",
        "gauge",
        "1 when the group existed at its last read, 0 when Auto Scaling did not know it.",
    );
    for g in groups {
        let _ = writeln!(
            o,
            "standby_asg_exists{{side=\"{}\",region=\"{}\",group=\"{}\"}} {}",
            g.group.side.as_str(),
            esc(&g.group.region),
            esc(&g.group.name),
            bool01(g.group.capacity.is_some())
        );
    }
    head(
        o,
        "standby_asg_read_timestamp_seconds",
        "gauge",
        "When each group was last read.",
    );
    for g in groups {
        let _ = writeln!(
            o,
            "standby_asg_read_timestamp_seconds{{side=\"{}\",region=\"{}\",group=\"{}\"}} {}",
            g.group.side.as_str(),
            esc(&g.group.region),
            esc(&g.group.name),
            g.read_at.timestamp()
        );
    }
}

fn esc(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn head(o: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(o, "# HELP {name} {help}");
    let _ = writeln!(o, "# TYPE {name} {kind}");
}

fn bool01(b: bool) -> u8 {
    u8::from(b)
}

pub fn render(m: &Metrics, s: &Snapshot) -> String {
    let l = m.live.lock().expect("metrics lock");
    let mut o = String::new();
    head(
        &mut o,
        "standby_build_info",
        "gauge",
        "Always 1; the version and the commit built from in labels.",
    );
    let _ = writeln!(
        o,
        "standby_build_info{{version=\"{}\",commit=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION"),
        env!("STANDBY_COMMIT")
    );
    head(
        &mut o,
        "standby_state",
        "gauge",
        "1 for the state the orchestrator is in.",
    );
    for mode in MODES {
        let _ = writeln!(
            o,
            "standby_state{{state=\"{mode}\"}} {}",
            bool01(s.mode == *mode)
        );
    }
    head(
        &mut o,
        "standby_paused",
        "gauge",
        "1 while actions are paused (observation goes on).",
    );
    let _ = writeln!(o, "standby_paused {}", bool01(s.paused));
    head(
        &mut o,
        "standby_awaiting_approval",
        "gauge",
        "1 while a failover waits for `standby approve`.",
    );
    let _ = writeln!(
        o,
        "standby_awaiting_approval {}",
        bool01(s.awaiting_approval)
    );
    head(
        &mut o,
        "standby_primary_verdict",
        "gauge",
        "1 for the detector's current verdict on the primary.",
    );
    for v in VERDICTS {
        let _ = writeln!(
            o,
            "standby_primary_verdict{{verdict=\"{v}\"}} {}",
            bool01(s.verdict == *v)
        );
    }
    head(
        &mut o,
        "standby_armed",
        "gauge",
        "1 once the primary has been seen healthy at its probe: automatic failover may act.",
    );
    let _ = writeln!(o, "standby_armed {}", bool01(s.armed));
    if let Some(l) = &s.lease {
        head(
            &mut o,
            "standby_leader",
            "gauge",
            "1 while this instance holds a valid lease on the shared store and may act.",
        );
        let _ = writeln!(o, "standby_leader {}", bool01(l.leader));
        head(
            &mut o,
            "standby_lease_epoch",
            "gauge",
            "The lease epoch this instance last saw (its own while it leads): a takeover raises it.",
        );
        let _ = writeln!(o, "standby_lease_epoch {}", l.epoch);
        head(
            &mut o,
            "standby_lease_renew_failures_total",
            "counter",
            "Reads or writes of the lease that failed (the store did not answer), since start.",
        );
        let _ = writeln!(o, "standby_lease_renew_failures_total {}", l.renew_failures);
    }
    head(
        &mut o,
        "standby_failover_escalated",
        "gauge",
        "1 when the last failover used up its attempts and escalated, until `standby ack`, the primary's recovery or a new failover.",
    );
    let _ = writeln!(o, "standby_failover_escalated {}", bool01(s.escalated));
    head(
        &mut o,
        "standby_failover_failed_attempts",
        "gauge",
        "Failed attempts of the failover in progress (each retried at its failed step).",
    );
    let _ = writeln!(
        o,
        "standby_failover_failed_attempts {}",
        s.failover_failed_attempts
    );
    head(
        &mut o,
        "standby_orchestrator_impaired",
        "gauge",
        "1 while this host cannot do its part: probe (cannot send probes: file descriptors, memory, ports), persist (cannot write its state). Never counted as the primary's failure.",
    );
    for (kind, on) in &s.impaired {
        let _ = writeln!(
            o,
            "standby_orchestrator_impaired{{kind=\"{kind}\"}} {}",
            bool01(*on)
        );
    }
    head(
        &mut o,
        "standby_action_error",
        "gauge",
        "1 while the last attempt to start, adopt or resume a run failed (retried every probe interval).",
    );
    let _ = writeln!(o, "standby_action_error {}", bool01(s.act_error));
    head(
        &mut o,
        "standby_junk_run_files",
        "gauge",
        "Run files under the state directory that are not readable records (skipped; fix or move them).",
    );
    let _ = writeln!(o, "standby_junk_run_files {}", s.junk_runs);
    head(
        &mut o,
        "standby_primary_flapping",
        "gauge",
        "1 while the primary's verdict is flapping (flap_changes changes within flap_window).",
    );
    let _ = writeln!(
        o,
        "standby_primary_flapping {}",
        bool01(s.flapping.is_some())
    );
    head(
        &mut o,
        "standby_primary_flap_changes",
        "gauge",
        "Verdict changes in the current flapping episode (0 when not flapping).",
    );
    let _ = writeln!(
        o,
        "standby_primary_flap_changes {}",
        s.flapping.unwrap_or(0)
    );
    head(
        &mut o,
        "standby_cooldown_remaining_seconds",
        "gauge",
        "Time until another automatic failover is allowed.",
    );
    let _ = writeln!(
        o,
        "standby_cooldown_remaining_seconds {:.3}",
        s.cooldown_remaining.as_secs_f64()
    );
    head(
        &mut o,
        "standby_standby_ready",
        "gauge",
        "1 when the standby's latest synthetic probe is fresh and passed.",
    );
    let _ = writeln!(o, "standby_standby_ready {}", bool01(s.standby_ready));

    head(
        &mut o,
        "standby_probe_duration_seconds",
        "histogram",
        "Probe latency by side and kind (health rounds, synthetic requests).",
    );
    for ((side, kind), h) in &l.latency {
        let labels = format!("side=\"{}\",kind=\"{}\"", esc(side), esc(kind));
        for (i, b) in BUCKETS.iter().enumerate() {
            let _ = writeln!(
                o,
                "standby_probe_duration_seconds_bucket{{{labels},le=\"{b}\"}} {}",
                h.counts[i]
            );
        }
        let _ = writeln!(
            o,
            "standby_probe_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
            h.count
        );
        let _ = writeln!(
            o,
            "standby_probe_duration_seconds_sum{{{labels}}} {:.6}",
            h.sum
        );
        let _ = writeln!(
            o,
            "standby_probe_duration_seconds_count{{{labels}}} {}",
            h.count
        );
    }
    head(
        &mut o,
        "standby_probe_outcomes_total",
        "counter",
        "Probe rounds by side and outcome class.",
    );
    for ((side, class), n) in &l.outcomes {
        let _ = writeln!(
            o,
            "standby_probe_outcomes_total{{side=\"{}\",class=\"{}\"}} {n}",
            esc(side),
            esc(class)
        );
    }

    head(
        &mut o,
        "standby_artifact_rpo_seconds",
        "gauge",
        "How far each artifact set's published standby copy is behind now, at most: the last figure (taken after each sync) plus the time since, a true upper bound.",
    );
    for (set, (rpo, _)) in &s.rpo {
        if let Some(r) = rpo {
            let _ = writeln!(
                o,
                "standby_artifact_rpo_seconds{{set=\"{}\"}} {:.3}",
                esc(set),
                r.as_secs_f64()
            );
        }
    }
    head(
        &mut o,
        "standby_artifact_rpo_measured_seconds",
        "gauge",
        "Each artifact set's last measured RPO (the age of the oldest primary write its published copy lacked), at the instant in standby_artifact_rpo_measured_timestamp_seconds.",
    );
    for (set, (v, _)) in &s.rpo_measured {
        let _ = writeln!(
            o,
            "standby_artifact_rpo_measured_seconds{{set=\"{}\"}} {:.3}",
            esc(set),
            v.as_secs_f64()
        );
    }
    head(
        &mut o,
        "standby_artifact_rpo_measured_timestamp_seconds",
        "gauge",
        "When each set's last measured RPO was taken (Unix time).",
    );
    for (set, (_, at)) in &s.rpo_measured {
        let _ = writeln!(
            o,
            "standby_artifact_rpo_measured_timestamp_seconds{{set=\"{}\"}} {:.3}",
            esc(set),
            at.timestamp_millis() as f64 / 1000.0
        );
    }
    head(
        &mut o,
        "standby_artifact_rpo_objective_seconds",
        "gauge",
        "Each artifact set's RPO objective.",
    );
    for (set, (_, obj)) in &s.rpo {
        let _ = writeln!(
            o,
            "standby_artifact_rpo_objective_seconds{{set=\"{}\"}} {:.3}",
            esc(set),
            obj.as_secs_f64()
        );
    }
    head(
        &mut o,
        "standby_sync_runs_total",
        "counter",
        "Artifact sync runs by set and result, since the daemon started.",
    );
    for ((set, result), n) in &l.syncs {
        let _ = writeln!(
            o,
            "standby_sync_runs_total{{set=\"{}\",result=\"{}\"}} {n}",
            esc(set),
            esc(result)
        );
    }
    head(
        &mut o,
        "standby_sync_bytes_total",
        "counter",
        "Bytes copied by artifact syncs, since the daemon started.",
    );
    for (set, n) in &l.sync_bytes {
        let _ = writeln!(o, "standby_sync_bytes_total{{set=\"{}\"}} {n}", esc(set));
    }
    head(
        &mut o,
        "standby_sync_last_duration_seconds",
        "gauge",
        "Duration of each set's latest sync.",
    );
    for (set, d) in &l.sync_last_seconds {
        let _ = writeln!(
            o,
            "standby_sync_last_duration_seconds{{set=\"{}\"}} {d:.3}",
            esc(set)
        );
    }
    aws_calls(&mut o, &standby_aws::calls::process().snapshot());

    // Every kind and result from the first scrape, at 0: `increase()` sees the first run.
    head(
        &mut o,
        "standby_runs_total",
        "counter",
        "Finished runs in the journal by kind and result.",
    );
    for kind in KINDS {
        for result in ["succeeded", "failed"] {
            let n = s
                .runs
                .get(&(kind.to_string(), result.to_string()))
                .copied()
                .unwrap_or(0);
            let _ = writeln!(
                o,
                "standby_runs_total{{kind=\"{kind}\",result=\"{result}\"}} {n}"
            );
        }
    }
    head(
        &mut o,
        "standby_runs_in_progress",
        "gauge",
        "Runs in progress by kind.",
    );
    for kind in KINDS {
        let _ = writeln!(
            o,
            "standby_runs_in_progress{{kind=\"{kind}\"}} {}",
            s.running.get(*kind).copied().unwrap_or(0)
        );
    }
    head(
        &mut o,
        "standby_last_run_timestamp_seconds",
        "gauge",
        "When the latest finished run of each kind ended (Unix time).",
    );
    for (kind, (at, _)) in &s.last_run {
        let _ = writeln!(
            o,
            "standby_last_run_timestamp_seconds{{kind=\"{}\"}} {}",
            esc(kind),
            at.timestamp()
        );
    }
    head(
        &mut o,
        "standby_last_run_success",
        "gauge",
        "1 if the latest finished run of each kind succeeded.",
    );
    for (kind, (_, ok)) in &s.last_run {
        let _ = writeln!(
            o,
            "standby_last_run_success{{kind=\"{}\"}} {}",
            esc(kind),
            bool01(*ok)
        );
    }
    head(
        &mut o,
        "standby_last_sync_success_timestamp_seconds",
        "gauge",
        "When each set's last complete sync published its manifest (Unix time).",
    );
    for (set, at) in &s.last_sync_ok {
        let _ = writeln!(
            o,
            "standby_last_sync_success_timestamp_seconds{{set=\"{}\"}} {}",
            esc(set),
            at.timestamp()
        );
    }
    head(
        &mut o,
        "standby_verdict_changes_total",
        "counter",
        "Changes of the primary's verdict, by the verdict changed to, since start.",
    );
    for v in ["up", "down", "unknown"] {
        let _ = writeln!(
            o,
            "standby_verdict_changes_total{{verdict=\"{v}\"}} {}",
            l.verdict_changes.get(v).copied().unwrap_or(0)
        );
    }
    if let Some((at, _)) = l.reload {
        head(
            &mut o,
            "standby_config_last_reload_timestamp_seconds",
            "gauge",
            "When the config was last reloaded (SIGHUP), accepted or not (Unix time).",
        );
        let _ = writeln!(
            o,
            "standby_config_last_reload_timestamp_seconds {}",
            at.timestamp()
        );
    }
    head(
        &mut o,
        "standby_config_last_reload_success",
        "gauge",
        "0 when the last reload was rejected (the running config stayed); 1 otherwise.",
    );
    let _ = writeln!(
        o,
        "standby_config_last_reload_success {}",
        bool01(l.reload.is_none_or(|(_, ok)| ok))
    );
    head(
        &mut o,
        "standby_dns_target",
        "gauge",
        "1 for the side the public name pointed at when last read from Route 53 (none: not read yet, or neither side's value).",
    );
    for side in ["primary", "standby"] {
        let _ = writeln!(
            o,
            "standby_dns_target{{side=\"{side}\"}} {}",
            bool01(s.dns_target.as_deref() == Some(side))
        );
    }
    groups(&mut o, &s.groups);
    readiness(&mut o, s.readiness.as_ref());
    if let Some((active, history)) = &s.prewarm {
        prewarm(&mut o, active.as_ref(), history);
    }
    process_metrics(&mut o);
    head(
        &mut o,
        "standby_rto_objective_seconds",
        "gauge",
        "The RTO objective.",
    );
    let _ = writeln!(
        o,
        "standby_rto_objective_seconds {:.3}",
        s.rto_objective.as_secs_f64()
    );
    head(
        &mut o,
        "standby_last_rto_seconds",
        "gauge",
        "Measured RTO of the latest run of each kind (a standby drill's would-be RTO).",
    );
    for (kind, (m, _)) in &s.last_rto {
        let _ = writeln!(
            o,
            "standby_last_rto_seconds{{kind=\"{}\"}} {:.3}",
            esc(kind),
            m.as_secs_f64()
        );
    }
    head(
        &mut o,
        "standby_last_effective_rto_seconds",
        "gauge",
        "Latest RTO of each kind plus the DNS TTL.",
    );
    for (kind, (_, e)) in &s.last_rto {
        let _ = writeln!(
            o,
            "standby_last_effective_rto_seconds{{kind=\"{}\"}} {:.3}",
            esc(kind),
            e.as_secs_f64()
        );
    }
    head(
        &mut o,
        "standby_projected_rto_seconds",
        "gauge",
        "Projected RTO of the run in progress (0 when none runs).",
    );
    let _ = writeln!(
        o,
        "standby_projected_rto_seconds {:.3}",
        s.projected_rto.unwrap_or_default().as_secs_f64()
    );
    head(
        &mut o,
        "standby_webhooks_dropped_total",
        "counter",
        "Webhook notices not delivered after every attempt.",
    );
    let _ = writeln!(o, "standby_webhooks_dropped_total {}", s.webhooks_dropped);
    o
}

/// Every request to AWS since the daemon started (see `standby_aws::calls`): by outcome, the
/// SDK's retries apart, and the latency of each request.
fn aws_calls(o: &mut String, calls: &BTreeMap<(String, String), standby_aws::calls::Counts>) {
    head(
        o,
        "standby_aws_calls_total",
        "counter",
        "Requests sent to AWS (each SDK attempt) by service, operation and outcome: ok, throttled, client_error, server_error, transport.",
    );
    for ((svc, op), c) in calls {
        for (outcome, n) in &c.by_outcome {
            let _ = writeln!(
                o,
                "standby_aws_calls_total{{service=\"{}\",operation=\"{}\",outcome=\"{}\"}} {n}",
                esc(svc),
                esc(op),
                outcome.as_str()
            );
        }
    }
    head(
        o,
        "standby_aws_retries_total",
        "counter",
        "Requests to AWS that were the SDK retrying a call (after throttling, a 5xx or no answer).",
    );
    for ((svc, op), c) in calls {
        let _ = writeln!(
            o,
            "standby_aws_retries_total{{service=\"{}\",operation=\"{}\"}} {}",
            esc(svc),
            esc(op),
            c.retries
        );
    }
    head(
        o,
        "standby_aws_call_duration_seconds",
        "histogram",
        "Latency of each request to AWS.",
    );
    for ((svc, op), c) in calls {
        let labels = format!("service=\"{}\",operation=\"{}\"", esc(svc), esc(op));
        for (b, n) in standby_aws::calls::BUCKETS.iter().zip(&c.buckets) {
            let _ = writeln!(
                o,
                "standby_aws_call_duration_seconds_bucket{{{labels},le=\"{b}\"}} {n}"
            );
        }
        let _ = writeln!(
            o,
            "standby_aws_call_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
            c.requests
        );
        let _ = writeln!(
            o,
            "standby_aws_call_duration_seconds_sum{{{labels}}} {:.6}",
            c.seconds
        );
        let _ = writeln!(
            o,
            "standby_aws_call_duration_seconds_count{{{labels}}} {}",
            c.requests
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_cumulative_and_labels_escaped() {
        let m = Metrics::default();
        m.probe("primary", "health", Duration::from_millis(30), "ok");
        m.probe("primary", "health", Duration::from_millis(700), "slow");
        let mut s = Snapshot {
            mode: "primary".into(),
            ..Snapshot::default()
        };
        s.rpo.insert(
            "we\"ights".into(),
            (Some(Duration::from_secs(3)), Duration::from_secs(60)),
        );
        s.rpo_measured.insert(
            "prompts".into(),
            (
                Duration::from_millis(1_500),
                chrono::DateTime::from_timestamp(1_800_000_000, 250_000_000).unwrap(),
            ),
        );
        let text = render(&m, &s);
        assert!(
            text.contains("standby_artifact_rpo_measured_seconds{set=\"prompts\"} 1.500"),
            "{text}"
        );
        assert!(
            text.contains(
                "standby_artifact_rpo_measured_timestamp_seconds{set=\"prompts\"} 1800000000.250"
            ),
            "{text}"
        );
        assert!(text.contains("standby_probe_duration_seconds_bucket{side=\"primary\",kind=\"health\",le=\"0.05\"} 1"), "{text}");
        assert!(
            text.contains(
                "standby_probe_duration_seconds_bucket{side=\"primary\",kind=\"health\",le=\"1\"} 2"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "standby_probe_duration_seconds_count{side=\"primary\",kind=\"health\"} 2"
            )
        );
        assert!(text.contains("standby_probe_outcomes_total{side=\"primary\",class=\"slow\"} 1"));
        assert!(
            text.contains("standby_artifact_rpo_seconds{set=\"we\\\"ights\"} 3.000"),
            "{text}"
        );
        assert!(text.contains("standby_state{state=\"primary\"} 1"));
    }
}
