//! The pure half of the MysqlBackupVerification controller: which backup, whether another run blocks this one,
//! the scratch PVC and its size, the verification Job, retention.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use serde_json::{Value, json};

use bloodraven_api::backup::{BackupPhase, MysqlBackup};
use bloodraven_api::failovergroup::backup::{BackupProfile, BackupSpec};
use bloodraven_api::names::{event, label};
use bloodraven_api::verification::{MysqlBackupVerification, PointInTimeMode, VerificationPhase};

use crate::controller::backup::build::{Failure, env_var, merge, storage_parts};
use crate::jobs::env;

/// The reason of a run refused because another one of the same group and profile is active.
pub const BLOCKED_BY_ACTIVE_VERIFICATION: &str = "BlockedByActiveVerification";
/// The reason when there is no Succeeded backup to verify.
pub const BACKUP_NOT_FOUND: &str = "BackupNotFound";
/// Where the scratch PVC is mounted (the throwaway server's data lives below it).
pub const DATA_MOUNT: &str = "/var/lib/mysql-verify";
/// 10 GiB.
const TEN_GIB: u64 = 10 * 1024 * 1024 * 1024;

/// The backup to verify: `spec.backupRef`, else the newest Succeeded backup of the group and profile.
pub fn choose_backup<'a>(
    v: &MysqlBackupVerification,
    backups: &'a [MysqlBackup],
) -> Result<&'a MysqlBackup, Failure> {
    let ours = |b: &&MysqlBackup| {
        b.spec.failover_group_ref.name == v.spec.failover_group_ref.name
            && b.spec.profile_name == v.spec.profile_name
            && b.status.as_ref().and_then(|s| s.phase) == Some(BackupPhase::Succeeded)
            && b.status
                .as_ref()
                .and_then(|s| s.location.as_ref())
                .is_some()
    };
    if let Some(name) = v.spec.backup_ref.as_ref().map(|r| r.name.as_str()) {
        return backups
            .iter()
            .filter(ours)
            .find(|b| b.metadata.name.as_deref() == Some(name))
            .ok_or_else(|| Failure {
                reason: BACKUP_NOT_FOUND,
                message: format!(
                    "spec.backupRef.name: MysqlBackup {name:?} is not a Succeeded backup of group {} profile {}",
                    v.spec.failover_group_ref.name, v.spec.profile_name
                ),
            });
    }
    backups
        .iter()
        .filter(ours)
        .max_by(|a, b| {
            let t = |x: &MysqlBackup| {
                x.status
                    .as_ref()
                    .and_then(|s| s.completion_time.as_ref())
                    .map(|t| t.0.as_second())
            };
            t(a).cmp(&t(b)).then(b.metadata.name.cmp(&a.metadata.name))
        })
        .ok_or_else(|| Failure {
            reason: BACKUP_NOT_FOUND,
            message: format!(
                "no Succeeded MysqlBackup of group {} profile {} to verify",
                v.spec.failover_group_ref.name, v.spec.profile_name
            ),
        })
}

/// Whether a run in a working phase (Provisioning, Restoring, Checking, Cleaning) of the same group and profile
/// blocks `v`; the blocking run's name.
pub fn blocked_by<'a>(
    v: &MysqlBackupVerification,
    all: &'a [MysqlBackupVerification],
) -> Option<&'a str> {
    all.iter()
        .filter(|o| o.metadata.name != v.metadata.name)
        .filter(|o| {
            o.spec.failover_group_ref.name == v.spec.failover_group_ref.name
                && o.spec.profile_name == v.spec.profile_name
        })
        .find(|o| {
            matches!(
                o.status.as_ref().and_then(|s| s.phase),
                Some(
                    VerificationPhase::Provisioning
                        | VerificationPhase::Restoring
                        | VerificationPhase::Checking
                        | VerificationPhase::Cleaning
                )
            ) && !o
                .status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|c| c.iter().any(|c| c.type_ == "Verified"))
        })
        .and_then(|o| o.metadata.name.as_deref())
}

/// The scratch PVC's size: `spec.storage.size` when set, else `max(10 GiB, ceil(1.5 × backup / 10 GiB) × 10 GiB)`.
pub fn pvc_size(explicit: Option<&str>, backup_bytes: u64) -> String {
    if let Some(s) = explicit {
        return s.to_owned();
    }
    let needed = backup_bytes.saturating_mul(3) / 2;
    let tens = needed.div_ceil(TEN_GIB).max(1);
    format!("{}Gi", tens * 10)
}

