//! Point-in-time recovery on top of a restore: plan with the binlog crate from the dump's GTID state to a
//! target, download and verify the archived files, replay them with `mariadb-binlog | mariadb` (or
//! `mysqlbinlog | mysql`), then prove the server reached the plan's GTID state. [`ExcludedGtids`] skips
//! chosen transactions (see the `exclude` module for how each flavour does it).

mod exclude;

use std::path::PathBuf;
use std::process::Stdio;

use bloodraven_binlog::archive::ArchiveStore;
use bloodraven_binlog::continuity::History;
use bloodraven_binlog::pitr::{self, Plan, Target};
use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::process::Command;

use crate::conn::ConnectOptions;
use crate::error::Error;
use crate::format::Flavor;
use crate::gtid;

pub use exclude::ExcludedGtids;

/// The largest packet the server and the client accept during a replay (the maximum, 1 GiB).
pub(crate) const MAX_PACKET: u64 = 1 << 30;

/// Where the archive is, where to stop, and which tools replay.
#[derive(Clone, Debug)]
pub struct PitrOptions {
    /// The binlog archive (store, layout, passphrase).
    pub archive: ArchiveStore,
    /// Latest, a time (exclusive) or a GTID set (inclusive or exclusive).
    pub target: Target,
    /// Where the planned files are downloaded (created; removed after the replay).
    pub work_dir: PathBuf,
    /// `mariadb-binlog` or `mysqlbinlog` (default: `mariadb-binlog`, `$MARIADB_BINLOG` overrides).
    pub binlog_tool: PathBuf,
    /// `mariadb` or `mysql` (default: `mariadb`, `$MARIADB_CLIENT` overrides).
    pub client: PathBuf,
    /// Transactions not to replay (default: none); each must be one the replay would otherwise apply.
    pub exclude: ExcludedGtids,
}

impl PitrOptions {
    /// Options with the default tools and a work directory under the system temp folder.
    pub fn new(archive: ArchiveStore, target: Target) -> PitrOptions {
        let tool = |var: &str, name: &str| {
            std::env::var_os(var).map_or_else(|| PathBuf::from(name), PathBuf::from)
        };
        PitrOptions {
            archive,
            target,
            work_dir: std::env::temp_dir().join(format!(
                "bloodraven-pitr-{}-{}",
                std::process::id(),
                Utc::now().timestamp_nanos_opt().unwrap_or(0)
            )),
            binlog_tool: tool("MARIADB_BINLOG", "mariadb-binlog"),
            client: tool("MARIADB_CLIENT", "mariadb"),
            exclude: ExcludedGtids::default(),
        }
    }
}

/// What a replay did.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplayReport {
    /// `site/name` of each replayed file, in order.
    pub files: Vec<String>,
    /// The last replayed file (`status.replayedThroughBinlog.file`).
    pub last_file: Option<String>,
    /// The newest event time replayed (capped at a time target).
    pub last_event_time: Option<DateTime<Utc>>,
    /// The stop time of a time target.
    pub stop_datetime: Option<DateTime<Utc>>,
    /// The GTID state the plan promised (for a time target: an upper bound).
    pub planned: String,
    /// The server's GTID state after the replay.
    pub gtid_executed: String,
    /// The transactions skipped (empty when none); MySQL: committed empty so that they count as executed.
    pub skipped: String,
}

/// Plans recovery from `start` (a dump's GTID state) over every site's manifest in the archive.
pub async fn plan(archive: &ArchiveStore, start: &str, target: &Target) -> Result<Plan, Error> {
    let mut manifests = Vec::new();
    for site in archive.sites().await? {
        manifests.push(archive.load_manifest(&site).await?);
    }
    let start = History::parse(start, "the dump's gtid state")?;
    Ok(pitr::plan(&manifests, &start, target)?)
}

/// The recoverability report of a plan, one fact per line (what a dry run prints).
pub fn report_text(plan: &Plan) -> String {
    report(plan, "")
}

/// [`report_text`] for a replay that skips `excluded`: names them, and any that the plan does not replay
/// (in the dump's state `start`, beyond the target or not archived), which makes it not recoverable.
pub fn report_text_excluding(
    plan: &Plan,
    start: &str,
    excluded: &ExcludedGtids,
) -> Result<String, Error> {
    let start = History::parse(start, "the dump's gtid state")?;
    Ok(report(plan, &exclude::report_lines(plan, &start, excluded)))
}

