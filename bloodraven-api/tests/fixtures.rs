//! The documentation's manifests: each decodes, validates clean and survives a round trip, and
//! mutated copies fail at the right field path.

use std::path::PathBuf;

use bloodraven_api::Manifest;
use bloodraven_api::manifest::{self, check};
use bloodraven_api::validate::Validate;
use serde_json::{Value, json};

fn fixtures_dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/fixtures/manifests"
    ))
}

fn fixture_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixtures_dir())
        .expect("fixtures directory")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 6,
        "expected the six documentation manifests, found {files:?}"
    );
    files
}

fn load(name: &str) -> Value {
    let text = std::fs::read_to_string(fixtures_dir().join(name)).unwrap();
    let mut docs = manifest::documents(&text).unwrap();
    assert_eq!(docs.len(), 1);
    docs.remove(0)
}

#[test]
fn every_fixture_decodes_validates_and_round_trips() {
    for file in fixture_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        let docs = manifest::documents(&text).unwrap();
        assert!(!docs.is_empty(), "{}", file.display());
        for original in docs {
            let manifest = Manifest::from_value(original.clone())
                .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            assert_eq!(manifest.violations(), vec![], "{}", file.display());
            let checked = check(&original).unwrap();
            assert_eq!(checked.violations, vec![], "{}", file.display());
            // Serialize and compare as JSON: no field lost, none added, none renamed.
            let round = manifest.to_value().unwrap();
            assert_eq!(
                round,
                original,
                "{} changed on a round trip",
                file.display()
            );
            let again = Manifest::from_value(round).unwrap();
            assert_eq!(again, manifest);
        }
    }
}

#[test]
fn typed_access_to_fixture_fields() {
    let Manifest::FailoverGroup(group) =
        Manifest::from_value(load("failovergroup-source-pitr.yaml")).unwrap()
    else {
        panic!("not a group");
    };
    assert_eq!(group.spec.sites[0].lb_ip.as_deref(), Some("10.0.10.11"));
    assert_eq!(group.spec.sites[1].storage.size.0, "500Gi");
    let backup = group.spec.backup.as_ref().unwrap();
    assert!(backup.profile("nightly-s3").is_some());
    assert_eq!(
        backup.pitr.as_ref().unwrap().profile_name.as_deref(),
        Some("nightly-s3")
    );

    let Manifest::StandbyCluster(standby) =
        Manifest::from_value(load("standbycluster.yaml")).unwrap()
    else {
        panic!("not a standby");
    };
    assert_eq!(
        standby.spec.template.spec.image.as_deref(),
        Some("mysql:9.6")
    );
    assert_eq!(standby.spec.template.spec.primary_candidates().count(), 2);
}

/// Applies `edit` to a copy of fixture `name` and returns the violation paths `check` reports.
fn mutate(name: &str, edit: impl FnOnce(&mut Value)) -> Vec<(String, String)> {
    let mut value = load(name);
    edit(&mut value);
    check(&value)
        .unwrap()
        .violations
        .into_iter()
        .map(|v| (v.path, v.message))
        .collect()
}

fn assert_single(violations: &[(String, String)], path: &str, words: &str) {
    assert_eq!(violations.len(), 1, "{violations:#?}");
    assert_eq!(violations[0].0, path, "{violations:#?}");
    assert!(violations[0].1.contains(words), "{violations:#?}");
}

#[test]
fn missing_required_field() {
    let v = mutate("failovergroup-minimal.yaml", |g| {
        g["spec"]["sites"][1]
            .as_object_mut()
            .unwrap()
            .remove("zone");
    });
    assert_single(&v, "spec.sites[1].zone", "required field is missing");
    let v = mutate("failovergroup-minimal.yaml", |g| {
        g["spec"].as_object_mut().unwrap().remove("dns");
    });
    assert_single(&v, "spec.dns", "required field is missing");
    let v = mutate("backupverification-oneoff.yaml", |g| {
        g["spec"]["sanityCheck"]
            .as_object_mut()
            .unwrap()
            .remove("query");
    });
    assert_single(&v, "spec.sanityCheck.query", "required field is missing");
}

