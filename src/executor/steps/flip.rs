//! Move the name. `record`: UPSERT, then INSYNC (Route 53's control plane). `failover_records`:
//! write the gate (S3 in the standby region), no Route 53 call. Either way, when DNS servers are
//! there to ask (always for the gate; for a record when `dns.resolvers` is set) the step ends
//! only once they answer the target: what clients get, not what the control plane says.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::json;
use tracing::{info, warn};

use crate::context::Ctx;
use standby_core::plan::{self, GateWrite};

use super::StepOutcome;

/// Between two rounds of resolver queries, and each query's deadline.
const POLL: Duration = Duration::from_millis(250);
const QUERY_TIMEOUT: Duration = Duration::from_secs(1);

pub async fn run(
    ctx: &Ctx,
    change: &plan::DnsChange,
    run_id: &str,
    timeout: Duration,
) -> StepOutcome {
    // Stop waiting a little before the step's deadline, so the outcome says what the resolvers
    // last answered instead of a bare "timed out".
    let deadline = Instant::now() + timeout.saturating_sub(timeout / 10);
    match &change.gate {
        Some(g) => by_gate(ctx, change, g, deadline).await,
        None => by_record(ctx, change, run_id, deadline).await,
    }
}

async fn by_gate(
    ctx: &Ctx,
    change: &plan::DnsChange,
    g: &GateWrite,
    deadline: Instant,
) -> StepOutcome {
    let standby_core::config::DnsMethod::FailoverRecords(gate) = &ctx.cfg.dns.method else {
        return StepOutcome::failed(
            "the plan writes a gate but the config's dns.method is \"record\" (changed since the plan)".into(),
            json!({}),
        );
    };
    let Some(client) = &ctx.clients.gate_s3 else {
        return StepOutcome::failed("no client for the gate's region".into(), json!({}));
    };
    if (&gate.bucket, &gate.key, &gate.region) != (&g.bucket, &g.key, &g.region) {
        return StepOutcome::failed(
            format!(
                "[dns.gate] changed since the plan (s3://{}/{} in {} then, s3://{}/{} in {} now): nothing written; a new run plans with the new gate",
                g.bucket, g.key, g.region, gate.bucket, gate.key, gate.region
            ),
            json!({}),
        );
    }
    // The side the plan's gate body names: a config changed since the plan cannot turn a
    // failback's write into the standby's word.
    let to = standby_core::config::Gate::side_of(&g.body);
    let url = format!("s3://{}/{}", g.bucket, g.key);
    let submitted_at = Utc::now();
    let version = match standby_aws::gate::write(client, gate, to).await {
        Ok(v) => v,
        Err(e) => {
            return StepOutcome::failed(
                format!("writing the gate {url}: {e}"),
                json!({ "method": "failover_records", "gate": url, "from": change.from, "to": change.to, "submitted_at": submitted_at }),
            );
        }
    };
    let written_at = Utc::now();
    info!(
        "gate {url} now says {:?}; waiting for DNS to answer {}",
        g.body.trim_end(),
        change.to
    );
    let details = json!({
        "method": "failover_records",
        "gate": url,
        "gate_body": g.body,
        "gate_version": version,
        "from": change.from,
        "to": change.to,
        "submitted_at": submitted_at,
        "gate_written_at": written_at,
        "reaction_bound_ms": g.reaction_bound_ms,
    });
    let resolution = wait_resolved(ctx, change, deadline).await;
    resolution.outcome(
        change,
        &format!("gate {url} written"),
        details,
        submitted_at,
    )
}

async fn by_record(
    ctx: &Ctx,
    change: &plan::DnsChange,
    run_id: &str,
    deadline: Instant,
) -> StepOutcome {
    let r53 = &ctx.clients.route53;
    let comment = format!("standby run {run_id}");
    // Before this call the record surely pointed elsewhere: the lower end of the restoration.
    let submitted_at = Utc::now();
    let submitted = match standby_aws::dns::upsert(
        r53,
        &change.zone_id,
        &change.name,
        ctx.cfg.dns.record_type,
        change.ttl,
        &change.to,
        &comment,
    )
    .await
    {
        Ok(s) => s,
        Err(e) => {
            let control_plane = if e.kind.unavailable() {
                " (Route 53's control plane, served from us-east-1 only, is not answering: dns.method = \"failover_records\" flips through the data plane)"
            } else {
                ""
            };
            return StepOutcome::failed(
                format!("{e}{control_plane}"),
                json!({ "method": "record", "from": change.from, "to": change.to }),
            );
        }
    };
    let id = submitted.id.clone();
    let started = Instant::now();
    let insync = wait_insync(ctx, &id, submitted.insync);
    let mut details = json!({ "method": "record", "change_id": id, "from": change.from, "to": change.to, "submitted_at": submitted_at });
    if !ctx.cfg.dns.resolvers_set {
        let insync_at = insync.await;
        details["insync_at"] = json!(insync_at);
        details["insync_ms"] = json!(standby_core::duration::millis(started.elapsed()));
        return StepOutcome::ok(
            format!(
                "{} {} -> {} (change {id} INSYNC)",
                change.name,
                change.from.as_deref().unwrap_or("(none)"),
                change.to
            ),
            details,
        );
    }
    // Resolvers decide; INSYNC is recorded when Route 53 says it first.
    tokio::pin!(insync);
    let resolved = wait_resolved(ctx, change, deadline);
    tokio::pin!(resolved);
    let mut insync_at = None;
    let resolution = loop {
        tokio::select! {
            t = &mut insync, if insync_at.is_none() => insync_at = Some(t),
            r = &mut resolved => break r,
        }
    };
    details["insync_at"] = json!(insync_at);
    let done = format!(
        "change {id} {}",
        if insync_at.is_some() {
            "INSYNC"
        } else {
            "submitted, not INSYNC yet"
        }
    );
    resolution.outcome(change, &done, details, submitted_at)
}

