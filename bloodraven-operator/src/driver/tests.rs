//! Driver tests against a scripted server: the exact statements each operation sends (MySQL cannot run here, so
//! this is how its dialect is proven; MariaDB runs for real in `tests/live_driver.rs`) and how answers are read.

use std::sync::Arc;
use std::time::Duration;

use super::conn::Backend;
use super::conn::script::Script;
use super::site_impl::aligned_slave_pos;
use super::{DriverSite, mariadb_sql, mysql_sql};
use crate::site::{Flavor, GtidState, MariadbState, Site, SiteError, SourceSpec};

const U1: &str = "3e11fa47-71ca-11e1-9e33-c80aa9429562";

fn site(flavor: Flavor) -> (DriverSite, Arc<Script>) {
    let script = Script::new();
    let site = DriverSite::with_backend(
        "iad".into(),
        flavor,
        Backend::Script(script.clone()),
        Duration::from_secs(3600),
    );
    (site, script)
}

fn source() -> SourceSpec {
    SourceSpec {
        host: "orders-pdx-internal".into(),
        port: 3306,
        user: "repl".into(),
        password: "s3cret".into(),
        tls: false,
    }
}

#[tokio::test]
async fn mysql_fence_and_unfence_statements() {
    let (s, script) = site(Flavor::Mysql);
    s.fence().await.unwrap();
    s.unfence().await.unwrap();
    assert_eq!(
        script.sent(),
        [
            "SET GLOBAL super_read_only = ON",
            "SET GLOBAL super_read_only = OFF",
            "SET GLOBAL read_only = OFF",
        ]
    );
}

#[tokio::test]
async fn mysql_unfence_stops_at_the_first_failure() {
    let (s, script) = site(Flavor::Mysql);
    script.fail(
        "SET GLOBAL super_read_only = OFF",
        1227,
        "Access denied; you need SUPER",
    );
    let e = s.unfence().await.unwrap_err();
    assert!(
        matches!(&e, SiteError::Query { statement, message, .. }
            if statement == "SET GLOBAL super_read_only = OFF" && message.contains("Access denied")),
        "{e}"
    );
    assert_eq!(script.sent(), ["SET GLOBAL super_read_only = OFF"]);
}

#[tokio::test]
async fn mysql_replication_statements() {
    let (s, script) = site(Flavor::Mysql);
    s.stop_replication().await.unwrap();
    s.reset_replication().await.unwrap();
    s.start_sql_thread().await.unwrap();
    s.start_replication().await.unwrap();
    s.replicate_from(&source()).await.unwrap();
    assert_eq!(
        script.sent(),
        [
            "STOP REPLICA",
            "RESET REPLICA ALL",
            "START REPLICA SQL_THREAD",
            "START REPLICA",
            "CHANGE REPLICATION SOURCE TO SOURCE_HOST='orders-pdx-internal', SOURCE_USER='repl', \
             SOURCE_PASSWORD='s3cret', SOURCE_AUTO_POSITION=1, GET_SOURCE_PUBLIC_KEY=1",
            "START REPLICA",
        ]
    );
}

#[tokio::test]
async fn mysql_change_source_failure_never_shows_the_password() {
    let (s, script) = site(Flavor::Mysql);
    let change = (mysql_sql::SQL.change_source)(&source());
    script.fail(
        &change.sql,
        1198,
        "This operation cannot be performed with a running replica io thread",
    );
    let e = s.replicate_from(&source()).await.unwrap_err();
    let text = e.to_string();
    assert!(!text.contains("s3cret"), "{text}");
    assert!(text.contains("SOURCE_PASSWORD='<redacted>'"), "{text}");
    assert_eq!(
        script.sent().len(),
        1,
        "START REPLICA must not follow a failed CHANGE"
    );
}

