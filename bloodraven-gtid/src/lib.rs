//! MySQL GTID set algebra with exact server semantics: tagged GTIDs (MySQL 8.3+), the binary encodings of
//! the binlog and replication protocol, and MariaDB GTID positions.
//!
//! Every failover decision is a question about GTID sets: which replica is freshest, whether a switchover
//! target holds everything the old primary committed, which transactions a failed primary lost. This crate
//! answers them with the same results the MySQL server gives for `GTID_SUBSET`, `GTID_SUBTRACT` and
//! `@@gtid_executed`, in time linear in the number of intervals.
//!
//! # Model
//!
//! A GTID is `uuid[:tag]:gno`: the [`ServerUuid`] of the server that committed the transaction, an optional
//! [`Tag`] (MySQL 8.3+; the empty tag means untagged) and a sequence number (GNO) from 1 to [`MAX_GNO`]
//! (2^63-2). A (uuid, tag) pair is a *TSID*; tagged and untagged GTIDs of one UUID are separate sequences.
//!
//! A [`GtidSet`] holds, for each TSID, a list of inclusive [`Interval`]s that is sorted, disjoint and merged
//! (no two intervals overlap or touch). That form is canonical: equal sets have equal representations.
//! Union, intersection, difference, symmetric difference, subset and disjointness walk both sets once;
//! [`GtidSet::compare`] classifies two sets as a [`SetRelation`] (equal, subset, superset, disjoint or
//! incomparable, the split-brain case). [`GtidSetBuilder`] collects GTIDs in any order.
//!
//! ```
//! use bloodraven_gtid::{Gtid, GtidSet, SetRelation};
//!
//! // What the old primary committed, and what the most advanced replica received.
//! let old_primary: GtidSet = "3E11FA47-71CA-11E1-9E33-C80AA9429562:1-100,
//!                             0e2fa4c3-3b1e-11ee-9b6d-0242ac120002:1-7".parse()?;
//! let replica = GtidSet::parse("3e11fa47-71ca-11e1-9e33-c80aa9429562:1-97, 0e2fa4c3-3b1e-11ee-9b6d-0242ac120002:1-7")?;
//!
//! assert_eq!(replica.compare(&old_primary), SetRelation::Subset);
//! let lost = old_primary.difference(&replica);
//! assert_eq!(lost.to_string(), "3e11fa47-71ca-11e1-9e33-c80aa9429562:98-100");
//! assert_eq!(lost.count(), 3);
//! assert!(lost.contains(&"3e11fa47-71ca-11e1-9e33-c80aa9429562:99".parse::<Gtid>()?));
//!
//! // The binary form of PREVIOUS_GTIDS events and COM_BINLOG_DUMP_GTID round-trips.
//! assert_eq!(GtidSet::decode(&replica.encode())?, replica);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! `examples/freshest.rs` is a complete program that picks the freshest of several replicas and reports
//! what the others lack or whether they diverged.
//!
//! # MySQL canonical text
//!
//! [`GtidSet`]'s `Display` prints exactly what MySQL prints for `@@gtid_executed` or `GTID_SUBTRACT(..)`
//! (`Gtid_set::to_string`):
//!
//! - UUIDs in lower case, blocks sorted by the UUID's 16 bytes;
//! - within one UUID, the UUID is printed once: its untagged intervals first, then each tag in order as
//!   `:tag:intervals`, e.g. `uuid:1-5:7:tag_a:1-2:tag_b:3`;
//! - intervals merged and ascending, a single GNO as `7`, never `7-7`;
//! - blocks joined by `",\n"` (comma, newline); the empty set is the empty string.
//!
//! [`GtidSet::to_text`] gives the same text as `to_string()`, faster (written in place into one
//! allocation, without a formatter), and [`GtidSet::write_text`] appends it to a `String` you reuse,
//! without allocating: use them where printing is hot. [`GtidSet::to_compact_string`] gives
//! the same text on one line (blocks joined by `","`), for logs and JSON; the `serde` feature uses it.
//!
//! # MySQL text parsing
//!
//! [`GtidSet::parse`] follows the server's `Gtid_set::add_gtid_text` (8.3+), quirks included:
//!
//! - whitespace (space, tab, newline, CR, VT, FF) is allowed around every token, so the server's own
//!   `",\n"` output parses back;
//! - UUIDs are 36 characters, `8-4-4-4-12` hex digits in either case ([`ServerUuid`]'s `FromStr`
//!   also takes 32 digits without dashes or braces, as MySQL's `Uuid::parse` does);
//! - a UUID may repeat, and items may come in any order: `uuid:1-5:7, uuid:6` is `uuid:1-7`;
//! - empty items are skipped: `""`, `","`, `"uuid:1,,"` and a bare `uuid` are fine;
//! - after `:` comes a tag or an interval. A tag (`[A-Za-z_][A-Za-z0-9_]{0,31}`, lower-cased) applies to the
//!   intervals after it until the next tag or `,`; a tag with no intervals adds nothing (`uuid:a:b:c` is
//!   empty). Whitespace alone between two `:` switches back to untagged;
//! - a GNO is read like C's `strtoll(.., 0)`, as the server does: an optional sign, then decimal digits, or
//!   octal after a leading `0`, or hex after `0x` (`uuid:0x10` is `uuid:16`). A start of 0, a negative
//!   number, or a number above [`MAX_GNO`] is an error;
//! - an interval whose end is before its start is silently ignored (`uuid:5-4` is empty), and so is one
//!   whose end is missing or 0 (`uuid:5-`), because the server only adds an interval when `end > start`.
//!
//! Errors ([`Error`]) carry the byte offset and what was expected there, e.g.
//! `invalid gtid set at byte 39: expected ':', ',' or the end of the set, found 'x'`.
//!
//! # Binary encoding
//!
//! [`GtidSet::encode`] and [`GtidSet::decode`] use the layout of `PREVIOUS_GTIDS` events and the
//! `COM_BINLOG_DUMP_GTID` command (`Gtid_set::encode`), little-endian throughout:
//!
//! ```text
//! untagged: n_tsids: u64 (top byte 0)   then per TSID: uuid[16]                   n: u64  (start: i64, end_exclusive: i64) * n
//! tagged:   01 | n_tsids: 6 bytes | 01  then per TSID: uuid[16] varint tag_len tag  n: u64  (start: i64, end_exclusive: i64) * n
//! ```
//!
//! The tagged format is written only when some GTID has a tag. Decoding rejects truncated input, counts
//! that overrun the buffer, intervals that are empty, unsorted, overlapping or touching, non-canonical tags
//! and trailing bytes, naming the byte offset.
//!
//! # MariaDB
//!
//! MariaDB GTIDs are a different model: `domain-server_id-seq` ([`MariadbGtid`]), and positions such as
//! `@@gtid_binlog_pos` are lists with one GTID per replication domain ([`MariadbGtidList`]), compared
//! per domain by sequence number.
//!
//! # Features
//!
//! - `cli` (default): the `gtid` command-line tool (`gtid union`, `subtract`, `compare`, `encode`, ...; run
//!   `gtid --help`). Library users can set `default-features = false` to avoid its dependencies.
//! - `serde`: `Serialize`/`Deserialize` for every type, as its text form.
//!
//! The crate has no dependencies without these features and never panics on input. Its only `unsafe`
//! code is in two modules, each for a gain measured in the repository's docs/benchmarks.md: one skips
//! re-validating, as UTF-8, the ASCII text the printer has just written, and on x86-64 the other calls the
//! SSE2 functions that print and read a UUID's hex digits (every x86-64 CPU has SSE2).
// Denied, not forbidden: `set/text.rs` allows it in module `ascii` (skipping the UTF-8 check of text the
// crate itself wrote as ASCII) and `uuid.rs` in module `sse2` (calling its two SSE2 functions), for gains
// measured in docs/benchmarks.md.
#![deny(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![doc(test(attr(deny(warnings))))]

mod error;
mod gtid;
mod mariadb;
#[cfg(feature = "serde")]
mod serde_impl;
mod set;
mod tag;
mod uuid;

pub use error::Error;
pub use gtid::{Gtid, Interval, MAX_GNO};
pub use mariadb::{MariadbGtid, MariadbGtidList};
pub use set::{EncodingFormat, GtidSet, GtidSetBuilder, SetRelation};
pub use tag::Tag;
pub use uuid::ServerUuid;
