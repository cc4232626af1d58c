//! The in-place restore's state machine, phase by phase, and its Job.

use kube::ResourceExt;
use serde_json::{Value, json};

use super::*;

const CONFIRM: &str = "2026-12-07T10:00:00Z";
const LATER: &str = "2026-12-07T11:00:00Z";

/// Group `orders` (namespace `shop`, sites iad and pdx, iad writable and active) with `spec.restoreInPlace`
/// (`Null`: none) and `status.restoreInPlace`.
fn group(spec: Value, status: Value) -> MysqlFailoverGroup {
    let storage = json!({ "storageClassName": "local", "size": "1Gi" });
    serde_json::from_value(json!({
        "apiVersion": "shipstream.io/v1alpha1",
        "kind": "MysqlFailoverGroup",
        "metadata": { "name": "orders", "namespace": "shop", "uid": "orders-uid" },
        "spec": {
            "credentials": { "operatorSecret": "orders-operator" },
            "dns": { "hostname": "orders.example.test" },
            "sites": [
                { "name": "iad", "zone": "a", "lbIP": "192.0.2.1", "storage": storage },
                { "name": "pdx", "zone": "b", "lbIP": "192.0.2.2", "storage": storage },
            ],
            "backup": { "profiles": [{
                "name": "nightly",
                "storage": { "type": "S3", "s3": {
                    "bucket": "backups", "prefix": "orders", "region": "eu-west-1", "credentialsSecret": "s3-creds",
                }},
                "encryption": { "passphraseSecret": { "name": "backup-pass" } },
            }]},
            "restoreInPlace": spec,
        },
        "status": {
            "activeSite": "iad",
            "sites": [{ "name": "iad", "state": "writable" }, { "name": "pdx", "state": "read-only" }],
            "restoreInPlace": status,
        },
    }))
    .unwrap()
}

fn spec(confirm: &str) -> Value {
    json!({
        "confirm": confirm,
        "source": { "s3": {
            "bucket": "backups", "prefix": "orders/orders-1", "region": "eu-west-1", "credentialsSecret": "s3-creds",
        }},
        "decryption": { "passphraseSecret": { "name": "backup-pass" } },
    })
}

fn now() -> Time {
    Time("2026-12-07T12:00:00Z".parse().unwrap())
}

fn observe(g: &MysqlFailoverGroup, job: Option<JobView>, fenced: bool) -> Decision {
    decide(&Observation {
        group: g,
        job,
        primary_fenced: fenced,
        source: RestoreDetails::default(),
        now: now(),
    })
}

/// The status the decision writes, as JSON.
fn written(d: &Decision) -> Value {
    serde_json::to_value(d.status.clone().unwrap().unwrap()).unwrap()
}

fn reasons(d: &Decision) -> Vec<&'static str> {
    d.events.iter().map(|n| n.reason).collect()
}

fn job_view(confirm: Option<&str>, outcome: JobOutcome, messages: &str) -> JobView {
    JobView {
        name: "mysql-orders-iad-inplace-restore".into(),
        confirm: confirm.map(str::to_owned),
        outcome,
        deleting: false,
        messages: messages.into(),
        failure: None,
    }
}

