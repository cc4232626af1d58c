//! The operator's HTTP surfaces (reference-api.md §13.1–§13.2), as [`axum`] routers over shared state:
//!
//! | router | reference port | paths |
//! |---|---|---|
//! | [`metrics_router`] | `:8080` | `GET /metrics` (OpenMetrics text, sent with the OpenMetrics content type) |
//! | [`health_router`] | `:8081` | `/healthz` (always `ok`), `/readyz` (`ok` once [`Readiness::set_ready`], else 503) |
//! | [`aux_router`] | `:8082` | `/healthz`, `/readyz`, `/status`, `/active-site`, `/pitr-cutoff`, `/ws/status` |
//!
//! Runners publish every poll into a [`Topology`] ([`Runner::with_topology`](crate::runner::Runner::with_topology));
//! the auxiliary server answers from it: `/active-site` is what every sidecar's startup safety net and lease ask,
//! and every `/ws/status` WebSocket client is sent a TopologyMessage per group after every poll.
//!
//! ```no_run
//! use std::sync::Arc;
//! use bloodraven_operator::http::{Topology, aux_router, metrics_router};
//! use bloodraven_operator::metrics::Exporter;
//!
//! # async fn run() -> std::io::Result<()> {
//! let topology = Topology::new();
//! let aux = tokio::net::TcpListener::bind("0.0.0.0:8082").await?;
//! let metrics = tokio::net::TcpListener::bind("0.0.0.0:8080").await?;
//! tokio::try_join!(
//!     axum::serve(aux, aux_router(topology.clone())).into_future(),
//!     axum::serve(metrics, metrics_router(Arc::new(Exporter::new()))).into_future(),
//! )?;
//! # Ok(())
//! # }
//! ```

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use serde_json::{Map, Value, json};

use crate::engine::{Role, Status};
use crate::metrics::Exporter;
use crate::record::format_rfc3339;

/// The content type of the text [`Exporter::render`] produces (OpenMetrics 1.0, which Prometheus asks for first).
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// `GET /metrics`: the exporter's text with [`OPENMETRICS_CONTENT_TYPE`].
pub fn metrics_router(exporter: Arc<Exporter>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .with_state(exporter)
}

async fn metrics(State(exporter): State<Arc<Exporter>>) -> Response {
    (
        [(header::CONTENT_TYPE, OPENMETRICS_CONTENT_TYPE)],
        exporter.render(),
    )
        .into_response()
}

/// Whether the manager is ready (caches synced; with leader election, leading or standing by).
#[derive(Clone, Debug, Default)]
pub struct Readiness(Arc<AtomicBool>);

impl Readiness {
    /// Not ready yet.
    pub fn new() -> Readiness {
        Readiness::default()
    }

    /// Marks the manager ready (or not).
    pub fn set_ready(&self, ready: bool) {
        self.0.store(ready, Ordering::Release);
    }

    /// Whether it is ready.
    pub fn is_ready(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// `/healthz` (always 200 `ok`: the process serves) and `/readyz` (200 `ok` when ready, else 503 `not ready`).
pub fn health_router(readiness: Readiness) -> Router {
    Router::new()
        .route("/healthz", any(ok))
        .route("/readyz", any(ready))
        .with_state(readiness)
}

async fn ok() -> &'static str {
    "ok"
}

async fn ready(State(readiness): State<Readiness>) -> Response {
    if readiness.is_ready() {
        "ok".into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready").into_response()
    }
}

/// The latest poll of every group this process runs, keyed by namespace and group.
#[derive(Clone, Debug)]
pub struct Topology {
    groups: Arc<RwLock<BTreeMap<(String, String), GroupView>>>,
    /// Bumped on every publish: wakes the `/ws/status` clients.
    polls: tokio::sync::watch::Sender<u64>,
    /// Open `/ws/status` connections.
    ws_clients: Arc<AtomicUsize>,
}

impl Default for Topology {
    fn default() -> Topology {
        Topology {
            groups: Arc::default(),
            polls: tokio::sync::watch::Sender::new(0),
            ws_clients: Arc::default(),
        }
    }
}

/// One group's latest poll, as the auxiliary server serves it.
#[derive(Clone, Debug)]
pub struct GroupView {
    /// Each site's role, in the status's site order.
    pub roles: Vec<Role>,
    /// The status the poll decided.
    pub status: Status,
    /// When the poll ran (since the epoch): `pollTime`, and the `observedAt` of its active site.
    pub poll_time: Duration,
}

impl Topology {
    /// No groups yet.
    pub fn new() -> Topology {
        Topology::default()
    }

