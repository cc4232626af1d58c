//! Backup and verification schedules of each group: one batch/v1 CronJob per `spec.backup.schedules[]`
//! (`mysql-<group>-backup-<schedule>`, running `bloodraven trigger-backup`) and per profile with
//! `verification.enabled` (`mysql-<group>-verify-<profile>`, running `bloodraven trigger-verification`), and
//! `status.backupSchedules[]` from the MysqlBackups each schedule created.
//!
//! A cluster that does not serve batch/v1 CronJobs (before Kubernetes 1.21) gets none: they are skipped with a
//! log line, as the group controller skips APIs it does not find, and `status.backupSchedules[]` is still kept.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use kube::api::{ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Api, Client, ResourceExt};
use serde_json::{Value, json};
use tokio::sync::watch;
use tracing::Instrument;

use bloodraven_api::backup::{BackupPhase, MysqlBackup};
use bloodraven_api::failovergroup::MysqlFailoverGroup;
use bloodraven_api::names::label;

use super::build;
use crate::controller::ManagerOptions;

/// The field manager of the CronJobs.
const FIELD_MANAGER: &str = "bloodraven-schedules";
/// How often schedules are reconciled without a change.
const RESYNC: Duration = Duration::from_secs(60);

struct Context {
    client: Client,
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
    let statuses = schedule_statuses(group, &list);
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
    Ok(Action::requeue(RESYNC))
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

/// `status.backupSchedules[]`: per schedule, its CronJob and the newest backups it created.
pub fn schedule_statuses(group: &MysqlFailoverGroup, backups: &[MysqlBackup]) -> Value {
    let g = group.metadata.name.as_deref().unwrap_or_default();
    let schedules = group
        .spec
        .backup
        .as_ref()
        .and_then(|b| b.schedules.as_deref())
        .unwrap_or_default();
    let created = |b: &MysqlBackup| b.metadata.creation_timestamp.as_ref().map(|t| t.0);
    let out: Vec<Value> = schedules
        .iter()
        .map(|s| {
            let mut mine: Vec<&MysqlBackup> = backups
                .iter()
                .filter(|b| b.labels().get(label::BACKUP_SCHEDULE) == Some(&s.name))
                .collect();
            mine.sort_by(|a, b| {
                created(b)
                    .cmp(&created(a))
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
            }
            if let Some(b) = last_ok {
                v["lastSuccessfulBackupName"] = json!(b.name_any());
                v["lastSuccessfulTime"] =
                    json!(b.status.as_ref().and_then(|s| s.completion_time.clone()));
            }
            v
        })
        .collect();
    Value::Array(out)
}
