//! The restore: into an empty server, schemas first, then data chunks in parallel, then triggers, views,
//! routines, events and users; then the dump's GTID state; then a check of GTIDs and row counts. A schema
//! restore ([`RestoreOptions::include_schemas`], [`check_schemas`]) loads only some schemas into a live
//! server, binlogged, and leaves its GTID state, accounts and other schemas alone.

mod indexes;
mod load;
pub(crate) mod open;
mod schema;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bloodraven_brv1::Passphrase;

use crate::conn::{ConnectOptions, Session, quote_ident};
use crate::dump::SYSTEM_SCHEMAS;
use crate::error::Error;
use crate::format::{self, DumpMeta, SchemaMeta, TableMeta};
use crate::gtid;
use crate::progress::Progress;
use crate::store::DumpLocation;

pub use open::{OpenDump, open_dump, open_dump_with};
pub use schema::check_schemas;

/// How to restore.
#[derive(Clone, Debug)]
pub struct RestoreOptions {
    /// Connections loading chunks in parallel (at least 1; default 4).
    pub threads: usize,
    /// The passphrase of an encrypted dump.
    pub passphrase: Option<Passphrase>,
    /// Also create the accounts and grants of `@.users.sql` when the dump has them (default true).
    pub users: bool,
    /// Count every table's rows after loading and compare with the dump (default true).
    pub check_rows: bool,
    /// Counters to update while loading.
    pub progress: Option<Arc<Progress>>,
    /// The dump is a plaintext copy of an encrypted dump, made by `decrypt_download` (see
    /// [`open_dump_with`]); default false.
    pub decrypted_copy: bool,
    /// Create plain secondary indexes of InnoDB tables after their data is loaded, which the server does
    /// faster by sorting (default true; the rules are in the crate's format docs).
    pub defer_indexes: bool,
    /// Restore only these schemas of the dump into a live server (default: none, the complete dump into an
    /// empty server). Each must be in the dump and none a system schema. Only they are dropped and loaded, and
    /// the load is binlogged so that replicas receive it; other schemas, accounts and grants
    /// ([`users`](Self::users) is not used), the GTID state and the replication settings are left alone. The
    /// server must be writable. A failure after the drop leaves the schemas partly loaded: run it again.
    pub include_schemas: Vec<String>,
}

impl Default for RestoreOptions {
    fn default() -> Self {
        RestoreOptions {
            threads: 4,
            passphrase: None,
            users: true,
            check_rows: true,
            progress: None,
            decrypted_copy: false,
            defer_indexes: true,
            include_schemas: Vec::new(),
        }
    }
}

/// The result of a complete restore.
#[derive(Clone, Debug)]
pub struct RestoreReport {
    /// Where the dump was.
    pub location: String,
    /// The dump's `@.json`.
    pub source: DumpMeta,
    /// Tables loaded.
    pub tables: usize,
    /// Rows loaded.
    pub rows: u64,
    /// The schemas restored (all of the dump's for a complete restore).
    pub schemas: Vec<String>,
    /// The target's GTID state afterwards: the dump's after a complete restore; after a schema restore the
    /// server's own, advanced by the load's transactions.
    pub gtid_executed: String,
    /// Per table (`schema.table`): rows counted after the load (empty without `check_rows`).
    pub row_counts: BTreeMap<String, u64>,
    /// Secondary indexes created after their table's data ([`RestoreOptions::defer_indexes`]).
    pub deferred_indexes: usize,
    /// The point-in-time replay done after the restore, if any (set by the caller of [`crate::pitr::replay`];
    /// [`RestoreReport::log_line`] reports it).
    pub replay: Option<crate::pitr::ReplayReport>,
    /// Wall time.
    pub duration: Duration,
}