    /// Records a poll of `group` in `namespace`.
    pub fn publish(&self, namespace: &str, group: &str, view: GroupView) {
        self.groups
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert((namespace.to_owned(), group.to_owned()), view);
        self.polls.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// The number of open `/ws/status` connections (`bloodraven_websocket_connected_clients`).
    pub fn ws_clients(&self) -> usize {
        self.ws_clients.load(Ordering::Acquire)
    }

    /// Forgets a group (deleted, or no longer run by this process).
    pub fn remove(&self, namespace: &str, group: &str) {
        self.groups
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&(namespace.to_owned(), group.to_owned()));
    }

    fn snapshot(&self) -> BTreeMap<(String, String), GroupView> {
        self.groups
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// Who may open `/ws/status` (reference-api.md §13.2): `BLOODRAVEN_WS_MAX_CLIENTS` and
/// `BLOODRAVEN_WS_ALLOWED_ORIGINS`.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct WsPolicy {
    /// More connections than this are refused with 429 (default 100).
    pub max_clients: usize,
    /// Allowed `Origin` headers; `None` allows every origin (and none), otherwise a missing Origin is refused.
    pub allowed_origins: Option<Vec<String>>,
}

impl Default for WsPolicy {
    fn default() -> WsPolicy {
        WsPolicy {
            max_clients: 100,
            allowed_origins: None,
        }
    }
}

impl WsPolicy {
    /// The policy of `BLOODRAVEN_WS_MAX_CLIENTS` and `BLOODRAVEN_WS_ALLOWED_ORIGINS` (a comma list; unset or `*`
    /// allows all); an unparsable maximum keeps the default.
    pub fn from_env() -> WsPolicy {
        let mut policy = WsPolicy::default();
        if let Some(n) = std::env::var("BLOODRAVEN_WS_MAX_CLIENTS")
            .ok()
            .and_then(|v| v.trim().parse().ok())
        {
            policy.max_clients = n;
        }
        if let Ok(origins) = std::env::var("BLOODRAVEN_WS_ALLOWED_ORIGINS") {
            let list: Vec<String> = origins
                .split(',')
                .map(|o| o.trim().to_owned())
                .filter(|o| !o.is_empty())
                .collect();
            if !list.is_empty() && !list.iter().any(|o| o == "*") {
                policy.allowed_origins = Some(list);
            }
        }
        policy
    }

    fn allows(&self, origin: Option<&str>) -> bool {
        match (&self.allowed_origins, origin) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(list), Some(o)) => list.iter().any(|a| a == o),
        }
    }
}

/// The auxiliary server: `/healthz`, `/readyz`, `/status`, `/active-site`, `/pitr-cutoff` and `/ws/status`, with the
/// reference's status codes and JSON bodies (errors are `{"error": "<text>"}`); anything else is 404.
///
/// `/pitr-cutoff` needs the MysqlBackups of a Kubernetes client; without one it answers 503 as the reference does.
/// `/ws/status` admits every origin and up to 100 clients ([`aux_router_with`] takes another [`WsPolicy`]).
pub fn aux_router(topology: Topology) -> Router {
    aux_router_with(topology, WsPolicy::default())
}

/// [`aux_router`] with the `/ws/status` admission policy `ws`.
pub fn aux_router_with(topology: Topology, ws: WsPolicy) -> Router {
    let policy = Arc::new(ws);
    Router::new()
        .route("/healthz", any(ok))
        .route("/readyz", any(ok))
        .route("/status", any(status))
        .route("/active-site", any(active_site))
        .route("/pitr-cutoff", any(pitr_cutoff))
        .route(
            "/ws/status",
            get(
                move |state: State<Topology>, headers: HeaderMap, upgrade: WebSocketUpgrade| {
                    ws_status(state, headers, upgrade, policy)
                },
            ),
        )
        .with_state(topology)
}

/// `GET /ws/status`: checks the origin and the client count, then sends a TopologyMessage per group right away
/// and again after every poll, until the client goes away.
async fn ws_status(
    State(topology): State<Topology>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
    policy: Arc<WsPolicy>,
) -> Response {
    let origin = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok());
    if !policy.allows(origin) {
        return error(StatusCode::FORBIDDEN, "origin not allowed");
    }
    let clients = Arc::clone(&topology.ws_clients);
    if clients
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
            (n < policy.max_clients).then_some(n + 1)
        })
        .is_err()
    {
        return error(StatusCode::TOO_MANY_REQUESTS, "too many websocket clients");
    }
    let guard = ClientGuard(clients);
    upgrade.on_upgrade(move |socket| async move {
        let _guard = guard;
        push_topology(topology, socket).await;
    })
}

/// Decrements the client count when a `/ws/status` connection ends (or never upgrades).
struct ClientGuard(Arc<AtomicUsize>);

