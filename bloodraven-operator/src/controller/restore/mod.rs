//! The `initFromBackup` restore of a group ([`run`]): one restore Job per group, `status.restore` through
//! Pending → Running → Succeeded | Failed, the restore events and metrics. Automatic bootstrap of the group waits
//! until the restore has Succeeded ([`build::in_flight`], read by the group's runner as a gate).
//!
//! ```text
//!   spec.initFromBackup ──unset──▶ status.restore cleared
//!        │ set, not Succeeded
//!        ▼
//!   target site (writable active site, else the seed site unless it is read-only) ──none──▶ Pending,
//!        │                                                     RestoreTargetUnavailable (W); again in 30 s
//!   its server up (Deployment ready, or the group's poll reached it) ──no──▶ Pending
//!   Job mysql-<group>-<site>-restore exists? ──no──▶ source readable, passphrase known, Secrets present, Job renders
//!        │                                              ──no──▶ Failed + RestoreBuildFailed (W) naming the field;
//!        │                                                      looked at again every 30 s (fix, and it goes on)
//!        │                                              ──yes─▶ create it: Running, RestoreStarted
//!        ▼ Job Complete: BLOODRAVEN_RESTORE_COMPLETE from the termination message ─▶ Succeeded, RestoreSucceeded,
//!          bloodraven_restore_* metrics
//!        ▼ Job Failed ─▶ Failed with the step's last line, RestoreFailed (W); no retry: delete the Job to run again
//! ```
//!
//! The Job runs `pitr-download` (with `spec.initFromBackup.pointInTime`) and `decrypt-download` (encrypted
//! sources) as init containers, then `bloodraven restore` — the Go operator's Job layout and environment.

pub mod build;
pub mod in_place;

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{EventType, Recorder};
use kube::{Api, Client, ResourceExt};
use serde_json::{Value, json};
use tokio::sync::watch;
use tracing::Instrument;

use bloodraven_api::backup::{BackupPhase, MysqlBackup};
use bloodraven_api::failovergroup::MysqlFailoverGroup;
use bloodraven_api::failovergroup::status::{RestoreDetails, RestoreStatus};
use bloodraven_api::names::event;
use bloodraven_backup::object_store::ObjectStoreExt;

use super::ManagerOptions;
use super::backup::build::{Failure, JobOutcome, job_outcome};
use super::backup::metrics;
use crate::jobs::env::{S3Keys, Storage};
use crate::secret::Password;

/// How often a running restore is looked at again (the Job watch wakes it sooner).
const RUNNING_RECHECK: Duration = Duration::from_secs(15);
/// How often a restore that cannot start yet is looked at again (Secrets and buckets are not watched).
const BLOCKED_RECHECK: Duration = Duration::from_secs(30);
/// How long the look at an S3 source may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(20);

struct Context {
    client: Client,
    options: ManagerOptions,
    recorder: Recorder,
    leader: watch::Receiver<bool>,
    image: String,
}

/// Runs the restore reconciler until the process ends (the manager aborts it on shutdown).
pub async fn run(client: Client, options: ManagerOptions, leader: watch::Receiver<bool>) {
    let groups: Api<MysqlFailoverGroup> = super::scoped(&client, options.namespace.as_deref());
    let jobs: Api<Job> = super::scoped(&client, options.namespace.as_deref());
    let context = Arc::new(Context {
        recorder: super::recorder(&client),
        client,
        options,
        leader,
        image: super::job_image(),
    });
    super::run_owning_jobs(
        groups,
        jobs,
        context,
        reconcile,
        "MysqlFailoverGroup (restore)",
    )
    .await;
}

async fn reconcile(
    group: Arc<MysqlFailoverGroup>,
    ctx: Arc<Context>,
) -> Result<Action, kube::Error> {
    let namespace = group.namespace().unwrap_or_default();
    let name = group.name_any();
    let span = tracing::info_span!("restore", kind = "MysqlFailoverGroup", %namespace, %name);
    ctx.apply(&group).instrument(span).await
}

fn current(group: &MysqlFailoverGroup) -> Option<&RestoreStatus> {
    group.status.as_ref().and_then(|s| s.restore.as_ref())
}

