//! The leader lease: which of several `standby serve` instances may act (start and execute runs,
//! sync artifacts, heal the state), after Patroni's leader key and Litestream's S3 lease.
//!
//! One lease document lives in the shared store. Its holder writes it again every `renew`
//! (a compare-and-swap on the version it wrote last); everyone else watches it. The *epoch*
//! grows by one on every takeover and rides on every write the holder makes, so a deposed
//! holder's late writes are refused by the store (the fencing token).
//!
//! Guarantees (with the clock assumption below):
//! - **At most one actor.** A holder acts only while `now < sent + ttl − margin`, where `sent` is
//!   when it *sent* its last successful write of the lease. A follower takes the lease over only
//!   once it has seen the same lease version for `ttl`, counted from when its read of that
//!   version *came back*, which is after the holder sent it. So the follower starts acting at
//!   least `margin` after the holder stopped.
//! - **No wall clocks compared.** Every duration is measured on one host's monotonic clock;
//!   `renewed_at` in the document is for people. Hosts' wall clocks may disagree by any amount.
//! - **A lost lease is never held by mistake.** A version written by someone else, a refused
//!   write, or a lease naming our name but another process token all end our hold at once.
//!
//! Caveats:
//! - The clock assumption: the hosts' monotonic clocks run at rates within `margin / ttl`
//!   (20%) of each other. NTP-disciplined clocks differ by parts per million; a VM paused by its
//!   hypervisor is a paused process, which the rule covers (its clock keeps running).
//! - An action already on the wire when the deadline passes is not recalled; the shell checks
//!   the deadline immediately before every AWS request it sends, so that window is one request's
//!   flight time, well inside `margin`.
//! - A takeover costs up to `ttl` + one look (`renew`) after the holder's last write; a holder
//!   that stops cleanly releases the lease, and a follower takes a released lease at once.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The lease document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeaseDoc {
    /// The holder's instance name (`[state] instance`): for people.
    pub holder: String,
    /// The holding process: a restarted process under the same name is a new holder.
    pub token: String,
    pub epoch: u64,
    pub ttl_ms: u64,
    /// The holder's wall clock when it wrote this: shown to people, never used to decide.
    pub renewed_at: DateTime<Utc>,
    /// Given up on a clean stop: a follower may take it at once.
    #[serde(default)]
    pub released: bool,
}

impl LeaseDoc {
    pub fn ttl(&self) -> Duration {
        Duration::from_millis(self.ttl_ms)
    }
}

/// The lease as a read found it: the document and its store version.
#[derive(Debug, Clone, Copy)]
pub struct Observed<'a> {
    pub doc: &'a LeaseDoc,
    pub version: &'a str,
}

/// `[lease]`: how long a lease lasts and how often its holder renews it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    pub ttl: Duration,
    pub renew: Duration,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            ttl: Duration::from_secs(15),
            renew: Duration::from_secs(5),
        }
    }
}

impl Rules {
    /// How long before the lease could expire on another host the holder stops acting.
    pub fn margin(&self) -> Duration {
        self.ttl / 5
    }

    /// Why these rules cannot keep one actor, if they cannot: the holder must get at least two
    /// renewals in before it stops acting, so one failed write does not depose it.
    pub fn problem(&self) -> Option<String> {
        if self.ttl < Duration::from_secs(2) {
            return Some("lease.ttl must be at least 2s".into());
        }
        if self.renew.is_zero() || self.renew * 2 > self.ttl - self.margin() {
            return Some(format!(
                "lease.renew must be greater than zero and at most (ttl − ttl/5) / 2 = {} so the holder can renew twice before it stops acting",
                crate::duration::human((self.ttl - self.margin()) / 2)
            ));
        }
        None
    }
}

/// What the instance should write next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Move {
    /// Create the lease: nobody ever held it (or it was deleted).
    Create { epoch: u64 },
    /// Replace the lease at `version` with one naming us, at `epoch`.
    Take {
        epoch: u64,
        version: String,
        why: String,
    },
    /// Write our lease again (same epoch) to extend it.
    Renew { epoch: u64, version: String },
    /// We hold it and the next renewal is not due.
    Hold,
    /// Another instance holds it and may still be acting.
    Follow {
        holder: String,
        epoch: u64,
        takeover_in: Duration,
    },
}

/// A lease we wrote and when we sent that write.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Held {
    epoch: u64,
    version: String,
    sent_at: Duration,
}

/// One instance's side of the lease. Times (`now`, `sent_at`) are readings of this host's
/// monotonic clock as durations since any fixed origin.
#[derive(Debug, Clone)]
pub struct Keeper {
    token: String,
    rules: Rules,
    held: Option<Held>,
    /// Another holder's version and when our read of it came back.
    seen: Option<(String, Duration)>,
}

