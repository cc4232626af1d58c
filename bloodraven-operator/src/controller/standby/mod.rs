//! The `MysqlStandbyCluster` controller ([`run`]): discovery of the source's bucket and, beyond the Go operator,
//! scheduled restore drills that set the `Restorable` condition.
//!
//! ```text
//!   standby event / discoveryInterval ─▶ leader?
//!     spec, credentials Secret, passphrase Secret ──unusable──▶ BucketReadable=False, SourceConfigKnown=False
//!     │                                                         (ConfigError, naming the field or Secret) + Warning
//!     ▼ scan (once per discoveryInterval or spec change): list <prefix>/, read <prefix>/<dump>/@.json (decrypted
//!     │ when spec.source.decryption is set), load <prefix>/binlogs/manifest-<site>.json
//!     ├─ listing failed ─▶ BucketReadable=False (ListFailed │ AuthFailed), SourceConfigKnown=False ScanIncomplete
//!     └─ status.discovered, BucketReadable=True, SourceConfigKnown (DumpFound │ NoDumpFound │ NoBinlogManifests │
//!        MetadataUnreadable), BucketScanned event when the dump or the manifests change
//!   spec.verification set and a dump found:
//!     write <prefix>/dr-cursors/<namespace>.<name>.json (the source's retention keeps the window it names)
//!     drill due (new dump, or interval after the last) ─▶ PVC <name>-drill-<n>-data + Job <name>-drill-<n>
//!       (`bloodraven verify`: restore the dump, replay the archive to its newest transaction, sanity query)
//!     Job done ─▶ Restorable True (VerificationPassed) │ False (VerificationFailed, the drill's reason),
//!       status.lastVerified, bloodraven_dr_restorable_timestamp_seconds; a passed drill's Job is deleted (its PVC
//!       with it, by owner reference), a failed one kept for inspection until the next drill
//!     no drill passed for 2 × interval ─▶ Restorable False (VerificationStale, naming the unfinished drill)
//! ```
//!
//! The pure decisions are in [`build`]; this module only talks to the object store and the API server.

pub mod build;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::Utc;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::api::{DeleteParams, ListParams, PostParams, PropagationPolicy};
use kube::runtime::controller::Action;
use kube::runtime::events::{EventType, Recorder};
use kube::{Api, Client, ResourceExt};
use serde_json::{Value, json};
use tokio::sync::watch;
use tracing::Instrument;

use bloodraven_api::conditions::{ConditionStatus, new_condition, set_condition};
use bloodraven_api::names::{condition, event};
use bloodraven_api::standby::{Discovered, MysqlStandbyCluster};
use bloodraven_backup::Passphrase;
use bloodraven_backup::bloodraven_binlog::archive::ArchiveStore;
use bloodraven_backup::bloodraven_binlog::manifest::ArchiveLayout;
use bloodraven_backup::object_store::path::Path as ObjectPath;
use bloodraven_backup::object_store::{ObjectStore, ObjectStoreExt};

use super::ManagerOptions;
use super::backup::build::{JobOutcome, job_outcome};
use super::backup::{metrics, secret_value};
use super::verification::termination_messages;
use crate::jobs::env::{S3Keys, Storage};
use crate::jobs::result::VerifyResult;
use crate::secret::Password;
use build::{DumpJson, Scan, Verdict};

/// Event reason: a restore drill's Job was created.
pub const RESTORE_DRILL_STARTED: &str = "RestoreDrillStarted";
/// Event reason: a drill passed (`Restorable=True`).
pub const RESTORE_DRILL_PASSED: &str = "RestoreDrillPassed";
/// Event reason (Warning): a drill failed (`Restorable=False`).
pub const RESTORE_DRILL_FAILED: &str = "RestoreDrillFailed";
/// Event reason (Warning): the DR cursor could not be written (the source's retention may prune the window).
pub const DR_CURSOR_WRITE_FAILED: &str = "DrCursorWriteFailed";

/// How long one bucket operation may take before the scan counts as failed.
const STORE_TIMEOUT: Duration = Duration::from_secs(60);
/// How often a running drill's Job is looked at (besides its watch events).
const DRILL_POLL: Duration = Duration::from_secs(15);

/// An error of one reconcile; retried with a back-off.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A Kubernetes API call failed.
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
}

