//! The pure topology engine: observations and the durable record in, a decision out.
//!
//! [`Engine::step`] is called once per poll with the probe of every site (or `None` when the probe failed or timed
//! out), the outcomes of the actions of the previous decision, and the time. It never reads a clock, never does IO
//! and never draws random numbers, so every decision can be replayed.

mod divergence;
mod matrix;
mod planned;
mod recovery;
mod status;

use std::time::Duration;

use crate::record::{Candidate, FailoverRecord, PlannedPhase, Record, Trigger};
use crate::site::{GtidState, Probe};

pub use divergence::{Divergence, divergence};
pub use matrix::{
    Evaluation, Reason, Role, SiteState, SiteView, evaluate, rank_candidates, resolve_split_brain,
};
pub use status::{Condition, Event, EventType, Metrics, SiteStatus, Status};

/// Static configuration of one failover group (the CR spec, as the engine needs it).
#[derive(Clone, Debug)]
pub struct Config {
    /// `metadata.name` of the group (the cold-reclone confirmation word).
    pub group: String,
    /// Sites in declared order.
    pub sites: Vec<SiteConfig>,
    /// `spec.splitBrainPolicy.sitePriorities`.
    pub priorities: Vec<String>,
    /// `spec.pollInterval` (2 s).
    pub poll_interval: Duration,
    /// Consecutive failed probes before a site is unreachable (3).
    pub failure_threshold: u32,
    /// Consecutive writable probes before a site is writable (2).
    pub recovery_threshold: u32,
    /// `spec.failoverCooldown` (5 min).
    pub failover_cooldown: Duration,
    /// Budget of the relay-log drain before a promotion (30 s).
    pub relay_drain_timeout: Duration,
    /// `spec.connectionDrainTimeout` for old-primary recovery (30 s).
    pub connection_drain_timeout: Duration,
    /// Retry backoff of old-primary recovery (30 s).
    pub recovery_retry: Duration,
    /// How long a promoted target stands in as active site before confirmation (30 s).
    pub pending_promotion_ttl: Duration,
    /// `spec.plannedFailover.maxLagWait` (5 min).
    pub planned_max_lag_wait: Duration,
    /// `spec.plannedFailover.drainTimeout` (30 s).
    pub planned_drain_timeout: Duration,
    /// `spec.plannedFailover.onCooldown = defer` (default reject).
    pub planned_defer_on_cooldown: bool,
    /// `spec.replication.maxLagSeconds` (300): only drives the `ReplicationLagging` reason.
    pub max_lag_seconds: u64,
}

impl Config {
    /// A configuration with the reference defaults for the given sites.
    pub fn new(group: impl Into<String>, sites: Vec<SiteConfig>) -> Config {
        Config {
            group: group.into(),
            sites,
            priorities: Vec::new(),
            poll_interval: Duration::from_secs(2),
            failure_threshold: 3,
            recovery_threshold: 2,
            failover_cooldown: Duration::from_secs(300),
            relay_drain_timeout: Duration::from_secs(30),
            connection_drain_timeout: Duration::from_secs(30),
            recovery_retry: Duration::from_secs(30),
            pending_promotion_ttl: Duration::from_secs(30),
            planned_max_lag_wait: Duration::from_secs(300),
            planned_drain_timeout: Duration::from_secs(30),
            planned_defer_on_cooldown: false,
            max_lag_seconds: 300,
        }
    }

    /// Index of the named site.
    pub fn index(&self, name: &str) -> Option<usize> {
        self.sites.iter().position(|s| s.name == name)
    }
}

/// One site of the group.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct SiteConfig {
    /// `spec.sites[].name`.
    pub name: String,
    /// The role.
    pub role: Role,
    /// The internal host other sites replicate from (compared with `Source_Host`).
    pub host: String,
}

impl SiteConfig {
    /// A site with the given name, role and host.
    pub fn new(name: impl Into<String>, role: Role, host: impl Into<String>) -> SiteConfig {
        SiteConfig {
            name: name.into(),
            role,
            host: host.into(),
        }
    }
}

