//! `[dns]` and `[dns.gate]`: the name traffic follows, and how a flip moves it: an UPSERT
//! through Route 53's control plane (`method = "record"`), or a gate object the failover
//! records' health check reads (`method = "failover_records"`: data plane only).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use super::{Dns, DnsMethod, Gate, RecordType, Region, Service};
use crate::doc::Section;

/// The one region that serves Route 53's control plane (ChangeResourceRecordSets, GetChange,
/// ListResourceRecordSets, the health-check API).
pub const CONTROL_PLANE_REGION: &str = "us-east-1";

/// Why a `record` flip is fragile when the primary lives where the control plane does: for
/// `validate` and `status`.
pub fn control_plane_warning(dns: &Dns, primary: &Region) -> Option<String> {
    (dns.method == DnsMethod::Record && primary.region == CONTROL_PLANE_REGION).then(|| {
        format!(
            "method = \"record\" flips DNS through Route 53's control plane, which is served from {CONTROL_PLANE_REGION} only, the primary's region: the regional event a failover exists for can take the flip down with it. method = \"failover_records\" flips through the data plane (a gate object in the standby region read by a Route 53 health check); see README \"Failing over when us-east-1 is down\""
        )
    })
}

pub fn dns(
    s: &mut Section<'_, '_>,
    service: Option<&Service>,
    standby: Option<&Region>,
) -> Option<Dns> {
    let zone_id = s.req_str("zone_id");
    let name = s.req_str("name");
    let record_type = s.choice("type", &["CNAME", "A", "AAAA"], Some("CNAME"));
    let ttl = s.int_in("ttl", 0, 172_800, Some(60));
    let primary_value = s.req_str("primary");
    let standby_value = s.req_str("standby");
    if let (Some(p), Some(st)) = (&primary_value, &standby_value)
        && p.value.trim_end_matches('.') == st.value.trim_end_matches('.')
    {
        s.error(
            st.offset,
            "standby",
            "is the same value as dns.primary: a flip would change nothing",
        );
    }
    let record_type = match record_type?.value.as_str() {
        "A" => RecordType::A,
        "AAAA" => RecordType::Aaaa,
        _ => RecordType::Cname,
    };
    if record_type != RecordType::Cname {
        for (key, v) in [("primary", &primary_value), ("standby", &standby_value)] {
            if let Some(v) = v {
                let ok = match record_type {
                    RecordType::A => v.value.parse::<std::net::Ipv4Addr>().is_ok(),
                    _ => v.value.parse::<std::net::Ipv6Addr>().is_ok(),
                };
                if !ok {
                    s.error(
                        v.offset,
                        key,
                        format!(
                            "{:?} is not an address for a {} record",
                            v.value,
                            record_type.as_str()
                        ),
                    );
                }
            }
        }
    }
    let resolvers = resolvers(s);
    let method = s.choice("method", &["record", "failover_records"], Some("record"));
    let method = match method.as_ref().map(|m| m.value.as_str()) {
        Some("failover_records") => match s.table("gate", false) {
            Some(mut g) => {
                let out = gate(&mut g, service, standby);
                g.finish();
                out.map(DnsMethod::FailoverRecords)
            }
            None => {
                let off = method.as_ref().map_or(s.offset, |m| m.offset);
                s.error(off, "gate", "method = \"failover_records\" needs [dns.gate] with the bucket the PRIMARY record's health check reads (in the standby region)");
                None
            }
        },
        Some(_) => {
            if s.has("gate") {
                let off = s.offset;
                let _ = s.table("gate", false);
                s.error(off, "gate", "only used with method = \"failover_records\"");
            }
            Some(DnsMethod::Record)
        }
        None => None,
    };
    let (resolvers, resolvers_set) = resolvers?;
    Some(Dns {
        zone_id: zone_id?
            .value
            .trim_start_matches("/hostedzone/")
            .to_string(),
        name: name?.value,
        record_type,
        ttl: ttl?.value as u32,
        primary: primary_value?.value,
        standby: standby_value?.value,
        method: method?,
        resolvers,
        resolvers_set,
    })
}

