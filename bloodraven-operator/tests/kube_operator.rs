//! The `bloodraven` binary against a real Kubernetes API server (v1.20 from `../shared/tools/k8s-from-debian.sh`)
//! and real MariaDB servers reached through `--site-endpoint`: a group is run, failed over, switched over by
//! annotation and deleted; a group with a missing Secret is refused with the field at fault while the other group
//! keeps running; with `--leader-elect` only one of two managers acts and the other takes over when it is killed.

mod kube_support;
mod live_support;

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use bloodraven_api::failovergroup::MysqlFailoverGroup;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{
    ConfigMap, Namespace, PersistentVolumeClaim, Pod, Secret, Service,
};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use kube_support::{cluster, free_port, namespace, wait};
use live_support::{Group, host};
use serde_json::{Value, json};

/// external-dns's `DNSEndpoint` CRD (the parts the operator writes), installed or removed by the failover test.
fn dns_endpoint_crd() -> CustomResourceDefinition {
    serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": "dnsendpoints.externaldns.k8s.io",
            // As external-dns's own CRD: `*.k8s.io` groups need it.
            "annotations": { "api-approved.kubernetes.io": "https://github.com/kubernetes-sigs/external-dns/pull/2007" },
        },
        "spec": {
            "group": "externaldns.k8s.io",
            "scope": "Namespaced",
            "names": { "kind": "DNSEndpoint", "plural": "dnsendpoints", "singular": "dnsendpoint", "listKind": "DNSEndpointList" },
            "versions": [{
                "name": "v1alpha1", "served": true, "storage": true,
                "subresources": { "status": {} },
                "schema": { "openAPIV3Schema": {
                    "type": "object",
                    "properties": {
                        "spec": { "type": "object", "x-kubernetes-preserve-unknown-fields": true },
                        "status": { "type": "object", "x-kubernetes-preserve-unknown-fields": true },
                    },
                }},
            }],
        },
    }))
    .unwrap()
}

fn dns_endpoints(client: &Client, namespace: &str) -> Api<kube::api::DynamicObject> {
    let resource = kube::api::ApiResource {
        group: "externaldns.k8s.io".into(),
        version: "v1alpha1".into(),
        api_version: "externaldns.k8s.io/v1alpha1".into(),
        kind: "DNSEndpoint".into(),
        plural: "dnsendpoints".into(),
    };
    Api::namespaced_with(client.clone(), namespace, &resource)
}

