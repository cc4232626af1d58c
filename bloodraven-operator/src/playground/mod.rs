//! `bloodraven playground`: a whole failover group on this machine, with a live web dashboard.
//!
//! [`Playground::start`] brings up, in order:
//!
//! 1. a work directory (a fresh temporary one, or `--keep DIR`), checked writable before anything starts;
//! 2. the dashboard's listener on `127.0.0.1` (a taken port is refused before any server starts);
//! 3. two or three MariaDB servers (`mariadbd` from the `PATH`, or `/usr/sbin`) with the durability settings of
//!    durability-and-rpo.txt, each seeded with the same schema under the same GTIDs, the first one writable;
//! 4. a fault-injecting TCP proxy per site (module `proxy`): the site's address as the operator and the other sites'
//!    replication see it, so a partition cuts the operator's probes and the replication streams;
//! 5. the real [`crate::runner::Runner`] and engine over the real MariaDB drivers and a local platform
//!    (module `platform`: `record.json`, `events.log`); the engine's own source convergence sets up GTID replication;
//! 6. a `bloodraven-sidecar` process per site (fencing against the operator's `/active-site`, the binlog archiver
//!    into `archive/` as a local directory object store);
//! 7. a write load following the client endpoint (the DNS record), counting acknowledged writes.
//!
//! The dashboard is the operator's auxiliary server (`/status`, `/active-site`, the `/ws/status` WebSocket) plus
//! the page and its `/api/*` routes ([`dashboard`]). Chaos actions ([`Chaos`]) come from the page, from lines
//! typed into the terminal, and from the scripted [`scenario`]s that `--scenario` runs headlessly.
//!
//! Everything is stopped by [`Playground::shutdown`] (also on drop); the work directory is removed unless kept.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use mysql_async::prelude::Queryable as _;

use crate::driver::{DriverSite, SiteConfig as DriverConfig};
use crate::engine::{Config, Role, SiteConfig};
use crate::http::Topology;
use crate::runner::{Clock, Runner, RunnerConfig};
use crate::site::Flavor;

mod archive;
mod backup;
pub mod dashboard;
mod platform;
mod proxy;
mod run;
pub mod scenario;
mod server;
mod sidecar;
mod site;
mod workload;

use platform::LocalPlatform;
use proxy::Proxy;
use server::{Binaries, Server};
use sidecar::Sidecar;
use workload::Workload;

pub use archive::S3Archive;
pub use run::run;
pub use scenario::{Report, ScenarioName};
pub use server::MARIADB_PACKAGE;

/// The group's namespace, as the sidecars ask `/active-site` for it.
pub const NAMESPACE: &str = "playground";
/// The group's name.
pub const GROUP: &str = "playground";
/// Server ids are 1001, 1002, 1003: four digits keep every MariaDB GTID of a site (`0-1001-N`) at least eight
/// characters long, the shortest GTID prefix the reclone interlock accepts.
pub(crate) const SERVER_ID_BASE: u32 = 1001;
/// Site names, in declared order.
pub const SITES: [&str; 3] = ["iad", "pdx", "fra"];

/// A failure of the playground.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A binary the playground runs is not installed or not built.
    #[error("{binary} not found ({hint})")]
    MissingBinary {
        /// The binary.
        binary: &'static str,
        /// How to get it.
        hint: String,
    },
    /// The dashboard port is taken.
    #[error("127.0.0.1:{port} is in use (pick another with --port, or --port 0 for any free port)")]
    PortInUse {
        /// The port.
        port: u16,
    },
    /// The work directory cannot be written.
    #[error("work directory {path} is not writable: {message}")]
    WorkDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// A server failed to start or to answer.
    #[error("site {site}: {message}")]
    Server {
        /// The site.
        site: String,
        /// Why.
        message: String,
    },
    /// Any other IO failure.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A chaos action that cannot run (unknown site, server not running).
    #[error("{0}")]
    Chaos(String),
    /// `--s3-endpoint` without the bucket's credentials.
    #[error(
        "--s3-endpoint needs {variable} in the environment: export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY \
         (and AWS_REGION, default us-east-1) for the bucket {bucket}"
    )]
    S3Credentials {
        /// The missing variable.
        variable: &'static str,
        /// The bucket.
        bucket: String,
    },
    /// The group did not reach the expected state in time.
    #[error("timed out waiting for {0}")]
    Timeout(String),
    /// Ctrl-C or SIGTERM arrived before the run ended.
    #[error("interrupted {0}")]
    Interrupted(&'static str),
}

impl Error {
    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io {
            what: what.into(),
            source,
        }
    }
}

