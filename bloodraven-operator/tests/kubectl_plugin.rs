//! The `kubectl-bloodraven` binary against a real Kubernetes API server (v1.20 from
//! `../shared/tools/k8s-from-debian.sh`): what `status` prints from a group's status and durable record, the
//! annotations `reclone` writes and the objects `backup` and `verify-backup` create (checked on the server), the
//! refusals that leave the cluster untouched, `version` and `dr-status`; and `promote --wait` following a real
//! planned failover run by the `bloodraven` operator over real MariaDB servers, phase by phase, to success and to a
//! refused attempt that exits non-zero with the reason.

mod kube_support;
mod live_support;

use std::path::PathBuf;
use std::time::Duration;

use bloodraven_api::backup::MysqlBackup;
use bloodraven_api::failovergroup::MysqlFailoverGroup;
use bloodraven_api::standby::MysqlStandbyCluster;
use bloodraven_api::verification::MysqlBackupVerification;
use bloodraven_operator::record::{FailoverRecord, Record, Trigger};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use kube_support::{Operator, Run, cluster, delete_namespace, namespace, plugin, wait};
use live_support::{Group, host};
use serde_json::{Value, json};

/// Asserts a refusal: exit 2 and the three parts of the explanation.
fn assert_refused(run: &Run, what: &str) {
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("refused: ")
            && run.stderr.contains("  at:  ")
            && run.stderr.contains("  fix: "),
        "{run:?}"
    );
    assert!(run.stderr.contains(what), "expected {what:?} in {run:?}");
}

fn group_json(name: &str, secret: &str) -> Value {
    let storage = json!({ "storageClassName": "local", "size": "1Gi" });
    json!({
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
            "backup": { "profiles": [{
                "name": "nightly",
                "storage": { "type": "S3", "s3": { "bucket": "orders-backups", "credentialsSecret": "s3-creds" } },
            }] },
        },
    })
}

async fn create_group(client: &Client, ns: &str) -> Api<MysqlFailoverGroup> {
    let api: Api<MysqlFailoverGroup> = Api::namespaced(client.clone(), ns);
    let group: MysqlFailoverGroup =
        serde_json::from_value(group_json("orders", "orders-operator")).unwrap();
    api.create(&PostParams::default(), &group).await.unwrap();
    api
}

fn annotation(group: &MysqlFailoverGroup, key: &str) -> Option<String> {
    group.annotations().get(key).cloned()
}

