//! Independent checkers from Debian (Chromium, tidy, promtool, systemd-analyze): used when
//! present, skipped with a one-line note when not, so `make test` runs without root on any
//! machine. CI sets `STANDBY_REQUIRE_CHECKERS=1` after `make tools` has installed them, and
//! there a missing checker fails the test instead of skipping it.

use std::path::PathBuf;

/// Set by `.ci/run`: every checker must be there.
pub const REQUIRE_ENV: &str = "STANDBY_REQUIRE_CHECKERS";

/// Where `tool` is on PATH.
pub fn find(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(tool))
        .find(|p| p.is_file())
}

/// Whether a test may use `tool`. Absent: a one-line note and `false`, or a panic when the
/// environment requires every checker (CI).
pub fn available(tool: &str) -> bool {
    if find(tool).is_some() {
        return true;
    }
    if std::env::var_os(REQUIRE_ENV).is_some_and(|v| v != "0") {
        panic!(
            "{tool} is not installed and {REQUIRE_ENV} is set: `make tools` (as root) installs it"
        );
    }
    eprintln!(
        "note: {tool} not installed, its check is skipped (`make tools`, as root, installs it)"
    );
    false
}
