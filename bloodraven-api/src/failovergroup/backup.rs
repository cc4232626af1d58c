//! `spec.backup`: logical backups, storage profiles, schedules, verification and PITR archiving.

use k8s_openapi::api::core::v1::{
    LocalObjectReference, PodSecurityContext, ResourceRequirements, SecurityContext,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::duration::Duration;
use crate::verification::{PointInTimeVerificationSpec, SanityCheckSpec};

/// Logical backups (mysqlsh dumps), their schedules and continuous binlog archiving.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupSpec {
    /// Image containing `mysqlsh`, used by dump, restore and verification Jobs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "container-registry.oracle.com/mysql/community-server:9.7"))]
    pub image: Option<String>,
    /// Pull secrets for Job pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_secrets: Option<Vec<LocalObjectReference>>,
    /// Named storage and dump recipes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profiles: Option<Vec<BackupProfile>>,
    /// Cron schedules that create MysqlBackup objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedules: Option<Vec<BackupSchedule>>,
    /// A replica is an acceptable dump source only if its lag is at most this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0), extend("default" = 300))]
    pub max_lag_seconds_for_source: Option<i64>,
    /// Backup Job container resources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// Job active deadline in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 60), extend("default" = 7200))]
    pub active_deadline_seconds: Option<i64>,
    /// Job pod retry limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0), extend("default" = 2))]
    pub backoff_limit: Option<i32>,
    /// Retry of failed scheduled backups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<BackupRetrySpec>,
    /// Continuous binlog archiving by the sidecar.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pitr: Option<PitrSpec>,
    /// Merged over hardened defaults for backup pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_security_context: Option<PodSecurityContext>,
    /// Merged over hardened defaults for backup containers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_security_context: Option<SecurityContext>,
    /// `sizeLimit` of the Job's emptyDir staging volume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::quantity")]
    pub staging_volume_size_limit: Option<Quantity>,
}

impl BackupSpec {
    /// The profile called `name`, if any.
    pub fn profile(&self, name: &str) -> Option<&BackupProfile> {
        self.profiles.iter().flatten().find(|p| p.name == name)
    }
}

/// Retry of failed scheduled backups.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupRetrySpec {
    /// Total attempts per scheduled run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 10), extend("default" = 1))]
    pub max_attempts: Option<i32>,
    /// First retry delay in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1), extend("default" = 60))]
    pub initial_backoff_seconds: Option<i32>,
    /// Cap of the exponential backoff in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1), extend("default" = 1800))]
    pub max_backoff_seconds: Option<i32>,
}

/// Continuous binlog archiving.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PitrSpec {
    /// Turn archiving on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = false))]
    pub enabled: Option<bool>,
    /// Profile whose storage receives binlogs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub profile_name: Option<String>,
    /// Binlog rotation size, so archived files stay small.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "100M"))]
    pub max_binlog_size: Option<String>,
    /// Sidecar archiver scan period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "60s"))]
    pub archive_poll_interval: Option<Duration>,
}

/// A named storage and dump recipe.
#[derive(Clone, Debug, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupProfile {
    /// Profile id, referenced by schedules, MysqlBackup and PITR.
    #[schemars(length(min = 1), regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"))]
    pub name: String,
    /// Destination.
    pub storage: BackupStorage,
    /// mysqlsh `util.dumpInstance` options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dump: Option<DumpOptions>,
    /// Legacy: number of successful backups to keep.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0), extend("default" = 7))]
    pub retention: Option<i32>,
    /// Richer retention, superseding `retention`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_policy: Option<RetentionPolicy>,
    /// Scheduled restore tests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<VerificationSpec>,
    /// Client-side artifact encryption.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<BackupEncryptionSpec>,
}

/// A backup destination: exactly one of `s3` or `pvc`, matching `type`.
#[derive(Clone, Debug, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{
    "rule": "(self.type == 'S3' && has(self.s3) && !has(self.pvc)) || (self.type == 'PVC' && has(self.pvc) && !has(self.s3))",
    "message": "set exactly one of s3 or pvc, matching type"
}]))]
pub struct BackupStorage {
    /// Backend selector.
    #[serde(rename = "type")]
    pub type_: StorageType,
    /// S3 bucket location.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3: Option<S3Storage>,
    /// PVC location.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pvc: Option<PvcStorage>,
}

