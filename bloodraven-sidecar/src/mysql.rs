//! The few statements the sidecar runs on its local server: read-only flags, fence, unfence, session eviction and
//! the `/status` snapshot.
//!
//! Every operation opens a fresh connection under a deadline (as the operator's driver does): a hung server never
//! parks a pooled connection, and "the own connection" spared by the eviction is exactly the one running it.
//! MySQL fences with `super_read_only`; MariaDB has none and fences with `read_only` (which binds every account
//! without `READ ONLY ADMIN`), so on MariaDB `super_read_only` in `/status` reports `read_only`.

use std::fmt;
use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, OptsBuilder, Row, Value};
use serde::Serialize;

use crate::Error;
use crate::config::MysqlTarget;

/// Server error "unknown thread id": the session ended before the kill.
const ER_NO_SUCH_THREAD: u16 = 1094;

/// The local server.
#[derive(Clone)]
pub struct Mysql {
    opts: Opts,
    addr: String,
}

impl fmt::Debug for Mysql {
    /// The connection options hold the password: only the address is shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mysql")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// Which server family answers.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
enum Flavor {
    Mariadb,
    Mysql,
}

/// The `/status` body (reference-api.md §13.5).
#[derive(Clone, Debug, Eq, PartialEq, Serialize)]
pub struct ServerStatus {
    /// `primary` when writable, else `replica`.
    pub role: &'static str,
    /// `@@read_only`.
    pub read_only: bool,
    /// `@@super_read_only` (MariaDB: `@@read_only`).
    pub super_read_only: bool,
    /// `@@gtid_executed` (MariaDB: `@@gtid_binlog_pos`).
    pub gtid_executed: String,
    /// Replica IO thread running.
    pub replica_io_running: bool,
    /// Replica SQL thread running.
    pub replica_sql_running: bool,
    /// Seconds behind the source (`null` when not replicating).
    pub seconds_behind_source: Option<u64>,
    /// `@@server_id`.
    pub server_id: u64,
    /// Server uptime in seconds.
    pub uptime: u64,
}

/// What a session eviction did.
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct Eviction {
    /// Sessions killed (or already gone).
    pub killed: usize,
    /// Sessions whose kill failed.
    pub failed: usize,
}

impl Mysql {
    /// The server at `target`, over TCP.
    pub fn new(target: &MysqlTarget) -> Mysql {
        let opts = OptsBuilder::default()
            .ip_or_hostname(target.host.clone())
            .tcp_port(target.port)
            .user(Some(target.user.clone()))
            .pass(Some(target.password.clone()))
            .prefer_socket(false)
            .tcp_nodelay(true)
            .stmt_cache_size(0);
        Mysql {
            opts: Opts::from(opts),
            addr: format!("{}:{}", target.host, target.port),
        }
    }

    /// `host:port`.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Connects and pings within `timeout` (the `/health` probe).
    pub async fn ping(&self, timeout: Duration) -> Result<(), Error> {
        self.with_conn("ping", timeout, async |c| c.ping().await)
            .await
    }

    /// `@@read_only`.
    pub async fn read_only(&self, timeout: Duration) -> Result<bool, Error> {
        self.with_conn("read @@read_only", timeout, async |c| {
            let v: Option<i64> = c.query_first("SELECT @@global.read_only").await?;
            Ok(v.unwrap_or(0) != 0)
        })
        .await
    }

    /// Fences: MySQL `super_read_only = ON` (which implies `read_only`), MariaDB `read_only = ON`.
    pub async fn fence(&self, timeout: Duration) -> Result<(), Error> {
        self.with_conn("fence", timeout, async |c| match flavor(c).await? {
            Flavor::Mysql => c.query_drop("SET GLOBAL super_read_only = ON").await,
            Flavor::Mariadb => c.query_drop("SET GLOBAL read_only = ON").await,
        })
        .await
    }

    /// Unfences: `super_read_only = OFF` then `read_only = OFF` (MariaDB: `read_only = OFF`).
    pub async fn unfence(&self, timeout: Duration) -> Result<(), Error> {
        self.with_conn("unfence", timeout, async |c| {
            if flavor(c).await? == Flavor::Mysql {
                c.query_drop("SET GLOBAL super_read_only = OFF").await?;
            }
            c.query_drop("SET GLOBAL read_only = OFF").await
        })
        .await
    }

    /// Whether the server holds any transaction or user schema (the safety net never unfences an empty server).
    pub async fn has_data(&self, timeout: Duration) -> Result<bool, Error> {
        self.with_conn("read data state", timeout, async |c| {
            let gtids = executed(c).await?;
            if !gtids.trim().is_empty() {
                return Ok(true);
            }
            let schemas: Option<i64> = c
                .query_first(
                    "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name NOT IN \
                     ('information_schema', 'mysql', 'performance_schema', 'sys')",
                )
                .await?;
            Ok(schemas.unwrap_or(0) > 0)
        })
        .await
    }

    /// `@@server_uuid` (MySQL only; `None` on MariaDB or on error).
    pub async fn server_uuid(&self, timeout: Duration) -> Option<String> {
        self.with_conn("read @@server_uuid", timeout, async |c| {
            if flavor(c).await? == Flavor::Mariadb {
                return Ok(None);
            }
            c.query_first::<String, _>("SELECT @@global.server_uuid")
                .await
        })
        .await
        .ok()
        .flatten()
    }

