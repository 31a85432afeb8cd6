//! The daemon's local endpoint and control channel.
//!
//! - `GET /metrics` (Prometheus text), `GET /healthz` (the main loop is alive), `GET /status`
//!   (JSON): on the loopback HTTP listener and on the unix socket.
//! - `POST /control/pause|resume|ack|approve/<run>`: on the unix socket (mode 0600, so only the
//!   service's user and root can connect, and the peer's uid is checked too), or over HTTP with
//!   `Authorization: Bearer <token>` when `[control] token_env` names a variable holding one.
//!   Everything else is refused: no token configured → 403, missing or wrong token → 401.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde_json::json;

use tokio::net::{TcpListener, UnixListener};
use tokio::sync::watch;
use tracing::{info, warn};

use crate::context::Ctx;
use crate::http::{self, Request, answer_raw};
use crate::live::{Impairment, Live};
use crate::metrics::{FinishedRun, Metrics, Snapshot};
use standby_core::machine::{Event, Outcome};

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("binding the control socket {path}: {source}")]
    Socket {
        path: String,
        source: std::io::Error,
    },
    #[error("binding {addr}: {source}")]
    Listen {
        addr: String,
        source: std::io::Error,
    },
}

#[derive(Clone, Copy, PartialEq)]
enum Via {
    Socket,
    Http,
}

/// Binds the socket (and the HTTP listener, if configured) and serves until shutdown.
pub async fn start(
    ctx: &Ctx,
    live: Arc<Live>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<Option<std::net::SocketAddr>, ControlError> {
    let cfg = &ctx.cfg.control;
    let sock = bind_socket(&cfg.socket)?;
    let token = cfg.token_env.as_ref().and_then(|v| match std::env::var(v) {
        Ok(t) if t.len() >= 16 => Some(t),
        Ok(_) => {
            warn!("{v} holds a token shorter than 16 characters: control over HTTP stays off");
            None
        }
        Err(_) => {
            warn!("{v} is not set: control over HTTP stays off (the unix socket still works)");
            None
        }
    });
    let http = match cfg.listen {
        Some(addr) => {
            Some(
                TcpListener::bind(addr)
                    .await
                    .map_err(|source| ControlError::Listen {
                        addr: addr.to_string(),
                        source,
                    })?,
            )
        }
        None => None,
    };
    let bound = http.as_ref().and_then(|l| l.local_addr().ok());
    if let Some(a) = bound {
        info!(
            "local endpoint on http://{a} (/metrics, /healthz, /status{}); control socket {}",
            if token.is_some() {
                ", /control with a bearer token"
            } else {
                ""
            },
            cfg.socket.display()
        );
    }
    let owner = std::fs::metadata(&cfg.socket)
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m))
        .ok();
    let ctx = ctx.clone();
    // Each listener has its own cap, so a flood on HTTP never locks the operator out of the
    // socket; with the head and body deadlines, idle peers cannot hold file descriptors the
    // probes need (as mini-redis caps connections with a semaphore).
    let socket_slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let http_slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = shutdown.changed() => break,
                accepted = sock.accept() => {
                    let Some(s) = accepted_or_pause(accepted).await else { continue };
                    let Ok(slot) = socket_slots.clone().try_acquire_owned() else {
                        busy(s.into_std());
                        continue;
                    };
                    let peer = s.peer_cred().ok().map(|c| c.uid());
                    // The socket file's mode already keeps others out; the peer check holds even
                    // if someone loosened it.
                    if peer.is_none() || (peer != owner && peer != Some(0)) {
                        if let Ok(raw) = s.into_std() {
                            answer_raw(raw, 403, "forbidden: not the service's user\n");
                        }
                        continue;
                    }
                    tokio::spawn(serve_one(s, slot, ctx.clone(), live.clone(), Via::Socket, None));
                }
                accepted = async { http.as_ref().expect("guarded").accept().await }, if http.is_some() => {
                    let Some(s) = accepted_or_pause(accepted).await else { continue };
                    let Ok(slot) = http_slots.clone().try_acquire_owned() else {
                        busy(s.into_std());
                        continue;
                    };
                    tokio::spawn(serve_one(s, slot, ctx.clone(), live.clone(), Via::Http, token.clone()));
                }
            }
        }
        let _ = std::fs::remove_file(&ctx.cfg.control.socket);
    });
    Ok(bound)
}