impl Context {
    async fn apply(&self, group: &MysqlFailoverGroup) -> Result<Action, kube::Error> {
        if !*self.leader.borrow() || group.metadata.deletion_timestamp.is_some() {
            return Ok(Action::requeue(Duration::from_secs(60)));
        }
        let namespace = group.namespace().unwrap_or_default();
        let group_name = group.name_any();
        if group.spec.init_from_backup.is_none() {
            if current(group).is_some() {
                self.patch_restore(group, Value::Null).await?;
            }
            return Ok(Action::await_change());
        }
        let now_phase = current(group).and_then(|r| r.phase);
        if now_phase == Some(BackupPhase::Succeeded) {
            return Ok(Action::await_change());
        }
        let site = match build::target_site(group) {
            Ok(s) => s,
            Err(message) => {
                if current(group).and_then(|r| r.details.message.as_deref()) != Some(&message) {
                    self.event(
                        group,
                        EventType::Warning,
                        event::RESTORE_TARGET_UNAVAILABLE,
                        &message,
                    )
                    .await;
                }
                self.set(
                    group,
                    BackupPhase::Pending,
                    RestoreDetails {
                        message: Some(message),
                        ..RestoreDetails::default()
                    },
                )
                .await?;
                return Ok(Action::requeue(BLOCKED_RECHECK));
            }
        };
        let job_name = build::job_name(&group_name, &site);
        let jobs: Api<Job> = Api::namespaced(self.client.clone(), &namespace);
        match jobs.get_opt(&job_name).await? {
            None => self.start(group, &namespace, &site, &jobs).await,
            Some(job) => self.observe(group, &namespace, &site, &job).await,
        }
    }

    /// Creates the restore Job once its target is up and everything it needs is there.
    async fn start(
        &self,
        group: &MysqlFailoverGroup,
        namespace: &str,
        site: &str,
        jobs: &Api<Job>,
    ) -> Result<Action, kube::Error> {
        let group_name = group.name_any();
        let deployment = bloodraven_api::names::object::site(&group_name, site);
        let deployments: Api<Deployment> = Api::namespaced(self.client.clone(), namespace);
        let ready = deployments
            .get_opt(&deployment)
            .await?
            .and_then(|d| d.status)
            .and_then(|s| s.ready_replicas)
            .unwrap_or(0)
            >= 1;
        if !build::target_ready(group, site, ready) {
            self.set(group, BackupPhase::Pending, RestoreDetails {
                target_site: Some(site.to_owned()),
                message: Some(format!(
                    "waiting for the target site's MySQL server (Deployment {namespace}/{deployment}) to be ready"
                )),
                ..RestoreDetails::default()
            })
            .await?;
            return Ok(Action::requeue(Duration::from_secs(5)));
        }
        let Some(spec) = &group.spec.init_from_backup else {
            return Ok(Action::await_change());
        };
        let backup = self.source_backup(group, namespace).await?;
        let source_encrypted = match &spec.source.s3 {
            Some(s3) => match self.probe_s3(namespace, s3).await? {
                Ok(encrypted) => Some(encrypted),
                Err(message) => return self.build_failed(group, site, message).await,
            },
            None => None,
        };
        let host = self
            .options
            .site_endpoints
            .resolve(namespace, &group_name, site);
        let inputs = build::Inputs {
            group,
            site,
            host,
            backup: backup.as_ref(),
            image: &self.image,
            source_encrypted,
        };
        let rendered = match build::job(&inputs) {
            Ok(r) => r,
            Err(f) => return self.build_failed(group, site, f.message).await,
        };
        let secrets: Api<Secret> = Api::namespaced(self.client.clone(), namespace);
        for need in &rendered.secrets {
            let problem = match secrets.get_opt(&need.name).await? {
                None => Some(format!(
                    "{}: Secret {namespace}/{} not found",
                    need.field, need.name
                )),
                Some(s) => need.key.as_ref().filter(|k| !has_key(&s, k)).map(|k| {
                    format!(
                        "{}: Secret {namespace}/{} has no key {k:?}",
                        need.field, need.name
                    )
                }),
            };
            if let Some(message) = problem {
                return self.build_failed(group, site, message).await;
            }
        }
        let created = jobs.create(&PostParams::default(), &rendered.job).await?;
        let name = created.name_any();
        let details = RestoreDetails {
            job_name: Some(name.clone()),
            target_site: Some(site.to_owned()),
            start_time: Some(Time(now())),
            message: Some("restore Job created".into()),
            ..build::source_details(backup.as_ref())
        };
        self.set(group, BackupPhase::Running, details).await?;
        self.event(
            group,
            EventType::Normal,
            event::RESTORE_STARTED,
            &format!("created restore Job {name} targeting site {site}"),
        )
        .await;
        tracing::info!(job = %name, %site, "restore Job created");
        Ok(Action::requeue(RUNNING_RECHECK))
    }

