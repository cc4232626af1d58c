//! The errors of this crate.

use std::io;

use crate::reader::EventType;

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The binlog bytes are not well-formed: `what` happened in the event starting at `offset`.
    #[error("{what} at offset {offset}")]
    Corrupt {
        /// Byte offset in the file of the event (or magic number) that is wrong.
        offset: u64,
        /// The type of that event, when its header could be read.
        event: Option<EventType>,
        /// Which rule the bytes break.
        kind: CorruptKind,
        /// What is wrong, naming the offending values.
        what: String,
    },
    /// Reading the input failed (after `offset` good bytes).
    #[error("read failed at offset {offset}: {cause}")]
    Io {
        /// How many bytes had been read successfully.
        offset: u64,
        /// The I/O error.
        cause: io::Error,
    },
    /// A site or binlog name does not follow the archive's naming rule.
    #[error("invalid {kind} name {name:?} ({rule})")]
    InvalidName {
        /// `site` or `binlog file`.
        kind: &'static str,
        /// The offending name.
        name: String,
        /// The rule it breaks.
        rule: &'static str,
    },
    /// A manifest object is not a valid `manifest-<site>.json`.
    #[error("cannot decode manifest {key} at {path}: {what}")]
    ManifestDecode {
        /// Storage key of the manifest.
        key: String,
        /// JSON field path (`files[3].size`; `$` for the whole document).
        path: String,
        /// What is wrong, naming the offending value.
        what: String,
    },
    /// A DR cursor (`<prefix>/dr-cursors/*.json`) cannot be decoded; retention stops rather than risk the
    /// window a disaster-recovery standby verifies. Fix or delete the object.
    #[error(
        "cannot decode DR cursor {key} at {path}: {what} (fix or delete the object; retention is paused until then)"
    )]
    DrCursorDecode {
        /// Storage key of the cursor.
        key: String,
        /// JSON field (`keepFrom`; `$` for the whole document).
        path: String,
        /// What is wrong.
        what: String,
    },
    /// The manifest changed under us on every attempt of a conditional read-modify-write.
    #[error(
        "manifest {key} changed concurrently {attempts} times in a row (another archiver writes this site?)"
    )]
    ManifestConflict {
        /// Storage key of the manifest.
        key: String,
        /// How many read-modify-write attempts were made.
        attempts: u32,
    },
    /// An object-store operation failed.
    #[error("object store {op} {key}: {cause}")]
    Store {
        /// `get`, `put`, `delete`, `list`, `multipart upload`.
        op: &'static str,
        /// Storage key.
        key: String,
        /// The store's error.
        cause: object_store::Error,
    },
    /// A local file or directory operation of the archiver or downloader failed.
    #[error("{op} {path}: {cause}")]
    File {
        /// What was being done (`open`, `read`, `rename`, ...).
        op: &'static str,
        /// The file.
        path: std::path::PathBuf,
        /// The I/O error.
        cause: io::Error,
    },
    /// Encrypting or decrypting an archive object failed (wrong passphrase, tampering, truncation).
    #[error("brv1 {key}: {cause}")]
    Encryption {
        /// Storage key of the object.
        key: String,
        /// The BRV1 error.
        cause: bloodraven_brv1::Error,
    },
    /// An object lacks the BRV1 magic although a passphrase is configured.
    #[error(
        "object {key} is not BRV1-encrypted while encryption is required (tamper or downgrade; allow plaintext fallback only for legacy archives)"
    )]
    Plaintext {
        /// Storage key of the object.
        key: String,
    },
    /// Archived or downloaded bytes do not match what the manifest or the local file says.
    #[error("{key}: {what}")]
    Mismatch {
        /// Storage key or file name.
        key: String,
        /// What differs, with both values.
        what: String,
    },
    /// The caller's writable-gate failed, so the cycle did not run.
    #[error("writable gate failed: {cause}")]
    Gate {
        /// The gate's error text.
        cause: String,
    },
    /// GTID text in a manifest or a request does not parse.
    #[error("invalid GTID {what} {text:?}: {cause}")]
    Gtid {
        /// Which value (`files[2].previousGtids of manifest-a.json`, `start set`, ...).
        what: String,
        /// The text.
        text: String,
        /// Why it does not parse.
        cause: String,
    },
}

impl Error {
    /// The byte offset the error refers to, when it concerns a position in a binlog.
    pub fn offset(&self) -> Option<u64> {
        match self {
            Error::Corrupt { offset, .. } | Error::Io { offset, .. } => Some(*offset),
            _ => None,
        }
    }

    /// The kind of corruption, when the error is one.
    pub fn corrupt_kind(&self) -> Option<CorruptKind> {
        match self {
            Error::Corrupt { kind, .. } => Some(*kind),
            _ => None,
        }
    }

    pub(crate) fn corrupt(
        offset: u64,
        event: Option<EventType>,
        kind: CorruptKind,
        what: impl Into<String>,
    ) -> Error {
        Error::Corrupt {
            offset,
            event,
            kind,
            what: what.into(),
        }
    }
}

/// How binlog bytes break the format; see [`Error::Corrupt`].
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
#[non_exhaustive]
pub enum CorruptKind {
    /// The file does not start with the binlog magic number `fe 62 69 6e`.
    BadMagic,
    /// An event's CRC32 does not match its bytes.
    BadChecksum,
    /// An event's body does not follow the layout of its type (a field overruns the event, an invalid
    /// value).
    BadEvent,
    /// An event header is inconsistent: a size smaller than the header, or larger than any server writes.
    BadHeader,
    /// The first event is not a FORMAT_DESCRIPTION event.
    MissingFormatDescription,
    /// The input ends inside an event header or body.
    Truncated,
    /// A valid binlog this reader cannot decode (binlog format v1/v3, encrypted MariaDB binlogs, an unknown
    /// checksum algorithm).
    Unsupported,
}
