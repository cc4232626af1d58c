//! [`KubePlatform`]: the runner's [`Platform`] on Kubernetes, for one `MysqlFailoverGroup`.
//!
//! | platform call | Kubernetes |
//! |---|---|
//! | status | merge patch of the `status` subresource, only when it changed |
//! | events | `events.k8s.io` Events on the group (kube's recorder) |
//! | admin annotations | read from the group; a consumed one is removed with a JSON merge patch |
//! | durable record | ConfigMap `mysql-<group>-failover-record` (key `record.json`, owned by the group), plus the Go operator's `last-failover` / `last-failover-target` annotations |
//! | DNS | server-side apply of the external-dns `DNSEndpoint` `bloodraven-<group>` when that API is served |
//! | node taints | `shipstream.io/db-readonly-<group>` (NoExecute) on the nodes of `sites[].taintNodeSelector` |
//! | pod role labels | `shipstream.io/role` and `shipstream.io/healthy` on the group's pods ([`super::labels`]) |
//!
//! The record lives in a ConfigMap because the group's status schema (shared with the Go operator, which prunes
//! unknown status keys) has no room for the promotion history, recovery markers and authority epoch.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use k8s_openapi::api::core::v1::{ConfigMap, Node, ObjectReference, Pod, Taint as NodeTaint};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{ApiResource, DynamicObject, ListParams, Patch, PatchParams};
use kube::runtime::events::{Event as KubeEvent, EventType as KubeEventType, Recorder};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Client, Resource, ResourceExt};
use serde_json::{Value, json};

use bloodraven_api::failovergroup::MysqlFailoverGroup;
use bloodraven_api::names::{annotation, condition, event as reason, taint};

use crate::engine::{Condition, Config, Event, EventType, Gates, SiteState, Status, Taint};
use crate::platform::{
    AdminAnnotations, Annotation, GroupObservation, Platform, PlatformError, StoredRecord,
};
use crate::record::{FailoverStamp, Record};

use super::labels::{PodLabels, fence, label_patch, pod_labels};
use super::status::status_patch;

/// Field manager of every server-side apply.
pub(crate) const FIELD_MANAGER: &str = "bloodraven";

/// The external-dns API (`externaldns.k8s.io/v1alpha1`, kind `DNSEndpoint`), when the cluster serves it.
pub(crate) fn dns_endpoint_resource() -> ApiResource {
    ApiResource {
        group: "externaldns.k8s.io".into(),
        version: "v1alpha1".into(),
        api_version: "externaldns.k8s.io/v1alpha1".into(),
        kind: "DNSEndpoint".into(),
        plural: "dnsendpoints".into(),
    }
}

/// `patch` without the sites' `lastSeen`.
fn without_last_seen(patch: &Value) -> Value {
    let mut patch = patch.clone();
    if let Some(sites) = patch
        .pointer_mut("/status/sites")
        .and_then(Value::as_array_mut)
    {
        for site in sites.iter_mut().filter_map(Value::as_object_mut) {
            site.remove("lastSeen");
        }
    }
    patch
}

/// Whether `patch` needs writing after `previous`: something besides the sites' `lastSeen` changed. Every poll moves
/// `lastSeen`, and a steady group's status is never written for that alone (at 500 groups a 30 s refresh was 17
/// writes a second, each one a watch event and a reconcile); the aux server's `/status` serves the live value.
fn status_due(patch: &Value, previous: Option<&Value>) -> bool {
    match previous {
        None => true,
        Some(previous) => without_last_seen(previous) != without_last_seen(patch),
    }
}

/// What the platform knows of a site besides its name.
#[derive(Clone, Debug, Default)]
pub(crate) struct SiteTargets {
    /// `sites[].lbIP`: the DNS target when the site is primary.
    pub(crate) lb_ip: Option<String>,
    /// `sites[].taintNodeSelector` as a label selector; `None`: never tainted.
    pub(crate) node_selector: Option<String>,
}

