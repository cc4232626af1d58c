//! The admin annotation grammars: `bloodraven.shipstream.io/planned-failover` and `…/reclone-site`.
//!
//! Kept behind this one module until `bloodraven-api` provides them.

use std::time::Duration;

/// Annotation that requests a planned failover.
pub const PLANNED_FAILOVER: &str = "bloodraven.shipstream.io/planned-failover";
/// Annotation that requests a destructive reclone of a site.
pub const RECLONE_SITE: &str = "bloodraven.shipstream.io/reclone-site";
/// Minimum length of the divergent-GTID prefix that confirms a hot reclone.
pub const MIN_RECLONE_PREFIX: usize = 8;

/// A parsed planned-failover request: `<site>` or `<site>:maxLagWait=<duration>`.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct PlannedRequest {
    /// The site to promote.
    pub target: String,
    /// Override of `spec.plannedFailover.maxLagWait`.
    pub max_lag_wait: Option<Duration>,
}

/// A parsed reclone request.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum RecloneRequest {
    /// `<site>`: no confirmation.
    Bare(String),
    /// `<site>:confirm=<group>`: cold reclone confirmation.
    Cold {
        /// The site to rebuild.
        site: String,
        /// The group name the admin typed.
        group: String,
    },
    /// `<site>:<divergentGtidPrefix>`: hot reclone confirmation.
    Hot {
        /// The site to rebuild.
        site: String,
        /// The prefix of the recorded `divergentGtid`.
        prefix: String,
    },
}

impl RecloneRequest {
    /// The named site.
    pub fn site(&self) -> &str {
        match self {
            RecloneRequest::Bare(s)
            | RecloneRequest::Cold { site: s, .. }
            | RecloneRequest::Hot { site: s, .. } => s,
        }
    }
}

