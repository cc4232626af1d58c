//! Invariants of the guards, the auto-clone and the authority epoch, checked after every world step (numbered after
//! the five of issue 6):
//!
//! 6. No automatic promotion under a guard: an operator unfence outside a planned failover is never decided by a
//!    poll that read an in-place restore, an ordered update or a bootstrap into a promotable or dr-only site.
//! 7. Never an operator unfence (emergency or planned promotion, re-assert) of a site the deciding poll read as mid
//!    keyring rotation (a planned failover's rollback of its source aside).
//! 8. No automatic clone of a non-empty site (the active primary is checked in the site).
//! 9. No operator action from a poll whose epoch was overtaken: no external promotion lies between the two reads of
//!    the group object (before and after probing) of the poll that decided the action.
//!
//! The deciding poll of an action is the one whose second group read is the last read before the action: the runner
//! executes a poll's actions before it reads again. Only the clone task runs beside the polls; its calls on the
//! recipient are left out.

use std::time::Duration;

use crate::engine::{Role, Status};
use crate::record::Record;

use super::check::Checker;
use super::world::World;

/// How long after a clone started the recipient's calls belong to the clone task.
const CLONE_TASK: Duration = Duration::from_secs(120);

impl Checker {
    pub(crate) fn guards(
        &mut self,
        w: &World,
        status: Option<&Status>,
        record: &Record,
        now: Duration,
    ) {
        while self.mutations_seen < w.mutations.len() {
            let (seq, at, i, op) = w.mutations[self.mutations_seen];
            self.mutations_seen += 1;
            let in_clone = w.clones.iter().any(|&(ct, ci, _)| {
                ci == i && ct <= at + Duration::from_secs(1) && at <= ct + CLONE_TASK
            });
            if in_clone && op != "unfence" {
                continue;
            }
            let k = w.group_reads.partition_point(|r| r.0 < seq);
            if k < 2 {
                continue;
            }
            let (before, after) = (&w.group_reads[k - 2], &w.group_reads[k - 1]);
            let name = &w.servers[i].name;
            if w.external_promotions
                .iter()
                .any(|&x| before.0 < x && x < after.0)
            {
                self.violation(
                    now,
                    format!("invariant 9: {op} on {name} decided by a poll overtaken by an external promotion"),
                );
            }
            let (gates, planned) = (&after.1, &after.2);
            if op != "unfence" {
                continue;
            }
            if gates.rotating.contains(name) && planned.as_ref() != Some(name) {
                self.violation(
                    now,
                    format!("invariant 7: {name} made writable while mid keyring rotation"),
                );
            }
            if planned.is_some() {
                continue;
            }
            let core_bootstrap = gates.bootstrap.as_ref().is_some_and(|b| {
                w.servers
                    .iter()
                    .any(|s| &s.name == b && s.role != Role::ReadOnly)
            });
            if gates.frozen || gates.ordered_update || core_bootstrap {
                self.violation(
                    now,
                    format!("invariant 6: {name} made writable by a poll that read {gates:?}"),
                );
            }
        }
        while self.clones_seen < w.clones.len() {
            let (_, i, empty) = w.clones[self.clones_seen];
            self.clones_seen += 1;
            let name = w.servers[i].name.clone();
            let auto = status
                .and_then(|s| s.condition("Bootstrapping"))
                .is_some_and(|c| {
                    c.reason == "Cloning" && c.message == format!("Auto-clone: cloning {name}")
                });
            if auto {
                if !empty {
                    self.violation(
                        now,
                        format!("invariant 8: auto-clone of non-empty site {name}"),
                    );
                }
            } else {
                self.reclone_interlock(i, now, w, record);
            }
        }
    }
}
