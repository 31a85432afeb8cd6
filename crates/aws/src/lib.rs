//! AWS adapters: thin, typed wrappers over the SDK calls standby makes. Every call the
//! orchestrator can make is here, listed in `standby_core::operations`, from which its IAM policy
//! is derived.

pub mod asg;
pub mod calls;
pub mod dns;
pub mod ec2;
pub mod fence;
pub mod gate;
pub mod identity;
pub mod quotas;
pub mod s3;
pub mod state;

use std::sync::Arc;

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};

use standby_core::config::{Config, Side};

#[derive(Debug, thiserror::Error)]
#[error("{op} {target}: {message}")]
pub struct AwsError {
    pub op: &'static str,
    pub target: String,
    /// What kind of failure, from the SDK's typed error: callers branch on this.
    pub kind: ErrorKind,
    /// For people: the whole error chain on one line.
    pub message: String,
}

/// What an AWS call met, as the SDK classifies it (the error's variant, its code, the HTTP
/// status), never by reading the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Throttled (Throttling, SlowDown, PriorRequestNotComplete, …); the SDK retried it.
    Throttled,
    /// The credentials or the policy do not allow it: retrying cannot help, people must.
    Denied,
    /// The bucket, key, hosted zone or group does not exist.
    NotFound,
    /// No answer in time (the attempt or the call timeout).
    Timeout,
    /// The endpoint could not be reached: DNS, connect, TLS. A region that is down looks so.
    Unreachable,
    /// The service answered with a server error (5xx).
    Server,
    /// Anything else: a validation error, an answer that could not be read.
    Other,
}

impl ErrorKind {
    fn of_code(code: Option<&str>) -> Option<ErrorKind> {
        Some(match code? {
            "Throttling"
            | "ThrottlingException"
            | "ThrottledException"
            | "RequestThrottled"
            | "RequestThrottledException"
            | "TooManyRequestsException"
            | "RequestLimitExceeded"
            | "SlowDown"
            | "PriorRequestNotComplete"
            | "BandwidthLimitExceeded" => ErrorKind::Throttled,
            "AccessDenied"
            | "AccessDeniedException"
            | "UnauthorizedOperation"
            | "InvalidClientTokenId"
            | "InvalidAccessKeyId"
            | "SignatureDoesNotMatch"
            | "ExpiredToken"
            | "ExpiredTokenException"
            | "AllAccessDisabled" => ErrorKind::Denied,
            // EC2 says `InvalidCapacityReservationId.NotFound`, `InvalidLaunchTemplateId.NotFound`.
            c if c.starts_with("NoSuch") || c == "NotFound" || c.ends_with(".NotFound") => {
                ErrorKind::NotFound
            }
            _ => return None,
        })
    }

    /// A failure of the path or the service that may pass (the region may come back), as
    /// opposed to one of this request or this account.
    pub fn unavailable(self) -> bool {
        matches!(
            self,
            ErrorKind::Throttled | ErrorKind::Timeout | ErrorKind::Unreachable | ErrorKind::Server
        )
    }
}

type SdkError<E> = aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>;

