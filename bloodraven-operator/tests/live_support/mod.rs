//! Shared pieces of the live tests: groups of real MariaDB servers on loopback, a [`Site`] adapter that resolves
//! site hosts to the servers' ports, a write load and a writability monitor.
#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bloodraven_operator::driver::{DriverSite, SiteConfig};
use bloodraven_operator::engine::{Config, Divergence, Status};
use bloodraven_operator::http::Topology;
use bloodraven_operator::metrics::Exporter;
use bloodraven_operator::platform::InMemoryPlatform;
use bloodraven_operator::record::{FailoverRecord, PlannedPhase, PlannedStatus};
use bloodraven_operator::runner::{Clock, Runner, RunnerConfig};
use bloodraven_operator::site::{
    Flavor, GtidState, Probe, ReplicaStatus, Site, SiteError, SourceSpec,
};
use bloodraven_test_support::mariadb::MariaDb;
use mysql_async::prelude::Queryable;

/// The application account: no SUPER / READ ONLY ADMIN, so `read_only` binds it, as it binds real clients.
pub const APP_USER: &str = "app";
/// Its password.
pub const APP_PASSWORD: &str = "app-pw";

/// `n` MariaDB servers; server `i` has server id `i + 1`, site name `SITES[i]` and its own loopback address
/// `127.0.0.(11 + i)` (so `Source_Host` tells the sources apart, as Service hosts do in a cluster). Server 0 is the
/// writable primary; the others replicate from it and are read-only.
pub struct Group {
    pub servers: Vec<MariaDb>,
}

/// Site names, in declared order.
pub const SITES: [&str; 3] = ["iad", "pdx", "fra"];

impl Group {
    pub fn start(n: usize) -> Group {
        Group::start_with(n, &[])
    }

    /// As [`Group::start`], every server started with `args` too.
    pub fn start_with(n: usize, args: &[String]) -> Group {
        let servers: Vec<MariaDb> = (0..n)
            .map(|i| {
                let mut builder = MariaDb::builder()
                    .server_id(i as u32 + 1)
                    .arg(format!("--bind-address=127.0.0.1,{}", host(i)))
                    .arg("--read-only=1");
                for arg in args {
                    builder = builder.arg(arg.clone());
                }
                builder.start().expect("start mariadbd")
            })
            .collect();
        let p = &servers[0];
        p.sql(&format!(
            "SET GLOBAL read_only = OFF; CREATE DATABASE d; \
             CREATE TABLE d.t (id BIGINT PRIMARY KEY, writer VARCHAR(16) NOT NULL); \
             CREATE USER '{APP_USER}'@'%' IDENTIFIED BY '{APP_PASSWORD}'; \
             GRANT SELECT, INSERT ON d.* TO '{APP_USER}'@'%'"
        ))
        .expect("seed primary");
        let group = Group { servers };
        for i in 1..n {
            group.replicate(i, 0);
        }
        for i in 1..n {
            group.wait_caught_up(i, 0, Duration::from_secs(20));
        }
        group
    }

    /// Points server `replica` at server `source` (GTID, slave_pos) and starts it.
    pub fn replicate(&self, replica: usize, source: usize) {
        self.servers[replica]
            .sql(&format!(
                "CHANGE MASTER TO MASTER_HOST='{}', MASTER_PORT={}, MASTER_USER='root', MASTER_PASSWORD='', \
                 MASTER_CONNECT_RETRY=1, MASTER_USE_GTID=slave_pos; START SLAVE",
                host(source),
                self.servers[source].port()
            ))
            .expect("start replication");
    }

    /// Waits until `replica`'s `gtid_slave_pos` equals `source`'s `gtid_binlog_pos`.
    pub fn wait_caught_up(&self, replica: usize, source: usize, timeout: Duration) {
        let pos = self.servers[source]
            .sql("SELECT @@global.gtid_binlog_pos")
            .unwrap();
        self.servers[replica]
            .wait_for("SELECT @@global.gtid_slave_pos", pos.trim(), timeout)
            .expect("replica catches up");
    }

    /// The engine's view of the sites: every site a primary candidate, its host its loopback address.
    pub fn site_configs(&self) -> Vec<bloodraven_operator::engine::SiteConfig> {
        (0..self.servers.len())
            .map(|i| {
                bloodraven_operator::engine::SiteConfig::new(
                    SITES[i],
                    bloodraven_operator::engine::Role::PrimaryCandidate,
                    host(i),
                )
            })
            .collect()
    }

