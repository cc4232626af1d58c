//! The pure half of the MysqlStandbyCluster controller: dump discovery from a bucket listing (reference-formats
//! §3.3), the `BucketReadable` / `SourceConfigKnown` verdicts, when a restore drill is due, the drill's Job and
//! scratch PVC, the `Restorable` verdict, and the DR cursor.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde_json::{Value, json};

use bloodraven_api::conditions::ConditionStatus;
use bloodraven_api::failovergroup::backup::{
    BackupEncryptionSpec, BackupProfile, BackupStorage, StorageType,
};
use bloodraven_api::names::{condition, event, label};
use bloodraven_api::standby::{
    Discovered, MysqlStandbyCluster, MysqlStandbyClusterStatus, StandbyVerification, Transport,
};
use bloodraven_backup::bloodraven_binlog::archive::cursor::DrCursor;
use bloodraven_backup::bloodraven_binlog::manifest::Manifest;

use crate::controller::backup::build::{Failure, env_var, merge, storage_parts};
use crate::controller::verification::build::{DATA_MOUNT, pvc_size};
use crate::jobs::env;
use crate::jobs::result::VerifyResult;

/// Label on a standby's drill Job and PVC: the standby's name.
pub const STANDBY_LABEL: &str = "shipstream.io/mysqlstandbycluster";
/// Default `spec.freshness.discoveryInterval`.
pub const DEFAULT_DISCOVERY_INTERVAL: Duration = Duration::from_secs(300);
/// Default `spec.verification.interval`.
pub const DEFAULT_VERIFICATION_INTERVAL: Duration = Duration::from_secs(24 * 3600);
/// Default `spec.verification.cursorTtl`.
pub const DEFAULT_CURSOR_TTL: Duration = Duration::from_secs(72 * 3600);
/// How far before the dump's completion the DR cursor keeps binlogs: the dump's GTID set is taken when the dump
/// starts, so the transactions written while it ran are in binlogs that may end before it completed. Dumps that
/// take longer than this lose the start of their window to retention.
pub const CURSOR_MARGIN: Duration = Duration::from_secs(24 * 3600);

/// A condition this controller sets.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Verdict {
    /// `BucketReadable`, `SourceConfigKnown` or `Restorable`.
    pub type_: &'static str,
    /// Its status.
    pub status: ConditionStatus,
    /// Its reason.
    pub reason: &'static str,
    /// What was found, naming the field or object at fault.
    pub message: String,
}

impl Verdict {
    fn new(
        type_: &'static str,
        status: ConditionStatus,
        reason: &'static str,
        message: impl Into<String>,
    ) -> Verdict {
        Verdict {
            type_,
            status,
            reason,
            message: message.into(),
        }
    }
}

/// The `@.json` fields discovery reads (reference-formats §3.2).
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct DumpJson {
    /// `end`, only when RFC 3339.
    pub end: Option<DateTime<Utc>>,
    /// `gtidExecuted`.
    pub gtid_executed: Option<String>,
    /// `totalBytes`, else `totalDataBytes`, when > 0.
    pub size_bytes: Option<i64>,
}

impl DumpJson {
    /// Parses `@.json`; invalid JSON is an error (`MetadataUnreadable`), unknown keys and a badly formatted `end`
    /// are ignored.
    pub fn parse(bytes: &[u8]) -> Result<DumpJson, String> {
        let v: Value = serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
        let positive = |k: &str| v.get(k).and_then(Value::as_i64).filter(|n| *n > 0);
        Ok(DumpJson {
            end: v
                .get("end")
                .and_then(Value::as_str)
                .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                .map(|t| t.with_timezone(&Utc)),
            gtid_executed: v
                .get("gtidExecuted")
                .and_then(Value::as_str)
                .map(str::to_owned),
            size_bytes: positive("totalBytes").or_else(|| positive("totalDataBytes")),
        })
    }
}

/// The trimmed source prefix (`s3.prefix` without leading and trailing `/`).
pub fn source_prefix(storage: &BackupStorage) -> String {
    storage
        .s3
        .as_ref()
        .and_then(|s| s.prefix.as_deref())
        .unwrap_or_default()
        .trim_matches('/')
        .to_owned()
}