/// Backup storage backend.
#[derive(Clone, Copy, Debug, Deserialize, Eq, Hash, JsonSchema, PartialEq, Serialize)]
pub enum StorageType {
    /// A PersistentVolumeClaim.
    #[serde(rename = "PVC")]
    Pvc,
    /// An S3-compatible bucket.
    S3,
}

/// An S3 (or S3-compatible) location.
#[derive(Clone, Debug, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct S3Storage {
    /// Bucket.
    #[schemars(length(min = 1))]
    pub bucket: String,
    /// Key prefix; dumps are written under it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// AWS region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// S3-compatible endpoint (MinIO, R2, …).
    #[serde(
        default,
        rename = "endpointURL",
        skip_serializing_if = "Option::is_none"
    )]
    pub endpoint_url: Option<String>,
    /// Secret with `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`.
    #[schemars(length(min = 1))]
    pub credentials_secret: String,
    /// S3 storage class of uploaded objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class: Option<String>,
}

/// A PVC location.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PvcStorage {
    /// Existing PVC to write into (the operator creates `mysql-<fg>-backup-<profile>` otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim_name: Option<String>,
    /// Class of an operator-created PVC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class_name: Option<String>,
    /// Size of an operator-created PVC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::quantity")]
    pub size: Option<Quantity>,
    /// Sub-directory inside the PVC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_path: Option<String>,
}

impl BackupProfile {
    /// The PVC a `PVC` profile writes into: `storage.pvc.claimName`, else the one the operator creates,
    /// `mysql-<group>-backup-<profile>`.
    pub fn claim_name(&self, group: &str) -> String {
        self.storage
            .pvc
            .as_ref()
            .and_then(|p| p.claim_name.clone())
            .unwrap_or_else(|| format!("mysql-{group}-backup-{}", self.name))
    }
}

/// mysqlsh `util.dumpInstance` options.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DumpOptions {
    /// Parallel dump threads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1), extend("default" = 4))]
    pub threads: Option<i32>,
    /// Chunk size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "64M"))]
    pub bytes_per_chunk: Option<String>,
    /// Chunk compression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "zstd"))]
    pub compression: Option<Compression>,
    /// Schemas to skip.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude_schemas: Option<Vec<String>>,
    /// Only these schemas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_schemas: Option<Vec<String>>,
    /// Consistent (locking) dump.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = true))]
    pub consistent: Option<bool>,
    /// MySQL HeatWave/OCI compatibility checks.
    #[serde(default, rename = "ocimds", skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = false))]
    pub ocimds: Option<bool>,
}

/// Dump chunk compression.
#[derive(Clone, Copy, Debug, Default, Deserialize, Eq, Hash, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// gzip.
    Gzip,
    /// No compression.
    None,
    /// zstd.
    #[default]
    Zstd,
}

/// Retention of successful and failed backups.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RetentionPolicy {
    /// Keep at most N successful backups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub count: Option<i32>,
    /// Delete successful backups older than N days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub max_age_days: Option<i32>,
    /// Never go below N successful backups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0), extend("default" = 1))]
    pub min_keep: Option<i32>,
    /// Failed MysqlBackup objects kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0), extend("default" = 10))]
    pub max_failed_keep: Option<i32>,
}

/// A cron schedule creating MysqlBackup objects.
#[derive(Clone, Debug, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupSchedule {
    /// Schedule id (CronJob name part, label value).
    #[schemars(regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"))]
    pub name: String,
    /// Profile to use.
    pub profile_name: String,
    /// Five-field cron expression.
    pub schedule: String,
    /// IANA zone of the CronJob.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "Etc/UTC"))]
    pub time_zone: Option<String>,
    /// Suspend the CronJob.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = false))]
    pub suspend: Option<bool>,
    /// CronJob `startingDeadlineSeconds`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starting_deadline_seconds: Option<i64>,
    /// CronJob concurrency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "Forbid"))]
    pub concurrency_policy: Option<ConcurrencyPolicy>,
    /// Successful Jobs kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0), extend("default" = 3))]
    pub successful_jobs_history_limit: Option<i32>,
    /// Failed Jobs kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0), extend("default" = 3))]
    pub failed_jobs_history_limit: Option<i32>,
}

