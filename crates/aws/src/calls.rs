//! Every request standby sends to AWS, counted: by service, operation and outcome, retries apart,
//! with its latency. An SDK interceptor on every client sees each attempt (the SDK's own retries
//! included) and adds it to the process's totals, which `/metrics` exposes, and to the tally of
//! the scope it runs in, which the executor opens per step so a run's report can say how many
//! calls each step made and how many were retried or throttled.
//!
//! Throttling is told from the answer itself: S3's `503 SlowDown`, `400 Throttling`,
//! `PriorRequestNotComplete` (Route 53), `RequestLimitExceeded`, `TooManyRequestsException`, or
//! any 429.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use aws_sdk_s3::config::interceptors::{
    BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_s3::error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_types::config_bag::{Storable, StoreReplace};

/// How one request on the wire ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Ok,
    Throttled,
    ClientError,
    ServerError,
    /// No answer: a timeout, a reset, a refused connection.
    Transport,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Throttled => "throttled",
            Outcome::ClientError => "client_error",
            Outcome::ServerError => "server_error",
            Outcome::Transport => "transport",
        }
    }
}

/// Counts for one (service, operation).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Counts {
    /// Requests on the wire, retries included.
    pub requests: u64,
    /// Requests after the first of their call: the SDK's retries.
    pub retries: u64,
    pub by_outcome: BTreeMap<Outcome, u64>,
    /// Sum of the requests' latencies.
    #[serde(skip)]
    pub seconds: f64,
    /// Latency histogram over [`BUCKETS`] (cumulative counts, as Prometheus wants them).
    #[serde(skip)]
    pub buckets: Vec<u64>,
}

/// Latency buckets in seconds: control-plane calls answer in tens of milliseconds or hang.
pub const BUCKETS: &[f64] = &[0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// A tally of requests: the process's, or one scope's.
#[derive(Debug, Default)]
pub struct Tally(Mutex<BTreeMap<(String, String), Counts>>);

impl Tally {
    fn add(&self, service: &str, operation: &str, outcome: Outcome, retry: bool, took: Duration) {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let c = m
            .entry((service.to_string(), operation.to_string()))
            .or_default();
        c.requests += 1;
        c.retries += u64::from(retry);
        *c.by_outcome.entry(outcome).or_default() += 1;
        let s = took.as_secs_f64();
        c.seconds += s;
        if c.buckets.is_empty() {
            c.buckets = vec![0; BUCKETS.len()];
        }
        for (i, b) in BUCKETS.iter().enumerate() {
            if s <= *b {
                c.buckets[i] += 1;
            }
        }
    }

    pub fn snapshot(&self) -> BTreeMap<(String, String), Counts> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Totals over all operations: (requests, retries, throttled).
    pub fn totals(&self) -> (u64, u64, u64) {
        self.snapshot().values().fold((0, 0, 0), |(r, t, th), c| {
            (
                r + c.requests,
                t + c.retries,
                th + c.by_outcome.get(&Outcome::Throttled).copied().unwrap_or(0),
            )
        })
    }
}

/// The process's totals, for `/metrics`.
pub fn process() -> &'static Tally {
    static P: OnceLock<Tally> = OnceLock::new();
    P.get_or_init(Tally::default)
}

tokio::task_local! {
    static SCOPE: Arc<Tally>;
}

/// Runs `fut` with its AWS requests also counted in `tally`.
pub async fn counted<F: Future>(tally: Arc<Tally>, fut: F) -> F::Output {
    SCOPE.scope(tally, fut).await
}

/// `fut`, carrying the scope it was made in into whatever task runs it (`JoinSet::spawn`
/// starts a task without the spawner's task-locals).
pub fn carry<F: Future>(fut: F) -> impl Future<Output = F::Output> {
    let tally = SCOPE.try_with(Arc::clone).ok();
    async move {
        match tally {
            Some(t) => SCOPE.scope(t, fut).await,
            None => fut.await,
        }
    }
}

