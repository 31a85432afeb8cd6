//! Failovers against AWS as it behaves in a regional event, not as moto does: the fault proxy's
//! reality model (`standby_testbed::reality`) makes instances boot, GPU launches fail for want of
//! capacity, and Route 53 changes stay PENDING; its rules throttle and fail calls. The real
//! binary, the real SDK, moto's state.

mod common;

use std::time::{Duration, Instant};

use common::*;
use standby_testbed::endpoint::Behavior;
use standby_testbed::faults::{Fault, Rule};
use standby_testbed::reality::Reality;

/// The scale step of the newest report.
fn scale_step(rep: &serde_json::Value) -> serde_json::Value {
    rep["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["action"] == "scale_asgs")
        .cloned()
        .expect("a scale step")
}

/// The preflight's check of that name in a report.
fn preflight_check(rep: &serde_json::Value, name: &str) -> serde_json::Value {
    let checks = &step(rep, "preflight")["details"]["checks"];
    checks
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no check {name:?}: {checks:#}"))
}

fn step<'a>(rep: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    rep["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no step {name}"))
}

/// The standby group's launches fail in its zone (no capacity); its spare, in another zone,
/// launches. The failover asks the spare within seconds, says so, and serves from both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capacity_shortage_fails_over_through_the_spare_group() {
    let h = Harness::start("real-spare").await;
    standby_testbed::seed::spare_group(
        &h.moto_endpoint,
        "us-west-2",
        "gpu-usw2-b",
        "g6e.xlarge",
        "us-west-2b",
    )
    .await
    .unwrap();
    edit_config(&h, |t| {
        t.replace(
            "asgs = [{ name = \"gpu-usw2\", warm = 1, serving = 4 }]",
            "asgs = [{ name = \"gpu-usw2\", warm = 1, serving = 4, fallback = [\"gpu-usw2-b\"] }]",
        )
    });
    let proxy = behind_proxy(&h, 31).await;
    let dry = h.run(&["failover", "--dry-run"]);
    assert!(dry.status.success(), "{}", text(&dry));
    assert!(
        text(&dry).contains("if launches fail: 1. spare group gpu-usw2-b (now desired 0, max 1)"),
        "{}",
        text(&dry)
    );
    let daemon = serve(&h, "serve.log");
    wait_for("armed", Duration::from_secs(20), || armed(&h)).await;
    // The region's event: no capacity left in us-west-2a; instances take 2 s to boot. The warm
    // instance runs before it and keeps running.
    proxy
        .look_at("us-west-2", &["gpu-usw2", "gpu-usw2-b"])
        .await;
    proxy.set_reality(Reality {
        boot: Duration::from_secs(2),
        short_zones: vec!["us-west-2a".into()],
        ..Reality::default()
    });
    let failed_at = Instant::now();
    h.lab.primary.set(Behavior::Refuse);
    on_standby_within(&h, Duration::from_secs(90)).await;
    let took = failed_at.elapsed();
    stop(daemon);
    let serve_log = log(&h, "serve.log");
    let rep = last_report(&h);
    assert_eq!(rep["result"], "succeeded", "{rep:#}\n{serve_log}");
    let scale = scale_step(&rep);
    let g = &scale["details"]["groups"][0];
    let fallback = &g["fallbacks"][0];
    assert_eq!(fallback["group"], "gpu-usw2-b", "{scale:#}");
    assert_eq!(
        fallback["asked"], 3,
        "the three launches that failed: {scale:#}"
    );
    assert!(
        fallback["reason"]
            .as_str()
            .unwrap()
            .contains("We currently do not have sufficient g5.xlarge capacity in the Availability Zone you requested (us-west-2a)"),
        "{fallback:#}"
    );
    assert_eq!(g["in_service"], 4, "{g:#}");
    // From the scale step's start to the spare being asked: the first look at the activities.
    let started =
        chrono::DateTime::parse_from_rfc3339(scale["started_at"].as_str().unwrap()).unwrap();
    let asked = chrono::DateTime::parse_from_rfc3339(fallback["at"].as_str().unwrap()).unwrap();
    let to_fallback = (asked - started).to_std().unwrap();
    println!(
        "capacity error to fallback: {} ms after the scale step began; failover took {:.2} s",
        to_fallback.as_millis(),
        took.as_secs_f64()
    );
    assert!(to_fallback < Duration::from_secs(5), "{to_fallback:?}");
    // moto: the group still asks for 4 (AWS keeps retrying its launches), the spare for 3.
    assert_eq!(h.capacity("us-west-2", "gpu-usw2-b").await.0, 3);
    assert_eq!(h.capacity("us-west-2", "gpu-usw2").await.0, 4);
    let md = last_report_md(&h);
    assert!(md.contains("## Capacity"), "{md}");
    assert!(md.contains("fell back to gpu-usw2-b (asked 3)"), "{md}");
    assert!(
        serve_log.contains("asking spare group gpu-usw2-b for the 3 missing"),
        "{serve_log}"
    );
}