/// The Kubernetes platform of one group.
pub(crate) struct KubePlatform {
    client: Client,
    namespace: String,
    name: String,
    groups: Api<MysqlFailoverGroup>,
    /// The controller's cache of groups: every poll reads the group from it, not from the API server.
    store: Store<MysqlFailoverGroup>,
    records: Api<ConfigMap>,
    recorder: Recorder,
    reference: ObjectReference,
    owner: OwnerReference,
    sites: BTreeMap<String, SiteTargets>,
    /// `spec.dns.hostname` and TTL, and whether the DNSEndpoint API is served (the manager looks again every
    /// 15 s, so installing external-dns's CRD later is noticed).
    dns: Option<(String, i64)>,
    dns_served: Arc<AtomicBool>,
    /// The `DNSPublished` condition: what the last DNS write did.
    dns_condition: Mutex<Option<Condition>>,
    /// The status patch last written and when, to skip writes that change nothing (see [`LAST_SEEN_REFRESH`]).
    last_status: Mutex<Option<Value>>,
    /// The epoch of the record this process last loaded or saved.
    epoch: AtomicU64,
    /// The engine configuration (roles and hosts decide the pod labels) and `readOnlyMaxLagSeconds`.
    config: Config,
    read_only_max_lag: u64,
    /// The pod labels last synced and when: pods are listed again when the labels change or every 30 s (a
    /// recreated pod starts as `replica`).
    labels: Mutex<Option<(SiteLabels, std::time::Instant)>>,
}

/// Each site's pod labels, in patch order.
type SiteLabels = Vec<(String, PodLabels)>;

impl KubePlatform {
    pub(crate) fn new(
        client: Client,
        store: Store<MysqlFailoverGroup>,
        config: Config,
        group: &MysqlFailoverGroup,
        recorder: Recorder,
        sites: BTreeMap<String, SiteTargets>,
        dns_served: Arc<AtomicBool>,
    ) -> KubePlatform {
        let namespace = group.namespace().unwrap_or_default();
        let name = group.name_any();
        KubePlatform {
            groups: Api::namespaced(client.clone(), &namespace),
            store,
            records: Api::namespaced(client.clone(), &namespace),
            reference: group.object_ref(&()),
            // The controller always sets uid and name on objects it reconciles.
            owner: group.controller_owner_ref(&()).unwrap_or_default(),
            dns: Some((
                group.spec.dns.hostname.clone(),
                group.spec.dns.ttl.unwrap_or(60),
            )),
            client,
            namespace,
            name,
            recorder,
            sites,
            dns_served,
            dns_condition: Mutex::new(None),
            last_status: Mutex::new(None),
            epoch: AtomicU64::new(0),
            read_only_max_lag: group
                .spec
                .replication
                .as_ref()
                .and_then(|r| r.read_only_max_lag_seconds.or(r.max_lag_seconds))
                .and_then(|s| u64::try_from(s).ok())
                .unwrap_or(config.max_lag_seconds),
            config,
            labels: Mutex::new(None),
        }
    }

