//! What every command, run and the daemon share: the config, the AWS clients, the store, the
//! shutdown signal, the webhook notifier and the prober, built once.

use std::sync::Arc;

use standby_aws::Clients;
use standby_core::config::Config;
use tokio::sync::watch;

use crate::prober::Prober;
use crate::store::s3::S3Store;
use crate::store::{FileStore, Store};
use standby_core::config::StateStore;

/// Everything a run needs from the shell.
#[derive(Clone)]
pub struct Ctx {
    pub cfg: Arc<Config>,
    pub clients: Clients,
    pub store: Arc<dyn Store>,
    pub shutdown: watch::Receiver<bool>,
    pub notifier: crate::notify::Notifier,
    /// Built once: a verify step that starts by building an HTTP client would stamp its first
    /// good answer tens of milliseconds after service was back.
    pub prober: Prober,
    /// `standby serve` over a shared store: this instance's lease. `None`: the file store (one
    /// instance), or a command-line process, which decides but never executes on a shared store.
    pub lease: Option<Arc<crate::lease::Lease>>,
    /// The store for people's decisions (pause, resume, approve, ack through the control
    /// endpoint): compare-and-swap but not fenced, so any instance takes them. The same as
    /// `store` but on a shared store.
    pub decisions: Arc<dyn Store>,
}

impl Ctx {
    /// Whether this process may act now: always with the file store; with a shared store only
    /// while it holds a valid lease.
    pub fn may_act(&self) -> bool {
        self.lease.as_ref().is_none_or(|l| l.may_act())
    }

    /// This context for applying a person's decision (see [`Ctx::decisions`]).
    pub fn for_decisions(&self) -> Ctx {
        Ctx {
            store: self.decisions.clone(),
            lease: None,
            ..self.clone()
        }
    }

    /// Whether the state is shared with other instances (`[state] backend = "s3"`).
    pub fn shared(&self) -> bool {
        matches!(self.cfg.state, StateStore::S3 { .. })
    }

    /// An artifact sync engine over this context's config, clients and store.
    pub fn sync_engine(&self) -> crate::sync::engine::Engine {
        crate::sync::engine::Engine {
            cfg: self.cfg.clone(),
            clients: self.clients.clone(),
            store: self.store.clone(),
            progress: Default::default(),
        }
    }
}

/// Who builds a context: the daemon keeps a lease on a shared store; a command does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Serve,
    Command,
}

/// The product's context: real clients, the configured store, a running notifier. A daemon on a
/// shared store starts keeping its lease here, and its acting clients are fenced by it.
pub async fn build(cfg: Config, shutdown: watch::Receiver<bool>, role: Role) -> Ctx {
    let notifier = crate::notify::Notifier::start(&cfg);
    let (store, decisions, clients, lease): (Arc<dyn Store>, Arc<dyn Store>, Clients, _) =
        match shared_store(&cfg).await {
            None => {
                let store = Arc::new(FileStore::new(&cfg.service.state_dir));
                (store.clone(), store, Clients::new(&cfg).await, None)
            }
            Some(unfenced) => {
                let lease = (role == Role::Serve)
                    .then(|| crate::lease::Lease::new(unfenced.instance().to_string(), cfg.lease));
                let fence = lease
                    .clone()
                    .map(|l| l as Arc<dyn standby_aws::fence::Fence>);
                let acting = lease
                    .clone()
                    .map(|l| l as Arc<dyn crate::store::s3::Acting>);
                let store = Arc::new(unfenced.clone().with_lease(acting));
                if let Some(l) = &lease {
                    l.start(store.clone());
                }
                let clients = Clients::fenced(&cfg, fence).await;
                (store, Arc::new(unfenced), clients, lease)
            }
        };
    Ctx {
        prober: crate::prober::Prober::new(&cfg.health),
        cfg: Arc::new(cfg),
        clients,
        store,
        shutdown,
        notifier,
        lease,
        decisions,
    }
}

/// The configured store for a command that reads it (`status`): no lease.
pub async fn command_store(cfg: &Config) -> Arc<dyn Store> {
    match shared_store(cfg).await {
        Some(s) => Arc::new(s),
        None => Arc::new(FileStore::new(&cfg.service.state_dir)),
    }
}

/// The shared store `[state]` names, without a lease (`None`: the file store).
async fn shared_store(cfg: &Config) -> Option<S3Store> {
    let StateStore::S3 {
        bucket,
        region,
        prefix,
        instance,
    } = &cfg.state
    else {
        return None;
    };
    Some(S3Store::new(
        standby_aws::state_client(cfg, region).await,
        bucket.clone(),
        prefix.clone(),
        instance.clone().unwrap_or_else(host_name),
        None,
    ))
}

/// This host's name, the default instance name.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "standby".into())
}

#[cfg(test)]
const TEST_CONFIG: &str = r#"[service]
name = "chat"
rto = "5m"
state_dir = "state"
reports_dir = "reports"

[aws]
endpoint_url = "http://127.0.0.1:9"
max_attempts = 1

[primary]
region = "us-east-1"
endpoint = "http://127.0.0.1:9/health"
asgs = [{ name = "gpu-use1", warm = 0, serving = 4 }]
bucket = "artifacts-use1"

[standby]
region = "us-west-2"
endpoint = "http://127.0.0.1:9/health"
asgs = [{ name = "gpu-usw2", warm = 1, serving = 4 }]
bucket = "artifacts-usw2"

[dns]
zone_id = "Z1"
name = "api.example.com."
type = "CNAME"
ttl = 5
primary = "use1.example.com"
standby = "usw2.example.com"

[control]
listen = "off"
"#;

/// A fresh directory for one unit test's files.
#[cfg(test)]
pub(crate) fn test_dir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!(
        "standby-unit-{tag}-{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
    ));
    std::fs::create_dir_all(&d).expect("a temp dir");
    d
}

/// A context for the shell's unit tests: the config above (two regions, no webhooks, no reports
/// bucket, an AWS endpoint nothing listens on), a memory store, reports under `dir`, and the
/// sender of its shutdown signal.
#[cfg(test)]
pub(crate) async fn for_tests(dir: &std::path::Path) -> (Ctx, watch::Sender<bool>) {
    let cfg = standby_core::config::compile::from_text(&dir.join("standby.toml"), TEST_CONFIG)
        .unwrap_or_else(|d| panic!("{d}"));
    let (tx, shutdown) = watch::channel(false);
    let store: Arc<dyn Store> = Arc::new(crate::store::MemoryStore::default());
    let ctx = Ctx {
        clients: standby_aws::Clients::new(&cfg).await,
        decisions: store.clone(),
        store,
        shutdown,
        notifier: crate::notify::Notifier::start(&cfg),
        prober: crate::prober::Prober::new(&cfg.health),
        cfg: Arc::new(cfg),
        lease: None,
    };
    (ctx, tx)
}
