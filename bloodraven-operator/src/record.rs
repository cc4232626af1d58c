//! The durable failover record: the cooldown stamp, the failover history and the markers that must survive an
//! operator restart (recovery markers, the planned failover in flight, the accepted reclone).
//!
//! Times are [`Duration`]s since the Unix epoch (the engine never reads a clock; callers pass `now`).

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};

/// Annotation holding the last failover time (RFC 3339; written in UTC with second precision, read with fractions
/// and offsets as the Go operator writes them).
pub const LAST_FAILOVER_ANNOTATION: &str = "bloodraven.shipstream.io/last-failover";
/// Annotation holding the last failover target site.
pub const LAST_FAILOVER_TARGET_ANNOTATION: &str = "bloodraven.shipstream.io/last-failover-target";
/// Durable stamps further than this in the future are discarded on rehydration (clock-skew guard).
pub const MAX_FUTURE_SKEW: Duration = Duration::from_secs(300);
/// How many promotions the history keeps.
pub const HISTORY_LEN: usize = 32;

/// What started a promotion.
#[cfg_attr(feature = "serde", derive(serde::Deserialize, serde::Serialize))]
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
#[non_exhaustive]
pub enum Trigger {
    /// The primary was lost (automatic failover).
    Emergency,
    /// An admin asked for a switchover.
    Planned,
    /// A fenced promoted primary was made writable again (§1.11).
    Reassert,
    /// Another controller handed the primary over (an ordered update), recorded on the group object.
    Handoff,
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Trigger::Emergency => "emergency",
            Trigger::Planned => "planned",
            Trigger::Reassert => "reassert",
            Trigger::Handoff => "handoff",
        })
    }
}

/// One candidate considered for a promotion, with its GTID state at decision time.
#[cfg_attr(feature = "serde", derive(serde::Deserialize, serde::Serialize))]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Candidate {
    /// The site name.
    pub site: String,
    /// Its executed GTID state (text).
    pub gtid: String,
}

/// One promotion, planned or not.
#[cfg_attr(feature = "serde", derive(serde::Deserialize, serde::Serialize))]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct FailoverRecord {
    /// When the promotion was confirmed.
    pub at: Duration,
    /// Why it happened.
    pub trigger: Trigger,
    /// The promoted site.
    pub target: String,
    /// The site that was primary before (fenced best-effort), if known.
    pub old_primary: Option<String>,
    /// Candidates with their GTID states, in rank order.
    pub candidates: Vec<Candidate>,
    /// The rule that chose the winner.
    pub rule: String,
    /// `gtid_executed` of the target after `RESET REPLICA ALL`, before any write.
    pub promotion_gtid: String,
    /// Time without a writable primary: last writable observation (emergency) or the fence (planned) until the
    /// target was confirmed writable.
    pub write_unavailability: Option<Duration>,
    /// Transactions of the old primary that the new one does not have, once old-primary recovery computed it.
    pub divergent_gtid: Option<String>,
    /// Number of divergent transactions.
    pub divergent_count: u64,
}

/// The per-site recovery marker.
#[cfg_attr(feature = "serde", derive(serde::Deserialize, serde::Serialize))]
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum RecoveryMarker {
    /// The old primary diverged: it stays fenced until a human reclones it.
    Blocked {
        /// `O − N` in canonical text.
        divergent_gtid: String,
        /// `|O − N|`.
        count: u64,
    },
    /// The old primary is being rejoined as a replica.
    InProgress,
}

/// Phase of a planned failover.
#[cfg_attr(feature = "serde", derive(serde::Deserialize, serde::Serialize))]
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
#[non_exhaustive]
pub enum PlannedPhase {
    /// Waiting for the cooldown to end (not in flight: emergency failover stays possible).
    Deferred,
    /// Source fenced; application sessions being killed.
    Draining,
    /// Terminal failure (`reason` says why).
    Failed,
    /// Accepted, not started.
    Pending,
    /// Promotion running.
    Promoting,
    /// Promotion done; recording.
    Resuming,
    /// Terminal success.
    Succeeded,
    /// Waiting until the target contains the source's GTID set at fence.
    WaitingForLag,
}

impl PlannedPhase {
    /// Whether the phase holds the guard that suspends automatic cross-site action.
    pub fn in_flight(self) -> bool {
        matches!(
            self,
            PlannedPhase::Pending
                | PlannedPhase::Draining
                | PlannedPhase::WaitingForLag
                | PlannedPhase::Promoting
                | PlannedPhase::Resuming
        )
    }
}

