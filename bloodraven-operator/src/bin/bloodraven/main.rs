//! `bloodraven`: the operator.
//!
//! ```text
//! bloodraven [--namespace NS] [--leader-elect] [--site-endpoint NS/GROUP/SITE=HOST:PORT]…
//!            [--metrics-bind-address :8080] [--health-probe-bind-address :8081] [--aux-bind-address :8082]
//! bloodraven crds
//! bloodraven playground [--sites 2|3] [--port 8090] [--scenario failover|switchover|partition|all] [--keep DIR]
//! bloodraven dump | restore | verify | encrypt-upload | decrypt-download     # Job steps, configured by env
//! bloodraven trigger-backup | trigger-verification --group G --profile P  # what the CronJobs run
//! ```
//!
//! With no sub-command it runs the manager, as the Go image's entrypoint does: the kubeconfig comes from
//! `KUBECONFIG` or the in-cluster service account.

mod jobs;

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tokio::sync::watch;

use bloodraven_api::crd;
use bloodraven_api::names::LEADER_ELECTION_ID;
use bloodraven_operator::controller::{self, ManagerOptions, SiteSource, spec::SiteEndpoints};
use bloodraven_operator::http::{Readiness, Topology, aux_router, health_router, metrics_router};
use bloodraven_operator::metrics::Exporter;

/// The Bloodraven operator: keeps MySQL and MariaDB failover groups alive.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Where `/metrics` is served (`:8080` listens on every address; `0` turns it off).
    #[arg(long, default_value = ":8080")]
    metrics_bind_address: String,
    /// Where `/healthz` and `/readyz` are served.
    #[arg(long, default_value = ":8081")]
    health_probe_bind_address: String,
    /// Where the auxiliary server (`/status`, `/active-site`, `/pitr-cutoff`) is served.
    #[arg(long, default_value = ":8082")]
    aux_bind_address: String,
    /// Elect a leader over the Lease `bloodraven.shipstream.io`: only the leader runs groups.
    #[arg(long)]
    leader_elect: bool,
    /// Namespace of the leader-election Lease (default: `POD_NAMESPACE`, else `default`).
    #[arg(long)]
    leader_election_namespace: Option<String>,
    /// Seconds a leader's Lease stays valid without renewal.
    #[arg(long, default_value_t = 15)]
    leader_election_lease_seconds: u64,
    /// Watch only this namespace (default: all).
    #[arg(long)]
    namespace: Option<String>,
    /// Reach a site's MySQL at HOST:PORT instead of its internal Service (repeatable), for a manager outside the
    /// cluster.
    #[arg(long = "site-endpoint", value_name = "NAMESPACE/GROUP/SITE=HOST:PORT")]
    site_endpoints: Vec<String>,
    /// Reach a site's sidecar at HOST:PORT instead of its internal Service on 8080 (repeatable), for a manager
    /// outside the cluster.
    #[arg(
        long = "sidecar-endpoint",
        value_name = "NAMESPACE/GROUP/SITE=HOST:PORT"
    )]
    sidecar_endpoints: Vec<String>,
    /// How often every sidecar's `/archiver/status` is polled into `status.pitr` and the `bloodraven_archiver_*`
    /// gauges (groups with `spec.backup.pitr.enabled`).
    #[arg(long, default_value = "30s", value_parser = go_duration)]
    archiver_poll_interval: std::time::Duration,
    /// Run every group on in-process simulated servers (a healthy primary and replicas) instead of MySQL: a
    /// benchmark and development aid (`benches/scale.sh`), hidden from help.
    #[cfg(feature = "sim")]
    #[arg(long, hide = true)]
    simulate_sites: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the CustomResourceDefinitions as YAML.
    Crds,
    #[command(flatten)]
    Job(jobs::JobCommand),
    /// Run a whole failover group on this machine (local MariaDB servers, the engine, a sidecar per site, a write
    /// load) with a live web dashboard; or, with --scenario, a scripted story with a report.
    #[cfg(feature = "playground")]
    Playground(PlaygroundArgs),
}

#[cfg(feature = "playground")]
#[derive(Debug, clap::Args)]
struct PlaygroundArgs {
    /// Number of sites: 2 (two primary candidates) or 3 (plus a read-only DR site).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u8).range(2..=3))]
    sites: u8,
    /// Dashboard port on 127.0.0.1 (0: any free port).
    #[arg(long, default_value_t = 8090)]
    port: u16,
    /// Run a scripted story headlessly, print a report, exit non-zero when an expectation fails.
    #[arg(long, value_name = "failover|switchover|partition|all")]
    scenario: Option<bloodraven_operator::playground::ScenarioName>,
    /// Keep the servers' data, the record, the event log and the archive in DIR (must be empty or absent).
    #[arg(long, value_name = "DIR")]
    keep: Option<std::path::PathBuf>,
    /// The bloodraven-sidecar binary (default: next to this executable, else on PATH).
    #[arg(long, value_name = "PATH")]
    sidecar: Option<std::path::PathBuf>,
    /// Run without sidecars (no self-fencing, no binlog archive).
    #[arg(long)]
    no_sidecars: bool,
    /// The engine's poll interval in milliseconds.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(100..=60_000))]
    poll_ms: u64,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Crds) => crds(),
        #[cfg(feature = "playground")]
        Some(Command::Playground(args)) => playground(args),
        Some(Command::Job(job)) => return jobs::run(job),
        None => manager(cli),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bloodraven: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn crds() -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    for c in crd::crds() {
        out.write_all(crd::to_yaml(&c)?.as_bytes())?;
    }
    Ok(out.flush()?)
}

