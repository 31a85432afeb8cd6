//! Failing over while Route 53's control plane (us-east-1) is down: every Route 53 API call
//! answers 503 through the fault proxy in front of moto, while Route 53's data plane (the
//! testbed's resolver model: the failover records, the gate's health check, the answers) keeps
//! working, as in the regional event standby exists for.

mod common;

use std::time::{Duration, Instant};

use common::*;
use standby_testbed::endpoint::Behavior;
use standby_testbed::faults::{Fault, Rule};
use standby_testbed::resolver::ResolverModel;

/// Health checks run ten times faster than Route 53's: a 10 s interval is observed every 1 s.
const TIME_SCALE: u32 = 10;
const GATE_KEY: &str = "standby-gate/chat";

/// Failover records gated by an object in the standby bucket, the resolver model answering
/// the zone, and the config switched to `method = "failover_records"` asking only the model.
async fn data_plane(h: &Harness) -> ResolverModel {
    let recs = standby_testbed::seed::failover_records(
        &h.moto_endpoint,
        &h.zone_id,
        &h.world,
        GATE_KEY,
        10,
        1,
    )
    .await
    .unwrap();
    let model = ResolverModel::start(&h.moto_endpoint, &h.zone_id, TIME_SCALE)
        .await
        .unwrap();
    let addr = model.addr;
    edit_config(h, |t| {
        t.replace(
            "standby = \"usw2.example.com\"\n",
            &format!(
                "standby = \"usw2.example.com\"\nmethod = \"failover_records\"\nresolvers = [\"{addr}\"]\n\n[dns.gate]\nbucket = \"{}\"\nkey = \"{}\"\nhealth_check_id = \"{}\"\n",
                recs.gate_bucket, recs.gate_key, recs.health_check_id
            ),
        )
    });
    wait_for(
        "the model answering the primary",
        Duration::from_secs(10),
        || model.answer(&h.world.record_name).as_deref() == Some(h.world.primary_value.as_str()),
    )
    .await;
    model
}

/// A record-method config that still has a resolver to ask (the model, reading the simple
/// record from moto): the flip then ends on the resolvers' answer, INSYNC recorded.
async fn record_with_resolver(h: &Harness) -> ResolverModel {
    let model = ResolverModel::start(&h.moto_endpoint, &h.zone_id, TIME_SCALE)
        .await
        .unwrap();
    let addr = model.addr;
    edit_config(h, |t| {
        t.replace(
            "standby = \"usw2.example.com\"\n",
            &format!("standby = \"usw2.example.com\"\nresolvers = [\"{addr}\"]\n"),
        )
    });
    model
}

fn route53_down(proxy: &standby_testbed::faults::FaultProxy) {
    proxy.add(Rule::new(Some("route53"), None, Fault::Status(503)));
}

async fn read_gate(h: &Harness) -> String {
    let s3 = s3(&h.moto_endpoint, &h.world.standby_region).await;
    let got = standby_aws::s3::get_bytes(&s3, &h.world.standby_bucket, GATE_KEY)
        .await
        .unwrap()
        .unwrap_or_default();
    String::from_utf8_lossy(&got).into_owned()
}

