//! A regional inference endpoint stand-in: answers ok, 429, 503, slowly, not at all, or refuses
//! connections, on command; optionally gated on its Auto Scaling group's InService count with a
//! warm-up delay, like a GPU fleet that must load weights before it can answer.
//!
//! Two paths: `/health` (the load balancer's view: 200 only at serving capacity, after warm-up)
//! and `POST /v1/chat/completions` (an OpenAI-compatible answer from whatever instances are up,
//! so a warm standby of one instance answers canaries). Chat answers carry the artifact versions
//! the fleet loaded (`x-artifact-version-<set>` headers and `standby_artifacts` in the JSON), can
//! stream (`"stream": true`), and can require an API key.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::channel::Channel;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::Notify;

#[derive(Debug, Clone, PartialEq)]
pub enum Behavior {
    Ok,
    Status(u16),
    /// 200, after this long.
    Slow(Duration),
    /// Accept and never answer: the prober's timeout fires.
    Hang,
    /// Close the listening socket: connection refused.
    Refuse,
    /// Each request fails with 503 with this probability, from a seeded generator.
    Flaky {
        fail_ratio: f64,
        seed: u64,
    },
}

/// What really happened at the endpoint, for the ground-truth tests: when its behaviour changed,
/// and each warm-up (the gate saw enough InService instances → the endpoint could answer 200).
#[derive(Debug, Clone, Default)]
pub struct Truth {
    pub changes: Vec<(chrono::DateTime<chrono::Utc>, Behavior)>,
    pub warmups: Vec<Warmup>,
}

#[derive(Debug, Clone)]
pub struct Warmup {
    pub in_service_at: chrono::DateTime<chrono::Utc>,
    /// `in_service_at` + the configured warm-up: from here on it answers 200.
    pub ready_at: chrono::DateTime<chrono::Utc>,
}

/// Gate the answer on an Auto Scaling group: 503 until it has `serving` InService instances,
/// then 503 for `warmup` more, then the configured behaviour.
#[derive(Debug, Clone)]
pub struct AsgGate {
    pub aws_endpoint: String,
    pub region: String,
    pub asg: String,
    pub serving: u32,
    pub warmup: Duration,
}

struct Shared {
    behavior: Mutex<Behavior>,
    rng: Mutex<u64>,
    ready: Mutex<GateState>,
    requests: AtomicU64,
    changed: Notify,
    in_service: AtomicU64,
    versions: Mutex<Vec<(String, String)>>,
    api_key: Mutex<Option<String>>,
    chat_requests: AtomicU64,
    truth: Mutex<Truth>,
    /// Where the gate looks instead of moto and its one group: (AWS endpoint, groups summed).
    gate_source: Mutex<Option<(String, Vec<String>)>>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum GateState {
    Open,
    Cold,
    WarmingUntil(tokio::time::Instant),
}

#[derive(Clone)]
pub struct Endpoint {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
}

impl Endpoint {
    /// The gate counts InService instances as `aws_endpoint` answers them (the fault proxy, whose
    /// reality model boots instances and fails launches) over all of `groups` (a group and its
    /// spares): the fleet serves when the instances standby waits for serve.
    pub fn gate_through(&self, aws_endpoint: &str, groups: &[&str]) {
        *self.shared.gate_source.lock().unwrap() = Some((
            aws_endpoint.to_string(),
            groups.iter().map(|g| g.to_string()).collect(),
        ));
    }

    pub async fn start(behavior: Behavior, gate: Option<AsgGate>) -> std::io::Result<Endpoint> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let seed = match behavior {
            Behavior::Flaky { seed, .. } => seed,
            _ => 0x9e37_79b9_7f4a_7c15,
        };
        let shared = Arc::new(Shared {
            behavior: Mutex::new(behavior),
            rng: Mutex::new(seed | 1),
            ready: Mutex::new(if gate.is_some() {
                GateState::Cold
            } else {
                GateState::Open
            }),
            requests: AtomicU64::new(0),
            changed: Notify::new(),
            // Without a gate the fleet is simply up.
            in_service: AtomicU64::new(if gate.is_some() { 0 } else { 1 }),
            versions: Mutex::new(vec![]),
            api_key: Mutex::new(None),
            chat_requests: AtomicU64::new(0),
            truth: Mutex::new(Truth::default()),
            gate_source: Mutex::new(None),
        });
        tokio::spawn(serve(listener, addr, shared.clone()));
        if let Some(g) = gate {
            tokio::spawn(watch_gate(g, shared.clone()));
        }
        Ok(Endpoint { addr, shared })
    }