/// Names of a run's scratch objects.
pub fn names(v: &str) -> (String, String) {
    let mut base = v.to_owned();
    base.truncate(63 - "-verify".len());
    let base = base.trim_end_matches('-');
    (format!("{base}-verify"), format!("{base}-verify-data"))
}

fn labels(v: &MysqlBackupVerification) -> BTreeMap<String, String> {
    let group = &v.spec.failover_group_ref.name;
    let mut l = BTreeMap::new();
    l.insert(
        label::NAME.to_owned(),
        "mysql-backup-verification".to_owned(),
    );
    l.insert(label::INSTANCE.to_owned(), group.clone());
    l.insert(
        label::MANAGED_BY.to_owned(),
        label::MANAGED_BY_VALUE.to_owned(),
    );
    l.insert(label::FAILOVER_GROUP.to_owned(), group.clone());
    l.insert(
        label::BACKUP_PROFILE.to_owned(),
        v.spec.profile_name.clone(),
    );
    l.insert(
        label::MYSQLBACKUP_VERIFICATION.to_owned(),
        v.metadata.name.clone().unwrap_or_default(),
    );
    l
}

fn owner(v: &MysqlBackupVerification) -> Value {
    json!({
        "apiVersion": "shipstream.io/v1alpha1",
        "kind": "MysqlBackupVerification",
        "name": v.metadata.name,
        "uid": v.metadata.uid,
        "controller": true,
        "blockOwnerDeletion": true,
    })
}

/// The scratch PVC.
pub fn pvc(
    v: &MysqlBackupVerification,
    profile: &BackupProfile,
    backup: &MysqlBackup,
) -> PersistentVolumeClaim {
    let storage = v.spec.storage.as_ref().or_else(|| {
        profile
            .verification
            .as_ref()
            .and_then(|p| p.storage.as_ref())
    });
    let bytes = backup
        .status
        .as_ref()
        .and_then(|s| s.size_bytes)
        .map_or(0, |b| u64::try_from(b).unwrap_or(0));
    let size = pvc_size(
        storage.and_then(|s| s.size.as_ref()).map(|q| q.0.as_str()),
        bytes,
    );
    let (_, name) = names(v.metadata.name.as_deref().unwrap_or_default());
    let mut spec = json!({
        "accessModes": ["ReadWriteOnce"],
        "resources": { "requests": { "storage": size } },
    });
    if let Some(class) = storage.and_then(|s| s.storage_class_name.as_ref()) {
        spec["storageClassName"] = json!(class);
    }
    // The rendered value is a valid PVC by construction: every field above is typed or a quantity string.
    serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {
            "name": name,
            "namespace": v.metadata.namespace,
            "labels": labels(v),
            "ownerReferences": [owner(v)],
        },
        "spec": spec,
    }))
    .unwrap_or_default()
}