/// What a kill-sessions action is for.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum KillPurpose {
    /// Planned failover drain of the fenced source.
    Planned,
    /// Post-fence drain of a returning old primary.
    Recovery,
}

/// One remote operation the runner must perform, in decision order.
#[derive(Clone, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum Action {
    /// Point the DNS record at a site (`None`: no active site, leave as is).
    Dns {
        /// Target site.
        site: String,
    },
    /// `super_read_only = ON` on a site (best-effort, logged).
    Fence {
        /// The site.
        site: String,
        /// Why (log text).
        why: &'static str,
    },
    /// Planned drain: fence the source then read its executed GTID state; on read failure unfence again.
    FenceAndReadGtid {
        /// The source site.
        site: String,
    },
    /// Kill application sessions; the count comes back as [`Outcome::Killed`].
    KillSessions {
        /// The site.
        site: String,
        /// Why.
        purpose: KillPurpose,
    },
    /// The promotion sequence (§1.10): fence + kill the old primary, drain relay log, stop, reset, read the
    /// promotion GTID, unfence, confirm writable. Comes back as [`Outcome::Promoted`].
    Promote {
        /// The site to promote.
        target: String,
        /// The old primary to fence first, if known.
        old_primary: Option<String>,
        /// Planned switchover (the relay drain is instant) or emergency.
        planned: bool,
    },
    /// Re-assert a fenced promoted primary: unfence and confirm (§1.11). Comes back as [`Outcome::Reasserted`].
    Reassert {
        /// The site.
        site: String,
    },
    /// Audit a fenced returning old primary's divergent transactions against the active primary's executed state
    /// ([`Site::divergence`](crate::site::Site::divergence): the MariaDB binary logs, not only the states). Comes
    /// back as [`Outcome::Diverged`].
    AuditDivergence {
        /// The old primary.
        site: String,
        /// The active primary's executed state.
        new_primary: GtidState,
        /// The state-only estimate, reported when the audit fails or finds nothing to report.
        estimate: Divergence,
    },
    /// Rebuild `site` from `donor` then replicate from it. Comes back as [`Outcome::Recloned`].
    Reclone {
        /// The recipient.
        site: String,
        /// The donor (the confirmed active primary).
        donor: String,
    },
    /// Rejoin a returning old primary as replica of `source`: fence, stop, reset, change source, start.
    /// Comes back as [`Outcome::Rejoined`].
    Rejoin {
        /// The old primary.
        site: String,
        /// The active primary.
        source: String,
    },
    /// Re-point a follower to the active primary (stop, change source, start; no reset).
    Repoint {
        /// The follower.
        site: String,
        /// The active primary.
        source: String,
    },
    /// `START REPLICA` on a follower whose source is right but a thread stopped.
    StartReplication {
        /// The follower.
        site: String,
    },
    /// Apply (`true`) or remove the read-only node taint of a site.
    Taint {
        /// The site.
        site: String,
        /// Apply or remove.
        apply: bool,
    },
    /// Rollback of a planned failover: make the source writable again.
    Unfence {
        /// The source site.
        site: String,
    },
}

/// The result of an action whose outcome the engine needs, fed into the next [`Engine::step`].
#[derive(Clone, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum Outcome {
    /// DNS record written (or not).
    Dns {
        /// The site.
        site: String,
        /// Error text on failure.
        result: Result<(), String>,
    },
    /// Planned fence landed; the source's executed state right after it.
    FencedForPlanned {
        /// The source.
        site: String,
        /// The state, or the error (the runner rolled the fence back).
        result: Result<GtidState, String>,
        /// When the fence landed.
        at: Duration,
    },
    /// Sessions killed.
    Killed {
        /// The site.
        site: String,
        /// Why.
        purpose: KillPurpose,
        /// How many, or the error.
        result: Result<u32, String>,
    },
    /// A promotion finished.
    Promoted {
        /// The target.
        target: String,
        /// The promotion GTID text (empty when it could not be read), or the error.
        result: Result<String, String>,
        /// When the target was confirmed writable (or the attempt failed).
        at: Duration,
    },
    /// A re-assert finished.
    Reasserted {
        /// The site.
        site: String,
        /// Error text on failure.
        result: Result<(), String>,
    },
    /// A divergence audit finished: the divergent transactions to report (the runner substitutes the estimate
    /// when the audit fails).
    Diverged {
        /// The old primary.
        site: String,
        /// What to report.
        divergence: Divergence,
    },
    /// A reclone finished.
    Recloned {
        /// The site.
        site: String,
        /// Error text on failure.
        result: Result<(), String>,
    },
    /// A rejoin finished.
    Rejoined {
        /// The site.
        site: String,
        /// Error text on failure.
        result: Result<(), String>,
    },
}

