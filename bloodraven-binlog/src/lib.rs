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
//! # Command-line tool
//!
//! With the default `cli` feature the crate builds `bloodraven-binlog`: `scan FILE... [--json]` prints each
//! file's summary and `events FILE` lists the events of one file.
//!
//! # Crate features
//!
//! - `cli` (default): the `bloodraven-binlog` binary.

#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod archive;
pub mod continuity;
mod error;
pub mod manifest;
pub mod pitr;
pub mod reader;

pub use error::{CorruptKind, Error};
pub use reader::FileSummary;
