//! The CRD reference in Markdown, generated from the schemas the API server receives ([`crate::crd::crds`]), so
//! the documentation cannot drift from the types (also `bloodraven-api crd-reference`; the repository keeps the
//! output in `docs/crd-reference.md` and a test fails when it is stale).
//!
//! Each kind gets one table per object level: field path, type, whether it is required, the schema default and
//! the description. Embedded Kubernetes types (containers, security contexts, resources) and the standby cluster's embedded group
//! spec are named rather than expanded.

use std::fmt::Write as _;

use serde_json::Value;

use crate::Error;

/// Fields whose (Kubernetes) type is named rather than expanded.
const NOT_EXPANDED: &[(&str, &str)] = &[
    ("containerSecurityContext", "core/v1 SecurityContext"),
    ("extraContainers", "[]core/v1 Container"),
    ("extraInitContainers", "[]core/v1 Container"),
    ("imagePullSecrets", "[]core/v1 LocalObjectReference"),
    ("podSecurityContext", "core/v1 PodSecurityContext"),
    ("resources", "core/v1 ResourceRequirements"),
];

/// The whole reference: every kind, spec and status.
pub fn markdown() -> Result<String, Error> {
    let mut out = String::from(
        "# CRD reference\n\n\
         Generated from the CRD schemas by `bloodraven-api crd-reference` (do not edit by hand: \
         `cargo run -p bloodraven-api -- crd-reference > docs/crd-reference.md`). \
         Group `shipstream.io`, version `v1alpha1`. Defaults are applied by the API server; \
         validation rules the schema cannot state (CEL, cross-field) are checked by \
         `bloodraven-api lint` and listed in [the validation rules of the API crate]\
         (../bloodraven-api/src/validate/).\n\n",
    );
    let crds = crate::crd::crds();
    for crd in &crds {
        let _ = writeln!(
            out,
            "- [{}](#{})",
            crd.spec.names.kind,
            crd.spec.names.kind.to_lowercase()
        );
    }
    for crd in &crds {
        let version = crd.spec.versions.first().ok_or_else(|| Error::Yaml {
            message: format!("CRD {} has no version to document", crd.spec.names.kind),
        })?;
        let schema = version
            .schema
            .as_ref()
            .and_then(|s| s.open_api_v3_schema.as_ref())
            .map(serde_json::to_value)
            .transpose()
            .map_err(|e| Error::Yaml {
                message: format!("the schema of {}: {e}", crd.spec.names.kind),
            })?
            .unwrap_or(Value::Null);
        let kind = &crd.spec.names.kind;
        let _ = writeln!(out, "\n## {kind}\n");
        let _ = writeln!(
            out,
            "`{}/{}`, {}, plural `{}`{}.\n",
            crd.spec.group,
            version.name,
            if crd.spec.scope == "Namespaced" {
                "namespaced"
            } else {
                "cluster-scoped"
            },
            crd.spec.names.plural,
            crd.spec
                .names
                .short_names
                .as_ref()
                .filter(|s| !s.is_empty())
                .map(|s| format!(", short names `{}`", s.join("`, `")))
                .unwrap_or_default()
        );
        if let Some(d) = schema["description"].as_str() {
            let _ = writeln!(out, "{}\n", one_line(d));
        }
        for part in ["spec", "status"] {
            let node = &schema["properties"][part];
            if node.is_null() {
                continue;
            }
            let mut rows = Vec::new();
            walk(node, part, kind, 0, &mut rows);
            let _ = writeln!(out, "### {kind} `{part}`\n");
            out.push_str(
                "| Field | Type | Required | Default | Description |\n|---|---|---|---|---|\n",
            );
            for row in rows {
                out.push_str(&row);
            }
        }
    }
    Ok(out)
}

fn walk(node: &Value, path: &str, kind: &str, depth: usize, rows: &mut Vec<String>) {
    let required: Vec<&str> = node["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(props) = node["properties"].as_object() else {
        return;
    };
    for (name, child) in props {
        let field = format!("{path}.{name}");
        let named = NOT_EXPANDED
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| *t);
        let embedded_group = kind == "MysqlStandbyCluster" && field == "spec.template.spec";
        let type_text = match (named, embedded_group) {
            (Some(t), _) => t.to_owned(),
            (None, true) => "[MysqlFailoverGroup spec](#mysqlfailovergroup-spec)".to_owned(),
            (None, false) => type_of(child),
        };
        let default = child
            .get("default")
            .map(|d| format!("`{d}`"))
            .unwrap_or_default();
        let description = child["description"]
            .as_str()
            .map(one_line)
            .unwrap_or_default();
        rows.push(format!(
            "| `{field}` | {type_text} | {} | {default} | {} |\n",
            if required.contains(&name.as_str()) {
                "yes"
            } else {
                ""
            },
            description.replace('|', "\\|")
        ));
        if named.is_some() || embedded_group || depth >= 6 {
            continue;
        }
        walk(child, &field, kind, depth + 1, rows);
        if child["type"] == "array" {
            walk(
                &child["items"],
                &format!("{field}[]"),
                kind,
                depth + 1,
                rows,
            );
        }
    }
}

fn type_of(node: &Value) -> String {
    let base = match node["type"].as_str() {
        Some("array") => format!("[]{}", type_of(&node["items"])),
        Some("object") if node["additionalProperties"].is_object() => {
            format!("map[string]{}", type_of(&node["additionalProperties"]))
        }
        Some(t) => t.to_owned(),
        None if node["x-kubernetes-int-or-string"] == true => "int-or-string".to_owned(),
        None => "any".to_owned(),
    };
    match node["enum"].as_array() {
        Some(values) if !values.is_empty() => {
            let values: Vec<String> = values
                .iter()
                .map(|v| format!("`{}`", v.as_str().unwrap_or_default()))
                .collect();
            format!("{base} ({})", values.join(", "))
        }
        _ => base,
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_kind_and_a_nested_field_are_documented() {
        let md = super::markdown().unwrap();
        for kind in [
            "MysqlFailoverGroup",
            "MysqlBackup",
            "MysqlBackupVerification",
            "MysqlStandbyCluster",
            "MysqlDatabase",
        ] {
            assert!(md.contains(&format!("\n## {kind}\n")), "{kind}");
        }
        assert!(
            md.contains("| `spec.sites[].name` |"),
            "nested array fields"
        );
        assert!(
            md.contains("| `spec.pointInTime.mode` | string (`latest`, `none`, `timestamp`) |")
        );
    }
}
