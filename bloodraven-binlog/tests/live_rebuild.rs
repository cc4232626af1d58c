//! End to end with real MariaDB servers: a site's server is rebuilt (a fresh server restored from the
//! old one's data and GTID state), which restarts binlog numbering; its files reuse archived names, are
//! archived as generation 2 (`<base>.g0002.<number>`) beside the old server's, sorting after them the way
//! the Go restore orders its replay, and PITR replays across both servers gap-free.

use std::sync::Arc;

use bloodraven_binlog::archive::{ArchiveStore, Archiver};
use bloodraven_binlog::continuity::{self, History};
use bloodraven_binlog::manifest::{ArchiveLayout, BinlogName, SiteName};
use bloodraven_binlog::pitr::{self, Target};
use bloodraven_test_support::mariadb::MariaDb;
use object_store::memory::InMemory;

mod live_support;
use live_support::{dump, load, replay, rows, sql, write_rows};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebuilt_server_restarts_numbering_and_pitr_spans_both() {
    let archive = ArchiveStore::new(
        Arc::new(InMemory::new()),
        ArchiveLayout::for_profile_prefix("orders"),
    );
    let site = SiteName::parse("east").unwrap();

    let mut old = MariaDb::builder().server_id(1).start().unwrap();
    sql(
        &old,
        "CREATE DATABASE d; CREATE TABLE d.t (id INT AUTO_INCREMENT PRIMARY KEY, tag VARCHAR(8), v INT)",
    );
    write_rows(&old, "o0", 5);
    let dump_pos = sql(&old, "SELECT @@gtid_binlog_pos").trim().to_owned();
    let base = dump(&old);
    write_rows(&old, "o1", 10);
    sql(&old, "FLUSH BINARY LOGS");
    let archiver_old = Archiver::new(archive.clone(), site.clone(), old.binlog_dir());
    let report = archiver_old.run_cycle(&true).await.unwrap();
    assert!(report.failed.is_empty(), "{report:?}");
    let old_names = report.archived;
    assert!(!old_names.is_empty());

    // The rebuild: a fresh server gets the old one's data (outside its binlog) and GTID state, then the
    // old server is gone. Its binlog numbering starts again from the first file.
    let state = sql(&old, "SELECT @@gtid_binlog_state").trim().to_owned();
    let data = dump(&old);
    old.stop().unwrap();
    let new = MariaDb::builder().server_id(1).start().unwrap();
    load(&new, &data);
    sql(
        &new,
        &format!("RESET MASTER; SET GLOBAL gtid_binlog_state = '{state}'"),
    );
    write_rows(&new, "n1", 6);
    sql(&new, "FLUSH BINARY LOGS");
    write_rows(&new, "n2", 3);
    sql(&new, "FLUSH BINARY LOGS");
    let archiver_new = Archiver::new(archive.clone(), site.clone(), new.binlog_dir());
    let report = archiver_new.run_cycle(&true).await.unwrap();
    assert!(report.failed.is_empty(), "{report:?}");
    let g2 = BinlogName::parse(&old_names[0]).unwrap().generation(2);
    assert!(
        report.archived.contains(&g2.to_string()),
        "{report:?} (old server archived {old_names:?})"
    );
    // A second cycle recognises every file by content.
    let again = archiver_new.run_cycle(&true).await.unwrap();
    assert!(
        again.archived.is_empty() && again.failed.is_empty(),
        "{again:?}"
    );
    assert_eq!(again.already_archived, report.archived.len());

    let manifest = archive.load_manifest(&site).await.unwrap();
    // Sorted by name (the Go restore's replay order), the old server's files come first.
    let by_name: Vec<&str> = manifest.files.iter().map(|e| e.name.as_str()).collect();
    let written: Vec<&str> = old_names
        .iter()
        .chain(&report.archived)
        .map(String::as_str)
        .collect();
    assert_eq!(by_name, written);
    let manifests = [manifest];
    let start = History::parse(&dump_pos, "dump position").unwrap();
    let check = continuity::check(&manifests, &start).unwrap();
    assert!(check.is_continuous(), "{check:?}");
    let plan = pitr::plan(&manifests, &start, &Target::Latest).unwrap();
    assert!(plan.is_complete(), "{plan:?}");
    let final_pos = sql(&new, "SELECT @@gtid_binlog_pos").trim().to_owned();
    assert_eq!(plan.recovered, History::parse(&final_pos, "final").unwrap());

    // Replay into a server restored from the first dump: it ends up with the rebuilt server's data.
    let dir = tempfile::tempdir().unwrap();
    pitr::download(&archive, &plan, dir.path()).await.unwrap();
    let c = MariaDb::builder().server_id(3).start().unwrap();
    load(&c, &base);
    replay(&plan, dir.path(), &c);
    assert_eq!(rows(&c), rows(&new));
    assert_eq!(
        sql(&c, "SELECT COUNT(*) FROM d.t").trim(),
        (5 + 10 + 6 + 3).to_string()
    );
}
