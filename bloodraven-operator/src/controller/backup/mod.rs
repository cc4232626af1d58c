//! The `MysqlBackup` controller: one dump Job per backup, its status from the Job's result line, retention with
//! the artifact cleanup finalizer ([`run`]).
//!
//! ```text
//!   MysqlBackup ─▶ finalizer shipstream.io/mysqlbackup ── deleting ─▶ delete the artifact (S3), or
//!        │                                                             ArtifactCleanupSkipped (PVC, no group)
//!        ▼
//!   group? ──no──▶ Failed GroupNotFound      profile? ──no──▶ Failed ProfileNotFound
//!   source (override │ replica within maxLagSecondsForSource │ writable active) ──none──▶ Failed NoHealthySource
//!   Secrets present, Job renders ──no──▶ Failed BuildJobFailed
//!        ▼
//!   Job `<backup>-dump` (bloodraven dump) ─▶ Running, JobCreated, BackupStarted
//!        ▼ Job Complete: the pod's termination message (BLOODRAVEN_DUMP_COMPLETE) ─▶ Succeeded: GTID set, binlog
//!          position, size, location, encrypted; group status.lastBackupTime; retention of the profile
//!        ▼ Job Failed: Failed with the Job's error
//! ```
//!
//! The result travels in the container's termination message: `bloodraven dump` writes its result line to
//! `/dev/termination-log` and the kubelet copies it into the Pod's `status.containerStatuses[].state.terminated
//! .message` (`FallbackToLogsOnError` adds the log tail when the step died before writing), so the operator needs
//! no access to the kubelet's log endpoint. Every failure is a condition and a Warning event naming the field or
//! object at fault; a backup in a final phase is never retried, so a bad CR cannot loop.

pub mod build;
pub mod metrics;
pub mod retry;
pub mod schedules;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Pod, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{EventType, Recorder};
use kube::runtime::finalizer::{Event as Finalizer, finalizer};
use kube::{Api, Client, ResourceExt};
use serde_json::{Value, json};
use tokio::sync::watch;
use tracing::Instrument;

use bloodraven_api::backup::{BackupPhase, MysqlBackup};
use bloodraven_api::failovergroup::MysqlFailoverGroup;
use bloodraven_api::failovergroup::backup::{BackupProfile, StorageType};
use bloodraven_api::names::{condition, event, finalizer::MYSQLBACKUP};

use super::ManagerOptions;
use crate::jobs::env::{S3Keys, Storage};
use crate::jobs::result::DumpResult;
use crate::secret::Password;
use build::{Failure, JobInputs, JobOutcome, Retention, RetentionEntry};

/// How often a running backup is looked at again (the Job watch wakes it sooner).
const RUNNING_RECHECK: Duration = Duration::from_secs(15);
/// How often a finished backup runs retention again (for `maxAgeDays`).
const FINISHED_RECHECK: Duration = Duration::from_secs(300);
/// The image with the `bloodraven` binary when `BLOODRAVEN_OPERATOR_IMAGE` is not set.
pub const DEFAULT_IMAGE: &str = "ghcr.io/shipstream/bloodraven:latest";

/// An error of one reconcile; retried with a back-off.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A Kubernetes API call failed.
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// Adding or removing the finalizer failed.
    #[error("finalizer: {0}")]
    Finalizer(String),
}

struct Context {
    client: Client,
    options: ManagerOptions,
    recorder: Recorder,
    leader: watch::Receiver<bool>,
    image: String,
}

/// Runs the MysqlBackup controller until the process ends (the manager aborts it on shutdown).
pub async fn run(client: Client, options: ManagerOptions, leader: watch::Receiver<bool>) {
    let backups: Api<MysqlBackup> = super::scoped(&client, options.namespace.as_deref());
    let jobs: Api<Job> = super::scoped(&client, options.namespace.as_deref());
    let context = Arc::new(Context {
        recorder: super::recorder(&client),
        client,
        options,
        leader,
        image: super::job_image(),
    });
    super::run_owning_jobs(backups, jobs, context, reconcile, "MysqlBackup").await;
}

