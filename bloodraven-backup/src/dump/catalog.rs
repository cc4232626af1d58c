//! What a dump holds: schemas, tables and their chunks, views, routines, triggers, events and users, read
//! from the source inside the snapshot.

use std::collections::BTreeMap;

use crate::conn::{Session, quote_ident, quote_str};
use crate::error::Error;
use crate::format::{self, Compression};

/// The server's own schemas: never dumped, never restored or dropped on their own (lower case).
pub const SYSTEM_SCHEMAS: [&str; 4] = ["mysql", "information_schema", "performance_schema", "sys"];

/// One schema's objects and DDL.
#[derive(Debug, Default)]
pub(crate) struct SchemaPlan {
    pub(crate) name: String,
    pub(crate) create: String,
    pub(crate) tables: Vec<TablePlan>,
    /// (name, CREATE VIEW)
    pub(crate) views: Vec<(String, String)>,
    /// Routines and events, each with its `SET sql_mode` prefix statement.
    pub(crate) post: Vec<String>,
    pub(crate) skipped: BTreeMap<String, String>,
}

/// One base table: DDL, columns and data chunks.
#[derive(Debug, Default)]
pub(crate) struct TablePlan {
    pub(crate) schema: String,
    pub(crate) name: String,
    pub(crate) base: String,
    pub(crate) create: String,
    pub(crate) triggers: Vec<String>,
    pub(crate) columns: Vec<String>,
    pub(crate) chunk_column: Option<String>,
    pub(crate) chunks: Vec<ChunkPlan>,
    pub(crate) estimated_bytes: u64,
}

/// One data file to write.
#[derive(Clone, Debug)]
pub(crate) struct ChunkPlan {
    pub(crate) table: usize,
    pub(crate) index: usize,
    pub(crate) file: String,
    /// SQL condition (empty: the whole table).
    pub(crate) range: String,
}

/// Reads the catalog of every non-system schema (or only `include`, minus `exclude`).
pub(crate) async fn read(
    s: &mut Session,
    include: &[String],
    exclude: &[String],
    bytes_per_chunk: u64,
    compression: Compression,
) -> Result<Vec<SchemaPlan>, Error> {
    s.exec("SET NAMES utf8mb4").await?;
    let mut schemas = Vec::new();
    for row in s
        .text_rows("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA ORDER BY SCHEMA_NAME")
        .await?
    {
        let name = row.into_iter().next().unwrap_or_default();
        if SYSTEM_SCHEMAS.contains(&name.as_str())
            || (!include.is_empty() && !include.contains(&name))
            || exclude.contains(&name)
        {
            continue;
        }
        schemas.push(read_schema(s, &name, bytes_per_chunk, compression).await?);
    }
    s.exec("SET NAMES binary").await?;
    Ok(schemas)
}

async fn read_schema(
    s: &mut Session,
    name: &str,
    bytes_per_chunk: u64,
    compression: Compression,
) -> Result<SchemaPlan, Error> {
    let q = quote_ident(name);
    let create = second_column(s, &format!("SHOW CREATE DATABASE {q}")).await?;
    let mut plan = SchemaPlan {
        name: name.to_owned(),
        create,
        ..SchemaPlan::default()
    };
    let tables = s
        .text_rows(&format!(
            "SELECT TABLE_NAME, TABLE_TYPE, IFNULL(TABLE_ROWS, 0), IFNULL(DATA_LENGTH, 0) \
             FROM information_schema.TABLES WHERE TABLE_SCHEMA = {} ORDER BY TABLE_NAME",
            quote_str(name)
        ))
        .await?;
    for row in tables {
        let [table, kind, rows, data_length] = <[String; 4]>::try_from(row)
            .map_err(|_| Error::metadata("information_schema.TABLES", "unexpected column count"))?;
        let full = format!("{q}.{}", quote_ident(&table));
        match kind.as_str() {
            "BASE TABLE" => {
                let est_rows: u64 = rows.parse().unwrap_or(0);
                let est_bytes: u64 = data_length.parse().unwrap_or(0);
                let mut t = read_table(s, name, &table, &full).await?;
                t.estimated_bytes = est_bytes;
                plan_chunks(
                    s,
                    &mut t,
                    &full,
                    est_rows,
                    est_bytes,
                    bytes_per_chunk,
                    compression,
                )
                .await?;
                plan.tables.push(t);
            }
            "VIEW" => {
                let ddl = second_column(s, &format!("SHOW CREATE VIEW {full}")).await?;
                plan.views.push((table, ddl));
            }
            other => {
                tracing::warn!(
                    schema = name,
                    table,
                    kind = other,
                    "skipping unsupported table type"
                );
                plan.skipped
                    .insert(table, format!("table type {other} is not dumped"));
            }
        }
    }
    for row in s
        .text_rows(&format!(
            "SELECT ROUTINE_TYPE, ROUTINE_NAME FROM information_schema.ROUTINES \
             WHERE ROUTINE_SCHEMA = {} ORDER BY ROUTINE_TYPE, ROUTINE_NAME",
            quote_str(name)
        ))
        .await?
    {
        let [kind, routine] = <[String; 2]>::try_from(row).map_err(|_| {
            Error::metadata("information_schema.ROUTINES", "unexpected column count")
        })?;
        let sql = format!("SHOW CREATE {kind} {q}.{}", quote_ident(&routine));
        plan.post.extend(with_sql_mode(s, &sql, 1, 2).await?);
    }
    for row in s
        .text_rows(&format!(
            "SELECT EVENT_NAME FROM information_schema.EVENTS WHERE EVENT_SCHEMA = {} ORDER BY EVENT_NAME",
            quote_str(name)
        ))
        .await?
    {
        let event = row.into_iter().next().unwrap_or_default();
        let sql = format!("SHOW CREATE EVENT {q}.{}", quote_ident(&event));
        let mut statements = with_sql_mode(s, &sql, 1, 3).await?;
        // An event keeps the time zone it was created in (column 2).
        let zone = s.text_rows(&sql).await?.into_iter().next().and_then(|r| r.into_iter().nth(2));
        if let Some(zone) = zone {
            statements.insert(1, format!("SET SESSION time_zone = {}", quote_str(&zone)));
        }
        plan.post.extend(statements);
    }
    Ok(plan)
}

