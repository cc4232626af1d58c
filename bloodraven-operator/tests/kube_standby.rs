//! MysqlStandbyClusters end to end on the real Kubernetes API server (v1.20, no kubelet) with a real MariaDB source
//! and the loopback S3 server: the source's dump and binlog archive are written to the bucket as the source region
//! writes them (the dump library, the sidecar's archiver, BRV1-encrypted with the profile's passphrase); the
//! `bloodraven` manager discovers them, renders restore-drill Jobs, and the test plays the kubelet for those Jobs
//! (`kube_support::kubelet`).

mod kube_support;

use std::sync::Arc;
use std::time::Duration;

use bloodraven_api::standby::MysqlStandbyCluster;
use bloodraven_backup::bloodraven_binlog::archive::{ArchiveStore, Archiver};
use bloodraven_backup::bloodraven_binlog::manifest::{ArchiveLayout, SiteName};
use bloodraven_backup::object_store::path::Path as ObjectPath;
use bloodraven_backup::object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use bloodraven_backup::{ConnectOptions, DumpOptions, Passphrase};
use bloodraven_test_support::mariadb::MariaDb;
use bloodraven_test_support::s3::S3Server;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use kube_support::kubelet::Kubelet;
use kube_support::{Operator, cluster, create_secret, namespace};
use serde_json::{Value, json};

const PASSPHRASE: &str = "correct horse battery staple";

