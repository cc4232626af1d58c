//! `MysqlFailoverGroup.status`: what the operator observed, written through the status subresource.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::backup::BackupPhase;
use crate::duration::Duration;

/// The observed state of a failover group.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MysqlFailoverGroupStatus {
    /// The single writable, promotable site treated as authoritative; empty when none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_site: Option<String>,
    /// Counter bumped every time the active site changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub topology_generation: Option<i64>,
    /// One entry per `spec.sites` item, same order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sites: Option<Vec<SiteStatus>>,
    /// `Ready`, `Degraded`, `Bootstrapping`, `Updating`, `RecoveryPending`, `EncryptionAtRestReady`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::conditions")]
    pub conditions: Option<Vec<Condition>>,
    /// Time of the most recent promotion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_failover: Option<Time>,
    /// Site promoted in that event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_failover_target: Option<String>,
    /// GTID set of the candidate just before it accepted writes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promotion_gtid_executed: Option<String>,
    /// Current ordered-update phase, empty when none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_phase: Option<String>,
    /// Progress of `spec.initFromBackup`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore: Option<RestoreStatus>,
    /// Progress of `spec.restoreInPlace`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_in_place: Option<RestoreInPlaceStatus>,
    /// One per `spec.backup.schedules`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_schedules: Option<Vec<BackupScheduleStatus>>,
    /// Completion time of the newest Succeeded MysqlBackup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_backup_time: Option<Time>,
    /// Binlog archive summary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pitr: Option<PitrStatus>,
    /// Last or ongoing annotation-driven switchover.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub planned_failover: Option<PlannedFailoverStatus>,
    /// Dragonfly topology state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dragonfly: Option<DragonflyStatus>,
    /// Keyring lifecycle per site.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_at_rest: Option<EncryptionAtRestStatus>,
}

/// Last polled state of one site.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SiteStatus {
    /// Site name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Last polled state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<SiteState>,
    /// Last successful poll, as of the last status write: the operator writes the status when the topology changes,
    /// never for this field alone (the auxiliary server's `/status` has the live value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<Time>,
    /// `@@gtid_executed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gtid_executed: Option<String>,
    /// IO and SQL threads running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicating: Option<bool>,
    /// Lag; absent when unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds_behind_source: Option<i64>,
    /// Old-primary rejoin progress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_state: Option<RecoveryState>,
    /// Errant GTID set (when blocked); input of the reclone annotation's prefix form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub divergent_gtid: Option<String>,
    /// Count of divergent transactions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub divergent_transaction_count: Option<i64>,
    /// Replication source host reported by MySQL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_host: Option<String>,
    /// Whether the follower replicates directly from the confirmed primary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_convergence_state: Option<SourceConvergenceState>,
    /// Stable machine-readable explanation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_convergence_reason: Option<String>,
}

/// Polled state of a site.
#[derive(Clone, Copy, Debug, Default, Deserialize, Eq, Hash, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SiteState {
    /// Read-only (a replica).
    ReadOnly,
    /// Not known yet.
    #[default]
    Unknown,
    /// Polls fail.
    Unreachable,
    /// Accepts writes.
    Writable,
}

/// Old-primary rejoin progress.
#[derive(Clone, Copy, Debug, Default, Deserialize, Eq, Hash, JsonSchema, PartialEq, Serialize)]
pub enum RecoveryState {
    /// No recovery.
    #[default]
    #[serde(rename = "")]
    None,
    /// Divergent GTIDs: needs a reclone.
    RecoveryBlocked,
    /// Rejoining.
    RecoveryInProgress,
}

/// Whether a follower replicates from the confirmed primary.
#[derive(Clone, Copy, Debug, Default, Deserialize, Eq, Hash, JsonSchema, PartialEq, Serialize)]
pub enum SourceConvergenceState {
    /// Not evaluated.
    #[default]
    #[serde(rename = "")]
    None,
    /// Cannot converge.
    Blocked,
    /// Replicates from the primary.
    Converged,
    /// Being repointed.
    Pending,
}

