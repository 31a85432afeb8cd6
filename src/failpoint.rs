//! Failpoints at the crash boundaries of a run and a sync, for the kill-and-resume tests. They
//! exist only in builds with the `failpoints` feature (the `fail` crate; `make test` builds with
//! it, a release build has none, and then [`hold`] is an empty function).
//!
//! With `FAILPOINTS=<boundary>=return`, the process writes the boundary to
//! `state_dir/test-hold` and waits there to be killed, or until a test writes
//! `state_dir/test-release` (to change the world while a run is mid-way).

use std::path::Path;

#[cfg(feature = "failpoints")]
pub async fn hold(state_dir: &Path, boundary: &str) {
    if fail::eval(boundary, |_| ()).is_none() {
        return;
    }
    let _ = std::fs::write(state_dir.join("test-hold"), boundary);
    tracing::warn!("failpoint {boundary}: waiting to be killed or released");
    let release = state_dir.join("test-release");
    while std::fs::remove_file(&release).is_err() {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[cfg(not(feature = "failpoints"))]
pub async fn hold(_state_dir: &Path, _boundary: &str) {}

/// `FAILPOINTS=probe:full-table=return(<path>)`: while `<path>` exists, every probe attempt is
/// sent with this process's descriptor table really full (`/dev/null` opened until EMFILE, and
/// held until the attempt ends). A flood of local clients fills the table too, but which of the
/// daemon's parts meets the full table then is a race; this makes it the probe, every time.
#[cfg(feature = "failpoints")]
pub fn fill_descriptor_table() -> Vec<std::fs::File> {
    let mut held = Vec::new();
    let Some(path) = fail::eval("probe:full-table", |arg| arg).flatten() else {
        return held;
    };
    if !Path::new(&path).exists() {
        return held;
    }
    // Bounded: a limit raised to millions would make this a memory exhaustion instead.
    while held.len() < 1 << 16 {
        match std::fs::File::open("/dev/null") {
            Ok(f) => held.push(f),
            Err(_) => break,
        }
    }
    held
}

#[cfg(not(feature = "failpoints"))]
pub fn fill_descriptor_table() -> Vec<std::fs::File> {
    Vec::new()
}

/// Reads `FAILPOINTS` once at start; the guard lives as long as the process.
#[cfg(feature = "failpoints")]
pub fn setup() -> Option<fail::FailScenario<'static>> {
    Some(fail::FailScenario::setup())
}

#[cfg(not(feature = "failpoints"))]
pub fn setup() -> Option<()> {
    None
}
