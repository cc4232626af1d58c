//! The value grammars of the annotations users put on a `MysqlFailoverGroup`.
//!
//! [`PlannedFailoverRequest`] parses `bloodraven.shipstream.io/planned-failover`
//! (`<site>[:maxLagWait=<duration>]`) and [`RecloneRequest`] parses
//! `bloodraven.shipstream.io/reclone-site` (`<site>:<gtid-prefix>` for a site with divergent
//! transactions; `<site>:confirm=<group>` or a bare `<site>` for a cold reclone). Parsing checks
//! the syntax; the `check_*`/`authorize` methods check the value against the group.

use std::fmt;
use std::str::FromStr;

use crate::Error;
use crate::duration::Duration;
use crate::failovergroup::MysqlFailoverGroupSpec;
use crate::names::annotation::{PLANNED_FAILOVER, RECLONE_SITE};

/// Minimum length of the GTID prefix that confirms a hot reclone.
pub const MIN_GTID_PREFIX_LEN: usize = 8;

/// A planned switchover request: `<site>` or `<site>:maxLagWait=<duration>`.
///
/// ```
/// use bloodraven_api::annotations::PlannedFailoverRequest;
///
/// let request: PlannedFailoverRequest = "pdx:maxLagWait=90s".parse()?;
/// assert_eq!(request.site, "pdx");
/// assert_eq!(request.max_lag_wait.unwrap().as_nanos(), 90_000_000_000);
/// assert!("pdx:maxLag=90s".parse::<PlannedFailoverRequest>().is_err());
/// # Ok::<(), bloodraven_api::Error>(())
/// ```
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct PlannedFailoverRequest {
    /// The site to promote.
    pub site: String,
    /// Overrides `spec.plannedFailover.maxLagWait` (always greater than zero).
    pub max_lag_wait: Option<Duration>,
}

impl PlannedFailoverRequest {
    /// Parses an annotation value (surrounding spaces and empty `:` tokens are ignored).
    pub fn parse(value: &str) -> Result<Self, Error> {
        let fail = |problem: String| Error::Annotation {
            annotation: PLANNED_FAILOVER,
            value: value.to_owned(),
            problem,
        };
        let mut tokens = value.split(':').map(str::trim);
        let site = tokens.next().unwrap_or_default();
        if site.is_empty() {
            return Err(fail(
                "the site is empty: write <site> or <site>:maxLagWait=<duration>".into(),
            ));
        }
        if site.contains('=') {
            return Err(fail(format!(
                "{site:?} is not a site name: the value starts with the site, as in pdx:maxLagWait=2m"
            )));
        }
        let mut max_lag_wait = None;
        for token in tokens.filter(|t| !t.is_empty()) {
            let Some((key, val)) = token.split_once('=') else {
                return Err(fail(format!(
                    "{token:?} is not key=value: write maxLagWait=<duration>"
                )));
            };
            match key.trim() {
                "maxLagWait" => {
                    if max_lag_wait.is_some() {
                        return Err(fail("maxLagWait is given twice: keep one".into()));
                    }
                    let d = Duration::parse(val.trim())
                        .map_err(|e| fail(format!("maxLagWait: {e}")))?;
                    if d.as_nanos() <= 0 {
                        return Err(fail(format!("maxLagWait {d} must be greater than zero")));
                    }
                    max_lag_wait = Some(d);
                }
                other => {
                    return Err(fail(format!(
                        "unknown key {other:?}: the only key is maxLagWait"
                    )));
                }
            }
        }
        Ok(PlannedFailoverRequest {
            site: site.to_owned(),
            max_lag_wait,
        })
    }

    /// Checks that the target is a site of the group.
    pub fn check_site(&self, spec: &MysqlFailoverGroupSpec) -> Result<(), Error> {
        if spec.site(&self.site).is_some() {
            return Ok(());
        }
        let names: Vec<&str> = spec.sites.iter().map(|s| s.name.as_str()).collect();
        Err(Error::Annotation {
            annotation: PLANNED_FAILOVER,
            value: self.to_string(),
            problem: format!(
                "unknown site {:?}: use one of {}",
                self.site,
                names.join(", ")
            ),
        })
    }
}

impl FromStr for PlannedFailoverRequest {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for PlannedFailoverRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.site)?;
        if let Some(d) = &self.max_lag_wait {
            write!(f, ":maxLagWait={d}")?;
        }
        Ok(())
    }
}

/// A reclone request: which site to wipe and re-clone, and how the request is confirmed.
///
/// ```
/// use bloodraven_api::annotations::{RecloneConfirmation, RecloneRequest};
///
/// let hot: RecloneRequest = "iad:a1b2c3d4".parse()?;
/// assert_eq!(hot.confirmation, RecloneConfirmation::GtidPrefix("a1b2c3d4".into()));
/// hot.authorize("orders", Some("a1b2c3d4-0000-0000-0000-000000000000:11-15"))?;
///
/// let cold: RecloneRequest = "iad:confirm=orders".parse()?;
/// cold.authorize("orders", None)?;
/// assert!(cold.authorize("payments", None).is_err());
/// assert!("iad:a1b2".parse::<RecloneRequest>().is_err()); // prefix too short
/// # Ok::<(), bloodraven_api::Error>(())
/// ```
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct RecloneRequest {
    /// The site to reclone.
    pub site: String,
    /// The confirmation that came with it.
    pub confirmation: RecloneConfirmation,
}

