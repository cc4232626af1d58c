//! The pure half of every command that writes: input validation with `bloodraven-api`'s grammars and the patch or
//! object the command sends. Nothing here talks to the API server, so every refusal and every object is
//! snapshot-tested.

use std::fmt;

use bloodraven_api::annotations::{MIN_GTID_PREFIX_LEN, PlannedFailoverRequest, RecloneRequest};
use bloodraven_api::backup::{FailoverGroupRef, MysqlBackup, MysqlBackupSpec};
use bloodraven_api::failovergroup::MysqlFailoverGroup;
use bloodraven_api::names::{annotation, label};
use bloodraven_api::validate::Validate;
use bloodraven_api::verification::{
    MysqlBackupVerification, MysqlBackupVerificationSpec, PointInTimeMode,
    PointInTimeVerificationSpec,
};
use k8s_openapi::api::core::v1::LocalObjectReference;
use kube::api::ObjectMeta;
use serde_json::{Value, json};

/// `triggeredBy` of the objects the plugin creates.
pub(crate) const TRIGGERED_BY: &str = "kubectl-bloodraven";

/// A command refused before (or instead of) changing anything: what is wrong, where, and how to fix it.
#[derive(Clone, Debug, Eq, PartialEq)]
pub(crate) struct Refusal {
    /// What is wrong.
    pub(crate) what: String,
    /// The argument, object or field at fault.
    pub(crate) at: String,
    /// How to fix it.
    pub(crate) fix: String,
}

impl Refusal {
    pub(crate) fn new(
        what: impl Into<String>,
        at: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Refusal {
            what: what.into(),
            at: at.into(),
            fix: fix.into(),
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "refused: {}\n  at:  {}\n  fix: {}",
            self.what, self.at, self.fix
        )
    }
}

impl std::error::Error for Refusal {}

/// Checks a Kubernetes object name (RFC 1123 label, as the group and site names are).
pub(crate) fn check_name(what: &str, value: &str) -> Result<(), Refusal> {
    let valid = !value.is_empty()
        && value.len() <= 63
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !value.starts_with('-')
        && !value.ends_with('-');
    if valid {
        return Ok(());
    }
    Err(Refusal::new(
        format!("{value:?} is not a valid {what} name"),
        format!("the {what} argument"),
        "use at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit",
    ))
}

/// The planned-failover annotation for `promote GROUP SITE [--max-lag-wait D]`, checked against the group.
///
/// Returns the annotation value and the merge patch that sets it.
pub(crate) fn promote(
    group: &MysqlFailoverGroup,
    site: &str,
    max_lag_wait: Option<&str>,
) -> Result<(String, Value), Refusal> {
    let name = group.metadata.name.as_deref().unwrap_or_default();
    let value = match max_lag_wait {
        Some(d) => format!("{site}:maxLagWait={d}"),
        None => site.to_owned(),
    };
    let request = PlannedFailoverRequest::parse(&value).map_err(|e| {
        Refusal::new(
            e.to_string(),
            format!("--max-lag-wait / SITE of promote {name}"),
            "give a configured site and a Go duration greater than zero, such as 90s or 2m",
        )
    })?;
    request.check_site(&group.spec).map_err(|e| {
        Refusal::new(
            e.to_string(),
            format!("MysqlFailoverGroup {name} spec.sites"),
            "promote one of the group's sites (kubectl bloodraven status shows them)",
        )
    })?;
    let status = group.status.as_ref();
    if status.and_then(|s| s.active_site.as_deref()) == Some(site) {
        return Err(Refusal::new(
            format!("{site} is already the active site of {name}"),
            format!("MysqlFailoverGroup {name} status.activeSite"),
            "promote a different site, or nothing: there is nothing to switch over",
        ));
    }
    if let Some(planned) = status.and_then(|s| s.planned_failover.as_ref())
        && let Some(phase) = planned.phase
        && in_flight(phase)
    {
        return Err(Refusal::new(
            format!(
                "a planned failover to {} is in flight (phase {phase:?})",
                planned.target.as_deref().unwrap_or("?")
            ),
            format!("MysqlFailoverGroup {name} status.plannedFailover"),
            "wait until it ends (kubectl bloodraven status), then ask again",
        ));
    }
    let value = request.to_string();
    let patch = json!({ "metadata": { "annotations": { annotation::PLANNED_FAILOVER: value } } });
    Ok((value, patch))
}

