//! Parsing of server answers: probe rows, `SHOW REPLICA STATUS` / `SHOW SLAVE STATUS` rows, GTID variables.
//!
//! Column lookups accept both the 8.0.22+ names (`Replica_IO_Running`, `Source_Host`, `Seconds_Behind_Source`) and
//! the legacy ones MariaDB and older MySQL print (`Slave_IO_Running`, `Master_Host`, `Seconds_Behind_Master`).

use bloodraven_gtid::{GtidSet, MariadbGtid, MariadbGtidList};

use super::conn::Row;
use crate::site::{Flavor, GtidState, MariadbState, Probe, ReplicaStatus};

/// A value that could not be understood: which variable or column, the value, and why.
#[derive(Clone, Debug, Eq, PartialEq)]
pub(crate) struct BadValue {
    pub(crate) what: String,
    pub(crate) value: String,
    pub(crate) message: String,
}

impl BadValue {
    fn new(what: &str, value: Option<&str>, message: impl Into<String>) -> BadValue {
        BadValue {
            what: what.to_string(),
            value: value.unwrap_or("NULL").to_string(),
            message: message.into(),
        }
    }
}

/// The probe row of `flavor` plus its replica status row, if any.
pub(crate) fn probe(flavor: Flavor, row: &Row, replica: Option<&Row>) -> Result<Probe, BadValue> {
    let version = row.at(if flavor == Flavor::Mysql { 3 } else { 2 });
    let version = required("@@version", version)?.to_string();
    check_flavor(flavor, &version)?;
    let read_only = flag("@@read_only", row.at(0))?;
    let (super_read_only, server_id, executed) = match flavor {
        Flavor::Mysql => (
            Some(flag("@@super_read_only", row.at(1))?),
            required("@@server_uuid", row.at(2))?.to_string(),
            GtidState::Mysql(gtid_set("@@gtid_executed", row.at(4))?),
        ),
        Flavor::Mariadb => (
            None,
            required("@@server_id", row.at(1))?.to_string(),
            GtidState::Mariadb(mariadb_state(row, 3)?),
        ),
    };
    Ok(Probe {
        read_only,
        super_read_only,
        server_id,
        version,
        flavor,
        executed,
        replica: replica
            .map(|r| {
                replica_status(
                    flavor,
                    r,
                    (flavor == Flavor::Mariadb).then(|| row.at(5).unwrap_or("")),
                )
            })
            .transpose()?,
    })
}

/// The executed-state row of `flavor` (MySQL: one column; MariaDB: four, see [`mariadb_state`]).
pub(crate) fn executed(flavor: Flavor, row: &Row) -> Result<GtidState, BadValue> {
    match flavor {
        Flavor::Mysql => Ok(GtidState::Mysql(gtid_set("@@gtid_executed", row.at(0))?)),
        Flavor::Mariadb => Ok(GtidState::Mariadb(mariadb_state(row, 0)?)),
    }
}

/// MariaDB's `gtid_binlog_pos`, `gtid_current_pos`, `gtid_slave_pos`, `gtid_binlog_state`, from column `first`.
pub(crate) fn mariadb_state(row: &Row, first: usize) -> Result<MariadbState, BadValue> {
    Ok(MariadbState {
        binlog_pos: gtid_list("@@gtid_binlog_pos", row.at(first))?,
        current_pos: gtid_list("@@gtid_current_pos", row.at(first + 1))?,
        slave_pos: gtid_list("@@gtid_slave_pos", row.at(first + 2))?,
        binlog_state: gtid_vec("@@gtid_binlog_state", row.at(first + 3))?,
    })
}

/// One `SHOW REPLICA STATUS` / `SHOW SLAVE STATUS` row. MariaDB prints no executed set: `@@gtid_slave_pos`
/// (`slave_pos`, else a `Gtid_Slave_Pos` column as `SHOW ALL SLAVES STATUS` has) stands for it, and `Gtid_IO_Pos`
/// for the retrieved set.
pub(crate) fn replica_status(
    flavor: Flavor,
    row: &Row,
    slave_pos: Option<&str>,
) -> Result<ReplicaStatus, BadValue> {
    let text = |names: &[&str]| row.get(names).unwrap_or("").trim().to_string();
    let port_text = row.get(&["Source_Port", "Master_Port"]);
    let source_port = match port_text.map(str::trim) {
        None | Some("") => 0,
        Some(p) => p.parse().map_err(|_| {
            BadValue::new(
                "Source_Port",
                port_text,
                "expected a port number (0..=65535)",
            )
        })?,
    };
    let behind_text = row.get(&["Seconds_Behind_Source", "Seconds_Behind_Master"]);
    let seconds_behind = match behind_text.map(str::trim) {
        None | Some("") => None,
        Some(s) => Some(s.parse().map_err(|_| {
            BadValue::new(
                "Seconds_Behind_Source",
                behind_text,
                "expected a whole number of seconds or NULL",
            )
        })?),
    };
    let (retrieved, executed) = match flavor {
        Flavor::Mysql => (text(&["Retrieved_Gtid_Set"]), text(&["Executed_Gtid_Set"])),
        Flavor::Mariadb => (
            text(&["Gtid_IO_Pos"]),
            slave_pos.map_or_else(|| text(&["Gtid_Slave_Pos"]), |p| p.trim().to_string()),
        ),
    };
    Ok(ReplicaStatus {
        io_running: text(&["Replica_IO_Running", "Slave_IO_Running"]).eq_ignore_ascii_case("yes"),
        sql_running: text(&["Replica_SQL_Running", "Slave_SQL_Running"])
            .eq_ignore_ascii_case("yes"),
        source_host: text(&["Source_Host", "Master_Host"]),
        source_port,
        seconds_behind,
        retrieved: one_line(&retrieved),
        executed: one_line(&executed),
        last_error: text(&["Last_Error"]),
        last_io_error: text(&["Last_IO_Error"]),
        last_sql_error: text(&["Last_SQL_Error"]),
    })
}

