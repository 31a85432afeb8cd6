//! The spine end to end: the primary goes hard down, `standby serve` fails over on its own, and an
//! operator fails back by hand. Against moto and real HTTP endpoints, with the real binary.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::*;
use standby_testbed::endpoint::Behavior;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn primary_down_fails_over_then_manual_failback_restores() {
    let h = Harness::start("e2e").await;
    let w = h.world.clone();

    // A dry run prints the exact plan and changes nothing.
    let out = h.run(&["failover", "--dry-run"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("us-west-2 gpu-usw2: desired 1 (min 0, max 1) -> desired 4 (min 0, max 4)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("CNAME api.example.com. in zone"),
        "{stdout}"
    );
    assert!(
        stdout.contains("use1.example.com -> usw2.example.com (UPSERT, TTL 5s)"),
        "{stdout}"
    );
    assert_eq!(h.capacity(&w.standby_region, &w.standby_asg).await.0, 1);
    assert_eq!(h.record().await, w.primary_value);

    // Artifacts on the primary; serve's scheduler syncs every set at start (never synced: due).
    let p3 = s3(&h.moto_endpoint, "us-east-1").await;
    let st3 = s3(&h.moto_endpoint, "us-west-2").await;
    put(
        &p3,
        "artifacts-use1",
        "prompts/system.txt",
        b"You are helpful.",
    )
    .await;

    let mut serve: Daemon = h
        .command(&["serve"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
        .into();
    let manifest_key = standby_core::sync::manifest::key("prompts");
    let mut published = false;
    for _ in 0..100 {
        if standby_aws::s3::get_bytes(&st3, "artifacts-usw2", &manifest_key)
            .await
            .unwrap()
            .is_some()
        {
            published = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(published, "serve synced the prompts set on its schedule");
    h.primary.set(Behavior::Refuse);

    let state = h.state_dir().join("state.json");
    wait_for("serve to fail over", Duration::from_secs(60), || {
        std::fs::read_to_string(&state)
            .map(|s| s.contains("\"mode\": \"standby\""))
            .unwrap_or(false)
    })
    .await;

    assert_eq!(h.capacity(&w.standby_region, &w.standby_asg).await, (4, 4));
    assert_eq!(h.record().await, w.standby_value);

    let dirs = reports(&h.reports_dir());
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    let rep = read_json(&dirs[0].join("report.json"));
    common::check_report_dir(&dirs[0]);
    assert_eq!(rep["kind"], "failover");
    assert_eq!(rep["result"], "succeeded");
    assert_eq!(rep["trigger"]["kind"], "automatic");
    // The read commands' JSON says the same as the report.
    let out = h.run(&["status", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["state"]["serving"]["mode"], "standby", "{status:#}");
    assert_eq!(status["last_report"]["run"], rep["run_id"], "{status:#}");
    assert_eq!(status["last_report"]["result"], "succeeded", "{status:#}");
    let out = h.run(&["report", "list", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list[0]["run"], rep["run_id"], "{list:#}");
    assert_eq!(list[0]["rto"], rep["rto"], "{list:#}");
    assert!(
        rep["trigger"]["reason"]
            .as_str()
            .unwrap()
            .starts_with("down: 2 consecutive failing rounds"),
        "{}",
        rep["trigger"]
    );
    let ev = rep["trigger"]["evidence"].as_array().unwrap();
    assert!(ev.iter().any(|p| p["outcome"] == "connect"), "{ev:?}");
    let rto = &rep["rto"];
    let measured = rto["measured_ms"].as_u64().unwrap();
    let b = &rto["breakdown"];
    let sum: u64 = [
        "detect_ms",
        "decide_ms",
        "sync_ms",
        "scale_ms",
        "verify_ms",
        "dns_ms",
        "other_ms",
    ]
    .iter()
    .map(|k| b[k].as_u64().unwrap())
    .sum();
    assert_eq!(
        sum, measured,
        "breakdown adds up to the measured RTO: {rto}"
    );
    assert!(b["detect_ms"].as_u64().unwrap() > 0);
    assert!(
        b["verify_ms"].as_u64().unwrap() >= common::WARMUP.as_millis() as u64,
        "warm-up shows in verify: {rto}"
    );
    assert_eq!(rto["effective_ms"].as_u64().unwrap(), measured + 5000);
    assert_eq!(rto["objective_met"], true);
    let flip = rep["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["action"] == "flip_dns")
        .unwrap();
    assert_eq!(flip["details"]["from"], w.primary_value);
    assert_eq!(flip["details"]["to"], w.standby_value);
    assert!(
        flip["details"]["change_id"]
            .as_str()
            .is_some_and(|c| !c.is_empty())
    );
    let rpo = rep["rpo"].as_array().unwrap();
    assert_eq!(rpo.len(), 2, "{rpo:?}");
    // Nothing was written after the seed: nothing at risk at the failure, nothing lost. serve's
    // first sync publishes moments before the primary goes down here; when that lands after the
    // last good probe, the figure is judged against a newer copy than the standby had then and
    // says so (at least).
    for r in rpo {
        let f = &r["at_failure"];
        let late = f["reason"]
            .as_str()
            .unwrap()
            .contains("judged against a copy published after that instant");
        assert_eq!(f["kind"], if late { "at_least" } else { "measured" }, "{r}");
        assert_eq!(f["rpo_ms"], 0, "{r}");
        assert_eq!(r["after_final_sync"]["kind"], "measured", "{r}");
        assert_eq!(r["lost_count"], 0, "{r}");
    }
    let final_sync = rep["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["action"] == "final_sync")
        .unwrap();
    assert_eq!(final_sync["status"], "succeeded", "{final_sync}");
    let md = std::fs::read_to_string(dirs[0].join("report.md")).unwrap();
    assert!(md.contains("## RPO per artifact set"), "{md}");
    assert!(md.contains("| objective met | yes |"), "{md}");

    // Status shows the state and the last report.
    let out = h.run(&["status"]);
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(s.contains("serving:     standby"), "{s}");
    assert!(s.contains("last report: failover succeeded"), "{s}");

    // SIGTERM: a clean exit 0.
    let pid = serve.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = tokio::task::spawn_blocking(move || serve.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.code(), Some(0));

    // Written on the standby during the outage: the failback's reverse sync brings it home.
    put(
        &st3,
        "artifacts-usw2",
        "prompts/written-during-outage.txt",
        b"new prompt",
    )
    .await;

    // The outage took the primary's capacity with it; failback brings it back.
    standby_testbed::seed::set_capacity(&h.moto.endpoint, &w.primary_region, &w.primary_asg, 0, 4)
        .await
        .unwrap();
    h.primary.set(Behavior::Ok);
    let out = h.run(&["failback", "--yes"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("failback succeeded: RTO"), "{stdout}");
    assert_eq!(h.capacity(&w.primary_region, &w.primary_asg).await, (4, 4));
    assert_eq!(h.record().await, w.primary_value);
    assert_eq!(
        h.capacity(&w.standby_region, &w.standby_asg).await.0,
        1,
        "standby back to warm"
    );

    let out = h.run(&["status"]);
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(s.contains("serving:     primary"), "{s}");

    // A second failback is refused: traffic is already on the primary.
    let out = h.run(&["failback", "--yes"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("refused: already serving from the primary")
    );
}
