//! Snapshots and decisions of the initFromBackup restore's pure half.

use bloodraven_api::backup::MysqlBackup;
use bloodraven_api::failovergroup::MysqlFailoverGroup;
use serde_json::{Value, json};

use super::*;

/// Group `orders` (namespace `dr`) with an encrypted S3 profile `archive` that spec.backup.pitr archives to, and
/// `spec.initFromBackup` = `init`.
fn group(init: Value, status: Value) -> MysqlFailoverGroup {
    let storage = json!({ "storageClassName": "local", "size": "1Gi" });
    serde_json::from_value(json!({
        "apiVersion": "shipstream.io/v1alpha1",
        "kind": "MysqlFailoverGroup",
        "metadata": { "name": "orders", "namespace": "dr", "uid": "orders-uid" },
        "spec": {
            "credentials": { "operatorSecret": "orders-operator" },
            "dns": { "hostname": "orders.example.test" },
            "sites": [
                { "name": "iad", "zone": "a", "lbIP": "192.0.2.1", "storage": storage },
                { "name": "pdx", "zone": "b", "lbIP": "192.0.2.2", "storage": storage },
            ],
            "backup": {
                "pitr": { "enabled": true, "profileName": "archive" },
                "profiles": [{
                    "name": "archive",
                    "storage": { "type": "S3", "s3": {
                        "bucket": "shipstream-backups", "prefix": "orders/west", "region": "us-west-2",
                        "credentialsSecret": "s3-dr-readonly-creds",
                    }},
                    "encryption": { "passphraseSecret": { "name": "orders-backup-passphrase" } },
                }],
            },
            "initFromBackup": init,
        },
        "status": status,
    }))
    .unwrap()
}

fn dr_source() -> Value {
    json!({
        "source": { "s3": {
            "bucket": "shipstream-backups", "prefix": "orders/west/orders-nightly-20260520", "region": "us-west-2",
            "credentialsSecret": "s3-dr-readonly-creds",
        }},
        "decryption": { "passphraseSecret": { "name": "orders-backup-passphrase" } },
        "pointInTime": { "stopDatetime": "2026-05-20T14:32:00Z" },
    })
}

fn inputs<'a>(
    g: &'a MysqlFailoverGroup,
    backup: Option<&'a MysqlBackup>,
    encrypted: Option<bool>,
) -> Inputs<'a> {
    Inputs {
        group: g,
        site: "iad",
        host: ("mysql-orders-iad.dr.svc".into(), 3306),
        backup,
        image: "ghcr.io/shipstream/bloodraven:test",
        source_encrypted: encrypted,
    }
}

/// The env of `container` (a container or an init container) of `job`, by name.
pub(crate) fn env_of(job: &Job, container: &str) -> BTreeMap<String, String> {
    let spec = job.spec.as_ref().unwrap().template.spec.as_ref().unwrap();
    spec.containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .find(|c| c.name == container)
        .unwrap()
        .env
        .iter()
        .flatten()
        .map(|e| (e.name.clone(), e.value.clone().unwrap_or_default()))
        .collect()
}

#[test]
fn the_dr_restore_job_decrypts_downloads_binlogs_and_loads() {
    let g = group(dr_source(), Value::Null);
    let rendered = job(&inputs(&g, None, Some(true))).unwrap();
    insta::assert_json_snapshot!("dr_restore_job", rendered.job);
    let spec = rendered
        .job
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap();
    let inits: Vec<&str> = spec
        .init_containers
        .iter()
        .flatten()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(inits, ["pitr-download", "decrypt-download"]);
    let main = env_of(&rendered.job, CONTAINER);
    assert_eq!(main["BLOODRAVEN_INPUT_URL"], "/restore-decrypted");
    assert_eq!(main["BLOODRAVEN_PITR_LOCAL_DIR"], "/pitr-binlogs");
    assert!(
        !main.contains_key("BLOODRAVEN_S3_BUCKET"),
        "the load reads local files: {main:?}"
    );
    let decrypt = env_of(&rendered.job, DECRYPT_CONTAINER);
    assert_eq!(
        decrypt["BLOODRAVEN_SOURCE_PREFIX"],
        "orders/west/orders-nightly-20260520"
    );
    let pitr = env_of(&rendered.job, PITR_CONTAINER);
    assert_eq!(
        pitr["BLOODRAVEN_PITR_MANIFEST_PREFIX"],
        "orders/west/binlogs"
    );
    assert_eq!(pitr["BLOODRAVEN_PITR_SITES"], "iad,pdx");
    let names: Vec<&str> = rendered.secrets.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "orders-operator",
            "s3-dr-readonly-creds",
            "orders-backup-passphrase",
            "orders-backup-passphrase",
            "s3-dr-readonly-creds"
        ]
    );
    assert_eq!(job_name("orders", "iad"), "mysql-orders-iad-restore");
    assert_eq!(job_name(&"x".repeat(70), "iad").len(), 63);
}