fn flip_details(rep: &serde_json::Value) -> serde_json::Value {
    rep["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["action"] == "flip_dns")
        .map(|s| s["details"].clone())
        .unwrap_or_default()
}

/// The failover this project exists for: the primary fails while every Route 53 API call
/// answers 503. The data-plane flip completes end to end with the RTO in the report, no Route 53
/// call succeeded, and the failback goes the same way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failover_with_route53_down_completes_by_the_data_plane_and_fails_back() {
    let h = Harness::start("cp-data").await;
    let model = data_plane(&h).await;
    let proxy = behind_proxy(&h, 15).await;
    let checked = h.run(&["validate"]);
    assert!(checked.status.success(), "{}", text(&checked));
    // While the control plane answers, the plan reads the failover setup and remembers it.
    let dry = h.run(&["failover", "--dry-run"]);
    let dry_text = text(&dry);
    assert!(dry.status.success(), "{dry_text}");
    for want in [
        "[ok] failover record PRIMARY",
        "[ok] failover record SECONDARY",
        "[ok] gate health check: inverted HTTPS_STR_MATCH",
        "no Route 53 call",
    ] {
        assert!(dry_text.contains(want), "{want}\n{dry_text}");
    }
    let daemon = serve(&h, "serve.log");
    wait_for("armed", Duration::from_secs(20), || armed(&h)).await;
    let down_at = Instant::now();
    route53_down(&proxy);
    let failed_at = Instant::now();
    h.lab.primary.set(Behavior::Refuse);
    on_standby_within(&h, Duration::from_secs(90)).await;
    let took = failed_at.elapsed();
    let answered_standby = model
        .history()
        .iter()
        .find(|c| c.value.trim_end_matches('.') == h.world.standby_value)
        .map(|c| c.at.duration_since(failed_at));
    let serve_log = log(&h, "serve.log");
    let rep = last_report(&h);
    assert_eq!(rep["result"], "succeeded", "{rep:#}\n{serve_log}");
    let rto = &rep["rto"];
    assert!(rto["measured_ms"].as_u64().is_some(), "{rto:#}");
    let flip = flip_details(&rep);
    assert_eq!(flip["method"], "failover_records", "{flip:#}");
    let pre = rep["steps"][0].to_string();
    assert!(
        pre.contains("as recorded at") && pre.contains("Route 53 could not be read now"),
        "the preflight used the remembered setup and said so: {pre}"
    );
    assert!(flip["resolved_at"].is_string(), "{flip:#}");
    assert!(read_gate(&h).await.contains("serve=standby"));
    assert_eq!(
        model.answer(&h.world.record_name).as_deref(),
        Some(h.world.standby_value.as_str())
    );
    let r53: Vec<_> = proxy
        .calls()
        .into_iter()
        .filter(|c| c.service == "route53" && c.at >= down_at)
        .collect();
    assert!(
        r53.iter().all(|c| c.fault.is_some()),
        "no Route 53 call got through once it was down: {:?}",
        r53.iter().map(|c| &c.operation).collect::<Vec<_>>()
    );
    println!(
        "data-plane failover: RTO measured {} ms (report), resolver model answered the standby {:?} after the primary failed, the run took {:?} to journal; {} Route 53 calls during the outage, all refused",
        rto["measured_ms"],
        answered_standby,
        took,
        r53.len()
    );
    let status = text(&h.run(&["status"]));
    assert!(
        status.contains(
            "failover_records: a write of the gate s3://artifacts-usw2/standby-gate/chat"
        ) && status.contains("they read the gate"),
        "{status}"
    );
    // Failback with the control plane still down: the gate again, nothing else.
    h.lab.primary.set(Behavior::Ok);
    h.wait_primary_ok().await;
    let back = h.run(&["failback", "--yes"]);
    let back_text = text(&back);
    stop(daemon);
    assert!(
        back.status.success(),
        "{back_text}\n{}",
        log(&h, "serve.log")
    );
    assert!(read_gate(&h).await.contains("serve=primary"));
    wait_for(
        "the model answering the primary again",
        Duration::from_secs(10),
        || model.answer(&h.world.record_name).as_deref() == Some(h.world.primary_value.as_str()),
    )
    .await;
}

/// The same event with `method = "record"`: the failover cannot flip; it says why (the control
/// plane), gives up after its attempts, and leaves a state that names the run and the standby
/// scaled, with DNS untouched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_flip_with_route53_down_fails_naming_the_control_plane() {
    let h = Harness::start("cp-record").await;
    let _model = record_with_resolver(&h).await;
    let proxy = behind_proxy(&h, 16).await;
    set_failover(
        &h,
        "attempts = 2\nretry_backoff = \"100ms\"\nretry_max_backoff = \"200ms\"\nescalate_after = 1\n",
    );
    let checked = h.run(&["validate"]);
    let checked_text = text(&checked);
    assert!(checked.status.success(), "{checked_text}");
    assert!(
        checked_text.contains("served from us-east-1 only"),
        "validate warns about the record method with the primary in us-east-1: {checked_text}"
    );
    let daemon = serve(&h, "serve.log");
    wait_for("armed", Duration::from_secs(20), || armed(&h)).await;
    route53_down(&proxy);
    h.lab.primary.set(Behavior::Refuse);
    wait_for("the escalation", Duration::from_secs(90), || gave_up(&h)).await;
    let status = text(&h.run(&["status"]));
    stop(daemon);
    let rep = last_report(&h);
    assert_eq!(rep["result"], "failed", "{rep:#}");
    let flip = rep["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["action"] == "flip_dns")
        .cloned()
        .unwrap();
    let reason = flip["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("control plane") && reason.contains("us-east-1"),
        "{flip:#}"
    );
    // The standby was scaled before the flip was tried: the preflight did not wait on Route 53.
    let (desired, _) = h
        .capacity(&h.world.standby_region, &h.world.standby_asg)
        .await;
    assert_eq!(desired, h.world.serving);
    let pre = rep["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["action"] == "preflight")
        .cloned()
        .unwrap();
    assert!(
        pre.to_string().contains("LAST KNOWN record"),
        "the plan says it used the last known record: {pre:#}"
    );
    assert!(
        status.contains("served from us-east-1 only"),
        "status warns too: {status}"
    );
    assert_eq!(h.record().await, h.world.primary_value, "DNS untouched");
}

/// A standby drill with the data-plane method proves the gate takes a write and the resolvers
/// answer, without moving traffic: the model never answers the standby.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drill_checks_the_gate_without_moving_traffic() {
    let h = Harness::start("cp-drill").await;
    let model = data_plane(&h).await;
    let out = h.run(&["drill", "standby", "--yes"]);
    let printed = text(&out);
    // Its would-be RTO may breach the test's 1m objective (the flip's estimate counts the
    // health check's full (1 + 1) x 10s): exit 1 says so; the drill itself succeeded.
    assert!(printed.contains("drill-standby succeeded"), "{printed}");
    let rep = last_report(&h);
    let pre = rep["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["action"] == "preflight")
        .cloned()
        .unwrap();
    let checks = pre["details"]["checks"].as_array().unwrap();
    let names: Vec<&str> = checks.iter().filter_map(|c| c["name"].as_str()).collect();
    assert!(
        names.iter().any(|n| n.contains("writable"))
            && names.iter().any(|n| n.starts_with("dns resolver")),
        "{names:?}"
    );
    assert!(checks.iter().all(|c| c["ok"] == true), "{checks:#?}");
    assert!(read_gate(&h).await.contains("serve=primary"));
    assert!(
        model
            .history()
            .iter()
            .all(|c| c.value.trim_end_matches('.') != h.world.standby_value),
        "traffic never moved: {:?}",
        model.history()
    );
}

/// The comparison the README quotes: a record flip with the control plane up, on the same
/// setup, ends when the resolvers answer (INSYNC recorded on the way).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_flip_ends_when_the_resolvers_answer_with_insync_recorded() {
    let h = Harness::start("cp-record-up").await;
    let model = record_with_resolver(&h).await;
    let daemon = serve(&h, "serve.log");
    wait_for("armed", Duration::from_secs(20), || armed(&h)).await;
    let failed_at = Instant::now();
    h.lab.primary.set(Behavior::Refuse);
    on_standby_within(&h, Duration::from_secs(60)).await;
    stop(daemon);
    let rep = last_report(&h);
    assert_eq!(rep["result"], "succeeded", "{rep:#}");
    let flip = flip_details(&rep);
    assert_eq!(flip["method"], "record", "{flip:#}");
    assert!(
        flip["insync_at"].is_string() && flip["resolved_at"].is_string(),
        "{flip:#}"
    );
    let answered_standby = model
        .history()
        .iter()
        .find(|c| c.value.trim_end_matches('.') == h.world.standby_value)
        .map(|c| c.at.duration_since(failed_at));
    println!(
        "record failover: RTO measured {} ms (report), resolver model answered the standby {answered_standby:?} after the primary failed",
        rep["rto"]["measured_ms"]
    );
}

