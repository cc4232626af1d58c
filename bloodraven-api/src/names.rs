//! Every label, annotation, finalizer, taint key, Event reason, condition and metric name the
//! operator uses, and the names of the objects it creates for a group, in one place.
//!
//! Each group is a module of `&str` constants plus an `ALL` slice listing them, so tools can
//! enumerate them (for example to check that a dashboard only uses known metric names).

/// The names of the objects the operator creates for a group: the Go operator's, so that a migrated group
/// keeps its objects.
pub mod object {
    /// `mysql-<group>-<site>`: a site's Deployment and its client Service.
    pub fn site(group: &str, site: &str) -> String {
        format!("mysql-{group}-{site}")
    }

    /// `mysql-<group>-<site>-internal`: a site's internal Service (the operator, replication and the
    /// sidecars use it; it publishes addresses that are not ready).
    pub fn site_internal(group: &str, site: &str) -> String {
        format!("mysql-{group}-{site}-internal")
    }

    /// `mysql-<group>-<site>-data`: a site's data PersistentVolumeClaim.
    pub fn site_data(group: &str, site: &str) -> String {
        format!("mysql-{group}-{site}-data")
    }

    /// `mysql-<group>-config`: the ConfigMap of every site's `my.cnf`.
    pub fn config(group: &str) -> String {
        format!("mysql-{group}-config")
    }

    /// `mysql-<group>-primary`: the Service of the writable site.
    pub fn primary(group: &str) -> String {
        format!("mysql-{group}-primary")
    }

    /// `mysql-<group>-replicas`: the Service of the healthy replicas.
    pub fn replicas(group: &str) -> String {
        format!("mysql-{group}-replicas")
    }

    /// `mysql-<group>`: the PodDisruptionBudget.
    pub fn disruption_budget(group: &str) -> String {
        format!("mysql-{group}")
    }

    /// `mysql-<group>-failover-record`: the ConfigMap of the durable failover record.
    pub fn failover_record(group: &str) -> String {
        format!("mysql-{group}-failover-record")
    }
}

/// Annotations, on the `MysqlFailoverGroup` unless noted.
pub mod annotation {
    /// User → operator: start a planned switchover, `<site>[:maxLagWait=<duration>]`
    /// (see [`PlannedFailoverRequest`](crate::annotations::PlannedFailoverRequest)).
    pub const PLANNED_FAILOVER: &str = "bloodraven.shipstream.io/planned-failover";
    /// User → operator: wipe and re-clone a site (see [`RecloneRequest`](crate::annotations::RecloneRequest)).
    pub const RECLONE_SITE: &str = "bloodraven.shipstream.io/reclone-site";
    /// User → operator: target Dragonfly image of a snapshot-based upgrade.
    pub const DRAGONFLY_SNAPSHOT_UPGRADE: &str =
        "bloodraven.shipstream.io/dragonfly-snapshot-upgrade";
    /// User → operator: rotate the keyring of the named site.
    pub const ROTATE_KEYRING: &str = "bloodraven.shipstream.io/rotate-keyring";
    /// User → operator: `confirm` to enable encryption at rest on a group with unencrypted data.
    pub const ENCRYPTION_ADOPT: &str = "bloodraven.shipstream.io/encryption-adopt";
    /// User → operator: revoke every deploy-API lease of the group (any value).
    pub const REVOKE_DEPLOYMENT_LEASES: &str = "bloodraven.shipstream.io/revoke-deployment-leases";
    /// Operator: RFC 3339 time of the last promotion (anti-flap record).
    pub const LAST_FAILOVER: &str = "bloodraven.shipstream.io/last-failover";
    /// Operator: site promoted by the last promotion.
    pub const LAST_FAILOVER_TARGET: &str = "bloodraven.shipstream.io/last-failover-target";
    /// Operator, on the in-place restore Job: the `spec.restoreInPlace.confirm` token.
    pub const RESTORE_CONFIRM: &str = "bloodraven.shipstream.io/restore-confirm";
    /// Operator, on a deploy-API Lease: the JSON lease record.
    pub const DEPLOYMENT_LEASE: &str = "bloodraven.shipstream.io/deployment-lease";
    /// Operator, on per-site Deployments: hash of the rendered pod spec.
    pub const SPEC_HASH: &str = "shipstream.io/spec-hash";
    /// Operator (this implementation's), on the per-site pod templates after a credential rotation: the credential
    /// Secrets' resource versions whose passwords MySQL accepts; writing it restarts the pods onto them.
    pub const CREDENTIALS_VERSION: &str = "shipstream.io/credentials-version";
    /// Operator, on keyring escrow Secrets: `sha256:<hex>` of the stored keyring.
    pub const KEYRING_DIGEST: &str = "shipstream.io/keyring-digest";

    /// Every annotation above.
    pub const ALL: &[&str] = &[
        PLANNED_FAILOVER,
        RECLONE_SITE,
        DRAGONFLY_SNAPSHOT_UPGRADE,
        ROTATE_KEYRING,
        ENCRYPTION_ADOPT,
        REVOKE_DEPLOYMENT_LEASES,
        LAST_FAILOVER,
        LAST_FAILOVER_TARGET,
        RESTORE_CONFIRM,
        DEPLOYMENT_LEASE,
        SPEC_HASH,
        KEYRING_DIGEST,
    ];
}

