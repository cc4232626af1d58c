//! Decisions and snapshots of the MysqlStandbyCluster controller's pure half.

use bloodraven_api::standby::MysqlStandbyCluster;
use serde_json::json;

use super::*;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn standby(verification: Option<Value>, status: Option<Value>) -> MysqlStandbyCluster {
    let storage = json!({ "storageClassName": "local", "size": "1Gi" });
    let mut v = json!({
        "apiVersion": "shipstream.io/v1alpha1",
        "kind": "MysqlStandbyCluster",
        "metadata": { "name": "orders-dr", "namespace": "dr", "uid": "msc-uid" },
        "spec": {
            "source": {
                "failoverGroupName": "orders",
                "profileName": "nightly",
                "storage": { "type": "S3", "s3": { "bucket": "b", "prefix": "/orders/west/", "endpointURL": "http://s3.test:9000", "credentialsSecret": "s3-creds" } },
                "decryption": { "passphraseSecret": { "name": "backup-pass" } },
            },
            "template": { "name": "orders", "spec": {
                "credentials": { "operatorSecret": "orders-operator" },
                "dns": { "hostname": "orders.example.test" },
                "sites": [{ "name": "iad", "zone": "a", "lbIP": "192.0.2.1", "storage": storage }],
            }},
        },
    });
    if let Some(ver) = verification {
        v["spec"]["verification"] = ver;
    }
    if let Some(st) = status {
        v["status"] = st;
    }
    serde_json::from_value(v).unwrap()
}

fn manifest(files: &[(&str, u64, &str, &str)]) -> Manifest {
    use bloodraven_backup::bloodraven_binlog::manifest::{ManifestEntry, SiteName};
    let mut m = Manifest::new(&SiteName::parse("iad").unwrap());
    for (name, size, first, last) in files {
        m.upsert(ManifestEntry {
            name: (*name).into(),
            remote_path: format!("orders/west/binlogs/iad/{name}"),
            size: *size,
            first_event_time: Some(at(first)),
            last_event_time: Some(at(last)),
            ..ManifestEntry::default()
        });
    }
    m
}

