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
/// [`parse`](Self::parse) checks the grammar; [`authorize`](Self::authorize) applies the
/// reference's interlock against the group: the site must be configured, a site with recorded
/// divergent transactions needs at least [`MIN_GTID_PREFIX_LEN`] leading characters of its
/// `divergentGtid` (or all of it, when it is shorter), and a site without may be recloned cold, bare (`iad`) or confirmed with the
/// group's name (`iad:confirm=orders`).
///
/// ```
/// use bloodraven_api::annotations::{RecloneConfirmation, RecloneRequest};
///
/// let sites = ["iad", "pdx"];
/// let hot: RecloneRequest = "iad:a1b2c3d4".parse()?;
/// assert_eq!(hot.confirmation, RecloneConfirmation::GtidPrefix("a1b2c3d4".into()));
/// hot.authorize(&sites, "orders", Some("a1b2c3d4-0000-0000-0000-000000000000:11-15"))?;
///
/// let cold: RecloneRequest = "iad:confirm=orders".parse()?;
/// cold.authorize(&sites, "orders", None)?;
/// assert!(cold.authorize(&sites, "payments", None).is_err());
/// "iad".parse::<RecloneRequest>()?.authorize(&sites, "orders", None)?;
/// assert!("fra".parse::<RecloneRequest>()?.authorize(&sites, "orders", None).is_err());
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
    /// `<site>:<prefix>`: a hot reclone confirmed with at least [`MIN_GTID_PREFIX_LEN`] leading
    /// characters of the site's `status.sites[].divergentGtid`.
    GtidPrefix(String),
}

