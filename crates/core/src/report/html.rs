//! The HTML report: one self-contained file (inline CSS and SVG, no script, no external assets)
//! that opens anywhere and prints well: the timeline first, then the figures and the evidence.

use std::fmt::Write;

use super::{Report, esc, ms, svg};
use crate::duration::human;
use crate::plan::Changes;
use crate::record::{RunStatus, StepStatus};
use crate::sync::manifest::Rpo;

const STYLE: &str = "body{font-family:-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;color:#212121;margin:24px auto;max-width:1000px;padding:0 16px;line-height:1.4}\
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #e0e0e0;padding-bottom:4px}\
table{border-collapse:collapse;width:100%;font-size:13px}th,td{border:1px solid #e0e0e0;padding:4px 8px;text-align:left;vertical-align:top}\
th{background:#f5f5f5}td.num{text-align:right;white-space:nowrap}.badge{display:inline-block;padding:2px 10px;border-radius:12px;color:#fff;font-weight:600;font-size:13px}\
.ok{background:#2e7d32}.bad{background:#c62828}.warn{background:#ef6c00}.muted{color:#757575}.summary{font-size:15px;margin:8px 0 16px}\
.figure{overflow-x:auto;border:1px solid #e0e0e0;padding:4px}.figure svg{display:block;width:100%;height:auto}\
@media (max-width:600px){body{margin:12px auto;padding:0 8px}table{font-size:12px}td,th{padding:3px 5px;overflow-wrap:break-word}}.legend span{display:inline-block;margin-right:14px;font-size:12px}\
.legend i{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:middle}code{font-size:12px;background:#f5f5f5;padding:1px 4px}";

pub fn render(r: &Report) -> String {
    let mut o = String::new();
    let verdict_ok = r.result == RunStatus::Succeeded && r.rto.objective_met;
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{} {} {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        esc(&r.service),
        esc(&r.kind),
        esc(&r.run_id)
    );
    let _ = writeln!(
        o,
        "<h1>{} {} <span class=\"badge {}\">{}</span></h1>",
        esc(&r.service),
        esc(&r.kind),
        if verdict_ok { "ok" } else { "bad" },
        if verdict_ok {
            "objective met".to_string()
        } else if r.result == RunStatus::Succeeded {
            "objective BREACHED".to_string()
        } else {
            super::status_word(r.result).to_string()
        }
    );
    let _ = writeln!(
        o,
        "<p class=\"muted\">Run <code>{}</code>, started {}{}; {}.</p>",
        esc(&r.run_id),
        super::ts(r.started_at),
        r.finished_at
            .map(|f| format!(", finished {}", super::ts(f)))
            .unwrap_or_default(),
        esc(&r.reason)
    );
    if let Some(origin) = &r.origin {
        let _ = writeln!(
            o,
            "<p class=\"muted\">{}</p>",
            esc(&super::origin_line(origin))
        );
    }
    let _ = writeln!(o, "<p class=\"summary\">{}</p>", esc(&r.summary()));

    let _ = writeln!(
        o,
        "<h2>Timeline</h2>\n<div class=\"figure\">{}</div>",
        svg::timeline(r)
    );
    let _ = writeln!(
        o,
        "<p class=\"legend\"><span><i style=\"background:{}\">&#160;</i>within budget</span><span><i style=\"background:{}\">&#160;</i>over budget</span><span><i style=\"background:{}\">&#160;</i>failed</span><span><i style=\"background:{}\">&#160;</i>skipped / modelled</span><span>dashed outline: the step's budget</span></p>",
        svg::OK,
        svg::OVER,
        svg::FAILED,
        svg::SKIPPED
    );

    rto(&mut o, r);
    drill(&mut o, r);
    prewarm(&mut o, r);
    readiness(&mut o, r);
    rpo(&mut o, r);
    probes(&mut o, r);
    steps(&mut o, r);
    changes(&mut o, r);
    trigger(&mut o, r);
    if !r.attempts.is_empty() {
        let _ = writeln!(
            o,
            "<h2>Failed attempts</h2>\n<table>\n<tr><th>#</th><th>step</th><th>at</th><th>why</th><th>then</th></tr>"
        );
        for a in &r.attempts {
            let _ = writeln!(
                o,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                a.attempt,
                esc(&a.step),
                super::ts(a.at),
                esc(&a.reason),
                esc(&a.then)
            );
        }
        let _ = writeln!(o, "</table>");
    }
    if !r.resumed_at.is_empty() || !r.notes.is_empty() {
        let _ = writeln!(o, "<h2>Notes</h2>\n<ul>");
        for t in &r.resumed_at {
            let _ = writeln!(
                o,
                "<li>resumed after an interruption at {}</li>",
                super::ts(*t)
            );
        }
        for n in &r.notes {
            let _ = writeln!(o, "<li>{}</li>", esc(n));
        }
        let _ = writeln!(o, "</ul>");
    }
    let _ = writeln!(
        o,
        "<h2>Provenance</h2>\n<table>\n<tr><th>runbook</th><td><code>{}</code></td><td><code>{}</code></td></tr>\n<tr><th>config</th><td><code>{}</code></td><td><code>{}</code></td></tr>\n</table>",
        esc(&r.runbook.path),
        esc(r.runbook.digest.as_deref().unwrap_or("—")),
        esc(&r.config.path),
        esc(r.config.digest.as_deref().unwrap_or("—"))
    );
    let _ = writeln!(
        o,
        "<p class=\"muted\">Written by standby {}; report schema version {}.</p>\n</body>\n</html>",
        env!("CARGO_PKG_VERSION"),
        r.schema_version
    );
    o
}

