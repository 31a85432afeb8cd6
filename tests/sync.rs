//! Artifact sync against moto: incremental correctness, crash safety of publication, RPO against
//! ground truth, failure domains, replication mode, and the AWS CLI as an independent reader.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::*;

const P: &str = "artifacts-use1";
const S: &str = "artifacts-usw2";

fn out(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The standby copy agrees with the manifest, as the AWS CLI sees it: same keys, sizes and ETags.
fn cli_agrees(endpoint: &str, manifest: &serde_json::Value, prefix: &str) {
    let cli = aws_cli_listing(endpoint, S, prefix);
    let objects = manifest["objects"].as_array().unwrap();
    assert_eq!(cli.len(), objects.len(), "{cli:?}\n{manifest:#}");
    for e in objects {
        let (size, etag) = cli
            .get(e["key"].as_str().unwrap())
            .unwrap_or_else(|| panic!("{} missing on the standby", e["key"]));
        assert_eq!(*size, e["size"].as_u64().unwrap());
        assert_eq!(*etag, e["etag"].as_str().unwrap());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incremental_sync_is_exact_and_publishes_last() {
    let h = Harness::start("sync").await;
    let ep = h.moto_endpoint.clone();
    let p = s3(&ep, "us-east-1").await;
    let st = s3(&ep, "us-west-2").await;
    // Keys that are prefixes of other keys, unicode, spaces; and a multipart object.
    for (k, body) in [
        ("prompts/a", "a"),
        ("prompts/a/b", "ab"),
        ("prompts/a-b", "a-b"),
        ("prompts/日本語 テンプレート.txt", "jp"),
        ("prompts/é+ü.md", "eu"),
        ("prompts/z", "z"),
    ] {
        put(&p, P, k, body.as_bytes()).await;
    }
    put_multipart(&p, P, "models/llm.safetensors", 3, 5 << 20, 7).await;
    put(&p, P, "models/old.bin", b"old").await;

    let first = h.run(&["sync"]);
    assert_eq!(first.status.code(), Some(0), "{}", out(&first));
    let text = out(&first);
    assert!(
        text.contains("prompts: 6 to copy, 0 to overwrite, 0 to delete, 0 unchanged"),
        "{text}"
    );
    assert!(text.contains("weights: 2 to copy, 0 to overwrite, 0 to delete, 0 unchanged; 15.0 MiB to transfer; manifest published"), "{text}");
    let m = manifest(&st, S, "weights").await.expect("weights manifest");
    let big = m["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["key"] == "models/llm.safetensors")
        .unwrap();
    assert!(
        big["source_etag"].as_str().unwrap().ends_with("-3"),
        "{big}"
    );
    assert!(
        big["etag"].as_str().unwrap().ends_with("-3"),
        "our own part layout (6+6+3 MiB): {big}"
    );
    assert!(
        big["version_id"].as_str().is_some(),
        "versioned bucket pins the copy: {big}"
    );
    cli_agrees(&ep, &m, "models/");
    cli_agrees(&ep, &manifest(&st, S, "prompts").await.unwrap(), "prompts/");

    // Nothing changed: the no-op resync copies nothing, the multipart copy included.
    let noop = h.run(&["sync", "--dry-run"]);
    let text = out(&noop);
    assert!(
        text.contains("prompts: 0 to copy, 0 to overwrite, 0 to delete, 6 unchanged"),
        "{text}"
    );
    assert!(
        text.contains("weights: 0 to copy, 0 to overwrite, 0 to delete, 2 unchanged"),
        "{text}"
    );
    assert!(
        text.contains("RPO 0ms (measured, objective 10m): standby holds all 6 primary objects"),
        "{text}"
    );

    // New, changed, deleted, unchanged.
    put(&p, P, "prompts/new", b"new").await;
    put(&p, P, "prompts/a", b"a, edited").await;
    delete(&p, P, "prompts/z").await;
    delete(&p, P, "models/old.bin").await;
    let plan = h.run(&["sync", "--dry-run"]);
    let text = out(&plan);
    assert!(
        text.contains("prompts: 1 to copy, 1 to overwrite, 1 to delete, 4 unchanged"),
        "{text}"
    );
    assert!(
        text.contains("copy      prompts/new  (new on the source)"),
        "{text}"
    );
    assert!(
        text.contains(
            "overwrite prompts/a  (size differs (9 on the source, 1 on the destination))"
        ),
        "{text}"
    );
    assert!(
        text.contains("delete    prompts/z  (deleted on the source)"),
        "{text}"
    );
    assert!(
        text.contains("weights: 0 to copy, 0 to overwrite, 0 to delete, 2 unchanged"),
        "delete = false keeps models/old.bin: {text}"
    );
    assert!(text.contains("dry run: nothing was changed"));
    assert!(
        listing(&st, S, "prompts/")
            .await
            .iter()
            .any(|o| o.key == "prompts/z"),
        "dry run deleted nothing"
    );

    let second = h.run(&["sync"]);
    assert_eq!(second.status.code(), Some(0), "{}", out(&second));
    let keys: Vec<String> = listing(&st, S, "prompts/")
        .await
        .into_iter()
        .map(|o| o.key)
        .collect();
    assert_eq!(
        keys,
        [
            "prompts/a",
            "prompts/a-b",
            "prompts/a/b",
            "prompts/new",
            "prompts/é+ü.md",
            "prompts/日本語 テンプレート.txt"
        ]
    );
    let m = manifest(&st, S, "prompts").await.unwrap();
    cli_agrees(&ep, &m, "prompts/");
    let w = manifest(&st, S, "weights").await.unwrap();
    assert_eq!(
        w["objects"].as_array().unwrap().len(),
        1,
        "the manifest names only what the primary has: {w:#}"
    );
    assert!(
        listing(&st, S, "models/")
            .await
            .iter()
            .any(|o| o.key == "models/old.bin"),
        "delete = false keeps the object"
    );

    // Status shows each set's last sync and RPO.
    let status = out(&h.run(&["status"]));
    assert!(
        status.contains("artifacts:   prompts (prompts/, every `*/5 * * * *`): last sync ok"),
        "{status}"
    );
    assert!(
        status.contains("now: RPO 0ms (measured, objective 10m)"),
        "{status}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_killed_mid_way_never_publishes_and_the_next_run_completes() {
    let h = Harness::start("sync-kill").await;
    let ep = h.moto_endpoint.clone();
    let p = s3(&ep, "us-east-1").await;
    let st = s3(&ep, "us-west-2").await;
    put(&p, P, "prompts/base", b"base").await;
    assert_eq!(h.run(&["sync", "prompts"]).status.code(), Some(0));
    let before = manifest(&st, S, "prompts").await.unwrap();

    for (i, boundary) in ["sync:prompts:mid-copy", "sync:prompts:before-publish"]
        .iter()
        .enumerate()
    {
        for n in 0..20 {
            put(
                &p,
                P,
                &format!("prompts/batch{i}/{n:02}"),
                format!("{i}-{n}").as_bytes(),
            )
            .await;
        }
        let mut child = h
            .command(&["sync", "prompts"])
            .env("FAILPOINTS", format!("{boundary}=return"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let hold = h.state_dir().join("test-hold");
        wait_for(boundary, Duration::from_secs(60), || hold.exists()).await;
        child.kill().unwrap();
        child.wait().unwrap();
        std::fs::remove_file(&hold).unwrap();
        let after_kill = manifest(&st, S, "prompts").await.unwrap();
        assert_eq!(
            after_kill["sync_id"],
            if i == 0 {
                before["sync_id"].clone()
            } else {
                after_kill["sync_id"].clone()
            }
        );
        assert!(
            !after_kill["objects"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["key"]
                    .as_str()
                    .unwrap()
                    .starts_with(&format!("prompts/batch{i}/"))),
            "{boundary}: a killed sync must not publish"
        );
        let copied = listing(&st, S, &format!("prompts/batch{i}/")).await.len();
        assert!(
            copied > 0,
            "{boundary}: the kill came after some copies ({copied})"
        );

        let done = h.run(&["sync", "prompts"]);
        assert_eq!(done.status.code(), Some(0), "{}", out(&done));
        let m = manifest(&st, S, "prompts").await.unwrap();
        let n = m["objects"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| {
                e["key"]
                    .as_str()
                    .unwrap()
                    .starts_with(&format!("prompts/batch{i}/"))
            })
            .count();
        assert_eq!(n, 20, "{boundary}: the next run completes");
        cli_agrees(&ep, &m, "prompts/");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rpo_matches_ground_truth_and_is_a_bound_when_the_primary_is_unreadable() {
    let h = Harness::start("rpo").await;
    let ep = h.moto_endpoint.clone();
    let p = s3(&ep, "us-east-1").await;
    put(&p, P, "prompts/one", b"1").await;
    assert_eq!(h.run(&["sync", "prompts"]).status.code(), Some(0));

    // A change lands on the primary; 3 s later the standby is 3 s behind, by its LastModified.
    let written = chrono::Utc::now();
    put(&p, P, "prompts/two", b"2").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let text = out(&h.run(&["sync", "prompts", "--dry-run"]));
    let line = text
        .lines()
        .find(|l| l.contains("RPO "))
        .unwrap_or_else(|| panic!("{text}"));
    let secs: f64 = line
        .split("RPO ")
        .nth(1)
        .unwrap()
        .split('s')
        .next()
        .unwrap()
        .parse()
        .unwrap_or_else(|_| panic!("{line}"));
    // S3's LastModified has whole-second resolution, so the measured RPO may exceed the truth by
    // up to a second (never fall short of it): conservative, as an RPO must be.
    let floor = chrono::DateTime::from_timestamp(written.timestamp(), 0).unwrap();
    let upper = (chrono::Utc::now() - floor).num_milliseconds() as f64 / 1000.0;
    assert!(
        secs >= 3.0 && secs <= upper + 0.1,
        "RPO {secs}s vs ground truth in [3, {upper}]s: {line}"
    );
    assert!(
        line.contains("(measured, objective 10m)")
            && line.contains("1 write(s) not on the standby; oldest prompts/two"),
        "{line}"
    );

    // The primary bucket becomes unreadable: the figure is a bound from the last published sync.
    let broken = std::fs::read_to_string(&h.config).unwrap().replace(
        "prefix = \"prompts/\"",
        "prefix = \"prompts/\"\nprimary_bucket = \"gone-bucket\"",
    );
    std::fs::write(&h.config, broken).unwrap();
    let o = h.run(&["sync", "prompts"]);
    let text = out(&o);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(
        text.contains("prompts: FAILED: listing primary s3://gone-bucket/prompts/"),
        "{text}"
    );
    assert!(text.contains("RPO ≤ "), "{text}");
    assert!(text.contains("primary unreadable: at most"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_failing_set_does_not_stop_the_others() {
    let h = Harness::start("domains").await;
    let ep = h.moto_endpoint.clone();
    let p = s3(&ep, "us-east-1").await;
    let st = s3(&ep, "us-west-2").await;
    put(&p, P, "prompts/ok", b"ok").await;
    put(&p, P, "models/w", b"w").await;
    let cfg = std::fs::read_to_string(&h.config).unwrap().replace(
        "prefix = \"models/\"",
        "prefix = \"models/\"\nprimary_bucket = \"missing-weights-bucket\"",
    );
    std::fs::write(&h.config, cfg).unwrap();
    let o = h.run(&["sync"]);
    let text = out(&o);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(
        text.contains("weights: FAILED: listing primary s3://missing-weights-bucket/models/"),
        "{text}"
    );
    assert!(text.contains("prompts: 1 to copy, 0 to overwrite, 0 to delete, 0 unchanged; 2 B to transfer; manifest published"), "{text}");
    assert!(manifest(&st, S, "prompts").await.is_some());
    assert!(manifest(&st, S, "weights").await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replication_mode_publishes_only_when_complete() {
    let h = Harness::start("crr").await;
    let ep = h.moto_endpoint.clone();
    let p = s3(&ep, "us-east-1").await;
    let st = s3(&ep, "us-west-2").await;
    let cfg = std::fs::read_to_string(&h.config).unwrap()
        + "\n[[artifacts]]\nname = \"indexes\"\nprefix = \"indexes/\"\nschedule = \"*/5 * * * *\"\nrpo = \"30m\"\nmode = \"replication\"\n";
    std::fs::write(&h.config, cfg).unwrap();
    // CRR is simulated by writing the same bytes to both buckets; one replica is late.
    for k in ["indexes/a.faiss", "indexes/b.faiss", "indexes/c.faiss"] {
        put(&p, P, k, k.as_bytes()).await;
    }
    for k in ["indexes/a.faiss", "indexes/b.faiss"] {
        put(&st, S, k, k.as_bytes()).await;
    }
    let o = h.run(&["sync", "indexes"]);
    let text = out(&o);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(
        text.contains(
            "replication incomplete: 1 object(s) not yet replicated, oldest indexes/c.faiss"
        ),
        "{text}"
    );
    assert!(
        manifest(&st, S, "indexes").await.is_none(),
        "no manifest for an incomplete set"
    );
    assert_eq!(
        listing(&st, S, "indexes/").await.len(),
        2,
        "replication mode never copies"
    );

    put(&st, S, "indexes/c.faiss", b"indexes/c.faiss").await;
    let o = h.run(&["sync", "indexes"]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let m = manifest(&st, S, "indexes").await.unwrap();
    assert_eq!(m["mode"], "replication");
    assert_eq!(m["objects"].as_array().unwrap().len(), 3);
    cli_agrees(&ep, &m, "indexes/");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unchanged_runs_confirm_and_out_of_band_changes_are_repaired_on_verify() {
    let h = Harness::start("verify").await;
    let ep = h.moto_endpoint.clone();
    let p = s3(&ep, "us-east-1").await;
    let st = s3(&ep, "us-west-2").await;
    put(&p, P, "prompts/a", b"a").await;
    put(&p, P, "prompts/b", b"b").await;
    assert_eq!(h.run(&["sync", "prompts"]).status.code(), Some(0));
    let published = manifest(&st, S, "prompts").await.unwrap();

    // Nothing changed: the manifest is confirmed, not rewritten.
    let text = out(&h.run(&["sync", "prompts"]));
    assert!(text.contains("0 to copy, 0 to overwrite, 0 to delete, 2 unchanged; 0 B to transfer; manifest confirmed (unchanged)"), "{text}");
    assert_eq!(
        manifest(&st, S, "prompts").await.unwrap()["sync_id"],
        published["sync_id"]
    );

    // Someone deletes a standby copy behind standby's back. Within verify_every the manifest
    // stands in for the destination listing, so the next run does not see it...
    delete(&st, S, "prompts/b").await;
    let text = out(&h.run(&["sync", "prompts", "--dry-run"]));
    assert!(
        text.contains("0 to copy, 0 to overwrite, 0 to delete, 2 unchanged"),
        "{text}"
    );
    // ...and the first run after verify_every lists the destination and repairs it.
    let cfg = std::fs::read_to_string(&h.config)
        .unwrap()
        .replace("[sync]\n", "[sync]\nverify_every = \"0s\"\n");
    std::fs::write(&h.config, cfg).unwrap();
    let text = out(&h.run(&["sync", "prompts"]));
    assert!(
        text.contains("prompts: 1 to copy, 0 to overwrite, 0 to delete, 1 unchanged"),
        "{text}"
    );
    assert_eq!(listing(&st, S, "prompts/").await.len(), 2);
}
