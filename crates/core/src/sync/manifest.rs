//! The manifest: what a set's standby copy holds, published last so it only ever names a complete
//! set. With bucket versioning (the Terraform module enables it) each entry pins the version the
//! copy wrote, so a half-finished later sync that overwrote a key in place cannot change what a
//! reader of the manifest gets. And RPO, computed from the manifest and the primary's listing.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::Object;
use crate::duration::{between, human};
use crate::sync::{ArtifactSet, SyncMode};

pub const SCHEMA_VERSION: u32 = 1;

/// Where a set's manifest lives in the standby bucket: outside every set's prefix.
pub fn key(set: &str) -> String {
    format!(".standby/manifests/{set}.json")
}

/// Where a no-op sync records that it found the manifest still current.
pub fn confirmation_key(set: &str) -> String {
    format!(".standby/manifests/{set}.confirmed.json")
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Confirmation {
    pub manifest_sync_id: String,
    pub sync_id: String,
    /// When the confirming sync began listing the source.
    pub confirmed_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    pub schema_version: u32,
    pub set: String,
    pub prefix: String,
    pub mode: SyncMode,
    pub source_bucket: String,
    pub bucket: String,
    pub sync_id: String,
    /// When the sync that published this began listing the source: everything on the source
    /// before this instant is in the manifest.
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub objects: Vec<Entry>,
    pub total_bytes: u64,
    /// Filled in on read from the confirmation marker, never written in the manifest: the start
    /// of the latest sync that found this manifest still current.
    #[serde(default, skip_serializing)]
    pub confirmed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Entry {
    pub key: String,
    pub size: u64,
    /// The standby copy's ETag.
    pub etag: String,
    /// The primary object's ETag the copy was made from.
    pub source_etag: String,
    pub source_last_modified: DateTime<Utc>,
    /// The standby object version this entry pins, when the bucket is versioned.
    pub version_id: Option<String>,
    pub source_version_id: Option<String>,
}

impl Manifest {
    /// The destination as this manifest records it, for runs that trust it instead of listing.
    pub fn as_listing(&self) -> Vec<Object> {
        self.objects
            .iter()
            .map(|e| Object {
                key: e.key.clone(),
                size: e.size,
                etag: e.etag.clone(),
                last_modified: self.finished_at,
            })
            .collect()
    }

    /// Entries are kept sorted by key.
    pub fn entry(&self, key: &str) -> Option<&Entry> {
        self.objects
            .binary_search_by(|e| e.key.as_str().cmp(key))
            .ok()
            .map(|i| &self.objects[i])
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RpoKind {
    /// From the primary's version history compared with the manifest: the figure itself.
    Measured,
    /// The primary could not be read: the figure is a true upper bound.
    #[serde(alias = "upper_bound")]
    AtMost,
    /// Only current versions could be read and a key has unsynced changes: an overwritten key's
    /// earlier unsynced writes may be older, so the figure is a true lower bound.
    AtLeast,
    /// Nothing was ever published for the set.
    Unknown,
}

impl RpoKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RpoKind::Measured => "measured",
            RpoKind::AtMost => "at most",
            RpoKind::AtLeast => "at least",
            RpoKind::Unknown => "unknown",
        }
    }

    /// The sign people read in front of the figure.
    pub fn sign(self) -> &'static str {
        match self {
            RpoKind::AtMost => "≤ ",
            RpoKind::AtLeast => "≥ ",
            RpoKind::Measured | RpoKind::Unknown => "",
        }
    }
}

/// A primary write the standby's manifest does not hold.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Write {
    pub key: String,
    pub version_id: Option<String>,
    pub size: u64,
    pub written_at: DateTime<Utc>,
    /// A deletion (delete marker) the standby has not mirrored.
    pub deleted: bool,
}

