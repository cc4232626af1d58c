//! Guards that other controllers hold over the topology (in-place restore, ordered update, bootstrap, keyring
//! rotation), observed once per poll, and the suppression rules they drive (§1.7, §1.11, §1.12, §2.1, §2.6, §3.2).

use std::collections::BTreeSet;

use crate::engine::{Engine, Event, EventReason, KeyringOutcome, Metric, Role};

/// What other controllers are doing to the group, read by the platform once per poll and handed to the engine with
/// [`Engine::set_gates`] before [`Engine::step`].
///
/// The engine never produces these itself: the in-place restore, the ordered update, the restore-from-backup
/// bootstrap and the keyring rotation are run by other controllers, which publish them on the group object.
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct Gates {
    /// A bootstrap or clone run by another controller (fresh deploy, restore) into this site. Into a primary-candidate
    /// or dr-only site it suspends automatic cross-site action; into a reader it does not (§1.7, issue #128).
    pub bootstrap: Option<String>,
    /// Automatic bootstrap is suppressed (an `initFromBackup` restore is running): no auto-clone, and source
    /// convergence waits (§1.12, §2.4).
    pub bootstrap_suppressed: bool,
    /// An in-place restore is running (Preflight, Fencing, Restoring or Resuming): the topology is frozen.
    pub frozen: bool,
    /// An ordered (rolling) update is running (`status.updatePhase` is not empty).
    pub ordered_update: bool,
    /// Sites whose keyring is mid rotation (`unsealReason = Rotation`): never promoted, re-asserted or chosen as a
    /// planned-failover target.
    pub rotating: BTreeSet<String>,
}

impl Engine {
    /// Sets the guards observed this poll (they stay until set again).
    pub fn set_gates(&mut self, gates: Gates) {
        self.gates = gates;
    }

    /// The guards the engine currently obeys.
    pub fn gates(&self) -> &Gates {
        &self.gates
    }

    /// Whether a site is mid keyring rotation.
    pub(crate) fn rotating(&self, i: usize) -> bool {
        self.gates.rotating.contains(&self.config.sites[i].name)
    }

    /// Whether a bootstrap or clone is in flight into a primary-candidate or dr-only site: another controller's,
    /// an accepted reclone or an auto-clone (a clone into a reader does not count).
    pub(crate) fn core_clone_in_flight(&self, gates: &Gates) -> bool {
        let core = |name: &str| {
            self.config
                .sites
                .iter()
                .any(|s| s.name == name && s.role != Role::ReadOnly)
        };
        gates.bootstrap.as_deref().is_some_and(core)
            || self.record.reclone.as_deref().is_some_and(core)
            || self
                .auto_clone
                .is_some_and(|i| self.config.sites[i].role != Role::ReadOnly)
    }

    /// Whether any bootstrap or clone is running (old-primary recovery and reclone wait for it, §2.1, §2.6).
    pub(crate) fn bootstrapping(&self) -> bool {
        self.gates.bootstrap.is_some() || self.auto_clone.is_some()
    }

    /// §1.7: why automatic cross-site mutations (promotion, split-brain fencing, re-assert) are suppressed under
    /// `gates`, if they are.
    pub(crate) fn cross_site_suppression(
        &self,
        gates: &Gates,
        planned_in_flight: bool,
    ) -> Option<&'static str> {
        if gates.frozen {
            Some("topology frozen by an in-place restore")
        } else if planned_in_flight {
            Some("planned failover in flight")
        } else if self.core_clone_in_flight(gates) {
            Some("bootstrap or clone into a promotable or dr-only site in flight")
        } else if gates.ordered_update {
            Some("ordered update running")
        } else {
            None
        }
    }

    /// §1.12: source convergence only reports `Pending/SourceMismatch` while any of these hold.
    pub(crate) fn convergence_suppressed(&self, planned_in_flight: bool) -> bool {
        planned_in_flight
            || self.pending.is_some()
            || self.gates.frozen
            || self.gates.ordered_update
            || self.gates.bootstrap_suppressed
            || self.bootstrapping()
            || self.record.reclone.is_some()
    }

    /// §1.7 step 5 / §1.5 rule 7: every read-only candidate is mid keyring rotation — refuse. The counter counts
    /// every refusing poll per site, as the reference's does; the warning log and the `KeyringPromotionRefused` event
    /// come once per change of the refused set.
    pub(crate) fn refuse_rotating(&mut self, refused: BTreeSet<String>) {
        for site in &refused {
            self.metrics.push(Metric::KeyringPromotionBlocked {
                site: site.clone(),
                outcome: KeyringOutcome::Refused,
            });
        }
        if refused == self.keyring_refused {
            return;
        }
        if !refused.is_empty() {
            let names: Vec<&str> = refused.iter().map(String::as_str).collect();
            tracing::warn!(sites = ?names, "refusing to promote: every candidate is mid keyring rotation");
            self.events.push(Event::new(
                EventReason::KeyringPromotionRefused,
                format!(
                    "refusing to promote {} (UnsealReason=Rotation); wait for the keyring rotation",
                    names.join(", ")
                ),
            ));
        }
        self.keyring_refused = refused;
    }

    /// §1.7 step 6: a promotion goes ahead while other candidates are mid keyring rotation — they are skipped
    /// (info log, `KeyringPromotionSkipped` event, counter per site).
    pub(crate) fn skip_rotating(&mut self, skipped: &[String], target: &str) {
        for site in skipped {
            tracing::info!(%site, %target, "promotion candidate skipped: mid keyring rotation");
            self.metrics.push(Metric::KeyringPromotionBlocked {
                site: site.clone(),
                outcome: KeyringOutcome::Skipped,
            });
            self.events.push(Event::new(
                EventReason::KeyringPromotionSkipped,
                format!("skipped {site} (UnsealReason=Rotation); promoting {target}"),
            ));
        }
    }
}
