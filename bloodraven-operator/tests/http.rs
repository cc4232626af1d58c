//! The operator's HTTP surfaces on a real socket: the metrics content type a Prometheus scrape negotiates, the
//! health probes and the auxiliary server's codes and bodies (reference-api.md §13.2).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use bloodraven_operator::engine::{Config, Engine, Role, SiteConfig, Taint};
use bloodraven_operator::http::{
    GroupView, OPENMETRICS_CONTENT_TYPE, Readiness, Topology, aux_router, health_router,
    metrics_router,
};
use bloodraven_operator::metrics::Exporter;
use bloodraven_operator::record::Record;
use bloodraven_operator::site::{Flavor, GtidState, Probe};
use serde_json::{Value, json};

/// What Prometheus 2.x/3.x sends when it scrapes.
const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

/// Serves `router` on a loopback port; returns its base URL.
async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

async fn get(url: &str) -> (u16, String, String) {
    let response = reqwest::get(url).await.unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, content_type, response.text().await.unwrap())
}

#[tokio::test]
async fn metrics_are_served_with_the_openmetrics_content_type_a_prometheus_scrape_negotiates() {
    let exporter = Arc::new(Exporter::new());
    exporter.taint("iad", Taint::Apply);
    let base = serve(metrics_router(Arc::clone(&exporter))).await;
    let response = reqwest::Client::new()
        .get(format!("{base}/metrics"))
        .header("accept", PROMETHEUS_ACCEPT)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(content_type, OPENMETRICS_CONTENT_TYPE);
    let body = response.text().await.unwrap();
    // What the body is must match what the header says: OpenMetrics ends with `# EOF` and names counter
    // families without `_total` in `# TYPE`.
    assert!(body.ends_with("# EOF\n"), "{body}");
    assert!(
        body.contains("# TYPE bloodraven_taint_operations counter\n"),
        "{body}"
    );
    assert!(
        body.contains("bloodraven_taint_operations_total{site=\"iad\",action=\"apply\"} 1\n"),
        "{body}"
    );
}

#[tokio::test]
async fn health_probes_follow_readiness() {
    let readiness = Readiness::new();
    let base = serve(health_router(readiness.clone())).await;
    assert_eq!(get(&format!("{base}/healthz")).await.0, 200);
    let (code, _, body) = get(&format!("{base}/readyz")).await;
    assert_eq!((code, body.as_str()), (503, "not ready"));
    readiness.set_ready(true);
    let (code, _, body) = get(&format!("{base}/readyz")).await;
    assert_eq!((code, body.as_str()), (200, "ok"));
}

/// A group whose engine has seen iad writable and pdx replicating from it.
fn healthy_view() -> GroupView {
    let config = Config::new(
        "orders",
        vec![
            SiteConfig::new("iad", Role::PrimaryCandidate, "iad.db"),
            SiteConfig::new("pdx", Role::ReadOnly, "pdx.db"),
        ],
    );
    let mut engine = Engine::new(config.clone(), Record::default());
    let set = "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-10";
    let probe = |read_only: bool| {
        Some(Probe {
            read_only,
            super_read_only: Some(read_only),
            server_id: String::new(),
            version: "8.4.3".into(),
            flavor: Flavor::Mysql,
            executed: GtidState::Mysql(set.parse().unwrap()),
            replica: None,
        })
    };
    let mut decision = None;
    for t in [0, 2] {
        decision = Some(engine.step(
            Duration::from_secs(t),
            vec![probe(false), probe(true)],
            vec![],
        ));
    }
    GroupView {
        roles: config.sites.iter().map(|s| s.role).collect(),
        status: decision.unwrap().status,
        poll_time: Duration::from_secs(1_800_000_000),
    }
}

#[tokio::test]
async fn the_auxiliary_server_answers_like_the_reference() {
    let topology = Topology::new();
    let base = serve(aux_router(topology.clone())).await;
    let json = |body: &str| serde_json::from_str::<Value>(body).unwrap();

    // No runner has published yet.
    let (code, content_type, body) =
        get(&format!("{base}/active-site?namespace=shop&group=orders")).await;
    assert_eq!(code, 503);
    assert_eq!(content_type, "application/json");
    assert_eq!(json(&body), json!({"error": "no active topology managers"}));
    let (_, _, body) = get(&format!("{base}/status")).await;
    assert_eq!(json(&body), json!({"status": "no active failover groups"}));

    topology.publish("shop", "orders", healthy_view());
    let (code, _, body) = get(&format!("{base}/active-site?namespace=shop&group=orders")).await;
    assert_eq!(code, 200);
    assert_eq!(
        json(&body),
        json!({"namespace": "shop", "group": "orders", "activeSite": "iad", "observedAt": "2027-01-15T08:00:00Z"})
    );
    let (code, _, body) = get(&format!("{base}/active-site?namespace=shop&group=carts")).await;
    assert_eq!(
        (code, json(&body)),
        (404, json!({"error": "failover group not found"}))
    );
    for missing in [
        "/active-site",
        "/active-site?namespace=shop",
        "/active-site?group=orders&namespace=",
    ] {
        let (code, _, body) = get(&format!("{base}{missing}")).await;
        assert_eq!(code, 400, "{missing}");
        assert!(
            json(&body)["error"].as_str().unwrap().contains("required"),
            "{body}"
        );
    }

    let (code, _, body) = get(&format!("{base}/status")).await;
    assert_eq!(code, 200);
    assert_eq!(
        json(&body),
        json!({"shop/orders": {
            "activeSite": "iad",
            "pollTime": "2027-01-15T08:00:00Z",
            "sites": [
                {"name": "iad", "role": "primary-candidate", "state": "writable"},
                {"name": "pdx", "role": "read-only", "state": "read-only"},
            ],
        }})
    );

    let (code, _, _) = get(&format!("{base}/pitr-cutoff?namespace=shop&group=orders")).await;
    assert_eq!(code, 400);
    let (code, _, _) = get(&format!(
        "{base}/pitr-cutoff?namespace=shop&group=orders&profile=nightly"
    ))
    .await;
    assert_eq!(code, 503);
    assert_eq!(get(&format!("{base}/healthz")).await.0, 200);
    assert_eq!(get(&format!("{base}/nothing-here")).await.0, 404);

    topology.remove("shop", "orders");
    assert_eq!(
        get(&format!("{base}/active-site?namespace=shop&group=orders"))
            .await
            .0,
        503
    );
}
