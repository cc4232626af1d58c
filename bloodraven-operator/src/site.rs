//! The [`Site`] trait: the MySQL/MariaDB admin operations the runner performs on one site, and their value types.
//!
//! Drivers (MySQL 8.0/8.4/9.x, MariaDB 10.6+) and the simulation implement [`Site`]. Every call may hang on a
//! black-holed socket: the runner wraps each one in a deadline, so implementations need no timeouts of their own
//! (they may still set socket deadlines, which is good practice).

use std::fmt;
use std::future::Future;
use std::time::Duration;

use bloodraven_gtid::{GtidSet, MariadbGtid, MariadbGtidList, SetRelation};

use crate::engine::Divergence;
use crate::secret::Password;

/// One MySQL/MariaDB server of a site, as the runner sees it.
///
/// Every method returns a `Send` future so the runner can drive several sites concurrently; every call may hang,
/// and the runner wraps each in a deadline.
pub trait Site: Send + Sync {
    /// The site name (`spec.sites[].name`).
    fn name(&self) -> &str;

    /// One health probe: `@@read_only`, `@@super_read_only`, identity, executed GTID state and replica status.
    fn probe(&self) -> impl Future<Output = Result<Probe, SiteError>> + Send;

    /// Fences the server: MySQL `SET GLOBAL super_read_only = ON`; MariaDB `SET GLOBAL read_only = ON`.
    fn fence(&self) -> impl Future<Output = Result<(), SiteError>> + Send;

    /// Kills application sessions (processlist minus the own connection and `Binlog Dump*` threads); returns how
    /// many were killed.
    fn kill_client_sessions(&self) -> impl Future<Output = Result<u32, SiteError>> + Send;

    /// `SHOW REPLICA STATUS` / `SHOW SLAVE STATUS`; `None` when the server has no replication channel.
    fn replica_status(
        &self,
    ) -> impl Future<Output = Result<Option<ReplicaStatus>, SiteError>> + Send;

    /// `START REPLICA SQL_THREAD` / `START SLAVE SQL_THREAD`.
    fn start_sql_thread(&self) -> impl Future<Output = Result<(), SiteError>> + Send;

    /// `STOP REPLICA` / `STOP SLAVE`.
    fn stop_replication(&self) -> impl Future<Output = Result<(), SiteError>> + Send;

    /// `RESET REPLICA ALL` / `RESET SLAVE ALL`.
    fn reset_replication(&self) -> impl Future<Output = Result<(), SiteError>> + Send;

    /// The executed GTID state (`@@global.gtid_executed`; MariaDB `gtid_binlog_pos`/`gtid_current_pos`/...).
    fn executed(&self) -> impl Future<Output = Result<GtidState, SiteError>> + Send;

    /// Makes the server writable: MySQL `super_read_only = OFF` then `read_only = OFF`; MariaDB `read_only = OFF`.
    fn unfence(&self) -> impl Future<Output = Result<(), SiteError>> + Send;

    /// Points replication at `source` with GTID auto-positioning (`CHANGE REPLICATION SOURCE TO ...
    /// SOURCE_AUTO_POSITION=1` / `CHANGE MASTER TO ... MASTER_USE_GTID=slave_pos`) and starts it.
    fn replicate_from(
        &self,
        source: &SourceSpec,
    ) -> impl Future<Output = Result<(), SiteError>> + Send;

    /// `START REPLICA` / `START SLAVE`.
    fn start_replication(&self) -> impl Future<Output = Result<(), SiteError>> + Send;

    /// Waits until the executed state contains `target`, at most `timeout`; `Ok(false)` on timeout.
    fn wait_for_executed(
        &self,
        target: &GtidState,
        timeout: Duration,
    ) -> impl Future<Output = Result<bool, SiteError>> + Send;

    /// Rebuilds this server from `donor` (MySQL `CLONE INSTANCE`); MariaDB returns [`SiteError::Unsupported`].
    ///
    /// The server is fenced when this is called and must not accept application writes at any point: lift only
    /// what CLONE itself needs (`super_read_only = OFF` while `read_only` stays ON keeps ordinary clients out).
    /// Errors that are the expected post-clone restart (lost connection, error 3707) are success.
    fn clone_from(&self, donor: &SourceSpec) -> impl Future<Output = Result<(), SiteError>> + Send;

