//! The generated CRDs: committed files are current, they parse as apiextensions.k8s.io/v1, are
//! structural, and carry every field, name and column the reference lists.

use std::collections::{BTreeMap, BTreeSet};

use bloodraven_api::crd;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde_json::Value;

const REGENERATE: &str = "cargo run -p bloodraven-api -- crds --out bloodraven-api/crds";
const REFERENCE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/spec/reference-api.md"
);

fn schema(crd: &CustomResourceDefinition) -> Value {
    let version = &crd.spec.versions[0];
    serde_json::to_value(
        version
            .schema
            .as_ref()
            .unwrap()
            .open_api_v3_schema
            .as_ref()
            .unwrap(),
    )
    .unwrap()
}

#[test]
fn committed_crd_files_are_up_to_date() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/crds");
    let mut expected = BTreeSet::new();
    for c in crd::crds() {
        let name = crd::file_name(&c);
        let path = format!("{dir}/{name}");
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == crd::to_yaml(&c).unwrap(),
            "{path} is out of date with the Rust types: run `{REGENERATE}` and commit the result"
        );
        expected.insert(name);
    }
    let present: BTreeSet<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        present, expected,
        "stale files in {dir}: run `{REGENERATE}`"
    );
}

#[test]
fn crd_files_parse_as_apiextensions_v1() {
    for c in crd::crds() {
        let path = format!("{}/crds/{}", env!("CARGO_MANIFEST_DIR"), crd::file_name(&c));
        let text = std::fs::read_to_string(&path).unwrap();
        let parsed: CustomResourceDefinition =
            serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(parsed, c, "{path}");
        assert_eq!(parsed.spec.group, "shipstream.io");
        assert_eq!(parsed.spec.scope, "Namespaced");
        assert_eq!(parsed.spec.versions.len(), 1);
        let v = &parsed.spec.versions[0];
        assert_eq!(
            (v.name.as_str(), v.served, v.storage),
            ("v1alpha1", true, true)
        );
        let sub = v.subresources.as_ref().expect("subresources");
        assert!(
            sub.status.is_some() && sub.scale.is_none(),
            "{path}: status subresource only"
        );
        assert_eq!(
            parsed.metadata.name.as_deref(),
            Some(format!("{}.shipstream.io", parsed.spec.names.plural).as_str())
        );
    }
}

/// Checks the structural-schema rules of apiextensions: every node specifies a type (except
/// int-or-string nodes and free-form nodes marked to preserve unknown fields), no `$ref`, no
/// `nullable`, anyOf only for int-or-string, and list/map markers are consistent.
fn check_structural(node: &Value, path: &str, problems: &mut Vec<String>) {
    let map = node.as_object().unwrap();
    let int_or_string = map.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true));
    let preserve = map.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
    for forbidden in [
        "$ref",
        "nullable",
        "oneOf",
        "allOf",
        "not",
        "definitions",
        "$defs",
    ] {
        if map.contains_key(forbidden) {
            problems.push(format!("{path}: has {forbidden}"));
        }
    }
    if int_or_string {
        let any_of = map.get("anyOf").cloned().unwrap_or_default();
        if any_of != serde_json::json!([{"type": "integer"}, {"type": "string"}]) {
            problems.push(format!(
                "{path}: int-or-string without the integer/string anyOf"
            ));
        }
        return;
    }
    if map.contains_key("anyOf") {
        problems.push(format!("{path}: anyOf outside int-or-string"));
    }
    match map.get("type").and_then(Value::as_str) {
        None if !preserve => problems.push(format!("{path}: no type")),
        Some("object") => {
            if map.contains_key("properties") && map.contains_key("additionalProperties") {
                problems.push(format!("{path}: both properties and additionalProperties"));
            }
            for (k, child) in map
                .get("properties")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                check_structural(child, &format!("{path}.{k}"), problems);
            }
            if let Some(child) = map.get("additionalProperties").filter(|v| v.is_object()) {
                check_structural(child, &format!("{path}.*"), problems);
            }
            for key in map
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let key = key.as_str().unwrap();
                if map.get("properties").is_none_or(|p| p.get(key).is_none()) {
                    problems.push(format!("{path}: required {key} is not a property"));
                }
            }
        }
        Some("array") => {
            match map.get("items") {
                Some(items) => check_structural(items, &format!("{path}[]"), problems),
                None => problems.push(format!("{path}: array without items")),
            }
            if map.get("x-kubernetes-list-type").and_then(Value::as_str) == Some("map") {
                let required: Vec<&str> = map["items"]["required"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                for key in map["x-kubernetes-list-map-keys"].as_array().unwrap() {
                    if !required.contains(&key.as_str().unwrap()) {
                        problems.push(format!(
                            "{path}: list-map key {key} is not required in items"
                        ));
                    }
                }
            }
        }
        _ => {}
    }
}

