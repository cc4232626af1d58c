//! Engine scenario tests: debounce, promotion gates, recovery and planned failover, step by step.

use std::time::Duration;

use super::*;
use crate::record::PlannedPhase;
use crate::site::{Flavor, GtidState, ReplicaStatus};

pub(super) const A: &str = "3e11fa47-71ca-11e1-9e33-c80aa9429562";

pub(super) fn config() -> Config {
    Config::new(
        "g",
        vec![
            SiteConfig::new("iad", Role::PrimaryCandidate, "iad.db"),
            SiteConfig::new("pdx", Role::PrimaryCandidate, "pdx.db"),
        ],
    )
}

pub(super) fn probe(read_only: bool, gtid: &str, source: Option<&str>) -> Option<Probe> {
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

pub(super) fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

pub(super) fn healthy(e: &mut Engine, t: u64) -> Decision {
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
    let failovers = d
        .metrics
        .iter()
        .filter(|m| matches!(m, Metric::Failover { target_site } if target_site == "pdx"))
        .count();
    assert_eq!(failovers, 1, "{:?}", d.metrics);
}

pub(super) const B: &str = "4e11fa47-71ca-11e1-9e33-c80aa9429562";

/// iad primary with 1-10, pdx replica; then iad dies and pdx is promoted and recorded.
pub(super) fn failed_over() -> Engine {
    let mut e = Engine::new(config(), Record::default());
    for t in [0, 2] {
        healthy(&mut e, t);
    }
    let up = probe(true, &format!("{A}:1-10"), Some("iad.db"));
    for t in [4, 6, 8] {
        e.step(secs(t), vec![None, up.clone()], vec![]);
    }
    let (_, changed) = e.feed(
        secs(9),
        Outcome::Promoted {
            target: "pdx".into(),
            result: Ok(format!("{A}:1-10")),
            at: secs(9),
        },
    );
    assert!(changed);
    e
}

#[test]
fn returning_old_primary_with_extra_transactions_is_blocked_with_exact_divergence() {
    let mut e = failed_over();
    let new = format!("{A}:1-10,{B}:1-3");
    let old = format!("{A}:1-12");
    let mut saw_fence = false;
    let mut saw_kill = false;
    let mut t = 10;
    let mut audits = 0;
    while t < 40 {
        let d = e.step(
            secs(t),
            vec![probe(true, &old, None), probe(false, &new, None)],
            vec![],
        );
        saw_fence |= d.actions.iter().any(
            |a| matches!(a, Action::Fence { site, why: "old primary recovery" } if site == "iad"),
        );
        if d.actions
            .iter()
            .any(|a| matches!(a, Action::KillSessions { site, .. } if site == "iad"))
        {
            saw_kill = true;
            e.feed(
                secs(t),
                Outcome::Killed {
                    site: "iad".into(),
                    purpose: KillPurpose::Recovery,
                    result: Ok(0),
                },
            );
        }
        assert!(
            !d.actions.iter().any(|a| matches!(a, Action::Rejoin { .. })),
            "diverged site must not rejoin"
        );
        // The runner audits the site (the MariaDB driver reads its binary logs) and feeds the result back.
        for a in &d.actions {
            if let Action::AuditDivergence {
                site,
                new_primary,
                estimate,
            } = a
            {
                assert_eq!(site, "iad");
                assert_eq!(new_primary.to_string(), new);
                assert_eq!(estimate.text, format!("{A}:11-12"));
                audits += 1;
                e.feed(
                    secs(t),
                    Outcome::Diverged {
                        site: site.clone(),
                        divergence: estimate.clone(),
                    },
                );
            }
        }
        t += 2;
    }
    assert!(saw_fence && saw_kill);
    assert!(audits >= 1);
    // Events recorded by a fed outcome surface with the next decision.
    let status = e
        .step(
            secs(t),
            vec![probe(true, &old, None), probe(false, &new, None)],
            vec![],
        )
        .status;
    let iad = status.site("iad").unwrap();
    assert_eq!(iad.recovery_state, "RecoveryBlocked");
    assert_eq!(iad.divergent_gtid, format!("{A}:11-12"));
    assert_eq!(iad.divergent_count, 2);
    assert_eq!(
        status.condition("RecoveryPending").unwrap().reason,
        "DivergentTransactions"
    );
    assert_eq!(
        e.record().history.last().unwrap().divergent_gtid.as_deref(),
        Some(format!("{A}:11-12").as_str())
    );
}

#[test]
fn returning_old_primary_without_divergence_rejoins() {
    let mut e = failed_over();
    let new = format!("{A}:1-10,{B}:1-3");
    let old = format!("{A}:1-10");
    let mut rejoined = false;
    for t in (10..40).step_by(2) {
        let d = e.step(
            secs(t),
            vec![probe(true, &old, None), probe(false, &new, None)],
            vec![],
        );
        if d.actions
            .iter()
            .any(|a| matches!(a, Action::KillSessions { .. }))
        {
            e.feed(
                secs(t),
                Outcome::Killed {
                    site: "iad".into(),
                    purpose: KillPurpose::Recovery,
                    result: Ok(0),
                },
            );
        }
        rejoined |= d.actions.contains(&Action::Rejoin {
            site: "iad".into(),
            source: "pdx".into(),
        });
    }
    assert!(rejoined);
    assert_eq!(
        e.record().recovery.get("iad"),
        Some(&crate::record::RecoveryMarker::InProgress)
    );
}

#[test]
fn no_automatic_promotion_inside_the_cooldown() {
    let mut e = failed_over();
    // pdx confirmed writable, then dies 60 s later (cooldown is 5 min): iad is a caught-up read-only candidate.
    for t in [10, 12] {
        e.step(
            secs(t),
            vec![
                probe(true, &format!("{A}:1-10"), Some("pdx.db")),
                probe(false, &format!("{A}:1-10"), None),
            ],
            vec![],
        );
    }
    for t in (70..100).step_by(2) {
        let d = e.step(
            secs(t),
            vec![probe(true, &format!("{A}:1-10"), Some("pdx.db")), None],
            vec![],
        );
        assert!(
            !d.actions
                .iter()
                .any(|a| matches!(a, Action::Promote { .. })),
            "promoted inside the cooldown at {t}"
        );
    }
    // After the cooldown the same situation promotes.
    let d = e.step(
        secs(320),
        vec![probe(true, &format!("{A}:1-10"), Some("pdx.db")), None],
        vec![],
    );
    assert!(
        d.actions
            .iter()
            .any(|a| matches!(a, Action::Promote { target, .. } if target == "iad"))
    );
}

/// Three candidates, `iad` the writable primary with `{A}:1-10`, `pdx` and `fra` replicas holding `pdx_set` and
/// `fra_set`; `iad` stops answering. Returns the site the engine promotes.
fn promoted_among(pdx_set: &str, fra_set: &str) -> Option<String> {
    let mut c = config();
    c.sites
        .push(SiteConfig::new("fra", Role::PrimaryCandidate, "fra.db"));
    let mut e = Engine::new(c, Record::default());
    let replicas = || [pdx_set, fra_set].map(|g| probe(true, g, Some("iad.db")));
    for t in [0, 2] {
        let [pdx, fra] = replicas();
        e.step(
            secs(t),
            vec![probe(false, &format!("{A}:1-10"), None), pdx, fra],
            vec![],
        );
    }
    let mut promoted = None;
    for t in [4, 6, 8] {
        let [pdx, fra] = replicas();
        for a in e.step(secs(t), vec![None, pdx, fra], vec![]).actions {
            if let Action::Promote { target, .. } = a {
                promoted = Some(target);
            }
        }
    }
    promoted
}

#[test]
fn freshest_candidate_wins_by_strict_containment_and_priority_breaks_ties() {
    // fra ⊋ pdx: the freshest wins although pdx comes first.
    assert_eq!(
        promoted_among(&format!("{A}:1-8"), &format!("{A}:1-9")).as_deref(),
        Some("fra")
    );
    // Incomparable sets keep the higher-priority (earlier) candidate.
    assert_eq!(
        promoted_among(&format!("{A}:1-8"), &format!("{A}:1-7,{B}:1")).as_deref(),
        Some("pdx")
    );
}

#[test]
fn planned_failover_fences_waits_for_the_target_and_rolls_back_on_lag_timeout() {
    let mut e = Engine::new(config(), Record::default());
    let src = |g: &str| probe(false, g, None);
    let tgt = |g: &str| probe(true, g, Some("iad.db"));
    for t in [0, 2, 4] {
        e.step(
            secs(t),
            vec![src(&format!("{A}:1-10")), tgt(&format!("{A}:1-10"))],
            vec![],
        );
    }
    e.set_planned_annotation(Some("pdx:maxLagWait=10s".into()));
    let d = e.step(
        secs(6),
        vec![src(&format!("{A}:1-10")), tgt(&format!("{A}:1-10"))],
        vec![],
    );
    assert!(
        d.events
            .iter()
            .any(|ev| ev.reason == "PlannedFailoverStarted")
    );
    let d = e.step(
        secs(7),
        vec![src(&format!("{A}:1-10")), tgt(&format!("{A}:1-9"))],
        vec![],
    );
    assert!(
        d.actions
            .contains(&Action::FenceAndReadGtid { site: "iad".into() })
            || e.record().planned.as_ref().unwrap().phase == PlannedPhase::Draining
    );
    let fenced = Outcome::FencedForPlanned {
        site: "iad".into(),
        result: Ok(GtidState::Mysql(format!("{A}:1-12").parse().unwrap())),
        at: secs(8),
    };
    let mut outcomes = vec![fenced];
    let mut t = 8;
    let mut rolled_back = false;
    while t < 40 && !rolled_back {
        let d = e.step(
            secs(t),
            vec![
                probe(true, &format!("{A}:1-12"), None),
                tgt(&format!("{A}:1-11")),
            ],
            std::mem::take(&mut outcomes),
        );
        for a in &d.actions {
            match a {
                Action::FenceAndReadGtid { .. } => {}
                Action::KillSessions { site, .. } => outcomes.push(Outcome::Killed {
                    site: site.clone(),
                    purpose: KillPurpose::Planned,
                    result: Ok(0),
                }),
                Action::Promote { .. } => {
                    panic!("promoted a target that lacks the source's transactions")
                }
                Action::Unfence { site } => rolled_back = site == "iad",
                _ => {}
            }
        }
        t += 1;
    }
    assert!(rolled_back, "lag timeout must unfence the source");
    let p = e.record().planned.clone().unwrap();
    assert_eq!(
        (p.phase, p.reason.as_str()),
        (PlannedPhase::Failed, "LagTimeout")
    );
}

#[test]
fn planned_failover_promotes_once_caught_up_and_loses_nothing() {
    let mut e = Engine::new(config(), Record::default());
    let tgt = |g: &str| probe(true, g, Some("iad.db"));
    for t in [0, 2, 4] {
        e.step(
            secs(t),
            vec![
                probe(false, &format!("{A}:1-10"), None),
                tgt(&format!("{A}:1-10")),
            ],
            vec![],
        );
    }
    e.set_planned_annotation(Some("pdx".into()));
    let mut outcomes = Vec::new();
    let mut promoted = false;
    let mut fenced = false;
    for t in 6..30 {
        let d = e.step(
            secs(t),
            vec![
                probe(fenced, &format!("{A}:1-12"), None),
                tgt(&format!("{A}:1-12")),
            ],
            std::mem::take(&mut outcomes),
        );
        for a in &d.actions {
            match a {
                Action::FenceAndReadGtid { site } => {
                    fenced = true;
                    outcomes.push(Outcome::FencedForPlanned {
                        site: site.clone(),
                        result: Ok(GtidState::Mysql(format!("{A}:1-12").parse().unwrap())),
                        at: secs(t),
                    })
                }
                Action::KillSessions { site, .. } => outcomes.push(Outcome::Killed {
                    site: site.clone(),
                    purpose: KillPurpose::Planned,
                    result: Ok(0),
                }),
                Action::Promote {
                    target,
                    old_primary,
                    planned,
                } => {
                    assert!(*planned && target == "pdx" && old_primary.as_deref() == Some("iad"));
                    promoted = true;
                    outcomes.push(Outcome::Promoted {
                        target: target.clone(),
                        result: Ok(format!("{A}:1-12")),
                        at: secs(t),
                    });
                }
                _ => {}
            }
        }
    }
    assert!(promoted);
    let p = e.record().planned.clone().unwrap();
    assert_eq!(p.phase, PlannedPhase::Succeeded);
    assert_eq!(p.transactions_lost, 0);
    assert_eq!(e.record().last_failover_target.as_deref(), Some("pdx"));
    assert_eq!(
        e.record().history.last().unwrap().trigger,
        crate::record::Trigger::Planned
    );
}

/// A DNS write that fails (the cluster does not serve DNSEndpoint, say) counts no flip and is asked for again on
/// every poll until it succeeds; only the success counts.
#[test]
fn a_failed_dns_write_is_retried_and_not_counted() {
    let mut e = Engine::new(config(), Record::default());
    let d = healthy(&mut e, 0);
    assert!(!d.actions.contains(&Action::Dns { site: "iad".into() }));
    let d = healthy(&mut e, 2);
    assert!(d.actions.contains(&Action::Dns { site: "iad".into() }));
    let failed = || Outcome::Dns {
        site: "iad".into(),
        result: Err("DNSEndpoint is not served".into()),
    };
    let flips = |d: &Decision| {
        d.metrics
            .iter()
            .filter(|m| matches!(m, Metric::DnsFlip { .. }))
            .count()
    };
    for t in [4, 6] {
        let (_, _) = e.feed(secs(t), failed());
        let d = healthy(&mut e, t);
        assert_eq!(flips(&d), 0, "{:?}", d.metrics);
        assert!(d.actions.contains(&Action::Dns { site: "iad".into() }));
    }
    e.feed(
        secs(8),
        Outcome::Dns {
            site: "iad".into(),
            result: Ok(()),
        },
    );
    let d = healthy(&mut e, 8);
    assert_eq!(flips(&d), 1, "{:?}", d.metrics);
    assert!(!d.actions.contains(&Action::Dns { site: "iad".into() }));
}
