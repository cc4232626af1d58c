//! The Job side of backups (feature `backup`): the steps the rendered Jobs run (`bloodraven dump`, `restore`,
//! `verify`, `encrypt-upload`, `decrypt-download`) and the result lines they print for the reconcilers.
//!
//! ```text
//!   Job env (the Go Jobs' names, env) ─▶ steps::dump / restore / verify / encrypt_upload / decrypt_download
//!        (bloodraven-backup does the work)      │
//!                                               ▼
//!   stdout: BLOODRAVEN_DUMP_COMPLETE … encoding=percent           (result; lossless, Go lines still parse)
//!   BLOODRAVEN_RESULT_FILE (default /dev/termination-log): the same lines, so the controller reads them from
//!   the Pod's status (`state.terminated.message`) without the kubelet's log endpoint
//! ```

pub mod env;
pub mod in_place;
pub mod result;
pub mod steps;

/// An error of a Job step; the binary prints it and exits 2.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A variable the step needs is not set.
    #[error("{name} is not set")]
    MissingEnv {
        /// The variable.
        name: &'static str,
    },
    /// A variable has an unusable value.
    #[error("{name}: {reason}")]
    BadEnv {
        /// The variable.
        name: &'static str,
        /// What is wrong and what is expected.
        reason: String,
    },
    /// A local file could not be read or written.
    #[error("{}: {cause}", path.display())]
    File {
        /// The file.
        path: std::path::PathBuf,
        /// The error.
        cause: std::io::Error,
    },
    /// The data plane failed.
    #[error(transparent)]
    Backup(#[from] bloodraven_backup::Error),
    /// The in-place restore could not prepare the target (reset replication, drop schemas).
    #[error("cannot prepare {server} for the in-place restore: {reason}")]
    Prepare {
        /// The server.
        server: String,
        /// The server's or the connection's error.
        reason: String,
    },
}
