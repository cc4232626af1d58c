//! Backup and verification schedules of each group: one batch/v1 CronJob per `spec.backup.schedules[]`
//! (`mysql-<group>-backup-<schedule>`, running `bloodraven trigger-backup`) and per profile with
//! `verification.enabled` (`mysql-<group>-verify-<profile>`, running `bloodraven trigger-verification`), and
//! `status.backupSchedules[]` from the MysqlBackups each schedule created, and the retry backups of failed scheduled
//! runs (`spec.backup.retry`, [`super::retry`]).
//!
//! A cluster that does not serve batch/v1 CronJobs (before Kubernetes 1.21) gets none: they are skipped with a
//! log line, as the group controller skips APIs it does not find, and `status.backupSchedules[]` is still kept.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{
    ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams,
};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{EventType, Recorder};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Api, Client, ResourceExt};
use serde_json::{Value, json};
use tokio::sync::watch;
use tracing::Instrument;

use bloodraven_api::backup::{BackupPhase, MysqlBackup};
use bloodraven_api::failovergroup::MysqlFailoverGroup;
use bloodraven_api::failovergroup::backup::BackupSchedule;
use bloodraven_api::names::{event, label};

use super::build;
use super::retry::{self, RetryDecision, RetryPolicy};
use crate::controller::ManagerOptions;

/// The field manager of the CronJobs.
const FIELD_MANAGER: &str = "bloodraven-schedules";
/// How often schedules are reconciled without a change.
const RESYNC: Duration = Duration::from_secs(60);

struct Context {
    client: Client,
    recorder: Recorder,
    leader: watch::Receiver<bool>,
    image: String,
    service_account: String,
}

/// The batch/v1 CronJob resource.
fn cron_jobs() -> ApiResource {
    ApiResource {
        group: "batch".into(),
        version: "v1".into(),
        api_version: "batch/v1".into(),
        kind: "CronJob".into(),
        plural: "cronjobs".into(),
    }
}

/// Runs the schedules reconciler until the process ends.
pub async fn run(client: Client, options: ManagerOptions, leader: watch::Receiver<bool>) {
    let groups: Api<MysqlFailoverGroup> =
        super::super::scoped(&client, options.namespace.as_deref());
    let backups: Api<MysqlBackup> = super::super::scoped(&client, options.namespace.as_deref());
    let context = Arc::new(Context {
        recorder: super::super::recorder(&client),
        client,
        leader,
        image: super::super::job_image(),
        service_account: std::env::var("BLOODRAVEN_OPERATOR_SA")
            .ok()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "bloodraven".into()),
    });
    Controller::new(groups, watcher::Config::default())
        .watches(backups, watcher::Config::default(), |b: MysqlBackup| {
            let ns = b.namespace()?;
            Some(ObjectRef::new(&b.spec.failover_group_ref.name).within(&ns))
        })
        .run(reconcile, error_policy, context)
        .for_each(|result| async move {
            if let Err(e) = result {
                tracing::debug!(error = %e, "schedules reconcile failed");
            }
        })
        .await;
}

fn error_policy(group: Arc<MysqlFailoverGroup>, error: &kube::Error, _ctx: Arc<Context>) -> Action {
    tracing::warn!(group = %group.name_any(), %error, "schedules reconcile failed; retrying");
    Action::requeue(Duration::from_secs(15))
}

async fn reconcile(
    group: Arc<MysqlFailoverGroup>,
    ctx: Arc<Context>,
) -> Result<Action, kube::Error> {
    let namespace = group.namespace().unwrap_or_default();
    let name = group.name_any();
    let span = tracing::info_span!("schedules", kind = "MysqlFailoverGroup", %namespace, %name);
    apply(&group, &ctx, &namespace, &name)
        .instrument(span)
        .await
}

