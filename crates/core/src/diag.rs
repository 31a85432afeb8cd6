//! Diagnostics that name the file, line:column and key path, collected rather than thrown, so one
//! `standby validate` run shows every problem in a config and its runbooks at once.

use std::fmt;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    /// Dotted key path, e.g. `health.interval` or `steps[2].timeout`.
    pub key: String,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self
            .file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| self.file.display().to_string());
        let tag = match self.severity {
            Severity::Error => "",
            Severity::Warning => "warning: ",
        };
        // About the whole file (it cannot be read): its full path, no invented position.
        if self.line == 0 {
            return write!(f, "{}: {tag}{}", self.file.display(), self.message);
        }
        if self.key.is_empty() {
            write!(
                f,
                "{name}:{}:{} {tag}{}",
                self.line, self.column, self.message
            )
        } else {
            write!(
                f,
                "{name}:{}:{} {tag}{}: {}",
                self.line, self.column, self.key, self.message
            )
        }
    }
}

/// A source file's text with precomputed line starts, for turning byte spans into line:column.
#[derive(Debug, Clone)]
pub struct Source {
    pub path: PathBuf,
    pub text: String,
    line_starts: Vec<usize>,
}

impl Source {
    pub fn new(path: impl Into<PathBuf>, text: String) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Source {
            path: path.into(),
            text,
            line_starts,
        }
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn position(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&s| s <= offset);
        let start = self.line_starts[line - 1];
        let column = self.text[start..offset].chars().count() + 1;
        (line, column)
    }
}

/// Collects diagnostics from every stage of loading.
#[derive(Debug, Default, Clone)]
pub struct Diagnostics {
    pub items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn push(
        &mut self,
        severity: Severity,
        src: &Source,
        offset: usize,
        key: &str,
        message: impl Into<String>,
    ) {
        let (line, column) = src.position(offset);
        self.items.push(Diagnostic {
            severity,
            file: src.path.clone(),
            line,
            column,
            key: key.to_string(),
            message: message.into(),
        });
    }

    pub fn error(&mut self, src: &Source, offset: usize, key: &str, message: impl Into<String>) {
        self.push(Severity::Error, src, offset, key, message);
    }

    /// An error about a whole file (it cannot be read), with no position in it.
    pub fn file_error(&mut self, file: &std::path::Path, message: impl Into<String>) {
        self.items.push(Diagnostic {
            severity: Severity::Error,
            file: file.to_path_buf(),
            line: 0,
            column: 0,
            key: String::new(),
            message: message.into(),
        });
    }

    pub fn warning(&mut self, src: &Source, offset: usize, key: &str, message: impl Into<String>) {
        self.push(Severity::Warning, src, offset, key, message);
    }

    pub fn has_errors(&self) -> bool {
        self.items.iter().any(|d| d.severity == Severity::Error)
    }

    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter().filter(|d| d.severity == Severity::Error)
    }

    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items
            .iter()
            .filter(|d| d.severity == Severity::Warning)
    }

    pub fn extend(&mut self, other: Diagnostics) {
        self.items.extend(other.items);
    }

    /// Errors first, then by file and position: the order an operator fixes them in.
    pub fn sorted(mut self) -> Self {
        self.items.sort_by(|a, b| {
            (a.severity, &a.file, a.line, a.column).cmp(&(b.severity, &b.file, b.line, b.column))
        });
        self
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.items {
            writeln!(f, "{d}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_lines_and_columns() {
        let src = Source::new("x.toml", "a = 1\n  b = 2\n".into());
        assert_eq!(src.position(0), (1, 1));
        assert_eq!(src.position(8), (2, 3));
        assert_eq!(src.position(6), (2, 1));
    }

    #[test]
    fn display_names_file_line_column_and_key() {
        let src = Source::new(
            "/etc/standby/standby.toml",
            "\n\n[health]\ninterval = \"2x\"\n".into(),
        );
        let mut d = Diagnostics::default();
        d.error(&src, 22, "health.interval", "\"2x\" is not a duration");
        assert_eq!(
            d.items[0].to_string(),
            "standby.toml:4:12 health.interval: \"2x\" is not a duration"
        );
    }
}
