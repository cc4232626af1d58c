//! The planned-failover state machine (§3): one phase transition per step, resumable from the durable record.

use std::time::Duration;

use crate::annotations;
use crate::engine::{
    Action, Engine, EventReason, KillPurpose, Metric, Outcome, PlannedResult, Role, SiteState,
};
use crate::record::{Candidate, FailoverRecord, PlannedPhase, PlannedStatus, Trigger};
use crate::site::GtidState;

use super::Event;

/// Validation verdict (§3.2).
enum Verdict {
    Accept,
    Reject(&'static str, String),
    Skip,
}

impl Engine {
    fn validate_planned(&self, target: &str, own_run: bool) -> Verdict {
        if target.is_empty() {
            return Verdict::Reject("InvalidAnnotation", "empty target site".into());
        }
        let Some(t) = self.config.index(target) else {
            return Verdict::Reject("UnknownSite", format!("site {target} is not in spec.sites"));
        };
        if self.config.sites[t].role != Role::PrimaryCandidate {
            return Verdict::Reject(
                "UnknownSite",
                format!("only primary-candidate sites may be promoted; {target} is not"),
            );
        }
        if self.active_site() == Some(t) {
            return Verdict::Skip;
        }
        if self.rotating(t) {
            return Verdict::Reject(
                "KeyringRotation",
                format!("target {target} is mid keyring rotation (UnsealReason=Rotation)"),
            );
        }
        if self.sites[t].state != SiteState::ReadOnly || !self.sites[t].replicating {
            return Verdict::Reject(
                "TargetUnhealthy",
                format!("target {target} is not a replicating read-only site"),
            );
        }
        if self.gates.frozen {
            return Verdict::Reject(
                "ConcurrentOperation",
                "an in-place restore is running".into(),
            );
        }
        if self.gates.ordered_update {
            return Verdict::Reject("ConcurrentOperation", "an ordered update is running".into());
        }
        if !own_run
            && self
                .record
                .planned
                .as_ref()
                .is_some_and(|p| p.phase.in_flight())
        {
            return Verdict::Reject(
                "ConcurrentOperation",
                "another planned failover is in flight".into(),
            );
        }
        if self.record.reclone.is_some() {
            return Verdict::Reject("ConcurrentOperation", "a reclone is in flight".into());
        }
        if self
            .record
            .in_cooldown(self.now, self.config.failover_cooldown)
        {
            return Verdict::Reject("CooldownActive", "the failover cooldown is active".into());
        }
        Verdict::Accept
    }

