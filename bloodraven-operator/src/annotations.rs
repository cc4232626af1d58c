//! Glue between the engine and `bloodraven-api`'s annotation grammars.
//!
//! The grammars, the GTID-prefix interlock and their error messages live in
//! [`bloodraven_api::annotations`]; the engine only passes what it knows: its configured site names, the group's
//! name and the divergent GTID set it recorded for the site.

use std::time::Duration;

pub use bloodraven_api::annotations::{
    MIN_GTID_PREFIX_LEN, PlannedFailoverRequest, RecloneConfirmation, RecloneRequest,
};
pub use bloodraven_api::names::annotation::{PLANNED_FAILOVER, RECLONE_SITE};

/// A planned-failover annotation value, parsed: the target site and the `maxLagWait` override.
pub(crate) fn planned(value: &str) -> Result<(String, Option<Duration>), bloodraven_api::Error> {
    let request = PlannedFailoverRequest::parse(value)?;
    // The grammar guarantees a positive `maxLagWait`, so `to_std` never drops one.
    let max_lag_wait = request.max_lag_wait.as_ref().and_then(|d| d.to_std());
    Ok((request.site, max_lag_wait))
}

/// A reclone annotation value, parsed and authorized against the configured `sites`, the `group` name and the
/// site's recorded `divergentGtid` (empty when none); returns the site to reclone.
pub(crate) fn reclone<'a>(
    value: &str,
    sites: impl IntoIterator<Item = &'a str>,
    group: &str,
    divergent_gtid: impl FnOnce(&str) -> &'a str,
) -> Result<String, bloodraven_api::Error> {
    let request = RecloneRequest::parse(value)?;
    request.authorize(sites, group, Some(divergent_gtid(&request.site)))?;
    Ok(request.site)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn planned_converts_the_go_duration() {
        assert_eq!(
            planned("pdx:maxLagWait=1m30s").unwrap(),
            ("pdx".to_owned(), Some(Duration::from_secs(90)))
        );
        assert_eq!(planned(" pdx ").unwrap(), ("pdx".to_owned(), None));
        let err = planned("pdx:maxLagWait=0s").unwrap_err().to_string();
        assert!(err.contains(PLANNED_FAILOVER), "{err}");
    }

    #[test]
    fn reclone_passes_sites_group_and_the_sites_divergent_gtid() {
        let d = "3e11fa47-71ca-11e1-9e33-c80aa9429562:6-10";
        let divergent = |site: &str| if site == "pdx" { d } else { "" };
        let sites = ["iad", "pdx"];
        assert_eq!(
            reclone("pdx:3e11fa47-71", sites, "g", divergent).unwrap(),
            "pdx"
        );
        assert_eq!(reclone("iad", sites, "g", divergent).unwrap(), "iad");
        assert_eq!(
            reclone("iad:confirm=g", sites, "g", divergent).unwrap(),
            "iad"
        );
        for bad in [
            "pdx",
            "pdx:3e11fa4",
            "pdx:confirm=g",
            "iad:confirm=h",
            "fra",
        ] {
            let err = reclone(bad, sites, "g", divergent).unwrap_err().to_string();
            assert!(err.contains(RECLONE_SITE), "{bad}: {err}");
        }
    }
}