#[test]
fn a_run_walks_preflight_fencing_restoring_resuming_to_succeeded() {
    // Armed: Preflight, the topology frozen.
    let g = group(spec(CONFIRM), Value::Null);
    assert!(in_flight(&g));
    let d = observe(&g, None, false);
    assert_eq!(reasons(&d), [event::RESTORE_IN_PLACE_STARTED]);
    let s = written(&d);
    assert_eq!(s["phase"], "Preflight");
    assert_eq!(s["scope"], "full");

    // Preflight: the writable active site is the target; Fencing fences its pods.
    let g = group(spec(CONFIRM), s);
    assert_eq!(fenced_site(&g), None);
    let s = written(&observe(&g, None, false));
    assert_eq!(
        (s["phase"].as_str(), s["targetSite"].as_str()),
        (Some("Fencing"), Some("iad"))
    );
    let g = group(spec(CONFIRM), s.clone());
    assert_eq!(fenced_site(&g).as_deref(), Some("iad"));

    // Fencing waits until no pod of the target is labelled primary.
    let d = observe(&g, None, false);
    assert_eq!(d.status, None);
    assert!(d.requeue.is_some());
    let s = written(&observe(&g, None, true));
    assert_eq!(s["phase"], "Restoring");

    // Restoring: no Job yet, so create it; then follow it.
    let g = group(spec(CONFIRM), s.clone());
    assert_eq!(observe(&g, None, true).job, JobAction::Create);
    let mut created = s;
    created["jobName"] = json!("mysql-orders-iad-inplace-restore");
    let g = group(spec(CONFIRM), created);
    let running = observe(
        &g,
        Some(job_view(Some(CONFIRM), JobOutcome::Running, "")),
        true,
    );
    assert_eq!(
        (running.status.clone(), running.job.clone()),
        (None, JobAction::None)
    );
    let line = "BLOODRAVEN_RESTORE_COMPLETE sourceSizeBytes=10 sourceGtidExecuted=0-1-3 targetGtidExecuted=0-1-3 \
                targetBinlogFile=mysql-bin.000001 targetBinlogPos=342 encoding=percent";
    let d = observe(
        &g,
        Some(job_view(Some(CONFIRM), JobOutcome::Complete, line)),
        true,
    );
    assert_eq!(reasons(&d), [event::RESTORE_IN_PLACE_LOADED]);
    assert!(d.loaded && d.job_ended);
    let s = written(&d);
    assert_eq!(s["phase"], "Resuming");
    assert_eq!(s["confirmTokenUsed"], CONFIRM);
    assert_eq!(s["targetGtidExecuted"], "0-1-3");
    assert_eq!(s["targetSite"], "iad");

    // Resuming: the run is Succeeded, the topology thaws, the other site is to be recloned.
    let g = group(spec(CONFIRM), s);
    let d = observe(&g, None, true);
    assert_eq!(d.reclone, None);
    assert_eq!(reasons(&d), [event::RESTORE_IN_PLACE_SUCCEEDED]);
    let s = written(&d);
    assert_eq!(s["phase"], "Succeeded");
    assert_eq!(s["completionTime"], "2026-12-07T12:00:00Z");
    assert_eq!(s["pendingReclones"], json!(["pdx"]));
    let g = group(spec(CONFIRM), s.clone());
    assert!(!in_flight(&g));
    assert_eq!(fenced_site(&g), None);
    // Then it gets the reclone annotation.
    let d = observe(&g, None, true);
    assert_eq!(d.reclone.as_deref(), Some("pdx"));
    let s = written(&d);
    assert_eq!(s.get("pendingReclones"), None);
    assert_eq!(s["phase"], "Succeeded");
    let g = group(spec(CONFIRM), s.clone());
    assert_eq!(reclone_value("orders", "pdx"), "pdx:confirm=orders");

    // The same confirm again, or an earlier one, does nothing; a strictly later one re-arms.
    assert_eq!(observe(&g, None, true), Decision::idle());
    let g = group(spec("2026-12-07T09:00:00Z"), s.clone());
    assert_eq!(observe(&g, None, true), Decision::idle());
    let g = group(spec(LATER), s.clone());
    let d = observe(&g, None, true);
    assert_eq!(written(&d)["phase"], "Preflight");
    assert_eq!(reasons(&d), [event::RESTORE_IN_PLACE_STARTED]);
    // A new confirm that is not a timestamp keeps the outcome and says why.
    let g = group(spec("tomorrow"), s);
    let d = observe(&g, None, true);
    assert_eq!(d.status, None);
    assert_eq!(reasons(&d), [event::RESTORE_IN_PLACE_REJECTED]);
}

/// A Succeeded full-instance run of a three-site group (target iad) with `status.pendingReclones` = `pending`, and
/// the reclone annotation `annotation` on the group.
fn three_sites(spec: Value, pending: &[&str], annotation: Option<&str>) -> MysqlFailoverGroup {
    let status = json!({
        "phase": "Succeeded", "scope": "full", "confirmTokenUsed": CONFIRM, "targetSite": "iad",
        "pendingReclones": pending,
    });
    let mut g = group(spec, status);
    let mut sfo = g.spec.sites[1].clone();
    sfo.name = "sfo".into();
    g.spec.sites.push(sfo);
    if let Some(a) = annotation {
        g.annotations_mut()
            .insert(annotation::RECLONE_SITE.into(), a.into());
    }
    g
}

