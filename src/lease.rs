//! The lease keeper: the shell around [`standby_core::lease::Keeper`]. With `[state] backend =
//! "s3"` every `standby serve` runs one; it reads the lease object every `renew`, writes it as
//! the rules say (create, take over, renew) and publishes whether this instance may act.
//!
//! Guarantees: [`Lease::may_act`] reads the monotonic clock each time it is asked, so a process
//! paused past its deadline (SIGSTOP, a frozen VM) sees itself deposed the moment it runs again,
//! before its keeper task does; the AWS clients ask it before every request they send
//! ([`standby_aws::fence`]) and the state store before every write ([`crate::store::s3`]).
//! On becoming leader the keeper rewrites the state under its epoch, so the deposed holder's
//! next state write is refused. A clean stop releases the lease (a follower takes it at once).
//!
//! Caveats: the clock assumption of [`standby_core::lease`]. A takeover costs up to `ttl` + one
//! `renew` after the holder's last renewal.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use standby_core::lease::{Keeper, LeaseDoc, Move, Observed, Rules};
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::{error, info, warn};

use standby_aws::fence::{Fence, Token};
use standby_aws::state::{self, Condition, PutError};

/// The lease object's key under the state prefix.
pub const KEY: &str = "lease.json";

/// Who acts, as this instance last saw it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum Leadership {
    /// Not read yet.
    Unknown,
    Leader {
        epoch: u64,
    },
    Follower {
        holder: Option<String>,
        epoch: Option<u64>,
    },
}

/// This instance's lease: shared by the keeper task, the store and the AWS clients' fence.
#[derive(Debug)]
pub struct Lease {
    pub instance: String,
    keeper: Mutex<Keeper>,
    origin: Instant,
    role: watch::Sender<Leadership>,
    /// Renewals that failed (not lost to another holder: the store did not answer).
    pub renew_failures: std::sync::atomic::AtomicU64,
    /// The keeper task and its stop signal, once started.
    running: Mutex<Option<(watch::Sender<bool>, tokio::task::JoinHandle<()>)>>,
    /// Why this instance last took the lease (for the takeover note in a resumed run).
    taken: Mutex<Option<String>>,
}

impl Lease {
    pub fn new(instance: String, rules: Rules) -> Arc<Lease> {
        let token = format!(
            "{}-{:x}",
            std::process::id(),
            Utc::now().timestamp_nanos_opt().unwrap_or_default() as u64
        );
        Arc::new(Lease {
            instance,
            keeper: Mutex::new(Keeper::new(token, rules)),
            origin: Instant::now(),
            role: watch::channel(Leadership::Unknown).0,
            renew_failures: Default::default(),
            running: Mutex::new(None),
            taken: Mutex::new(None),
        })
    }

    /// Why this instance took the lease it holds (`None`: it created it, or holds none).
    pub fn taken_because(&self) -> Option<String> {
        self.taken.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Starts keeping the lease in the background.
    pub fn start(self: &Arc<Lease>, store: Arc<crate::store::s3::S3Store>) {
        let (tx, rx) = watch::channel(false);
        let place = Place {
            client: store.client().clone(),
            bucket: store.bucket().to_string(),
            prefix: store.prefix().to_string(),
        };
        let task = tokio::spawn(keep(self.clone(), place, store, rx));
        *self.running.lock().unwrap_or_else(|p| p.into_inner()) = Some((tx, task));
    }

    /// Stops keeping the lease and releases it if held: call once nothing acts any more.
    pub async fn stop(&self) {
        let running = self
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some((tx, task)) = running {
            let _ = tx.send(true);
            let _ = task.await;
        }
    }

    fn now(&self) -> Duration {
        self.origin.elapsed()
    }

    fn keeper(&self) -> std::sync::MutexGuard<'_, Keeper> {
        self.keeper.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The lease document this instance writes at `epoch`.
    fn doc(&self, epoch: u64, released: bool) -> LeaseDoc {
        let k = self.keeper();
        LeaseDoc {
            holder: self.instance.clone(),
            token: k.token().to_string(),
            epoch,
            ttl_ms: k.rules().ttl.as_millis() as u64,
            renewed_at: Utc::now(),
            released,
        }
    }

    /// Whether this instance may act at this instant (monotonic clock, read now).
    pub fn may_act(&self) -> bool {
        self.keeper().may_act(self.now())
    }

    /// The epoch to write under, if this instance may act now.
    pub fn acting_epoch(&self) -> Option<u64> {
        let k = self.keeper();
        k.may_act(self.now()).then(|| k.epoch()).flatten()
    }

    pub fn role(&self) -> watch::Receiver<Leadership> {
        self.role.subscribe()
    }

    pub fn leadership(&self) -> Leadership {
        self.role.borrow().clone()
    }

    fn publish(&self, next: Leadership) {
        self.role.send_if_modified(|cur| {
            if *cur == next {
                false
            } else {
                *cur = next;
                true
            }
        });
    }
}

impl crate::store::s3::Acting for Lease {
    fn acting_epoch(&self) -> Option<u64> {
        Lease::acting_epoch(self)
    }

