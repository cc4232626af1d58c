//! The binlog archive end to end against the real API server: two real MariaDB servers, a real `bloodraven-sidecar`
//! beside each archiving sealed binlogs, encrypted, into the loopback S3 server with the environment and credential
//! files the rendered Deployment gives it; the `bloodraven` manager polling the sidecars' `/archiver/status` into
//! `status.pitr` and the `bloodraven_archiver_*` gauges; and `kubectl bloodraven pitr-plan` reading the archive
//! through the group's Secrets (and directly with `--bucket`). A sidecar killed with SIGKILL is named in
//! `status.pitr.message`, and its last answer stays in the totals.
#![cfg(all(feature = "kube", feature = "backup"))]

mod kube_support;
mod live_support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use bloodraven_api::backup::MysqlBackup;
use bloodraven_api::failovergroup::MysqlFailoverGroup;
use bloodraven_test_support::mariadb::MariaDb;
use bloodraven_test_support::s3::S3Server;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube_support::{
    Operator, cluster, delete_namespace, free_port, namespace, plugin, sidecar_binary, wait,
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
        s3: &S3Server,
        scratch: &Path,
    ) -> Sidecar {
        let (mysql_port, binlogs) = (server.port(), server.binlog_dir());
        // The mounted credentials Secret and passphrase, as files.
        let creds = scratch.join("pitr-aws-creds");
        std::fs::create_dir_all(&creds).unwrap();
        for (file, value) in [
            ("AWS_ACCESS_KEY_ID", s3.access_key()),
            ("AWS_SECRET_ACCESS_KEY", s3.secret_key()),
            ("AWS_REGION", s3.region()),
        ] {
            std::fs::write(creds.join(file), value).unwrap();
        }
        let passphrase = scratch.join("passphrase");
        std::fs::write(&passphrase, PASSPHRASE).unwrap();
        let log = std::fs::File::create(scratch.join(format!("sidecar-{site}.log"))).unwrap();
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
            .env("BLOODRAVEN_PITR_STORAGE_TYPE", "S3")
            .env("BLOODRAVEN_PITR_S3_BUCKET", s3.bucket())
            .env("BLOODRAVEN_PITR_S3_ENDPOINT_URL", s3.endpoint())
            .env("BLOODRAVEN_PITR_S3_REGION", s3.region())
            .env("BLOODRAVEN_PITR_AWS_CREDS_DIR", &creds)
            .env("BLOODRAVEN_PITR_PASSPHRASE_FILE", &passphrase)
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

const PASSPHRASE: &str = "correct horse battery staple";

fn group_json(s3: &S3Server) -> Value {
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
                "profiles": [{
                    "name": "nightly",
                    "storage": { "type": "S3", "s3": {
                        "bucket": s3.bucket(), "prefix": "orders", "region": s3.region(),
                        "endpointURL": s3.endpoint(), "credentialsSecret": "s3-creds",
                    } },
                    "encryption": { "passphraseSecret": { "name": "backup-pass" } },
                }],
                "pitr": { "enabled": true, "profileName": "nightly", "archivePollInterval": "1s" },
            },
        },
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sidecars_archive_the_operator_reports_and_the_plugin_plans_a_recovery() {
    let (client, kubeconfig) = cluster().await;
    let ns = namespace(&client, "pitr").await;
    let group = Group::start(2);
    let s3 = S3Server::start().unwrap();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    for (name, data) in [
        (
            "orders-operator",
            json!({ "username": "root", "password": "" }),
        ),
        (
            "s3-creds",
            json!({
                "AWS_ACCESS_KEY_ID": s3.access_key(),
                "AWS_SECRET_ACCESS_KEY": s3.secret_key(),
                "AWS_REGION": s3.region(),
            }),
        ),
        ("backup-pass", json!({ "passphrase": PASSPHRASE })),
    ] {
        secrets
            .create(
                &PostParams::default(),
                &serde_json::from_value(
                    json!({ "metadata": { "name": name }, "stringData": data }),
                )
                .unwrap(),
            )
            .await
            .unwrap();
    }
    let groups: Api<MysqlFailoverGroup> = Api::namespaced(client.clone(), &ns);
    groups
        .create(
            &PostParams::default(),
            &serde_json::from_value(group_json(&s3)).unwrap(),
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
        .prefix("kube-pitr-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap()
        .keep();
    let scratch = scratch.as_path();
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
        &s3,
        scratch,
    );
    let mut pdx = Sidecar::start(
        operator.aux_port,
        &ns,
        "pdx",
        &group.servers[1],
        (ports[1], ports[0]),
        &s3,
        scratch,
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
    let text = operator.metrics().await;
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

    // The plugin plans a recovery from the bucket, through the group's credentials and passphrase Secrets: every
    // archived file is replayed and the primary's transactions are recovered.
    let executed = primary
        .sql("SELECT @@gtid_binlog_pos")
        .unwrap()
        .trim()
        .to_owned();
    let run = plugin(&kubeconfig, &ns, &["pitr-plan", "orders", "-o", "json"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["recoverable"], true, "{report}");
    assert_eq!(report["group"], "orders");
    assert_eq!(
        report["archive"],
        format!("s3://{}/orders/binlogs", s3.bucket())
    );
    assert_eq!(
        report["archivedFiles"], files,
        "the plugin counts what status.pitr counts"
    );
    assert_eq!(
        report["replay"].as_array().unwrap().len() as u64,
        files.as_u64().unwrap()
    );
    assert!(report["baseBackup"].is_null(), "{report}");
    let recovered = report["recovered"].as_str().unwrap();
    let archived_through = executed
        .split('-')
        .next_back()
        .unwrap()
        .parse::<u64>()
        .unwrap();
    assert!(
        recovered.ends_with(&format!("-{}", archived_through - 1))
            || recovered.ends_with(&format!("-{archived_through}")),
        "recovered {recovered} vs the primary's {executed}"
    );
    let table = plugin(&kubeconfig, &ns, &["pitr-plan", "orders"]).await;
    assert_eq!(table.code, 0, "{table:?}");
    assert!(
        table.stdout.contains("RECOVERABLE\n") && table.stdout.contains("REPLAY     "),
        "{table:?}"
    );

    // With a backup of the profile, the replay starts from the backup's GTID set.
    let backups: Api<MysqlBackup> = Api::namespaced(client.clone(), &ns);
    backups
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "metadata": { "name": "orders-nightly-base" },
                "spec": { "failoverGroupRef": { "name": "orders" }, "profileName": "nightly", "triggeredBy": "e2e" },
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    // The backup controller's first look writes a phase (it starts a Job no kubelet runs here); the Succeeded
    // status below goes in after it, or the controller's write could land last and undo it.
    wait(
        "the backup controller's first status of orders-nightly-base",
        Duration::from_secs(30),
        || async {
            backups
                .get_status("orders-nightly-base")
                .await
                .is_ok_and(|b| b.status.and_then(|s| s.phase).is_some())
        },
    )
    .await;
    let first = report["replay"][0]["adds"].as_str().unwrap().to_owned();
    let base_set = first.rsplit(' ').next().unwrap().to_owned();
    let base_gtid = format!("0-1-{}", base_set.rsplit('-').next().unwrap());
    backups
        .patch_status(
            "orders-nightly-base",
            &PatchParams::default(),
            &Patch::Merge(json!({ "status": {
                "phase": "Succeeded",
                "completionTime": "2026-01-01T00:00:00Z",
                "gtidExecuted": base_gtid,
            } })),
        )
        .await
        .unwrap();
    let run = plugin(&kubeconfig, &ns, &["pitr-plan", "orders", "-o", "json"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    let based: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        based["baseBackup"]["name"], "orders-nightly-base",
        "{based}"
    );
    assert_eq!(based["baseBackup"]["gtidExecuted"], base_gtid.as_str());
    assert_eq!(
        based["replay"].as_array().unwrap().len() + 1,
        report["replay"].as_array().unwrap().len(),
        "the first file ({first}) is in the backup: {based}"
    );
    assert_eq!(based["recovered"], report["recovered"]);

    // A target beyond the archive: planned as far as it goes, and the exit code says it is not reachable.
    let beyond = format!("0-1-{}", archived_through + 1000);
    let run = plugin(
        &kubeconfig,
        &ns,
        &["pitr-plan", "orders", "--to-gtid", &beyond],
    )
    .await;
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stdout.contains("NOT RECOVERABLE") && run.stdout.contains("cannot be reached"),
        "{run:?}"
    );

    // Just before a transaction (a bad DROP): recovered through the one before it, and the report names it.
    let stop = archived_through - 1;
    let run = plugin(
        &kubeconfig,
        &ns,
        &[
            "pitr-plan",
            "orders",
            "--to-gtid",
            &format!("0-1-{stop}"),
            "--exclusive",
            "-o",
            "json",
        ],
    )
    .await;
    assert_eq!(run.code, 0, "{run:?}");
    let excl: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(excl["target"], format!("just before domain 0 seq {stop}"));
    assert_eq!(
        excl["recovered"],
        format!("domain 0 seq 1-{}", stop - 1),
        "{excl}"
    );
    // Just before a transaction the newest backup already holds: the plan passes over it to an older backup
    // and says so; named with --from-backup, that backup is refused with the reason.
    backups
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "metadata": { "name": "orders-nightly-older" },
                "spec": { "failoverGroupRef": { "name": "orders" }, "profileName": "nightly", "triggeredBy": "e2e" },
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    backups
        .patch_status(
            "orders-nightly-older",
            &PatchParams::default(),
            &Patch::Merge(json!({ "status": {
                "phase": "Succeeded",
                "completionTime": "2025-12-31T00:00:00Z",
                "gtidExecuted": "0-1-1",
            } })),
        )
        .await
        .unwrap();
    let before_base = [
        "pitr-plan",
        "orders",
        "--to-gtid",
        &base_gtid,
        "--exclusive",
    ];
    let run = plugin(
        &kubeconfig,
        &ns,
        &[&before_base[..], &["-o", "json"]].concat(),
    )
    .await;
    assert_eq!(run.code, 0, "{run:?}");
    let older: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        older["baseBackup"]["name"], "orders-nightly-older",
        "{older}"
    );
    let just_before = base_set.rsplit('-').next().unwrap().parse::<u64>().unwrap() - 1;
    assert_eq!(
        older["recovered"],
        format!("domain 0 seq 1-{just_before}"),
        "{older}"
    );
    assert!(
        older["notes"][0]
            .as_str()
            .is_some_and(|n| n.contains("passed over: orders-nightly-base")),
        "{older}"
    );
    let run = plugin(
        &kubeconfig,
        &ns,
        &[&before_base[..], &["--from-backup", "orders-nightly-base"]].concat(),
    )
    .await;
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stdout.contains("the dump already holds"), "{run:?}");

    // The same bucket read directly, without the cluster's Secrets.
    let direct = Command::new(env!("CARGO_BIN_EXE_kubectl-bloodraven"))
        .args([
            "pitr-plan",
            "--bucket",
            &format!("s3://{}/orders", s3.bucket()),
            "-o",
            "json",
        ])
        .arg("--passphrase-file")
        .arg(scratch.join("passphrase"))
        .env("AWS_ACCESS_KEY_ID", s3.access_key())
        .env("AWS_SECRET_ACCESS_KEY", s3.secret_key())
        .env("AWS_REGION", s3.region())
        .env("AWS_ENDPOINT", s3.endpoint())
        .env("AWS_ALLOW_HTTP", "true")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&direct.stdout);
    assert!(
        direct.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&direct.stderr)
    );
    let direct: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(direct["recovered"], report["recovered"], "{direct}");
    assert_eq!(
        direct["archive"], report["archive"],
        "the same archive, named the same way"
    );

    // Refusals name the field at fault: a wrong passphrase, then no credentials.
    secrets
        .patch(
            "backup-pass",
            &PatchParams::default(),
            &Patch::Merge(json!({ "stringData": { "passphrase": "not the passphrase" } })),
        )
        .await
        .unwrap();
    let run = plugin(&kubeconfig, &ns, &["pitr-plan", "orders"]).await;
    assert_ne!(run.code, 0, "{run:?}");
    secrets
        .delete("s3-creds", &Default::default())
        .await
        .unwrap();
    let run = plugin(&kubeconfig, &ns, &["pitr-plan", "orders"]).await;
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr
            .contains("spec.backup.profiles[nightly].storage.s3.credentialsSecret")
            && run.stderr.contains("s3-creds"),
        "{run:?}"
    );

    drop(operator);
    delete_namespace(&client, &ns).await;
    let _ = std::fs::remove_dir_all(scratch);
}
