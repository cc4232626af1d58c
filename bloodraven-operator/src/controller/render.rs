//! The Kubernetes objects of a group, rendered from its spec by pure functions, with the Go operator's names and
//! labels so a cluster it manages is adopted without recreating anything (reference-api.md §9–§10,
//! reference-failover.md §6.2):
//!
//! | object | name |
//! |---|---|
//! | ConfigMap (`my-<site>.cnf` per site) | `mysql-<group>-config` |
//! | PersistentVolumeClaim per site | `mysql-<group>-<site>-data` |
//! | Service per site (clients) | `mysql-<group>-<site>` |
//! | internal Service per site (operator, replication, sidecar peers) | `mysql-<group>-<site>-internal` |
//! | writer / reader Services (pod role labels) | `mysql-<group>-primary`, `mysql-<group>-replicas` |
//! | PodDisruptionBudget | `mysql-<group>` |
//! | Deployment per site (one replica, `Recreate`: never a StatefulSet) | `mysql-<group>-<site>` |
//!
//! Every object carries a controller owner reference to the group, so deleting the group deletes them. Pods start
//! with `shipstream.io/role=replica` and no `healthy` label: traffic reaches a pod only once the operator labels it.

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};

use serde_json::{Value, json};

use bloodraven_api::failovergroup::backup::{BackupProfile, StorageType};
use bloodraven_api::failovergroup::{MysqlFailoverGroup, ServiceType, SiteRole};
use bloodraven_api::names::{annotation, label, object};

/// The `[mysqld]` settings every site runs with (durability-and-rpo: binary log fsynced per commit, GTIDs,
/// replicas log what they apply so they can be promoted, never writable until the operator says so).
pub const DURABILITY: &[(&str, &str)] = &[
    ("binlog_format", "ROW"),
    ("enforce_gtid_consistency", "ON"),
    ("gtid_mode", "ON"),
    ("innodb_flush_log_at_trx_commit", "2"),
    ("log_bin", "mysql-bin"),
    ("log_replica_updates", "ON"),
    ("read_only", "ON"),
    ("relay_log_recovery", "ON"),
    ("skip_replica_start", "ON"),
    ("super_read_only", "ON"),
    ("sync_binlog", "1"),
];

/// Where the `spec.tls.secretName` Secret (cert-manager's `ca.crt`, `tls.crt`, `tls.key`) is mounted in mysqld and
/// the sidecar.
pub const TLS_DIR: &str = "/etc/mysql/tls";

/// One object to apply: its `apiVersion`/`kind` and the whole manifest.
#[derive(Clone, Debug, PartialEq)]
pub struct Rendered {
    /// `apps/v1`, `v1`, `policy/v1`.
    pub api_version: &'static str,
    /// `Deployment`, `Service`, ...
    pub kind: &'static str,
    /// `metadata.name`.
    pub name: String,
    /// The manifest (server-side apply body).
    pub manifest: Value,
}

