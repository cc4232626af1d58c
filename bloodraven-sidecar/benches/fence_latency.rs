//! Fence latency: from the instant the lease can first be declared lost (the newest answer of the operator or a
//! peer plus `LEASE_TIMEOUT`) to `super_read_only = ON` (MariaDB: `read_only = ON`) returning, over repeated
//! partitions of a real MariaDB primary's sidecar (lease 3 s, interval 1 s). Between runs the server is unfenced
//! as the operator would, and the sidecar rearms.
//!
//! `cargo bench -p bloodraven-sidecar --bench fence_latency` (`SIDECAR_BENCH_RUNS`, default 25).

use std::time::{Duration, Instant};

use axum::routing::get;
use bloodraven_sidecar::Sidecar;
use bloodraven_sidecar::config::{Config, Flags};
use bloodraven_test_support::mariadb::MariaDb;
use bloodraven_test_support::proxy::{Fault, Proxy};

fn main() {
    let runs: usize = std::env::var("SIDECAR_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(25);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let db = MariaDb::builder().start().unwrap();
        db.sql("CREATE DATABASE d; CREATE TABLE d.t (id INT PRIMARY KEY); INSERT INTO d.t VALUES (1)")
            .unwrap();
        let app = axum::Router::new()
            .route("/healthz", get(|| async { "ok" }))
            .route(
                "/active-site",
                get(|| async {
                    axum::Json(serde_json::json!({"namespace": "db", "group": "orders", "activeSite": "east"}))
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let op = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let proxy = Proxy::start(op).unwrap();
        let cfg = Config::resolve(&Flags {
            mysql_dsn: Some(format!("root:@tcp(127.0.0.1:{})/", db.port())),
            listen_addr: Some("127.0.0.1:0".into()),
            site: Some("east".into()),
            namespace: Some("db".into()),
            group: Some("orders".into()),
            bloodraven_address: Some(proxy.addr().to_string()),
            lease_timeout: Some("3s".into()),
            peer_check_interval: Some("1s".into()),
            ..Flags::default()
        })
        .unwrap();
        let s = Sidecar::start(&cfg).await.unwrap();
        let mut latencies = Vec::new();
        for run in 0..runs {
            proxy.set(Fault::Blackhole);
            let t = Instant::now();
            while s.fencing().stats().fences as usize <= run {
                assert!(t.elapsed() < Duration::from_secs(15), "run {run}: no fence");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            let l = s.fencing().stats().last_lease_latency.unwrap();
            eprintln!("run {run}: {:.1} ms", l.as_secs_f64() * 1e3);
            latencies.push(l);
            proxy.set(Fault::Forward);
            db.sql("SET GLOBAL read_only = OFF").unwrap();
            let t = Instant::now();
            while s.fencing().stats().rearms as usize <= run {
                assert!(t.elapsed() < Duration::from_secs(15), "run {run}: no rearm");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            // Let a tick renew the lease before the next partition.
            tokio::time::sleep(Duration::from_millis(1200)).await;
        }
        latencies.sort();
        let pct = |p: f64| latencies[((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len()) - 1];
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        println!(
            "\n{runs} runs: min {:.1} ms, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            ms(latencies[0]),
            ms(pct(0.5)),
            ms(pct(0.99)),
            ms(*latencies.last().unwrap())
        );
        s.shutdown().await;
    });
}
