//! The state and journal store: small documents under keys, written with compare-and-swap, plus
//! a per-run lock that tells a live owner from a crashed one.
//!
//! Guarantees: a `put` with [`Expect::Version`] succeeds only if nobody wrote the key since that
//! version was read; a successful `put` is durable (fsync of the file and its directory) before it
//! returns; a [`RunLock`] is released by the OS when its holder dies, even by SIGKILL.
//!
//! Caveats: [`FileStore`] coordinates processes on one host only. Several instances on several
//! hosts share [`s3::S3Store`], where the run lock is the lease and every write is fenced.

pub mod s3;

use std::fs::{self, File, OpenOptions};
use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::pin::Pin;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// An opaque version token: a content digest here, an ETag in an S3 store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version(pub String);

#[derive(Debug, Clone)]
pub struct Versioned {
    pub version: Version,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// Create only: fails if the key exists.
    Absent,
    /// Replace only the version that was read.
    Version(Version),
    /// Last writer wins: for observations nobody else writes (the daemon's last verdict).
    Any,
}

impl Expect {
    /// Whether a write expecting `self` may replace what is stored now (`None`: nothing).
    pub fn admits(&self, current: Option<&Version>) -> bool {
        match (self, current) {
            (Expect::Any, _) | (Expect::Absent, None) => true,
            (Expect::Version(v), Some(cur)) => v == cur,
            (Expect::Absent, Some(_)) | (Expect::Version(_), None) => false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{key} changed since it was read (another process wrote it); re-read and retry")]
    Conflict { key: String },
    #[error("{key}: {source}")]
    Io { key: String, source: std::io::Error },
    /// The shared store did not answer or refused (throttled, denied, unreachable).
    #[error("{key}: {source}")]
    Remote {
        key: String,
        source: standby_aws::AwsError,
    },
    /// Not written: this instance may not act (its lease lapsed, or a newer epoch wrote it).
    #[error("{key} not written: {why}")]
    Fenced { key: String, why: String },
}

impl StoreError {
    /// The store's own medium failed (disk full, read-only, a path that is not what it should
    /// be): a fault of this host, not a conflict with another writer.
    pub fn is_local(&self) -> bool {
        matches!(self, StoreError::Io { .. })
    }
}

/// Held while a process executes a run; dropping it (or dying) releases it.
pub struct RunLock {
    _guard: Box<dyn Send + Sync>,
}

pub trait Store: Send + Sync {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Versioned>, StoreError>>;
    fn put<'a>(
        &'a self,
        key: &'a str,
        expect: Expect,
        bytes: Vec<u8>,
    ) -> BoxFuture<'a, Result<Version, StoreError>>;
    /// Keys under a prefix, sorted.
    fn list<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<Vec<String>, StoreError>>;
    /// `None` when another live process holds the run.
    fn lock_run<'a>(&'a self, run: &'a str) -> BoxFuture<'a, Result<Option<RunLock>, StoreError>>;
}

/// Local files under `state_dir`: the embedded default for a single instance.
#[derive(Debug, Clone)]
pub struct FileStore {
    root: PathBuf,
}

impl FileStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        FileStore { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn io(key: &str) -> impl Fn(std::io::Error) -> StoreError + '_ {
        move |source| StoreError::Io {
            key: key.to_string(),
            source,
        }
    }

    fn get_sync(&self, key: &str) -> Result<Option<Versioned>, StoreError> {
        match fs::read(self.root.join(key)) {
            Ok(bytes) => Ok(Some(Versioned {
                version: version_of(&bytes),
                bytes,
            })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Self::io(key)(e)),
        }
    }

