//! The CEL rules of the generated CRDs, evaluated client-side with kube-cel (which applies the
//! schema defaults first, as the API server does): they compile, accept every documentation
//! manifest, reject each violation they target, and agree with the Rust validation.

use bloodraven_api::crd;
use bloodraven_api::manifest::{self, check};
use kube::core::cel::Validator;
use serde_json::{Value, json};

const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/fixtures/manifests"
);

fn schema_of(kind: &str) -> Value {
    let c = crd::crd_for(kind).unwrap();
    serde_json::to_value(
        c.spec.versions[0]
            .schema
            .as_ref()
            .unwrap()
            .open_api_v3_schema
            .as_ref()
            .unwrap(),
    )
    .unwrap()
}

fn load(name: &str) -> Value {
    let text = std::fs::read_to_string(format!("{FIXTURES}/{name}")).unwrap();
    manifest::documents(&text).unwrap().remove(0)
}

/// CEL messages for `value` (empty when every rule holds).
fn cel_messages(value: &Value, old: Option<&Value>) -> Vec<String> {
    let kind = value["kind"].as_str().unwrap();
    match Validator::new().validate(&schema_of(kind), value, old) {
        Ok(()) => Vec::new(),
        Err(errors) => errors
            .into_vec()
            .into_iter()
            .map(|e| format!("{}: {}", e.field_path, e.message))
            .collect(),
    }
}

#[test]
fn every_fixture_passes_every_cel_rule() {
    for entry in std::fs::read_dir(FIXTURES).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for doc in manifest::documents(&text).unwrap() {
            assert_eq!(
                cel_messages(&doc, None),
                Vec::<String>::new(),
                "{}",
                path.display()
            );
            assert_eq!(
                cel_messages(&doc, Some(&doc)),
                Vec::<String>::new(),
                "{} (update)",
                path.display()
            );
        }
    }
}

type Edit = fn(&mut Value);

/// (fixture, edit, expected CEL message)
const CASES: &[(&str, Edit, &str)] = &[
    (
        "failovergroup-minimal.yaml",
        |g| g["spec"]["secretName"] = json!("legacy"),
        "exactly one of secretName",
    ),
    (
        "failovergroup-minimal.yaml",
        |g| {
            g["spec"].as_object_mut().unwrap().remove("credentials");
        },
        "exactly one of secretName",
    ),
    (
        "failovergroup-minimal.yaml",
        |g| g["spec"]["sites"][1]["name"] = json!("iad"),
        "site names must be unique",
    ),
    (
        "failovergroup-minimal.yaml",
        |g| g["spec"]["sites"][1]["role"] = json!("dr-only"),
        "at least two sites must have role primary-candidate",
    ),
    (
        "failovergroup-minimal.yaml",
        |g| g["spec"]["splitBrainPolicy"] = json!({"sitePriorities": ["sfo"]}),
        "sitePriorities may only name primary-candidate sites",
    ),
    (
        "failovergroup-minimal.yaml",
        |g| g["spec"]["serviceTemplate"] = json!({"externalTrafficPolicy": "Local"}),
        "requires serviceTemplate.type NodePort or LoadBalancer",
    ),
    (
        "failovergroup-minimal.yaml",
        |g| g["spec"]["sites"][0]["serviceTemplate"] = json!({"externalTrafficPolicy": "Local"}),
        "sites[].serviceTemplate.externalTrafficPolicy requires",
    ),
    (
        "failovergroup-minimal.yaml",
        |g| g["spec"]["sites"][0]["serviceTemplate"] = json!({"nodePort": 30306}),
        "sites[].serviceTemplate.nodePort requires",
    ),
    (
        "failovergroup-minimal.yaml",
        |g| {
            g["spec"]["serviceTemplate"] =
                json!({"type": "LoadBalancer", "externalTrafficPolicy": "Local"});
            g["spec"]["sites"][1]["serviceTemplate"] = json!({"type": "ClusterIP"});
        },
        "no site may override the Service type to ClusterIP",
    ),
    (
        "failovergroup-minimal.yaml",
        |g| g["spec"]["encryptionAtRest"] = json!({"enabled": true}),
        "encryptionAtRest.enabled requires tls",
    ),
    (
        "failovergroup-minimal.yaml",
        |g| {
            g["spec"]["encryptionAtRest"] =
                json!({"enabled": false, "keyring": {"dataFileDir": "/var/lib/mysql/k"}})
        },
        "outside the datadir",
    ),
    (
        "failovergroup-minimal.yaml",
        |g| {
            g["spec"]["sites"][0]
                .as_object_mut()
                .unwrap()
                .remove("lbIP");
        },
        "must set taintNodeSelector and lbIP",
    ),
    (
        "failovergroup-minimal.yaml",
        |g| g["spec"]["sidecar"] = json!({"peerCheckInterval": "500ms"}),
        "peerCheckInterval must be at least 1s",
    ),
    (
        "failovergroup-minimal.yaml",
        |g| g["spec"]["sidecar"] = json!({"leaseTimeout": "2s", "peerCheckInterval": "1s"}),
        "leaseTimeout must be at least 3s",
    ),
    (
        "failovergroup-minimal.yaml",
        |g| g["spec"]["sidecar"] = json!({"leaseTimeout": "14s"}),
        "leaseTimeout must be at least 3 x peerCheckInterval",
    ),
    (
        "failovergroup-minimal.yaml",
        |g| g["spec"]["dragonfly"] = json!({"enabled": true}),
        "image must be set when dragonfly is enabled",
    ),
    (
        "failovergroup-minimal.yaml",
        |g| g["spec"]["dragonfly"] = json!({"enabled": true, "image": "dragonfly:latest"}),
        "not :latest",
    ),
    (
        "failovergroup-source-pitr.yaml",
        |g| g["spec"]["backup"]["profiles"][0]["storage"]["type"] = json!("PVC"),
        "set exactly one of s3 or pvc, matching type",
    ),
    (
        "failovergroup-dr-restore.yaml",
        |g| g["spec"]["initFromBackup"]["source"]["pvc"] = json!({"claimName": "x"}),
        "set exactly one of mysqlBackupRef, s3 or pvc",
    ),
    (
        "failovergroup-verification.yaml",
        |g| {
            g["spec"]["backup"]["profiles"][0]["verification"]["pointInTime"] =
                json!({"mode": "timestamp"})
        },
        "timestamp is required when mode is timestamp",
    ),
    (
        "backupverification-oneoff.yaml",
        |g| g["spec"]["pointInTime"] = json!({"mode": "timestamp"}),
        "timestamp is required when mode is timestamp",
    ),
    (
        "standbycluster.yaml",
        |g| {
            g["spec"]["source"]["storage"]["s3"]
                .as_object_mut()
                .unwrap()
                .remove("prefix");
        },
        "requires a non-empty source.storage.s3.prefix",
    ),
    (
        "standbycluster.yaml",
        |g| g["spec"]["source"]["storage"] = json!({"type": "PVC", "pvc": {"claimName": "x"}}),
        "transport ObjectStore requires source.storage.type S3",
    ),
    (
        "standbycluster.yaml",
        |g| g["spec"]["freshness"] = json!({"discoveryInterval": "10s"}),
        "discoveryInterval must be at least 30s",
    ),
    (
        "standbycluster.yaml",
        |g| g["spec"]["template"]["spec"]["sites"][1]["name"] = json!("east-az1"),
        "site names must be unique",
    ),
];

