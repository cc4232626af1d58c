//! `spec.restoreInPlace` end to end on the real Kubernetes API server (v1.20, no kubelet) with real MariaDB servers
//! and the loopback S3 server: a live group (iad writable, pdx replicating) is armed with a confirm token, the
//! manager walks Preflight → Fencing → Restoring, renders the in-place restore Job, and the test plays the kubelet
//! and the Job controller (it runs the Job's `decrypt-download` and `restore` as local processes against the real
//! primary). The primary then holds exactly the dump's data, the run is Succeeded with its confirm consumed, and
//! both other sites are scheduled for a reclone, one after the other (MariaDB has no CLONE, so each reclone ends at
//! once, failed, and the runner removes the annotation); an earlier confirm does nothing, a later one re-arms the
//! run, whose leftover Job is removed and replaced. A per-schema run (one `loadOptions.includeSchemas` entry) puts
//! only that schema back, binlogged, so the replicas follow without a reclone, and leaves the other schemas alone.

mod kube_support;
mod live_support;

use std::time::Duration;

use bloodraven_api::failovergroup::MysqlFailoverGroup;
use bloodraven_test_support::mariadb::MariaDb;
use bloodraven_test_support::s3::S3Server;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use kube_support::kubelet::Kubelet;
use kube_support::{Operator, cluster, create_secret, delete_namespace, namespace, wait};
use live_support::host;
use serde_json::{Value, json};

const PASSPHRASE: &str = "correct horse battery staple";
const FIRST: &str = "2026-12-07T10:00:00Z";
const EARLIER: &str = "2026-12-07T09:00:00Z";
const LATER: &str = "2026-12-07T11:00:00Z";

/// iad writable with `d.t` rows 1–3 and `canary.beats` rows 1–3, pdx and sfo replicating from it.
fn servers() -> Vec<MariaDb> {
    let servers: Vec<MariaDb> = (0..3)
        .map(|i| {
            MariaDb::builder()
                .server_id(i as u32 + 31)
                .arg(format!("--bind-address=127.0.0.1,{}", host(i)))
                .arg("--read-only=1")
                .start()
                .expect("start mariadbd")
        })
        .collect();
    servers[0]
        .sql(
            "SET GLOBAL read_only = OFF; CREATE DATABASE d; \
             CREATE TABLE d.t (id BIGINT PRIMARY KEY, v VARCHAR(16) NOT NULL); \
             INSERT INTO d.t VALUES (1, 'a'), (2, 'b'), (3, 'c'); CREATE DATABASE canary; \
             CREATE TABLE canary.beats (id INT PRIMARY KEY, v VARCHAR(16)); \
             INSERT INTO canary.beats VALUES (1, 'a'), (2, 'b'), (3, 'c')",
        )
        .unwrap();
    for replica in &servers[1..] {
        replica
            .sql(&format!(
                "CHANGE MASTER TO MASTER_HOST='{}', MASTER_PORT={}, MASTER_USER='root', MASTER_PASSWORD='', \
                 MASTER_CONNECT_RETRY=1, MASTER_USE_GTID=slave_pos; START SLAVE",
                host(0),
                servers[0].port()
            ))
            .unwrap();
    }
    servers
}

/// An encrypted dump of `server` at `orders/inplace-1` in the bucket (what a MysqlBackup of the group made).
fn dump(server: &MariaDb, s3: &S3Server, scratch: &std::path::Path) {
    kube_support::dump_to_s3(
        &format!("{}:{}", host(0), server.port()),
        s3,
        scratch,
        "orders/inplace-1",
        PASSPHRASE,
    );
}

fn restore_in_place(s3: &S3Server, confirm: &str) -> Value {
    json!({
        "confirm": confirm,
        "source": { "s3": {
            "bucket": s3.bucket(), "prefix": "orders/inplace-1", "region": s3.region(),
            "endpointURL": s3.endpoint(), "credentialsSecret": "s3-creds",
        }},
        "decryption": { "passphraseSecret": { "name": "backup-pass" } },
    })
}

async fn status(groups: &Api<MysqlFailoverGroup>) -> Value {
    let g = groups.get("orders").await.unwrap();
    serde_json::to_value(&g.status).unwrap()["restoreInPlace"].clone()
}

