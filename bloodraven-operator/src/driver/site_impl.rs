//! [`Site`] for [`DriverSite`]: each operation as a short conversation over one fresh session.

use std::time::Duration;

use bloodraven_gtid::MariadbGtidList;

use super::conn::{Failure, Session};
use super::sql::Statement;
use super::{DriverSite, mariadb_sql, mysql_sql, parse};
use crate::engine::{Divergence, divergence};
use crate::site::{
    Flavor, GtidState, MariadbState, Probe, ReplicaStatus, Site, SiteError, SourceSpec,
};

/// MySQL/MariaDB "unknown thread id": the session ended between listing and killing it.
const UNKNOWN_THREAD: u16 = 1094;

impl Site for DriverSite {
    fn name(&self) -> &str {
        &self.name
    }

    async fn probe(&self) -> Result<Probe, SiteError> {
        let mut s = self.open().await?;
        let result = async {
            let main = self.rows_on(&mut s, self.sql.probe).await?;
            let row = main.first().ok_or_else(|| self.no_row(self.sql.probe))?;
            let replica = self.rows_on(&mut s, self.sql.replica_status).await?;
            parse::probe(self.flavor, row, replica.first()).map_err(|b| self.bad(b))
        }
        .await;
        s.close().await;
        result
    }

    async fn fence(&self) -> Result<(), SiteError> {
        self.run(self.sql.fence).await
    }

    async fn kill_client_sessions(&self) -> Result<u32, SiteError> {
        let mut s = self.open().await?;
        let result = self.kill_sessions_on(&mut s).await;
        s.close().await;
        result
    }

    async fn replica_status(&self) -> Result<Option<ReplicaStatus>, SiteError> {
        let mut s = self.open().await?;
        let result = async {
            let rows = self.rows_on(&mut s, self.sql.replica_status).await?;
            let Some(row) = rows.first() else {
                return Ok(None);
            };
            let slave_pos = match self.flavor {
                Flavor::Mariadb => {
                    let pos = self.rows_on(&mut s, mariadb_sql::SLAVE_POS).await?;
                    Some(pos.first().and_then(|r| r.at(0)).unwrap_or("").to_string())
                }
                _ => None,
            };
            parse::replica_status(self.flavor, row, slave_pos.as_deref())
                .map(Some)
                .map_err(|b| self.bad(b))
        }
        .await;
        s.close().await;
        result
    }

    async fn start_sql_thread(&self) -> Result<(), SiteError> {
        self.run(&[self.sql.start_sql_thread]).await
    }

    async fn stop_replication(&self) -> Result<(), SiteError> {
        self.run(&[self.sql.stop_replication]).await
    }

    async fn reset_replication(&self) -> Result<(), SiteError> {
        self.run(&[self.sql.reset_replication]).await
    }

    async fn executed(&self) -> Result<GtidState, SiteError> {
        let rows = self.query(self.sql.executed).await?;
        let row = rows.first().ok_or_else(|| self.no_row(self.sql.executed))?;
        parse::executed(self.flavor, row).map_err(|b| self.bad(b))
    }

    async fn unfence(&self) -> Result<(), SiteError> {
        self.run(self.sql.unfence).await
    }

    async fn replicate_from(&self, source: &SourceSpec) -> Result<(), SiteError> {
        let change = (self.sql.change_source)(source);
        let mut s = self.open().await?;
        let result = async {
            if self.flavor == Flavor::Mariadb {
                self.align_slave_pos(&mut s).await?;
            }
            self.exec_on(&mut s, &change).await?;
            self.exec_on(&mut s, &Statement::plain(self.sql.start_replication))
                .await
        }
        .await;
        s.close().await;
        result
    }

    async fn start_replication(&self) -> Result<(), SiteError> {
        self.run(&[self.sql.start_replication]).await
    }

    async fn wait_for_executed(
        &self,
        target: &GtidState,
        timeout: Duration,
    ) -> Result<bool, SiteError> {
        let position = match (self.flavor, target) {
            (Flavor::Mysql, GtidState::Mysql(set)) => set.to_compact_string(),
            (Flavor::Mariadb, GtidState::Mariadb(state)) => {
                // MASTER_GTID_WAIT watches the applier only: a state this server wrote itself is already "reached".
                let own = self.executed().await?;
                if divergence(target, &own).is_none() {
                    return Ok(true);
                }
                wait_position(state).to_string()
            }
            _ => {
                return Err(SiteError::Parse {
                    site: self.name.clone(),
                    what: "wait target".into(),
                    value: target.to_string(),
                    message: format!("a GTID state of another flavour than {}", self.flavor),
                });
            }
        };
        let sql = (self.sql.wait_for_executed)(&position, timeout);
        let rows = self.query(&sql).await?;
        let value = rows.first().and_then(|r| r.at(0));
        match parse::integer("wait result", value).map_err(|b| self.bad(b))? {
            0 => Ok(true),
            // WAIT_FOR_EXECUTED_GTID_SET answers 1 on timeout, MASTER_GTID_WAIT -1.
            1 | -1 => Ok(false),
            other => Err(SiteError::Parse {
                site: self.name.clone(),
                what: "wait result".into(),
                value: other.to_string(),
                message: "expected 0 (reached), 1 or -1 (timed out)".into(),
            }),
        }
    }

