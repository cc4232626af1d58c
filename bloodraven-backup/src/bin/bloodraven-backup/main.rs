//! `bloodraven-backup`: dump a MySQL/MariaDB server into an object store and restore it.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use bloodraven_backup::format::Compression;
use bloodraven_backup::{
    ConnectOptions, DumpLocation, DumpOptions, Passphrase, Progress, RestoreOptions, dump, restore,
};
use clap::{Args, Parser, Subcommand};

mod maintenance;

use maintenance::{DecryptDownloadArgs, EncryptUploadArgs, ListArgs, PruneArgs};

/// Native parallel dump and load for MySQL and MariaDB, straight to object stores.
#[derive(Debug, Parser)]
#[command(name = "bloodraven-backup", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Dump a server into an empty directory of a store.
    Dump(DumpArgs),
    /// Restore a complete dump into an empty server (or, with --include-schema, one schema into a live one).
    Restore(RestoreArgs),
    /// Restore a dump into a throwaway server, check it, run a sanity query, tear the server down.
    Verify(VerifyArgs),
    /// List the dumps under a prefix (complete or not) and name the newest complete one.
    List(ListArgs),
    /// Delete whole dump directories under a prefix by a retention policy.
    Prune(PruneArgs),
    /// BRV1-encrypt a local dump directory (any tool's) into a store, with the encryption marker.
    EncryptUpload(EncryptUploadArgs),
    /// Download and decrypt an encrypted directory, checking the marker's digests.
    DecryptDownload(DecryptDownloadArgs),
}

/// How to reach the server (as the `mariadb` client takes it; the password comes from `MYSQL_PWD` or
/// `--password-file`).
#[derive(Debug, Args)]
struct ServerArgs {
    /// Server host.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Server port.
    #[arg(long, short = 'P', default_value_t = 3306)]
    port: u16,
    /// User.
    #[arg(long, short = 'u', default_value = "root")]
    user: String,
    /// File holding the password (a trailing newline is ignored); default: `MYSQL_PWD`.
    #[arg(long)]
    password_file: Option<PathBuf>,
    /// BRV1 passphrase file: encrypt the dump / decrypt it.
    #[arg(long)]
    passphrase_file: Option<PathBuf>,
    /// Parallel connections.
    #[arg(long, default_value_t = 4)]
    threads: usize,
    /// Print the result as one JSON object on stdout.
    #[arg(long)]
    json: bool,
    /// Show progress on stderr (default: when stderr is a terminal).
    #[arg(long, overrides_with = "no_progress")]
    progress: bool,
    /// Never show progress.
    #[arg(long)]
    no_progress: bool,
}

#[derive(Debug, Args)]
struct DumpArgs {
    /// Destination: `file:///dir` or `s3://bucket/prefix` (S3 settings from `AWS_*` variables).
    #[arg(long)]
    to: String,
    #[command(flatten)]
    server: ServerArgs,
    /// Uncompressed bytes per chunk of a table with an integer key.
    #[arg(long, default_value_t = 64 * 1024 * 1024)]
    bytes_per_chunk: u64,
    /// Chunk compression: zstd, gzip or none.
    #[arg(long, default_value = "zstd")]
    compression: String,
    /// Dump only these schemas (comma list).
    #[arg(long, value_delimiter = ',')]
    include_schemas: Vec<String>,
    /// Leave these schemas out (comma list).
    #[arg(long, value_delimiter = ',')]
    exclude_schemas: Vec<String>,
    /// Also dump accounts and grants.
    #[arg(long)]
    users: bool,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["from", "from_sql", "from_mydumper"])))]
