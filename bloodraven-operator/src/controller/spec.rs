//! From a `MysqlFailoverGroup` to what a runner needs: the engine [`Config`], where each site's server is reached,
//! and the credentials, as pure functions. A spec the API server accepted but the engine cannot use comes back as a
//! [`SpecProblem`] naming the field.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use bloodraven_api::failovergroup::{MysqlFailoverGroup, OnCooldown, SiteRole};

use crate::engine::{Config, Role, SiteConfig};
use crate::secret::Password;
use crate::site::Flavor;

/// Why a group's spec cannot be run, with the field at fault.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct SpecProblem {
    /// The condition reason (`InvalidSpec`, `SecretNotFound`, `SecretMissingKey`).
    pub reason: &'static str,
    /// The field path (`spec.sites[1].name`, `spec.credentials.operatorSecret`).
    pub field: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl fmt::Display for SpecProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl SpecProblem {
    fn invalid(field: impl Into<String>, message: impl Into<String>) -> SpecProblem {
        SpecProblem {
            reason: bloodraven_api::names::event::INVALID_SPEC,
            field: field.into(),
            message: message.into(),
        }
    }
}

/// The engine configuration of a group: its sites, roles and timers, the spec's defaults filled in.
pub fn engine_config(group: &MysqlFailoverGroup, namespace: &str) -> Result<Config, SpecProblem> {
    let spec = &group.spec;
    let name = group.metadata.name.clone().unwrap_or_default();
    let mut seen = BTreeMap::new();
    let mut sites = Vec::with_capacity(spec.sites.len());
    for (i, site) in spec.sites.iter().enumerate() {
        if let Some(first) = seen.insert(site.name.clone(), i) {
            return Err(SpecProblem::invalid(
                format!("spec.sites[{i}].name"),
                format!(
                    "site {:?} is also spec.sites[{first}]: site names must be unique",
                    site.name
                ),
            ));
        }
        let role = match site.role.unwrap_or_default() {
            SiteRole::DrOnly => Role::DrOnly,
            SiteRole::PrimaryCandidate => Role::PrimaryCandidate,
            SiteRole::ReadOnly => Role::ReadOnly,
        };
        sites.push(SiteConfig::new(
            &site.name,
            role,
            internal_host(&name, &site.name, namespace),
        ));
    }
    if sites
        .iter()
        .filter(|s| s.role == Role::PrimaryCandidate)
        .count()
        < 2
    {
        return Err(SpecProblem::invalid(
            "spec.sites",
            "at least two sites must have role primary-candidate",
        ));
    }
    let mut config = Config::new(name, sites);
    let duration = |field: &str, value: &Option<bloodraven_api::duration::Duration>| {
        value
            .as_ref()
            .map(|d| {
                d.to_std().filter(|d| !d.is_zero()).ok_or_else(|| {
                    SpecProblem::invalid(field, format!("{d} is not a positive duration"))
                })
            })
            .transpose()
    };
    if let Some(d) = duration("spec.pollInterval", &spec.poll_interval)? {
        config.poll_interval = d;
    }
    if let Some(d) = duration("spec.failoverCooldown", &spec.failover_cooldown)? {
        config.failover_cooldown = d;
    }
    if let Some(d) = duration(
        "spec.connectionDrainTimeout",
        &spec.connection_drain_timeout,
    )? {
        config.connection_drain_timeout = d;
    }
    let count = |field: &str, value: Option<i32>| {
        value
            .map(|v| {
                u32::try_from(v)
                    .ok()
                    .filter(|v| *v >= 1)
                    .ok_or_else(|| SpecProblem::invalid(field, format!("{v} is below 1")))
            })
            .transpose()
    };
    if let Some(n) = count("spec.failureThreshold", spec.failure_threshold)? {
        config.failure_threshold = n;
    }
    if let Some(n) = count("spec.recoveryThreshold", spec.recovery_threshold)? {
        config.recovery_threshold = n;
    }
    if let Some(planned) = &spec.planned_failover {
        if let Some(d) = duration("spec.plannedFailover.maxLagWait", &planned.max_lag_wait)? {
            config.planned_max_lag_wait = d;
        }
        if let Some(d) = duration("spec.plannedFailover.drainTimeout", &planned.drain_timeout)? {
            config.planned_drain_timeout = d;
        }
        config.planned_defer_on_cooldown = planned.on_cooldown == Some(OnCooldown::Defer);
    }
    if let Some(lag) = spec.replication.as_ref().and_then(|r| r.max_lag_seconds) {
        config.max_lag_seconds = u64::try_from(lag).map_err(|_| {
            SpecProblem::invalid(
                "spec.replication.maxLagSeconds",
                format!("{lag} is negative"),
            )
        })?;
    }
    if let Some(priorities) = spec
        .split_brain_policy
        .as_ref()
        .and_then(|p| p.site_priorities.clone())
    {
        for (i, site) in priorities.iter().enumerate() {
            if config.index(site).is_none() {
                return Err(SpecProblem::invalid(
                    format!("spec.splitBrainPolicy.sitePriorities[{i}]"),
                    format!("{site:?} is not one of spec.sites"),
                ));
            }
        }
        config.priorities = priorities;
    }
    Ok(config)
}

