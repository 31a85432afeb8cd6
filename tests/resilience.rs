//! Acting until traffic is safe, against the real `standby serve` with AWS faults injected on
//! the wire (the testbed's fault proxy in front of moto), a stand-in systemd notify socket and
//! hostile local clients: the seven ways issue 11 saw the daemon give up, stall or be misled.

mod common;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use common::*;
use standby_testbed::endpoint::Behavior;
use standby_testbed::faults::{Fault, Rule};

fn listen(h: &Harness) -> String {
    let addr = format!("127.0.0.1:{}", standby_testbed::free_port());
    edit_config(h, |t| {
        t.replace("listen = \"off\"", &format!("listen = \"{addr}\""))
    });
    addr
}

fn webhook(h: &Harness, url: &str) {
    edit_config(h, |t| {
        format!("{t}\n[[webhooks]]\nurl = \"{url}\"\ntimeout = \"2s\"\n")
    });
}

fn get(addr: &str, path: &str) -> Option<(u16, String)> {
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let status = out.split_whitespace().nth(1)?.parse().ok()?;
    let body = out.split_once("\r\n\r\n").map(|(_, b)| b.to_string())?;
    Some((status, body))
}

/// Observation 1: Route 53 throttling the first UPSERTs past the SDK's tries made the failover
/// fail once and for ever. Now the failed step is retried and traffic ends on the standby; the
/// report lists each failed attempt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_dns_flip_is_retried_until_traffic_is_on_the_standby() {
    let h = Harness::start("res-throttle").await;
    let proxy = behind_proxy(&h, 7).await;
    set_failover(
        &h,
        "attempts = 5\nretry_backoff = \"200ms\"\nretry_max_backoff = \"1s\"\n",
    );
    let daemon = serve(&h, "serve.log");
    wait_for("armed", Duration::from_secs(15), || armed(&h)).await;
    proxy.add(
        Rule::new(
            Some("route53"),
            Some("ChangeResourceRecordSets"),
            Fault::PriorRequestNotComplete,
        )
        .first(2),
    );
    proxy.add(
        Rule::new(
            Some("route53"),
            Some("ChangeResourceRecordSets"),
            Fault::Throttle,
        )
        .first(1),
    );
    h.lab.primary.set(Behavior::Refuse);
    wait_for("traffic on the standby", Duration::from_secs(60), || {
        serving(&h) == "standby"
    })
    .await;
    assert_eq!(h.record().await, h.world.standby_value);
    stop(daemon);
    let rep = last_report(&h);
    assert_eq!(rep["result"], "succeeded", "{rep:#}");
    let attempts = rep["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 3, "{attempts:#?}");
    for a in attempts {
        assert_eq!(a["next"], "retry");
        assert_eq!(a["step"], "flip-dns", "{a:#}");
    }
    assert!(
        attempts[0]["reason"]
            .as_str()
            .unwrap()
            .contains("PriorRequestNotComplete"),
        "{attempts:#?}"
    );
    let flips = proxy
        .calls()
        .iter()
        .filter(|c| c.operation == "ChangeResourceRecordSets")
        .count();
    assert_eq!(flips, 4, "three refused, the fourth went through");
}

/// `standby pause` holds a failover waiting to retry (a retry is an action); `resume` lets it go.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_holds_a_retry_and_resume_lets_it_go() {
    let h = Harness::start("res-pause").await;
    let proxy = behind_proxy(&h, 5).await;
    set_failover(
        &h,
        "attempts = 20\nretry_backoff = \"200ms\"\nretry_max_backoff = \"200ms\"\n",
    );
    let daemon = serve(&h, "serve.log");
    wait_for("armed", Duration::from_secs(15), || armed(&h)).await;
    proxy.add(Rule::new(
        Some("route53"),
        Some("ChangeResourceRecordSets"),
        Fault::Throttle,
    ));
    h.lab.primary.set(Behavior::Refuse);
    let flips = || {
        proxy
            .calls()
            .iter()
            .filter(|c| c.operation == "ChangeResourceRecordSets")
            .count()
    };
    wait_for("a refused flip", Duration::from_secs(30), || flips() >= 1).await;
    let paused = h.run(&["pause"]);
    assert!(paused.status.success(), "{}", text(&paused));
    tokio::time::sleep(Duration::from_millis(600)).await;
    let held = flips();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(flips(), held, "no retry while paused");
    proxy.clear();
    let resumed = h.run(&["resume"]);
    assert!(resumed.status.success(), "{}", text(&resumed));
    wait_for("traffic on the standby", Duration::from_secs(30), || {
        serving(&h) == "standby"
    })
    .await;
    stop(daemon);
    assert!(log(&h, "serve.log").contains("the retry waits for `standby resume`"));
}