/// `resolvers`: addresses only (naming a resolver would need a resolver); port 53 by default.
fn resolvers(s: &mut Section<'_, '_>) -> Option<(Vec<SocketAddr>, bool)> {
    if !s.has("resolvers") {
        return Some((vec![], false));
    }
    let items = s.strings("resolvers")?;
    let mut out = Vec::new();
    let mut ok = true;
    for (i, r) in items.iter().enumerate() {
        match parse_resolver(&r.value) {
            Some(a) => out.push(a),
            None => {
                ok = false;
                s.error(
                    r.offset,
                    &format!("resolvers[{i}]"),
                    format!(
                        "{:?} is not a DNS server address (\"10.0.0.2\", \"10.0.0.2:53\" or \"[fd00::2]:53\")",
                        r.value
                    ),
                );
            }
        }
    }
    ok.then_some((out, true))
}

pub fn parse_resolver(text: &str) -> Option<SocketAddr> {
    text.parse::<SocketAddr>().ok().or_else(|| {
        text.parse::<IpAddr>()
            .ok()
            .map(|ip| SocketAddr::new(ip, 53))
    })
}

fn gate(
    g: &mut Section<'_, '_>,
    service: Option<&Service>,
    standby: Option<&Region>,
) -> Option<Gate> {
    let bucket = g.req_str("bucket");
    super::compile::check_bucket(g, "bucket", bucket.as_ref());
    let region = g.opt_str("region");
    super::compile::check_region(g, "region", region.as_ref());
    let key = g.opt_str("key");
    if let Some(k) = &key
        && (k.value.is_empty() || k.value.starts_with('/') || k.value.ends_with('/'))
    {
        g.error(
            k.offset,
            "key",
            format!(
                "{:?} must be an object key (not empty, no leading or trailing '/')",
                k.value
            ),
        );
    }
    let health_check_id = g.opt_str("health_check_id");
    let interval = g.duration("check_interval", Some(Duration::from_secs(10)));
    if let Some(i) = &interval
        && i.value != Duration::from_secs(10)
        && i.value != Duration::from_secs(30)
    {
        g.error(
            i.offset,
            "check_interval",
            "must be \"10s\" or \"30s\": the request intervals Route 53 health checks allow",
        );
    }
    let threshold = g.int_in("failure_threshold", 1, 10, Some(1));
    let region = match region {
        Some(r) => r.value,
        // The standby region: the one that must be up when the primary's is not.
        None => standby?.region.clone(),
    };
    if let Some(st) = standby
        && region != st.region
    {
        let off = g.offset;
        g.warning(
            off,
            "region",
            format!(
                "the gate is in {region}, not the standby region {}: a failover then also depends on {region}",
                st.region
            ),
        );
    }
    let key = match key {
        Some(k) => k.value,
        None => format!("standby-gate/{}", service?.name),
    };
    Some(Gate {
        bucket: bucket?.value,
        region,
        key,
        health_check_id: health_check_id.map(|h| h.value),
        check_interval: interval?.value,
        failure_threshold: threshold?.value as u32,
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::compile::{compile, from_text};
    use crate::config::{NoFiles, Side};
    use crate::diag::{Diagnostics, Source};

    const BASE: &str = "[service]\nname = \"chat\"\nrto = \"10m\"\nstate_dir = \"s\"\n[primary]\nregion = \"us-east-1\"\nendpoint = \"http://a/h\"\nasgs = [{ name = \"a\", warm = 0, serving = 1 }]\n[standby]\nregion = \"eu-west-1\"\nendpoint = \"http://b/h\"\nasgs = [{ name = \"b\", warm = 0, serving = 1 }]\n[dns]\nzone_id = \"Z1\"\nname = \"api.x.\"\nprimary = \"a.x\"\nstandby = \"b.x\"\n";

    fn path() -> &'static Path {
        Path::new("/etc/standby/standby.toml")
    }

    fn warnings(text: &str) -> Vec<String> {
        let mut diags = Diagnostics::default();
        let src = Source::new(path(), text.to_string());
        assert!(compile(&src, &NoFiles, &mut diags).is_some());
        diags.warnings().map(|d| d.to_string()).collect()
    }

    #[test]
    fn a_gate_defaults_to_the_standby_region_the_service_key_and_a_10s_check() {
        let text = format!(
            "{BASE}method = \"failover_records\"\nresolvers = [\"10.0.0.2\", \"127.0.0.1:5300\"]\n[dns.gate]\nbucket = \"art-b\"\n"
        );
        let cfg = from_text(path(), &text).unwrap_or_else(|d| panic!("{d}"));
        let DnsMethod::FailoverRecords(g) = &cfg.dns.method else {
            panic!("{:?}", cfg.dns.method)
        };
        assert_eq!(g.region, "eu-west-1");
        assert_eq!(g.key, "standby-gate/chat");
        assert_eq!(g.check_interval, Duration::from_secs(10));
        assert_eq!(g.failure_threshold, 1);
        assert_eq!(g.reaction_bound(), Duration::from_secs(20));
        assert_eq!(
            cfg.dns.resolvers,
            vec![
                "10.0.0.2:53".parse::<SocketAddr>().unwrap(),
                "127.0.0.1:5300".parse().unwrap()
            ]
        );
        assert!(cfg.dns.resolvers_set);
        // The primary is in us-east-1, but nothing of the flip needs the control plane.
        assert!(warnings(&text).iter().all(|w| !w.contains("dns.method")));
    }

    #[test]
    fn the_record_method_with_the_primary_in_us_east_1_is_warned_about() {
        let cfg = from_text(path(), BASE).unwrap_or_else(|d| panic!("{d}"));
        let w = control_plane_warning(&cfg.dns, &cfg.primary).unwrap();
        assert!(
            w.contains("us-east-1 only") && w.contains("failover_records"),
            "{w}"
        );
        let elsewhere = BASE.replace("region = \"us-east-1\"", "region = \"us-east-2\"");
        let cfg = from_text(path(), &elsewhere).unwrap();
        assert!(control_plane_warning(&cfg.dns, &cfg.primary).is_none());
        // Not a diagnostic of the file: every command would print it.
        assert!(warnings(BASE).iter().all(|w| !w.contains("dns.method")));
    }

    #[test]
    fn gate_errors_come_all_at_once_with_their_keys() {
        let text = format!(
            "{BASE}method = \"failover_records\"\nresolvers = [\"ns1.example.com\"]\n[dns.gate]\nbucket = \"Bad_Bucket\"\nkey = \"/x/\"\ncheck_interval = \"15s\"\nfailure_threshold = 11\n"
        );
        let d = from_text(path(), &text).unwrap_err().to_string();
        for want in [
            "dns.resolvers[0]: \"ns1.example.com\" is not a DNS server address",
            "dns.gate.bucket: \"Bad_Bucket\" is not a valid S3 bucket name",
            "dns.gate.key: \"/x/\" must be an object key",
            "dns.gate.check_interval: must be \"10s\" or \"30s\"",
            "dns.gate.failure_threshold",
        ] {
            assert!(d.contains(want), "{want}\n{d}");
        }
        let d = from_text(path(), &format!("{BASE}method = \"failover_records\"\n"))
            .unwrap_err()
            .to_string();
        assert!(d.contains("needs [dns.gate]"), "{d}");
        let d = from_text(path(), &format!("{BASE}[dns.gate]\nbucket = \"art-b\"\n"))
            .unwrap_err()
            .to_string();
        assert!(
            d.contains("only used with method = \"failover_records\""),
            "{d}"
        );
    }

    #[test]
    fn a_gate_under_a_synced_prefix_is_refused() {
        let text = format!(
            "{BASE}method = \"failover_records\"\n[dns.gate]\nbucket = \"art-b\"\nkey = \"prompts/gate\"\n[[artifacts]]\nname = \"prompts\"\nprefix = \"prompts/\"\nprimary_bucket = \"art-a\"\nstandby_bucket = \"art-b\"\nschedule = \"*/5 * * * *\"\nrpo = \"10m\"\n"
        );
        let d = from_text(path(), &text).unwrap_err().to_string();
        assert!(
            d.contains("the sync would copy over or delete the gate"),
            "{d}"
        );
    }

    #[test]
    fn the_gate_fails_safe_to_the_primary() {
        assert_eq!(Gate::side_of(&Gate::body(Side::Standby)), Side::Standby);
        assert_eq!(Gate::side_of(&Gate::body(Side::Primary)), Side::Primary);
        // An error page, an empty object, anything but the standby's exact word: the primary.
        assert_eq!(
            Gate::side_of("<Error><Code>AccessDenied</Code></Error>"),
            Side::Primary
        );
        assert_eq!(Gate::side_of(""), Side::Primary);
    }
}
