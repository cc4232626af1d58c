//! Verification by restore: start a throwaway server, restore the dump into it, check the GTID state and
//! every table, run an optional sanity query under a time budget, record the result the way the
//! `MysqlBackupVerification` status wants it, then tear the server down (or keep it after a failure).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::conn::{ConnectOptions, Session, quote_ident};
use crate::error::Error;
use crate::pitr::{DownloadTask, PitrOptions};
use crate::restore::{self, OpenDump, RestoreOptions, RestoreReport};
use crate::server::{ServerOptions, ThrowawayServer};
use crate::store::DumpLocation;

/// A scalar query the restored data must satisfy.
#[derive(Clone, Debug)]
pub struct SanityCheck {
    /// The query; the first column of its first row is the result.
    pub query: String,
    /// Fail when the result, read as an integer, is below this (reason `SanityCheckFailed`).
    pub min_rows: Option<i64>,
    /// Client-side time budget (reason `SanityCheckTimeout`; default 60 s).
    pub max_duration: Duration,
}

/// How to verify.
#[derive(Clone, Debug)]
pub struct VerifyOptions {
    /// How to restore (threads, passphrase).
    pub restore: RestoreOptions,
    /// How to start the throwaway server.
    pub server: ServerOptions,
    /// The sanity query, if any.
    pub sanity: Option<SanityCheck>,
    /// Keep the server's directory when verification fails (default true).
    pub keep_on_failure: bool,
    /// Replay the binlog archive after the restore (`pointInTime.mode` latest or timestamp).
    pub pitr: Option<PitrOptions>,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            restore: RestoreOptions::default(),
            server: ServerOptions::default(),
            sanity: None,
            keep_on_failure: true,
            pitr: None,
        }
    }
}

/// Why a verification failed (the `Verified` condition's reason).
#[derive(Clone, Copy, Debug, Eq, PartialEq, Serialize)]
#[non_exhaustive]
pub enum FailureReason {
    /// The throwaway server did not start.
    ServerFailed,
    /// The restore failed or did not reach the dump's GTID state and row counts.
    RestoreFailed,
    /// The binlog replay failed or did not reach the planned GTID state.
    ReplayFailed,
    /// The sanity query failed or returned less than `min_rows`.
    SanityCheckFailed,
    /// The sanity query ran longer than its budget.
    SanityCheckTimeout,
}

/// The sanity query's outcome (`status.sanityCheck`).
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SanityStatus {
    /// Whether it ran.
    pub ran: bool,
    /// How long it took.
    pub duration_ms: u64,
    /// The first row, columns joined by tabs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_row: Option<String>,
    /// The error, if it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One table after the restore.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TableCheck {
    /// `schema.table`.
    pub table: String,
    /// Rows the dump recorded (equal to the rows counted after the restore).
    pub rows: u64,
    /// `CHECKSUM TABLE … EXTENDED` of the table as restored, before any replay.
    pub checksum: u64,
}

/// How far the binlog replay got (`status.replayedThroughBinlog`).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplayedThrough {
    /// The last replayed file.
    pub file: String,
    /// Always 0: files are replayed whole (up to the stop option).
    pub position: u64,
    /// The newest event time replayed (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// Number of files replayed.
    pub files: usize,
}

/// How long each step of a verification took, in milliseconds (0 for a step that did not run).
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PhaseTimes {
    /// Initialising and starting the throwaway server.
    pub server_ms: u64,
    /// The restore, its GTID state and row-count checks included.
    pub restore_ms: u64,
    /// Planning, downloading and replaying the binlogs.
    pub replay_ms: u64,
    /// `CHECKSUM TABLE` of every table.
    pub checksums_ms: u64,
    /// The sanity query.
    pub sanity_ms: u64,
}

