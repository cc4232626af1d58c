//! `bloodraven-sidecar`: the sidecar binary the operator's rendered Deployment runs (same environment as the Go one).
//!
//! Exit codes: 0 after SIGTERM/SIGINT, 2 when the configuration is refused or the sidecar cannot start.

use std::process::ExitCode;

use bloodraven_sidecar::Sidecar;
use bloodraven_sidecar::config::{Config, Flags};
use clap::Parser as _;

fn main() -> ExitCode {
    let flags = Flags::parse();
    let level = match std::env::var("BLOODRAVEN_LOG").ok().as_deref() {
        Some("debug") => tracing::Level::DEBUG,
        Some("trace") => tracing::Level::TRACE,
        Some("warn") => tracing::Level::WARN,
        Some("error") => tracing::Level::ERROR,
        _ => tracing::Level::INFO,
    };
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .init();
    let config = match Config::resolve(&flags) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("bloodraven-sidecar: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("bloodraven-sidecar: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    runtime.block_on(async {
        let sidecar = match Sidecar::start(&config).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("bloodraven-sidecar: {e}");
                return ExitCode::from(2);
            }
        };
        wait_for_signal().await;
        tracing::info!("shutting down");
        sidecar.shutdown().await;
        ExitCode::SUCCESS
    })
}

/// SIGTERM (Kubernetes) or SIGINT.
async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
