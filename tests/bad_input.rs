//! A corpus of bad configs and runbooks: each exits 2 with a message naming file:line and key, and
//! no AWS call is made (the configured AWS endpoint is a listener that counts connections).

mod common;

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::*;

#[derive(Clone, Copy)]
enum Target {
    Config,
    Failover,
    Failback,
    Drill,
}

struct Case {
    name: &'static str,
    target: Target,
    from: &'static str,
    to: &'static str,
    /// Text whose line the error must point at (`None`: only the file name is checked).
    anchor: Option<&'static str>,
    expect: &'static str,
}

const fn case(
    name: &'static str,
    target: Target,
    from: &'static str,
    to: &'static str,
    anchor: Option<&'static str>,
    expect: &'static str,
) -> Case {
    Case {
        name,
        target,
        from,
        to,
        anchor,
        expect,
    }
}

use Target::*;

/// A directory with the test runbooks and a valid config whose AWS endpoint is `aws` (edited
/// by `edit`): `(dir, path of standby.toml)`.
fn config_dir(
    name: &str,
    aws: &str,
    edit: impl FnOnce(String) -> String,
) -> (TempDir, std::path::PathBuf) {
    let dir = TempDir::new(name);
    write_runbooks(&dir.0);
    let config = config_text(aws, "Z1", "http://127.0.0.1:9/h", "http://127.0.0.1:9/h");
    let path = dir.0.join("standby.toml");
    std::fs::write(&path, edit(config)).unwrap();
    (dir, path)
}

