//! `make demo`: the main job on the embedded default, end to end on this machine.
//!
//! moto server stands in for AWS (seeded like the Terraform example would leave it), two small
//! HTTP servers stand in for the regions' inference endpoints (the standby answers 503 until its
//! GPU group has serving capacity, then warms up), and the real `standby serve` watches the
//! primary. The primary is then made to fail; standby fails over on its own; the primary comes
//! back and an operator fails back by hand. Then a standby drill proves the standby can take the
//! load again (DNS untouched) and its HTML report is rendered to a picture. The reports are
//! printed at the end.
//!
//! `make demo REALISTIC=1` (`demo --realistic`) runs the same story against AWS as it behaves in a
//! regional event (the fault proxy's reality model): GPU instances take 8 s to boot (minutes in
//! AWS, scaled down), the standby group's instance type has no capacity left in its zone so its
//! launches fail and a spare group in another zone is asked, a tenth of AWS calls are throttled,
//! and Route 53 changes stay PENDING for 20 s.
//!
//! `--dir DIR` puts the config, state and reports in DIR (default `target/demo`), which is
//! emptied first.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use standby_testbed::Lab;
use standby_testbed::endpoint::Behavior;
use standby_testbed::resolver::ResolverModel;
use standby_testbed::seed;

const WARMUP: Duration = Duration::from_secs(3);

fn banner(text: &str) {
    eprintln!("\n\x1b[1m==> {text}\x1b[0m");
}

fn standby_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    // target/debug/examples/demo -> target/debug/standby
    exe.parent()
        .and_then(Path::parent)
        .map(|d| d.join("standby"))
        .expect("target dir")
}