impl Drop for ClientGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

async fn push_topology(topology: Topology, mut socket: WebSocket) {
    let mut polls = topology.polls.subscribe();
    loop {
        for ((namespace, group), view) in topology.snapshot() {
            let text = topology_message(&namespace, &group, &view).to_string();
            if socket.send(Message::Text(text.into())).await.is_err() {
                return;
            }
        }
        tokio::select! {
            changed = polls.changed() => if changed.is_err() { return },
            incoming = socket.recv() => match incoming {
                // Pings are answered by axum; anything else from the client is ignored.
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                Some(Ok(_)) => {
                    polls.mark_changed();
                    continue;
                }
            },
        }
    }
}

/// TopologyMessage (§13.2): optional keys are left out when empty.
pub fn topology_message(namespace: &str, group: &str, view: &GroupView) -> Value {
    let s = &view.status;
    let sites: Vec<Value> = s
        .sites
        .iter()
        .zip(&view.roles)
        .map(|(site, role)| {
            let mut entry = Map::new();
            entry.insert("name".into(), json!(site.name));
            entry.insert("role".into(), json!(role.to_string()));
            entry.insert("state".into(), json!(site.state.to_string()));
            if let Some(seen) = site.last_seen {
                entry.insert("lastSeen".into(), json!(format_rfc3339(seen)));
            }
            entry.insert("replicating".into(), json!(site.replicating));
            if let Some(lag) = site.seconds_behind {
                entry.insert("secondsBehindSource".into(), json!(lag));
            }
            for (key, value) in [
                ("gtidExecuted", &site.gtid_executed),
                ("recoveryState", &site.recovery_state),
                ("divergentGtid", &site.divergent_gtid),
            ] {
                if !value.is_empty() {
                    entry.insert(key.into(), json!(value));
                }
            }
            if site.divergent_count > 0 {
                entry.insert(
                    "divergentTransactionCount".into(),
                    json!(site.divergent_count),
                );
            }
            Value::Object(entry)
        })
        .collect();
    let mut body = Map::new();
    body.insert("namespace".into(), json!(namespace));
    body.insert("group".into(), json!(group));
    body.insert(
        "activeSite".into(),
        json!(s.active_site.clone().unwrap_or_default()),
    );
    body.insert("sites".into(), Value::Array(sites));
    if let Some(at) = s.last_failover {
        body.insert("lastFailover".into(), json!(format_rfc3339(at)));
    }
    if let Some(target) = s.last_failover_target.as_deref().filter(|t| !t.is_empty()) {
        body.insert("lastFailoverTarget".into(), json!(target));
    }
    if !s.alert.is_empty() {
        body.insert("alert".into(), json!(s.alert));
    }
    body.insert("pollTime".into(), json!(format_rfc3339(view.poll_time)));
    if let Some(gtid) = s.promotion_gtid.as_deref().filter(|g| !g.is_empty()) {
        body.insert("promotionGtidExecuted".into(), json!(gtid));
    }
    Value::Object(body)
}

fn error(code: StatusCode, text: &str) -> Response {
    (code, axum::Json(json!({ "error": text }))).into_response()
}

async fn status(State(topology): State<Topology>) -> Response {
    let groups = topology.snapshot();
    if groups.is_empty() {
        return axum::Json(json!({ "status": "no active failover groups" })).into_response();
    }
    let body: Map<String, Value> = groups
        .iter()
        .map(|((namespace, group), view)| (format!("{namespace}/{group}"), status_response(view)))
        .collect();
    axum::Json(body).into_response()
}

/// StatusResponse (§13.2): optional keys are left out when empty.
fn status_response(view: &GroupView) -> Value {
    let sites: Vec<Value> = view
        .status
        .sites
        .iter()
        .zip(&view.roles)
        .map(|(s, role)| {
            let mut entry = Map::new();
            entry.insert("name".into(), json!(s.name));
            entry.insert("role".into(), json!(role.to_string()));
            entry.insert("state".into(), json!(s.state.to_string()));
            let mut text = |key: &str, value: &str| {
                if !value.is_empty() {
                    entry.insert(key.into(), json!(value));
                }
            };
            text("sourceHost", &s.source_host);
            text("sourceConvergenceState", &s.source_convergence_state);
            text("sourceConvergenceReason", &s.source_convergence_reason);
            text("recoveryState", &s.recovery_state);
            text("divergentGtid", &s.divergent_gtid);
            if !s.source_host.is_empty() {
                entry.insert("servingHealthy".into(), json!(s.replicating));
            }
            if s.divergent_count > 0 {
                entry.insert("divergentTransactionCount".into(), json!(s.divergent_count));
            }
            Value::Object(entry)
        })
        .collect();
    let mut body = Map::new();
    body.insert(
        "activeSite".into(),
        json!(view.status.active_site.clone().unwrap_or_default()),
    );
    body.insert("sites".into(), Value::Array(sites));
    body.insert("pollTime".into(), json!(format_rfc3339(view.poll_time)));
    if let Some(gtid) = view
        .status
        .promotion_gtid
        .as_deref()
        .filter(|g| !g.is_empty())
    {
        body.insert("promotionGtidExecuted".into(), json!(gtid));
    }
    Value::Object(body)
}