/// How a reclone request is confirmed.
#[derive(Clone, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum RecloneConfirmation {
    /// Bare `<site>`: a cold reclone of a site without divergent transactions.
    Bare,
    /// `<site>:confirm=<group>`: a cold reclone confirmed with the group's name.
    ConfirmGroup(String),
    /// `<site>:<prefix>`: a hot reclone confirmed with at least 8 leading characters of the
    /// site's `status.sites[].divergentGtid`.
    GtidPrefix(String),
}

impl RecloneRequest {
    /// Parses an annotation value (trimmed, split at the first `:`).
    pub fn parse(value: &str) -> Result<Self, Error> {
        let fail = |problem: String| Error::Annotation {
            annotation: RECLONE_SITE,
            value: value.to_owned(),
            problem,
        };
        let trimmed = value.trim();
        let (site, rest) = match trimmed.split_once(':') {
            Some((site, rest)) => (site.trim(), Some(rest.trim())),
            None => (trimmed, None),
        };
        if site.is_empty() {
            return Err(fail(
                "the site is empty: write <site>:<divergent-GTID-prefix> or <site>:confirm=<group>"
                    .into(),
            ));
        }
        let confirmation = match rest {
            None => RecloneConfirmation::Bare,
            Some(rest) => match rest.strip_prefix("confirm=") {
                Some(group) if group.trim().is_empty() => {
                    return Err(fail(
                        "confirm= needs the group's name: write <site>:confirm=<group>".into(),
                    ));
                }
                Some(group) => RecloneConfirmation::ConfirmGroup(group.trim().to_owned()),
                None if rest.chars().count() < MIN_GTID_PREFIX_LEN => {
                    return Err(fail(format!(
                        "the GTID prefix {rest:?} is shorter than {MIN_GTID_PREFIX_LEN} characters: copy at least the first {MIN_GTID_PREFIX_LEN} characters of status.sites[].divergentGtid"
                    )));
                }
                None => RecloneConfirmation::GtidPrefix(rest.to_owned()),
            },
        };
        Ok(RecloneRequest {
            site: site.to_owned(),
            confirmation,
        })
    }

    /// Checks the confirmation against the group's name and the site's recorded divergent GTID
    /// set (`status.sites[].divergentGtid`, `None` or empty when there is none).
    ///
    /// A site with divergent transactions needs the GTID-prefix form; a site without needs a
    /// cold form (`confirm=<group>` naming this group, or the bare site).
    pub fn authorize(&self, group: &str, divergent_gtid: Option<&str>) -> Result<(), Error> {
        let fail = |problem: String| Error::Annotation {
            annotation: RECLONE_SITE,
            value: self.to_string(),
            problem,
        };
        let divergent = divergent_gtid.filter(|g| !g.is_empty());
        match (&self.confirmation, divergent) {
            (RecloneConfirmation::GtidPrefix(prefix), Some(gtid)) => {
                if gtid.starts_with(prefix.as_str()) {
                    Ok(())
                } else {
                    Err(fail(format!(
                        "{prefix:?} is not a prefix of site {}'s divergentGtid (it starts with {:?}): re-read status.sites[].divergentGtid",
                        self.site,
                        gtid.chars().take(MIN_GTID_PREFIX_LEN).collect::<String>()
                    )))
                }
            }
            (_, Some(gtid)) => Err(fail(format!(
                "site {} has divergent transactions: confirm with their GTID prefix, e.g. {}:{}",
                self.site,
                self.site,
                gtid.chars().take(MIN_GTID_PREFIX_LEN).collect::<String>()
            ))),
            (RecloneConfirmation::GtidPrefix(_), None) => Err(fail(format!(
                "site {} has no divergent GTIDs to match: a cold reclone wipes the datadir, confirm it with {}:confirm={group}",
                self.site, self.site
            ))),
            (RecloneConfirmation::ConfirmGroup(name), None) if name != group => Err(fail(format!(
                "confirm={name} does not name this group: write {}:confirm={group}",
                self.site
            ))),
            (RecloneConfirmation::ConfirmGroup(_) | RecloneConfirmation::Bare, None) => Ok(()),
        }
    }
}

