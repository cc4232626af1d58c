//! The dump: N connections in one consistent snapshot, each table cut into key ranges, every chunk streamed
//! as compressed (optionally encrypted) TSV into the store; metadata and the completion marker last.

mod catalog;
mod snapshot;

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bloodraven_brv1::Passphrase;
use mysql_async::prelude::Queryable;
use tokio::task::JoinSet;

use crate::conn::{ConnectOptions, Session, quote_ident};
use crate::error::Error;
use crate::format::{
    self, ChunkMeta, Compression, DONE_MARKER, DUMP_META, DoneMeta, DumpMeta, ENCRYPTION_MARKER,
    EncryptionMarker, FileEntry, SchemaMeta, TableMeta,
};
use crate::progress::Progress;
use crate::store::DumpLocation;
use crate::tsv;

pub use catalog::SYSTEM_SCHEMAS;

/// Bytes of TSV buffered before they go to the compressor.
const WRITE_BUFFER: usize = 128 * 1024;

/// How to take a dump.
#[derive(Clone, Debug)]
pub struct DumpOptions {
    /// Connections reading tables in parallel (at least 1; default 4).
    pub threads: usize,
    /// Target uncompressed size of a chunk of a table with an integer key (default 64 MiB; 0: one chunk).
    pub bytes_per_chunk: u64,
    /// Compression of the data files (default zstd).
    pub compression: Compression,
    /// BRV1-encrypt every object with this passphrase and write the encryption marker.
    pub passphrase: Option<Passphrase>,
    /// Dump only these schemas (empty: all but the system schemas).
    pub include_schemas: Vec<String>,
    /// Leave these schemas out.
    pub exclude_schemas: Vec<String>,
    /// Also dump accounts and grants to `@.users.sql`.
    pub users: bool,
    /// Counters to update while dumping.
    pub progress: Option<Arc<Progress>>,
}

impl Default for DumpOptions {
    fn default() -> Self {
        DumpOptions {
            threads: 4,
            bytes_per_chunk: 64 * 1024 * 1024,
            compression: Compression::Zstd,
            passphrase: None,
            include_schemas: Vec::new(),
            exclude_schemas: Vec::new(),
            users: false,
            progress: None,
        }
    }
}

/// The result of a complete dump.
#[derive(Clone, Debug)]
pub struct DumpReport {
    /// Where the dump is.
    pub location: String,
    /// What `@.json` says.
    pub meta: DumpMeta,
    /// Number of objects, markers included.
    pub files: usize,
    /// Wall time.
    pub duration: Duration,
}

impl DumpReport {
    /// The `BLOODRAVEN_DUMP_COMPLETE` line Jobs print for the operator (reference-formats §3.5): `key=value`
    /// pairs, spaces in values replaced by `_`.
    pub fn log_line(&self) -> String {
        let m = &self.meta;
        let mut line = format!(
            "BLOODRAVEN_DUMP_COMPLETE location={} sizeBytes={} size={} gtidExecuted={} binlogFile={} binlogPos={} rows={}",
            sentinel_value(&self.location),
            m.total_bytes,
            sentinel_value(&human_size(m.total_bytes)),
            sentinel_value(&m.gtid_executed),
            sentinel_value(&m.binlog_file),
            m.binlog_position,
            m.total_rows,
        );
        if m.encrypted {
            line.push_str(&format!(
                " files={} encrypted=true algorithm=AES-256-GCM",
                self.files
            ));
        }
        line
    }
}

