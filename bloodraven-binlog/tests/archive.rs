//! Archiver behaviour, as one suite run on `InMemory`, the local filesystem store and a real S3-protocol
//! server on loopback (s3s + s3s-fs from bloodraven-test-support).

use std::sync::Arc;

use bloodraven_binlog::archive::{ArchiveStore, Archiver, UploadLimits};
use bloodraven_brv1::Passphrase;
use chrono::{TimeZone, Utc};
use object_store::memory::InMemory;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, path::Path as ObjPath};

mod archive_support;
use archive_support::*;

// ---- the suite -------------------------------------------------------------------------------------

async fn archives_sealed_files_once(store: Arc<dyn ObjectStore>) {
    let mut dir = BinlogDir::new();
    let f1 = dir.push(CHAIN[0]);
    let f2 = dir.push(CHAIN[1]);
    let active = dir.push("rust-mysql-binlog/bin-log.000001");
    let archiver = Archiver::new(
        ArchiveStore::new(store.clone(), layout()),
        site("iad"),
        dir.path(),
    )
    .with_server_uuid(UUID)
    .with_limits(UploadLimits {
        part_size: 5 << 20,
        max_concurrency: 2,
    });

    let report = archiver.run_cycle(&true).await.unwrap();
    assert_eq!(report.archived, [f1.clone(), f2.clone()]);
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    for name in [&f1, &f2] {
        let key = format!("orders/binlogs/iad/{name}");
        assert_eq!(
            object(store.as_ref(), &key).await.unwrap(),
            dir.bytes(name),
            "{key}"
        );
    }
    assert_eq!(
        object(store.as_ref(), &format!("orders/binlogs/iad/{active}")).await,
        None
    );

    let manifest = archiver.store().load_manifest(&site("iad")).await.unwrap();
    let names: Vec<_> = manifest.files.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, [f1.as_str(), f2.as_str()]);
    let e2 = &manifest.files[1];
    assert_eq!(e2.remote_path, format!("orders/binlogs/iad/{f2}"));
    assert_eq!(e2.size, dir.bytes(&f2).len() as u64);
    assert_eq!(
        e2.sha256.as_deref(),
        Some(sha256_hex(&dir.bytes(&f2)).as_str())
    );
    assert_eq!(e2.previous_gtids, format!("{UUID}:1-4"));
    assert_eq!(e2.gtids.as_deref(), Some(format!("{UUID}:5-6").as_str()));
    assert_eq!(e2.end_gtids, format!("{UUID}:1-6"));
    assert_eq!(e2.server_uuid.as_deref(), Some(UUID));
    assert!(e2.first_event_time.is_some() && e2.last_event_time >= e2.first_event_time);
    assert_eq!(
        manifest.files[0].end_gtids, e2.previous_gtids,
        "the fixture files chain"
    );

    let status = archiver.status();
    assert_eq!(
        (
            status.files_archived,
            status.backlog_files,
            status.upload_failures
        ),
        (2, 0, 0)
    );
    assert_eq!(status.manifest_file_count, 2);
    assert_eq!(status.manifest_bytes, manifest.total_bytes());
    assert_eq!(status.newest_archived_time, e2.last_event_time);
    let json = status.to_json();
    assert_eq!(json["filesArchived"], 2);
    assert!(json.get("lastError").is_none());

    // Idempotent: nothing new, nothing rewritten.
    let before = object(store.as_ref(), "orders/binlogs/manifest-iad.json")
        .await
        .unwrap();
    let again = archiver.run_cycle(&true).await.unwrap();
    assert!(again.archived.is_empty());
    assert_eq!(again.already_archived, 2);
    assert_eq!(
        object(store.as_ref(), "orders/binlogs/manifest-iad.json")
            .await
            .unwrap(),
        before
    );

    // Rotation seals the active file.
    dir.push("rust-mysql-binlog/bin-log.000001");
    let next = archiver.run_cycle(&true).await.unwrap();
    assert_eq!(next.archived, [active]);
    assert_eq!(
        archiver
            .store()
            .load_manifest(&site("iad"))
            .await
            .unwrap()
            .files
            .len(),
        3
    );
}