/// A boolean server variable: `1`/`0`/`ON`/`OFF`.
pub(crate) fn flag(what: &str, value: Option<&str>) -> Result<bool, BadValue> {
    match value.map(str::trim) {
        Some("1") => Ok(true),
        Some("0") => Ok(false),
        Some(v) if v.eq_ignore_ascii_case("on") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("off") => Ok(false),
        _ => Err(BadValue::new(what, value, "expected 0, 1, ON or OFF")),
    }
}

/// A whole number column (session ids, function results); negative values are kept.
pub(crate) fn integer(what: &str, value: Option<&str>) -> Result<i64, BadValue> {
    let v = required(what, value)?;
    v.trim()
        .parse()
        .map_err(|_| BadValue::new(what, value, "expected an integer"))
}

/// A MySQL GTID set (multi-line as MySQL prints it).
pub(crate) fn gtid_set(what: &str, value: Option<&str>) -> Result<GtidSet, BadValue> {
    let v = value.unwrap_or("");
    GtidSet::parse(v).map_err(|e| BadValue::new(what, value, e.to_string()))
}

/// A MariaDB position list (at most one GTID per domain).
pub(crate) fn gtid_list(what: &str, value: Option<&str>) -> Result<MariadbGtidList, BadValue> {
    value
        .unwrap_or("")
        .parse()
        .map_err(|e: bloodraven_gtid::Error| BadValue::new(what, value, e.to_string()))
}

/// A MariaDB GTID list that may hold several GTIDs per domain (`gtid_binlog_state`, `Gtid_list` events), sorted.
pub(crate) fn gtid_vec(what: &str, value: Option<&str>) -> Result<Vec<MariadbGtid>, BadValue> {
    let mut out = Vec::new();
    for item in value.unwrap_or("").split(',') {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        out.push(
            item.parse()
                .map_err(|e: bloodraven_gtid::Error| BadValue::new(what, value, e.to_string()))?,
        );
    }
    out.sort();
    Ok(out)
}

fn required<'a>(what: &str, value: Option<&'a str>) -> Result<&'a str, BadValue> {
    value.ok_or_else(|| BadValue::new(what, None, "expected a value, got NULL"))
}

/// Refuses a MariaDB server configured as MySQL and the other way round: the dialects differ in what fencing means.
fn check_flavor(flavor: Flavor, version: &str) -> Result<(), BadValue> {
    let is_mariadb = version.to_ascii_lowercase().contains("mariadb");
    match (flavor, is_mariadb) {
        (Flavor::Mysql, true) => Err(BadValue::new(
            "@@version",
            Some(version),
            "the site is configured as mysql but the server is MariaDB (use the mariadb flavour)",
        )),
        (Flavor::Mariadb, false) => Err(BadValue::new(
            "@@version",
            Some(version),
            "the site is configured as mariadb but the server is not MariaDB (use the mysql flavour)",
        )),
        _ => Ok(()),
    }
}