impl FromStr for RecloneRequest {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for RecloneRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.confirmation {
            RecloneConfirmation::Bare => f.write_str(&self.site),
            RecloneConfirmation::ConfirmGroup(group) => write!(f, "{}:confirm={group}", self.site),
            RecloneConfirmation::GtidPrefix(prefix) => write!(f, "{}:{prefix}", self.site),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn planned_failover_valid() {
        let cases: &[(&str, &str, Option<i64>, &str)] = &[
            ("pdx", "pdx", None, "pdx"),
            ("  pdx  ", "pdx", None, "pdx"),
            ("pdx:maxLagWait=90s", "pdx", Some(90), "pdx:maxLagWait=90s"),
            (
                "pdx: maxLagWait = 1m30s ",
                "pdx",
                Some(90),
                "pdx:maxLagWait=1m30s",
            ),
            ("pdx::maxLagWait=5m:", "pdx", Some(300), "pdx:maxLagWait=5m"),
            ("pdx:", "pdx", None, "pdx"),
        ];
        for (value, site, secs, display) in cases {
            let r = PlannedFailoverRequest::parse(value).unwrap_or_else(|e| panic!("{value}: {e}"));
            assert_eq!(r.site, *site, "{value}");
            assert_eq!(
                r.max_lag_wait
                    .as_ref()
                    .map(|d| d.as_nanos() / 1_000_000_000),
                *secs,
                "{value}"
            );
            assert_eq!(r.to_string(), *display);
        }
    }

    #[test]
    fn planned_failover_invalid() {
        let cases: &[(&str, &str)] = &[
            ("", "the site is empty"),
            ("   ", "the site is empty"),
            (":maxLagWait=5m", "the site is empty"),
            ("maxLagWait=5m", "is not a site name"),
            ("pdx:maxLagWait", "is not key=value"),
            ("pdx:maxLag=5m", "unknown key \"maxLag\""),
            ("pdx:maxLagWait=5 minutes", "maxLagWait: invalid duration"),
            ("pdx:maxLagWait=0s", "must be greater than zero"),
            ("pdx:maxLagWait=-5s", "must be greater than zero"),
            ("pdx:maxLagWait=1m:maxLagWait=2m", "given twice"),
        ];
        for (value, expected) in cases {
            let err = PlannedFailoverRequest::parse(value)
                .expect_err(value)
                .to_string();
            assert!(err.contains(expected), "{value}: {err}");
            assert!(
                err.starts_with("invalid bloodraven.shipstream.io/planned-failover annotation"),
                "{err}"
            );
        }
    }

    #[test]
    fn reclone_valid() {
        use RecloneConfirmation::*;
        let cases: &[(&str, &str, RecloneConfirmation)] = &[
            ("iad", "iad", Bare),
            (" iad ", "iad", Bare),
            ("iad:a1b2c3d4", "iad", GtidPrefix("a1b2c3d4".into())),
            (
                "iad:a1b2c3d4-0000-0000-0000-000000000000:11",
                "iad",
                GtidPrefix("a1b2c3d4-0000-0000-0000-000000000000:11".into()),
            ),
            ("iad:confirm=orders", "iad", ConfirmGroup("orders".into())),
            (
                "iad : confirm=orders ",
                "iad",
                ConfirmGroup("orders".into()),
            ),
        ];
        for (value, site, confirmation) in cases {
            let r = RecloneRequest::parse(value).unwrap_or_else(|e| panic!("{value}: {e}"));
            assert_eq!(
                (r.site.as_str(), &r.confirmation),
                (*site, confirmation),
                "{value}"
            );
            assert_eq!(RecloneRequest::parse(&r.to_string()).unwrap(), r);
        }
    }

    #[test]
    fn reclone_invalid() {
        let cases: &[(&str, &str)] = &[
            ("", "the site is empty"),
            (":a1b2c3d4", "the site is empty"),
            ("iad:a1b2c3d", "shorter than 8 characters"),
            ("iad:", "shorter than 8 characters"),
            ("iad:confirm=", "needs the group's name"),
        ];
        for (value, expected) in cases {
            let err = RecloneRequest::parse(value).expect_err(value).to_string();
            assert!(err.contains(expected), "{value}: {err}");
        }
    }

    #[test]
    fn reclone_authorization() {
        let gtid = Some("a1b2c3d4-0000-0000-0000-000000000000:11-15");
        let ok: &[(&str, Option<&str>)] = &[
            ("iad:a1b2c3d4", gtid),
            ("iad:a1b2c3d4-0000", gtid),
            ("iad:confirm=orders", None),
            ("iad:confirm=orders", Some("")),
            ("iad", None),
        ];
        for (value, divergent) in ok {
            RecloneRequest::parse(value)
                .unwrap()
                .authorize("orders", *divergent)
                .unwrap_or_else(|e| panic!("{value}: {e}"));
        }
        let bad: &[(&str, Option<&str>, &str)] = &[
            ("iad:ffffffff", gtid, "is not a prefix"),
            ("iad:confirm=orders", gtid, "has divergent transactions"),
            ("iad", gtid, "iad:a1b2c3d4"),
            ("iad:a1b2c3d4", None, "confirm it with iad:confirm=orders"),
            ("iad:confirm=payments", None, "does not name this group"),
        ];
        for (value, divergent, expected) in bad {
            let err = RecloneRequest::parse(value)
                .unwrap()
                .authorize("orders", *divergent)
                .expect_err(value)
                .to_string();
            assert!(err.contains(expected), "{value}: {err}");
        }
    }
}