/// The `@.json` keys of dumps exactly one level below `prefix`, sorted.
pub fn dump_candidates(prefix: &str, keys: &[String]) -> Vec<String> {
    let root = format!("{prefix}/");
    let mut out: Vec<String> = keys
        .iter()
        .filter_map(|k| {
            let rest = k.strip_prefix(&root)?;
            let dir = rest.strip_suffix("/@.json")?;
            (!dir.is_empty() && !dir.contains('/')).then(|| k.clone())
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The archive's manifest keys (`<prefix>/binlogs/manifest-<site>.json`), sorted.
pub fn manifest_keys(prefix: &str, keys: &[String]) -> Vec<String> {
    let root = format!("{prefix}/binlogs/manifest-");
    let mut out: Vec<String> = keys
        .iter()
        .filter(|k| {
            k.strip_prefix(&root)
                .and_then(|r| r.strip_suffix(".json"))
                .is_some_and(|site| !site.is_empty() && !site.contains('/'))
        })
        .cloned()
        .collect();
    out.sort();
    out
}

/// What one scan read from the bucket.
#[derive(Clone, Debug, Default)]
pub struct Scan {
    /// The source prefix.
    pub prefix: String,
    /// Every `@.json` candidate and what reading it gave.
    pub dumps: Vec<(String, Result<DumpJson, String>)>,
    /// Every manifest key and what reading it gave.
    pub manifests: Vec<(String, Result<Manifest, String>)>,
}

/// What a scan concluded: `status.discovered` and the two conditions.
#[derive(Clone, Debug, PartialEq)]
pub struct ScanVerdict {
    /// `status.discovered`.
    pub discovered: Discovered,
    /// `BucketReadable`.
    pub bucket: Verdict,
    /// `SourceConfigKnown`.
    pub source: Verdict,
}

fn time(t: DateTime<Utc>) -> Option<Time> {
    k8s_openapi::jiff::Timestamp::from_second(t.timestamp())
        .ok()
        .map(Time)
}

/// The newest dump (§3.3 step 4): largest `end`, ties and missing ends by sorted key order; when every read
/// failed, the lexicographically largest with its error.
fn newest(dumps: &[(String, Result<DumpJson, String>)]) -> Option<(&str, Result<&DumpJson, &str>)> {
    let mut sorted: Vec<_> = dumps.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut best: Option<(&str, &DumpJson)> = None;
    for (key, meta) in &sorted {
        if let Ok(m) = meta {
            let t = m.end.unwrap_or_default();
            if best.is_none_or(|(_, b)| t > b.end.unwrap_or_default()) {
                best = Some((key, m));
            }
        }
    }
    match best {
        Some((k, m)) => Some((k, Ok(m))),
        None => sorted
            .last()
            .map(|(k, m)| (k.as_str(), Err(m.as_ref().err().map_or("", String::as_str)))),
    }
}

/// Turns a scan into `status.discovered` and the conditions.
pub fn discover(scan: &Scan, now: DateTime<Utc>) -> ScanVerdict {
    let mut d = Discovered {
        last_scan_at: time(now),
        ..Discovered::default()
    };
    let bucket = Verdict::new(
        condition::BUCKET_READABLE,
        ConditionStatus::True,
        "ListSucceeded",
        format!("listed {}/", scan.prefix),
    );
    let mut problems = Vec::new();
    let dump = newest(&scan.dumps);
    if let Some((key, meta)) = dump {
        let dir = key.strip_suffix("@.json").unwrap_or(key);
        let name = dir
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or_default();
        d.dump_location = Some(dir.to_owned());
        d.dump_name = Some(name.to_owned());
        match meta {
            Ok(m) => {
                d.dump_completion_time = m.end.and_then(time);
                d.dump_gtid_executed = m.gtid_executed.clone();
                d.dump_size_bytes = m.size_bytes;
            }
            Err(e) => problems.push(format!("{key}: {e}")),
        }
    }
    let (mut count, mut files, mut bytes) = (0i32, 0i32, 0i64);
    let (mut oldest, mut newest_t): (Option<DateTime<Utc>>, Option<DateTime<Utc>>) = (None, None);
    for (key, m) in &scan.manifests {
        match m {
            Ok(m) => {
                count += 1;
                files += i32::try_from(m.files.len()).unwrap_or(i32::MAX);
                bytes += i64::try_from(m.total_bytes()).unwrap_or(i64::MAX);
                oldest = match (oldest, m.oldest_event_time()) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                newest_t = match (newest_t, m.newest_event_time()) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    (a, b) => a.or(b),
                };
            }
            Err(e) => problems.push(format!("{key}: {e}")),
        }
    }
    d.manifest_count = Some(count);
    d.archived_binlog_count = Some(files);
    d.archived_binlog_bytes = Some(bytes);
    d.oldest_archived_binlog_time = oldest.and_then(time);
    d.newest_archived_binlog_time = newest_t.and_then(time);
    let source = if !problems.is_empty() {
        Verdict::new(
            condition::SOURCE_CONFIG_KNOWN,
            ConditionStatus::False,
            "MetadataUnreadable",
            problems.join("; "),
        )
    } else if dump.is_none() {
        Verdict::new(
            condition::SOURCE_CONFIG_KNOWN,
            ConditionStatus::False,
            "NoDumpFound",
            format!(
                "no <name>/@.json below {}/ (has the source profile spec.source.profileName written a backup?)",
                scan.prefix
            ),
        )
    } else if count == 0 {
        Verdict::new(
            condition::SOURCE_CONFIG_KNOWN,
            ConditionStatus::False,
            "NoBinlogManifests",
            format!(
                "dump {} found, but no manifest-<site>.json below {}/binlogs/ (is PITR enabled on the source?)",
                d.dump_name.as_deref().unwrap_or_default(),
                scan.prefix
            ),
        )
    } else {
        Verdict::new(
            condition::SOURCE_CONFIG_KNOWN,
            ConditionStatus::True,
            "DumpFound",
            format!(
                "dump {} and {count} binlog manifest(s) with {files} archived binlog(s)",
                d.dump_name.as_deref().unwrap_or_default()
            ),
        )
    };
    d.message = Some(source.message.clone());
    ScanVerdict {
        discovered: d,
        bucket,
        source,
    }
}

/// Both conditions `False` with `ConfigError` (a spec or Secret problem found before the bucket was asked).
pub fn config_error(message: &str) -> (Verdict, Verdict) {
    (
        Verdict::new(
            condition::BUCKET_READABLE,
            ConditionStatus::False,
            "ConfigError",
            message,
        ),
        Verdict::new(
            condition::SOURCE_CONFIG_KNOWN,
            ConditionStatus::False,
            "ConfigError",
            message,
        ),
    )
}

/// The conditions after the listing failed: `AuthFailed` when the store refused the credentials, else
/// `ListFailed`.
pub fn list_failed(prefix: &str, error: &str, auth: bool) -> (Verdict, Verdict) {
    let (reason, hint) = if auth {
        (
            "AuthFailed",
            " (check the keys in spec.source.storage.s3.credentialsSecret and the bucket policy)",
        )
    } else {
        (
            "ListFailed",
            " (check spec.source.storage.s3.bucket, endpointURL and region)",
        )
    };
    let message = format!("listing {prefix}/ failed: {error}{hint}");
    (
        Verdict::new(
            condition::BUCKET_READABLE,
            ConditionStatus::False,
            reason,
            message.clone(),
        ),
        Verdict::new(
            condition::SOURCE_CONFIG_KNOWN,
            ConditionStatus::False,
            "ScanIncomplete",
            message,
        ),
    )
}

/// What the spec says that discovery cannot work with (transport, storage type), naming the field.
pub fn spec_problem(s: &MysqlStandbyCluster) -> Option<String> {
    if s.spec.transport == Some(Transport::Network) {
        return Some("spec.transport: Network is not implemented; use ObjectStore".into());
    }
    match s.spec.source.storage.type_ {
        StorageType::Pvc => {
            Some("spec.source.storage.type: PVC cannot be read by the operator; use S3".into())
        }
        StorageType::S3 if s.spec.source.storage.s3.is_none() => {
            Some("spec.source.storage.s3 is required when spec.source.storage.type is S3".into())
        }
        StorageType::S3 if source_prefix(&s.spec.source.storage).is_empty() => {
            Some("spec.source.storage.s3.prefix must not be empty".into())
        }
        StorageType::S3 => None,
    }
}

/// The discovery period.
pub fn discovery_interval(s: &MysqlStandbyCluster) -> Duration {
    s.spec
        .freshness
        .as_ref()
        .and_then(|f| f.discovery_interval.as_ref())
        .and_then(|d| d.to_std())
        .unwrap_or(DEFAULT_DISCOVERY_INTERVAL)
        .max(Duration::from_secs(1))
}

/// `spec.verification.interval`, or its default.
fn drill_interval(v: &StandbyVerification) -> Duration {
    v.interval
        .as_ref()
        .and_then(|d| d.to_std())
        .unwrap_or(DEFAULT_VERIFICATION_INTERVAL)
}

/// When the next drill is due: `None` when drills are off; `Some(ZERO)` when due now (no drill yet, or the
/// discovered dump changed since the last one).
pub fn verification_due_in(
    s: &MysqlStandbyCluster,
    discovered: &Discovered,
    now: DateTime<Utc>,
) -> Option<Duration> {
    let interval = drill_interval(s.spec.verification.as_ref()?);
    let last = s.status.as_ref().and_then(|st| st.last_verified.as_ref());
    let Some(last) = last else {
        return Some(Duration::ZERO);
    };
    if last.backup_name != discovered.dump_name {
        return Some(Duration::ZERO);
    }
    let done = last.completion_time.as_ref().map_or(0, |t| t.0.as_second());
    let due = done.saturating_add(i64::try_from(interval.as_secs()).unwrap_or(i64::MAX));
    Some(Duration::from_secs(
        u64::try_from(due - now.timestamp()).unwrap_or(0),
    ))
}

/// The source profile as the Job renderers see it: the standby's storage and passphrase.
pub fn source_profile(s: &MysqlStandbyCluster) -> BackupProfile {
    BackupProfile {
        name: s.spec.source.profile_name.clone(),
        storage: s.spec.source.storage.clone(),
        dump: None,
        retention: None,
        retention_policy: None,
        verification: None,
        encryption: s
            .spec
            .source
            .decryption
            .as_ref()
            .map(|d| BackupEncryptionSpec {
                algorithm: None,
                passphrase_secret: d.passphrase_secret.clone(),
            }),
    }
}

/// Names of a drill's Job and PVC: `<standby>-drill-<n>` and `<standby>-drill-<n>-data`.
pub fn drill_names(standby: &str, n: i64) -> (String, String) {
    let suffix = format!("-drill-{n}");
    let mut base = standby.to_owned();
    base.truncate(63 - suffix.len() - "-data".len());
    let base = base.trim_end_matches('-');
    (format!("{base}{suffix}"), format!("{base}{suffix}-data"))
}

fn labels(s: &MysqlStandbyCluster) -> BTreeMap<String, String> {
    let mut l = BTreeMap::new();
    l.insert(label::NAME.to_owned(), "mysql-standby-drill".to_owned());
    l.insert(
        label::INSTANCE.to_owned(),
        s.metadata.name.clone().unwrap_or_default(),
    );
    l.insert(
        label::MANAGED_BY.to_owned(),
        label::MANAGED_BY_VALUE.to_owned(),
    );
    l.insert(
        STANDBY_LABEL.to_owned(),
        s.metadata.name.clone().unwrap_or_default(),
    );
    l
}

fn owner(s: &MysqlStandbyCluster) -> Value {
    json!({
        "apiVersion": "shipstream.io/v1alpha1",
        "kind": "MysqlStandbyCluster",
        "name": s.metadata.name,
        "uid": s.metadata.uid,
        "controller": true,
        "blockOwnerDeletion": true,
    })
}

/// The drill's scratch PVC, sized as a MysqlBackupVerification's from the discovered dump size and owned by the
/// drill's `job` (the operator never deletes PVCs; deleting the Job lets the garbage collector remove it).
pub fn drill_pvc(
    s: &MysqlStandbyCluster,
    name: &str,
    discovered: &Discovered,
    job: &Job,
) -> PersistentVolumeClaim {
    let storage = s
        .spec
        .verification
        .as_ref()
        .and_then(|v| v.storage.as_ref());
    let bytes = discovered
        .dump_size_bytes
        .map_or(0, |b| u64::try_from(b).unwrap_or(0));
    let size = pvc_size(
        storage.and_then(|s| s.size.as_ref()).map(|q| q.0.as_str()),
        bytes,
    );
    let mut spec = json!({
        "accessModes": ["ReadWriteOnce"],
        "resources": { "requests": { "storage": size } },
    });
    if let Some(class) = storage.and_then(|s| s.storage_class_name.as_ref()) {
        spec["storageClassName"] = json!(class);
    }
    // Valid by construction: every field above is typed or a quantity string.
    serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {
            "name": name,
            "namespace": s.metadata.namespace,
            "labels": labels(s),
            "ownerReferences": [{
                "apiVersion": "batch/v1",
                "kind": "Job",
                "name": job.metadata.name,
                "uid": job.metadata.uid,
                "controller": true,
                "blockOwnerDeletion": true,
            }],
        },
        "spec": spec,
    }))
    .unwrap_or_default()
}