impl Keeper {
    pub fn new(token: impl Into<String>, rules: Rules) -> Keeper {
        Keeper {
            token: token.into(),
            rules,
            held: None,
            seen: None,
        }
    }

    pub fn token(&self) -> &str {
        &self.token
    }

    pub fn rules(&self) -> Rules {
        self.rules
    }

    /// The next move given the lease as read just now (`now`: when the read came back) and
    /// `floor`, the highest epoch seen on the store's documents (a lease deleted by hand must not
    /// restart the epochs below them).
    pub fn next(&mut self, lease: Option<Observed<'_>>, now: Duration, floor: u64) -> Move {
        let Some(obs) = lease else {
            let last = self.held.take().map_or(0, |h| h.epoch);
            self.seen = None;
            return Move::Create {
                epoch: floor.max(last) + 1,
            };
        };
        let doc = obs.doc;
        if doc.token == self.token && !doc.released {
            self.seen = None;
            match &mut self.held {
                Some(h) if h.version == obs.version => {}
                // A write of ours whose answer was lost: the store has it. Keep the earlier send
                // time (the deadline only gets safer) and renew on top of that version.
                Some(h) if h.epoch == doc.epoch => h.version = obs.version.to_string(),
                // Ours from before we stopped acting: take it under a new epoch, which fences
                // any late write of our own earlier hold too.
                _ => {
                    self.held = None;
                    return Move::Take {
                        epoch: floor.max(doc.epoch) + 1,
                        version: obs.version.to_string(),
                        why: "this process held it before and stopped acting; taking it again under a new epoch".into(),
                    };
                }
            }
            let h = self.held.as_ref().expect("matched above");
            return if now >= h.sent_at + self.rules.renew {
                Move::Renew {
                    epoch: h.epoch,
                    version: h.version.clone(),
                }
            } else {
                Move::Hold
            };
        }
        // Someone else's lease (or ours, released): whatever we held is gone.
        self.held = None;
        let epoch = floor.max(doc.epoch) + 1;
        if doc.released {
            self.seen = None;
            return Move::Take {
                epoch,
                version: obs.version.to_string(),
                why: format!("{} released it (epoch {})", doc.holder, doc.epoch),
            };
        }
        let since = match &self.seen {
            Some((v, since)) if v == obs.version => *since,
            _ => {
                self.seen = Some((obs.version.to_string(), now));
                now
            }
        };
        // The longer of the two TTLs: an instance with a different config must not shorten it.
        let ttl = doc.ttl().max(self.rules.ttl);
        let unchanged = now.saturating_sub(since);
        if unchanged >= ttl {
            self.seen = None;
            Move::Take {
                epoch,
                version: obs.version.to_string(),
                why: format!(
                    "{}'s lease (epoch {}) was not renewed for {} on this host's clock (ttl {})",
                    doc.holder,
                    doc.epoch,
                    crate::duration::human(unchanged),
                    crate::duration::human(ttl)
                ),
            }
        } else {
            Move::Follow {
                holder: doc.holder.clone(),
                epoch: doc.epoch,
                takeover_in: ttl - unchanged,
            }
        }
    }

    /// Our `Create`, `Take` or `Renew` at `epoch`, sent at `sent_at`, was stored as `version`.
    pub fn wrote(&mut self, epoch: u64, version: String, sent_at: Duration) {
        self.seen = None;
        self.held = Some(Held {
            epoch,
            version,
            sent_at,
        });
    }

    /// Our write was refused (someone else wrote the lease first) or the lease was released by
    /// us: we hold nothing.
    pub fn refused(&mut self) {
        self.held = None;
    }

    /// Until when (this host's monotonic clock) we may act, if we hold the lease.
    pub fn acting_until(&self) -> Option<Duration> {
        self.held
            .as_ref()
            .map(|h| h.sent_at + self.rules.ttl - self.rules.margin())
    }

    pub fn may_act(&self, now: Duration) -> bool {
        self.acting_until().is_some_and(|until| now < until)
    }

    /// The epoch we hold, if any (whether or not it is still valid by the clock).
    pub fn epoch(&self) -> Option<u64> {
        self.held.as_ref().map(|h| h.epoch)
    }