/// MySQL prints long GTID sets over several lines; status fields keep them on one.
fn one_line(text: &str) -> String {
    text.split('\n').map(str::trim).collect::<Vec<_>>().join("")
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn row(columns: &[&str], values: &[Option<&str>]) -> Row {
        let names: Arc<[String]> = columns.iter().map(|c| c.to_string()).collect();
        Row::new(
            names,
            values.iter().map(|v| v.map(str::to_string)).collect(),
        )
    }

    const U1: &str = "3e11fa47-71ca-11e1-9e33-c80aa9429562";

    #[test]
    fn mysql_probe_row() {
        let set = format!("{U1}:1-5,\nb1b2b3b4-0000-0000-0000-000000000001:1-3");
        let r = row(
            &["a", "b", "c", "d", "e"],
            &[Some("1"), Some("0"), Some(U1), Some("8.4.3"), Some(&set)],
        );
        let p = probe(Flavor::Mysql, &r, None).unwrap();
        assert!(p.read_only);
        assert_eq!(p.super_read_only, Some(false));
        assert_eq!(p.server_id, U1);
        assert_eq!(p.executed.as_mysql().unwrap().count(), 8);
        assert_eq!(p.replica, None);
    }

    #[test]
    fn probe_refuses_the_wrong_flavour() {
        let r = row(
            &["a", "b", "c", "d", "e"],
            &[
                Some("1"),
                Some("0"),
                Some("x"),
                Some("10.11.6-MariaDB-0+deb12u1"),
                Some(""),
            ],
        );
        let e = probe(Flavor::Mysql, &r, None).unwrap_err();
        assert_eq!(e.what, "@@version");
        assert!(e.message.contains("mariadb flavour"), "{e:?}");
    }

    #[test]
    fn mariadb_probe_row() {
        let r = row(
            &["a", "b", "c", "d", "e", "f", "g"],
            &[
                Some("0"),
                Some("2"),
                Some("10.11.6-MariaDB"),
                Some("0-2-150"),
                Some("0-2-150"),
                Some("0-1-90"),
                Some("0-1-90,0-2-150"),
            ],
        );
        let p = probe(Flavor::Mariadb, &r, None).unwrap();
        assert!(!p.read_only);
        assert_eq!(p.super_read_only, None);
        assert_eq!(p.server_id, "2");
        let GtidState::Mariadb(m) = p.executed else {
            panic!("not mariadb")
        };
        assert_eq!(m.binlog_pos.to_string(), "0-2-150");
        assert_eq!(m.slave_pos.to_string(), "0-1-90");
        assert_eq!(m.binlog_state.len(), 2);
    }

    #[test]
    fn replica_status_new_and_legacy_columns() {
        let new = row(
            &[
                "Replica_IO_Running",
                "Replica_SQL_Running",
                "Source_Host",
                "Source_Port",
                "Seconds_Behind_Source",
                "Retrieved_Gtid_Set",
                "Executed_Gtid_Set",
                "Last_Error",
                "Last_IO_Error",
                "Last_SQL_Error",
            ],
            &[
                Some("Yes"),
                Some("No"),
                Some("iad"),
                Some("3306"),
                None,
                Some(&format!("{U1}:1-10")),
                Some(&format!("{U1}:1-7,\n{U1}:9")),
                Some(""),
                Some(""),
                Some("Error 1062"),
            ],
        );
        let s = replica_status(Flavor::Mysql, &new, None).unwrap();
        assert!(s.io_running && !s.sql_running);
        assert_eq!((s.source_host.as_str(), s.source_port), ("iad", 3306));
        assert_eq!(s.seconds_behind, None);
        assert_eq!(s.executed, format!("{U1}:1-7,{U1}:9"));
        assert_eq!(s.error(), Some("Error 1062"));

        let legacy = row(
            &[
                "Slave_IO_Running",
                "Slave_SQL_Running",
                "Master_Host",
                "Master_Port",
                "Seconds_Behind_Master",
                "Gtid_IO_Pos",
                "Gtid_Slave_Pos",
            ],
            &[
                Some("Yes"),
                Some("Yes"),
                Some("127.0.0.1"),
                Some("4406"),
                Some("3"),
                Some("0-1-12"),
                Some("0-1-11"),
            ],
        );
        let s = replica_status(Flavor::Mariadb, &legacy, None).unwrap();
        assert!(s.is_healthy());
        assert_eq!(s.source_port, 4406);
        assert_eq!(s.seconds_behind, Some(3));
        assert_eq!(
            (s.retrieved.as_str(), s.executed.as_str()),
            ("0-1-12", "0-1-11")
        );
        let s = replica_status(Flavor::Mariadb, &legacy, Some("0-1-12")).unwrap();
        assert_eq!(s.executed, "0-1-12");
    }

    #[test]
    fn bad_values_name_the_column_and_value() {
        let r = row(
            &["Slave_IO_Running", "Master_Port"],
            &[Some("Yes"), Some("http")],
        );
        let e = replica_status(Flavor::Mariadb, &r, None).unwrap_err();
        assert_eq!((e.what.as_str(), e.value.as_str()), ("Source_Port", "http"));
        let e = flag("@@read_only", Some("maybe")).unwrap_err();
        assert_eq!(e.value, "maybe");
        let e = flag("@@read_only", None).unwrap_err();
        assert_eq!(e.value, "NULL");
        let e = gtid_set("@@gtid_executed", Some("not-a-set")).unwrap_err();
        assert_eq!(e.what, "@@gtid_executed");
        let e = gtid_vec("@@gtid_binlog_state", Some("0-1-2,x")).unwrap_err();
        assert_eq!(e.value, "0-1-2,x");
    }

    #[test]
    fn flags_and_integers() {
        assert!(flag("x", Some("ON")).unwrap());
        assert!(!flag("x", Some("off")).unwrap());
        assert_eq!(integer("x", Some("-1")).unwrap(), -1);
        assert!(integer("x", Some("one")).is_err());
        assert_eq!(
            gtid_vec("s", Some("0-2-150, 0-1-90")).unwrap(),
            vec!["0-1-90".parse().unwrap(), "0-2-150".parse().unwrap()]
        );
    }
}
