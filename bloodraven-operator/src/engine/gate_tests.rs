//! Unit tests of the guards (reference §1.7, §1.11, §1.12, §2.4, §2.6, §3.2, §3.5), the authority-epoch adoption
//! (§1.2) and the abandoned decision of a failed record save (§1.13).

use std::collections::BTreeSet;

use super::tests::{A, B, config, failed_over, healthy, probe, secs};
use super::*;
use crate::record::PlannedPhase;

fn promotes(d: &Decision) -> Option<&str> {
    d.actions.iter().find_map(|a| match a {
        Action::Promote { target, .. } => Some(target.as_str()),
        _ => None,
    })
}

/// iad primary and pdx replica with the same set; then iad stops answering for `polls` polls from t = 4.
fn lose_primary(e: &mut Engine, polls: u64) -> Vec<Decision> {
    for t in [0, 2] {
        healthy(e, t);
    }
    let up = probe(true, &format!("{A}:1-10"), Some("iad.db"));
    (0..polls)
        .map(|k| e.step(secs(4 + 2 * k), vec![None, up.clone()], vec![]))
        .collect()
}

/// How many keyring-blocked samples for `site` with `outcome` the decisions carry.
fn blocked(decisions: &[Decision], site: &str, outcome: KeyringOutcome) -> usize {
    decisions
        .iter()
        .flat_map(|d| &d.metrics)
        .filter(|m| {
            *m == &Metric::KeyringPromotionBlocked {
                site: site.to_owned(),
                outcome,
            }
        })
        .count()
}

fn gated(f: impl FnOnce(&mut Gates)) -> Gates {
    let mut g = Gates::default();
    f(&mut g);
    g
}

