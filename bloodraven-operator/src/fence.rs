//! The sidecar's self-fencing rules (reference-failover.md §4.3 and §4.4) as pure state and decisions.
//!
//! A sidecar runs beside every mysqld. It keeps a [`Lease`]: when it last reached the operator and each peer sidecar,
//! and the newest authoritative view of the active site it has seen (from the operator, or relayed by a peer). Every
//! `peerCheckInterval` it feeds in what it reached, then asks [`Lease::evaluate`] what to do with its own server:
//!
//! ```text
//!   read-only ────────────────────────────────────────────────▶ Hold (only a writable server fences)
//!   writable, fenced before ──────────────────────────────────▶ Rearmed (the operator restored it: fresh lease)
//!   writable, view names another site ───────────────────────▶ Fence(TopologyMismatch)   (ignores lease timing)
//!   writable, operator AND every peer silent > leaseTimeout ─▶ Fence(LeaseExpired)        (one peer is enough)
//!   otherwise ────────────────────────────────────────────────▶ Hold
//! ```
//!
//! The caller fences (`super_read_only = ON`, then evicts sessions) and reports success with [`Lease::fenced`]; a
//! failed fence is simply decided again on the next tick. On start, before the lease runs, the server is fenced first
//! and unfenced only when [`startup_unfence`] says so.
//!
//! The deterministic simulation (`sim`) drives these same functions for every simulated sidecar, and the
//! `bloodraven-sidecar` binary drives them against real servers, so what the simulation proves is what ships.
//!
//! # Where these rules deliberately differ from the Go sidecar
//!
//! * **An empty operator answer is kept as an observation** ("no active site, observed at T") instead of clearing
//!   the view. Cleared, the view could be re-filled on the next tick by a peer still relaying an older answer that
//!   names the old primary, which would fence a freshly promoted site; kept, only a strictly newer view replaces it.
//! * **The startup safety net never unfences a server with no data** (an empty data volume after a PVC loss): the
//!   operator's answer may be a poll old, and an empty server that takes writes would become the group's newest,
//!   emptiest primary. The operator's auto-clone or reclone brings it back instead.
//!
//! ```
//! use std::time::Duration;
//! use bloodraven_operator::fence::{ActiveView, FenceReason, Lease, Verdict};
//!
//! let s = Duration::from_secs;
//! let lease_timeout = s(20);
//! let mut lease = Lease::new(s(0), 1);
//! lease.operator_reachable(s(0), ActiveView::new(Some("iad"), s(0)));
//! assert_eq!(lease.evaluate(s(5), "iad", false, lease_timeout), Verdict::Hold);
//! // Operator and the one peer silent for longer than the lease: a writable iad fences itself.
//! assert_eq!(
//!     lease.evaluate(s(21), "iad", false, lease_timeout),
//!     Verdict::Fence(FenceReason::LeaseExpired)
//! );
//! lease.fenced();
//! assert_eq!(lease.evaluate(s(26), "iad", true, lease_timeout), Verdict::Hold);
//! ```

use std::fmt;
use std::time::Duration;

/// The authoritative view of the active site, as the operator's `/active-site` answers it (`None`: "no active
/// site") and when the operator observed it.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct ActiveView {
    /// The active site, or `None` when the operator says there is none.
    pub site: Option<String>,
    /// When the operator observed it (its clock: `observedAt`).
    pub observed_at: Duration,
}

impl ActiveView {
    /// A view naming `site` (or none), observed at `observed_at`.
    pub fn new(site: Option<&str>, observed_at: Duration) -> ActiveView {
        ActiveView {
            site: site.map(str::to_owned),
            observed_at,
        }
    }
}

/// What a sidecar knows of the operator and its peers, and whether it has fenced its server.
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct Lease {
    operator_ok: Duration,
    peer_ok: Vec<Duration>,
    view: Option<ActiveView>,
    fenced: bool,
}

impl Lease {
    /// A lease for a sidecar with `peers` peer sidecars, every timestamp seeded to `now`: nothing fences during the
    /// first full lease (startup grace).
    pub fn new(now: Duration, peers: usize) -> Lease {
        Lease {
            operator_ok: now,
            peer_ok: vec![now; peers],
            view: None,
            fenced: false,
        }
    }