#[test]
fn crds_are_structural() {
    for c in crd::crds() {
        let mut problems = Vec::new();
        check_structural(&schema(&c), &c.spec.names.kind, &mut problems);
        assert!(problems.is_empty(), "{problems:#?}");
    }
}

#[test]
fn names_and_printer_columns_match_the_reference() {
    // (kind, shortNames, categories, columns as name=jsonPath[:priority])
    type Expected<'a> = (&'a str, &'a [&'a str], &'a [&'a str], &'a [&'a str]);
    let expected: &[Expected] = &[
        (
            "MysqlFailoverGroup",
            &[],
            &[],
            &[
                "Active=.status.activeSite",
                "Ready=.status.conditions[?(@.type==\"Ready\")].status",
                "Age=.metadata.creationTimestamp",
            ],
        ),
        (
            "MysqlBackup",
            &[],
            &[],
            &[
                "Group=.spec.failoverGroupRef.name",
                "Profile=.spec.profileName",
                "Phase=.status.phase",
                "Started=.status.startTime",
                "Completed=.status.completionTime",
                "Location=.status.location:1",
                "Size=.status.size:1",
                "Age=.metadata.creationTimestamp",
            ],
        ),
        (
            "MysqlBackupVerification",
            &[],
            &[],
            &[
                "Group=.spec.failoverGroupRef.name",
                "Profile=.spec.profileName",
                "Phase=.status.phase",
                "Backup=.status.backupRef.name:1",
                "Started=.status.startTime",
                "Completed=.status.completionTime",
                "Age=.metadata.creationTimestamp",
            ],
        ),
        (
            "MysqlStandbyCluster",
            &["msc", "mscs"],
            &["bloodraven", "mysql", "dr"],
            &[
                "Bucket=.status.discovered.dumpLocation",
                "BucketReadable=.status.conditions[?(@.type==\"BucketReadable\")].status",
                "SourceKnown=.status.conditions[?(@.type==\"SourceConfigKnown\")].status",
                "Age=.metadata.creationTimestamp",
                "Phase=.status.activation.phase:1",
            ],
        ),
        (
            "MysqlDatabase",
            &["mydb", "mydbs"],
            &["bloodraven", "mysql"],
            &[
                "Group=.spec.groupRef.name",
                "Database=.spec.databaseName",
                "Owner=.status.ownerUser",
                "Phase=.status.phase",
                "Ready=.status.conditions[?(@.type==\"Ready\")].status",
                "Policy=.spec.deletionPolicy:1",
                "Age=.metadata.creationTimestamp",
            ],
        ),
    ];
    let crds = crd::crds();
    assert_eq!(crds.len(), expected.len());
    for (c, (kind, short, categories, columns)) in crds.iter().zip(expected) {
        let names = &c.spec.names;
        assert_eq!(names.kind, *kind);
        assert_eq!(
            names.list_kind.as_deref(),
            Some(format!("{kind}List").as_str())
        );
        assert_eq!(names.plural, format!("{}s", kind.to_lowercase()));
        assert_eq!(
            names.singular.as_deref(),
            Some(kind.to_lowercase().as_str())
        );
        assert_eq!(
            names.short_names.clone().unwrap_or_default(),
            *short,
            "{kind}"
        );
        assert_eq!(
            names.categories.clone().unwrap_or_default(),
            *categories,
            "{kind}"
        );
        let actual: Vec<String> = c.spec.versions[0]
            .additional_printer_columns
            .iter()
            .flatten()
            .map(|col| {
                let priority = col.priority.map(|p| format!(":{p}")).unwrap_or_default();
                let date = col.type_ == "date";
                assert!(
                    date == (col.name == "Age" || col.name == "Started" || col.name == "Completed"),
                    "{kind} {}",
                    col.name
                );
                format!("{}={}{priority}", col.name, col.json_path)
            })
            .collect();
        assert_eq!(actual, *columns, "{kind}");
    }
}

