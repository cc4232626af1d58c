//! Source convergence (§1.12), old-primary recovery with the divergent-GTID audit (§2.1–§2.5) and reclone (§2.6).

use crate::annotations;
use crate::engine::{
    Action, Divergence, Engine, KillPurpose, Outcome, Role, SiteState, divergence,
};
use crate::record::RecoveryMarker;

use super::{Event, EventReason, Metric};

/// Canonical host: lower-case, trimmed, without `:3306` and a trailing dot.
pub(crate) fn canonical_host(h: &str) -> String {
    let h = h.trim().to_ascii_lowercase();
    let h = h.strip_suffix(":3306").unwrap_or(&h);
    h.strip_suffix('.').unwrap_or(h).to_owned()
}

impl Engine {
    /// §1.12: followers with a configured source must replicate directly from the active primary. While `blocked`
    /// (pending promotion, planned failover, frozen topology, bootstrap, ordered update) a follower that is not
    /// converged only reports `Pending/SourceMismatch`.
    pub(crate) fn converge(&mut self, active: usize, blocked: bool, actions: &mut Vec<Action>) {
        let active_host = canonical_host(&self.config.sites[active].host);
        let Some(ap) = self.sites[active].probe.clone() else {
            return;
        };
        for i in 0..self.sites.len() {
            if i == active || self.sites[i].state != SiteState::ReadOnly {
                continue;
            }
            let Some(p) = self.sites[i].probe.clone() else {
                continue;
            };
            let Some(r) = p.replica.as_ref().filter(|r| !r.source_host.is_empty()) else {
                continue;
            };
            let site = self.config.sites[i].name.clone();
            let same_host = canonical_host(&r.source_host) == active_host;
            self.sites[i].convergence = if same_host && r.io_running && r.sql_running {
                ("Converged".into(), "DirectSource".into())
            } else if blocked {
                ("Pending".into(), "SourceMismatch".into())
            } else if !ap.executed.contains(&p.executed) {
                tracing::warn!(%site, "replication source convergence blocked");
                ("Blocked".into(), "GTIDDiverged".into())
            } else if same_host {
                actions.push(Action::StartReplication { site });
                ("Pending".into(), "SourceMismatch".into())
            } else {
                actions.push(Action::Repoint {
                    site,
                    source: self.config.sites[active].name.clone(),
                });
                ("Pending".into(), "SourceMismatch".into())
            };
        }
    }

    /// §2.1–§2.5: clears healed markers, then advances the recovery of at most one returning old primary.
    pub(crate) fn recover(&mut self, active: usize, actions: &mut Vec<Action>) {
        if self.clear_markers(active) {
            return;
        }
        let Some(np) = self.sites[active].probe.clone() else {
            return;
        };
        for i in 0..self.sites.len() {
            let m = &self.sites[i];
            let recloning =
                self.record.reclone.as_deref() == Some(self.config.sites[i].name.as_str());
            if i == active
                || recloning
                || m.state != SiteState::ReadOnly
                || self.now < m.recovery_retry_after
            {
                continue;
            }
            let Some(p) = m.probe.clone() else { continue };
            if p.replica
                .as_ref()
                .is_some_and(|r| !r.source_host.is_empty())
            {
                continue; // handled by source convergence
            }
            let site = self.config.sites[i].name.clone();
            if p.executed.is_empty() {
                // Empty (data volume lost): left to bootstrap / reclone. Divergent transactions it once held are
                // gone with the data, so a stale report is withdrawn.
                if matches!(
                    self.record.recovery.get(&site),
                    Some(RecoveryMarker::Blocked { .. })
                ) {
                    tracing::warn!(%site, "blocked site is now empty; its divergent transactions are gone with its data");
                    self.set_marker(&site, None);
                }
                continue;
            }
            if !self.sites[i].recovery_fenced {
                tracing::info!(%site, "initiating old primary recovery");
                self.sites[i].recovery_fenced = true;
                actions.push(Action::Fence {
                    site,
                    why: "old primary recovery",
                });
                return;
            }
            if !self.sites[i].drain_done {
                let start = *self.sites[i].drain_start.get_or_insert(self.now);
                if self.now >= start + self.config.connection_drain_timeout {
                    tracing::warn!(%site, "application connection drain timed out");
                    self.sites[i].drain_done = true;
                } else {
                    actions.push(Action::KillSessions {
                        site,
                        purpose: KillPurpose::Recovery,
                    });
                    return;
                }
            }
            // The fence landed on an earlier poll: this poll's sets cannot grow any more on the old primary.
            self.sites[i].recovery_retry_after = self.now + self.config.recovery_retry;
            match divergence(&p.executed, &np.executed) {
                None => {
                    tracing::info!(%site, "no GTID divergence, auto-recovering old primary as replica");
                    self.set_marker(&site, Some(RecoveryMarker::InProgress));
                    actions.push(Action::Rejoin {
                        site,
                        source: self.config.sites[active].name.clone(),
                    });
                }
                Some(estimate) => {
                    tracing::debug!(%site, old = %p.executed, new = %np.executed, "divergence suspected; auditing");
                    actions.push(Action::AuditDivergence {
                        site,
                        new_primary: np.executed.clone(),
                        estimate,
                    });
                }
            }
            return;
        }
    }