#[test]
fn every_other_site_is_recloned_one_after_another() {
    // Resuming → Succeeded: every site but the target is pending, in declared order.
    let mut g = three_sites(spec(CONFIRM), &[], None);
    let mut resuming = g.status.clone().unwrap().restore_in_place.unwrap();
    resuming.phase = Some(RestoreInPlacePhase::Resuming);
    resuming.pending_reclones = None;
    g.status.as_mut().unwrap().restore_in_place = Some(resuming);
    let d = observe(&g, None, true);
    assert_eq!(d.reclone, None);
    let s = written(&d);
    assert_eq!(
        (s["phase"].as_str(), &s["pendingReclones"]),
        (Some("Succeeded"), &json!(["pdx", "sfo"]))
    );
    assert!(
        s["message"]
            .as_str()
            .unwrap()
            .contains("recloning pdx, sfo"),
        "{s}"
    );
    assert!(d.requeue.is_some());

    // No reclone requested: pdx gets the annotation and leaves the list.
    let d = observe(
        &three_sites(spec(CONFIRM), &["pdx", "sfo"], None),
        None,
        true,
    );
    assert_eq!(d.reclone.as_deref(), Some("pdx"));
    assert_eq!(written(&d)["pendingReclones"], json!(["sfo"]));
    assert!(d.requeue.is_some());

    // pdx's reclone runs (the runner removes the annotation when it is done): sfo waits.
    let running = Some("pdx:confirm=orders");
    let d = observe(&three_sites(spec(CONFIRM), &["sfo"], running), None, true);
    assert_eq!((d.reclone.clone(), d.status.clone()), (None, None));
    assert!(d.requeue.is_some());
    // So does it behind an admin's reclone.
    let admin = Some("sfo:0e2fa4c3-3b1e");
    let d = observe(&three_sites(spec(CONFIRM), &["sfo"], admin), None, true);
    assert_eq!((d.reclone.clone(), d.status.clone()), (None, None));
    // pdx was scheduled but the status write that dropped it was lost: it is dropped now, not scheduled twice.
    let d = observe(
        &three_sites(spec(CONFIRM), &["pdx", "sfo"], running),
        None,
        true,
    );
    assert_eq!(d.reclone, None);
    assert_eq!(written(&d)["pendingReclones"], json!(["sfo"]));
    assert!(d.events.is_empty());

    // pdx done: sfo is next, and the list is gone.
    let d = observe(&three_sites(spec(CONFIRM), &["sfo"], None), None, true);
    assert_eq!(d.reclone.as_deref(), Some("sfo"));
    let s = written(&d);
    assert_eq!(s.get("pendingReclones"), None);
    assert_eq!(s["phase"], "Succeeded");
    // Nothing left: nothing to do.
    assert_eq!(
        observe(&three_sites(spec(CONFIRM), &[], None), None, true),
        Decision::idle()
    );

    // Removing the spec does not drop the pending reclones; the status goes once none is left.
    let d = observe(&three_sites(Value::Null, &["sfo"], None), None, true);
    assert_eq!(d.reclone.as_deref(), Some("sfo"));
    assert_eq!(written(&d).get("pendingReclones"), None);
    let d = observe(&three_sites(Value::Null, &[], None), None, true);
    assert_eq!(d.status, Some(None));
    // An invalid new confirm keeps the outcome, and its reclones go on.
    let d = observe(&three_sites(spec("tomorrow"), &["sfo"], None), None, true);
    assert_eq!(d.reclone.as_deref(), Some("sfo"));
    assert_eq!(reasons(&d), [event::RESTORE_IN_PLACE_REJECTED]);
    // A later confirm starts a new run, which reclones every other site again when it succeeds.
    let d = observe(&three_sites(spec(LATER), &["sfo"], None), None, true);
    assert_eq!(d.reclone, None);
    let s = written(&d);
    assert_eq!(s["phase"], "Preflight");
    assert_eq!(s.get("pendingReclones"), None);
}