/// Labels stamped by the operator.
pub mod label {
    /// `mysql` (keyring Secrets: `mysql-keyring`, `mysql-keyring-token`).
    pub const NAME: &str = "app.kubernetes.io/name";
    /// The group name.
    pub const INSTANCE: &str = "app.kubernetes.io/instance";
    /// Always [`MANAGED_BY_VALUE`].
    pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
    /// Value of [`MANAGED_BY`].
    pub const MANAGED_BY_VALUE: &str = "bloodraven";
    /// The group name.
    pub const FAILOVER_GROUP: &str = "shipstream.io/failover-group";
    /// The site name.
    pub const SITE: &str = "shipstream.io/site";
    /// `primary`, `replica` or `fenced` on MySQL pods.
    pub const ROLE: &str = "shipstream.io/role";
    /// `yes` on read-only site pods within the lag limit.
    pub const HEALTHY: &str = "shipstream.io/healthy";
    /// Integer version on keyring escrow Secrets.
    pub const KEYRING_VERSION: &str = "shipstream.io/keyring-version";
    /// Dragonfly role of the pod.
    pub const DRAGONFLY_ROLE: &str = "shipstream.io/dragonfly-role";
    /// `enabled` on the Dragonfly pod that receives client traffic.
    pub const DRAGONFLY_TRAFFIC: &str = "shipstream.io/dragonfly-traffic";
    /// Backup profile name.
    pub const BACKUP_PROFILE: &str = "shipstream.io/backup-profile";
    /// Backup schedule name.
    pub const BACKUP_SCHEDULE: &str = "shipstream.io/backup-schedule";
    /// MysqlBackup name on backup Jobs and pods.
    pub const MYSQLBACKUP: &str = "shipstream.io/mysqlbackup";
    /// MysqlBackupVerification name on verification resources.
    pub const MYSQLBACKUP_VERIFICATION: &str = "shipstream.io/mysqlbackup-verification";
    /// Verification schedule id on CronJob-created verifications.
    pub const VERIFICATION_SCHEDULE: &str = "shipstream.io/verification-schedule";
    /// Resource kind of derived Secrets and Jobs, e.g. `restore`.
    pub const RESOURCE: &str = "shipstream.io/resource";
    /// `migration` or `failover-hold` on deploy-API Leases.
    pub const DEPLOYMENT_KIND: &str = "bloodraven.shipstream.io/deployment-kind";
    /// `active`, `expired`, `revoked` or `released` on deploy-API Leases.
    pub const DEPLOYMENT_STATE: &str = "bloodraven.shipstream.io/deployment-state";
    /// Value of [`ROLE`] on the primary.
    pub const ROLE_PRIMARY: &str = "primary";
    /// Value of [`ROLE`] on replicas.
    pub const ROLE_REPLICA: &str = "replica";
    /// Value of [`ROLE`] on a fenced primary.
    pub const ROLE_FENCED: &str = "fenced";

    /// Every label key above.
    pub const ALL: &[&str] = &[
        NAME,
        INSTANCE,
        MANAGED_BY,
        FAILOVER_GROUP,
        SITE,
        ROLE,
        HEALTHY,
        KEYRING_VERSION,
        DRAGONFLY_ROLE,
        DRAGONFLY_TRAFFIC,
        BACKUP_PROFILE,
        BACKUP_SCHEDULE,
        MYSQLBACKUP,
        MYSQLBACKUP_VERIFICATION,
        VERIFICATION_SCHEDULE,
        RESOURCE,
        DEPLOYMENT_KIND,
        DEPLOYMENT_STATE,
    ];
}

/// Finalizers.
pub mod finalizer {
    /// On `MysqlFailoverGroup`: stop the topology manager.
    pub const GRACEFUL_SHUTDOWN: &str = "shipstream.io/graceful-shutdown";
    /// On `MysqlBackup`: remove the stored artifact per retention.
    pub const MYSQLBACKUP: &str = "shipstream.io/mysqlbackup";
    /// On `MysqlBackupVerification`.
    pub const MYSQLBACKUP_VERIFICATION: &str = "shipstream.io/mysqlbackup-verification";
    /// On `MysqlDatabase`.
    pub const MYSQLDATABASE: &str = "shipstream.io/mysqldatabase";

    /// Every finalizer above.
    pub const ALL: &[&str] = &[
        GRACEFUL_SHUTDOWN,
        MYSQLBACKUP,
        MYSQLBACKUP_VERIFICATION,
        MYSQLDATABASE,
    ];
}

/// The node taint applied to nodes of non-primary sites.
pub mod taint {
    /// Prefix of the per-group taint key; see [`key`].
    pub const KEY_PREFIX: &str = "shipstream.io/db-readonly-";
    /// Taint value.
    pub const VALUE: &str = "true";
    /// Taint effect.
    pub const EFFECT: &str = "NoExecute";

    /// The taint key of a group: `shipstream.io/db-readonly-<group>`.
    pub fn key(group: &str) -> String {
        format!("{KEY_PREFIX}{group}")
    }
}

/// The operator's leader-election ID.
pub const LEADER_ELECTION_ID: &str = "bloodraven.shipstream.io";

