//! Auto-clone of empty sites (§2.4): a site that came back without its data is rebuilt from the confirmed active
//! primary through the reclone execution path, and the `Bootstrapping` condition reports it.

use std::time::Duration;

use crate::engine::{Action, Engine, Metric, Role, SiteState};
use crate::site::{GtidState, Probe};

/// How long a site whose auto-clone failed waits before the next attempt (an unsupported CLONE would otherwise be
/// retried every poll).
pub const AUTO_CLONE_RETRY: Duration = Duration::from_secs(300);

/// The last clone the engine ran, for the `Bootstrapping` condition.
#[derive(Clone, Debug, Eq, PartialEq)]
pub(crate) struct CloneResult {
    /// "Auto-clone" or "Reclone".
    pub(crate) label: &'static str,
    pub(crate) site: String,
    pub(crate) result: Result<(), String>,
}

/// §2.4: a site is empty when it has no replication metadata (no replica channel) and an empty executed GTID state.
pub fn is_empty_site(probe: &Probe) -> bool {
    probe.replica.is_none() && probe.executed.is_empty()
}

/// §5.2 "skip-clone shortcut" (auto-clone and fresh deploy only, never an admin reclone): the recipient needs no
/// clone, only replication, when donor and recipient are both non-empty and the donor contains the recipient.
pub fn can_skip_clone(donor: &GtidState, recipient: &GtidState) -> bool {
    !donor.is_empty() && !recipient.is_empty() && donor.contains(recipient)
}

impl Engine {
    /// §2.4: pairs the confirmed active primary (donor) with the first empty site, scanning primary-candidates,
    /// then dr-only sites, then readers; never the active primary, never a site under recovery, never a non-empty
    /// site, only while every core site is reachable and nothing else clones or suppresses bootstraps.
    pub(crate) fn auto_clone(&mut self, active: usize, actions: &mut Vec<Action>) {
        if self.gates.frozen
            || self.gates.bootstrap_suppressed
            || self.bootstrapping()
            || self.record.reclone.is_some()
            || self.reclone_request.is_some()
            || self.pending.is_some()
        {
            return;
        }
        let core_reachable = (0..self.sites.len())
            .filter(|&i| self.config.sites[i].role != Role::ReadOnly)
            .all(|i| {
                self.sites[i].probe.is_some() && self.sites[i].state != SiteState::Unreachable
            });
        if !core_reachable {
            return;
        }
        let order = [Role::PrimaryCandidate, Role::DrOnly, Role::ReadOnly];
        let recipient = order.iter().find_map(|role| {
            (0..self.sites.len()).find(|&i| {
                let m = &self.sites[i];
                i != active
                    && self.config.sites[i].role == *role
                    && m.state == SiteState::ReadOnly
                    && self.now >= m.auto_clone_after
                    && !self
                        .record
                        .recovery
                        .contains_key(&self.config.sites[i].name)
                    && m.probe.as_ref().is_some_and(is_empty_site)
            })
        });
        let Some(i) = recipient else {
            return;
        };
        let site = self.config.sites[i].name.clone();
        let donor = self.config.sites[active].name.clone();
        tracing::info!(%site, %donor, "auto-cloning empty site from the active primary");
        self.auto_clone = Some(i);
        self.metrics.push(Metric::AutoClone { site: site.clone() });
        actions.push(Action::AutoClone { site, donor });
    }

    /// The outcome of an auto-clone: on failure (MariaDB has no CLONE, the donor went away, the recipient was no
    /// longer empty) the site waits [`AUTO_CLONE_RETRY`] and `Bootstrapping` reports `Failed` with the error.
    pub(crate) fn auto_clone_outcome(&mut self, i: usize, result: Result<(), String>) {
        let site = self.config.sites[i].name.clone();
        self.auto_clone = None;
        let m = &mut self.sites[i];
        match &result {
            Ok(()) => {
                tracing::info!(%site, "auto-clone complete");
                m.recovery_retry_after = self.now;
            }
            Err(e) => {
                tracing::error!(%site, error = %e, "auto-clone failed");
                m.auto_clone_after = self.now + AUTO_CLONE_RETRY;
            }
        }
        self.clone_result = Some(CloneResult {
            label: "Auto-clone",
            site,
            result,
        });
    }
}
