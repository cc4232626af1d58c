//! `kubectl-bloodraven`: the kubectl plugin for day-2 work on Bloodraven failover groups (`kubectl bloodraven …`
//! once the binary is on the PATH).
//!
//! ```text
//! kubectl bloodraven status [GROUP]
//! kubectl bloodraven promote GROUP SITE [--max-lag-wait D] [--wait]
//! kubectl bloodraven reclone GROUP SITE [--yes] [--cold]
//! kubectl bloodraven backup GROUP PROFILE [--wait]
//! kubectl bloodraven verify-backup GROUP PROFILE [--backup NAME] [--pitr latest|TIME] [--wait]
//! kubectl bloodraven pitr-plan GROUP|--bucket URL [--to TIME | --to-gtid SET [--exclusive]] [--from-backup NAME]
//! kubectl bloodraven dr-status [STANDBY]
//! kubectl bloodraven version
//! ```
//!
//! Every command checks its arguments with `bloodraven-api`'s grammars before it connects, and checks them against
//! the group before it writes; a refusal says what is wrong, where and how to fix it, and exits 2. A failed
//! operation (a planned failover that ends `Failed`, a backup that fails) exits 1.

mod cluster;
mod commands;
mod pitr;
mod request;
mod standby;
mod view;

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use bloodraven_api::annotations::PlannedFailoverRequest;
use clap::{Parser, Subcommand, ValueEnum};
use serde::Serialize;

use cluster::Cluster;
use request::Refusal;

/// Day-2 operations on Bloodraven MySQL failover groups.
#[derive(Debug, Parser)]
#[command(
    name = "kubectl-bloodraven",
    bin_name = "kubectl bloodraven",
    version,
    about
)]
struct Cli {
    /// Path to the kubeconfig file (default: KUBECONFIG, then ~/.kube/config, then in-cluster).
    #[arg(long, global = true, value_name = "FILE")]
    kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use.
    #[arg(long, global = true, value_name = "NAME")]
    context: Option<String>,
    /// The namespace (default: the context's).
    #[arg(short = 'n', long, global = true, value_name = "NAMESPACE")]
    namespace: Option<String>,
    /// Output format.
    #[arg(short = 'o', long, global = true, value_enum, default_value_t = Output::Table)]
    output: Output,
    #[command(subcommand)]
    command: Command,
}

