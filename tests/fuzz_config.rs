//! Observation 6 of issue 11: configs `validate` accepted that panicked when served. Hundreds
//! of mutated configs (extreme, zero, negative, huge, malformed values; deleted and doubled
//! keys) go through validation; every accepted one goes through the arithmetic `serve` does
//! with it (detector, state machine, retry policy, planner, report), and a sample of them
//! through the real binary: a short `serve` and a `failover --dry-run`. Nothing may panic.

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use chrono::{DateTime, Utc};
use common::*;
use standby_core::config::Config;
use standby_core::detector::Detector;
use standby_core::machine::{Event, Policy, State, decide};
use standby_core::outcome::{OutcomeClass, ProbeResult};
use standby_core::runbook::RunbookKind;

const DURATIONS: &[&str] = &[
    "0ms",
    "1ms",
    "1s",
    "3650d",
    "3651d",
    "100000000d",
    "100000000000000d",
    "18446744073709551615ms",
    "1h1h",
    "",
    "5",
    "-1s",
];
const NUMBERS: &[&str] = &[
    "0",
    "1",
    "-1",
    "2147483647",
    "9223372036854775807",
    "99999999999999999999",
    "100000",
    "0.5",
    "1e308",
    "nan",
    "\"7\"",
];

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[(self.next() % from.len() as u64) as usize]
    }
}

/// One to three mutations of `key = value` lines.
fn mutate(base: &str, rng: &mut Rng) -> String {
    let mut lines: Vec<String> = base.lines().map(str::to_string).collect();
    let candidates: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.contains(" = ") && !l.trim_start().starts_with('#'))
        .map(|(i, _)| i)
        .collect();
    for _ in 0..1 + u64::from(rng.next().is_multiple_of(4)) {
        let i = candidates[(rng.next() % candidates.len() as u64) as usize];
        let Some((key, value)) = lines[i].split_once(" = ") else {
            continue; // emptied by an earlier mutation
        };
        let key = key.to_string();
        let quoted = value.starts_with('"');
        lines[i] = match rng.next() % 8 {
            0 => String::new(),
            1 => format!("{key} = {value}\n{key} = {value}"),
            2..=5 if quoted => format!("{key} = \"{}\"", rng.pick(DURATIONS)),
            _ => format!("{key} = {}", rng.pick(NUMBERS)),
        };
    }
    lines.join("\n") + "\n"
}

fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).unwrap()
}

