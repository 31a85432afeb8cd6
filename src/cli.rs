//! Command-line flags as data (after ripgrep's `flags`): parsed here, acted on in [`crate::ops`].

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// `0.1.0 (commit 1a2b3c4d5e6f)`: which build answered, for bug reports and audits.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("STANDBY_COMMIT"),
    ")"
);

#[derive(Debug, Parser)]
#[command(
    name = "standby",
    version = VERSION,
    about = "Active-passive disaster recovery for GPU inference on AWS"
)]
pub struct Cli {
    /// Log lines as plain text (journald-friendly) or one JSON object per line.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "plain",
        env = "STANDBY_LOG_FORMAT",
        hide_env_values = true
    )]
    pub log_format: LogFormat,
    /// More log detail on stderr: -v debug, -vv trace (`STANDBY_LOG` overrides both).
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,
    /// Only warnings and errors on stderr.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Plain,
    Json,
}

#[derive(Debug, Args, Clone)]
pub struct ControlArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Talk to the daemon's HTTP endpoint (e.g. http://127.0.0.1:9465) with the bearer token from
    /// `[control] token_env`, instead of its unix socket.
    #[arg(long)]
    pub url: Option<String>,
}

#[derive(Debug, Args, Clone)]
pub struct ApproveArgs {
    /// The run waiting for approval (`standby status` names it).
    pub run: String,
    #[command(flatten)]
    pub control: ControlArgs,
}

#[derive(Debug, Args, Clone)]
pub struct ConfigArg {
    /// Path to standby.toml.
    #[arg(
        long,
        short = 'c',
        default_value = "/etc/standby/standby.toml",
        env = "STANDBY_CONFIG",
        hide_env_values = true
    )]
    pub config: PathBuf,
}

#[derive(Debug, Args, Clone)]
pub struct RunArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Print the plan (which groups go to which capacity, where DNS moves from and to) and
    /// change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Run the runbook even if traffic is already on the target side (scale, verify and flip
    /// again: repairs a half-done move).
    #[arg(long)]
    pub rerun: bool,
    /// DANGEROUS: when verifying the target side fails, go on and flip DNS anyway: traffic may
    /// move to a side that does not serve. Only for when the verify itself is what is broken.
    #[arg(long)]
    pub flip_unverified: bool,
    /// `--rerun` and `--flip-unverified` together (kept for scripts written before the split).
    #[arg(long, hide = true)]
    pub force: bool,
}

impl RunArgs {
    pub fn rerun(&self) -> bool {
        self.rerun || self.force
    }

    pub fn flip_unverified(&self) -> bool {
        self.flip_unverified || self.force
    }
}

/// A drill's flags: no DNS to force (a standby drill never touches it; a full drill's flip must
/// not follow a failed verify).
#[derive(Debug, Args, Clone)]
pub struct DrillRunArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Print the plan (which groups go to which capacity and back) and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,
}

impl From<DrillRunArgs> for RunArgs {
    fn from(d: DrillRunArgs) -> RunArgs {
        RunArgs {
            config: d.config,
            dry_run: d.dry_run,
            yes: d.yes,
            rerun: false,
            flip_unverified: false,
            force: false,
        }
    }
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
    Status(StatusArgs),
    /// Check a config and its runbooks; exit 0 if valid, 2 if not.
    Validate(ValidateArgs),
    /// Sync artifact sets to the standby now (all sets, or the one named).
    Sync(SyncArgs),
    /// Rehearse: `standby` scales the standby up, verifies and probes it, scales it back (DNS
    /// untouched); `full` fails over and back in one run.
    Drill(DrillArgs),
    /// Send a synthetic inference request to a side now and show every check (readiness).
    Check(CheckArgs),
    /// List or show run reports.
    #[command(subcommand)]
    Report(ReportCommand),
    /// Approve a failover that waits for approval (manual mode).
    Approve(ApproveArgs),
    /// Stop all actions (observation, probes and syncs go on) until `standby resume`.
    Pause(ControlArgs),
    /// Allow actions again after `standby pause`.
    Resume(ControlArgs),
    /// Lift the cooldown after an automatic failover, and clear an escalated failover that used
    /// up its attempts: automatic failover may act again.
    Ack(ControlArgs),
    /// Print the least-privilege IAM policy for the host that runs standby with this config.
    IamPolicy(IamArgs),
    /// Copy this host's local state (state_dir) into the shared store of `[state] backend =
    /// "s3"`, so a second instance can join: stop `standby serve` first.
    MigrateState(MigrateArgs),
    /// Print a shell completion script: `standby completions bash > /etc/bash_completion.d/standby`.
    Completions(CompletionsArgs),
    /// Print the man page (roff): `standby man | man -l -`, or one command's (`standby man drill`).
    Man(ManArgs),
}

