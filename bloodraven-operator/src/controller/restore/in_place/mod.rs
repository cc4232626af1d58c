//! The `spec.restoreInPlace` controller ([`run`]): the destructive, re-armable restore of a dump into the live
//! primary. [`decide`] holds the state machine; this module gathers what it looks at (the group, the Job under the
//! fixed name, the target's pod labels, the source backup) and applies its decision (status, Job, reclone
//! annotation — one site at a time, see [`decide`] —, events, metrics). The group's runner freezes the topology meanwhile ([`decide::in_flight`]) and its
//! pod labelling fences the target ([`decide::fenced_site`]).

pub mod decide;

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Pod, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams, PropagationPolicy};
use kube::runtime::controller::Action;
use kube::runtime::events::{EventType, Recorder};
use kube::{Api, Client, ResourceExt};
use serde_json::{Value, json};
use tokio::sync::watch;
use tracing::Instrument;

use bloodraven_api::backup::MysqlBackup;
use bloodraven_api::failovergroup::MysqlFailoverGroup;
use bloodraven_api::failovergroup::status::RestoreInPlaceStatus;
use bloodraven_api::names::{annotation, event, label};

use super::super::ManagerOptions;
use super::super::backup::build::job_outcome;
use super::super::backup::metrics;
use super::build;
use decide::{JobAction, JobView, Note, Observation};

struct Context {
    client: Client,
    options: ManagerOptions,
    recorder: Recorder,
    leader: watch::Receiver<bool>,
    image: String,
}

/// Runs the in-place restore controller until the process ends (the manager aborts it on shutdown).
pub async fn run(client: Client, options: ManagerOptions, leader: watch::Receiver<bool>) {
    let groups: Api<MysqlFailoverGroup> =
        super::super::scoped(&client, options.namespace.as_deref());
    let jobs: Api<Job> = super::super::scoped(&client, options.namespace.as_deref());
    let context = Arc::new(Context {
        recorder: super::super::recorder(&client),
        client,
        options,
        leader,
        image: super::super::job_image(),
    });
    super::super::run_owning_jobs(
        groups,
        jobs,
        context,
        reconcile,
        "MysqlFailoverGroup (in-place restore)",
    )
    .await;
}

async fn reconcile(
    group: Arc<MysqlFailoverGroup>,
    ctx: Arc<Context>,
) -> Result<Action, kube::Error> {
    let namespace = group.namespace().unwrap_or_default();
    let name = group.name_any();
    let span =
        tracing::info_span!("restore-in-place", kind = "MysqlFailoverGroup", %namespace, %name);
    ctx.apply(&group).instrument(span).await
}

