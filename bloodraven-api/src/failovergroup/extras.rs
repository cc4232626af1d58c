//! `spec.dragonfly` and `spec.encryptionAtRest`: the optional cache and the keyring.

use k8s_openapi::api::core::v1::{PodSecurityContext, ResourceRequirements, SecurityContext};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::duration::Duration;

/// One Dragonfly (Redis-compatible cache) per site, following the MySQL primary.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {
        "rule": "!has(self.enabled) || !self.enabled || (has(self.image) && self.image != '')",
        "message": "image must be set when dragonfly is enabled"
    },
    {
        "rule": "!has(self.enabled) || !self.enabled || !has(self.image) || !self.image.endsWith(':latest')",
        "message": "image must be pinned (not :latest) when dragonfly is enabled"
    }
]))]
pub struct DragonflySpec {
    /// Deploy one Dragonfly per site.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = false))]
    pub enabled: Option<bool>,
    /// Pinned Dragonfly image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Client port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535), extend("default" = 6379))]
    pub port: Option<i32>,
    /// Admin port used by the operator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535), extend("default" = 9999))]
    pub admin_port: Option<i32>,
    /// `--maxmemory` in MiB (0 or absent: Dragonfly's default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub max_memory_mb: Option<i32>,
    /// `--proactor_threads`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub proactor_threads: Option<i32>,
    /// Extra Dragonfly flags (operator-owned flags are overridden).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<String>>,
    /// `requirepass` password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<DragonflyAuth>,
    /// Container resources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// Switchover behaviour.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub planned_failover: Option<DragonflyPlannedFailover>,
    /// Snapshot-based image upgrade.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<DragonflySnapshot>,
    /// Pod security context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_security_context: Option<PodSecurityContext>,
    /// Container security context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_security_context: Option<SecurityContext>,
}

/// Dragonfly password Secret.
#[derive(Clone, Debug, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DragonflyAuth {
    /// Secret with the password.
    #[schemars(length(min = 1))]
    pub secret_name: String,
    /// Key within the Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "password"))]
    pub password_key: Option<String>,
}

/// Dragonfly switchover tunables.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DragonflyPlannedFailover {
    /// Wait for the target replica to reach the source offset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "30s"))]
    pub max_sync_wait: Option<Duration>,
    /// Continue (sessions may be lost) or fail the switchover.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "proceed"))]
    pub on_sync_timeout: Option<OnSyncTimeout>,
}

/// What a Dragonfly sync timeout does to a switchover.
#[derive(Clone, Copy, Debug, Default, Deserialize, Eq, Hash, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OnSyncTimeout {
    /// Fail the switchover.
    Fail,
    /// Continue; sessions may be lost.
    #[default]
    Proceed,
}

/// Dragonfly snapshot settings.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DragonflySnapshot {
    /// Dragonfly `--dir`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir: Option<String>,
    /// ServiceAccount for cloud-credential snapshot access.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    /// Secret with S3 credentials for snapshots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_secret_name: Option<String>,
    /// S3-compatible endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_endpoint: Option<String>,
    /// Use HTTPS to reach the endpoint.
    #[serde(
        default,
        rename = "s3UseHTTPS",
        skip_serializing_if = "Option::is_none"
    )]
    pub s3_use_https: Option<bool>,
    /// Sign request payloads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_sign_payload: Option<bool>,
}

/// InnoDB and binlog encryption with a file keyring escrowed into Secrets.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EncryptionAtRestSpec {
    /// Turn on the keyring component and encryption defaults.
    #[schemars(extend("default" = false))]
    pub enabled: bool,
    /// What gets encrypted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coverage: Option<EncryptionCoverage>,
    /// Keyring placement and escrow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyring: Option<KeyringSpec>,
}

/// What encryption at rest covers (every switch defaults to on).
#[derive(Clone, Debug, Default, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EncryptionCoverage {
    /// `default_table_encryption`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = true))]
    pub tables: Option<bool>,
    /// `table_encryption_privilege_check`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = true))]
    pub privilege_check: Option<bool>,
    /// `innodb_redo_log_encrypt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = true))]
    pub redo_log: Option<bool>,
    /// `innodb_undo_log_encrypt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = true))]
    pub undo_log: Option<bool>,
    /// `binlog_encryption`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = true))]
    pub binary_log: Option<bool>,
    /// Encrypt the `mysql` system tablespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = true))]
    pub system_tablespace: Option<bool>,
}

/// Keyring placement and escrow.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{
    "rule": "!has(self.dataFileDir) || (self.dataFileDir != '/var/lib/mysql' && !self.dataFileDir.startsWith('/var/lib/mysql/'))",
    "message": "keyring.dataFileDir must be outside the datadir /var/lib/mysql"
}]))]
pub struct KeyringSpec {
    /// Directory of the `component_keyring_file` data file (tmpfs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^/[^\x00]*[^/]$"), extend("default" = "/run/mysql-keyring"))]
    pub data_file_dir: Option<String>,
    /// Where `mysqld` lives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^/[^\x00]*[^/]$"), extend("default" = "/usr/sbin"))]
    pub mysqld_dir: Option<String>,
    /// Component directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^/[^\x00]*[^/]$"), extend("default" = "/usr/lib64/mysql/plugin"))]
    pub plugin_dir: Option<String>,
    /// Escrow Secret versions retained per site.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 2, max = 50), extend("default" = 5))]
    pub retain_versions: Option<i32>,
    /// Longest time a site may stay Unsealed before it is marked Failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 30), extend("default" = 600))]
    pub escrow_timeout_seconds: Option<i32>,
}
