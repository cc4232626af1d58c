//! `archive check`, `pitr plan` and `pitr download`: the archive and PITR planner from the command line.

use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::Arc;

use bloodraven_binlog::archive::ArchiveStore;
use bloodraven_binlog::continuity::{self, History};
use bloodraven_binlog::manifest::{ArchiveLayout, Manifest, SiteName};
use bloodraven_binlog::pitr::{self, Plan, Target};
use bloodraven_brv1::Passphrase;
use chrono::{DateTime, NaiveDateTime, Utc};
use clap::Args;
use serde_json::json;

/// Where the archive is and how to read it.
#[derive(Debug, Args)]
pub(crate) struct StoreArgs {
    /// Object store URL: `file:///path`, `s3://bucket` (credentials and endpoint from `AWS_*` variables,
    /// e.g. `AWS_ENDPOINT`, `AWS_ALLOW_HTTP`), `gs://`, `az://` (with the matching build features).
    #[arg(long)]
    store: String,
    /// Archive prefix inside the store: the backup profile's prefix plus `/binlogs`.
    #[arg(long, default_value = "binlogs")]
    prefix: String,
    /// Sites to read (comma list); default: every `manifest-<site>.json` under the prefix.
    #[arg(long, value_delimiter = ',')]
    sites: Vec<String>,
    /// BRV1 passphrase file (the archive is encrypted).
    #[arg(long)]
    passphrase_file: Option<PathBuf>,
    /// The dump's GTID set (`gtid_executed`, or MariaDB `gtid_binlog_pos`); empty = from the beginning.
    #[arg(long, default_value = "")]
    start: String,
    /// One JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// The recovery target.
#[derive(Debug, Args)]
pub(crate) struct TargetArgs {
    /// Stop before this time (RFC 3339, or `YYYY-MM-DD HH:MM:SS` as UTC).
    #[arg(long, conflicts_with = "stop_gtids")]
    stop_datetime: Option<String>,
    /// Replay up to and including these transactions: MariaDB GTIDs, one per domain (`0-1-42`: domain 0
    /// through seq 42), or a MySQL GTID set (each UUID through its highest GNO); see --exclusive.
    #[arg(long, value_name = "GTIDS")]
    stop_gtids: Option<String>,
    /// With --stop-gtids: stop just before the transactions instead, e.g. a bad DROP (`0-1-42`: domain 0
    /// through seq 41; a MySQL set: before its first transaction the --start set does not hold). A start
    /// set already past the stop point is unreachable.
    #[arg(long, requires = "stop_gtids")]
    exclusive: bool,
}

/// `archive check`: exit 0 when continuous, 1 on a gap, chain break or unverifiable entry.
pub(crate) fn check(out: &mut impl Write, args: &StoreArgs) -> anyhow::Result<bool> {
    let (store, manifests, start) = load(args)?;
    let manifests = learn(&store, &manifests, &Target::Latest)?;
    let report = continuity::check(&manifests, &start)?;
    if args.json {
        let breaks: Vec<_> = report
            .chain_breaks
            .iter()
            .map(|b| {
                json!({"before": b.before.to_string(), "after": b.after.to_string(),
                       "missing": b.missing.to_string(), "unexpected": b.unexpected.to_string()})
            })
            .collect();
        let files: usize = manifests.iter().map(|m| m.files.len()).sum();
        let value = json!({
            "continuous": report.is_continuous(),
            "sites": manifests.len(),
            "files": files,
            "chain_breaks": breaks,
            "gaps": report.gaps.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "unverifiable": report.unverifiable.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "covered": report.covered.to_string(),
            "unreachable": report.unreachable().to_string(),
        });
        writeln!(out, "{value}")?;
    } else {
        let files: usize = manifests.iter().map(|m| m.files.len()).sum();
        writeln!(out, "{} sites, {files} files", manifests.len())?;
        for b in &report.chain_breaks {
            writeln!(
                out,
                "chain break: {} -> {}: missing {}, unexpected {}",
                b.before, b.after, b.missing, b.unexpected
            )?;
        }
        for g in &report.gaps {
            writeln!(out, "gap: {g}")?;
        }
        for u in &report.unverifiable {
            writeln!(out, "unverifiable (no GTID information): {u}")?;
        }
        writeln!(out, "covered: {}", report.covered)?;
        if !report.unreachable().is_empty() {
            writeln!(out, "unreachable: {}", report.unreachable())?;
        }
        writeln!(
            out,
            "{}",
            if report.is_continuous() {
                "continuous"
            } else {
                "NOT continuous"
            }
        )?;
    }
    Ok(report.is_continuous())
}

/// `pitr plan` (and the planning half of `pitr download`): exit 1 when the plan is incomplete (the target
/// is unreachable, or a file without an end set that could not be read may hold transactions of it).
pub(crate) fn plan(
    out: &mut impl Write,
    args: &StoreArgs,
    target: &TargetArgs,
    download_to: Option<&PathBuf>,
) -> anyhow::Result<bool> {
    let (store, manifests, start) = load(args)?;
    let target = parse_target(target)?;
    let manifests = learn(&store, &manifests, &target)?;
    let plan = pitr::plan(&manifests, &start, &target)?;
    if let Some(dir) = download_to {
        runtime()?.block_on(pitr::download(&store, &plan, dir))?;
    }
    print_plan(out, &plan, args.json, download_to)?;
    Ok(plan.is_complete())
}

/// Completes the entries that have no end set (the newest Go-written file of each site) from their
/// objects; a file that cannot be read is named on stderr and stays unverifiable.
fn learn(
    store: &ArchiveStore,
    manifests: &[Manifest],
    target: &Target,
) -> anyhow::Result<Vec<Manifest>> {
    let learned = runtime()?.block_on(pitr::learn_end_sets(store, manifests, target))?;
    for (file, e) in &learned.failed {
        eprintln!(
            "warning: {file} has no end GTID set in its manifest and reading it failed, so it stays \
             unverifiable: {e}"
        );
    }
    Ok(learned.manifests)
}

fn print_plan(
    out: &mut impl Write,
    plan: &Plan,
    json: bool,
    dir: Option<&PathBuf>,
) -> io::Result<()> {
    if json {
        let files: Vec<_> = plan
            .files
            .iter()
            .map(|f| {
                json!({"site": f.file.site, "name": f.file.name, "remote_path": f.entry.remote_path,
                       "adds": f.adds.to_string(), "args": f.binlog_args(),
                       "path": dir.map(|d| f.local_path(d).display().to_string())})
            })
            .collect();
        let value = json!({
            "complete": plan.is_complete(),
            "files": files,
            "recovered": plan.recovered.to_string(),
            "last_recoverable_time": plan.last_recoverable_time.map(|t| t.to_rfc3339()),
            "gaps": plan.gaps.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "unverifiable": plan.unverifiable.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "unverifiable_in_window": plan.unverifiable_in_window.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "unreachable": plan.unreachable,
        });
        writeln!(out, "{value}")
    } else {
        for f in &plan.files {
            let path = dir
                .map(|d| f.local_path(d).display().to_string())
                .unwrap_or_else(|| f.file.to_string());
            writeln!(
                out,
                "{path}\t{}\tadds {}",
                f.binlog_args().join(" "),
                f.adds
            )?;
        }
        writeln!(out, "recovered: {}", plan.recovered)?;
        if let Some(t) = plan.last_recoverable_time {
            writeln!(out, "last recoverable time: {}", t.to_rfc3339())?;
        }
        if let Some(why) = &plan.unreachable {
            writeln!(out, "unreachable: {why}")?;
        }
        for u in &plan.unverifiable {
            if plan.unverifiable_in_window.contains(u) {
                writeln!(
                    out,
                    "unverifiable: {u} has no end GTID set and may hold transactions of the target; \
                     it is not in the plan"
                )?;
            } else {
                writeln!(out, "unverifiable (outside the target): {u}")?;
            }
        }
        if !plan.is_complete() {
            writeln!(out, "incomplete")?;
        }
        Ok(())
    }
}

fn parse_target(t: &TargetArgs) -> anyhow::Result<Target> {
    if let Some(text) = &t.stop_datetime {
        let text = text.trim();
        let time = DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&Utc))
            .or_else(|_| {
                NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").map(|n| n.and_utc())
            })
            .map_err(|_| {
                anyhow::anyhow!(
                    "--stop-datetime {text:?}: expected RFC 3339 or YYYY-MM-DD HH:MM:SS"
                )
            })?;
        return Ok(Target::Time(time));
    }
    if let Some(set) = &t.stop_gtids {
        return Ok(Target::Gtids {
            set: History::parse(set, "--stop-gtids")?,
            inclusive: !t.exclusive,
        });
    }
    Ok(Target::Latest)
}

