//! Synthetic inference probes ("smoke traffic"): a real request (OpenAI-compatible by default)
//! sent to a side, its answer checked for status, latency, shape and the artifact versions the
//! side says it serves. The checks are pure ([`evaluate`], [`readiness`]); [`client`] sends the
//! request and stores the result.

pub mod secret;

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::duration::{human, millis};
use crate::side::Side;
use secret::{Redactor, Template};

/// `[probes]`: what a synthetic probe sends and what its answer must show.
#[derive(Debug, Clone)]
pub struct Probes {
    /// When to probe the standby; `None`: only on demand and in drills.
    pub schedule: Option<crate::sync::schedule::Schedule>,
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, Template)>,
    pub body: Option<String>,
    /// Where the body came from, for reports: "default canary", "inline" or the file path.
    pub body_source: String,
    pub timeout: Duration,
    pub max_latency: Duration,
    /// Time to first byte, checked for streamed (`text/event-stream`) answers.
    pub max_ttfb: Option<Duration>,
    pub expect_status: Vec<u16>,
    pub expect: Vec<Expectation>,
    pub versions: Vec<VersionSource>,
    /// A standby probe result counts for readiness this long.
    pub fresh_for: Duration,
    pub readiness: ReadinessPolicy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadinessPolicy {
    /// Preflight records a standby that is not ready as a warning and goes on: the verify steps
    /// still keep DNS off a side that does not answer.
    Warn,
    /// Preflight fails (the run aborts) unless the run is forced.
    Require,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Expectation {
    /// RFC 6901 JSON Pointer into the answer (the first event of a streamed answer).
    pub pointer: String,
    pub check: Expect,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expect {
    Exists,
    Equals(serde_json::Value),
    Contains(String),
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct VersionSource {
    pub set: String,
    pub from: VersionFrom,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VersionFrom {
    Header(String),
    Pointer(String),
}

/// The default request: a one-token chat completion any OpenAI-compatible server answers.
pub fn default_body(model: &str) -> String {
    serde_json::json!({
        "model": model,
        "messages": [{"role": "user", "content": "standby canary: reply with the word ok"}],
        "max_tokens": 4,
        "temperature": 0,
        "stream": false
    })
    .to_string()
}

/// What came back from sending the request, before any judgement.
#[derive(Debug, Clone)]
pub enum Sent {
    Answer(Answer),
    /// No HTTP answer: connect error, timeout, or a header that could not be resolved.
    Failed {
        detail: String,
        latency: Duration,
    },
}

#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// Up to the first MiB of the body.
    pub body: Vec<u8>,
    pub latency: Duration,
    /// Headers to the first body chunk.
    pub ttfb: Duration,
    pub streamed: bool,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SmokeResult {
    pub side: Side,
    pub url: String,
    pub at: DateTime<Utc>,
    pub ok: bool,
    /// One line: what passed or the first thing that failed.
    pub reason: String,
    pub drift: bool,
    pub status: Option<u16>,
    pub latency_ms: Option<u64>,
    pub ttfb_ms: Option<u64>,
    pub streamed: bool,
    pub checks: Vec<SmokeCheck>,
    pub versions: Vec<VersionCheck>,
    /// The request as sent, with header templates in place of their values.
    pub request: RequestEcho,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SmokeCheck {
    pub name: String,
    pub ok: bool,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct VersionCheck {
    pub set: String,
    pub served: Option<String>,
    pub published: Option<String>,
    pub verdict: VersionVerdict,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VersionVerdict {
    Match,
    /// The side serves something other than the published manifest.
    Drift,
    /// The answer did not say which version it serves.
    Unreported,
    /// Nothing is published for the set yet (or, on the primary, nothing to compare with).
    NotCompared,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RequestEcho {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body_source: String,
}

impl Probes {
    pub fn echo(&self) -> RequestEcho {
        RequestEcho {
            method: self.method.clone(),
            path: self.path.clone(),
            headers: self
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), v.shown().to_string()))
                .collect(),
            body_source: self.body_source.clone(),
        }
    }
}

/// Judges an answer. `published` maps each set to the version its published manifest names
/// (`None`: nothing published); on the primary it is empty and versions are only recorded.
pub fn evaluate(
    spec: &Probes,
    side: Side,
    url: &str,
    at: DateTime<Utc>,
    sent: &Sent,
    published: &[(String, Option<String>)],
    redactor: &Redactor,
) -> SmokeResult {
    let mut checks = Vec::new();
    let mut versions = Vec::new();
    let (status, latency, ttfb, streamed) = match sent {
        Sent::Failed { detail, latency } => {
            checks.push(SmokeCheck {
                name: "answer".into(),
                ok: false,
                reason: format!("no answer: {}", redactor.scrub(detail)),
            });
            (None, Some(*latency), None, false)
        }
        Sent::Answer(a) => {
            judge(
                spec,
                side,
                a,
                published,
                redactor,
                &mut checks,
                &mut versions,
            );
            (
                Some(a.status),
                Some(a.latency),
                a.streamed.then_some(a.ttfb),
                a.streamed,
            )
        }
    };
    let drift = versions.iter().any(|v| v.verdict == VersionVerdict::Drift);
    let failed: Vec<&SmokeCheck> = checks.iter().filter(|c| !c.ok).collect();
    let ok = failed.is_empty();
    let reason = if ok {
        let lat = latency.map(human).unwrap_or_default();
        let matched = versions
            .iter()
            .filter(|v| v.verdict == VersionVerdict::Match)
            .count();
        format!(
            "{side} answered HTTP {} in {lat}{}; {} checks passed{}",
            status.unwrap_or(0),
            ttfb.map(|t| format!(" (first byte {})", human(t)))
                .unwrap_or_default(),
            checks.len(),
            if matched > 0 {
                format!("; serves the published version of {matched} artifact set(s)")
            } else {
                String::new()
            }
        )
    } else {
        let first: Vec<String> = failed
            .iter()
            .map(|c| format!("{}: {}", c.name, c.reason))
            .collect();
        format!(
            "{side} probe {}: {}",
            if drift { "found DRIFT" } else { "FAILED" },
            first.join("; ")
        )
    };
    SmokeResult {
        side,
        url: url.to_string(),
        at,
        ok,
        reason,
        drift,
        status,
        latency_ms: latency.map(millis),
        ttfb_ms: ttfb.map(millis),
        streamed,
        checks,
        versions,
        request: spec.echo(),
    }
}

fn judge(
    spec: &Probes,
    side: Side,
    a: &Answer,
    published: &[(String, Option<String>)],
    redactor: &Redactor,
    checks: &mut Vec<SmokeCheck>,
    versions: &mut Vec<VersionCheck>,
) {
    let status_ok = spec.expect_status.contains(&a.status);
    let excerpt = || {
        let text = String::from_utf8_lossy(&a.body);
        redactor.scrub_cut(text.trim(), 200)
    };
    checks.push(SmokeCheck {
        name: "status".into(),
        ok: status_ok,
        reason: if status_ok {
            format!("HTTP {}", a.status)
        } else {
            format!(
                "HTTP {} ({}), expected {}; body: {}",
                a.status,
                status_class(a.status),
                spec.expect_status
                    .iter()
                    .map(u16::to_string)
                    .collect::<Vec<_>>()
                    .join(" or "),
                excerpt()
            )
        },
    });
    let lat_ok = a.latency <= spec.max_latency;
    checks.push(SmokeCheck {
        name: "latency".into(),
        ok: lat_ok,
        reason: format!(
            "{} {} max {}",
            human(a.latency),
            if lat_ok { "within" } else { "OVER" },
            human(spec.max_latency)
        ),
    });
    if a.streamed
        && let Some(max) = spec.max_ttfb
    {
        let ok = a.ttfb <= max;
        checks.push(SmokeCheck {
            name: "first byte".into(),
            ok,
            reason: format!(
                "{} {} max {}",
                human(a.ttfb),
                if ok { "within" } else { "OVER" },
                human(max)
            ),
        });
    }
    if !status_ok {
        return;
    }
    let doc = answer_document(a);
    for e in &spec.expect {
        let found = doc.as_ref().and_then(|d| d.pointer(&e.pointer));
        let (ok, reason) = match (&e.check, found) {
            (_, None) if doc.is_none() => (false, "the answer is not JSON".to_string()),
            (_, None) => (false, "not present in the answer".to_string()),
            (Expect::Exists, Some(_)) => (true, "present".to_string()),
            (Expect::Equals(want), Some(v)) => (
                v == want,
                if v == want {
                    format!("equals {want}")
                } else {
                    format!("is {}, expected {want}", short(v, redactor))
                },
            ),
            (Expect::Contains(want), Some(v)) => {
                let text = v
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string());
                let ok = text.contains(want.as_str());
                (
                    ok,
                    if ok {
                        format!("contains {want:?}")
                    } else {
                        format!("{} does not contain {want:?}", short(v, redactor))
                    },
                )
            }
        };
        checks.push(SmokeCheck {
            name: format!("answer {}", e.pointer),
            ok,
            reason: redactor.scrub(&reason),
        });
    }
    for src in &spec.versions {
        let served = match &src.from {
            VersionFrom::Header(h) => a
                .headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(h))
                .map(|(_, v)| v.trim().to_string()),
            VersionFrom::Pointer(p) => doc.as_ref().and_then(|d| d.pointer(p)).map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string())
            }),
        }
        .map(|v| redactor.scrub(&v));
        let published = published
            .iter()
            .find(|(s, _)| *s == src.set)
            .and_then(|(_, v)| v.clone());
        let where_ = match &src.from {
            VersionFrom::Header(h) => format!("header {h}"),
            VersionFrom::Pointer(p) => format!("answer {p}"),
        };
        let (verdict, ok, reason) = match (side, &served, &published) {
            (_, None, _) => (
                VersionVerdict::Unreported,
                false,
                format!("the answer has no {where_}"),
            ),
            (Side::Primary, Some(s), _) => (
                VersionVerdict::NotCompared,
                true,
                format!("serves {s} (the primary is the source; not compared)"),
            ),
            (Side::Standby, Some(s), None) => (
                VersionVerdict::NotCompared,
                true,
                format!("serves {s}; no manifest published yet to compare with"),
            ),
            (Side::Standby, Some(s), Some(p)) if s == p => (
                VersionVerdict::Match,
                true,
                format!("serves {s}, the published manifest"),
            ),
            (Side::Standby, Some(s), Some(p)) => (
                VersionVerdict::Drift,
                false,
                format!("DRIFT: serves {s} but the published manifest is {p}"),
            ),
        };
        checks.push(SmokeCheck {
            name: format!("version {}", src.set),
            ok,
            reason,
        });
        versions.push(VersionCheck {
            set: src.set.clone(),
            served,
            published,
            verdict,
        });
    }
}