/// Only two more instances fit in the zone: with `min_serving = "75%"` the failover goes on at
/// 3 of 4 InService, flips, and the report says what served at the flip; the last launch is
/// left to AWS's retries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn min_serving_lets_a_failover_go_on_with_part_of_its_capacity() {
    let h = Harness::start("real-min").await;
    edit_config(&h, |t| {
        t.replace(
            "asgs = [{ name = \"gpu-usw2\", warm = 1, serving = 4 }]",
            "asgs = [{ name = \"gpu-usw2\", warm = 1, serving = 4, min_serving = \"75%\" }]",
        )
    });
    let proxy = behind_proxy(&h, 36).await;
    let dry = h.run(&["failover", "--dry-run"]);
    assert!(
        text(&dry).contains("goes on at 3 InService; the rest keeps launching"),
        "{}",
        text(&dry)
    );
    let daemon = serve(&h, "serve.log");
    wait_for("armed", Duration::from_secs(20), || armed(&h)).await;
    proxy.look_at("us-west-2", &["gpu-usw2"]).await;
    proxy.set_reality(Reality {
        boot: Duration::from_secs(1),
        limited: vec![("us-west-2a".into(), 2)],
        ..Reality::default()
    });
    h.lab.primary.set(Behavior::Refuse);
    on_standby_within(&h, Duration::from_secs(90)).await;
    stop(daemon);
    let rep = last_report(&h);
    assert_eq!(rep["result"], "succeeded", "{rep:#}");
    let scale = scale_step(&rep);
    let g = &scale["details"]["groups"][0];
    assert_eq!(g["went_on_short"], true, "{g:#}");
    assert_eq!(g["in_service"], 3, "{g:#}");
    assert_eq!(g["min_serving"], 3, "{g:#}");
    assert!(
        scale["reason"]
            .as_str()
            .unwrap()
            .contains("3/4 InService, at least min_serving 3"),
        "{scale:#}"
    );
    assert_eq!(h.record().await, h.world.standby_value);
    let md = last_report_md(&h);
    assert!(
        md.contains(
            "gpu-usw2 (scale-standby): 3/4 InService when the step ended, going on at min_serving"
        ),
        "{md}"
    );
}

/// The same shortage with no spare: the scale step fails as soon as the launches have failed,
/// naming AWS's reason, and the run ends (escalated) within a minute rather than at the step's
/// 10-minute timeout. DNS stays on the primary; the report says what the standby was left at.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capacity_shortage_with_no_fallback_fails_clearly_within_a_minute() {
    let h = Harness::start("real-short").await;
    set_failover(
        &h,
        "attempts = 2\nretry_backoff = \"1s\"\nretry_max_backoff = \"2s\"\n",
    );
    let proxy = behind_proxy(&h, 32).await;
    // The warm instance runs before the shortage and keeps running.
    proxy.look_at("us-west-2", &["gpu-usw2"]).await;
    let daemon = serve(&h, "serve.log");
    wait_for("armed", Duration::from_secs(20), || armed(&h)).await;
    proxy.set_reality(Reality {
        short_zones: vec!["us-west-2a".into()],
        ..Reality::default()
    });
    let failed_at = Instant::now();
    h.lab.primary.set(Behavior::Refuse);
    wait_for("the escalation", Duration::from_secs(60), || gave_up(&h)).await;
    let took = failed_at.elapsed();
    stop(daemon);
    let serve_log = log(&h, "serve.log");
    let rep = last_report(&h);
    println!(
        "capacity shortage, no fallback: the run failed {:.2} s after the primary did",
        took.as_secs_f64()
    );
    let scale = scale_step(&rep);
    let reason = scale["reason"].as_str().unwrap();
    assert!(
        reason.contains("sufficient g5.xlarge capacity")
            && reason.contains("no fallback group is configured"),
        "{reason}\n{serve_log}"
    );
    assert!(reason.contains("1/4 InService"), "{reason}");
    assert_eq!(h.record().await, h.world.primary_value, "DNS never moved");
    let md = last_report_md(&h);
    assert!(
        md.contains(
            "gpu-usw2 (scale-standby): 1/4 InService when the step ended; 3 launch(es) failed"
        ),
        "{md}"
    );
    assert_eq!(rep["result"], "failed", "{rep:#}");
}

