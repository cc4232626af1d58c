//! The cross-site decision matrix (reference §1.5): debounced site states in, reason, alert, promotion candidates and
//! sites to fence out.

use std::fmt;

/// The role of a site in its failover group.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
#[non_exhaustive]
pub enum Role {
    /// Follows the primary, never promoted, counts as a core site.
    DrOnly,
    /// The only role that can be promoted, be active or win a split brain (the default).
    PrimaryCandidate,
    /// A serving replica ("reader"): excluded from health tallies, never promoted, never a DNS target.
    ReadOnly,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::DrOnly => "dr-only",
            Role::PrimaryCandidate => "primary-candidate",
            Role::ReadOnly => "read-only",
        })
    }
}

/// The debounced state of one site.
#[derive(Clone, Copy, Debug, Default, Eq, Hash, PartialEq)]
#[non_exhaustive]
pub enum SiteState {
    /// `@@read_only` = 1.
    ReadOnly,
    /// Not observed yet (initial).
    #[default]
    Unknown,
    /// Probes failing `failureThreshold` times in a row.
    Unreachable,
    /// `@@read_only` = 0.
    Writable,
}

impl fmt::Display for SiteState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SiteState::ReadOnly => "read-only",
            SiteState::Unknown => "unknown",
            SiteState::Unreachable => "unreachable",
            SiteState::Writable => "writable",
        })
    }
}

/// The matrix reason (the `Degraded` condition's reason).
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
#[non_exhaustive]
pub enum Reason {
    /// Something is wrong but the group can act (failover candidates, unreachable replicas, sites to fence).
    Degraded,
    /// Exactly one writable site and nothing unreachable.
    Healthy,
    /// No writable site and no automatic election possible.
    NoPrimary,
    /// More than one writable core site.
    SplitBrain,
    /// Every core site is unreachable.
    TotalLoss,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Reason::Degraded => "Degraded",
            Reason::Healthy => "Healthy",
            Reason::NoPrimary => "NoPrimary",
            Reason::SplitBrain => "SplitBrain",
            Reason::TotalLoss => "TotalLoss",
        })
    }
}

/// One site as the matrix sees it.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct SiteView {
    /// The site name.
    pub name: String,
    /// The site role.
    pub role: Role,
    /// The debounced state.
    pub state: SiteState,
    /// Excluded from promotion because its keyring is rotating.
    pub rotation_blocked: bool,
}

/// The matrix verdict.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Evaluation {
    /// The reason.
    pub reason: Reason,
    /// The alert text (empty when healthy).
    pub alert: String,
    /// Whether more than one core site is writable.
    pub split_brain: bool,
    /// Writable sites that are not primary-candidates: must be fenced before anything else.
    pub fence: Vec<String>,
    /// Read-only primary-candidates eligible for promotion, best first (priorities, then declared order).
    pub candidates: Vec<String>,
    /// The writable core sites.
    pub writable: Vec<String>,
}