#[test]
fn an_invalid_spec_is_rejected_without_consuming_the_confirm() {
    let g = group(spec("next tuesday"), Value::Null);
    let d = observe(&g, None, false);
    assert_eq!(reasons(&d), [event::RESTORE_IN_PLACE_REJECTED]);
    let s = written(&d);
    assert_eq!(s["phase"], "Failed");
    assert!(s["confirmTokenUsed"].is_null(), "{s:#}");
    assert!(s["message"].as_str().unwrap().contains("RFC 3339"), "{s:#}");
    let mut two = spec(CONFIRM);
    two["loadOptions"] = json!({ "includeSchemas": ["a", "b"] });
    let d = observe(&group(two, Value::Null), None, false);
    assert!(
        written(&d)["message"]
            .as_str()
            .unwrap()
            .contains("at most one schema"),
        "{d:?}"
    );
    // Fixed with the same confirm: it runs (nothing consumed it).
    let failed = written(&d);
    let d = observe(&group(spec(CONFIRM), failed), None, false);
    assert_eq!(written(&d)["phase"], "Preflight");
}

#[test]
fn preflight_waits_for_a_writable_active_site() {
    let mut g = group(
        spec(CONFIRM),
        json!({ "phase": "Preflight", "scope": "full" }),
    );
    g.status.as_mut().unwrap().sites.as_mut().unwrap()[0].state = Some(SiteState::Unreachable);
    let d = observe(&g, None, false);
    let s = written(&d);
    assert_eq!(s["phase"], "Preflight");
    assert!(
        s["message"]
            .as_str()
            .unwrap()
            .contains("waiting for active site \"iad\" to be writable (observed: unreachable)"),
        "{s:#}"
    );
    // Written once; the same wait again changes nothing.
    let g2 = {
        let mut g2 = group(spec(CONFIRM), s);
        g2.status.as_mut().unwrap().sites.as_mut().unwrap()[0].state = Some(SiteState::Unreachable);
        g2
    };
    assert_eq!(observe(&g2, None, false).status, None);
}

#[test]
fn a_stale_job_is_waited_for_while_running_then_removed() {
    let status = json!({ "phase": "Restoring", "scope": "full", "targetSite": "iad" });
    let g = group(spec(LATER), status);
    let busy = observe(
        &g,
        Some(job_view(Some(CONFIRM), JobOutcome::Running, "")),
        true,
    );
    assert_eq!(reasons(&busy), [event::RESTORE_IN_PLACE_JOB_BUSY]);
    assert_eq!(busy.job, JobAction::None);
    let stale = observe(
        &g,
        Some(job_view(Some(CONFIRM), JobOutcome::Failed, "old")),
        true,
    );
    assert_eq!(
        stale.job,
        JobAction::DeleteStale("mysql-orders-iad-inplace-restore".into())
    );
    assert_eq!(reasons(&stale), [event::RESTORE_IN_PLACE_STALE_JOB_REMOVED]);
    assert_eq!(
        stale.status, None,
        "the stale Job's outcome is not this run's"
    );
    // A Job without the annotation is never this request's either.
    let unmarked = observe(&g, Some(job_view(None, JobOutcome::Complete, "")), true);
    assert!(matches!(unmarked.job, JobAction::DeleteStale(_)));
}

#[test]
fn a_confirm_changed_mid_run_waits_and_a_failed_run_keeps_its_own_confirm() {
    let status = json!({
        "phase": "Restoring", "scope": "full", "targetSite": "iad", "jobName": "mysql-orders-iad-inplace-restore",
    });
    let g = group(spec(LATER), status.clone());
    let d = observe(
        &g,
        Some(job_view(Some(CONFIRM), JobOutcome::Running, "")),
        true,
    );
    assert_eq!(reasons(&d), [event::RESTORE_IN_PLACE_CONFIRM_DEFERRED]);
    let s = written(&d);
    assert!(
        s["message"].as_str().unwrap().contains("starts a new run"),
        "{s:#}"
    );
    // Said once.
    let again = observe(
        &group(spec(LATER), s),
        Some(job_view(Some(CONFIRM), JobOutcome::Running, "")),
        true,
    );
    assert!(
        again.events.is_empty() && again.status.is_none(),
        "{again:?}"
    );
    // The Job fails: Failed under the confirm it ran with, so the later confirm re-arms a new run.
    let d = observe(
        &g,
        Some(job_view(
            Some(CONFIRM),
            JobOutcome::Failed,
            "BLOODRAVEN_ENCRYPT_METRICS stage=decrypt result=failure duration=0.1\nbloodraven: wrong passphrase",
        )),
        true,
    );
    assert_eq!(reasons(&d), [event::RESTORE_IN_PLACE_FAILED]);
    assert!(d.job_ended && !d.loaded);
    let s = written(&d);
    assert_eq!(s["phase"], "Failed");
    assert_eq!(s["confirmTokenUsed"], CONFIRM);
    assert!(
        s["message"]
            .as_str()
            .unwrap()
            .contains("failed: bloodraven: wrong passphrase"),
        "{s:#}"
    );
    let failed_same = group(spec(CONFIRM), s.clone());
    assert_eq!(observe(&failed_same, None, true), Decision::idle());
    assert_eq!(
        written(&observe(&group(spec(LATER), s), None, true))["phase"],
        "Preflight"
    );
}

