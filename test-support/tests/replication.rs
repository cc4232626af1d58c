//! Starts two real MariaDB servers and replicates a row between them with GTIDs.

use std::time::Duration;

use bloodraven_test_support::mariadb::MariaDb;

#[test]
fn gtid_replication_carries_a_row_and_survives_restarts() -> std::io::Result<()> {
    let mut primary = MariaDb::builder().server_id(1).start()?;
    let replica = MariaDb::builder().server_id(2).start()?;
    assert_ne!(primary.port(), replica.port());
    assert_eq!(
        primary.url(),
        format!("mysql://root@127.0.0.1:{}", primary.port())
    );

    replica.replicate_from(&primary)?;
    primary.sql("CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(20)); INSERT INTO app.t VALUES (1, 'hello')")?;
    replica.wait_for(
        "SELECT v FROM app.t WHERE id = 1",
        "hello",
        Duration::from_secs(20),
    )?;

    // Both servers executed the same GTIDs, originating from server 1 in domain 0.
    let primary_pos = primary.sql("SELECT @@gtid_binlog_pos")?;
    assert!(primary_pos.trim().starts_with("0-1-"), "{primary_pos}");
    replica.wait_for(
        "SELECT @@gtid_slave_pos",
        primary_pos.trim(),
        Duration::from_secs(20),
    )?;

    // The binary log lives where the harness says.
    let index = std::fs::read_to_string(primary.binlog_index())?;
    assert!(index.contains("mysql-bin.000001"), "{index}");
    assert!(primary.binlog_dir().join("mysql-bin.000001").is_file());

    // A clean restart and a crash both bring the primary back, and replication resumes.
    primary.restart()?;
    primary.sql("INSERT INTO app.t VALUES (2, 'after restart')")?;
    replica.wait_for(
        "SELECT v FROM app.t WHERE id = 2",
        "after restart",
        Duration::from_secs(20),
    )?;
    primary.kill()?;
    assert!(!primary.is_running());
    primary.restart()?;
    assert!(primary.is_running());
    primary.sql("INSERT INTO app.t VALUES (3, 'after crash')")?;
    replica.wait_for("SELECT COUNT(*) FROM app.t", "3", Duration::from_secs(20))?;

    let datadir = primary.datadir().to_path_buf();
    drop(primary);
    assert!(!datadir.exists(), "drop removes the data directory");
    Ok(())
}
