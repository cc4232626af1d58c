//! The archiver loop against real MariaDB servers, a local directory store and the loopback S3 server.

mod support;

use std::time::Duration;

use bloodraven_sidecar::Sidecar;
use bloodraven_test_support::mariadb::MariaDb;
use bloodraven_test_support::proxy::{Fault, Proxy};
use bloodraven_test_support::s3::S3Server;
use serde_json::Value;
use support::{
    Store, config, flags, http_get, manifest, sealed, server_with_data, verify_archive,
    wait_for_manifest, wait_until, with_pitr, write_load,
};

/// Rotates the binlog `n` times while `db` is under write load, then stops the load and seals the last file.
async fn rotate_under_load(db: &MariaDb, n: usize) {
    let load = write_load(db);
    for _ in 0..n {
        tokio::time::sleep(Duration::from_millis(150)).await;
        db.sql("FLUSH BINARY LOGS").unwrap();
    }
    load.send_replace(true);
    tokio::time::sleep(Duration::from_millis(50)).await;
    db.sql("INSERT INTO d.t (v) VALUES ('last'); FLUSH BINARY LOGS")
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotations_under_write_load_are_archived_once_into_a_directory_woken_by_inotify() {
    let db = server_with_data(1);
    let dir = tempfile::tempdir().unwrap();
    // A 60 s poll interval: only inotify can make the archive keep up within the test's timeouts.
    let cfg = config(&with_pitr(
        flags(&db, "east", None, &[]),
        db.binlog_dir(),
        &Store::Dir(dir.path()),
        "60s",
    ));
    let s = Sidecar::start(&cfg).await.unwrap();
    rotate_under_load(&db, 6).await;
    let names = sealed(db.binlog_dir());
    assert!(names.len() >= 7, "{names:?}");
    let m = wait_for_manifest(&cfg, "east", names.len(), Duration::from_secs(15)).await;
    verify_archive(&cfg, &m, db.binlog_dir(), &names).await;

    let (code, body) = http_get(s.local_addr(), "/archiver/status").await;
    assert_eq!(code, 200);
    let st: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(st["enabled"], true);
    assert_eq!(st["primary"], true);
    assert_eq!(st["storageType"], "PVC");
    assert_eq!(st["manifestPrefix"], "orders/binlogs");
    assert_eq!(st["site"], "east");
    assert_eq!(st["filesArchived"], names.len());
    assert_eq!(st["manifestFileCount"], names.len());
    assert_eq!(st["backlogFiles"], 0);
    assert_eq!(st["uploadFailures"], 0);
    assert!(st.get("lastError").is_none(), "{st}");
    for key in [
        "lastScanAt",
        "lastUploadAt",
        "manifestBytes",
        "oldestArchivedTime",
        "newestArchivedTime",
    ] {
        assert!(!st[key].is_null(), "{key} in {st}");
    }
    let (_, metrics) = http_get(s.local_addr(), "/metrics").await;
    assert!(
        metrics.contains(
            r#"bloodraven_archiver_backlog_files{namespace="db",group="orders",site="east"} 0"#
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains("bloodraven_archiver_last_upload_timestamp_seconds{"),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            r#"bloodraven_archiver_upload_failures{namespace="db",group="orders",site="east"} 0"#
        ),
        "{metrics}"
    );
    s.shutdown().await;

    // A restart archives nothing twice.
    let s = Sidecar::start(&cfg).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(s.archiver().unwrap().status().files_archived, 0);
    assert_eq!(manifest(&cfg, "east").await, m);
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotations_are_archived_into_s3_encrypted_with_brv1() {
    let db = server_with_data(1);
    let s3 = S3Server::start().unwrap();
    let creds = tempfile::tempdir().unwrap();
    let pass = creds.path().join("passphrase");
    std::fs::write(&pass, "correct horse battery staple\n").unwrap();
    let mut f = with_pitr(
        flags(&db, "east", None, &[]),
        db.binlog_dir(),
        &Store::S3 {
            endpoint: s3.endpoint(),
            s3: &s3,
            creds: creds.path(),
        },
        "1s",
    );
    f.pitr_passphrase_file = Some(pass.clone());
    let cfg = config(&f);
    let s = Sidecar::start(&cfg).await.unwrap();
    rotate_under_load(&db, 3).await;
    let names = sealed(db.binlog_dir());
    let m = wait_for_manifest(&cfg, "east", names.len(), Duration::from_secs(20)).await;
    verify_archive(&cfg, &m, db.binlog_dir(), &names).await;
    // Objects and the manifest are BRV1 on the wire.
    let manifest_file = s3.root().join("archive/orders/binlogs/manifest-east.json");
    assert!(std::fs::read(&manifest_file).unwrap().starts_with(b"BRV1"));
    let object = s3
        .root()
        .join(format!("archive/orders/binlogs/east/{}", names[0]));
    assert!(std::fs::read(&object).unwrap().starts_with(b"BRV1"));
    s.shutdown().await;

    // The wrong passphrase: the manifest cannot be read, the error is reported, nothing is written.
    std::fs::write(&pass, "wrong passphrase\n").unwrap();
    db.sql("INSERT INTO d.t (v) VALUES ('more'); FLUSH BINARY LOGS")
        .unwrap();
    let before = std::fs::read(&manifest_file).unwrap();
    let s = Sidecar::start(&cfg).await.unwrap();
    let archiver = s.archiver().unwrap().clone();
    wait_until(Duration::from_secs(5), "the decryption error", || {
        archiver
            .status()
            .last_error
            .is_some_and(|e| e.contains("brv1"))
    })
    .await;
    assert_eq!(std::fs::read(&manifest_file).unwrap(), before);
    s.shutdown().await;

    // A passphrase file that cannot be read refuses the start, naming the variable.
    let mut f2 = f.clone();
    f2.pitr_passphrase_file = Some(creds.path().join("missing"));
    let e = Sidecar::start(&config(&f2)).await.unwrap_err();
    assert!(
        e.to_string().contains("BLOODRAVEN_PITR_PASSPHRASE_FILE"),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_store_is_retried_with_backoff_and_reported_and_nothing_half_written_is_listed() {
    let db = server_with_data(1);
    let s3 = S3Server::start().unwrap();
    let proxy = Proxy::start(s3.endpoint().trim_start_matches("http://").parse().unwrap()).unwrap();
    let creds = tempfile::tempdir().unwrap();
    let cfg = config(&with_pitr(
        flags(&db, "east", None, &[]),
        db.binlog_dir(),
        &Store::S3 {
            endpoint: format!("http://{}", proxy.addr()),
            s3: &s3,
            creds: creds.path(),
        },
        "2s",
    ));
    let s = Sidecar::start(&cfg).await.unwrap();
    let archiver = s.archiver().unwrap().clone();
    rotate_under_load(&db, 2).await;
    let first = sealed(db.binlog_dir());
    wait_for_manifest(&cfg, "east", first.len(), Duration::from_secs(15)).await;

    let manifest_file = s3.root().join("archive/orders/binlogs/manifest-east.json");
    for (fault, what) in [
        (Fault::Refuse, "refused connections"),
        (Fault::Respond(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_vec()), "5xx"),
    ] {
        proxy.set(fault);
        let failures = archiver.status().upload_failures;
        let listed = std::fs::read(&manifest_file).unwrap();
        db.sql("INSERT INTO d.t (v) VALUES ('f'); FLUSH BINARY LOGS").unwrap();
        wait_until(Duration::from_secs(20), what, || {
            archiver.status().upload_failures > failures && archiver.status().last_error.is_some()
        })
        .await;
        // Backoff: the failures grow slowly, not in a tight loop.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let grown = archiver.status().upload_failures - failures;
        assert!((1..=6).contains(&grown), "{what}: {grown} failures in ~3 s");
        let (_, body) = http_get(s.local_addr(), "/archiver/status").await;
        let st: Value = serde_json::from_str(&body).unwrap();
        assert!(st["lastError"].as_str().is_some_and(|e| !e.is_empty()), "{what}: {st}");
        assert!(st["uploadFailures"].as_u64().unwrap() > failures, "{what}: {st}");
        // The manifest never changed while the store failed.
        assert_eq!(std::fs::read(&manifest_file).unwrap(), listed, "{what}");
        proxy.set(Fault::Forward);
        let names = sealed(db.binlog_dir());
        let m = wait_for_manifest(&cfg, "east", names.len(), Duration::from_secs(20)).await;
        verify_archive(&cfg, &m, db.binlog_dir(), &names).await;
    }

    // Slow responses: archiving goes on, just slower.
    proxy.set(Fault::Delay(Duration::from_millis(100)));
    db.sql("INSERT INTO d.t (v) VALUES ('slow'); FLUSH BINARY LOGS")
        .unwrap();
    let names = sealed(db.binlog_dir());
    let m = wait_for_manifest(&cfg, "east", names.len(), Duration::from_secs(30)).await;
    proxy.set(Fault::Forward);
    verify_archive(&cfg, &m, db.binlog_dir(), &names).await;
    wait_until(Duration::from_secs(5), "the error to clear", || {
        archiver.status().last_error.is_none()
    })
    .await;
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_failures_show_the_backlog_until_the_store_recovers() {
    let db = server_with_data(1);
    let dir = tempfile::tempdir().unwrap();
    // The site's object directory is a file: every upload fails, the manifest (beside it) still loads.
    std::fs::create_dir_all(dir.path().join("orders/binlogs")).unwrap();
    std::fs::write(dir.path().join("orders/binlogs/east"), b"in the way").unwrap();
    let cfg = config(&with_pitr(
        flags(&db, "east", None, &[]),
        db.binlog_dir(),
        &Store::Dir(dir.path()),
        "1s",
    ));
    let s = Sidecar::start(&cfg).await.unwrap();
    rotate_under_load(&db, 2).await;
    let names = sealed(db.binlog_dir());
    let archiver = s.archiver().unwrap().clone();
    wait_until(Duration::from_secs(10), "the backlog", || {
        archiver.status().backlog_files == names.len() as u64
    })
    .await;
    let (_, body) = http_get(s.local_addr(), "/archiver/status").await;
    let st: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(st["backlogFiles"], names.len());
    assert!(
        st["lastError"].as_str().unwrap().contains("mysql-bin."),
        "{st}"
    );
    assert_eq!(manifest(&cfg, "east").await.files.len(), 0);
    let (_, metrics) = http_get(s.local_addr(), "/metrics").await;
    assert!(
        metrics.contains(&format!(
            r#"bloodraven_archiver_backlog_files{{namespace="db",group="orders",site="east"}} {}"#,
            names.len()
        )),
        "{metrics}"
    );

    std::fs::remove_file(dir.path().join("orders/binlogs/east")).unwrap();
    let m = wait_for_manifest(&cfg, "east", names.len(), Duration::from_secs(15)).await;
    verify_archive(&cfg, &m, db.binlog_dir(), &names).await;
    wait_until(Duration::from_secs(5), "the backlog to drain", || {
        archiver.status().backlog_files == 0
    })
    .await;
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_reported_and_the_loop_goes_on() {
    let db = server_with_data(1);
    rotate_under_load(&db, 3).await;
    // A copy of the binlogs with the second file corrupted in the middle.
    let binlogs = tempfile::tempdir().unwrap();
    let names = sealed(db.binlog_dir());
    let mut all = names.clone();
    all.push("mysql-bin.active".into());
    for n in &names {
        std::fs::copy(db.binlog_dir().join(n), binlogs.path().join(n)).unwrap();
    }
    std::fs::write(binlogs.path().join("mysql-bin.active"), b"").unwrap();
    let bad = binlogs.path().join(&names[1]);
    let mut bytes = std::fs::read(&bad).unwrap();
    let at = bytes.len() / 2;
    for b in &mut bytes[at..at + 16] {
        *b ^= 0x5a;
    }
    std::fs::write(&bad, &bytes).unwrap();
    std::fs::write(
        binlogs.path().join("mysql-bin.index"),
        all.iter().map(|n| format!("./{n}\n")).collect::<String>(),
    )
    .unwrap();

    // A manifest written by another version, with unknown fields and an entry for an older file: accepted, its
    // entry and its unknown fields kept.
    let store = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(store.path().join("orders/binlogs")).unwrap();
    std::fs::write(
        store.path().join("orders/binlogs/manifest-east.json"),
        r#"{"version":1,"site":"east","futureField":{"x":1},"files":[{"name":"mysql-bin.000000","remotePath":"orders/binlogs/east/mysql-bin.000000","size":10,"firstEventTime":"2026-01-01T00:00:00Z","lastEventTime":"2026-01-01T00:00:01Z","archivedAt":"2026-01-01T00:00:02Z","compression":"zstd"}]}"#,
    )
    .unwrap();

    let cfg = config(&with_pitr(
        flags(&db, "east", None, &[]),
        binlogs.path(),
        &Store::Dir(store.path()),
        "1s",
    ));
    let s = Sidecar::start(&cfg).await.unwrap();
    let archiver = s.archiver().unwrap().clone();
    let m = wait_for_manifest(&cfg, "east", names.len(), Duration::from_secs(15)).await;
    let listed: Vec<&str> = m.files.iter().map(|e| e.name.as_str()).collect();
    assert!(listed.contains(&"mysql-bin.000000"), "{listed:?}");
    let text =
        std::fs::read_to_string(store.path().join("orders/binlogs/manifest-east.json")).unwrap();
    assert!(
        text.contains("\"futureField\": {\"x\":1}") && text.contains("\"compression\": \"zstd\""),
        "unknown fields dropped: {text}"
    );
    assert!(
        !listed.contains(&names[1].as_str()),
        "the corrupt file was listed: {listed:?}"
    );
    for (i, n) in names.iter().enumerate() {
        assert_eq!(listed.contains(&n.as_str()), i != 1, "{n}");
    }
    let err = archiver.status().last_error.unwrap_or_default();
    assert!(
        err.starts_with(&names[1]) && err.contains("at offset"),
        "{err}"
    );
    s.shutdown().await;

    // An unreadable index (here: a directory) is reported, and the sidecar keeps serving.
    let broken = tempfile::tempdir().unwrap();
    std::fs::create_dir(broken.path().join("mysql-bin.index")).unwrap();
    let cfg = config(&with_pitr(
        flags(&db, "east", None, &[]),
        broken.path(),
        &Store::Dir(store.path()),
        "1s",
    ));
    let s = Sidecar::start(&cfg).await.unwrap();
    let archiver = s.archiver().unwrap().clone();
    wait_until(Duration::from_secs(5), "the index error", || {
        archiver
            .status()
            .last_error
            .is_some_and(|e| e.contains("read index"))
    })
    .await;
    assert_eq!(http_get(s.local_addr(), "/health").await.0, 200);
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_archive_stays_continuous_across_a_switch_of_the_primary() {
    let east = server_with_data(1);
    let west = MariaDb::builder().server_id(2).start().unwrap();
    west.sql("SET GLOBAL read_only = ON").unwrap();
    west.replicate_from(&east).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::Dir(dir.path());
    let cfg_east = config(&with_pitr(
        flags(&east, "east", None, &[]),
        east.binlog_dir(),
        &store,
        "1s",
    ));
    let cfg_west = config(&with_pitr(
        flags(&west, "west", None, &[]),
        west.binlog_dir(),
        &store,
        "1s",
    ));
    let s_east = Sidecar::start(&cfg_east).await.unwrap();
    let s_west = Sidecar::start(&cfg_west).await.unwrap();

    rotate_under_load(&east, 3).await;
    let east_sealed = sealed(east.binlog_dir());
    wait_for_manifest(
        &cfg_east,
        "east",
        east_sealed.len(),
        Duration::from_secs(15),
    )
    .await;

    // Switch mid-stream: writes continue until east is fenced; west catches up and is promoted.
    let load = write_load(&east);
    tokio::time::sleep(Duration::from_millis(300)).await;
    east.sql("SET GLOBAL read_only = ON").unwrap();
    load.send_replace(true);
    let pos = east.sql("SELECT @@gtid_binlog_pos").unwrap();
    west.wait_for(
        "SELECT @@gtid_slave_pos",
        pos.trim(),
        Duration::from_secs(20),
    )
    .unwrap();
    west.sql("STOP SLAVE; RESET SLAVE ALL; SET GLOBAL read_only = OFF")
        .unwrap();
    rotate_under_load(&west, 3).await;
    // The old primary's active file is sealed later (a restart), but it is no longer the primary: not archived.
    east.sql("FLUSH BINARY LOGS").unwrap();

    let west_sealed = sealed(west.binlog_dir());
    let m_west = wait_for_manifest(
        &cfg_west,
        "west",
        west_sealed.len(),
        Duration::from_secs(20),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let m_east = manifest(&cfg_east, "east").await;
    assert_eq!(
        m_east.files.len(),
        east_sealed.len(),
        "a read-only east archived after the switch"
    );
    assert!(!s_east.archiver().unwrap().status().primary);
    let report = bloodraven_binlog::continuity::check(
        &[m_east.clone(), m_west.clone()],
        &bloodraven_binlog::continuity::History::new(),
    )
    .unwrap();
    assert!(report.is_continuous(), "{report:?}");
    assert!(report.unreachable().is_empty(), "{report:?}");
    let newest = west.sql("SELECT @@gtid_binlog_pos").unwrap();
    let seq = newest.trim().rsplit('-').next().unwrap().to_owned();
    let covered = report.covered.to_string();
    assert!(
        covered.ends_with(&format!("1-{seq}")),
        "covered {covered}, west at {newest}"
    );
    s_east.shutdown().await;
    s_west.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_prunes_entries_older_than_the_operator_cutoff() {
    use support::{Answer, Operator};
    let db = server_with_data(1);
    db.sql("INSERT INTO d.t (v) VALUES ('old'); FLUSH BINARY LOGS")
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let cutoff = chrono::Utc::now();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    db.sql("INSERT INTO d.t (v) VALUES ('new'); FLUSH BINARY LOGS; INSERT INTO d.t (v) VALUES ('newer'); FLUSH BINARY LOGS")
        .unwrap();
    let names = sealed(db.binlog_dir());
    let op = Operator::start(Answer::Site("east")).await;
    op.set_cutoff(Some(cutoff.to_rfc3339()));
    let dir = tempfile::tempdir().unwrap();
    let mut f = with_pitr(
        flags(&db, "east", Some(op.addr), &[]),
        db.binlog_dir(),
        &Store::Dir(dir.path()),
        "60s",
    );
    f.pitr_profile_name = Some("nightly".into());
    f.pitr_retention_interval = Some("1s".into());
    let cfg = config(&f);
    let s = Sidecar::start(&cfg).await.unwrap();
    let old: Vec<&String> = names[..names.len() - 2].iter().collect();
    let mut m = manifest(&cfg, "east").await;
    let start = std::time::Instant::now();
    while m.files.len() != 2 || old.iter().any(|n| m.contains(n)) {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "not pruned: {:?}",
            m.files
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        m = manifest(&cfg, "east").await;
    }
    for e in &m.files {
        assert!(e.last_event_time.unwrap() >= cutoff, "{e:?}");
    }
    for n in old {
        assert!(
            !dir.path().join("orders/binlogs/east").join(n).exists(),
            "{n} not deleted"
        );
    }
    s.shutdown().await;
}
