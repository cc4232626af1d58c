//! The pure half of the read commands: what `status` shows of a group (a [`GroupView`] built from the group, its
//! durable record and its newest backup and verification) and how each output format renders it.

use std::fmt::Write as _;

use bloodraven_api::backup::MysqlBackup;
use bloodraven_api::failovergroup::MysqlFailoverGroup;
use bloodraven_api::failovergroup::status::{PlannedFailoverStatus, RecoveryState, SiteState};
use bloodraven_api::names::{annotation, condition};
use bloodraven_api::verification::MysqlBackupVerification;
use bloodraven_operator::record::{Record, format_rfc3339};
use kube::ResourceExt;
use serde::Serialize;

/// What `status GROUP` shows (also its JSON and YAML form).
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GroupView {
    pub(crate) name: String,
    pub(crate) namespace: String,
    pub(crate) active_site: Option<String>,
    pub(crate) ready: Option<String>,
    pub(crate) sites: Vec<SiteView>,
    pub(crate) planned_failover: Option<PlannedView>,
    pub(crate) last_failover: Option<LastFailoverView>,
    pub(crate) last_backup: Option<RunView>,
    pub(crate) last_verification: Option<RunView>,
}

/// One site's row.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SiteView {
    pub(crate) name: String,
    pub(crate) role: String,
    pub(crate) state: String,
    pub(crate) active: bool,
    pub(crate) lag_seconds: Option<i64>,
    pub(crate) replicating: Option<bool>,
    pub(crate) recovery_state: String,
    pub(crate) divergent_gtid: Option<String>,
    pub(crate) divergent_transactions: Option<i64>,
}

/// The planned failover on the status (in flight or the last one).
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PlannedView {
    pub(crate) phase: String,
    pub(crate) in_flight: bool,
    pub(crate) source: Option<String>,
    pub(crate) target: Option<String>,
    pub(crate) reason: Option<String>,
    pub(crate) message: Option<String>,
    pub(crate) transactions_lost: Option<i64>,
}

/// The last failover, from the durable record (or the Go operator's annotations when there is no record).
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LastFailoverView {
    pub(crate) at: String,
    pub(crate) target: String,
    pub(crate) source: &'static str,
    pub(crate) trigger: Option<String>,
    pub(crate) old_primary: Option<String>,
    pub(crate) epoch: Option<u64>,
    pub(crate) failovers_recorded: usize,
}

/// The newest backup or verification of the group.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RunView {
    pub(crate) name: String,
    pub(crate) profile: String,
    pub(crate) phase: String,
    pub(crate) completed: Option<String>,
}

impl GroupView {
    /// Builds the view; `record` is the parsed `record.json` of the group's record ConfigMap, if any.
    pub(crate) fn new(
        group: &MysqlFailoverGroup,
        record: Option<&Record>,
        backups: &[MysqlBackup],
        verifications: &[MysqlBackupVerification],
    ) -> GroupView {
        let status = group.status.clone().unwrap_or_default();
        let active = status.active_site.clone();
        let polled = status.sites.clone().unwrap_or_default();
        let sites = group
            .spec
            .sites
            .iter()
            .map(|spec| {
                let seen = polled
                    .iter()
                    .find(|s| s.name.as_deref() == Some(spec.name.as_str()));
                SiteView {
                    name: spec.name.clone(),
                    role: enum_text(&spec.role_or_default()),
                    state: enum_text(&seen.and_then(|s| s.state).unwrap_or(SiteState::Unknown)),
                    active: active.as_deref() == Some(spec.name.as_str()),
                    lag_seconds: seen.and_then(|s| s.seconds_behind_source),
                    replicating: seen.and_then(|s| s.replicating),
                    recovery_state: enum_text(
                        &seen
                            .and_then(|s| s.recovery_state)
                            .unwrap_or(RecoveryState::None),
                    ),
                    divergent_gtid: seen
                        .and_then(|s| s.divergent_gtid.clone())
                        .filter(|g| !g.is_empty()),
                    divergent_transactions: seen.and_then(|s| s.divergent_transaction_count),
                }
            })
            .collect();
        let ready = status
            .conditions
            .iter()
            .flatten()
            .find(|c| c.type_ == condition::READY)
            .map(|c| match (c.status.as_str(), c.message.as_str()) {
                ("True", _) => c.status.clone(),
                (status, "") => format!("{status} ({})", c.reason),
                (status, message) => format!("{status}: {message}"),
            });
        GroupView {
            name: group.name_any(),
            namespace: group.namespace().unwrap_or_default(),
            active_site: active,
            ready,
            sites,
            planned_failover: status.planned_failover.as_ref().and_then(planned),
            last_failover: last_failover(group, record),
            last_backup: newest(
                backups.iter().map(|b| {
                    let status = b.status.clone().unwrap_or_default();
                    RunView {
                        name: b.name_any(),
                        profile: b.spec.profile_name.clone(),
                        phase: enum_text(&status.phase.unwrap_or_default()),
                        completed: status.completion_time.map(|t| t.0.to_string()),
                    }
                }),
                backups.iter().map(|b| b.creation_timestamp()),
            ),
            last_verification: newest(
                verifications.iter().map(|v| {
                    let status = v.status.clone().unwrap_or_default();
                    RunView {
                        name: v.name_any(),
                        profile: v.spec.profile_name.clone(),
                        phase: enum_text(&status.phase.unwrap_or_default()),
                        completed: status.completion_time.map(|t| t.0.to_string()),
                    }
                }),
                verifications.iter().map(|v| v.creation_timestamp()),
            ),
        }
    }

