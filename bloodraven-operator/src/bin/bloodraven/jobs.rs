//! The Job sub-commands: `dump`, `restore`, `verify`, `encrypt-upload`, `decrypt-download` (configured by the Go
//! Jobs' environment variables), and `trigger-backup` / `trigger-verification` (what the CronJobs run).

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::json;

use bloodraven_api::backup::MysqlBackup;
use bloodraven_api::names::label;
use bloodraven_api::verification::MysqlBackupVerification;
use bloodraven_operator::jobs::env::{self, ProcessEnv, Vars};
use bloodraven_operator::jobs::steps::{self, Outcome};

/// A Job step (all settings from the environment, as the Go Jobs pass them).
#[derive(Debug, Subcommand)]
pub(crate) enum JobCommand {
    /// Dump `BLOODRAVEN_MYSQL_HOST` into `BLOODRAVEN_OUTPUT_URL`; prints `BLOODRAVEN_DUMP_COMPLETE`.
    Dump,
    /// Restore `BLOODRAVEN_INPUT_URL` into `BLOODRAVEN_MYSQL_HOST` (PITR with `BLOODRAVEN_PITR_*`); prints
    /// `BLOODRAVEN_RESTORE_COMPLETE`.
    Restore,
    /// Restore `BLOODRAVEN_INPUT_URL` into a throwaway server on 127.0.0.1 and check it; prints
    /// `BLOODRAVEN_VERIFY_*` and exits 1 when a check failed.
    Verify,
    /// Encrypt `BLOODRAVEN_SOURCE_DIR` into `BLOODRAVEN_OUTPUT_URL` with the encryption marker.
    EncryptUpload,
    /// Download and decrypt `BLOODRAVEN_SOURCE_PREFIX` into `BLOODRAVEN_TARGET_DIR`.
    DecryptDownload,
    /// Download the archived binlogs up to `BLOODRAVEN_PITR_STOP_DATETIME` into `BLOODRAVEN_PITR_OUTPUT_DIR`.
    PitrDownload,
    /// Create a MysqlBackup of a group's profile (what a backup schedule's CronJob runs).
    TriggerBackup(TriggerArgs),
    /// Create a MysqlBackupVerification of a group's profile (what a verification CronJob runs).
    TriggerVerification(TriggerArgs),
}

/// Which group and profile a trigger is for.
#[derive(Debug, Args)]
pub(crate) struct TriggerArgs {
    /// The MysqlFailoverGroup.
    #[arg(long)]
    group: String,
    /// The backup profile.
    #[arg(long)]
    profile: String,
    /// Namespace (default: `POD_NAMESPACE`, else the kubeconfig's).
    #[arg(long)]
    namespace: Option<String>,
    /// The schedule that triggered it (label `shipstream.io/backup-schedule` / `verification-schedule`).
    #[arg(long)]
    schedule: Option<String>,
    /// Free-form provenance written to `spec.triggeredBy` (default: the schedule, else `cli`).
    #[arg(long)]
    triggered_by: Option<String>,
}

