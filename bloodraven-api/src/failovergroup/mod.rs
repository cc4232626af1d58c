//! `MysqlFailoverGroup`: a group of 2–16 single-instance MySQL sites with one writable primary.
//!
//! The spec lives here with its small parts; backups, restores, Dragonfly and encryption at rest
//! have their own modules, and [`status`] holds what the operator reports.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Container, PodSecurityContext, ResourceRequirements, SecurityContext,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::duration::Duration;

pub mod backup;
pub mod extras;
pub mod restore;
pub mod status;

pub use backup::BackupSpec;
pub use extras::{DragonflySpec, EncryptionAtRestSpec};
pub use restore::{InitFromBackupSpec, RestoreInPlaceSpec};
pub use status::MysqlFailoverGroupStatus;

/// The desired state of a failover group: its sites, credentials, DNS record and optional features.
///
/// `sites[0]` is the bootstrap and restore target of a fresh group. Fields left out take the
/// defaults this schema declares.
#[derive(Clone, CustomResource, Debug, Deserialize, JsonSchema, PartialEq, Serialize)]
#[kube(
    group = "shipstream.io",
    version = "v1alpha1",
    kind = "MysqlFailoverGroup",
    plural = "mysqlfailovergroups",
    singular = "mysqlfailovergroup",
    namespaced,
    status = "MysqlFailoverGroupStatus",
    derive = "PartialEq",
    doc = "A group of MySQL sites kept alive by GTID asynchronous replication with one writable primary.",
    printcolumn = r#"{"name":"Active","type":"string","jsonPath":".status.activeSite"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {
        "rule": "(has(self.secretName) && self.secretName != '' && !has(self.credentials)) || ((!has(self.secretName) || self.secretName == '') && has(self.credentials))",
        "message": "exactly one of secretName (legacy DSN Secret) or credentials must be set"
    },
    {
        "rule": "self.sites.all(s, self.sites.exists_one(t, t.name == s.name))",
        "message": "site names must be unique"
    },
    {
        "rule": "self.sites.filter(s, !has(s.role) || s.role == 'primary-candidate').size() >= 2",
        "message": "at least two sites must have role primary-candidate"
    },
    {
        "rule": "!has(self.splitBrainPolicy) || !has(self.splitBrainPolicy.sitePriorities) || self.splitBrainPolicy.sitePriorities.all(p, self.sites.exists(s, s.name == p && (!has(s.role) || s.role == 'primary-candidate')))",
        "message": "splitBrainPolicy.sitePriorities may only name primary-candidate sites"
    },
    {
        "rule": "!has(self.serviceTemplate) || !has(self.serviceTemplate.externalTrafficPolicy) || (has(self.serviceTemplate.type) && self.serviceTemplate.type in ['NodePort', 'LoadBalancer'])",
        "message": "serviceTemplate.externalTrafficPolicy requires serviceTemplate.type NodePort or LoadBalancer"
    },
    {
        "rule": "self.sites.all(s, !has(s.serviceTemplate) || !has(s.serviceTemplate.externalTrafficPolicy) || (has(s.serviceTemplate.type) ? s.serviceTemplate.type : (has(self.serviceTemplate) && has(self.serviceTemplate.type) ? self.serviceTemplate.type : 'ClusterIP')) in ['NodePort', 'LoadBalancer'])",
        "message": "sites[].serviceTemplate.externalTrafficPolicy requires the site's effective Service type to be NodePort or LoadBalancer"
    },
    {
        "rule": "self.sites.all(s, !has(s.serviceTemplate) || !has(s.serviceTemplate.nodePort) || (has(s.serviceTemplate.type) ? s.serviceTemplate.type : (has(self.serviceTemplate) && has(self.serviceTemplate.type) ? self.serviceTemplate.type : 'ClusterIP')) in ['NodePort', 'LoadBalancer'])",
        "message": "sites[].serviceTemplate.nodePort requires the site's effective Service type to be NodePort or LoadBalancer"
    },
    {
        "rule": "!has(self.serviceTemplate) || !has(self.serviceTemplate.externalTrafficPolicy) || self.sites.all(s, (has(s.serviceTemplate) && has(s.serviceTemplate.type) ? s.serviceTemplate.type : (has(self.serviceTemplate.type) ? self.serviceTemplate.type : 'ClusterIP')) in ['NodePort', 'LoadBalancer'])",
        "message": "serviceTemplate.externalTrafficPolicy is inherited by every site, so no site may override the Service type to ClusterIP"
    },
    {
        "rule": "!has(self.encryptionAtRest) || !self.encryptionAtRest.enabled || has(self.tls)",
        "message": "encryptionAtRest.enabled requires tls"
    }
]))]
pub struct MysqlFailoverGroupSpec {
    /// MySQL server image for every site.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "mysql:9.7"))]
    pub image: Option<String>,
    /// Image of the bloodraven sidecar container injected into each MySQL pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1), extend("default" = "ghcr.io/shipstream/bloodraven-sidecar:1.3.1"))]
    pub sidecar_image: Option<String>,
    /// The MySQL sites; `sites[0]` is the bootstrap and restore target of a fresh group.
    #[schemars(length(min = 2, max = 16))]
    pub sites: Vec<SiteSpec>,
    /// Legacy single Secret holding key `dsn`; mutually exclusive with `credentials`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_name: Option<String>,
    /// Per-role credential Secrets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<CredentialsSpec>,
    /// cert-manager driven TLS for MySQL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsSpec>,
    /// DNS record the operator steers at the active site.
    pub dns: DnsSpec,
    /// Topology poll period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "2s"))]
    pub poll_interval: Option<Duration>,
    /// Consecutive failed polls before a site is declared unreachable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1), extend("default" = 3))]
    pub failure_threshold: Option<i32>,
    /// Consecutive good polls before an unreachable site counts as recovered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1), extend("default" = 2))]
    pub recovery_threshold: Option<i32>,
    /// Minimum interval between two automatic failovers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "5m"))]
    pub failover_cooldown: Option<Duration>,
    /// How long an old primary's client connections are drained before they are killed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "30s"))]
    pub connection_drain_timeout: Option<Duration>,
    /// Sidecar fencing timers and operator address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sidecar: Option<SidecarSpec>,
    /// Seconds allowed for a MySQL CLONE INSTANCE operation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 60), extend("default" = 3600))]
    pub clone_timeout: Option<i64>,
    /// Extra `my.cnf` `[mysqld]` keys for all sites.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mysql_conf: Option<BTreeMap<String, String>>,
    /// Lag thresholds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replication: Option<ReplicationSpec>,
    /// Rollout strategy for spec changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "OrderedUpdate"))]
    pub update_strategy: Option<UpdateStrategy>,
    /// Requests and limits for the sidecar container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sidecar_resources: Option<ResourceRequirements>,
    /// Pod grace period for MySQL pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1), extend("default" = 60))]
    pub termination_grace_period_seconds: Option<i64>,
    /// Extra labels on MySQL pods; operator-managed keys override.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_labels: Option<BTreeMap<String, String>>,
    /// Extra annotations on MySQL pods; operator-managed keys override.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_annotations: Option<BTreeMap<String, String>>,
    /// Group-wide Service shape for per-site Services.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_template: Option<ServiceTemplate>,
    /// Containers appended to every MySQL pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_containers: Option<Vec<Container>>,
    /// Init containers appended to every MySQL pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_init_containers: Option<Vec<Container>>,
    /// Logical backups, schedules and PITR.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<BackupSpec>,
    /// One-shot seed of a brand-new group from a dump.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_from_backup: Option<InitFromBackupSpec>,
    /// Deterministic resolution when two primaries are writable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split_brain_policy: Option<SplitBrainPolicySpec>,
    /// Destructive, re-armable restore into the live primary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_in_place: Option<RestoreInPlaceSpec>,
    /// Tunables for annotation-triggered switchover.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub planned_failover: Option<PlannedFailoverSpec>,
    /// Optional per-site Dragonfly cache that follows the MySQL primary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dragonfly: Option<DragonflySpec>,
    /// Pod-level security context for MySQL pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_security_context: Option<PodSecurityContext>,
    /// Container-level security context for mysqld.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_security_context: Option<SecurityContext>,
    /// InnoDB and binlog encryption with a file keyring escrowed into Secrets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_at_rest: Option<EncryptionAtRestSpec>,
    /// Signed license token; informational only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
}

