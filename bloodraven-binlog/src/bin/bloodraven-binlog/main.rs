//! `bloodraven-binlog`: inspect MySQL/MariaDB binlog files.

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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let stdout = io::stdout();
    let mut out = io::BufWriter::with_capacity(64 * 1024, stdout.lock());
    let result = match &cli.command {
        Command::Scan { files, json } => scan::scan(&mut out, files, *json),
        Command::Events { file, json } => scan::events(&mut out, file, *json),
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
