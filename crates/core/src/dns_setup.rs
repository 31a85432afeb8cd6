//! Whether the failover records and their health check agree with the gate (`method =
//! "failover_records"`): read from Route 53's control plane while it answers, remembered for
//! when it does not. A setup that disagrees would let a flip write the gate and move nothing.

use chrono::{DateTime, Utc};

use crate::check::Check;
use crate::config::{Config, DnsMethod, Gate, Side};

/// The name's record sets of the configured type, as Route 53 holds them.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FailoverSetup {
    pub records: Vec<FailoverRecord>,
    /// The PRIMARY record's health check (`dns.gate.health_check_id`, or the one the record
    /// names).
    pub check: Option<HealthCheckSetup>,
    /// Set when this is a remembered reading, not one made now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FailoverRecord {
    /// `PRIMARY`, `SECONDARY`, or `None` for a simple record.
    pub role: Option<String>,
    pub value: String,
    pub health_check_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct HealthCheckSetup {
    pub id: String,
    pub kind: String,
    pub fqdn: Option<String>,
    pub path: Option<String>,
    pub search: Option<String>,
    pub inverted: bool,
    pub interval_s: i32,
    pub threshold: i32,
}

/// The preflight's checks of the setup. `unread`: why it could not be read now (then `setup` is
/// the remembered one, if any).
pub fn checks(cfg: &Config, setup: Option<&FailoverSetup>, unread: Option<&str>) -> Vec<Check> {
    let DnsMethod::FailoverRecords(gate) = &cfg.dns.method else {
        return vec![];
    };
    let Some(setup) = setup else {
        return vec![Check {
            name: "failover records".into(),
            ok: true,
            warning: true,
            reason: format!(
                "not verified: Route 53 could not be read now ({}) and no earlier reading is recorded; the flip writes the gate regardless",
                unread.unwrap_or("no reading")
            ),
        }];
    };
    let when = match (setup.read_at, unread) {
        (Some(t), Some(why)) => format!(
            " (as recorded at {}: Route 53 could not be read now: {why})",
            t.to_rfc3339()
        ),
        _ => String::new(),
    };
    let remembered = setup.read_at.is_some();
    let mut out = Vec::new();
    let mut push = |name: &str, problem: Option<String>, ok_text: String, fatal: bool| {
        out.push(Check {
            name: name.to_string(),
            ok: problem.is_none() || !fatal,
            warning: remembered || (problem.is_some() && !fatal),
            reason: format!("{}{when}", problem.unwrap_or(ok_text)),
        })
    };
    let role = |r: &str| setup.records.iter().find(|x| x.role.as_deref() == Some(r));
    let primary = role("PRIMARY");
    let secondary = role("SECONDARY");
    let simple = setup.records.iter().find(|x| x.role.is_none());
    let dns = &cfg.dns;
    push(
        "failover record PRIMARY",
        match primary {
            None => Some(match simple {
                Some(s) => format!(
                    "{} is a simple record ({}), not failover records: a gate write would move nothing (terraform/modules/dns makes them)",
                    dns.name, s.value
                ),
                None => format!("no PRIMARY failover record for {}", dns.name),
            }),
            Some(p) if dns.side_of(&p.value) != Some(Side::Primary) => Some(format!(
                "answers {}, not dns.primary ({})",
                p.value, dns.primary
            )),
            Some(p) if p.health_check_id.is_none() => {
                Some("has no health check: Route 53 would answer it whatever the gate says".into())
            }
            Some(p)
                if gate
                    .health_check_id
                    .as_ref()
                    .is_some_and(|id| p.health_check_id.as_ref() != Some(id)) =>
            {
                Some(format!(
                    "is checked by {}, not dns.gate.health_check_id ({})",
                    p.health_check_id.as_deref().unwrap_or("-"),
                    gate.health_check_id.as_deref().unwrap_or("-")
                ))
            }
            Some(_) => None,
        },
        format!("{} -> {}, gated", dns.name, dns.primary),
        true,
    );
    push(
        "failover record SECONDARY",
        match secondary {
            None => Some(format!("no SECONDARY failover record for {}", dns.name)),
            Some(s) if dns.side_of(&s.value) != Some(Side::Standby) => Some(format!(
                "answers {}, not dns.standby ({})",
                s.value, dns.standby
            )),
            _ => None,
        },
        format!("{} -> {}", dns.name, dns.standby),
        true,
    );
    let (problem, minor) = match &setup.check {
        None => (
            Some("the PRIMARY record's health check could not be read".to_string()),
            None,
        ),
        Some(c) => (gate_check_problem(gate, c), timing_problem(gate, c)),
    };
    push(
        "gate health check",
        problem,
        format!(
            "inverted {} for {:?} on s3://{}/{}",
            setup.check.as_ref().map_or("", |c| c.kind.as_str()),
            Gate::SEARCH,
            gate.bucket,
            gate.key
        ),
        true,
    );
    if let Some(m) = minor {
        push("gate health check timing", Some(m), String::new(), false);
    }
    out
}