async fn apply(
    group: &MysqlFailoverGroup,
    ctx: &Context,
    namespace: &str,
    name: &str,
) -> Result<Action, kube::Error> {
    if !*ctx.leader.borrow() || group.metadata.deletion_timestamp.is_some() {
        return Ok(Action::requeue(RESYNC));
    }
    let desired = desired(group, &ctx.image, &ctx.service_account);
    let api: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), namespace, &cron_jobs());
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let mut served = true;
    for cron in &desired {
        let cron_name = cron["metadata"]["name"].as_str().unwrap_or_default();
        match api.patch(cron_name, &params, &Patch::Apply(cron)).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 404 => {
                tracing::debug!(
                    "batch/v1 CronJob is not served by this cluster; schedules skipped"
                );
                served = false;
                break;
            }
            Err(e) => return Err(e),
        }
    }
    if served {
        let wanted: BTreeSet<&str> = desired
            .iter()
            .filter_map(|c| c["metadata"]["name"].as_str())
            .collect();
        let selector = format!(
            "{}={},{}={}",
            label::FAILOVER_GROUP,
            name,
            label::MANAGED_BY,
            label::MANAGED_BY_VALUE
        );
        match api.list(&ListParams::default().labels(&selector)).await {
            Ok(list) => {
                for c in list {
                    let n = c.name_any();
                    if !wanted.contains(n.as_str()) {
                        let _ = api.delete(&n, &DeleteParams::default()).await;
                    }
                }
            }
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => return Err(e),
        }
    }
    let backups: Api<MysqlBackup> = Api::namespaced(ctx.client.clone(), namespace);
    let list = backups
        .list(&ListParams::default().labels(&format!("{}={name}", label::FAILOVER_GROUP)))
        .await?
        .items;
    let now = k8s_openapi::jiff::Timestamp::now().as_second();
    let rollup = schedule_statuses(group, &list, now);
    for r in &rollup.retries {
        let b = retry::retry_backup(name, namespace, &r.schedule, r.attempt);
        let created = backups.create(&PostParams::default(), &b).await?;
        let created_name = created.name_any();
        // The attempt number is also in spec.triggeredBy, so the controller finds it if this patch is lost.
        let patch = json!({ "status": { "attempt": r.attempt } });
        if let Err(e) = backups
            .patch_status(
                &created_name,
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await
        {
            tracing::debug!(backup = %created_name, error = %e, "cannot stamp the retry's status.attempt");
        }
        tracing::info!(backup = %created_name, failed = %r.failed, attempt = r.attempt, "created a retry backup");
        super::super::publish(
            &ctx.recorder,
            group,
            EventType::Normal,
            event::BACKUP_RETRY_SCHEDULED,
            &format!(
                "scheduled retry #{} for failed backup {} (schedule={}): {created_name}",
                r.attempt, r.failed, r.schedule.name
            ),
        )
        .await;
    }
    let statuses = rollup.statuses;
    let current = group
        .status
        .as_ref()
        .and_then(|s| s.backup_schedules.as_ref())
        .map(|s| serde_json::to_value(s).unwrap_or(Value::Null))
        .unwrap_or(Value::Null);
    if statuses != current && !(current.is_null() && statuses == json!([])) {
        let groups: Api<MysqlFailoverGroup> = Api::namespaced(ctx.client.clone(), namespace);
        groups
            .patch_status(
                name,
                &PatchParams::default(),
                &Patch::Merge(&json!({ "status": { "backupSchedules": statuses } })),
            )
            .await?;
    }
    if !rollup.retries.is_empty() {
        // The new backups' watch events bring the next pass; this one's list is stale.
        return Ok(Action::requeue(Duration::from_secs(1)));
    }
    let wake = rollup
        .wake_at
        .map(|at| Duration::from_secs(u64::try_from(at - now).unwrap_or(0).max(1)));
    Ok(Action::requeue(wake.map_or(RESYNC, |w| w.min(RESYNC))))
}

/// Every CronJob the group should have.
pub fn desired(group: &MysqlFailoverGroup, image: &str, service_account: &str) -> Vec<Value> {
    let Some(backup) = &group.spec.backup else {
        return Vec::new();
    };
    let mut out: Vec<Value> = backup
        .schedules
        .as_deref()
        .unwrap_or_default()
        .iter()
        .map(|s| build::cron_job(group, s, image, service_account))
        .collect();
    for p in backup.profiles.as_deref().unwrap_or_default() {
        if let Some(v) = &p.verification
            && v.enabled == Some(true)
            && let Some(schedule) = &v.schedule
        {
            out.push(build::verification_cron_job(
                group,
                &p.name,
                schedule,
                v,
                image,
                service_account,
            ));
        }
    }
    out
}

