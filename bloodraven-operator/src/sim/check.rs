//! The invariants of issue 6, checked after every world step against ground truth (each server's set of committed
//! transactions, kept apart from the GTID sets the engine sees).
//!
//! 1. Never two writable primary-candidates for longer than the fencing bound: lease timeout + two sidecar ticks +
//!    four polls + two call deadlines, plus any operator downtime (a partition can force a second writable site from
//!    outside; the sidecar or the operator must fence it within that bound).
//! 2. A planned promotion unfences the target only when its committed transactions contain the fenced source's; a
//!    lag timeout makes the source writable again.
//! 3. A `RecoveryBlocked` marker's `divergentGtid` equals exactly the old primary's committed transactions that the
//!    active primary does not have.
//! 4. Consecutive promotions are a cooldown apart unless the later one is planned or a re-assert; no non-candidate is
//!    made writable (checked in the site); no reclone of the active primary (checked in the site); no reclone without
//!    the matching GTID prefix (or the cold confirmation).
//! 5. After a qualifying primary death (no other fault, no cooldown, no operation in flight, a reachable candidate),
//!    a writable primary exists within pollInterval × failureThreshold + relay drain + one poll + 1 s.

use std::collections::BTreeSet;
use std::time::Duration;

use bloodraven_gtid::GtidSet;

use crate::engine::{Config, Role};
use crate::platform::InMemoryPlatform;
use crate::platform::PlatformState;
use crate::record::{PlannedPhase, Record, RecoveryMarker, Trigger};

use super::EPOCH;
use super::schedule::Step;
use super::world::{TxId, World};

/// A primary death being timed.
#[derive(Clone, Debug)]
struct Death {
    at: Duration,
    bound: Option<Duration>,
}

pub(crate) struct Checker {
    config: Config,
    schedule: Vec<Step>,
    pub(crate) violations: Vec<String>,
    pub(crate) rto: Vec<Duration>,
    split_since: Option<Duration>,
    split_reported: bool,
    deaths: Vec<Death>,
    unfences_seen: usize,
    pub(crate) clones_seen: usize,
    pub(crate) mutations_seen: usize,
    reclone_values: Vec<(usize, String)>,
    history_seen: usize,
    divergence_checked: (Vec<String>, Duration),
    /// The active site the status names and since when (re-asserted or promoted).
    active_since: Option<(String, Duration)>,
    planned_seen: Option<(PlannedPhase, String)>,
    rollback_due: Option<(Duration, usize)>,
    operator_down: Duration,
}

impl Checker {
    pub(crate) fn new(config: &Config, schedule: &[Step]) -> Checker {
        let operator_down = schedule
            .iter()
            .filter_map(|s| match s.fault {
                super::schedule::Fault::OperatorRestart { down_for } => Some(down_for),
                _ => None,
            })
            .max()
            .unwrap_or_default();
        Checker {
            config: config.clone(),
            schedule: schedule.to_vec(),
            violations: Vec::new(),
            rto: Vec::new(),
            split_since: None,
            split_reported: false,
            deaths: Vec::new(),
            unfences_seen: 0,
            clones_seen: 0,
            mutations_seen: 0,
            reclone_values: Vec::new(),
            history_seen: 0,
            divergence_checked: (Vec::new(), Duration::ZERO),
            active_since: None,
            planned_seen: None,
            rollback_due: None,
            operator_down,
        }
    }

    pub(crate) fn violation(&mut self, now: Duration, text: String) {
        // One report per distinct violation text keeps failing seeds readable.
        if !self.violations.iter().any(|v| v.ends_with(&text)) {
            self.violations
                .push(format!("t={:.1}s {text}", now.as_secs_f64()));
        }
    }

    pub(crate) fn reclone_requested(&mut self, site: usize, value: String) {
        self.reclone_values.push((site, value));
    }

