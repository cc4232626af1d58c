//! The runner: polls every site in parallel, feeds the [`Engine`], persists the record, writes status and executes
//! the decided actions — every remote call under a deadline, so a hung socket never freezes the poll.
//!
//! Time comes from tokio's clock ([`Clock`]), so the same runner runs in real time or, under a paused tokio clock,
//! in simulated time (the simulation does exactly that).

use std::collections::BTreeMap;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tracing::Instrument;

use crate::engine::{Action, Config, Decision, Engine, Outcome};
use crate::platform::{AdminAnnotations, Annotation, GroupObservation, Platform, StoredRecord};
use crate::record::Record;
use crate::secret::Password;
use crate::site::{Site, SiteError, SourceSpec};

mod clone;
mod drain;
mod metered;
mod planned;
mod promote;
use promote::{confirm_writable, repoint};

/// Wall-clock time derived from tokio's monotonic clock: `epoch` plus the time elapsed since creation.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    epoch: Duration,
    start: tokio::time::Instant,
}

impl Clock {
    /// Starts at the system time (real deployments).
    pub fn system() -> Clock {
        Clock::starting_at(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default(),
        )
    }

    /// Starts at `epoch` (simulations, tests).
    pub fn starting_at(epoch: Duration) -> Clock {
        Clock {
            epoch,
            start: tokio::time::Instant::now(),
        }
    }

    /// Now, as time since the Unix epoch.
    pub fn now(&self) -> Duration {
        self.epoch + self.start.elapsed()
    }
}

/// Deadlines and credentials of the runner.
#[derive(Clone, Debug)]
pub struct RunnerConfig {
    /// The group's namespace (log spans and metric labels).
    pub namespace: String,
    /// Per-probe deadline (5 s).
    pub probe_timeout: Duration,
    /// Deadline of every other single statement (5 s).
    pub op_timeout: Duration,
    /// Deadline of one follower re-point or rejoin step (20 s).
    pub follower_timeout: Duration,
    /// `spec.cloneTimeout` (3600 s).
    pub clone_timeout: Duration,
    /// Port sites listen on.
    pub port: u16,
    /// Sites whose server listens on another port (site name → port), as replicas and clone recipients must dial
    /// it: servers outside a cluster (`--site-endpoint`).
    pub source_ports: BTreeMap<String, u16>,
    /// Replication user.
    pub repl_user: String,
    /// Replication password.
    pub repl_password: Password,
    /// TLS on replication channels.
    pub tls: bool,
}

impl Default for RunnerConfig {
    fn default() -> RunnerConfig {
        RunnerConfig {
            namespace: "default".into(),
            probe_timeout: Duration::from_secs(5),
            op_timeout: Duration::from_secs(5),
            follower_timeout: Duration::from_secs(20),
            clone_timeout: Duration::from_secs(3600),
            port: 3306,
            source_ports: BTreeMap::new(),
            repl_user: "repl".into(),
            repl_password: Password::default(),
            tls: false,
        }
    }
}

/// Drives one failover group: engine + sites + platform.
pub struct Runner<S: Site + 'static, P: Platform> {
    engine: Engine,
    sites: Vec<Arc<S>>,
    platform: Arc<P>,
    cfg: RunnerConfig,
    clock: Clock,
    outcomes: Vec<Outcome>,
    clone_task: Option<(String, tokio::task::JoinHandle<Result<(), SiteError>>)>,
    metrics: Option<metered::Metered>,
    #[cfg(feature = "http")]
    topology: Option<crate::http::Topology>,
    /// The epoch of the record as this process last saw it persisted (loaded or saved).
    persisted_epoch: Option<u64>,
    /// The record changed but the last save failed.
    dirty: bool,
    /// The authority epoch the current poll decided on.
    poll_epoch: Option<u64>,
    /// Annotations (planned, reclone) the engine consumed; removed once the record is saved.
    consumed: (Option<String>, Option<String>),
}

impl<S: Site + 'static, P: Platform> Drop for Runner<S, P> {
    fn drop(&mut self) {
        if let Some((_, task)) = self.clone_task.take() {
            task.abort();
        }
    }
}