impl Context {
    async fn apply(&self, cached: &MysqlFailoverGroup) -> Result<Action, kube::Error> {
        if !*self.leader.borrow() || cached.metadata.deletion_timestamp.is_some() {
            return Ok(Action::requeue(Duration::from_secs(60)));
        }
        if cached.spec.restore_in_place.is_none()
            && cached
                .status
                .as_ref()
                .and_then(|s| s.restore_in_place.as_ref())
                .is_none()
        {
            return Ok(Action::await_change());
        }
        let namespace = cached.namespace().unwrap_or_default();
        let groups: Api<MysqlFailoverGroup> = Api::namespaced(self.client.clone(), &namespace);
        // One phase per reconcile from the freshest status: a cached one a phase behind would replay a step.
        let Some(group) = groups.get_opt(&cached.name_any()).await? else {
            return Ok(Action::await_change());
        };
        let group_name = group.name_any();
        let cur = group
            .status
            .as_ref()
            .and_then(|s| s.restore_in_place.as_ref());
        let target = cur.and_then(|c| c.details.target_site.clone());
        let jobs: Api<Job> = Api::namespaced(self.client.clone(), &namespace);
        let job = match &target {
            Some(site) => match jobs.get_opt(&decide::job_name(&group_name, site)).await? {
                Some(j) => Some(self.view(&namespace, &j).await?),
                None => None,
            },
            None => None,
        };
        let primary_fenced = match &target {
            Some(site) => self.primary_fenced(&namespace, &group_name, site).await?,
            None => false,
        };
        let backup = self.source_backup(&group, &namespace).await?;
        let observation = Observation {
            group: &group,
            job,
            primary_fenced,
            source: build::source_details(backup.as_ref()),
            now: Time(k8s_openapi::jiff::Timestamp::now()),
        };
        let d = decide::decide(&observation);
        for note in &d.events {
            self.event(&group, note).await;
        }
        match &d.job {
            JobAction::None => {}
            JobAction::DeleteStale(name) => {
                let params = DeleteParams {
                    propagation_policy: Some(PropagationPolicy::Background),
                    ..DeleteParams::default()
                };
                match jobs.delete(name, &params).await {
                    Ok(_) => {}
                    Err(kube::Error::Api(e)) if e.code == 404 => {}
                    Err(e) => return Err(e),
                }
            }
            JobAction::Create => return self.create_job(&group, backup.as_ref()).await,
        }
        // The annotation first: the status drops the site from status.pendingReclones only once it is scheduled.
        if let Some(site) = &d.reclone
            && !self.reclone(&group, site).await
        {
            return Ok(Action::requeue(Duration::from_secs(10)));
        }
        if let Some(status) = &d.status {
            self.patch(&group, status.as_ref()).await?;
        }
        if d.loaded
            && let Some(Some(s)) = &d.status
        {
            let done = observation.now.0.as_second();
            let started = s
                .details
                .start_time
                .as_ref()
                .map_or(done, |t| t.0.as_second());
            metrics::global().restore_succeeded(
                &namespace,
                &group_name,
                decide::KIND_IN_PLACE,
                s.details.target_site.as_deref().unwrap_or_default(),
                done,
                (done - started).max(0) as f64,
                s.details
                    .source_size_bytes
                    .and_then(|b| u64::try_from(b).ok()),
            );
        }
        if d.job_ended
            && let Some(job) = &observation.job
        {
            let profile = backup
                .as_ref()
                .map(|b| b.spec.profile_name.clone())
                .unwrap_or_default();
            metrics::global().encrypt_stages(&group_name, &profile, &job.messages);
        }
        Ok(d.requeue.map_or_else(Action::await_change, Action::requeue))
    }

