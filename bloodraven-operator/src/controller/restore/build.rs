//! The pure half of the `initFromBackup` restore: the target site, the restore Job (the Go layout: `pitr-download`
//! and `decrypt-download` init containers, the load in the main container), the Secrets it needs, and the status a
//! Job's outcome gives. No client here; [`super`] applies what these return.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::Job;
use serde_json::{Value, json};

use bloodraven_api::backup::{BackupPhase, MysqlBackup};
use bloodraven_api::failovergroup::MysqlFailoverGroup;
use bloodraven_api::failovergroup::backup::{
    BackupDecryptionSpec, BackupProfile, PassphraseSecretRef, S3Storage, StorageType,
};
use bloodraven_api::failovergroup::restore::{
    InitFromBackupSource, InitFromBackupSpec, LoadOptions, PointInTimeSpec,
};
use bloodraven_api::failovergroup::status::{RestoreDetails, SiteState};
use bloodraven_api::names::{event, label};

use crate::controller::backup::build::{
    DEFAULT_ACTIVE_DEADLINE_SECONDS, Failure, PVC_MOUNT, env_var, merge,
};
use crate::jobs::env;
use crate::jobs::result::percent_decode;
use crate::jobs::steps::DECRYPTED_DIR;

/// `restore_kind` of the restore metrics for `initFromBackup`.
pub const KIND_INIT_FROM_BACKUP: &str = "init_from_backup";
/// The main container's name (the Go Job's; its log or termination message carries the result line).
pub const CONTAINER: &str = "mysqlsh";
/// The `decrypt-download` init container.
pub const DECRYPT_CONTAINER: &str = "decrypt-download";
/// The `pitr-download` init container.
pub const PITR_CONTAINER: &str = "pitr-download";
/// Where the MySQL credentials are mounted (files `MYSQL_USER`, `MYSQL_PASSWORD`).
pub const MYSQL_CREDS_MOUNT: &str = "/run/bloodraven/mysql-creds";
/// Where the source's S3 credentials Secret is mounted.
pub const AWS_CREDS_MOUNT: &str = "/run/bloodraven/aws-creds";
/// Where the PITR archive's S3 credentials Secret is mounted (in `pitr-download`).
pub const PITR_AWS_CREDS_MOUNT: &str = "/run/bloodraven/pitr-aws-creds";
/// Where passphrase Secrets are mounted (file `passphrase`).
pub const PASSPHRASE_MOUNT: &str = "/run/bloodraven/backup-passphrase";
/// Where a PVC source is mounted read-only.
pub const RESTORE_PVC_MOUNT: &str = "/restore";
/// Where an encrypted PVC source is mounted for `decrypt-download`.
pub const DECRYPT_PVC_MOUNT: &str = "/restore-src-encrypted";
/// Where `pitr-download` leaves the binlogs (an emptyDir).
pub const PITR_LOCAL_DIR: &str = "/pitr-binlogs";
/// Where a PVC PITR archive is mounted in `pitr-download`.
pub const PITR_PVC_MOUNT: &str = "/restore-pitr";
/// The exact message of the Go operator when an encrypted source has no passphrase (multi-cluster-dr).
pub const NO_PASSPHRASE: &str = "initFromBackup source is encrypted but no passphrase is available; set \
     initFromBackup.decryption.passphraseSecret or restore the profile's encryption.passphraseSecret";

/// The restore Job's name: `mysql-<group>-<site>-restore`, shortened to 63 characters.
pub fn job_name(group: &str, site: &str) -> String {
    let mut name = format!("mysql-{group}-{site}-restore");
    name.truncate(63);
    name.trim_end_matches('-').to_owned()
}

/// Whether `spec.initFromBackup` is set and its restore has not Succeeded: automatic bootstrap waits meanwhile.
pub fn in_flight(group: &MysqlFailoverGroup) -> bool {
    group.spec.init_from_backup.is_some()
        && group
            .status
            .as_ref()
            .and_then(|s| s.restore.as_ref())
            .and_then(|r| r.phase)
            != Some(BackupPhase::Succeeded)
}

