//! Binlogs for point-in-time recovery: read them, describe them by GTID, archive them, plan restores.
//!
//! # Reading binlogs
//!
//! A MySQL or MariaDB binary log (format v4) is a magic number followed by events. Each event has a 19-byte
//! header (time, type, server id, size, next position, flags) and a body; the first event,
//! FORMAT_DESCRIPTION, says which server wrote the file, how long the headers of each event type are, and
//! whether every event ends with a CRC32. The [`reader`] module reads files as a stream with bounded memory,
//! verifies the checksums, decodes the events that matter for replication and recovery (ROTATE, STOP,
//! PREVIOUS_GTIDS, MySQL GTID / ANONYMOUS_GTID / GTID_TAGGED, XID, QUERY, TRANSACTION_PAYLOAD, MariaDB
//! GTID, GTID_LIST and BINLOG_CHECKPOINT) and passes over the rest by their length.
//!
//! A [`FileSummary`] describes one file the way an archive needs it: the GTIDs executed before it
//! (`previous_gtids`), those it contains (`gtids`) and the union of both (`end_gtids`), MariaDB GTIDs and
//! GTID list, the first and last event time, and how it ends — a ROTATE names the next file, a STOP marks
//! a shutdown, and no closing event means the server still writes it (or crashed). Corrupt input is an
//! [`Error`] naming the byte offset and the event, never a panic.
//!
//! ```
//! use std::path::Path;
//!
//! use bloodraven_binlog::reader::{self, Terminal};
//! use bloodraven_gtid::GtidSet;
//!
//! # let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/fixtures/binlog/percona-binlog-server");
//! # let path = Path::new(dir).join("binlog.000002");
//! let summary = reader::summarize_file(&path)?;
//! let uuid = "396e294c-1ca4-11f1-9ae7-00155da79c6b";
//! assert_eq!(summary.previous_gtids, Some(GtidSet::parse(&format!("{uuid}:1-4"))?));
//! assert_eq!(summary.gtids, GtidSet::parse(&format!("{uuid}:5-6"))?);
//! assert_eq!(summary.end_gtids, Some(GtidSet::parse(&format!("{uuid}:1-6"))?));
//! assert_eq!(summary.terminal, Some(Terminal::Stop));
//!
//! // Or event by event:
//! for event in reader::Reader::new(std::fs::File::open(&path)?) {
//!     let event = event?;
//!     println!("{} {} {}", event.offset(), event.event_type(), event.header().event_size);
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Archive and point-in-time recovery
//!
//! The archive keeps sealed binlogs in any [`object_store`] backend (local filesystem, in-memory, S3 and
//! S3-compatible endpoints with the `aws` feature, GCS with `gcp`, Azure with `azure`) under
//! `<prefix>/<site>/<name>`, indexed per site by `manifest-<site>.json` ([`manifest`]), which the Go
//! implementation reads and writes byte for byte; our entries add the contained GTIDs, end GTIDs, the
//! plaintext SHA-256 and the server UUID (MariaDB: the binlog state at both ends of the file).
//!
//! - [`archive::Archiver`] runs one cycle at a time: only when the caller's gate says the server is
//!   writable, it streams every sealed file named by the binlog index (all but the last) through optional
//!   BRV1 encryption into the store, object first, then adds the entry with a conditional
//!   read-modify-write of the manifest. Killing it at any point loses nothing and duplicates nothing.
//!   Files are recognised by content (size, start state, first event time), not by name alone: when a
//!   rebuilt server restarts numbering, its files are archived as a new generation
//!   (`mysql-bin.g0002.000001`, ...) beside the previous server's instead of being skipped or overwriting
//!   them, named so that the Go restore's by-name replay keeps the servers in order (see [`manifest`]).
//!   Retention ([`archive::Archiver::prune`]) removes manifest entries first and objects second.
//! - [`continuity::check`] verifies that each site's files chain and that the archive covers a gap-free
//!   GTID history from a dump's GTID set to the newest archived transaction, naming any gap precisely.
//! - [`pitr::plan`] orders the files to replay from the dump's set to a target (latest, a time, a GTID
//!   set inclusive or exclusive) by GTID continuity across sites and failovers, never by file name across
//!   servers; [`pitr::download`] fetches them, decrypting and verifying, into a directory. Go-written
//!   manifests give the newest file of each site no end set: [`pitr::learn_end_sets`] reads such files from
//!   the store so they can be planned, and a plan that leaves one out while it may hold transactions of the
//!   target is incomplete.
//!
//! ```
//! # use std::sync::Arc;
//! use bloodraven_binlog::archive::{ArchiveStore, Archiver};
//! use bloodraven_binlog::continuity::History;
//! use bloodraven_binlog::manifest::{ArchiveLayout, SiteName};
//! use bloodraven_binlog::pitr::{self, Target};
//!
//! # let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/fixtures/binlog/percona-binlog-server");
//! # let binlogs = tempfile::tempdir()?;
//! # for (i, name) in ["binlog.000001", "binlog.000002", "binlog.000002"].iter().enumerate() {
//! #     std::fs::copy(format!("{fixtures}/{name}"), binlogs.path().join(format!("mysql-bin.00000{}", i + 1)))?;
//! # }
//! # std::fs::write(binlogs.path().join("mysql-bin.index"), "./mysql-bin.000001\n./mysql-bin.000002\n./mysql-bin.000003\n")?;
//! # let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
//! # runtime.block_on(async {
//! let store = Arc::new(object_store::memory::InMemory::new());
//! let archive = ArchiveStore::new(store, ArchiveLayout::for_profile_prefix("orders"));
//! let site = SiteName::parse("iad")?;
//! let archiver = Archiver::new(archive.clone(), site.clone(), binlogs.path());
//! let report = archiver.run_cycle(&true).await?; // `true`: the server is writable
//! assert_eq!(report.archived, ["mysql-bin.000001", "mysql-bin.000002"]);
//!
//! let manifests = vec![archive.load_manifest(&site).await?];
//! let plan = pitr::plan(&manifests, &History::new(), &Target::Latest)?;
//! assert!(plan.is_complete());
//! assert_eq!(plan.recovered.to_string(), "396e294c-1ca4-11f1-9ae7-00155da79c6b:1-6");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Command-line tool
//!
//! With the default `cli` feature the crate builds `bloodraven-binlog`: `scan FILE... [--json]` prints each
//! file's summary and `events FILE` lists the events of one file. `archive-check`, `pitr-plan` and
//! `pitr-download` run the continuity check, the planner and the download against an archive given by a
//! store URL (`file:///...`, `s3://bucket` with `AWS_*` variables) and a prefix.
//!
//! # Crate features
//!
//! - `cli` (default): the `bloodraven-binlog` binary.
//! - `aws`, `gcp`, `azure`: object_store's S3 (and S3-compatible), Google Cloud Storage and Azure Blob
//!   Storage backends for the archive (each pulls in an HTTP client with rustls; the local filesystem and
//!   in-memory stores need no feature).

#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod archive;
pub mod continuity;
mod error;
pub mod manifest;
pub mod pitr;
pub mod reader;

pub use error::{CorruptKind, Error};
/// The object store crate of the archive API ([`archive::ArchiveStore::new`] takes any of its stores).
pub use object_store;
pub use reader::FileSummary;
