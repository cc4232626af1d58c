//! Pacing of a planned failover: its phases follow each other back to back, and the lag wait is event-driven.
//!
//! The engine moves a planned failover one phase per step, so a restart always resumes from a persisted phase
//! (reference §3.1). Waiting a poll interval between those steps is what made a switchover cost about a second of
//! write unavailability; the runner instead steps again right away while a planned failover is in flight, pausing
//! only to retry a session kill that found sessions or a failed wait, and it waits for the target's applier to reach the source's
//! GTID set at fence on the server itself (`WAIT_FOR_EXECUTED_GTID_SET` / `MASTER_GTID_WAIT`), not by polling.

use std::time::Duration;

use super::{Runner, deadline};
use crate::engine::{Decision, KillPurpose, Outcome};
use crate::platform::Platform;
use crate::site::Site;

impl<S: Site + 'static, P: Platform> Runner<S, P> {
    /// Shortens `decision.next_poll` while a planned failover is in flight, after waiting on the target's applier
    /// when the failover waits for lag.
    pub(super) async fn pace_planned(&mut self, decision: &mut Decision) {
        let in_flight = self
            .engine
            .record()
            .planned
            .as_ref()
            .is_some_and(|p| p.phase.in_flight());
        if !in_flight {
            return;
        }
        // A kill that found sessions (or failed) is retried after a pause, as the reference retries every second.
        let kill_again = self.outcomes.iter().any(|o| {
            matches!(
                o,
                Outcome::Killed {
                    purpose: KillPurpose::Planned,
                    result,
                    ..
                } if !matches!(result, Ok(0))
            )
        });
        let mut pause = if kill_again { RETRY } else { NEXT_PHASE };
        if let Some((target, want, until)) = self.engine.planned_lag_wait()
            && let Some(t) = self.site(&target)
        {
            // Bounded by the poll interval so the engine still sees probes (and the maxLagWait timeout) in time.
            let wait = until
                .saturating_sub(self.clock.now())
                .min(self.engine.config().poll_interval)
                .max(NEXT_PHASE);
            let op = self.cfg.op_timeout;
            match deadline(
                &*t,
                "wait for executed",
                wait + op,
                t.wait_for_executed(&want, wait),
            )
            .await
            {
                Ok(reached) => tracing::debug!(site = %target, reached, "planned lag wait"),
                Err(e) => {
                    // An unreachable target must not turn the wait into a busy loop of probes.
                    tracing::debug!(site = %target, error = %e, "planned lag wait failed; polling");
                    pause = RETRY;
                }
            }
        }
        decision.next_poll = decision.next_poll.min(pause);
    }
}

/// Pause before the next step of a planned failover: long enough to yield, short enough not to count.
const NEXT_PHASE: Duration = Duration::from_millis(10);
/// Pause before retrying what did not work: a session kill that found sessions or failed, a failed lag wait.
const RETRY: Duration = Duration::from_millis(100);