    fn put_sync(&self, key: &str, expect: &Expect, bytes: &[u8]) -> Result<Version, StoreError> {
        let io = Self::io(key);
        let path = self.root.join(key);
        let dir = path.parent().unwrap_or(&self.root).to_path_buf();
        fs::create_dir_all(&dir).map_err(&io)?;
        // One lock for all compare-and-swaps in this store, so the read-compare-write is atomic
        // against other processes (a CLI `failover` next to a running `serve`).
        // Its errors name the lock file, not the key: an operator must find the file at fault.
        let lock_key = format!(".store.lock (taken to write {key})");
        let lock_io = Self::io(&lock_key);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.root.join(".store.lock"))
            .map_err(&lock_io)?;
        lock.lock().map_err(&lock_io)?;
        let current = self.get_sync(key)?;
        if !expect.admits(current.as_ref().map(|c| &c.version)) {
            return Err(StoreError::Conflict {
                key: key.to_string(),
            });
        }
        let tmp = dir.join(format!(
            ".{}.tmp-{}",
            path.file_name().and_then(|n| n.to_str()).unwrap_or("doc"),
            std::process::id()
        ));
        {
            let mut f = File::create(&tmp).map_err(&io)?;
            f.write_all(bytes).map_err(&io)?;
            f.sync_all().map_err(&io)?;
        }
        fs::rename(&tmp, &path).map_err(&io)?;
        File::open(&dir).and_then(|d| d.sync_all()).map_err(&io)?;
        Ok(version_of(bytes))
    }

    fn list_sync(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let (dir_part, name_prefix) = match prefix.rfind('/') {
            Some(i) => (&prefix[..=i], &prefix[i + 1..]),
            None => ("", prefix),
        };
        let dir = self.root.join(dir_part);
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
            Err(e) => return Err(Self::io(prefix)(e)),
        };
        let mut out: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().to_str().map(str::to_string))
            .filter(|n| n.starts_with(name_prefix) && !n.starts_with('.') && n.ends_with(".json"))
            .map(|n| format!("{dir_part}{n}"))
            .collect();
        out.sort();
        Ok(out)
    }

    fn lock_run_sync(&self, run: &str) -> Result<Option<RunLock>, StoreError> {
        let key = format!("runs/{run}.lock");
        let io = Self::io(&key);
        let path = self.root.join(&key);
        fs::create_dir_all(path.parent().unwrap_or(&self.root)).map_err(&io)?;
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(&io)?;
        match f.try_lock() {
            Ok(()) => Ok(Some(RunLock {
                _guard: Box::new(f),
            })),
            Err(fs::TryLockError::WouldBlock) => Ok(None),
            Err(fs::TryLockError::Error(e)) => Err(io(e)),
        }
    }
}

fn version_of(bytes: &[u8]) -> Version {
    Version(standby_core::digest::sha256(bytes))
}

impl Store for FileStore {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Versioned>, StoreError>> {
        Box::pin(async move { self.get_sync(key) })
    }

    fn put<'a>(
        &'a self,
        key: &'a str,
        expect: Expect,
        bytes: Vec<u8>,
    ) -> BoxFuture<'a, Result<Version, StoreError>> {
        let this = self.clone();
        let key_owned = key.to_string();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || this.put_sync(&key_owned, &expect, &bytes))
                .await
                .unwrap_or_else(|e| {
                    Err(StoreError::Io {
                        key: key.to_string(),
                        source: std::io::Error::other(e),
                    })
                })
        })
    }

    fn list<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<Vec<String>, StoreError>> {
        Box::pin(async move { self.list_sync(prefix) })
    }

    fn lock_run<'a>(&'a self, run: &'a str) -> BoxFuture<'a, Result<Option<RunLock>, StoreError>> {
        Box::pin(async move { self.lock_run_sync(run) })
    }
}

/// Documents in this process's memory, with the file store's compare-and-swap rules and run
/// locks held until dropped: for the shell's unit tests (the executor loop, the daemon's
/// bookkeeping) and anything that must not touch the disk.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    docs: std::sync::Arc<std::sync::Mutex<std::collections::BTreeMap<String, Vec<u8>>>>,
    locks: ProcessLocks,
}

/// Run locks within this process, each held until its [`RunLock`] is dropped: the memory
/// store's only locks, and the S3 store's within its lease.
#[derive(Debug, Clone, Default)]
pub struct ProcessLocks(std::sync::Arc<std::sync::Mutex<std::collections::BTreeSet<String>>>);

struct ProcessLock {
    run: String,
    locks: ProcessLocks,
}

