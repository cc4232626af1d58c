//! The dump layout: object names, the metadata files and the completion marker (pure, no I/O).
//!
//! A dump is a directory (a key prefix in an object store) holding:
//!
//! | object | written | content |
//! |---|---|---|
//! | `<s>.sql` | during | `CREATE DATABASE` of schema `s` |
//! | `<s>@<t>.sql` | during | `CREATE TABLE` (or `CREATE VIEW` for a view) |
//! | `<s>@<t>.triggers.sql` | during | the table's triggers (only when it has some) |
//! | `<s>.post.sql` | during | routines and events of the schema (only when it has some) |
//! | `<s>@<t>@<n>.tsv.zst`, last `<s>@<t>@@<n>.tsv.zst` | during | chunk `n` of a chunked table |
//! | `<s>@<t>.tsv.zst` | during | the whole data of a table dumped as one stream |
//! | `<s>@<t>.json` | during | [`TableMeta`]: columns, chunking, per-chunk rows and bytes |
//! | `<s>.json` | during | [`SchemaMeta`]: tables, views, which side files exist |
//! | `@.users.sql` | during | accounts and grants (only with users enabled) |
//! | `@.json` | second to last | [`DumpMeta`]: GTID set and binlog position at the snapshot, times, sizes |
//! | `BLOODRAVEN_ENCRYPTION.json` | before the marker | encrypted dumps only, plaintext (reference-formats §3.4) |
//! | `@.done.json` | **last** | [`DoneMeta`]: size and SHA-256 of every other object |
//!
//! ```
//! use bloodraven_backup::format::{self, Compression};
//!
//! let base = format::table_basename("shop", "order lines");
//! assert_eq!(base, "shop@order=20lines");
//! assert_eq!(format::chunk_file(&base, 3, true, Compression::Zstd), "shop@order=20lines@@3.tsv.zst");
//! ```
//!
//! `<s>` and `<t>` are [`basename`]s of the schema and table names. A dump without `@.done.json` is
//! incomplete and is never restored or chosen as the newest dump. The docs/backup-format.md file in the
//! repository describes each field and what is compatible with MySQL Shell.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The dump metadata object, written when every data chunk is stored.
pub const DUMP_META: &str = "@.json";
/// The completion marker, always written last.
pub const DONE_MARKER: &str = "@.done.json";
/// The accounts and grants file.
pub const USERS_SQL: &str = "@.users.sql";
/// The encryption marker of encrypted dumps (plaintext, reference-formats §3.4).
pub const ENCRYPTION_MARKER: &str = "BLOODRAVEN_ENCRYPTION.json";
/// The value of [`DumpMeta::version`] this crate writes and reads.
pub const FORMAT_VERSION: &str = "bloodraven-backup/1";
/// The statement delimiter of the `.sql` files (as `DELIMITER ;;` in the `mariadb` client).
pub const SQL_DELIMITER: &str = ";;";
/// Longest basename kept as is; longer ones are cut and given a hash suffix.
const MAX_BASENAME: usize = 96;

/// The server flavour a dump came from.
#[derive(Clone, Copy, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Flavor {
    /// MariaDB: GTIDs are `domain-server-seq` positions (`gtid_binlog_pos`).
    Mariadb,
    /// MySQL: GTIDs are `uuid:interval` sets (`gtid_executed`).
    Mysql,
}

impl Flavor {
    /// `mariadb` or `mysql`.
    pub fn as_str(self) -> &'static str {
        match self {
            Flavor::Mariadb => "mariadb",
            Flavor::Mysql => "mysql",
        }
    }

    /// The flavour of a server from its `@@version` text.
    pub fn from_version(version: &str) -> Flavor {
        if version.to_ascii_lowercase().contains("mariadb") {
            Flavor::Mariadb
        } else {
            Flavor::Mysql
        }
    }
}

/// How data chunks are compressed.
#[derive(Clone, Copy, Debug, Default, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// gzip (`.tsv.gz`).
    Gzip,
    /// No compression (`.tsv`).
    None,
    /// Zstandard (`.tsv.zst`), the default.
    #[default]
    Zstd,
}

