//! Predictive pre-warm end to end: a brownout brings the standby to serving capacity before any
//! verdict (DNS untouched), the primary's recovery puts it back to warm after the hold, and a
//! failover that follows a pre-warm starts from warm capacity and says the RTO it saved. Against
//! moto behind the fault proxy (instances take 2 s to boot), with the real binary.

mod common;

use std::time::Duration;

use common::*;
use standby_testbed::endpoint::Behavior;
use standby_testbed::reality::Reality;

/// Pre-warm on, quick: held 2 s, back to warm 3 s after the last degraded round. A streak of
/// 20 failed rounds (4 s) is a down verdict, so a 50% brownout never looks like an outage here.
fn prewarm_on(h: &Harness) {
    edit_config(h, |t| {
        format!(
            "{}\n[prewarm]\nenabled = true\nsustain = \"2s\"\nhold = \"3s\"\n",
            t.replace("failure_threshold = 2", "failure_threshold = 20")
        )
    });
}

/// The world behind the proxy: 2 s boots, and the standby fleet serves when the instances the
/// proxy reports InService do.
async fn slow_boots(h: &Harness) -> standby_testbed::faults::FaultProxy {
    let proxy = behind_proxy(h, 18).await;
    proxy.look_at("us-west-2", &["gpu-usw2"]).await;
    proxy.set_reality(Reality {
        boot: Duration::from_secs(2),
        ..Reality::default()
    });
    h.lab.standby.gate_through(&proxy.url(), &["gpu-usw2"]);
    proxy
}

fn brownout() -> Behavior {
    Behavior::Flaky {
        fail_ratio: 0.5,
        seed: 7,
    }
}

fn prewarm_json(h: &Harness, key: &str) -> serde_json::Value {
    let p = h.state_dir().join(key);
    if !p.exists() {
        return serde_json::Value::Null;
    }
    read_json(&p)
}

/// Pre-warm on, 2 s boots, `serve` armed, then the primary browns out.
async fn browned_out(h: &Harness) -> (standby_testbed::faults::FaultProxy, Daemon) {
    prewarm_on(h);
    let proxy = slow_boots(h).await;
    let daemon = serve(h, "serve.log");
    wait_for("armed", Duration::from_secs(20), || armed(h)).await;
    h.lab.primary.set(brownout());
    (proxy, daemon)
}

