//! The `MysqlBackupVerification` controller: restores a MysqlBackup into a throwaway server in a Job, records the
//! verdict, cleans up ([`run`]).
//!
//! ```text
//!   Pending ── group, profile, backup (backupRef │ newest Succeeded), no other active run of the profile,
//!   │          Secrets present ──no──▶ Failed (GroupNotFound │ ProfileNotFound │ BackupNotFound │
//!   │                                          BlockedByActiveVerification │ BuildJobFailed)
//!   ▼ scratch PVC <run>-verify-data, sized max(10Gi, ceil(1.5 × backup / 10Gi) × 10Gi) unless spec.storage.size
//!   Provisioning
//!   ▼ Job <run>-verify: `bloodraven verify` (mysqld on 127.0.0.1 in the pod, no Service, credentials as files)
//!   Restoring ── Job done: the pod's termination message (BLOODRAVEN_VERIFY_*) ─▶ Verified condition, sanity,
//!   │            replayedThroughBinlog, metrics
//!   ├─ passed, or failed without keepOnFailure ─▶ Cleaning (after ttlSecondsAfterFinished: Job and PVC deleted)
//!   │                                              ─▶ Succeeded │ Failed
//!   └─ failed with keepOnFailure (default) ─▶ Failed, Job and PVC kept (ResourcesCleanedUp=False KeptOnFailure)
//!   final ─▶ retention: keepSuccessful (30) / keepFailures (10) runs of the profile
//! ```
//!
//! The sanity query runs inside the Job, so `Checking` is never entered (as in the Go operator).

pub mod build;

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{DeleteParams, ListParams, PostParams, PropagationPolicy};
use kube::runtime::controller::Action;
use kube::runtime::events::{EventType, Recorder};
use kube::runtime::finalizer::{Event as Finalizer, finalizer};
use kube::{Api, Client, ResourceExt};
use serde_json::{Value, json};
use tokio::sync::watch;
use tracing::Instrument;

use bloodraven_api::backup::MysqlBackup;
use bloodraven_api::failovergroup::MysqlFailoverGroup;
use bloodraven_api::failovergroup::backup::BackupProfile;
use bloodraven_api::names::{condition, event, finalizer::MYSQLBACKUP_VERIFICATION};
use bloodraven_api::verification::{MysqlBackupVerification, VerificationPhase};

use super::ManagerOptions;
use super::backup::build::{Failure, JobOutcome, job_outcome};
use super::backup::metrics;
use crate::jobs::result::VerifyResult;
use build::Finished;

/// Event reason: a run's Job was created (not enumerated by the reference; §16).
pub const VERIFICATION_STARTED: &str = "VerificationStarted";
/// Event reason: a run passed.
pub const VERIFICATION_SUCCEEDED: &str = "VerificationSucceeded";
/// Event reason: a run failed.
pub const VERIFICATION_FAILED: &str = "VerificationFailed";

/// An error of one reconcile; retried with a back-off.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Adding or removing the finalizer, or an API call inside it, failed.
    #[error("finalizer: {0}")]
    Finalizer(String),
}

struct Context {
    client: Client,
    recorder: Recorder,
    leader: watch::Receiver<bool>,
    image: String,
}

/// Runs the MysqlBackupVerification controller until the process ends (the manager aborts it on shutdown).
pub async fn run(client: Client, options: ManagerOptions, leader: watch::Receiver<bool>) {
    let runs: Api<MysqlBackupVerification> = super::scoped(&client, options.namespace.as_deref());
    let jobs: Api<Job> = super::scoped(&client, options.namespace.as_deref());
    let context = Arc::new(Context {
        recorder: super::recorder(&client),
        client,
        leader,
        image: super::job_image(),
    });
    super::run_owning_jobs(runs, jobs, context, reconcile, "MysqlBackupVerification").await;
}

async fn reconcile(v: Arc<MysqlBackupVerification>, ctx: Arc<Context>) -> Result<Action, Error> {
    let namespace = v.namespace().unwrap_or_default();
    let name = v.name_any();
    let span =
        tracing::info_span!("reconcile", kind = "MysqlBackupVerification", %namespace, %name);
    if !*ctx.leader.borrow() {
        return Ok(Action::requeue(Duration::from_secs(30)));
    }
    let api: Api<MysqlBackupVerification> = Api::namespaced(ctx.client.clone(), &namespace);
    finalizer(&api, MYSQLBACKUP_VERIFICATION, v, |step| async {
        match step {
            Finalizer::Apply(v) => ctx.apply(&v).await,
            // Owner references remove the Job and the PVC with the run.
            Finalizer::Cleanup(_) => Ok::<_, kube::Error>(Action::await_change()),
        }
    })
    .instrument(span)
    .await
    .map_err(|e| Error::Finalizer(e.to_string()))
}

