//! `make idle`: what `standby serve` costs while nothing happens. Starts the local world (moto,
//! two regional endpoints), runs the given `standby` binary as `serve` with a 1 s probe interval,
//! artifact sets on their schedules, synthetic probes and the local endpoint, and samples the
//! process's RSS and CPU time from /proc for `IDLE_SECS` (default 600) after a 30 s settle.
//!
//! Usage: cargo run --example idle -- target/release/standby

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use standby_testbed::Lab;

fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may contain spaces): utime is 14th, stime 15th.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let bin = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "target/release/standby".into()),
    );
    let secs: u64 = std::env::var("IDLE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(600);
    let ticks_per_sec: f64 = Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0);
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/idle");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let lab = Lab::start(Duration::from_secs(1)).await?;
    let w = &lab.world;
    let port = standby_testbed::free_port();
    let config = dir.join("standby.toml");
    std::fs::write(
        &config,
        format!(
            r#"[service]
name = "chat"
rto = "2m"
state_dir = "state"
[aws]
endpoint_url = "{aws}"
max_attempts = 1
[primary]
region = "{pr}"
endpoint = "{pe}"
asgs = [{{ name = "{pa}", warm = 0, serving = {n} }}]
bucket = "{pb}"
[standby]
region = "{sr}"
endpoint = "{se}"
asgs = [{{ name = "{sa}", warm = {sw}, serving = {n} }}]
bucket = "{sb}"
[dns]
zone_id = "{zone}"
name = "{rn}"
ttl = 60
primary = "{pv}"
standby = "{sv}"
[health]
interval = "1s"
timeout = "800ms"
slow = "700ms"
[control]
listen = "127.0.0.1:{port}"
[probes]
schedule = "*/5 * * * *"
[[artifacts]]
name = "prompts"
prefix = "prompts/"
schedule = "*/5 * * * *"
rpo = "10m"
[[artifacts]]
name = "model-weights"
prefix = "models/"
schedule = "0 */6 * * *"
rpo = "6h"
"#,
            aws = lab.moto.endpoint,
            pr = w.primary_region,
            pe = lab.primary.url(),
            pa = w.primary_asg,
            n = w.serving,
            pb = w.primary_bucket,
            sr = w.standby_region,
            se = lab.standby.url(),
            sa = w.standby_asg,
            sw = w.standby_warm,
            sb = w.standby_bucket,
            zone = lab.zone_id,
            rn = w.record_name,
            pv = w.primary_value,
            sv = w.standby_value,
        ),
    )?;
    let mut serve = standby_testbed::standby_command(&bin, &["serve"], &config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("serve.log"))?)
        .spawn()?;
    let pid = serve.id();
    eprintln!(
        "standby serve (pid {pid}, {}) settling for 30 s, then sampling for {secs} s",
        bin.display()
    );
    tokio::time::sleep(Duration::from_secs(30)).await;
    let start_ticks = cpu_ticks(pid).ok_or("serve exited")?;
    let started = Instant::now();
    let (mut max_rss, mut sum_rss, mut samples) = (0u64, 0u64, 0u64);
    while started.elapsed() < Duration::from_secs(secs) {
        tokio::time::sleep(Duration::from_secs(5)).await;
        let rss = rss_kib(pid).ok_or("serve exited")?;
        max_rss = max_rss.max(rss);
        sum_rss += rss;
        samples += 1;
    }
    let cpu_secs = (cpu_ticks(pid).ok_or("serve exited")? - start_ticks) as f64 / ticks_per_sec;
    let wall = started.elapsed().as_secs_f64();
    let metrics = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await?
        .text()
        .await?;
    let rounds = metrics
        .lines()
        .find(|l| l.starts_with("standby_probe_duration_seconds_count{side=\"primary\""))
        .unwrap_or("")
        .to_string();
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let _ = serve.wait();
    let line = format!(
        "idle {wall:.0} s at a 1 s probe interval: RSS max {:.1} MiB (mean {:.1} MiB); CPU {cpu_secs:.2} s = {:.2}% of one core; {rounds}",
        max_rss as f64 / 1024.0,
        sum_rss as f64 / samples.max(1) as f64 / 1024.0,
        cpu_secs / wall * 100.0
    );
    println!("{line}");
    let results = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/IDLE.md");
    std::fs::write(
        &results,
        format!(
            "# Idle cost of `standby serve`\n\nMeasured {} by `make idle` (examples/idle.rs): release build, {} cores, a 1 s probe interval against a healthy primary, two artifact sets on their schedules, synthetic probes every 5 minutes, the local endpoint on. RSS sampled from /proc every 5 s; CPU is utime + stime over the window, after a 30 s settle. Targets: RSS ≤ 25 MB, CPU ≤ 1% of one core.\n\n{line}\n",
            chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        ),
    )?;
    eprintln!("written to {}", results.display());
    Ok(())
}