fn rotating(sites: &[&str]) -> BTreeSet<String> {
    sites.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn s1_7_emergency_promotion_is_deferred_while_frozen_updating_or_bootstrapping_a_core_site() {
    let gates = [
        (gated(|g| g.frozen = true), "in-place restore"),
        (gated(|g| g.ordered_update = true), "ordered update"),
        (gated(|g| g.bootstrap = Some("pdx".into())), "bootstrap"),
    ];
    for (gate, why) in gates {
        let mut e = Engine::new(config(), Record::default());
        e.set_gates(gate);
        let decisions = lose_primary(&mut e, 6);
        assert!(
            decisions.iter().all(|d| promotes(d).is_none()),
            "promoted during {why}"
        );
        let status = &decisions.last().unwrap().status;
        assert!(
            status
                .suppressed
                .as_deref()
                .is_some_and(|s| s.contains(why)),
            "{:?}",
            status.suppressed
        );
        e.set_gates(Gates::default());
        let d = e.step(
            secs(20),
            vec![None, probe(true, &format!("{A}:1-10"), Some("iad.db"))],
            vec![],
        );
        assert_eq!(promotes(&d), Some("pdx"), "{why}: promotion after the gate");
        assert_eq!(d.status.suppressed, None);
    }
}

#[test]
fn s1_7_a_bootstrap_into_a_reader_does_not_suppress_failover() {
    let mut c = config();
    c.sites
        .push(SiteConfig::new("rdr", Role::ReadOnly, "rdr.db"));
    let mut e = Engine::new(c, Record::default());
    e.set_gates(gated(|g| g.bootstrap = Some("rdr".into())));
    let reader = probe(true, "", None);
    for t in [0, 2] {
        e.step(
            secs(t),
            vec![
                probe(false, &format!("{A}:1-10"), None),
                probe(true, &format!("{A}:1-10"), Some("iad.db")),
                reader.clone(),
            ],
            vec![],
        );
    }
    let up = probe(true, &format!("{A}:1-10"), Some("iad.db"));
    let last = (0..3)
        .map(|k| {
            e.step(
                secs(4 + 2 * k),
                vec![None, up.clone(), reader.clone()],
                vec![],
            )
        })
        .last()
        .unwrap();
    assert_eq!(promotes(&last), Some("pdx"));
}

#[test]
fn s1_7_step_5_every_candidate_mid_keyring_rotation_is_refused_with_reason_event_and_counter() {
    let mut e = Engine::new(config(), Record::default());
    e.set_gates(gated(|g| g.rotating = rotating(&["pdx"])));
    let decisions = lose_primary(&mut e, 5);
    assert!(decisions.iter().all(|d| promotes(d).is_none()));
    let last = decisions.last().unwrap();
    assert_eq!(last.status.reason, Reason::NoPrimary);
    assert!(
        last.status
            .alert
            .contains("refusing to promote pdx (UnsealReason=Rotation)"),
        "{}",
        last.status.alert
    );
    let refused: usize = decisions
        .iter()
        .flat_map(|d| &d.events)
        .filter(|ev| ev.reason == "KeyringPromotionRefused")
        .count();
    assert_eq!(refused, 1, "one event per change of the refused set");
    // The counter counts every refusing poll, the event only the change.
    let refusing = decisions
        .iter()
        .filter(|d| d.status.alert.contains("UnsealReason=Rotation"))
        .count();
    assert!(refusing >= 2, "{refusing}");
    assert_eq!(
        blocked(&decisions, "pdx", KeyringOutcome::Refused),
        refusing
    );
    // The rotation ends: the candidate is promoted.
    e.set_gates(Gates::default());
    let d = e.step(
        secs(20),
        vec![None, probe(true, &format!("{A}:1-10"), Some("iad.db"))],
        vec![],
    );
    assert_eq!(promotes(&d), Some("pdx"));
}

#[test]
fn s1_7_step_6_a_fresher_candidate_mid_rotation_is_skipped_for_the_next_one() {
    let mut c = config();
    c.sites
        .push(SiteConfig::new("fra", Role::PrimaryCandidate, "fra.db"));
    let mut e = Engine::new(c, Record::default());
    e.set_gates(gated(|g| g.rotating = rotating(&["pdx"])));
    let pdx = probe(true, &format!("{A}:1-12"), Some("iad.db"));
    let fra = probe(true, &format!("{A}:1-10"), Some("iad.db"));
    for t in [0, 2] {
        e.step(
            secs(t),
            vec![
                probe(false, &format!("{A}:1-12"), None),
                pdx.clone(),
                fra.clone(),
            ],
            vec![],
        );
    }
    let last = (0..3)
        .map(|k| {
            e.step(
                secs(4 + 2 * k),
                vec![None, pdx.clone(), fra.clone()],
                vec![],
            )
        })
        .last()
        .unwrap();
    assert_eq!(promotes(&last), Some("fra"));
    assert!(
        last.events
            .iter()
            .any(|ev| ev.reason == "KeyringPromotionSkipped")
    );
    assert_eq!(blocked(&[last], "pdx", KeyringOutcome::Skipped), 1);
}

/// After `failed_over`, pdx is confirmed writable, then re-fenced (both read-only, pdx GTID-complete).
fn wedged(e: &mut Engine) -> Decision {
    let set = format!("{A}:1-10");
    for t in [10, 12] {
        e.step(
            secs(t),
            vec![probe(true, &set, Some("pdx.db")), probe(false, &set, None)],
            vec![],
        );
    }
    e.step(
        secs(14),
        vec![probe(true, &set, Some("pdx.db")), probe(true, &set, None)],
        vec![],
    )
}

#[test]
fn s1_11_reassert_waits_for_every_gate_and_never_targets_a_rotating_site() {
    let gates = [
        gated(|g| g.frozen = true),
        gated(|g| g.ordered_update = true),
        gated(|g| g.bootstrap = Some("iad".into())),
        gated(|g| g.rotating = rotating(&["pdx"])),
    ];
    for gate in gates {
        let mut e = failed_over();
        e.set_gates(gate.clone());
        let d = wedged(&mut e);
        assert!(
            !d.actions
                .iter()
                .any(|a| matches!(a, Action::Reassert { .. })),
            "re-asserted under {gate:?}"
        );
    }
    let mut e = failed_over();
    let d = wedged(&mut e);
    assert!(d.actions.contains(&Action::Reassert { site: "pdx".into() }));
}

#[test]
fn s1_12_source_convergence_only_reports_pending_while_suppressed() {
    for (gate, repoints) in [
        (gated(|g| g.frozen = true), false),
        (gated(|g| g.ordered_update = true), false),
        (gated(|g| g.bootstrap_suppressed = true), false),
        (Gates::default(), true),
    ] {
        let mut e = Engine::new(config(), Record::default());
        e.set_gates(gate.clone());
        let mut last = None;
        for t in [0, 2, 4] {
            last = Some(e.step(
                secs(t),
                vec![
                    probe(false, &format!("{A}:1-10"), None),
                    probe(true, &format!("{A}:1-10"), Some("elsewhere.db")),
                ],
                vec![],
            ));
        }
        let d = last.unwrap();
        let repointed = d
            .actions
            .iter()
            .any(|a| matches!(a, Action::Repoint { site, .. } if site == "pdx"));
        assert_eq!(repointed, repoints, "{gate:?}");
        let pdx = d.status.site("pdx").unwrap();
        assert_eq!(
            (
                pdx.source_convergence_state.as_str(),
                pdx.source_convergence_reason.as_str()
            ),
            ("Pending", "SourceMismatch")
        );
    }
}

fn planned_to_pdx(gate: Gates) -> (Engine, Vec<Decision>) {
    let mut e = Engine::new(config(), Record::default());
    e.set_gates(gate);
    for t in [0, 2, 4] {
        healthy(&mut e, t);
    }
    e.set_planned_annotation(Some("pdx".into()));
    let decisions = (3..6).map(|t| healthy(&mut e, 2 * t)).collect();
    (e, decisions)
}

#[test]
fn s3_2_planned_failover_is_rejected_without_a_fence_for_keyring_rotation_and_concurrent_operations()
 {
    for (gate, reason) in [
        (
            gated(|g| g.rotating = rotating(&["pdx"])),
            "KeyringRotation",
        ),
        (gated(|g| g.frozen = true), "ConcurrentOperation"),
        (gated(|g| g.ordered_update = true), "ConcurrentOperation"),
    ] {
        let (e, decisions) = planned_to_pdx(gate);
        let p = e.record().planned.clone().unwrap();
        assert_eq!((p.phase, p.reason.as_str()), (PlannedPhase::Failed, reason));
        // §3.5: no fence applied, never deferred.
        assert!(
            decisions
                .iter()
                .flat_map(|d| &d.actions)
                .all(|a| !matches!(a, Action::Fence { .. } | Action::FenceAndReadGtid { .. }))
        );
        assert_eq!(e.planned_annotation(), None);
    }
    let (e, _) = planned_to_pdx(Gates::default());
    assert_ne!(
        e.record().planned.clone().unwrap().phase,
        PlannedPhase::Failed
    );
}

/// A fenced old primary iad blocked with divergent transactions after `failed_over`, recloned by annotation.
fn reclone_requested(gate: Gates) -> Vec<Decision> {
    let mut e = failed_over();
    let new = format!("{A}:1-10,{B}:1-3");
    for t in [10, 12] {
        e.step(secs(t), vec![None, probe(false, &new, None)], vec![]);
    }
    e.set_gates(gate);
    e.set_reclone_annotation(Some("iad:confirm=g".into()));
    (14..18)
        .map(|t| {
            e.step(
                secs(2 * t),
                vec![probe(true, "", None), probe(false, &new, None)],
                vec![],
            )
        })
        .collect()
}

#[test]
fn s2_6_reclone_is_deferred_while_bootstrapping_or_frozen() {
    for gate in [
        gated(|g| g.frozen = true),
        gated(|g| g.bootstrap = Some("pdx".into())),
    ] {
        let decisions = reclone_requested(gate.clone());
        assert!(
            decisions
                .iter()
                .flat_map(|d| &d.actions)
                .all(|a| !matches!(a, Action::Reclone { .. })),
            "recloned under {gate:?}"
        );
    }
    let decisions = reclone_requested(Gates::default());
    assert!(decisions.iter().flat_map(|d| &d.actions).any(|a| *a
        == Action::Reclone {
            site: "iad".into(),
            donor: "pdx".into()
        }));
}

/// iad primary with data; pdx comes back read-only, without a replication channel and with an empty GTID set.
fn empty_replica(e: &mut Engine, from: u64, to: u64, pdx: Option<Probe>) -> Vec<Decision> {
    (from..to)
        .map(|t| {
            e.step(
                secs(2 * t),
                vec![probe(false, &format!("{A}:1-10"), None), pdx.clone()],
                vec![],
            )
        })
        .collect()
}

fn auto_clones(d: &Decision) -> Vec<&Action> {
    d.actions
        .iter()
        .filter(|a| matches!(a, Action::AutoClone { .. }))
        .collect()
}

#[test]
fn s2_4_an_empty_site_is_auto_cloned_from_the_active_primary_and_reported() {
    let mut e = Engine::new(config(), Record::default());
    let decisions = empty_replica(&mut e, 0, 3, probe(true, "", None));
    let clones: Vec<&Action> = decisions.iter().flat_map(auto_clones).collect();
    assert_eq!(
        clones,
        vec![&Action::AutoClone {
            site: "pdx".into(),
            donor: "iad".into()
        }],
        "exactly one auto-clone, from the confirmed active primary"
    );
    let c = decisions
        .last()
        .unwrap()
        .status
        .condition("Bootstrapping")
        .cloned()
        .unwrap();
    assert_eq!((c.status, c.reason.as_str()), (true, "Cloning"));
    assert_eq!(c.message, "Auto-clone: cloning pdx");
    // While the clone into a core site runs, automatic failover is suppressed (§1.7).
    assert!(decisions.last().unwrap().status.suppressed.is_some());
    let d = e.step(
        secs(8),
        vec![
            probe(false, &format!("{A}:1-10"), None),
            probe(true, &format!("{A}:1-10"), Some("iad.db")),
        ],
        vec![Outcome::Recloned {
            site: "pdx".into(),
            result: Ok(()),
        }],
    );
    let c = d.status.condition("Bootstrapping").unwrap();
    assert_eq!((c.status, c.reason.as_str()), (false, "Done"));
}

#[test]
fn s2_4_never_auto_clones_a_non_empty_site_a_site_with_replication_metadata_or_the_active_primary()
{
    for pdx in [
        probe(true, &format!("{A}:1-3"), None),
        probe(true, "", Some("iad.db")),
        probe(true, &format!("{B}:1-3"), None),
    ] {
        let mut e = Engine::new(config(), Record::default());
        let decisions = empty_replica(&mut e, 0, 4, pdx.clone());
        assert!(
            decisions.iter().all(|d| auto_clones(d).is_empty()),
            "{pdx:?}"
        );
    }
    // An empty writable primary is the active site, never a recipient (and not a donor to itself).
    let mut e = Engine::new(config(), Record::default());
    for t in 0..4 {
        let d = e.step(
            secs(2 * t),
            vec![probe(false, "", None), probe(true, "", Some("iad.db"))],
            vec![],
        );
        assert!(auto_clones(&d).is_empty());
    }
}

#[test]
fn s2_4_no_auto_clone_while_a_core_site_is_unreachable_frozen_or_bootstrap_suppressed() {
    for gate in [
        gated(|g| g.frozen = true),
        gated(|g| g.bootstrap_suppressed = true),
        gated(|g| g.bootstrap = Some("rdr".into())),
    ] {
        let mut e = Engine::new(config(), Record::default());
        e.set_gates(gate.clone());
        let decisions = empty_replica(&mut e, 0, 4, probe(true, "", None));
        assert!(
            decisions.iter().all(|d| auto_clones(d).is_empty()),
            "{gate:?}"
        );
    }
    let mut c = config();
    c.sites.push(SiteConfig::new("fra", Role::DrOnly, "fra.db"));
    let mut e = Engine::new(c, Record::default());
    for t in 0..6 {
        let d = e.step(
            secs(2 * t),
            vec![
                probe(false, &format!("{A}:1-10"), None),
                probe(true, "", None),
                None,
            ],
            vec![],
        );
        assert!(
            auto_clones(&d).is_empty(),
            "cloned while fra is unreachable"
        );
    }
}

#[test]
fn s2_4_a_failed_auto_clone_reports_failed_with_the_error_and_waits_before_retrying() {
    let mut e = Engine::new(config(), Record::default());
    let decisions = empty_replica(&mut e, 0, 3, probe(true, "", None));
    assert_eq!(decisions.iter().flat_map(auto_clones).count(), 1);
    let error = "site pdx: clone is not supported by mariadb";
    let d = e.step(
        secs(6),
        vec![
            probe(false, &format!("{A}:1-10"), None),
            probe(true, "", None),
        ],
        vec![Outcome::Recloned {
            site: "pdx".into(),
            result: Err(error.into()),
        }],
    );
    let c = d.status.condition("Bootstrapping").unwrap();
    assert_eq!((c.status, c.reason.as_str()), (true, "Failed"));
    assert!(c.message.contains(error), "{}", c.message);
    let waiting = empty_replica(&mut e, 4, 100, probe(true, "", None));
    assert!(waiting.iter().all(|d| auto_clones(d).is_empty()));
    let retried = empty_replica(&mut e, 160, 162, probe(true, "", None));
    assert_eq!(retried.iter().flat_map(auto_clones).count(), 1);
}

#[test]
fn s5_2_skip_clone_shortcut_needs_two_non_empty_sets_with_the_donor_containing_the_recipient() {
    let s = |t: &str| crate::site::GtidState::Mysql(t.parse().unwrap());
    assert!(can_skip_clone(
        &s(&format!("{A}:1-10")),
        &s(&format!("{A}:1-5"))
    ));
    assert!(!can_skip_clone(&s(&format!("{A}:1-10")), &s("")));
    assert!(!can_skip_clone(&s(""), &s("")));
    assert!(!can_skip_clone(
        &s(&format!("{A}:1-5")),
        &s(&format!("{A}:1-10"))
    ));
    assert!(!can_skip_clone(
        &s(&format!("{A}:1-10")),
        &s(&format!("{B}:1"))
    ));
}

#[test]
fn s1_2_an_adopted_external_promotion_is_pending_and_blocks_a_promotion() {
    let mut e = Engine::new(config(), Record::default());
    for t in [0, 2] {
        healthy(&mut e, t);
    }
    // The ordered update fenced iad for its handoff.
    let ro = probe(true, &format!("{A}:1-10"), None);
    e.step(secs(3), vec![ro.clone(), ro.clone()], vec![]);
    let mut persisted = e.record().clone();
    persisted.record_failover(crate::record::FailoverRecord {
        at: secs(3),
        trigger: crate::record::Trigger::Planned,
        target: "pdx".into(),
        old_primary: Some("iad".into()),
        candidates: vec![],
        rule: "ordered-update handoff".into(),
        promotion_gtid: format!("{A}:1-10"),
        write_unavailability: None,
        divergent_gtid: None,
        divergent_count: 0,
    });
    assert!(e.adopt_record(secs(3), &persisted, 0));
    assert_eq!(e.record().epoch, 1);
    assert_eq!(e.effective_active_site(), Some("pdx"));
    // pdx is not confirmed writable yet and iad looks lost: the pending handoff blocks an emergency promotion.
    for t in [4, 6, 8] {
        let d = e.step(secs(t), vec![None, ro.clone()], vec![]);
        assert_eq!(promotes(&d), None);
    }
}

#[test]
fn s1_13_an_abandoned_decision_is_decided_again() {
    let mut e = Engine::new(config(), Record::default());
    let decisions = lose_primary(&mut e, 3);
    let d = decisions.last().unwrap();
    assert_eq!(promotes(d), Some("pdx"));
    // The record save failed: the promotion did not run.
    let event = Event::new(EventReason::FailoverExecuted, "queued".into());
    e.abandon(&d.actions, vec![event.clone()]);
    let again = e.step(
        secs(10),
        vec![None, probe(true, &format!("{A}:1-10"), Some("iad.db"))],
        vec![],
    );
    assert_eq!(promotes(&again), Some("pdx"));
    assert!(
        again.events.contains(&event),
        "the abandoned events are emitted later"
    );
}