impl MysqlFailoverGroupSpec {
    /// `pollInterval`, or its default `2s`.
    pub fn poll_interval_or_default(&self) -> Duration {
        self.poll_interval.clone().unwrap_or(Duration::from_secs(2))
    }

    /// `failoverCooldown`, or its default `5m`.
    pub fn failover_cooldown_or_default(&self) -> Duration {
        self.failover_cooldown
            .clone()
            .unwrap_or(Duration::from_secs(300))
    }

    /// `failureThreshold`, or its default 3.
    pub fn failure_threshold_or_default(&self) -> i32 {
        self.failure_threshold.unwrap_or(3)
    }

    /// `recoveryThreshold`, or its default 2.
    pub fn recovery_threshold_or_default(&self) -> i32 {
        self.recovery_threshold.unwrap_or(2)
    }

    /// The site called `name`, if any.
    pub fn site(&self, name: &str) -> Option<&SiteSpec> {
        self.sites.iter().find(|s| s.name == name)
    }

    /// The names of the sites that may be promoted automatically.
    pub fn primary_candidates(&self) -> impl Iterator<Item = &str> {
        self.sites
            .iter()
            .filter(|s| s.role_or_default() == SiteRole::PrimaryCandidate)
            .map(|s| s.name.as_str())
    }
}

