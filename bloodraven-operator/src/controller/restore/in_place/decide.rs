//! The pure half of `spec.restoreInPlace`: the state machine (one phase per reconcile, as the Go operator), the
//! gates the group's runner and pod labels read, and the Job. No client here; [`super`] gathers an
//! [`Observation`] and applies the [`Decision`].
//!
//! ```text
//!   no status / terminal and spec.confirm strictly later than status.confirmTokenUsed
//!        │ spec invalid (confirm not RFC 3339, more than one includeSchemas, one with pointInTime, no single
//!        │   source) ─▶ Failed, confirmTokenUsed empty (fix the spec and the same confirm runs),
//!        │   RestoreInPlaceRejected
//!        ▼
//!   Preflight ── status.activeSite writable? ──no──▶ Preflight (waiting …)
//!        ▼
//!   Fencing ── (full instance) no pod of the target labelled role=primary? ──no──▶ wait
//!        ▼
//!   Restoring ── Job mysql-<group>-<site>-inplace-restore (annotation restore-confirm = spec.confirm)
//!        │ a Job of another request under that name: running ─▶ RestoreInPlaceJobBusy, wait;
//!        │                                            ended ─▶ delete it, RestoreInPlaceStaleJobRemoved
//!        │ our Job running, spec.confirm changed meanwhile ─▶ RestoreInPlaceConfirmDeferred (the run keeps its own)
//!        │ our Job Failed ─▶ Failed, confirmTokenUsed = the Job's confirm, RestoreInPlaceFailed
//!        ▼ our Job Complete ─▶ RestoreInPlaceLoaded
//!   Resuming ─▶ Succeeded, RestoreInPlaceSucceeded; (full instance) status.pendingReclones = every other site
//!        ▼
//!   Succeeded with pendingReclones (also once spec.restoreInPlace is removed, until none is left):
//!        reclone annotation absent ─▶ set it to `<first>:confirm=<group>`, RestoreInPlaceRecloneScheduled, drop
//!                                     <first> from the list (the annotation patch failed ─▶ Warning
//!                                     RestoreInPlaceRecloneAnnotationFailed, the list kept, tried again)
//!        present, naming <first> ─▶ drop <first> (scheduled; its status write was lost)
//!        present, another value ─▶ wait: the previous reclone (or an admin's) runs; the runner removes the
//!                                  annotation when it is done
//! ```
//!
//! The annotation holds one `<site>:confirm=<group>` (the Go grammar, which the Go operator also reads), so the
//! other sites are recloned one after another; the Go operator recloned only the first one.
//!
//! While Preflight, Fencing, Restoring or Resuming (or the spec is set and not looked at yet) the topology is
//! frozen ([`in_flight`]), for both scopes as in Go; a full-instance restore in Fencing, Restoring or Resuming also
//! labels the target's pods `role=fenced`, so the `-primary` Service has no endpoint ([`fenced_site`]). A
//! per-schema restore (`scope: schema:<name>`, one `loadOptions.includeSchemas` entry) leaves the primary serving
//! (the other schemas' clients keep writing; the application keeps its own clients off the restored schema),
//! goes through Fencing without waiting, drops and loads only that schema, binlogged, so the replicas receive it,
//! and schedules no reclone. A terminal run waits for a strictly later confirm; a failed run is never retried on
//! the same confirm.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde_json::Value;

use bloodraven_api::failovergroup::MysqlFailoverGroup;
use bloodraven_api::failovergroup::restore::RestoreInPlaceSpec;
use bloodraven_api::failovergroup::status::{
    RestoreDetails, RestoreInPlacePhase, RestoreInPlaceStatus, SiteState,
};
use bloodraven_api::names::{annotation, event};

use crate::controller::backup::build::{Failure, JobOutcome, env_var};
use crate::controller::restore::build::{self, Inputs, Rendered, Request};
use crate::jobs::env;

/// `restore_kind` of the restore metrics for `restoreInPlace`.
pub const KIND_IN_PLACE: &str = "in_place";
/// How soon the next phase is looked at.
const NEXT: Duration = Duration::from_secs(2);
/// How soon a wait (a site not writable yet, a running Job) is looked at again.
const WAIT: Duration = Duration::from_secs(10);

