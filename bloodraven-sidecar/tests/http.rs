//! The HTTP surface of reference-api.md §13.5: exact bodies and codes, against a real MariaDB server.

mod support;

use std::time::Duration;

use bloodraven_sidecar::Sidecar;
use serde_json::Value;
use support::{Answer, Operator, config, flags, http_get, server_with_data};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_answer_with_the_reference_bodies_and_codes() {
    let mut db = server_with_data(7);
    let op = Operator::start(Answer::Site("east")).await;
    let s = Sidecar::start(&config(&flags(&db, "east", Some(op.addr), &[])))
        .await
        .unwrap();
    let addr = s.local_addr();

    assert_eq!(http_get(addr, "/health").await, (200, "ok".into()));
    assert_eq!(http_get(addr, "/peer/ping").await, (200, "pong".into()));

    let (code, body) = http_get(addr, "/status").await;
    assert_eq!(code, 200);
    let st: Value = serde_json::from_str(&body).unwrap();
    let mut keys: Vec<_> = st.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "gtid_executed",
            "read_only",
            "replica_io_running",
            "replica_sql_running",
            "role",
            "seconds_behind_source",
            "server_id",
            "super_read_only",
            "uptime"
        ]
    );
    assert_eq!(st["role"], "primary");
    assert_eq!(st["read_only"], false);
    assert_eq!(st["server_id"], 7);
    assert_eq!(st["replica_io_running"], false);
    assert!(
        st["gtid_executed"].as_str().unwrap().starts_with("0-7-"),
        "{st}"
    );

    // The view from the safety net is relayed with an RFC 3339 time.
    let (code, body) = http_get(addr, "/peer/active-site").await;
    assert_eq!(code, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["activeSite"], "east");
    assert!(chrono::DateTime::parse_from_rfc3339(v["observedAt"].as_str().unwrap()).is_ok());

    assert_eq!(
        http_get(addr, "/archiver/status").await,
        (200, r#"{"enabled":false}"#.into())
    );
    let (code, metrics) = http_get(addr, "/metrics").await;
    assert_eq!(code, 200);
    assert!(
        metrics.contains("bloodraven_sidecar_self_fences"),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            r#"bloodraven_http_requests_total{server="sidecar",handler="/peer/ping",method="GET",status="2xx"} 1"#
        ),
        "{metrics}"
    );

    // Method-qualified routes: other methods → 405; unknown paths → 404.
    let post = reqwest::Client::new()
        .post(format!("http://{addr}/peer/ping"))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status().as_u16(), 405);
    assert_eq!(http_get(addr, "/nope").await.0, 404);

    // MySQL down: 503 with the reference's texts.
    db.kill().unwrap();
    assert_eq!(
        http_get(addr, "/health").await,
        (503, "mysql unreachable".into())
    );
    let (code, body) = http_get(addr, "/status").await;
    assert_eq!(code, 503);
    let e: Value = serde_json::from_str(&body).unwrap();
    assert!(e["error"].as_str().unwrap().contains("mysql status"), "{e}");
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_active_site_is_204_until_a_view_is_cached() {
    let db = server_with_data(1);
    let op = Operator::start(Answer::Status(503)).await;
    let s = Sidecar::start(&config(&flags(&db, "east", Some(op.addr), &[])))
        .await
        .unwrap();
    assert_eq!(http_get(s.local_addr(), "/peer/active-site").await.0, 204);
    // The operator answers "no active site": kept as an observation and relayed with an empty site.
    op.answer(Answer::NoSite);
    let addr = s.local_addr();
    let mut last = (0, String::new());
    let deadline = std::time::Instant::now() + Duration::from_secs(4);
    while std::time::Instant::now() < deadline {
        last = http_get(addr, "/peer/active-site").await;
        if last.0 == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(last.0, 200);
    let v: Value = serde_json::from_str(&last.1).unwrap();
    assert_eq!(v["activeSite"], "");
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_value_is_refused_at_start_with_its_name_and_form() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bloodraven-sidecar"))
        .env_clear()
        .env("MYSQL_USER", "root")
        .env("PEER_CHECK_INTERVAL", "often")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "bloodraven-sidecar: invalid PEER_CHECK_INTERVAL (--peer-check-interval) \"often\": expected a Go \
             duration such as 20s, 1m30s or 500ms"
        ),
        "{err}"
    );
}
