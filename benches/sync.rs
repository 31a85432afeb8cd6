//! `make bench`: standby's artifact sync against `rclone sync` and `aws s3 sync`, on the same data
//! and the same moto server, in one run. Wall time per scenario (median of the runs) and peak RSS,
//! with ratios against the best peer; the table is printed and saved as benches/RESULTS.md.
//!
//! Scenarios: 2,000 small objects full copy; the no-op resync of them; one 200 MiB object; and
//! 100,000 objects listing-only (a dry run into an empty bucket: list both sides, plan, copy
//! nothing). Every tool copies server-side (CopyObject / UploadPartCopy) within one endpoint.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use standby_testbed::moto::Moto;
use standby_testbed::seed;

const SRC: &str = "bench-src";
/// The 100,000 listing objects live in their own bucket: moto's per-request cost grows with the
/// bucket's size, and the small-object scenarios should not pay for the listing scenario.
const LIST_SRC: &str = "bench-list-src";
const SMALL: usize = 2_000;
const LIST: usize = 100_000;
const BIG: u64 = 200 << 20;

#[derive(Clone, Copy, PartialEq)]
enum Tool {
    Standby,
    Rclone,
    AwsCli,
}

impl Tool {
    fn name(self) -> &'static str {
        match self {
            Tool::Standby => "standby",
            Tool::Rclone => "rclone sync",
            Tool::AwsCli => "aws s3 sync",
        }
    }
    fn tag(self) -> &'static str {
        match self {
            Tool::Standby => "sb",
            Tool::Rclone => "rc",
            Tool::AwsCli => "aw",
        }
    }
}

struct Bench {
    moto: String,
    dir: PathBuf,
    aws: PathBuf,
    rclone: Option<PathBuf>,
    s3_east: aws_sdk_s3::Client,
    s3_west: aws_sdk_s3::Client,
}

#[derive(Clone, Copy, Default)]
struct Sample {
    wall: Duration,
    rss_kib: u64,
}

fn median(mut v: Vec<Sample>) -> Sample {
    v.sort_by_key(|s| s.wall);
    let mut m = v[v.len() / 2];
    m.rss_kib = v.iter().map(|s| s.rss_kib).max().unwrap_or(0);
    m
}

