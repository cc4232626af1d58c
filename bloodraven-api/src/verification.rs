//! `MysqlBackupVerification`: restore a backup into a throw-away MySQL and check it.

use k8s_openapi::api::core::v1::{LocalObjectReference, ResourceRequirements};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::backup::FailoverGroupRef;
use crate::failovergroup::backup::{StorageType, VerificationStorage};

/// One verification run of a backup.
#[derive(Clone, CustomResource, Debug, Deserialize, JsonSchema, PartialEq, Serialize)]
#[kube(
    group = "shipstream.io",
    version = "v1alpha1",
    kind = "MysqlBackupVerification",
    plural = "mysqlbackupverifications",
    singular = "mysqlbackupverification",
    namespaced,
    status = "MysqlBackupVerificationStatus",
    derive = "PartialEq",
    doc = "Restores a MysqlBackup into a throw-away MySQL to prove it can be loaded.",
    printcolumn = r#"{"name":"Group","type":"string","jsonPath":".spec.failoverGroupRef.name"}"#,
    printcolumn = r#"{"name":"Profile","type":"string","jsonPath":".spec.profileName"}"#,
    printcolumn = r#"{"name":"Phase","type":"string","jsonPath":".status.phase"}"#,
    printcolumn = r#"{"name":"Backup","type":"string","jsonPath":".status.backupRef.name","priority":1}"#,
    printcolumn = r#"{"name":"Started","type":"date","jsonPath":".status.startTime"}"#,
    printcolumn = r#"{"name":"Completed","type":"date","jsonPath":".status.completionTime"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct MysqlBackupVerificationSpec {
    /// Group in the same namespace.
    pub failover_group_ref: FailoverGroupRef,
    /// Backup profile.
    #[schemars(length(min = 1))]
    pub profile_name: String,
    /// Backup to verify (default: the newest Succeeded backup of the profile).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_ref: Option<LocalObjectReference>,
    /// Scratch PVC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<VerificationStorage>,
    /// Keep scratch resources on failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = true))]
    pub keep_on_failure: Option<bool>,
    /// Delay before cleanup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0), extend("default" = 0))]
    pub ttl_seconds_after_finished: Option<i32>,
    /// Scratch MySQL and Job resources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// Provenance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub triggered_by: Option<String>,
    /// Binlog replay after the load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub point_in_time: Option<PointInTimeVerificationSpec>,
    /// Query run against the restored instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sanity_check: Option<SanityCheckSpec>,
}

/// Binlog replay of a verification run.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{
    "rule": "!has(self.mode) || self.mode != 'timestamp' || (has(self.timestamp) && self.timestamp != '')",
    "message": "timestamp is required when mode is timestamp"
}]))]
pub struct PointInTimeVerificationSpec {
    /// Replay mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "none"))]
    pub mode: Option<PointInTimeMode>,
    /// RFC 3339 stop point (mode `timestamp`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
}

/// How far a verification replays archived binlogs.
#[derive(Clone, Copy, Debug, Default, Deserialize, Eq, Hash, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PointInTimeMode {
    /// Everything archived.
    Latest,
    /// No replay.
    #[default]
    None,
    /// Up to `timestamp`.
    Timestamp,
}

/// A query run against the restored instance.
#[derive(Clone, Debug, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SanityCheckSpec {
    /// SQL to run.
    #[schemars(length(min = 1))]
    pub query: String,
    /// What the result must look like.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<SanityCheckExpect>,
    /// Query time budget, where the product documentation places it; `expect.maxDurationSeconds`
    /// wins when both are set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_duration_seconds: Option<i32>,
}

impl SanityCheckSpec {
    /// The query time budget: `expect.maxDurationSeconds`, else `maxDurationSeconds`, else 60.
    pub fn max_duration_seconds_or_default(&self) -> i32 {
        self.expect
            .as_ref()
            .and_then(|e| e.max_duration_seconds)
            .or(self.max_duration_seconds)
            .unwrap_or(60)
    }
}

/// Expected sanity-check result.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SanityCheckExpect {
    /// Minimum rows expected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub min_rows: Option<i64>,
    /// Query time budget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1), extend("default" = 60))]
    pub max_duration_seconds: Option<i32>,
}

/// The observed state of a verification run.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MysqlBackupVerificationStatus {
    /// Lifecycle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<VerificationPhase>,
    /// Start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Time>,
    /// Terminal time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_time: Option<Time>,
    /// Wall-clock duration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<i64>,
    /// The backup verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_ref: Option<VerifiedBackupRef>,
    /// Restore Job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_name: Option<String>,
    /// Scratch Pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_name: Option<String>,
    /// Scratch PVC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pvc_name: Option<String>,
    /// Scratch Service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_name: Option<String>,
    /// How far binlogs were replayed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replayed_through_binlog: Option<ReplayedThroughBinlog>,
    /// Sanity-check outcome.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sanity_check: Option<SanityCheckStatus>,
    /// Human-readable message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Generation this status reflects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Verified` and `ResourcesCleanedUp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::conditions")]
    pub conditions: Option<Vec<Condition>>,
}

/// Lifecycle of a verification run.
#[derive(Clone, Copy, Debug, Default, Deserialize, Eq, Hash, JsonSchema, PartialEq, Serialize)]
pub enum VerificationPhase {
    /// Running the sanity check.
    Checking,
    /// Removing scratch resources.
    Cleaning,
    /// Failed.
    Failed,
    /// Created.
    #[default]
    Pending,
    /// Creating scratch resources.
    Provisioning,
    /// Loading the dump.
    Restoring,
    /// Done.
    Succeeded,
}

/// The backup a run verified.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifiedBackupRef {
    /// MysqlBackup name.
    pub name: String,
    /// Its UID at resolution time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    /// Its location.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Its storage backend.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_type: Option<StorageType>,
}

/// How far archived binlogs were replayed.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplayedThroughBinlog {
    /// Last binlog replayed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Position reached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<i64>,
    /// Event time reached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<Time>,
}

/// Sanity-check outcome.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SanityCheckStatus {
    /// The query ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ran: Option<bool>,
    /// Query time in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<i64>,
    /// First row, stringified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_row: Option<String>,
    /// Error text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}