/// The engine's answer to one poll.
#[derive(Clone, Debug)]
pub struct Decision {
    /// Ordered actions for the runner.
    pub actions: Vec<Action>,
    /// Events to emit (after the status write).
    pub events: Vec<Event>,
    /// The status snapshot to write.
    pub status: Status,
    /// Whether the durable record changed and must be flushed before the actions run.
    pub record_changed: bool,
    /// When to poll next.
    pub next_poll: Duration,
}

/// Per-site memory of the engine (volatile: rebuilt from observations after a restart).
#[derive(Clone, Debug, Default)]
pub(crate) struct SiteMemory {
    pub(crate) state: SiteState,
    pub(crate) fail: u32,
    pub(crate) recover: u32,
    pub(crate) healthy_polls: u32,
    pub(crate) replicating: bool,
    pub(crate) probe: Option<Probe>,
    pub(crate) last_seen: Option<Duration>,
    pub(crate) recovery_retry_after: Duration,
    pub(crate) recovery_fenced: bool,
    pub(crate) drain_start: Option<Duration>,
    pub(crate) drain_done: bool,
    pub(crate) convergence: (String, String),
}

/// A promotion decided but not yet confirmed by its outcome.
#[derive(Clone, Debug)]
pub(crate) struct Draft {
    pub(crate) record: FailoverRecord,
    pub(crate) unavailable_since: Option<Duration>,
}

/// The topology engine of one failover group.
#[derive(Clone, Debug)]
pub struct Engine {
    pub(crate) config: Config,
    pub(crate) record: Record,
    pub(crate) sites: Vec<SiteMemory>,
    pub(crate) pending: Option<(usize, Duration)>,
    pub(crate) last_reassert: Option<Duration>,
    pub(crate) last_active: Option<usize>,
    pub(crate) last_writable_seen: Option<Duration>,
    pub(crate) last_reason: Option<Reason>,
    pub(crate) dns: Option<String>,
    pub(crate) draft: Option<Draft>,
    pub(crate) metrics: Metrics,
    pub(crate) events: Vec<Event>,
    pub(crate) record_changed: bool,
    pub(crate) reclone_request: Option<String>,
    pub(crate) planned_request: Option<String>,
    pub(crate) now: Duration,
}

