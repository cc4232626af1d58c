//! Self-fencing against real MariaDB servers, a scripted operator and fault-injecting proxies between components
//! (lease 3 s, interval 1 s: the clamping floor).

mod support;

use std::time::Duration;

use bloodraven_sidecar::Sidecar;
use bloodraven_sidecar::fencing::SafetyNet;
use bloodraven_test_support::mariadb::MariaDb;
use bloodraven_test_support::proxy::{Fault, Proxy};
use mysql_async::prelude::Queryable;
use support::{Answer, Operator, config, flags, peer, read_only, server_with_data, wait_until};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_safety_net_fences_first_and_unfences_only_when_the_operator_names_this_site() {
    let db = server_with_data(1);
    let op = Operator::start(Answer::Site("west")).await;
    let cfg = config(&flags(&db, "east", Some(op.addr), &[]));

    // Another site is active: fenced, and stays fenced.
    let s = Sidecar::start(&cfg).await.unwrap();
    assert_eq!(s.safety_net(), &SafetyNet::StayedFenced);
    assert!(read_only(&db));
    s.shutdown().await;

    // The operator cannot answer (503, no leader): stays fenced.
    db.sql("SET GLOBAL read_only = OFF").unwrap();
    op.answer(Answer::Status(503));
    let s = Sidecar::start(&cfg).await.unwrap();
    assert_eq!(s.safety_net(), &SafetyNet::StayedFenced);
    assert!(read_only(&db));
    s.shutdown().await;

    // No active site: stays fenced.
    op.answer(Answer::NoSite);
    let s = Sidecar::start(&cfg).await.unwrap();
    assert_eq!(s.safety_net(), &SafetyNet::StayedFenced);
    s.shutdown().await;

    // This site is active: unfenced.
    op.answer(Answer::Site("east"));
    let s = Sidecar::start(&cfg).await.unwrap();
    assert_eq!(s.safety_net(), &SafetyNet::Unfenced);
    assert!(!read_only(&db));
    s.shutdown().await;

    // The operator is unreachable: fenced first, stays fenced.
    let proxy = Proxy::start(op.addr).unwrap();
    proxy.set(Fault::Refuse);
    let s = Sidecar::start(&config(&flags(&db, "east", Some(proxy.addr()), &[])))
        .await
        .unwrap();
    assert_eq!(s.safety_net(), &SafetyNet::StayedFenced);
    assert!(read_only(&db));
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_safety_net_never_unfences_an_empty_server() {
    let db = MariaDb::builder().start().unwrap();
    let op = Operator::start(Answer::Site("east")).await;
    let s = Sidecar::start(&config(&flags(&db, "east", Some(op.addr), &[])))
        .await
        .unwrap();
    assert_eq!(s.safety_net(), &SafetyNet::StayedFenced);
    assert!(read_only(&db));
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lease_expiry_fences_then_only_the_operator_unfences_and_the_lease_rearms() {
    let db = server_with_data(1);
    let op = Operator::start(Answer::Site("east")).await;
    let op_proxy = Proxy::start(op.addr).unwrap();
    let peer_proxy = Proxy::start(peer().await).unwrap();
    let s = Sidecar::start(&config(&flags(
        &db,
        "east",
        Some(op_proxy.addr()),
        &[peer_proxy.addr()],
    )))
    .await
    .unwrap();
    assert_eq!(s.safety_net(), &SafetyNet::Unfenced);

    // An application session that the fence must evict.
    let mut app = mysql_async::Conn::new(
        mysql_async::OptsBuilder::default()
            .ip_or_hostname("127.0.0.1")
            .tcp_port(db.port())
            .user(Some("root"))
            .prefer_socket(false),
    )
    .await
    .unwrap();
    app.query_drop("INSERT INTO d.t (v) VALUES ('before')")
        .await
        .unwrap();

    // Holds while everything answers.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(!read_only(&db));

    // Operator and the peer go dark (one blackholed, one refusing): fenced after the 3 s lease, well within bound.
    op_proxy.set(Fault::Blackhole);
    peer_proxy.set(Fault::Refuse);
    let took = wait_until(Duration::from_secs(8), "the lease-expiry fence", || {
        read_only(&db)
    })
    .await;
    assert!(took >= Duration::from_secs(2), "fenced too early: {took:?}");
    let stats = s.fencing().stats();
    assert_eq!(stats.fences, 1);
    assert_eq!(
        stats.last_reason.as_deref(),
        Some("Bloodraven and every peer unreachable beyond lease timeout")
    );
    // The bound the fencing promises: within two checks (1 s apart) of the lease being lost, plus a second for the
    // fence statement itself (a loaded machine can miss one tick).
    assert!(
        stats.last_lease_latency.unwrap() < Duration::from_secs(3),
        "{stats:?}"
    );
    // The fence sets read_only first and then kills the sessions: the session is gone within a second of it.
    let mut survived = true;
    for _ in 0..20 {
        if app.query_drop("SELECT 1").await.is_err() {
            survived = false;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!survived, "the application session survived the fence");

    // The operator is back and names this site: the sidecar does not unfence by itself.
    op_proxy.set(Fault::Forward);
    peer_proxy.set(Fault::Forward);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(read_only(&db));

    // The operator unfences (as a promotion or re-assert would): the lease rearms and holds.
    db.sql("SET GLOBAL read_only = OFF").unwrap();
    wait_until(Duration::from_secs(4), "the rearm", || {
        s.fencing().stats().rearms == 1
    })
    .await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(!read_only(&db));
    assert_eq!(s.fencing().stats().fences, 1);

    // Armed again: the operator names another site → fenced at once (topology mismatch ignores the lease).
    op.answer(Answer::Site("west"));
    wait_until(
        Duration::from_secs(4),
        "the topology-mismatch fence",
        || read_only(&db),
    )
    .await;
    let stats = s.fencing().stats();
    assert_eq!(stats.fences, 2);
    assert_eq!(
        stats.last_reason.as_deref(),
        Some("topology mismatch: the active site is west")
    );
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_between_sidecars_only_fences_nothing_while_the_operator_answers() {
    // east: writable primary; west: its replica. Each sidecar reaches the other through a proxy.
    let east = server_with_data(1);
    let west = MariaDb::builder().server_id(2).start().unwrap();
    west.sql("SET GLOBAL read_only = ON").unwrap();
    west.replicate_from(&east).unwrap();
    let pos = east.sql("SELECT @@gtid_binlog_pos").unwrap();
    west.wait_for(
        "SELECT @@gtid_slave_pos",
        pos.trim(),
        Duration::from_secs(10),
    )
    .unwrap();
    let op = Operator::start(Answer::Site("east")).await;

    // The sidecars reach each other only through the proxies (retargeted once both listen).
    let to_west = Proxy::start("127.0.0.1:9".parse().unwrap()).unwrap();
    let to_east = Proxy::start("127.0.0.1:9".parse().unwrap()).unwrap();
    let s_east = Sidecar::start(&config(&flags(
        &east,
        "east",
        Some(op.addr),
        &[to_west.addr()],
    )))
    .await
    .unwrap();
    let s_west = Sidecar::start(&config(&flags(
        &west,
        "west",
        Some(op.addr),
        &[to_east.addr()],
    )))
    .await
    .unwrap();
    to_east.set_target(s_east.local_addr());
    to_west.set_target(s_west.local_addr());
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        s_west
            .fencing()
            .view()
            .borrow()
            .as_ref()
            .and_then(|v| v.site.clone())
            .as_deref(),
        Some("east")
    );
    // Partition between the sidecars only.
    to_east.set(Fault::Blackhole);
    to_west.set(Fault::Blackhole);
    assert_eq!(s_east.safety_net(), &SafetyNet::Unfenced);
    assert_eq!(s_west.safety_net(), &SafetyNet::StayedFenced);

    tokio::time::sleep(Duration::from_secs(6)).await; // two full leases
    assert!(
        !read_only(&east),
        "the primary fenced although the operator answers"
    );
    assert!(read_only(&west));
    assert_eq!(s_east.fencing().stats().fences, 0);
    assert_eq!(s_west.fencing().stats().fences, 0);
    s_east.shutdown().await;
    s_west.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_reachable_peer_keeps_the_primary_writable_and_relays_the_view() {
    let east = server_with_data(1);
    let west = MariaDb::builder().server_id(2).start().unwrap();
    let op = Operator::start(Answer::Site("east")).await;
    let op_for_east = Proxy::start(op.addr).unwrap();
    let s_west = Sidecar::start(&config(&flags(&west, "west", Some(op.addr), &[])))
        .await
        .unwrap();
    let s_east = Sidecar::start(&config(&flags(
        &east,
        "east",
        Some(op_for_east.addr()),
        &[s_west.local_addr()],
    )))
    .await
    .unwrap();
    assert_eq!(s_east.safety_net(), &SafetyNet::Unfenced);

    // The operator is cut off from east only: west still answers its pings, so east holds.
    op_for_east.set(Fault::Blackhole);
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert!(!read_only(&east));
    assert_eq!(s_east.fencing().stats().fences, 0);

    // The operator fails over to west; east cannot hear it but west relays the newer view: east fences.
    op.answer(Answer::Site("west"));
    wait_until(Duration::from_secs(6), "the relayed topology fence", || {
        read_only(&east)
    })
    .await;
    assert_eq!(
        s_east.fencing().stats().last_reason.as_deref(),
        Some("topology mismatch: the active site is west")
    );
    s_east.shutdown().await;
    s_west.shutdown().await;
}