fn report(plan: &Plan, skipped: &str) -> String {
    let mut out = String::new();
    out.push_str(&format!("files to replay: {}\n", plan.files.len()));
    for f in &plan.files {
        out.push_str(&format!("  {} {}\n", f.file, f.binlog_args().join(" ")));
    }
    out.push_str(&format!("recovered gtid state: {}\n", plan.recovered));
    if let Some(t) = plan.last_recoverable_time {
        out.push_str(&format!("last recoverable time: {}\n", t.to_rfc3339()));
    }
    for g in &plan.gaps {
        out.push_str(&format!("gap: {g}\n"));
    }
    for u in &plan.unverifiable {
        out.push_str(&format!(
            "unverifiable (no gtid information, left out): {u}\n"
        ));
    }
    if let Some(why) = &plan.unreachable {
        out.push_str(&format!("target unreachable: {why}\n"));
    }
    out.push_str(skipped);
    out.push_str(
        if plan.is_complete() && !skipped.contains("outside the replay window") {
            "recoverable: yes\n"
        } else {
            "recoverable: no\n"
        },
    );
    out
}

/// Plans the replay from `start` (a dump's GTID state) and fails, as [`replay`] would before replaying anything,
/// when the archive cannot reach the target or an excluded GTID is not one the replay would apply. Run it before
/// a restore to refuse bad options while the target is still untouched.
pub async fn preflight(start: &str, options: &PitrOptions) -> Result<Plan, Error> {
    let plan = plan(&options.archive, start, &options.target).await?;
    if !plan.is_complete() {
        return Err(Error::Pitr(format!(
            "the archive cannot reach the target: {}",
            report_text(&plan).replace('\n', "; ")
        )));
    }
    exclude::check_window(
        &plan,
        &History::parse(start, "the dump's gtid state")?,
        &options.exclude,
    )?;
    Ok(plan)
}

/// Replays the archive into `server`, which holds a restore of a dump with GTID state `start`; fails unless
/// the server ends exactly at the plan's GTID state (for a time target: within it). [`preflight`], then
/// [`download`], then [`Downloaded::apply`]; call those to download while the restore runs.
pub async fn replay(
    server: &ConnectOptions,
    flavor: Flavor,
    start: &str,
    options: &PitrOptions,
) -> Result<ReplayReport, Error> {
    let plan = preflight(start, options).await?;
    download(plan, start, options)
        .await?
        .apply(server, flavor, options)
        .await
}

/// The planned binlogs of a replay, downloaded, verified and located in `PitrOptions::work_dir`, which is
/// removed when this is dropped.
#[derive(Debug)]
pub struct Downloaded {
    plan: Plan,
    start: String,
    paths: Vec<PathBuf>,
    cuts: Vec<Vec<exclude::Cut>>,
    _work_dir: WorkDir,
}

/// Downloads and verifies the files of `plan` (from [`preflight`] with the same `start` and `options`) into
/// `options.work_dir`. Needs no server: it can run beside the restore the replay goes on top of.
pub async fn download(plan: Plan, start: &str, options: &PitrOptions) -> Result<Downloaded, Error> {
    let work_dir = WorkDir::create(options.work_dir.clone()).await?;
    let paths = pitr::download(&options.archive, &plan, &work_dir.0).await?;
    let cuts = {
        let (plan, paths, target, excluded) = (
            plan.clone(),
            paths.clone(),
            options.target.clone(),
            options.exclude.clone(),
        );
        tokio::task::spawn_blocking(move || exclude::locate(&plan, &paths, &target, &excluded))
            .await
            .map_err(|e| Error::Pitr(format!("locating the excluded gtids: {e}")))??
    };
    Ok(Downloaded {
        plan,
        start: start.to_owned(),
        paths,
        cuts,
        _work_dir: work_dir,
    })
}