/// How many unsynced writes a figure lists by name (all are counted).
pub const LISTED_WRITES: usize = 20;

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Rpo {
    pub set: String,
    pub kind: RpoKind,
    #[serde(with = "crate::serde_duration_opt", rename = "rpo_ms")]
    pub value: Option<Duration>,
    #[serde(with = "crate::serde_duration", rename = "objective_ms")]
    pub objective: Duration,
    pub over_objective: bool,
    pub reason: String,
    /// The instant the figure is for.
    pub at: DateTime<Utc>,
    /// The unsynced writes behind the figure, oldest first (the first [`LISTED_WRITES`]).
    #[serde(default)]
    pub unsynced: Vec<Write>,
    /// How many unsynced writes there are in all.
    #[serde(default)]
    pub unsynced_count: usize,
}

impl Rpo {
    /// The figure as people read it: "≤ 4.0s", "1.2s", "unknown".
    /// One line for people: `RPO <figure> (<kind>, objective <objective>)[ — OVER OBJECTIVE]:
    /// <reason>`, as `status` and the daemon's log print it.
    pub fn line(&self) -> String {
        let flag = if self.over_objective {
            " — OVER OBJECTIVE"
        } else {
            ""
        };
        format!(
            "RPO {} ({}, objective {}){flag}: {}",
            self.figure(),
            self.kind.as_str(),
            human(self.objective),
            self.reason
        )
    }

    pub fn figure(&self) -> String {
        match self.value {
            Some(v) => format!("{}{}", self.kind.sign(), human(v)),
            None => "unknown".into(),
        }
    }
}

/// RPO now from an earlier figure, when it cannot be read again: a true upper bound. The oldest
/// write unsynced now was either unsynced then (its age grew by the time since) or written since
/// (younger than that). A lower bound or an unknown carries nothing forward.
pub fn bound_since(r: &Rpo, now: DateTime<Utc>) -> Option<Rpo> {
    if !matches!(r.kind, RpoKind::Measured | RpoKind::AtMost) {
        return None;
    }
    let since = between(r.at, now);
    let v = r.value? + since;
    Some(Rpo {
        kind: RpoKind::AtMost,
        value: Some(v),
        over_objective: v > r.objective,
        reason: format!(
            "at most {}: {} {} at {} plus the {} since",
            human(v),
            r.kind.as_str(),
            human(r.value?),
            r.at.to_rfc3339(),
            human(since)
        ),
        at: now,
        unsynced: vec![],
        unsynced_count: r.unsynced_count,
        ..r.clone()
    })
}