/// Kubernetes Event reasons.
pub mod event {
    /// `FailoverExecuted` (Normal).
    pub const FAILOVER_EXECUTED: &str = "FailoverExecuted";
    /// `DataLossDetected` (Warning).
    pub const DATA_LOSS_DETECTED: &str = "DataLossDetected";
    /// `RecoveryComplete` (Normal).
    pub const RECOVERY_COMPLETE: &str = "RecoveryComplete";
    /// `SplitBrainDetected` (Warning).
    pub const SPLIT_BRAIN_DETECTED: &str = "SplitBrainDetected";
    /// `NoPrimaryDetected` (Warning).
    pub const NO_PRIMARY_DETECTED: &str = "NoPrimaryDetected";
    /// `TotalLossDetected` (Warning).
    pub const TOTAL_LOSS_DETECTED: &str = "TotalLossDetected";
    /// `SiteRecovered` (Normal).
    pub const SITE_RECOVERED: &str = "SiteRecovered";
    /// `RecloneRejected` (Warning).
    pub const RECLONE_REJECTED: &str = "RecloneRejected";
    /// `RecloneRequested` (Normal).
    pub const RECLONE_REQUESTED: &str = "RecloneRequested";
    /// `GracefulShutdown` (Normal).
    pub const GRACEFUL_SHUTDOWN: &str = "GracefulShutdown";
    /// `MissingSidecarImage` (Normal).
    pub const MISSING_SIDECAR_IMAGE: &str = "MissingSidecarImage";
    /// `SecretNotFound` (Normal).
    pub const SECRET_NOT_FOUND: &str = "SecretNotFound";
    /// `SecretMissingKey` (Warning).
    pub const SECRET_MISSING_KEY: &str = "SecretMissingKey";
    /// `PlannedFailoverStarted` (Normal).
    pub const PLANNED_FAILOVER_STARTED: &str = "PlannedFailoverStarted";
    /// `PlannedFailoverSkipped` (Normal).
    pub const PLANNED_FAILOVER_SKIPPED: &str = "PlannedFailoverSkipped";
    /// `PlannedFailoverRejected` (Warning).
    pub const PLANNED_FAILOVER_REJECTED: &str = "PlannedFailoverRejected";
    /// `PlannedFailoverDeferred` (Normal).
    pub const PLANNED_FAILOVER_DEFERRED: &str = "PlannedFailoverDeferred";
    /// `PlannedFailoverDraining` (Normal).
    pub const PLANNED_FAILOVER_DRAINING: &str = "PlannedFailoverDraining";
    /// `PlannedFailoverLagOK` (Normal).
    pub const PLANNED_FAILOVER_LAG_OK: &str = "PlannedFailoverLagOK";
    /// `PlannedFailoverCompleted` (Normal).
    pub const PLANNED_FAILOVER_COMPLETED: &str = "PlannedFailoverCompleted";
    /// `PlannedFailoverFailed` (Warning).
    pub const PLANNED_FAILOVER_FAILED: &str = "PlannedFailoverFailed";
    /// `RestoreStarted` (Normal).
    pub const RESTORE_STARTED: &str = "RestoreStarted";
    /// `RestoreSucceeded` (Normal).
    pub const RESTORE_SUCCEEDED: &str = "RestoreSucceeded";
    /// `RestoreFailed` (Warning).
    pub const RESTORE_FAILED: &str = "RestoreFailed";
    /// `RestoreTargetUnavailable` (Warning).
    pub const RESTORE_TARGET_UNAVAILABLE: &str = "RestoreTargetUnavailable";
    /// `RestoreBuildFailed` (Warning).
    pub const RESTORE_BUILD_FAILED: &str = "RestoreBuildFailed";
    /// `RestoreInPlaceStarted` (Normal).
    pub const RESTORE_IN_PLACE_STARTED: &str = "RestoreInPlaceStarted";
    /// `RestoreInPlaceRejected` (Warning).
    pub const RESTORE_IN_PLACE_REJECTED: &str = "RestoreInPlaceRejected";
    /// `RestoreInPlaceBuildFailed` (Normal).
    pub const RESTORE_IN_PLACE_BUILD_FAILED: &str = "RestoreInPlaceBuildFailed";
    /// `RestoreInPlaceCredsRefreshFailed` (Warning).
    pub const RESTORE_IN_PLACE_CREDS_REFRESH_FAILED: &str = "RestoreInPlaceCredsRefreshFailed";
    /// `RestoreInPlaceJobCreated` (Normal).
    pub const RESTORE_IN_PLACE_JOB_CREATED: &str = "RestoreInPlaceJobCreated";
    /// `RestoreInPlaceJobBusy` (Warning).
    pub const RESTORE_IN_PLACE_JOB_BUSY: &str = "RestoreInPlaceJobBusy";
    /// `RestoreInPlaceStaleJobRemoved` (Normal).
    pub const RESTORE_IN_PLACE_STALE_JOB_REMOVED: &str = "RestoreInPlaceStaleJobRemoved";
    /// `RestoreInPlaceConfirmDeferred` (Warning).
    pub const RESTORE_IN_PLACE_CONFIRM_DEFERRED: &str = "RestoreInPlaceConfirmDeferred";
    /// `RestoreInPlaceLoaded` (Normal).
    pub const RESTORE_IN_PLACE_LOADED: &str = "RestoreInPlaceLoaded";
    /// `RestoreInPlaceFailed` (Warning).
    pub const RESTORE_IN_PLACE_FAILED: &str = "RestoreInPlaceFailed";
    /// `RestoreInPlaceRecloneAnnotationFailed` (Warning).
    pub const RESTORE_IN_PLACE_RECLONE_ANNOTATION_FAILED: &str =
        "RestoreInPlaceRecloneAnnotationFailed";
    /// `RestoreInPlaceRecloneScheduled` (Normal).
    pub const RESTORE_IN_PLACE_RECLONE_SCHEDULED: &str = "RestoreInPlaceRecloneScheduled";
    /// `RestoreInPlaceSucceeded` (Normal).
    pub const RESTORE_IN_PLACE_SUCCEEDED: &str = "RestoreInPlaceSucceeded";
    /// `DragonflyPromotionStarted` (Normal).
    pub const DRAGONFLY_PROMOTION_STARTED: &str = "DragonflyPromotionStarted";
    /// `DragonflyPromotionCompleted` (Normal).
    pub const DRAGONFLY_PROMOTION_COMPLETED: &str = "DragonflyPromotionCompleted";
    /// `DragonflyPromotionFailed` (Normal).
    pub const DRAGONFLY_PROMOTION_FAILED: &str = "DragonflyPromotionFailed";
    /// `DragonflyStaleMasterDetected` (Normal).
    pub const DRAGONFLY_STALE_MASTER_DETECTED: &str = "DragonflyStaleMasterDetected";
    /// `DragonflySyncTimeout` (Normal).
    pub const DRAGONFLY_SYNC_TIMEOUT: &str = "DragonflySyncTimeout";
    /// `DragonflyUpgradeStarted` (Normal).
    pub const DRAGONFLY_UPGRADE_STARTED: &str = "DragonflyUpgradeStarted";
    /// `DragonflyUpgradeRejected` (Normal).
    pub const DRAGONFLY_UPGRADE_REJECTED: &str = "DragonflyUpgradeRejected";
    /// `DragonflyUpgradeSnapshotStarted` (Normal).
    pub const DRAGONFLY_UPGRADE_SNAPSHOT_STARTED: &str = "DragonflyUpgradeSnapshotStarted";
    /// `DragonflyUpgradeSnapshotCompleted` (Normal).
    pub const DRAGONFLY_UPGRADE_SNAPSHOT_COMPLETED: &str = "DragonflyUpgradeSnapshotCompleted";
    /// `DragonflyUpgradeCompleted` (Normal).
    pub const DRAGONFLY_UPGRADE_COMPLETED: &str = "DragonflyUpgradeCompleted";
    /// `DragonflyUpgradeFailed` (Normal).
    pub const DRAGONFLY_UPGRADE_FAILED: &str = "DragonflyUpgradeFailed";
    /// `DragonflyOldSiteReconfigured` (Normal).
    pub const DRAGONFLY_OLD_SITE_RECONFIGURED: &str = "DragonflyOldSiteReconfigured";
    /// `DragonflyReplTakeoverUnsupported` (Normal).
    pub const DRAGONFLY_REPL_TAKEOVER_UNSUPPORTED: &str = "DragonflyReplTakeoverUnsupported";
    /// `DragonflyReplTakeoverSupported` (Normal).
    pub const DRAGONFLY_REPL_TAKEOVER_SUPPORTED: &str = "DragonflyReplTakeoverSupported";
    /// `DragonflySessionsLost` (Normal).
    pub const DRAGONFLY_SESSIONS_LOST: &str = "DragonflySessionsLost";
    /// `EncryptionAdoptionRefused` (Warning).
    pub const ENCRYPTION_ADOPTION_REFUSED: &str = "EncryptionAdoptionRefused";
    /// `DeploymentLeaseRevoked` (Normal).
    pub const DEPLOYMENT_LEASE_REVOKED: &str = "DeploymentLeaseRevoked";
    /// `LicenseVerified` (Normal).
    pub const LICENSE_VERIFIED: &str = "LicenseVerified";
    /// `LicenseInvalid` (Warning).
    pub const LICENSE_INVALID: &str = "LicenseInvalid";
    /// `BackupStarted` (Normal).
    pub const BACKUP_STARTED: &str = "BackupStarted";
    /// `BackupSucceeded` (Normal).
    pub const BACKUP_SUCCEEDED: &str = "BackupSucceeded";
    /// `BackupFailed` (Warning).
    pub const BACKUP_FAILED: &str = "BackupFailed";
    /// `InFlightFailover` (Normal).
    pub const IN_FLIGHT_FAILOVER: &str = "InFlightFailover";
    /// `ArtifactCleanupSkipped` (Warning).
    pub const ARTIFACT_CLEANUP_SKIPPED: &str = "ArtifactCleanupSkipped";
    /// `BackupRetryScheduled` (Normal, on the MysqlFailoverGroup): a retry MysqlBackup of a failed scheduled backup
    /// was created (`spec.backup.retry`).
    pub const BACKUP_RETRY_SCHEDULED: &str = "BackupRetryScheduled";
    /// `GroupNotFound` (Warning).
    pub const GROUP_NOT_FOUND: &str = "GroupNotFound";
    /// `ProfileNotFound` (Warning).
    pub const PROFILE_NOT_FOUND: &str = "ProfileNotFound";
    /// `NoHealthySource` (Warning).
    pub const NO_HEALTHY_SOURCE: &str = "NoHealthySource";
    /// `BuildJobFailed` (Warning).
    pub const BUILD_JOB_FAILED: &str = "BuildJobFailed";
    /// `BucketScanned` (Normal).
    pub const BUCKET_SCANNED: &str = "BucketScanned";
    /// `DatabaseRetained` (Normal).
    pub const DATABASE_RETAINED: &str = "DatabaseRetained";
    /// `DatabaseDropDeferred` (Normal).
    pub const DATABASE_DROP_DEFERRED: &str = "DatabaseDropDeferred";
    /// `DatabaseCleanupSkipped` (Normal).
    pub const DATABASE_CLEANUP_SKIPPED: &str = "DatabaseCleanupSkipped";
    /// `KeyringPromotionSkipped` (Warning): a promotion candidate was passed over because it is mid keyring
    /// rotation.
    pub const KEYRING_PROMOTION_SKIPPED: &str = "KeyringPromotionSkipped";
    /// `KeyringPromotionRefused` (Warning): every promotion candidate is mid keyring rotation.
    pub const KEYRING_PROMOTION_REFUSED: &str = "KeyringPromotionRefused";
    /// `InvalidSpec` (Warning): the API server accepted a spec the operator cannot run (the message names the
    /// field).
    pub const INVALID_SPEC: &str = "InvalidSpec";
    /// `DNSEndpointNotServed` (Warning): `spec.dns` is set but the cluster does not serve external-dns's
    /// `DNSEndpoint` API, so the DNS name is not moved (the `-primary` Service still is).
    pub const DNS_ENDPOINT_NOT_SERVED: &str = "DNSEndpointNotServed";
    /// `DNSEndpointApplyFailed` (Warning): writing the group's `DNSEndpoint` failed; retried every poll.
    pub const DNS_ENDPOINT_APPLY_FAILED: &str = "DNSEndpointApplyFailed";
    /// `CredentialsRotated`: a credential Secret's password changed and `ALTER USER` set it on the primary.
    pub const CREDENTIALS_ROTATED: &str = "CredentialsRotated";
    /// `CredentialRotationFailed` (Warning): a changed password could not be set on the primary.
    pub const CREDENTIAL_ROTATION_FAILED: &str = "CredentialRotationFailed";

