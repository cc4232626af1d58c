//! `pitr-plan`: the recoverability report of a group's binlog archive (or of a bucket named directly), read from
//! the object store the way a restore would read it: the base backup, the archived binlogs to replay in order,
//! what they recover, the last time a recovery can reach, and what stands in the way (a gap, a file whose
//! transactions are unknown, a target beyond the archive).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use bloodraven_api::backup::{BackupPhase, MysqlBackup};
use bloodraven_api::failovergroup::MysqlFailoverGroup;
use bloodraven_api::failovergroup::backup::{BackupProfile, StorageType};
use bloodraven_backup::Passphrase;
use bloodraven_backup::bloodraven_binlog::archive::ArchiveStore;
use bloodraven_backup::bloodraven_binlog::continuity::History;
use bloodraven_backup::bloodraven_binlog::manifest::ArchiveLayout;
use bloodraven_backup::bloodraven_binlog::pitr::{self, Plan, Target};
use bloodraven_operator::controller::render::pitr_archive_prefix;
use bloodraven_operator::jobs::env::{S3Keys, Storage};
use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::Secret;
use kube::api::ListParams;
use serde::Serialize;

use crate::cluster::Cluster;
use crate::request::Refusal;
use crate::{Output, emit};

/// What a recovery aims at, from `--to` / `--to-gtid` / `--exclusive`.
pub(crate) fn target(
    to: Option<&str>,
    to_gtid: Option<&str>,
    exclusive: bool,
) -> Result<Target, Refusal> {
    match (to, to_gtid) {
        (Some(t), _) => {
            let time = bloodraven_operator::jobs::steps::parse_time(t).map_err(|_| {
                Refusal::new(
                    format!("{t:?} is not a time"),
                    "--to",
                    "give an RFC 3339 time (2026-12-07T10:00:00Z) or YYYY-MM-DD HH:MM:SS in UTC",
                )
            })?;
            Ok(Target::Time(time))
        }
        (None, Some(set)) => {
            let set = History::parse(set, "--to-gtid").map_err(|e| {
                Refusal::new(
                    e.to_string(),
                    "--to-gtid",
                    "give a GTID set: MySQL uuid:1-100 or MariaDB domain-server-seq lists",
                )
            })?;
            Ok(Target::Gtids {
                set,
                inclusive: !exclusive,
            })
        }
        (None, None) => Ok(Target::Latest),
    }
}

/// The archive to read and where it came from.
pub(crate) struct Archive {
    store: ArchiveStore,
    /// `s3://bucket/prefix` or `file:///dir/prefix`, for the report.
    location: String,
    /// The base backup the replay starts from, if one was found.
    base: Option<BaseBackup>,
    /// Newer Succeeded backups passed over because they already hold transactions past a GTID target.
    passed_over: Vec<String>,
    /// The group and profile, when read through a group.
    group: Option<(String, String)>,
}

/// The backup a recovery restores before replaying binlogs.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BaseBackup {
    name: String,
    completion_time: Option<String>,
    gtid_executed: String,
}

/// The report `pitr-plan` prints.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PitrReport {
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    profile: Option<String>,
    archive: String,
    sites: usize,
    archived_files: usize,
    target: String,
    base_backup: Option<BaseBackup>,
    recoverable: bool,
    replay: Vec<ReplayFile>,
    recovered: String,
    last_recoverable_time: Option<String>,
    problems: Vec<String>,
    notes: Vec<String>,
}

/// One binlog of the replay.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ReplayFile {
    site: String,
    name: String,
    adds: String,
    args: Vec<String>,
}

fn target_text(target: &Target) -> String {
    target.to_string()
}