struct Context {
    client: Client,
    recorder: Recorder,
    leader: watch::Receiver<bool>,
    image: String,
    /// Parsed `@.json` per key (dumps do not change once written), as the Go reconciler's cache.
    dump_cache: Mutex<BTreeMap<String, DumpJson>>,
    /// Per standby, the generation and time of the last scan.
    last_scan: Mutex<BTreeMap<(String, String), LastScan>>,
}

/// The generation a standby had at its last scan, and when that scan ran.
type LastScan = (Option<i64>, std::time::Instant);

/// The source bucket, opened with the standby's credentials.
struct Source {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    passphrase: Option<Passphrase>,
    /// `Secret <namespace>/<name> key <key>`, for messages about the passphrase.
    passphrase_ref: String,
}

/// Runs the MysqlStandbyCluster controller until the process ends (the manager aborts it on shutdown).
pub async fn run(client: Client, options: ManagerOptions, leader: watch::Receiver<bool>) {
    let standbys: Api<MysqlStandbyCluster> = super::scoped(&client, options.namespace.as_deref());
    let jobs: Api<Job> = super::scoped(&client, options.namespace.as_deref());
    let context = Arc::new(Context {
        recorder: super::recorder(&client),
        client,
        leader,
        image: super::job_image(),
        dump_cache: Mutex::new(BTreeMap::new()),
        last_scan: Mutex::new(BTreeMap::new()),
    });
    super::run_owning_jobs(standbys, jobs, context, reconcile, "MysqlStandbyCluster").await;
}

async fn reconcile(s: Arc<MysqlStandbyCluster>, ctx: Arc<Context>) -> Result<Action, Error> {
    let namespace = s.namespace().unwrap_or_default();
    let name = s.name_any();
    let span = tracing::info_span!("reconcile", kind = "MysqlStandbyCluster", %namespace, %name);
    if !*ctx.leader.borrow() {
        return Ok(Action::requeue(Duration::from_secs(30)));
    }
    if s.metadata.deletion_timestamp.is_some() {
        // Owner references remove the drill's Job and PVC; the cursor lapses at its expiresAt.
        return Ok(Action::await_change());
    }
    Ok(ctx.apply(&s).instrument(span).await?)
}

fn now_time() -> Time {
    Time(k8s_openapi::jiff::Timestamp::now())
}

/// Whether an object-store error means the credentials or the policy refused access.
fn is_auth_error(e: &bloodraven_backup::object_store::Error) -> bool {
    use bloodraven_backup::object_store::Error as E;
    if matches!(e, E::PermissionDenied { .. } | E::Unauthenticated { .. }) {
        return true;
    }
    let text = e.to_string();
    [
        "403",
        "401",
        "AccessDenied",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "Forbidden",
    ]
    .iter()
    .any(|m| text.contains(m))
}

impl Context {
    async fn apply(&self, s: &MysqlStandbyCluster) -> Result<Action, kube::Error> {
        let interval = build::discovery_interval(s);
        let status = s.status.clone().unwrap_or_default();
        let now = Utc::now();
        let key = (s.namespace().unwrap_or_default(), s.name_any());
        let since_scan = self
            .last_scan
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
            .map(|(generation, at)| (*generation, at.elapsed()));
        // Scans run once per discoveryInterval and on spec changes, not on every event: a scan writes
        // `lastScanAt`, which is itself an event of this standby.
        let scan_due = match since_scan {
            Some((generation, elapsed)) => {
                generation != s.metadata.generation || elapsed >= interval
            }
            None => true,
        };
        let requeue = match since_scan {
            Some((_, elapsed)) if !scan_due => {
                interval.saturating_sub(elapsed).max(Duration::from_secs(1))
            }
            _ => interval,
        };
        let source = match self.open_source(s).await? {
            Ok(source) => source,
            Err(message) => {
                let (bucket, known) = build::config_error(&message);
                self.publish(s, vec![bucket, known], None).await?;
                return Ok(Action::requeue(interval));
            }
        };
        let discovered = if scan_due {
            self.last_scan
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(key, (s.metadata.generation, std::time::Instant::now()));
            let (verdicts, discovered) = match self.scan(&source).await {
                Ok(scan) => {
                    let v = build::discover(&scan, now);
                    (vec![v.bucket, v.source], Some(v.discovered))
                }
                Err((error, auth)) => {
                    let (bucket, known) = build::list_failed(&source.prefix, &error, auth);
                    (vec![bucket, known], None)
                }
            };
            let ok = verdicts.iter().all(|v| v.status == ConditionStatus::True);
            let mut all = verdicts;
            all.extend(build::restorable_pending(s));
            self.publish(s, all, discovered.clone()).await?;
            if !ok {
                // A drill already running is still followed to its verdict; none starts.
                if s.spec.verification.is_some() && status.active_verification.is_some() {
                    let d = status.discovered.clone().unwrap_or_default();
                    let next = self.drill(s, &d).await?;
                    return Ok(Action::requeue(interval.min(next)));
                }
                return Ok(Action::requeue(interval));
            }
            discovered.unwrap_or_default()
        } else {
            status.discovered.clone().unwrap_or_default()
        };
        if s.spec.verification.is_none() {
            return Ok(Action::requeue(requeue));
        }
        if scan_due {
            self.write_cursor(s, &source, &discovered).await;
        }
        if let Some(stale) = build::restorable_stale(s, now) {
            self.publish(s, vec![stale], None).await?;
            // The next pass sees the verdict in the status and follows the drill from there.
            return Ok(Action::requeue(Duration::from_secs(1)));
        }
        let drill = self.drill(s, &discovered).await?;
        let stands_for = build::restorable_until(s)
            .and_then(|until| (until - now).to_std().ok())
            .map_or(requeue, |d| d + Duration::from_secs(1));
        Ok(Action::requeue(requeue.min(drill).min(stands_for)))
    }