/// The drill Job: `bloodraven verify` restores the discovered dump into a throwaway server bound to 127.0.0.1,
/// replays the archive to its newest transaction (`latest`), runs the sanity query, and writes its verdict into
/// the termination message — the MysqlBackupVerification Job's command, over the standby's source.
pub fn drill_job(
    s: &MysqlStandbyCluster,
    discovered: &Discovered,
    job_name: &str,
    pvc_name: &str,
    image: &str,
) -> Result<Job, Failure> {
    let profile = source_profile(s);
    let parts =
        storage_parts(&profile, &s.spec.source.failover_group_name).map_err(|f| Failure {
            reason: f.reason,
            message: f.message.replace(
                &format!("spec.backup.profiles[{}].", profile.name),
                "spec.source.",
            ),
        })?;
    let (mut env_vars, mut volumes, mut mounts) = (parts.env, parts.volumes, parts.mounts);
    let location = discovered.dump_location.clone().ok_or_else(|| Failure {
        reason: event::BUILD_JOB_FAILED,
        message: "status.discovered.dumpLocation: no dump discovered yet".into(),
    })?;
    env_vars.push(env_var(env::INPUT_URL, &location));
    env_vars.push(env_var(env::DATA_DIR, DATA_MOUNT));
    env_vars.push(env_var(env::VERIFY_KEEP_ON_FAILURE, "false"));
    env_vars.push(env_var(env::VERIFY_PITR_MODE, "latest"));
    env_vars.push(env_var(
        env::PITR_MANIFEST_PREFIX,
        &crate::controller::render::pitr_archive_prefix(&profile),
    ));
    if let Some(sanity) = s
        .spec
        .verification
        .as_ref()
        .and_then(|v| v.sanity_check.as_ref())
    {
        env_vars.push(env_var(env::VERIFY_SANITY_QUERY, &sanity.query));
        if let Some(min) = sanity.expect.as_ref().and_then(|e| e.min_rows) {
            env_vars.push(env_var(env::VERIFY_SANITY_MIN_ROWS, &min.to_string()));
        }
        env_vars.push(env_var(
            env::VERIFY_SANITY_MAX_SECONDS,
            &sanity.max_duration_seconds_or_default().to_string(),
        ));
    }
    env_vars.push(env_var(env::RESULT_FILE, env::DEFAULT_TERMINATION_LOG));
    volumes.push(json!({ "name": "data", "persistentVolumeClaim": { "claimName": pvc_name } }));
    mounts.push(json!({ "name": "data", "mountPath": DATA_MOUNT }));
    volumes.push(json!({ "name": "tmp", "emptyDir": {} }));
    mounts.push(json!({ "name": "tmp", "mountPath": "/tmp" }));
    let group_spec = s.spec.template.spec.backup.as_ref();
    let container = json!({
        "name": "verify",
        "image": image,
        "command": ["bloodraven", "verify"],
        "env": env_vars,
        "volumeMounts": mounts,
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "securityContext": merge(
            json!({
                "allowPrivilegeEscalation": false,
                "readOnlyRootFilesystem": true,
                "runAsNonRoot": true,
                "capabilities": { "drop": ["ALL"] },
            }),
            group_spec.and_then(|b| b.container_security_context.as_ref()),
        ),
    });
    let l = labels(s);
    let job = json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": job_name,
            "namespace": s.metadata.namespace,
            "labels": l,
            "ownerReferences": [owner(s)],
        },
        "spec": {
            "backoffLimit": 0,
            "template": {
                "metadata": { "labels": l },
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [container],
                    "volumes": volumes,
                    "securityContext": merge(
                        json!({
                            "runAsNonRoot": true,
                            "runAsUser": 65532,
                            "fsGroup": 65532,
                            "seccompProfile": { "type": "RuntimeDefault" },
                        }),
                        group_spec.and_then(|b| b.pod_security_context.as_ref()),
                    ),
                },
            },
        },
    });
    serde_json::from_value(job).map_err(|e| Failure {
        reason: event::BUILD_JOB_FAILED,
        message: format!("the rendered drill Job is not valid: {e}"),
    })
}

