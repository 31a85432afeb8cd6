//! Shared harness for the integration tests: moto on a free port, seeded through the SDK, two
//! regional endpoints, a config in a temporary directory, and the real `standby` binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use standby_testbed::Lab;
use standby_testbed::seed::{self, World};

pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let p = std::env::temp_dir().join(format!("standby-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::env::var_os("STANDBY_KEEP_TEST_DIRS").is_none() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

pub struct Harness {
    pub lab: Lab,
    pub moto_endpoint: String,
    pub zone_id: String,
    pub world: World,
    pub dir: TempDir,
    pub config: PathBuf,
}

/// The bearer token `serve` gets for HTTP control (`[control] token_env`).
pub const TOKEN: &str = "test-control-token-7c1d2e9f";

pub const WARMUP: Duration = Duration::from_millis(800);

/// The API key the synthetic probes send (from the environment, as in production); it must
/// never appear in anything standby writes or prints.
pub const PROBE_KEY: &str = "sk-test-4f1c9a7e2b";

impl std::ops::Deref for Harness {
    type Target = Lab;
    fn deref(&self) -> &Lab {
        &self.lab
    }
}

impl Harness {
    pub async fn start(tag: &str) -> Harness {
        let lab = Lab::start(WARMUP)
            .await
            .expect("the local world starts (run `make venv` first)");
        let dir = TempDir::new(tag);
        let config = write_config(
            &dir.0,
            &lab.moto.endpoint,
            &lab.zone_id,
            &lab.primary.url(),
            &lab.standby.url(),
        );
        Harness {
            moto_endpoint: lab.moto.endpoint.clone(),
            zone_id: lab.zone_id.clone(),
            world: lab.world.clone(),
            lab,
            dir,
            config,
        }
    }

    pub async fn wait_primary_ok(&self) {
        self.lab
            .wait_primary_ok()
            .await
            .expect("primary endpoint healthy");
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir.0.join("state")
    }

    pub fn reports_dir(&self) -> PathBuf {
        self.dir.0.join("reports")
    }

    pub fn command(&self, args: &[&str]) -> Command {
        standby_command(args, &self.config)
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args)
            .stdin(Stdio::null())
            .output()
            .expect("run standby")
    }

    pub async fn record(&self) -> String {
        record_value(&self.moto_endpoint, &self.zone_id, &self.world.record_name).await
    }

    pub async fn capacity(&self, region: &str, asg: &str) -> (u32, u32) {
        asg_capacity(&self.moto_endpoint, region, asg).await
    }

    /// Puts the world back as seeded: primary serving and in DNS, standby warm.
    pub async fn reset_world(&self) {
        let w = &self.world;
        seed::set_capacity(
            &self.moto_endpoint,
            &w.primary_region,
            &w.primary_asg,
            w.serving,
            w.serving,
        )
        .await
        .unwrap();
        seed::set_capacity(
            &self.moto_endpoint,
            &w.standby_region,
            &w.standby_asg,
            w.standby_warm,
            1,
        )
        .await
        .unwrap();
        seed::set_record(
            &self.moto_endpoint,
            &self.zone_id,
            &w.record_name,
            &w.primary_value,
        )
        .await
        .unwrap();
    }
}

pub fn standby_command(args: &[&str], config: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_standby"));
    c.args(args).arg("--config").arg(config);
    test_env(&mut c);
    c
}

/// The environment every `standby` the tests start gets: emulator credentials, the probe key.
pub fn test_env(c: &mut Command) -> &mut Command {
    c.env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("STANDBY_TEST_PROBE_KEY", PROBE_KEY)
        .env_remove("AWS_PROFILE")
        .env_remove("FAILPOINTS")
}

/// Test runbooks: the shipped defaults with probe intervals shortened so a run takes seconds.
pub fn write_runbooks(dir: &Path) {
    let rb = dir.join("runbooks");
    std::fs::create_dir_all(&rb).unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("runbooks");
    for name in ["failover.toml", "failback.toml", "drill-standby.toml"] {
        let text = std::fs::read_to_string(root.join(name))
            .unwrap()
            .replace("interval = \"1s\"", "interval = \"100ms\"");
        std::fs::write(rb.join(name), text).unwrap();
    }
}

pub fn config_text(aws: &str, zone: &str, primary: &str, standby: &str) -> String {
    format!(
        r#"[service]
name = "chat"
rto = "1m"
state_dir = "state"
reports_dir = "reports"

[aws]
endpoint_url = "{aws}"
max_attempts = 1

[primary]
region = "us-east-1"
endpoint = "{primary}"
asgs = [{{ name = "gpu-use1", warm = 0, serving = 4 }}]
bucket = "artifacts-use1"

[standby]
region = "us-west-2"
endpoint = "{standby}"
asgs = [{{ name = "gpu-usw2", warm = 1, serving = 4 }}]
bucket = "artifacts-usw2"

[dns]
zone_id = "{zone}"
name = "api.example.com."
type = "CNAME"
ttl = 5
primary = "use1.example.com"
standby = "usw2.example.com"

[health]
interval = "200ms"
timeout = "500ms"
failure_threshold = 2
slow = "400ms"
recover_after = 2

[failover]
mode = "automatic"
cooldown = "30m"
runbook = "runbooks/failover.toml"
drill_runbook = "runbooks/drill-standby.toml"

[failback]
runbook = "runbooks/failback.toml"

[sync]
multipart_threshold_mib = 8
part_size_mib = 6

[control]
# Tests run several daemons at once: no fixed port (tests/service.rs sets one where it needs it).
listen = "off"

[probes]
timeout = "3s"
max_latency = "2s"
headers = {{ Authorization = "Bearer ${{STANDBY_TEST_PROBE_KEY}}" }}

[probes.artifact_version]
prompts = {{ header = "x-artifact-version-prompts" }}
weights = {{ pointer = "/standby_artifacts/weights" }}

[[artifacts]]
name = "prompts"
prefix = "prompts/"
schedule = "*/5 * * * *"
rpo = "10m"
delete = true

[[artifacts]]
name = "weights"
prefix = "models/"
schedule = "0 */6 * * *"
rpo = "6h"
"#
    )
}

pub fn write_config(dir: &Path, aws: &str, zone: &str, primary: &str, standby: &str) -> PathBuf {
    write_runbooks(dir);
    let path = dir.join("standby.toml");
    std::fs::write(&path, config_text(aws, zone, primary, standby)).unwrap();
    path
}

pub async fn record_value(endpoint: &str, zone: &str, name: &str) -> String {
    let conf = seed::sdk(endpoint, "us-east-1").await;
    let out = aws_sdk_route53::Client::new(&conf)
        .list_resource_record_sets()
        .hosted_zone_id(zone)
        .send()
        .await
        .expect("ListResourceRecordSets");
    out.resource_record_sets()
        .iter()
        .find(|r| r.name() == name && r.r#type().as_str() == "CNAME")
        .and_then(|r| r.resource_records().first())
        .map(|v| v.value().to_string())
        .expect("the record exists")
}

/// (desired, InService) of a group.
pub async fn asg_capacity(endpoint: &str, region: &str, asg: &str) -> (u32, u32) {
    let conf = seed::sdk(endpoint, region).await;
    let client = aws_sdk_autoscaling::Client::new(&conf);
    let got = standby_aws::asg::describe(&client, &[asg.to_string()])
        .await
        .unwrap();
    let c = got[0].1.expect("group exists");
    (c.desired, c.in_service)
}

pub fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(
        &std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap()
}

/// The runs' report directories under `reports`, oldest first (the pre-warms' reports,
/// `prewarms/`, are not runs).
pub fn reports(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|r| {
            r.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| !p.ends_with(standby::prewarm_journal::REPORTS))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

pub async fn wait_for<F: FnMut() -> bool>(what: &str, timeout: Duration, mut f: F) {
    let started = Instant::now();
    while !f() {
        assert!(
            started.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub async fn s3(endpoint: &str, region: &str) -> aws_sdk_s3::Client {
    standby_aws::s3_client(&seed::sdk(endpoint, region).await)
}

pub async fn put(client: &aws_sdk_s3::Client, bucket: &str, key: &str, body: &[u8]) {
    client
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(aws_sdk_s3::primitives::ByteStream::from(body.to_vec()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("put {key}: {e:?}"));
}

pub async fn put_multipart(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    parts: usize,
    part_size: usize,
    fill: u8,
) {
    seed::put_multipart(client, bucket, key, parts, part_size, fill)
        .await
        .expect("multipart upload");
}

pub async fn delete(client: &aws_sdk_s3::Client, bucket: &str, key: &str) {
    client
        .delete_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap();
}

pub async fn listing(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
) -> Vec<standby_core::sync::Object> {
    standby_aws::s3::list(client, bucket, prefix).await.unwrap()
}

pub async fn manifest(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    set: &str,
) -> Option<serde_json::Value> {
    standby_aws::s3::get_bytes(client, bucket, &standby_core::sync::manifest::key(set))
        .await
        .unwrap()
        .map(|b| serde_json::from_slice(&b).unwrap())
}

/// The AWS CLI's own view of a prefix: key → (size, ETag).
pub fn aws_cli_listing(
    endpoint: &str,
    bucket: &str,
    prefix: &str,
) -> std::collections::BTreeMap<String, (u64, String)> {
    let aws = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/aws");
    let out = Command::new(aws)
        .args([
            "s3api",
            "list-objects-v2",
            "--bucket",
            bucket,
            "--prefix",
            prefix,
            "--endpoint-url",
            endpoint,
            "--region",
            "us-west-2",
            "--output",
            "json",
        ])
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env_remove("AWS_CA_BUNDLE")
        .env_remove("AWS_PROFILE")
        .output()
        .expect("run the AWS CLI (make venv installs it)");
    assert!(
        out.status.success(),
        "aws s3api: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = if out.stdout.is_empty() {
        serde_json::json!({})
    } else {
        serde_json::from_slice(&out.stdout).unwrap()
    };
    v["Contents"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|o| {
                    (
                        o["Key"].as_str().unwrap().to_string(),
                        (
                            o["Size"].as_u64().unwrap(),
                            o["ETag"].as_str().unwrap().trim_matches('"').to_string(),
                        ),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// Checks a run's report directory with independent tools: `report.json` against the shipped
/// JSON Schema (check-jsonschema), `report.html` clean under `tidy -e`, and rendered by headless
/// Chromium to a screenshot that is not blank. Returns the screenshot's path.
pub fn check_report_dir(dir: &Path) -> PathBuf {
    validate_report(dir);
    if standby_testbed::checkers::available("tidy") {
        let out = Command::new("tidy")
            .args(["-e", "-q"])
            .arg(dir.join("report.html"))
            .output()
            .expect("tidy runs");
        assert!(
            out.status.code() == Some(0),
            "tidy -e found problems in report.html:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    screenshot(dir)
}

/// The three report files exist and `report.json` matches the schema.
pub fn validate_report(dir: &Path) {
    for name in ["report.json", "report.md", "report.html"] {
        assert!(
            dir.join(name).exists(),
            "{} missing",
            dir.join(name).display()
        );
    }
    let out = Command::new(repo(".venv/bin/check-jsonschema"))
        .arg("--schemafile")
        .arg(repo("crates/core/src/report/schema.json"))
        .arg(dir.join("report.json"))
        .output()
        .expect("check-jsonschema (make venv installs it)");
    assert!(
        out.status.success(),
        "report.json does not match the schema:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Renders `report.html` in headless Chromium and checks that the picture is not blank
/// (skipped without Chromium: the path returned then does not exist).
pub fn screenshot(dir: &Path) -> PathBuf {
    let png = dir.join("screenshot.png");
    if !standby_testbed::checkers::available("chromium") {
        return png;
    }
    // A desktop and a phone: the page and its timeline scale to both, nothing blank or clipped.
    for (width, name) in [(1200, "screenshot.png"), (400, "screenshot-400.png")] {
        let shot = dir.join(name);
        let out =
            standby_testbed::browser::screenshot(&dir.join("report.html"), &shot, width, 1500)
                .expect("chromium runs");
        assert!(
            shot.exists(),
            "chromium wrote no screenshot:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stats = Command::new(repo(".venv/bin/python"))
            .arg(repo("tests/support/png_stats.py"))
            .arg(&shot)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&stats.stdout).to_string();
        let f: Vec<&str> = text.split_whitespace().collect();
        assert_eq!(
            f.len(),
            5,
            "png_stats: {text}{}",
            String::from_utf8_lossy(&stats.stderr)
        );
        let nonwhite: f64 = f[2].parse().unwrap();
        let colors: usize = f[3].parse().unwrap();
        let right: f64 = f[4].parse().unwrap();
        assert!(
            nonwhite > 0.02 && colors > 8,
            "{name} looks blank: {nonwhite} of pixels not white, {colors} colours"
        );
        assert!(
            right > 0.005,
            "{name}: nothing in the right quarter ({right}): the page does not use its width"
        );
    }
    png
}

/// One object in each artifact set on the primary, synced, and loaded by the standby's fleet.
pub async fn seed_sets(h: &Harness) {
    let s3p = s3(&h.moto_endpoint, &h.world.primary_region).await;
    put(&s3p, &h.world.primary_bucket, "prompts/a", b"a").await;
    put(&s3p, &h.world.primary_bucket, "models/b", b"b").await;
    sync_and_load(h).await;
}

/// Syncs both artifact sets and has the standby's fleet load what was published.
pub async fn sync_and_load(h: &Harness) {
    let out = h.run(&["sync"]);
    assert!(
        out.status.success(),
        "sync: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    h.lab
        .standby
        .load_versions(
            &h.moto_endpoint,
            &h.world.standby_region,
            &h.world.standby_bucket,
            &["prompts", "weights"],
        )
        .await
        .expect("the standby loads the published manifests");
}

pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A webhook receiver: records every JSON body posted to it.
pub struct Receiver {
    pub url: String,
    pub got: Arc<Mutex<Vec<serde_json::Value>>>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", l.local_addr().unwrap());
        let got = Arc::new(Mutex::new(Vec::new()));
        let g = got.clone();
        tokio::spawn(async move {
            while let Ok((s, _)) = l.accept().await {
                let g = g.clone();
                tokio::spawn(standby::http::serve(s, move |req| {
                    if let Ok(v) = serde_json::from_slice(&req.body) {
                        g.lock().unwrap().push(v);
                    }
                    async { (200, "text/plain", "ok".to_string()) }
                }));
            }
        });
        Receiver { url, got }
    }

    pub fn events(&self) -> Vec<String> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .map(|v| v["event"].as_str().unwrap_or("").to_string())
            .collect()
    }
}

pub fn edit_config(h: &Harness, f: impl FnOnce(String) -> String) {
    let text = std::fs::read_to_string(&h.config).unwrap();
    std::fs::write(&h.config, f(text)).unwrap();
}

pub fn serve(h: &Harness, log: &str) -> Daemon {
    serve_with(h, log, &[])
}

/// `serve` with more environment (a systemd notify socket, a test hold point).
pub fn serve_with(h: &Harness, log: &str, env: &[(&str, &str)]) -> Daemon {
    let file = std::fs::File::create(h.dir.0.join(log)).unwrap();
    Daemon::new(
        h.command(&["serve"])
            .env("STANDBY_TEST_CONTROL_TOKEN", TOKEN)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .unwrap(),
    )
}

/// `serve` with at most `nofile` open file descriptors (`ulimit -n`, then exec: same pid).
pub fn serve_with_nofile(h: &Harness, nofile: usize, log: &str) -> Daemon {
    let file = std::fs::File::create(h.dir.0.join(log)).unwrap();
    let mut c = Command::new("bash");
    c.arg("-c")
        .arg(format!("ulimit -n {nofile} && exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_standby"))
        .args(["serve", "--config"])
        .arg(&h.config);
    Daemon::new(
        test_env(&mut c)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .unwrap(),
    )
}

/// Points standby's AWS calls at the fault proxy; the tests keep talking to moto directly.
pub async fn behind_proxy(h: &Harness, seed: u64) -> standby_testbed::faults::FaultProxy {
    let proxy = standby_testbed::faults::FaultProxy::start(&h.moto_endpoint, seed)
        .await
        .unwrap();
    let url = proxy.url();
    let moto = h.moto_endpoint.clone();
    edit_config(h, |t| {
        t.replace(
            &format!("endpoint_url = \"{moto}\""),
            &format!("endpoint_url = \"{url}\""),
        )
    });
    proxy
}

/// Automatic failover is armed: the daemon has seen the primary healthy.
pub fn armed(h: &Harness) -> bool {
    let p = h.state_dir().join("state.json");
    p.exists() && !read_json(&p)["armed"].is_null()
}

/// Journaled runs (`runs/<id>.json`; lock files aside).
pub fn run_files(h: &Harness) -> usize {
    std::fs::read_dir(h.state_dir().join("runs"))
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
                .count()
        })
        .unwrap_or(0)
}

/// A `standby` process the test started, SIGKILLed and reaped when dropped: a failed assertion
/// must not leave it running (a `Child` is not killed on drop), writing into a deleted
/// directory and loading the machine for the tests after it.
pub struct Daemon(Option<Child>);

impl Daemon {
    pub fn new(child: Child) -> Daemon {
        Daemon(Some(child))
    }

    /// SIGKILL, and reap it.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.0.take() {
            c.kill().expect("SIGKILL");
            c.wait().unwrap();
        }
    }

    /// SIGTERM: a clean stop.
    pub fn stop(self) {
        stop(self)
    }
}

impl From<Child> for Daemon {
    fn from(c: Child) -> Daemon {
        Daemon::new(c)
    }
}

impl std::ops::Deref for Daemon {
    type Target = Child;
    fn deref(&self) -> &Child {
        self.0.as_ref().expect("the process was already stopped")
    }
}

impl std::ops::DerefMut for Daemon {
    fn deref_mut(&mut self) -> &mut Child {
        self.0.as_mut().expect("the process was already stopped")
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// SIGTERM (a clean stop: a lease is released, a run stops at a safe point), then reap it.
pub fn stop(daemon: impl Into<Daemon>) {
    let mut d = daemon.into();
    if let Some(mut child) = d.0.take() {
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let _ = child.wait();
    }
}

/// A run stopped at `boundary` (`started:<step>` or `after:<step>`) and resumed: every step
/// succeeded and ran once, but the one stopped at its start, which ran again (steps are
/// idempotent; a finished one is never repeated).
pub fn assert_each_step_succeeded_once(run: &serde_json::Value, boundary: &str) {
    let interrupted = boundary.strip_prefix("started:");
    for step in run["steps"].as_array().unwrap() {
        let name = step["name"].as_str().unwrap();
        let expected = if Some(name) == interrupted { 2 } else { 1 };
        assert_eq!(
            step["attempts"], expected,
            "{boundary}: step {name} ran {} times",
            step["attempts"]
        );
        assert_eq!(step["status"], "succeeded", "{boundary}: {name}");
    }
}

/// The state's serving mode (`primary`, `failing_over`, `standby`, ...); `(none)` before any.
pub fn serving(h: &Harness) -> String {
    let p = h.state_dir().join("state.json");
    std::fs::read(&p)
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| v["serving"]["mode"].as_str().map(str::to_string))
        .unwrap_or_else(|| "(none)".into())
}

/// A log file the test wrote in its directory.
pub fn log(h: &Harness, name: &str) -> String {
    std::fs::read_to_string(h.dir.0.join(name)).unwrap_or_default()
}

/// Adds `extra` keys to `[failover]` (retry policy, cooldown).
pub fn set_failover(h: &Harness, extra: &str) {
    edit_config(h, |t| {
        t.replace(
            "drill_runbook = \"runbooks/drill-standby.toml\"\n",
            &format!("drill_runbook = \"runbooks/drill-standby.toml\"\n{extra}"),
        )
    });
}

/// A failover gave up and escalated: the state's `gave_up` is set.
pub fn gave_up(h: &Harness) -> bool {
    std::fs::read(h.state_dir().join("state.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .is_some_and(|v| !v["gave_up"].is_null())
}

/// Waits until the state says traffic is on the standby (panics after `within`).
pub async fn on_standby_within(h: &Harness, within: Duration) {
    wait_for("the failover to finish", within, || serving(h) == "standby").await;
}

/// The newest report's report.md.
pub fn last_report_md(h: &Harness) -> String {
    let dir = reports(&h.reports_dir())
        .into_iter()
        .last()
        .expect("a report");
    std::fs::read_to_string(dir.join("report.md")).unwrap()
}

/// The newest report's report.json.
pub fn last_report(h: &Harness) -> serde_json::Value {
    let dir = reports(&h.reports_dir())
        .into_iter()
        .last()
        .expect("a report");
    read_json(&dir.join("report.json"))
}
