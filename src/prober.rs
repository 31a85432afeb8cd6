//! The HTTP prober: one round = one attempt, plus an immediate retry if it failed in a way worth
//! retrying. With 1% independent loss, a round then fails one time in 10^4 instead of 10^2, and
//! two failed rounds in a row become a one-in-10^8 event.

use std::time::{Duration, Instant};

use chrono::Utc;

use crate::core::outcome::{Answer, OutcomeClass, ProbeResult, classify};
use crate::duration::human;

#[derive(Clone)]
pub struct Prober {
    client: reqwest::Client,
    timeout: Duration,
    slow: Duration,
}

impl Prober {
    pub fn new(timeout: Duration, slow: Duration) -> Prober {
        let client = reqwest::Client::builder()
            .timeout(timeout)
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
        }
    }

    /// One probe round against `url`.
    pub async fn round(&self, url: &str) -> ProbeResult {
        let at = Utc::now();
        let first = self.attempt(url).await;
        if !first.0.retryable() {
            return result(at, first, 1, None);
        }
        let second = self.attempt(url).await;
        let first_detail = format!("{} then ", first.3);
        result(at, second, 2, Some(first_detail))
    }

    async fn attempt(&self, url: &str) -> (OutcomeClass, Option<u16>, Duration, String) {
        let started = Instant::now();
        let answer = match self.client.get(url).send().await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                // Read the body so "slow" covers the whole answer, not just the headers.
                match resp.bytes().await {
                    Ok(_) => Answer::Status(status),
                    Err(e) if e.is_timeout() => Answer::Timeout,
                    Err(e) => Answer::Connect(error_chain(&e)),
                }
            }
            Err(e) if e.is_timeout() => Answer::Timeout,
            Err(e) if e.is_builder() => Answer::Local(error_chain(&e)),
            Err(e) => Answer::Connect(error_chain(&e)),
        };
        let latency = started.elapsed();
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
        (class, status, latency, detail)
    }
}

fn result(
    at: chrono::DateTime<Utc>,
    a: (OutcomeClass, Option<u16>, Duration, String),
    attempts: u8,
    prefix: Option<String>,
) -> ProbeResult {
    ProbeResult {
        at,
        outcome: a.0,
        status: a.1,
        latency: a.2,
        attempts,
        detail: format!("{}{}", prefix.unwrap_or_default(), a.3),
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