/// The `Restorable` verdict of a finished drill: its Job's success and the `BLOODRAVEN_VERIFY_*` result, or
/// (no result line) the last line the Job left.
pub fn drill_verdict(
    job_name: &str,
    dump: &str,
    job_complete: bool,
    result: Option<&VerifyResult>,
    text: &str,
) -> Verdict {
    match result {
        Some(r) if job_complete && r.succeeded => Verdict::new(
            condition::RESTORABLE,
            ConditionStatus::True,
            "VerificationPassed",
            format!(
                "drill {job_name} restored dump {dump} and replayed the binlog archive{}",
                r.replayed_file
                    .as_ref()
                    .map(|f| format!(" through {f}"))
                    .unwrap_or_default()
            ),
        ),
        Some(r) => Verdict::new(
            condition::RESTORABLE,
            ConditionStatus::False,
            "VerificationFailed",
            format!(
                "drill {job_name} of dump {dump} failed ({}): {}",
                r.reason, r.message
            ),
        ),
        None => Verdict::new(
            condition::RESTORABLE,
            ConditionStatus::False,
            "VerificationFailed",
            format!(
                "drill {job_name} of dump {dump} ended without a verdict: {}",
                text.lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("no message")
            ),
        ),
    }
}

/// The `Restorable` condition while nothing says otherwise: `Unknown` without drills or before the first one.
pub fn restorable_pending(s: &MysqlStandbyCluster) -> Option<Verdict> {
    let current = s
        .status
        .as_ref()
        .and_then(|st| st.conditions.as_deref())
        .and_then(|c| c.iter().find(|c| c.type_ == condition::RESTORABLE));
    if s.spec.verification.is_none() {
        return Some(Verdict::new(
            condition::RESTORABLE,
            ConditionStatus::Unknown,
            "VerificationNotConfigured",
            "set spec.verification to run scheduled restore drills of the discovered dump and binlog window",
        ));
    }
    let stale = current.is_none_or(|c| c.reason == "VerificationNotConfigured");
    stale.then(|| {
        Verdict::new(
            condition::RESTORABLE,
            ConditionStatus::Unknown,
            "VerificationPending",
            "no restore drill has finished yet",
        )
    })
}

