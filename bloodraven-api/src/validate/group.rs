//! Semantic rules of `MysqlFailoverGroup` (and of the group template inside `MysqlStandbyCluster`).

use std::collections::HashMap;

use super::rules::{
    check_cron, check_point_in_time_verification, check_rfc3339, check_stop_datetime,
};
use super::{Violation, field, index};
use crate::duration::Duration;
use crate::failovergroup::backup::{BackupSpec, BackupStorage, StorageType};
use crate::failovergroup::restore::InitFromBackupSource;
use crate::failovergroup::{MysqlFailoverGroupSpec, ServiceType, SiteRole};
use crate::standby::{MysqlStandbyClusterSpec, Transport};

/// Every rule of a failover group spec found at `path`.
pub(crate) fn failover_group(spec: &MysqlFailoverGroupSpec, path: &str, out: &mut Vec<Violation>) {
    credentials(spec, path, out);
    sites(spec, path, out);
    services(spec, path, out);
    split_brain(spec, path, out);
    if let Some(sidecar) = &spec.sidecar {
        let p = field(path, "sidecar");
        let interval = sidecar.peer_check_interval_or_default();
        let lease = sidecar.lease_timeout_or_default();
        if interval < Duration::from_secs(1) {
            out.push(Violation::new(
                field(&p, "peerCheckInterval"),
                format!("{interval} is too short: peerCheckInterval must be at least 1s"),
            ));
        }
        if lease < Duration::from_secs(3) {
            out.push(Violation::new(
                field(&p, "leaseTimeout"),
                format!("{lease} is too short: leaseTimeout must be at least 3s"),
            ));
        } else if i128::from(lease.as_nanos()) < 3 * i128::from(interval.as_nanos()) {
            out.push(Violation::new(
                field(&p, "leaseTimeout"),
                format!(
                    "leaseTimeout {lease} must be at least 3 x peerCheckInterval ({interval}): raise leaseTimeout or lower peerCheckInterval"
                ),
            ));
        }
    }
    if let Some(backup) = &spec.backup {
        backup_rules(backup, &field(path, "backup"), out);
    }
    if let Some(init) = &spec.init_from_backup {
        let p = field(path, "initFromBackup");
        source(&init.source, &field(&p, "source"), out);
        if let Some(pit) = &init.point_in_time {
            check_stop_datetime(
                &pit.stop_datetime,
                &field(&field(&p, "pointInTime"), "stopDatetime"),
                out,
            );
        }
    }
    if let Some(restore) = &spec.restore_in_place {
        let p = field(path, "restoreInPlace");
        check_rfc3339(&restore.confirm, &field(&p, "confirm"), out);
        source(&restore.source, &field(&p, "source"), out);
        if let Some(pit) = &restore.point_in_time {
            check_stop_datetime(
                &pit.stop_datetime,
                &field(&field(&p, "pointInTime"), "stopDatetime"),
                out,
            );
        }
        let schemas = restore
            .load_options
            .as_ref()
            .and_then(|l| l.include_schemas.as_ref());
        if schemas.is_some_and(|s| s.len() > 1) {
            out.push(Violation::new(
                field(&field(&p, "loadOptions"), "includeSchemas"),
                "an in-place restore loads the full instance (no entry) or exactly one schema: list at most one",
            ));
        }
        if schemas.is_some_and(|s| s.len() == 1) && restore.point_in_time.is_some() {
            out.push(Violation::new(
                field(&p, "pointInTime"),
                "a per-schema in-place restore (one loadOptions.includeSchemas entry) cannot replay binlogs: the \
                 archived transactions carry GTIDs the primary already executed; remove pointInTime, or \
                 includeSchemas for a full-instance restore",
            ));
        }
    }
    if let Some(dragonfly) = &spec.dragonfly
        && dragonfly.enabled == Some(true)
    {
        let p = field(&field(path, "dragonfly"), "image");
        match dragonfly.image.as_deref() {
            None | Some("") => out.push(Violation::new(
                p,
                "required when dragonfly.enabled is true: set a pinned Dragonfly image",
            )),
            Some(image) if image.ends_with(":latest") => out.push(Violation::new(
                p,
                format!("{image:?} is not pinned: use a version tag or digest instead of :latest"),
            )),
            Some(_) => {}
        }
    }
    if let Some(encryption) = &spec.encryption_at_rest {
        let p = field(path, "encryptionAtRest");
        if encryption.enabled && spec.tls.is_none() {
            out.push(Violation::new(
                field(path, "tls"),
                "required when encryptionAtRest.enabled is true: configure TLS (issuerRef and secretName)",
            ));
        }
        let dir = encryption
            .keyring
            .as_ref()
            .and_then(|k| k.data_file_dir.as_deref());
        if let Some(dir) = dir
            && (dir == "/var/lib/mysql" || dir.starts_with("/var/lib/mysql/"))
        {
            out.push(Violation::new(
                field(&field(&p, "keyring"), "dataFileDir"),
                format!("{dir:?} is inside the datadir /var/lib/mysql: keep the keyring outside it, e.g. /run/mysql-keyring"),
            ));
        }
    }
}

