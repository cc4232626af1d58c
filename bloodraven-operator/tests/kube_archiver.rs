//! The archiver poller against the real API server: two real MariaDB servers, a real `bloodraven-sidecar` beside
//! each archiving sealed binlogs into a directory store (the `PVC` storage type), and the `bloodraven` manager
//! polling the sidecars' `/archiver/status` into `status.pitr` and the `bloodraven_archiver_*` gauges. A sidecar
//! killed with SIGKILL is named in `status.pitr.message`, and its last answer stays in the totals.
#![cfg(all(feature = "kube", feature = "backup"))]

mod kube_support;
mod live_support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use bloodraven_api::failovergroup::MysqlFailoverGroup;
use bloodraven_test_support::mariadb::MariaDb;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, PostParams};
use kube_support::{
    Operator, cluster, delete_namespace, free_port, namespace, sidecar_binary, wait,
};
use live_support::{Group, SITES, host};
use serde_json::{Value, json};

/// A sidecar configured as the rendered Deployment configures it, archiving into `archive`.
struct Sidecar(Child);

impl Sidecar {
    /// The sidecar of `site` beside `server`, listening on `listen` with its peer on `peer`, reporting to the
    /// operator's auxiliary server on `operator`.
    fn start(
        operator: u16,
        ns: &str,
        site: &str,
        server: &MariaDb,
        (listen, peer): (u16, u16),
        archive: &Path,
    ) -> Sidecar {
        let (mysql_port, binlogs) = (server.port(), server.binlog_dir());
        let log =
            std::fs::File::create(archive.with_file_name(format!("sidecar-{site}.log"))).unwrap();
        let child = Command::new(sidecar_binary())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("MYSQL_DSN", format!("root:@tcp(127.0.0.1:{mysql_port})/"))
            .env("MY_POD_NAME", format!("mysql-orders-{site}-0"))
            .env("MY_SITE", site)
            .env("POD_NAMESPACE", ns)
            .env("FAILOVER_GROUP", "orders")
            .env("LISTEN_ADDR", format!("127.0.0.1:{listen}"))
            .env("PEER_ADDRESSES", format!("127.0.0.1:{peer}"))
            .env("BLOODRAVEN_ADDRESS", format!("127.0.0.1:{operator}"))
            .env("BLOODRAVEN_PITR_ENABLED", "true")
            .env("BLOODRAVEN_PITR_STORAGE_TYPE", "PVC")
            .env("BLOODRAVEN_PITR_PVC_MOUNT_PATH", archive)
            .env("BLOODRAVEN_PITR_MANIFEST_PREFIX", "orders/binlogs")
            .env("BLOODRAVEN_PITR_PROFILE_NAME", "nightly")
            .env("BLOODRAVEN_PITR_BINLOG_DIR", binlogs)
            .env("BLOODRAVEN_PITR_BINLOG_INDEX", "mysql-bin.index")
            .env("BLOODRAVEN_PITR_POLL_INTERVAL", "1s")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start bloodraven-sidecar");
        Sidecar(child)
    }
}

