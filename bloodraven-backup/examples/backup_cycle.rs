//! The backup owner's cycle through the library: dump a server into a directory, archive its sealed
//! binlogs the way the sidecar does, then verify the dump by restoring it into a throwaway server and
//! replaying the archive to its latest transaction.
//!
//! ```text
//! cargo run --release -p bloodraven-backup --example backup_cycle -- \
//!     all|dump|archive|verify PORT BINLOG_DIR OUT_DIR [THREADS]
//! ```
//!
//! The server listens on 127.0.0.1:PORT as `root` (password from `MYSQL_PWD`); BINLOG_DIR is its binlog
//! directory, holding its `*.index` file (run `FLUSH BINARY LOGS` first so the newest writes are in a sealed file); OUT_DIR must not
//! exist and receives `dump/` and `archive/`. `all` runs the three steps in order; a single step runs
//! alone on what the earlier steps left in OUT_DIR (the benchmark writes between the dump and the archive,
//! and times the verification on its own). `mariadbd` and `mariadb-binlog` must be on the
//! PATH for the throwaway server and the replay. Prints one line per step with its wall time and exits
//! non-zero unless the verification succeeded.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use bloodraven_backup::bloodraven_binlog::archive::{ArchiveStore, Archiver};
use bloodraven_backup::bloodraven_binlog::manifest::{ArchiveLayout, SiteName};
use bloodraven_backup::bloodraven_binlog::pitr::Target;
use bloodraven_backup::object_store::local::LocalFileSystem;
use bloodraven_backup::pitr::PitrOptions;
use bloodraven_backup::{
    ConnectOptions, DumpLocation, DumpOptions, RestoreOptions, VerifyOptions, dump, verify,
};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: backup_cycle all|dump|archive|verify PORT BINLOG_DIR OUT_DIR [THREADS]";
    let [step, port, binlog_dir, out, rest @ ..] = args.as_slice() else {
        return Err(usage.into());
    };
    if !["all", "dump", "archive", "verify"].contains(&step.as_str()) {
        return Err(usage.into());
    }
    let runs = |name: &str| step == "all" || step == name;
    let threads: usize = rest.first().map(|t| t.parse()).transpose()?.unwrap_or(4);
    let out = PathBuf::from(out);
    let dump_dir = out.join("dump");
    let archive_dir = out.join("archive");
    let location = DumpLocation::parse(&format!("file://{}", dump_dir.display()))?;
    std::fs::create_dir_all(&archive_dir)?;
    let archive = ArchiveStore::new(
        Arc::new(LocalFileSystem::new_with_prefix(&archive_dir)?),
        ArchiveLayout::for_profile_prefix("example"),
    );

    if runs("dump") {
        // 1. The dump: a consistent snapshot with its GTID set, streamed as zstd TSV chunks.
        let source = ConnectOptions::new("127.0.0.1", port.parse()?)
            .with_credentials("root", std::env::var("MYSQL_PWD").ok());
        let started = Instant::now();
        let report = dump::dump(
            &source,
            &location,
            &DumpOptions {
                threads,
                ..DumpOptions::default()
            },
        )
        .await?;
        println!(
            "dump: {} rows, {} bytes, GTID {} in {:.2} s",
            report.meta.total_rows,
            report.meta.total_bytes,
            report.meta.gtid_executed,
            started.elapsed().as_secs_f64()
        );
    }

    if runs("archive") {
        // 2. The binlog archive: every sealed binlog with its manifest entry, as the sidecar writes it.
        let started = Instant::now();
        let index = std::fs::read_dir(binlog_dir)?
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .find(|name| name.ends_with(".index"))
            .ok_or_else(|| format!("{binlog_dir} holds no binlog index (*.index)"))?;
        let archiver = Archiver::new(
            archive.clone(),
            SiteName::parse("example")?,
            binlog_dir.as_str(),
        )
        .with_index_file(index);
        let cycle = archiver.run_cycle(&true).await?;
        if let Some((file, error)) = cycle.failed.first() {
            return Err(format!("archiving {file} failed: {error}").into());
        }
        println!(
            "archive: {} binlogs in {:.2} s",
            cycle.archived.len() + cycle.already_archived,
            started.elapsed().as_secs_f64()
        );
    }

    if !runs("verify") {
        return Ok(());
    }
    // 3. The verification: a throwaway server, the restore, the replay to the archive's latest
    //    transaction, and the GTID and per-table checks.
    let started = Instant::now();
    let report = verify::verify(
        &location,
        &VerifyOptions {
            restore: RestoreOptions {
                threads,
                ..RestoreOptions::default()
            },
            pitr: Some(PitrOptions::new(archive, Target::Latest)),
            ..VerifyOptions::default()
        },
    )
    .await;
    println!(
        "verify: {} in {:.2} s: {}",
        if report.succeeded { "ok" } else { "FAILED" },
        started.elapsed().as_secs_f64(),
        report.message
    );
    let p = &report.phases;
    println!(
        "verify phases (ms): server {} restore {} replay {} checksums {} sanity {}",
        p.server_ms, p.restore_ms, p.replay_ms, p.checksums_ms, p.sanity_ms
    );
    if !report.succeeded {
        return Err(format!("verification failed: {:?}", report.reason).into());
    }
    Ok(())
}