/// The site the dump is loaded into: the active site when it is writable or not observed yet (an observed site
/// in any other state is refused: something else already runs there), else the seed site of a fresh deploy (the
/// first primary-candidate by `spec.splitBrainPolicy.sitePriorities`, then in declared order, then `sites[0]`),
/// unless that site is observed read-only: with no writable site, a read-only seed may be a fenced server that
/// holds data, and the restore waits instead of writing into it.
pub fn target_site(group: &MysqlFailoverGroup) -> Result<String, String> {
    let status = group.status.as_ref();
    let observed = |site: &str| {
        status
            .and_then(|s| s.sites.as_ref())
            .and_then(|sites| sites.iter().find(|s| s.name.as_deref() == Some(site)))
            .and_then(|s| s.state)
    };
    if let Some(active) = status
        .and_then(|s| s.active_site.as_deref())
        .filter(|a| !a.is_empty())
    {
        return match observed(active) {
            None | Some(SiteState::Writable) => Ok(active.to_owned()),
            Some(state) => Err(format!(
                "waiting for a writable target site: status.activeSite {active:?} is {state:?}"
            )),
        };
    }
    let seed = seed_site(group).ok_or_else(|| "spec.sites is empty".to_owned())?;
    if observed(&seed) == Some(SiteState::ReadOnly) {
        return Err(format!(
            "waiting for a writable target site: status.activeSite is empty and the seed site {seed:?} is \
             read-only (possibly fenced); the restore never writes into a read-only server"
        ));
    }
    Ok(seed)
}

/// The seed site of a fresh deploy: the first primary-candidate by `spec.splitBrainPolicy.sitePriorities`, then
/// in declared order, then `sites[0]`.
fn seed_site(group: &MysqlFailoverGroup) -> Option<String> {
    let candidates: Vec<&str> = group.spec.primary_candidates().collect();
    let by_priority = group
        .spec
        .split_brain_policy
        .as_ref()
        .and_then(|p| p.site_priorities.as_ref())
        .and_then(|p| p.iter().find(|s| candidates.contains(&s.as_str())));
    by_priority
        .map(String::as_str)
        .or(candidates.first().copied())
        .or(group.spec.sites.first().map(|s| s.name.as_str()))
        .map(str::to_owned)
}

/// Whether the target site's server is up: its Deployment has a ready replica, or the group's poll reached it.
pub fn target_ready(group: &MysqlFailoverGroup, site: &str, deployment_ready: bool) -> bool {
    deployment_ready
        || group
            .status
            .as_ref()
            .and_then(|s| s.sites.as_ref())
            .and_then(|sites| sites.iter().find(|s| s.name.as_deref() == Some(site)))
            .is_some_and(|s| matches!(s.state, Some(SiteState::Writable | SiteState::ReadOnly)))
}

/// A Secret the Job mounts: its name, the field that names it, and the key it must hold (if one).
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct SecretNeed {
    /// The Secret's name.
    pub name: String,
    /// The spec field that names it.
    pub field: String,
    /// The key the Job reads, if a single one.
    pub key: Option<String>,
}

/// Everything the restore Job is rendered from.
#[derive(Clone, Debug)]
pub struct Inputs<'a> {
    /// The group.
    pub group: &'a MysqlFailoverGroup,
    /// The site loaded.
    pub site: &'a str,
    /// Where that site's server is dialled.
    pub host: (String, u16),
    /// The MysqlBackup of `source.mysqlBackupRef`, if that is the source (and it exists).
    pub backup: Option<&'a MysqlBackup>,
    /// The image with the `bloodraven` binary.
    pub image: &'a str,
    /// Whether a direct `s3` source holds the encryption marker (`None`: not looked at).
    pub source_encrypted: Option<bool>,
}

/// The rendered Job and the Secrets it needs.
#[derive(Clone, Debug)]
pub struct Rendered {
    /// The Job.
    pub job: Job,
    /// Secrets that must exist (with their keys) before the Job is created.
    pub secrets: Vec<SecretNeed>,
}

fn build_failed(message: String) -> Failure {
    Failure {
        reason: event::RESTORE_BUILD_FAILED,
        message,
    }
}

fn profile<'a>(group: &'a MysqlFailoverGroup, name: &str) -> Option<&'a BackupProfile> {
    group
        .spec
        .backup
        .as_ref()
        .and_then(|b| b.profiles.as_ref())
        .and_then(|p| p.iter().find(|p| p.name == name))
}

fn passphrase_volume(name: &str, secret: &PassphraseSecretRef) -> Value {
    json!({
        "name": name,
        "secret": {
            "secretName": secret.name,
            "defaultMode": 0o400,
            "items": [{ "key": key_of(secret), "path": "passphrase" }],
        },
    })
}

fn key_of(secret: &PassphraseSecretRef) -> String {
    secret.key_or_default().to_owned()
}

/// `BLOODRAVEN_LOAD_OPTIONS`: only the keys that are set, as the Go operator writes them.
pub fn load_options_json(options: Option<&LoadOptions>) -> String {
    options
        .and_then(|o| serde_json::to_value(o).ok())
        .unwrap_or_else(|| json!({}))
        .to_string()
}

/// Where the dump is read from.
enum Source {
    S3 {
        s3: S3Storage,
        prefix: String,
        field: String,
    },
    Pvc {
        claim: String,
        path: String,
    },
}