/// What `serve` computes from a config, without sockets: every place time is added or
/// multiplied.
fn exercise(cfg: &Config) {
    let h = &cfg.health;
    let _ = (
        h.detection_bounds(),
        h.stale_after(),
        h.detection_time(),
        h.requests_per_window(),
    );
    let mut d = Detector::new(h.clone());
    let step = chrono::Duration::from_std(h.interval).unwrap_or(chrono::Duration::MAX);
    let mut at = t0();
    for k in 0..60u32 {
        let class = if (10..40).contains(&k) {
            OutcomeClass::Connect
        } else {
            OutcomeClass::Ok
        };
        let v = d.observe(&ProbeResult::bare(at, class));
        let _ = (v.is_stale(at), v.describe(at));
        at = at.checked_add_signed(step).unwrap_or(at);
    }
    // A clock jump of ten years.
    let far = t0() + chrono::Duration::days(3650);
    let _ = d.observe(&ProbeResult::bare(far, OutcomeClass::Timeout));
    // The pre-warm watch on the same rounds, slow ones too, with and without a price.
    let rules = standby_core::prewarm::Rules::derive(&cfg.prewarm, h);
    let mut w = standby_core::prewarm::Watch::new(rules, h.clone());
    let mut at = t0();
    for k in 0..60u32 {
        let mut r = ProbeResult::bare(
            at,
            if k % 3 == 0 {
                OutcomeClass::Unavailable
            } else {
                OutcomeClass::Ok
            },
        );
        r.latency = Duration::from_millis(u64::from(k) * 100);
        let budget = standby_core::prewarm::Budget {
            spent_usd: f64::from(k),
            hourly_usd: (k % 2 == 0).then_some(55.04),
        };
        let _ = w.observe(&r, budget);
        at = at.checked_add_signed(step).unwrap_or(at);
    }
    let _ = w.observe(
        &ProbeResult::bare(far, OutcomeClass::Ok),
        Default::default(),
    );
    let _ = (
        cfg.readiness.fresh_for(),
        standby_core::cost::standby(cfg, &Default::default(), &[]),
    );
    let policy = Policy {
        mode: cfg.failover.mode,
        cooldown: cfg.failover.cooldown,
        failback: cfg.failback.mode,
    };
    let probe = cfg.primary.endpoint.clone();
    let mut state = State::default();
    let events = [
        Event::PrimaryUp {
            reason: "up".into(),
            probe: probe.clone(),
        },
        Event::PrimaryDown {
            reason: "down".into(),
            streak_start: t0(),
            last_good: None,
            probe: probe.clone(),
        },
        Event::RunFinished {
            run: "r1".into(),
            succeeded: true,
            traffic_on: standby_core::config::Side::Standby,
            gave_up: false,
        },
        Event::PrimaryStable {
            reason: "stable".into(),
        },
        Event::PrimaryDown {
            reason: "down".into(),
            streak_start: far,
            last_good: None,
            probe,
        },
        Event::Ack,
    ];
    for (i, e) in events.iter().enumerate() {
        for now in [t0(), far] {
            state = decide(&state, e, now, &policy, &format!("r{i}")).next;
        }
    }
    let r = &cfg.failover.retry;
    let _ = r.total_wait();
    for n in 1..=r.attempts.min(200) {
        let _ = standby_core::retry::after_failure(
            r,
            n,
            true,
            &standby_core::retry::Primary::NotUp,
            far,
        );
    }
    for kind in [
        RunbookKind::Failover,
        RunbookKind::Failback,
        RunbookKind::DrillStandby,
        RunbookKind::DrillFull,
    ] {
        let plan = standby_core::plan::plan_for(kind, cfg, &Default::default());
        let _ = standby_core::plan::render(&plan, cfg);
        let record = record_for(cfg, plan);
        let _ = standby_core::report::projected_rto(&record, far);
        let rep = standby_core::report::build(&record);
        let _ = (rep.summary(), standby::reports::renderings(&rep));
    }
}

