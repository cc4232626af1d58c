//! The binlog numbering of an in-place restore, with a real MariaDB server and the real `bloodraven restore` Job
//! step: the server has written binlogs up to `mysql-bin.N` and the site's PITR archive holds them; the in-place
//! restore (`BLOODRAVEN_DROP_ALL_USER_SCHEMAS=1`, `BLOODRAVEN_RESET_REPLICATION=1`) resets the binary logs but
//! continues their numbering past N, so the files the restored server writes next are archived under new names
//! beside the old ones: the manifest lists both histories and every archived object is still the file its server
//! wrote.

use std::process::{Command, Output};
use std::sync::Arc;

use bloodraven_backup::bloodraven_binlog::archive::{ArchiveStore, Archiver};
use bloodraven_backup::bloodraven_binlog::manifest::{ArchiveLayout, SiteName};
use bloodraven_backup::object_store::memory::InMemory;
use bloodraven_backup::object_store::path::Path as ObjectPath;
use bloodraven_backup::object_store::{ObjectStore, ObjectStoreExt};
use bloodraven_test_support::mariadb::MariaDb;

/// Runs a `bloodraven` Job step against `server` with the dumps on the PVC-style folder `mount`.
fn step(name: &str, server: &MariaDb, mount: &std::path::Path, env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bloodraven"))
        .arg(name)
        .env("BLOODRAVEN_STORAGE_TYPE", "PVC")
        .env("BLOODRAVEN_PVC_MOUNT_PATH", mount)
        .env(
            "BLOODRAVEN_MYSQL_HOST",
            format!("127.0.0.1:{}", server.port()),
        )
        .env("MYSQL_USER", "root")
        .env("MYSQL_PASSWORD", "")
        .env(
            "BLOODRAVEN_RESULT_FILE",
            mount.join(format!("{name}-result")),
        )
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

/// The numbers of the server's binary logs, in order.
fn binlog_numbers(server: &MariaDb) -> Vec<u32> {
    server
        .sql("SHOW BINARY LOGS")
        .unwrap()
        .lines()
        .filter_map(|l| l.split('\t').next())
        .map(number)
        .collect()
}

/// The file number of a binlog name (`mysql-bin.000042` → 42).
fn number(name: &str) -> u32 {
    let digits = name.rsplit('.').next().unwrap();
    digits
        .parse()
        .unwrap_or_else(|e| panic!("{name:?} has no file number: {e}"))
}

async fn object(store: &dyn ObjectStore, key: &str) -> Vec<u8> {
    store
        .get(&ObjectPath::from(key))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_in_place_restore_continues_the_binlog_numbering_and_the_archive_keeps_both_histories() {
    let server = MariaDb::builder().server_id(1).start().unwrap();
    server
        .sql(
            "CREATE DATABASE d; CREATE TABLE d.t (id BIGINT PRIMARY KEY, v VARCHAR(16) NOT NULL); \
             INSERT INTO d.t VALUES (1, 'a'), (2, 'b'), (3, 'c')",
        )
        .unwrap();
    let mount = tempfile::tempdir().unwrap();
    let dump = step(
        "dump",
        &server,
        mount.path(),
        &[("BLOODRAVEN_OUTPUT_URL", "orders-1")],
    );
    assert!(
        dump.status.success(),
        "{}",
        String::from_utf8_lossy(&dump.stderr)
    );
    // The site's history after the dump, over several files; the archiver seals and archives all but the active one.
    for (i, id) in (4..8).enumerate() {
        server
            .sql(&format!(
                "INSERT INTO d.t VALUES ({id}, 'old{i}'); FLUSH BINARY LOGS"
            ))
            .unwrap();
    }
    let before = binlog_numbers(&server);
    let n = *before.last().unwrap();
    assert!(n >= 5, "{before:?}");
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let archive = ArchiveStore::new(
        Arc::clone(&store),
        ArchiveLayout::for_profile_prefix("orders"),
    );
    let site = SiteName::parse("iad").unwrap();
    let old = Archiver::new(archive.clone(), site.clone(), server.binlog_dir())
        .run_cycle(&true)
        .await
        .unwrap();
    assert!(old.failed.is_empty(), "{old:?}");
    assert_eq!(old.archived.len(), before.len() - 1, "{old:?}");
    let old_files: Vec<(String, Vec<u8>)> = old
        .archived
        .iter()
        .map(|name| {
            let bytes = std::fs::read(server.binlog_dir().join(name)).unwrap();
            (name.clone(), bytes)
        })
        .collect();

    // The in-place restore empties the live server and loads the dump.
    let restore = step(
        "restore",
        &server,
        mount.path(),
        &[
            ("BLOODRAVEN_INPUT_URL", "orders-1"),
            ("BLOODRAVEN_DROP_ALL_USER_SCHEMAS", "1"),
            ("BLOODRAVEN_RESET_REPLICATION", "1"),
        ],
    );
    let stderr = String::from_utf8_lossy(&restore.stderr);
    assert!(restore.status.success(), "{stderr}");
    assert_eq!(
        server
            .sql("SELECT GROUP_CONCAT(id ORDER BY id) FROM d.t")
            .unwrap()
            .trim(),
        "1,2,3"
    );
    // The numbering went on: no file of the restored server reuses a number of the old one.
    let after = binlog_numbers(&server);
    assert!(
        after.iter().all(|&m| m > n),
        "before {before:?}, after {after:?}"
    );

    // The restored server writes on; its sealed files are archived under their own, new names.
    for id in 8..10 {
        server
            .sql(&format!(
                "INSERT INTO d.t VALUES ({id}, 'new'); FLUSH BINARY LOGS"
            ))
            .unwrap();
    }
    let new = Archiver::new(archive.clone(), site.clone(), server.binlog_dir())
        .run_cycle(&true)
        .await
        .unwrap();
    assert!(new.failed.is_empty(), "{new:?}");
    assert_eq!(new.already_archived, 0, "{new:?}");
    assert!(!new.archived.is_empty(), "{new:?}");
    for name in &new.archived {
        assert!(
            number(name) > n && !name.contains(".g"),
            "{name} is not a new plain name past {n}"
        );
    }

    // Both histories are in the manifest, and every object is still the file its server wrote.
    let manifest = archive.load_manifest(&site).await.unwrap();
    let listed: Vec<&str> = manifest.files.iter().map(|e| e.name.as_str()).collect();
    let expected: Vec<&str> = old
        .archived
        .iter()
        .chain(&new.archived)
        .map(String::as_str)
        .collect();
    assert_eq!(listed, expected);
    for (name, bytes) in &old_files {
        let key = &manifest.get(name).unwrap().remote_path;
        assert!(
            object(store.as_ref(), key).await == *bytes,
            "{name} changed"
        );
    }
    for name in &new.archived {
        let key = &manifest.get(name).unwrap().remote_path;
        let local = std::fs::read(server.binlog_dir().join(name)).unwrap();
        assert!(object(store.as_ref(), key).await == local, "{name} differs");
    }
    // The new history starts from the dump's GTID state, the old one from the empty server.
    let first_new = manifest.get(&new.archived[0]).unwrap();
    let restored = server.sql("SELECT @@gtid_slave_pos").unwrap();
    assert_eq!(
        first_new.mariadb_gtid_list.as_deref(),
        Some(restored.trim()),
        "{first_new:?}"
    );
}
