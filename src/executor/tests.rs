//! The executor's loop, driven through [`StepRunner`] with scripted steps, a memory store and
//! paused time: retries and their waits, giving up, timeouts, shutdown between steps and resume.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use serde_json::json;
use standby_core::machine::Trigger;
use standby_core::plan::{AsgCapacity, AsgObservation, PlannedStep, RecordObservation, World};
use standby_core::runbook::RunbookKind;
use tokio::sync::watch;

use super::steps::{StepOutcome, StepRunner};
use super::{RunEnd, create_run, execute_with};
use crate::context::Ctx;
use crate::journal::{AttemptNext, Journal, RunRecord, RunStatus, StepStatus};
use crate::store::{MemoryStore, Store};

/// What a scripted step does on one attempt.
enum Act {
    Ok,
    Fail(&'static str),
    Hang,
}

/// Steps that do what the script says (ok when it says nothing) and count their attempts; one
/// may ask for shutdown once it is done.
#[derive(Default)]
struct Scripted {
    script: Mutex<BTreeMap<String, VecDeque<Act>>>,
    calls: Mutex<Vec<String>>,
    stop_after: Option<(String, watch::Sender<bool>)>,
}

impl Scripted {
    fn on(self, step: &str, acts: Vec<Act>) -> Self {
        self.script
            .lock()
            .unwrap()
            .insert(step.to_string(), acts.into());
        self
    }

    fn calls(&self, step: &str) -> usize {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|s| *s == step)
            .count()
    }
}

impl StepRunner for Scripted {
    async fn run(&self, _ctx: &Ctx, _run: &RunRecord, step: &PlannedStep) -> StepOutcome {
        self.calls.lock().unwrap().push(step.name.clone());
        let act = self
            .script
            .lock()
            .unwrap()
            .get_mut(&step.name)
            .and_then(VecDeque::pop_front)
            .unwrap_or(Act::Ok);
        if let Some((name, tx)) = &self.stop_after
            && *name == step.name
        {
            let _ = tx.send(true);
        }
        match act {
            Act::Ok => StepOutcome::ok(format!("{} done", step.name), json!({})),
            Act::Fail(why) => StepOutcome::failed(why.into(), json!({})),
            Act::Hang => std::future::pending().await,
        }
    }
}

fn world() -> World {
    World {
        asgs: vec![
            AsgObservation {
                side: standby_core::config::Side::Primary,
                region: "us-east-1".into(),
                name: "gpu-use1".into(),
                capacity: Some(capacity(4)),
            },
            AsgObservation {
                side: standby_core::config::Side::Standby,
                region: "us-west-2".into(),
                name: "gpu-usw2".into(),
                capacity: Some(capacity(1)),
            },
        ],
        record: Some(RecordObservation::read("use1.example.com".into(), Some(5))),
        ..World::default()
    }
}

fn capacity(n: u32) -> AsgCapacity {
    AsgCapacity {
        desired: n,
        min: n,
        max: n.max(4),
        in_service: n,
        pending: 0,
    }
}

async fn failover(ctx: &Ctx) -> Journal {
    manual_run(ctx, "r1", RunbookKind::Failover).await
}

/// A run an operator started, on [`world`].
async fn manual_run(ctx: &Ctx, id: &str, kind: RunbookKind) -> Journal {
    let trigger = Trigger::Manual {
        command: format!("standby {}", kind.as_str()),
        at: chrono::Utc::now(),
    };
    create_run(ctx, id, kind, trigger, vec![], &world())
        .await
        .unwrap()
}

fn status(rec: &RunRecord, step: &str) -> StepStatus {
    rec.steps.iter().find(|s| s.name == step).unwrap().status
}