#[tokio::test]
async fn mysql_probe_reads_flags_identity_gtids_and_replica_status() {
    let (s, script) = site(Flavor::Mysql);
    script.row(
        mysql_sql::SQL.probe,
        &[
            "@@global.read_only",
            "@@global.super_read_only",
            "@@global.server_uuid",
            "@@global.version",
            "@@global.gtid_executed",
        ],
        &[
            Some("1"),
            Some("1"),
            Some(U1),
            Some("9.1.0"),
            Some(&format!("{U1}:1-100")),
        ],
    );
    script.row(
        "SHOW REPLICA STATUS",
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
            Some("Yes"),
            Some("orders-pdx-internal"),
            Some("3306"),
            Some("0"),
            Some(&format!("{U1}:1-100")),
            Some(&format!("{U1}:1-100")),
            Some(""),
            Some(""),
            Some(""),
        ],
    );
    let p = s.probe().await.unwrap();
    assert_eq!(
        script.sent(),
        [
            "SELECT @@global.read_only, @@global.super_read_only, @@global.server_uuid, @@global.version, \
             @@global.gtid_executed",
            "SHOW REPLICA STATUS",
        ]
    );
    assert!(p.read_only);
    assert_eq!(p.super_read_only, Some(true));
    assert_eq!(p.flavor, Flavor::Mysql);
    assert_eq!(p.executed.to_string(), format!("{U1}:1-100"));
    let r = p.replica.unwrap();
    assert!(r.is_healthy());
    assert_eq!(r.seconds_behind, Some(0));
}

#[tokio::test]
async fn mysql_probe_without_replica_row_and_unreachable_server() {
    let (s, script) = site(Flavor::Mysql);
    script.row(
        mysql_sql::SQL.probe,
        &["a", "b", "c", "d", "e"],
        &[Some("0"), Some("0"), Some(U1), Some("8.0.39"), Some("")],
    );
    let p = s.probe().await.unwrap();
    assert_eq!(p.replica, None);
    assert!(p.executed.is_empty());
    script.go_down();
    let e = s.probe().await.unwrap_err();
    assert!(e.is_unreachable(), "{e}");
}

#[tokio::test]
async fn mysql_kill_client_sessions_spares_dump_threads_and_ignores_vanished_sessions() {
    let (s, script) = site(Flavor::Mysql);
    script.rows(
        mysql_sql::SQL.list_client_sessions,
        &["ID"],
        &[&[Some("11")], &[Some("12")], &[Some("13")]],
    );
    script.fail("KILL 12", 1094, "Unknown thread id: 12");
    script.fail("KILL 13", 1095, "You are not owner of thread 13");
    assert_eq!(s.kill_client_sessions().await.unwrap(), 1);
    assert_eq!(
        script.sent(),
        [
            "SELECT ID FROM information_schema.processlist WHERE ID <> CONNECTION_ID() \
             AND COMMAND NOT IN ('Binlog Dump', 'Binlog Dump GTID')",
            "KILL 11",
            "KILL 12",
            "KILL 13",
        ]
    );
}

#[tokio::test]
async fn mysql_executed_and_wait_for_executed() {
    let (s, script) = site(Flavor::Mysql);
    script.row(
        "SELECT @@global.gtid_executed",
        &["g"],
        &[Some(&format!("{U1}:1-5,\n{U1}:7"))],
    );
    let e = s.executed().await.unwrap();
    assert_eq!(e.as_mysql().unwrap().count(), 6);

    let wait = format!("SELECT WAIT_FOR_EXECUTED_GTID_SET('{U1}:1-5:7', 2)");
    script.row(&wait, &["r"], &[Some("0")]);
    script.row(&wait, &["r"], &[Some("1")]);
    assert!(
        s.wait_for_executed(&e, Duration::from_secs(2))
            .await
            .unwrap()
    );
    assert!(
        !s.wait_for_executed(&e, Duration::from_secs(2))
            .await
            .unwrap()
    );
    let wrong = GtidState::Mariadb(MariadbState::default());
    assert!(matches!(
        s.wait_for_executed(&wrong, Duration::from_secs(1)).await,
        Err(SiteError::Parse { .. })
    ));
}

