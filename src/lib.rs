//! standby: an active-passive disaster-recovery orchestrator for GPU inference on AWS.
//!
//! Module map. The functional core decides; the shell does I/O and nothing clever.
//!
//! Core (pure, `now` passed in, every decision carries a reason):
//! - [`core::outcome`]: probe outcome classes (ok, slow, rate_limited, unavailable, …).
//! - [`core::detector`]: probe rounds → verdict on the primary.
//! - [`core::machine`]: state + event → next state + actions.
//! - [`plan`]: runbook + observed world → the exact changes a run will make.
//! - [`report`]: a finished (or failed) run's journal → RTO breakdown, JSON and Markdown.
//! - [`config`], [`runbook`]: two-stage loading that reports every error at once.
//!
//! Shell (thin, typed):
//! - [`aws`]: Auto Scaling and Route 53 adapters over the AWS SDK.
//! - [`prober`]: HTTP probe rounds with reqwest.
//! - [`store`]: the state/journal store with compare-and-swap, and run locks.
//! - [`journal`]: run records persisted before and after each step.
//! - [`executor`]: runs a plan step by step, resumable.
//! - [`daemon`]: `standby serve`, the probe loop and shutdown.
//! - [`ops`]: the commands behind the CLI (failover, failback, status, validate).
//! - [`testbed`]: the AWS emulator and regional test endpoints used by tests and `make demo`.

pub mod cli;
pub mod config_file;
pub mod context;
pub mod control;
pub mod daemon;
pub mod executor;
pub mod failpoint;
pub mod heal;
pub mod http;
pub mod journal;
pub mod live;
pub mod metrics;
pub mod notify;
pub mod ops;
pub mod prober;
pub mod reports;
pub mod runner;
pub mod sdnotify;
pub mod smoke;
pub mod store;
pub mod sync;
