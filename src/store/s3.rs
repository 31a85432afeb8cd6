//! The shared store: documents in one S3 bucket (`[state] backend = "s3"`), so several
//! instances on several hosts see one state, one journal per run, one sync state per set.
//!
//! Guarantees:
//! - Every write is a compare-and-swap in S3 itself: `If-None-Match: *` to create, `If-Match`
//!   on the ETag that was read to replace ([`Expect::Any`] reads the ETag first). A lost race is
//!   [`StoreError::Conflict`], as with the file store.
//! - **Fencing.** Every write carries the writer's lease epoch (object metadata). An instance
//!   writes only while its lease is valid by its own clock, and never over a document written
//!   under a higher epoch ([`StoreError::Fenced`]): the version token it read says which epoch
//!   wrote it. A new leader rewrites the state under its epoch first ([`S3Store::fence_state`]),
//!   so the old leader's next state write fails its `If-Match`, and its re-read shows the higher
//!   epoch. Run journals are fenced the same way the moment the new leader resumes the run.
//! - Only the lease holder executes: [`Store::lock_run`] succeeds only while it may act.
//!
//! Caveats: a command-line process (no lease) may *decide* (write the state, create a run's
//! journal) under the epoch it read, but never executes a run: the leader does. Documents
//! under `peers/` (each instance's own verdict) are written by followers too and not fenced.

use std::sync::Arc;

use standby_aws::state::{self, Condition, PutError};

use super::{BoxFuture, Expect, ProcessLocks, RunLock, Store, StoreError, Version, Versioned};

/// Whether this process may act, and under which epoch: the lease, as the store sees it. It
/// is also the fence its writes are checked against just before they are sent.
pub trait Acting: standby_aws::fence::Fence {
    /// The epoch to write under, if this process may act at this instant.
    fn acting_epoch(&self) -> Option<u64>;
    fn may_act(&self) -> bool {
        self.acting_epoch().is_some()
    }
    /// For errors: who this is and who leads.
    fn describe(&self) -> String;
}

#[derive(Clone)]
pub struct S3Store {
    client: aws_sdk_s3::Client,
    bucket: String,
    prefix: String,
    instance: String,
    /// `None` for a command-line process: it never holds the lease.
    lease: Option<Arc<dyn Acting>>,
    locks: ProcessLocks,
}

/// A version token: the ETag and the epoch the document was written under.
fn token(etag: &str, epoch: u64) -> Version {
    Version(format!("{etag}@{epoch}"))
}

fn parse(v: &Version) -> (String, u64) {
    match v.0.rsplit_once('@') {
        Some((etag, epoch)) => (etag.to_string(), epoch.parse().unwrap_or(0)),
        None => (v.0.clone(), 0),
    }
}

/// Keys every instance writes for itself, leader or not.
fn unfenced(key: &str) -> bool {
    key.starts_with("peers/")
}

impl S3Store {
    pub fn new(
        client: aws_sdk_s3::Client,
        bucket: String,
        prefix: String,
        instance: String,
        lease: Option<Arc<dyn Acting>>,
    ) -> S3Store {
        S3Store {
            client,
            bucket,
            prefix,
            instance,
            lease,
            locks: Default::default(),
        }
    }

    /// This store with its writes fenced by `lease` (`None`: not fenced).
    pub fn with_lease(self, lease: Option<Arc<dyn Acting>>) -> S3Store {
        S3Store { lease, ..self }
    }

    pub fn instance(&self) -> &str {
        &self.instance
    }