/// Whether a planned failover in this phase is still running.
pub(crate) fn in_flight(
    phase: bloodraven_api::failovergroup::status::PlannedFailoverPhase,
) -> bool {
    use bloodraven_api::failovergroup::status::PlannedFailoverPhase as P;
    !matches!(phase, P::None | P::Failed | P::Succeeded)
}

/// The reclone annotation for `reclone GROUP SITE [--cold]`: the GTID-prefix interlock filled from the site's
/// `divergentGtid` (hot), or the `confirm=<group>` form (cold), authorized as the operator will.
pub(crate) fn reclone(
    group: &MysqlFailoverGroup,
    site: &str,
    cold: bool,
) -> Result<(String, Value), Refusal> {
    let name = group.metadata.name.as_deref().unwrap_or_default();
    let status = group.status.as_ref();
    if status.and_then(|s| s.active_site.as_deref()) == Some(site) {
        return Err(Refusal::new(
            format!("{site} is the active site of {name}: the operator never reclones the primary"),
            format!("MysqlFailoverGroup {name} status.activeSite"),
            format!(
                "switch over first (kubectl bloodraven promote {name} <other-site> --wait), then reclone {site}"
            ),
        ));
    }
    let divergent = status
        .and_then(|s| s.sites.as_ref())
        .and_then(|sites| sites.iter().find(|s| s.name.as_deref() == Some(site)))
        .and_then(|s| s.divergent_gtid.as_deref())
        .filter(|g| !g.is_empty());
    let value = match (divergent, cold) {
        (Some(gtid), true) => {
            return Err(Refusal::new(
                format!(
                    "{site} has divergent transactions ({gtid}): a cold reclone would discard them unseen"
                ),
                format!("MysqlFailoverGroup {name} status.sites[{site}].divergentGtid"),
                format!(
                    "review them with the data owner, then run reclone {name} {site} without --cold"
                ),
            ));
        }
        (Some(gtid), false) => {
            let prefix: String = gtid.chars().take(MIN_GTID_PREFIX_LEN).collect();
            format!("{site}:{prefix}")
        }
        (None, true) => format!("{site}:confirm={name}"),
        (None, false) => {
            return Err(Refusal::new(
                format!(
                    "{site} has no divergent transactions recorded, so there is no GTID prefix to confirm"
                ),
                format!("MysqlFailoverGroup {name} status.sites[{site}].divergentGtid"),
                format!("for a lost or corrupt data volume use reclone {name} {site} --cold"),
            ));
        }
    };
    let request = RecloneRequest::parse(&value).map_err(|e| {
        Refusal::new(
            e.to_string(),
            "the SITE argument",
            "give a configured site name",
        )
    })?;
    let sites = group.spec.sites.iter().map(|s| s.name.as_str());
    request.authorize(sites, name, divergent).map_err(|e| {
        Refusal::new(
            e.to_string(),
            format!("MysqlFailoverGroup {name} spec.sites"),
            "reclone one of the group's sites (kubectl bloodraven status shows them)",
        )
    })?;
    let patch = json!({ "metadata": { "annotations": { annotation::RECLONE_SITE: value } } });
    Ok((value, patch))
}

/// Checks that `profile` is one of the group's `spec.backup.profiles`.
pub(crate) fn check_profile(group: &MysqlFailoverGroup, profile: &str) -> Result<(), Refusal> {
    let name = group.metadata.name.as_deref().unwrap_or_default();
    let profiles: Vec<&str> = group
        .spec
        .backup
        .iter()
        .flat_map(|b| b.profiles.iter().flatten())
        .map(|p| p.name.as_str())
        .collect();
    if profiles.contains(&profile) {
        return Ok(());
    }
    let fix = if profiles.is_empty() {
        "add a profile to spec.backup.profiles first (see docs/backups-and-pitr.md)".to_owned()
    } else {
        format!("use one of: {}", profiles.join(", "))
    };
    Err(Refusal::new(
        format!("{name} has no backup profile {profile:?}"),
        format!("MysqlFailoverGroup {name} spec.backup.profiles"),
        fix,
    ))
}