    /// Whether the server holds user schemas (anything but the system schemas); used to tell an empty server from
    /// a diverged one when their GTID histories share no source.
    fn has_user_schemas(&self) -> impl Future<Output = Result<bool, SiteError>> + Send;

    /// The transactions this server (a fenced old primary) committed that `new_primary` lacks; `None` when there
    /// are none.
    ///
    /// The default compares the two executed states with [`engine::divergence`](crate::engine::divergence), which
    /// is exact for MySQL GTID sets but has to assume consecutive sequence numbers on MariaDB; MariaDB drivers
    /// read the binary logs instead ([`DriverSite::mariadb_divergence`](crate::driver::DriverSite::mariadb_divergence)).
    fn divergence(
        &self,
        new_primary: &GtidState,
    ) -> impl Future<Output = Result<Option<Divergence>, SiteError>> + Send {
        async move {
            let own = self.executed().await?;
            Ok(crate::engine::divergence(&own, new_primary))
        }
    }
}

/// The server flavour, which decides the SQL dialect and the GTID model.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
#[non_exhaustive]
pub enum Flavor {
    /// MariaDB 10.6+ (domain-server-sequence GTIDs, `read_only` only, no CLONE).
    Mariadb,
    /// MySQL 8.0, 8.4 or 9.x (UUID GTID sets, `super_read_only`, CLONE).
    Mysql,
}

impl fmt::Display for Flavor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Flavor::Mariadb => "mariadb",
            Flavor::Mysql => "mysql",
        })
    }
}

/// The result of one successful probe.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Probe {
    /// `@@read_only`.
    pub read_only: bool,
    /// `@@super_read_only` (`None` on MariaDB, which has no such variable).
    pub super_read_only: Option<bool>,
    /// `@@server_uuid` (MySQL) or `@@server_id` as text (MariaDB).
    pub server_id: String,
    /// `@@version`.
    pub version: String,
    /// The server flavour.
    pub flavor: Flavor,
    /// The executed GTID state.
    pub executed: GtidState,
    /// Replica status, when a replication channel exists.
    pub replica: Option<ReplicaStatus>,
}

/// A server's executed GTID state in its flavour's model.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum GtidState {
    /// MariaDB positions.
    Mariadb(MariadbState),
    /// MySQL `gtid_executed`.
    Mysql(GtidSet),
}

impl GtidState {
    /// Whether nothing was ever executed.
    pub fn is_empty(&self) -> bool {
        match self {
            GtidState::Mariadb(m) => {
                m.binlog_state.is_empty() && m.current_pos.iter().next().is_none()
            }
            GtidState::Mysql(s) => s.is_empty(),
        }
    }

    /// How `self` relates to `other` (`Superset` means `self` contains everything `other` executed).
    ///
    /// MariaDB states compare per domain by sequence number on `gtid_current_pos`; mixed flavours are
    /// `Incomparable`.
    pub fn compare(&self, other: &GtidState) -> SetRelation {
        match (self, other) {
            (GtidState::Mysql(a), GtidState::Mysql(b)) => a.compare(b),
            (GtidState::Mariadb(a), GtidState::Mariadb(b)) => a.current_pos.compare(&b.current_pos),
            _ => SetRelation::Incomparable,
        }
    }

    /// Whether `self` contains everything `other` executed.
    pub fn contains(&self, other: &GtidState) -> bool {
        matches!(
            self.compare(other),
            SetRelation::Equal | SetRelation::Superset
        )
    }

    /// The MySQL set, if this is a MySQL state.
    pub fn as_mysql(&self) -> Option<&GtidSet> {
        match self {
            GtidState::Mysql(s) => Some(s),
            GtidState::Mariadb(_) => None,
        }
    }
}

impl fmt::Display for GtidState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GtidState::Mariadb(m) => write!(f, "{}", m.current_pos),
            GtidState::Mysql(s) => write!(f, "{}", s.to_compact_string()),
        }
    }
}

