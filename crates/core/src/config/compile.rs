//! Stage two: the spanned tree becomes a [`Config`], with every error and warning collected.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;
use crate::diag::{Diagnostics, Source};
use crate::doc::{Amount, At, Doc, Section};
use crate::outcome::OutcomeClass;
use crate::runbook::{self, RunbookKind};

pub fn load(path: &Path, files: &dyn Files) -> Result<(Config, Diagnostics), Diagnostics> {
    let mut diags = Diagnostics::default();
    let src = match files.read(path) {
        Ok(text) => Source::new(path, text),
        Err(e) => {
            diags.file_error(
                path,
                format!(
                    "cannot read the config: {e} (name it with --config PATH or the STANDBY_CONFIG environment variable)"
                ),
            );
            return Err(diags);
        }
    };
    let config = compile(&src, files, &mut diags);
    match config {
        Some(c) if !diags.has_errors() => Ok((c, diags.sorted())),
        _ => Err(diags.sorted()),
    }
}

/// Compiles a config held in memory (tests, generated configs) that names no files; relative
/// paths resolve against the directory of `path`.
pub fn from_text(path: &Path, text: &str) -> Result<Config, Diagnostics> {
    from_text_with(path, text, &NoFiles)
}

/// [`from_text`], reading the files the config names through `files`.
pub fn from_text_with(path: &Path, text: &str, files: &dyn Files) -> Result<Config, Diagnostics> {
    let mut diags = Diagnostics::default();
    let src = Source::new(path, text.to_string());
    match compile(&src, files, &mut diags) {
        Some(c) if !diags.has_errors() => Ok(c),
        _ => Err(diags.sorted()),
    }
}

/// Where a config's relative paths resolve (its own directory) and how the files they name are
/// read.
pub struct Base<'a> {
    dir: PathBuf,
    files: &'a dyn Files,
}

impl Base<'_> {
    pub fn join(&self, path: impl AsRef<Path>) -> PathBuf {
        self.dir.join(path)
    }

    pub fn read(&self, path: &Path) -> std::io::Result<String> {
        self.files.read(path)
    }
}