struct RestoreArgs {
    /// The dump: `file:///dir` or `s3://bucket/prefix`.
    #[arg(long)]
    from: Option<String>,
    /// A plain SQL dump file of `mariadb-dump` / `mysqldump` (`.sql`, `.sql.gz`, `.sql.zst`).
    #[arg(long)]
    from_sql: Option<PathBuf>,
    /// A mydumper output directory.
    #[arg(long)]
    from_mydumper: Option<PathBuf>,
    #[command(flatten)]
    server: ServerArgs,
    /// Do not create the dump's accounts.
    #[arg(long)]
    skip_users: bool,
    /// Restore only this schema of the dump into a live, writable server (repeat for more): drops it and loads
    /// it, binlogged so that replicas follow; other schemas, accounts and the GTID state are left alone.
    #[arg(long, value_name = "SCHEMA", conflicts_with_all = ["from_sql", "from_mydumper", "skip_users"])]
    include_schema: Vec<String>,
    /// Create secondary indexes with their tables, before the data (default: after the data, which loads faster)
    #[arg(long)]
    no_defer_indexes: bool,
    #[command(flatten)]
    pitr: PitrArgs,
    /// Check the dump and print the recoverability report; restore nothing.
    #[arg(long)]
    dry_run: bool,
}

/// Point-in-time replay after the restore.
#[derive(Debug, Args)]
struct PitrArgs {
    /// The binlog archive prefix (`<profile prefix>/binlogs`): `file:///dir/orders/binlogs` or
    /// `s3://bucket/orders/binlogs`; encrypted archives use --passphrase-file.
    #[arg(long)]
    binlog_archive: Option<String>,
    /// Replay everything the archive has.
    #[arg(long, requires = "binlog_archive", conflicts_with_all = ["stop_datetime", "stop_gtid"])]
    latest: bool,
    /// Replay transactions before this time (RFC 3339, or `YYYY-MM-DD HH:MM:SS` as UTC).
    #[arg(long, requires = "binlog_archive", conflicts_with = "stop_gtid")]
    stop_datetime: Option<String>,
    /// Replay up to and including these transactions: MariaDB GTIDs, one per domain (`0-1-42`: domain 0
    /// through seq 42), or a MySQL GTID set (each UUID through its highest GNO); see --exclusive.
    #[arg(long, requires = "binlog_archive", value_name = "GTIDS")]
    stop_gtid: Option<String>,
    /// With --stop-gtid: stop just before the transactions instead, e.g. a bad `DROP` (`0-1-42`: domain 0
    /// through seq 41; a MySQL set: before its first transaction the dump does not hold). A dump already
    /// past the stop point is refused.
    #[arg(long, requires = "stop_gtid")]
    exclusive: bool,
    /// Do not replay these transactions, e.g. a bad `DROP TABLE`: MariaDB GTIDs (`0-1-42,0-1-57`, each one
    /// transaction) or a MySQL GTID set. Each must be one the replay would apply (after the dump, within the
    /// target); otherwise nothing is replayed. MySQL records them as empty transactions.
    #[arg(long, requires = "binlog_archive", value_name = "SET")]
    exclude_gtids: Option<String>,
}

impl PitrArgs {
    /// The PITR options, if an archive was given.
    fn options(
        &self,
        passphrase: Option<&Passphrase>,
    ) -> anyhow::Result<Option<bloodraven_backup::pitr::PitrOptions>> {
        use bloodraven_backup::bloodraven_binlog::archive::ArchiveStore;
        use bloodraven_backup::bloodraven_binlog::continuity::History;
        use bloodraven_backup::bloodraven_binlog::manifest::ArchiveLayout;
        use bloodraven_backup::bloodraven_binlog::pitr::Target;
        let Some(url) = &self.binlog_archive else {
            return Ok(None);
        };
        let target = if let Some(text) = &self.stop_datetime {
            let time = chrono::DateTime::parse_from_rfc3339(text)
                .map(|t| t.with_timezone(&chrono::Utc))
                .or_else(|_| {
                    chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S")
                        .map(|n| n.and_utc())
                })
                .map_err(|_| {
                    anyhow::anyhow!(
                        "--stop-datetime {text:?}: expected RFC 3339 or YYYY-MM-DD HH:MM:SS"
                    )
                })?;
            Target::Time(time)
        } else if let Some(set) = &self.stop_gtid {
            Target::Gtids {
                set: History::parse(set, "--stop-gtid")?,
                inclusive: !self.exclusive,
            }
        } else if self.latest {
            Target::Latest
        } else {
            anyhow::bail!("--binlog-archive needs --latest, --stop-datetime or --stop-gtid");
        };
        let location = DumpLocation::parse(url)?;
        let mut archive = ArchiveStore::new(
            std::sync::Arc::clone(location.store()),
            ArchiveLayout::new(location.prefix().as_ref()),
        );
        if let Some(p) = passphrase {
            archive = archive.with_passphrase(p.clone());
        }
        let mut options = bloodraven_backup::pitr::PitrOptions::new(archive, target);
        if let Some(text) = &self.exclude_gtids {
            options.exclude =
                bloodraven_backup::pitr::ExcludedGtids::parse(text).context("--exclude-gtids")?;
        }
        Ok(Some(options))
    }
}