async fn reconcile(backup: Arc<MysqlBackup>, ctx: Arc<Context>) -> Result<Action, Error> {
    let namespace = backup.namespace().unwrap_or_default();
    let name = backup.name_any();
    let span = tracing::info_span!("reconcile", kind = "MysqlBackup", %namespace, %name);
    if !*ctx.leader.borrow() {
        return Ok(Action::requeue(Duration::from_secs(30)));
    }
    let api: Api<MysqlBackup> = Api::namespaced(ctx.client.clone(), &namespace);
    if let Err(e) = publish_cutoffs(&api, &namespace).await {
        tracing::debug!(error = %e, "cannot list backups for the PITR cutoff");
    }
    finalizer(&api, MYSQLBACKUP, backup, |step| async {
        match step {
            Finalizer::Apply(b) => ctx.apply(&b).await,
            Finalizer::Cleanup(b) => ctx.cleanup(&b).await,
        }
    })
    .instrument(span)
    .await
    .map_err(|e| Error::Finalizer(e.to_string()))
}

/// Publishes, for `/pitr-cutoff`, the earliest `completionTime` of the Succeeded backups of each group and profile
/// of `namespace` that are not being deleted (reference-formats §2.6).
async fn publish_cutoffs(api: &Api<MysqlBackup>, namespace: &str) -> Result<(), kube::Error> {
    let mut cutoffs: BTreeMap<(String, String), Time> = BTreeMap::new();
    for b in api.list(&ListParams::default()).await? {
        let Some(done) = b
            .status
            .as_ref()
            .filter(|s| s.phase == Some(BackupPhase::Succeeded))
            .and_then(|s| s.completion_time.clone())
        else {
            continue;
        };
        if b.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let key = (
            b.spec.failover_group_ref.name.clone(),
            b.spec.profile_name.clone(),
        );
        let slot = cutoffs.entry(key).or_insert_with(|| done.clone());
        if done.0 < slot.0 {
            *slot = done;
        }
    }
    let text = cutoffs
        .into_iter()
        .filter_map(|(k, t)| Some((k, serde_json::to_value(&t).ok()?.as_str()?.to_owned())))
        .collect();
    crate::http::PitrCutoffs::global().publish(namespace, text);
    Ok(())
}

impl Context {
    async fn apply(&self, backup: &MysqlBackup) -> Result<Action, kube::Error> {
        let namespace = backup.namespace().unwrap_or_default();
        let phase = backup.status.as_ref().and_then(|s| s.phase);
        let groups: Api<MysqlFailoverGroup> = Api::namespaced(self.client.clone(), &namespace);
        let group_name = &backup.spec.failover_group_ref.name;
        if matches!(phase, Some(BackupPhase::Succeeded | BackupPhase::Failed)) {
            if let Some(group) = groups.get_opt(group_name).await?
                && let Ok(profile) = build::profile(&backup.spec.profile_name, &group)
            {
                self.retention(backup, profile).await?;
            }
            return Ok(Action::requeue(FINISHED_RECHECK));
        }
        let Some(group) = groups.get_opt(group_name).await? else {
            let f = Failure {
                reason: event::GROUP_NOT_FOUND,
                message: format!(
                    "spec.failoverGroupRef.name: MysqlFailoverGroup {namespace}/{group_name} not found"
                ),
            };
            return self.fail(backup, &f).await;
        };
        let profile = match build::profile(&backup.spec.profile_name, &group) {
            Ok(p) => p.clone(),
            Err(f) => return self.fail(backup, &f).await,
        };
        match backup.status.as_ref().and_then(|s| s.job_name.clone()) {
            None => self.start(backup, &group, &profile).await,
            Some(job) => self.observe(backup, &group, &profile, &job).await,
        }
    }

