//! The Markdown report: for review in a pull request or a ticket.

use std::fmt::Write;

use super::*;

pub fn render(r: &Report) -> String {
    let mut o = String::new();
    let verdict = match r.result {
        RunStatus::Succeeded => "succeeded",
        RunStatus::Failed => "FAILED",
        RunStatus::Running => "still running",
    };
    let _ = writeln!(o, "# {} {} — {}\n", r.service, r.kind, verdict);
    let _ = writeln!(
        o,
        "Run `{}`, started {}, {}.\n",
        r.run_id,
        super::ts(r.started_at),
        r.reason
    );
    if let Some(origin) = &r.origin {
        let _ = writeln!(o, "{}\n", super::origin_line(origin));
    }
    if r.rto.basis == super::RtoBasis::DrillEstimate {
        let _ = writeln!(
            o,
            "A standby drill moves no traffic: the RTO below is the one a failover would have had now (see Drill).\n"
        );
    }
    let _ = writeln!(o, "## RTO\n");
    let _ = writeln!(o, "| measure | value |\n|---|---|");
    let _ = writeln!(o, "| objective | {} |", ms(r.rto.objective_ms));
    match (r.rto.measured_ms, r.rto.effective_ms) {
        (Some(m), Some(e)) => {
            let _ = writeln!(o, "| RTO | {} |", super::rto_figure(&r.rto, m));
            let _ = writeln!(
                o,
                "| effective (+ DNS TTL {}) | {} |",
                ms(r.rto.dns_ttl_ms),
                ms(e)
            );
        }
        _ => {
            let _ = writeln!(o, "| measured | not recovered: no verify step succeeded |");
        }
    }
    let _ = writeln!(
        o,
        "| objective met | {} |",
        match r.rto.objective {
            super::Objective::Met => "yes",
            super::Objective::Unproven => "**NOT PROVEN** (the estimates span it)",
            super::Objective::Breached => "**NO**",
        }
    );
    if let Some(g) = r.rto.onset.last_good {
        let _ = writeln!(o, "| last good probe (onset after) | {} |", super::ts(g));
    }
    let _ = writeln!(
        o,
        "| {} | {} |",
        if r.trigger.kind == "automatic" {
            "first failing probe (onset before)"
        } else {
            "command"
        },
        super::ts(r.rto.onset.first_failing)
    );
    if let Some(t) = r.rto.restored_at {
        let _ = writeln!(o, "| restored (first good answer) | {} |", super::ts(t));
    }
    if let Some(t) = r.rto.confirmed_at {
        let _ = writeln!(o, "| confirmed (outside the RTO) | {} |", super::ts(t));
    }
    let b = &r.rto.breakdown;
    let _ = writeln!(
        o,
        "\n| detect (of which onset gap) | decide | sync | scale | verify | DNS | other |\n|---|---|---|---|---|---|---|"
    );
    let _ = writeln!(
        o,
        "| {} ({}) | {} | {} | {} | {} | {} | {} |",
        ms(b.detect_ms),
        ms(b.onset_gap_ms),
        ms(b.decide_ms),
        ms(b.sync_ms),
        ms(b.scale_ms),
        ms(b.verify_ms),
        ms(b.dns_ms),
        ms(b.other_ms)
    );

    if let Some(d) = &r.drill {
        let opt = |v: Option<u64>| v.map(ms).unwrap_or_else(|| "—".into());
        let _ = writeln!(o, "\n## Drill\n");
        let _ = writeln!(o, "| measure | value |\n|---|---|");
        let _ = writeln!(o, "| scale-up to InService | {} |", opt(d.scale_ms));
        let _ = writeln!(
            o,
            "| warm-up (InService → first good answer) | {} |",
            opt(d.warmup_ms)
        );
        if d.failback_ms.is_some() {
            let _ = writeln!(
                o,
                "| failback (start → verified) | {} |",
                opt(d.failback_ms)
            );
        }
        let _ = writeln!(
            o,
            "| cost | {} ({}) |",
            d.cost_usd
                .map_or("unknown".to_string(), crate::cost::dollars),
            d.cost_basis
        );
        let _ = writeln!(o, "| aborted | {} |", if d.aborted { "yes" } else { "no" });
        let _ = writeln!(
            o,
            "| {} | {} |",
            if d.kind == "drill-standby" {
                "standby back at warm"
            } else {
                "traffic back on the primary"
            },
            if d.restored { "yes" } else { "**NO**" }
        );
        if !d.would_be.is_empty() {
            let _ = writeln!(
                o,
                "\n| would-be failover step | duration | range | basis | source |\n|---|---|---|---|---|"
            );
            for c in &d.would_be {
                let _ = writeln!(
                    o,
                    "| {} | {} | {}–{} | {} | {} |",
                    c.name,
                    ms(c.ms),
                    ms(c.low_ms),
                    ms(c.high_ms),
                    c.basis,
                    c.source.replace('|', "\\|")
                );
            }
        }
    }
    if let Some(p) = &r.prewarm {
        let _ = writeln!(o, "\n## Pre-warm\n");
        let _ = writeln!(o, "| measure | value |\n|---|---|");
        for (k, v) in p.rows() {
            let _ = writeln!(o, "| {k} | {} |", v.replace('|', "\\|"));
        }
    }
    if let Some(rd) = &r.readiness {
        let _ = writeln!(o, "\n## Readiness\n\n{}", rd.lead());
        if !rd.findings.is_empty() {
            let _ = writeln!(o);
            for f in &rd.findings {
                let _ = writeln!(o, "- {f}");
            }
        }
    }
    if !r.probes.is_empty() {
        let _ = writeln!(o, "\n## Synthetic probes\n");
        for p in &r.probes {
            let _ = writeln!(
                o,
                "- {} `{} {}` at {}: {}",
                p.side,
                p.request.method,
                p.url,
                super::ts(p.at),
                p.reason
            );
            for c in &p.checks {
                let _ = writeln!(
                    o,
                    "  - {} {}: {}",
                    if c.ok { "ok" } else { "**FAILED**" },
                    c.name,
                    c.reason
                );
            }
        }
    }
    if !r.rpo.is_empty() {
        let _ = writeln!(o, "\n## RPO per artifact set\n");
        let _ = writeln!(
            o,
            "| set | objective | at the failure | after the final sync (lost) | writes lost |\n|---|---|---|---|---|"
        );
        let fig = |p: Option<&crate::sync::manifest::Rpo>| {
            p.map(|r| {
                format!(
                    "{} ({}){}",
                    r.figure(),
                    r.kind.as_str(),
                    if r.over_objective { " **over**" } else { "" }
                )
            })
            .unwrap_or_else(|| "—".into())
        };
        for p in &r.rpo {
            let lost = match (&p.lost, p.lost_count) {
                (Some(_), Some(0)) => "none".to_string(),
                (Some(w), Some(n)) => format!("{n}: {}", super::writes_text(w, n)),
                _ => "unknown".into(),
            };
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} |",
                p.set,
                ms(p.objective_ms),
                fig(p.at_failure.as_ref()),
                fig(p.after_final_sync.as_ref()),
                lost.replace('|', "\\|")
            );
        }
        let _ = writeln!(o);
        for p in &r.rpo {
            for (when, f) in [
                ("at the failure", &p.at_failure),
                ("after the final sync", &p.after_final_sync),
            ] {
                if let Some(f) = f {
                    let _ = writeln!(o, "- {} {when} ({}): {}", p.set, super::ts(f.at), f.reason);
                }
            }
        }
    }
    let _ = writeln!(o, "\n## Steps\n");
    let _ = writeln!(
        o,
        "| # | step | action | status | duration | budget | attempts | reason |\n|---|---|---|---|---|---|---|---|"
    );
    for (i, s) in r.steps.iter().enumerate() {
        let dur = s.duration_ms.map(ms).unwrap_or_else(|| "—".into());
        let flag = if s.over_budget {
            " ⚠ over budget"
        } else {
            ""
        };
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {dur}{flag} | {} | {} | {} |",
            i + 1,
            s.name,
            s.action,
            s.status,
            ms(s.budget_ms),
            s.attempts,
            s.reason.replace('|', "\\|")
        );
    }
    aws_calls(&mut o, r);
    capacity(&mut o, r);
    let _ = writeln!(o, "\n## Changes\n");
    let mut sizes = crate::plan::SizesBefore::default();
    for s in &r.steps {
        match &s.planned {
            Changes::Asgs { groups } => {
                for g in groups {
                    let from = sizes.describe(g, "not found");
                    let _ = writeln!(
                        o,
                        "- `{}`: ASG {} ({}): {from} → desired {} (min {}, max {})",
                        s.name, g.name, g.region, g.desired, g.min, g.max
                    );
                }
            }
            Changes::Dns(d) => {
                let change_id = s
                    .details
                    .get("change_id")
                    .and_then(|v| v.as_str())
                    .unwrap_or("—");
                let _ = writeln!(
                    o,
                    "- `{}`: {} {} {} → {} (TTL {}s, change {change_id})",
                    s.name,
                    d.record_type,
                    d.name,
                    d.from.as_deref().unwrap_or("(none)"),
                    d.to,
                    d.ttl
                );
            }
            Changes::Sync { sets, .. } => {
                for t in sets {
                    let outcome = s
                        .details
                        .get("sets")
                        .and_then(|d| d.get(&t.set))
                        .and_then(|v| v.as_str())
                        .unwrap_or("not run");
                    let _ = writeln!(
                        o,
                        "- `{}`: artifact set {} ({} → {}): {outcome}",
                        s.name, t.set, t.from, t.to
                    );
                }
            }
            Changes::Probe { .. } | Changes::Smoke { .. } | Changes::None => {}
        }
    }
    let _ = writeln!(o, "\n## Trigger\n");
    let _ = writeln!(o, "{} — {}\n", r.trigger.kind, r.trigger.reason);
    if !r.trigger.evidence.is_empty() {
        let _ = writeln!(
            o,
            "| probe at | outcome | status | latency | attempts | detail |\n|---|---|---|---|---|---|"
        );
        for p in &r.trigger.evidence {
            let status = p
                .status
                .map(|s| s.to_string())
                .unwrap_or_else(|| "—".into());
            let _ = writeln!(
                o,
                "| {} | {} | {status} | {} | {} | {} |",
                super::ts(p.at),
                p.outcome.as_str(),
                human(p.latency),
                p.attempts,
                p.detail
            );
        }
    }
    if !r.attempts.is_empty() {
        let _ = writeln!(o, "\n## Failed attempts\n");
        let _ = writeln!(o, "| # | step | at | why | then |\n|---|---|---|---|---|");
        for a in &r.attempts {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} |",
                a.attempt,
                a.step,
                super::ts(a.at),
                a.reason.replace('|', "\\|"),
                a.then.replace('|', "\\|")
            );
        }
    }
    if !r.resumed_at.is_empty() || !r.notes.is_empty() {
        let _ = writeln!(o, "\n## Notes\n");
        for t in &r.resumed_at {
            let _ = writeln!(o, "- resumed after an interruption at {}", super::ts(*t));
        }
        for n in &r.notes {
            let _ = writeln!(o, "- {n}");
        }
    }
    let _ = writeln!(o, "\n## Provenance\n");
    let _ = writeln!(
        o,
        "- runbook: `{}` ({})",
        r.runbook.path,
        r.runbook.digest.as_deref().unwrap_or("—")
    );
    let _ = writeln!(
        o,
        "- config: `{}` ({})",
        r.config.path,
        r.config.digest.as_deref().unwrap_or("—")
    );
    o
}

