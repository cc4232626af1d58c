//! Site drivers: [`Site`](crate::site::Site) over `mysql_async` for MySQL 8.0/8.4/9.x and MariaDB 10.6+.
//!
//! A [`DriverSite`] is one server. Each operation opens its own connection, sends the statements of its flavour's
//! SQL table (`mysql_sql` or `mariadb_sql`: the only places statements are spelled) and parses the answers. The
//! driver sets no deadlines of its own: the runner wraps every call in one, and dropping the call closes the
//! socket.
//!
//! What differs between the flavours:
//!
//! | operation | MySQL | MariaDB |
//! |---|---|---|
//! | fence / unfence | `super_read_only` (then `read_only` when unfencing) | `read_only` |
//! | executed state | `gtid_executed` | `gtid_binlog_pos`, `gtid_current_pos`, `gtid_slave_pos`, `gtid_binlog_state` |
//! | replicate from | `CHANGE REPLICATION SOURCE TO … SOURCE_AUTO_POSITION=1` | `gtid_slave_pos` aligned, then `CHANGE MASTER TO … MASTER_USE_GTID=slave_pos` |
//! | wait for a state | `WAIT_FOR_EXECUTED_GTID_SET` | `MASTER_GTID_WAIT` |
//! | clone | `CLONE INSTANCE` | [`SiteError::Unsupported`] |
//!
//! On MariaDB, [`DriverSite::mariadb_divergence`] reads the old primary's binary logs to list its divergent
//! transactions exactly, where the state-only [`engine::divergence`](crate::engine::divergence) must assume
//! consecutive sequence numbers; it answers [`Site::divergence`](crate::site::Site::divergence), which the runner
//! calls to report a returning old primary's `divergentGtid`.

mod accounts;
mod binlog_scan;
mod conn;
mod mariadb_sql;
mod mysql_sql;
mod parse;
mod site_impl;
mod sql;
#[cfg(test)]
mod tests;

use std::fmt;
use std::time::Duration;

use crate::secret::Password;
use crate::site::{Flavor, SiteError};
pub use accounts::Login;
use conn::{Backend, Failure};
use parse::BadValue;
use sql::Sql;

/// Where and how to reach one site's server.
#[derive(Clone, Debug)]
pub struct SiteConfig {
    /// The site name (`spec.sites[].name`).
    pub name: String,
    /// Host name or IP of the server (the site's internal Service host).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// The operator's account.
    pub user: String,
    /// Its password.
    pub password: Password,
    /// `spec.cloneTimeout`: the session network timeouts of a `CLONE INSTANCE` (default one hour).
    pub clone_timeout: Duration,
    /// TLS to the server (`spec.tls`); `None`: plain TCP.
    pub tls: Option<Tls>,
}

/// TLS to a site's server: its certificate must chain to `ca_pem` and name `server_name`.
///
/// Only this CA is trusted (not the public roots). The name checked is `server_name`, not the address dialled, so a
/// manager outside the cluster (`--site-endpoint`) checks the same name as one inside it.
#[derive(Clone, Eq, PartialEq)]
pub struct Tls {
    /// PEM certificates of the CA (`ca.crt` of the `spec.tls.secretName` Secret).
    pub ca_pem: Vec<u8>,
    /// The DNS name the certificate must carry (the operator uses the site's internal Service,
    /// `mysql-<group>-<site>-internal.<namespace>.svc`).
    pub server_name: String,
}

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tls")
            .field("ca_pem", &format_args!("{} bytes", self.ca_pem.len()))
            .field("server_name", &self.server_name)
            .finish()
    }
}

impl SiteConfig {
    /// A configuration with the default clone timeout.
    pub fn new(
        name: impl Into<String>,
        host: impl Into<String>,
        port: u16,
        user: impl Into<String>,
        password: impl Into<Password>,
    ) -> SiteConfig {
        SiteConfig {
            name: name.into(),
            host: host.into(),
            port,
            user: user.into(),
            password: password.into(),
            clone_timeout: Duration::from_secs(3600),
            tls: None,
        }
    }
}

/// One MySQL or MariaDB server, driven over `mysql_async`.
///
/// ```no_run
/// use bloodraven_operator::driver::{DriverSite, SiteConfig};
/// use bloodraven_operator::site::{Flavor, Site};
///
/// # async fn run() -> Result<(), bloodraven_operator::site::SiteError> {
/// let site = DriverSite::new(SiteConfig::new("iad", "127.0.0.1", 3306, "bloodraven", "secret"), Flavor::Mariadb);
/// let probe = site.probe().await?;
/// println!("{} read_only={} executed={}", site.name(), probe.read_only, probe.executed);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct DriverSite {
    name: String,
    flavor: Flavor,
    sql: &'static Sql,
    backend: Backend,
    clone_timeout: Duration,
}

impl DriverSite {
    /// A site of a known flavour (no IO happens until the first call).
    pub fn new(config: SiteConfig, flavor: Flavor) -> DriverSite {
        let backend = Backend::server(
            &config.host,
            config.port,
            &config.user,
            config.password.expose(),
            config.tls.as_ref(),
        );
        DriverSite::with_backend(config.name, flavor, backend, config.clone_timeout)
    }

    /// Connects once to read `@@version` and picks the flavour from it.
    pub async fn detect(config: SiteConfig) -> Result<DriverSite, SiteError> {
        let probe = DriverSite::new(config.clone(), Flavor::Mysql);
        let rows = probe.query(sql::VERSION).await?;
        let version = rows.first().and_then(|r| r.at(0)).unwrap_or("");
        let flavor = if version.to_ascii_lowercase().contains("mariadb") {
            Flavor::Mariadb
        } else {
            Flavor::Mysql
        };
        Ok(DriverSite::new(config, flavor))
    }

    /// The server flavour.
    pub fn flavor(&self) -> Flavor {
        self.flavor
    }

    fn with_backend(
        name: String,
        flavor: Flavor,
        backend: Backend,
        clone_timeout: Duration,
    ) -> DriverSite {
        let sql = match flavor {
            Flavor::Mariadb => &mariadb_sql::SQL,
            Flavor::Mysql => &mysql_sql::SQL,
        };
        DriverSite {
            name,
            flavor,
            sql,
            backend,
            clone_timeout,
        }
    }

    /// Runs one query on a fresh session.
    async fn query(&self, sql: &str) -> Result<Vec<conn::Row>, SiteError> {
        let mut session = self.open().await?;
        let rows = session.rows(sql).await.map_err(|f| self.failed(sql, f));
        session.close().await;
        rows
    }

    async fn open(&self) -> Result<conn::Session, SiteError> {
        self.backend
            .open()
            .await
            .map_err(|f| SiteError::Unreachable {
                site: self.name.clone(),
                message: f.message().to_string(),
            })
    }

    /// The error for a failed statement (`shown` never contains a password).
    fn failed(&self, shown: &str, failure: Failure) -> SiteError {
        match failure {
            Failure::Server { message, .. } => SiteError::Query {
                site: self.name.clone(),
                statement: shown.to_string(),
                message,
            },
            Failure::Transport(message) => SiteError::Unreachable {
                site: self.name.clone(),
                message,
            },
        }
    }

    fn bad(&self, bad: BadValue) -> SiteError {
        SiteError::Parse {
            site: self.name.clone(),
            what: bad.what,
            value: bad.value,
            message: bad.message,
        }
    }
}

impl fmt::Debug for DriverSite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DriverSite")
            .field("name", &self.name)
            .field("flavor", &self.flavor)
            .finish_non_exhaustive()
    }
}