    /// Reads the spec and the Secrets into an opened bucket, or the message naming what to fix.
    async fn open_source(
        &self,
        s: &MysqlStandbyCluster,
    ) -> Result<Result<Source, String>, kube::Error> {
        if let Some(problem) = build::spec_problem(s) {
            return Ok(Err(problem));
        }
        let namespace = s.namespace().unwrap_or_default();
        let Some(s3) = s.spec.source.storage.s3.as_ref() else {
            return Ok(Err("spec.source.storage.s3 is required".into()));
        };
        let secrets: Api<Secret> = Api::namespaced(self.client.clone(), &namespace);
        let Some(secret) = secrets.get_opt(&s3.credentials_secret).await? else {
            return Ok(Err(format!(
                "spec.source.storage.s3.credentialsSecret: Secret {namespace}/{} not found",
                s3.credentials_secret
            )));
        };
        let value = |k: &str| secret_value(&secret, k);
        let keys = match (value("AWS_ACCESS_KEY_ID"), value("AWS_SECRET_ACCESS_KEY")) {
            (Some(id), Some(key)) => Some(S3Keys {
                access_key_id: id,
                secret_access_key: Password::from(key),
                session_token: value("AWS_SESSION_TOKEN").map(Password::from),
            }),
            (None, None) => None,
            _ => {
                return Ok(Err(format!(
                    "spec.source.storage.s3.credentialsSecret: Secret {namespace}/{} needs both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
                    s3.credentials_secret
                )));
            }
        };
        let (mut passphrase, mut passphrase_ref) = (None, String::new());
        if let Some(d) = &s.spec.source.decryption {
            let name = &d.passphrase_secret.name;
            let key = d.passphrase_secret.key_or_default();
            passphrase_ref = format!("Secret {namespace}/{name} key {key}");
            let Some(secret) = secrets.get_opt(name).await? else {
                return Ok(Err(format!(
                    "spec.source.decryption.passphraseSecret: Secret {namespace}/{name} not found"
                )));
            };
            let bytes = secret
                .data
                .as_ref()
                .and_then(|d| d.get(key))
                .map(|b| b.0.clone())
                .unwrap_or_default();
            match Passphrase::new(bytes) {
                Ok(p) => passphrase = Some(p),
                Err(e) => {
                    return Ok(Err(format!(
                        "spec.source.decryption.passphraseSecret: {passphrase_ref}: {e}"
                    )));
                }
            }
        }
        let storage = Storage::S3 {
            bucket: s3.bucket.clone(),
            endpoint: s3.endpoint_url.clone(),
            region: s3.region.clone().or_else(|| value("AWS_REGION")),
            creds_dir: None,
            keys,
        };
        match storage.open("") {
            Ok(location) => Ok(Ok(Source {
                store: Arc::clone(location.store()),
                prefix: build::source_prefix(&s.spec.source.storage),
                passphrase,
                passphrase_ref,
            })),
            Err(e) => Ok(Err(format!("spec.source.storage.s3: {e}"))),
        }
    }

