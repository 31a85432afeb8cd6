//! The IAM policy has one source (`crates/core/src/operations.rs`), the code calls nothing outside it,
//! the Terraform orchestrator module grants exactly its actions, every .tf file parses
//! (python-hcl2), and checkov's pinned checks pass with no parsing errors. Terraform itself can't
//! validate here: its AWS provider can't be downloaded.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use standby_core::operations::{OPERATIONS, all_actions};

/// The checks pinned for `terraform/`: versioning, KMS (and rotation), public access, IMDSv2,
/// replication, and no wildcard IAM actions or resources.
const CHECKOV_CHECKS: &str = "CKV_AWS_21,CKV_AWS_145,CKV_AWS_7,CKV_AWS_53,CKV_AWS_54,CKV_AWS_55,CKV_AWS_56,CKV2_AWS_6,CKV_AWS_79,CKV_AWS_144,CKV_AWS_1,CKV_AWS_49,CKV_AWS_62,CKV_AWS_355,CKV_AWS_356,CKV_AWS_111,CKV_AWS_290";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn files(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, ext, out);
        } else if p.extension().is_some_and(|x| x == ext) {
            out.push(p);
        }
    }
}

/// `client.some_operation()` (across line breaks): the SDK calls in the orchestrator's code.
fn sdk_calls(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("client") {
        let after = rest[i + "client".len()..].trim_start();
        let boundary = i == 0
            || !rest.as_bytes()[i - 1].is_ascii_alphanumeric() && rest.as_bytes()[i - 1] != b'_';
        if boundary && let Some(m) = after.strip_prefix('.') {
            let name: String = m
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            // An SDK operation: a builder chain that ends in `.send()` (or a paginator) before
            // the statement does.
            let tail = &m[name.len()..];
            let statement = &tail[..tail.find(';').unwrap_or(tail.len())];
            if !name.is_empty()
                && tail.starts_with("()")
                && (statement.contains(".send()") || statement.contains(".into_paginator()"))
            {
                out.insert(name);
            }
        }
        rest = &rest[i + "client".len()..];
    }
    out
}

#[test]
fn every_sdk_call_is_in_the_operations_list_and_every_entry_is_called() {
    // The product's crates; the testbed (crates/testbed) seeds moto and is not the product.
    let mut sources = Vec::new();
    for dir in ["src", "crates/core/src", "crates/aws/src"] {
        files(&root().join(dir), "rs", &mut sources);
    }
    let mut called = BTreeSet::new();
    for f in &sources {
        called.extend(sdk_calls(&std::fs::read_to_string(f).unwrap()));
    }
    // reqwest and the notifier also have a `client`; their calls take arguments and never match.
    let listed: BTreeSet<String> = OPERATIONS
        .iter()
        .map(|o| o.sdk_method.to_string())
        .collect();
    let missing: Vec<&String> = called.difference(&listed).collect();
    assert!(
        missing.is_empty(),
        "SDK calls not in crates/core/src/operations.rs (their IAM actions would be missing from the policy): {missing:?}"
    );
    let stale: Vec<&String> = listed.difference(&called).collect();
    assert!(
        stale.is_empty(),
        "listed in crates/core/src/operations.rs but never called (the policy would grant too much): {stale:?}"
    );
    assert!(called.len() >= 15, "{called:?}");
}

#[test]
fn the_terraform_orchestrator_grants_exactly_the_codes_actions() {
    let mut tf = Vec::new();
    files(
        &root().join("terraform/modules/orchestrator"),
        "tf",
        &mut tf,
    );
    let mut granted = BTreeSet::new();
    for f in tf {
        let text = std::fs::read_to_string(&f).unwrap();
        // The permission policy only (the trust policy's sts:AssumeRole is not the host's), and
        // only what `actions = [...]` grants: condition keys look like actions too.
        let Some(start) = text.find("data \"aws_iam_policy_document\" \"orchestrator\"") else {
            continue;
        };
        let block = &text[start..];
        let end = block[1..]
            .find("\ndata \"")
            .into_iter()
            .chain(block[1..].find("\nresource \""))
            .min()
            .map(|e| e + 1)
            .unwrap_or(block.len());
        let text = &block[..end];
        // A list may span lines (`terraform fmt` keeps a long one so): up to its `]`.
        let mut rest = text;
        while let Some(at) = rest.find("\n") {
            rest = &rest[at + 1..];
            if !rest.trim_start().starts_with("actions") {
                continue;
            }
            let Some(open) = rest.find('[') else { break };
            let Some(close) = rest[open..].find(']') else {
                break;
            };
            for piece in rest[open..open + close].split('"').skip(1).step_by(2) {
                granted.insert(piece.to_string());
            }
        }
    }
    let code: BTreeSet<String> = all_actions().into_iter().map(str::to_string).collect();
    assert_eq!(
        granted, code,
        "terraform/modules/orchestrator and crates/core/src/operations.rs disagree"
    );
}