#[tokio::test]
async fn mysql_clone_sequence_matches_the_reference() {
    let (s, script) = site(Flavor::Mysql);
    script.rows(
        mysql_sql::SQL.list_client_sessions,
        &["ID"],
        &[&[Some("40")]],
    );
    let c = mysql_sql::clone_statements(&source(), Duration::from_secs(3600));
    script.fail(
        &c.clone.sql,
        3707,
        "Restart server failed (mysqld is not managed by supervisor process).",
    );
    s.clone_from(&source()).await.unwrap();
    assert_eq!(
        script.sent(),
        [
            "SET GLOBAL super_read_only = OFF",
            "SET GLOBAL read_only = OFF",
            "SET GLOBAL clone_valid_donor_list = 'orders-pdx-internal:3306'",
            mysql_sql::SQL.list_client_sessions,
            "KILL 40",
            "SET SESSION net_read_timeout = 3600",
            "SET SESSION net_write_timeout = 3600",
            "CLONE INSTANCE FROM 'repl'@'orders-pdx-internal':3306 IDENTIFIED BY 's3cret'",
        ]
    );
}

#[tokio::test]
async fn mysql_failed_clone_refences_the_recipient() {
    let (s, script) = site(Flavor::Mysql);
    let c = mysql_sql::clone_statements(&source(), Duration::from_secs(3600));
    script.fail(
        &c.clone.sql,
        3862,
        "Clone Donor Error: 1045 : Access denied for user 'repl'",
    );
    let e = s.clone_from(&source()).await.unwrap_err();
    assert!(!e.to_string().contains("s3cret"), "{e}");
    assert_eq!(
        script.sent().last().unwrap(),
        "SET GLOBAL super_read_only = ON"
    );

    let (s, script) = site(Flavor::Mysql);
    script.fail(
        &c.donor_list,
        1231,
        "Variable 'clone_valid_donor_list' can't be set",
    );
    assert!(s.clone_from(&source()).await.is_err());
    assert_eq!(
        script.sent(),
        [
            "SET GLOBAL super_read_only = OFF",
            "SET GLOBAL read_only = OFF",
            "SET GLOBAL clone_valid_donor_list = 'orders-pdx-internal:3306'",
            "SET GLOBAL super_read_only = ON",
        ]
    );
}

#[tokio::test]
async fn mysql_user_schema_check() {
    let (s, script) = site(Flavor::Mysql);
    script.row(mysql_sql::SQL.has_user_schemas, &["e"], &[Some("1")]);
    script.row(mysql_sql::SQL.has_user_schemas, &["e"], &[Some("0")]);
    assert!(s.has_user_schemas().await.unwrap());
    assert!(!s.has_user_schemas().await.unwrap());
    assert!(script.sent()[0].contains("information_schema.schemata"));
}

#[tokio::test]
async fn mariadb_clone_is_a_typed_unsupported_error() {
    let (s, script) = site(Flavor::Mariadb);
    let e = s.clone_from(&source()).await.unwrap_err();
    assert!(
        matches!(&e, SiteError::Unsupported { flavor: Flavor::Mariadb, operation, .. } if operation == "clone"),
        "{e}"
    );
    assert!(script.sent().is_empty(), "nothing may be sent");
}

#[tokio::test]
async fn mariadb_replicate_from_aligns_slave_pos_of_a_former_primary() {
    let (s, script) = site(Flavor::Mariadb);
    script.row(
        mariadb_sql::SQL.executed,
        &["a", "b", "c", "d"],
        &[
            Some("0-1-100"),
            Some("0-1-100"),
            Some("0-2-40"),
            Some("0-1-100,0-2-40"),
        ],
    );
    s.replicate_from(&source()).await.unwrap();
    let sent = script.sent();
    assert_eq!(sent[1], "SET GLOBAL gtid_slave_pos = '0-1-100'");
    assert!(
        sent[2].starts_with("CHANGE MASTER TO MASTER_HOST='orders-pdx-internal', MASTER_PORT=3306")
    );
    assert_eq!(sent[3], "START SLAVE");
}

#[test]
fn aligned_slave_pos_keeps_the_later_position_per_domain() {
    let state = |b: &str, sl: &str| MariadbState {
        binlog_pos: b.parse().unwrap(),
        slave_pos: sl.parse().unwrap(),
        ..Default::default()
    };
    assert_eq!(aligned_slave_pos(&state("0-1-10", "0-1-10")), None);
    assert_eq!(aligned_slave_pos(&state("", "0-1-10")), None);
    assert_eq!(aligned_slave_pos(&state("0-2-9", "0-1-10")), None);
    assert_eq!(
        aligned_slave_pos(&state("0-2-12,1-2-3", "0-1-10"))
            .unwrap()
            .to_string(),
        "0-2-12,1-2-3"
    );
}