async fn read_only_server_archives_nothing(store: Arc<dyn ObjectStore>) {
    let mut dir = BinlogDir::new();
    dir.push(CHAIN[0]);
    dir.push(CHAIN[1]);
    let archiver = Archiver::new(
        ArchiveStore::new(store.clone(), layout()),
        site("iad"),
        dir.path(),
    );
    let report = archiver.run_cycle(&false).await.unwrap();
    assert!(!report.writable && report.archived.is_empty());
    assert!(!archiver.status().primary);
    assert_eq!(
        object(store.as_ref(), "orders/binlogs/manifest-iad.json").await,
        None
    );
}

async fn encrypts_objects_and_manifest(store: Arc<dyn ObjectStore>) {
    let mut dir = BinlogDir::new();
    let f1 = dir.push(CHAIN[0]);
    dir.push(CHAIN[1]);
    let pass = Passphrase::new(b"correct horse battery staple".to_vec()).unwrap();
    let archive = ArchiveStore::new(store.clone(), layout()).with_passphrase(pass.clone());
    let archiver = Archiver::new(archive, site("iad"), dir.path());
    assert_eq!(
        archiver.run_cycle(&true).await.unwrap().archived,
        std::slice::from_ref(&f1)
    );

    let sealed = object(store.as_ref(), &format!("orders/binlogs/iad/{f1}"))
        .await
        .unwrap();
    assert_eq!(&sealed[..4], b"BRV1");
    assert_eq!(
        bloodraven_brv1::decrypt(&pass, &sealed).unwrap(),
        dir.bytes(&f1)
    );
    let manifest_bytes = object(store.as_ref(), "orders/binlogs/manifest-iad.json")
        .await
        .unwrap();
    assert_eq!(&manifest_bytes[..4], b"BRV1");
    let plain = bloodraven_brv1::decrypt(&pass, &manifest_bytes).unwrap();
    assert!(plain.starts_with(b"{\n  \"version\": 1,\n  \"site\": \"iad\""));
    // The manifest records the plaintext digest and size.
    let m = archiver.store().load_manifest(&site("iad")).await.unwrap();
    assert_eq!(
        m.files[0].sha256.as_deref(),
        Some(sha256_hex(&dir.bytes(&f1)).as_str())
    );

    // Strict: a plaintext manifest where encryption is required is refused, unless fallback is on.
    let other = site("ord");
    store
        .put(
            &ObjPath::from("orders/binlogs/manifest-ord.json"),
            PutPayload::from_static(b"{\"files\":[]}"),
        )
        .await
        .unwrap();
    let strict = ArchiveStore::new(store.clone(), layout()).with_passphrase(pass.clone());
    let err = strict.load_manifest(&other).await.unwrap_err();
    assert!(err.to_string().contains("not BRV1-encrypted"), "{err}");
    let lenient = strict.with_plaintext_fallback(true);
    assert!(
        lenient
            .load_manifest(&other)
            .await
            .unwrap()
            .files
            .is_empty()
    );
    // A wrong passphrase is an error, never an empty manifest.
    let wrong = ArchiveStore::new(store.clone(), layout())
        .with_passphrase(Passphrase::new(b"wrong".to_vec()).unwrap());
    assert!(wrong.load_manifest(&site("iad")).await.is_err());
}