/// The `DNSPublished` condition's status and reason.
fn dns_condition(group: &MysqlFailoverGroup) -> (String, String) {
    let conditions = status_field(group, "/conditions");
    conditions
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == "DNSPublished")
        .map(|c| {
            (
                c["status"].as_str().unwrap_or_default().to_owned(),
                c["reason"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .unwrap_or_default()
}

/// One `bloodraven` manager process.
struct Operator {
    child: Child,
    aux: u16,
    health: u16,
    metrics: u16,
}

impl Operator {
    fn start(
        kubeconfig: &std::path::Path,
        namespace: &str,
        group: &Group,
        extra: &[&str],
    ) -> Operator {
        let (aux, health, metrics) = (free_port(), free_port(), free_port());
        let mut command = Command::new(env!("CARGO_BIN_EXE_bloodraven"));
        command
            .env("KUBECONFIG", kubeconfig)
            .env("RUST_LOG", "info,kube=warn")
            .args(["--namespace", namespace])
            .args(["--aux-bind-address", &format!("127.0.0.1:{aux}")])
            .args([
                "--health-probe-bind-address",
                &format!("127.0.0.1:{health}"),
            ])
            .args(["--metrics-bind-address", &format!("127.0.0.1:{metrics}")])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        for (i, site) in ["iad", "pdx"].iter().enumerate() {
            command.args([
                "--site-endpoint",
                &format!(
                    "{namespace}/orders/{site}={}:{}",
                    host(i),
                    group.servers[i].port()
                ),
            ]);
        }
        Operator {
            child: command.spawn().expect("start bloodraven"),
            aux,
            health,
            metrics,
        }
    }

    async fn get(&self, port: u16, path: &str) -> Option<(u16, String)> {
        let response = reqwest::get(format!("http://127.0.0.1:{port}{path}"))
            .await
            .ok()?;
        let code = response.status().as_u16();
        Some((code, response.text().await.ok()?))
    }

    async fn active_site(&self, namespace: &str) -> Option<(u16, String)> {
        self.get(
            self.aux,
            &format!("/active-site?namespace={namespace}&group=orders"),
        )
        .await
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The operator's Secret and a group over the two servers of `group` (`iad` primary, `pdx` replica).
async fn create_group(
    client: &Client,
    namespace: &str,
    name: &str,
    secret: &str,
) -> Api<MysqlFailoverGroup> {
    create_group_with(client, namespace, name, secret, json!({})).await
}

/// [`create_group`] with `extra` merged into the spec.
async fn create_group_with(
    client: &Client,
    namespace: &str,
    name: &str,
    secret: &str,
    extra: Value,
) -> Api<MysqlFailoverGroup> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    if secret == "orders-operator" && secrets.get_opt(secret).await.unwrap().is_none() {
        secrets
            .create(
                &PostParams::default(),
                &serde_json::from_value(json!({
                    "metadata": { "name": secret },
                    "stringData": { "username": "root", "password": "" },
                }))
                .unwrap(),
            )
            .await
            .unwrap();
    }
    let storage = json!({ "storageClassName": "local", "size": "1Gi" });
    let mut group = json!({
        "apiVersion": "shipstream.io/v1alpha1",
        "kind": "MysqlFailoverGroup",
        "metadata": { "name": name },
        "spec": {
            "image": "mariadb:11.4",
            "credentials": { "operatorSecret": secret },
            "dns": { "hostname": format!("{name}.example.test") },
            "pollInterval": "1s",
            "failoverCooldown": "1m",
            "sites": [
                { "name": "iad", "zone": "a", "lbIP": "192.0.2.1", "storage": storage },
                { "name": "pdx", "zone": "b", "lbIP": "192.0.2.2", "storage": storage },
            ],
        },
    });
    for (key, value) in extra.as_object().into_iter().flatten() {
        group["spec"][key] = value.clone();
    }
    let group: MysqlFailoverGroup = serde_json::from_value(group).unwrap();
    let api: Api<MysqlFailoverGroup> = Api::namespaced(client.clone(), namespace);
    api.create(&PostParams::default(), &group).await.unwrap();
    api
}

fn status_field(group: &MysqlFailoverGroup, pointer: &str) -> Value {
    serde_json::to_value(&group.status)
        .unwrap()
        .pointer(pointer)
        .cloned()
        .unwrap_or(Value::Null)
}

async fn events(client: &Client, namespace: &str, object: &str) -> Vec<(String, String, String)> {
    let api: Api<Event> = Api::namespaced(client.clone(), namespace);
    api.list(&ListParams::default())
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(object))
        .map(|e| {
            (
                e.reason.unwrap_or_default(),
                e.type_.unwrap_or_default(),
                e.note.unwrap_or_default(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_is_run_failed_over_and_deleted_and_a_bad_one_is_refused() {
    let (client, kubeconfig) = cluster().await;
    // The cluster starts without external-dns's API (no other test depends on it).
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let dns_crd = dns_endpoint_crd();
    if crds.get_opt(&dns_crd.name_any()).await.unwrap().is_some() {
        crds.delete(&dns_crd.name_any(), &DeleteParams::default())
            .await
            .unwrap();
        wait(
            "the DNSEndpoint CRD is gone",
            Duration::from_secs(30),
            || async { crds.get_opt(&dns_crd.name_any()).await.unwrap().is_none() },
        )
        .await;
    }
    let ns = namespace(&client, "e2e-failover").await;
    let mut group = Group::start(2);
    let orders = create_group(&client, &ns, "orders", "orders-operator").await;
    let carts = create_group(&client, &ns, "carts", "carts-operator").await;
    // Pods as the Deployments would create them (this control plane has no kubelet or Deployment controller).
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    for site in ["iad", "pdx"] {
        pods.create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "metadata": {
                    "name": format!("mysql-orders-{site}-0"),
                    "labels": {
                        "app.kubernetes.io/name": "mysql",
                        "app.kubernetes.io/instance": "orders",
                        "shipstream.io/site": site,
                        "shipstream.io/role": "replica",
                    },
                },
                "spec": { "containers": [{ "name": "mysql", "image": "mariadb:11.4" }] },
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    }
    let role = |site: &'static str| {
        let pods = pods.clone();
        async move {
            let pod = pods.get(&format!("mysql-orders-{site}-0")).await.unwrap();
            let labels = pod.labels();
            (
                labels
                    .get("shipstream.io/role")
                    .cloned()
                    .unwrap_or_default(),
                labels
                    .get("shipstream.io/healthy")
                    .cloned()
                    .unwrap_or_default(),
            )
        }
    };
    let op = Operator::start(&kubeconfig, &ns, &group, &[]);

    // The group is adopted: finalizer, status with iad active and pdx replicating, served on /active-site.
    wait("iad active in status", Duration::from_secs(60), || async {
        let g = orders.get("orders").await.unwrap();
        g.finalizers()
            .iter()
            .any(|f| f == "shipstream.io/graceful-shutdown")
            && status_field(&g, "/activeSite") == "iad"
            && status_field(&g, "/sites/1/replicating") == true
    })
    .await;
    let g = orders.get("orders").await.unwrap();
    let ready = status_field(&g, "/conditions")
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Ready")
        .cloned()
        .unwrap();
    assert_eq!(ready["status"], "True", "{ready}");
    let (code, body) = op.active_site(&ns).await.unwrap();
    assert_eq!(code, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["activeSite"],
        "iad"
    );
    assert_eq!(op.get(op.health, "/readyz").await, Some((200, "ok".into())));
    // The group's objects are on the server, owned by the group, under the Go operator's names.
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
    for site in ["iad", "pdx"] {
        let d = deployments
            .get(&format!("mysql-orders-{site}"))
            .await
            .unwrap();
        assert_eq!(d.owner_references()[0].name, "orders");
        assert_eq!(
            d.spec.strategy.and_then(|s| s.type_).as_deref(),
            Some("Recreate")
        );
    }
    let services: Api<Service> = Api::namespaced(client.clone(), &ns);
    for service in [
        "mysql-orders-primary",
        "mysql-orders-replicas",
        "mysql-orders-iad",
        "mysql-orders-pdx-internal",
    ] {
        assert!(
            services.get_opt(service).await.unwrap().is_some(),
            "no Service {service}"
        );
    }
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), &ns);
    assert!(
        claims
            .get_opt("mysql-orders-iad-data")
            .await
            .unwrap()
            .is_some()
    );
    // The writer Service selects iad's pod, the reader Service pdx's.
    wait("pods labelled", Duration::from_secs(10), || async {
        role("iad").await == ("primary".into(), "yes".into())
            && role("pdx").await == ("replica".into(), "yes".into())
    })
    .await;
    // spec.dns is set but the DNSEndpoint API is not served: a condition and a Warning event say so, and no DNS
    // flip is counted.
    wait("DNSPublished=False", Duration::from_secs(10), || async {
        dns_condition(&orders.get("orders").await.unwrap())
            == ("False".into(), "DNSEndpointNotServed".into())
    })
    .await;
    wait(
        "DNSEndpointNotServed event",
        Duration::from_secs(10),
        || async {
            events(&client, &ns, "orders")
                .await
                .iter()
                .any(|(reason, kind, note)| {
                    reason == "DNSEndpointNotServed"
                        && kind == "Warning"
                        && note.contains("spec.dns")
                })
        },
    )
    .await;
    let (_, metrics) = op.get(op.metrics, "/metrics").await.unwrap();
    assert!(
        !metrics.contains("bloodraven_dns_flips_total{"),
        "{metrics}"
    );
    // Once external-dns's CRD is installed, the manager notices and the DNSEndpoint points at iad.
    crds.create(&PostParams::default(), &dns_crd).await.unwrap();
    let dns = dns_endpoints(&client, &ns);
    let target = || {
        let dns = dns.clone();
        async move {
            dns.get_opt("bloodraven-orders")
                .await
                .ok()
                .flatten()
                .and_then(|d| d.data.pointer("/spec/endpoints/0/targets/0").cloned())
                .unwrap_or(Value::Null)
        }
    };
    wait("DNSEndpoint -> iad", Duration::from_secs(45), || async {
        target().await == "192.0.2.1"
            && dns_condition(&orders.get("orders").await.unwrap())
                == ("True".into(), "Published".into())
    })
    .await;
    let (_, metrics) = op.get(op.metrics, "/metrics").await.unwrap();
    let writable = format!(
        "bloodraven_site_state{{namespace=\"{ns}\",group=\"orders\",site=\"iad\",role=\"primary-candidate\",state=\"writable\"}} 1"
    );
    assert!(metrics.contains(&writable), "{metrics}");

    // The group without its Secret is refused with the field at fault, and a Warning event says so.
    wait("carts refused", Duration::from_secs(30), || async {
        let g = carts.get("carts").await.unwrap();
        status_field(&g, "/conditions/0/reason") == "SecretNotFound"
    })
    .await;
    let g = carts.get("carts").await.unwrap();
    let message = status_field(&g, "/conditions/0/message");
    assert!(
        message
            .as_str()
            .unwrap()
            .contains("spec.credentials.operatorSecret")
            && message.as_str().unwrap().contains("carts-operator"),
        "{message}"
    );
    assert_eq!(status_field(&g, "/activeSite"), Value::Null);
    wait("SecretNotFound event", Duration::from_secs(10), || async {
        events(&client, &ns, "carts")
            .await
            .iter()
            .any(|(reason, kind, _)| reason == "SecretNotFound" && kind == "Warning")
    })
    .await;

    // SIGKILL the primary: pdx is promoted, in status, on /active-site, in events and in the durable record.
    group.servers[0].kill().unwrap();
    let took = wait(
        "pdx active after the kill",
        Duration::from_secs(60),
        || async {
            let g = orders.get("orders").await.unwrap();
            status_field(&g, "/activeSite") == "pdx"
                && status_field(&g, "/lastFailoverTarget") == "pdx"
        },
    )
    .await;
    eprintln!("e2e: SIGKILL of iad -> status.activeSite pdx in {took:?}");
    let (_, body) = op.active_site(&ns).await.unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["activeSite"],
        "pdx"
    );
    wait("DNSEndpoint -> pdx", Duration::from_secs(10), || async {
        target().await == "192.0.2.2"
    })
    .await;
    // Traffic moved: pdx's pod is the primary, the dead iad's is neither primary nor healthy.
    wait("pods relabelled", Duration::from_secs(10), || async {
        role("pdx").await.0 == "primary" && role("iad").await == ("replica".into(), String::new())
    })
    .await;
    wait(
        "FailoverExecuted event",
        Duration::from_secs(10),
        || async {
            events(&client, &ns, "orders")
                .await
                .iter()
                .any(|(reason, _, note)| reason == "FailoverExecuted" && note.contains("pdx"))
        },
    )
    .await;
    let g = orders.get("orders").await.unwrap();
    assert!(
        g.annotations()
            .contains_key("bloodraven.shipstream.io/last-failover"),
        "{:?}",
        g.annotations()
    );
    let records: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    let record = records.get("mysql-orders-failover-record").await.unwrap();
    let record: Value = serde_json::from_str(&record.data.unwrap()["record.json"]).unwrap();
    assert_eq!(record["history"][0]["target"], "pdx", "{record}");
    assert_eq!(record["epoch"], 1);

    // Deleting the group runs the finalizer; the record ConfigMap goes with its owner.
    orders
        .delete("orders", &DeleteParams::default())
        .await
        .unwrap();
    wait("the group is gone", Duration::from_secs(30), || async {
        orders.get_opt("orders").await.unwrap().is_none()
    })
    .await;
    assert!(
        events(&client, &ns, "orders")
            .await
            .iter()
            .any(|(reason, _, _)| reason == "GracefulShutdown")
    );
    wait(
        "the record and the Deployments are garbage-collected",
        Duration::from_secs(60),
        || async {
            records
                .get_opt("mysql-orders-failover-record")
                .await
                .unwrap()
                .is_none()
                && deployments
                    .get_opt("mysql-orders-iad")
                    .await
                    .unwrap()
                    .is_none()
        },
    )
    .await;
    let (code, _) = op.active_site(&ns).await.unwrap();
    assert_ne!(code, 200, "a deleted group is still served");
    drop(op);
    let _ = Api::<Namespace>::all(client)
        .delete(&ns, &DeleteParams::default())
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_planned_failover_by_annotation_succeeds_with_nothing_lost() {
    let (client, kubeconfig) = cluster().await;
    let ns = namespace(&client, "e2e-planned").await;
    let group = Group::start(2);
    let orders = create_group(&client, &ns, "orders", "orders-operator").await;
    let _op = Operator::start(&kubeconfig, &ns, &group, &[]);
    wait(
        "iad active, pdx replicating",
        Duration::from_secs(60),
        || async {
            let g = orders.get("orders").await.unwrap();
            status_field(&g, "/activeSite") == "iad"
                && status_field(&g, "/sites/1/replicating") == true
        },
    )
    .await;
    group.servers[0]
        .sql("INSERT INTO d.t VALUES (1, 'before'), (2, 'before')")
        .unwrap();
    // A malformed request first: refused with a Warning that names the annotation, removed, nothing moves.
    let malformed: BTreeMap<&str, &str> = [(
        "bloodraven.shipstream.io/planned-failover",
        "pdx:maxLagWait=soon",
    )]
    .into();
    orders
        .patch(
            "orders",
            &PatchParams::default(),
            &Patch::Merge(json!({ "metadata": { "annotations": malformed } })),
        )
        .await
        .unwrap();
    wait(
        "the malformed annotation refused and removed",
        Duration::from_secs(30),
        || async {
            let g = orders.get("orders").await.unwrap();
            let gone = !g
                .annotations()
                .contains_key("bloodraven.shipstream.io/planned-failover");
            let warned = events(&client, &ns, "orders")
                .await
                .iter()
                .any(|(r, t, m)| {
                    r == "PlannedFailoverRejected" && t == "Warning" && m.contains("maxLagWait")
                });
            gone && warned
        },
    )
    .await;
    assert_eq!(
        status_field(&orders.get("orders").await.unwrap(), "/activeSite"),
        "iad",
        "a refused request moves nothing"
    );
    let annotations: BTreeMap<&str, &str> = [(
        "bloodraven.shipstream.io/planned-failover",
        "pdx:maxLagWait=30s",
    )]
    .into();
    orders
        .patch(
            "orders",
            &PatchParams::default(),
            &Patch::Merge(json!({ "metadata": { "annotations": annotations } })),
        )
        .await
        .unwrap();
    let took = wait(
        "the planned failover succeeded",
        Duration::from_secs(60),
        || async {
            let g = orders.get("orders").await.unwrap();
            status_field(&g, "/plannedFailover/phase") == "Succeeded"
                && status_field(&g, "/activeSite") == "pdx"
        },
    )
    .await;
    eprintln!("e2e: planned failover iad -> pdx succeeded {took:?} after the annotation");
    let g = orders.get("orders").await.unwrap();
    assert_eq!(status_field(&g, "/plannedFailover/transactionsLost"), 0);
    assert!(
        !g.annotations()
            .contains_key("bloodraven.shipstream.io/planned-failover"),
        "the consumed annotation stays: {:?}",
        g.annotations()
    );
    assert_eq!(group.ids(1), vec![1, 2], "pdx has every acknowledged write");
    let _ = Api::<Namespace>::all(client)
        .delete(&ns, &DeleteParams::default())
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_leader_election_one_manager_acts_and_the_other_takes_over() {
    let (client, kubeconfig) = cluster().await;
    let ns = namespace(&client, "e2e-leader").await;
    let group = Group::start(2);
    let orders = create_group(&client, &ns, "orders", "orders-operator").await;
    let elect = [
        "--leader-elect",
        "--leader-election-namespace",
        ns.as_str(),
        "--leader-election-lease-seconds",
        "6",
    ];
    let mut managers = [
        Operator::start(&kubeconfig, &ns, &group, &elect),
        Operator::start(&kubeconfig, &ns, &group, &elect),
    ];
    wait("iad active", Duration::from_secs(60), || async {
        status_field(&orders.get("orders").await.unwrap(), "/activeSite") == "iad"
    })
    .await;
    // Exactly one runs the group (the standby has no topology manager: 503), and both are ready.
    let codes = |a: Option<(u16, String)>, b: Option<(u16, String)>| {
        (a.map(|r| r.0).unwrap_or(0), b.map(|r| r.0).unwrap_or(0))
    };
    wait("one leader", Duration::from_secs(30), || async {
        let c = codes(
            managers[0].active_site(&ns).await,
            managers[1].active_site(&ns).await,
        );
        c == (200, 503) || c == (503, 200)
    })
    .await;
    for op in &managers {
        assert_eq!(op.get(op.health, "/readyz").await, Some((200, "ok".into())));
    }
    let leading = usize::from(managers[0].active_site(&ns).await.unwrap().0 != 200);
    let [a, b] = &mut managers;
    let (leader, standby) = if leading == 0 { (a, &*b) } else { (b, &*a) };
    let lease: Api<k8s_openapi::api::coordination::v1::Lease> =
        Api::namespaced(client.clone(), &ns);
    assert!(lease.get("bloodraven.shipstream.io").await.is_ok());
    leader.kill();
    // While the new leader warms up, the status keeps naming iad: no poll without a verdict blanks it.
    let blanked = std::sync::atomic::AtomicBool::new(false);
    let took = wait(
        "the standby takes over",
        Duration::from_secs(40),
        || async {
            if status_field(&orders.get("orders").await.unwrap(), "/activeSite") != "iad" {
                blanked.store(true, std::sync::atomic::Ordering::Relaxed);
            }
            standby.active_site(&ns).await.is_some_and(|(code, body)| {
                code == 200 && serde_json::from_str::<Value>(&body).unwrap()["activeSite"] == "iad"
            })
        },
    )
    .await;
    assert!(
        !blanked.load(std::sync::atomic::Ordering::Relaxed),
        "status.activeSite changed during the takeover"
    );
    eprintln!("e2e: leader SIGKILLed -> standby confirms iad active after {took:?}");
    // The new leader keeps the topology: no failover happened on the way.
    let g = orders.get("orders").await.unwrap();
    assert_eq!(status_field(&g, "/activeSite"), "iad");
    assert_eq!(status_field(&g, "/lastFailoverTarget"), Value::Null);
    let _ = Api::<Namespace>::all(client)
        .delete(&ns, &DeleteParams::default())
        .await;
}

/// A CA and a server certificate for `names` signed by it (openssl), in `dir`: `ca.crt`, `tls.crt`, `tls.key`.
fn certificates(dir: &std::path::Path, names: &[String]) {
    let openssl = |args: &str| {
        let out = Command::new("openssl")
            .args(args.split(' '))
            .current_dir(dir)
            .output()
            .expect("run openssl");
        assert!(
            out.status.success(),
            "openssl {args}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    openssl(
        "req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj /CN=test-ca",
    );
    openssl("req -newkey rsa:2048 -nodes -keyout tls.key -out tls.csr -subj /CN=mysql-orders");
    // A v3 certificate with the names (rustls refuses v1 certificates).
    let names: Vec<String> = names.iter().map(|n| format!("DNS:{n}")).collect();
    std::fs::write(
        dir.join("ext.cnf"),
        format!(
            "subjectAltName = {}\nextendedKeyUsage = serverAuth\n",
            names.join(",")
        ),
    )
    .unwrap();
    openssl(
        "x509 -req -in tls.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out tls.crt -days 2 -extfile ext.cnf",
    );
}

/// Whether `user`'s password on server `i` is `password` (MariaDB keeps `mysql_native_password` hashes).
fn password_is(group: &Group, i: usize, user: &str, password: &str) -> bool {
    group.servers[i]
        .sql(&format!(
            "SELECT COUNT(*) FROM mysql.user WHERE User = '{user}' AND authentication_string = PASSWORD('{password}')"
        ))
        .unwrap()
        .trim()
        == "1"
}

/// TLS to MySQL and credential rotation: the operator account may only log in over TLS, so the group runs only
/// when the operator checks the servers' certificate against the Secret's CA; a missing TLS Secret is refused
/// with the field at fault. Changing the operator's and the application's passwords in their Secrets sets them in
/// MySQL (on the primary, replicated), the operator goes on with the new password, and the pods are restarted
/// onto it through the credentials version on their template.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_to_mysql_and_rotated_credentials() {
    let (client, kubeconfig) = cluster().await;
    let ns = namespace(&client, "e2e-rotate").await;
    let certs = tempfile::tempdir().unwrap();
    // The names a cert-manager Certificate for the group lists: each site's internal Service.
    certificates(
        certs.path(),
        &["iad", "pdx"].map(|site| format!("mysql-orders-{site}-internal.{ns}.svc")),
    );
    let file = |name: &str| certs.path().join(name).display().to_string();
    let group = Group::start_with(
        2,
        &[
            format!("--ssl-ca={}", file("ca.crt")),
            format!("--ssl-cert={}", file("tls.crt")),
            format!("--ssl-key={}", file("tls.key")),
        ],
    );
    group.servers[0]
        .sql(
            "CREATE USER 'bloodraven'@'%' IDENTIFIED BY 'one' REQUIRE SSL; \
             GRANT ALL ON *.* TO 'bloodraven'@'%' WITH GRANT OPTION",
        )
        .unwrap();
    group.wait_caught_up(1, 0, Duration::from_secs(20));
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    for (name, user, password) in [
        ("orders-op", "bloodraven", "one"),
        (
            "orders-app",
            live_support::APP_USER,
            live_support::APP_PASSWORD,
        ),
    ] {
        secrets
            .create(
                &PostParams::default(),
                &serde_json::from_value(json!({
                    "metadata": { "name": name },
                    "stringData": { "username": user, "password": password },
                }))
                .unwrap(),
            )
            .await
            .unwrap();
    }
    let orders = create_group_with(
        &client,
        &ns,
        "orders",
        "orders-op",
        json!({
            "credentials": { "operatorSecret": "orders-op", "appSecret": "orders-app" },
            "tls": { "issuerRef": { "name": "ca", "kind": "ClusterIssuer" }, "secretName": "orders-tls" },
        }),
    )
    .await;
    let _op = Operator::start(&kubeconfig, &ns, &group, &[]);

    // No TLS Secret yet: refused, naming the field.
    wait(
        "refused without the TLS Secret",
        Duration::from_secs(30),
        || async {
            let g = orders.get("orders").await.unwrap();
            status_field(&g, "/conditions/0/reason") == "SecretNotFound"
                && status_field(&g, "/conditions/0/message")
                    .as_str()
                    .is_some_and(|m| m.contains("spec.tls.secretName"))
        },
    )
    .await;
    let pem = |name: &str| k8s_openapi::ByteString(std::fs::read(certs.path().join(name)).unwrap());
    secrets
        .create(
            &PostParams::default(),
            &Secret {
                metadata: kube::api::ObjectMeta {
                    name: Some("orders-tls".into()),
                    ..Default::default()
                },
                data: Some(BTreeMap::from([
                    ("ca.crt".to_owned(), pem("ca.crt")),
                    ("tls.crt".to_owned(), pem("tls.crt")),
                    ("tls.key".to_owned(), pem("tls.key")),
                ])),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    // The next reconcile (the 30 s resync at the latest) runs the group over TLS.
    wait("iad active over TLS", Duration::from_secs(60), || async {
        let g = orders.get("orders").await.unwrap();
        status_field(&g, "/activeSite") == "iad" && status_field(&g, "/sites/1/replicating") == true
    })
    .await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
    let version = || {
        let deployments = deployments.clone();
        async move {
            deployments
                .get("mysql-orders-iad")
                .await
                .unwrap()
                .spec
                .template
                .metadata
                .and_then(|m| m.annotations)
                .and_then(|a| a.get("shipstream.io/credentials-version").cloned())
                .unwrap_or_default()
        }
    };
    // Starting the group restarts nothing.
    assert_eq!(version().await, "");

    // Rotate both passwords through their Secrets.
    for (name, password) in [("orders-op", "two"), ("orders-app", "app-two")] {
        secrets
            .patch(
                name,
                &PatchParams::default(),
                &Patch::Merge(json!({ "stringData": { "password": password } })),
            )
            .await
            .unwrap();
    }
    // Nudge a reconcile instead of waiting for the 30 s resync.
    orders
        .patch(
            "orders",
            &PatchParams::default(),
            &Patch::Merge(json!({ "metadata": { "labels": { "rotated": "yes" } } })),
        )
        .await
        .unwrap();
    wait(
        "both passwords set in MySQL, on both servers",
        Duration::from_secs(60),
        || async {
            (0..2).all(|i| {
                password_is(&group, i, "bloodraven", "two")
                    && password_is(&group, i, live_support::APP_USER, "app-two")
            })
        },
    )
    .await;
    wait(
        "CredentialsRotated events",
        Duration::from_secs(10),
        || async {
            let events = events(&client, &ns, "orders").await;
            [
                "spec.credentials.operatorSecret",
                "spec.credentials.appSecret",
            ]
            .iter()
            .all(|field| {
                events
                    .iter()
                    .any(|(reason, _, note)| reason == "CredentialsRotated" && note.contains(field))
            })
        },
    )
    .await;
    // The pods are restarted onto the new Secrets, and the operator goes on polling with the new password.
    wait(
        "the pods restarted onto the new Secrets",
        Duration::from_secs(30),
        || async {
            let version = version().await;
            version.contains("orders-op@") && version.contains("orders-app@")
        },
    )
    .await;
    // Every poll is a new TLS session with the new password: TLS handshakes go on, and none is refused.
    let counter = |name: &str| -> u64 {
        group.servers[0]
            .sql(&format!(
                "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = '{name}'"
            ))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    let (accepts, denied) = (counter("SSL_ACCEPTS"), counter("ACCESS_DENIED_ERRORS"));
    wait(
        "polls go on over TLS with the new password",
        Duration::from_secs(30),
        || async { counter("SSL_ACCEPTS") >= accepts + 5 },
    )
    .await;
    assert_eq!(
        counter("ACCESS_DENIED_ERRORS"),
        denied,
        "a poll used a refused password"
    );
    assert!(
        !events(&client, &ns, "orders")
            .await
            .iter()
            .any(|(reason, _, _)| reason == "CredentialRotationFailed")
    );
    let _ = Api::<Namespace>::all(client)
        .delete(&ns, &DeleteParams::default())
        .await;
}