/// The host of a site's internal Service (`mysql-<group>-<site>-internal.<namespace>.svc`): what the operator dials,
/// replicas replicate from and sidecars reach their peers at.
pub fn internal_host(group: &str, site: &str, namespace: &str) -> String {
    format!(
        "{}.{namespace}.svc",
        bloodraven_api::names::object::site_internal(group, site)
    )
}

/// The server flavour a group runs, from its image (`mariadb:*` images are MariaDB; everything else MySQL).
pub fn flavor(group: &MysqlFailoverGroup) -> Flavor {
    let image = group.spec.image.as_deref().unwrap_or("mysql");
    let repository = image.rsplit('/').next().unwrap_or(image);
    if repository.starts_with("mariadb") {
        Flavor::Mariadb
    } else {
        Flavor::Mysql
    }
}

/// The operator's MySQL account, read from a Secret.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Credentials {
    /// The account.
    pub user: String,
    /// Its password.
    pub password: Password,
}

/// Which Secret holds the operator's account: `spec.credentials.operatorSecret`, or the legacy `spec.secretName`
/// (key `dsn`). Returns the Secret's name and the field naming it.
pub fn credentials_secret(
    group: &MysqlFailoverGroup,
) -> Result<(String, &'static str), SpecProblem> {
    match (&group.spec.credentials, &group.spec.secret_name) {
        (Some(c), _) => Ok((c.operator_secret.clone(), "spec.credentials.operatorSecret")),
        (None, Some(name)) if !name.is_empty() => Ok((name.clone(), "spec.secretName")),
        _ => Err(SpecProblem::invalid(
            "spec.credentials",
            "set spec.credentials.operatorSecret (or the legacy spec.secretName)",
        )),
    }
}

/// The operator's account from the Secret's data: `username` + `password` (root's `MYSQL_ROOT_PASSWORD` when there
/// is no `password`), or a legacy `dsn` (`user:pass@tcp(host:port)/`).
pub fn credentials(
    secret: &str,
    field: &str,
    data: &BTreeMap<String, Vec<u8>>,
) -> Result<Credentials, SpecProblem> {
    let text = |key: &str| {
        data.get(key)
            .map(|v| String::from_utf8_lossy(v).into_owned())
    };
    let missing = |keys: &str| SpecProblem {
        reason: "SecretMissingKey",
        field: field.to_owned(),
        message: format!("Secret {secret} has no {keys}"),
    };
    if let Some(dsn) = text("dsn") {
        let (account, _) = dsn
            .split_once('@')
            .ok_or_else(|| missing("usable dsn (expected user:password@tcp(host:port)/)"))?;
        let (user, password) = account.split_once(':').unwrap_or((account, ""));
        return Ok(Credentials {
            user: user.to_owned(),
            password: Password::from(password),
        });
    }
    if let Some(password) = text("password") {
        let user = text("username").ok_or_else(|| missing("key username"))?;
        return Ok(Credentials {
            user,
            password: Password::from(password),
        });
    }
    if let Some(root) = text("MYSQL_ROOT_PASSWORD") {
        return Ok(Credentials {
            user: text("username").unwrap_or_else(|| "root".to_owned()),
            password: Password::from(root),
        });
    }
    Err(missing("key password, MYSQL_ROOT_PASSWORD or dsn"))
}