    /// Accepts, defers, skips or rejects a planned-failover annotation (§3.3 "Accept" and "Deferred").
    pub(crate) fn planned_accept(&mut self) {
        let deferred = self
            .record
            .planned
            .as_ref()
            .is_some_and(|p| p.phase == PlannedPhase::Deferred);
        let Some(value) = self.planned_request.clone() else {
            if deferred {
                self.planned_fail(
                    "Cancelled",
                    "annotation removed while deferred".into(),
                    false,
                );
            }
            return;
        };
        if self
            .record
            .planned
            .as_ref()
            .is_some_and(|p| p.phase.in_flight())
        {
            self.planned_request = None;
            self.events.push(Event::new(
                EventReason::PlannedFailoverRejected,
                "previous planned failover is still running".into(),
            ));
            return;
        }
        let (target, max_lag_wait) = match annotations::planned(&value) {
            Ok(r) => r,
            Err(e) => {
                self.planned_request = None;
                if deferred {
                    self.planned_fail("InvalidAnnotation", e.to_string(), false);
                } else {
                    self.metrics.push(Metric::PlannedResult {
                        target_site: String::new(),
                        result: PlannedResult::Rejected,
                    });
                    self.events.push(Event::new(
                        EventReason::PlannedFailoverRejected,
                        e.to_string(),
                    ));
                }
                return;
            }
        };
        let max_lag_wait = max_lag_wait.unwrap_or(self.config.planned_max_lag_wait);
        let source = self
            .active_site()
            .map(|a| self.config.sites[a].name.clone())
            .unwrap_or_default();
        let start = self
            .record
            .planned
            .as_ref()
            .filter(|_| deferred)
            .map_or(self.now, |p| p.start);
        let mut status = PlannedStatus {
            phase: PlannedPhase::Pending,
            target: target.clone(),
            source,
            source_gtid_at_fence: None,
            target_gtid_at_promotion: None,
            start,
            drain_start: None,
            lag_wait_start: None,
            completion: None,
            max_lag_wait,
            drain_timeout: self.config.planned_drain_timeout,
            reason: String::new(),
            message: String::new(),
            transactions_lost: 0,
            retry_after: None,
        };
        self.record_changed = true;
        match self.validate_planned(&target, false) {
            Verdict::Accept => {
                self.planned_request = None;
                self.events.push(Event::new(
                    EventReason::PlannedFailoverStarted,
                    format!("planned failover to {target} started"),
                ));
                self.record.planned = Some(status);
            }
            Verdict::Skip => {
                self.planned_request = None;
                if deferred {
                    self.planned_fail(
                        "AlreadyActive",
                        format!("{target} is already the active site"),
                        false,
                    );
                } else {
                    self.events.push(Event::new(
                        EventReason::PlannedFailoverSkipped,
                        format!("{target} is already the active site"),
                    ));
                }
            }
            Verdict::Reject("CooldownActive", message) if self.config.planned_defer_on_cooldown => {
                status.phase = PlannedPhase::Deferred;
                status.retry_after = self
                    .record
                    .last_failover
                    .map(|t| t + self.config.failover_cooldown);
                status.message = message;
                // Counted once per deferral, like its event: the annotation is re-examined every poll while it
                // waits, and each of those is not another deferral.
                if !deferred {
                    self.metrics.push(Metric::PlannedDeferred {
                        reason: "CooldownActive",
                    });
                    self.events.push(Event::new(
                        EventReason::PlannedFailoverDeferred,
                        format!("planned failover to {target} deferred by cooldown"),
                    ));
                }
                self.record.planned = Some(status);
            }
            Verdict::Reject(reason, message) => {
                self.planned_request = None;
                self.record.planned = Some(status);
                self.metrics.push(Metric::PlannedResult {
                    target_site: target.clone(),
                    result: PlannedResult::Rejected,
                });
                self.planned_fail(reason, message, false);
            }
        }
    }

