//! Loading what other tools wrote: a `mariadb-dump` SQL file and a mydumper directory (when mydumper is
//! installed) restore every table's checksum.

mod common;

use std::process::Command;

use bloodraven_backup::sqlfile;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_dump_files_load() {
    let source = server(1);
    exec(&source, FIXTURE).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dump.sql");
    let out = Command::new("mariadb-dump")
        .args([
            "--no-defaults",
            "-h",
            "127.0.0.1",
            "-P",
            &source.port().to_string(),
            "-u",
            "root",
        ])
        .args([
            "--single-transaction",
            "--routines",
            "--events",
            "--triggers",
            "--databases",
            "shop",
            "odd db",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(&file, &out.stdout).unwrap();
    let target = server(2);
    let n = sqlfile::load_sql_file(&conn_opts(&target), &file)
        .await
        .unwrap();
    assert!(n > 20, "{n} statements");
    assert_eq!(checksums(&target).await, checksums(&source).await);
    assert_eq!(objects(&target), objects(&source));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mydumper_directories_load() {
    let Ok(probe) = Command::new("mydumper").arg("--version").output() else {
        eprintln!("mydumper is not installed: its part of this test did not run");
        return;
    };
    assert!(probe.status.success());
    let source = server(1);
    exec(&source, FIXTURE).await;
    let dir = tempfile::tempdir().unwrap();
    let myd = dir.path().join("mydumper");
    // mydumper 0.10 can spin forever on some tables (with -r on BIGINT UNSIGNED keys near the top of the
    // range): bound it.
    let out = Command::new("timeout")
        .args([
            "120",
            "mydumper",
            "-h",
            "127.0.0.1",
            "-P",
            &source.port().to_string(),
            "-u",
            "root",
        ])
        .args(["-B", "shop", "-t", "2", "-c", "-G", "-E", "-R", "-o"])
        .arg(&myd)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let target = server(3);
    sqlfile::load_mydumper_dir(&conn_opts(&target), &myd, 2)
        .await
        .unwrap();
    let shop = |v: Vec<String>| -> Vec<String> {
        v.into_iter().filter(|l| l.starts_with("shop.")).collect()
    };
    assert_eq!(
        shop(checksums(&target).await),
        shop(checksums(&source).await)
    );
}