    /// Chooses the source, checks the Secrets, creates the Job.
    async fn start(
        &self,
        backup: &MysqlBackup,
        group: &MysqlFailoverGroup,
        profile: &BackupProfile,
    ) -> Result<Action, kube::Error> {
        let namespace = backup.namespace().unwrap_or_default();
        let group_name = group.name_any();
        let (mysql_secret, field) = match &group.spec.credentials {
            Some(c) => match &c.backup_secret {
                Some(b) if !b.is_empty() => (b.clone(), "spec.credentials.backupSecret"),
                _ => (c.operator_secret.clone(), "spec.credentials.operatorSecret"),
            },
            None => {
                let f = Failure {
                    reason: event::BUILD_JOB_FAILED,
                    message: "spec.credentials.operatorSecret of the group is not set".into(),
                };
                return self.fail(backup, &f).await;
            }
        };
        let mut needed = vec![(mysql_secret.clone(), field.to_owned(), None)];
        if let Some(s3) = &profile.storage.s3 {
            needed.push((
                s3.credentials_secret.clone(),
                format!(
                    "spec.backup.profiles[{}].storage.s3.credentialsSecret",
                    profile.name
                ),
                None,
            ));
        }
        if let Some(enc) = &profile.encryption {
            needed.push((
                enc.passphrase_secret.name.clone(),
                format!(
                    "spec.backup.profiles[{}].encryption.passphraseSecret",
                    profile.name
                ),
                Some(enc.passphrase_secret.key_or_default().to_owned()),
            ));
        }
        let secrets: Api<Secret> = Api::namespaced(self.client.clone(), &namespace);
        for (secret, field, key) in needed {
            let problem = match secrets.get_opt(&secret).await? {
                None => Some(format!("{field}: Secret {namespace}/{secret} not found")),
                Some(s) => key
                    .filter(|k| !has_key(&s, k))
                    .map(|k| format!("{field}: Secret {namespace}/{secret} has no key {k:?}")),
            };
            if let Some(message) = problem {
                let f = Failure {
                    reason: event::BUILD_JOB_FAILED,
                    message,
                };
                return self.fail(backup, &f).await;
            }
        }
        let polled = group
            .status
            .as_ref()
            .and_then(|s| s.sites.as_ref())
            .is_some_and(|s| !s.is_empty());
        if !polled && backup.spec.source_site_override.is_none() {
            // A group created with its first backup: wait for its first poll instead of failing.
            let status = json!({
                "phase": "Pending",
                "message": format!("waiting for the first poll of MysqlFailoverGroup {namespace}/{group_name} to choose a source"),
            });
            self.patch_status(backup, status).await?;
            return Ok(Action::requeue(Duration::from_secs(2)));
        }
        let site = match build::choose_source(group, backup.spec.source_site_override.as_deref()) {
            Ok(s) => s,
            Err(f) => return self.fail(backup, &f).await,
        };
        let host = self
            .options
            .site_endpoints
            .resolve(&namespace, &group_name, &site);
        let inputs = JobInputs {
            backup,
            group,
            profile,
            site: &site,
            host,
            mysql_secret,
            image: &self.image,
        };
        let job = match build::job(&inputs) {
            Ok(j) => j,
            Err(f) => return self.fail(backup, &f).await,
        };
        let job_name = job.metadata.name.clone().unwrap_or_default();
        let jobs: Api<Job> = Api::namespaced(self.client.clone(), &namespace);
        match jobs.create(&PostParams::default(), &job).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 409 => {}
            Err(e) => return Err(e),
        }
        let now = Time(jiff_now());
        let active = group.status.as_ref().and_then(|s| s.active_site.clone());
        let status = json!({
            "phase": "Running",
            "jobName": job_name,
            "sourceSite": site,
            "activeSiteAtStart": active,
            "startTime": now,
            "storageType": profile.storage.type_,
            "attempt": retry::attempt_of(backup),
            "mysqlImage": group.spec.image,
            "observedGeneration": backup.metadata.generation,
            "message": format!("dumping site {site} with Job {job_name}"),
            "conditions": conditions(backup, condition::JOB_CREATED, true, "Created",
                &format!("Job {job_name} created"), &now),
        });
        self.patch_status(backup, status).await?;
        self.event(
            backup,
            EventType::Normal,
            event::BACKUP_STARTED,
            &format!("dumping site {site} with Job {job_name}"),
        )
        .await;
        Ok(Action::requeue(RUNNING_RECHECK))
    }

    /// Reads the Job's outcome and result line.
    async fn observe(
        &self,
        backup: &MysqlBackup,
        group: &MysqlFailoverGroup,
        profile: &BackupProfile,
        job_name: &str,
    ) -> Result<Action, kube::Error> {
        let namespace = backup.namespace().unwrap_or_default();
        let jobs: Api<Job> = Api::namespaced(self.client.clone(), &namespace);
        let Some(job) = jobs.get_opt(job_name).await? else {
            let f = Failure {
                reason: "Failed",
                message: format!("status.jobName: Job {namespace}/{job_name} no longer exists"),
            };
            return self.fail(backup, &f).await;
        };
        let outcome = build::job_outcome(&job);
        if outcome == JobOutcome::Running {
            return Ok(Action::requeue(RUNNING_RECHECK));
        }
        // A reconcile woken by a Job event can start from a cached MysqlBackup older than the write that recorded
        // this outcome: read the phase from the API server, so that the outcome is counted once.
        let api: Api<MysqlBackup> = Api::namespaced(self.client.clone(), &namespace);
        let fresh = api.get_status(&backup.name_any()).await?;
        if matches!(
            fresh.status.and_then(|s| s.phase),
            Some(BackupPhase::Succeeded | BackupPhase::Failed)
        ) {
            return Ok(Action::requeue(FINISHED_RECHECK));
        }
        let messages = self.termination_messages(&namespace, job_name).await?;
        // A Job with an `encrypt-upload` step (as the Go operator renders it) reports its encrypt stage.
        metrics::global().encrypt_stages(
            &backup.spec.failover_group_ref.name,
            &backup.spec.profile_name,
            &messages,
        );
        let now = Time(jiff_now());
        if let Some(note) = in_flight_failover(backup, group) {
            self.event(backup, EventType::Normal, event::IN_FLIGHT_FAILOVER, &note)
                .await;
        }
        match (outcome, DumpResult::parse_last(&messages)) {
            (JobOutcome::Complete, Some(result)) => {
                let mut status = build::succeeded_status(&result, profile.storage.type_);
                status["completionTime"] = json!(now);
                status["message"] = json!(format!(
                    "dumped {} ({}) at GTID set {:?}",
                    result.location,
                    status["size"].as_str().unwrap_or(""),
                    result.gtid_executed
                ));
                status["conditions"] = conditions(
                    backup,
                    condition::READY,
                    true,
                    "Succeeded",
                    "backup complete",
                    &now,
                );
                self.patch_status(backup, status).await?;
                self.record(backup, true, Some(result.size_bytes));
                self.event(
                    backup,
                    EventType::Normal,
                    event::BACKUP_SUCCEEDED,
                    &format!("{} ({} bytes)", result.location, result.size_bytes),
                )
                .await;
                let groups: Api<MysqlFailoverGroup> =
                    Api::namespaced(self.client.clone(), &namespace);
                let patch = json!({ "status": { "lastBackupTime": now } });
                if let Err(e) = groups
                    .patch_status(
                        &group.name_any(),
                        &PatchParams::default(),
                        &Patch::Merge(&patch),
                    )
                    .await
                {
                    tracing::warn!(error = %e, "cannot stamp the group's status.lastBackupTime");
                }
                Ok(Action::requeue(Duration::from_secs(1)))
            }
            (JobOutcome::Complete, None) => {
                let f = Failure {
                    reason: "Failed",
                    message: format!(
                        "Job {job_name} completed without a BLOODRAVEN_DUMP_COMPLETE line in its termination message"
                    ),
                };
                self.fail(backup, &f).await
            }
            _ => {
                let why = messages
                    .lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .map(str::to_owned)
                    .or_else(|| {
                        job.status
                            .as_ref()
                            .and_then(|s| s.conditions.as_ref())
                            .and_then(|c| c.iter().find(|c| c.type_ == "Failed"))
                            .and_then(|c| c.message.clone())
                    })
                    .unwrap_or_else(|| "no message".into());
                let f = Failure {
                    reason: "Failed",
                    message: format!("Job {job_name} failed: {why}"),
                };
                self.fail(backup, &f).await
            }
        }
    }

    /// The termination messages of the Job's pods (current and last state), joined.
    async fn termination_messages(
        &self,
        namespace: &str,
        job: &str,
    ) -> Result<String, kube::Error> {
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        let list = pods
            .list(&ListParams::default().labels(&format!("job-name={job}")))
            .await?;
        let mut text = String::new();
        for pod in list {
            let statuses = pod
                .status
                .and_then(|s| s.container_statuses)
                .unwrap_or_default();
            for c in statuses {
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

    /// Deletes the profile's backups beyond its retention.
    async fn retention(
        &self,
        backup: &MysqlBackup,
        profile: &BackupProfile,
    ) -> Result<(), kube::Error> {
        let namespace = backup.namespace().unwrap_or_default();
        let api: Api<MysqlBackup> = Api::namespaced(self.client.clone(), &namespace);
        let all = api.list(&ListParams::default()).await?;
        let entries: Vec<RetentionEntry> = all
            .iter()
            .filter(|b| {
                b.spec.failover_group_ref.name == backup.spec.failover_group_ref.name
                    && b.spec.profile_name == backup.spec.profile_name
                    && b.metadata.deletion_timestamp.is_none()
            })
            .filter_map(|b| {
                let s = b.status.as_ref()?;
                let succeeded = match s.phase? {
                    BackupPhase::Succeeded => true,
                    BackupPhase::Failed => false,
                    _ => return None,
                };
                let time = s
                    .completion_time
                    .as_ref()
                    .or(b.metadata.creation_timestamp.as_ref())
                    .map_or(0, |t| t.0.as_second());
                Some(RetentionEntry {
                    name: b.name_any(),
                    succeeded,
                    time,
                })
            })
            .collect();
        let now = jiff_now().as_second();
        for (name, why) in build::retention(Retention::of(profile), &entries, now) {
            tracing::info!(backup = %name, reason = %why, "retention deletes a backup");
            match api.delete(&name, &DeleteParams::default()).await {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// The finalizer: deletes the artifact of a succeeded backup (S3); says why when it cannot.
    async fn cleanup(&self, backup: &MysqlBackup) -> Result<Action, kube::Error> {
        let Some(location) = backup
            .status
            .as_ref()
            .filter(|s| s.phase == Some(BackupPhase::Succeeded))
            .and_then(|s| s.location.clone())
        else {
            return Ok(Action::await_change());
        };
        if let Err(why) = self.delete_artifact(backup, &location).await {
            self.event(
                backup,
                EventType::Warning,
                event::ARTIFACT_CLEANUP_SKIPPED,
                &format!("artifact {location} kept: {why}"),
            )
            .await;
        }
        Ok(Action::await_change())
    }

    async fn delete_artifact(&self, backup: &MysqlBackup, location: &str) -> Result<(), String> {
        let namespace = backup.namespace().unwrap_or_default();
        let groups: Api<MysqlFailoverGroup> = Api::namespaced(self.client.clone(), &namespace);
        let group = groups
            .get_opt(&backup.spec.failover_group_ref.name)
            .await
            .map_err(|e| e.to_string())?
            .ok_or("the group is gone, so is the profile's storage configuration")?;
        let profile = build::profile(&backup.spec.profile_name, &group).map_err(|f| f.message)?;
        if profile.storage.type_ == StorageType::Pvc {
            return Err("PVC artifacts are not reachable from the operator".into());
        }
        let s3 = profile
            .storage
            .s3
            .as_ref()
            .ok_or("the profile has no storage.s3")?;
        let secrets: Api<Secret> = Api::namespaced(self.client.clone(), &namespace);
        let secret = secrets
            .get_opt(&s3.credentials_secret)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("Secret {namespace}/{} not found", s3.credentials_secret))?;
        let value = |k: &str| secret_value(&secret, k);
        let storage = Storage::S3 {
            bucket: s3.bucket.clone(),
            endpoint: s3.endpoint_url.clone(),
            region: s3.region.clone().or_else(|| value("AWS_REGION")),
            creds_dir: None,
            keys: value("AWS_ACCESS_KEY_ID").map(|id| S3Keys {
                access_key_id: id,
                secret_access_key: Password::from(
                    value("AWS_SECRET_ACCESS_KEY").unwrap_or_default(),
                ),
                session_token: value("AWS_SESSION_TOKEN").map(Password::from),
            }),
        };
        let trimmed = location
            .strip_prefix("s3://")
            .map(|r| r.split_once('/').map_or("", |(_, k)| k))
            .unwrap_or(location)
            .trim_matches('/');
        let (parent, name) = trimmed.rsplit_once('/').unwrap_or(("", trimmed));
        let place = storage.open(parent).map_err(|e| e.to_string())?;
        let n = bloodraven_backup::retention::delete_dump(place.store(), place.prefix(), name)
            .await
            .map_err(|e| format!("{e}"))?;
        tracing::info!(%location, objects = n, "deleted the backup's artifact");
        Ok(())
    }

    /// Marks the backup Failed with the reason, as a condition and a Warning event.
    async fn fail(&self, backup: &MysqlBackup, f: &Failure) -> Result<Action, kube::Error> {
        let now = Time(jiff_now());
        let status = json!({
            "phase": "Failed",
            "message": f.message,
            "completionTime": now,
            "observedGeneration": backup.metadata.generation,
            "conditions": conditions(backup, condition::READY, false, f.reason, &f.message, &now),
        });
        self.patch_status(backup, status).await?;
        self.record(backup, false, None);
        self.event(backup, EventType::Warning, f.reason, &f.message)
            .await;
        if f.reason == "Failed" {
            self.event(backup, EventType::Warning, event::BACKUP_FAILED, &f.message)
                .await;
        }
        Ok(Action::requeue(Duration::from_secs(1)))
    }

    /// Records a final phase in the `bloodraven_backup_*` metrics.
    fn record(&self, backup: &MysqlBackup, succeeded: bool, size: Option<u64>) {
        let now = jiff_now().as_second();
        let duration = backup
            .status
            .as_ref()
            .and_then(|s| s.start_time.as_ref())
            .map(|t| (now - t.0.as_second()).max(0) as f64);
        metrics::global().backup_finished(
            &backup.spec.failover_group_ref.name,
            &backup.spec.profile_name,
            succeeded,
            now,
            duration,
            size,
        );
    }

    async fn patch_status(&self, backup: &MysqlBackup, status: Value) -> Result<(), kube::Error> {
        super::patch_status(&self.client, backup, status).await
    }

    async fn event(&self, backup: &MysqlBackup, type_: EventType, reason: &str, note: &str) {
        super::publish(&self.recorder, backup, type_, reason, note).await;
    }
}

/// When the group's active site is no longer the one the backup started under, what to tell the backup owner: the
/// dump is consistent at its own GTID set, but it was taken while the primary moved.
pub fn in_flight_failover(backup: &MysqlBackup, group: &MysqlFailoverGroup) -> Option<String> {
    let at_start = backup.status.as_ref()?.active_site_at_start.as_deref()?;
    let now = group.status.as_ref()?.active_site.as_deref()?;
    (at_start != now).then(|| {
        let source = backup
            .status
            .as_ref()
            .and_then(|s| s.source_site.as_deref())
            .unwrap_or("?");
        format!(
            "the primary moved from {at_start} to {now} while this backup ran from {source}; the dump is \
             consistent at its own GTID set, and the next backup will follow {now}"
        )
    })
}

/// The backup's conditions with `type_` set (the others kept).
fn conditions(
    backup: &MysqlBackup,
    type_: &str,
    status: bool,
    reason: &str,
    message: &str,
    now: &Time,
) -> Value {
    let mut list = backup
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    bloodraven_api::conditions::set_condition(
        &mut list,
        bloodraven_api::conditions::new_condition(
            type_,
            status.into(),
            reason,
            message,
            backup.metadata.generation,
            now.clone(),
        ),
    );
    serde_json::to_value(list).unwrap_or(Value::Null)
}

fn has_key(secret: &Secret, key: &str) -> bool {
    secret.data.as_ref().is_some_and(|d| d.contains_key(key))
        || secret
            .string_data
            .as_ref()
            .is_some_and(|d| d.contains_key(key))
}

pub(crate) fn secret_value(secret: &Secret, key: &str) -> Option<String> {
    let data: BTreeMap<String, Vec<u8>> = secret
        .data
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.0))
        .collect();
    data.get(key)
        .map(|v| String::from_utf8_lossy(v).trim().to_owned())
        .filter(|v| !v.is_empty())
}

fn jiff_now() -> k8s_openapi::jiff::Timestamp {
    k8s_openapi::jiff::Timestamp::now()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backup(at_start: Option<&str>) -> MysqlBackup {
        serde_json::from_value(json!({
            "apiVersion": "shipstream.io/v1alpha1", "kind": "MysqlBackup",
            "metadata": { "name": "orders-1", "namespace": "shop" },
            "spec": { "failoverGroupRef": { "name": "orders" }, "profileName": "nightly" },
            "status": { "phase": "Running", "sourceSite": "pdx", "activeSiteAtStart": at_start },
        }))
        .unwrap()
    }

    fn group(active: &str) -> MysqlFailoverGroup {
        serde_json::from_value(json!({
            "apiVersion": "shipstream.io/v1alpha1", "kind": "MysqlFailoverGroup",
            "metadata": { "name": "orders", "namespace": "shop" },
            "spec": { "credentials": { "operatorSecret": "s" }, "dns": { "hostname": "h" }, "sites": [] },
            "status": { "activeSite": active },
        }))
        .unwrap()
    }

    #[test]
    fn a_failover_during_the_backup_is_reported_once_it_ends() {
        let note = in_flight_failover(&backup(Some("iad")), &group("pdx")).unwrap();
        assert!(
            note.contains("from iad to pdx") && note.contains("ran from pdx"),
            "{note}"
        );
        assert_eq!(
            in_flight_failover(&backup(Some("iad")), &group("iad")),
            None
        );
        assert_eq!(in_flight_failover(&backup(None), &group("pdx")), None);
    }
}
