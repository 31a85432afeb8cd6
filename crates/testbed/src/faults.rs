//! An HTTP fault proxy between standby and the AWS emulator: what moto never does, injected on
//! the wire, so standby's real SDK clients meet it exactly as they would meet AWS.
//!
//! What it stands for (AWS's documented behaviour):
//! - **Throttling.** Route 53 allows five API requests per second per account and answers
//!   `400 Throttling` ("Rate exceeded") above it, and `400 PriorRequestNotComplete` while a
//!   change to the same zone is still being applied; Auto Scaling answers `400 Throttling`;
//!   S3 answers `503 SlowDown`. The SDK's standard retry mode retries these with backoff, up to
//!   `[aws] max_attempts`; what is left over reaches standby's own retry policy.
//! - **Hanging control planes.** In a us-east-1 event Route 53's control plane may accept
//!   connections and never answer: the proxy holds the request open until the client gives up.
//! - **Server errors**: any status, for the operations a rule names.
//! - **A regional outage**: a rule can name the signing region, so "S3 in us-east-1 answers 503"
//!   leaves the standby region's calls alone, as a real regional event does.
//!
//! Each call's service comes from its SigV4 credential scope and its operation from the
//! request (the query `Action` for Auto Scaling, the REST path for Route 53 and S3), so a rule
//! can target "the UPSERT of the DNS flip" and nothing else. Randomness is a seeded xorshift:
//! a run is repeatable.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// The service's own throttling answer (`Throttling`, or `SlowDown` for S3).
    Throttle,
    /// Route 53's answer while an earlier change is still being applied.
    PriorRequestNotComplete,
    /// Accept and never answer.
    Hang,
    /// Answer this status with a generic `InternalFailure`.
    Status(u16),
    /// Forward the call, after this long (a region under load answers slowly).
    Latency(std::time::Duration),
    /// Close the connection without an answer (a reset mid-call).
    Reset,
}

/// Which calls a rule hits, and how often.
#[derive(Debug, Clone)]
pub struct Rule {
    /// `route53`, `autoscaling`, `s3`; `None`: any.
    pub service: Option<String>,
    /// e.g. `ChangeResourceRecordSets`, `UpdateAutoScalingGroup`; `None`: any.
    pub operation: Option<String>,
    /// The signing region (`us-east-1`): a regional outage hits one region's endpoints only.
    pub region: Option<String>,
    pub fault: Fault,
    /// Only the first `n` matching calls (then the rule is spent); `None`: no limit.
    pub first: Option<u32>,
    /// The chance that a matching call is hit (1.0: every one).
    pub probability: f64,
}

impl Rule {
    pub fn new(service: Option<&str>, operation: Option<&str>, fault: Fault) -> Rule {
        Rule {
            service: service.map(str::to_string),
            operation: operation.map(str::to_string),
            region: None,
            fault,
            first: None,
            probability: 1.0,
        }
    }

    /// Only calls signed for `region`.
    pub fn in_region(mut self, region: &str) -> Rule {
        self.region = Some(region.to_string());
        self
    }

    pub fn first(mut self, n: u32) -> Rule {
        self.first = Some(n);
        self
    }

    pub fn probability(mut self, p: f64) -> Rule {
        self.probability = p;
        self
    }
}

/// One call that went through, with the fault it met.
#[derive(Debug, Clone)]
pub struct Call {
    pub service: String,
    pub operation: String,
    pub fault: Option<Fault>,
    /// `x-standby-lease` (instance/epoch) when the caller acted under a lease.
    pub lease: Option<String>,
    /// When the proxy received it.
    pub at: std::time::Instant,
    pub path: String,
}

struct Shared {
    upstream: String,
    client: reqwest::Client,
    rules: Mutex<Vec<Rule>>,
    calls: Mutex<Vec<Call>>,
    rng: Mutex<u64>,
    reality: Mutex<crate::reality::Model>,
}

pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FaultProxy {
    /// Listens on a free loopback port and forwards to `upstream` (the emulator's URL).
    pub async fn start(upstream: &str, seed: u64) -> std::io::Result<FaultProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            upstream: upstream.trim_end_matches('/').to_string(),
            client: reqwest::Client::builder()
                .no_proxy()
                .build()
                .map_err(std::io::Error::other)?,
            rules: Mutex::new(Vec::new()),
            calls: Mutex::new(Vec::new()),
            rng: Mutex::new(seed.max(1)),
            reality: Mutex::new(crate::reality::Model::default()),
        });
        let s = shared.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let s = s.clone();
                tokio::spawn(async move {
                    // An `Err` makes hyper drop the connection unanswered: a reset.
                    let service = hyper::service::service_fn(move |req| {
                        let s = s.clone();
                        async move { handle(&s, req).await.ok_or(Reset) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(FaultProxy { addr, shared, task })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn add(&self, rule: Rule) {
        self.shared.rules.lock().expect("rules").push(rule);
    }

    pub fn clear(&self) {
        self.shared.rules.lock().expect("rules").clear();
    }

    /// Lets the reality model see `groups` in `region` as they are now, running: a shortage set
    /// after this leaves their instances running (only new launches fail), as in AWS.
    pub async fn look_at(&self, region: &str, groups: &[&str]) {
        let mut form = "Action=DescribeAutoScalingGroups&Version=2011-01-01".to_string();
        for (i, g) in groups.iter().enumerate() {
            form.push_str(&format!("&AutoScalingGroupNames.member.{}={g}", i + 1));
        }
        let auth = format!(
            "AWS4-HMAC-SHA256 Credential=testbed/20260101/{region}/autoscaling/aws4_request, SignedHeaders=host, Signature=0"
        );
        let answer = self
            .shared
            .client
            .post(format!("{}/", self.shared.upstream))
            .header("authorization", auth)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await;
        if let Ok(r) = answer
            && let Ok(text) = r.text().await
        {
            let now = std::time::Instant::now();
            let long_ago = now
                .checked_sub(std::time::Duration::from_secs(3600))
                .unwrap_or(now);
            self.shared
                .reality
                .lock()
                .expect("reality")
                .groups(&text, long_ago);
        }
    }

    /// What AWS does over time that moto does at once (see [`crate::reality`]); replaces the
    /// previous setting, keeping what the model has seen (launches, changes).
    pub fn set_reality(&self, reality: crate::reality::Reality) {
        self.shared.reality.lock().expect("reality").reality = reality;
    }

    pub fn calls(&self) -> Vec<Call> {
        self.shared.calls.lock().expect("calls").clone()
    }
}

#[derive(Debug)]
struct Reset;

impl std::fmt::Display for Reset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("reset by the fault proxy")
    }
}

impl std::error::Error for Reset {}

/// The answer to one call; `None` resets the connection.
async fn handle(s: &Shared, req: Request<Incoming>) -> Option<Response<Full<Bytes>>> {
    let (parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            return Some(answer(
                400,
                "text/plain",
                format!("reading the request: {e}"),
            ));
        }
    };
    let service = service_of(&parts.headers);
    let region = scope_part(&parts.headers, 2);
    let operation = match parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
    {
        // The JSON protocols (Service Quotas): `ServiceQuotasV20190624.GetServiceQuota`.
        Some(target) => target.rsplit('.').next().unwrap_or(target).to_string(),
        None => operation_of(
            &service,
            parts.method.as_str(),
            parts.uri.path(),
            parts.uri.query().unwrap_or_default(),
            &body,
        ),
    };
    let fault = pick(s, &service, &operation, &region);
    s.calls.lock().expect("calls").push(Call {
        service: service.clone(),
        operation: operation.clone(),
        fault: fault.clone(),
        lease: parts
            .headers
            .get("x-standby-lease")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        at: std::time::Instant::now(),
        path: parts.uri.path().to_string(),
    });
    match fault {
        Some(Fault::Hang) => std::future::pending().await,
        Some(Fault::Reset) => None,
        Some(Fault::Latency(d)) => {
            tokio::time::sleep(d).await;
            Some(modelled(s, &service, &operation, parts, body).await)
        }
        Some(f) => Some(fault_answer(&service, &f)),
        None => Some(modelled(s, &service, &operation, parts, body).await),
    }
}

/// How the reality model rewrites one kind of answer: (model, request path, body, now).
type Rewrite = fn(&mut crate::reality::Model, &str, &str, std::time::Instant) -> String;

/// Forwards to moto and lets the reality model rewrite what it says about time and capacity.
async fn modelled(
    s: &Shared,
    service: &str,
    operation: &str,
    parts: hyper::http::request::Parts,
    body: Bytes,
) -> Response<Full<Bytes>> {
    let now = std::time::Instant::now();
    let path = parts.uri.path().to_string();
    if (service, operation) == ("ec2", "DescribeCapacityReservations") {
        // moto has no capacity reservations: the model holds them.
        let region = scope_part(&parts.headers, 2);
        let (status, body) = s
            .reality
            .lock()
            .expect("reality")
            .capacity_reservations(&region, &String::from_utf8_lossy(&body));
        return answer(status, "text/xml", body);
    }
    if service == "servicequotas"
        && matches!(operation, "GetServiceQuota" | "GetAWSDefaultServiceQuota")
    {
        // moto's Service Quotas knows only VPC: the model holds EC2's.
        let region = scope_part(&parts.headers, 2);
        let (status, body) = s
            .reality
            .lock()
            .expect("reality")
            .service_quota(&region, &String::from_utf8_lossy(&body));
        return answer(status, "application/x-amz-json-1.1", body);
    }
    if (service, operation) == ("autoscaling", "DescribeScalingActivities") {
        // moto keeps no activities: look at the group first (the model records its launches
        // from what it sees), then answer from the model.
        let form = String::from_utf8_lossy(&body).into_owned();
        let group = form
            .split('&')
            .find_map(|kv| kv.strip_prefix("AutoScalingGroupName="))
            .unwrap_or_default()
            .to_string();
        let describe = format!(
            "Action=DescribeAutoScalingGroups&Version=2011-01-01&AutoScalingGroupNames.member.1={group}"
        );
        let (status, _, seen) = forward_raw(s, parts, Bytes::from(describe)).await;
        if status != 200 {
            return answer(
                status,
                "text/xml",
                String::from_utf8_lossy(&seen).into_owned(),
            );
        }
        let mut model = s.reality.lock().expect("reality");
        model.groups(&String::from_utf8_lossy(&seen), now);
        return answer(200, "text/xml", model.activities(&group, now));
    }
    let (status, headers, bytes) = forward_raw(s, parts, body).await;
    let rewrite: Option<Rewrite> = match (service, operation) {
        _ if status != 200 => None,
        ("route53", "ChangeResourceRecordSets") => Some(|m, _, b, now| m.submitted(b, now)),
        ("route53", "GetChange") => Some(|m, path, b, now| m.change(path, b, now)),
        ("autoscaling", "DescribeAutoScalingGroups") => Some(|m, _, b, now| m.groups(b, now)),
        _ => None,
    };
    let bytes = match rewrite {
        Some(f) => {
            let text = String::from_utf8_lossy(&bytes).into_owned();
            let mut model = s.reality.lock().expect("reality");
            Bytes::from(f(&mut model, &path, &text, now))
        }
        None => bytes,
    };
    let mut out = Response::builder().status(status);
    for (k, v) in headers {
        out = out.header(k, v);
    }
    out.body(Full::new(bytes))
        .unwrap_or_else(|e| answer(502, "text/plain", e.to_string()))
}

/// The first rule that matches and fires; spends a `first` rule's count.
fn pick(s: &Shared, service: &str, operation: &str, region: &str) -> Option<Fault> {
    let mut rules = s.rules.lock().expect("rules");
    let mut rng = s.rng.lock().expect("rng");
    for r in rules.iter_mut() {
        let matches = r.service.as_deref().is_none_or(|x| x == service)
            && r.operation.as_deref().is_none_or(|x| x == operation)
            && r.region.as_deref().is_none_or(|x| x == region)
            && r.first.is_none_or(|n| n > 0);
        if !matches {
            continue;
        }
        // xorshift64: repeatable runs from the seed.
        *rng ^= *rng << 13;
        *rng ^= *rng >> 7;
        *rng ^= *rng << 17;
        let draw = (*rng >> 11) as f64 / (1u64 << 53) as f64;
        if draw < r.probability {
            if let Some(n) = r.first.as_mut() {
                *n -= 1;
            }
            return Some(r.fault.clone());
        }
    }
    None
}

/// moto's answer: status, headers (framing ones left out), body.
async fn forward_raw(
    s: &Shared,
    parts: hyper::http::request::Parts,
    body: Bytes,
) -> (u16, Vec<(String, Vec<u8>)>, Bytes) {
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let url = format!("{}{path}", s.upstream);
    let Ok(method) = reqwest::Method::from_bytes(parts.method.as_str().as_bytes()) else {
        return (405, Vec::new(), Bytes::from_static(b"method"));
    };
    let mut req = s.client.request(method, url).body(body.to_vec());
    for (k, v) in &parts.headers {
        if k == "host" || k == "content-length" || k == "connection" {
            continue;
        }
        req = req.header(k.as_str(), v.as_bytes());
    }
    match req.send().await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            let headers: Vec<(String, Vec<u8>)> = resp
                .headers()
                .iter()
                .filter(|(k, _)| {
                    !matches!(
                        k.as_str(),
                        "content-length" | "transfer-encoding" | "connection"
                    )
                })
                .map(|(k, v)| (k.as_str().to_string(), v.as_bytes().to_vec()))
                .collect();
            let bytes = resp.bytes().await.unwrap_or_default();
            (status, headers, bytes)
        }
        Err(e) => (502, Vec::new(), Bytes::from(format!("upstream: {e}"))),
    }
}

