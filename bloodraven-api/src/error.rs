//! The crate's error type.

use crate::validate::Violation;

/// Everything that can go wrong reading, validating or parsing Bloodraven API values.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A Go duration string did not parse.
    #[error("invalid duration {value:?}: {problem}")]
    Duration {
        /// The text.
        value: String,
        /// What is wrong with it.
        problem: String,
    },
    /// An annotation value does not follow its grammar.
    #[error("invalid {annotation} annotation {value:?}: {problem}")]
    Annotation {
        /// The annotation key.
        annotation: &'static str,
        /// The value.
        value: String,
        /// What is wrong, and how to write it.
        problem: String,
    },
    /// A YAML stream could not be parsed.
    #[error("invalid YAML: {message}")]
    Yaml {
        /// The parser's message, with line and column.
        message: String,
    },
    /// A document is not one of the five Bloodraven kinds.
    #[error(
        "unsupported kind {kind:?} of apiVersion {api_version:?} (expected shipstream.io/v1alpha1 MysqlFailoverGroup, MysqlBackup, MysqlBackupVerification, MysqlStandbyCluster or MysqlDatabase)"
    )]
    UnsupportedKind {
        /// The document's `apiVersion`.
        api_version: String,
        /// The document's `kind`.
        kind: String,
    },
    /// A document does not decode into its kind's type.
    #[error("{path}: {message}")]
    Decode {
        /// Field path of the problem.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// An object breaks one or more validation rules.
    #[error("{} validation error{}: {}", .0.len(), if .0.len() == 1 { "" } else { "s" }, first_violation(.0))]
    Invalid(Vec<Violation>),
}

fn first_violation(violations: &[Violation]) -> String {
    let mut text = violations
        .first()
        .map(ToString::to_string)
        .unwrap_or_default();
    if violations.len() > 1 {
        text.push_str(&format!(" (and {} more)", violations.len() - 1));
    }
    text
}