/// CronJob concurrency policy.
#[derive(Clone, Copy, Debug, Default, Deserialize, Eq, Hash, JsonSchema, PartialEq, Serialize)]
pub enum ConcurrencyPolicy {
    /// Run concurrently.
    Allow,
    /// Skip a run while the previous one is active.
    #[default]
    Forbid,
    /// Replace the active run.
    Replace,
}

/// CronJob concurrency policy of verification runs (no `Allow`).
#[derive(Clone, Copy, Debug, Default, Deserialize, Eq, Hash, JsonSchema, PartialEq, Serialize)]
pub enum VerificationConcurrencyPolicy {
    /// Skip a run while the previous one is active.
    #[default]
    Forbid,
    /// Replace the active run.
    Replace,
}

/// Scheduled restore tests of a profile.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VerificationSpec {
    /// Create a verification CronJob for this profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = false))]
    pub enabled: Option<bool>,
    /// When to verify (five-field cron).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// CronJob zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "Etc/UTC"))]
    pub time_zone: Option<String>,
    /// Suspend the CronJob.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspend: Option<bool>,
    /// CronJob concurrency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "Forbid"))]
    pub concurrency_policy: Option<VerificationConcurrencyPolicy>,
    /// CronJob `startingDeadlineSeconds`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starting_deadline_seconds: Option<i64>,
    /// Successful Jobs kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0), extend("default" = 3))]
    pub successful_jobs_history_limit: Option<i32>,
    /// Failed Jobs kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0), extend("default" = 3))]
    pub failed_jobs_history_limit: Option<i32>,
    /// Scratch PVC of the throw-away restore target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<VerificationStorage>,
    /// Keep scratch resources when a run fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = true))]
    pub keep_on_failure: Option<bool>,
    /// Delay before cleaning up a finished run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0), extend("default" = 0))]
    pub ttl_seconds_after_finished: Option<i32>,
    /// MysqlBackupVerification objects kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_policy: Option<VerificationRetentionPolicy>,
    /// Binlog replay after the load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub point_in_time: Option<PointInTimeVerificationSpec>,
    /// Query run against the restored instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sanity_check: Option<SanityCheckSpec>,
}

/// Scratch PVC of a verification run.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VerificationStorage {
    /// Scratch PVC class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class_name: Option<String>,
    /// Scratch PVC size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::quantity")]
    pub size: Option<Quantity>,
}

/// Retention of MysqlBackupVerification objects.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VerificationRetentionPolicy {
    /// Objects kept on success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0), extend("default" = 30))]
    pub keep_successful: Option<i32>,
    /// Objects kept on failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0), extend("default" = 10))]
    pub keep_failures: Option<i32>,
}

/// Client-side artifact encryption.
#[derive(Clone, Debug, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupEncryptionSpec {
    /// Cipher.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "AES-256-GCM"))]
    pub algorithm: Option<EncryptionAlgorithm>,
    /// Secret with the passphrase.
    pub passphrase_secret: PassphraseSecretRef,
}

/// Artifact cipher.
#[derive(Clone, Copy, Debug, Default, Deserialize, Eq, Hash, JsonSchema, PartialEq, Serialize)]
pub enum EncryptionAlgorithm {
    /// AES-256 in GCM mode (the BRV1 format).
    #[default]
    #[serde(rename = "AES-256-GCM")]
    Aes256Gcm,
}

/// Passphrase for encrypted artifacts.
#[derive(Clone, Debug, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupDecryptionSpec {
    /// Secret with the passphrase.
    pub passphrase_secret: PassphraseSecretRef,
}

/// A key in a Secret holding a passphrase.
#[derive(Clone, Debug, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PassphraseSecretRef {
    /// Secret name.
    #[schemars(length(min = 1))]
    pub name: String,
    /// Key in the Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1), extend("default" = "passphrase"))]
    pub key: Option<String>,
}

impl PassphraseSecretRef {
    /// The key holding the passphrase: `key`, else `passphrase`.
    pub fn key_or_default(&self) -> &str {
        self.key.as_deref().unwrap_or("passphrase")
    }
}
