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
use bloodraven_backup::pitr::{self, ExcludedGtids, PitrOptions};
use bloodraven_backup::verify::{self, VerifyOptions};
use bloodraven_backup::{DumpOptions, Error, RestoreOptions, ServerOptions, dump, restore};

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

/// A server with `d.t` holding five `a0` rows, dumped into `<root>/dump`; returns the server, the root, the dump
/// directory and the dump's GTID state.
async fn dumped_source(id: u32) -> (Server, tempfile::TempDir, std::path::PathBuf, String) {
    let source = server(id);
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
    (source, root, dump_dir, start)
}

/// A new server holding a restore of the dump in `dump_dir`.
async fn restored(id: u32, dump_dir: &std::path::Path) -> Server {
    let db = server(id);
    restore::restore(
        &conn_opts(&db),
        &dir_location(dump_dir),
        &RestoreOptions::default(),
    )
    .await
    .unwrap();
    db
}

/// Archives the source's sealed binlogs as site `east` under `<root>/archive/orders/binlogs`; returns the
/// archive and `<root>/archive`.
async fn archive_binlogs(
    source: &Server,
    root: &std::path::Path,
) -> (ArchiveStore, std::path::PathBuf) {
    let archive_root = root.join("archive");
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
    (archive, archive_root)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_then_replay_to_latest_a_time_and_a_gtid() {
    let (source, root, dump_dir, start) = dumped_source(1).await;
    assert_eq!(start, pos(&source));

    write_rows(&source, "a1", 5);
    let after_a1 = pos(&source);
    source.sql("FLUSH BINARY LOGS").unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let cut = chrono::Utc::now();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    write_rows(&source, "a2", 2);
    let after_two_a2 = pos(&source);
    // The bad transaction in the middle of the second file: the exclusive targets stop just before it.
    source.sql("DELETE FROM d.t WHERE tag = 'a0'").unwrap();
    let bad_delete = pos(&source);
    write_rows(&source, "a2", 3);
    let last = pos(&source);
    source.sql("FLUSH BINARY LOGS").unwrap();

    let (archive, archive_root) = archive_binlogs(&source, root.path()).await;

    // The dry run's report.
    let plan = pitr::plan(&archive, &start, &Target::Latest).await.unwrap();
    let text = pitr::report_text(&plan);
    assert!(text.contains("recoverable: yes"), "{text}");

    let gtid = |text: &str, inclusive| Target::Gtids {
        set: History::parse(text, "t").unwrap(),
        inclusive,
    };
    let cases = [
        (Target::Latest, last.clone(), "a1=5,a2=5"),
        (Target::Time(cut), after_a1.clone(), "a0=5,a1=5"),
        (
            gtid(&after_two_a2, true),
            after_two_a2.clone(),
            "a0=5,a1=5,a2=2",
        ),
        // `--stop-gtid 0-1-N --exclusive`: everything before the DELETE, not the DELETE, nothing after it;
        // the server ends at exactly the transaction before it.
        (
            gtid(&bad_delete, false),
            after_two_a2.clone(),
            "a0=5,a1=5,a2=2",
        ),
        (gtid(&bad_delete, true), bad_delete.clone(), "a1=5,a2=2"),
    ];
    for (i, (target, expected_gtid, rows)) in cases.into_iter().enumerate() {
        let db = restored(10 + i as u32, &dump_dir).await;
        let mut options = PitrOptions::new(archive.clone(), target.clone());
        options.work_dir = root.path().join(format!("work-{i}"));
        let replayed = pitr::replay(&conn_opts(&db), Flavor::Mariadb, &start, &options)
            .await
            .unwrap_or_else(|e| panic!("{target:?}: {e:?}"));
        assert_eq!(replayed.gtid_executed, expected_gtid, "{target:?}");
        // (For a time target the plan is an upper bound.)
        assert!(
            matches!(target, Target::Time(_))
                || History::parse(&replayed.planned, "planned").unwrap()
                    == History::parse(&expected_gtid, "expected").unwrap(),
            "the plan promised what was replayed: {target:?} {replayed:?}"
        );
        assert_eq!(rows_by_tag(&db), rows, "{target:?}");
        assert!(replayed.last_file.is_some());
        assert!(!options.work_dir.exists(), "downloads are removed");
    }

    // The same exclusive stop through the command line: `--stop-gtid 0-1-N --exclusive`.
    let db = server(16);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bloodraven-backup"))
        .args(["restore", "--from"])
        .arg(format!("file://{}", dump_dir.display()))
        .args(["--port", &db.port().to_string(), "--binlog-archive"])
        .arg(format!("file://{}/orders/binlogs", archive_root.display()))
        .args(["--stop-gtid", &bad_delete, "--exclusive", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["gtidExecuted"], after_two_a2.as_str(), "{result}");
    assert_eq!(rows_by_tag(&db), "a0=5,a1=5,a2=2");

    // A target beyond the archive: refused before anything is replayed.
    let db = restored(20, &dump_dir).await;
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

    // Stopping just before a transaction the dump already holds: refused, never an empty success.
    let err = pitr::replay(
        &conn_opts(&db),
        Flavor::Mariadb,
        &start,
        &PitrOptions::new(archive.clone(), gtid(&start, false)),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, Error::Pitr(ref m) if m.contains("the dump already holds") && m.contains("recoverable: no")),
        "{err}"
    );
    assert_eq!(db.sql("SELECT COUNT(*) FROM d.t").unwrap().trim(), "5");
}

/// `tag=rows` per tag, in tag order.
fn rows_by_tag(db: &Server) -> String {
    db.sql(
        "SELECT GROUP_CONCAT(CONCAT(tag, '=', n) ORDER BY tag) \
         FROM (SELECT tag, COUNT(*) AS n FROM d.t GROUP BY tag) AS x",
    )
    .unwrap()
    .trim()
    .to_owned()
}

/// A bad transaction in each of two files: the replay skips the chosen ones (in the first file, in the last
/// file with a GTID stop, in two files), the rest lands and the GTID check passes; an excluded GTID the
/// replay would not apply is refused before anything is replayed, naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_skips_excluded_gtids() {
    let (source, root, dump_dir, start) = dumped_source(2).await;
    let in_dump = start.clone();

    write_rows(&source, "a1", 5);
    source.sql("DELETE FROM d.t WHERE tag = 'a1'").unwrap();
    let bad_delete = pos(&source);
    write_rows(&source, "a2", 3);
    source.sql("FLUSH BINARY LOGS").unwrap();
    write_rows(&source, "a3", 2);
    let before_update = pos(&source);
    source
        .sql("UPDATE d.t SET v = v + 100 WHERE tag = 'a0'")
        .unwrap();
    let bad_update = pos(&source);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let cut = chrono::Utc::now();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    write_rows(&source, "a4", 1);
    let first_a4 = pos(&source);
    write_rows(&source, "a4", 1);
    let last = pos(&source);
    source.sql("FLUSH BINARY LOGS").unwrap();

    let (archive, archive_root) = archive_binlogs(&source, root.path()).await;

    // The dry run names what is skipped.
    let both = ExcludedGtids::parse(&format!("{bad_delete},{bad_update}")).unwrap();
    let plan = pitr::plan(&archive, &start, &Target::Latest).await.unwrap();
    let text = pitr::report_text_excluding(&plan, &start, &both).unwrap();
    assert!(
        text.contains(&format!("skipped gtids: {bad_delete},{bad_update}")),
        "{text}"
    );
    assert!(text.contains("recoverable: yes"), "{text}");

    let a1_rows = "SELECT COUNT(*) FROM d.t WHERE tag = 'a1'";
    let a0_sum = "SELECT SUM(v) FROM d.t WHERE tag = 'a0'";
    let cases = [
        // The DELETE in the first file (which starts at the dump's GTID position).
        (
            Target::Latest,
            bad_delete.clone(),
            last.clone(),
            17,
            "5",
            "510",
        ),
        // Both, in two files.
        (
            Target::Latest,
            format!("{bad_delete},{bad_update}"),
            last.clone(),
            17,
            "5",
            "10",
        ),
        // The UPDATE in the last file, which also carries the GTID stop.
        (
            Target::Gtids {
                set: History::parse(&first_a4, "t").unwrap(),
                inclusive: true,
            },
            bad_update.clone(),
            first_a4.clone(),
            11,
            "0",
            "10",
        ),
        // The UPDATE in the last file, cut by a stop time: the newest replayed transaction is skipped, so the
        // position is the one before it.
        (
            Target::Time(cut),
            bad_update.clone(),
            before_update.clone(),
            10,
            "0",
            "10",
        ),
        // The newest archived transaction (a bad statement just before the restore).
        (
            Target::Latest,
            last.clone(),
            first_a4.clone(),
            11,
            "0",
            "510",
        ),
    ];
    for (i, (target, skip, expected_gtid, rows, a1, sum)) in cases.into_iter().enumerate() {
        let db = restored(30 + i as u32, &dump_dir).await;
        let mut options = PitrOptions::new(archive.clone(), target.clone());
        options.work_dir = root.path().join(format!("work-{i}"));
        options.exclude = ExcludedGtids::parse(&skip).unwrap();
        let replayed = pitr::replay(&conn_opts(&db), Flavor::Mariadb, &start, &options)
            .await
            .unwrap_or_else(|e| panic!("{target:?} without {skip}: {e}"));
        assert_eq!(replayed.gtid_executed, expected_gtid, "without {skip}");
        assert_eq!(replayed.skipped, skip);
        let count = db.sql("SELECT COUNT(*) FROM d.t").unwrap();
        assert_eq!(count.trim(), rows.to_string(), "without {skip}");
        assert_eq!(db.sql(a1_rows).unwrap().trim(), a1, "without {skip}");
        assert_eq!(db.sql(a0_sum).unwrap().trim(), sum, "without {skip}");
    }

    // Outside the window: a transaction of the dump, one beyond the archive, one with the wrong server id,
    // one beyond a GTID target. Each is refused by name and nothing is replayed.
    let first_in_dump = in_dump.rsplit_once('-').unwrap();
    let in_dump_gtid = format!("{}-1", first_in_dump.0);
    let (domain_server, seq) = bad_delete.rsplit_once('-').unwrap();
    let wrong_server = format!("0-7-{seq}");
    assert_ne!(wrong_server, bad_delete, "{domain_server}");
    let refusals = [
        (
            Target::Latest,
            in_dump_gtid.clone(),
            "not in the replay window",
        ),
        (
            Target::Latest,
            "0-2-999".to_owned(),
            "not in the replay window",
        ),
        (Target::Latest, wrong_server.clone(), "check the server id"),
        (
            Target::Gtids {
                set: History::parse(&bad_delete, "t").unwrap(),
                inclusive: true,
            },
            bad_update.clone(),
            "not in the replay window",
        ),
        (Target::Time(cut), first_a4.clone(), "after the stop time"),
    ];
    let db = restored(40, &dump_dir).await;
    for (target, skip, why) in refusals {
        let mut options = PitrOptions::new(archive.clone(), target.clone());
        options.exclude = ExcludedGtids::parse(&format!("{bad_delete},{skip}")).unwrap();
        let err = pitr::replay(&conn_opts(&db), Flavor::Mariadb, &start, &options)
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::Pitr(ref m) if m.contains(&skip) && m.contains(why)
                && !m.contains(&format!("{bad_delete} (")) && !m.contains(&format!("gtids {bad_delete}"))),
            "{skip}: {err}"
        );
        assert_eq!(db.sql("SELECT COUNT(*) FROM d.t").unwrap().trim(), "5");
        assert_eq!(pos(&db), start, "nothing replayed");
    }
    let outside = ExcludedGtids::parse(&in_dump_gtid).unwrap();
    let text = pitr::report_text_excluding(&plan, &start, &outside).unwrap();
    assert!(
        text.contains(&format!("outside the replay window (already in the dump, beyond the target or not archived): {in_dump_gtid}"))
            && text.contains("recoverable: no"),
        "{text}"
    );

    // The same through the command line: a dry run names the skipped GTID, a restore skips it, and a restore
    // with a GTID outside the window is refused before the target is touched.
    let cli = |port: u16, extra: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_bloodraven-backup"))
            .args(["restore", "--from"])
            .arg(format!("file://{}", dump_dir.display()))
            .args(["--port", &port.to_string(), "--binlog-archive"])
            .arg(format!("file://{}/orders/binlogs", archive_root.display()))
            .args(["--latest", "--exclude-gtids"])
            .args(extra)
            .output()
            .unwrap()
    };
    let db = server(41);
    let out = cli(db.port(), &[&in_dump_gtid, "--dry-run"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("skipped gtids: {in_dump_gtid}"))
            && stdout.contains("recoverable: no"),
        "{stdout}"
    );
    let out = cli(db.port(), &[&bad_delete, "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["replay"]["skipped"], bad_delete.as_str());
    assert_eq!(result["gtidExecuted"], last.as_str());
    assert_eq!(db.sql(a1_rows).unwrap().trim(), "5");
    let db = server(42);
    let out = cli(db.port(), &["0-2-999"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("0-2-999")
            && stderr.contains("not in the replay window")
            && stderr.contains("nothing was restored"),
        "{stderr}"
    );
    assert_eq!(db.sql("SHOW DATABASES LIKE 'd'").unwrap().trim(), "");
    // A GTID with the wrong server id is found only in the downloaded files; that refusal too comes before
    // the restore.
    let out = cli(db.port(), &[&wrong_server]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&wrong_server)
            && stderr.contains("check the server id")
            && stderr.contains("nothing was restored"),
        "{stderr}"
    );
    assert_eq!(db.sql("SHOW DATABASES LIKE 'd'").unwrap().trim(), "");
}

/// MariaDB with two GTID domains whose stops fall in different files: domain 1 stops in the middle file,
/// domain 0 in the last. Each domain must stop at its own transaction: the middle file leaves out domain 1's
/// later transactions, the last file leaves domain 1 out entirely (`mariadb-binlog` refuses a stop position
/// it has already passed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gtid_target_over_two_domains_stops_each_in_its_own_file() {
    let (source, root, dump_dir, start) = dumped_source(40).await;
    let in_domain = |domain: u32, tag: &str, n: usize| {
        let stmts: Vec<_> = (0..n)
            .map(|i| format!("INSERT INTO d.t (tag, v) VALUES ('{tag}', {i})"))
            .collect();
        source
            .sql(&format!(
                "SET SESSION gtid_domain_id = {domain}; {}",
                stmts.join(";")
            ))
            .unwrap();
    };
    in_domain(1, "b1", 2);
    source.sql("FLUSH BINARY LOGS").unwrap();
    in_domain(1, "d1", 1);
    let domain1_stop = pos(&source);
    in_domain(1, "d1", 1);
    in_domain(0, "x0", 2);
    source.sql("FLUSH BINARY LOGS").unwrap();
    in_domain(0, "y0", 2);
    let domain0_stop = pos(&source);
    in_domain(1, "z1", 1);
    source.sql("FLUSH BINARY LOGS").unwrap();
    let (archive, _) = archive_binlogs(&source, root.path()).await;

    let tip = |position: &str, domain: &str| {
        position
            .split(',')
            .find(|g| g.starts_with(&format!("{domain}-")))
            .unwrap()
            .to_owned()
    };
    let target_text = format!("{},{}", tip(&domain0_stop, "0"), tip(&domain1_stop, "1"));
    let target = Target::Gtids {
        set: History::parse(&target_text, "target").unwrap(),
        inclusive: true,
    };
    let db = restored(41, &dump_dir).await;
    let replayed = pitr::replay(
        &conn_opts(&db),
        Flavor::Mariadb,
        &start,
        &PitrOptions::new(archive, target),
    )
    .await
    .unwrap();
    assert_eq!(
        History::parse(&replayed.gtid_executed, "replayed").unwrap(),
        History::parse(&target_text, "target").unwrap(),
        "{replayed:?}"
    );
    // The second d1 row (domain 1, after its stop, middle file) and z1 (domain 1, last file) are left out.
    assert_eq!(rows_by_tag(&db), "a0=5,b1=2,d1=1,x0=2,y0=2");
}

