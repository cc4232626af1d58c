//! The errors of this crate.

use std::path::PathBuf;

/// Everything that can stop the sidecar (configuration, start-up) or fail one of its operations.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An environment variable or flag has a value the sidecar does not accept.
    #[error("invalid {name} {value:?}: expected {expected}")]
    Config {
        /// The environment variable (and flag) name, e.g. `LEASE_TIMEOUT (--lease-timeout)`.
        name: &'static str,
        /// The offending value (never a secret).
        value: String,
        /// The accepted form.
        expected: &'static str,
    },
    /// A required setting is missing.
    #[error("missing {name}: {why}")]
    Missing {
        /// The environment variable (and flag) name.
        name: &'static str,
        /// Why it is needed and what to set.
        why: &'static str,
    },
    /// A file named by the configuration could not be read.
    #[error("cannot read {what} {path}: {cause}")]
    File {
        /// What the file is (`MYSQL_CREDS_DIR username file`, ...).
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        cause: std::io::Error,
    },
    /// The BRV1 passphrase file is unusable.
    #[error("passphrase file {path} (BLOODRAVEN_PITR_PASSPHRASE_FILE): {cause}")]
    Passphrase {
        /// The file.
        path: PathBuf,
        /// Why it cannot be used.
        cause: bloodraven_brv1::Error,
    },
    /// The archive store could not be built from the configuration.
    #[error("archive store ({storage}): {cause} (check BLOODRAVEN_PITR_* storage settings)")]
    Store {
        /// `S3` or `PVC`.
        storage: &'static str,
        /// The object store's error.
        cause: object_store::Error,
    },
    /// A statement on the local server failed.
    #[error("mysql {op} on {addr}: {message}")]
    Mysql {
        /// What was being done (`connect`, `fence`, `status`, ...).
        op: &'static str,
        /// `host:port` of the local server.
        addr: String,
        /// The server's or the client's message.
        message: String,
    },
    /// The HTTP listener could not be bound.
    #[error("cannot listen on {addr} (LISTEN_ADDR): {cause}")]
    Listen {
        /// The address.
        addr: String,
        /// The I/O error.
        cause: std::io::Error,
    },
    /// A call to the operator or a peer failed.
    #[error("GET {url}: {what}")]
    Http {
        /// The URL.
        url: String,
        /// What failed (transport error or unexpected status).
        what: String,
    },
    /// The archiver's library call failed.
    #[error(transparent)]
    Archive(#[from] bloodraven_binlog::Error),
}