    /// The version of our lease, for a release.
    pub fn version(&self) -> Option<&str> {
        self.held.as_ref().map(|h| h.version.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    fn doc(token: &str, epoch: u64) -> LeaseDoc {
        LeaseDoc {
            holder: format!("host-{token}"),
            token: token.into(),
            epoch,
            ttl_ms: 15_000,
            renewed_at: DateTime::<Utc>::UNIX_EPOCH,
            released: false,
        }
    }

    fn obs<'a>(d: &'a LeaseDoc, v: &'a str) -> Option<Observed<'a>> {
        Some(Observed { doc: d, version: v })
    }

    #[test]
    fn an_absent_lease_is_created_above_the_floor() {
        let mut k = Keeper::new("a", Rules::default());
        assert_eq!(k.next(None, s(0), 0), Move::Create { epoch: 1 });
        assert_eq!(k.next(None, s(0), 7), Move::Create { epoch: 8 });
        assert!(!k.may_act(s(0)));
    }

    #[test]
    fn the_holder_renews_on_time_and_stops_acting_a_margin_before_expiry() {
        let mut k = Keeper::new("a", Rules::default());
        k.wrote(1, "v1".into(), s(100));
        let d = doc("a", 1);
        assert_eq!(k.next(obs(&d, "v1"), s(102), 0), Move::Hold);
        assert_eq!(
            k.next(obs(&d, "v1"), s(105), 0),
            Move::Renew {
                epoch: 1,
                version: "v1".into()
            }
        );
        // ttl 15 s, margin 3 s: acting ends 12 s after the write was sent.
        assert!(k.may_act(s(111)));
        assert!(!k.may_act(s(112)));
        assert_eq!(k.acting_until(), Some(s(112)));
    }

    #[test]
    fn a_follower_takes_over_only_after_seeing_one_version_for_ttl() {
        let mut k = Keeper::new("b", Rules::default());
        let d = doc("a", 4);
        let m = k.next(obs(&d, "v1"), s(10), 0);
        assert!(matches!(m, Move::Follow { takeover_in, epoch: 4, .. } if takeover_in == s(15)));
        // Renewed by its holder: the count starts again.
        let m = k.next(obs(&d, "v2"), s(20), 0);
        assert!(matches!(m, Move::Follow { takeover_in, .. } if takeover_in == s(15)));
        assert!(matches!(
            k.next(obs(&d, "v2"), s(34), 0),
            Move::Follow { .. }
        ));
        match k.next(obs(&d, "v2"), s(35), 0) {
            Move::Take {
                epoch,
                version,
                why,
                ..
            } => {
                assert_eq!((epoch, version.as_str()), (5, "v2"));
                assert!(why.contains("not renewed for 15.0s"), "{why}");
            }
            m => panic!("{m:?}"),
        }
    }

    #[test]
    fn the_follower_acts_no_sooner_than_margin_after_the_holder_stops() {
        // Holder sends its last renewal at t=50 (its clock); the follower's read of it comes back
        // at t=50 or later on a clock with the same rate: it takes over at >= 65, the holder
        // stopped at 62.
        let rules = Rules::default();
        let mut holder = Keeper::new("a", rules);
        holder.wrote(3, "v9".into(), s(50));
        let mut follower = Keeper::new("b", rules);
        let d = doc("a", 3);
        let mut t = s(50);
        let taken_at = loop {
            if let Move::Take { .. } = follower.next(obs(&d, "v9"), t, 0) {
                break t;
            }
            t += Duration::from_millis(250);
        };
        let stopped = holder.acting_until().unwrap();
        assert!(
            taken_at >= stopped + rules.margin(),
            "{taken_at:?} vs {stopped:?}"
        );
    }

    #[test]
    fn a_version_written_by_another_ends_the_hold_at_once() {
        let mut k = Keeper::new("a", Rules::default());
        k.wrote(2, "v1".into(), s(0));
        let theirs = doc("b", 3);
        assert!(matches!(
            k.next(obs(&theirs, "v2"), s(1), 0),
            Move::Follow { .. }
        ));
        assert!(!k.may_act(s(1)));
        assert_eq!(k.epoch(), None);
    }

    #[test]
    fn a_released_lease_is_taken_at_once_above_its_epoch() {
        let mut k = Keeper::new("b", Rules::default());
        let mut d = doc("a", 6);
        d.released = true;
        assert!(matches!(
            k.next(obs(&d, "v1"), s(0), 0),
            Move::Take { epoch: 7, .. }
        ));
    }

    #[test]
    fn our_lease_after_we_stopped_acting_is_taken_again_under_a_new_epoch() {
        let mut k = Keeper::new("a", Rules::default());
        k.wrote(2, "v1".into(), s(0));
        k.refused();
        let d = doc("a", 2);
        assert!(matches!(
            k.next(obs(&d, "v1"), s(30), 0),
            Move::Take { epoch: 3, .. }
        ));
    }

    #[test]
    fn a_lost_answer_to_our_own_write_keeps_the_earlier_deadline() {
        let mut k = Keeper::new("a", Rules::default());
        k.wrote(2, "v1".into(), s(0));
        // Our renewal at t=5 timed out but was stored as v2.
        let d = doc("a", 2);
        assert_eq!(
            k.next(obs(&d, "v2"), s(6), 0),
            Move::Renew {
                epoch: 2,
                version: "v2".into()
            }
        );
        assert_eq!(k.acting_until(), Some(s(12)));
    }

    #[test]
    fn a_longer_ttl_in_the_document_wins() {
        let mut k = Keeper::new("b", Rules::default());
        let mut d = doc("a", 1);
        d.ttl_ms = 60_000;
        k.next(obs(&d, "v1"), s(0), 0);
        assert!(matches!(
            k.next(obs(&d, "v1"), s(20), 0),
            Move::Follow { .. }
        ));
    }

    #[test]
    fn rules_need_two_renewals_before_the_deadline() {
        assert_eq!(Rules::default().problem(), None);
        let r = Rules {
            ttl: s(15),
            renew: s(7),
        };
        assert!(r.problem().unwrap().contains("renew twice"));
        let r = Rules {
            ttl: Duration::from_millis(1500),
            renew: Duration::from_millis(100),
        };
        assert!(r.problem().unwrap().contains("at least 2s"));
    }
}

/// Many lease rounds between three instances with random pauses (a stopped process: its clock
/// runs on, its loop does not), kills and restarts, slow store calls and clocks whose rates
/// differ by up to 1%: at no instant may two instances be allowed to act.
#[cfg(test)]
mod simulation {
    use super::*;

    /// A tiny deterministic generator (xorshift64*).
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n.max(1)
        }
        fn chance(&mut self, per_mille: u64) -> bool {
            self.below(1000) < per_mille
        }
    }

