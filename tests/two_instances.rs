//! Two `standby serve` instances on one shared store in S3 (moto, behind the testbed's proxy,
//! which logs every AWS call with the lease epoch it was sent under): one outage is one failover,
//! a leader killed at any step boundary is finished by the follower, a paused leader is fenced.

mod common;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;
use standby_testbed::endpoint::Behavior;
use standby_testbed::faults::{Call, FaultProxy};
use standby_testbed::link::Link;

const BUCKET: &str = "standby-state";

const STEPS: [&str; 6] = [
    "preflight",
    "scale-standby",
    "verify-standby",
    "flip-dns",
    "verify-after-flip",
    "report",
];

/// One instance: its own directory (state_dir holds only its control socket and test holds),
/// the shared state under `prefix` in the state bucket.
struct Instance {
    dir: TempDir,
    config: PathBuf,
}

fn instance(h: &Harness, proxy: &FaultProxy, name: &str, prefix: &str) -> Instance {
    instance_with(h, proxy, name, prefix, &h.primary.url(), "")
}

/// An instance probing the primary at `primary` (its own network path), with more `[health]`
/// keys.
fn instance_with(
    h: &Harness,
    proxy: &FaultProxy,
    name: &str,
    prefix: &str,
    primary: &str,
    health: &str,
) -> Instance {
    let dir = TempDir::new(&format!("two-{name}"));
    let config = write_config(&dir.0, &proxy.url(), &h.zone_id, primary, &h.standby.url());
    let mut text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("[health]\n", &format!("[health]\n{health}"));
    text.push_str(&format!(
        "\n[state]\nbackend = \"s3\"\nbucket = \"{BUCKET}\"\nprefix = \"{prefix}\"\ninstance = \"{name}\"\n\n[lease]\nttl = \"3s\"\nrenew = \"1s\"\n"
    ));
    std::fs::write(&config, text).unwrap();
    Instance { dir, config }
}

impl Instance {
    fn serve(&self, hold: Option<&str>) -> Daemon {
        let mut c = standby_command(&["serve"], &self.config);
        if let Some(h) = hold {
            c.env("FAILPOINTS", format!("{h}=return"));
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.0.join("serve.log"))
            .unwrap();
        Daemon::new(
            c.stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("spawn serve"),
        )
    }

    fn hold(&self) -> PathBuf {
        self.dir.0.join("state/test-hold")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.0.join("serve.log")).unwrap_or_default()
    }
}

struct Shared {
    s3: aws_sdk_s3::Client,
    prefix: String,
}

impl Shared {
    async fn doc(&self, key: &str) -> Option<serde_json::Value> {
        let out = self
            .s3
            .get_object()
            .bucket(BUCKET)
            .key(format!("{}{key}", self.prefix))
            .send()
            .await
            .ok()?;
        let bytes = out.body.collect().await.ok()?.into_bytes();
        serde_json::from_slice(&bytes).ok()
    }

    async fn runs(&self) -> Vec<serde_json::Value> {
        let keys = listing(&self.s3, BUCKET, &format!("{}runs/", self.prefix)).await;
        let mut out = vec![];
        for o in keys.into_iter().filter(|o| o.key.ends_with(".json")) {
            let key = o.key.trim_start_matches(&self.prefix).to_string();
            out.push(self.doc(&key).await.expect("a run document"));
        }
        out
    }

