//! The pure half of the MysqlBackup controller: source choice, the dump Job, the status a Job's outcome gives,
//! retention, and the schedule CronJobs. No client here; [`super`] applies what these return.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use serde_json::{Value, json};

use bloodraven_api::backup::MysqlBackup;
use bloodraven_api::failovergroup::MysqlFailoverGroup;
use bloodraven_api::failovergroup::backup::{BackupProfile, BackupSchedule, StorageType};
use bloodraven_api::failovergroup::status::SiteState;
use bloodraven_api::names::{event, label};

use crate::jobs::env;
use crate::jobs::result::DumpResult;

/// Default `spec.backup.maxLagSecondsForSource`.
pub const DEFAULT_MAX_LAG_SECONDS: i64 = 300;
/// Default `spec.backup.activeDeadlineSeconds`.
pub const DEFAULT_ACTIVE_DEADLINE_SECONDS: i64 = 7200;
/// Default `spec.backup.backoffLimit`.
pub const DEFAULT_BACKOFF_LIMIT: i32 = 2;
/// Where the Job mounts the MySQL credentials (`MYSQL_USER`, `MYSQL_PASSWORD`).
pub const MYSQL_CREDS_MOUNT: &str = "/var/run/bloodraven/mysql";
/// Where the Job mounts the S3 credentials Secret.
pub const AWS_CREDS_MOUNT: &str = "/var/run/bloodraven/aws";
/// Where the Job mounts the passphrase Secret.
pub const PASSPHRASE_MOUNT: &str = "/var/run/bloodraven/passphrase";
/// Where the Job mounts a PVC profile's claim.
pub const PVC_MOUNT: &str = "/backups";
/// The container's name.
pub const CONTAINER: &str = "dump";

/// Why a backup cannot go on: the reason (`GroupNotFound`, `ProfileNotFound`, `NoHealthySource`,
/// `BuildJobFailed`) and a message naming the field or object at fault.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Failure {
    /// The reason (also the Warning event's reason).
    pub reason: &'static str,
    /// What is wrong and where.
    pub message: String,
}

impl Failure {
    fn new(reason: &'static str, message: impl Into<String>) -> Failure {
        Failure {
            reason,
            message: message.into(),
        }
    }
}

/// The profile `spec.profileName` names, or `ProfileNotFound`.
pub fn profile<'a>(
    backup_profile: &str,
    group: &'a MysqlFailoverGroup,
) -> Result<&'a BackupProfile, Failure> {
    let profiles = group
        .spec
        .backup
        .as_ref()
        .and_then(|b| b.profiles.as_deref())
        .unwrap_or_default();
    profiles
        .iter()
        .find(|p| p.name == backup_profile)
        .ok_or_else(|| {
            let known: Vec<&str> = profiles.iter().map(|p| p.name.as_str()).collect();
            Failure::new(
                event::PROFILE_NOT_FOUND,
                format!(
                    "spec.profileName {backup_profile:?} is not in spec.backup.profiles of MysqlFailoverGroup {} (has: {})",
                    group.metadata.name.as_deref().unwrap_or_default(),
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                ),
            )
        })
}

/// The site to dump: `override_` when it is a site of the group; else a replica that replicates with a known lag
/// within `spec.backup.maxLagSecondsForSource` (the least lagging, then in spec order); else the active site.
pub fn choose_source(
    group: &MysqlFailoverGroup,
    override_: Option<&str>,
) -> Result<String, Failure> {
    let sites: Vec<&str> = group.spec.sites.iter().map(|s| s.name.as_str()).collect();
    if let Some(o) = override_.filter(|o| !o.is_empty()) {
        if sites.contains(&o) {
            return Ok(o.to_owned());
        }
        return Err(Failure::new(
            event::NO_HEALTHY_SOURCE,
            format!(
                "spec.sourceSiteOverride {o:?} is not a site of the group (sites: {})",
                sites.join(", ")
            ),
        ));
    }
    let max_lag = group
        .spec
        .backup
        .as_ref()
        .and_then(|b| b.max_lag_seconds_for_source)
        .unwrap_or(DEFAULT_MAX_LAG_SECONDS);
    let status = group.status.as_ref();
    let active = status.and_then(|s| s.active_site.clone());
    let statuses = status.and_then(|s| s.sites.as_deref()).unwrap_or_default();
    let replica = statuses
        .iter()
        .filter(|s| {
            s.name.as_deref().is_some_and(|n| sites.contains(&n))
                && s.name != active
                && s.state == Some(SiteState::ReadOnly)
                && s.replicating == Some(true)
                && s.seconds_behind_source
                    .is_some_and(|l| (0..=max_lag).contains(&l))
        })
        .min_by_key(|s| s.seconds_behind_source.unwrap_or(i64::MAX));
    if let Some(name) = replica.and_then(|s| s.name.clone()) {
        return Ok(name);
    }
    let active_ok = statuses
        .iter()
        .any(|s| s.name == active && s.state == Some(SiteState::Writable));
    match active {
        Some(a) if active_ok => Ok(a),
        _ => Err(Failure::new(
            event::NO_HEALTHY_SOURCE,
            format!(
                "no replica replicating within spec.backup.maxLagSecondsForSource ({max_lag}s) and no writable active site in the group's status"
            ),
        )),
    }
}