/// The replication account: `MYSQL_REPLICATION_USER`/`MYSQL_REPLICATION_PASSWORD` when the Secret has them, else
/// the operator's own.
pub fn replication_credentials(
    data: &BTreeMap<String, Vec<u8>>,
    operator: &Credentials,
) -> Credentials {
    let text = |key: &str| {
        data.get(key)
            .map(|v| String::from_utf8_lossy(v).into_owned())
    };
    match text("MYSQL_REPLICATION_USER") {
        Some(user) => Credentials {
            user,
            password: Password::from(text("MYSQL_REPLICATION_PASSWORD").unwrap_or_default()),
        },
        None => operator.clone(),
    }
}

/// `--site-endpoint NAMESPACE/GROUP/SITE=HOST:PORT` overrides, for a manager running outside the cluster.
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct SiteEndpoints(BTreeMap<(String, String, String), (String, u16)>);

impl SiteEndpoints {
    /// No overrides: every site is reached at its internal Service on 3306.
    pub fn new() -> SiteEndpoints {
        SiteEndpoints::default()
    }

    /// Parses and adds one `NAMESPACE/GROUP/SITE=HOST:PORT`.
    pub fn add(&mut self, text: &str) -> Result<(), String> {
        let usage = || format!("{text:?}: expected NAMESPACE/GROUP/SITE=HOST:PORT");
        let (key, address) = text.split_once('=').ok_or_else(usage)?;
        let mut parts = key.splitn(3, '/');
        let (Some(ns), Some(group), Some(site)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(usage());
        };
        let (host, port) = address.rsplit_once(':').ok_or_else(usage)?;
        let port: u16 = port.parse().map_err(|_| usage())?;
        if [ns, group, site, host].iter().any(|p| p.is_empty()) {
            return Err(usage());
        }
        self.0.insert(
            (ns.to_owned(), group.to_owned(), site.to_owned()),
            (host.to_owned(), port),
        );
        Ok(())
    }

    /// Where the server of `site` of `group` in `namespace` is dialled.
    pub fn resolve(&self, namespace: &str, group: &str, site: &str) -> (String, u16) {
        self.get(namespace, group, site)
            .unwrap_or_else(|| (internal_host(group, site, namespace), 3306))
    }

    /// The override for `site` of `group` in `namespace`, if any.
    pub fn get(&self, namespace: &str, group: &str, site: &str) -> Option<(String, u16)> {
        self.0
            .get(&(namespace.to_owned(), group.to_owned(), site.to_owned()))
            .cloned()
    }

    /// The overridden host:port of a group's internal host, if any (how replicas reach each other outside the
    /// cluster).
    pub fn by_internal_host(
        &self,
        namespace: &str,
        group: &str,
    ) -> BTreeMap<String, (String, u16)> {
        self.0
            .iter()
            .filter(|((ns, g, _), _)| ns == namespace && g == group)
            .map(|((ns, g, site), to)| (internal_host(g, site, ns), to.clone()))
            .collect()
    }
}