    /// Drivers for every site, resolving site hosts to ports.
    pub fn sites(&self) -> Vec<Arc<LoopbackSite>> {
        let ports: Arc<HashMap<String, u16>> = Arc::new(
            self.servers
                .iter()
                .enumerate()
                .map(|(i, s)| (host(i), s.port()))
                .collect(),
        );
        self.servers
            .iter()
            .enumerate()
            .map(|(i, s)| {
                Arc::new(LoopbackSite {
                    inner: DriverSite::new(
                        SiteConfig::new(SITES[i], "127.0.0.1", s.port(), "root", ""),
                        Flavor::Mariadb,
                    ),
                    ports: ports.clone(),
                })
            })
            .collect()
    }

    /// `SELECT COUNT(*)` on server `i` as root.
    pub fn rows(&self, i: usize) -> u64 {
        self.servers[i]
            .sql("SELECT COUNT(*) FROM d.t")
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }

    /// Every id in `d.t` on server `i`.
    pub fn ids(&self, i: usize) -> Vec<u64> {
        self.servers[i]
            .sql("SELECT id FROM d.t ORDER BY id")
            .unwrap()
            .lines()
            .map(|l| l.trim().parse().unwrap())
            .collect()
    }
}

/// The loopback address of server `i`.
pub fn host(i: usize) -> String {
    format!("127.0.0.{}", 11 + i)
}

/// A [`DriverSite`] whose replication sources are resolved from site host to the server's port, as cluster DNS
/// resolves Service hosts (all servers here share an IP range but not a port).
pub struct LoopbackSite {
    pub inner: DriverSite,
    ports: Arc<HashMap<String, u16>>,
}

impl LoopbackSite {
    fn resolve(&self, source: &SourceSpec) -> SourceSpec {
        let mut s = source.clone();
        if let Some(port) = self.ports.get(&source.host) {
            s.port = *port;
        }
        s
    }
}

impl Site for LoopbackSite {
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
        self.inner.replicate_from(&self.resolve(source)).await
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
    async fn clone_from(&self, donor: &SourceSpec) -> Result<(), SiteError> {
        Site::clone_from(&self.inner, &self.resolve(donor)).await
    }
    async fn has_user_schemas(&self) -> Result<bool, SiteError> {
        self.inner.has_user_schemas().await
    }
    async fn divergence(&self, new_primary: &GtidState) -> Result<Option<Divergence>, SiteError> {
        self.inner.divergence(new_primary).await
    }
}

/// A runtime for a helper thread.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Opts for the application account on `port`.
pub fn app_opts(port: u16) -> mysql_async::Opts {
    mysql_async::OptsBuilder::default()
        .ip_or_hostname("127.0.0.1")
        .tcp_port(port)
        .user(Some(APP_USER))
        .pass(Some(APP_PASSWORD))
        .prefer_socket(false)
        .into()
}

/// Which server a client should write to now (`None`: no endpoint).
pub type Route = Arc<dyn Fn() -> Option<usize> + Send + Sync>;

/// A client writing rows with increasing ids, recording each acknowledged id and when it was acknowledged.
pub struct WriteLoad {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<WriteReport>>,
}

/// What the write load saw.
#[derive(Debug, Default)]
pub struct WriteReport {
    /// Ids whose INSERT returned OK.
    pub acked: Vec<u64>,
    /// Acknowledgement times (since start) with the server index.
    pub acks: Vec<(Duration, usize)>,
    /// Failed attempts.
    pub failures: u64,
}

impl WriteReport {
    /// The longest time between two consecutive acknowledged writes.
    pub fn longest_gap(&self) -> Duration {
        self.acks
            .windows(2)
            .map(|w| w[1].0 - w[0].0)
            .max()
            .unwrap_or_default()
    }

    /// The acknowledged ids missing from `present` (sorted, e.g. [`Group::ids`]): writes a client was told
    /// committed that the server does not have.
    pub fn missing_from(&self, present: &[u64]) -> Vec<u64> {
        self.acked
            .iter()
            .copied()
            .filter(|id| present.binary_search(id).is_err())
            .collect()
    }

    /// The first ack by a server other than `old` after `after`.
    pub fn first_ack_elsewhere(&self, old: usize, after: Duration) -> Option<Duration> {
        self.acks
            .iter()
            .find(|(t, s)| *t > after && *s != old)
            .map(|(t, _)| *t)
    }
}

