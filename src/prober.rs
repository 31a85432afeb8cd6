//! The HTTP prober: one round = one attempt, plus immediate retries (`health.attempts`, 3 by
//! default) while it fails in a way worth retrying. With 2% independent loss a round then fails
//! one time in 1.25×10^5 instead of 50, and two failed rounds in a row become a one-in-10^10
//! event (about once in 30 centuries at a 2 s interval). A round has one deadline (`timeout`
//! after its start) shared by its retry, and a 2xx is cut off as `slow` when it crosses the
//! threshold, so every failure mode is detected within `failure_threshold × interval + timeout`.

use std::time::{Duration, Instant};

use chrono::Utc;

use standby_core::duration::human;
use standby_core::outcome::{Answer, OutcomeClass, ProbeResult, classify};

#[derive(Clone)]
pub struct Prober {
    client: reqwest::Client,
    timeout: Duration,
    slow: Duration,
    /// The retry rule and the attempts per round (`Health::retries`, `Health::attempts`).
    health: standby_core::config::Health,
}

impl Prober {
    pub fn new(health: &standby_core::config::Health) -> Prober {
        let (timeout, slow) = (health.timeout, health.slow);
        // The round's deadline bounds every attempt; the client's own timeout is only a backstop.
        let client = reqwest::Client::builder()
            .timeout(timeout.saturating_add(Duration::from_secs(1)))
            .connect_timeout(timeout)
            // A fresh connection per probe: a pooled keep-alive socket to a dead host would turn
            // "connection refused" into a slower, vaguer error.
            .pool_max_idle_per_host(0)
            .user_agent(concat!(
                "standby/",
                env!("CARGO_PKG_VERSION"),
                " health-probe"
            ))
            .build()
            .expect("static reqwest configuration is valid");
        Prober {
            client,
            timeout,
            slow,
            health: health.clone(),
        }
    }

    /// One probe round against `url`, started now: up to `attempts` requests under one deadline
    /// (`timeout` after the start), each after the previous one failed in a retryable way, so a
    /// hanging primary costs one timeout per round, never more.
    pub async fn round(&self, url: &str) -> ProbeResult {
        let at = Utc::now();
        let deadline = later(Instant::now(), self.timeout);
        let mut last = self.attempt(url, deadline).await;
        let mut retried = Vec::new();
        let mut prefix = String::new();
        while self.health.retries(last.class)
            && retried.len() + 1 < usize::from(self.health.attempts)
            && Instant::now() < deadline
        {
            retried.push(last.class);
            prefix.push_str(&last.detail);
            prefix.push_str(" then ");
            last = self.attempt(url, deadline).await;
        }
        let attempts = retried.len() as u8 + 1;
        let mut r = last.into_result(at, attempts, Some(prefix));
        r.retried = retried;
        r
    }

