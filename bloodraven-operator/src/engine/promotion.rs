//! Automatic promotion: split-brain fencing and candidate selection (§1.7, §1.8) and the re-assert of a fenced
//! promoted primary (§1.11).

use std::time::Duration;

use crate::engine::{
    Action, Draft, Engine, Evaluation, Event, EventReason, Metric, Role, SiteState, SiteView,
    rank_candidates, resolve_split_brain,
};
use crate::record::{Candidate, FailoverRecord, PlannedPhase, Trigger};
use crate::site::GtidState;

impl Engine {
    /// §1.7 and §1.8: split-brain fencing and automatic promotion.
    pub(crate) fn cross_site(
        &mut self,
        views: &[SiteView],
        eval: &Evaluation,
        actions: &mut Vec<Action>,
    ) {
        if !eval.fence.is_empty() {
            return;
        }
        let target_idx = self
            .record
            .last_failover_target
            .as_deref()
            .and_then(|t| self.config.index(t));
        let writable_candidates: Vec<usize> = (0..self.sites.len())
            .filter(|&i| {
                self.sites[i].state == SiteState::Writable
                    && self.config.sites[i].role == Role::PrimaryCandidate
            })
            .collect();
        if writable_candidates.len() > 1 {
            // Split brain: the recorded failover target wins, else the priorities.
            if let Some(t) = target_idx.filter(|t| writable_candidates.contains(t)) {
                for &i in writable_candidates.iter().filter(|&&i| i != t) {
                    actions.push(Action::Fence {
                        site: self.config.sites[i].name.clone(),
                        why: "fencing returning old primary (split brain after failover)",
                    });
                }
            } else if let Some((winner, losers)) =
                resolve_split_brain(views, &self.config.priorities)
            {
                if self.gates.rotating.contains(&winner) {
                    tracing::warn!(site = %winner, "split-brain auto-resolve refused: the preferred site is mid keyring rotation");
                    return;
                }
                for l in losers {
                    self.metrics.push(Metric::SplitBrainAutoResolve {
                        prefer_site: winner.clone(),
                    });
                    actions.push(Action::Fence {
                        site: l,
                        why: "split-brain auto-resolve: fencing non-preferred site per spec.splitBrainPolicy.sitePriorities",
                    });
                }
            }
            return;
        }
        // §1.5 rule 7 / §1.7 step 5: read-only candidates that are all mid keyring rotation are refused.
        let rotating: std::collections::BTreeSet<String> = views
            .iter()
            .filter(|v| {
                v.rotation_blocked
                    && v.role == Role::PrimaryCandidate
                    && v.state == SiteState::ReadOnly
            })
            .map(|v| v.name.clone())
            .collect();
        let lost =
            eval.writable.is_empty() && views.iter().any(|v| v.state == SiteState::Unreachable);
        self.refuse_rotating(if lost && eval.candidates.is_empty() {
            rotating
        } else {
            Default::default()
        });
        if eval.candidates.is_empty() || !eval.writable.is_empty() {
            return;
        }
        if self.pending.is_some() || self.draft.is_some() {
            return;
        }
        let old = self.last_active.or(target_idx);
        let candidates = eval.candidates.clone();
        self.promote_freshest(&candidates, old, actions);
    }

    /// §1.8: strict GTID containment picks the freshest of `candidates` (ranked), priorities break ties; then the
    /// cooldown and role gates; then the promotion, fencing `old` first when it is another site.
    pub(crate) fn promote_freshest(
        &mut self,
        candidates: &[String],
        old: Option<usize>,
        actions: &mut Vec<Action>,
    ) {
        // §1.7 step 6: never a site mid keyring rotation.
        let candidates: Vec<&String> = candidates
            .iter()
            .filter(|c| !self.gates.rotating.contains(*c))
            .collect();
        let mut considered: Vec<Candidate> = Vec::new();
        let mut best: Option<(usize, GtidState)> = None;
        let mut rule = String::new();
        for &name in &candidates {
            let Some(i) = self.config.index(name) else {
                continue;
            };
            let Some(p) = &self.sites[i].probe else {
                continue;
            };
            considered.push(Candidate {
                site: name.clone(),
                gtid: p.executed.to_string(),
            });
            match &best {
                None => {
                    rule = format!("{name}: highest-priority reachable candidate");
                    best = Some((i, p.executed.clone()));
                }
                Some((b, bs)) => {
                    if p.executed.compare(bs) == bloodraven_gtid::SetRelation::Superset {
                        rule = format!(
                            "{name}: GTID set strictly contains {}'s",
                            self.config.sites[*b].name
                        );
                        best = Some((i, p.executed.clone()));
                    }
                }
            }
        }
        let Some((target, _)) = best else {
            tracing::warn!("no reachable promotion candidate");
            return;
        };
        if considered.len() > 1 && !rule.contains("strictly") {
            rule = format!(
                "{}: no candidate strictly contains it; priority order",
                self.config.sites[target].name
            );
        }
        if self
            .record
            .in_cooldown(self.now, self.config.failover_cooldown)
        {
            tracing::warn!(site = %self.config.sites[target].name, "failover blocked by anti-flap cooldown");
            return;
        }
        if self.config.sites[target].role != Role::PrimaryCandidate {
            tracing::error!("promotion target is not a primary-candidate — refusing");
            return;
        }
        let old = old.filter(|&o| o != target);
        let target_name = self.config.sites[target].name.clone();
        let old_primary = old.map(|o| self.config.sites[o].name.clone());
        self.draft = Some(Draft {
            record: FailoverRecord {
                at: self.now,
                trigger: Trigger::Emergency,
                target: target_name.clone(),
                old_primary: old_primary.clone(),
                candidates: considered,
                rule,
                promotion_gtid: String::new(),
                write_unavailability: None,
                divergent_gtid: None,
                divergent_count: 0,
            },
            unavailable_since: self.last_writable_seen,
        });
        let skipped: Vec<String> = (0..self.sites.len())
            .filter(|&i| {
                i != target
                    && self.rotating(i)
                    && self.config.sites[i].role == Role::PrimaryCandidate
                    && self.sites[i].state == SiteState::ReadOnly
            })
            .map(|i| self.config.sites[i].name.clone())
            .collect();
        self.skip_rotating(&skipped, &target_name);
        actions.push(Action::Promote {
            target: target_name,
            old_primary,
            planned: false,
        });
    }