impl Compression {
    /// The data file extension, without the leading dot.
    pub fn extension(self) -> &'static str {
        match self {
            Compression::Gzip => "tsv.gz",
            Compression::None => "tsv",
            Compression::Zstd => "tsv.zst",
        }
    }

    /// Parses `zstd`, `gzip` or `none`.
    pub fn parse(text: &str) -> Option<Compression> {
        match text {
            "zstd" => Some(Compression::Zstd),
            "gzip" => Some(Compression::Gzip),
            "none" => Some(Compression::None),
            _ => None,
        }
    }
}

/// `@.json`: what the dump is, where in the server's history it was taken, how big it is.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DumpMeta {
    /// `bloodraven-backup <crate version>`.
    pub dumper: String,
    /// The format version, [`FORMAT_VERSION`].
    pub version: String,
    /// Always `dumpInstance` (the whole server minus system schemas, as MySQL Shell names it).
    pub origin: String,
    /// The source's flavour.
    pub flavor: Flavor,
    /// The source's `@@version`.
    pub server_version: String,
    /// The source's `@@hostname`.
    pub server: String,
    /// When the snapshot was opened (RFC 3339 UTC).
    pub begin: String,
    /// When the last chunk was stored (RFC 3339 UTC).
    pub end: String,
    /// The GTID state at the snapshot: MySQL `gtid_executed`, MariaDB `gtid_binlog_pos`.
    pub gtid_executed: String,
    /// The binlog file at the snapshot (empty when the source has no binlog).
    pub binlog_file: String,
    /// The binlog position at the snapshot.
    pub binlog_position: u64,
    /// `true`: every table was read in one consistent snapshot.
    pub consistent: bool,
    /// How data chunks are compressed.
    pub compression: Compression,
    /// `true`: every object but the encryption marker is BRV1-encrypted.
    pub encrypted: bool,
    /// Character set of the data files: `binary` (bytes as stored, no conversion).
    pub default_character_set: String,
    /// Target uncompressed size of a chunk.
    pub bytes_per_chunk: u64,
    /// Uncompressed TSV bytes of all tables.
    pub total_data_bytes: u64,
    /// Stored bytes of every object before encryption (compressed data and metadata).
    pub total_bytes: u64,
    /// Rows of all tables.
    pub total_rows: u64,
    /// Dumped schemas, sorted.
    pub schemas: Vec<String>,
    /// Schema name → basename of its objects.
    pub basenames: BTreeMap<String, String>,
    /// `true`: `@.users.sql` holds accounts and grants.
    pub users: bool,
    /// Time zone the data was read in: always `true` (`+00:00`).
    pub tz_utc: bool,
}

/// `<s>.json`: a schema's objects.
#[derive(Clone, Debug, Default, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SchemaMeta {
    /// The schema name.
    pub schema: String,
    /// Base tables, sorted.
    pub tables: Vec<String>,
    /// Views, sorted.
    pub views: Vec<String>,
    /// Table or view name → basename (`<s>@<t>`).
    pub basenames: BTreeMap<String, String>,
    /// `true`: `<s>.post.sql` holds routines and events.
    pub post_sql: bool,
    /// Objects skipped with the reason (e.g. an unsupported table type).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub skipped: BTreeMap<String, String>,
}

/// `<s>@<t>.json`: one table's data files.
#[derive(Clone, Debug, Default, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TableMeta {
    /// The schema name.
    pub schema: String,
    /// The table name.
    pub table: String,
    /// Columns in each TSV line, in order (generated columns are left out).
    pub columns: Vec<String>,
    /// The integer key column the chunks are ranges of (absent: one stream).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk_column: Option<String>,
    /// `true`: `<s>@<t>.triggers.sql` exists.
    pub triggers: bool,
    /// The data files in order.
    pub chunks: Vec<ChunkMeta>,
    /// Rows of all chunks.
    pub rows: u64,
    /// Uncompressed TSV bytes of all chunks.
    pub data_bytes: u64,
}

/// One data file of a table.
#[derive(Clone, Debug, Default, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChunkMeta {
    /// The object name.
    pub file: String,
    /// Rows in the file.
    pub rows: u64,
    /// Uncompressed TSV bytes.
    pub data_bytes: u64,
    /// The SQL condition that selected the rows (empty: the whole table).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub range: String,
}