/// Compiles a config from source text. Returns `None` when any error was recorded.
pub fn compile(src: &Source, files: &dyn Files, diags: &mut Diagnostics) -> Option<Config> {
    let doc = Doc::parse(src, diags)?;
    let base = Base {
        dir: src.path.parent().map(Path::to_path_buf).unwrap_or_default(),
        files,
    };
    let mut root = doc.section(diags);

    let service = root.table("service", true).and_then(|mut s| {
        let out = service(&mut s, &base);
        s.finish();
        out
    });
    let aws = match root.table("aws", false) {
        Some(mut s) => {
            let out = aws(&mut s);
            s.finish();
            out
        }
        None => Some(Aws {
            endpoint_url: None,
            max_attempts: 3,
            call_timeout: Duration::from_secs(30),
            s3_attempt_timeout: Duration::from_secs(20),
        }),
    };
    let primary = root.table("primary", true).and_then(|mut s| {
        let out = region(&mut s, Side::Primary);
        s.finish();
        out
    });
    let standby = root.table("standby", true).and_then(|mut s| {
        let out = region(&mut s, Side::Standby);
        s.finish();
        out
    });
    let dns = root.table("dns", true).and_then(|mut s| {
        let out = super::dns::dns(&mut s, service.as_ref(), standby.as_ref());
        s.finish();
        out
    });
    let health_offset;
    let health = match root.table("health", false) {
        Some(mut s) => {
            health_offset = s.offset;
            let out = health(&mut s);
            s.finish();
            out
        }
        None => {
            health_offset = 0;
            Some(Health::default())
        }
    };
    let failover = match root.table("failover", false) {
        Some(mut s) => {
            let out = failover(&mut s, &base);
            s.finish();
            out
        }
        None => {
            let runbook = default_runbook(RunbookKind::Failover, &mut root);
            let drill_runbook = default_runbook(RunbookKind::DrillStandby, &mut root);
            match (runbook, drill_runbook) {
                (Some(runbook), Some(drill_runbook)) => Some(Failover {
                    mode: Mode::Automatic,
                    cooldown: Duration::from_secs(1800),
                    runbook,
                    drill_runbook,
                    approval_timeout: Duration::from_secs(600),
                    retry: crate::retry::RetryPolicy::default(),
                }),
                _ => None,
            }
        }
    };
    let failback = match root.table("failback", false) {
        Some(mut s) => {
            let out = failback(&mut s, &base);
            s.finish();
            out
        }
        None => default_runbook(RunbookKind::Failback, &mut root).map(|runbook| Failback {
            runbook,
            mode: Mode::Manual,
            stable_for: Duration::from_secs(600),
        }),
    };
    let control = match root.table("control", false) {
        Some(mut s) => {
            let out = super::control::control(&mut s, &base, service.as_ref());
            s.finish();
            out
        }
        None => super::control::control_defaults(service.as_ref()),
    };
    let webhooks = match root.tables("webhooks", false, super::control::webhook) {
        Some((items, _)) if items.iter().any(Option::is_none) => None,
        Some((items, _)) => Some(items.into_iter().flatten().collect()),
        None if root.has("webhooks") => None,
        None => Some(vec![]),
    };
    let sync = match root.table("sync", false) {
        Some(mut s) => {
            let out = sync_tuning(&mut s);
            s.finish();
            out
        }
        None => Some(SyncTuning::default()),
    };
    let buckets = (
        primary.as_ref().and_then(|p| p.bucket.clone()),
        standby.as_ref().and_then(|s| s.bucket.clone()),
    );
    let artifacts = match root.tables("artifacts", false, |t| artifact_set(t, &buckets)) {
        Some((items, offset)) => {
            let mut names = std::collections::BTreeSet::new();
            for a in items.iter().flatten() {
                if !names.insert(a.name.clone()) {
                    root.error(
                        offset,
                        "artifacts",
                        format!(
                            "set name {:?} is used twice; names identify sync state and manifests",
                            a.name
                        ),
                    );
                }
            }
            let sets: Vec<&ArtifactSet> = items.iter().flatten().collect();
            for (i, a) in sets.iter().enumerate() {
                for b in &sets[i + 1..] {
                    if a.primary_bucket == b.primary_bucket
                        && (a.prefix.starts_with(&b.prefix) || b.prefix.starts_with(&a.prefix))
                    {
                        root.error(offset, "artifacts", format!("sets {:?} ({}) and {:?} ({}) overlap: each set must be its own failure domain", a.name, a.prefix, b.name, b.prefix));
                    }
                }
            }
            if items.iter().any(Option::is_none) {
                None
            } else {
                Some(items.into_iter().flatten().collect())
            }
        }
        None if root.has("artifacts") => None,
        None => Some(vec![]),
    };
    let set_names: Vec<String> = artifacts
        .iter()
        .flatten()
        .map(|a: &ArtifactSet| a.name.clone())
        .collect();
    let probes = match root.table("probes", false) {
        Some(mut s) => {
            let out = super::probes::probes(&mut s, &base, &set_names);
            s.finish();
            out
        }
        None => Some(super::probes::defaults()),
    };
    let drills = match root.tables("drills", false, super::probes::drill) {
        Some((items, _)) if items.iter().any(Option::is_none) => None,
        Some((items, _)) => Some(Drills {
            scheduled: items.into_iter().flatten().collect(),
        }),
        None if root.has("drills") => None,
        None => Some(Drills { scheduled: vec![] }),
    };
    if let (Some(st), Some(sets)) = (&standby, &artifacts) {
        for a in sets {
            if Some(&a.standby_bucket) == st.bucket.as_ref() && "reports/".starts_with(&a.prefix) {
                let off = root.offset;
                root.error(off, "artifacts", format!("set {:?} (prefix {:?}) covers reports/ in the standby bucket, where run reports are uploaded", a.name, a.prefix));
            }
        }
    }
    let state = match root.table("state", false) {
        Some(mut s) => {
            let out = super::state::state(&mut s, service.as_ref(), standby.as_ref());
            s.finish();
            out
        }
        None => Some(super::state::defaults()),
    };
    let lease = match root.table("lease", false) {
        Some(mut s) => {
            let off = s.offset;
            let out = super::state::lease(&mut s);
            s.finish();
            if matches!(state, Some(StateStore::File)) {
                root.warning(off, "lease", "unused: a lease coordinates several instances over a shared store ([state] backend = \"s3\"); the file store serves one");
            }
            out
        }
        None => Some(crate::lease::Rules::default()),
    };
    let cost = match root.table("cost", false) {
        Some(mut s) => {
            let out = super::cost::cost(&mut s);
            s.finish();
            out
        }
        None => Some(super::cost::Rules::default()),
    };
    let readiness = match root.table("readiness", false) {
        Some(mut s) => {
            let out = super::readiness::readiness(&mut s);
            s.finish();
            out
        }
        None => Some(super::readiness::Rules::default()),
    };
    let prewarm = match root.table("prewarm", false) {
        Some(mut s) => {
            let out = super::prewarm::prewarm(&mut s);
            s.finish();
            out
        }
        None => Some(super::prewarm::Settings::default()),
    };
    // The shared state may live in an artifact bucket (the standby's is in the right region and
    // already versioned and encrypted), but never under a synced prefix: a mirrored deletion
    // or an overwrite would take the journals with it.
    if let (Some(StateStore::S3 { bucket, prefix, .. }), Some(sets)) = (&state, &artifacts) {
        for a in sets {
            if (a.standby_bucket == *bucket || a.primary_bucket == *bucket)
                && (a.prefix.starts_with(prefix.as_str()) || prefix.starts_with(&a.prefix))
            {
                let off = root.offset;
                root.error(off, "state", format!("prefix {prefix:?} in s3://{bucket} overlaps artifact set {:?} (prefix {:?}): the sync would copy over or delete the shared state", a.name, a.prefix));
            }
        }
    }
    // The gate must survive the sync: under a synced prefix a mirrored deletion would remove
    // it (Route 53 then answers the PRIMARY) and a reverse sync could copy a stale word over it.
    if let (
        Some(Dns {
            method: DnsMethod::FailoverRecords(g),
            ..
        }),
        Some(sets),
    ) = (&dns, &artifacts)
    {
        for a in sets {
            if (a.standby_bucket == g.bucket || a.primary_bucket == g.bucket)
                && g.key.starts_with(&a.prefix)
            {
                let off = root.offset;
                root.error(off, "dns", format!("gate key {:?} in s3://{} is under artifact set {:?} (prefix {:?}): the sync would copy over or delete the gate", g.key, g.bucket, a.name, a.prefix));
            }
        }
    }
    root.finish();

    let (service, aws, primary, standby, dns, health, failover, failback, artifacts, sync) = (
        service?, aws?, primary?, standby?, dns?, health?, failover?, failback?, artifacts?, sync?,
    );
    let (probes, drills, control, webhooks) = (probes?, drills?, control?, webhooks?);
    let (state, lease, readiness, cost, prewarm) = (state?, lease?, readiness?, cost?, prewarm?);
    let config = Config {
        path: src.path.clone(),
        digest: crate::digest::sha256(src.text.as_bytes()),
        service,
        aws,
        primary,
        standby,
        dns,
        health,
        failover,
        failback,
        artifacts,
        sync,
        probes,
        drills,
        control,
        webhooks,
        state,
        lease,
        readiness,
        cost,
        prewarm,
    };
    cross_checks(&config, src, health_offset, diags);
    Some(config)
}

