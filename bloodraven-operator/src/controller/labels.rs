//! The pod role labels that move client traffic (reference-failover.md §6.2): `shipstream.io/role` selects pods
//! for `mysql-<group>-primary`, `shipstream.io/role=replica` with `shipstream.io/healthy=yes` for
//! `mysql-<group>-replicas`. [`pod_labels`] decides them from a poll's status; the platform patches the pods,
//! replicas first and the primary last, so two primaries never appear in the endpoints.

use std::collections::BTreeMap;

use bloodraven_api::names::label;

use crate::engine::{Config, Role, SiteState, Status};
use crate::record::PlannedPhase;

/// The labels of one site's pods.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct PodLabels {
    /// `primary`, `replica` or `fenced`.
    pub role: &'static str,
    /// `shipstream.io/healthy=yes` (the label is removed otherwise).
    pub healthy: bool,
}

/// Every site's labels for `status`, in patch order (replicas and fenced first, the primary last).
///
/// Authority is valid only when every site has a status, exactly one is writable, `activeSite` names it and it is a
/// primary-candidate; then its pods are `primary` and the others `replica`. Otherwise every site is `replica`:
/// shedding the `-primary` endpoints beats keeping stale ones. While a planned failover drains, waits or promotes,
/// the source is `fenced`. Readers are healthy only when authority is valid and they are read-only, replicating from
/// the active site's host and within `readOnlyMaxLagSeconds`.
pub fn pod_labels(
    config: &Config,
    status: &Status,
    read_only_max_lag: u64,
) -> Vec<(String, PodLabels)> {
    let writable: Vec<&str> = status
        .sites
        .iter()
        .filter(|s| s.state == SiteState::Writable)
        .map(|s| s.name.as_str())
        .collect();
    let active = status.active_site.as_deref();
    let authority = status.sites.len() == config.sites.len()
        && writable.len() == 1
        && active == Some(writable[0])
        && config
            .sites
            .iter()
            .any(|s| Some(s.name.as_str()) == active && s.role == Role::PrimaryCandidate);
    let draining = status.planned.as_ref().is_some_and(|p| {
        matches!(
            p.phase,
            PlannedPhase::Draining | PlannedPhase::WaitingForLag | PlannedPhase::Promoting
        )
    });
    let active_host = active
        .and_then(|a| config.index(a))
        .map(|i| config.sites[i].host.as_str());
    let mut out: Vec<(String, PodLabels)> = config
        .sites
        .iter()
        .zip(&status.sites)
        .map(|(site, s)| {
            let is_active = authority && active == Some(site.name.as_str());
            let role = if draining
                && status
                    .planned
                    .as_ref()
                    .is_some_and(|p| p.source == site.name)
            {
                label::ROLE_FENCED
            } else if is_active {
                label::ROLE_PRIMARY
            } else {
                label::ROLE_REPLICA
            };
            let serving = matches!(s.state, SiteState::Writable | SiteState::ReadOnly);
            let healthy = if site.role == Role::ReadOnly {
                authority
                    && s.state == SiteState::ReadOnly
                    && s.source_convergence_state == "Converged"
                    && s.replicating
                    && s.seconds_behind.is_some_and(|lag| lag <= read_only_max_lag)
                    && Some(s.source_host.as_str()) == active_host
            } else {
                serving
            };
            (site.name.clone(), PodLabels { role, healthy })
        })
        .collect();
    out.sort_by_key(|(_, l)| l.role == label::ROLE_PRIMARY);
    out
}

/// Labels `site` `fenced` (not healthy), as a full-instance in-place restore does to its target, keeping the
/// patch order (the primary, if one is left, last).
pub fn fence(labels: &mut [(String, PodLabels)], site: &str) {
    for (s, l) in labels.iter_mut() {
        if s == site {
            l.role = label::ROLE_FENCED;
            l.healthy = false;
        }
    }
    labels.sort_by_key(|(_, l)| l.role == label::ROLE_PRIMARY);
}