impl Bench {
    /// Runs a command to completion, sampling its peak RSS (VmHWM) from /proc every 10 ms.
    fn time(&self, mut cmd: Command) -> Sample {
        let started = Instant::now();
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let status_path = format!("/proc/{}/status", child.id());
        let mut rss = 0;
        let stderr = child.stderr.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = std::io::Read::read_to_string(&mut std::io::BufReader::new(stderr), &mut s);
            s
        });
        loop {
            if let Ok(text) = std::fs::read_to_string(&status_path)
                && let Some(line) = text.lines().find(|l| l.starts_with("VmHWM:"))
            {
                rss = rss.max(
                    line.split_whitespace()
                        .nth(1)
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0),
                );
            }
            if let Some(status) = child.try_wait().unwrap() {
                let wall = started.elapsed();
                let err = reader.join().unwrap_or_default();
                if !status.success() {
                    panic!("{cmd:?} failed: {status}\n{}", &err[..err.len().min(2000)]);
                }
                return Sample { wall, rss_kib: rss };
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn standby_config(&self, src: &str, prefix: &str, dst: &str) -> PathBuf {
        let path = self
            .dir
            .join(format!("{dst}-{}.toml", prefix.trim_end_matches('/')));
        let text = format!(
            r#"[service]
name = "bench"
rto = "5m"
state_dir = "state-{dst}"
[aws]
endpoint_url = "{moto}"
max_attempts = 3
[primary]
region = "us-east-1"
endpoint = "http://127.0.0.1:9/health"
asgs = [{{ name = "a", warm = 0, serving = 1 }}]
bucket = "{src}"
[standby]
region = "us-west-2"
endpoint = "http://127.0.0.1:9/health"
asgs = [{{ name = "b", warm = 0, serving = 1 }}]
bucket = "{dst}"
[dns]
zone_id = "Z1"
name = "api.example.com."
primary = "a.example.com"
standby = "b.example.com"
[sync]
concurrency = 16
[[artifacts]]
name = "set"
prefix = "{prefix}"
schedule = "0 * * * *"
rpo = "1h"
"#,
            moto = self.moto
        );
        std::fs::write(&path, text).unwrap();
        path
    }

    fn command(&self, tool: Tool, prefix: &str, dst: &str, dry: bool) -> Command {
        let src = if prefix == "list/" { LIST_SRC } else { SRC };
        match tool {
            Tool::Standby => {
                let mut c = Command::new(env!("CARGO_BIN_EXE_standby"));
                c.args(["sync", "set", "--config"])
                    .arg(self.standby_config(src, prefix, dst));
                if dry {
                    c.arg("--dry-run");
                }
                c.env("AWS_ACCESS_KEY_ID", "bench")
                    .env("AWS_SECRET_ACCESS_KEY", "bench")
                    .env("STANDBY_LOG", "warn");
                c
            }
            Tool::Rclone => {
                let mut c = Command::new(self.rclone.as_ref().expect("rclone"));
                c.args([
                    "sync",
                    "--checksum",
                    "--fast-list",
                    "--transfers",
                    "16",
                    "--checkers",
                    "16",
                    "-q",
                ]);
                if dry {
                    c.arg("--dry-run");
                }
                c.arg(format!("moto:{src}/{prefix}"))
                    .arg(format!("moto:{dst}/{prefix}"));
                // rclone 1.60 fails with AWS_CA_BUNDLE set, even for plain-HTTP endpoints.
                c.env_remove("AWS_CA_BUNDLE")
                    .env("RCLONE_CONFIG_MOTO_TYPE", "s3")
                    .env("RCLONE_CONFIG_MOTO_PROVIDER", "Other")
                    .env("RCLONE_CONFIG_MOTO_ENDPOINT", &self.moto)
                    .env("RCLONE_CONFIG_MOTO_ACCESS_KEY_ID", "bench")
                    .env("RCLONE_CONFIG_MOTO_SECRET_ACCESS_KEY", "bench")
                    .env("RCLONE_CONFIG_MOTO_REGION", "us-east-1")
                    .env("RCLONE_CONFIG_MOTO_FORCE_PATH_STYLE", "true");
                c
            }
            Tool::AwsCli => {
                let mut c = Command::new(&self.aws);
                c.args([
                    "s3",
                    "sync",
                    &format!("s3://{src}/{prefix}"),
                    &format!("s3://{dst}/{prefix}"),
                    "--endpoint-url",
                    &self.moto,
                    "--only-show-errors",
                ]);
                if dry {
                    c.arg("--dryrun");
                }
                let cfg = self.dir.join("aws-config");
                std::fs::write(&cfg, "[default]\nregion = us-east-1\ns3 =\n  max_concurrent_requests = 32\n  max_queue_size = 10000\n").unwrap();
                c.env("AWS_CONFIG_FILE", cfg)
                    .env("AWS_ACCESS_KEY_ID", "bench")
                    .env("AWS_SECRET_ACCESS_KEY", "bench")
                    .env_remove("AWS_CA_BUNDLE")
                    .env_remove("AWS_PROFILE");
                c
            }
        }
    }

    async fn bucket(&self, name: &str) {
        seed::create_bucket(&self.moto, "us-west-2", name)
            .await
            .expect("create bucket");
    }
}

async fn put_many(
    client: &aws_sdk_s3::Client,
    bucket: &'static str,
    prefix: &str,
    n: usize,
    size: usize,
) {
    let body = vec![b'x'; size];
    let mut set = tokio::task::JoinSet::new();
    let sem = std::sync::Arc::new(tokio::sync::Semaphore::new(64));
    for i in 0..n {
        let (client, body, sem) = (client.clone(), body.clone(), sem.clone());
        let key = format!("{prefix}{i:06}.bin");
        set.spawn(async move {
            let _p = sem.acquire_owned().await.unwrap();
            client
                .put_object()
                .bucket(bucket)
                .key(key)
                .body(aws_sdk_s3::primitives::ByteStream::from(body))
                .send()
                .await
                .expect("put");
        });
    }
    while set.join_next().await.is_some() {}
}

