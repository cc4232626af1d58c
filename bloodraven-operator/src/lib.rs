//! Bloodraven's failover engine: decides, every poll, what the sites of a failover group are and what to do.
//!
//! The engine knows nothing of Kubernetes: the controllers (feature `kube`), the sidecar and other projects drive it.
//! The crate is split like rustls splits protocol from IO, and like object_store by features:
//!
//! * [`engine`] — the pure core. [`engine::Engine::step`] takes one poll's observations (each site's probe: read-only
//!   flags, executed GTID state, replica status — or `None` when the probe failed), the outcomes of the previous
//!   actions and the time, on top of the durable [`record::Record`] it was built from and the [`engine::Gates`]
//!   other controllers hold ([`engine::Engine::set_gates`]: in-place restore, ordered update, bootstrap, keyring
//!   rotation), and returns a [`engine::Decision`]: status (site states, reason, conditions), events and the ordered
//!   [`engine::Action`]s. No IO, no clock, no randomness: every decision can be replayed.
//! * [`runner`] — executes decisions: reads the group object (guards and the record's authority epoch), probes every
//!   site in parallel, reads the group object again and discards the poll if a promotion was recorded meanwhile,
//!   persists the record *before* acting (a failed save acts on nothing but fences and is retried next poll),
//!   writes status, emits events, runs actions; every remote call under a deadline, so a hung socket never freezes
//!   a poll.
//! * [`site`] — the [`site::Site`] trait (MySQL/MariaDB admin operations); [`driver`] implements it over
//!   `mysql_async`. [`platform`] — DNS record, node taints, events, status and the durable record, with an in-memory
//!   implementation.
//! * [`record`] — the failover record: cooldown stamp, the authority epoch every recorded promotion bumps, promotion
//!   history (trigger, candidates with their GTID sets, the rule that chose the winner, promotion GTID set, write
//!   unavailability, divergent set), recovery markers, the planned failover in flight. [`annotations`] — glue to
//!   `bloodraven-api`'s planned-failover and reclone grammars (with the GTID-prefix interlock).
//! * [`metrics`] — the Prometheus/OpenMetrics export under the reference's metric names; [`http`] — `/metrics`,
//!   the health probes and the auxiliary server (`/active-site`, `/status`) runners publish into.
//! * [`fence`] — the sidecar's self-fencing and startup safety-net rules, pure; the simulation and the
//!   `bloodraven-sidecar` binary both run them. [`secret`] — the one password type (redacted, wiped on drop).
//! * [`controller`] — the `MysqlFailoverGroup` controller and the `bloodraven` operator binary.
//! * `playground` (feature `playground`) — `bloodraven playground`: local MariaDB servers, the real runner on a
//!   local platform, a sidecar per site, a write load, chaos actions and a live web dashboard.
//! * `sim` (feature `sim`) — the deterministic simulation (the main proof; `bloodraven-sim` runs any number of
//!   seeds) and `sim::Lab`, simulated servers for the `Site` conformance suite.
//!
//! # Crate features
//!
//! | feature | default | adds |
//! |---|---|---|
//! | `runner` | yes (through `mysql`) | the async runner (tokio's clock and tasks) and `metrics` |
//! | `metrics` | yes | the Prometheus/OpenMetrics exporter |
//! | `mysql` | yes | the MySQL/MariaDB drivers over `mysql_async` |
//! | `http` | yes | the HTTP surfaces (axum) |
//! | `kube` | yes | the controllers and the `bloodraven` binary (kube client and runtime, rustls) |
//! | `playground` | yes | `bloodraven playground`: a whole failover group on this machine with a web dashboard |
//! | `serde` | with `kube` | `serde` for the durable record |
//! | `sim` | no | the simulation, `sim::Lab` and `bloodraven-sim` (tokio's paused test clock) |
//!
//! With `default-features = false` the engine, record, site model, platform trait, annotations and fence rules
//! build alone: no tokio, no `mysql_async`, no kube.
//!
//! # Running the operator
//!
//! Against the cluster of the current kubeconfig (or in-cluster, as the install bundle runs it):
//!
//! ```text
//! bloodraven crds | kubectl apply --server-side -f -
//! bloodraven --leader-elect                       # metrics :8080, probes :8081, aux :8082
//! bloodraven --namespace shop \
//!     --site-endpoint shop/orders/iad=127.0.0.1:3306 \
//!     --site-endpoint shop/orders/pdx=127.0.0.1:3307  # outside the cluster: reach each site's MySQL directly
//! ```
//!
//! # The model
//!
//! Each site is debounced into one of four states; the cross-site matrix turns the states into a reason and, when
//! the primary is lost, ranked promotion candidates:
//!
//! ```text
//!                 probe ok, read_only=1 (1 poll)
//!   Unknown ─────────────────────────────────────────▶ ReadOnly ◀──────────────┐
//!     │  │                                              │    ▲                 │ read_only=1
//!     │  │ read_only=0 × recoveryThreshold (2)          │    │ read_only=1     │ (1 poll)
//!     │  └──────────────────▶ Writable ◀────────────────┘    │                 │
//!     │                         │     read_only=0 × 2        │                 │
//!     │ probe fails ×           │ probe fails × failureThreshold (3)           │
//!     │ failureThreshold        ▼                             │                 │
//!     └───────────────────▶ Unreachable ──────────────────────┴─────────────────┘
//!
//!  matrix (core sites):  fence writable non-candidates first ─▶ all unreachable: TotalLoss (no action)
//!    ─▶ >1 writable: SplitBrain (fence all but the recorded failover target / the priority winner)
//!    ─▶ 0 writable, some unreachable, some read-only candidates: promote the freshest (strict GTID containment,
//!       priorities break ties), unless inside the cooldown, a promotion is pending, or a planned failover /
//!       clone into a core site is in flight
//!    ─▶ 0 writable, none unreachable: NoPrimary (re-assert the last primary if GTID-complete, else promote the
//!       freshest candidate containing it)
//!    ─▶ 1 writable: Healthy / Degraded; followers converge on it, returning old primaries are fenced, drained,
//!       compared (O ⊆ N: rejoin as replica; else RecoveryBlocked with divergentGtid = O − N), reclones run,
//!       empty sites (no replication channel, empty GTID set) are auto-cloned from it
//!
//!  guards (engine::Gates, read every poll):
//!    frozen (in-place restore) │ ordered update │ bootstrap into a core site │ planned failover in flight
//!      ─▶ no promotion, split-brain fencing or re-assert (status.suppressed says why); followers stay
//!         Pending/SourceMismatch; frozen or bootstrapping also defers recovery, reclone and auto-clone
//!    keyring rotation of a site ─▶ never promoted, re-asserted or a planned target (KeyringRotation); all
//!      candidates rotating: NoPrimary "refusing to promote … (UnsealReason=Rotation)"
//!    authority epoch moved while probing ─▶ the poll is discarded, the recorded promotion adopted as pending;
//!      moved (or a guard raised) during a promotion ─▶ the promotion aborts before its unfence
//!
//!  planned failover:  Pending ─▶ Draining (fence source, read its GTID set, kill sessions until 0 or timeout)
//!    ─▶ WaitingForLag (target ⊇ source set at fence?) ─▶ Promoting ─▶ Resuming ─▶ Succeeded
//!                        └── maxLagWait elapsed ─▶ unfence source ─▶ Failed(LagTimeout)
//! ```
//!
//! The engine moves a planned failover one phase per step, so a restart resumes from a persisted phase; while one is
//! in flight the runner steps again right away instead of after a poll interval, waits for the target's applier on
//! the server (`WAIT_FOR_EXECUTED_GTID_SET` / `MASTER_GTID_WAIT`), and flips DNS as soon as the target is writable,
//! so a switchover costs clients about a tenth of a second of writes on loopback (docs/benchmarks.md).
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//!
//! use bloodraven_operator::engine::{Action, Config, Engine, Role, SiteConfig, SiteState};
//! use bloodraven_operator::record::Record;
//! use bloodraven_operator::site::{Flavor, GtidState, Probe, ReplicaStatus};
//!
//! let config = Config::new("orders", vec![
//!     SiteConfig::new("iad", Role::PrimaryCandidate, "iad.db"),
//!     SiteConfig::new("pdx", Role::PrimaryCandidate, "pdx.db"),
//! ]);
//! let mut engine = Engine::new(config, Record::default());
//! let probe = |read_only: bool, gtid: &str, source: Option<&str>| Some(Probe {
//!     read_only,
//!     super_read_only: Some(read_only),
//!     server_id: String::new(),
//!     version: "8.4.3".into(),
//!     flavor: Flavor::Mysql,
//!     executed: GtidState::Mysql(gtid.parse().unwrap()),
//!     replica: source.map(|h| ReplicaStatus {
//!         io_running: true, sql_running: true, source_host: h.into(), ..Default::default()
//!     }),
//! });
//! let set = "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-10";
//! for t in [0, 2] {
//!     engine.step(Duration::from_secs(t), vec![probe(false, set, None), probe(true, set, Some("iad.db"))], vec![]);
//! }
//! assert_eq!(engine.states(), vec![SiteState::Writable, SiteState::ReadOnly]);
//! // iad stops answering: after failureThreshold (3) failed polls the engine promotes pdx.
//! let mut decision = None;
//! for t in [4, 6, 8] {
//!     decision = Some(engine.step(Duration::from_secs(t), vec![None, probe(true, set, Some("iad.db"))], vec![]));
//! }
//! let actions = decision.unwrap().actions;
//! assert!(actions.contains(&Action::Promote { target: "pdx".into(), old_primary: Some("iad".into()), planned: false }));
//! ```

#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod annotations;
#[cfg(feature = "kube")]
#[cfg_attr(docsrs, doc(cfg(feature = "kube")))]
pub mod controller;
#[cfg(feature = "mysql")]
#[cfg_attr(docsrs, doc(cfg(feature = "mysql")))]
pub mod driver;
pub mod engine;
pub mod fence;
#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
pub mod http;
#[cfg(feature = "backup")]
#[cfg_attr(docsrs, doc(cfg(feature = "backup")))]
pub mod jobs;
#[cfg(feature = "metrics")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
pub mod metrics;
pub mod platform;
#[cfg(feature = "playground")]
#[cfg_attr(docsrs, doc(cfg(feature = "playground")))]
pub mod playground;
pub mod record;
#[cfg(feature = "runner")]
#[cfg_attr(docsrs, doc(cfg(feature = "runner")))]
pub mod runner;
pub mod secret;
#[cfg(any(test, feature = "sim"))]
#[cfg_attr(docsrs, doc(cfg(feature = "sim")))]
pub mod sim;
pub mod site;