    /// Reasons emitted as `Warning` Events (all others are `Normal`).
    pub const WARNINGS: &[&str] = &[
        DNS_ENDPOINT_NOT_SERVED,
        DNS_ENDPOINT_APPLY_FAILED,
        CREDENTIAL_ROTATION_FAILED,
        DATA_LOSS_DETECTED,
        SPLIT_BRAIN_DETECTED,
        NO_PRIMARY_DETECTED,
        TOTAL_LOSS_DETECTED,
        RECLONE_REJECTED,
        SECRET_MISSING_KEY,
        PLANNED_FAILOVER_REJECTED,
        PLANNED_FAILOVER_FAILED,
        RESTORE_FAILED,
        RESTORE_TARGET_UNAVAILABLE,
        RESTORE_BUILD_FAILED,
        RESTORE_IN_PLACE_REJECTED,
        RESTORE_IN_PLACE_CREDS_REFRESH_FAILED,
        RESTORE_IN_PLACE_JOB_BUSY,
        RESTORE_IN_PLACE_CONFIRM_DEFERRED,
        RESTORE_IN_PLACE_FAILED,
        RESTORE_IN_PLACE_RECLONE_ANNOTATION_FAILED,
        ENCRYPTION_ADOPTION_REFUSED,
        LICENSE_INVALID,
        BACKUP_FAILED,
        ARTIFACT_CLEANUP_SKIPPED,
        GROUP_NOT_FOUND,
        PROFILE_NOT_FOUND,
        NO_HEALTHY_SOURCE,
        BUILD_JOB_FAILED,
        KEYRING_PROMOTION_SKIPPED,
        KEYRING_PROMOTION_REFUSED,
        INVALID_SPEC,
    ];

