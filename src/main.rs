//! The `standby` binary: parse flags, set up logging and signals, call into the library.

use std::process::ExitCode;

use clap::Parser;
use standby::cli::{Cli, Command};
use standby::ops;
use standby::runbook::RunbookKind;
use tokio::sync::watch;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
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
        Command::Validate(c) => ops::validate(&c.config),
        Command::Status(c) => ops::status(&c.config).await?,
        Command::Serve(c) => ops::serve(&c.config, shutdown_signal()).await?,
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
            ops::run_command(kind, &a.run, shutdown_signal()).await?
        }
        Command::Check(a) => ops::check(&a).await?,
        Command::Report(r) => ops::report(&r).await?,
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

fn init_logging() {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_env("STANDBY_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("info,aws_config=warn,aws_smithy_runtime=warn")
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
}