/// Evaluates the cross-site matrix over sites in declared order.
pub fn evaluate(sites: &[SiteView], priorities: &[String]) -> Evaluation {
    let mut eval = Evaluation {
        reason: Reason::Healthy,
        alert: String::new(),
        split_brain: false,
        fence: Vec::new(),
        candidates: Vec::new(),
        writable: Vec::new(),
    };
    let core = sites.iter().filter(|s| s.role != Role::ReadOnly).count();
    eval.fence = sites
        .iter()
        .filter(|s| s.state == SiteState::Writable && s.role != Role::PrimaryCandidate)
        .map(|s| s.name.clone())
        .collect();
    let tallied = || {
        sites
            .iter()
            .filter(|s| s.role != Role::ReadOnly)
            .filter(|s| !(s.state == SiteState::Writable && s.role != Role::PrimaryCandidate))
    };
    eval.writable = tallied()
        .filter(|s| s.state == SiteState::Writable)
        .map(|s| s.name.clone())
        .collect();
    let read_only: Vec<&SiteView> = tallied()
        .filter(|s| s.state == SiteState::ReadOnly)
        .collect();
    let unreachable: Vec<&str> = tallied()
        .filter(|s| s.state == SiteState::Unreachable)
        .map(|s| s.name.as_str())
        .collect();

    if core == 0 {
        eval.reason = if eval.fence.is_empty() {
            Reason::Healthy
        } else {
            Reason::Degraded
        };
        return eval;
    }
    if !eval.fence.is_empty() {
        eval.alert = format!(
            "writable non-promotable site requires fencing ({})",
            eval.fence.join(", ")
        );
        eval.reason = Reason::Degraded;
        return eval;
    }
    if unreachable.len() == core {
        eval.alert = "TOTAL LOSS: all sites are unreachable".to_owned();
        eval.reason = Reason::TotalLoss;
        return eval;
    }
    if eval.writable.len() > 1 {
        eval.split_brain = true;
        eval.alert = format!(
            "SPLIT BRAIN: {} sites are writable ({})",
            eval.writable.len(),
            eval.writable.join(", ")
        );
        eval.reason = Reason::SplitBrain;
        return eval;
    }
    if eval.writable.is_empty() {
        if !unreachable.is_empty() && !read_only.is_empty() {
            let eligible: Vec<&SiteView> = read_only
                .iter()
                .copied()
                .filter(|s| s.role == Role::PrimaryCandidate)
                .collect();
            let ranked = rank_candidates(
                &eligible
                    .iter()
                    .filter(|s| !s.rotation_blocked)
                    .map(|s| s.name.clone())
                    .collect::<Vec<_>>(),
                priorities,
            );
            if !ranked.is_empty() {
                eval.candidates = ranked;
                eval.alert = format!(
                    "{} unreachable; promotion candidates available",
                    unreachable.join(", ")
                );
                eval.reason = Reason::Degraded;
                return eval;
            }
            if !eligible.is_empty() {
                let names: Vec<&str> = eligible.iter().map(|s| s.name.as_str()).collect();
                eval.alert = format!(
                    "NO PRIMARY: refusing to promote {} (UnsealReason=Rotation); wait for the keyring rotation",
                    names.join(", ")
                );
                eval.reason = Reason::NoPrimary;
                return eval;
            }
        }
        eval.alert = if read_only.len() == 2 && unreachable.is_empty() {
            "NO PRIMARY: both sites are read-only".to_owned()
        } else {
            "NO PRIMARY: no writable site available".to_owned()
        };
        eval.reason = Reason::NoPrimary;
        return eval;
    }
    if !unreachable.is_empty() {
        eval.alert = format!(
            "{} unreachable while {} is primary",
            unreachable.join(", "),
            eval.writable[0]
        );
        eval.reason = Reason::Degraded;
        return eval;
    }
    eval
}

/// Orders candidates: names listed in `priorities` first (in priority order), then the rest in given order.
/// Priority names that are not candidates are ignored.
pub fn rank_candidates(candidates: &[String], priorities: &[String]) -> Vec<String> {
    let mut out: Vec<String> = priorities
        .iter()
        .filter(|p| candidates.contains(p))
        .cloned()
        .collect();
    out.dedup();
    for c in candidates {
        if !out.contains(c) {
            out.push(c.clone());
        }
    }
    out
}

/// Split-brain resolution by priorities: the earliest writable primary-candidate in `priorities` wins and every
/// other writable site loses. `None` when no priority names a writable candidate.
pub fn resolve_split_brain(
    sites: &[SiteView],
    priorities: &[String],
) -> Option<(String, Vec<String>)> {
    let writable: Vec<&SiteView> = sites
        .iter()
        .filter(|s| s.state == SiteState::Writable)
        .collect();
    let winner = priorities.iter().find(|p| {
        writable
            .iter()
            .any(|s| &s.name == *p && s.role == Role::PrimaryCandidate)
    })?;
    let losers = writable
        .iter()
        .filter(|s| &s.name != winner)
        .map(|s| s.name.clone())
        .collect();
    Some((winner.clone(), losers))
}