/// The label patch (`metadata.labels`) that gives a pod `labels` (`healthy` removed when not healthy).
pub fn label_patch(labels: &PodLabels) -> BTreeMap<&'static str, Option<&'static str>> {
    BTreeMap::from([
        (label::ROLE, Some(labels.role)),
        (label::HEALTHY, labels.healthy.then_some("yes")),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Config, Reason, SiteConfig, SiteStatus};
    use crate::record::PlannedStatus;
    use std::time::Duration;

    fn config() -> Config {
        Config::new(
            "orders",
            vec![
                SiteConfig::new("iad", Role::PrimaryCandidate, "iad.db"),
                SiteConfig::new("pdx", Role::PrimaryCandidate, "pdx.db"),
                SiteConfig::new("rdr", Role::ReadOnly, "rdr.db"),
            ],
        )
    }

    fn site(name: &str, state: SiteState, source: &str, lag: Option<u64>) -> SiteStatus {
        SiteStatus {
            name: name.into(),
            state,
            last_seen: None,
            source_host: source.into(),
            source_convergence_state: if source.is_empty() {
                String::new()
            } else {
                "Converged".into()
            },
            source_convergence_reason: String::new(),
            replicating: !source.is_empty(),
            seconds_behind: lag,
            gtid_executed: String::new(),
            recovery_state: String::new(),
            divergent_gtid: String::new(),
            divergent_count: 0,
        }
    }

    fn status(active: Option<&str>, sites: Vec<SiteStatus>) -> Status {
        Status {
            active_site: active.map(str::to_owned),
            sites,
            reason: Reason::Healthy,
            alert: String::new(),
            conditions: vec![],
            last_failover: None,
            last_failover_target: None,
            promotion_gtid: None,
            planned: None,
            suppressed: None,
        }
    }

    fn roles(labels: &[(String, PodLabels)]) -> Vec<(&str, &str, bool)> {
        labels
            .iter()
            .map(|(s, l)| (s.as_str(), l.role, l.healthy))
            .collect()
    }

    #[test]
    fn an_in_place_restore_fences_its_target_so_no_pod_is_primary() {
        let s = status(
            Some("iad"),
            vec![
                site("iad", SiteState::Writable, "", None),
                site("pdx", SiteState::ReadOnly, "iad.db", Some(0)),
                site("rdr", SiteState::ReadOnly, "iad.db", Some(3)),
            ],
        );
        let mut labels = pod_labels(&config(), &s, 10);
        fence(&mut labels, "iad");
        assert_eq!(
            roles(&labels),
            [
                ("pdx", "replica", true),
                ("rdr", "replica", true),
                ("iad", "fenced", false)
            ]
        );
    }

    #[test]
    fn a_healthy_group_has_one_primary_labelled_last() {
        let s = status(
            Some("iad"),
            vec![
                site("iad", SiteState::Writable, "", None),
                site("pdx", SiteState::ReadOnly, "iad.db", Some(0)),
                site("rdr", SiteState::ReadOnly, "iad.db", Some(3)),
            ],
        );
        assert_eq!(
            roles(&pod_labels(&config(), &s, 10)),
            [
                ("pdx", "replica", true),
                ("rdr", "replica", true),
                ("iad", "primary", true)
            ]
        );
        // A lagging reader leaves the reader Service.
        assert_eq!(
            roles(&pod_labels(&config(), &s, 2))[1],
            ("rdr", "replica", false)
        );
    }

    #[test]
    fn without_authority_nobody_is_primary() {
        // Two writable sites.
        let s = status(
            Some("iad"),
            vec![
                site("iad", SiteState::Writable, "", None),
                site("pdx", SiteState::Writable, "", None),
                site("rdr", SiteState::ReadOnly, "iad.db", Some(0)),
            ],
        );
        let l = pod_labels(&config(), &s, 10);
        assert!(l.iter().all(|(_, l)| l.role == "replica"), "{l:?}");
        assert!(!l[2].1.healthy, "a reader is not healthy without authority");
        // The primary died: nothing writable.
        let s = status(
            None,
            vec![
                site("iad", SiteState::Unreachable, "", None),
                site("pdx", SiteState::ReadOnly, "iad.db", Some(0)),
                site("rdr", SiteState::ReadOnly, "iad.db", Some(0)),
            ],
        );
        assert_eq!(
            roles(&pod_labels(&config(), &s, 10)),
            [
                ("iad", "replica", false),
                ("pdx", "replica", true),
                ("rdr", "replica", false)
            ]
        );
    }

    #[test]
    fn a_draining_planned_source_is_fenced() {
        let mut s = status(
            Some("iad"),
            vec![
                site("iad", SiteState::Writable, "", None),
                site("pdx", SiteState::ReadOnly, "iad.db", Some(0)),
                site("rdr", SiteState::ReadOnly, "iad.db", Some(0)),
            ],
        );
        s.planned = Some(PlannedStatus {
            phase: PlannedPhase::WaitingForLag,
            target: "pdx".into(),
            source: "iad".into(),
            source_gtid_at_fence: None,
            target_gtid_at_promotion: None,
            start: Duration::ZERO,
            drain_start: None,
            lag_wait_start: None,
            completion: None,
            max_lag_wait: Duration::from_secs(30),
            drain_timeout: Duration::from_secs(30),
            reason: String::new(),
            message: String::new(),
            transactions_lost: 0,
            retry_after: None,
        });
        assert_eq!(
            pod_labels(&config(), &s, 10)[0],
            (
                "iad".into(),
                PodLabels {
                    role: "fenced",
                    healthy: true
                }
            )
        );
    }
}
