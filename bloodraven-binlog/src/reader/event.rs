//! Binlog events: the common header, the event types, and the typed bodies the reader understands.

use std::fmt;

use bloodraven_gtid::{Gtid, GtidSet, MariadbGtid};
use bytes::Bytes;

use super::parse;
use crate::Error;

/// A binlog event type code (the fifth byte of the common header).
///
/// The names are MySQL's `*_EVENT` names without the suffix; MariaDB-only types (160 and up) carry a
/// `MARIADB_` prefix. Codes this reader does not know print as `UNKNOWN_<code>`.
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub struct EventType(pub u8);

macro_rules! event_types {
    ($($(#[$doc:meta])* $name:ident = $code:literal, $text:literal;)*) => {
        impl EventType {
            $($(#[$doc])* pub const $name: EventType = EventType($code);)*

            /// The type's name, or `None` for a code this reader does not know.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($code => Some($text),)*
                    _ => None,
                }
            }
        }
    };
}

event_types! {
    /// `START_EVENT_V3`: the first event of binlog format v1/v3 (MySQL before 5.0).
    START_V3 = 1, "START_V3";
    /// A statement (`BEGIN`, DDL, statement-based DML).
    QUERY = 2, "QUERY";
    /// The server stopped; the last event of a file closed by a shutdown.
    STOP = 3, "STOP";
    /// The server moved on to the next file; the last event of a rotated file.
    ROTATE = 4, "ROTATE";
    /// An `INSERT_ID` or `LAST_INSERT_ID` value for the next statement.
    INTVAR = 5, "INTVAR";
    /// `LOAD DATA` (MySQL 3.23).
    LOAD = 6, "LOAD";
    /// Unused.
    SLAVE = 7, "SLAVE";
    /// `LOAD DATA` file start (MySQL 4.0).
    CREATE_FILE = 8, "CREATE_FILE";
    /// A block of a `LOAD DATA` file.
    APPEND_BLOCK = 9, "APPEND_BLOCK";
    /// Executes a `LOAD DATA` (MySQL 4.0).
    EXEC_LOAD = 10, "EXEC_LOAD";
    /// Deletes a `LOAD DATA` file.
    DELETE_FILE = 11, "DELETE_FILE";
    /// `LOAD DATA` (MySQL 4.0).
    NEW_LOAD = 12, "NEW_LOAD";
    /// `RAND()` seeds for the next statement.
    RAND = 13, "RAND";
    /// A user variable for the next statement.
    USER_VAR = 14, "USER_VAR";
    /// Describes the file's format: server version, header length, checksum algorithm.
    FORMAT_DESCRIPTION = 15, "FORMAT_DESCRIPTION";
    /// Commits an XA-less InnoDB transaction.
    XID = 16, "XID";
    /// The first block of a `LOAD DATA` file.
    BEGIN_LOAD_QUERY = 17, "BEGIN_LOAD_QUERY";
    /// Executes a `LOAD DATA` statement.
    EXECUTE_LOAD_QUERY = 18, "EXECUTE_LOAD_QUERY";
    /// Maps a table id to a table for the rows events that follow.
    TABLE_MAP = 19, "TABLE_MAP";
    /// Rows written (MySQL 5.1 pre-GA).
    PRE_GA_WRITE_ROWS = 20, "PRE_GA_WRITE_ROWS";
    /// Rows updated (MySQL 5.1 pre-GA).
    PRE_GA_UPDATE_ROWS = 21, "PRE_GA_UPDATE_ROWS";
    /// Rows deleted (MySQL 5.1 pre-GA).
    PRE_GA_DELETE_ROWS = 22, "PRE_GA_DELETE_ROWS";
    /// Rows written, format v1 (MySQL 5.1–5.5, MariaDB).
    WRITE_ROWS_V1 = 23, "WRITE_ROWS_V1";
    /// Rows updated, format v1.
    UPDATE_ROWS_V1 = 24, "UPDATE_ROWS_V1";
    /// Rows deleted, format v1.
    DELETE_ROWS_V1 = 25, "DELETE_ROWS_V1";
    /// Something happened that replicas must know about (for example lost events).
    INCIDENT = 26, "INCIDENT";
    /// A replication heartbeat (never in files).
    HEARTBEAT = 27, "HEARTBEAT";
    /// An event a reader may ignore.
    IGNORABLE = 28, "IGNORABLE";
    /// The statement that produced the following rows events.
    ROWS_QUERY = 29, "ROWS_QUERY";
    /// Rows written, format v2 (MySQL 5.6+).
    WRITE_ROWS_V2 = 30, "WRITE_ROWS_V2";
    /// Rows updated, format v2.
    UPDATE_ROWS_V2 = 31, "UPDATE_ROWS_V2";
    /// Rows deleted, format v2.
    DELETE_ROWS_V2 = 32, "DELETE_ROWS_V2";
    /// The GTID of the next transaction (MySQL 5.6+).
    GTID = 33, "GTID";
    /// Marks a transaction without a GTID (MySQL 5.7+).
    ANONYMOUS_GTID = 34, "ANONYMOUS_GTID";
    /// The GTIDs executed before this file (MySQL 5.6+).
    PREVIOUS_GTIDS = 35, "PREVIOUS_GTIDS";
    /// Group replication certification data.
    TRANSACTION_CONTEXT = 36, "TRANSACTION_CONTEXT";
    /// Group replication view change.
    VIEW_CHANGE = 37, "VIEW_CHANGE";
    /// `XA PREPARE`.
    XA_PREPARE = 38, "XA_PREPARE";
    /// A partial JSON update.
    PARTIAL_UPDATE_ROWS = 39, "PARTIAL_UPDATE_ROWS";
    /// A compressed transaction (MySQL 8.0.20+).
    TRANSACTION_PAYLOAD = 40, "TRANSACTION_PAYLOAD";
    /// A replication heartbeat, version 2 (never in files).
    HEARTBEAT_V2 = 41, "HEARTBEAT_V2";
    /// The GTID of the next transaction, possibly tagged (MySQL 8.3+).
    GTID_TAGGED = 42, "GTID_TAGGED";
    /// The statement behind the following rows events (MariaDB).
    MARIADB_ANNOTATE_ROWS = 160, "MARIADB_ANNOTATE_ROWS";
    /// The oldest binlog still needed for crash recovery (MariaDB).
    MARIADB_BINLOG_CHECKPOINT = 161, "MARIADB_BINLOG_CHECKPOINT";
    /// The GTID of the next event group (MariaDB).
    MARIADB_GTID = 162, "MARIADB_GTID";
    /// The binlog GTID state at the start of the file (MariaDB).
    MARIADB_GTID_LIST = 163, "MARIADB_GTID_LIST";
    /// The rest of the file is encrypted (MariaDB).
    MARIADB_START_ENCRYPTION = 164, "MARIADB_START_ENCRYPTION";
    /// A compressed QUERY (MariaDB).
    MARIADB_QUERY_COMPRESSED = 165, "MARIADB_QUERY_COMPRESSED";
    /// Compressed rows written, v1 (MariaDB).
    MARIADB_WRITE_ROWS_COMPRESSED_V1 = 166, "MARIADB_WRITE_ROWS_COMPRESSED_V1";
    /// Compressed rows updated, v1 (MariaDB).
    MARIADB_UPDATE_ROWS_COMPRESSED_V1 = 167, "MARIADB_UPDATE_ROWS_COMPRESSED_V1";
    /// Compressed rows deleted, v1 (MariaDB).
    MARIADB_DELETE_ROWS_COMPRESSED_V1 = 168, "MARIADB_DELETE_ROWS_COMPRESSED_V1";
    /// Compressed rows written (MariaDB).
    MARIADB_WRITE_ROWS_COMPRESSED = 169, "MARIADB_WRITE_ROWS_COMPRESSED";
    /// Compressed rows updated (MariaDB).
    MARIADB_UPDATE_ROWS_COMPRESSED = 170, "MARIADB_UPDATE_ROWS_COMPRESSED";
    /// Compressed rows deleted (MariaDB).
    MARIADB_DELETE_ROWS_COMPRESSED = 171, "MARIADB_DELETE_ROWS_COMPRESSED";
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "UNKNOWN_{}", self.0),
        }
    }
}

