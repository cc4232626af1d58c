//! Reading manifests: YAML streams of any of the five kinds, decoded and checked.
//!
//! [`documents`] splits a (multi-document) YAML stream into JSON values; [`Manifest`] decodes one
//! of them into its kind's type; [`check`] does both and collects every violation, which is what
//! `bloodraven-api lint` prints.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::Error;
use crate::backup::MysqlBackup;
use crate::crd::{API_VERSION, GROUP, KINDS};
use crate::database::MysqlDatabase;
use crate::failovergroup::MysqlFailoverGroup;
use crate::standby::MysqlStandbyCluster;
use crate::validate::{Validate, Violation};
use crate::verification::MysqlBackupVerification;

/// One object of any of the five kinds.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Manifest {
    /// A `MysqlFailoverGroup`.
    FailoverGroup(Box<MysqlFailoverGroup>),
    /// A `MysqlBackup`.
    Backup(Box<MysqlBackup>),
    /// A `MysqlBackupVerification`.
    BackupVerification(Box<MysqlBackupVerification>),
    /// A `MysqlStandbyCluster`.
    StandbyCluster(Box<MysqlStandbyCluster>),
    /// A `MysqlDatabase`.
    Database(Box<MysqlDatabase>),
}

impl Manifest {
    /// Decodes a JSON value whose `apiVersion` is `shipstream.io/v1alpha1`.
    ///
    /// Decoding errors carry the field path (`spec.sites[0].role`); values that decode may still
    /// break rules, see [`Manifest::violations`].
    pub fn from_value(value: Value) -> Result<Self, Error> {
        let api_version = str_field(&value, "apiVersion");
        let kind = str_field(&value, "kind");
        if api_version != API_VERSION {
            return Err(Error::UnsupportedKind { api_version, kind });
        }
        Ok(match kind.as_str() {
            "MysqlFailoverGroup" => Manifest::FailoverGroup(decode(value)?),
            "MysqlBackup" => Manifest::Backup(decode(value)?),
            "MysqlBackupVerification" => Manifest::BackupVerification(decode(value)?),
            "MysqlStandbyCluster" => Manifest::StandbyCluster(decode(value)?),
            "MysqlDatabase" => Manifest::Database(decode(value)?),
            _ => return Err(Error::UnsupportedKind { api_version, kind }),
        })
    }

    /// Reads every document of a YAML stream (documents of other API groups are an error).
    pub fn from_yaml(text: &str) -> Result<Vec<Self>, Error> {
        documents(text)?
            .into_iter()
            .map(Manifest::from_value)
            .collect()
    }

    /// The kind's name, e.g. `MysqlFailoverGroup`.
    pub fn kind(&self) -> &'static str {
        match self {
            Manifest::FailoverGroup(_) => KINDS[0],
            Manifest::Backup(_) => KINDS[1],
            Manifest::BackupVerification(_) => KINDS[2],
            Manifest::StandbyCluster(_) => KINDS[3],
            Manifest::Database(_) => KINDS[4],
        }
    }

    /// The object's JSON form (what the API server stores, before defaulting).
    pub fn to_value(&self) -> Result<Value, Error> {
        let result = match self {
            Manifest::FailoverGroup(o) => serde_json::to_value(o),
            Manifest::Backup(o) => serde_json::to_value(o),
            Manifest::BackupVerification(o) => serde_json::to_value(o),
            Manifest::StandbyCluster(o) => serde_json::to_value(o),
            Manifest::Database(o) => serde_json::to_value(o),
        };
        result.map_err(|e| Error::Decode {
            path: String::new(),
            message: e.to_string(),
        })
    }

    /// Every violation of the object (see [`Validate`]).
    pub fn violations(&self) -> Vec<Violation> {
        match self {
            Manifest::FailoverGroup(o) => o.violations(),
            Manifest::Backup(o) => o.violations(),
            Manifest::BackupVerification(o) => o.violations(),
            Manifest::StandbyCluster(o) => o.violations(),
            Manifest::Database(o) => o.violations(),
        }
    }
}

/// Reads a single-document YAML text into any type (decoding errors carry the field path).
///
/// ```
/// use bloodraven_api::backup::MysqlBackup;
///
/// let backup: MysqlBackup = bloodraven_api::manifest::from_yaml(
///     "apiVersion: shipstream.io/v1alpha1\nkind: MysqlBackup\nmetadata: {name: b1}\n\
///      spec: {failoverGroupRef: {name: orders}, profileName: nightly}\n",
/// )?;
/// assert_eq!(backup.spec.profile_name, "nightly");
///
/// let err = bloodraven_api::manifest::from_yaml::<MysqlBackup>("spec: {profileName: 7}").unwrap_err();
/// assert!(err.to_string().starts_with("spec.profileName: invalid type"));
/// # Ok::<(), bloodraven_api::Error>(())
/// ```
pub fn from_yaml<T: DeserializeOwned>(text: &str) -> Result<T, Error> {
    let mut docs = documents(text)?;
    if docs.len() > 1 {
        return Err(Error::Yaml {
            message: format!("expected one document, found {}", docs.len()),
        });
    }
    decode(docs.pop().unwrap_or(Value::Null)).map(|b| *b)
}