/// A daemon killed (SIGKILL) while a failover waits to retry: the next one adopts the run,
/// waits out the journaled backoff and retries the failed step, not the run from the top.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_killed_during_a_retry_wait_resumes_the_wait_and_the_step() {
    let h = Harness::start("res-killwait").await;
    let proxy = behind_proxy(&h, 9).await;
    set_failover(
        &h,
        "attempts = 5\nretry_backoff = \"3s\"\nretry_max_backoff = \"3s\"\n",
    );
    let mut daemon = serve(&h, "serve.log");
    wait_for("armed", Duration::from_secs(15), || armed(&h)).await;
    proxy.add(Rule::new(
        Some("route53"),
        Some("ChangeResourceRecordSets"),
        Fault::Throttle,
    ));
    h.lab.primary.set(Behavior::Refuse);
    let journal = || -> Option<serde_json::Value> {
        let dir = h.state_dir().join("runs");
        let f = std::fs::read_dir(dir)
            .ok()?
            .filter_map(Result::ok)
            .find(|e| e.file_name().to_string_lossy().ends_with(".json"))?;
        serde_json::from_slice(&std::fs::read(f.path()).ok()?).ok()
    };
    wait_for("a journaled retry wait", Duration::from_secs(30), || {
        journal().is_some_and(|j| !j["retry_at"].is_null())
    })
    .await;
    let _ = daemon.kill();
    let _ = daemon.wait();
    let scaled = h
        .capacity(&h.world.standby_region, &h.world.standby_asg)
        .await;
    proxy.clear();
    let daemon = serve(&h, "serve2.log");
    wait_for("traffic on the standby", Duration::from_secs(60), || {
        serving(&h) == "standby"
    })
    .await;
    stop(daemon);
    let j = journal().unwrap();
    assert_eq!(j["status"], "succeeded", "{j:#}");
    assert_eq!(j["attempts"].as_array().unwrap().len(), 1, "{j:#}");
    assert!(!j["resumed_at"].as_array().unwrap().is_empty());
    let scale_attempts: Vec<u64> = j["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["name"] == "scale-standby")
        .map(|s| s["attempts"].as_u64().unwrap())
        .collect();
    assert_eq!(scale_attempts, [1], "finished steps are not run again");
    assert_eq!(
        scaled.0, h.world.serving,
        "the standby was scaled before the kill"
    );
}

