//! The relay-log drain before a promotion (§1.10 step 3): apply everything the candidate retrieved.

use std::time::Duration;

use super::deadline;
use crate::site::{ReplicaStatus, Site, SiteError};

/// One look at the candidate's replication channel during the relay-log drain.
#[derive(Debug, Eq, PartialEq)]
enum DrainStep {
    /// The applier executed everything retrieved (or there is no relay log to drain).
    Done,
    /// The applier failed: the relay log cannot be drained.
    Abort(String),
    /// The applier is stopped with relay log left: start it.
    StartSql,
    /// The applier is still working through the relay log.
    Wait,
}

/// What the drain does next, given the candidate's channel `r`.
///
/// Only applier errors abort: `Last_IO_Error` merely says the old primary is gone (MariaDB reports it as soon as the
/// primary dies) and everything already in the relay log must still be applied. "Caught up" is executed ⊇
/// retrieved, not `Seconds_Behind_Source = 0`, which is NULL once the IO thread stopped; the lag is used only when
/// the positions are unreadable and the IO thread is still connected.
fn drain_step(r: &ReplicaStatus) -> DrainStep {
    if let Some(e) = r.sql_error() {
        return DrainStep::Abort(e.into());
    }
    match r.relay_applied() {
        Some(true) => DrainStep::Done,
        None if r.sql_running && r.io_running && r.seconds_behind == Some(0) => DrainStep::Done,
        _ if !r.sql_running => DrainStep::StartSql,
        _ => DrainStep::Wait,
    }
}

/// `WaitForRelayLogDrain`: until the replica applied what it retrieved, or `budget` passes.
pub(super) async fn drain_relay_log<S: Site>(
    t: &S,
    budget: Duration,
    op: Duration,
) -> Result<(), SiteError> {
    let until = tokio::time::Instant::now() + budget;
    let mut pause = Duration::from_millis(50);
    let mut restarted = false;
    loop {
        let Some(r) = deadline(t, "replica status", op, t.replica_status()).await? else {
            return Ok(());
        };
        match drain_step(&r) {
            DrainStep::Done => return Ok(()),
            DrainStep::Abort(message) => {
                return Err(SiteError::Query {
                    site: t.name().into(),
                    statement: "SHOW REPLICA STATUS".into(),
                    message,
                });
            }
            DrainStep::StartSql if !restarted => {
                restarted = true;
                deadline(t, "start sql thread", op, t.start_sql_thread()).await?;
            }
            DrainStep::StartSql | DrainStep::Wait => {}
        }
        let now = tokio::time::Instant::now();
        if now >= until {
            return Err(SiteError::Timeout {
                site: t.name().into(),
                operation: "relay log drain".into(),
                after: budget,
            });
        }
        tokio::time::sleep(pause.min(until - now)).await;
        pause = (pause * 2).min(Duration::from_secs(4));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A MariaDB candidate whose primary just died: IO thread down with an error, lag NULL, relay backlog left.
    fn orphaned(retrieved: &str, executed: &str) -> ReplicaStatus {
        ReplicaStatus {
            io_running: false,
            sql_running: true,
            source_host: "iad".into(),
            source_port: 3306,
            seconds_behind: None,
            retrieved: retrieved.into(),
            executed: executed.into(),
            last_io_error: "error reconnecting to master 'root@iad:3306' - retry-time: 1".into(),
            ..ReplicaStatus::default()
        }
    }

    #[test]
    fn drain_keeps_applying_the_relay_log_after_the_source_died() {
        assert_eq!(drain_step(&orphaned("0-1-300", "0-1-162")), DrainStep::Wait);
        assert_eq!(drain_step(&orphaned("0-1-300", "0-1-300")), DrainStep::Done);
        let stopped = ReplicaStatus {
            sql_running: false,
            ..orphaned("0-1-300", "0-1-162")
        };
        assert_eq!(drain_step(&stopped), DrainStep::StartSql);
    }

    #[test]
    fn drain_aborts_only_on_applier_errors() {
        let failed = ReplicaStatus {
            sql_running: false,
            last_error: "Could not execute Write_rows_v1 event".into(),
            last_sql_error: "Could not execute Write_rows_v1 event".into(),
            ..orphaned("0-1-300", "0-1-162")
        };
        assert_eq!(
            drain_step(&failed),
            DrainStep::Abort("Could not execute Write_rows_v1 event".into())
        );
    }

    #[test]
    fn drain_trusts_gtids_over_a_zero_lag() {
        const U: &str = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
        let healthy = |retrieved: String, executed: String| ReplicaStatus {
            io_running: true,
            sql_running: true,
            seconds_behind: Some(0),
            retrieved,
            executed,
            ..ReplicaStatus::default()
        };
        assert_eq!(
            drain_step(&healthy(format!("{U}:1-10"), format!("{U}:1-9"))),
            DrainStep::Wait
        );
        assert_eq!(
            drain_step(&healthy(format!("{U}:1-10"), format!("{U}:1-10"))),
            DrainStep::Done
        );
        // Unreadable positions fall back to the lag, while the IO thread is connected.
        assert_eq!(
            drain_step(&healthy("?".into(), "?".into())),
            DrainStep::Done
        );
    }
}