/// Checks that span sections: they run only once each section compiled on its own.
fn cross_checks(c: &Config, src: &Source, health_offset: usize, diags: &mut Diagnostics) {
    let detection = c.health.detection_time();
    // A data-plane flip waits for Route 53's health check to act on the gate as well.
    let (reaction, reaction_text) = match &c.dns.method {
        DnsMethod::Record => (Duration::ZERO, String::new()),
        DnsMethod::FailoverRecords(g) => (
            g.reaction_bound(),
            format!(
                " + the gate's health check ({}, (threshold {} + 1) x {})",
                crate::duration::human(g.reaction_bound()),
                g.failure_threshold,
                crate::duration::human(g.check_interval)
            ),
        ),
    };
    let floor = detection + reaction + Duration::from_secs(u64::from(c.dns.ttl));
    if c.service.rto <= floor {
        diags.warning(
            src,
            health_offset,
            "service.rto",
            format!(
                "objective {} is not longer than detection ({}){reaction_text} + DNS TTL ({}s): every failover will breach it",
                crate::duration::human(c.service.rto),
                crate::duration::human(detection),
                c.dns.ttl
            ),
        );
    }
    if c.health.vantage != crate::vantage::Vantage::SelfOnly && c.state == StateStore::File {
        diags.warning(
            src,
            health_offset,
            "health.vantage",
            format!(
                "{:?} has no effect: other instances' verdicts are read from a shared store ([state] backend = \"s3\")",
                c.health.vantage.as_str()
            ),
        );
    }
    if c.health.slow >= c.health.timeout {
        diags.warning(
            src,
            health_offset,
            "health.slow",
            format!(
                "{} is not below health.timeout ({}): a slow answer times out first, so `slow` never fires on its own",
                crate::duration::human(c.health.slow),
                crate::duration::human(c.health.timeout)
            ),
        );
    }
}

fn service(s: &mut Section<'_, '_>, base: &Base<'_>) -> Option<Service> {
    let name = s.req_str("name");
    let rto = s.duration("rto", None);
    let state_dir = s.req_str("state_dir");
    let reports_dir = s.opt_str("reports_dir");
    if let Some(r) = &rto
        && r.value.is_zero()
    {
        s.error(r.offset, "rto", "must be greater than zero");
    }
    let state_dir = base.join(state_dir?.value);
    let reports_dir = match reports_dir {
        Some(r) => base.join(r.value),
        None => state_dir.join("reports"),
    };
    Some(Service {
        name: name?.value,
        rto: rto?.value,
        state_dir,
        reports_dir,
    })
}

fn aws(s: &mut Section<'_, '_>) -> Option<Aws> {
    let endpoint_url = s.opt_str("endpoint_url");
    if let Some(u) = &endpoint_url
        && !(u.value.starts_with("http://") || u.value.starts_with("https://"))
    {
        s.error(
            u.offset,
            "endpoint_url",
            format!("{:?} is not an http(s) URL", u.value),
        );
    }
    let max_attempts = s.int_in("max_attempts", 1, 10, Some(3));
    let call_timeout = s.duration("call_timeout", Some(Duration::from_secs(30)));
    if let Some(t) = &call_timeout
        && !(Duration::from_secs(1)..=Duration::from_secs(600)).contains(&t.value)
    {
        s.error(t.offset, "call_timeout", "must be between 1s and 10m");
    }
    let s3_attempt_timeout = s.duration("s3_attempt_timeout", Some(Duration::from_secs(20)));
    if let Some(t) = &s3_attempt_timeout
        && !(Duration::from_secs(1)..=Duration::from_secs(3600)).contains(&t.value)
    {
        s.error(t.offset, "s3_attempt_timeout", "must be between 1s and 1h");
    }
    for secret in [
        "access_key_id",
        "secret_access_key",
        "session_token",
        "profile",
    ] {
        if s.has(secret) {
            let _ = s.opt_str(secret);
            s.error(
                s.offset,
                secret,
                "credentials never come from the config file; use the SDK's standard chain (environment, profile, instance role)",
            );
        }
    }
    Some(Aws {
        endpoint_url: endpoint_url.map(|u| u.value),
        max_attempts: max_attempts?.value as u32,
        call_timeout: call_timeout?.value,
        s3_attempt_timeout: s3_attempt_timeout?.value,
    })
}