fn now() -> Time {
    Time(k8s_openapi::jiff::Timestamp::now())
}

impl Context {
    async fn apply(&self, v: &MysqlBackupVerification) -> Result<Action, kube::Error> {
        let namespace = v.namespace().unwrap_or_default();
        let groups: Api<MysqlFailoverGroup> = Api::namespaced(self.client.clone(), &namespace);
        let group_name = &v.spec.failover_group_ref.name;
        let phase = v.status.as_ref().and_then(|s| s.phase);
        let Some(group) = groups.get_opt(group_name).await? else {
            if matches!(
                phase,
                Some(VerificationPhase::Succeeded | VerificationPhase::Failed)
            ) {
                return Ok(Action::await_change());
            }
            let f = Failure {
                reason: event::GROUP_NOT_FOUND,
                message: format!(
                    "spec.failoverGroupRef.name: MysqlFailoverGroup {namespace}/{group_name} not found"
                ),
            };
            return self.fail(v, &f).await;
        };
        let profile = match super::backup::build::profile(&v.spec.profile_name, &group) {
            Ok(p) => p.clone(),
            Err(f) => {
                if matches!(
                    phase,
                    Some(VerificationPhase::Succeeded | VerificationPhase::Failed)
                ) {
                    return Ok(Action::await_change());
                }
                return self.fail(v, &f).await;
            }
        };
        match phase {
            None | Some(VerificationPhase::Pending) => self.start(v, &profile).await,
            Some(VerificationPhase::Provisioning) => self.provisioned(v, &group, &profile).await,
            Some(VerificationPhase::Restoring | VerificationPhase::Checking) => {
                self.observe(v, &profile).await
            }
            Some(VerificationPhase::Cleaning) => self.clean(v, &profile).await,
            Some(VerificationPhase::Succeeded | VerificationPhase::Failed) => {
                self.retention(v, &profile).await?;
                Ok(Action::await_change())
            }
        }
    }

