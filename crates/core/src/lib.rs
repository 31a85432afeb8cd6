//! standby's functional core: every decision standby makes, and nothing else. No runtime, no
//! AWS SDK, no HTTP client, no filesystem, no clock: `now` and file contents are passed in
//! (`clippy.toml` forbids the reads), so every decision is a function a test can call.
//!
//! Layers, each using only those above it (tests/architecture.rs checks there are no cycles):
//! - values: [`duration`], [`digest`], [`side`], [`outcome`], [`retry`], the TOML diagnostics
//!   [`diag`] and [`doc`];
//! - decisions: [`detector`] (probe rounds → verdict), [`machine`] (state and event → next
//!   state and actions), [`rederive`] (lost state from what AWS and the journals say), [`sync`]
//!   (plans, manifests, RPO, schedules), [`smoke`] (judging synthetic traffic), [`drills`]
//!   (which scheduled drill is due), [`failback`] (when the primary is stable enough), [`lease`]
//!   (which of several instances may act), [`vantage`] (whether other instances agree);
//! - inputs: [`runbook`], [`config`] (all errors at once, with file:line and key);
//! - plans and records: [`plan`] (runbook + observed world → exact changes), [`record`] (what
//!   a run did), [`report`] (record → RTO/RPO figures, JSON, Markdown, HTML, SVG);
//! - the IAM policy: [`operations`] (every AWS call standby makes), [`iam`].

pub mod capacity;
pub mod check;
pub mod config;
pub mod cost;
pub mod detector;
pub mod diag;
pub mod digest;
pub mod dns_setup;
pub mod doc;
pub mod drills;
pub mod duration;
pub mod failback;
pub mod iam;
pub mod lease;
pub mod machine;
pub mod operations;
pub mod outcome;
pub mod plan;
pub mod prewarm;
pub mod readiness;
pub mod record;
pub mod rederive;
pub mod report;
pub mod reservations;
pub mod retry;
pub mod runbook;
pub mod serde_duration;
pub mod serde_duration_opt;
pub mod side;
pub mod smoke;
pub mod sync;
pub mod vantage;