    /// The MysqlBackup `spec.initFromBackup.source.mysqlBackupRef` names, if it names one and it exists.
    async fn source_backup(
        &self,
        group: &MysqlFailoverGroup,
        namespace: &str,
    ) -> Result<Option<MysqlBackup>, kube::Error> {
        let reference = group
            .spec
            .init_from_backup
            .as_ref()
            .and_then(|i| i.source.mysql_backup_ref.as_ref());
        match reference {
            Some(r) => {
                let api: Api<MysqlBackup> = Api::namespaced(self.client.clone(), namespace);
                api.get_opt(&r.name).await
            }
            None => Ok(None),
        }
    }

    /// Follows the Job to its outcome.
    async fn observe(
        &self,
        group: &MysqlFailoverGroup,
        namespace: &str,
        site: &str,
        job: &Job,
    ) -> Result<Action, kube::Error> {
        let job_name = job.name_any();
        let previous = current(group).cloned().unwrap_or_default();
        let ours = previous.details.job_name.as_deref() == Some(job_name.as_str());
        let start_time = previous
            .details
            .start_time
            .clone()
            .filter(|_| ours)
            .or_else(|| job.status.as_ref().and_then(|s| s.start_time.clone()))
            .unwrap_or_else(|| Time(now()));
        // A status that does not name this Job yet (read before the write that created it landed, or written
        // by an earlier run) has no source metadata for it: take it from the backup again.
        let base = if ours {
            previous.details.clone()
        } else {
            build::source_details(self.source_backup(group, namespace).await?.as_ref())
        };
        let source = RestoreDetails {
            job_name: Some(job_name.clone()),
            target_site: Some(site.to_owned()),
            start_time: Some(start_time.clone()),
            ..base
        };
        match job_outcome(job) {
            JobOutcome::Running => {
                if previous.phase != Some(BackupPhase::Running) || !ours {
                    self.set(
                        group,
                        BackupPhase::Running,
                        RestoreDetails {
                            message: Some("restore Job running".into()),
                            ..source
                        },
                    )
                    .await?;
                }
                Ok(Action::requeue(RUNNING_RECHECK))
            }
            JobOutcome::Failed => {
                if previous.phase == Some(BackupPhase::Failed) && ours
                    || self
                        .outcome_recorded(group, namespace, &job_name, BackupPhase::Failed)
                        .await?
                {
                    // Final until the Job is deleted (the Job watch wakes us then).
                    return Ok(Action::await_change());
                }
                let text =
                    super::verification::termination_messages(&self.client, namespace, &job_name)
                        .await?;
                self.record_decrypt(group, namespace, &text).await;
                let why = text
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
                let message = format!(
                    "restore Job {job_name} failed: {why} (delete the Job to run the restore again)"
                );
                self.set(
                    group,
                    BackupPhase::Failed,
                    RestoreDetails {
                        completion_time: Some(Time(now())),
                        message: Some(message.clone()),
                        ..source
                    },
                )
                .await?;
                self.event(group, EventType::Warning, event::RESTORE_FAILED, &message)
                    .await;
                tracing::warn!(job = %job_name, %why, "restore failed");
                Ok(Action::await_change())
            }
            JobOutcome::Complete => {
                if self
                    .outcome_recorded(group, namespace, &job_name, BackupPhase::Succeeded)
                    .await?
                {
                    return Ok(Action::await_change());
                }
                let text =
                    super::verification::termination_messages(&self.client, namespace, &job_name)
                        .await?;
                self.record_decrypt(group, namespace, &text).await;
                let completion = Time(now());
                let (details, message) = match build::parse_restore_complete(&text) {
                    Some(fields) => {
                        let d = build::completed_details(&source, &fields);
                        let message = format!(
                            "restore Job {job_name} completed: target GTID set {:?}{}",
                            d.target_gtid_executed.as_deref().unwrap_or(""),
                            match (&d.pitr_stop_datetime, d.pitr_replayed_binlog_count) {
                                (Some(t), n) => format!(
                                    ", replayed {} archived binlog(s) up to {t}",
                                    n.unwrap_or(0)
                                ),
                                _ => String::new(),
                            }
                        );
                        (d, message)
                    }
                    None => (
                        RestoreDetails::default(),
                        format!("restore Job {job_name} completed"),
                    ),
                };
                let details = RestoreDetails {
                    job_name: source.job_name.clone(),
                    target_site: source.target_site.clone(),
                    start_time: Some(start_time.clone()),
                    completion_time: Some(completion.clone()),
                    message: Some(message.clone()),
                    ..details
                };
                let size = details.source_size_bytes;
                self.set(group, BackupPhase::Succeeded, details).await?;
                let duration = (completion.0.as_second() - start_time.0.as_second()).max(0) as f64;
                metrics::global().restore_succeeded(
                    namespace,
                    &group.name_any(),
                    build::KIND_INIT_FROM_BACKUP,
                    site,
                    completion.0.as_second(),
                    duration,
                    size.and_then(|s| u64::try_from(s).ok()),
                );
                self.event(group, EventType::Normal, event::RESTORE_SUCCEEDED, &message)
                    .await;
                tracing::info!(job = %job_name, "restore succeeded");
                Ok(Action::await_change())
            }
        }
    }

