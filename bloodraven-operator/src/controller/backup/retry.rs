//! `spec.backup.retry`: the CR-level retry of failed *scheduled* backups, as the Go operator does it. No client
//! here; [`super::schedules`] applies what [`decide`] returns.
//!
//! When the newest MysqlBackup of a schedule is Failed, attempt `n` of `maxAttempts`, a fresh MysqlBackup
//! (`<group>-<profile>-r<n+1>-<random>`, `spec.triggeredBy: retry/<schedule>/attempt-<n+1>`, the schedule's
//! labels) is created `initialBackoffSeconds · 2^(n-1)` seconds (at most `maxBackoffSeconds`) after the failed
//! one completed; until then the schedule's `status.backupSchedules[].nextRetryTime` says when. A schedule whose
//! newest backup reached `maxAttempts`, or already has a later attempt, gets no retry. Ad-hoc backups (no
//! schedule label) are never retried.

use std::collections::BTreeMap;

use serde_json::json;

use bloodraven_api::backup::{BackupPhase, MysqlBackup};
use bloodraven_api::failovergroup::backup::{BackupRetrySpec, BackupSchedule};
use bloodraven_api::names::label;

/// Default `retry.maxAttempts`: one attempt, no retry.
pub const DEFAULT_MAX_ATTEMPTS: i32 = 1;
/// Default `retry.initialBackoffSeconds`.
pub const DEFAULT_INITIAL_BACKOFF_SECONDS: i32 = 60;
/// Default `retry.maxBackoffSeconds`.
pub const DEFAULT_MAX_BACKOFF_SECONDS: i32 = 1800;
/// The `spec.triggeredBy` prefix of a retry backup: `retry/<schedule>/attempt-<n>`.
const TRIGGERED_BY_PREFIX: &str = "retry/";

/// `spec.backup.retry` with its defaults applied.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct RetryPolicy {
    /// Total attempts per scheduled run (the first one included).
    pub max_attempts: i32,
    /// Delay before the first retry, in seconds.
    pub initial_backoff_seconds: i64,
    /// Cap of the doubling delay, in seconds.
    pub max_backoff_seconds: i64,
}

impl RetryPolicy {
    /// The policy of `spec.backup.retry`, or `None` when it allows a single attempt (the default).
    pub fn of(spec: Option<&BackupRetrySpec>) -> Option<RetryPolicy> {
        let spec = spec?;
        let max_attempts = spec.max_attempts.unwrap_or(DEFAULT_MAX_ATTEMPTS);
        if max_attempts <= 1 {
            return None;
        }
        let positive =
            |v: Option<i32>, default: i32| i64::from(v.filter(|v| *v > 0).unwrap_or(default));
        Some(RetryPolicy {
            max_attempts,
            initial_backoff_seconds: positive(
                spec.initial_backoff_seconds,
                DEFAULT_INITIAL_BACKOFF_SECONDS,
            ),
            max_backoff_seconds: positive(spec.max_backoff_seconds, DEFAULT_MAX_BACKOFF_SECONDS),
        })
    }

    /// Seconds between the end of failed attempt `failed` (1-based) and the next attempt:
    /// `initial · 2^(failed-1)`, at most `max`.
    pub fn backoff_seconds(&self, failed: i32) -> i64 {
        let doublings = u32::try_from(failed.max(1) - 1).unwrap_or(0).min(62);
        self.initial_backoff_seconds
            .saturating_mul(1_i64 << doublings)
            .min(self.max_backoff_seconds)
    }
}

/// What to do about the newest backup of one schedule.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum RetryDecision {
    /// Create attempt `attempt` now.
    Create {
        /// The attempt number of the new backup.
        attempt: i32,
    },
    /// Nothing to do: no retry policy, the backup did not fail, the attempts are used up, or a later attempt exists.
    Idle,
    /// Create attempt `attempt` at `at` (Unix seconds); `status.backupSchedules[].nextRetryTime`.
    Wait {
        /// The attempt number of the backup to create then.
        attempt: i32,
        /// When, in Unix seconds.
        at: i64,
    },
}

/// The attempt number of a backup: `status.attempt`, else the one its retry provenance names
/// (`retry/<schedule>/attempt-<n>`, read before the controller stamped the status), else 1.
pub fn attempt_of(backup: &MysqlBackup) -> i32 {
    backup
        .status
        .as_ref()
        .and_then(|s| s.attempt)
        .filter(|a| *a >= 1)
        .or_else(|| attempt_from_triggered_by(backup.spec.triggered_by.as_deref()?))
        .unwrap_or(1)
}