/// Route 53 holds the change PENDING for 30 s (real AWS: "generally within 60 seconds"). The
/// flip waits it out, does not fail early, and the time is the DNS step's in the RTO.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route53_change_pending_for_30s_is_dns_time_in_the_rto() {
    let h = Harness::start("real-pending").await;
    let proxy = behind_proxy(&h, 33).await;
    let daemon = serve(&h, "serve.log");
    wait_for("armed", Duration::from_secs(20), || armed(&h)).await;
    proxy.set_reality(Reality {
        change_pending: Duration::from_secs(30),
        ..Reality::default()
    });
    h.lab.primary.set(Behavior::Refuse);
    on_standby_within(&h, Duration::from_secs(90)).await;
    stop(daemon);
    let rep = last_report(&h);
    assert_eq!(rep["result"], "succeeded", "{rep:#}");
    let flip = step(&rep, "flip-dns");
    assert_eq!(flip["attempts"], 1, "{flip:#}");
    let flip_ms = flip["duration_ms"].as_u64().unwrap();
    assert!(flip_ms >= 30_000, "the flip waited for INSYNC: {flip:#}");
    let gets = proxy
        .calls()
        .iter()
        .filter(|c| c.operation == "GetChange")
        .count();
    assert!(gets >= 2, "GetChange was polled while PENDING ({gets})");
    let rto = rep["rto"]["measured_ms"].as_u64().unwrap();
    assert!(rto >= 30_000, "{:#}", rep["rto"]);
    println!("Route 53 PENDING 30 s: flip step {flip_ms} ms, RTO {rto} ms, {gets} GetChange calls");
}

/// `standby sync` with a tenth of S3 calls failing (500): every object arrives, and the manifest
/// is published only over a complete copy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_with_a_tenth_of_s3_calls_failing_copies_everything() {
    let h = Harness::start("real-sync").await;
    let primary = s3(&h.moto_endpoint, "us-east-1").await;
    let standby = s3(&h.moto_endpoint, "us-west-2").await;
    let n = 40;
    for i in 0..n {
        put(
            &primary,
            "artifacts-use1",
            &format!("prompts/p{i:03}.txt"),
            format!("prompt {i}").as_bytes(),
        )
        .await;
    }
    let proxy = behind_proxy(&h, 34).await;
    proxy.add(Rule::new(Some("s3"), None, Fault::Status(500)).probability(0.1));
    let out = h.run(&["sync", "prompts"]);
    let failed = proxy.calls().iter().filter(|c| c.fault.is_some()).count();
    assert!(failed > 0, "faults were injected");
    let manifest = standby_aws::s3::get_bytes(
        &standby,
        "artifacts-usw2",
        &standby_core::sync::manifest::key("prompts"),
    )
    .await
    .unwrap();
    if out.status.success() {
        let manifest = String::from_utf8(manifest.expect("published")).unwrap();
        for i in 0..n {
            let key = format!("prompts/p{i:03}.txt");
            let got = standby_aws::s3::get_bytes(&standby, "artifacts-usw2", &key)
                .await
                .unwrap();
            assert_eq!(
                got.as_deref(),
                Some(format!("prompt {i}").as_bytes()),
                "{key}"
            );
            assert!(manifest.contains(&key), "{key} in the manifest");
        }
    } else {
        assert!(
            manifest.is_none(),
            "a failed sync published nothing: {}",
            text(&out)
        );
    }
    assert!(
        out.status.success(),
        "with the SDK's retries a 10% fault rate is absorbed ({failed} faults): {}",
        text(&out)
    );
    println!("sync of {n} objects under 10% S3 failures: {failed} failed calls, all retried");
}

