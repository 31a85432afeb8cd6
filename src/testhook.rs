//! Crash-point hooks for the kill-and-resume tests: with `STANDBY_TEST_HOLD_AT=<boundary>`, the
//! process writes the boundary to `state_dir/test-hold` and waits there to be killed, or until a
//! test writes `state_dir/test-release` (to change the world while a run is mid-way). Unset (as
//! in production) it costs one environment lookup per boundary.

use std::path::Path;

pub async fn hold(state_dir: &Path, boundary: &str) {
    if std::env::var("STANDBY_TEST_HOLD_AT").ok().as_deref() == Some(boundary) {
        let _ = std::fs::write(state_dir.join("test-hold"), boundary);
        tracing::warn!("test hold at {boundary}: waiting to be killed or released");
        let release = state_dir.join("test-release");
        while std::fs::remove_file(&release).is_err() {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}
