//! Shared helpers: a scripted operator (axum), sidecar configurations for real MariaDB servers, waiting.

#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bloodraven_sidecar::config::{Config, Flags};
use bloodraven_test_support::mariadb::MariaDb;
use serde_json::json;

/// What the scripted operator answers on `/active-site`.
#[derive(Clone, Debug)]
pub enum Answer {
    /// 200 naming this site.
    Site(&'static str),
    /// 200 with an empty site.
    NoSite,
    /// This status with an error body.
    Status(u16),
}

#[derive(Debug)]
struct Script {
    answer: Answer,
    cutoff: Option<String>,
    calls: u64,
}

/// A scripted operator auxiliary server: `/healthz`, `/active-site`, `/pitr-cutoff`.
#[derive(Clone, Debug)]
pub struct Operator {
    pub addr: SocketAddr,
    script: Arc<Mutex<Script>>,
}

impl Operator {
    pub async fn start(answer: Answer) -> Operator {
        let script = Arc::new(Mutex::new(Script {
            answer,
            cutoff: None,
            calls: 0,
        }));
        let app = axum::Router::new()
            .route("/healthz", get(|| async { "ok" }))
            .route("/active-site", get(active_site))
            .route("/pitr-cutoff", get(cutoff))
            .with_state(script.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Operator { addr, script }
    }

    pub fn answer(&self, a: Answer) {
        self.script.lock().unwrap().answer = a;
    }

    pub fn set_cutoff(&self, t: Option<String>) {
        self.script.lock().unwrap().cutoff = t;
    }

    pub fn calls(&self) -> u64 {
        self.script.lock().unwrap().calls
    }
}

async fn active_site(
    State(s): State<Arc<Mutex<Script>>>,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let mut s = s.lock().unwrap();
    s.calls += 1;
    assert_eq!(q.get("namespace").map(String::as_str), Some("db"));
    assert_eq!(q.get("group").map(String::as_str), Some("orders"));
    let body = |site: &str| json!({"namespace": "db", "group": "orders", "activeSite": site});
    match s.answer.clone() {
        Answer::Site(site) => axum::Json(body(site)).into_response(),
        Answer::NoSite => axum::Json(body("")).into_response(),
        Answer::Status(code) => (
            StatusCode::from_u16(code).unwrap(),
            axum::Json(json!({"error": "scripted"})),
        )
            .into_response(),
    }
}

async fn cutoff(State(s): State<Arc<Mutex<Script>>>) -> Response {
    let s = s.lock().unwrap();
    let mut body = json!({"namespace": "db", "group": "orders", "profile": "nightly"});
    if let Some(t) = &s.cutoff {
        body["cutoffTime"] = json!(t);
    }
    axum::Json(body).into_response()
}

/// Flags for a sidecar of `site` in group db/orders on `db`, listening on a free port, with short timers
/// (interval 1 s, lease 3 s: the clamping floor).
pub fn flags(
    db: &MariaDb,
    site: &str,
    operator: Option<SocketAddr>,
    peers: &[SocketAddr],
) -> Flags {
    Flags {
        mysql_dsn: Some(format!("root:@tcp(127.0.0.1:{})/", db.port())),
        listen_addr: Some("127.0.0.1:0".into()),
        site: Some(site.into()),
        namespace: Some("db".into()),
        group: Some("orders".into()),
        bloodraven_address: operator.map(|a| a.to_string()),
        peer_addresses: Some(
            peers
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(","),
        ),
        lease_timeout: Some("3s".into()),
        peer_check_interval: Some("1s".into()),
        ..Flags::default()
    }
}

pub fn config(flags: &Flags) -> Config {
    Config::resolve(flags).unwrap()
}

/// A server with data (a schema and a row), writable.
pub fn server_with_data(id: u32) -> MariaDb {
    let db = MariaDb::builder().server_id(id).start().unwrap();
    db.sql("CREATE DATABASE d; CREATE TABLE d.t (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(64)); INSERT INTO d.t (v) VALUES ('x')")
        .unwrap();
    db
}

pub fn read_only(db: &MariaDb) -> bool {
    db.sql("SELECT @@global.read_only").unwrap().trim() == "1"
}

/// Polls `f` every 50 ms until it holds or `timeout` passes; returns the time it took.
pub async fn wait_until(timeout: Duration, what: &str, mut f: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    loop {
        if f() {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// GET `http://addr/path`: status and body.
pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let r = reqwest::Client::new()
        .get(format!("http://{addr}{path}"))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// A scripted peer sidecar: `/peer/ping` → `pong`, `/peer/active-site` → 204.
pub async fn peer() -> SocketAddr {
    let app = axum::Router::new()
        .route("/peer/ping", get(|| async { "pong" }))
        .route(
            "/peer/active-site",
            get(|| async { StatusCode::NO_CONTENT }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}