/// The accepted stream; `None` after a pause when the accept failed: out of file descriptors,
/// say, the listener stays ready, so trying again at once would spin (mini-redis backs off too).
async fn accepted_or_pause<S, A>(accepted: std::io::Result<(S, A)>) -> Option<S> {
    match accepted {
        Ok((s, _)) => Some(s),
        Err(e) => {
            warn!("local endpoint: accepting a connection failed: {e}; pausing accepts for 100ms");
            tokio::time::sleep(Duration::from_millis(100)).await;
            None
        }
    }
}

/// Connections served at once on each listener; more are answered 503 and closed at once.
pub const MAX_CONNECTIONS: usize = 64;

/// Over the cap: a best-effort 503 written straight to the socket (one non-blocking syscall:
/// tokio's `try_write` would refuse before the reactor has seen the socket writable), then the
/// connection closes, so it costs a file descriptor for microseconds.
fn busy<W: std::io::Write>(s: std::io::Result<W>) {
    if let Ok(w) = s {
        answer_raw(w, 503, "busy\n");
    }
}

fn bind_socket(path: &Path) -> Result<UnixListener, ControlError> {
    let err = |source| ControlError::Socket {
        path: path.display().to_string(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    // A socket left by a killed daemon; a live one would still answer.
    if std::os::unix::net::UnixStream::connect(path).is_err() {
        let _ = std::fs::remove_file(path);
    }
    let l = UnixListener::bind(path).map_err(err)?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(err)?;
    Ok(l)
}

/// One connection, holding its slot under the listener's cap until it is done.
async fn serve_one<S: http::Conn>(
    s: S,
    slot: tokio::sync::OwnedSemaphorePermit,
    ctx: Ctx,
    live: Arc<Live>,
    via: Via,
    token: Option<String>,
) {
    let _slot = slot;
    http::serve(s, move |req| {
        let (ctx, live, token) = (ctx.clone(), live.clone(), token.clone());
        async move { route(&req, &ctx, &live, via, token.as_deref()).await }
    })
    .await;
}

fn json_body(v: serde_json::Value) -> String {
    let mut s = serde_json::to_string_pretty(&v).unwrap_or_default();
    s.push('\n');
    s
}

async fn route(
    req: &Request,
    ctx: &Ctx,
    live: &Live,
    via: Via,
    token: Option<&str>,
) -> (u16, &'static str, String) {
    const JSON: &str = "application/json";
    match (req.method.as_str(), req.path.as_str()) {
        ("GET", "/healthz") => {
            let (ok, body) = live.health(escalated(ctx).await.as_ref());
            (if ok { 200 } else { 503 }, JSON, json_body(body))
        }
        ("GET", "/metrics") => (200, "text/plain; version=0.0.4; charset=utf-8", {
            let mut snap = snapshot(ctx, &live.metrics).await;
            let c = live.conditions();
            snap.impaired = Impairment::ALL
                .iter()
                .map(|k| (k.as_str(), c.impaired.contains_key(k)))
                .collect();
            snap.act_error = c.act_error.is_some();
            crate::metrics::render(&live.metrics, &snap)
        }),
        ("GET", "/status") => {
            let mut v = status_json(&ctx.cfg, &ctx.store).await;
            v["orchestrator"] = live.health(escalated(ctx).await.as_ref()).1;
            (200, JSON, json_body(v))
        }
        ("POST", path) if path.starts_with("/control/") => {
            if via == Via::Http {
                match token {
                    None => {
                        return (
                            403,
                            JSON,
                            json_body(
                                json!({"ok": false, "reason": "control over HTTP is off: use the unix socket, or set [control] token_env"}),
                            ),
                        );
                    }
                    Some(t) => {
                        let given = req
                            .header("authorization")
                            .and_then(|h| h.strip_prefix("Bearer "))
                            .unwrap_or("");
                        if !constant_time_eq(given.as_bytes(), t.as_bytes()) {
                            warn!(
                                "control request {path} over HTTP refused: missing or wrong bearer token"
                            );
                            return (
                                401,
                                JSON,
                                json_body(
                                    json!({"ok": false, "reason": "missing or wrong bearer token"}),
                                ),
                            );
                        }
                    }
                }
            }
            let event = match path.trim_start_matches("/control/") {
                "pause" => Event::Pause,
                "resume" => Event::Resume,
                "ack" => Event::Ack,
                p if p.starts_with("approve/") => Event::Approve {
                    run: p.trim_start_matches("approve/").to_string(),
                },
                _ => {
                    return (
                        404,
                        JSON,
                        json_body(json!({"ok": false, "reason": "unknown control command"})),
                    );
                }
            };
            // A person's decision: taken by any instance on a shared store (not fenced).
            match crate::runner::apply(&ctx.for_decisions(), &event, "-").await {
                Ok((d, before)) => {
                    let changed = d.next != before;
                    info!(
                        "control {path} via {}: {}",
                        if via == Via::Socket { "socket" } else { "HTTP" },
                        d.reason
                    );
                    let refused = d.outcome == Outcome::Refused;
                    (
                        if refused { 409 } else { 200 },
                        JSON,
                        json_body(json!({
                            "ok": !refused,
                            "changed": changed,
                            "outcome": d.outcome,
                            "reason": d.reason,
                        })),
                    )
                }
                Err(e) => (
                    500,
                    JSON,
                    json_body(json!({"ok": false, "reason": e.to_string()})),
                ),
            }
        }
        ("GET" | "POST", _) => (404, "text/plain", "not found\n".into()),
        _ => (405, "text/plain", "method not allowed\n".into()),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The failover that used up its attempts, as the state records it.
async fn escalated(ctx: &Ctx) -> Option<standby_core::machine::GaveUp> {
    crate::journal::read_state(&ctx.store)
        .await
        .ok()
        .and_then(|(s, _)| s.gave_up)
}

/// The store's view for a scrape.
pub async fn snapshot(ctx: &Ctx, metrics: &Metrics) -> Snapshot {
    use standby_core::machine::Serving;
    let now = Utc::now();
    let mut s = Snapshot {
        rto_objective: ctx.cfg.service.rto,
        webhooks_dropped: ctx.notifier.dropped(),
        verdict: "unknown".into(),
        ..Snapshot::default()
    };
    if let Some(l) = &ctx.lease {
        use crate::lease::Leadership;
        let (leader, epoch) = match l.leadership() {
            Leadership::Leader { epoch } => (l.may_act(), epoch),
            Leadership::Follower { epoch, .. } => (false, epoch.unwrap_or(0)),
            Leadership::Unknown => (false, 0),
        };
        s.lease = Some(crate::metrics::LeaseMetrics {
            leader,
            epoch,
            renew_failures: l.renew_failures.load(std::sync::atomic::Ordering::Relaxed),
        });
    }
    if let Ok((state, _)) = crate::journal::read_state(&ctx.store).await {
        s.escalated = state.gave_up.is_some();
        s.mode = match state.serving {
            Serving::Primary => "primary",
            Serving::FailingOver { .. } => "failing_over",
            Serving::Standby => "standby",
            Serving::FailingBack { .. } => "failing_back",
            Serving::Drilling { .. } => "drilling",
        }
        .into();
        s.paused = state.paused;
        s.awaiting_approval = state.awaiting_approval.is_some();
        s.armed = state.armed_for(&ctx.cfg.primary.endpoint);
        s.cooldown_remaining = state
            .cooldown_until
            .map(|u| standby_core::duration::between(now, u))
            .unwrap_or_default();
    }
    if let Ok(Some(v)) = crate::journal::read_verdict(&ctx.store).await {
        s.verdict = if v.is_stale(now) {
            "stale".into()
        } else {
            format!("{:?}", v.health).to_lowercase()
        };
        s.flapping = v.flapping.as_ref().map(|e| e.changes);
    }
    if let Ok(r) = crate::smoke::client::standby_readiness(&ctx.cfg, &ctx.store).await {
        s.standby_ready = r.ready;
    }
    if let Ok(keys) = ctx.store.list("runs/").await {
        // Oldest first (ids sort by creation time): the latest run of a kind wins `last_rto`.
        for key in keys {
            let id = crate::journal::run_id_of(&key);
            let finished = match metrics.finished_run(id) {
                Some(f) => f,
                None => match crate::journal::load_run(&ctx.store, id).await {
                    Ok(r) if r.status == crate::journal::RunStatus::Running => {
                        *s.running.entry(r.kind.as_str().to_string()).or_default() += 1;
                        s.projected_rto = Some(standby_core::report::projected_rto(&r, now));
                        if r.kind == standby_core::runbook::RunbookKind::Failover {
                            s.failover_failed_attempts = r.attempts.len() as u32;
                        }
                        continue;
                    }
                    Ok(r) => {
                        let f = finished_run(&r);
                        metrics.remember_finished(id, f.clone());
                        f
                    }
                    Err(
                        crate::journal::JournalError::Corrupt { .. }
                        | crate::journal::JournalError::NotFound(_),
                    ) => {
                        s.junk_runs += 1;
                        continue;
                    }
                    Err(_) => continue,
                },
            };
            *s.runs
                .entry((finished.kind.clone(), finished.result.clone()))
                .or_default() += 1;
            if let Some(rto) = finished.rto {
                s.last_rto.insert(finished.kind.clone(), rto);
            }
            if let Some(at) = finished.finished_at {
                s.last_run
                    .insert(finished.kind.clone(), (at, finished.result == "succeeded"));
            }
        }
    }
    s.dns_target = crate::world::last_known_value(&ctx.store)
        .await
        .and_then(|v| ctx.cfg.dns.side_of(&v))
        .map(|side| side.as_str().to_string());
    s.groups = crate::world::remembered_groups(&ctx.store).await;
    s.readiness = crate::readiness::last(&ctx.store).await;
    if ctx.cfg.prewarm.enabled {
        s.prewarm = Some((
            crate::prewarm_journal::active(&ctx.store).await,
            crate::prewarm_journal::history(&ctx.store).await,
        ));
    }
    for a in &ctx.cfg.artifacts {
        let st = crate::sync::engine::read_state(&ctx.store, &a.name).await;
        // RPO now, without reading the buckets on a scrape.
        s.rpo.insert(a.name.clone(), (st.rpo_bound(now), a.rpo));
        if let Some(at) = st.last_published_at {
            s.last_sync_ok.insert(a.name.clone(), at);
        }
        if let Some(r) = st.last_rpo.as_ref().filter(|r| {
            r.kind == standby_core::sync::manifest::RpoKind::Measured && r.value.is_some()
        }) {
            s.rpo_measured
                .insert(a.name.clone(), (r.value.unwrap_or_default(), r.at));
        }
    }
    s
}

/// What the metrics keep of a finished run. A failed run recovered nothing: its figure is not
/// an RTO.
fn finished_run(r: &crate::journal::RunRecord) -> FinishedRun {
    let rto = (r.status == crate::journal::RunStatus::Succeeded)
        .then(|| standby_core::report::build(r))
        .and_then(|rep| match (rep.rto.measured_ms, rep.rto.effective_ms) {
            (Some(m), Some(e)) => Some((Duration::from_millis(m), Duration::from_millis(e))),
            _ => None,
        });
    FinishedRun {
        kind: r.kind.as_str().to_string(),
        finished_at: r.finished_at,
        result: r.status.to_string(),
        rto,
    }
}

/// `GET /status` (and `standby status --json`): the state an operator (or a dashboard) needs.
pub async fn status_json(
    cfg: &standby_core::config::Config,
    store: &std::sync::Arc<dyn crate::store::Store>,
) -> serde_json::Value {
    let state = crate::journal::read_state(store).await.ok().map(|s| s.0);
    let verdict = crate::journal::read_verdict(store).await.ok().flatten();
    let readiness = crate::smoke::client::standby_readiness(cfg, store)
        .await
        .ok();
    let evaluation = crate::readiness::last(store).await;
    let running = match state.as_ref().and_then(|s| s.serving.running()) {
        Some(run) => crate::journal::load_run(store, run).await.ok().map(|r| {
            let i = r.next_step();
            json!({
                "id": r.id,
                "kind": r.kind,
                "step": i.map(|i| r.steps[i].name.clone()),
                "projected_rto_ms": standby_core::duration::millis(standby_core::report::projected_rto(&r, Utc::now())),
            })
        }),
        None => None,
    };
    json!({
        "service": cfg.service.name,
        "version": env!("CARGO_PKG_VERSION"),
        "commit": env!("STANDBY_COMMIT"),
        "state": state,
        "verdict": verdict.map(|v| {
            let now = Utc::now();
            json!({
                "health": v.health_at(now),
                "stale": v.is_stale(now),
                "reason": v.reason,
                "at": v.at,
                "since": v.since,
                "rule": v.rule,
                "fresh_until": v.fresh_until,
                "flapping": v.flapping,
            })
        }),
        "armed": state.as_ref().is_some_and(|s| s.armed_for(&cfg.primary.endpoint)),
        "running": running,
        "standby_readiness": readiness,
        "readiness_evaluation": evaluation.as_ref().map(|e| json!({
            "at": e.at,
            "ready": e.ready(),
            "summary": e.summary(),
            "findings": e.findings,
        })),
        "cost": evaluation.as_ref().and_then(|e| e.cost.as_ref()).map(|c| json!({
            "summary": c.summary(),
            "prices_as_of": standby_core::cost::PRICES_AS_OF,
            "detail": c,
        })),
        "prewarm": prewarm_json(cfg, store).await,
        "rto_objective_ms": standby_core::duration::millis(cfg.service.rto),
    })
}

/// Pre-warm for `/status`: on or off, the one under way, this month's, the last ten.
async fn prewarm_json(
    cfg: &standby_core::config::Config,
    store: &std::sync::Arc<dyn crate::store::Store>,
) -> serde_json::Value {
    let active = crate::prewarm_journal::active(store).await;
    let history = crate::prewarm_journal::history(store).await;
    let now = Utc::now();
    let month = standby_core::prewarm::month(&history.episodes, active.as_ref(), now);
    json!({
        "enabled": cfg.prewarm.enabled,
        "active": active.as_ref().map(|e| json!({ "line": e.line(now), "episode": e })),
        "month": {
            "count": month.count,
            "seconds": month.lasted.as_secs(),
            "cost_usd": month.cost_usd,
        },
        "totals": history.totals,
        "recent": history.episodes.iter().rev().take(10).map(|e| e.line(now)).collect::<Vec<_>>(),
    })
}

/// The client side for `standby pause|resume|ack|approve`: the daemon's unix socket, or its
/// HTTP endpoint with a bearer token. `Ok(None)` when no daemon answers on the socket.
pub async fn request(
    ctx_cfg: &standby_core::config::Config,
    command: &str,
    url: Option<&str>,
    token: Option<&str>,
) -> std::io::Result<Option<(u16, String)>> {
    let path = format!("/control/{command}");
    match url {
        Some(u) => {
            let addr = u
                .trim_start_matches("http://")
                .trim_end_matches('/')
                .to_string();
            let s = tokio::net::TcpStream::connect(&addr).await?;
            let auth = token.map(|t| format!("Bearer {t}"));
            let headers: Vec<(&str, &str)> = auth
                .as_deref()
                .map(|a| vec![("Authorization", a)])
                .unwrap_or_default();
            http::call(s, "POST", &path, &headers).await.map(Some)
        }
        None => match tokio::net::UnixStream::connect(&ctx_cfg.control.socket).await {
            Ok(s) => http::call(s, "POST", &path, &[]).await.map(Some),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(path: &str, bearer: Option<&str>) -> Request {
        Request {
            method: "POST".into(),
            path: path.into(),
            headers: bearer
                .map(|t| vec![("authorization".to_string(), format!("Bearer {t}"))])
                .unwrap_or_default(),
            body: vec![],
        }
    }

    fn body(b: &str) -> serde_json::Value {
        serde_json::from_str(b).unwrap()
    }

    async fn setup(tag: &str) -> (Ctx, Live, std::path::PathBuf) {
        let dir = crate::context::test_dir(tag);
        let (ctx, _tx) = crate::context::for_tests(&dir).await;
        (ctx, Live::new(Duration::from_secs(10)), dir)
    }

    #[tokio::test]
    async fn commands_answer_with_the_decisions_typed_outcome() {
        let (ctx, live, _dir) = setup("outcome").await;
        let (status, _, b) = route(
            &post("/control/pause", None),
            &ctx,
            &live,
            Via::Socket,
            None,
        )
        .await;
        let b = body(&b);
        assert_eq!(
            (status, &b["outcome"], &b["changed"]),
            (200, &json!("applied"), &json!(true)),
            "{b}"
        );
        let (status, _, b) = route(
            &post("/control/pause", None),
            &ctx,
            &live,
            Via::Socket,
            None,
        )
        .await;
        let b = body(&b);
        assert_eq!(
            (status, &b["outcome"], &b["changed"]),
            (200, &json!("unchanged"), &json!(false)),
            "{b}"
        );
        // Nothing waits for approval: refused, 409, and said why.
        let (status, _, b) = route(
            &post("/control/approve/r9", None),
            &ctx,
            &live,
            Via::Socket,
            None,
        )
        .await;
        let b = body(&b);
        assert_eq!(
            (status, &b["outcome"], &b["ok"]),
            (409, &json!("refused"), &json!(false)),
            "{b}"
        );
        assert!(
            b["reason"]
                .as_str()
                .unwrap()
                .contains("no run waits for approval"),
            "{b}"
        );
        let (status, _, _) =
            route(&post("/control/nope", None), &ctx, &live, Via::Socket, None).await;
        assert_eq!(status, 404);
    }

    #[tokio::test]
    async fn control_over_http_needs_the_bearer_token() {
        let (ctx, live, _dir) = setup("token").await;
        let token = "0123456789abcdef-token";
        let (status, ..) = route(&post("/control/pause", None), &ctx, &live, Via::Http, None).await;
        assert_eq!(status, 403, "off without a token configured");
        let (status, ..) = route(
            &post("/control/pause", Some("wrong")),
            &ctx,
            &live,
            Via::Http,
            Some(token),
        )
        .await;
        assert_eq!(status, 401);
        let (status, ..) = route(
            &post("/control/pause", Some(token)),
            &ctx,
            &live,
            Via::Http,
            Some(token),
        )
        .await;
        assert_eq!(status, 200);
        let (state, _) = crate::journal::read_state(&ctx.store).await.unwrap();
        assert!(state.paused);
    }

    #[tokio::test]
    async fn metrics_read_a_finished_run_once() {
        let (ctx, live, dir) = setup("metrics").await;
        let body = |b: (u16, &'static str, String)| b.2;
        let get = Request {
            method: "GET".into(),
            path: "/metrics".into(),
            headers: vec![],
            body: vec![],
        };
        let first = body(route(&get, &ctx, &live, Via::Socket, None).await);
        assert!(
            first.contains("standby_orchestrator_impaired{kind=\"probe\"} 0"),
            "{first}"
        );
        // A finished run appears, and is remembered: a later scrape does not read it again.
        let trigger = standby_core::machine::Trigger::Manual {
            command: "standby failover".into(),
            at: Utc::now(),
        };
        let world = standby_core::plan::World::default();
        let mut j = crate::executor::create_run(
            &ctx,
            "r1",
            standby_core::runbook::RunbookKind::Failover,
            trigger,
            vec![],
            &world,
        )
        .await
        .unwrap();
        j.record.status = crate::journal::RunStatus::Failed;
        j.record.finished_at = Some(Utc::now());
        j.save().await.unwrap();
        let m = body(route(&get, &ctx, &live, Via::Socket, None).await);
        assert!(m.contains("kind=\"failover\",result=\"failed\"} 1"), "{m}");
        assert!(live.metrics.finished_run("r1").is_some());
        let _ = std::fs::remove_dir_all(dir);
    }
}