/// The common header every v4 event starts with (19 bytes).
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct EventHeader {
    /// Seconds since the Unix epoch when the statement began (0 for artificial events).
    pub timestamp: u32,
    /// The event type.
    pub event_type: EventType,
    /// The `server_id` of the server that originated the event.
    pub server_id: u32,
    /// The size of the whole event: header, body and checksum.
    pub event_size: u32,
    /// The offset of the next event in the source's binlog (0 for events inside a TRANSACTION_PAYLOAD).
    pub log_pos: u32,
    /// Header flags, e.g. [`EventHeader::FLAG_IN_USE`] on a FORMAT_DESCRIPTION event.
    pub flags: u16,
}

impl EventHeader {
    /// `LOG_EVENT_BINLOG_IN_USE_F`: on the FORMAT_DESCRIPTION event, the server had the file open.
    pub const FLAG_IN_USE: u16 = 0x0001;
    /// `LOG_EVENT_RELAY_LOG_F`: the event was written by a replica's I/O thread into a relay log.
    pub const FLAG_RELAY_LOG: u16 = 0x0040;
    /// The size of the v4 common header.
    pub const LEN: usize = 19;

    /// Reads a header from the first 19 bytes of `b` (the caller checks the length).
    pub(crate) fn parse(b: &[u8]) -> EventHeader {
        let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        EventHeader {
            timestamp: u32_at(0),
            event_type: EventType(b[4]),
            server_id: u32_at(5),
            event_size: u32_at(9),
            log_pos: u32_at(13),
            flags: u16::from_le_bytes([b[17], b[18]]),
        }
    }
}