    /// The operator answered at `now` with its view of the active site; the operator is authoritative, so its view
    /// replaces whatever was cached.
    pub fn operator_reachable(&mut self, now: Duration, view: ActiveView) {
        self.operator_ok = now;
        self.view = Some(view);
    }

    /// Peer `peer` (an index below the `peers` given to [`Lease::new`]) answered at `now`, relaying its own cached
    /// view if it has one; that view is adopted only when strictly newer than ours.
    pub fn peer_reachable(&mut self, peer: usize, now: Duration, view: Option<ActiveView>) {
        if let Some(ok) = self.peer_ok.get_mut(peer) {
            *ok = now;
        }
        if let Some(view) = view
            && self
                .view
                .as_ref()
                .is_none_or(|mine| view.observed_at > mine.observed_at)
        {
            self.view = Some(view);
        }
    }

    /// The cached view, what `/peer/active-site` serves to the peers.
    pub fn view(&self) -> Option<&ActiveView> {
        self.view.as_ref()
    }

    /// Whether this sidecar fenced its server and the server is still fenced as far as it knows.
    pub fn is_fenced(&self) -> bool {
        self.fenced
    }

    /// The fence decided by [`Lease::evaluate`] landed (`super_read_only = ON` succeeded, or the server was found
    /// read-only).
    pub fn fenced(&mut self) {
        self.fenced = true;
    }

    /// The rules of one tick at `now`, for the server of site `own_site` whose `@@read_only` is `read_only`.
    pub fn evaluate(
        &mut self,
        now: Duration,
        own_site: &str,
        read_only: bool,
        lease_timeout: Duration,
    ) -> Verdict {
        if read_only {
            return Verdict::Hold;
        }
        if self.fenced {
            // Writable again after a self-fence: only the operator (a promotion or re-assert) does that. Rearm
            // with a fresh lease window and no cached view.
            *self = Lease::new(now, self.peer_ok.len());
            return Verdict::Rearmed;
        }
        if let Some(active) = self.view.as_ref().and_then(|v| v.site.as_deref())
            && active != own_site
        {
            return Verdict::Fence(FenceReason::TopologyMismatch {
                active: active.to_owned(),
            });
        }
        let silent = |ok: Duration| now.saturating_sub(ok) > lease_timeout;
        if silent(self.operator_ok) && self.peer_ok.iter().all(|&ok| silent(ok)) {
            return Verdict::Fence(FenceReason::LeaseExpired);
        }
        Verdict::Hold
    }
}

/// What to do with the server this tick.
#[derive(Clone, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum Verdict {
    /// Fence it now (`super_read_only = ON`, then evict sessions), then call [`Lease::fenced`].
    Fence(FenceReason),
    /// Nothing to do.
    Hold,
    /// It was fenced by this sidecar and is writable again: the lease started over.
    Rearmed,
}

/// Why a sidecar fences its server.
#[derive(Clone, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum FenceReason {
    /// Neither the operator nor any peer answered for longer than the lease timeout.
    LeaseExpired,
    /// The authoritative view names another site as active.
    TopologyMismatch {
        /// The site the view names.
        active: String,
    },
}

impl fmt::Display for FenceReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FenceReason::LeaseExpired => {
                f.write_str("Bloodraven and every peer unreachable beyond lease timeout")
            }
            FenceReason::TopologyMismatch { active } => {
                write!(f, "topology mismatch: the active site is {active}")
            }
        }
    }
}

