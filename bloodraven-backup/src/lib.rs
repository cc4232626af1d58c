//! Native parallel dumps and loads of MySQL and MariaDB servers to object stores, with BRV1 encryption and
//! restores that prove where they ended.
//!
//! # The model
//!
//! A **dump** is a directory of objects in a store (a local directory, a PVC path, an S3 bucket prefix):
//! DDL files, one metadata file per table, and the table data cut into **chunks** — ranges of an integer
//! primary (or NOT NULL unique) key, or the whole table in one stream when there is no such key. Every chunk
//! is tab-separated text ([`tsv`], MySQL Shell's dialect), compressed (zstd by default), optionally
//! BRV1-encrypted, and streamed straight into the store: nothing is staged on local disk and memory is
//! bounded by the chunks in flight.
//!
//! All N connections of a dump read one **consistent snapshot**, and the GTID state and binlog position
//! are read *at* that snapshot (not before it, as the Go implementation did), so a restore followed by
//! binlog replay from that GTID state is exact. `@.json` records them; `@.done.json`, written **last**,
//! lists the size and SHA-256 of every other object. A directory without it is an incomplete dump that is
//! never restored. [`format`](mod@format) names every object; docs/backup-format.md in the repository
//! describes every field.
//!
//! ```text
//!            snapshot (BACKUP STAGE BLOCK_COMMIT / FTWRL for an instant)
//!   source ──► N × START TRANSACTION WITH CONSISTENT SNAPSHOT + gtid_binlog_pos / gtid_executed
//!                   │  chunk = SELECT … WHERE key range
//!                   ▼
//!             TSV ─► zstd ─► SHA-256 ─► [BRV1] ─► store (multipart)      @.json, @.done.json last
//!
//!   store ──► open_dump: marker, sizes ──► DDL ──► N × LOAD DATA LOCAL INFILE (stream: [BRV1] ─►
//!             SHA-256 check ─► unzstd), one transaction per chunk ──► secondary indexes (per table, once
//!             its last chunk is in) ──► triggers, views, routines, events,
//!             users ──► gtid_slave_pos / gtid_binlog_state / gtid_purged ──► GTID and row-count check
//! ```
//!
//! A **restore** goes into an empty server and only reports success when the server's GTID state equals
//! the dump's and every table has the recorded number of rows. A **schema restore**
//! ([`RestoreOptions::include_schemas`]) instead drops and reloads some schemas of a live primary, binlogged so
//! that its replicas follow, leaving its other schemas, accounts and GTID state alone. [`pitr::replay`] then
//! replays a binlog archive (the `bloodraven-binlog` plan and verified download, `mariadb-binlog | mariadb`)
//! to the latest transaction, a time or a GTID set, and fails unless the server reached the planned GTID state.
//! Its steps are public too: [`pitr::preflight`] plans, [`pitr::DownloadTask`] downloads beside the restore
//! ([`restore::restore_dump`] of the dump opened for the plan), [`pitr::Downloaded::apply`] replays.
//!
//! A **verification** ([`verify::verify`]) does all of that in a [`ThrowawayServer`] the library starts
//! (own data directory, 127.0.0.1, a free port), adds a per-table checksum report (of the tables as dumped,
//! taken beside the replay) and an optional sanity query under a time budget, times each phase, and tears the
//! server down — or keeps it when something failed.
//!
//! **Retention** ([`retention`]) lists the dumps under a prefix, picks the newest *complete* one, and
//! deletes whole dump directories by count, age, `minKeep` and `maxFailedKeep`, the completion marker
//! first.
//!
//! Other tools' dumps: [`sqlfile`] loads a `mariadb-dump`/`mysqldump` file or a mydumper directory as a
//! stream of statements, and [`transfer`] encrypts any dump directory into a store (and back) in the Go
//! implementation's layout, with its `BLOODRAVEN_ENCRYPTION.json` marker.
//!
//! Plain secondary indexes of InnoDB tables are created after their table's data (the server builds them
//! by sorting, which is faster; [`RestoreOptions::defer_indexes`] turns it off).
//!
//! Not yet: the throwaway verification server is MariaDB only; dumps and restores of MySQL use the same code paths
//! (`FLUSH TABLES WITH READ LOCK`, `gtid_executed`, `gtid_purged`) but are not tested against a MySQL
//! server here.
//!
//! # Example
//!
//! ```no_run
//! use bloodraven_backup::{ConnectOptions, DumpLocation, DumpOptions, RestoreOptions, dump, restore};
//!
//! # async fn run() -> Result<(), bloodraven_backup::Error> {
//! let source = ConnectOptions::new("10.0.0.5", 3306).with_credentials("backup", Some("secret".into()));
//! let to = DumpLocation::parse("file:///backups/orders-2026-05-20")?;
//! let report = dump::dump(&source, &to, &DumpOptions::default()).await?;
//! println!("{}", report.log_line()); // BLOODRAVEN_DUMP_COMPLETE location=… gtidExecuted=0-1-4711 …
//!
//! let target = ConnectOptions::new("127.0.0.1", 3307);
//! let restored = restore::restore(&target, &to, &RestoreOptions::default()).await?;
//! assert_eq!(restored.gtid_executed, report.meta.gtid_executed);
//! # Ok(())
//! # }
//! ```
//!
//! # Command-line tool
//!
//! With the default `cli` feature the crate builds `bloodraven-backup`: `dump --to URL`, `restore --from
//! URL` (with `--binlog-archive URL` and `--latest`, `--stop-datetime T` or `--stop-gtid SET` for PITR,
//! `--dry-run` for the recoverability report, `--include-schema NAME` for a schema restore), `verify --from
//! URL` (same PITR options, `--sanity-query Q --min-rows N`), `list --under URL` and `prune --under URL`. URLs are `file:///dir` or
//! `s3://bucket/prefix` (S3 settings from `AWS_*` variables); the server options follow the `mariadb`
//! client (`--host`, `--port`, `--user`, password from `MYSQL_PWD` or `--password-file`), plus
//! `--passphrase-file`, `--threads` and `--json`; `restore --from-sql FILE` and `--from-mydumper DIR` load
//! other tools' dumps; `encrypt-upload` and `decrypt-download` move external directories. It exits 0 only for a complete, checked result, 1 when a
//! verification found a problem, 2 on errors.
//!
//! # Crate features
//!
//! - `cli` (default): the `bloodraven-backup` binary.
//! - `aws` (default): S3 and S3-compatible stores (object_store's `aws`).
//!
//! For details, see [`format`](mod@format), [`dump::dump`], [`restore::restore`], [`pitr`], [`verify`]
//! and [`Error`].

#![cfg_attr(docsrs, feature(doc_cfg))]

mod conn;
pub mod dump;
mod error;
pub mod format;
mod gtid;
pub mod pitr;
mod progress;
pub mod restore;
pub mod retention;
pub mod server;
pub mod sqlfile;
mod store;
pub mod transfer;
pub mod tsv;
pub mod verify;

/// The binlog crate, whose archive store and targets [`pitr`] takes.
pub use bloodraven_binlog;
/// The BRV1 passphrase type of [`DumpOptions::passphrase`] and [`RestoreOptions::passphrase`].
pub use bloodraven_brv1::Passphrase;
pub use conn::ConnectOptions;
pub use dump::{DumpOptions, DumpReport, SYSTEM_SCHEMAS};
pub use error::Error;
pub use gtid::compare as compare_gtid_state;
/// The object store crate ([`DumpLocation::new`] takes any of its stores).
pub use object_store;
pub use progress::{Progress, ProgressSnapshot};
pub use restore::{RestoreOptions, RestoreReport};
pub use server::{ServerOptions, ThrowawayServer};
pub use store::DumpLocation;
pub use verify::{VerificationReport, VerifyOptions};
