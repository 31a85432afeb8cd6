//! `make bench`: the RTO of a failover on the realistic setup (`make demo REALISTIC=1`'s world)
//! against its physical floor, at 0% and 20% of AWS calls throttled; writes benches/FAILOVER.md.
//!
//! The world: moto behind the fault proxy's reality model, GPU instances that boot in `BOOT`, no
//! capacity left for the standby group's type in its zone (a spare group in another zone takes
//! over), a standby fleet that warms up for `WARMUP` once its instances are InService, Route 53
//! failover records gated by an S3 object and answered by the resolver model (health checks
//! every 10 s with threshold 1, run ten times faster: ~1-2 s), and the primary refusing
//! connections.
//!
//! The floor is what no orchestrator can beat once it has decided: the slowest group's boot, the
//! fleet's warm-up, and DNS propagation (the gate written → the resolver answering the standby,
//! measured). Detection (failure_threshold × interval, configured) is listed apart. The RTO is
//! the truth: the primary set to refuse → the resolver answering the standby with the standby
//! serving (the later of the two), not the report's figure, which is listed beside it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use standby_testbed::Lab;
use standby_testbed::endpoint::Behavior;
use standby_testbed::faults::{Fault, FaultProxy, Rule};
use standby_testbed::reality::Reality;
use standby_testbed::resolver::ResolverModel;
use standby_testbed::seed;

const BOOT: Duration = Duration::from_secs(8);
const WARMUP: Duration = Duration::from_secs(3);
const INTERVAL: Duration = Duration::from_secs(1);
const THRESHOLD: u32 = 2;

struct Run {
    throttled: f64,
    /// 1-based, within its throttling level.
    n: u64,
    truth: Duration,
    reported_ms: u64,
    dns: Duration,
    to_fallback: Duration,
    requests: u64,
    retries: u64,
    throttles: u64,
}

impl Run {
    fn floor(&self) -> Duration {
        BOOT + WARMUP + self.dns
    }
}

#[tokio::main]
async fn main() {
    // `cargo bench` passes --bench; a `cargo test --all-targets` run must not start servers.
    if !std::env::args().any(|a| a == "--bench") {
        eprintln!("benches/failover.rs: run it with `make bench` (cargo bench --bench failover)");
        return;
    }
    let runs: u64 = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut results = Vec::new();
    for throttled in [0.0, 0.2] {
        for i in 0..runs {
            let dir = root.join(format!(
                "target/bench-failover/{}-{i}",
                (throttled * 100.0) as u32
            ));
            match one(&root, &dir, throttled, 40 + i).await {
                Ok(mut r) => {
                    r.n = i + 1;
                    eprintln!(
                        "throttled {:.0}% run {}: RTO {:.2}s (report {:.2}s), floor {:.2}s",
                        throttled * 100.0,
                        i + 1,
                        r.truth.as_secs_f64(),
                        r.reported_ms as f64 / 1000.0,
                        r.floor().as_secs_f64()
                    );
                    results.push(r);
                }
                Err(e) => panic!("failover bench run failed: {e}"),
            }
        }
    }
    let md = render(&results);
    println!("{md}");
    std::fs::write(root.join("benches/FAILOVER.md"), md).expect("write benches/FAILOVER.md");
}

