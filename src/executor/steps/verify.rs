//! Verify a side: probe it until `successes` good answers in a row, stamping the first one.

use std::time::Duration;

use serde_json::json;

use crate::context::Ctx;
use standby_core::config::Side;
use standby_core::duration::human;
use standby_core::outcome::{OutcomeClass, ProbeResult};

use super::StepOutcome;

pub async fn run(
    ctx: &Ctx,
    side: Side,
    successes: u32,
    interval: Duration,
    timeout: Duration,
) -> StepOutcome {
    let url = ctx.cfg.side(side).endpoint.clone();
    let prober = &ctx.prober;
    // Stop a little before the step's hard timeout so the reason can say what the probes saw.
    let deadline = tokio::time::Instant::now() + timeout.saturating_sub(timeout / 20);
    let mut streak = 0;
    let mut rounds = 0;
    // The first good answer of the streak that verified: the moment service was back (the RTO
    // clock stops here); the confirming rounds after it only make the verdict sure.
    let mut first_ok: Option<ProbeResult> = None;
    loop {
        let r = prober.round(&url).await;
        rounds += 1;
        if r.outcome == OutcomeClass::Ok {
            streak += 1;
            if streak == 1 {
                first_ok = Some(r.clone());
            }
        } else {
            streak = 0;
            first_ok = None;
        }
        let last = Some(r);
        if streak >= successes {
            let first_ok_at = first_ok.as_ref().map(|f| f.at);
            return StepOutcome::ok(
                format!(
                    "{side} answered {successes} consecutive probes ok ({rounds} rounds); first good answer at {}",
                    first_ok_at
                        .map(|t| t.format("%H:%M:%S%.3f").to_string())
                        .unwrap_or_default()
                ),
                json!({ "url": url, "rounds": rounds, "first_ok_at": first_ok_at, "first_ok": first_ok, "last": last }),
            );
        }
        if tokio::time::Instant::now() + interval >= deadline {
            let l = last
                .as_ref()
                .map(|l| format!("{} ({})", l.outcome.as_str(), l.detail))
                .unwrap_or_default();
            return StepOutcome::failed(
                format!(
                    "{side} not verified within {}: {streak}/{successes} consecutive ok after {rounds} rounds; last {l}",
                    human(timeout)
                ),
                json!({ "url": url, "rounds": rounds, "last": last }),
            );
        }
        tokio::time::sleep(interval).await;
    }
}