/// The report of `plan` over an archive of `files` entries in `sites` manifests.
pub(crate) fn report(
    archive: &Archive,
    sites: usize,
    files: usize,
    target: &Target,
    plan: &Plan,
) -> PitrReport {
    let mut problems: Vec<String> = Vec::new();
    if let Some(why) = &plan.unreachable {
        problems.push(format!("the target cannot be reached: {why}"));
    }
    for g in &plan.gaps {
        problems.push(format!("gap: {g}"));
    }
    for u in &plan.unverifiable_in_window {
        problems.push(format!(
            "{u} has no end GTID set and could not be read; it may hold transactions of the target"
        ));
    }
    let mut notes = Vec::new();
    if !archive.passed_over.is_empty() {
        notes.push(format!(
            "newer backups already hold transactions past the target and were passed over: {}",
            archive.passed_over.join(", ")
        ));
    }
    if archive.base.is_none() && archive.group.is_some() {
        notes.push(
            "no Succeeded MysqlBackup of this profile completed before the target: the replay starts from \
             the beginning of the archive"
                .into(),
        );
    }
    PitrReport {
        group: archive.group.as_ref().map(|(g, _)| g.clone()),
        profile: archive.group.as_ref().map(|(_, p)| p.clone()),
        archive: archive.location.clone(),
        sites,
        archived_files: files,
        target: target_text(target),
        base_backup: archive.base.clone(),
        recoverable: plan.is_complete(),
        replay: plan
            .files
            .iter()
            .map(|f| ReplayFile {
                site: f.file.site.clone(),
                name: f.file.name.clone(),
                adds: f.adds.to_string(),
                args: f.binlog_args(),
            })
            .collect(),
        recovered: plan.recovered.to_string(),
        last_recoverable_time: plan.last_recoverable_time.map(|t| t.to_rfc3339()),
        problems,
        notes,
    }
}

/// The table form.
pub(crate) fn table(r: &PitrReport) -> String {
    let mut s = String::new();
    if let (Some(g), Some(p)) = (&r.group, &r.profile) {
        let _ = writeln!(s, "GROUP      {g} (profile {p})");
    }
    let plural = |n: usize, one: &str| format!("{n} {one}{}", if n == 1 { "" } else { "s" });
    let _ = writeln!(
        s,
        "ARCHIVE    {} ({}, {})",
        r.archive,
        plural(r.sites, "site"),
        plural(r.archived_files, "file")
    );
    let _ = writeln!(s, "TARGET     {}", r.target);
    match &r.base_backup {
        Some(b) => {
            let _ = writeln!(
                s,
                "BASE       {} (completed {}, GTID set {})",
                b.name,
                b.completion_time.as_deref().unwrap_or("?"),
                if b.gtid_executed.is_empty() {
                    "empty"
                } else {
                    &b.gtid_executed
                }
            );
        }
        None => {
            let _ = writeln!(
                s,
                "BASE       none: replay from the beginning of the archive"
            );
        }
    }
    let _ = writeln!(s, "REPLAY     {}", plural(r.replay.len(), "file"));
    for f in &r.replay {
        let _ = writeln!(s, "  {}/{}\t{}", f.site, f.name, f.args.join(" "));
    }
    let _ = writeln!(
        s,
        "RECOVERED  {}",
        if r.recovered.is_empty() {
            "nothing"
        } else {
            &r.recovered
        }
    );
    if let Some(t) = &r.last_recoverable_time {
        let _ = writeln!(s, "LAST TIME  {t}");
    }
    for p in &r.problems {
        let _ = writeln!(s, "PROBLEM    {p}");
    }
    for n in &r.notes {
        let _ = writeln!(s, "NOTE       {n}");
    }
    let _ = writeln!(
        s,
        "{}",
        if r.recoverable {
            "RECOVERABLE"
        } else {
            "NOT RECOVERABLE"
        }
    );
    s
}

