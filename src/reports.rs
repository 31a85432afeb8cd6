//! Where reports live: `reports_dir/<run-id>/report.{json,md,html}` on disk, written atomically,
//! and the same three files under `reports/<run-id>/` in the standby region's bucket, so they
//! survive the loss of this host. Also reading them back for `standby report list|show`.

use std::path::{Path, PathBuf};

use tracing::warn;

use standby_aws::{Clients, s3};
use standby_core::config::{Config, Side};
use standby_core::report::{self, Report};

pub use standby_core::report::PREFIX;

#[derive(Debug, thiserror::Error)]
pub enum ReportsError {
    #[error("writing {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("reading {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not a report: {source}")]
    Corrupt {
        path: String,
        source: serde_json::Error,
    },
    #[error("no report for run {0:?}")]
    NotFound(String),
    #[error(transparent)]
    Aws(#[from] standby_aws::AwsError),
    #[error("no [standby] bucket configured: reports are kept locally only")]
    NoBucket,
}

/// The three renderings of a report, by file name.
pub fn renderings(rep: &Report) -> [(&'static str, String, &'static str); 3] {
    [
        ("report.json", report::to_json(rep), "application/json"),
        (
            "report.md",
            report::to_markdown(rep),
            "text/markdown; charset=utf-8",
        ),
        (
            "report.html",
            report::to_html(rep),
            "text/html; charset=utf-8",
        ),
    ]
}

/// Writes the three files atomically into `reports_dir/<run-id>/`; returns the directory.
pub fn write_local(cfg: &Config, rep: &Report) -> Result<PathBuf, ReportsError> {
    let dir = cfg.service.reports_dir.join(&rep.run_id);
    let err = |path: &Path| {
        let path = path.display().to_string();
        move |source| ReportsError::Write { path, source }
    };
    std::fs::create_dir_all(&dir).map_err(err(&dir))?;
    for (name, text, _) in renderings(rep) {
        let path = dir.join(name);
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, text)
            .and_then(|_| std::fs::rename(&tmp, &path))
            .map_err(err(&path))?;
    }
    Ok(dir)
}

/// Uploads the three files to `s3://<standby bucket>/reports/<run-id>/`.
pub async fn upload(cfg: &Config, clients: &Clients, rep: &Report) -> Result<String, ReportsError> {
    let bucket = cfg.standby.bucket.as_ref().ok_or(ReportsError::NoBucket)?;
    let client = clients.s3(Side::Standby);
    for (name, text, content_type) in renderings(rep) {
        let key = format!("{PREFIX}{}/{name}", rep.run_id);
        s3::put_bytes(client, bucket, &key, text.into_bytes(), content_type).await?;
    }
    Ok(format!("s3://{bucket}/{PREFIX}{}/", rep.run_id))
}

/// Every local report, newest first; unreadable ones are skipped with a warning.
pub fn list_local(cfg: &Config) -> Vec<Report> {
    let Ok(entries) = std::fs::read_dir(&cfg.service.reports_dir) else {
        return vec![];
    };
    let mut out: Vec<Report> = entries
        .flatten()
        .filter_map(|e| {
            let path = e.path().join("report.json");
            match read_local_file(&path) {
                Ok(r) => Some(r),
                Err(ReportsError::Read { .. }) => None,
                Err(e) => {
                    warn!("{e}");
                    None
                }
            }
        })
        .collect();
    out.sort_by(|a, b| b.run_id.cmp(&a.run_id));
    out
}

fn read_local_file(path: &Path) -> Result<Report, ReportsError> {
    let text = std::fs::read(path).map_err(|source| ReportsError::Read {
        path: path.display().to_string(),
        source,
    })?;
    serde_json::from_slice(&text).map_err(|source| ReportsError::Corrupt {
        path: path.display().to_string(),
        source,
    })
}

/// The reports uploaded to the standby bucket, newest first.
pub async fn list_remote(cfg: &Config, clients: &Clients) -> Result<Vec<Report>, ReportsError> {
    let bucket = cfg.standby.bucket.as_ref().ok_or(ReportsError::NoBucket)?;
    let client = clients.s3(Side::Standby);
    let objects = s3::list(client, bucket, PREFIX).await?;
    let mut out = Vec::new();
    for o in objects.iter().filter(|o| o.key.ends_with("/report.json")) {
        let Some(bytes) = s3::get_bytes(client, bucket, &o.key).await? else {
            continue;
        };
        match serde_json::from_slice::<Report>(&bytes) {
            Ok(r) => out.push(r),
            Err(e) => warn!("s3://{bucket}/{} is not a report: {e}", o.key),
        }
    }
    out.sort_by(|a, b| b.run_id.cmp(&a.run_id));
    Ok(out)
}

/// One run's report: a full run id, or a unique prefix or suffix of one.
pub fn find<'a>(reports: &'a [Report], run: &str) -> Result<&'a Report, ReportsError> {
    if let Some(r) = reports.iter().find(|r| r.run_id == run) {
        return Ok(r);
    }
    let matches: Vec<&Report> = reports
        .iter()
        .filter(|r| r.run_id.starts_with(run) || r.run_id.ends_with(run))
        .collect();
    match matches.as_slice() {
        [one] => Ok(one),
        _ => Err(ReportsError::NotFound(run.to_string())),
    }
}

/// One line per report for `standby report list`.
pub fn list_line(r: &Report) -> String {
    let rto = match (r.rto.measured_ms, r.rto.effective_ms) {
        (Some(m), Some(e)) => format!(
            "{}{} (eff. {}) / {} {}",
            if r.rto.basis == standby_core::report::RtoBasis::DrillEstimate {
                "~"
            } else {
                ""
            },
            report::ms(m),
            report::ms(e),
            report::ms(r.rto.objective_ms),
            if r.rto.objective_met {
                "met"
            } else {
                "BREACHED"
            }
        ),
        _ => format!("not recovered / {}", report::ms(r.rto.objective_ms)),
    };
    format!(
        "{:<36} {:<14} {:<10} {}",
        r.run_id,
        r.kind,
        report::status_word(r.result),
        rto
    )
}

/// The trend of the latest drills' (would-be) effective RTO, oldest to newest, for the list.
pub fn drill_trend(reports: &[Report], last: usize) -> Option<String> {
    let mut drills: Vec<&Report> = reports
        .iter()
        .filter(|r| r.kind.starts_with("drill"))
        .filter(|r| r.rto.effective_ms.is_some())
        .take(last)
        .collect();
    if drills.is_empty() {
        return None;
    }
    drills.reverse();
    let values: Vec<u64> = drills.iter().filter_map(|r| r.rto.effective_ms).collect();
    let text: Vec<String> = values.iter().map(|v| report::ms(*v)).collect();
    let direction = match (values.first(), values.last()) {
        (Some(a), Some(b)) if values.len() > 1 && *b > a + a / 10 => "rising ↑",
        (Some(a), Some(b)) if values.len() > 1 && b + b / 10 < *a => "falling ↓",
        _ if values.len() > 1 => "steady →",
        _ => "one drill so far",
    };
    let objective = drills.last().map(|r| r.rto.objective_ms).unwrap_or(0);
    Some(format!(
        "drill RTO trend (effective, last {}): {} — {direction}; objective {}",
        values.len(),
        text.join(" → "),
        report::ms(objective)
    ))
}
