//! A `serve` killed with SIGKILL at every step boundary of a failover, then started again,
//! completes the run without repeating a finished step.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::*;
use standby_testbed::endpoint::Behavior;

const STEPS: [&str; 6] = [
    "preflight",
    "scale-standby",
    "verify-standby",
    "flip-dns",
    "verify-after-flip",
    "report",
];

fn spawn_serve(config: &std::path::Path, hold: Option<&str>) -> Daemon {
    let mut c = standby_command(&["serve"], config);
    if let Some(h) = hold {
        c.env("FAILPOINTS", format!("{h}=return"));
    }
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(config.with_file_name("serve.log"))
        .unwrap();
    Daemon::new(
        c.stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn serve"),
    )
}

fn state_serving(dir: &std::path::Path) -> String {
    std::fs::read_to_string(dir.join("state/state.json")).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_every_step_boundary_resumes_and_completes() {
    let h = Harness::start("kill").await;
    let w = h.world.clone();
    let mut boundaries = Vec::new();
    for s in STEPS {
        boundaries.push(format!("started:{s}"));
        boundaries.push(format!("after:{s}"));
    }
    for boundary in &boundaries {
        h.reset_world().await;
        h.primary.set(Behavior::Ok);
        h.wait_primary_ok().await;
        let dir = TempDir::new("kill-case");
        let config = write_config(
            &dir.0,
            &h.moto.endpoint,
            &h.zone_id,
            &h.primary.url(),
            &h.standby.url(),
        );

        let mut first = spawn_serve(&config, Some(boundary));
        // Automatic failover needs the primary seen healthy first (armed): wait for that rather
        // than for a fixed half second, which a loaded machine's daemon start can outlast.
        wait_for("armed", Duration::from_secs(60), || {
            state_serving(&dir.0).contains("\"armed\": {")
        })
        .await;
        h.primary.set(Behavior::Status(503));
        let hold = dir.0.join("state/test-hold");
        wait_for(
            &format!("hold at {boundary}"),
            Duration::from_secs(60),
            || hold.exists(),
        )
        .await;
        first.kill().expect("SIGKILL");
        first.wait().unwrap();
        std::fs::remove_file(&hold).unwrap();

        let mut second = spawn_serve(&config, None);
        wait_for(
            &format!("resumed run to finish after a kill at {boundary}"),
            Duration::from_secs(60),
            || state_serving(&dir.0).contains("\"mode\": \"standby\""),
        )
        .await;
        second.kill().unwrap();
        second.wait().unwrap();

        let runs: Vec<_> = std::fs::read_dir(dir.0.join("state/runs"))
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        assert_eq!(
            runs.len(),
            1,
            "one run, not a second one, after a kill at {boundary}: {runs:?}"
        );
        let run = read_json(&runs[0]);
        assert_eq!(run["status"], "succeeded", "{boundary}: {run:#}");
        assert_eq!(run["resumed_at"].as_array().unwrap().len(), 1, "{boundary}");
        assert_each_step_succeeded_once(&run, boundary);
        assert_eq!(
            h.capacity(&w.standby_region, &w.standby_asg).await,
            (4, 4),
            "{boundary}"
        );
        assert_eq!(h.record().await, w.standby_value, "{boundary}");
        let report = read_json(
            &dir.0
                .join("reports")
                .join(run["id"].as_str().unwrap())
                .join("report.json"),
        );
        assert_eq!(report["result"], "succeeded");
        assert_eq!(report["resumed_at"].as_array().unwrap().len(), 1);
        validate_report(&dir.0.join("reports").join(run["id"].as_str().unwrap()));
    }
}

/// SIGTERM in the middle of a run: the step in flight finishes, the journal notes the safe point,
/// the process exits 0, and the next start completes the run without running a step twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_run_stops_at_a_safe_point_and_resumes() {
    let h = Harness::start("term").await;
    let mut serve = spawn_serve(&h.config, None);
    wait_for("armed", Duration::from_secs(60), || armed(&h)).await;
    h.primary.set(Behavior::Status(503));

    // The standby's warm-up keeps verify-standby running for a while: stop during it.
    let runs_dir = h.state_dir().join("runs");
    wait_for("verify-standby to start", Duration::from_secs(60), || {
        std::fs::read_dir(&runs_dir)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
                    .any(|e| {
                        let run: serde_json::Value = serde_json::from_str(
                            &std::fs::read_to_string(e.path()).unwrap_or_default(),
                        )
                        .unwrap_or_default();
                        run["steps"][4]["status"] == "running"
                    })
            })
            .unwrap_or(false)
    })
    .await;
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &serve.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    let status = tokio::task::spawn_blocking(move || serve.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.code(), Some(0), "SIGTERM is a clean exit");

    let run_path = std::fs::read_dir(&runs_dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "json"))
        .unwrap();
    let run = read_json(&run_path);
    assert_eq!(run["status"], "running");
    assert_eq!(
        run["steps"][4]["status"], "succeeded",
        "the step in flight finished: {run:#}"
    );
    assert_eq!(
        run["steps"][5]["status"], "pending",
        "nothing after the safe point ran"
    );
    assert!(run["notes"].as_array().unwrap().iter().any(|n| {
        n["text"]
            .as_str()
            .unwrap()
            .contains("stopped before step flip-dns")
    }));
    assert_eq!(
        h.record().await,
        h.world.primary_value,
        "DNS untouched before the safe point"
    );

    let mut again = spawn_serve(&h.config, None);
    wait_for(
        "the run to complete after restart",
        Duration::from_secs(60),
        || state_serving(&h.dir.0).contains("\"mode\": \"standby\""),
    )
    .await;
    again.kill().unwrap();
    again.wait().unwrap();
    let run = read_json(&run_path);
    assert_eq!(run["status"], "succeeded");
    for step in run["steps"].as_array().unwrap() {
        assert_eq!(step["attempts"], 1, "{}", step["name"]);
    }
    assert_eq!(h.record().await, h.world.standby_value);
}