impl WriteLoad {
    /// Starts writing one row every `pause` to the server `route` names (as a client follows the DNS record or
    /// Service); while it names none, or the write fails, the client retries.
    pub fn start(ports: Vec<u16>, route: Route, pause: Duration, epoch: Instant) -> WriteLoad {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::spawn(move || {
            runtime().block_on(async move {
                let mut report = WriteReport::default();
                let mut conn: Option<(usize, mysql_async::Conn)> = None;
                let mut next_id = 1u64;
                while !flag.load(Ordering::Relaxed) {
                    let Some(i) = route() else {
                        conn = None;
                        tokio::time::sleep(Duration::from_millis(2)).await;
                        continue;
                    };
                    if conn.as_ref().is_none_or(|(at, _)| *at != i) {
                        let c = tokio::time::timeout(
                            Duration::from_millis(500),
                            mysql_async::Conn::new(app_opts(ports[i])),
                        )
                        .await;
                        conn = c.ok().and_then(Result::ok).map(|c| (i, c));
                    }
                    let Some((_, c)) = conn.as_mut() else {
                        report.failures += 1;
                        tokio::time::sleep(Duration::from_millis(2)).await;
                        continue;
                    };
                    let sql = format!("INSERT INTO d.t (id, writer) VALUES ({next_id}, 'load')");
                    match tokio::time::timeout(Duration::from_millis(1000), c.query_drop(sql)).await
                    {
                        Ok(Ok(())) => {
                            report.acked.push(next_id);
                            report.acks.push((epoch.elapsed(), i));
                            next_id += 1;
                            tokio::time::sleep(pause).await;
                        }
                        Ok(Err(mysql_async::Error::Server(e))) if e.code == 1062 => {
                            // An earlier attempt committed without an acknowledgement: not counted as acked.
                            next_id += 1;
                        }
                        _ => {
                            report.failures += 1;
                            conn = None;
                            tokio::time::sleep(Duration::from_millis(2)).await;
                        }
                    }
                }
                report
            })
        });
        WriteLoad {
            stop,
            handle: Some(handle),
        }
    }

    /// Stops the load and returns what it saw.
    pub fn finish(mut self) -> WriteReport {
        self.stop.store(true, Ordering::Relaxed);
        self.handle
            .take()
            .unwrap()
            .join()
            .expect("write load thread")
    }
}

impl Drop for WriteLoad {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// One monitor sample: when, and which servers were writable.
pub type Sample = (Duration, Vec<usize>);

/// Samples `@@read_only` of every server every `every` and remembers, per sample, which servers were writable.
pub struct Monitor {
    stop: Arc<AtomicBool>,
    samples: Arc<Mutex<Vec<Sample>>>,
    handle: Option<JoinHandle<()>>,
}

impl Monitor {
    pub fn start(ports: Vec<u16>, every: Duration, epoch: Instant) -> Monitor {
        let stop = Arc::new(AtomicBool::new(false));
        let samples = Arc::new(Mutex::new(Vec::new()));
        let (flag, out) = (stop.clone(), samples.clone());
        let handle = std::thread::spawn(move || {
            runtime().block_on(async move {
                while !flag.load(Ordering::Relaxed) {
                    let mut writable = Vec::new();
                    // A fresh session per sample: a held one would be killed by every drain pass and reconnect,
                    // so a planned drain would never see zero sessions.
                    for (i, port) in ports.iter().enumerate() {
                        let opts = mysql_async::OptsBuilder::default()
                            .ip_or_hostname("127.0.0.1")
                            .tcp_port(*port)
                            .user(Some("root"))
                            .prefer_socket(false);
                        let sample = async {
                            let mut conn = mysql_async::Conn::new(opts).await.ok()?;
                            let v = conn
                                .query_first::<i64, _>("SELECT @@global.read_only")
                                .await
                                .ok()?;
                            let _ = conn.disconnect().await;
                            v
                        };
                        if let Ok(Some(0)) =
                            tokio::time::timeout(Duration::from_millis(300), sample).await
                        {
                            writable.push(i);
                        }
                    }
                    out.lock().unwrap().push((epoch.elapsed(), writable));
                    tokio::time::sleep(every).await;
                }
            })
        });
        Monitor {
            stop,
            samples,
            handle: Some(handle),
        }
    }

