//! Probe outcome classes. A load balancer's 503, an overloaded model server's 429 and a black-holed
//! region's timeout mean different things to an SRE, so the prober keeps them apart.

use std::time::Duration;

use chrono::{DateTime, Utc};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeClass {
    Ok,
    /// 2xx but slower than `health.slow`: for inference, slow is down.
    Slow,
    RateLimited,
    Unavailable,
    ServerError,
    Timeout,
    /// Refused, DNS, TLS: nothing answered HTTP at all.
    Connect,
    /// Any other 4xx: our probe is wrong, not the primary. Alerts, never fails over.
    ProbeError,
    /// This host could not send the probe (out of file descriptors, memory, ports): says
    /// nothing about the primary. Not counted; the orchestrator reports itself impaired.
    Local,
}

impl OutcomeClass {
    /// Counted as failures unless `health.fail_on` says otherwise. `rate_limited` is left out on
    /// purpose: a 429 says the primary is alive and shedding load, and moving that load to a
    /// colder standby rarely helps. Teams that disagree add it to `fail_on`.
    pub const DEFAULT_FAILURES: &'static [OutcomeClass] = &[
        OutcomeClass::Slow,
        OutcomeClass::Unavailable,
        OutcomeClass::ServerError,
        OutcomeClass::Timeout,
        OutcomeClass::Connect,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeClass::Ok => "ok",
            OutcomeClass::Slow => "slow",
            OutcomeClass::RateLimited => "rate_limited",
            OutcomeClass::Unavailable => "unavailable",
            OutcomeClass::ServerError => "server_error",
            OutcomeClass::Timeout => "timeout",
            OutcomeClass::Connect => "connect",
            OutcomeClass::ProbeError => "probe_error",
            OutcomeClass::Local => "local",
        }
    }

    pub fn parse(s: &str) -> Option<OutcomeClass> {
        Some(match s {
            "ok" => OutcomeClass::Ok,
            "slow" => OutcomeClass::Slow,
            "rate_limited" => OutcomeClass::RateLimited,
            "unavailable" => OutcomeClass::Unavailable,
            "server_error" => OutcomeClass::ServerError,
            "timeout" => OutcomeClass::Timeout,
            "connect" => OutcomeClass::Connect,
            "probe_error" => OutcomeClass::ProbeError,
            "local" => OutcomeClass::Local,
            _ => return None,
        })
    }

    /// Worth an immediate retry within the round: transient-looking failures only. A probe error
    /// will not fix itself by asking again.
    pub fn retryable(self) -> bool {
        !matches!(
            self,
            OutcomeClass::Ok | OutcomeClass::ProbeError | OutcomeClass::Local
        )
    }

    /// Says nothing about the primary's health: the round is not counted.
    pub fn uncounted(self) -> bool {
        matches!(self, OutcomeClass::ProbeError | OutcomeClass::Local)
    }
}

/// What the transport reported for one attempt, before classification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Status(u16),
    Timeout,
    Connect(String),
    /// The request could not even be built or sent for a reason of this host (EMFILE, ENOMEM,
    /// no free port).
    Local(String),
}

/// Classifies one attempt. Pure, so the rules can be tested without sockets.
pub fn classify(answer: &Answer, latency: Duration, slow: Duration) -> OutcomeClass {
    match answer {
        Answer::Status(s) if (200..300).contains(s) => {
            if latency > slow {
                OutcomeClass::Slow
            } else {
                OutcomeClass::Ok
            }
        }
        Answer::Status(429) => OutcomeClass::RateLimited,
        Answer::Status(503) => OutcomeClass::Unavailable,
        Answer::Status(s) if *s >= 500 => OutcomeClass::ServerError,
        // 1xx/3xx/4xx: the endpoint answered, so the region is up, but not the way the probe
        // expects; a redirect to a login page is a broken probe, not an outage.
        Answer::Status(_) => OutcomeClass::ProbeError,
        Answer::Timeout => OutcomeClass::Timeout,
        Answer::Connect(_) => OutcomeClass::Connect,
        Answer::Local(_) => OutcomeClass::Local,
    }
}

