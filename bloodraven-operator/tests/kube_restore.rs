//! `spec.initFromBackup` end to end on the real Kubernetes API server (v1.20, no kubelet) with real MariaDB servers
//! and the loopback S3 server: a DR group restores an encrypted dump of another server and replays its encrypted
//! binlog archive up to `pointInTime.stopDatetime`, skipping the transaction named in `pointInTime.excludeGtids`. The manager renders the restore Job; the test plays the kubelet
//! and the Job controller: it runs the Job's init containers and then its container as local processes (the same
//! binary; Secret volumes written to folders at the mount paths' place, emptyDirs shared folders), then records
//! the pod's termination messages and the Job's outcome in their status. Bad input (a missing Secret, an
//! unreadable bucket, an encrypted source without a passphrase, a wrong passphrase) ends in a Failed restore whose
//! message and Warning event name the field or object, and the manager keeps running.
//! The bootstrap gate: a follower whose replication is stopped is left alone (reported `Pending/SourceMismatch`)
//! while the restore is Failed or Running, and started once it Succeeded.

mod kube_support;
mod live_support;

use std::time::Duration;

use bloodraven_api::backup::MysqlBackup;
use bloodraven_api::failovergroup::MysqlFailoverGroup;
use bloodraven_backup::bloodraven_binlog::archive::{ArchiveStore, Archiver};
use bloodraven_backup::bloodraven_binlog::manifest::{ArchiveLayout, SiteName};
use bloodraven_test_support::mariadb::MariaDb;
use bloodraven_test_support::s3::S3Server;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::events::v1::Event;
use kube::Client;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube_support::kubelet::Kubelet;
use kube_support::{Operator, cluster, create_secret, delete_namespace, namespace};
use live_support::host;
use serde_json::{Value, json};

const PASSPHRASE: &str = "correct horse battery staple";

/// Two empty sites for a DR group: `iad` writable, `pdx` its read-only replica.
fn dr_servers() -> Vec<MariaDb> {
    let servers: Vec<MariaDb> = (0..2)
        .map(|i| {
            MariaDb::builder()
                .server_id(i as u32 + 11)
                .arg(format!("--bind-address=127.0.0.1,{}", host(i)))
                .arg("--read-only=1")
                .start()
                .expect("start mariadbd")
        })
        .collect();
    servers[0].sql("SET GLOBAL read_only = OFF").unwrap();
    servers[1]
        .sql(&format!(
            "CHANGE MASTER TO MASTER_HOST='{}', MASTER_PORT={}, MASTER_USER='root', MASTER_PASSWORD='', \
             MASTER_CONNECT_RETRY=1, MASTER_USE_GTID=slave_pos; START SLAVE",
            host(0),
            servers[0].port()
        ))
        .unwrap();
    servers
}

/// The S3 server's store, opened as the operator does.
fn s3_root(s3: &S3Server) -> bloodraven_backup::DumpLocation {
    use bloodraven_operator::jobs::env::{S3Keys, Storage};
    Storage::S3 {
        bucket: s3.bucket().into(),
        endpoint: Some(s3.endpoint()),
        region: Some(s3.region().into()),
        creds_dir: None,
        keys: Some(S3Keys {
            access_key_id: s3.access_key().into(),
            secret_access_key: s3.secret_key().into(),
            session_token: None,
        }),
    }
    .open("")
    .unwrap()
}