/// One MySQL site: a Deployment, a PVC and a Service.
#[derive(Clone, Debug, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{
    "rule": "(has(self.role) && self.role == 'read-only') || (has(self.taintNodeSelector) && has(self.lbIP))",
    "message": "primary-candidate and dr-only sites must set taintNodeSelector and lbIP"
}]))]
pub struct SiteSpec {
    /// Site identifier, used in resource names, labels and annotations.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Whether the site may be promoted automatically, only by explicit action, or never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "primary-candidate"))]
    pub role: Option<SiteRole>,
    /// Topology zone of the site.
    #[schemars(length(min = 1))]
    pub zone: String,
    /// Label selector of the nodes of this site; nodes of non-primary sites get a NoExecute taint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("minProperties" = 1))]
    pub taint_node_selector: Option<BTreeMap<String, String>>,
    /// IP published in DNS when this site is primary.
    #[serde(default, rename = "lbIP", skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub lb_ip: Option<String>,
    /// PVC for the datadir.
    pub storage: SiteStorage,
    /// mysqld container resources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// Per-site `my.cnf` overrides merged over `spec.mysqlConf`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mysql_conf: Option<BTreeMap<String, String>>,
    /// Per-site Service overrides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_template: Option<SiteServiceTemplate>,
}

impl SiteSpec {
    /// `role`, or its default `primary-candidate`.
    pub fn role_or_default(&self) -> SiteRole {
        self.role.unwrap_or_default()
    }
}

/// How a site takes part in failover.
#[derive(Clone, Copy, Debug, Default, Deserialize, Eq, Hash, JsonSchema, PartialEq, Serialize)]
pub enum SiteRole {
    /// Only promoted by an explicit action.
    #[serde(rename = "dr-only")]
    DrOnly,
    /// May be promoted automatically.
    #[default]
    #[serde(rename = "primary-candidate")]
    PrimaryCandidate,
    /// A reader replica that is never promoted.
    #[serde(rename = "read-only")]
    ReadOnly,
}

/// The data PVC of a site.
#[derive(Clone, Debug, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SiteStorage {
    /// StorageClass of the data PVC.
    #[schemars(length(min = 1))]
    pub storage_class_name: String,
    /// PVC size request.
    #[schemars(schema_with = "crate::schema::quantity")]
    pub size: Quantity,
}

/// Per-site Service overrides.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SiteServiceTemplate {
    /// Overrides the group `serviceTemplate.type`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<ServiceType>,
    /// Overrides the group external traffic policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_traffic_policy: Option<ExternalTrafficPolicy>,
    /// Fixed nodePort for the MySQL port of the per-site Service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub node_port: Option<i32>,
    /// Extra annotations on the per-site Service, merged over the group ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// Group-wide shape of the per-site Services.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceTemplate {
    /// Type of the per-site Services (`ClusterIP` when absent).
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<ServiceType>,
    /// External traffic policy of the per-site Services.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_traffic_policy: Option<ExternalTrafficPolicy>,
    /// Annotations on the per-site Services.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// Kubernetes Service type.
#[derive(Clone, Copy, Debug, Default, Deserialize, Eq, Hash, JsonSchema, PartialEq, Serialize)]
pub enum ServiceType {
    /// Cluster-internal virtual IP.
    #[default]
    ClusterIP,
    /// Cloud load balancer.
    LoadBalancer,
    /// A port on every node.
    NodePort,
}

impl ServiceType {
    /// Whether the type exposes the Service outside the cluster (`NodePort` or `LoadBalancer`).
    pub fn is_external(self) -> bool {
        matches!(self, ServiceType::LoadBalancer | ServiceType::NodePort)
    }
}

/// Service `externalTrafficPolicy`.
#[derive(Clone, Copy, Debug, Deserialize, Eq, Hash, JsonSchema, PartialEq, Serialize)]
pub enum ExternalTrafficPolicy {
    /// Route to any node.
    Cluster,
    /// Keep traffic on the receiving node.
    Local,
}

/// Per-role credential Secrets; unset role Secrets fall back to the operator Secret.
#[derive(Clone, Debug, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CredentialsSpec {
    /// Admin principal used by operator and sidecar.
    #[schemars(length(min = 1))]
    pub operator_secret: String,
    /// Application read/write user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_secret: Option<String>,
    /// Read-only application user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only_secret: Option<String>,
    /// Monitoring user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitor_secret: Option<String>,
    /// User for dump and restore Jobs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_secret: Option<String>,
}