    /// Labels the group's pods from `status` (replicas first, the primary last) when the labels changed or were
    /// last synced more than 30 s ago.
    async fn sync_pod_labels(&self, status: &Status) -> Result<(), PlatformError> {
        let mut desired = pod_labels(&self.config, status, self.read_only_max_lag);
        // A full-instance in-place restore fences its target: the `-primary` Service loses its endpoint.
        if let Some(site) = self
            .group()
            .await
            .ok()
            .and_then(|g| super::restore::in_place::decide::fenced_site(&g))
        {
            fence(&mut desired, &site);
        }
        let due = self
            .labels
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .is_none_or(|(last, at)| {
                *last != desired || at.elapsed() > std::time::Duration::from_secs(30)
            });
        if !due {
            return Ok(());
        }
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), &self.namespace);
        let selector = format!(
            "{}=mysql,{}={}",
            bloodraven_api::names::label::NAME,
            bloodraven_api::names::label::INSTANCE,
            self.name
        );
        let list = pods
            .list(&ListParams::default().labels(&selector))
            .await
            .map_err(Self::err("list pods"))?;
        for (site, labels) in &desired {
            let patch = json!({ "metadata": { "labels": label_patch(labels) } });
            for pod in list
                .iter()
                .filter(|p| p.labels().get(bloodraven_api::names::label::SITE) == Some(site))
            {
                let current = pod.labels();
                let role = current
                    .get(bloodraven_api::names::label::ROLE)
                    .map(String::as_str);
                let healthy = current.get(bloodraven_api::names::label::HEALTHY).is_some();
                if role == Some(labels.role) && healthy == labels.healthy {
                    continue;
                }
                pods.patch(
                    &pod.name_any(),
                    &PatchParams::default(),
                    &Patch::Merge(&patch),
                )
                .await
                .map_err(Self::err("label pod"))?;
            }
        }
        *self.labels.lock().unwrap_or_else(PoisonError::into_inner) =
            Some((desired, std::time::Instant::now()));
        Ok(())
    }

    fn record_name(&self) -> String {
        bloodraven_api::names::object::failover_record(&self.name)
    }

    fn err(operation: &'static str) -> impl Fn(kube::Error) -> PlatformError {
        move |e| PlatformError::new(operation, e.to_string())
    }

    /// The group as the controller's cache has it (the API server only when the cache does not have it yet).
    async fn group(&self) -> Result<MysqlFailoverGroup, PlatformError> {
        let key = ObjectRef::new(&self.name).within(&self.namespace);
        match self.store.get(&key) {
            Some(group) => Ok((*group).clone()),
            None => self
                .groups
                .get(&self.name)
                .await
                .map_err(Self::err("read group")),
        }
    }

    /// Records what a DNS write did as the `DNSPublished` condition; a new failure is also a Warning event.
    async fn note_dns(&self, published: bool, why: &str, message: &str) {
        let fresh = Condition {
            type_: condition::DNS_PUBLISHED,
            status: published,
            reason: why.to_owned(),
            message: message.to_owned(),
        };
        let changed = {
            let mut current = self
                .dns_condition
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let changed = current.as_ref() != Some(&fresh);
            *current = Some(fresh);
            changed
        };
        if changed && !published {
            let event = KubeEvent {
                type_: KubeEventType::Warning,
                reason: why.to_owned(),
                note: Some(message.to_owned()),
                action: "PublishDNS".into(),
                secondary: None,
            };
            if let Err(e) = self.recorder.publish(&event, &self.reference).await {
                tracing::warn!(error = %e, "could not emit event");
            }
        }
    }

    async fn patch_annotations(&self, annotations: Value) -> Result<(), PlatformError> {
        self.groups
            .patch(
                &self.name,
                &PatchParams::default(),
                &Patch::Merge(json!({ "metadata": { "annotations": annotations } })),
            )
            .await
            .map(drop)
            .map_err(Self::err("patch annotations"))
    }
}

impl Platform for KubePlatform {
    async fn set_dns(&self, site: &str) -> Result<(), PlatformError> {
        let Some((hostname, ttl)) = &self.dns else {
            return Ok(());
        };
        let Some(ip) = self.sites.get(site).and_then(|s| s.lb_ip.clone()) else {
            tracing::debug!(%site, "site has no lbIP: nothing to publish in DNS");
            return Ok(());
        };
        let name = format!("bloodraven-{}", self.name);
        if !self.dns_served.load(Ordering::Acquire) {
            let message = format!(
                "spec.dns.hostname {hostname} was not pointed at site {site} ({ip}): this cluster does not serve \
                 externaldns.k8s.io/v1alpha1 DNSEndpoint. Install external-dns and its DNSEndpoint CRD (noticed \
                 within 15 s), or remove spec.dns; the -primary Service follows the active site either way"
            );
            self.note_dns(false, reason::DNS_ENDPOINT_NOT_SERVED, &message)
                .await;
            return Err(PlatformError::new("apply DNSEndpoint", message));
        }
        let resource = dns_endpoint_resource();
        let api: Api<DynamicObject> =
            Api::namespaced_with(self.client.clone(), &self.namespace, &resource);
        let object = json!({
            "apiVersion": resource.api_version,
            "kind": resource.kind,
            "metadata": { "name": name, "ownerReferences": [self.owner] },
            "spec": { "endpoints": [{
                "dnsName": hostname,
                "recordType": "A",
                "targets": [ip],
                "recordTTL": ttl,
            }]},
        });
        match api
            .patch(
                &name,
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(object),
            )
            .await
        {
            Ok(_) => {
                let message = format!("DNSEndpoint {name} points {hostname} at {ip} (site {site})");
                self.note_dns(true, "Published", &message).await;
                Ok(())
            }
            Err(e) => {
                let message = format!("DNSEndpoint {name} ({hostname} → {ip}, site {site}): {e}");
                self.note_dns(false, reason::DNS_ENDPOINT_APPLY_FAILED, &message)
                    .await;
                Err(PlatformError::new("apply DNSEndpoint", e.to_string()))
            }
        }
    }