#[derive(Debug, serde::Deserialize)]
struct GroupQuery {
    namespace: Option<String>,
    group: Option<String>,
    profile: Option<String>,
}

/// `/active-site?namespace=&group=`: `{"namespace","group","activeSite"}` plus `observedAt` (RFC 3339, an
/// addition the Go sidecar ignores: when the operator observed it, so sidecars relaying the view can order it).
async fn active_site(State(topology): State<Topology>, query: Query<GroupQuery>) -> Response {
    let (Some(namespace), Some(group)) = (
        query.namespace.as_deref().filter(|v| !v.is_empty()),
        query.group.as_deref().filter(|v| !v.is_empty()),
    ) else {
        return error(
            StatusCode::BAD_REQUEST,
            "namespace and group query parameters are required",
        );
    };
    let groups = topology.snapshot();
    if groups.is_empty() {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "no active topology managers",
        );
    }
    let Some(view) = groups.get(&(namespace.to_owned(), group.to_owned())) else {
        return error(StatusCode::NOT_FOUND, "failover group not found");
    };
    axum::Json(json!({
        "namespace": namespace,
        "group": group,
        "activeSite": view.status.active_site.clone().unwrap_or_default(),
        "observedAt": format_rfc3339(view.poll_time),
    }))
    .into_response()
}

/// `/pitr-cutoff?namespace=&group=&profile=`: 400 without all three; 503 until the MysqlBackup controller has
/// published [`PitrCutoffs`]; else 200 with `cutoffTime` (the earliest `completionTime` of the Succeeded backups of
/// that group and profile) when there is one.
async fn pitr_cutoff(query: Query<GroupQuery>) -> Response {
    let complete = [&query.namespace, &query.group, &query.profile]
        .iter()
        .all(|v| v.as_deref().is_some_and(|v| !v.is_empty()));
    if !complete {
        return error(
            StatusCode::BAD_REQUEST,
            "namespace, group and profile query parameters are required",
        );
    }
    let (namespace, group, profile) = (
        query.namespace.clone().unwrap_or_default(),
        query.group.clone().unwrap_or_default(),
        query.profile.clone().unwrap_or_default(),
    );
    match PitrCutoffs::global().lookup(&namespace, &group, &profile) {
        None => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "no Kubernetes client to resolve the PITR cutoff",
        ),
        Some(cutoff) => {
            let mut body = json!({ "namespace": namespace, "group": group, "profile": profile });
            if let Some(t) = cutoff {
                body["cutoffTime"] = json!(t);
            }
            axum::Json(body).into_response()
        }
    }
}

/// Per namespace, the earliest `completionTime` (RFC 3339) of the Succeeded MysqlBackups of each group and profile,
/// which the MysqlBackup controller publishes and `/pitr-cutoff` answers from (process-wide: one manager per
/// process).
#[derive(Debug, Default)]
pub struct PitrCutoffs(RwLock<Option<BTreeMap<String, Cutoffs>>>);

/// One namespace's cutoffs: (group, profile) → RFC 3339 time.
type Cutoffs = BTreeMap<(String, String), String>;

impl PitrCutoffs {
    /// The process's cutoffs.
    pub fn global() -> &'static PitrCutoffs {
        static CUTOFFS: std::sync::OnceLock<PitrCutoffs> = std::sync::OnceLock::new();
        CUTOFFS.get_or_init(PitrCutoffs::default)
    }

    /// Replaces the cutoffs of `namespace` ((group, profile) → earliest completion time).
    pub fn publish(&self, namespace: &str, cutoffs: BTreeMap<(String, String), String>) {
        self.0
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .get_or_insert_with(BTreeMap::new)
            .insert(namespace.to_owned(), cutoffs);
    }

    /// `None` while nothing was published; else the cutoff of the group and profile, if any.
    pub fn lookup(&self, namespace: &str, group: &str, profile: &str) -> Option<Option<String>> {
        let all = self.0.read().unwrap_or_else(PoisonError::into_inner);
        let all = all.as_ref()?;
        Some(
            all.get(namespace)
                .and_then(|m| m.get(&(group.to_owned(), profile.to_owned())))
                .cloned(),
        )
    }
}