/// The `MysqlBackup` of `backup GROUP PROFILE`, as the Go operator's objects look (`generateName`
/// `<group>-<profile>-`, the group and profile labels), validated against the CRD's schema.
pub(crate) fn backup(group: &str, namespace: &str, profile: &str) -> Result<MysqlBackup, Refusal> {
    check_name("group", group)?;
    check_name("profile", profile)?;
    let backup = MysqlBackup {
        metadata: metadata(group, profile, namespace),
        spec: MysqlBackupSpec {
            failover_group_ref: FailoverGroupRef {
                name: group.to_owned(),
            },
            profile_name: profile.to_owned(),
            source_site_override: None,
            triggered_by: Some(TRIGGERED_BY.to_owned()),
        },
        status: None,
    };
    check_valid("MysqlBackup", backup.violations())?;
    Ok(backup)
}

/// The `--pitr` argument of `verify-backup`: `latest`, or an RFC 3339 time to replay up to.
pub(crate) fn point_in_time(pitr: &str) -> PointInTimeVerificationSpec {
    if pitr == "latest" {
        PointInTimeVerificationSpec {
            mode: Some(PointInTimeMode::Latest),
            timestamp: None,
        }
    } else {
        PointInTimeVerificationSpec {
            mode: Some(PointInTimeMode::Timestamp),
            timestamp: Some(pitr.to_owned()),
        }
    }
}

/// The `MysqlBackupVerification` of `verify-backup GROUP PROFILE [--backup NAME] [--pitr latest|TIME]`,
/// validated against the CRD's schema and rules (the PITR time must be RFC 3339).
pub(crate) fn verification(
    group: &str,
    namespace: &str,
    profile: &str,
    backup: Option<&str>,
    pitr: Option<&str>,
) -> Result<MysqlBackupVerification, Refusal> {
    check_name("group", group)?;
    check_name("profile", profile)?;
    if let Some(b) = backup {
        check_object_name("--backup", b)?;
    }
    let verification = MysqlBackupVerification {
        metadata: metadata(group, profile, namespace),
        spec: MysqlBackupVerificationSpec {
            failover_group_ref: FailoverGroupRef {
                name: group.to_owned(),
            },
            profile_name: profile.to_owned(),
            backup_ref: backup.map(|b| LocalObjectReference { name: b.to_owned() }),
            storage: None,
            keep_on_failure: None,
            ttl_seconds_after_finished: None,
            resources: None,
            triggered_by: Some(TRIGGERED_BY.to_owned()),
            point_in_time: pitr.map(point_in_time),
            sanity_check: None,
        },
        status: None,
    };
    check_valid("MysqlBackupVerification", verification.violations())?;
    Ok(verification)
}

fn metadata(group: &str, profile: &str, namespace: &str) -> ObjectMeta {
    ObjectMeta {
        generate_name: Some(format!("{group}-{profile}-")),
        namespace: Some(namespace.to_owned()),
        labels: Some(
            [
                (label::FAILOVER_GROUP.to_owned(), group.to_owned()),
                (label::BACKUP_PROFILE.to_owned(), profile.to_owned()),
                (label::MANAGED_BY.to_owned(), TRIGGERED_BY.to_owned()),
            ]
            .into(),
        ),
        ..ObjectMeta::default()
    }
}

/// An object name of up to 253 characters (RFC 1123 subdomain).
fn check_object_name(what: &str, value: &str) -> Result<(), Refusal> {
    let valid = !value.is_empty()
        && value.len() <= 253
        && value.split('.').all(|part| check_name(what, part).is_ok());
    if valid {
        return Ok(());
    }
    Err(Refusal::new(
        format!("{value:?} is not a valid object name"),
        format!("the {what} argument"),
        "give the name of a MysqlBackup (kubectl get mysqlbackups lists them)",
    ))
}