/// What the schedules' backups call for: `status.backupSchedules[]`, the retry backups to create now and when the
/// next waiting retry is due.
#[derive(Clone, Debug, PartialEq)]
pub struct Rollup {
    /// `status.backupSchedules[]`.
    pub statuses: Value,
    /// Retry backups to create now.
    pub retries: Vec<Retry>,
    /// The earliest `nextRetryTime`, in Unix seconds.
    pub wake_at: Option<i64>,
}

/// A retry backup to create.
#[derive(Clone, Debug, PartialEq)]
pub struct Retry {
    /// The schedule whose run failed.
    pub schedule: BackupSchedule,
    /// The attempt number of the new backup.
    pub attempt: i32,
    /// The failed backup.
    pub failed: String,
}

/// `status.backupSchedules[]` (per schedule, its CronJob, the newest backups it created, `lastRetryAttempt` and
/// `nextRetryTime`) and the retries `spec.backup.retry` asks for at `now` (Unix seconds).
pub fn schedule_statuses(group: &MysqlFailoverGroup, backups: &[MysqlBackup], now: i64) -> Rollup {
    let g = group.metadata.name.as_deref().unwrap_or_default();
    let spec = group.spec.backup.as_ref();
    let schedules = spec
        .and_then(|b| b.schedules.as_deref())
        .unwrap_or_default();
    let policy = RetryPolicy::of(spec.and_then(|b| b.retry.as_ref()));
    let created = |b: &MysqlBackup| b.metadata.creation_timestamp.as_ref().map(|t| t.0);
    let mut retries = Vec::new();
    let mut wake_at: Option<i64> = None;
    let out: Vec<Value> = schedules
        .iter()
        .map(|s| {
            let mut mine: Vec<MysqlBackup> = backups
                .iter()
                .filter(|b| b.labels().get(label::BACKUP_SCHEDULE) == Some(&s.name))
                .cloned()
                .collect();
            // Newest first; within one second of creation the later attempt is the newer.
            mine.sort_by(|a, b| {
                created(b)
                    .cmp(&created(a))
                    .then(retry::attempt_of(b).cmp(&retry::attempt_of(a)))
                    .then(b.name_any().cmp(&a.name_any()))
            });
            let last = mine.first();
            let last_ok = mine
                .iter()
                .find(|b| b.status.as_ref().and_then(|s| s.phase) == Some(BackupPhase::Succeeded));
            let mut v = json!({ "name": s.name, "cronJobName": build::cron_job_name(g, &s.name) });
            if let Some(b) = last {
                v["lastBackupName"] = json!(b.name_any());
                v["lastScheduleTime"] = json!(b.metadata.creation_timestamp);
                if let Some(p) = b.status.as_ref().and_then(|s| s.phase) {
                    v["lastBackupPhase"] = json!(p);
                }
                if b.status.as_ref().and_then(|s| s.attempt).is_some() {
                    v["lastRetryAttempt"] = json!(retry::attempt_of(b));
                }
                match retry::decide(policy, b, &mine, now) {
                    RetryDecision::Idle => {}
                    RetryDecision::Create { attempt } => retries.push(Retry {
                        schedule: s.clone(),
                        attempt,
                        failed: b.name_any(),
                    }),
                    RetryDecision::Wait { at, .. } => {
                        if let Ok(t) = k8s_openapi::jiff::Timestamp::from_second(at) {
                            v["nextRetryTime"] = json!(Time(t));
                        }
                        wake_at = Some(wake_at.map_or(at, |w| w.min(at)));
                    }
                }
            }
            if let Some(b) = last_ok {
                v["lastSuccessfulBackupName"] = json!(b.name_any());
                v["lastSuccessfulTime"] =
                    json!(b.status.as_ref().and_then(|s| s.completion_time.clone()));
            }
            v
        })
        .collect();
    Rollup {
        statuses: Value::Array(out),
        retries,
        wake_at,
    }
}