    /// The human-readable form.
    pub(crate) fn table(&self) -> String {
        let mut out = String::new();
        let dash = || "-".to_owned();
        let _ = writeln!(out, "Group:          {}/{}", self.namespace, self.name);
        let _ = writeln!(
            out,
            "Active site:    {}",
            self.active_site.clone().unwrap_or_else(|| "none".into())
        );
        let _ = writeln!(
            out,
            "Ready:          {}",
            self.ready.clone().unwrap_or_else(dash)
        );
        let planned = match &self.planned_failover {
            None => "none".to_owned(),
            Some(p) => {
                let mut line = format!(
                    "{} {} -> {}",
                    p.phase,
                    p.source.as_deref().unwrap_or("?"),
                    p.target.as_deref().unwrap_or("?")
                );
                if p.in_flight {
                    line.push_str(" (in flight)");
                }
                if let Some(reason) = &p.reason {
                    let _ = write!(line, ", reason {reason}");
                }
                if let Some(lost) = p.transactions_lost {
                    let _ = write!(line, ", {lost} transactions lost");
                }
                line
            }
        };
        let _ = writeln!(out, "Planned:        {planned}");
        let last = match &self.last_failover {
            None => "never".to_owned(),
            Some(l) => {
                let mut line = format!("{} to {}", l.at, l.target);
                if let Some(trigger) = &l.trigger {
                    let _ = write!(line, " ({trigger}");
                    if let Some(old) = &l.old_primary {
                        let _ = write!(line, " from {old}");
                    }
                    line.push(')');
                }
                let _ = write!(line, " [{}]", l.source);
                line
            }
        };
        let _ = writeln!(out, "Last failover:  {last}");
        let run = |r: &Option<RunView>| match r {
            None => "none".to_owned(),
            Some(r) => format!(
                "{} ({}) {}{}",
                r.name,
                r.profile,
                r.phase,
                r.completed
                    .as_ref()
                    .map(|c| format!(" at {c}"))
                    .unwrap_or_default()
            ),
        };
        let _ = writeln!(out, "Last backup:    {}", run(&self.last_backup));
        let _ = writeln!(out, "Last verified:  {}", run(&self.last_verification));
        out.push('\n');
        let rows: Vec<Vec<String>> = self
            .sites
            .iter()
            .map(|s| {
                vec![
                    format!("{}{}", s.name, if s.active { "*" } else { "" }),
                    s.role.clone(),
                    s.state.clone(),
                    s.lag_seconds.map_or_else(dash, |l| format!("{l}s")),
                    s.replicating
                        .map_or_else(dash, |r| if r { "yes" } else { "no" }.into()),
                    if s.recovery_state.is_empty() {
                        dash()
                    } else {
                        s.recovery_state.clone()
                    },
                    match (&s.divergent_gtid, s.divergent_transactions) {
                        (Some(g), Some(n)) => format!("{g} ({n})"),
                        (Some(g), None) => g.clone(),
                        _ => dash(),
                    },
                ]
            })
            .collect();
        out.push_str(&columns(
            &[
                "SITE",
                "ROLE",
                "STATE",
                "LAG",
                "REPLICATING",
                "RECOVERY",
                "DIVERGENT",
            ],
            &rows,
        ));
        out
    }
}

/// One line per group for `status` without a group.
pub(crate) fn list_table(groups: &[GroupView]) -> String {
    let rows: Vec<Vec<String>> = groups
        .iter()
        .map(|g| {
            let up = g.sites.iter().filter(|s| s.state != "unreachable").count();
            vec![
                g.name.clone(),
                g.active_site.clone().unwrap_or_else(|| "-".into()),
                format!("{up}/{}", g.sites.len()),
                g.ready.clone().unwrap_or_else(|| "-".into()),
                g.planned_failover
                    .as_ref()
                    .filter(|p| p.in_flight)
                    .map_or_else(|| "-".into(), |p| p.phase.clone()),
                g.last_failover
                    .as_ref()
                    .map_or_else(|| "never".into(), |l| format!("{} to {}", l.at, l.target)),
            ]
        })
        .collect();
    columns(
        &[
            "GROUP",
            "ACTIVE",
            "SITES UP",
            "READY",
            "PLANNED",
            "LAST FAILOVER",
        ],
        &rows,
    )
}