#[test]
fn bad_enum() {
    let v = mutate("failovergroup-dr-restore.yaml", |g| {
        g["spec"]["sites"][0]["role"] = json!("primary")
    });
    assert_single(
        &v,
        "spec.sites[0].role",
        "use one of dr-only, primary-candidate, read-only",
    );
    let v = mutate("backupverification-oneoff.yaml", |g| {
        g["spec"]["pointInTime"]["mode"] = json!("newest")
    });
    assert_single(
        &v,
        "spec.pointInTime.mode",
        "use one of latest, none, timestamp",
    );
    let v = mutate("failovergroup-source-pitr.yaml", |g| {
        g["spec"]["backup"]["profiles"][0]["storage"]["type"] = json!("s3")
    });
    assert_eq!(v[0].0, "spec.backup.profiles[0].storage.type", "{v:#?}");
}

#[test]
fn duplicate_site() {
    let v = mutate("failovergroup-minimal.yaml", |g| {
        g["spec"]["sites"][1]["name"] = json!("iad")
    });
    assert_single(&v, "spec.sites[1].name", "duplicate site name \"iad\"");
    // The same rule inside a standby's group template.
    let v = mutate("standbycluster.yaml", |g| {
        g["spec"]["template"]["spec"]["sites"][1]["name"] = json!("east-az1")
    });
    assert_single(
        &v,
        "spec.template.spec.sites[1].name",
        "site names must be unique",
    );
}

#[test]
fn one_primary_candidate() {
    let v = mutate("failovergroup-source-pitr.yaml", |g| {
        g["spec"]["sites"][1]["role"] = json!("dr-only")
    });
    assert_single(&v, "spec.sites", "at least two are needed");
    let v = mutate("failovergroup-minimal.yaml", |g| {
        g["spec"]["sites"][1]["role"] = json!("read-only")
    });
    assert_single(&v, "spec.sites", "1 site is primary-candidate");
}

#[test]
fn bad_duration() {
    let v = mutate("failovergroup-minimal.yaml", |g| {
        g["spec"]["pollInterval"] = json!("5 minutes")
    });
    assert_single(&v, "spec.pollInterval", "not a Go duration");
    let v = mutate("standbycluster.yaml", |g| {
        g["spec"]["freshness"] = json!({"discoveryInterval": "10s"})
    });
    assert_single(&v, "spec.freshness.discoveryInterval", "at least 30s");
}

#[test]
fn unknown_profile_name() {
    let v = mutate("failovergroup-source-pitr.yaml", |g| {
        g["spec"]["backup"]["pitr"]["profileName"] = json!("hourly")
    });
    assert_single(
        &v,
        "spec.backup.pitr.profileName",
        "profile \"hourly\" does not exist: use one of nightly-s3",
    );
    let v = mutate("failovergroup-verification.yaml", |g| {
        g["spec"]["backup"]["schedules"] =
            json!([{"name": "n", "profileName": "weekly", "schedule": "0 2 * * *"}])
    });
    assert_single(&v, "spec.backup.schedules[0].profileName", "does not exist");
}

