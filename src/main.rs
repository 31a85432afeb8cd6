//! The `standby` binary: parse flags, set up logging and signals, call into the library.

use std::process::ExitCode;

use clap::Parser;
use standby::cli::{Cli, Command, LogFormat};
use standby::ops;
use standby_core::runbook::RunbookKind;
use tokio::sync::watch;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let _failpoints = standby::failpoint::setup();
    init_logging(cli.log_format, cli.verbose, cli.quiet);
    // 8 MiB worker stacks, not tokio's 2 MiB: a run's step futures are deep (every region's
    // reads joined), a debug build does not shrink them, and a stack overflow would kill the
    // daemon in the middle of a failover. The memory is reserved, not used.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_stack_size(8 << 20)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::from(ops::EXIT_FAILED);
        }
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(ops::EXIT_FAILED)
        }
    }
}

async fn dispatch(cli: Cli) -> anyhow::Result<u8> {
    Ok(match cli.command {
        Command::Validate(c) => ops::validate(&c.config.config, c.json),
        Command::Status(c) => ops::status(&c.config.config, c.json).await?,
        Command::Serve(c) => ops::serve(&c.config, shutdown_signal(), reload_signal()).await?,
        Command::Approve(a) => ops::control(&a.control, &format!("approve/{}", a.run)).await?,
        Command::Pause(a) => ops::control(&a, "pause").await?,
        Command::Resume(a) => ops::control(&a, "resume").await?,
        Command::Ack(a) => ops::control(&a, "ack").await?,
        Command::IamPolicy(a) => ops::iam_policy(&a),
        Command::MigrateState(a) => ops::migrate_state(&a).await?,
        Command::Failover(a) => {
            ops::run_command(RunbookKind::Failover, &a, shutdown_signal()).await?
        }
        Command::Sync(a) => ops::sync(&a).await?,
        Command::Failback(a) => {
            ops::run_command(RunbookKind::Failback, &a, shutdown_signal()).await?
        }
        Command::Drill(a) => {
            let kind = match a.kind {
                standby::cli::DrillKind::Standby => RunbookKind::DrillStandby,
                standby::cli::DrillKind::Full => RunbookKind::DrillFull,
            };
            ops::run_command(kind, &a.run.into(), shutdown_signal()).await?
        }
        Command::Check(a) => ops::check(&a).await?,
        Command::Report(r) => ops::report(&r).await?,
        Command::Completions(a) => ops::print_bytes(&standby::cli_docs::completions(a.shell)),
        Command::Man(a) => ops::man(&a),
    })
}

/// Flips to `true` on SIGTERM or SIGINT; the daemon and the executor stop at the next safe point.
fn shutdown_signal() -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            return;
        };
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM: stopping at the next safe point"),
            _ = int.recv() => tracing::info!("SIGINT: stopping at the next safe point"),
        }
        let _ = tx.send(true);
    });
    rx
}

/// Counts SIGHUPs: the daemon reloads (and validates) its config on each.
fn reload_signal() -> watch::Receiver<u64> {
    let (tx, rx) = watch::channel(0u64);
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hup) = signal(SignalKind::hangup()) else {
            return;
        };
        while hup.recv().await.is_some() {
            tracing::info!("SIGHUP: reloading the config");
            tx.send_modify(|n| *n += 1);
        }
    });
    rx
}

/// Plain lines without colours unless on a terminal (journald adds its own timestamps and
/// levels are still in the text), or one JSON object per line for log pipelines.
/// Log lines on stderr. The SDK's own crates stay at `error` unless asked for (-vv): their
/// warnings (each credential provider it tried, one by one) are noise next to the one line
/// standby prints about what failed.
fn init_logging(format: LogFormat, verbose: u8, quiet: bool) {
    use std::io::IsTerminal;
    let default = match (quiet, verbose) {
        (true, _) => "warn,aws_config=error,aws_smithy_runtime=error",
        (false, 0) => "info,aws_config=error,aws_smithy_runtime=error",
        (false, 1) => {
            "debug,aws_config=warn,aws_smithy_runtime=warn,hyper=info,h2=info,rustls=info"
        }
        (false, _) => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("STANDBY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    match format {
        LogFormat::Json => builder.json().flatten_event(true).init(),
        LogFormat::Plain => builder.with_ansi(std::io::stderr().is_terminal()).init(),
    }
}