/// How long a passing drill's `Restorable=True` stands: twice `spec.verification.interval` after the drill
/// finished. A drill is due one interval after the last one, so a verdict this old means drills are not
/// finishing (no node for the Job, quota, a stuck restore) and nobody has checked the window since.
pub const VERDICT_LIFETIME_INTERVALS: u32 = 2;

/// When a passing verdict stops standing: `None` unless `Restorable` is True from a drill with a completion
/// time.
pub fn restorable_until(s: &MysqlStandbyCluster) -> Option<DateTime<Utc>> {
    let interval = drill_interval(s.spec.verification.as_ref()?);
    let status = s.status.as_ref()?;
    let current = status
        .conditions
        .as_deref()?
        .iter()
        .find(|c| c.type_ == condition::RESTORABLE)?;
    if current.status != ConditionStatus::True.as_str() {
        return None;
    }
    let done = status.last_verified.as_ref()?.completion_time.as_ref()?;
    let done = DateTime::<Utc>::from_timestamp(done.0.as_second(), 0)?;
    Some(done + chrono::Duration::from_std(interval * VERDICT_LIFETIME_INTERVALS).ok()?)
}

/// `Restorable=False` (`VerificationStale`) once the passing verdict is older than
/// [`VERDICT_LIFETIME_INTERVALS`] intervals, naming the drill that has not finished.
pub fn restorable_stale(s: &MysqlStandbyCluster, now: DateTime<Utc>) -> Option<Verdict> {
    let until = restorable_until(s)?;
    if now < until {
        return None;
    }
    let status = s.status.as_ref()?;
    let last = status.last_verified.as_ref()?;
    let waiting = match status
        .active_verification
        .as_ref()
        .and_then(|a| a.job_name.as_deref())
    {
        Some(job) => format!("drill Job {job} has not finished: check its Pod"),
        None => "no drill is running".to_owned(),
    };
    let passed = last
        .completion_time
        .as_ref()
        .map(|t| t.0.to_string())
        .unwrap_or_default();
    Some(Verdict::new(
        condition::RESTORABLE,
        ConditionStatus::False,
        "VerificationStale",
        format!(
            "the last passing drill{} finished at {passed}, more than {VERDICT_LIFETIME_INTERVALS} × \
             spec.verification.interval ago; {waiting}",
            last.verification_name
                .as_deref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default()
        ),
    ))
}