    /// Starts timing a primary death; decides whether invariant 5 applies to it.
    pub(crate) fn primary_died(
        &mut self,
        w: &World,
        platform: &InMemoryPlatform,
        p: usize,
        now: Duration,
    ) {
        let c = &self.config;
        let poll = c.poll_interval;
        let p_state = platform.state();
        let record = p_state.record.clone().unwrap_or_default();
        let quiet_network = w.blocked.is_empty()
            && now >= w.last_disturbance + Duration::from_secs(35)
            && w.operator_up
            && w.servers
                .iter()
                // A hang that ended in this very step may still hold the operator's current poll on a probe
                // deadline (the unhang is processed after the faults of the step).
                .all(|s| {
                    (s.hung_until.is_zero() || s.hung_until + Duration::from_secs(35) <= now)
                        && s.latency <= Duration::from_millis(10)
                });
        let cooled = record
            .last_failover
            .is_none_or(|t| t + c.failover_cooldown + Duration::from_secs(40) <= now + EPOCH);
        let idle = !guarded(&p_state, w)
            && record.reclone.is_none()
            && !record
                .planned
                .as_ref()
                .is_some_and(|pl| pl.phase.in_flight() || pl.phase == PlannedPhase::Deferred)
            && p_state.planned.is_none()
            && p_state.reclone.is_none();
        let others_ok = (0..w.servers.len()).filter(|&i| i != p).all(|i| {
            let s = &w.servers[i];
            // Up long enough for the poll backoff of its earlier failures to have reset.
            s.role == Role::ReadOnly
                || (s.up && s.read_only && now >= s.up_since + Duration::from_secs(35))
        });
        let mut drain = Duration::ZERO;
        let mut candidate = false;
        for (i, s) in w.servers.iter().enumerate() {
            if i == p || s.role != Role::PrimaryCandidate || !s.up || !s.read_only {
                continue;
            }
            let Some(ch) = s
                .channel
                .as_ref()
                .filter(|ch| ch.source == p && ch.io && ch.sql && ch.io_error.is_empty())
            else {
                continue;
            };
            let per_sec = (w.params.apply_per_tick * 10).max(1) as u64;
            let backlog = Duration::from_millis(ch.relay.len() as u64 * 1000 / per_sec + 1000);
            let stall = s.stall_until.saturating_sub(now);
            drain = drain.max(backlog + stall);
            candidate = true;
        }
        let drain = drain.min(c.relay_drain_timeout);
        let bound = poll * c.failure_threshold + drain + poll + Duration::from_secs(1);
        // Only the step that killed the primary may lie in the window (another step at the very same time, such as
        // an operator restart, counts).
        let window_clear = self
            .schedule
            .iter()
            .filter(|s| {
                s.at > now.saturating_sub(Duration::from_secs(30))
                    && s.at <= now + bound + Duration::from_secs(2)
            })
            .count()
            <= 1;
        let qualifies = quiet_network && cooled && idle && others_ok && candidate && window_clear;
        if std::env::var_os("SIM_DEBUG").is_some() {
            eprintln!(
                "death t={now:?} p={p} quiet={quiet_network} cooled={cooled} idle={idle} others={others_ok} candidate={candidate} window={window_clear} bound={bound:?}"
            );
        }
        self.deaths.push(Death {
            at: now,
            bound: qualifies.then_some(bound),
        });
    }