/// Splits a YAML stream into its documents, as JSON values; empty documents are skipped.
pub fn documents(text: &str) -> Result<Vec<Value>, Error> {
    let docs: Vec<Value> = serde_saphyr::from_multiple(text).map_err(|e| {
        // The parser's message continues with a source snippet; keep its first line, which
        // names the line and column.
        let text = e.to_string();
        let first = text.lines().next().unwrap_or_default();
        Error::Yaml {
            message: first.strip_prefix("error: ").unwrap_or(first).to_owned(),
        }
    })?;
    Ok(docs.into_iter().filter(|d| !d.is_null()).collect())
}

/// The outcome of checking one document.
#[derive(Clone, Debug)]
pub struct Checked {
    /// The document's `kind`.
    pub kind: String,
    /// `metadata.name`, else `metadata.generateName` followed by `*`, else `<unnamed>`.
    pub name: String,
    /// Every violation found (empty when the document is valid).
    pub violations: Vec<Violation>,
    /// The decoded object, when it decodes.
    pub manifest: Option<Manifest>,
}

/// Checks one document, or returns `None` when it belongs to another API group (a Secret or a
/// Certificate next to a group in the same file).
///
/// The document is walked against its kind's schema first, so every structural problem is
/// reported (not only the first a decoder meets); then it is decoded and the semantic rules run.
pub fn check(value: &Value) -> Option<Checked> {
    let api_version = str_field(value, "apiVersion");
    let kind = str_field(value, "kind");
    let ours = api_version.split('/').next() == Some(GROUP) || KINDS.contains(&kind.as_str());
    if !ours {
        return None;
    }
    let name = object_name(value);
    let mut violations = Vec::new();
    if api_version != API_VERSION {
        violations.push(Violation::new(
            "apiVersion",
            format!("unsupported apiVersion {api_version:?}: use {API_VERSION}"),
        ));
    }
    if !KINDS.contains(&kind.as_str()) {
        violations.push(Violation::new(
            "kind",
            format!("unsupported kind {kind:?}: use one of {}", KINDS.join(", ")),
        ));
    }
    if !violations.is_empty() {
        return Some(Checked {
            kind,
            name,
            violations,
            manifest: None,
        });
    }
    violations = crate::validate::schema::check_kind(&kind, value);
    let manifest = match Manifest::from_value(value.clone()) {
        Ok(manifest) => {
            merge(&mut violations, manifest.violations());
            Some(manifest)
        }
        Err(Error::Decode { path, message }) => {
            // Drop the values the schema rejected and decode again, so the semantic rules
            // still run on the rest of the object.
            let mut pruned = value.clone();
            for v in &violations {
                prune(&mut pruned, &v.path);
            }
            match Manifest::from_value(pruned) {
                Ok(rest) => merge(&mut violations, rest.violations()),
                // The schema walk usually explains the same problem better; add the decoder's
                // view only when it found something the walk did not.
                Err(_) if violations.is_empty() => violations.push(Violation::new(path, message)),
                Err(_) => {}
            }
            None
        }
        Err(other) => {
            violations.push(Violation::new("", other.to_string()));
            None
        }
    };
    Some(Checked {
        kind,
        name,
        violations,
        manifest,
    })
}

fn merge(violations: &mut Vec<Violation>, more: Vec<Violation>) {
    for v in more {
        if !violations.contains(&v) {
            violations.push(v);
        }
    }
}

/// Removes the object member a violation path names (`spec.sites[1].zone`,
/// `spec.podLabels["a.b/c"]`); list items are left alone so the other paths keep their indices.
fn prune(value: &mut Value, path: &str) {
    let mut segments = Vec::new();
    let mut rest = path;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("[\"") {
            let Some(end) = after.find("\"]") else { return };
            segments.push(Segment::Key(after[..end].to_owned()));
            rest = &after[end + 2..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let Some(end) = after.find(']') else { return };
            let Ok(i) = after[..end].parse() else { return };
            segments.push(Segment::Index(i));
            rest = &after[end + 1..];
        } else {
            let rest_trimmed = rest.strip_prefix('.').unwrap_or(rest);
            let end = rest_trimmed.find(['.', '[']).unwrap_or(rest_trimmed.len());
            segments.push(Segment::Key(rest_trimmed[..end].to_owned()));
            rest = &rest_trimmed[end..];
        }
    }
    let Some((Segment::Key(last), parents)) = segments.split_last() else {
        return;
    };
    let mut node = value;
    for segment in parents {
        let next = match segment {
            Segment::Key(k) => node.get_mut(k.as_str()),
            Segment::Index(i) => node.get_mut(*i),
        };
        match next {
            Some(next) => node = next,
            None => return,
        }
    }
    if let Some(map) = node.as_object_mut() {
        map.remove(last);
    }
}

enum Segment {
    Index(usize),
    Key(String),
}

fn decode<T: DeserializeOwned>(value: Value) -> Result<Box<T>, Error> {
    serde_path_to_error::deserialize(value)
        .map(Box::new)
        .map_err(|e| Error::Decode {
            path: e.path().to_string(),
            message: e.into_inner().to_string(),
        })
}

fn str_field(value: &Value, key: &str) -> String {
    value
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn object_name(value: &Value) -> String {
    let metadata = value.get("metadata");
    let get = |k: &str| {
        metadata
            .and_then(|m| m.get(k))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    match (get("name"), get("generateName")) {
        (Some(name), _) => name.to_owned(),
        (None, Some(prefix)) => format!("{prefix}*"),
        (None, None) => "<unnamed>".to_owned(),
    }
}