    pub fn client(&self) -> &aws_sdk_s3::Client {
        &self.client
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    fn full(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    fn remote(&self, key: &str, e: standby_aws::AwsError) -> StoreError {
        StoreError::Remote {
            key: format!("s3://{}/{}", self.bucket, self.full(key)),
            source: e,
        }
    }

    /// The epoch this write goes under: the lease's while it is valid; `None` passes through
    /// the epoch of what is replaced (a command-line process).
    fn writer_epoch(&self, key: &str) -> Result<Option<u64>, StoreError> {
        let Some(lease) = &self.lease else {
            return Ok(None);
        };
        match lease.acting_epoch() {
            Some(e) => Ok(Some(e)),
            None if unfenced(key) => Ok(Some(0)),
            None => Err(StoreError::Fenced {
                key: key.to_string(),
                why: lease.describe(),
            }),
        }
    }

    fn check(&self, key: &str, mine: Option<u64>, stored: u64) -> Result<u64, StoreError> {
        match mine {
            Some(m) if stored > m && !unfenced(key) => Err(StoreError::Fenced {
                key: key.to_string(),
                why: format!(
                    "it was written under epoch {stored}, newer than this instance's {m}: another instance leads now"
                ),
            }),
            Some(m) => Ok(m),
            None => Ok(stored),
        }
    }

    async fn put_once(
        &self,
        key: &str,
        condition: Condition,
        epoch: u64,
        bytes: Vec<u8>,
    ) -> Result<Version, StoreError> {
        // A fenced write is checked against the lease again on the wire: a process paused
        // between the check above and the send must not land a write once it woke up deposed.
        let fence = self
            .lease
            .clone()
            .filter(|_| !unfenced(key))
            .map(|l| l as Arc<dyn standby_aws::fence::Fence>);
        match state::put(
            &self.client,
            &self.bucket,
            &self.full(key),
            bytes,
            condition,
            epoch,
            &self.instance,
            fence,
        )
        .await
        {
            Ok(etag) => Ok(token(&etag, epoch)),
            Err(PutError::Precondition { .. }) => Err(StoreError::Conflict {
                key: key.to_string(),
            }),
            // Refused by the fence on the wire (the lease lapsed meanwhile): say that.
            Err(PutError::Aws(e)) => {
                self.writer_epoch(key)?;
                Err(self.remote(key, e))
            }
        }
    }

    async fn put_doc(
        &self,
        key: &str,
        expect: Expect,
        bytes: Vec<u8>,
    ) -> Result<Version, StoreError> {
        let mine = self.writer_epoch(key)?;
        match expect {
            Expect::Absent => {
                self.put_once(key, Condition::Absent, mine.unwrap_or(0), bytes)
                    .await
            }
            Expect::Version(v) => {
                let (etag, stored) = parse(&v);
                let epoch = self.check(key, mine, stored)?;
                self.put_once(key, Condition::Etag(etag), epoch, bytes)
                    .await
            }
            // Last writer wins, but never over a newer epoch: read the ETag, then swap on it.
            Expect::Any => {
                let mut tries = 0;
                loop {
                    tries += 1;
                    let head = state::head(&self.client, &self.bucket, &self.full(key))
                        .await
                        .map_err(|e| self.remote(key, e))?;
                    let r = match head {
                        None => {
                            self.put_once(key, Condition::Absent, mine.unwrap_or(0), bytes.clone())
                                .await
                        }
                        Some(h) => {
                            let epoch = self.check(key, mine, h.epoch)?;
                            self.put_once(key, Condition::Etag(h.etag), epoch, bytes.clone())
                                .await
                        }
                    };
                    match r {
                        Err(StoreError::Conflict { .. }) if tries < 5 => continue,
                        r => return r,
                    }
                }
            }
        }
    }

    /// The epoch `key` (the state) was last written under (0: none, or unreadable): a new lease
    /// starts above it even if the lease object was deleted by hand.
    pub async fn epoch_of(&self, key: &str) -> u64 {
        match state::head(&self.client, &self.bucket, &self.full(key)).await {
            Ok(Some(h)) => h.epoch,
            _ => 0,
        }
    }

    /// Rewrites `key` (the state) unchanged under this instance's epoch: the old holder's next
    /// write of it fails, and its re-read shows the newer epoch.
    pub async fn fence(&self, key: &str) -> Result<(), StoreError> {
        let Some(cur) = self.get(key).await? else {
            return Ok(());
        };
        self.put_doc(key, Expect::Version(cur.version), cur.bytes)
            .await
            .map(|_| ())
    }
}

impl Store for S3Store {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Versioned>, StoreError>> {
        Box::pin(async move {
            let doc = state::get(&self.client, &self.bucket, &self.full(key))
                .await
                .map_err(|e| self.remote(key, e))?;
            Ok(doc.map(|d| Versioned {
                version: token(&d.etag, d.epoch),
                bytes: d.bytes,
            }))
        })
    }

    fn put<'a>(
        &'a self,
        key: &'a str,
        expect: Expect,
        bytes: Vec<u8>,
    ) -> BoxFuture<'a, Result<Version, StoreError>> {
        Box::pin(self.put_doc(key, expect, bytes))
    }

    fn list<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<Vec<String>, StoreError>> {
        Box::pin(async move {
            let keys = state::keys(&self.client, &self.bucket, &self.full(prefix))
                .await
                .map_err(|e| self.remote(prefix, e))?;
            let mut out: Vec<String> = keys
                .into_iter()
                .filter_map(|k| k.strip_prefix(&self.prefix).map(str::to_string))
                .filter(|k| {
                    let name = k.rsplit('/').next().unwrap_or(k);
                    !name.starts_with('.') && name.ends_with(".json")
                })
                .collect();
            out.sort();
            Ok(out)
        })
    }

    /// Held only by the lease holder, once per run within it.
    fn lock_run<'a>(&'a self, run: &'a str) -> BoxFuture<'a, Result<Option<RunLock>, StoreError>> {
        Box::pin(async move {
            if !self.lease.as_ref().is_some_and(|l| l.may_act()) {
                return Ok(None);
            }
            Ok(self.locks.try_lock(run))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_tokens_carry_the_epoch() {
        assert_eq!(parse(&token("abc", 7)), ("abc".to_string(), 7));
        assert_eq!(parse(&Version("abc".into())), ("abc".to_string(), 0));
    }
}