fn region(s: &mut Section<'_, '_>, side: Side) -> Option<Region> {
    let region = s.req_str("region");
    check_region(s, "region", region.as_ref());
    let endpoint = s.req_str("endpoint");
    if let Some(e) = &endpoint
        && !(e.value.starts_with("http://") || e.value.starts_with("https://"))
    {
        s.error(
            e.offset,
            "endpoint",
            format!("{:?} is not an http(s) URL", e.value),
        );
    }
    let asgs = s.tables("asgs", true, |t| {
        let name = t.req_str("name");
        let warm = t.int_in("warm", 0, 10_000, None);
        let serving = t.int_in("serving", 0, 10_000, None);
        let min_serving = t.count_or_percent("min_serving");
        let fallback = t.strings("fallback").unwrap_or_default();
        for f in fallback.iter().filter(|f| f.value.trim().is_empty()) {
            t.error(f.offset, "fallback", "names an empty group");
        }
        let (name, warm, serving) = (name?, warm?, serving?);
        if serving.value == 0 {
            t.error(
                serving.offset,
                "serving",
                "must be at least 1: a side that serves needs capacity",
            );
            return None;
        }
        if warm.value > serving.value {
            t.error(
                warm.offset,
                "warm",
                format!("{} is above serving ({})", warm.value, serving.value),
            );
            return None;
        }
        let min_serving = match min_serving {
            None if t.has("min_serving") => return None,
            None => serving.value as u32,
            Some(At {
                value: Amount::Count(n),
                offset,
            }) => {
                if n < 1 || n > serving.value {
                    t.error(
                        offset,
                        "min_serving",
                        format!(
                            "{n} is out of range (1..={}, the serving capacity)",
                            serving.value
                        ),
                    );
                    return None;
                }
                n as u32
            }
            // Rounded up: "75%" of 3 is 3, never a figure below the share asked for.
            Some(At {
                value: Amount::Percent(p),
                ..
            }) => ((serving.value as f64 * p / 100.0).ceil() as u32).clamp(1, serving.value as u32),
        };
        if fallback.iter().any(|f| f.value == name.value) {
            t.error(
                name.offset,
                "fallback",
                format!("{:?} lists itself as its fallback", name.value),
            );
            return None;
        }
        Some(AsgSpec {
            name: name.value,
            warm: warm.value as u32,
            serving: serving.value as u32,
            min_serving,
            fallback: fallback.into_iter().map(|f| f.value).collect(),
        })
    });
    let asgs = match asgs {
        Some((items, offset)) => {
            if items.is_empty() {
                s.error(offset, "asgs", "lists no Auto Scaling group");
            }
            let mut names = std::collections::BTreeSet::new();
            for a in items.iter().flatten() {
                if !names.insert(a.name.clone()) {
                    s.error(offset, "asgs", format!("{:?} is listed twice", a.name));
                }
            }
            // A fallback is a spare group: scaling it as a listed group too, or as two groups'
            // fallback, would have two steps fight over its capacity.
            let mut spares = std::collections::BTreeSet::new();
            for a in items.iter().flatten() {
                for f in &a.fallback {
                    if names.contains(f) {
                        s.error(
                            offset,
                            "asgs",
                            format!("{f:?} is both a listed group and {:?}'s fallback", a.name),
                        );
                    } else if !spares.insert(f.clone()) {
                        s.error(
                            offset,
                            "asgs",
                            format!("{f:?} is the fallback of two groups (or listed twice)"),
                        );
                    }
                }
            }
            if items.iter().any(Option::is_none) {
                None
            } else {
                Some(items.into_iter().flatten().collect())
            }
        }
        None => None,
    };
    let inference_url = s.opt_str("inference_url");
    if let Some(u) = &inference_url
        && !(u.value.starts_with("http://") || u.value.starts_with("https://"))
    {
        s.error(
            u.offset,
            "inference_url",
            format!("{:?} is not an http(s) URL", u.value),
        );
    }
    let bucket = s.opt_str("bucket");
    check_bucket(s, "bucket", bucket.as_ref());
    let endpoint = endpoint?.value;
    let inference_url = inference_url
        .map(|u| u.value)
        .unwrap_or_else(|| origin(&endpoint));
    Some(Region {
        side,
        region: region?.value,
        endpoint,
        inference_url,
        asgs: asgs?,
        bucket: bucket.map(|b| b.value),
    })
}

/// `https://host:port/health` → `https://host:port`.
fn origin(url: &str) -> String {
    let after = url.find("://").map(|i| i + 3).unwrap_or(0);
    match url[after..].find('/') {
        Some(i) => url[..after + i].to_string(),
        None => url.to_string(),
    }
}

/// Reports `key` when it is set and not an AWS region name.
pub(crate) fn check_region(s: &mut Section<'_, '_>, key: &str, r: Option<&At<String>>) {
    if let Some(r) = r
        && !looks_like_region(&r.value)
    {
        s.error(
            r.offset,
            key,
            format!(
                "{:?} is not an AWS region name (e.g. \"us-east-1\")",
                r.value
            ),
        );
    }
}

/// Reports `key` when it is set and not a valid S3 bucket name.
pub(crate) fn check_bucket(s: &mut Section<'_, '_>, key: &str, b: Option<&At<String>>) {
    if let Some(b) = b
        && !valid_bucket(&b.value)
    {
        s.error(
            b.offset,
            key,
            format!("{:?} is not a valid S3 bucket name", b.value),
        );
    }
}

fn valid_bucket(b: &str) -> bool {
    (3..=63).contains(&b.len())
        && b.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && b.starts_with(|c: char| c.is_ascii_alphanumeric())
        && b.ends_with(|c: char| c.is_ascii_alphanumeric())
}