fn rto(o: &mut String, r: &Report) {
    let label = if r.rto.basis == super::RtoBasis::DrillEstimate {
        "would-be RTO (no traffic moved)"
    } else {
        "RTO (onset → first good answer)"
    };
    let _ = writeln!(o, "<h2>RTO</h2>\n<table>");
    let _ = writeln!(
        o,
        "<tr><th>objective</th><td class=\"num\">{}</td></tr>",
        ms(r.rto.objective_ms)
    );
    match (r.rto.measured_ms, r.rto.effective_ms) {
        (Some(m), Some(e)) => {
            let _ = writeln!(
                o,
                "<tr><th>{label}</th><td class=\"num\">{}</td></tr>",
                esc(&super::rto_figure(&r.rto, m))
            );
            let _ = writeln!(
                o,
                "<tr><th>effective (+ DNS TTL {})</th><td class=\"num\">{}</td></tr>",
                ms(r.rto.dns_ttl_ms),
                ms(e)
            );
        }
        _ => {
            let _ = writeln!(
                o,
                "<tr><th>{label}</th><td>not recovered: no verify step succeeded</td></tr>"
            );
        }
    }
    let _ = writeln!(
        o,
        "<tr><th>objective met</th><td class=\"num\"><span class=\"badge {}\">{}</span></td></tr>",
        if r.rto.objective_met { "ok" } else { "bad" },
        match r.rto.objective {
            super::Objective::Met => "yes",
            super::Objective::Unproven => "NOT PROVEN (the estimates span it)",
            super::Objective::Breached => "NO",
        }
    );
    let mut instants = vec![];
    if let Some(g) = r.rto.onset.last_good {
        instants.push(("last good probe (onset after)", g));
    }
    instants.push((
        if r.trigger.kind == "automatic" {
            "first failing probe (onset before)"
        } else {
            "command"
        },
        r.rto.onset.first_failing,
    ));
    if let Some(t) = r.rto.restored_at {
        instants.push(("restored (first good answer)", t));
    }
    if let Some(t) = r.rto.confirmed_at {
        instants.push(("confirmed (outside the RTO)", t));
    }
    for (what, t) in instants {
        let _ = writeln!(
            o,
            "<tr><th>{what}</th><td class=\"num\">{}</td></tr>",
            super::ts(t)
        );
    }
    if let Some(at) = r.rto.breach_projected_at {
        let _ = writeln!(
            o,
            "<tr><th>breach projected</th><td class=\"num\">{}</td></tr>",
            super::ts(at)
        );
    }
    if let Some(from) = &r.rto.projection_from {
        let _ = writeln!(
            o,
            "<tr><th>projection used step durations of</th><td class=\"num\"><code>{}</code></td></tr>",
            esc(from)
        );
    }
    let _ = writeln!(o, "</table>");
    if r.rto.basis == super::RtoBasis::Measured {
        let b = &r.rto.breakdown;
        let _ = writeln!(
            o,
            "<table>\n<tr><th>detect (onset gap {})</th><th>decide</th><th>sync</th><th>scale</th><th>verify</th><th>DNS</th><th>other</th></tr>\n<tr><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>\n</table>",
            ms(b.onset_gap_ms),
            ms(b.detect_ms),
            ms(b.decide_ms),
            ms(b.sync_ms),
            ms(b.scale_ms),
            ms(b.verify_ms),
            ms(b.dns_ms),
            ms(b.other_ms)
        );
    }
}