/// Field paths the reference lists per kind, read from its tables: each `###`/`####` heading
/// names the prefix (its first backticked path), each table row's first cell names fields.
fn reference_paths() -> BTreeMap<&'static str, BTreeSet<String>> {
    let text = std::fs::read_to_string(REFERENCE).expect("reference-api.md");
    let sections = [
        ("## 3. ", "MysqlFailoverGroup"),
        ("## 4. ", "MysqlBackup"),
        ("## 5. ", "MysqlBackupVerification"),
        ("## 6. ", "MysqlStandbyCluster"),
        ("## 7. ", "MysqlDatabase"),
    ];
    let mut out: BTreeMap<&'static str, BTreeSet<String>> = BTreeMap::new();
    let (mut kind, mut prefix, mut in_field_table) = (None, String::new(), false);
    for line in text.lines() {
        if line.starts_with("## ") {
            kind = sections
                .iter()
                .find(|(h, _)| line.starts_with(h))
                .map(|(_, k)| *k);
            continue;
        }
        let Some(kind) = kind else { continue };
        if line.starts_with("###") {
            let first = line.split('`').nth(1).unwrap_or_default().to_owned();
            prefix = match first.as_str() {
                f if f.starts_with("spec") || f.starts_with("status") => f.to_owned(),
                // "PVCStorage (`storage.pvc`)" is relative to a backup profile.
                "storage.pvc" => "spec.backup.profiles[].storage.pvc".to_owned(),
                "" => String::new(),
                f => format!("spec.{f}"),
            };
            in_field_table = false;
            continue;
        }
        if line.starts_with("| Field |") {
            in_field_table = true;
            continue;
        }
        if !line.starts_with('|') {
            in_field_table = false;
            continue;
        }
        if !in_field_table || line.starts_with("|---") || prefix.is_empty() {
            continue;
        }
        let cell = line.split('|').nth(1).unwrap_or_default();
        for (i, name) in cell.split('`').enumerate() {
            if i % 2 == 1 && !name.is_empty() {
                out.entry(kind)
                    .or_default()
                    .insert(format!("{prefix}.{name}"));
            }
        }
    }
    out
}

/// Resolves `spec.sites[].storage.size` in a CRD schema.
fn resolve<'a>(schema: &'a Value, path: &str) -> Option<&'a Value> {
    let mut node = schema;
    for segment in path.split('.') {
        let (name, list) = match segment.strip_suffix("[]") {
            Some(name) => (name, true),
            None => (segment, false),
        };
        node = node.get("properties")?.get(name)?;
        if list {
            node = node.get("items")?;
        }
    }
    Some(node)
}

