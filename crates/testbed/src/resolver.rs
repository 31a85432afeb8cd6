//! Route 53's *answer*, modelled: moto stores record sets and health checks but never evaluates
//! a health check and never answers a DNS query. This model does both, from what moto holds:
//!
//! - **Records**: read from moto every [`RECORD_POLL`] (real Route 53: a change reaches every
//!   authoritative server within 60 s, usually seconds; INSYNC says so). It reads moto directly,
//!   never through a fault proxy: Route 53's data plane (the name servers, the health checkers)
//!   keeps answering while its control-plane API fails, which is the point of the data-plane
//!   flip.
//! - **Health checks**: one checker per check, every `RequestInterval` (10 or 30 s, divided by
//!   `time_scale`); the status changes after `FailureThreshold` consecutive contrary
//!   observations; `Inverted` flips the result. `HTTP(S)_STR_MATCH` is healthy on a 2xx/3xx
//!   whose first 5,120 bytes hold `SearchString`. Real Route 53 runs ~15 checkers and calls an
//!   endpoint healthy while more than 18% of them say so; one checker is the same rule with
//!   the spread between checkers (a few seconds) left out. An endpoint of the form
//!   `<bucket>.s3.<region>.amazonaws.com` is read from moto's S3 (path style), where standby
//!   writes its gate; an `IPAddress` check asks `http(s)://ip:port`.
//! - **Answers**: a simple record answers its values; failover records answer the PRIMARY while
//!   its health check (if any) is healthy, else the SECONDARY while healthy, else the PRIMARY
//!   (Route 53's rule when both are unhealthy). Over UDP on loopback, TTL as stored.
//!
//! [`ResolverModel::history`] records every change of an answer with its instant: the ground
//! truth a test compares a report's figures with.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_route53::types::{
    HealthCheck, HealthCheckType, ResourceRecordSet, ResourceRecordSetFailover, RrType,
};
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{Name, RData, Record, RecordType, rdata};
use tokio::net::UdpSocket;

/// How often the model reads records and health-check definitions from moto.
pub const RECORD_POLL: Duration = Duration::from_millis(100);

/// One answer change: when the model started answering `value` for `name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerChange {
    pub at: Instant,
    pub wall: chrono::DateTime<chrono::Utc>,
    pub name: String,
    pub value: String,
}

#[derive(Default)]
struct State {
    records: Vec<ResourceRecordSet>,
    checks: HashMap<String, Checker>,
    history: Vec<AnswerChange>,
}

struct Checker {
    def: HealthCheck,
    healthy: bool,
    streak: u32,
    next_at: Instant,
    settled: bool,
}

/// The model: a DNS server on a loopback UDP port answering the zone as Route 53 would.
pub struct ResolverModel {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for ResolverModel {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl ResolverModel {
    /// Serves `zone_id`'s records from moto at `moto_endpoint`; health checks run `time_scale`
    /// times faster than Route 53's (10 s interval / 10 = one observation a second).
    pub async fn start(
        moto_endpoint: &str,
        zone_id: &str,
        time_scale: u32,
    ) -> std::io::Result<ResolverModel> {
        let sock = Arc::new(UdpSocket::bind("127.0.0.1:0").await?);
        let addr = sock.local_addr()?;
        let state = Arc::new(Mutex::new(State::default()));
        let r53 = aws_sdk_route53::Client::new(&crate::seed::sdk(moto_endpoint, "us-east-1").await);
        let poll = tokio::spawn(poll(
            r53,
            reqwest::Client::new(),
            moto_endpoint.trim_end_matches('/').to_string(),
            zone_id.to_string(),
            time_scale.max(1),
            state.clone(),
        ));
        let serve = tokio::spawn(serve(sock, state.clone()));
        Ok(ResolverModel {
            addr,
            state,
            tasks: vec![poll, serve],
        })
    }

    /// Every answer change so far, oldest first.
    pub fn history(&self) -> Vec<AnswerChange> {
        self.state.lock().expect("resolver state").history.clone()
    }