#[tokio::test(start_paused = true)]
async fn a_failed_step_is_retried_after_its_wait_and_the_run_goes_on_from_there() {
    let dir = crate::context::test_dir("retry");
    let (ctx, _tx) = crate::context::for_tests(&dir).await;
    let mut journal = failover(&ctx).await;
    let steps = Scripted::default().on(
        "scale-standby",
        vec![
            Act::Fail("Throttling: Rate exceeded"),
            Act::Fail("Throttling"),
        ],
    );
    let started = tokio::time::Instant::now();
    let end = execute_with(&ctx, &mut journal, &steps).await.unwrap();
    let RunEnd::Finished(rec) = end else {
        panic!("interrupted")
    };
    assert_eq!(rec.status, RunStatus::Succeeded, "{}", rec.reason);
    assert_eq!(steps.calls("scale-standby"), 3);
    assert_eq!(
        steps.calls("preflight"),
        1,
        "finished steps never run again"
    );
    assert_eq!(steps.calls("flip-dns"), 1);
    assert_eq!(rec.attempts.len(), 2);
    assert!(rec.attempts.iter().all(|a| a.next == AttemptNext::Retry));
    assert_eq!(rec.attempts[0].reason, "Throttling: Rate exceeded");
    assert_eq!(rec.attempts[0].step, "scale-standby");
    // The policy's waits (2 s, then 4 s, with jitter no longer than that) were slept.
    let waited = started.elapsed();
    assert!(
        waited >= std::time::Duration::from_secs(3) && waited <= std::time::Duration::from_secs(7),
        "{waited:?}"
    );
    assert!(rec.retry_at.is_none());
    // What the loop returned is what the store holds.
    let stored = crate::journal::load_run(&ctx.store, "r1").await.unwrap();
    assert_eq!(stored.status, RunStatus::Succeeded);
    assert_eq!(stored.attempts.len(), 2);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(start_paused = true)]
