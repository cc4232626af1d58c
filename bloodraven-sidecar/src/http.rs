//! The sidecar's HTTP surface on `LISTEN_ADDR` (reference-api.md §13.5): exact bodies and codes of the Go sidecar.
//!
//! | route | answer |
//! |---|---|
//! | `GET /health` | 200 `ok` when the local server accepts a connection within 2 s, else 503 `mysql unreachable` |
//! | `GET /status` | 200 JSON snapshot (`role`, `read_only`, `super_read_only`, `gtid_executed`, ...), 503 `{"error": …}` |
//! | `GET /peer/ping` | 200 `pong` |
//! | `GET /peer/active-site` | 200 `{"activeSite", "observedAt"}` (the cached view), 204 when none |
//! | `GET /archiver/status` | 200 archiver JSON, `{"enabled": false}` when PITR is off |
//! | `GET /metrics` | Prometheus text: `bloodraven_archiver_*` gauges and the sidecar's fence counters |
//!
//! Other methods on these paths answer 405, unknown paths 404. Every routed request is counted in
//! `bloodraven_http_requests_total` and timed in `bloodraven_http_request_duration_seconds` (`server="sidecar"`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bloodraven_operator::fence::ActiveView;
use serde_json::json;
use tokio::sync::watch;

use crate::archiver::ArchiverService;
use crate::client::rfc3339;
use crate::fencing::Fencing;
use crate::metrics::Metrics;
use crate::mysql::Mysql;

/// `/health` connect budget.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);
/// `/status` budget.
const STATUS_TIMEOUT: Duration = Duration::from_secs(5);

/// What the handlers read.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The local server.
    pub mysql: Mysql,
    /// The cached view relayed to peers.
    pub view: watch::Receiver<Option<ActiveView>>,
    /// The archiver, when PITR is on.
    pub archiver: Option<ArchiverService>,
    /// The fencing monitor (for its counters).
    pub fencing: Option<Fencing>,
    /// The Prometheus registry.
    pub metrics: Arc<Metrics>,
}

/// The router with every route of the module docs.
pub fn router(state: AppState) -> Router {
    let state = Arc::new(state);
    Router::new()
        .route("/health", get(health))
        .route("/status", get(status))
        .route("/peer/ping", get(ping))
        .route("/peer/active-site", get(active_site))
        .route("/archiver/status", get(archiver_status))
        .route("/metrics", get(metrics))
        .route_layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

async fn observe(State(s): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let handler = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let method = req.method().as_str().to_owned();
    let start = Instant::now();
    let resp = next.run(req).await;
    s.metrics.observe_http(
        &handler,
        &method,
        resp.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
    resp
}

async fn health(State(s): State<Arc<AppState>>) -> Response {
    match s.mysql.ping(HEALTH_TIMEOUT).await {
        Ok(()) => text(StatusCode::OK, "ok"),
        Err(e) => {
            tracing::debug!(error = %e, "health probe failed");
            text(StatusCode::SERVICE_UNAVAILABLE, "mysql unreachable")
        }
    }
}

async fn status(State(s): State<Arc<AppState>>) -> Response {
    match s.mysql.status(STATUS_TIMEOUT).await {
        Ok(st) => (StatusCode::OK, axum::Json(st)).into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({ "error": e.to_string() })),
        )
            .into_response(),
    }
}

async fn ping() -> Response {
    text(StatusCode::OK, "pong")
}

async fn active_site(State(s): State<Arc<AppState>>) -> Response {
    let view = s.view.borrow().clone();
    match view {
        None => StatusCode::NO_CONTENT.into_response(),
        Some(v) => (
            StatusCode::OK,
            axum::Json(json!({
                "activeSite": v.site.unwrap_or_default(),
                "observedAt": rfc3339(v.observed_at),
            })),
        )
            .into_response(),
    }
}

async fn archiver_status(State(s): State<Arc<AppState>>) -> Response {
    let body = match &s.archiver {
        None => json!({ "enabled": false }),
        Some(a) => a.status_json(),
    };
    (StatusCode::OK, axum::Json(body)).into_response()
}

async fn metrics(State(s): State<Arc<AppState>>) -> Response {
    let status = s.archiver.as_ref().map(ArchiverService::status);
    let fences = s.fencing.as_ref().map(Fencing::stats);
    match s.metrics.render(status.as_ref(), fences.as_ref()) {
        Ok(body) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            body,
        )
            .into_response(),
        Err(e) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("encoding metrics failed: {e}"),
        ),
    }
}

fn text(code: StatusCode, body: &str) -> Response {
    (
        code,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body.to_owned(),
    )
        .into_response()
}