const CASES: &[Case] = &[
    case(
        "bad duration",
        Config,
        "interval = \"200ms\"",
        "interval = \"2x\"",
        Some("interval = \"2x\""),
        "health.interval: \"2x\" is not a duration",
    ),
    case(
        "missing key",
        Config,
        "zone_id = ",
        "zone_idx = ",
        Some("[dns]"),
        "dns.zone_id: is required",
    ),
    case(
        "typo is an unknown key",
        Config,
        "failure_threshold = 2",
        "failure_treshold = 2",
        Some("failure_treshold"),
        "health.failure_treshold: unknown key (did you mean \"failure_threshold\"?)",
    ),
    case(
        "wrong type",
        Config,
        "ttl = 5",
        "ttl = \"5\"",
        Some("ttl = \"5\""),
        "dns.ttl: expected an integer, found a string",
    ),
    case(
        "error rate as percent",
        Config,
        "recover_after = 2",
        "recover_after = 2\nerror_rate = 5",
        Some("error_rate = 5"),
        "health.error_rate: 5 must be a fraction between 0 and 1",
    ),
    case(
        "a round without a request",
        Config,
        "recover_after = 2",
        "recover_after = 2\nattempts = 0",
        Some("attempts = 0"),
        "health.attempts:",
    ),
    case(
        "a flap window of nothing",
        Config,
        "recover_after = 2",
        "recover_after = 2\nflap_window = \"0s\"",
        Some("flap_window = \"0s\""),
        "health.flap_window: must be greater than zero",
    ),
    case(
        "unknown mode",
        Config,
        "mode = \"automatic\"",
        "mode = \"auto\"",
        Some("mode = \"auto\""),
        "failover.mode: \"auto\" is not one of \"automatic\", \"manual\"",
    ),
    case(
        "bad region",
        Config,
        "region = \"us-east-1\"",
        "region = \"mars-1\"",
        Some("mars-1"),
        "primary.region: \"mars-1\" is not an AWS region name",
    ),
    case(
        "non-http endpoint",
        Config,
        "[standby]\nregion = \"us-west-2\"\nendpoint = \"",
        "[standby]\nregion = \"us-west-2\"\nendpoint = \"ftp://",
        Some("ftp://"),
        "standby.endpoint: \"ftp://",
    ),
    case(
        "warm above serving",
        Config,
        "name = \"gpu-usw2\", warm = 1",
        "name = \"gpu-usw2\", warm = 5",
        Some("warm = 5"),
        "standby.asgs[0].warm: 5 is above serving (4)",
    ),
    case(
        "same value both sides",
        Config,
        "standby = \"usw2.example.com\"",
        "standby = \"use1.example.com\"",
        Some("standby = \"use1"),
        "dns.standby: is the same value as dns.primary",
    ),
    case(
        "credentials in the file",
        Config,
        "max_attempts = 1",
        "max_attempts = 1\nsecret_access_key = \"x\"",
        Some("[aws]"),
        "aws.secret_access_key: credentials never come from the config file",
    ),
    case(
        "TOML syntax",
        Config,
        "name = \"chat\"",
        "name = \"chat",
        Some("name = \"chat"),
        "TOML syntax",
    ),
    case(
        "runbook file missing",
        Config,
        "runbook = \"runbooks/failover.toml\"",
        "runbook = \"runbooks/nope.toml\"",
        Some("nope.toml"),
        "failover.runbook: cannot read",
    ),
    case(
        "probe_error cannot trigger",
        Config,
        "recover_after = 2",
        "recover_after = 2\nfail_on = [\"timeout\", \"probe_error\"]",
        Some("fail_on"),
        "health.fail_on: probe_error means our probe is broken",
    ),
    case(
        "zero RTO",
        Config,
        "rto = \"1m\"",
        "rto = \"0s\"",
        Some("rto = \"0s\""),
        "service.rto: must be greater than zero",
    ),
    case(
        "unknown action",
        Failover,
        "action = \"scale_asgs\"",
        "action = \"reboot_region\"",
        Some("reboot_region"),
        "steps[3].action: \"reboot_region\" is not one of",
    ),
    case(
        "flip after a verify that may fail",
        Failover,
        "budget = 0.2\non_failure = \"abort\"",
        "budget = 0.2\non_failure = \"continue\"",
        None,
        "flip_dns to standby has no earlier `verify` of standby",
    ),
    case(
        "budgets over the objective",
        Failover,
        "budget = 0.35",
        "budget = 0.95",
        None,
        "budgets add up to 1.55",
    ),
    case(
        "zero successes",
        Failover,
        "successes = 3",
        "successes = 0",
        Some("successes = 0"),
        "steps[4].successes: 0 is out of range",
    ),
    case(
        "wrong side in runbook",
        Failover,
        "to = \"standby\"",
        "to = \"primary\"",
        Some("to = \"primary\""),
        "a failover runbook moves traffic to the standby, not the primary",
    ),
    case(
        "final sync in a failback runbook",
        Target::Failback,
        "action = \"reverse_sync\"",
        "action = \"final_sync\"",
        Some("action = \"final_sync\""),
        "final_sync copies primary → standby; a failback runbook wants reverse_sync",
    ),
    case(
        "bad cron schedule",
        Config,
        "schedule = \"*/5 * * * *\"",
        "schedule = \"every 5 minutes\"",
        Some("every 5 minutes"),
        "artifacts[0].schedule: \"every 5 minutes\" is not a cron schedule",
    ),
    case(
        "set without a bucket",
        Config,
        "bucket = \"artifacts-use1\"\n",
        "",
        Some("[[artifacts]]"),
        "artifacts[0].primary_bucket: no bucket",
    ),
    case(
        "runbook typo",
        Failover,
        "on_failure = \"abort\"",
        "on_falure = \"abort\"",
        Some("on_falure"),
        "steps[0].on_falure: unknown key",
    ),
    case(
        "unterminated environment reference",
        Config,
        "Bearer ${STANDBY_TEST_PROBE_KEY}",
        "Bearer ${STANDBY_TEST_PROBE_KEY",
        Some("Authorization = "),
        "probes.headers.Authorization: \"Bearer ${STANDBY_TEST_PROBE_KEY\": \"${\" without a closing \"}\"",
    ),
    case(
        "version of an unknown artifact set",
        Config,
        "weights = { pointer",
        "weight = { pointer",
        Some("weight = { pointer"),
        "probes.artifact_version.weight: no artifact set named \"weight\" (configured: prompts, weights)",
    ),
    case(
        "unknown drill kind",
        Config,
        "[probes]\n",
        "[[drills]]\nkind = \"weekly\"\nschedule = \"0 3 * * 1\"\n\n[probes]\n",
        Some("kind = \"weekly\""),
        "drills[0].kind: \"weekly\" is not one of \"standby\", \"full\"",
    ),
    case(
        "a standby drill that flips DNS",
        Drill,
        "action = \"smoke\"           # a real inference request: status, latency, answer, artifact versions\nside = \"standby\"",
        "action = \"flip_dns\"\nto = \"standby\"",
        Some("action = \"flip_dns\""),
        "a standby drill never touches DNS",
    ),
];