    async fn clone_from(&self, donor: &SourceSpec) -> Result<(), SiteError> {
        if self.flavor == Flavor::Mariadb {
            return Err(SiteError::Unsupported {
                site: self.name.clone(),
                operation: "clone".into(),
                flavor: self.flavor,
            });
        }
        let c = mysql_sql::clone_statements(donor, self.clone_timeout);
        let mut s = self.open().await?;
        let result = async {
            for st in c.writable {
                self.exec_on(&mut s, &Statement::plain(st)).await?;
            }
            self.exec_on(&mut s, &Statement::plain(c.donor_list.as_str()))
                .await?;
            // CLONE's DROP DATA phase waits for every other session.
            self.kill_sessions_on(&mut s).await?;
            for st in &c.timeouts {
                self.exec_on(&mut s, &Statement::plain(st.as_str())).await?;
            }
            match s.exec(&c.clone.sql).await {
                Ok(()) => Ok(()),
                Err(f) if mysql_sql::clone_error_means_restart(f.code(), f.message()) => {
                    tracing::info!(site = %self.name, "clone finished; the recipient restarts");
                    Ok(())
                }
                Err(f) => Err(self.failed(&c.clone.shown, f)),
            }
        }
        .await;
        s.close().await;
        if result.is_err() {
            // Whatever failed, the recipient must not stay writable.
            if let Err(e) = self.run(&[c.refence]).await {
                tracing::warn!(site = %self.name, error = %e, "failed to re-fence after a failed clone");
            }
        }
        result
    }

    async fn has_user_schemas(&self) -> Result<bool, SiteError> {
        let rows = self.query(self.sql.has_user_schemas).await?;
        let value = rows.first().and_then(|r| r.at(0));
        Ok(parse::integer("user schema check", value).map_err(|b| self.bad(b))? != 0)
    }

    async fn divergence(&self, new_primary: &GtidState) -> Result<Option<Divergence>, SiteError> {
        match (self.flavor, new_primary) {
            (Flavor::Mariadb, GtidState::Mariadb(new)) => self.mariadb_divergence(new).await,
            _ => Ok(divergence(&self.executed().await?, new_primary)),
        }
    }
}

impl DriverSite {
    /// Runs `statements` in order on one session; stops at the first failure.
    async fn run(&self, statements: &[&str]) -> Result<(), SiteError> {
        let mut s = self.open().await?;
        let mut result = Ok(());
        for st in statements {
            result = self.exec_on(&mut s, &Statement::plain(*st)).await;
            if result.is_err() {
                break;
            }
        }
        s.close().await;
        result
    }

    pub(super) async fn exec_on(&self, s: &mut Session, st: &Statement) -> Result<(), SiteError> {
        tracing::debug!(site = %self.name, statement = %st.shown, "exec");
        s.exec(&st.sql).await.map_err(|f| self.failed(&st.shown, f))
    }

    pub(super) async fn rows_on(
        &self,
        s: &mut Session,
        sql: &str,
    ) -> Result<Vec<super::conn::Row>, SiteError> {
        s.rows(sql).await.map_err(|f| self.failed(sql, f))
    }

    pub(super) fn no_row(&self, sql: &str) -> SiteError {
        self.failed(
            sql,
            Failure::Server {
                code: 0,
                message: "returned no row".into(),
            },
        )
    }

    /// Lists the sessions to kill and kills each; a session that ended meanwhile is not an error, any other
    /// failure is logged and the pass goes on (best effort, like the reference). Returns how many were killed.
    async fn kill_sessions_on(&self, s: &mut Session) -> Result<u32, SiteError> {
        let rows = self.rows_on(s, self.sql.list_client_sessions).await?;
        let mut killed = 0;
        for row in rows {
            let id = parse::integer("processlist ID", row.at(0)).map_err(|b| self.bad(b))?;
            let Ok(id) = u64::try_from(id) else { continue };
            let kill = (self.sql.kill)(id);
            match s.exec(&kill).await {
                Ok(()) => killed += 1,
                Err(f) if f.code() == Some(UNKNOWN_THREAD) => {}
                Err(Failure::Transport(message)) => {
                    return Err(SiteError::Unreachable {
                        site: self.name.clone(),
                        message,
                    });
                }
                Err(f) => {
                    tracing::warn!(site = %self.name, id, error = f.message(), "failed to kill session")
                }
            }
        }
        Ok(killed)
    }

    /// Before a former primary replicates with `MASTER_USE_GTID=slave_pos`, moves `gtid_slave_pos` up to what the
    /// server wrote itself (per domain, the later of `gtid_binlog_pos` and `gtid_slave_pos`), as MariaDB's
    /// documentation prescribes for demoting a primary. A no-op for an ordinary replica.
    async fn align_slave_pos(&self, s: &mut Session) -> Result<(), SiteError> {
        let rows = self.rows_on(s, self.sql.executed).await?;
        let row = rows.first().ok_or_else(|| self.no_row(self.sql.executed))?;
        let state = parse::mariadb_state(row, 0).map_err(|b| self.bad(b))?;
        if let Some(target) = aligned_slave_pos(&state) {
            let sql = mariadb_sql::set_slave_pos(&target.to_string());
            self.exec_on(s, &Statement::plain(sql)).await?;
        }
        Ok(())
    }
}

/// The `gtid_slave_pos` a former primary needs, or `None` when the current one already covers its binary log.
pub(crate) fn aligned_slave_pos(state: &MariadbState) -> Option<MariadbGtidList> {
    let mut target = state.slave_pos.clone();
    for gtid in &state.binlog_pos {
        if target
            .get(gtid.domain)
            .is_none_or(|mine| gtid.seq > mine.seq)
        {
            target.insert(*gtid);
        }
    }
    (target != state.slave_pos).then_some(target)
}

/// What `MASTER_GTID_WAIT` waits for: everything the target wrote to its binary log (its current position when
/// it has no binary log).
fn wait_position(state: &MariadbState) -> &MariadbGtidList {
    if state.binlog_pos.is_empty() {
        &state.current_pos
    } else {
        &state.binlog_pos
    }
}
