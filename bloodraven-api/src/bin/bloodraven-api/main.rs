//! `bloodraven-api`: print the Bloodraven CRDs and lint manifests against them.
//!
//! ```text
//! bloodraven-api crds [--out DIR] [--json]
//! bloodraven-api lint [--json] FILE...
//! bloodraven-api crd-reference
//! ```
//!
//! `lint` prints one line per violation, `FILE: Kind/name: field.path: message`, and exits 0 when
//! every document is valid, 1 when any violation is found and 2 when a file cannot be read or is
//! not YAML. Documents of other API groups in the same file are skipped.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use bloodraven_api::{crd, manifest};
use clap::{Parser, Subcommand};

/// Bloodraven's Kubernetes API: CRDs and manifest linting.
#[derive(Debug, Parser)]
#[command(name = "bloodraven-api", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write the CRDs of the five kinds as YAML (to stdout, or one file per kind).
    Crds {
        /// Write `shipstream.io_<plural>.yaml` files into this directory instead of stdout.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Print JSON (one CRD per line) instead of YAML.
        #[arg(long, conflicts_with = "out")]
        json: bool,
    },
    /// Check manifests (multi-document YAML; `-` reads stdin) and print every violation.
    Lint {
        /// Files to check.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Print JSON Lines: {"file","kind","name","path","message"} per violation.
        #[arg(long)]
        json: bool,
    },
    /// Print the CRD reference (Markdown) generated from the schemas (docs/crd-reference.md).
    CrdReference,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Crds { out, json } => crds(out.as_deref(), json).map(|()| ExitCode::SUCCESS),
        Command::Lint { files, json } => lint(&files, json),
        Command::CrdReference => crd_reference().map(|()| ExitCode::SUCCESS),
    };
    match result {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bloodraven-api: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn crds(out: Option<&Path>, json: bool) -> anyhow::Result<()> {
    let crds = crd::crds();
    let Some(dir) = out else {
        let mut stdout = io::stdout().lock();
        for c in &crds {
            if json {
                writeln!(stdout, "{}", serde_json::to_string(c)?)?;
            } else {
                stdout.write_all(crd::to_yaml(c)?.as_bytes())?;
            }
        }
        return Ok(stdout.flush()?);
    };
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for c in &crds {
        let path = dir.join(crd::file_name(c));
        let tmp = dir.join(format!(".{}.tmp", crd::file_name(c)));
        std::fs::write(&tmp, crd::to_yaml(c)?)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        std::fs::rename(&tmp, &path).with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

fn crd_reference() -> anyhow::Result<()> {
    let text = bloodraven_api::reference::markdown()?;
    let mut stdout = io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    Ok(stdout.flush()?)
}

fn lint(files: &[PathBuf], json: bool) -> anyhow::Result<ExitCode> {
    let mut stdout = io::stdout().lock();
    let (mut invalid, mut broken) = (false, false);
    for file in files {
        let shown = file.display().to_string();
        let text = match read(file) {
            Ok(text) => text,
            Err(e) => {
                eprintln!("bloodraven-api: {shown}: {e:#}");
                broken = true;
                continue;
            }
        };
        let docs = match manifest::documents(&text) {
            Ok(docs) => docs,
            Err(e) => {
                eprintln!("bloodraven-api: {shown}: {e}");
                broken = true;
                continue;
            }
        };
        for checked in docs.iter().filter_map(manifest::check) {
            for v in &checked.violations {
                invalid = true;
                if json {
                    let line = serde_json::json!({
                        "file": shown, "kind": checked.kind, "name": checked.name,
                        "path": v.path, "message": v.message,
                    });
                    writeln!(stdout, "{line}")?;
                } else {
                    writeln!(
                        stdout,
                        "{shown}: {}/{}: {}: {}",
                        checked.kind, checked.name, v.path, v.message
                    )?;
                }
            }
        }
    }
    stdout.flush()?;
    Ok(match (broken, invalid) {
        (true, _) => ExitCode::from(2),
        (false, true) => ExitCode::from(1),
        (false, false) => ExitCode::SUCCESS,
    })
}

fn read(file: &Path) -> anyhow::Result<String> {
    if file == Path::new("-") {
        let mut text = String::new();
        io::stdin()
            .read_to_string(&mut text)
            .context("cannot read stdin")?;
        return Ok(text);
    }
    std::fs::read_to_string(file).context("cannot read file")
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain()
        .filter_map(|c| c.downcast_ref::<io::Error>())
        .any(|e| e.kind() == io::ErrorKind::BrokenPipe)
}
