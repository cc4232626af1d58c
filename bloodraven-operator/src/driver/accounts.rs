//! MySQL accounts: whether a password logs in, and setting a user's password (credential rotation).
//!
//! Both flavours spell these the same: `mysql.user` lists the accounts of a user name by host, and `ALTER USER
//! 'name'@'host' IDENTIFIED BY '…'` sets a password. Run on the primary, the change replicates to every other site.

use crate::secret::Password;
use crate::site::SiteError;

use super::DriverSite;
use super::conn::Failure;
use super::sql::{REDACTED, Statement, quote};

/// `ER_ACCESS_DENIED_ERROR`: wrong user name or password.
const ACCESS_DENIED: u16 = 1045;

/// Whether a login was accepted.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Login {
    /// The server accepted the account and password.
    Accepted,
    /// The server refused them (error 1045).
    Refused,
}

impl DriverSite {
    /// Logs in with this site's account and password and says whether the server accepted them; any other
    /// failure (unreachable, TLS) is an error.
    pub async fn login(&self) -> Result<Login, SiteError> {
        match self.backend.open().await {
            Ok(session) => {
                session.close().await;
                Ok(Login::Accepted)
            }
            Err(Failure::Server {
                code: ACCESS_DENIED,
                ..
            }) => Ok(Login::Refused),
            Err(f) => Err(SiteError::Unreachable {
                site: self.name.clone(),
                message: f.message().to_owned(),
            }),
        }
    }

    /// Sets `user`'s password for every account of that name (each host part), through this site's account.
    /// Returns how many accounts were changed: 0 when the server has no such user.
    pub async fn set_password(&self, user: &str, password: &Password) -> Result<usize, SiteError> {
        let mut session = self.open().await?;
        let result = async {
            let list = format!("SELECT Host FROM mysql.user WHERE User = {}", quote(user));
            let hosts: Vec<String> = self
                .rows_on(&mut session, &list)
                .await?
                .iter()
                .filter_map(|r| r.at(0).map(str::to_owned))
                .collect();
            for host in &hosts {
                let account = format!("{}@{}", quote(user), quote(host));
                let statement = Statement {
                    sql: format!(
                        "ALTER USER {account} IDENTIFIED BY {}",
                        quote(password.expose())
                    ),
                    shown: format!("ALTER USER {account} IDENTIFIED BY {REDACTED}"),
                };
                self.exec_on(&mut session, &statement).await?;
            }
            Ok(hosts.len())
        }
        .await;
        session.close().await;
        result
    }
}