/// How to run the playground.
#[derive(Clone, Debug)]
pub struct Options {
    /// Number of sites: 2 (two primary candidates) or 3 (plus a read-only DR site).
    pub sites: usize,
    /// Dashboard port on 127.0.0.1 (0: any free port).
    pub port: u16,
    /// Keep everything in this directory instead of a temporary one that is removed on exit.
    pub keep: Option<PathBuf>,
    /// The `bloodraven-sidecar` binary (default: next to this executable, else on `PATH`); `None` with
    /// `sidecars = false` runs none.
    pub sidecar: Option<PathBuf>,
    /// Whether to run a sidecar per site.
    pub sidecars: bool,
    /// The engine's poll interval.
    pub poll_interval: Duration,
    /// Pause between two writes of the workload.
    pub write_pause: Duration,
    /// Archive binlogs into this S3 bucket instead of the work directory's `archive/`.
    pub s3: Option<archive::S3Archive>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            sites: 3,
            port: 8090,
            keep: None,
            sidecar: None,
            sidecars: true,
            poll_interval: Duration::from_secs(1),
            write_pause: Duration::from_millis(20),
            s3: None,
        }
    }
}

/// One chaos action.
#[derive(Clone, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum Chaos {
    /// SIGSTOP the server (a hang): probes time out.
    Hang(String),
    /// Restore the site's network.
    Heal(String),
    /// SIGKILL the server (a crash).
    Kill(String),
    /// Cut the site's network (operator and replication; the sidecar stays local).
    Partition(String),
    /// Ask for a reclone of a site (the GTID-prefix interlock: `site:prefix` as the reclone annotation).
    Reclone(String),
    /// Start a killed server again (read-only, as every start).
    Restart(String),
    /// SIGCONT a hung server.
    Resume(String),
    /// Planned switchover to the site (the planned-failover annotation).
    Switchover(String),
}

impl Chaos {
    /// Parses `action site` (`kill iad`, `switchover pdx`, `reclone iad:0-1-`); `site` defaults to the active one
    /// (for `kill`, `hang` and `partition`).
    pub fn parse(text: &str, active: Option<&str>) -> Result<Chaos, Error> {
        let mut words = text.split_whitespace();
        let action = words.next().unwrap_or_default();
        let named = words.next().map(str::to_owned);
        let site = named.clone().or(active.map(str::to_owned));
        let need = |site: Option<String>| {
            site.ok_or_else(|| Error::Chaos(format!("{action}: which site?")))
        };
        Ok(match action {
            "kill" => Chaos::Kill(need(site)?),
            "hang" => Chaos::Hang(need(site)?),
            "resume" => Chaos::Resume(need(site)?),
            "restart" => Chaos::Restart(need(site)?),
            "partition" => Chaos::Partition(need(site)?),
            "heal" => Chaos::Heal(need(site)?),
            "switchover" => Chaos::Switchover(need(named)?),
            "reclone" => Chaos::Reclone(need(named)?),
            other => {
                return Err(Error::Chaos(format!(
                    "unknown action {other:?} (kill, hang, resume, restart, partition, heal, switchover SITE, \
                     reclone SITE[:PREFIX])"
                )));
            }
        })
    }
}

/// A running playground.
pub struct Playground {
    pub(crate) dir: PathBuf,
    keep: bool,
    pub(crate) names: Vec<String>,
    pub(crate) servers: Arc<Mutex<Vec<Server>>>,
    pub(crate) proxies: Vec<Proxy>,
    pub(crate) platform: LocalPlatform,
    pub(crate) topology: Topology,
    pub(crate) workload: Option<Workload>,
    pub(crate) config: Config,
    pub(crate) runner_cfg: RunnerConfig,
    pub(crate) sidecars: Vec<Sidecar>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// The dashboard's address.
    pub addr: std::net::SocketAddr,
    pub(crate) archive: Arc<Mutex<dashboard::ArchiveView>>,
    /// Where the binlog archive is.
    pub(crate) archive_at: archive::ArchiveLocation,
    pub(crate) backup: Arc<Mutex<backup::BackupView>>,
    pub(crate) bin: Option<Binaries>,
    stopped: bool,
}

