//! The dashboard: the operator's auxiliary server ([`aux_router`]: `/status`, `/active-site`, `/ws/status`) plus
//! the page (`GET /`, plain HTML and JavaScript compiled into the binary), `GET /api/state` (what the WebSocket's
//! TopologyMessage does not carry: processes, partitions, the write counter, the timeline, the failover history
//! with measured RTO, the archive check) and `POST /api/chaos?action=&site=`.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::http::{Topology, aux_router};
use crate::playground::archive::ArchiveLocation;
use crate::playground::platform::{LocalPlatform, now};
use crate::playground::server::Server;
use crate::playground::workload::Workload;
use crate::playground::{Chaos, Error};
use crate::record::format_rfc3339;

const PAGE: &str = include_str!("dashboard.html");

/// What the dashboard and the chaos actions share with the playground.
#[derive(Clone)]
pub(crate) struct Shared {
    pub(crate) names: Vec<String>,
    pub(crate) servers: Arc<Mutex<Vec<Server>>>,
    pub(crate) partitions: Vec<Arc<watch::Sender<bool>>>,
    pub(crate) platform: LocalPlatform,
    pub(crate) topology: Topology,
    pub(crate) workload: Option<Workload>,
    pub(crate) archive: Arc<Mutex<ArchiveView>>,
    pub(crate) backup: Arc<Mutex<crate::playground::backup::BackupView>>,
    pub(crate) promotion_bound: Duration,
}

/// The latest archive continuity check.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub(crate) struct ArchiveView {
    pub(crate) checked_at: Option<String>,
    pub(crate) continuous: Option<bool>,
    pub(crate) covered: String,
    pub(crate) files: usize,
    pub(crate) detail: String,
}

impl Shared {
    fn servers(&self) -> std::sync::MutexGuard<'_, Vec<Server>> {
        self.servers.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn index(&self, site: &str) -> Result<usize, Error> {
        self.names.iter().position(|n| n == site).ok_or_else(|| {
            Error::Chaos(format!(
                "no site {site:?} (sites: {})",
                self.names.join(", ")
            ))
        })
    }

    /// Runs `action`; returns what was done, for the terminal and the page.
    pub(crate) async fn chaos(&self, action: &Chaos) -> Result<String, Error> {
        let done = match action {
            Chaos::Kill(site) => {
                let i = self.index(site)?;
                self.servers()[i].kill();
                format!("SIGKILL {site}'s mariadbd")
            }
            Chaos::Hang(site) => {
                let i = self.index(site)?;
                self.servers()[i].pause(true)?;
                format!("SIGSTOP {site}'s mariadbd (hung)")
            }
            Chaos::Resume(site) => {
                let i = self.index(site)?;
                self.servers()[i].pause(false)?;
                format!("SIGCONT {site}'s mariadbd")
            }
            Chaos::Restart(site) => {
                let i = self.index(site)?;
                let servers = Arc::clone(&self.servers);
                tokio::task::spawn_blocking(move || {
                    servers.lock().unwrap_or_else(PoisonError::into_inner)[i].restart()
                })
                .await
                .map_err(|e| Error::Chaos(e.to_string()))??;
                format!("restarted {site}'s mariadbd (read-only, as every start)")
            }
            Chaos::Partition(site) => {
                self.partitions[self.index(site)?].send_replace(true);
                format!(
                    "cut {site}'s network (operator and replication; its sidecar and local clients stay)"
                )
            }
            Chaos::Heal(site) => {
                self.partitions[self.index(site)?].send_replace(false);
                format!("healed {site}'s network")
            }
            Chaos::Switchover(site) => {
                self.index(site)?;
                self.platform.state().planned = Some(site.clone());
                format!("requested a planned switchover to {site}")
            }
            Chaos::Reclone(value) => {
                self.index(value.split(':').next().unwrap_or_default())?;
                self.platform.state().reclone = Some(value.clone());
                format!("requested reclone {value:?}")
            }
        };
        self.platform.note("Chaos", "Chaos", &done);
        Ok(done)
    }