fn drill(o: &mut String, r: &Report) {
    let Some(d) = &r.drill else { return };
    let _ = writeln!(o, "<h2>Drill</h2>\n<table>");
    let opt = |v: Option<u64>| v.map(ms).unwrap_or_else(|| "—".into());
    let _ = writeln!(o, "<tr><th>kind</th><td>{}</td></tr>", esc(&d.kind));
    let _ = writeln!(
        o,
        "<tr><th>scale-up to InService</th><td class=\"num\">{}</td></tr>",
        opt(d.scale_ms)
    );
    let _ = writeln!(
        o,
        "<tr><th>warm-up (InService → first good answer)</th><td class=\"num\">{}</td></tr>",
        opt(d.warmup_ms)
    );
    if d.failback_ms.is_some() {
        let _ = writeln!(
            o,
            "<tr><th>failback (start → verified)</th><td class=\"num\">{}</td></tr>",
            opt(d.failback_ms)
        );
    }
    let _ = writeln!(
        o,
        "<tr><th>cost</th><td>{} ({})</td></tr>",
        esc(&d
            .cost_usd
            .map_or("unknown".to_string(), crate::cost::dollars)),
        esc(&d.cost_basis)
    );
    let _ = writeln!(
        o,
        "<tr><th>aborted</th><td>{}</td></tr>",
        if d.aborted { "yes" } else { "no" }
    );
    let _ = writeln!(
        o,
        "<tr><th>{}</th><td>{}</td></tr>\n</table>",
        if d.kind == "drill-standby" {
            "standby back at warm"
        } else {
            "traffic back on the primary"
        },
        if d.restored {
            "yes"
        } else {
            "<strong>NO</strong>"
        }
    );
    if !d.would_be.is_empty() {
        let _ = writeln!(
            o,
            "<table>\n<tr><th>would-be failover step</th><th>duration</th><th>range</th><th>basis</th><th>source</th></tr>"
        );
        for c in &d.would_be {
            let _ = writeln!(
                o,
                "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}–{}</td><td>{}</td><td>{}</td></tr>",
                esc(&c.name),
                ms(c.ms),
                ms(c.low_ms),
                ms(c.high_ms),
                esc(c.basis.as_str()),
                esc(&c.source)
            );
        }
        let _ = writeln!(o, "</table>");
    }
}

fn prewarm(o: &mut String, r: &Report) {
    let Some(p) = &r.prewarm else { return };
    let _ = writeln!(o, "<h2>Pre-warm</h2>\n<table>");
    for (k, v) in p.rows() {
        let _ = writeln!(o, "<tr><th>{k}</th><td>{}</td></tr>", esc(&v));
    }
    let _ = writeln!(o, "</table>");
}

fn readiness(o: &mut String, r: &Report) {
    let Some(rd) = &r.readiness else { return };
    let _ = writeln!(o, "<h2>Readiness</h2>\n<p>{}</p>", esc(&rd.lead()));
    if !rd.findings.is_empty() {
        let _ = writeln!(o, "<ul>");
        for f in &rd.findings {
            let _ = writeln!(o, "<li>{}</li>", esc(f));
        }
        let _ = writeln!(o, "</ul>");
    }
}