    pub(crate) fn check(&mut self, w: &mut World, platform: &InMemoryPlatform, now: Duration) {
        self.split_brain(w, now);
        let (record, status, admin_busy, guarded) = {
            let p = platform.state();
            (
                p.record.clone().unwrap_or_default(),
                p.status.clone(),
                p.reclone.is_some() || p.planned.is_some(),
                guarded(&p, w),
            )
        };
        let active = status.as_ref().and_then(|s| s.active_site.clone());
        // Time under a guard that suppresses split-brain fencing does not count towards invariant 1's bound.
        if guarded {
            self.split_since = None;
        }
        // An admin operation started while a death is being timed takes it out of invariant 5 (a reclone into a
        // core site and a planned failover suspend automatic failover by design).
        if admin_busy
            || guarded
            || record.reclone.is_some()
            || record.planned.as_ref().is_some_and(|p| p.phase.in_flight())
        {
            self.deaths.iter_mut().for_each(|d| d.bound = None);
        }
        self.rto(w, now);
        // Invariant 2: planned promotions and rollbacks.
        while self.unfences_seen < w.unfences.len() {
            let (_, i) = w.unfences[self.unfences_seen];
            self.unfences_seen += 1;
            if let Some(pl) = record
                .planned
                .as_ref()
                .filter(|pl| pl.phase == PlannedPhase::Promoting)
                && pl.target == w.servers[i].name
                && let Some(src) = w.servers.iter().position(|s| s.name == pl.source)
                && !w.servers[i].truth.is_superset(&w.servers[src].truth)
            {
                let missing = w.servers[src].truth.difference(&w.servers[i].truth).count();
                self.violation(
                    now,
                    format!(
                        "invariant 2: planned promotion of {} lost {missing} transactions of {}",
                        pl.target, pl.source
                    ),
                );
            }
        }
        if let Some(pl) = &record.planned {
            let key = (pl.phase, pl.reason.clone());
            if self.planned_seen.as_ref() != Some(&key) {
                if pl.phase == PlannedPhase::Failed
                    && pl.reason == "LagTimeout"
                    && let Some(src) = w.servers.iter().position(|s| s.name == pl.source)
                {
                    self.rollback_due = Some((now + Duration::from_secs(6), src));
                }
                self.planned_seen = Some(key);
            }
        }
        if let Some((due, src)) = self.rollback_due
            && now >= due
        {
            self.rollback_due = None;
            let s = &w.servers[src];
            let reachable = s.up
                && w.link(super::world::Node::Operator, super::world::Node::Site(src))
                && s.hung_until <= now;
            let others_writable = w
                .servers
                .iter()
                .enumerate()
                .any(|(j, o)| j != src && o.up && !o.read_only);
            if reachable && s.read_only && !others_writable && !s.sidecar.lease.is_fenced() {
                self.violation(
                    now,
                    format!(
                        "invariant 2: lag-timeout rollback left source {} fenced",
                        s.name
                    ),
                );
            }
        }
        // Invariant 3: divergent GTIDs are exactly O − N.
        // (Re-checked when a marker changes, and every 5 s; set differences are not free.)
        let markers: Vec<String> = record
            .recovery
            .iter()
            .map(|(s, m)| format!("{s}={m:?}"))
            .collect();
        let due = markers != self.divergence_checked.0
            || now >= self.divergence_checked.1 + Duration::from_secs(5);
        let settled = due
            && record
                .last_failover
                .is_none_or(|t| now + EPOCH >= t + Duration::from_secs(75));
        if due {
            self.divergence_checked = (markers, now);
        }
        let active_idx = active
            .as_ref()
            .and_then(|a| w.servers.iter().position(|s| &s.name == a));
        if self.active_since.as_ref().map(|(a, _)| a) != active.as_ref() {
            self.active_since = active.clone().map(|a| (a, now));
        }
        // The engine re-examines returning sites only under a confirmed active primary, one site per poll and each
        // at most every recovery retry (30 s): a primary re-established a moment ago (a re-assert records no
        // failover) has not had that time yet.
        let active_settled = self
            .active_since
            .as_ref()
            .is_some_and(|(_, since)| now >= *since + Duration::from_secs(40));
        if settled
            && active_settled
            && let Some(a) = active_idx.filter(|&a| w.servers[a].up && !w.servers[a].read_only)
            && record.last_failover_target.as_deref() == Some(w.servers[a].name.as_str())
        {
            for (site, marker) in &record.recovery {
                let RecoveryMarker::Blocked {
                    divergent_gtid,
                    count,
                } = marker
                else {
                    continue;
                };
                if record.reclone.as_deref() == Some(site.as_str()) {
                    continue;
                }
                let Some(i) = w.servers.iter().position(|s| &s.name == site) else {
                    continue;
                };
                // A restarted site (maybe empty now) gets one recovery retry period to be re-examined.
                if i == a
                    || !w.servers[i].up
                    || now < w.servers[i].up_since + Duration::from_secs(75)
                {
                    continue;
                }
                let expected: BTreeSet<TxId> = w.servers[i]
                    .truth
                    .difference(&w.servers[a].truth)
                    .copied()
                    .collect();
                let reported = parse_truth(w, divergent_gtid);
                if reported.as_ref() != Some(&expected) || *count != expected.len() as u64 {
                    let text = format!(
                        "invariant 3: {site} divergentGtid {divergent_gtid:?} (count {count}) but the truth is {:?} ({} transactions)",
                        render(w, &expected),
                        expected.len()
                    );
                    self.violation(now, text);
                }
            }
        }
        // Invariant 4: cooldown between automatic promotions.
        for k in self.history_seen..record.history.len() {
            let h = &record.history[k];
            if k > 0 && h.trigger == Trigger::Emergency {
                let prev = &record.history[k - 1];
                if h.at < prev.at + self.config.failover_cooldown {
                    self.violation(
                        now,
                        format!(
                            "invariant 4: emergency promotion of {} {:.1}s after the previous one",
                            h.target,
                            (h.at - prev.at).as_secs_f64()
                        ),
                    );
                }
            }
            if !self
                .config
                .sites
                .iter()
                .any(|s| s.name == h.target && s.role == Role::PrimaryCandidate)
            {
                self.violation(
                    now,
                    format!("invariant 4: promotion of non-candidate {}", h.target),
                );
            }
        }
        self.history_seen = record.history.len();
        self.guards(w, status.as_ref(), &record, now);
    }

    /// Invariant 4: an admin reclone only with the matching GTID prefix (or the cold confirmation).
    pub(crate) fn reclone_interlock(
        &mut self,
        i: usize,
        now: Duration,
        w: &World,
        record: &Record,
    ) {
        let name = w.servers[i].name.clone();
        let value = self
            .reclone_values
            .iter()
            .rev()
            .find(|(s, _)| *s == i)
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let ok = match record.recovery.get(&name) {
            Some(RecoveryMarker::Blocked { divergent_gtid, .. }) => value
                .strip_prefix(&format!("{name}:"))
                .is_some_and(|p| p.len() >= 8 && divergent_gtid.starts_with(p)),
            _ => {
                value == format!("{name}:confirm=g")
                    || value == name
                    || value
                        .strip_prefix(&format!("{name}:"))
                        .is_some_and(|p| p.len() >= 8)
            }
        };
        if !ok {
            self.violation(
                now,
                format!("invariant 4: reclone of {name} with annotation {value:?}"),
            );
        }
    }