/// A finished run of `plan` whose every step took its whole budget.
fn record_for(cfg: &Config, plan: standby_core::plan::Plan) -> standby::journal::RunRecord {
    use standby::journal::{RunRecord, RunStatus, StepStatus};
    let mut steps = RunRecord::step_records_for(&plan);
    let mut at = t0();
    for (s, p) in steps.iter_mut().zip(&plan.steps) {
        s.status = StepStatus::Succeeded;
        s.started_at = Some(at);
        at = at
            .checked_add_signed(chrono::Duration::from_std(p.budget).unwrap_or_default())
            .unwrap_or(at);
        s.finished_at = Some(at);
        s.attempts = 1;
    }
    RunRecord {
        id: "20261125T000000Z-failover-0000".into(),
        kind: plan.kind,
        service: cfg.service.name.clone(),
        trigger: standby_core::machine::Trigger::Automatic {
            reason: "down".into(),
            streak_start: t0(),
            last_good: None,
            decided_at: t0(),
        },
        evidence: vec![],
        created_at: t0(),
        finished_at: Some(at),
        status: RunStatus::Succeeded,
        reason: "all steps succeeded".into(),
        config_path: "standby.toml".into(),
        runbook_path: "runbook".into(),
        runbook_digest: "d".into(),
        rto_objective: cfg.service.rto,
        dns_ttl_s: cfg.dns.ttl,
        plan,
        steps,
        resumed_at: vec![],
        notes: vec![],
        breach_projected_at: None,
        detection_ms: standby_core::duration::millis(cfg.health.detection_time()),
        detection_min_ms: 0,
        estimates: Default::default(),
        estimates_from: None,
        config_digest: Some(cfg.digest.clone()),
        failover_steps: vec![],
        flip_unverified: false,
        origin: None,
        prices: vec![],
        prewarm: None,
        readiness: None,
        attempts: vec![],
        retry_at: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutated_configs_that_validate_serve_without_a_panic() {
    let h = Harness::start("fuzz").await;
    // The sections with their own arithmetic (pre-warm, readiness, cost) join the mutated keys.
    let base = std::fs::read_to_string(&h.config).unwrap()
        + "\n[prewarm]\nenabled = true\nerror_rate = 0.02\nthrottled_rate = 0.5\nlatency = \"300ms\"\nsustain = \"30s\"\nhold = \"15m\"\nmax_monthly_usd = 500\n\n[readiness]\nevery = \"30m\"\ndrill_max_age = \"8d\"\n\n[cost]\nstorage_gb_month = 0.023\ntransfer_gb = 0.02\n";
    let path = h.config.clone();
    let mut rng = Rng(0x5eed_1234_abcd);
    let (mut accepted, mut rejected, mut panics) = (Vec::new(), 0, Vec::new());
    for i in 0..1000 {
        let text = mutate(&base, &mut rng);
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            match standby_core::config::compile::from_text_with(
                &path,
                &text,
                &standby::config_file::Disk,
            ) {
                Ok(cfg) => {
                    exercise(&cfg);
                    true
                }
                Err(diags) => {
                    // Rejected configs name a line and a key for each error.
                    assert!(diags.errors().count() > 0);
                    false
                }
            }
        }));
        match outcome {
            Ok(true) => accepted.push(text),
            Ok(false) => rejected += 1,
            Err(_) => panics.push((i, text)),
        }
    }
    assert!(
        panics.is_empty(),
        "{} mutated configs panicked; the first:\n{}",
        panics.len(),
        panics[0].1
    );
    assert!(
        accepted.len() > 100 && rejected > 100,
        "{} accepted, {rejected} rejected",
        accepted.len()
    );
    println!(
        "{} mutated configs: {} accepted and exercised, {rejected} rejected, none panicked",
        accepted.len() + rejected,
        accepted.len()
    );
    // The extremes that validate accepts, by hand, plus a sample of the accepted mutants,
    // through the real binary.
    let extreme = base
        .replace("rto = \"1m\"", "rto = \"3650d\"")
        .replace("cooldown = \"30m\"", "cooldown = \"3650d\"")
        .replace("interval = \"200ms\"", "interval = \"3650d\"")
        .replace("timeout = \"500ms\"", "timeout = \"3650d\"\nwindow = \"3650d\"\ndegraded_for = \"3650d\"\nflap_window = \"3650d\"");
    let mut sample: Vec<String> = vec![extreme];
    let stride = (accepted.len() / 7).max(1);
    sample.extend(accepted.iter().step_by(stride).take(7).cloned());
    for (i, text) in sample.iter().enumerate() {
        std::fs::write(&path, text).unwrap();
        let valid = h.run(&["validate"]);
        assert!(valid.status.success(), "{}\n{text}", text_of(&valid));
        let log = h.dir.0.join(format!("serve-{i}.log"));
        let child: Daemon = h
            .command(&["serve"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap()
            .into();
        tokio::time::sleep(Duration::from_millis(2500)).await;
        stop(child);
        let served = std::fs::read_to_string(&log).unwrap();
        assert!(
            !served.contains("panicked"),
            "serve panicked on:\n{text}\n{served}"
        );
        let dry = h.run(&["failover", "--dry-run"]);
        assert_ne!(dry.status.code(), Some(101), "{}\n{text}", text_of(&dry));
        assert!(
            !text_of(&dry).contains("panicked"),
            "{}\n{text}",
            text_of(&dry)
        );
    }
    std::fs::write(&path, base).unwrap();
}

fn text_of(o: &std::process::Output) -> String {
    text(o)
}