/// Everything a group owns besides its durable record and DNSEndpoint, in apply order.
///
/// `operator_address` is where sidecars reach the operator's auxiliary server (`BLOODRAVEN_ADDRESS`).
pub fn objects(group: &MysqlFailoverGroup, operator_address: &str) -> Vec<Rendered> {
    let name = group.metadata.name.clone().unwrap_or_default();
    let owner = owner(group);
    let mut out = Vec::new();
    let mut push = |api_version, kind, object_name: String, mut manifest: Value| {
        manifest["apiVersion"] = json!(api_version);
        manifest["kind"] = json!(kind);
        manifest["metadata"]["name"] = json!(object_name);
        manifest["metadata"]["ownerReferences"] = json!([owner]);
        prune_nulls(&mut manifest);
        out.push(Rendered {
            api_version,
            kind,
            name: object_name,
            manifest,
        });
    };
    let config_name = object::config(&name);
    push(
        "v1",
        "ConfigMap",
        config_name.clone(),
        json!({
            "metadata": { "labels": labels(&name, None) },
            "data": group.spec.sites.iter().map(|s| (format!("my-{}.cnf", s.name), my_cnf(group, &s.name))).collect::<BTreeMap<_, _>>(),
        }),
    );
    for site in &group.spec.sites {
        push(
            "v1",
            "PersistentVolumeClaim",
            object::site_data(&name, &site.name),
            json!({
                "metadata": { "labels": labels(&name, Some(&site.name)) },
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "storageClassName": site.storage.storage_class_name,
                    "resources": { "requests": { "storage": site.storage.size } },
                },
            }),
        );
    }
    for site in &group.spec.sites {
        push(
            "v1",
            "Service",
            object::site(&name, &site.name),
            site_service(group, &name, site),
        );
        push(
            "v1",
            "Service",
            object::site_internal(&name, &site.name),
            json!({
                "metadata": { "labels": labels(&name, Some(&site.name)) },
                "spec": {
                    "type": "ClusterIP",
                    "publishNotReadyAddresses": true,
                    "selector": selector(&name, Some(&site.name)),
                    "ports": [
                        { "name": "mysql", "port": 3306, "targetPort": 3306, "protocol": "TCP" },
                        { "name": "sidecar", "port": 8080, "targetPort": 8080, "protocol": "TCP" },
                    ],
                },
            }),
        );
    }
    let mut primary = selector(&name, None);
    primary.insert(label::ROLE.into(), label::ROLE_PRIMARY.into());
    push(
        "v1",
        "Service",
        object::primary(&name),
        json!({
            "metadata": { "labels": labels(&name, None) },
            "spec": { "selector": primary, "ports": [{ "name": "mysql", "port": 3306, "targetPort": 3306, "protocol": "TCP" }] },
        }),
    );
    let mut replicas = selector(&name, None);
    replicas.insert(label::ROLE.into(), label::ROLE_REPLICA.into());
    replicas.insert(label::HEALTHY.into(), "yes".into());
    push(
        "v1",
        "Service",
        object::replicas(&name),
        json!({
            "metadata": { "labels": labels(&name, None) },
            "spec": { "selector": replicas, "ports": [{ "name": "mysql", "port": 3306, "targetPort": 3306, "protocol": "TCP" }] },
        }),
    );
    push(
        "policy/v1",
        "PodDisruptionBudget",
        object::disruption_budget(&name),
        json!({
            "metadata": { "labels": labels(&name, None) },
            "spec": { "minAvailable": 1, "selector": { "matchLabels": selector(&name, None) } },
        }),
    );
    for site in &group.spec.sites {
        push(
            "apps/v1",
            "Deployment",
            object::site(&name, &site.name),
            deployment(group, &name, site, &config_name, operator_address),
        );
    }
    out
}