fn answer(status: u16, ctype: &str, body: String) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", ctype)
        .body(Full::new(Bytes::from(body)))
        .expect("a valid response")
}

/// The error document each protocol's SDK parses: awsQuery and REST-XML share `ErrorResponse`,
/// S3 has its own `Error` root.
fn fault_answer(service: &str, f: &Fault) -> Response<Full<Bytes>> {
    let (status, code, message) = match (service, f) {
        ("s3", Fault::Throttle) => (503, "SlowDown", "Please reduce your request rate."),
        ("ec2", Fault::Throttle) => (503, "RequestLimitExceeded", "Request limit exceeded."),
        ("servicequotas", Fault::Throttle) => (400, "TooManyRequestsException", "Rate exceeded"),
        (_, Fault::Throttle) => (400, "Throttling", "Rate exceeded"),
        (_, Fault::PriorRequestNotComplete) => (
            400,
            "PriorRequestNotComplete",
            "The request was rejected because Route 53 was still processing a prior request.",
        ),
        (_, Fault::Status(s)) => (*s, "InternalFailure", "injected by the fault proxy"),
        (_, Fault::Hang | Fault::Reset | Fault::Latency(_)) => {
            unreachable!("answered by the caller, never as an error document")
        }
    };
    let body = if service == "s3" {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message><RequestId>fault-proxy</RequestId></Error>"
        )
    } else if service == "ec2" {
        // EC2's own query protocol: `Response/Errors/Error`, `RequestID`.
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors><RequestID>fault-proxy</RequestID></Response>"
        )
    } else if service == "servicequotas" {
        // The JSON protocol: `__type` and `message`.
        let mut r = answer(
            status,
            "application/x-amz-json-1.1",
            serde_json::json!({ "__type": code, "message": message }).to_string(),
        );
        r.headers_mut().insert(
            "x-amzn-requestid",
            hyper::header::HeaderValue::from_static("fault-proxy"),
        );
        return r;
    } else {
        format!(
            "<?xml version=\"1.0\"?>\n<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>fault-proxy</RequestId></ErrorResponse>"
        )
    };
    let mut r = answer(status, "text/xml", body);
    r.headers_mut().insert(
        "x-amzn-requestid",
        hyper::header::HeaderValue::from_static("fault-proxy"),
    );
    r
}

