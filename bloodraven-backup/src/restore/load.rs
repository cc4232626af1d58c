//! Loading data chunks in parallel: each chunk is streamed from the store (decrypted, checked, decompressed)
//! into `LOAD DATA LOCAL INFILE` through mysql_async's per-connection infile handler, one transaction per
//! chunk, so a chunk that fails its check is rolled back whole, and one that InnoDB rolls back for a deadlock
//! or a lock wait timeout is loaded again.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mysql_async::prelude::Queryable;
use tokio::task::JoinSet;

use crate::conn::{Session, quote_ident};
use crate::error::Error;
use crate::format::{ChunkMeta, TableMeta};
use crate::progress::Progress;
use crate::restore::open::OpenDump;
use crate::store;

/// Attempts at a chunk whose transaction the server rolled back for a deadlock or a lock wait timeout.
/// Concurrent loads into one table can deadlock: MariaDB's bulk insert into an empty table takes a table
/// lock, which two chunks starting together both ask for.
const LOAD_ATTEMPTS: u32 = 5;

/// Whether the server rolled the chunk's transaction back for a reason that goes away on its own
/// (`ER_LOCK_DEADLOCK`, `ER_LOCK_WAIT_TIMEOUT`), so loading it again is right.
fn rolled_back_for_a_lock(e: &Error) -> bool {
    matches!(e, Error::Sql { source: mysql_async::Error::Server(s), .. } if s.code == 1213 || s.code == 1205)
}