/// Everything the dump Job is rendered from.
#[derive(Clone, Debug)]
pub struct JobInputs<'a> {
    /// The backup.
    pub backup: &'a MysqlBackup,
    /// Its group.
    pub group: &'a MysqlFailoverGroup,
    /// The profile.
    pub profile: &'a BackupProfile,
    /// The site dumped.
    pub site: &'a str,
    /// Where that site's server is dialled.
    pub host: (String, u16),
    /// The Secret with the MySQL account (`username`, `password`) the dump uses.
    pub mysql_secret: String,
    /// The image with the `bloodraven` binary.
    pub image: &'a str,
}

/// The Job's name: `<backup>-dump`, shortened to 63 characters.
pub fn job_name(backup: &str) -> String {
    let mut base = backup.to_owned();
    base.truncate(63 - "-dump".len());
    format!("{}-dump", base.trim_end_matches('-'))
}

/// The object key (S3) or path (PVC) the dump is written to: `<s3.prefix>/<backup>` or
/// `/backups[/<subPath>]/<backup>` (reference-formats §3.1).
pub fn output_url(profile: &BackupProfile, backup: &str) -> String {
    match profile.storage.type_ {
        StorageType::S3 => {
            let prefix = profile
                .storage
                .s3
                .as_ref()
                .and_then(|s| s.prefix.as_deref())
                .unwrap_or("")
                .trim_matches('/');
            if prefix.is_empty() {
                backup.to_owned()
            } else {
                format!("{prefix}/{backup}")
            }
        }
        StorageType::Pvc => {
            let sub = profile
                .storage
                .pvc
                .as_ref()
                .and_then(|p| p.sub_path.as_deref())
                .unwrap_or("")
                .trim_matches('/');
            if sub.is_empty() {
                format!("{PVC_MOUNT}/{backup}")
            } else {
                format!("{PVC_MOUNT}/{sub}/{backup}")
            }
        }
    }
}

