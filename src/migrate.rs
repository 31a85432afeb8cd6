//! `standby migrate-state`: moves a single instance's state from its disk (`service.state_dir`)
//! into the shared store the config names (`[state] backend = "s3"`), so a second instance can
//! join without losing the journals, the cooldown, the sync state or the standby's probe log.
//!
//! Guarantees: nothing is written unless the local daemon is stopped (its control socket does
//! not answer) and the shared prefix holds no state yet; every document is created with
//! `If-None-Match: *`, the state last, so an instance that starts meanwhile sees either no state
//! or all of it. Running it again after a partial copy finishes the copy (documents already
//! there with the same bytes are skipped). The local files are left as they were.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use standby_core::config::{Config, StateStore};

use crate::journal::STATE_KEY;
use crate::store::{Expect, FileStore, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(
        "[state] backend is \"file\": set backend = \"s3\" (and its bucket) in the config, then migrate"
    )]
    NotShared,
    #[error(
        "`standby serve` still answers on {0}: stop it first (it would go on writing the local state)"
    )]
    DaemonRunning(PathBuf),
    #[error(
        "the shared store already holds a state ({0}): another instance uses this prefix; pick an empty [state] prefix, or let this host join without migrating"
    )]
    AlreadyShared(String),
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a migration did (or, dry, would do).
#[derive(Debug, Default)]
pub struct Moved {
    pub copied: Vec<String>,
    /// Already in the shared store with the same bytes.
    pub present: Vec<String>,
    /// In the shared store with other bytes: left alone, named here.
    pub conflicts: Vec<String>,
}

/// The store keys of a local state: every `.json` document under `state_dir`, the reports
/// directory, hidden files and temporary files aside, the state itself last.
pub fn local_keys(state_dir: &Path, reports_dir: &Path) -> Result<Vec<String>, MigrateError> {
    let mut out = Vec::new();
    let mut dirs = vec![state_dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => return Err(MigrateError::Read { path: dir, source }),
        };
        for e in entries.flatten() {
            let path = e.path();
            let name = e.file_name().to_string_lossy().to_string();
            if name.starts_with('.') || path == reports_dir {
                continue;
            }
            if path.is_dir() {
                dirs.push(path);
            } else if name.ends_with(".json")
                && let Ok(rel) = path.strip_prefix(state_dir)
            {
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    out.sort();
    // The state last: an instance that starts during the copy sees all of it or none of it.
    out.sort_by_key(|k| k == STATE_KEY);
    Ok(out)
}

pub async fn migrate(cfg: &Config, dry_run: bool) -> Result<Moved, MigrateError> {
    if !matches!(cfg.state, StateStore::S3 { .. }) {
        return Err(MigrateError::NotShared);
    }
    if tokio::net::UnixStream::connect(&cfg.control.socket)
        .await
        .is_ok()
    {
        return Err(MigrateError::DaemonRunning(cfg.control.socket.clone()));
    }
    let shared = crate::context::command_store(cfg).await;
    if let Some(v) = shared.get(STATE_KEY).await? {
        let local = FileStore::new(&cfg.service.state_dir);
        let same = local
            .get(STATE_KEY)
            .await?
            .is_some_and(|l| l.bytes == v.bytes);
        // A state equal to ours is our own earlier, interrupted migration: finish it.
        if !same {
            return Err(MigrateError::AlreadyShared(STATE_KEY.into()));
        }
    }
    copy(
        &FileStore::new(&cfg.service.state_dir),
        &shared,
        local_keys(&cfg.service.state_dir, &cfg.service.reports_dir)?,
        dry_run,
    )
    .await
}

/// Copies `keys` from `from` to `to`, creating each one.
pub async fn copy(
    from: &dyn Store,
    to: &Arc<dyn Store>,
    keys: Vec<String>,
    dry_run: bool,
) -> Result<Moved, MigrateError> {
    let mut moved = Moved::default();
    for key in keys {
        let Some(doc) = from.get(&key).await? else {
            continue;
        };
        match to.get(&key).await? {
            Some(there) if there.bytes == doc.bytes => {
                moved.present.push(key);
                continue;
            }
            Some(_) => {
                moved.conflicts.push(key);
                continue;
            }
            None => {}
        }
        if !dry_run {
            match to.put(&key, Expect::Absent, doc.bytes).await {
                Ok(_) => {}
                Err(StoreError::Conflict { .. }) => {
                    moved.conflicts.push(key);
                    continue;
                }
                Err(e) => return Err(e.into()),
            }
        }
        moved.copied.push(key);
    }
    Ok(moved)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_local_state_is_copied_state_last_and_a_second_run_finishes_nothing_twice() {
        let dir = crate::context::test_dir("migrate");
        let state = dir.join("state");
        for (k, v) in [
            ("state.json", "{\"s\":1}"),
            ("verdict.json", "{}"),
            ("runs/20261126T000000Z-failover-0001.json", "{\"r\":1}"),
            ("sync/prompts.json", "{}"),
            ("probes/standby.json", "{}"),
            ("runs/.x.json.tmp-1", "junk"),
            ("reports/r/report.json", "{}"),
        ] {
            let p = state.join(k);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, v).unwrap();
        }
        let keys = local_keys(&state, &state.join("reports")).unwrap();
        assert_eq!(
            keys,
            [
                "probes/standby.json",
                "runs/20261126T000000Z-failover-0001.json",
                "sync/prompts.json",
                "verdict.json",
                "state.json"
            ]
        );
        let from = FileStore::new(&state);
        let to: Arc<dyn Store> = Arc::new(crate::store::MemoryStore::default());
        // Someone else's verdict is already there: named, not overwritten.
        to.put("verdict.json", Expect::Absent, b"{\"other\":1}".to_vec())
            .await
            .unwrap();
        let dry = copy(&from, &to, keys.clone(), true).await.unwrap();
        assert_eq!(dry.copied.len(), 4);
        assert!(
            to.get("state.json").await.unwrap().is_none(),
            "a dry run writes nothing"
        );
        let m = copy(&from, &to, keys.clone(), false).await.unwrap();
        assert_eq!(m.copied.len(), 4);
        assert_eq!(m.conflicts, ["verdict.json"]);
        let again = copy(&from, &to, keys, false).await.unwrap();
        assert!(again.copied.is_empty());
        assert_eq!(again.present.len(), 4);
        let _ = std::fs::remove_dir_all(dir);
    }
}
