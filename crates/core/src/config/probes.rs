//! `[probes]` and `[[drills]]`: read like every other section, every error collected.

use std::time::Duration;

use crate::doc::Section;
use crate::runbook::RunbookKind;
use crate::smoke::secret::Template;
use crate::smoke::{
    Expect, Expectation, Probes, ReadinessPolicy, VersionFrom, VersionSource, default_body,
};
use crate::sync::schedule::Schedule;

/// The defaults when `[probes]` is absent: the OpenAI-compatible canary, no schedule.
pub fn defaults() -> Probes {
    Probes {
        schedule: None,
        method: "POST".into(),
        path: "/v1/chat/completions".into(),
        headers: vec![],
        body: Some(default_body("default")),
        body_source: "default canary (POST /v1/chat/completions)".into(),
        timeout: Duration::from_secs(30),
        max_latency: Duration::from_secs(10),
        max_ttfb: Some(Duration::from_secs(2)),
        expect_status: vec![200],
        expect: vec![Expectation {
            pointer: "/choices/0".into(),
            check: Expect::Exists,
        }],
        versions: vec![],
        fresh_for: Duration::from_secs(900),
        readiness: ReadinessPolicy::Warn,
    }
}

pub fn probes(
    s: &mut Section<'_, '_>,
    base: &super::compile::Base<'_>,
    sets: &[String],
) -> Option<Probes> {
    let d = defaults();
    let schedule = schedule(s, "schedule", false);
    let method = s.choice(
        "method",
        &["GET", "POST", "PUT", "HEAD", "OPTIONS"],
        Some("POST"),
    );
    let path = s.opt_str("path");
    if let Some(p) = &path
        && !p.value.starts_with('/')
    {
        s.error(
            p.offset,
            "path",
            format!("{:?} must start with '/'", p.value),
        );
    }
    let model = s.opt_str("model");
    let body = s.opt_str("body");
    let body_file = s.opt_str("body_file");
    let (body, body_source) = match (body, body_file) {
        (Some(b), Some(f)) => {
            s.error(
                f.offset,
                "body_file",
                "set either body or body_file, not both",
            );
            let _ = b;
            (None, String::new())
        }
        (Some(b), None) => (Some(b.value), "inline".to_string()),
        (None, Some(f)) => {
            let path = base.join(&f.value);
            match base.read(&path) {
                Ok(t) => (Some(t), path.display().to_string()),
                Err(e) => {
                    s.error(
                        f.offset,
                        "body_file",
                        format!("cannot read {}: {e}", path.display()),
                    );
                    (None, String::new())
                }
            }
        }
        (None, None) => match &model {
            Some(m) => (
                Some(default_body(&m.value)),
                format!("default canary for model {:?}", m.value),
            ),
            None => (d.body.clone(), d.body_source.clone()),
        },
    };
    let custom_body = s.has("body") || s.has("body_file");
    if custom_body && let Some(m) = &model {
        s.error(
            m.offset,
            "model",
            "only shapes the default canary body; put the model in body or body_file",
        );
    }
    let headers = s.string_map("headers").unwrap_or_default();
    let mut parsed_headers = Vec::new();
    for (name, v) in headers {
        if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
            s.error(
                v.offset,
                &format!("headers.{name}"),
                "is not a valid HTTP header name",
            );
            continue;
        }
        match Template::parse(&v.value) {
            Ok(t) => {
                if !t.is_secret() && looks_secret(&name) {
                    s.warning(v.offset, &format!("headers.{name}"), "looks like a credential written into the config; use \"${ENV_VAR}\" so the value stays out of the file, logs and reports");
                }
                parsed_headers.push((name, t));
            }
            Err(e) => s.error(v.offset, &format!("headers.{name}"), e),
        }
    }
    let timeout = s.duration("timeout", Some(d.timeout));
    let max_latency = s.duration("max_latency", Some(d.max_latency));
    let max_ttfb = s.duration("max_ttfb", d.max_ttfb);
    let expect_status = match s.opt_int("expect_status") {
        Some(n) if (100..=599).contains(&n.value) => Some(vec![n.value as u16]),
        Some(n) => {
            s.error(
                n.offset,
                "expect_status",
                format!("{} is not an HTTP status", n.value),
            );
            None
        }
        None if s.has("expect_status") => None,
        None => Some(d.expect_status.clone()),
    };
    let expect = match s.tables("expect", false, expectation) {
        Some((items, _)) => {
            if items.iter().any(Option::is_none) {
                None
            } else {
                Some(items.into_iter().flatten().collect())
            }
        }
        None if s.has("expect") => None,
        None if custom_body => Some(vec![]),
        None => Some(d.expect.clone()),
    };
    let versions = match s.table_map("artifact_version", |name, t| {
        let header = t.opt_str("header");
        let pointer = t.opt_str("pointer");
        let from = match (header, pointer) {
            (Some(h), None) => Some(VersionFrom::Header(h.value)),
            (None, Some(p)) if p.value.starts_with('/') => Some(VersionFrom::Pointer(p.value)),
            (None, Some(p)) => {
                t.error(
                    p.offset,
                    "pointer",
                    format!("{:?} is not a JSON Pointer (it starts with '/')", p.value),
                );
                None
            }
            _ => {
                let off = t.offset;
                t.error(off, "", "set exactly one of header or pointer");
                None
            }
        };
        if !sets.iter().any(|s| s == name) {
            let off = t.offset;
            t.error(
                off,
                "",
                format!(
                    "no artifact set named {name:?} (configured: {})",
                    if sets.is_empty() {
                        "none".into()
                    } else {
                        sets.join(", ")
                    }
                ),
            );
            return None;
        }
        from.map(|from| VersionSource {
            set: name.to_string(),
            from,
        })
    }) {
        Some(items) => {
            if items.iter().any(|(_, v)| v.is_none()) {
                None
            } else {
                Some(items.into_iter().filter_map(|(_, v)| v).collect())
            }
        }
        None if s.has("artifact_version") => None,
        None => Some(vec![]),
    };
    let fresh_default = schedule
        .as_ref()
        .and_then(|s| s.as_ref())
        .and_then(Schedule::period)
        .map(|p| (p * 3).max(d.fresh_for))
        .unwrap_or(d.fresh_for);
    let fresh_for = s.duration("fresh_for", Some(fresh_default));
    let readiness = s.choice("readiness", &["warn", "require"], Some("warn"));
    if let (Some(t), Some(l)) = (&timeout, &max_latency)
        && l.value > t.value
    {
        s.warning(
            l.offset,
            "max_latency",
            format!(
                "{} is above timeout ({}): a slow answer times out before it can be judged slow",
                crate::duration::human(l.value),
                crate::duration::human(t.value)
            ),
        );
    }
    Some(Probes {
        schedule: schedule?,
        method: method?.value,
        path: path.map(|p| p.value).unwrap_or(d.path),
        headers: parsed_headers,
        body,
        body_source,
        timeout: timeout?.value,
        max_latency: max_latency?.value,
        max_ttfb: max_ttfb.map(|m| m.value),
        expect_status: expect_status?,
        expect: expect?,
        versions: versions?,
        fresh_for: fresh_for?.value,
        readiness: if readiness?.value == "require" {
            ReadinessPolicy::Require
        } else {
            ReadinessPolicy::Warn
        },
    })
}

