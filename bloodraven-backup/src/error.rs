//! The crate's one error type.

use std::io;

/// Everything that can go wrong in a dump, a restore or a verification.
///
/// Each message says what failed and where; variants carry the offending object name, the expected and
/// actual values, or the statement that the server refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A store URL could not be parsed or opened.
    #[error("store url {url:?}: {reason}")]
    StoreUrl {
        /// The URL as given.
        url: String,
        /// Why it was refused.
        reason: String,
    },
    /// The object store failed on one object.
    #[error("object store failed on {object}")]
    Store {
        /// The object's key.
        object: String,
        /// The store's error.
        #[source]
        source: object_store::Error,
    },
    /// Reading, writing, compressing or decrypting one object failed.
    #[error("i/o on {object} failed")]
    Io {
        /// The object's key (or local file path).
        object: String,
        /// The underlying error (BRV1 tampering is `InvalidData`, truncation `UnexpectedEof`).
        #[source]
        source: io::Error,
    },
    /// The server refused a statement or the connection failed.
    #[error("server {server} failed on {context}")]
    Sql {
        /// `host:port` of the server.
        server: String,
        /// The statement or step, shortened.
        context: String,
        /// The client's error.
        #[source]
        source: mysql_async::Error,
    },
    /// The dump directory has no completion marker (`@.done.json`): it is incomplete and is never restored.
    #[error(
        "dump {location} is incomplete: {marker} is missing (the dump did not finish; take a new one)"
    )]
    Incomplete {
        /// The dump directory.
        location: String,
        /// The missing marker's name.
        marker: String,
    },
    /// An object listed in the dump's completion marker is missing.
    #[error("dump object {object} is missing (listed in @.done.json with {expected_size} bytes)")]
    MissingObject {
        /// The object's key.
        object: String,
        /// The size the marker records.
        expected_size: u64,
    },
    /// An object's size or SHA-256 differs from what the completion marker records.
    #[error("dump object {object} is corrupt: {what} is {actual}, the dump recorded {expected}")]
    Corrupt {
        /// The object's key.
        object: String,
        /// `size` or `sha256`.
        what: &'static str,
        /// The recorded value.
        expected: String,
        /// The value read.
        actual: String,
    },
    /// A metadata file is not what this format says it should be.
    #[error("dump metadata {object} is invalid: {reason}")]
    Metadata {
        /// The object's key.
        object: String,
        /// What is wrong.
        reason: String,
    },
    /// The dump is encrypted and no passphrase was given, or a passphrase was given for a plain dump.
    #[error("{0}")]
    Encryption(String),
    /// A BRV1 passphrase could not be loaded.
    #[error("passphrase: {0}")]
    Passphrase(#[from] bloodraven_brv1::Error),
    /// A schema restore names a schema the dump does not have (checked before anything is dropped).
    #[error(
        "schema {schema:?} is not in the dump {location} (it holds {available}): name one of those schemas, or \
         use a dump that has it"
    )]
    SchemaNotInDump {
        /// The schema asked for.
        schema: String,
        /// The dump directory.
        location: String,
        /// The dump's schemas, comma-separated (`none` when it has none).
        available: String,
    },
    /// The restore target is not empty, lacks a setting, or is of another flavour than the dump.
    #[error("restore target {server}: {reason}")]
    Target {
        /// `host:port` of the target.
        server: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// After the restore the server's GTID state is not the one expected.
    #[error("restore reached gtid state {actual:?}, expected {expected:?} (missing: {missing:?})")]
    GtidMismatch {
        /// The state the dump (or PITR plan) promises.
        expected: String,
        /// The state the server reports.
        actual: String,
        /// What the server lacks, as far as it can be computed.
        missing: String,
    },
    /// A row count or checksum differs after a restore.
    #[error("table {table}: {what} is {actual} after the restore, the dump recorded {expected}")]
    Mismatch {
        /// `schema.table`.
        table: String,
        /// What was compared.
        what: &'static str,
        /// The recorded value.
        expected: String,
        /// The value found.
        actual: String,
    },
    /// The binlog archive cannot take the restore to its target.
    #[error("point-in-time recovery: {0}")]
    Pitr(String),
    /// Reading the binlog archive failed.
    #[error("binlog archive")]
    Binlog(#[from] bloodraven_binlog::Error),
    /// An option is out of range or inconsistent.
    #[error("invalid option: {0}")]
    Options(String),
    /// A helper program (mariadbd, mariadb-install-db) failed.
    #[error("{program}: {reason}")]
    Program {
        /// The program.
        program: String,
        /// What happened, with the tail of its log.
        reason: String,
    },
}

impl Error {
    pub(crate) fn io(object: impl Into<String>, source: io::Error) -> Error {
        Error::Io {
            object: object.into(),
            source,
        }
    }

    pub(crate) fn store(object: impl Into<String>, source: object_store::Error) -> Error {
        Error::Store {
            object: object.into(),
            source,
        }
    }

    pub(crate) fn metadata(object: impl Into<String>, reason: impl Into<String>) -> Error {
        Error::Metadata {
            object: object.into(),
            reason: reason.into(),
        }
    }
}