    /// `GET /api/state`.
    pub(crate) fn view(&self) -> Value {
        let procs: Vec<(u16, bool, bool)> = self
            .servers()
            .iter_mut()
            .map(|s| (s.port, s.is_running(), s.paused))
            .collect();
        let s = self.platform.state();
        let sites: Vec<Value> = self
            .names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let (port, running, paused) = procs[i];
                json!({
                    "name": name,
                    "port": port,
                    "process": if !running { "killed" } else if paused { "hung" } else { "running" },
                    "partitioned": *self.partitions[i].borrow(),
                })
            })
            .collect();
        let chaos: Vec<(Duration, String)> = s
            .timeline
            .iter()
            .filter(|e| e.kind == "Chaos")
            .map(|e| (e.at_since_epoch, e.message.clone()))
            .collect();
        let failovers: Vec<Value> = s
            .record
            .as_ref()
            .map(|r| {
                r.history
                    .iter()
                    .map(|f| {
                        // RTO: from the latest chaos action before the promotion to the promotion.
                        let cause = chaos.iter().rev().find(|(at, _)| *at <= f.at);
                        json!({
                            "at": format_rfc3339(f.at),
                            "trigger": format!("{:?}", f.trigger),
                            "target": f.target,
                            "oldPrimary": f.old_primary,
                            "rule": f.rule,
                            "promotionGtid": f.promotion_gtid,
                            "writeUnavailabilityMs": f.write_unavailability.map(|d| d.as_millis() as u64),
                            "divergentGtid": f.divergent_gtid,
                            "divergentCount": f.divergent_count,
                            "rtoMs": cause.map(|(at, _)| (f.at - *at).as_millis() as u64),
                            "cause": cause.map(|(_, what)| what.clone()),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        let status = s.status.as_ref();
        let planned = status.and_then(|st| st.planned.as_ref()).map(|p| {
            json!({"target": p.target, "source": p.source, "phase": format!("{:?}", p.phase),
                   "transactionsLost": p.transactions_lost})
        });
        let workload = self
            .workload
            .as_ref()
            .map(|w| serde_json::to_value(&*w.stats()).unwrap_or_default());
        let archive = self
            .archive
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        json!({
            "group": crate::playground::GROUP,
            "now": format_rfc3339(now()),
            "activeSite": status.and_then(|st| st.active_site.clone()),
            "dns": s.dns,
            "reason": status.map(|st| st.reason.to_string()),
            "alert": status.map(|st| st.alert.clone()),
            "sites": sites,
            "workload": workload,
            "timeline": s.timeline.iter().rev().take(60).collect::<Vec<_>>(),
            "failovers": failovers,
            "planned": planned,
            "archive": archive,
            "backup": self.backup.lock().unwrap_or_else(PoisonError::into_inner).clone(),
            "promotionBoundMs": self.promotion_bound.as_millis() as u64,
            "wsClients": self.topology.ws_clients(),
        })
    }
}

/// The dashboard's router.
pub(crate) fn router(shared: Shared) -> Router {
    let api = Router::new()
        .route("/", get(page))
        .route("/api/state", get(state))
        .route("/api/chaos", post(chaos))
        .with_state(shared.clone());
    aux_router(shared.topology.clone()).merge(api)
}

async fn page() -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], PAGE).into_response()
}

async fn state(State(shared): State<Shared>) -> Response {
    axum::Json(shared.view()).into_response()
}

#[derive(Debug, serde::Deserialize)]
struct ChaosQuery {
    action: String,
    site: Option<String>,
}

/// `POST /api/chaos`: only from the page (its `X-Playground` header makes a cross-site request need a CORS
/// preflight, which this server never grants), so another web page cannot break the playground.
async fn chaos(
    State(shared): State<Shared>,
    headers: axum::http::HeaderMap,
    Query(q): Query<ChaosQuery>,
) -> Response {
    if !headers.contains_key("x-playground") {
        return (
            StatusCode::FORBIDDEN,
            axum::Json(json!({ "error": "chaos actions come from the dashboard page" })),
        )
            .into_response();
    }
    let text = format!("{} {}", q.action, q.site.unwrap_or_default());
    let active = shared
        .platform
        .state()
        .status
        .as_ref()
        .and_then(|s| s.active_site.clone());
    let result = match Chaos::parse(&text, active.as_deref()) {
        Ok(action) => shared.chaos(&action).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(done) => axum::Json(json!({ "done": done })).into_response(),
        Err(e) => (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({ "error": e.to_string() })),
        )
            .into_response(),
    }
}

/// Checks the archive's continuity every 15 s with the `bloodraven-binlog` tool (when it is built).
pub(crate) async fn archive_checker(at: ArchiveLocation, view: Arc<Mutex<ArchiveView>>) {
    loop {
        tokio::time::sleep(Duration::from_secs(15)).await;
        let result = check_archive(&at).await;
        *view.lock().unwrap_or_else(PoisonError::into_inner) = result;
    }
}

/// Runs `bloodraven-binlog archive-check --json` on the archive.
pub(crate) async fn check_archive(at: &ArchiveLocation) -> ArchiveView {
    let mut view = ArchiveView {
        checked_at: Some(format_rfc3339(now())),
        ..ArchiveView::default()
    };
    let Some(tool) = find_tool("bloodraven-binlog") else {
        view.detail = "bloodraven-binlog not built (cargo build -p bloodraven-binlog)".into();
        return view;
    };
    let output = tokio::process::Command::new(&tool)
        .arg("archive-check")
        .arg("--store")
        .arg(at.store_url())
        .arg("--prefix")
        .arg(at.binlogs_prefix())
        .arg("--json")
        .envs(at.tool_env())
        .kill_on_drop(true)
        .output()
        .await;
    match output {
        Ok(out) => {
            let text = String::from_utf8_lossy(&out.stdout);
            match serde_json::from_str::<Value>(text.trim()) {
                Ok(v) => {
                    view.continuous = v["continuous"].as_bool();
                    view.covered = v["covered"].as_str().unwrap_or_default().to_owned();
                    view.files = v["files"]
                        .as_u64()
                        .and_then(|n| usize::try_from(n).ok())
                        .unwrap_or(0);
                    view.detail = v.to_string();
                }
                Err(_) => {
                    view.detail = format!(
                        "{}{}",
                        text.trim(),
                        String::from_utf8_lossy(&out.stderr).trim()
                    )
                }
            }
        }
        Err(e) => view.detail = format!("{}: {e}", tool.display()),
    }
    view
}

/// A workspace tool next to this executable (or one directory up), else on `PATH`.
pub(crate) fn find_tool(name: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?;
    [Some(dir.join(name)), dir.parent().map(|p| p.join(name))]
        .into_iter()
        .flatten()
        .chain(crate::playground::server::search(name))
        .find(|p| p.is_file())
}
