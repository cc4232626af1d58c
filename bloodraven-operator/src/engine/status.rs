//! Status snapshot, conditions (§1.15) and the topology events (§1.16).

use std::time::Duration;

use crate::engine::{Engine, Evaluation, Event, EventReason, Reason, Role, SiteState};
use crate::record::{PlannedStatus, RecoveryMarker};

/// A status condition.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Condition {
    /// `Ready`, `Degraded`, `RecoveryPending`, `Bootstrapping`.
    pub type_: &'static str,
    /// True or False.
    pub status: bool,
    /// Machine reason.
    pub reason: String,
    /// Human message.
    pub message: String,
}

/// `status.sites[]`.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct SiteStatus {
    /// Site name.
    pub name: String,
    /// Debounced state.
    pub state: SiteState,
    /// Last successful probe.
    pub last_seen: Option<Duration>,
    /// `Source_Host` of the replication channel.
    pub source_host: String,
    /// `Converged` / `Pending` / `Blocked` (empty when not a follower).
    pub source_convergence_state: String,
    /// `DirectSource`, `SourceMismatch`, `GTIDDiverged`, ...
    pub source_convergence_reason: String,
    /// Debounced replication health.
    pub replicating: bool,
    /// `Seconds_Behind_Source`.
    pub seconds_behind: Option<u64>,
    /// Executed GTID state (text).
    pub gtid_executed: String,
    /// `RecoveryInProgress` / `RecoveryBlocked` / empty.
    pub recovery_state: String,
    /// Divergent transactions of a blocked old primary.
    pub divergent_gtid: String,
    /// Their count.
    pub divergent_count: u64,
}

/// The status snapshot written after every poll.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Status {
    /// `status.activeSite` (effective: includes a pending promotion).
    pub active_site: Option<String>,
    /// Per-site status.
    pub sites: Vec<SiteStatus>,
    /// Matrix reason.
    pub reason: Reason,
    /// Matrix alert.
    pub alert: String,
    /// Conditions.
    pub conditions: Vec<Condition>,
    /// `status.lastFailover`.
    pub last_failover: Option<Duration>,
    /// `status.lastFailoverTarget`.
    pub last_failover_target: Option<String>,
    /// `status.promotionGtidExecuted`.
    pub promotion_gtid: Option<String>,
    /// `status.plannedFailover`.
    pub planned: Option<PlannedStatus>,
    /// Why automatic failover, split-brain fencing and re-assert are suppressed this poll (frozen topology, planned
    /// failover, bootstrap into a core site, ordered update), if they are.
    pub suppressed: Option<String>,
}

impl Status {
    /// The condition of the given type.
    pub fn condition(&self, type_: &str) -> Option<&Condition> {
        self.conditions.iter().find(|c| c.type_ == type_)
    }

    /// The site status of the given site.
    pub fn site(&self, name: &str) -> Option<&SiteStatus> {
        self.sites.iter().find(|s| s.name == name)
    }
}

impl Engine {
    /// Emits topology reason transition events.
    pub(crate) fn reason_events(&mut self, reason: Reason) {
        let prev = self.last_reason.replace(reason);
        if prev == Some(reason) {
            return;
        }
        match reason {
            Reason::SplitBrain => self.events.push(Event::new(
                EventReason::SplitBrainDetected,
                "more than one site is writable".into(),
            )),
            Reason::NoPrimary => self.events.push(Event::new(
                EventReason::NoPrimaryDetected,
                "no site is writable".into(),
            )),
            Reason::TotalLoss => self.events.push(Event::new(
                EventReason::TotalLossDetected,
                "all sites are unreachable".into(),
            )),
            Reason::Healthy if prev.is_some() => self.events.push(Event::new(
                EventReason::SiteRecovered,
                "topology is healthy again".into(),
            )),
            _ => {}
        }
    }