impl RestoreReport {
    /// The `BLOODRAVEN_RESTORE_COMPLETE` line (reference-formats §3.5): values percent-encoded.
    pub fn log_line(&self) -> String {
        let s = &self.source;
        let (gtid, stop, file, count) = match &self.replay {
            Some(r) => (
                r.gtid_executed.as_str(),
                r.stop_datetime.map(|t| t.to_rfc3339()).unwrap_or_default(),
                r.last_file.clone().unwrap_or_default(),
                r.files.len(),
            ),
            None => (self.gtid_executed.as_str(), String::new(), String::new(), 0),
        };
        format!(
            "BLOODRAVEN_RESTORE_COMPLETE sourceSizeBytes={} sourceGtidExecuted={} sourceBinlogFile={} \
             sourceBinlogPos={} targetGtidExecuted={} targetBinlogFile= targetBinlogPos=0 pitrStopDatetime={} \
             pitrReplayedBinlogFile={} pitrReplayedBinlogCount={count}",
            s.total_bytes,
            percent_encode(&s.gtid_executed),
            percent_encode(&s.binlog_file),
            s.binlog_position,
            percent_encode(gtid),
            percent_encode(&stop),
            percent_encode(&file),
        )
    }
}

/// Restores the complete dump at `from` into the empty server `target`, or with
/// [`RestoreOptions::include_schemas`] only those schemas into a live server.
///
/// Refuses before touching the server when the dump is incomplete, encrypted without the passphrase, or has
/// a missing or resized object, or lacks a schema asked for; fails (rolling the chunk back) when a chunk's
/// SHA-256 differs; fails at the end when a table's row count differs from the dump's, or (complete restore)
/// the target's GTID state does.
pub async fn restore(
    target: &ConnectOptions,
    from: &DumpLocation,
    options: &RestoreOptions,
) -> Result<RestoreReport, Error> {
    let dump = open_dump_with(from, options.passphrase.as_ref(), options.decrypted_copy).await?;
    restore_dump(target, &dump, options).await
}

/// [`restore`] of a dump already opened with [`open_dump`] or [`open_dump_with`] (its passphrase is the one it was
/// opened with), for a caller that read the dump's metadata first.
pub async fn restore_dump(
    target: &ConnectOptions,
    dump: &OpenDump,
    options: &RestoreOptions,
) -> Result<RestoreReport, Error> {
    let started = Instant::now();
    if options.threads == 0 {
        return Err(Error::Options("threads must be at least 1".into()));
    }
    let meta = &dump.meta;
    let only = if options.include_schemas.is_empty() {
        None
    } else {
        Some(check_schemas(dump, &options.include_schemas)?)
    };
    let mut control = target.connect().await?;
    check_flavor(&mut control, meta).await?;
    match &only {
        None => check_empty(&mut control).await?,
        Some(_) => schema::check_writable(&mut control).await?,
    }
    let old_local_infile = control.scalar("SELECT @@GLOBAL.local_infile").await?;
    if old_local_infile != "1" {
        control.exec("SET GLOBAL local_infile = 1").await?;
    }
    let result = restore_into(dump, target, &mut control, options, only.as_deref()).await;
    if old_local_infile != "1" {
        let _ = control.exec("SET GLOBAL local_infile = 0").await;
    }
    let loaded = result?;
    let gtid_executed = gtid::read_state(&mut control, meta.flavor).await?;
    if only.is_none() {
        gtid::compare(meta.flavor, &meta.gtid_executed, &gtid_executed)?;
    }
    drop(control.conn.disconnect().await);
    Ok(RestoreReport {
        location: dump.location.display().to_owned(),
        source: dump.meta.clone(),
        tables: loaded.tables,
        rows: loaded.rows,
        schemas: only.unwrap_or_else(|| dump.meta.schemas.clone()),
        gtid_executed,
        row_counts: loaded.row_counts,
        deferred_indexes: loaded.deferred_indexes,
        replay: None,
        duration: started.elapsed(),
    })
}

/// Session settings of every restore connection: UTC, no checks that the dump already passed, MySQL Shell's
/// and mysqldump's SQL mode for loading.
const SESSION_SETUP: &str = "SET SESSION time_zone = '+00:00'; \
     SET NAMES utf8mb4; SET SESSION foreign_key_checks = 0; SET SESSION unique_checks = 0; \
     SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO'";

