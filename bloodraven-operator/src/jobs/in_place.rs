//! The in-place restore's preparation of the live primary (`spec.restoreInPlace`), run by `bloodraven restore`
//! before it loads the dump, from the Go Job's variables (reference-formats §3.6, restore.py step 4):
//!
//! * `BLOODRAVEN_RESET_REPLICATION=1`: stop replication and forget its configuration (errors ignored, as Go);
//! * `BLOODRAVEN_DROP_ALL_USER_SCHEMAS=1`: drop every schema but `mysql`, `information_schema`,
//!   `performance_schema` and `sys`;
//! * `BLOODRAVEN_DROP_SCHEMAS=a,b`: drop those schemas (never a system one). `bloodraven restore` takes them out
//!   of the preparation and restores exactly those schemas of the dump (a per-schema restore, binlogged): the
//!   loader drops each once it has checked that the dump has it.
//!
//! A full-instance preparation also resets the server's binary logs and GTID state (`RESET MASTER`, MySQL 8.4+
//! `RESET BINARY LOGS AND GTIDS`): the loader sets the server's GTID state to the dump's and checks it, which a
//! server with its own GTID history refuses. The Go loader (mysqlsh) kept the history; here the restored primary
//! starts over at the dump's GTID state, and the other sites are recloned from it afterwards either way. The binlog
//! file numbering is not restarted: the reset continues past the highest file (`TO <n>`,
//! [`bloodraven_backup::restore::reset_binary_logs`]), so the site's next files never reuse names its PITR archive
//! already holds.

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, OptsBuilder};

use bloodraven_backup::{ConnectOptions, SYSTEM_SCHEMAS};

use super::Error;
use super::env::{self, Vars};

/// What to do to the target before the load.
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct Preparation {
    /// Stop and forget replication.
    pub reset_replication: bool,
    /// Drop every user schema (and reset the binary logs and GTID state).
    pub drop_all_user_schemas: bool,
    /// Schemas to drop.
    pub drop_schemas: Vec<String>,
}

impl Preparation {
    /// The preparation the variables ask for; `None` for an ordinary (empty target) restore.
    pub fn from_vars(vars: &dyn Vars) -> Result<Option<Preparation>, Error> {
        let drop_schemas: Vec<String> = vars
            .var(env::DROP_SCHEMAS)
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        if let Some(s) = drop_schemas
            .iter()
            .find(|s| SYSTEM_SCHEMAS.contains(&s.to_ascii_lowercase().as_str()))
        {
            return Err(Error::BadEnv {
                name: env::DROP_SCHEMAS,
                reason: format!("{s:?} is a system schema and is never dropped"),
            });
        }
        let p = Preparation {
            reset_replication: env::flag(vars, env::RESET_REPLICATION).unwrap_or(false),
            drop_all_user_schemas: env::flag(vars, env::DROP_ALL_USER_SCHEMAS).unwrap_or(false),
            drop_schemas,
        };
        Ok((p != Preparation::default()).then_some(p))
    }
}

/// Prepares `target`; returns the statements that ran (for the log).
pub async fn prepare(target: &ConnectOptions, p: &Preparation) -> Result<Vec<String>, Error> {
    let opts = OptsBuilder::default()
        .ip_or_hostname(target.host.clone())
        .tcp_port(target.port)
        .user(Some(target.user.clone()))
        .pass(target.password.clone());
    let mut conn = Conn::new(opts).await.map_err(|e| sql_error(target, &e))?;
    let version: Option<String> = conn
        .query_first("SELECT @@version")
        .await
        .map_err(|e| sql_error(target, &e))?;
    let mariadb = version.unwrap_or_default().contains("MariaDB");
    let mut ran = Vec::new();
    if p.reset_replication {
        let statements: &[&str] = if mariadb {
            &[
                "STOP ALL SLAVES",
                "RESET SLAVE ALL",
                "SET GLOBAL gtid_slave_pos = ''",
            ]
        } else {
            &["STOP REPLICA", "RESET REPLICA ALL"]
        };
        for q in statements {
            // As the Go script: a server that never replicated refuses these, which is fine.
            match conn.query_drop(*q).await {
                Ok(()) => ran.push((*q).to_owned()),
                Err(e) => tracing::debug!(statement = q, error = %e, "ignored"),
            }
        }
    }
    let mut drop: Vec<String> = p.drop_schemas.clone();
    if p.drop_all_user_schemas {
        let all: Vec<String> = conn
            .query("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA ORDER BY SCHEMA_NAME")
            .await
            .map_err(|e| sql_error(target, &e))?;
        drop.extend(
            all.into_iter()
                .filter(|s| !SYSTEM_SCHEMAS.contains(&s.to_ascii_lowercase().as_str())),
        );
    }
    drop.sort();
    drop.dedup();
    for schema in &drop {
        let q = format!("DROP DATABASE IF EXISTS `{}`", schema.replace('`', "``"));
        conn.query_drop(&q)
            .await
            .map_err(|e| sql_error(target, &e))?;
        ran.push(q);
    }
    if let Err(e) = conn.disconnect().await {
        tracing::debug!(error = %e, "disconnect after the preparation");
    }
    if p.drop_all_user_schemas {
        // The numbering goes on past the highest binlog: the site's archive already holds the lower names.
        ran.push(bloodraven_backup::restore::reset_binary_logs(target).await?);
    }
    Ok(ran)
}

fn sql_error(target: &ConnectOptions, e: &mysql_async::Error) -> Error {
    Error::Prepare {
        server: target.server(),
        reason: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    struct Map(BTreeMap<&'static str, &'static str>);

    impl Vars for Map {
        fn var(&self, name: &str) -> Option<String> {
            self.0.get(name).map(|v| (*v).to_owned())
        }
    }

    fn vars(pairs: &[(&'static str, &'static str)]) -> Map {
        Map(pairs.iter().copied().collect())
    }

    #[test]
    fn the_go_variables_select_the_preparation() {
        assert_eq!(Preparation::from_vars(&vars(&[])).unwrap(), None);
        assert_eq!(
            Preparation::from_vars(&vars(&[
                (env::RESET_REPLICATION, "1"),
                (env::DROP_ALL_USER_SCHEMAS, "1"),
            ]))
            .unwrap(),
            Some(Preparation {
                reset_replication: true,
                drop_all_user_schemas: true,
                drop_schemas: vec![],
            })
        );
        assert_eq!(
            Preparation::from_vars(&vars(&[(env::DROP_SCHEMAS, " shop, ,crm ")]))
                .unwrap()
                .unwrap()
                .drop_schemas,
            ["shop", "crm"]
        );
        let e = Preparation::from_vars(&vars(&[(env::DROP_SCHEMAS, "shop,MySQL")])).unwrap_err();
        assert!(e.to_string().contains("system schema"), "{e}");
    }
}