/// Left-aligned columns separated by three spaces (kubectl's `get` layout).
pub(crate) fn columns(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let mut text = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                text.push_str(cell);
            } else {
                let _ = write!(text, "{cell:<w$}   ");
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
    out
}

fn planned(p: &PlannedFailoverStatus) -> Option<PlannedView> {
    let phase = p.phase?;
    let text = enum_text(&phase);
    if text.is_empty() {
        return None;
    }
    Some(PlannedView {
        phase: text,
        in_flight: crate::request::in_flight(phase),
        source: p.source_primary.clone(),
        target: p.target.clone(),
        reason: p.reason.clone().filter(|r| !r.is_empty()),
        message: p.message.clone().filter(|m| !m.is_empty()),
        transactions_lost: p.transactions_lost,
    })
}

fn last_failover(group: &MysqlFailoverGroup, record: Option<&Record>) -> Option<LastFailoverView> {
    if let Some(r) = record
        && let (Some(at), Some(target)) = (r.last_failover, r.last_failover_target.as_ref())
    {
        let entry = r.history.iter().rev().find(|h| h.at == at);
        return Some(LastFailoverView {
            at: format_rfc3339(at),
            target: target.clone(),
            source: "record",
            trigger: entry.map(|h| h.trigger.to_string()),
            old_primary: entry.and_then(|h| h.old_primary.clone()),
            epoch: Some(r.epoch),
            failovers_recorded: r.history.len(),
        });
    }
    let notes = group.annotations();
    match (
        notes.get(annotation::LAST_FAILOVER),
        notes.get(annotation::LAST_FAILOVER_TARGET),
    ) {
        (Some(at), Some(target)) => Some(LastFailoverView {
            at: at.clone(),
            target: target.clone(),
            source: "annotation",
            ..LastFailoverView::default()
        }),
        _ => None,
    }
}

fn newest<T>(
    runs: impl Iterator<Item = T>,
    created: impl Iterator<Item = Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>>,
) -> Option<T> {
    runs.zip(created)
        .max_by_key(|(_, c)| c.as_ref().map(|t| t.0))
        .map(|(r, _)| r)
}

/// The JSON text of a serialized enum (`read-only`, `RecoveryBlocked`, `""`).
fn enum_text<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use bloodraven_operator::record::{FailoverRecord, Trigger};
    use serde_json::json;

    use super::*;

    fn group() -> MysqlFailoverGroup {
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
                    { "name": "fra", "zone": "c", "role": "read-only", "storage": storage },
                ],
            },
            "status": {
                "activeSite": "pdx",
                "conditions": [{ "type": "Ready", "status": "True", "reason": "Healthy", "message": "",
                                 "lastTransitionTime": "2026-12-07T10:00:00Z" }],
                "sites": [
                    { "name": "iad", "state": "read-only", "replicating": false, "recoveryState": "RecoveryBlocked",
                      "divergentGtid": "a1b2c3d4-0000-0000-0000-000000000000:11-15", "divergentTransactionCount": 5 },
                    { "name": "pdx", "state": "writable" },
                    { "name": "fra", "state": "read-only", "replicating": true, "secondsBehindSource": 3 },
                ],
                "plannedFailover": { "phase": "WaitingForLag", "target": "iad", "sourcePrimary": "pdx" },
            },
        }))
        .unwrap()
    }

    fn record() -> Record {
        let mut record = Record::default();
        record.record_failover(FailoverRecord {
            at: Duration::from_secs(1_796_630_400),
            trigger: Trigger::Emergency,
            target: "pdx".into(),
            old_primary: Some("iad".into()),
            candidates: vec![],
            rule: "most-advanced".into(),
            promotion_gtid: "a1b2c3d4-0000-0000-0000-000000000000:1-10".into(),
            write_unavailability: None,
            divergent_gtid: None,
            divergent_count: 0,
        });
        record
    }

    #[test]
    fn status_shows_sites_planned_failover_and_the_recorded_failover() {
        let view = GroupView::new(&group(), Some(&record()), &[], &[]);
        insta::assert_snapshot!(view.table());
        insta::assert_json_snapshot!(view);
        insta::assert_snapshot!(list_table(&[view]));
    }

    #[test]
    fn without_a_record_the_go_annotations_give_the_last_failover() {
        let mut g = group();
        g.metadata.annotations = Some(
            [
                (
                    annotation::LAST_FAILOVER.to_owned(),
                    "2026-12-01T08:00:00Z".to_owned(),
                ),
                (
                    annotation::LAST_FAILOVER_TARGET.to_owned(),
                    "pdx".to_owned(),
                ),
            ]
            .into(),
        );
        let view = GroupView::new(&g, None, &[], &[]);
        let last = view.last_failover.unwrap();
        assert_eq!(
            (last.at.as_str(), last.target.as_str(), last.source),
            ("2026-12-01T08:00:00Z", "pdx", "annotation")
        );
        assert!(
            GroupView::new(&group(), None, &[], &[])
                .last_failover
                .is_none()
        );
    }
}
