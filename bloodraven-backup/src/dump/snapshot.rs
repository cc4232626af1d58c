//! The consistent snapshot: N transactions that see the same instant, and the GTID state and binlog position
//! of exactly that instant.
//!
//! A separate lock connection stops commits (MariaDB 10.4+: `BACKUP STAGE START` then `BACKUP STAGE
//! BLOCK_COMMIT`; MySQL and older MariaDB: `FLUSH TABLES WITH READ LOCK`). While commits are blocked each
//! worker connection runs `START TRANSACTION WITH CONSISTENT SNAPSHOT`, and the lock connection reads the
//! GTID state (MariaDB `@@gtid_binlog_pos`, MySQL `@@global.gtid_executed`) and the binlog coordinates
//! (`SHOW MASTER STATUS`, or `SHOW BINARY LOG STATUS` on MySQL 8.4+). Then the lock is released: every worker
//! sees the data as of that GTID state, and commits resume. The lock is held for milliseconds.

use crate::conn::{ConnectOptions, Session};
use crate::error::Error;
use crate::format::Flavor;

/// Where the snapshot sits in the server's history.
#[derive(Clone, Debug)]
pub(crate) struct SnapshotPoint {
    pub(crate) flavor: Flavor,
    pub(crate) version: String,
    pub(crate) hostname: String,
    pub(crate) gtid: String,
    pub(crate) binlog_file: String,
    pub(crate) binlog_position: u64,
}

/// Session settings of every dump connection: UTC, bytes as stored, repeatable read.
const SESSION_SETUP: &str = "SET SESSION time_zone = '+00:00'; SET NAMES binary; \
     SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ; SET SESSION net_write_timeout = 3600; \
     SET SESSION wait_timeout = 86400";

/// Opens `workers` connections in one consistent snapshot.
pub(crate) async fn open(
    source: &ConnectOptions,
    workers: usize,
) -> Result<(Vec<Session>, SnapshotPoint), Error> {
    let mut lock = source.connect().await?;
    let version = lock.scalar("SELECT @@version").await?;
    let hostname = lock.scalar("SELECT @@hostname").await?;
    let flavor = Flavor::from_version(&version);
    let mut sessions = Vec::with_capacity(workers);
    for _ in 0..workers {
        let mut s = source.connect().await?;
        s.exec(SESSION_SETUP).await?;
        sessions.push(s);
    }
    let backup_stage = flavor == Flavor::Mariadb
        && lock.exec("BACKUP STAGE START").await.is_ok()
        && lock.exec("BACKUP STAGE BLOCK_COMMIT").await.is_ok();
    if !backup_stage {
        if flavor == Flavor::Mariadb {
            // A failed BLOCK_COMMIT leaves the stage open.
            let _ = lock.exec("BACKUP STAGE END").await;
        }
        lock.exec("FLUSH TABLES WITH READ LOCK").await?;
    }
    let result = read_point(&mut lock, &mut sessions, flavor).await;
    let unlock = if backup_stage {
        "BACKUP STAGE END"
    } else {
        "UNLOCK TABLES"
    };
    let unlocked = lock.exec(unlock).await;
    let (gtid, binlog_file, binlog_position) = result?;
    unlocked?;
    drop(lock.conn.disconnect().await);
    Ok((
        sessions,
        SnapshotPoint {
            flavor,
            version,
            hostname,
            gtid,
            binlog_file,
            binlog_position,
        },
    ))
}

async fn read_point(
    lock: &mut Session,
    sessions: &mut [Session],
    flavor: Flavor,
) -> Result<(String, String, u64), Error> {
    for s in sessions.iter_mut() {
        s.exec("START TRANSACTION WITH CONSISTENT SNAPSHOT").await?;
    }
    let gtid = match flavor {
        Flavor::Mariadb => lock.scalar("SELECT @@GLOBAL.gtid_binlog_pos").await?,
        Flavor::Mysql => lock.scalar("SELECT @@GLOBAL.gtid_executed").await?,
    };
    let gtid: String = gtid.chars().filter(|c| !c.is_whitespace()).collect();
    let status = match lock.text_rows("SHOW BINARY LOG STATUS").await {
        Ok(rows) => rows,
        Err(_) => lock.text_rows("SHOW MASTER STATUS").await?,
    };
    let (file, position) = status
        .into_iter()
        .next()
        .map(|r| {
            let file = r.first().cloned().unwrap_or_default();
            let pos = r.get(1).and_then(|p| p.parse().ok()).unwrap_or(0);
            (file, pos)
        })
        .unwrap_or_default();
    Ok((gtid, file, position))
}
