//! The actions the engine decides, the outcomes the runner feeds back and the decision of one poll.

use std::time::Duration;

use crate::engine::{Divergence, Event, Metric, Status};
use crate::site::GtidState;

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
    /// Auto-clone of an empty site (§2.4): the reclone execution path, except that the runner re-checks that the
    /// recipient is still empty and takes the skip-clone shortcut ([`can_skip_clone`](crate::engine::can_skip_clone))
    /// when it is not. Comes back as [`Outcome::Recloned`].
    AutoClone {
        /// The empty recipient.
        site: String,
        /// The donor (the confirmed active primary).
        donor: String,
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
    /// Apply or remove the read-only taint on the nodes of a site.
    Taint {
        /// The site.
        site: String,
        /// Apply or remove.
        taint: Taint,
    },
    /// Rollback of a planned failover: make the source writable again.
    Unfence {
        /// The source site.
        site: String,
    },
}

/// What to do with a site's read-only node taint (`shipstream.io/db-readonly-<site>`).
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum Taint {
    /// Put it on (the site is no longer writable).
    Apply,
    /// Take it off (the site is writable).
    Remove,
}

impl std::fmt::Display for Taint {
    /// `apply` or `remove`, as the reference's `bloodraven_taint_operations_total` labels them.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Taint::Apply => "apply",
            Taint::Remove => "remove",
        })
    }
}

/// The result of an action whose outcome the engine needs, fed into the next [`Engine::step`](crate::engine::Engine::step).
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
    /// Metric samples to export: counter increments and histogram observations since the previous decision.
    pub metrics: Vec<Metric>,
    /// The status snapshot to write.
    pub status: Status,
    /// Whether the durable record changed and must be flushed before the actions run.
    pub record_changed: bool,
    /// When to poll next.
    pub next_poll: Duration,
}
