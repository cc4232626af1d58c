//! Snapshots and decisions of the MysqlBackup controller's pure half.

use bloodraven_api::backup::MysqlBackup;
use bloodraven_api::failovergroup::MysqlFailoverGroup;
use serde_json::json;

use super::*;

fn group(status: serde_json::Value) -> MysqlFailoverGroup {
    let storage = json!({ "storageClassName": "local", "size": "1Gi" });
    serde_json::from_value(json!({
        "apiVersion": "shipstream.io/v1alpha1",
        "kind": "MysqlFailoverGroup",
        "metadata": { "name": "orders", "namespace": "shop", "uid": "g-uid" },
        "spec": {
            "image": "mariadb:11.4",
            "credentials": { "operatorSecret": "orders-operator" },
            "dns": { "hostname": "orders.example.test" },
            "sites": [
                { "name": "iad", "zone": "a", "lbIP": "192.0.2.1", "storage": storage },
                { "name": "pdx", "zone": "b", "lbIP": "192.0.2.2", "storage": storage },
            ],
            "backup": {
                "maxLagSecondsForSource": 60,
                "profiles": [{
                    "name": "nightly",
                    "storage": { "type": "S3", "s3": {
                        "bucket": "backups", "prefix": "/orders/", "region": "eu-west-1",
                        "endpointURL": "http://minio:9000", "credentialsSecret": "s3-creds",
                    }},
                    "dump": { "threads": 2, "compression": "zstd" },
                    "retentionPolicy": { "count": 2 },
                    "encryption": { "passphraseSecret": { "name": "backup-pass" } },
                    "verification": { "enabled": true, "schedule": "0 5 * * *", "concurrencyPolicy": "Replace" },
                }],
                "schedules": [{ "name": "hourly", "profileName": "nightly", "schedule": "0 * * * *" }],
            },
        },
        "status": status,
    }))
    .unwrap()
}

fn backup() -> MysqlBackup {
    serde_json::from_value(json!({
        "apiVersion": "shipstream.io/v1alpha1",
        "kind": "MysqlBackup",
        "metadata": { "name": "orders-nightly-x7k2p", "namespace": "shop", "uid": "b-uid" },
        "spec": { "failoverGroupRef": { "name": "orders" }, "profileName": "nightly" },
    }))
    .unwrap()
}

fn sites(pdx_lag: Option<i64>, pdx_state: &str) -> serde_json::Value {
    json!({
        "activeSite": "iad",
        "sites": [
            { "name": "iad", "state": "writable" },
            { "name": "pdx", "state": pdx_state, "replicating": true, "secondsBehindSource": pdx_lag },
        ],
    })
}

#[test]
fn a_replica_within_the_lag_is_chosen_else_the_primary_else_nothing() {
    assert_eq!(
        choose_source(&group(sites(Some(5), "read-only")), None).unwrap(),
        "pdx"
    );
    assert_eq!(
        choose_source(&group(sites(Some(61), "read-only")), None).unwrap(),
        "iad"
    );
    assert_eq!(
        choose_source(&group(sites(None, "read-only")), None).unwrap(),
        "iad"
    );
    assert_eq!(
        choose_source(&group(sites(Some(5), "unreachable")), None).unwrap(),
        "iad"
    );
    assert_eq!(
        choose_source(&group(sites(Some(5), "read-only")), Some("iad")).unwrap(),
        "iad"
    );
    let e = choose_source(&group(sites(Some(5), "read-only")), Some("sfo")).unwrap_err();
    assert_eq!(e.reason, "NoHealthySource");
    assert!(
        e.message.contains("spec.sourceSiteOverride"),
        "{}",
        e.message
    );
    let e = choose_source(&group(json!({})), None).unwrap_err();
    assert_eq!(e.reason, "NoHealthySource");
}

#[test]
fn a_missing_profile_names_the_field_and_the_known_profiles() {
    let e = profile("weekly", &group(json!({}))).unwrap_err();
    assert_eq!(e.reason, "ProfileNotFound");
    assert!(
        e.message.contains("spec.profileName \"weekly\""),
        "{}",
        e.message
    );
    assert!(e.message.contains("has: nightly"), "{}", e.message);
}

#[test]
fn the_dump_job() {
    let g = group(sites(Some(5), "read-only"));
    let b = backup();
    let p = profile("nightly", &g).unwrap();
    let job = job(&JobInputs {
        backup: &b,
        group: &g,
        profile: p,
        site: "pdx",
        host: ("mysql-orders-pdx-internal.shop.svc".into(), 3306),
        mysql_secret: "orders-operator".into(),
        image: "ghcr.io/shipstream/bloodraven:test",
    })
    .unwrap();
    insta::assert_json_snapshot!(job);
}

#[test]
fn the_schedule_cron_job() {
    let g = group(json!({}));
    let s = &g.spec.backup.as_ref().unwrap().schedules.as_ref().unwrap()[0];
    insta::assert_json_snapshot!(cron_job(
        &g,
        s,
        "ghcr.io/shipstream/bloodraven:test",
        "bloodraven"
    ));
}

#[test]
fn retention_by_count_age_min_keep_and_failed() {
    let e = |name: &str, ok: bool, time: i64| RetentionEntry {
        name: name.into(),
        succeeded: ok,
        time,
    };
    let day = 86_400;
    let entries = vec![
        e("a", true, 1),
        e("b", true, 2),
        e("c", true, 3),
        e("f1", false, 1),
        e("f2", false, 2),
    ];
    let by_count = Retention {
        count: Some(2),
        max_age_days: None,
        min_keep: 1,
        max_failed_keep: 1,
    };
    let names = |v: Vec<(String, String)>| v.into_iter().map(|(n, _)| n).collect::<Vec<_>>();
    assert_eq!(names(retention(by_count, &entries, 4)), vec!["a", "f1"]);
    let by_age = Retention {
        count: None,
        max_age_days: Some(1),
        min_keep: 2,
        max_failed_keep: 10,
    };
    assert_eq!(names(retention(by_age, &entries, 3 + 2 * day)), vec!["a"]);
    let keep_all = Retention {
        count: Some(0),
        max_age_days: None,
        min_keep: 3,
        max_failed_keep: 10,
    };
    assert!(retention(keep_all, &entries, 4).is_empty());
}

#[test]
fn status_from_a_result_line() {
    let r = crate::jobs::result::DumpResult {
        location: "orders/x".into(),
        size_bytes: 2048,
        gtid_executed: "0-1-7".into(),
        binlog_file: "mysql-bin.000002".into(),
        binlog_pos: 342,
        ..Default::default()
    };
    insta::assert_json_snapshot!(succeeded_status(&r, StorageType::S3));
}

#[test]
fn the_verification_cron_job() {
    let g = group(json!({}));
    let p = &g.spec.backup.as_ref().unwrap().profiles.as_ref().unwrap()[0];
    let v = p.verification.as_ref().unwrap();
    insta::assert_json_snapshot!(verification_cron_job(
        &g,
        "nightly",
        "0 5 * * *",
        v,
        "ghcr.io/shipstream/bloodraven:test",
        "bloodraven"
    ));
}