    /// Whether the group's status, read from the API server rather than the cache, already records `job_name`
    /// ending in `phase`. A reconcile woken by a Job event can start from a cached group older than the write that
    /// recorded the outcome; it must not count the outcome (metrics, events) a second time.
    async fn outcome_recorded(
        &self,
        group: &MysqlFailoverGroup,
        namespace: &str,
        job_name: &str,
        phase: BackupPhase,
    ) -> Result<bool, kube::Error> {
        let api: Api<MysqlFailoverGroup> = Api::namespaced(self.client.clone(), namespace);
        let fresh = api.get_status(&group.name_any()).await?;
        Ok(current(&fresh).is_some_and(|r| {
            r.phase == Some(phase) && r.details.job_name.as_deref() == Some(job_name)
        }))
    }

    /// Records the Job's `decrypt-download` stage (`BLOODRAVEN_ENCRYPT_METRICS`) under the group and the profile of
    /// the source MysqlBackup (empty for an S3 or PVC source, which has no profile).
    async fn record_decrypt(&self, group: &MysqlFailoverGroup, namespace: &str, text: &str) {
        let source = group
            .spec
            .init_from_backup
            .as_ref()
            .and_then(|s| s.source.mysql_backup_ref.as_ref());
        let profile = match source {
            Some(r) => {
                let api: Api<MysqlBackup> = Api::namespaced(self.client.clone(), namespace);
                match api.get_opt(&r.name).await {
                    Ok(b) => b.map(|b| b.spec.profile_name).unwrap_or_default(),
                    Err(e) => {
                        tracing::debug!(error = %e, "cannot read the source backup's profile");
                        String::new()
                    }
                }
            }
            None => String::new(),
        };
        metrics::global().encrypt_stages(&group.name_any(), &profile, text);
    }

    /// Records a restore that cannot start: Failed with the message, `RestoreBuildFailed` when the message is new.
    async fn build_failed(
        &self,
        group: &MysqlFailoverGroup,
        site: &str,
        message: String,
    ) -> Result<Action, kube::Error> {
        let f = Failure {
            reason: event::RESTORE_BUILD_FAILED,
            message,
        };
        let previous = current(group);
        let repeated = previous.and_then(|r| r.phase) == Some(BackupPhase::Failed)
            && previous.and_then(|r| r.details.message.as_deref()) == Some(f.message.as_str());
        if !repeated {
            self.set(
                group,
                BackupPhase::Failed,
                RestoreDetails {
                    target_site: Some(site.to_owned()),
                    message: Some(f.message.clone()),
                    ..RestoreDetails::default()
                },
            )
            .await?;
            self.event(group, EventType::Warning, f.reason, &f.message)
                .await;
            tracing::warn!(message = %f.message, "restore cannot start");
        }
        Ok(Action::requeue(BLOCKED_RECHECK))
    }

    /// Whether the `s3` source holds the encryption marker; `Err` names the field when the bucket or its
    /// credentials cannot be read, or no dump is there.
    async fn probe_s3(
        &self,
        namespace: &str,
        s3: &bloodraven_api::failovergroup::backup::S3Storage,
    ) -> Result<Result<bool, String>, kube::Error> {
        probe_s3(&self.client, "spec.initFromBackup.source.s3", namespace, s3).await
    }