/// The DR cursor that keeps the discovered dump's binlog window: from [`CURSOR_MARGIN`] before the dump's
/// completion, for `cursorTtl` after `now`.
pub fn cursor(
    s: &MysqlStandbyCluster,
    discovered: &Discovered,
    now: DateTime<Utc>,
) -> Option<DrCursor> {
    let v = s.spec.verification.as_ref()?;
    let done = discovered.dump_completion_time.as_ref()?.0.as_second();
    let keep_from = DateTime::<Utc>::from_timestamp(done, 0)?
        - chrono::Duration::from_std(CURSOR_MARGIN).ok()?;
    let ttl = v
        .cursor_ttl
        .as_ref()
        .and_then(|d| d.to_std())
        .unwrap_or(DEFAULT_CURSOR_TTL);
    Some(DrCursor {
        standby: cursor_name(s),
        keep_from,
        written_at: now,
        expires_at: Some(now + chrono::Duration::from_std(ttl).ok()?),
    })
}

/// `<namespace>/<name>` of the standby (the cursor's owner).
pub fn cursor_name(s: &MysqlStandbyCluster) -> String {
    format!(
        "{}/{}",
        s.metadata.namespace.as_deref().unwrap_or_default(),
        s.metadata.name.as_deref().unwrap_or_default()
    )
}

/// The next drill number: one past the number in the last drill's Job name.
pub fn next_drill(status: Option<&MysqlStandbyClusterStatus>) -> i64 {
    let last = status
        .and_then(|s| {
            s.active_verification
                .as_ref()
                .and_then(|a| a.job_name.clone())
                .or_else(|| s.last_verified.as_ref()?.verification_name.clone())
        })
        .and_then(|n| n.rsplit('-').next()?.parse::<i64>().ok())
        .unwrap_or(0);
    last + 1
}

#[cfg(test)]
mod tests;