/// What makes the health check not read the gate the way the flip writes it.
fn gate_check_problem(gate: &Gate, c: &HealthCheckSetup) -> Option<String> {
    let mut wrong = Vec::new();
    if c.kind != "HTTPS_STR_MATCH" && c.kind != "HTTP_STR_MATCH" {
        wrong.push(format!("type {} (want HTTPS_STR_MATCH)", c.kind));
    }
    let host = format!("{}.s3.{}.amazonaws.com", gate.bucket, gate.region);
    if c.fqdn.as_deref() != Some(host.as_str()) {
        wrong.push(format!(
            "host {} (want {host})",
            c.fqdn.as_deref().unwrap_or("-")
        ));
    }
    let path = format!("/{}", gate.key);
    if c.path.as_deref() != Some(path.as_str()) {
        wrong.push(format!(
            "path {} (want {path})",
            c.path.as_deref().unwrap_or("-")
        ));
    }
    if c.search.as_deref() != Some(Gate::SEARCH) {
        wrong.push(format!(
            "search string {:?} (want {:?})",
            c.search.as_deref().unwrap_or(""),
            Gate::SEARCH
        ));
    }
    if !c.inverted {
        wrong.push("not inverted (an unreachable gate would then move traffic)".into());
    }
    (!wrong.is_empty()).then(|| format!("health check {}: {}", c.id, wrong.join(", ")))
}

/// Interval or threshold other than the config's: the RTO estimates are off, the flip works.
fn timing_problem(gate: &Gate, c: &HealthCheckSetup) -> Option<String> {
    let interval = gate.check_interval.as_secs() as i32;
    ((c.interval_s, c.threshold) != (interval, gate.failure_threshold as i32)).then(|| {
        format!(
            "health check {} runs every {}s with threshold {}, the config says {}s and {}: estimates use the config's",
            c.id, c.interval_s, c.threshold, interval, gate.failure_threshold
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> Config {
        let text = "[service]\nname = \"chat\"\nrto = \"10m\"\nstate_dir = \"s\"\n[primary]\nregion = \"us-east-1\"\nendpoint = \"http://a/h\"\nasgs = [{ name = \"a\", warm = 0, serving = 1 }]\n[standby]\nregion = \"us-west-2\"\nendpoint = \"http://b/h\"\nasgs = [{ name = \"b\", warm = 0, serving = 1 }]\n[dns]\nzone_id = \"Z1\"\nname = \"api.x.\"\nprimary = \"a.x\"\nstandby = \"b.x\"\nmethod = \"failover_records\"\n[dns.gate]\nbucket = \"art-b\"\nhealth_check_id = \"hc-1\"\n";
        crate::config::compile::from_text(std::path::Path::new("/s.toml"), text)
            .unwrap_or_else(|d| panic!("{d}"))
    }

    fn good() -> FailoverSetup {
        let rec = |role: &str, value: &str, hc: Option<&str>| FailoverRecord {
            role: Some(role.into()),
            value: value.into(),
            health_check_id: hc.map(str::to_string),
        };
        FailoverSetup {
            records: vec![
                rec("PRIMARY", "a.x", Some("hc-1")),
                rec("SECONDARY", "b.x", None),
            ],
            check: Some(HealthCheckSetup {
                id: "hc-1".into(),
                kind: "HTTPS_STR_MATCH".into(),
                fqdn: Some("art-b.s3.us-west-2.amazonaws.com".into()),
                path: Some("/standby-gate/chat".into()),
                search: Some(Gate::SEARCH.into()),
                inverted: true,
                interval_s: 10,
                threshold: 1,
            }),
            read_at: None,
        }
    }

    #[test]
    fn a_setup_that_reads_the_gate_passes() {
        let c = checks(&cfg(), Some(&good()), None);
        assert_eq!(c.len(), 3, "{c:#?}");
        assert!(c.iter().all(|c| c.ok && !c.warning), "{c:#?}");
    }

    #[test]
    fn a_check_that_would_move_traffic_on_an_unreachable_gate_fails_with_every_reason() {
        let mut s = good();
        let hc = s.check.as_mut().unwrap();
        hc.inverted = false;
        hc.path = Some("/gate".into());
        let c = checks(&cfg(), Some(&s), None);
        let gate = c.iter().find(|c| c.name == "gate health check").unwrap();
        assert!(!gate.ok);
        assert!(
            gate.reason.contains("not inverted") && gate.reason.contains("path /gate"),
            "{}",
            gate.reason
        );
    }

    #[test]
    fn a_simple_record_or_a_wrong_value_is_named() {
        let mut s = good();
        s.records = vec![FailoverRecord {
            role: None,
            value: "a.x".into(),
            health_check_id: None,
        }];
        let c = checks(&cfg(), Some(&s), None);
        assert!(
            c[0].reason.contains("is a simple record"),
            "{}",
            c[0].reason
        );
        assert!(!c[0].ok && !c[1].ok);
        let mut s = good();
        s.records[1].value = "elsewhere.x".into();
        let c = checks(&cfg(), Some(&s), None);
        assert!(
            !c[1].ok && c[1].reason.contains("not dns.standby"),
            "{c:#?}"
        );
    }

    #[test]
    fn timing_that_differs_is_a_warning_and_a_remembered_reading_says_when() {
        let mut s = good();
        s.check.as_mut().unwrap().interval_s = 30;
        s.read_at = Some(chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap());
        let c = checks(&cfg(), Some(&s), Some("Route 53 did not answer within 3s"));
        let t = c
            .iter()
            .find(|c| c.name == "gate health check timing")
            .unwrap();
        assert!(t.ok && t.warning, "{t:#?}");
        assert!(
            c.iter()
                .all(|c| c.warning && c.reason.contains("as recorded at 2027-01-15")),
            "{c:#?}"
        );
        let none = checks(&cfg(), None, Some("503"));
        assert!(
            none[0].ok && none[0].warning && none[0].reason.contains("not verified"),
            "{none:#?}"
        );
    }
}
