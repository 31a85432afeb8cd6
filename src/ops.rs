//! The commands behind the CLI. Each returns an exit code that means something:
//! 0 done and objectives met, 1 failed or objective breached, 2 usage or config error.

/// Writes a line for the operator on stdout. A reader that went away (`standby validate |
/// head -1`) must neither panic the command nor stop a run half-way: write errors are ignored
/// (Rust ignores SIGPIPE, so a closed pipe is an error here, not a signal).
macro_rules! say {
    () => {
        say!("")
    };
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// [`say!`] without the newline.
macro_rules! say_part {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout(), $($arg)*);
    }};
}

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::watch;

use crate::cli::RunArgs;
use crate::context::Ctx;
use crate::executor::{ExecError, RunEnd};
use crate::journal::{self, RunStatus};
use crate::runner;
use standby_core::config::Config;
use standby_core::duration::human;
use standby_core::machine::Event;
use standby_core::report;
use standby_core::runbook::RunbookKind;

pub const EXIT_OK: u8 = 0;
pub const EXIT_FAILED: u8 = 1;
pub const EXIT_USAGE: u8 = 2;

#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    #[error(transparent)]
    Exec(#[from] ExecError),
    #[error(transparent)]
    Daemon(#[from] crate::daemon::DaemonError),
    #[error(transparent)]
    Journal(#[from] journal::JournalError),
    #[error(transparent)]
    Aws(#[from] standby_aws::AwsError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Loads and validates; prints every diagnostic. `Err(2)` when invalid.
pub fn load(path: &Path) -> Result<Config, u8> {
    match crate::config_file::load(path) {
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

/// Writes generated text (a completion script, a man page) to stdout; a reader that went away
/// is not an error of ours.
pub fn print_bytes(bytes: &[u8]) -> u8 {
    use std::io::Write as _;
    let _ = std::io::stdout().write_all(bytes);
    EXIT_OK
}

/// `standby man [COMMAND] [--out-dir DIR]`.
pub fn man(args: &crate::cli::ManArgs) -> u8 {
    use crate::cli_docs;
    if let Some(dir) = &args.out_dir {
        let pages = std::iter::once(None).chain(cli_docs::commands().into_iter().map(Some));
        for name in pages {
            let file = dir.join(match &name {
                None => "standby.1".to_string(),
                Some(c) => format!("standby-{c}.1"),
            });
            let page = cli_docs::man(name.as_deref()).expect("a listed command has a page");
            if let Err(e) = std::fs::write(&file, page) {
                eprintln!("cannot write {}: {e}", file.display());
                return EXIT_FAILED;
            }
        }
        return EXIT_OK;
    }
    match cli_docs::man(args.command.as_deref()) {
        Some(page) => print_bytes(&page),
        None => {
            eprintln!(
                "no command {:?}: one of {}",
                args.command.as_deref().unwrap_or_default(),
                cli_docs::commands().join(", ")
            );
            EXIT_USAGE
        }
    }
}

/// A diagnostic as `validate --json` prints it.
fn diagnostic_json(d: &standby_core::diag::Diagnostic) -> serde_json::Value {
    serde_json::json!({
        "file": d.file,
        // 0: about the whole file (it could not be read).
        "line": d.line,
        "column": d.column,
        "key": d.key,
        "message": d.message,
    })
}

pub fn validate(path: &Path, as_json: bool) -> u8 {
    if as_json {
        let (valid, errors, warnings, code) = match crate::config_file::load(path) {
            Ok((_, warnings)) => (true, Vec::new(), warnings.items, EXIT_OK),
            Err(diags) => {
                let (e, w): (Vec<_>, Vec<_>) = diags
                    .items
                    .into_iter()
                    .partition(|d| d.severity == standby_core::diag::Severity::Error);
                (false, e, w, EXIT_USAGE)
            }
        };
        let v = serde_json::json!({
            "config": path,
            "valid": valid,
            "errors": errors.iter().map(diagnostic_json).collect::<Vec<_>>(),
            "warnings": warnings.iter().map(diagnostic_json).collect::<Vec<_>>(),
        });
        say!("{}", serde_json::to_string_pretty(&v).expect("serializes"));
        return code;
    }
    match load(path) {
        Ok(cfg) => {
            say!(
                "{}: valid (service {}, failover runbook {} steps, failback runbook {} steps)",
                path.display(),
                cfg.service.name,
                cfg.failover.runbook.steps.len(),
                cfg.failback.runbook.steps.len()
            );
            say!("detection bounds (from the onset of the failure to the down verdict):");
            for (mode, bound, why) in cfg.health.detection_bounds() {
                say!(
                    "  {mode:<20} {:>8}  {why}",
                    standby_core::duration::human(bound)
                );
            }
            let r = &cfg.failover.retry;
            say!(
                "failover retries: {} attempts per step, waits {} doubling to {}: at most {} of waiting per step that keeps failing; escalation after {} failed attempt(s) and when giving up",
                r.attempts,
                standby_core::duration::human(r.backoff),
                standby_core::duration::human(r.max_backoff),
                standby_core::duration::human(r.total_wait()),
                r.escalate_after
            );
            say!(
                "pre-warm: {}",
                if cfg.prewarm.enabled {
                    format!(
                        "on: {}",
                        standby_core::prewarm::Rules::derive(&cfg.prewarm, &cfg.health).describe()
                    )
                } else {
                    "off ([prewarm] enabled = true brings the standby to serving while the primary degrades)".to_string()
                }
            );
            // Advice about the setup, given here, by `status` and by `serve` (not every command).
            if let Some(w) =
                standby_core::config::dns::control_plane_warning(&cfg.dns, &cfg.primary)
            {
                eprintln!("{}: warning: dns.method: {w}", path.display());
            }
            EXIT_OK
        }
        Err(code) => code,
    }
}

pub async fn serve(
    path: &Path,
    shutdown: watch::Receiver<bool>,
    reload: watch::Receiver<u64>,
) -> Result<u8, OpsError> {
    let cfg = match load(path) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    std::fs::create_dir_all(&cfg.service.state_dir)?;
    let ctx = crate::context::build(cfg, shutdown.clone(), crate::context::Role::Serve).await;
    ctx.clients.identity.prefetch();
    crate::daemon::run(ctx, shutdown, reload).await?;
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
    if let Some(why) = standby_aws::credentials_problem(&cfg).await {
        eprintln!("{why}");
        return Ok(EXIT_USAGE);
    }
    std::fs::create_dir_all(&cfg.service.state_dir)?;
    let ctx = crate::context::build(cfg, shutdown, crate::context::Role::Command).await;
    // The account every report names: read while the run observes and plans (a dry run
    // makes no run, and names none).
    if !args.dry_run {
        ctx.clients.identity.prefetch();
    }

    if !args.dry_run {
        if let Some(why) = crate::heal::heal_lost_state(&ctx).await? {
            eprintln!("{why}");
            return Ok(EXIT_FAILED);
        }
        // A run a crashed process left behind comes first: finish it rather than start another.
        if let Some(owned) = runner::adopt_unfinished(&ctx).await? {
            say!(
                "resuming unfinished run {} ({})",
                owned.journal.record.id,
                owned.journal.record.kind.as_str()
            );
            return finish(&ctx, runner::drive(&ctx, owned).await?);
        }
        let (state, _) = journal::read_state(&ctx.store).await?;
        let drilling = matches!(
            state.serving,
            standby_core::machine::Serving::Drilling { .. }
        );
        if let Some(run) = state.serving.running()
            && !(drilling && kind == RunbookKind::Failover)
        {
            eprintln!(
                "run {run} is in progress in another process (`standby status` shows its progress)"
            );
            return Ok(EXIT_FAILED);
        }
        // A drill ends with the standby back at warm: under a pre-warm that would take away the
        // capacity a degrading primary's failover is counting on.
        if kind.is_drill()
            && let Some(e) = crate::prewarm_journal::active(&ctx.store).await
        {
            eprintln!(
                "refusing to drill: a pre-warm holds the standby at serving capacity ({}); the drill's return to warm would undo it: run the drill once the pre-warm has ended",
                e.line(Utc::now())
            );
            return Ok(EXIT_FAILED);
        }
        if kind.is_drill()
            && let Some(v) = journal::read_verdict(&ctx.store).await?
        {
            // A verdict nobody refreshes (no daemon, or a hung one) is unknown, not down: it
            // must not block a drill for ever, and it is not evidence of health either.
            let now = Utc::now();
            match v.health_at(now) {
                standby_core::detector::Health::Down => {
                    eprintln!(
                        "refusing to drill: the primary's verdict is down ({}); a drill would compete with the failover",
                        v.reason
                    );
                    return Ok(EXIT_FAILED);
                }
                _ if v.is_stale(now) => say!("primary health: unknown: {}", v.describe(now)),
                _ => {}
            }
        }
    }

    let command_at = Utc::now();
    let world = crate::world::observe(&ctx).await?;
    let plan = standby_core::plan::plan_for(kind, &ctx.cfg, &world);
    say_part!("{}", standby_core::plan::render(&plan, &ctx.cfg));
    let readiness = crate::smoke::client::standby_readiness(&ctx.cfg, &ctx.store)
        .await
        .ok();
    let first_phase = plan.steps.first().map_or(kind, |s| s.phase);
    let checks =
        standby_core::plan::preflight(&plan, first_phase, &ctx.cfg, &world, readiness.as_ref());
    say!("preflight as of now:");
    for c in &checks {
        say!(
            "  [{}] {}: {}",
            match (c.ok, c.warning) {
                (true, false) => "ok",
                (true, true) => "warn",
                (false, _) => "FAIL",
            },
            c.name,
            c.reason
        );
    }
    if args.dry_run {
        say!("dry run: nothing was changed");
        return Ok(if checks.iter().all(|c| c.ok) {
            EXIT_OK
        } else {
            EXIT_FAILED
        });
    }
    if !args.yes && !confirm(kind)? {
        return Ok(EXIT_USAGE);
    }
    if args.force {
        eprintln!("warning: --force is --rerun and --flip-unverified together; say which you mean");
    }
    let event = Event::Requested {
        kind,
        rerun: args.rerun(),
    };
    let (decision, owned) = runner::start(&ctx, &event, kind, vec![], Some(&world)).await?;
    if owned.is_none()
        && decision
            .actions
            .iter()
            .any(|a| matches!(a, standby_core::machine::Action::AbortRun { .. }))
    {
        say!("{}", decision.reason);
        return match wait_for_handover(&ctx).await? {
            Some(owned) => {
                say!("run {} started", owned.journal.record.id);
                finish(&ctx, drive_with_progress(&ctx, owned).await?)
            }
            None => Ok(EXIT_FAILED),
        };
    }
    if owned.is_none()
        && ctx.shared()
        && let Some(standby_core::machine::Action::StartRun { run, .. }) = decision.actions.first()
    {
        say!("run {run} decided: {}", decision.reason);
        mark_command(&ctx, run, command_at, args.flip_unverified()).await;
        return follow(&ctx, run).await;
    }
    let Some(mut owned) = owned else {
        eprintln!("{}", decision.reason);
        return Ok(EXIT_FAILED);
    };
    // The clock of a manual run starts at the command, not after the operator said yes.
    if let standby_core::machine::Trigger::Manual { at, .. } = &mut owned.journal.record.trigger {
        *at = command_at;
    }
    owned.journal.record.flip_unverified = args.flip_unverified();
    owned.journal.save().await.map_err(ExecError::from)?;
    say!(
        "run {} started: {}",
        owned.journal.record.id,
        decision.reason
    );
    finish(&ctx, drive_with_progress(&ctx, owned).await?)
}

/// On a shared store: stamps the run this command journaled with the command's own time and
/// `--flip-unverified`, unless the lease holder already took it (then its decision time stands).
async fn mark_command(ctx: &Ctx, run: &str, at: chrono::DateTime<Utc>, flip_unverified: bool) {
    let Ok(mut j) = journal::Journal::load(ctx.store.clone(), run).await else {
        return;
    };
    if j.record
        .steps
        .iter()
        .any(|s| s.status != journal::StepStatus::Pending)
    {
        return;
    }
    if let standby_core::machine::Trigger::Manual { at: t, .. } = &mut j.record.trigger {
        *t = at;
    }
    j.record.flip_unverified = flip_unverified;
    // The leader journaled it; the person is the one who ran this command.
    let account = crate::executor::account(ctx).await;
    j.record.origin = Some(crate::executor::origin(&j.record.trigger, account));
    if let Err(e) = j.save().await {
        tracing::debug!(
            "stamping run {run} with the command's time: {e} (the lease holder took it first)"
        );
    }
}

/// On a shared store the lease holder executes runs: follow one until it ends, one line per
/// step change; give up (exit 1, the run stays journaled) when no instance holds the lease.
async fn follow(ctx: &Ctx, run: &str) -> Result<u8, OpsError> {
    let mut shutdown = ctx.shutdown.clone();
    let patience = ctx.cfg.lease.ttl + ctx.cfg.lease.renew;
    let mut lease_seen: Option<(crate::store::Version, tokio::time::Instant)> = None;
    let mut last = String::new();
    loop {
        let rec = journal::load_run(&ctx.store, run).await?;
        if rec.status != RunStatus::Running {
            // The report is on the lease holder's disk, not this host's.
            let place = match &ctx.cfg.standby.bucket {
                Some(b) => format!(
                    "written by the lease holder on its host and uploaded to s3://{b}/{}{}/: `standby report show {} --remote`",
                    report::PREFIX,
                    rec.id,
                    rec.id
                ),
                None => "written by the lease holder in its reports_dir".into(),
            };
            return Ok(summarize(&rec, &place));
        }
        let line = rec
            .steps
            .iter()
            .zip(&rec.plan.steps)
            .map(|(s, p)| format!("{} {}", p.name, s.status))
            .collect::<Vec<_>>()
            .join(", ");
        if line != last {
            say!("{}", progress_line(&rec, ctx.cfg.service.rto, Utc::now()));
            last = line;
        }
        // A live holder: a lease not released whose version changes within the patience.
        let held = crate::lease::read_doc(&ctx.store)
            .await
            .map_err(journal::JournalError::from)?
            .and_then(|(doc, version)| doc.ok().filter(|d| !d.released).map(|_| version));
        let now = tokio::time::Instant::now();
        let stale = match held {
            Some(version) => match &lease_seen {
                Some((seen, since)) if *seen == version => now - *since > patience,
                _ => {
                    lease_seen = Some((version, now));
                    false
                }
            },
            _ => {
                lease_seen
                    .get_or_insert((crate::store::Version(String::new()), now))
                    .1
                    .elapsed()
                    > patience
            }
        };
        if stale {
            eprintln!(
                "no instance holds the lease (none renewed it for {}): run {run} is journaled and the next `standby serve` to take the lease executes it",
                standby_core::duration::human(patience)
            );
            return Ok(EXIT_FAILED);
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            _ = shutdown.changed() => {
                eprintln!("stopped following run {run}; the lease holder goes on with it (`standby status`)");
                return Ok(EXIT_FAILED);
            }
        }
    }
}

/// After asking a running drill to yield: wait until its cleanup is done and the failover it
/// hands over to is decided, then take that run (unless another process already did).
async fn wait_for_handover(ctx: &Ctx) -> Result<Option<runner::OwnedRun>, OpsError> {
    let mut shutdown = ctx.shutdown.clone();
    loop {
        let (state, _) = journal::read_state(&ctx.store).await?;
        match &state.serving {
            standby_core::machine::Serving::FailingOver { run } => {
                if let Some(owned) = runner::adopt_unfinished(ctx).await? {
                    return Ok(Some(owned));
                }
                say!("failover {run} is being executed by another process (`standby status`)");
                return Ok(None);
            }
            standby_core::machine::Serving::Drilling { .. } => {}
            other => {
                eprintln!(
                    "the drill ended without a failover: {} ({})",
                    other.label(),
                    state.reason
                );
                return Ok(None);
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            _ = shutdown.changed() => return Ok(None),
        }
    }
}

/// Drives a run; on a terminal, one live line of progress (step, elapsed, budget left,
/// projected RTO) above the log; elsewhere the executor's log lines are the progress.
async fn drive_with_progress(ctx: &Ctx, owned: runner::OwnedRun) -> Result<RunEnd, OpsError> {
    let id = owned.journal.record.id.clone();
    let ticker = std::io::stderr().is_terminal().then(|| {
        let store = ctx.store.clone();
        let objective = ctx.cfg.service.rto;
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(500)).await;
                if let Ok(r) = journal::load_run(&store, &id).await {
                    eprint!("\r\x1b[2K{}", progress_line(&r, objective, Utc::now()));
                }
            }
        })
    });
    let end = runner::drive(ctx, owned).await;
    if let Some(t) = ticker {
        t.abort();
        eprint!("\r\x1b[2K");
    }
    Ok(end?)
}

/// One line of run progress for a terminal.
pub fn progress_line(
    r: &journal::RunRecord,
    objective: Duration,
    now: chrono::DateTime<Utc>,
) -> String {
    let Some(i) = r.next_step() else {
        return format!("{}: finishing", r.id);
    };
    let step = &r.plan.steps[i];
    let in_step = r.steps[i]
        .started_at
        .map(|s| standby_core::duration::between(s, now))
        .unwrap_or_default();
    let projected = report::projected_rto(r, now);
    format!(
        "{} step {}/{} {} {} (budget left {}) · elapsed {} · projected RTO {} / {}{}",
        r.kind.as_str(),
        i + 1,
        r.steps.len(),
        step.name,
        human(in_step),
        human(step.budget.saturating_sub(in_step)),
        human(standby_core::duration::between(
            r.trigger.clock_start(),
            now
        )),
        human(projected),
        human(objective),
        if projected > objective {
            " ⚠ BREACH LIKELY"
        } else {
            ""
        }
    )
}

/// `standby approve|pause|resume|ack`: through the running daemon (its unix socket, or HTTP with
/// a bearer token). With no daemon on the socket, the change is applied to the state directly
/// (the next daemon to start reads it), and that is said.
pub async fn control(args: &crate::cli::ControlArgs, command: &str) -> Result<u8, OpsError> {
    let cfg = match load(&args.config.config) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let token = cfg
        .control
        .token_env
        .as_ref()
        .and_then(|v| std::env::var(v).ok());
    if args.url.is_some() && token.is_none() {
        eprintln!(
            "--url needs the bearer token: set {} (the variable [control] token_env names)",
            cfg.control
                .token_env
                .as_deref()
                .unwrap_or("[control] token_env")
        );
        return Ok(EXIT_USAGE);
    }
    match crate::control::request(&cfg, command, args.url.as_deref(), token.as_deref()).await? {
        Some((status, body)) => {
            let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
            let reason = v["reason"].as_str().unwrap_or(body.trim()).to_string();
            if status == 200 {
                say!("{reason}");
                Ok(EXIT_OK)
            } else {
                eprintln!("refused (HTTP {status}): {reason}");
                Ok(EXIT_FAILED)
            }
        }
        None => {
            std::fs::create_dir_all(&cfg.service.state_dir)?;
            let event = match command {
                "pause" => Event::Pause,
                "resume" => Event::Resume,
                "ack" => Event::Ack,
                c => Event::Approve {
                    run: c.trim_start_matches("approve/").to_string(),
                },
            };
            let (_tx, rx) = watch::channel(false);
            let ctx = crate::context::build(cfg, rx, crate::context::Role::Command).await;
            let (d, _) = runner::apply(&ctx, &event, "-").await?;
            say!(
                "no daemon answers on {}; applied to the state directly: {}",
                ctx.cfg.control.socket.display(),
                d.reason
            );
            Ok(if d.outcome == standby_core::machine::Outcome::Refused {
                EXIT_FAILED
            } else {
                EXIT_OK
            })
        }
    }
}

/// The daemon's own health, from its `/healthz` on the control socket: what `status` cannot
/// read from the state directory (probing alive, this host's faults, the last action error).
async fn print_daemon(cfg: &Config) {
    let asked = tokio::time::timeout(Duration::from_secs(2), async {
        let s = tokio::net::UnixStream::connect(&cfg.control.socket).await?;
        crate::http::call(s, "GET", "/healthz", &[]).await
    })
    .await;
    let v: serde_json::Value = match asked {
        Ok(Ok((_, body))) => serde_json::from_str(&body).unwrap_or_default(),
        Ok(Err(_)) => {
            say!(
                "daemon:      none answers on {}",
                cfg.control.socket.display()
            );
            return;
        }
        Err(_) => {
            say!(
                "daemon:      NOT ANSWERING on {} within 2s",
                cfg.control.socket.display()
            );
            return;
        }
    };
    let probing = if v["probing"]["alive"] == true {
        "probing".to_string()
    } else {
        format!(
            "NOT PROBING (no round judged for {} ms)",
            v["probing"]["last_round_age_ms"]
        )
    };
    say!(
        "daemon:      {} ({probing})",
        if v["ok"] == true {
            "healthy"
        } else {
            "UNHEALTHY"
        }
    );
    if let Some(m) = v["orchestrator_impaired"].as_object() {
        for (kind, c) in m {
            say!(
                "             IMPAIRED ({kind}) since {}: {}",
                c["since"].as_str().unwrap_or("?"),
                c["reason"].as_str().unwrap_or("?")
            );
        }
    }
    if let Some(reason) = v["last_action_error"]["reason"].as_str() {
        say!("             last action FAILED: {reason}");
    }
}

/// `standby iam-policy`: the policy JSON on stdout, notes on stderr.
/// `standby migrate-state`.
pub async fn migrate_state(args: &crate::cli::MigrateArgs) -> Result<u8, OpsError> {
    let cfg = match load(&args.config.config) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let moved = match crate::migrate::migrate(&cfg, args.dry_run).await {
        Ok(m) => m,
        Err(e @ crate::migrate::MigrateError::NotShared) => {
            eprintln!("{e}");
            return Ok(EXIT_USAGE);
        }
        Err(e) => {
            eprintln!("{e}");
            return Ok(EXIT_FAILED);
        }
    };
    let verb = if args.dry_run { "would copy" } else { "copied" };
    for k in &moved.copied {
        say!("{verb}   {k}");
    }
    for k in &moved.present {
        say!("present  {k} (same bytes already in the shared store)");
    }
    for k in &moved.conflicts {
        say!("CONFLICT {k}: the shared store holds other bytes; left as it is");
    }
    say!(
        "{} document(s) {verb}, {} already there, {} in conflict{}",
        moved.copied.len(),
        moved.present.len(),
        moved.conflicts.len(),
        if args.dry_run {
            "; dry run: nothing was written"
        } else {
            ""
        }
    );
    Ok(if moved.conflicts.is_empty() {
        EXIT_OK
    } else {
        EXIT_FAILED
    })
}

pub fn iam_policy(args: &crate::cli::IamArgs) -> u8 {
    let cfg = match load(&args.config.config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    if let Some(id) = &args.account_id
        && !(id.len() == 12 && id.chars().all(|c| c.is_ascii_digit()))
    {
        eprintln!("--account-id {id:?} is not a 12-digit AWS account id");
        return EXIT_USAGE;
    }
    if args.account_id.is_none() {
        eprintln!("note: no --account-id: the Auto Scaling group ARNs match any account");
    }
    if args.kms_keys.is_empty() && !cfg.artifacts.is_empty() {
        eprintln!(
            "note: no --kms-key-arn: add the artifact buckets' keys if they use SSE-KMS (the Terraform module does)"
        );
    }
    let account = standby_core::iam::Account {
        account_id: args.account_id.clone(),
        kms_keys: args.kms_keys.clone(),
    };
    say!(
        "{}",
        serde_json::to_string_pretty(&standby_core::iam::policy(&cfg, &account))
            .unwrap_or_default()
    );
    EXIT_OK
}

/// `standby check [--side S]`: one synthetic request now, every check shown.
pub async fn check(args: &crate::cli::CheckArgs) -> Result<u8, OpsError> {
    let cfg = match load(&args.config.config) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    std::fs::create_dir_all(&cfg.service.state_dir)?;
    let side = match args.side {
        crate::cli::SideArg::Primary => standby_core::config::Side::Primary,
        crate::cli::SideArg::Standby => standby_core::config::Side::Standby,
    };
    let (_tx, rx) = watch::channel(false);
    let ctx = crate::context::build(cfg, rx, crate::context::Role::Command).await;
    let r = crate::smoke::client::probe(&ctx.cfg, &ctx.clients, side).await;
    if side == standby_core::config::Side::Standby {
        crate::smoke::client::record(&ctx.store, &r)
            .await
            .map_err(journal::JournalError::from)?;
    }
    let evaluation = if args.readiness {
        let e = crate::readiness::evaluate(&ctx).await;
        if let Err(err) = crate::readiness::keep(&ctx.store, &e).await {
            tracing::warn!("keeping the readiness evaluation: {err}");
        }
        Some(e)
    } else {
        None
    };
    let evaluated_ok = evaluation.as_ref().is_none_or(|e| e.ready());
    if args.json {
        let readiness = (side == standby_core::config::Side::Standby).then(|| {
            standby_core::smoke::readiness(Some(&r), Utc::now(), ctx.cfg.probes.fresh_for)
        });
        let v = serde_json::json!({ "side": side.as_str(), "result": r, "readiness": readiness, "evaluation": evaluation });
        say!("{}", serde_json::to_string_pretty(&v).expect("serializes"));
        return Ok(if r.ok && evaluated_ok {
            EXIT_OK
        } else {
            EXIT_FAILED
        });
    }
    say!(
        "{} {} {}",
        r.request.method,
        r.url,
        if r.ok { "ok" } else { "FAILED" }
    );
    for c in &r.checks {
        say!(
            "  [{}] {}: {}",
            if c.ok { "ok" } else { "FAIL" },
            c.name,
            c.reason
        );
    }
    say!("{}", r.reason);
    if side == standby_core::config::Side::Standby {
        let ready = standby_core::smoke::readiness(Some(&r), Utc::now(), ctx.cfg.probes.fresh_for);
        say!("readiness: {}", ready.reason);
    }
    if let Some(e) = &evaluation {
        say!(
            "readiness evaluation at {}:",
            standby_core::report::ts(e.at)
        );
        for f in &e.findings {
            say!("  {}", f.line());
        }
        say!("{}", e.summary());
    }
    Ok(if r.ok && evaluated_ok {
        EXIT_OK
    } else {
        EXIT_FAILED
    })
}

/// `standby report list|show`.
pub async fn report(cmd: &crate::cli::ReportCommand) -> Result<u8, OpsError> {
    use crate::cli::{ReportCommand, ReportFormat};
    let (path, remote) = match cmd {
        ReportCommand::List { config, remote, .. } | ReportCommand::Show { config, remote, .. } => {
            (&config.config, *remote)
        }
    };
    let cfg = match load(path) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let reports = if remote {
        let (_tx, rx) = watch::channel(false);
        let ctx = crate::context::build(cfg.clone(), rx, crate::context::Role::Command).await;
        match crate::reports::list_remote(&ctx.cfg, &ctx.clients).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("{e}");
                return Ok(EXIT_FAILED);
            }
        }
    } else {
        crate::reports::list_local(&cfg)
    };
    match cmd {
        ReportCommand::List {
            limit, json: true, ..
        } => {
            let rows: Vec<serde_json::Value> = reports
                .iter()
                .take(*limit)
                .map(|r| {
                    serde_json::json!({
                        "run": r.run_id,
                        "kind": r.kind,
                        "result": r.result,
                        "started_at": r.started_at,
                        "finished_at": r.finished_at,
                        "reason": r.reason,
                        "rto": r.rto,
                    })
                })
                .collect();
            say!(
                "{}",
                serde_json::to_string_pretty(&rows).expect("serializes")
            );
            Ok(EXIT_OK)
        }
        ReportCommand::List { limit, .. } => {
            if reports.is_empty() {
                say!("no reports yet");
                return Ok(EXIT_OK);
            }
            say!(
                "{:<36} {:<14} {:<10} RTO (effective) / objective",
                "RUN",
                "KIND",
                "RESULT"
            );
            for r in reports.iter().take(*limit) {
                say!("{}", crate::reports::list_line(r));
            }
            if let Some(t) = crate::reports::drill_trend(&reports, 5) {
                say!("{t}");
            }
            Ok(EXIT_OK)
        }
        ReportCommand::Show { run, format, .. } => match crate::reports::find(&reports, run) {
            Ok(r) => {
                let text = match format {
                    ReportFormat::Md => report::to_markdown(r),
                    ReportFormat::Json => report::to_json(r),
                    ReportFormat::Html => report::to_html(r),
                };
                say_part!("{text}");
                Ok(EXIT_OK)
            }
            Err(e) => {
                eprintln!("{e}");
                Ok(EXIT_USAGE)
            }
        },
    }
}

/// On a shared store: who holds the lease, and each instance's last published verdict.
async fn print_instances(store: &Arc<dyn crate::store::Store>) -> Result<(), OpsError> {
    let now = Utc::now();
    let lease = crate::lease::read_doc(store)
        .await
        .map_err(journal::JournalError::from)?;
    match lease.map(|(doc, _)| doc) {
        None => say!("lease:       nobody has held it yet: no instance acts"),
        Some(Err(e)) => say!("lease:       UNREADABLE ({e})"),
        Some(Ok(d)) if d.released => say!(
            "lease:       released by {} at epoch {} ({} by its clock): the next instance to look takes it",
            d.holder,
            d.epoch,
            d.renewed_at.to_rfc3339()
        ),
        Some(Ok(d)) => say!(
            "lease:       {} leads at epoch {} (last renewed {} by its clock, {} ago by this one's; ttl {})",
            d.holder,
            d.epoch,
            d.renewed_at.to_rfc3339(),
            standby_core::duration::human(standby_core::duration::between(d.renewed_at, now)),
            standby_core::duration::human(d.ttl())
        ),
    }
    for p in journal::read_peer_verdicts(store).await? {
        match p.verdict {
            Ok(v) => say!("instance:    {}: {}", p.instance, v.describe(now)),
            Err(e) => say!("instance:    {}: unreadable verdict ({e})", p.instance),
        }
    }
    Ok(())
}

fn confirm(kind: RunbookKind) -> Result<bool, OpsError> {
    if !std::io::stdin().is_terminal() {
        eprintln!(
            "refusing to {} without confirmation: stdin is not a terminal; pass --yes",
            kind.as_str()
        );
        return Ok(false);
    }
    say_part!(
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
    let dir = ctx.cfg.service.reports_dir.join(&rec.id);
    Ok(summarize(
        &rec,
        &dir.join("report.html").display().to_string(),
    ))
}

/// Prints a finished run's summary and where its report is; the exit code: 0 only when it
/// succeeded within the RTO objective.
fn summarize(rec: &journal::RunRecord, report_at: &str) -> u8 {
    let rep = report::build(rec);
    say!("{}", rep.summary());
    say!("report: {report_at}");
    if rec.status == RunStatus::Succeeded && rep.rto.objective_met {
        EXIT_OK
    } else {
        EXIT_FAILED
    }
}

pub async fn status(path: &Path, as_json: bool) -> Result<u8, OpsError> {
    let cfg = match load(path) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let store = crate::context::command_store(&cfg).await;
    if as_json {
        let mut v = crate::control::status_json(&cfg, &store).await;
        let runs = journal::list_runs(&store).await?.records;
        v["last_report"] = match runs.iter().rev().find(|r| r.status != RunStatus::Running) {
            Some(r) => {
                let rep = report::build(r);
                serde_json::json!({
                    "run": r.id,
                    "kind": rep.kind,
                    "result": rep.result,
                    "summary": rep.summary(),
                    "path": cfg.service.reports_dir.join(&r.id).join("report.json"),
                })
            }
            None => serde_json::Value::Null,
        };
        say!("{}", serde_json::to_string_pretty(&v).expect("serializes"));
        return Ok(EXIT_OK);
    }
    let (state, _) = journal::read_state(&store).await?;
    say!("service:     {}", cfg.service.name);
    say!("serving:     {} ({})", state.serving.label(), state.reason);
    print_dns(&cfg, &store).await;
    say!(
        "paused:      {}",
        if state.paused {
            "yes: observing only"
        } else {
            "no"
        }
    );
    print_daemon(&cfg).await;
    if matches!(cfg.state, standby_core::config::StateStore::S3 { .. }) {
        print_instances(&store).await?;
    }
    if let Some(run) = &state.awaiting_approval {
        say!("approval:    failover {run} WAITS FOR APPROVAL: `standby approve {run}`");
    }
    match state.cooldown_until {
        Some(u) if u > Utc::now() => say!(
            "cooldown:    no automatic failover until {}",
            u.to_rfc3339()
        ),
        _ => say!("cooldown:    none"),
    }
    if let Some(g) = &state.gave_up {
        say!(
            "ESCALATED:   failover {} used up its attempts at {}; automatic failover waits for people: `standby failover` tries again, `standby ack` lets it try on its own",
            g.run,
            g.at.to_rfc3339()
        );
    }
    let now = Utc::now();
    match journal::read_verdict(&store).await? {
        Some(v) => {
            say!("verdict:     {}", v.describe(now));
            if let Some(e) = v.flapping.as_ref().filter(|_| !v.is_stale(now)) {
                say!(
                    "flapping:    yes: {} verdict changes since {} (one incident; quiet for {} ends it)",
                    e.changes,
                    e.since.to_rfc3339(),
                    standby_core::duration::human(cfg.health.flap_window)
                );
            }
        }
        None => say!("verdict:     none yet (is `standby serve` running?)"),
    }
    match &state.armed {
        Some(a) if a.probe == cfg.primary.endpoint => say!(
            "armed:       yes: the primary answered healthy at {} on {}",
            a.probe,
            a.at.to_rfc3339()
        ),
        _ if cfg.failover.mode == standby_core::config::Mode::Automatic => say!(
            "armed:       NO (unarmed): the primary has never been seen healthy at {}; automatic failover waits for that (check the probe URL and path, the TLS name, the firewall); `standby failover` works by hand",
            cfg.primary.endpoint
        ),
        _ => say!(
            "armed:       no: the primary has not been seen healthy at {} yet (manual mode asks for approval either way)",
            cfg.primary.endpoint
        ),
    }
    if let Some(run) = state.serving.running() {
        match journal::load_run(&store, run).await {
            Ok(r) => {
                let i = r.next_step().unwrap_or(r.steps.len().saturating_sub(1));
                let projected = report::projected_rto(&r, Utc::now());
                say!(
                    "running:     {run}: step {}/{} {} ({:?}); projected RTO {} / objective {}",
                    i + 1,
                    r.steps.len(),
                    r.steps[i].name,
                    r.steps[i].status,
                    human(projected),
                    human(cfg.service.rto)
                );
            }
            Err(e) => say!("running:     {run} ({e})"),
        }
    } else {
        say!("running:     nothing");
    }
    let runs = journal::list_runs(&store).await?;
    for junk in &runs.skipped {
        say!("skipped:     {junk} (not a run record; fix or move it away)");
    }
    let runs = runs.records;
    match runs.iter().rev().find(|r| r.status != RunStatus::Running) {
        Some(r) => {
            let rep = report::build(r);
            say!("last report: {}", rep.summary());
            say!(
                "             {}",
                cfg.service
                    .reports_dir
                    .join(&r.id)
                    .join("report.md")
                    .display()
            );
        }
        None => say!("last report: none"),
    }
    let probe_log = crate::smoke::client::read_log(&store, standby_core::config::Side::Standby)
        .await
        .map_err(journal::JournalError::from)?;
    let ready =
        standby_core::smoke::readiness(probe_log.last.as_ref(), Utc::now(), cfg.probes.fresh_for);
    say!(
        "standby:     {} — {}",
        if ready.ready { "READY" } else { "NOT READY" },
        ready.reason
    );
    match &cfg.probes.schedule {
        Some(s) => say!("             synthetic probes every `{}`", s.text()),
        None => say!(
            "             no scheduled synthetic probes ([probes] schedule); `standby check` probes now"
        ),
    }
    let recent: Vec<&str> = probe_log
        .history
        .iter()
        .rev()
        .take(10)
        .map(|h| {
            if h.drift {
                "D"
            } else if h.ok {
                "."
            } else {
                "x"
            }
        })
        .collect();
    if !recent.is_empty() {
        say!(
            "             last probes (newest first; . ok, x failed, D drift): {}",
            recent.join("")
        );
    }
    match crate::readiness::last(&store).await {
        Some(e) => {
            say!(
                "readiness:   {} (evaluated {})",
                e.summary(),
                standby_core::report::ts(e.at)
            );
            for f in e
                .findings
                .iter()
                .filter(|f| f.severity != standby_core::readiness::Severity::Ok)
            {
                say!("             {}", f.line());
            }
            if let Some(c) = &e.cost {
                say!(
                    "cost:        {} (prices: {})",
                    c.summary(),
                    standby_core::cost::PRICES_AS_OF
                );
            }
        }
        None => say!(
            "readiness:   not evaluated yet (`standby serve` evaluates every [readiness] every; `standby check --readiness` now)"
        ),
    }
    let active = crate::prewarm_journal::active(&store).await;
    if cfg.prewarm.enabled || active.is_some() {
        let now = Utc::now();
        let history = crate::prewarm_journal::history(&store).await;
        let month = standby_core::prewarm::month(&history.episodes, active.as_ref(), now);
        say!(
            "pre-warm:    {}; this month {} pre-warm(s), {}, {}",
            match &active {
                Some(e) => format!("UNDER WAY: {}", e.line(now)),
                None if cfg.prewarm.enabled => "on, none under way".to_string(),
                None => "off ([prewarm] enabled = false)".to_string(),
            },
            month.count,
            standby_core::duration::human(month.lasted),
            standby_core::cost::dollars(month.cost_usd)
        );
        if let Some(last) = history.episodes.last() {
            say!("             last: {}", last.line(now));
        }
    }
    for d in &cfg.drills.scheduled {
        say!(
            "drills:      {} every `{}`, next {}",
            d.kind.as_str(),
            d.schedule.text(),
            d.schedule
                .next_after(Utc::now())
                .map(|t| t.to_rfc3339())
                .unwrap_or_else(|| "never".into())
        );
    }
    if let Some(t) = crate::reports::drill_trend(&crate::reports::list_local(&cfg), 5) {
        say!("             {t}");
    }
    // RPO is read now, from the primary's history and the published manifest: a figure from the
    // last sync would hide every write since.
    let mut rpo_now = std::collections::BTreeMap::new();
    if !cfg.artifacts.is_empty() {
        let clients = standby_aws::Clients::new(&cfg).await;
        let mut tasks = tokio::task::JoinSet::new();
        for a in cfg.artifacts.iter().cloned() {
            let clients = clients.clone();
            tasks.spawn(async move {
                let r = tokio::time::timeout(
                    STATUS_RPO_WAIT,
                    crate::sync::engine::measure_rpo(&clients, &a, None),
                )
                .await;
                (a.name.clone(), r.ok().and_then(Result::ok))
            });
        }
        while let Some(Ok((name, r))) = tasks.join_next().await {
            rpo_now.insert(name, r);
        }
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
        say!(
            "artifacts:   {} ({}, every `{}`): {last}",
            a.name,
            a.prefix,
            a.schedule.text()
        );
        match rpo_now.remove(&a.name) {
            Some(Some(r)) => say!("             now: {}", r.line()),
            _ => match st
                .last_rpo
                .as_ref()
                .and_then(|r| standby_core::sync::manifest::bound_since(r, Utc::now()))
            {
                Some(b) => say!(
                    "             now: {} (the buckets could not be read within {})",
                    b.line(),
                    human(STATUS_RPO_WAIT)
                ),
                None => say!(
                    "             now: RPO unknown: the buckets could not be read and no earlier figure bounds it (objective {}) — OVER OBJECTIVE",
                    human(a.rpo)
                ),
            },
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
    let sets: Vec<standby_core::config::ArtifactSet> = cfg
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
        say!("no artifact sets configured");
        return Ok(EXIT_OK);
    }
    if let Some(why) = standby_aws::credentials_problem(&cfg).await {
        eprintln!("{why}");
        return Ok(EXIT_USAGE);
    }
    std::fs::create_dir_all(&cfg.service.state_dir)?;
    let (_tx, rx) = watch::channel(false);
    let ctx = crate::context::build(cfg, rx, crate::context::Role::Command).await;
    if ctx.shared() && !args.dry_run {
        eprintln!(
            "on a shared store ([state] backend = \"s3\") only the lease holder syncs, on the [[artifacts]] schedules; `standby sync --dry-run` shows what it would copy, `standby status` who holds the lease"
        );
        return Ok(EXIT_FAILED);
    }
    let progress = std::sync::Arc::new(Progress::default());
    let ticker = std::io::stderr()
        .is_terminal()
        .then(|| tokio::spawn(show_progress(progress.clone())));
    let mut tasks = tokio::task::JoinSet::new();
    for set in sets {
        let engine = Engine {
            progress: progress.clone(),
            ..ctx.sync_engine()
        };
        let dry_run = args.dry_run;
        tasks.spawn(async move {
            (
                set.name.clone(),
                engine
                    .run(&set, standby_core::sync::Direction::Forward, dry_run)
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
                say!(
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
                            standby_core::sync::planner::Op::Copy { .. } => "copy",
                            standby_core::sync::planner::Op::Overwrite { .. } => "overwrite",
                            standby_core::sync::planner::Op::Delete { .. } => "delete",
                            standby_core::sync::planner::Op::Skip { .. } => "skip",
                        };
                        say!("  {verb:9} {}  ({})", op.key(), op.reason());
                    }
                    if changes.len() > 50 {
                        say!("  … and {} more", changes.len() - 50);
                    }
                }
                if let Some(why) = &o.incomplete {
                    say!("  {why}");
                    code = EXIT_FAILED;
                }
                if let Some(r) = &o.rpo {
                    say!("  {}", r.line());
                    if r.over_objective {
                        code = EXIT_FAILED;
                    }
                }
            }
            Err(e) => {
                say!("{name}: FAILED: {e}");
                code = EXIT_FAILED;
                // The figure an SRE needs most when a sync fails: how far behind are we now.
                if let Some(set) = ctx.cfg.artifacts.iter().find(|a| a.name == name)
                    && let Ok(r) = crate::sync::engine::measure_rpo(&ctx.clients, set, None).await
                {
                    say!("  {}", r.line());
                }
            }
        }
    }
    if args.dry_run {
        say!("dry run: nothing was changed");
    }
    Ok(code)
}

/// How long `status` waits for the buckets to measure RPO now.
const STATUS_RPO_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

async fn show_progress(p: std::sync::Arc<crate::sync::engine::Progress>) {
    use std::sync::atomic::Ordering::Relaxed;
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        eprint!(
            "\r\x1b[2Ksyncing: {}/{} objects, {} / {}",
            p.objects_done.load(Relaxed),
            p.objects_total.load(Relaxed),
            standby_core::sync::planner::bytes(p.bytes_done.load(Relaxed)),
            standby_core::sync::planner::bytes(p.bytes_total.load(Relaxed))
        );
    }
}

/// `status`'s view of how a flip moves traffic, and what the control plane's absence would do.
async fn print_dns(cfg: &Config, store: &std::sync::Arc<dyn crate::store::Store>) {
    use standby_core::config::DnsMethod;
    let resolvers = if cfg.dns.resolvers.is_empty() {
        "the system resolver".to_string()
    } else {
        cfg.dns
            .resolvers
            .iter()
            .map(|r| r.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match &cfg.dns.method {
        DnsMethod::Record => {
            say!(
                "dns:         record: UPSERT {} through Route 53's control plane (us-east-1), then INSYNC{}",
                cfg.dns.name,
                if cfg.dns.resolvers_set {
                    format!(" and {resolvers} answering")
                } else {
                    String::new()
                }
            );
            if let Some(w) =
                standby_core::config::dns::control_plane_warning(&cfg.dns, &cfg.primary)
            {
                say!("             WARNING: {w}");
            }
        }
        DnsMethod::FailoverRecords(g) => {
            say!(
                "dns:         failover_records: a write of the gate s3://{}/{} ({}) moves {}; Route 53 acts within {} (health check every {}, threshold {}); verified by {resolvers}; no Route 53 call needed",
                g.bucket,
                g.key,
                g.region,
                cfg.dns.name,
                human(g.reaction_bound()),
                human(g.check_interval),
                g.failure_threshold
            );
            match crate::world::remembered_setup(store).await {
                Some(s) => {
                    // Judged as a reading (the instant is printed once, below).
                    let reading = standby_core::dns_setup::FailoverSetup {
                        read_at: None,
                        ..s.clone()
                    };
                    let checks = standby_core::dns_setup::checks(cfg, Some(&reading), None);
                    let bad: Vec<String> = checks
                        .iter()
                        .filter(|c| !c.ok || c.warning)
                        .map(|c| format!("{}: {}", c.name, c.reason))
                        .collect();
                    let at = s.read_at.map_or("?".to_string(), |t| t.to_rfc3339());
                    if bad.is_empty() {
                        say!(
                            "             failover records and health check as recorded at {at}: they read the gate"
                        );
                    } else {
                        say!(
                            "             failover records as recorded at {at}: {}",
                            bad.join("; ")
                        );
                    }
                }
                None => say!(
                    "             failover records not verified yet (the daemon reads them with the standby's scheduled probe; `standby failover --dry-run` too)"
                ),
            }
        }
    }
}