    /// What the model answers for `name` now (values of the first matching type).
    pub fn answer(&self, name: &str) -> Option<String> {
        let st = self.state.lock().expect("resolver state");
        answer_of(&st, name, None).map(|(_, v, _)| v.join(","))
    }
}

fn same_name(a: &str, b: &str) -> bool {
    a.trim_end_matches('.')
        .eq_ignore_ascii_case(b.trim_end_matches('.'))
}

/// The record set Route 53 would answer for `name` (and `t`, when given): (type, values, ttl).
fn answer_of(st: &State, name: &str, t: Option<&RrType>) -> Option<(RrType, Vec<String>, i64)> {
    let sets: Vec<&ResourceRecordSet> = st
        .records
        .iter()
        .filter(|r| same_name(r.name(), name) && t.is_none_or(|t| r.r#type() == t))
        .filter(|r| matches!(r.r#type(), RrType::Cname | RrType::A | RrType::Aaaa))
        .collect();
    let healthy = |r: &ResourceRecordSet| {
        r.health_check_id()
            .is_none_or(|id| st.checks.get(id).is_none_or(|c| c.healthy))
    };
    let role =
        |f: ResourceRecordSetFailover| sets.iter().find(|r| r.failover() == Some(&f)).copied();
    let chosen = match (
        role(ResourceRecordSetFailover::Primary),
        role(ResourceRecordSetFailover::Secondary),
    ) {
        (Some(p), Some(s)) => {
            if healthy(p) {
                p
            } else if healthy(s) {
                s
            } else {
                p
            }
        }
        (Some(p), None) => p,
        (None, Some(s)) => s,
        (None, None) => sets.first().copied()?,
    };
    Some((
        chosen.r#type().clone(),
        chosen
            .resource_records()
            .iter()
            .map(|v| v.value().to_string())
            .collect(),
        chosen.ttl().unwrap_or(60),
    ))
}

async fn poll(
    r53: aws_sdk_route53::Client,
    http: reqwest::Client,
    moto: String,
    zone_id: String,
    scale: u32,
    state: Arc<Mutex<State>>,
) {
    loop {
        let records = r53
            .list_resource_record_sets()
            .hosted_zone_id(&zone_id)
            .send()
            .await
            .map(|o| o.resource_record_sets().to_vec());
        let checks = r53
            .list_health_checks()
            .send()
            .await
            .map(|o| o.health_checks().to_vec());
        // Observations due now, made outside the lock.
        let due: Vec<(String, HealthCheck)> = {
            let mut st = state.lock().expect("resolver state");
            if let Ok(r) = records {
                st.records = r;
            }
            if let Ok(cs) = checks {
                let now = Instant::now();
                for c in cs {
                    st.checks
                        .entry(c.id().to_string())
                        .and_modify(|k| k.def = c.clone())
                        .or_insert(Checker {
                            def: c.clone(),
                            healthy: true,
                            streak: 0,
                            next_at: now,
                            settled: false,
                        });
                }
            }
            let now = Instant::now();
            st.checks
                .iter()
                .filter(|(_, c)| c.next_at <= now)
                .map(|(id, c)| (id.clone(), c.def.clone()))
                .collect()
        };
        for (id, def) in due {
            let raw = observe(&http, &moto, &def).await;
            let mut st = state.lock().expect("resolver state");
            if let Some(c) = st.checks.get_mut(&id) {
                let cfg = def.health_check_config();
                let result = raw != cfg.and_then(|c| c.inverted()).unwrap_or(false);
                let interval = cfg.and_then(|c| c.request_interval()).unwrap_or(30).max(1) as u64;
                let threshold = cfg.and_then(|c| c.failure_threshold()).unwrap_or(3).max(1) as u32;
                c.next_at =
                    Instant::now() + Duration::from_millis(interval * 1000 / u64::from(scale));
                if !c.settled {
                    // A check that existed before the model started: its status is settled.
                    c.settled = true;
                    c.healthy = result;
                } else if result != c.healthy {
                    c.streak += 1;
                    if c.streak >= threshold {
                        c.healthy = result;
                        c.streak = 0;
                    }
                } else {
                    c.streak = 0;
                }
            }
        }
        {
            let mut st = state.lock().expect("resolver state");
            let names: Vec<String> = st
                .records
                .iter()
                .filter(|r| matches!(r.r#type(), RrType::Cname | RrType::A | RrType::Aaaa))
                .map(|r| r.name().to_string())
                .collect();
            for name in names {
                if let Some((_, values, _)) = answer_of(&st, &name, None) {
                    let value = values.join(",");
                    let last = st.history.iter().rev().find(|h| same_name(&h.name, &name));
                    if last.is_none_or(|h| h.value != value) {
                        st.history.push(AnswerChange {
                            at: Instant::now(),
                            wall: chrono::Utc::now(),
                            name: name.trim_end_matches('.').to_string(),
                            value,
                        });
                    }
                }
            }
        }
        tokio::time::sleep(RECORD_POLL).await;
    }
}

/// One checker's raw observation (before `Inverted`).
async fn observe(http: &reqwest::Client, moto: &str, def: &HealthCheck) -> bool {
    let Some(cfg) = def.health_check_config() else {
        return false;
    };
    let path = cfg.resource_path().unwrap_or("/");
    let url = match (cfg.fully_qualified_domain_name(), cfg.ip_address()) {
        // <bucket>.s3.<region>.amazonaws.com: the object in moto's S3 (a GET the health
        // checkers may make: the bucket policy lets their address ranges read this one key).
        (Some(fqdn), _) if fqdn.contains(".s3.") => {
            let (bucket, rest) = fqdn.split_once(".s3.").unwrap_or_default();
            let region = rest.trim_end_matches(".amazonaws.com");
            let s3 = standby_aws::s3_client(&crate::seed::sdk(moto, region).await);
            let key = path.trim_start_matches('/');
            return match standby_aws::s3::get_bytes(&s3, bucket, key).await {
                Ok(Some(body)) => str_match(cfg, &body),
                _ => false,
            };
        }
        (_, Some(ip)) => {
            let scheme = if matches!(
                cfg.r#type(),
                HealthCheckType::Https | HealthCheckType::HttpsStrMatch
            ) {
                "https"
            } else {
                "http"
            };
            format!("{scheme}://{ip}:{}{path}", cfg.port().unwrap_or(80))
        }
        (Some(fqdn), None) => format!("http://{fqdn}:{}{path}", cfg.port().unwrap_or(80)),
        (None, None) => return false,
    };
    let Ok(resp) = http.get(&url).timeout(Duration::from_secs(2)).send().await else {
        return false;
    };
    let status_ok = resp.status().is_success() || resp.status().is_redirection();
    if !status_ok {
        return false;
    }
    match resp.bytes().await {
        Ok(body) => str_match(cfg, &body),
        Err(_) => false,
    }
}

/// A 2xx/3xx answer's verdict: its first 5,120 bytes hold the search string, for the
/// `_STR_MATCH` types; any answer for the others.
fn str_match(cfg: &aws_sdk_route53::types::HealthCheckConfig, body: &[u8]) -> bool {
    match cfg.r#type() {
        HealthCheckType::HttpStrMatch | HealthCheckType::HttpsStrMatch => {
            let head = &body[..body.len().min(5120)];
            cfg.search_string()
                .is_some_and(|s| String::from_utf8_lossy(head).contains(s))
        }
        _ => true,
    }
}

async fn serve(sock: Arc<UdpSocket>, state: Arc<Mutex<State>>) {
    let mut buf = vec![0u8; 4096];
    loop {
        let Ok((n, peer)) = sock.recv_from(&mut buf).await else {
            continue;
        };
        let Ok(q) = Message::from_vec(&buf[..n]) else {
            continue;
        };
        let mut reply = Message::response(q.metadata.id, q.metadata.op_code);
        reply.metadata.authoritative = true;
        reply.metadata.recursion_desired = q.metadata.recursion_desired;
        reply.add_queries(q.queries.clone());
        let mut found = false;
        {
            let st = state.lock().expect("resolver state");
            for query in &q.queries {
                let name = query.name().to_string();
                let t = match query.query_type() {
                    RecordType::CNAME => RrType::Cname,
                    RecordType::A => RrType::A,
                    RecordType::AAAA => RrType::Aaaa,
                    _ => continue,
                };
                let exists = st.records.iter().any(|r| same_name(r.name(), &name));
                found |= exists;
                if let Some((_, values, ttl)) = answer_of(&st, &name, Some(&t)) {
                    for v in values {
                        let data = match t {
                            RrType::Cname => {
                                Name::from_str(&format!("{}.", v.trim_end_matches('.')))
                                    .ok()
                                    .map(|n| RData::CNAME(rdata::CNAME(n)))
                            }
                            RrType::A => v.parse().ok().map(|a| RData::A(rdata::A(a))),
                            _ => v.parse().ok().map(|a| RData::AAAA(rdata::AAAA(a))),
                        };
                        if let Some(d) = data {
                            reply.add_answer(Record::from_rdata(
                                query.name().clone(),
                                ttl as u32,
                                d,
                            ));
                        }
                    }
                }
            }
        }
        if !found {
            reply.metadata.response_code = ResponseCode::NXDomain;
        }
        if let Ok(bytes) = reply.to_vec() {
            let _ = sock.send_to(&bytes, peer).await;
        }
    }
}
