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

/// `@@global.read_only`. A fence kills every client session, this probe's own included ("Lost connection", 2013):
/// such a probe is asked again.
pub fn read_only(db: &MariaDb) -> bool {
    let mut attempts = 0;
    loop {
        match db.sql("SELECT @@global.read_only") {
            Ok(value) => return value.trim() == "1",
            Err(e) if attempts < 5 && e.to_string().contains("ERROR 2013") => attempts += 1,
            Err(e) => panic!("read_only on port {}: {e}", db.port()),
        }
    }
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

/// Where a test archive lives.
pub enum Store<'a> {
    Dir(&'a std::path::Path),
    S3 {
        endpoint: String,
        s3: &'a bloodraven_test_support::s3::S3Server,
        creds: &'a std::path::Path,
    },
}

/// Adds PITR flags archiving `binlog_dir` into `store` under prefix `orders/binlogs`.
pub fn with_pitr(
    mut f: Flags,
    binlog_dir: &std::path::Path,
    store: &Store<'_>,
    poll: &str,
) -> Flags {
    f.pitr_enabled = Some("1".into());
    f.pitr_binlog_dir = Some(binlog_dir.to_owned());
    f.pitr_poll_interval = Some(poll.into());
    f.pitr_manifest_prefix = Some("orders/binlogs".into());
    f.pitr_request_timeout = Some("2s".into());
    match store {
        Store::Dir(d) => {
            f.pitr_storage_type = Some("PVC".into());
            f.pitr_pvc_mount_path = Some(d.to_path_buf());
        }
        Store::S3 {
            endpoint,
            s3,
            creds,
        } => {
            std::fs::write(creds.join("AWS_ACCESS_KEY_ID"), s3.access_key()).unwrap();
            std::fs::write(creds.join("AWS_SECRET_ACCESS_KEY"), s3.secret_key()).unwrap();
            f.pitr_storage_type = Some("S3".into());
            f.pitr_s3_bucket = Some(s3.bucket().into());
            f.pitr_s3_region = Some(s3.region().into());
            f.pitr_s3_endpoint_url = Some(endpoint.clone());
            f.pitr_aws_creds_dir = Some(creds.to_path_buf());
        }
    }
    f
}

/// Sealed binlog names of a directory's index (every entry but the last).
pub fn sealed(dir: &std::path::Path) -> Vec<String> {
    let index = std::fs::read_to_string(dir.join("mysql-bin.index")).unwrap();
    let mut names: Vec<String> = index
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            std::path::Path::new(l.trim())
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.pop();
    names
}

/// The archive store of a configuration (the sidecar's own builder) and the site's manifest.
pub async fn manifest(cfg: &Config, site: &str) -> bloodraven_binlog::manifest::Manifest {
    let store = bloodraven_sidecar::archiver::build_store(cfg.pitr.as_ref().unwrap()).unwrap();
    store
        .load_manifest(&bloodraven_binlog::manifest::SiteName::parse(site).unwrap())
        .await
        .unwrap()
}

/// Checks that `m` lists exactly `names`, once each, with the local files' sizes and SHA-256, that every
/// object is complete, and that the site's chain and history are continuous.
pub async fn verify_archive(
    cfg: &Config,
    m: &bloodraven_binlog::manifest::Manifest,
    dir: &std::path::Path,
    names: &[String],
) {
    use sha2::Digest;
    let listed: Vec<&str> = m.files.iter().map(|e| e.name.as_str()).collect();
    let mut want: Vec<&str> = names.iter().map(String::as_str).collect();
    want.sort();
    assert_eq!(listed, want, "manifest names");
    for e in &m.files {
        let bytes = std::fs::read(dir.join(&e.name)).unwrap();
        assert_eq!(e.size, bytes.len() as u64, "{}", e.name);
        let sha = sha2::Sha256::digest(&bytes);
        let hex: String = sha.iter().map(|b| format!("{b:02x}")).collect();
        if e.sha256.as_deref() != Some(hex.as_str()) {
            let store =
                bloodraven_sidecar::archiver::build_store(cfg.pitr.as_ref().unwrap()).unwrap();
            let obj = object_store::ObjectStoreExt::get(
                store.object_store().as_ref(),
                &object_store::path::Path::from(e.remote_path.as_str()),
            )
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
            let diff: Vec<_> = obj
                .iter()
                .zip(&bytes)
                .enumerate()
                .filter(|(_, (a, b))| a != b)
                .map(|(i, (a, b))| (i, *a, *b))
                .take(10)
                .collect();
            eprintln!(
                "DIFF {} len obj {} local {}: {diff:?}",
                e.name,
                obj.len(),
                bytes.len()
            );
        }
        assert_eq!(e.sha256.as_deref(), Some(hex.as_str()), "{}", e.name);
        let summary = bloodraven_binlog::reader::summarize_file(&dir.join(&e.name)).unwrap();
        assert_eq!(
            e.mariadb_gtid_list.as_deref(),
            Some(
                summary
                    .mariadb_gtid_list
                    .clone()
                    .unwrap_or_default()
                    .to_string()
                    .as_str()
            ),
            "{}",
            e.name
        );
        assert_eq!(
            e.mariadb_end_gtid_list,
            summary.mariadb_end_gtid_list().map(|l| l.to_string()),
            "{}",
            e.name
        );
    }
    // Objects decrypt/verify through the library's download check: plan and fetch everything.
    let store = bloodraven_sidecar::archiver::build_store(cfg.pitr.as_ref().unwrap()).unwrap();
    let report = bloodraven_binlog::continuity::check(
        std::slice::from_ref(m),
        &bloodraven_binlog::continuity::History::new(),
    )
    .unwrap();
    assert!(report.is_continuous(), "{report:?}");
    let plan = bloodraven_binlog::pitr::plan(
        std::slice::from_ref(m),
        &bloodraven_binlog::continuity::History::new(),
        &bloodraven_binlog::pitr::Target::Latest,
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    bloodraven_binlog::pitr::download(&store, &plan, out.path())
        .await
        .unwrap();
}

/// Waits until the site's manifest lists `n` files.
pub async fn wait_for_manifest(
    cfg: &Config,
    site: &str,
    n: usize,
    timeout: Duration,
) -> bloodraven_binlog::manifest::Manifest {
    let start = Instant::now();
    loop {
        let m = manifest(cfg, site).await;
        if m.files.len() >= n {
            return m;
        }
        assert!(
            start.elapsed() < timeout,
            "manifest has {} of {n} files after {timeout:?}",
            m.files.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Keeps inserting rows until the returned sender is dropped or set.
pub fn write_load(db: &MariaDb) -> tokio::sync::watch::Sender<bool> {
    use mysql_async::prelude::Queryable;
    let (tx, mut rx) = tokio::sync::watch::channel(false);
    let port = db.port();
    tokio::spawn(async move {
        let mut c = mysql_async::Conn::new(
            mysql_async::OptsBuilder::default()
                .ip_or_hostname("127.0.0.1")
                .tcp_port(port)
                .user(Some("root"))
                .prefer_socket(false),
        )
        .await
        .unwrap();
        while !*rx.borrow_and_update() {
            if c.query_drop("INSERT INTO d.t (v) VALUES (REPEAT('w', 60))")
                .await
                .is_err()
            {
                break;
            }
        }
    });
    tx
}