/// `@.done.json`: the completion marker, written last.
#[derive(Clone, Debug, Default, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DoneMeta {
    /// When the dump finished (RFC 3339 UTC).
    pub end: String,
    /// Uncompressed TSV bytes of all tables.
    pub data_bytes: u64,
    /// Schema → table → uncompressed TSV bytes (as MySQL Shell's `@.done.json`).
    pub table_data_bytes: BTreeMap<String, BTreeMap<String, u64>>,
    /// Object name → size and SHA-256, for every object of the dump but the marker itself.
    pub files: BTreeMap<String, FileEntry>,
}

/// Size and digest of one stored object, both of its bytes before encryption.
#[derive(Clone, Debug, Default, Deserialize, Eq, PartialEq, Serialize)]
pub struct FileEntry {
    /// Bytes (compressed data or metadata text; before BRV1).
    pub size: u64,
    /// Lower-case hex SHA-256 of the same bytes.
    pub sha256: String,
}

/// `BLOODRAVEN_ENCRYPTION.json` (reference-formats §3.4), byte-compatible with the Go writer.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EncryptionMarker {
    /// Always 1.
    pub version: u32,
    /// Always `AES-256-GCM`.
    pub algorithm: String,
    /// RFC 3339 UTC, whole seconds.
    pub created_at: String,
    /// Number of encrypted objects.
    pub file_count: u64,
    /// Relative path → lower-case hex SHA-256 of the plaintext (omitted when empty).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub files: BTreeMap<String, String>,
}

impl EncryptionMarker {
    /// The marker text as Go's `json.MarshalIndent(v, "", "  ")` writes it: two-space indent, keys of
    /// `files` sorted, no trailing newline.
    pub fn to_go_json(&self) -> String {
        // serde_json's pretty printer uses two spaces and keeps field order; BTreeMap sorts the files.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

/// The basename of a schema, table or view name in object names: ASCII letters, digits, `_`, `-` and `$`
/// stay, every other byte of the UTF-8 name becomes `=XX` (upper-case hex); a result longer than 96
/// characters is cut and ends in `=_` plus the first 16 hex digits of the name's SHA-256, so names stay
/// unique and short enough for every filesystem. (MySQL Shell escapes with `%`, which object stores and
/// object_store paths escape again; `=` passes through S3, GCS, Azure and local files unchanged.)
pub fn basename(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for &b in name.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'$') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("={b:02X}"));
        }
    }
    if out.len() > MAX_BASENAME {
        let digest = hex(&Sha256::digest(name.as_bytes()));
        let mut cut = MAX_BASENAME - 18;
        // Never cut inside a `=XX` escape.
        if let Some(p) = out[..cut].rfind('=').filter(|p| p + 3 > cut) {
            cut = p;
        }
        out.truncate(cut);
        out.push_str("=_");
        out.push_str(&digest[..16]);
    }
    out
}

/// `<schema basename>@<table basename>`.
pub fn table_basename(schema: &str, table: &str) -> String {
    format!("{}@{}", basename(schema), basename(table))
}

/// The object name of data chunk `index` (from 0) of a table: `<base>@<index>.<ext>`, or
/// `<base>@@<index>.<ext>` for the last chunk (MySQL Shell's naming).
pub fn chunk_file(base: &str, index: usize, last: bool, compression: Compression) -> String {
    let at = if last { "@@" } else { "@" };
    format!("{base}{at}{index}.{}", compression.extension())
}

/// The object name of a table dumped as one stream: `<base>.<ext>`.
pub fn single_file(base: &str, compression: Compression) -> String {
    format!("{base}.{}", compression.extension())
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    out
}

/// Splits a `.sql` file of this format into statements: a line `DELIMITER x` switches the delimiter (initially
/// `;`), and a statement ends at a line that ends with the delimiter. `--` comment lines and blank lines
/// between statements are dropped. Also reads `mariadb-dump`/`mysqldump` output, whose statements follow the
/// same rules.
pub fn split_sql(text: &str) -> Vec<String> {
    let mut delimiter = ";".to_owned();
    let mut statements = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim_end();
        if current.is_empty() {
            let t = trimmed.trim_start();
            if t.is_empty() || t.starts_with("-- ") || t == "--" {
                continue;
            }
            if let Some(d) = t
                .strip_prefix("DELIMITER ")
                .or_else(|| t.strip_prefix("delimiter "))
            {
                delimiter = d.trim().to_owned();
                continue;
            }
        }
        if let Some(body) = trimmed.strip_suffix(delimiter.as_str()) {
            current.push_str(body);
            let statement = current.trim();
            if !statement.is_empty() {
                statements.push(statement.to_owned());
            }
            current.clear();
        } else {
            current.push_str(line);
            current.push('\n');
        }
    }
    let rest = current.trim();
    if !rest.is_empty() {
        statements.push(rest.to_owned());
    }
    statements
}

