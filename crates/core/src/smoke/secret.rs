//! Header values that may name environment variables (`Bearer ${STANDBY_PROBE_KEY}`), and the
//! redactor that keeps their values out of logs, reports, journals and errors.
//!
//! Guarantees: a resolved value exists only in the request being sent and in the [`Redactor`];
//! everything that is stored or shown carries the template (`Bearer ${STANDBY_PROBE_KEY}`) or the
//! placeholder `[redacted ${STANDBY_PROBE_KEY}]` instead.
//!
//! Caveats: redaction is by exact substring, so a server that echoes a transformed secret (say,
//! base64 of it) is not caught; values shorter than 4 characters are not scrubbed from free text
//! (they would mangle every message) but are still never written as header values.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Env(String),
}

/// A header value with `${VAR}` references, resolved at send time so a rotated key is picked
/// up without a restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
    text: String,
}

impl Template {
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(i) = rest.find("${") {
            if i > 0 {
                parts.push(Part::Text(rest[..i].to_string()));
            }
            let after = &rest[i + 2..];
            let Some(end) = after.find('}') else {
                return Err(format!("{text:?}: \"${{\" without a closing \"}}\""));
            };
            let name = &after[..end];
            let valid = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                return Err(format!(
                    "{text:?}: {name:?} is not an environment variable name"
                ));
            }
            parts.push(Part::Env(name.to_string()));
            rest = &after[end + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        Ok(Template {
            parts,
            text: text.to_string(),
        })
    }

    /// The template as written: safe to show anywhere.
    pub fn shown(&self) -> &str {
        &self.text
    }

    pub fn variables(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Env(v) => Some(v.as_str()),
            Part::Text(_) => None,
        })
    }

    pub fn is_secret(&self) -> bool {
        self.variables().next().is_some()
    }

    /// The value to send, registering every substituted value with `redactor`. `Err` names the
    /// first variable that is not set (the name only).
    pub fn resolve(
        &self,
        lookup: impl Fn(&str) -> Option<String>,
        redactor: &mut Redactor,
    ) -> Result<String, String> {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => out.push_str(t),
                Part::Env(name) => {
                    let v = lookup(name)
                        .ok_or_else(|| format!("environment variable {name} is not set"))?;
                    redactor.add(name, &v);
                    out.push_str(&v);
                }
            }
        }
        Ok(out)
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Scrubs known secret values out of any text before it is logged or stored.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    secrets: Vec<(String, String)>,
}

impl Redactor {
    pub fn add(&mut self, var: &str, value: &str) {
        if value.len() >= 4 && !self.secrets.iter().any(|(v, _)| v == value) {
            self.secrets
                .push((value.to_string(), format!("[redacted ${{{var}}}]")));
            // Longest first, so a secret that contains another is replaced whole.
            self.secrets.sort_by_key(|s| std::cmp::Reverse(s.0.len()));
        }
    }

    /// Replaces every secret, and every fragment of one at least [`FRAGMENT`] characters long
    /// (what is left when something upstream cut the text inside a secret), with its label.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (value, label) in &self.secrets {
            if out.contains(value.as_str()) {
                out = out.replace(value.as_str(), label);
            }
            out = scrub_fragments(&out, value, label);
        }
        out
    }

    /// Scrubs first, then cuts to at most `max` characters (with `…` when cut): cutting first
    /// could leave the head of a secret that no longer matches it whole.
    pub fn scrub_cut(&self, text: &str, max: usize) -> String {
        cut(&self.scrub(text), max)
    }
}

/// The shortest piece of a secret that is redacted on its own.
pub const FRAGMENT: usize = 8;

/// Cuts `text` to at most `max` characters, marking the cut.
pub fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    format!("{}…", text.chars().take(max).collect::<String>())
}

/// Marks every byte covered by an occurrence of any `FRAGMENT`-long window of `secret`, then
/// replaces each marked run with `label`: no `FRAGMENT`-long piece of the secret survives.
fn scrub_fragments(text: &str, secret: &str, label: &str) -> String {
    let s = secret.as_bytes();
    if s.len() < FRAGMENT || text.len() < FRAGMENT {
        return text.to_string();
    }
    let t = text.as_bytes();
    let mut marked = vec![false; t.len()];
    let mut any = false;
    for w in s.windows(FRAGMENT) {
        let mut from = 0;
        while let Some(i) = find(&t[from..], w) {
            let at = from + i;
            marked[at..at + FRAGMENT].iter_mut().for_each(|m| *m = true);
            any = true;
            from = at + 1;
        }
    }
    if !any {
        return text.to_string();
    }
    let mut out = Vec::with_capacity(t.len());
    let mut i = 0;
    while i < t.len() {
        if marked[i] {
            while i < t.len() && marked[i] {
                i += 1;
            }
            out.extend_from_slice(label.as_bytes());
        } else {
            out.push(t[i]);
            i += 1;
        }
    }
    // A marked run may start or end inside a multi-byte character of the text; lossy keeps the
    // rest readable.
    String::from_utf8_lossy(&out).into_owned()
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_and_shows_only_the_template() {
        let t = Template::parse("Bearer ${API_KEY}").unwrap();
        assert!(t.is_secret());
        let mut r = Redactor::default();
        let v = t
            .resolve(
                |n| (n == "API_KEY").then(|| "sk-live-123456".into()),
                &mut r,
            )
            .unwrap();
        assert_eq!(v, "Bearer sk-live-123456");
        assert_eq!(t.shown(), "Bearer ${API_KEY}");
        assert_eq!(
            r.scrub("401: invalid key sk-live-123456 for org"),
            "401: invalid key [redacted ${API_KEY}] for org"
        );
    }

    #[test]
    fn a_cut_secret_is_still_redacted() {
        let mut r = Redactor::default();
        r.add("KEY", "sk-0123456789abcdefghijklmnopqrstu");
        // The head and the tail of a secret cut by someone else's truncation.
        let out = r.scrub("echo: sk-0123456789abcdefghijklm| and tail mnopqrstu.");
        assert!(!out.contains("sk-01234"), "{out}");
        assert!(!out.contains("mnopqrst"), "{out}");
        assert!(out.contains("[redacted ${KEY}]|"), "{out}");
        // Fewer than 8 characters of it are not a secret any more: left alone.
        assert_eq!(r.scrub("qrstu"), "qrstu");
        // Scrubbed before the cut: no head of the secret left at the cut.
        let cut = r.scrub_cut(
            &format!("{}sk-0123456789abcdefghijklmnopqrstu", "x".repeat(10)),
            20,
        );
        assert!(!cut.contains("sk-0"), "{cut}");
        assert!(cut.ends_with('…'), "{cut}");
    }

    #[test]
    fn unset_variables_are_named_without_values() {
        let t = Template::parse("${A}-${B}").unwrap();
        let mut r = Redactor::default();
        let e = t
            .resolve(|n| (n == "A").then(|| "xxxx".into()), &mut r)
            .unwrap_err();
        assert_eq!(e, "environment variable B is not set");
    }

    #[test]
    fn rejects_malformed_references() {
        assert!(
            Template::parse("Bearer ${KEY")
                .unwrap_err()
                .contains("closing")
        );
        assert!(
            Template::parse("${1ABC}")
                .unwrap_err()
                .contains("not an environment variable")
        );
        assert!(!Template::parse("plain").unwrap().is_secret());
    }
}