async fn bad_file_fails_alone(store: Arc<dyn ObjectStore>) {
    let mut dir = BinlogDir::new();
    let bad = dir.push("rust_mysql_common/binlog_truncated_event.000001");
    let good = dir.push(CHAIN[0]);
    dir.push(CHAIN[1]);
    let archiver = Archiver::new(
        ArchiveStore::new(store.clone(), layout()),
        site("iad"),
        dir.path(),
    );
    let report = archiver.run_cycle(&true).await.unwrap();
    assert_eq!(report.archived, [good]);
    assert_eq!(report.failed.len(), 1);
    assert_eq!(report.failed[0].0, bad);
    // No object and no entry for the bad file.
    assert_eq!(
        object(store.as_ref(), &format!("orders/binlogs/iad/{bad}")).await,
        None
    );
    assert!(
        !archiver
            .store()
            .load_manifest(&site("iad"))
            .await
            .unwrap()
            .contains(&bad)
    );
    let status = archiver.status();
    assert_eq!((status.upload_failures, status.backlog_files), (1, 1));
    assert!(
        status
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains(&bad)),
        "{status:?}"
    );
}

async fn retention_prunes_manifest_then_objects(store: Arc<dyn ObjectStore>) {
    let mut dir = BinlogDir::new();
    let f1 = dir.push(CHAIN[0]);
    let f2 = dir.push(CHAIN[1]);
    dir.push(CHAIN[1]);
    let archiver = Archiver::new(
        ArchiveStore::new(store.clone(), layout()),
        site("iad"),
        dir.path(),
    );
    archiver.run_cycle(&true).await.unwrap();
    let m = archiver.store().load_manifest(&site("iad")).await.unwrap();
    let t1 = m.get(&f1).unwrap().last_event_time.unwrap();
    let t2 = m.get(&f2).unwrap().last_event_time.unwrap();
    assert!(t1 < t2, "fixture times {t1} {t2}");
    let report = archiver.prune(t2).await.unwrap();
    assert_eq!(report.removed, std::slice::from_ref(&f1));
    assert_eq!(report.deleted, 1);
    assert_eq!(
        object(store.as_ref(), &format!("orders/binlogs/iad/{f1}")).await,
        None
    );
    assert!(
        object(store.as_ref(), &format!("orders/binlogs/iad/{f2}"))
            .await
            .is_some()
    );
    let m = archiver.store().load_manifest(&site("iad")).await.unwrap();
    assert_eq!(m.files.len(), 1);
    // Pruning is idempotent and keeps entries at the cutoff.
    let again = archiver.prune(t2).await.unwrap();
    assert!(again.removed.is_empty());
    // A far-future cutoff empties the manifest to `[]`, not `null`.
    archiver
        .prune(Utc.with_ymd_and_hms(2100, 1, 1, 0, 0, 0).unwrap())
        .await
        .unwrap();
    let text = object(store.as_ref(), "orders/binlogs/manifest-iad.json")
        .await
        .unwrap();
    assert!(
        String::from_utf8(text)
            .unwrap()
            .ends_with("\"files\": []\n}")
    );
}