impl Downloaded {
    /// The plan the files were downloaded for.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// Replays the files into `server`, which holds a restore of the dump the plan starts from, then checks
    /// the server's GTID state: exactly the plan's (for a time target: between the dump's and the plan's).
    /// `options` are the ones the files were downloaded with.
    pub async fn apply(
        self,
        server: &ConnectOptions,
        flavor: Flavor,
        options: &PitrOptions,
    ) -> Result<ReplayReport, Error> {
        let (plan, start) = (&self.plan, self.start.as_str());
        let planned = match flavor {
            // A position is a high-water mark: skipping the newest transactions of a domain lowers it.
            Flavor::Mariadb => plan
                .recovered
                .difference(&options.exclude.history())
                .mariadb_position(&[])
                .to_string(),
            Flavor::Mysql => plan.recovered.mysql().to_string(),
        };
        let mut report = ReplayReport {
            planned,
            last_event_time: plan.last_recoverable_time,
            stop_datetime: match options.target {
                Target::Time(t) => Some(t),
                _ => None,
            },
            skipped: options.exclude.to_string(),
            ..ReplayReport::default()
        };
        // A big transaction replays as `BINLOG '…'` statements larger than the default 16 MiB packet limit
        // ("server has gone away"): the limit is raised for the replay and put back after it.
        let mut session = server.connect().await?;
        let old_packet: u64 = session
            .scalar("SELECT @@GLOBAL.max_allowed_packet")
            .await?
            .parse()
            .unwrap_or(0);
        if old_packet < MAX_PACKET {
            session
                .exec(&format!("SET GLOBAL max_allowed_packet = {MAX_PACKET}"))
                .await?;
        }
        let mut result = self.apply_files(server, options, &mut report).await;
        if result.is_ok() && !options.exclude.mysql().is_empty() {
            result = commit_empty(&mut session, options.exclude.mysql()).await;
        }
        if old_packet < MAX_PACKET {
            let _ = session
                .exec(&format!("SET GLOBAL max_allowed_packet = {old_packet}"))
                .await;
        }
        result?;
        report.gtid_executed = gtid::read_state(&mut session, flavor).await?;
        drop(session.conn.disconnect().await);
        match options.target {
            Target::Time(_) => {
                // The stop time cuts the last file: the plan is an upper bound, the dump a lower one.
                let within = gtid::contains(flavor, &report.planned, &report.gtid_executed)?
                    && gtid::contains(flavor, &report.gtid_executed, start)?;
                if !within {
                    return Err(Error::GtidMismatch {
                        expected: format!("between {start:?} and {:?}", report.planned),
                        actual: report.gtid_executed.clone(),
                        missing: String::new(),
                    });
                }
            }
            Target::Gtids { ref set, inclusive } => {
                gtid::compare(flavor, &report.planned, &report.gtid_executed)?;
                if flavor == Flavor::Mariadb {
                    reached_target(set, inclusive, &report.gtid_executed, &options.exclude)?;
                }
            }
            Target::Latest => gtid::compare(flavor, &report.planned, &report.gtid_executed)?,
        }
        Ok(report)
    }

    async fn apply_files(
        &self,
        server: &ConnectOptions,
        options: &PitrOptions,
        report: &mut ReplayReport,
    ) -> Result<(), Error> {
        for ((f, path), cuts) in self.plan.files.iter().zip(&self.paths).zip(&self.cuts) {
            for args in exclude::segments(f, cuts, &options.exclude) {
                apply(server, &args, path, options).await?;
            }
            report.files.push(f.file.to_string());
            report.last_file = Some(f.file.name.clone());
        }
        Ok(())
    }
}

/// A [`download`] that goes on beside the restore the replay is for. Dropping it stops the download and
/// removes what it wrote.
#[derive(Debug)]
pub struct DownloadTask(DownloadState);

#[derive(Debug)]
enum DownloadState {
    Running(AbortOnDrop),
    Done(Box<Downloaded>),
}