/// What a restore Job loads and where its settings are in the spec: `spec.initFromBackup` or
/// `spec.restoreInPlace` (the same source, load options, point in time and decryption).
#[derive(Clone, Debug)]
pub struct Request<'a> {
    /// The spec field holding the settings (`spec.initFromBackup`), named in failure messages.
    pub field: &'static str,
    /// The dump.
    pub source: &'a InitFromBackupSource,
    /// `util.loadDump` options.
    pub load_options: Option<&'a LoadOptions>,
    /// Binlog replay after the load.
    pub point_in_time: Option<&'a PointInTimeSpec>,
    /// The passphrase of an encrypted dump.
    pub decryption: Option<&'a BackupDecryptionSpec>,
    /// The Job's name.
    pub job_name: String,
    /// Environment added to the load container.
    pub extra_env: Vec<Value>,
    /// Annotations of the Job.
    pub annotations: BTreeMap<String, String>,
}

/// The restore Job for `spec.initFromBackup`; `RestoreBuildFailed` with the field at fault when it cannot be
/// rendered (a backup that is not Succeeded, a missing profile, an encrypted source without a passphrase, PITR
/// without an archive).
pub fn job(i: &Inputs<'_>) -> Result<Rendered, Failure> {
    let group = i.group.metadata.name.as_deref().unwrap_or_default();
    let spec: &InitFromBackupSpec = i
        .group
        .spec
        .init_from_backup
        .as_ref()
        .ok_or_else(|| build_failed("spec.initFromBackup is not set".into()))?;
    render(
        i,
        &Request {
            field: "spec.initFromBackup",
            source: &spec.source,
            load_options: spec.load_options.as_ref(),
            point_in_time: spec.point_in_time.as_ref(),
            decryption: spec.decryption.as_ref(),
            job_name: job_name(group, i.site),
            extra_env: Vec::new(),
            annotations: BTreeMap::new(),
        },
    )
}