/// The in-place restore Job's name: `mysql-<group>-<site>-inplace-restore`, shortened to 63 characters.
pub fn job_name(group: &str, site: &str) -> String {
    let mut name = format!("mysql-{group}-{site}-inplace-restore");
    name.truncate(63);
    name.trim_end_matches('-').to_owned()
}

/// Whether the topology is frozen: `spec.restoreInPlace` is set and its run is not terminal (or not looked at
/// yet).
pub fn in_flight(group: &MysqlFailoverGroup) -> bool {
    if group.spec.restore_in_place.is_none() {
        return false;
    }
    match current(group).and_then(|s| s.phase) {
        None => current(group).is_none(),
        Some(p) => matches!(
            p,
            RestoreInPlacePhase::Preflight
                | RestoreInPlacePhase::Fencing
                | RestoreInPlacePhase::Restoring
                | RestoreInPlacePhase::Resuming
        ),
    }
}

/// The site whose pods are labelled `role=fenced`: the target of a full-instance restore in Fencing, Restoring or
/// Resuming.
pub fn fenced_site(group: &MysqlFailoverGroup) -> Option<String> {
    let spec = group.spec.restore_in_place.as_ref()?;
    if scope(spec).1.is_some() {
        return None;
    }
    let cur = current(group)?;
    matches!(
        cur.phase?,
        RestoreInPlacePhase::Fencing
            | RestoreInPlacePhase::Restoring
            | RestoreInPlacePhase::Resuming
    )
    .then(|| cur.details.target_site.clone())
    .flatten()
}

/// `("full", None)` or `("schema:<name>", Some(name))`.
pub fn scope(spec: &RestoreInPlaceSpec) -> (String, Option<String>) {
    match spec
        .load_options
        .as_ref()
        .and_then(|o| o.include_schemas.as_ref())
        .and_then(|s| s.first())
    {
        Some(name) => (format!("schema:{name}"), Some(name.clone())),
        None => ("full".into(), None),
    }
}

/// The spec's problems, as a message for the status, or `Ok`.
pub fn validate(spec: &RestoreInPlaceSpec) -> Result<(), String> {
    parse_confirm(&spec.confirm)?;
    let schemas = spec
        .load_options
        .as_ref()
        .and_then(|o| o.include_schemas.as_ref())
        .map_or(0, Vec::len);
    if schemas > 1 {
        return Err(format!(
            "restoreInPlace.loadOptions.includeSchemas supports at most one schema (got {schemas}); use a \
             full-instance restore instead"
        ));
    }
    if let Some(name) = scope(spec).1 {
        let lower = name.trim().to_ascii_lowercase();
        let problem = if lower.is_empty() {
            Some("is empty")
        } else if bloodraven_backup::SYSTEM_SCHEMAS.contains(&lower.as_str()) {
            Some("is a system schema, which is never restored on its own")
        } else if name.contains(',') {
            Some("contains a comma, which the Job's BLOODRAVEN_DROP_SCHEMAS list cannot carry")
        } else {
            None
        };
        if let Some(problem) = problem {
            return Err(format!(
                "restoreInPlace.loadOptions.includeSchemas[0] {name:?} {problem}: name the user schema to restore"
            ));
        }
    }
    if schemas == 1 && spec.point_in_time.is_some() {
        return Err(
            "spec.restoreInPlace.pointInTime cannot be combined with a per-schema restore \
             (loadOptions.includeSchemas): the archived binlog transactions carry GTIDs the primary has already \
             executed, so a replay filtered to one schema would be skipped or refused as out of order; remove \
             pointInTime (restore the schema from a dump taken closer to the wanted time), or remove \
             includeSchemas for a full-instance restore with point-in-time replay"
                .into(),
        );
    }
    let src = &spec.source;
    let set = [
        src.mysql_backup_ref.is_some(),
        src.s3.is_some(),
        src.pvc.is_some(),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    if set != 1 {
        return Err(format!(
            "restoreInPlace.source must set exactly one of mysqlBackupRef, s3, pvc (got {set})"
        ));
    }
    Ok(())
}

fn parse_confirm(confirm: &str) -> Result<k8s_openapi::jiff::Timestamp, String> {
    let c = confirm.trim();
    if c.is_empty() {
        return Err("spec.restoreInPlace.confirm is required".into());
    }
    c.parse::<k8s_openapi::jiff::Timestamp>().map_err(|e| {
        format!(
            "spec.restoreInPlace.confirm must be an RFC 3339 timestamp (e.g. \"2026-01-02T15:04:05Z\"): {c:?}: {e}"
        )
    })
}

/// Whether `confirm` is strictly later than `used` (an empty or unreadable `used` never blocks).
pub fn confirm_advances(confirm: &str, used: Option<&str>) -> Result<bool, String> {
    let c = parse_confirm(confirm)?;
    match used.filter(|u| !u.is_empty()) {
        None => Ok(true),
        Some(u) => Ok(u
            .parse::<k8s_openapi::jiff::Timestamp>()
            .map_or(true, |u| c > u)),
    }
}

/// The Job under the fixed name, as far as the state machine cares.
#[derive(Clone, Debug, PartialEq)]
pub struct JobView {
    /// Its name.
    pub name: String,
    /// Its `bloodraven.shipstream.io/restore-confirm` annotation.
    pub confirm: Option<String>,
    /// How it went.
    pub outcome: JobOutcome,
    /// Being deleted already.
    pub deleting: bool,
    /// Its pods' termination messages (read once it ended).
    pub messages: String,
    /// The Job's own failure message (condition `Failed`), if any.
    pub failure: Option<String>,
}

/// What the state machine looks at.
#[derive(Clone, Debug)]
pub struct Observation<'a> {
    /// The group (spec and status).
    pub group: &'a MysqlFailoverGroup,
    /// The Job `mysql-<group>-<target>-inplace-restore`, when a target is known and the Job exists.
    pub job: Option<JobView>,
    /// No pod of the target site is labelled `role=primary` (also true without pods, as with servers outside the
    /// cluster: there is no endpoint to shed).
    pub primary_fenced: bool,
    /// The source's metadata (from the MysqlBackup of `source.mysqlBackupRef`).
    pub source: RestoreDetails,
    /// Now.
    pub now: Time,
}