    /// §1.11, generalised: nothing is writable, every other site is read-only, and the last primary (the one this
    /// process saw active, else the recorded failover target) is read-only too. If it is GTID-complete it is made
    /// writable again (re-assert, own timer); if it came back without its data (its set lacks a peer's
    /// transactions), the freshest candidate containing whatever it still has is promoted (cooldown-gated).
    pub(crate) fn reassert(&mut self, actions: &mut Vec<Action>) {
        if self.pending.is_some() || self.draft.is_some() {
            return;
        }
        let record_target = self
            .record
            .last_failover_target
            .as_deref()
            .and_then(|t| self.config.index(t));
        let Some(t) = self.last_active.or(record_target) else {
            return;
        };
        let all_others_ro = (0..self.sites.len())
            .filter(|&i| i != t)
            .filter(|&i| {
                self.config.sites[i].role != Role::ReadOnly
                    || self.record.reclone.as_deref() != Some(self.config.sites[i].name.as_str())
            })
            .all(|i| self.sites[i].state == SiteState::ReadOnly);
        if !all_others_ro
            || self.rotating(t)
            || self.sites[t].state != SiteState::ReadOnly
            || self.config.sites[t].role != Role::PrimaryCandidate
        {
            return;
        }
        let Some(tp) = self.sites[t].probe.clone() else {
            return;
        };
        // A target that lost its promotion GTID set (wiped or restored) is never re-asserted.
        let intact = Some(t) != record_target
            || match (&self.record.promotion_gtid, &tp.executed) {
                (Some(pg), GtidState::Mysql(ts)) if !pg.is_empty() => pg
                    .parse::<bloodraven_gtid::GtidSet>()
                    .is_ok_and(|p| ts.is_superset(&p)),
                _ => true,
            };
        let peers: Vec<usize> = (0..self.sites.len()).filter(|&i| i != t).collect();
        let complete = intact
            && peers.iter().all(|&i| {
                self.sites[i]
                    .probe
                    .as_ref()
                    .is_some_and(|p| tp.executed.contains(&p.executed))
            });
        if complete {
            if self
                .last_reassert
                .is_some_and(|at| self.now < at + self.config.failover_cooldown)
            {
                return;
            }
            self.last_reassert = Some(self.now);
            let site = self.config.sites[t].name.clone();
            tracing::warn!(%site, "re-asserting fenced promoted primary: no site is writable and the last failover target is GTID-complete; restoring writability");
            actions.push(Action::Reassert { site });
            return;
        }
        let containing: Vec<String> = peers
            .iter()
            .filter(|&&i| self.config.sites[i].role == Role::PrimaryCandidate)
            .filter(|&&i| {
                self.sites[i]
                    .probe
                    .as_ref()
                    .is_some_and(|p| p.executed.contains(&tp.executed))
            })
            .map(|&i| self.config.sites[i].name.clone())
            .collect();
        if containing.is_empty() {
            return;
        }
        let ranked = rank_candidates(&containing, &self.config.priorities);
        tracing::warn!(site = %self.config.sites[t].name, "last primary came back read-only without its data; promoting the freshest candidate");
        self.promote_freshest(&ranked, Some(t), actions);
    }

    pub(crate) fn promoted(
        &mut self,
        target: String,
        result: Result<String, String>,
        at: Duration,
        actions: &mut Vec<Action>,
    ) {
        let planned = self
            .record
            .planned
            .as_ref()
            .is_some_and(|p| p.phase == PlannedPhase::Promoting);
        let draft = self.draft.take();
        if planned {
            self.planned_promoted(&target, result, at, actions);
            return;
        }
        let Some(mut draft) = draft.filter(|d| d.record.target == target) else {
            return;
        };
        match result {
            Err(e) => tracing::error!(site = %target, error = %e, "promotion failed"),
            Ok(gtid) => {
                draft.record.at = at;
                draft.record.promotion_gtid = gtid;
                draft.record.write_unavailability =
                    draft.unavailable_since.map(|s| at.saturating_sub(s));
                self.finish_promotion(draft.record, actions);
            }
        }
    }

    /// Records a confirmed promotion (before DNS) and flips DNS.
    pub(crate) fn finish_promotion(&mut self, rec: FailoverRecord, actions: &mut Vec<Action>) {
        let target = rec.target.clone();
        tracing::info!(site = %target, promotion_gtid = %rec.promotion_gtid, "failover complete");
        if rec.trigger == Trigger::Emergency {
            self.metrics.push(Metric::Failover {
                target_site: target.clone(),
            });
        }
        self.events.push(Event::new(
            EventReason::FailoverExecuted,
            format!("Failover completed: {target} promoted as new primary"),
        ));
        self.record.record_failover(rec);
        self.record_changed = true;
        if let Some(i) = self.config.index(&target) {
            self.pending = Some((i, self.now));
            self.last_active = Some(i);
        }
        self.dns = Some(target.clone());
        actions.push(Action::Dns { site: target });
    }
}