    /// Every Event reason above.
    pub const ALL: &[&str] = &[
        FAILOVER_EXECUTED,
        DATA_LOSS_DETECTED,
        RECOVERY_COMPLETE,
        SPLIT_BRAIN_DETECTED,
        NO_PRIMARY_DETECTED,
        TOTAL_LOSS_DETECTED,
        SITE_RECOVERED,
        RECLONE_REJECTED,
        RECLONE_REQUESTED,
        GRACEFUL_SHUTDOWN,
        MISSING_SIDECAR_IMAGE,
        SECRET_NOT_FOUND,
        SECRET_MISSING_KEY,
        PLANNED_FAILOVER_STARTED,
        PLANNED_FAILOVER_SKIPPED,
        PLANNED_FAILOVER_REJECTED,
        PLANNED_FAILOVER_DEFERRED,
        PLANNED_FAILOVER_DRAINING,
        PLANNED_FAILOVER_LAG_OK,
        PLANNED_FAILOVER_COMPLETED,
        PLANNED_FAILOVER_FAILED,
        RESTORE_STARTED,
        RESTORE_SUCCEEDED,
        RESTORE_FAILED,
        RESTORE_TARGET_UNAVAILABLE,
        RESTORE_BUILD_FAILED,
        RESTORE_IN_PLACE_STARTED,
        RESTORE_IN_PLACE_REJECTED,
        RESTORE_IN_PLACE_BUILD_FAILED,
        RESTORE_IN_PLACE_CREDS_REFRESH_FAILED,
        RESTORE_IN_PLACE_JOB_CREATED,
        RESTORE_IN_PLACE_JOB_BUSY,
        RESTORE_IN_PLACE_STALE_JOB_REMOVED,
        RESTORE_IN_PLACE_CONFIRM_DEFERRED,
        RESTORE_IN_PLACE_LOADED,
        RESTORE_IN_PLACE_FAILED,
        RESTORE_IN_PLACE_RECLONE_ANNOTATION_FAILED,
        RESTORE_IN_PLACE_RECLONE_SCHEDULED,
        RESTORE_IN_PLACE_SUCCEEDED,
        DRAGONFLY_PROMOTION_STARTED,
        DRAGONFLY_PROMOTION_COMPLETED,
        DRAGONFLY_PROMOTION_FAILED,
        DRAGONFLY_STALE_MASTER_DETECTED,
        DRAGONFLY_SYNC_TIMEOUT,
        DRAGONFLY_UPGRADE_STARTED,
        DRAGONFLY_UPGRADE_REJECTED,
        DRAGONFLY_UPGRADE_SNAPSHOT_STARTED,
        DRAGONFLY_UPGRADE_SNAPSHOT_COMPLETED,
        DRAGONFLY_UPGRADE_COMPLETED,
        DRAGONFLY_UPGRADE_FAILED,
        DRAGONFLY_OLD_SITE_RECONFIGURED,
        DRAGONFLY_REPL_TAKEOVER_UNSUPPORTED,
        DRAGONFLY_REPL_TAKEOVER_SUPPORTED,
        DRAGONFLY_SESSIONS_LOST,
        ENCRYPTION_ADOPTION_REFUSED,
        DEPLOYMENT_LEASE_REVOKED,
        LICENSE_VERIFIED,
        LICENSE_INVALID,
        BACKUP_STARTED,
        BACKUP_SUCCEEDED,
        BACKUP_FAILED,
        IN_FLIGHT_FAILOVER,
        ARTIFACT_CLEANUP_SKIPPED,
        BACKUP_RETRY_SCHEDULED,
        GROUP_NOT_FOUND,
        PROFILE_NOT_FOUND,
        NO_HEALTHY_SOURCE,
        BUILD_JOB_FAILED,
        BUCKET_SCANNED,
        DATABASE_RETAINED,
        DATABASE_DROP_DEFERRED,
        DATABASE_CLEANUP_SKIPPED,
        KEYRING_PROMOTION_SKIPPED,
        KEYRING_PROMOTION_REFUSED,
        INVALID_SPEC,
        DNS_ENDPOINT_NOT_SERVED,
        DNS_ENDPOINT_APPLY_FAILED,
        CREDENTIALS_ROTATED,
        CREDENTIAL_ROTATION_FAILED,
    ];