/// The dump Job (batch/v1), owned by the backup; `BuildJobFailed` when the profile cannot be rendered.
pub fn job(i: &JobInputs<'_>) -> Result<Job, Failure> {
    let backup = i.backup.metadata.name.as_deref().unwrap_or_default();
    let group = i.group.metadata.name.as_deref().unwrap_or_default();
    let spec = i.group.spec.backup.as_ref();
    let name = job_name(backup);
    let mut env_vars = vec![
        env_var(env::BACKUP_NAME, backup),
        env_var(env::MYSQL_HOST, &format!("{}:{}", i.host.0, i.host.1)),
        env_var(env::MYSQL_CREDS_DIR, MYSQL_CREDS_MOUNT),
        env_var(env::OUTPUT_URL, &output_url(i.profile, backup)),
    ];
    let mut volumes = vec![json!({
        "name": "mysql-creds",
        "secret": {
            "secretName": i.mysql_secret,
            "items": [
                { "key": "username", "path": "MYSQL_USER" },
                { "key": "password", "path": "MYSQL_PASSWORD" },
            ],
        },
    })];
    let mut mounts =
        vec![json!({ "name": "mysql-creds", "mountPath": MYSQL_CREDS_MOUNT, "readOnly": true })];
    let parts = storage_parts(i.profile, group)?;
    env_vars.extend(parts.env);
    volumes.extend(parts.volumes);
    mounts.extend(parts.mounts);
    if let Some(d) = &i.profile.dump {
        let options = serde_json::to_value(d).map_err(|e| {
            Failure::new(
                event::BUILD_JOB_FAILED,
                format!("spec.backup.profiles[{}].dump: {e}", i.profile.name),
            )
        })?;
        env_vars.push(env_var(env::DUMP_OPTIONS, &options.to_string()));
    }
    env_vars.push(env_var(env::RESULT_FILE, env::DEFAULT_TERMINATION_LOG));
    let mut labels = BTreeMap::new();
    labels.insert(label::NAME.to_owned(), "mysql-backup".to_owned());
    labels.insert(label::INSTANCE.to_owned(), group.to_owned());
    labels.insert(
        label::MANAGED_BY.to_owned(),
        label::MANAGED_BY_VALUE.to_owned(),
    );
    labels.insert(label::FAILOVER_GROUP.to_owned(), group.to_owned());
    labels.insert(label::BACKUP_PROFILE.to_owned(), i.profile.name.clone());
    labels.insert(label::MYSQLBACKUP.to_owned(), backup.to_owned());
    labels.insert(label::SITE.to_owned(), i.site.to_owned());
    let mut container = json!({
        "name": CONTAINER,
        "image": i.image,
        "command": ["bloodraven", "dump"],
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
            spec.and_then(|s| s.container_security_context.as_ref()),
        ),
    });
    if let Some(r) = spec.and_then(|s| s.resources.as_ref()) {
        container["resources"] = serde_json::to_value(r).unwrap_or(Value::Null);
    }
    let mut pod_spec = json!({
        "restartPolicy": "Never",
        "containers": [container],
        "volumes": volumes,
        "securityContext": merge(
            json!({
                "runAsNonRoot": true,
                "runAsUser": 65532,
                "fsGroup": 65532,
                "seccompProfile": { "type": "RuntimeDefault" },
            }),
            spec.and_then(|s| s.pod_security_context.as_ref()),
        ),
    });
    if let Some(p) = spec.and_then(|s| s.image_pull_secrets.as_ref()) {
        pod_spec["imagePullSecrets"] = serde_json::to_value(p).unwrap_or(Value::Null);
    }
    let job = json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": i.backup.metadata.namespace,
            "labels": labels,
            "ownerReferences": [owner(i.backup)],
        },
        "spec": {
            "backoffLimit": spec.and_then(|s| s.backoff_limit).unwrap_or(DEFAULT_BACKOFF_LIMIT),
            "activeDeadlineSeconds": spec
                .and_then(|s| s.active_deadline_seconds)
                .unwrap_or(DEFAULT_ACTIVE_DEADLINE_SECONDS),
            "template": {
                "metadata": { "labels": labels },
                "spec": pod_spec,
            },
        },
    });
    serde_json::from_value(job).map_err(|e| {
        Failure::new(
            event::BUILD_JOB_FAILED,
            format!("the rendered Job is not valid: {e}"),
        )
    })
}

/// The environment, volumes and mounts that give a Job the profile's storage and passphrase (the Go names:
/// `BLOODRAVEN_STORAGE_TYPE`, `BLOODRAVEN_S3_*`, `BLOODRAVEN_AWS_CREDS_DIR`, `BLOODRAVEN_PVC_MOUNT_PATH`,
/// `BLOODRAVEN_BACKUP_PASSPHRASE_FILE`); credentials are files, never values in the environment.
pub fn storage_parts(profile: &BackupProfile, group: &str) -> Result<JobParts, Failure> {
    let mut env_vars = Vec::new();
    let mut volumes = Vec::new();
    let mut mounts = Vec::new();
    match profile.storage.type_ {
        StorageType::S3 => {
            let s3 = profile.storage.s3.as_ref().ok_or_else(|| {
                Failure::new(
                    event::BUILD_JOB_FAILED,
                    format!(
                        "spec.backup.profiles[{}].storage.s3 is not set but storage.type is S3",
                        profile.name
                    ),
                )
            })?;
            env_vars.push(env_var(env::STORAGE_TYPE, "S3"));
            env_vars.push(env_var(env::S3_BUCKET, &s3.bucket));
            if let Some(e) = &s3.endpoint_url {
                env_vars.push(env_var(env::S3_ENDPOINT_OVERRIDE, e));
            }
            if let Some(r) = &s3.region {
                env_vars.push(env_var(env::AWS_REGION, r));
            }
            env_vars.push(env_var(env::AWS_CREDS_DIR, AWS_CREDS_MOUNT));
            volumes.push(
                json!({ "name": "aws-creds", "secret": { "secretName": s3.credentials_secret } }),
            );
            mounts.push(
                json!({ "name": "aws-creds", "mountPath": AWS_CREDS_MOUNT, "readOnly": true }),
            );
        }
        StorageType::Pvc => {
            let claim = profile.claim_name(group);
            env_vars.push(env_var(env::STORAGE_TYPE, "PVC"));
            env_vars.push(env_var(env::PVC_MOUNT_PATH, PVC_MOUNT));
            volumes.push(
                json!({ "name": "backups", "persistentVolumeClaim": { "claimName": claim } }),
            );
            mounts.push(json!({ "name": "backups", "mountPath": PVC_MOUNT }));
        }
    }
    if let Some(enc) = &profile.encryption {
        let key = enc.passphrase_secret.key_or_default();
        env_vars.push(env_var(
            env::BACKUP_PASSPHRASE_FILE,
            &format!("{PASSPHRASE_MOUNT}/passphrase"),
        ));
        env_vars.push(env_var(env::ENCRYPTION_ALGORITHM, "AES-256-GCM"));
        volumes.push(json!({
            "name": "passphrase",
            "secret": {
                "secretName": enc.passphrase_secret.name,
                "items": [{ "key": key, "path": "passphrase" }],
            },
        }));
        mounts
            .push(json!({ "name": "passphrase", "mountPath": PASSPHRASE_MOUNT, "readOnly": true }));
    }
    Ok(JobParts {
        env: env_vars,
        volumes,
        mounts,
    })
}