/// Observation 1, the other half: when every attempt fails, the run ends failed and escalates
/// (webhook, metric, state), no RTO is published for it, and the daemon does not go quiet nor
/// loop: it waits for people.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failover_that_uses_up_its_attempts_escalates_and_publishes_no_rto() {
    let h = Harness::start("res-giveup").await;
    let proxy = behind_proxy(&h, 11).await;
    set_failover(
        &h,
        "attempts = 3\nretry_backoff = \"100ms\"\nretry_max_backoff = \"200ms\"\nescalate_after = 1\n",
    );
    let addr = listen(&h);
    let hooks = Receiver::start().await;
    webhook(&h, &hooks.url);
    let daemon = serve(&h, "serve.log");
    wait_for("armed", Duration::from_secs(15), || armed(&h)).await;
    proxy.add(Rule::new(
        Some("route53"),
        Some("ChangeResourceRecordSets"),
        Fault::Throttle,
    ));
    h.lab.primary.set(Behavior::Refuse);
    wait_for("the escalation", Duration::from_secs(60), || gave_up(&h)).await;
    // Steady down for a while: no new run starts on its own.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (_, metrics) = get(&addr, "/metrics").unwrap();
    let (code, health) = get(&addr, "/healthz").unwrap();
    stop(daemon);
    assert_eq!(code, 503, "{health}");
    assert!(health.contains("\"escalated_failover\": {"), "{health}");
    let rep = last_report(&h);
    assert_eq!(rep["result"], "failed");
    let attempts = rep["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 3, "{attempts:#?}");
    assert_eq!(attempts[2]["next"], "give_up");
    assert!(
        metrics.contains("standby_failover_escalated 1"),
        "{metrics}"
    );
    assert!(
        !metrics.contains("standby_last_rto_seconds{kind=\"failover\""),
        "a failed run published an RTO:\n{metrics}"
    );
    let escalations = hooks.events().iter().filter(|e| *e == "escalation").count();
    assert_eq!(escalations, 2, "one at escalate_after, one when giving up");
    assert_eq!(
        run_files(&h),
        1,
        "the escalated failover is not restarted in a loop"
    );
    let out = text(&h.run(&["status"]));
    assert!(out.contains("ESCALATED:   failover"), "{out}");
}

/// The figure for the note: `STANDBY_CHAOS_FAILOVERS` failovers (3 in `make test`) with 20% of
/// all AWS calls throttled; every one must end with traffic on the standby.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failovers_with_a_fifth_of_aws_calls_throttled_all_reach_the_standby() {
    let n: u32 = std::env::var("STANDBY_CHAOS_FAILOVERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let h = Harness::start("res-chaos").await;
    let proxy = behind_proxy(&h, 20).await;
    // The SDK's own retries at their production default (the test config's 1 makes calls to
    // operations moto lacks fail fast): the throttles left over reach standby's retry policy.
    // STANDBY_CHAOS_SDK_ATTEMPTS=1 turns the SDK's retries off: every throttle reaches it.
    let sdk = std::env::var("STANDBY_CHAOS_SDK_ATTEMPTS").unwrap_or_else(|_| "3".into());
    edit_config(&h, |t| {
        t.replace("max_attempts = 1\n", &format!("max_attempts = {sdk}\n"))
    });
    let mut outcomes = Vec::new();
    let mut counted = (0, 0);
    for i in 0..n {
        let before = proxy.calls().iter().filter(|c| c.fault.is_some()).count();
        h.reset_world().await;
        h.lab.primary.set(Behavior::Ok);
        let _ = std::fs::remove_dir_all(h.state_dir());
        proxy.clear();
        let daemon = serve(&h, &format!("serve-{i}.log"));
        wait_for("armed", Duration::from_secs(20), || armed(&h)).await;
        proxy.add(Rule::new(None, None, Fault::Throttle).probability(0.2));
        let started = Instant::now();
        h.lab.primary.set(Behavior::Refuse);
        let deadline = started + Duration::from_secs(90);
        while serving(&h) != "standby" && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let on_standby = serving(&h) == "standby" && h.record().await == h.world.standby_value;
        let throttled = proxy.calls().iter().filter(|c| c.fault.is_some()).count();
        stop(daemon);
        let rep = last_report(&h);
        // The report counts the run's own requests: every throttle it counts really happened
        // (the proxy saw at least as many, the daemon's other calls included).
        let sum = |k: &str| -> u64 {
            rep["steps"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|s| s["details"]["aws"][k].as_u64())
                .sum()
        };
        let (retries, reported) = (sum("retries"), sum("throttled"));
        assert!(
            reported as usize <= throttled - before,
            "the report counts {reported} throttles, the proxy injected {}",
            throttled - before
        );
        counted = (counted.0 + retries, counted.1 + reported);
        outcomes.push(format!(
            "failover {}: {} in {:.1}s, {} failed attempt(s), {reported} throttled and {retries} retried requests in the report, {throttled} throttled calls so far",
            i + 1,
            if on_standby {
                "on the standby"
            } else {
                "NOT on the standby"
            },
            started.elapsed().as_secs_f64(),
            rep["attempts"].as_array().map_or(0, Vec::len)
        ));
        assert!(
            on_standby,
            "{}\n{}",
            outcomes.join("\n"),
            log(&h, &format!("serve-{i}.log"))
        );
    }
    println!("{}", outcomes.join("\n"));
    assert!(
        counted.0 > 0 && counted.1 > 0,
        "the reports count retries and throttles: {counted:?}\n{}",
        outcomes.join("\n")
    );
}

/// Observation 2: a state write that fails (here the store's lock file replaced by a directory)
/// while the primary fails. The orchestrator reports itself impaired (naming the lock file), not
/// the primary; once the file is back, the failover happens without a verdict change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_state_write_impairs_the_orchestrator_and_is_retried_once_mended() {
    let h = Harness::start("res-enospc").await;
    let addr = listen(&h);
    let hooks = Receiver::start().await;
    webhook(&h, &hooks.url);
    let daemon = serve(&h, "serve.log");
    wait_for("armed", Duration::from_secs(15), || armed(&h)).await;
    let lock = h.state_dir().join(".store.lock");
    let _ = std::fs::remove_file(&lock);
    std::fs::create_dir(&lock).unwrap();
    h.lab.primary.set(Behavior::Refuse);
    wait_for("impaired on /healthz", Duration::from_secs(10), || {
        get(&addr, "/healthz").is_some_and(|(s, b)| s == 503 && b.contains("\"persist\""))
    })
    .await;
    let (_, health) = get(&addr, "/healthz").unwrap();
    assert!(
        health.contains(".store.lock"),
        "names the file at fault: {health}"
    );
    let out = text(&h.run(&["status"]));
    assert!(
        out.contains("daemon:      UNHEALTHY (probing)") && out.contains("IMPAIRED (persist)"),
        "{out}"
    );
    // Impaired for as long as nothing can be written: reads that work (the state, the runs)
    // must not mend it between two failed writes.
    let until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < until {
        let (status, body) = get(&addr, "/healthz").unwrap();
        assert!(status == 503 && body.contains("\"persist\""), "{body}");
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    assert_eq!(serving(&h), "primary", "nothing could be written yet");
    let (_, metrics) = get(&addr, "/metrics").unwrap();
    assert!(
        metrics.contains("standby_orchestrator_impaired{kind=\"persist\"} 1"),
        "{metrics}"
    );
    std::fs::remove_dir(&lock).unwrap();
    wait_for(
        "the failover once the disk is back",
        Duration::from_secs(30),
        || serving(&h) == "standby",
    )
    .await;
    wait_for("healthy again", Duration::from_secs(10), || {
        get(&addr, "/healthz").is_some_and(|(s, _)| s == 200)
    })
    .await;
    stop(daemon);
    let impaired: Vec<serde_json::Value> = hooks
        .got
        .lock()
        .unwrap()
        .iter()
        .filter(|v| v["event"] == "orchestrator_impaired")
        .cloned()
        .collect();
    assert!(impaired.len() >= 2, "impaired, then mended: {impaired:#?}");
}

/// Observation 3: with Route 53 hanging, the loop stalled in AWS calls: few probe rounds, a
/// silent watchdog, /healthz 503. Now probing and the watchdog go on; /healthz says acting
/// fails, not that probing died; and the failover completes once Route 53 answers again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_route53_stalls_neither_probing_nor_the_watchdog() {
    let h = Harness::start("res-hang").await;
    let proxy = behind_proxy(&h, 3).await;
    edit_config(&h, |t| {
        t.replace(
            "max_attempts = 1\n",
            "max_attempts = 1\ncall_timeout = \"3s\"\n",
        )
    });
    set_failover(
        &h,
        "retry_backoff = \"200ms\"\nretry_max_backoff = \"1s\"\n",
    );
    let addr = listen(&h);
    let sock_path = h.dir.0.join("notify.sock");
    let notify = std::os::unix::net::UnixDatagram::bind(&sock_path).unwrap();
    notify
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let daemon = serve_with(
        &h,
        "serve.log",
        &[
            ("NOTIFY_SOCKET", sock_path.to_str().unwrap()),
            ("WATCHDOG_USEC", "2000000"),
        ],
    );
    wait_for("armed", Duration::from_secs(15), || armed(&h)).await;
    proxy.add(Rule::new(Some("route53"), None, Fault::Hang));
    h.lab.primary.set(Behavior::Refuse);
    let watch_for = Duration::from_secs(15);
    let started = Instant::now();
    let mut last_ping = Instant::now();
    let mut longest = Duration::ZERO;
    let mut pings = 0;
    let mut polls = (0, 0);
    let mut buf = [0u8; 512];
    let mut next_poll = Instant::now();
    while started.elapsed() < watch_for {
        if let Ok(n) = notify.recv(&mut buf)
            && String::from_utf8_lossy(&buf[..n]).contains("WATCHDOG=1")
        {
            longest = longest.max(last_ping.elapsed());
            last_ping = Instant::now();
            pings += 1;
        }
        if Instant::now() >= next_poll {
            next_poll = Instant::now() + Duration::from_millis(250);
            polls.0 += 1;
            if let Some((_, body)) = get(&addr, "/healthz") {
                let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
                if v["probing"]["alive"] == true {
                    polls.1 += 1;
                }
            }
        }
    }
    longest = longest.max(last_ping.elapsed());
    let verdict = read_json(&h.state_dir().join("verdict.json"));
    assert_eq!(verdict["health"], "down");
    assert_eq!(serving(&h), "failing_over", "the run waits on Route 53");
    println!(
        "Route 53 hanging for {}s: {pings} watchdog pings, longest gap {:.2}s; probing alive in {}/{} /healthz polls",
        watch_for.as_secs(),
        longest.as_secs_f64(),
        polls.1,
        polls.0
    );
    assert!(
        longest < Duration::from_millis(2500),
        "watchdog gap {longest:?} (pings every 1s expected)"
    );
    assert_eq!(polls.0, polls.1, "probing alive in every /healthz poll");
    proxy.clear();
    wait_for(
        "the failover once Route 53 answers",
        Duration::from_secs(60),
        || serving(&h) == "standby",
    )
    .await;
    stop(daemon);
}

