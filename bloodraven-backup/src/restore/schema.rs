//! A schema restore ([`RestoreOptions::include_schemas`](super::RestoreOptions::include_schemas)): some schemas
//! of a dump into a live server that holds others.
//!
//! Only the named schemas are dropped and loaded; every other schema, the accounts and grants, the GTID state
//! (`gtid_slave_pos`, `gtid_binlog_state`, `gtid_purged`) and the replication settings stay as they are. Unlike a
//! complete restore the load **is binlogged** (`sql_log_bin` stays on): the server is a live primary whose
//! replicas must receive the `DROP DATABASE` and the load as ordinary new transactions, so they converge
//! without a reclone. The checks (the schemas are in the dump, the server is of the dump's flavour and
//! writable) all run before the first `DROP DATABASE`.

use crate::conn::{Session, quote_ident};
use crate::dump::SYSTEM_SCHEMAS;
use crate::error::Error;

use super::open::OpenDump;

/// The schemas of `dump` to restore, in the dump's order: every one of `names` must be in the dump and none a
/// system schema. Fails before anything touches a server.
pub fn check_schemas(dump: &OpenDump, names: &[String]) -> Result<Vec<String>, Error> {
    select(&dump.meta.schemas, names, dump.location.display())
}

/// `names` checked against the dump's `schemas`, in the dump's order.
pub(super) fn select(
    in_dump: &[String],
    names: &[String],
    location: &str,
) -> Result<Vec<String>, Error> {
    if let Some(system) = names
        .iter()
        .find(|n| SYSTEM_SCHEMAS.contains(&n.to_ascii_lowercase().as_str()))
    {
        return Err(Error::Options(format!(
            "schema {system:?} is a system schema and is never restored on its own; name a user schema"
        )));
    }
    for name in names {
        if !in_dump.contains(name) {
            return Err(Error::SchemaNotInDump {
                schema: name.clone(),
                location: location.to_owned(),
                available: if in_dump.is_empty() {
                    "none".into()
                } else {
                    in_dump.join(", ")
                },
            });
        }
    }
    Ok(in_dump
        .iter()
        .filter(|s| names.contains(s))
        .cloned()
        .collect())
}

/// Refuses a target that is read-only: a schema restore belongs on the primary (its replicas follow through
/// the binlog); on a replica it would diverge from its primary.
pub(super) async fn check_writable(s: &mut Session) -> Result<(), Error> {
    let read_only = s.scalar("SELECT @@GLOBAL.read_only").await?;
    if read_only != "0" {
        return Err(Error::Target {
            server: s.server.clone(),
            reason: "it is read-only (a replica?): restore a schema into the primary, its replicas receive it \
                     through the binlog"
                .into(),
        });
    }
    Ok(())
}

/// Drops the schemas (binlogged, so that replicas drop them too).
pub(super) async fn drop_schemas(s: &mut Session, schemas: &[String]) -> Result<(), Error> {
    for schema in schemas {
        tracing::info!(%schema, server = %s.server, "dropping the schema before restoring it");
        s.exec(&format!("DROP DATABASE IF EXISTS {}", quote_ident(schema)))
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_schemas_of_the_dump_are_selected() {
        let m: Vec<String> = ["app", "canary", "odd db"].map(String::from).into();
        let names = vec!["odd db".to_owned(), "app".to_owned()];
        assert_eq!(select(&m, &names, "file:///d").unwrap(), ["app", "odd db"]);
        let err = select(&m, &["nope".to_owned()], "file:///d").unwrap_err();
        assert_eq!(
            err.to_string(),
            "schema \"nope\" is not in the dump file:///d (it holds app, canary, odd db): name one of those \
             schemas, or use a dump that has it"
        );
        let err = select(&m, &["MySQL".to_owned()], "file:///d").unwrap_err();
        assert!(err.to_string().contains("system schema"), "{err}");
    }
}