fn artifact_set(
    t: &mut Section<'_, '_>,
    buckets: &(Option<String>, Option<String>),
) -> Option<ArtifactSet> {
    let name = t.req_str("name");
    if let Some(n) = &name
        && !n
            .value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        t.error(
            n.offset,
            "name",
            format!(
                "{:?} may only use letters, digits, '-' and '_' (it names files and keys)",
                n.value
            ),
        );
    }
    let prefix = t.req_str("prefix");
    if let Some(p) = &prefix
        && (p.value.starts_with('/') || p.value.starts_with(".standby/"))
    {
        t.error(
            p.offset,
            "prefix",
            format!("{:?} must not start with '/' or '.standby/'", p.value),
        );
    }
    if let Some(p) = &prefix
        && !p.value.ends_with('/')
    {
        t.warning(
            p.offset,
            "prefix",
            format!(
                "{:?} does not end with '/': it also matches keys like {:?}",
                p.value,
                format!("{}-other", p.value)
            ),
        );
    }
    let schedule = match t.req_str("schedule") {
        Some(s) => match crate::sync::schedule::Schedule::parse(&s.value) {
            Ok(sch) => Some(sch),
            Err(e) => {
                t.error(s.offset, "schedule", e);
                None
            }
        },
        None => None,
    };
    let rpo = t.duration("rpo", None);
    let mode = t.choice("mode", &["copy", "replication"], Some("copy"));
    let delete = t.opt_bool("delete").map(|b| b.value);
    let delete = if t.has("delete") { delete } else { Some(false) };
    let primary_bucket = t
        .opt_str("primary_bucket")
        .map(|b| b.value)
        .or_else(|| buckets.0.clone());
    let standby_bucket = t
        .opt_str("standby_bucket")
        .map(|b| b.value)
        .or_else(|| buckets.1.clone());
    let offset = t.offset;
    if primary_bucket.is_none() {
        t.error(
            offset,
            "primary_bucket",
            "no bucket: set [primary] bucket (or this set's primary_bucket)",
        );
    }
    if standby_bucket.is_none() {
        t.error(
            offset,
            "standby_bucket",
            "no bucket: set [standby] bucket (or this set's standby_bucket)",
        );
    }
    if let (Some(sch), Some(r)) = (&schedule, &rpo)
        && let Some(period) = sch.period()
        && r.value < period
    {
        t.warning(r.offset, "rpo", format!("{} is shorter than the schedule's period ({}): the set will breach its RPO between runs", crate::duration::human(r.value), crate::duration::human(period)));
    }
    let mode = if mode?.value == "replication" {
        SyncMode::Replication
    } else {
        SyncMode::Copy
    };
    Some(ArtifactSet {
        name: name?.value,
        prefix: prefix?.value,
        schedule: schedule?,
        rpo: rpo?.value,
        mode,
        delete: delete?,
        primary_bucket: primary_bucket?,
        standby_bucket: standby_bucket?,
    })
}

fn sync_tuning(s: &mut Section<'_, '_>) -> Option<SyncTuning> {
    let d = SyncTuning::default();
    let concurrency = s.int_in("concurrency", 1, 1024, Some(d.concurrency as i64));
    let threshold = s.int_in(
        "multipart_threshold_mib",
        5,
        5 * 1024,
        Some((d.multipart_threshold >> 20) as i64),
    );
    let part = s.int_in(
        "part_size_mib",
        5,
        5 * 1024,
        Some((d.part_size >> 20) as i64),
    );
    let attempts = s.int_in("attempts", 1, 20, Some(i64::from(d.attempts)));
    let verify_every = s.duration("verify_every", Some(d.verify_every));
    Some(SyncTuning {
        concurrency: concurrency?.value as usize,
        multipart_threshold: (threshold?.value as u64) << 20,
        part_size: (part?.value as u64) << 20,
        attempts: attempts?.value as u32,
        verify_every: verify_every?.value,
    })
}

fn looks_like_region(r: &str) -> bool {
    let parts: Vec<&str> = r.split('-').collect();
    parts.len() >= 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
        && parts
            .last()
            .is_some_and(|p| p.chars().all(|c| c.is_ascii_digit()))
}

fn health(s: &mut Section<'_, '_>) -> Option<Health> {
    let d = Health::default();
    let interval = s.duration("interval", Some(d.interval));
    let timeout = s.duration("timeout", Some(d.timeout));
    let failure_threshold = s.int_in(
        "failure_threshold",
        1,
        100,
        Some(i64::from(d.failure_threshold)),
    );
    let window = s.duration("window", Some(d.window));
    let error_rate = match s.opt_float("error_rate") {
        Some(r) if !(r.value > 0.0 && r.value < 1.0) => {
            s.error(
                r.offset,
                "error_rate",
                format!(
                    "{} must be a fraction between 0 and 1 (e.g. 0.05 for 5%)",
                    r.value
                ),
            );
            None
        }
        Some(r) => Some(r.value),
        None if s.has("error_rate") => None,
        None => Some(d.error_rate),
    };
    let min_samples = s.int_in("min_samples", 1, 1_000_000, Some(i64::from(d.min_samples)));
    let degraded_for = s.duration("degraded_for", Some(d.degraded_for));
    let slow = s.duration("slow", Some(d.slow));
    let recover_after = s.int_in("recover_after", 1, 100, Some(i64::from(d.recover_after)));
    let fail_on = match s.strings("fail_on") {
        Some(items) => {
            let mut out = Vec::new();
            for item in items {
                match OutcomeClass::parse(&item.value) {
                    Some(OutcomeClass::ProbeError) => s.error(
                        item.offset,
                        "fail_on",
                        "probe_error means our probe is broken (a 4xx other than 429); it alerts but never fails over",
                    ),
                    Some(OutcomeClass::Ok) => s.error(item.offset, "fail_on", "\"ok\" cannot count as a failure"),
                    Some(OutcomeClass::Local) => s.error(item.offset, "fail_on", "\"local\" is this host failing to send the probe (out of file descriptors, memory or ports); it never counts as the primary's failure"),
                    Some(c) => out.push(c),
                    None => s.error(
                        item.offset,
                        "fail_on",
                        format!("{:?} is not an outcome class (slow, rate_limited, unavailable, server_error, timeout, connect)", item.value),
                    ),
                }
            }
            Some(out)
        }
        None if s.has("fail_on") => None,
        None => Some(d.fail_on.clone()),
    };
    let attempts = s.int_in("attempts", 1, 5, Some(i64::from(d.attempts)));
    let flap_window = s.duration("flap_window", Some(d.flap_window));
    let flap_changes = s.int_in("flap_changes", 2, 1000, Some(i64::from(d.flap_changes)));
    let vantage = s
        .choice("vantage", crate::vantage::Vantage::NAMES, Some("self"))
        .and_then(|v| crate::vantage::Vantage::parse(&v.value));
    for (key, v) in [
        ("interval", &interval),
        ("timeout", &timeout),
        ("window", &window),
        ("slow", &slow),
        ("flap_window", &flap_window),
    ] {
        if let Some(v) = v
            && v.value.is_zero()
        {
            s.error(v.offset, key, "must be greater than zero");
        }
    }
    if let (Some(i), Some(w)) = (&interval, &window)
        && w.value < i.value
    {
        s.error(
            w.offset,
            "window",
            "is shorter than health.interval: it would never hold a sample",
        );
    }
    Some(Health {
        interval: interval?.value,
        timeout: timeout?.value,
        failure_threshold: failure_threshold?.value as u32,
        window: window?.value,
        error_rate: error_rate?,
        min_samples: min_samples?.value as u32,
        degraded_for: degraded_for?.value,
        slow: slow?.value,
        recover_after: recover_after?.value as u32,
        attempts: attempts?.value as u8,
        fail_on: fail_on?,
        flap_window: flap_window?.value,
        flap_changes: flap_changes?.value as u32,
        vantage: vantage?,
    })
}