/// [`SESSION_SETUP`], and for a complete restore no binlog (the dump's GTID state is set at the end); a schema
/// restore is binlogged, so that the live server's replicas receive it.
async fn setup_session(s: &mut Session, binlogged: bool) -> Result<(), Error> {
    if !binlogged {
        s.exec("SET SESSION sql_log_bin = 0").await?;
    }
    s.exec(SESSION_SETUP).await
}

/// What [`restore_into`] loaded.
struct Loaded {
    tables: usize,
    rows: u64,
    row_counts: BTreeMap<String, u64>,
    deferred_indexes: usize,
}

/// Loads the dump, or with `only` those of its schemas (dropped first).
async fn restore_into(
    dump: &OpenDump,
    target: &ConnectOptions,
    control: &mut Session,
    options: &RestoreOptions,
    only: Option<&[String]>,
) -> Result<Loaded, Error> {
    let meta = &dump.meta;
    let binlogged = only.is_some();
    setup_session(control, binlogged).await?;
    let progress = options.progress.clone().unwrap_or_default();
    let selected = only.unwrap_or(&meta.schemas);
    if let Some(only) = only {
        schema::drop_schemas(control, only).await?;
    }

    // Schemas and tables.
    let mut schemas: Vec<(String, String, SchemaMeta)> = Vec::new();
    let mut tables: Vec<(Arc<TableMeta>, Option<String>)> = Vec::new();
    let mut deferred_indexes = 0;
    for schema in selected {
        let sb = meta
            .basenames
            .get(schema)
            .cloned()
            .unwrap_or_else(|| format::basename(schema));
        let smeta: SchemaMeta = dump.json(&format!("{sb}.json")).await?;
        run_sql(dump, control, &format!("{sb}.sql"), None).await?;
        for table in &smeta.tables {
            let base = table_base(&smeta, schema, table);
            let tmeta: TableMeta = dump.json(&format!("{base}.json")).await?;
            let defer = options.defer_indexes && !tmeta.chunks.is_empty();
            let deferred = create_table(dump, control, &base, &tmeta, defer).await?;
            let add_indexes = deferred.map(|(alter, count)| {
                deferred_indexes += count;
                alter
            });
            tables.push((Arc::new(tmeta), add_indexes));
        }
        schemas.push((schema.clone(), sb, smeta));
    }
    let data_bytes = match only {
        None => meta.total_data_bytes,
        Some(_) => tables.iter().map(|(t, _)| t.data_bytes).sum(),
    };
    progress.set_totals(tables.len() as u64, data_bytes);

    // Data, the table with the largest chunk first.
    let mut jobs = Vec::new();
    let mut order: Vec<&(Arc<TableMeta>, Option<String>)> = tables.iter().collect();
    order.sort_by_key(|(t, _)| load_order(t));
    let mut finishes = Vec::new();
    for (t, add_indexes) in order {
        let finish = Arc::new(load::TableFinish {
            left: Mutex::new(t.chunks.len()),
            add_indexes: add_indexes.clone(),
            count_rows: options.check_rows,
            counted: Mutex::new(None),
        });
        for chunk in &t.chunks {
            jobs.push(load::LoadJob {
                table: Arc::clone(t),
                chunk: chunk.clone(),
                finish: Arc::clone(&finish),
            });
        }
        finishes.push((Arc::clone(t), finish));
    }
    let tables: Vec<Arc<TableMeta>> = tables.into_iter().map(|(t, _)| t).collect();
    let mut sessions = Vec::new();
    for _ in 0..options.threads.min(jobs.len().max(1)) {
        let mut s = target.connect().await?;
        setup_session(&mut s, binlogged).await?;
        sessions.push(s);
    }
    let (sessions, rows) = load::load_all(dump, sessions, jobs, Arc::clone(&progress)).await?;
    for s in sessions {
        drop(s.conn.disconnect().await);
    }

    // Triggers, views, routines and events, users.
    for t in &tables {
        if t.triggers {
            let base = format::table_basename(&t.schema, &t.table);
            run_sql(
                dump,
                control,
                &format!("{base}.triggers.sql"),
                Some(&t.schema),
            )
            .await?;
        }
    }
    create_views(dump, control, &schemas).await?;
    for (schema, sb, smeta) in &schemas {
        if smeta.post_sql {
            run_sql(dump, control, &format!("{sb}.post.sql"), Some(schema)).await?;
        }
    }
    // A schema restore leaves the accounts and the GTID state of the live server alone.
    if only.is_none() {
        if meta.users && options.users {
            run_sql(dump, control, format::USERS_SQL, None).await?;
            control.exec("FLUSH PRIVILEGES").await?;
        }
        gtid::set_state(control, meta.flavor, &meta.gtid_executed).await?;
    }

    let mut counts = BTreeMap::new();
    if options.check_rows {
        for (t, finish) in &finishes {
            let name = format!("{}.{}", t.schema, t.table);
            // Counted by the loader after the table's last chunk; a table without chunks is counted here.
            let counted = finish.counted.lock().ok().and_then(|c| *c);
            let n = match counted {
                Some(n) => n,
                None => load::count_rows(control, t).await?,
            };
            if n != t.rows {
                return Err(Error::Mismatch {
                    table: name,
                    what: "row count",
                    expected: t.rows.to_string(),
                    actual: n.to_string(),
                });
            }
            counts.insert(name, n);
        }
    }
    Ok(Loaded {
        tables: tables.len(),
        rows,
        row_counts: counts,
        deferred_indexes,
    })
}

