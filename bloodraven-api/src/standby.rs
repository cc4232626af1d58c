//! `MysqlStandbyCluster`: a disaster-recovery pilot light that watches a source group's bucket.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::duration::Duration;
use crate::failovergroup::MysqlFailoverGroupSpec;
use crate::failovergroup::backup::{BackupDecryptionSpec, BackupStorage, VerificationStorage};
use crate::verification::{ReplayedThroughBinlog, SanityCheckSpec};

/// A standby that discovers the source region's dumps and binlogs and, on activation,
/// materialises a MysqlFailoverGroup from `template`.
#[derive(Clone, CustomResource, Debug, Deserialize, JsonSchema, PartialEq, Serialize)]
#[kube(
    group = "shipstream.io",
    version = "v1alpha1",
    kind = "MysqlStandbyCluster",
    plural = "mysqlstandbyclusters",
    singular = "mysqlstandbycluster",
    shortname = "msc",
    shortname = "mscs",
    category = "bloodraven",
    category = "mysql",
    category = "dr",
    namespaced,
    status = "MysqlStandbyClusterStatus",
    derive = "PartialEq",
    doc = "A disaster-recovery standby that reads a source group's backup bucket.",
    printcolumn = r#"{"name":"Bucket","type":"string","jsonPath":".status.discovered.dumpLocation"}"#,
    printcolumn = r#"{"name":"BucketReadable","type":"string","jsonPath":".status.conditions[?(@.type==\"BucketReadable\")].status"}"#,
    printcolumn = r#"{"name":"SourceKnown","type":"string","jsonPath":".status.conditions[?(@.type==\"SourceConfigKnown\")].status"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"Phase","type":"string","jsonPath":".status.activation.phase","priority":1}"#
)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {
        "rule": "(has(self.transport) && self.transport != 'ObjectStore') || self.source.storage.type != 'S3' || (has(self.source.storage.s3) && has(self.source.storage.s3.prefix) && size(self.source.storage.s3.prefix) > 0)",
        "message": "transport ObjectStore with S3 storage requires a non-empty source.storage.s3.prefix"
    },
    {
        "rule": "(has(self.transport) && self.transport != 'ObjectStore') || self.source.storage.type == 'S3'",
        "message": "transport ObjectStore requires source.storage.type S3 (PVC is not an object store)"
    }
]))]
pub struct MysqlStandbyClusterSpec {
    /// How data arrives (`Network` is accepted but not implemented by the operator).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "ObjectStore"))]
    pub transport: Option<Transport>,
    /// Where the primary region writes backups.
    pub source: StandbySource,
    /// The group to create on activation.
    pub template: FailoverGroupTemplate,
    /// Bucket re-scan settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub freshness: Option<Freshness>,
    /// Scheduled restore drills of the discovered dump and binlog window, which set the `Restorable` condition
    /// (this implementation's; absent: no drills and `Restorable` stays `Unknown`). The Go operator ignores
    /// the field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<StandbyVerification>,
}

/// Scheduled restore drills of a standby's discovered dump and binlog window.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StandbyVerification {
    /// Time between the end of one drill and the start of the next (a newly discovered dump starts one at
    /// once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "24h", "x-kubernetes-validations" = [{
        "rule": "duration(self) >= duration('10s')",
        "message": "verification.interval must be at least 10s"
    }]))]
    pub interval: Option<Duration>,
    /// Query run against the restored instance after the replay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sanity_check: Option<SanityCheckSpec>,
    /// Scratch PVC of the throwaway server (default size from the dump size, as MysqlBackupVerification).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<VerificationStorage>,
    /// How long a claim in `<prefix>/dr-cursors/` holds the source's binlog retention back after the standby
    /// last refreshed it (it is refreshed at every scan).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "72h"))]
    pub cursor_ttl: Option<Duration>,
}

/// How a standby receives data.
#[derive(Clone, Copy, Debug, Default, Deserialize, Eq, Hash, JsonSchema, PartialEq, Serialize)]
pub enum Transport {
    /// Direct replication (not implemented by the operator).
    Network,
    /// The source's backup bucket.
    #[default]
    ObjectStore,
}

/// The source region's backup location.
#[derive(Clone, Debug, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StandbySource {
    /// Name of the source MysqlFailoverGroup (used to compute bucket paths).
    #[schemars(length(min = 1))]
    pub failover_group_name: String,
    /// Source namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Source cluster identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// Bucket definition.
    pub storage: BackupStorage,
    /// Source backup profile name.
    #[schemars(length(min = 1))]
    pub profile_name: String,
    /// Passphrase for encrypted artifacts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decryption: Option<BackupDecryptionSpec>,
}

