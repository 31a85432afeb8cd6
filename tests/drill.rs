//! Drills, synthetic probes and reports, end to end: the real binary against moto and the two
//! regional endpoints, with the reports checked by independent tools (check-jsonschema,
//! `tidy -e`, headless Chromium).

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::*;
use standby_testbed::endpoint::Behavior;

/// A run's report directory whose report is final (a `report` step writes an interim one).
fn final_report(dir: &std::path::Path, kind: &str) -> bool {
    dir.to_string_lossy().contains(kind)
        && std::fs::read_to_string(dir.join("report.json"))
            .is_ok_and(|t| !t.contains("\"result\": \"running\""))
}

fn report_dir(h: &Harness, kind: &str) -> std::path::PathBuf {
    reports(&h.reports_dir())
        .into_iter()
        .rev()
        .find(|p| p.to_string_lossy().contains(kind))
        .unwrap_or_else(|| panic!("no {kind} report in {}", h.reports_dir().display()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drill_standby_leaves_dns_untouched_and_capacity_back_at_warm() {
    let h = Harness::start("drill").await;
    let s3p = s3(&h.moto_endpoint, &h.world.primary_region).await;
    put(
        &s3p,
        &h.world.primary_bucket,
        "prompts/system.txt",
        b"be brief",
    )
    .await;
    put(&s3p, &h.world.primary_bucket, "models/w.bin", b"weights").await;
    sync_and_load(&h).await;

    let out = h.run(&["check"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("readiness: ready"), "{}", text(&out));
    let out = h.run(&["check", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["side"], "standby", "{v:#}");
    assert_eq!(v["result"]["ok"], true, "{v:#}");
    assert_eq!(v["readiness"]["ready"], true, "{v:#}");

    let out = h.run(&["drill", "standby", "--dry-run"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("dry run: nothing was changed"));
    assert!(
        !text(&out).contains("UPSERT"),
        "a standby drill plans no DNS change: {}",
        text(&out)
    );

    // A readiness evaluation prices the standby (g5.xlarge, the shipped $1.006/h): status shows
    // what the warm standby costs, and the drill's report what the drill cost.
    let _ = h.run(&["check", "--readiness"]);
    let out = h.run(&["status"]);
    assert!(
        text(&out).contains("cost:        warm standby $734/month ($734 instances, $"),
        "1 warm × $1.006 × 730 h:\n{}",
        text(&out)
    );
    // A fresh install never flipped DNS here: the would-be RTO leans on AWS's 60 s propagation
    // statement for that step, so it is a range, and a 1m objective inside it is not proven.
    let out = h.run(&["drill", "standby", "--yes"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(
        t.contains("drill-standby succeeded: would-be RTO between "),
        "{t}"
    );
    assert!(
        t.contains("estimates dominate: detect, final-sync, flip-dns"),
        "{t}"
    );
    assert!(t.contains("vs objective 1m: NOT PROVEN"), "{t}");
    assert_eq!(h.record().await, h.world.primary_value, "DNS untouched");
    assert_eq!(
        h.capacity(&h.world.standby_region, &h.world.standby_asg)
            .await,
        (h.world.standby_warm, h.world.standby_warm),
        "standby back at warm"
    );

    let dir = report_dir(&h, "drill-standby");
    let rep = read_json(&dir.join("report.json"));
    assert_eq!(rep["result"], "succeeded");
    assert_eq!(rep["rto"]["basis"], "drill_estimate");
    assert_eq!(rep["rto"]["objective"], "unproven");
    assert_eq!(rep["rto"]["objective_met"], false);
    assert_eq!(rep["drill"]["restored"], true);
    assert_eq!(rep["drill"]["estimates_dominate"], true);
    // 3 instances added (warm 1 → serving 4) from the scale-up's start to the return to warm.
    let basis = rep["drill"]["cost_basis"].as_str().unwrap();
    assert!(basis.starts_with("gpu-usw2: 3 added × "), "{basis}");
    assert!(basis.ends_with(" at $1.01/h"), "{basis}");
    let cost = rep["drill"]["cost_usd"].as_f64().unwrap();
    let scaled = rep["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["action"] == "scale_asgs")
        .collect::<Vec<_>>();
    let at =
        |v: &serde_json::Value| chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap();
    let ran = (at(&scaled.last().unwrap()["finished_at"]) - at(&scaled[0]["started_at"]))
        .num_microseconds()
        .unwrap() as f64
        / 3_600_000_000.0;
    assert!(
        (cost - 3.0 * 1.006 * ran).abs() < 1e-9,
        "{cost} for {ran} h: {basis}"
    );
    // Provenance an auditor reproduces: the digests are what `sha256sum` prints for the files.
    for (what, path) in [
        ("config", h.config.clone()),
        ("runbook", h.dir.0.join("runbooks/drill-standby.toml")),
    ] {
        let out = std::process::Command::new("sha256sum")
            .arg(&path)
            .output()
            .expect("sha256sum runs");
        let hex = String::from_utf8_lossy(&out.stdout);
        let hex = hex.split_whitespace().next().unwrap();
        assert_eq!(rep[what]["digest"], format!("sha256:{hex}"), "{what}");
        assert_eq!(rep[what]["path"], path.display().to_string(), "{what}");
    }
    // The endpoint answers 503 for WARMUP after InService: that, within the gate's 200 ms
    // polling and one verify interval, is the warm-up.
    let warmup = rep["drill"]["warmup_ms"].as_u64().unwrap();
    assert!(
        warmup + 250 >= WARMUP.as_millis() as u64 && warmup <= WARMUP.as_millis() as u64 + 1_300,
        "warm-up {warmup}ms"
    );
    let parts: Vec<(&str, &str, &str)> = rep["drill"]["would_be"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap(),
                c["basis"].as_str().unwrap(),
                c["source"].as_str().unwrap(),
            )
        })
        .collect();
    let part = |name: &str| *parts.iter().find(|p| p.0 == name).unwrap();
    assert_eq!(
        part("scale-standby").2,
        "measured in this drill",
        "{parts:?}"
    );
    assert_eq!(part("freeze-rpo").2, "measured in this drill", "{parts:?}");
    assert_eq!(part("flip-dns").1, "estimate", "{parts:?}");
    assert!(part("flip-dns").2.contains("within 60s"), "{parts:?}");
    assert!(
        part("final-sync").2.contains("last scheduled sync"),
        "{parts:?}"
    );
    assert!(
        parts.iter().all(|p| !p.2.starts_with("runbook budget")),
        "every failover step has a measurement or a model: {parts:?}"
    );
    assert_eq!(rep["probes"][0]["ok"], true, "{}", rep["probes"]);
    assert!(
        rep["probes"][0]["versions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|v| v["verdict"] == "match")
    );
    check_report_dir(&dir);
    // What the report says of itself: who started it, in the command's own words; what the
    // drill changed, from serving back to warm; one timestamp format everywhere.
    assert_eq!(
        rep["trigger"]["reason"], "an operator ran \"standby drill standby\"",
        "{}",
        rep["trigger"]
    );
    assert_eq!(
        rep["origin"]["version"],
        env!("CARGO_PKG_VERSION"),
        "{}",
        rep["origin"]
    );
    assert!(
        !rep["origin"]["operator"].as_str().unwrap().is_empty()
            && rep["origin"]["operator"] != "automatic"
            && !rep["origin"]["host"].as_str().unwrap().is_empty()
            && !rep["origin"]["commit"].as_str().unwrap().is_empty(),
        "{}",
        rep["origin"]
    );
    // The account, as STS tells it (moto's default account).
    assert_eq!(
        rep["origin"]["account"], "123456789012",
        "{}",
        rep["origin"]
    );
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(md.contains("Started by "), "{md}");
    assert!(md.contains(" in AWS account 123456789012, "), "{md}");
    assert!(
        md.contains("desired 4 (min 0, max 4) → desired 1 (min 0, max 1)"),
        "the return to warm starts from serving:\n{md}"
    );
    assert!(!md.contains("| | |"), "every table has a header:\n{md}");
    // JSON: UTC in Z form at full precision (its durations are computed from it); what people
    // read: milliseconds.
    let json = std::fs::read_to_string(dir.join("report.json")).unwrap();
    assert!(
        !json.contains("+00:00"),
        "a timestamp not in Z form:\n{json}"
    );
    for (name, text) in [("report.md", &md)] {
        assert!(
            !text.contains("+00:00"),
            "{name}: a timestamp not in Z form:\n{text}"
        );
        // Every timestamp: date, time, exactly milliseconds, Z.
        for (at, _) in text.match_indices("T") {
            let before = &text[at.saturating_sub(10)..at];
            if before.len() == 10
                && before.as_bytes()[4] == b'-'
                && before.as_bytes()[7] == b'-'
                && before.chars().all(|c| c.is_ascii_digit() || c == '-')
            {
                let stamp = &text[at - 10..(at + 14).min(text.len())];
                assert!(
                    stamp.len() == 24 && stamp.ends_with('Z') && stamp.as_bytes()[19] == b'.',
                    "{name}: timestamp {stamp:?} is not RFC 3339 UTC with milliseconds"
                );
            }
        }
    }

    // Listed locally and read back from the standby bucket.
    let out = h.run(&["report", "list"]);
    assert!(text(&out).contains("drill-standby"), "{}", text(&out));
    assert!(text(&out).contains("drill RTO trend"), "{}", text(&out));
    let out = h.run(&["report", "list", "--remote"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("drill-standby"), "{}", text(&out));
    let id = dir.file_name().unwrap().to_string_lossy().to_string();
    let out = h.run(&["report", "show", &id, "--format", "html", "--remote"]);
    assert!(text(&out).starts_with("<!DOCTYPE html>"), "{}", text(&out));
    let out = h.run(&["status"]);
    assert!(text(&out).contains("standby:     READY"), "{}", text(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_between_served_and_published_versions_is_reported() {
    let h = Harness::start("drift").await;
    let s3p = s3(&h.moto_endpoint, &h.world.primary_region).await;
    put(&s3p, &h.world.primary_bucket, "prompts/system.txt", b"v1").await;
    put(&s3p, &h.world.primary_bucket, "models/w.bin", b"weights").await;
    sync_and_load(&h).await;
    assert!(h.run(&["check"]).status.success());

    // A new prompt is published, but the fleet keeps serving what it loaded before.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    put(&s3p, &h.world.primary_bucket, "prompts/system.txt", b"v2").await;
    assert!(h.run(&["sync", "prompts"]).status.success());
    let out = h.run(&["check"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(
        t.contains("standby probe found DRIFT: version prompts: DRIFT: serves"),
        "{t}"
    );
    assert!(t.contains("[ok] version weights"), "{t}");
    let out = h.run(&["status"]);
    assert!(
        text(&out).contains("standby:     NOT READY — drift"),
        "{}",
        text(&out)
    );
    // The failover preflight reads it (as a warning under the default readiness = "warn").
    let out = h.run(&["failover", "--dry-run"]);
    assert!(
        text(&out).contains("[warn] standby readiness: drift"),
        "{}",
        text(&out)
    );

    // Reloading the fleet clears it.
    sync_and_load(&h).await;
    assert!(h.run(&["check"]).status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_secrets_never_reach_logs_reports_or_state() {
    let h = Harness::start("secret").await;
    h.lab.standby.require_key(Some(PROBE_KEY.into()));
    seed_sets(&h).await;

    let mut seen = String::new();
    let out = h.run(&["check"]);
    assert!(
        out.status.success(),
        "the key from the environment is sent: {}",
        text(&out)
    );
    seen.push_str(&text(&out));
    // A failing standby whose error echoes the request's credentials.
    h.lab.standby.set(Behavior::Status(500));
    let out = h.run(&["check"]);
    assert_eq!(out.status.code(), Some(1));
    let t = text(&out);
    assert!(t.contains("[redacted ${STANDBY_TEST_PROBE_KEY}]"), "{t}");
    seen.push_str(&t);
    h.lab.standby.set(Behavior::Ok);
    let out = h.run(&["drill", "standby", "--yes"]);
    seen.push_str(&text(&out));
    seen.push_str(&text(&h.run(&["status"])));
    // Without the variable, the probe names it and sends nothing.
    let out = h
        .command(&["check"])
        .env_remove("STANDBY_TEST_PROBE_KEY")
        .output()
        .unwrap();
    assert!(
        text(&out).contains(
            "header Authorization: environment variable STANDBY_TEST_PROBE_KEY is not set"
        ),
        "{}",
        text(&out)
    );

    assert!(
        !seen.contains(PROBE_KEY),
        "the key leaked into output:\n{seen}"
    );
    let mut files = vec![];
    let mut stack = vec![h.dir.0.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else {
                files.push(e.path());
            }
        }
    }
    assert!(files.len() > 5, "{files:?}");
    for f in files {
        let bytes = std::fs::read(&f).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(PROBE_KEY),
            "the key leaked into {}",
            f.display()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_primary_failure_aborts_the_drill_and_the_failover_wins() {
    let h = Harness::start("drill-abort").await;
    seed_sets(&h).await;

    let log = std::fs::File::create(h.dir.0.join("serve.log")).unwrap();
    let mut serve: Daemon = h
        .command(&["serve"])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap()
        .into();
    tokio::time::sleep(Duration::from_millis(800)).await;

    let drill_log = std::fs::File::create(h.dir.0.join("drill.log")).unwrap();
    let mut drill = h
        .command(&["drill", "standby", "--yes"])
        .env("FAILPOINTS", "started:verify-standby=return")
        .stdin(Stdio::null())
        .stdout(drill_log.try_clone().unwrap())
        .stderr(drill_log)
        .spawn()
        .unwrap();
    let hold = h.state_dir().join("test-hold");
    wait_for(
        "the drill to reach verify-standby",
        Duration::from_secs(30),
        || hold.exists(),
    )
    .await;

    h.lab.primary.set(Behavior::Status(503));
    let state = h.state_dir().join("state.json");
    wait_for(
        "the daemon to ask the drill to yield",
        Duration::from_secs(30),
        || {
            std::fs::read_to_string(&state)
                .map(|s| s.contains("\"abort_run\": \"2"))
                .unwrap_or(false)
        },
    )
    .await;
    std::fs::write(h.state_dir().join("test-release"), "").unwrap();
    let status = tokio::task::spawn_blocking(move || drill.wait().unwrap())
        .await
        .unwrap();
    assert_eq!(status.code(), Some(1), "an aborted drill exits 1");

    let zone_record = || async { h.record().await };
    let started = std::time::Instant::now();
    while zone_record().await != h.world.standby_value {
        assert!(
            started.elapsed() < Duration::from_secs(40),
            "no failover after the drill yielded:\n{}",
            std::fs::read_to_string(h.dir.0.join("serve.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let fo = h.reports_dir();
    wait_for(
        "the failover's final report",
        Duration::from_secs(30),
        || reports(&fo).iter().any(|p| final_report(p, "failover")),
    )
    .await;
    let _ = serve.kill();
    let _ = serve.wait();

    let d = report_dir(&h, "drill-standby");
    let rep = read_json(&d.join("report.json"));
    assert_eq!(rep["result"], "failed");
    assert!(
        rep["reason"].as_str().unwrap().starts_with("aborted: "),
        "{}",
        rep["reason"]
    );
    assert_eq!(rep["drill"]["aborted"], true);
    assert_eq!(
        rep["drill"]["restored"], true,
        "the standby was scaled back as cleanup"
    );
    let step = |name: &str| {
        rep["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .unwrap()
            .clone()
    };
    assert!(
        step("verify-standby")["reason"]
            .as_str()
            .unwrap()
            .starts_with("interrupted: ")
    );
    assert_eq!(step("smoke-standby")["status"], "skipped");
    assert_eq!(step("standby-to-warm")["status"], "succeeded");
    check_report_dir(&d);
    let f = report_dir(&h, "failover");
    let rep = read_json(&f.join("report.json"));
    assert_eq!(rep["result"], "succeeded", "{}", rep["reason"]);
    assert_eq!(rep["trigger"]["kind"], "automatic");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_drill_fails_over_and_back_in_one_run() {
    let h = Harness::start("drill-full").await;
    seed_sets(&h).await;

    let out = h.run(&["drill", "full", "--dry-run"]);
    let t = text(&out);
    assert!(
        t.contains("failover/flip-dns") && t.contains("failback/flip-dns"),
        "{t}"
    );
    let out = h.run(&["drill", "full", "--yes"]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert_eq!(
        h.record().await,
        h.world.primary_value,
        "traffic back on the primary"
    );
    assert_eq!(
        h.capacity(&h.world.standby_region, &h.world.standby_asg)
            .await,
        (h.world.standby_warm, h.world.standby_warm)
    );
    let dir = report_dir(&h, "drill-full");
    let rep = read_json(&dir.join("report.json"));
    assert_eq!(rep["result"], "succeeded", "{}", rep["reason"]);
    assert_eq!(rep["rto"]["basis"], "measured");
    assert!(rep["rto"]["measured_ms"].as_u64().is_some());
    assert_eq!(rep["drill"]["restored"], true);
    assert!(rep["drill"]["failback_ms"].as_u64().is_some());
    let phases: Vec<&str> = rep["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["phase"].as_str().unwrap())
        .collect();
    assert_eq!(phases.first(), Some(&"failover"));
    assert_eq!(phases.last(), Some(&"failback"));
    // One report for the run: the failover half's report step is dropped.
    assert_eq!(
        rep["steps"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["action"] == "report")
            .count(),
        1
    );
    let state = std::fs::read_to_string(h.state_dir().join("state.json")).unwrap();
    assert!(state.contains("\"mode\": \"primary\""), "{state}");
    check_report_dir(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drill_killed_mid_way_resumes_and_cleans_up_on_restart() {
    let h = Harness::start("drill-kill").await;
    seed_sets(&h).await;

    let mut drill = h
        .command(&["drill", "standby", "--yes"])
        .env("FAILPOINTS", "after:verify-standby=return")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let hold = h.state_dir().join("test-hold");
    wait_for(
        "the drill to verify the standby",
        Duration::from_secs(30),
        || hold.exists(),
    )
    .await;
    drill.kill().unwrap();
    drill.wait().unwrap();
    assert_eq!(
        h.capacity(&h.world.standby_region, &h.world.standby_asg)
            .await
            .0,
        h.world.serving,
        "killed with the standby at serving capacity"
    );

    let mut serve: Daemon = h
        .command(&["serve"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
        .into();
    let reports_dir = h.reports_dir();
    let finished = |p: &std::path::Path| {
        p.to_string_lossy().contains("drill-standby")
            && std::fs::read_to_string(p.join("report.json"))
                .is_ok_and(|t| !t.contains("\"result\": \"running\""))
    };
    wait_for(
        "the resumed drill's final report",
        Duration::from_secs(30),
        || reports(&reports_dir).iter().any(|p| finished(p)),
    )
    .await;
    let _ = serve.kill();
    let _ = serve.wait();
    assert_eq!(
        h.capacity(&h.world.standby_region, &h.world.standby_asg)
            .await,
        (h.world.standby_warm, h.world.standby_warm),
        "the cleanup ran after the restart"
    );
    let rep = read_json(&report_dir(&h, "drill-standby").join("report.json"));
    assert_eq!(rep["result"], "succeeded", "{}", rep["reason"]);
    assert_eq!(rep["resumed_at"].as_array().unwrap().len(), 1);
    assert_eq!(h.record().await, h.world.primary_value);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_probes_and_drills_on_their_schedules() {
    let h = Harness::start("drill-sched").await;
    seed_sets(&h).await;
    let text_cfg = std::fs::read_to_string(&h.config)
        .unwrap()
        .replace("[probes]\n", "[probes]\nschedule = \"*/2 * * * * *\"\n")
        + "\n[[drills]]\nkind = \"standby\"\nschedule = \"*/4 * * * * *\"\n";
    std::fs::write(&h.config, text_cfg).unwrap();
    assert!(h.run(&["validate"]).status.success());

    let mut serve: Daemon = h
        .command(&["serve"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
        .into();
    let reports_dir = h.reports_dir();
    wait_for(
        "a scheduled drill's report",
        Duration::from_secs(40),
        || {
            reports(&reports_dir)
                .iter()
                .any(|p| final_report(p, "drill-standby"))
        },
    )
    .await;
    let _ = serve.kill();
    let _ = serve.wait();
    let rep = read_json(&report_dir(&h, "drill-standby").join("report.json"));
    assert_eq!(rep["trigger"]["kind"], "scheduled");
    let log = read_json(&h.state_dir().join("probes/standby.json"));
    assert!(
        log["history"].as_array().unwrap().len() >= 2,
        "scheduled probes recorded: {log}"
    );
    let out = h.run(&["status"]);
    let t = text(&out);
    assert!(t.contains("synthetic probes every `*/2 * * * * *`"), "{t}");
    assert!(
        t.contains("drills:      drill-standby every `*/4 * * * * *`"),
        "{t}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streamed_answers_report_time_to_first_byte() {
    let h = Harness::start("stream").await;
    seed_sets(&h).await;
    let text_cfg = std::fs::read_to_string(&h.config)
        .unwrap()
        .replace(
            "[probes]\n",
            "[probes]\nbody = '{\"model\": \"m\", \"messages\": [{\"role\": \"user\", \"content\": \"ping\"}], \"stream\": true}'\nmax_ttfb = \"1s\"\n",
        )
        .replace(
            "[probes.artifact_version]",
            "[[probes.expect]]\npointer = \"/choices/0/delta/content\"\nequals = \"o\"\n\n[probes.x]\n\n[probes.artifact_version]",
        );
    // `[probes.x]` is a typo on purpose: unknown keys are errors.
    std::fs::write(&h.config, &text_cfg).unwrap();
    let out = h.run(&["validate"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("probes.x: unknown key"),
        "{}",
        text(&out)
    );
    std::fs::write(&h.config, text_cfg.replace("\n[probes.x]\n", "\n")).unwrap();
    let out = h.run(&["check"]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("[ok] first byte:"), "{t}");
    assert!(
        t.contains("[ok] answer /choices/0/delta/content: equals \"o\""),
        "{t}"
    );
    assert!(t.contains("(first byte"), "{t}");
}

/// `standby check --readiness`: every check listed with its severity and reason, against moto;
/// a standby group that does not exist is an error (exit 1), a missing drill a warning.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_lists_every_check_and_fails_on_what_would_stop_a_failover() {
    let h = Harness::start("readiness").await;
    seed_sets(&h).await;
    let out = h.run(&["check", "--readiness", "--json"]);
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out)));
    let e = &v["evaluation"];
    let findings = e["findings"].as_array().unwrap();
    for check in standby_core::readiness::CHECKS {
        assert!(
            findings.iter().any(|f| f["check"] == *check),
            "{check} missing: {e:#}"
        );
    }
    let find = |check: &str, subject: &str| {
        findings
            .iter()
            .find(|f| f["check"] == check && f["subject"].as_str().unwrap().contains(subject))
            .unwrap_or_else(|| panic!("no {check} {subject}: {e:#}"))
            .clone()
    };
    let f = find("capacity", "gpu-usw2");
    assert_eq!(f["severity"], "ok", "{f}");
    assert!(
        f["reason"]
            .as_str()
            .unwrap()
            .starts_with("warm: 1 InService"),
        "{f}"
    );
    // Both groups launch g5.xlarge (the seed's launch configurations): read through
    // DescribeLaunchConfigurations, described by DescribeInstanceTypes.
    let f = find("parity", "gpu-usw2");
    assert_eq!(f["severity"], "ok", "{f}");
    assert_eq!(f["reason"], "launches g5.xlarge, as the primary", "{f}");
    let f = find("drill", "");
    assert_eq!(f["severity"], "warning", "{f}");
    for (check, severity) in [
        ("preflight", "ok"),
        ("artifacts", "ok"),
        ("standby_probe", "ok"),
        ("lease", "ok"),
    ] {
        assert!(
            findings
                .iter()
                .filter(|f| f["check"] == check)
                .all(|f| f["severity"] == severity),
            "{check}: {e:#}"
        );
    }
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        h.state_dir().join("readiness/last.json").exists(),
        "the evaluation is kept for status, metrics and the preflight"
    );

    // A standby group that does not exist: the failover's preflight and the capacity check
    // both say so; the evaluation is not ready and the command exits 1.
    edit_config(&h, |t| {
        t.replace(
            "asgs = [{ name = \"gpu-usw2\", warm = 1, serving = 4 }]",
            "asgs = [{ name = \"gpu-usw2-gone\", warm = 1, serving = 4 }]",
        )
    });
    let out = h.run(&["check", "--readiness"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(
        t.contains("[error] capacity gpu-usw2-gone: the standby group gpu-usw2-gone does not exist in us-west-2"),
        "{t}"
    );
    assert!(t.contains("[error] preflight "), "{t}");
    assert!(t.contains("\nNOT READY: "), "{t}");
}
