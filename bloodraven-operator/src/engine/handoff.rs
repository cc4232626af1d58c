//! The engine's side of the durable record's contract with the runner: adopting a promotion another writer
//! recorded (authority epoch, §1.2), giving back a decision whose record could not be saved (§1.13: the record is
//! written before acting), and a decision without observations for a discarded poll.

use std::time::Duration;

use crate::engine::{Action, Decision, Engine, KillPurpose, evaluate};
use crate::record::Record;

impl Engine {
    /// Adopts the record another writer persisted (an ordered-update handoff, another operator instance): its
    /// promotions are merged in ([`Record::merge_external`], `base` = the epoch this process last saw persisted).
    /// When that moved the last failover target, the promoted site becomes the pending promotion (no new promotion
    /// starts until it is confirmed writable), the draft promotion of this process is dropped and DNS is
    /// reconciled again. Returns whether the last failover target changed.
    pub fn adopt_record(&mut self, now: Duration, persisted: &Record, base: u64) -> bool {
        let before = (
            self.record.last_failover,
            self.record.last_failover_target.clone(),
        );
        self.record.merge_external(persisted, base);
        let moved = (
            self.record.last_failover,
            self.record.last_failover_target.clone(),
        ) != before;
        if moved {
            let target = self.record.last_failover_target.clone().unwrap_or_default();
            tracing::warn!(site = %target, epoch = self.record.epoch, "adopted a promotion recorded by another writer");
            if let Some(t) = self.config.index(&target) {
                self.now = now;
                self.pending = Some((t, now));
                self.last_active = Some(t);
            }
            self.draft = None;
            self.dns = None;
        }
        moved
    }

    /// Gives back a decision whose durable record could not be saved: none of `skipped` ran, so the bookkeeping
    /// that assumed they would is undone and their intent is decided again on the next step (the record changes
    /// themselves stay in memory and are saved then). The decision's events are queued for the next decision.
    pub fn abandon(&mut self, skipped: &[Action], events: Vec<crate::engine::Event>) {
        let mut queued = events;
        queued.append(&mut self.events);
        self.events = queued;
        for action in skipped {
            match action {
                Action::Promote { planned: false, .. } => self.draft = None,
                Action::Reassert { .. } => self.last_reassert = None,
                Action::AutoClone { .. } => self.auto_clone = None,
                Action::Dns { .. } => self.dns = None,
                Action::Rejoin { site, .. }
                | Action::AuditDivergence { site, .. }
                | Action::KillSessions {
                    site,
                    purpose: KillPurpose::Recovery,
                } => {
                    if let Some(i) = self.config.index(site) {
                        self.sites[i].recovery_retry_after = self.now;
                    }
                }
                // A planned rollback is decided once: carry it to the next step.
                Action::Unfence { .. } => self.carried.push(action.clone()),
                // Re-derived every poll while their state holds (reclone, planned drain and promotion, convergence);
                // fences and taints never wait for the record.
                _ => {}
            }
        }
    }

    /// The decision of a poll whose observations were discarded: no actions, the status as it stands, poll again
    /// soon.
    pub fn snapshot(&self) -> Decision {
        let eval = evaluate(&self.views(), &self.config.priorities);
        Decision {
            actions: Vec::new(),
            events: Vec::new(),
            metrics: Vec::new(),
            status: self.status(&eval),
            record_changed: false,
            next_poll: Duration::from_millis(200).min(self.config.poll_interval),
        }
    }
}