impl Drop for Sidecar {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn group_json() -> Value {
    let storage = json!({ "storageClassName": "local", "size": "1Gi" });
    json!({
        "apiVersion": "shipstream.io/v1alpha1",
        "kind": "MysqlFailoverGroup",
        "metadata": { "name": "orders" },
        "spec": {
            "image": "mariadb:11.4",
            "credentials": { "operatorSecret": "orders-operator" },
            "dns": { "hostname": "orders.example.test" },
            "pollInterval": "1s",
            "sites": [
                { "name": "iad", "zone": "a", "lbIP": "192.0.2.1", "storage": storage },
                { "name": "pdx", "zone": "b", "lbIP": "192.0.2.2", "storage": storage },
            ],
            "backup": {
                "profiles": [{ "name": "nightly", "storage": { "type": "PVC", "pvc": { "claimName": "orders-archive" } } }],
                "pitr": { "enabled": true, "profileName": "nightly", "archivePollInterval": "1s" },
            },
        },
    })
}

async fn metrics(port: u16) -> String {
    match reqwest::get(format!("http://127.0.0.1:{port}/metrics")).await {
        Ok(r) => r.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sidecar_archives_show_in_status_pitr_and_the_gauges() {
    let (client, kubeconfig) = cluster().await;
    let ns = namespace(&client, "archiver").await;
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
    let groups: Api<MysqlFailoverGroup> = Api::namespaced(client.clone(), &ns);
    groups
        .create(
            &PostParams::default(),
            &serde_json::from_value(group_json()).unwrap(),
        )
        .await
        .unwrap();

    // Sealed binlogs on the primary, then a sidecar beside each server.
    let primary = &group.servers[0];
    for i in 0..3 {
        primary
            .sql(&format!(
                "INSERT INTO d.t VALUES ({i}, 'archiver'); FLUSH BINARY LOGS"
            ))
            .unwrap();
    }
    // Logs and the archive stay in the target directory when the test fails; a passing run removes them.
    let scratch = tempfile::Builder::new()
        .prefix("kube-archiver-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap()
        .keep();
    let scratch = scratch.as_path();
    let archive = scratch.join("archive");
    std::fs::create_dir_all(&archive).unwrap();
    let ports = [free_port(), free_port()];
    let mut extra: Vec<String> = vec!["--archiver-poll-interval".into(), "1s".into()];
    for (i, site) in SITES[..2].iter().enumerate() {
        extra.push("--sidecar-endpoint".into());
        extra.push(format!("{ns}/orders/{site}=127.0.0.1:{}", ports[i]));
    }
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let endpoints: Vec<(&str, &str, String, u16)> = SITES[..2]
        .iter()
        .enumerate()
        .map(|(i, site)| ("orders", *site, host(i), group.servers[i].port()))
        .collect();
    let operator = Operator::start_logged(
        &kubeconfig,
        &ns,
        &endpoints,
        &extra,
        &scratch.join("operator.log"),
    );

    // The sidecars start once the operator names iad active, as in a cluster (a sidecar's safety net fences its
    // server until the operator names it).
    wait("iad active", Duration::from_secs(60), || async {
        let g = groups.get("orders").await.unwrap();
        g.status.and_then(|s| s.active_site).as_deref() == Some("iad")
    })
    .await;
    let _iad = Sidecar::start(
        operator.aux_port,
        &ns,
        "iad",
        &group.servers[0],
        (ports[0], ports[1]),
        &archive,
    );
    let mut pdx = Sidecar::start(
        operator.aux_port,
        &ns,
        "pdx",
        &group.servers[1],
        (ports[1], ports[0]),
        &archive,
    );

    // The primary's sidecar archives the three sealed binlogs; the poller reports them.
    wait(
        "status.pitr counts the archived binlogs",
        Duration::from_secs(90),
        || async {
            let g = groups.get("orders").await.unwrap();
            let pitr = serde_json::to_value(g.status.and_then(|s| s.pitr)).unwrap();
            pitr["archivedFileCount"].as_i64().unwrap_or(0) >= 3
        },
    )
    .await;
    let g = groups.get("orders").await.unwrap();
    let pitr = serde_json::to_value(g.status.unwrap().pitr).unwrap();
    assert_eq!(pitr["enabled"], true, "{pitr}");
    assert_eq!(pitr["profileName"], "nightly", "{pitr}");
    assert!(pitr["archivedBytes"].as_i64().unwrap() > 0, "{pitr}");
    assert!(
        pitr["oldestArchivedTime"].is_string() && pitr["newestArchivedTime"].is_string(),
        "{pitr}"
    );
    assert!(pitr["lastArchivedTime"].is_string(), "{pitr}");
    assert!(
        pitr.get("message").is_none(),
        "healthy archive, no message: {pitr}"
    );
    let manifest = archive.join("orders/binlogs/manifest-iad.json");
    let entries = serde_json::from_slice::<Value>(&std::fs::read(&manifest).unwrap()).unwrap();
    assert_eq!(
        pitr["archivedFileCount"].as_u64(),
        entries["files"].as_array().map(|f| f.len() as u64),
        "the count is the manifest's: {entries}"
    );

    let text = metrics(operator.metrics_port).await;
    for series in [
        format!(
            r#"bloodraven_archiver_backlog_files{{namespace="{ns}",group="orders",site="iad"}} 0"#
        ),
        format!(
            r#"bloodraven_archiver_upload_failures{{namespace="{ns}",group="orders",site="iad"}} 0"#
        ),
        format!(
            r#"bloodraven_archiver_last_upload_timestamp_seconds{{namespace="{ns}",group="orders",site="iad"}} "#
        ),
        format!(
            r#"bloodraven_archiver_backlog_files{{namespace="{ns}",group="orders",site="pdx"}} "#
        ),
    ] {
        assert!(
            text.contains(&series),
            "{series} missing from /metrics:\n{text}"
        );
    }

    // SIGKILL the replica's sidecar: it is named, and the totals keep what the archive holds.
    let files = pitr["archivedFileCount"].clone();
    pdx.0.kill().unwrap();
    pdx.0.wait().unwrap();
    wait(
        "status.pitr names the silent sidecar",
        Duration::from_secs(30),
        || async {
            let g = groups.get("orders").await.unwrap();
            let pitr = serde_json::to_value(g.status.and_then(|s| s.pitr)).unwrap();
            pitr["message"]
                .as_str()
                .is_some_and(|m| m.contains("site pdx: sidecar did not answer"))
        },
    )
    .await;
    let g = groups.get("orders").await.unwrap();
    let pitr = serde_json::to_value(g.status.unwrap().pitr).unwrap();
    assert_eq!(pitr["archivedFileCount"], files, "{pitr}");
    assert!(
        !pitr["message"].as_str().unwrap().contains("site iad"),
        "{pitr}"
    );

    drop(operator);
    delete_namespace(&client, &ns).await;
    let _ = std::fs::remove_dir_all(scratch);
}
