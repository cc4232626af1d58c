//! Schema restores (`RestoreOptions::include_schemas`, `restore --include-schema`) into a live primary with a
//! replica: only the named schema goes back to the dump, other schemas, accounts and the GTID state of the
//! primary stay, the load reaches the replica through the binlog, and bad requests are refused before anything
//! is dropped.

mod common;

use std::process::Command;
use std::time::Duration;

use bloodraven_backup::{DumpOptions, Error, RestoreOptions, dump, restore};
use bloodraven_test_support::mariadb::MariaDb;

use common::*;

/// `app` (chunked tables, a key-less table, a foreign key, a view, a trigger, a routine) and `canary`.
const SCHEMAS: &[&str] = &[
    "CREATE DATABASE app",
    "USE app",
    "CREATE TABLE app.items (id INT PRIMARY KEY, name VARCHAR(100), price DECIMAL(10,2), KEY by_name (name))",
    "INSERT INTO app.items SELECT seq, CONCAT('item ', seq), seq / 7 FROM seq_1_to_4000",
    "CREATE TABLE app.log (msg VARCHAR(100), at DATETIME)",
    "INSERT INTO app.log SELECT CONCAT('event ', seq), '2025-01-01' FROM seq_1_to_300",
    "CREATE TABLE app.parent (id INT PRIMARY KEY)",
    "CREATE TABLE app.child (id INT PRIMARY KEY, p INT, CONSTRAINT to_parent FOREIGN KEY (p) REFERENCES app.parent (id))",
    "INSERT INTO app.parent VALUES (1), (2)",
    "INSERT INTO app.child VALUES (1, 1), (2, 2), (3, 1)",
    "CREATE VIEW app.cheap AS SELECT id, name FROM app.items WHERE price < 10",
    "CREATE TRIGGER app.items_bi BEFORE INSERT ON app.items FOR EACH ROW SET NEW.name = UPPER(NEW.name)",
    "CREATE PROCEDURE app.p() BEGIN SELECT 1; SELECT 2; END",
    "CREATE DATABASE canary",
    "CREATE TABLE canary.beats (id INT PRIMARY KEY, v VARCHAR(20))",
    "INSERT INTO canary.beats SELECT seq, CONCAT('beat ', seq) FROM seq_1_to_50",
    "CREATE USER 'dumped'@'10.%' IDENTIFIED BY 'secret'",
    "GRANT SELECT ON app.* TO 'dumped'@'10.%'",
];

/// What happens to both schemas after the dump.
const CHANGES: &[&str] = &[
    "USE canary",
    "UPDATE app.items SET price = price + 1 WHERE id % 3 = 0",
    "DELETE FROM app.items WHERE id > 3900",
    "INSERT INTO app.log VALUES ('after the dump', NOW())",
    "DROP VIEW app.cheap",
    "CREATE TABLE app.added_later (id INT PRIMARY KEY)",
    "INSERT INTO canary.beats SELECT seq, 'after the dump' FROM seq_51_to_80",
    "UPDATE canary.beats SET v = 'changed' WHERE id = 1",
    "DROP USER 'dumped'@'10.%'",
    "CREATE USER 'later'@'10.%'",
];

fn of_schema(sums: &[String], schema: &str) -> Vec<String> {
    let prefix = format!("{schema}.");
    sums.iter()
        .filter(|l| l.starts_with(&prefix))
        .cloned()
        .collect()
}

fn one(server: &MariaDb, q: &str) -> String {
    server.sql(q).unwrap().trim().to_owned()
}

/// Waits until `replica` applied everything `primary` binlogged.
fn caught_up(primary: &MariaDb, replica: &MariaDb) {
    let pos = one(primary, "SELECT @@gtid_binlog_pos");
    replica
        .wait_for("SELECT @@gtid_slave_pos", &pos, Duration::from_secs(60))
        .unwrap_or_else(|e| {
            panic!(
                "{e}; replica status: {}",
                replica.sql("SHOW SLAVE STATUS\\G").unwrap_or_default()
            )
        });
}

