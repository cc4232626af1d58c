//! Loading dumps written by other tools: a plain SQL file from `mariadb-dump` / `mysqldump` (optionally
//! `.gz` or `.zst`), and a mydumper directory. Statements are read as a stream of lines and sent to the
//! server one at a time, so a file of any size loads in bounded memory.
//!
//! Statement rules are the `mariadb` client's: a line `DELIMITER x` changes the delimiter and a statement
//! ends at a line ending with it; comment lines between statements are skipped. Bytes are passed through
//! unchanged (dumps may hold binary string literals).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_compression::tokio::bufread::{GzipDecoder, ZstdDecoder};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, BufReader};
use tokio::sync::Mutex;

use crate::conn::{ConnectOptions, Session};
use crate::error::Error;

/// Session settings for mydumper files (which carry none of their own): no binlog, no key checks, and
/// `NO_AUTO_VALUE_ON_ZERO` so a stored 0 in an AUTO_INCREMENT column stays 0.
const SESSION_SETUP: &str = "SET SESSION sql_log_bin = 0; SET SESSION foreign_key_checks = 0; \
     SET SESSION unique_checks = 0; SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO'";

/// Loads a plain SQL dump file into `target` (binary logging off for the session). `.gz` and `.zst`
/// files are decompressed. Returns the number of statements run.
pub async fn load_sql_file(target: &ConnectOptions, path: &Path) -> Result<u64, Error> {
    let mut session = target.connect().await?;
    session.exec("SET SESSION sql_log_bin = 0").await?;
    let n = run_file(&mut session, path).await?;
    drop(session.conn.disconnect().await);
    Ok(n)
}

/// Loads a mydumper directory into `target` with `threads` connections: schemas, then table DDL, then the
/// data files in parallel, then views, triggers and routines (`*-schema-post.sql`), and finally
/// `gtid_slave_pos` from the `metadata` file's GTID, when it names one (MariaDB). Returns the statements run.
pub async fn load_mydumper_dir(
    target: &ConnectOptions,
    dir: &Path,
    threads: usize,
) -> Result<u64, Error> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir.display().to_string(), e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let n = name(p);
            n.ends_with(".sql") || n.ends_with(".sql.gz") || n.ends_with(".sql.zst")
        })
        .collect();
    files.sort();
    let stage = |p: &PathBuf| {
        let n = name(p);
        if n.contains("-schema-create.sql") {
            0
        } else if n.contains("-schema-view.sql")
            || n.contains("-schema-triggers.sql")
            || n.contains("-schema-post.sql")
        {
            3
        } else if n.contains("-schema.sql") {
            1
        } else {
            2
        }
    };
    let mut control = target.connect().await?;
    control.exec(SESSION_SETUP).await?;
    let mut statements = 0;
    for wanted in [0, 1] {
        for f in files.iter().filter(|f| stage(f) == wanted) {
            statements += run_in_schema(&mut control, f).await?;
        }
    }
    let data: Vec<PathBuf> = files.iter().filter(|f| stage(f) == 2).cloned().collect();
    let queue = Arc::new(Mutex::new(data));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..threads.max(1) {
        let queue = Arc::clone(&queue);
        let target = target.clone();
        workers.spawn(async move {
            let mut s = target.connect().await?;
            s.exec(SESSION_SETUP).await?;
            let mut n = 0;
            loop {
                let next = queue.lock().await.pop();
                let Some(file) = next else { break };
                n += run_in_schema(&mut s, &file).await?;
            }
            drop(s.conn.disconnect().await);
            Ok::<u64, Error>(n)
        });
    }
    while let Some(joined) = workers.join_next().await {
        match joined.map_err(|e| Error::Options(format!("load worker failed: {e}")))? {
            Ok(n) => statements += n,
            Err(e) => {
                workers.abort_all();
                return Err(e);
            }
        }
    }
    for f in files.iter().filter(|f| stage(f) == 3) {
        statements += run_in_schema(&mut control, f).await?;
    }
    if let Some(gtid) = metadata_gtid(dir)
        && gtid.contains('-')
        && !gtid.contains(':')
    {
        control
            .exec(&format!(
                "SET GLOBAL gtid_slave_pos = {}",
                crate::conn::quote_str(&gtid)
            ))
            .await?;
    }
    drop(control.conn.disconnect().await);
    Ok(statements)
}