impl AwsError {
    /// An SDK call's failure, classified from the error itself.
    pub fn new<E>(op: &'static str, target: impl Into<String>, err: SdkError<E>) -> Self
    where
        E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
    {
        use aws_sdk_s3::error::ProvideErrorMetadata;
        let kind = match &err {
            SdkError::TimeoutError(_) => ErrorKind::Timeout,
            SdkError::DispatchFailure(f) if f.is_timeout() => ErrorKind::Timeout,
            SdkError::DispatchFailure(_) => ErrorKind::Unreachable,
            SdkError::ServiceError(ctx) => {
                ErrorKind::of_code(err.code()).unwrap_or(if ctx.raw().status().is_server_error() {
                    ErrorKind::Server
                } else {
                    ErrorKind::Other
                })
            }
            _ => ErrorKind::of_code(err.code()).unwrap_or(ErrorKind::Other),
        };
        AwsError {
            op,
            target: target.into(),
            kind,
            message: error_text(&err),
        }
    }

    /// A failure after the call answered (reading its body, say).
    pub fn other(op: &'static str, target: impl Into<String>, err: impl std::error::Error) -> Self {
        AwsError {
            op,
            target: target.into(),
            kind: ErrorKind::Other,
            message: error_text(&err),
        }
    }
}

/// The full error chain on one line: the SDK's top-level message alone is often just
/// "service error", which tells an SRE nothing.
pub fn error_text(err: &dyn std::error::Error) -> String {
    let mut parts = vec![err.to_string()];
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.contains(&text) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

/// SDK clients for both regions. Credentials come from the SDK's standard chain only.
#[derive(Clone)]
pub struct Clients {
    pub primary_asg: aws_sdk_autoscaling::Client,
    pub standby_asg: aws_sdk_autoscaling::Client,
    /// Launch templates and capacity reservations, read by the preflight.
    pub primary_ec2: aws_sdk_ec2::Client,
    pub standby_ec2: aws_sdk_ec2::Client,
    pub route53: aws_sdk_route53::Client,
    pub primary_s3: aws_sdk_s3::Client,
    pub standby_s3: aws_sdk_s3::Client,
    /// `method = "failover_records"`: S3 in the gate's region, with the control-plane deadline
    /// (a small object: it answers in milliseconds or it is not answering).
    pub gate_s3: Option<aws_sdk_s3::Client>,
    /// The account the credentials belong to (STS in the standby region), for the reports.
    pub identity: identity::Identity,
    /// Service Quotas in the standby region (the readiness evaluation's EC2 quotas).
    pub standby_quotas: aws_sdk_servicequotas::Client,
}

impl Clients {
    pub async fn new(cfg: &Config) -> Clients {
        Clients::fenced(cfg, None).await
    }

    /// Clients whose every request is checked against `fence` first (see [`fence`]): the
    /// acting clients of an instance that shares its state with others.
    pub async fn fenced(cfg: &Config, fence: Option<Arc<dyn fence::Fence>>) -> Clients {
        let primary = sdk_config(cfg, &cfg.primary.region).await;
        let standby = sdk_config(cfg, &cfg.standby.region).await;
        // Route 53 is global; its control plane lives in us-east-1, so sign for that.
        let global = sdk_config(cfg, "us-east-1").await;
        let deadline = control_plane_timeouts(cfg);
        let interceptor = fence.map(fence::Interceptor);
        let asg = |conf: &aws_config::SdkConfig| {
            let mut b = aws_sdk_autoscaling::config::Builder::from(conf)
                .timeout_config(deadline.clone())
                .interceptor(calls::Interceptor);
            if let Some(i) = &interceptor {
                b = b.interceptor(i.clone());
            }
            aws_sdk_autoscaling::Client::from_conf(b.build())
        };
        let ec2 = |conf: &aws_config::SdkConfig| {
            let mut b = aws_sdk_ec2::config::Builder::from(conf)
                .timeout_config(deadline.clone())
                .interceptor(calls::Interceptor);
            if let Some(i) = &interceptor {
                b = b.interceptor(i.clone());
            }
            aws_sdk_ec2::Client::from_conf(b.build())
        };
        let quotas = {
            let mut b = aws_sdk_servicequotas::config::Builder::from(&standby)
                .timeout_config(deadline.clone())
                .interceptor(calls::Interceptor);
            if let Some(i) = &interceptor {
                b = b.interceptor(i.clone());
            }
            aws_sdk_servicequotas::Client::from_conf(b.build())
        };
        let mut route53 = aws_sdk_route53::config::Builder::from(&global)
            .timeout_config(deadline.clone())
            .interceptor(calls::Interceptor);
        if let Some(i) = &interceptor {
            route53 = route53.interceptor(i.clone());
        }
        let gate_s3 = match &cfg.dns.method {
            standby_core::config::DnsMethod::Record => None,
            standby_core::config::DnsMethod::FailoverRecords(g) => {
                let conf = sdk_config(cfg, &g.region).await;
                let mut b = s3_builder(&conf).timeout_config(deadline.clone());
                if let Some(i) = &interceptor {
                    b = b.interceptor(i.clone());
                }
                Some(aws_sdk_s3::Client::from_conf(b.build()))
            }
        };
        Clients {
            primary_asg: asg(&primary),
            standby_asg: asg(&standby),
            primary_ec2: ec2(&primary),
            standby_ec2: ec2(&standby),
            route53: aws_sdk_route53::Client::from_conf(route53.build()),
            primary_s3: s3_with_retries(&primary, cfg.sync.attempts, interceptor.clone()),
            standby_s3: s3_with_retries(&standby, cfg.sync.attempts, interceptor),
            gate_s3,
            identity: identity::Identity::new(&standby),
            standby_quotas: quotas,
        }
    }

    pub fn s3(&self, side: Side) -> &aws_sdk_s3::Client {
        match side {
            Side::Primary => &self.primary_s3,
            Side::Standby => &self.standby_s3,
        }
    }

    pub fn ec2(&self, side: Side) -> &aws_sdk_ec2::Client {
        match side {
            Side::Primary => &self.primary_ec2,
            Side::Standby => &self.standby_ec2,
        }
    }

    pub fn asg(&self, side: Side) -> &aws_sdk_autoscaling::Client {
        match side {
            Side::Primary => &self.primary_asg,
            Side::Standby => &self.standby_asg,
        }
    }
}

/// Control-plane calls (Auto Scaling, Route 53) end within `[aws] call_timeout`, SDK retries
/// included: small requests that either answer in seconds or are hanging. S3 keeps its
/// per-attempt limit only, since copying model weights legitimately takes minutes.
fn control_plane_timeouts(cfg: &Config) -> TimeoutConfig {
    let call = cfg.aws.call_timeout;
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3).min(call))
        .operation_attempt_timeout((call / cfg.aws.max_attempts.max(1)).max(Duration::from_secs(1)))
        .operation_timeout(call)
        .build()
}