/// Creates a table from its `.sql` object; with `defer`, without the secondary indexes that are faster
/// built after the data, returning the `ALTER TABLE` that adds them and their number.
async fn create_table(
    dump: &OpenDump,
    control: &mut Session,
    base: &str,
    table: &TableMeta,
    defer: bool,
) -> Result<Option<(String, usize)>, Error> {
    let name = format!("{base}.sql");
    let body = dump.small(&name).await?;
    let text = String::from_utf8(body)
        .map_err(|_| Error::metadata(dump.location.key(&name).as_ref(), "not UTF-8"))?;
    let statements = format::split_sql(&text);
    let deferred = match statements.as_slice() {
        [create] if defer => indexes::defer(create),
        _ => None,
    };
    control
        .exec(&format!("USE {}", quote_ident(&table.schema)))
        .await?;
    let Some(deferred) = deferred else {
        for statement in &statements {
            control.exec(statement).await?;
        }
        return Ok(None);
    };
    control.exec(&deferred.create).await?;
    let quoted = format!(
        "{}.{}",
        quote_ident(&table.schema),
        quote_ident(&table.table)
    );
    Ok(Some((deferred.alter(&quoted), deferred.keys.len())))
}

/// Resets the binary logs and GTID state of `target` (an in-place restore empties the live server with it before
/// the load) and returns the statement that ran. The binary log numbering goes on past the highest file
/// (`RESET MASTER TO <n>`; MariaDB 10.1.6+, MySQL 8.0.17+), so new files never reuse a name the site's binlog
/// archive holds.
pub async fn reset_binary_logs(target: &ConnectOptions) -> Result<String, Error> {
    let mut s = target.connect().await?;
    let version = s.scalar("SELECT @@version").await?;
    gtid::reset_binlogs(&mut s, format::Flavor::from_version(&version)).await
}

/// Refuses a target of the other flavour.
async fn check_flavor(s: &mut Session, meta: &DumpMeta) -> Result<(), Error> {
    let version = s.scalar("SELECT @@version").await?;
    let flavor = format::Flavor::from_version(&version);
    if flavor != meta.flavor {
        return Err(Error::Target {
            server: s.server.clone(),
            reason: format!(
                "it runs {} ({version}) but the dump is of {} ({}); restore into a {} server",
                flavor.as_str(),
                meta.flavor.as_str(),
                meta.server_version,
                meta.flavor.as_str()
            ),
        });
    }
    Ok(())
}

/// Refuses a target with user schemas.
async fn check_empty(s: &mut Session) -> Result<(), Error> {
    let schemas = s
        .text_rows("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA ORDER BY SCHEMA_NAME")
        .await?;
    let user: Vec<String> = schemas
        .into_iter()
        .filter_map(|r| r.into_iter().next())
        .filter(|n| !SYSTEM_SCHEMAS.contains(&n.as_str()))
        .collect();
    if !user.is_empty() {
        return Err(Error::Target {
            server: s.server.clone(),
            reason: format!(
                "it is not empty (schemas {}); restore into a new server or drop them first",
                user.join(", ")
            ),
        });
    }
    Ok(())
}

