//! `MysqlDatabase`: a tenant database, its owner account, extra users and grants.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A tenant database on a group's active primary.
#[derive(Clone, CustomResource, Debug, Deserialize, JsonSchema, PartialEq, Serialize)]
#[kube(
    group = "shipstream.io",
    version = "v1alpha1",
    kind = "MysqlDatabase",
    plural = "mysqldatabases",
    singular = "mysqldatabase",
    shortname = "mydb",
    shortname = "mydbs",
    category = "bloodraven",
    category = "mysql",
    namespaced,
    status = "MysqlDatabaseStatus",
    derive = "PartialEq",
    doc = "A tenant database, its owner account, extra Secret-backed users and grants.",
    printcolumn = r#"{"name":"Group","type":"string","jsonPath":".spec.groupRef.name"}"#,
    printcolumn = r#"{"name":"Database","type":"string","jsonPath":".spec.databaseName"}"#,
    printcolumn = r#"{"name":"Owner","type":"string","jsonPath":".status.ownerUser"}"#,
    printcolumn = r#"{"name":"Phase","type":"string","jsonPath":".status.phase"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Policy","type":"string","jsonPath":".spec.deletionPolicy","priority":1}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{
    "rule": "!has(self.users) || self.users.all(u, u.secretName != self.owner.secretName)",
    "message": "users[].secretName must differ from owner.secretName"
}]))]
pub struct MysqlDatabaseSpec {
    /// MysqlFailoverGroup in the same namespace (immutable).
    #[schemars(extend("x-kubernetes-validations" = [{"rule": "self == oldSelf", "message": "groupRef is immutable"}]))]
    pub group_ref: GroupRef,
    /// ServiceAccounts allowed to use the deploy API for this database's group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["namespace"]))]
    pub deployment_clients: Option<Vec<DeploymentClient>>,
    /// Schema name (immutable).
    #[schemars(
        length(max = 64),
        regex(pattern = r"^[A-Za-z0-9_]{1,64}$"),
        extend("x-kubernetes-validations" = [
            {"rule": "self == oldSelf", "message": "databaseName is immutable"},
            {
                "rule": "!(self.lowerAscii() in ['mysql', 'sys', 'information_schema', 'performance_schema'])",
                "message": "databaseName must not be a MySQL system schema"
            }
        ])
    )]
    pub database_name: String,
    /// Default character set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64), regex(pattern = r"^[A-Za-z0-9_]{1,64}$"), extend("default" = "utf8mb4"))]
    pub character_set: Option<String>,
    /// Default collation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64), regex(pattern = r"^[A-Za-z0-9_]{1,64}$"), extend("default" = "utf8mb4_unicode_ci"))]
    pub collation: Option<String>,
    /// The owner account.
    pub owner: DatabaseOwner,
    /// Extra grants to pre-existing users.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64), extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["username"]))]
    pub grants: Option<Vec<DatabaseGrant>>,
    /// Additional Secret-backed accounts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 8), extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["secretName"]))]
    pub users: Option<Vec<DatabaseUser>>,
    /// Keep or drop the database and accounts when the object is deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "Retain"))]
    pub deletion_policy: Option<DeletionPolicy>,
}

/// A MysqlFailoverGroup in the same namespace.
#[derive(Clone, Debug, Deserialize, JsonSchema, PartialEq, Serialize)]
pub struct GroupRef {
    /// Group name.
    #[schemars(length(min = 1))]
    pub name: String,
}

/// A ServiceAccount allowed to use the deploy API.
#[derive(Clone, Debug, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentClient {
    /// ServiceAccount namespace.
    #[schemars(
        length(min = 1, max = 63),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    )]
    pub namespace: String,
    /// ServiceAccount name.
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
    )]
    pub service_account: String,
}

/// The owner account of a database.
#[derive(Clone, Debug, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{
    "rule": "!has(self.privileges) || !('ALL PRIVILEGES' in self.privileges) || size(self.privileges) == 1",
    "message": "ALL PRIVILEGES cannot be combined with other privileges"
}]))]
pub struct DatabaseOwner {
    /// Secret with `username` and `password`.
    #[schemars(length(min = 1, max = 253))]
    pub secret_name: String,
    /// Privileges granted `ON <db>.*`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 17), extend("default" = ["ALL PRIVILEGES"], "x-kubernetes-list-type" = "atomic"))]
    pub privileges: Option<Vec<MysqlPrivilege>>,
    /// Host parts of the account (`%` when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(max = 8),
        inner(length(min = 1, max = 255), regex(pattern = r"^[0-9A-Fa-f.:%_/]+$")),
        extend("x-kubernetes-list-type" = "set")
    )]
    pub hosts: Option<Vec<String>>,
}

