//! The shell of the synthetic probe: send the configured request to a side, read its answer
//! (bounded), look up the published manifests, judge with [`standby_core::smoke::evaluate`], and keep the
//! latest result per side (and a short history) in the store for readiness and `standby status`.

use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use tracing::warn;

use crate::store::{Expect, Store, StoreError};
use standby_aws::Clients;
use standby_core::config::{Config, Side};
use standby_core::smoke::secret::Redactor;
use standby_core::smoke::{Answer, Probes, Sent, SmokeResult};

/// Bodies beyond this are not read: a canary answer is small, a runaway stream must not be.
const MAX_BODY: usize = 1 << 20;
const HISTORY: usize = 48;

pub fn key(side: Side) -> String {
    format!("probes/{}.json", side.as_str())
}

/// A side's latest probe and a short history, as stored.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ProbeLog {
    pub last: Option<SmokeResult>,
    pub history: Vec<HistoryEntry>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct HistoryEntry {
    pub at: chrono::DateTime<Utc>,
    pub ok: bool,
    pub drift: bool,
    pub latency_ms: Option<u64>,
    pub reason: String,
}

/// Sends one synthetic request to `side` and judges it.
pub async fn probe(cfg: &Config, clients: &Clients, side: Side) -> SmokeResult {
    let spec = &cfg.probes;
    let url = cfg.smoke_url(side);
    let at = Utc::now();
    let mut redactor = Redactor::default();
    let (sent, published) = tokio::join!(
        send(spec, &url, &mut redactor),
        published_versions(cfg, clients, side)
    );
    standby_core::smoke::evaluate(spec, side, &url, at, &sent, &published, &redactor)
}

async fn send(spec: &Probes, url: &str, redactor: &mut Redactor) -> Sent {
    let started = Instant::now();
    let failed = |detail: String| Sent::Failed {
        detail,
        latency: started.elapsed(),
    };
    let mut headers = reqwest::header::HeaderMap::new();
    for (name, template) in &spec.headers {
        let value = match template.resolve(|v| std::env::var(v).ok(), redactor) {
            Ok(v) => v,
            Err(e) => return failed(format!("header {name}: {e}")),
        };
        let (Ok(n), Ok(mut v)) = (
            reqwest::header::HeaderName::from_bytes(name.as_bytes()),
            reqwest::header::HeaderValue::from_str(&value),
        ) else {
            // Never echo the value: it may hold a secret.
            return failed(format!("header {name}: not a valid HTTP header"));
        };
        v.set_sensitive(template.is_secret());
        headers.insert(n, v);
    }
    if spec.body.is_some() && !headers.contains_key(reqwest::header::CONTENT_TYPE) {
        headers.insert(
            reqwest::header::CONTENT_TYPE,
            reqwest::header::HeaderValue::from_static("application/json"),
        );
    }
    let client = match reqwest::Client::builder()
        .timeout(spec.timeout)
        .connect_timeout(spec.timeout)
        .user_agent(concat!(
            "standby/",
            env!("CARGO_PKG_VERSION"),
            " synthetic-probe"
        ))
        .build()
    {
        Ok(c) => c,
        Err(e) => return failed(redactor.scrub(&crate::prober::error_chain(&e))),
    };
    let method =
        reqwest::Method::from_bytes(spec.method.as_bytes()).unwrap_or(reqwest::Method::POST);
    let mut req = client.request(method, url).headers(headers);
    if let Some(b) = &spec.body {
        req = req.body(b.clone());
    }
    let mut resp = match req.send().await {
        Ok(r) => r,
        Err(e) if e.is_timeout() => {
            return failed(format!(
                "timeout after {}",
                standby_core::duration::human(spec.timeout)
            ));
        }
        Err(e) => return failed(redactor.scrub(&crate::prober::error_chain(&e))),
    };
    let status = resp.status().as_u16();
    let resp_headers: Vec<(String, String)> = resp
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let streamed = resp_headers
        .iter()
        .any(|(k, v)| k == "content-type" && v.starts_with("text/event-stream"));
    let mut body = Vec::new();
    let mut ttfb = None;
    loop {
        match resp.chunk().await {
            Ok(Some(c)) => {
                ttfb.get_or_insert_with(|| started.elapsed());
                let room = MAX_BODY.saturating_sub(body.len());
                body.extend_from_slice(&c[..c.len().min(room)]);
                if body.len() >= MAX_BODY {
                    break;
                }
            }
            Ok(None) => break,
            Err(e) if e.is_timeout() => {
                return failed(format!(
                    "HTTP {status}, then the body did not finish within {}",
                    standby_core::duration::human(spec.timeout)
                ));
            }
            Err(e) => return failed(redactor.scrub(&crate::prober::error_chain(&e))),
        }
    }
    let latency = started.elapsed();
    Sent::Answer(Answer {
        status,
        headers: resp_headers,
        body,
        latency,
        ttfb: ttfb.unwrap_or(latency),
        streamed,
    })
}

/// The version each set's published manifest names (its sync id). Only the standby has
/// manifests; the primary is the source and is not compared.
async fn published_versions(
    cfg: &Config,
    clients: &Clients,
    side: Side,
) -> Vec<(String, Option<String>)> {
    if side == Side::Primary {
        return vec![];
    }
    let mut out = Vec::new();
    for src in &cfg.probes.versions {
        let Some(set) = cfg.artifacts.iter().find(|a| a.name == src.set) else {
            continue;
        };
        let v = match crate::sync::engine::read_manifest(clients, set).await {
            Ok(m) => m.map(|m| m.sync_id),
            Err(e) => {
                warn!(set = %set.name, "reading the published manifest for the version check: {e}");
                None
            }
        };
        out.push((src.set.clone(), v));
    }
    out
}

pub async fn read_log(store: &Arc<dyn Store>, side: Side) -> Result<ProbeLog, StoreError> {
    Ok(store
        .get(&key(side))
        .await?
        .and_then(|v| serde_json::from_slice(&v.bytes).ok())
        .unwrap_or_default())
}

/// Records a result as the side's latest, keeping the last few in the history.
pub async fn record(store: &Arc<dyn Store>, r: &SmokeResult) -> Result<(), StoreError> {
    let mut log = read_log(store, r.side).await?;
    log.history.push(HistoryEntry {
        at: r.at,
        ok: r.ok,
        drift: r.drift,
        latency_ms: r.latency_ms,
        reason: r.reason.clone(),
    });
    if log.history.len() > HISTORY {
        let extra = log.history.len() - HISTORY;
        log.history.drain(..extra);
    }
    log.last = Some(r.clone());
    let mut bytes = serde_json::to_vec_pretty(&log).expect("probe logs serialize");
    bytes.push(b'\n');
    store.put(&key(r.side), Expect::Any, bytes).await?;
    Ok(())
}

/// The standby's readiness now, from its stored latest probe.
pub async fn standby_readiness(
    cfg: &Config,
    store: &Arc<dyn Store>,
) -> Result<standby_core::smoke::Readiness, StoreError> {
    let log = read_log(store, Side::Standby).await?;
    Ok(standby_core::smoke::readiness(
        log.last.as_ref(),
        Utc::now(),
        cfg.probes.fresh_for,
    ))
}