/// Pieces of a Job's pod: environment entries, volumes and the container's volume mounts.
#[derive(Clone, Debug, Default)]
pub struct JobParts {
    /// `env` entries.
    pub env: Vec<Value>,
    /// `volumes`.
    pub volumes: Vec<Value>,
    /// `volumeMounts`.
    pub mounts: Vec<Value>,
}

pub(crate) fn env_var(name: &str, value: &str) -> Value {
    json!({ "name": name, "value": value })
}

/// Hardened defaults with the user's fields laid over them.
pub(crate) fn merge<T: serde::Serialize>(defaults: Value, user: Option<&T>) -> Value {
    let mut out = defaults;
    if let Some(Value::Object(u)) = user.and_then(|u| serde_json::to_value(u).ok())
        && let Value::Object(o) = &mut out
    {
        for (k, v) in u {
            if !v.is_null() {
                o.insert(k, v);
            }
        }
    }
    out
}

/// The controller owner reference to the backup.
pub fn owner(backup: &MysqlBackup) -> OwnerReference {
    OwnerReference {
        api_version: "shipstream.io/v1alpha1".into(),
        kind: "MysqlBackup".into(),
        name: backup.metadata.name.clone().unwrap_or_default(),
        uid: backup.metadata.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// How a Job ended, as its status says.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum JobOutcome {
    /// `status.succeeded ≥ 1` or a `Complete=True` condition.
    Complete,
    /// A `Failed=True` condition.
    Failed,
    /// Neither yet.
    Running,
}

/// The outcome of `job`.
pub fn job_outcome(job: &Job) -> JobOutcome {
    let Some(status) = &job.status else {
        return JobOutcome::Running;
    };
    let condition = |t: &str| {
        status
            .conditions
            .as_deref()
            .unwrap_or_default()
            .iter()
            .any(|c| c.type_ == t && c.status == "True")
    };
    if status.succeeded.unwrap_or(0) >= 1 || condition("Complete") {
        JobOutcome::Complete
    } else if condition("Failed") {
        JobOutcome::Failed
    } else {
        JobOutcome::Running
    }
}

/// The status fields a `BLOODRAVEN_DUMP_COMPLETE` line gives (a merge patch of `status`).
pub fn succeeded_status(result: &DumpResult, storage: StorageType) -> Value {
    let size = if result.size.is_empty() {
        bloodraven_backup::dump::human_size(result.size_bytes)
    } else {
        result.size.clone()
    };
    json!({
        "phase": "Succeeded",
        "location": result.location,
        "storageType": storage,
        "size": size,
        "sizeBytes": i64::try_from(result.size_bytes).unwrap_or(i64::MAX),
        "gtidExecuted": result.gtid_executed,
        "binlogFile": result.binlog_file,
        "binlogPos": i64::try_from(result.binlog_pos).unwrap_or(i64::MAX),
        "encrypted": result.encrypted,
        "encryptionAlgorithm": if result.encrypted { Some(result.algorithm.as_str()) } else { None },
    })
}

/// One backup as retention sees it.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct RetentionEntry {
    /// Name.
    pub name: String,
    /// Whether it succeeded (else it failed; running ones are never passed in).
    pub succeeded: bool,
    /// Completion (or creation) time, seconds since the epoch.
    pub time: i64,
}