/// The request in flight: when it was sent, its number in the call (above 1: a retry), and
/// whether it is still to be counted.
#[derive(Debug, Clone)]
struct Attempt {
    sent: Instant,
    number: u32,
    open: bool,
}

impl Storable for Attempt {
    type Storer = StoreReplace<Self>;
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Interceptor;

impl Intercept for Interceptor {
    fn name(&self) -> &'static str {
        "StandbyCallCounter"
    }

    // Just before the wire, after every `modify_before_transmit` (the lease fence may still
    // stop a request there; one stopped is not a request).
    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let number = cfg.load::<Attempt>().map_or(1, |a| a.number + 1);
        cfg.interceptor_state().store_put(Attempt {
            sent: Instant::now(),
            number,
            open: true,
        });
        Ok(())
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // An attempt stopped before it was sent (the lease fence) is not a request.
        let Some(attempt) = cfg.load::<Attempt>().filter(|a| a.open).cloned() else {
            return Ok(());
        };
        cfg.interceptor_state().store_put(Attempt {
            open: false,
            ..attempt.clone()
        });
        let (service, operation) = cfg
            .load::<Metadata>()
            .map(|m| (m.service().to_string(), m.name().to_string()))
            .unwrap_or_else(|| ("unknown".into(), "unknown".into()));
        let outcome = match context.response() {
            None => Outcome::Transport,
            Some(r) => classify(r.status().as_u16(), r.body().bytes().unwrap_or_default()),
        };
        let took = attempt.sent.elapsed();
        let retry = attempt.number > 1;
        process().add(&service, &operation, outcome, retry, took);
        let _ = SCOPE.try_with(|t| t.add(&service, &operation, outcome, retry, took));
        Ok(())
    }
}

/// The outcome of an answer, from its status and error code.
pub fn classify(status: u16, body: &[u8]) -> Outcome {
    const THROTTLING: [&str; 6] = [
        "<Code>SlowDown</Code>",
        "<Code>Throttling</Code>",
        "<Code>ThrottlingException</Code>",
        "<Code>PriorRequestNotComplete</Code>",
        "<Code>RequestLimitExceeded</Code>",
        "<Code>TooManyRequestsException</Code>",
    ];
    match status {
        200..=399 => Outcome::Ok,
        429 => Outcome::Throttled,
        _ if {
            let text = String::from_utf8_lossy(body);
            THROTTLING.iter().any(|c| text.contains(c))
        } =>
        {
            Outcome::Throttled
        }
        400..=499 => Outcome::ClientError,
        _ => Outcome::ServerError,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_is_told_in_each_services_shape() {
        assert_eq!(classify(200, b""), Outcome::Ok);
        assert_eq!(
            classify(503, b"<Error><Code>SlowDown</Code></Error>"),
            Outcome::Throttled
        );
        assert_eq!(
            classify(
                400,
                b"<ErrorResponse><Error><Code>Throttling</Code></Error></ErrorResponse>"
            ),
            Outcome::Throttled
        );
        assert_eq!(
            classify(400, b"<Error><Code>PriorRequestNotComplete</Code></Error>"),
            Outcome::Throttled
        );
        assert_eq!(classify(429, b""), Outcome::Throttled);
        assert_eq!(
            classify(403, b"<Error><Code>AccessDenied</Code></Error>"),
            Outcome::ClientError
        );
        assert_eq!(classify(500, b"InternalError"), Outcome::ServerError);
    }

    #[tokio::test]
    async fn a_scope_is_carried_into_spawned_tasks() {
        let t = Arc::new(Tally::default());
        counted(t.clone(), async {
            let fut = carry(async {
                SCOPE.with(|s| s.add("s3", "GetObject", Outcome::Ok, false, Duration::ZERO))
            });
            tokio::spawn(fut).await.unwrap();
        })
        .await;
        assert_eq!(t.totals(), (1, 0, 0));
    }
}