fn failover(s: &mut Section<'_, '_>, base: &Base<'_>) -> Option<Failover> {
    let mode = s.choice("mode", &["automatic", "manual"], Some("automatic"));
    let cooldown = s.duration("cooldown", Some(Duration::from_secs(1800)));
    let approval_timeout = s.duration("approval_timeout", Some(Duration::from_secs(600)));
    let runbook = runbook_at(s, base, RunbookKind::Failover);
    let drill_runbook = runbook_key(s, base, "drill_runbook", RunbookKind::DrillStandby);
    let d = crate::retry::RetryPolicy::default();
    let attempts = s.int_in("attempts", 1, 100, Some(i64::from(d.attempts)));
    let retry_backoff = s.duration("retry_backoff", Some(d.backoff));
    let retry_max_backoff = s.duration("retry_max_backoff", Some(d.max_backoff));
    let escalate_after = s.int_in("escalate_after", 1, 100, Some(i64::from(d.escalate_after)));
    if let (Some(b), Some(m)) = (&retry_backoff, &retry_max_backoff)
        && m.value < b.value
    {
        s.error(
            m.offset,
            "retry_max_backoff",
            "is shorter than failover.retry_backoff: the first wait would already be over the cap",
        );
    }
    if let (Some(a), Some(e)) = (&attempts, &escalate_after)
        && e.value > a.value
    {
        s.error(
            e.offset,
            "escalate_after",
            format!(
                "is more than failover.attempts ({}): the early escalation would never go out",
                a.value
            ),
        );
    }
    let mode = if mode?.value == "manual" {
        Mode::Manual
    } else {
        Mode::Automatic
    };
    Some(Failover {
        mode,
        cooldown: cooldown?.value,
        runbook: runbook?,
        drill_runbook: drill_runbook?,
        approval_timeout: approval_timeout?.value,
        retry: crate::retry::RetryPolicy {
            attempts: attempts?.value as u32,
            backoff: retry_backoff?.value,
            max_backoff: retry_max_backoff?.value,
            escalate_after: escalate_after?.value as u32,
        },
    })
}

fn failback(s: &mut Section<'_, '_>, base: &Base<'_>) -> Option<Failback> {
    let runbook = runbook_at(s, base, RunbookKind::Failback);
    let mode = s.choice("mode", &["manual", "automatic"], Some("manual"));
    let stable_for = s.duration("stable_for", Some(Duration::from_secs(600)));
    Some(Failback {
        runbook: runbook?,
        mode: if mode?.value == "automatic" {
            Mode::Automatic
        } else {
            Mode::Manual
        },
        stable_for: stable_for?.value,
    })
}

fn runbook_at(s: &mut Section<'_, '_>, base: &Base<'_>, kind: RunbookKind) -> Option<Runbook> {
    runbook_key(s, base, "runbook", kind)
}

fn runbook_key(
    s: &mut Section<'_, '_>,
    base: &Base<'_>,
    key: &str,
    kind: RunbookKind,
) -> Option<Runbook> {
    match s.opt_str(key) {
        Some(At { value, offset }) => {
            let path: PathBuf = base.join(&value);
            match base.read(&path) {
                Ok(text) => runbook::compile(&Source::new(&path, text), kind, s.diags),
                Err(e) => {
                    s.error(offset, key, format!("cannot read {}: {e}", path.display()));
                    None
                }
            }
        }
        None if s.has(key) => None,
        None => default_runbook(kind, s),
    }
}