/// Plans over `archive` and prints the report; exit 1 when the target cannot be fully recovered.
pub(crate) async fn run(archive: Archive, target: Target, out: Output) -> anyhow::Result<ExitCode> {
    let sites = archive.store.sites().await.with_context(|| {
        format!(
            "cannot list the archive's manifests at {}",
            archive.location
        )
    })?;
    let mut manifests = Vec::new();
    for site in &sites {
        manifests.push(archive.store.load_manifest(site).await.with_context(|| {
            format!("cannot read manifest-{site}.json at {}", archive.location)
        })?);
    }
    let files = manifests.iter().map(|m| m.files.len()).sum();
    let learned = pitr::learn_end_sets(&archive.store, &manifests, &target)
        .await
        .with_context(|| format!("cannot read the archive at {}", archive.location))?;
    let start = match &archive.base {
        Some(b) => History::parse(&b.gtid_executed, "the base backup's status.gtidExecuted")?,
        None => History::parse("", "the start")?,
    };
    let plan = pitr::plan(&learned.manifests, &start, &target)?;
    let report = report(&archive, sites.len(), files, &target, &plan);
    match out {
        Output::Table => print!("{}", table(&report)),
        _ => emit(out, &report)?,
    }
    Ok(if report.recoverable {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The archive named by `--bucket` (`s3://bucket/prefix`, credentials and endpoint from the `AWS_*` variables,
/// or `file:///dir`), `--prefix` below it.
pub(crate) fn bucket(
    url: &str,
    prefix: &str,
    passphrase: Option<&std::path::Path>,
) -> anyhow::Result<Archive> {
    let parsed = url::Url::parse(url).map_err(|e| {
        Refusal::new(
            format!("{url:?} is not a URL: {e}"),
            "--bucket",
            "give s3://BUCKET[/PREFIX] (AWS_* variables for credentials and endpoint) or file:///DIR",
        )
    })?;
    let options = std::env::vars()
        .filter(|(k, _)| k.starts_with("AWS_"))
        .map(|(k, v)| (k.to_ascii_lowercase(), v));
    let (store, path) =
        bloodraven_backup::object_store::parse_url_opts(&parsed, options).map_err(|e| {
            Refusal::new(
                format!("cannot open {url}: {e}"),
                "--bucket",
                "check the URL and the AWS_* variables",
            )
        })?;
    let full = [path.as_ref().trim_matches('/'), prefix.trim_matches('/')]
        .into_iter()
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("/");
    let mut store = ArchiveStore::new(Arc::from(store), ArchiveLayout::new(&full));
    if let Some(file) = passphrase {
        store = store.with_passphrase(
            Passphrase::from_file(file)
                .with_context(|| format!("cannot read the passphrase file {}", file.display()))?,
        );
    }
    Ok(Archive {
        store,
        location: format!(
            "{}://{}/{full}",
            parsed.scheme(),
            parsed.host_str().unwrap_or_default()
        ),
        base: None,
        passed_over: Vec::new(),
        group: None,
    })
}

/// The archive of `group`'s PITR profile: its bucket opened with the credentials Secret, its passphrase Secret,
/// and the newest Succeeded backup of that profile that completed before the target (or `--from-backup`).
pub(crate) async fn of_group(
    cluster: &Cluster,
    group: &MysqlFailoverGroup,
    target: &Target,
    from_backup: Option<&str>,
) -> anyhow::Result<Archive> {
    let name = group.metadata.name.clone().unwrap_or_default();
    let profile = bloodraven_operator::controller::render::pitr_profile(group).ok_or_else(|| {
        Refusal::new(
            format!("group {name} does not archive binlogs"),
            format!("MysqlFailoverGroup {name} spec.backup.pitr"),
            "set spec.backup.pitr.enabled: true and spec.backup.pitr.profileName to one of spec.backup.profiles, \
             or read a bucket directly with --bucket",
        )
    })?;
    let prefix = pitr_archive_prefix(profile);
    let (storage, location) = storage(cluster, &name, profile, &prefix).await?;
    let opened = storage
        .open(&prefix)
        .map_err(|e| anyhow::anyhow!("cannot open the archive {location}: {e}"))?;
    let mut store = ArchiveStore::new(
        Arc::clone(opened.store()),
        ArchiveLayout::new(opened.prefix().as_ref()),
    );
    if let Some(enc) = &profile.encryption {
        let key = enc.passphrase_secret.key_or_default();
        let at = format!(
            "spec.backup.profiles[{}].encryption.passphraseSecret",
            profile.name
        );
        let secret = &enc.passphrase_secret.name;
        let mut data = secret_data(cluster, secret, &at).await?;
        let bytes = required_key(&mut data, secret, key, &at)?;
        let passphrase = Passphrase::from_file_contents(bytes).map_err(|e| {
            Refusal::new(
                format!(
                    "the passphrase in Secret {} is not usable: {e}",
                    enc.passphrase_secret.name
                ),
                format!(
                    "spec.backup.profiles[{}].encryption.passphraseSecret",
                    profile.name
                ),
                "store the archive's passphrase under that key",
            )
        })?;
        store = store.with_passphrase(passphrase);
    }
    let (base, passed_over) =
        base_backup(cluster, &name, &profile.name, target, from_backup).await?;
    Ok(Archive {
        store,
        location,
        base,
        passed_over,
        group: Some((name, profile.name.clone())),
    })
}

async fn storage(
    cluster: &Cluster,
    group: &str,
    profile: &BackupProfile,
    prefix: &str,
) -> anyhow::Result<(Storage, String)> {
    let field = format!("spec.backup.profiles[{}].storage", profile.name);
    match (profile.storage.type_, &profile.storage.s3) {
        (StorageType::S3, Some(s3)) => {
            let secret = &s3.credentials_secret;
            let at = format!("{field}.s3.credentialsSecret");
            let mut data = secret_data(cluster, secret, &at).await?;
            let mut text = |key: &str| -> anyhow::Result<String> {
                let bytes = required_key(&mut data, secret, key, &at)?;
                String::from_utf8(bytes).map_err(|_| {
                    Refusal::new(
                        format!("key {key} of Secret {secret} is not UTF-8 text"),
                        at.clone(),
                        format!("store {key} as plain text"),
                    )
                    .into()
                })
            };
            let access_key_id = text("AWS_ACCESS_KEY_ID")?;
            let secret_access_key = text("AWS_SECRET_ACCESS_KEY")?;
            let session_token = text("AWS_SESSION_TOKEN")
                .ok()
                .filter(|t| !t.trim().is_empty());
            let keys = S3Keys {
                access_key_id: access_key_id.trim().to_owned(),
                secret_access_key: secret_access_key.trim().to_owned().into(),
                session_token: session_token.map(|t| t.trim().to_owned().into()),
            };
            let location = format!("s3://{}/{prefix}", s3.bucket);
            Ok((
                Storage::S3 {
                    bucket: s3.bucket.clone(),
                    endpoint: s3.endpoint_url.clone(),
                    region: s3.region.clone(),
                    creds_dir: None,
                    keys: Some(keys),
                },
                location,
            ))
        }
        _ => {
            let claim = profile.claim_name(group);
            Err(Refusal::new(
                format!(
                    "profile {} keeps its archive on the PVC {claim}, which cannot be read from outside the cluster",
                    profile.name
                ),
                field,
                format!(
                    "run `bloodraven-binlog pitr-plan --store /mnt --prefix {prefix}` in a pod that mounts {claim} \
                     at /mnt, or use an S3 profile"
                ),
            )
            .into())
        }
    }
}

/// The data of a Secret in the command's namespace (one read), refusing with `at` when it is missing.
async fn secret_data(
    cluster: &Cluster,
    secret: &str,
    at: &str,
) -> anyhow::Result<BTreeMap<String, Vec<u8>>> {
    let found = cluster
        .api::<Secret>()
        .get_opt(secret)
        .await
        .with_context(|| {
            format!(
                "cannot read Secret {secret} in namespace {}",
                cluster.namespace
            )
        })?;
    let Some(found) = found else {
        return Err(Refusal::new(
            format!(
                "Secret {secret} does not exist in namespace {}",
                cluster.namespace
            ),
            at.to_owned(),
            "create the Secret or point the field at one that exists",
        )
        .into());
    };
    Ok(found
        .data
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.0))
        .collect())
}

/// `key` of `data` (the Secret `secret`), refusing with `at` when it is missing.
fn required_key(
    data: &mut BTreeMap<String, Vec<u8>>,
    secret: &str,
    key: &str,
    at: &str,
) -> Result<Vec<u8>, Refusal> {
    data.remove(key).ok_or_else(|| {
        Refusal::new(
            format!("Secret {secret} has no key {key}"),
            at.to_owned(),
            format!("add {key} to the Secret"),
        )
    })
}

/// `--from-backup`, else the newest Succeeded MysqlBackup of `group`/`profile` that completed before a target
/// time, or that does not already hold transactions past a GTID target (a replay cannot undo them); also the
/// newer backups passed over for that.
async fn base_backup(
    cluster: &Cluster,
    group: &str,
    profile: &str,
    target: &Target,
    from_backup: Option<&str>,
) -> anyhow::Result<(Option<BaseBackup>, Vec<String>)> {
    let backups = cluster
        .api::<MysqlBackup>()
        .list(&ListParams::default())
        .await
        .with_context(|| {
            format!(
                "cannot list MysqlBackups in namespace {}",
                cluster.namespace
            )
        })?
        .items;
    let succeeded =
        |b: &MysqlBackup| b.status.as_ref().and_then(|s| s.phase) == Some(BackupPhase::Succeeded);
    let view = |b: &MysqlBackup| {
        let s = b.status.clone().unwrap_or_default();
        BaseBackup {
            name: b.metadata.name.clone().unwrap_or_default(),
            completion_time: s.completion_time.map(|t| t.0.to_string()),
            gtid_executed: s.gtid_executed.unwrap_or_default(),
        }
    };
    if let Some(name) = from_backup {
        let b = backups
            .iter()
            .find(|b| b.metadata.name.as_deref() == Some(name))
            .ok_or_else(|| {
                Refusal::new(
                    format!(
                        "there is no MysqlBackup {name:?} in namespace {}",
                        cluster.namespace
                    ),
                    "--from-backup",
                    "kubectl get mysqlbackups lists them",
                )
            })?;
        if !succeeded(b) {
            return Err(Refusal::new(
                format!("MysqlBackup {name} has not succeeded"),
                "--from-backup",
                "name a backup whose phase is Succeeded",
            )
            .into());
        }
        return Ok((Some(view(b)), Vec::new()));
    }
    let before = match target {
        Target::Time(t) => Some(*t),
        _ => None,
    };
    let completed = |b: &MysqlBackup| -> Option<DateTime<Utc>> {
        let t = b.status.as_ref()?.completion_time.as_ref()?.0;
        DateTime::from_timestamp(t.as_second(), t.subsec_nanosecond().try_into().ok()?)
    };
    let mut candidates: Vec<(DateTime<Utc>, &MysqlBackup)> = backups
        .iter()
        .filter(|b| b.spec.failover_group_ref.name == group && b.spec.profile_name == profile)
        .filter(|b| succeeded(b))
        .filter_map(|b| Some((completed(b)?, b)))
        .filter(|(t, _)| before.is_none_or(|limit| *t <= limit))
        .collect();
    candidates.sort_by_key(|(t, _)| std::cmp::Reverse(*t));
    let mut passed_over = Vec::new();
    for (_, b) in candidates {
        let base = view(b);
        // A status set that does not parse is not passed over here: the plan reports it.
        let past = History::parse(&base.gtid_executed, "status.gtidExecuted")
            .ok()
            .and_then(|start| pitr::past_target(&start, target));
        match past {
            Some(_) => passed_over.push(base.name),
            None => return Ok((Some(base), passed_over)),
        }
    }
    Ok((None, passed_over))
}