#[test]
fn candidates_are_one_level_below_the_prefix() {
    let keys: Vec<String> = [
        "orders/west/nightly-b/@.json",
        "orders/west/nightly-a/@.json",
        "orders/west/nightly-a/orders@t@@0.tsv.zst",
        "orders/west/deep/er/@.json",
        "orders/west/@.json",
        "orders/westward/x/@.json",
        "orders/west/binlogs/manifest-iad.json",
        "orders/west/binlogs/manifest-pdx.json",
        "orders/west/binlogs/iad/mysql-bin.000001",
        "orders/west/dr-cursors/dr.orders-dr.json",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(
        dump_candidates("orders/west", &keys),
        [
            "orders/west/nightly-a/@.json",
            "orders/west/nightly-b/@.json"
        ]
    );
    assert_eq!(
        manifest_keys("orders/west", &keys),
        [
            "orders/west/binlogs/manifest-iad.json",
            "orders/west/binlogs/manifest-pdx.json"
        ]
    );
}

#[test]
fn dump_json_reads_the_documented_fields_only() {
    let m = DumpJson::parse(
        br#"{"end":"2026-05-20T04:00:00Z","gtidExecuted":"abc:1-100","totalBytes":512000}"#,
    )
    .unwrap();
    assert_eq!(m.end, Some(at("2026-05-20T04:00:00Z")));
    assert_eq!(m.gtid_executed.as_deref(), Some("abc:1-100"));
    assert_eq!(m.size_bytes, Some(512_000));
    let m = DumpJson::parse(br#"{"end":"2026-05-20 04:00:00","totalBytes":0,"totalDataBytes":7}"#)
        .unwrap();
    assert_eq!(m.end, None, "not RFC 3339: absent");
    assert_eq!(m.size_bytes, Some(7));
    assert!(DumpJson::parse(b"{oops").unwrap_err().contains("not JSON"));
}

fn ok(end: &str) -> Result<DumpJson, String> {
    Ok(DumpJson {
        end: Some(at(end)),
        gtid_executed: Some(format!("g:{end}")),
        size_bytes: Some(10),
    })
}

#[test]
fn the_newest_dump_wins_ties_go_to_the_smallest_key() {
    let scan = Scan {
        prefix: "orders/west".into(),
        dumps: vec![
            ("orders/west/z/@.json".into(), ok("2026-05-20T04:00:00Z")),
            ("orders/west/b/@.json".into(), ok("2026-05-21T04:00:00Z")),
            ("orders/west/a/@.json".into(), ok("2026-05-21T04:00:00Z")),
            ("orders/west/c/@.json".into(), Ok(DumpJson::default())),
        ],
        manifests: vec![(
            "orders/west/binlogs/manifest-iad.json".into(),
            Ok(manifest(&[
                (
                    "mysql-bin.000001",
                    100,
                    "2026-05-21T03:00:00Z",
                    "2026-05-21T05:00:00Z",
                ),
                (
                    "mysql-bin.000002",
                    50,
                    "2026-05-21T05:00:00Z",
                    "2026-05-21T06:00:00Z",
                ),
            ])),
        )],
    };
    let v = discover(&scan, at("2026-05-21T07:00:00Z"));
    insta::assert_json_snapshot!("discovered_dump_and_window", v.discovered);
    assert_eq!(v.bucket.reason, "ListSucceeded");
    assert_eq!(v.source.status, ConditionStatus::True);
    assert_eq!(v.source.reason, "DumpFound");
}

#[test]
fn missing_parts_and_unreadable_metadata_have_their_reasons() {
    let now = at("2026-05-21T07:00:00Z");
    let empty = Scan {
        prefix: "orders/west".into(),
        ..Scan::default()
    };
    assert_eq!(discover(&empty, now).source.reason, "NoDumpFound");
    let no_manifests = Scan {
        prefix: "orders/west".into(),
        dumps: vec![("orders/west/a/@.json".into(), ok("2026-05-21T04:00:00Z"))],
        manifests: vec![],
    };
    let v = discover(&no_manifests, now);
    assert_eq!(v.source.reason, "NoBinlogManifests");
    assert!(
        v.source.message.contains("orders/west/binlogs/"),
        "{}",
        v.source.message
    );
    // Every read failed: the lexicographically largest, with its error.
    let unreadable = Scan {
        prefix: "orders/west".into(),
        dumps: vec![
            (
                "orders/west/a/@.json".into(),
                Err("decrypting with spec.source.decryption.passphraseSecret failed".into()),
            ),
            ("orders/west/b/@.json".into(), Err("not JSON".into())),
        ],
        manifests: vec![],
    };
    let v = discover(&unreadable, now);
    assert_eq!(v.discovered.dump_name.as_deref(), Some("b"));
    assert_eq!(v.source.reason, "MetadataUnreadable");
    assert!(
        v.source.message.contains("orders/west/b/@.json: not JSON"),
        "{}",
        v.source.message
    );
}

#[test]
fn listing_and_config_failures_name_what_to_fix() {
    let (bucket, source) = list_failed("orders/west", "403 Forbidden", true);
    assert_eq!(
        (bucket.reason, source.reason),
        ("AuthFailed", "ScanIncomplete")
    );
    assert!(
        bucket
            .message
            .contains("spec.source.storage.s3.credentialsSecret")
    );
    let (bucket, _) = list_failed("orders/west", "connection refused", false);
    assert_eq!(bucket.reason, "ListFailed");
    let (bucket, source) =
        config_error("spec.source.storage.s3.credentialsSecret: Secret dr/s3-creds not found");
    assert_eq!(
        (bucket.reason, source.reason),
        ("ConfigError", "ConfigError")
    );
    let mut s = standby(None, None);
    assert_eq!(spec_problem(&s), None);
    s.spec.transport = Some(Transport::Network);
    assert!(spec_problem(&s).unwrap().starts_with("spec.transport"));
    s.spec.transport = None;
    s.spec.source.storage.type_ = StorageType::Pvc;
    assert!(
        spec_problem(&s)
            .unwrap()
            .starts_with("spec.source.storage.type")
    );
}

fn discovered(dump: &str) -> Discovered {
    Discovered {
        dump_location: Some(format!("orders/west/{dump}/")),
        dump_name: Some(dump.into()),
        dump_completion_time: time(at("2026-05-21T04:00:00Z")),
        dump_size_bytes: Some(20 * 1024 * 1024 * 1024),
        ..Discovered::default()
    }
}

#[test]
fn drills_are_due_first_on_a_new_dump_then_after_the_interval() {
    let now = at("2026-05-21T12:00:00Z");
    let d = discovered("nightly-a");
    assert_eq!(verification_due_in(&standby(None, None), &d, now), None);
    let ver = Some(json!({ "interval": "6h" }));
    assert_eq!(
        verification_due_in(&standby(ver.clone(), None), &d, now),
        Some(Duration::ZERO)
    );
    let last = |dump: &str, done: &str| {
        Some(
            json!({ "lastVerified": { "verificationName": "orders-dr-drill-3", "backupName": dump, "completionTime": done } }),
        )
    };
    let s = standby(ver.clone(), last("nightly-a", "2026-05-21T10:00:00Z"));
    assert_eq!(
        verification_due_in(&s, &d, now),
        Some(Duration::from_secs(4 * 3600))
    );
    assert_eq!(next_drill(s.status.as_ref()), 4);
    let s = standby(ver.clone(), last("nightly-a", "2026-05-21T05:00:00Z"));
    assert_eq!(verification_due_in(&s, &d, now), Some(Duration::ZERO));
    let s = standby(ver, last("nightly-0", "2026-05-21T11:59:00Z"));
    assert_eq!(
        verification_due_in(&s, &d, now),
        Some(Duration::ZERO),
        "a new dump is drilled at once"
    );
}

#[test]
fn the_drill_job() {
    let s = standby(
        Some(
            json!({ "interval": "12h", "sanityCheck": { "query": "SELECT COUNT(*) FROM d.t", "expect": { "minRows": 3 } } }),
        ),
        None,
    );
    let (job, pvc) = drill_names("orders-dr", 7);
    assert_eq!(
        (job.as_str(), pvc.as_str()),
        ("orders-dr-drill-7", "orders-dr-drill-7-data")
    );
    let rendered = drill_job(
        &s,
        &discovered("nightly-a"),
        &job,
        &pvc,
        "ghcr.io/shipstream/bloodraven:test",
    )
    .unwrap();
    insta::assert_json_snapshot!("the_drill_job", rendered);
    let mut created = rendered.clone();
    created.metadata.uid = Some("job-uid".into());
    let claim = drill_pvc(&s, &pvc, &discovered("nightly-a"), &created);
    insta::assert_json_snapshot!("the_drill_pvc", claim);
    let e = drill_job(&s, &Discovered::default(), &job, &pvc, "i").unwrap_err();
    assert!(
        e.message.contains("status.discovered.dumpLocation"),
        "{}",
        e.message
    );
}

#[test]
fn restorable_follows_the_drill() {
    let passed = VerifyResult {
        succeeded: true,
        reason: "Verified".into(),
        replayed_file: Some("mysql-bin.000002".into()),
        ..VerifyResult::default()
    };
    let v = drill_verdict("orders-dr-drill-1", "nightly-a", true, Some(&passed), "");
    assert_eq!(
        (v.status, v.reason),
        (ConditionStatus::True, "VerificationPassed")
    );
    assert!(
        v.message.contains("through mysql-bin.000002"),
        "{}",
        v.message
    );
    let failed = VerifyResult {
        succeeded: false,
        reason: "Replay".into(),
        message: "orders/west/binlogs/iad/mysql-bin.000002: sha256 mismatch".into(),
        ..VerifyResult::default()
    };
    let v = drill_verdict("orders-dr-drill-2", "nightly-a", false, Some(&failed), "");
    assert_eq!(
        (v.status, v.reason),
        (ConditionStatus::False, "VerificationFailed")
    );
    assert!(
        v.message.contains("sha256 mismatch") && v.message.contains("(Replay)"),
        "{}",
        v.message
    );
    let v = drill_verdict(
        "orders-dr-drill-3",
        "nightly-a",
        false,
        None,
        "panic: out of disk\n",
    );
    assert_eq!(v.status, ConditionStatus::False);
    assert!(v.message.ends_with("panic: out of disk"), "{}", v.message);
    // A passing verdict from a Job Kubernetes marked failed does not count.
    assert_eq!(
        drill_verdict("j", "d", false, Some(&passed), "").status,
        ConditionStatus::False
    );
    assert_eq!(
        restorable_pending(&standby(None, None)).unwrap().reason,
        "VerificationNotConfigured"
    );
    assert_eq!(
        restorable_pending(&standby(Some(json!({})), None))
            .unwrap()
            .reason,
        "VerificationPending"
    );
    // Drills configured later: no longer "not configured"; a verdict already there stays.
    let was_off = json!({ "conditions": [{ "type": "Restorable", "status": "Unknown", "reason": "VerificationNotConfigured",
        "message": "", "lastTransitionTime": "2026-05-21T00:00:00Z" }] });
    assert_eq!(
        restorable_pending(&standby(Some(json!({})), Some(was_off)))
            .unwrap()
            .reason,
        "VerificationPending"
    );
    let passed = json!({ "conditions": [{ "type": "Restorable", "status": "True", "reason": "VerificationPassed",
        "message": "", "lastTransitionTime": "2026-05-21T00:00:00Z" }] });
    assert_eq!(
        restorable_pending(&standby(Some(json!({})), Some(passed))),
        None
    );
}

#[test]
fn a_passing_verdict_goes_stale_after_two_intervals_without_a_drill() {
    let status = |restorable: &str, active: Option<&str>| {
        let mut st = json!({
            "conditions": [{ "type": "Restorable", "status": restorable, "reason": "VerificationPassed",
                "message": "", "lastTransitionTime": "2026-05-21T06:00:00Z" }],
            "lastVerified": { "verificationName": "orders-dr-drill-3", "backupName": "nightly-a",
                "completionTime": "2026-05-21T06:00:00Z" },
        });
        if let Some(job) = active {
            st["activeVerification"] = json!({ "jobName": job, "dumpName": "nightly-a" });
        }
        st
    };
    let ver = Some(json!({ "interval": "6h" }));
    let s = standby(ver.clone(), Some(status("True", Some("orders-dr-drill-4"))));
    assert_eq!(restorable_until(&s), Some(at("2026-05-21T18:00:00Z")));
    assert_eq!(restorable_stale(&s, at("2026-05-21T17:59:59Z")), None);
    let v = restorable_stale(&s, at("2026-05-21T18:00:00Z")).unwrap();
    assert_eq!(
        (v.type_, v.status, v.reason),
        ("Restorable", ConditionStatus::False, "VerificationStale")
    );
    assert!(
        v.message
            .contains("(orders-dr-drill-3) finished at 2026-05-21T06:00:00Z")
            && v.message
                .ends_with("drill Job orders-dr-drill-4 has not finished: check its Pod"),
        "{}",
        v.message
    );
    let idle = standby(ver.clone(), Some(status("True", None)));
    assert!(
        restorable_stale(&idle, at("2026-05-22T00:00:00Z"))
            .unwrap()
            .message
            .ends_with("no drill is running")
    );
    // The default interval is a day; a False or Unknown verdict, or drills off, never goes stale.
    let default = standby(Some(json!({})), Some(status("True", None)));
    assert_eq!(restorable_until(&default), Some(at("2026-05-23T06:00:00Z")));
    let failed = standby(ver, Some(status("False", None)));
    assert_eq!(restorable_stale(&failed, at("2027-01-01T00:00:00Z")), None);
    let off = standby(None, Some(status("True", None)));
    assert_eq!(restorable_stale(&off, at("2027-01-01T00:00:00Z")), None);
}

#[test]
fn the_cursor_keeps_the_window_from_before_the_dump() {
    let now = at("2026-05-21T12:00:00Z");
    let s = standby(Some(json!({ "cursorTtl": "48h" })), None);
    let c = cursor(&s, &discovered("nightly-a"), now).unwrap();
    assert_eq!(c.standby, "dr/orders-dr");
    assert_eq!(c.keep_from, at("2026-05-20T04:00:00Z"));
    assert_eq!(c.expires_at, Some(at("2026-05-23T12:00:00Z")));
    assert_eq!(
        cursor(&standby(None, None), &discovered("nightly-a"), now),
        None
    );
}
