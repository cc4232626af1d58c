//! Credential rotation (operations.txt, "Rotating MySQL credentials"): a password changed in a credential Secret
//! is set in MySQL with `ALTER USER` on the primary (it replicates to the other sites), and only then do the
//! runner and the pods use it.
//!
//! ```text
//!   operator Secret's password changed ──▶ new password logs in on the primary? ──yes──▶ nothing to set
//!                                             │ refused
//!                                             ▼
//!                           ALTER USER through the old password (the one the runner still uses)
//!                             ├─ ok ──▶ CredentialsRotated event, runner restarted on the new password
//!                             └─ failed ──▶ CredentialRotationFailed event; the runner keeps the old one
//!   role Secret (app, readOnly, monitor, backup) new or changed ──▶ logs in? ─refused─▶ ALTER USER as operator
//! ```
//!
//! A completed rotation writes the Secrets' resource versions on the per-site pod templates
//! ([`CREDENTIALS_VERSION`](bloodraven_api::names::annotation::CREDENTIALS_VERSION)), so the pods restart onto the
//! new Secret values, never before MySQL has them. The replication account (`MYSQL_REPLICATION_*`) is not rotated
//! here: replicas keep its password in their channel configuration.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;

use bloodraven_api::failovergroup::MysqlFailoverGroup;

use crate::driver::{self, DriverSite, Login};
use crate::secret::Password;

use super::spec::Credentials;

/// `spec.credentials`' role Secrets other than the operator's, with the field naming each.
pub(crate) fn role_secrets(group: &MysqlFailoverGroup) -> Vec<(&'static str, String)> {
    let Some(c) = &group.spec.credentials else {
        return Vec::new();
    };
    [
        ("spec.credentials.appSecret", &c.app_secret),
        ("spec.credentials.readOnlySecret", &c.read_only_secret),
        ("spec.credentials.monitorSecret", &c.monitor_secret),
        ("spec.credentials.backupSecret", &c.backup_secret),
    ]
    .into_iter()
    .filter_map(|(field, name)| {
        let name = name.as_ref().filter(|n| !n.is_empty())?;
        (name != &c.operator_secret).then(|| (field, name.clone()))
    })
    .collect()
}

/// A role Secret's account (`username` and `password`), if it has both.
pub(crate) fn role_account(secret: &Secret) -> Option<Credentials> {
    let data = secret.data.as_ref()?;
    let text = |key: &str| {
        data.get(key)
            .map(|v| String::from_utf8_lossy(&v.0).into_owned())
    };
    Some(Credentials {
        user: text("username")?,
        password: Password::from(text("password")?),
    })
}

/// What a rotation attempt did.
#[derive(Debug, Eq, PartialEq)]
pub(crate) enum Rotation {
    /// MySQL already accepted the password: nothing was set.
    Current,
    /// `ALTER USER` set the password on this many accounts (host parts).
    Set(usize),
    /// MySQL has no account of that name: nothing to rotate.
    NoSuchUser,
}

/// How long one rotation (logins and `ALTER USER`) may take.
const ROTATION_DEADLINE: std::time::Duration = std::time::Duration::from_secs(10);

/// Where and how to reach the primary for a rotation.
pub(crate) struct Primary {
    pub(crate) site: String,
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) tls: Option<driver::Tls>,
}

impl Primary {
    fn site(&self, account: &Credentials) -> DriverSite {
        let mut config = driver::SiteConfig::new(
            &self.site,
            &self.host,
            self.port,
            &account.user,
            account.password.clone(),
        );
        config.tls = self.tls.clone();
        // Account statements are the same in both flavours.
        DriverSite::new(config, crate::site::Flavor::Mysql)
    }

    /// Makes MySQL accept `account`'s password, setting it through `admin` when it does not. The driver sets no
    /// deadline of its own, so the whole exchange gets [`ROTATION_DEADLINE`]: a black-holed primary must not hold
    /// the group's reconcile.
    pub(crate) async fn rotate(
        &self,
        account: &Credentials,
        admin: &Credentials,
    ) -> Result<Rotation, String> {
        tokio::time::timeout(ROTATION_DEADLINE, self.rotate_now(account, admin))
            .await
            .unwrap_or_else(|_| {
                Err(format!(
                    "no answer from the primary {} within {ROTATION_DEADLINE:?}",
                    self.site
                ))
            })
    }

    async fn rotate_now(
        &self,
        account: &Credentials,
        admin: &Credentials,
    ) -> Result<Rotation, String> {
        match self
            .site(account)
            .login()
            .await
            .map_err(|e| e.to_string())?
        {
            Login::Accepted => return Ok(Rotation::Current),
            Login::Refused => {}
        }
        let set = self
            .site(admin)
            .set_password(&account.user, &account.password)
            .await
            .map_err(|e| e.to_string())?;
        if set == 0 {
            return Ok(Rotation::NoSuchUser);
        }
        match self
            .site(account)
            .login()
            .await
            .map_err(|e| e.to_string())?
        {
            Login::Accepted => Ok(Rotation::Set(set)),
            Login::Refused => Err(format!(
                "ALTER USER changed {set} account(s) of {} on site {} but the new password is still refused \
                 (another host part or an authentication plugin in the way?)",
                account.user, self.site
            )),
        }
    }
}

/// The credentials version of a set of Secrets: `name@resourceVersion`, sorted, comma-separated.
pub(crate) fn version(secrets: &BTreeMap<String, String>) -> String {
    secrets
        .iter()
        .map(|(name, rv)| format!("{name}@{rv}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// A Secret's name and resource version.
pub(crate) fn secret_version(secret: &Secret) -> (String, String) {
    (
        secret.name_any(),
        secret.resource_version().unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn role_secrets_skip_unset_and_the_operator_secret() {
        let group: MysqlFailoverGroup = serde_json::from_value(json!({
            "apiVersion": "shipstream.io/v1alpha1", "kind": "MysqlFailoverGroup",
            "metadata": { "name": "orders" },
            "spec": {
                "credentials": {
                    "operatorSecret": "op", "appSecret": "app", "readOnlySecret": "op", "monitorSecret": "",
                },
                "dns": { "hostname": "orders.example.com" },
                "sites": [],
            },
        }))
        .unwrap();
        assert_eq!(
            role_secrets(&group),
            vec![("spec.credentials.appSecret", "app".to_owned())]
        );
    }

    #[test]
    fn the_version_lists_secrets_in_order() {
        let secrets = BTreeMap::from([
            ("orders-op".to_owned(), "12".to_owned()),
            ("orders-app".to_owned(), "7".to_owned()),
        ]);
        assert_eq!(version(&secrets), "orders-app@7,orders-op@12");
    }
}
