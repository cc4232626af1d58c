//! Crash safety: an archiver in a child process (this test binary re-run with `ARCHIVE_CRASH_CHILD` set)
//! is killed with SIGKILL at random points of a multi-file, multipart cycle against the
//! loopback S3 server. After every kill the archive must hold: the manifest decodes, no name appears
//! twice, every entry's object exists and equals the local file (size and SHA-256), and only
//! sealed files are listed. Restarting until done must archive every sealed file.
//!
//! The seed is printed; `ARCHIVE_CRASH_SEED=<n>` replays a run.

use std::collections::HashSet;
use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bloodraven_binlog::archive::{ArchiveStore, Archiver, UploadLimits};
use bloodraven_binlog::manifest::{ArchiveLayout, SiteName};
use bloodraven_test_support::mariadb::MariaDb;
use bloodraven_test_support::s3::S3Server;
use object_store::{ObjectStore, ObjectStoreExt, path::Path as ObjPath};
use sha2::{Digest, Sha256};

const KILLS: usize = 16;

fn s3_store(endpoint: &str, bucket: &str, key: &str, secret: &str) -> Arc<dyn ObjectStore> {
    Arc::new(
        object_store::aws::AmazonS3Builder::new()
            .with_endpoint(endpoint)
            .with_bucket_name(bucket)
            .with_access_key_id(key)
            .with_secret_access_key(secret)
            .with_region("us-east-1")
            .with_allow_http(true)
            .build()
            .unwrap(),
    )
}

fn archive_store(store: Arc<dyn ObjectStore>) -> ArchiveStore {
    // Plaintext: BRV1 goes through the same streaming path, but unoptimized AES-GCM in a debug build
    // would make each kill round take seconds (tests/archive.rs covers encrypted archiving).
    ArchiveStore::new(store, ArchiveLayout::for_profile_prefix("crash"))
}

/// The child: one archiver cycle with small parts (many multipart requests), then exit 0.
async fn crash_child() {
    let env =
        |k: &str| std::env::var(k).unwrap_or_else(|_| panic!("{k} not set: run the parent test"));
    let store = s3_store(
        &env("CRASH_S3_ENDPOINT"),
        &env("CRASH_S3_BUCKET"),
        &env("CRASH_S3_KEY"),
        &env("CRASH_S3_SECRET"),
    );
    let archiver = Archiver::new(
        archive_store(store),
        SiteName::parse("east").unwrap(),
        env("CRASH_BINLOG_DIR"),
    )
    .with_limits(UploadLimits {
        part_size: 5 << 20,
        max_concurrency: 2,
    });
    let report = archiver.run_cycle(&true).await.unwrap();
    assert!(report.failed.is_empty(), "{report:?}");
}

/// Writes about 8 MiB through a MariaDB server with 6 MiB binlogs (one file needs two multipart parts)
/// and a few small rotations,
/// copies its binlogs and index into `dir`, and returns the file names in index order.
fn binlogs_from_mariadb(dir: &Path) -> Vec<String> {
    let db = MariaDb::builder()
        .arg("--max-binlog-size=6M")
        .start()
        .unwrap();
    db.sql("CREATE DATABASE d; CREATE TABLE d.t (id INT AUTO_INCREMENT PRIMARY KEY, b LONGBLOB)")
        .unwrap();
    db.sql("INSERT INTO d.t (b) VALUES (REPEAT('x', 1 << 20)); FLUSH BINARY LOGS; INSERT INTO d.t (b) VALUES ('y')")
        .unwrap();
    for _ in 0..7 {
        db.sql("INSERT INTO d.t (b) SELECT REPEAT(MD5(RAND()), 32) FROM d.seq_1_to_1024")
            .unwrap();
    }
    for i in 0..4 {
        db.sql(&format!(
            "FLUSH BINARY LOGS; INSERT INTO d.t (b) VALUES ('{i}')"
        ))
        .unwrap();
    }
    let index = std::fs::read_to_string(db.binlog_index()).unwrap();
    let names: Vec<String> = index
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            Path::new(l.trim())
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    for n in &names {
        std::fs::copy(db.binlog_dir().join(n), dir.join(n)).unwrap();
    }
    std::fs::write(
        dir.join("mysql-bin.index"),
        names.iter().map(|n| format!("./{n}\n")).collect::<String>(),
    )
    .unwrap();
    names
}

/// A tiny deterministic generator (xorshift64*), so a seed replays a run.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