async fn read_table(
    s: &mut Session,
    schema: &str,
    table: &str,
    full: &str,
) -> Result<TablePlan, Error> {
    let create = second_column(s, &format!("SHOW CREATE TABLE {full}")).await?;
    let columns = s
        .text_rows(&format!(
            "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = {} AND TABLE_NAME = {} \
             AND EXTRA NOT LIKE '%GENERATED%' ORDER BY ORDINAL_POSITION",
            quote_str(schema),
            quote_str(table)
        ))
        .await?
        .into_iter()
        .filter_map(|r| r.into_iter().next())
        .collect();
    let mut triggers = Vec::new();
    for row in s
        .text_rows(&format!(
            "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_SCHEMA = {} \
             AND EVENT_OBJECT_TABLE = {} ORDER BY ACTION_ORDER",
            quote_str(schema),
            quote_str(table)
        ))
        .await?
    {
        let trigger = row.into_iter().next().unwrap_or_default();
        let sql = format!(
            "SHOW CREATE TRIGGER {}.{}",
            quote_ident(schema),
            quote_ident(&trigger)
        );
        triggers.extend(with_sql_mode(s, &sql, 1, 2).await?);
    }
    Ok(TablePlan {
        schema: schema.to_owned(),
        name: table.to_owned(),
        base: format::table_basename(schema, table),
        create,
        triggers,
        columns,
        ..TablePlan::default()
    })
}