    /// The reasons in [`ALL`] that the reference does not list (it emits the keyring ones and
    /// `BackupRetryScheduled` without naming them; `InvalidSpec` is this implementation's).
    pub const ADDITIONS: &[&str] = &[
        BACKUP_RETRY_SCHEDULED,
        KEYRING_PROMOTION_SKIPPED,
        KEYRING_PROMOTION_REFUSED,
        INVALID_SPEC,
        DNS_ENDPOINT_NOT_SERVED,
        DNS_ENDPOINT_APPLY_FAILED,
        CREDENTIALS_ROTATED,
        CREDENTIAL_ROTATION_FAILED,
    ];
}

/// Condition types.
pub mod condition {
    /// `MysqlFailoverGroup`, `MysqlBackup`, `MysqlDatabase`.
    pub const READY: &str = "Ready";
    /// `MysqlFailoverGroup` health summary.
    pub const DEGRADED: &str = "Degraded";
    /// `MysqlFailoverGroup` CLONE-based provisioning.
    pub const BOOTSTRAPPING: &str = "Bootstrapping";
    /// `MysqlFailoverGroup` ordered rolling update.
    pub const UPDATING: &str = "Updating";
    /// `MysqlFailoverGroup` old-primary rejoin.
    pub const RECOVERY_PENDING: &str = "RecoveryPending";
    /// `MysqlFailoverGroup` encryption subsystem health.
    pub const ENCRYPTION_AT_REST_READY: &str = "EncryptionAtRestReady";
    /// `MysqlFailoverGroup` (this implementation's): whether the `DNSEndpoint` points at the active site.
    pub const DNS_PUBLISHED: &str = "DNSPublished";
    /// `MysqlBackup`: the Job exists.
    pub const JOB_CREATED: &str = "JobCreated";
    /// `MysqlBackupVerification`: the backup restored and passed the sanity check.
    pub const VERIFIED: &str = "Verified";
    /// `MysqlBackupVerification`: scratch resources removed.
    pub const RESOURCES_CLEANED_UP: &str = "ResourcesCleanedUp";
    /// `MysqlStandbyCluster`: the bucket can be listed.
    pub const BUCKET_READABLE: &str = "BucketReadable";
    /// `MysqlStandbyCluster`: a usable dump and binlog manifests were found.
    pub const SOURCE_CONFIG_KNOWN: &str = "SourceConfigKnown";
    /// `MysqlStandbyCluster`: the last restore drill of the discovered dump and binlog window passed.
    pub const RESTORABLE: &str = "Restorable";
    /// `MysqlStandbyCluster` (reserved).
    pub const ACTIVATION_IN_PROGRESS: &str = "ActivationInProgress";
    /// `MysqlStandbyCluster` (reserved).
    pub const ACTIVE: &str = "Active";
}