/// Every rule of a standby spec found at `path`, including its group template.
pub(crate) fn standby(spec: &MysqlStandbyClusterSpec, path: &str, out: &mut Vec<Violation>) {
    let object_store = spec.transport.unwrap_or_default() == Transport::ObjectStore;
    let storage = &spec.source.storage;
    let storage_path = field(&field(path, "source"), "storage");
    storage_rules(storage, &storage_path, out);
    if object_store && storage.type_ != StorageType::S3 {
        out.push(Violation::new(
            field(&storage_path, "type"),
            "transport ObjectStore needs S3 storage (a PVC is not an object store): set type S3 and s3",
        ));
    }
    if object_store && storage.type_ == StorageType::S3 {
        let prefix = storage.s3.as_ref().and_then(|s| s.prefix.as_deref());
        if prefix.is_none_or(str::is_empty) && storage.s3.is_some() {
            out.push(Violation::new(
                field(&field(&storage_path, "s3"), "prefix"),
                "required with transport ObjectStore: set the prefix the source group writes its dumps under",
            ));
        }
    }
    if let Some(interval) = spec
        .freshness
        .as_ref()
        .and_then(|f| f.discovery_interval.as_ref())
        && *interval < Duration::from_secs(30)
    {
        out.push(Violation::new(
            field(&field(path, "freshness"), "discoveryInterval"),
            format!("{interval} is too short: discoveryInterval must be at least 30s"),
        ));
    }
    failover_group(
        &spec.template.spec,
        &field(&field(path, "template"), "spec"),
        out,
    );
}

fn credentials(spec: &MysqlFailoverGroupSpec, path: &str, out: &mut Vec<Violation>) {
    let legacy = spec.secret_name.as_deref().is_some_and(|s| !s.is_empty());
    match (legacy, spec.credentials.is_some()) {
        (true, true) => out.push(Violation::new(
            field(path, "credentials"),
            "secretName and credentials are mutually exclusive: keep credentials and remove secretName (or the reverse)",
        )),
        (false, false) => out.push(Violation::new(
            field(path, "credentials"),
            "no credentials: set credentials.operatorSecret (or the legacy secretName with a dsn key)",
        )),
        _ => {}
    }
}