    pub fn url(&self) -> String {
        format!("http://{}/health", self.addr)
    }

    pub fn set(&self, b: Behavior) {
        if let Behavior::Flaky { seed, .. } = b {
            *self.shared.rng.lock().unwrap() = seed | 1;
        }
        // The truth is stamped before the change takes effect: every request after this
        // instant meets the new behaviour.
        self.shared
            .truth
            .lock()
            .unwrap()
            .changes
            .push((chrono::Utc::now(), b.clone()));
        *self.shared.behavior.lock().unwrap() = b;
        self.shared.changed.notify_waiters();
    }

    /// What really happened: behaviour changes and warm-ups, with their instants.
    pub fn truth(&self) -> Truth {
        self.shared.truth.lock().unwrap().clone()
    }

    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::Relaxed)
    }

    pub fn chat_requests(&self) -> u64 {
        self.shared.chat_requests.load(Ordering::Relaxed)
    }

    /// The base URL synthetic inference requests go to.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The artifact versions the fleet says it serves, per set.
    pub fn set_versions(&self, versions: Vec<(String, String)>) {
        *self.shared.versions.lock().unwrap() = versions;
    }

    /// Requires `Authorization: Bearer <key>` on chat requests (401 otherwise).
    pub fn require_key(&self, key: Option<String>) {
        *self.shared.api_key.lock().unwrap() = key;
    }

    /// Loads each set's published manifest from the region's bucket, as a fleet does when it
    /// (re)starts, and serves those versions from then on.
    pub async fn load_versions(
        &self,
        aws_endpoint: &str,
        region: &str,
        bucket: &str,
        sets: &[&str],
    ) -> Result<Vec<(String, String)>, String> {
        let conf = crate::seed::sdk(aws_endpoint, region).await;
        let client = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&conf)
                .force_path_style(true)
                .build(),
        );
        let mut out = Vec::new();
        for set in sets {
            let key = standby_core::sync::manifest::key(set);
            let bytes = standby_aws::s3::get_bytes(&client, bucket, &key)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("no manifest at s3://{bucket}/{key}"))?;
            let m: standby_core::sync::manifest::Manifest =
                serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
            out.push((set.to_string(), m.sync_id));
        }
        self.set_versions(out.clone());
        Ok(out)
    }
}

async fn serve(mut listener: TcpListener, addr: SocketAddr, shared: Arc<Shared>) {
    loop {
        let refusing = *shared.behavior.lock().unwrap() == Behavior::Refuse;
        if refusing {
            drop(listener);
            loop {
                let notified = shared.changed.notified();
                if *shared.behavior.lock().unwrap() != Behavior::Refuse {
                    break;
                }
                notified.await;
            }
            listener = match rebind(addr) {
                Ok(l) => l,
                Err(_) => return,
            };
            continue;
        }
        let notified = shared.changed.notified();
        tokio::select! {
            accepted = listener.accept() => {
                if let Ok((stream, _)) = accepted {
                    tokio::spawn(answer(stream, shared.clone()));
                }
            }
            _ = notified => {}
        }
    }
}

fn rebind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(128)
}

type Body = BoxBody<Bytes, std::convert::Infallible>;

/// Closing the connection without an answer, as a dying host does: hyper drops it.
#[derive(Debug)]
struct Hangup;

impl std::fmt::Display for Hangup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("hang up without an answer")
    }
}

impl std::error::Error for Hangup {}