impl fmt::Display for PlannedPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// `status.plannedFailover`.
#[cfg_attr(feature = "serde", derive(serde::Deserialize, serde::Serialize))]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct PlannedStatus {
    /// Current phase.
    pub phase: PlannedPhase,
    /// Site to promote.
    pub target: String,
    /// Primary at acceptance.
    pub source: String,
    /// Source `gtid_executed` right after the fence.
    pub source_gtid_at_fence: Option<String>,
    /// Target `gtid_executed` at promotion.
    pub target_gtid_at_promotion: Option<String>,
    /// Acceptance time.
    pub start: Duration,
    /// When the drain started (the fence landed).
    pub drain_start: Option<Duration>,
    /// When the lag wait started.
    pub lag_wait_start: Option<Duration>,
    /// Terminal time.
    pub completion: Option<Duration>,
    /// Effective maximum lag wait.
    pub max_lag_wait: Duration,
    /// Effective drain timeout.
    pub drain_timeout: Duration,
    /// Failure reason (`LagTimeout`, `SourceCrashed`, ...).
    pub reason: String,
    /// Human message.
    pub message: String,
    /// Transactions of the fenced source missing on the target at promotion (0 by construction).
    pub transactions_lost: u64,
    /// Deferred until.
    pub retry_after: Option<Duration>,
}

/// Everything the engine persists.
#[cfg_attr(feature = "serde", derive(serde::Deserialize, serde::Serialize))]
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct Record {
    /// Last promotion time (the cooldown stamp).
    pub last_failover: Option<Duration>,
    /// Last promoted site.
    pub last_failover_target: Option<String>,
    /// `gtid_executed` of the last promoted site at promotion.
    pub promotion_gtid: Option<String>,
    /// Recent promotions, oldest first.
    pub history: Vec<FailoverRecord>,
    /// Recovery markers per site.
    pub recovery: BTreeMap<String, RecoveryMarker>,
    /// The planned failover, if any ran.
    pub planned: Option<PlannedStatus>,
    /// An accepted reclone request not yet executed (site name).
    pub reclone: Option<String>,
    /// The authority epoch: bumped by every recorded promotion, whoever recorded it (this operator, an ordered
    /// update handoff, another operator instance). A poll whose probes were overtaken by a bump is discarded.
    pub epoch: u64,
}

impl Record {
    /// Stamps a promotion (monotonic: an older stamp never overwrites a newer one) and appends it to the history.
    pub fn record_failover(&mut self, rec: FailoverRecord) {
        self.epoch += 1;
        if self.last_failover.is_none_or(|t| rec.at >= t) {
            self.last_failover = Some(rec.at);
            self.last_failover_target = Some(rec.target.clone());
            self.promotion_gtid = Some(rec.promotion_gtid.clone());
        }
        self.history.push(rec);
        if self.history.len() > HISTORY_LEN {
            self.history.remove(0);
        }
    }

    /// Adopts the promotions another writer persisted (`other`, read back from the platform) into this record.
    ///
    /// `base` is the epoch this process last saw persisted. The promotion fields follow the later stamp (as in
    /// [`Record::record_failover`]), unseen history entries are merged in time order, and the epoch becomes the
    /// larger one — one more when both sides bumped it independently since `base`, so the next save is distinct
    /// from both. Everything this process owns (recovery markers, the planned failover, the reclone) is kept.
    pub fn merge_external(&mut self, other: &Record, base: u64) {
        for h in &other.history {
            if !self.history.contains(h) {
                self.history.push(h.clone());
            }
        }
        self.history.sort_by_key(|h| h.at);
        let excess = self.history.len().saturating_sub(HISTORY_LEN);
        self.history.drain(..excess);
        if let Some(t) = other.last_failover
            && self.last_failover.is_none_or(|mine| t >= mine)
        {
            self.last_failover = Some(t);
            self.last_failover_target
                .clone_from(&other.last_failover_target);
            self.promotion_gtid.clone_from(&other.promotion_gtid);
        }
        let both = self.epoch > base && other.epoch > base;
        self.epoch = self.epoch.max(other.epoch) + u64::from(both);
    }

    /// Whether `now` is inside the cooldown of the last failover.
    pub fn in_cooldown(&self, now: Duration, cooldown: Duration) -> bool {
        self.last_failover.is_some_and(|t| now < t + cooldown)
    }