#[test]
fn an_encrypted_source_without_a_passphrase_is_refused_with_the_documented_message() {
    let mut init = dr_source();
    init.as_object_mut().unwrap().remove("decryption");
    init.as_object_mut().unwrap().remove("pointInTime");
    let g = group(init, Value::Null);
    let f = job(&inputs(&g, None, Some(true))).unwrap_err();
    assert_eq!(f.reason, "RestoreBuildFailed");
    assert_eq!(
        f.message,
        "initFromBackup source is encrypted but no passphrase is available; set \
         initFromBackup.decryption.passphraseSecret or restore the profile's encryption.passphraseSecret"
    );
    // Plaintext at the same place: loaded straight from the bucket.
    let rendered = job(&inputs(&g, None, Some(false))).unwrap();
    let main = env_of(&rendered.job, CONTAINER);
    assert_eq!(
        main["BLOODRAVEN_INPUT_URL"],
        "orders/west/orders-nightly-20260520/"
    );
    assert_eq!(main["BLOODRAVEN_S3_BUCKET"], "shipstream-backups");
    assert!(
        rendered
            .job
            .spec
            .unwrap()
            .template
            .spec
            .unwrap()
            .init_containers
            .is_none()
    );
}

#[test]
fn a_backup_ref_takes_the_profile_passphrase_and_its_metadata() {
    let g = group(
        json!({ "source": { "mysqlBackupRef": { "name": "orders-1" } } }),
        Value::Null,
    );
    let backup: MysqlBackup = serde_json::from_value(json!({
        "apiVersion": "shipstream.io/v1alpha1",
        "kind": "MysqlBackup",
        "metadata": { "name": "orders-1", "namespace": "dr" },
        "spec": { "failoverGroupRef": { "name": "orders" }, "profileName": "archive" },
        "status": {
            "phase": "Succeeded", "location": "s3://shipstream-backups/orders/west/orders-1/", "storageType": "S3",
            "encrypted": true, "sizeBytes": 4096, "gtidExecuted": "0-1-7", "binlogFile": "mysql-bin.000002", "binlogPos": 42,
        },
    }))
    .unwrap();
    let rendered = job(&inputs(&g, Some(&backup), None)).unwrap();
    let main = env_of(&rendered.job, CONTAINER);
    assert_eq!(main["BLOODRAVEN_SOURCE_GTID_EXECUTED"], "0-1-7");
    assert_eq!(main["BLOODRAVEN_SOURCE_SIZE_BYTES"], "4096");
    let decrypt = env_of(&rendered.job, DECRYPT_CONTAINER);
    assert_eq!(decrypt["BLOODRAVEN_SOURCE_PREFIX"], "orders/west/orders-1");
    assert!(
        rendered
            .secrets
            .iter()
            .any(|s| s.field == "spec.backup.profiles[archive].encryption.passphraseSecret")
    );
    // Not found, not Succeeded, profile gone: the field is named.
    let f = job(&inputs(&g, None, None)).unwrap_err();
    assert!(
        f.message.starts_with(
            "spec.initFromBackup.source.mysqlBackupRef: MysqlBackup \"orders-1\" not found"
        ),
        "{}",
        f.message
    );
    let mut running = backup.clone();
    running.status.as_mut().unwrap().phase = Some(BackupPhase::Running);
    let f = job(&inputs(&g, Some(&running), None)).unwrap_err();
    assert_eq!(
        f.message,
        "spec.initFromBackup.source.mysqlBackupRef: MysqlBackup \"orders-1\" is Running, not Succeeded"
    );
    let mut nowhere = backup.clone();
    nowhere.status.as_mut().unwrap().location = None;
    let f = job(&inputs(&g, Some(&nowhere), None)).unwrap_err();
    assert_eq!(
        f.message,
        "spec.initFromBackup.source.mysqlBackupRef: MysqlBackup \"orders-1\" is Succeeded but has no \
         status.location"
    );
    let mut other = backup.clone();
    other.spec.profile_name = "gone".into();
    // Encrypted, its profile gone and no decryption block: the documented message.
    let f = job(&inputs(&g, Some(&other), None)).unwrap_err();
    assert_eq!(f.message, NO_PASSPHRASE);
    other.status.as_mut().unwrap().encrypted = Some(false);
    let f = job(&inputs(&g, Some(&other), None)).unwrap_err();
    assert!(
        f.message
            .contains("profile \"gone\" is missing from spec.backup.profiles"),
        "{}",
        f.message
    );
}