    async fn taint(&self, site: &str, action: Taint) -> Result<(), PlatformError> {
        let Some(selector) = self.sites.get(site).and_then(|s| s.node_selector.clone()) else {
            return Ok(());
        };
        let nodes: Api<Node> = Api::all(self.client.clone());
        let key = format!("{}{}", taint::KEY_PREFIX, self.name);
        let list = nodes
            .list(&ListParams::default().labels(&selector))
            .await
            .map_err(Self::err("list nodes"))?;
        let mut failures = Vec::new();
        for node in list {
            let mut taints: Vec<NodeTaint> = node
                .spec
                .as_ref()
                .and_then(|s| s.taints.clone())
                .unwrap_or_default();
            taints.retain(|t| t.key != key);
            if action == Taint::Apply {
                taints.push(NodeTaint {
                    key: key.clone(),
                    value: Some(taint::VALUE.into()),
                    effect: taint::EFFECT.into(),
                    time_added: None,
                });
            }
            let patch = json!({ "spec": { "taints": taints } });
            if let Err(e) = nodes
                .patch(
                    &node.name_any(),
                    &PatchParams::default(),
                    &Patch::Merge(patch),
                )
                .await
            {
                failures.push(format!("{}: {e}", node.name_any()));
            }
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(PlatformError::new("taint nodes", failures.join("; ")))
        }
    }

    async fn emit(&self, event: &Event) -> Result<(), PlatformError> {
        let kube_event = KubeEvent {
            type_: match event.kind() {
                EventType::Warning => KubeEventType::Warning,
                _ => KubeEventType::Normal,
            },
            reason: event.reason.as_str().to_owned(),
            note: Some(event.message.clone()),
            action: "Reconcile".into(),
            secondary: None,
        };
        self.recorder
            .publish(&kube_event, &self.reference)
            .await
            .map_err(Self::err("emit event"))
    }