/// Runs `load` on `state` and again (after 100, 200, 400… ms) while the server rolls it back for a lock, up to
/// [`LOAD_ATTEMPTS`] times in all.
async fn again_after_lock_rollbacks<S, T>(
    file: &str,
    state: &mut S,
    mut load: impl for<'a> FnMut(&'a mut S) -> futures::future::BoxFuture<'a, Result<T, Error>>,
) -> Result<T, Error> {
    let mut attempt = 1;
    loop {
        match load(state).await {
            Err(e) if attempt < LOAD_ATTEMPTS && rolled_back_for_a_lock(&e) => {
                tracing::warn!(file, attempt, error = %e, "the server rolled the chunk back; loading it again");
                tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// One chunk to load.
#[derive(Clone, Debug)]
pub(crate) struct LoadJob {
    pub(crate) table: Arc<TableMeta>,
    pub(crate) chunk: ChunkMeta,
    pub(crate) finish: Arc<TableFinish>,
}

/// What happens when the last chunk of a table is in.
#[derive(Debug)]
pub(crate) struct TableFinish {
    /// Chunks of the table not loaded yet.
    pub(crate) left: Mutex<usize>,
    /// `ALTER TABLE … ADD KEY …` of the secondary indexes deferred until after the data.
    pub(crate) add_indexes: Option<String>,
    /// Count the table's rows once it is complete (on the connection that loaded its last chunk, while the
    /// others go on loading).
    pub(crate) count_rows: bool,
    /// That count.
    pub(crate) counted: Mutex<Option<u64>>,
}

impl TableFinish {
    /// Runs what follows the last chunk of `table` on `session`.
    async fn run(&self, session: &mut Session, table: &TableMeta) -> Result<(), Error> {
        if let Some(alter) = &self.add_indexes {
            tracing::debug!(table = %table.table, "adding the deferred indexes");
            session.exec(alter).await?;
        }
        if self.count_rows {
            let n = count_rows(session, table).await?;
            if let Ok(mut counted) = self.counted.lock() {
                *counted = Some(n);
            }
        }
        Ok(())
    }
}

/// `SELECT COUNT(*)` of `table`.
pub(crate) async fn count_rows(session: &mut Session, table: &TableMeta) -> Result<u64, Error> {
    let sql = format!(
        "SELECT COUNT(*) FROM {}.{}",
        quote_ident(&table.schema),
        quote_ident(&table.table)
    );
    let text = session.scalar(&sql).await?;
    text.parse().map_err(|_| Error::Mismatch {
        table: format!("{}.{}", table.schema, table.table),
        what: "row count",
        expected: "a number".into(),
        actual: text,
    })
}

/// Loads every job on the given sessions; returns the rows loaded.
pub(crate) async fn load_all(
    dump: &OpenDump,
    sessions: Vec<Session>,
    jobs: Vec<LoadJob>,
    progress: Arc<Progress>,
) -> Result<(Vec<Session>, u64), Error> {
    let queue = Arc::new(Mutex::new(VecDeque::from(jobs)));
    let dump = Arc::new(dump.clone());
    let mut set = JoinSet::new();
    for session in sessions {
        let queue = Arc::clone(&queue);
        let dump = Arc::clone(&dump);
        let progress = Arc::clone(&progress);
        set.spawn(async move {
            let mut session = session;
            let mut rows = 0;
            loop {
                let job = queue.lock().ok().and_then(|mut q| q.pop_front());
                let Some(job) = job else { break };
                let loaded = again_after_lock_rollbacks(&job.chunk.file, &mut session, |s| {
                    // Each attempt owns what it reads (two `Arc`s), so it borrows only the session.
                    let (dump, job) = (Arc::clone(&dump), job.clone());
                    Box::pin(async move { load_chunk(s, &dump, &job).await })
                })
                .await;
                let loaded = match loaded {
                    Ok(n) => n,
                    Err(e) => {
                        // Stop the others after their current chunk: a task dropped in the middle of
                        // `LOAD DATA LOCAL INFILE` would leave the server waiting for the file forever.
                        if let Ok(mut q) = queue.lock() {
                            q.clear();
                        }
                        return Err(e);
                    }
                };
                rows += loaded;
                progress.add(job.chunk.rows, job.chunk.data_bytes);
                let table_done = job
                    .finish
                    .left
                    .lock()
                    .map(|mut left| {
                        *left -= 1;
                        *left == 0
                    })
                    .unwrap_or(false);
                if table_done {
                    if let Err(e) = job.finish.run(&mut session, &job.table).await {
                        if let Ok(mut q) = queue.lock() {
                            q.clear();
                        }
                        return Err(e);
                    }
                    progress.table_done();
                }
            }
            Ok::<_, Error>((session, rows))
        });
    }
    let mut sessions = Vec::new();
    let mut rows = 0;
    let mut first_error = None;
    // Every worker ends after at most its current chunk once the queue is cleared: wait for all of them.
    while let Some(joined) = set.join_next().await {
        let result = joined.map_err(|e| Error::Options(format!("load worker failed: {e}")));
        match result.and_then(|r| r) {
            Ok((s, n)) => {
                sessions.push(s);
                rows += n;
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok((sessions, rows)),
    }
}

async fn load_chunk(session: &mut Session, dump: &OpenDump, job: &LoadJob) -> Result<u64, Error> {
    let entry = dump.entry(&job.chunk.file)?.clone();
    let (reader, integrity) = dump
        .location
        .reader(
            &job.chunk.file,
            dump.meta.compression,
            dump.passphrase.as_ref(),
            &entry,
        )
        .await?;
    // The handler future must be `Sync`; the stream is only `Send`, so it travels in a mutex.
    let slot = Mutex::new(store::into_stream(reader));
    session.conn.set_infile_handler(async move {
        Ok(slot
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner))
    });
    let t = &job.table;
    let columns: Vec<String> = t.columns.iter().map(|c| quote_ident(c)).collect();
    let sql = format!(
        "LOAD DATA LOCAL INFILE {} INTO TABLE {}.{} CHARACTER SET binary \
         FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' ({})",
        crate::conn::quote_str(&job.chunk.file),
        quote_ident(&t.schema),
        quote_ident(&t.table),
        columns.join(", ")
    );
    session.exec("START TRANSACTION").await?;
    let outcome = match session.conn.query_drop(sql.as_str()).await {
        Ok(()) => Ok((session.conn.affected_rows(), session.conn.get_warnings())),
        Err(e) => Err(e),
    };
    if let Some(e) = integrity.take() {
        let _ = session.exec("ROLLBACK").await;
        return Err(e);
    }
    let (affected, warnings) = match outcome {
        Ok(v) => v,
        Err(e) => {
            let err = session.err(&sql, e);
            let _ = session.exec("ROLLBACK").await;
            // A corrupt object can fail decompression before its digest is known: check it whole.
            dump.location
                .verify_object(&job.chunk.file, dump.passphrase.as_ref(), &entry)
                .await?;
            return Err(err);
        }
    };
    if !integrity.verified() {
        // The load ended before the end of the object was read: check the object whole.
        if let Err(e) = dump
            .location
            .verify_object(&job.chunk.file, dump.passphrase.as_ref(), &entry)
            .await
        {
            let _ = session.exec("ROLLBACK").await;
            return Err(e);
        }
    }
    if warnings > 0 {
        let shown = session.text_rows("SHOW WARNINGS LIMIT 3").await?;
        let _ = session.exec("ROLLBACK").await;
        let text: Vec<String> = shown.into_iter().map(|r| r.join(" ")).collect();
        return Err(Error::Mismatch {
            table: format!("{}.{}", t.schema, t.table),
            what: "load warnings",
            expected: "none".into(),
            actual: format!("{warnings} in {} ({})", job.chunk.file, text.join("; ")),
        });
    }
    if affected != job.chunk.rows {
        let _ = session.exec("ROLLBACK").await;
        return Err(Error::Mismatch {
            table: format!("{}.{}", t.schema, t.table),
            what: "rows loaded from a chunk",
            expected: format!("{} ({})", job.chunk.rows, job.chunk.file),
            actual: affected.to_string(),
        });
    }
    session.exec("COMMIT").await?;
    Ok(affected)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server_error(code: u16) -> Error {
        Error::Sql {
            server: "127.0.0.1:3306".into(),
            context: "LOAD DATA LOCAL INFILE …".into(),
            source: mysql_async::Error::Server(mysql_async::ServerError {
                code,
                message: "m".into(),
                state: "40001".into(),
            }),
        }
    }

    /// Attempts made until `outcome(attempt)` (from 1) is `Ok`, through [`again_after_lock_rollbacks`].
    async fn attempts(outcome: fn(u32) -> Result<u64, Error>) -> (u32, Result<u64, Error>) {
        let mut made = 0u32;
        let result = again_after_lock_rollbacks("t@@0.tsv.zst", &mut made, |made| {
            *made += 1;
            let r = outcome(*made);
            Box::pin(async move { r })
        })
        .await;
        (made, result)
    }

    #[tokio::test]
    async fn a_chunk_rolled_back_for_a_lock_is_loaded_again_a_few_times() {
        // Two deadlocks, then the load goes through.
        let (made, result) = attempts(|n| {
            if n < 3 {
                Err(server_error(1213))
            } else {
                Ok(7)
            }
        })
        .await;
        assert_eq!((made, result.unwrap()), (3, 7));
        // Always rolled back: given up after LOAD_ATTEMPTS, with the server's error.
        let (made, result) = attempts(|_| Err(server_error(1205))).await;
        assert_eq!(made, LOAD_ATTEMPTS);
        assert!(rolled_back_for_a_lock(&result.unwrap_err()));
        // Any other failure is not loaded again.
        let (made, result) = attempts(|_| Err(server_error(1062))).await;
        assert_eq!(made, 1);
        assert!(result.is_err());
    }

    #[test]
    fn only_lock_rollbacks_are_loaded_again() {
        assert!(rolled_back_for_a_lock(&server_error(1213)));
        assert!(rolled_back_for_a_lock(&server_error(1205)));
        // A bad row, a full disk, a dropped connection: not retried.
        assert!(!rolled_back_for_a_lock(&server_error(1062)));
        assert!(!rolled_back_for_a_lock(&server_error(1114)));
        assert!(!rolled_back_for_a_lock(&Error::Options("x".into())));
    }
}