/// The retention settings of a profile (reference-api §3.10).
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct Retention {
    /// Keep at most this many successful backups.
    pub count: Option<u32>,
    /// Delete successful backups older than this.
    pub max_age_days: Option<u32>,
    /// Never go below this many successful backups.
    pub min_keep: u32,
    /// Failed backups kept.
    pub max_failed_keep: u32,
}

impl Retention {
    /// `retentionPolicy` when set, else the legacy `retention` count (default 7).
    pub fn of(profile: &BackupProfile) -> Retention {
        let non_negative = |v: Option<i32>| v.map(|n| u32::try_from(n).unwrap_or(0));
        match &profile.retention_policy {
            Some(p) => Retention {
                count: non_negative(p.count),
                max_age_days: non_negative(p.max_age_days),
                min_keep: non_negative(p.min_keep).unwrap_or(1),
                max_failed_keep: non_negative(p.max_failed_keep).unwrap_or(10),
            },
            None => Retention {
                count: Some(non_negative(profile.retention).unwrap_or(7)),
                max_age_days: None,
                min_keep: 1,
                max_failed_keep: 10,
            },
        }
    }
}

/// The backups to delete, with why: successful ones beyond `count` or older than `maxAgeDays` (oldest first,
/// never below `minKeep`), failed ones beyond `maxFailedKeep`.
pub fn retention(policy: Retention, entries: &[RetentionEntry], now: i64) -> Vec<(String, String)> {
    let mut ok: Vec<&RetentionEntry> = entries.iter().filter(|e| e.succeeded).collect();
    let mut failed: Vec<&RetentionEntry> = entries.iter().filter(|e| !e.succeeded).collect();
    // Newest first; ties by name so the order is stable.
    ok.sort_by(|a, b| b.time.cmp(&a.time).then(a.name.cmp(&b.name)));
    failed.sort_by(|a, b| b.time.cmp(&a.time).then(a.name.cmp(&b.name)));
    let mut out = Vec::new();
    for (i, e) in ok.iter().enumerate() {
        if i < policy.min_keep as usize {
            continue;
        }
        if let Some(c) = policy.count
            && i >= c as usize
        {
            out.push((e.name.clone(), format!("beyond retention count {c}")));
            continue;
        }
        if let Some(d) = policy.max_age_days
            && now - e.time > i64::from(d) * 86_400
        {
            out.push((e.name.clone(), format!("older than {d} days")));
        }
    }
    for e in failed.iter().skip(policy.max_failed_keep as usize) {
        out.push((
            e.name.clone(),
            format!("beyond maxFailedKeep {}", policy.max_failed_keep),
        ));
    }
    out
}

/// The schedule CronJob's name: `mysql-<group>-backup-<schedule>`.
pub fn cron_job_name(group: &str, schedule: &str) -> String {
    let mut name = format!("mysql-{group}-backup-{schedule}");
    name.truncate(52);
    name.trim_end_matches('-').to_owned()
}

/// The CronJob (batch/v1) of one `spec.backup.schedules[]` entry, running `bloodraven trigger-backup` under
/// `service_account` (which may create MysqlBackups).
pub fn cron_job(
    group: &MysqlFailoverGroup,
    schedule: &BackupSchedule,
    image: &str,
    service_account: &str,
) -> Value {
    let g = group.metadata.name.as_deref().unwrap_or_default();
    let concurrency = schedule
        .concurrency_policy
        .and_then(|p| serde_json::to_value(p).ok())
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "Forbid".into());
    trigger_cron(
        group,
        &Trigger {
            name: cron_job_name(g, &schedule.name),
            schedule_label: (label::BACKUP_SCHEDULE, schedule.name.clone()),
            profile: schedule.profile_name.clone(),
            schedule: schedule.schedule.clone(),
            time_zone: schedule.time_zone.clone(),
            suspend: schedule.suspend,
            starting_deadline_seconds: schedule.starting_deadline_seconds,
            concurrency,
            successful_history: schedule.successful_jobs_history_limit,
            failed_history: schedule.failed_jobs_history_limit,
            command: vec![
                "bloodraven".into(),
                "trigger-backup".into(),
                format!("--group={g}"),
                format!("--profile={}", schedule.profile_name),
                format!("--schedule={}", schedule.name),
            ],
        },
        image,
        service_account,
    )
}