/// The outcome of a verification.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VerificationReport {
    /// `true` only when every step passed.
    pub succeeded: bool,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<FailureReason>,
    /// A one-line summary or the error.
    pub message: String,
    /// The dump verified.
    pub location: String,
    /// Start and end (RFC 3339 UTC) and wall time.
    pub start_time: String,
    /// See `start_time`.
    pub completion_time: String,
    /// Whole seconds from start to completion.
    pub duration_seconds: u64,
    /// The dump's GTID state.
    pub gtid_expected: String,
    /// The restored server's GTID state (empty when the restore failed).
    pub gtid_actual: String,
    /// Per-table rows and checksums.
    pub tables: Vec<TableCheck>,
    /// The sanity query's outcome.
    pub sanity_check: SanityStatus,
    /// The binlog replay (`status.replayedThroughBinlog`), when one ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replayed_through_binlog: Option<ReplayedThrough>,
    /// The server directory kept for inspection after a failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kept_dir: Option<PathBuf>,
    /// Where the time went.
    pub phases: PhaseTimes,
}

impl VerificationReport {
    /// The `BLOODRAVEN_VERIFY_SANITY_COMPLETE` line (reference-formats §3.5), when the query ran.
    pub fn sanity_line(&self) -> Option<String> {
        let s = &self.sanity_check;
        if !s.ran {
            return None;
        }
        let tail = match (&s.result_row, &s.error) {
            (_, Some(e)) => format!("error={}", e.replace(' ', "_")),
            (Some(r), None) => format!("resultRow={}", r.replace(' ', "_")),
            (None, None) => "resultRow=".into(),
        };
        Some(format!(
            "BLOODRAVEN_VERIFY_SANITY_COMPLETE ran=1 durationMs={} {tail}",
            s.duration_ms
        ))
    }
}

/// Verifies the dump at `from` by restoring it into a throwaway server; see the module docs. Never fails:
/// every problem is a failed report with its reason.
pub async fn verify(from: &DumpLocation, options: &VerifyOptions) -> VerificationReport {
    let started = Instant::now();
    let mut report = VerificationReport {
        succeeded: false,
        reason: None,
        message: String::new(),
        location: from.display().to_owned(),
        start_time: crate::dump::now_rfc3339(),
        completion_time: String::new(),
        duration_seconds: 0,
        gtid_expected: String::new(),
        gtid_actual: String::new(),
        tables: Vec::new(),
        sanity_check: SanityStatus::default(),
        replayed_through_binlog: None,
        kept_dir: None,
        phases: PhaseTimes::default(),
    };
    // The dump is opened (a missing or incomplete one fails at once) and a replay planned before any server
    // starts; the replay's binlogs download beside the server's start and the restore.
    let prepared = match prepare(from, options).await {
        Ok(prepared) => prepared,
        Err((reason, message)) => {
            report.reason = Some(reason);
            report.message = message;
            return finish(report, started);
        }
    };
    let phase = Instant::now();
    let server = ThrowawayServer::start(&options.server).await;
    report.phases.server_ms = millis(phase);
    let server = match server {
        Ok(s) => s,
        Err(e) => {
            report.reason = Some(FailureReason::ServerFailed);
            report.message = error_chain(&e);
            return finish(report, started);
        }
    };
    let outcome = run(&server, prepared, options, &mut report).await;
    match outcome {
        Ok(()) => {
            report.succeeded = true;
            report.message = format!(
                "restored {} tables{} at gtid {:?}{}",
                report.tables.len(),
                report
                    .replayed_through_binlog
                    .as_ref()
                    .map(|r| format!(" and replayed {} binlogs through {}", r.files, r.file))
                    .unwrap_or_default(),
                report.gtid_actual,
                report
                    .sanity_check
                    .result_row
                    .as_ref()
                    .map(|r| format!(", sanity query returned {r}"))
                    .unwrap_or_default()
            );
            server.remove().await;
        }
        Err((reason, message)) => {
            report.reason = Some(reason);
            report.message = message;
            if options.keep_on_failure {
                report.kept_dir = Some(server.stop_and_keep().await);
            } else {
                server.remove().await;
            }
        }
    }
    finish(report, started)
}

