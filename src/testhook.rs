//! Crash-point hooks for the kill-and-resume tests: with `STANDBY_TEST_HOLD_AT=<boundary>`, the
//! process writes the boundary to `state_dir/test-hold` and waits there to be killed. Unset (as in
//! production) it costs one environment lookup per boundary.

use std::path::Path;

pub async fn hold(state_dir: &Path, boundary: &str) {
    if std::env::var("STANDBY_TEST_HOLD_AT").ok().as_deref() == Some(boundary) {
        let _ = std::fs::write(state_dir.join("test-hold"), boundary);
        tracing::warn!("test hold at {boundary}: waiting to be killed");
        std::future::pending::<()>().await;
    }
}
