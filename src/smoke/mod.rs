//! Synthetic smoke traffic, the shell half: sending requests and reading the published
//! manifests. Judging the answers is pure and lives in `standby_core::smoke`.

pub mod client;