#[test]
fn pitr_needs_the_archive_and_passes_exclude_gtids_to_the_replay() {
    let mut g = group(dr_source(), Value::Null);
    g.spec.backup.as_mut().unwrap().pitr = None;
    let f = job(&inputs(&g, None, Some(true))).unwrap_err();
    assert!(
        f.message
            .starts_with("spec.initFromBackup.pointInTime is set but spec.backup.pitr.enabled"),
        "{}",
        f.message
    );
    // Without excludeGtids the load skips nothing.
    let g = group(dr_source(), Value::Null);
    let rendered = job(&inputs(&g, None, Some(true))).unwrap();
    let main = env_of(&rendered.job, CONTAINER);
    assert!(
        !main.contains_key("BLOODRAVEN_PITR_EXCLUDE_GTIDS"),
        "{main:?}"
    );
    // The load's replay skips them (the Go Job's variable); the download needs all files anyway.
    let mut init = dr_source();
    init["pointInTime"]["excludeGtids"] = json!(" 0-1-5,0-1-9 ");
    let g = group(init, Value::Null);
    let rendered = job(&inputs(&g, None, Some(true))).unwrap();
    let main = env_of(&rendered.job, CONTAINER);
    assert_eq!(main["BLOODRAVEN_PITR_EXCLUDE_GTIDS"], "0-1-5,0-1-9");
    assert_eq!(
        main["BLOODRAVEN_PITR_STOP_DATETIME"],
        "2026-05-20T14:32:00Z"
    );
    let pitr = env_of(&rendered.job, PITR_CONTAINER);
    assert!(
        !pitr.contains_key("BLOODRAVEN_PITR_EXCLUDE_GTIDS"),
        "{pitr:?}"
    );
    // Text that is no GTID set fails the build, naming the field.
    let mut init = dr_source();
    init["pointInTime"]["excludeGtids"] = json!("0-1-five");
    let g = group(init, Value::Null);
    let f = job(&inputs(&g, None, Some(true))).unwrap_err();
    assert!(
        f.message
            .starts_with("spec.initFromBackup.pointInTime.excludeGtids \"0-1-five\":"),
        "{}",
        f.message
    );
}

#[test]
fn the_target_is_the_writable_active_site_or_the_seed() {
    let g = group(dr_source(), Value::Null);
    assert_eq!(target_site(&g).unwrap(), "iad");
    let g = group(
        dr_source(),
        json!({ "activeSite": "pdx", "sites": [{ "name": "pdx", "state": "writable" }] }),
    );
    assert_eq!(target_site(&g).unwrap(), "pdx");
    let g = group(
        dr_source(),
        json!({ "activeSite": "pdx", "sites": [{ "name": "pdx", "state": "read-only" }] }),
    );
    assert!(target_site(&g).unwrap_err().contains("activeSite \"pdx\""));
    assert!(!target_ready(&g, "iad", false));
    assert!(target_ready(&g, "pdx", false));
    assert!(target_ready(&g, "iad", true));
    assert!(in_flight(&g));
    let done = group(dr_source(), json!({ "restore": { "phase": "Succeeded" } }));
    assert!(!in_flight(&done));
}

#[test]
fn a_read_only_seed_is_never_the_target_when_no_site_is_writable() {
    // No active site, the seed (iad) observed read-only, maybe fenced: refused, naming the seed.
    let g = group(
        dr_source(),
        json!({ "sites": [
            { "name": "iad", "state": "read-only" },
            { "name": "pdx", "state": "read-only" },
        ] }),
    );
    let e = target_site(&g).unwrap_err();
    assert!(
        e.contains("seed site \"iad\" is read-only") && e.contains("status.activeSite is empty"),
        "{e}"
    );
    // The seed by sitePriorities is the one looked at.
    let mut g = group(
        dr_source(),
        json!({ "activeSite": "", "sites": [
            { "name": "iad", "state": "writable" },
            { "name": "pdx", "state": "read-only" },
        ] }),
    );
    g.spec.split_brain_policy =
        serde_json::from_value(json!({ "sitePriorities": ["pdx"] })).unwrap();
    assert!(target_site(&g).unwrap_err().contains("\"pdx\""));
    // A writable seed (a fresh deploy: every site writable, none active yet) or one not observed yet is the target.
    g.spec.split_brain_policy = None;
    assert_eq!(target_site(&g).unwrap(), "iad");
    let g = group(
        dr_source(),
        json!({ "sites": [{ "name": "iad", "state": "unreachable" }] }),
    );
    assert_eq!(target_site(&g).unwrap(), "iad");
    assert!(!target_ready(&g, "iad", false));
}

#[test]
fn the_result_line_fills_the_status() {
    let line = "BLOODRAVEN_RESTORE_COMPLETE sourceSizeBytes=100 sourceGtidExecuted=0-1-3 sourceBinlogFile=mysql-bin.000001 \
                sourceBinlogPos=0 targetGtidExecuted=0-1-5 targetBinlogFile= targetBinlogPos=0 \
                pitrStopDatetime=2026-05-20T14%3A32%3A00%2B00%3A00 pitrReplayedBinlogFile=mysql-bin.000002 \
                pitrReplayedBinlogCount=2";
    let fields = parse_restore_complete(&format!("noise\n{line}\n")).unwrap();
    let source = RestoreDetails {
        source_size_bytes: Some(7),
        ..RestoreDetails::default()
    };
    let d = completed_details(&source, &fields);
    assert_eq!(
        d.pitr_stop_datetime.as_deref(),
        Some("2026-05-20T14:32:00+00:00")
    );
    assert_eq!(d.target_gtid_executed.as_deref(), Some("0-1-5"));
    assert_eq!(d.pitr_replayed_binlog_count, Some(2));
    assert_eq!(d.source_size_bytes, Some(100));
    assert_eq!(d.target_binlog_file, None);
    assert!(parse_restore_complete("BLOODRAVEN_DUMP_COMPLETE location=x").is_none());
}