fn attempt_from_triggered_by(triggered_by: &str) -> Option<i32> {
    let rest = triggered_by.strip_prefix(TRIGGERED_BY_PREFIX)?;
    let (_, n) = rest.rsplit_once("/attempt-")?;
    n.parse().ok().filter(|n: &i32| *n >= 1)
}

/// Decides the retry of `latest`, the newest backup of a schedule; `siblings` are the schedule's backups
/// (`latest` may be among them), `now` is Unix seconds.
pub fn decide(
    policy: Option<RetryPolicy>,
    latest: &MysqlBackup,
    siblings: &[MysqlBackup],
    now: i64,
) -> RetryDecision {
    let Some(policy) = policy else {
        return RetryDecision::Idle;
    };
    let status = latest.status.as_ref();
    if status.and_then(|s| s.phase) != Some(BackupPhase::Failed)
        || latest.metadata.deletion_timestamp.is_some()
    {
        return RetryDecision::Idle;
    }
    let current = attempt_of(latest);
    // A later attempt of this run exists (created with or after `latest`); retries of earlier runs do not count.
    let created = |b: &MysqlBackup| b.metadata.creation_timestamp.as_ref().map(|t| t.0);
    let retried = siblings.iter().any(|b| {
        b.metadata.name != latest.metadata.name
            && created(b) >= created(latest)
            && attempt_of(b) > current
    });
    if current >= policy.max_attempts || retried {
        return RetryDecision::Idle;
    }
    let ended = status
        .and_then(|s| s.completion_time.as_ref())
        .or(latest.metadata.creation_timestamp.as_ref())
        .map_or(now, |t| t.0.as_second());
    let at = ended.saturating_add(policy.backoff_seconds(current));
    let attempt = current + 1;
    if at > now {
        RetryDecision::Wait { attempt, at }
    } else {
        RetryDecision::Create { attempt }
    }
}

