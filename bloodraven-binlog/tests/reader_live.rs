//! Binlogs written by a real MariaDB server (started by the test-support harness), read while the server
//! writes them and after it rotated or stopped, checked against the server's own GTID positions and against
//! `mariadb-binlog`.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use bloodraven_binlog::reader::{self, Checksum, Flavor, Reader, Terminal};
use bloodraven_gtid::{MariadbGtid, MariadbGtidList};
use bloodraven_test_support::mariadb::MariaDb;
use chrono::Utc;

fn list(text: &str) -> MariadbGtidList {
    text.trim().parse().unwrap()
}

/// Event offsets as `mariadb-binlog` prints them (`# at N`).
fn mariadb_binlog_offsets(path: &Path) -> Vec<u64> {
    let out = Command::new("mariadb-binlog").arg(path).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut offsets: Vec<u64> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# at ")?.trim().parse().ok())
        .collect();
    offsets.dedup();
    offsets
}

#[test]
fn live_mariadb_binlogs_match_the_servers_positions() -> Result<(), Box<dyn std::error::Error>> {
    let started = Utc::now().timestamp() - 1;
    let mut server = MariaDb::builder().server_id(7).start()?;
    server.sql(
        "CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY, v TEXT) ENGINE=InnoDB",
    )?;
    for i in 0..20 {
        server.sql(&format!(
            "INSERT INTO app.t VALUES ({i}, REPEAT('x', {i} * 100))"
        ))?;
    }
    server.sql(
        "BEGIN; UPDATE app.t SET v = 'y' WHERE id < 10; DELETE FROM app.t WHERE id = 19; COMMIT",
    )?;
    let pos_at_rotation = list(&server.sql("SELECT @@gtid_binlog_pos")?);
    server.sql("FLUSH BINARY LOGS")?;
    server.sql("INSERT INTO app.t VALUES (100, 'after rotation')")?;

    let first = server.binlog_dir().join("mysql-bin.000001");
    let second = server.binlog_dir().join("mysql-bin.000002");

    // The rotated file: closed, ends with a ROTATE, holds GTIDs 0-7-1 .. 0-7-23.
    let s1 = reader::summarize_file(&first)?;
    assert_eq!(
        (s1.flavor, s1.checksum, s1.in_use),
        (Flavor::Mariadb, Checksum::Crc32, false)
    );
    assert!(
        s1.server_version.contains("MariaDB"),
        "{}",
        s1.server_version
    );
    assert_eq!(
        s1.terminal,
        Some(Terminal::Rotate {
            next_file: "mysql-bin.000002".into()
        })
    );
    let expected: Vec<MariadbGtid> = (1..=23)
        .map(|seq| MariadbGtid {
            domain: 0,
            server_id: 7,
            seq,
        })
        .collect();
    assert_eq!(s1.mariadb_gtids, expected);
    assert_eq!(s1.mariadb_gtid_list, Some(MariadbGtidList::new()));
    assert_eq!(s1.mariadb_end_gtid_list(), Some(pos_at_rotation.clone()));
    assert_eq!(
        (s1.previous_gtids.as_ref(), s1.gtids.is_empty()),
        (None, true)
    );
    assert_eq!(s1.size, std::fs::metadata(&first)?.len());
    let (t0, t1) = (
        s1.first_event_time.unwrap().timestamp(),
        s1.last_event_time.unwrap().timestamp(),
    );
    assert!(
        started <= t0 && t0 <= t1 && t1 <= Utc::now().timestamp(),
        "{t0} {t1}"
    );
    let ours: Vec<u64> = Reader::new(std::fs::File::open(&first)?)
        .map(|e| e.map(|e| e.offset()))
        .collect::<Result<_, _>>()?;
    assert_eq!(ours, mariadb_binlog_offsets(&first));

    // The active file, read while the server has it open: in use, no closing event, starts from the state
    // the server had at rotation.
    let s2 = reader::summarize_file(&second)?;
    assert!(s2.in_use);
    assert_eq!(s2.terminal, None);
    assert_eq!(s2.mariadb_gtid_list, Some(pos_at_rotation));
    assert_eq!(
        s2.mariadb_end_gtid_list(),
        Some(list(&server.sql("SELECT @@gtid_binlog_pos")?))
    );

    // A clean shutdown closes it with a STOP and clears the in-use flag.
    server.stop()?;
    let s2 = reader::summarize_file(&second)?;
    assert_eq!((s2.in_use, s2.terminal), (false, Some(Terminal::Stop)));
    Ok(())
}

#[test]
fn live_replica_without_checksums_keeps_the_primarys_server_ids()
-> Result<(), Box<dyn std::error::Error>> {
    let primary = MariaDb::builder().server_id(1).gtid_domain_id(3).start()?;
    let replica = MariaDb::builder()
        .server_id(2)
        .arg("--binlog-checksum=NONE")
        .start()?;
    replica.replicate_from(&primary)?;
    primary.sql(
        "CREATE DATABASE r; CREATE TABLE r.t (id INT PRIMARY KEY); INSERT INTO r.t VALUES (1), (2)",
    )?;
    let pos = primary.sql("SELECT @@gtid_binlog_pos")?;
    replica.wait_for(
        "SELECT @@gtid_slave_pos",
        pos.trim(),
        Duration::from_secs(20),
    )?;

    let s = reader::summarize_file(&replica.binlog_dir().join("mysql-bin.000001"))?;
    assert_eq!(s.checksum, Checksum::Off);
    let gtids: Vec<String> = s.mariadb_gtids.iter().map(ToString::to_string).collect();
    assert_eq!(gtids, ["3-1-1", "3-1-2", "3-1-3"]);
    assert_eq!(
        s.mariadb_end_gtid_list(),
        Some(list(&replica.sql("SELECT @@gtid_binlog_pos")?))
    );
    Ok(())
}