    pub(crate) fn status(&self, eval: &Evaluation) -> Status {
        let active = self.effective_active();
        let sites: Vec<SiteStatus> = self
            .config
            .sites
            .iter()
            .zip(&self.sites)
            .map(|(c, m)| {
                let replica = m.probe.as_ref().and_then(|p| p.replica.as_ref());
                let (recovery_state, divergent_gtid, divergent_count) =
                    match self.record.recovery.get(&c.name) {
                        Some(RecoveryMarker::Blocked {
                            divergent_gtid,
                            count,
                        }) => ("RecoveryBlocked".to_owned(), divergent_gtid.clone(), *count),
                        Some(RecoveryMarker::InProgress) => {
                            ("RecoveryInProgress".to_owned(), String::new(), 0)
                        }
                        None => (String::new(), String::new(), 0),
                    };
                SiteStatus {
                    name: c.name.clone(),
                    state: m.state,
                    last_seen: m.last_seen,
                    source_host: replica.map(|r| r.source_host.clone()).unwrap_or_default(),
                    source_convergence_state: m.convergence.0.clone(),
                    source_convergence_reason: m.convergence.1.clone(),
                    replicating: m.replicating,
                    seconds_behind: replica.and_then(|r| r.seconds_behind),
                    gtid_executed: m
                        .probe
                        .as_ref()
                        .map(|p| p.executed.to_string())
                        .unwrap_or_default(),
                    recovery_state,
                    divergent_gtid,
                    divergent_count,
                }
            })
            .collect();
        let mut conditions = Vec::new();
        let followers_ok = self.config.sites.iter().enumerate().all(|(i, c)| {
            c.role == Role::ReadOnly
                || Some(i) == active
                || (self.sites[i].replicating && self.sites[i].convergence.0 == "Converged")
        });
        let (ready, msg) = match (active.is_some(), followers_ok) {
            (false, _) => (false, "No site is writable"),
            (true, false) => (false, "Replication is not healthy"),
            (true, true) => (
                true,
                "At least one site is writable and replication is healthy",
            ),
        };
        conditions.push(Condition {
            type_: "Ready",
            status: ready,
            reason: "TopologyPolled".into(),
            message: msg.into(),
        });
        let mut degraded = Condition {
            type_: "Degraded",
            status: eval.reason != Reason::Healthy,
            reason: eval.reason.to_string(),
            message: if eval.reason == Reason::Healthy {
                "No cross-site alerts".into()
            } else {
                eval.alert.clone()
            },
        };
        for (i, c) in self.config.sites.iter().enumerate() {
            if c.role == Role::ReadOnly
                || Some(i) == active
                || self.sites[i].state != SiteState::ReadOnly
            {
                continue;
            }
            let Some(r) = self.sites[i]
                .probe
                .as_ref()
                .and_then(|p| p.replica.as_ref())
            else {
                continue;
            };
            let problem = if let Some(e) = r.error() {
                Some(("ReplicationError", format!("{}: {e}", c.name)))
            } else if !r.io_running || !r.sql_running {
                Some((
                    "ReplicationBroken",
                    format!("{}: replication thread stopped", c.name),
                ))
            } else if r
                .seconds_behind
                .is_some_and(|s| s > self.config.max_lag_seconds)
            {
                Some((
                    "ReplicationLagging",
                    format!("{}: lag above {} s", c.name, self.config.max_lag_seconds),
                ))
            } else if eval.reason == Reason::Healthy && self.sites[i].convergence.0 != "Converged" {
                Some((
                    "ReplicationSourceMismatch",
                    format!("{}: not replicating from the active site", c.name),
                ))
            } else {
                None
            };
            if let Some((reason, message)) = problem {
                degraded = Condition {
                    type_: "Degraded",
                    status: true,
                    reason: reason.into(),
                    message,
                };
            }
        }
        conditions.push(degraded);
        let blocked = self
            .record
            .recovery
            .iter()
            .find(|(_, m)| matches!(m, RecoveryMarker::Blocked { .. }));
        let in_progress = self
            .record
            .recovery
            .iter()
            .find(|(_, m)| matches!(m, RecoveryMarker::InProgress));
        conditions.push(match (blocked, in_progress) {
            (Some((site, RecoveryMarker::Blocked { count, .. })), _) => Condition {
                type_: "RecoveryPending",
                status: true,
                reason: "DivergentTransactions".into(),
                message: format!(
                    "Old primary {site} has {count} divergent transactions — annotate with bloodraven.shipstream.io/reclone-site={site} to recover"
                ),
            },
            (_, Some((site, _))) => Condition {
                type_: "RecoveryPending",
                status: true,
                reason: "RecoveryInProgress".into(),
                message: format!("Old primary {site} is being reconfigured as a replica"),
            },
            _ => Condition {
                type_: "RecoveryPending",
                status: false,
                reason: "NoRecoveryPending".into(),
                message: String::new(),
            },
        });
        conditions.push(self.bootstrapping_condition());
        Status {
            active_site: active.map(|a| self.config.sites[a].name.clone()),
            sites,
            reason: eval.reason,
            alert: eval.alert.clone(),
            conditions,
            last_failover: self.record.last_failover,
            last_failover_target: self.record.last_failover_target.clone(),
            promotion_gtid: self.record.promotion_gtid.clone(),
            planned: self.record.planned.clone(),
            suppressed: self.suppressed_logged.map(str::to_owned),
        }
    }

    /// §1.15 `Bootstrapping`: `Cloning` while a reclone or auto-clone runs (labelled), then `Done` or `Failed` with
    /// the error text of the last clone, else `NotBootstrapping`.
    fn bootstrapping_condition(&self) -> Condition {
        let auto = self.auto_clone.map(|i| &self.config.sites[i].name);
        let (status, reason, message) = match (&self.record.reclone, auto, &self.clone_result) {
            (_, Some(site), _) => (true, "Cloning", format!("Auto-clone: cloning {site}")),
            (Some(site), None, _) => (true, "Cloning", format!("Reclone: cloning {site}")),
            (None, None, Some(last)) => match &last.result {
                Ok(()) => (
                    false,
                    "Done",
                    format!("{}: {} cloned", last.label, last.site),
                ),
                Err(e) => (
                    true,
                    "Failed",
                    format!("{}: cloning {} failed: {e}", last.label, last.site),
                ),
            },
            (None, None, None) => (false, "NotBootstrapping", String::new()),
        };
        Condition {
            type_: "Bootstrapping",
            status,
            reason: reason.into(),
            message,
        }
    }
}