/// MariaDB GTID positions of one server.
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct MariadbState {
    /// `@@gtid_binlog_pos`: the last GTID written to the binary log, per domain.
    pub binlog_pos: MariadbGtidList,
    /// `@@gtid_current_pos`: the last GTID applied or written, per domain.
    pub current_pos: MariadbGtidList,
    /// `@@gtid_slave_pos`: the last GTID applied by the replication SQL thread, per domain.
    pub slave_pos: MariadbGtidList,
    /// `@@gtid_binlog_state`: the last GTID per (domain, server id) in the binary log.
    pub binlog_state: Vec<MariadbGtid>,
}

/// Replication channel status (`SHOW REPLICA STATUS` / `SHOW SLAVE STATUS`).
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct ReplicaStatus {
    /// `Replica_IO_Running = Yes`.
    pub io_running: bool,
    /// `Replica_SQL_Running = Yes`.
    pub sql_running: bool,
    /// `Source_Host` (empty when unset).
    pub source_host: String,
    /// `Source_Port`.
    pub source_port: u16,
    /// `Seconds_Behind_Source` (`None` when NULL).
    pub seconds_behind: Option<u64>,
    /// `Retrieved_Gtid_Set` (MariaDB: `Gtid_IO_Pos`), as text.
    pub retrieved: String,
    /// `Executed_Gtid_Set` (MariaDB: `@@gtid_slave_pos`), as text.
    pub executed: String,
    /// `Last_Error`.
    pub last_error: String,
    /// `Last_IO_Error`.
    pub last_io_error: String,
    /// `Last_SQL_Error`.
    pub last_sql_error: String,
}

impl ReplicaStatus {
    /// IO thread running, SQL thread running and a source host configured.
    pub fn is_healthy(&self) -> bool {
        self.io_running && self.sql_running && !self.source_host.is_empty()
    }

    /// The first non-empty error column, if any.
    pub fn error(&self) -> Option<&str> {
        [&self.last_error, &self.last_io_error, &self.last_sql_error]
            .into_iter()
            .find(|e| !e.is_empty())
            .map(String::as_str)
    }

    /// The applier's error (`Last_SQL_Error`, or `Last_Error`, which mirrors it), if any.
    ///
    /// Unlike `Last_IO_Error`, which only says the source went away (MariaDB sets it as soon as the primary dies),
    /// an applier error means the relay log cannot be drained.
    pub fn sql_error(&self) -> Option<&str> {
        [&self.last_sql_error, &self.last_error]
            .into_iter()
            .find(|e| !e.is_empty())
            .map(String::as_str)
    }

    /// Whether the applier executed everything the IO thread wrote to the relay log: `Executed_Gtid_Set` contains
    /// `Retrieved_Gtid_Set` (MySQL), or `gtid_slave_pos` reaches `Gtid_IO_Pos` in every domain (MariaDB).
    ///
    /// `Some(true)` when nothing was retrieved; `None` when the positions are unreadable in either flavour's
    /// grammar (the caller then has no GTID evidence either way).
    pub fn relay_applied(&self) -> Option<bool> {
        if self.retrieved.trim().is_empty() {
            return Some(true);
        }
        let (retrieved, executed) = match self.retrieved.parse::<GtidSet>() {
            Ok(r) => (
                GtidState::Mysql(r),
                GtidState::Mysql(self.executed.parse().ok()?),
            ),
            Err(_) => {
                let position = |list: MariadbGtidList| {
                    GtidState::Mariadb(MariadbState {
                        current_pos: list,
                        ..MariadbState::default()
                    })
                };
                (
                    position(self.retrieved.parse().ok()?),
                    position(self.executed.parse().ok()?),
                )
            }
        };
        Some(executed.contains(&retrieved))
    }
}

/// Where a replica (or a clone recipient) connects to.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct SourceSpec {
    /// Host name of the source (the site's internal Service host).
    pub host: String,
    /// Port of the source.
    pub port: u16,
    /// Replication user.
    pub user: String,
    /// Replication password.
    pub password: Password,
    /// Require TLS on the channel (`SOURCE_SSL=1` / `REQUIRE SSL`); without it MySQL uses `GET_SOURCE_PUBLIC_KEY=1`.
    pub tls: bool,
}