/// The retry MysqlBackup of `schedule`'s failed run: named by the server from `<group>-<profile>-r<attempt>-`,
/// with the schedule's labels and `spec.triggeredBy: retry/<schedule>/attempt-<attempt>`.
pub fn retry_backup(
    group: &str,
    namespace: &str,
    schedule: &BackupSchedule,
    attempt: i32,
) -> MysqlBackup {
    let mut labels = BTreeMap::new();
    labels.insert(label::FAILOVER_GROUP, group);
    labels.insert(label::BACKUP_PROFILE, schedule.profile_name.as_str());
    labels.insert(label::BACKUP_SCHEDULE, schedule.name.as_str());
    labels.insert(label::MANAGED_BY, label::MANAGED_BY_VALUE);
    let object = json!({
        "apiVersion": "shipstream.io/v1alpha1",
        "kind": "MysqlBackup",
        "metadata": {
            "generateName": format!("{group}-{}-r{attempt}-", schedule.profile_name),
            "namespace": namespace,
            "labels": labels,
        },
        "spec": {
            "failoverGroupRef": { "name": group },
            "profileName": schedule.profile_name,
            "triggeredBy": format!("{TRIGGERED_BY_PREFIX}{}/attempt-{attempt}", schedule.name),
        },
    });
    // The object above has every required field of the type, so it always converts.
    serde_json::from_value(object).expect("a retry MysqlBackup is a valid MysqlBackup")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn policy(max: i32, initial: i32, cap: i32) -> Option<RetryPolicy> {
        RetryPolicy::of(Some(&BackupRetrySpec {
            max_attempts: Some(max),
            initial_backoff_seconds: Some(initial),
            max_backoff_seconds: Some(cap),
        }))
    }

    /// A backup of schedule `hourly` in `phase`, completed at `done` (Unix seconds).
    fn backup(
        name: &str,
        phase: &str,
        attempt: Option<i32>,
        triggered_by: &str,
        done: i64,
    ) -> MysqlBackup {
        let done = k8s_openapi::jiff::Timestamp::from_second(done).unwrap();
        serde_json::from_value(json!({
            "apiVersion": "shipstream.io/v1alpha1", "kind": "MysqlBackup",
            "metadata": { "name": name, "namespace": "shop", "creationTimestamp": "2026-01-01T00:00:00Z",
                "labels": { "shipstream.io/backup-schedule": "hourly" } },
            "spec": { "failoverGroupRef": { "name": "orders" }, "profileName": "nightly", "triggeredBy": triggered_by },
            "status": { "phase": phase, "attempt": attempt, "completionTime": done.to_string() },
        }))
        .unwrap()
    }

    #[test]
    fn the_backoff_doubles_from_the_initial_delay_up_to_the_cap() {
        let p = policy(10, 60, 1800).unwrap();
        let waits: Vec<i64> = (1..=7).map(|n| p.backoff_seconds(n)).collect();
        assert_eq!(waits, [60, 120, 240, 480, 960, 1800, 1800]);
        assert_eq!(p.backoff_seconds(i32::MAX), 1800);
    }

    #[test]
    fn a_single_attempt_or_no_retry_spec_means_no_policy() {
        assert_eq!(RetryPolicy::of(None), None);
        assert_eq!(RetryPolicy::of(Some(&BackupRetrySpec::default())), None);
        assert_eq!(policy(1, 5, 10), None);
        assert_eq!(
            RetryPolicy::of(Some(&BackupRetrySpec {
                max_attempts: Some(3),
                ..BackupRetrySpec::default()
            })),
            Some(RetryPolicy {
                max_attempts: 3,
                initial_backoff_seconds: 60,
                max_backoff_seconds: 1800
            })
        );
    }

    #[test]
    fn the_attempt_comes_from_the_status_else_from_the_retry_provenance() {
        assert_eq!(attempt_of(&backup("a", "Failed", Some(3), "hourly", 0)), 3);
        assert_eq!(
            attempt_of(&backup("a", "Pending", None, "retry/hourly/attempt-2", 0)),
            2
        );
        assert_eq!(attempt_of(&backup("a", "Failed", None, "hourly", 0)), 1);
        assert_eq!(
            attempt_of(&backup("a", "Failed", None, "retry/hourly/attempt-x", 0)),
            1
        );
    }

    #[test]
    fn a_failed_attempt_waits_for_its_backoff_then_is_retried_until_max_attempts() {
        let p = policy(3, 10, 15);
        let first = backup("orders-hourly-x", "Failed", Some(1), "hourly", 1000);
        let all = [first.clone()];
        assert_eq!(
            decide(p, &first, &all, 1005),
            RetryDecision::Wait {
                attempt: 2,
                at: 1010
            }
        );
        assert_eq!(
            decide(p, &first, &all, 1010),
            RetryDecision::Create { attempt: 2 }
        );
        // The second attempt (its status not written yet) stops a second retry of the first.
        let second = backup(
            "orders-nightly-r2-y",
            "Running",
            None,
            "retry/hourly/attempt-2",
            0,
        );
        let both = [first.clone(), second.clone()];
        assert_eq!(decide(p, &first, &both, 2000), RetryDecision::Idle);
        assert_eq!(decide(p, &second, &both, 2000), RetryDecision::Idle);
        // The second fails: 20 s doubled is capped at 15 s.
        let second = backup(
            "orders-nightly-r2-y",
            "Failed",
            Some(2),
            "retry/hourly/attempt-2",
            2000,
        );
        assert_eq!(
            decide(p, &second, &[first.clone(), second.clone()], 2001),
            RetryDecision::Wait {
                attempt: 3,
                at: 2015
            }
        );
        // The third is the last one.
        let third = backup(
            "orders-nightly-r3-z",
            "Failed",
            Some(3),
            "retry/hourly/attempt-3",
            3000,
        );
        assert_eq!(
            decide(p, &third, &[first, second, third.clone()], 9999),
            RetryDecision::Idle
        );
        // Succeeded and running backups, and groups without a policy, are never retried.
        let ok = backup("orders-hourly-w", "Succeeded", Some(1), "hourly", 1000);
        assert_eq!(decide(p, &ok, &[], 9999), RetryDecision::Idle);
        let failed = backup("orders-hourly-v", "Failed", Some(1), "hourly", 1000);
        assert_eq!(decide(None, &failed, &[], 9999), RetryDecision::Idle);
    }

    #[test]
    fn a_retry_of_an_earlier_run_does_not_stop_the_retry_of_a_later_one() {
        let p = policy(2, 10, 10);
        let earlier = backup(
            "orders-nightly-r2-y",
            "Succeeded",
            Some(2),
            "retry/hourly/attempt-2",
            900,
        );
        let mut later = backup("orders-hourly-z", "Failed", Some(1), "hourly", 1000);
        later.metadata.creation_timestamp =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                "2026-01-02T00:00:00Z".parse().unwrap(),
            ));
        assert_eq!(
            decide(p, &later, &[earlier, later.clone()], 1010),
            RetryDecision::Create { attempt: 2 }
        );
    }

    #[test]
    fn the_retry_backup_is_named_and_labelled_as_the_go_operator_does() {
        let schedule: BackupSchedule = serde_json::from_value(
            json!({ "name": "hourly", "profileName": "nightly", "schedule": "0 * * * *" }),
        )
        .unwrap();
        let b = retry_backup("orders", "shop", &schedule, 2);
        insta::assert_json_snapshot!(b);
        assert_eq!(attempt_of(&b), 2);
        let v: Value = serde_json::to_value(&b).unwrap();
        assert_eq!(v["metadata"]["generateName"], "orders-nightly-r2-");
    }
}
