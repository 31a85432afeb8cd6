//! A second vantage: with several instances on a shared store, the lease holder may require
//! other instances to see the primary down before it fails over (`health.vantage`), so a break
//! in the holder's own network path to the primary does not move traffic off a healthy primary.
//!
//! Each instance publishes its verdict; the holder judges each peer's by how long that
//! document has gone unchanged on the holder's own clock (no wall clocks compared). A peer
//! that stopped publishing (dead, or cut off from the store) for longer than `stale_after`
//! counts as agreeing: a lost peer never blocks a real failover for longer than that.

use std::time::Duration;

use crate::detector::{Health, Verdict};

pub use crate::detector::Vantage;

/// Another instance's last published verdict, and how long it has gone unchanged as the
/// judging instance saw it.
#[derive(Debug, Clone, Copy)]
pub struct Peer<'a> {
    pub instance: &'a str,
    pub verdict: &'a Verdict,
    pub unchanged_for: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agreement {
    pub agree: bool,
    /// Every vantage's evidence, for the log and the report's trigger.
    pub reason: String,
    /// The latest failing-streak start and last good round among the peers that see the primary
    /// down: the primary was not down for everyone before these, so the failure's clock starts
    /// no earlier (a path that broke on this instance alone hours ago must not count). Peers'
    /// stamps carry their clocks' offset from this one.
    pub streak_start: Option<chrono::DateTime<chrono::Utc>>,
    pub last_good: Option<chrono::DateTime<chrono::Utc>>,
}

/// Whether the peers agree the primary is down, as `vantage` requires.
pub fn judge(vantage: Vantage, peers: &[Peer<'_>], stale_after: Duration) -> Agreement {
    let mut agreeing = 0;
    let (mut streak_start, mut last_good) = (None, None);
    let lines: Vec<String> = peers
        .iter()
        .map(|p| {
            let (agrees, what) = if p.unchanged_for > stale_after {
                (
                    true,
                    format!(
                        "silent for {} (over {}): counted as agreeing",
                        crate::duration::human(p.unchanged_for),
                        crate::duration::human(stale_after)
                    ),
                )
            } else {
                let h = format!("{:?}", p.verdict.health).to_lowercase();
                let down = p.verdict.health == Health::Down;
                if down {
                    streak_start = streak_start.max(p.verdict.streak_start);
                    last_good = last_good.max(p.verdict.last_good);
                }
                let reason = &p.verdict.reason;
                (
                    down,
                    if reason.starts_with(&h) {
                        reason.clone()
                    } else {
                        format!("{h}: {reason}")
                    },
                )
            };
            agreeing += usize::from(agrees);
            format!("{} {what}", p.instance)
        })
        .collect();
    let evidence = if lines.is_empty() {
        "no other instance has published a verdict".to_string()
    } else {
        lines.join("; ")
    };
    let (agree, rule) = match vantage {
        Vantage::SelfOnly => (true, "this instance's verdict decides"),
        Vantage::AnyPeer if peers.is_empty() => (true, "no peer to ask"),
        Vantage::AnyPeer => (agreeing > 0, "at least one peer must agree"),
        Vantage::AllPeers => (agreeing == peers.len(), "every peer must agree"),
    };
    Agreement {
        agree,
        reason: format!("vantage {} ({rule}): {evidence}", vantage.as_str()),
        streak_start,
        last_good,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};

    fn verdict(health: Health) -> Verdict {
        Verdict {
            health,
            changed: false,
            reason: format!("{health:?} per its probes"),
            at: DateTime::<Utc>::UNIX_EPOCH,
            since: None,
            streak_start: None,
            last_good: None,
            rule: None,
            fresh_until: None,
            flapping: None,
            notice: crate::detector::Notice::Quiet,
            flap_ended: None,
            evidence: vec![],
        }
    }

    const STALE: Duration = Duration::from_secs(3);

    #[test]
    fn a_peer_that_sees_the_primary_up_blocks_the_failover() {
        let up = verdict(Health::Up);
        let peers = [Peer {
            instance: "b",
            verdict: &up,
            unchanged_for: Duration::from_millis(200),
        }];
        let a = judge(Vantage::AnyPeer, &peers, STALE);
        assert!(!a.agree);
        assert!(a.reason.contains("b up: Up per its probes"), "{}", a.reason);
        let mut down = verdict(Health::Down);
        down.reason = "down: 2 consecutive failing rounds".into();
        let peers = [Peer {
            instance: "b",
            verdict: &down,
            unchanged_for: Duration::ZERO,
        }];
        let a = judge(Vantage::AnyPeer, &peers, STALE);
        assert!(a.reason.contains("b down: 2 consecutive"), "{}", a.reason);
        assert!(judge(Vantage::SelfOnly, &peers, STALE).agree);
    }

    #[test]
    fn any_peer_needs_one_and_all_peers_needs_every_one() {
        let (up, down) = (verdict(Health::Up), verdict(Health::Down));
        let fresh = Duration::from_millis(100);
        let peers = [
            Peer {
                instance: "b",
                verdict: &down,
                unchanged_for: fresh,
            },
            Peer {
                instance: "c",
                verdict: &up,
                unchanged_for: fresh,
            },
        ];
        assert!(judge(Vantage::AnyPeer, &peers, STALE).agree);
        assert!(!judge(Vantage::AllPeers, &peers, STALE).agree);
    }

    #[test]
    fn the_failure_clock_starts_when_the_agreeing_peers_saw_it() {
        let t = |s: i64| DateTime::<Utc>::from_timestamp(s, 0);
        let mut b = verdict(Health::Down);
        (b.streak_start, b.last_good) = (t(100), t(99));
        let mut c = verdict(Health::Down);
        (c.streak_start, c.last_good) = (t(104), t(103));
        let up = verdict(Health::Up);
        let z = Duration::ZERO;
        let peers = [
            Peer {
                instance: "b",
                verdict: &b,
                unchanged_for: z,
            },
            Peer {
                instance: "c",
                verdict: &c,
                unchanged_for: z,
            },
            Peer {
                instance: "d",
                verdict: &up,
                unchanged_for: z,
            },
        ];
        let a = judge(Vantage::AnyPeer, &peers, STALE);
        assert_eq!((a.streak_start, a.last_good), (t(104), t(103)));
    }

    #[test]
    fn a_silent_peer_counts_as_agreeing_once_stale() {
        let up = verdict(Health::Up);
        let mut peers = [Peer {
            instance: "b",
            verdict: &up,
            unchanged_for: STALE,
        }];
        assert!(!judge(Vantage::AllPeers, &peers, STALE).agree);
        peers[0].unchanged_for = STALE + Duration::from_millis(1);
        let a = judge(Vantage::AllPeers, &peers, STALE);
        assert!(a.agree);
        assert!(a.reason.contains("counted as agreeing"), "{}", a.reason);
    }

    #[test]
    fn no_peers_never_blocks() {
        assert!(judge(Vantage::AnyPeer, &[], STALE).agree);
        assert!(judge(Vantage::AllPeers, &[], STALE).agree);
    }
}