/// One event as read from a binlog: its position, header and bytes. [`Event::data`] decodes the body.
#[derive(Clone, Debug)]
pub struct Event {
    pub(crate) offset: u64,
    pub(crate) header: EventHeader,
    pub(crate) raw: Bytes,
    pub(crate) header_len: u8,
    pub(crate) post_header_len: u8,
    pub(crate) checksum_len: u8,
}

impl Event {
    /// The byte offset of the event in the file.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The common header.
    pub fn header(&self) -> &EventHeader {
        &self.header
    }

    /// The event type.
    pub fn event_type(&self) -> EventType {
        self.header.event_type
    }

    /// The whole event as stored: header, body and checksum.
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    /// The body: the bytes after the common header, without the trailing checksum.
    pub fn body(&self) -> &[u8] {
        &self.raw[usize::from(self.header_len)..self.raw.len() - usize::from(self.checksum_len)]
    }

    /// Decodes the body of the types this reader understands; every other type is [`EventData::Other`].
    pub fn data(&self) -> Result<EventData<'_>, Error> {
        parse::event_data(self)
    }
}

/// The decoded body of an event.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum EventData<'a> {
    /// `FORMAT_DESCRIPTION`.
    FormatDescription(FormatDescription),
    /// `ROTATE`: the next file.
    Rotate(Rotate<'a>),
    /// `STOP`.
    Stop,
    /// `PREVIOUS_GTIDS`: the GTIDs executed before this file (either binary encoding).
    PreviousGtids(GtidSet),
    /// `GTID`, `ANONYMOUS_GTID` or `GTID_TAGGED`.
    Gtid(GtidEvent),
    /// `XID`: a transaction commit.
    Xid(u64),
    /// `QUERY`.
    Query(Query<'a>),
    /// `TRANSACTION_PAYLOAD`, left compressed.
    TransactionPayload(TransactionPayload<'a>),
    /// `INCIDENT`.
    Incident(Incident<'a>),
    /// MariaDB `GTID`.
    MariadbGtid(MariadbGtidEvent),
    /// MariaDB `GTID_LIST`: one entry per (domain, server id), the most recent of each domain last.
    MariadbGtidList(Vec<MariadbGtid>),
    /// MariaDB `BINLOG_CHECKPOINT`: the oldest file still needed for crash recovery.
    MariadbBinlogCheckpoint(&'a [u8]),
    /// Any other type: use [`Event::header`] and [`Event::body`].
    Other,
}

/// How the events of a file are checksummed.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum Checksum {
    /// Every event ends with a CRC32 of its bytes (`binlog_checksum=CRC32`).
    Crc32,
    /// No checksums (`binlog_checksum=NONE`); the FORMAT_DESCRIPTION event still carries one.
    Off,
    /// A server older than MySQL 5.6.1 / MariaDB 5.3, which knows no checksums (or the algorithm byte
    /// `BINLOG_CHECKSUM_ALG_UNDEF`, 255).
    None,
}

impl Checksum {
    /// `crc32`, `off` or `none`.
    pub fn as_str(self) -> &'static str {
        match self {
            Checksum::Crc32 => "crc32",
            Checksum::Off => "off",
            Checksum::None => "none",
        }
    }
}

/// The server family that wrote a file.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum Flavor {
    /// MariaDB (the server version contains `MariaDB`).
    Mariadb,
    /// MySQL, Percona Server, Aurora MySQL.
    Mysql,
}

impl Flavor {
    /// `mysql` or `mariadb`.
    pub fn as_str(self) -> &'static str {
        match self {
            Flavor::Mariadb => "mariadb",
            Flavor::Mysql => "mysql",
        }
    }
}

/// A FORMAT_DESCRIPTION event: how to read the events after it.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct FormatDescription {
    /// The binlog format version (4).
    pub binlog_version: u16,
    /// The server version, e.g. `10.11.6-MariaDB-log`.
    pub server_version: String,
    /// Seconds since the epoch when the server started (0 except in the first file after a start).
    pub create_timestamp: u32,
    /// The common header length of the following events (19).
    pub header_len: u8,
    /// The post-header length of each event type, indexed by type code − 1.
    pub post_header_lens: Vec<u8>,
    /// The checksum algorithm of the following events.
    pub checksum: Checksum,
    /// MySQL or MariaDB.
    pub flavor: Flavor,
}