#[tokio::test]
async fn mariadb_kill_list_spares_the_servers_own_threads() {
    let (s, script) = site(Flavor::Mariadb);
    s.kill_client_sessions().await.unwrap();
    let sent = script.sent();
    assert!(
        sent[0].contains("'system user'") && sent[0].contains("'Binlog Dump'"),
        "{sent:?}"
    );
}

#[tokio::test]
async fn mariadb_statements_per_operation() {
    let (s, script) = site(Flavor::Mariadb);
    s.fence().await.unwrap();
    s.unfence().await.unwrap();
    s.stop_replication().await.unwrap();
    s.reset_replication().await.unwrap();
    s.start_sql_thread().await.unwrap();
    s.start_replication().await.unwrap();
    assert_eq!(
        script.sent(),
        [
            "SET GLOBAL read_only = ON",
            "SET GLOBAL read_only = OFF",
            "STOP SLAVE",
            "RESET SLAVE ALL",
            "START SLAVE SQL_THREAD",
            "START SLAVE",
        ]
    );
}

#[tokio::test]
async fn mariadb_wait_returns_at_once_when_the_server_already_holds_the_target() {
    let (s, script) = site(Flavor::Mariadb);
    script.row(
        mariadb_sql::SQL.executed,
        &["a", "b", "c", "d"],
        &[
            Some("0-2-50"),
            Some("0-2-50"),
            Some("0-1-40"),
            Some("0-1-40,0-2-50"),
        ],
    );
    let held = GtidState::Mariadb(MariadbState {
        binlog_pos: "0-2-45".parse().unwrap(),
        binlog_state: vec!["0-2-45".parse().unwrap()],
        ..Default::default()
    });
    assert!(
        s.wait_for_executed(&held, Duration::from_secs(5))
            .await
            .unwrap()
    );
    assert_eq!(script.sent(), [mariadb_sql::SQL.executed]);

    let ahead = GtidState::Mariadb(MariadbState {
        binlog_pos: "0-1-60".parse().unwrap(),
        binlog_state: vec!["0-1-60".parse().unwrap()],
        ..Default::default()
    });
    script.row(
        "SELECT MASTER_GTID_WAIT('0-1-60', 0.25)",
        &["r"],
        &[Some("-1")],
    );
    assert!(
        !s.wait_for_executed(&ahead, Duration::from_millis(250))
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn mysql_replica_status_alone_and_absent() {
    let (s, script) = site(Flavor::Mysql);
    assert_eq!(s.replica_status().await.unwrap(), None);
    script.row(
        "SHOW REPLICA STATUS",
        &[
            "Replica_IO_Running",
            "Replica_SQL_Running",
            "Source_Host",
            "Source_Port",
            "Seconds_Behind_Source",
        ],
        &[
            Some("Connecting"),
            Some("Yes"),
            Some("orders-iad-internal"),
            Some("3306"),
            None,
        ],
    );
    let r = s.replica_status().await.unwrap().unwrap();
    assert!(!r.io_running && r.sql_running && r.seconds_behind.is_none());
    assert_eq!(
        script.sent(),
        ["SHOW REPLICA STATUS", "SHOW REPLICA STATUS"]
    );
}

#[tokio::test]
async fn mariadb_replica_status_reads_the_applier_position() {
    let (s, script) = site(Flavor::Mariadb);
    script.row(
        "SHOW SLAVE STATUS",
        &[
            "Slave_IO_Running",
            "Slave_SQL_Running",
            "Master_Host",
            "Master_Port",
            "Seconds_Behind_Master",
            "Gtid_IO_Pos",
        ],
        &[
            Some("Yes"),
            Some("Yes"),
            Some("127.0.0.11"),
            Some("3306"),
            Some("0"),
            Some("0-1-9"),
        ],
    );
    script.row(mariadb_sql::SLAVE_POS, &["p"], &[Some("0-1-8")]);
    let r = s.replica_status().await.unwrap().unwrap();
    assert_eq!(
        (r.retrieved.as_str(), r.executed.as_str()),
        ("0-1-9", "0-1-8")
    );
    assert_eq!(script.sent(), ["SHOW SLAVE STATUS", mariadb_sql::SLAVE_POS]);
}
