//! `[state]` and `[lease]`: where the state, run journals and manifests live, and (with a shared
//! store) how instances agree on one actor.

use super::{Region, Service, StateStore};

use crate::doc::Section;
use crate::lease::Rules;

/// `[state]` absent: local files under `service.state_dir`, one instance.
pub fn defaults() -> StateStore {
    StateStore::File
}

pub fn state(
    s: &mut Section<'_, '_>,
    service: Option<&Service>,
    standby: Option<&Region>,
) -> Option<StateStore> {
    let backend = s.choice("backend", &["file", "s3"], Some("file"))?;
    if backend.value == "file" {
        for key in ["bucket", "region", "prefix", "instance"] {
            if s.has(key) {
                let off = s.offset;
                let _ = s.opt_str(key);
                s.error(off, key, "only used with backend = \"s3\"");
            }
        }
        return Some(StateStore::File);
    }
    let bucket = s.req_str("bucket");
    super::compile::check_bucket(s, "bucket", bucket.as_ref());
    let region = s.opt_str("region");
    super::compile::check_region(s, "region", region.as_ref());
    let prefix = s.opt_str("prefix");
    if let Some(p) = &prefix
        && (p.value.starts_with('/') || !(p.value.is_empty() || p.value.ends_with('/')))
    {
        s.error(
            p.offset,
            "prefix",
            format!(
                "{:?} must be empty or end with '/' and not start with one",
                p.value
            ),
        );
    }
    let instance = s.opt_str("instance");
    if let Some(i) = &instance
        && (i.value.is_empty()
            || i.value.len() > 64
            || !i
                .value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)))
    {
        s.error(
            i.offset,
            "instance",
            format!(
                "{:?} must be 1-64 characters of letters, digits, '-', '_' and '.'",
                i.value
            ),
        );
    }
    let region = match region {
        Some(r) => r.value,
        // The standby region by default: it is the one that must be up when the primary is not.
        None => standby?.region.clone(),
    };
    let prefix = match prefix {
        Some(p) => p.value,
        None => format!("{}/", service?.name),
    };
    Some(StateStore::S3 {
        bucket: bucket?.value,
        region,
        prefix,
        instance: instance.map(|i| i.value),
    })
}

pub fn lease(s: &mut Section<'_, '_>) -> Option<Rules> {
    let d = Rules::default();
    let ttl = s.duration("ttl", Some(d.ttl))?;
    // A third of the ttl unless given: three renewals per lease, two before the holder stops.
    let renew = s.duration("renew", Some(ttl.value / 3))?;
    let rules = Rules {
        ttl: ttl.value,
        renew: renew.value,
    };
    if let Some(p) = rules.problem() {
        s.error(renew.offset.max(ttl.offset), "renew", p);
        return None;
    }
    Some(rules)
}
