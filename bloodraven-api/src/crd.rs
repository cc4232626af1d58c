//! The five CustomResourceDefinitions as the API server should receive them.
//!
//! [`crds`] starts from kube's derived CRDs and makes two adjustments so the result matches what
//! the Go operator's controller-gen emits: optional fields are not `nullable` (the API server then
//! drops explicit `null`s and applies the schema defaults), int-or-string fields carry
//! `anyOf: [{type: integer}, {type: string}]` (quantities also the quantity pattern), and the
//! object-level `apiVersion`, `kind`, `metadata` and `listKind` are declared.

use std::sync::OnceLock;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;
use serde_json::Value;

use crate::Error;
use crate::backup::MysqlBackup;
use crate::database::MysqlDatabase;
use crate::failovergroup::MysqlFailoverGroup;
use crate::schema::QUANTITY_PATTERN;
use crate::standby::MysqlStandbyCluster;
use crate::verification::MysqlBackupVerification;

/// The API group of every Bloodraven kind.
pub const GROUP: &str = "shipstream.io";
/// The only served and stored version.
pub const VERSION: &str = "v1alpha1";
/// `apiVersion` of every Bloodraven object.
pub const API_VERSION: &str = "shipstream.io/v1alpha1";

/// The five kinds, in the order [`crds`] returns them.
pub const KINDS: [&str; 5] = [
    "MysqlFailoverGroup",
    "MysqlBackup",
    "MysqlBackupVerification",
    "MysqlStandbyCluster",
    "MysqlDatabase",
];

/// The CRDs of all five kinds, in [`KINDS`] order.
pub fn crds() -> Vec<CustomResourceDefinition> {
    KINDS.iter().filter_map(|k| crd_for(k)).collect()
}

/// The CRD of one kind, by kind name (each is generated once per process).
pub fn crd_for(kind: &str) -> Option<CustomResourceDefinition> {
    static CRDS: [OnceLock<CustomResourceDefinition>; 5] = [const { OnceLock::new() }; 5];
    let index = KINDS.iter().position(|k| *k == kind)?;
    let crd = CRDS[index].get_or_init(|| {
        adjust(match index {
            0 => MysqlFailoverGroup::crd(),
            1 => MysqlBackup::crd(),
            2 => MysqlBackupVerification::crd(),
            3 => MysqlStandbyCluster::crd(),
            _ => MysqlDatabase::crd(),
        })
    });
    Some(crd.clone())
}

/// The file name the Go project uses for a CRD: `shipstream.io_<plural>.yaml`.
pub fn file_name(crd: &CustomResourceDefinition) -> String {
    format!("{}_{}.yaml", crd.spec.group, crd.spec.names.plural)
}

/// A CRD as a YAML document (starting with `---`).
pub fn to_yaml(crd: &CustomResourceDefinition) -> Result<String, Error> {
    let body = serde_saphyr::to_string(crd).map_err(|e| Error::Yaml {
        message: e.to_string(),
    })?;
    Ok(format!("---\n{body}"))
}

/// The `openAPIV3Schema` of one kind, as JSON.
pub(crate) fn schema_of(crd: &CustomResourceDefinition) -> Value {
    crd.spec
        .versions
        .first()
        .and_then(|v| v.schema.as_ref())
        .and_then(|s| s.open_api_v3_schema.as_ref())
        .and_then(|s| serde_json::to_value(s).ok())
        .unwrap_or(Value::Null)
}

fn adjust(crd: CustomResourceDefinition) -> CustomResourceDefinition {
    // The CRD came from our own types, so it serializes and deserializes; fall back to the
    // unadjusted value rather than panicking if that ever stopped being true.
    let Ok(mut value) = serde_json::to_value(&crd) else {
        return crd;
    };
    rewrite(&mut value);
    if let Some(names) = value
        .pointer_mut("/spec/names")
        .and_then(Value::as_object_mut)
        && let Some(kind) = names.get("kind").and_then(Value::as_str)
    {
        let list_kind = format!("{kind}List");
        names.insert("listKind".into(), list_kind.into());
    }
    // Declare the object-level fields, as controller-gen does.
    if let Some(properties) = value
        .pointer_mut("/spec/versions/0/schema/openAPIV3Schema/properties")
        .and_then(Value::as_object_mut)
    {
        properties.insert("apiVersion".into(), serde_json::json!({
            "description": "APIVersion defines the versioned schema of this representation of an object.",
            "type": "string"
        }));
        properties.insert("kind".into(), serde_json::json!({
            "description": "Kind is a string value representing the REST resource this object represents.",
            "type": "string"
        }));
        properties.insert("metadata".into(), serde_json::json!({"type": "object"}));
    }
    serde_json::from_value(value).unwrap_or(crd)
}

fn rewrite(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.remove("nullable");
            if map.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true)) {
                map.insert(
                    "anyOf".into(),
                    serde_json::json!([{"type": "integer"}, {"type": "string"}]),
                );
                let quantity = map
                    .get("description")
                    .and_then(Value::as_str)
                    .is_some_and(|d| d.starts_with("Quantity is"));
                if quantity {
                    map.entry("pattern")
                        .or_insert_with(|| QUANTITY_PATTERN.into());
                }
            }
            for child in map.values_mut() {
                rewrite(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(rewrite),
        _ => {}
    }
}