impl RecloneRequest {
    /// Parses an annotation value (trimmed, split at the first `:`).
    ///
    /// This checks the grammar only; the prefix length and everything that depends on the group
    /// is checked by [`authorize`](Self::authorize), where the error can show the right prefix.
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
                "the site is empty: expected <site> or <site>:<divergentGtid-prefix>".into(),
            ));
        }
        let confirmation = match rest {
            None => RecloneConfirmation::Bare,
            Some("") => {
                return Err(fail(format!(
                    "nothing follows the ':': write {site}:<divergentGtid-prefix>, {site}:confirm=<group> or the bare site {site}"
                )));
            }
            Some(rest) => match rest.strip_prefix("confirm=") {
                Some(group) if group.trim().is_empty() => {
                    return Err(fail(format!(
                        "confirm= needs the group's name: write {site}:confirm=<group>"
                    )));
                }
                Some(group) => RecloneConfirmation::ConfirmGroup(group.trim().to_owned()),
                None => RecloneConfirmation::GtidPrefix(rest.to_owned()),
            },
        };
        Ok(RecloneRequest {
            site: site.to_owned(),
            confirmation,
        })
    }

    /// Checks the request against the group: its configured site names (`spec.sites[].name`),
    /// its name (`metadata.name`) and the site's recorded divergent GTID set
    /// (`status.sites[].divergentGtid`; `None` or empty when there is none).
    ///
    /// The rules, in order (reference-failover §2.6):
    /// 1. the site is one of `sites`;
    /// 2. with a divergent GTID recorded (hot reclone): the confirmation is a GTID prefix of at
    ///    least [`MIN_GTID_PREFIX_LEN`] characters that is a plain prefix of the recorded set;
    ///    `confirm=` and the bare form are refused, since they would discard the transactions
    ///    unseen;
    /// 3. without (cold reclone): the bare site, or `confirm=` naming this group; a GTID prefix
    ///    is refused, since there is nothing to match.
    ///
    /// Every error names the fix, with the first [`MIN_GTID_PREFIX_LEN`] characters of the
    /// recorded set as a hint when there is one.
    pub fn authorize<S: AsRef<str>>(
        &self,
        sites: impl IntoIterator<Item = S>,
        group: &str,
        divergent_gtid: Option<&str>,
    ) -> Result<(), Error> {
        let fail = |problem: String| Error::Annotation {
            annotation: RECLONE_SITE,
            value: self.to_string(),
            problem,
        };
        let site = self.site.as_str();
        let sites: Vec<S> = sites.into_iter().collect();
        if !sites.iter().any(|s| s.as_ref() == site) {
            let names: Vec<&str> = sites.iter().map(AsRef::as_ref).collect();
            return Err(fail(format!(
                "unknown site {site:?}: spec.sites has {}",
                names.join(", ")
            )));
        }
        let Some(gtid) = divergent_gtid.filter(|g| !g.is_empty()) else {
            return match &self.confirmation {
                RecloneConfirmation::Bare => Ok(()),
                RecloneConfirmation::ConfirmGroup(name) if name == group => Ok(()),
                RecloneConfirmation::ConfirmGroup(name) => Err(fail(format!(
                    "confirm={name} does not name this group: write {site}:confirm={group}"
                ))),
                RecloneConfirmation::GtidPrefix(prefix) => Err(fail(format!(
                    "site {site} has no divergent GTIDs for {prefix:?} to match: a cold reclone wipes the datadir, confirm it with {site}:confirm={group}"
                ))),
            };
        };
        let hint: String = gtid.chars().take(MIN_GTID_PREFIX_LEN).collect();
        match &self.confirmation {
            // A set shorter than the minimum (one MariaDB GTID such as `0-2-490`) is confirmed by writing it whole.
            RecloneConfirmation::GtidPrefix(prefix) if prefix == gtid => Ok(()),
            RecloneConfirmation::GtidPrefix(prefix)
                if prefix.chars().count() < MIN_GTID_PREFIX_LEN =>
            {
                Err(fail(format!(
                    "the GTID prefix {prefix:?} is shorter than {MIN_GTID_PREFIX_LEN} characters: write at least the first {MIN_GTID_PREFIX_LEN} characters of site {site}'s divergentGtid, e.g. {site}:{hint}"
                )))
            }
            RecloneConfirmation::GtidPrefix(prefix) if gtid.starts_with(prefix.as_str()) => Ok(()),
            RecloneConfirmation::GtidPrefix(prefix) => Err(fail(format!(
                "{prefix:?} is not a prefix of site {site}'s divergentGtid (it starts with {hint:?}): re-read status.sites[].divergentGtid and write e.g. {site}:{hint}"
            ))),
            RecloneConfirmation::ConfirmGroup(_) => Err(fail(format!(
                "site {site} has divergent transactions, so confirm= does not apply: a reclone discards them, confirm with their GTID prefix, e.g. {site}:{hint}"
            ))),
            RecloneConfirmation::Bare => Err(fail(format!(
                "site {site} has divergent transactions: a reclone discards them, confirm with their GTID prefix, e.g. {site}:{hint}"
            ))),
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

    const GTID: Option<&str> = Some("a1b2c3d4-0000-0000-0000-000000000000:11-15");
    const SITES: [&str; 2] = ["iad", "pdx"];

    /// Authorizes `value` for site list [`SITES`] and group `orders`.
    fn authorize(value: &str, divergent: Option<&str>) -> Result<(), String> {
        RecloneRequest::parse(value)
            .unwrap_or_else(|e| panic!("{value}: {e}"))
            .authorize(SITES, "orders", divergent)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn reclone_grammar() {
        use RecloneConfirmation::*;
        let cases: &[(&str, &str, RecloneConfirmation)] = &[
            ("iad", "iad", Bare),
            (" iad ", "iad", Bare),
            ("iad:a1b2c3d4", "iad", GtidPrefix("a1b2c3d4".into())),
            ("iad:a1b2", "iad", GtidPrefix("a1b2".into())),
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
    fn reclone_rejects_an_empty_site() {
        for value in ["", "  ", ":a1b2c3d4", " :confirm=orders"] {
            let err = RecloneRequest::parse(value).expect_err(value).to_string();
            assert!(err.contains("the site is empty"), "{value}: {err}");
            assert!(
                err.starts_with("invalid bloodraven.shipstream.io/reclone-site annotation"),
                "{err}"
            );
        }
    }

    #[test]
    fn reclone_rejects_an_empty_confirmation() {
        let err = RecloneRequest::parse("iad:").unwrap_err().to_string();
        assert!(err.contains("nothing follows the ':'"), "{err}");
        let err = RecloneRequest::parse("iad:confirm= ")
            .unwrap_err()
            .to_string();
        assert!(err.contains("write iad:confirm=<group>"), "{err}");
    }

    #[test]
    fn reclone_site_must_be_configured() {
        for divergent in [None, GTID] {
            let err = authorize("fra:a1b2c3d4", divergent).unwrap_err();
            assert!(
                err.ends_with("unknown site \"fra\": spec.sites has iad, pdx"),
                "{err}"
            );
        }
        assert!(authorize("pdx", None).is_ok());
    }

    #[test]
    fn reclone_hot_accepts_a_plain_prefix_of_eight_or_more() {
        for value in [
            "iad:a1b2c3d4",
            "iad:a1b2c3d4-0000",
            "iad:a1b2c3d4-0000-0000-0000-000000000000:11-15",
        ] {
            authorize(value, GTID).unwrap_or_else(|e| panic!("{value}: {e}"));
        }
    }

    #[test]
    fn reclone_hot_rejects_a_short_prefix_with_a_hint() {
        let err = authorize("iad:a1b2c3d", GTID).unwrap_err();
        assert!(
            err.ends_with(
                "the GTID prefix \"a1b2c3d\" is shorter than 8 characters: write at least the first 8 characters of site iad's divergentGtid, e.g. iad:a1b2c3d4"
            ),
            "{err}"
        );
    }

    /// One MariaDB GTID can be shorter than the minimum prefix: written whole, it confirms the reclone; any shorter
    /// part of it is still refused.
    #[test]
    fn reclone_hot_accepts_a_short_divergent_set_written_whole() {
        assert!(authorize("iad:0-2-490", Some("0-2-490")).is_ok());
        let err = authorize("iad:0-2-49", Some("0-2-490")).unwrap_err();
        assert!(err.contains("shorter than 8 characters"), "{err}");
    }

    #[test]
    fn reclone_hot_rejects_a_prefix_that_does_not_match() {
        for value in ["iad:ffffffff", "iad:A1B2C3D4", "iad:b2c3d4-0000"] {
            let err = authorize(value, GTID).unwrap_err();
            assert!(
                err.contains(
                    "is not a prefix of site iad's divergentGtid (it starts with \"a1b2c3d4\")"
                ),
                "{value}: {err}"
            );
        }
    }

    #[test]
    fn reclone_hot_rejects_confirm_group() {
        let err = authorize("iad:confirm=orders", GTID).unwrap_err();
        assert!(
            err.ends_with("confirm= does not apply: a reclone discards them, confirm with their GTID prefix, e.g. iad:a1b2c3d4"),
            "{err}"
        );
    }

    #[test]
    fn reclone_hot_rejects_the_bare_site() {
        let err = authorize("iad", GTID).unwrap_err();
        assert!(
            err.ends_with("site iad has divergent transactions: a reclone discards them, confirm with their GTID prefix, e.g. iad:a1b2c3d4"),
            "{err}"
        );
    }

    #[test]
    fn reclone_cold_accepts_the_bare_site() {
        authorize("iad", None).unwrap();
        authorize("iad", Some("")).unwrap();
    }

    #[test]
    fn reclone_cold_accepts_confirm_naming_the_group() {
        authorize("iad:confirm=orders", None).unwrap();
        let err = authorize("iad:confirm=payments", None).unwrap_err();
        assert!(
            err.ends_with("confirm=payments does not name this group: write iad:confirm=orders"),
            "{err}"
        );
    }

    #[test]
    fn reclone_cold_rejects_a_gtid_prefix() {
        let err = authorize("iad:a1b2c3d4", None).unwrap_err();
        assert!(
            err.ends_with("a cold reclone wipes the datadir, confirm it with iad:confirm=orders"),
            "{err}"
        );
    }
}