/// The sync's S3 client: `[sync] attempts` per call, the SDK's standard mode. This is the only
/// retry layer for a copy: the SDK tells throttling (SlowDown), server errors and timeouts, which
/// it retries with backoff, from AccessDenied or NoSuchKey, which it does not.
fn s3_with_retries(
    conf: &aws_config::SdkConfig,
    attempts: u32,
    interceptor: Option<fence::Interceptor>,
) -> aws_sdk_s3::Client {
    let mut b =
        s3_builder(conf).retry_config(RetryConfig::standard().with_max_attempts(attempts.max(1)));
    if let Some(i) = interceptor {
        b = b.interceptor(i);
    }
    aws_sdk_s3::Client::from_conf(b.build())
}

/// The shared state store's client ([`state`]): small documents, so the control-plane deadline;
/// never fenced, since the lease itself is written through it.
pub async fn state_client(cfg: &Config, region: &str) -> aws_sdk_s3::Client {
    let conf = sdk_config(cfg, region).await;
    aws_sdk_s3::Client::from_conf(
        s3_builder(&conf)
            .timeout_config(control_plane_timeouts(cfg))
            .build(),
    )
}

/// An S3 client with the config's own retries.
pub fn s3_client(conf: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(s3_builder(conf).build())
}

/// Path-style addressing: works with every S3-compatible endpoint (and the emulator), and bucket
/// names with dots. Every request counted ([`calls`]).
fn s3_builder(conf: &aws_config::SdkConfig) -> aws_sdk_s3::config::Builder {
    aws_sdk_s3::config::Builder::from(conf)
        .force_path_style(true)
        .interceptor(calls::Interceptor)
}

pub async fn sdk_config(cfg: &Config, region: &str) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        // The SDK's retries are the only ones inside a call (a failover step that still fails is
        // retried by the run's policy, `[failover] retry`, at step level). Standard mode, not
        // adaptive: adaptive's client-side rate limiter stretched a failover under 20% throttling
        // from ~6 s to over 90 s (tests/resilience.rs), and every second of it is RTO.
        .retry_config(RetryConfig::standard().with_max_attempts(cfg.aws.max_attempts))
        .timeout_config(
            TimeoutConfig::builder()
                .operation_attempt_timeout(cfg.aws.s3_attempt_timeout)
                .build(),
        );
    if let Some(url) = &cfg.aws.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    loader.load().await
}

/// Why no AWS credentials can be had, in one line naming every source the SDK's standard chain
/// tried; `None` when it resolves some. Asked once before a command touches AWS, so a host
/// without credentials hears that, not `failed to load IMDS session token` at its first call.
pub async fn credentials_problem(cfg: &Config) -> Option<String> {
    use aws_credential_types::provider::ProvideCredentials;
    let conf = sdk_config(cfg, &cfg.standby.region).await;
    let provider = conf.credentials_provider()?;
    let got = tokio::time::timeout(Duration::from_secs(10), provider.provide_credentials()).await;
    let why = match got {
        Ok(Ok(_)) => return None,
        Ok(Err(e)) => error_text(&e),
        Err(_) => "no source answered within 10s".to_string(),
    };
    let profile = std::env::var("AWS_PROFILE").unwrap_or_else(|_| "default".into());
    Some(format!(
        "no AWS credentials found (tried: the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY), \
         the shared config and credentials files (profile {profile}), web identity \
         (AWS_WEB_IDENTITY_TOKEN_FILE), SSO, ECS/EKS container credentials, EC2 instance metadata \
         (IMDS)): {why}"
    ))
}