/// Opens the dump and, with a replay, plans it from the dump's GTID state and starts downloading its binlogs.
async fn prepare(
    from: &DumpLocation,
    options: &VerifyOptions,
) -> Result<(OpenDump, Option<DownloadTask>), (FailureReason, String)> {
    let dump = restore::open_dump_with(
        from,
        options.restore.passphrase.as_ref(),
        options.restore.decrypted_copy,
    )
    .await
    .map_err(|e| (FailureReason::RestoreFailed, error_chain(&e)))?;
    let Some(pitr) = &options.pitr else {
        return Ok((dump, None));
    };
    let start = &dump.meta.gtid_executed;
    let refused = |e: Error| (FailureReason::ReplayFailed, error_chain(&e));
    let plan = crate::pitr::preflight(start, pitr).await.map_err(refused)?;
    let download = DownloadTask::start(plan, start, pitr)
        .await
        .map_err(refused)?;
    Ok((dump, Some(download)))
}

async fn run(
    server: &ThrowawayServer,
    (dump, download): (OpenDump, Option<DownloadTask>),
    options: &VerifyOptions,
    report: &mut VerificationReport,
) -> Result<(), (FailureReason, String)> {
    let target = server.connect_options();
    let restore_failed = |e: Error| (FailureReason::RestoreFailed, error_chain(&e));
    let phase = Instant::now();
    let restored: RestoreReport = restore::restore_dump(&target, &dump, &options.restore)
        .await
        .map_err(restore_failed)?;
    report.gtid_expected = restored.source.gtid_executed.clone();
    report.gtid_actual = restored.gtid_executed.clone();
    report.phases.restore_ms = millis(phase);

    // The checksums are of the tables as restored: each connection opens a snapshot before the replay starts
    // and checksums its tables in it while the replay runs.
    let snapshots = snapshots(&target, &restored, options.restore.threads)
        .await
        .map_err(restore_failed)?;
    let checksums = async {
        let phase = Instant::now();
        let checks = futures::future::try_join_all(snapshots.into_iter().map(Snapshot::checksums))
            .await
            .map_err(restore_failed);
        (checks, millis(phase))
    };
    let replay = async {
        let (Some(pitr), Some(download)) = (&options.pitr, download) else {
            return Ok(None);
        };
        let phase = Instant::now();
        let replayed = async {
            download
                .finish()
                .await?
                .apply(&target, restored.source.flavor, pitr)
                .await
        }
        .await
        .map_err(|e| (FailureReason::ReplayFailed, error_chain(&e)))?;
        Ok(Some((replayed, millis(phase))))
    };
    let (replayed, (checks, checksums_ms)) = tokio::join!(replay, checksums);
    if let Some((replayed, replay_ms)) = replayed? {
        report.gtid_actual = replayed.gtid_executed.clone();
        report.replayed_through_binlog = Some(ReplayedThrough {
            file: replayed.last_file.clone().unwrap_or_default(),
            position: 0,
            timestamp: replayed.last_event_time.map(|t| t.to_rfc3339()),
            files: replayed.files.len(),
        });
        report.phases.replay_ms = replay_ms;
    }
    let mut checks: Vec<TableCheck> = checks?.into_iter().flatten().collect();
    checks.sort_by(|a, b| a.table.cmp(&b.table));
    report.tables = checks;
    report.phases.checksums_ms = checksums_ms;

    let mut session = target.connect().await.map_err(restore_failed)?;
    if let Some(check) = &options.sanity {
        let begin = Instant::now();
        report.sanity_check.ran = true;
        let result =
            tokio::time::timeout(check.max_duration, session.text_rows(&check.query)).await;
        report.sanity_check.duration_ms = millis(begin);
        report.phases.sanity_ms = report.sanity_check.duration_ms;
        match result {
            Err(_) => {
                let message = format!(
                    "sanity query ran longer than {}s",
                    check.max_duration.as_secs_f64()
                );
                report.sanity_check.error = Some(message.clone());
                // The connection is mid-query: drop it, the server goes away with the verification.
                return Err((FailureReason::SanityCheckTimeout, message));
            }
            Ok(Err(e)) => {
                let message = error_chain(&e);
                report.sanity_check.error = Some(message.clone());
                return Err((FailureReason::SanityCheckFailed, message));
            }
            Ok(Ok(rows)) => {
                let first = rows.into_iter().next();
                report.sanity_check.result_row = first.as_ref().map(|r| r.join("\t"));
                if let Some(min) = check.min_rows {
                    let value = first
                        .as_ref()
                        .and_then(|r| r.first())
                        .and_then(|v| v.trim().parse::<i64>().ok());
                    if value.is_none_or(|v| v < min) {
                        let message = format!(
                            "sanity query returned {:?}, expected an integer of at least {min}",
                            report
                                .sanity_check
                                .result_row
                                .as_deref()
                                .unwrap_or("no row")
                        );
                        report.sanity_check.error = Some(message.clone());
                        return Err((FailureReason::SanityCheckFailed, message));
                    }
                }
            }
        }
    }
    drop(session.conn.disconnect().await);
    Ok(())
}