/// mydumper files are named `<db>.<table>…` or `<db>-schema-create.sql`: `USE <db>` first.
async fn run_in_schema(s: &mut Session, path: &Path) -> Result<u64, Error> {
    let n = name(path);
    let db = if n.contains("-schema-create.sql") {
        ""
    } else if let Some((db, _)) = n.split_once("-schema-post.sql") {
        db
    } else {
        n.split_once('.').map_or("", |(db, _)| db)
    };
    if !db.is_empty() {
        s.exec(&format!("USE {}", crate::conn::quote_ident(db)))
            .await?;
    }
    run_file(s, path).await
}

async fn run_file(s: &mut Session, path: &Path) -> Result<u64, Error> {
    let shown = path.display().to_string();
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|e| Error::io(&shown, e))?;
    let raw = BufReader::with_capacity(256 * 1024, file);
    let n = name(path);
    let reader: Box<dyn AsyncBufRead + Send + Unpin> = if n.ends_with(".gz") {
        let mut d = GzipDecoder::new(raw);
        d.multiple_members(true);
        Box::new(BufReader::new(d))
    } else if n.ends_with(".zst") {
        let mut d = ZstdDecoder::new(raw);
        d.multiple_members(true);
        Box::new(BufReader::new(d))
    } else {
        Box::new(raw)
    };
    run_stream(s, reader, &shown).await
}

/// Runs the statements of a stream of SQL text; returns how many ran.
pub(crate) async fn run_stream(
    s: &mut Session,
    mut reader: impl AsyncBufRead + Unpin,
    what: &str,
) -> Result<u64, Error> {
    use mysql_async::prelude::Queryable;
    let mut delimiter: Vec<u8> = b";".to_vec();
    let mut statement: Vec<u8> = Vec::new();
    let mut line: Vec<u8> = Vec::new();
    let mut count = 0u64;
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .await
            .map_err(|e| Error::io(what, e))?;
        if n == 0 {
            break;
        }
        let trimmed_end = trim_end(&line);
        if statement.is_empty() {
            let t = trim_start(trimmed_end);
            if t.is_empty() || t.starts_with(b"-- ") || t == b"--" || t.starts_with(b"#") {
                continue;
            }
            if let Some(d) = t
                .strip_prefix(b"DELIMITER ")
                .or_else(|| t.strip_prefix(b"delimiter "))
            {
                delimiter = trim_start(trim_end(d)).to_vec();
                continue;
            }
        }
        if let Some(body) = trimmed_end.strip_suffix(delimiter.as_slice()) {
            statement.extend_from_slice(body);
            if !trim_start(&statement).is_empty() {
                let sql: &[u8] = &statement;
                if let Err(e) = s.conn.query_drop(sql).await {
                    let text = String::from_utf8_lossy(&statement[..statement.len().min(160)])
                        .into_owned();
                    return Err(Error::Sql {
                        server: s.server.clone(),
                        context: format!("{what}: {text}"),
                        source: e,
                    });
                }
                count += 1;
            }
            statement.clear();
        } else {
            statement.extend_from_slice(&line);
        }
    }
    if !trim_start(&statement).is_empty() {
        let sql: &[u8] = &statement;
        s.conn.query_drop(sql).await.map_err(|e| s.err(what, e))?;
        count += 1;
    }
    Ok(count)
}

/// The GTID of mydumper's `metadata` file (`GTID:<set>` under `SHOW MASTER STATUS:`).
fn metadata_gtid(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join("metadata")).ok()?;
    let mut in_master = false;
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with("SHOW MASTER STATUS") || t.starts_with("SHOW BINARY LOG STATUS") {
            in_master = true;
        } else if t.starts_with("SHOW SLAVE STATUS") || t.starts_with("SHOW REPLICA STATUS") {
            in_master = false;
        } else if in_master && let Some(g) = t.strip_prefix("GTID:") {
            let g = g.trim();
            return (!g.is_empty()).then(|| g.to_owned());
        }
    }
    None
}

fn name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn trim_end(b: &[u8]) -> &[u8] {
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    &b[..end]
}

fn trim_start(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    &b[start..]
}