/// Progress of `spec.initFromBackup`.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RestoreStatus {
    /// Job phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<BackupPhase>,
    /// Shared restore bookkeeping.
    #[serde(flatten)]
    pub details: RestoreDetails,
}

/// Progress of `spec.restoreInPlace`.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RestoreInPlaceStatus {
    /// State machine phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<RestoreInPlacePhase>,
    /// `full` or `schema:<name>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// `spec.restoreInPlace.confirm` of the last executed run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirm_token_used: Option<String>,
    /// Sites still to be recloned after a Succeeded full-instance restore, in order. The reclone annotation holds
    /// one site, so the operator gives it the next one each time the previous reclone is done (the annotation is
    /// gone); empty once every other site was scheduled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_reclones: Option<Vec<String>>,
    /// Shared restore bookkeeping.
    #[serde(flatten)]
    pub details: RestoreDetails,
}

/// The fields `status.restore` and `status.restoreInPlace` share.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RestoreDetails {
    /// Restore Job name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_name: Option<String>,
    /// Site being loaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_site: Option<String>,
    /// Job start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Time>,
    /// Job terminal time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_time: Option<Time>,
    /// Human-readable message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// GTID set of the referenced backup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_gtid_executed: Option<String>,
    /// Binlog file of the referenced backup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_binlog_file: Option<String>,
    /// Binlog position of the referenced backup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_binlog_pos: Option<i64>,
    /// Artifact size; 0 = unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_size_bytes: Option<i64>,
    /// Target `@@global.gtid_executed` after the load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_gtid_executed: Option<String>,
    /// Target binlog file after the load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_binlog_file: Option<String>,
    /// Target binlog position after the load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_binlog_pos: Option<i64>,
    /// Normalised `--stop-datetime` used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pitr_stop_datetime: Option<String>,
    /// Last archived binlog replayed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pitr_replayed_binlog_file: Option<String>,
    /// Number of binlogs replayed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pitr_replayed_binlog_count: Option<i32>,
}

/// In-place restore state machine.
#[derive(Clone, Copy, Debug, Default, Deserialize, Eq, Hash, JsonSchema, PartialEq, Serialize)]
pub enum RestoreInPlacePhase {
    /// Idle.
    #[default]
    #[serde(rename = "")]
    None,
    /// Failed.
    Failed,
    /// The primary is fenced.
    Fencing,
    /// Waiting for a writable active site.
    Preflight,
    /// The load Job runs.
    Restoring,
    /// A replica is recloned and the fence lifted.
    Resuming,
    /// Done.
    Succeeded,
}

/// Status of one backup schedule.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupScheduleStatus {
    /// Schedule name.
    pub name: String,
    /// Generated CronJob.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron_job_name: Option<String>,
    /// Last time a backup was scheduled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_schedule_time: Option<Time>,
    /// Last success of this schedule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_successful_time: Option<Time>,
    /// Most recent MysqlBackup created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_backup_name: Option<String>,
    /// Its phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_backup_phase: Option<String>,
    /// Most recent Succeeded MysqlBackup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_successful_backup_name: Option<String>,
    /// Retry attempt counter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_retry_attempt: Option<i32>,
    /// When the next retry will be created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_retry_time: Option<Time>,
}

/// Binlog archive summary.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PitrStatus {
    /// Mirrors `spec.backup.pitr.enabled`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Mirrors `spec.backup.pitr.profileName`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_name: Option<String>,
    /// Earliest first-event time still archived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oldest_archived_time: Option<Time>,
    /// Latest last-event time archived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newest_archived_time: Option<Time>,
    /// Files held.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archived_file_count: Option<i32>,
    /// Bytes held.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archived_bytes: Option<i64>,
    /// Wall-clock time of the latest upload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_archived_time: Option<Time>,
    /// Error text, empty when healthy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Last or ongoing planned failover.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlannedFailoverStatus {
    /// Switchover state machine phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<PlannedFailoverPhase>,
    /// Requested site.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Active site when accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_primary: Option<String>,
    /// Source GTID set right after `super_read_only=ON`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_gtid_at_fence: Option<String>,
    /// Target GTID set just before `read_only=0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_gtid_at_promotion: Option<String>,
    /// Accept time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Time>,
    /// Terminal time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_time: Option<Time>,
    /// Total duration in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<i64>,
    /// GTIDs on the source missing on the target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transactions_lost: Option<i64>,
    /// Failure or deferral tag such as `CooldownActive` or `LagTimeout`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Human-readable message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Effective lag budget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_lag_wait: Option<Duration>,
    /// Drain start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drain_start_time: Option<Time>,
    /// Effective drain budget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drain_timeout: Option<Duration>,
    /// Lag wait start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lag_wait_start_time: Option<Time>,
    /// In `Deferred`: earliest retry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<Time>,
    /// Dragonfly's part in the switchover.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dragonfly: Option<PlannedFailoverDragonflyStatus>,
}