impl Engine {
    /// An engine for `config`, rehydrated from a durable `record`.
    pub fn new(config: Config, record: Record) -> Engine {
        let n = config.sites.len();
        Engine {
            config,
            record,
            sites: vec![SiteMemory::default(); n],
            pending: None,
            last_reassert: None,
            last_active: None,
            last_writable_seen: None,
            last_reason: None,
            dns: None,
            draft: None,
            metrics: Metrics::default(),
            events: Vec::new(),
            record_changed: false,
            reclone_request: None,
            planned_request: None,
            now: Duration::ZERO,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The durable record.
    pub fn record(&self) -> &Record {
        &self.record
    }

    /// Counters and gauges touched so far.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The debounced state of every site, in declared order.
    pub fn states(&self) -> Vec<SiteState> {
        self.sites.iter().map(|s| s.state).collect()
    }

    /// Sets (`Some`) or clears the planned-failover annotation value, as the platform sees it.
    pub fn set_planned_annotation(&mut self, value: Option<String>) {
        self.planned_request = value;
    }

    /// Sets (`Some`) or clears the reclone annotation value, as the platform sees it.
    pub fn set_reclone_annotation(&mut self, value: Option<String>) {
        self.reclone_request = value;
    }

    /// The planned-failover annotation, if still present (the engine removes it when it consumes it).
    pub fn planned_annotation(&self) -> Option<&str> {
        self.planned_request.as_deref()
    }

    /// The reclone annotation, if still present.
    pub fn reclone_annotation(&self) -> Option<&str> {
        self.reclone_request.as_deref()
    }

    /// One poll: `probes[i]` is the probe of `config.sites[i]` (`None` when it failed or timed out).
    pub fn step(
        &mut self,
        now: Duration,
        probes: Vec<Option<Probe>>,
        outcomes: Vec<Outcome>,
    ) -> Decision {
        self.now = now;
        self.record_changed = false;
        let mut actions = Vec::new();
        self.observe(probes, &mut actions);
        for outcome in outcomes {
            self.apply_outcome(outcome, &mut actions);
        }
        self.settle_pending();
        let views = self.views();
        let eval = evaluate(&views, &self.config.priorities);
        let active = self.active_site();
        if let Some(a) = active {
            self.last_active = Some(a);
            if self.sites[a].probe.as_ref().is_some_and(|p| !p.read_only) {
                self.last_writable_seen = Some(now);
            }
        }
        // §1.6: every poll, fence writable non-promotable sites.
        for name in &eval.fence {
            actions.push(Action::Fence {
                site: name.clone(),
                why: "writable non-promotable site",
            });
        }
        self.planned_accept();
        let planned_in_flight = self
            .record
            .planned
            .as_ref()
            .is_some_and(|p| p.phase.in_flight());
        // A clone into a core site suspends automatic cross-site action; a clone into a reader does not (§1.7).
        let reclone_busy = self.record.reclone.as_deref().is_some_and(|r| {
            self.config
                .sites
                .iter()
                .any(|s| s.name == r && s.role != Role::ReadOnly)
        });
        if !planned_in_flight && !reclone_busy {
            self.cross_site(&views, &eval, &mut actions);
            self.reassert(&mut actions);
        }
        if let Some(active) = active
            && !planned_in_flight
            && self.pending.is_none()
        {
            self.converge(active, &mut actions);
            self.recover(active, &mut actions);
            self.reclone(active, &mut actions);
        }
        self.planned_step(&mut actions);
        if let Some(site) = self.effective_active() {
            let name = self.config.sites[site].name.clone();
            if self.dns.as_deref() != Some(name.as_str()) && !planned_in_flight {
                self.dns = Some(name.clone());
                actions.push(Action::Dns { site: name });
            }
        }
        self.reason_events(eval.reason);
        let status = self.status(&eval);
        let busy = planned_in_flight || actions.iter().any(|a| matches!(a, Action::Promote { .. }));
        Decision {
            actions,
            events: std::mem::take(&mut self.events),
            status,
            record_changed: self.record_changed,
            next_poll: if busy {
                Duration::from_millis(200).min(self.config.poll_interval)
            } else {
                self.interval()
            },
        }
    }

    /// Debounces every probe (§1.3) and emits taint actions on transitions (§1.4).
    fn observe(&mut self, probes: Vec<Option<Probe>>, actions: &mut Vec<Action>) {
        let threshold = self.config.failure_threshold.max(1);
        let recovery = self.config.recovery_threshold.max(1);
        for (i, probe) in probes.into_iter().enumerate().take(self.sites.len()) {
            let role = self.config.sites[i].role;
            let m = &mut self.sites[i];
            let prev = m.state;
            match &probe {
                None => {
                    m.recover = 0;
                    m.fail += 1;
                    if m.fail >= threshold {
                        m.state = SiteState::Unreachable;
                    }
                    m.healthy_polls = 0;
                    m.replicating = false;
                }
                Some(p) => {
                    m.fail = 0;
                    m.last_seen = Some(self.now);
                    if p.read_only {
                        m.state = SiteState::ReadOnly;
                        m.recover = 0;
                    } else if m.state != SiteState::Writable {
                        m.recover += 1;
                        if m.recover >= recovery || role != Role::PrimaryCandidate {
                            m.state = SiteState::Writable;
                        }
                    }
                    let healthy = p.read_only && p.replica.as_ref().is_some_and(|r| r.is_healthy());
                    m.healthy_polls = if healthy { m.healthy_polls + 1 } else { 0 };
                    m.replicating = m.healthy_polls >= 2;
                }
            }
            m.probe = probe;
            if prev != m.state {
                let to = m.state;
                let site = self.config.sites[i].name.clone();
                self.metrics.inc(format!("bloodraven_state_transitions_total{{site=\"{site}\",from=\"{prev}\",to=\"{to}\"}}"));
                if role != Role::ReadOnly {
                    match (prev, to) {
                        (_, SiteState::Writable) => {
                            actions.push(Action::Taint { site, apply: false })
                        }
                        (
                            SiteState::Writable | SiteState::Unknown,
                            SiteState::ReadOnly | SiteState::Unreachable,
                        ) => actions.push(Action::Taint { site, apply: true }),
                        _ => {}
                    }
                }
            }
        }
    }

    fn views(&self) -> Vec<SiteView> {
        self.config
            .sites
            .iter()
            .zip(&self.sites)
            .map(|(c, m)| SiteView {
                name: c.name.clone(),
                role: c.role,
                state: m.state,
                rotation_blocked: false,
            })
            .collect()
    }

    /// §1.9: the unique writable primary-candidate (readers being recloned are ignored).
    pub(crate) fn active_site(&self) -> Option<usize> {
        let writable: Vec<usize> = (0..self.sites.len())
            .filter(|&i| self.sites[i].state == SiteState::Writable)
            .filter(|&i| {
                !(self.config.sites[i].role == Role::ReadOnly
                    && self.record.reclone.as_deref() == Some(self.config.sites[i].name.as_str()))
            })
            .collect();
        match writable.as_slice() {
            [one] if self.config.sites[*one].role == Role::PrimaryCandidate => Some(*one),
            _ => None,
        }
    }

    /// The active site, or the pending promotion target while it is promotable and nothing else is writable.
    pub(crate) fn effective_active(&self) -> Option<usize> {
        if let Some(a) = self.active_site() {
            return Some(a);
        }
        let (target, _) = self.pending?;
        let others_writable = (0..self.sites.len())
            .any(|i| i != target && self.sites[i].state == SiteState::Writable);
        (!others_writable && self.config.sites[target].role == Role::PrimaryCandidate)
            .then_some(target)
    }

    /// Clears the pending-promotion guard when confirmed, superseded or expired.
    fn settle_pending(&mut self) {
        let Some((target, since)) = self.pending else {
            return;
        };
        let active = self.active_site();
        if self.sites[target].state == SiteState::Unreachable {
            // A lost target must not stand in as active site: a sidecar safety net asking `/active-site` would
            // unfence whatever comes back under that name (possibly with an empty data volume).
            tracing::warn!(site = %self.config.sites[target].name, "pending promotion target became unreachable");
            self.pending = None;
        } else if active == Some(target) {
            tracing::info!(site = %self.config.sites[target].name, "promotion confirmed: site is writable");
            self.pending = None;
        } else if active.is_some() {
            tracing::warn!(site = %self.config.sites[target].name, "pending promotion superseded by another active site");
            self.pending = None;
        } else if self.now >= since + self.config.pending_promotion_ttl {
            tracing::warn!(site = %self.config.sites[target].name, "pending promotion expired before writable confirmation");
            self.pending = None;
        }
    }

    /// §1.7 and §1.8: split-brain fencing and automatic promotion.
    fn cross_site(&mut self, views: &[SiteView], eval: &Evaluation, actions: &mut Vec<Action>) {
        if !eval.fence.is_empty() {
            return;
        }
        let target_idx = self
            .record
            .last_failover_target
            .as_deref()
            .and_then(|t| self.config.index(t));
        let writable_candidates: Vec<usize> = (0..self.sites.len())
            .filter(|&i| {
                self.sites[i].state == SiteState::Writable
                    && self.config.sites[i].role == Role::PrimaryCandidate
            })
            .collect();
        if writable_candidates.len() > 1 {
            // Split brain: the recorded failover target wins, else the priorities.
            if let Some(t) = target_idx.filter(|t| writable_candidates.contains(t)) {
                for &i in writable_candidates.iter().filter(|&&i| i != t) {
                    actions.push(Action::Fence {
                        site: self.config.sites[i].name.clone(),
                        why: "fencing returning old primary (split brain after failover)",
                    });
                }
            } else if let Some((winner, losers)) =
                resolve_split_brain(views, &self.config.priorities)
            {
                for l in losers {
                    self.metrics.inc(format!(
                        "bloodraven_split_brain_auto_resolve_total{{prefer_site=\"{winner}\"}}"
                    ));
                    actions.push(Action::Fence {
                        site: l,
                        why: "split-brain auto-resolve: fencing non-preferred site per spec.splitBrainPolicy.sitePriorities",
                    });
                }
            }
            return;
        }
        if eval.candidates.is_empty() || !eval.writable.is_empty() {
            return;
        }
        if self.pending.is_some() || self.draft.is_some() {
            return;
        }
        let old = self.last_active.or(target_idx);
        let candidates = eval.candidates.clone();
        self.promote_freshest(&candidates, old, actions);
    }

    /// §1.8: strict GTID containment picks the freshest of `candidates` (ranked), priorities break ties; then the
    /// cooldown and role gates; then the promotion, fencing `old` first when it is another site.
    fn promote_freshest(
        &mut self,
        candidates: &[String],
        old: Option<usize>,
        actions: &mut Vec<Action>,
    ) {
        let mut considered: Vec<Candidate> = Vec::new();
        let mut best: Option<(usize, GtidState)> = None;
        let mut rule = String::new();
        for name in candidates {
            let Some(i) = self.config.index(name) else {
                continue;
            };
            let Some(p) = &self.sites[i].probe else {
                continue;
            };
            considered.push(Candidate {
                site: name.clone(),
                gtid: p.executed.to_string(),
            });
            match &best {
                None => {
                    rule = format!("{name}: highest-priority reachable candidate");
                    best = Some((i, p.executed.clone()));
                }
                Some((b, bs)) => {
                    if p.executed.compare(bs) == bloodraven_gtid::SetRelation::Superset {
                        rule = format!(
                            "{name}: GTID set strictly contains {}'s",
                            self.config.sites[*b].name
                        );
                        best = Some((i, p.executed.clone()));
                    }
                }
            }
        }
        let Some((target, _)) = best else {
            tracing::warn!("no reachable promotion candidate");
            return;
        };
        if considered.len() > 1 && !rule.contains("strictly") {
            rule = format!(
                "{}: no candidate strictly contains it; priority order",
                self.config.sites[target].name
            );
        }
        if self
            .record
            .in_cooldown(self.now, self.config.failover_cooldown)
        {
            tracing::warn!(site = %self.config.sites[target].name, "failover blocked by anti-flap cooldown");
            return;
        }
        if self.config.sites[target].role != Role::PrimaryCandidate {
            tracing::error!("promotion target is not a primary-candidate — refusing");
            return;
        }
        let old = old.filter(|&o| o != target);
        let target_name = self.config.sites[target].name.clone();
        let old_primary = old.map(|o| self.config.sites[o].name.clone());
        self.draft = Some(Draft {
            record: FailoverRecord {
                at: self.now,
                trigger: Trigger::Emergency,
                target: target_name.clone(),
                old_primary: old_primary.clone(),
                candidates: considered,
                rule,
                promotion_gtid: String::new(),
                write_unavailability: None,
                divergent_gtid: None,
                divergent_count: 0,
            },
            unavailable_since: self.last_writable_seen,
        });
        actions.push(Action::Promote {
            target: target_name,
            old_primary,
            planned: false,
        });
    }

    /// §1.11, generalised: nothing is writable, every other site is read-only, and the last primary (the one this
    /// process saw active, else the recorded failover target) is read-only too. If it is GTID-complete it is made
    /// writable again (re-assert, own timer); if it came back without its data (its set lacks a peer's
    /// transactions), the freshest candidate containing whatever it still has is promoted (cooldown-gated).
    fn reassert(&mut self, actions: &mut Vec<Action>) {
        if self.pending.is_some() || self.draft.is_some() {
            return;
        }
        let record_target = self
            .record
            .last_failover_target
            .as_deref()
            .and_then(|t| self.config.index(t));
        let Some(t) = self.last_active.or(record_target) else {
            return;
        };
        let all_others_ro = (0..self.sites.len())
            .filter(|&i| i != t)
            .filter(|&i| {
                self.config.sites[i].role != Role::ReadOnly
                    || self.record.reclone.as_deref() != Some(self.config.sites[i].name.as_str())
            })
            .all(|i| self.sites[i].state == SiteState::ReadOnly);
        if !all_others_ro
            || self.sites[t].state != SiteState::ReadOnly
            || self.config.sites[t].role != Role::PrimaryCandidate
        {
            return;
        }
        let Some(tp) = self.sites[t].probe.clone() else {
            return;
        };
        // A target that lost its promotion GTID set (wiped or restored) is never re-asserted.
        let intact = Some(t) != record_target
            || match (&self.record.promotion_gtid, &tp.executed) {
                (Some(pg), GtidState::Mysql(ts)) if !pg.is_empty() => pg
                    .parse::<bloodraven_gtid::GtidSet>()
                    .is_ok_and(|p| ts.is_superset(&p)),
                _ => true,
            };
        let peers: Vec<usize> = (0..self.sites.len()).filter(|&i| i != t).collect();
        let complete = intact
            && peers.iter().all(|&i| {
                self.sites[i]
                    .probe
                    .as_ref()
                    .is_some_and(|p| tp.executed.contains(&p.executed))
            });
        if complete {
            if self
                .last_reassert
                .is_some_and(|at| self.now < at + self.config.failover_cooldown)
            {
                return;
            }
            self.last_reassert = Some(self.now);
            let site = self.config.sites[t].name.clone();
            tracing::warn!(%site, "re-asserting fenced promoted primary: no site is writable and the last failover target is GTID-complete; restoring writability");
            actions.push(Action::Reassert { site });
            return;
        }
        let containing: Vec<String> = peers
            .iter()
            .filter(|&&i| self.config.sites[i].role == Role::PrimaryCandidate)
            .filter(|&&i| {
                self.sites[i]
                    .probe
                    .as_ref()
                    .is_some_and(|p| p.executed.contains(&tp.executed))
            })
            .map(|&i| self.config.sites[i].name.clone())
            .collect();
        if containing.is_empty() {
            return;
        }
        let ranked = rank_candidates(&containing, &self.config.priorities);
        tracing::warn!(site = %self.config.sites[t].name, "last primary came back read-only without its data; promoting the freshest candidate");
        self.promote_freshest(&ranked, Some(t), actions);
    }

    /// Feeds an outcome between polls, so it is recorded before anything else happens (the runner does this for
    /// promotions: the failover record is flushed before DNS flips, reference §1.10). Returns the follow-up
    /// actions (the DNS flip) and whether the durable record changed; events wait for the next step's decision.
    pub fn feed(&mut self, now: Duration, outcome: Outcome) -> (Vec<Action>, bool) {
        self.now = now;
        let before = self.record_changed;
        self.record_changed = false;
        let mut actions = Vec::new();
        self.apply_outcome(outcome, &mut actions);
        let changed = self.record_changed;
        self.record_changed = before;
        (actions, changed)
    }

    /// The effective active site now (the pending promotion target counts), for `/active-site`.
    pub fn effective_active_site(&self) -> Option<&str> {
        self.effective_active()
            .map(|i| self.config.sites[i].name.as_str())
    }

    /// Feeds one action outcome back.
    fn apply_outcome(&mut self, outcome: Outcome, actions: &mut Vec<Action>) {
        match outcome {
            Outcome::Promoted { target, result, at } => self.promoted(target, result, at, actions),
            Outcome::Dns { site, result } => match result {
                Ok(()) => self
                    .metrics
                    .inc(format!("bloodraven_dns_flips_total{{site=\"{site}\"}}")),
                Err(e) => {
                    tracing::warn!(%site, error = %e, "DNS update failed; retrying next poll");
                    self.dns = None;
                }
            },
            Outcome::Reasserted { site, result } => {
                if result.is_ok() {
                    self.metrics.inc(format!(
                        "bloodraven_primary_reassert_total{{site=\"{site}\"}}"
                    ));
                    if let Some(i) = self.config.index(&site) {
                        self.pending = Some((i, self.now));
                    }
                }
            }
            Outcome::FencedForPlanned { .. }
            | Outcome::Killed {
                purpose: KillPurpose::Planned,
                ..
            } => self.planned_outcome(outcome),
            Outcome::Killed { .. }
            | Outcome::Rejoined { .. }
            | Outcome::Recloned { .. }
            | Outcome::Diverged { .. } => self.recovery_outcome(outcome),
        }
    }

    fn promoted(
        &mut self,
        target: String,
        result: Result<String, String>,
        at: Duration,
        actions: &mut Vec<Action>,
    ) {
        let planned = self
            .record
            .planned
            .as_ref()
            .is_some_and(|p| p.phase == PlannedPhase::Promoting);
        let draft = self.draft.take();
        if planned {
            self.planned_promoted(&target, result, at, actions);
            return;
        }
        let Some(mut draft) = draft.filter(|d| d.record.target == target) else {
            return;
        };
        match result {
            Err(e) => tracing::error!(site = %target, error = %e, "promotion failed"),
            Ok(gtid) => {
                draft.record.at = at;
                draft.record.promotion_gtid = gtid;
                draft.record.write_unavailability =
                    draft.unavailable_since.map(|s| at.saturating_sub(s));
                self.finish_promotion(draft.record, actions);
            }
        }
    }

    /// Records a confirmed promotion (before DNS) and flips DNS.
    pub(crate) fn finish_promotion(&mut self, rec: FailoverRecord, actions: &mut Vec<Action>) {
        let target = rec.target.clone();
        tracing::info!(site = %target, promotion_gtid = %rec.promotion_gtid, "failover complete");
        if rec.trigger == Trigger::Emergency {
            self.metrics.inc(format!(
                "bloodraven_failovers_total{{target_site=\"{target}\"}}"
            ));
        }
        self.events.push(Event::normal(
            "FailoverExecuted",
            format!("Failover completed: {target} promoted as new primary"),
        ));
        self.record.record_failover(rec);
        self.record_changed = true;
        if let Some(i) = self.config.index(&target) {
            self.pending = Some((i, self.now));
            self.last_active = Some(i);
        }
        self.dns = Some(target.clone());
        actions.push(Action::Dns { site: target });
    }

    /// §1.2: base interval, doubled per failure beyond the threshold, capped at 30 s — but only while every core
    /// site is failing (TotalLoss). Unlike the reference, one dead replica or reader never slows the detection of
    /// a dead primary (that would stretch the failover bound to 3 × 30 s).
    fn interval(&self) -> Duration {
        let core: Vec<&SiteMemory> = self
            .config
            .sites
            .iter()
            .zip(&self.sites)
            .filter(|(c, _)| c.role != Role::ReadOnly)
            .map(|(_, m)| m)
            .collect();
        if core.is_empty() || core.iter().any(|m| m.fail == 0) {
            return self.config.poll_interval;
        }
        let max_fail = core.iter().map(|m| m.fail).max().unwrap_or(0);
        let over = max_fail.saturating_sub(self.config.failure_threshold);
        if over == 0 {
            return self.config.poll_interval;
        }
        (self.config.poll_interval * (1 << over.min(4))).min(Duration::from_secs(30))
    }
}

#[cfg(test)]
mod tests;