async fn wait_phase(
    groups: &Api<MysqlFailoverGroup>,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let mut last = Value::Null;
    let found = tokio::time::timeout(Duration::from_secs(90), async {
        loop {
            last = status(groups).await;
            if check(&last) {
                return last.clone();
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;
    match found {
        Ok(s) => s,
        Err(_) => panic!("status.restoreInPlace never {what}; last: {last:#}"),
    }
}

/// Events about the group: (reason, note).
/// Waits until every reason in `reasons` is among the namespace's events.
async fn wait_events(client: &Client, ns: &str, reasons: &[&str]) {
    wait("the run's events", Duration::from_secs(30), || async {
        let seen: Vec<String> = events(client, ns)
            .await
            .into_iter()
            .map(|(r, _)| r)
            .collect();
        reasons.iter().all(|r| seen.iter().any(|x| x == r))
    })
    .await;
}

async fn events(client: &Client, ns: &str) -> Vec<(String, String)> {
    let api: Api<Event> = Api::namespaced(client.clone(), ns);
    api.list(&ListParams::default())
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("orders"))
        .map(|e| (e.reason.unwrap_or_default(), e.note.unwrap_or_default()))
        .collect()
}

async fn set_confirm(groups: &Api<MysqlFailoverGroup>, s3: &S3Server, confirm: &str) {
    let patch = json!({ "spec": { "restoreInPlace": restore_in_place(s3, confirm) } });
    groups
        .patch("orders", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
}

/// The numbers of `server`'s binary logs.
fn binlog_numbers(server: &MariaDb) -> Vec<u32> {
    server
        .sql("SHOW BINARY LOGS")
        .unwrap()
        .lines()
        .filter_map(|l| l.split('\t').next()?.rsplit('.').next()?.parse().ok())
        .collect()
}

fn rows(server: &MariaDb) -> String {
    ids(server, "d.t")
}

/// The ids of `table`, comma-separated.
fn ids(server: &MariaDb, table: &str) -> String {
    server
        .sql(&format!("SELECT GROUP_CONCAT(id ORDER BY id) FROM {table}"))
        .unwrap()
        .trim()
        .to_owned()
}

/// A namespace with the Secrets, the S3 server holding an encrypted dump of iad (rows 1–3; rows 4–5, a canary
/// beat 4 and schema `scratch` written after it), the two servers, a manager, and group `orders` with `spec.restoreInPlace` =
/// `armed(&s3)`.
async fn setup(
    prefix: &str,
    armed: fn(&S3Server) -> Value,
) -> (Client, String, Kubelet, S3Server, Vec<MariaDb>, Operator) {
    let (client, kubeconfig) = cluster().await;
    let ns = namespace(&client, prefix).await;
    let kubelet = Kubelet::new(&client, &ns);
    let s3 = S3Server::start().unwrap();
    let servers = servers();
    dump(&servers[0], &s3, &kubelet.scratch);
    // After the dump: rows the restore must take away, and a schema it must drop.
    servers[0]
        .sql(
            "INSERT INTO d.t VALUES (4, 'd'), (5, 'e'); INSERT INTO canary.beats VALUES (4, 'later'); \
             CREATE DATABASE scratch; CREATE TABLE scratch.s (id INT PRIMARY KEY); INSERT INTO scratch.s VALUES (9)",
        )
        .unwrap();
    create_secret(
        &client,
        &ns,
        "orders-operator",
        json!({ "username": "root", "password": "" }),
    )
    .await;
    create_secret(
        &client,
        &ns,
        "s3-creds",
        json!({
            "AWS_ACCESS_KEY_ID": s3.access_key(),
            "AWS_SECRET_ACCESS_KEY": s3.secret_key(),
            "AWS_REGION": s3.region(),
        }),
    )
    .await;
    create_secret(
        &client,
        &ns,
        "backup-pass",
        json!({ "passphrase": PASSPHRASE }),
    )
    .await;
    let endpoints: Vec<(&str, &str, String, u16)> = vec![
        ("orders", "iad", host(0), servers[0].port()),
        ("orders", "pdx", host(1), servers[1].port()),
        ("orders", "sfo", host(2), servers[2].port()),
    ];
    let operator = Operator::start(&kubeconfig, &ns, &endpoints);
    let storage = json!({ "storageClassName": "local", "size": "1Gi" });
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
                { "name": "sfo", "zone": "c", "lbIP": "192.0.2.3", "storage": storage },
            ],
            "restoreInPlace": armed(&s3),
        },
    }))
    .unwrap();
    let groups: Api<MysqlFailoverGroup> = Api::namespaced(client.clone(), &ns);
    groups.create(&PostParams::default(), &group).await.unwrap();
    (client, ns, kubelet, s3, servers, operator)
}