/// Planned failover phase.
#[derive(Clone, Copy, Debug, Default, Deserialize, Eq, Hash, JsonSchema, PartialEq, Serialize)]
pub enum PlannedFailoverPhase {
    /// Idle.
    #[default]
    #[serde(rename = "")]
    None,
    /// Parked inside the cooldown.
    Deferred,
    /// Draining connections on the source.
    Draining,
    /// Failed.
    Failed,
    /// Accepted, not started.
    Pending,
    /// Promoting Dragonfly.
    PromotingDragonfly,
    /// Promoting MySQL.
    Promoting,
    /// Re-enabling replication.
    Resuming,
    /// Done.
    Succeeded,
    /// Checking the request.
    Validating,
    /// Waiting for the Dragonfly replica.
    WaitingForDragonflySync,
    /// Waiting for the target to catch up.
    WaitingForLag,
}

/// Dragonfly's part in a planned failover.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlannedFailoverDragonflyStatus {
    /// Dragonfly participated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Entered `WaitingForDragonflySync`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_wait_start_time: Option<Time>,
    /// Source master offset captured at drain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_offset_at_drain: Option<i64>,
    /// Capture failed; the offset is a sentinel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset_capture_failed: Option<bool>,
    /// Replica offset at promotion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_offset_at_promotion: Option<i64>,
    /// Time spent waiting, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_wait_seconds: Option<i64>,
    /// Tri-state session outcome.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sessions_preserved: Option<bool>,
    /// `REPLTAKEOVER`, `REPLICAOF NO ONE` or `skipped`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promotion_method: Option<String>,
    /// Reason tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Human-readable message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Dragonfly topology state.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DragonflyStatus {
    /// Mirrors the spec.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Site whose Dragonfly is master.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_site: Option<String>,
    /// Aggregate state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<DragonflyPhase>,
    /// Human-readable message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Last promotion time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_promotion_time: Option<Time>,
    /// Last promotion target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_promotion_target: Option<String>,
    /// Per-site state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sites: Option<Vec<DragonflySiteStatus>>,
    /// Snapshot-based image upgrade.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade: Option<DragonflyUpgradeStatus>,
}

/// Aggregate Dragonfly state.
#[derive(Clone, Copy, Debug, Default, Deserialize, Eq, Hash, JsonSchema, PartialEq, Serialize)]
pub enum DragonflyPhase {
    /// Not reported.
    #[default]
    #[serde(rename = "")]
    None,
    /// Replication being configured.
    ConfiguringReplication,
    /// Degraded.
    Degraded,
    /// Disabled.
    Disabled,
    /// Promoting.
    Promoting,
    /// Ready.
    Ready,
    /// Reconciling.
    Reconciling,
}

/// One site's Dragonfly.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DragonflySiteStatus {
    /// Site.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Observed role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<DragonflyRole>,
    /// Reachable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reachable: Option<bool>,
    /// Per-site Dragonfly Service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_name: Option<String>,
    /// Pod name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_name: Option<String>,
    /// From `INFO replication`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replication_state: Option<String>,
    /// `master_link_status`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_status: Option<String>,
    /// Full sync in progress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_in_progress: Option<bool>,
    /// Seconds since the last IO with the master.
    #[serde(
        default,
        rename = "lastIOSecondsAgo",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_io_seconds_ago: Option<i64>,
    /// Ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready: Option<bool>,
    /// Human-readable message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Observed Dragonfly role.