    /// Writes `status.restore` (merge patch) when it differs from what is there.
    async fn set(
        &self,
        group: &MysqlFailoverGroup,
        phase: BackupPhase,
        details: RestoreDetails,
    ) -> Result<(), kube::Error> {
        let next = RestoreStatus {
            phase: Some(phase),
            details,
        };
        if current(group) == Some(&next) {
            return Ok(());
        }
        // A whole replacement of status.restore: fields of an earlier attempt must not linger.
        self.patch_restore(group, Value::Null).await?;
        self.patch_restore(group, serde_json::to_value(&next).unwrap_or(Value::Null))
            .await
    }

    async fn patch_restore(
        &self,
        group: &MysqlFailoverGroup,
        restore: Value,
    ) -> Result<(), kube::Error> {
        let api: Api<MysqlFailoverGroup> =
            Api::namespaced(self.client.clone(), &group.namespace().unwrap_or_default());
        match api
            .patch_status(
                &group.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&json!({ "status": { "restore": restore } })),
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn event(&self, group: &MysqlFailoverGroup, type_: EventType, reason: &str, note: &str) {
        super::publish(&self.recorder, group, type_, reason, note).await;
    }
}

/// Whether the `s3` source holds the encryption marker; `Err` names the field when the bucket or its
/// credentials cannot be read, or no dump is there.
pub(super) async fn probe_s3(
    client: &Client,
    field: &str,
    namespace: &str,
    s3: &bloodraven_api::failovergroup::backup::S3Storage,
) -> Result<Result<bool, String>, kube::Error> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let Some(secret) = secrets.get_opt(&s3.credentials_secret).await? else {
        return Ok(Err(format!(
            "{field}.credentialsSecret: Secret {namespace}/{} not found",
            s3.credentials_secret
        )));
    };
    let value = |k: &str| {
        secret
            .data
            .as_ref()
            .and_then(|d| d.get(k))
            .map(|v| String::from_utf8_lossy(&v.0).trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let keys = match (value("AWS_ACCESS_KEY_ID"), value("AWS_SECRET_ACCESS_KEY")) {
        (Some(id), Some(secret_key)) => Some(S3Keys {
            access_key_id: id,
            secret_access_key: Password::from(secret_key),
            session_token: value("AWS_SESSION_TOKEN").map(Password::from),
        }),
        _ => None,
    };
    let storage = Storage::S3 {
        bucket: s3.bucket.clone(),
        endpoint: s3.endpoint_url.clone(),
        region: s3.region.clone().or_else(|| value("AWS_REGION")),
        creds_dir: None,
        keys,
    };
    let prefix = s3.prefix.as_deref().unwrap_or("").trim_matches('/');
    let location = match storage.open(prefix) {
        Ok(l) => l,
        Err(e) => return Ok(Err(format!("{field}: {e}"))),
    };
    let bucket = &s3.bucket;
    let marker = location.key("BLOODRAVEN_ENCRYPTION.json");
    let head = tokio::time::timeout(PROBE_TIMEOUT, location.store().head(&marker)).await;
    let answer = match head {
        Err(_) => Err(format!(
            "{field}: bucket {bucket:?} did not answer within {} s",
            PROBE_TIMEOUT.as_secs()
        )),
        Ok(Ok(_)) => Ok(true),
        Ok(Err(bloodraven_backup::object_store::Error::NotFound { .. })) => {
            let listed = tokio::time::timeout(
                PROBE_TIMEOUT,
                location
                    .store()
                    .list_with_delimiter(Some(location.prefix())),
            )
            .await;
            match listed {
                Ok(Ok(l)) if !l.objects.is_empty() => Ok(false),
                Ok(Ok(_)) => Err(format!(
                    "{field}.prefix: no dump under s3://{bucket}/{prefix}/ (the prefix names the dump directory)"
                )),
                Ok(Err(e)) => Err(format!("{field}: cannot list s3://{bucket}/{prefix}/: {e}")),
                Err(_) => Err(format!("{field}: bucket {bucket:?} did not answer in time")),
            }
        }
        Ok(Err(e)) => Err(format!("{field}: cannot read s3://{bucket}/{prefix}/: {e}")),
    };
    Ok(answer)
}

pub(super) fn has_key(secret: &Secret, key: &str) -> bool {
    secret.data.as_ref().is_some_and(|d| d.contains_key(key))
        || secret
            .string_data
            .as_ref()
            .is_some_and(|d| d.contains_key(key))
}

fn now() -> k8s_openapi::jiff::Timestamp {
    k8s_openapi::jiff::Timestamp::now()
}
