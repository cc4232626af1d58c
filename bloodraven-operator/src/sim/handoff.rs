//! The simulated ordered update: another controller that now and then hands the primary over to a replicating
//! candidate — fence the source, wait until the target contains it, promote the target and record the promotion on
//! the group object (an authority-epoch bump the operator must adopt, reference §1.2).

use std::time::Duration;

use crate::engine::Role;
use crate::platform::InMemoryPlatform;
use crate::record::{FailoverRecord, Trigger};

use super::EPOCH;
use super::world::World;

/// How long the ordered update waits for the target to contain the fenced source before giving up.
const CATCH_UP: Duration = Duration::from_secs(30);
/// Latency of the operator's calls to the handoff target while the handoff runs.
const HANDOFF_LATENCY: Duration = Duration::from_millis(1500);

#[derive(Clone, Copy, Debug)]
enum Phase {
    /// The ordered-update guard is up; the fence comes at the given time.
    Announced(Duration),
    /// The source is fenced; the target catches up until the deadline.
    CatchingUp(Duration),
    /// Caught up: the promotion waits (until the given time at most) for a moment when the operator's probe of the
    /// target is out, so the recorded promotion overtakes that poll.
    Racing(Duration),
    /// Promoted and recorded; the guard drops at the given time.
    Done(Duration),
}

/// One handoff in progress.
#[derive(Clone, Debug)]
pub(crate) struct Handoff {
    source: usize,
    target: usize,
    phase: Phase,
}

impl Handoff {
    /// Starts a handoff to `target` when the group has one writable primary that `target` replicates from healthily,
    /// the operator runs, and no admin operation is under way; raises the ordered-update guard.
    pub(crate) fn start(
        w: &mut World,
        platform: &InMemoryPlatform,
        target: usize,
        now: Duration,
    ) -> Option<Handoff> {
        let writable: Vec<usize> = (0..w.servers.len())
            .filter(|&i| w.servers[i].up && !w.servers[i].read_only)
            .collect();
        let [source] = writable.as_slice() else {
            return None;
        };
        let t = &w.servers[target];
        let replicating = t
            .channel
            .as_ref()
            .is_some_and(|c| c.source == *source && c.io && c.sql && c.io_error.is_empty());
        let mut p = platform.state();
        let busy = p.planned.is_some()
            || p.reclone.is_some()
            || p.gates != Default::default()
            || p.record.as_ref().is_some_and(|r| {
                r.reclone.is_some() || r.planned.as_ref().is_some_and(|pl| pl.phase.in_flight())
            });
        if target == *source
            || t.role != Role::PrimaryCandidate
            || !t.up
            || !t.read_only
            || !replicating
            || !w.operator_up
            || busy
        {
            return None;
        }
        p.gates.ordered_update = true;
        w.handoff_active = true;
        // The ordered update restarts the target's pod: the operator's calls to it are slow meanwhile, so its polls
        // straddle the recorded promotion (the authority-epoch race) often.
        w.servers[target].latency = HANDOFF_LATENCY;
        Some(Handoff {
            source: *source,
            target,
            phase: Phase::Announced(now + Duration::from_secs(3)),
        })
    }

    /// Advances the handoff by one world step; `true` when it is over.
    pub(crate) fn step(
        &mut self,
        w: &mut World,
        platform: &InMemoryPlatform,
        now: Duration,
    ) -> bool {
        match self.phase {
            Phase::Announced(at) if now >= at => {
                if !w.servers[self.source].up {
                    return self.end(w, platform);
                }
                let s = &mut w.servers[self.source];
                s.read_only = true;
                s.sessions = 0;
                self.phase = Phase::CatchingUp(now + CATCH_UP);
            }
            Phase::CatchingUp(deadline) => {
                let (s, t) = (&w.servers[self.source], &w.servers[self.target]);
                if t.up && t.truth.is_superset(&s.truth) {
                    if w.rng.chance(0.5) {
                        self.phase = Phase::Racing(now + Duration::from_secs(6));
                    } else {
                        self.promote(w, platform, now);
                        self.phase = Phase::Done(now + Duration::from_secs(3));
                    }
                } else if now >= deadline || !t.up {
                    // Give the writes back to the source unless something else took them.
                    if w.servers[self.source].up && !w.servers.iter().any(|o| o.up && !o.read_only)
                    {
                        w.servers[self.source].read_only = false;
                    }
                    return self.end(w, platform);
                }
            }
            Phase::Racing(until) => {
                let t = &w.servers[self.target];
                if !t.up {
                    return self.end(w, platform);
                }
                if now < t.probed_until || now >= until {
                    self.promote(w, platform, now);
                    self.phase = Phase::Done(now + Duration::from_secs(3));
                }
            }
            Phase::Done(at) if now >= at => return self.end(w, platform),
            _ => {}
        }
        false
    }

    fn promote(&self, w: &mut World, platform: &InMemoryPlatform, now: Duration) {
        let name = w.servers[self.target].name.clone();
        let t = &mut w.servers[self.target];
        t.channel = None;
        t.read_only = false;
        let promotion_gtid = t.executed.to_compact_string();
        let mut p = platform.state();
        let mut record = p.record.clone().unwrap_or_default();
        record.record_failover(FailoverRecord {
            at: EPOCH + now,
            trigger: Trigger::Handoff,
            target: name.clone(),
            old_primary: Some(w.servers[self.source].name.clone()),
            candidates: Vec::new(),
            rule: format!("{name}: ordered-update handoff"),
            promotion_gtid,
            write_unavailability: None,
            divergent_gtid: None,
            divergent_count: 0,
        });
        p.stamp = record.stamp();
        p.record = Some(record);
        // The ordered update runs in the operator process: it publishes the new active site at once.
        p.active_site = (Some(name), EPOCH + now);
        w.seq += 1;
        let seq = w.seq;
        w.external_promotions.push(seq);
    }

    fn end(&self, w: &mut World, platform: &InMemoryPlatform) -> bool {
        platform.state().gates.ordered_update = false;
        w.servers[self.target].latency = Duration::from_millis(2);
        w.handoff_active = false;
        true
    }
}