fn rpo(o: &mut String, r: &Report) {
    if r.rpo.is_empty() {
        return;
    }
    let _ = writeln!(
        o,
        "<h2>RPO per artifact set</h2>\n<table>\n<tr><th>set</th><th>objective</th><th>at the failure</th><th>after the final sync (lost)</th><th>writes lost</th></tr>"
    );
    let fig = |p: Option<&Rpo>| {
        p.map(|r| {
            format!(
                "<span title=\"{}\">{} ({})</span>{}",
                esc(&r.reason),
                esc(&r.figure()),
                r.kind.as_str(),
                if r.over_objective {
                    " <strong>over</strong>"
                } else {
                    ""
                }
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
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            esc(&p.set),
            ms(p.objective_ms),
            fig(p.at_failure.as_ref()),
            fig(p.after_final_sync.as_ref()),
            esc(&lost)
        );
    }
    let _ = writeln!(o, "</table>");
}

fn probes(o: &mut String, r: &Report) {
    if r.probes.is_empty() {
        return;
    }
    let _ = writeln!(o, "<h2>Synthetic probes</h2>");
    for p in &r.probes {
        let _ = writeln!(
            o,
            "<p><span class=\"badge {}\">{}</span> {} <code>{} {}</code> at {}: {}</p>",
            if p.ok {
                "ok"
            } else if p.drift {
                "warn"
            } else {
                "bad"
            },
            if p.ok {
                "ok"
            } else if p.drift {
                "drift"
            } else {
                "failed"
            },
            p.side,
            esc(&p.request.method),
            esc(&p.url),
            super::ts(p.at),
            esc(&p.reason)
        );
        let _ = writeln!(
            o,
            "<table>\n<tr><th>check</th><th>result</th><th>detail</th></tr>"
        );
        for c in &p.checks {
            let _ = writeln!(
                o,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&c.name),
                if c.ok {
                    "ok"
                } else {
                    "<strong>FAILED</strong>"
                },
                esc(&c.reason)
            );
        }
        let _ = writeln!(o, "</table>");
    }
}

fn steps(o: &mut String, r: &Report) {
    let _ = writeln!(
        o,
        "<h2>Steps</h2>\n<table>\n<tr><th>#</th><th>step</th><th>action</th><th>status</th><th>duration</th><th>budget</th><th>attempts</th><th>reason</th></tr>"
    );
    for (i, s) in r.steps.iter().enumerate() {
        let status = s.status.to_string();
        let status = match s.status {
            StepStatus::Failed => format!("<strong>{status}</strong>"),
            _ => status,
        };
        let _ = writeln!(
            o,
            "<tr><td class=\"num\">{}</td><td>{}{}</td><td>{}</td><td>{status}</td><td class=\"num\">{}{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            i + 1,
            esc(&s.name),
            if s.cleanup {
                " <span class=\"muted\">(cleanup)</span>"
            } else {
                ""
            },
            esc(&s.action),
            s.duration_ms.map(ms).unwrap_or_else(|| "—".into()),
            if s.over_budget {
                " <strong>over budget</strong>"
            } else {
                ""
            },
            ms(s.budget_ms),
            s.attempts,
            esc(&s.reason)
        );
    }
    let _ = writeln!(o, "</table>");
}

fn changes(o: &mut String, r: &Report) {
    let mut items = Vec::new();
    let mut sizes = crate::plan::SizesBefore::default();
    for s in &r.steps {
        match &s.planned {
            Changes::Asgs { groups } => {
                for g in groups {
                    let from = sizes.describe(g, "not found");
                    items.push(format!(
                        "<code>{}</code>: ASG {} ({}): {from} → desired {} (min {}, max {})",
                        esc(&s.name),
                        esc(&g.name),
                        esc(&g.region),
                        g.desired,
                        g.min,
                        g.max
                    ));
                }
            }
            Changes::Dns(d) => items.push(format!(
                "<code>{}</code>: {} {} {} → {} (TTL {}s)",
                esc(&s.name),
                esc(&d.record_type),
                esc(&d.name),
                esc(d.from.as_deref().unwrap_or("(none)")),
                esc(&d.to),
                d.ttl
            )),
            Changes::Sync { sets, .. } => {
                for t in sets {
                    items.push(format!(
                        "<code>{}</code>: artifact set {} ({} → {})",
                        esc(&s.name),
                        esc(&t.set),
                        esc(&t.from),
                        esc(&t.to)
                    ));
                }
            }
            Changes::Probe { .. } | Changes::Smoke { .. } | Changes::None => {}
        }
    }
    if items.is_empty() {
        return;
    }
    let _ = writeln!(o, "<h2>Planned changes</h2>\n<ul>");
    for i in items {
        let _ = writeln!(o, "<li>{i}</li>");
    }
    let _ = writeln!(o, "</ul>");
}

fn trigger(o: &mut String, r: &Report) {
    let _ = writeln!(
        o,
        "<h2>Trigger</h2>\n<p>{} — {}</p>",
        esc(&r.trigger.kind),
        esc(&r.trigger.reason)
    );
    if r.trigger.evidence.is_empty() {
        return;
    }
    let _ = writeln!(
        o,
        "<table>\n<tr><th>probe at</th><th>outcome</th><th>status</th><th>latency</th><th>attempts</th><th>detail</th></tr>"
    );
    for p in &r.trigger.evidence {
        let _ = writeln!(
            o,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            super::ts(p.at),
            p.outcome.as_str(),
            p.status
                .map(|s| s.to_string())
                .unwrap_or_else(|| "—".into()),
            human(p.latency),
            p.attempts,
            esc(&p.detail)
        );
    }
    let _ = writeln!(o, "</table>");
}
