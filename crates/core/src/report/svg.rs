//! The timeline picture: one bar per step on a time axis from the RTO clock's start, the step's
//! budget drawn behind it, the RTO objective as a vertical line, and breaches in red. Plain SVG
//! text, no script, so it renders inline in the HTML report and in any browser or viewer.

use std::fmt::Write;

use chrono::{DateTime, Utc};

use super::{Report, StepSection, esc, ms};
use crate::record::StepStatus;

const WIDTH: f64 = 960.0;
const LABEL: f64 = 230.0;
const RIGHT: f64 = 30.0;
const ROW: f64 = 26.0;
const TOP: f64 = 34.0;

pub const OK: &str = "#2e7d32";
pub const OVER: &str = "#ef6c00";
pub const FAILED: &str = "#c62828";
pub const SKIPPED: &str = "#9e9e9e";

/// The picture for a report.
pub fn timeline(r: &Report) -> String {
    // A standby drill's clock starts at the command; its would-be RTO adds the detection a real
    // failure would have cost, drawn as a modelled first row.
    let modelled_detect = if r.rto.basis == super::RtoBasis::DrillEstimate {
        r.drill
            .as_ref()
            .and_then(|d| d.would_be.first())
            .map(|c| c.ms)
            .unwrap_or(0)
    } else {
        0
    };
    let origin = r.rto.clock_start;
    let at = |t: DateTime<Utc>| -> u64 {
        modelled_detect + u64::try_from((t - origin).num_milliseconds().max(0)).unwrap_or(0)
    };
    // The axis spans the run (its steps and its RTO), not the objective or the budgets: a 9 s
    // run against a 5-minute objective fills the width, and the objective is marked where it
    // falls, or at the right edge as off the scale.
    let mut end = r.rto.measured_ms.unwrap_or(0).max(modelled_detect);
    for s in &r.steps {
        if let Some(f) = s.finished_at {
            end = end.max(at(f));
        }
        if let Some(st) = s.started_at {
            end = end.max(at(st));
        }
    }
    let end = (end as f64 * 1.08).max(1000.0);
    let plot_right = WIDTH - RIGHT;
    // Past the axis (a long budget, an off-scale objective): drawn to the right edge.
    let x = |t: u64| (LABEL + (t as f64 / end) * (WIDTH - LABEL - RIGHT)).min(plot_right);

    let mut rows: Vec<Row> = Vec::new();
    if modelled_detect > 0 {
        rows.push(Row {
            label: "detect (modelled)".into(),
            start: Some(0),
            dur: Some(modelled_detect),
            budget: 0,
            color: SKIPPED,
            note: format!("{} configured detection", ms(modelled_detect)),
        });
    } else if r.rto.breakdown.detect_ms > 0 {
        rows.push(Row {
            label: "detect".into(),
            start: Some(0),
            dur: Some(r.rto.breakdown.detect_ms),
            budget: 0,
            color: SKIPPED,
            note: format!(
                "first failing probe → verdict {}",
                ms(r.rto.breakdown.detect_ms)
            ),
        });
    }
    for s in &r.steps {
        rows.push(step_row(s, &at));
    }
    let height = TOP + ROW * rows.len() as f64 + 40.0;
    let mut o = String::new();
    let _ = write!(
        o,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="100%" viewBox="0 0 {WIDTH} {height}" preserveAspectRatio="xMinYMin meet" role="img" aria-label="Timeline of run {id}">"#,
        id = esc(&r.run_id)
    );
    let _ = write!(
        o,
        "<title>Timeline of {} {}</title>",
        esc(&r.kind),
        esc(&r.run_id)
    );
    let _ = write!(
        o,
        r##"<rect x="0" y="0" width="{WIDTH}" height="{height}" fill="#ffffff"/>"##
    );
    // Breach zone: everything right of the objective, shaded when the effective RTO crosses it.
    let breached = r.rto.effective_ms.is_some_and(|e| e > r.rto.objective_ms)
        || (!r.rto.objective_met && r.rto.measured_ms.is_some());
    let ox = x(r.rto.objective_ms);
    if breached {
        let _ = write!(
            o,
            r##"<rect x="{ox:.1}" y="{TOP}" width="{w:.1}" height="{h:.1}" fill="#ffebee"/>"##,
            w = (WIDTH - RIGHT - ox).max(0.0),
            h = ROW * rows.len() as f64
        );
    }
    // Axis ticks.
    let step = tick_step(end);
    let mut t = 0.0;
    while t <= end {
        let tx = x(t as u64);
        let _ = write!(
            o,
            r##"<line x1="{tx:.1}" y1="{TOP}" x2="{tx:.1}" y2="{y2:.1}" stroke="#eeeeee"/><text x="{tx:.1}" y="{ty:.1}" font-size="11" fill="#616161" text-anchor="middle">{label}</text>"##,
            y2 = TOP + ROW * rows.len() as f64,
            ty = TOP - 8.0,
            label = ms(t as u64)
        );
        t += step;
    }
    for (i, row) in rows.iter().enumerate() {
        let y = TOP + ROW * i as f64;
        let _ = write!(
            o,
            r##"<text x="{lx}" y="{ty:.1}" font-size="12" fill="#212121" text-anchor="end">{label}</text>"##,
            lx = LABEL - 8.0,
            ty = y + ROW * 0.65,
            label = esc(&row.label)
        );
        if let Some(start) = row.start {
            if row.budget > 0 {
                let _ = write!(
                    o,
                    r##"<rect x="{bx:.1}" y="{by:.1}" width="{bw:.1}" height="{bh:.1}" fill="none" stroke="#90a4ae" stroke-dasharray="4 3"><title>budget {b}</title></rect>"##,
                    bx = x(start),
                    by = y + 4.0,
                    bw = (x(start + row.budget) - x(start)).max(1.0),
                    bh = ROW - 8.0,
                    b = ms(row.budget)
                );
            }
            if let Some(d) = row.dur {
                let _ = write!(
                    o,
                    r##"<rect x="{bx:.1}" y="{by:.1}" width="{bw:.1}" height="{bh:.1}" fill="{c}" rx="2"><title>{note}</title></rect>"##,
                    bx = x(start),
                    by = y + 7.0,
                    bw = (x(start + d) - x(start)).max(2.0),
                    bh = ROW - 14.0,
                    c = row.color,
                    note = esc(&row.note)
                );
                let _ = write!(
                    o,
                    r##"<text x="{tx:.1}" y="{ty:.1}" font-size="11" fill="#424242">{d}</text>"##,
                    // After the budget's outline, unless that runs off the axis: then
                    // after the bar, so the figure is never cut at the edge.
                    tx = if x(start + row.budget) >= plot_right - 40.0 {
                        x(start + d) + 4.0
                    } else {
                        x(start + d).max(x(start + row.budget)) + 4.0
                    },
                    ty = y + ROW * 0.65,
                    d = ms(d)
                );
            }
        } else {
            let _ = write!(
                o,
                r##"<text x="{tx}" y="{ty:.1}" font-size="11" fill="{SKIPPED}">{note}</text>"##,
                tx = LABEL + 4.0,
                ty = y + ROW * 0.65,
                note = esc(&row.note)
            );
        }
    }
    let bottom = TOP + ROW * rows.len() as f64;
    let off_scale = r.rto.objective_ms as f64 > end;
    let _ = write!(
        o,
        r##"<line x1="{ox:.1}" y1="{y1}" x2="{ox:.1}" y2="{bottom:.1}" stroke="{FAILED}" stroke-width="2" stroke-dasharray="6 4"/><text x="{ox:.1}" y="{ty:.1}" font-size="11" fill="{FAILED}" text-anchor="{anchor}">RTO objective {obj}{off}</text>"##,
        y1 = TOP - 4.0,
        ty = bottom + 14.0,
        obj = ms(r.rto.objective_ms),
        anchor = if off_scale { "end" } else { "middle" },
        off = if off_scale {
            " (off the scale) →"
        } else {
            ""
        }
    );
    if let (Some(m), Some(e)) = (r.rto.measured_ms, r.rto.effective_ms) {
        let color = if r.rto.objective_met { OK } else { FAILED };
        let (mx, ex) = (x(m), x(e));
        // The effective RTO (+ the DNS TTL) past the axis is said in the label, not drawn at
        // the edge where it would read as a time it is not.
        let ex_line = if e as f64 <= end {
            format!(
                r##"<line x1="{ex:.1}" y1="{TOP}" x2="{ex:.1}" y2="{bottom:.1}" stroke="{color}" stroke-width="1" stroke-dasharray="2 3"/>"##
            )
        } else {
            String::new()
        };
        let label = if r.rto.basis == super::RtoBasis::DrillEstimate {
            "would-be RTO"
        } else {
            "recovered"
        };
        let _ = write!(
            o,
            r##"<line x1="{mx:.1}" y1="{TOP}" x2="{mx:.1}" y2="{bottom:.1}" stroke="{color}" stroke-width="2"/>{ex_line}<text x="{mx:.1}" y="{ty:.1}" font-size="11" fill="{color}" text-anchor="{anchor}">{label} {mt}; +TTL {et}</text>"##,
            ty = bottom + 30.0,
            // Near the right edge the label reads leftwards, so it is not cut off.
            anchor = if mx > WIDTH * 0.6 { "end" } else { "start" },
            mt = ms(m),
            et = ms(e)
        );
    }
    o.push_str("</svg>");
    o
}