fn check_valid(
    kind: &str,
    violations: Vec<bloodraven_api::validate::Violation>,
) -> Result<(), Refusal> {
    let Some(first) = violations.first() else {
        return Ok(());
    };
    Err(Refusal::new(
        violations
            .iter()
            .map(|v| v.message.clone())
            .collect::<Vec<_>>()
            .join("; "),
        format!("the {kind} this command builds, {}", first.path),
        "correct the argument that fills this field (see kubectl bloodraven help)",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(status: Value) -> MysqlFailoverGroup {
        let storage = json!({ "storageClassName": "gp3", "size": "10Gi" });
        serde_json::from_value(json!({
            "apiVersion": "shipstream.io/v1alpha1",
            "kind": "MysqlFailoverGroup",
            "metadata": { "name": "orders", "namespace": "shop" },
            "spec": {
                "credentials": { "operatorSecret": "orders-operator" },
                "dns": { "hostname": "orders.example.com" },
                "sites": [
                    { "name": "iad", "zone": "a", "storage": storage },
                    { "name": "pdx", "zone": "b", "storage": storage },
                ],
                "backup": { "profiles": [{ "name": "nightly", "storage": { "type": "S3", "s3": { "bucket": "b", "credentialsSecret": "s3-creds" } } }] },
            },
            "status": status,
        }))
        .unwrap()
    }

    fn active_iad() -> MysqlFailoverGroup {
        group(json!({
            "activeSite": "iad",
            "sites": [
                { "name": "iad", "state": "writable" },
                { "name": "pdx", "state": "read-only", "recoveryState": "RecoveryBlocked",
                  "divergentGtid": "a1b2c3d4-0000-0000-0000-000000000000:11-15" },
            ],
        }))
    }

    #[test]
    fn promote_builds_the_annotation_patch() {
        let (value, patch) = promote(&active_iad(), "pdx", Some("90s")).unwrap();
        assert_eq!(value, "pdx:maxLagWait=90s");
        insta::assert_json_snapshot!(patch);
        assert_eq!(promote(&active_iad(), "pdx", None).unwrap().0, "pdx");
    }

    #[test]
    fn promote_refusals_say_what_where_and_how() {
        let g = active_iad();
        insta::assert_snapshot!(
            [
                promote(&g, "fra", None),
                promote(&g, "pdx", Some("0s")),
                promote(&g, "pdx", Some("soon")),
                promote(&g, "iad", None),
            ]
            .into_iter()
            .map(|r| r.unwrap_err().to_string())
            .collect::<Vec<_>>()
            .join("\n\n")
        );
        let busy = group(
            json!({ "activeSite": "iad", "plannedFailover": { "phase": "Draining", "target": "pdx" } }),
        );
        assert!(
            promote(&busy, "pdx", None)
                .unwrap_err()
                .what
                .contains("in flight")
        );
    }

    #[test]
    fn reclone_fills_the_gtid_prefix_or_confirms_cold() {
        let (value, patch) = reclone(&active_iad(), "pdx", false).unwrap();
        assert_eq!(value, "pdx:a1b2c3d4");
        insta::assert_json_snapshot!(patch);
        let clean = group(
            json!({ "activeSite": "iad", "sites": [{ "name": "pdx", "state": "read-only" }] }),
        );
        assert_eq!(
            reclone(&clean, "pdx", true).unwrap().0,
            "pdx:confirm=orders"
        );
        insta::assert_snapshot!(
            [
                reclone(&active_iad(), "pdx", true),
                reclone(&clean, "pdx", false),
                reclone(&active_iad(), "iad", false),
                reclone(&clean, "fra", true),
            ]
            .into_iter()
            .map(|r| r.unwrap_err().to_string())
            .collect::<Vec<_>>()
            .join("\n\n")
        );
    }

    #[test]
    fn backup_and_verification_objects_look_like_the_go_operators() {
        let g = active_iad();
        insta::assert_json_snapshot!("backup", backup("orders", "shop", "nightly").unwrap());
        insta::assert_json_snapshot!(
            "verification",
            verification(
                "orders",
                "shop",
                "nightly",
                Some("orders-nightly-20260413-0200"),
                Some("latest")
            )
            .unwrap()
        );
        let pitr = verification(
            "orders",
            "shop",
            "nightly",
            None,
            Some("2026-05-20T14:32:00Z"),
        )
        .unwrap();
        assert_eq!(
            pitr.spec.point_in_time.unwrap().mode,
            Some(PointInTimeMode::Timestamp)
        );
        insta::assert_snapshot!(
            [
                check_profile(&g, "weekly"),
                verification("orders", "shop", "nightly", None, Some("yesterday")).map(|_| ()),
                verification("orders", "shop", "nightly", Some("Bad_Name"), None).map(|_| ()),
            ]
            .into_iter()
            .map(|r| r.unwrap_err().to_string())
            .collect::<Vec<_>>()
            .join("\n\n")
        );
    }

    #[test]
    fn names_are_checked_before_the_cluster_is_asked() {
        assert!(check_name("group", "orders-1").is_ok());
        insta::assert_snapshot!(check_name("group", "Orders_1").unwrap_err().to_string());
        assert!(check_name("site", "").is_err());
        assert!(check_name("site", "-iad").is_err());
        assert!(check_name("site", &"a".repeat(64)).is_err());
    }
}
