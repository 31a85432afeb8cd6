//! Command-line flags as data (after ripgrep's `flags`): parsed here, acted on in [`crate::ops`].

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "standby",
    version,
    about = "Active-passive disaster recovery for GPU inference on AWS"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args, Clone)]
pub struct ConfigArg {
    /// Path to standby.toml.
    #[arg(
        long,
        short = 'c',
        default_value = "/etc/standby/standby.toml",
        env = "STANDBY_CONFIG"
    )]
    pub config: PathBuf,
}

#[derive(Debug, Args, Clone)]
pub struct RunArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Print the plan (which groups go to which capacity, which record changes) and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Run even if the state says traffic is already on the target side.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Watch the primary and fail over automatically (the systemd service).
    Serve(ConfigArg),
    /// Move traffic to the standby region now.
    Failover(RunArgs),
    /// Move traffic back to the primary region.
    Failback(RunArgs),
    /// Show the state, the last verdict, any running run and the last report.
    Status(ConfigArg),
    /// Check a config and its runbooks; exit 0 if valid, 2 if not.
    Validate(ConfigArg),
    /// Sync artifact sets to the standby now (all sets, or the one named).
    Sync(SyncArgs),
}

#[derive(Debug, Args, Clone)]
pub struct SyncArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// The artifact set to sync; all sets when omitted.
    pub set: Option<String>,
    /// Print what would be copied, overwritten and deleted, with reasons, and change nothing.
    #[arg(long)]
    pub dry_run: bool,
}