struct Row {
    label: String,
    start: Option<u64>,
    dur: Option<u64>,
    budget: u64,
    color: &'static str,
    note: String,
}

fn step_row(s: &StepSection, at: &dyn Fn(DateTime<Utc>) -> u64) -> Row {
    let color = match s.status {
        StepStatus::Succeeded if s.over_budget => OVER,
        StepStatus::Succeeded => OK,
        StepStatus::Failed => FAILED,
        StepStatus::Skipped | StepStatus::Pending | StepStatus::Running => SKIPPED,
    };
    let start = s.started_at.map(at);
    let dur = match (s.started_at, s.finished_at) {
        (Some(a), Some(b)) => Some(u64::try_from((b - a).num_milliseconds().max(0)).unwrap_or(0)),
        _ => None,
    };
    let status = s.status.to_string();
    Row {
        label: s.name.clone(),
        start,
        dur,
        budget: s.budget_ms,
        color,
        note: match dur {
            Some(d) => format!(
                "{} {status} in {}{}: {}",
                s.name,
                ms(d),
                if s.over_budget { " (over budget)" } else { "" },
                s.reason
            ),
            None => format!("{status}: {}", s.reason),
        },
    }
}

fn tick_step(end: f64) -> f64 {
    for step in [
        100.0,
        250.0,
        500.0,
        1_000.0,
        2_000.0,
        5_000.0,
        10_000.0,
        15_000.0,
        30_000.0,
        60_000.0,
        120_000.0,
        300_000.0,
        600_000.0,
        1_800_000.0,
        3_600_000.0,
    ] {
        if end / step <= 10.0 {
            return step;
        }
    }
    7_200_000.0
}