/// The verification Job: `bloodraven verify` restores the backup into a server bound to 127.0.0.1 inside the pod
/// (no Service), replays binlogs per `spec.pointInTime`, runs the sanity query, and writes its verdict into the
/// termination message.
pub fn job(
    v: &MysqlBackupVerification,
    group_spec: Option<&BackupSpec>,
    profile: &BackupProfile,
    backup: &MysqlBackup,
    image: &str,
) -> Result<Job, Failure> {
    let vname = v.metadata.name.as_deref().unwrap_or_default();
    let group = &v.spec.failover_group_ref.name;
    let (job_name, pvc_name) = names(vname);
    let location = backup
        .status
        .as_ref()
        .and_then(|s| s.location.clone())
        .unwrap_or_default();
    let parts = storage_parts(profile, group)?;
    let (mut env_vars, mut volumes, mut mounts) = (parts.env, parts.volumes, parts.mounts);
    env_vars.push(env_var(env::INPUT_URL, &location));
    env_vars.push(env_var(env::DATA_DIR, DATA_MOUNT));
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
    env_vars.push(env_var(env::VERIFY_KEEP_ON_FAILURE, &keep.to_string()));
    let pit = v.spec.point_in_time.as_ref().or_else(|| {
        profile
            .verification
            .as_ref()
            .and_then(|p| p.point_in_time.as_ref())
    });
    let mode = pit.and_then(|p| p.mode).unwrap_or(PointInTimeMode::None);
    let mode_text = match mode {
        PointInTimeMode::None => "none",
        PointInTimeMode::Latest => "latest",
        PointInTimeMode::Timestamp => "timestamp",
    };
    env_vars.push(env_var(env::VERIFY_PITR_MODE, mode_text));
    if mode != PointInTimeMode::None {
        if mode == PointInTimeMode::Timestamp {
            let t = pit.and_then(|p| p.timestamp.clone()).ok_or_else(|| Failure {
                reason: event::BUILD_JOB_FAILED,
                message: "spec.pointInTime.timestamp is required when spec.pointInTime.mode is timestamp".into(),
            })?;
            env_vars.push(env_var(env::PITR_STOP_DATETIME, &t));
        }
        let archive = crate::controller::render::pitr_archive_prefix(profile);
        env_vars.push(env_var(env::PITR_MANIFEST_PREFIX, &archive));
    }
    let sanity = v.spec.sanity_check.as_ref().or_else(|| {
        profile
            .verification
            .as_ref()
            .and_then(|p| p.sanity_check.as_ref())
    });
    if let Some(s) = sanity {
        env_vars.push(env_var(env::VERIFY_SANITY_QUERY, &s.query));
        let expect = s.expect.as_ref();
        if let Some(min) = expect.and_then(|e| e.min_rows) {
            env_vars.push(env_var(env::VERIFY_SANITY_MIN_ROWS, &min.to_string()));
        }
        let max = expect
            .and_then(|e| e.max_duration_seconds)
            .or(s.max_duration_seconds)
            .unwrap_or(60);
        env_vars.push(env_var(env::VERIFY_SANITY_MAX_SECONDS, &max.to_string()));
    }
    env_vars.push(env_var(env::RESULT_FILE, env::DEFAULT_TERMINATION_LOG));
    volumes.push(json!({ "name": "data", "persistentVolumeClaim": { "claimName": pvc_name } }));
    mounts.push(json!({ "name": "data", "mountPath": DATA_MOUNT }));
    // The throwaway server writes its socket and temporary files below the data mount; /tmp is a scratch volume
    // so the root file system stays read-only.
    volumes.push(json!({ "name": "tmp", "emptyDir": {} }));
    mounts.push(json!({ "name": "tmp", "mountPath": "/tmp" }));
    let mut container = json!({
        "name": "verify",
        "image": image,
        "command": ["bloodraven", "verify"],
        "env": env_vars,
        "volumeMounts": mounts,
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "securityContext": merge(
            json!({
                "allowPrivilegeEscalation": false,
                "readOnlyRootFilesystem": true,
                "runAsNonRoot": true,
                "capabilities": { "drop": ["ALL"] },
            }),
            group_spec.and_then(|b| b.container_security_context.as_ref()),
        ),
    });
    if let Some(r) = &v.spec.resources {
        container["resources"] = serde_json::to_value(r).unwrap_or(Value::Null);
    }
    let l = labels(v);
    let pod_security = merge(
        json!({
            "runAsNonRoot": true,
            "runAsUser": 65532,
            "fsGroup": 65532,
            "seccompProfile": { "type": "RuntimeDefault" },
        }),
        group_spec.and_then(|b| b.pod_security_context.as_ref()),
    );
    let job = json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": job_name,
            "namespace": v.metadata.namespace,
            "labels": l,
            "ownerReferences": [owner(v)],
        },
        "spec": {
            "backoffLimit": 0,
            "template": {
                "metadata": { "labels": l },
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [container],
                    "volumes": volumes,
                    "securityContext": pod_security,
                },
            },
        },
    });
    serde_json::from_value(job).map_err(|e| Failure {
        reason: event::BUILD_JOB_FAILED,
        message: format!("the rendered Job is not valid: {e}"),
    })
}

/// One finished run as retention sees it.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Finished {
    /// Name.
    pub name: String,
    /// Succeeded (else Failed).
    pub succeeded: bool,
    /// Completion time, seconds.
    pub time: i64,
}

/// The finished runs beyond `keep_successful` / `keep_failures` (newest kept).
pub fn retention(keep_successful: usize, keep_failures: usize, runs: &[Finished]) -> Vec<String> {
    let mut out = Vec::new();
    for (ok, keep) in [(true, keep_successful), (false, keep_failures)] {
        let mut v: Vec<&Finished> = runs.iter().filter(|r| r.succeeded == ok).collect();
        v.sort_by(|a, b| b.time.cmp(&a.time).then(b.name.cmp(&a.name)));
        out.extend(v.iter().skip(keep).map(|r| r.name.clone()));
    }
    out
}

#[cfg(test)]
mod tests;