/// One probe round: up to `health.attempts` attempts, each after the previous one failed in a
/// retryable way, all within the round's deadline.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ProbeResult {
    pub at: DateTime<Utc>,
    pub outcome: OutcomeClass,
    pub status: Option<u16>,
    #[serde(with = "crate::serde_duration", rename = "latency_ms")]
    pub latency: Duration,
    pub attempts: u8,
    /// The classes of the attempts before the last one, when the round retried: the error rate
    /// counts requests, so a failure a retry absorbed still counts as a failed request.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retried: Vec<OutcomeClass>,
    /// Time to the response headers (first byte) of the attempt that decided the round.
    #[serde(
        default,
        with = "crate::serde_duration_opt",
        rename = "ttfb_ms",
        skip_serializing_if = "Option::is_none"
    )]
    pub ttfb: Option<Duration>,
    /// Human detail: `HTTP 503`, `timeout after 1s`, `connection refused`, first attempt's class.
    pub detail: String,
}

impl ProbeResult {
    /// A round with one attempt and no detail: what the simulation and tests feed the detector.
    pub fn bare(at: DateTime<Utc>, outcome: OutcomeClass) -> ProbeResult {
        ProbeResult {
            at,
            outcome,
            status: None,
            latency: Duration::ZERO,
            attempts: 1,
            retried: Vec::new(),
            ttfb: None,
            detail: String::new(),
        }
    }

    /// The classes of the round's attempts, first attempt first. A record from before the
    /// attempts were kept counts its earlier attempts as failing like the last.
    pub fn attempt_classes(&self) -> impl Iterator<Item = OutcomeClass> + '_ {
        let missing =
            usize::from(self.attempts.saturating_sub(1)).saturating_sub(self.retried.len());
        self.retried
            .iter()
            .copied()
            .chain(std::iter::repeat_n(self.outcome, missing))
            .chain(std::iter::once(self.outcome))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SLOW: Duration = Duration::from_secs(3);

    #[test]
    fn status_codes_map_to_distinct_classes() {
        let fast = Duration::from_millis(20);
        assert_eq!(classify(&Answer::Status(200), fast, SLOW), OutcomeClass::Ok);
        assert_eq!(
            classify(&Answer::Status(204), Duration::from_secs(4), SLOW),
            OutcomeClass::Slow
        );
        assert_eq!(
            classify(&Answer::Status(429), fast, SLOW),
            OutcomeClass::RateLimited
        );
        assert_eq!(
            classify(&Answer::Status(503), fast, SLOW),
            OutcomeClass::Unavailable
        );
        assert_eq!(
            classify(&Answer::Status(500), fast, SLOW),
            OutcomeClass::ServerError
        );
        assert_eq!(
            classify(&Answer::Status(504), fast, SLOW),
            OutcomeClass::ServerError
        );
        assert_eq!(
            classify(&Answer::Status(404), fast, SLOW),
            OutcomeClass::ProbeError
        );
        assert_eq!(
            classify(&Answer::Status(401), fast, SLOW),
            OutcomeClass::ProbeError
        );
        assert_eq!(
            classify(&Answer::Timeout, fast, SLOW),
            OutcomeClass::Timeout
        );
        assert_eq!(
            classify(&Answer::Connect("refused".into()), fast, SLOW),
            OutcomeClass::Connect
        );
        let local = classify(&Answer::Local("Too many open files".into()), fast, SLOW);
        assert_eq!(local, OutcomeClass::Local);
        assert!(local.uncounted() && !local.retryable());
    }

    #[test]
    fn class_names_round_trip() {
        for c in [
            OutcomeClass::Ok,
            OutcomeClass::Slow,
            OutcomeClass::RateLimited,
            OutcomeClass::Unavailable,
            OutcomeClass::ServerError,
            OutcomeClass::Timeout,
            OutcomeClass::Connect,
            OutcomeClass::ProbeError,
            OutcomeClass::Local,
        ] {
            assert_eq!(OutcomeClass::parse(c.as_str()), Some(c));
        }
    }
}