    /// One scan of the bucket; `Err((message, auth))` when the listing failed.
    async fn scan(&self, source: &Source) -> Result<Scan, (String, bool)> {
        let listing = tokio::time::timeout(
            STORE_TIMEOUT,
            source
                .store
                .list(Some(&ObjectPath::from(source.prefix.as_str())))
                .map_ok(|m| m.location.to_string())
                .try_collect::<Vec<String>>(),
        )
        .await;
        let keys = match listing {
            Ok(Ok(keys)) => keys,
            Ok(Err(e)) => return Err((e.to_string(), is_auth_error(&e))),
            Err(_) => {
                return Err((
                    format!("no answer within {}s", STORE_TIMEOUT.as_secs()),
                    false,
                ));
            }
        };
        let candidates = build::dump_candidates(&source.prefix, &keys);
        let dumps: Vec<(String, Result<DumpJson, String>)> = futures::stream::iter(candidates)
            .map(|key| async move {
                let meta = self.dump_json(source, &key).await;
                (key, meta)
            })
            .buffered(8)
            .collect()
            .await;
        let mut archive = ArchiveStore::new(
            Arc::clone(&source.store),
            ArchiveLayout::for_profile_prefix(&source.prefix),
        );
        if let Some(p) = &source.passphrase {
            archive = archive.with_passphrase(p.clone());
        }
        let mut manifests = Vec::new();
        for key in build::manifest_keys(&source.prefix, &keys) {
            let Some(site) = archive.layout().site_of_manifest_key(&key) else {
                continue;
            };
            let m = match tokio::time::timeout(STORE_TIMEOUT, archive.load_manifest(&site)).await {
                Ok(Ok(m)) => Ok(m),
                Ok(Err(e)) => Err(self.decrypt_hint(source, &e.to_string())),
                Err(_) => Err(format!("no answer within {}s", STORE_TIMEOUT.as_secs())),
            };
            manifests.push((key, m));
        }
        Ok(Scan {
            prefix: source.prefix.clone(),
            dumps,
            manifests,
        })
    }

    fn decrypt_hint(&self, source: &Source, error: &str) -> String {
        if source.passphrase.is_some()
            && (error.contains("brv1") || error.contains("authentication"))
        {
            format!(
                "{error} (is spec.source.decryption.passphraseSecret, {}, the source profile's passphrase?)",
                source.passphrase_ref
            )
        } else {
            error.to_owned()
        }
    }

    /// `@.json` of one dump, decrypted when the source is encrypted.
    async fn dump_json(&self, source: &Source, key: &str) -> Result<DumpJson, String> {
        if let Some(m) = self
            .dump_cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
        {
            return Ok(m.clone());
        }
        let path = ObjectPath::from(key);
        let bytes = tokio::time::timeout(STORE_TIMEOUT, async {
            source.store.get(&path).await?.bytes().await
        })
        .await
        .map_err(|_| format!("no answer within {}s", STORE_TIMEOUT.as_secs()))?
        .map_err(|e| e.to_string())?;
        let plain = match &source.passphrase {
            Some(p) if bloodraven_brv1::looks_encrypted(&bytes) => {
                bloodraven_brv1::decrypt(p, &bytes).map_err(|e| {
                    format!(
                        "cannot decrypt with spec.source.decryption.passphraseSecret ({}): {e}",
                        source.passphrase_ref
                    )
                })?
            }
            Some(_) => {
                return Err(
                    "not BRV1-encrypted although spec.source.decryption is set (tamper or downgrade; remove spec.source.decryption for a plaintext source)"
                        .into(),
                );
            }
            None if bloodraven_brv1::looks_encrypted(&bytes) => {
                return Err("BRV1-encrypted, but spec.source.decryption is not set".into());
            }
            None => bytes.to_vec(),
        };
        let meta = DumpJson::parse(&plain)?;
        if meta.end.is_some() {
            self.dump_cache
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(key.to_owned(), meta.clone());
        }
        Ok(meta)
    }

    async fn write_cursor(&self, s: &MysqlStandbyCluster, source: &Source, d: &Discovered) {
        let Some(cursor) = build::cursor(s, d, Utc::now()) else {
            return;
        };
        let archive = ArchiveStore::new(
            Arc::clone(&source.store),
            ArchiveLayout::for_profile_prefix(&source.prefix),
        );
        let name = build::cursor_name(s);
        match tokio::time::timeout(STORE_TIMEOUT, archive.put_dr_cursor(&name, &cursor)).await {
            Ok(Ok(key)) => {
                tracing::debug!(%key, keep_from = %cursor.keep_from, "DR cursor written")
            }
            Ok(Err(e)) => {
                self.event(
                    s,
                    EventType::Warning,
                    DR_CURSOR_WRITE_FAILED,
                    &format!(
                        "{e} (the DR side needs write access to {} only; without it the source's retention may prune the verified window)",
                        archive.layout().dr_cursor_dir()
                    ),
                )
                .await;
            }
            Err(_) => {
                self.event(
                    s,
                    EventType::Warning,
                    DR_CURSOR_WRITE_FAILED,
                    "writing the DR cursor timed out",
                )
                .await;
            }
        }
    }

