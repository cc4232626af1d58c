//! End-to-end archiver benchmark: the `bloodraven-sidecar` binary archives ≥ 1 GiB of real MariaDB binlogs into a
//! local directory store and into the loopback S3 server, plaintext and BRV1, measured against the disk/copy floor
//! and the BRV1 cipher rate taken in the same run. Peak RSS is the child's `VmHWM`.
//!
//! `cargo bench -p bloodraven-sidecar --bench archiver` (`SIDECAR_BENCH_MIB` sets the binlog volume, default 1100).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bloodraven_binlog::archive::ArchiveStore;
use bloodraven_binlog::manifest::{ArchiveLayout, SiteName};
use bloodraven_test_support::mariadb::MariaDb;
use bloodraven_test_support::s3::S3Server;

fn main() {
    let mib: u64 = std::env::var("SIDECAR_BENCH_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1100);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let db = MariaDb::builder()
        .arg("--max-binlog-size=1073741824")
        .start()
        .unwrap();
    // Row events into a BLACKHOLE table: binlog volume without table storage.
    db.sql("INSTALL SONAME 'ha_blackhole'; CREATE DATABASE d; CREATE TABLE d.t (id INT, b LONGBLOB) ENGINE=BLACKHOLE")
        .unwrap();
    let t = Instant::now();
    // Files of 70 %, 23 % and 7 % of the volume (peak RSS must not depend on the file size); 32 MiB of random row
    // events per statement, so nothing compresses by accident.
    for share in [70, 23, 7] {
        for _ in 0..(mib * share / 100).div_ceil(32) {
            db.sql("INSERT INTO d.t (id, b) SELECT seq, REPEAT(MD5(RAND()), 1024) FROM d.seq_1_to_1024")
                .unwrap();
        }
        db.sql("FLUSH BINARY LOGS").unwrap();
    }
    let files = sealed(db.binlog_dir());
    let bytes: u64 = files
        .iter()
        .map(|f| std::fs::metadata(db.binlog_dir().join(f)).unwrap().len())
        .sum();
    eprintln!(
        "generated {} sealed binlogs, {:.0} MiB, in {:.1?}",
        files.len(),
        bytes as f64 / 1048576.0,
        t.elapsed()
    );
    let work = tempfile::tempdir_in(db.binlog_dir().parent().unwrap()).unwrap();

    // Floors: a plain copy of the files to the same disk, and BRV1 encryption in memory on one thread.
    let copy_dir = work.path().join("copy");
    std::fs::create_dir_all(&copy_dir).unwrap();
    let t = Instant::now();
    for f in &files {
        std::fs::copy(db.binlog_dir().join(f), copy_dir.join(f)).unwrap();
    }
    let copy_secs = t.elapsed().as_secs_f64();
    std::fs::remove_dir_all(&copy_dir).unwrap();
    let brv1 = brv1_rate(1 << 30);

    let mut rows = Vec::new();
    rows.push(format!(
        "| floor: copy files to the same disk | {:.0} MB/s | — |",
        bytes as f64 / copy_secs / 1e6
    ));
    rows.push(format!(
        "| floor: BRV1 encrypt in memory, one thread | {brv1:.0} MB/s | — |"
    ));
    let s3 = S3Server::start().unwrap();
    let creds = work.path().join("creds");
    std::fs::create_dir_all(&creds).unwrap();
    std::fs::write(creds.join("AWS_ACCESS_KEY_ID"), s3.access_key()).unwrap();
    std::fs::write(creds.join("AWS_SECRET_ACCESS_KEY"), s3.secret_key()).unwrap();
    let pass = work.path().join("passphrase");
    std::fs::write(&pass, "benchmark passphrase").unwrap();
    for (store, encrypted) in [("dir", false), ("dir", true), ("s3", false), ("s3", true)] {
        let prefix = format!("bench-{store}-{encrypted}");
        let dir_store = work.path().join(format!("store-{prefix}"));
        std::fs::create_dir_all(&dir_store).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_bloodraven-sidecar"));
        cmd.env_clear()
            .env("MYSQL_DSN", format!("root:@tcp(127.0.0.1:{})/", db.port()))
            .env("LISTEN_ADDR", "127.0.0.1:0")
            .env("MY_SITE", "east")
            .env("POD_NAMESPACE", "db")
            .env("FAILOVER_GROUP", "orders")
            .env("BLOODRAVEN_PITR_ENABLED", "1")
            .env("BLOODRAVEN_PITR_BINLOG_DIR", db.binlog_dir())
            .env("BLOODRAVEN_PITR_MANIFEST_PREFIX", &prefix)
            .env("BLOODRAVEN_PITR_POLL_INTERVAL", "60s")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if encrypted {
            cmd.env("BLOODRAVEN_PITR_PASSPHRASE_FILE", &pass);
        }
        let archive = if store == "dir" {
            cmd.env("BLOODRAVEN_PITR_STORAGE_TYPE", "PVC")
                .env("BLOODRAVEN_PITR_PVC_MOUNT_PATH", &dir_store);
            Arc::new(object_store::local::LocalFileSystem::new_with_prefix(&dir_store).unwrap())
                as Arc<dyn object_store::ObjectStore>
        } else {
            cmd.env("BLOODRAVEN_PITR_STORAGE_TYPE", "S3")
                .env("BLOODRAVEN_PITR_S3_BUCKET", s3.bucket())
                .env("BLOODRAVEN_PITR_S3_REGION", s3.region())
                .env("BLOODRAVEN_PITR_S3_ENDPOINT_URL", s3.endpoint())
                .env("BLOODRAVEN_PITR_AWS_CREDS_DIR", &creds);
            Arc::new(
                object_store::aws::AmazonS3Builder::new()
                    .with_endpoint(s3.endpoint())
                    .with_bucket_name(s3.bucket())
                    .with_access_key_id(s3.access_key())
                    .with_secret_access_key(s3.secret_key())
                    .with_region(s3.region())
                    .with_allow_http(true)
                    .build()
                    .unwrap(),
            )
        };
        let mut archive = ArchiveStore::new(archive, ArchiveLayout::new(&prefix));
        if encrypted {
            archive =
                archive.with_passphrase(bloodraven_brv1::Passphrase::from_file(&pass).unwrap());
        }
        let t = Instant::now();
        let mut child = cmd.spawn().unwrap();
        let site = SiteName::parse("east").unwrap();
        let mut peak = 0;
        loop {
            peak = peak.max(vm_hwm(&child));
            let m = runtime.block_on(archive.load_manifest(&site)).unwrap();
            if m.files.len() == files.len() {
                break;
            }
            assert!(
                t.elapsed() < Duration::from_secs(600),
                "archiving did not finish"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let secs = t.elapsed().as_secs_f64();
        peak = peak.max(vm_hwm(&child));
        stop(&mut child);
        let row = format!(
            "| {} {} | {:.0} MB/s ({:.2} s) | {:.1} MiB |",
            if store == "dir" {
                "local directory"
            } else {
                "loopback S3"
            },
            if encrypted { "BRV1" } else { "plain" },
            bytes as f64 / secs / 1e6,
            secs,
            peak as f64 / 1024.0
        );
        eprintln!("{row}");
        rows.push(row);
        let _ = std::fs::remove_dir_all(&dir_store);
    }
    println!(
        "\n{} files, {:.0} MiB of binlogs (largest {:.0} MiB)\n",
        files.len(),
        bytes as f64 / 1048576.0,
        files
            .iter()
            .map(|f| std::fs::metadata(db.binlog_dir().join(f)).unwrap().len())
            .max()
            .unwrap_or(0) as f64
            / 1048576.0
    );
    println!("| run | throughput | peak RSS |\n|---|---|---|");
    for r in rows {
        println!("{r}");
    }
}

/// One thread of BRV1 encryption over `n` bytes from memory into a sink: MB/s.
fn brv1_rate(n: usize) -> f64 {
    let pass = bloodraven_brv1::Passphrase::new(b"benchmark passphrase".to_vec()).unwrap();
    let buf = vec![0x5au8; 8 << 20];
    let t = Instant::now();
    let mut enc = bloodraven_brv1::Encryptor::new(&pass, std::io::sink()).unwrap();
    let mut left = n;
    while left > 0 {
        let k = left.min(buf.len());
        enc.write_all(&buf[..k]).unwrap();
        left -= k;
    }
    enc.finish().unwrap();
    n as f64 / t.elapsed().as_secs_f64() / 1e6
}

/// Peak resident set of the child in KiB.
fn vm_hwm(child: &Child) -> u64 {
    std::fs::read_to_string(format!("/proc/{}/status", child.id()))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn stop(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
}

fn sealed(dir: &Path) -> Vec<String> {
    let index = std::fs::read_to_string(dir.join("mysql-bin.index")).unwrap();
    let mut names: Vec<String> = index
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            PathBuf::from(l.trim())
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.pop();
    names
}