/// The restore Job of `r` (the Go layout, shared by `initFromBackup` and `restoreInPlace`); `RestoreBuildFailed`
/// with the field at fault when it cannot be rendered.
pub fn render(i: &Inputs<'_>, r: &Request<'_>) -> Result<Rendered, Failure> {
    let group = i.group.metadata.name.as_deref().unwrap_or_default();
    let f = r.field;
    let backup_spec = i.group.spec.backup.as_ref();
    let mut secrets = Vec::new();
    let (mysql_secret, field) = match &i.group.spec.credentials {
        Some(c) => match &c.backup_secret {
            Some(b) if !b.is_empty() => (b.clone(), "spec.credentials.backupSecret"),
            _ => (c.operator_secret.clone(), "spec.credentials.operatorSecret"),
        },
        None => {
            return Err(build_failed(
                "spec.credentials.operatorSecret is not set: the restore needs a MySQL account"
                    .into(),
            ));
        }
    };
    secrets.push(SecretNeed {
        name: mysql_secret.clone(),
        field: field.into(),
        key: Some("username".into()),
    });
    // The source, its metadata and the passphrase it needs.
    let mut meta = RestoreDetails::default();
    let mut passphrase: Option<(PassphraseSecretRef, String)> = r.decryption.map(|d| {
        (
            d.passphrase_secret.clone(),
            format!("{f}.decryption.passphraseSecret"),
        )
    });
    let no_passphrase = || {
        if f == "spec.initFromBackup" {
            NO_PASSPHRASE.to_owned()
        } else {
            format!(
                "{} source is encrypted but no passphrase is available; set {}.decryption.passphraseSecret or \
                 restore the profile's encryption.passphraseSecret",
                short(f),
                short(f)
            )
        }
    };
    let source = if let Some(backup_ref) = &r.source.mysql_backup_ref {
        let field = format!("{f}.source.mysqlBackupRef");
        let backup = i.backup.ok_or_else(|| {
            build_failed(format!(
                "{field}: MysqlBackup {:?} not found",
                backup_ref.name
            ))
        })?;
        let status = backup.status.clone().unwrap_or_default();
        let location = status.location.clone().unwrap_or_default();
        if status.phase != Some(BackupPhase::Succeeded) {
            let phase = status
                .phase
                .map_or_else(|| "not started".to_owned(), |p| format!("{p:?}"));
            return Err(build_failed(format!(
                "{field}: MysqlBackup {:?} is {phase}, not Succeeded",
                backup_ref.name
            )));
        }
        if location.is_empty() {
            return Err(build_failed(format!(
                "{field}: MysqlBackup {:?} is Succeeded but has no status.location",
                backup_ref.name
            )));
        }
        meta.source_size_bytes = status.size_bytes;
        meta.source_gtid_executed = status.gtid_executed.clone();
        meta.source_binlog_file = status.binlog_file.clone();
        meta.source_binlog_pos = status.binlog_pos;
        let p = profile(i.group, &backup.spec.profile_name);
        let storage = status.storage_type.unwrap_or(if location.starts_with('/') {
            StorageType::Pvc
        } else {
            StorageType::S3
        });
        let missing = |kind: &str, other: &str| {
            build_failed(format!(
                "{field}={:?} resolves to a {kind} location ({location:?}) but profile {:?} is missing from \
                 spec.backup.profiles; either restore the profile or set {f}.source.{other} \
                 explicitly",
                backup_ref.name, backup.spec.profile_name
            ))
        };
        if status.encrypted == Some(true) && passphrase.is_none() {
            let enc = p
                .and_then(|p| p.encryption.as_ref())
                .ok_or_else(|| build_failed(no_passphrase()))?;
            passphrase = Some((
                enc.passphrase_secret.clone(),
                format!(
                    "spec.backup.profiles[{}].encryption.passphraseSecret",
                    backup.spec.profile_name
                ),
            ));
        }
        if status.encrypted != Some(true) {
            // A plaintext backup needs no decryption step, whatever the spec's decryption says.
            passphrase = None;
        }
        match storage {
            StorageType::S3 => {
                let s3 = p
                    .filter(|p| p.storage.type_ == StorageType::S3)
                    .and_then(|p| p.storage.s3.clone())
                    .ok_or_else(|| missing("S3", "s3"))?;
                // The encrypted uploader records the `s3://bucket/key/` display form.
                let key = match location.strip_prefix("s3://") {
                    Some(rest) => rest.split_once('/').map_or("", |(_, k)| k).to_owned(),
                    None => location.clone(),
                };
                Source::S3 {
                    s3,
                    prefix: key.trim_matches('/').to_owned(),
                    field: format!(
                        "spec.backup.profiles[{}].storage.s3.credentialsSecret",
                        backup.spec.profile_name
                    ),
                }
            }
            StorageType::Pvc => {
                let pvc = p
                    .filter(|p| p.storage.type_ == StorageType::Pvc)
                    .ok_or_else(|| missing("PVC", "pvc"))?;
                let claim = pvc.claim_name(group);
                Source::Pvc {
                    claim,
                    path: location,
                }
            }
        }
    } else if let Some(s3) = &r.source.s3 {
        Source::S3 {
            s3: s3.clone(),
            prefix: s3
                .prefix
                .as_deref()
                .unwrap_or("")
                .trim_matches('/')
                .to_owned(),
            field: format!("{f}.source.s3.credentialsSecret"),
        }
    } else if let Some(pvc) = &r.source.pvc {
        let sub = pvc.sub_path.as_deref().unwrap_or("").trim_matches('/');
        Source::Pvc {
            claim: pvc.claim_name.clone(),
            path: if sub.is_empty() {
                RESTORE_PVC_MOUNT.to_owned()
            } else {
                format!("{RESTORE_PVC_MOUNT}/{sub}")
            },
        }
    } else {
        return Err(build_failed(format!(
            "{f}.source must set mysqlBackupRef, s3 or pvc"
        )));
    };

    if r.source.mysql_backup_ref.is_none()
        && i.source_encrypted == Some(true)
        && passphrase.is_none()
    {
        return Err(build_failed(no_passphrase()));
    }
    let mut main_env = vec![
        env_var(env::MYSQL_HOST, &format!("{}:{}", i.host.0, i.host.1)),
        Value::Null, // BLOODRAVEN_INPUT_URL, set below
        env_var(env::LOAD_OPTIONS, &load_options_json(r.load_options)),
        env_var(env::MYSQL_CREDS_DIR, MYSQL_CREDS_MOUNT),
        env_var(
            "BLOODRAVEN_SOURCE_SIZE_BYTES",
            &meta.source_size_bytes.unwrap_or(0).to_string(),
        ),
        env_var(
            "BLOODRAVEN_SOURCE_GTID_EXECUTED",
            meta.source_gtid_executed.as_deref().unwrap_or(""),
        ),
        env_var(
            "BLOODRAVEN_SOURCE_BINLOG_FILE",
            meta.source_binlog_file.as_deref().unwrap_or(""),
        ),
        env_var(
            "BLOODRAVEN_SOURCE_BINLOG_POS",
            &meta.source_binlog_pos.unwrap_or(0).to_string(),
        ),
        env_var("HOME", "/tmp"),
    ];
    let mut volumes = vec![
        json!({
            "name": "mysql-creds",
            "secret": {
                "secretName": mysql_secret,
                "defaultMode": 0o400,
                "items": [
                    { "key": "username", "path": "MYSQL_USER" },
                    { "key": "password", "path": "MYSQL_PASSWORD" },
                ],
            },
        }),
        json!({ "name": "tmp", "emptyDir": {} }),
    ];
    let mut main_mounts = vec![
        json!({ "name": "mysql-creds", "mountPath": MYSQL_CREDS_MOUNT, "readOnly": true }),
        json!({ "name": "tmp", "mountPath": "/tmp" }),
    ];
    let mut init_containers = Vec::new();
    let container_security = merge(
        json!({
            "allowPrivilegeEscalation": false,
            "readOnlyRootFilesystem": true,
            "runAsNonRoot": true,
            "capabilities": { "drop": ["ALL"] },
        }),
        backup_spec.and_then(|b| b.container_security_context.as_ref()),
    );
    let resources = backup_spec
        .and_then(|b| b.resources.as_ref())
        .and_then(|r| serde_json::to_value(r).ok());
    let init = |name: &str, command: &str, env_vars: Vec<Value>, mounts: Vec<Value>| {
        let mut c = json!({
            "name": name,
            "image": i.image,
            "command": ["bloodraven", command],
            "env": env_vars,
            "volumeMounts": mounts,
            "terminationMessagePolicy": "FallbackToLogsOnError",
            "securityContext": container_security,
        });
        if let Some(r) = &resources {
            c["resources"] = r.clone();
        }
        c
    };

    // PITR: `pitr-download` fetches the archive of spec.backup.pitr's profile into an emptyDir the load replays.
    if let Some(pit) = r.point_in_time {
        let (init_c, vols, main) = pitr_parts(i.group, group, f, pit, &mut secrets, &init)?;
        init_containers.push(init_c);
        volumes.extend(vols);
        main_env.extend(main);
        main_mounts
            .push(json!({ "name": "pitr-binlogs", "mountPath": PITR_LOCAL_DIR, "readOnly": true }));
    }

    // The source: read directly, or decrypted by `decrypt-download` into an emptyDir first.
    let input = match (&source, &passphrase) {
        (Source::S3 { s3, prefix, field }, None) => {
            main_env.extend(s3_env(s3));
            main_env.push(env_var(env::AWS_CREDS_DIR, AWS_CREDS_MOUNT));
            volumes.push(json!({ "name": "aws-creds", "secret": { "secretName": s3.credentials_secret, "defaultMode": 0o400 } }));
            main_mounts.push(
                json!({ "name": "aws-creds", "mountPath": AWS_CREDS_MOUNT, "readOnly": true }),
            );
            secrets.push(SecretNeed {
                name: s3.credentials_secret.clone(),
                field: field.clone(),
                key: None,
            });
            format!("{prefix}/")
        }
        (Source::Pvc { claim, path }, None) => {
            let mount = if path.starts_with(PVC_MOUNT) {
                PVC_MOUNT
            } else {
                RESTORE_PVC_MOUNT
            };
            volumes.push(json!({ "name": "restore-src", "persistentVolumeClaim": { "claimName": claim, "readOnly": true } }));
            main_mounts
                .push(json!({ "name": "restore-src", "mountPath": mount, "readOnly": true }));
            path.clone()
        }
        (source, Some((secret, pfield))) => {
            secrets.push(SecretNeed {
                name: secret.name.clone(),
                field: pfield.clone(),
                key: Some(key_of(secret)),
            });
            let mut dec_env = vec![
                env_var(env::TARGET_DIR, DECRYPTED_DIR),
                Value::Null, // storage type, set below
                env_var(
                    env::BACKUP_PASSPHRASE_FILE,
                    &format!("{PASSPHRASE_MOUNT}/passphrase"),
                ),
            ];
            let mut dec_mounts = vec![
                json!({ "name": "restore-decrypted", "mountPath": DECRYPTED_DIR }),
                json!({ "name": "backup-passphrase", "mountPath": PASSPHRASE_MOUNT, "readOnly": true }),
                json!({ "name": "tmp", "mountPath": "/tmp" }),
            ];
            match source {
                Source::S3 { s3, prefix, field } => {
                    dec_env[1] = env_var(env::STORAGE_TYPE, "S3");
                    dec_env.push(env_var(env::SOURCE_PREFIX, prefix));
                    dec_env.extend(s3_env(s3));
                    dec_env.push(env_var(env::AWS_CREDS_DIR, AWS_CREDS_MOUNT));
                    volumes.push(json!({ "name": "aws-creds", "secret": { "secretName": s3.credentials_secret, "defaultMode": 0o400 } }));
                    dec_mounts.push(json!({ "name": "aws-creds", "mountPath": AWS_CREDS_MOUNT, "readOnly": true }));
                    secrets.push(SecretNeed {
                        name: s3.credentials_secret.clone(),
                        field: field.clone(),
                        key: None,
                    });
                }
                Source::Pvc { claim, path } => {
                    let relative = path
                        .strip_prefix(PVC_MOUNT)
                        .or_else(|| path.strip_prefix(RESTORE_PVC_MOUNT))
                        .unwrap_or(path)
                        .trim_matches('/');
                    dec_env[1] = env_var(env::STORAGE_TYPE, "PVC");
                    dec_env.push(env_var(env::PVC_MOUNT_PATH, DECRYPT_PVC_MOUNT));
                    dec_env.push(env_var(env::SOURCE_PREFIX, relative));
                    volumes.push(json!({ "name": "decrypt-src", "persistentVolumeClaim": { "claimName": claim, "readOnly": true } }));
                    dec_mounts.push(json!({ "name": "decrypt-src", "mountPath": DECRYPT_PVC_MOUNT, "readOnly": true }));
                }
            }
            dec_env.push(env_var(env::RESULT_FILE, env::DEFAULT_TERMINATION_LOG));
            init_containers.push(init(
                DECRYPT_CONTAINER,
                "decrypt-download",
                dec_env,
                dec_mounts,
            ));
            let mut staging = json!({ "name": "restore-decrypted", "emptyDir": {} });
            if let Some(limit) = backup_spec.and_then(|b| b.staging_volume_size_limit.as_ref()) {
                staging["emptyDir"]["sizeLimit"] = json!(limit);
            }
            volumes.push(staging);
            volumes.push(passphrase_volume("backup-passphrase", secret));
            main_mounts.push(json!({ "name": "restore-decrypted", "mountPath": DECRYPTED_DIR, "readOnly": true }));
            DECRYPTED_DIR.to_owned()
        }
    };
    main_env[1] = env_var(env::INPUT_URL, &input);
    main_env.extend(r.extra_env.iter().cloned());
    main_env.push(env_var(env::RESULT_FILE, env::DEFAULT_TERMINATION_LOG));

    let mut labels = BTreeMap::new();
    labels.insert(label::NAME.to_owned(), "mysql-restore".to_owned());
    labels.insert(label::INSTANCE.to_owned(), group.to_owned());
    labels.insert(label::FAILOVER_GROUP.to_owned(), group.to_owned());
    labels.insert(label::SITE.to_owned(), i.site.to_owned());
    labels.insert(
        label::MANAGED_BY.to_owned(),
        label::MANAGED_BY_VALUE.to_owned(),
    );
    labels.insert(label::RESOURCE.to_owned(), "restore".to_owned());
    let mut container = json!({
        "name": CONTAINER,
        "image": i.image,
        "command": ["bloodraven", "restore"],
        "env": main_env,
        "volumeMounts": main_mounts,
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "securityContext": container_security,
    });
    if let Some(r) = &resources {
        container["resources"] = r.clone();
    }
    let mut pod_spec = json!({
        "restartPolicy": "Never",
        "automountServiceAccountToken": false,
        "containers": [container],
        "volumes": volumes,
        "securityContext": merge(
            json!({
                "runAsNonRoot": true,
                "runAsUser": 65532,
                "fsGroup": 65532,
                "seccompProfile": { "type": "RuntimeDefault" },
            }),
            backup_spec.and_then(|b| b.pod_security_context.as_ref()),
        ),
    });
    if !init_containers.is_empty() {
        pod_spec["initContainers"] = json!(init_containers);
    }
    if let Some(p) = backup_spec.and_then(|b| b.image_pull_secrets.as_ref()) {
        pod_spec["imagePullSecrets"] = serde_json::to_value(p).unwrap_or(Value::Null);
    }
    let job = json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": r.job_name,
            "namespace": i.group.metadata.namespace,
            "labels": labels,
            "ownerReferences": [{
                "apiVersion": "shipstream.io/v1alpha1",
                "kind": "MysqlFailoverGroup",
                "name": group,
                "uid": i.group.metadata.uid,
                "controller": true,
                "blockOwnerDeletion": true,
            }],
        },
        "spec": {
            // One shot: no automatic retry (delete the Job to run it again).
            "backoffLimit": 0,
            "activeDeadlineSeconds": backup_spec
                .and_then(|b| b.active_deadline_seconds)
                .unwrap_or(DEFAULT_ACTIVE_DEADLINE_SECONDS),
            "template": { "metadata": { "labels": labels }, "spec": pod_spec },
        },
    });
    let mut job = job;
    if !r.annotations.is_empty() {
        job["metadata"]["annotations"] = json!(r.annotations);
    }
    let job = serde_json::from_value(job)
        .map_err(|e| build_failed(format!("the rendered restore Job is not valid: {e}")))?;
    Ok(Rendered { job, secrets })
}

