//! End to end with real MariaDB servers: write, rotate, archive, restart, fail over to a second server in
//! another site and keep archiving; then plan across both sites' files, download, and replay with
//! `mariadb-binlog | mariadb` into a server restored from a dump, and from nothing into an empty server; both
//! must end up with the same data.

use std::sync::Arc;
use std::time::Duration;

use bloodraven_binlog::archive::{ArchiveStore, Archiver};
use bloodraven_binlog::continuity::{self, History};
use bloodraven_binlog::manifest::{ArchiveLayout, SiteName};
use bloodraven_binlog::pitr::{self, Target};
use bloodraven_test_support::mariadb::MariaDb;
use bloodraven_test_support::s3::S3Server;
use object_store::ObjectStore;

mod live_support;
use live_support::{dump, load, replay, rows, sql, write_rows};

fn s3_store(server: &S3Server) -> Arc<dyn ObjectStore> {
    Arc::new(
        object_store::aws::AmazonS3Builder::new()
            .with_endpoint(server.endpoint())
            .with_bucket_name(server.bucket())
            .with_access_key_id(server.access_key())
            .with_secret_access_key(server.secret_key())
            .with_region(server.region())
            .with_allow_http(true)
            .build()
            .unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_fail_over_plan_and_replay() {
    let s3 = S3Server::start().unwrap();
    let store = s3_store(&s3);
    let archive = ArchiveStore::new(store.clone(), ArchiveLayout::for_profile_prefix("orders"));
    let (site_a, site_b) = (
        SiteName::parse("east").unwrap(),
        SiteName::parse("west").unwrap(),
    );

    let mut a = MariaDb::builder().server_id(1).start().unwrap();
    let b = MariaDb::builder().server_id(2).start().unwrap();
    b.replicate_from(&a).unwrap();
    sql(
        &a,
        "CREATE DATABASE d; CREATE TABLE d.t (id INT AUTO_INCREMENT PRIMARY KEY, tag VARCHAR(8), v INT)",
    );
    write_rows(&a, "a0", 5);

    // The dump: data and GTID position taken together while nothing writes.
    let dump_pos = sql(&a, "SELECT @@gtid_binlog_pos").trim().to_owned();
    let base = dump(&a);

    write_rows(&a, "a1", 10);
    sql(&a, "FLUSH BINARY LOGS");
    write_rows(&a, "a2", 10);
    sql(&a, "FLUSH BINARY LOGS");
    let archiver_a = Archiver::new(archive.clone(), site_a.clone(), a.binlog_dir());
    let report = archiver_a.run_cycle(&true).await.unwrap();
    assert_eq!(report.archived.len(), 2, "{report:?}");
    assert!(report.failed.is_empty(), "{report:?}");

    // A restarts (its binlog rotates) and keeps writing; archiving is idempotent across the restart.
    a.restart().unwrap();
    write_rows(&a, "a3", 7);
    sql(&a, "FLUSH BINARY LOGS");
    let report = archiver_a.run_cycle(&true).await.unwrap();
    assert!(report.failed.is_empty(), "{report:?}");
    assert!(report.archived.len() >= 2, "{report:?}");
    let a_pos = sql(&a, "SELECT @@gtid_binlog_pos").trim().to_owned();
    b.wait_for("SELECT @@gtid_slave_pos", &a_pos, Duration::from_secs(30))
        .unwrap();

    // Failover: A is fenced (read-only: its archiver idles), B is promoted and writes in the same domain.
    sql(&a, "SET GLOBAL read_only = 1");
    assert!(
        archiver_a
            .run_cycle(&false)
            .await
            .unwrap()
            .archived
            .is_empty()
    );
    sql(&b, "STOP SLAVE; RESET SLAVE ALL");
    write_rows(&b, "b1", 8);
    sql(&b, "FLUSH BINARY LOGS");
    write_rows(&b, "b2", 4);
    sql(&b, "FLUSH BINARY LOGS");
    let archiver_b = Archiver::new(archive.clone(), site_b.clone(), b.binlog_dir());
    let report = archiver_b.run_cycle(&true).await.unwrap();
    assert!(report.failed.is_empty(), "{report:?}");
    assert!(report.archived.len() >= 2, "{report:?}");
    let final_pos = sql(&b, "SELECT @@gtid_binlog_pos").trim().to_owned();

    // Continuity and plan across both sites from the dump's position.
    let sites = archive.sites().await.unwrap();
    assert_eq!(sites, [site_a.clone(), site_b.clone()]);
    let mut manifests = Vec::new();
    for s in &sites {
        manifests.push(archive.load_manifest(s).await.unwrap());
    }
    let start = History::parse(&dump_pos, "dump position").unwrap();
    let report = continuity::check(&manifests, &start).unwrap();
    assert!(report.gaps.is_empty(), "{:?}", report.gaps);
    assert!(report.unreachable().is_empty(), "{}", report.unreachable());
    let plan = pitr::plan(&manifests, &start, &Target::Latest).unwrap();
    assert!(plan.is_complete(), "{plan:?}");
    assert_eq!(plan.recovered, History::parse(&final_pos, "final").unwrap());
    assert!(
        plan.files.iter().any(|f| f.file.site == "east")
            && plan.files.last().unwrap().file.site == "west"
    );

    // Download and replay into a server restored from the dump.
    let dir = tempfile::tempdir().unwrap();
    let paths = pitr::download(&archive, &plan, dir.path()).await.unwrap();
    assert_eq!(paths.len(), plan.files.len());
    let c = MariaDb::builder().server_id(3).start().unwrap();
    load(&c, &base);
    assert_eq!(sql(&c, "SELECT COUNT(*) FROM d.t").trim(), "5");
    replay(&plan, dir.path(), &c);
    assert_eq!(rows(&c), rows(&b));
    assert_eq!(
        sql(&c, "SELECT COUNT(*) FROM d.t").trim(),
        (5 + 10 + 10 + 7 + 8 + 4).to_string()
    );

    // Binary logging was on from the first statement, so the archive holds the whole history: the same files
    // planned from nothing rebuild the data in an empty server.
    let nothing = History::parse("", "empty server").unwrap();
    let full = pitr::plan(&manifests, &nothing, &Target::Latest).unwrap();
    assert!(full.is_complete(), "{full:?}");
    assert_eq!(full.recovered, History::parse(&final_pos, "final").unwrap());
    let dir_full = tempfile::tempdir().unwrap();
    pitr::download(&archive, &full, dir_full.path())
        .await
        .unwrap();
    let e = MariaDb::builder().server_id(5).start().unwrap();
    replay(&full, dir_full.path(), &e);
    assert_eq!(rows(&e), rows(&b));

    // A GTID target: stop after B's fifth transaction (inclusive) into another restored server.
    let b_first: u64 = final_pos
        .rsplit('-')
        .next()
        .unwrap()
        .parse::<u64>()
        .unwrap()
        - 12
        + 1;
    let target = Target::Gtids {
        set: History::parse(&format!("0-2-{}", b_first + 4), "t").unwrap(),
        inclusive: true,
    };
    let plan = pitr::plan(&manifests, &start, &target).unwrap();
    assert!(plan.is_complete(), "{plan:?}");
    let d = MariaDb::builder().server_id(4).start().unwrap();
    load(&d, &base);
    let dir2 = tempfile::tempdir().unwrap();
    pitr::download(&archive, &plan, dir2.path()).await.unwrap();
    replay(&plan, dir2.path(), &d);
    assert_eq!(
        sql(&d, "SELECT COUNT(*) FROM d.t WHERE tag = 'b1'").trim(),
        "5"
    );
    assert_eq!(
        sql(&d, "SELECT COUNT(*) FROM d.t").trim(),
        (5 + 10 + 10 + 7 + 5).to_string()
    );
}
