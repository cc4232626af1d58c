//! The GTID state of a restore target: set it from a dump, read it back, compare it with what was promised; and
//! the reset of its binary logs, which keeps their file numbering going.

use bloodraven_gtid::{GtidSet, MariadbGtidList};

use crate::conn::{Session, quote_str};
use crate::error::Error;
use crate::format::Flavor;

/// Gives a freshly loaded server the dump's GTID state.
///
/// MariaDB: `gtid_slave_pos` always; with a binary log whose GTID state is empty also the binlog state
/// ([`set_binlog_state`]), so that `gtid_current_pos` and later binlog replay continue from the dump. MySQL:
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
                    set_binlog_state(s, gtid).await?;
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

/// Gives a MariaDB server whose binary log holds no GTID the binlog state `gtid` (the dump's), keeping the binlog
/// file numbering going.
///
/// `SET GLOBAL gtid_binlog_state` would do it in one statement, but it is a `RESET MASTER` that restarts the
/// numbering at `000001`, reusing names the site's archive holds. So: `RESET MASTER TO <n>` past the highest
/// file, one binlogged no-op (`FLUSH TABLES`) per domain under the dump's GTID (session `gtid_domain_id`,
/// `server_id`, `gtid_seq_no`), then `FLUSH BINARY LOGS`, whose new file opens with exactly that state in its
/// `Gtid_list`, and `PURGE BINARY LOGS TO` it, which removes the file holding the no-ops. The server ends as after
/// the single statement, with the next file number. A purge that fails (a replica reading the file) leaves that
/// file in place, logged: the no-ops only repeat GTIDs the dump holds.
async fn set_binlog_state(s: &mut Session, gtid: &str) -> Result<(), Error> {
    let state: MariadbGtidList = gtid
        .parse()
        .map_err(|e| Error::metadata("gtid state", format!("{gtid}: {e}")))?;
    reset_binlogs(s, Flavor::Mariadb).await?;
    // The loading session does not binlog; the no-ops must be.
    let log_bin = s.scalar("SELECT @@SESSION.sql_log_bin").await?;
    s.exec("SET SESSION sql_log_bin = 1").await?;
    for g in state.iter() {
        s.exec(&format!(
            "SET SESSION gtid_domain_id = {}, server_id = {}, gtid_seq_no = {}",
            g.domain, g.server_id, g.seq
        ))
        .await?;
        s.exec("FLUSH TABLES").await?;
    }
    s.exec(&format!(
        "SET SESSION gtid_domain_id = @@GLOBAL.gtid_domain_id, server_id = @@GLOBAL.server_id, \
         sql_log_bin = {}",
        if log_bin == "0" { 0 } else { 1 }
    ))
    .await?;
    s.exec("FLUSH BINARY LOGS").await?;
    purge_to_last(s).await?;
    let now = s.scalar("SELECT @@GLOBAL.gtid_binlog_state").await?;
    tracing::info!(server = %s.server, state = %now, "set the binlog gtid state");
    match now.parse::<MariadbGtidList>() {
        Ok(set) if set == state => Ok(()),
        _ => Err(Error::Target {
            server: s.server.clone(),
            reason: format!("its binlog gtid state is {now:?} after setting it to {gtid:?}"),
        }),
    }
}

