//! Artifact sync, the shell half: listing, copying, publishing. What to copy, the manifest and
//! RPO are pure and live in `standby_core::sync`.

pub mod engine;