fn standby(args: &[&str], config: &Path) -> Command {
    standby_testbed::standby_command(&standby_bin(), args, config)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let realistic = std::env::args().any(|a| a == "--realistic");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    // `--dir DIR` (make demo DEMO_DIR=…): where config, state and reports go; emptied first.
    let args: Vec<String> = std::env::args().collect();
    let dir = args
        .iter()
        .position(|a| a == "--dir")
        .and_then(|i| args.get(i + 1))
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/demo"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;

    banner("starting the AWS emulator (moto server) and seeding both regions");
    let lab = Lab::start(WARMUP).await?;
    let (moto, world, zone, primary, standby_ep) = (
        &lab.moto,
        &lab.world,
        &lab.zone_id,
        &lab.primary,
        &lab.standby,
    );
    eprintln!(
        "    moto at {}; zone {zone}; {} CNAME -> {}",
        moto.endpoint, world.record_name, world.primary_value
    );
    eprintln!(
        "    {} {} at {} GPU instances, {} {} warm at {}",
        world.primary_region,
        world.primary_asg,
        world.serving,
        world.standby_region,
        world.standby_asg,
        world.standby_warm
    );
    eprintln!(
        "    primary endpoint {} ; standby endpoint {} (503 until {} InService, then {}s warm-up)",
        primary.url(),
        standby_ep.url(),
        world.serving,
        WARMUP.as_secs()
    );

    banner(
        "Route 53: failover records gated by an object in the standby region (the dns module's shape)",
    );
    let gate_key = "standby-gate/chat";
    let recs = seed::failover_records(&moto.endpoint, zone, world, gate_key, 10, 1).await?;
    // moto keeps records and health checks but answers no query: the resolver model does, with
    // health checks ten times faster than Route 53's (a 10s interval observed every second).
    let resolver = ResolverModel::start(&moto.endpoint, zone, 10).await?;
    eprintln!(
        "    PRIMARY {} (health check {}: inverted HTTPS_STR_MATCH \"serve=standby\" on s3://{}/{}), SECONDARY {}; DNS answered by the resolver model at {}",
        world.primary_value,
        recs.health_check_id,
        recs.gate_bucket,
        recs.gate_key,
        world.standby_value,
        resolver.addr
    );
    // Every AWS call of standby goes through a fault proxy, so the demo can take Route 53's
    // control plane (us-east-1) down together with the primary region.
    let proxy = standby_testbed::faults::FaultProxy::start(&moto.endpoint, 1).await?;
    // Realistic: a spare group of another type, in another zone, kept at 0.
    let spare = format!("{}-g6e", world.standby_asg);
    let fallback = if realistic {
        seed::spare_group(
            &moto.endpoint,
            &world.standby_region,
            &spare,
            "g6e.xlarge",
            &format!("{}b", world.standby_region),
        )
        .await?;
        eprintln!(
            "    realistic: spare group {spare} (g6e.xlarge, {}b) at 0, the standby group's fallback",
            world.standby_region
        );
        format!(", fallback = [\"{spare}\"]")
    } else {
        String::new()
    };

    let config = dir.join("standby.toml");
    let metrics_port = standby_testbed::free_port();
    std::fs::write(
        &config,
        format!(
            r#"# Written by `make demo`. The same keys as /etc/standby/standby.toml in production.
[service]
name = "chat"
rto = "2m"
state_dir = "state"
reports_dir = "reports"

[aws]
endpoint_url = "{aws}"   # the fault proxy in front of moto
max_attempts = {attempts}

[primary]
region = "{pr}"
endpoint = "{pe}"
asgs = [{{ name = "{pa}", warm = 0, serving = {n} }}]
bucket = "{pb}"

[standby]
region = "{sr}"
endpoint = "{se}"
asgs = [{{ name = "{sa}", warm = {sw}, serving = {n}{fallback} }}]
bucket = "{sb}"

[dns]
zone_id = "{zone}"
name = "{rn}"
type = "CNAME"
ttl = 60
primary = "{pv}"
standby = "{sv}"
method = "failover_records"   # the flip is a gate write in the standby region: no Route 53 API
resolvers = ["{resolver}"]     # the flip ends when this DNS server answers the standby

[dns.gate]
bucket = "{sb}"
key = "{gate_key}"
health_check_id = "{hc}"

[health]
interval = "1s"
timeout = "800ms"
slow = "700ms"
failure_threshold = 2
recover_after = 3

[failover]
mode = "automatic"
cooldown = "30m"
runbook = "{root}/runbooks/failover.toml"

[failback]
runbook = "{root}/runbooks/failback.toml"

[control]
listen = "127.0.0.1:{mport}"   # /metrics, /healthz, /status

[probes]
schedule = "*/5 * * * *"   # a real chat completion to the standby every five minutes
max_latency = "2s"

[probes.artifact_version]   # the standby says which manifest it loaded; a mismatch is drift
prompts = {{ header = "x-artifact-version-prompts" }}
model-weights = {{ pointer = "/standby_artifacts/model-weights" }}

[[artifacts]]
name = "prompts"
prefix = "prompts/"
schedule = "*/5 * * * *"
rpo = "10m"
delete = true

[[artifacts]]
name = "model-weights"
prefix = "models/"
schedule = "0 */6 * * *"
rpo = "6h"
{prewarm}"#,
            aws = proxy.url(),
            // Realistic: the outage comes after a brownout, and standby pre-warms on it.
            prewarm = if realistic {
                "\n[prewarm]   # on a degrading primary, the standby to serving before any verdict\nenabled = true\nsustain = \"5s\"\nhold = \"2m\"\n"
            } else {
                ""
            },
            // Realistic: the SDK's retries at their production default, as throttling needs.
            attempts = if realistic { 3 } else { 1 },
            resolver = resolver.addr,
            hc = recs.health_check_id,
            mport = metrics_port,
            pr = world.primary_region,
            pe = primary.url(),
            pa = world.primary_asg,
            sr = world.standby_region,
            se = standby_ep.url(),
            sa = world.standby_asg,
            sw = world.standby_warm,
            n = world.serving,
            rn = world.record_name,
            pv = world.primary_value,
            sv = world.standby_value,
            root = root.display(),
            pb = world.primary_bucket,
            sb = world.standby_bucket,
        ),
    )?;
    banner(&format!("standby validate --config {}", config.display()));
    let ok = standby(&["validate"], &config).status()?;
    if !ok.success() {
        return Err("the demo config did not validate".into());
    }

    banner("artifacts on the primary: prompt templates and a model shard");
    let s3 = standby_aws::s3_client(&seed::sdk(&moto.endpoint, &world.primary_region).await);
    for (key, body) in [
        ("prompts/system.txt", "You are a helpful assistant."),
        ("prompts/summarize.txt", "Summarize: {{text}}"),
    ] {
        s3.put_object()
            .bucket(&world.primary_bucket)
            .key(key)
            .body(body.as_bytes().to_vec().into())
            .send()
            .await?;
    }
    seed::put_multipart(
        &s3,
        &world.primary_bucket,
        "models/llm-00001-of-00002.safetensors",
        2,
        5 << 20,
        1,
    )
    .await?;

    banner(
        "standby serve: probing the primary every second, syncing each artifact set on its schedule",
    );
    let mut serve = standby(&["serve"], &config).stdin(Stdio::null()).spawn()?;
    tokio::time::sleep(Duration::from_secs(4)).await;

    banner(
        "the standby fleet loads the published manifests; standby check sends it a chat completion",
    );
    let mut loaded = Err(String::new());
    for _ in 0..20 {
        loaded = standby_ep
            .load_versions(
                &moto.endpoint,
                &world.standby_region,
                &world.standby_bucket,
                &["prompts", "model-weights"],
            )
            .await;
        if loaded.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    loaded.map_err(|e| format!("the standby could not load the manifests: {e}"))?;
    standby(&["check"], &config).status()?;

    // Realistic: a tenth of AWS calls throttled, during the event and after it.
    let throttling =
        standby_testbed::faults::Rule::new(None, None, standby_testbed::faults::Fault::Throttle)
            .probability(0.1);
    if realistic {
        banner(
            "realistic: GPU instances boot in 8s, no g5.xlarge capacity left in the standby zone, 10% of AWS calls throttled, Route 53 changes PENDING for 20s",
        );
        // What runs now keeps running; only new launches meet the shortage.
        proxy
            .look_at(&world.standby_region, &[&world.standby_asg, &spare])
            .await;
        proxy
            .look_at(&world.primary_region, &[&world.primary_asg])
            .await;
        proxy.set_reality(standby_testbed::reality::Reality {
            boot: Duration::from_secs(8),
            change_pending: Duration::from_secs(20),
            short_zones: vec![format!("{}a", world.standby_region)],
            ..Default::default()
        });
        proxy.add(throttling.clone());
        // The standby fleet serves when the instances AWS reports InService do, spares included.
        standby_ep.gate_through(&proxy.url(), &[&world.standby_asg, &spare]);
    }
    if realistic {
        banner(
            "realistic: the primary browns out first: answers slow down to 550ms (the probe's cut-off is 700ms: still up), and standby pre-warms the standby (DNS untouched)",
        );
        primary.set(Behavior::Slow(Duration::from_millis(550)));
        let current = dir.join("state/prewarm/current.json");
        let began = Instant::now();
        loop {
            let e: serde_json::Value = std::fs::read(&current)
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or_default();
            if e["phase"] == "serving" {
                eprintln!(
                    "    pre-warm {} ready after {:.0}s of brownout: {}; its scale-up and warm-up took {}",
                    e["id"].as_str().unwrap_or("?"),
                    began.elapsed().as_secs_f64(),
                    e["reason"].as_str().unwrap_or("?"),
                    e["warm_up_ms"]
                        .as_u64()
                        .map(|m| standby_core::duration::human(Duration::from_millis(m)))
                        .unwrap_or_default()
                );
                break;
            }
            if began.elapsed() > Duration::from_secs(120) {
                let _ = serve.kill();
                return Err("no pre-warm within 120s of the brownout".into());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    banner(
        "the primary region goes dark (connections refused), and Route 53's API (us-east-1) with it: every Route 53 call answers 503",
    );
    proxy.add(standby_testbed::faults::Rule::new(
        Some("route53"),
        None,
        standby_testbed::faults::Fault::Status(503),
    ));
    primary.set(Behavior::Refuse);
    let state = dir.join("state/state.json");
    let wait_started = Instant::now();
    while !std::fs::read_to_string(&state)
        .unwrap_or_default()
        .contains("\"mode\": \"standby\"")
    {
        if wait_started.elapsed() > Duration::from_secs(120) {
            let _ = serve.kill();
            return Err("no failover within 120s".into());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    eprintln!(
        "    DNS now answers {} for {} (the resolver model); Route 53 calls refused during the outage: {}",
        resolver.answer(&world.record_name).unwrap_or_default(),
        world.record_name,
        proxy
            .calls()
            .iter()
            .filter(|c| c.service == "route53" && c.fault.is_some())
            .count()
    );

    banner("traffic is on the standby; the primary region recovers, Route 53's API too");
    proxy.clear();
    if realistic {
        // Route 53 answers again; the throttling, boot times and the zone's shortage stay.
        proxy.add(throttling.clone());
    }
    seed::set_capacity(
        &moto.endpoint,
        &world.primary_region,
        &world.primary_asg,
        0,
        world.serving,
    )
    .await?;
    primary.set(Behavior::Ok);
    tokio::time::sleep(Duration::from_secs(4)).await;

    banner("standby status");
    standby(&["status"], &config).status()?;

    banner("an operator fails back: standby failback --yes");
    let failback = standby(&["failback", "--yes"], &config).status()?;

    banner(
        "a standby drill: scale the standby up, verify and probe it, scale it back (DNS untouched)",
    );
    let drill = standby(&["drill", "standby", "--yes"], &config).status()?;
    banner("standby report list");
    standby(&["report", "list"], &config).status()?;

    banner(&format!(
        "GET http://127.0.0.1:{metrics_port}/metrics (a few of the lines)"
    ));
    if let Ok(r) = reqwest::get(format!("http://127.0.0.1:{metrics_port}/metrics")).await
        && let Ok(text) = r.text().await
    {
        for l in text.lines().filter(|l| {
            l.starts_with("standby_last_rto_seconds")
                || l.starts_with("standby_artifact_rpo_seconds")
                || l.starts_with("standby_standby_ready")
                || l.starts_with("standby_state{state=\"primary\"}")
                || l.starts_with("standby_probe_outcomes_total")
        }) {
            eprintln!("    {l}");
        }
    }

    banner("stopping standby serve (SIGTERM)");
    Command::new("kill")
        .args(["-TERM", &serve.id().to_string()])
        .status()?;
    let serve_status = serve.wait()?;

    banner("results");
    // The runs' reports (the pre-warms' own, under `prewarms/`, are not runs).
    let mut reports: Vec<PathBuf> = std::fs::read_dir(dir.join("reports"))?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| !p.ends_with(standby::prewarm_journal::REPORTS))
        .collect();
    reports.sort();
    for r in &reports {
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(r.join("report.json"))?)?;
        let ms = |v: &serde_json::Value| {
            v.as_u64()
                .map(|m| standby_core::duration::human(Duration::from_millis(m)))
                .unwrap_or_else(|| "-".into())
        };
        let b = &json["rto"]["breakdown"];
        eprintln!(
            "    {} {}: RTO {} ({}; effective {} with the 60s TTL; objective {}: {})\n      detect {} | decide {} | sync {} | scale {} | verify {} | dns {} | other {}\n      {}",
            json["kind"].as_str().unwrap_or("?"),
            json["result"].as_str().unwrap_or("?"),
            ms(&json["rto"]["measured_ms"]),
            json["rto"]["bound"].as_str().unwrap_or("?"),
            ms(&json["rto"]["effective_ms"]),
            ms(&json["rto"]["objective_ms"]),
            json["rto"]["objective"].as_str().unwrap_or("?"),
            ms(&b["detect_ms"]),
            ms(&b["decide_ms"]),
            ms(&b["sync_ms"]),
            ms(&b["scale_ms"]),
            ms(&b["verify_ms"]),
            ms(&b["dns_ms"]),
            ms(&b["other_ms"]),
            r.join("report.md").display(),
        );
        if let Some(p) = json["prewarm"].as_object() {
            eprintln!(
                "      pre-warm {}: RTO saved {} (its scale-up and warm-up {}, this failover's {})",
                p["episode"].as_str().unwrap_or("?"),
                ms(&p["rto_saved_ms"]),
                ms(&p["warm_up_ms"]),
                ms(&p["failover_scale_verify_ms"])
            );
        }
        if let Some(d) = json["drill"].as_object() {
            let parts = d["would_be"].as_array().cloned().unwrap_or_default();
            let estimated = parts.iter().filter(|c| c["basis"] == "estimate").count();
            eprintln!(
                "      drill: scale-up {}, warm-up {}; would-be RTO {}–{} from {} components ({} estimated)",
                ms(&d["scale_ms"]),
                ms(&d["warmup_ms"]),
                ms(&d["would_be_low_ms"]),
                ms(&d["would_be_high_ms"]),
                parts.len(),
                estimated
            );
        }
        for p in json["rpo"].as_array().into_iter().flatten() {
            let fig = |r: &serde_json::Value| {
                if r.is_null() {
                    "-".to_string()
                } else {
                    format!(
                        "{} ({})",
                        ms(&r["rpo_ms"]),
                        r["kind"].as_str().unwrap_or("?")
                    )
                }
            };
            eprintln!(
                "      RPO {}: at the failure {}, after the final sync {}, writes lost {} (objective {})",
                p["set"].as_str().unwrap_or("?"),
                fig(&p["at_failure"]),
                fig(&p["after_final_sync"]),
                p["lost_count"],
                ms(&p["objective_ms"])
            );
        }
    }
    if let Some(d) = reports
        .iter()
        .find(|r| r.to_string_lossy().contains("drill-standby"))
    {
        let png = dir.join("drill-report.png");
        let shot = standby_testbed::browser::screenshot(&d.join("report.html"), &png, 1100, 1300);
        match shot {
            Ok(s) if s.status.success() => eprintln!(
                "    drill report rendered by headless Chromium: {}",
                png.display()
            ),
            _ => eprintln!(
                "    (chromium not available: open {} in a browser)",
                d.join("report.html").display()
            ),
        }
    }
    eprintln!(
        "    demo took {:.0}s; config, state and reports are under {}",
        started.elapsed().as_secs_f64(),
        dir.display()
    );
    if !failback.success() || !drill.success() || !serve_status.success() || reports.len() != 3 {
        return Err(format!(
            "demo failed: failback {failback}, drill {drill}, serve {serve_status}, {} reports",
            reports.len()
        )
        .into());
    }
    Ok(())
}