#[derive(Clone, Copy, Debug, Default, Deserialize, Eq, Hash, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DragonflyRole {
    /// Master.
    Master,
    /// Replica.
    Replica,
    /// A master that should be a replica.
    StaleMaster,
    /// Not configured.
    Unconfigured,
    /// Not known.
    #[default]
    Unknown,
    /// Unreachable.
    Unreachable,
}

/// Snapshot-based Dragonfly image upgrade.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DragonflyUpgradeStatus {
    /// Upgrade phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<DragonflyUpgradePhase>,
    /// Old image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_image: Option<String>,
    /// Requested image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_image: Option<String>,
    /// Master site during the upgrade.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_site: Option<String>,
    /// `--dir` used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_dir: Option<String>,
    /// Start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Time>,
    /// Snapshot taken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_time: Option<Time>,
    /// End.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_time: Option<Time>,
    /// Reason tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Human-readable message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Dragonfly upgrade phase.
#[derive(Clone, Copy, Debug, Deserialize, Eq, Hash, JsonSchema, PartialEq, Serialize)]
pub enum DragonflyUpgradePhase {
    /// Failed.
    Failed,
    /// Accepted.
    Pending,
    /// Replicas being reattached.
    ReattachingReplicas,
    /// Taking the snapshot.
    SavingSnapshot,
    /// Done.
    Succeeded,
    /// Replacing the active image.
    UpdatingActive,
    /// Waiting for the active to restore.
    WaitingForActiveRestore,
}

/// Keyring lifecycle per site.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EncryptionAtRestStatus {
    /// True when enabled and every site is `Sealed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed: Option<bool>,
    /// Generation last reconciled by the encryption subsystem.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Per-site keyring state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub sites: Option<Vec<SiteEncryptionStatus>>,
}

/// One site's keyring state.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SiteEncryptionStatus {
    /// Site.
    pub name: String,
    /// Keyring lifecycle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<KeyringPhase>,
    /// Why the keyring is writable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unseal_reason: Option<UnsealReason>,
    /// Escrow Secret currently used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyring_secret: Option<String>,
    /// Monotonic escrow version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyring_version: Option<i32>,
    /// `sha256:<hex>` digest of the escrowed keyring.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyring_digest: Option<String>,
    /// Last escrow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_escrow_time: Option<Time>,
    /// Start of Unsealed (timeout clock).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unsealed_since: Option<Time>,
    /// Human-readable message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Observed encryption coverage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coverage: Option<SiteEncryptionCoverage>,
}

/// Keyring lifecycle phase.
#[derive(Clone, Copy, Debug, Default, Deserialize, Eq, Hash, JsonSchema, PartialEq, Serialize)]
pub enum KeyringPhase {
    /// Not reported.
    #[default]
    #[serde(rename = "")]
    None,
    /// Escrowed, not yet sealed.
    Escrowed,
    /// Failed.
    Failed,
    /// Waiting.
    Pending,
    /// Read-only keyring, escrowed.
    Sealed,
    /// Writable keyring.
    Unsealed,
}

/// Why a keyring is writable.
#[derive(Clone, Copy, Debug, Default, Deserialize, Eq, Hash, JsonSchema, PartialEq, Serialize)]
pub enum UnsealReason {
    /// Not unsealed.
    #[default]
    #[serde(rename = "")]
    None,
    /// First start.
    Bootstrap,
    /// After a CLONE.
    Clone,
    /// Key rotation.
    Rotation,
}

/// Observed encryption coverage of a site.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SiteEncryptionCoverage {
    /// Component name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyring_component: Option<String>,
    /// Must be true when Sealed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyring_read_only: Option<bool>,
    /// System tablespace encrypted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_tablespace_encrypted: Option<bool>,
    /// User tablespaces with `ENCRYPTION='N'`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unencrypted_tablespaces: Option<i64>,
    /// Redo log encrypted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redo_log_encrypted: Option<bool>,
    /// Undo log encrypted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub undo_log_encrypted: Option<bool>,
    /// Binlog encrypted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binlog_encrypted: Option<bool>,
    /// Last check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_check_time: Option<Time>,
}
