//! Stage one of loading: TOML parsed (by the `toml` crate's serde-compatible parser) into a
//! spanned tree, then read field by field through [`Section`], which records a diagnostic for
//! every missing, mistyped or unknown key instead of stopping at the first.

use std::collections::BTreeSet;
use std::time::Duration;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::diag::{Diagnostics, Source};
use crate::duration;

/// A parsed document: the source text and its spanned root table.
pub struct Doc<'s> {
    pub src: &'s Source,
    pub root: Spanned<DeTable<'s>>,
}

impl<'s> Doc<'s> {
    /// Parses with recovery so syntax errors are reported together; `None` when nothing usable
    /// could be read.
    pub fn parse(src: &'s Source, diags: &mut Diagnostics) -> Option<Doc<'s>> {
        let (root, errors) = DeTable::parse_recoverable(&src.text);
        let had_errors = !errors.is_empty();
        for e in errors {
            let offset = e.span().map(|s| s.start).unwrap_or(0);
            let msg = e.message().trim().to_string();
            diags.error(src, offset, "", format!("TOML syntax: {msg}"));
        }
        if had_errors {
            return None;
        }
        Some(Doc { src, root })
    }

    pub fn section<'d>(&'d self, diags: &'d mut Diagnostics) -> Section<'d, 's> {
        Section::new(
            self.src,
            self.root.get_ref(),
            self.root.span().start,
            String::new(),
            diags,
        )
    }
}

/// A value with the byte offset it came from, so later (cross-field) checks can still point at it.
#[derive(Debug, Clone, PartialEq)]
pub struct At<T> {
    pub value: T,
    pub offset: usize,
}

/// One TOML table being read. Keys that were never asked for are reported as unknown by
/// [`Section::finish`], which catches typos like `failure_treshold` that would otherwise silently
/// fall back to a default.
pub struct Section<'d, 's> {
    pub src: &'s Source,
    table: &'d DeTable<'s>,
    pub offset: usize,
    pub path: String,
    seen: BTreeSet<String>,
    pub diags: &'d mut Diagnostics,
}

impl<'d, 's> Section<'d, 's> {
    fn new(
        src: &'s Source,
        table: &'d DeTable<'s>,
        offset: usize,
        path: String,
        diags: &'d mut Diagnostics,
    ) -> Self {
        Section {
            src,
            table,
            offset,
            path,
            seen: BTreeSet::new(),
            diags,
        }
    }