    /// Pending: choose the backup, refuse a second active run, check the Secrets, create the PVC.
    async fn start(
        &self,
        v: &MysqlBackupVerification,
        profile: &BackupProfile,
    ) -> Result<Action, kube::Error> {
        let namespace = v.namespace().unwrap_or_default();
        let runs: Api<MysqlBackupVerification> = Api::namespaced(self.client.clone(), &namespace);
        let all = runs.list(&ListParams::default()).await?.items;
        if let Some(other) = build::blocked_by(v, &all) {
            let f = Failure {
                reason: build::BLOCKED_BY_ACTIVE_VERIFICATION,
                message: format!(
                    "MysqlBackupVerification {other} of group {} profile {} is still running",
                    v.spec.failover_group_ref.name, v.spec.profile_name
                ),
            };
            return self.fail(v, &f).await;
        }
        let backups: Api<MysqlBackup> = Api::namespaced(self.client.clone(), &namespace);
        let list = backups.list(&ListParams::default()).await?.items;
        let backup = match build::choose_backup(v, &list) {
            Ok(b) => b.clone(),
            Err(f) => return self.fail(v, &f).await,
        };
        if let Some(message) = self.missing_secret(&namespace, profile).await? {
            let f = Failure {
                reason: event::BUILD_JOB_FAILED,
                message,
            };
            return self.fail(v, &f).await;
        }
        let pvc = build::pvc(v, profile, &backup);
        let pvc_name = pvc.metadata.name.clone().unwrap_or_default();
        let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(self.client.clone(), &namespace);
        match pvcs.create(&PostParams::default(), &pvc).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 409 => {}
            Err(e) => return Err(e),
        }
        let s = backup.status.clone().unwrap_or_default();
        self.patch_status(
            v,
            json!({
                "phase": "Provisioning",
                "startTime": now(),
                "pvcName": pvc_name,
                "observedGeneration": v.metadata.generation,
                "backupRef": {
                    "name": backup.name_any(),
                    "uid": backup.metadata.uid,
                    "location": s.location,
                    "storageType": s.storage_type,
                },
                "message": format!("verifying MysqlBackup {}", backup.name_any()),
            }),
        )
        .await?;
        Ok(Action::requeue(Duration::from_millis(500)))
    }

    /// Provisioning: create the Job.
    async fn provisioned(
        &self,
        v: &MysqlBackupVerification,
        group: &MysqlFailoverGroup,
        profile: &BackupProfile,
    ) -> Result<Action, kube::Error> {
        let namespace = v.namespace().unwrap_or_default();
        let backup_name = v
            .status
            .as_ref()
            .and_then(|s| s.backup_ref.as_ref())
            .map(|r| r.name.clone())
            .unwrap_or_default();
        let backups: Api<MysqlBackup> = Api::namespaced(self.client.clone(), &namespace);
        let Some(backup) = backups.get_opt(&backup_name).await? else {
            let f = Failure {
                reason: build::BACKUP_NOT_FOUND,
                message: format!("status.backupRef.name: MysqlBackup {backup_name} was deleted"),
            };
            return self.fail(v, &f).await;
        };
        let job = match build::job(v, group.spec.backup.as_ref(), profile, &backup, &self.image) {
            Ok(j) => j,
            Err(f) => return self.fail(v, &f).await,
        };
        let job_name = job.metadata.name.clone().unwrap_or_default();
        let jobs: Api<Job> = Api::namespaced(self.client.clone(), &namespace);
        match jobs.create(&PostParams::default(), &job).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 409 => {}
            Err(e) => return Err(e),
        }
        self.patch_status(v, json!({ "phase": "Restoring", "jobName": job_name }))
            .await?;
        self.event(
            v,
            EventType::Normal,
            VERIFICATION_STARTED,
            &format!("restoring MysqlBackup {backup_name} with Job {job_name}"),
        )
        .await;
        Ok(Action::requeue(Duration::from_secs(15)))
    }

    /// Restoring: the Job's verdict.
    async fn observe(
        &self,
        v: &MysqlBackupVerification,
        profile: &BackupProfile,
    ) -> Result<Action, kube::Error> {
        let namespace = v.namespace().unwrap_or_default();
        let job_name = v
            .status
            .as_ref()
            .and_then(|s| s.job_name.clone())
            .unwrap_or_default();
        let jobs: Api<Job> = Api::namespaced(self.client.clone(), &namespace);
        let Some(job) = jobs.get_opt(&job_name).await? else {
            let f = Failure {
                reason: "JobFailed",
                message: format!("status.jobName: Job {namespace}/{job_name} no longer exists"),
            };
            return self.fail(v, &f).await;
        };
        let outcome = job_outcome(&job);
        if outcome == JobOutcome::Running {
            return Ok(Action::requeue(Duration::from_secs(15)));
        }
        // A reconcile woken by a Job event can start from a cached object older than the write that recorded
        // this outcome: read the phase from the API server, so that the outcome is counted once.
        let api: Api<MysqlBackupVerification> = Api::namespaced(self.client.clone(), &namespace);
        let fresh = api.get_status(&v.name_any()).await?;
        if !matches!(
            fresh.status.and_then(|s| s.phase),
            Some(VerificationPhase::Restoring | VerificationPhase::Checking)
        ) {
            return Ok(Action::await_change());
        }
        let text = termination_messages(&self.client, &namespace, &job_name).await?;
        let result = VerifyResult::parse_last(&text);
        let passed =
            outcome == JobOutcome::Complete && result.as_ref().is_some_and(|r| r.succeeded);
        let (reason, message) = match &result {
            Some(r) => (r.reason.clone(), r.message.clone()),
            None => (
                "JobFailed".to_owned(),
                format!(
                    "Job {job_name} ended without a BLOODRAVEN_VERIFY_COMPLETE line: {}",
                    text.lines()
                        .rev()
                        .find(|l| !l.trim().is_empty())
                        .unwrap_or("no message")
                ),
            ),
        };
        let completed = now();
        let started = v
            .status
            .as_ref()
            .and_then(|s| s.start_time.as_ref())
            .map_or(completed.0.as_second(), |t| t.0.as_second());
        let duration = (completed.0.as_second() - started).max(0);
        let mut status = json!({
            "completionTime": completed,
            "durationSeconds": duration,
            "message": message,
            "conditions": conditions(v, condition::VERIFIED, passed, if passed { "Verified" } else { &reason }, &message, &completed),
        });
        let mut replay_lag = None;
        if let Some(r) = &result {
            if r.sanity_ran {
                status["sanityCheck"] = json!({
                    "ran": true,
                    "durationMs": r.sanity_duration_ms,
                    "resultRow": r.sanity_result_row,
                    "error": r.sanity_error,
                });
            }
            if let Some(file) = &r.replayed_file {
                let ts = r
                    .replayed_timestamp
                    .as_deref()
                    .and_then(|t| t.parse::<k8s_openapi::jiff::Timestamp>().ok());
                replay_lag = ts.map(|t| completed.0.as_second() - t.as_second());
                status["replayedThroughBinlog"] = json!({
                    "file": file,
                    "position": r.replayed_position,
                    "timestamp": ts.map(Time),
                });
            }
        }
        let keep = v
            .spec
            .keep_on_failure
            .or_else(|| {
                profile
                    .verification
                    .as_ref()
                    .and_then(|p| p.keep_on_failure)
            })
            .unwrap_or(true);
        if !passed && keep {
            status["phase"] = json!("Failed");
            status["conditions"] = with_condition(
                &status["conditions"],
                v,
                condition::RESOURCES_CLEANED_UP,
                false,
                "KeptOnFailure",
                &format!("Job {job_name} and its PVC are kept for inspection (keepOnFailure)"),
                &completed,
            );
        } else {
            status["phase"] = json!("Cleaning");
        }
        self.patch_status(v, status).await?;
        metrics::global().encrypt_stages(
            &v.spec.failover_group_ref.name,
            &v.spec.profile_name,
            &text,
        );
        metrics::global().verification_finished(
            &v.spec.failover_group_ref.name,
            &v.spec.profile_name,
            passed,
            completed.0.as_second(),
            Some(duration as f64),
            replay_lag,
        );
        if passed {
            self.event(v, EventType::Normal, VERIFICATION_SUCCEEDED, &message)
                .await;
        } else {
            self.event(
                v,
                EventType::Warning,
                VERIFICATION_FAILED,
                &format!("{reason}: {message}"),
            )
            .await;
        }
        Ok(Action::requeue(Duration::from_millis(500)))
    }

    /// Cleaning: after the TTL, delete the Job and the PVC, then the final phase.
    async fn clean(
        &self,
        v: &MysqlBackupVerification,
        profile: &BackupProfile,
    ) -> Result<Action, kube::Error> {
        let namespace = v.namespace().unwrap_or_default();
        let status = v.status.clone().unwrap_or_default();
        let ttl = v
            .spec
            .ttl_seconds_after_finished
            .or_else(|| {
                profile
                    .verification
                    .as_ref()
                    .and_then(|p| p.ttl_seconds_after_finished)
            })
            .unwrap_or(0);
        if let Some(done) = &status.completion_time {
            let due = done.0.as_second() + i64::from(ttl.max(0));
            let left = due - now().0.as_second();
            if left > 0 {
                return Ok(Action::requeue(Duration::from_secs(left.unsigned_abs())));
            }
        }
        let params = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Background),
            ..DeleteParams::default()
        };
        if let Some(job) = &status.job_name {
            let jobs: Api<Job> = Api::namespaced(self.client.clone(), &namespace);
            match jobs.delete(job, &params).await {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
        if let Some(pvc) = &status.pvc_name {
            let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(self.client.clone(), &namespace);
            match pvcs.delete(pvc, &params).await {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
        let verified = status
            .conditions
            .as_deref()
            .unwrap_or_default()
            .iter()
            .any(|c| c.type_ == condition::VERIFIED && c.status == "True");
        let t = now();
        let conditions = conditions(
            v,
            condition::RESOURCES_CLEANED_UP,
            true,
            "Cleaned",
            "the Job and the PVC were deleted",
            &t,
        );
        self.patch_status(
            v,
            json!({
                "phase": if verified { "Succeeded" } else { "Failed" },
                "conditions": conditions,
            }),
        )
        .await?;
        Ok(Action::requeue(Duration::from_millis(500)))
    }

    /// Deletes finished runs of the profile beyond `keepSuccessful` / `keepFailures`.
    async fn retention(
        &self,
        v: &MysqlBackupVerification,
        profile: &BackupProfile,
    ) -> Result<(), kube::Error> {
        let namespace = v.namespace().unwrap_or_default();
        let policy = profile
            .verification
            .as_ref()
            .and_then(|p| p.retention_policy.as_ref());
        let keep = |n: Option<i32>, d: usize| n.map_or(d, |n| usize::try_from(n).unwrap_or(0));
        let keep_ok = keep(policy.and_then(|p| p.keep_successful), 30);
        let keep_failed = keep(policy.and_then(|p| p.keep_failures), 10);
        let api: Api<MysqlBackupVerification> = Api::namespaced(self.client.clone(), &namespace);
        let finished: Vec<Finished> = api
            .list(&ListParams::default())
            .await?
            .into_iter()
            .filter(|o| {
                o.spec.failover_group_ref.name == v.spec.failover_group_ref.name
                    && o.spec.profile_name == v.spec.profile_name
                    && o.metadata.deletion_timestamp.is_none()
            })
            .filter_map(|o| {
                let s = o.status.as_ref()?;
                let succeeded = match s.phase? {
                    VerificationPhase::Succeeded => true,
                    VerificationPhase::Failed => false,
                    _ => return None,
                };
                Some(Finished {
                    name: o.name_any(),
                    succeeded,
                    time: s.completion_time.as_ref().map_or(0, |t| t.0.as_second()),
                })
            })
            .collect();
        for name in build::retention(keep_ok, keep_failed, &finished) {
            match api.delete(&name, &DeleteParams::default()).await {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// A message naming the missing Secret of the profile's storage or passphrase, if any.
    async fn missing_secret(
        &self,
        namespace: &str,
        profile: &BackupProfile,
    ) -> Result<Option<String>, kube::Error> {
        let secrets: Api<Secret> = Api::namespaced(self.client.clone(), namespace);
        let mut needed = Vec::new();
        if let Some(s3) = &profile.storage.s3 {
            needed.push((
                s3.credentials_secret.clone(),
                format!(
                    "spec.backup.profiles[{}].storage.s3.credentialsSecret",
                    profile.name
                ),
            ));
        }
        if let Some(e) = &profile.encryption {
            needed.push((
                e.passphrase_secret.name.clone(),
                format!(
                    "spec.backup.profiles[{}].encryption.passphraseSecret",
                    profile.name
                ),
            ));
        }
        for (secret, field) in needed {
            if secrets.get_opt(&secret).await?.is_none() {
                return Ok(Some(format!(
                    "{field}: Secret {namespace}/{secret} not found"
                )));
            }
        }
        Ok(None)
    }

    async fn fail(&self, v: &MysqlBackupVerification, f: &Failure) -> Result<Action, kube::Error> {
        let t = now();
        self.patch_status(
            v,
            json!({
                "phase": "Failed",
                "message": f.message,
                "completionTime": t,
                "observedGeneration": v.metadata.generation,
                "conditions": conditions(v, condition::VERIFIED, false, f.reason, &f.message, &t),
            }),
        )
        .await?;
        metrics::global().verification_finished(
            &v.spec.failover_group_ref.name,
            &v.spec.profile_name,
            false,
            t.0.as_second(),
            None,
            None,
        );
        self.event(v, EventType::Warning, f.reason, &f.message)
            .await;
        Ok(Action::await_change())
    }

    async fn patch_status(
        &self,
        v: &MysqlBackupVerification,
        status: Value,
    ) -> Result<(), kube::Error> {
        super::patch_status(&self.client, v, status).await
    }

    async fn event(&self, v: &MysqlBackupVerification, type_: EventType, reason: &str, note: &str) {
        super::publish(&self.recorder, v, type_, reason, note).await;
    }
}

/// The termination messages of a Job's pods (init containers, then containers; last state, then current), joined.
pub(crate) async fn termination_messages(
    client: &Client,
    namespace: &str,
    job: &str,
) -> Result<String, kube::Error> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let list = pods
        .list(&ListParams::default().labels(&format!("job-name={job}")))
        .await?;
    let mut text = String::new();
    for pod in list {
        // Init containers first (a failed `decrypt-download` or `pitr-download` says why), then the main ones.
        let status = pod.status.unwrap_or_default();
        let all = status
            .init_container_statuses
            .unwrap_or_default()
            .into_iter()
            .chain(status.container_statuses.unwrap_or_default());
        for c in all {
            for state in [c.last_state, c.state].into_iter().flatten() {
                if let Some(m) = state.terminated.and_then(|t| t.message) {
                    text.push_str(&m);
                    text.push('\n');
                }
            }
        }
    }
    Ok(text)
}

fn conditions(
    v: &MysqlBackupVerification,
    type_: &str,
    status: bool,
    reason: &str,
    message: &str,
    now: &Time,
) -> Value {
    let current = v
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .map(|c| serde_json::to_value(c).unwrap_or(Value::Null))
        .unwrap_or(Value::Null);
    with_condition(&current, v, type_, status, reason, message, now)
}

fn with_condition(
    current: &Value,
    v: &MysqlBackupVerification,
    type_: &str,
    status: bool,
    reason: &str,
    message: &str,
    now: &Time,
) -> Value {
    let mut list: Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition> =
        serde_json::from_value(current.clone()).unwrap_or_default();
    bloodraven_api::conditions::set_condition(
        &mut list,
        bloodraven_api::conditions::new_condition(
            type_,
            status.into(),
            reason,
            message,
            v.metadata.generation,
            now.clone(),
        ),
    );
    serde_json::to_value(list).unwrap_or(Value::Null)
}
