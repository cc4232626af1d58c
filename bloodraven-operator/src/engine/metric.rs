//! The metric samples the engine emits: typed counter increments and histogram observations.
//!
//! The engine never formats a metric name. It pushes a [`Metric`] value; the [`Decision`](crate::engine::Decision)
//! of the step carries them, and an exporter (for example [`crate::metrics::Exporter`]) maps each to the
//! reference's name ([`Metric::name`], from [`bloodraven_api::names::metric`]) and label pairs
//! ([`Metric::labels`]).

use std::fmt;
use std::time::Duration;

use bloodraven_api::names::metric as name;

use crate::engine::SiteState;

/// One counter increment or histogram observation.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Metric {
    /// `bloodraven_auto_clone_operations_total{site}`: an empty site is cloned from the active primary.
    AutoClone {
        /// The recipient.
        site: String,
    },
    /// `bloodraven_dns_flips_total{site}`: the DNS record now points at `site`.
    DnsFlip {
        /// The new target.
        site: String,
    },
    /// `bloodraven_failovers_total{target_site}`: an automatic (emergency) promotion completed.
    Failover {
        /// The promoted site.
        target_site: String,
    },
    /// `bloodraven_keyring_promotions_blocked_total{namespace,group,site,outcome}`: a promotion candidate mid keyring
    /// rotation was skipped for another, or every candidate is rotating and the promotion is refused (counted on
    /// every poll that refuses, as the reference does).
    KeyringPromotionBlocked {
        /// The rotating site.
        site: String,
        /// Skipped or refused.
        outcome: KeyringOutcome,
    },
    /// `bloodraven_planned_failover_duration_seconds{target_site}`: from acceptance to the terminal phase.
    PlannedDuration {
        /// The planned target.
        target_site: String,
        /// How long it took.
        duration: Duration,
    },
    /// `bloodraven_planned_failover_lag_wait_seconds{target_site}`: waiting for the target to hold the source's set.
    PlannedLagWait {
        /// The planned target.
        target_site: String,
        /// How long the wait took.
        duration: Duration,
    },
    /// `bloodraven_planned_failovers_total{target_site,result}`: a planned failover ended or was rejected.
    PlannedResult {
        /// The planned target (empty when the annotation named none that could be read).
        target_site: String,
        /// How it ended.
        result: PlannedResult,
    },
    /// `bloodraven_planned_failovers_deferred_total{group,reason}`: a planned failover was deferred (or deferred
    /// again) instead of starting.
    PlannedDeferred {
        /// Why (`CooldownActive`).
        reason: &'static str,
    },
    /// `bloodraven_primary_reassert_total{site}`: writability restored on a fenced promoted primary.
    PrimaryReassert {
        /// The site.
        site: String,
    },
    /// `bloodraven_reclone_operations_total{site}`: an admin-requested reclone starts.
    Reclone {
        /// The recipient.
        site: String,
    },
    /// `bloodraven_split_brain_auto_resolve_total{prefer_site}`: a losing site fenced by site priorities.
    SplitBrainAutoResolve {
        /// The winning site.
        prefer_site: String,
    },
    /// `bloodraven_state_transitions_total{site,from,to}`: a site's debounced state changed.
    StateTransition {
        /// The site.
        site: String,
        /// The state before.
        from: SiteState,
        /// The state now.
        to: SiteState,
    },
}

impl Metric {
    /// The reference's metric name (a counter's name carries `_total`).
    pub fn name(&self) -> &'static str {
        match self {
            Metric::AutoClone { .. } => name::AUTO_CLONE_OPERATIONS_TOTAL,
            Metric::DnsFlip { .. } => name::DNS_FLIPS_TOTAL,
            Metric::Failover { .. } => name::FAILOVERS_TOTAL,
            Metric::KeyringPromotionBlocked { .. } => name::KEYRING_PROMOTIONS_BLOCKED_TOTAL,
            Metric::PlannedDuration { .. } => name::PLANNED_FAILOVER_DURATION_SECONDS,
            Metric::PlannedLagWait { .. } => name::PLANNED_FAILOVER_LAG_WAIT_SECONDS,
            Metric::PlannedResult { .. } => name::PLANNED_FAILOVERS_TOTAL,
            Metric::PlannedDeferred { .. } => name::PLANNED_FAILOVERS_DEFERRED_TOTAL,
            Metric::PrimaryReassert { .. } => name::PRIMARY_REASSERT_TOTAL,
            Metric::Reclone { .. } => name::RECLONE_OPERATIONS_TOTAL,
            Metric::SplitBrainAutoResolve { .. } => name::SPLIT_BRAIN_AUTO_RESOLVE_TOTAL,
            Metric::StateTransition { .. } => name::STATE_TRANSITIONS_TOTAL,
        }
    }

    /// The label pairs in the reference's order, for a group `group` in `namespace` (only the metrics the reference
    /// labels with them use them).
    pub fn labels(&self, namespace: &str, group: &str) -> Vec<(&'static str, String)> {
        let one = |label: &'static str, value: &str| vec![(label, value.to_owned())];
        match self {
            Metric::AutoClone { site }
            | Metric::DnsFlip { site }
            | Metric::PrimaryReassert { site }
            | Metric::Reclone { site } => one("site", site),
            Metric::Failover { target_site }
            | Metric::PlannedDuration { target_site, .. }
            | Metric::PlannedLagWait { target_site, .. } => one("target_site", target_site),
            Metric::KeyringPromotionBlocked { site, outcome } => vec![
                ("namespace", namespace.to_owned()),
                ("group", group.to_owned()),
                ("site", site.clone()),
                ("outcome", outcome.to_string()),
            ],
            Metric::PlannedResult {
                target_site,
                result,
            } => vec![
                ("target_site", target_site.clone()),
                ("result", result.to_string()),
            ],
            Metric::PlannedDeferred { reason } => vec![
                ("group", group.to_owned()),
                ("reason", (*reason).to_owned()),
            ],
            Metric::SplitBrainAutoResolve { prefer_site } => one("prefer_site", prefer_site),
            Metric::StateTransition { site, from, to } => vec![
                ("site", site.clone()),
                ("from", from.to_string()),
                ("to", to.to_string()),
            ],
        }
    }

    /// The observed value of a histogram sample; `None` for a counter increment.
    pub fn observation(&self) -> Option<Duration> {
        match self {
            Metric::PlannedDuration { duration, .. } | Metric::PlannedLagWait { duration, .. } => {
                Some(*duration)
            }
            _ => None,
        }
    }
}

/// Why a rotating promotion candidate was not promoted.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum KeyringOutcome {
    /// Every candidate is rotating: the promotion is refused.
    Refused,
    /// Another candidate was promoted instead.
    Skipped,
}

impl fmt::Display for KeyringOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyringOutcome::Refused => "refused",
            KeyringOutcome::Skipped => "skipped",
        })
    }
}

/// How a planned failover ended, as `bloodraven_planned_failovers_total` labels it.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum PlannedResult {
    /// Failed for another reason (source crashed, invalid annotation, ...).
    FailedOther,
    /// Rolled back: the target did not catch up (or a phase timed out).
    FailedTimeout,
    /// Refused before it started.
    Rejected,
    /// The target was promoted.
    Success,
}

impl fmt::Display for PlannedResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PlannedResult::FailedOther => "failed_other",
            PlannedResult::FailedTimeout => "failed_timeout",
            PlannedResult::Rejected => "rejected",
            PlannedResult::Success => "success",
        })
    }
}