#[test]
fn crds_contain_every_field_the_reference_lists() {
    let paths = reference_paths();
    let counts: Vec<(&str, usize)> = paths.iter().map(|(k, v)| (*k, v.len())).collect();
    // Sanity: the extraction found the tables (the reference documents ~360 group fields).
    assert!(paths["MysqlFailoverGroup"].len() > 300, "{counts:?}");
    assert!(paths.values().all(|p| p.len() >= 10), "{counts:?}");
    let mut missing = Vec::new();
    for c in crd::crds() {
        let schema = schema(&c);
        let kind = c.spec.names.kind.as_str();
        for path in &paths[kind] {
            if resolve(&schema, path).is_none() {
                missing.push(format!("{kind}: {path}"));
            }
        }
        // The standby's template embeds the whole group spec.
        if kind == "MysqlStandbyCluster" {
            for path in paths["MysqlFailoverGroup"]
                .iter()
                .filter(|p| p.starts_with("spec."))
            {
                let embedded = format!("spec.template.spec.{}", &path["spec.".len()..]);
                if resolve(&schema, &embedded).is_none() {
                    missing.push(format!("{kind}: {embedded}"));
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "fields the reference lists but the CRDs lack: {missing:#?}"
    );
}

#[test]
fn schema_details_match_the_reference() {
    let crds = crd::crds();
    let mfg = schema(&crds[0]);
    let at = |p: &str| resolve(&mfg, p).unwrap_or_else(|| panic!("{p}")).clone();
    assert_eq!(at("spec.pollInterval")["default"], "2s");
    assert_eq!(at("spec.pollInterval")["type"], "string");
    assert_eq!(at("spec.failoverCooldown")["default"], "5m");
    assert_eq!(at("spec.sites")["minItems"], 2);
    assert_eq!(at("spec.sites")["maxItems"], 16);
    assert_eq!(at("spec.sites[].role")["default"], "primary-candidate");
    assert_eq!(
        at("spec.sites[].storage.size")["x-kubernetes-int-or-string"],
        true
    );
    assert_eq!(at("spec.dns.ttl")["default"], 60);
    assert_eq!(
        at("spec.backup.profiles[].dump.consistent")["default"],
        true
    );
    assert_eq!(
        at("spec.encryptionAtRest.keyring.retainVersions")["maximum"],
        50.0
    );
    assert_eq!(
        at("status.encryptionAtRest.sites")["x-kubernetes-list-map-keys"],
        serde_json::json!(["name"])
    );
    assert_eq!(
        mfg["properties"]["spec"]["required"],
        serde_json::json!(["dns", "sites"])
    );
    let rules = mfg["properties"]["spec"]["x-kubernetes-validations"]
        .as_array()
        .unwrap();
    assert_eq!(rules.len(), 9);
    assert!(
        rules
            .iter()
            .all(|r| r["rule"].is_string() && r["message"].is_string())
    );
    let reasons = at("status.conditions[].reason");
    assert_eq!(
        reasons["pattern"],
        "^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"
    );

    let db = schema(&crds[4]);
    let conditions = resolve(&db, "status.conditions").unwrap();
    assert_eq!(conditions["x-kubernetes-list-type"], "map");
    let privileges = resolve(&db, "spec.owner.privileges").unwrap();
    assert_eq!(privileges["default"], serde_json::json!(["ALL PRIVILEGES"]));
    assert_eq!(privileges["items"]["enum"].as_array().unwrap().len(), 17);
    assert_eq!(
        resolve(&db, "spec.groupRef").unwrap()["x-kubernetes-validations"][0]["rule"],
        "self == oldSelf"
    );

    let standby = schema(&crds[3]);
    let template_rules =
        resolve(&standby, "spec.template.spec").unwrap()["x-kubernetes-validations"].clone();
    assert_eq!(
        template_rules,
        mfg["properties"]["spec"]["x-kubernetes-validations"]
    );
}

/// Snapshots of each kind's schema without descriptions; embedded Kubernetes core types (their
/// schemas come from k8s-openapi) and the standby's embedded group spec (compared to the group's
/// own first) are replaced by a marker, so a snapshot shows our fields only.
#[test]
fn schema_snapshots() {
    let crds = crd::crds();
    let mut group_spec = schema(&crds[0])["properties"]["spec"].clone();
    group_spec.as_object_mut().unwrap().remove("description");
    for c in &crds {
        let mut schema = schema(c);
        if let Some(template) =
            schema.pointer_mut("/properties/spec/properties/template/properties/spec")
        {
            template.as_object_mut().unwrap().remove("description");
            assert!(
                *template == group_spec,
                "the template must embed the group spec unchanged"
            );
            *template = Value::String(
                "<MysqlFailoverGroup spec, see the MysqlFailoverGroup snapshot>".into(),
            );
        }
        collapse_core_types(&mut schema);
        insta::assert_json_snapshot!(c.spec.names.kind.clone(), schema);
    }
}

const CORE_TYPES: [(&str, &str); 6] = [
    ("resources", "core/v1 ResourceRequirements"),
    ("sidecarResources", "core/v1 ResourceRequirements"),
    ("extraContainers", "[]core/v1 Container"),
    ("extraInitContainers", "[]core/v1 Container"),
    ("podSecurityContext", "core/v1 PodSecurityContext"),
    ("containerSecurityContext", "core/v1 SecurityContext"),
];

fn collapse_core_types(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.remove("description");
            if let Some(Value::Object(properties)) = map.get_mut("properties") {
                for (name, marker) in CORE_TYPES {
                    if let Some(child) = properties.get_mut(name) {
                        *child = Value::String(format!("<k8s-openapi {marker}>"));
                    }
                }
            }
            map.values_mut().for_each(collapse_core_types);
        }
        Value::Array(items) => items.iter_mut().for_each(collapse_core_types),
        _ => {}
    }
}
