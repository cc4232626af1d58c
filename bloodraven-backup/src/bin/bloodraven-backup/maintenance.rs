//! The store-maintenance commands: `list`, `prune`, `encrypt-upload`, `decrypt-download`.

use std::path::PathBuf;

use anyhow::Context;
use bloodraven_backup::{DumpLocation, Passphrase};
use clap::Args;

#[derive(Debug, Args)]
pub(crate) struct EncryptUploadArgs {
    /// The local directory to upload.
    #[arg(long)]
    pub(crate) source: PathBuf,
    /// Destination: `file:///dir` or `s3://bucket/prefix`.
    #[arg(long)]
    pub(crate) to: String,
    /// BRV1 passphrase file.
    #[arg(long)]
    pub(crate) passphrase_file: PathBuf,
    /// One JSON object on stdout.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct DecryptDownloadArgs {
    /// The encrypted directory: `file:///dir` or `s3://bucket/prefix`.
    #[arg(long)]
    pub(crate) from: String,
    /// The local directory to write.
    #[arg(long)]
    pub(crate) target: PathBuf,
    /// BRV1 passphrase file.
    #[arg(long)]
    pub(crate) passphrase_file: PathBuf,
    /// Copy objects that are not BRV1 as they are instead of failing.
    #[arg(long)]
    pub(crate) allow_plaintext_fallback: bool,
    /// One JSON object on stdout.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// The prefix holding dump directories: `file:///dir` or `s3://bucket/prefix`.
    #[arg(long)]
    pub(crate) under: String,
    /// One JSON object instead of text.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct PruneArgs {
    /// The prefix holding dump directories: `file:///dir` or `s3://bucket/prefix`.
    #[arg(long)]
    pub(crate) under: String,
    /// Keep at most this many complete dumps.
    #[arg(long)]
    pub(crate) count: Option<usize>,
    /// Delete complete dumps older than this many days.
    #[arg(long)]
    pub(crate) max_age_days: Option<u32>,
    /// Never keep fewer complete dumps (the newest complete one is always kept).
    #[arg(long, default_value_t = 1)]
    pub(crate) min_keep: usize,
    /// Keep at most this many incomplete dumps.
    #[arg(long, default_value_t = 10)]
    pub(crate) max_failed_keep: usize,
    /// Print what would be deleted, delete nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// One JSON object instead of text.
    #[arg(long)]
    pub(crate) json: bool,
}

pub(crate) async fn encrypt_upload(args: EncryptUploadArgs) -> anyhow::Result<()> {
    let to = DumpLocation::parse(&args.to)?;
    let pass = Passphrase::from_file(&args.passphrase_file)
        .with_context(|| format!("--passphrase-file {}", args.passphrase_file.display()))?;
    let started = std::time::Instant::now();
    let report =
        bloodraven_backup::transfer::encrypt_upload(&args.source, to.store(), to.prefix(), &pass)
            .await
            .context("encrypt-upload failed")?;
    // The Go uploader's sentinels, with the GTID and binlog position of the dump script's side file.
    let side: serde_json::Value = std::fs::read(args.source.join("BLOODRAVEN_DUMP_META.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    eprintln!(
        "BLOODRAVEN_ENCRYPT_METRICS stage=encrypt result=success duration={:.3} bytes={} ciphertext={} files={}",
        started.elapsed().as_secs_f64(),
        report.plaintext_bytes,
        report.ciphertext_bytes,
        report.files.len()
    );
    eprintln!(
        "BLOODRAVEN_DUMP_COMPLETE location={} sizeBytes={} size={} gtidExecuted={} binlogFile={} binlogPos={} \
         ciphertextBytes={} files={} encrypted=true algorithm=AES-256-GCM",
        args.to.replace(' ', "_"),
        report.plaintext_bytes,
        bloodraven_backup::dump::human_size(report.plaintext_bytes).replace(' ', "_"),
        side["gtidExecuted"]
            .as_str()
            .unwrap_or("")
            .replace(' ', "_"),
        side["binlogFile"].as_str().unwrap_or("").replace(' ', "_"),
        side["binlogPos"].as_u64().unwrap_or(0),
        report.ciphertext_bytes,
        report.files.len()
    );
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    }
    Ok(())
}

pub(crate) async fn decrypt_download(args: DecryptDownloadArgs) -> anyhow::Result<()> {
    let from = DumpLocation::parse(&args.from)?;
    let pass = Passphrase::from_file(&args.passphrase_file)
        .with_context(|| format!("--passphrase-file {}", args.passphrase_file.display()))?;
    let started = std::time::Instant::now();
    let report = bloodraven_backup::transfer::decrypt_download(
        from.store(),
        from.prefix(),
        &args.target,
        &pass,
        args.allow_plaintext_fallback,
    )
    .await
    .context("decrypt-download failed")?;
    eprintln!(
        "BLOODRAVEN_ENCRYPT_METRICS stage=decrypt result=success duration={:.3} bytes={} ciphertext={} files={}",
        started.elapsed().as_secs_f64(),
        report.plaintext_bytes,
        report.ciphertext_bytes,
        report.files.len()
    );
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    }
    Ok(())
}

pub(crate) async fn list(args: ListArgs) -> anyhow::Result<()> {
    use bloodraven_backup::retention;
    let top = DumpLocation::parse(&args.under)?;
    let dumps = retention::list_dumps(top.store(), top.prefix()).await?;
    let latest = retention::latest(&dumps).map(|d| d.name.clone());
    if args.json {
        println!(
            "{}",
            serde_json::json!({ "dumps": dumps, "latest": latest })
        );
    } else {
        for d in &dumps {
            let state = if d.complete { "complete" } else { "incomplete" };
            println!(
                "{}\t{state}\t{}\t{} bytes",
                d.name,
                d.time.to_rfc3339(),
                d.stored_bytes
            );
        }
        if let Some(l) = latest {
            println!("latest\t{l}");
        }
    }
    Ok(())
}

pub(crate) async fn prune(args: PruneArgs) -> anyhow::Result<()> {
    use bloodraven_backup::retention::{self, RetentionPolicy};
    let top = DumpLocation::parse(&args.under)?;
    let policy = RetentionPolicy {
        count: args.count,
        max_age_days: args.max_age_days,
        min_keep: args.min_keep,
        max_failed_keep: args.max_failed_keep,
    };
    let deleted = retention::prune(top.store(), top.prefix(), &policy, args.dry_run).await?;
    if args.json {
        let items: Vec<_> = deleted
            .iter()
            .map(|(name, reason)| serde_json::json!({ "name": name, "reason": reason }))
            .collect();
        println!(
            "{}",
            serde_json::json!({ "dryRun": args.dry_run, "deleted": items })
        );
    } else {
        for (name, reason) in &deleted {
            let verb = if args.dry_run {
                "would delete"
            } else {
                "deleted"
            };
            eprintln!("{verb} {name}: {reason}");
        }
    }
    Ok(())
}