    /// The shared store: the lease and a version counter, compare-and-swap at the instant a
    /// write lands.
    #[derive(Default)]
    struct Store {
        doc: Option<(LeaseDoc, String)>,
        versions: u64,
    }

    enum Call {
        Idle {
            next_at: u64,
        },
        /// A read in flight: it sees the store at `sees_at` and returns at `done_at`.
        Read {
            sees_at: u64,
            done_at: u64,
            seen: Option<Option<(LeaseDoc, String)>>,
        },
        /// A write in flight, sent at local `sent`: it lands at `lands_at` and returns at
        /// `done_at` (the answer may be lost).
        Write {
            doc: LeaseDoc,
            expect: Option<String>,
            sent: Duration,
            lands_at: u64,
            done_at: u64,
            result: Option<Option<String>>,
            lose_answer: bool,
        },
    }

    struct Instance {
        keeper: Keeper,
        /// Local monotonic clock: rate (ppm of the global clock) and offset.
        rate_ppm: u64,
        offset_ms: u64,
        paused_until: u64,
        call: Call,
        dead: bool,
        restarts: u32,
    }

    impl Instance {
        fn local(&self, global_ms: u64) -> Duration {
            Duration::from_millis(self.offset_ms + global_ms * self.rate_ppm / 1_000_000)
        }
    }

