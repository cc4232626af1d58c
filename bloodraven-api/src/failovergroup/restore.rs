//! `spec.initFromBackup` and `spec.restoreInPlace`: loading a dump into a group.

use k8s_openapi::api::core::v1::LocalObjectReference;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::backup::{BackupDecryptionSpec, S3Storage};

/// One-shot seed of a brand-new group from a dump (no automatic retry).
#[derive(Clone, Debug, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InitFromBackupSpec {
    /// Where the dump lives.
    pub source: InitFromBackupSource,
    /// mysqlsh `util.loadDump` options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_options: Option<LoadOptions>,
    /// Replay archived binlogs after the load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub point_in_time: Option<PointInTimeSpec>,
    /// Passphrase for encrypted artifacts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decryption: Option<BackupDecryptionSpec>,
}

/// Destructive, re-armable restore into the live primary.
#[derive(Clone, Debug, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RestoreInPlaceSpec {
    /// Arming token (RFC 3339); a run starts only when it is later than the last one used.
    pub confirm: String,
    /// Dump location.
    pub source: InitFromBackupSource,
    /// mysqlsh `util.loadDump` options; `includeSchemas` has no entry (full instance) or one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_options: Option<LoadOptions>,
    /// Optional binlog replay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub point_in_time: Option<PointInTimeSpec>,
    /// Passphrase for encrypted dumps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decryption: Option<BackupDecryptionSpec>,
}

/// Where a dump to load lives: exactly one of the three.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{
    "rule": "[has(self.mysqlBackupRef), has(self.s3), has(self.pvc)].filter(x, x).size() == 1",
    "message": "set exactly one of mysqlBackupRef, s3 or pvc"
}]))]
pub struct InitFromBackupSource {
    /// A Succeeded MysqlBackup in the same namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mysql_backup_ref: Option<LocalObjectReference>,
    /// An explicit S3 location (prefix = dump directory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3: Option<S3Storage>,
    /// A pre-populated PVC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pvc: Option<RestorePvcSource>,
}

/// A pre-populated PVC, mounted read-only at `/restore`.
#[derive(Clone, Debug, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RestorePvcSource {
    /// PVC name.
    #[schemars(length(min = 1))]
    pub claim_name: String,
    /// Dump directory inside it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_path: Option<String>,
}

/// mysqlsh `util.loadDump` options.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadOptions {
    /// Parallel load threads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1), extend("default" = 4))]
    pub threads: Option<i32>,
    /// Discard earlier load progress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = true))]
    pub reset_progress: Option<bool>,
    /// Do not binlog the load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = true))]
    pub skip_binlog: Option<bool>,
    /// Build secondary indexes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = true))]
    pub load_indexes: Option<bool>,
    /// Only these schemas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_schemas: Option<Vec<String>>,
    /// Schemas to skip.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude_schemas: Option<Vec<String>>,
}

/// Binlog replay after a load.
#[derive(Clone, Debug, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PointInTimeSpec {
    /// RFC 3339 or `YYYY-MM-DD HH:MM:SS` (UTC) stop point.
    #[schemars(length(min = 1))]
    pub stop_datetime: String,
    /// GTID set to skip during replay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude_gtids: Option<String>,
}