#[derive(Debug, Args, Clone)]
pub struct StatusArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// One JSON object (the daemon's `/status`, plus the last report) instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args, Clone)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args, Clone)]
pub struct ManArgs {
    /// A command's own page (`standby-drill(1)`); the main page when omitted.
    pub command: Option<String>,
    /// Write every page (`standby.1`, `standby-<command>.1`) into this directory instead (for
    /// packaging: `/usr/share/man/man1`).
    #[arg(long, conflicts_with = "command")]
    pub out_dir: Option<std::path::PathBuf>,
}

#[derive(Debug, Args, Clone)]
pub struct MigrateArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// List what would be copied and change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args, Clone)]
pub struct IamArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// The AWS account id, to scope the Auto Scaling group ARNs (`*` when omitted).
    #[arg(long)]
    pub account_id: Option<String>,
    /// A KMS key of an SSE-KMS artifact bucket (repeat for each).
    #[arg(long = "kms-key-arn")]
    pub kms_keys: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DrillKind {
    /// Scale the standby up, verify and probe it, scale it back; DNS is never touched.
    Standby,
    /// A real failover then failback in one run, with one report.
    Full,
}

#[derive(Debug, Args, Clone)]
pub struct DrillArgs {
    /// Which drill.
    pub kind: DrillKind,
    #[command(flatten)]
    pub run: DrillRunArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SideArg {
    Primary,
    Standby,
}

#[derive(Debug, Args, Clone)]
pub struct CheckArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Which side to probe.
    #[arg(long, value_enum, default_value = "standby")]
    pub side: SideArg,
    /// One JSON object (the request, every check, the readiness) instead of text.
    #[arg(long)]
    pub json: bool,
    /// After the probe, evaluate whether a failover would work now (the failover's preflight,
    /// warm capacity, GPU parity, quotas, reservations, RPO, drift, drill age, lease, IAM) and
    /// list every finding; exit 1 on any error. Reads AWS, changes nothing.
    #[arg(long)]
    pub readiness: bool,
}

#[derive(Debug, Args, Clone)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// One JSON object (`valid`, and every error and warning with file, line, column and key)
    /// instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    Md,
    Json,
    Html,
}

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Newest first: kind, result, RTO against the objective, and the trend of the last drills.
    List {
        #[command(flatten)]
        config: ConfigArg,
        /// Read the reports uploaded to the standby bucket instead of the local directory.
        #[arg(long)]
        remote: bool,
        /// How many to show.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// A JSON array (run, kind, result, times, reason, RTO against the objective) instead
        /// of a table.
        #[arg(long)]
        json: bool,
    },
    /// Print one run's report (a run id, or a unique prefix or suffix of one).
    Show {
        #[command(flatten)]
        config: ConfigArg,
        /// The run: its id, or a unique prefix or suffix of one (`report list` names them).
        run: String,
        /// Markdown for a terminal or a ticket, JSON for tools, HTML for a browser.
        #[arg(long, value_enum, default_value = "md")]
        format: ReportFormat,
        /// Read it from the standby bucket.
        #[arg(long)]
        remote: bool,
    },
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