    /// The out-of-band annotation copy of the cooldown stamp (`last-failover`, `last-failover-target`).
    pub fn stamp(&self) -> Option<FailoverStamp> {
        Some(FailoverStamp {
            at: format_rfc3339(self.last_failover?),
            target: self.last_failover_target.clone()?,
        })
    }

    /// Rehydrates on start: the status copy, merged with the annotation copy (the later stamp wins, tie → status,
    /// a corrupt annotation is ignored, stamps more than [`MAX_FUTURE_SKEW`] ahead of `now` are discarded).
    pub fn rehydrate(
        status: Option<Record>,
        stamp: Option<&FailoverStamp>,
        now: Duration,
    ) -> Record {
        let mut rec = status.unwrap_or_default();
        if rec.last_failover.is_some_and(|t| t > now + MAX_FUTURE_SKEW) {
            rec.last_failover = None;
        }
        if let Some(FailoverStamp { at, target }) = stamp {
            match parse_rfc3339(at) {
                Some(t)
                    if t <= now + MAX_FUTURE_SKEW && rec.last_failover.is_none_or(|s| t > s) =>
                {
                    rec.last_failover = Some(t);
                    rec.last_failover_target = Some(target.clone());
                }
                Some(_) => {}
                None => tracing::error!(
                    value = at,
                    "corrupt {LAST_FAILOVER_ANNOTATION} annotation; using status"
                ),
            }
        }
        rec
    }
}

/// The cooldown stamp as the group's annotations carry it beside the status, so that a status wiped or pruned by
/// another writer still leaves the cooldown in force.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct FailoverStamp {
    /// `bloodraven.shipstream.io/last-failover`: RFC 3339.
    pub at: String,
    /// `bloodraven.shipstream.io/last-failover-target`: the promoted site.
    pub target: String,
}