/// `spec.initFromBackup` → `initFromBackup`.
fn short(field: &str) -> &str {
    field.strip_prefix("spec.").unwrap_or(field)
}

fn s3_env(s3: &S3Storage) -> Vec<Value> {
    let mut out = vec![env_var(env::S3_BUCKET, &s3.bucket)];
    if let Some(e) = &s3.endpoint_url {
        out.push(env_var(env::S3_ENDPOINT_OVERRIDE, e));
    }
    if let Some(r) = &s3.region {
        out.push(env_var(env::AWS_REGION, r));
    }
    out
}

type InitFn<'f> = dyn Fn(&str, &str, Vec<Value>, Vec<Value>) -> Value + 'f;

/// The `pitr-download` init container, its volumes, and the main container's PITR environment.
fn pitr_parts(
    group: &MysqlFailoverGroup,
    group_name: &str,
    field: &str,
    pit: &PointInTimeSpec,
    secrets: &mut Vec<SecretNeed>,
    init: &InitFn<'_>,
) -> Result<(Value, Vec<Value>, Vec<Value>), Failure> {
    let pitr = group
        .spec
        .backup
        .as_ref()
        .and_then(|b| b.pitr.as_ref())
        .filter(|p| p.enabled == Some(true))
        .ok_or_else(|| {
            build_failed(format!(
                "{field}.pointInTime is set but spec.backup.pitr.enabled is not true; a point-in-time \
                 restore replays the binlog archive of spec.backup.pitr.profileName"
            ))
        })?;
    let exclude = pit
        .exclude_gtids
        .as_deref()
        .map(str::trim)
        .unwrap_or_default();
    if let Err(e) = bloodraven_backup::pitr::ExcludedGtids::parse(exclude) {
        return Err(build_failed(format!(
            "{field}.pointInTime.excludeGtids {exclude:?}: {e}"
        )));
    }
    let name = pitr.profile_name.as_deref().unwrap_or_default();
    let profile = profile(group, name).ok_or_else(|| {
        build_failed(format!(
            "spec.backup.pitr.profileName: profile {name:?} not found in spec.backup.profiles"
        ))
    })?;
    let sites: Vec<&str> = group.spec.sites.iter().map(|s| s.name.as_str()).collect();
    let mut env_vars = vec![
        env_var(env::PITR_STOP_DATETIME, &pit.stop_datetime),
        env_var(
            "BLOODRAVEN_PITR_STORAGE_TYPE",
            match profile.storage.type_ {
                StorageType::S3 => "S3",
                StorageType::Pvc => "PVC",
            },
        ),
        env_var("BLOODRAVEN_PITR_OUTPUT_DIR", PITR_LOCAL_DIR),
        env_var("BLOODRAVEN_PITR_SITES", &sites.join(",")),
    ];
    let mut mounts = vec![json!({ "name": "pitr-binlogs", "mountPath": PITR_LOCAL_DIR })];
    let mut volumes = vec![json!({ "name": "pitr-binlogs", "emptyDir": {} })];
    let archive = crate::controller::render::pitr_archive_prefix(profile);
    match profile.storage.type_ {
        StorageType::S3 => {
            let s3 = profile.storage.s3.as_ref().ok_or_else(|| {
                build_failed(format!(
                    "spec.backup.profiles[{name}].storage.s3 is not set but storage.type is S3"
                ))
            })?;
            env_vars.push(env_var(env::PITR_MANIFEST_PREFIX, &archive));
            env_vars.push(env_var("BLOODRAVEN_PITR_S3_BUCKET", &s3.bucket));
            if let Some(e) = &s3.endpoint_url {
                env_vars.push(env_var("BLOODRAVEN_PITR_S3_ENDPOINT_URL", e));
            }
            if let Some(r) = &s3.region {
                env_vars.push(env_var("BLOODRAVEN_PITR_S3_REGION", r));
            }
            env_vars.push(env_var(
                "BLOODRAVEN_PITR_AWS_CREDS_DIR",
                PITR_AWS_CREDS_MOUNT,
            ));
            volumes.push(json!({ "name": "pitr-aws-creds", "secret": { "secretName": s3.credentials_secret, "defaultMode": 0o400 } }));
            mounts.push(json!({ "name": "pitr-aws-creds", "mountPath": PITR_AWS_CREDS_MOUNT, "readOnly": true }));
            secrets.push(SecretNeed {
                name: s3.credentials_secret.clone(),
                field: format!("spec.backup.profiles[{name}].storage.s3.credentialsSecret"),
                key: None,
            });
        }
        StorageType::Pvc => {
            let claim = profile.claim_name(group_name);
            env_vars.push(env_var(env::PITR_MANIFEST_PREFIX, &archive));
            env_vars.push(env_var("BLOODRAVEN_PITR_PVC_MOUNT_PATH", PITR_PVC_MOUNT));
            volumes.push(json!({ "name": "pitr-archive", "persistentVolumeClaim": { "claimName": claim, "readOnly": true } }));
            mounts.push(
                json!({ "name": "pitr-archive", "mountPath": PITR_PVC_MOUNT, "readOnly": true }),
            );
        }
    }
    if let Some(enc) = &profile.encryption {
        volumes.push(passphrase_volume("pitr-passphrase", &enc.passphrase_secret));
        mounts.push(
            json!({ "name": "pitr-passphrase", "mountPath": PASSPHRASE_MOUNT, "readOnly": true }),
        );
        env_vars.push(env_var(
            env::PITR_PASSPHRASE_FILE,
            &format!("{PASSPHRASE_MOUNT}/passphrase"),
        ));
        secrets.push(SecretNeed {
            name: enc.passphrase_secret.name.clone(),
            field: format!("spec.backup.profiles[{name}].encryption.passphraseSecret"),
            key: Some(key_of(&enc.passphrase_secret)),
        });
    }
    env_vars.push(env_var(env::RESULT_FILE, env::DEFAULT_TERMINATION_LOG));
    let container = init(PITR_CONTAINER, "pitr-download", env_vars, mounts);
    let mut main = vec![
        env_var(env::PITR_LOCAL_DIR, PITR_LOCAL_DIR),
        env_var(env::PITR_STOP_DATETIME, &pit.stop_datetime),
    ];
    if !exclude.is_empty() {
        // The replay skips these transactions (the Go Job's variable).
        main.push(env_var(env::PITR_EXCLUDE_GTIDS, exclude));
    }
    Ok((container, volumes, main))
}