impl std::fmt::Debug for Playground {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Playground")
            .field("dir", &self.dir)
            .field("sites", &self.names)
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Playground {
    /// Starts everything (see the module docs); on failure everything started so far is stopped again.
    pub async fn start(options: Options) -> Result<Playground, Error> {
        let span = tracing::info_span!("playground", group = GROUP);
        let _enter = span.enter();
        let n = options.sites.clamp(2, 3);
        let (dir, keep) = work_dir(options.keep.as_deref())?;
        let cleanup = |e: Error| {
            if !keep {
                let _ = std::fs::remove_dir_all(&dir);
            }
            e
        };
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", options.port))
            .await
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::AddrInUse => Error::PortInUse { port: options.port },
                _ => Error::io(format!("binding 127.0.0.1:{}", options.port), e),
            })
            .map_err(cleanup)?;
        let sidecar_bin = if options.sidecars {
            Some(sidecar::find(options.sidecar.as_deref()).map_err(cleanup)?)
        } else {
            None
        };
        let bin = Binaries::find().map_err(cleanup)?;
        let archive_at =
            archive::ArchiveLocation::new(&dir, options.s3.as_ref()).map_err(cleanup)?;
        let mut pg = Playground {
            dir: dir.clone(),
            keep,
            names: SITES[..n].iter().map(|s| (*s).to_owned()).collect(),
            servers: Arc::default(),
            proxies: Vec::new(),
            platform: LocalPlatform::new(dir.clone()),
            topology: Topology::new(),
            workload: None,
            config: Config::new(GROUP, Vec::new()),
            runner_cfg: RunnerConfig::default(),
            sidecars: Vec::new(),
            tasks: Vec::new(),
            addr: listener
                .local_addr()
                .map_err(|e| Error::io("reading the dashboard address", e))?,
            archive: Arc::default(),
            archive_at,
            backup: Arc::default(),
            bin: Some(bin.clone()),
            stopped: false,
        };
        // From here on, dropping `pg` on an error stops what was started and removes the directory.
        pg.boot(&bin, listener, &options).await?;
        if let Some(bin) = sidecar_bin {
            pg.start_sidecars(&bin, &options).await?;
        }
        pg.tasks.push(tokio::spawn(dashboard::archive_checker(
            pg.archive_at.clone(),
            Arc::clone(&pg.archive),
        )));
        pg.platform.note(
            "Playground",
            "Started",
            &format!("{n} sites up; dashboard at http://{}", pg.addr),
        );
        Ok(pg)
    }

    async fn boot(
        &mut self,
        bin: &Binaries,
        listener: tokio::net::TcpListener,
        options: &Options,
    ) -> Result<(), Error> {
        let template = self.dir.join("template");
        let b = bin.clone();
        let t = template.clone();
        blocking(move || server::make_template(&b, &t)).await?;
        // Servers start one after the other: the machine may have two cores shared with others.
        for (i, name) in self.names.clone().iter().enumerate() {
            let (b, t, root, name) = (
                bin.clone(),
                template.clone(),
                self.dir.join(name),
                name.clone(),
            );
            let server =
                blocking(move || Server::create(&b, &t, root, &name, SERVER_ID_BASE + i as u32))
                    .await?;
            println!(
                "  site {:<4} mariadbd on 127.0.0.1:{}",
                server.site, server.port
            );
            self.servers().push(server);
        }
        let ports = self.ports();
        for (i, port) in ports.iter().enumerate() {
            seed(&self.names[i], *port, i == 0).await?;
        }
        let mut source_ports = std::collections::BTreeMap::new();
        let mut site_configs = Vec::new();
        let mut sites = Vec::new();
        for (i, port) in ports.iter().enumerate() {
            let ip = std::net::Ipv4Addr::new(127, 0, 0, 11 + i as u8);
            let proxy = Proxy::start(ip, *port).await?;
            let name = &self.names[i];
            let role = if i == 2 {
                Role::ReadOnly
            } else {
                Role::PrimaryCandidate
            };
            site_configs.push(SiteConfig::new(name.clone(), role, ip.to_string()));
            source_ports.insert(name.clone(), proxy.addr.port());
            sites.push(Arc::new(site::PlaygroundSite {
                inner: DriverSite::new(
                    DriverConfig::new(name.clone(), ip.to_string(), proxy.addr.port(), "root", ""),
                    Flavor::Mariadb,
                ),
                index: i,
                servers: Arc::clone(&self.servers),
                template: template.clone(),
            }));
            self.proxies.push(proxy);
        }
        let mut config = Config::new(GROUP, site_configs);
        config.poll_interval = options.poll_interval;
        // Short enough that the scenarios can run one after the other.
        config.failover_cooldown = Duration::from_secs(15);
        config.pending_promotion_ttl = Duration::from_secs(15);
        config.recovery_retry = Duration::from_secs(5);
        let runner_cfg = RunnerConfig {
            namespace: NAMESPACE.into(),
            probe_timeout: Duration::from_secs(1),
            op_timeout: Duration::from_secs(3),
            follower_timeout: Duration::from_secs(10),
            clone_timeout: Duration::from_secs(60),
            source_ports,
            repl_user: "root".into(),
            repl_password: Default::default(),
            ..RunnerConfig::default()
        };
        self.config = config.clone();
        self.runner_cfg = runner_cfg.clone();
        let platform = Arc::new(self.platform.clone());
        let runner = Runner::new(config, sites, platform, runner_cfg, Clock::system())
            .await
            .with_topology(self.topology.clone());
        self.tasks.push(tokio::spawn(async move {
            let span = tracing::info_span!("runner", namespace = NAMESPACE, group = GROUP);
            let _ = tracing::Instrument::instrument(runner.run(), span).await;
        }));
        // The write load follows the client endpoint: it starts writing once the engine sets it.
        let (workload, task) = Workload::start(
            self.platform.clone(),
            self.names.clone(),
            ports.clone(),
            options.write_pause,
        );
        self.workload = Some(workload);
        self.tasks.push(task);
        let app = dashboard::router(self.state());
        self.tasks.push(tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        }));
        println!(
            "  engine polling every {:?}; waiting for replication…",
            options.poll_interval
        );
        self.wait_healthy(Duration::from_secs(90)).await
    }

    async fn start_sidecars(&mut self, bin: &Path, options: &Options) -> Result<(), Error> {
        let archive = self.archive_at.sidecar_env(&self.dir.join("aws-creds"))?;
        let listen: Vec<u16> = (0..self.names.len())
            .map(|_| server::free_port(std::net::Ipv4Addr::LOCALHOST))
            .collect::<Result<_, _>>()?;
        let ports = self.ports();
        for (i, name) in self.names.clone().iter().enumerate() {
            let peers: Vec<String> = listen
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, p)| format!("127.0.0.1:{p}"))
                .collect();
            let s = Sidecar::spawn(sidecar::SidecarConfig {
                bin,
                site: name,
                mysql_port: ports[i],
                listen: listen[i],
                peers: &peers.join(","),
                operator: &self.addr.to_string(),
                binlog_dir: &self.dir.join(name).join("binlog"),
                archive: &archive,
                log: &self.dir.join(format!("sidecar-{name}.log")),
                check_interval: options.poll_interval,
            })?;
            self.sidecars.push(s);
        }
        println!(
            "  {} sidecars running (archive in {})",
            self.sidecars.len(),
            self.archive_at.describe()
        );
        Ok(())
    }

    pub(crate) fn servers(&self) -> std::sync::MutexGuard<'_, Vec<Server>> {
        self.servers.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Each site's direct server port.
    pub fn ports(&self) -> Vec<u16> {
        self.servers().iter().map(|s| s.port).collect()
    }

    /// The site names.
    pub fn sites(&self) -> &[String] {
        &self.names
    }

    /// The work directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The active site of the latest status.
    pub fn active_site(&self) -> Option<String> {
        self.platform
            .state()
            .status
            .as_ref()
            .and_then(|s| s.active_site.clone())
    }

    /// Waits until a site is active and every other site replicates from it.
    pub async fn wait_healthy(&self, timeout: Duration) -> Result<(), Error> {
        self.wait(
            "a healthy group (one writable site, the others replicating)",
            timeout,
            |pg| {
                let s = pg.platform.state();
                let Some(status) = s.status.as_ref() else {
                    return false;
                };
                status.active_site.is_some()
                    && s.dns == status.active_site
                    && status
                        .sites
                        .iter()
                        .filter(|site| Some(&site.name) != status.active_site.as_ref())
                        .all(|site| site.replicating)
            },
        )
        .await
    }

    pub(crate) async fn wait(
        &self,
        what: &str,
        timeout: Duration,
        check: impl Fn(&Playground) -> bool,
    ) -> Result<(), Error> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if check(self) {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                return Err(Error::Timeout(what.to_owned()));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub(crate) async fn wait_async<F: Future<Output = bool>>(
        &self,
        what: &str,
        timeout: Duration,
        check: impl Fn() -> F,
    ) -> Result<(), Error> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if check().await {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                return Err(Error::Timeout(what.to_owned()));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Runs a chaos action and notes it on the timeline.
    pub async fn chaos(&self, action: &Chaos) -> Result<String, Error> {
        self.state().chaos(action).await
    }

    pub(crate) fn state(&self) -> dashboard::Shared {
        dashboard::Shared {
            names: self.names.clone(),
            servers: Arc::clone(&self.servers),
            partitions: self.proxies.iter().map(Proxy::handle).collect(),
            platform: self.platform.clone(),
            topology: self.topology.clone(),
            workload: self.workload.clone(),
            archive: Arc::clone(&self.archive),
            backup: Arc::clone(&self.backup),
            promotion_bound: promotion_bound(&self.config, &self.runner_cfg),
        }
    }

    /// Stops the workload, the sidecars, the runner and the servers; removes the work directory unless kept.
    pub async fn shutdown(mut self) {
        self.stop_all();
    }

    fn stop_all(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        for t in self.tasks.drain(..) {
            t.abort();
        }
        for s in &mut self.sidecars {
            s.stop();
        }
        self.proxies.clear();
        for s in self.servers().iter_mut() {
            s.stop();
        }
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

impl Drop for Playground {
    fn drop(&mut self) {
        self.stop_all();
    }
}

/// The engine's bound on an emergency promotion after the primary stops answering: `failureThreshold` polls, each
/// waiting at most the poll interval plus the probe deadline, then the promotion's fence, drain and unfence, each
/// under the operation deadline, and one more poll to confirm.
pub fn promotion_bound(config: &Config, cfg: &RunnerConfig) -> Duration {
    let polls = config.failure_threshold + 1;
    (config.poll_interval + cfg.probe_timeout) * polls + cfg.op_timeout * 3
}

/// Creates the work directory and checks that it is writable.
fn work_dir(keep: Option<&Path>) -> Result<(PathBuf, bool), Error> {
    let (dir, keep) = match keep {
        Some(d) => (d.to_path_buf(), true),
        None => (
            std::env::temp_dir().join(format!(
                "bloodraven-playground-{}-{}",
                std::process::id(),
                platform::now().subsec_nanos()
            )),
            false,
        ),
    };
    let refuse = |e: std::io::Error| Error::WorkDir {
        path: dir.clone(),
        message: e.to_string(),
    };
    std::fs::create_dir_all(&dir).map_err(refuse)?;
    if keep && std::fs::read_dir(&dir).map_err(refuse)?.next().is_some() {
        return Err(Error::WorkDir {
            path: dir,
            message: "it is not empty (the playground starts from scratch)".into(),
        });
    }
    let probe = dir.join(".write-test");
    std::fs::write(&probe, b"ok").map_err(refuse)?;
    let _ = std::fs::remove_file(probe);
    Ok((dir, keep))
}

/// Seeds a server with the playground schema under the same GTIDs on every site (domain 0, server 1, sequence
/// 1–4), so every site starts with the same data and the engine only has to set up replication; the first site
/// is made writable.
pub(crate) async fn seed(site: &str, port: u16, writable: bool) -> Result<(), Error> {
    let fail = |e: mysql_async::Error| Error::Server {
        site: site.to_owned(),
        message: format!("seeding the schema: {e}"),
    };
    let mut conn = root_conn(port).await.map_err(fail)?;
    let statements = [
        "CREATE DATABASE playground".to_owned(),
        "CREATE TABLE playground.writes (id BIGINT PRIMARY KEY, site VARCHAR(16) NOT NULL, \
         at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6))"
            .to_owned(),
        format!(
            "CREATE USER '{}'@'%' IDENTIFIED BY '{}'",
            workload::APP_USER,
            workload::APP_PASSWORD
        ),
        format!(
            "GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, ALTER ON playground.* TO '{}'@'%'",
            workload::APP_USER
        ),
    ];
    conn.query_drop("SET SESSION gtid_domain_id = 0, SESSION server_id = 1")
        .await
        .map_err(fail)?;
    for (seq, sql) in statements.iter().enumerate() {
        conn.query_drop(format!("SET SESSION gtid_seq_no = {}", seq + 1))
            .await
            .map_err(fail)?;
        conn.query_drop(sql).await.map_err(fail)?;
    }
    if writable {
        conn.query_drop("SET GLOBAL read_only = OFF")
            .await
            .map_err(fail)?;
    }
    let _ = conn.disconnect().await;
    Ok(())
}

/// A root session on a site's server (no password, loopback only).
pub(crate) async fn root_conn(port: u16) -> Result<mysql_async::Conn, mysql_async::Error> {
    let opts = mysql_async::OptsBuilder::default()
        .ip_or_hostname("127.0.0.1")
        .tcp_port(port)
        .user(Some("root"))
        .prefer_socket(false);
    mysql_async::Conn::new(opts).await
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::io("a server task", std::io::Error::other(e.to_string())))?
}