/// One request per connection (`Connection: close`), as a load balancer's health check and the
/// prober's fresh connections see it.
async fn answer(stream: TcpStream, shared: Arc<Shared>) {
    let service = service_fn(move |req| handle(req, shared.clone()));
    let _ = hyper::server::conn::http1::Builder::new()
        .keep_alive(false)
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

async fn handle(
    req: hyper::Request<Incoming>,
    shared: Arc<Shared>,
) -> Result<hyper::Response<Body>, Hangup> {
    shared.requests.fetch_add(1, Ordering::Relaxed);
    if req.uri().path().starts_with("/v1/chat/completions") {
        shared.chat_requests.fetch_add(1, Ordering::Relaxed);
        return chat(&shared, req).await;
    }
    let gate = *shared.ready.lock().unwrap();
    let gated = match gate {
        GateState::Open => false,
        GateState::Cold => true,
        GateState::WarmingUntil(t) => tokio::time::Instant::now() < t,
    };
    let status = behave(&shared, gated).await.ok_or(Hangup)?;
    let body = if gated {
        "{\"status\":\"warming\"}"
    } else {
        "{\"status\":\"ok\"}"
    };
    Ok(respond(status, &[], body.to_string()))
}

/// The configured behaviour's status (`None`: hang up without answering).
async fn behave(shared: &Shared, gated: bool) -> Option<u16> {
    if gated {
        return Some(503);
    }
    let behavior = shared.behavior.lock().unwrap().clone();
    Some(match behavior {
        Behavior::Ok => 200,
        Behavior::Status(s) => s,
        Behavior::Slow(d) => {
            tokio::time::sleep(d).await;
            200
        }
        Behavior::Hang => {
            std::future::pending::<()>().await;
            return None;
        }
        Behavior::Refuse => return None,
        Behavior::Flaky { fail_ratio, .. } => {
            let mut x = shared.rng.lock().unwrap();
            // xorshift64*: deterministic per seed, good enough to spread failures.
            *x ^= *x >> 12;
            *x ^= *x << 25;
            *x ^= *x >> 27;
            let v = x.wrapping_mul(0x2545_f491_4f6c_dd1d);
            let sample = (v >> 11) as f64 / (1u64 << 53) as f64;
            if sample < fail_ratio { 503 } else { 200 }
        }
    })
}

fn respond(status: u16, headers: &[(String, String)], body: String) -> hyper::Response<Body> {
    let mut b = hyper::Response::builder()
        .status(status)
        .header("content-type", "application/json");
    for (k, v) in headers {
        b = b.header(k, v);
    }
    b.body(Full::new(Bytes::from(body)).boxed())
        .expect("valid status and header names")
}

/// An OpenAI-compatible chat completion from whatever capacity is up.
async fn chat(
    shared: &Shared,
    req: hyper::Request<Incoming>,
) -> Result<hyper::Response<Body>, Hangup> {
    let auth = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let expected = shared.api_key.lock().unwrap().clone();
    if let Some(key) = expected
        && auth != format!("Bearer {key}")
    {
        let body = serde_json::json!({"error": {"message": "invalid api key", "type": "auth"}})
            .to_string();
        return Ok(respond(401, &[], body));
    }
    if req.method() != hyper::Method::POST {
        return Ok(respond(405, &[], "{\"error\":\"POST only\"}".into()));
    }
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return Err(Hangup),
    };
    let no_capacity = shared.in_service.load(Ordering::Relaxed) == 0;
    let status = behave(shared, no_capacity).await.ok_or(Hangup)?;
    let versions = shared.versions.lock().unwrap().clone();
    let headers: Vec<(String, String)> = versions
        .iter()
        .map(|(set, v)| (format!("x-artifact-version-{set}"), v.clone()))
        .collect();
    if status != 200 {
        // Like a careless server, the error echoes the request's credentials: the prober must
        // keep them out of what it logs and stores.
        let body = serde_json::json!({"error": {"message": "upstream unavailable", "request_authorization": auth}}).to_string();
        return Ok(respond(status, &headers, body));
    }
    let request: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let artifacts: serde_json::Map<String, serde_json::Value> = versions
        .iter()
        .map(|(s, v)| (s.clone(), serde_json::Value::String(v.clone())))
        .collect();
    let model = request.get("model").cloned().unwrap_or("default".into());
    if request.get("stream") == Some(&serde_json::Value::Bool(true)) {
        let (mut tx, body) = Channel::<Bytes>::new(4);
        tokio::spawn(async move {
            for (i, word) in ["o", "k"].iter().enumerate() {
                tokio::time::sleep(Duration::from_millis(20)).await;
                let chunk = serde_json::json!({"object": "chat.completion.chunk", "model": model, "standby_artifacts": artifacts, "choices": [{"index": 0, "delta": {"content": word}, "finish_reason": if i == 1 { serde_json::json!("stop") } else { serde_json::Value::Null }}]});
                if tx
                    .send_data(Bytes::from(format!("data: {chunk}\n\n")))
                    .await
                    .is_err()
                {
                    return;
                }
            }
            let _ = tx.send_data(Bytes::from_static(b"data: [DONE]\n\n")).await;
        });
        let mut b = hyper::Response::builder()
            .status(200)
            .header("content-type", "text/event-stream")
            .header("cache-control", "no-cache");
        for (k, v) in &headers {
            b = b.header(k, v);
        }
        return Ok(b.body(body.boxed()).expect("valid header names"));
    }
    let body = serde_json::json!({
        "id": "chatcmpl-standby-testbed",
        "object": "chat.completion",
        "model": model,
        "standby_artifacts": artifacts,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 9, "completion_tokens": 1, "total_tokens": 10}
    })
    .to_string();
    Ok(respond(200, &headers, body))
}