fn sites(spec: &MysqlFailoverGroupSpec, path: &str, out: &mut Vec<Violation>) {
    let sites_path = field(path, "sites");
    let mut first_use: HashMap<&str, usize> = HashMap::new();
    for (i, site) in spec.sites.iter().enumerate() {
        let p = index(&sites_path, i);
        if let Some(first) = first_use.insert(site.name.as_str(), i) {
            first_use.insert(site.name.as_str(), first);
            out.push(Violation::new(
                field(&p, "name"),
                format!(
                    "duplicate site name {:?} (also used by {}): site names must be unique",
                    site.name,
                    index(&sites_path, first)
                ),
            ));
        }
        if site.role_or_default() != SiteRole::ReadOnly {
            let role = match site.role_or_default() {
                SiteRole::DrOnly => "dr-only",
                _ => "primary-candidate",
            };
            if site.taint_node_selector.is_none() {
                out.push(Violation::new(
                    field(&p, "taintNodeSelector"),
                    format!("required for a {role} site: set the node labels that select this site's nodes (or make the site read-only)"),
                ));
            }
            if site.lb_ip.is_none() {
                out.push(Violation::new(
                    field(&p, "lbIP"),
                    format!("required for a {role} site: set the load-balancer IP published in DNS when this site is primary"),
                ));
            }
        }
    }
    let candidates = spec.primary_candidates().count();
    if candidates < 2 && spec.sites.len() >= 2 {
        out.push(Violation::new(
            sites_path,
            format!(
                "{candidates} site{} primary-candidate, at least two are needed to fail over: set role primary-candidate (or leave role unset) on another site",
                if candidates == 1 { " is" } else { "s are" }
            ),
        ));
    }
}

fn services(spec: &MysqlFailoverGroupSpec, path: &str, out: &mut Vec<Violation>) {
    let group = spec.service_template.as_ref();
    let group_type = group.and_then(|t| t.type_);
    let group_etp = group.and_then(|t| t.external_traffic_policy).is_some();
    if group_etp && !group_type.is_some_and(ServiceType::is_external) {
        out.push(Violation::new(
            field(&field(path, "serviceTemplate"), "externalTrafficPolicy"),
            "needs serviceTemplate.type NodePort or LoadBalancer: set the type or remove externalTrafficPolicy",
        ));
    }
    for (i, site) in spec.sites.iter().enumerate() {
        let template = site.service_template.as_ref();
        let effective = template
            .and_then(|t| t.type_)
            .or(group_type)
            .unwrap_or_default();
        if effective.is_external() {
            continue;
        }
        let p = field(&index(&field(path, "sites"), i), "serviceTemplate");
        if template.is_some_and(|t| t.external_traffic_policy.is_some()) {
            out.push(Violation::new(
                field(&p, "externalTrafficPolicy"),
                "needs the site's Service type to be NodePort or LoadBalancer: set serviceTemplate.type",
            ));
        } else if group_etp && group_type.is_some_and(ServiceType::is_external) {
            out.push(Violation::new(
                field(&p, "type"),
                "the group serviceTemplate.externalTrafficPolicy applies to every site, so this site's Service must be NodePort or LoadBalancer",
            ));
        }
        if template.is_some_and(|t| t.node_port.is_some()) {
            out.push(Violation::new(
                field(&p, "nodePort"),
                "needs the site's Service type to be NodePort or LoadBalancer: set serviceTemplate.type or remove nodePort",
            ));
        }
    }
}

fn split_brain(spec: &MysqlFailoverGroupSpec, path: &str, out: &mut Vec<Violation>) {
    let Some(priorities) = spec
        .split_brain_policy
        .as_ref()
        .and_then(|s| s.site_priorities.as_ref())
    else {
        return;
    };
    let p = field(&field(path, "splitBrainPolicy"), "sitePriorities");
    for (i, name) in priorities.iter().enumerate() {
        match spec.site(name) {
            None => out.push(Violation::new(
                index(&p, i),
                format!("{name:?} is not a site of this group: list names from spec.sites"),
            )),
            Some(site) if site.role_or_default() != SiteRole::PrimaryCandidate => out.push(Violation::new(
                index(&p, i),
                format!("site {name:?} is not a primary-candidate: only promotable sites may be listed"),
            )),
            Some(_) => {}
        }
    }
}