/// The source side: a server with rows 1–3, an encrypted dump of it at `orders/west/orders-1`, rows 4–5, the
/// stop time, row 6, and its binlogs archived (encrypted) under `orders/west/binlogs` as site `iad`. Returns the
/// stop time.
/// The source server, the stop time (after rows 4 and 5, before row 6) and the GTID that wrote row 4.
async fn source_artifacts(s3: &S3Server, scratch: &std::path::Path) -> (MariaDb, String, String) {
    let source = MariaDb::builder()
        .server_id(21)
        .start()
        .expect("start the source server");
    source
        .sql(
            "CREATE DATABASE d; CREATE TABLE d.t (id BIGINT PRIMARY KEY, v VARCHAR(16) NOT NULL); \
             INSERT INTO d.t VALUES (1, 'a'), (2, 'b'), (3, 'c')",
        )
        .unwrap();
    kube_support::dump_to_s3(
        &format!("127.0.0.1:{}", source.port()),
        s3,
        scratch,
        "orders/west/orders-1",
        PASSPHRASE,
    );
    // Row 4 is the "bad" transaction the first test excludes from the replay.
    source.sql("INSERT INTO d.t VALUES (4, 'd')").unwrap();
    let bad = source
        .sql("SELECT @@gtid_binlog_pos")
        .unwrap()
        .trim()
        .to_owned();
    source.sql("INSERT INTO d.t VALUES (5, 'e')").unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let stop = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    source
        .sql("INSERT INTO d.t VALUES (6, 'late'); FLUSH BINARY LOGS")
        .unwrap();
    let root = s3_root(s3);
    let archive = ArchiveStore::new(
        std::sync::Arc::clone(root.store()),
        ArchiveLayout::for_profile_prefix("orders/west"),
    )
    .with_passphrase(bloodraven_backup::Passphrase::new(PASSPHRASE).unwrap());
    let cycle = Archiver::new(
        archive,
        SiteName::parse("iad").unwrap(),
        source.binlog_dir(),
    )
    .run_cycle(&true)
    .await
    .unwrap();
    assert!(
        cycle.failed.is_empty() && !cycle.archived.is_empty(),
        "{cycle:?}"
    );
    (source, stop, bad)
}

async fn create_secrets(client: &Client, ns: &str, s3: &S3Server) {
    create_secret(
        client,
        ns,
        "orders-operator",
        json!({ "username": "root", "password": "" }),
    )
    .await;
    create_secret(
        client,
        ns,
        "s3-dr-creds",
        json!({
            "AWS_ACCESS_KEY_ID": s3.access_key(),
            "AWS_SECRET_ACCESS_KEY": s3.secret_key(),
            "AWS_REGION": s3.region(),
        }),
    )
    .await;
    create_secret(
        client,
        ns,
        "orders-backup-passphrase",
        json!({ "passphrase": PASSPHRASE }),
    )
    .await;
    create_secret(
        client,
        ns,
        "wrong-passphrase",
        json!({ "passphrase": "not the passphrase" }),
    )
    .await;
}

/// A DR group `name` whose archive profile reads the source's bucket, with `spec.initFromBackup` = `init`.
async fn create_group(client: &Client, ns: &str, s3: &S3Server, name: &str, init: Value) {
    let storage = json!({ "storageClassName": "local", "size": "1Gi" });
    let group: MysqlFailoverGroup = serde_json::from_value(json!({
        "apiVersion": "shipstream.io/v1alpha1",
        "kind": "MysqlFailoverGroup",
        "metadata": { "name": name },
        "spec": {
            "image": "mariadb:11.4",
            "credentials": { "operatorSecret": "orders-operator" },
            "dns": { "hostname": format!("{name}.example.test") },
            "pollInterval": "1s",
            "failoverCooldown": "1m",
            "sites": [
                { "name": "iad", "zone": "a", "lbIP": "192.0.2.1", "storage": storage },
                { "name": "pdx", "zone": "b", "lbIP": "192.0.2.2", "storage": storage },
            ],
            "backup": {
                "pitr": { "enabled": true, "profileName": "archive" },
                "profiles": [{
                    "name": "archive",
                    "storage": { "type": "S3", "s3": {
                        "bucket": s3.bucket(), "prefix": "orders/west", "region": s3.region(),
                        "endpointURL": s3.endpoint(), "credentialsSecret": "s3-dr-creds",
                    }},
                    "encryption": { "passphraseSecret": { "name": "orders-backup-passphrase" } },
                }],
            },
            "initFromBackup": init,
        },
    }))
    .unwrap();
    let api: Api<MysqlFailoverGroup> = Api::namespaced(client.clone(), ns);
    api.create(&PostParams::default(), &group).await.unwrap();
}

fn s3_source(s3: &S3Server, bucket: &str, creds: &str) -> Value {
    json!({
        "bucket": bucket, "prefix": "orders/west/orders-1", "region": s3.region(),
        "endpointURL": s3.endpoint(), "credentialsSecret": creds,
    })
}

