//! The playground's [`Site`]: the MariaDB driver, except for `clone_from`. MariaDB has no `CLONE INSTANCE`, so a
//! reclone (or auto-clone) here rebuilds the recipient the way a fresh deploy would: its server is killed, its data
//! directory and binary logs are replaced by the template, it starts again read-only with the common seed (the
//! same schema under the same GTIDs), and the runner's next step points it at the donor, whose binary logs (never
//! purged here) replay everything after the seed.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::driver::DriverSite;
use crate::engine::Divergence;
use crate::playground::server::Server;
use crate::site::{GtidState, Probe, ReplicaStatus, Site, SiteError, SourceSpec};

/// One site of the playground.
pub(crate) struct PlaygroundSite {
    pub(crate) inner: DriverSite,
    pub(crate) index: usize,
    pub(crate) servers: Arc<Mutex<Vec<Server>>>,
    pub(crate) template: PathBuf,
}

impl PlaygroundSite {
    async fn rebuild(&self) -> Result<(), SiteError> {
        let site = self.inner.name().to_owned();
        let fail = |message: String| SiteError::Query {
            site: site.clone(),
            statement: "rebuild from the template (the playground's clone)".into(),
            message,
        };
        let (servers, template, i) = (Arc::clone(&self.servers), self.template.clone(), self.index);
        let port = tokio::task::spawn_blocking(move || {
            let mut all = servers.lock().unwrap_or_else(PoisonError::into_inner);
            all[i].rebuild(&template).map(|()| all[i].port)
        })
        .await
        .map_err(|e| fail(e.to_string()))?
        .map_err(|e| fail(e.to_string()))?;
        crate::playground::seed(self.inner.name(), port, false)
            .await
            .map_err(|e| fail(e.to_string()))?;
        tracing::info!(site = %self.inner.name(), "rebuilt from the template; replication follows");
        Ok(())
    }
}

impl Site for PlaygroundSite {
    fn name(&self) -> &str {
        self.inner.name()
    }
    async fn probe(&self) -> Result<Probe, SiteError> {
        self.inner.probe().await
    }
    async fn fence(&self) -> Result<(), SiteError> {
        self.inner.fence().await
    }
    async fn kill_client_sessions(&self) -> Result<u32, SiteError> {
        self.inner.kill_client_sessions().await
    }
    async fn replica_status(&self) -> Result<Option<ReplicaStatus>, SiteError> {
        self.inner.replica_status().await
    }
    async fn start_sql_thread(&self) -> Result<(), SiteError> {
        self.inner.start_sql_thread().await
    }
    async fn stop_replication(&self) -> Result<(), SiteError> {
        self.inner.stop_replication().await
    }
    async fn reset_replication(&self) -> Result<(), SiteError> {
        self.inner.reset_replication().await
    }
    async fn executed(&self) -> Result<GtidState, SiteError> {
        self.inner.executed().await
    }
    async fn unfence(&self) -> Result<(), SiteError> {
        self.inner.unfence().await
    }
    async fn replicate_from(&self, source: &SourceSpec) -> Result<(), SiteError> {
        self.inner.replicate_from(source).await
    }
    async fn start_replication(&self) -> Result<(), SiteError> {
        self.inner.start_replication().await
    }
    async fn wait_for_executed(
        &self,
        target: &GtidState,
        timeout: Duration,
    ) -> Result<bool, SiteError> {
        self.inner.wait_for_executed(target, timeout).await
    }
    async fn clone_from(&self, _donor: &SourceSpec) -> Result<(), SiteError> {
        self.rebuild().await
    }
    async fn has_user_schemas(&self) -> Result<bool, SiteError> {
        self.inner.has_user_schemas().await
    }
    async fn divergence(&self, new_primary: &GtidState) -> Result<Option<Divergence>, SiteError> {
        self.inner.divergence(new_primary).await
    }
}