/// cert-manager driven TLS.
#[derive(Clone, Debug, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TlsSpec {
    /// cert-manager issuer reference.
    pub issuer_ref: IssuerRef,
    /// TLS Secret (cert-manager Certificate output) mounted into mysqld and the sidecar.
    #[schemars(length(min = 1))]
    pub secret_name: String,
}

/// A cert-manager issuer.
#[derive(Clone, Debug, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IssuerRef {
    /// Issuer name.
    #[schemars(length(min = 1))]
    pub name: String,
    /// Issuer kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<IssuerKind>,
}

/// cert-manager issuer kind.
#[derive(Clone, Copy, Debug, Deserialize, Eq, Hash, JsonSchema, PartialEq, Serialize)]
pub enum IssuerKind {
    /// Cluster-scoped issuer.
    ClusterIssuer,
    /// Namespaced issuer.
    Issuer,
}

/// The DNS record steered at the active site.
#[derive(Clone, Debug, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DnsSpec {
    /// FQDN of the A record managed through an external-dns `DNSEndpoint`.
    #[schemars(length(min = 1))]
    pub hostname: String,
    /// Record TTL in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1), extend("default" = 60))]
    pub ttl: Option<i64>,
}

/// Sidecar fencing timers.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {
        "rule": "duration(has(self.peerCheckInterval) ? self.peerCheckInterval : '5s') >= duration('1s')",
        "message": "peerCheckInterval must be at least 1s"
    },
    {
        "rule": "duration(has(self.leaseTimeout) ? self.leaseTimeout : '20s') >= duration('3s')",
        "message": "leaseTimeout must be at least 3s"
    },
    {
        "rule": "duration(has(self.leaseTimeout) ? self.leaseTimeout : '20s').getMilliseconds() >= 3 * duration(has(self.peerCheckInterval) ? self.peerCheckInterval : '5s').getMilliseconds()",
        "message": "leaseTimeout must be at least 3 x peerCheckInterval"
    }
]))]
pub struct SidecarSpec {
    /// How long a primary sidecar keeps writes enabled without confirming it is still active.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "20s"))]
    pub lease_timeout: Option<Duration>,
    /// Cadence of sidecar-to-operator and sidecar-to-peer checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "5s"))]
    pub peer_check_interval: Option<Duration>,
    /// `host:port` of the operator auxiliary server used by the sidecar.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bloodraven_address: Option<String>,
}

impl SidecarSpec {
    /// `leaseTimeout`, or its default `20s`.
    pub fn lease_timeout_or_default(&self) -> Duration {
        self.lease_timeout
            .clone()
            .unwrap_or(Duration::from_secs(20))
    }

    /// `peerCheckInterval`, or its default `5s`.
    pub fn peer_check_interval_or_default(&self) -> Duration {
        self.peer_check_interval
            .clone()
            .unwrap_or(Duration::from_secs(5))
    }
}

/// Replication lag thresholds.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplicationSpec {
    /// Replicas lagging more than this are not promotion-eligible.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0), extend("default" = 300))]
    pub max_lag_seconds: Option<i64>,
    /// Lag limit for the readiness of `read-only` sites (inherits `maxLagSeconds` when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub read_only_max_lag_seconds: Option<i64>,
}

/// Rollout strategy for spec changes.
#[derive(Clone, Copy, Debug, Default, Deserialize, Eq, Hash, JsonSchema, PartialEq, Serialize)]
pub enum UpdateStrategy {
    /// Replicas first, then a switchover, then the old primary.
    #[default]
    OrderedUpdate,
    /// Recreate every site.
    Recreate,
}

/// Resolution of two writable primaries.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SplitBrainPolicySpec {
    /// Ordered preference (first listed wins); absent means alert only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 16), inner(length(max = 253)), extend("x-kubernetes-list-type" = "atomic"))]
    pub site_priorities: Option<Vec<String>>,
}

/// Tunables of annotation-triggered switchovers.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlannedFailoverSpec {
    /// Budget for the target to catch up after the source is fenced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "5m"))]
    pub max_lag_wait: Option<Duration>,
    /// Connection-drain budget on the old primary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "30s"))]
    pub drain_timeout: Option<Duration>,
    /// What to do when a request arrives inside `failoverCooldown`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "reject"))]
    pub on_cooldown: Option<OnCooldown>,
}

/// Handling of a planned failover requested inside the cooldown.
#[derive(Clone, Copy, Debug, Default, Deserialize, Eq, Hash, JsonSchema, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OnCooldown {
    /// Park it in `Deferred` until `retryAfter`.
    Defer,
    /// Fail it.
    #[default]
    Reject,
}