/// The group a standby materialises.
#[derive(Clone, Debug, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FailoverGroupTemplate {
    /// Name of the materialised MysqlFailoverGroup.
    #[schemars(length(min = 1))]
    pub name: String,
    /// Complete group spec; all MysqlFailoverGroup defaults and validation apply.
    pub spec: MysqlFailoverGroupSpec,
}

/// Bucket re-scan settings.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Freshness {
    /// Bucket re-scan period (at least 30s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "5m", "x-kubernetes-validations" = [{
        "rule": "duration(self) >= duration('30s')",
        "message": "discoveryInterval must be at least 30s"
    }]))]
    pub discovery_interval: Option<Duration>,
}

/// The observed state of a standby.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MysqlStandbyClusterStatus {
    /// Generation this status reflects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// What the last bucket scan found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discovered: Option<Discovered>,
    /// Last verification (reserved).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_verified: Option<LastVerified>,
    /// Activation progress (reserved).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activation: Option<Activation>,
    /// Name of the created group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub materialized_failover_group: Option<String>,
    /// The restore drill in progress (this implementation's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_verification: Option<ActiveVerification>,
    /// `BucketReadable`, `SourceConfigKnown`, `Restorable`, and reserved `ActivationInProgress`, `Active`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::conditions")]
    pub conditions: Option<Vec<Condition>>,
}

/// What a bucket scan found.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Discovered {
    /// Newest usable dump prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dump_location: Option<String>,
    /// Its name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dump_name: Option<String>,
    /// Its completion time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dump_completion_time: Option<Time>,
    /// Its GTID set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dump_gtid_executed: Option<String>,
    /// Its size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dump_size_bytes: Option<i64>,
    /// Oldest archived binlog event time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oldest_archived_binlog_time: Option<Time>,
    /// Newest archived binlog event time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newest_archived_binlog_time: Option<Time>,
    /// Binlog manifests found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest_count: Option<i32>,
    /// Archived binlogs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archived_binlog_count: Option<i32>,
    /// Archived binlog bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archived_binlog_bytes: Option<i64>,
    /// Scan time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_scan_at: Option<Time>,
    /// Human-readable message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A restore drill in progress.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActiveVerification {
    /// The drill's Job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_name: Option<String>,
    /// Its scratch PVC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pvc_name: Option<String>,
    /// The dump it restores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dump_name: Option<String>,
    /// Start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Time>,
}

/// Last verification of the standby's data.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LastVerified {
    /// MysqlBackupVerification name (this implementation: the drill's Job).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification_name: Option<String>,
    /// Backup name (this implementation: the dump's name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_name: Option<String>,
    /// Start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Time>,
    /// End.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_time: Option<Time>,
    /// Duration in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<i64>,
    /// How far binlogs were replayed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replayed_through_binlog: Option<ReplayedThroughBinlog>,
}

/// Activation progress (reserved).
#[derive(Clone, Debug, Default, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Activation {
    /// Phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<ActivationPhase>,
    /// Confirm token of the last run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirm_token_used: Option<String>,
    /// Start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Time>,
    /// End.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_time: Option<Time>,
    /// Duration in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<i64>,
    /// Dump used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_dump_name: Option<String>,
    /// Its location.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_dump_location: Option<String>,
    /// Source GTID set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_gtid_executed: Option<String>,
    /// Target GTID set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_gtid_executed: Option<String>,
    /// Stop point used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pitr_stop_datetime: Option<String>,
    /// Binlogs replayed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pitr_replayed_binlog_count: Option<i32>,
    /// Active site of the new group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_site: Option<String>,
    /// Reason tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Human-readable message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Activation phase (reserved).
#[derive(Clone, Copy, Debug, Default, Deserialize, Eq, Hash, JsonSchema, PartialEq, Serialize)]
pub enum ActivationPhase {
    /// Idle.
    #[default]
    #[serde(rename = "")]
    None,
    /// Done.
    Activated,
    /// Failed.
    Failed,
    /// Creating the group.
    Provisioning,
    /// Replaying binlogs.
    Replaying,
    /// Loading the dump.
    Restoring,
    /// Checking.
    Validating,
}