    async fn wait_doc(
        &self,
        what: &str,
        key: &str,
        timeout: Duration,
        ok: impl Fn(&serde_json::Value) -> bool,
    ) {
        let start = Instant::now();
        loop {
            if self.doc(key).await.is_some_and(|d| ok(&d)) {
                return;
            }
            assert!(start.elapsed() < timeout, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Every call made under a lease, in the order the proxy saw them: (instance, epoch).
fn leased(calls: &[Call]) -> Vec<(&Call, String, u64)> {
    let mut v: Vec<_> = calls
        .iter()
        .filter_map(|c| {
            let (who, epoch) = c.lease.as_deref()?.split_once('/')?;
            Some((c, who.to_string(), epoch.parse().ok()?))
        })
        .collect();
    v.sort_by_key(|(c, ..)| c.at);
    v
}

/// Intervals with two actors: a call under an epoch older than one already seen, or one epoch
/// used by two instances. 0 means the calls' epochs never interleave.
fn two_actor_windows(calls: &[Call]) -> usize {
    let mut owner: std::collections::BTreeMap<u64, String> = Default::default();
    let mut highest = 0;
    let mut windows = 0;
    for (c, who, epoch) in leased(calls) {
        if epoch < highest || owner.get(&epoch).is_some_and(|o| *o != who) {
            windows += 1;
            // Which call, for whoever reads a failure: the operation and its lease.
            eprintln!(
                "two actors: {} {} under {who}/{epoch} (highest epoch seen {highest})",
                c.service, c.operation
            );
        }
        owner.entry(epoch).or_insert(who);
        highest = highest.max(epoch);
    }
    windows
}

fn count(calls: &[Call], op: &str) -> usize {
    calls.iter().filter(|c| c.operation == op).count()
}

async fn start(tag: &str) -> (Harness, FaultProxy, aws_sdk_s3::Client) {
    let h = Harness::start(tag).await;
    standby_testbed::seed::create_bucket(&h.moto_endpoint, "us-west-2", BUCKET)
        .await
        .unwrap();
    let proxy = FaultProxy::start(&h.moto_endpoint, 7).await.unwrap();
    let s3 = s3(&h.moto_endpoint, "us-west-2").await;
    (h, proxy, s3)
}

/// Starts `a` (holding at `hold`) and waits until it leads, then `b` and waits until it
/// publishes its own verdict as a follower.
async fn two(
    h: &Harness,
    proxy: &FaultProxy,
    shared: &Shared,
    hold: Option<&str>,
) -> (Instance, Daemon, Instance, Daemon) {
    let a = instance(h, proxy, "a", &shared.prefix);
    let b = instance(h, proxy, "b", &shared.prefix);
    start_two(shared, a, b, hold).await
}

async fn start_two(
    shared: &Shared,
    a: Instance,
    b: Instance,
    hold: Option<&str>,
) -> (Instance, Daemon, Instance, Daemon) {
    let pa = a.serve(hold);
    shared
        .wait_doc("a to lead", "lease.json", Duration::from_secs(30), |d| {
            d["holder"] == "a"
        })
        .await;
    shared
        .wait_doc(
            "a to derive the state",
            "state.json",
            Duration::from_secs(30),
            |_| true,
        )
        .await;
    let pb = b.serve(None);
    shared
        .wait_doc(
            "b's verdict",
            "peers/b/verdict.json",
            Duration::from_secs(30),
            |d| d["health"] == "up",
        )
        .await;
    (a, pa, b, pb)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_killed_at_every_step_boundary_is_finished_by_the_follower_exactly_once() {
    let (h, proxy, s3) = start("two-kill").await;
    let w = h.world.clone();
    let mut boundaries = Vec::new();
    for s in STEPS {
        boundaries.push(format!("started:{s}"));
        boundaries.push(format!("after:{s}"));
    }
    let mut takeovers = Vec::new();
    for (i, boundary) in boundaries.iter().enumerate() {
        h.reset_world().await;
        h.primary.set(Behavior::Ok);
        h.wait_primary_ok().await;
        let shared = Shared {
            s3: s3.clone(),
            prefix: format!("case-{i}/"),
        };
        let first_call = proxy.calls().len();
        let (a, mut pa, b, pb) = two(&h, &proxy, &shared, Some(boundary)).await;

        h.primary.set(Behavior::Status(503));
        wait_for(
            &format!("a to hold at {boundary}"),
            Duration::from_secs(60),
            || a.hold().exists(),
        )
        .await;
        let killed = Instant::now();
        pa.kill9();

        shared
            .wait_doc(
                &format!("b to finish the run after a kill at {boundary}"),
                "state.json",
                Duration::from_secs(60),
                |s| s["serving"]["mode"] == "standby",
            )
            .await;
        pb.stop();

        let calls: Vec<Call> = proxy.calls()[first_call..].to_vec();
        let first_b = leased(&calls)
            .into_iter()
            .find(|(_, who, _)| who == "b")
            .map(|(c, ..)| c.at)
            .expect("b acted");
        takeovers.push(first_b.duration_since(killed));

        let runs = shared.runs().await;
        assert_eq!(
            runs.len(),
            1,
            "{boundary}: one run for one outage: {runs:#?}"
        );
        let run = &runs[0];
        assert_eq!(run["status"], "succeeded", "{boundary}: {run:#}");
        assert_each_step_succeeded_once(run, boundary);
        let notes = run["notes"].to_string();
        assert!(
            notes.contains("taken over by instance b at lease epoch")
                && notes.contains("lease (epoch 1) was not renewed for")
                && notes.contains("since the run's last recorded progress"),
            "{boundary}: the takeover is recorded with who, why and the gap: {notes}"
        );
        // Every action once, each under a lease, and never two actors.
        assert_eq!(
            count(&calls, "UpdateAutoScalingGroup"),
            1,
            "{boundary}: the standby scaled once"
        );
        assert_eq!(
            count(&calls, "ChangeResourceRecordSets"),
            1,
            "{boundary}: DNS flipped once"
        );
        for c in calls.iter().filter(|c| {
            c.operation == "UpdateAutoScalingGroup" || c.operation == "ChangeResourceRecordSets"
        }) {
            assert!(
                c.lease.is_some(),
                "{boundary}: {c:?} was sent without a lease"
            );
        }
        assert_eq!(two_actor_windows(&calls), 0, "{boundary}");
        assert_eq!(h.capacity(&w.standby_region, &w.standby_asg).await, (4, 4));
        assert_eq!(h.record().await, w.standby_value, "{boundary}");
        assert!(
            b.log().contains("LEASE TAKEN: b leads"),
            "{boundary}: {}",
            b.log()
        );
    }
    let worst = takeovers.iter().max().unwrap();
    eprintln!(
        "takeover (SIGKILL of the leader → the follower's first AWS action under its lease), ttl 3s renew 1s: {:?}",
        takeovers
            .iter()
            .map(|d| format!("{:.2}s", d.as_secs_f64()))
            .collect::<Vec<_>>()
    );
    // ttl + one look + the run's own first steps (resume, preflight reads).
    assert!(
        *worst < Duration::from_secs(3 + 1 + 2),
        "worst takeover {worst:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_leader_is_fenced_and_never_acts_again() {
    let (h, proxy, s3) = start("two-pause").await;
    let w = h.world.clone();
    h.primary.set(Behavior::Ok);
    h.wait_primary_ok().await;
    let shared = Shared {
        s3: s3.clone(),
        prefix: "pause/".into(),
    };
    let (a, pa, b, pb) = two(&h, &proxy, &shared, Some("started:flip-dns")).await;
    let _ = &b;
    h.primary.set(Behavior::Status(503));
    wait_for("a to hold", Duration::from_secs(60), || a.hold().exists()).await;
    // SIGSTOP past the ttl: b takes over and finishes the run.
    let pid = pa.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-STOP", &pid])
            .status()
            .unwrap()
            .success()
    );
    shared
        .wait_doc(
            "b to finish the run",
            "state.json",
            Duration::from_secs(60),
            |s| s["serving"]["mode"] == "standby",
        )
        .await;
    let b_done = proxy.calls().len();
    // Wake a and let its held step go on: it must find itself deposed.
    std::process::Command::new("kill")
        .args(["-CONT", &pid])
        .status()
        .unwrap();
    std::fs::write(a.dir.0.join("state/test-release"), "go").unwrap();
    wait_for("a to step down", Duration::from_secs(20), || {
        a.log().contains("lost its lease") || a.log().contains("LEASE LOST")
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let calls = proxy.calls();
    let after: Vec<&Call> = calls[b_done..]
        .iter()
        .filter(|c| c.lease.as_deref().is_some_and(|l| l.starts_with("a/")))
        .collect();
    assert!(after.is_empty(), "a acted after it woke up: {after:?}");
    assert_eq!(count(&calls, "ChangeResourceRecordSets"), 1, "one flip");
    assert_eq!(two_actor_windows(&calls), 0);
    assert_eq!(h.record().await, w.standby_value);
    let runs = shared.runs().await;
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["status"], "succeeded", "{:#}", runs[0]);

    // `status` on either host names the leader and both instances' verdicts.
    let out = standby_command(&["status"], &a.config)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let s = text(&out);
    assert!(s.contains("lease:       b leads at epoch"), "{s}");
    assert!(
        s.contains("instance:    a:") && s.contains("instance:    b:"),
        "{s}"
    );
    pa.stop();
    pb.stop();
    // b stopped cleanly: it released the lease.
    shared
        .wait_doc("b's release", "lease.json", Duration::from_secs(10), |d| {
            d["released"] == true
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_leaders_own_broken_path_to_the_primary_is_outvoted_by_its_peer() {
    let (h, proxy, s3) = start("two-vantage").await;
    h.primary.set(Behavior::Ok);
    h.wait_primary_ok().await;
    let shared = Shared {
        s3: s3.clone(),
        prefix: "vantage/".into(),
    };
    // a reaches the primary through a link the test can cut; b directly.
    let link = Link::start(h.primary.addr).await.unwrap();
    let vantage = "vantage = \"any_peer\"\n";
    let a = instance_with(
        &h,
        &proxy,
        "a",
        &shared.prefix,
        &link.url("/health"),
        vantage,
    );
    let b = instance_with(&h, &proxy, "b", &shared.prefix, &h.primary.url(), vantage);
    let (a, pa, _b, pb) = start_two(&shared, a, b, None).await;
    shared
        .wait_doc(
            "a to be armed",
            "state.json",
            Duration::from_secs(30),
            |s| !s["armed"].is_null(),
        )
        .await;

    // Only a's path breaks: a sees the primary down, b sees it up. No failover.
    link.cut();
    wait_for(
        "a to hold back for its peer",
        Duration::from_secs(20),
        || a.log().contains("not failing over: vantage any_peer"),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        shared.runs().await.is_empty(),
        "no run for a one-sided break"
    );
    assert_eq!(count(&proxy.calls(), "UpdateAutoScalingGroup"), 0);
    assert_eq!(h.record().await, h.world.primary_value);
    assert!(
        a.log().contains("b up:"),
        "the peer's evidence is logged: {}",
        a.log()
    );

    // The primary really fails: b agrees and a fails over, once, naming both vantages.
    h.primary.set(Behavior::Status(503));
    shared
        .wait_doc("the failover", "state.json", Duration::from_secs(60), |s| {
            s["serving"]["mode"] == "standby"
        })
        .await;
    let runs = shared.runs().await;
    assert_eq!(runs.len(), 1, "{runs:#?}");
    let reason = runs[0]["trigger"]["reason"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        reason.contains("vantage any_peer") && reason.contains("b down"),
        "the trigger shows every vantage's evidence: {reason}"
    );
    // The failure's clock starts when b saw it, not when a's own path broke (seconds earlier).
    let streak = runs[0]["trigger"]["streak_start"]
        .as_str()
        .unwrap()
        .to_string();
    let b_verdict = shared.doc("peers/b/verdict.json").await.unwrap();
    assert_eq!(
        streak,
        b_verdict["streak_start"]
            .as_str()
            .unwrap_or_else(|| panic!("{b_verdict:#}")),
        "the RTO clock starts at the agreeing peer's streak"
    );
    assert_eq!(h.record().await, h.world.standby_value);
    pa.stop();
    pb.stop();
}

/// Lease rounds between three real instances while a seeded chaos loop pauses (SIGSTOP, up to
/// twice the ttl), kills (SIGKILL) and restarts them. Every fenced write and AWS call the
/// instances send carries its lease epoch; read from the proxy's log in arrival order, no epoch
/// ever goes backwards and no epoch has two instances: 0 intervals with two actors.
/// `STANDBY_LEASE_ROUNDS` sets how many lease writes to see (default 150; the note's figure
/// is from 1,000).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lease_rounds_with_random_pauses_and_kills_never_have_two_actors() {
    let rounds: usize = std::env::var("STANDBY_LEASE_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(150);
    let (h, proxy, s3) = start("two-chaos").await;
    h.primary.set(Behavior::Ok);
    h.wait_primary_ok().await;
    let shared = Shared {
        s3,
        prefix: "chaos/".into(),
    };
    let fast = |t: String| {
        t.replace(
            "ttl = \"3s\"\nrenew = \"1s\"",
            "ttl = \"2s\"\nrenew = \"500ms\"",
        )
    };
    let names = ["a", "b", "c"];
    let insts: Vec<Instance> = names
        .iter()
        .map(|n| {
            let i = instance(&h, &proxy, n, &shared.prefix);
            let text = std::fs::read_to_string(&i.config).unwrap();
            std::fs::write(&i.config, fast(text)).unwrap();
            i
        })
        .collect();
    let mut procs: Vec<Option<Daemon>> = insts.iter().map(|i| Some(i.serve(None))).collect();
    let lease_writes = |calls: &[Call]| {
        calls
            .iter()
            .filter(|c| c.path.ends_with("/lease.json") && c.operation.starts_with("PUT"))
            .count()
    };
    let mut rng: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move |n: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % n
    };
    let (mut pauses, mut kills) = (0, 0);
    let started = Instant::now();
    while lease_writes(&proxy.calls()) < rounds {
        assert!(
            started.elapsed() < Duration::from_secs(60 + rounds as u64 * 2),
            "only {} lease writes",
            lease_writes(&proxy.calls())
        );
        tokio::time::sleep(Duration::from_millis(300 + next(1200))).await;
        // Mostly the leader: chaos among followers proves little.
        let holder = shared.doc("lease.json").await.and_then(|d| {
            names
                .iter()
                .position(|n| d["holder"] == *n && d["released"] != true)
        });
        let i = match holder {
            Some(l) if next(10) < 7 => l,
            _ => next(3) as usize,
        };
        match next(10) {
            0..=3 => {
                if let Some(p) = &procs[i] {
                    let pid = p.id().to_string();
                    let _ = std::process::Command::new("kill")
                        .args(["-STOP", &pid])
                        .status();
                    pauses += 1;
                    tokio::time::sleep(Duration::from_millis(200 + next(4000))).await;
                    let _ = std::process::Command::new("kill")
                        .args(["-CONT", &pid])
                        .status();
                }
            }
            4..=5 => {
                if let Some(mut p) = procs[i].take() {
                    p.kill9();
                    kills += 1;
                }
            }
            _ => {
                if procs[i].is_none() {
                    procs[i] = Some(insts[i].serve(None));
                }
            }
        }
    }
    for p in procs.into_iter().flatten() {
        p.stop();
    }
    let calls = proxy.calls();
    let leased_calls = leased(&calls);
    let epochs: std::collections::BTreeSet<u64> = leased_calls.iter().map(|(_, _, e)| *e).collect();
    eprintln!(
        "lease chaos: {} lease writes, {} calls under a lease, {} epochs, {pauses} pauses, {kills} kills, {:.0}s, {} intervals with two actors",
        lease_writes(&calls),
        leased_calls.len(),
        epochs.len(),
        started.elapsed().as_secs_f64(),
        two_actor_windows(&calls)
    );
    assert_eq!(two_actor_windows(&calls), 0);
    assert!(epochs.len() >= 3, "the chaos caused takeovers: {epochs:?}");
    assert!(leased_calls.len() >= rounds / 2, "the leaders acted");
}

/// One instance's local state moves into the shared store with `migrate-state`, and an
/// instance on the shared store starts from it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_state_moves_into_the_shared_store() {
    let (h, proxy, s3) = start("two-migrate").await;
    h.primary.set(Behavior::Ok);
    h.wait_primary_ok().await;
    // One instance on its own disk: it derives its state and arms.
    let p = serve(&h, "serve.log");
    wait_for("the local state", Duration::from_secs(30), || armed(&h)).await;
    stop(p);
    let local = read_json(&h.state_dir().join("state.json"));

    edit_config(&h, |t| {
        format!("{t}\n[state]\nbackend = \"s3\"\nbucket = \"{BUCKET}\"\nprefix = \"moved/\"\n")
    });
    let dry = h.run(&["migrate-state", "--dry-run"]);
    assert!(dry.status.success(), "{}", text(&dry));
    assert!(
        text(&dry).contains("would copy   state.json"),
        "{}",
        text(&dry)
    );
    let shared = Shared {
        s3,
        prefix: "moved/".into(),
    };
    assert!(
        shared.doc("state.json").await.is_none(),
        "a dry run writes nothing"
    );
    let out = h.run(&["migrate-state"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("copied   state.json"), "{}", text(&out));
    assert_eq!(shared.doc("state.json").await.unwrap(), local);
    let again = h.run(&["migrate-state"]);
    assert!(again.status.success(), "{}", text(&again));
    assert!(
        text(&again).contains("0 document(s) copied"),
        "{}",
        text(&again)
    );

    // A shared-store instance starts from the migrated state: armed, leading, no re-derivation.
    let a = instance(&h, &proxy, "a", &shared.prefix);
    let pa = a.serve(None);
    shared
        .wait_doc("a to lead", "lease.json", Duration::from_secs(30), |d| {
            d["holder"] == "a"
        })
        .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!shared.doc("state.json").await.unwrap()["armed"].is_null());
    assert!(
        !a.log().contains("derived from the world") && !a.log().contains("re-derived"),
        "{}",
        a.log()
    );
    pa.stop();
}

/// `standby failover` on a shared store, from a host that does not lead: it decides and
/// journals the run, the lease holder executes it, and the command follows it to the end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_on_a_follower_host_is_executed_by_the_leader() {
    let (h, proxy, s3) = start("two-command").await;
    h.primary.set(Behavior::Ok);
    h.wait_primary_ok().await;
    let shared = Shared {
        s3,
        prefix: "command/".into(),
    };
    let a = instance(&h, &proxy, "a", &shared.prefix);
    let b = instance(&h, &proxy, "b", &shared.prefix);
    // a's /metrics on a port of its own.
    let port = standby_testbed::free_port();
    let text_a = std::fs::read_to_string(&a.config).unwrap();
    std::fs::write(
        &a.config,
        text_a.replace(
            "listen = \"off\"",
            &format!("listen = \"127.0.0.1:{port}\""),
        ),
    )
    .unwrap();
    let (_a, pa, b, pb) = start_two(&shared, a, b, None).await;
    let metrics = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        "standby_leader 1",
        "standby_lease_epoch 1",
        "standby_lease_renew_failures_total 0",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in:\n{metrics}");
    }
    let out = standby_command(&["failover", "--yes"], &b.config)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(
        t.contains("--remote"),
        "the report is where the leader put it: {t}"
    );
    assert!(t.contains("decided"), "{t}");
    assert!(
        t.contains("failover succeeded"),
        "the command follows the run to its end: {t}"
    );
    let runs = shared.runs().await;
    assert_eq!(runs.len(), 1, "{runs:#?}");
    assert_eq!(runs[0]["trigger"]["kind"], "manual", "{:#}", runs[0]);
    // Executed by the leader: every action went out under a's lease.
    let calls = proxy.calls();
    let actions: Vec<_> = leased(&calls)
        .into_iter()
        .filter(|(c, ..)| {
            c.operation == "UpdateAutoScalingGroup" || c.operation == "ChangeResourceRecordSets"
        })
        .map(|(_, who, _)| who)
        .collect();
    assert_eq!(actions, ["a", "a"], "{actions:?}");
    assert_eq!(h.record().await, h.world.standby_value);
    pa.stop();
    pb.stop();

    // With no instance left to hold the lease, a command says so instead of waiting for ever.
    h.reset_world().await;
    let out = standby_command(&["failback", "--yes"], &b.config)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("no instance holds the lease"), "{t}");
}
