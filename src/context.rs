//! What every command, run and the daemon share: the config, the AWS clients, the store, the
//! shutdown signal, the webhook notifier and the prober, built once.

use std::sync::Arc;

use standby_aws::Clients;
use standby_core::config::Config;
use tokio::sync::watch;

use crate::prober::Prober;
use crate::store::{FileStore, Store};

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
}

impl Ctx {
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

/// The product's context: real clients, the file store under `state_dir`, a running notifier.
pub async fn build(cfg: Config, shutdown: watch::Receiver<bool>) -> Ctx {
    let clients = Clients::new(&cfg).await;
    let store = Arc::new(FileStore::new(&cfg.service.state_dir));
    let notifier = crate::notify::Notifier::start(&cfg);
    Ctx {
        prober: crate::prober::Prober::new(&cfg.health),
        cfg: Arc::new(cfg),
        clients,
        store,
        shutdown,
        notifier,
    }
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
    let ctx = Ctx {
        clients: standby_aws::Clients::new(&cfg).await,
        store: Arc::new(crate::store::MemoryStore::default()),
        shutdown,
        notifier: crate::notify::Notifier::start(&cfg),
        prober: crate::prober::Prober::new(&cfg.health),
        cfg: Arc::new(cfg),
    };
    (ctx, tx)
}
