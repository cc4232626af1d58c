//! Archiver benchmark: end-to-end MB/s into a loopback S3 server, with and without BRV1, and the
//! archiver's peak RSS on a large binlog.
//!
//! ```text
//! CARGO_TARGET_DIR=/work/targets/binlog cargo run --release -p bloodraven-binlog --example archive_bench -- --mib 1024
//! ```
//!
//! It writes a binlog of about `--mib` MiB through a throwaway MariaDB server (BLACKHOLE table, row
//! events, `max_binlog_size` 1 GiB), starts the in-process S3 server (s3s + s3s-fs on loopback), then for
//! each mode runs one archiver cycle in a child process (this example re-run with `run`) so that the
//! child's peak RSS (`VmHWM`) is the archiver's alone, not the server's. Everything is deleted afterwards.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use bloodraven_binlog::archive::{ArchiveStore, Archiver};
use bloodraven_binlog::manifest::{ArchiveLayout, SiteName};
use bloodraven_brv1::Passphrase;
use bloodraven_test_support::mariadb::MariaDb;
use bloodraven_test_support::s3::S3Server;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("run") {
        return run_child(&args[2..]);
    }
    let mib: u64 = args
        .iter()
        .position(|a| a == "--mib")
        .and_then(|i| args.get(i + 1))
        .map_or(Ok(1024), |s| s.parse())?;
    let work = tempfile::tempdir()?;
    let bytes = generate(work.path(), mib)?;
    let s3 = S3Server::start()?;
    println!("binlog: {:.1} MiB sealed", bytes as f64 / 1048576.0);
    println!("| mode | seconds | MB/s | peak RSS (MiB) |");
    println!("|---|---|---|---|");
    for (mode, prefix) in [("plain", "plain"), ("brv1", "enc")] {
        let out = Command::new(std::env::current_exe()?)
            .args([
                "run",
                mode,
                prefix,
                &s3.endpoint(),
                s3.bucket(),
                s3.access_key(),
                s3.secret_key(),
            ])
            .arg(work.path())
            .output()?;
        if !out.status.success() {
            return Err(format!("{mode}: {}", String::from_utf8_lossy(&out.stderr)).into());
        }
        let text = String::from_utf8(out.stdout)?;
        let fields: Vec<f64> = text
            .split_whitespace()
            .map(str::parse)
            .collect::<Result<_, _>>()?;
        let (seconds, archived, hwm_kib) = (fields[0], fields[1], fields[2]);
        println!(
            "| {mode} | {seconds:.2} | {:.0} | {:.1} |",
            archived / seconds / 1e6,
            hwm_kib / 1024.0
        );
    }
    Ok(())
}

/// Child: one cycle; prints `seconds bytes vmhwm_kib`.
fn run_child(args: &[String]) -> Result<(), Box<dyn std::error::Error>> {
    let [mode, prefix, endpoint, bucket, key, secret, dir] = args else {
        return Err("usage: run MODE PREFIX ENDPOINT BUCKET KEY SECRET DIR".into());
    };
    let store = object_store::aws::AmazonS3Builder::new()
        .with_endpoint(endpoint)
        .with_bucket_name(bucket)
        .with_access_key_id(key)
        .with_secret_access_key(secret)
        .with_region("us-east-1")
        .with_allow_http(true)
        .build()?;
    let mut archive = ArchiveStore::new(Arc::new(store), ArchiveLayout::new(prefix));
    if mode == "brv1" {
        archive = archive.with_passphrase(Passphrase::new(b"benchmark passphrase".to_vec())?);
    }
    let archiver = Archiver::new(archive, SiteName::parse("bench")?, PathBuf::from(dir));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let start = Instant::now();
    let report = runtime.block_on(archiver.run_cycle(&true))?;
    let seconds = start.elapsed().as_secs_f64();
    if !report.failed.is_empty() || report.archived.is_empty() {
        return Err(format!("{report:?}").into());
    }
    let status = std::fs::read_to_string("/proc/self/status")?;
    let hwm = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .unwrap_or("0");
    println!("{seconds} {} {hwm}", archiver.status().bytes_archived);
    Ok(())
}

/// Writes about `mib` MiB of row events into one binlog, rotates, copies the binlogs into `dir`.
fn generate(dir: &Path, mib: u64) -> Result<u64, Box<dyn std::error::Error>> {
    let db = MariaDb::builder()
        .arg("--max-binlog-size=1073741824")
        .arg("--binlog-format=ROW")
        .start()?;
    db.sql("INSTALL SONAME 'ha_blackhole'; CREATE DATABASE d; CREATE TABLE d.t (b LONGBLOB) ENGINE=BLACKHOLE")?;
    let statement = "INSERT INTO d.t SELECT REPEAT(MD5(RAND()), 32) FROM d.seq_1_to_1024";
    let mut written = 0;
    while written < mib {
        let batch = (mib - written).min(32);
        db.sql(&vec![statement; batch as usize].join(";"))?;
        written += batch;
    }
    db.sql("FLUSH BINARY LOGS")?;
    let index = std::fs::read_to_string(db.binlog_index())?;
    let mut sealed = 0;
    let names: Vec<String> = index
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| {
            Path::new(l.trim())
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .collect();
    for (i, n) in names.iter().enumerate() {
        let bytes = std::fs::copy(db.binlog_dir().join(n), dir.join(n))?;
        if i + 1 < names.len() {
            sealed += bytes;
        }
    }
    let index: String = names.iter().map(|n| format!("./{n}\n")).collect();
    std::fs::write(dir.join("mysql-bin.index"), index)?;
    Ok(sealed)
}