#[cfg(test)]
mod tests {
    use super::*;

    use Role::{DrOnly, PrimaryCandidate as Pc, ReadOnly as Reader};
    use SiteState::{ReadOnly as RO, Unreachable as UNR, Writable as W};

    fn v(name: &str, role: Role, state: SiteState) -> SiteView {
        SiteView {
            name: name.into(),
            role,
            state,
            rotation_blocked: false,
        }
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn writable_and_read_only_is_healthy() {
        let e = evaluate(&[v("iad", Pc, W), v("pdx", Pc, RO)], &[]);
        assert_eq!(e.reason, Reason::Healthy);
        assert!(e.alert.is_empty());
    }

    #[test]
    fn unreachable_primary_with_read_only_peer_offers_candidate() {
        let e = evaluate(&[v("iad", Pc, UNR), v("pdx", Pc, RO)], &[]);
        assert_eq!(e.reason, Reason::Degraded);
        assert_eq!(e.candidates, names(&["pdx"]));
    }

    #[test]
    fn writable_with_unreachable_replica_alerts() {
        let e = evaluate(&[v("iad", Pc, W), v("pdx", Pc, UNR)], &[]);
        assert_eq!(e.reason, Reason::Degraded);
        assert_eq!(e.alert, "pdx unreachable while iad is primary");
        assert!(e.candidates.is_empty());
    }

    #[test]
    fn both_writable_is_split_brain() {
        let e = evaluate(&[v("iad", Pc, W), v("pdx", Pc, W)], &[]);
        assert_eq!(e.reason, Reason::SplitBrain);
        assert!(e.split_brain);
    }

    #[test]
    fn both_read_only_is_no_primary() {
        let e = evaluate(&[v("iad", Pc, RO), v("pdx", Pc, RO)], &[]);
        assert_eq!(e.reason, Reason::NoPrimary);
        assert_eq!(e.alert, "NO PRIMARY: both sites are read-only");
    }

    #[test]
    fn all_unreachable_is_total_loss() {
        let e = evaluate(&[v("iad", Pc, UNR), v("pdx", Pc, UNR)], &[]);
        assert_eq!(e.reason, Reason::TotalLoss);
        assert_eq!(e.alert, "TOTAL LOSS: all sites are unreachable");
    }

    #[test]
    fn three_sites_with_dr_only_offers_only_candidates() {
        let e = evaluate(
            &[
                v("iad", Pc, UNR),
                v("pdx", Pc, RO),
                v("fra", Pc, RO),
                v("lhr", DrOnly, RO),
            ],
            &[],
        );
        assert_eq!(e.reason, Reason::Degraded);
        assert_eq!(e.candidates, names(&["pdx", "fra"]));
    }

    #[test]
    fn unreachable_candidates_with_dr_only_read_only_is_no_primary() {
        let e = evaluate(
            &[v("iad", Pc, UNR), v("pdx", Pc, UNR), v("lhr", DrOnly, RO)],
            &[],
        );
        assert_eq!(e.reason, Reason::NoPrimary);
        assert!(e.candidates.is_empty());
    }

    #[test]
    fn priorities_reorder_candidates() {
        let e = evaluate(
            &[v("iad", Pc, UNR), v("pdx", Pc, RO), v("fra", Pc, RO)],
            &names(&["fra", "pdx"]),
        );
        assert_eq!(e.candidates, names(&["fra", "pdx"]));
    }

    #[test]
    fn three_writable_alert_mentions_three() {
        let e = evaluate(&[v("iad", Pc, W), v("pdx", Pc, W), v("fra", Pc, W)], &[]);
        assert_eq!(e.reason, Reason::SplitBrain);
        assert!(e.alert.contains('3'), "{}", e.alert);
    }

    #[test]
    fn degraded_alert_names_every_unreachable_site() {
        let e = evaluate(
            &[v("iad", Pc, W), v("pdx", Pc, UNR), v("fra", Pc, UNR)],
            &[],
        );
        assert!(
            e.alert.contains("pdx") && e.alert.contains("fra"),
            "{}",
            e.alert
        );
    }

    #[test]
    fn unreachable_reader_with_healthy_core_is_healthy() {
        let e = evaluate(
            &[v("iad", Pc, W), v("pdx", Pc, RO), v("rd", Reader, UNR)],
            &[],
        );
        assert_eq!(e.reason, Reason::Healthy);
    }

    #[test]
    fn writable_reader_is_fenced_not_split_brain() {
        let e = evaluate(
            &[v("iad", Pc, W), v("pdx", Pc, RO), v("rd", Reader, W)],
            &[],
        );
        assert_eq!(e.reason, Reason::Degraded);
        assert_eq!(e.fence, names(&["rd"]));
        assert!(!e.split_brain);
    }

    #[test]
    fn writable_dr_only_is_fenced_not_split_brain() {
        let e = evaluate(
            &[v("iad", Pc, W), v("pdx", Pc, RO), v("dr", DrOnly, W)],
            &[],
        );
        assert_eq!(e.reason, Reason::Degraded);
        assert_eq!(e.fence, names(&["dr"]));
        assert!(!e.split_brain);
    }

    #[test]
    fn sole_writable_non_promotable_with_read_only_candidates_is_no_primary_and_fenced() {
        for role in [Reader, DrOnly] {
            let e = evaluate(&[v("iad", Pc, RO), v("pdx", Pc, RO), v("x", role, W)], &[]);
            assert_eq!(e.fence, names(&["x"]));
            // Fence first: the matrix returns Degraded with the fence alert; with the fence confirmed the same
            // sites evaluate to NoPrimary.
            assert_eq!(e.reason, Reason::Degraded);
            let after = evaluate(&[v("iad", Pc, RO), v("pdx", Pc, RO), v("x", role, RO)], &[]);
            assert_eq!(after.reason, Reason::NoPrimary);
        }
    }

    #[test]
    fn rotation_blocked_candidates_are_refused() {
        let mut pdx = v("pdx", Pc, RO);
        pdx.rotation_blocked = true;
        let e = evaluate(&[v("iad", Pc, UNR), pdx], &[]);
        assert_eq!(e.reason, Reason::NoPrimary);
        assert!(e.alert.contains("UnsealReason=Rotation"), "{}", e.alert);
    }

    #[test]
    fn ranking_follows_priorities_and_ignores_unknown_names() {
        let c = names(&["pdx", "fra", "iad"]);
        assert_eq!(rank_candidates(&c, &[]), c);
        assert_eq!(
            rank_candidates(&c, &names(&["iad", "fra"])),
            names(&["iad", "fra", "pdx"])
        );
        assert_eq!(
            rank_candidates(&c, &names(&["lhr", "fra"])),
            names(&["fra", "pdx", "iad"])
        );
    }

    #[test]
    fn split_brain_resolution_by_priorities() {
        let sites = [v("iad", Pc, W), v("pdx", Pc, W), v("dr", DrOnly, W)];
        let (winner, losers) = resolve_split_brain(&sites, &names(&["pdx", "iad"])).unwrap();
        assert_eq!(winner, "pdx");
        assert_eq!(losers, names(&["iad", "dr"]));
        assert!(resolve_split_brain(&sites, &[]).is_none());
        assert!(resolve_split_brain(&sites, &names(&["fra"])).is_none());
        assert!(resolve_split_brain(&[v("dr", DrOnly, W)], &names(&["dr"])).is_none());
    }
}