/// Route 53 hanging instead of failing: the data-plane failover neither waits on it for the
/// SDK's deadline nor freezes; the plan and preflight give it a second and go on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_route53_does_not_hold_a_data_plane_failover() {
    let h = Harness::start("cp-hang").await;
    let _model = data_plane(&h).await;
    let proxy = behind_proxy(&h, 17).await;
    let daemon = serve(&h, "serve.log");
    wait_for("armed", Duration::from_secs(20), || armed(&h)).await;
    proxy.add(Rule::new(Some("route53"), None, Fault::Hang));
    let failed_at = Instant::now();
    h.lab.primary.set(Behavior::Refuse);
    on_standby_within(&h, Duration::from_secs(60)).await;
    let took = failed_at.elapsed();
    stop(daemon);
    let rep = last_report(&h);
    assert_eq!(rep["result"], "succeeded", "{rep:#}");
    let pre = &rep["steps"][0];
    assert!(
        pre["duration_ms"].as_u64().unwrap() < 3_000,
        "the preflight waited on Route 53: {pre:#}"
    );
    println!(
        "data-plane failover with Route 53 hanging: done {took:?} after the primary failed, RTO measured {} ms",
        rep["rto"]["measured_ms"]
    );
}

/// Switching a running daemon to the data-plane method by SIGHUP: its next failover writes the
/// gate through a client for the gate's region, and never calls Route 53.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_to_failover_records_flips_by_the_gate() {
    let h = Harness::start("cp-reload").await;
    let proxy = behind_proxy(&h, 18).await;
    let daemon = serve(&h, "serve.log");
    wait_for("armed", Duration::from_secs(20), || armed(&h)).await;
    let model = data_plane(&h).await;
    let _ = std::process::Command::new("kill")
        .args(["-HUP", &daemon.id().to_string()])
        .status();
    wait_for("the reload", Duration::from_secs(10), || {
        log(&h, "serve.log").contains("the gate's client follows")
    })
    .await;
    let down_at = Instant::now();
    route53_down(&proxy);
    h.lab.primary.set(Behavior::Refuse);
    on_standby_within(&h, Duration::from_secs(60)).await;
    stop(daemon);
    let rep = last_report(&h);
    assert_eq!(
        rep["result"],
        "succeeded",
        "{rep:#}\n{}",
        log(&h, "serve.log")
    );
    assert_eq!(flip_details(&rep)["method"], "failover_records");
    assert!(read_gate(&h).await.contains("serve=standby"));
    assert_eq!(
        model.answer(&h.world.record_name).as_deref(),
        Some(h.world.standby_value.as_str())
    );
    assert!(
        proxy
            .calls()
            .iter()
            .filter(|c| c.service == "route53" && c.at >= down_at)
            .all(|c| c.fault.is_some())
    );
}