/// The startup safety net (§4.3): the server was fenced first; unfence it only when the operator's answer names this
/// site and the server holds data. `answer` is `None` when the operator could not be asked (error, timeout, non-200).
pub fn startup_unfence(answer: Option<&ActiveView>, own_site: &str, has_data: bool) -> bool {
    has_data && answer.and_then(|a| a.site.as_deref()) == Some(own_site)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEASE: Duration = Duration::from_secs(20);

    fn s(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    #[test]
    fn nothing_fences_during_the_startup_grace() {
        let mut lease = Lease::new(s(100), 2);
        assert_eq!(lease.evaluate(s(120), "iad", false, LEASE), Verdict::Hold);
        assert_eq!(
            lease.evaluate(s(121), "iad", false, LEASE),
            Verdict::Fence(FenceReason::LeaseExpired)
        );
    }

    #[test]
    fn one_reachable_peer_keeps_a_writable_site_writable() {
        let mut lease = Lease::new(s(0), 2);
        lease.peer_reachable(1, s(15), None);
        assert_eq!(lease.evaluate(s(30), "iad", false, LEASE), Verdict::Hold);
        assert_eq!(
            lease.evaluate(s(36), "iad", false, LEASE),
            Verdict::Fence(FenceReason::LeaseExpired)
        );
    }

    #[test]
    fn with_no_peers_the_operator_alone_holds_the_lease() {
        let mut lease = Lease::new(s(0), 0);
        lease.operator_reachable(s(10), ActiveView::new(Some("iad"), s(10)));
        assert_eq!(lease.evaluate(s(30), "iad", false, LEASE), Verdict::Hold);
        assert_eq!(
            lease.evaluate(s(31), "iad", false, LEASE),
            Verdict::Fence(FenceReason::LeaseExpired)
        );
    }

    #[test]
    fn a_view_naming_another_site_fences_at_once_and_read_only_servers_never_fence() {
        let mut lease = Lease::new(s(0), 1);
        lease.operator_reachable(s(1), ActiveView::new(Some("pdx"), s(1)));
        assert_eq!(lease.evaluate(s(1), "iad", true, LEASE), Verdict::Hold);
        assert_eq!(
            lease.evaluate(s(1), "iad", false, LEASE),
            Verdict::Fence(FenceReason::TopologyMismatch {
                active: "pdx".into()
            })
        );
    }

    #[test]
    fn peers_relay_only_newer_views_and_an_empty_operator_answer_is_an_observation() {
        let mut lease = Lease::new(s(0), 1);
        lease.operator_reachable(s(10), ActiveView::new(Some("iad"), s(10)));
        // A stale peer still names pdx: ignored.
        lease.peer_reachable(0, s(11), Some(ActiveView::new(Some("pdx"), s(5))));
        assert_eq!(lease.view(), Some(&ActiveView::new(Some("iad"), s(10))));
        // The operator says "no active site": kept, so the stale relay cannot fill the view again.
        lease.operator_reachable(s(12), ActiveView::new(None, s(12)));
        lease.peer_reachable(0, s(13), Some(ActiveView::new(Some("pdx"), s(5))));
        assert_eq!(lease.evaluate(s(13), "iad", false, LEASE), Verdict::Hold);
        // A newer relayed view is adopted.
        lease.peer_reachable(0, s(14), Some(ActiveView::new(Some("pdx"), s(13))));
        assert_eq!(lease.view(), Some(&ActiveView::new(Some("pdx"), s(13))));
    }

    #[test]
    fn a_fenced_server_made_writable_again_rearms_with_a_fresh_lease() {
        let mut lease = Lease::new(s(0), 1);
        assert_eq!(
            lease.evaluate(s(21), "iad", false, LEASE),
            Verdict::Fence(FenceReason::LeaseExpired)
        );
        lease.fenced();
        assert!(lease.is_fenced());
        assert_eq!(lease.evaluate(s(26), "iad", true, LEASE), Verdict::Hold);
        assert_eq!(lease.evaluate(s(31), "iad", false, LEASE), Verdict::Rearmed);
        assert!(!lease.is_fenced());
        assert_eq!(lease.view(), None);
        assert_eq!(lease.evaluate(s(50), "iad", false, LEASE), Verdict::Hold);
    }

    #[test]
    fn the_safety_net_unfences_only_the_named_site_with_data() {
        let iad = ActiveView::new(Some("iad"), s(1));
        assert!(startup_unfence(Some(&iad), "iad", true));
        assert!(!startup_unfence(Some(&iad), "iad", false));
        assert!(!startup_unfence(Some(&iad), "pdx", true));
        assert!(!startup_unfence(
            Some(&ActiveView::new(None, s(1))),
            "iad",
            true
        ));
        assert!(!startup_unfence(None, "iad", true));
    }
}