impl Drop for ProcessLock {
    fn drop(&mut self) {
        self.locks.held().remove(&self.run);
    }
}

impl ProcessLocks {
    fn held(&self) -> std::sync::MutexGuard<'_, std::collections::BTreeSet<String>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `None` when this process holds `run` already.
    pub fn try_lock(&self, run: &str) -> Option<RunLock> {
        self.held().insert(run.to_string()).then(|| RunLock {
            _guard: Box::new(ProcessLock {
                run: run.to_string(),
                locks: self.clone(),
            }),
        })
    }
}

impl Store for MemoryStore {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Versioned>, StoreError>> {
        let got = self
            .docs
            .lock()
            .expect("store lock")
            .get(key)
            .map(|b| Versioned {
                version: version_of(b),
                bytes: b.clone(),
            });
        Box::pin(async move { Ok(got) })
    }

    fn put<'a>(
        &'a self,
        key: &'a str,
        expect: Expect,
        bytes: Vec<u8>,
    ) -> BoxFuture<'a, Result<Version, StoreError>> {
        let mut docs = self.docs.lock().expect("store lock");
        let current = docs.get(key).map(|b| version_of(b));
        let result = if expect.admits(current.as_ref()) {
            let v = version_of(&bytes);
            docs.insert(key.to_string(), bytes);
            Ok(v)
        } else {
            Err(StoreError::Conflict {
                key: key.to_string(),
            })
        };
        Box::pin(async move { result })
    }

    fn list<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<Vec<String>, StoreError>> {
        let keys = self
            .docs
            .lock()
            .expect("store lock")
            .keys()
            .filter(|k| k.starts_with(prefix))
            .cloned()
            .collect();
        Box::pin(async move { Ok(keys) })
    }

    fn lock_run<'a>(&'a self, run: &'a str) -> BoxFuture<'a, Result<Option<RunLock>, StoreError>> {
        let lock = self.locks.try_lock(run);
        Box::pin(async move { Ok(lock) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_store() -> (FileStore, PathBuf) {
        let dir = std::env::temp_dir().join(format!(
            "standby-store-{}-{}",
            std::process::id(),
            rand_suffix()
        ));
        (FileStore::new(&dir), dir)
    }

    fn rand_suffix() -> u128 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    }

    #[tokio::test]
    async fn compare_and_swap_refuses_stale_writers() {
        let (s, dir) = temp_store();
        let v1 = s
            .put("state.json", Expect::Absent, b"{\"a\":1}".to_vec())
            .await
            .unwrap();
        assert!(matches!(
            s.put("state.json", Expect::Absent, b"x".to_vec()).await,
            Err(StoreError::Conflict { .. })
        ));
        let v2 = s
            .put(
                "state.json",
                Expect::Version(v1.clone()),
                b"{\"a\":2}".to_vec(),
            )
            .await
            .unwrap();
        assert!(matches!(
            s.put("state.json", Expect::Version(v1), b"{\"a\":3}".to_vec())
                .await,
            Err(StoreError::Conflict { .. })
        ));
        let got = s.get("state.json").await.unwrap().unwrap();
        assert_eq!(got.version, v2);
        assert_eq!(got.bytes, b"{\"a\":2}");
        fs::remove_dir_all(dir).ok();
    }

    #[tokio::test]
    async fn lists_and_locks_runs() {
        let (s, dir) = temp_store();
        s.put("runs/b.json", Expect::Absent, b"{}".to_vec())
            .await
            .unwrap();
        s.put("runs/a.json", Expect::Absent, b"{}".to_vec())
            .await
            .unwrap();
        assert_eq!(
            s.list("runs/").await.unwrap(),
            vec!["runs/a.json", "runs/b.json"]
        );
        let held = s.lock_run("a").await.unwrap();
        assert!(held.is_some());
        // flock locks are per open file description, so a second open in this process conflicts too.
        assert!(s.lock_run("a").await.unwrap().is_none());
        drop(held);
        assert!(s.lock_run("a").await.unwrap().is_some());
        fs::remove_dir_all(dir).ok();
    }
}