/// An event to publish on the group.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Note {
    /// Warning, else Normal.
    pub warning: bool,
    /// The reason (`names::event`).
    pub reason: &'static str,
    /// The message.
    pub message: String,
}

/// What to do to the Job.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum JobAction {
    /// Render and create it for `spec.restoreInPlace.confirm`; on a render failure the run ends Failed
    /// (`RestoreInPlaceBuildFailed`, [`build_failed`]).
    Create,
    /// Delete the stale Job of another request.
    DeleteStale(String),
    /// Nothing.
    None,
}

/// One reconcile's decision.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    /// The new `status.restoreInPlace` (`Some(None)`: remove it; `None`: leave it).
    pub status: Option<Option<RestoreInPlaceStatus>>,
    /// The Job action.
    pub job: JobAction,
    /// The site to give the reclone annotation (`<site>:confirm=<group>`) before `status` is written; when the
    /// annotation cannot be written, `status` is not written either (the site stays pending).
    pub reclone: Option<String>,
    /// Events.
    pub events: Vec<Note>,
    /// Record the restore metrics (`restore_kind="in_place"`) for the load that just completed.
    pub loaded: bool,
    /// This run's Job just ended: record its `BLOODRAVEN_ENCRYPT_METRICS` lines.
    pub job_ended: bool,
    /// When to look again (`None`: on the next change).
    pub requeue: Option<Duration>,
}

impl Decision {
    fn idle() -> Decision {
        Decision {
            status: None,
            job: JobAction::None,
            reclone: None,
            events: Vec::new(),
            loaded: false,
            job_ended: false,
            requeue: None,
        }
    }

    fn set(status: RestoreInPlaceStatus, requeue: Option<Duration>) -> Decision {
        Decision {
            status: Some(Some(status)),
            requeue,
            ..Decision::idle()
        }
    }

    fn note(mut self, warning: bool, reason: &'static str, message: String) -> Decision {
        self.events.push(Note {
            warning,
            reason,
            message,
        });
        self
    }
}

fn current(group: &MysqlFailoverGroup) -> Option<&RestoreInPlaceStatus> {
    group
        .status
        .as_ref()
        .and_then(|s| s.restore_in_place.as_ref())
}

