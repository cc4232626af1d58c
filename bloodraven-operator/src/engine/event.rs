//! The Kubernetes events the engine emits: a typed reason (its text from [`bloodraven_api::names::event`]) and a
//! message.

use std::fmt;

use bloodraven_api::names::event as name;

/// Severity of an event.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum EventType {
    /// Informational.
    Normal,
    /// Needs attention.
    Warning,
}

/// A Kubernetes-style event.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Event {
    /// The reason.
    pub reason: EventReason,
    /// The message.
    pub message: String,
}

impl Event {
    pub(crate) fn new(reason: EventReason, message: String) -> Event {
        Event { reason, message }
    }

    /// Normal or Warning, as the reference emits this reason.
    pub fn kind(&self) -> EventType {
        self.reason.kind()
    }
}

macro_rules! reasons {
    ($($(#[$doc:meta])* $variant:ident = $name:ident,)*) => {
        /// Every event reason the engine emits.
        #[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
        #[non_exhaustive]
        pub enum EventReason {
            $($(#[$doc])* $variant,)*
        }

        impl EventReason {
            /// Every reason, in declaration order.
            pub const ALL: &[EventReason] = &[$(EventReason::$variant,)*];

            /// The reason's text (`FailoverExecuted`, ...).
            pub fn as_str(self) -> &'static str {
                match self {
                    $(EventReason::$variant => name::$name,)*
                }
            }
        }
    };
}

reasons! {
    /// A promotion discarded transactions of the old primary.
    DataLossDetected = DATA_LOSS_DETECTED,
    /// A promotion completed.
    FailoverExecuted = FAILOVER_EXECUTED,
    /// Every candidate is mid keyring rotation: no promotion.
    KeyringPromotionRefused = KEYRING_PROMOTION_REFUSED,
    /// A candidate mid keyring rotation was passed over.
    KeyringPromotionSkipped = KEYRING_PROMOTION_SKIPPED,
    /// No site is writable.
    NoPrimaryDetected = NO_PRIMARY_DETECTED,
    /// A planned failover promoted its target.
    PlannedFailoverCompleted = PLANNED_FAILOVER_COMPLETED,
    /// A planned failover waits for the cooldown.
    PlannedFailoverDeferred = PLANNED_FAILOVER_DEFERRED,
    /// A planned failover fenced its source and drains sessions.
    PlannedFailoverDraining = PLANNED_FAILOVER_DRAINING,
    /// A planned failover failed (and was rolled back where it had fenced).
    PlannedFailoverFailed = PLANNED_FAILOVER_FAILED,
    /// The planned target holds every transaction of the fenced source.
    PlannedFailoverLagOk = PLANNED_FAILOVER_LAG_OK,
    /// A planned-failover annotation was refused.
    PlannedFailoverRejected = PLANNED_FAILOVER_REJECTED,
    /// The planned target is already the active site.
    PlannedFailoverSkipped = PLANNED_FAILOVER_SKIPPED,
    /// A planned failover was accepted.
    PlannedFailoverStarted = PLANNED_FAILOVER_STARTED,
    /// A reclone annotation was refused.
    RecloneRejected = RECLONE_REJECTED,
    /// A reclone was accepted.
    RecloneRequested = RECLONE_REQUESTED,
    /// An old primary rejoined as a replica.
    RecoveryComplete = RECOVERY_COMPLETE,
    /// The topology is healthy again.
    SiteRecovered = SITE_RECOVERED,
    /// More than one site is writable.
    SplitBrainDetected = SPLIT_BRAIN_DETECTED,
    /// Every site is unreachable.
    TotalLossDetected = TOTAL_LOSS_DETECTED,
}

impl EventReason {
    /// Normal or Warning, as [`bloodraven_api::names::event::WARNINGS`] lists it.
    pub fn kind(self) -> EventType {
        if name::WARNINGS.contains(&self.as_str()) {
            EventType::Warning
        } else {
            EventType::Normal
        }
    }
}

impl fmt::Display for EventReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for EventReason {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_the_engine_emits_is_a_named_event() {
        for reason in EventReason::ALL {
            assert!(
                name::ALL.contains(&reason.as_str()),
                "{reason} is not in names::event::ALL"
            );
        }
    }

    #[test]
    fn severities_follow_the_reference() {
        use EventReason::*;
        for warning in [
            DataLossDetected,
            KeyringPromotionRefused,
            KeyringPromotionSkipped,
            NoPrimaryDetected,
            PlannedFailoverFailed,
            PlannedFailoverRejected,
            RecloneRejected,
            SplitBrainDetected,
            TotalLossDetected,
        ] {
            assert_eq!(warning.kind(), EventType::Warning, "{warning}");
        }
        for normal in [FailoverExecuted, PlannedFailoverStarted, RecoveryComplete] {
            assert_eq!(normal.kind(), EventType::Normal, "{normal}");
        }
    }
}