    fn split_brain(&mut self, w: &World, now: Duration) {
        let writable: Vec<&str> = w
            .servers
            .iter()
            .filter(|s| s.up && !s.read_only && s.role == Role::PrimaryCandidate)
            .map(|s| s.name.as_str())
            .collect();
        if writable.len() < 2 {
            self.split_since = None;
            self.split_reported = false;
            return;
        }
        let since = *self.split_since.get_or_insert(now);
        let bound = w.params.lease_timeout
            + 2 * w.params.peer_check_interval
            + 4 * self.config.poll_interval
            + Duration::from_secs(10)
            + self.operator_down;
        if now - since > bound && !self.split_reported {
            self.split_reported = true;
            let text = format!(
                "invariant 1: {} writable for {:.1}s (> {:.1}s)",
                writable.join("+"),
                (now - since).as_secs_f64(),
                bound.as_secs_f64()
            );
            self.violation(now, text);
        }
    }

    fn rto(&mut self, w: &World, now: Duration) {
        let has_primary = w
            .servers
            .iter()
            .any(|s| s.up && !s.read_only && s.role == Role::PrimaryCandidate);
        let mut keep = Vec::new();
        for d in std::mem::take(&mut self.deaths) {
            if has_primary {
                if let Some(bound) = d.bound {
                    let rto = now - d.at;
                    self.rto.push(rto);
                    if rto > bound + super::TICK {
                        let text = format!(
                            "invariant 5: writable primary after {:.1}s (> {:.1}s)",
                            rto.as_secs_f64(),
                            bound.as_secs_f64()
                        );
                        self.violation(now, text);
                    }
                }
                continue;
            }
            if let Some(bound) = d.bound
                && now - d.at > bound + super::TICK
            {
                let text = format!(
                    "invariant 5: no writable primary {:.1}s after the primary died (bound {:.1}s)",
                    (now - d.at).as_secs_f64(),
                    bound.as_secs_f64()
                );
                self.violation(now, text);
                continue;
            }
            keep.push(d);
        }
        self.deaths = keep;
    }
}

/// Whether another controller's guard, an injected record-save failure, a handoff or a clone into a core site holds
/// automatic failover back (invariants 1 and 5 do not time such periods).
fn guarded(p: &PlatformState, w: &World) -> bool {
    let cloning = p
        .status
        .as_ref()
        .and_then(|s| s.condition("Bootstrapping"))
        .is_some_and(|c| c.reason == "Cloning");
    p.gates != Default::default() || p.fail_saves > 0 || w.handoff_active || cloning
}

/// Renders transaction identities as a compact GTID set.
fn render(w: &World, txs: &BTreeSet<TxId>) -> String {
    if w.params.mariadb {
        let gtids: Vec<String> = txs
            .iter()
            .map(|tx| super::site::mariadb_gtid(*tx).to_string())
            .collect();
        return gtids.join(",");
    }
    let mut set = GtidSet::new();
    for tx in txs {
        set.insert(&w.gtid(*tx));
    }
    set.to_compact_string()
}

/// Parses a divergent GTID text into transaction identities (None when a source is unknown or the text is invalid):
/// a MySQL GTID set, or MariaDB `domain-server-first..last` runs (server id = identity index + 1).
fn parse_truth(w: &World, text: &str) -> Option<BTreeSet<TxId>> {
    if w.params.mariadb {
        let mut out = BTreeSet::new();
        for part in text.split(',') {
            let mut it = part.splitn(3, '-');
            let (_domain, server, seqs) = (it.next()?, it.next()?, it.next()?);
            let origin = server.parse::<u32>().ok()?.checked_sub(1)?;
            let (first, last) = match seqs.split_once("..") {
                Some((a, b)) => (a.parse::<u64>().ok()?, b.parse::<u64>().ok()?),
                None => (seqs.parse::<u64>().ok()?, seqs.parse::<u64>().ok()?),
            };
            out.extend((first..=last).map(|seq| (origin, seq)));
        }
        return Some(out);
    }
    let set: GtidSet = text.parse().ok()?;
    set.iter()
        .map(|g| {
            w.uuids
                .iter()
                .position(|u| *u == g.uuid())
                .map(|i| (i as u32, g.gno()))
        })
        .collect()
}
