//! The pure half of `dr-status`: what a `MysqlStandbyCluster` shows of its bucket scan and its `Restorable`
//! condition.

use bloodraven_api::names::condition::RESTORABLE;
use bloodraven_api::standby::MysqlStandbyCluster;
use kube::ResourceExt;
use serde::Serialize;

use crate::view::columns;

/// One standby cluster.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StandbyView {
    pub(crate) name: String,
    pub(crate) source_group: String,
    pub(crate) dump: Option<String>,
    pub(crate) dump_completed: Option<String>,
    pub(crate) newest_binlog: Option<String>,
    pub(crate) last_scan: Option<String>,
    pub(crate) restorable: String,
    pub(crate) restorable_reason: Option<String>,
    pub(crate) activation: Option<String>,
}

impl StandbyView {
    pub(crate) fn new(standby: &MysqlStandbyCluster) -> StandbyView {
        let status = standby.status.clone().unwrap_or_default();
        let found = status.discovered.unwrap_or_default();
        let restorable = status
            .conditions
            .iter()
            .flatten()
            .find(|c| c.type_ == RESTORABLE);
        StandbyView {
            name: standby.name_any(),
            source_group: standby.spec.source.failover_group_name.clone(),
            dump: found.dump_name,
            dump_completed: found.dump_completion_time.map(|t| t.0.to_string()),
            newest_binlog: found.newest_archived_binlog_time.map(|t| t.0.to_string()),
            last_scan: found.last_scan_at.map(|t| t.0.to_string()),
            restorable: restorable.map_or_else(|| "Unknown".into(), |c| c.status.clone()),
            restorable_reason: restorable
                .map(|c| c.reason.clone())
                .filter(|r| !r.is_empty()),
            activation: status.activation.and_then(|a| a.phase).and_then(|p| {
                match serde_json::to_value(p) {
                    Ok(serde_json::Value::String(s)) if !s.is_empty() => Some(s),
                    _ => None,
                }
            }),
        }
    }
}

/// The `dr-status` table.
pub(crate) fn table(views: &[StandbyView]) -> String {
    let dash = || "-".to_owned();
    let rows: Vec<Vec<String>> = views
        .iter()
        .map(|v| {
            vec![
                v.name.clone(),
                v.source_group.clone(),
                v.dump.clone().unwrap_or_else(dash),
                v.dump_completed.clone().unwrap_or_else(dash),
                v.newest_binlog.clone().unwrap_or_else(dash),
                match &v.restorable_reason {
                    Some(r) => format!("{} ({r})", v.restorable),
                    None => v.restorable.clone(),
                },
                v.activation.clone().unwrap_or_else(dash),
            ]
        })
        .collect();
    columns(
        &[
            "STANDBY",
            "SOURCE GROUP",
            "DUMP",
            "DUMP COMPLETED",
            "NEWEST BINLOG",
            "RESTORABLE",
            "ACTIVATION",
        ],
        &rows,
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn dr_status_shows_the_scan_and_restorable() {
        let standby: MysqlStandbyCluster = serde_json::from_value(json!({
            "apiVersion": "shipstream.io/v1alpha1",
            "kind": "MysqlStandbyCluster",
            "metadata": { "name": "orders-dr", "namespace": "shop" },
            "spec": {
                "source": { "failoverGroupName": "orders", "profileName": "nightly", "storage": { "type": "S3", "s3": { "bucket": "b", "credentialsSecret": "s3-creds" } } },
                "template": { "name": "orders", "spec": {
                    "credentials": { "operatorSecret": "orders-operator" },
                    "dns": { "hostname": "orders.example.com" },
                    "sites": [
                        { "name": "fra", "zone": "a", "storage": { "storageClassName": "gp3", "size": "10Gi" } },
                        { "name": "ams", "zone": "b", "storage": { "storageClassName": "gp3", "size": "10Gi" } },
                    ],
                } },
            },
            "status": {
                "discovered": {
                    "dumpName": "orders-nightly-20261207-0200",
                    "dumpCompletionTime": "2026-12-07T02:14:00Z",
                    "newestArchivedBinlogTime": "2026-12-07T10:59:30Z",
                    "lastScanAt": "2026-12-07T11:00:00Z",
                },
                "conditions": [{ "type": "Restorable", "status": "True", "reason": "DumpAndBinlogsFound",
                                 "message": "", "lastTransitionTime": "2026-12-07T11:00:00Z" }],
            },
        }))
        .unwrap();
        let view = StandbyView::new(&standby);
        insta::assert_snapshot!(table(std::slice::from_ref(&view)));
        insta::assert_json_snapshot!(view);
    }
}