async fn one(root: &Path, dir: &Path, throttled: f64, seed_n: u64) -> Result<Run, String> {
    let e = |e: &dyn std::fmt::Display| e.to_string();
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).map_err(|x| e(&x))?;
    let lab = Lab::start(WARMUP).await.map_err(|x| e(&x))?;
    let w = lab.world.clone();
    let gate_key = "standby-gate/chat";
    let recs = seed::failover_records(&lab.moto.endpoint, &lab.zone_id, &w, gate_key, 10, 1)
        .await
        .map_err(|x| e(&x))?;
    let resolver = ResolverModel::start(&lab.moto.endpoint, &lab.zone_id, 10)
        .await
        .map_err(|x| e(&x))?;
    let proxy = FaultProxy::start(&lab.moto.endpoint, seed_n)
        .await
        .map_err(|x| e(&x))?;
    let spare = format!("{}-g6e", w.standby_asg);
    seed::spare_group(
        &lab.moto.endpoint,
        &w.standby_region,
        &spare,
        "g6e.xlarge",
        &format!("{}b", w.standby_region),
    )
    .await
    .map_err(|x| e(&x))?;
    let config = dir.join("standby.toml");
    std::fs::write(
        &config,
        format!(
            r#"[service]
name = "chat"
rto = "2m"
state_dir = "state"
reports_dir = "reports"

[aws]
endpoint_url = "{aws}"
max_attempts = 3

[primary]
region = "{pr}"
endpoint = "{pe}"
asgs = [{{ name = "{pa}", warm = 0, serving = {n} }}]

[standby]
region = "{sr}"
endpoint = "{se}"
asgs = [{{ name = "{sa}", warm = {sw}, serving = {n}, fallback = ["{spare}"] }}]
bucket = "{sb}"

[dns]
zone_id = "{zone}"
name = "{rn}"
type = "CNAME"
ttl = 60
primary = "{pv}"
standby = "{sv}"
method = "failover_records"
resolvers = ["{resolver}"]

[dns.gate]
bucket = "{sb}"
key = "{gate_key}"
health_check_id = "{hc}"

[health]
interval = "{interval}ms"
timeout = "800ms"
slow = "700ms"
failure_threshold = {threshold}

[failover]
mode = "automatic"
runbook = "{root}/runbooks/failover.toml"

[failback]
runbook = "{root}/runbooks/failback.toml"
"#,
            aws = proxy.url(),
            pr = w.primary_region,
            pe = lab.primary.url(),
            pa = w.primary_asg,
            n = w.serving,
            sr = w.standby_region,
            se = lab.standby.url(),
            sa = w.standby_asg,
            sw = w.standby_warm,
            sb = w.standby_bucket,
            zone = lab.zone_id,
            rn = w.record_name,
            pv = w.primary_value,
            sv = w.standby_value,
            resolver = resolver.addr,
            hc = recs.health_check_id,
            interval = INTERVAL.as_millis(),
            threshold = THRESHOLD,
            root = root.display(),
        ),
    )
    .map_err(|x| e(&x))?;
    let log = std::fs::File::create(dir.join("serve.log")).map_err(|x| e(&x))?;
    let bin = Path::new(env!("CARGO_BIN_EXE_standby"));
    let mut serve = standby_testbed::standby_command(bin, &["serve"], &config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map_err(|x| e(&x))?;
    let state = dir.join("state/state.json");
    let read_state = || {
        std::fs::read(&state)
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
    };
    let armed_by = Instant::now() + Duration::from_secs(30);
    while read_state().is_none_or(|s| s["armed"].is_null()) {
        if Instant::now() > armed_by {
            let _ = serve.kill();
            return Err("not armed within 30s".into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The region's event.
    proxy
        .look_at(&w.standby_region, &[&w.standby_asg, &spare])
        .await;
    proxy.set_reality(Reality {
        boot: BOOT,
        short_zones: vec![format!("{}a", w.standby_region)],
        ..Reality::default()
    });
    if throttled > 0.0 {
        proxy.add(Rule::new(None, None, Fault::Throttle).probability(throttled));
    }
    lab.standby
        .gate_through(&proxy.url(), &[&w.standby_asg, &spare]);
    let failed_at = Instant::now();
    let failed_wall = chrono::Utc::now();
    lab.primary.set(Behavior::Refuse);
    let by = failed_at + Duration::from_secs(120);
    while read_state().is_none_or(|s| s["serving"]["mode"] != "standby") {
        if Instant::now() > by {
            let _ = serve.kill();
            return Err(format!("no failover within 120s; see {}", dir.display()));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = Command::new("kill")
        .args(["-TERM", &serve.id().to_string()])
        .status();
    let _ = serve.wait();
    let answered = resolver
        .history()
        .iter()
        .find(|c| c.value.trim_end_matches('.') == w.standby_value)
        .map(|c| c.at)
        .ok_or("the resolver never answered the standby")?;
    let reports = dir.join("reports");
    let report = std::fs::read_dir(&reports)
        .map_err(|x| e(&x))?
        .filter_map(Result::ok)
        .map(|d| d.path().join("report.json"))
        .find(|p| p.exists())
        .ok_or("no report")?;
    let rep: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report).map_err(|x| e(&x))?).map_err(|x| e(&x))?;
    let steps = rep["steps"].as_array().ok_or("no steps")?;
    let at = |v: &serde_json::Value| {
        v.as_str()
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.with_timezone(&chrono::Utc))
    };
    let step = |name: &str| steps.iter().find(|s| s["name"] == name).cloned();
    let flip = step("flip-dns").ok_or("no flip step")?;
    let scale = step("scale-standby").ok_or("no scale step")?;
    let flip_start = at(&flip["started_at"]).ok_or("flip not started")?;
    let answered_wall = failed_wall
        + chrono::Duration::from_std(answered.duration_since(failed_at)).unwrap_or_default();
    let dns = (answered_wall - flip_start).to_std().unwrap_or_default();
    let scale_start = at(&scale["started_at"]).ok_or("scale not started")?;
    let fallback_at = at(&scale["details"]["groups"][0]["fallbacks"][0]["at"])
        .ok_or("the scale step did not fall back")?;
    let to_fallback = (fallback_at - scale_start).to_std().unwrap_or_default();
    let sum = |k: &str| -> u64 {
        steps
            .iter()
            .filter_map(|s| s["details"]["aws"][k].as_u64())
            .sum()
    };
    // Traffic is back when the resolver answers the standby and the standby serves: the fleet
    // was verified before the flip, so the resolver's answer is the later instant.
    Ok(Run {
        throttled,
        n: 0,
        truth: answered.duration_since(failed_at),
        reported_ms: rep["rto"]["measured_ms"].as_u64().unwrap_or(0),
        dns,
        to_fallback,
        requests: sum("requests"),
        retries: sum("retries"),
        throttles: sum("throttled"),
    })
}

fn render(runs: &[Run]) -> String {
    let s = |d: Duration| format!("{:.2} s", d.as_secs_f64());
    let mut o = String::new();
    o.push_str("# Failover RTO against its physical floor\n\n");
    o.push_str(&format!(
        "`make bench` (benches/failover.rs). The realistic setup of `make demo REALISTIC=1`: GPU instances boot in {} (minutes in AWS, scaled down), the standby group's zone has no capacity left so a spare group in another zone is asked, the fleet warms up for {} once InService, DNS moves by a gate object and Route 53 health checks (the resolver model, 10 s checks run ten times faster), the primary refuses connections. Detection is configured at {} × {} = {} and is not part of the floor.\n\n",
        s(BOOT),
        s(WARMUP),
        THRESHOLD,
        s(INTERVAL),
        s(INTERVAL * THRESHOLD)
    ));
    o.push_str("RTO (truth) = the primary failing → the resolver answering the standby (verified serving before the flip). Floor = boot + warm-up + DNS propagation (gate written → resolver answer, measured). Overhead = RTO − floor; of it, detection is configured and the rest is standby's work (planning, sync, polling, the verify's three probes, the flip).\n\n");
    o.push_str("| AWS calls throttled | run | RTO (truth) | report's RTO | floor | overhead | of it, not detection | capacity error → fallback | requests | retries | throttled |\n|---|---|---|---|---|---|---|---|---|---|---|\n");
    for r in runs {
        let over = r.truth.saturating_sub(r.floor());
        o.push_str(&format!(
            "| {:.0}% | {} | {} | {:.2} s | {} | {} | {} | {} ms | {} | {} | {} |\n",
            r.throttled * 100.0,
            r.n,
            s(r.truth),
            r.reported_ms as f64 / 1000.0,
            s(r.floor()),
            s(over),
            s(over.saturating_sub(INTERVAL * THRESHOLD)),
            r.to_fallback.as_millis(),
            r.requests,
            r.retries,
            r.throttles
        ));
    }
    for t in [0.0, 0.2] {
        let mut v: Vec<&Run> = runs.iter().filter(|r| r.throttled == t).collect();
        if v.is_empty() {
            continue;
        }
        v.sort_by_key(|r| r.truth);
        let m = v[v.len() / 2];
        o.push_str(&format!(
            "\nMedian at {:.0}% throttled: RTO {} against a floor of {} (overhead {}, {:.2}× the floor).",
            t * 100.0,
            s(m.truth),
            s(m.floor()),
            s(m.truth.saturating_sub(m.floor())),
            m.truth.as_secs_f64() / m.floor().as_secs_f64()
        ));
    }
    o.push('\n');
    o
}