    fn describe(&self) -> String {
        format!(
            "{} does not hold a valid lease ({})",
            self.instance,
            describe(&self.leadership())
        )
    }
}

impl Fence for Lease {
    fn check(&self) -> Result<Token, String> {
        match self.acting_epoch() {
            Some(epoch) => Ok(Token {
                instance: self.instance.clone(),
                epoch,
            }),
            None => Err(format!(
                "{} does not hold a valid lease ({})",
                self.instance,
                describe(&self.leadership())
            )),
        }
    }
}

pub fn describe(l: &Leadership) -> String {
    match l {
        Leadership::Unknown => "lease not read yet".into(),
        Leadership::Leader { epoch } => format!("leader, epoch {epoch}"),
        Leadership::Follower {
            holder: Some(h),
            epoch: Some(e),
        } => format!("follower; {h} leads at epoch {e}"),
        Leadership::Follower { .. } => "follower; nobody holds the lease".into(),
    }
}

/// Where the lease lives.
#[derive(Clone)]
pub struct Place {
    pub client: aws_sdk_s3::Client,
    pub bucket: String,
    pub prefix: String,
}

impl Place {
    fn key(&self, k: &str) -> String {
        format!("{}{k}", self.prefix)
    }

    pub async fn read(&self) -> Result<Option<(LeaseDoc, String)>, String> {
        match state::get(&self.client, &self.bucket, &self.key(KEY)).await {
            Ok(None) => Ok(None),
            Ok(Some(d)) => serde_json::from_slice::<LeaseDoc>(&d.bytes)
                .map(|doc| Some((doc, d.etag)))
                .map_err(|e| format!("{} is not a lease document: {e}", self.key(KEY))),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Writes `doc` if `condition` holds (never fenced: this is the lease itself); the ETag.
    async fn write(&self, doc: &LeaseDoc, condition: Condition) -> Result<String, PutError> {
        let bytes = serde_json::to_vec_pretty(doc).expect("a lease serializes");
        state::put(
            &self.client,
            &self.bucket,
            &self.key(KEY),
            bytes,
            condition,
            doc.epoch,
            &doc.holder,
            None,
        )
        .await
    }
}

/// The lease document through a store (commands, `status`), with its store version; the
/// document or why it is not one.
pub async fn read_doc(
    store: &Arc<dyn crate::store::Store>,
) -> Result<
    Option<(Result<LeaseDoc, serde_json::Error>, crate::store::Version)>,
    crate::store::StoreError,
> {
    Ok(store
        .get(KEY)
        .await?
        .map(|v| (serde_json::from_slice(&v.bytes), v.version)))
}

/// Keeps the lease until `shutdown`; then releases it if held.
pub async fn keep(
    lease: Arc<Lease>,
    place: Place,
    store: Arc<crate::store::s3::S3Store>,
    mut shutdown: watch::Receiver<bool>,
) {
    let rules = lease.keeper().rules();
    loop {
        let wait = round(&lease, &place, &store, rules).await;
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.wait_for(|s| *s) => break,
        }
    }
    release(&lease, &place).await;
}

/// One look at the lease and the write it calls for; how long until the next look.
async fn round(
    lease: &Arc<Lease>,
    place: &Place,
    store: &crate::store::s3::S3Store,
    rules: Rules,
) -> Duration {
    // A read or write that hangs must not hold the keeper past a renewal.
    let limit = rules.renew;
    let observed = match tokio::time::timeout(limit, place.read()).await {
        Ok(Ok(o)) => o,
        Ok(Err(e)) => {
            failed(lease, &format!("reading the lease: {e}"));
            return rules.renew / 2;
        }
        Err(_) => {
            failed(lease, "reading the lease: no answer within lease.renew");
            return rules.renew / 2;
        }
    };
    let now = lease.now();
    // Documents are written under epochs no newer than the lease's, so the floor matters only
    // when the lease is gone (deleted by hand): then a new one must start above the state's.
    let floor = match &observed {
        Some(_) => 0,
        None => store.epoch_of(crate::journal::STATE_KEY).await,
    };
    let mv = {
        let mut k = lease.keeper();
        k.next(
            observed
                .as_ref()
                .map(|(doc, version)| Observed { doc, version }),
            now,
            floor,
        )
    };
    let was_leader = matches!(lease.leadership(), Leadership::Leader { .. });
    let (epoch, condition, why) = match mv {
        Move::Hold => {
            publish_held(lease);
            return rules.renew / 4;
        }
        Move::Follow {
            holder,
            epoch,
            takeover_in,
        } => {
            if was_leader {
                warn!(
                    "LEASE LOST: {holder} holds it now (epoch {epoch}); this instance stopped acting"
                );
            }
            lease.publish(Leadership::Follower {
                holder: Some(holder),
                epoch: Some(epoch),
            });
            return takeover_in.min(rules.renew);
        }
        Move::Create { epoch } => (epoch, Condition::Absent, "nobody held it".to_string()),
        Move::Take {
            epoch,
            version,
            why,
        } => (epoch, Condition::Etag(version), why),
        Move::Renew { epoch, version } => (epoch, Condition::Etag(version), String::new()),
    };
    let renewing = why.is_empty();
    let doc = lease.doc(epoch, false);
    let sent = lease.now();
    let put = place.write(&doc, condition);
    match tokio::time::timeout(limit, put).await {
        Ok(Ok(etag)) => {
            lease.keeper().wrote(epoch, etag, sent);
            if !renewing {
                info!(
                    "LEASE TAKEN: {} leads at epoch {epoch} ({why})",
                    lease.instance
                );
                *lease.taken.lock().unwrap_or_else(|p| p.into_inner()) = Some(why.clone());
                // Fence first: the state under our epoch refuses the old holder's late writes.
                if let Err(e) = store.fence(crate::journal::STATE_KEY).await {
                    warn!(
                        "rewriting the state under epoch {epoch}: {e}; the store's epoch check still refuses older holders once they re-read"
                    );
                }
            }
            publish_held(lease);
            rules.renew
        }
        Ok(Err(PutError::Precondition { .. })) => {
            lease.keeper().refused();
            if was_leader || renewing {
                warn!(
                    "LEASE LOST: another instance wrote the lease first; this instance stopped acting"
                );
            }
            lease.publish(Leadership::Follower {
                holder: None,
                epoch: None,
            });
            rules.renew / 4
        }
        Ok(Err(PutError::Aws(e))) => {
            failed(lease, &format!("writing the lease: {e}"));
            publish_held(lease);
            rules.renew / 4
        }
        Err(_) => {
            failed(lease, "writing the lease: no answer within lease.renew");
            publish_held(lease);
            rules.renew / 4
        }
    }
}

/// Publishes leader while the lease is valid by the clock, follower once it is not.
fn publish_held(lease: &Lease) {
    match lease.acting_epoch() {
        Some(epoch) => lease.publish(Leadership::Leader { epoch }),
        None => {
            if matches!(lease.leadership(), Leadership::Leader { .. }) {
                error!(
                    "LEASE EXPIRED on this host's clock before a renewal landed: this instance stopped acting"
                );
            }
            lease.publish(Leadership::Follower {
                holder: None,
                epoch: None,
            });
        }
    }
}

fn failed(lease: &Lease, what: &str) {
    lease
        .renew_failures
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    warn!("{what}");
}

/// On a clean stop: mark our lease released (same epoch) so a follower takes it at once.
async fn release(lease: &Lease, place: &Place) {
    let (epoch, version) = {
        let k = lease.keeper();
        match (k.epoch(), k.version()) {
            (Some(e), Some(v)) => (e, v.to_string()),
            _ => return,
        }
    };
    lease.keeper().refused();
    lease.publish(Leadership::Follower {
        holder: None,
        epoch: None,
    });
    match place
        .write(&lease.doc(epoch, true), Condition::Etag(version))
        .await
    {
        Ok(_) => info!("lease released (epoch {epoch}): a follower may take it at once"),
        Err(e) => warn!("releasing the lease: {e}; followers take it over after its ttl"),
    }
}