/// A primary holding [`SCHEMAS`] with a replica of it, dumped with `options` (two threads) into a new directory.
async fn dumped_pair(options: DumpOptions) -> (Server, Server, tempfile::TempDir) {
    let primary = server(1);
    let replica = server(2);
    replica.replicate_from(&primary).unwrap();
    exec(&primary, SCHEMAS).await;
    let dir = tempfile::tempdir().unwrap();
    dump::dump(
        &conn_opts(&primary),
        &dir_location(dir.path()),
        &DumpOptions {
            threads: 2,
            ..options
        },
    )
    .await
    .unwrap();
    (primary, replica, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_schema_goes_back_to_the_dump_and_reaches_the_replica() {
    let (primary, replica, dir) = dumped_pair(DumpOptions {
        bytes_per_chunk: 8 * 1024,
        users: true,
        ..DumpOptions::default()
    })
    .await;
    let location = dir_location(dir.path());
    let at_dump = checksums(&primary).await;
    let objects_at_dump = objects(&primary);
    exec(&primary, CHANGES).await;
    let canary_changed = of_schema(&checksums(&primary).await, "canary");
    assert_ne!(canary_changed, of_schema(&at_dump, "canary"));
    assert_ne!(
        of_schema(&checksums(&primary).await, "app"),
        of_schema(&at_dump, "app")
    );
    caught_up(&primary, &replica);
    let slave_pos = one(&primary, "SELECT @@gtid_slave_pos");
    let binlog_before = one(&primary, "SELECT @@gtid_binlog_pos");

    let report = restore::restore(
        &conn_opts(&primary),
        &location,
        &RestoreOptions {
            include_schemas: vec!["app".into()],
            threads: 2,
            ..RestoreOptions::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(report.schemas, ["app"]);
    assert_eq!(report.tables, 4);
    assert_eq!(report.rows, 4000 + 300 + 2 + 3);

    // `app` is the dump's again (the table made later is gone), `canary` keeps its changes.
    let after = checksums(&primary).await;
    assert_eq!(of_schema(&after, "app"), of_schema(&at_dump, "app"));
    assert_eq!(of_schema(&after, "canary"), canary_changed);
    assert_eq!(objects(&primary), objects_at_dump);
    // Accounts and the GTID state are the live server's; the load went through the binlog.
    assert_eq!(
        one(
            &primary,
            "SELECT COUNT(*) FROM mysql.user WHERE user = 'dumped'"
        ),
        "0"
    );
    assert_eq!(
        one(
            &primary,
            "SELECT COUNT(*) FROM mysql.user WHERE user = 'later'"
        ),
        "1"
    );
    assert_eq!(one(&primary, "SELECT @@gtid_slave_pos"), slave_pos);
    let binlog_after = one(&primary, "SELECT @@gtid_binlog_pos");
    assert_ne!(binlog_after, binlog_before);
    assert_eq!(report.gtid_executed, binlog_after);

    // The replica converges without a reclone, replication still running.
    caught_up(&primary, &replica);
    assert_eq!(checksums(&replica).await, after);
    assert_eq!(objects(&replica), objects_at_dump);
    assert_eq!(
        one(
            &replica,
            "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'Slave_running'"
        ),
        "ON"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_schema_requests_are_refused_before_anything_is_dropped() {
    let (primary, replica, dir) = dumped_pair(DumpOptions::default()).await;
    let location = dir_location(dir.path());
    exec(&primary, CHANGES).await;
    caught_up(&primary, &replica);
    let before = checksums(&primary).await;
    let binlog_before = one(&primary, "SELECT @@gtid_binlog_pos");

    // Not in the dump (`app` is listed too: nothing of it may be dropped either).
    let err = restore::restore(
        &conn_opts(&primary),
        &location,
        &RestoreOptions {
            include_schemas: vec!["app".into(), "billing".into()],
            ..RestoreOptions::default()
        },
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, Error::SchemaNotInDump { ref schema, ref available, .. }
            if schema == "billing" && available == "app, canary"),
        "{err}"
    );
    assert!(
        err.to_string().contains("name one of those schemas"),
        "{err}"
    );
    // A system schema.
    let err = restore::restore(
        &conn_opts(&primary),
        &location,
        &RestoreOptions {
            include_schemas: vec!["mysql".into()],
            ..RestoreOptions::default()
        },
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, Error::Options(ref m) if m.contains("system schema")),
        "{err}"
    );
    // A read-only server (the replica).
    replica.sql("SET GLOBAL read_only = 1").unwrap();
    let err = restore::restore(
        &conn_opts(&replica),
        &location,
        &RestoreOptions {
            include_schemas: vec!["app".into()],
            ..RestoreOptions::default()
        },
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, Error::Target { ref reason, .. } if reason.contains("read-only")),
        "{err}"
    );
    assert_eq!(checksums(&primary).await, before);
    assert_eq!(checksums(&replica).await, before);
    assert_eq!(one(&primary, "SELECT @@gtid_binlog_pos"), binlog_before);

    // The command line refuses a schema restore with a binlog replay, before touching the server.
    let out = Command::new(env!("CARGO_BIN_EXE_bloodraven-backup"))
        .args([
            "restore",
            "--from",
            &format!("file://{}", dir.path().display()),
        ])
        .args([
            "--port",
            &primary.port().to_string(),
            "--include-schema",
            "app",
        ])
        .args(["--binlog-archive", "file:///nowhere", "--latest"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--include-schema cannot be combined with --binlog-archive"),
        "{stderr}"
    );
    assert_eq!(checksums(&primary).await, before);
}