fn restore_in_place_spec_first(s3: &S3Server) -> Value {
    restore_in_place(s3, FIRST)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_armed_in_place_restore_reloads_the_live_primary_and_re_arms_only_on_a_later_confirm() {
    let (client, ns, kubelet, s3, servers, mut operator) =
        setup("e2e-inplace", restore_in_place_spec_first).await;
    let groups: Api<MysqlFailoverGroup> = Api::namespaced(client.clone(), &ns);

    // Preflight waits for the poll to find iad writable; Fencing (no pods here: nothing to shed); Restoring
    // creates the Job for this confirm.
    let restoring = wait_phase(&groups, "Restoring with a Job", |s| {
        s["phase"] == "Restoring" && s["jobName"].is_string()
    })
    .await;
    assert_eq!(restoring["jobName"], "mysql-orders-iad-inplace-restore");
    assert_eq!(restoring["targetSite"], "iad");
    assert_eq!(restoring["scope"], "full");
    let jobs: Api<Job> = Api::namespaced(client.clone(), &ns);
    let job = jobs.get("mysql-orders-iad-inplace-restore").await.unwrap();
    assert_eq!(
        job.annotations()["bloodraven.shipstream.io/restore-confirm"],
        FIRST
    );
    assert_eq!(rows(&servers[0]), "1,2,3,4,5", "nothing ran before the Job");
    let binlogs_before = binlog_numbers(&servers[0]);

    kubelet
        .run_pod_ok(
            "mysql-orders-iad-inplace-restore",
            &["decrypt-download", "mysqlsh"],
        )
        .await;
    let done = wait_phase(&groups, "Succeeded", |s| s["phase"] == "Succeeded").await;
    assert_eq!(done["confirmTokenUsed"], FIRST, "{done:#}");
    assert!(
        done["targetGtidExecuted"]
            .as_str()
            .is_some_and(|g| !g.is_empty()),
        "{done:#}"
    );
    assert!(done["completionTime"].is_string(), "{done:#}");
    // The primary holds the dump's data: the later rows and the later schema are gone.
    assert_eq!(rows(&servers[0]), "1,2,3");
    // Its binary logs were reset, their numbering continued (replicas were connected meanwhile).
    let lowest = binlog_numbers(&servers[0]).into_iter().min().unwrap();
    assert!(
        lowest > *binlogs_before.iter().max().unwrap(),
        "before {binlogs_before:?}, after {:?}",
        binlog_numbers(&servers[0])
    );
    assert_eq!(
        servers[0]
            .sql("SHOW DATABASES LIKE 'scratch'")
            .unwrap()
            .trim(),
        ""
    );
    wait_events(
        &client,
        &ns,
        &[
            "RestoreInPlaceStarted",
            "RestoreInPlaceJobCreated",
            "RestoreInPlaceLoaded",
            "RestoreInPlaceRecloneScheduled",
            "RestoreInPlaceSucceeded",
        ],
    )
    .await;
    // Every other site is recloned, one after the other: sfo is scheduled once pdx's reclone is done.
    wait(
        "both reclones scheduled",
        Duration::from_secs(60),
        || async {
            let scheduled: Vec<String> = events(&client, &ns)
                .await
                .into_iter()
                .filter(|(r, _)| r == "RestoreInPlaceRecloneScheduled")
                .map(|(_, n)| n)
                .collect();
            ["pdx", "sfo"].iter().all(|site| {
                scheduled
                    .iter()
                    .any(|n| n.contains(&format!("site {site} ")))
            })
        },
    )
    .await;
    let scheduled = events(&client, &ns)
        .await
        .into_iter()
        .filter(|(r, _)| r == "RestoreInPlaceRecloneScheduled")
        .count();
    assert_eq!(scheduled, 2, "each site is scheduled once");
    // Done: no site left pending, the annotation removed by the runner.
    let recloned = wait_phase(&groups, "with no reclone pending", |s| {
        s["phase"] == "Succeeded" && s.get("pendingReclones").is_none()
    })
    .await;
    assert_eq!(recloned["confirmTokenUsed"], FIRST, "{recloned:#}");
    wait(
        "the reclone annotation removed",
        Duration::from_secs(30),
        || async {
            !groups
                .get("orders")
                .await
                .unwrap()
                .annotations()
                .contains_key("bloodraven.shipstream.io/reclone-site")
        },
    )
    .await;
    let metrics = operator.metrics().await;
    let in_place = format!(
        "bloodraven_restore_last_success_timestamp_seconds{{namespace=\"{ns}\",group=\"orders\",restore_kind=\"in_place\",target_site=\"iad\"}}"
    );
    assert!(
        metrics.contains(&in_place),
        "{in_place} missing from\n{metrics}"
    );
    let decrypt =
        r#"bloodraven_backup_decrypt_duration_seconds_count{group="orders",profile=""} 1"#;
    assert!(
        metrics.contains(decrypt),
        "{decrypt} missing from\n{metrics}"
    );

    // An earlier confirm re-arms nothing.
    set_confirm(&groups, &s3, EARLIER).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let still = status(&groups).await;
    assert_eq!(
        (still["phase"].as_str(), still["confirmTokenUsed"].as_str()),
        (Some("Succeeded"), Some(FIRST)),
        "{still:#}"
    );

    // A later one runs again: the first run's Job is stale (another confirm), so it is removed and replaced.
    servers[0].sql("INSERT INTO d.t VALUES (7, 'g')").unwrap();
    set_confirm(&groups, &s3, LATER).await;
    wait(
        "the Job for the later confirm",
        Duration::from_secs(60),
        || async {
            jobs.get_opt("mysql-orders-iad-inplace-restore")
                .await
                .unwrap()
                .is_some_and(|j| {
                    j.annotations()
                        .get("bloodraven.shipstream.io/restore-confirm")
                        .map(String::as_str)
                        == Some(LATER)
                })
        },
    )
    .await;
    assert!(
        events(&client, &ns)
            .await
            .iter()
            .any(|(r, _)| r == "RestoreInPlaceStaleJobRemoved"),
        "the first Job was not reported removed"
    );
    // The test's stand-in pod of the first run goes too (the garbage collector would remove it in a cluster).
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    pods.delete(
        "mysql-orders-iad-inplace-restore-run",
        &DeleteParams::default(),
    )
    .await
    .unwrap();
    wait("the first pod gone", Duration::from_secs(30), || async {
        pods.get_opt("mysql-orders-iad-inplace-restore-run")
            .await
            .unwrap()
            .is_none()
    })
    .await;
    let ran = kubelet
        .run_pod("mysql-orders-iad-inplace-restore", &[])
        .await;
    assert!(
        ran.iter().all(|r| r.code == 0),
        "{}",
        ran.last().unwrap().stderr
    );
    let again = wait_phase(&groups, "Succeeded under the later confirm", |s| {
        s["phase"] == "Succeeded" && s["confirmTokenUsed"] == LATER
    })
    .await;
    assert!(again["completionTime"].is_string(), "{again:#}");
    assert_eq!(rows(&servers[0]), "1,2,3");
    assert!(operator.is_running());
    delete_namespace(&client, &ns).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_in_place_restore_that_cannot_be_built_fails_naming_the_field_and_touches_nothing() {
    // The dump is encrypted, and the spec gives no passphrase.
    fn no_passphrase(s3: &S3Server) -> Value {
        let mut spec = restore_in_place(s3, FIRST);
        spec.as_object_mut().unwrap().remove("decryption");
        spec
    }
    let (client, ns, _kubelet, _s3, servers, mut operator) =
        setup("e2e-inplace-bad", no_passphrase).await;
    let groups: Api<MysqlFailoverGroup> = Api::namespaced(client.clone(), &ns);
    let failed = wait_phase(&groups, "Failed", |s| s["phase"] == "Failed").await;
    let message = failed["message"].as_str().unwrap();
    assert!(
        message.contains("restoreInPlace source is encrypted but no passphrase is available")
            && message.contains("restoreInPlace.decryption.passphraseSecret"),
        "{failed:#}"
    );
    // A build failure consumes the confirm: it runs again only for a later one.
    assert_eq!(failed["confirmTokenUsed"], FIRST, "{failed:#}");
    wait(
        "the RestoreInPlaceBuildFailed event",
        Duration::from_secs(30),
        || async {
            events(&client, &ns)
                .await
                .iter()
                .any(|(r, n)| r == "RestoreInPlaceBuildFailed" && n.contains("no passphrase"))
        },
    )
    .await;
    let jobs: Api<Job> = Api::namespaced(client.clone(), &ns);
    assert!(
        jobs.get_opt("mysql-orders-iad-inplace-restore")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(rows(&servers[0]), "1,2,3,4,5");
    // Nothing loops: still Failed a moment later, one event.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(status(&groups).await["phase"], "Failed");
    let n = events(&client, &ns)
        .await
        .iter()
        .filter(|(r, _)| r == "RestoreInPlaceBuildFailed")
        .count();
    assert_eq!(n, 1);
    assert!(operator.is_running());
    delete_namespace(&client, &ns).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_per_schema_in_place_restore_reloads_one_schema_and_the_replica_follows() {
    fn schema_d(s3: &S3Server) -> Value {
        let mut spec = restore_in_place(s3, FIRST);
        spec["loadOptions"] = json!({ "includeSchemas": ["d"] });
        spec
    }
    let (client, ns, kubelet, _s3, servers, mut operator) =
        setup("e2e-inplace-schema", schema_d).await;
    let groups: Api<MysqlFailoverGroup> = Api::namespaced(client.clone(), &ns);
    let pdx_caught_up = |what: &str| {
        let pos = servers[0]
            .sql("SELECT @@gtid_binlog_pos")
            .unwrap()
            .trim()
            .to_owned();
        servers[1]
            .wait_for("SELECT @@gtid_slave_pos", &pos, Duration::from_secs(60))
            .unwrap_or_else(|e| panic!("pdx {what}: {e}"));
    };
    pdx_caught_up("before the restore");
    assert_eq!(rows(&servers[1]), "1,2,3,4,5");

    let restoring = wait_phase(&groups, "Restoring with a Job", |s| {
        s["phase"] == "Restoring" && s["jobName"].is_string()
    })
    .await;
    assert_eq!(restoring["scope"], "schema:d");
    assert_eq!(restoring["targetSite"], "iad");
    let jobs: Api<Job> = Api::namespaced(client.clone(), &ns);
    let job = jobs.get("mysql-orders-iad-inplace-restore").await.unwrap();
    let env: Vec<(String, String)> = job
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap()
        .containers
        .iter()
        .flat_map(|c| c.env.iter().flatten())
        .map(|e| (e.name.clone(), e.value.clone().unwrap_or_default()))
        .collect();
    assert!(
        env.contains(&("BLOODRAVEN_DROP_SCHEMAS".into(), "d".into())),
        "{env:?}"
    );
    assert!(
        env.iter()
            .all(|(n, _)| n != "BLOODRAVEN_DROP_ALL_USER_SCHEMAS"
                && n != "BLOODRAVEN_RESET_REPLICATION"),
        "{env:?}"
    );
    let slave_pos = servers[0].sql("SELECT @@gtid_slave_pos").unwrap();

    kubelet
        .run_pod_ok("mysql-orders-iad-inplace-restore", &[])
        .await;
    let done = wait_phase(&groups, "Succeeded", |s| s["phase"] == "Succeeded").await;
    assert_eq!(done["confirmTokenUsed"], FIRST, "{done:#}");
    assert_eq!(done["scope"], "schema:d", "{done:#}");
    // `d` is the dump's again; `canary` keeps its later beat and `scratch` (not in the dump) is still there.
    assert_eq!(rows(&servers[0]), "1,2,3");
    assert_eq!(ids(&servers[0], "canary.beats"), "1,2,3,4");
    assert_eq!(ids(&servers[0], "scratch.s"), "9");
    // The primary's GTID state was not set from the dump; the load reached pdx through the binlog.
    assert_eq!(
        servers[0].sql("SELECT @@gtid_slave_pos").unwrap(),
        slave_pos
    );
    pdx_caught_up("after the restore");
    assert_eq!(rows(&servers[1]), "1,2,3");
    assert_eq!(ids(&servers[1], "canary.beats"), "1,2,3,4");
    assert_eq!(ids(&servers[1], "scratch.s"), "9");
    wait_events(
        &client,
        &ns,
        &[
            "RestoreInPlaceStarted",
            "RestoreInPlaceJobCreated",
            "RestoreInPlaceLoaded",
            "RestoreInPlaceSucceeded",
        ],
    )
    .await;
    let succeeded = events(&client, &ns)
        .await
        .into_iter()
        .find(|(r, _)| r == "RestoreInPlaceSucceeded")
        .unwrap();
    assert!(succeeded.1.contains("scope=schema:d"), "{succeeded:?}");
    // No reclone: the replica followed through replication.
    assert!(
        !events(&client, &ns)
            .await
            .iter()
            .any(|(r, _)| r.starts_with("RestoreInPlaceReclone")),
        "a per-schema restore scheduled a reclone"
    );
    let group = groups.get("orders").await.unwrap();
    assert!(
        !group
            .annotations()
            .contains_key(bloodraven_api::names::annotation::RECLONE_SITE),
        "{:?}",
        group.annotations()
    );
    assert!(operator.is_running());
    delete_namespace(&client, &ns).await;
}