/// Observation 4: idle local clients exhausted the daemon's file descriptors, the probes failed
/// with EMFILE and the primary was judged down. Now the endpoint caps its connections and cuts
/// slow heads, so a flood changes nothing; HTTP's own codes answer the bad requests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_idle_local_clients_cannot_blind_the_probes() {
    let h = Harness::start("res-flood").await;
    let addr = listen(&h);
    // A small descriptor budget, so that without the cap the flood would exhaust it.
    let daemon = serve_with_nofile(&h, 160, "serve.log");
    wait_for("armed", Duration::from_secs(15), || armed(&h)).await;
    let mut idle = Vec::new();
    let connect = |idle: &mut Vec<std::net::TcpStream>, n: usize| {
        for _ in 0..n {
            if let Ok(s) = std::net::TcpStream::connect(&addr) {
                idle.push(s);
            }
        }
    };
    connect(&mut idle, 100);
    // Over the cap: answered 503 at once (checked while the first 64 are surely still within
    // their 5s head deadline).
    let mut extra = std::net::TcpStream::connect(&addr).unwrap();
    extra
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    let mut got = String::new();
    let read = extra.read_to_string(&mut got);
    assert!(
        got.starts_with("HTTP/1.1 503"),
        "{got:?} {read:?} ({} idle connections)\n{}",
        idle.len(),
        log(&h, "serve.log")
    );
    // The rest of the flood; probing goes on through it.
    connect(&mut idle, 300);
    tokio::time::sleep(Duration::from_secs(3)).await;
    // A silent client is cut off with 408 after the head deadline.
    let mut silent = idle.remove(0);
    silent
        .set_read_timeout(Some(Duration::from_secs(8)))
        .unwrap();
    let mut got = String::new();
    let _ = silent.read_to_string(&mut got);
    assert!(got.starts_with("HTTP/1.1 408"), "{got:?}");
    drop(idle);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let big_body = {
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        write!(
            s,
            "POST /control/pause HTTP/1.1\r\nContent-Length: 5000000\r\n\r\n"
        )
        .unwrap();
        let mut got = String::new();
        let _ = s.read_to_string(&mut got);
        got
    };
    assert!(big_body.starts_with("HTTP/1.1 413"), "{big_body:?}");
    let big_head = {
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        let _ = write!(
            s,
            "GET /status HTTP/1.1\r\nX-Junk: {}\r\n",
            "a".repeat(20_000)
        );
        let mut got = String::new();
        let _ = s.read_to_string(&mut got);
        got
    };
    assert!(big_head.starts_with("HTTP/1.1 431"), "{big_head:?}");
    let (status, _) = get(&addr, "/healthz").unwrap();
    stop(daemon);
    let serve_log = log(&h, "serve.log");
    assert_eq!(status, 200, "{serve_log}");
    assert!(!serve_log.contains("Too many open files"), "{serve_log}");
    assert!(!serve_log.contains("verdict changed: down"), "{serve_log}");
    assert_eq!(run_files(&h), 0, "no run started");
}