    /// One phase transition of the in-flight planned failover.
    pub(crate) fn planned_step(&mut self, actions: &mut Vec<Action>) {
        let Some(p) = self.record.planned.clone() else {
            return;
        };
        match p.phase {
            PlannedPhase::Pending => match self.validate_planned(&p.target, true) {
                Verdict::Accept => self.set_phase(PlannedPhase::Draining),
                Verdict::Skip => self.planned_fail(
                    "AlreadyActive",
                    format!("{} is already active", p.target),
                    false,
                ),
                Verdict::Reject(r, m) => self.planned_fail(r, m, false),
            },
            PlannedPhase::Draining => {
                if p.source.is_empty() || self.config.index(&p.source).is_none() {
                    self.planned_fail("SourceCrashed", "no source primary to fence".into(), false);
                } else if p.source_gtid_at_fence.is_none() {
                    actions.push(Action::FenceAndReadGtid { site: p.source });
                } else if p
                    .drain_start
                    .is_some_and(|d| self.now >= d + p.drain_timeout)
                {
                    tracing::warn!(site = %p.source, "planned drain timed out; sessions may remain");
                    self.start_lag_wait();
                } else {
                    actions.push(Action::KillSessions {
                        site: p.source,
                        purpose: KillPurpose::Planned,
                    });
                }
            }
            PlannedPhase::WaitingForLag => {
                let fence = p.source_gtid_at_fence.as_deref().unwrap_or_default();
                let started = p.lag_wait_start.unwrap_or(p.start);
                let target_state = self
                    .config
                    .index(&p.target)
                    .and_then(|t| self.sites[t].probe.as_ref())
                    .map(|p| p.executed.clone());
                match (parse_state(fence, target_state.as_ref()), target_state) {
                    (Err(()), _) => self.rollback(
                        "InvalidGTID",
                        format!("cannot parse sourceGtidAtFence {fence:?}"),
                        actions,
                    ),
                    (Ok(want), Some(have)) if have.contains(&want) => {
                        self.observe_lag_wait(&p.target, started);
                        self.events.push(Event::new(
                            EventReason::PlannedFailoverLagOk,
                            format!("{} caught up with {}", p.target, p.source),
                        ));
                        if let Some(pl) = self.record.planned.as_mut() {
                            pl.target_gtid_at_promotion = Some(have.to_string());
                        }
                        self.set_phase(PlannedPhase::Promoting);
                        actions.push(Action::Promote {
                            target: p.target,
                            old_primary: Some(p.source),
                            planned: true,
                        });
                    }
                    _ if self.now >= started + p.max_lag_wait => {
                        self.observe_lag_wait(&p.target, started);
                        self.rollback(
                            "LagTimeout",
                            format!("{} did not catch up within {:?}", p.target, p.max_lag_wait),
                            actions,
                        );
                    }
                    _ => {}
                }
            }
            PlannedPhase::Promoting => {
                // Resumed after a restart (or the promotion outcome was lost): promotion is idempotent.
                if !actions.iter().any(|a| matches!(a, Action::Promote { .. }))
                    && self.draft.is_none()
                {
                    actions.push(Action::Promote {
                        target: p.target,
                        old_primary: Some(p.source),
                        planned: true,
                    });
                }
            }
            PlannedPhase::Resuming => {
                let lost = lost_transactions(
                    p.source_gtid_at_fence.as_deref(),
                    p.target_gtid_at_promotion.as_deref(),
                );
                let duration = self.now.saturating_sub(p.start);
                if let Some(pl) = self.record.planned.as_mut() {
                    pl.phase = PlannedPhase::Succeeded;
                    pl.completion = Some(self.now);
                    pl.transactions_lost = lost;
                    pl.message = format!("promoted {}, {lost} transactions lost", p.target);
                }
                self.record_changed = true;
                self.metrics.push(Metric::PlannedResult {
                    target_site: p.target.clone(),
                    result: PlannedResult::Success,
                });
                self.metrics.push(Metric::PlannedDuration {
                    target_site: p.target.clone(),
                    duration,
                });
                self.events.push(Event::new(
                    EventReason::PlannedFailoverCompleted,
                    format!("promoted {}, {lost} transactions lost", p.target),
                ));
            }
            PlannedPhase::Deferred | PlannedPhase::Failed | PlannedPhase::Succeeded => {}
        }
    }

    pub(crate) fn planned_outcome(&mut self, outcome: Outcome) {
        let Some(p) = self
            .record
            .planned
            .clone()
            .filter(|p| p.phase == PlannedPhase::Draining)
        else {
            return;
        };
        match outcome {
            Outcome::FencedForPlanned {
                result: Ok(state),
                at,
                ..
            } => {
                if let Some(pl) = self.record.planned.as_mut() {
                    pl.source_gtid_at_fence = Some(state.to_string());
                    pl.drain_start = Some(at);
                }
                self.record_changed = true;
                self.events.push(Event::new(
                    EventReason::PlannedFailoverDraining,
                    format!("{} fenced; draining sessions", p.source),
                ));
            }
            Outcome::FencedForPlanned { result: Err(e), .. } => {
                self.planned_fail("SourceCrashed", e, false)
            }
            Outcome::Killed { result: Ok(0), .. } => self.start_lag_wait(),
            Outcome::Killed { result: Err(e), .. } => {
                tracing::warn!(site = %p.source, error = %e, "planned drain kill failed; retrying");
            }
            _ => {}
        }
    }

    /// The promotion outcome of a planned failover: records it and, as the reference's `PlannedPromote` does, flips
    /// the DNS record at once (a follow-up action), so clients move before the `Resuming` step.
    pub(crate) fn planned_promoted(
        &mut self,
        target: &str,
        result: Result<String, String>,
        at: Duration,
        actions: &mut Vec<Action>,
    ) {
        let Some(p) = self.record.planned.clone() else {
            return;
        };
        match result {
            Err(e) => self.planned_fail(
                "ExecuteFailed",
                format!("manual recovery required: {e}"),
                false,
            ),
            Ok(gtid) => {
                let rec = FailoverRecord {
                    at,
                    trigger: Trigger::Planned,
                    target: target.to_owned(),
                    old_primary: Some(p.source.clone()),
                    candidates: vec![Candidate {
                        site: target.to_owned(),
                        gtid: gtid.clone(),
                    }],
                    rule: format!(
                        "{target}: planned switchover target containing {}'s GTID set at fence",
                        p.source
                    ),
                    promotion_gtid: gtid.clone(),
                    write_unavailability: p.drain_start.map(|d| at.saturating_sub(d)),
                    divergent_gtid: None,
                    divergent_count: 0,
                };
                self.finish_promotion(rec, actions);
                if let Some(pl) = self.record.planned.as_mut() {
                    pl.phase = PlannedPhase::Resuming;
                    if !gtid.is_empty() {
                        pl.target_gtid_at_promotion = Some(gtid);
                    }
                }
            }
        }
    }