    /// Kills every session except this one, the server's own threads and replication (reference-failover.md §4.4):
    /// users `''`, `system user`, `event_scheduler` and commands `Binlog Dump`, `Binlog Dump GTID`, `Daemon` are
    /// spared. A session that ended meanwhile (1094) counts as killed.
    pub async fn evict_sessions(&self, timeout: Duration) -> Result<Eviction, Error> {
        self.with_conn("evict sessions", timeout, async |c| {
            let ids: Vec<u64> = c
                .query(
                    "SELECT ID FROM information_schema.processlist WHERE ID <> CONNECTION_ID() \
                     AND USER NOT IN ('', 'system user', 'event_scheduler') \
                     AND COMMAND NOT IN ('Binlog Dump', 'Binlog Dump GTID', 'Daemon')",
                )
                .await?;
            let mut out = Eviction::default();
            for id in ids {
                match c.query_drop(format!("KILL {id}")).await {
                    Ok(()) => out.killed += 1,
                    Err(mysql_async::Error::Server(e)) if e.code == ER_NO_SUCH_THREAD => {
                        out.killed += 1
                    }
                    Err(mysql_async::Error::Server(_)) => out.failed += 1,
                    Err(e) => return Err(e),
                }
            }
            Ok(out)
        })
        .await
    }

    /// The `/status` snapshot.
    pub async fn status(&self, timeout: Duration) -> Result<ServerStatus, Error> {
        self.with_conn("status", timeout, async |c| {
            let fl = flavor(c).await?;
            let (read_only, super_ro, server_id): (i64, i64, u64) = match fl {
                Flavor::Mysql => c
                    .query_first(
                        "SELECT @@global.read_only, @@global.super_read_only, @@global.server_id",
                    )
                    .await?
                    .unwrap_or_default(),
                Flavor::Mariadb => {
                    let (ro, id): (i64, u64) = c
                        .query_first("SELECT @@global.read_only, @@global.server_id")
                        .await?
                        .unwrap_or_default();
                    (ro, ro, id)
                }
            };
            let gtid_executed = executed(c).await?;
            let uptime: Option<(String, u64)> = c
                .query_first("SHOW GLOBAL STATUS LIKE 'Uptime'")
                .await
                .unwrap_or(None);
            let replica = replica_row(c, fl).await?;
            let col = |names: &[&str]| -> Option<String> {
                let row = replica.as_ref()?;
                names.iter().find_map(|n| {
                    row.columns_ref()
                        .iter()
                        .position(|col| col.name_str().eq_ignore_ascii_case(n))
                        .and_then(|i| row.as_ref(i))
                        .and_then(text)
                })
            };
            Ok(ServerStatus {
                role: if read_only == 0 { "primary" } else { "replica" },
                read_only: read_only != 0,
                super_read_only: super_ro != 0,
                gtid_executed,
                replica_io_running: col(&["Replica_IO_Running", "Slave_IO_Running"])
                    .is_some_and(|v| v.eq_ignore_ascii_case("yes")),
                replica_sql_running: col(&["Replica_SQL_Running", "Slave_SQL_Running"])
                    .is_some_and(|v| v.eq_ignore_ascii_case("yes")),
                seconds_behind_source: col(&["Seconds_Behind_Source", "Seconds_Behind_Master"])
                    .and_then(|v| v.parse().ok()),
                server_id,
                uptime: uptime.map_or(0, |(_, v)| v),
            })
        })
        .await
    }

    /// Opens a connection, runs `f` and disconnects, all within `timeout`.
    async fn with_conn<T>(
        &self,
        op: &'static str,
        timeout: Duration,
        f: impl AsyncFnOnce(&mut Conn) -> Result<T, mysql_async::Error>,
    ) -> Result<T, Error> {
        let err = |message: String| Error::Mysql {
            op,
            addr: self.addr.clone(),
            message,
        };
        let work = async {
            let mut conn = Conn::new(self.opts.clone()).await?;
            let out = f(&mut conn).await;
            let _ = conn.disconnect().await;
            out
        };
        match tokio::time::timeout(timeout, work).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(err(e.to_string())),
            Err(_) => Err(err(format!("no answer within {timeout:?}"))),
        }
    }
}

async fn flavor(c: &mut Conn) -> Result<Flavor, mysql_async::Error> {
    let version: Option<String> = c.query_first("SELECT @@global.version").await?;
    Ok(if version.unwrap_or_default().contains("MariaDB") {
        Flavor::Mariadb
    } else {
        Flavor::Mysql
    })
}

async fn executed(c: &mut Conn) -> Result<String, mysql_async::Error> {
    let sql = match flavor(c).await? {
        Flavor::Mysql => "SELECT @@global.gtid_executed",
        Flavor::Mariadb => "SELECT @@global.gtid_binlog_pos",
    };
    let v: Option<Option<String>> = c.query_first(sql).await?;
    Ok(v.flatten().unwrap_or_default().replace('\n', ""))
}

async fn replica_row(c: &mut Conn, fl: Flavor) -> Result<Option<Row>, mysql_async::Error> {
    if fl == Flavor::Mysql
        && let Ok(row) = c.query_first::<Row, _>("SHOW REPLICA STATUS").await
    {
        return Ok(row);
    }
    c.query_first("SHOW SLAVE STATUS").await
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::NULL => None,
        Value::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Value::Int(i) => Some(i.to_string()),
        Value::UInt(u) => Some(u.to_string()),
        other => Some(format!("{other:?}")),
    }
}
