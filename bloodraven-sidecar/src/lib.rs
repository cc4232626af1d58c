//! The Bloodraven sidecar: runs beside mysqld in every MySQL pod, keeps a partitioned primary from taking writes,
//! answers the probes, and archives every sealed binlog for point-in-time recovery.
//!
//! It is a drop-in for the Go sidecar: the same environment ([`config`], reference-api.md §13.5), the same HTTP
//! endpoints with the same bodies and codes ([`http`]), the same archive layout and manifests (through
//! `bloodraven-binlog`). A [`Sidecar`] wires the parts together:
//!
//! ```text
//!   start ─▶ build the archive store (refuse bad settings) ─▶ bind LISTEN_ADDR, serve HTTP
//!         ─▶ startup safety net: super_read_only=ON, ask /active-site, unfence only if it names this site
//!         ─▶ fencing monitor (every PEER_CHECK_INTERVAL: operator /healthz + /active-site, peers /peer/ping +
//!            /peer/active-site ─▶ fence::Lease ─▶ fence + evict sessions, or rearm)
//!         ─▶ archiver loop (inotify on the binlog dir + poll interval ─▶ @@read_only gate ─▶ archive::Archiver)
//!   SIGTERM ─▶ stop the loops; the upload in flight gets 5 s to finish, else it is abandoned (never half-listed)
//! ```
//!
//! # One rule set with the simulation
//!
//! The self-fencing and safety-net decisions are [`bloodraven_operator::fence`]'s — the module the deterministic
//! simulation drives for every simulated sidecar. [`fencing`] only does the I/O: it feeds the [`Lease`] what
//! answered, reads `@@read_only`, and executes the [`Verdict`](bloodraven_operator::fence::Verdict).
//!
//! Where the shared rule deliberately differs from the Go sidecar (see [`bloodraven_operator::fence`]):
//!
//! * **An empty `/active-site` answer is kept as an observation** ("no active site, observed at T") instead of
//!   clearing the cache, so a peer still relaying an older view naming the old primary cannot re-fill it and fence
//!   a freshly promoted site; only a strictly newer view replaces it. `/peer/active-site` therefore relays such an
//!   observation as `{"activeSite": "", "observedAt": T}` (a Go peer ignores an empty site) and answers 204 only
//!   when nothing was ever observed.
//! * **The safety net never unfences a server without data** (no executed GTIDs and no user schema: an empty data
//!   volume after a PVC loss), even if the operator names its site; the operator's auto-clone brings it back.
//!
//! Differences of this binary that are not rule changes: answers are fed into the lease as they arrive and the
//! lease is also evaluated at the instant it can first be declared lost (even while calls hang on a partition), so
//! fencing waits neither for the next tick nor for a call timeout; and the monitor runs only when
//! `BLOODRAVEN_ADDRESS` is set (without an operator there is no lease to hold).
//!
//! [`Lease`]: bloodraven_operator::fence::Lease
//!
//! # Example
//!
//! ```no_run
//! use bloodraven_sidecar::{Sidecar, config::{Config, Flags}};
//! use clap::Parser as _;
//!
//! # async fn run() -> Result<(), bloodraven_sidecar::Error> {
//! let config = Config::resolve(&Flags::parse())?;
//! let sidecar = Sidecar::start(&config).await?;
//! println!("listening on {}", sidecar.local_addr());
//! tokio::signal::ctrl_c().await.ok();
//! sidecar.shutdown().await;
//! # Ok(())
//! # }
//! ```

#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod archiver;
pub mod client;
pub mod config;
mod error;
pub mod fencing;
pub mod http;
pub mod metrics;
pub mod mysql;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinSet;

pub use error::Error;

use crate::archiver::ArchiverService;
use crate::client::Client;
use crate::config::Config;
use crate::fencing::{Fencing, SafetyNet};
use crate::mysql::Mysql;

/// A running sidecar: HTTP server, fencing monitor and archiver loop.
#[derive(Debug)]
pub struct Sidecar {
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    tasks: JoinSet<()>,
    fencing: Fencing,
    archiver: Option<ArchiverService>,
    safety_net: SafetyNet,
}

impl Sidecar {
    /// Builds everything from `config` (refusing unusable settings before touching the server), binds the listener,
    /// runs the startup safety net and starts the loops.
    pub async fn start(config: &Config) -> Result<Sidecar, Error> {
        let mysql = Mysql::new(&config.mysql);
        let client = Client::new();
        let archiver = match &config.pitr {
            Some(pitr) => Some(
                ArchiverService::new(
                    pitr,
                    config.topology.as_ref(),
                    config.operator.as_deref(),
                    mysql.clone(),
                    client.clone(),
                )
                .await?,
            ),
            None => None,
        };
        let fencing = Fencing::new(config, mysql.clone(), client);
        let listener = tokio::net::TcpListener::bind(&config.listen_addr)
            .await
            .map_err(|cause| Error::Listen {
                addr: config.listen_addr.clone(),
                cause,
            })?;
        let addr = listener.local_addr().map_err(|cause| Error::Listen {
            addr: config.listen_addr.clone(),
            cause,
        })?;
        let (shutdown, stop) = watch::channel(false);
        let mut tasks = JoinSet::new();
        let state = http::AppState {
            mysql,
            view: fencing.view(),
            archiver: archiver.clone(),
            fencing: Some(fencing.clone()),
            metrics: Arc::new(metrics::Metrics::new(config.topology.as_ref())),
        };
        let app = http::router(state);
        let mut http_stop = stop.clone();
        tasks.spawn(async move {
            let graceful = async move {
                let _ = http_stop.wait_for(|s| *s).await;
            };
            if let Err(e) = axum::serve(listener, app)
                .with_graceful_shutdown(graceful)
                .await
            {
                tracing::error!(error = %e, "HTTP server failed");
            }
        });
        tracing::info!(%addr, pod = ?config.pod_name, "sidecar listening");
        let (safety_net, seed) = fencing.safety_net().await;
        if fencing.enabled() {
            let f = fencing.clone();
            let s = stop.clone();
            tasks.spawn(async move { f.run(seed, s).await });
        }
        if let Some(a) = &archiver {
            let a = a.clone();
            let s = stop.clone();
            tasks.spawn(async move { a.run(s).await });
        }
        Ok(Sidecar {
            addr,
            shutdown,
            tasks,
            fencing,
            archiver,
            safety_net,
        })
    }

    /// The bound HTTP address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The fencing side (view, counters).
    pub fn fencing(&self) -> &Fencing {
        &self.fencing
    }

    /// The archiver, when PITR is on.
    pub fn archiver(&self) -> Option<&ArchiverService> {
        self.archiver.as_ref()
    }

    /// What the startup safety net did.
    pub fn safety_net(&self) -> &SafetyNet {
        &self.safety_net
    }

    /// Stops every loop and the HTTP server and waits for them (an upload in flight gets a short grace period).
    pub async fn shutdown(mut self) {
        self.shutdown.send_replace(true);
        while self.tasks.join_next().await.is_some() {}
    }
}