    async fn write_status(&self, status: &Status) -> Result<(), PlatformError> {
        // A runner that just started (a new group, a restarted or newly elected operator) has no verdict on a site
        // until its thresholds pass: writing that would blank `activeSite` and take the primary's role label (and
        // with it the `-primary` Service's endpoint) away for a few polls. The status and labels on the server stay
        // as the last runner left them until every site has a state.
        if status.sites.iter().any(|s| s.state == SiteState::Unknown) {
            return Ok(());
        }
        let now = now();
        let previous = self
            .last_status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Err(e) = self.sync_pod_labels(status).await {
            tracing::warn!(error = %e, "could not label the group's pods");
        }
        let dns = self
            .dns_condition
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let patch = match dns {
            Some(dns) => {
                let mut status = status.clone();
                status.conditions.push(dns);
                status_patch(&status, previous.as_ref(), now)
            }
            None => status_patch(status, previous.as_ref(), now),
        };
        if !status_due(&patch, previous.as_ref()) {
            return Ok(());
        }
        self.groups
            .patch_status(&self.name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(Self::err("write status"))?;
        *self
            .last_status
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(patch);
        Ok(())
    }

    fn publish_active_site(&self, _site: Option<&str>, _observed_at: std::time::Duration) {
        // The auxiliary server answers from the runner's Topology.
    }

    async fn load_record(&self) -> Result<StoredRecord, PlatformError> {
        let stored = self
            .records
            .get_opt(&self.record_name())
            .await
            .map_err(Self::err("read failover record"))?;
        let status = match stored
            .as_ref()
            .and_then(|c| c.data.as_ref()?.get("record.json").cloned())
        {
            Some(json) => Some(serde_json::from_str::<Record>(&json).map_err(|e| {
                PlatformError::new(
                    "read failover record",
                    format!("ConfigMap {} key record.json: {e}", self.record_name()),
                )
            })?),
            None => None,
        };
        if let Some(r) = &status {
            self.epoch.store(r.epoch, Ordering::Release);
        }
        let group = self.group().await?;
        let notes = group.annotations();
        let stamp = match (
            notes.get(annotation::LAST_FAILOVER),
            notes.get(annotation::LAST_FAILOVER_TARGET),
        ) {
            (Some(at), Some(target)) => Some(FailoverStamp {
                at: at.clone(),
                target: target.clone(),
            }),
            _ => None,
        };
        Ok(StoredRecord { status, stamp })
    }

    async fn save_record(&self, record: &Record) -> Result<(), PlatformError> {
        let json = serde_json::to_string(record)
            .map_err(|e| PlatformError::new("save failover record", e.to_string()))?;
        let object = json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": self.record_name(),
                "ownerReferences": [self.owner],
                "labels": {
                    bloodraven_api::names::label::MANAGED_BY: bloodraven_api::names::label::MANAGED_BY_VALUE,
                    bloodraven_api::names::label::FAILOVER_GROUP: self.name,
                },
            },
            "data": { "record.json": json },
        });
        self.records
            .patch(
                &self.record_name(),
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(object),
            )
            .await
            .map_err(Self::err("save failover record"))?;
        self.epoch.store(record.epoch, Ordering::Release);
        if let Some(stamp) = record.stamp() {
            self.patch_annotations(json!({
                annotation::LAST_FAILOVER: stamp.at,
                annotation::LAST_FAILOVER_TARGET: stamp.target,
            }))
            .await?;
        }
        Ok(())
    }

    async fn annotations(&self) -> Result<AdminAnnotations, PlatformError> {
        let group = self.group().await?;
        let notes = group.annotations();
        Ok(AdminAnnotations {
            planned_failover: notes.get(annotation::PLANNED_FAILOVER).cloned(),
            reclone_site: notes.get(annotation::RECLONE_SITE).cloned(),
        })
    }

    async fn observe_group(&self) -> Result<GroupObservation, PlatformError> {
        let group = self.group().await?;
        let status = group.status.as_ref();
        let gates = Gates {
            ordered_update: status
                .and_then(|s| s.update_phase.as_deref())
                .is_some_and(|p| !p.is_empty()),
            // An initFromBackup restore that has not Succeeded: no auto-clone into the empty group meanwhile.
            bootstrap_suppressed: super::restore::build::in_flight(&group),
            // An in-place restore between Preflight and Resuming: the topology is frozen.
            frozen: super::restore::in_place::decide::in_flight(&group),
            ..Gates::default()
        };
        Ok(GroupObservation {
            gates,
            record_epoch: self.epoch.load(Ordering::Acquire),
        })
    }

    async fn remove_annotation(&self, which: Annotation) -> Result<(), PlatformError> {
        self.patch_annotations(json!({ which.key(): null })).await
    }
}

/// The wall clock as a duration since the epoch (what status stamps are written from).
pub(crate) fn now() -> std::time::Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patch(last_seen: &str, state: &str) -> Value {
        json!({ "status": { "activeSite": "iad", "sites": [
            { "name": "iad", "state": state, "lastSeen": last_seen },
        ]}})
    }

    /// Every poll moves `lastSeen`; that alone is never written, any other change at once.
    #[test]
    fn a_status_that_only_moved_last_seen_is_not_written() {
        let first = patch("2026-12-07T10:00:00Z", "writable");
        assert!(status_due(&first, None));
        assert!(!status_due(&first, Some(&first)));
        let an_hour_later = patch("2026-12-07T11:00:00Z", "writable");
        assert!(!status_due(&an_hour_later, Some(&first)));
        let changed = patch("2026-12-07T10:00:02Z", "unreachable");
        assert!(status_due(&changed, Some(&first)));
    }
}
