//! The architecture, checked: crate boundaries in one direction (core ← aws ← app; the testbed
//! only under tests, examples and benches), a core with no runtime, AWS SDK, HTTP stack, clock
//! or filesystem, and no import cycle between the top-level modules of any crate.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// `cargo tree` of one package's normal (non-dev) dependencies: crate names only.
fn tree(package: &str) -> BTreeSet<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(root())
        .args([
            "tree",
            "--offline",
            "-p",
            package,
            "-e",
            "normal",
            "--prefix",
            "none",
        ])
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "cargo tree -p {package}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

#[test]
fn the_core_has_no_runtime_no_aws_sdk_and_no_http_stack() {
    let deps = tree("standby-core");
    let banned: Vec<&String> = deps
        .iter()
        .filter(|d| {
            d.starts_with("tokio")
                || d.starts_with("aws-")
                || d.starts_with("reqwest")
                || d.starts_with("hyper")
                || d.starts_with("standby-") && d.as_str() != "standby-core"
        })
        .collect();
    assert!(banned.is_empty(), "standby-core depends on {banned:?}");
}

#[test]
fn crates_depend_one_way_and_nothing_in_the_product_depends_on_the_testbed() {
    let aws = tree("standby-aws");
    assert!(aws.contains("standby-core"));
    assert!(!aws.contains("standby") && !aws.contains("standby-testbed"));
    let app = tree("standby");
    assert!(app.contains("standby-core") && app.contains("standby-aws"));
    assert!(
        !app.contains("standby-testbed"),
        "the product links the testbed"
    );
    let testbed = tree("standby-testbed");
    assert!(
        !testbed.contains("standby"),
        "the testbed depends on the app: tests would see two copies of its types"
    );
}

/// Top-level module → the top-level modules it names, from `crate::x` (and a top-level file's
/// `super::x`), per crate. Test modules at the end of a file are left out.
fn module_graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    walk(src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in files {
        let rel = f.strip_prefix(src).unwrap();
        let parts: Vec<String> = rel
            .components()
            .map(|c| {
                c.as_os_str()
                    .to_string_lossy()
                    .trim_end_matches(".rs")
                    .to_string()
            })
            .collect();
        let node = parts[0].clone();
        if node == "lib" || node == "main" {
            continue;
        }
        let top_level_file = parts.len() == 1 || parts.get(1).map(String::as_str) == Some("mod");
        let text = std::fs::read_to_string(&f).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        let code: String = code
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        let mut named = BTreeSet::new();
        for (prefix, counts) in [("crate::", true), ("super::", top_level_file)] {
            if !counts {
                continue;
            }
            let mut rest = code.as_str();
            while let Some(i) = rest.find(prefix) {
                let before = rest[..i].chars().last();
                rest = &rest[i + prefix.len()..];
                if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    continue;
                }
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if let Some(group) = rest.strip_prefix('{') {
                    // `crate::{a, b::c}`: every first segment in the group.
                    let inner = &group[..group.find('}').unwrap_or(group.len())];
                    for item in inner.split(',') {
                        let first = item.trim().split("::").next().unwrap_or_default();
                        if !first.is_empty() {
                            named.insert(first.to_string());
                        }
                    }
                } else if !name.is_empty() {
                    named.insert(name);
                }
            }
        }
        named.remove(&node);
        graph.entry(node).or_default().extend(named);
    }
    graph
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            walk(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The cycles in `graph`, each as the path that closes it.
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    for start in graph.keys() {
        // Depth-first from each node, looking for a way back to it through nodes after it (so
        // each cycle is reported once, from its smallest node).
        let mut stack = vec![(start.clone(), vec![start.clone()])];
        let mut seen = BTreeSet::new();
        while let Some((node, path)) = stack.pop() {
            for next in graph.get(&node).into_iter().flatten() {
                if next == start {
                    let mut cycle = path.clone();
                    cycle.push(start.clone());
                    found.push(cycle);
                } else if next > start && graph.contains_key(next) && seen.insert(next.clone()) {
                    let mut p = path.clone();
                    p.push(next.clone());
                    stack.push((next.clone(), p));
                }
            }
        }
    }
    found
}

#[test]
fn no_import_cycle_between_the_modules_of_any_crate() {
    for src in [
        "crates/core/src",
        "crates/aws/src",
        "src",
        "crates/testbed/src",
    ] {
        let graph = module_graph(&root().join(src));
        assert!(
            graph.len() >= 3 || src == "crates/aws/src",
            "{src}: {graph:?}"
        );
        let found = cycles(&graph);
        assert!(
            found.is_empty(),
            "{src}: import cycles between modules: {}",
            found
                .iter()
                .map(|c| c.join(" -> "))
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
}

#[test]
fn the_cycle_finder_finds_a_cycle() {
    let mut g = BTreeMap::new();
    g.insert("a".to_string(), BTreeSet::from(["b".to_string()]));
    g.insert("b".to_string(), BTreeSet::from(["c".to_string()]));
    g.insert("c".to_string(), BTreeSet::from(["a".to_string()]));
    g.insert("d".to_string(), BTreeSet::from(["a".to_string()]));
    assert_eq!(cycles(&g), vec![vec!["a", "b", "c", "a"]]);
}