/// The site's `my.cnf`: the durability settings, then `spec.mysqlConf`, then the site's own `mysqlConf` (later
/// keys win), with a server id unique in the group.
pub fn my_cnf(group: &MysqlFailoverGroup, site: &str) -> String {
    let mut keys: BTreeMap<String, String> = DURABILITY
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let index = group
        .spec
        .sites
        .iter()
        .position(|s| s.name == site)
        .unwrap_or(0);
    keys.insert("server_id".into(), (index + 1).to_string());
    keys.insert("report_host".into(), site.to_owned());
    if pitr_profile(group).is_some() {
        let size = group
            .spec
            .backup
            .as_ref()
            .and_then(|b| b.pitr.as_ref())
            .and_then(|p| p.max_binlog_size.clone())
            .unwrap_or_else(|| "100M".into());
        keys.insert("max_binlog_size".into(), size);
    }
    if group.spec.tls.is_some() {
        for (key, file) in [
            ("ssl_ca", "ca.crt"),
            ("ssl_cert", "tls.crt"),
            ("ssl_key", "tls.key"),
        ] {
            keys.insert(key.into(), format!("{TLS_DIR}/{file}"));
        }
    }
    for conf in [
        group.spec.mysql_conf.as_ref(),
        group
            .spec
            .sites
            .get(index)
            .and_then(|s| s.mysql_conf.as_ref()),
    ]
    .into_iter()
    .flatten()
    {
        keys.extend(conf.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    let mut text = String::from("[mysqld]\n");
    for (k, v) in keys {
        text.push_str(&format!("{k} = {v}\n"));
    }
    text
}

/// Where the sidecar finds what its archiver needs (the Go operator's paths, reference-formats.md §2.1, §2.4).
pub mod pitr_paths {
    /// The data PVC, read-only: the binlogs and their index.
    pub const BINLOG_DIR: &str = "/var/lib/mysql";
    /// A PVC profile's claim.
    pub const ARCHIVE: &str = "/run/bloodraven/pitr-archive";
    /// An S3 profile's credentials Secret (files `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, ...).
    pub const AWS_CREDS: &str = "/run/bloodraven/pitr-aws-creds";
    /// An encrypted profile's passphrase Secret, its key remapped to the file `passphrase`.
    pub const PASSPHRASE: &str = "/run/bloodraven/backup-passphrase";
}

/// The profile that receives the binlogs when `spec.backup.pitr.enabled` names one that exists.
pub fn pitr_profile(group: &MysqlFailoverGroup) -> Option<&BackupProfile> {
    let backup = group.spec.backup.as_ref()?;
    let pitr = backup.pitr.as_ref().filter(|p| p.enabled == Some(true))?;
    let name = pitr.profile_name.as_deref()?;
    backup.profiles.as_ref()?.iter().find(|p| p.name == name)
}

/// The archive prefix inside a profile's storage: its S3 prefix or PVC sub-path, then `binlogs`.
pub fn pitr_archive_prefix(profile: &BackupProfile) -> String {
    let base = match profile.storage.type_ {
        StorageType::S3 => profile.storage.s3.as_ref().and_then(|s| s.prefix.clone()),
        StorageType::Pvc => profile
            .storage
            .pvc
            .as_ref()
            .and_then(|p| p.sub_path.clone()),
    }
    .unwrap_or_default();
    let base = base.trim_matches('/');
    if base.is_empty() {
        "binlogs".to_owned()
    } else {
        format!("{base}/binlogs")
    }
}

/// The sidecar's environment, mounts and the pod's volumes for the binlog archiver.
struct PitrParts {
    env: Vec<Value>,
    mounts: Vec<Value>,
    volumes: Vec<Value>,
}

fn pitr_parts(group: &MysqlFailoverGroup, name: &str, profile: &BackupProfile) -> PitrParts {
    use pitr_paths::*;
    let env = |k: &str, v: &str| json!({ "name": k, "value": v });
    let pitr = group.spec.backup.as_ref().and_then(|b| b.pitr.as_ref());
    let interval = pitr
        .and_then(|p| p.archive_poll_interval.as_ref())
        .map_or_else(|| "60s".to_owned(), ToString::to_string);
    let mut parts = PitrParts {
        env: vec![
            env("BLOODRAVEN_PITR_ENABLED", "true"),
            env("BLOODRAVEN_PITR_BINLOG_DIR", BINLOG_DIR),
            env("BLOODRAVEN_PITR_BINLOG_INDEX", "mysql-bin.index"),
            env("BLOODRAVEN_PITR_POLL_INTERVAL", &interval),
            env(
                "BLOODRAVEN_PITR_MANIFEST_PREFIX",
                &pitr_archive_prefix(profile),
            ),
            env("BLOODRAVEN_PITR_PROFILE_NAME", &profile.name),
        ],
        mounts: vec![json!({ "name": "data", "mountPath": BINLOG_DIR, "readOnly": true })],
        volumes: Vec::new(),
    };
    match (profile.storage.type_, &profile.storage.s3) {
        (StorageType::S3, Some(s3)) => {
            parts.env.push(env("BLOODRAVEN_PITR_STORAGE_TYPE", "S3"));
            parts.env.push(env("BLOODRAVEN_PITR_S3_BUCKET", &s3.bucket));
            if let Some(r) = &s3.region {
                parts.env.push(env("BLOODRAVEN_PITR_S3_REGION", r));
            }
            if let Some(e) = &s3.endpoint_url {
                parts.env.push(env("BLOODRAVEN_PITR_S3_ENDPOINT_URL", e));
            }
            parts
                .env
                .push(env("BLOODRAVEN_PITR_AWS_CREDS_DIR", AWS_CREDS));
            parts.mounts.push(
                json!({ "name": "pitr-aws-creds", "mountPath": AWS_CREDS, "readOnly": true }),
            );
            parts.volumes.push(json!({ "name": "pitr-aws-creds", "secret": { "secretName": s3.credentials_secret } }));
        }
        _ => {
            let claim = profile.claim_name(name);
            parts.env.push(env("BLOODRAVEN_PITR_STORAGE_TYPE", "PVC"));
            parts
                .env
                .push(env("BLOODRAVEN_PITR_PVC_MOUNT_PATH", ARCHIVE));
            parts
                .mounts
                .push(json!({ "name": "pitr-archive", "mountPath": ARCHIVE }));
            parts.volumes.push(
                json!({ "name": "pitr-archive", "persistentVolumeClaim": { "claimName": claim } }),
            );
        }
    }
    if let Some(enc) = &profile.encryption {
        let key = enc.passphrase_secret.key_or_default();
        parts.env.push(env(
            "BLOODRAVEN_PITR_PASSPHRASE_FILE",
            &format!("{PASSPHRASE}/passphrase"),
        ));
        parts
            .mounts
            .push(json!({ "name": "pitr-passphrase", "mountPath": PASSPHRASE, "readOnly": true }));
        parts.volumes.push(json!({
            "name": "pitr-passphrase",
            "secret": {
                "secretName": enc.passphrase_secret.name,
                "items": [{ "key": key, "path": "passphrase" }],
                "defaultMode": 0o400,
            },
        }));
    }
    parts
}

/// Drops `null` fields (unset optional spec parts): an apply body names only the fields this manager owns.
fn prune_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(prune_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(prune_nulls),
        _ => {}
    }
}

fn owner(group: &MysqlFailoverGroup) -> Value {
    json!({
        "apiVersion": "shipstream.io/v1alpha1",
        "kind": "MysqlFailoverGroup",
        "name": group.metadata.name,
        "uid": group.metadata.uid,
        "controller": true,
        "blockOwnerDeletion": true,
    })
}

fn labels(group: &str, site: Option<&str>) -> BTreeMap<String, String> {
    let mut l = selector(group, site);
    l.insert(label::MANAGED_BY.into(), label::MANAGED_BY_VALUE.into());
    l.insert(label::FAILOVER_GROUP.into(), group.into());
    l
}

fn selector(group: &str, site: Option<&str>) -> BTreeMap<String, String> {
    let mut l = BTreeMap::from([
        (label::NAME.to_owned(), "mysql".to_owned()),
        (label::INSTANCE.to_owned(), group.to_owned()),
    ]);
    if let Some(site) = site {
        l.insert(label::SITE.into(), site.into());
    }
    l
}

fn site_service(
    group: &MysqlFailoverGroup,
    name: &str,
    site: &bloodraven_api::failovergroup::SiteSpec,
) -> Value {
    let template = group.spec.service_template.as_ref();
    let own = site.service_template.as_ref();
    let type_ = own
        .and_then(|t| t.type_)
        .or(template.and_then(|t| t.type_))
        .unwrap_or(ServiceType::ClusterIP);
    let mut selector = selector(name, Some(&site.name));
    if site.role == Some(SiteRole::ReadOnly) {
        selector.insert(label::HEALTHY.into(), "yes".into());
    }
    let mut annotations = template
        .and_then(|t| t.annotations.clone())
        .unwrap_or_default();
    annotations.extend(own.and_then(|t| t.annotations.clone()).unwrap_or_default());
    let mut spec = json!({
        "type": type_,
        "publishNotReadyAddresses": false,
        "selector": selector,
        "ports": [{ "name": "mysql", "port": 3306, "targetPort": 3306, "protocol": "TCP" }],
    });
    if type_ == ServiceType::LoadBalancer
        && let Some(ip) = &site.lb_ip
    {
        spec["loadBalancerIP"] = json!(ip);
    }
    if let Some(policy) = own
        .and_then(|t| t.external_traffic_policy)
        .or(template.and_then(|t| t.external_traffic_policy))
    {
        spec["externalTrafficPolicy"] = json!(policy);
    }
    if let Some(port) = own.and_then(|t| t.node_port) {
        spec["ports"][0]["nodePort"] = json!(port);
    }
    json!({
        "metadata": { "labels": labels(name, Some(&site.name)), "annotations": annotations },
        "spec": spec,
    })
}

fn deployment(
    group: &MysqlFailoverGroup,
    name: &str,
    site: &bloodraven_api::failovergroup::SiteSpec,
    config: &str,
    operator_address: &str,
) -> Value {
    let spec = &group.spec;
    let image = spec.image.clone().unwrap_or_else(|| "mysql:9.7".into());
    let sidecar_image = spec
        .sidecar_image
        .clone()
        .unwrap_or_else(|| "ghcr.io/shipstream/bloodraven-sidecar:1.3.1".into());
    let namespace = group.metadata.namespace.clone().unwrap_or_default();
    let peers: Vec<String> = spec
        .sites
        .iter()
        .filter(|s| s.name != site.name)
        .map(|s| {
            format!(
                "{}:8080",
                super::spec::internal_host(name, &s.name, &namespace)
            )
        })
        .collect();
    let sidecar_spec = spec.sidecar.clone().unwrap_or_default();
    let secret = spec
        .credentials
        .as_ref()
        .map(|c| c.operator_secret.clone())
        .or_else(|| spec.secret_name.clone())
        .unwrap_or_default();
    let secret_key = |key: &str| json!({ "secretKeyRef": { "name": secret, "key": key } });
    let mut pod_labels = labels(name, Some(&site.name));
    pod_labels.extend(spec.pod_labels.clone().unwrap_or_default());
    pod_labels.insert(label::ROLE.into(), label::ROLE_REPLICA.into());
    let tls_mount = json!({ "name": "tls", "mountPath": TLS_DIR, "readOnly": true });
    let mut mysqld_mounts = vec![
        json!({ "name": "data", "mountPath": "/var/lib/mysql" }),
        json!({ "name": "config", "mountPath": "/etc/mysql/conf.d/bloodraven.cnf", "subPath": format!("my-{}.cnf", site.name) }),
    ];
    let mut sidecar_mounts = Vec::new();
    let mut volumes = vec![
        json!({ "name": "data", "persistentVolumeClaim": { "claimName": object::site_data(name, &site.name) } }),
        json!({ "name": "config", "configMap": { "name": config } }),
    ];
    if let Some(tls) = &spec.tls {
        mysqld_mounts.push(tls_mount.clone());
        sidecar_mounts.push(tls_mount);
        volumes.push(json!({ "name": "tls", "secret": { "secretName": tls.secret_name } }));
    }
    let mysqld = json!({
        "name": "mysql",
        "image": image,
        "env": [{ "name": "MYSQL_ROOT_PASSWORD", "valueFrom": secret_key("password") }],
        "ports": [{ "name": "mysql", "containerPort": 3306, "protocol": "TCP" }],
        "volumeMounts": mysqld_mounts,
        "livenessProbe": { "tcpSocket": { "port": 3306 }, "initialDelaySeconds": 30, "periodSeconds": 10 },
        "readinessProbe": { "tcpSocket": { "port": 3306 }, "initialDelaySeconds": 5, "periodSeconds": 5 },
        // The container's last word: never writable while it stops.
        "lifecycle": { "preStop": { "exec": { "command": [
            "sh", "-c", "mysql -uroot -p\"$MYSQL_ROOT_PASSWORD\" -e 'SET GLOBAL super_read_only = ON' || true"
        ]}}},
        "resources": site.resources,
        "securityContext": spec.container_security_context,
    });
    let env = |k: &str, v: String| json!({ "name": k, "value": v });
    let mut sidecar = json!({
        "name": "bloodraven-sidecar",
        "image": sidecar_image,
        "env": [
            { "name": "MYSQL_USER", "valueFrom": secret_key("username") },
            { "name": "MYSQL_PASSWORD", "valueFrom": secret_key("password") },
            { "name": "MY_POD_NAME", "valueFrom": { "fieldRef": { "fieldPath": "metadata.name" } } },
            { "name": "POD_NAMESPACE", "valueFrom": { "fieldRef": { "fieldPath": "metadata.namespace" } } },
            env("LISTEN_ADDR", ":8080".into()),
            env("PEER_ADDRESSES", peers.join(",")),
            env("BLOODRAVEN_ADDRESS", sidecar_spec.bloodraven_address.clone().unwrap_or_else(|| operator_address.to_owned())),
            env("MY_SITE", site.name.clone()),
            env("FAILOVER_GROUP", name.to_owned()),
            env("LEASE_TIMEOUT", sidecar_spec.lease_timeout_or_default().to_string()),
            env("PEER_CHECK_INTERVAL", sidecar_spec.peer_check_interval_or_default().to_string()),
        ],
        "ports": [{ "name": "sidecar", "containerPort": 8080, "protocol": "TCP" }],
        "livenessProbe": { "httpGet": { "path": "/health", "port": 8080 }, "initialDelaySeconds": 5, "periodSeconds": 10 },
        "readinessProbe": { "httpGet": { "path": "/health", "port": 8080 }, "initialDelaySeconds": 3, "periodSeconds": 5 },
        "resources": spec.sidecar_resources,
        "securityContext": spec.container_security_context,
    });
    if let Some(profile) = pitr_profile(group) {
        let pitr = pitr_parts(group, name, profile);
        let vars = sidecar["env"]
            .as_array_mut()
            .expect("the sidecar env is a list");
        vars.extend(pitr.env);
        sidecar_mounts.extend(pitr.mounts);
        volumes.extend(pitr.volumes);
    }
    // Added only when there is one, so the spec hash of a group without TLS or PITR is what it always was.
    if !sidecar_mounts.is_empty() {
        sidecar["volumeMounts"] = json!(sidecar_mounts);
    }
    let template = json!({
        "metadata": { "labels": pod_labels, "annotations": spec.pod_annotations.clone().unwrap_or_default() },
        "spec": {
            "containers": [mysqld, sidecar],
            "volumes": volumes,
            "securityContext": spec.pod_security_context,
            "terminationGracePeriodSeconds": spec.termination_grace_period_seconds.unwrap_or(60),
        },
    });
    let mut hash = DefaultHasher::new();
    template.to_string().hash(&mut hash);
    my_cnf(group, &site.name).hash(&mut hash);
    json!({
        "metadata": {
            "labels": labels(name, Some(&site.name)),
            "annotations": { annotation::SPEC_HASH: format!("{:016x}", hash.finish()) },
        },
        "spec": {
            "replicas": 1,
            "strategy": { "type": "Recreate" },
            "selector": { "matchLabels": selector(name, Some(&site.name)) },
            "template": template,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group() -> MysqlFailoverGroup {
        serde_json::from_value(json!({
            "apiVersion": "shipstream.io/v1alpha1", "kind": "MysqlFailoverGroup",
            "metadata": { "name": "orders", "namespace": "shop", "uid": "6b1a7c2e-0000-4000-8000-000000000001" },
            "spec": {
                "image": "mysql:8.4",
                "credentials": { "operatorSecret": "orders-operator" },
                "dns": { "hostname": "orders.example.com" },
                "mysqlConf": { "max_connections": "500" },
                "serviceTemplate": { "type": "ClusterIP" },
                "sites": [
                    { "name": "iad", "zone": "a", "lbIP": "10.0.0.1", "taintNodeSelector": { "zone": "a" },
                      "storage": { "storageClassName": "fast", "size": "50Gi" } },
                    { "name": "pdx", "zone": "b", "lbIP": "10.0.0.2", "taintNodeSelector": { "zone": "b" },
                      "storage": { "storageClassName": "fast", "size": "50Gi" } },
                    { "name": "reader", "zone": "c", "role": "read-only",
                      "mysqlConf": { "max_connections": "2000" },
                      "serviceTemplate": { "type": "LoadBalancer", "externalTrafficPolicy": "Local" },
                      "storage": { "storageClassName": "fast", "size": "50Gi" } }
                ]
            }
        }))
        .unwrap()
    }

    #[test]
    fn a_group_renders_the_go_operators_objects() {
        let objects = objects(&group(), "bloodraven.bloodraven-system.svc:8082");
        let names: Vec<String> = objects
            .iter()
            .map(|o| format!("{} {}", o.kind, o.name))
            .collect();
        insta::assert_debug_snapshot!("object_names", names);
        for o in &objects {
            assert_eq!(
                o.manifest["metadata"]["ownerReferences"][0]["uid"],
                "6b1a7c2e-0000-4000-8000-000000000001"
            );
            insta::assert_json_snapshot!(format!("{}-{}", o.kind, o.name), o.manifest);
        }
    }

    #[test]
    fn site_config_overrides_group_config_and_never_weakens_nothing_it_does_not_name() {
        let g = group();
        let reader = my_cnf(&g, "reader");
        assert!(reader.contains("max_connections = 2000\n"), "{reader}");
        assert!(
            reader.contains("sync_binlog = 1\n") && reader.contains("server_id = 3\n"),
            "{reader}"
        );
        assert!(my_cnf(&g, "iad").contains("max_connections = 500\n"));
    }

    #[test]
    fn the_spec_hash_changes_with_what_the_pods_run() {
        let hash = |g: &MysqlFailoverGroup| {
            objects(g, "op:8082")
                .into_iter()
                .find(|o| o.name == "mysql-orders-iad" && o.kind == "Deployment")
                .unwrap()
                .manifest["metadata"]["annotations"][annotation::SPEC_HASH]
                .clone()
        };
        let mut g = group();
        let before = hash(&g);
        assert_eq!(hash(&g), before);
        g.spec.mysql_conf = Some(BTreeMap::from([("max_connections".into(), "501".into())]));
        assert_ne!(hash(&g), before);
    }

    fn iad_deployment(g: &MysqlFailoverGroup) -> Value {
        objects(g, "op:8082")
            .into_iter()
            .find(|o| o.name == "mysql-orders-iad" && o.kind == "Deployment")
            .unwrap()
            .manifest
    }

    /// With `spec.tls`, mysqld serves TLS from the mounted cert-manager Secret and the sidecar sees the same files.
    #[test]
    fn tls_mounts_the_certificate_secret_and_configures_mysqld() {
        let mut g = group();
        g.spec.tls = Some(
            serde_json::from_value(json!({
                "issuerRef": { "name": "ca", "kind": "ClusterIssuer" },
                "secretName": "orders-tls",
            }))
            .unwrap(),
        );
        let cnf = my_cnf(&g, "iad");
        for line in [
            "ssl_ca = /etc/mysql/tls/ca.crt\n",
            "ssl_cert = /etc/mysql/tls/tls.crt\n",
            "ssl_key = /etc/mysql/tls/tls.key\n",
        ] {
            assert!(cnf.contains(line), "{cnf}");
        }
        assert!(!my_cnf(&group(), "iad").contains("ssl_"));
        let d = iad_deployment(&g);
        let pod = &d["spec"]["template"]["spec"];
        assert_eq!(
            pod["volumes"][2],
            json!({ "name": "tls", "secret": { "secretName": "orders-tls" } })
        );
        for container in [0, 1] {
            let mounts = pod["containers"][container]["volumeMounts"]
                .as_array()
                .unwrap();
            assert!(
                mounts.iter().any(|m| m["name"] == "tls"
                    && m["mountPath"] == TLS_DIR
                    && m["readOnly"] == true),
                "{mounts:?}"
            );
        }
        assert!(
            iad_deployment(&group())["spec"]["template"]["spec"]["containers"][1]
                .get("volumeMounts")
                .is_none()
        );
    }

    #[test]
    fn pitr_configures_the_sidecar_archiver_as_the_go_operator() {
        let with_pitr = |profile: Value| {
            let mut g = group();
            g.spec.backup = Some(
                serde_json::from_value(json!({
                    "profiles": [profile],
                    "pitr": { "enabled": true, "profileName": "nightly", "archivePollInterval": "30s" },
                }))
                .unwrap(),
            );
            g
        };
        let s3 = with_pitr(json!({
            "name": "nightly",
            "storage": { "type": "S3", "s3": {
                "bucket": "orders-backups", "prefix": "/prod/orders/", "region": "eu-west-1",
                "endpointURL": "https://s3.example.test", "credentialsSecret": "s3-creds" } },
            "encryption": { "passphraseSecret": { "name": "orders-passphrase", "key": "key" } },
        }));
        let d = iad_deployment(&s3);
        let pod = &d["spec"]["template"]["spec"];
        let sidecar = &pod["containers"][1];
        let pitr_env: Vec<&Value> = sidecar["env"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["name"].as_str().unwrap().starts_with("BLOODRAVEN_PITR_"))
            .collect();
        insta::assert_json_snapshot!(
            "pitr_s3_encrypted",
            json!({
                "env": pitr_env,
                "sidecarMounts": sidecar["volumeMounts"],
                "volumes": pod["volumes"],
            })
        );
        assert!(my_cnf(&s3, "iad").contains("max_binlog_size = 100M\n"));
        assert!(!my_cnf(&group(), "iad").contains("max_binlog_size"));

        let pvc = with_pitr(json!({
            "name": "nightly",
            "storage": { "type": "PVC", "pvc": { "subPath": "orders" } },
        }));
        let d = iad_deployment(&pvc);
        let sidecar = &d["spec"]["template"]["spec"]["containers"][1];
        let env: BTreeMap<String, String> = sidecar["env"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| {
                Some((
                    e["name"].as_str()?.to_owned(),
                    e["value"].as_str()?.to_owned(),
                ))
            })
            .collect();
        assert_eq!(env["BLOODRAVEN_PITR_STORAGE_TYPE"], "PVC");
        assert_eq!(env["BLOODRAVEN_PITR_PVC_MOUNT_PATH"], pitr_paths::ARCHIVE);
        assert_eq!(env["BLOODRAVEN_PITR_MANIFEST_PREFIX"], "orders/binlogs");
        assert!(!env.contains_key("BLOODRAVEN_PITR_PASSPHRASE_FILE"));
        assert!(
            d["spec"]["template"]["spec"]["volumes"]
                .as_array()
                .unwrap()
                .contains(&json!({ "name": "pitr-archive", "persistentVolumeClaim": { "claimName": "mysql-orders-backup-nightly" } }))
        );

        // Archiving off (or naming no profile): the pods are what they were.
        let mut off =
            with_pitr(json!({ "name": "nightly", "storage": { "type": "PVC", "pvc": {} } }));
        off.spec
            .backup
            .as_mut()
            .unwrap()
            .pitr
            .as_mut()
            .unwrap()
            .enabled = Some(false);
        assert_eq!(
            iad_deployment(&off)["metadata"],
            iad_deployment(&group())["metadata"]
        );
    }
}
