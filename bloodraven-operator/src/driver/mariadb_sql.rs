//! Every statement the MariaDB 10.6+ driver sends.
//!
//! MariaDB has no `super_read_only` (fencing is `read_only`, which binds every account without the
//! `READ ONLY ADMIN` privilege), no CLONE, and positions GTIDs per replication domain; the replication statements
//! use the `SLAVE`/`MASTER` spellings every 10.x and 11.x release accepts.

use std::time::Duration;

use super::sql::{REDACTED, Sql, Statement, quote, seconds};
use crate::site::SourceSpec;

/// The MariaDB SQL table.
pub(crate) const SQL: Sql = Sql {
    probe: "SELECT @@global.read_only, @@global.server_id, @@global.version, @@global.gtid_binlog_pos, \
            @@global.gtid_current_pos, @@global.gtid_slave_pos, @@global.gtid_binlog_state",
    replica_status: "SHOW SLAVE STATUS",
    fence: &["SET GLOBAL read_only = ON"],
    unfence: &["SET GLOBAL read_only = OFF"],
    // Unlike MySQL (where the reference kills the applier before CLONE), nothing here ever needs the server's own
    // threads gone: replication threads, the event scheduler and daemons are spared.
    list_client_sessions: "SELECT ID FROM information_schema.processlist WHERE ID <> CONNECTION_ID() \
                           AND COMMAND NOT IN ('Binlog Dump', 'Daemon') \
                           AND USER NOT IN ('system user', 'event_scheduler')",
    kill,
    start_sql_thread: "START SLAVE SQL_THREAD",
    stop_replication: "STOP SLAVE",
    reset_replication: "RESET SLAVE ALL",
    start_replication: "START SLAVE",
    executed: "SELECT @@global.gtid_binlog_pos, @@global.gtid_current_pos, @@global.gtid_slave_pos, \
               @@global.gtid_binlog_state",
    change_source,
    wait_for_executed,
    has_user_schemas: "SELECT EXISTS(SELECT 1 FROM information_schema.schemata WHERE schema_name NOT IN \
                       ('information_schema', 'mysql', 'performance_schema', 'sys'))",
};

/// The applier position, which `SHOW SLAVE STATUS` does not print.
pub(crate) const SLAVE_POS: &str = "SELECT @@global.gtid_slave_pos";

/// Moves `gtid_slave_pos` to `position` before a former primary starts replicating (threads must be stopped).
pub(crate) fn set_slave_pos(position: &str) -> String {
    format!("SET GLOBAL gtid_slave_pos = {}", quote(position))
}

/// Lists the binary logs, oldest first (`Log_name`, `File_size`).
pub(crate) const BINARY_LOGS: &str = "SHOW BINARY LOGS";

/// The events of one binary log (`Log_name`, `Pos`, `Event_type`, `Server_id`, `End_log_pos`, `Info`).
pub(crate) fn binlog_events(file: &str) -> String {
    format!("SHOW BINLOG EVENTS IN {}", quote(file))
}

/// The first events of one binary log: its `Gtid_list` event (the binlog state before the file) is among them.
pub(crate) fn binlog_head(file: &str) -> String {
    format!("SHOW BINLOG EVENTS IN {} LIMIT 4", quote(file))
}

fn kill(id: u64) -> String {
    format!("KILL {id}")
}

/// `CHANGE MASTER TO MASTER_HOST=…, MASTER_PORT=…, MASTER_USER=…, MASTER_PASSWORD=…, MASTER_USE_GTID=slave_pos`
/// plus `, MASTER_SSL=1` with TLS.
fn change_source(source: &SourceSpec) -> Statement {
    let render = |password: &str| {
        format!(
            "CHANGE MASTER TO MASTER_HOST={}, MASTER_PORT={}, MASTER_USER={}, MASTER_PASSWORD={password}, \
             MASTER_USE_GTID=slave_pos{}",
            quote(&source.host),
            source.port,
            quote(&source.user),
            if source.tls { ", MASTER_SSL=1" } else { "" }
        )
    };
    Statement {
        sql: render(&quote(source.password.expose())),
        shown: render(REDACTED),
    }
}

/// `SELECT MASTER_GTID_WAIT('<position>', <seconds>)`: 0 when the applier reached it, -1 on timeout.
fn wait_for_executed(position: &str, timeout: Duration) -> String {
    format!(
        "SELECT MASTER_GTID_WAIT({}, {})",
        quote(position),
        seconds(timeout)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn change_master_uses_slave_pos() {
        let s = change_source(&SourceSpec {
            host: "127.0.0.1".into(),
            port: 3307,
            user: "repl".into(),
            password: "x\\y".into(),
            tls: true,
        });
        assert_eq!(
            s.sql,
            "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=3307, MASTER_USER='repl', \
             MASTER_PASSWORD='x\\\\y', MASTER_USE_GTID=slave_pos, MASTER_SSL=1"
        );
        assert!(!s.shown.contains("x\\\\y"));
    }

    #[test]
    fn wait_uses_master_gtid_wait() {
        assert_eq!(
            wait_for_executed("0-1-42,1-2-7", Duration::from_secs(5)),
            "SELECT MASTER_GTID_WAIT('0-1-42,1-2-7', 5)"
        );
    }
}