#[tokio::test]
async fn arguments_are_refused_before_any_connection() {
    // No API server behind this kubeconfig: a refusal must come from the argument checks alone.
    let nowhere = PathBuf::from("/nonexistent/kubeconfig");
    let run = plugin(&nowhere, "default", &["promote", "Orders", "pdx"]).await;
    assert_refused(&run, "\"Orders\" is not a valid group name");
    let run = plugin(
        &nowhere,
        "default",
        &["promote", "orders", "pdx", "--max-lag-wait", "soon"],
    )
    .await;
    assert_refused(&run, "invalid duration \"soon\"");
    let run = plugin(
        &nowhere,
        "default",
        &["promote", "orders", "pdx", "--max-lag-wait", "0s"],
    )
    .await;
    assert_refused(&run, "must be greater than zero");
    let run = plugin(
        &nowhere,
        "default",
        &["verify-backup", "orders", "nightly", "--pitr", "yesterday"],
    )
    .await;
    assert_refused(&run, "spec.pointInTime.timestamp");
    let run = plugin(
        &nowhere,
        "default",
        &["reclone", "orders", "pdx_1", "--yes"],
    )
    .await;
    assert_refused(&run, "\"pdx_1\" is not a valid site name");
    // Valid arguments then fail on the missing kubeconfig, with exit 1 and the path named.
    let run = plugin(&nowhere, "default", &["status", "orders"]).await;
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("/nonexistent/kubeconfig"), "{run:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_reclone_backup_verify_and_version_against_the_api_server() {
    let (client, kubeconfig) = cluster().await;
    let ns = namespace(&client, "plugin-day2").await;
    let groups = create_group(&client, &ns).await;
    // The status an operator would have written: iad active, pdx blocked with divergent transactions.
    groups
        .patch_status(
            "orders",
            &PatchParams::default(),
            &Patch::Merge(json!({ "status": {
                "activeSite": "iad",
                "sites": [
                    { "name": "iad", "state": "writable", "replicating": false },
                    { "name": "pdx", "state": "read-only", "replicating": false, "recoveryState": "RecoveryBlocked",
                      "divergentGtid": "a1b2c3d4-0000-0000-0000-000000000000:11-15", "divergentTransactionCount": 5 },
                ],
            } })),
        )
        .await
        .unwrap();
    // And its durable record: one emergency failover to iad.
    let mut record = Record::default();
    record.record_failover(FailoverRecord {
        at: Duration::from_secs(1_796_630_400),
        trigger: Trigger::Emergency,
        target: "iad".into(),
        old_primary: Some("pdx".into()),
        candidates: vec![],
        rule: "most-advanced".into(),
        promotion_gtid: "0-1-10".into(),
        write_unavailability: None,
        divergent_gtid: None,
        divergent_count: 0,
    });
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    maps.create(
        &PostParams::default(),
        &serde_json::from_value(json!({
            "metadata": { "name": "mysql-orders-failover-record" },
            "data": { "record.json": serde_json::to_string(&record).unwrap() },
        }))
        .unwrap(),
    )
    .await
    .unwrap();

    // status: the sites, the active site, the divergent set and the recorded failover.
    let run = plugin(&kubeconfig, &ns, &["status", "orders"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    for expected in [
        &format!("Group:          {ns}/orders"),
        "Active site:    iad",
        "Last failover:  2026-12-07T08:00:00Z to iad (emergency from pdx) [record]",
        "a1b2c3d4-0000-0000-0000-000000000000:11-15 (5)",
    ] {
        assert!(
            run.stdout.contains(expected),
            "{expected:?} missing from\n{}",
            run.stdout
        );
    }
    let line = run.stdout.lines().find(|l| l.starts_with("pdx ")).unwrap();
    assert!(
        line.contains("read-only") && line.contains("RecoveryBlocked"),
        "{line}"
    );
    let json: Value = serde_json::from_str(
        &plugin(&kubeconfig, &ns, &["status", "orders", "-o", "json"])
            .await
            .stdout,
    )
    .unwrap();
    assert_eq!(json["activeSite"], "iad");
    assert_eq!(json["lastFailover"]["epoch"], 1);
    assert_eq!(json["sites"][0]["active"], true);
    let yaml = plugin(&kubeconfig, &ns, &["status", "-o", "yaml"]).await;
    assert!(yaml.stdout.contains("activeSite: iad"), "{yaml:?}");
    let list = plugin(&kubeconfig, &ns, &["status"]).await;
    assert!(
        list.stdout
            .lines()
            .nth(1)
            .unwrap()
            .starts_with("orders   iad"),
        "{list:?}"
    );
    let missing = plugin(&kubeconfig, &ns, &["status", "carts"]).await;
    assert_refused(
        &missing,
        &format!("there is no MysqlFailoverGroup \"carts\" in namespace {ns}"),
    );

    // reclone: refused without a terminal or --yes, and for the active site; with --yes the interlock is filled.
    let run = plugin(&kubeconfig, &ns, &["reclone", "orders", "pdx"]).await;
    assert_refused(&run, "needs confirmation");
    let run = plugin(&kubeconfig, &ns, &["reclone", "orders", "iad", "--yes"]).await;
    assert_refused(&run, "never reclones the primary");
    let run = plugin(
        &kubeconfig,
        &ns,
        &["reclone", "orders", "pdx", "--yes", "--cold"],
    )
    .await;
    assert_refused(&run, "would discard them unseen");
    let g = groups.get("orders").await.unwrap();
    assert_eq!(
        annotation(&g, "bloodraven.shipstream.io/reclone-site"),
        None,
        "a refusal wrote"
    );
    let run = plugin(&kubeconfig, &ns, &["reclone", "orders", "pdx", "--yes"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    let g = groups.get("orders").await.unwrap();
    assert_eq!(
        annotation(&g, "bloodraven.shipstream.io/reclone-site").as_deref(),
        Some("pdx:a1b2c3d4")
    );
    // The value is one the operator's own grammar authorizes.
    bloodraven_api::annotations::RecloneRequest::parse("pdx:a1b2c3d4")
        .unwrap()
        .authorize(
            ["iad", "pdx"],
            "orders",
            Some("a1b2c3d4-0000-0000-0000-000000000000:11-15"),
        )
        .unwrap();

    // backup: a MysqlBackup for the profile, as the Go operator's objects look; an unknown profile is refused.
    let run = plugin(&kubeconfig, &ns, &["backup", "orders", "weekly"]).await;
    assert_refused(&run, "orders has no backup profile \"weekly\"");
    let run = plugin(&kubeconfig, &ns, &["backup", "orders", "nightly"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    let backups: Api<MysqlBackup> = Api::namespaced(client.clone(), &ns);
    let all = backups.list(&ListParams::default()).await.unwrap().items;
    assert_eq!(all.len(), 1, "{all:?}");
    let backup = &all[0];
    let backup_name = backup.name_any();
    assert!(backup_name.starts_with("orders-nightly-"), "{backup_name}");
    assert!(
        run.stdout
            .contains(&format!("mysqlbackup.shipstream.io/{backup_name} created")),
        "{run:?}"
    );
    assert_eq!(backup.spec.failover_group_ref.name, "orders");
    assert_eq!(backup.spec.profile_name, "nightly");
    assert_eq!(
        backup.spec.triggered_by.as_deref(),
        Some("kubectl-bloodraven")
    );
    assert_eq!(
        backup
            .labels()
            .get("shipstream.io/failover-group")
            .map(String::as_str),
        Some("orders")
    );

    // verify-backup: of that backup with PITR to the latest event; a backup that does not exist is refused.
    let run = plugin(
        &kubeconfig,
        &ns,
        &[
            "verify-backup",
            "orders",
            "nightly",
            "--backup",
            "orders-nightly-x",
        ],
    )
    .await;
    assert_refused(&run, "there is no MysqlBackup \"orders-nightly-x\"");
    let run = plugin(
        &kubeconfig,
        &ns,
        &[
            "verify-backup",
            "orders",
            "nightly",
            "--backup",
            &backup_name,
            "--pitr",
            "latest",
            "-o",
            "json",
        ],
    )
    .await;
    assert_eq!(run.code, 0, "{run:?}");
    let printed: Value = serde_json::from_str(&run.stdout).unwrap();
    let verifications: Api<MysqlBackupVerification> = Api::namespaced(client.clone(), &ns);
    let v = verifications
        .get(printed["metadata"]["name"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(
        v.spec.backup_ref.as_ref().map(|b| b.name.as_str()),
        Some(backup_name.as_str())
    );
    assert_eq!(
        serde_json::to_value(&v.spec.point_in_time).unwrap(),
        json!({ "mode": "latest" })
    );
    let run = plugin(
        &kubeconfig,
        &ns,
        &[
            "verify-backup",
            "orders",
            "nightly",
            "--pitr",
            "2026-05-20T14:32:00Z",
        ],
    )
    .await;
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        verifications
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .len(),
        2
    );
    // status shows the newest backup and verification.
    let run = plugin(&kubeconfig, &ns, &["status", "orders"]).await;
    assert!(
        run.stdout
            .contains(&format!("Last backup:    {backup_name} (nightly)")),
        "{run:?}"
    );

    // version: the server, and every CRD present.
    let run = plugin(&kubeconfig, &ns, &["version", "-o", "json"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    let v: Value = serde_json::from_str(&run.stdout).unwrap();
    assert!(v["server"].as_str().unwrap().starts_with("v1.20"), "{v}");
    assert_eq!(v["plugin"], env!("CARGO_PKG_VERSION"));
    let crds = v["crds"].as_array().unwrap();
    assert_eq!(crds.len(), 5, "{v}");
    assert!(crds.iter().all(|c| c[1] == true), "{v}");

    // dr-status: a standby cluster's scan and Restorable condition.
    let standbys: Api<MysqlStandbyCluster> = Api::namespaced(client.clone(), &ns);
    let template = group_json("orders", "orders-operator");
    standbys
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "apiVersion": "shipstream.io/v1alpha1",
                "kind": "MysqlStandbyCluster",
                "metadata": { "name": "orders-dr" },
                "spec": {
                    "source": { "failoverGroupName": "orders", "profileName": "nightly",
                                "storage": template["spec"]["backup"]["profiles"][0]["storage"] },
                    "template": { "name": "orders", "spec": template["spec"] },
                },
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    standbys
        .patch_status(
            "orders-dr",
            &PatchParams::default(),
            &Patch::Merge(json!({ "status": {
                "discovered": { "dumpName": backup_name, "dumpCompletionTime": "2026-12-07T02:14:00Z" },
                "conditions": [{ "type": "Restorable", "status": "True", "reason": "DumpFound", "message": "ok",
                                 "lastTransitionTime": "2026-12-07T02:15:00Z" }],
            } })),
        )
        .await
        .unwrap();
    let run = plugin(&kubeconfig, &ns, &["dr-status"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    let row = run.stdout.lines().nth(1).unwrap();
    assert!(
        row.starts_with("orders-dr")
            && row.contains(&backup_name)
            && row.contains("True (DumpFound)"),
        "{run:?}"
    );
    assert_refused(
        &plugin(&kubeconfig, &ns, &["dr-status", "nope"]).await,
        "no MysqlStandbyCluster",
    );
    delete_namespace(&client, &ns).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promote_wait_follows_a_planned_failover_and_fails_with_the_reason() {
    let (client, kubeconfig) = cluster().await;
    let ns = namespace(&client, "plugin-promote").await;
    let group = Group::start(2);
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    secrets
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "metadata": { "name": "orders-operator" },
                "stringData": { "username": "root", "password": "" },
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    let groups = create_group(&client, &ns).await;
    let endpoints: Vec<(&str, &str, String, u16)> = ["iad", "pdx"]
        .iter()
        .enumerate()
        .map(|(i, site)| ("orders", *site, host(i), group.servers[i].port()))
        .collect();
    let _op = Operator::start(&kubeconfig, &ns, &endpoints);
    wait(
        "iad active, pdx replicating",
        Duration::from_secs(60),
        || async {
            let g = groups.get("orders").await.unwrap();
            let s = serde_json::to_value(&g.status).unwrap();
            s["activeSite"] == "iad" && s["sites"][1]["replicating"] == true
        },
    )
    .await;
    group.servers[0]
        .sql("INSERT INTO d.t VALUES (1, 'before'), (2, 'before')")
        .unwrap();

    // Promote pdx and follow it to the end.
    let run = plugin(
        &kubeconfig,
        &ns,
        &[
            "promote",
            "orders",
            "pdx",
            "--max-lag-wait",
            "30s",
            "--wait",
            "--timeout",
            "90s",
        ],
    )
    .await;
    assert_eq!(run.code, 0, "{run:?}");
    let phases: Vec<&str> = run
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("orders: plannedFailover "))
        .collect();
    assert_eq!(phases.last(), Some(&"Succeeded"), "{run:?}");
    assert!(
        run.stdout
            .contains("bloodraven.shipstream.io/planned-failover=pdx:maxLagWait=30s"),
        "{run:?}"
    );
    assert!(
        run.stdout
            .contains("orders: pdx is the active site (0 transactions lost)"),
        "{run:?}"
    );
    let g = groups.get("orders").await.unwrap();
    let s = serde_json::to_value(&g.status).unwrap();
    assert_eq!(s["activeSite"], "pdx");
    assert_eq!(s["plannedFailover"]["phase"], "Succeeded");
    assert_eq!(group.ids(1), vec![1, 2], "pdx has every acknowledged write");

    // status now shows the planned failover and the failover the operator recorded.
    let run = plugin(&kubeconfig, &ns, &["status", "orders"]).await;
    assert!(run.stdout.contains("Active site:    pdx"), "{run:?}");
    assert!(
        run.stdout.contains("Planned:        Succeeded iad -> pdx"),
        "{run:?}"
    );
    assert!(
        run.stdout.contains("to pdx (planned from iad) [record]"),
        "{run:?}"
    );

    // Promoting the active site is refused by the plugin itself; promoting iad back within the failover cooldown
    // is accepted by the plugin but refused by the operator, and --wait reports that with its reason.
    assert_refused(
        &plugin(&kubeconfig, &ns, &["promote", "orders", "pdx"]).await,
        "already the active site",
    );
    wait(
        "iad rejoined as a replica",
        Duration::from_secs(60),
        || async {
            let g = groups.get("orders").await.unwrap();
            serde_json::to_value(&g.status).unwrap()["sites"][0]["replicating"] == true
        },
    )
    .await;
    let run = plugin(
        &kubeconfig,
        &ns,
        &["promote", "orders", "iad", "--wait", "--timeout", "60s"],
    )
    .await;
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stdout.contains("orders: plannedFailover Failed"),
        "{run:?}"
    );
    assert!(
        run.stderr
            .contains("the planned failover of orders to iad failed: CooldownActive"),
        "{run:?}"
    );
    assert_eq!(
        serde_json::to_value(&groups.get("orders").await.unwrap().status).unwrap()["activeSite"],
        "pdx"
    );
    delete_namespace(&client, &ns).await;
}