async fn restore_status(client: &Client, ns: &str, group: &str) -> Value {
    let api: Api<MysqlFailoverGroup> = Api::namespaced(client.clone(), ns);
    let g = api.get(group).await.unwrap();
    serde_json::to_value(&g.status)
        .unwrap()
        .get("restore")
        .cloned()
        .unwrap_or(Value::Null)
}

async fn wait_restore(client: &Client, ns: &str, group: &str, phase: &str) -> Value {
    let mut last = Value::Null;
    let found = tokio::time::timeout(Duration::from_secs(90), async {
        loop {
            last = restore_status(client, ns, group).await;
            if last["phase"] == phase {
                return last.clone();
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    })
    .await;
    match found {
        Ok(s) => s,
        Err(_) => panic!("status.restore of {group} never reached {phase}; last: {last:#}"),
    }
}

/// Warning events about `object`: (reason, note).
async fn warnings(client: &Client, ns: &str, object: &str) -> Vec<(String, String)> {
    let api: Api<Event> = Api::namespaced(client.clone(), ns);
    api.list(&ListParams::default())
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(object))
        .filter(|e| e.type_.as_deref() == Some("Warning"))
        .map(|e| (e.reason.unwrap_or_default(), e.note.unwrap_or_default()))
        .collect()
}

fn endpoints<'a>(
    groups: &[&'a str],
    servers: &[MariaDb],
) -> Vec<(&'a str, &'static str, String, u16)> {
    groups
        .iter()
        .flat_map(|g| {
            [
                (*g, "iad", host(0), servers[0].port()),
                (*g, "pdx", host(1), servers[1].port()),
            ]
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dr_group_restores_the_encrypted_dump_and_replays_to_the_stop_time() {
    let (client, kubeconfig) = cluster().await;
    let ns = namespace(&client, "e2e-restore").await;
    let k = Kubelet::new(&client, &ns);
    let s3 = S3Server::start().unwrap();
    let (_source, stop, bad) = source_artifacts(&s3, &k.scratch).await;
    let dr = dr_servers();
    create_secrets(&client, &ns, &s3).await;
    let mut operator = Operator::start(&kubeconfig, &ns, &endpoints(&["orders"], &dr));
    create_group(
        &client,
        &ns,
        &s3,
        "orders",
        json!({
            "source": { "s3": s3_source(&s3, s3.bucket(), "s3-dr-creds") },
            "decryption": { "passphraseSecret": { "name": "orders-backup-passphrase" } },
            "pointInTime": { "stopDatetime": stop, "excludeGtids": bad },
        }),
    )
    .await;
    let running = wait_restore(&client, &ns, "orders", "Running").await;
    assert_eq!(
        running["jobName"], "mysql-orders-iad-restore",
        "{running:#}"
    );
    assert_eq!(running["targetSite"], "iad");
    // Nothing is loaded before the Job runs.
    assert_eq!(dr[0].sql("SHOW DATABASES LIKE 'd'").unwrap().trim(), "");
    k.run_pod_ok(
        "mysql-orders-iad-restore",
        &["pitr-download", "decrypt-download", "mysqlsh"],
    )
    .await;
    let done = wait_restore(&client, &ns, "orders", "Succeeded").await;
    // The data is what it was at the stop time without the excluded transaction: the dump's rows and the
    // archived ones before it except row 4, not row 6.
    assert_eq!(
        dr[0]
            .sql("SELECT GROUP_CONCAT(id ORDER BY id) FROM d.t")
            .unwrap()
            .trim(),
        "1,2,3,5"
    );
    assert!(
        done["pitrReplayedBinlogCount"].as_i64().unwrap_or(0) >= 1,
        "{done:#}"
    );
    assert!(
        done["pitrStopDatetime"]
            .as_str()
            .is_some_and(|t| !t.is_empty()),
        "{done:#}"
    );
    assert!(
        done["targetGtidExecuted"]
            .as_str()
            .is_some_and(|g| !g.is_empty()),
        "{done:#}"
    );
    assert!(
        done["completionTime"].is_string() && done["startTime"].is_string(),
        "{done:#}"
    );
    // The events follow the status writes.
    let events: Api<Event> = Api::namespaced(client.clone(), &ns);
    for r in ["RestoreStarted", "RestoreSucceeded"] {
        kube_support::wait(&format!("a {r} event"), Duration::from_secs(10), || async {
            events
                .list(&ListParams::default())
                .await
                .unwrap()
                .into_iter()
                .any(|e| e.reason.as_deref() == Some(r))
        })
        .await;
    }
    let metrics = operator.metrics().await;
    let labels = format!(
        "{{namespace=\"{ns}\",group=\"orders\",restore_kind=\"init_from_backup\",target_site=\"iad\"}}"
    );
    for family in [
        "bloodraven_restore_last_success_timestamp_seconds",
        "bloodraven_restore_duration_seconds_count",
    ] {
        assert!(
            metrics.contains(&format!("{family}{labels}")),
            "{family}{labels} missing from\n{metrics}"
        );
    }
    // The decrypt-download step's BLOODRAVEN_ENCRYPT_METRICS line (an S3 source has no profile).
    let decrypt =
        r#"bloodraven_backup_decrypt_duration_seconds_count{group="orders",profile=""} 1"#;
    assert!(
        metrics.contains(decrypt),
        "{decrypt} missing from\n{metrics}"
    );
    assert!(operator.is_running());
    delete_namespace(&client, &ns).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_restore_input_fails_naming_the_field_and_the_operator_keeps_running() {
    let (client, kubeconfig) = cluster().await;
    let ns = namespace(&client, "e2e-restore-bad").await;
    let k = Kubelet::new(&client, &ns);
    let s3 = S3Server::start().unwrap();
    let (_source, _stop, _bad) = source_artifacts(&s3, &k.scratch).await;
    let dr = dr_servers();
    create_secrets(&client, &ns, &s3).await;
    let groups = ["no-creds", "no-bucket", "no-pass", "wrong-pass"];
    let mut operator = Operator::start(&kubeconfig, &ns, &endpoints(&groups, &dr));
    create_group(
        &client,
        &ns,
        &s3,
        "no-creds",
        json!({ "source": { "s3": s3_source(&s3, s3.bucket(), "missing-creds") } }),
    )
    .await;
    create_group(
        &client,
        &ns,
        &s3,
        "no-bucket",
        json!({ "source": { "s3": s3_source(&s3, "no-such-bucket", "s3-dr-creds") } }),
    )
    .await;
    create_group(
        &client,
        &ns,
        &s3,
        "no-pass",
        json!({ "source": { "s3": s3_source(&s3, s3.bucket(), "s3-dr-creds") } }),
    )
    .await;
    create_group(
        &client,
        &ns,
        &s3,
        "wrong-pass",
        json!({
            "source": { "s3": s3_source(&s3, s3.bucket(), "s3-dr-creds") },
            "decryption": { "passphraseSecret": { "name": "wrong-passphrase" } },
        }),
    )
    .await;

    let failed = wait_restore(&client, &ns, "no-creds", "Failed").await;
    let message = failed["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!(
            "spec.initFromBackup.source.s3.credentialsSecret: Secret {ns}/missing-creds not found"
        )),
        "{failed:#}"
    );
    let failed = wait_restore(&client, &ns, "no-bucket", "Failed").await;
    let message = failed["message"].as_str().unwrap();
    assert!(
        message.starts_with("spec.initFromBackup.source.s3") && message.contains("no-such-bucket"),
        "{failed:#}"
    );
    let failed = wait_restore(&client, &ns, "no-pass", "Failed").await;
    assert_eq!(
        failed["message"],
        "initFromBackup source is encrypted but no passphrase is available; set \
         initFromBackup.decryption.passphraseSecret or restore the profile's encryption.passphraseSecret"
    );
    for g in ["no-creds", "no-bucket", "no-pass"] {
        // The event follows the status write.
        kube_support::wait(
            &format!("a RestoreBuildFailed event about {g}"),
            Duration::from_secs(10),
            || async {
                warnings(&client, &ns, g)
                    .await
                    .iter()
                    .any(|(r, n)| r == "RestoreBuildFailed" && !n.is_empty())
            },
        )
        .await;
        let jobs: Api<Job> = Api::namespaced(client.clone(), &ns);
        assert!(
            jobs.get_opt(&format!("mysql-{g}-iad-restore"))
                .await
                .unwrap()
                .is_none(),
            "{g}: no Job for a restore that cannot start"
        );
    }

    // A wrong passphrase: the Job starts, its decrypt step fails, the restore is Failed and not retried.
    let running = wait_restore(&client, &ns, "wrong-pass", "Running").await;
    let ran = k.run_pod(running["jobName"].as_str().unwrap(), &[]).await;
    assert_eq!(ran.len(), 1, "the load never runs after a failed decrypt");
    assert_eq!(ran[0].name, "decrypt-download");
    assert_ne!(ran[0].code, 0);
    let failed = wait_restore(&client, &ns, "wrong-pass", "Failed").await;
    let message = failed["message"].as_str().unwrap();
    assert!(
        message.starts_with("restore Job mysql-wrong-pass-iad-restore failed: ")
            && message.contains("delete the Job"),
        "{failed:#}"
    );
    kube_support::wait(
        "a RestoreFailed event about wrong-pass",
        Duration::from_secs(10),
        || async {
            warnings(&client, &ns, "wrong-pass")
                .await
                .iter()
                .any(|(r, _)| r == "RestoreFailed")
        },
    )
    .await;
    assert_eq!(dr[0].sql("SHOW DATABASES LIKE 'd'").unwrap().trim(), "");
    // Nothing loops: the failed restore stays Failed, one RestoreFailed event.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let again = restore_status(&client, &ns, "wrong-pass").await;
    assert_eq!(again["phase"], "Failed");
    let n = warnings(&client, &ns, "wrong-pass")
        .await
        .iter()
        .filter(|(r, _)| r == "RestoreFailed")
        .count();
    assert_eq!(n, 1);
    // The failed decrypt stage is counted once, from the termination message's BLOODRAVEN_ENCRYPT_METRICS line.
    let metrics = operator.metrics().await;
    let failures = r#"bloodraven_backup_encrypt_failures_total{group="wrong-pass",profile="",stage="decrypt"} 1"#;
    assert!(
        metrics.contains(failures),
        "{failures} missing from\n{metrics}"
    );
    assert!(operator.is_running());
    delete_namespace(&client, &ns).await;
}

/// Whether `server`'s replication SQL thread runs (`Slave_SQL_Running`, the 12th column of `SHOW SLAVE STATUS`).
fn sql_thread_running(server: &MariaDb) -> bool {
    let row = server.sql("SHOW SLAVE STATUS").unwrap();
    row.split('\t').nth(11) == Some("Yes")
}

/// `status.sites[site]`'s (`sourceConvergenceState`, `sourceConvergenceReason`) as the runner last wrote them.
async fn convergence(client: &Client, ns: &str, group: &str, site: &str) -> (String, String) {
    let api: Api<MysqlFailoverGroup> = Api::namespaced(client.clone(), ns);
    let status = serde_json::to_value(&api.get(group).await.unwrap().status).unwrap();
    let entry = status["sites"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["name"] == site))
        .cloned()
        .unwrap_or(Value::Null);
    let field = |k: &str| entry[k].as_str().unwrap_or_default().to_owned();
    (
        field("sourceConvergenceState"),
        field("sourceConvergenceReason"),
    )
}

/// The gate holds: the runner reports `pdx` `Pending/SourceMismatch` and, several polls (1 s apart) later, has still
/// not started its replication.
async fn gate_held(client: &Client, ns: &str, pdx: &MariaDb) {
    let pending = ("Pending".to_owned(), "SourceMismatch".to_owned());
    kube_support::wait(
        "pdx reported Pending/SourceMismatch",
        Duration::from_secs(30),
        || async { convergence(client, ns, "gated", "pdx").await == pending },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(
        !sql_thread_running(pdx),
        "pdx's replication started before the restore Succeeded"
    );
    assert_eq!(convergence(client, ns, "gated", "pdx").await, pending);
}

/// The bootstrap gate as a user sees it: `pdx` has its source configured but its replication stopped. While the
/// restore has not Succeeded (Failed at build, then Running) the runner leaves it stopped and reports
/// `Pending/SourceMismatch` for it; once the restore Succeeded it starts `pdx`'s replication.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_waits_until_the_restore_succeeded() {
    let (client, kubeconfig) = cluster().await;
    let ns = namespace(&client, "e2e-restore-gate").await;
    let k = Kubelet::new(&client, &ns);
    let s3 = S3Server::start().unwrap();
    let (_source, _stop, _bad) = source_artifacts(&s3, &k.scratch).await;
    let dr = dr_servers();
    dr[1].sql("STOP SLAVE").unwrap();
    assert!(!sql_thread_running(&dr[1]));
    create_secrets(&client, &ns, &s3).await;
    let mut operator = Operator::start(&kubeconfig, &ns, &endpoints(&["gated"], &dr));
    // No passphrase for the encrypted source: the restore fails before any Job.
    create_group(
        &client,
        &ns,
        &s3,
        "gated",
        json!({ "source": { "s3": s3_source(&s3, s3.bucket(), "s3-dr-creds") } }),
    )
    .await;
    wait_restore(&client, &ns, "gated", "Failed").await;
    gate_held(&client, &ns, &dr[1]).await;
    assert_eq!(
        restore_status(&client, &ns, "gated").await["phase"],
        "Failed"
    );

    // With the passphrase the restore runs; the gate holds while its Job runs.
    let api: Api<MysqlFailoverGroup> = Api::namespaced(client.clone(), &ns);
    let patch = json!({ "spec": { "initFromBackup": {
        "decryption": { "passphraseSecret": { "name": "orders-backup-passphrase" } },
    }}});
    api.patch("gated", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    let running = wait_restore(&client, &ns, "gated", "Running").await;
    gate_held(&client, &ns, &dr[1]).await;
    assert_eq!(
        restore_status(&client, &ns, "gated").await["phase"],
        "Running"
    );

    k.run_pod_ok(running["jobName"].as_str().unwrap(), &[])
        .await;
    wait_restore(&client, &ns, "gated", "Succeeded").await;
    assert_eq!(
        dr[0]
            .sql("SELECT GROUP_CONCAT(id ORDER BY id) FROM d.t")
            .unwrap()
            .trim(),
        "1,2,3"
    );
    // Released: the runner starts pdx's replication from the restored site.
    kube_support::wait(
        "pdx's replication started after the restore",
        Duration::from_secs(30),
        || async { sql_thread_running(&dr[1]) },
    )
    .await;
    assert!(operator.is_running());
    delete_namespace(&client, &ns).await;
}

/// A MysqlBackup `name` of group `group` (profile `archive`) with `status` written, as the backup controller leaves
/// a finished one.
async fn create_backup(client: &Client, ns: &str, name: &str, group: &str, status: Value) {
    let api: Api<MysqlBackup> = Api::namespaced(client.clone(), ns);
    let backup: MysqlBackup = serde_json::from_value(json!({
        "apiVersion": "shipstream.io/v1alpha1",
        "kind": "MysqlBackup",
        "metadata": { "name": name },
        "spec": { "failoverGroupRef": { "name": group }, "profileName": "archive" },
    }))
    .unwrap();
    api.create(&PostParams::default(), &backup).await.unwrap();
    api.patch_status(
        name,
        &PatchParams::default(),
        &Patch::Merge(&json!({ "status": status })),
    )
    .await
    .unwrap();
}

/// `source.mysqlBackupRef`: a Succeeded, encrypted MysqlBackup is restored from its `status.location` with the
/// profile's passphrase; a missing backup and a Failed one fail the restore before any Job, naming the field, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dr_group_restores_a_named_mysql_backup_and_bad_references_name_the_field() {
    let (client, kubeconfig) = cluster().await;
    let ns = namespace(&client, "e2e-restore-ref").await;
    let k = Kubelet::new(&client, &ns);
    let s3 = S3Server::start().unwrap();
    let (_source, _stop, _bad) = source_artifacts(&s3, &k.scratch).await;
    let dr = dr_servers();
    create_secrets(&client, &ns, &s3).await;
    // Written before the manager starts, so the backup controller only ever sees them finished.
    create_backup(
        &client,
        &ns,
        "orders-1",
        "orders",
        json!({
            "phase": "Succeeded",
            "location": format!("s3://{}/orders/west/orders-1/", s3.bucket()),
            "storageType": "S3",
            "encrypted": true,
            "gtidExecuted": "0-21-3",
            "sizeBytes": 4096,
        }),
    )
    .await;
    create_backup(
        &client,
        &ns,
        "orders-failed",
        "orders",
        json!({ "phase": "Failed", "message": "dump failed" }),
    )
    .await;
    let groups = ["orders", "no-backup", "not-done"];
    let mut operator = Operator::start(&kubeconfig, &ns, &endpoints(&groups, &dr));
    for (group, backup) in [
        ("orders", "orders-1"),
        ("no-backup", "missing"),
        ("not-done", "orders-failed"),
    ] {
        create_group(
            &client,
            &ns,
            &s3,
            group,
            json!({ "source": { "mysqlBackupRef": { "name": backup } } }),
        )
        .await;
    }

    let running = wait_restore(&client, &ns, "orders", "Running").await;
    assert_eq!(running["sourceGtidExecuted"], "0-21-3", "{running:#}");
    assert_eq!(running["sourceSizeBytes"], 4096, "{running:#}");
    k.run_pod_ok(
        running["jobName"].as_str().unwrap(),
        &["decrypt-download", "mysqlsh"],
    )
    .await;
    let done = wait_restore(&client, &ns, "orders", "Succeeded").await;
    assert_eq!(
        dr[0]
            .sql("SELECT GROUP_CONCAT(id ORDER BY id) FROM d.t")
            .unwrap()
            .trim(),
        "1,2,3",
        "{done:#}"
    );
    // The decrypt step is counted under the source backup's profile.
    let metrics = operator.metrics().await;
    let decrypt =
        r#"bloodraven_backup_decrypt_duration_seconds_count{group="orders",profile="archive"} 1"#;
    assert!(
        metrics.contains(decrypt),
        "{decrypt} missing from\n{metrics}"
    );

    for (group, message) in [
        (
            "no-backup",
            r#"spec.initFromBackup.source.mysqlBackupRef: MysqlBackup "missing" not found"#,
        ),
        (
            "not-done",
            r#"spec.initFromBackup.source.mysqlBackupRef: MysqlBackup "orders-failed" is Failed, not Succeeded"#,
        ),
    ] {
        let failed = wait_restore(&client, &ns, group, "Failed").await;
        assert_eq!(failed["message"], message, "{failed:#}");
        let jobs: Api<Job> = Api::namespaced(client.clone(), &ns);
        assert!(
            jobs.get_opt(&format!("mysql-{group}-iad-restore"))
                .await
                .unwrap()
                .is_none(),
            "{group}: no Job for a restore that cannot start"
        );
    }
    // No loop: a few seconds later each still has exactly one RestoreBuildFailed event.
    tokio::time::sleep(Duration::from_secs(3)).await;
    for group in ["no-backup", "not-done"] {
        assert_eq!(restore_status(&client, &ns, group).await["phase"], "Failed");
        let w = warnings(&client, &ns, group).await;
        let n = w.iter().filter(|(r, _)| r == "RestoreBuildFailed").count();
        assert_eq!(n, 1, "{group}: {w:?}");
    }
    // Once the named backup exists and Succeeded, the restore goes on by itself (looked at again every 30 s).
    create_backup(
        &client,
        &ns,
        "missing",
        "no-backup",
        json!({
            "phase": "Succeeded",
            "location": format!("s3://{}/orders/west/orders-1/", s3.bucket()),
            "storageType": "S3",
            "encrypted": true,
        }),
    )
    .await;
    let running = wait_restore(&client, &ns, "no-backup", "Running").await;
    assert_eq!(
        running["jobName"], "mysql-no-backup-iad-restore",
        "{running:#}"
    );
    assert!(operator.is_running());
    delete_namespace(&client, &ns).await;
}

/// No site is writable: both sites are read-only (fenced, not replicating) and the failover cooldown keeps the
/// runner from promoting either. The restore does not fall back to writing into that seed site: it stays `Pending`, warns once with
/// `RestoreTargetUnavailable` and creates no Job. Once the site is writable it goes on and creates the Job.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_never_writes_into_a_read_only_seed_site() {
    let (client, kubeconfig) = cluster().await;
    let ns = namespace(&client, "e2e-restore-ro").await;
    let servers: Vec<MariaDb> = (0..2)
        .map(|i| {
            MariaDb::builder()
                .server_id(i as u32 + 41)
                .arg(format!("--bind-address=127.0.0.1,{}", host(i)))
                .arg("--read-only=1")
                .start()
                .expect("start mariadbd")
        })
        .collect();
    let server = &servers[0];
    // iad holds data pdx lacks: pdx (the last failover target below) is not GTID-complete, so it is not
    // re-asserted, and promoting iad is cooldown-gated.
    server
        .sql("SET GLOBAL read_only = OFF; CREATE DATABASE keep; SET GLOBAL read_only = ON")
        .unwrap();
    create_secret(
        &client,
        &ns,
        "orders-operator",
        json!({ "username": "root", "password": "" }),
    )
    .await;
    let mut operator = Operator::start(&kubeconfig, &ns, &endpoints(&["fenced"], &servers));
    // A promotion of pdx a moment ago: the cooldown (1 h) holds both sites read-only.
    let storage = json!({ "storageClassName": "local", "size": "1Gi" });
    let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let group: MysqlFailoverGroup = serde_json::from_value(json!({
        "apiVersion": "shipstream.io/v1alpha1",
        "kind": "MysqlFailoverGroup",
        "metadata": {
            "name": "fenced",
            "annotations": {
                "bloodraven.shipstream.io/last-failover": now,
                "bloodraven.shipstream.io/last-failover-target": "pdx",
            },
        },
        "spec": {
            "image": "mariadb:11.4",
            "credentials": { "operatorSecret": "orders-operator" },
            "dns": { "hostname": "fenced.example.test" },
            "pollInterval": "1s",
            "failoverCooldown": "1h",
            "sites": [
                { "name": "iad", "zone": "a", "lbIP": "192.0.2.1", "storage": storage },
                { "name": "pdx", "zone": "b", "lbIP": "192.0.2.2", "storage": storage },
            ],
            "initFromBackup": { "source": { "pvc": { "claimName": "dumps", "subPath": "orders-1" } } },
        },
    }))
    .unwrap();
    let api: Api<MysqlFailoverGroup> = Api::namespaced(client.clone(), &ns);
    api.create(&PostParams::default(), &group).await.unwrap();

    let refused = |w: &(String, String)| {
        w.0 == "RestoreTargetUnavailable" && w.1.contains("seed site \"iad\" is read-only")
    };
    kube_support::wait(
        "the RestoreTargetUnavailable warning",
        Duration::from_secs(60),
        || async { warnings(&client, &ns, "fenced").await.iter().any(refused) },
    )
    .await;
    // The event comes first, then the status.
    let pending = wait_restore(&client, &ns, "fenced", "Pending").await;
    assert!(
        pending["message"]
            .as_str()
            .is_some_and(|m| m.contains("seed site \"iad\" is read-only")),
        "{pending:#}"
    );
    // Several polls and a recheck later: still no Job, the server untouched and still read-only, one warning.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let jobs: Api<Job> = Api::namespaced(client.clone(), &ns);
    assert!(
        jobs.get_opt("mysql-fenced-iad-restore")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(server.sql("SELECT @@global.read_only").unwrap().trim(), "1");
    assert_eq!(
        server.sql("SHOW DATABASES LIKE 'keep'").unwrap().trim(),
        "keep"
    );
    assert_eq!(
        restore_status(&client, &ns, "fenced").await["phase"],
        "Pending"
    );
    let n = warnings(&client, &ns, "fenced")
        .await
        .iter()
        .filter(|w| refused(w))
        .count();
    assert_eq!(n, 1);

    // The site becomes writable (an operator unfenced it): the restore goes on and creates its Job there.
    server.sql("SET GLOBAL read_only = OFF").unwrap();
    let running = wait_restore(&client, &ns, "fenced", "Running").await;
    assert_eq!(running["targetSite"], "iad", "{running:#}");
    assert_eq!(
        running["jobName"], "mysql-fenced-iad-restore",
        "{running:#}"
    );
    assert!(operator.is_running());
    delete_namespace(&client, &ns).await;
}