/// Both sides' Auto Scaling groups, region by region: a region that cannot be read (the
/// failing one, often) leaves its groups out and says why, so the other side can still be
/// planned and scaled. Read-only.
pub async fn observe_asgs(
    clients: &Clients,
    cfg: &Config,
) -> (Vec<standby_core::plan::AsgObservation>, Vec<String>) {
    async fn describe<'a>(
        clients: &Clients,
        region: &'a standby_core::config::Region,
    ) -> (
        &'a standby_core::config::Region,
        Result<Vec<(String, Option<standby_core::plan::AsgCapacity>)>, AwsError>,
    ) {
        // Spares too: the plan sizes them and preflight checks they exist.
        let names: Vec<String> = region
            .asgs
            .iter()
            .flat_map(|a| std::iter::once(&a.name).chain(&a.fallback))
            .cloned()
            .collect();
        (
            region,
            asg::describe(clients.asg(region.side), &names).await,
        )
    }
    let (p, s) = tokio::join!(
        describe(clients, &cfg.primary),
        describe(clients, &cfg.standby)
    );
    let (mut seen, mut unreadable) = (Vec::new(), Vec::new());
    for (region, got) in [p, s] {
        match got {
            Ok(groups) => {
                for (name, capacity) in groups {
                    seen.push(standby_core::plan::AsgObservation {
                        side: region.side,
                        region: region.region.clone(),
                        name,
                        capacity,
                    });
                }
            }
            Err(e) => unreadable.push(format!("{} groups ({}): {e}", region.side, region.region)),
        }
    }
    (seen, unreadable)
}

/// Where Route 53 sends the name now, as read without waiting on anything the method does not
/// need: the record (control plane) for `record`, the gate object (S3 data plane) for
/// `failover_records`.
pub async fn observe_answer(
    clients: &Clients,
    cfg: &Config,
) -> Result<Option<standby_core::plan::RecordObservation>, AwsError> {
    match (&cfg.dns.method, &clients.gate_s3) {
        (standby_core::config::DnsMethod::FailoverRecords(g), Some(client)) => {
            let said = gate::read(client, g).await?;
            let side = said.as_ref().map_or(Side::Primary, |(s, _)| *s);
            let source = match &said {
                Some((_, body)) => format!(
                    "gate s3://{}/{} says {:?} (S3 in {}; Route 53 not asked)",
                    g.bucket,
                    g.key,
                    body.trim_end(),
                    g.region
                ),
                None => format!(
                    "gate s3://{}/{} does not exist: Route 53 answers the PRIMARY record (S3 in {}; Route 53 not asked)",
                    g.bucket, g.key, g.region
                ),
            };
            Ok(Some(standby_core::plan::RecordObservation {
                value: cfg.dns.value(side).to_string(),
                ttl: Some(i64::from(cfg.dns.ttl)),
                source: Some(source),
                last_known: false,
            }))
        }
        _ => {
            dns::current(
                &clients.route53,
                &cfg.dns.zone_id,
                &cfg.dns.name,
                cfg.dns.record_type,
            )
            .await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_classify_without_reading_messages() {
        assert_eq!(
            ErrorKind::of_code(Some("SlowDown")),
            Some(ErrorKind::Throttled)
        );
        assert_eq!(
            ErrorKind::of_code(Some("Throttling")),
            Some(ErrorKind::Throttled)
        );
        assert_eq!(
            ErrorKind::of_code(Some("PriorRequestNotComplete")),
            Some(ErrorKind::Throttled)
        );
        assert_eq!(
            ErrorKind::of_code(Some("AccessDenied")),
            Some(ErrorKind::Denied)
        );
        assert_eq!(
            ErrorKind::of_code(Some("NoSuchBucket")),
            Some(ErrorKind::NotFound)
        );
        assert_eq!(ErrorKind::of_code(Some("InvalidChangeBatch")), None);
        assert_eq!(ErrorKind::of_code(None), None);
        assert!(ErrorKind::Server.unavailable() && ErrorKind::Unreachable.unavailable());
        assert!(!ErrorKind::Denied.unavailable() && !ErrorKind::NotFound.unavailable());
    }
}