    /// One request. A 2xx is cut off as `slow` the moment it crosses the threshold (a model
    /// server that answers in 5 s is as down for users at 3 s as at 5 s); anything else is
    /// awaited until the round's deadline.
    async fn attempt(&self, url: &str, deadline: Instant) -> Attempt {
        let started = Instant::now();
        let slow_at = later(started, self.slow);
        // Past `slow` with no headers yet, whatever comes is either slow or a failure already.
        let headers_by = deadline.min(slow_at.max(started));
        let _full_table = crate::failpoint::fill_descriptor_table();
        let sent = tokio::time::timeout_at(headers_by.into(), self.client.get(url).send()).await;
        let ttfb = started.elapsed();
        let answer = match sent {
            Err(_) if headers_by < deadline => Cut::Slow(None),
            Err(_) => Cut::Answer(Answer::Timeout),
            Ok(Err(e)) if e.is_timeout() => Cut::Answer(Answer::Timeout),
            Ok(Err(e)) if e.is_builder() || local_cause(&e) => {
                Cut::Answer(Answer::Local(error_chain(&e)))
            }
            Ok(Err(e)) => Cut::Answer(Answer::Connect(error_chain(&e))),
            Ok(Ok(resp)) => {
                let status = resp.status().as_u16();
                if !(200..300).contains(&status) {
                    // The status is the whole answer for a probe; the body does not matter.
                    Cut::Answer(Answer::Status(status))
                } else {
                    let streaming = resp
                        .headers()
                        .get(reqwest::header::CONTENT_TYPE)
                        .and_then(|v| v.to_str().ok())
                        .is_some_and(|v| v.starts_with("text/event-stream"));
                    let body_by = deadline.min(slow_at);
                    match tokio::time::timeout_at(body_by.into(), read_body(resp, streaming)).await
                    {
                        Ok(Ok(())) => Cut::Answer(Answer::Status(status)),
                        Ok(Err(e)) if e.is_timeout() => Cut::Answer(Answer::Timeout),
                        Ok(Err(e)) => Cut::Answer(Answer::Connect(error_chain(&e))),
                        Err(_) if body_by == slow_at => Cut::Slow(Some(status)),
                        Err(_) => Cut::Answer(Answer::Timeout),
                    }
                }
            }
        };
        let latency = started.elapsed();
        let (class, status, detail) = match answer {
            Cut::Slow(status) => (
                OutcomeClass::Slow,
                status,
                match status {
                    Some(s) => {
                        format!("HTTP {s} still answering after {} (slow)", human(self.slow))
                    }
                    None => format!("no answer within {} (slow)", human(self.slow)),
                },
            ),
            Cut::Answer(answer) => {
                let class = classify(&answer, latency, self.slow);
                let detail = match &answer {
                    Answer::Status(s) if class == OutcomeClass::Slow => format!(
                        "HTTP {s} in {} (slow > {})",
                        human(latency),
                        human(self.slow)
                    ),
                    Answer::Status(s) => format!("HTTP {s}"),
                    Answer::Timeout => format!("timeout after {}", human(self.timeout)),
                    Answer::Connect(e) | Answer::Local(e) => e.clone(),
                };
                let status = match answer {
                    Answer::Status(s) => Some(s),
                    _ => None,
                };
                (class, status, detail)
            }
        };
        Attempt {
            class,
            status,
            latency,
            ttfb: status.map(|_| ttfb),
            detail,
        }
    }
}

/// `at + d`, saturating at a year: a valid config with an absurd timeout must not panic.
fn later(at: Instant, d: Duration) -> Instant {
    at.checked_add(d)
        .unwrap_or_else(|| at + Duration::from_secs(365 * 86_400))
}

enum Cut {
    Answer(Answer),
    /// Crossed the `slow` threshold before the answer was complete (status if headers came).
    Slow(Option<u16>),
}

/// The whole body, or for a stream its first chunk: time to first token is what a user waits.
async fn read_body(mut resp: reqwest::Response, streaming: bool) -> Result<(), reqwest::Error> {
    if streaming {
        resp.chunk().await?;
        return Ok(());
    }
    while resp.chunk().await?.is_some() {}
    Ok(())
}

struct Attempt {
    class: OutcomeClass,
    status: Option<u16>,
    latency: Duration,
    ttfb: Option<Duration>,
    detail: String,
}

impl Attempt {
    fn into_result(
        self,
        at: chrono::DateTime<Utc>,
        attempts: u8,
        prefix: Option<String>,
    ) -> ProbeResult {
        ProbeResult {
            at,
            outcome: self.class,
            status: self.status,
            latency: self.latency,
            attempts,
            retried: Vec::new(),
            ttfb: self.ttfb,
            detail: format!("{}{}", prefix.unwrap_or_default(), self.detail),
        }
    }
}

/// reqwest's top-level message ("error sending request") hides the cause; keep the innermost.
pub fn error_chain(e: &reqwest::Error) -> String {
    let mut msg = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg = s.to_string();
        source = s.source();
    }
    msg
}

