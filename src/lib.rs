//! standby: an active-passive disaster-recovery orchestrator for GPU inference on AWS.
//!
//! This crate is the shell: it reads the world, asks `standby_core` what to do, and does it. Every
//! decision (detector, state machine, planners, retry policy, reports) lives in `standby_core`,
//! every AWS call in `standby_aws`; the README's "Architecture" says where a new step kind or AWS
//! call goes.
//!
//! - [`context`]: what commands, runs and the daemon share (config, clients, store, notifier).
//! - [`store`], [`journal`]: the compare-and-swap store (files, memory, S3) and run records in it.
//! - [`lease`]: which of several instances on a shared store acts, and its fencing epoch;
//!   [`migrate`]: a local state into the shared store.
//! - [`executor`]: runs a journaled plan step by step, resumable; one file per step kind.
//! - [`runner`], [`heal`]: start, adopt, resume and finish runs; re-derive a lost state.
//! - [`daemon`], [`live`]: `standby serve`, its loops and schedulers; its own health.
//! - [`control`], [`http`], [`metrics`]: the local endpoint and control socket on hyper.
//! - [`prober`], [`smoke`], [`sync`]: probe rounds, synthetic traffic, the artifact sync engine.
//! - [`reports`], [`notify`], [`sdnotify`]: report files and uploads, webhooks, systemd.
//! - [`ops`], [`cli`], [`config_file`]: the commands behind the CLI, their flags, the config on
//!   disk.
//! - [`failpoint`]: crash-point holds for the kill-and-resume tests (`--features failpoints`).

pub mod cli;
pub mod cli_docs;
pub mod config_file;
pub mod context;
pub mod control;
pub mod daemon;
pub mod executor;
pub mod failpoint;
pub mod heal;
pub mod http;
pub mod journal;
pub mod lease;
pub mod live;
pub mod metrics;
pub mod migrate;
pub mod notify;
pub mod ops;
pub mod prewarm;
pub mod prewarm_journal;
pub mod prober;
pub mod readiness;
pub mod reports;
pub mod reservations;
pub mod resolve;
pub mod runner;
pub mod sdnotify;
pub mod smoke;
pub mod store;
pub mod sync;
pub mod world;