/// Polls GetChange while Route 53 says PENDING; resolves to when it said INSYNC.
async fn wait_insync(ctx: &Ctx, id: &str, already: bool) -> DateTime<Utc> {
    let mut insync = already;
    while !insync {
        match standby_aws::dns::in_sync(&ctx.clients.route53, id).await {
            Ok(true) => insync = true,
            Ok(false) => tokio::time::sleep(Duration::from_millis(500)).await,
            Err(e) => {
                warn!("GetChange {id}: {e}");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
    Utc::now()
}

/// What the DNS servers answered while the flip waited.
struct Resolution {
    servers: Vec<SocketAddr>,
    /// Per server: when it first answered the target, and its last answer (or error).
    first_target: Vec<Option<DateTime<Utc>>>,
    last: Vec<String>,
    rounds: u32,
    no_server: bool,
}

impl Resolution {
    fn done(&self) -> bool {
        !self.no_server && self.first_target.iter().all(Option::is_some)
    }

    /// The step's outcome once the wait ended: `done` says what the flip did ("gate ...
    /// written"), the details get the resolvers' answers.
    fn outcome(
        self,
        change: &plan::DnsChange,
        done: &str,
        mut details: serde_json::Value,
        submitted_at: DateTime<Utc>,
    ) -> StepOutcome {
        let ok = self.done();
        self.into_details(&mut details, submitted_at);
        if ok {
            StepOutcome::ok(
                format!(
                    "{} {} -> {} ({done}; resolvers answer {} after {})",
                    change.name,
                    change.from.as_deref().unwrap_or("(none)"),
                    change.to,
                    change.to,
                    human_ms(&details["resolved_ms"])
                ),
                details,
            )
        } else {
            StepOutcome::failed(
                format!(
                    "{done}, but DNS does not answer {} yet: {}",
                    change.to,
                    details["resolvers_said"].as_str().unwrap_or("")
                ),
                details,
            )
        }
    }

    fn into_details(self, details: &mut serde_json::Value, submitted_at: DateTime<Utc>) {
        let resolved_at = if self.done() {
            self.first_target.iter().flatten().max().copied()
        } else {
            None
        };
        details["resolved_at"] = json!(resolved_at);
        details["resolved_ms"] = json!(resolved_at.map(|t| {
            standby_core::duration::millis(standby_core::duration::between(submitted_at, t))
        }));
        details["resolver_rounds"] = json!(self.rounds);
        details["resolvers"] = json!(
            self.servers
                .iter()
                .zip(&self.first_target)
                .zip(&self.last)
                .map(|((s, f), l)| json!({ "server": s.to_string(), "first_answered_target_at": f, "last_answer": l }))
                .collect::<Vec<_>>()
        );
        details["resolvers_said"] = json!(if self.no_server {
            "no DNS server to ask (dns.resolvers is empty and /etc/resolv.conf names none)"
                .to_string()
        } else {
            self.servers
                .iter()
                .zip(&self.last)
                .map(|(s, l)| format!("{s}: {l}"))
                .collect::<Vec<_>>()
                .join("; ")
        });
    }
}

/// Asks every server each round until all have answered the target (each counted from its first
/// such answer) or the deadline passes.
async fn wait_resolved(ctx: &Ctx, change: &plan::DnsChange, deadline: Instant) -> Resolution {
    let servers = crate::resolve::servers(&ctx.cfg.dns.resolvers);
    let n = servers.len();
    let mut r = Resolution {
        servers,
        first_target: vec![None; n],
        last: vec!["not asked yet".into(); n],
        rounds: 0,
        no_server: n == 0,
    };
    if r.no_server {
        return r;
    }
    let target = ctx.cfg.dns.side_of(&change.to);
    loop {
        r.rounds += 1;
        // All servers of a round at once: a silent one does not delay the others' answers.
        let mut asks = tokio::task::JoinSet::new();
        for (i, s) in r.servers.iter().enumerate() {
            let (s, name, t) = (*s, change.name.clone(), ctx.cfg.dns.record_type);
            asks.spawn(async move { (i, crate::resolve::ask(s, &name, t, QUERY_TIMEOUT).await) });
        }
        let answers = asks.join_all().await;
        let now = Utc::now();
        for (i, a) in answers {
            r.last[i] = match a {
                Ok(values) => {
                    if r.first_target[i].is_none()
                        && !values.is_empty()
                        && values.iter().all(|v| ctx.cfg.dns.side_of(v) == target)
                    {
                        r.first_target[i] = Some(now);
                    }
                    if values.is_empty() {
                        "no record".into()
                    } else {
                        values.join(",")
                    }
                }
                Err(e) => e.to_string(),
            };
        }
        if r.done() || Instant::now() + POLL >= deadline {
            return r;
        }
        tokio::time::sleep(POLL).await;
    }
}

fn human_ms(v: &serde_json::Value) -> String {
    v.as_u64()
        .map(|ms| standby_core::duration::human(Duration::from_millis(ms)))
        .unwrap_or_else(|| "?".into())
}
