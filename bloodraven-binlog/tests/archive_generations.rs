//! Names of a rebuilt server's files in the archive: one generation per server, named so that the Go
//! restore's by-name replay keeps the servers in order, and archives with the earlier `<name>.g<n>` names
//! still readable. Each test runs on `InMemory`, the local filesystem and a real S3-protocol server.

use std::sync::Arc;

use bloodraven_binlog::archive::{ArchiveStore, Archiver};
use bloodraven_binlog::continuity::{self, History};
use bloodraven_binlog::manifest::BinlogName;
use bloodraven_binlog::pitr::{self, Target};
use futures::StreamExt;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, path::Path as ObjPath};

mod archive_support;
use archive_support::*;

async fn rebuilt_server_file_gets_a_generation_name(store: Arc<dyn ObjectStore>) {
    let mut old_dir = BinlogDir::new();
    let f1 = old_dir.push(CHAIN[0]);
    old_dir.push(CHAIN[1]);
    let old = Archiver::new(
        ArchiveStore::new(store.clone(), layout()),
        site("iad"),
        old_dir.path(),
    )
    .with_server_uuid(UUID);
    assert_eq!(
        old.run_cycle(&true).await.unwrap().archived,
        std::slice::from_ref(&f1)
    );

    // The site's server is rebuilt from a backup: it restarts numbering at mysql-bin.000001, and that
    // file (other content) continues where the old server's archived history ends.
    let mut new_dir = BinlogDir::new();
    assert_eq!(new_dir.push(CHAIN[1]), f1);
    new_dir.push(CHAIN[0]);
    let new_uuid = "0e2fa4c3-3b1e-11ee-9b6d-0242ac120002";
    let new = Archiver::new(
        ArchiveStore::new(store.clone(), layout()),
        site("iad"),
        new_dir.path(),
    )
    .with_server_uuid(new_uuid);
    let report = new.run_cycle(&true).await.unwrap();
    let g2 = "mysql-bin.g0002.000001".to_owned();
    assert!(report.failed.is_empty(), "{report:?}");
    assert_eq!(report.archived, std::slice::from_ref(&g2));
    assert_eq!(report.already_archived, 0);
    // Both servers' files are archived; the old object is untouched.
    assert_eq!(
        object(store.as_ref(), &format!("orders/binlogs/iad/{f1}")).await,
        Some(old_dir.bytes(&f1))
    );
    assert_eq!(
        object(store.as_ref(), &format!("orders/binlogs/iad/{g2}")).await,
        Some(new_dir.bytes(&f1))
    );
    let manifest = new.store().load_manifest(&site("iad")).await.unwrap();
    let names: Vec<&str> = manifest.files.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, [f1.as_str(), g2.as_str()]);
    let entry = manifest.get(&g2).unwrap();
    assert_eq!(entry.remote_path, format!("orders/binlogs/iad/{g2}"));
    assert_eq!(entry.server_uuid.as_deref(), Some(new_uuid));
    assert_eq!(entry.sha256, Some(sha256_hex(&new_dir.bytes(&f1))));
    assert_eq!(
        manifest.get(&f1).unwrap().server_uuid.as_deref(),
        Some(UUID)
    );

    // Re-runs of either server recognise their file by content: nothing archived, nothing rewritten.
    let before = object(store.as_ref(), "orders/binlogs/manifest-iad.json").await;
    for archiver in [&new, &old] {
        let again = archiver.run_cycle(&true).await.unwrap();
        assert!(
            again.archived.is_empty() && again.failed.is_empty(),
            "{again:?}"
        );
        assert_eq!(again.already_archived, 1);
    }
    assert_eq!(
        object(store.as_ref(), "orders/binlogs/manifest-iad.json").await,
        before
    );

    // The planner follows GTID continuity across the two servers' files, gap-free.
    let start = History::parse(&manifest.get(&f1).unwrap().previous_gtids, "start").unwrap();
    let plan = pitr::plan(std::slice::from_ref(&manifest), &start, &Target::Latest).unwrap();
    let planned: Vec<&str> = plan.files.iter().map(|f| f.file.name.as_str()).collect();
    assert_eq!(planned, [f1.as_str(), g2.as_str()]);
    assert!(plan.is_complete(), "{plan:?}");
    let history = continuity::check(std::slice::from_ref(&manifest), &start).unwrap();
    assert!(history.is_continuous(), "{history:?}");
}

/// The Go restore downloads a site's files in manifest order (sorted by name) and replays them sorted by
/// name (`restore.py`: `sorted(glob("mysql-bin.*"))`). After two rebuilds, a byte-wise sort of the object
/// names must therefore give the order the servers wrote them in, even where a rebuilt server's numbers
/// pass the old server's (`000003` below) and across generations.
async fn generation_names_replay_in_go_order(store: Arc<dyn ObjectStore>) {
    let archive = ArchiveStore::new(store.clone(), layout());
    let mut replay_order: Vec<String> = Vec::new();
    // Server 1 seals two files; server 2 (rebuilt, numbering restarts) four; server 3 one.
    for (server, sealed) in [(1, 2), (2, 4), (3, 1)] {
        let mut dir = BinlogDir::new();
        for i in 0..=sealed {
            // Rotate three fixtures so that no server's file has the content of another server's file
            // under the same number.
            let pool = [CHAIN[0], CHAIN[1], "rust-mysql-binlog/bin-log.000001"];
            dir.push(pool[(i + server) % 3]);
        }
        let archiver = Archiver::new(archive.clone(), site("iad"), dir.path());
        let report = archiver.run_cycle(&true).await.unwrap();
        assert!(report.failed.is_empty(), "{report:?}");
        assert_eq!(report.archived.len(), sealed, "server {server}: {report:?}");
        replay_order.extend(report.archived.clone());
        // A re-run recognises every file and archives nothing.
        let again = archiver.run_cycle(&true).await.unwrap();
        assert!(again.archived.is_empty(), "server {server}: {again:?}");
        assert_eq!(again.already_archived, sealed);
    }
    let mut listed: Vec<String> = store
        .list(Some(&ObjPath::from("orders/binlogs/iad")))
        .map(|m| m.unwrap().location.filename().unwrap().to_owned())
        .collect::<Vec<_>>()
        .await;
    listed.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    assert_eq!(listed, replay_order);
    let manifest = archive.load_manifest(&site("iad")).await.unwrap();
    let names: Vec<&str> = manifest.files.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, replay_order);
    // Every name is still a plain basename the Go pitr-download accepts and restore.py globs.
    for e in &manifest.files {
        assert!(
            BinlogName::parse(&e.name).is_ok() && e.name.starts_with("mysql-bin."),
            "{}",
            e.name
        );
        assert_eq!(e.remote_path, format!("orders/binlogs/iad/{}", e.name));
    }
}

