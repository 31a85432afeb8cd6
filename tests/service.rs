//! `standby serve` as a service: the local endpoint (metrics checked by promtool), control over
//! the unix socket and authenticated HTTP, manual-mode approval with escalation, hooks, webhooks,
//! automatic failback, config reload on SIGHUP, JSON logs, sd_notify, and the systemd unit.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use standby_testbed::endpoint::Behavior;

async fn http(addr: &str, method: &str, path: &str, token: Option<&str>) -> (u16, String) {
    let s = tokio::net::TcpStream::connect(addr)
        .await
        .expect("endpoint up");
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth
        .as_deref()
        .map(|a| vec![("Authorization", a)])
        .unwrap_or_default();
    standby::http::call(s, method, path, &headers)
        .await
        .unwrap()
}

async fn wait_http_ok(addr: &str) {
    for _ in 0..200 {
        if let Ok(s) = tokio::net::TcpStream::connect(addr).await
            && let Ok((200, _)) = standby::http::call(s, "GET", "/healthz", &[]).await
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the local endpoint never became healthy");
}

/// The persisted state; never written yet means the default (primary, not paused).
fn state(h: &Harness) -> serde_json::Value {
    let path = h.state_dir().join("state.json");
    if path.exists() {
        read_json(&path)
    } else {
        serde_json::json!({ "paused": false, "serving": { "mode": "primary" } })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_pass_promtool_and_control_needs_authentication() {
    let h = Harness::start("svc-metrics").await;
    seed_sets(&h).await;
    assert!(h.run(&["check"]).status.success());
    let port = standby_testbed::free_port();
    let addr = format!("127.0.0.1:{port}");
    edit_config(&h, |t| {
        t.replace(
            "listen = \"off\"",
            &format!("listen = \"{addr}\"\ntoken_env = \"STANDBY_TEST_CONTROL_TOKEN\""),
        )
        // The scheduled standby probe also reads both sides' groups for /metrics.
        .replace("[probes]\n", "[probes]\nschedule = \"* * * * * *\"\n")
            // Pre-warm on: its series join the page promtool checks.
            + "\n[prewarm]\nenabled = true\n"
    });
    let daemon = serve(&h, "serve.log");
    wait_http_ok(&addr).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let metrics = loop {
        let (status, metrics) = http(&addr, "GET", "/metrics", None).await;
        assert_eq!(status, 200);
        let read = metrics.contains("standby_asg_read_timestamp_seconds{")
            && metrics.contains("standby_readiness_last_evaluation_timestamp_seconds ");
        if read || std::time::Instant::now() > deadline {
            break metrics;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    for name in [
        "standby_state{state=\"primary\"} 1",
        "standby_primary_verdict{verdict=\"up\"} 1",
        "standby_probe_duration_seconds_bucket{side=\"primary\",kind=\"health\",le=\"+Inf\"}",
        "standby_probe_outcomes_total{side=\"primary\",class=\"ok\"}",
        "standby_artifact_rpo_seconds{set=\"prompts\"}",
        "# TYPE standby_sync_runs_total counter",
        "standby_standby_ready 1",
        "standby_cooldown_remaining_seconds 0",
        "standby_projected_rto_seconds 0",
        // Counters exist from 0, before the first run: `increase()` sees the first one.
        "standby_runs_total{kind=\"failover\",result=\"succeeded\"} 0",
        "standby_runs_in_progress{kind=\"drill-standby\"} 0",
        "standby_verdict_changes_total{verdict=\"down\"} 0",
        "standby_config_last_reload_success 1",
        "standby_build_info{version=",
        "process_resident_memory_bytes ",
        "process_open_fds ",
        "# TYPE process_cpu_seconds_total counter",
        // The groups as the scheduled standby probe read them: the standby warm at 1.
        "standby_asg_capacity{side=\"standby\",region=\"us-west-2\",group=\"gpu-usw2\",state=\"desired\"} 1",
        "standby_asg_capacity{side=\"standby\",region=\"us-west-2\",group=\"gpu-usw2\",state=\"max\"} ",
        "standby_asg_exists{side=\"primary\",region=\"us-east-1\",group=\"gpu-use1\"} 1",
        "standby_dns_target{side=\"primary\"} ",
        // The daemon's first readiness evaluation, after its start-up syncs: every check ×
        // severity exported.
        "standby_readiness_findings{check=\"capacity\",severity=\"ok\"} 1",
        "standby_readiness_findings{check=\"iam\",severity=\"error\"} 0",
        "standby_readiness_last_evaluation_timestamp_seconds ",
        "standby_prewarm_active 0",
        "standby_prewarms_total{end=\"failover\"} 0",
        "standby_prewarm_month_dollars 0.00",
    ] {
        assert!(metrics.contains(name), "missing {name}:\n{metrics}");
    }
    // Every metric the shipped alerts read is one standby exports (those that only appear
    // after a run or with a shared store are named in the README and declared here).
    let alerts = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("dist/prometheus/alerts.yml"),
    )
    .unwrap();
    let later = ["standby_last_run_timestamp_seconds", "standby_leader"];
    for word in alerts.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
        if word.starts_with("standby_") && word.len() > "standby_".len() && !later.contains(&word) {
            assert!(
                metrics.contains(&format!("# TYPE {word} ")),
                "alerts.yml reads {word}, which /metrics does not export:\n{metrics}"
            );
        }
    }
    if standby_testbed::checkers::available("promtool") {
        let mut promtool = Command::new("promtool")
            .args(["check", "metrics"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("promtool runs");
        use std::io::Write;
        promtool
            .stdin
            .take()
            .unwrap()
            .write_all(metrics.as_bytes())
            .unwrap();
        let out = promtool.wait_with_output().unwrap();
        assert!(
            out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
            "promtool check metrics: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let (status, body) = http(&addr, "GET", "/status", None).await;
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["state"]["serving"]["mode"], "primary");
    assert_eq!(v["standby_readiness"]["ready"], true);

    // Control over HTTP: refused without the token or with a wrong one, accepted with it.
    let (status, body) = http(&addr, "POST", "/control/pause", None).await;
    assert_eq!(status, 401, "{body}");
    let (status, _) = http(
        &addr,
        "POST",
        "/control/pause",
        Some("not-the-token-at-all"),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(
        state(&h)["paused"],
        false,
        "refused requests change nothing"
    );
    let (status, body) = http(&addr, "POST", "/control/pause", Some(TOKEN)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(state(&h)["paused"], true);

    // The unix socket: 0600, and the CLI's default path.
    let sock = h.state_dir().join("control.sock");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&sock).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let out = h.run(&["resume"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(text(&out).trim(), "resumed: actions allowed again");
    assert_eq!(state(&h)["paused"], false);
    let out = h
        .command(&["pause", "--url", &format!("http://{addr}")])
        .env("STANDBY_TEST_CONTROL_TOKEN", TOKEN)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let out = h
        .command(&["ack", "--url", &format!("http://{addr}")])
        .env("STANDBY_TEST_CONTROL_TOKEN", "wrong-token-wrong-token")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("refused (HTTP 401)"), "{}", text(&out));
    let (_, metrics) = http(&addr, "GET", "/metrics", None).await;
    assert!(metrics.contains("standby_paused 1"), "{metrics}");
    stop(daemon);
    assert!(!sock.exists(), "the socket is removed on shutdown");
    // Without a daemon, the CLI applies the change to the state and says so.
    let out = h.run(&["resume"]);
    assert!(
        text(&out).contains("no daemon answers on"),
        "{}",
        text(&out)
    );
    assert_eq!(state(&h)["paused"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_mode_waits_for_approval_escalates_and_never_approves_itself() {
    let h = Harness::start("svc-manual").await;
    let hooks = Receiver::start().await;
    edit_config(&h, |t| {
        t.replace(
            "mode = \"automatic\"",
            "mode = \"manual\"\napproval_timeout = \"1s\"",
        ) + &format!(
            "\n[[webhooks]]\nurl = \"{}\"\ntimeout = \"2s\"\n",
            hooks.url
        )
    });
    let daemon = serve(&h, "serve.log");
    tokio::time::sleep(Duration::from_millis(800)).await;
    h.lab.primary.set(Behavior::Status(503));

    let st = h.state_dir().join("state.json");
    wait_for(
        "a run waiting for approval",
        Duration::from_secs(20),
        || std::fs::read_to_string(&st).is_ok_and(|t| t.contains("\"awaiting_approval\": \"2")),
    )
    .await;
    let run = state(&h)["awaiting_approval"].as_str().unwrap().to_string();
    let out = h.run(&["status"]);
    assert!(
        text(&out).contains(&format!("failover {run} WAITS FOR APPROVAL")),
        "{}",
        text(&out)
    );
    // Escalations go out; nothing moves.
    let got = hooks.got.clone();
    wait_for("two escalations", Duration::from_secs(20), || {
        got.lock()
            .unwrap()
            .iter()
            .filter(|v| v["event"] == "approval_escalation")
            .count()
            >= 2
    })
    .await;
    assert_eq!(
        h.record().await,
        h.world.primary_value,
        "no flip without approval"
    );
    assert_eq!(
        h.capacity(&h.world.standby_region, &h.world.standby_asg)
            .await
            .0,
        1
    );
    let out = h.run(&["approve", "20990101T000000Z-failover-0000"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains(&format!("refused: run {run} waits for approval")),
        "{}",
        text(&out)
    );

    let out = h.run(&["approve", &run]);
    assert!(out.status.success(), "{}", text(&out));
    let started = std::time::Instant::now();
    while h.record().await != h.world.standby_value {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no failover after approval"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let rd = h.reports_dir().join(&run);
    wait_for("the final report", Duration::from_secs(20), || {
        std::fs::read_to_string(rd.join("report.json"))
            .is_ok_and(|t| t.contains("\"result\": \"succeeded\""))
    })
    .await;
    stop(daemon);
    let rep = read_json(&rd.join("report.json"));
    assert!(
        rep["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().contains("waited")
                && n.as_str().unwrap().contains("for approval")),
        "{}",
        rep["notes"]
    );
    // The approval wait is part of the RTO (decide), not hidden.
    assert!(
        rep["rto"]["breakdown"]["decide_ms"].as_u64().unwrap() >= 2000,
        "{}",
        rep["rto"]
    );
    let events = hooks.events();
    for e in [
        "verdict",
        "approval_needed",
        "approval_escalation",
        "run_started",
        "run_finished",
    ] {
        assert!(events.iter().any(|x| x == e), "no {e} webhook: {events:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_pre_hook_aborts_before_anything_changes_and_a_failing_post_hook_fails_the_run() {
    let h = Harness::start("svc-hooks").await;
    let rb = h.dir.0.join("runbooks/failover.toml");
    let original = std::fs::read_to_string(&rb).unwrap();
    std::fs::write(
        &rb,
        original.replacen(
            "[[steps]]",
            "[[pre]]\ncommand = [\"/bin/sh\", \"-c\", \"echo checking change freeze for $STANDBY_RUN_ID; echo freeze in effect >&2; exit 3\"]\n\n[[steps]]",
            1,
        ),
    )
    .unwrap();
    let out = h.run(&["failover", "--yes"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(h.record().await, h.world.primary_value);
    assert_eq!(
        h.capacity(&h.world.standby_region, &h.world.standby_asg)
            .await
            .0,
        1
    );
    let dir = reports(&h.reports_dir()).pop().unwrap();
    let rep = read_json(&dir.join("report.json"));
    assert_eq!(rep["result"], "failed");
    let pre = &rep["steps"][0];
    assert_eq!(pre["name"], "pre-hook-1");
    assert_eq!(pre["reason"], "/bin/sh exited 3: freeze in effect");
    assert!(
        pre["details"]["stdout"]
            .as_str()
            .unwrap()
            .contains("checking change freeze for 2")
    );
    assert_eq!(rep["steps"][1]["status"], "skipped");
    validate_report(&dir);

    std::fs::write(
        &rb,
        original.replacen(
            "[[steps]]",
            "[[post]]\ncommand = [\"/bin/false\"]\n\n[[steps]]",
            1,
        ),
    )
    .unwrap();
    let out = h.run(&["failover", "--yes"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a failed post hook fails the run: {}",
        text(&out)
    );
    assert_eq!(
        h.record().await,
        h.world.standby_value,
        "the failover itself happened"
    );
    let dir = reports(&h.reports_dir())
        .into_iter()
        .find(|d| {
            std::fs::read_to_string(d.join("report.json")).is_ok_and(|t| t.contains("post-hook-1"))
        })
        .unwrap();
    let rep = read_json(&dir.join("report.json"));
    assert_eq!(rep["result"], "failed");
    assert!(
        rep["reason"]
            .as_str()
            .unwrap()
            .contains("post-hook-1 failed"),
        "{}",
        rep["reason"]
    );
    let names: Vec<&str> = rep["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names[names.len() - 2..], ["post-hook-1", "report"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_never_moves_to_a_side_that_failed_verification_unless_forced() {
    let h = Harness::start("svc-force").await;
    h.lab.standby.set(Behavior::Status(503));
    let rb = h.dir.0.join("runbooks/failover.toml");
    let text_rb = std::fs::read_to_string(&rb)
        .unwrap()
        .replace("timeout = \"3m\"", "timeout = \"2s\"")
        .replace("timeout = \"2m\"", "timeout = \"2s\"");
    std::fs::write(&rb, text_rb).unwrap();
    let out = h.run(&["failover", "--yes"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        h.record().await,
        h.world.primary_value,
        "verify failed: DNS stays"
    );
    let out = h.run(&["failover", "--yes", "--flip-unverified"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(
        h.record().await,
        h.world.standby_value,
        "--flip-unverified flips anyway"
    );
    let dir = reports(&h.reports_dir()).pop().unwrap();
    let rep = read_json(&dir.join("report.json"));
    assert!(
        rep["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().contains("--flip-unverified")),
        "{}",
        rep["notes"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn automatic_failback_waits_until_the_primary_is_stable() {
    let h = Harness::start("svc-failback").await;
    edit_config(&h, |t| {
        t.replace(
            "[failback]\nrunbook = \"runbooks/failback.toml\"",
            "[failback]\nrunbook = \"runbooks/failback.toml\"\nmode = \"automatic\"\nstable_for = \"3s\"",
        )
    });
    let daemon = serve(&h, "serve.log");
    tokio::time::sleep(Duration::from_millis(800)).await;
    h.lab.primary.set(Behavior::Refuse);
    let started = std::time::Instant::now();
    while h.record().await != h.world.standby_value {
        assert!(started.elapsed() < Duration::from_secs(30), "no failover");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    h.lab.primary.set(Behavior::Ok);
    let back = std::time::Instant::now();
    while h.record().await != h.world.primary_value {
        assert!(
            back.elapsed() < Duration::from_secs(40),
            "no automatic failback"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        back.elapsed() >= Duration::from_secs(3),
        "failed back before stable_for"
    );
    stop(daemon);
    let log = std::fs::read_to_string(h.dir.0.join("serve.log")).unwrap();
    assert!(
        log.contains("failing back automatically: the primary has been healthy since"),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_a_valid_config_and_keeps_the_old_one_otherwise() {
    let h = Harness::start("svc-reload").await;
    let mut child: Daemon = h
        .command(&["serve", "--log-format", "json"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(h.dir.0.join("serve.log")).unwrap())
        .spawn()
        .unwrap()
        .into();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let good = std::fs::read_to_string(&h.config).unwrap();
    std::fs::write(
        &h.config,
        good.replace("interval = \"200ms\"", "interval = \"2x\""),
    )
    .unwrap();
    Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    std::fs::write(
        &h.config,
        good.replace("recover_after = 2", "recover_after = 3"),
    )
    .unwrap();
    Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(
        child.try_wait().unwrap().is_none(),
        "still running after a bad reload"
    );
    stop(child);
    let log = std::fs::read_to_string(h.dir.0.join("serve.log")).unwrap();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let msgs: Vec<&str> = lines.iter().filter_map(|v| v["message"].as_str()).collect();
    assert!(
        msgs.iter()
            .any(|m| m.contains("health.interval: \"2x\" is not a duration")),
        "{msgs:?}"
    );
    assert!(
        msgs.iter()
            .any(|m| m.starts_with("config reload rejected: 1 error(s)")),
        "{msgs:?}"
    );
    assert!(
        msgs.iter().any(|m| m.starts_with("config reloaded from")),
        "{msgs:?}"
    );
    assert!(
        lines
            .iter()
            .all(|v| v["level"].is_string() && v["timestamp"].is_string())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_notifies_systemd_ready_and_pings_the_watchdog() {
    let h = Harness::start("svc-notify").await;
    let sock_path = h.dir.0.join("notify.sock");
    let sock = std::os::unix::net::UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let child: Daemon = h
        .command(&["serve"])
        .env("NOTIFY_SOCKET", &sock_path)
        .env("WATCHDOG_USEC", "2000000")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
        .into();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !(got.iter().any(|m: &String| m.starts_with("READY=1"))
        && got.iter().any(|m| m == "WATCHDOG=1"))
    {
        let n = sock.recv(&mut buf).expect("a notification within 10s");
        got.push(String::from_utf8_lossy(&buf[..n]).to_string());
    }
    stop(child);
    let ready = got.iter().find(|m| m.starts_with("READY=1")).unwrap();
    assert!(ready.contains("STATUS=probing the primary"), "{ready}");
}

#[test]
fn the_systemd_unit_verifies_clean_and_is_hardened() {
    if !standby_testbed::checkers::available("systemd-analyze") {
        return;
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let unit = std::fs::read_to_string(root.join("dist/systemd/standby.service")).unwrap();
    let dir = TempDir::new("unit");
    // verify checks that ExecStart exists: point it at the binary under test.
    let path = dir.0.join("standby.service");
    std::fs::write(
        &path,
        unit.replace("/usr/local/bin/standby", env!("CARGO_BIN_EXE_standby")),
    )
    .unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .expect("systemd-analyze");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.trim().is_empty(), "systemd-analyze verify: {said}");
    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=true"])
        .arg(&path)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    let score: f64 = said
        .lines()
        .find_map(|l| {
            l.split("Overall exposure level for standby.service: ")
                .nth(1)
        })
        .and_then(|r| r.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no score in: {said}"));
    assert!(score <= 3.0, "exposure {score} > 3.0:\n{said}");
    for key in [
        "Type=notify",
        "WatchdogSec=",
        "StateDirectory=standby",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
        "ExecReload=/bin/kill -HUP $MAINPID",
    ] {
        assert!(unit.contains(key), "{key} missing");
    }
}
