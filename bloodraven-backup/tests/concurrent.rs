//! A dump taken while transactions commit restores to exactly the GTID state it recorded: every
//! transaction up to that state is in the restored data, none after it, across tables read by different
//! connections.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bloodraven_backup::{DumpOptions, RestoreOptions, dump, restore};
use mysql_async::prelude::Queryable;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dump_under_concurrent_writes_restores_to_its_recorded_gtid_state() {
    let source = server(1);
    exec(
        &source,
        &[
            "CREATE DATABASE w",
            "USE w",
            "CREATE TABLE w.a (id INT PRIMARY KEY, v INT)",
            "CREATE TABLE w.b (id INT PRIMARY KEY, v INT)",
            "CREATE TABLE w.bulk (id INT PRIMARY KEY, pad VARCHAR(200))",
            "INSERT INTO w.bulk SELECT seq, REPEAT('p', 200) FROM seq_1_to_20000",
            "ANALYZE TABLE w.bulk",
        ],
    )
    .await;
    let before: String = source
        .sql("SELECT @@gtid_binlog_pos")
        .unwrap()
        .trim()
        .to_owned();
    let seq_before: u64 = before.rsplit('-').next().unwrap().parse().unwrap();

    // One writer: each transaction inserts the same id into a and b, one GTID each.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let stop = Arc::clone(&stop);
        let port = source.port();
        tokio::spawn(async move {
            let opts = mysql_async::OptsBuilder::default()
                .ip_or_hostname("127.0.0.1")
                .tcp_port(port)
                .user(Some("root"));
            let mut conn = mysql_async::Conn::new(opts).await.unwrap();
            let mut id = 0u64;
            while !stop.load(Ordering::Relaxed) {
                id += 1;
                conn.query_drop(format!(
                    "START TRANSACTION; INSERT INTO w.a VALUES ({id}, {id}); \
                     INSERT INTO w.b VALUES ({id}, {id}); COMMIT"
                ))
                .await
                .unwrap();
            }
            id
        })
    };
    // Let some transactions commit first.
    while source.sql("SELECT COUNT(*) FROM w.a").unwrap().trim() == "0" {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let dir = tempfile::tempdir().unwrap();
    let location = dir_location(dir.path());
    let report = dump::dump(
        &conn_opts(&source),
        &location,
        &DumpOptions {
            threads: 3,
            bytes_per_chunk: 64 * 1024,
            ..DumpOptions::default()
        },
    )
    .await
    .unwrap();
    // Keep writing a little after the dump, then stop.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    stop.store(true, Ordering::Relaxed);
    let written = writer.await.unwrap();

    let seq_dump: u64 = report
        .meta
        .gtid_executed
        .rsplit('-')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let in_dump = seq_dump - seq_before;
    assert!(in_dump > 0, "no transaction committed before the dump");
    assert!(
        in_dump < written,
        "no transaction committed during or after the dump"
    );

    let target = server(2);
    let restored = restore::restore(&conn_opts(&target), &location, &RestoreOptions::default())
        .await
        .unwrap();
    assert_eq!(restored.gtid_executed, report.meta.gtid_executed);
    // Exactly the transactions up to the recorded GTID: ids 1..=in_dump in both tables.
    let expected = format!("{in_dump}\t{in_dump}\t{in_dump}\t{in_dump}\n");
    assert_eq!(
        target
            .sql(
                "SELECT (SELECT COUNT(*) FROM w.a), (SELECT MAX(id) FROM w.a), \
                  (SELECT COUNT(*) FROM w.b), (SELECT MAX(id) FROM w.b)"
            )
            .unwrap(),
        expected
    );
    assert_eq!(
        target.sql("SELECT COUNT(*) FROM w.bulk").unwrap().trim(),
        "20000"
    );
}