fn load(args: &StoreArgs) -> anyhow::Result<(ArchiveStore, Vec<Manifest>, History)> {
    let url = url_parse(&args.store)?;
    let options = std::env::vars()
        .filter(|(k, _)| {
            ["AWS_", "GOOGLE_", "AZURE_"]
                .iter()
                .any(|p| k.starts_with(p))
        })
        .map(|(k, v)| (k.to_ascii_lowercase(), v));
    let (store, path) = object_store::parse_url_opts(&url, options)
        .map_err(|e| anyhow::anyhow!("--store {}: {e}", args.store))?;
    let base = path.as_ref().trim_matches('/');
    let prefix = [base, args.prefix.trim_matches('/')]
        .iter()
        .filter(|p| !p.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join("/");
    let mut archive = ArchiveStore::new(Arc::from(store), ArchiveLayout::new(&prefix));
    if let Some(file) = &args.passphrase_file {
        archive = archive.with_passphrase(Passphrase::from_file(file)?);
    }
    let start = History::parse(&args.start, "--start")?;
    let rt = runtime()?;
    let sites = if args.sites.is_empty() {
        rt.block_on(archive.sites())?
    } else {
        args.sites
            .iter()
            .map(|s| SiteName::parse(s.trim()))
            .collect::<Result<_, _>>()?
    };
    let mut manifests = Vec::new();
    for site in &sites {
        manifests.push(rt.block_on(archive.load_manifest(site))?);
    }
    Ok((archive, manifests, start))
}

/// A URL, or a plain directory path for the local filesystem store.
fn url_parse(s: &str) -> anyhow::Result<url::Url> {
    if s.contains("://") {
        return url::Url::parse(s).map_err(|e| anyhow::anyhow!("--store {s:?}: {e}"));
    }
    let dir = std::path::absolute(s)?;
    url::Url::from_directory_path(&dir)
        .map_err(|()| anyhow::anyhow!("--store {s:?}: not a usable directory path"))
}

fn runtime() -> io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}
