//! The commands behind the CLI. Each returns an exit code that means something:
//! 0 done and objectives met, 1 failed or objective breached, 2 usage or config error.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::watch;

use crate::aws::{self, Clients};
use crate::cli::RunArgs;
use crate::config::Config;
use crate::core::machine::Event;
use crate::duration::human;
use crate::executor::{Ctx, ExecError, RunEnd};
use crate::journal::{self, RunStatus};
use crate::report;
use crate::runbook::RunbookKind;
use crate::runner;
use crate::store::FileStore;

pub const EXIT_OK: u8 = 0;
pub const EXIT_FAILED: u8 = 1;
pub const EXIT_USAGE: u8 = 2;

#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    #[error(transparent)]
    Exec(#[from] ExecError),
    #[error(transparent)]
    Journal(#[from] journal::JournalError),
    #[error(transparent)]
    Aws(#[from] aws::AwsError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Loads and validates; prints every diagnostic. `Err(2)` when invalid.
pub fn load(path: &Path) -> Result<Config, u8> {
    match Config::load(path) {
        Ok((cfg, warnings)) => {
            eprint!("{warnings}");
            Ok(cfg)
        }
        Err(diags) => {
            eprint!("{diags}");
            let n = diags.errors().count();
            eprintln!(
                "{}: {n} error{} found; nothing was changed",
                path.display(),
                if n == 1 { "" } else { "s" }
            );
            Err(EXIT_USAGE)
        }
    }
}

pub fn validate(path: &Path) -> u8 {
    match load(path) {
        Ok(cfg) => {
            println!(
                "{}: valid (service {}, failover runbook {} steps, failback runbook {} steps)",
                path.display(),
                cfg.service.name,
                cfg.failover.runbook.steps.len(),
                cfg.failback.runbook.steps.len()
            );
            EXIT_OK
        }
        Err(code) => code,
    }
}

pub async fn context(cfg: Config, shutdown: watch::Receiver<bool>) -> Ctx {
    let clients = Clients::new(&cfg).await;
    let store = Arc::new(FileStore::new(&cfg.service.state_dir));
    Ctx {
        cfg: Arc::new(cfg),
        clients,
        store,
        shutdown,
    }
}

pub async fn serve(path: &Path, shutdown: watch::Receiver<bool>) -> Result<u8, OpsError> {
    let cfg = match load(path) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    std::fs::create_dir_all(&cfg.service.state_dir)?;
    let ctx = context(cfg, shutdown.clone()).await;
    crate::daemon::run(ctx, shutdown).await?;
    Ok(EXIT_OK)
}

/// `standby failover` / `standby failback`.
pub async fn run_command(
    kind: RunbookKind,
    args: &RunArgs,
    shutdown: watch::Receiver<bool>,
) -> Result<u8, OpsError> {
    let cfg = match load(&args.config.config) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    std::fs::create_dir_all(&cfg.service.state_dir)?;
    let ctx = context(cfg, shutdown).await;

    if !args.dry_run {
        // A run a crashed process left behind comes first: finish it rather than start another.
        if let Some(owned) = runner::adopt_unfinished(&ctx).await? {
            println!(
                "resuming unfinished run {} ({})",
                owned.journal.record.id,
                owned.journal.record.kind.as_str()
            );
            return finish(&ctx, runner::drive(&ctx, owned).await?);
        }
        let (state, _) = journal::read_state(&ctx.store).await?;
        if let Some(run) = state.serving.running() {
            eprintln!(
                "run {run} is in progress in another process (`standby status` shows its progress)"
            );
            return Ok(EXIT_FAILED);
        }
    }

    let command_at = Utc::now();
    let world = aws::observe(&ctx.clients, &ctx.cfg).await?;
    let runbook = match kind {
        RunbookKind::Failover => &ctx.cfg.failover.runbook,
        RunbookKind::Failback => &ctx.cfg.failback.runbook,
    };
    let plan = crate::plan::build(kind, &ctx.cfg, runbook, &world);
    print!("{}", crate::plan::render(&plan, &ctx.cfg));
    let checks = crate::plan::preflight(&plan, &ctx.cfg, &world);
    println!("preflight as of now:");
    for c in &checks {
        println!(
            "  [{}] {}: {}",
            if c.ok { "ok" } else { "FAIL" },
            c.name,
            c.reason
        );
    }
    if args.dry_run {
        println!("dry run: nothing was changed");
        return Ok(if checks.iter().all(|c| c.ok) {
            EXIT_OK
        } else {
            EXIT_FAILED
        });
    }
    if !args.yes && !confirm(kind)? {
        return Ok(EXIT_USAGE);
    }
    let event = Event::Requested {
        kind,
        force: args.force,
    };
    let (decision, owned) = runner::start(&ctx, &event, kind, vec![], Some(&world)).await?;
    let Some(mut owned) = owned else {
        eprintln!("{}", decision.reason);
        return Ok(EXIT_FAILED);
    };
    // The clock of a manual run starts at the command, not after the operator said yes.
    if let crate::core::machine::Trigger::Manual { at, .. } = &mut owned.journal.record.trigger {
        *at = command_at;
    }
    owned.journal.save().await.map_err(ExecError::from)?;
    println!(
        "run {} started: {}",
        owned.journal.record.id, decision.reason
    );
    finish(&ctx, runner::drive(&ctx, owned).await?)
}

fn confirm(kind: RunbookKind) -> Result<bool, OpsError> {
    if !std::io::stdin().is_terminal() {
        eprintln!(
            "refusing to {} without confirmation: stdin is not a terminal; pass --yes",
            kind.as_str()
        );
        return Ok(false);
    }
    print!(
        "Proceed with the {}? Type 'yes' to continue: ",
        kind.as_str()
    );
    std::io::stdout().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    if line.trim() == "yes" {
        Ok(true)
    } else {
        eprintln!("not confirmed; nothing was changed");
        Ok(false)
    }
}

fn finish(ctx: &Ctx, end: RunEnd) -> Result<u8, OpsError> {
    let rec = match end {
        RunEnd::Interrupted(r) => {
            eprintln!(
                "run {} interrupted at a safe point; run the same command again to resume it",
                r.id
            );
            return Ok(EXIT_FAILED);
        }
        RunEnd::Finished(r) => r,
    };
    let rep = report::build(&rec);
    let dir = ctx.cfg.service.reports_dir.join(&rec.id);
    println!("{}", rep.summary());
    println!("report: {}", dir.join("report.md").display());
    Ok(
        if rec.status == RunStatus::Succeeded && rep.rto.objective_met {
            EXIT_OK
        } else {
            EXIT_FAILED
        },
    )
}

pub async fn status(path: &Path) -> Result<u8, OpsError> {
    let cfg = match load(path) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let store: Arc<dyn crate::store::Store> = Arc::new(FileStore::new(&cfg.service.state_dir));
    let (state, _) = journal::read_state(&store).await?;
    println!("service:     {}", cfg.service.name);
    println!("serving:     {} ({})", state.serving.label(), state.reason);
    println!(
        "paused:      {}",
        if state.paused {
            "yes: observing only"
        } else {
            "no"
        }
    );
    match state.cooldown_until {
        Some(u) if u > Utc::now() => println!(
            "cooldown:    no automatic failover until {}",
            u.to_rfc3339()
        ),
        _ => println!("cooldown:    none"),
    }
    match journal::read_verdict(&store).await? {
        Some(v) => println!(
            "verdict:     {:?} since {}: {}",
            v.health,
            v.at.to_rfc3339(),
            v.reason
        ),
        None => println!("verdict:     none yet (is `standby serve` running?)"),
    }
    if let Some(run) = state.serving.running() {
        match journal::load_run(&store, run).await {
            Ok(r) => {
                let i = r.next_step().unwrap_or(r.steps.len().saturating_sub(1));
                let projected = report::projected_rto(&r, Utc::now());
                println!(
                    "running:     {run}: step {}/{} {} ({:?}); projected RTO {} / objective {}",
                    i + 1,
                    r.steps.len(),
                    r.steps[i].name,
                    r.steps[i].status,
                    human(projected),
                    human(cfg.service.rto)
                );
            }
            Err(e) => println!("running:     {run} ({e})"),
        }
    } else {
        println!("running:     nothing");
    }
    let runs = journal::list_runs(&store).await?;
    match runs.iter().rev().find(|r| r.status != RunStatus::Running) {
        Some(r) => {
            let rep = report::build(r);
            println!("last report: {}", rep.summary());
            println!(
                "             {}",
                cfg.service
                    .reports_dir
                    .join(&r.id)
                    .join("report.md")
                    .display()
            );
        }
        None => println!("last report: none"),
    }
    for a in &cfg.artifacts {
        let st = crate::sync::engine::read_state(&store, &a.name).await;
        let last = match (st.last_finished_at, st.last_ok) {
            (Some(t), Some(true)) => format!("last sync ok at {}", t.to_rfc3339()),
            (Some(t), _) => format!(
                "last sync FAILED at {}: {}",
                t.to_rfc3339(),
                st.last_message
            ),
            (None, _) if st.last_started_at.is_some() => {
                "a sync started and has not finished".into()
            }
            (None, _) => "never synced".into(),
        };
        println!(
            "artifacts:   {} ({}, every `{}`): {last}",
            a.name,
            a.prefix,
            a.schedule.text()
        );
        match (&st.last_rpo, st.last_published_at) {
            (Some(r), Some(p)) => {
                let bound = crate::duration::between(p, Utc::now());
                let over = if bound > a.rpo {
                    " — OVER OBJECTIVE"
                } else {
                    ""
                };
                println!(
                    "             {}; now at most {} behind (objective {}){over}",
                    rpo_line(r),
                    human(bound),
                    human(a.rpo)
                );
            }
            (Some(r), None) => println!("             {}", rpo_line(r)),
            _ => println!(
                "             RPO unknown: nothing published yet (objective {}) — OVER OBJECTIVE",
                human(a.rpo)
            ),
        }
    }
    Ok(EXIT_OK)
}

/// `standby sync [SET] [--dry-run]`: every set (or one) in parallel, each its own failure domain.
pub async fn sync(args: &crate::cli::SyncArgs) -> Result<u8, OpsError> {
    use crate::sync::engine::{Engine, Progress};
    let cfg = match load(&args.config.config) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let sets: Vec<crate::config::ArtifactSet> = cfg
        .artifacts
        .iter()
        .filter(|a| args.set.as_ref().is_none_or(|n| *n == a.name))
        .cloned()
        .collect();
    if let Some(name) = &args.set
        && sets.is_empty()
    {
        let known: Vec<&str> = cfg.artifacts.iter().map(|a| a.name.as_str()).collect();
        eprintln!(
            "no artifact set named {name:?} (configured: {})",
            if known.is_empty() {
                "none".into()
            } else {
                known.join(", ")
            }
        );
        return Ok(EXIT_USAGE);
    }
    if sets.is_empty() {
        println!("no artifact sets configured");
        return Ok(EXIT_OK);
    }
    std::fs::create_dir_all(&cfg.service.state_dir)?;
    let (_tx, rx) = watch::channel(false);
    let ctx = context(cfg, rx).await;
    let progress = std::sync::Arc::new(Progress::default());
    let ticker = std::io::stderr()
        .is_terminal()
        .then(|| tokio::spawn(show_progress(progress.clone())));
    let mut tasks = tokio::task::JoinSet::new();
    for set in sets {
        let engine = Engine {
            cfg: ctx.cfg.clone(),
            clients: ctx.clients.clone(),
            store: ctx.store.clone(),
            progress: progress.clone(),
        };
        let dry_run = args.dry_run;
        tasks.spawn(async move {
            (
                set.name.clone(),
                engine
                    .run(&set, crate::sync::Direction::Forward, dry_run)
                    .await,
            )
        });
    }
    let mut results = Vec::new();
    while let Some(Ok(r)) = tasks.join_next().await {
        results.push(r);
    }
    if let Some(t) = ticker {
        t.abort();
        eprint!("\r\x1b[2K");
    }
    results.sort_by(|a, b| a.0.cmp(&b.0));
    let mut code = EXIT_OK;
    for (name, r) in results {
        match r {
            Ok(o) => {
                println!(
                    "{name}: {}{}",
                    o.plan.summary(),
                    if o.published {
                        "; manifest published"
                    } else {
                        ""
                    }
                );
                if args.dry_run {
                    let changes: Vec<_> = o.plan.changes().collect();
                    for op in changes.iter().take(50) {
                        let verb = match op {
                            crate::sync::planner::Op::Copy { .. } => "copy",
                            crate::sync::planner::Op::Overwrite { .. } => "overwrite",
                            crate::sync::planner::Op::Delete { .. } => "delete",
                            crate::sync::planner::Op::Skip { .. } => "skip",
                        };
                        println!("  {verb:9} {}  ({})", op.key(), op.reason());
                    }
                    if changes.len() > 50 {
                        println!("  … and {} more", changes.len() - 50);
                    }
                }
                if let Some(why) = &o.incomplete {
                    println!("  {why}");
                    code = EXIT_FAILED;
                }
                if let Some(r) = &o.rpo {
                    println!("  {}", rpo_line(r));
                    if r.over_objective {
                        code = EXIT_FAILED;
                    }
                }
            }
            Err(e) => {
                println!("{name}: FAILED: {e}");
                code = EXIT_FAILED;
                // The figure an SRE needs most when a sync fails: how far behind are we now.
                if let Some(set) = ctx.cfg.artifacts.iter().find(|a| a.name == name)
                    && let Ok(r) = crate::sync::engine::measure_rpo(&ctx.clients, set).await
                {
                    println!("  {}", rpo_line(&r));
                }
            }
        }
    }
    if args.dry_run {
        println!("dry run: nothing was changed");
    }
    Ok(code)
}

pub fn rpo_line(r: &crate::sync::manifest::Rpo) -> String {
    use crate::sync::manifest::RpoKind;
    let v = r.value.map(human).unwrap_or_else(|| "unknown".into());
    let kind = match r.kind {
        RpoKind::Measured => "",
        RpoKind::UpperBound => "≤ ",
        RpoKind::Unknown => "",
    };
    let flag = if r.over_objective {
        " — OVER OBJECTIVE"
    } else {
        ""
    };
    format!(
        "RPO {kind}{v} (objective {}){flag}: {}",
        human(r.objective),
        r.reason
    )
}

async fn show_progress(p: std::sync::Arc<crate::sync::engine::Progress>) {
    use std::sync::atomic::Ordering::Relaxed;
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        eprint!(
            "\r\x1b[2Ksyncing: {}/{} objects, {} / {}",
            p.objects_done.load(Relaxed),
            p.objects_total.load(Relaxed),
            crate::sync::planner::bytes(p.bytes_done.load(Relaxed)),
            crate::sync::planner::bytes(p.bytes_total.load(Relaxed))
        );
    }
}