/// How results are printed.
#[derive(Clone, Copy, Debug, Eq, PartialEq, ValueEnum)]
pub(crate) enum Output {
    Table,
    Json,
    Yaml,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show a group's sites, active site, planned failover and last failover (all groups without GROUP).
    Status {
        /// The MysqlFailoverGroup.
        group: Option<String>,
    },
    /// Switch the primary over to SITE (the planned-failover annotation).
    Promote {
        /// The MysqlFailoverGroup.
        group: String,
        /// The site to promote.
        site: String,
        /// How long to wait for the target to catch up (Go duration such as 90s; default spec.plannedFailover).
        #[arg(long, value_name = "DURATION")]
        max_lag_wait: Option<String>,
        /// Follow status.plannedFailover until it ends; exit 1 when it fails.
        #[arg(long)]
        wait: bool,
        /// How long --wait waits (Go duration).
        #[arg(long, value_name = "DURATION", default_value = "10m")]
        timeout: String,
    },
    /// Wipe SITE and clone it again from the active site (the reclone-site annotation).
    Reclone {
        /// The MysqlFailoverGroup.
        group: String,
        /// The site to reclone.
        site: String,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
        /// Cold reclone of a site without divergent transactions (a lost or corrupt data volume).
        #[arg(long)]
        cold: bool,
    },
    /// Take a backup now through one of the group's backup profiles (a MysqlBackup).
    Backup {
        /// The MysqlFailoverGroup.
        group: String,
        /// A name in spec.backup.profiles.
        profile: String,
        /// Follow the MysqlBackup's phase until it ends; exit 1 when it fails.
        #[arg(long)]
        wait: bool,
        /// How long --wait waits (Go duration).
        #[arg(long, value_name = "DURATION", default_value = "2h")]
        timeout: String,
    },
    /// Restore a backup into a throw-away server to prove it loads (a MysqlBackupVerification).
    VerifyBackup {
        /// The MysqlFailoverGroup.
        group: String,
        /// A name in spec.backup.profiles.
        profile: String,
        /// The MysqlBackup to verify (default: the newest that succeeded).
        #[arg(long, value_name = "NAME")]
        backup: Option<String>,
        /// Replay archived binlogs: `latest`, or an RFC 3339 time to stop at.
        #[arg(long, value_name = "latest|TIME")]
        pitr: Option<String>,
        /// Follow the verification's phase until it ends; exit 1 when it fails.
        #[arg(long)]
        wait: bool,
        /// How long --wait waits (Go duration).
        #[arg(long, value_name = "DURATION", default_value = "2h")]
        timeout: String,
    },
    /// Report whether a point-in-time recovery can reach a target: the base backup, the archived binlogs to
    /// replay, what they recover and what stands in the way. Exit 1 when the target cannot be fully recovered.
    PitrPlan {
        /// The MysqlFailoverGroup whose PITR profile holds the archive (its credentials and passphrase Secrets
        /// are read from the cluster).
        #[arg(required_unless_present = "bucket", conflicts_with = "bucket")]
        group: Option<String>,
        /// Read this archive instead: s3://BUCKET[/PREFIX] (AWS_* variables for credentials and endpoint) or
        /// file:///DIR.
        #[arg(long, value_name = "URL")]
        bucket: Option<String>,
        /// With --bucket: the archive prefix below the URL.
        #[arg(long, default_value = "binlogs", requires = "bucket")]
        prefix: String,
        /// With --bucket: the BRV1 passphrase file of an encrypted archive.
        #[arg(long, value_name = "FILE", requires = "bucket")]
        passphrase_file: Option<PathBuf>,
        /// Recover up to (not including) this time: RFC 3339, or YYYY-MM-DD HH:MM:SS in UTC (default: latest).
        #[arg(long, value_name = "TIME", conflicts_with = "to_gtid")]
        to: Option<String>,
        /// Recover through these transactions: MariaDB GTIDs, one per domain (`0-1-42`: domain 0 through seq
        /// 42), or a MySQL GTID set (each UUID through its highest GNO).
        #[arg(long, value_name = "SET")]
        to_gtid: Option<String>,
        /// With --to-gtid: stop just before the transactions (a bad DROP) instead of through them (`0-1-42`:
        /// domain 0 through seq 41; a MySQL set: before its first transaction the base backup does not hold).
        #[arg(long, requires = "to_gtid")]
        exclusive: bool,
        /// Start from this MysqlBackup (default: the newest Succeeded one of the profile before the target).
        #[arg(long, value_name = "NAME", conflicts_with = "bucket")]
        from_backup: Option<String>,
    },
    /// Show standby clusters: what the bucket scan found and whether they are restorable.
    DrStatus {
        /// The MysqlStandbyCluster (all in the namespace without it).
        standby: Option<String>,
    },
    /// Show the plugin's, the operator's and the API server's versions and which CRDs are installed.
    Version,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let _ = tracing_subscriber::fmt()
        .with_writer(io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .try_init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("kubectl-bloodraven: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => match e.downcast_ref::<Refusal>() {
            Some(refusal) => {
                eprintln!("kubectl-bloodraven: {refusal}");
                ExitCode::from(2)
            }
            None => {
                eprintln!("kubectl-bloodraven: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    // Arguments are checked before any connection is made.
    preflight(&cli.command)?;
    // A bucket named directly needs no cluster.
    if let Command::PitrPlan {
        bucket: Some(url),
        prefix,
        passphrase_file,
        to,
        to_gtid,
        exclusive,
        ..
    } = &cli.command
    {
        let target = pitr::target(to.as_deref(), to_gtid.as_deref(), *exclusive)?;
        let archive = pitr::bucket(url, prefix, passphrase_file.as_deref())?;
        return pitr::run(archive, target, cli.output).await;
    }
    let cluster = Cluster::connect(
        cli.kubeconfig.as_deref(),
        cli.context.as_deref(),
        cli.namespace.as_deref(),
    )
    .await?;
    let out = cli.output;
    match cli.command {
        Command::Status { group } => commands::status(&cluster, group.as_deref(), out).await,
        Command::Promote {
            group,
            site,
            max_lag_wait,
            wait,
            timeout,
        } => {
            let timeout = wait.then(|| duration("--timeout", &timeout)).transpose()?;
            commands::promote(
                &cluster,
                &group,
                &site,
                max_lag_wait.as_deref(),
                timeout,
                out,
            )
            .await
        }
        Command::Reclone {
            group,
            site,
            yes,
            cold,
        } => commands::reclone(&cluster, &group, &site, yes, cold, out).await,
        Command::Backup {
            group,
            profile,
            wait,
            timeout,
        } => {
            let timeout = wait.then(|| duration("--timeout", &timeout)).transpose()?;
            commands::backup(&cluster, &group, &profile, timeout, out).await
        }
        Command::VerifyBackup {
            group,
            profile,
            backup,
            pitr,
            wait,
            timeout,
        } => {
            let timeout = wait.then(|| duration("--timeout", &timeout)).transpose()?;
            commands::verify_backup(
                &cluster,
                &group,
                &profile,
                backup.as_deref(),
                pitr.as_deref(),
                timeout,
                out,
            )
            .await
        }
        Command::PitrPlan {
            group,
            to,
            to_gtid,
            exclusive,
            from_backup,
            ..
        } => {
            let target = pitr::target(to.as_deref(), to_gtid.as_deref(), exclusive)?;
            let group = cluster.group(group.as_deref().unwrap_or_default()).await?;
            let archive = pitr::of_group(&cluster, &group, &target, from_backup.as_deref()).await?;
            pitr::run(archive, target, out).await
        }
        Command::DrStatus { standby } => {
            commands::dr_status(&cluster, standby.as_deref(), out).await
        }
        Command::Version => commands::version(&cluster, out).await,
    }
}

/// The checks that need no cluster: names, durations, the annotation grammars, the objects' schemas.
fn preflight(command: &Command) -> anyhow::Result<()> {
    match command {
        Command::Status { group } => {
            if let Some(g) = group {
                request::check_name("group", g)?;
            }
        }
        Command::DrStatus { standby } => {
            if let Some(s) = standby {
                request::check_name("standby", s)?;
            }
        }
        Command::Promote {
            group,
            site,
            max_lag_wait,
            timeout,
            ..
        } => {
            request::check_name("group", group)?;
            request::check_name("site", site)?;
            duration("--timeout", timeout)?;
            if let Some(d) = max_lag_wait {
                PlannedFailoverRequest::parse(&format!("{site}:maxLagWait={d}")).map_err(|e| {
                    Refusal::new(
                        e.to_string(),
                        "--max-lag-wait",
                        "give a Go duration greater than zero, such as 90s or 2m",
                    )
                })?;
            }
        }
        Command::Reclone { group, site, .. } => {
            request::check_name("group", group)?;
            request::check_name("site", site)?;
        }
        Command::Backup {
            group,
            profile,
            timeout,
            ..
        } => {
            request::backup(group, "default", profile)?;
            duration("--timeout", timeout)?;
        }
        Command::VerifyBackup {
            group,
            profile,
            backup,
            pitr,
            timeout,
            ..
        } => {
            request::verification(
                group,
                "default",
                profile,
                backup.as_deref(),
                pitr.as_deref(),
            )?;
            duration("--timeout", timeout)?;
        }
        Command::PitrPlan {
            group,
            to,
            to_gtid,
            exclusive,
            from_backup,
            ..
        } => {
            if let Some(g) = group {
                request::check_name("group", g)?;
            }
            if let Some(b) = from_backup {
                request::check_name("backup", b)?;
            }
            pitr::target(to.as_deref(), to_gtid.as_deref(), *exclusive)?;
        }
        Command::Version => {}
    }
    Ok(())
}

pub(crate) fn emit<T: Serialize>(out: Output, value: &T) -> anyhow::Result<()> {
    let text = match out {
        Output::Json | Output::Table => serde_json::to_string_pretty(value)? + "\n",
        Output::Yaml => serde_saphyr::to_string(value).context("cannot write YAML")?,
    };
    let mut stdout = io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    Ok(())
}

pub(crate) fn phase_text<T: Serialize>(phase: &T) -> String {
    match serde_json::to_value(phase) {
        Ok(serde_json::Value::String(s)) => s,
        _ => "?".into(),
    }
}

fn duration(flag: &str, text: &str) -> anyhow::Result<Duration> {
    let parsed = bloodraven_api::duration::Duration::parse(text)
        .ok()
        .and_then(|d| d.to_std())
        .filter(|d| !d.is_zero());
    parsed.ok_or_else(|| {
        Refusal::new(
            format!("{text:?} is not a positive duration"),
            flag,
            "give a Go duration such as 90s, 10m or 1h30m",
        )
        .into()
    })
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain()
        .filter_map(|c| c.downcast_ref::<io::Error>())
        .any(|e| e.kind() == io::ErrorKind::BrokenPipe)
}