    /// Reports the audited divergent transactions of a fenced old primary: the `RecoveryBlocked` marker, a
    /// `DataLossDetected` event and the history entry (once per distinct result), and the gauge.
    fn record_divergence(&mut self, site: String, d: Divergence) {
        let marker = RecoveryMarker::Blocked {
            divergent_gtid: d.text.clone(),
            count: d.count,
        };
        if self.record.recovery.get(&site) != Some(&marker) {
            tracing::warn!(%site, count = d.count, divergent_gtid = %d.text, "divergence detected");
            self.events.push(Event::new(
                EventReason::DataLossDetected,
                format!("Old primary {site} has {} divergent transactions", d.count),
            ));
            if let Some(h) = self
                .record
                .history
                .iter_mut()
                .rev()
                .find(|h| h.old_primary.as_deref() == Some(site.as_str()))
            {
                h.divergent_gtid = Some(d.text.clone());
                h.divergent_count = d.count;
            }
            self.set_marker(&site, Some(marker));
        }
    }

    /// §2.5: returns whether a marker was cleared (which ends recovery work for this poll).
    fn clear_markers(&mut self, active: usize) -> bool {
        let mut cleared = false;
        let names: Vec<String> = self.record.recovery.keys().cloned().collect();
        for site in names {
            let Some(i) = self.config.index(&site) else {
                self.set_marker(&site, None);
                continue;
            };
            let marker = self.record.recovery.get(&site).cloned();
            let m = &self.sites[i];
            let state = m.state;
            let clear = match m.state {
                SiteState::Writable => match marker {
                    Some(RecoveryMarker::Blocked { .. }) => {
                        i == active
                            && self.record.last_failover_target.as_deref() == Some(site.as_str())
                    }
                    _ => true,
                },
                SiteState::ReadOnly => m.replicating && m.convergence.0 == "Converged",
                _ => false,
            };
            if clear {
                tracing::info!(%site, "recovery state cleared (site is now replicating)");
                self.set_marker(&site, None);
                if state != SiteState::Writable {
                    self.events.push(Event::new(
                        EventReason::RecoveryComplete,
                        format!("{site} recovered as a replica"),
                    ));
                }
                let m = &mut self.sites[i];
                m.recovery_fenced = false;
                m.drain_done = false;
                m.drain_start = None;
                cleared = true;
            }
        }
        cleared
    }

    pub(crate) fn set_marker(&mut self, site: &str, marker: Option<RecoveryMarker>) {
        let changed = match marker {
            Some(m) => self.record.recovery.insert(site.to_owned(), m.clone()) != Some(m),
            None => self.record.recovery.remove(site).is_some(),
        };
        self.record_changed |= changed;
    }