/// Extra grants to a pre-existing user at host `%`.
#[derive(Clone, Debug, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{
    "rule": "!('ALL PRIVILEGES' in self.privileges) || size(self.privileges) == 1",
    "message": "ALL PRIVILEGES cannot be combined with other privileges"
}]))]
pub struct DatabaseGrant {
    /// Existing user.
    #[schemars(
        length(max = 32),
        regex(pattern = r"^[A-Za-z0-9_][A-Za-z0-9_.$-]{0,31}$")
    )]
    pub username: String,
    /// Privileges granted.
    #[schemars(length(min = 1, max = 17), extend("x-kubernetes-list-type" = "atomic"))]
    pub privileges: Vec<MysqlPrivilege>,
}

/// An additional Secret-backed account.
#[derive(Clone, Debug, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{
    "rule": "!('ALL PRIVILEGES' in self.privileges)",
    "message": "users may not be granted ALL PRIVILEGES"
}]))]
pub struct DatabaseUser {
    /// Secret with `username` and `password`.
    #[schemars(length(min = 1, max = 253))]
    pub secret_name: String,
    /// Privileges granted.
    #[schemars(length(min = 1, max = 17), extend("x-kubernetes-list-type" = "atomic"))]
    pub privileges: Vec<MysqlPrivilege>,
    /// Account resource limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_limits: Option<ResourceLimits>,
    /// Host parts of the account (`%` when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(max = 8),
        inner(length(min = 1, max = 255), regex(pattern = r"^[0-9A-Fa-f.:%_/]+$")),
        extend("x-kubernetes-list-type" = "set")
    )]
    pub hosts: Option<Vec<String>>,
}

/// MySQL account resource limits.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceLimits {
    /// `MAX_USER_CONNECTIONS` (0 = no account cap).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub max_user_connections: Option<i32>,
    /// `MAX_QUERIES_PER_HOUR` (0 = unlimited).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub max_queries_per_hour: Option<i32>,
}

/// What happens to the database when the object is deleted.
#[derive(Clone, Copy, Debug, Default, Deserialize, Eq, Hash, JsonSchema, PartialEq, Serialize)]
pub enum DeletionPolicy {
    /// Drop the database and accounts.
    Delete,
    /// Keep them.
    #[default]
    Retain,
}

/// A privilege a database account may hold.
#[derive(Clone, Copy, Debug, Deserialize, Eq, Hash, JsonSchema, PartialEq, Serialize)]
#[allow(missing_docs)]
pub enum MysqlPrivilege {
    #[serde(rename = "ALL PRIVILEGES")]
    AllPrivileges,
    #[serde(rename = "ALTER")]
    Alter,
    #[serde(rename = "CREATE")]
    Create,
    #[serde(rename = "CREATE TEMPORARY TABLES")]
    CreateTemporaryTables,
    #[serde(rename = "CREATE VIEW")]
    CreateView,
    #[serde(rename = "DELETE")]
    Delete,
    #[serde(rename = "DROP")]
    Drop,
    #[serde(rename = "EVENT")]
    Event,
    #[serde(rename = "EXECUTE")]
    Execute,
    #[serde(rename = "INDEX")]
    Index,
    #[serde(rename = "INSERT")]
    Insert,
    #[serde(rename = "LOCK TABLES")]
    LockTables,
    #[serde(rename = "REFERENCES")]
    References,
    #[serde(rename = "SELECT")]
    Select,
    #[serde(rename = "SHOW VIEW")]
    ShowView,
    #[serde(rename = "TRIGGER")]
    Trigger,
    #[serde(rename = "UPDATE")]
    Update,
}

/// The observed state of a database.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MysqlDatabaseStatus {
    /// Lifecycle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<DatabasePhase>,
    /// Generation this status reflects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Write-ahead marker: the DDL was committed to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_created: Option<bool>,
    /// Owner username.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_user: Option<String>,
    /// New owner name during an in-flight rotation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_owner_user: Option<String>,
    /// Hosts owner accounts may exist on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-list-type" = "atomic"))]
    pub owner_hosts: Option<Vec<String>>,
    /// Usernames granted in the last successful apply (owner first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-list-type" = "atomic"))]
    pub applied_grants: Option<Vec<String>>,
    /// Ledger of `spec.users`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["secretName"]))]
    pub applied_users: Option<Vec<AppliedUser>>,
    /// Site that received the last successful apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_site: Option<String>,
    /// Fingerprint of the last apply; equal means no SQL is issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_applied_hash: Option<String>,
    /// Human-readable message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// `Ready`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::conditions_map")]
    pub conditions: Option<Vec<Condition>>,
}

/// Lifecycle of a database.
#[derive(Clone, Copy, Debug, Default, Deserialize, Eq, Hash, JsonSchema, PartialEq, Serialize)]
pub enum DatabasePhase {
    /// DDL being applied.
    Creating,
    /// Being deleted.
    Deleting,
    /// Failed.
    Failed,
    /// Waiting for a prerequisite.
    #[default]
    Pending,
    /// Applied.
    Ready,
}

/// One `spec.users` entry as applied.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppliedUser {
    /// Entry key.
    pub secret_name: String,
    /// Account name from the Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Rotation write-ahead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_username: Option<String>,
    /// Hosts of this entry's accounts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-list-type" = "atomic"))]
    pub hosts: Option<Vec<String>>,
}
