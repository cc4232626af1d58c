//! Engine scenario tests: debounce, promotion gates, recovery and planned failover, step by step.

use std::time::Duration;

use super::*;
use crate::site::{Flavor, ReplicaStatus};

const A: &str = "3e11fa47-71ca-11e1-9e33-c80aa9429562";

fn config() -> Config {
    Config::new(
        "g",
        vec![
            SiteConfig::new("iad", Role::PrimaryCandidate, "iad.db"),
            SiteConfig::new("pdx", Role::PrimaryCandidate, "pdx.db"),
        ],
    )
}

fn probe(read_only: bool, gtid: &str, source: Option<&str>) -> Option<Probe> {
    Some(Probe {
        read_only,
        super_read_only: Some(read_only),
        server_id: String::new(),
        version: "8.4.0".into(),
        flavor: Flavor::Mysql,
        executed: GtidState::Mysql(gtid.parse().unwrap()),
        replica: source.map(|h| ReplicaStatus {
            io_running: true,
            sql_running: true,
            source_host: h.into(),
            ..Default::default()
        }),
    })
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn healthy(e: &mut Engine, t: u64) -> Decision {
    e.step(
        secs(t),
        vec![
            probe(false, &format!("{A}:1-10"), None),
            probe(true, &format!("{A}:1-10"), Some("iad.db")),
        ],
        vec![],
    )
}

#[test]
fn writable_needs_recovery_threshold_and_unreachable_needs_failure_threshold() {
    let mut e = Engine::new(config(), Record::default());
    healthy(&mut e, 0);
    assert_eq!(e.states(), vec![SiteState::Unknown, SiteState::ReadOnly]);
    let d = healthy(&mut e, 2);
    assert_eq!(e.states(), vec![SiteState::Writable, SiteState::ReadOnly]);
    assert_eq!(d.status.active_site.as_deref(), Some("iad"));
    let up = probe(true, &format!("{A}:1-10"), Some("iad.db"));
    for t in [4, 6] {
        let d = e.step(secs(t), vec![None, up.clone()], vec![]);
        assert!(
            d.actions
                .iter()
                .all(|a| !matches!(a, Action::Promote { .. }))
        );
        assert_eq!(e.states()[0], SiteState::Writable);
    }
    let d = e.step(secs(8), vec![None, up], vec![]);
    assert_eq!(e.states()[0], SiteState::Unreachable);
    assert!(d.actions.contains(&Action::Promote {
        target: "pdx".into(),
        old_primary: Some("iad".into()),
        planned: false
    }));
}

#[test]
fn promotion_is_recorded_and_cooldown_blocks_the_next() {
    let mut e = Engine::new(config(), Record::default());
    for t in [0, 2] {
        healthy(&mut e, t);
    }
    let up = probe(true, &format!("{A}:1-10"), Some("iad.db"));
    for t in [4, 6, 8] {
        e.step(secs(t), vec![None, up.clone()], vec![]);
    }
    let out = Outcome::Promoted {
        target: "pdx".into(),
        result: Ok(format!("{A}:1-10")),
        at: secs(9),
    };
    let d = e.step(
        secs(9),
        vec![None, probe(false, &format!("{A}:1-10"), None)],
        vec![out],
    );
    assert!(d.record_changed);
    assert_eq!(e.record().last_failover_target.as_deref(), Some("pdx"));
    assert_eq!(e.record().history[0].write_unavailability, Some(secs(7)));
    assert!(d.actions.contains(&Action::Dns { site: "pdx".into() }));
    assert_eq!(d.status.active_site.as_deref(), Some("pdx"));
    assert!(d.events.iter().any(|ev| ev.reason == "FailoverExecuted"));
    assert_eq!(
        e.metrics()
            .counter("bloodraven_failovers_total{target_site=\"pdx\"}"),
        1
    );
}
