//! Headless Debian Chromium rendering an HTML report to a PNG, for the tests and `make demo`.
//! The flags keep it off this machine's closed network (background networking would try to
//! reach Google at every start) and away from the user's profile.

use std::path::Path;
use std::process::{Command, Output};

pub fn screenshot(html: &Path, png: &Path, width: u32, height: u32) -> std::io::Result<Output> {
    let profile = png.with_extension("chromium-profile");
    let out = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-quic",
            "--no-first-run",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--window-size={width},{height}"))
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", html.display()))
        .output();
    let _ = std::fs::remove_dir_all(&profile);
    out
}