/// Prometheus metric names (all prefixed `bloodraven_`).
pub mod metric {
    /// `bloodraven_poll_latency_seconds`.
    pub const POLL_LATENCY_SECONDS: &str = "bloodraven_poll_latency_seconds";
    /// `bloodraven_state_transitions_total`.
    pub const STATE_TRANSITIONS_TOTAL: &str = "bloodraven_state_transitions_total";
    /// `bloodraven_taint_operations_total`.
    pub const TAINT_OPERATIONS_TOTAL: &str = "bloodraven_taint_operations_total";
    /// `bloodraven_websocket_connected_clients`.
    pub const WEBSOCKET_CONNECTED_CLIENTS: &str = "bloodraven_websocket_connected_clients";
    /// `bloodraven_dns_flips_total`.
    pub const DNS_FLIPS_TOTAL: &str = "bloodraven_dns_flips_total";
    /// `bloodraven_failovers_total`.
    pub const FAILOVERS_TOTAL: &str = "bloodraven_failovers_total";
    /// `bloodraven_deploy_leases_active`.
    pub const DEPLOY_LEASES_ACTIVE: &str = "bloodraven_deploy_leases_active";
    /// `bloodraven_deploy_lease_grants_total`.
    pub const DEPLOY_LEASE_GRANTS_TOTAL: &str = "bloodraven_deploy_lease_grants_total";
    /// `bloodraven_deploy_lease_expirations_total`.
    pub const DEPLOY_LEASE_EXPIRATIONS_TOTAL: &str = "bloodraven_deploy_lease_expirations_total";
    /// `bloodraven_deploy_lease_revocations_total`.
    pub const DEPLOY_LEASE_REVOCATIONS_TOTAL: &str = "bloodraven_deploy_lease_revocations_total";
    /// `bloodraven_deploy_lease_age_seconds`.
    pub const DEPLOY_LEASE_AGE_SECONDS: &str = "bloodraven_deploy_lease_age_seconds";
    /// `bloodraven_planned_failovers_deferred_total`.
    pub const PLANNED_FAILOVERS_DEFERRED_TOTAL: &str =
        "bloodraven_planned_failovers_deferred_total";
    /// `bloodraven_planned_failovers_total`.
    pub const PLANNED_FAILOVERS_TOTAL: &str = "bloodraven_planned_failovers_total";
    /// `bloodraven_planned_failover_duration_seconds`.
    pub const PLANNED_FAILOVER_DURATION_SECONDS: &str =
        "bloodraven_planned_failover_duration_seconds";
    /// `bloodraven_planned_failover_lag_wait_seconds`.
    pub const PLANNED_FAILOVER_LAG_WAIT_SECONDS: &str =
        "bloodraven_planned_failover_lag_wait_seconds";
    /// `bloodraven_split_brain_auto_resolve_total`.
    pub const SPLIT_BRAIN_AUTO_RESOLVE_TOTAL: &str = "bloodraven_split_brain_auto_resolve_total";
    /// `bloodraven_primary_reassert_total`.
    pub const PRIMARY_REASSERT_TOTAL: &str = "bloodraven_primary_reassert_total";
    /// `bloodraven_replication_lag_seconds`.
    pub const REPLICATION_LAG_SECONDS: &str = "bloodraven_replication_lag_seconds";
    /// `bloodraven_replication_running`.
    pub const REPLICATION_RUNNING: &str = "bloodraven_replication_running";
    /// `bloodraven_replication_source_state`.
    pub const REPLICATION_SOURCE_STATE: &str = "bloodraven_replication_source_state";
    /// `bloodraven_site_state`.
    pub const SITE_STATE: &str = "bloodraven_site_state";
    /// `bloodraven_divergent_transactions`.
    pub const DIVERGENT_TRANSACTIONS: &str = "bloodraven_divergent_transactions";
    /// `bloodraven_reclone_operations_total`.
    pub const RECLONE_OPERATIONS_TOTAL: &str = "bloodraven_reclone_operations_total";
    /// Automatic clones of empty sites from the active primary (an addition: the reference has none).
    pub const AUTO_CLONE_OPERATIONS_TOTAL: &str = "bloodraven_auto_clone_operations_total";
    /// `bloodraven_backup_runs_total`.
    pub const BACKUP_RUNS_TOTAL: &str = "bloodraven_backup_runs_total";
    /// `bloodraven_backup_duration_seconds`.
    pub const BACKUP_DURATION_SECONDS: &str = "bloodraven_backup_duration_seconds";
    /// `bloodraven_backup_last_success_timestamp_seconds`.
    pub const BACKUP_LAST_SUCCESS_TIMESTAMP_SECONDS: &str =
        "bloodraven_backup_last_success_timestamp_seconds";
    /// `bloodraven_backup_last_attempt_timestamp_seconds`.
    pub const BACKUP_LAST_ATTEMPT_TIMESTAMP_SECONDS: &str =
        "bloodraven_backup_last_attempt_timestamp_seconds";
    /// `bloodraven_backup_last_size_bytes`.
    pub const BACKUP_LAST_SIZE_BYTES: &str = "bloodraven_backup_last_size_bytes";
    /// `bloodraven_backup_verified_timestamp_seconds`.
    pub const BACKUP_VERIFIED_TIMESTAMP_SECONDS: &str =
        "bloodraven_backup_verified_timestamp_seconds";
    /// `bloodraven_backup_verification_last_attempt_timestamp_seconds`.
    pub const BACKUP_VERIFICATION_LAST_ATTEMPT_TIMESTAMP_SECONDS: &str =
        "bloodraven_backup_verification_last_attempt_timestamp_seconds";
    /// `bloodraven_backup_verification_runs_total`.
    pub const BACKUP_VERIFICATION_RUNS_TOTAL: &str = "bloodraven_backup_verification_runs_total";
    /// `bloodraven_backup_verification_duration_seconds`.
    pub const BACKUP_VERIFICATION_DURATION_SECONDS: &str =
        "bloodraven_backup_verification_duration_seconds";
    /// `bloodraven_backup_verification_replay_lag_seconds`.
    pub const BACKUP_VERIFICATION_REPLAY_LAG_SECONDS: &str =
        "bloodraven_backup_verification_replay_lag_seconds";
    /// `bloodraven_restore_duration_seconds`.
    pub const RESTORE_DURATION_SECONDS: &str = "bloodraven_restore_duration_seconds";
    /// `bloodraven_restore_last_success_timestamp_seconds`.
    pub const RESTORE_LAST_SUCCESS_TIMESTAMP_SECONDS: &str =
        "bloodraven_restore_last_success_timestamp_seconds";
    /// `bloodraven_restore_last_source_size_bytes`.
    pub const RESTORE_LAST_SOURCE_SIZE_BYTES: &str = "bloodraven_restore_last_source_size_bytes";
    /// `bloodraven_archiver_upload_failures`.
    pub const ARCHIVER_UPLOAD_FAILURES: &str = "bloodraven_archiver_upload_failures";
    /// `bloodraven_archiver_last_upload_timestamp_seconds`.
    pub const ARCHIVER_LAST_UPLOAD_TIMESTAMP_SECONDS: &str =
        "bloodraven_archiver_last_upload_timestamp_seconds";
    /// `bloodraven_archiver_backlog_files`.
    pub const ARCHIVER_BACKLOG_FILES: &str = "bloodraven_archiver_backlog_files";
    /// `bloodraven_http_requests_total`.
    pub const HTTP_REQUESTS_TOTAL: &str = "bloodraven_http_requests_total";
    /// `bloodraven_http_request_duration_seconds`.
    pub const HTTP_REQUEST_DURATION_SECONDS: &str = "bloodraven_http_request_duration_seconds";
    /// `bloodraven_backup_encrypt_duration_seconds`.
    pub const BACKUP_ENCRYPT_DURATION_SECONDS: &str = "bloodraven_backup_encrypt_duration_seconds";
    /// `bloodraven_backup_decrypt_duration_seconds`.
    pub const BACKUP_DECRYPT_DURATION_SECONDS: &str = "bloodraven_backup_decrypt_duration_seconds";
    /// `bloodraven_backup_encrypt_bytes_total`.
    pub const BACKUP_ENCRYPT_BYTES_TOTAL: &str = "bloodraven_backup_encrypt_bytes_total";
    /// `bloodraven_backup_encrypt_failures_total`.
    pub const BACKUP_ENCRYPT_FAILURES_TOTAL: &str = "bloodraven_backup_encrypt_failures_total";
    /// `bloodraven_dragonfly_site_up`.
    pub const DRAGONFLY_SITE_UP: &str = "bloodraven_dragonfly_site_up";
    /// `bloodraven_dragonfly_promotions_total`.
    pub const DRAGONFLY_PROMOTIONS_TOTAL: &str = "bloodraven_dragonfly_promotions_total";
    /// `bloodraven_dragonfly_manager_panics_total`.
    pub const DRAGONFLY_MANAGER_PANICS_TOTAL: &str = "bloodraven_dragonfly_manager_panics_total";
    /// `bloodraven_keyring_phase`.
    pub const KEYRING_PHASE: &str = "bloodraven_keyring_phase";
    /// `bloodraven_keyring_escrow_version`.
    pub const KEYRING_ESCROW_VERSION: &str = "bloodraven_keyring_escrow_version";
    /// `bloodraven_keyring_escrow_pushes_total`.
    pub const KEYRING_ESCROW_PUSHES_TOTAL: &str = "bloodraven_keyring_escrow_pushes_total";
    /// `bloodraven_keyring_rotations_total`.
    pub const KEYRING_ROTATIONS_TOTAL: &str = "bloodraven_keyring_rotations_total";
    /// `bloodraven_keyring_promotions_blocked_total`.
    pub const KEYRING_PROMOTIONS_BLOCKED_TOTAL: &str =
        "bloodraven_keyring_promotions_blocked_total";
    /// `bloodraven_encryption_unencrypted_tablespaces`.
    pub const ENCRYPTION_UNENCRYPTED_TABLESPACES: &str =
        "bloodraven_encryption_unencrypted_tablespaces";
    /// `bloodraven_encryption_coverage`.
    pub const ENCRYPTION_COVERAGE: &str = "bloodraven_encryption_coverage";
    /// `bloodraven_license_info`.
    pub const LICENSE_INFO: &str = "bloodraven_license_info";
    /// `bloodraven_dr_restorable_timestamp_seconds` (this implementation's; the Go operator's Phase 2 wishlist):
    /// per `namespace` and `standby`, when the last passing restore drill of the standby's discovered dump and
    /// binlog window finished.
    pub const DR_RESTORABLE_TIMESTAMP_SECONDS: &str = "bloodraven_dr_restorable_timestamp_seconds";
    /// `bloodraven_license_updates_expiry_timestamp_seconds`.
    pub const LICENSE_UPDATES_EXPIRY_TIMESTAMP_SECONDS: &str =
        "bloodraven_license_updates_expiry_timestamp_seconds";