async fn a_step_that_keeps_failing_gives_up_skips_the_rest_and_still_runs_cleanup() {
    let dir = crate::context::test_dir("give-up");
    let (ctx, _tx) = crate::context::for_tests(&dir).await;
    let mut journal = failover(&ctx).await;
    let steps = Scripted::default().on(
        "verify-standby",
        (0..10).map(|_| Act::Fail("503 from the standby")).collect(),
    );
    let RunEnd::Finished(rec) = execute_with(&ctx, &mut journal, &steps).await.unwrap() else {
        panic!("interrupted")
    };
    assert_eq!(rec.status, RunStatus::Failed);
    let policy = ctx.cfg.failover.retry;
    assert_eq!(steps.calls("verify-standby") as u32, policy.attempts);
    assert_eq!(rec.attempts.len() as u32, policy.attempts);
    assert_eq!(rec.attempts.last().unwrap().next, AttemptNext::GiveUp);
    assert_eq!(status(&rec, "flip-dns"), StepStatus::Skipped);
    assert_eq!(
        steps.calls("flip-dns"),
        0,
        "DNS never moves to an unverified side"
    );
    // The report step is a cleanup step: it runs after an abort too.
    assert_eq!(steps.calls("report"), 1);
    assert!(
        rec.reason
            .starts_with("aborted: step verify-standby failed"),
        "{}",
        rec.reason
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// A drill's scale-back that is throttled is retried under the failover policy (a cleanup that
/// gave up would leave serving capacity billed); one that keeps failing ends the drill failed,
/// every attempt journaled.
#[tokio::test(start_paused = true)]
async fn a_failed_cleanup_step_is_retried_and_then_gives_up() {
    let dir = crate::context::test_dir("cleanup-retry");
    let (ctx, _tx) = crate::context::for_tests(&dir).await;
    let mut journal = manual_run(&ctx, "d1", RunbookKind::DrillStandby).await;
    let steps = Scripted::default().on(
        "standby-to-warm",
        vec![Act::Fail(
            "UpdateAutoScalingGroup: Throttling: Rate exceeded",
        )],
    );
    let RunEnd::Finished(rec) = execute_with(&ctx, &mut journal, &steps).await.unwrap() else {
        panic!("interrupted")
    };
    assert_eq!(rec.status, RunStatus::Succeeded, "{}", rec.reason);
    assert_eq!(steps.calls("standby-to-warm"), 2);
    assert_eq!(rec.attempts.len(), 1);
    assert_eq!(rec.attempts[0].next, AttemptNext::Retry);

    let mut journal = manual_run(&ctx, "d2", RunbookKind::DrillStandby).await;
    let steps = Scripted::default().on(
        "standby-to-warm",
        (0..10).map(|_| Act::Fail("AccessDenied")).collect(),
    );
    let RunEnd::Finished(rec) = execute_with(&ctx, &mut journal, &steps).await.unwrap() else {
        panic!("interrupted")
    };
    assert_eq!(rec.status, RunStatus::Failed);
    let policy = ctx.cfg.failover.retry;
    assert_eq!(steps.calls("standby-to-warm") as u32, policy.attempts);
    assert_eq!(rec.attempts.last().unwrap().next, AttemptNext::GiveUp);
    assert_eq!(steps.calls("report"), 1, "the report still runs");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(start_paused = true)]
async fn a_hanging_step_times_out_and_that_attempt_is_journaled() {
    let dir = crate::context::test_dir("timeout");
    let (ctx, _tx) = crate::context::for_tests(&dir).await;
    let mut journal = failover(&ctx).await;
    let steps = Scripted::default().on("flip-dns", vec![Act::Hang]);
    let RunEnd::Finished(rec) = execute_with(&ctx, &mut journal, &steps).await.unwrap() else {
        panic!("interrupted")
    };
    assert_eq!(rec.status, RunStatus::Succeeded, "{}", rec.reason);
    assert_eq!(rec.attempts.len(), 1);
    assert!(
        rec.attempts[0].reason.starts_with("timed out after"),
        "{}",
        rec.attempts[0].reason
    );
    assert_eq!(steps.calls("flip-dns"), 2);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(start_paused = true)]
async fn shutdown_stops_between_steps_and_a_resume_runs_each_step_once() {
    let dir = crate::context::test_dir("resume");
    let (ctx, tx) = crate::context::for_tests(&dir).await;
    let mut journal = failover(&ctx).await;
    let first = Scripted {
        stop_after: Some(("scale-standby".into(), tx)),
        ..Scripted::default()
    };
    let RunEnd::Interrupted(rec) = execute_with(&ctx, &mut journal, &first).await.unwrap() else {
        panic!("ran to the end through a shutdown")
    };
    assert_eq!(status(&rec, "scale-standby"), StepStatus::Succeeded);
    assert_eq!(status(&rec, "verify-standby"), StepStatus::Pending);
    assert!(
        rec.notes.iter().any(|n| n
            .text
            .starts_with("shutdown requested: stopped before step verify-standby")),
        "{:?}",
        rec.notes
    );

    // A new process: the journal from the store, a fresh shutdown signal.
    let (tx, shutdown) = watch::channel(false);
    let ctx = Ctx { shutdown, ..ctx };
    let mut journal = Journal::load(ctx.store.clone(), "r1").await.unwrap();
    let second = Scripted::default();
    let RunEnd::Finished(rec) = execute_with(&ctx, &mut journal, &second).await.unwrap() else {
        panic!("interrupted")
    };
    drop(tx);
    assert_eq!(rec.status, RunStatus::Succeeded, "{}", rec.reason);
    for step in ["preflight", "freeze-rpo", "final-sync", "scale-standby"] {
        assert_eq!(first.calls(step), 1, "{step}");
        assert_eq!(second.calls(step), 0, "{step} ran again after the resume");
    }
    for step in ["verify-standby", "flip-dns", "verify-after-flip", "report"] {
        assert_eq!(first.calls(step), 0, "{step}");
        assert_eq!(second.calls(step), 1, "{step}");
    }
    assert_eq!(rec.resumed_at.len(), 1);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn the_memory_store_refuses_stale_writers_like_the_file_store() {
    use crate::store::{Expect, StoreError};
    let s = MemoryStore::default();
    let v1 = s.put("k", Expect::Absent, b"a".to_vec()).await.unwrap();
    assert!(matches!(
        s.put("k", Expect::Absent, b"b".to_vec()).await,
        Err(StoreError::Conflict { .. })
    ));
    let v2 = s
        .put("k", Expect::Version(v1.clone()), b"b".to_vec())
        .await
        .unwrap();
    assert!(matches!(
        s.put("k", Expect::Version(v1), b"c".to_vec()).await,
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(s.get("k").await.unwrap().unwrap().version, v2);
    let lock = s.lock_run("r1").await.unwrap();
    assert!(lock.is_some());
    assert!(s.lock_run("r1").await.unwrap().is_none(), "held");
    drop(lock);
    assert!(
        s.lock_run("r1").await.unwrap().is_some(),
        "released on drop"
    );
}