/// Waits until the current pre-warm is in `phase` (`scaling_up`, `serving`, `ended`).
async fn wait_phase(h: &Harness, phase: &str) {
    wait_for(
        &format!("the pre-warm {phase}"),
        Duration::from_secs(60),
        || prewarm_json(h, "prewarm/current.json")["phase"] == phase,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_brownout_pre_warms_the_standby_and_recovery_puts_it_back_without_touching_dns() {
    let h = Harness::start("prewarm").await;
    let (_proxy, daemon) = browned_out(&h).await;
    let w = h.world.clone();
    wait_phase(&h, "serving").await;
    let current = prewarm_json(&h, "prewarm/current.json");
    assert_eq!(h.capacity(&w.standby_region, &w.standby_asg).await.0, 4);
    assert_eq!(h.record().await, w.primary_value, "DNS untouched");
    assert_eq!(serving(&h), "primary", "no failover: {current:#}");
    assert!(
        current["reason"]
            .as_str()
            .unwrap()
            .starts_with("request failure rate"),
        "{current:#}"
    );
    // Boot (2 s) and the fleet's warm-up behind it, measured.
    let warm_up = current["warm_up_ms"].as_u64().unwrap();
    assert!(warm_up >= 2000, "{current:#}");
    let status = h.run(&["status"]);
    assert!(
        text(&status).contains("pre-warm:    UNDER WAY: prewarm-"),
        "{}",
        text(&status)
    );
    // A drill now would undo the pre-warm: refused before it starts.
    let drill = h.run(&["drill", "standby", "--yes"]);
    assert_eq!(drill.status.code(), Some(1), "{}", text(&drill));
    assert!(
        text(&drill).contains("refusing to drill: a pre-warm holds the standby"),
        "{}",
        text(&drill)
    );
    assert_eq!(h.capacity(&w.standby_region, &w.standby_asg).await.0, 4);

    h.lab.primary.set(Behavior::Ok);
    wait_phase(&h, "ended").await;
    // Said on the round after the release task ends.
    wait_for("the release said", Duration::from_secs(10), || {
        log(&h, "serve.log").contains("pre-warm ended, the standby is back to warm")
    })
    .await;
    stop(daemon);
    let serve_log = log(&h, "serve.log");
    assert_eq!(
        h.capacity(&w.standby_region, &w.standby_asg).await.0,
        1,
        "{serve_log}"
    );
    assert_eq!(h.record().await, w.primary_value, "DNS untouched");
    assert_eq!(serving(&h), "primary");
    let history = prewarm_json(&h, "prewarm/history.json");
    assert_eq!(history["totals"]["released"], 1, "{history:#}");
    let e = &history["episodes"][0];
    assert_eq!(e["end"]["how"], "released", "{e:#}");
    assert!(
        e["release_reason"]
            .as_str()
            .unwrap()
            .contains("the primary has looked well for"),
        "{e:#}"
    );
    assert!(
        serve_log.contains(": request failure rate") && serve_log.contains("PRE-WARM prewarm-"),
        "{serve_log}"
    );
    // Its own report: why, how long, what it cost.
    let id = e["id"].as_str().unwrap();
    let md =
        std::fs::read_to_string(h.reports_dir().join("prewarms").join(format!("{id}.md"))).unwrap();
    for row in [
        "| why | request failure rate",
        "| standby answering |",
        "| ended | back to warm at ",
        "| lasted |",
        "| cost | $",
    ] {
        assert!(md.contains(row), "{row} missing from:\n{md}");
    }
    // `standby report list` lists runs: the pre-warms' directory is not one.
    let list = h.run(&["report", "list"]);
    assert!(list.status.success(), "{}", text(&list));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failover_after_a_pre_warm_starts_warm_and_reports_the_rto_saved() {
    let h = Harness::start("prewarm-fo").await;
    let (_proxy, daemon) = browned_out(&h).await;
    let w = h.world.clone();
    wait_phase(&h, "serving").await;
    // The brownout becomes an outage.
    h.lab.primary.set(Behavior::Refuse);
    on_standby_within(&h, Duration::from_secs(60)).await;
    stop(daemon);
    let serve_log = log(&h, "serve.log");
    let rep = last_report(&h);
    assert_eq!(rep["kind"], "failover", "{rep:#}");
    assert_eq!(rep["result"], "succeeded", "{rep:#}\n{serve_log}");
    let p = &rep["prewarm"];
    let saved = p["rto_saved_ms"].as_u64().unwrap();
    let warm_up = p["warm_up_ms"].as_u64().unwrap();
    let took = p["failover_scale_verify_ms"].as_u64().unwrap();
    // The pre-warm's scale-up waited out 2 s boots; the failover's found the instances running.
    assert!(warm_up >= 2000, "{p:#}");
    assert!(took < 2000, "{p:#}");
    assert_eq!(saved, warm_up - took, "{p:#}");
    assert!(
        p["basis"].as_str().unwrap().starts_with("estimate:"),
        "{p:#}"
    );
    // The episode is ended as taken over, and the standby stays at serving.
    let history = prewarm_json(&h, "prewarm/history.json");
    assert_eq!(history["totals"]["failover"], 1, "{history:#}");
    assert_eq!(h.capacity(&w.standby_region, &w.standby_asg).await.0, 4);
    let episode = history["episodes"][0]["id"].as_str().unwrap();
    let own = std::fs::read_to_string(
        h.reports_dir()
            .join("prewarms")
            .join(format!("{episode}.md")),
    )
    .unwrap();
    assert!(own.contains("| ended | taken over by failover "), "{own}");
    let md = last_report_md(&h);
    assert!(md.contains("## Pre-warm"), "{md}");
    assert!(md.contains("| RTO saved |"), "{md}");
    assert!(md.contains("## Readiness"), "{md}");
    let dir = reports(&h.reports_dir()).into_iter().last().unwrap();
    validate_report(&dir);
    println!(
        "pre-warm warm-up {warm_up} ms, failover scale+verify {took} ms, RTO saved {saved} ms"
    );
}

/// Killed while scaling up: the restarted daemon finds the journaled pre-warm and carries the
/// same one on (one episode, one scale-up), then puts the standby back when the primary is well.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_killed_mid_pre_warm_resumes_the_same_pre_warm() {
    let h = Harness::start("prewarm-kill").await;
    let (_proxy, mut daemon) = browned_out(&h).await;
    let w = h.world.clone();
    wait_phase(&h, "scaling_up").await;
    daemon.kill9();
    let id = prewarm_json(&h, "prewarm/current.json")["id"].clone();
    let daemon = serve(&h, "serve2.log");
    wait_phase(&h, "serving").await;
    assert_eq!(prewarm_json(&h, "prewarm/current.json")["id"], id);
    assert_eq!(h.capacity(&w.standby_region, &w.standby_asg).await.0, 4);
    h.lab.primary.set(Behavior::Ok);
    wait_phase(&h, "ended").await;
    stop(daemon);
    let log2 = log(&h, "serve2.log");
    assert!(
        log2.contains("under way (ScalingUp): resuming it"),
        "{log2}"
    );
    let history = prewarm_json(&h, "prewarm/history.json");
    assert_eq!(
        history["episodes"].as_array().unwrap().len(),
        1,
        "{history:#}"
    );
    assert_eq!(history["episodes"][0]["id"], id);
    assert_eq!(h.capacity(&w.standby_region, &w.standby_asg).await.0, 1);
    assert_eq!(h.record().await, w.primary_value, "DNS untouched");
}

/// Turned off by a reload while it holds the standby: the pre-warm goes back to warm at once,
/// though the primary still browns out (an operator's off means off).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_that_turns_pre_warm_off_puts_the_standby_back() {
    let h = Harness::start("prewarm-off").await;
    let (_proxy, daemon) = browned_out(&h).await;
    let w = h.world.clone();
    wait_phase(&h, "serving").await;
    edit_config(&h, |t| t.replace("enabled = true", "enabled = false"));
    let _ = std::process::Command::new("kill")
        .args(["-HUP", &daemon.id().to_string()])
        .status();
    wait_phase(&h, "ended").await;
    stop(daemon);
    let history = prewarm_json(&h, "prewarm/history.json");
    let e = &history["episodes"][0];
    assert_eq!(e["end"]["how"], "released", "{e:#}");
    assert_eq!(e["release_reason"], "[prewarm] was turned off", "{e:#}");
    assert_eq!(h.capacity(&w.standby_region, &w.standby_asg).await.0, 1);
    assert_eq!(serving(&h), "primary");
}
