//! The pure topology engine: observations and the durable record in, a decision out.
//!
//! [`Engine::step`] is called once per poll with the probe of every site (or `None` when the probe failed or timed
//! out), the outcomes of the actions of the previous decision, and the time. It never reads a clock, never does IO
//! and never draws random numbers, so every decision can be replayed.

mod action;
mod autoclone;
mod divergence;
mod event;
mod gates;
mod handoff;
mod matrix;
mod metric;
mod planned;
mod promotion;
mod recovery;
mod status;

use std::time::Duration;

use crate::record::{FailoverRecord, PlannedPhase, Record};
use crate::site::Probe;

pub use action::{Action, Decision, KillPurpose, Outcome, Taint};
pub use autoclone::{AUTO_CLONE_RETRY, can_skip_clone, is_empty_site};
pub use divergence::{Divergence, divergence};
pub use event::{Event, EventReason, EventType};
pub use gates::Gates;
pub use matrix::{
    Evaluation, Reason, Role, SiteState, SiteView, evaluate, rank_candidates, resolve_split_brain,
};
pub use metric::{KeyringOutcome, Metric, PlannedResult};
pub use status::{Condition, SiteStatus, Status};

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
    pub(crate) auto_clone_after: Duration,
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
    /// The last DNS failure, logged once until it changes or DNS succeeds (a cluster without the DNSEndpoint API
    /// fails every poll).
    pub(crate) dns_error: Option<String>,
    pub(crate) draft: Option<Draft>,
    /// Metric samples since the last decision (outcomes applied between steps add to them too).
    pub(crate) metrics: Vec<Metric>,
    pub(crate) events: Vec<Event>,
    pub(crate) record_changed: bool,
    pub(crate) reclone_request: Option<String>,
    pub(crate) planned_request: Option<String>,
    pub(crate) now: Duration,
    pub(crate) gates: Gates,
    pub(crate) auto_clone: Option<usize>,
    pub(crate) clone_result: Option<autoclone::CloneResult>,
    pub(crate) keyring_refused: std::collections::BTreeSet<String>,
    pub(crate) suppressed_logged: Option<&'static str>,
    pub(crate) carried: Vec<Action>,
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
            dns_error: None,
            draft: None,
            metrics: Vec::new(),
            events: Vec::new(),
            record_changed: false,
            reclone_request: None,
            planned_request: None,
            now: Duration::ZERO,
            gates: Gates::default(),
            auto_clone: None,
            clone_result: None,
            keyring_refused: Default::default(),
            suppressed_logged: None,
            carried: Vec::new(),
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
        // A rollback unfence that a failed record save kept from running (see `abandon`) is due again while the
        // planned failover it belongs to stays failed and nothing else took the writes.
        for action in std::mem::take(&mut self.carried) {
            if self
                .record
                .planned
                .as_ref()
                .is_some_and(|p| p.phase == PlannedPhase::Failed)
                && eval.writable.is_empty()
            {
                actions.push(action);
            }
        }
        let suppressed = self.cross_site_suppression(&self.gates, planned_in_flight);
        if suppressed != self.suppressed_logged {
            match suppressed {
                Some(why) => tracing::warn!(
                    why,
                    "automatic failover, split-brain fencing and re-assert deferred"
                ),
                None => tracing::info!("automatic cross-site actions resumed"),
            }
            self.suppressed_logged = suppressed;
        }
        if suppressed.is_none() {
            self.cross_site(&views, &eval, &mut actions);
            self.reassert(&mut actions);
        } else if !eval.candidates.is_empty() && eval.writable.is_empty() {
            tracing::debug!(why = suppressed, "emergency promotion deferred");
        }
        if let Some(active) = active {
            let blocked = self.convergence_suppressed(planned_in_flight);
            self.converge(active, blocked, &mut actions);
            if !planned_in_flight && self.pending.is_none() {
                if !self.gates.frozen && !self.bootstrapping() {
                    self.recover(active, &mut actions);
                }
                self.reclone(active, &mut actions);
                self.auto_clone(active, &mut actions);
            }
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
            metrics: std::mem::take(&mut self.metrics),
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
                self.metrics.push(Metric::StateTransition {
                    site: site.clone(),
                    from: prev,
                    to,
                });
                if role != Role::ReadOnly {
                    match (prev, to) {
                        (_, SiteState::Writable) => actions.push(Action::Taint {
                            site,
                            taint: Taint::Remove,
                        }),
                        (
                            SiteState::Writable | SiteState::Unknown,
                            SiteState::ReadOnly | SiteState::Unreachable,
                        ) => actions.push(Action::Taint {
                            site,
                            taint: Taint::Apply,
                        }),
                        _ => {}
                    }
                }
            }
        }
    }

    pub(crate) fn views(&self) -> Vec<SiteView> {
        self.config
            .sites
            .iter()
            .zip(&self.sites)
            .map(|(c, m)| SiteView {
                name: c.name.clone(),
                role: c.role,
                state: m.state,
                rotation_blocked: self.gates.rotating.contains(&c.name),
            })
            .collect()
    }

    /// §1.9: the unique writable primary-candidate (readers being recloned are ignored).
    pub(crate) fn active_site(&self) -> Option<usize> {
        let writable: Vec<usize> = (0..self.sites.len())
            .filter(|&i| self.sites[i].state == SiteState::Writable)
            .filter(|&i| {
                let name = Some(self.config.sites[i].name.as_str());
                !(self.config.sites[i].role == Role::ReadOnly
                    && (self.record.reclone.as_deref() == name
                        || self.gates.bootstrap.as_deref() == name
                        || self.auto_clone == Some(i)))
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
                Ok(()) => {
                    self.dns_error = None;
                    self.metrics.push(Metric::DnsFlip { site });
                }
                Err(e) => {
                    if self.dns_error.as_ref() != Some(&e) {
                        tracing::warn!(%site, error = %e, "DNS update failed; retrying every poll");
                    }
                    self.dns_error = Some(e);
                    self.dns = None;
                }
            },
            Outcome::Reasserted { site, result } => {
                if result.is_ok() {
                    self.metrics
                        .push(Metric::PrimaryReassert { site: site.clone() });
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
            Outcome::Recloned { site, result }
                if self
                    .auto_clone
                    .is_some_and(|i| self.config.sites[i].name == site) =>
            {
                if let Some(i) = self.auto_clone {
                    self.auto_clone_outcome(i, result);
                }
            }
            Outcome::Killed { .. }
            | Outcome::Rejoined { .. }
            | Outcome::Recloned { .. }
            | Outcome::Diverged { .. } => self.recovery_outcome(outcome),
        }
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
mod gate_tests;
#[cfg(test)]
mod tests;