/// An annotation value that does not follow its grammar or fails validation.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[error("{annotation}={value:?}: {message}")]
pub struct AnnotationError {
    /// The annotation key.
    pub annotation: &'static str,
    /// The offending value.
    pub value: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

/// Parses a planned-failover annotation value.
pub fn parse_planned(value: &str) -> Result<PlannedRequest, AnnotationError> {
    let err = |message: String| AnnotationError {
        annotation: PLANNED_FAILOVER,
        value: value.to_owned(),
        message,
    };
    let mut tokens = value.split(':').map(str::trim);
    let target = tokens.next().unwrap_or_default();
    if target.is_empty() {
        return Err(err(
            "empty target site; expected <site> or <site>:maxLagWait=<duration>".into(),
        ));
    }
    let mut max_lag_wait = None;
    for token in tokens.filter(|t| !t.is_empty()) {
        let Some((key, val)) = token.split_once('=') else {
            return Err(err(format!(
                "override {token:?} has no '='; expected maxLagWait=<duration>"
            )));
        };
        if key.trim() != "maxLagWait" {
            return Err(err(format!(
                "unknown override key {:?}; the only key is maxLagWait",
                key.trim()
            )));
        }
        let d = parse_go_duration(val.trim()).ok_or_else(|| {
            err(format!(
                "maxLagWait {:?} is not a duration such as 90s or 5m",
                val.trim()
            ))
        })?;
        if d.is_zero() {
            return Err(err(format!("maxLagWait {:?} must be positive", val.trim())));
        }
        max_lag_wait = Some(d);
    }
    Ok(PlannedRequest {
        target: target.to_owned(),
        max_lag_wait,
    })
}

/// Parses a reclone annotation value (split at the first `:`).
pub fn parse_reclone(value: &str) -> Result<RecloneRequest, AnnotationError> {
    let value_t = value.trim();
    let err = |message: String| AnnotationError {
        annotation: RECLONE_SITE,
        value: value.to_owned(),
        message,
    };
    let (site, rest) = match value_t.split_once(':') {
        Some((s, r)) => (s.trim(), Some(r.trim())),
        None => (value_t, None),
    };
    if site.is_empty() {
        return Err(err(
            "empty site; expected <site> or <site>:<divergentGtid-prefix>".into(),
        ));
    }
    Ok(match rest {
        None | Some("") => RecloneRequest::Bare(site.to_owned()),
        Some(r) => match r.strip_prefix("confirm=") {
            Some(group) => RecloneRequest::Cold {
                site: site.to_owned(),
                group: group.trim().to_owned(),
            },
            None => RecloneRequest::Hot {
                site: site.to_owned(),
                prefix: r.to_owned(),
            },
        },
    })
}

/// Validates a reclone request against the spec's site names, the group name and the site's recorded
/// `divergentGtid` (empty when none): the GTID-prefix interlock.
pub fn validate_reclone(
    request: &RecloneRequest,
    sites: &[&str],
    group: &str,
    divergent_gtid: &str,
) -> Result<(), AnnotationError> {
    let site = request.site();
    let err = |message: String| AnnotationError {
        annotation: RECLONE_SITE,
        value: render_reclone(request),
        message,
    };
    if !sites.contains(&site) {
        return Err(err(format!(
            "site {site:?} is not one of spec.sites ({})",
            sites.join(", ")
        )));
    }
    let hint: String = divergent_gtid.chars().take(MIN_RECLONE_PREFIX).collect();
    match (divergent_gtid.is_empty(), request) {
        (false, RecloneRequest::Hot { prefix, .. }) => {
            if prefix.len() < MIN_RECLONE_PREFIX {
                Err(err(format!(
                    "divergent GTID prefix {prefix:?} is shorter than {MIN_RECLONE_PREFIX} characters; set \
                     {RECLONE_SITE}={site}:<first characters of divergentGtid> (starts with {hint:?})"
                )))
            } else if !divergent_gtid.starts_with(prefix.as_str()) {
                Err(err(format!(
                    "{prefix:?} is not a prefix of the recorded divergentGtid of {site} (starts with {hint:?}); \
                     re-read status.sites[{site}].divergentGtid"
                )))
            } else {
                Ok(())
            }
        }
        (false, _) => Err(err(format!(
            "{site} has divergent transactions; a reclone discards them and must be confirmed with \
             {RECLONE_SITE}={site}:<divergentGtid prefix> (starts with {hint:?})"
        ))),
        (true, RecloneRequest::Cold { group: g, .. }) if g == group => Ok(()),
        (true, _) => Err(err(format!(
            "cold reclone wipes the datadir and must be confirmed — set annotation {RECLONE_SITE}={site}:confirm={group}"
        ))),
    }
}

fn render_reclone(r: &RecloneRequest) -> String {
    match r {
        RecloneRequest::Bare(s) => s.clone(),
        RecloneRequest::Cold { site, group } => format!("{site}:confirm={group}"),
        RecloneRequest::Hot { site, prefix } => format!("{site}:{prefix}"),
    }
}

/// Parses a Go duration (`300ms`, `1.5h`, `2m30s`); `None` when invalid or negative.
pub fn parse_go_duration(text: &str) -> Option<Duration> {
    if text == "0" {
        return Some(Duration::ZERO);
    }
    let mut rest = text;
    let mut total = 0f64;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return None;
        }
        let n: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += n * scale;
        rest = &rest[unit_len..];
    }
    Duration::try_from_secs_f64(total).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn planned_grammar() {
        assert_eq!(
            parse_planned(" pdx ").unwrap(),
            PlannedRequest {
                target: "pdx".into(),
                max_lag_wait: None
            }
        );
        assert_eq!(
            parse_planned("pdx:maxLagWait=90s").unwrap().max_lag_wait,
            Some(Duration::from_secs(90))
        );
        assert_eq!(
            parse_planned("pdx::maxLagWait=1m30s:")
                .unwrap()
                .max_lag_wait,
            Some(Duration::from_secs(90))
        );
        for bad in [
            "",
            " : ",
            "pdx:foo=1s",
            "pdx:maxLagWait",
            "pdx:maxLagWait=abc",
            "pdx:maxLagWait=0s",
        ] {
            let e = parse_planned(bad).unwrap_err();
            assert_eq!(e.annotation, PLANNED_FAILOVER);
        }
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("300ms"), Some(Duration::from_millis(300)));
        assert_eq!(parse_go_duration("1.5h"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_go_duration("5"), None);
        assert_eq!(parse_go_duration("-5s"), None);
    }

    #[test]
    fn reclone_grammar_splits_at_first_colon() {
        assert_eq!(
            parse_reclone("pdx").unwrap(),
            RecloneRequest::Bare("pdx".into())
        );
        assert_eq!(
            parse_reclone("pdx:confirm=g1").unwrap(),
            RecloneRequest::Cold {
                site: "pdx".into(),
                group: "g1".into()
            }
        );
        assert_eq!(
            parse_reclone("pdx:3e11fa47-71ca:1").unwrap(),
            RecloneRequest::Hot {
                site: "pdx".into(),
                prefix: "3e11fa47-71ca:1".into()
            }
        );
        assert!(parse_reclone(":abc").is_err());
    }

    #[test]
    fn reclone_interlock() {
        let sites = ["iad", "pdx"];
        let d = "3e11fa47-71ca-11e1-9e33-c80aa9429562:6-10";
        let ok = parse_reclone("pdx:3e11fa47-71").unwrap();
        assert!(validate_reclone(&ok, &sites, "g", d).is_ok());
        for bad in [
            "pdx",
            "pdx:3e11fa4",
            "pdx:3e11fa48-71",
            "pdx:confirm=g",
            "fra:3e11fa47-71",
        ] {
            assert!(
                validate_reclone(&parse_reclone(bad).unwrap(), &sites, "g", d).is_err(),
                "{bad}"
            );
        }
        assert!(
            validate_reclone(&parse_reclone("pdx:confirm=g").unwrap(), &sites, "g", "").is_ok()
        );
        for bad in ["pdx", "pdx:confirm=other", "pdx:3e11fa47-71"] {
            let e = validate_reclone(&parse_reclone(bad).unwrap(), &sites, "g", "").unwrap_err();
            assert!(e.message.contains("confirm=g"), "{e}");
        }
    }
}