#[test]
fn iam_policy_prints_a_scoped_policy_for_the_config() {
    let dir = TempDir::new("iam");
    let config = write_config(
        &dir.0,
        "http://127.0.0.1:9",
        "Z0123456789",
        "http://127.0.0.1:9/health",
        "http://127.0.0.1:9/health",
    );
    let out = standby_command(
        &[
            "iam-policy",
            "--account-id",
            "123456789012",
            "--kms-key-arn",
            "arn:aws:kms:us-east-1:123456789012:key/k1",
        ],
        &config,
    )
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let p: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let st = p["Statement"].as_array().unwrap();
    let mut actions = BTreeSet::new();
    for s in st {
        for a in s["Action"].as_array().unwrap() {
            actions.insert(a.as_str().unwrap().to_string());
        }
        for r in s["Resource"].as_array().unwrap() {
            let r = r.as_str().unwrap();
            assert!(r != "*" || s["Sid"] == "DescribeGroups", "unscoped: {s}");
        }
    }
    // The data-plane method's policy: the gate and its health check instead of the record's
    // change; the two methods together use every action the code can call.
    let data_plane = dir.0.join("data-plane.toml");
    std::fs::write(
        &data_plane,
        std::fs::read_to_string(&config).unwrap().replace(
            "standby = \"usw2.example.com\"\n",
            "standby = \"usw2.example.com\"\nmethod = \"failover_records\"\n\n[dns.gate]\nbucket = \"artifacts-usw2\"\nkey = \"standby-gate/chat\"\nhealth_check_id = \"hc-1\"\n",
        ),
    )
    .unwrap();
    let out = standby_command(&["iam-policy", "--account-id", "123456789012"], &data_plane)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let dp: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let dp_actions: BTreeSet<String> = dp["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["Action"].as_array().unwrap().clone())
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    assert!(
        !dp_actions.contains("route53:ChangeResourceRecordSets")
            && !dp_actions.contains("route53:GetChange")
    );
    assert!(!actions.contains("route53:GetHealthCheck"));
    let code: BTreeSet<String> = all_actions().into_iter().map(str::to_string).collect();
    assert_eq!(
        actions.union(&dp_actions).cloned().collect::<BTreeSet<_>>(),
        code
    );
    let read = st.iter().find(|s| s["Sid"] == "ReadArtifacts").unwrap();
    let res: Vec<&str> = read["Resource"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert!(
        res.contains(&"arn:aws:s3:::artifacts-use1/prompts/*"),
        "{res:?}"
    );
    assert!(
        res.contains(&"arn:aws:s3:::artifacts-usw2/reports/*"),
        "{res:?}"
    );
    let out = standby_command(&["iam-policy", "--account-id", "12345"], &config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn every_terraform_file_parses_with_python_hcl2() {
    let mut tf = Vec::new();
    files(&root().join("terraform"), "tf", &mut tf);
    assert!(tf.len() >= 15, "{tf:?}");
    let out = Command::new(root().join(".venv-tf/bin/python"))
        .arg("-c")
        .arg("import hcl2, sys\nbad = []\nfor f in sys.argv[1:]:\n    try:\n        hcl2.load(open(f))\n    except Exception as e:\n        bad.append(f'{f}: {e}')\nprint('\\n'.join(bad))\nsys.exit(1 if bad else 0)")
        .args(&tf)
        .output()
        .expect("python-hcl2 (make venv-tf installs it)");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn checkov_pinned_checks_pass_without_parsing_errors() {
    let out = Command::new(root().join(".venv-tf/bin/checkov"))
        .args(["--directory"])
        .arg(root().join("terraform"))
        .args([
            "--framework",
            "terraform",
            "--skip-download",
            "--check",
            CHECKOV_CHECKS,
            "--output",
            "json",
            "--quiet",
        ])
        .env("BC_SKIP_MAPPING", "TRUE")
        .output()
        .expect("checkov (make venv-tf installs it)");
    let text = String::from_utf8_lossy(&out.stdout);
    let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "checkov did not print JSON ({e}): {text}{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    // A directory scan prints one report, several frameworks a list: read every summary.
    let reports: Vec<&serde_json::Value> = match &v {
        serde_json::Value::Array(a) => a.iter().collect(),
        other => vec![other],
    };
    let mut passed = 0;
    for r in reports {
        let s = &r["summary"];
        assert_eq!(
            s["parsing_errors"], 0,
            "checkov could not parse some files (it exits 0 on those): {s}"
        );
        assert_eq!(
            s["failed"],
            0,
            "checkov findings:\n{}",
            serde_json::to_string_pretty(&r["results"]["failed_checks"]).unwrap()
        );
        passed += s["passed"].as_u64().unwrap_or(0);
    }
    assert!(
        passed >= 40,
        "too few checks ran ({passed}): are the modules still scanned?"
    );
}

/// Renders `standby.toml.tftpl` the way Terraform's `templatefile` would for the example's
/// defaults (`${var}`, `$${` escapes, one `%{ for s in artifact_sets ~}` loop), then validates it.
#[test]
fn the_example_renders_a_standby_toml_that_validates() {
    let tpl =
        std::fs::read_to_string(root().join("terraform/examples/two-region/standby.toml.tftpl"))
            .unwrap();
    let main =
        std::fs::read_to_string(root().join("terraform/examples/two-region/main.tf")).unwrap();
    // The example's artifact sets, read from main.tf so the test follows it.
    let sets: Vec<Vec<(String, String)>> = main
        .lines()
        .filter(|l| l.trim_start().starts_with("{ name = "))
        .map(|l| {
            l.trim()
                .trim_start_matches('{')
                .trim_end_matches(',')
                .trim_end_matches('}')
                .split(", ")
                .filter_map(|kv| kv.split_once(" = "))
                .map(|(k, v)| (k.trim().to_string(), v.trim().trim_matches('"').to_string()))
                .collect()
        })
        .collect();
    assert_eq!(sets.len(), 3, "{sets:?}");
    let (head, rest) = tpl.split_once("%{ for s in artifact_sets ~}\n").unwrap();
    let (body, tail) = rest.split_once("%{ endfor ~}\n").unwrap();
    let mut out = head.to_string();
    for s in &sets {
        let mut b = body.to_string();
        for (k, v) in s {
            b = b.replace(&format!("${{s.{k}}}"), v);
        }
        out.push_str(&b);
    }
    out.push_str(tail);
    let dir = TempDir::new("tftpl");
    for (k, v) in [
        ("service", "chat"),
        ("rto", "5m"),
        ("primary_region", "us-east-1"),
        ("standby_region", "us-west-2"),
        ("primary_endpoint", "use1.lb.example.com"),
        ("standby_endpoint", "usw2.lb.example.com"),
        ("primary_asg", "chat-gpu-us-east-1"),
        ("standby_asg", "chat-gpu-us-west-2"),
        (
            "standby_fallback",
            ", fallback = [\"chat-gpu-us-west-2-spare\"]",
        ),
        ("serving", "4"),
        ("standby_warm", "1"),
        ("primary_bucket", "chat-artifacts-us-east-1-123456789012"),
        ("standby_bucket", "chat-artifacts-us-west-2-123456789012"),
        ("zone_id", "Z0123456789"),
        ("record_name", "api.example.com"),
        ("gate_key", "standby-gate/chat"),
        ("health_check_id", "abcdef12-3456-7890-abcd-ef1234567890"),
    ] {
        out = out.replace(&format!("${{{k}}}"), v);
    }
    let out = out.replace("$${", "${").replace(
        "/var/lib/standby",
        &dir.0.join("state").display().to_string(),
    );
    assert!(!out.contains("%{"), "unrendered directive:\n{out}");
    assert!(
        out.contains("fallback = [\"chat-gpu-us-west-2-spare\"]"),
        "{out}"
    );
    let path = dir.0.join("standby.toml");
    std::fs::write(&path, &out).unwrap();
    let res = standby_command(&["validate"], &path).output().unwrap();
    assert!(res.status.success(), "{}\n{out}", text(&res));
}

/// Every variable of the modules and the example says what it is for (`terraform fmt` layout:
/// a block opens with `variable "name" {` and closes with `}` alone on its line); the example's
/// tfvars sets every variable without a default.
#[test]
fn every_terraform_variable_is_described_and_the_example_tfvars_sets_the_required_ones() {
    let mut tf = Vec::new();
    files(&root().join("terraform"), "tf", &mut tf);
    let mut undescribed = Vec::new();
    let mut required = Vec::new();
    for f in &tf {
        let text = std::fs::read_to_string(f).unwrap();
        let mut rest = text.as_str();
        while let Some(at) = rest.find("variable \"") {
            rest = &rest[at + "variable \"".len()..];
            let name = &rest[..rest.find('"').unwrap()];
            let block = &rest[..rest.find("\n}").unwrap_or(rest.len())];
            if !block.contains("description") {
                undescribed.push(format!("{}: {name}", f.display()));
            }
            if f.ends_with("examples/two-region/variables.tf") && !block.contains("default") {
                required.push(name.to_string());
            }
        }
    }
    assert!(undescribed.is_empty(), "no description: {undescribed:#?}");
    let tfvars = std::fs::read_to_string(
        root().join("terraform/examples/two-region/terraform.tfvars.example"),
    )
    .unwrap();
    for name in &required {
        assert!(
            tfvars
                .lines()
                .any(|l| l.trim_start().starts_with(&format!("{name} "))),
            "terraform.tfvars.example does not set {name}"
        );
    }
    assert!(required.len() >= 8, "{required:?}");
}
