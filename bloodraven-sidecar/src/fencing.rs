//! The startup safety net and the self-fencing monitor: I/O around the pure rules of
//! [`bloodraven_operator::fence`].
//!
//! [`Fencing::safety_net`] runs once at start (reference-failover.md §4.3): fence first, ask the operator, unfence
//! only when [`fence::startup_unfence`] says so. [`Fencing::run`] is the monitor (§4.4): every
//! `PEER_CHECK_INTERVAL` it asks the operator and every peer (concurrently, 2 s each), feeds what answered into the
//! [`Lease`], reads `@@read_only` and acts on [`Lease::evaluate`]'s [`Verdict`]. The rule itself is never
//! re-implemented here; this module only decides *when* to evaluate: every answer is fed in the moment it arrives
//! (one hanging peer delays nothing), and besides every tick the rule is also evaluated at the instant the lease
//! can first be declared lost (the newest answer plus the lease timeout), even while calls are still hanging on a
//! partition, so a partitioned primary fences within milliseconds of that instant instead of up to one interval
//! or one call timeout later.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bloodraven_operator::fence::{self, ActiveView, FenceReason, Lease, Verdict};
use futures::StreamExt as _;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::Instrument;

use crate::client::{Client, OperatorAnswer};
use crate::config::{Config, Topology};
use crate::mysql::Mysql;

/// Overall budget of one fence (reference-failover.md §4.4 step 5).
const FENCE_BUDGET: Duration = Duration::from_secs(20);
/// Budget of the `@@read_only` check that resolves a failed fence.
const CHECK_BUDGET: Duration = Duration::from_secs(5);
/// Budget of the safety net's statements.
const NET_BUDGET: Duration = Duration::from_secs(10);

/// What the monitor has done, for `/metrics`, tests and the fence-latency benchmark.
#[derive(Clone, Debug, Default)]
pub struct FenceStats {
    /// Self-fences that landed.
    pub fences: u64,
    /// Why the last one happened.
    pub last_reason: Option<String>,
    /// For the last lease-expiry fence: from the instant the lease could first be declared lost to
    /// `super_read_only = ON` returning.
    pub last_lease_latency: Option<Duration>,
    /// Fence attempts that failed (retried next tick).
    pub failures: u64,
    /// Rearms (the operator made the server writable again after a self-fence).
    pub rearms: u64,
}

/// One answer of a round of calls.
enum Answer {
    /// `/healthz` answered 200 at this time (`None`: it did not).
    Healthz(Option<Duration>),
    /// `/active-site` answered, at this time.
    ActiveSite(OperatorAnswer, Duration),
    /// Peer `i` answered its ping at this time, relaying its view (`None`: it did not answer).
    Peer(usize, Option<(Duration, Option<ActiveView>)>),
}

/// What the safety net did.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum SafetyNet {
    /// Site, namespace, group or operator address missing: nothing done.
    Skipped,
    /// Fenced and left fenced (the operator named no site, another site, could not be asked, or the server is
    /// empty).
    StayedFenced,
    /// Fenced, then unfenced: the operator named this site.
    Unfenced,
}

/// The safety net and the monitor of one sidecar.
#[derive(Clone, Debug)]
pub struct Fencing {
    mysql: Mysql,
    client: Client,
    operator: Option<String>,
    topology: Option<Topology>,
    peers: Vec<String>,
    lease_timeout: Duration,
    interval: Duration,
    view: watch::Sender<Option<ActiveView>>,
    stats: Arc<Mutex<FenceStats>>,
}

impl Fencing {
    /// The fencing side of `config`.
    pub fn new(config: &Config, mysql: Mysql, client: Client) -> Fencing {
        Fencing {
            mysql,
            client,
            operator: config.operator.clone(),
            topology: config.topology.clone(),
            peers: config.peers.clone(),
            lease_timeout: config.lease_timeout,
            interval: config.peer_check_interval,
            view: watch::channel(None).0,
            stats: Arc::default(),
        }
    }

    /// The cached view `/peer/active-site` relays.
    pub fn view(&self) -> watch::Receiver<Option<ActiveView>> {
        self.view.subscribe()
    }

