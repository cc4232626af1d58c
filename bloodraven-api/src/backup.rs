//! `MysqlBackup`: one logical dump of a failover group, run as a Job.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::failovergroup::backup::StorageType;

/// One dump of a failover group through a backup profile.
#[derive(Clone, CustomResource, Debug, Deserialize, JsonSchema, PartialEq, Serialize)]
#[kube(
    group = "shipstream.io",
    version = "v1alpha1",
    kind = "MysqlBackup",
    plural = "mysqlbackups",
    singular = "mysqlbackup",
    namespaced,
    status = "MysqlBackupStatus",
    derive = "PartialEq",
    doc = "One logical dump (mysqlsh util.dumpInstance) of a MysqlFailoverGroup.",
    printcolumn = r#"{"name":"Group","type":"string","jsonPath":".spec.failoverGroupRef.name"}"#,
    printcolumn = r#"{"name":"Profile","type":"string","jsonPath":".spec.profileName"}"#,
    printcolumn = r#"{"name":"Phase","type":"string","jsonPath":".status.phase"}"#,
    printcolumn = r#"{"name":"Started","type":"date","jsonPath":".status.startTime"}"#,
    printcolumn = r#"{"name":"Completed","type":"date","jsonPath":".status.completionTime"}"#,
    printcolumn = r#"{"name":"Location","type":"string","jsonPath":".status.location","priority":1}"#,
    printcolumn = r#"{"name":"Size","type":"string","jsonPath":".status.size","priority":1}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct MysqlBackupSpec {
    /// Group in the same namespace.
    pub failover_group_ref: FailoverGroupRef,
    /// `spec.backup.profiles[].name` of that group.
    #[schemars(length(min = 1))]
    pub profile_name: String,
    /// Force the dump source site.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_site_override: Option<String>,
    /// Free-form provenance (schedule name, user).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub triggered_by: Option<String>,
}

/// A MysqlFailoverGroup in the same namespace.
#[derive(Clone, Debug, Deserialize, JsonSchema, PartialEq, Serialize)]
pub struct FailoverGroupRef {
    /// Group name.
    #[schemars(length(min = 1))]
    pub name: String,
}

/// The observed state of a backup.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MysqlBackupStatus {
    /// Lifecycle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<BackupPhase>,
    /// Job start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Time>,
    /// Terminal time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_time: Option<Time>,
    /// Backup Job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_name: Option<String>,
    /// Site dumped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_site: Option<String>,
    /// Artifact location (S3 prefix or path under the PVC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Backend of `location`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_type: Option<StorageType>,
    /// Human-readable size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<String>,
    /// Size in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<i64>,
    /// GTID set at the dump's consistency point.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gtid_executed: Option<String>,
    /// Binlog file at that point.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binlog_file: Option<String>,
    /// Binlog position at that point.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binlog_pos: Option<i64>,
    /// The group's active site when the Job started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_site_at_start: Option<String>,
    /// Retry attempt number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<i32>,
    /// Artifact is encrypted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encrypted: Option<bool>,
    /// Cipher, e.g. `AES-256-GCM`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_algorithm: Option<String>,
    /// Server image at dump time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mysql_image: Option<String>,
    /// Human-readable message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Generation this status reflects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `JobCreated` and `Ready`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::conditions")]
    pub conditions: Option<Vec<Condition>>,
}

/// Lifecycle of a backup (also of an `initFromBackup` restore).
#[derive(Clone, Copy, Debug, Default, Deserialize, Eq, Hash, JsonSchema, PartialEq, Serialize)]
pub enum BackupPhase {
    /// Failed.
    Failed,
    /// Created, Job not running yet.
    #[default]
    Pending,
    /// Job running.
    Running,
    /// Done.
    Succeeded,
}