impl FormatDescription {
    /// The post-header length of `event_type` (0 when the table does not reach it).
    pub fn post_header_len(&self, event_type: EventType) -> u8 {
        usize::from(event_type.0)
            .checked_sub(1)
            .and_then(|i| self.post_header_lens.get(i))
            .copied()
            .unwrap_or(0)
    }
}

/// A ROTATE event.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct Rotate<'a> {
    /// The offset of the first event in the next file (4).
    pub position: u64,
    /// The next file's name, e.g. `mysql-bin.000043`.
    pub next_file: &'a [u8],
}

/// Which kind of GTID event a [`GtidEvent`] came from.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum GtidKind {
    /// `ANONYMOUS_GTID`: a transaction without a GTID.
    Anonymous,
    /// `GTID`.
    Gtid,
    /// `GTID_TAGGED`, MySQL 8.3+ (tagged or not).
    Tagged,
}

/// A MySQL GTID, ANONYMOUS_GTID or GTID_TAGGED event. Fields a server version does not write are `None`.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct GtidEvent {
    /// Which event this was.
    pub kind: GtidKind,
    /// The transaction's GTID; `None` for anonymous transactions.
    pub gtid: Option<Gtid>,
    /// `gtid_flags` (bit 0: may have changed data outside a transaction).
    pub flags: u8,
    /// Logical clock: the sequence number of the last transaction this one depends on (5.7+).
    pub last_committed: Option<i64>,
    /// Logical clock: this transaction's sequence number (5.7+).
    pub sequence_number: Option<i64>,
    /// Microseconds since the epoch when the transaction committed on this server (8.0.1+).
    pub immediate_commit_timestamp: Option<u64>,
    /// Microseconds since the epoch when the transaction committed on its originating server (8.0.1+).
    pub original_commit_timestamp: Option<u64>,
    /// The size of the transaction in the binlog, GTID event included (8.0.2+).
    pub transaction_length: Option<u64>,
    /// The version of this server, e.g. 80032 (8.0.14+).
    pub immediate_server_version: Option<u32>,
    /// The version of the originating server (8.0.14+).
    pub original_server_version: Option<u32>,
}

/// A QUERY event. The status variables are not decoded.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct Query<'a> {
    /// The connection that ran the statement.
    pub thread_id: u32,
    /// Seconds the statement took.
    pub exec_time: u32,
    /// The statement's error code on the source (0 normally).
    pub error_code: u16,
    /// The raw status variables block.
    pub status_vars: &'a [u8],
    /// The default database (may be empty).
    pub schema: &'a [u8],
    /// The statement text (bytes in the connection's character set).
    pub query: &'a [u8],
}

/// The compression algorithm of a TRANSACTION_PAYLOAD event.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
#[non_exhaustive]
pub enum Compression {
    /// Not compressed (`NONE`, 255).
    None,
    /// Zstandard (0).
    Zstd,
    /// A code this reader does not know.
    Other(u64),
}

/// A TRANSACTION_PAYLOAD event: a compressed run of events, left opaque.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct TransactionPayload<'a> {
    /// The compression algorithm.
    pub compression: Compression,
    /// The size of the compressed payload.
    pub payload_size: u64,
    /// The size of the events once decompressed.
    pub uncompressed_size: u64,
    /// The compressed payload.
    pub payload: &'a [u8],
}

/// An INCIDENT event: the source lost events (a gap replicas and restores must know about).
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct Incident<'a> {
    /// The incident number (1 = `LOST_EVENTS`).
    pub number: u16,
    /// The message.
    pub message: &'a [u8],
}

/// A MariaDB GTID event.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct MariadbGtidEvent {
    /// The GTID (domain and sequence number from the body, server id from the header).
    pub gtid: MariadbGtid,
    /// `flags2`: 0x01 standalone (no transaction follows), 0x02 group commit id present, 0x04 transactional,
    /// 0x08 allow parallel, 0x10 waited, 0x20 DDL, 0x40 XA prepare, 0x80 XA commit/rollback.
    pub flags: u8,
    /// The group commit id, when `flags & 0x02`.
    pub commit_id: Option<u64>,
}

impl MariadbGtidEvent {
    /// `FL_STANDALONE`: the event group is a single statement, not a transaction.
    pub const FL_STANDALONE: u8 = 0x01;
    /// `FL_GROUP_COMMIT_ID`: a commit id follows.
    pub const FL_GROUP_COMMIT_ID: u8 = 0x02;
}