#[tokio::main]
async fn main() {
    // `cargo bench` passes --bench; a `cargo test --all-targets` run must not seed 100k objects.
    if !std::env::args().any(|a| a == "--bench") {
        eprintln!("benches/sync.rs: run it with `make bench` (cargo bench --bench sync)");
        return;
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = root.join("target/bench");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let moto = Moto::start().await.expect("moto (make venv)");
    let east = standby_aws::s3_client(&seed::sdk(&moto.endpoint, "us-east-1").await);
    let west = standby_aws::s3_client(&seed::sdk(&moto.endpoint, "us-west-2").await);
    let rclone = which("rclone");
    let b = Bench {
        moto: moto.endpoint.clone(),
        dir: dir.clone(),
        aws: root.join(".venv/bin/aws"),
        rclone,
        s3_east: east,
        s3_west: west,
    };
    seed::create_bucket(&b.moto, "us-east-1", SRC)
        .await
        .unwrap();
    seed::create_bucket(&b.moto, "us-east-1", LIST_SRC)
        .await
        .unwrap();
    let _ = &b.s3_west;

    eprintln!("seeding: {SMALL} small objects, one 200 MiB object, {LIST} objects for listing…");
    let t = Instant::now();
    put_many(&b.s3_east, SRC, "small/", SMALL, 4096).await;
    big_object(&b.s3_east).await;
    put_many(&b.s3_east, LIST_SRC, "list/", LIST, 16).await;
    eprintln!("seeded in {:.0}s", t.elapsed().as_secs_f64());

    let tools: Vec<Tool> = [Tool::Standby, Tool::Rclone, Tool::AwsCli]
        .into_iter()
        .filter(|t| *t != Tool::Rclone || b.rclone.is_some())
        .collect();
    let mut rows: Vec<(&str, Vec<(Tool, Sample)>)> = Vec::new();
    let (mut full, mut noop, mut big, mut list) = (vec![], vec![], vec![], vec![]);
    for &tool in &tools {
        let (mut f, mut n, mut g, mut l) = (vec![], vec![], vec![], vec![]);
        for r in 0..runs {
            let dst = format!("{}-small-{r}", tool.tag());
            b.bucket(&dst).await;
            f.push(b.time(b.command(tool, "small/", &dst, false)));
            n.push(b.time(b.command(tool, "small/", &dst, false)));
            let dst = format!("{}-big-{r}", tool.tag());
            b.bucket(&dst).await;
            g.push(b.time(b.command(tool, "big/", &dst, false)));
            if r < runs.min(2) {
                let dst = format!("{}-list-{r}", tool.tag());
                b.bucket(&dst).await;
                l.push(b.time(b.command(tool, "list/", &dst, true)));
            }
            eprintln!(
                "{} run {}: full {:.2}s, no-op {:.2}s, 200 MiB {:.2}s",
                tool.name(),
                r + 1,
                f[r].wall.as_secs_f64(),
                n[r].wall.as_secs_f64(),
                g[r].wall.as_secs_f64()
            );
        }
        let copied = b
            .s3_west
            .list_objects_v2()
            .bucket(format!("{}-small-0", tool.tag()))
            .prefix("small/")
            .send()
            .await
            .map(|o| o.key_count().unwrap_or(0))
            .unwrap_or(0);
        assert!(copied > 0, "{} copied nothing", tool.name());
        full.push((tool, median(f)));
        noop.push((tool, median(n)));
        big.push((tool, median(g)));
        list.push((tool, median(l)));
    }
    rows.push(("2,000 small objects, full copy", full));
    rows.push(("2,000 small objects, no-op resync", noop));
    rows.push(("one 200 MiB object", big));
    rows.push(("100,000 objects, listing only (dry run)", list));
    let targets = ["≤ 0.7×", "≤ 0.5×", "≤ 1×", "≤ 100 MB RSS"];
    let md = render(&rows, &targets, runs, &b);
    println!("{md}");
    std::fs::write(root.join("benches/RESULTS.md"), md).unwrap();
    eprintln!("saved benches/RESULTS.md");
}

async fn big_object(client: &aws_sdk_s3::Client) {
    // 8 parts of 25 MiB, as a training pipeline would upload a weights file.
    seed::put_multipart(
        client,
        SRC,
        "big/model.safetensors",
        (BIG / (25 << 20)) as usize,
        25 << 20,
        0,
    )
    .await
    .expect("upload the 200 MiB object");
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(name))
            .find(|f| f.is_file())
    })
}