/// The status of a run that ended Failed: `confirm_used` is the confirm it executed under, empty for a pure
/// validation rejection (nothing ran; the same confirm may run once the spec is fixed).
pub fn failed(
    cur: Option<&RestoreInPlaceStatus>,
    target: Option<String>,
    scope: Option<String>,
    confirm_used: Option<String>,
    message: String,
    now: &Time,
) -> RestoreInPlaceStatus {
    let details = cur.map(|c| c.details.clone()).unwrap_or_default();
    RestoreInPlaceStatus {
        phase: Some(RestoreInPlacePhase::Failed),
        scope,
        confirm_token_used: confirm_used.filter(|c| !c.is_empty()),
        pending_reclones: None,
        details: RestoreDetails {
            target_site: target,
            start_time: details.start_time.clone().or_else(|| Some(now.clone())),
            completion_time: Some(now.clone()),
            message: Some(message),
            ..details
        },
    }
}

/// The run's status after its Job could not be rendered or its Secrets are missing: Failed for `confirm`,
/// `RestoreInPlaceBuildFailed`.
pub fn build_failed(
    group: &MysqlFailoverGroup,
    message: String,
    now: &Time,
) -> (RestoreInPlaceStatus, Note) {
    let cur = current(group);
    let confirm = group
        .spec
        .restore_in_place
        .as_ref()
        .map(|s| s.confirm.clone());
    let status = failed(
        cur,
        cur.and_then(|c| c.details.target_site.clone()),
        cur.and_then(|c| c.scope.clone()),
        confirm,
        message.clone(),
        now,
    );
    (
        status,
        Note {
            warning: false,
            reason: event::RESTORE_IN_PLACE_BUILD_FAILED,
            message,
        },
    )
}