/// Observation 4, the other half: when this host does run out of descriptors, whatever part of
/// the daemon meets the full table (the probe, the verdict's write, the endpoint's accept) is
/// reported as the orchestrator's own impairment; the primary is not judged down and nothing
/// fails over. Which part meets it is a race (a probe's closed socket is often the next probe's
/// descriptor): the probe's side is pinned by `a_probe_that_meets_a_full_descriptor_table...`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exhausted_descriptors_impair_the_orchestrator_not_the_primary() {
    let h = Harness::start("res-emfile").await;
    let addr = listen(&h);
    let limit = 64;
    let daemon = serve_with_nofile(&h, limit, "serve.log");
    wait_for("armed", Duration::from_secs(15), || armed(&h)).await;
    let fds = std::fs::read_dir(format!("/proc/{}/fd", daemon.id()))
        .unwrap()
        .count();
    assert!(fds < limit, "{fds} descriptors open at rest");
    // Keep the table full for a few seconds (the endpoint cuts idle heads after 5s).
    let mut held = Vec::new();
    let until = Instant::now() + Duration::from_secs(4);
    while Instant::now() < until {
        while held.len() < 200 {
            match std::net::TcpStream::connect(&addr) {
                Ok(s) => held.push(s),
                Err(_) => break,
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(held);
    let last = healthz_within(&addr, Duration::from_secs(15)).await;
    stop(daemon);
    let serve_log = log(&h, "serve.log");
    assert!(
        last.as_ref().is_some_and(|(s, _)| *s == 200),
        "healthy again within 15s once descriptors are free; /healthz: {last:?}\n{serve_log}"
    );
    assert!(
        serve_log.contains("ORCHESTRATOR IMPAIRED ("),
        "the daemon met the full table and said so:\n{serve_log}"
    );
    assert_primary_not_blamed(&serve_log);
    assert!(!serve_log.contains("panicked"), "{serve_log}");
    assert_eq!(serving(&h), "primary");
}

/// The probe's side of observation 4, without the race: while the failpoint's file exists every
/// probe is sent with the daemon's descriptor table really full, so every round fails with
/// EMFILE. That is the orchestrator's impairment (`probe`), never a failed round of the
/// primary's: rounds far past the failure threshold fail over nothing, and once the table is
/// free again the impairment is mended and the primary is still the one serving.
#[cfg(feature = "failpoints")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_probe_that_meets_a_full_descriptor_table_impairs_the_orchestrator_only() {
    let h = Harness::start("res-fullfd").await;
    let addr = listen(&h);
    let flag = h.dir.0.join("full-table");
    let failpoint = format!("probe:full-table=return({})", flag.display());
    let daemon = serve_with(&h, "serve.log", &[("FAILPOINTS", &failpoint)]);
    wait_for("armed", Duration::from_secs(15), || armed(&h)).await;
    std::fs::write(&flag, b"").unwrap();
    wait_for("the probe's impairment", Duration::from_secs(10), || {
        log(&h, "serve.log").contains("ORCHESTRATOR IMPAIRED (probe)")
    })
    .await;
    // Five seconds of 200 ms rounds: twenty-five times the failure threshold.
    tokio::time::sleep(Duration::from_secs(5)).await;
    std::fs::remove_file(&flag).unwrap();
    wait_for("the impairment mended", Duration::from_secs(10), || {
        log(&h, "serve.log").contains("orchestrator no longer impaired (probe)")
    })
    .await;
    let last = healthz_within(&addr, Duration::from_secs(10)).await;
    stop(daemon);
    let serve_log = log(&h, "serve.log");
    assert!(
        last.as_ref().is_some_and(|(s, _)| *s == 200),
        "/healthz: {last:?}\n{serve_log}"
    );
    assert!(
        serve_log.contains("Too many open files"),
        "the impairment names the cause:\n{serve_log}"
    );
    assert_primary_not_blamed(&serve_log);
    assert_eq!(run_files(&h), 0, "no run started:\n{serve_log}");
    assert_eq!(serving(&h), "primary");
}

/// A probe that met the full table and was counted against the primary would show in a verdict
/// line naming EMFILE; and the primary was never judged down.
fn assert_primary_not_blamed(serve_log: &str) {
    let blamed: Vec<&str> = serve_log
        .lines()
        .filter(|l| l.contains("verdict changed") && l.contains("Too many open files"))
        .collect();
    assert!(blamed.is_empty(), "{blamed:?}\n{serve_log}");
    assert!(!serve_log.contains("verdict changed: down"), "{serve_log}");
}

/// `/healthz` until it answers 200 or `within` passes; the last answer either way.
async fn healthz_within(addr: &str, within: Duration) -> Option<(u16, String)> {
    let mut last = None;
    let until = Instant::now() + within;
    while Instant::now() < until {
        last = get(addr, "/healthz");
        if last.as_ref().is_some_and(|(s, _)| *s == 200) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    last
}

/// Observation 5: an answer that echoes the request was cut before redaction, leaking most of
/// the key. With a key long enough to straddle every cut, no 8-character piece of it appears in
/// anything standby wrote, printed or served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_piece_of_a_secret_survives_an_echoing_endpoint() {
    let h = Harness::start("res-redact").await;
    let key: String = (0..160)
        .map(|i| char::from(b"abcdefghijklmnopqrstuvwxyz0123456789"[(i * 7 + 3) % 36]))
        .collect();
    let key = format!("sk-{key}");
    let addr = listen(&h);
    h.lab.standby.set(Behavior::Status(503));
    let mut printed = String::new();
    for args in [&["check"][..], &["drill", "standby", "--yes"][..]] {
        let out = h
            .command(args)
            .env("STANDBY_TEST_PROBE_KEY", &key)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        printed.push_str(&text(&out));
    }
    let file = std::fs::File::create(h.dir.0.join("serve.log")).unwrap();
    let daemon: Daemon = h
        .command(&["serve"])
        .env("STANDBY_TEST_PROBE_KEY", &key)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(file)
        .spawn()
        .unwrap()
        .into();
    wait_for("the endpoint", Duration::from_secs(15), || {
        get(&addr, "/status").is_some()
    })
    .await;
    printed.push_str(&get(&addr, "/status").unwrap().1);
    stop(daemon);
    assert!(
        printed.contains("[redacted ${STANDBY_TEST_PROBE_KEY}]"),
        "{printed}"
    );
    let mut texts = vec![("output and /status".to_string(), printed)];
    let mut stack = vec![h.dir.0.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().filter_map(Result::ok) {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(b) = std::fs::read(&p) {
                texts.push((
                    p.display().to_string(),
                    String::from_utf8_lossy(&b).into_owned(),
                ));
            }
        }
    }
    assert!(texts.len() > 5, "state, journals and reports were written");
    let pieces: Vec<&str> = (0..=key.len() - 8).map(|i| &key[i..i + 8]).collect();
    for (name, t) in &texts {
        if name.ends_with("standby.toml") {
            continue;
        }
        for p in &pieces {
            assert!(!t.contains(p), "{name} holds {p:?}, a piece of the secret");
        }
    }
}

/// Observation 7: a deleted state.json was taken to mean "traffic on the primary", and one junk
/// run file broke `status`. Now the state is re-derived from the DNS record (and says so), and
/// junk is reported and skipped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_state_is_rederived_and_junk_run_files_are_skipped() {
    let h = Harness::start("res-heal").await;
    let daemon = serve(&h, "serve.log");
    wait_for("armed", Duration::from_secs(15), || armed(&h)).await;
    h.lab.primary.set(Behavior::Refuse);
    wait_for("the failover", Duration::from_secs(60), || {
        serving(&h) == "standby"
    })
    .await;
    // The primary answers again (its `up` is applied every round), and state.json goes away
    // under the running daemon: it must not be recreated as "primary".
    h.lab.primary.set(Behavior::Ok);
    wait_for("the primary up", Duration::from_secs(15), || {
        read_json(&h.state_dir().join("verdict.json"))["health"] == "up"
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    std::fs::remove_file(h.state_dir().join("state.json")).unwrap();
    wait_for(
        "the state re-derived under the daemon",
        Duration::from_secs(15),
        || h.state_dir().join("state.json").exists(),
    )
    .await;
    assert_eq!(serving(&h), "standby", "{}", log(&h, "serve.log"));
    stop(daemon);
    std::fs::remove_file(h.state_dir().join("state.json")).unwrap();
    std::fs::write(
        h.state_dir()
            .join("runs/20261125T000000Z-failover-junk.json"),
        b"{ not json",
    )
    .unwrap();
    let daemon = serve(&h, "serve2.log");
    wait_for("the state re-derived", Duration::from_secs(15), || {
        serving(&h) == "standby"
    })
    .await;
    let state = read_json(&h.state_dir().join("state.json"));
    assert!(
        state["reason"].as_str().unwrap().contains("re-derived"),
        "{state:#}"
    );
    let status = h.run(&["status"]);
    let out = text(&status);
    assert!(status.status.success(), "{out}");
    assert!(out.contains("skipped:") && out.contains("junk"), "{out}");
    let list = h.run(&["report", "list"]);
    assert!(list.status.success(), "{}", text(&list));
    stop(daemon);
    assert!(!log(&h, "serve2.log").contains("panicked"));
    // An unreadable state is kept for people and re-derived the same way.
    std::fs::write(h.state_dir().join("state.json"), b"{\"serving\": tru").unwrap();
    let daemon = serve(&h, "serve3.log");
    wait_for(
        "the corrupt state re-derived",
        Duration::from_secs(15),
        || serving(&h) == "standby",
    )
    .await;
    stop(daemon);
    let kept: Vec<String> = std::fs::read_dir(h.state_dir())
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("state.corrupt-"))
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
}
