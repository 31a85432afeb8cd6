//! The sync planner: two sorted listings and the last published manifest in, a plan out, with a
//! reason for every key. Pure; the engine applies it.
//!
//! Change detection is by size and ETag. A multipart ETag depends on the part size the copier
//! used, so a copy standby made with its own part size will never have the primary's ETag; the
//! manifest records the *source* ETag each copy was made from, and that is what is compared.

use std::cmp::Ordering;

use super::Object;
use super::manifest::{Entry, Manifest};

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    Copy {
        key: String,
        size: u64,
        reason: String,
    },
    Overwrite {
        key: String,
        size: u64,
        reason: String,
    },
    Delete {
        key: String,
        reason: String,
    },
    Skip {
        key: String,
        reason: String,
    },
}

impl Op {
    pub fn key(&self) -> &str {
        match self {
            Op::Copy { key, .. }
            | Op::Overwrite { key, .. }
            | Op::Delete { key, .. }
            | Op::Skip { key, .. } => key,
        }
    }

    pub fn reason(&self) -> &str {
        match self {
            Op::Copy { reason, .. }
            | Op::Overwrite { reason, .. }
            | Op::Delete { reason, .. }
            | Op::Skip { reason, .. } => reason,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Plan {
    pub ops: Vec<Op>,
    pub copy: usize,
    pub overwrite: usize,
    pub delete: usize,
    pub skip: usize,
    pub bytes: u64,
}

impl Plan {
    pub fn changes(&self) -> impl Iterator<Item = &Op> {
        self.ops.iter().filter(|o| !matches!(o, Op::Skip { .. }))
    }

    pub fn summary(&self) -> String {
        format!(
            "{} to copy, {} to overwrite, {} to delete, {} unchanged; {} to transfer",
            self.copy,
            self.overwrite,
            self.delete,
            self.skip,
            bytes(self.bytes)
        )
    }

    fn push(&mut self, op: Op) {
        match &op {
            Op::Copy { size, .. } => {
                self.copy += 1;
                self.bytes += size;
            }
            Op::Overwrite { size, .. } => {
                self.overwrite += 1;
                self.bytes += size;
            }
            Op::Delete { .. } => self.delete += 1,
            Op::Skip { .. } => self.skip += 1,
        }
        self.ops.push(op);
    }
}

pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// Plans a forward sync. Both listings must be sorted by key (S3 lists in UTF-8 byte order, which
/// is `str`'s order); they are merged in one pass.
pub fn plan(src: &[Object], dst: &[Object], last: Option<&Manifest>, delete: bool) -> Plan {
    let mut out = Plan::default();
    let (mut i, mut j) = (0, 0);
    while i < src.len() || j < dst.len() {
        let ord = match (src.get(i), dst.get(j)) {
            (Some(s), Some(d)) => s.key.cmp(&d.key),
            (Some(_), None) => Ordering::Less,
            (None, _) => Ordering::Greater,
        };
        match ord {
            Ordering::Less => {
                let s = &src[i];
                out.push(Op::Copy {
                    key: s.key.clone(),
                    size: s.size,
                    reason: "new on the source".into(),
                });
                i += 1;
            }
            Ordering::Greater => {
                let d = &dst[j];
                out.push(if delete {
                    Op::Delete {
                        key: d.key.clone(),
                        reason: "deleted on the source".into(),
                    }
                } else {
                    Op::Skip {
                        key: d.key.clone(),
                        reason: "only on the destination; kept because delete = false".into(),
                    }
                });
                j += 1;
            }
            Ordering::Equal => {
                out.push(compare(
                    &src[i],
                    &dst[j],
                    last.and_then(|m| m.entry(&src[i].key)),
                ));
                i += 1;
                j += 1;
            }
        }
    }
    out
}

fn compare(s: &Object, d: &Object, rec: Option<&Entry>) -> Op {
    let key = s.key.clone();
    if let Some(r) = rec
        && r.source_etag == s.etag
        && r.size == s.size
        && r.etag == d.etag
        && d.size == s.size
    {
        return Op::Skip {
            key,
            reason: "unchanged since the last published sync".into(),
        };
    }
    if s.size == d.size && s.etag == d.etag {
        return Op::Skip {
            key,
            reason: "same size and ETag".into(),
        };
    }
    let reason = if s.size != d.size {
        format!(
            "size differs ({} on the source, {} on the destination)",
            s.size, d.size
        )
    } else if rec.is_some_and(|r| r.etag == d.etag) {
        format!(
            "changed on the source (ETag {} → {})",
            rec.map(|r| r.source_etag.as_str()).unwrap_or(""),
            s.etag
        )
    } else if Object::multipart_etag(&s.etag) || Object::multipart_etag(&d.etag) {
        "multipart ETags differ and no manifest record vouches for the copy".into()
    } else {
        format!(
            "ETag differs ({} on the source, {} on the destination)",
            s.etag, d.etag
        )
    };
    Op::Overwrite {
        key,
        size: s.size,
        reason,
    }
}

/// Plans a reverse sync (standby → primary) for failback: only objects the standby changed since
/// its last manifest, so a stale standby copy never overwrites a newer primary object. Nothing is
/// deleted on the primary.
pub fn plan_reverse(standby: &[Object], primary: &[Object], last: Option<&Manifest>) -> Plan {
    let mut out = Plan::default();
    for s in standby {
        let rec = last.and_then(|m| m.entry(&s.key));
        let changed_on_standby = match rec {
            None => true,
            Some(r) => r.etag != s.etag || r.size != s.size,
        };
        let on_primary = primary
            .binary_search_by(|p| p.key.as_str().cmp(&s.key))
            .ok()
            .map(|i| &primary[i]);
        let op = match (changed_on_standby, on_primary) {
            (false, _) => Op::Skip {
                key: s.key.clone(),
                reason: "unchanged on the standby since the last sync".into(),
            },
            (true, Some(p)) if p.size == s.size && p.etag == s.etag => Op::Skip {
                key: s.key.clone(),
                reason: "already on the primary".into(),
            },
            (true, Some(_)) => Op::Overwrite {
                key: s.key.clone(),
                size: s.size,
                reason: "changed on the standby during the outage".into(),
            },
            (true, None) => Op::Copy {
                key: s.key.clone(),
                size: s.size,
                reason: "new on the standby during the outage".into(),
            },
        };
        out.push(op);
    }
    out
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::*;
    use crate::sync::manifest::tests::manifest_of;

    fn at() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    fn o(key: &str, size: u64, etag: &str) -> Object {
        Object {
            key: key.into(),
            size,
            etag: etag.into(),
            last_modified: at(),
        }
    }

    fn sorted(mut v: Vec<Object>) -> Vec<Object> {
        v.sort_by(|a, b| a.key.cmp(&b.key));
        v
    }

    fn ops(p: &Plan) -> Vec<(String, &'static str, String)> {
        p.ops
            .iter()
            .map(|o| {
                let kind = match o {
                    Op::Copy { .. } => "copy",
                    Op::Overwrite { .. } => "overwrite",
                    Op::Delete { .. } => "delete",
                    Op::Skip { .. } => "skip",
                };
                (o.key().to_string(), kind, o.reason().to_string())
            })
            .collect()
    }

    #[test]
    fn new_changed_deleted_and_unchanged_keys() {
        let src = sorted(vec![
            o("p/a", 1, "e1"),
            o("p/b", 2, "e2new"),
            o("p/d", 4, "e4"),
        ]);
        let dst = sorted(vec![
            o("p/a", 1, "e1"),
            o("p/b", 2, "e2"),
            o("p/c", 3, "e3"),
        ]);
        let p = plan(&src, &dst, None, true);
        assert_eq!(
            ops(&p),
            vec![
                ("p/a".into(), "skip", "same size and ETag".into()),
                (
                    "p/b".into(),
                    "overwrite",
                    "ETag differs (e2new on the source, e2 on the destination)".into()
                ),
                ("p/c".into(), "delete", "deleted on the source".into()),
                ("p/d".into(), "copy", "new on the source".into()),
            ]
        );
        assert_eq!(
            (p.copy, p.overwrite, p.delete, p.skip, p.bytes),
            (1, 1, 1, 1, 6)
        );
        let keep = plan(&src, &dst, None, false);
        assert_eq!(keep.delete, 0);
        assert!(ops(&keep).contains(&(
            "p/c".into(),
            "skip",
            "only on the destination; kept because delete = false".into()
        )));
    }

    #[test]
    fn keys_that_prefix_other_keys_and_unicode_merge_in_byte_order() {
        let keys = [
            "m/a",
            "m/a/b",
            "m/a-b",
            "m/ab",
            "m/é",
            "m/日本語.bin",
            "m/z",
        ];
        let src = sorted(keys.iter().map(|k| o(k, 1, "x")).collect());
        let dst = sorted(
            keys.iter()
                .filter(|k| **k != "m/a/b")
                .map(|k| o(k, 1, "x"))
                .collect(),
        );
        let p = plan(&src, &dst, None, true);
        assert_eq!(p.copy, 1);
        assert_eq!(p.skip, keys.len() - 1);
        assert!(ops(&p).contains(&("m/a/b".into(), "copy", "new on the source".into())));
    }

    #[test]
    fn multipart_copies_are_vouched_for_by_the_manifest() {
        // The source was uploaded in 8 parts; standby copied it with its own part size.
        let src = vec![o("w/model.bin", 200, "abc-8")];
        let dst = vec![o("w/model.bin", 200, "def-7")];
        let without = plan(&src, &dst, None, false);
        assert_eq!(
            ops(&without)[0].2,
            "multipart ETags differ and no manifest record vouches for the copy"
        );
        let m = manifest_of(&[("w/model.bin", 200, "def-7", "abc-8")]);
        let with = plan(&src, &dst, Some(&m), false);
        assert_eq!(
            ops(&with)[0],
            (
                "w/model.bin".into(),
                "skip",
                "unchanged since the last published sync".into()
            )
        );
        // A new upload on the primary changes the source ETag: copy again.
        let changed = vec![o("w/model.bin", 200, "xyz-8")];
        assert_eq!(
            ops(&plan(&changed, &dst, Some(&m), false))[0].2,
            "changed on the source (ETag abc-8 → xyz-8)"
        );
    }

    #[test]
    fn a_destination_changed_behind_the_manifest_is_repaired() {
        let src = vec![o("p/a", 5, "e1")];
        let dst = vec![o("p/a", 5, "tampered")];
        let m = manifest_of(&[("p/a", 5, "e1", "e1")]);
        assert_eq!(plan(&src, &dst, Some(&m), false).overwrite, 1);
    }

    #[test]
    fn reverse_sync_moves_only_what_the_standby_changed() {
        let m = manifest_of(&[("p/a", 1, "e1", "e1"), ("p/b", 1, "e2", "e2")]);
        // a: untouched on standby (primary has since moved on: must not be overwritten);
        // b: changed on standby; c: new on standby.
        let standby = sorted(vec![
            o("p/a", 1, "e1"),
            o("p/b", 1, "e2-standby"),
            o("p/c", 1, "e3"),
        ]);
        let primary = sorted(vec![o("p/a", 1, "e1-newer"), o("p/b", 1, "e2")]);
        let p = plan_reverse(&standby, &primary, Some(&m));
        assert_eq!(
            ops(&p),
            vec![
                (
                    "p/a".into(),
                    "skip",
                    "unchanged on the standby since the last sync".into()
                ),
                (
                    "p/b".into(),
                    "overwrite",
                    "changed on the standby during the outage".into()
                ),
                (
                    "p/c".into(),
                    "copy",
                    "new on the standby during the outage".into()
                ),
            ]
        );
    }

    #[test]
    fn byte_counts_read_well() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(200 << 20), "200.0 MiB");
    }
}