fn store(s3: &S3Server) -> Arc<dyn ObjectStore> {
    use bloodraven_operator::jobs::env::{S3Keys, Storage};
    let location = Storage::S3 {
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
    .unwrap();
    Arc::clone(location.store())
}

/// A standby of group `orders` over `orders/west` in the test bucket.
async fn create_standby(
    api: &Api<MysqlStandbyCluster>,
    s3: &S3Server,
    name: &str,
    credentials: &str,
    passphrase: &str,
    verification: Option<Value>,
) {
    let storage = json!({ "storageClassName": "local", "size": "1Gi" });
    let mut spec = json!({
        "source": {
            "failoverGroupName": "orders",
            "profileName": "nightly",
            "storage": { "type": "S3", "s3": {
                "bucket": s3.bucket(), "prefix": "orders/west", "region": s3.region(),
                "endpointURL": s3.endpoint(), "credentialsSecret": credentials,
            }},
            "decryption": { "passphraseSecret": { "name": passphrase } },
        },
        "template": { "name": "orders", "spec": {
            "credentials": { "operatorSecret": "orders-operator" },
            "dns": { "hostname": "orders.example.test" },
            "sites": [
                { "name": "iad", "zone": "a", "lbIP": "192.0.2.1", "storage": storage },
                { "name": "pdx", "zone": "b", "lbIP": "192.0.2.2", "storage": storage },
            ],
        }},
        "freshness": { "discoveryInterval": "30s" },
    });
    if let Some(v) = verification {
        spec["verification"] = v;
    }
    let s: MysqlStandbyCluster = serde_json::from_value(json!({
        "apiVersion": "shipstream.io/v1alpha1",
        "kind": "MysqlStandbyCluster",
        "metadata": { "name": name },
        "spec": spec,
    }))
    .unwrap();
    api.create(&PostParams::default(), &s).await.unwrap();
}

fn status(s: &MysqlStandbyCluster) -> Value {
    serde_json::to_value(&s.status).unwrap()
}

fn condition(status: &Value, type_: &str) -> Value {
    status["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == type_).cloned())
        .unwrap_or(Value::Null)
}

/// Waits until `check` holds on the standby's status; returns that status.
async fn wait_status(
    api: &Api<MysqlStandbyCluster>,
    name: &str,
    what: &str,
    timeout: Duration,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let mut last = Value::Null;
    let deadline = std::time::Instant::now() + timeout;
    while std::time::Instant::now() < deadline {
        last = status(&api.get(name).await.unwrap());
        if check(&last) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("{name}: {what} not reached within {timeout:?}; status:\n{last:#}");
}

/// (type, reason, note) of the standby's events.
async fn events(client: &Client, namespace: &str, object: &str) -> Vec<(String, String, String)> {
    let api: Api<Event> = Api::namespaced(client.clone(), namespace);
    api.list(&ListParams::default())
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(object))
        .map(|e| {
            (
                e.type_.unwrap_or_default(),
                e.reason.unwrap_or_default(),
                e.note.unwrap_or_default(),
            )
        })
        .collect()
}

/// Waits (the recorder publishes after the status write) for an event of `object` that `matches`.
async fn wait_event(
    client: &Client,
    namespace: &str,
    object: &str,
    matches: impl Fn(&(String, String, String)) -> bool,
) {
    let mut seen = Vec::new();
    for _ in 0..100 {
        seen = events(client, namespace, object).await;
        if seen.iter().any(&matches) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{object}: no such event in {seen:?}");
}

/// The drill in progress (waits for one other than `previous`), run to its end by the test's kubelet.
async fn run_drill(
    api: &Api<MysqlStandbyCluster>,
    kubelet: &Kubelet,
    previous: &str,
) -> (String, kube_support::kubelet::Ran) {
    let s = wait_status(
        api,
        "orders-dr",
        "a new drill",
        Duration::from_secs(90),
        |s| {
            s["activeVerification"]["jobName"]
                .as_str()
                .is_some_and(|j| j != previous)
        },
    )
    .await;
    let job = s["activeVerification"]["jobName"]
        .as_str()
        .unwrap()
        .to_owned();
    let ran = kubelet.run(&job, &[]).await;
    (job, ran)
}

/// The source: a MariaDB server with `d.t` rows 1–3 in an encrypted dump `orders-nightly-1`, rows 4–5 only in the
/// archived binlog; returns the server, the archived object keys and the store.
async fn source(s3: &S3Server) -> (MariaDb, Vec<String>, Arc<dyn ObjectStore>) {
    let server = MariaDb::builder().start().expect("start mariadbd");
    server
        .sql("CREATE DATABASE d; CREATE TABLE d.t (id BIGINT PRIMARY KEY, v VARCHAR(8)); INSERT INTO d.t VALUES (1, 'a'), (2, 'b'), (3, 'c')")
        .unwrap();
    let store = store(s3);
    let passphrase = Passphrase::new(PASSPHRASE).unwrap();
    let to =
        bloodraven_backup::DumpLocation::new(Arc::clone(&store), "orders/west/orders-nightly-1");
    bloodraven_backup::dump::dump(
        &ConnectOptions::new("127.0.0.1", server.port()),
        &to,
        &DumpOptions {
            passphrase: Some(passphrase.clone()),
            ..DumpOptions::default()
        },
    )
    .await
    .expect("dump");
    server
        .sql("INSERT INTO d.t VALUES (4, 'd'), (5, 'e'); FLUSH BINARY LOGS")
        .unwrap();
    let archive = ArchiveStore::new(
        Arc::clone(&store),
        ArchiveLayout::for_profile_prefix("orders/west"),
    )
    .with_passphrase(passphrase);
    let site = SiteName::parse("iad").unwrap();
    let cycle = Archiver::new(archive.clone(), site.clone(), server.binlog_dir())
        .run_cycle(&true)
        .await
        .unwrap();
    assert!(
        cycle.failed.is_empty() && !cycle.archived.is_empty(),
        "{cycle:?}"
    );
    let keys = archive
        .load_manifest(&site)
        .await
        .unwrap()
        .files
        .iter()
        .map(|f| f.remote_path.clone())
        .collect();
    (server, keys, store)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_discovers_the_bucket_and_a_drill_sets_restorable() {
    let (client, kubeconfig) = cluster().await;
    let ns = namespace(&client, "e2e-standby").await;
    let s3 = S3Server::start().unwrap();
    let (_server, binlogs, store) = source(&s3).await;
    create_secret(
        &client,
        &ns,
        "s3-creds",
        json!({ "AWS_ACCESS_KEY_ID": s3.access_key(), "AWS_SECRET_ACCESS_KEY": s3.secret_key(), "AWS_REGION": s3.region() }),
    )
    .await;
    create_secret(
        &client,
        &ns,
        "backup-pass",
        json!({ "passphrase": PASSPHRASE }),
    )
    .await;
    let mut operator = Operator::start(&kubeconfig, &ns, &[]);
    let api: Api<MysqlStandbyCluster> = Api::namespaced(client.clone(), &ns);
    create_standby(
        &api,
        &s3,
        "orders-dr",
        "s3-creds",
        "backup-pass",
        Some(json!({
            "interval": "10s",
            "sanityCheck": { "query": "SELECT COUNT(*) FROM d.t", "expect": { "minRows": 5 } },
        })),
    )
    .await;

    // Phase 1: discovery.
    let s = wait_status(
        &api,
        "orders-dr",
        "SourceConfigKnown=True",
        Duration::from_secs(60),
        |s| condition(s, "SourceConfigKnown")["status"] == "True",
    )
    .await;
    assert_eq!(
        condition(&s, "BucketReadable")["reason"],
        "ListSucceeded",
        "{s:#}"
    );
    assert_eq!(
        condition(&s, "SourceConfigKnown")["reason"],
        "DumpFound",
        "{s:#}"
    );
    let d = &s["discovered"];
    assert_eq!(d["dumpName"], "orders-nightly-1", "{s:#}");
    assert_eq!(d["dumpLocation"], "orders/west/orders-nightly-1/", "{s:#}");
    assert!(
        d["dumpGtidExecuted"]
            .as_str()
            .is_some_and(|g| !g.is_empty()),
        "{s:#}"
    );
    assert!(d["dumpSizeBytes"].as_i64().is_some_and(|n| n > 0), "{s:#}");
    assert_eq!(d["manifestCount"], 1, "{s:#}");
    assert_eq!(d["archivedBinlogCount"], binlogs.len(), "{s:#}");
    assert!(d["newestArchivedBinlogTime"].is_string(), "{s:#}");
    wait_event(&client, &ns, "orders-dr", |(t, r, _)| {
        t == "Normal" && r == "BucketScanned"
    })
    .await;
    // The DR cursor that holds the source's retention back.
    let cursor = store
        .get(&ObjectPath::from(
            format!("orders/west/dr-cursors/{ns}.orders-dr.json").as_str(),
        ))
        .await
        .expect("the DR cursor")
        .bytes()
        .await
        .unwrap();
    let cursor: Value = serde_json::from_slice(&cursor).unwrap();
    assert_eq!(cursor["standby"], format!("{ns}/orders-dr"), "{cursor}");

    // Phase 2: a passing drill.
    let kubelet = Kubelet::new(&client, &ns);
    let (first, ran) = run_drill(&api, &kubelet, "").await;
    assert_eq!(ran.code, 0, "{}\n{}", ran.termination_message, ran.stderr);
    let s = wait_status(
        &api,
        "orders-dr",
        "Restorable=True",
        Duration::from_secs(60),
        |s| condition(s, "Restorable")["status"] == "True",
    )
    .await;
    assert_eq!(
        condition(&s, "Restorable")["reason"],
        "VerificationPassed",
        "{s:#}"
    );
    assert_eq!(
        s["lastVerified"]["verificationName"],
        first.as_str(),
        "{s:#}"
    );
    assert_eq!(s["lastVerified"]["backupName"], "orders-nightly-1", "{s:#}");
    assert!(
        s["lastVerified"]["replayedThroughBinlog"]["file"].is_string(),
        "{s:#}"
    );
    let metrics = reqwest::get(format!(
        "http://127.0.0.1:{}/metrics",
        operator.metrics_port
    ))
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    assert!(
        metrics.contains(&format!(
            "bloodraven_dr_restorable_timestamp_seconds{{namespace=\"{ns}\",standby=\"orders-dr\"}}"
        )),
        "{metrics}"
    );

    // A tampered binlog in the window: the next drill fails, Restorable=False with the reason; its Job is kept.
    let key = ObjectPath::from(binlogs[0].as_str());
    let original = store.get(&key).await.unwrap().bytes().await.unwrap();
    let mut tampered = original.to_vec();
    let at = tampered.len() - 40;
    tampered[at] ^= 0x01;
    store.put(&key, PutPayload::from(tampered)).await.unwrap();
    let (second, ran) = run_drill(&api, &kubelet, &first).await;
    assert_ne!(
        ran.code, 0,
        "a tampered binlog must fail the drill: {}",
        ran.termination_message
    );
    let s = wait_status(
        &api,
        "orders-dr",
        "Restorable=False after tampering",
        Duration::from_secs(60),
        // The reason too: a slow drill lets the last verdict go stale (VerificationStale) first.
        |s| condition(s, "Restorable")["reason"] == "VerificationFailed",
    )
    .await;
    let restorable = condition(&s, "Restorable");
    assert_eq!(restorable["reason"], "VerificationFailed", "{s:#}");
    let message = restorable["message"].as_str().unwrap();
    eprintln!("Restorable after tampering: {message}");
    assert!(message.contains(&second), "{restorable}");
    let jobs: Api<Job> = Api::namespaced(client.clone(), &ns);
    assert!(
        jobs.get_opt(&second).await.unwrap().is_some(),
        "a failed drill's Job is kept"
    );
    wait_event(&client, &ns, "orders-dr", |(t, r, _)| {
        t == "Warning" && r == "RestoreDrillFailed"
    })
    .await;

    // Repaired: Restorable again. Then the binlog deleted: Restorable=False again.
    store
        .put(&key, PutPayload::from(original.clone()))
        .await
        .unwrap();
    let (third, ran) = run_drill(&api, &kubelet, &second).await;
    assert_eq!(ran.code, 0, "{}\n{}", ran.termination_message, ran.stderr);
    wait_status(
        &api,
        "orders-dr",
        "Restorable=True after the repair",
        Duration::from_secs(60),
        |s| condition(s, "Restorable")["status"] == "True",
    )
    .await;
    store.delete(&key).await.unwrap();
    let (fourth, ran) = run_drill(&api, &kubelet, &third).await;
    assert_ne!(
        ran.code, 0,
        "a deleted binlog must fail the drill: {}",
        ran.termination_message
    );
    let s = wait_status(
        &api,
        "orders-dr",
        "Restorable=False after the deletion",
        Duration::from_secs(60),
        |s| condition(s, "Restorable")["reason"] == "VerificationFailed",
    )
    .await;
    let message = condition(&s, "Restorable")["message"]
        .as_str()
        .unwrap()
        .to_owned();
    eprintln!("Restorable after deletion: {message}");
    assert!(message.contains(&fourth), "{message}");

    // Repaired again and drilled; then the next drill never runs (no node for it): two intervals (20 s)
    // after the last pass the verdict no longer stands.
    store.put(&key, PutPayload::from(original)).await.unwrap();
    let (fifth, ran) = run_drill(&api, &kubelet, &fourth).await;
    assert_eq!(ran.code, 0, "{}\n{}", ran.termination_message, ran.stderr);
    wait_status(
        &api,
        "orders-dr",
        "Restorable=True after the second repair",
        Duration::from_secs(60),
        |s| condition(s, "Restorable")["status"] == "True",
    )
    .await;
    let s = wait_status(
        &api,
        "orders-dr",
        "Restorable=False once the verdict is stale",
        Duration::from_secs(60),
        |s| condition(s, "Restorable")["reason"] == "VerificationStale",
    )
    .await;
    let restorable = condition(&s, "Restorable");
    assert_eq!(restorable["status"], "False", "{s:#}");
    let message = restorable["message"].as_str().unwrap();
    eprintln!("Restorable when stale: {message}");
    let sixth = s["activeVerification"]["jobName"].as_str().unwrap();
    assert!(
        message.contains(&fifth)
            && message.contains(&format!("drill Job {sixth} has not finished")),
        "{message}"
    );
    wait_event(&client, &ns, "orders-dr", |(t, r, _)| {
        t == "Warning" && r == "VerificationStale"
    })
    .await;
    // The overdue drill finishes: the verdict stands again.
    let ran = kubelet.run(sixth, &[]).await;
    assert_eq!(ran.code, 0, "{}\n{}", ran.termination_message, ran.stderr);
    wait_status(
        &api,
        "orders-dr",
        "Restorable=True after the overdue drill",
        Duration::from_secs(60),
        |s| condition(s, "Restorable")["reason"] == "VerificationPassed",
    )
    .await;
    assert!(operator.is_running());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_sources_set_conditions_naming_the_field_and_the_operator_keeps_running() {
    let (client, kubeconfig) = cluster().await;
    let ns = namespace(&client, "e2e-standby-bad").await;
    let s3 = S3Server::start().unwrap();
    let (_server, _, _) = source(&s3).await;
    create_secret(
        &client,
        &ns,
        "s3-creds",
        json!({ "AWS_ACCESS_KEY_ID": s3.access_key(), "AWS_SECRET_ACCESS_KEY": s3.secret_key() }),
    )
    .await;
    create_secret(
        &client,
        &ns,
        "bad-keys",
        json!({ "AWS_ACCESS_KEY_ID": s3.access_key(), "AWS_SECRET_ACCESS_KEY": "not-the-secret" }),
    )
    .await;
    create_secret(
        &client,
        &ns,
        "backup-pass",
        json!({ "passphrase": PASSPHRASE }),
    )
    .await;
    create_secret(
        &client,
        &ns,
        "wrong-pass",
        json!({ "passphrase": "not the passphrase at all" }),
    )
    .await;
    let mut operator = Operator::start(&kubeconfig, &ns, &[]);
    let api: Api<MysqlStandbyCluster> = Api::namespaced(client.clone(), &ns);
    create_standby(
        &api,
        &s3,
        "no-secret",
        "s3-creds-missing",
        "backup-pass",
        None,
    )
    .await;
    create_standby(&api, &s3, "unreadable", "bad-keys", "backup-pass", None).await;
    create_standby(&api, &s3, "wrong-pass", "s3-creds", "wrong-pass", None).await;

    let s = wait_status(
        &api,
        "no-secret",
        "BucketReadable=False",
        Duration::from_secs(60),
        |s| condition(s, "BucketReadable")["status"] == "False",
    )
    .await;
    let c = condition(&s, "BucketReadable");
    assert_eq!(c["reason"], "ConfigError", "{s:#}");
    assert!(
        c["message"]
            .as_str()
            .unwrap()
            .contains("spec.source.storage.s3.credentialsSecret")
            && c["message"].as_str().unwrap().contains("s3-creds-missing"),
        "{c}"
    );
    wait_event(&client, &ns, "no-secret", |(t, r, n)| {
        t == "Warning" && r == "ConfigError" && n.contains("s3-creds-missing")
    })
    .await;

    let s = wait_status(
        &api,
        "unreadable",
        "BucketReadable=False",
        Duration::from_secs(60),
        |s| condition(s, "BucketReadable")["status"] == "False",
    )
    .await;
    let c = condition(&s, "BucketReadable");
    assert_eq!(c["reason"], "AuthFailed", "{s:#}");
    assert!(
        c["message"].as_str().unwrap().contains("credentialsSecret"),
        "{c}"
    );
    assert_eq!(
        condition(&s, "SourceConfigKnown")["reason"],
        "ScanIncomplete",
        "{s:#}"
    );

    let s = wait_status(
        &api,
        "wrong-pass",
        "SourceConfigKnown=False",
        Duration::from_secs(60),
        |s| condition(s, "SourceConfigKnown")["status"] == "False",
    )
    .await;
    assert_eq!(condition(&s, "BucketReadable")["status"], "True", "{s:#}");
    let c = condition(&s, "SourceConfigKnown");
    assert_eq!(c["reason"], "MetadataUnreadable", "{s:#}");
    assert!(
        c["message"]
            .as_str()
            .unwrap()
            .contains("spec.source.decryption.passphraseSecret"),
        "{c}"
    );
    assert_eq!(
        condition(&s, "Restorable")["reason"],
        "VerificationNotConfigured",
        "{s:#}"
    );

    // Fixed: the missing Secret appears and the next scan (spec touched, so at once) finds the source.
    create_secret(
        &client,
        &ns,
        "s3-creds-missing",
        json!({ "AWS_ACCESS_KEY_ID": s3.access_key(), "AWS_SECRET_ACCESS_KEY": s3.secret_key() }),
    )
    .await;
    api.patch(
        "no-secret",
        &PatchParams::default(),
        &Patch::Merge(&json!({ "spec": { "freshness": { "discoveryInterval": "31s" } } })),
    )
    .await
    .unwrap();
    wait_status(
        &api,
        "no-secret",
        "SourceConfigKnown=True once fixed",
        Duration::from_secs(60),
        |s| condition(s, "SourceConfigKnown")["status"] == "True",
    )
    .await;
    assert!(
        operator.is_running(),
        "the operator must not crash on bad input"
    );
    let all = api.list(&ListParams::default()).await.unwrap();
    assert_eq!(
        all.items.len(),
        3,
        "{:?}",
        all.items.iter().map(|s| s.name_any()).collect::<Vec<_>>()
    );
}
