//! The command line's conventions: version with its commit, completions and man pages generated
//! from the same definitions as parsing (and shipped in `dist/` identical), help that says what
//! each flag really does.

use std::path::Path;
use std::process::Command;

fn standby(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_standby"))
        .args(args)
        .output()
        .unwrap()
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_version_names_the_commit() {
    let out = standby(&["--version"]);
    assert!(out.status.success());
    let said = stdout(&out);
    assert!(
        said.starts_with(&format!("standby {} (commit ", env!("CARGO_PKG_VERSION"))),
        "{said}"
    );
}

#[test]
fn completions_and_man_pages_cover_every_command_and_match_dist() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let commands: Vec<String> = standby::cli_docs::commands();
    assert!(commands.contains(&"failover".to_string()) && commands.len() >= 15);
    for (shell, file) in [
        ("bash", "dist/completions/standby.bash"),
        ("zsh", "dist/completions/_standby"),
        ("fish", "dist/completions/standby.fish"),
    ] {
        let out = standby(&["completions", shell]);
        assert!(out.status.success(), "{shell}");
        let script = stdout(&out);
        for c in &commands {
            assert!(script.contains(c.as_str()), "{shell} completion lacks {c}");
        }
        let shipped = std::fs::read_to_string(root.join(file)).unwrap_or_default();
        assert!(
            shipped == script,
            "{file} differs from `standby completions {shell}`: run `make dist`"
        );
    }
    let main = standby(&["man"]);
    assert!(main.status.success());
    let page = stdout(&main);
    assert!(
        page.starts_with(".ie \\n(.g .ds Aq") || page.contains(".TH standby 1"),
        "{page}"
    );
    assert!(page.contains(".TH standby 1"), "{page}");
    let shipped = std::fs::read_to_string(root.join("dist/man/standby.1")).unwrap_or_default();
    assert!(
        shipped == page,
        "dist/man/standby.1 differs: run `make dist`"
    );
    for c in &commands {
        let out = standby(&["man", c]);
        assert!(out.status.success(), "{c}");
        let page = stdout(&out);
        assert!(page.contains(&format!(".TH standby-{c} 1")), "{page}");
        let file = root.join(format!("dist/man/standby-{c}.1"));
        let shipped = std::fs::read_to_string(&file).unwrap_or_default();
        assert!(
            shipped == page,
            "{} differs: run `make dist`",
            file.display()
        );
    }
    let out = standby(&["man", "reboot"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("no command \"reboot\": one of serve, failover")
    );
}

#[test]
fn help_says_what_each_flag_really_does() {
    let failover = stdout(&standby(&["failover", "--help"]));
    assert!(
        failover.contains("--rerun") && failover.contains("--flip-unverified"),
        "{failover}"
    );
    assert!(failover.contains("DANGEROUS"), "{failover}");
    assert!(
        !failover.contains("--force"),
        "--force is hidden: {failover}"
    );
    let drill = stdout(&standby(&["drill", "standby", "--help"]));
    assert!(
        !drill.contains("--force")
            && !drill.contains("--flip-unverified")
            && !drill.contains("record"),
        "a drill never changes a record: {drill}"
    );
    let show = stdout(&standby(&["report", "show", "--help"]));
    assert!(
        !show.contains("  <RUN>\n\n") && show.contains("<RUN>  "),
        "every argument has help: {show}"
    );
}

/// The annotated example validates wherever it is copied (`/etc/standby/standby.toml` on a host
/// with nothing else of the repository): it names no file of its own.
#[test]
fn the_example_config_validates_where_it_is_copied() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = std::env::temp_dir().join(format!("standby-example-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let copy = dir.join("standby.toml");
    std::fs::copy(root.join("examples/standby.toml"), &copy).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_standby"))
        .args(["validate", "--config"])
        .arg(&copy)
        .current_dir(&dir)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The shipped alert rules load (`promtool check rules`) and fire as `alerts_test.yml` says
/// (`promtool test rules`): on the series that mean trouble, not on a healthy standby.
#[test]
fn the_shipped_alert_rules_check_and_pass_their_unit_tests() {
    if !standby_testbed::checkers::available("promtool") {
        return;
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("dist/prometheus");
    for args in [
        &["check", "rules", "alerts.yml"][..],
        &["test", "rules", "alerts_test.yml"][..],
    ] {
        let out = Command::new("promtool")
            .args(args)
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "promtool {args:?}:\n{}{}",
            stdout(&out),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// `make demo` as a user without root, on a machine without the checkers: PATH holds only what
/// the demo's recipe runs (no chromium, tidy, promtool, systemd-analyze, apt-get, cargo). As
/// root (CI) the test first enters an unprivileged user namespace (`unshare --user`): uid 65534,
/// no capability outside it, so anything that needs root (installing a package, binding a
/// privileged port, writing a file root owns with no write bit) fails there as it would for any
/// user. The build is the harness's own (`make -o build`): a nested cargo build would replace
/// the binary the other tests run.
#[test]
fn make_demo_runs_without_root_or_checkers() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let standby_bin = Path::new(env!("CARGO_BIN_EXE_standby"));
    let demo_bin = standby_bin.parent().unwrap().join("examples/demo");
    assert!(
        demo_bin.exists(),
        "{} is built by `make test` (cargo build --workspace --features standby/failpoints --examples)",
        demo_bin.display()
    );
    let tool = |t: &str| {
        standby_testbed::checkers::find(t)
            .unwrap_or_else(|| panic!("{t} is needed to run the demo"))
    };
    // A PATH with only what the recipe and the demo run.
    let scratch = std::env::temp_dir().join(format!("standby-demo-nonroot-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    let bin = scratch.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for t in ["make", "bash", "sh", "kill", "env"] {
        std::os::unix::fs::symlink(tool(t), bin.join(t)).unwrap();
    }
    let out_dir = scratch.join("demo");
    let uid = |c: &mut Command| {
        let out = c.arg("-u").output().unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    // Absolute paths: the child's PATH (below) is the one a program name is looked up in.
    let unprivileged = |program: &Path| {
        let mut c;
        if uid(&mut Command::new(tool("id"))) == "0" {
            // Mapped to 65534, not left unmapped: make resets its uid with setreuid, which an
            // unmapped uid refuses.
            c = Command::new(tool("unshare"));
            c.args(["--user", "--map-user=65534", "--map-group=65534"])
                .arg(program);
        } else {
            c = Command::new(program);
        }
        c
    };
    assert_ne!(uid(&mut unprivileged(&tool("id"))), "0");
    let out = unprivileged(&bin.join("make"))
        .args(["-o", "build", "demo"])
        .arg(format!("DEMO_DIR={}", out_dir.display()))
        .current_dir(root)
        .env_clear()
        .env("PATH", &bin)
        .env("HOME", &scratch)
        .output()
        .unwrap();
    let said = format!("{}{}", stdout(&out), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "make demo failed:\n{said}");
    // The demo coped without Chromium and said where the report is; nothing was installed.
    assert!(said.contains("chromium not available"), "{said}");
    assert!(!said.contains("apt-get"), "{said}");
    let reports = std::fs::read_dir(out_dir.join("reports")).unwrap().count();
    assert_eq!(reports, 3, "failover, failback and drill reports:\n{said}");
    let _ = std::fs::remove_dir_all(&scratch);
}
