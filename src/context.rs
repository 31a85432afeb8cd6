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
