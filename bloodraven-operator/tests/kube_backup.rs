//! MysqlBackups end to end on the real Kubernetes API server (v1.20, no kubelet) with real MariaDB servers and the
//! loopback S3 server. The `bloodraven` manager renders each backup's Job; the test plays the kubelet and the Job
//! controller: it runs the Job's command line and environment as a local process (the same binary; Secret volumes
//! written to temporary folders at the mount paths' place, `/dev/termination-log` a temporary file), then records
//! the pod's termination message and the Job's completion in their status, as those controllers would.

mod kube_support;
mod live_support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use bloodraven_api::backup::MysqlBackup;
use bloodraven_api::failovergroup::MysqlFailoverGroup;
use bloodraven_api::verification::MysqlBackupVerification;
use bloodraven_test_support::mariadb::MariaDb;
use bloodraven_test_support::s3::S3Server;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::{Client, ResourceExt};
use kube_support::kubelet::Kubelet;
use kube_support::{Operator, cluster, create_secret, namespace, wait};
use live_support::{Group, host};
use serde_json::{Value, json};

/// One `bloodraven` manager, reaching the sites of group `orders` at the test's servers.
fn start_operator(kubeconfig: &Path, namespace: &str, group: &Group) -> Operator {
    let endpoints: Vec<(&str, &str, String, u16)> = ["iad", "pdx"]
        .iter()
        .enumerate()
        .map(|(i, site)| ("orders", *site, host(i), group.servers[i].port()))
        .collect();
    Operator::start(kubeconfig, namespace, &endpoints)
}

/// `/pitr-cutoff` of group `orders`, profile `nightly`: status code and body.
async fn pitr_cutoff(operator: &Operator, namespace: &str) -> (u16, Value) {
    let r = reqwest::get(format!(
        "http://127.0.0.1:{}/pitr-cutoff?namespace={namespace}&group=orders&profile=nightly",
        operator.aux_port
    ))
    .await
    .unwrap();
    let code = r.status().as_u16();
    (
        code,
        serde_json::from_str(&r.text().await.unwrap()).unwrap_or(Value::Null),
    )
}

/// Group `orders` over the test servers with an encrypted S3 profile `nightly` (retention count 2), a profile
/// `broken` whose passphrase Secret does not exist, and a retry of failed scheduled backups (2 attempts, 3 s).
async fn create_group(client: &Client, namespace: &str, s3: &S3Server) {
    create_secret(
        client,
        namespace,
        "orders-operator",
        json!({ "username": "root", "password": "" }),
    )
    .await;
    create_secret(
        client,
        namespace,
        "s3-creds",
        json!({
            "AWS_ACCESS_KEY_ID": s3.access_key(),
            "AWS_SECRET_ACCESS_KEY": s3.secret_key(),
            "AWS_REGION": s3.region(),
        }),
    )
    .await;
    create_secret(
        client,
        namespace,
        "backup-pass",
        json!({ "passphrase": "correct horse battery staple" }),
    )
    .await;
    let storage = json!({ "storageClassName": "local", "size": "1Gi" });
    let s3_storage = json!({
        "type": "S3",
        "s3": {
            "bucket": s3.bucket(), "prefix": "orders", "region": s3.region(),
            "endpointURL": s3.endpoint(), "credentialsSecret": "s3-creds",
        },
    });
    let group: MysqlFailoverGroup = serde_json::from_value(json!({
        "apiVersion": "shipstream.io/v1alpha1",
        "kind": "MysqlFailoverGroup",
        "metadata": { "name": "orders" },
        "spec": {
            "image": "mariadb:11.4",
            "credentials": { "operatorSecret": "orders-operator" },
            "dns": { "hostname": "orders.example.test" },
            "pollInterval": "1s",
            "failoverCooldown": "1m",
            "sites": [
                { "name": "iad", "zone": "a", "lbIP": "192.0.2.1", "storage": storage },
                { "name": "pdx", "zone": "b", "lbIP": "192.0.2.2", "storage": storage },
            ],
            "backup": {
                "maxLagSecondsForSource": 30,
                "retry": { "maxAttempts": 2, "initialBackoffSeconds": 3, "maxBackoffSeconds": 4 },
                "schedules": [{ "name": "hourly", "profileName": "nightly", "schedule": "0 * * * *" }],
                "profiles": [
                    {
                        "name": "nightly",
                        "storage": s3_storage,
                        "dump": { "threads": 2 },
                        "retentionPolicy": { "count": 2, "minKeep": 1 },
                        "encryption": { "passphraseSecret": { "name": "backup-pass" } },
                    },
                    {
                        "name": "broken",
                        "storage": s3_storage,
                        "encryption": { "passphraseSecret": { "name": "no-such-secret" } },
                    },
                ],
            },
        },
    }))
    .unwrap();
    let api: Api<MysqlFailoverGroup> = Api::namespaced(client.clone(), namespace);
    api.create(&PostParams::default(), &group).await.unwrap();
}

async fn create_backup(api: &Api<MysqlBackup>, name: &str, group: &str, profile: &str) {
    let b: MysqlBackup = serde_json::from_value(json!({
        "apiVersion": "shipstream.io/v1alpha1",
        "kind": "MysqlBackup",
        "metadata": { "name": name },
        "spec": { "failoverGroupRef": { "name": group }, "profileName": profile, "triggeredBy": "e2e" },
    }))
    .unwrap();
    api.create(&PostParams::default(), &b).await.unwrap();
}