/// `validate` makes no AWS call; `failover --dry-run` only reads (counted at the proxy).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_calls_nothing_and_a_dry_run_only_reads() {
    let h = Harness::start("real-dry").await;
    let proxy = behind_proxy(&h, 35).await;
    let out = h.run(&["validate"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(proxy.calls().is_empty(), "{:?}", proxy.calls());
    let out = h.run(&["failover", "--dry-run"]);
    assert!(out.status.success(), "{}", text(&out));
    let calls = proxy.calls();
    assert!(!calls.is_empty());
    let writes: Vec<_> = calls
        .iter()
        .filter(|c| {
            !(c.operation.starts_with("Describe")
                || c.operation.starts_with("List")
                || c.operation.starts_with("Get")
                || c.operation == "HealthCheck"
                || c.operation == "GET object"
                || c.operation == "HEAD object"
                || c.operation == "GET bucket")
        })
        .map(|c| format!("{} {}", c.service, c.operation))
        .collect();
    assert!(writes.is_empty(), "a dry run changed something: {writes:?}");
}

/// The standby group launches from a template that points at a capacity reservation with
/// `capacity-reservations-only`. An expired reservation and no spare group: the preflight
/// refuses before anything is scaled, naming the reservation and why. The same reservation
/// active (a Capacity Block ending in three hours, room for every launch): the failover goes
/// through, and the report's preflight says what it found, with when the block's instances go.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capacity_reservations_are_checked_before_the_scale_up_counts_on_them() {
    use standby_testbed::reality::CapacityReservation;
    let h = Harness::start("real-odcr").await;
    standby_testbed::seed::reserved_group(
        &h.moto_endpoint,
        &standby_testbed::seed::ReservedGroup {
            region: "us-west-2",
            name: "gpu-usw2-r",
            instance_type: "g5.xlarge",
            zone: "us-west-2a",
            preference: "capacity-reservations-only",
            reservation: "cr-0gpu",
            desired: 1,
        },
    )
    .await
    .unwrap();
    edit_config(&h, |t| {
        t.replace(
            "asgs = [{ name = \"gpu-usw2\", warm = 1, serving = 4 }]",
            "asgs = [{ name = \"gpu-usw2-r\", warm = 1, serving = 4 }]",
        )
    });
    set_failover(
        &h,
        "attempts = 2\nretry_backoff = \"1s\"\nretry_max_backoff = \"2s\"\n",
    );
    // The standby's endpoint serves once this group does.
    h.lab
        .standby
        .gate_through(&h.moto_endpoint, &["gpu-usw2-r"]);
    let proxy = behind_proxy(&h, 36).await;
    let now = chrono::Utc::now();
    let reservation = CapacityReservation {
        region: "us-west-2".into(),
        id: "cr-0gpu".into(),
        instance_type: "g5.xlarge".into(),
        zone: "us-west-2a".into(),
        state: "expired".into(),
        total: 3,
        available: 3,
        capacity_block: true,
        start: Some(now - chrono::Duration::hours(21)),
        end: Some(now + chrono::Duration::hours(3)),
    };
    // No such reservation: EC2's InvalidCapacityReservationId.NotFound, read as such.
    let out = h.run(&["failover", "--yes"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let cr = preflight_check(
        &last_report(&h),
        "capacity reservation cr-0gpu (asg gpu-usw2-r)",
    );
    assert!(
        cr["reason"]
            .as_str()
            .unwrap()
            .starts_with("does not exist in gpu-usw2-r's region"),
        "{cr:#}"
    );
    let before = proxy.calls().len();
    proxy.set_reality(Reality {
        reservations: vec![reservation.clone()],
        ..Reality::default()
    });
    let out = h.run(&["failover", "--yes"]);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.contains("capacity reservations of asg gpu-usw2-r")
            && said.contains("0 free reserved instances for the 3 launches this run makes")
            && said.contains("no spare group is configured"),
        "{said}"
    );
    let rep = last_report(&h);
    let cr = preflight_check(&rep, "capacity reservation cr-0gpu (asg gpu-usw2-r)");
    assert_eq!(cr["reason"], "expired: launches cannot use it", "{cr:#}");
    assert_eq!(h.record().await, h.world.primary_value, "DNS never moved");
    assert_eq!(
        h.capacity("us-west-2", "gpu-usw2-r").await.0,
        1,
        "nothing scaled"
    );
    let ec2: Vec<String> = proxy.calls()[before..]
        .iter()
        .filter(|c| c.service == "ec2")
        .map(|c| c.operation.clone())
        .collect();
    // One read of each per preflight attempt (the run's policy retries a failed preflight: a
    // reservation may turn active).
    assert_eq!(step(&rep, "preflight")["attempts"], 2, "{rep:#}");
    assert_eq!(
        ec2,
        [
            "DescribeLaunchTemplateVersions",
            "DescribeCapacityReservations",
            "DescribeLaunchTemplateVersions",
            "DescribeCapacityReservations"
        ],
        "one read of each per attempt"
    );

    proxy.set_reality(Reality {
        reservations: vec![CapacityReservation {
            state: "active".into(),
            ..reservation
        }],
        ..Reality::default()
    });
    let out = h.run(&["failover", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let rep = last_report(&h);
    assert_eq!(rep["result"], "succeeded", "{rep:#}");
    let cr = preflight_check(&rep, "capacity reservation cr-0gpu (asg gpu-usw2-r)");
    let reason = cr["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("active Capacity Block: g5.xlarge in us-west-2a, 3 of 3 free")
            && reason.contains("its instances are terminated from"),
        "{cr:#}"
    );
    assert_eq!(cr["warning"], true, "{cr:#}");
    assert_eq!(h.record().await, h.world.standby_value);
}

/// The readiness evaluation reads EC2's On-Demand vCPU quota for the standby's family through
/// Service Quotas (the reality model holds EC2's quotas; moto's Service Quotas knows only VPC):
/// under the standby's serving capacity it is an error; a quota Service Quotas has no value for
/// (applied nor default) is not checked, never a refusal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_reads_the_standby_families_quota_through_service_quotas() {
    let h = Harness::start("real-quotas").await;
    seed_sets(&h).await;
    let proxy = behind_proxy(&h, 37).await;
    let quota = |h: &Harness| {
        let out = h.run(&["check", "--readiness", "--json"]);
        let v: serde_json::Value =
            serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out)));
        let f = v["evaluation"]["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["check"] == "quotas")
            .cloned()
            .unwrap_or_else(|| panic!("no quota finding: {v:#}"));
        (out.status.code(), f)
    };
    // gpu-usw2 launches g5.xlarge (4 vCPUs) and serves at 4: 16 vCPUs of "G and VT".
    proxy.set_reality(Reality {
        quotas: vec![("us-west-2".into(), "L-DB2E81BA".into(), 8.0)],
        ..Reality::default()
    });
    let (code, f) = quota(&h);
    assert_eq!(code, Some(1), "{f}");
    assert_eq!(f["severity"], "error", "{f}");
    assert_eq!(f["subject"], "Running On-Demand G and VT instances", "{f}");
    assert!(
        f["reason"]
            .as_str()
            .unwrap()
            .starts_with("L-DB2E81BA in us-west-2: 8 vCPUs, below the 16 vCPUs"),
        "{f}"
    );
    proxy.set_reality(Reality {
        quotas: vec![("us-west-2".into(), "L-DB2E81BA".into(), 64.0)],
        ..Reality::default()
    });
    let (code, f) = quota(&h);
    assert_eq!(f["severity"], "ok", "{f}");
    assert!(
        f["reason"]
            .as_str()
            .unwrap()
            .contains("64 vCPUs, covers the 16"),
        "{f}"
    );
    assert_eq!(code, Some(0), "{f}");
    // Neither an applied nor a default value: both asked, then not checked.
    proxy.set_reality(Reality::default());
    let before = proxy.calls().len();
    let (code, f) = quota(&h);
    assert_eq!(f["severity"], "not_checked", "{f}");
    assert!(
        f["reason"]
            .as_str()
            .unwrap()
            .contains("Service Quotas did not answer for L-DB2E81BA in us-west-2"),
        "{f}"
    );
    assert_eq!(code, Some(0), "{f}");
    let asked: Vec<String> = proxy.calls()[before..]
        .iter()
        .filter(|c| c.service == "servicequotas")
        .map(|c| c.operation.clone())
        .collect();
    assert_eq!(
        asked,
        ["GetServiceQuota", "GetAWSDefaultServiceQuota"],
        "{asked:?}"
    );
}