/// The JSON document expectations read: the body, or the first `data:` event of a stream.
fn answer_document(a: &Answer) -> Option<serde_json::Value> {
    if a.streamed {
        let text = String::from_utf8_lossy(&a.body);
        text.lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .map(str::trim)
            .find(|d| *d != "[DONE]")
            .and_then(|d| serde_json::from_str(d).ok())
    } else {
        serde_json::from_slice(&a.body).ok()
    }
}

/// A value for a reason string: redacted whole, then cut.
fn short(v: &serde_json::Value, redactor: &Redactor) -> String {
    redactor.scrub_cut(&v.to_string(), 80)
}

fn status_class(status: u16) -> &'static str {
    match status {
        429 => "rate limited",
        503 => "unavailable",
        401 | 403 => "unauthorized: check the probe's credentials",
        500..=599 => "server error",
        400..=499 => "the probe request is wrong",
        _ => "unexpected",
    }
}

/// Whether the standby may be trusted to take traffic, from its latest probe.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Readiness {
    pub ready: bool,
    pub reason: String,
    pub last_probe_at: Option<DateTime<Utc>>,
}

pub fn readiness(last: Option<&SmokeResult>, now: DateTime<Utc>, fresh_for: Duration) -> Readiness {
    let Some(r) = last else {
        return Readiness {
            ready: false,
            reason: "never probed: no synthetic request has reached the standby yet".into(),
            last_probe_at: None,
        };
    };
    let age = crate::duration::between(r.at, now);
    let (ready, reason) = if age > fresh_for {
        (
            false,
            format!(
                "stale: the last probe was {} ago (fresh for {})",
                human(age),
                human(fresh_for)
            ),
        )
    } else if r.drift {
        (false, format!("drift, {} ago: {}", human(age), r.reason))
    } else if !r.ok {
        (
            false,
            format!("last probe failed {} ago: {}", human(age), r.reason),
        )
    } else {
        (true, format!("ready: {} ({} ago)", r.reason, human(age)))
    };
    Readiness {
        ready,
        reason,
        last_probe_at: Some(r.at),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> Probes {
        Probes {
            schedule: None,
            method: "POST".into(),
            path: "/v1/chat/completions".into(),
            headers: vec![(
                "Authorization".into(),
                Template::parse("Bearer ${KEY}").unwrap(),
            )],
            body: Some(default_body("m")),
            body_source: "default canary".into(),
            timeout: Duration::from_secs(10),
            max_latency: Duration::from_secs(2),
            max_ttfb: Some(Duration::from_millis(500)),
            expect_status: vec![200],
            expect: vec![Expectation {
                pointer: "/choices/0/message/content".into(),
                check: Expect::Exists,
            }],
            versions: vec![
                VersionSource {
                    set: "prompts".into(),
                    from: VersionFrom::Header("x-prompts-version".into()),
                },
                VersionSource {
                    set: "weights".into(),
                    from: VersionFrom::Pointer("/system_fingerprint".into()),
                },
            ],
            fresh_for: Duration::from_secs(900),
            readiness: ReadinessPolicy::Warn,
        }
    }

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    fn answer(status: u16, prompts: &str, weights: &str) -> Sent {
        Sent::Answer(Answer {
            status,
            headers: vec![("X-Prompts-Version".into(), prompts.into())],
            body: format!(
                r#"{{"choices":[{{"message":{{"content":"ok"}}}}],"system_fingerprint":"{weights}"}}"#
            )
            .into_bytes(),
            latency: Duration::from_millis(120),
            ttfb: Duration::from_millis(100),
            streamed: false,
        })
    }

    fn published() -> Vec<(String, Option<String>)> {
        vec![
            ("prompts".into(), Some("p-2".into())),
            ("weights".into(), Some("w-1".into())),
        ]
    }

    #[test]
    fn matching_versions_pass() {
        let r = evaluate(
            &spec(),
            Side::Standby,
            "u",
            t(0),
            &answer(200, "p-2", "w-1"),
            &published(),
            &Redactor::default(),
        );
        assert!(r.ok, "{}", r.reason);
        assert_eq!(
            r.reason,
            "standby answered HTTP 200 in 120ms; 5 checks passed; serves the published version of 2 artifact set(s)"
        );
    }

    #[test]
    fn a_stale_version_is_drift_not_a_plain_failure() {
        let r = evaluate(
            &spec(),
            Side::Standby,
            "u",
            t(0),
            &answer(200, "p-1", "w-1"),
            &published(),
            &Redactor::default(),
        );
        assert!(!r.ok && r.drift);
        assert_eq!(
            r.reason,
            "standby probe found DRIFT: version prompts: DRIFT: serves p-1 but the published manifest is p-2"
        );
        let ready = readiness(Some(&r), t(60), Duration::from_secs(900));
        assert!(!ready.ready);
        assert!(
            ready.reason.starts_with("drift, 1m ago"),
            "{}",
            ready.reason
        );
    }

    #[test]
    fn the_primary_reports_versions_without_comparing() {
        let r = evaluate(
            &spec(),
            Side::Primary,
            "u",
            t(0),
            &answer(200, "p-9", "w-9"),
            &[],
            &Redactor::default(),
        );
        assert!(r.ok, "{}", r.reason);
        assert!(
            r.versions
                .iter()
                .all(|v| v.verdict == VersionVerdict::NotCompared)
        );
    }

    #[test]
    fn failures_name_the_class_and_scrub_echoed_secrets() {
        let mut red = Redactor::default();
        red.add("KEY", "sk-very-secret");
        let sent = Sent::Answer(Answer {
            status: 401,
            headers: vec![],
            body: br#"{"error":"bad key sk-very-secret"}"#.to_vec(),
            latency: Duration::from_millis(5),
            ttfb: Duration::from_millis(5),
            streamed: false,
        });
        let r = evaluate(&spec(), Side::Standby, "u", t(0), &sent, &published(), &red);
        assert!(!r.ok);
        assert!(
            r.reason
                .contains("HTTP 401 (unauthorized: check the probe's credentials)"),
            "{}",
            r.reason
        );
        assert!(r.reason.contains("[redacted ${KEY}]"), "{}", r.reason);
        assert!(
            !serde_json::to_string(&r)
                .unwrap()
                .contains("sk-very-secret")
        );
        assert_eq!(r.request.headers[0].1, "Bearer ${KEY}");
    }

    #[test]
    fn streamed_answers_check_first_byte_and_read_the_first_event() {
        let sent = Sent::Answer(Answer {
            status: 200,
            headers: vec![("x-prompts-version".into(), "p-2".into())],
            body: b"data: {\"choices\":[{\"message\":{\"content\":\"o\"}}],\"system_fingerprint\":\"w-1\"}\n\ndata: [DONE]\n\n".to_vec(),
            latency: Duration::from_millis(900),
            ttfb: Duration::from_millis(700),
            streamed: true,
        });
        let r = evaluate(
            &spec(),
            Side::Standby,
            "u",
            t(0),
            &sent,
            &published(),
            &Redactor::default(),
        );
        assert!(!r.ok);
        assert_eq!(
            r.reason,
            "standby probe FAILED: first byte: 700ms OVER max 500ms"
        );
        assert_eq!(r.ttfb_ms, Some(700));
    }

    #[test]
    fn readiness_expires_and_needs_a_probe() {
        assert_eq!(
            readiness(None, t(0), Duration::from_secs(60)).reason,
            "never probed: no synthetic request has reached the standby yet"
        );
        let r = evaluate(
            &spec(),
            Side::Standby,
            "u",
            t(0),
            &answer(200, "p-2", "w-1"),
            &published(),
            &Redactor::default(),
        );
        assert!(readiness(Some(&r), t(30), Duration::from_secs(60)).ready);
        let stale = readiness(Some(&r), t(120), Duration::from_secs(60));
        assert!(!stale.ready);
        assert_eq!(
            stale.reason,
            "stale: the last probe was 2m ago (fresh for 1m)"
        );
    }
}