#[test]
fn removing_the_spec_clears_the_status() {
    let g = group(
        Value::Null,
        json!({ "phase": "Succeeded", "confirmTokenUsed": CONFIRM }),
    );
    assert_eq!(observe(&g, None, false).status, Some(None));
    assert!(!in_flight(&g));
}

#[test]
fn the_in_place_job_is_the_restore_job_emptying_the_target_for_its_confirm() {
    let g = group(
        spec(CONFIRM),
        json!({ "phase": "Restoring", "scope": "full", "targetSite": "iad" }),
    );
    let rendered = render(&g).unwrap();
    insta::assert_json_snapshot!("in_place_restore_job", rendered.job);
    assert_eq!(
        rendered.job.metadata.name.as_deref(),
        Some("mysql-orders-iad-inplace-restore")
    );
    assert_eq!(
        rendered.job.annotations()[annotation::RESTORE_CONFIRM].as_str(),
        CONFIRM
    );
    let needed: Vec<&str> = rendered.secrets.iter().map(|s| s.field.as_str()).collect();
    assert!(
        needed.contains(&"spec.restoreInPlace.decryption.passphraseSecret"),
        "{needed:?}"
    );
    // A spec the loader cannot do is a build failure naming the field.
    let mut replay = spec(CONFIRM);
    replay["loadOptions"] = json!({ "includeSchemas": ["shop"] });
    replay["pointInTime"] = json!({ "stopDatetime": "2026-12-07T09:00:00Z" });
    let g = group(replay, Value::Null);
    let f = render(&g).unwrap_err();
    assert_eq!(f.reason, event::RESTORE_IN_PLACE_BUILD_FAILED);
    assert!(
        f.message
            .contains("spec.restoreInPlace.pointInTime cannot be combined"),
        "{}",
        f.message
    );
    assert_eq!(
        job_name(
            "a-very-long-group-name-for-a-failover-group",
            "eu-central-1a"
        ),
        "mysql-a-very-long-group-name-for-a-failover-group-eu-central-1a"
    );
}

/// The Job of `g` for site `iad`, rendered with a test image.
fn render(g: &MysqlFailoverGroup) -> Result<Rendered, Failure> {
    job(&Inputs {
        group: g,
        site: "iad",
        host: ("mysql-orders-iad.shop.svc".into(), 3306),
        backup: None,
        image: "ghcr.io/shipstream/bloodraven:test",
        source_encrypted: None,
    })
}

/// The env of the rendered Job's main container (`mysqlsh`, the Go name), by name.
fn job_env(rendered: &Rendered) -> std::collections::BTreeMap<String, String> {
    crate::controller::restore::build::tests::env_of(&rendered.job, "mysqlsh")
}