/// The fields of the last `BLOODRAVEN_RESTORE_COMPLETE` line in `text` (percent-decoded, as the Go reconciler's
/// `url.QueryUnescape`).
pub fn parse_restore_complete(text: &str) -> Option<BTreeMap<String, String>> {
    text.lines().rev().find_map(|line| {
        let rest = line
            .trim()
            .split_once("BLOODRAVEN_RESTORE_COMPLETE")
            .map(|(_, r)| r)?;
        Some(
            rest.split_whitespace()
                .filter_map(|f| f.split_once('='))
                .filter(|(k, _)| !k.is_empty() && *k != "encoding")
                .map(|(k, v)| (k.to_owned(), percent_decode(&v.replace('+', " "))))
                .collect(),
        )
    })
}

/// The bookkeeping of a finished restore: the source's metadata (from the backup), overlaid with what the result
/// line reports.
pub fn completed_details(
    source: &RestoreDetails,
    result: &BTreeMap<String, String>,
) -> RestoreDetails {
    let text = |k: &str| {
        result.get(k).filter(|v| !v.is_empty()).map(|v| {
            if k.ends_with("GtidExecuted") {
                v.replace([' ', '\n'], "")
            } else {
                v.clone()
            }
        })
    };
    let number = |k: &str| result.get(k).and_then(|v| v.parse::<i64>().ok());
    RestoreDetails {
        source_size_bytes: number("sourceSizeBytes")
            .filter(|n| *n > 0)
            .or(source.source_size_bytes),
        source_gtid_executed: text("sourceGtidExecuted").or(source.source_gtid_executed.clone()),
        source_binlog_file: text("sourceBinlogFile").or(source.source_binlog_file.clone()),
        source_binlog_pos: number("sourceBinlogPos")
            .filter(|n| *n > 0)
            .or(source.source_binlog_pos),
        target_gtid_executed: text("targetGtidExecuted"),
        target_binlog_file: text("targetBinlogFile"),
        target_binlog_pos: number("targetBinlogPos").filter(|n| *n > 0),
        pitr_stop_datetime: text("pitrStopDatetime"),
        pitr_replayed_binlog_file: text("pitrReplayedBinlogFile"),
        pitr_replayed_binlog_count: number("pitrReplayedBinlogCount")
            .and_then(|n| i32::try_from(n).ok())
            .filter(|n| *n > 0),
        ..RestoreDetails::default()
    }
}

/// The source metadata a `mysqlBackupRef` source gives before the Job runs.
pub fn source_details(backup: Option<&MysqlBackup>) -> RestoreDetails {
    let s = backup.and_then(|b| b.status.clone()).unwrap_or_default();
    RestoreDetails {
        source_size_bytes: s.size_bytes,
        source_gtid_executed: s.gtid_executed,
        source_binlog_file: s.binlog_file,
        source_binlog_pos: s.binlog_pos,
        ..RestoreDetails::default()
    }
}

#[cfg(test)]
pub(super) mod tests;
