//! Every statement the MySQL 8.0/8.4/9.x driver sends, identical to the reference implementation's.
//!
//! Only the 8.0.22+/8.4 statement names are used (`SHOW REPLICA STATUS`, `CHANGE REPLICATION SOURCE TO`,
//! `RESET REPLICA ALL`); parsing of `SHOW REPLICA STATUS` still accepts the legacy column names.

use std::time::Duration;

use super::sql::{REDACTED, Sql, Statement, quote, seconds};
use crate::site::SourceSpec;

/// The MySQL SQL table.
pub(crate) const SQL: Sql = Sql {
    probe: "SELECT @@global.read_only, @@global.super_read_only, @@global.server_uuid, @@global.version, \
            @@global.gtid_executed",
    replica_status: "SHOW REPLICA STATUS",
    fence: &["SET GLOBAL super_read_only = ON"],
    unfence: &[
        "SET GLOBAL super_read_only = OFF",
        "SET GLOBAL read_only = OFF",
    ],
    // The reference spares only its own connection and the binlog dump threads that feed replicas: before CLONE
    // it wants the applier gone too.
    list_client_sessions: "SELECT ID FROM information_schema.processlist WHERE ID <> CONNECTION_ID() \
                           AND COMMAND NOT IN ('Binlog Dump', 'Binlog Dump GTID')",
    kill,
    start_sql_thread: "START REPLICA SQL_THREAD",
    stop_replication: "STOP REPLICA",
    reset_replication: "RESET REPLICA ALL",
    start_replication: "START REPLICA",
    executed: "SELECT @@global.gtid_executed",
    change_source,
    wait_for_executed,
    has_user_schemas: "SELECT EXISTS(SELECT 1 FROM information_schema.schemata WHERE schema_name NOT IN \
                       ('information_schema', 'mysql', 'performance_schema', 'sys'))",
};

/// The port the reference leaves implicit; any other port is spelled out.
const DEFAULT_PORT: u16 = 3306;

fn kill(id: u64) -> String {
    format!("KILL {id}")
}

/// `CHANGE REPLICATION SOURCE TO SOURCE_HOST=…, SOURCE_USER=…, SOURCE_PASSWORD=…, SOURCE_AUTO_POSITION=1` plus
/// `, SOURCE_SSL=1` with TLS, else `, GET_SOURCE_PUBLIC_KEY=1` (caching_sha2_password without TLS).
fn change_source(source: &SourceSpec) -> Statement {
    let render = |password: &str| {
        let port = if source.port == DEFAULT_PORT {
            String::new()
        } else {
            format!(", SOURCE_PORT={}", source.port)
        };
        let tail = if source.tls {
            ", SOURCE_SSL=1"
        } else {
            ", GET_SOURCE_PUBLIC_KEY=1"
        };
        format!(
            "CHANGE REPLICATION SOURCE TO SOURCE_HOST={}{port}, SOURCE_USER={}, SOURCE_PASSWORD={password}, \
             SOURCE_AUTO_POSITION=1{tail}",
            quote(&source.host),
            quote(&source.user),
        )
    };
    Statement {
        sql: render(&quote(source.password.expose())),
        shown: render(REDACTED),
    }
}

/// `SELECT WAIT_FOR_EXECUTED_GTID_SET('<set>', <seconds>)`: 0 when reached, 1 on timeout.
fn wait_for_executed(set: &str, timeout: Duration) -> String {
    format!(
        "SELECT WAIT_FOR_EXECUTED_GTID_SET({}, {})",
        quote(set),
        seconds(timeout)
    )
}