    /// Every metric name above.
    pub const ALL: &[&str] = &[
        POLL_LATENCY_SECONDS,
        STATE_TRANSITIONS_TOTAL,
        TAINT_OPERATIONS_TOTAL,
        WEBSOCKET_CONNECTED_CLIENTS,
        DNS_FLIPS_TOTAL,
        FAILOVERS_TOTAL,
        DEPLOY_LEASES_ACTIVE,
        DEPLOY_LEASE_GRANTS_TOTAL,
        DEPLOY_LEASE_EXPIRATIONS_TOTAL,
        DEPLOY_LEASE_REVOCATIONS_TOTAL,
        DEPLOY_LEASE_AGE_SECONDS,
        PLANNED_FAILOVERS_DEFERRED_TOTAL,
        PLANNED_FAILOVERS_TOTAL,
        PLANNED_FAILOVER_DURATION_SECONDS,
        PLANNED_FAILOVER_LAG_WAIT_SECONDS,
        SPLIT_BRAIN_AUTO_RESOLVE_TOTAL,
        PRIMARY_REASSERT_TOTAL,
        REPLICATION_LAG_SECONDS,
        REPLICATION_RUNNING,
        REPLICATION_SOURCE_STATE,
        SITE_STATE,
        DIVERGENT_TRANSACTIONS,
        RECLONE_OPERATIONS_TOTAL,
        AUTO_CLONE_OPERATIONS_TOTAL,
        BACKUP_RUNS_TOTAL,
        BACKUP_DURATION_SECONDS,
        BACKUP_LAST_SUCCESS_TIMESTAMP_SECONDS,
        BACKUP_LAST_ATTEMPT_TIMESTAMP_SECONDS,
        BACKUP_LAST_SIZE_BYTES,
        BACKUP_VERIFIED_TIMESTAMP_SECONDS,
        BACKUP_VERIFICATION_LAST_ATTEMPT_TIMESTAMP_SECONDS,
        BACKUP_VERIFICATION_RUNS_TOTAL,
        BACKUP_VERIFICATION_DURATION_SECONDS,
        BACKUP_VERIFICATION_REPLAY_LAG_SECONDS,
        RESTORE_DURATION_SECONDS,
        RESTORE_LAST_SUCCESS_TIMESTAMP_SECONDS,
        RESTORE_LAST_SOURCE_SIZE_BYTES,
        ARCHIVER_UPLOAD_FAILURES,
        ARCHIVER_LAST_UPLOAD_TIMESTAMP_SECONDS,
        ARCHIVER_BACKLOG_FILES,
        HTTP_REQUESTS_TOTAL,
        HTTP_REQUEST_DURATION_SECONDS,
        BACKUP_ENCRYPT_DURATION_SECONDS,
        BACKUP_DECRYPT_DURATION_SECONDS,
        BACKUP_ENCRYPT_BYTES_TOTAL,
        BACKUP_ENCRYPT_FAILURES_TOTAL,
        DRAGONFLY_SITE_UP,
        DRAGONFLY_PROMOTIONS_TOTAL,
        DRAGONFLY_MANAGER_PANICS_TOTAL,
        KEYRING_PHASE,
        KEYRING_ESCROW_VERSION,
        KEYRING_ESCROW_PUSHES_TOTAL,
        KEYRING_ROTATIONS_TOTAL,
        KEYRING_PROMOTIONS_BLOCKED_TOTAL,
        ENCRYPTION_UNENCRYPTED_TABLESPACES,
        ENCRYPTION_COVERAGE,
        LICENSE_INFO,
        LICENSE_UPDATES_EXPIRY_TIMESTAMP_SECONDS,
        DR_RESTORABLE_TIMESTAMP_SECONDS,
    ];

    /// The metrics in [`ALL`] that the reference does not have.
    pub const ADDITIONS: &[&str] = &[AUTO_CLONE_OPERATIONS_TOTAL, DR_RESTORABLE_TIMESTAMP_SECONDS];
}