/// A connection with a consistent snapshot of the restored tables and the share of them it checksums.
struct Snapshot {
    session: Session,
    tables: Vec<(String, u64)>,
}

/// As many snapshots as the restore had connections, each with every `threads`-th table (a checksum reads a
/// whole table). Each snapshot also takes its tables' metadata locks (a read of no rows), so that a table
/// the replay alters or drops waits for its checksum instead of changing under it.
async fn snapshots(
    target: &ConnectOptions,
    restored: &RestoreReport,
    threads: usize,
) -> Result<Vec<Snapshot>, Error> {
    let tables: Vec<(String, u64)> = restored
        .row_counts
        .iter()
        .map(|(table, rows)| (table.clone(), *rows))
        .collect();
    let threads = threads.max(1).min(tables.len());
    let mut snapshots = Vec::with_capacity(threads);
    for first in 0..threads {
        let tables: Vec<(String, u64)> = tables
            .iter()
            .skip(first)
            .step_by(threads)
            .cloned()
            .collect();
        let mut session = target.connect().await?;
        session
            .exec("START TRANSACTION WITH CONSISTENT SNAPSHOT")
            .await?;
        for (table, _) in &tables {
            session
                .exec(&format!("SELECT 1 FROM {} LIMIT 0", qualified(table)))
                .await?;
        }
        snapshots.push(Snapshot { session, tables });
    }
    Ok(snapshots)
}

impl Snapshot {
    async fn checksums(mut self) -> Result<Vec<TableCheck>, Error> {
        let mut checks = Vec::with_capacity(self.tables.len());
        for (table, rows) in self.tables {
            let sql = format!("CHECKSUM TABLE {} EXTENDED", qualified(&table));
            let row = self.session.text_rows(&sql).await?;
            let checksum = row
                .first()
                .and_then(|r| r.get(1))
                .and_then(|c| c.parse().ok())
                .unwrap_or(0);
            checks.push(TableCheck {
                table,
                rows,
                checksum,
            });
        }
        self.session.exec("COMMIT").await?;
        drop(self.session.conn.disconnect().await);
        Ok(checks)
    }
}

/// `schema.table` (as the restore report names it) quoted for SQL.
fn qualified(table: &str) -> String {
    let (schema, name) = table.split_once('.').unwrap_or((table, ""));
    format!("{}.{}", quote_ident(schema), quote_ident(name))
}

fn finish(mut report: VerificationReport, started: Instant) -> VerificationReport {
    report.completion_time = crate::dump::now_rfc3339();
    report.duration_seconds = started.elapsed().as_secs();
    report
}

fn millis(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// The error and its sources on one line.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