    /// Stops sampling; returns the samples.
    pub fn finish(mut self) -> Vec<Sample> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            h.join().expect("monitor thread");
        }
        std::mem::take(&mut *self.samples.lock().unwrap())
    }

    /// The first sample time after `after` at which `site` was writable.
    pub fn first_writable(samples: &[Sample], site: usize, after: Duration) -> Option<Duration> {
        samples
            .iter()
            .find(|(t, w)| *t > after && w.contains(&site))
            .map(|(t, _)| *t)
    }

    /// The largest number of simultaneously writable servers seen.
    pub fn max_writable(samples: &[Sample]) -> usize {
        samples.iter().map(|(_, w)| w.len()).max().unwrap_or(0)
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The operator: a [`Runner`] over the group's sites and an in-memory platform, polling on its own thread.
pub struct Operator {
    pub platform: InMemoryPlatform,
    /// The runner's metrics export (namespace `default`).
    pub metrics: Arc<Exporter>,
    /// What the runner publishes for the auxiliary server (`/active-site`, `/status`).
    pub topology: Topology,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Operator {
    /// Starts polling with `config` (deadlines shortened to suit loopback).
    pub fn start(group: &Group, config: Config) -> Operator {
        let platform = InMemoryPlatform::new();
        let sites = group.sites();
        let stop = Arc::new(AtomicBool::new(false));
        let (flag, p) = (stop.clone(), platform.clone());
        let metrics = Arc::new(Exporter::new());
        let exporter = Arc::clone(&metrics);
        let topology = Topology::new();
        let published = topology.clone();
        let handle = std::thread::spawn(move || {
            runtime().block_on(async move {
                let cfg = RunnerConfig {
                    probe_timeout: Duration::from_secs(2),
                    op_timeout: Duration::from_secs(5),
                    follower_timeout: Duration::from_secs(10),
                    repl_user: "root".into(),
                    repl_password: Default::default(),
                    ..RunnerConfig::default()
                };
                let mut runner = Runner::new(config, sites, Arc::new(p), cfg, Clock::system())
                    .await
                    .with_metrics(exporter)
                    .with_topology(published);
                while !flag.load(Ordering::Relaxed) {
                    let d = runner.poll_once().await;
                    let until = tokio::time::Instant::now() + d.next_poll;
                    loop {
                        let now = tokio::time::Instant::now();
                        if flag.load(Ordering::Relaxed) || now >= until {
                            break;
                        }
                        tokio::time::sleep((until - now).min(Duration::from_millis(20))).await;
                    }
                }
            })
        });
        Operator {
            platform,
            metrics,
            topology,
            stop,
            handle: Some(handle),
        }
    }

    /// The last status written.
    pub fn status(&self) -> Option<Status> {
        self.platform.state().status.clone()
    }

    /// Waits until `check` holds on the last status; panics with the status after `timeout`.
    pub fn wait(&self, what: &str, timeout: Duration, check: impl Fn(&Status) -> bool) -> Status {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(s) = self.status()
                && check(&s)
            {
                return s;
            }
            if Instant::now() > deadline {
                panic!(
                    "timed out waiting for {what}; last status: {:#?}",
                    self.status()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Requests a planned failover to `target` (as the annotation does), waits until it ends, asserts that it
    /// succeeded and that the DNS record followed, and returns its final status.
    pub fn switch_over(&self, target: &str, timeout: Duration) -> PlannedStatus {
        self.platform.state().planned = Some(target.into());
        let status = self.wait("the switchover", timeout, |s| {
            s.planned
                .as_ref()
                .is_some_and(|p| matches!(p.phase, PlannedPhase::Succeeded | PlannedPhase::Failed))
        });
        let planned = status.planned.expect("a planned status");
        assert_eq!(planned.phase, PlannedPhase::Succeeded, "{planned:?}");
        self.wait(&format!("the DNS record on {target}"), timeout, |_| {
            self.platform.state().dns.as_deref() == Some(target)
        });
        planned
    }

    /// The newest promotion of the durable failover history.
    pub fn last_promotion(&self) -> FailoverRecord {
        self.platform
            .state()
            .record
            .as_ref()
            .and_then(|r| r.history.last().cloned())
            .expect("a promotion in the failover history")
    }

    /// A route that follows the platform's DNS record (the client endpoint), `None` while it is unset.
    pub fn dns_route(&self) -> Route {
        let p = self.platform.clone();
        Arc::new(move || {
            let dns = p.state().dns.clone()?;
            SITES.iter().position(|s| *s == dns)
        })
    }

    /// The client endpoint of a `-primary` Service: the DNS target, but nothing while a planned failover has fenced
    /// the source and not yet flipped the record (the fenced source pod is relabelled and shed).
    pub fn service_route(&self) -> Route {
        let p = self.platform.clone();
        Arc::new(move || {
            let state = p.state();
            let dns = state.dns.clone()?;
            let shed = state
                .status
                .as_ref()
                .and_then(|s| s.planned.as_ref())
                .is_some_and(|pl| {
                    !matches!(pl.phase, PlannedPhase::Pending)
                        && pl.phase.in_flight()
                        && dns != pl.target
                });
            if shed {
                return None;
            }
            SITES.iter().position(|s| *s == dns)
        })
    }

    /// Event reasons emitted so far.
    pub fn events(&self) -> Vec<(String, String)> {
        self.platform
            .state()
            .events
            .iter()
            .map(|e| (e.reason.to_string(), e.message.clone()))
            .collect()
    }

    /// Stops polling.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            h.join().expect("operator thread");
        }
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// The reference defaults with a shorter poll interval (the detection time scales with it).
pub fn config(group: &Group, poll: Duration) -> Config {
    let mut c = Config::new("orders", group.site_configs());
    c.poll_interval = poll;
    c
}

/// Whether `site` is healthy as a follower in `status`.
pub fn replicating(status: &Status, site: &str) -> bool {
    status.site(site).is_some_and(|s| s.replicating)
}