/// Chooses the chunk column (first column of the primary key, or of a unique key over NOT NULL columns, when
/// it is an integer) and cuts its range `[MIN, MAX]` in the snapshot into pieces of about `bytes_per_chunk`.
async fn plan_chunks(
    s: &mut Session,
    t: &mut TablePlan,
    full: &str,
    est_rows: u64,
    est_bytes: u64,
    bytes_per_chunk: u64,
    compression: Compression,
) -> Result<(), Error> {
    let key = s
        .text_rows(&format!(
            "SELECT st.COLUMN_NAME, c.DATA_TYPE FROM information_schema.STATISTICS st \
             JOIN information_schema.COLUMNS c ON c.TABLE_SCHEMA = st.TABLE_SCHEMA \
               AND c.TABLE_NAME = st.TABLE_NAME AND c.COLUMN_NAME = st.COLUMN_NAME \
             WHERE st.TABLE_SCHEMA = {} AND st.TABLE_NAME = {} AND st.SEQ_IN_INDEX = 1 AND st.NON_UNIQUE = 0 \
               AND NOT EXISTS (SELECT 1 FROM information_schema.STATISTICS n WHERE n.TABLE_SCHEMA = st.TABLE_SCHEMA \
                 AND n.TABLE_NAME = st.TABLE_NAME AND n.INDEX_NAME = st.INDEX_NAME AND n.NULLABLE = 'YES') \
             ORDER BY st.INDEX_NAME <> 'PRIMARY', st.INDEX_NAME",
            quote_str(&t.schema),
            quote_str(&t.name)
        ))
        .await?
        .into_iter()
        .next();
    let integer = |ty: &str| {
        matches!(
            ty.to_ascii_lowercase().as_str(),
            "tinyint" | "smallint" | "mediumint" | "int" | "integer" | "bigint"
        )
    };
    let column = match key {
        Some(row) if row.len() == 2 && integer(&row[1]) => row[0].clone(),
        _ => {
            t.chunks.push(ChunkPlan {
                table: 0,
                index: 0,
                file: format::single_file(&t.base, compression),
                range: String::new(),
            });
            return Ok(());
        }
    };
    let qc = quote_ident(&column);
    let bounds = s
        .text_rows(&format!("SELECT MIN({qc}), MAX({qc}) FROM {full}"))
        .await?;
    let parse = |v: Option<&String>| v.and_then(|v| v.parse::<i128>().ok());
    let (min, max) = match bounds.first() {
        Some(r) => (parse(r.first()), parse(r.get(1))),
        None => (None, None),
    };
    let ranges = match (min, max) {
        (Some(min), Some(max)) => {
            let span = max - min + 1;
            let wanted = if bytes_per_chunk == 0 {
                1
            } else {
                est_bytes.max(est_rows).div_ceil(bytes_per_chunk).max(1)
            };
            let pieces = i128::from(wanted).min(span).max(1);
            let width = (span + pieces - 1) / pieces;
            let mut ranges = Vec::new();
            let mut lo = min;
            while lo <= max {
                let hi = lo.saturating_add(width);
                ranges.push(if hi > max {
                    format!("{qc} >= {lo} AND {qc} <= {max}")
                } else {
                    format!("{qc} >= {lo} AND {qc} < {hi}")
                });
                lo = hi;
            }
            ranges
        }
        // An empty table: one chunk that selects nothing, so the table still has a data file.
        _ => vec![format!("{qc} IS NOT NULL")],
    };
    let last = ranges.len() - 1;
    t.chunks = ranges
        .into_iter()
        .enumerate()
        .map(|(index, range)| ChunkPlan {
            table: 0,
            index,
            file: format::chunk_file(&t.base, index, index == last, compression),
            range,
        })
        .collect();
    t.chunk_column = Some(column);
    Ok(())
}

/// The second column of the first row (the `CREATE ...` text of `SHOW CREATE TABLE/VIEW/DATABASE`).
async fn second_column(s: &mut Session, sql: &str) -> Result<String, Error> {
    let rows = s.text_rows(sql).await?;
    rows.into_iter()
        .next()
        .and_then(|r| r.into_iter().nth(1))
        .ok_or_else(|| Error::metadata(sql, "the server returned no definition"))
}

/// `SHOW CREATE` of a routine, trigger or event: the statement (column `stmt`) preceded by the `SET
/// sql_mode` of column `mode` it was created with.
async fn with_sql_mode(
    s: &mut Session,
    sql: &str,
    mode: usize,
    stmt: usize,
) -> Result<Vec<String>, Error> {
    let rows = s.text_rows(sql).await?;
    let row = rows
        .into_iter()
        .next()
        .ok_or_else(|| Error::metadata(sql, "the server returned no definition"))?;
    let (Some(mode), Some(stmt)) = (row.get(mode), row.get(stmt)) else {
        return Err(Error::metadata(sql, "the server returned too few columns"));
    };
    Ok(vec![
        format!("SET SESSION sql_mode = {}", quote_str(mode)),
        stmt.clone(),
    ])
}

/// Accounts and grants (`SHOW CREATE USER` and `SHOW GRANTS`) of every user but the built-in ones.
pub(crate) async fn users(s: &mut Session) -> Result<Vec<String>, Error> {
    s.exec("SET NAMES utf8mb4").await?;
    let mut out = Vec::new();
    let accounts = s
        .text_rows("SELECT User, Host FROM mysql.user ORDER BY User, Host")
        .await?;
    for row in accounts {
        let [user, host] = <[String; 2]>::try_from(row)
            .map_err(|_| Error::metadata("mysql.user", "unexpected column count"))?;
        if user.is_empty()
            || user == "root"
            || user.starts_with("mysql.")
            || user == "mariadb.sys"
            || user == "PUBLIC"
        {
            continue;
        }
        let account = format!("{}@{}", quote_str(&user), quote_str(&host));
        let create = s.scalar(&format!("SHOW CREATE USER {account}")).await?;
        out.push(create.replacen("CREATE USER", "CREATE USER IF NOT EXISTS", 1));
        for grant in s.text_rows(&format!("SHOW GRANTS FOR {account}")).await? {
            if let Some(g) = grant.into_iter().next() {
                out.push(g);
            }
        }
    }
    s.exec("SET NAMES binary").await?;
    Ok(out)
}