/// The verification CronJob `mysql-<group>-verify-<profile>` of a profile with `verification.enabled`, running
/// `bloodraven trigger-verification --group=<group> --profile=<profile>` (backup-verification.txt).
pub fn verification_cron_job(
    group: &MysqlFailoverGroup,
    profile: &str,
    schedule: &str,
    v: &bloodraven_api::failovergroup::backup::VerificationSpec,
    image: &str,
    service_account: &str,
) -> Value {
    let g = group.metadata.name.as_deref().unwrap_or_default();
    let concurrency = v
        .concurrency_policy
        .and_then(|p| serde_json::to_value(p).ok())
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "Forbid".into());
    let mut name = format!("mysql-{g}-verify-{profile}");
    name.truncate(52);
    trigger_cron(
        group,
        &Trigger {
            name: name.trim_end_matches('-').to_owned(),
            schedule_label: (label::VERIFICATION_SCHEDULE, profile.to_owned()),
            profile: profile.to_owned(),
            schedule: schedule.to_owned(),
            time_zone: v.time_zone.clone(),
            suspend: v.suspend,
            starting_deadline_seconds: v.starting_deadline_seconds,
            concurrency,
            successful_history: v.successful_jobs_history_limit,
            failed_history: v.failed_jobs_history_limit,
            command: vec![
                "bloodraven".into(),
                "trigger-verification".into(),
                format!("--group={g}"),
                format!("--profile={profile}"),
                format!("--schedule={profile}"),
            ],
        },
        image,
        service_account,
    )
}

struct Trigger {
    name: String,
    schedule_label: (&'static str, String),
    profile: String,
    schedule: String,
    time_zone: Option<String>,
    suspend: Option<bool>,
    starting_deadline_seconds: Option<i64>,
    concurrency: String,
    successful_history: Option<i32>,
    failed_history: Option<i32>,
    command: Vec<String>,
}

fn trigger_cron(
    group: &MysqlFailoverGroup,
    t: &Trigger,
    image: &str,
    service_account: &str,
) -> Value {
    let g = group.metadata.name.as_deref().unwrap_or_default();
    let mut labels = BTreeMap::new();
    labels.insert(label::INSTANCE, g.to_owned());
    labels.insert(label::MANAGED_BY, label::MANAGED_BY_VALUE.to_owned());
    labels.insert(label::FAILOVER_GROUP, g.to_owned());
    labels.insert(label::BACKUP_PROFILE, t.profile.clone());
    labels.insert(t.schedule_label.0, t.schedule_label.1.clone());
    json!({
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {
            "name": t.name,
            "namespace": group.metadata.namespace,
            "labels": labels,
            "ownerReferences": [{
                "apiVersion": "shipstream.io/v1alpha1",
                "kind": "MysqlFailoverGroup",
                "name": g,
                "uid": group.metadata.uid,
                "controller": true,
                "blockOwnerDeletion": true,
            }],
        },
        "spec": {
            "schedule": t.schedule,
            "timeZone": t.time_zone.as_deref().unwrap_or("Etc/UTC"),
            "suspend": t.suspend.unwrap_or(false),
            "startingDeadlineSeconds": t.starting_deadline_seconds,
            "concurrencyPolicy": t.concurrency,
            "successfulJobsHistoryLimit": t.successful_history.unwrap_or(3),
            "failedJobsHistoryLimit": t.failed_history.unwrap_or(3),
            "jobTemplate": {
                "metadata": { "labels": labels },
                "spec": {
                    "backoffLimit": 2,
                    "template": {
                        "metadata": { "labels": labels },
                        "spec": {
                            "serviceAccountName": service_account,
                            "restartPolicy": "OnFailure",
                            "securityContext": {
                                "runAsNonRoot": true,
                                "runAsUser": 65532,
                                "seccompProfile": { "type": "RuntimeDefault" },
                            },
                            "containers": [{
                                "name": "trigger",
                                "image": image,
                                "command": t.command,
                                "env": [{
                                    "name": "POD_NAMESPACE",
                                    "valueFrom": { "fieldRef": { "fieldPath": "metadata.namespace" } },
                                }],
                                "securityContext": {
                                    "allowPrivilegeEscalation": false,
                                    "readOnlyRootFilesystem": true,
                                    "capabilities": { "drop": ["ALL"] },
                                },
                            }],
                        },
                    },
                },
            },
        },
    })
}

#[cfg(test)]
mod tests;