async fn watch_gate(g: AsgGate, shared: Arc<Shared>) {
    let conf = crate::seed::sdk(&g.aws_endpoint, &g.region).await;
    let client = aws_sdk_autoscaling::Client::new(&conf);
    let mut through: Option<(String, aws_sdk_autoscaling::Client)> = None;
    loop {
        let source = shared.gate_source.lock().unwrap().clone();
        let in_service = match source {
            None => standby_aws::asg::describe(&client, std::slice::from_ref(&g.asg))
                .await
                .ok()
                .and_then(|v| v.into_iter().next())
                .and_then(|(_, c)| c)
                .map(|c| c.in_service),
            Some((endpoint, groups)) => {
                if through.as_ref().is_none_or(|(e, _)| *e != endpoint) {
                    let conf = crate::seed::sdk(&endpoint, &g.region).await;
                    through = Some((endpoint, aws_sdk_autoscaling::Client::new(&conf)));
                }
                let (_, c) = through.as_ref().expect("set above");
                standby_aws::asg::describe(c, &groups).await.ok().map(|v| {
                    v.iter()
                        .filter_map(|(_, c)| c.map(|c| c.in_service))
                        .sum::<u32>()
                })
            }
        };
        if let Some(n) = in_service {
            shared.in_service.store(u64::from(n), Ordering::Relaxed);
        }
        {
            let mut ready = shared.ready.lock().unwrap();
            // An answer that did not come (a throttled describe) changes nothing: the fleet
            // is what it was.
            let Some(enough) = in_service.map(|n| n >= g.serving) else {
                drop(ready);
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            };
            *ready = match (*ready, enough) {
                (GateState::Cold, true) => {
                    let now = chrono::Utc::now();
                    shared.truth.lock().unwrap().warmups.push(Warmup {
                        in_service_at: now,
                        ready_at: now + g.warmup,
                    });
                    GateState::WarmingUntil(tokio::time::Instant::now() + g.warmup)
                }
                (GateState::WarmingUntil(t), true) if tokio::time::Instant::now() >= t => {
                    GateState::Open
                }
                (s, true) => s,
                (_, false) => GateState::Cold,
            };
        }
        // A load balancer's health check sees new instances within its interval; 50 ms keeps
        // the testbed's own lag well under a probe interval.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