/// The signing service in `Authorization: AWS4-HMAC-SHA256 Credential=AK/date/region/service/...`.
fn service_of(h: &hyper::HeaderMap) -> String {
    scope_part(h, 3)
}

/// A part of the SigV4 credential scope (`AK/date/region/service/aws4_request`).
fn scope_part(h: &hyper::HeaderMap, n: usize) -> String {
    h.get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|a| a.split("Credential=").nth(1))
        .and_then(|c| c.split('/').nth(n))
        .unwrap_or("unknown")
        .to_string()
}

fn operation_of(service: &str, method: &str, path: &str, query: &str, body: &[u8]) -> String {
    match service {
        // The query protocols: the action is a form field.
        "autoscaling" | "ec2" | "sts" => String::from_utf8_lossy(body)
            .split('&')
            .find_map(|kv| kv.strip_prefix("Action="))
            .unwrap_or("Unknown")
            .to_string(),
        "route53" => {
            let p = path.trim_end_matches('/');
            if p.ends_with("/rrset") {
                if method == "POST" {
                    "ChangeResourceRecordSets"
                } else {
                    "ListResourceRecordSets"
                }
            } else if p.contains("/change/") {
                "GetChange"
            } else if p.contains("/healthcheck") {
                "HealthCheck"
            } else {
                "GetHostedZone"
            }
            .to_string()
        }
        // The two listings by name (a rule can deny the version history and leave the current
        // listing alone, as a policy without s3:ListBucketVersions does); else method and level.
        "s3" if method == "GET"
            && path.trim_end_matches('/').matches('/').count() <= 1
            && query.contains("versions") =>
        {
            "ListObjectVersions".into()
        }
        "s3" if method == "GET"
            && path.trim_end_matches('/').matches('/').count() <= 1
            && query.contains("list-type=2") =>
        {
            "ListObjectsV2".into()
        }
        "s3" => format!(
            "{method} {}",
            if path.matches('/').count() > 1 {
                "object"
            } else {
                "bucket"
            }
        ),
        _ => format!("{method} {path}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_operations_the_way_rules_do() {
        assert_eq!(
            operation_of(
                "route53",
                "POST",
                "/2013-04-01/hostedzone/Z1/rrset/",
                "",
                b""
            ),
            "ChangeResourceRecordSets"
        );
        assert_eq!(
            operation_of("route53", "GET", "/2013-04-01/hostedzone/Z1/rrset", "", b""),
            "ListResourceRecordSets"
        );
        assert_eq!(
            operation_of(
                "autoscaling",
                "POST",
                "/",
                "",
                b"Action=UpdateAutoScalingGroup&Version=2011-01-01"
            ),
            "UpdateAutoScalingGroup"
        );
        assert_eq!(
            operation_of("s3", "GET", "/artifacts-use1", "versions&prefix=p%2F", b""),
            "ListObjectVersions"
        );
        assert_eq!(
            operation_of(
                "s3",
                "GET",
                "/artifacts-use1",
                "list-type=2&prefix=p%2F",
                b""
            ),
            "ListObjectsV2"
        );
        assert_eq!(
            operation_of("s3", "GET", "/artifacts-use1/p/a", "", b""),
            "GET object"
        );
        assert_eq!(
            scope_part(
                &{
                    let mut h = hyper::HeaderMap::new();
                    h.insert(
                        "authorization",
                        "AWS4-HMAC-SHA256 Credential=AK/20261125/us-west-2/s3/aws4_request"
                            .parse()
                            .unwrap(),
                    );
                    h
                },
                2
            ),
            "us-west-2"
        );
        let mut h = hyper::HeaderMap::new();
        h.insert(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AK/20261125/us-east-1/route53/aws4_request, SignedHeaders=host"
                .parse()
                .unwrap(),
        );
        assert_eq!(service_of(&h), "route53");
    }
}
