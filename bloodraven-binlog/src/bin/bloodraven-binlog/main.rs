//! `bloodraven-binlog`: inspect MySQL/MariaDB binlog files.

mod archive_cli;
mod scan;

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Inspect MySQL and MariaDB binary log files.
#[derive(Debug, Parser)]
#[command(name = "bloodraven-binlog", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Summarize binlog files: server, checksum, GTIDs, event times, closing event.
    ///
    /// Exits 1 when a file cannot be read to its end (after printing the summaries of the others).
    Scan {
        /// Binlog files to read.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// One JSON object per file per line instead of text.
        #[arg(long)]
        json: bool,
    },
    /// List the events of a binlog file: offset, type, time, server id, size and GTID.
    ///
    /// Exits 1 when the file cannot be read to its end (after printing the events before the fault).
    Events {
        /// The binlog file.
        file: PathBuf,
        /// One JSON object per event per line instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Check the archive's continuity: per-site chains and a gap-free GTID history from --start.
    ///
    /// Files without an end GTID set in their manifest are read from the store to learn it. Exits 1 on a
    /// gap, a chain break or an entry whose transactions stay unknown.
    #[command(name = "archive-check")]
    ArchiveCheck {
        #[command(flatten)]
        store: archive_cli::StoreArgs,
    },
    /// Plan a point-in-time recovery: the files to replay in order, with the stop option for the last.
    ///
    /// Files without an end GTID set in their manifest (the newest Go-written file of a site) are read
    /// from the store to learn it. Exits 1 when the plan is incomplete: the target cannot be reached (a
    /// gap, or a target beyond the archive), or such a file could not be read and may hold transactions
    /// of the target (it is named).
    #[command(name = "pitr-plan")]
    PitrPlan {
        #[command(flatten)]
        store: archive_cli::StoreArgs,
        #[command(flatten)]
        target: archive_cli::TargetArgs,
    },
    /// Plan, then download the planned files (decrypted, verified) into DIR/<site>/<name>.
    ///
    /// Exits 1, after downloading, when the plan is incomplete (see pitr-plan).
    #[command(name = "pitr-download")]
    PitrDownload {
        #[command(flatten)]
        store: archive_cli::StoreArgs,
        #[command(flatten)]
        target: archive_cli::TargetArgs,
        /// Output directory.
        #[arg(long)]
        dir: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The library's warnings (and more with `RUST_LOG`, e.g. `RUST_LOG=bloodraven_binlog=debug`) on stderr.
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .try_init();
    let stdout = io::stdout();
    let mut out = io::BufWriter::with_capacity(64 * 1024, stdout.lock());
    let result = match &cli.command {
        Command::Scan { files, json } => scan::scan(&mut out, files, *json),
        Command::Events { file, json } => scan::events(&mut out, file, *json),
        Command::ArchiveCheck { store } => archive(archive_cli::check(&mut out, store)),
        Command::PitrPlan { store, target } => {
            archive(archive_cli::plan(&mut out, store, target, None))
        }
        Command::PitrDownload { store, target, dir } => {
            archive(archive_cli::plan(&mut out, store, target, Some(dir)))
        }
    };
    let result = result.and_then(|ok| out.flush().map(|()| ok));
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        // A closed pipe (`| head`) is not a failure.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

/// Archive commands report errors with their whole cause chain.
fn archive(result: anyhow::Result<bool>) -> io::Result<bool> {
    result.map_err(|e| io::Error::other(format!("{e:#}")))
}
