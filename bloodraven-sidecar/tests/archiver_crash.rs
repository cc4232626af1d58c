//! Crash safety of the real binary: `bloodraven-sidecar` archives into the loopback S3 server and is killed with
//! SIGKILL at random points, at least 20 times, while the server keeps rotating binlogs under writes. After every
//! kill the archive must hold (the manifest decodes, no name twice, every entry's object complete and equal to the
//! local file); at the end nothing is lost and the continuity check is green. A SIGTERM during an upload exits
//! promptly with status 0.
//!
//! The seed is printed; `SIDECAR_CRASH_SEED=<n>` replays a run.

mod support;

use std::collections::HashSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bloodraven_test_support::mariadb::MariaDb;
use bloodraven_test_support::s3::S3Server;
use sha2::Digest;
use support::{
    Store, config, flags, manifest, sealed, verify_archive, wait_for_manifest, with_pitr,
};

const KILLS: usize = 20;

/// xorshift64*, so a seed replays a run.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

/// The sidecar binary with the Go sidecar's environment (no operator: no safety net, no lease).
fn spawn(db: &MariaDb, s3: &S3Server, creds: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_bloodraven-sidecar"))
        .env_clear()
        .env("MYSQL_DSN", format!("root:@tcp(127.0.0.1:{})/", db.port()))
        .env("LISTEN_ADDR", "127.0.0.1:0")
        .env("MY_SITE", "east")
        .env("POD_NAMESPACE", "db")
        .env("FAILOVER_GROUP", "orders")
        .env("BLOODRAVEN_PITR_ENABLED", "1")
        .env("BLOODRAVEN_PITR_BINLOG_DIR", db.binlog_dir())
        .env("BLOODRAVEN_PITR_POLL_INTERVAL", "1s")
        .env("BLOODRAVEN_PITR_STORAGE_TYPE", "S3")
        .env("BLOODRAVEN_PITR_MANIFEST_PREFIX", "orders/binlogs")
        .env("BLOODRAVEN_PITR_S3_BUCKET", s3.bucket())
        .env("BLOODRAVEN_PITR_S3_REGION", s3.region())
        .env("BLOODRAVEN_PITR_S3_ENDPOINT_URL", s3.endpoint())
        .env("BLOODRAVEN_PITR_AWS_CREDS_DIR", creds)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// About 1 MiB of binlog.
fn write_mib(db: &MariaDb) {
    db.sql("INSERT INTO d.t (v) SELECT REPEAT(MD5(RAND()), 32) FROM d.seq_1_to_1024")
        .unwrap();
}

/// The invariants that must hold after any kill.
///
/// `verified` remembers entries whose object was already compared (an object is written once, atomically).
async fn check_invariants(
    cfg: &bloodraven_sidecar::config::Config,
    dir: &Path,
    round: usize,
    verified: &mut HashSet<(String, Option<String>)>,
) {
    let m = manifest(cfg, "east").await;
    let mut seen = HashSet::new();
    let sealed_now: HashSet<String> = sealed(dir).into_iter().collect();
    let store = bloodraven_sidecar::archiver::build_store(cfg.pitr.as_ref().unwrap()).unwrap();
    for e in &m.files {
        assert!(
            seen.insert(e.name.clone()),
            "round {round}: {} listed twice",
            e.name
        );
        assert!(
            sealed_now.contains(&e.name),
            "round {round}: {} is not sealed",
            e.name
        );
        if !verified.insert((e.name.clone(), e.sha256.clone())) {
            continue;
        }
        let obj = object_store::ObjectStoreExt::get(
            store.object_store().as_ref(),
            &object_store::path::Path::from(e.remote_path.as_str()),
        )
        .await
        .unwrap_or_else(|err| {
            panic!(
                "round {round}: {} listed but its object is missing: {err}",
                e.name
            )
        })
        .bytes()
        .await
        .unwrap();
        let local = std::fs::read(dir.join(&e.name)).unwrap();
        assert_eq!(obj.len(), local.len(), "round {round}: {} size", e.name);
        let hex: String = sha2::Sha256::digest(&obj)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            e.sha256.as_deref(),
            Some(hex.as_str()),
            "round {round}: {} digest",
            e.name
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_points_loses_nothing_and_duplicates_nothing() {
    let seed = std::env::var("SIDECAR_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    eprintln!("SIDECAR_CRASH_SEED={seed}");
    let mut rng = Rng(seed);

    let db = MariaDb::builder()
        .arg("--max-binlog-size=3M")
        .start()
        .unwrap();
    db.sql("CREATE DATABASE d; CREATE TABLE d.t (id INT AUTO_INCREMENT PRIMARY KEY, v LONGTEXT)")
        .unwrap();
    for _ in 0..12 {
        write_mib(&db);
    }
    db.sql("FLUSH BINARY LOGS").unwrap();
    let s3 = S3Server::start().unwrap();
    let creds = tempfile::tempdir().unwrap();
    let cfg = config(&with_pitr(
        flags(&db, "east", None, &[]),
        db.binlog_dir(),
        &Store::S3 {
            endpoint: s3.endpoint(),
            s3: &s3,
            creds: creds.path(),
        },
        "1s",
    ));

    let mut kills = 0;
    let mut verified = HashSet::new();
    for round in 0..KILLS {
        if round % 4 == 3 {
            // Keep the server rotating between kills.
            write_mib(&db);
            db.sql("FLUSH BINARY LOGS").unwrap();
        }
        let mut child = spawn(&db, &s3, creds.path());
        tokio::time::sleep(Duration::from_millis(20 + rng.below(1200))).await;
        if child.try_wait().unwrap().is_none() {
            kills += 1;
        }
        child.kill().unwrap();
        child.wait().unwrap();
        check_invariants(&cfg, db.binlog_dir(), round, &mut verified).await;
    }
    assert!(
        kills >= KILLS,
        "only {kills} kills landed on a running sidecar"
    );

    // SIGTERM during an upload: exits promptly and cleanly.
    for _ in 0..4 {
        write_mib(&db);
    }
    db.sql("FLUSH BINARY LOGS").unwrap();
    let mut child = spawn(&db, &s3, creds.path());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let sent = Instant::now();
    assert!(
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        assert!(
            sent.elapsed() < Duration::from_secs(8),
            "no exit within 8 s of SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "{status}");
    check_invariants(&cfg, db.binlog_dir(), KILLS, &mut verified).await;

    // Left alone, the sidecar completes the archive: nothing lost, nothing twice, continuous.
    let mut child = spawn(&db, &s3, creds.path());
    let names = sealed(db.binlog_dir());
    let m = wait_for_manifest(&cfg, "east", names.len(), Duration::from_secs(60)).await;
    child.kill().unwrap();
    child.wait().unwrap();
    verify_archive(&cfg, &m, db.binlog_dir(), &names).await;
}