#[cfg(feature = "playground")]
fn playground(args: PlaygroundArgs) -> anyhow::Result<()> {
    use bloodraven_operator::playground;
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let options = playground::Options {
        sites: args.sites.into(),
        port: args.port,
        keep: args.keep,
        sidecar: args.sidecar,
        sidecars: !args.no_sidecars,
        poll_interval: Duration::from_millis(args.poll_ms),
        ..playground::Options::default()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let report = runtime.block_on(playground::run(options, args.scenario));
    // The terminal reader may still be blocked on stdin: do not wait for it.
    runtime.shutdown_timeout(Duration::from_millis(500));
    let report = report?;
    if let Some(report) = report {
        println!("{report}");
        if !report.passed() {
            anyhow::bail!("an expectation failed (see the report above)");
        }
    }
    Ok(())
}

/// `:8080` → every address on port 8080; `0` → off.
fn bind_address(flag: &str, text: &str) -> anyhow::Result<Option<SocketAddr>> {
    if text == "0" {
        return Ok(None);
    }
    let full = if text.starts_with(':') {
        format!("0.0.0.0{text}")
    } else {
        text.to_owned()
    };
    full.parse()
        .map(Some)
        .with_context(|| format!("--{flag} {text:?}: expected HOST:PORT, :PORT or 0"))
}

/// `--simulate-sites` (feature `sim`) or the drivers.
fn site_source(cli: &Cli) -> SiteSource {
    #[cfg(feature = "sim")]
    if cli.simulate_sites {
        return SiteSource::Simulated;
    }
    let _ = cli;
    SiteSource::Driver
}

/// A Go duration (`30s`, `1m30s`) of at least a second.
fn go_duration(text: &str) -> Result<std::time::Duration, String> {
    bloodraven_api::duration::Duration::parse(text)
        .ok()
        .and_then(|d| d.to_std())
        .filter(|d| *d >= std::time::Duration::from_secs(1))
        .ok_or_else(|| format!("{text:?}: expected a duration of at least 1s, such as 30s or 2m"))
}

fn manager(cli: Cli) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,kube=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let sites = site_source(&cli);
    let mut endpoints = SiteEndpoints::new();
    for e in &cli.site_endpoints {
        endpoints
            .add(e)
            .map_err(|e| anyhow::anyhow!("--site-endpoint {e}"))?;
    }
    let mut sidecar_endpoints = SiteEndpoints::new();
    for e in &cli.sidecar_endpoints {
        sidecar_endpoints
            .add(e)
            .map_err(|e| anyhow::anyhow!("--sidecar-endpoint {e}"))?;
    }
    let metrics_at = bind_address("metrics-bind-address", &cli.metrics_bind_address)?;
    let health_at = bind_address("health-probe-bind-address", &cli.health_probe_bind_address)?;
    let aux_at = bind_address("aux-bind-address", &cli.aux_bind_address)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    controller::install_crypto_provider();
    runtime.block_on(async move {
        let client = kube::Client::try_default()
            .await
            .context("cannot reach Kubernetes (KUBECONFIG or the in-cluster service account)")?;
        let topology = Topology::new();
        let mut exporter = Exporter::new();
        controller::backup::metrics::register(exporter.registry_mut());
        controller::archiver::register(exporter.registry_mut());
        let exporter = Arc::new(exporter);
        let readiness = Readiness::new();
        for (address, router) in [
            (metrics_at, metrics_router(Arc::clone(&exporter))),
            (health_at, health_router(readiness.clone())),
            (aux_at, aux_router(topology.clone())),
        ] {
            let Some(address) = address else { continue };
            let listener = tokio::net::TcpListener::bind(address)
                .await
                .with_context(|| format!("cannot listen on {address}"))?;
            tokio::spawn(async move {
                if let Err(e) = axum::serve(listener, router).await {
                    tracing::error!(%address, error = %e, "HTTP server stopped");
                }
            });
        }
        // Without election this process always leads: the sender lives as long as the manager.
        let (_always, not_elected) = watch::channel(true);
        let (leader, _election) = if cli.leader_elect {
            let namespace = cli
                .leader_election_namespace
                .or_else(|| std::env::var("POD_NAMESPACE").ok())
                .unwrap_or_else(|| "default".into());
            let identity = format!(
                "{}-{}",
                std::env::var("POD_NAME")
                    .or_else(|_| std::env::var("HOSTNAME"))
                    .unwrap_or_else(|_| "bloodraven".into()),
                std::process::id()
            );
            let seconds = cli.leader_election_lease_seconds.max(3);
            let lease =
                kube_lease_manager::LeaseManagerBuilder::new(client.clone(), LEADER_ELECTION_ID)
                    .with_namespace(namespace)
                    .with_identity(identity)
                    .with_duration(seconds)
                    .with_grace((seconds / 3).max(1))
                    .with_field_manager("bloodraven")
                    .build()
                    .await
                    .context("cannot set up leader election")?;
            let (channel, task) = lease.watch().await;
            (channel, Some(task))
        } else {
            (not_elected, None)
        };
        let operator_address = format!(
            "bloodraven.{}.svc:8082",
            std::env::var("POD_NAMESPACE").unwrap_or_else(|_| "bloodraven-system".into())
        );
        let options = ManagerOptions {
            namespace: cli.namespace,
            site_endpoints: endpoints,
            sidecar_endpoints,
            archiver_poll_interval: cli.archiver_poll_interval,
            runner: Default::default(),
            operator_address,
            sites,
        };
        let shutdown = async {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("a SIGTERM handler can always be installed in a fresh runtime");
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            tracing::info!("shutting down");
        };
        controller::run(
            client, options, topology, exporter, leader, readiness, shutdown,
        )
        .await
        .context("the controller stopped")?;
        tokio::time::sleep(Duration::from_millis(100)).await;
        Ok(())
    })
}