/// Runs `command`: 0 on success, 1 when a verification found a problem, 2 on errors.
pub(crate) fn run(command: JobCommand) -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("bloodraven: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let vars = ProcessEnv;
    let started = std::time::Instant::now();
    // A failed encrypt or decrypt stage still reports its `BLOODRAVEN_ENCRYPT_METRICS` line.
    let mut stage_lines: Vec<String> = Vec::new();
    let mut fail_stage = |stage: &str, e: anyhow::Error| {
        stage_lines.push(steps::encrypt_failure_line(stage, started));
        e
    };
    let result = runtime.block_on(async {
        match command {
            // A dump or restore with a passphrase encrypts or decrypts as it streams.
            JobCommand::Dump if vars.var(env::BACKUP_PASSPHRASE_FILE).is_some() => {
                steps::dump(&vars)
                    .await
                    .map_err(|e| fail_stage("encrypt", e.into()))
            }
            JobCommand::Dump => steps::dump(&vars).await.map_err(anyhow::Error::from),
            JobCommand::Restore if vars.var(env::BACKUP_PASSPHRASE_FILE).is_some() => {
                steps::restore(&vars)
                    .await
                    .map_err(|e| fail_stage("decrypt", e.into()))
            }
            JobCommand::Restore => steps::restore(&vars).await.map_err(anyhow::Error::from),
            JobCommand::Verify => steps::verify(&vars).await.map_err(anyhow::Error::from),
            JobCommand::EncryptUpload => steps::encrypt_upload(&vars)
                .await
                .map_err(|e| fail_stage("encrypt", e.into())),
            JobCommand::DecryptDownload => steps::decrypt_download(&vars)
                .await
                .map_err(|e| fail_stage("decrypt", e.into())),
            JobCommand::PitrDownload => steps::pitr_download(&vars)
                .await
                .map_err(anyhow::Error::from),
            JobCommand::TriggerBackup(args) => trigger(args, false).await,
            JobCommand::TriggerVerification(args) => trigger(args, true).await,
        }
    });
    match result {
        Ok(outcome) => {
            publish(&vars, &outcome.lines);
            if outcome.succeeded {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            let message = format!("bloodraven: {e:#}");
            eprintln!("{message}");
            let mut out = std::io::stdout().lock();
            for l in &stage_lines {
                let _ = writeln!(out, "{l}");
            }
            let _ = out.flush();
            // The error stays the last line: the reconcilers quote the last line as the reason.
            stage_lines.push(message);
            write_result_file(&vars, &stage_lines.join("\n"));
            ExitCode::from(2)
        }
    }
}

/// Prints the lines on stdout and writes them to the result file (the termination message).
fn publish(vars: &dyn Vars, lines: &[String]) {
    let mut out = std::io::stdout().lock();
    for l in lines {
        let _ = writeln!(out, "{l}");
    }
    let _ = out.flush();
    write_result_file(vars, &lines.join("\n"));
}

fn write_result_file(vars: &dyn Vars, text: &str) {
    let path = match vars.var(env::RESULT_FILE) {
        Some(p) => std::path::PathBuf::from(p),
        None if std::path::Path::new(env::DEFAULT_TERMINATION_LOG).exists() => {
            env::DEFAULT_TERMINATION_LOG.into()
        }
        None => return,
    };
    if let Err(e) = std::fs::write(&path, format!("{text}\n")) {
        eprintln!(
            "bloodraven: cannot write the result to {}: {e}",
            path.display()
        );
    }
}

async fn trigger(args: TriggerArgs, verification: bool) -> anyhow::Result<Outcome> {
    bloodraven_operator::controller::install_crypto_provider();
    let client = kube::Client::try_default()
        .await
        .context("cannot reach Kubernetes (KUBECONFIG or the in-cluster service account)")?;
    let namespace = args
        .namespace
        .or_else(|| ProcessEnv.var("POD_NAMESPACE"))
        .unwrap_or_else(|| client.default_namespace().to_owned());
    let triggered_by = args
        .triggered_by
        .or_else(|| args.schedule.clone())
        .unwrap_or_else(|| "cli".into());
    let schedule_label = if verification {
        label::VERIFICATION_SCHEDULE
    } else {
        label::BACKUP_SCHEDULE
    };
    let mut labels = serde_json::Map::new();
    labels.insert(label::INSTANCE.into(), json!(args.group));
    labels.insert(label::FAILOVER_GROUP.into(), json!(args.group));
    labels.insert(label::BACKUP_PROFILE.into(), json!(args.profile));
    if let Some(s) = &args.schedule {
        labels.insert(schedule_label.into(), json!(s));
    }
    let prefix = match &args.schedule {
        Some(s) => format!("{}-{s}-", args.group),
        None if verification => format!("{}-{}-verify-", args.group, args.profile),
        None => format!("{}-{}-", args.group, args.profile),
    };
    let (api_version, kind) = if verification {
        ("shipstream.io/v1alpha1", "MysqlBackupVerification")
    } else {
        ("shipstream.io/v1alpha1", "MysqlBackup")
    };
    let object = json!({
        "apiVersion": api_version,
        "kind": kind,
        "metadata": { "generateName": prefix, "labels": labels },
        "spec": {
            "failoverGroupRef": { "name": args.group },
            "profileName": args.profile,
            "triggeredBy": triggered_by,
        },
    });
    let params = kube::api::PostParams::default();
    let name = if verification {
        let mut o: MysqlBackupVerification = serde_json::from_value(object)?;
        o.metadata.namespace = Some(namespace.clone());
        let api: kube::Api<MysqlBackupVerification> = kube::Api::namespaced(client, &namespace);
        api.create(&params, &o)
            .await
            .context("cannot create the MysqlBackupVerification")?
            .metadata
            .name
    } else {
        let mut o: MysqlBackup = serde_json::from_value(object)?;
        o.metadata.namespace = Some(namespace.clone());
        let api: kube::Api<MysqlBackup> = kube::Api::namespaced(client, &namespace);
        api.create(&params, &o)
            .await
            .context("cannot create the MysqlBackup")?
            .metadata
            .name
    };
    Ok(Outcome {
        lines: vec![format!(
            "created {kind} {namespace}/{}",
            name.unwrap_or_default()
        )],
        succeeded: true,
    })
}