fn status(b: &MysqlBackup) -> Value {
    serde_json::to_value(&b.status).unwrap()
}

async fn wait_status(
    api: &Api<MysqlBackup>,
    name: &str,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let mut last = Value::Null;
    let start = Instant::now();
    loop {
        if let Some(b) = api.get_opt(name).await.unwrap() {
            last = status(&b);
            if check(&last) {
                return last;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "timed out waiting for {name} {what}; status {last:#}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn condition(status: &Value, type_: &str) -> Value {
    status["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == type_).cloned())
        .unwrap_or(Value::Null)
}

async fn warnings(client: &Client, namespace: &str, object: &str) -> Vec<(String, String)> {
    let api: Api<Event> = Api::namespaced(client.clone(), namespace);
    api.list(&ListParams::default())
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(object))
        .filter(|e| e.type_.as_deref() == Some("Warning"))
        .map(|e| (e.reason.unwrap_or_default(), e.note.unwrap_or_default()))
        .collect()
}

/// Runs backup `name` to Succeeded: waits for its Job, runs it, waits for the phase.
async fn run_backup(api: &Api<MysqlBackup>, kubelet: &Kubelet, name: &str) -> Value {
    create_backup(api, name, "orders", "nightly").await;
    let running = wait_status(api, name, "Running with a Job", |s| {
        s["phase"] == "Running" && s["jobName"].is_string()
    })
    .await;
    let ran = kubelet.run(running["jobName"].as_str().unwrap(), &[]).await;
    assert_eq!(ran.code, 0, "the dump Job failed: {}", ran.stderr);
    assert!(
        ran.termination_message.contains("BLOODRAVEN_DUMP_COMPLETE"),
        "{}",
        ran.termination_message
    );
    wait_status(api, name, "Succeeded", |s| s["phase"] == "Succeeded").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_style_backups_succeed_are_restorable_and_kept_by_count() {
    let (client, kubeconfig) = cluster().await;
    let ns = namespace(&client, "e2e-backup").await;
    let group = Group::start(2);
    group.servers[0]
        .sql("INSERT INTO d.t VALUES (1, 'a'), (2, 'b'), (3, 'c')")
        .unwrap();
    group.wait_caught_up(1, 0, Duration::from_secs(20));
    let s3 = S3Server::start().unwrap();
    create_group(&client, &ns, &s3).await;
    let mut operator = start_operator(&kubeconfig, &ns, &group);
    let groups: Api<MysqlFailoverGroup> = Api::namespaced(client.clone(), &ns);
    wait(
        "pdx replicating in the group's status",
        Duration::from_secs(60),
        || async {
            let g = groups.get("orders").await.unwrap();
            let s = serde_json::to_value(&g.status).unwrap();
            s["activeSite"] == "iad" && s.pointer("/sites/1/replicating") == Some(&json!(true))
        },
    )
    .await;
    let backups: Api<MysqlBackup> = Api::namespaced(client.clone(), &ns);
    let kubelet = Kubelet::new(&client, &ns);

    // The first backup: the replica is the source, the Job is on the server as rendered, the status carries the
    // dump's GTID set, size and location, and the artifact is encrypted in the bucket.
    let first = run_backup(&backups, &kubelet, "orders-1").await;
    let expected_gtid = group.servers[0].sql("SELECT @@gtid_binlog_pos").unwrap();
    assert_eq!(first["sourceSite"], "pdx", "{first:#}");
    assert_eq!(first["gtidExecuted"], expected_gtid.trim(), "{first:#}");
    assert_eq!(
        first["location"],
        format!("s3://{}/orders/orders-1/", s3.bucket())
    );
    assert_eq!(first["encrypted"], true);
    assert_eq!(first["storageType"], "S3");
    let size = first["sizeBytes"].as_i64().unwrap();
    assert!(size > 0, "{first:#}");
    assert_eq!(
        first["size"],
        bloodraven_backup_size(u64::try_from(size).unwrap())
    );
    assert_eq!(condition(&first, "Ready")["reason"], "Succeeded");
    assert_eq!(condition(&first, "JobCreated")["status"], "True");
    // The sidecar's archive pruning asks for the earliest completion of the profile's Succeeded backups.
    wait("the cutoff of orders-1", Duration::from_secs(30), || async {
        pitr_cutoff(&operator, &ns).await == (200, json!({
            "namespace": ns, "group": "orders", "profile": "nightly", "cutoffTime": first["completionTime"],
        }))
    })
    .await;
    let dir = s3.root().join(s3.bucket()).join("orders/orders-1");
    assert!(
        dir.join("@.done.json").exists(),
        "no completion marker in {}",
        dir.display()
    );
    wait(
        "the group's lastBackupTime",
        Duration::from_secs(30),
        || async {
            let g = groups.get("orders").await.unwrap();
            g.status.and_then(|s| s.last_backup_time).is_some()
        },
    )
    .await;
    let jobs: Api<Job> = Api::namespaced(client.clone(), &ns);
    let job = jobs.get(first["jobName"].as_str().unwrap()).await.unwrap();
    assert_eq!(job.owner_references()[0].name, "orders-1");
    assert!(job.finalizers().is_empty());
    assert_eq!(
        backups.get("orders-1").await.unwrap().finalizers(),
        ["shipstream.io/mysqlbackup"]
    );

    // The artifact restores into an empty server with the same Job environment (`bloodraven restore`), and a
    // wrong passphrase is refused with the reason.
    let target = MariaDb::builder().server_id(9).start().unwrap();
    let pass = kubelet.scratch.join("pass");
    std::fs::write(&pass, "correct horse battery staple").unwrap();
    let wrong = kubelet.scratch.join("wrong");
    std::fs::write(&wrong, "not the passphrase at all").unwrap();
    let restore = |passphrase: &Path| {
        Command::new(env!("CARGO_BIN_EXE_bloodraven"))
            .arg("restore")
            .env("BLOODRAVEN_STORAGE_TYPE", "S3")
            .env("BLOODRAVEN_S3_BUCKET", s3.bucket())
            .env("BLOODRAVEN_S3_ENDPOINT_OVERRIDE", s3.endpoint())
            .env("AWS_REGION", s3.region())
            .env(
                "BLOODRAVEN_AWS_CREDS_DIR",
                kubelet.scratch.join("orders-1-dump/aws-creds"),
            )
            .env("BLOODRAVEN_INPUT_URL", first["location"].as_str().unwrap())
            .env(
                "BLOODRAVEN_MYSQL_HOST",
                format!("127.0.0.1:{}", target.port()),
            )
            .env("MYSQL_USER", "root")
            .env("BLOODRAVEN_BACKUP_PASSPHRASE_FILE", passphrase)
            .output()
            .unwrap()
    };
    let refused = restore(&wrong);
    assert_eq!(refused.status.code(), Some(2));
    let why = String::from_utf8_lossy(&refused.stderr);
    assert!(why.contains("bloodraven:"), "{why}");
    assert_eq!(
        target
            .sql("SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = 'd'")
            .unwrap()
            .trim(),
        "0"
    );
    let restored = restore(&pass);
    let out = String::from_utf8_lossy(&restored.stdout);
    assert!(
        restored.status.success(),
        "{}",
        String::from_utf8_lossy(&restored.stderr)
    );
    let line = out
        .lines()
        .find(|l| l.starts_with("BLOODRAVEN_RESTORE_COMPLETE"))
        .unwrap();
    assert!(
        line.contains(&format!("sourceGtidExecuted={}", expected_gtid.trim())),
        "{line}"
    );
    assert_eq!(
        target
            .sql("SELECT GROUP_CONCAT(writer ORDER BY id) FROM d.t")
            .unwrap()
            .trim(),
        "a,b,c"
    );

    // Two more: retention (count 2) deletes the oldest CR, and its finalizer deletes its artifact.
    for name in ["orders-2", "orders-3"] {
        // Completion times have one-second resolution; keep them apart so "oldest" is well defined.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        run_backup(&backups, &kubelet, name).await;
    }
    wait(
        "orders-1 deleted by retention",
        Duration::from_secs(60),
        || async { backups.get_opt("orders-1").await.unwrap().is_none() },
    )
    .await;
    assert!(
        !dir.exists() || std::fs::read_dir(&dir).unwrap().next().is_none(),
        "artifact of orders-1 kept"
    );
    let second = status(&backups.get("orders-2").await.unwrap());
    wait(
        "the cutoff moves to orders-2",
        Duration::from_secs(30),
        || async { pitr_cutoff(&operator, &ns).await.1["cutoffTime"] == second["completionTime"] },
    )
    .await;
    for name in ["orders-2", "orders-3"] {
        assert_eq!(
            status(&backups.get(name).await.unwrap())["phase"],
            "Succeeded"
        );
        assert!(
            s3.root()
                .join(s3.bucket())
                .join("orders")
                .join(name)
                .join("@.done.json")
                .exists()
        );
    }

    // What the schedule's CronJob runs (batch/v1 CronJobs are not served by this v1.20 control plane, so the test
    // runs its command): the backup it creates carries the schedule and shows in the group's backupSchedules.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let trigger = Command::new(env!("CARGO_BIN_EXE_bloodraven"))
        .args([
            "trigger-backup",
            "--group=orders",
            "--profile=nightly",
            "--schedule=hourly",
        ])
        .env("KUBECONFIG", &kubeconfig)
        .env("POD_NAMESPACE", &ns)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&trigger.stdout);
    assert!(
        trigger.status.success(),
        "{}",
        String::from_utf8_lossy(&trigger.stderr)
    );
    let scheduled = out.trim().rsplit('/').next().unwrap().to_owned();
    assert!(scheduled.starts_with("orders-hourly-"), "{out}");
    let b = backups.get(&scheduled).await.unwrap();
    assert_eq!(b.labels()["shipstream.io/backup-schedule"], "hourly");
    assert_eq!(b.spec.triggered_by.as_deref(), Some("hourly"));
    let running = wait_status(&backups, &scheduled, "Running", |s| {
        s["jobName"].is_string()
    })
    .await;
    assert_eq!(
        kubelet
            .run(running["jobName"].as_str().unwrap(), &[])
            .await
            .code,
        0
    );
    wait_status(&backups, &scheduled, "Succeeded", |s| {
        s["phase"] == "Succeeded"
    })
    .await;
    wait(
        "the group's backupSchedules",
        Duration::from_secs(90),
        || async {
            let g = groups.get("orders").await.unwrap();
            let s = serde_json::to_value(&g.status).unwrap();
            let h = &s["backupSchedules"][0];
            h["name"] == "hourly"
                && h["cronJobName"] == "mysql-orders-backup-hourly"
                && h["lastSuccessfulBackupName"] == scheduled.as_str()
                && h["lastBackupPhase"] == "Succeeded"
        },
    )
    .await;
    assert!(operator.is_running());
}

/// Runs what the `hourly` CronJob runs (`bloodraven trigger-backup`) and returns the created backup's name.
fn trigger_hourly(kubeconfig: &Path, namespace: &str) -> String {
    let trigger = Command::new(env!("CARGO_BIN_EXE_bloodraven"))
        .args([
            "trigger-backup",
            "--group=orders",
            "--profile=nightly",
            "--schedule=hourly",
        ])
        .env("KUBECONFIG", kubeconfig)
        .env("POD_NAMESPACE", namespace)
        .output()
        .unwrap();
    assert!(
        trigger.status.success(),
        "{}",
        String::from_utf8_lossy(&trigger.stderr)
    );
    let out = String::from_utf8_lossy(&trigger.stdout);
    out.trim().rsplit('/').next().unwrap().to_owned()
}

/// Waits for backup `name`'s Job and runs it; `fail` points the dump at a closed port so it fails.
async fn run_job(api: &Api<MysqlBackup>, kubelet: &Kubelet, name: &str, fail: bool) -> Value {
    let running = wait_status(api, name, "Running with a Job", |s| {
        s["phase"] == "Running" && s["jobName"].is_string()
    })
    .await;
    let env: &[(&str, &str)] = if fail {
        &[("BLOODRAVEN_MYSQL_HOST", "127.0.0.1:1")]
    } else {
        &[]
    };
    let ran = kubelet.run(running["jobName"].as_str().unwrap(), env).await;
    assert_eq!(ran.code != 0, fail, "{}", ran.stderr);
    let phase = if fail { "Failed" } else { "Succeeded" };
    wait_status(api, name, phase, |s| s["phase"] == phase).await
}

/// The backups of schedule `hourly`, by attempt number: (name, attempt, creation time).
async fn hourly_backups(api: &Api<MysqlBackup>) -> Vec<(String, i64, i64)> {
    let mut out: Vec<(String, i64, i64)> = api
        .list(&ListParams::default().labels("shipstream.io/backup-schedule=hourly"))
        .await
        .unwrap()
        .into_iter()
        .map(|b| {
            let attempt = b.status.as_ref().and_then(|s| s.attempt).unwrap_or(0);
            let created = b
                .metadata
                .creation_timestamp
                .as_ref()
                .unwrap()
                .0
                .as_second();
            (b.name_any(), i64::from(attempt), created)
        })
        .collect();
    out.sort_by_key(|(_, _, c)| *c);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_scheduled_backup_is_retried_after_its_backoff_until_max_attempts() {
    let (client, ns, _group, _s3, mut operator) = setup("e2e-backup-retry").await;
    let (_, kubeconfig) = cluster().await;
    let backups: Api<MysqlBackup> = Api::namespaced(client.clone(), &ns);
    let groups: Api<MysqlFailoverGroup> = Api::namespaced(client.clone(), &ns);
    let kubelet = Kubelet::new(&client, &ns);
    let hourly = |g: &MysqlFailoverGroup| {
        serde_json::to_value(&g.status).unwrap()["backupSchedules"][0].clone()
    };

    // The scheduled run fails: the schedule's status says when the retry comes, and it comes no earlier than
    // initialBackoffSeconds after the failure, as attempt 2 of the same schedule.
    let first = trigger_hourly(&kubeconfig, &ns);
    let failed = run_job(&backups, &kubelet, &first, true).await;
    assert_eq!(failed["attempt"], 1, "{failed:#}");
    let failed_at = serde_json::from_value::<k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>(
        failed["completionTime"].clone(),
    )
    .unwrap()
    .0
    .as_second();
    let start = Instant::now();
    let next_retry = loop {
        let h = hourly(&groups.get("orders").await.unwrap());
        if h["lastBackupName"] == first.as_str() && h["nextRetryTime"].is_string() {
            break h["nextRetryTime"].clone();
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no nextRetryTime for schedule hourly: {h:#}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let due =
        serde_json::from_value::<k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>(next_retry)
            .unwrap()
            .0
            .as_second();
    assert_eq!(due, failed_at + 3);
    wait("the retry backup", Duration::from_secs(30), || async {
        hourly_backups(&backups).await.len() == 2
    })
    .await;
    let (retry, _, created) = hourly_backups(&backups).await[1].clone();
    assert!(retry.starts_with("orders-nightly-r2-"), "{retry}");
    assert!(
        created >= failed_at + 3,
        "created {created}, failed at {failed_at}"
    );
    let b = backups.get(&retry).await.unwrap();
    assert_eq!(
        b.spec.triggered_by.as_deref(),
        Some("retry/hourly/attempt-2")
    );
    assert_eq!(b.labels()["shipstream.io/backup-profile"], "nightly");
    wait(
        "the BackupRetryScheduled event",
        Duration::from_secs(30),
        || async {
            let api: Api<Event> = Api::namespaced(client.clone(), &ns);
            api.list(&ListParams::default())
                .await
                .unwrap()
                .into_iter()
                .any(|e| {
                    e.reason.as_deref() == Some("BackupRetryScheduled")
                        && e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("orders")
                        && e.note
                            .as_deref()
                            .is_some_and(|n| n.contains(&first) && n.contains("#2"))
                })
        },
    )
    .await;
    // The retry succeeds: attempt 2, and the schedule's status shows it.
    let ok = run_job(&backups, &kubelet, &retry, false).await;
    assert_eq!(ok["attempt"], 2, "{ok:#}");
    wait(
        "schedule hourly after the retry",
        Duration::from_secs(30),
        || async {
            let h = hourly(&groups.get("orders").await.unwrap());
            h["lastBackupName"] == retry.as_str()
                && h["lastBackupPhase"] == "Succeeded"
                && h["lastSuccessfulBackupName"] == retry.as_str()
                && h["lastRetryAttempt"] == 2
                && h["nextRetryTime"].is_null()
        },
    )
    .await;

    // The next run fails twice: attempt 2 is the last of maxAttempts 2, so nothing follows it.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let second = trigger_hourly(&kubeconfig, &ns);
    run_job(&backups, &kubelet, &second, true).await;
    wait(
        "the second run's retry",
        Duration::from_secs(30),
        || async { hourly_backups(&backups).await.len() == 4 },
    )
    .await;
    let (last, _, _) = hourly_backups(&backups).await[3].clone();
    assert!(
        last.starts_with("orders-nightly-r2-") && last != retry,
        "{last}"
    );
    let exhausted = run_job(&backups, &kubelet, &last, true).await;
    assert_eq!(exhausted["attempt"], 2, "{exhausted:#}");
    // Longer than the largest backoff (maxBackoffSeconds 4) plus a resync of the schedules.
    tokio::time::sleep(Duration::from_secs(8)).await;
    let all = hourly_backups(&backups).await;
    assert_eq!(all.len(), 4, "{all:?}");
    assert_eq!(
        all.iter().map(|(_, a, _)| *a).collect::<Vec<_>>(),
        [1, 2, 1, 2]
    );
    let h = hourly(&groups.get("orders").await.unwrap());
    assert_eq!(h["lastBackupName"], last.as_str(), "{h:#}");
    assert_eq!(h["lastBackupPhase"], "Failed", "{h:#}");
    assert_eq!(h["lastRetryAttempt"], 2, "{h:#}");
    assert!(h["nextRetryTime"].is_null(), "{h:#}");
    assert!(operator.is_running());
}

fn bloodraven_backup_size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_backups_fail_with_the_field_at_fault_and_the_operator_keeps_running() {
    let (client, kubeconfig) = cluster().await;
    let ns = namespace(&client, "e2e-backup-bad").await;
    let group = Group::start(2);
    let s3 = S3Server::start().unwrap();
    create_group(&client, &ns, &s3).await;
    let mut operator = start_operator(&kubeconfig, &ns, &group);
    let backups: Api<MysqlBackup> = Api::namespaced(client.clone(), &ns);
    create_backup(&backups, "no-group", "carts", "nightly").await;
    create_backup(&backups, "no-profile", "orders", "weekly").await;
    create_backup(&backups, "no-secret", "orders", "broken").await;
    for (name, reason, names) in [
        ("no-group", "GroupNotFound", "spec.failoverGroupRef.name"),
        (
            "no-profile",
            "ProfileNotFound",
            "spec.profileName \"weekly\"",
        ),
        ("no-secret", "BuildJobFailed", "Secret"),
    ] {
        let s = wait_status(&backups, name, "Failed", |s| s["phase"] == "Failed").await;
        let ready = condition(&s, "Ready");
        assert_eq!(ready["status"], "False", "{s:#}");
        assert_eq!(ready["reason"], reason, "{s:#}");
        assert!(s["message"].as_str().unwrap().contains(names), "{s:#}");
        wait("the Warning event", Duration::from_secs(30), || async {
            warnings(&client, &ns, name)
                .await
                .iter()
                .any(|(r, _)| r == reason)
        })
        .await;
    }
    let s = status(&backups.get("no-secret").await.unwrap());
    assert!(
        s["message"].as_str().unwrap().contains("no-such-secret")
            && s["message"]
                .as_str()
                .unwrap()
                .contains("encryption.passphraseSecret"),
        "{s:#}"
    );
    assert!(
        s["jobName"].is_null(),
        "no Job for a backup that cannot be built: {s:#}"
    );
    // Failed backups are final: deleting one goes through the finalizer without an artifact to remove.
    backups
        .delete("no-profile", &DeleteParams::default())
        .await
        .unwrap();
    wait("no-profile deleted", Duration::from_secs(30), || async {
        backups.get_opt("no-profile").await.unwrap().is_none()
    })
    .await;
    assert!(operator.is_running());
}

/// Group `orders` with its servers, the S3 server and a running manager, the group polled.
async fn setup(prefix: &str) -> (Client, String, Group, S3Server, Operator) {
    let (client, kubeconfig) = cluster().await;
    let ns = namespace(&client, prefix).await;
    let group = Group::start(2);
    group.servers[0]
        .sql("INSERT INTO d.t VALUES (1, 'a'), (2, 'b'), (3, 'c')")
        .unwrap();
    group.wait_caught_up(1, 0, Duration::from_secs(20));
    let s3 = S3Server::start().unwrap();
    create_group(&client, &ns, &s3).await;
    let operator = start_operator(&kubeconfig, &ns, &group);
    let groups: Api<MysqlFailoverGroup> = Api::namespaced(client.clone(), &ns);
    wait(
        "pdx replicating in the group's status",
        Duration::from_secs(60),
        || async {
            let g = groups.get("orders").await.unwrap();
            let s = serde_json::to_value(&g.status).unwrap();
            s["activeSite"] == "iad" && s.pointer("/sites/1/replicating") == Some(&json!(true))
        },
    )
    .await;
    (client, ns, group, s3, operator)
}

async fn create_verification(api: &Api<MysqlBackupVerification>, name: &str, spec: Value) {
    let mut s = json!({ "failoverGroupRef": { "name": "orders" }, "profileName": "nightly", "triggeredBy": "e2e" });
    s.as_object_mut()
        .unwrap()
        .extend(spec.as_object().unwrap().clone());
    let v: MysqlBackupVerification = serde_json::from_value(json!({
        "apiVersion": "shipstream.io/v1alpha1",
        "kind": "MysqlBackupVerification",
        "metadata": { "name": name },
        "spec": s,
    }))
    .unwrap();
    api.create(&PostParams::default(), &v).await.unwrap();
}

async fn wait_run(
    api: &Api<MysqlBackupVerification>,
    name: &str,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let mut last = Value::Null;
    let start = Instant::now();
    loop {
        if let Some(v) = api.get_opt(name).await.unwrap() {
            last = serde_json::to_value(&v.status).unwrap();
            if check(&last) {
                return last;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "timed out waiting for {name} {what}; status {last:#}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verifications_pass_fail_on_a_tampered_backup_and_refuse_a_second_run() {
    let (client, ns, _group, s3, mut operator) = setup("e2e-verify").await;
    let backups: Api<MysqlBackup> = Api::namespaced(client.clone(), &ns);
    let runs: Api<MysqlBackupVerification> = Api::namespaced(client.clone(), &ns);
    let kubelet = Kubelet::new(&client, &ns);
    run_backup(&backups, &kubelet, "orders-1").await;

    // A verification of the newest backup with a sanity query; a second one meanwhile is refused.
    let sanity = json!({ "sanityCheck": { "query": "SELECT COUNT(*) FROM d.t", "expect": { "minRows": 3 } } });
    create_verification(&runs, "drill-1", sanity.clone()).await;
    let restoring = wait_run(&runs, "drill-1", "Restoring", |s| s["phase"] == "Restoring").await;
    assert_eq!(restoring["backupRef"]["name"], "orders-1");
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), &ns);
    let pvc = pvcs
        .get(restoring["pvcName"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_value(
            &pvc.spec
                .as_ref()
                .unwrap()
                .resources
                .as_ref()
                .unwrap()
                .requests
        )
        .unwrap()["storage"],
        "10Gi"
    );
    create_verification(&runs, "drill-2", sanity.clone()).await;
    let blocked = wait_run(&runs, "drill-2", "Failed", |s| s["phase"] == "Failed").await;
    assert_eq!(
        condition(&blocked, "Verified")["reason"],
        "BlockedByActiveVerification",
        "{blocked:#}"
    );
    assert!(
        blocked["message"].as_str().unwrap().contains("drill-1"),
        "{blocked:#}"
    );
    assert!(blocked["jobName"].is_null());

    let job = restoring["jobName"].as_str().unwrap().to_owned();
    let ran = kubelet.run(&job, &[]).await;
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let done = wait_run(&runs, "drill-1", "Succeeded", |s| s["phase"] == "Succeeded").await;
    assert_eq!(condition(&done, "Verified")["status"], "True", "{done:#}");
    assert_eq!(
        condition(&done, "ResourcesCleanedUp")["status"],
        "True",
        "{done:#}"
    );
    assert_eq!(done["sanityCheck"]["ran"], true);
    assert_eq!(done["sanityCheck"]["resultRow"], "3", "{done:#}");
    let jobs: Api<Job> = Api::namespaced(client.clone(), &ns);
    wait(
        "the verification Job and PVC removed",
        Duration::from_secs(60),
        || async {
            jobs.get_opt(&job).await.unwrap().is_none()
                && pvcs
                    .get_opt(done["pvcName"].as_str().unwrap())
                    .await
                    .unwrap()
                    .is_none_or(|p| p.metadata.deletion_timestamp.is_some())
        },
    )
    .await;
    let text = operator.metrics().await;
    for line in [
        r#"bloodraven_backup_verification_runs_total{group="orders",profile="nightly",result="success"} 1"#,
        r#"bloodraven_backup_verification_runs_total{group="orders",profile="nightly",result="failure"} 1"#,
        r#"bloodraven_backup_runs_total{group="orders",profile="nightly",result="success"} 1"#,
        r#"bloodraven_backup_verified_timestamp_seconds{group="orders",profile="nightly"} "#,
        r#"bloodraven_backup_verification_duration_seconds_count{group="orders",profile="nightly"} 1"#,
    ] {
        assert!(text.contains(line), "{line} missing from /metrics:\n{text}");
    }

    // A tampered backup: one data object of a second backup is changed in the bucket; its verification fails
    // with the restore's reason and keeps the Job and the PVC for inspection.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    run_backup(&backups, &kubelet, "orders-2").await;
    let dir = s3.root().join(s3.bucket()).join("orders/orders-2");
    let chunk = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().contains(".tsv"))
        .max_by_key(|p| std::fs::metadata(p).unwrap().len())
        .expect("a data chunk in the dump");
    let mut bytes = std::fs::read(&chunk).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&chunk, bytes).unwrap();
    create_verification(
        &runs,
        "drill-3",
        json!({ "backupRef": { "name": "orders-2" } }),
    )
    .await;
    let restoring = wait_run(&runs, "drill-3", "Restoring", |s| s["phase"] == "Restoring").await;
    let job = restoring["jobName"].as_str().unwrap().to_owned();
    let ran = kubelet.run(&job, &[]).await;
    assert_eq!(
        ran.code, 1,
        "a verification that finds a problem exits 1: {}",
        ran.stderr
    );
    let failed = wait_run(&runs, "drill-3", "Failed", |s| s["phase"] == "Failed").await;
    let verified = condition(&failed, "Verified");
    assert_eq!(verified["status"], "False", "{failed:#}");
    assert_eq!(verified["reason"], "RestoreFailed", "{failed:#}");
    assert_eq!(
        condition(&failed, "ResourcesCleanedUp")["reason"],
        "KeptOnFailure",
        "{failed:#}"
    );
    assert!(
        jobs.get_opt(&job).await.unwrap().is_some(),
        "the failed run's Job was deleted"
    );
    assert!(
        pvcs.get_opt(failed["pvcName"].as_str().unwrap())
            .await
            .unwrap()
            .is_some()
    );
    wait(
        "the VerificationFailed event",
        Duration::from_secs(30),
        || async {
            warnings(&client, &ns, "drill-3")
                .await
                .iter()
                .any(|(r, n)| r == "VerificationFailed" && n.contains("RestoreFailed"))
        },
    )
    .await;
    assert!(operator.is_running());
}

/// The S3 server's store under `prefix`, opened as the operator does.
fn s3_location(s3: &S3Server, prefix: &str) -> bloodraven_backup::DumpLocation {
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
    .open(prefix)
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verification_replays_the_binlog_archive_to_the_latest_transaction() {
    use bloodraven_backup::bloodraven_binlog::archive::{ArchiveStore, Archiver};
    use bloodraven_backup::bloodraven_binlog::manifest::{ArchiveLayout, SiteName};
    let (client, ns, group, s3, mut operator) = setup("e2e-verify-pitr").await;
    let backups: Api<MysqlBackup> = Api::namespaced(client.clone(), &ns);
    let runs: Api<MysqlBackupVerification> = Api::namespaced(client.clone(), &ns);
    let kubelet = Kubelet::new(&client, &ns);
    run_backup(&backups, &kubelet, "orders-1").await;
    // Writes after the dump, archived from the primary's binlogs into `<profile prefix>/binlogs` (as the sidecar
    // archives them).
    let primary = &group.servers[0];
    primary
        .sql("INSERT INTO d.t VALUES (4, 'd'), (5, 'e'); FLUSH BINARY LOGS")
        .unwrap();
    let archive_root = s3_location(&s3, "");
    // The profile encrypts, so the sidecar encrypts the archive with the profile's passphrase.
    let archive = ArchiveStore::new(
        std::sync::Arc::clone(archive_root.store()),
        ArchiveLayout::for_profile_prefix("orders"),
    )
    .with_passphrase(bloodraven_backup::Passphrase::new("correct horse battery staple").unwrap());
    let cycle = Archiver::new(
        archive,
        SiteName::parse("iad").unwrap(),
        primary.binlog_dir(),
    )
    .run_cycle(&true)
    .await
    .unwrap();
    assert!(cycle.failed.is_empty(), "{cycle:?}");

    create_verification(
        &runs,
        "drill-latest",
        json!({
            "pointInTime": { "mode": "latest" },
            "sanityCheck": { "query": "SELECT COUNT(*) FROM d.t", "expect": { "minRows": 5 } },
        }),
    )
    .await;
    let restoring = wait_run(&runs, "drill-latest", "Restoring", |s| {
        s["phase"] == "Restoring"
    })
    .await;
    let ran = kubelet
        .run(restoring["jobName"].as_str().unwrap(), &[])
        .await;
    assert_eq!(ran.code, 0, "{}\n{}", ran.termination_message, ran.stderr);
    let done = wait_run(&runs, "drill-latest", "Succeeded", |s| {
        s["phase"] == "Succeeded"
    })
    .await;
    assert_eq!(done["sanityCheck"]["resultRow"], "5", "{done:#}");
    assert!(
        done["replayedThroughBinlog"]["file"]
            .as_str()
            .is_some_and(|f| !f.is_empty()),
        "{done:#}"
    );

    // `pitr-download` of the same archive, as a restore's init container runs it.
    let out_dir = kubelet.scratch.join("pitr-binlogs");
    let creds = kubelet.scratch.join("orders-1-dump/aws-creds");
    let download = Command::new(env!("CARGO_BIN_EXE_bloodraven"))
        .arg("pitr-download")
        .env("BLOODRAVEN_PITR_STOP_DATETIME", "2999-01-01 00:00:00")
        .env("BLOODRAVEN_PITR_OUTPUT_DIR", &out_dir)
        .env("BLOODRAVEN_PITR_MANIFEST_PREFIX", "orders/binlogs")
        .env("BLOODRAVEN_PITR_SITES", "iad, pdx")
        .env("BLOODRAVEN_PITR_STORAGE_TYPE", "S3")
        .env("BLOODRAVEN_PITR_S3_BUCKET", s3.bucket())
        .env("BLOODRAVEN_PITR_S3_ENDPOINT_URL", s3.endpoint())
        .env("BLOODRAVEN_PITR_S3_REGION", s3.region())
        .env("BLOODRAVEN_PITR_AWS_CREDS_DIR", &creds)
        .env(
            "BLOODRAVEN_PITR_PASSPHRASE_FILE",
            kubelet.scratch.join("orders-1-dump/passphrase/passphrase"),
        )
        .output()
        .unwrap();
    assert!(
        download.status.success(),
        "{}",
        String::from_utf8_lossy(&download.stderr)
    );
    let line = String::from_utf8_lossy(&download.stdout).into_owned();
    let fields = bloodraven_operator::jobs::result::parse_last(
        &line,
        bloodraven_operator::jobs::result::Sentinel::PitrDownloadComplete,
    )
    .unwrap();
    let files: usize = fields["files"].parse().unwrap();
    assert_eq!(files, cycle.archived.len(), "{line}");
    let local = std::fs::read_dir(out_dir.join("iad")).unwrap().count();
    assert_eq!(local, files);
    let bad = Command::new(env!("CARGO_BIN_EXE_bloodraven"))
        .arg("pitr-download")
        .env("BLOODRAVEN_PITR_STOP_DATETIME", "yesterday")
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("BLOODRAVEN_PITR_STOP_DATETIME"));
    assert!(operator.is_running());
}

/// The first object of `api` with a `status.jobName`, once there is one: (its name, the Job's name).
async fn first_with_a_job<K>(api: &Api<K>, what: &str) -> (String, String)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
    K::DynamicType: Default,
{
    let start = Instant::now();
    loop {
        let items = api.list(&ListParams::default()).await.unwrap().items;
        for item in &items {
            let v = serde_json::to_value(item).unwrap();
            if let Some(job) = v.pointer("/status/jobName").and_then(Value::as_str) {
                return (item.name_any(), job.to_owned());
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "timed out waiting for {what} with a Job"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plugin_waits_for_a_backup_and_a_verification_to_their_end() {
    let (client, ns, _group, _s3, _operator) = setup("e2e-plugin-wait").await;
    let kubeconfig = bloodraven_test_support::kube::kubeconfig().unwrap();
    let kubelet = Kubelet::new(&client, &ns);
    let backups: Api<MysqlBackup> = Api::namespaced(client.clone(), &ns);
    let runs: Api<MysqlBackupVerification> = Api::namespaced(client.clone(), &ns);
    let plugin_in_background = |args: &'static [&'static str]| {
        let (kubeconfig, ns) = (kubeconfig.clone(), ns.clone());
        tokio::spawn(async move { kube_support::plugin(&kubeconfig, &ns, args).await })
    };

    // `backup --wait` creates the MysqlBackup and follows it while the Job runs, to Succeeded: exit 0.
    let waiting =
        plugin_in_background(&["backup", "orders", "nightly", "--wait", "--timeout", "3m"]);
    let (name, job) = first_with_a_job(&backups, "the plugin's MysqlBackup").await;
    let ran = kubelet.run(&job, &[]).await;
    assert_eq!(ran.code, 0, "the dump Job failed: {}", ran.stderr);
    let run = waiting.await.unwrap();
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout
            .contains(&format!("mysqlbackup.shipstream.io/{name} created"))
            && run.stdout.contains(&format!("{name}: Running"))
            && run
                .stdout
                .trim_end()
                .ends_with(&format!("{name}: Succeeded")),
        "{run:?}"
    );

    // `verify-backup --wait` on that backup: followed through its phases to Succeeded.
    let waiting = plugin_in_background(&[
        "verify-backup",
        "orders",
        "nightly",
        "--wait",
        "--timeout",
        "3m",
    ]);
    let (name, job) = first_with_a_job(&runs, "the plugin's MysqlBackupVerification").await;
    let ran = kubelet.run(&job, &[]).await;
    assert_eq!(ran.code, 0, "{}\n{}", ran.termination_message, ran.stderr);
    let run = waiting.await.unwrap();
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.contains(&format!("{name}: Restoring"))
            && run
                .stdout
                .trim_end()
                .ends_with(&format!("{name}: Succeeded")),
        "{run:?}"
    );
}
