//! The config as the product loads it: from disk, with the runbooks and probe bodies it names.
//! Compiling is pure (`standby_core::config`); this module only reads the files.

use std::path::Path;

use standby_core::config::{Config, Diagnostics, Files};

/// The filesystem, for the config compiler.
pub struct Disk;

impl Files for Disk {
    fn read(&self, path: &Path) -> std::io::Result<String> {
        std::fs::read_to_string(path)
    }
}

/// Loads and validates a config and the files it names. Warnings ride along on success.
/// The path is made absolute first: a config that cannot be read is named in full, and the
/// runbooks it names resolve the same wherever the command runs from.
pub fn load(path: &Path) -> Result<(Config, Diagnostics), Diagnostics> {
    let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    Config::load(&path, &Disk)
}