    pub fn key_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else if key.is_empty() {
            self.path.clone()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    pub fn error(&mut self, offset: usize, key: &str, msg: impl Into<String>) {
        let path = self.key_path(key);
        self.diags.error(self.src, offset, &path, msg);
    }

    pub fn warning(&mut self, offset: usize, key: &str, msg: impl Into<String>) {
        let path = self.key_path(key);
        self.diags.warning(self.src, offset, &path, msg);
    }

    fn raw(&mut self, key: &str) -> Option<&'d Spanned<DeValue<'s>>> {
        self.seen.insert(key.to_string());
        self.table
            .iter()
            .find(|(k, _)| k.get_ref() == key)
            .map(|(_, v)| v)
    }

    pub fn has(&self, key: &str) -> bool {
        self.table.iter().any(|(k, _)| k.get_ref() == key)
    }

    /// What an optional reader returns when it read nothing: `None` if the key was present (its
    /// error is already recorded), else the default, else a "required" error.
    fn absent<T>(&mut self, key: &str, default: Option<T>) -> Option<At<T>> {
        if self.has(key) {
            return None;
        }
        match default {
            Some(value) => Some(At {
                value,
                offset: self.offset,
            }),
            None => {
                self.missing(key);
                None
            }
        }
    }

    fn missing(&mut self, key: &str) {
        let offset = self.offset;
        self.error(offset, key, "is required");
    }

    fn mistyped(&mut self, key: &str, v: &Spanned<DeValue<'_>>, expected: &str) {
        let msg = format!("expected {expected}, found {}", type_name(v.get_ref()));
        self.error(v.span().start, key, msg);
    }

    pub fn opt_str(&mut self, key: &str) -> Option<At<String>> {
        let v = self.raw(key)?;
        match v.get_ref() {
            DeValue::String(s) => Some(At {
                value: s.to_string(),
                offset: v.span().start,
            }),
            _ => {
                self.mistyped(key, v, "a string");
                None
            }
        }
    }

    pub fn req_str(&mut self, key: &str) -> Option<At<String>> {
        if !self.has(key) {
            self.seen.insert(key.to_string());
            self.missing(key);
            return None;
        }
        let s = self.opt_str(key)?;
        if s.value.trim().is_empty() {
            self.error(s.offset, key, "must not be empty");
            return None;
        }
        Some(s)
    }

    pub fn opt_int(&mut self, key: &str) -> Option<At<i64>> {
        let v = self.raw(key)?;
        match v.get_ref() {
            DeValue::Integer(i) => {
                let digits = i.as_str().replace('_', "");
                match i64::from_str_radix(&digits, i.radix()) {
                    Ok(n) => Some(At {
                        value: n,
                        offset: v.span().start,
                    }),
                    Err(_) => {
                        self.error(
                            v.span().start,
                            key,
                            format!("{} is out of range", i.as_str()),
                        );
                        None
                    }
                }
            }
            _ => {
                self.mistyped(key, v, "an integer");
                None
            }
        }
    }

    /// A count (`3`) or a share of something (`"75%"`, above 0 and at most 100).
    pub fn count_or_percent(&mut self, key: &str) -> Option<At<Amount>> {
        let v = self.raw(key)?;
        let offset = v.span().start;
        match v.get_ref() {
            DeValue::Integer(_) => self.opt_int(key).map(|n| At {
                value: Amount::Count(n.value),
                offset,
            }),
            DeValue::String(s) => {
                let pct = s
                    .strip_suffix('%')
                    .and_then(|n| n.trim().parse::<f64>().ok())
                    .filter(|p| *p > 0.0 && *p <= 100.0);
                match pct {
                    Some(p) => Some(At {
                        value: Amount::Percent(p),
                        offset,
                    }),
                    None => {
                        self.error(
                            offset,
                            key,
                            format!("{s:?} is not a share: write it as \"75%\" (above 0, at most 100%) or give a count"),
                        );
                        None
                    }
                }
            }
            _ => {
                self.mistyped(key, v, "a count or a share like \"75%\"");
                None
            }
        }
    }

    /// An integer within `[min, max]`, or `default` when absent.
    pub fn int_in(
        &mut self,
        key: &str,
        min: i64,
        max: i64,
        default: Option<i64>,
    ) -> Option<At<i64>> {
        let Some(n) = self.opt_int(key) else {
            return self.absent(key, default);
        };
        if n.value < min || n.value > max {
            self.error(
                n.offset,
                key,
                format!("{} is out of range ({min}..={max})", n.value),
            );
            return None;
        }
        Some(n)
    }

    pub fn opt_float(&mut self, key: &str) -> Option<At<f64>> {
        let v = self.raw(key)?;
        let text = match v.get_ref() {
            DeValue::Float(f) => f.as_str(),
            // `budget = 1` should not be an error just because it lacks a decimal point.
            DeValue::Integer(i) => i.as_str(),
            _ => {
                self.mistyped(key, v, "a number");
                return None;
            }
        };
        match text.replace('_', "").parse::<f64>() {
            Ok(value) => Some(At {
                value,
                offset: v.span().start,
            }),
            Err(_) => {
                self.error(v.span().start, key, format!("{text} is not a number"));
                None
            }
        }
    }

    pub fn opt_bool(&mut self, key: &str) -> Option<At<bool>> {
        let v = self.raw(key)?;
        match v.get_ref() {
            DeValue::Boolean(b) => Some(At {
                value: *b,
                offset: v.span().start,
            }),
            _ => {
                self.mistyped(key, v, "true or false");
                None
            }
        }
    }

    /// A duration string; `default` applies only when the key is absent.
    pub fn duration(&mut self, key: &str, default: Option<Duration>) -> Option<At<Duration>> {
        let Some(s) = self.opt_str(key) else {
            return self.absent(key, default);
        };
        match duration::parse(&s.value) {
            Ok(d) => Some(At {
                value: d,
                offset: s.offset,
            }),
            Err(e) => {
                self.error(s.offset, key, e);
                None
            }
        }
    }

    /// A string that must be one of `choices`.
    pub fn choice(
        &mut self,
        key: &str,
        choices: &[&str],
        default: Option<&str>,
    ) -> Option<At<String>> {
        let Some(s) = self.opt_str(key) else {
            return self.absent(key, default.map(str::to_string));
        };
        if choices.contains(&s.value.as_str()) {
            Some(s)
        } else {
            let list = choices
                .iter()
                .map(|c| format!("{c:?}"))
                .collect::<Vec<_>>()
                .join(", ");
            self.error(s.offset, key, format!("{:?} is not one of {list}", s.value));
            None
        }
    }

    /// A sub-table; `required` decides whether absence is an error.
    pub fn table(&mut self, key: &str, required: bool) -> Option<Section<'_, 's>> {
        let path = self.key_path(key);
        let Some(v) = self.raw(key) else {
            if required {
                self.missing(key);
            }
            return None;
        };
        match v.get_ref() {
            DeValue::Table(t) => Some(Section::new(self.src, t, v.span().start, path, self.diags)),
            _ => {
                self.mistyped(key, v, "a table");
                None
            }
        }
    }

    /// An array of tables (`[[steps]]` or `asgs = [{...}]`): calls `f` on each element.
    pub fn tables<T>(
        &mut self,
        key: &str,
        required: bool,
        mut f: impl FnMut(&mut Section<'_, 's>) -> Option<T>,
    ) -> Option<(Vec<Option<T>>, usize)> {
        let path = self.key_path(key);
        let Some(v) = self.raw(key) else {
            if required {
                self.missing(key);
            }
            return None;
        };
        let DeValue::Array(items) = v.get_ref() else {
            self.mistyped(key, v, "an array of tables");
            return None;
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let item_path = format!("{path}[{i}]");
            match item.get_ref() {
                DeValue::Table(t) => {
                    let mut sec =
                        Section::new(self.src, t, item.span().start, item_path, self.diags);
                    out.push(f(&mut sec));
                    sec.finish();
                }
                other => {
                    let msg = format!("expected a table, found {}", type_name(other));
                    self.diags
                        .error(self.src, item.span().start, &item_path, msg);
                    out.push(None);
                }
            }
        }
        Some((out, v.span().start))
    }

    /// An array of strings.
    pub fn strings(&mut self, key: &str) -> Option<Vec<At<String>>> {
        let v = self.raw(key)?;
        let DeValue::Array(items) = v.get_ref() else {
            self.mistyped(key, v, "an array of strings");
            return None;
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            match item.get_ref() {
                DeValue::String(s) => out.push(At {
                    value: s.to_string(),
                    offset: item.span().start,
                }),
                other => {
                    let msg = format!("expected a string, found {}", type_name(other));
                    self.error(item.span().start, &format!("{key}[{i}]"), msg);
                }
            }
        }
        Some(out)
    }

    /// A table of free-form names to strings (`headers = { Authorization = "..." }`), in order.
    pub fn string_map(&mut self, key: &str) -> Option<Vec<(String, At<String>)>> {
        let path = self.key_path(key);
        let v = self.raw(key)?;
        let DeValue::Table(t) = v.get_ref() else {
            self.mistyped(key, v, "a table of strings");
            return None;
        };
        let mut out = Vec::new();
        for (k, item) in t.iter() {
            match item.get_ref() {
                DeValue::String(s) => out.push((
                    k.get_ref().to_string(),
                    At {
                        value: s.to_string(),
                        offset: item.span().start,
                    },
                )),
                other => {
                    let msg = format!("expected a string, found {}", type_name(other));
                    let item_path = format!("{path}.{}", k.get_ref());
                    self.diags
                        .error(self.src, item.span().start, &item_path, msg);
                }
            }
        }
        Some(out)
    }

    /// A table of free-form names to non-negative numbers (`prices = { "p5.48xlarge" = 55.04 }`).
    pub fn number_map(&mut self, key: &str) -> Option<Vec<(String, At<f64>)>> {
        let path = self.key_path(key);
        let v = self.raw(key)?;
        let DeValue::Table(t) = v.get_ref() else {
            self.mistyped(key, v, "a table of numbers");
            return None;
        };
        let mut out = Vec::new();
        let mut bad = false;
        for (k, item) in t.iter() {
            let item_path = format!("{path}.{}", k.get_ref());
            let text = match item.get_ref() {
                DeValue::Float(f) => Some(f.as_str()),
                DeValue::Integer(i) => Some(i.as_str()),
                _ => None,
            };
            match text.and_then(|t| t.replace('_', "").parse::<f64>().ok()) {
                Some(value) if value >= 0.0 && value.is_finite() => out.push((
                    k.get_ref().to_string(),
                    At {
                        value,
                        offset: item.span().start,
                    },
                )),
                _ => {
                    bad = true;
                    let msg = format!(
                        "expected a number of 0 or more, found {}",
                        type_name(item.get_ref())
                    );
                    self.diags
                        .error(self.src, item.span().start, &item_path, msg);
                }
            }
        }
        (!bad).then_some(out)
    }

    /// A table of free-form names to tables (`[probes.artifact_version] prompts = { ... }`):
    /// calls `f` with each name and its table.
    pub fn table_map<T>(
        &mut self,
        key: &str,
        mut f: impl FnMut(&str, &mut Section<'_, 's>) -> Option<T>,
    ) -> Option<Vec<(String, Option<T>)>> {
        let path = self.key_path(key);
        let v = self.raw(key)?;
        let DeValue::Table(t) = v.get_ref() else {
            self.mistyped(key, v, "a table");
            return None;
        };
        let mut out = Vec::new();
        for (k, item) in t.iter() {
            let name = k.get_ref().to_string();
            let item_path = format!("{path}.{name}");
            match item.get_ref() {
                DeValue::Table(inner) => {
                    let mut sec =
                        Section::new(self.src, inner, item.span().start, item_path, self.diags);
                    let r = f(&name, &mut sec);
                    sec.finish();
                    out.push((name, r));
                }
                other => {
                    let msg = format!("expected a table, found {}", type_name(other));
                    self.diags
                        .error(self.src, item.span().start, &item_path, msg);
                    out.push((name, None));
                }
            }
        }
        Some(out)
    }

    /// Reports every key in this table that nobody asked for.
    pub fn finish(&mut self) {
        let unknown: Vec<(String, usize)> = self
            .table
            .iter()
            .filter(|(k, _)| !self.seen.contains(k.get_ref().as_ref()))
            .map(|(k, _)| (k.get_ref().to_string(), k.span().start))
            .collect();
        for (key, offset) in unknown {
            let msg = match self.closest_known(&key) {
                Some(known) => format!("unknown key (did you mean {known:?}?)"),
                None => "unknown key".to_string(),
            };
            self.error(offset, &key, msg);
        }
    }

    /// The key this table knows that `typo` most likely meant: one not written here, a small
    /// edit away (`failure_treshold` -> `failure_threshold`, `timout` -> `timeout`).
    fn closest_known(&self, typo: &str) -> Option<String> {
        let written: BTreeSet<&str> = self
            .table
            .iter()
            .map(|(k, _)| k.get_ref().as_ref())
            .collect();
        self.seen
            .iter()
            .filter(|k| !written.contains(k.as_str()))
            .map(|k| (strsim::damerau_levenshtein(typo, k), k))
            .filter(|(d, k)| *d <= (k.len().max(typo.len()) / 4).max(1))
            .min()
            .map(|(_, k)| k.clone())
    }
}

fn type_name(v: &DeValue<'_>) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a datetime",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

/// A count, or a share of a whole ([`Section::count_or_percent`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Amount {
    Count(i64),
    Percent(f64),
}