    #[test]
    fn no_two_instances_ever_act_at_once() {
        let rules = Rules {
            ttl: Duration::from_secs(3),
            renew: Duration::from_secs(1),
        };
        let mut rng = Rng(0x5eed_1ea5e);
        let mut store = Store::default();
        let mut insts: Vec<Instance> = (0..3)
            .map(|i| Instance {
                keeper: Keeper::new(format!("p{i}-0"), rules),
                rate_ppm: 990_000 + rng.below(20_001),
                offset_ms: rng.below(1_000_000),
                paused_until: 0,
                call: Call::Idle { next_at: 0 },
                dead: false,
                restarts: 0,
            })
            .collect();
        let (mut takeovers, mut rounds, mut overlaps, mut acted_ms) = (0u64, 0u64, 0u64, 0u64);
        let mut last_epoch = 0;
        let mut t = 0u64;
        // 10 ms ticks until 1,000 lease rounds have been written (creations, takeovers,
        // renewals).
        while rounds < 1_000 {
            t += 10;
            for (i, inst) in insts.iter_mut().enumerate() {
                if inst.dead {
                    if rng.chance(5) {
                        // Restarted: a new process, a new token, nothing held.
                        inst.restarts += 1;
                        inst.keeper = Keeper::new(format!("p{i}-{}", inst.restarts), rules);
                        inst.dead = false;
                        inst.call = Call::Idle { next_at: t };
                    }
                    continue;
                }
                if rng.chance(1) {
                    inst.dead = true;
                    continue;
                }
                if t < inst.paused_until {
                    continue;
                }
                if rng.chance(2) {
                    // SIGSTOP for up to 8 s: longer than the ttl, often.
                    inst.paused_until = t + rng.below(8_000);
                    continue;
                }
                let now = inst.local(t);
                let call = std::mem::replace(&mut inst.call, Call::Idle { next_at: t });
                inst.call = match call {
                    Call::Idle { next_at } if t < next_at => Call::Idle { next_at },
                    Call::Idle { .. } => {
                        let took = rng.below(400);
                        Call::Read {
                            sees_at: t + rng.below(took + 1),
                            done_at: t + took,
                            seen: None,
                        }
                    }
                    Call::Read {
                        sees_at,
                        done_at,
                        mut seen,
                    } => {
                        if seen.is_none() && t >= sees_at {
                            seen = Some(store.doc.clone());
                        }
                        if t < done_at {
                            Call::Read {
                                sees_at,
                                done_at,
                                seen,
                            }
                        } else {
                            let seen = seen.unwrap_or_else(|| store.doc.clone());
                            let mv = inst.keeper.next(
                                seen.as_ref()
                                    .map(|(doc, version)| Observed { doc, version }),
                                now,
                                0,
                            );
                            let (epoch, expect) = match mv {
                                Move::Hold | Move::Follow { .. } => {
                                    let wait = rules.renew.as_millis() as u64 / 4;
                                    inst.call = Call::Idle { next_at: t + wait };
                                    continue;
                                }
                                Move::Create { epoch } => (epoch, None),
                                Move::Take { epoch, version, .. }
                                | Move::Renew { epoch, version } => (epoch, Some(version)),
                            };
                            let took = rng.below(600);
                            Call::Write {
                                doc: LeaseDoc {
                                    holder: format!("p{i}"),
                                    token: inst.keeper.token().to_string(),
                                    epoch,
                                    ttl_ms: rules.ttl.as_millis() as u64,
                                    renewed_at: DateTime::<Utc>::UNIX_EPOCH,
                                    released: false,
                                },
                                expect,
                                sent: now,
                                lands_at: t + rng.below(took + 1),
                                done_at: t + took,
                                result: None,
                                lose_answer: rng.chance(20),
                            }
                        }
                    }
                    Call::Write {
                        doc,
                        expect,
                        sent,
                        lands_at,
                        done_at,
                        mut result,
                        lose_answer,
                    } => {
                        if result.is_none() && t >= lands_at {
                            let current = store.doc.as_ref().map(|(_, v)| v.clone());
                            let ok = match (&expect, &current) {
                                (None, None) => true,
                                (Some(e), Some(c)) => e == c,
                                _ => false,
                            };
                            result = Some(ok.then(|| {
                                store.versions += 1;
                                let v = format!("v{}", store.versions);
                                store.doc = Some((doc.clone(), v.clone()));
                                rounds += 1;
                                if doc.epoch > last_epoch {
                                    takeovers += 1;
                                    last_epoch = doc.epoch;
                                }
                                v
                            }));
                        }
                        if t < done_at {
                            Call::Write {
                                doc,
                                expect,
                                sent,
                                lands_at,
                                done_at,
                                result,
                                lose_answer,
                            }
                        } else {
                            match result.flatten() {
                                // A lost answer: the write may have landed; the keeper learns it
                                // from its next read.
                                _ if lose_answer => {}
                                Some(v) => inst.keeper.wrote(doc.epoch, v, sent),
                                None => inst.keeper.refused(),
                            }
                            Call::Idle { next_at: t }
                        }
                    }
                };
            }
            // Who may act at this instant (a paused process does nothing, but checks its clock
            // before anything when it wakes, so it counts only while running).
            let acting = insts
                .iter()
                .filter(|i| !i.dead && t >= i.paused_until && i.keeper.may_act(i.local(t)))
                .count() as u64;
            if acting > 1 {
                overlaps += 1;
            }
            acted_ms += 10 * acting.min(1);
        }
        eprintln!(
            "lease simulation: {rounds} rounds, {takeovers} takeovers, {t} ms simulated, a leader acting {acted_ms} ms, {overlaps} instants with two actors"
        );
        assert_eq!(overlaps, 0, "instants with two actors");
        // The run exercised takeovers and a leader most of the time.
        assert!(takeovers >= 20, "only {takeovers} takeovers");
        assert!(acted_ms * 10 > t * 3, "a leader acted {acted_ms} of {t} ms");
    }
}