impl<S: Site + 'static, P: Platform> Runner<S, P> {
    /// A runner rehydrated from the platform's durable record. `sites[i]` serves `config.sites[i]`.
    pub async fn new(
        config: Config,
        sites: Vec<Arc<S>>,
        platform: Arc<P>,
        cfg: RunnerConfig,
        clock: Clock,
    ) -> Self {
        let now = clock.now();
        let stored = platform.load_record().await.unwrap_or_else(|e| {
            tracing::error!(error = %e, "cannot load the failover record; starting empty");
            StoredRecord::default()
        });
        let persisted_epoch = stored.status.as_ref().map(|r| r.epoch);
        let record = Record::rehydrate(stored.status, stored.stamp.as_ref(), now);
        Runner {
            engine: Engine::new(config, record),
            sites,
            platform,
            cfg,
            clock,
            outcomes: Vec::new(),
            clone_task: None,
            metrics: None,
            #[cfg(feature = "http")]
            topology: None,
            persisted_epoch,
            dirty: false,
            poll_epoch: None,
            consumed: (None, None),
        }
    }

    /// Publishes the effective active site (for the sidecars) and, with a [`Topology`](crate::http::Topology), the
    /// group's status.
    fn publish(&self, now: Duration) {
        self.platform
            .publish_active_site(self.engine.effective_active_site(), now);
        #[cfg(feature = "http")]
        if let Some(topology) = &self.topology {
            let view = crate::http::GroupView {
                roles: self.engine.config().sites.iter().map(|s| s.role).collect(),
                status: self.engine.snapshot().status,
                poll_time: now,
            };
            topology.publish(&self.cfg.namespace, &self.engine.config().group, view);
        }
    }

    /// The engine (for inspection).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Polls forever.
    pub async fn run(mut self) {
        loop {
            let d = self.poll_once().await;
            tokio::time::sleep(d.next_poll).await;
        }
    }

    /// One poll: probe all sites in parallel, decide, persist, write status, emit events, execute actions.
    ///
    /// A promotion outcome is recorded by an immediate second poll, before anything else happens. Everything it
    /// logs is inside a `poll` span naming the namespace and the group.
    pub async fn poll_once(&mut self) -> Decision {
        let span = tracing::info_span!(
            "poll",
            namespace = %self.cfg.namespace,
            group = %self.engine.config().group
        );
        self.poll_inner().instrument(span).await
    }

    async fn poll_inner(&mut self) -> Decision {
        // §1.2: the authority epoch is captured before probing. A promotion persisted since this process last saw
        // the record (an ordered-update handoff, another operator instance) is adopted first.
        let before = self.observe_group().await;
        if let Some(o) = &before
            && Some(o.record_epoch) != self.persisted_epoch
        {
            self.adopt_persisted().await;
        }
        let probe_timeout = self.cfg.probe_timeout;
        let probes = join_all(self.sites.iter().map(|s| {
            let s = Arc::clone(s);
            let metrics = self.metrics.clone();
            async move {
                let started = tokio::time::Instant::now();
                let result = tokio::time::timeout(probe_timeout, s.probe()).await;
                if let Some(m) = metrics {
                    m.exporter.poll_latency(s.name(), started.elapsed());
                }
                match result {
                    Ok(Ok(p)) => Some(p),
                    Ok(Err(e)) => {
                        tracing::debug!(site = s.name(), error = %e, "probe failed");
                        None
                    }
                    Err(_) => {
                        tracing::debug!(site = s.name(), "probe timed out");
                        None
                    }
                }
            }
        }))
        .await;
        let after = self.observe_group().await;
        if let (Some(b), Some(a)) = (&before, &after)
            && a.record_epoch != b.record_epoch
        {
            tracing::warn!(
                before = b.record_epoch,
                after = a.record_epoch,
                "a promotion was recorded while probing; discarding this poll's observations"
            );
            self.adopt_persisted().await;
            return self.engine.snapshot();
        }
        let observed = after.or(before);
        self.poll_epoch = observed.as_ref().map(|o| o.record_epoch);
        if let Some(o) = observed {
            self.engine.set_gates(o.gates);
        }
        match self.platform.annotations().await {
            Ok(AdminAnnotations {
                planned_failover: planned,
                reclone_site: reclone,
            }) => {
                // A consumed annotation whose removal waits for a record save is not fed again.
                let fresh = |v: Option<String>, consumed: &Option<String>| {
                    v.filter(|v| Some(v) != consumed.as_ref())
                };
                self.engine
                    .set_planned_annotation(fresh(planned, &self.consumed.0));
                self.engine
                    .set_reclone_annotation(fresh(reclone, &self.consumed.1));
            }
            Err(e) => tracing::warn!(error = %e, "cannot read annotations"),
        }
        let (planned_before, reclone_before) = (
            self.engine.planned_annotation().map(str::to_owned),
            self.engine.reclone_annotation().map(str::to_owned),
        );
        if self
            .clone_task
            .as_ref()
            .is_some_and(|(_, t)| t.is_finished())
            && let Some((site, task)) = self.clone_task.take()
        {
            let result = match task.await {
                Ok(r) => r.map_err(|e| e.to_string()),
                Err(e) => Err(format!("clone task failed: {e}")),
            };
            self.outcomes.push(Outcome::Recloned { site, result });
        }
        let now = self.clock.now();
        let outcomes = std::mem::take(&mut self.outcomes);
        let mut decision = self.engine.step(now, probes, outcomes);
        if let Some(m) = &self.metrics {
            m.exporter
                .update(&self.cfg.namespace, &self.engine, &decision);
        }
        if planned_before.is_some() && self.engine.planned_annotation().is_none() {
            self.consumed.0 = planned_before;
        }
        if reclone_before.is_some() && self.engine.reclone_annotation().is_none() {
            self.consumed.1 = reclone_before;
        }
        // §1.13: the record is written before acting. When the save fails nothing that depends on it runs; the
        // engine takes the rest back and decides it again once a later save succeeds.
        if (decision.record_changed || self.dirty) && !self.save().await {
            let (run, skipped): (Vec<Action>, Vec<Action>) = std::mem::take(&mut decision.actions)
                .into_iter()
                .partition(|a| matches!(a, Action::Fence { .. } | Action::Taint { .. }));
            self.engine
                .abandon(&skipped, std::mem::take(&mut decision.events));
            decision.actions = run;
            self.publish(now);
            for action in decision.actions.clone() {
                self.execute(action).await;
            }
            return decision;
        }
        if self.consumed.0.take().is_some() {
            let _ = self
                .platform
                .remove_annotation(Annotation::PlannedFailover)
                .await;
        }
        if self.consumed.1.take().is_some() {
            let _ = self
                .platform
                .remove_annotation(Annotation::RecloneSite)
                .await;
        }
        self.publish(now);
        match self.platform.write_status(&decision.status).await {
            Ok(()) => {
                for ev in &decision.events {
                    let _ = self.platform.emit(ev).await;
                }
            }
            Err(e) => tracing::warn!(error = %e, "status write failed"),
        }
        tracing::debug!(states = ?self.engine.states(), actions = ?decision.actions, "poll decided");
        for action in decision.actions.clone() {
            self.execute(action).await;
        }
        self.pace_planned(&mut decision).await;
        decision
    }

    /// Reads the group object; `None` (logged) when the platform cannot answer: the poll then goes on with the last
    /// known guards and without the epoch check.
    async fn observe_group(&self) -> Option<GroupObservation> {
        match self.platform.observe_group().await {
            Ok(o) => Some(o),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the group object; using the last known guards");
                None
            }
        }
    }

    /// Adopts the persisted record after another writer bumped its epoch.
    async fn adopt_persisted(&mut self) {
        match self.platform.load_record().await {
            Ok(stored) => {
                let persisted = stored.status.unwrap_or_default();
                let base = self.persisted_epoch.unwrap_or(0);
                self.engine.adopt_record(self.clock.now(), &persisted, base);
                self.persisted_epoch = Some(persisted.epoch);
                // Whatever this process holds beyond the persisted copy (its own unsaved changes) is saved next.
                self.dirty |= *self.engine.record() != persisted;
            }
            Err(e) => tracing::warn!(error = %e, "cannot load the failover record"),
        }
    }

    /// Saves the durable record; on failure it stays dirty and is retried on the next poll.
    async fn save(&mut self) -> bool {
        match self.platform.save_record(self.engine.record()).await {
            Ok(()) => {
                self.dirty = false;
                self.persisted_epoch = Some(self.engine.record().epoch);
                true
            }
            Err(e) => {
                tracing::error!(error = %e, "failed to persist the failover record; retrying next poll");
                self.dirty = true;
                false
            }
        }
    }

    fn site(&self, name: &str) -> Option<Arc<S>> {
        self.engine
            .config()
            .index(name)
            .map(|i| Arc::clone(&self.sites[i]))
    }

    fn source(&self, name: &str) -> SourceSpec {
        let host = self
            .engine
            .config()
            .index(name)
            .map(|i| self.engine.config().sites[i].host.clone())
            .unwrap_or_default();
        SourceSpec {
            host,
            port: self
                .cfg
                .source_ports
                .get(name)
                .copied()
                .unwrap_or(self.cfg.port),
            user: self.cfg.repl_user.clone(),
            password: self.cfg.repl_password.clone(),
            tls: self.cfg.tls,
        }
    }

    async fn execute(&mut self, action: Action) {
        let op = self.cfg.op_timeout;
        match action {
            Action::Fence { site, why } => {
                if let Some(s) = self.site(&site)
                    && let Err(e) = deadline(&*s, "fence", op, s.fence()).await
                {
                    tracing::warn!(%site, why, error = %e, "fence failed");
                }
            }
            Action::Unfence { site } => {
                if let Some(s) = self.site(&site)
                    && let Err(e) = deadline(&*s, "unfence", op, s.unfence()).await
                {
                    tracing::warn!(%site, error = %e, "rollback unfence failed");
                }
            }
            Action::FenceAndReadGtid { site } => {
                let Some(s) = self.site(&site) else { return };
                let result = async {
                    deadline(&*s, "fence", op, s.fence()).await?;
                    match deadline(&*s, "executed", op, s.executed()).await {
                        Ok(g) => Ok(g),
                        Err(e) => {
                            let _ = deadline(&*s, "unfence", op, s.unfence()).await;
                            Err(e)
                        }
                    }
                }
                .await
                .map_err(|e| e.to_string());
                self.outcomes.push(Outcome::FencedForPlanned {
                    site,
                    result,
                    at: self.clock.now(),
                });
            }
            Action::KillSessions { site, purpose } => {
                let Some(s) = self.site(&site) else { return };
                let result = deadline(&*s, "kill sessions", op, s.kill_client_sessions())
                    .await
                    .map_err(|e| e.to_string());
                self.outcomes.push(Outcome::Killed {
                    site,
                    purpose,
                    result,
                });
            }
            Action::Promote {
                target,
                old_primary,
                planned,
            } => {
                let result = self
                    .promote(&target, old_primary.as_deref(), planned)
                    .await
                    .map_err(|e| e.to_string());
                // Record at once (before DNS and before the next probe round, which may take a deadline).
                let now = self.clock.now();
                let (follow, changed) = self.engine.feed(
                    now,
                    Outcome::Promoted {
                        target,
                        result,
                        at: now,
                    },
                );
                if changed {
                    // A failed save stays dirty: the next poll saves before it acts. DNS still follows the
                    // promotion that already happened.
                    self.save().await;
                }
                self.publish(now);
                for action in follow {
                    if let Action::Dns { site } = action {
                        self.set_dns(site).await;
                    }
                }
            }
            Action::Reassert { site } => {
                let Some(s) = self.site(&site) else { return };
                let result = async {
                    deadline(&*s, "unfence", op, s.unfence()).await?;
                    confirm_writable(&*s, op).await
                }
                .await
                .map_err(|e| e.to_string());
                self.outcomes.push(Outcome::Reasserted { site, result });
            }
            Action::AuditDivergence {
                site,
                new_primary,
                estimate,
            } => {
                let Some(s) = self.site(&site) else { return };
                let ft = self.cfg.follower_timeout;
                let divergence = match deadline(
                    &*s,
                    "divergence audit",
                    ft,
                    s.divergence(&new_primary),
                )
                .await
                {
                    Ok(Some(d)) => d,
                    Ok(None) => {
                        tracing::warn!(%site, estimate = %estimate.text, "divergence audit found no transaction the states call divergent; reporting the state estimate");
                        estimate
                    }
                    Err(e) => {
                        tracing::warn!(%site, error = %e, estimate = %estimate.text, "divergence audit failed; reporting the estimate");
                        estimate
                    }
                };
                // Record at once, as a promotion is: the marker must not wait for the next probe round.
                let (_, changed) = self
                    .engine
                    .feed(self.clock.now(), Outcome::Diverged { site, divergence });
                if changed {
                    self.save().await;
                }
            }
            Action::Rejoin { site, source } => {
                let Some(s) = self.site(&site) else { return };
                let spec = self.source(&source);
                let ft = self.cfg.follower_timeout;
                let result = async {
                    deadline(&*s, "fence", op, s.fence()).await?;
                    deadline(&*s, "stop replication", ft, s.stop_replication()).await?;
                    deadline(&*s, "reset replication", ft, s.reset_replication()).await?;
                    deadline(&*s, "replicate from", ft, s.replicate_from(&spec)).await
                }
                .await
                .map_err(|e| e.to_string());
                self.outcomes.push(Outcome::Rejoined { site, result });
            }
            Action::Repoint { site, source } => {
                let (Some(s), Some(src)) = (self.site(&site), self.site(&source)) else {
                    return;
                };
                let spec = self.source(&source);
                if let Err(e) = repoint(&*s, &*src, &spec, self.cfg.follower_timeout).await {
                    tracing::warn!(%site, error = %e, "replication source convergence failed");
                }
            }
            Action::StartReplication { site } => {
                if let Some(s) = self.site(&site)
                    && let Err(e) =
                        deadline(&*s, "start replication", op, s.start_replication()).await
                {
                    tracing::warn!(%site, error = %e, "start replication failed");
                }
            }
            Action::Reclone { site, donor } => self.start_clone(site, donor, false),
            Action::AutoClone { site, donor } => self.start_clone(site, donor, true),
            Action::Taint { site, taint } => match self.platform.taint(&site, taint).await {
                Ok(()) => {
                    if let Some(m) = &self.metrics {
                        m.exporter.taint(&site, taint);
                    }
                }
                Err(e) => tracing::warn!(%site, %taint, error = %e, "taint failed"),
            },
            Action::Dns { site } => self.set_dns(site).await,
        }
    }

    /// Points the DNS record at `site`; the outcome reaches the engine with the next step.
    async fn set_dns(&mut self, site: String) {
        let result = self
            .platform
            .set_dns(&site)
            .await
            .map_err(|e| e.to_string());
        self.outcomes.push(Outcome::Dns { site, result });
    }

    /// Starts a reclone or auto-clone task; one clone at a time, its outcome arrives when the task ends. An
    /// auto-clone that cannot start comes back failed at once (the engine counts it as in flight).
    fn start_clone(&mut self, site: String, donor: String, auto: bool) {
        if self.clone_task.is_some() {
            if auto {
                self.outcomes.push(Outcome::Recloned {
                    site,
                    result: Err("another clone is running".into()),
                });
            }
            return;
        }
        let (Some(r), Some(d)) = (self.site(&site), self.site(&donor)) else {
            return;
        };
        let spec = self.source(&donor);
        let task = tokio::spawn(clone::reclone(r, d, spec, self.cfg.clone(), auto));
        self.clone_task = Some((site, task));
    }
}

/// Runs one site call under a deadline.
pub async fn deadline<S: Site + ?Sized, T>(
    s: &S,
    operation: &str,
    after: Duration,
    call: impl Future<Output = Result<T, SiteError>>,
) -> Result<T, SiteError> {
    match tokio::time::timeout(after, call).await {
        Ok(r) => r,
        Err(_) => Err(SiteError::Timeout {
            site: s.name().into(),
            operation: operation.into(),
            after,
        }),
    }
}

pub(crate) fn unreachable(site: &str, message: &str) -> SiteError {
    SiteError::Unreachable {
        site: site.into(),
        message: message.into(),
    }
}

/// Polls all futures concurrently on the current task; outputs in input order (deterministic).
pub async fn join_all<F: Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut futs: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = futs.iter().map(|_| None).collect();
    poll_fn(|cx| {
        let mut done = true;
        for (f, slot) in futs.iter_mut().zip(out.iter_mut()) {
            if slot.is_none() {
                match f.as_mut().poll(cx) {
                    Poll::Ready(v) => *slot = Some(v),
                    Poll::Pending => done = false,
                }
            }
        }
        if done { Poll::Ready(()) } else { Poll::Pending }
    })
    .await;
    out.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests;