    /// Renders and creates the Job; a render failure or a missing Secret ends the run Failed.
    async fn create_job(
        &self,
        group: &MysqlFailoverGroup,
        backup: Option<&MysqlBackup>,
    ) -> Result<Action, kube::Error> {
        let namespace = group.namespace().unwrap_or_default();
        let group_name = group.name_any();
        let now = Time(k8s_openapi::jiff::Timestamp::now());
        let Some(cur) = group
            .status
            .as_ref()
            .and_then(|s| s.restore_in_place.clone())
        else {
            return Ok(Action::requeue(Duration::from_secs(2)));
        };
        let site = cur.details.target_site.clone().unwrap_or_default();
        // A direct S3 source is encrypted when its marker is there (then a passphrase is needed).
        let source_encrypted = match group
            .spec
            .restore_in_place
            .as_ref()
            .and_then(|s| s.source.s3.as_ref())
        {
            Some(s3) => {
                match super::probe_s3(
                    &self.client,
                    "spec.restoreInPlace.source.s3",
                    &namespace,
                    s3,
                )
                .await?
                {
                    Ok(encrypted) => Some(encrypted),
                    Err(message) => return self.build_failed(group, message, &now).await,
                }
            }
            None => None,
        };
        let host = self
            .options
            .site_endpoints
            .resolve(&namespace, &group_name, &site);
        let inputs = build::Inputs {
            group,
            site: &site,
            host,
            backup,
            image: &self.image,
            source_encrypted,
        };
        let rendered = match decide::job(&inputs) {
            Ok(r) => r,
            Err(f) => return self.build_failed(group, f.message, &now).await,
        };
        let secrets: Api<Secret> = Api::namespaced(self.client.clone(), &namespace);
        for need in &rendered.secrets {
            let problem = match secrets.get_opt(&need.name).await? {
                None => Some(format!(
                    "{}: Secret {namespace}/{} not found",
                    need.field, need.name
                )),
                Some(s) => need
                    .key
                    .as_ref()
                    .filter(|k| !super::has_key(&s, k))
                    .map(|k| {
                        format!(
                            "{}: Secret {namespace}/{} has no key {k:?}",
                            need.field, need.name
                        )
                    }),
            };
            if let Some(message) = problem {
                return self.build_failed(group, message, &now).await;
            }
        }
        let jobs: Api<Job> = Api::namespaced(self.client.clone(), &namespace);
        let created = match jobs.create(&PostParams::default(), &rendered.job).await {
            Ok(j) => j,
            // Someone else's Job appeared under the name meanwhile: the next pass sorts it out.
            Err(kube::Error::Api(e)) if e.code == 409 => {
                return Ok(Action::requeue(Duration::from_secs(2)));
            }
            Err(e) => return Err(e),
        };
        let name = created.name_any();
        let mut next: RestoreInPlaceStatus = cur.clone();
        next.details.job_name = Some(name.clone());
        next.details.message = Some("restore Job created".into());
        self.patch(group, Some(&next)).await?;
        self.event(
            group,
            &Note {
                warning: false,
                reason: event::RESTORE_IN_PLACE_JOB_CREATED,
                message: format!(
                    "created in-place restore Job {name} targeting site {site} (scope={})",
                    cur.scope.as_deref().unwrap_or("full")
                ),
            },
        )
        .await;
        tracing::info!(job = %name, %site, "in-place restore Job created");
        Ok(Action::requeue(Duration::from_secs(10)))
    }

    async fn build_failed(
        &self,
        group: &MysqlFailoverGroup,
        message: String,
        now: &Time,
    ) -> Result<Action, kube::Error> {
        let (status, note) = decide::build_failed(group, message, now);
        self.patch(group, Some(&status)).await?;
        self.event(group, &note).await;
        Ok(Action::await_change())
    }

    /// The Job as the state machine sees it (its pods' termination messages once it ended).
    async fn view(&self, namespace: &str, job: &Job) -> Result<JobView, kube::Error> {
        let outcome = job_outcome(job);
        let name = job.name_any();
        let messages = if outcome == super::super::backup::build::JobOutcome::Running {
            String::new()
        } else {
            super::super::verification::termination_messages(&self.client, namespace, &name).await?
        };
        Ok(JobView {
            confirm: job.annotations().get(annotation::RESTORE_CONFIRM).cloned(),
            outcome,
            deleting: job.metadata.deletion_timestamp.is_some(),
            messages,
            failure: job
                .status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .and_then(|c| c.iter().find(|c| c.type_ == "Failed"))
                .and_then(|c| c.message.clone()),
            name,
        })
    }

    /// Whether no pod of `site` is labelled `role=primary` (true without pods: nothing to shed).
    async fn primary_fenced(
        &self,
        namespace: &str,
        group: &str,
        site: &str,
    ) -> Result<bool, kube::Error> {
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        let selector = format!(
            "{}=mysql,{}={group},{}={site}",
            label::NAME,
            label::INSTANCE,
            label::SITE
        );
        let list = pods.list(&ListParams::default().labels(&selector)).await?;
        Ok(list
            .iter()
            .all(|p| p.labels().get(label::ROLE).map(String::as_str) != Some(label::ROLE_PRIMARY)))
    }