fn version(cmd: &Path, arg: &str, env_remove: &[&str]) -> String {
    let mut c = Command::new(cmd);
    c.arg(arg);
    for e in env_remove {
        c.env_remove(e);
    }
    c.output()
        .map(|o| {
            format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            )
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .to_string()
        })
        .unwrap_or_default()
}

fn render(
    rows: &[(&str, Vec<(Tool, Sample)>)],
    targets: &[&str],
    runs: usize,
    b: &Bench,
) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines().next().map(|l| {
                l.split_whitespace()
                    .nth(1)
                    .unwrap_or("0")
                    .parse::<u64>()
                    .unwrap_or(0)
                    / 1024
                    / 1024
            })
        })
        .unwrap_or(0);
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_default();
    let _ = writeln!(o, "# Artifact sync benchmark\n");
    let _ = writeln!(
        o,
        "Measured {} on {} cores ({cpu}), {mem} GiB, by `make bench` (benches/sync.rs).",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0)
    );
    let _ = writeln!(
        o,
        "All three tools run against the same moto server (moto[server]==5.1.18) on loopback, copying server-side between two buckets. Wall time is the median of {runs} runs (listing: of {}); RSS is the peak (VmHWM) over the runs.\n",
        runs.min(2)
    );
    let _ = writeln!(
        o,
        "Each tool runs at the concurrency that was fastest for it against this moto (tried 8, 16, 32; moto is one Python process, so more requests in flight mostly add lock contention).\n"
    );
    let _ = writeln!(
        o,
        "- standby: release build, `standby sync set` (`--dry-run` for listing), `[sync] concurrency = 16`"
    );
    let _ = writeln!(
        o,
        "- {}: `rclone sync --checksum --fast-list --transfers 16 --checkers 16` (`--dry-run` for listing)",
        b.rclone
            .as_ref()
            .map(|r| version(r, "--version", &["AWS_CA_BUNDLE"]))
            .unwrap_or_else(|| "rclone: not installed".into())
    );
    let _ = writeln!(
        o,
        "- {}: `aws s3 sync --only-show-errors`, max_concurrent_requests 32 (`--dryrun` for listing)\n",
        version(&b.aws, "--version", &["AWS_CA_BUNDLE"])
    );
    let _ = writeln!(
        o,
        "| scenario | standby | rclone | aws cli | standby / best peer | target | standby RSS | rclone RSS | aws cli RSS |"
    );
    let _ = writeln!(o, "|---|---|---|---|---|---|---|---|---|");
    for ((name, samples), target) in rows.iter().zip(targets) {
        let get = |t: Tool| samples.iter().find(|(x, _)| *x == t).map(|(_, s)| *s);
        let cell = |s: Option<Sample>| {
            s.map(|s| format!("{:.2} s", s.wall.as_secs_f64()))
                .unwrap_or_else(|| "—".into())
        };
        let rss = |s: Option<Sample>| {
            s.map(|s| format!("{:.0} MB", s.rss_kib as f64 / 1024.0))
                .unwrap_or_else(|| "—".into())
        };
        let sb = get(Tool::Standby);
        let best = [get(Tool::Rclone), get(Tool::AwsCli)]
            .into_iter()
            .flatten()
            .map(|s| s.wall)
            .min();
        let ratio = match (sb, best) {
            (Some(s), Some(b)) => format!("{:.2}×", s.wall.as_secs_f64() / b.as_secs_f64()),
            _ => "—".into(),
        };
        let _ = writeln!(
            o,
            "| {name} | {} | {} | {} | {ratio} | {target} | {} | {} | {} |",
            cell(sb),
            cell(get(Tool::Rclone)),
            cell(get(Tool::AwsCli)),
            rss(sb),
            rss(get(Tool::Rclone)),
            rss(get(Tool::AwsCli))
        );
    }
    o
}