#[test]
fn a_per_schema_job_drops_and_loads_only_its_schema_binlogged() {
    let mut one = spec(CONFIRM);
    one["loadOptions"] = json!({ "includeSchemas": ["shop"], "skipBinlog": true, "threads": 2 });
    let g = group(
        one,
        json!({ "phase": "Restoring", "scope": "schema:shop", "targetSite": "iad" }),
    );
    let rendered = render(&g).unwrap();
    insta::assert_json_snapshot!("per_schema_in_place_restore_job", rendered.job);
    let vars = job_env(&rendered);
    assert_eq!(
        vars.get("BLOODRAVEN_DROP_SCHEMAS").map(String::as_str),
        Some("shop")
    );
    assert!(
        !vars.contains_key("BLOODRAVEN_DROP_ALL_USER_SCHEMAS"),
        "{vars:?}"
    );
    assert!(
        !vars.contains_key("BLOODRAVEN_RESET_REPLICATION"),
        "{vars:?}"
    );
    assert!(
        !vars.contains_key("BLOODRAVEN_PITR_FILTER_DATABASE"),
        "{vars:?}"
    );
    let load: Value = serde_json::from_str(&vars["BLOODRAVEN_LOAD_OPTIONS"]).unwrap();
    assert_eq!(
        load,
        json!({ "includeSchemas": ["shop"], "skipBinlog": false, "threads": 2 })
    );
    // The full-instance Job empties the target instead.
    let g = group(
        spec(CONFIRM),
        json!({ "phase": "Restoring", "scope": "full", "targetSite": "iad" }),
    );
    let vars = job_env(&render(&g).unwrap());
    assert_eq!(vars["BLOODRAVEN_DROP_ALL_USER_SCHEMAS"], "1");
    assert_eq!(vars["BLOODRAVEN_RESET_REPLICATION"], "1");
    assert!(!vars.contains_key("BLOODRAVEN_DROP_SCHEMAS"), "{vars:?}");
}

#[test]
fn a_per_schema_run_freezes_the_topology_but_neither_fences_nor_reclones() {
    let mut one = spec(CONFIRM);
    one["loadOptions"] = json!({ "includeSchemas": ["shop"] });
    let d = observe(&group(one.clone(), Value::Null), None, false);
    let s = written(&d);
    assert_eq!(
        (s["phase"].as_str(), s["scope"].as_str()),
        (Some("Preflight"), Some("schema:shop"))
    );
    let preflight = group(one.clone(), s);
    assert!(in_flight(&preflight));
    let s = written(&observe(&preflight, None, false));
    assert_eq!(s["phase"], "Fencing");
    // The primary keeps its role=primary label: Fencing moves on without waiting for it.
    let fencing = group(one.clone(), s);
    assert_eq!(fenced_site(&fencing), None);
    assert!(in_flight(&fencing));
    let s = written(&observe(&fencing, None, false));
    assert_eq!(s["phase"], "Restoring");
    let restoring = group(one.clone(), s);
    assert_eq!(fenced_site(&restoring), None);
    assert_eq!(observe(&restoring, None, false).job, JobAction::Create);
    let d = observe(
        &restoring,
        Some(job_view(Some(CONFIRM), JobOutcome::Complete, "")),
        false,
    );
    assert_eq!(reasons(&d), [event::RESTORE_IN_PLACE_LOADED]);
    let resuming = group(one.clone(), written(&d));
    assert!(in_flight(&resuming));
    let d = observe(&resuming, None, false);
    assert_eq!(d.reclone, None, "{d:?}");
    assert_eq!(reasons(&d), [event::RESTORE_IN_PLACE_SUCCEEDED]);
    let s = written(&d);
    assert_eq!(
        (s["phase"].as_str(), s["confirmTokenUsed"].as_str()),
        (Some("Succeeded"), Some(CONFIRM))
    );
    assert!(!in_flight(&group(one, s)));
}

#[test]
fn per_schema_specs_the_loader_cannot_do_are_rejected_naming_the_field() {
    for (schemas, pit, expected) in [
        (
            json!(["shop"]),
            true,
            "spec.restoreInPlace.pointInTime cannot be combined",
        ),
        (json!([""]), false, "includeSchemas[0] \"\" is empty"),
        (json!(["MySQL"]), false, "is a system schema"),
        (json!(["a,b"]), false, "contains a comma"),
    ] {
        let mut s = spec(CONFIRM);
        s["loadOptions"] = json!({ "includeSchemas": schemas });
        if pit {
            s["pointInTime"] = json!({ "stopDatetime": "2026-12-07T09:00:00Z" });
        }
        let d = observe(&group(s, Value::Null), None, false);
        assert_eq!(reasons(&d), [event::RESTORE_IN_PLACE_REJECTED]);
        let w = written(&d);
        assert_eq!(w["phase"], "Failed");
        assert!(w["confirmTokenUsed"].is_null(), "{w:#}");
        assert!(w["message"].as_str().unwrap().contains(expected), "{w:#}");
    }
}