/// What each step asked of AWS: requests on the wire, the SDK's retries among them, and how many
/// answers were throttling. From the steps' own tallies (only requests made by the step).
fn aws_calls(o: &mut String, r: &Report) {
    let rows: Vec<(&str, &serde_json::Value)> = r
        .steps
        .iter()
        .filter_map(|s| s.details.get("aws").map(|a| (s.name.as_str(), a)))
        .collect();
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(
        o,
        "\n## AWS calls\n\n| step | requests | retries | throttled |\n|---|---|---|---|"
    );
    let n = |a: &serde_json::Value, k: &str| a.get(k).and_then(|v| v.as_u64()).unwrap_or(0);
    let mut total = (0, 0, 0);
    for (name, a) in rows {
        let (q, t, th) = (n(a, "requests"), n(a, "retries"), n(a, "throttled"));
        total = (total.0 + q, total.1 + t, total.2 + th);
        let _ = writeln!(o, "| {name} | {q} | {t} | {th} |");
    }
    let _ = writeln!(
        o,
        "| **all steps** | {} | {} | {} |",
        total.0, total.1, total.2
    );
}

/// Scale-ups that met missing capacity: the spares asked, and what served when the step went on.
fn capacity(o: &mut String, r: &Report) {
    let mut lines = Vec::new();
    for s in &r.steps {
        let groups = s.details.get("groups").and_then(|g| g.as_array());
        for g in groups.into_iter().flatten() {
            let short = g.get("went_on_short").and_then(|v| v.as_bool()) == Some(true);
            let fallbacks = g.get("fallbacks").and_then(|v| v.as_array());
            let failed: u64 = g
                .get("engaged")
                .and_then(|v| v.as_array())
                .into_iter()
                .flatten()
                .filter_map(|e| e.get("failed_launches").and_then(|v| v.as_u64()))
                .sum();
            if !short && failed == 0 && fallbacks.is_none_or(|f| f.is_empty()) {
                continue;
            }
            let name = g.get("name").and_then(|v| v.as_str()).unwrap_or("?");
            let in_service = g.get("in_service").and_then(|v| v.as_u64()).unwrap_or(0);
            let target = g
                .get("target_desired")
                .and_then(|v| v.as_u64())
                .unwrap_or(0);
            let mut line = format!(
                "- {name} ({}): {in_service}/{target} InService when the step ended",
                s.name
            );
            if short {
                line.push_str(", going on at min_serving; the rest kept launching");
            }
            if failed > 0 {
                line.push_str(&format!("; {failed} launch(es) failed"));
            }
            for f in fallbacks.into_iter().flatten() {
                line.push_str(&format!(
                    "; fell back to {} (asked {}): {}",
                    f.get("group").and_then(|v| v.as_str()).unwrap_or("?"),
                    f.get("asked").and_then(|v| v.as_u64()).unwrap_or(0),
                    f.get("reason").and_then(|v| v.as_str()).unwrap_or("")
                ));
            }
            lines.push(line);
        }
    }
    if !lines.is_empty() {
        let _ = writeln!(o, "\n## Capacity\n");
        for l in lines {
            let _ = writeln!(o, "{}", l.replace('|', "\\|"));
        }
    }
}
