//! Snapshots and decisions of the MysqlBackupVerification controller's pure half.

use bloodraven_api::backup::MysqlBackup;
use bloodraven_api::failovergroup::MysqlFailoverGroup;
use bloodraven_api::verification::MysqlBackupVerification;
use serde_json::json;

use super::*;

fn group() -> MysqlFailoverGroup {
    let storage = json!({ "storageClassName": "local", "size": "1Gi" });
    serde_json::from_value(json!({
        "apiVersion": "shipstream.io/v1alpha1",
        "kind": "MysqlFailoverGroup",
        "metadata": { "name": "orders", "namespace": "shop" },
        "spec": {
            "credentials": { "operatorSecret": "orders-operator" },
            "dns": { "hostname": "orders.example.test" },
            "sites": [{ "name": "iad", "zone": "a", "lbIP": "192.0.2.1", "storage": storage }],
            "backup": { "profiles": [{
                "name": "nightly",
                "storage": { "type": "S3", "s3": { "bucket": "b", "prefix": "orders", "credentialsSecret": "s3-creds" } },
                "encryption": { "passphraseSecret": { "name": "backup-pass" } },
                "verification": { "enabled": true, "storage": { "storageClassName": "fast" } },
            }]},
        },
    }))
    .unwrap()
}

fn backup(name: &str, phase: &str, done: &str, size: i64) -> MysqlBackup {
    serde_json::from_value(json!({
        "apiVersion": "shipstream.io/v1alpha1",
        "kind": "MysqlBackup",
        "metadata": { "name": name, "namespace": "shop", "uid": format!("{name}-uid") },
        "spec": { "failoverGroupRef": { "name": "orders" }, "profileName": "nightly" },
        "status": { "phase": phase, "completionTime": done, "location": format!("s3://b/orders/{name}/"), "sizeBytes": size, "storageType": "S3" },
    }))
    .unwrap()
}

fn run(name: &str, spec: serde_json::Value, phase: Option<&str>) -> MysqlBackupVerification {
    let mut s = json!({ "failoverGroupRef": { "name": "orders" }, "profileName": "nightly" });
    s.as_object_mut()
        .unwrap()
        .extend(spec.as_object().unwrap().clone());
    serde_json::from_value(json!({
        "apiVersion": "shipstream.io/v1alpha1",
        "kind": "MysqlBackupVerification",
        "metadata": { "name": name, "namespace": "shop", "uid": format!("{name}-uid") },
        "spec": s,
        "status": phase.map(|p| json!({ "phase": p })),
    }))
    .unwrap()
}

#[test]
fn the_newest_succeeded_backup_or_the_named_one() {
    let backups = vec![
        backup("old", "Succeeded", "2026-01-01T00:00:00Z", 1),
        backup("new", "Succeeded", "2026-01-02T00:00:00Z", 1),
        backup("broken", "Failed", "2026-01-03T00:00:00Z", 1),
    ];
    assert_eq!(
        choose_backup(&run("v", json!({}), None), &backups)
            .unwrap()
            .metadata
            .name
            .as_deref(),
        Some("new")
    );
    let named = run("v", json!({ "backupRef": { "name": "old" } }), None);
    assert_eq!(
        choose_backup(&named, &backups)
            .unwrap()
            .metadata
            .name
            .as_deref(),
        Some("old")
    );
    let bad = run("v", json!({ "backupRef": { "name": "broken" } }), None);
    let e = choose_backup(&bad, &backups).unwrap_err();
    assert_eq!(e.reason, "BackupNotFound");
    assert!(
        e.message.starts_with("spec.backupRef.name"),
        "{}",
        e.message
    );
}

#[test]
fn a_running_verification_of_the_profile_blocks_another() {
    let all = vec![
        run("a", json!({}), Some("Restoring")),
        run("b", json!({}), None),
    ];
    assert_eq!(blocked_by(&all[1], &all), Some("a"));
    let done = vec![
        run("a", json!({}), Some("Failed")),
        run("b", json!({}), None),
    ];
    assert_eq!(blocked_by(&done[1], &done), None);
}

#[test]
fn pvc_sizes_follow_the_documented_formula() {
    let gib = 1024 * 1024 * 1024;
    assert_eq!(pvc_size(None, 0), "10Gi");
    assert_eq!(pvc_size(None, 6 * gib), "10Gi");
    assert_eq!(pvc_size(None, 7 * gib), "20Gi");
    assert_eq!(pvc_size(None, 20 * gib), "30Gi");
    assert_eq!(pvc_size(Some("5Gi"), 100 * gib), "5Gi");
}

#[test]
fn retention_keeps_the_newest_of_each_outcome() {
    let f = |n: &str, ok: bool, t: i64| Finished {
        name: n.into(),
        succeeded: ok,
        time: t,
    };
    let runs = vec![
        f("s1", true, 1),
        f("s2", true, 2),
        f("f1", false, 1),
        f("f2", false, 2),
        f("f3", false, 3),
    ];
    assert_eq!(retention(1, 2, &runs), vec!["s1", "f1"]);
}

#[test]
fn the_scratch_pvc_and_the_verification_job() {
    let g = group();
    let p = crate::controller::backup::build::profile("nightly", &g).unwrap();
    let b = backup(
        "orders-1",
        "Succeeded",
        "2026-01-02T00:00:00Z",
        8 * 1024 * 1024 * 1024,
    );
    let v = run(
        "orders-nightly-drill",
        json!({
            "pointInTime": { "mode": "latest" },
            "sanityCheck": { "query": "SELECT COUNT(*) FROM d.t", "expect": { "minRows": 3 } },
        }),
        None,
    );
    insta::assert_json_snapshot!("pvc", pvc(&v, p, &b));
    insta::assert_json_snapshot!(
        "job",
        job(
            &v,
            g.spec.backup.as_ref(),
            p,
            &b,
            "ghcr.io/shipstream/bloodraven:test"
        )
        .unwrap()
    );
}
