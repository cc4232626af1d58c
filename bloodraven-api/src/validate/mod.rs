//! Validation: every violation with its field path and how to fix it.
//!
//! [`Validate`] runs two layers, the same two the API server runs:
//!
//! 1. the OpenAPI schema of the kind's CRD (required fields, types, enums, bounds, patterns,
//!    list semantics, unknown fields), checked by walking the object's JSON form against the
//!    schema generated from the Rust types, so the two can never disagree;
//! 2. the rules the CRD states in CEL (`x-kubernetes-validations`), re-implemented in Rust with
//!    messages that say how to fix the problem, plus the cross-field rules the operator enforces
//!    (for example that `spec.backup.pitr.profileName` names an existing profile).
//!
//! Transition rules (`self == oldSelf`) need the previous object and are left to the API server.

use std::fmt;

use crate::Error;

mod database;
mod group;
mod rules;
pub(crate) mod schema;

/// One broken rule: where, and what to do about it.
#[derive(Clone, Debug, Eq, Hash, PartialEq)]
pub struct Violation {
    /// Field path such as `spec.sites[1].name`.
    pub path: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl Violation {
    pub(crate) fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Violation {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Validation of a whole object (schema and semantic rules).
pub trait Validate {
    /// Every violation, in document order of the schema walk followed by the semantic rules.
    fn violations(&self) -> Vec<Violation>;

    /// `Ok` when there is no violation, else [`Error::Invalid`] with all of them.
    fn validate(&self) -> Result<(), Error> {
        let violations = self.violations();
        if violations.is_empty() {
            Ok(())
        } else {
            Err(Error::Invalid(violations))
        }
    }
}

macro_rules! impl_validate {
    ($ty:ty, $kind:literal, $rules:path) => {
        impl Validate for $ty {
            fn violations(&self) -> Vec<Violation> {
                let mut out = match serde_json::to_value(self) {
                    Ok(value) => schema::check_kind($kind, &value),
                    Err(e) => vec![Violation::new("", format!("cannot serialize: {e}"))],
                };
                $rules(&self.spec, "spec", &mut out);
                out
            }
        }
    };
}

impl_validate!(
    crate::MysqlFailoverGroup,
    "MysqlFailoverGroup",
    group::failover_group
);
impl_validate!(crate::backup::MysqlBackup, "MysqlBackup", rules::backup);
impl_validate!(
    crate::verification::MysqlBackupVerification,
    "MysqlBackupVerification",
    rules::verification
);
impl_validate!(
    crate::standby::MysqlStandbyCluster,
    "MysqlStandbyCluster",
    group::standby
);
impl_validate!(
    crate::database::MysqlDatabase,
    "MysqlDatabase",
    database::database
);

/// Joins a parent path and a field name.
pub(crate) fn field(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_owned()
    } else {
        format!("{parent}.{name}")
    }
}

/// Joins a parent path and a list index.
pub(crate) fn index(parent: &str, i: usize) -> String {
    format!("{parent}[{i}]")
}