/// The download's task, stopped when dropped before it ended.
#[derive(Debug)]
struct AbortOnDrop(tokio::task::JoinHandle<Result<Downloaded, Error>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl DownloadTask {
    /// Starts downloading the files of `plan` (see [`download`]) on a task of its own. With excluded GTIDs it
    /// returns only once the download is done: locating them in the files refuses one with the wrong server
    /// id or after the stop time, and that refusal must come before the restore touches the target.
    pub async fn start(
        plan: Plan,
        start: &str,
        options: &PitrOptions,
    ) -> Result<DownloadTask, Error> {
        let state = if options.exclude.is_empty() {
            let (start, options) = (start.to_owned(), options.clone());
            DownloadState::Running(AbortOnDrop(tokio::spawn(async move {
                download(plan, &start, &options).await
            })))
        } else {
            DownloadState::Done(Box::new(download(plan, start, options).await?))
        };
        Ok(DownloadTask(state))
    }

    /// Waits for the download.
    pub async fn finish(self) -> Result<Downloaded, Error> {
        match self.0 {
            DownloadState::Running(mut task) => (&mut task.0)
                .await
                .map_err(|e| Error::Pitr(format!("downloading the binlogs: {e}")))?,
            DownloadState::Done(done) => Ok(*done),
        }
    }
}

/// The download directory, removed with everything in it when dropped (after the replay, or when the
/// restore it was downloaded for failed).
#[derive(Debug)]
struct WorkDir(PathBuf);

impl WorkDir {
    async fn create(path: PathBuf) -> Result<WorkDir, Error> {
        tokio::fs::create_dir_all(&path)
            .await
            .map_err(|e| Error::io(path.display().to_string(), e))?;
        Ok(WorkDir(path))
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// MariaDB, a GTID target: checks the server's position against the target itself rather than the plan, so
/// a plan that promised too little cannot pass. Each named domain must end at the target transaction (or the
/// one before it, exclusive), or below it only by transactions the replay skipped.
fn reached_target(
    set: &History,
    inclusive: bool,
    executed: &str,
    excluded: &ExcludedGtids,
) -> Result<(), Error> {
    let target = Target::Gtids {
        set: set.clone(),
        inclusive,
    };
    // The planner's own reading of the target (a MariaDB goal does not depend on the start).
    let want = pitr::goal(&target, &History::new()).unwrap_or_default();
    let got = History::parse(executed, "the server's gtid state after the replay")?
        .restricted_to_sources_of(set);
    let beyond = got.difference(&want);
    let short = want.difference(&got).difference(&excluded.history());
    if beyond.is_empty() && short.is_empty() {
        return Ok(());
    }
    Err(Error::GtidMismatch {
        expected: format!("{want} ({target})"),
        actual: executed.to_owned(),
        missing: if short.is_empty() {
            format!("replayed past the target: {beyond}")
        } else {
            short.to_string()
        },
    })
}

/// MySQL: commits each skipped GTID as an empty transaction, so that `gtid_executed` holds them as if
/// replayed (and a replica of this server never asks for them).
async fn commit_empty(
    session: &mut crate::conn::Session,
    skipped: &bloodraven_gtid::GtidSet,
) -> Result<(), Error> {
    for gtid in skipped.iter() {
        session.exec(&format!("SET GTID_NEXT = '{gtid}'")).await?;
        session.exec("BEGIN").await?;
        session.exec("COMMIT").await?;
    }
    session.exec("SET GTID_NEXT = 'AUTOMATIC'").await
}

/// `binlog_tool ARGS FILE | client`, in UTC, the password through `MYSQL_PWD`.
async fn apply(
    server: &ConnectOptions,
    args: &[String],
    path: &std::path::Path,
    options: &PitrOptions,
) -> Result<(), Error> {
    let failed = |what: &str, detail: String| {
        Error::Pitr(format!(
            "replay of {} failed: {what}: {detail}",
            path.display()
        ))
    };
    let mut tool = Command::new(&options.binlog_tool)
        .args(args)
        .arg(path)
        .env("TZ", "UTC")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| failed(&options.binlog_tool.display().to_string(), e.to_string()))?;
    let stdout: Stdio = tool
        .stdout
        .take()
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| failed("pipe", "no stdout".into()))?;
    let mut client = Command::new(&options.client);
    client
        .args(["--no-defaults", "--binary-mode", "--protocol=tcp"])
        .arg(format!("--max-allowed-packet={MAX_PACKET}"))
        .arg(format!("--host={}", server.host))
        .arg(format!("--port={}", server.port))
        .arg(format!("--user={}", server.user))
        .env("TZ", "UTC")
        .stdin(stdout)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(p) = &server.password {
        client.env("MYSQL_PWD", p);
    } else {
        client.env_remove("MYSQL_PWD");
    }
    let client = client
        .spawn()
        .map_err(|e| failed(&options.client.display().to_string(), e.to_string()))?;
    let (tool_out, client_out) = tokio::join!(tool.wait_with_output(), client.wait_with_output());
    let tool_out = tool_out.map_err(|e| failed("binlog tool", e.to_string()))?;
    let client_out = client_out.map_err(|e| failed("client", e.to_string()))?;
    if !client_out.status.success() {
        return Err(failed(
            &format!("{} ({})", options.client.display(), client_out.status),
            String::from_utf8_lossy(&client_out.stderr)
                .trim()
                .to_owned(),
        ));
    }
    if !tool_out.status.success() {
        return Err(failed(
            &format!(
                "{} {args:?} ({})",
                options.binlog_tool.display(),
                tool_out.status
            ),
            String::from_utf8_lossy(&tool_out.stderr).trim().to_owned(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mariadb_gtid_target_is_checked_against_the_target_not_the_plan() {
        let set = History::parse("0-1-15", "t").unwrap();
        let none = ExcludedGtids::default();
        assert!(reached_target(&set, false, "0-1-14", &none).is_ok());
        assert!(reached_target(&set, true, "0-1-15", &none).is_ok());
        // Stopped at the dump (what an empty plan did), or one transaction past the stop: both fail.
        let err = reached_target(&set, false, "0-1-7", &none).unwrap_err();
        assert!(err.to_string().contains("domain 0 seq 8-14"), "{err}");
        let err = reached_target(&set, false, "0-1-15", &none).unwrap_err();
        assert!(
            err.to_string().contains("replayed past the target"),
            "{err}"
        );
        // Below the target only by skipped transactions; other domains do not matter.
        let skipped = ExcludedGtids::parse("0-1-14").unwrap();
        assert!(reached_target(&set, false, "0-1-13,1-1-5", &skipped).is_ok());
        assert!(reached_target(&set, false, "0-1-12", &skipped).is_err());
    }
}