#[test]
fn each_cel_rule_rejects_what_it_targets_and_rust_agrees() {
    for (i, (fixture, edit, expected)) in CASES.iter().enumerate() {
        let mut value = load(fixture);
        edit(&mut value);
        let messages = cel_messages(&value, None);
        assert!(
            messages.iter().any(|m| m.contains(expected)),
            "case {i} ({fixture}): expected {expected:?}, CEL said {messages:#?}"
        );
        let rust = check(&value).unwrap().violations;
        assert!(
            !rust.is_empty(),
            "case {i} ({fixture}): CEL rejects ({messages:?}) but Rust validation accepts"
        );
    }
}

fn database() -> Value {
    json!({
        "apiVersion": "shipstream.io/v1alpha1",
        "kind": "MysqlDatabase",
        "metadata": {"name": "shop"},
        "spec": {
            "groupRef": {"name": "orders"},
            "databaseName": "shop",
            "owner": {"secretName": "shop-owner", "hosts": ["10.0.%", "10.1.0.0/16"]},
            "grants": [{"username": "reporting", "privileges": ["SELECT", "SHOW VIEW"]}],
            "users": [{"secretName": "shop-app", "privileges": ["SELECT", "INSERT", "UPDATE", "DELETE"]}],
            "deploymentClients": [{"namespace": "shop", "serviceAccount": "deployer"}]
        }
    })
}

#[test]
fn database_rules() {
    let valid = database();
    assert_eq!(cel_messages(&valid, None), Vec::<String>::new());
    assert_eq!(check(&valid).unwrap().violations, vec![]);
    let cases: &[(Edit, &str)] = &[
        (
            |d| d["spec"]["owner"]["privileges"] = json!(["ALL PRIVILEGES", "SELECT"]),
            "ALL PRIVILEGES cannot be combined",
        ),
        (
            |d| d["spec"]["grants"][0]["privileges"] = json!(["SELECT", "ALL PRIVILEGES"]),
            "ALL PRIVILEGES cannot be combined",
        ),
        (
            |d| d["spec"]["users"][0]["privileges"] = json!(["ALL PRIVILEGES"]),
            "users may not be granted ALL PRIVILEGES",
        ),
        (
            |d| d["spec"]["users"][0]["secretName"] = json!("shop-owner"),
            "must differ from owner.secretName",
        ),
        (
            |d| d["spec"]["databaseName"] = json!("Performance_Schema"),
            "must not be a MySQL system schema",
        ),
    ];
    for (i, (edit, expected)) in cases.iter().enumerate() {
        let mut value = database();
        edit(&mut value);
        let messages = cel_messages(&value, None);
        assert!(
            messages.iter().any(|m| m.contains(expected)),
            "case {i}: {messages:#?}"
        );
        assert!(
            !check(&value).unwrap().violations.is_empty(),
            "case {i}: Rust accepts"
        );
    }
    // Transition rules: groupRef and databaseName are immutable.
    let mut renamed = database();
    renamed["spec"]["databaseName"] = json!("shop2");
    renamed["spec"]["groupRef"]["name"] = json!("payments");
    let messages = cel_messages(&renamed, Some(&valid));
    assert!(
        messages
            .iter()
            .any(|m| m.contains("databaseName is immutable")),
        "{messages:#?}"
    );
    assert!(
        messages.iter().any(|m| m.contains("groupRef is immutable")),
        "{messages:#?}"
    );
}