/// A verification that replays the archive to its latest transaction: the throwaway server ends at the
/// archive's last GTID, and the checksums it reports are of the tables as dumped. They are taken in a snapshot
/// opened before the replay, which meanwhile changes rows of the same table and adds a column to it (the
/// `ALTER` waits for the checksum).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verification_replays_to_latest_and_checksums_the_tables_as_dumped() {
    let (source, root, dump_dir, start) = dumped_source(50).await;
    let dumped = checksums(&source).await;
    write_rows(&source, "a1", 5);
    source
        .sql(
            "UPDATE d.t SET v = v + 100 WHERE tag = 'a0'; \
             ALTER TABLE d.t ADD COLUMN note VARCHAR(8) NOT NULL DEFAULT 'x'",
        )
        .unwrap();
    let last = pos(&source);
    source.sql("FLUSH BINARY LOGS").unwrap();
    assert_ne!(checksums(&source).await, dumped, "the writes change d.t");
    let (archive, _) = archive_binlogs(&source, root.path()).await;

    let report = verify::verify(
        &dir_location(&dump_dir),
        &VerifyOptions {
            server: ServerOptions {
                extra_args: vec![
                    "--innodb-log-file-size=8M".into(),
                    "--innodb-buffer-pool-size=32M".into(),
                ],
                ..ServerOptions::default()
            },
            pitr: Some(PitrOptions::new(archive, Target::Latest)),
            keep_on_failure: false,
            ..VerifyOptions::default()
        },
    )
    .await;
    assert!(report.succeeded, "{}", report.message);
    assert_eq!(report.gtid_expected, start);
    assert_eq!(report.gtid_actual, last);
    let replayed = report.replayed_through_binlog.as_ref().expect("replayed");
    assert!(replayed.files >= 1, "{replayed:?}");
    let reported: Vec<String> = report
        .tables
        .iter()
        .map(|t| format!("{} {}", t.table, t.checksum))
        .collect();
    assert_eq!(reported, dumped);
    assert_eq!(report.tables[0].rows, 5);
}
