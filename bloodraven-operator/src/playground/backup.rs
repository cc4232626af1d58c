//! Dumps, verification restores and point-in-time restores through the `bloodraven-backup` tool (spawned: the
//! playground needs its command line only, and keeps the operator's dependencies lean). Dumps go to
//! `backups/` in the work directory as a local directory store.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::playground::dashboard::find_tool;
use crate::playground::platform::now;
use crate::record::format_rfc3339;

/// The last dump and verification, for the dashboard.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub(crate) struct BackupView {
    pub(crate) last_dump: Option<String>,
    pub(crate) last_verification: Option<String>,
}

/// Runs `bloodraven-backup ARGS --json`; returns the JSON it printed, or why it failed.
pub(crate) async fn tool(args: &[String]) -> Result<Value, String> {
    tool_with_env(args, &[]).await
}

/// [`tool`] with `env` added to its environment (an S3 archive's `AWS_*` settings).
pub(crate) async fn tool_with_env(
    args: &[String],
    env: &[(&'static str, String)],
) -> Result<Value, String> {
    let Some(bin) = find_tool("bloodraven-backup") else {
        return Err("bloodraven-backup not built (cargo build -p bloodraven-backup)".into());
    };
    let out = tokio::process::Command::new(&bin)
        .args(args)
        .arg("--json")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| format!("{}: {e}", bin.display()))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "{} {} failed ({}): {}",
            bin.display(),
            args.first().map(String::as_str).unwrap_or_default(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    serde_json::from_str(stdout.trim()).map_err(|e| format!("unreadable output {stdout:?}: {e}"))
}

/// A new dump location under `dir/backups`.
pub(crate) fn location(dir: &Path) -> (PathBuf, String) {
    let path = dir
        .join("backups")
        .join(format!("dump-{}", now().as_millis()));
    let url = format!("file://{}", path.display());
    (path, url)
}

/// Dumps the `playground` schema of the server on `port`, then verifies the dump in a throwaway server with a
/// row count; updates `view`. Returns the dump's URL.
pub(crate) async fn dump_and_verify(
    dir: &Path,
    port: u16,
    view: &std::sync::Mutex<BackupView>,
) -> Result<String, String> {
    let (path, url) = location(dir);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    }
    let dumped = tool(&[
        "dump".into(),
        "--port".into(),
        port.to_string(),
        "--to".into(),
        url.clone(),
        "--include-schemas".into(),
        "playground".into(),
        "--threads".into(),
        "2".into(),
        "--no-progress".into(),
    ])
    .await;
    let set = |f: &dyn Fn(&mut BackupView)| {
        f(&mut view
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner))
    };
    let dumped = match dumped {
        Ok(v) => v,
        Err(e) => {
            set(&|v| v.last_dump = Some(format!("{}: failed: {e}", format_rfc3339(now()))));
            return Err(e);
        }
    };
    let seconds = dumped["durationSeconds"].as_f64().unwrap_or_default();
    set(&|v| v.last_dump = Some(format!("{}: {url} ({seconds:.1} s)", format_rfc3339(now()))));
    let verified = tool(&[
        "verify".into(),
        "--from".into(),
        url.clone(),
        "--sanity-query".into(),
        "SELECT COUNT(*) FROM playground.writes".into(),
        "--threads".into(),
        "2".into(),
        "--no-keep-on-failure".into(),
    ])
    .await;
    let text = match &verified {
        Ok(v) => format!("{}: {}", format_rfc3339(now()), summary(v)),
        Err(e) => format!("{}: failed: {e}", format_rfc3339(now())),
    };
    set(&|v| v.last_verification = Some(text.clone()));
    verified.map(|_| url)
}

fn summary(v: &Value) -> String {
    if v["succeeded"].as_bool() == Some(true) {
        format!(
            "verified ({} tables, GTID {}, rows {})",
            v["tables"].as_array().map_or(0, Vec::len),
            v["gtidActual"].as_str().unwrap_or_default(),
            v["sanityCheck"]["resultRow"].as_str().unwrap_or("n/a"),
        )
    } else {
        format!("FAILED: {v}")
    }
}
