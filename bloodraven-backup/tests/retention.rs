//! Retention over real dumps: the newest complete dump is the latest even when a half dump is newer,
//! pruning deletes whole directories, and a half-deleted dump is incomplete.

mod common;

use bloodraven_backup::retention::{self, RetentionPolicy};
use bloodraven_backup::{DumpLocation, DumpOptions, dump};

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prune_keeps_the_newest_complete_dump_and_never_picks_a_half_dump() {
    let source = server(1);
    exec(
        &source,
        &[
            "CREATE DATABASE r",
            "CREATE TABLE r.t (id INT PRIMARY KEY)",
            "INSERT INTO r.t VALUES (1), (2)",
        ],
    )
    .await;
    let root = tempfile::tempdir().unwrap();
    for name in ["nightly-b", "nightly-a"] {
        dump::dump(
            &conn_opts(&source),
            &dir_location(&root.path().join(name)),
            &DumpOptions::default(),
        )
        .await
        .unwrap();
        // Distinct completion times (the local store has second-or-better resolution).
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    }
    // A newer dump that never finished.
    let half = root.path().join("nightly-c");
    std::fs::create_dir_all(&half).unwrap();
    std::fs::copy(root.path().join("nightly-a/r.sql"), half.join("r.sql")).unwrap();
    std::fs::write(root.path().join("stray-file"), "not a dump").unwrap();

    let top = DumpLocation::parse(&format!("file://{}", root.path().display())).unwrap();
    let dumps = retention::list_dumps(top.store(), top.prefix())
        .await
        .unwrap();
    let names: Vec<(&str, bool)> = dumps
        .iter()
        .map(|d| (d.name.as_str(), d.complete))
        .collect();
    assert_eq!(
        names,
        [
            ("nightly-a", true),
            ("nightly-b", true),
            ("nightly-c", false)
        ]
    );
    assert_eq!(retention::latest(&dumps).unwrap().name, "nightly-a");

    let policy = RetentionPolicy {
        count: Some(1),
        max_failed_keep: 0,
        ..RetentionPolicy::default()
    };
    // The running-looking half dump is newer than every complete one: left alone.
    let dry = retention::prune(top.store(), top.prefix(), &policy, true)
        .await
        .unwrap();
    assert_eq!(
        dry.iter().map(|d| d.0.as_str()).collect::<Vec<_>>(),
        ["nightly-b"]
    );
    assert!(root.path().join("nightly-b/@.done.json").exists());
    retention::prune(top.store(), top.prefix(), &policy, false)
        .await
        .unwrap();
    let left: Vec<String> = retention::list_dumps(top.store(), top.prefix())
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.name)
        .collect();
    assert_eq!(left, ["nightly-a", "nightly-c"]);
    assert!(root.path().join("stray-file").exists());
}