    /// While the planned failover waits for lag: the target, the source's GTID state at fence (in the target's
    /// flavour) and when `maxLagWait` runs out — what the runner needs to wait on the target's applier.
    #[cfg(feature = "runner")]
    pub(crate) fn planned_lag_wait(&self) -> Option<(String, GtidState, Duration)> {
        let p = self
            .record
            .planned
            .as_ref()
            .filter(|p| p.phase == PlannedPhase::WaitingForLag)?;
        let like = self
            .config
            .index(&p.target)
            .and_then(|t| self.sites[t].probe.as_ref())
            .map(|p| &p.executed);
        let want = parse_state(p.source_gtid_at_fence.as_deref()?, like).ok()?;
        let until = p.lag_wait_start.unwrap_or(p.start) + p.max_lag_wait;
        Some((p.target.clone(), want, until))
    }

    fn observe_lag_wait(&mut self, target: &str, started: Duration) {
        self.metrics.push(Metric::PlannedLagWait {
            target_site: target.to_owned(),
            duration: self.now.saturating_sub(started),
        });
    }

    fn start_lag_wait(&mut self) {
        if let Some(pl) = self.record.planned.as_mut() {
            pl.lag_wait_start = Some(self.now);
        }
        self.set_phase(PlannedPhase::WaitingForLag);
    }

    fn set_phase(&mut self, phase: PlannedPhase) {
        if let Some(pl) = self.record.planned.as_mut() {
            pl.phase = phase;
        }
        self.record_changed = true;
    }

    fn rollback(&mut self, reason: &'static str, message: String, actions: &mut Vec<Action>) {
        if let Some(p) = &self.record.planned {
            actions.push(Action::Unfence {
                site: p.source.clone(),
            });
        }
        self.planned_fail(reason, message, true);
    }

    fn planned_fail(&mut self, reason: &'static str, message: String, timeout: bool) {
        let Some(pl) = self.record.planned.as_mut() else {
            return;
        };
        pl.phase = PlannedPhase::Failed;
        pl.reason = reason.to_owned();
        pl.message = message.clone();
        pl.completion = Some(self.now);
        let target = pl.target.clone();
        let duration = self.now.saturating_sub(pl.start);
        self.record_changed = true;
        if !duration.is_zero() {
            self.metrics.push(Metric::PlannedDuration {
                target_site: target.clone(),
                duration,
            });
        }
        let result = if timeout {
            PlannedResult::FailedTimeout
        } else {
            PlannedResult::FailedOther
        };
        self.metrics.push(Metric::PlannedResult {
            target_site: target,
            result,
        });
        self.events.push(Event::new(
            EventReason::PlannedFailoverFailed,
            format!("{reason}: {message}"),
        ));
    }
}

fn parse_state(text: &str, like: Option<&GtidState>) -> Result<GtidState, ()> {
    match like {
        Some(GtidState::Mariadb(_)) => text
            .parse()
            .map(|l| {
                GtidState::Mariadb(crate::site::MariadbState {
                    current_pos: l,
                    ..Default::default()
                })
            })
            .map_err(|_| ()),
        _ => text.parse().map(GtidState::Mysql).map_err(|_| ()),
    }
}

/// GTIDs of the source at fence not covered by the target at promotion (0 on parse errors).
fn lost_transactions(fence: Option<&str>, promoted: Option<&str>) -> u64 {
    let (Some(f), Some(t)) = (fence, promoted) else {
        return 0;
    };
    match (
        f.parse::<bloodraven_gtid::GtidSet>(),
        t.parse::<bloodraven_gtid::GtidSet>(),
    ) {
        (Ok(f), Ok(t)) => u64::try_from(f.difference(&t).count()).unwrap_or(u64::MAX),
        _ => 0,
    }
}