    /// The drill state machine; returns when to look again.
    async fn drill(
        &self,
        s: &MysqlStandbyCluster,
        discovered: &Discovered,
    ) -> Result<Duration, kube::Error> {
        let namespace = s.namespace().unwrap_or_default();
        let status = s.status.clone().unwrap_or_default();
        let jobs: Api<Job> = Api::namespaced(self.client.clone(), &namespace);
        if let Some(active) = &status.active_verification {
            let job_name = active.job_name.clone().unwrap_or_default();
            let dump = active.dump_name.clone().unwrap_or_default();
            let job = jobs.get_opt(&job_name).await?;
            let (complete, result, text) = match &job {
                Some(j) => match job_outcome(j) {
                    JobOutcome::Running => return Ok(DRILL_POLL),
                    outcome => {
                        let text =
                            termination_messages(&self.client, &namespace, &job_name).await?;
                        (
                            outcome == JobOutcome::Complete,
                            VerifyResult::parse_last(&text),
                            text,
                        )
                    }
                },
                None => (
                    false,
                    None,
                    format!("Job {namespace}/{job_name} was deleted before it finished"),
                ),
            };
            let verdict = build::drill_verdict(&job_name, &dump, complete, result.as_ref(), &text);
            let passed = verdict.status == ConditionStatus::True;
            let done = now_time();
            let started = active
                .start_time
                .as_ref()
                .map_or(done.0.as_second(), |t| t.0.as_second());
            let mut last = json!({
                "verificationName": job_name,
                "backupName": dump,
                "startTime": active.start_time,
                "completionTime": done,
                "durationSeconds": (done.0.as_second() - started).max(0),
            });
            if let Some(file) = result.as_ref().and_then(|r| r.replayed_file.clone()) {
                let ts = result
                    .as_ref()
                    .and_then(|r| r.replayed_timestamp.as_deref())
                    .and_then(|t| t.parse::<k8s_openapi::jiff::Timestamp>().ok());
                last["replayedThroughBinlog"] = json!({
                    "file": file,
                    "position": result.as_ref().map_or(0, |r| r.replayed_position),
                    "timestamp": ts.map(Time),
                });
            }
            let conditions = self.conditions(s, std::slice::from_ref(&verdict));
            self.patch_status(
                s,
                json!({
                    "lastVerified": last,
                    "activeVerification": null,
                    "conditions": conditions,
                }),
            )
            .await?;
            if passed {
                metrics::global().dr_restorable(&namespace, &s.name_any(), done.0.as_second());
                self.event(s, EventType::Normal, RESTORE_DRILL_PASSED, &verdict.message)
                    .await;
            } else {
                self.event(
                    s,
                    EventType::Warning,
                    RESTORE_DRILL_FAILED,
                    &verdict.message,
                )
                .await;
            }
            if passed && job.is_some() {
                // The scratch PVC is the Job's: the garbage collector removes it with the Job.
                let params = DeleteParams {
                    propagation_policy: Some(PropagationPolicy::Background),
                    ..DeleteParams::default()
                };
                ignore_not_found(jobs.delete(&job_name, &params).await)?;
            }
            return Ok(Duration::from_millis(500));
        }
        let Some(due) = build::verification_due_in(s, discovered, Utc::now()) else {
            return Ok(Duration::MAX);
        };
        if !due.is_zero() || discovered.dump_location.is_none() {
            return Ok(due.max(Duration::from_secs(1)));
        }
        let n = build::next_drill(Some(&status));
        let (job_name, pvc_name) = build::drill_names(&s.name_any(), n);
        let job = match build::drill_job(s, discovered, &job_name, &pvc_name, &self.image) {
            Ok(j) => j,
            Err(f) => {
                let v = Verdict {
                    type_: condition::RESTORABLE,
                    status: ConditionStatus::False,
                    reason: event::BUILD_JOB_FAILED,
                    message: f.message.clone(),
                };
                self.publish(s, vec![v], None).await?;
                return Ok(Duration::from_secs(60));
            }
        };
        // Earlier drills' Jobs (a failed one is kept for inspection until the next drill).
        let params = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Background),
            ..DeleteParams::default()
        };
        let old = jobs
            .list(&ListParams::default().labels(&format!(
                "{}={}",
                build::STANDBY_LABEL,
                s.name_any()
            )))
            .await?;
        for j in old {
            ignore_not_found(jobs.delete(&j.name_any(), &params).await)?;
        }
        let created = match jobs.create(&PostParams::default(), &job).await {
            Ok(j) => j,
            Err(kube::Error::Api(e)) if e.code == 409 => jobs.get(&job_name).await?,
            Err(e) => return Err(e),
        };
        let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(self.client.clone(), &namespace);
        ignore_conflict(
            pvcs.create(
                &PostParams::default(),
                &build::drill_pvc(s, &pvc_name, discovered, &created),
            )
            .await,
        )?;
        let dump = discovered.dump_name.clone().unwrap_or_default();
        self.patch_status(
            s,
            json!({ "activeVerification": {
                "jobName": job_name,
                "pvcName": pvc_name,
                "dumpName": dump,
                "startTime": now_time(),
            }}),
        )
        .await?;
        self.event(
            s,
            EventType::Normal,
            RESTORE_DRILL_STARTED,
            &format!("restoring dump {dump} and replaying the binlog archive with Job {job_name}"),
        )
        .await;
        Ok(DRILL_POLL)
    }

    /// The status conditions with `verdicts` set.
    fn conditions(&self, s: &MysqlStandbyCluster, verdicts: &[Verdict]) -> Vec<Condition> {
        let mut list = s
            .status
            .as_ref()
            .and_then(|st| st.conditions.clone())
            .unwrap_or_default();
        let now = now_time();
        for v in verdicts {
            set_condition(
                &mut list,
                new_condition(
                    v.type_,
                    v.status,
                    v.reason,
                    &v.message,
                    s.metadata.generation,
                    now.clone(),
                ),
            );
        }
        list
    }

    /// Writes the verdicts (and `discovered`) into the status; Warning events for verdicts that turned `False`
    /// or changed reason or message, `BucketScanned` when the dump or the manifests changed.
    async fn publish(
        &self,
        s: &MysqlStandbyCluster,
        verdicts: Vec<Verdict>,
        discovered: Option<Discovered>,
    ) -> Result<(), kube::Error> {
        let previous = s.status.clone().unwrap_or_default();
        let old = previous.conditions.clone().unwrap_or_default();
        let mut patch = json!({
            "observedGeneration": s.metadata.generation,
            "conditions": self.conditions(s, &verdicts),
        });
        if let Some(d) = &discovered {
            patch["discovered"] = serde_json::to_value(d).unwrap_or(Value::Null);
        }
        self.patch_status(s, patch).await?;
        for v in &verdicts {
            let before = old.iter().find(|c| c.type_ == v.type_);
            let same = before.is_some_and(|c| {
                c.status == v.status.as_str() && c.reason == v.reason && c.message == v.message
            });
            if v.status == ConditionStatus::False && !same {
                tracing::warn!(condition = v.type_, reason = v.reason, message = %v.message, "standby condition False");
                self.event(s, EventType::Warning, v.reason, &v.message)
                    .await;
            }
        }
        if let Some(d) = &discovered {
            let before = previous.discovered.as_ref();
            let changed = before.is_none_or(|b| {
                b.dump_name != d.dump_name
                    || b.manifest_count != d.manifest_count
                    || b.archived_binlog_count != d.archived_binlog_count
            });
            if changed {
                self.event(
                    s,
                    EventType::Normal,
                    event::BUCKET_SCANNED,
                    d.message.as_deref().unwrap_or("scanned"),
                )
                .await;
            }
        }
        Ok(())
    }

    async fn patch_status(
        &self,
        s: &MysqlStandbyCluster,
        status: Value,
    ) -> Result<(), kube::Error> {
        super::patch_status(&self.client, s, status).await
    }

    async fn event(&self, s: &MysqlStandbyCluster, type_: EventType, reason: &str, note: &str) {
        super::publish(&self.recorder, s, type_, reason, note).await;
    }
}

fn ignore_not_found<T>(r: Result<T, kube::Error>) -> Result<(), kube::Error> {
    match r {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(e),
    }
}

fn ignore_conflict<T>(r: Result<T, kube::Error>) -> Result<(), kube::Error> {
    match r {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(()),
        Err(e) => Err(e),
    }
}