/// The next step of `spec.restoreInPlace`.
pub fn decide(o: &Observation<'_>) -> Decision {
    let group = o.group;
    let Some(spec) = group.spec.restore_in_place.as_ref() else {
        // The spec is gone: the other sites still get their reclone; then the status goes.
        if let Some(d) = current(group).and_then(|c| reclone_next(group, c)) {
            return d;
        }
        return match current(group) {
            Some(_) => Decision {
                status: Some(None),
                ..Decision::idle()
            },
            None => Decision::idle(),
        };
    };
    let mut cur =
        current(group).filter(|c| c.phase.is_some_and(|p| p != RestoreInPlacePhase::None));
    if let Some(c) = cur
        && matches!(
            c.phase,
            Some(RestoreInPlacePhase::Succeeded | RestoreInPlacePhase::Failed)
        )
    {
        match confirm_advances(&spec.confirm, c.confirm_token_used.as_deref()) {
            Err(e) => {
                // The new confirm cannot arm a run; the last outcome (and its reclones) stays.
                return reclone_next(group, c).unwrap_or_else(Decision::idle).note(
                    true,
                    event::RESTORE_IN_PLACE_REJECTED,
                    format!("invalid spec.restoreInPlace.confirm: {e}"),
                );
            }
            Ok(false) => return reclone_next(group, c).unwrap_or_else(Decision::idle),
            // A new run; it reclones every other site again when it succeeds.
            Ok(true) => cur = None,
        }
    }
    let (scope_text, schema) = scope(spec);
    let Some(cur) = cur else {
        if let Err(e) = validate(spec) {
            let status = failed(None, None, Some(scope_text), None, e.clone(), &o.now);
            return Decision::set(status, None).note(true, event::RESTORE_IN_PLACE_REJECTED, e);
        }
        let status = RestoreInPlaceStatus {
            phase: Some(RestoreInPlacePhase::Preflight),
            scope: Some(scope_text.clone()),
            confirm_token_used: None,
            pending_reclones: None,
            details: RestoreDetails {
                start_time: Some(o.now.clone()),
                message: Some("validating preconditions".into()),
                ..o.source.clone()
            },
        };
        return Decision::set(status, Some(NEXT)).note(
            false,
            event::RESTORE_IN_PLACE_STARTED,
            format!(
                "starting in-place restore (scope={scope_text}, confirm={})",
                spec.confirm
            ),
        );
    };
    let with = |phase: RestoreInPlacePhase, target: Option<String>, message: String| {
        let mut next = cur.clone();
        next.phase = Some(phase);
        next.details.target_site = target;
        next.details.message = Some(message);
        next
    };
    let full = schema.is_none();
    match cur.phase.unwrap_or_default() {
        RestoreInPlacePhase::Preflight => {
            let status = group.status.as_ref();
            let Some(active) = status
                .and_then(|s| s.active_site.clone())
                .filter(|a| !a.is_empty())
            else {
                let next = with(
                    RestoreInPlacePhase::Preflight,
                    None,
                    "waiting for status.activeSite to be populated".into(),
                );
                return unless_same(cur, next, WAIT);
            };
            let state = status
                .and_then(|s| s.sites.as_ref())
                .and_then(|s| s.iter().find(|s| s.name.as_deref() == Some(&active)))
                .and_then(|s| s.state);
            if state != Some(SiteState::Writable) {
                let observed = state.map_or("<unknown>".to_owned(), |s| {
                    serde_json::to_value(s)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default()
                });
                let next = with(
                    RestoreInPlacePhase::Preflight,
                    Some(active.clone()),
                    format!(
                        "waiting for active site {active:?} to be writable (observed: {observed})"
                    ),
                );
                return unless_same(cur, next, WAIT);
            }
            if let Err(e) = validate(spec) {
                let status = failed(
                    Some(cur),
                    Some(active),
                    cur.scope.clone(),
                    None,
                    e.clone(),
                    &o.now,
                );
                return Decision::set(status, None).note(true, event::RESTORE_IN_PLACE_REJECTED, e);
            }
            let next = with(
                RestoreInPlacePhase::Fencing,
                Some(active),
                "applying pre-restore fence".into(),
            );
            Decision::set(next, Some(NEXT))
        }
        RestoreInPlacePhase::Fencing => {
            if full && !o.primary_fenced {
                return Decision {
                    requeue: Some(NEXT),
                    ..Decision::idle()
                };
            }
            let next = with(
                RestoreInPlacePhase::Restoring,
                cur.details.target_site.clone(),
                "creating restore Job".into(),
            );
            Decision::set(next, Some(NEXT))
        }
        RestoreInPlacePhase::Restoring => restoring(o, spec, cur),
        RestoreInPlacePhase::Resuming => {
            let target = cur.details.target_site.clone().unwrap_or_default();
            // Every other site's data is now wrong: each is recloned from the target, one after another.
            let others: Vec<String> = if full {
                group
                    .spec
                    .sites
                    .iter()
                    .map(|s| s.name.clone())
                    .filter(|s| *s != target)
                    .collect()
            } else {
                Vec::new()
            };
            let mut next = cur.clone();
            next.phase = Some(RestoreInPlacePhase::Succeeded);
            next.confirm_token_used = cur
                .confirm_token_used
                .clone()
                .or_else(|| Some(spec.confirm.clone()));
            next.details.completion_time = Some(o.now.clone());
            next.details.message = Some(if others.is_empty() {
                "in-place restore complete".into()
            } else {
                format!(
                    "in-place restore complete; recloning {} from {target}, one site at a time",
                    others.join(", ")
                )
            });
            let requeue = (!others.is_empty()).then_some(NEXT);
            next.pending_reclones = (!others.is_empty()).then_some(others);
            Decision::set(next, requeue).note(
                false,
                event::RESTORE_IN_PLACE_SUCCEEDED,
                format!(
                    "in-place restore complete (scope={}, site={target})",
                    cur.scope.as_deref().unwrap_or("full")
                ),
            )
        }
        // Unknown (a newer operator's) phase: start over.
        _ => Decision {
            status: Some(None),
            requeue: Some(NEXT),
            ..Decision::idle()
        },
    }
}

/// The next reclone of a Succeeded run with `status.pendingReclones` (`None` when there is none): see the module
/// docs.
fn reclone_next(group: &MysqlFailoverGroup, cur: &RestoreInPlaceStatus) -> Option<Decision> {
    if cur.phase != Some(RestoreInPlacePhase::Succeeded) {
        return None;
    }
    let (first, rest) = cur.pending_reclones.as_deref()?.split_first()?;
    let mut next = cur.clone();
    next.pending_reclones = Some(rest.to_vec()).filter(|r| !r.is_empty());
    let requested = group
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(annotation::RECLONE_SITE));
    let name = group.metadata.name.as_deref().unwrap_or_default();
    Some(match requested {
        None => Decision {
            reclone: Some(first.clone()),
            ..Decision::set(next, Some(WAIT))
        },
        Some(v) if *v == reclone_value(name, first) => Decision::set(next, Some(WAIT)),
        Some(_) => Decision {
            requeue: Some(WAIT),
            ..Decision::idle()
        },
    })
}