/// Formats statements as a `.sql` file the `mariadb` client also runs: `DELIMITER ;;`, each statement followed
/// by `;;` on its own line, `DELIMITER ;` at the end.
pub fn join_sql<S: AsRef<str>>(statements: &[S]) -> String {
    let mut out = String::from("-- bloodraven-backup\nDELIMITER ;;\n");
    for s in statements {
        out.push_str(s.as_ref());
        out.push('\n');
        out.push_str(SQL_DELIMITER);
        out.push('\n');
    }
    out.push_str("DELIMITER ;\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basenames_keep_safe_bytes_and_encode_the_rest() {
        assert_eq!(basename("orders_2024"), "orders_2024");
        assert_eq!(basename("a b@c.d"), "a=20b=40c=2Ed");
        assert_eq!(basename("ñ"), "=C3=B1");
        let long = "x".repeat(64) + &"é".repeat(30);
        let b = basename(&long);
        assert!(b.len() <= MAX_BASENAME, "{b}");
        assert!(b.contains("=_"));
        assert_ne!(b, basename(&(long.clone() + "y")));
        let kept = &b[..b.find("=_").unwrap()];
        assert!(kept.rfind('=').is_none_or(|p| p + 3 <= kept.len()), "{b}");
    }

    #[test]
    fn chunk_names_follow_mysql_shell() {
        assert_eq!(
            chunk_file("s@t", 0, false, Compression::Zstd),
            "s@t@0.tsv.zst"
        );
        assert_eq!(
            chunk_file("s@t", 3, true, Compression::Gzip),
            "s@t@@3.tsv.gz"
        );
        assert_eq!(single_file("s@t", Compression::None), "s@t.tsv");
    }

    #[test]
    fn sql_files_split_back_into_their_statements() {
        let statements = [
            "CREATE TABLE t (a INT)",
            "CREATE PROCEDURE p() BEGIN\n  SELECT 1;\n  SELECT 2;\nEND",
        ];
        assert_eq!(split_sql(&join_sql(&statements)), statements);
        let dump = "-- MariaDB dump\n\nSET NAMES utf8mb4;\nCREATE TABLE `t` (\n  `a` int\n);\n\
                    DELIMITER ;;\nCREATE TRIGGER x BEFORE INSERT ON t FOR EACH ROW BEGIN SET @a=1; END ;;\n\
                    DELIMITER ;\nINSERT INTO t VALUES (1);\n";
        assert_eq!(
            split_sql(dump),
            [
                "SET NAMES utf8mb4",
                "CREATE TABLE `t` (\n  `a` int\n)",
                "CREATE TRIGGER x BEFORE INSERT ON t FOR EACH ROW BEGIN SET @a=1; END",
                "INSERT INTO t VALUES (1)"
            ]
        );
    }

    #[test]
    fn encryption_marker_matches_go_json() {
        let mut files = BTreeMap::new();
        files.insert("b.tsv.zst".to_owned(), "00".to_owned());
        files.insert("@.json".to_owned(), "ff".to_owned());
        let marker = EncryptionMarker {
            version: 1,
            algorithm: "AES-256-GCM".into(),
            created_at: "2026-05-20T04:00:00Z".into(),
            file_count: 2,
            files,
        };
        assert_eq!(
            marker.to_go_json(),
            "{\n  \"version\": 1,\n  \"algorithm\": \"AES-256-GCM\",\n  \"createdAt\": \"2026-05-20T04:00:00Z\",\n  \
             \"fileCount\": 2,\n  \"files\": {\n    \"@.json\": \"ff\",\n    \"b.tsv.zst\": \"00\"\n  }\n}"
        );
    }
}