/// Formats a time since the epoch as `YYYY-MM-DDTHH:MM:SSZ` (second precision, as the Go operator writes it).
pub fn format_rfc3339(t: Duration) -> String {
    let secs = i64::try_from(t.as_secs()).unwrap_or(i64::MAX);
    DateTime::from_timestamp(secs, 0)
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Parses an RFC 3339 time as Go's `time.RFC3339` reads it: fractional seconds and any UTC offset are accepted
/// (`2027-01-15T08:00:00Z`, `2027-01-15T08:00:00.25+02:00`). `None` for anything else or a time before 1970.
pub fn parse_rfc3339(text: &str) -> Option<Duration> {
    // chrono also takes a space between date and time; Go does not.
    if text.as_bytes().get(10) != Some(&b'T') {
        return None;
    }
    let t = DateTime::parse_from_rfc3339(text).ok()?;
    let secs = u64::try_from(t.timestamp()).ok()?;
    Some(Duration::new(secs, t.timestamp_subsec_nanos()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(at: &str, target: &str) -> FailoverStamp {
        FailoverStamp {
            at: at.to_owned(),
            target: target.to_owned(),
        }
    }

    fn rec(at: u64, target: &str) -> FailoverRecord {
        FailoverRecord {
            at: Duration::from_secs(at),
            trigger: Trigger::Emergency,
            target: target.into(),
            old_primary: None,
            candidates: vec![],
            rule: "only candidate".into(),
            promotion_gtid: String::new(),
            write_unavailability: None,
            divergent_gtid: None,
            divergent_count: 0,
        }
    }

    #[test]
    fn rfc3339_round_trips() {
        let t = Duration::from_secs(1_795_000_123);
        let s = format_rfc3339(t);
        assert_eq!(s, "2026-11-18T11:08:43Z");
        assert_eq!(parse_rfc3339(&s), Some(t));
        assert_eq!(format_rfc3339(Duration::ZERO), "1970-01-01T00:00:00Z");
        assert_eq!(
            parse_rfc3339("2024-02-29T23:59:59Z"),
            Some(Duration::from_secs(1_709_251_199))
        );
        assert_eq!(parse_rfc3339("2024-02-29 23:59:59Z"), None);
    }

    #[test]
    fn stamps_are_monotonic_and_history_is_bounded() {
        let mut r = Record::default();
        r.record_failover(rec(100, "pdx"));
        r.record_failover(rec(50, "iad"));
        assert_eq!(r.last_failover, Some(Duration::from_secs(100)));
        assert_eq!(r.last_failover_target.as_deref(), Some("pdx"));
        for i in 0..40 {
            r.record_failover(rec(200 + i, "iad"));
        }
        assert_eq!(r.history.len(), HISTORY_LEN);
        assert!(r.in_cooldown(Duration::from_secs(300), Duration::from_secs(300)));
        assert!(!r.in_cooldown(Duration::from_secs(539), Duration::from_secs(300)));
    }

    #[test]
    fn every_recorded_promotion_bumps_the_epoch() {
        let mut r = Record::default();
        r.record_failover(rec(100, "pdx"));
        r.record_failover(rec(50, "iad"));
        assert_eq!(r.epoch, 2);
    }

    #[test]
    fn external_promotions_merge_and_independent_bumps_stay_distinct() {
        let mut persisted = Record::default();
        persisted.record_failover(rec(100, "pdx"));
        let base = persisted.epoch;
        let mut mine = persisted.clone();
        mine.reclone = Some("fra".into());
        // An ordered-update handoff promoted iad and persisted it.
        let mut theirs = persisted.clone();
        theirs.record_failover(rec(200, "iad"));
        let mut adopted = mine.clone();
        adopted.merge_external(&theirs, base);
        assert_eq!(adopted.last_failover_target.as_deref(), Some("iad"));
        assert_eq!(adopted.history.len(), 2);
        assert_eq!(adopted.epoch, theirs.epoch);
        assert_eq!(adopted.reclone.as_deref(), Some("fra"));
        // Both sides promoted since `base` (our save failed): the merged epoch differs from both.
        mine.record_failover(rec(150, "fra"));
        mine.merge_external(&theirs, base);
        assert_eq!(mine.history.len(), 3);
        assert_eq!(mine.last_failover_target.as_deref(), Some("iad"));
        assert!(mine.epoch > theirs.epoch);
    }

    #[test]
    fn rfc3339_stamps_with_fractions_and_offsets_parse_as_the_go_operator_writes_them() {
        let base = Duration::from_secs(1_800_000_000);
        assert_eq!(format_rfc3339(base), "2027-01-15T08:00:00Z");
        assert_eq!(
            parse_rfc3339("2027-01-15T08:00:00.250Z"),
            Some(base + Duration::from_millis(250))
        );
        assert_eq!(
            parse_rfc3339("2027-01-15T08:00:00.123456789Z"),
            Some(base + Duration::from_nanos(123_456_789))
        );
        assert_eq!(parse_rfc3339("2027-01-15T10:00:00+02:00"), Some(base));
        assert_eq!(
            parse_rfc3339("2027-01-15T03:30:00.5-04:30"),
            Some(base + Duration::from_millis(500))
        );
        assert_eq!(parse_rfc3339("1969-12-31T23:59:59Z"), None);
        // A fractional stamp in the annotation is a real stamp, not a corrupt one.
        let mut status = Record::default();
        status.record_failover(rec(1_799_999_000, "pdx"));
        let r = Record::rehydrate(
            Some(status),
            Some(&stamp("2027-01-15T07:58:20.75+00:00", "iad")),
            base,
        );
        assert_eq!(r.last_failover_target.as_deref(), Some("iad"));
        assert_eq!(
            r.last_failover,
            Some(Duration::from_secs(1_799_999_900) + Duration::from_millis(750))
        );
    }

    #[test]
    fn rehydration_takes_the_later_copy_and_guards_skew() {
        let now = Duration::from_secs(1_800_000_000);
        let mut status = Record::default();
        status.record_failover(rec(1_799_999_000, "pdx"));
        let later = format_rfc3339(Duration::from_secs(1_799_999_500));
        let r = Record::rehydrate(Some(status.clone()), Some(&stamp(&later, "iad")), now);
        assert_eq!(r.last_failover_target.as_deref(), Some("iad"));
        let tie = format_rfc3339(Duration::from_secs(1_799_999_000));
        let r = Record::rehydrate(Some(status.clone()), Some(&stamp(&tie, "iad")), now);
        assert_eq!(r.last_failover_target.as_deref(), Some("pdx"));
        let r = Record::rehydrate(Some(status.clone()), Some(&stamp("garbage", "iad")), now);
        assert_eq!(r.last_failover_target.as_deref(), Some("pdx"));
        let future = format_rfc3339(now + Duration::from_secs(3600));
        let r = Record::rehydrate(None, Some(&stamp(&future, "iad")), now);
        assert_eq!(r.last_failover, None);
    }
}