#[test]
fn cross_field_rules() {
    let v = mutate("failovergroup-minimal.yaml", |g| {
        g["spec"]["secretName"] = json!("legacy")
    });
    assert_single(&v, "spec.credentials", "mutually exclusive");
    let v = mutate("failovergroup-minimal.yaml", |g| {
        g["spec"]["sites"][0]
            .as_object_mut()
            .unwrap()
            .remove("lbIP");
    });
    assert_single(
        &v,
        "spec.sites[0].lbIP",
        "required for a primary-candidate site",
    );
    let v = mutate(
        "failovergroup-minimal.yaml",
        |g| {
            g["spec"]["encryptionAtRest"] =
                json!({"enabled": true, "keyring": {"dataFileDir": "/var/lib/mysql/keyring"}})
        },
    );
    let paths: Vec<&str> = v.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        paths,
        ["spec.tls", "spec.encryptionAtRest.keyring.dataFileDir"],
        "{v:#?}"
    );
    let v = mutate("failovergroup-minimal.yaml", |g| {
        g["spec"]["splitBrainPolicy"] = json!({"sitePriorities": ["pdx", "sfo"]})
    });
    assert_single(
        &v,
        "spec.splitBrainPolicy.sitePriorities[1]",
        "\"sfo\" is not a site",
    );
    let v = mutate("failovergroup-minimal.yaml", |g| {
        g["spec"]["serviceTemplate"] = json!({"externalTrafficPolicy": "Local"})
    });
    assert_single(
        &v,
        "spec.serviceTemplate.externalTrafficPolicy",
        "NodePort or LoadBalancer",
    );
    let v = mutate("failovergroup-minimal.yaml", |g| {
        g["spec"]["sidecar"] = json!({"leaseTimeout": "10s", "peerCheckInterval": "5s"})
    });
    assert_single(
        &v,
        "spec.sidecar.leaseTimeout",
        "at least 3 x peerCheckInterval",
    );
    let v = mutate("failovergroup-dr-restore.yaml", |g| {
        g["spec"]["initFromBackup"]["source"]["pvc"] = json!({"claimName": "dump"})
    });
    assert_single(
        &v,
        "spec.initFromBackup.source",
        "set exactly one of mysqlBackupRef, s3 or pvc",
    );
    let in_place = |schemas: Value, pit: bool| {
        mutate("failovergroup-minimal.yaml", |g| {
            g["spec"]["restoreInPlace"] = json!({
                "confirm": "2026-12-07T00:00:00Z",
                "source": { "pvc": { "claimName": "dump" } },
                "loadOptions": { "includeSchemas": schemas },
            });
            if pit {
                g["spec"]["restoreInPlace"]["pointInTime"] =
                    json!({ "stopDatetime": "2026-12-06T23:00:00Z" });
            }
        })
    };
    assert_eq!(in_place(json!(["app"]), false), []);
    assert_eq!(in_place(json!([]), true), []);
    assert_single(
        &in_place(json!(["app"]), true),
        "spec.restoreInPlace.pointInTime",
        "cannot replay binlogs",
    );
    assert_single(
        &in_place(json!(["app", "crm"]), false),
        "spec.restoreInPlace.loadOptions.includeSchemas",
        "list at most one",
    );
    let v = mutate("standbycluster.yaml", |g| {
        g["spec"]["source"]["storage"]["s3"]
            .as_object_mut()
            .unwrap()
            .remove("prefix");
    });
    assert_single(
        &v,
        "spec.source.storage.s3.prefix",
        "required with transport ObjectStore",
    );
}

#[test]
fn every_violation_is_reported_not_only_the_first() {
    let v = mutate("failovergroup-minimal.yaml", |g| {
        g["spec"]["sites"][0]["zone"] = json!("");
        g["spec"]["failureThreshold"] = json!(0);
        g["spec"]["sites"][1]["lbIp"] = json!("10.0.2.1");
        g["spec"]["dns"]["ttl"] = json!("sixty");
    });
    let paths: Vec<&str> = v.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        paths,
        [
            "spec.dns.ttl",
            "spec.failureThreshold",
            "spec.sites[0].zone",
            "spec.sites[1].lbIp"
        ],
        "{v:#?}"
    );
    assert!(v[3].1.contains("did you mean \"lbIP\""), "{v:#?}");
}

#[test]
fn typed_validate_reports_rules_on_values_built_in_code() {
    let Manifest::FailoverGroup(mut group) =
        Manifest::from_value(load("failovergroup-minimal.yaml")).unwrap()
    else {
        panic!("not a group");
    };
    group.validate().unwrap();
    group.spec.sites[1].name = "iad".into();
    group.spec.failure_threshold = Some(0);
    let err = group.validate().unwrap_err();
    assert_eq!(
        err.to_string(),
        "2 validation errors: spec.failureThreshold: must be at least 1, found 0 (and 1 more)"
    );
    let bloodraven_api::Error::Invalid(violations) = err else {
        panic!()
    };
    assert_eq!(violations[1].path, "spec.sites[1].name");
}
