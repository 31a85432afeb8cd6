//! A runbook hook: an operator's command, run with the run's context in its environment.

use serde_json::json;

use crate::context::Ctx;
use crate::journal::RunRecord;
use standby_core::plan::PlannedStep;

use super::StepOutcome;

/// A `[[pre]]`/`[[post]]` command: no shell; the run's identity in its environment; its exit
/// status decides the step and its output (bounded) goes into the report. A hook still running
/// when the step times out is killed.
pub async fn run(
    ctx: &Ctx,
    run: &RunRecord,
    step: &PlannedStep,
    command: &[String],
) -> StepOutcome {
    const KEEP: usize = 4096;
    let Some((program, args)) = command.split_first() else {
        return StepOutcome::failed("empty command".into(), json!({}));
    };
    let started = std::time::Instant::now();
    let out = tokio::process::Command::new(program)
        .args(args)
        .env("STANDBY_RUN_ID", &run.id)
        .env("STANDBY_RUN_KIND", run.kind.as_str())
        .env("STANDBY_PHASE", step.phase.as_str())
        .env("STANDBY_SERVICE", &ctx.cfg.service.name)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output()
        .await;
    let tail = |b: &[u8]| {
        let s = String::from_utf8_lossy(b);
        let start = s.len().saturating_sub(KEEP);
        let start = (start..=s.len())
            .find(|i| s.is_char_boundary(*i))
            .unwrap_or(s.len());
        s[start..].to_string()
    };
    match out {
        Err(e) => StepOutcome::failed(
            format!("{program:?} could not start: {e}"),
            json!({ "command": command }),
        ),
        Ok(o) => {
            let details = json!({
                "command": command,
                "exit_code": o.status.code(),
                "stdout": tail(&o.stdout),
                "stderr": tail(&o.stderr),
                "took_ms": standby_core::duration::millis(started.elapsed()),
            });
            let last_line = |b: &[u8]| {
                String::from_utf8_lossy(b)
                    .lines()
                    .last()
                    .unwrap_or("")
                    .to_string()
            };
            if o.status.success() {
                StepOutcome::ok(format!("{program} exited 0"), details)
            } else {
                let why = match o.status.code() {
                    Some(c) => format!("exited {c}"),
                    None => "was killed by a signal".into(),
                };
                let said = last_line(&o.stderr);
                StepOutcome::failed(
                    if said.is_empty() {
                        format!("{program} {why}")
                    } else {
                        format!("{program} {why}: {said}")
                    },
                    details,
                )
            }
        }
    }
}