/// An error from one site operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SiteError {
    /// The server could not be reached (connect, dial, reset, closed connection).
    #[error("site {site}: unreachable: {message}")]
    Unreachable {
        /// The site name.
        site: String,
        /// What the transport said.
        message: String,
    },
    /// A statement failed on the server.
    #[error("site {site}: `{statement}` failed: {message}")]
    Query {
        /// The site name.
        site: String,
        /// The statement (never containing a password).
        statement: String,
        /// The server's error message.
        message: String,
    },
    /// A value read from the server could not be understood.
    #[error("site {site}: cannot parse {what} value {value:?}: {message}")]
    Parse {
        /// The site name.
        site: String,
        /// Which variable or column.
        what: String,
        /// The offending value.
        value: String,
        /// Why it is invalid.
        message: String,
    },
    /// The flavour does not support this operation (e.g. CLONE on MariaDB).
    #[error("site {site}: {operation} is not supported by {flavor}")]
    Unsupported {
        /// The site name.
        site: String,
        /// The operation name.
        operation: String,
        /// The server flavour.
        flavor: Flavor,
    },
    /// The operation's deadline passed (set by the runner).
    #[error("site {site}: {operation} timed out after {after:?}")]
    Timeout {
        /// The site name.
        site: String,
        /// The operation name.
        operation: String,
        /// The deadline.
        after: Duration,
    },
}

impl SiteError {
    /// Whether the error means "could not talk to the server" (as opposed to the server refusing).
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            SiteError::Unreachable { .. } | SiteError::Timeout { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channel(retrieved: &str, executed: &str) -> ReplicaStatus {
        ReplicaStatus {
            retrieved: retrieved.into(),
            executed: executed.into(),
            ..ReplicaStatus::default()
        }
    }

    #[test]
    fn relay_applied_compares_executed_with_retrieved_in_both_flavours() {
        const U: &str = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
        assert_eq!(channel("", "").relay_applied(), Some(true));
        assert_eq!(
            channel(&format!("{U}:1-10"), &format!("{U}:1-10")).relay_applied(),
            Some(true)
        );
        assert_eq!(
            channel(&format!("{U}:1-10"), &format!("{U}:1-7")).relay_applied(),
            Some(false)
        );
        assert_eq!(channel("0-1-138", "0-1-138").relay_applied(), Some(true));
        assert_eq!(channel("0-1-138", "0-1-20").relay_applied(), Some(false));
        assert_eq!(channel("0-1-138", "").relay_applied(), Some(false));
        assert_eq!(
            channel("0-1-138,1-2-5", "0-1-140").relay_applied(),
            Some(false)
        );
        assert_eq!(channel("0-1-138", "x").relay_applied(), None);
    }

    #[test]
    fn io_errors_are_not_applier_errors() {
        let mut r = ReplicaStatus {
            last_io_error: "error reconnecting to master".into(),
            ..ReplicaStatus::default()
        };
        assert_eq!(r.sql_error(), None);
        r.last_error = "Error 1062".into();
        assert_eq!(r.sql_error(), Some("Error 1062"));
    }

    #[test]
    fn source_spec_debug_redacts_password() {
        let s = SourceSpec {
            host: "db".into(),
            port: 3306,
            user: "repl".into(),
            password: "hunter2".into(),
            tls: false,
        };
        let text = format!("{s:?}");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("redacted"));
    }

    #[test]
    fn replica_health_needs_both_threads_and_a_host() {
        let mut r = ReplicaStatus {
            io_running: true,
            sql_running: true,
            source_host: "a".into(),
            ..Default::default()
        };
        assert!(r.is_healthy());
        r.sql_running = false;
        assert!(!r.is_healthy());
        r.sql_running = true;
        r.source_host.clear();
        assert!(!r.is_healthy());
        assert_eq!(r.error(), None);
        r.last_sql_error = "boom".into();
        assert_eq!(r.error(), Some("boom"));
    }

    #[test]
    fn mysql_states_compare_by_containment() {
        let a = GtidState::Mysql("3e11fa47-71ca-11e1-9e33-c80aa9429562:1-10".parse().unwrap());
        let b = GtidState::Mysql("3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5".parse().unwrap());
        assert!(a.contains(&b));
        assert!(!b.contains(&a));
        assert!(a.contains(&a));
    }
}