/// Errors of this host's own resources: out of file descriptors (EMFILE, ENFILE), of memory
/// or buffers (ENOMEM, ENOBUFS), of local ports (EADDRNOTAVAIL). They say nothing about the
/// primary, and must never count as its failure.
pub fn local_cause(e: &(dyn std::error::Error + 'static)) -> bool {
    const LOCAL: [i32; 5] = [24, 23, 12, 105, 99];
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && io.raw_os_error().is_some_and(|c| LOCAL.contains(&c))
        {
            return true;
        }
        // The resolver reports getaddrinfo's EAI_SYSTEM as text only.
        let text = err.to_string();
        if ["Too many open files", "Cannot allocate memory"]
            .iter()
            .any(|m| text.contains(m))
        {
            return true;
        }
        cur = err.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use standby_core::config::Health;
    use standby_testbed::endpoint::{Behavior, Endpoint};

    #[test]
    fn this_hosts_resource_errors_are_local_wherever_they_sit_in_the_chain() {
        #[derive(Debug)]
        struct Wrap(std::io::Error);
        impl std::fmt::Display for Wrap {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("client error (Connect)")
            }
        }
        impl std::error::Error for Wrap {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let emfile = Wrap(std::io::Error::from_raw_os_error(24));
        assert!(local_cause(&emfile));
        let refused = Wrap(std::io::Error::from_raw_os_error(111));
        assert!(!local_cause(&refused), "ECONNREFUSED is the primary's");
        let resolver = Wrap(std::io::Error::other(
            "failed to lookup address information: Too many open files",
        ));
        assert!(local_cause(&resolver));
    }

    fn prober(timeout_ms: u64, slow_ms: u64) -> Prober {
        Prober::new(&Health {
            timeout: Duration::from_millis(timeout_ms),
            slow: Duration::from_millis(slow_ms),
            ..Health::default()
        })
    }

    #[tokio::test]
    async fn a_hanging_primary_costs_one_deadline_per_round() {
        let e = Endpoint::start(Behavior::Hang, None).await.unwrap();
        let started = Instant::now();
        let r = prober(300, 1_000).round(&e.url()).await;
        let took = started.elapsed();
        assert_eq!(r.outcome, OutcomeClass::Timeout, "{}", r.detail);
        assert_eq!(r.attempts, 1, "the deadline leaves no time for a retry");
        assert!(took < Duration::from_millis(450), "{took:?}");
    }

    #[tokio::test]
    async fn a_slow_2xx_is_cut_off_when_it_crosses_slow() {
        let e = Endpoint::start(Behavior::Slow(Duration::from_secs(5)), None)
            .await
            .unwrap();
        let started = Instant::now();
        let r = prober(1_000, 150).round(&e.url()).await;
        let took = started.elapsed();
        assert_eq!(r.outcome, OutcomeClass::Slow, "{}", r.detail);
        assert!(r.detail.contains("(slow)"), "{}", r.detail);
        // Each of the three attempts is cut at 150ms, well inside the 1s deadline.
        assert_eq!(r.attempts, 3);
        assert!(took < Duration::from_millis(900), "{took:?}");
    }

    #[tokio::test]
    async fn failures_are_retried_and_kept_but_a_429_is_not_retried() {
        let e = Endpoint::start(Behavior::Status(503), None).await.unwrap();
        let r = prober(1_000, 800).round(&e.url()).await;
        assert_eq!(r.outcome, OutcomeClass::Unavailable);
        assert_eq!(r.attempts, 3);
        assert_eq!(r.retried, vec![OutcomeClass::Unavailable; 2]);
        assert_eq!(r.detail, "HTTP 503 then HTTP 503 then HTTP 503");
        e.set(Behavior::Status(429));
        let r = prober(1_000, 800).round(&e.url()).await;
        assert_eq!(r.outcome, OutcomeClass::RateLimited);
        assert_eq!(
            r.attempts, 1,
            "alive and shedding load: asking again adds load"
        );
        e.set(Behavior::Ok);
        let r = prober(1_000, 800).round(&e.url()).await;
        assert_eq!((r.outcome, r.attempts), (OutcomeClass::Ok, 1));
        assert!(r.ttfb.is_some());
    }
}
