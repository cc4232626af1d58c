//! Restore plus point-in-time replay from a binlog archive, to the latest transaction, to a time and to a
//! GTID; the server must end at exactly the planned GTID state, and an unreachable target fails.

mod common;

use std::sync::Arc;
use std::time::Duration;

use bloodraven_backup::bloodraven_binlog::archive::{ArchiveStore, Archiver};
use bloodraven_backup::bloodraven_binlog::continuity::History;
use bloodraven_backup::bloodraven_binlog::manifest::{ArchiveLayout, SiteName};
use bloodraven_backup::bloodraven_binlog::pitr::Target;
use bloodraven_backup::format::Flavor;
use bloodraven_backup::pitr::{self, PitrOptions};
use bloodraven_backup::{DumpOptions, Error, RestoreOptions, dump, restore};

use common::*;

fn write_rows(db: &Server, tag: &str, n: usize) {
    let stmts: Vec<_> = (0..n)
        .map(|i| format!("INSERT INTO d.t (tag, v) VALUES ('{tag}', {i})"))
        .collect();
    db.sql(&stmts.join(";")).unwrap();
}

fn pos(db: &Server) -> String {
    db.sql("SELECT @@gtid_binlog_pos")
        .unwrap()
        .trim()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_then_replay_to_latest_a_time_and_a_gtid() {
    let source = server(1);
    exec(
        &source,
        &[
            "CREATE DATABASE d",
            "CREATE TABLE d.t (id INT AUTO_INCREMENT PRIMARY KEY, tag VARCHAR(8), v INT)",
        ],
    )
    .await;
    write_rows(&source, "a0", 5);
    let root = tempfile::tempdir().unwrap();
    let dump_dir = root.path().join("dump");
    let report = dump::dump(
        &conn_opts(&source),
        &dir_location(&dump_dir),
        &DumpOptions::default(),
    )
    .await
    .unwrap();
    let start = report.meta.gtid_executed.clone();
    assert_eq!(start, pos(&source));

    write_rows(&source, "a1", 5);
    let after_a1 = pos(&source);
    source.sql("FLUSH BINARY LOGS").unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let cut = chrono::Utc::now();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    write_rows(&source, "a2", 2);
    let after_two_a2 = pos(&source);
    write_rows(&source, "a2", 3);
    let last = pos(&source);
    source.sql("FLUSH BINARY LOGS").unwrap();

    let archive_root = root.path().join("archive");
    std::fs::create_dir_all(&archive_root).unwrap();
    let store = Arc::new(
        bloodraven_backup::object_store::local::LocalFileSystem::new_with_prefix(&archive_root)
            .unwrap(),
    );
    let archive = ArchiveStore::new(store, ArchiveLayout::for_profile_prefix("orders"));
    let archiver = Archiver::new(
        archive.clone(),
        SiteName::parse("east").unwrap(),
        source.binlog_dir(),
    );
    let cycle = archiver.run_cycle(&true).await.unwrap();
    assert!(cycle.failed.is_empty(), "{cycle:?}");

    // The dry run's report.
    let plan = pitr::plan(&archive, &start, &Target::Latest).await.unwrap();
    let text = pitr::report_text(&plan);
    assert!(text.contains("recoverable: yes"), "{text}");

    let cases = [
        (Target::Latest, last.clone(), 15),
        (Target::Time(cut), after_a1.clone(), 10),
        (
            Target::Gtids {
                set: History::parse(&after_two_a2, "t").unwrap(),
                inclusive: true,
            },
            after_two_a2.clone(),
            12,
        ),
    ];
    for (i, (target, expected_gtid, rows)) in cases.into_iter().enumerate() {
        let db = server(10 + i as u32);
        restore::restore(
            &conn_opts(&db),
            &dir_location(&dump_dir),
            &RestoreOptions::default(),
        )
        .await
        .unwrap();
        let mut options = PitrOptions::new(archive.clone(), target.clone());
        options.work_dir = root.path().join(format!("work-{i}"));
        let replayed = pitr::replay(&conn_opts(&db), Flavor::Mariadb, &start, &options)
            .await
            .unwrap_or_else(|e| panic!("{target:?}: {e:?}"));
        assert_eq!(replayed.gtid_executed, expected_gtid, "{target:?}");
        assert_eq!(
            db.sql("SELECT COUNT(*) FROM d.t").unwrap().trim(),
            rows.to_string(),
            "{target:?}"
        );
        assert!(replayed.last_file.is_some());
        assert!(!options.work_dir.exists(), "downloads are removed");
    }

    // A target beyond the archive: refused before anything is replayed.
    let db = server(20);
    restore::restore(
        &conn_opts(&db),
        &dir_location(&dump_dir),
        &RestoreOptions::default(),
    )
    .await
    .unwrap();
    let beyond = Target::Gtids {
        set: History::parse("0-1-999", "t").unwrap(),
        inclusive: true,
    };
    let err = pitr::replay(
        &conn_opts(&db),
        Flavor::Mariadb,
        &start,
        &PitrOptions::new(archive.clone(), beyond),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, Error::Pitr(ref m) if m.contains("recoverable: no")),
        "{err}"
    );
    assert_eq!(db.sql("SELECT COUNT(*) FROM d.t").unwrap().trim(), "5");
}