#[test]
fn every_bad_input_exits_2_naming_file_line_and_key_without_touching_aws() {
    let aws = TcpListener::bind("127.0.0.1:0").unwrap();
    aws.set_nonblocking(true).unwrap();
    let aws_url = format!("http://{}", aws.local_addr().unwrap());
    let connections = Arc::new(AtomicUsize::new(0));
    assert!(CASES.len() >= 15);

    for c in CASES {
        let dir = TempDir::new("bad");
        let mut config = config_text(
            &aws_url,
            "Z0123456789",
            "http://127.0.0.1:9/health",
            "http://127.0.0.1:9/health",
        );
        write_runbooks(&dir.0);
        let rb_path = dir.0.join("runbooks/failover.toml");
        let fb_path = dir.0.join("runbooks/failback.toml");
        let drill_path = dir.0.join("runbooks/drill-standby.toml");
        let mut runbook = std::fs::read_to_string(&rb_path).unwrap();
        let mut failback = std::fs::read_to_string(&fb_path).unwrap();
        let mut drill = std::fs::read_to_string(&drill_path).unwrap();
        let (text, file) = match c.target {
            Config => (&mut config, "standby.toml"),
            Failover => (&mut runbook, "failover.toml"),
            Target::Failback => (&mut failback, "failback.toml"),
            Drill => (&mut drill, "drill-standby.toml"),
        };
        assert!(
            text.contains(c.from),
            "case {:?}: {:?} not in the base text",
            c.name,
            c.from
        );
        *text = text.replacen(c.from, c.to, 1);
        let prefix = match c.anchor {
            Some(a) => {
                let line = text
                    .lines()
                    .position(|l| l.contains(a))
                    .unwrap_or_else(|| panic!("case {:?}: anchor missing", c.name))
                    + 1;
                format!("{file}:{line}:")
            }
            None => format!("{file}:"),
        };
        std::fs::write(dir.0.join("standby.toml"), &config).unwrap();
        std::fs::write(&rb_path, &runbook).unwrap();
        std::fs::write(&fb_path, &failback).unwrap();
        std::fs::write(&drill_path, &drill).unwrap();

        for args in [
            &["validate"][..],
            &["failover", "--yes"][..],
            &["drill", "standby", "--yes"][..],
            &["serve"][..],
        ] {
            let out = standby_command(args, &dir.0.join("standby.toml"))
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(
                out.status.code(),
                Some(2),
                "case {:?} with {args:?}: {stderr}",
                c.name
            );
            let hit = stderr
                .lines()
                .any(|l| l.starts_with(&prefix) && l.contains(c.expect));
            assert!(
                hit,
                "case {:?} with {args:?}: want a line starting {prefix:?} containing {:?}, got:\n{stderr}",
                c.name, c.expect
            );
        }
        while let Ok((_s, _)) = aws.accept() {
            connections.fetch_add(1, Ordering::Relaxed);
        }
    }
    assert_eq!(
        connections.load(Ordering::Relaxed),
        0,
        "a bad config must never reach AWS"
    );
}

