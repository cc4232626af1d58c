//! The GTID state of a restore target: set it from a dump, read it back, compare it with what was promised.

use bloodraven_gtid::{GtidSet, MariadbGtidList};

use crate::conn::{Session, quote_str};
use crate::error::Error;
use crate::format::Flavor;

/// Gives a freshly loaded server the dump's GTID state.
///
/// MariaDB: `gtid_slave_pos` always; with a binary log whose GTID state is empty also `RESET MASTER` and
/// `gtid_binlog_state`, so that `gtid_current_pos` and later binlog replay continue from the dump. MySQL:
/// `gtid_purged` (the target's `gtid_executed` must be empty).
pub(crate) async fn set_state(s: &mut Session, flavor: Flavor, gtid: &str) -> Result<(), Error> {
    if gtid.is_empty() {
        return Ok(());
    }
    let q = quote_str(gtid);
    match flavor {
        Flavor::Mariadb => {
            let log_bin = s.scalar("SELECT @@GLOBAL.log_bin").await? == "1";
            if log_bin {
                let binlog = s.scalar("SELECT @@GLOBAL.gtid_binlog_pos").await?;
                if binlog.is_empty() {
                    s.exec("RESET MASTER").await?;
                    s.exec(&format!("SET GLOBAL gtid_binlog_state = {q}"))
                        .await?;
                } else {
                    tracing::warn!(
                        binlog,
                        "target binlog has its own gtid state; gtid_binlog_state left alone"
                    );
                }
            }
            s.exec(&format!("SET GLOBAL gtid_slave_pos = {q}")).await?;
        }
        Flavor::Mysql => {
            let executed = s.scalar("SELECT @@GLOBAL.gtid_executed").await?;
            if !executed.trim().is_empty() {
                return Err(Error::Target {
                    server: s.server.clone(),
                    reason: format!(
                        "gtid_executed is {executed:?}, not empty: cannot set gtid_purged (RESET MASTER on the target first)"
                    ),
                });
            }
            s.exec(&format!("SET GLOBAL gtid_purged = {q}")).await?;
        }
    }
    Ok(())
}

/// The server's GTID state, whitespace removed: MySQL `gtid_executed`; MariaDB per domain the higher of
/// `gtid_binlog_pos` and `gtid_slave_pos` (transactions replayed through the client advance the first,
/// the restore sets the second).
pub(crate) async fn read_state(s: &mut Session, flavor: Flavor) -> Result<String, Error> {
    let strip = |t: String| -> String { t.chars().filter(|c| !c.is_whitespace()).collect() };
    match flavor {
        Flavor::Mysql => Ok(strip(s.scalar("SELECT @@GLOBAL.gtid_executed").await?)),
        Flavor::Mariadb => {
            let binlog = strip(s.scalar("SELECT @@GLOBAL.gtid_binlog_pos").await?);
            let slave = strip(s.scalar("SELECT @@GLOBAL.gtid_slave_pos").await?);
            let parse = |t: &str| {
                t.parse::<MariadbGtidList>()
                    .map_err(|e| Error::metadata("gtid state", format!("{t}: {e}")))
            };
            let mut merged = parse(&slave)?;
            for g in parse(&binlog)?.iter() {
                if merged.get(g.domain).is_none_or(|m| m.seq < g.seq) {
                    merged.insert(*g);
                }
            }
            Ok(merged.to_string())
        }
    }
}

/// `Ok` when `actual` is exactly `expected`; otherwise [`Error::GtidMismatch`] naming what is missing.
pub fn compare(flavor: Flavor, expected: &str, actual: &str) -> Result<(), Error> {
    let mismatch = |missing: String| Error::GtidMismatch {
        expected: expected.to_owned(),
        actual: actual.to_owned(),
        missing,
    };
    let parse_err = |what: &str, e: bloodraven_gtid::Error| {
        Error::metadata("gtid state", format!("{what}: {e}"))
    };
    match flavor {
        Flavor::Mariadb => {
            let e: MariadbGtidList = expected.parse().map_err(|x| parse_err(expected, x))?;
            let a: MariadbGtidList = actual.parse().map_err(|x| parse_err(actual, x))?;
            if e.contains(&a) && a.contains(&e) {
                return Ok(());
            }
            let missing: Vec<String> = e
                .iter()
                .filter(|g| !a.get(g.domain).is_some_and(|m| m.contains(g)))
                .map(ToString::to_string)
                .collect();
            Err(mismatch(missing.join(",")))
        }
        Flavor::Mysql => {
            let e = GtidSet::parse(expected).map_err(|x| parse_err(expected, x))?;
            let a = GtidSet::parse(actual).map_err(|x| parse_err(actual, x))?;
            if e == a {
                return Ok(());
            }
            Err(mismatch(e.difference(&a).to_string()))
        }
    }
}

/// `true` when `big` contains every transaction of `small` (MariaDB: per domain by sequence number).
pub(crate) fn contains(flavor: Flavor, big: &str, small: &str) -> Result<bool, Error> {
    let parse_err = |what: &str, e: bloodraven_gtid::Error| {
        Error::metadata("gtid state", format!("{what}: {e}"))
    };
    match flavor {
        Flavor::Mariadb => {
            let b: MariadbGtidList = big.parse().map_err(|x| parse_err(big, x))?;
            let s: MariadbGtidList = small.parse().map_err(|x| parse_err(small, x))?;
            Ok(b.contains(&s))
        }
        Flavor::Mysql => {
            let b = GtidSet::parse(big).map_err(|x| parse_err(big, x))?;
            let s = GtidSet::parse(small).map_err(|x| parse_err(small, x))?;
            Ok(s.is_subset(&b))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_mariadb_positions_by_domain_and_seq() {
        assert!(compare(Flavor::Mariadb, "0-1-10,1-2-5", "1-2-5,0-1-10").is_ok());
        assert!(compare(Flavor::Mariadb, "", "").is_ok());
        match compare(Flavor::Mariadb, "0-1-10,1-2-5", "0-1-9,1-2-5") {
            Err(Error::GtidMismatch { missing, .. }) => assert_eq!(missing, "0-1-10"),
            other => panic!("{other:?}"),
        }
        assert!(compare(Flavor::Mariadb, "0-1-10", "0-1-11").is_err());
    }

    #[test]
    fn compares_mysql_sets_and_names_the_missing_part() {
        let u = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
        assert!(compare(Flavor::Mysql, &format!("{u}:1-10"), &format!("{u}:1-10")).is_ok());
        match compare(Flavor::Mysql, &format!("{u}:1-10"), &format!("{u}:1-7")) {
            Err(Error::GtidMismatch { missing, .. }) => assert_eq!(missing, format!("{u}:8-10")),
            other => panic!("{other:?}"),
        }
    }
}