/// Writes `next` unless it is what is there; looks again after `wait`.
fn unless_same(cur: &RestoreInPlaceStatus, next: RestoreInPlaceStatus, wait: Duration) -> Decision {
    if *cur == next {
        Decision {
            requeue: Some(wait),
            ..Decision::idle()
        }
    } else {
        Decision::set(next, Some(wait))
    }
}

fn restoring(
    o: &Observation<'_>,
    spec: &RestoreInPlaceSpec,
    cur: &RestoreInPlaceStatus,
) -> Decision {
    let Some(job) = &o.job else {
        return Decision {
            job: JobAction::Create,
            requeue: Some(WAIT),
            ..Decision::idle()
        };
    };
    let ours_by_confirm = job.confirm.as_deref() == Some(spec.confirm.as_str());
    let ours_by_status = cur.details.job_name.as_deref() == Some(job.name.as_str());
    let accepted_confirm = job
        .confirm
        .clone()
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| spec.confirm.clone());
    if !(ours_by_confirm || ours_by_status) {
        if job.outcome == JobOutcome::Running {
            return Decision {
                requeue: Some(WAIT),
                ..Decision::idle()
            }
            .note(
                true,
                event::RESTORE_IN_PLACE_JOB_BUSY,
                format!(
                    "in-place restore Job {} from an earlier request is still running; waiting for it to finish \
                     before starting confirm={}",
                    job.name, spec.confirm
                ),
            );
        }
        if job.deleting {
            return Decision {
                requeue: Some(NEXT),
                ..Decision::idle()
            };
        }
        return Decision {
            job: JobAction::DeleteStale(job.name.clone()),
            requeue: Some(NEXT),
            ..Decision::idle()
        }
        .note(
            false,
            event::RESTORE_IN_PLACE_STALE_JOB_REMOVED,
            format!(
                "removed stale in-place restore Job {} from a prior request before starting confirm={}",
                job.name, spec.confirm
            ),
        );
    }
    let target = cur.details.target_site.clone();
    match job.outcome {
        JobOutcome::Running => {
            let mut d = Decision {
                requeue: Some(WAIT),
                ..Decision::idle()
            };
            let mut next = cur.clone();
            next.details.job_name = Some(job.name.clone());
            if accepted_confirm != spec.confirm {
                let message = format!(
                    "in-flight restore Job {} is running under confirm={accepted_confirm}; confirm={} starts a new \
                     run once it finishes",
                    job.name, spec.confirm
                );
                if cur.details.message.as_deref() != Some(message.as_str()) {
                    next.details.message = Some(message);
                    d = d.note(
                        true,
                        event::RESTORE_IN_PLACE_CONFIRM_DEFERRED,
                        format!(
                            "spec.restoreInPlace.confirm={} cannot start while the in-flight restore Job {} \
                             (confirm={accepted_confirm}) is running; it will start once the running restore \
                             finishes",
                            spec.confirm, job.name
                        ),
                    );
                }
            }
            if next != *cur {
                d.status = Some(Some(next));
            }
            d
        }
        JobOutcome::Complete => {
            let mut next = cur.clone();
            next.phase = Some(RestoreInPlacePhase::Resuming);
            next.confirm_token_used = Some(accepted_confirm);
            next.details.job_name = Some(job.name.clone());
            next.details.message = Some("load complete; lifting fence".into());
            if let Some(fields) = build::parse_restore_complete(&job.messages) {
                let done = build::completed_details(&next.details, &fields);
                next.details = RestoreDetails {
                    job_name: next.details.job_name.clone(),
                    target_site: target,
                    start_time: next.details.start_time.clone(),
                    message: next.details.message.clone(),
                    ..done
                };
            }
            Decision {
                loaded: true,
                job_ended: true,
                ..Decision::set(next, Some(NEXT))
            }
            .note(
                false,
                event::RESTORE_IN_PLACE_LOADED,
                format!("in-place restore Job {} completed", job.name),
            )
        }
        JobOutcome::Failed => {
            let why = job
                .messages
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .map(str::to_owned)
                .or_else(|| job.failure.clone())
                .unwrap_or_else(|| "no message".into());
            let message = format!("in-place restore Job {} failed: {why}", job.name);
            let mut status = failed(
                Some(cur),
                target,
                cur.scope.clone(),
                Some(accepted_confirm),
                format!("{message} (set a later spec.restoreInPlace.confirm to run it again)"),
                &o.now,
            );
            status.details.job_name = Some(job.name.clone());
            Decision {
                job_ended: true,
                ..Decision::set(status, None)
            }
            .note(true, event::RESTORE_IN_PLACE_FAILED, message)
        }
    }
}