    /// A snapshot of the monitor's counters.
    pub fn stats(&self) -> FenceStats {
        self.stats.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Whether the monitor runs at all: it needs the operator's address.
    pub fn enabled(&self) -> bool {
        self.operator.is_some()
    }

    /// The startup safety net; returns the operator's answer to seed the monitor with.
    pub async fn safety_net(&self) -> (SafetyNet, Option<ActiveView>) {
        let (Some(operator), Some(t)) = (&self.operator, &self.topology) else {
            tracing::info!(
                "startup safety net skipped: site, namespace, group or operator address missing"
            );
            return (SafetyNet::Skipped, None);
        };
        let span = tracing::info_span!("safety_net", site = %t.site, group = %t.group, server = %self.mysql.addr());
        async {
            if let Err(e) = self.mysql.fence(NET_BUDGET).await {
                tracing::warn!(error = %e, "fence-first failed; asking the operator anyway");
            }
            let answer = match self.client.active_site(operator, t).await {
                OperatorAnswer::View(v) => Some(v),
                OperatorAnswer::Unavailable(why) => {
                    tracing::warn!(%why, "operator did not answer /active-site; staying fenced");
                    None
                }
            };
            let has_data = match self.mysql.has_data(NET_BUDGET).await {
                Ok(d) => d,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot tell whether the server holds data; staying fenced");
                    false
                }
            };
            if !fence::startup_unfence(answer.as_ref(), &t.site, has_data) {
                let named = answer.as_ref().and_then(|a| a.site.clone());
                tracing::info!(active_site = ?named, has_data, "staying fenced (confirmed standby or no answer)");
                return (SafetyNet::StayedFenced, answer);
            }
            match self.mysql.unfence(NET_BUDGET).await {
                Ok(()) => {
                    tracing::info!("the operator names this site active: unfenced");
                    (SafetyNet::Unfenced, answer)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "unfence failed; staying fenced");
                    (SafetyNet::StayedFenced, answer)
                }
            }
        }
        .instrument(span)
        .await
    }

    /// The monitor loop, until `shutdown` turns true. `seed` is the safety net's answer.
    pub async fn run(&self, seed: Option<ActiveView>, mut shutdown: watch::Receiver<bool>) {
        let Some(operator) = self.operator.clone() else {
            return;
        };
        let own_site = self
            .topology
            .as_ref()
            .map_or("", |t| t.site.as_str())
            .to_owned();
        let span = tracing::info_span!("fencing", site = %own_site, server = %self.mysql.addr());
        async move {
            let start = Instant::now();
            let mut lease = Lease::new(Duration::ZERO, self.peers.len());
            // The newest time anything answered: the lease can be lost no earlier than this plus the timeout.
            let mut newest_ok = Duration::ZERO;
            if let Some(v) = seed {
                lease.operator_reachable(Duration::ZERO, v);
            }
            self.publish(&lease);
            let mut next_tick = start;
            loop {
                let deadline = start + newest_ok + self.lease_timeout + Duration::from_millis(1);
                let wake = if !lease.is_fenced() && deadline > Instant::now() {
                    next_tick.min(deadline)
                } else {
                    next_tick
                };
                tokio::select! {
                    _ = tokio::time::sleep_until(wake) => {}
                    _ = shutdown.changed() => {}
                }
                if *shutdown.borrow() {
                    return;
                }
                if Instant::now() >= next_tick {
                    next_tick += self.interval;
                    if next_tick < Instant::now() {
                        next_tick = Instant::now() + self.interval;
                    }
                    // The lease can run out while calls hang on a partition: decide at that instant, not
                    // when the calls time out.
                    // Answers are applied as they arrive, so one hanging peer delays nothing.
                    let mut calls = self.calls(&operator, start);
                    loop {
                        let deadline = start + newest_ok + self.lease_timeout + Duration::from_millis(1);
                        tokio::select! {
                            a = calls.next() => match a {
                                Some(a) => {
                                    if let Some(at) = self.apply(&mut lease, a) {
                                        newest_ok = newest_ok.max(at);
                                    }
                                }
                                None => break,
                            },
                            _ = tokio::time::sleep_until(deadline), if !lease.is_fenced() && deadline > Instant::now() => {
                                let lost_at = newest_ok + self.lease_timeout;
                                if self.evaluate(&mut lease, &own_site, start, lost_at).await {
                                    newest_ok = start.elapsed();
                                }
                            }
                            _ = shutdown.changed() => return,
                        }
                    }
                    self.publish(&lease);
                }
                let lost_at = newest_ok + self.lease_timeout;
                if self.evaluate(&mut lease, &own_site, start, lost_at).await {
                    // A rearm starts a fresh lease window now.
                    newest_ok = start.elapsed();
                }
            }
        }
        .instrument(span)
        .await
    }

    /// One round of calls, concurrently, as a stream of answers each stamped with the time it arrived.
    fn calls<'a>(
        &'a self,
        operator: &'a str,
        start: Instant,
    ) -> FuturesUnordered<BoxFuture<'a, Answer>> {
        let set: FuturesUnordered<BoxFuture<'a, Answer>> = FuturesUnordered::new();
        set.push(Box::pin(async move {
            let ok = self.client.operator_healthy(operator).await;
            Answer::Healthz(ok.then(|| start.elapsed()))
        }));
        if let Some(t) = &self.topology {
            set.push(Box::pin(async move {
                let a = self.client.active_site(operator, t).await;
                Answer::ActiveSite(a, start.elapsed())
            }));
        }
        for (i, p) in self.peers.iter().enumerate() {
            set.push(Box::pin(async move {
                if !self.client.peer_ping(p).await {
                    return Answer::Peer(i, None);
                }
                let at = start.elapsed();
                let view = if self.topology.is_some() {
                    self.client.peer_view(p).await
                } else {
                    None
                };
                Answer::Peer(i, Some((at, view)))
            }));
        }
        set
    }

    /// Feeds one answer into the lease; returns its time when something answered.
    fn apply(&self, lease: &mut Lease, answer: Answer) -> Option<Duration> {
        match answer {
            Answer::ActiveSite(OperatorAnswer::View(v), at) => {
                lease.operator_reachable(at, v);
                Some(at)
            }
            Answer::ActiveSite(OperatorAnswer::Unavailable(why), _) => {
                tracing::debug!(%why, "/active-site unavailable");
                None
            }
            Answer::Healthz(Some(at)) => {
                // `/healthz` alone renews the lease (as in Go) and keeps the cached view.
                let keep = lease
                    .view()
                    .cloned()
                    .unwrap_or_else(|| ActiveView::new(None, Duration::ZERO));
                lease.operator_reachable(at, keep);
                Some(at)
            }
            Answer::Healthz(None) | Answer::Peer(_, None) => None,
            Answer::Peer(i, Some((at, view))) => {
                lease.peer_reachable(i, at, view);
                Some(at)
            }
        }
    }

    /// Reads `@@read_only`, asks the rule and acts; returns whether the lease was rearmed.
    async fn evaluate(
        &self,
        lease: &mut Lease,
        own_site: &str,
        start: Instant,
        lost_at: Duration,
    ) -> bool {
        let read_only = match self.mysql.read_only(CHECK_BUDGET).await {
            Ok(ro) => ro,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read @@read_only; no fencing decision this tick");
                return false;
            }
        };
        match lease.evaluate(start.elapsed(), own_site, read_only, self.lease_timeout) {
            Verdict::Hold => {}
            Verdict::Rearmed => {
                tracing::info!(
                    "writable again after a self-fence (the operator restored it): lease rearmed"
                );
                self.update(|s| s.rearms += 1);
                self.publish(lease);
                return true;
            }
            Verdict::Fence(reason) => {
                tracing::error!(%reason, "SELF-FENCING: {reason}");
                self.fence(lease, &reason, start, lost_at).await;
            }
            _ => {}
        }
        false
    }

    async fn fence(
        &self,
        lease: &mut Lease,
        reason: &FenceReason,
        start: Instant,
        lost_at: Duration,
    ) {
        match self.mysql.fence(FENCE_BUDGET).await {
            Ok(()) => {
                let landed = start.elapsed();
                lease.fenced();
                self.update(|s| {
                    s.fences += 1;
                    s.last_reason = Some(reason.to_string());
                    if *reason == FenceReason::LeaseExpired {
                        s.last_lease_latency = Some(landed.saturating_sub(lost_at));
                    }
                });
                match self.mysql.evict_sessions(FENCE_BUDGET).await {
                    Ok(e) if e.failed == 0 => tracing::info!(killed = e.killed, "evicted sessions"),
                    Ok(e) => tracing::warn!(
                        killed = e.killed,
                        failed = e.failed,
                        "partial session eviction"
                    ),
                    Err(e) => tracing::warn!(error = %e, "session eviction failed (not retried)"),
                }
                tracing::error!(
                    "SELF-FENCED: super_read_only=ON has been set, only Bloodraven can restore"
                );
            }
            Err(e) => match self.mysql.read_only(CHECK_BUDGET).await {
                Ok(true) => {
                    tracing::warn!(error = %e, "fence statement failed but the server is read-only: fenced");
                    lease.fenced();
                    self.update(|s| {
                        s.fences += 1;
                        s.last_reason = Some(reason.to_string());
                    });
                }
                _ => {
                    tracing::error!(error = %e, "SELF-FENCING FAILED; retrying next tick");
                    self.update(|s| s.failures += 1);
                }
            },
        }
    }

    fn publish(&self, lease: &Lease) {
        let view = lease
            .view()
            .filter(|v| v.site.is_some() || v.observed_at > Duration::ZERO)
            .cloned();
        self.view.send_replace(view);
    }

    fn update(&self, f: impl FnOnce(&mut FenceStats)) {
        let mut s = self.stats.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut s);
    }
}