/// A live DR cursor holds retention back to its `keepFrom`; an expired one does not; a corrupt one stops the prune.
async fn retention_respects_dr_cursors(store: Arc<dyn ObjectStore>) {
    use bloodraven_binlog::archive::cursor::DrCursor;
    let mut dir = BinlogDir::new();
    let f1 = dir.push(CHAIN[0]);
    let f2 = dir.push(CHAIN[1]);
    dir.push(CHAIN[1]);
    let archive = ArchiveStore::new(store.clone(), layout());
    let archiver = Archiver::new(archive.clone(), site("iad"), dir.path());
    archiver.run_cycle(&true).await.unwrap();
    let m = archive.load_manifest(&site("iad")).await.unwrap();
    let t1 = m.get(&f1).unwrap().last_event_time.unwrap();
    let t2 = m.get(&f2).unwrap().last_event_time.unwrap();
    let now = Utc::now();
    let key = archive
        .put_dr_cursor(
            "dr/orders-dr",
            &DrCursor {
                standby: "dr/orders-dr".into(),
                keep_from: t1,
                written_at: now,
                expires_at: Some(now + chrono::Duration::hours(1)),
            },
        )
        .await
        .unwrap();
    assert_eq!(key, "orders/dr-cursors/dr.orders-dr.json");
    // The cutoff would drop f1; the cursor keeps it (its last event is at keepFrom).
    let report = archiver.prune(t2).await.unwrap();
    assert!(report.removed.is_empty(), "{report:?}");
    assert!(
        object(store.as_ref(), &format!("orders/binlogs/iad/{f1}"))
            .await
            .is_some()
    );
    // An expired claim no longer holds retention back.
    archive
        .put_dr_cursor(
            "dr/orders-dr",
            &DrCursor {
                standby: "dr/orders-dr".into(),
                keep_from: t1,
                written_at: now - chrono::Duration::hours(2),
                expires_at: Some(now - chrono::Duration::hours(1)),
            },
        )
        .await
        .unwrap();
    let report = archiver.prune(t2).await.unwrap();
    assert_eq!(report.removed, std::slice::from_ref(&f1));
    // A cursor nobody can read stops retention, naming the object.
    store
        .put(
            &object_store::path::Path::from("orders/dr-cursors/broken.json"),
            object_store::PutPayload::from_static(b"{not json"),
        )
        .await
        .unwrap();
    let e = archiver
        .prune(Utc.with_ymd_and_hms(2100, 1, 1, 0, 0, 0).unwrap())
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("orders/dr-cursors/broken.json"),
        "{e}"
    );
    assert_eq!(
        archive
            .load_manifest(&site("iad"))
            .await
            .unwrap()
            .files
            .len(),
        1
    );
}