fn looks_secret(header: &str) -> bool {
    let h = header.to_ascii_lowercase();
    h == "authorization" || h.contains("api-key") || h.contains("token") || h.contains("secret")
}

fn expectation(t: &mut Section<'_, '_>) -> Option<Expectation> {
    let pointer = t.req_str("pointer");
    if let Some(p) = &pointer
        && !p.value.starts_with('/')
    {
        t.error(
            p.offset,
            "pointer",
            format!("{:?} is not a JSON Pointer (it starts with '/')", p.value),
        );
        return None;
    }
    let contains = t.opt_str("contains");
    let equals = if t.has("equals") {
        match t.opt_str("equals") {
            Some(v) => Some(serde_json::Value::String(v.value)),
            None => {
                // Numbers and booleans compare as JSON values.
                if let Some(n) = t.opt_int("equals") {
                    Some(serde_json::Value::from(n.value))
                } else {
                    t.opt_bool("equals")
                        .map(|b| serde_json::Value::Bool(b.value))
                }
            }
        }
    } else {
        None
    };
    let check = match (equals, contains) {
        (Some(_), Some(c)) => {
            t.error(
                c.offset,
                "contains",
                "set either equals or contains, not both",
            );
            return None;
        }
        (Some(v), None) => Expect::Equals(v),
        (None, Some(c)) => Expect::Contains(c.value),
        (None, None) => Expect::Exists,
    };
    Some(Expectation {
        pointer: pointer?.value,
        check,
    })
}

/// `Some(None)`: absent and optional; `None`: an error was recorded.
fn schedule(s: &mut Section<'_, '_>, key: &str, required: bool) -> Option<Option<Schedule>> {
    let v = if required {
        s.req_str(key)
    } else {
        s.opt_str(key)
    };
    match v {
        Some(v) => match Schedule::parse(&v.value) {
            Ok(sch) => Some(Some(sch)),
            Err(e) => {
                s.error(v.offset, key, e);
                None
            }
        },
        None if s.has(key) || required => None,
        None => Some(None),
    }
}

pub fn drill(t: &mut Section<'_, '_>) -> Option<super::ScheduledDrill> {
    let kind = t.choice("kind", &["standby", "full"], None);
    let schedule = schedule(t, "schedule", true);
    Some(super::ScheduledDrill {
        kind: if kind?.value == "full" {
            RunbookKind::DrillFull
        } else {
            RunbookKind::DrillStandby
        },
        schedule: schedule??,
    })
}