/// The set's RPO at `at`: the age then of the oldest primary write (version) up to `at` that the
/// manifest does not hold. `history` is the primary's versions and delete markers (sorted by
/// key, oldest first; a current-only listing as null versions), `None` when the primary could
/// not be read. Overwritten keys count from their first unsynced version; a deletion counts only
/// when the set mirrors deletions. Without history: `at` − the last instant the manifest is
/// known current as of, a true upper bound (every write before a sync's listing began is in what
/// it published).
///
/// Caveats: a manifest published after `at` may hold writes the standby did not have at `at`;
/// the figure is then labelled at least. S3 lists times to the second, truncated, so a figure can
/// read up to 1 s high.
pub fn rpo_at(
    set: &ArtifactSet,
    history: Option<&[super::Version]>,
    last: Option<&Manifest>,
    at: DateTime<Utc>,
) -> Rpo {
    let mk = |kind, value: Option<Duration>, reason: String, unsynced: Vec<Write>| Rpo {
        set: set.name.clone(),
        kind,
        value,
        objective: set.rpo,
        over_objective: value.is_none_or(|v| v > set.rpo),
        reason,
        at,
        unsynced_count: unsynced.len(),
        unsynced: unsynced.into_iter().take(LISTED_WRITES).collect(),
    };
    let Some(history) = history else {
        return match last {
            None => mk(
                RpoKind::Unknown,
                None,
                "primary unreadable and nothing published yet".into(),
                vec![],
            ),
            Some(m) => {
                let current_as_of = m.confirmed_at.map_or(m.started_at, |c| c.max(m.started_at));
                let v = between(current_as_of.min(at), at);
                mk(
                    RpoKind::AtMost,
                    Some(v),
                    format!(
                        "primary unreadable: at most {} behind (everything written before {} is in the published copy)",
                        human(v),
                        current_as_of.to_rfc3339()
                    ),
                    vec![],
                )
            }
        };
    };
    let mut unsynced: Vec<Write> = Vec::new();
    let mut partial_history = false;
    let mut keys = 0usize;
    for chain in history
        .chunk_by(|a, b| a.key == b.key)
        .map(|c| {
            c.iter()
                .filter(|v| v.last_modified <= at)
                .collect::<Vec<_>>()
        })
        .filter(|c| !c.is_empty())
    {
        let key = &chain[0].key;
        let held = last.and_then(|m| m.entry(key));
        if !chain.last().is_some_and(|v| v.delete_marker) {
            keys += 1;
        }
        // The last point of the history the manifest agrees with; everything after it is unsynced.
        let agreed = match held {
            Some(e) => chain.iter().rposition(|v| {
                !v.delete_marker
                    && match (&e.source_version_id, &v.version_id) {
                        (Some(want), Some(got)) => want == got,
                        _ => v.etag == e.source_etag && v.size == e.size,
                    }
            }),
            None => chain.iter().rposition(|v| v.delete_marker),
        };
        let after: Vec<&&super::Version> = match (agreed, held) {
            (Some(p), _) => chain[p + 1..].iter().collect(),
            // The held version is gone from the history (expired): what came after it by time.
            (None, Some(e)) => chain
                .iter()
                .filter(|v| v.last_modified > e.source_last_modified)
                .collect(),
            (None, None) => chain.iter().collect(),
        };
        let mut first = true;
        for v in after {
            if v.delete_marker && !set.delete {
                continue;
            }
            // A null version was overwritten in place: older unsynced writes may be gone from it.
            if first && v.version_id.is_none() {
                partial_history = true;
            }
            first = false;
            unsynced.push(Write {
                key: v.key.clone(),
                version_id: v.version_id.clone(),
                size: v.size,
                written_at: v.last_modified,
                deleted: v.delete_marker,
            });
        }
    }
    // Keys the manifest holds that have no history up to `at` were deleted for good (or the
    // manifest is newer than `at`): nothing of theirs is at risk.
    unsynced.sort_by(|a, b| a.written_at.cmp(&b.written_at).then(a.key.cmp(&b.key)));
    let late_manifest = last.is_some_and(|m| m.finished_at > at);
    let Some(oldest) = unsynced.first().cloned() else {
        let (kind, why) = if late_manifest {
            (
                RpoKind::AtLeast,
                " (judged against a copy published after that instant)",
            )
        } else {
            (RpoKind::Measured, "")
        };
        return mk(
            kind,
            Some(Duration::ZERO),
            format!("standby holds all {keys} primary objects{why}"),
            vec![],
        );
    };
    let n = unsynced.len();
    let (kind, caveat) = match (partial_history, late_manifest) {
        (true, _) => (
            RpoKind::AtLeast,
            "; only current versions could be read, so an overwritten key's earlier unsynced writes may be older (counted from the end of the stamped second)",
        ),
        (false, true) => (
            RpoKind::AtLeast,
            "; judged against a copy published after that instant",
        ),
        (false, false) => (RpoKind::Measured, ""),
    };
    // S3 stamps a write with the second it began in: its age is up to 1 s less than the stamp
    // says. A measured figure keeps the stamp (up to 1 s high, never low); a lower bound must
    // not exceed the truth, so it counts from the end of that second.
    let v = match kind {
        RpoKind::AtLeast => between(oldest.written_at + chrono::TimeDelta::seconds(1), at),
        _ => between(oldest.written_at, at),
    };
    mk(
        kind,
        Some(v),
        format!(
            "{n} write(s) not on the standby; oldest {}{} at {}, {} before {}{caveat}",
            if oldest.deleted { "deletion of " } else { "" },
            oldest.key,
            oldest.written_at.to_rfc3339(),
            human(v),
            at.to_rfc3339()
        ),
        unsynced,
    )
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    /// A manifest from (key, size, etag, source_etag), published by a sync that started at 0.
    pub fn manifest_of(entries: &[(&str, u64, &str, &str)]) -> Manifest {
        let mut objects: Vec<Entry> = entries
            .iter()
            .map(|(k, s, e, se)| Entry {
                key: (*k).into(),
                size: *s,
                etag: (*e).into(),
                source_etag: (*se).into(),
                source_last_modified: at(-100),
                version_id: None,
                source_version_id: None,
            })
            .collect();
        objects.sort_by(|a, b| a.key.cmp(&b.key));
        Manifest {
            schema_version: SCHEMA_VERSION,
            set: "prompts".into(),
            prefix: "p/".into(),
            mode: SyncMode::Copy,
            source_bucket: "a".into(),
            bucket: "b".into(),
            sync_id: "s1".into(),
            started_at: at(0),
            finished_at: at(10),
            total_bytes: objects.iter().map(|e| e.size).sum(),
            objects,
            confirmed_at: None,
        }
    }

    fn set(delete: bool) -> ArtifactSet {
        ArtifactSet {
            name: "prompts".into(),
            prefix: "p/".into(),
            schedule: crate::sync::schedule::Schedule::parse("*/5 * * * *").unwrap(),
            rpo: Duration::from_secs(600),
            mode: SyncMode::Copy,
            delete,
            primary_bucket: "a".into(),
            standby_bucket: "b".into(),
        }
    }

    /// A version `id` of `key` with content `etag`, written at `t`.
    fn ver(key: &str, id: &str, etag: &str, t: i64) -> crate::sync::Version {
        crate::sync::Version {
            key: key.into(),
            version_id: Some(id.into()),
            size: 1,
            etag: etag.into(),
            last_modified: at(t),
            delete_marker: false,
        }
    }

    fn gone(key: &str, id: &str, t: i64) -> crate::sync::Version {
        crate::sync::Version {
            delete_marker: true,
            etag: String::new(),
            size: 0,
            ..ver(key, id, "", t)
        }
    }

    fn sorted(mut v: Vec<crate::sync::Version>) -> Vec<crate::sync::Version> {
        v.sort_by(|a, b| {
            a.key
                .cmp(&b.key)
                .then(a.last_modified.cmp(&b.last_modified))
        });
        v
    }

    #[test]
    fn rpo_is_zero_when_the_standby_holds_everything() {
        let m = manifest_of(&[("p/a", 1, "x", "e1")]);
        let h = [ver("p/a", "v1", "e1", -150)];
        let r = rpo_at(&set(false), Some(&h), Some(&m), at(100));
        assert_eq!(
            (r.kind, r.value, r.over_objective),
            (RpoKind::Measured, Some(Duration::ZERO), false)
        );
        assert_eq!(r.reason, "standby holds all 1 primary objects");
    }

    #[test]
    fn an_overwritten_key_counts_from_its_first_unsynced_version() {
        let m = manifest_of(&[("p/a", 1, "x", "e1")]);
        // Synced e1, then three overwrites after the sync: the oldest unsynced one is at 20.
        let h = sorted(vec![
            ver("p/a", "v1", "e1", -150),
            ver("p/a", "v2", "e2", 20),
            ver("p/a", "v3", "e3", 60),
            ver("p/a", "v4", "e4", 90),
        ]);
        let r = rpo_at(&set(false), Some(&h), Some(&m), at(100));
        assert_eq!(
            (r.kind, r.value),
            (RpoKind::Measured, Some(Duration::from_secs(80)))
        );
        assert_eq!(r.unsynced_count, 3);
        assert_eq!(r.unsynced[0].version_id.as_deref(), Some("v2"));
        assert!(
            r.reason
                .starts_with("3 write(s) not on the standby; oldest p/a at"),
            "{}",
            r.reason
        );
    }

    #[test]
    fn rpo_at_an_earlier_instant_ignores_later_writes() {
        let m = manifest_of(&[("p/a", 1, "x", "e1")]);
        let h = sorted(vec![
            ver("p/a", "v1", "e1", -150),
            ver("p/b", "w1", "f1", 30),
            ver("p/a", "v2", "e2", 70),
        ]);
        let r = rpo_at(&set(false), Some(&h), Some(&m), at(50));
        assert_eq!(
            (r.value, r.unsynced_count),
            (Some(Duration::from_secs(20)), 1)
        );
        assert_eq!(r.at, at(50));
    }

    #[test]
    fn a_key_written_back_to_the_synced_content_is_held_only_by_version() {
        let mut m = manifest_of(&[("p/a", 1, "x", "e1")]);
        m.objects[0].source_version_id = Some("v1".into());
        let h = sorted(vec![
            ver("p/a", "v1", "e1", -150),
            ver("p/a", "v2", "e2", 20),
            ver("p/a", "v3", "e1", 40),
        ]);
        // v3 has the synced bytes but is a later write: the standby's copy is v1, which the
        // primary's v3 equals in content, yet v2 and v3 came after it.
        let r = rpo_at(&set(false), Some(&h), Some(&m), at(100));
        assert_eq!(r.value, Some(Duration::from_secs(80)));
    }

    #[test]
    fn only_current_versions_give_a_labelled_lower_bound() {
        let m = manifest_of(&[("p/a", 1, "x", "e1")]);
        let current = [Object {
            key: "p/a".into(),
            size: 1,
            etag: "e3".into(),
            last_modified: at(90),
        }];
        let h: Vec<_> = current
            .iter()
            .map(crate::sync::Version::from_current)
            .collect();
        let r = rpo_at(&set(false), Some(&h), Some(&m), at(100));
        // Counted from the end of the write's second: a lower bound must not read high.
        assert_eq!(
            (r.kind, r.value),
            (RpoKind::AtLeast, Some(Duration::from_secs(9)))
        );
        assert!(r.reason.contains("only current versions"), "{}", r.reason);
        assert_eq!(r.figure(), "≥ 9.0s");
    }

    #[test]
    fn mirrored_deletions_count_from_their_delete_marker() {
        let m = manifest_of(&[("p/a", 1, "x", "e1"), ("p/gone", 1, "y", "e2")]);
        let h = sorted(vec![
            ver("p/a", "v1", "e1", -150),
            ver("p/gone", "g1", "e2", -150),
            gone("p/gone", "g2", 40),
        ]);
        assert_eq!(
            rpo_at(&set(true), Some(&h), Some(&m), at(300)).value,
            Some(Duration::from_secs(260))
        );
        assert_eq!(
            rpo_at(&set(false), Some(&h), Some(&m), at(300)).value,
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn a_deleted_and_recreated_key_counts_from_its_recreation() {
        let m = manifest_of(&[]);
        let h = sorted(vec![
            ver("p/old", "o1", "e1", -5_000),
            gone("p/old", "o2", -4_000),
            ver("p/old", "o3", "e9", 50),
        ]);
        let r = rpo_at(&set(false), Some(&h), Some(&m), at(100));
        assert_eq!(r.value, Some(Duration::from_secs(50)));
    }

    #[test]
    fn unreadable_primary_gives_a_true_upper_bound() {
        let m = manifest_of(&[("p/a", 1, "x", "e1")]);
        let r = rpo_at(&set(false), None, Some(&m), at(900));
        assert_eq!(
            (r.kind, r.value),
            (RpoKind::AtMost, Some(Duration::from_secs(900)))
        );
        assert!(
            r.reason
                .starts_with("primary unreadable: at most 15m behind"),
            "{}",
            r.reason
        );
        let r = rpo_at(&set(false), None, None, at(900));
        assert_eq!(
            (r.kind, r.value, r.over_objective),
            (RpoKind::Unknown, None, true)
        );
    }

    #[test]
    fn a_bound_since_an_old_figure_grows_with_the_time_since() {
        let m = manifest_of(&[("p/a", 1, "x", "e1")]);
        let h = sorted(vec![
            ver("p/a", "v1", "e1", -150),
            ver("p/a", "v2", "e2", 90),
        ]);
        let r = rpo_at(&set(false), Some(&h), Some(&m), at(100));
        let b = bound_since(&r, at(130)).unwrap();
        assert_eq!(
            (b.kind, b.value),
            (RpoKind::AtMost, Some(Duration::from_secs(40)))
        );
        let only_current = Rpo {
            kind: RpoKind::AtLeast,
            ..r
        };
        assert!(bound_since(&only_current, at(130)).is_none());
    }

    #[test]
    fn old_state_files_read_upper_bound_as_at_most() {
        let k: RpoKind = serde_json::from_str("\"upper_bound\"").unwrap();
        assert_eq!(k, RpoKind::AtMost);
    }
}