/// Creates the views; a view that uses another view waits for it (rounds until nothing is left or no view
/// could be created in a round).
async fn create_views(
    dump: &OpenDump,
    control: &mut Session,
    schemas: &[(String, String, SchemaMeta)],
) -> Result<(), Error> {
    let mut pending: Vec<(String, String)> = Vec::new();
    for (schema, _, smeta) in schemas {
        for view in &smeta.views {
            pending.push((schema.clone(), table_base(smeta, schema, view)));
        }
    }
    while !pending.is_empty() {
        let mut failed = Vec::new();
        let mut last_error = None;
        let before = pending.len();
        for (schema, base) in pending {
            match run_sql(dump, control, &format!("{base}.sql"), Some(&schema)).await {
                Ok(()) => {}
                Err(e @ Error::Sql { .. }) => {
                    last_error = Some(e);
                    failed.push((schema, base));
                }
                Err(e) => return Err(e),
            }
        }
        if failed.len() == before
            && let Some(e) = last_error
        {
            return Err(e);
        }
        pending = failed;
    }
    Ok(())
}

fn table_base(smeta: &SchemaMeta, schema: &str, table: &str) -> String {
    smeta
        .basenames
        .get(table)
        .cloned()
        .unwrap_or_else(|| format::table_basename(schema, table))
}

/// Runs the statements of a `.sql` object, in `schema` when given.
async fn run_sql(
    dump: &OpenDump,
    s: &mut Session,
    name: &str,
    schema: Option<&str>,
) -> Result<(), Error> {
    let body = dump.small(name).await?;
    let text = String::from_utf8(body)
        .map_err(|_| Error::metadata(dump.location.key(name).as_ref(), "not UTF-8"))?;
    if let Some(schema) = schema {
        s.exec(&format!("USE {}", quote_ident(schema))).await?;
    }
    for statement in format::split_sql(&text) {
        s.exec(&statement).await?;
    }
    // Routines, triggers and events set their own SQL mode and time zone: put the loading ones back.
    s.exec("SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO'; SET SESSION time_zone = '+00:00'")
        .await?;
    Ok(())
}

/// Python's `urllib.parse.quote(v, safe="")`: everything but `A-Z a-z 0-9 _ . - ~` as `%XX`.
pub(crate) fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for &b in text.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The order tables are loaded in: the largest single chunk first, then the most data. A table without a key is
/// one chunk that only one connection can load (and concurrent loads into InnoDB's hidden row-id index only
/// contend), so it starts first and the other connections load the chunked tables beside it, instead of it
/// loading alone at the end.
fn load_order(t: &TableMeta) -> (std::cmp::Reverse<u64>, std::cmp::Reverse<u64>) {
    let largest = t.chunks.iter().map(|c| c.data_bytes).max().unwrap_or(0);
    (std::cmp::Reverse(largest), std::cmp::Reverse(t.data_bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_with_the_largest_chunk_loads_first() {
        let table = |name: &str, chunks: &[u64]| TableMeta {
            table: name.into(),
            chunks: chunks
                .iter()
                .map(|&data_bytes| format::ChunkMeta {
                    data_bytes,
                    ..Default::default()
                })
                .collect(),
            data_bytes: chunks.iter().sum(),
            ..Default::default()
        };
        let mut tables = [
            table("chunked", &[32, 32, 32, 32, 32]),
            table("keyless", &[100]),
            table("small", &[32]),
            table("empty", &[]),
        ];
        tables.sort_by_key(load_order);
        let names: Vec<&str> = tables.iter().map(|t| t.table.as_str()).collect();
        assert_eq!(names, ["keyless", "chunked", "small", "empty"]);
    }

    #[test]
    fn percent_encoding_matches_python_quote() {
        assert_eq!(percent_encode("0-1-5,1-2-3"), "0-1-5%2C1-2-3");
        assert_eq!(percent_encode("a b/c:d"), "a%20b%2Fc%3Ad");
    }
}
