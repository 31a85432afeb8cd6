//! The manifest: what a set's standby copy holds, published last so it only ever names a complete
//! set. With bucket versioning (the Terraform module enables it) each entry pins the version the
//! copy wrote, so a half-finished later sync that overwrote a key in place cannot change what a
//! reader of the manifest gets. And RPO, computed from the manifest and the primary's listing.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::Object;
use crate::config::{ArtifactSet, SyncMode};
use crate::duration::{between, human};

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
    /// From the primary's listing compared with the manifest.
    Measured,
    /// The primary could not be read: at most this far behind.
    UpperBound,
    /// Nothing was ever published for the set.
    Unknown,
}

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
    pub at: DateTime<Utc>,
}

/// The set's RPO at `now`. With the primary's listing: the age of the oldest primary change the
/// manifest does not hold (0 when they agree). Without it: now − the start of the last sync that
/// published, labelled as a bound.
pub fn rpo(
    set: &ArtifactSet,
    primary: Option<&[Object]>,
    last: Option<&Manifest>,
    now: DateTime<Utc>,
) -> Rpo {
    let mk = |kind, value: Option<Duration>, reason: String| Rpo {
        set: set.name.clone(),
        kind,
        value,
        objective: set.rpo,
        over_objective: value.is_none_or(|v| v > set.rpo),
        reason,
        at: now,
    };
    match (primary, last) {
        (None, None) => mk(
            RpoKind::Unknown,
            None,
            "primary unreadable and nothing published yet".into(),
        ),
        (None, Some(m)) => {
            let current_as_of = m.confirmed_at.map_or(m.started_at, |c| c.max(m.started_at));
            let v = between(current_as_of, now);
            mk(
                RpoKind::UpperBound,
                Some(v),
                format!(
                    "primary unreadable: at most {} behind (last published sync started {})",
                    human(v),
                    m.started_at.to_rfc3339()
                ),
            )
        }
        (Some(src), last) => {
            let mut oldest: Option<(DateTime<Utc>, &str)> = None;
            let mut pending = 0usize;
            for o in src {
                let held = last
                    .and_then(|m| m.entry(&o.key))
                    .is_some_and(|e| e.source_etag == o.etag && e.size == o.size);
                if !held {
                    pending += 1;
                    if oldest.is_none_or(|(t, _)| o.last_modified < t) {
                        oldest = Some((o.last_modified, &o.key));
                    }
                }
            }
            // A deletion on the primary that the manifest still lists happened after the last
            // published sync listed the source; its age is bounded by that listing's start.
            let mut deleted = 0usize;
            if let Some(m) = last {
                for e in &m.objects {
                    if src
                        .binary_search_by(|o| o.key.as_str().cmp(&e.key))
                        .is_err()
                    {
                        deleted += 1;
                    }
                }
                if deleted > 0 && set.delete && oldest.is_none_or(|(t, _)| m.started_at < t) {
                    oldest = Some((m.started_at, "(a deletion)"));
                }
            }
            let counted_deletions = if set.delete { deleted } else { 0 };
            match oldest {
                None => mk(
                    RpoKind::Measured,
                    Some(Duration::ZERO),
                    format!("standby holds all {} primary objects", src.len()),
                ),
                Some((t, key)) => {
                    let v = between(t, now);
                    mk(
                        RpoKind::Measured,
                        Some(v),
                        format!(
                            "{} change(s) not yet on the standby; oldest {key} from {}, {} ago",
                            pending + counted_deletions,
                            t.to_rfc3339(),
                            human(v)
                        ),
                    )
                }
            }
        }
    }
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

    fn obj(key: &str, etag: &str, modified: i64) -> Object {
        Object {
            key: key.into(),
            size: 1,
            etag: etag.into(),
            last_modified: at(modified),
        }
    }

    #[test]
    fn rpo_is_zero_when_the_standby_holds_everything() {
        let m = manifest_of(&[("p/a", 1, "x", "e1")]);
        let r = rpo(
            &set(false),
            Some(&[obj("p/a", "e1", -50)]),
            Some(&m),
            at(100),
        );
        assert_eq!(
            (r.kind, r.value, r.over_objective),
            (RpoKind::Measured, Some(Duration::ZERO), false)
        );
        assert_eq!(r.reason, "standby holds all 1 primary objects");
    }

    #[test]
    fn rpo_is_the_age_of_the_oldest_change_not_on_the_standby() {
        let m = manifest_of(&[("p/a", 1, "x", "e1"), ("p/b", 1, "y", "e2")]);
        let src = [
            obj("p/a", "e1-changed", 40),
            obj("p/b", "e2", -50),
            obj("p/c", "e3", 70),
        ];
        let r = rpo(&set(false), Some(&src), Some(&m), at(1000));
        assert_eq!(r.value, Some(Duration::from_secs(960)));
        assert!(r.over_objective);
        assert!(
            r.reason
                .starts_with("2 change(s) not yet on the standby; oldest p/a"),
            "{}",
            r.reason
        );
    }

    #[test]
    fn propagated_deletions_count_from_the_last_listing() {
        let m = manifest_of(&[("p/a", 1, "x", "e1"), ("p/gone", 1, "y", "e2")]);
        let src = [obj("p/a", "e1", -50)];
        assert_eq!(
            rpo(&set(true), Some(&src), Some(&m), at(300)).value,
            Some(Duration::from_secs(300))
        );
        assert_eq!(
            rpo(&set(false), Some(&src), Some(&m), at(300)).value,
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn unreadable_primary_gives_a_labelled_bound() {
        let m = manifest_of(&[("p/a", 1, "x", "e1")]);
        let r = rpo(&set(false), None, Some(&m), at(900));
        assert_eq!(
            (r.kind, r.value),
            (RpoKind::UpperBound, Some(Duration::from_secs(900)))
        );
        assert!(
            r.reason
                .starts_with("primary unreadable: at most 15m behind"),
            "{}",
            r.reason
        );
        let r = rpo(&set(false), None, None, at(900));
        assert_eq!(
            (r.kind, r.value, r.over_objective),
            (RpoKind::Unknown, None, true)
        );
    }
}
