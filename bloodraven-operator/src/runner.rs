//! The runner: polls every site in parallel, feeds the [`Engine`], persists the record, writes status and executes
//! the decided actions — every remote call under a deadline, so a hung socket never freezes the poll.
//!
//! Time comes from tokio's clock ([`Clock`]), so the same runner runs in real time or, under a paused tokio clock,
//! in simulated time (the simulation does exactly that).

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::engine::{Action, Config, Decision, Engine, Outcome};
use crate::platform::{Platform, StoredRecord};
use crate::record::Record;
use crate::site::{GtidState, Probe, Site, SiteError, SourceSpec};

mod drain;
mod metered;
mod planned;
use drain::drain_relay_log;

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
    /// Replication user.
    pub repl_user: String,
    /// Replication password.
    pub repl_password: String,
    /// TLS on replication channels.
    pub tls: bool,
}

impl Default for RunnerConfig {
    fn default() -> RunnerConfig {
        RunnerConfig {
            probe_timeout: Duration::from_secs(5),
            op_timeout: Duration::from_secs(5),
            follower_timeout: Duration::from_secs(20),
            clone_timeout: Duration::from_secs(3600),
            port: 3306,
            repl_user: "repl".into(),
            repl_password: String::new(),
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
        let annotations = stored
            .annotations
            .as_ref()
            .map(|(a, b)| (a.as_str(), b.as_str()));
        let record = Record::rehydrate(stored.status, annotations, now);
        Runner {
            engine: Engine::new(config, record),
            sites,
            platform,
            cfg,
            clock,
            outcomes: Vec::new(),
            clone_task: None,
            metrics: None,
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
    /// A promotion outcome is recorded by an immediate second poll, before anything else happens.
    pub async fn poll_once(&mut self) -> Decision {
        self.poll_inner().await
    }

    async fn poll_inner(&mut self) -> Decision {
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
        match self.platform.annotations().await {
            Ok((planned, reclone)) => {
                self.engine.set_planned_annotation(planned);
                self.engine.set_reclone_annotation(reclone);
            }
            Err(e) => tracing::warn!(error = %e, "cannot read annotations"),
        }
        let (had_planned, had_reclone) = (
            self.engine.planned_annotation().is_some(),
            self.engine.reclone_annotation().is_some(),
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
        let decision = self.engine.step(now, probes, outcomes);
        if let Some(m) = &self.metrics {
            m.exporter.update(&m.namespace, &self.engine, &decision);
        }
        if had_planned && self.engine.planned_annotation().is_none() {
            let _ = self.platform.remove_annotation(true).await;
        }
        if had_reclone && self.engine.reclone_annotation().is_none() {
            let _ = self.platform.remove_annotation(false).await;
        }
        if decision.record_changed
            && let Err(e) = self.platform.save_record(self.engine.record()).await
        {
            tracing::error!(error = %e, "failed to persist the failover record");
        }
        self.platform
            .publish_active_site(decision.status.active_site.as_deref(), now);
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
        let mut decision = decision;
        self.pace_planned(&mut decision).await;
        decision
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
            port: self.cfg.port,
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
                if changed && let Err(e) = self.platform.save_record(self.engine.record()).await {
                    tracing::error!(error = %e, "failed to persist the failover record");
                }
                self.platform
                    .publish_active_site(self.engine.effective_active_site(), now);
                for action in follow {
                    if let Action::Dns { site } = action {
                        let result = self
                            .platform
                            .set_dns(&site)
                            .await
                            .map_err(|e| e.to_string());
                        self.outcomes.push(Outcome::Dns { site, result });
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
                if changed && let Err(e) = self.platform.save_record(self.engine.record()).await {
                    tracing::error!(error = %e, "failed to persist the failover record");
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
            Action::Reclone { site, donor } => {
                if self.clone_task.is_some() {
                    return; // one clone at a time; its outcome arrives when the task ends
                }
                let (Some(r), Some(d)) = (self.site(&site), self.site(&donor)) else {
                    return;
                };
                let spec = self.source(&donor);
                let task = tokio::spawn(reclone(r, d, spec, self.cfg.clone()));
                self.clone_task = Some((site, task));
            }
            Action::Taint { site, apply } => match self.platform.taint(&site, apply).await {
                Ok(()) => {
                    if let Some(m) = &self.metrics {
                        m.exporter.taint(&site, apply);
                    }
                }
                Err(e) => tracing::warn!(%site, apply, error = %e, "taint failed"),
            },
            Action::Dns { site } => {
                let result = self
                    .platform
                    .set_dns(&site)
                    .await
                    .map_err(|e| e.to_string());
                self.outcomes.push(Outcome::Dns { site, result });
            }
        }
    }

    /// The promotion sequence (§1.10).
    async fn promote(
        &self,
        target: &str,
        old_primary: Option<&str>,
        planned: bool,
    ) -> Result<String, SiteError> {
        let op = self.cfg.op_timeout;
        let t = self
            .site(target)
            .ok_or_else(|| unreachable(target, "unknown site"))?;
        if let Some(old) = old_primary.and_then(|o| self.site(o)) {
            if let Err(e) = deadline(&*old, "fence", op, old.fence()).await {
                tracing::warn!(site = old.name(), error = %e, "could not fence old primary (it may be dead)");
            }
            if let Err(e) = deadline(&*old, "kill sessions", op, old.kill_client_sessions()).await {
                tracing::warn!(site = old.name(), error = %e, "could not kill old primary sessions");
            }
        }
        let budget = if planned {
            op
        } else {
            self.engine.config().relay_drain_timeout
        };
        if let Err(e) = drain_relay_log(&*t, budget, op).await {
            tracing::warn!(site = target, error = %e, "relay log drain incomplete; promoting anyway");
        }
        deadline(&*t, "stop replication", op, t.stop_replication()).await?;
        deadline(&*t, "reset replication", op, t.reset_replication()).await?;
        let gtid = match deadline(&*t, "executed", op, t.executed()).await {
            Ok(g) => g.to_string(),
            Err(e) => {
                tracing::warn!(site = target, error = %e, "failed to record promotion GTID");
                String::new()
            }
        };
        deadline(&*t, "unfence", op, t.unfence()).await?;
        confirm_writable(&*t, op).await?;
        Ok(gtid)
    }
}

/// Reclone (§2.6 execution), run as its own task: donor check, kill recipient sessions, clone, wait for the
/// restart, set up replication.
async fn reclone<S: Site>(
    r: Arc<S>,
    d: Arc<S>,
    spec: SourceSpec,
    cfg: RunnerConfig,
) -> Result<(), SiteError> {
    let op = cfg.op_timeout;
    let dp = deadline(&*d, "probe", op, d.probe()).await?;
    if dp.read_only {
        return Err(unreachable(
            d.name(),
            "donor is no longer writable; authority moved",
        ));
    }
    // No unfence here: `Site::clone_from` lifts only what CLONE needs and keeps application writes out, so a
    // recipient never accepts client transactions that the clone would then silently discard.
    let _ = deadline(&*r, "kill sessions", op, r.kill_client_sessions()).await;
    if let Err(e) = deadline(
        &*r,
        "clone",
        cfg.clone_timeout,
        Site::clone_from(&*r, &spec),
    )
    .await
    {
        let _ = deadline(&*r, "fence", op, r.fence()).await;
        return Err(e);
    }
    let mut wait = Duration::from_secs(2);
    let mut up = false;
    for _ in 0..10 {
        if deadline(&*r, "probe", op, r.probe()).await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(30));
    }
    if !up {
        return Err(unreachable(r.name(), "did not come back after clone"));
    }
    let ft = cfg.follower_timeout;
    deadline(&*r, "fence", op, r.fence()).await?;
    let _ = deadline(&*r, "stop replication", ft, r.stop_replication()).await;
    let _ = deadline(&*r, "reset replication", ft, r.reset_replication()).await;
    deadline(&*r, "replicate from", ft, r.replicate_from(&spec)).await
}

/// Source convergence of one follower: containment, stop, containment again, change source, start; rollback by
/// restarting the old channel.
async fn repoint<S: Site>(
    s: &S,
    src: &S,
    spec: &SourceSpec,
    ft: Duration,
) -> Result<(), SiteError> {
    let contained = async || -> Result<bool, SiteError> {
        let mine: GtidState = deadline(s, "executed", ft, s.executed()).await?;
        let theirs = deadline(src, "executed", ft, src.executed()).await?;
        Ok(theirs.contains(&mine))
    };
    if !contained().await? {
        return Err(SiteError::Query {
            site: s.name().into(),
            statement: "GTID containment".into(),
            message: "follower has transactions the active primary lacks".into(),
        });
    }
    deadline(s, "stop replication", ft, s.stop_replication()).await?;
    match contained().await {
        Ok(true) => {}
        Ok(false) => {
            return Err(SiteError::Query {
                site: s.name().into(),
                statement: "GTID containment".into(),
                message: "diverged while stopping; replication left stopped".into(),
            });
        }
        Err(e) => {
            let _ = deadline(s, "start replication", ft, s.start_replication()).await;
            return Err(e);
        }
    }
    if let Err(e) = deadline(s, "replicate from", ft, s.replicate_from(spec)).await {
        let _ = deadline(s, "start replication", ft, s.start_replication()).await;
        return Err(e);
    }
    Ok(())
}

async fn confirm_writable<S: Site>(s: &S, op: Duration) -> Result<(), SiteError> {
    let p: Probe = deadline(s, "probe", op, s.probe()).await?;
    if p.read_only {
        return Err(SiteError::Query {
            site: s.name().into(),
            statement: "SELECT @@read_only".into(),
            message: "still read-only after unfence".into(),
        });
    }
    Ok(())
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

fn unreachable(site: &str, message: &str) -> SiteError {
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