/// `PURGE BINARY LOGS TO` the last binlog. The server keeps a file until its binlog checkpoint is written, which
/// follows a rotation shortly, so the purge is repeated for up to five seconds; a file that still stays is logged.
async fn purge_to_last(s: &mut Session) -> Result<(), Error> {
    let names = |rows: Vec<Vec<String>>| -> Vec<String> {
        rows.into_iter()
            .filter_map(|r| r.into_iter().next())
            .collect()
    };
    let listed = names(s.text_rows("SHOW BINARY LOGS").await?);
    let Some(last) = listed.last().cloned() else {
        return Ok(());
    };
    let purge = format!("PURGE BINARY LOGS TO {}", quote_str(&last));
    for _ in 0..50 {
        if let Err(e) = s.exec(&purge).await {
            tracing::warn!(server = %s.server, error = %e, %purge, "cannot purge the binlog holding the gtid state's no-ops; it stays");
            return Ok(());
        }
        if names(s.text_rows("SHOW BINARY LOGS").await?) == [last.clone()] {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    tracing::warn!(server = %s.server, %purge, "the binlog holding the gtid state's no-ops was not purged in 5 s; it stays");
    Ok(())
}

/// The highest file number `RESET … TO` takes (MySQL's limit; MariaDB's is higher).
const MAX_BINLOG_NUMBER: u64 = 2_000_000_000;

/// Resets the binary logs and the GTID state of the server behind `s` and returns the statement that ran: MariaDB
/// `RESET MASTER`, MySQL `RESET BINARY LOGS AND GTIDS` (8.4+) else `RESET MASTER`.
///
/// The numbering goes on: the new first file is one past the highest `SHOW BINARY LOGS` lists (`TO <n>`, MariaDB
/// 10.1.6+, MySQL 8.0.17+). Restarting at `000001` would reuse names the site's binlog archive already holds for
/// other content. Without binary logging the plain statement runs (MySQL still clears its GTID history with it).
pub(crate) async fn reset_binlogs(s: &mut Session, flavor: Flavor) -> Result<String, Error> {
    let log_bin = s.scalar("SELECT @@GLOBAL.log_bin").await? == "1";
    let to = if log_bin {
        let listed = s.text_rows("SHOW BINARY LOGS").await?;
        let names: Vec<&str> = listed
            .iter()
            .filter_map(|row| row.first())
            .map(String::as_str)
            .collect();
        tracing::debug!(server = %s.server, ?names, "binary logs before the reset");
        next_binlog_number(&names).map_err(|reason| Error::Target {
            server: s.server.clone(),
            reason,
        })?
    } else {
        None
    };
    let to = to.map(|n| format!(" TO {n}")).unwrap_or_default();
    let statement = match flavor {
        Flavor::Mariadb => format!("RESET MASTER{to}"),
        Flavor::Mysql => {
            let current = format!("RESET BINARY LOGS AND GTIDS{to}");
            if s.exec(&current).await.is_ok() {
                return Ok(current);
            }
            // Before 8.4.
            format!("RESET MASTER{to}")
        }
    };
    s.exec(&statement).await?;
    tracing::info!(server = %s.server, %statement, "reset the binary logs");
    Ok(statement)
}

/// One past the highest file number of `names` (`SHOW BINARY LOGS`' `Log_name`, such as `mysql-bin.000042`);
/// `None` without names. `Err` names a name without a number, or a number past what `RESET … TO` takes.
pub(crate) fn next_binlog_number(names: &[&str]) -> Result<Option<u64>, String> {
    let mut highest = None;
    for name in names {
        let number = name
            .rsplit_once('.')
            .map(|(_, n)| n)
            .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|n| n.parse::<u64>().ok())
            .ok_or_else(|| format!("SHOW BINARY LOGS lists {name:?}, which has no file number"))?;
        highest = highest.max(Some(number));
    }
    match highest {
        Some(n) if n >= MAX_BINLOG_NUMBER => Err(format!(
            "its binary logs are numbered up to {n}; a reset cannot continue past {MAX_BINLOG_NUMBER}"
        )),
        h => Ok(h.map(|n| n + 1)),
    }
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
    fn a_reset_continues_past_the_highest_binlog_number() {
        assert_eq!(next_binlog_number(&[]), Ok(None));
        assert_eq!(
            next_binlog_number(&["mysql-bin.000007", "mysql-bin.000012", "mysql-bin.000009"]),
            Ok(Some(13))
        );
        // Past six digits the name grows a digit, and numbers are compared as numbers.
        assert_eq!(
            next_binlog_number(&["mysql-bin.999999", "mysql-bin.1000000"]),
            Ok(Some(1_000_001))
        );
        assert!(
            next_binlog_number(&["mysql-bin"])
                .unwrap_err()
                .contains("\"mysql-bin\"")
        );
        assert!(next_binlog_number(&["mysql-bin.00001x"]).is_err());
        assert!(
            next_binlog_number(&["mysql-bin.2000000000"])
                .unwrap_err()
                .contains("cannot continue")
        );
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