fn spawn_child(s3: &S3Server, dir: &Path) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "crash_at_random_points_loses_nothing",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("ARCHIVE_CRASH_CHILD", "1")
        .env("CRASH_S3_ENDPOINT", s3.endpoint())
        .env("CRASH_S3_BUCKET", s3.bucket())
        .env("CRASH_S3_KEY", s3.access_key())
        .env("CRASH_S3_SECRET", s3.secret_key())
        .env("CRASH_BINLOG_DIR", dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Deletes every object in the bucket.
async fn clear(store: &dyn ObjectStore) {
    use futures::TryStreamExt;
    let all: Vec<_> = store.list(None).try_collect().await.unwrap();
    for meta in all {
        store.delete(&meta.location).await.unwrap();
    }
}

/// Checks the invariants; returns the archived names.
async fn check_invariants(store: &ArchiveStore, dir: &Path, sealed: &[String]) -> HashSet<String> {
    let manifest = store
        .load_manifest(&SiteName::parse("east").unwrap())
        .await
        .expect("the manifest always decodes");
    let mut seen = HashSet::new();
    for e in &manifest.files {
        assert!(seen.insert(e.name.clone()), "duplicate entry {}", e.name);
        assert!(
            sealed.contains(&e.name),
            "entry {} is not a sealed file",
            e.name
        );
        let object = match store
            .object_store()
            .get(&ObjPath::from(e.remote_path.as_str()))
            .await
        {
            Ok(r) => r.bytes().await.unwrap(),
            Err(err) => panic!("entry {} points at a missing object: {err}", e.name),
        };
        let plain = object.to_vec();
        let local = std::fs::read(dir.join(&e.name)).unwrap();
        assert_eq!(plain.len() as u64, e.size);
        assert!(plain == local, "object of {} differs from the file", e.name);
        let digest: String = Sha256::digest(&local)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(e.sha256.as_deref(), Some(digest.as_str()));
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_at_random_points_loses_nothing() {
    if std::env::var_os("ARCHIVE_CRASH_CHILD").is_some() {
        // This process is a child spawned by the test below: archive, then exit (or be killed).
        return crash_child().await;
    }
    let seed = std::env::var("ARCHIVE_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    eprintln!("ARCHIVE_CRASH_SEED={seed}");
    let mut rng = Rng(seed);

    // Sealed files from a real server: one of about 6 MiB (two multipart parts) plus smaller ones.
    let dir = tempfile::tempdir().unwrap();
    let names = binlogs_from_mariadb(dir.path());
    let sealed = &names[..names.len() - 1];
    assert!(sealed.len() >= 5, "{names:?}");

    let s3 = S3Server::start().unwrap();
    let store = archive_store(s3_store(
        &s3.endpoint(),
        s3.bucket(),
        s3.access_key(),
        s3.secret_key(),
    ));

    // Kill points are spread over a window that widens while no file completes, so each restart gets a
    // little further and the kills land in every phase of the cycle and in every file.
    let mut window_ms = 800;
    let mut progress = 0;
    let mut completed = 0;
    let mut killed = 0;
    let kills = std::env::var("ARCHIVE_CRASH_KILLS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(KILLS);
    for round in 0..kills {
        let mut child = spawn_child(&s3, dir.path());
        let delay = Duration::from_millis(rng.below(window_ms));
        let started = Instant::now();
        let finished = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            if started.elapsed() >= delay {
                break None;
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        match finished {
            Some(status) => {
                let mut err = String::new();
                child
                    .stderr
                    .take()
                    .unwrap()
                    .read_to_string(&mut err)
                    .unwrap();
                assert!(status.success(), "round {round}: the child failed: {err}");
                completed += 1;
            }
            None => {
                child.kill().unwrap();
                child.wait().unwrap();
                killed += 1;
            }
        }
        let archived = check_invariants(&store, dir.path(), sealed).await;
        eprintln!(
            "round {round}: stopped after {delay:?}: {} of {} archived",
            archived.len(),
            sealed.len()
        );
        if archived.len() == sealed.len() {
            // Everything is archived: start a new epoch on an empty archive, so the remaining kills
            // land in fresh cycles too.
            clear(store.object_store().as_ref()).await;
            window_ms = 800;
            progress = 0;
            continue;
        }
        // A round that archived nothing new widens the window, so later kills reach later files.
        if archived.len() == progress {
            window_ms += 500;
        }
        progress = archived.len();
    }
    // Restart until done.
    for _ in 0..3 {
        let out = spawn_child(&s3, dir.path()).wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        completed += 1;
        if check_invariants(&store, dir.path(), sealed).await.len() == sealed.len() {
            break;
        }
    }
    let archived = check_invariants(&store, dir.path(), sealed).await;
    assert_eq!(
        archived.len(),
        sealed.len(),
        "every sealed file is archived in the end"
    );
    assert!(completed >= 1);
    assert!(
        killed >= kills / 2,
        "only {killed} of {kills} rounds were killed mid-cycle"
    );
}