    async fn source_backup(
        &self,
        group: &MysqlFailoverGroup,
        namespace: &str,
    ) -> Result<Option<MysqlBackup>, kube::Error> {
        match group
            .spec
            .restore_in_place
            .as_ref()
            .and_then(|s| s.source.mysql_backup_ref.as_ref())
        {
            Some(r) => {
                let api: Api<MysqlBackup> = Api::namespaced(self.client.clone(), namespace);
                api.get_opt(&r.name).await
            }
            None => Ok(None),
        }
    }

    /// Gives `site` the reclone annotation; says how that went in an event. Whether it was written.
    async fn reclone(&self, group: &MysqlFailoverGroup, site: &str) -> bool {
        let api: Api<MysqlFailoverGroup> =
            Api::namespaced(self.client.clone(), &group.namespace().unwrap_or_default());
        let value = decide::reclone_value(&group.name_any(), site);
        let patch = json!({ "metadata": { "annotations": { annotation::RECLONE_SITE: value } } });
        let result = api
            .patch(
                &group.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await;
        let note = match &result {
            Ok(_) => {
                tracing::info!(%site, "reclone scheduled after the in-place restore");
                Note {
                    warning: false,
                    reason: event::RESTORE_IN_PLACE_RECLONE_SCHEDULED,
                    message: format!(
                        "scheduled reclone of replica site {site} after in-place restore"
                    ),
                }
            }
            Err(e) => {
                tracing::warn!(%site, error = %e, "cannot schedule the reclone; retrying");
                Note {
                    warning: true,
                    reason: event::RESTORE_IN_PLACE_RECLONE_ANNOTATION_FAILED,
                    message: format!(
                        "in-place restore succeeded but failed to schedule replica reclone of {site}: {e} \
                         (retrying)"
                    ),
                }
            }
        };
        // About the site's Deployment: one series per site, not one for every reclone of the run.
        let related = k8s_openapi::api::core::v1::ObjectReference {
            api_version: Some("apps/v1".into()),
            kind: Some("Deployment".into()),
            name: Some(bloodraven_api::names::object::site(&group.name_any(), site)),
            namespace: group.namespace(),
            ..Default::default()
        };
        let type_ = if note.warning {
            EventType::Warning
        } else {
            EventType::Normal
        };
        super::super::publish_related(
            &self.recorder,
            group,
            type_,
            note.reason,
            &note.message,
            Some(related),
        )
        .await;
        result.is_ok()
    }

    /// Replaces `status.restoreInPlace` (removes it for `None`) in one merge patch: fields of an earlier run are
    /// set to null, so they do not linger.
    async fn patch(
        &self,
        group: &MysqlFailoverGroup,
        status: Option<&RestoreInPlaceStatus>,
    ) -> Result<(), kube::Error> {
        let api: Api<MysqlFailoverGroup> =
            Api::namespaced(self.client.clone(), &group.namespace().unwrap_or_default());
        let old = group
            .status
            .as_ref()
            .and_then(|s| s.restore_in_place.as_ref())
            .and_then(|s| serde_json::to_value(s).ok());
        let new = status.and_then(|s| serde_json::to_value(s).ok());
        let patch = json!({ "status": { "restoreInPlace": replacement(old, new) } });
        match api
            .patch_status(
                &group.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn event(&self, group: &MysqlFailoverGroup, note: &Note) {
        let type_ = if note.warning {
            EventType::Warning
        } else {
            EventType::Normal
        };
        super::super::publish(&self.recorder, group, type_, note.reason, &note.message).await;
    }
}

/// The merge patch that turns `old` into `new`: `new`'s fields, and null for every field only `old` has (null
/// for a removed object).
fn replacement(old: Option<Value>, new: Option<Value>) -> Value {
    let Some(mut new) = new else {
        return Value::Null;
    };
    if let (Some(Value::Object(old)), Value::Object(n)) = (old, &mut new) {
        for key in old.keys() {
            n.entry(key.clone()).or_insert(Value::Null);
        }
    }
    new
}