/// Archives written by earlier versions name a rebuilt server's file `<name>.g<n>`: they still read, plan
/// and download, the server keeps being recognised, and its next file joins its generation in the new
/// form, which sorts after both servers' earlier files.
async fn legacy_generation_names_still_read_and_plan(store: Arc<dyn ObjectStore>) {
    let archive = ArchiveStore::new(store.clone(), layout());
    let mut old_dir = BinlogDir::new();
    let f1 = old_dir.push(CHAIN[0]);
    old_dir.push(CHAIN[1]);
    let old = Archiver::new(archive.clone(), site("iad"), old_dir.path());
    assert_eq!(
        old.run_cycle(&true).await.unwrap().archived,
        std::slice::from_ref(&f1)
    );

    // The rebuilt server's first file, archived the old way: object and entry `mysql-bin.000001.g2`.
    let mut new_dir = BinlogDir::new();
    new_dir.push(CHAIN[1]);
    new_dir.push(CHAIN[0]);
    let legacy = format!("{f1}.g2");
    let bytes = new_dir.bytes(&f1);
    let s = bloodraven_binlog::reader::summarize(&bytes[..]).unwrap();
    let key = format!("orders/binlogs/iad/{legacy}");
    store
        .put(
            &ObjPath::from(key.as_str()),
            PutPayload::from(bytes.clone()),
        )
        .await
        .unwrap();
    let text = |set: &bloodraven_gtid::GtidSet| set.to_compact_string();
    let entry = bloodraven_binlog::manifest::ManifestEntry {
        name: legacy.clone(),
        remote_path: key,
        size: bytes.len() as u64,
        first_event_time: s.first_event_time,
        last_event_time: s.last_event_time,
        previous_gtids: s.previous_gtids.as_ref().map(text).unwrap_or_default(),
        end_gtids: s.end_gtids.as_ref().map(text).unwrap_or_default(),
        gtids: Some(text(&s.gtids)),
        sha256: Some(sha256_hex(&bytes)),
        ..Default::default()
    };
    archive
        .update_manifest(&site("iad"), |m| m.upsert(entry.clone()))
        .await
        .unwrap();

    // The rebuilt server recognises its file under the old name.
    let new = Archiver::new(archive.clone(), site("iad"), new_dir.path());
    let report = new.run_cycle(&true).await.unwrap();
    assert!(
        report.archived.is_empty() && report.failed.is_empty(),
        "{report:?}"
    );
    assert_eq!(report.already_archived, 1);

    // Planning, the continuity check and the download work across the old names.
    let manifest = archive.load_manifest(&site("iad")).await.unwrap();
    let plan = pitr::plan(
        std::slice::from_ref(&manifest),
        &History::new(),
        &Target::Latest,
    )
    .unwrap();
    let planned: Vec<&str> = plan.files.iter().map(|f| f.file.name.as_str()).collect();
    assert_eq!(planned, [f1.as_str(), legacy.as_str()]);
    assert!(plan.is_complete(), "{plan:?}");
    assert_eq!(plan.recovered.to_string(), format!("{UUID}:1-6"));
    let history = continuity::check(std::slice::from_ref(&manifest), &History::new()).unwrap();
    assert!(history.is_continuous(), "{history:?}");
    let out = tempfile::tempdir().unwrap();
    let paths = pitr::download(&archive, &plan, out.path()).await.unwrap();
    assert_eq!(std::fs::read(&paths[1]).unwrap(), bytes);

    // The rebuilt server seals another file: it joins generation 2, in the new form.
    new_dir.push("rust-mysql-binlog/bin-log.000001");
    let report = new.run_cycle(&true).await.unwrap();
    assert_eq!(report.archived, ["mysql-bin.g0002.000002"]);
    let manifest = archive.load_manifest(&site("iad")).await.unwrap();
    let names: Vec<&str> = manifest.files.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        names,
        [f1.as_str(), legacy.as_str(), "mysql-bin.g0002.000002"]
    );
}

macro_rules! suite {
    ($module:ident, $store:expr) => {
        mod $module {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn rebuilt_server_file_gets_a_generation_name() {
                let (store, _guard) = $store;
                super::rebuilt_server_file_gets_a_generation_name(store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn generation_names_replay_in_go_order() {
                let (store, _guard) = $store;
                super::generation_names_replay_in_go_order(store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn legacy_generation_names_still_read_and_plan() {
                let (store, _guard) = $store;
                super::legacy_generation_names_still_read_and_plan(store).await;
            }
        }
    };
}

suite!(in_memory_store, in_memory());
suite!(local_fs_store, local_fs());
suite!(s3_store, s3());