/// The recipient side of `CLONE INSTANCE` (reference §2.6, phase `Cloning`), as sent on one connection:
/// writable (MySQL refuses CLONE under `super_read_only`), donor allow-list, session timeouts, then the clone.
/// The session kill between the allow-list and the timeouts is the driver's, using [`SQL`]'s session list.
pub(crate) struct CloneStatements {
    /// `super_read_only = OFF`, `read_only = OFF`.
    pub(crate) writable: [&'static str; 2],
    /// `SET GLOBAL clone_valid_donor_list = '<host>:<port>'`.
    pub(crate) donor_list: String,
    /// Session `net_read_timeout`/`net_write_timeout` set to the clone timeout.
    pub(crate) timeouts: [String; 2],
    /// `CLONE INSTANCE FROM '<user>'@'<host>':<port> IDENTIFIED BY '<password>'` plus ` REQUIRE SSL` with TLS.
    pub(crate) clone: Statement,
    /// Re-fencing after a failed clone.
    pub(crate) refence: &'static str,
}

/// The statements of one clone from `donor`.
pub(crate) fn clone_statements(donor: &SourceSpec, timeout: Duration) -> CloneStatements {
    let secs = timeout.as_secs().max(1);
    let render = |password: &str| {
        format!(
            "CLONE INSTANCE FROM {}@{}:{} IDENTIFIED BY {password}{}",
            quote(&donor.user),
            quote(&donor.host),
            donor.port,
            if donor.tls { " REQUIRE SSL" } else { "" }
        )
    };
    CloneStatements {
        writable: [
            "SET GLOBAL super_read_only = OFF",
            "SET GLOBAL read_only = OFF",
        ],
        donor_list: format!(
            "SET GLOBAL clone_valid_donor_list = {}",
            quote(&format!("{}:{}", donor.host, donor.port))
        ),
        timeouts: [
            format!("SET SESSION net_read_timeout = {secs}"),
            format!("SET SESSION net_write_timeout = {secs}"),
        ],
        clone: Statement {
            sql: render(&quote(donor.password.expose())),
            shown: render(REDACTED),
        },
        refence: "SET GLOBAL super_read_only = ON",
    }
}

/// Whether a CLONE error is the expected end of a successful clone: the recipient restarts and drops the
/// connection, or has no supervisor to restart it (error 3707, "Restart server failed").
pub(crate) fn clone_error_means_restart(code: Option<u16>, message: &str) -> bool {
    const RESTART_FAILED: u16 = 3707;
    const SIGNS: [&str; 6] = [
        "invalid connection",
        "connection reset",
        "broken pipe",
        "eof",
        "bad connection",
        "lost connection",
    ];
    if code == Some(RESTART_FAILED) || message.contains("Restart server failed") {
        return true;
    }
    let lower = message.to_ascii_lowercase();
    SIGNS.iter().any(|s| lower.contains(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(tls: bool, port: u16) -> SourceSpec {
        SourceSpec {
            host: "orders-iad-internal".into(),
            port,
            user: "repl".into(),
            password: "pa'ss".into(),
            tls,
        }
    }

    #[test]
    fn change_source_matches_the_reference_without_tls() {
        let s = change_source(&source(false, 3306));
        assert_eq!(
            s.sql,
            "CHANGE REPLICATION SOURCE TO SOURCE_HOST='orders-iad-internal', SOURCE_USER='repl', \
             SOURCE_PASSWORD='pa\\'ss', SOURCE_AUTO_POSITION=1, GET_SOURCE_PUBLIC_KEY=1"
        );
        assert!(!s.shown.contains("pa\\'ss"), "{}", s.shown);
        assert!(s.shown.contains("SOURCE_PASSWORD='<redacted>'"));
    }

    #[test]
    fn change_source_with_tls_and_a_port() {
        let s = change_source(&source(true, 13306));
        assert_eq!(
            s.sql,
            "CHANGE REPLICATION SOURCE TO SOURCE_HOST='orders-iad-internal', SOURCE_PORT=13306, \
             SOURCE_USER='repl', SOURCE_PASSWORD='pa\\'ss', SOURCE_AUTO_POSITION=1, SOURCE_SSL=1"
        );
    }

    #[test]
    fn clone_statements_match_the_reference() {
        let c = clone_statements(&source(true, 3306), Duration::from_secs(3600));
        assert_eq!(
            c.donor_list,
            "SET GLOBAL clone_valid_donor_list = 'orders-iad-internal:3306'"
        );
        assert_eq!(c.timeouts[0], "SET SESSION net_read_timeout = 3600");
        assert_eq!(c.timeouts[1], "SET SESSION net_write_timeout = 3600");
        assert_eq!(
            c.clone.sql,
            "CLONE INSTANCE FROM 'repl'@'orders-iad-internal':3306 IDENTIFIED BY 'pa\\'ss' REQUIRE SSL"
        );
        assert_eq!(
            c.clone.shown,
            "CLONE INSTANCE FROM 'repl'@'orders-iad-internal':3306 IDENTIFIED BY '<redacted>' REQUIRE SSL"
        );
        let plain = clone_statements(&source(false, 3306), Duration::from_secs(3600));
        assert!(!plain.clone.sql.contains("REQUIRE SSL"));
    }

    #[test]
    fn clone_restart_errors_count_as_success() {
        assert!(clone_error_means_restart(
            Some(3707),
            "Restart server failed (mysqld is not managed by supervisor process)."
        ));
        assert!(clone_error_means_restart(
            None,
            "Lost connection to MySQL server during query"
        ));
        assert!(clone_error_means_restart(
            None,
            "Connection reset by peer (os error 104)"
        ));
        assert!(!clone_error_means_restart(
            Some(3862),
            "Clone Donor Error: 1045 : Access denied"
        ));
    }

    #[test]
    fn wait_uses_wait_for_executed_gtid_set() {
        assert_eq!(
            wait_for_executed(
                "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5",
                Duration::from_millis(1500)
            ),
            "SELECT WAIT_FOR_EXECUTED_GTID_SET('3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5', 1.5)"
        );
    }
}