fn backup_rules(backup: &BackupSpec, path: &str, out: &mut Vec<Violation>) {
    let profiles = backup.profiles.as_deref().unwrap_or_default();
    let profiles_path = field(path, "profiles");
    let mut seen = HashMap::new();
    for (i, profile) in profiles.iter().enumerate() {
        let p = index(&profiles_path, i);
        if let Some(first) = seen.insert(profile.name.as_str(), i) {
            out.push(Violation::new(
                field(&p, "name"),
                format!(
                    "duplicate profile name {:?} (also used by {}): rename one",
                    profile.name,
                    index(&profiles_path, first)
                ),
            ));
        }
        storage_rules(&profile.storage, &field(&p, "storage"), out);
        if let Some(verification) = &profile.verification {
            let vp = field(&p, "verification");
            if let Some(schedule) = &verification.schedule {
                check_cron(schedule, &field(&vp, "schedule"), out);
            }
            if verification.enabled == Some(true) && verification.schedule.is_none() {
                out.push(Violation::new(
                    field(&vp, "schedule"),
                    "required when verification.enabled is true: set a five-field cron expression such as \"0 5 * * *\"",
                ));
            }
            if let Some(pit) = &verification.point_in_time {
                check_point_in_time_verification(pit, &field(&vp, "pointInTime"), out);
            }
        }
    }
    let known = |name: &str| profiles.iter().any(|p| p.name == name);
    let names = || {
        profiles
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut schedule_names = HashMap::new();
    for (i, schedule) in backup.schedules.iter().flatten().enumerate() {
        let p = index(&field(path, "schedules"), i);
        if let Some(first) = schedule_names.insert(schedule.name.as_str(), i) {
            out.push(Violation::new(
                field(&p, "name"),
                format!(
                    "duplicate schedule name {:?} (also used by schedules[{first}]): rename one",
                    schedule.name
                ),
            ));
        }
        if !known(&schedule.profile_name) {
            out.push(Violation::new(
                field(&p, "profileName"),
                unknown_profile(&schedule.profile_name, &names()),
            ));
        }
        check_cron(&schedule.schedule, &field(&p, "schedule"), out);
    }
    if let Some(pitr) = &backup.pitr {
        let p = field(&field(path, "pitr"), "profileName");
        match pitr.profile_name.as_deref() {
            Some(name) if !known(name) => out.push(Violation::new(p, unknown_profile(name, &names()))),
            None if pitr.enabled == Some(true) => out.push(Violation::new(
                p,
                "required when pitr.enabled is true: name the profile whose storage receives the binlogs",
            )),
            _ => {}
        }
    }
}

fn unknown_profile(name: &str, names: &str) -> String {
    if names.is_empty() {
        format!("profile {name:?} does not exist: add it under spec.backup.profiles")
    } else {
        format!(
            "profile {name:?} does not exist: use one of {names} or add it under spec.backup.profiles"
        )
    }
}

fn storage_rules(storage: &BackupStorage, path: &str, out: &mut Vec<Violation>) {
    let (wanted, other) = match storage.type_ {
        StorageType::S3 => ("s3", storage.pvc.is_some().then_some("pvc")),
        StorageType::Pvc => ("pvc", storage.s3.is_some().then_some("s3")),
    };
    let present = match storage.type_ {
        StorageType::S3 => storage.s3.is_some(),
        StorageType::Pvc => storage.pvc.is_some(),
    };
    if !present {
        out.push(Violation::new(
            field(path, wanted),
            format!(
                "required when type is {}: configure {wanted}",
                if wanted == "s3" { "S3" } else { "PVC" }
            ),
        ));
    }
    if let Some(other) = other {
        out.push(Violation::new(
            field(path, other),
            format!("does not match type: remove {other} or change type"),
        ));
    }
}

fn source(source: &InitFromBackupSource, path: &str, out: &mut Vec<Violation>) {
    let set = [
        source.mysql_backup_ref.is_some(),
        source.s3.is_some(),
        source.pvc.is_some(),
    ]
    .into_iter()
    .filter(|s| *s)
    .count();
    if set != 1 {
        out.push(Violation::new(
            path,
            format!("{set} sources set: set exactly one of mysqlBackupRef, s3 or pvc"),
        ));
    }
    if let Some(reference) = &source.mysql_backup_ref
        && reference.name.is_empty()
    {
        out.push(Violation::new(
            field(&field(path, "mysqlBackupRef"), "name"),
            "must not be empty: name a Succeeded MysqlBackup in the same namespace",
        ));
    }
}