#[test]
fn all_errors_are_reported_at_once() {
    let dir = TempDir::new("many");
    write_runbooks(&dir.0);
    let config = config_text(
        "http://127.0.0.1:9",
        "Z1",
        "http://127.0.0.1:9/h",
        "http://127.0.0.1:9/h",
    )
    .replace("interval = \"200ms\"", "interval = \"2x\"")
    .replace("ttl = 5", "ttl = -3")
    .replace("mode = \"automatic\"", "mode = \"sometimes\"");
    std::fs::write(dir.0.join("standby.toml"), config).unwrap();
    let out = standby_command(&["validate"], &dir.0.join("standby.toml"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    for want in [
        "health.interval: \"2x\" is not a duration",
        "dns.ttl: -3 is out of range",
        "failover.mode: \"sometimes\" is not one of",
        "3 errors found; nothing was changed",
    ] {
        assert!(stderr.contains(want), "missing {want:?} in:\n{stderr}");
    }
    // The same, for tools: every error with its file, line and key; exit 2.
    let out = standby_command(&["validate", "--json"], &dir.0.join("standby.toml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["valid"], false, "{v:#}");
    let keys: Vec<&str> = v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys.len(), 3, "{v:#}");
    for key in ["health.interval", "dns.ttl", "failover.mode"] {
        assert!(keys.contains(&key), "{key} not in {keys:?}");
    }
    assert!(v["errors"][0]["line"].as_u64().unwrap() > 0, "{v:#}");
}

#[test]
fn a_valid_config_validates_with_its_warnings() {
    let dir = TempDir::new("valid");
    write_runbooks(&dir.0);
    // An objective shorter than detection + TTL is legal but will always breach: a warning.
    let config = config_text(
        "http://127.0.0.1:9",
        "Z1",
        "http://127.0.0.1:9/h",
        "http://127.0.0.1:9/h",
    )
    .replace("ttl = 5", "ttl = 300");
    std::fs::write(dir.0.join("standby.toml"), config).unwrap();
    let out = standby_command(&["validate"], &dir.0.join("standby.toml"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("warning: service.rto: objective 1m is not longer than detection"),
        "{stderr}"
    );
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("valid (service chat, failover runbook 8 steps, failback runbook 8 steps)")
    );
}

/// A config that is not there is named in full (not `standby.toml:1:1`), with how to name
/// another; exit 2, as for any bad input.
#[test]
fn a_missing_config_is_named_in_full_with_how_to_name_another() {
    let dir = TempDir::new("missing");
    let out = standby_command(&["validate"], std::path::Path::new("nope.toml"))
        .current_dir(&dir.0)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let full = std::fs::canonicalize(&dir.0).unwrap().join("nope.toml");
    let first = stderr.lines().next().unwrap_or_default();
    assert!(
        first.starts_with(&format!("{}: cannot read the config: ", full.display()))
            && first.contains("--config PATH or the STANDBY_CONFIG environment variable"),
        "{stderr}"
    );
}

/// `standby validate | head -0`: the reader is gone before standby writes. No panic, the
/// command's own exit code (Rust ignores SIGPIPE: the write fails and standby goes on).
#[test]
fn a_reader_that_goes_away_does_not_panic_the_command() {
    let (_dir, config) = config_dir("pipe", "http://127.0.0.1:9", |c| c);
    for args in [&["validate"][..], &["iam-policy"][..]] {
        let mut child = standby_command(args, &config)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
    }
}

/// No credentials anywhere: one line naming every source tried, exit 2, no SDK warnings, no
/// AWS call.
#[test]
fn missing_credentials_are_said_in_one_line_before_any_aws_call() {
    let aws = TcpListener::bind("127.0.0.1:0").unwrap();
    aws.set_nonblocking(true).unwrap();
    let (dir, config) = config_dir(
        "nocreds",
        &format!("http://{}", aws.local_addr().unwrap()),
        |c| c,
    );
    for args in [&["failover", "--yes"][..], &["sync"][..]] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_standby"))
            .args(args)
            .arg("--config")
            .arg(&config)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &dir.0)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains("no AWS credentials found (tried: the environment")
                && stderr.contains("EC2 instance metadata (IMDS))"),
            "{args:?}: {stderr}"
        );
        assert!(!stderr.contains("WARN"), "{args:?}: {stderr}");
    }
    assert!(aws.accept().is_err(), "no AWS call was made");
}