/// The in-place restore Job: the restore Job of `spec.restoreInPlace` ([`build::render`]) under
/// `mysql-<group>-<site>-inplace-restore`, annotated with the confirm it runs for. A full-instance restore empties
/// the target first (`BLOODRAVEN_DROP_ALL_USER_SCHEMAS=1`, `BLOODRAVEN_RESET_REPLICATION=1`); a per-schema one
/// names the schema (`BLOODRAVEN_DROP_SCHEMAS=<schema>`, as Go) and its load options say `skipBinlog: false`
/// (the load is binlogged whatever the spec says, so that the replicas receive it). `RestoreInPlaceBuildFailed`
/// with the field at fault when it cannot be rendered.
pub fn job(i: &Inputs<'_>) -> Result<Rendered, Failure> {
    let group = i.group.metadata.name.as_deref().unwrap_or_default();
    let relabel = |f: Failure| Failure {
        reason: event::RESTORE_IN_PLACE_BUILD_FAILED,
        message: f.message,
    };
    let spec = i
        .group
        .spec
        .restore_in_place
        .as_ref()
        .ok_or_else(|| Failure {
            reason: event::RESTORE_IN_PLACE_BUILD_FAILED,
            message: "spec.restoreInPlace is not set".into(),
        })?;
    validate(spec).map_err(|message| Failure {
        reason: event::RESTORE_IN_PLACE_BUILD_FAILED,
        message,
    })?;
    let (_, schema) = scope(spec);
    let mut load_options = spec.load_options.clone();
    let extra_env: Vec<Value> = match &schema {
        None => vec![
            env_var(env::DROP_ALL_USER_SCHEMAS, "1"),
            env_var(env::RESET_REPLICATION, "1"),
        ],
        Some(schema) => {
            if let Some(o) = load_options.as_mut() {
                o.skip_binlog = Some(false);
            }
            vec![env_var(env::DROP_SCHEMAS, schema)]
        }
    };
    let mut annotations = BTreeMap::new();
    annotations.insert(annotation::RESTORE_CONFIRM.to_owned(), spec.confirm.clone());
    let mut rendered = build::render(
        i,
        &Request {
            field: "spec.restoreInPlace",
            source: &spec.source,
            load_options: load_options.as_ref(),
            point_in_time: spec.point_in_time.as_ref(),
            decryption: spec.decryption.as_ref(),
            job_name: job_name(group, i.site),
            extra_env,
            annotations,
        },
    )
    .map_err(relabel)?;
    // The labels say which restore it is.
    if let Some(labels) = rendered.job.metadata.labels.as_mut() {
        labels.insert(
            bloodraven_api::names::label::RESOURCE.to_owned(),
            "inplace-restore".to_owned(),
        );
    }
    if let Some(labels) = rendered
        .job
        .spec
        .as_mut()
        .and_then(|s| s.template.metadata.as_mut())
        .and_then(|m| m.labels.as_mut())
    {
        labels.insert(
            bloodraven_api::names::label::RESOURCE.to_owned(),
            "inplace-restore".to_owned(),
        );
    }
    Ok(rendered)
}

/// The reclone annotation's value for `site` (the form with the group's name as confirmation).
pub fn reclone_value(group: &str, site: &str) -> String {
    format!("{site}:confirm={group}")
}

#[cfg(test)]
mod tests;
