//! The engine's [`Status`] as the `status` of a `MysqlFailoverGroup`, in the reference's field names and values: a
//! pure function, so what the operator writes is checked by snapshot rather than by reading it back.

use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::engine::Status;
use crate::record::format_rfc3339;

/// The `status` merge patch for `status` at `now`. Fields the engine no longer reports are written as `null`, so a
/// merge patch clears them; conditions keep their `lastTransitionTime` while their status stays the same
/// (`previous` is the status last written, if any).
pub fn status_patch(status: &Status, previous: Option<&Value>, now: Duration) -> Value {
    let time = |t: Option<Duration>| t.map_or(Value::Null, |t| json!(format_rfc3339(t)));
    let text = |s: &str| if s.is_empty() { Value::Null } else { json!(s) };
    let sites: Vec<Value> = status
        .sites
        .iter()
        .map(|s| {
            let mut site = Map::new();
            site.insert("name".into(), json!(s.name));
            site.insert("state".into(), json!(s.state.to_string()));
            if let Some(t) = s.last_seen {
                site.insert("lastSeen".into(), json!(format_rfc3339(t)));
            }
            if !s.gtid_executed.is_empty() {
                site.insert("gtidExecuted".into(), json!(s.gtid_executed));
            }
            site.insert("replicating".into(), json!(s.replicating));
            if let Some(lag) = s.seconds_behind {
                site.insert("secondsBehindSource".into(), json!(lag));
            }
            for (key, value) in [
                ("recoveryState", &s.recovery_state),
                ("divergentGtid", &s.divergent_gtid),
                ("sourceHost", &s.source_host),
                ("sourceConvergenceState", &s.source_convergence_state),
                ("sourceConvergenceReason", &s.source_convergence_reason),
            ] {
                if !value.is_empty() {
                    site.insert(key.into(), json!(value));
                }
            }
            if s.divergent_count > 0 {
                site.insert("divergentTransactionCount".into(), json!(s.divergent_count));
            }
            Value::Object(site)
        })
        .collect();
    let previous_conditions = previous
        .and_then(|p| p.pointer("/status/conditions"))
        .and_then(Value::as_array);
    let conditions: Vec<Value> = status
        .conditions
        .iter()
        .map(|c| {
            let word = if c.status { "True" } else { "False" };
            let since = previous_conditions
                .and_then(|list| {
                    list.iter()
                        .find(|p| p["type"] == c.type_ && p["status"] == word)
                })
                .and_then(|p| p.get("lastTransitionTime").cloned())
                .unwrap_or_else(|| json!(format_rfc3339(now)));
            json!({
                "type": c.type_,
                "status": word,
                "reason": if c.reason.is_empty() { "Unknown" } else { c.reason.as_str() },
                "message": c.message,
                "lastTransitionTime": since,
            })
        })
        .collect();
    let planned = status.planned.as_ref().map_or(Value::Null, |p| {
        json!({
            "phase": p.phase.to_string(),
            "target": p.target,
            "sourcePrimary": text(&p.source),
            "sourceGtidAtFence": p.source_gtid_at_fence,
            "targetGtidAtPromotion": p.target_gtid_at_promotion,
            "startTime": format_rfc3339(p.start),
            "completionTime": time(p.completion),
            "durationSeconds": p.completion.map(|c| c.saturating_sub(p.start).as_secs()),
            "transactionsLost": p.transactions_lost,
            "reason": text(&p.reason),
            "message": text(&p.message),
        })
    });
    json!({
        "status": {
            "activeSite": status.active_site,
            "sites": sites,
            "conditions": conditions,
            "lastFailover": time(status.last_failover),
            "lastFailoverTarget": status.last_failover_target,
            "promotionGtidExecuted": status.promotion_gtid,
            "plannedFailover": planned,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Config, Engine, Outcome, Role, SiteConfig};
    use crate::record::Record;
    use crate::site::{Flavor, GtidState, Probe, ReplicaStatus};

    const A: &str = "3e11fa47-71ca-11e1-9e33-c80aa9429562";

    fn probe(read_only: bool, source: Option<&str>) -> Option<Probe> {
        Some(Probe {
            read_only,
            super_read_only: Some(read_only),
            server_id: String::new(),
            version: "8.4.3".into(),
            flavor: Flavor::Mysql,
            executed: GtidState::Mysql(format!("{A}:1-10").parse().unwrap()),
            replica: source.map(|h| ReplicaStatus {
                io_running: true,
                sql_running: true,
                source_host: h.into(),
                seconds_behind: Some(0),
                ..Default::default()
            }),
        })
    }

    /// iad dies and pdx is promoted: the status after the promotion, written twice.
    #[test]
    fn the_status_after_a_failover() {
        let config = Config::new(
            "orders",
            vec![
                SiteConfig::new("iad", Role::PrimaryCandidate, "iad.db"),
                SiteConfig::new("pdx", Role::PrimaryCandidate, "pdx.db"),
            ],
        );
        let mut engine = Engine::new(config, Record::default());
        let epoch = Duration::from_secs(1_800_000_000);
        let at = |s: u64| epoch + Duration::from_secs(s);
        for t in [0, 2] {
            engine.step(
                at(t),
                vec![probe(false, None), probe(true, Some("iad.db"))],
                vec![],
            );
        }
        let first = status_patch(&engine.snapshot().status, None, at(2));
        for t in [4, 6, 8] {
            engine.step(at(t), vec![None, probe(true, Some("iad.db"))], vec![]);
        }
        let promoted = Outcome::Promoted {
            target: "pdx".into(),
            result: Ok(format!("{A}:1-10")),
            at: at(9),
        };
        let d = engine.step(at(10), vec![None, probe(false, None)], vec![promoted]);
        let patch = status_patch(&d.status, Some(&first), at(10));
        insta::assert_json_snapshot!(patch);
        // Written again with nothing changed: the same patch, conditions keep their transition times.
        assert_eq!(status_patch(&d.status, Some(&patch), at(30)), patch);
    }
}