/// Dumps the server `source` into the empty directory `to`.
///
/// On success the directory holds the complete dump, `@.done.json` last. On any error nothing more is
/// written and the directory, lacking the marker, stays an incomplete dump that restores refuse.
pub async fn dump(
    source: &ConnectOptions,
    to: &DumpLocation,
    options: &DumpOptions,
) -> Result<DumpReport, Error> {
    let started = Instant::now();
    if options.threads == 0 {
        return Err(Error::Options("threads must be at least 1".into()));
    }
    let existing = to.list().await?;
    if let Some((name, _)) = existing.first() {
        return Err(Error::Options(format!(
            "dump directory {} is not empty (it holds {name}); dump into a new directory",
            to.display()
        )));
    }
    let begin = now_rfc3339();
    // `threads >= 1` was checked above, so `sessions[0]` exists.
    let (mut sessions, point) = snapshot::open(source, options.threads).await?;
    let progress = options.progress.clone().unwrap_or_default();
    let pass = options.passphrase.as_ref();
    let mut schemas = catalog::read(
        &mut sessions[0],
        &options.include_schemas,
        &options.exclude_schemas,
        options.bytes_per_chunk,
        options.compression,
    )
    .await?;
    let users = if options.users {
        Some(catalog::users(&mut sessions[0]).await?)
    } else {
        None
    };
    tracing::info!(
        gtid = %point.gtid, binlog_file = %point.binlog_file, binlog_position = point.binlog_position,
        schemas = schemas.len(), "snapshot open"
    );

    // DDL first: small objects.
    let mut files: BTreeMap<String, FileEntry> = BTreeMap::new();
    let mut tables = Vec::new();
    for schema in &mut schemas {
        let sb = format::basename(&schema.name);
        put_sql(
            to,
            &mut files,
            &format!("{sb}.sql"),
            &[&schema.create],
            pass,
        )
        .await?;
        for t in &schema.tables {
            put_sql(
                to,
                &mut files,
                &format!("{}.sql", t.base),
                &[&t.create],
                pass,
            )
            .await?;
            if !t.triggers.is_empty() {
                let name = format!("{}.triggers.sql", t.base);
                put_sql(to, &mut files, &name, &t.triggers, pass).await?;
            }
        }
        for (view, ddl) in &schema.views {
            let name = format!("{}.sql", format::table_basename(&schema.name, view));
            put_sql(to, &mut files, &name, &[ddl], pass).await?;
        }
        if !schema.post.is_empty() {
            put_sql(
                to,
                &mut files,
                &format!("{sb}.post.sql"),
                &schema.post,
                pass,
            )
            .await?;
        }
        tables.extend(std::mem::take(&mut schema.tables));
    }
    if let Some(users) = &users {
        put_sql(to, &mut files, format::USERS_SQL, users, pass).await?;
    }

    // Data: every chunk of every table, largest tables first, on all connections.
    let mut order: Vec<usize> = (0..tables.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(tables[i].estimated_bytes));
    let mut queue = VecDeque::new();
    for &i in &order {
        for c in &tables[i].chunks {
            let mut c = c.clone();
            c.table = i;
            queue.push_back(c);
        }
    }
    progress.set_totals(
        tables.len() as u64,
        tables.iter().map(|t| t.estimated_bytes).sum(),
    );
    let remaining: Vec<usize> = tables.iter().map(|t| t.chunks.len()).collect();
    let shared = Arc::new(Shared {
        queue: Mutex::new(queue),
        remaining: Mutex::new(remaining),
        selects: tables
            .iter()
            .map(|t| {
                let cols: Vec<String> = t.columns.iter().map(|c| quote_ident(c)).collect();
                let order = t
                    .chunk_column
                    .as_deref()
                    .map(|c| format!(" ORDER BY {}", quote_ident(c)))
                    .unwrap_or_default();
                (
                    format!(
                        "SELECT {} FROM {}.{}",
                        cols.join(", "),
                        quote_ident(&t.schema),
                        quote_ident(&t.name)
                    ),
                    order,
                )
            })
            .collect(),
        location: to.clone(),
        compression: options.compression,
        passphrase: options.passphrase.clone(),
        progress: Arc::clone(&progress),
    });
    let mut workers = JoinSet::new();
    for session in sessions {
        let shared = Arc::clone(&shared);
        workers.spawn(worker(session, shared));
    }
    let mut done = Vec::new();
    let mut first_error = None;
    // A failing worker clears the queue; the others end after their current chunk (a task dropped in the
    // middle of a result set would leave its connection to drain it).
    while let Some(joined) = workers.join_next().await {
        let result = joined.map_err(|e| Error::Options(format!("dump worker failed: {e}")));
        match result.and_then(|r| r) {
            Ok(chunks) => done.extend(chunks),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }

    // Metadata, then the markers.
    let mut table_meta: Vec<TableMeta> = tables
        .iter()
        .map(|t| TableMeta {
            schema: t.schema.clone(),
            table: t.name.clone(),
            columns: t.columns.clone(),
            chunk_column: t.chunk_column.clone(),
            triggers: !t.triggers.is_empty(),
            chunks: vec![ChunkMeta::default(); t.chunks.len()],
            rows: 0,
            data_bytes: 0,
        })
        .collect();
    let mut table_data_bytes: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for (table, index, chunk, entry) in done {
        files.insert(chunk.file.clone(), entry);
        let meta = &mut table_meta[table];
        meta.rows += chunk.rows;
        meta.data_bytes += chunk.data_bytes;
        meta.chunks[index] = chunk;
    }
    for (t, meta) in tables.iter().zip(&table_meta) {
        let body = json(meta)?;
        files.insert(
            format!("{}.json", t.base),
            to.put_small(&format!("{}.json", t.base), body, pass)
                .await?,
        );
        table_data_bytes
            .entry(meta.schema.clone())
            .or_default()
            .insert(meta.table.clone(), meta.data_bytes);
    }
    let mut basenames = BTreeMap::new();
    for schema in &schemas {
        let sb = format::basename(&schema.name);
        let mut meta = SchemaMeta {
            schema: schema.name.clone(),
            post_sql: !schema.post.is_empty(),
            skipped: schema.skipped.clone(),
            ..SchemaMeta::default()
        };
        for t in tables.iter().filter(|t| t.schema == schema.name) {
            meta.tables.push(t.name.clone());
            meta.basenames.insert(t.name.clone(), t.base.clone());
        }
        for (view, _) in &schema.views {
            meta.views.push(view.clone());
            meta.basenames
                .insert(view.clone(), format::table_basename(&schema.name, view));
        }
        let name = format!("{sb}.json");
        files.insert(name.clone(), to.put_small(&name, json(&meta)?, pass).await?);
        basenames.insert(schema.name.clone(), sb);
    }
    let total_data_bytes = table_meta.iter().map(|t| t.data_bytes).sum();
    let end = now_rfc3339();
    let meta = DumpMeta {
        dumper: format!("bloodraven-backup {}", env!("CARGO_PKG_VERSION")),
        version: format::FORMAT_VERSION.into(),
        origin: "dumpInstance".into(),
        flavor: point.flavor,
        server_version: point.version,
        server: point.hostname,
        begin,
        end: end.clone(),
        gtid_executed: point.gtid,
        binlog_file: point.binlog_file,
        binlog_position: point.binlog_position,
        consistent: true,
        compression: options.compression,
        encrypted: pass.is_some(),
        default_character_set: "binary".into(),
        bytes_per_chunk: options.bytes_per_chunk,
        total_data_bytes,
        total_bytes: files.values().map(|f| f.size).sum(),
        total_rows: table_meta.iter().map(|t| t.rows).sum(),
        schemas: schemas.iter().map(|s| s.name.clone()).collect(),
        basenames,
        users: users.is_some(),
        tz_utc: true,
    };
    files.insert(
        DUMP_META.into(),
        to.put_small(DUMP_META, json(&meta)?, pass).await?,
    );
    // Every object is where it should be, at its size, before the marker says so.
    crate::restore::open::check_stored(to, &files, pass.is_some()).await?;
    let done_meta = DoneMeta {
        end: end.clone(),
        data_bytes: total_data_bytes,
        table_data_bytes,
        files,
    };
    let done_body = json(&done_meta)?;
    let mut count = done_meta.files.len() + 1;
    if pass.is_some() {
        let mut digests: BTreeMap<String, String> = done_meta
            .files
            .iter()
            .map(|(k, v)| (k.clone(), v.sha256.clone()))
            .collect();
        digests.insert(
            DONE_MARKER.into(),
            format::hex(&<sha2::Sha256 as sha2::Digest>::digest(&done_body)),
        );
        let marker = EncryptionMarker {
            version: 1,
            algorithm: "AES-256-GCM".into(),
            created_at: end.clone(),
            file_count: digests.len() as u64,
            files: digests,
        };
        to.put_small(ENCRYPTION_MARKER, marker.to_go_json().into_bytes(), None)
            .await?;
        count += 1;
    }
    to.put_small(DONE_MARKER, done_body, pass).await?;
    tracing::info!(
        location = to.display(),
        rows = meta.total_rows,
        bytes = meta.total_bytes,
        "dump complete"
    );
    Ok(DumpReport {
        location: to.display().to_owned(),
        meta,
        files: count,
        duration: started.elapsed(),
    })
}

/// State shared by the dump workers.
struct Shared {
    queue: Mutex<VecDeque<catalog::ChunkPlan>>,
    remaining: Mutex<Vec<usize>>,
    /// Per table: `SELECT cols FROM t` and its ` ORDER BY` suffix.
    selects: Vec<(String, String)>,
    location: DumpLocation,
    compression: Compression,
    passphrase: Option<Passphrase>,
    progress: Arc<Progress>,
}

impl Shared {
    fn next(&self) -> Option<catalog::ChunkPlan> {
        self.queue.lock().ok()?.pop_front()
    }
}

/// One connection's loop: take the next chunk, write it, repeat; returns (table, chunk index, meta, entry).
async fn worker(
    mut session: Session,
    shared: Arc<Shared>,
) -> Result<Vec<(usize, usize, ChunkMeta, FileEntry)>, Error> {
    let mut out = Vec::new();
    while let Some(chunk) = shared.next() {
        let (meta, entry) = match dump_chunk(&mut session, &shared, &chunk).await {
            Ok(done) => done,
            Err(e) => {
                if let Ok(mut q) = shared.queue.lock() {
                    q.clear();
                }
                return Err(e);
            }
        };
        let table_done = shared
            .remaining
            .lock()
            .map(|mut r| {
                r[chunk.table] -= 1;
                r[chunk.table] == 0
            })
            .unwrap_or(false);
        if table_done {
            shared.progress.table_done();
        }
        out.push((chunk.table, chunk.index, meta, entry));
    }
    let _ = session.exec("COMMIT").await;
    drop(session.conn.disconnect().await);
    Ok(out)
}

async fn dump_chunk(
    session: &mut Session,
    shared: &Shared,
    chunk: &catalog::ChunkPlan,
) -> Result<(ChunkMeta, FileEntry), Error> {
    let (select, order) = &shared.selects[chunk.table];
    let sql = if chunk.range.is_empty() {
        select.clone()
    } else {
        format!("{select} WHERE {}{order}", chunk.range)
    };
    let mut writer =
        shared
            .location
            .writer(&chunk.file, shared.compression, shared.passphrase.as_ref())?;
    let mut rows = 0u64;
    let mut data_bytes = 0u64;
    let mut buf = Vec::with_capacity(WRITE_BUFFER + 64 * 1024);
    let mut pending_rows = 0u64;
    {
        let mut result = match session.conn.query_iter(sql.as_str()).await {
            Ok(r) => r,
            Err(e) => return Err(session.err(&sql, e)),
        };
        loop {
            let row = match result.next().await {
                Ok(Some(row)) => row,
                Ok(None) => break,
                Err(e) => {
                    drop(result);
                    return Err(session.err(&sql, e));
                }
            };
            tsv::push_row(
                &mut buf,
                (0..row.len()).map(|i| match row.as_ref(i) {
                    Some(mysql_async::Value::Bytes(b)) => Some(&b[..]),
                    _ => None,
                }),
            );
            rows += 1;
            pending_rows += 1;
            if buf.len() >= WRITE_BUFFER {
                writer.write(&buf).await?;
                data_bytes += buf.len() as u64;
                shared.progress.add(pending_rows, buf.len() as u64);
                pending_rows = 0;
                buf.clear();
            }
        }
    }
    if !buf.is_empty() {
        writer.write(&buf).await?;
        data_bytes += buf.len() as u64;
        shared.progress.add(pending_rows, buf.len() as u64);
    }
    let entry = writer.finish().await?;
    Ok((
        ChunkMeta {
            file: chunk.file.clone(),
            rows,
            data_bytes,
            range: chunk.range.clone(),
        },
        entry,
    ))
}

async fn put_sql<S: AsRef<str>>(
    to: &DumpLocation,
    files: &mut BTreeMap<String, FileEntry>,
    name: &str,
    statements: &[S],
    pass: Option<&Passphrase>,
) -> Result<(), Error> {
    let entry = to
        .put_small(name, format::join_sql(statements).into_bytes(), pass)
        .await?;
    files.insert(name.to_owned(), entry);
    Ok(())
}

fn json<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, Error> {
    serde_json::to_vec_pretty(value).map_err(|e| Error::metadata("(serializing)", e.to_string()))
}

pub(crate) fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A value in a sentinel line: spaces become `_` (the operator turns them back).
pub(crate) fn sentinel_value(text: &str) -> String {
    text.replace(' ', "_")
}

/// `18.0 MiB`: 1024-based, one decimal, `<n> B` below 1024 (the Go and Python helpers' format).
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes_match_the_go_helper() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(1024), "1.0 KiB");
        assert_eq!(human_size(18 * 1024 * 1024 + 1), "18.0 MiB");
    }
}