/// Concurrent writers of one manifest lose no entry (conditional writes).
async fn concurrent_manifest_writers_lose_nothing(store: Arc<dyn ObjectStore>) {
    let archive = ArchiveStore::new(store.clone(), layout());
    let s = site("iad");
    let mut tasks = Vec::new();
    for i in 0..8 {
        let archive = archive.clone();
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            archive
                .update_manifest(&s, |m| {
                    m.upsert(bloodraven_binlog::manifest::ManifestEntry {
                        name: format!("f{i}"),
                        ..Default::default()
                    })
                })
                .await
                .unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(archive.load_manifest(&s).await.unwrap().files.len(), 8);
}

macro_rules! suite {
    ($module:ident, $store:expr) => {
        mod $module {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn archives_sealed_files_once() {
                let (store, _guard) = $store;
                super::archives_sealed_files_once(store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn read_only_server_archives_nothing() {
                let (store, _guard) = $store;
                super::read_only_server_archives_nothing(store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn encrypts_objects_and_manifest() {
                let (store, _guard) = $store;
                super::encrypts_objects_and_manifest(store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn bad_file_fails_alone() {
                let (store, _guard) = $store;
                super::bad_file_fails_alone(store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn retention_prunes_manifest_then_objects() {
                let (store, _guard) = $store;
                super::retention_prunes_manifest_then_objects(store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn retention_respects_dr_cursors() {
                let (store, _guard) = $store;
                super::retention_respects_dr_cursors(store).await;
            }
        }
    };
}

suite!(in_memory_store, in_memory());
suite!(local_fs_store, local_fs());
suite!(s3_store, s3());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_in_memory() {
    concurrent_manifest_writers_lose_nothing(in_memory().0).await;
}

/// A writer that interleaves between our read and our write makes the conditional write fail; the
/// update is re-read and re-applied, so both entries survive. Deterministic, unlike a race.
async fn interleaved_writer_is_not_overwritten(store: Arc<dyn ObjectStore>) {
    let archive = ArchiveStore::new(store.clone(), layout());
    let s = site("iad");
    archive
        .update_manifest(&s, |m| m.upsert(entry("f0")))
        .await
        .unwrap();
    let intruder = archive.clone();
    let mut attempts = 0;
    let (manifest, ()) = archive
        .update_manifest(&s, |m| {
            attempts += 1;
            if attempts == 1 {
                let (intruder, s) = (intruder.clone(), s.clone());
                tokio::task::block_in_place(|| {
                    tokio::runtime::Handle::current().block_on(async move {
                        intruder
                            .update_manifest(&s, |m| m.upsert(entry("intruder")))
                            .await
                            .unwrap();
                    })
                });
            }
            m.upsert(entry("f1"));
        })
        .await
        .unwrap();
    assert_eq!(attempts, 2, "the first conditional write must have failed");
    let names: Vec<_> = manifest.files.iter().map(|e| e.name.clone()).collect();
    assert_eq!(names, ["f0", "f1", "intruder"]);
    assert_eq!(archive.load_manifest(&s).await.unwrap(), manifest);
}

fn entry(name: &str) -> bloodraven_binlog::manifest::ManifestEntry {
    bloodraven_binlog::manifest::ManifestEntry {
        name: name.into(),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interleaved_writer_in_memory() {
    interleaved_writer_is_not_overwritten(in_memory().0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interleaved_writer_s3() {
    let (store, _guard) = s3();
    interleaved_writer_is_not_overwritten(store).await;
}

/// Download decrypts, verifies size and SHA-256 against the manifest, and leaves nothing behind on a
/// mismatch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn download_decrypts_verifies_and_is_atomic() {
    use bloodraven_binlog::continuity::History;
    use bloodraven_binlog::pitr::{self, Target};

    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let mut dir = BinlogDir::new();
    let f1 = dir.push(CHAIN[0]);
    let f2 = dir.push(CHAIN[1]);
    dir.push(CHAIN[1]);
    let pass = Passphrase::new(b"download test".to_vec()).unwrap();
    let archive = ArchiveStore::new(store.clone(), layout()).with_passphrase(pass.clone());
    Archiver::new(archive.clone(), site("iad"), dir.path())
        .run_cycle(&true)
        .await
        .unwrap();
    let manifests = vec![archive.load_manifest(&site("iad")).await.unwrap()];
    let plan = pitr::plan(&manifests, &History::new(), &Target::Latest).unwrap();

    let out = tempfile::tempdir().unwrap();
    let paths = pitr::download(&archive, &plan, out.path()).await.unwrap();
    assert_eq!(
        paths,
        [
            out.path().join("iad").join(&f1),
            out.path().join("iad").join(&f2)
        ]
    );
    for (p, name) in paths.iter().zip([&f1, &f2]) {
        assert_eq!(std::fs::read(p).unwrap(), dir.bytes(name));
    }

    // Replace f2's object with a valid BRV1 object of other bytes of the same length: the digest
    // check catches it, and neither the file nor a `.part` remains.
    let mut other = dir.bytes(&f2);
    other[100] ^= 0xff;
    let forged = bloodraven_brv1::encrypt(&pass, &other).unwrap();
    store
        .put(
            &ObjPath::from(format!("orders/binlogs/iad/{f2}")),
            PutPayload::from(forged),
        )
        .await
        .unwrap();
    let out = tempfile::tempdir().unwrap();
    let err = pitr::download(&archive, &plan, out.path())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("sha256"), "{err}");
    assert!(out.path().join("iad").join(&f1).exists());
    assert!(!out.path().join("iad").join(&f2).exists());
    assert!(!out.path().join("iad").join(format!("{f2}.part")).exists());

    // A truncated ciphertext is a BRV1 error, not a short file.
    let sealed = bloodraven_brv1::encrypt(&pass, &dir.bytes(&f2)).unwrap();
    store
        .put(
            &ObjPath::from(format!("orders/binlogs/iad/{f2}")),
            PutPayload::from(sealed[..sealed.len() - 20].to_vec()),
        )
        .await
        .unwrap();
    let err = pitr::download(&archive, &plan, tempfile::tempdir().unwrap().path())
        .await
        .unwrap_err();
    assert!(
        err.to_string().starts_with("brv1 orders/binlogs/iad/"),
        "{err}"
    );
}
