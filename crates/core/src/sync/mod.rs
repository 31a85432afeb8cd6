//! Keeping the standby's artifacts warm: per artifact set, list both sides, plan the difference,
//! copy server-side, verify, and publish a manifest last so the standby only ever sees a complete
//! set. Each set is its own failure domain.
//!
//! Pure: [`planner`] (listings + last manifest → plan with reasons), [`manifest`] (the published
//! record and RPO), [`schedule`]. Shell: [`engine`] (listing, copying, publishing).

pub mod manifest;
pub mod planner;
pub mod schedule;

use std::time::Duration;

use chrono::{DateTime, Utc};

/// One object as a listing shows it. ETags are stored without quotes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Object {
    pub key: String,
    pub size: u64,
    pub etag: String,
    pub last_modified: DateTime<Utc>,
}

impl Object {
    /// A multipart ETag (`<md5 of part md5s>-<parts>`) depends on the part layout, so it cannot be
    /// compared across copies made with different part sizes.
    pub fn multipart_etag(etag: &str) -> bool {
        etag.contains('-')
    }
}

/// One version (or delete marker) of an object, as ListObjectVersions shows it: the primary's
/// write history, which RPO is measured from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Version {
    pub key: String,
    /// `None` for S3's "null" version: written while versioning was off, overwritten in place.
    pub version_id: Option<String>,
    pub size: u64,
    pub etag: String,
    pub last_modified: DateTime<Utc>,
    pub delete_marker: bool,
}

impl Version {
    /// A current-version listing seen as history: one null version per key, nothing older.
    pub fn from_current(o: &Object) -> Version {
        Version {
            key: o.key.clone(),
            version_id: None,
            size: o.size,
            etag: o.etag.clone(),
            last_modified: o.last_modified,
            delete_marker: false,
        }
    }
}

/// Which way bytes move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Primary → standby: the normal, scheduled direction.
    Forward,
    /// Standby → primary, for failback: only what changed on the standby since its manifest.
    Reverse,
}

/// One artifact set: its own prefix, schedule, RPO objective and failure domain.
#[derive(Debug, Clone)]
pub struct ArtifactSet {
    pub name: String,
    pub prefix: String,
    pub schedule: schedule::Schedule,
    pub rpo: Duration,
    pub mode: SyncMode,
    /// Propagate deletions from the primary.
    pub delete: bool,
    /// Per-set bucket overrides (e.g. weights in their own buckets); default `[primary] bucket`.
    pub primary_bucket: String,
    pub standby_bucket: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncMode {
    /// standby copies the bytes server-side.
    Copy,
    /// S3 Cross-Region Replication moves the bytes; standby verifies and publishes.
    Replication,
}
