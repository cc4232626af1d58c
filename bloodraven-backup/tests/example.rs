//! The crate's runnable example, `examples/backup_cycle.rs`, against a real server: a dump, writes after
//! it, the binlog archive, and a verification that restores the dump and replays those writes.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};

use common::*;

/// Builds the example with this test's profile and returns its path.
fn example() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .args([
            "build",
            "-p",
            "bloodraven-backup",
            "--example",
            "backup_cycle",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    if profile_dir.ends_with("release") {
        build.arg("--release");
    }
    let status = build.status().expect("run cargo build");
    assert!(status.success(), "building the example");
    profile_dir.join("examples").join("backup_cycle")
}

fn run(example: &PathBuf, step: &str, db: &Server, out: &std::path::Path) -> Output {
    Command::new(example)
        .arg(step)
        .arg(db.port().to_string())
        .arg(db.binlog_dir())
        .arg(out)
        .arg("2")
        .output()
        .expect("run the example")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_backup_cycle_example_dumps_archives_and_verifies_with_a_replay() {
    let example = example();
    let source = server(1);
    exec(
        &source,
        &[
            "CREATE DATABASE d",
            "USE d",
            "CREATE TABLE d.t (id INT PRIMARY KEY, v VARCHAR(20), KEY by_v (v))",
            "INSERT INTO d.t SELECT seq, CONCAT('v', seq) FROM seq_1_to_2000",
            "CREATE TABLE d.big (id INT PRIMARY KEY, v TEXT)",
        ],
    )
    .await;
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("cycle");

    let dumped = run(&example, "dump", &source, &out);
    assert!(dumped.status.success(), "{dumped:?}");
    assert!(stdout(&dumped).contains("dump: 2000 rows"), "{dumped:?}");

    // Writes after the dump reach the verification only through the archive. One of them is a 24 MB
    // row-based transaction: its replay is a statement larger than the servers' default packet limit.
    exec(
        &source,
        &[
            "USE d",
            "INSERT INTO d.t SELECT seq, 'after' FROM seq_2001_to_2100",
            "SET SESSION binlog_format = ROW",
            "INSERT INTO d.big SELECT seq, REPEAT(CHAR(65 + seq % 26), 1200) FROM seq_1_to_20000",
            "FLUSH BINARY LOGS",
        ],
    )
    .await;
    let archived = run(&example, "archive", &source, &out);
    assert!(archived.status.success(), "{archived:?}");
    assert!(
        !stdout(&archived).contains("archive: 0 binlogs"),
        "{archived:?}"
    );

    let verified = run(&example, "verify", &source, &out);
    assert!(verified.status.success(), "{verified:?}");
    let text = stdout(&verified);
    let expected = source.sql("SELECT @@gtid_binlog_pos").unwrap();
    assert!(text.contains("verify: ok"), "{text}");
    // The verification replayed the archive and reached the source's GTID state, writes after the dump
    // included.
    assert!(text.contains(" and replayed "), "{text}");
    assert!(text.contains(expected.trim()), "{text} lacks {expected}");

    // The newest archived binlog (the writes after the dump) removed: the verification fails, and the
    // example says so.
    let site_dir = out.join("archive/example/binlogs/example");
    let newest = std::fs::read_dir(&site_dir)
        .unwrap()
        .flatten()
        .map(|f| f.path())
        .max()
        .expect("an archived binlog");
    std::fs::remove_file(&newest).unwrap();
    let failed = run(&example, "verify", &source, &out);
    assert!(!failed.status.success(), "{failed:?}");
    assert!(stdout(&failed).contains("verify: FAILED"), "{failed:?}");

    // Usage errors name the usage.
    let bad = Command::new(&example).arg("everything").output().unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("usage: backup_cycle"));
}