/// The runner timers a group's spec implies (the clone deadline).
pub fn clone_timeout(group: &MysqlFailoverGroup) -> Duration {
    Duration::from_secs(
        group
            .spec
            .clone_timeout
            .and_then(|s| u64::try_from(s).ok())
            .unwrap_or(3600),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(json: &str) -> MysqlFailoverGroup {
        serde_json::from_str(json).unwrap()
    }

    const MINIMAL: &str = r#"{
        "apiVersion": "shipstream.io/v1alpha1", "kind": "MysqlFailoverGroup",
        "metadata": {"name": "orders", "namespace": "shop"},
        "spec": {
            "image": "mariadb:11.4",
            "credentials": {"operatorSecret": "orders-operator"},
            "dns": {"hostname": "orders.example.com"},
            "pollInterval": "500ms",
            "failoverCooldown": "1m",
            "plannedFailover": {"maxLagWait": "30s", "onCooldown": "defer"},
            "splitBrainPolicy": {"sitePriorities": ["pdx", "iad"]},
            "sites": [
                {"name": "iad", "zone": "a", "storage": {"storageClassName": "x", "size": "1Gi"}},
                {"name": "pdx", "zone": "b", "storage": {"storageClassName": "x", "size": "1Gi"}},
                {"name": "rdr", "zone": "c", "role": "read-only", "storage": {"storageClassName": "x", "size": "1Gi"}}
            ]
        }
    }"#;

    #[test]
    fn the_spec_becomes_the_engine_config() {
        let g = group(MINIMAL);
        let c = engine_config(&g, "shop").unwrap();
        assert_eq!(c.group, "orders");
        let roles: Vec<Role> = c.sites.iter().map(|s| s.role).collect();
        assert_eq!(
            roles,
            [
                Role::PrimaryCandidate,
                Role::PrimaryCandidate,
                Role::ReadOnly
            ]
        );
        assert_eq!(c.sites[1].host, "mysql-orders-pdx-internal.shop.svc");
        assert_eq!(c.poll_interval, Duration::from_millis(500));
        assert_eq!(c.failover_cooldown, Duration::from_secs(60));
        assert_eq!(c.planned_max_lag_wait, Duration::from_secs(30));
        assert!(c.planned_defer_on_cooldown);
        assert_eq!(c.priorities, ["pdx", "iad"]);
        assert_eq!(c.failure_threshold, 3);
        assert_eq!(flavor(&g), Flavor::Mariadb);
    }

    #[test]
    fn an_unusable_spec_names_its_field() {
        let mut g = group(MINIMAL);
        g.spec.sites[2].name = "iad".into();
        let p = engine_config(&g, "shop").unwrap_err();
        assert_eq!(p.field, "spec.sites[2].name");
        let mut g = group(MINIMAL);
        g.spec.sites[1].role = Some(SiteRole::DrOnly);
        assert_eq!(engine_config(&g, "shop").unwrap_err().field, "spec.sites");
        let mut g = group(MINIMAL);
        g.spec.split_brain_policy.as_mut().unwrap().site_priorities = Some(vec!["fra".into()]);
        assert_eq!(
            engine_config(&g, "shop").unwrap_err().field,
            "spec.splitBrainPolicy.sitePriorities[0]"
        );
        let mut g = group(MINIMAL);
        g.spec.failure_threshold = Some(0);
        assert_eq!(
            engine_config(&g, "shop").unwrap_err().field,
            "spec.failureThreshold"
        );
    }

    #[test]
    fn credentials_come_from_the_operator_secret_or_a_legacy_dsn() {
        let data = |pairs: &[(&str, &str)]| -> BTreeMap<String, Vec<u8>> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec()))
                .collect()
        };
        let c = credentials("s", "f", &data(&[("username", "op"), ("password", "pw")])).unwrap();
        assert_eq!((c.user.as_str(), c.password.expose()), ("op", "pw"));
        let c = credentials("s", "f", &data(&[("MYSQL_ROOT_PASSWORD", "r")])).unwrap();
        assert_eq!((c.user.as_str(), c.password.expose()), ("root", "r"));
        let c = credentials("s", "f", &data(&[("dsn", "app:se:cret@tcp(db:3306)/")])).unwrap();
        assert_eq!((c.user.as_str(), c.password.expose()), ("app", "se:cret"));
        let p = credentials(
            "orders-operator",
            "spec.credentials.operatorSecret",
            &data(&[("username", "op")]),
        )
        .unwrap_err();
        assert_eq!(p.reason, "SecretMissingKey");
        assert!(p.message.contains("orders-operator"), "{p}");
        let repl = replication_credentials(
            &data(&[
                ("MYSQL_REPLICATION_USER", "repl"),
                ("MYSQL_REPLICATION_PASSWORD", "rp"),
            ]),
            &c,
        );
        assert_eq!((repl.user.as_str(), repl.password.expose()), ("repl", "rp"));
    }

    #[test]
    fn site_endpoints_override_the_internal_service() {
        let mut e = SiteEndpoints::new();
        e.add("shop/orders/iad=127.0.0.1:3307").unwrap();
        assert_eq!(
            e.resolve("shop", "orders", "iad"),
            ("127.0.0.1".into(), 3307)
        );
        assert_eq!(
            e.resolve("shop", "orders", "pdx"),
            ("mysql-orders-pdx-internal.shop.svc".into(), 3306)
        );
        for bad in [
            "shop/orders=1:2",
            "shop/orders/iad",
            "shop/orders/iad=host",
            "shop/orders/iad=h:x",
            "//=h:1",
        ] {
            assert!(
                e.add(bad)
                    .unwrap_err()
                    .contains("NAMESPACE/GROUP/SITE=HOST:PORT"),
                "{bad}"
            );
        }
    }
}