fn default_runbook(kind: RunbookKind, s: &mut Section<'_, '_>) -> Option<Runbook> {
    runbook::compile(&runbook::embedded(kind), kind, s.diags)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_annotated_example_config_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/standby.toml");
        let (cfg, warnings) = load(&path, &TestFiles).unwrap_or_else(|d| panic!("{d}"));
        assert!(warnings.items.is_empty(), "{warnings}");
        assert_eq!(cfg.service.rto, Duration::from_secs(300));
        assert_eq!(
            cfg.standby.asgs[0],
            AsgSpec {
                name: "gpu-usw2".into(),
                warm: 1,
                serving: 4,
                min_serving: 3,
                fallback: vec!["gpu-usw2-g6e".into()],
            }
        );
        assert_eq!(cfg.failover.runbook.steps.len(), 8);
        assert_eq!(cfg.dns.side_of("usw2.example.com."), Some(Side::Standby));
    }

    #[test]
    fn min_serving_and_fallback_errors_come_with_their_keys() {
        let cfg = |standby_asgs: &str| {
            from_text(
                Path::new("standby.toml"),
                &MINIMAL.replace(
                    "asgs = [{ name = \"b\", warm = 0, serving = 1 }]",
                    standby_asgs,
                ),
            )
        };
        let ok = cfg("asgs = [{ name = \"b\", warm = 1, serving = 3, min_serving = \"50%\", fallback = [\"b2\"] }]").unwrap();
        assert_eq!(ok.standby.asgs[0].min_serving, 2, "50% of 3, rounded up");
        assert_eq!(
            cfg("asgs = [{ name = \"b\", warm = 0, serving = 4 }]")
                .unwrap()
                .standby
                .asgs[0]
                .min_serving,
            4
        );
        for (asgs, says) in [
            (
                "asgs = [{ name = \"b\", warm = 0, serving = 4, min_serving = 5 }]",
                "min_serving: 5 is out of range (1..=4",
            ),
            (
                "asgs = [{ name = \"b\", warm = 0, serving = 4, min_serving = \"75\" }]",
                "min_serving: \"75\" is not a share",
            ),
            (
                "asgs = [{ name = \"b\", warm = 0, serving = 4, min_serving = \"0%\" }]",
                "is not a share",
            ),
            (
                "asgs = [{ name = \"b\", warm = 0, serving = 4, fallback = [\"b\"] }]",
                "lists itself as its fallback",
            ),
            (
                "asgs = [{ name = \"b\", warm = 0, serving = 4, fallback = [\"c\"] }, { name = \"c\", warm = 0, serving = 1 }]",
                "\"c\" is both a listed group and \"b\"'s fallback",
            ),
            (
                "asgs = [{ name = \"b\", warm = 0, serving = 4, fallback = [\"s\"] }, { name = \"c\", warm = 0, serving = 1, fallback = [\"s\"] }]",
                "\"s\" is the fallback of two groups",
            ),
        ] {
            let err = cfg(asgs).unwrap_err().to_string();
            assert!(err.contains(says), "{asgs}: {err}");
            assert!(err.contains("standby.toml:"), "{err}");
        }
    }

    #[test]
    fn the_issue_sample_warns_that_slow_never_fires() {
        let text = TestFiles
            .read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/standby.toml"))
            .unwrap()
            .replace("slow = \"800ms\"", "slow = \"3s\"");
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/standby.toml");
        let mut diags = Diagnostics::default();
        let src = Source::new(&path, text);
        assert!(compile(&src, &TestFiles, &mut diags).is_some());
        let w: Vec<String> = diags.warnings().map(|d| d.to_string()).collect();
        assert!(
            w.iter()
                .any(|w| w.contains("health.slow: 3.0s is not below health.timeout (1.0s)")),
            "{w:?}"
        );
    }

    #[test]
    fn defaults_fill_optional_sections() {
        let text = "[service]\nname = \"x\"\nrto = \"10m\"\nstate_dir = \"s\"\n[primary]\nregion = \"us-east-1\"\nendpoint = \"http://a/h\"\nasgs = [{ name = \"a\", warm = 0, serving = 1 }]\n[standby]\nregion = \"eu-west-1\"\nendpoint = \"http://b/h\"\nasgs = [{ name = \"b\", warm = 0, serving = 1 }]\n[dns]\nzone_id = \"/hostedzone/Z1\"\nname = \"api.x.\"\nprimary = \"a.x\"\nstandby = \"b.x\"\n";
        let cfg = from_text(Path::new("/etc/standby/standby.toml"), text)
            .unwrap_or_else(|d| panic!("{d}"));
        assert_eq!(cfg.dns.zone_id, "Z1");
        assert_eq!(cfg.health, Health::default());
        assert_eq!(cfg.failover.mode, Mode::Automatic);
        assert_eq!(cfg.service.reports_dir, Path::new("/etc/standby/s/reports"));
        assert!(
            cfg.failover
                .runbook
                .path
                .display()
                .to_string()
                .contains("built in")
        );
    }

    const MINIMAL: &str = "[service]\nname = \"chat\"\nrto = \"10m\"\nstate_dir = \"s\"\n[primary]\nregion = \"us-east-1\"\nendpoint = \"http://a/h\"\nasgs = [{ name = \"a\", warm = 0, serving = 1 }]\n[standby]\nregion = \"eu-west-1\"\nendpoint = \"http://b/h\"\nasgs = [{ name = \"b\", warm = 0, serving = 1 }]\n[dns]\nzone_id = \"Z1\"\nname = \"api.x.\"\nprimary = \"a.x\"\nstandby = \"b.x\"\n";

    #[test]
    fn a_shared_store_defaults_to_the_standby_region_and_the_service_prefix() {
        let text = format!("{MINIMAL}[state]\nbackend = \"s3\"\nbucket = \"chat-state\"\n");
        let cfg = from_text(Path::new("/etc/standby/standby.toml"), &text)
            .unwrap_or_else(|d| panic!("{d}"));
        assert_eq!(
            cfg.state,
            StateStore::S3 {
                bucket: "chat-state".into(),
                region: "eu-west-1".into(),
                prefix: "chat/".into(),
                instance: None,
            }
        );
        assert_eq!(cfg.lease, crate::lease::Rules::default());
        let file = from_text(Path::new("/etc/standby/standby.toml"), MINIMAL).unwrap();
        assert_eq!(file.state, StateStore::File);
    }

    #[test]
    fn readiness_and_cost_errors_come_all_at_once_with_their_keys() {
        let text = format!(
            "{MINIMAL}[readiness]\nevery = \"10s\"\npreflight = \"maybe\"\n[cost]\nprices = {{ \"p5.48xlarge\" = \"cheap\", \"g5.xlarge\" = 1.006 }}\nstorage_gb_month = -1\n"
        );
        let d = from_text(Path::new("/etc/standby/standby.toml"), &text)
            .unwrap_err()
            .to_string();
        for key in [
            "readiness.every",
            "readiness.preflight",
            "cost.prices.p5.48xlarge",
            "cost.storage_gb_month",
        ] {
            assert!(d.contains(key), "{key} missing from:\n{d}");
        }
        let text = format!(
            "{MINIMAL}[readiness]\nevery = \"10s\"\n[cost]\nprices = {{ \"p5e.48xlarge\" = 60 }}\n"
        );
        let d = from_text(Path::new("/etc/standby/standby.toml"), &text)
            .unwrap_err()
            .to_string();
        assert!(d.contains("readiness.every: at least 1m"), "{d}");
        let text = format!(
            "{MINIMAL}[readiness]\nevery = \"15m\"\ndrill_max_age = \"14d\"\npreflight = \"require\"\n[cost]\nprices = {{ \"p5e.48xlarge\" = 60 }}\n"
        );
        let cfg = from_text(Path::new("/etc/standby/standby.toml"), &text).unwrap();
        assert_eq!(cfg.readiness.every, Duration::from_secs(900));
        assert!(cfg.readiness.require);
        assert_eq!(
            crate::cost::hourly(&cfg.cost, "p5e.48xlarge"),
            Some((60.0, "[cost] prices"))
        );
    }

    #[test]
    fn prewarm_is_off_by_default_and_its_errors_come_all_at_once() {
        let cfg = from_text(Path::new("/etc/standby/standby.toml"), MINIMAL).unwrap();
        assert!(!cfg.prewarm.enabled);
        let text = format!(
            "{MINIMAL}[prewarm]\nenabled = \"yes\"\nerror_rate = 2\nthrottled_rate = 0\nhold = \"0s\"\nmax_monthly_usd = -5\nsustain = \"soon\"\n"
        );
        let d = from_text(Path::new("/etc/standby/standby.toml"), &text)
            .unwrap_err()
            .to_string();
        for key in [
            "prewarm.enabled",
            "prewarm.error_rate",
            "prewarm.throttled_rate",
            "prewarm.hold",
            "prewarm.max_monthly_usd",
            "prewarm.sustain",
        ] {
            assert!(d.contains(key), "{key} missing from:\n{d}");
        }
        let text = format!("{MINIMAL}[prewarm]\nenabled = true\nhold = \"5m\"\n");
        let cfg = from_text(Path::new("/etc/standby/standby.toml"), &text).unwrap();
        let rules = crate::prewarm::Rules::derive(&cfg.prewarm, &cfg.health);
        assert_eq!(rules.hold, std::time::Duration::from_secs(300));
        assert_eq!(rules.error_rate, cfg.health.error_rate / 2.0);
        assert_eq!(rules.throttled_rate, None);
    }

    #[test]
    fn state_and_lease_errors_come_all_at_once_with_their_keys() {
        let text = format!(
            "{MINIMAL}[state]\nbackend = \"s3\"\nbucket = \"Bad_Bucket\"\nregion = \"mars\"\nprefix = \"/x\"\ninstance = \"a b\"\n[lease]\nttl = \"10s\"\nrenew = \"6s\"\n"
        );
        let d = from_text(Path::new("/etc/standby/standby.toml"), &text)
            .unwrap_err()
            .to_string();
        for key in [
            "state.bucket",
            "state.region",
            "state.prefix",
            "state.instance",
            "lease.renew",
        ] {
            assert!(d.contains(key), "{key} missing from:\n{d}");
        }
        let text = format!(
            "{MINIMAL}[state]\nbackend = \"s3\"\nbucket = \"art-b\"\nprefix = \"prompts/state/\"\n[[artifacts]]\nname = \"prompts\"\nprefix = \"prompts/\"\nprimary_bucket = \"art-a\"\nstandby_bucket = \"art-b\"\nschedule = \"*/5 * * * *\"\nrpo = \"10m\"\n"
        );
        let d = from_text(Path::new("/etc/standby/standby.toml"), &text)
            .unwrap_err()
            .to_string();
        assert!(d.contains("overlaps artifact set \"prompts\""), "{d}");
        let text = format!("{MINIMAL}[state]\nbucket = \"x-state\"\n");
        let d = from_text(Path::new("/etc/standby/standby.toml"), &text)
            .unwrap_err()
            .to_string();
        assert!(
            d.contains("state.bucket: only used with backend = \"s3\""),
            "{d}"
        );
        let text = format!("{MINIMAL}[lease]\nttl = \"10s\"\n");
        let mut diags = Diagnostics::default();
        let src = Source::new(Path::new("/etc/standby/standby.toml"), text);
        assert!(compile(&src, &NoFiles, &mut diags).is_some());
        let w: Vec<String> = diags.warnings().map(|d| d.to_string()).collect();
        assert!(w.iter().any(|w| w.contains("lease: unused")), "{w:?}");
    }
}