#[derive(Debug, Args)]
struct VerifyArgs {
    /// The dump: `file:///dir` or `s3://bucket/prefix`.
    #[arg(long)]
    from: String,
    /// BRV1 passphrase file of an encrypted dump.
    #[arg(long)]
    passphrase_file: Option<PathBuf>,
    /// Parallel connections for the restore.
    #[arg(long, default_value_t = 4)]
    threads: usize,
    /// A query whose first column of the first row is the result.
    #[arg(long)]
    sanity_query: Option<String>,
    /// Fail when the sanity result is below this integer.
    #[arg(long, requires = "sanity_query")]
    min_rows: Option<i64>,
    /// Time budget of the sanity query.
    #[arg(long, default_value_t = 60)]
    max_duration_seconds: u64,
    /// Remove the throwaway server's directory even when verification fails.
    #[arg(long)]
    no_keep_on_failure: bool,
    #[command(flatten)]
    pitr: PitrArgs,
    /// Extra `mariadbd` argument for the throwaway server (repeatable), e.g. `--server-arg=--innodb-buffer-pool-size=2G`.
    #[arg(long = "server-arg", allow_hyphen_values = true)]
    server_args: Vec<String>,
    /// Print the result as one JSON object on stdout.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The library's warnings (and more with `RUST_LOG`, e.g. `RUST_LOG=bloodraven_backup=debug`) on stderr.
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .try_init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("bloodraven-backup: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("bloodraven-backup: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// `Ok(false)`: the job ran and found a problem (exit 1).
async fn run(cli: Cli) -> anyhow::Result<bool> {
    match cli.command {
        Command::Dump(args) => run_dump(args).await.map(|()| true),
        Command::Restore(args) => run_restore(args).await.map(|()| true),
        Command::Verify(args) => run_verify(args).await,
        Command::List(args) => maintenance::list(args).await.map(|()| true),
        Command::Prune(args) => maintenance::prune(args).await.map(|()| true),
        Command::EncryptUpload(args) => maintenance::encrypt_upload(args).await.map(|()| true),
        Command::DecryptDownload(args) => maintenance::decrypt_download(args).await.map(|()| true),
    }
}

async fn run_verify(args: VerifyArgs) -> anyhow::Result<bool> {
    use bloodraven_backup::verify::{self, SanityCheck, VerifyOptions};
    let from = DumpLocation::parse(&args.from)?;
    let passphrase = args
        .passphrase_file
        .as_ref()
        .map(|p| {
            Passphrase::from_file(p).with_context(|| format!("--passphrase-file {}", p.display()))
        })
        .transpose()?;
    let mut options = VerifyOptions {
        restore: RestoreOptions {
            threads: args.threads,
            passphrase,
            ..RestoreOptions::default()
        },
        sanity: args.sanity_query.map(|query| SanityCheck {
            query,
            min_rows: args.min_rows,
            max_duration: Duration::from_secs(args.max_duration_seconds.max(1)),
        }),
        keep_on_failure: !args.no_keep_on_failure,
        ..VerifyOptions::default()
    };
    options.server.extra_args = args.server_args;
    options.pitr = args.pitr.options(options.restore.passphrase.as_ref())?;
    let report = verify::verify(&from, &options).await;
    if let Some(line) = report.sanity_line() {
        eprintln!("{line}");
    }
    let reason = report
        .reason
        .map(|r| format!("{r:?}"))
        .unwrap_or_else(|| "Verified".into());
    eprintln!(
        "BLOODRAVEN_VERIFY_COMPLETE succeeded={} reason={reason} gtidExecuted={} tables={} message={}",
        report.succeeded,
        report.gtid_actual,
        report.tables.len(),
        report.message.replace(' ', "_")
    );
    if let Some(dir) = &report.kept_dir {
        eprintln!(
            "bloodraven-backup: kept the verification server's directory {}",
            dir.display()
        );
    }
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    }
    Ok(report.succeeded)
}

async fn run_dump(args: DumpArgs) -> anyhow::Result<()> {
    let source = connect_options(&args.server)?;
    let to = DumpLocation::parse(&args.to)?;
    let progress = Arc::new(Progress::new());
    let options = DumpOptions {
        threads: args.server.threads,
        bytes_per_chunk: args.bytes_per_chunk,
        compression: Compression::parse(&args.compression).with_context(|| {
            format!(
                "--compression {:?}: expected zstd, gzip or none",
                args.compression
            )
        })?,
        passphrase: passphrase(&args.server)?,
        include_schemas: args.include_schemas,
        exclude_schemas: args.exclude_schemas,
        users: args.users,
        progress: Some(Arc::clone(&progress)),
    };
    let ticker = show_progress(&args.server, &progress);
    let result = dump::dump(&source, &to, &options).await;
    if let Some(t) = ticker {
        t.abort();
    }
    let report = result.context("dump failed")?;
    eprintln!("{}", report.log_line());
    if args.server.json {
        let value = serde_json::json!({
            "location": report.location,
            "files": report.files,
            "durationSeconds": report.duration.as_secs_f64(),
            "meta": report.meta,
        });
        println!("{value}");
    }
    Ok(())
}

async fn run_restore(args: RestoreArgs) -> anyhow::Result<()> {
    let target = connect_options(&args.server)?;
    if let Some(file) = &args.from_sql {
        let n = bloodraven_backup::sqlfile::load_sql_file(&target, file)
            .await
            .context("loading the SQL dump failed")?;
        eprintln!(
            "BLOODRAVEN_LOAD_COMPLETE input={} statements={n}",
            file.display()
        );
        return Ok(());
    }
    if let Some(dir) = &args.from_mydumper {
        let n = bloodraven_backup::sqlfile::load_mydumper_dir(&target, dir, args.server.threads)
            .await
            .context("loading the mydumper directory failed")?;
        eprintln!(
            "BLOODRAVEN_LOAD_COMPLETE input={} statements={n}",
            dir.display()
        );
        return Ok(());
    }
    let Some(from) = &args.from else {
        anyhow::bail!("give --from, --from-sql or --from-mydumper");
    };
    let from = DumpLocation::parse(from)?;
    let progress = Arc::new(Progress::new());
    let options = RestoreOptions {
        threads: args.server.threads,
        passphrase: passphrase(&args.server)?,
        users: !args.skip_users,
        check_rows: true,
        progress: Some(Arc::clone(&progress)),
        decrypted_copy: false,
        defer_indexes: !args.no_defer_indexes,
        include_schemas: args.include_schema.clone(),
    };
    let pitr = args.pitr.options(options.passphrase.as_ref())?;
    if pitr.is_some() && !options.include_schemas.is_empty() {
        anyhow::bail!(
            "--include-schema cannot be combined with --binlog-archive: the archived transactions already carry \
             GTIDs this server executed, so a schema-filtered replay would be skipped or refused as out of order; \
             restore the schema from a newer dump, or restore the whole instance with point-in-time replay"
        );
    }
    let dump = restore::open_dump(&from, options.passphrase.as_ref())
        .await
        .context(if args.dry_run {
            "dump check failed"
        } else {
            "restore failed"
        })?;
    if args.dry_run {
        let m = &dump.meta;
        println!(
            "dump {}: complete, {} objects checked, {} rows, gtid state {:?}, binlog {}:{}",
            from.display(),
            dump.done.files.len(),
            m.total_rows,
            m.gtid_executed,
            m.binlog_file,
            m.binlog_position
        );
        if let Some(p) = &pitr {
            let plan =
                bloodraven_backup::pitr::plan(&p.archive, &m.gtid_executed, &p.target).await?;
            print!(
                "{}",
                bloodraven_backup::pitr::report_text_excluding(
                    &plan,
                    &m.gtid_executed,
                    &p.exclude
                )?
            );
            return Ok(());
        }
        return Ok(());
    }
    // Bad replay options (an unreachable target, a mistyped --exclude-gtids) fail before the target is touched;
    // the planned binlogs download while the restore runs.
    let download = match &pitr {
        None => None,
        Some(p) => {
            let start = &dump.meta.gtid_executed;
            let refused = "point-in-time replay refused; nothing was restored";
            let plan = bloodraven_backup::pitr::preflight(start, p)
                .await
                .context(refused)?;
            Some(
                bloodraven_backup::pitr::DownloadTask::start(plan, start, p)
                    .await
                    .context(refused)?,
            )
        }
    };
    let ticker = show_progress(&args.server, &progress);
    let result = restore::restore_dump(&target, &dump, &options).await;
    if let Some(t) = ticker {
        t.abort();
    }
    let mut report = result.context("restore failed")?;
    if let (Some(p), Some(download)) = (&pitr, download) {
        let replayed = async {
            download
                .finish()
                .await?
                .apply(&target, report.source.flavor, p)
                .await
        }
        .await
        .context("point-in-time replay failed")?;
        report.gtid_executed = replayed.gtid_executed.clone();
        report.replay = Some(replayed);
    }
    eprintln!("{}", report.log_line());
    if args.server.json {
        let value = serde_json::json!({
            "location": report.location,
            "tables": report.tables,
            "rows": report.rows,
            "gtidExecuted": report.gtid_executed,
            "rowCounts": report.row_counts,
            "replay": report.replay,
            "durationSeconds": report.duration.as_secs_f64(),
            "source": report.source,
        });
        println!("{value}");
    }
    Ok(())
}

fn connect_options(args: &ServerArgs) -> anyhow::Result<ConnectOptions> {
    let password = match &args.password_file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("--password-file {}", path.display()))?;
            Some(text.trim_end_matches(['\n', '\r']).to_owned())
        }
        None => std::env::var("MYSQL_PWD").ok(),
    };
    Ok(ConnectOptions::new(args.host.clone(), args.port)
        .with_credentials(args.user.clone(), password))
}

fn passphrase(args: &ServerArgs) -> anyhow::Result<Option<Passphrase>> {
    args.passphrase_file
        .as_ref()
        .map(|p| {
            Passphrase::from_file(p).with_context(|| format!("--passphrase-file {}", p.display()))
        })
        .transpose()
}

/// Prints rows, bytes, tables done and the ETA every two seconds while the job runs.
fn show_progress(
    args: &ServerArgs,
    progress: &Arc<Progress>,
) -> Option<tokio::task::JoinHandle<()>> {
    let on = !args.no_progress && (args.progress || std::io::stderr().is_terminal());
    if !on {
        return None;
    }
    let progress = Arc::clone(progress);
    Some(tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(2)).await;
            let p = progress.snapshot();
            let eta = p
                .eta()
                .map(|d| format!("{}s", d.as_secs()))
                .unwrap_or_else(|| "-".into());
            eprintln!(
                "progress rows={} bytes={} tables={}/{} elapsed={}s eta={eta}",
                p.rows,
                p.data_bytes,
                p.tables_done,
                p.tables_total,
                p.elapsed.as_secs()
            );
        }
    }))
}