    /// §2.6: validates the reclone annotation (the GTID-prefix interlock) and starts an accepted reclone.
    pub(crate) fn reclone(&mut self, active: usize, actions: &mut Vec<Action>) {
        if let Some(value) = self.reclone_request.clone()
            && self.record.reclone.is_none()
        {
            let recovery = &self.record.recovery;
            let checked = annotations::reclone(
                &value,
                self.config.sites.iter().map(|s| s.name.as_str()),
                &self.config.group,
                |site| match recovery.get(site) {
                    Some(RecoveryMarker::Blocked { divergent_gtid, .. }) => divergent_gtid.as_str(),
                    _ => "",
                },
            );
            match checked {
                Err(e) => {
                    tracing::warn!(error = %e, "reclone annotation rejected");
                    self.events
                        .push(Event::new(EventReason::RecloneRejected, e.to_string()));
                    self.reclone_request = None;
                }
                Ok(site) => {
                    self.events.push(Event::new(
                        EventReason::RecloneRequested,
                        format!("admin requested CLONE INSTANCE of site {site}"),
                    ));
                    self.record.reclone = Some(site);
                    self.record_changed = true;
                }
            }
        }
        let Some(site) = self.record.reclone.clone() else {
            return;
        };
        if self.gates.frozen || self.bootstrapping() {
            tracing::debug!(%site, "reclone deferred: bootstrapping or topology frozen");
            return;
        }
        let Some(i) = self.config.index(&site) else {
            self.record.reclone = None;
            return;
        };
        if i == active {
            tracing::error!(%site, "cannot reclone the active primary");
            self.events.push(Event::new(
                EventReason::RecloneRejected,
                format!("cannot reclone the active primary {site}"),
            ));
            self.record.reclone = None;
            self.reclone_request = None;
            self.record_changed = true;
            return;
        }
        self.metrics.push(Metric::Reclone { site: site.clone() });
        actions.push(Action::Reclone {
            site,
            donor: self.config.sites[active].name.clone(),
        });
    }

    pub(crate) fn recovery_outcome(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Killed { site, result, .. } => {
                let Some(i) = self.config.index(&site) else {
                    return;
                };
                match result {
                    Ok(0) => self.sites[i].drain_done = true,
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(%site, error = %e, "application connection drain failed");
                        self.sites[i].recovery_retry_after = self.now + self.config.recovery_retry;
                    }
                }
            }
            Outcome::Diverged { site, divergence } => self.record_divergence(site, divergence),
            Outcome::Rejoined { site, result } => match result {
                Ok(()) => tracing::info!(%site, "old primary recovery complete"),
                Err(e) => tracing::warn!(%site, error = %e, "old primary recovery failed"),
            },
            Outcome::Recloned { site, result } => {
                match &result {
                    Ok(()) => tracing::info!(%site, "reclone complete"),
                    Err(e) => tracing::error!(%site, error = %e, "reclone failed"),
                }
                self.record.reclone = None;
                self.record_changed = true;
                self.clone_result = Some(super::autoclone::CloneResult {
                    label: "Reclone",
                    site: site.clone(),
                    result: result.clone(),
                });
                if self
                    .reclone_request
                    .as_deref()
                    .and_then(|v| annotations::RecloneRequest::parse(v).ok())
                    .is_some_and(|r| r.site == site)
                {
                    self.reclone_request = None;
                }
                if let Some(i) = self.config.index(&site) {
                    let m = &mut self.sites[i];
                    m.recovery_fenced = false;
                    m.drain_done = false;
                    m.drain_start = None;
                    m.recovery_retry_after = self.now;
                }
                if result.is_ok()
                    && self
                        .config
                        .sites
                        .iter()
                        .any(|s| s.name == site && s.role != Role::ReadOnly)
                {
                    self.set_marker(&site, Some(RecoveryMarker::InProgress));
                }
            }
            _ => {}
        }
    }
}
