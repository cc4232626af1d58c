//! The engine, runner and MariaDB driver together on real servers: emergency failover under a write load,
//! the divergent-GTID audit of a returning old primary with the reclone interlock, and a planned switchover.
//!
//! Polls every 500 ms with the reference thresholds (3 failed probes, 2 writable probes), so detection takes
//! 1.5 s instead of the default 6 s; `tests/live_bench.rs` measures at the defaults.

mod live_support;

use std::time::{Duration, Instant};

use bloodraven_operator::engine::SiteState;
use bloodraven_test_support::mariadb::MariaDb;
use live_support::{Group, Monitor, Operator, SITES, WriteLoad, config, host, replicating};

const POLL: Duration = Duration::from_millis(500);
const WAIT: Duration = Duration::from_secs(90);

/// Three sites; `pdx` (declared before `fra`) applies with a 3 s delay, so `fra` is the freshest. SIGKILL of the primary
/// under a write load must promote `fra`, never show two writable sites, re-point `pdx` at `fra`, and keep every
/// write acknowledged after the failover.
#[test]
fn sigkill_primary_under_write_load_promotes_the_freshest_replica() {
    let mut group = Group::start(3);
    let ports: Vec<u16> = group.servers.iter().map(|s| s.port()).collect();
    // A stopped IO thread would be restarted by source convergence within a poll; a delayed applier is not.
    group.servers[1]
        .sql("STOP SLAVE; CHANGE MASTER TO MASTER_DELAY = 3; START SLAVE")
        .unwrap();
    let op = Operator::start(&group, config(&group, POLL));
    op.wait("a healthy group", WAIT, |s| {
        s.active_site.as_deref() == Some("iad") && replicating(s, "pdx") && replicating(s, "fra")
    });
    let epoch = Instant::now();
    let monitor = Monitor::start(ports.clone(), Duration::from_millis(20), epoch);
    let load = WriteLoad::start(
        ports.clone(),
        op.dns_route(),
        Duration::from_millis(2),
        epoch,
    );
    std::thread::sleep(Duration::from_millis(1500));

    group.servers[0].kill().unwrap();
    let killed_at = epoch.elapsed();
    let status = op.wait("fra promoted", WAIT, |s| {
        s.active_site.as_deref() == Some("fra")
    });
    assert_eq!(status.last_failover_target.as_deref(), Some("fra"));
    let promoted = op.wait("the DNS record on fra", WAIT, |_| {
        op.platform.state().dns.as_deref() == Some("fra")
    });
    assert_eq!(
        promoted.site("iad").map(|s| s.state),
        Some(SiteState::Unreachable)
    );
    // pdx converges on the new primary and catches up with it.
    op.wait("pdx replicating from fra", WAIT, |s| {
        s.site("pdx").is_some_and(|p| p.source_host == host(2)) && replicating(s, "pdx")
    });
    std::thread::sleep(Duration::from_millis(500));
    let report = load.finish();
    let samples = monitor.finish();
    group.wait_caught_up(1, 2, Duration::from_secs(30));

    assert_eq!(
        Monitor::max_writable(&samples),
        1,
        "two writable sites at once"
    );
    let writable = Monitor::first_writable(&samples, 2, killed_at).expect("fra became writable");
    let client = report
        .first_ack_elsewhere(0, killed_at)
        .expect("a write on the new primary");
    eprintln!(
        "live failover: kill -> fra writable {:?}, kill -> first client write {:?}, {} writes acked, {} attempts failed",
        writable - killed_at,
        client - killed_at,
        report.acked.len(),
        report.failures
    );
    // Sidecars learn the new primary from the auxiliary server's `/active-site`.
    let aux = live_support::runtime().block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://{}/active-site?namespace=default&group=orders",
            listener.local_addr().unwrap()
        );
        let router = bloodraven_operator::http::aux_router(op.topology.clone());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        reqwest::get(url).await.unwrap().text().await.unwrap()
    });
    let aux: serde_json::Value = serde_json::from_str(&aux).unwrap();
    assert_eq!(aux["activeSite"], "fra", "{aux}");
    let on_fra = group.ids(2);
    let after: Vec<u64> = report
        .acks
        .iter()
        .zip(&report.acked)
        .filter(|((_, site), _)| *site == 2)
        .map(|(_, id)| *id)
        .collect();
    assert!(!after.is_empty());
    assert!(after.iter().all(|id| on_fra.binary_search(id).is_ok()));
    // Asynchronous replication: a SIGKILL may lose writes the old primary acknowledged but had not shipped.
    let lost = report.missing_from(&on_fra).len();
    eprintln!("acknowledged writes missing on the new primary after SIGKILL: {lost}");
    assert_eq!(group.ids(1), on_fra, "pdx holds exactly what fra holds");

    // The runner's metrics export tells the same story.
    let text = op.metrics.render();
    for line in [
        "bloodraven_failovers_total{target_site=\"fra\"} 1",
        "bloodraven_dns_flips_total{site=\"fra\"} 1",
        "bloodraven_site_state{namespace=\"default\",group=\"orders\",site=\"iad\",role=\"primary-candidate\",state=\"unreachable\"} 1",
        "bloodraven_site_state{namespace=\"default\",group=\"orders\",site=\"fra\",role=\"primary-candidate\",state=\"writable\"} 1",
        "bloodraven_replication_running{namespace=\"default\",group=\"orders\",site=\"pdx\",role=\"primary-candidate\",thread=\"sql\"} 1",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
    let polls = |site: &str| {
        text.lines()
            .find_map(|l| {
                l.strip_prefix(&format!(
                    "bloodraven_poll_latency_seconds_count{{site=\"{site}\"}} "
                ))
            })
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0)
    };
    assert!(polls("iad") > 0 && polls("fra") > 0, "{text}");
}

/// `pdx` loses its connection to `iad`, `iad` commits three more transactions (with a gap in their sequence numbers) and
/// dies; after `pdx` is promoted, `iad` comes back writable and must be fenced by the operator, reported with exactly
/// those three transactions (read from its binary logs, not estimated from its GTID state) and stay
/// fenced; a reclone request is refused without the right prefix, and on MariaDB (no CLONE) the accepted one
/// fails without unfencing anything.
#[test]
fn divergent_old_primary_is_fenced_reported_and_reclone_needs_the_prefix() {
    let mut group = Group::start(2);
    let op = Operator::start(&group, config(&group, POLL));
    op.wait("a healthy group", WAIT, |s| {
        s.active_site.as_deref() == Some("iad") && replicating(s, "pdx")
    });
    group.servers[0]
        .sql("INSERT INTO d.t VALUES (1, 'seed'), (2, 'seed')")
        .unwrap();
    group.wait_caught_up(1, 0, Duration::from_secs(10));
    partition_from_source(&group.servers[1]);
    let before: u64 = seq(&group.servers[0]
        .sql("SELECT @@global.gtid_binlog_pos")
        .unwrap());
    // Two transactions, then a jump in the sequence: the state alone would report 0-1-(before+1)..(before+10).
    group.servers[0]
        .sql(&format!(
            "INSERT INTO d.t VALUES (10, 'lost'); INSERT INTO d.t VALUES (11, 'lost'); \
             SET SESSION gtid_seq_no = {}; INSERT INTO d.t VALUES (12, 'lost')",
            before + 10
        ))
        .unwrap();
    let expected = format!("0-1-{}..{},0-1-{}", before + 1, before + 2, before + 10);

    group.servers[0].kill().unwrap();
    op.wait("pdx promoted", WAIT, |s| {
        s.active_site.as_deref() == Some("pdx")
    });
    group.servers[1]
        .sql("INSERT INTO d.t VALUES (20, 'new')")
        .unwrap();

    // It comes back writable (no start-up fence): split brain after a failover, which the operator must fence.
    group.servers[0].restart().unwrap();
    group.servers[0].sql("SET GLOBAL read_only = OFF").unwrap();
    let back = Instant::now();
    wait_until("iad fenced by the operator", || {
        group.servers[0]
            .sql("SELECT @@global.read_only")
            .unwrap()
            .trim()
            == "1"
    });
    eprintln!(
        "returning writable old primary fenced after {:?}",
        back.elapsed()
    );
    let status = op.wait("iad reported divergent", WAIT, |s| {
        s.site("iad")
            .is_some_and(|i| i.recovery_state == "RecoveryBlocked")
    });
    let iad = status.site("iad").unwrap();
    assert_eq!(iad.divergent_gtid, expected);
    assert_eq!(iad.divergent_count, 3);
    assert_eq!(iad.state, SiteState::ReadOnly);
    assert_eq!(status.active_site.as_deref(), Some("pdx"));
    let pending = status
        .condition("RecoveryPending")
        .expect("RecoveryPending");
    assert!(pending.message.contains("3 divergent"), "{pending:?}");
    assert!(op.events().iter().any(|(r, _)| r == "DataLossDetected"));
    assert_eq!(
        group.servers[0]
            .sql("SELECT @@global.read_only")
            .unwrap()
            .trim(),
        "1"
    );

    // Reclone: bare, short and wrong prefixes are refused (and the annotation removed).
    for bad in ["iad", "iad:0-1-", "iad:9-9-9999"] {
        let n = op.events().len();
        op.platform.state().reclone = Some(bad.to_string());
        wait_until(&format!("{bad} rejected"), || {
            op.events()[n..].iter().any(|(r, _)| r == "RecloneRejected")
                && op.platform.state().reclone.is_none()
        });
        // The refusal says what to write instead: the site with the recorded divergent set's prefix.
        let hint = format!("iad:{}", &expected[..8]);
        assert!(
            op.events()[n..]
                .iter()
                .any(|(r, m)| r == "RecloneRejected" && m.contains(&hint)),
            "{bad}: no {hint} in {:?}",
            &op.events()[n..]
        );
    }
    // The right prefix is accepted; MariaDB has no CLONE, so the attempt fails and iad stays fenced.
    let n = op.events().len();
    op.platform.state().reclone = Some(format!("iad:{}", &expected[..8]));
    wait_until("reclone requested", || {
        op.events()[n..]
            .iter()
            .any(|(r, _)| r == "RecloneRequested")
    });
    std::thread::sleep(POLL * 4);
    assert_eq!(
        group.servers[0]
            .sql("SELECT @@global.read_only")
            .unwrap()
            .trim(),
        "1"
    );
    let status = op.status().unwrap();
    assert_eq!(status.active_site.as_deref(), Some("pdx"));
    assert_eq!(status.site("iad").unwrap().divergent_gtid, expected);
}

/// Planned switchover to `pdx` under a write load that follows the DNS record (and, like a client of the
/// `-primary` Service, finds no endpoint once the source is fenced): no acknowledged write is lost, only one site
/// is ever writable, and the write pause is measured.
#[test]
fn planned_switchover_under_write_load_loses_no_acknowledged_write() {
    let group = Group::start(2);
    let ports: Vec<u16> = group.servers.iter().map(|s| s.port()).collect();
    let op = Operator::start(&group, config(&group, POLL));
    op.wait("a healthy group", WAIT, |s| {
        s.active_site.as_deref() == Some("iad") && replicating(s, "pdx")
    });
    let epoch = Instant::now();
    let monitor = Monitor::start(ports.clone(), Duration::from_millis(10), epoch);
    let load = WriteLoad::start(ports, op.service_route(), Duration::from_millis(1), epoch);
    std::thread::sleep(Duration::from_millis(800));
    let requested = epoch.elapsed();
    let planned = op.switch_over("pdx", WAIT);
    assert_eq!(planned.transactions_lost, 0, "{planned:?}");
    std::thread::sleep(Duration::from_millis(500));
    let report = load.finish();
    let samples = monitor.finish();

    assert_eq!(
        Monitor::max_writable(&samples),
        1,
        "two writable sites at once"
    );
    let on_pdx = group.ids(1);
    let lost = report.missing_from(&on_pdx);
    assert!(lost.is_empty(), "acknowledged writes lost: {lost:?}");
    assert!(
        report.acks.iter().any(|(_, s)| *s == 1),
        "writes resumed on pdx"
    );
    let gap = report.longest_gap();
    let last_iad = report
        .acks
        .iter()
        .rev()
        .find(|(_, s)| *s == 0)
        .map(|(t, _)| *t);
    eprintln!(
        "planned switchover: requested at {requested:?}, write unavailability {gap:?} (last iad ack {last_iad:?}), \
         {} writes acked, none lost",
        report.acked.len()
    );
    let active = op.status().and_then(|s| s.active_site);
    assert_eq!(active.as_deref(), Some(SITES[1]));

    // The fenced former source rejoins as a replica of the new primary (no divergence by construction): the
    // driver moves its gtid_slave_pos past its own writes before MASTER_USE_GTID=slave_pos.
    op.wait("iad replicating from pdx", WAIT, |s| {
        s.site("iad").is_some_and(|i| i.source_host == host(1)) && replicating(s, "iad")
    });
    group.servers[1]
        .sql("INSERT INTO d.t VALUES (999999, 'after')")
        .unwrap();
    group.wait_caught_up(0, 1, Duration::from_secs(20));
    assert_eq!(group.ids(0), group.ids(1));
    assert_eq!(
        group.servers[0]
            .sql("SELECT @@global.read_only")
            .unwrap()
            .trim(),
        "1"
    );
}

/// Cuts a replica off its source, as a network partition would: the channel keeps the source host (so source
/// convergence sees nothing to re-point) but a port nothing listens on, so the IO thread keeps failing to connect.
/// (A merely stopped IO thread is restarted by source convergence within a poll.)
fn partition_from_source(replica: &MariaDb) {
    for _ in 0..10 {
        // The operator may restart the channel between the statements; then try again.
        if replica
            .sql("STOP SLAVE; CHANGE MASTER TO MASTER_PORT = 1; START SLAVE")
            .is_ok()
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("could not cut the replica off its source");
}

fn wait_until(what: &str, check: impl Fn() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The sequence number of a one-domain position.
fn seq(pos: &str) -> u64 {
    pos.trim().rsplit('-').next().unwrap().parse().unwrap()
}

/// A planned switchover whose target's applier is stalled (a table lock on `pdx` blocks it for 2.5 s while writes
/// continue on `iad`): the runner waits for the target on the server (`MASTER_GTID_WAIT`), promotes only once `pdx`
/// holds everything `iad` had at the fence, and loses no acknowledged write; the lag wait is exported.
#[test]
fn planned_switchover_waits_for_a_stalled_target_and_loses_nothing() {
    const STALL: Duration = Duration::from_millis(2500);
    let group = Group::start(2);
    let ports: Vec<u16> = group.servers.iter().map(|s| s.port()).collect();
    let op = Operator::start(&group, config(&group, POLL));
    op.wait("a healthy group", WAIT, |s| {
        s.active_site.as_deref() == Some("iad") && replicating(s, "pdx")
    });
    let epoch = Instant::now();
    let load = WriteLoad::start(
        ports.clone(),
        op.service_route(),
        Duration::from_millis(1),
        epoch,
    );
    std::thread::sleep(Duration::from_millis(300));
    // Hold a write lock on pdx's table: its applier blocks (both threads keep running, so pdx stays a healthy
    // replica for validation) until the lock is released.
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let pdx = ports[1];
    let holder = std::thread::spawn(move || {
        live_support::runtime().block_on(async move {
            use mysql_async::prelude::Queryable;
            let opts = mysql_async::OptsBuilder::default()
                .ip_or_hostname("127.0.0.1")
                .tcp_port(pdx)
                .user(Some("root"))
                .prefer_socket(false);
            let mut conn = mysql_async::Conn::new(opts).await.expect("root on pdx");
            conn.query_drop("LOCK TABLES d.t WRITE")
                .await
                .expect("lock");
            locked_tx.send(()).expect("test waits for the lock");
            tokio::time::sleep(STALL).await;
            let unlocked = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("clock after 1970");
            conn.query_drop("UNLOCK TABLES").await.expect("unlock");
            unlocked
        })
    });
    locked_rx.recv().expect("lock taken");
    std::thread::sleep(Duration::from_millis(200));
    let planned = op.switch_over("pdx", WAIT);
    let unlocked = holder.join().expect("lock holder");
    std::thread::sleep(Duration::from_millis(300));
    let report = load.finish();

    let on_pdx = group.ids(1);
    let lost = report.missing_from(&on_pdx);
    assert!(lost.is_empty(), "acknowledged writes lost: {lost:?}");
    assert_eq!(planned.transactions_lost, 0);
    let promotion = op.last_promotion();
    let lag_wait = promotion
        .at
        .saturating_sub(planned.lag_wait_start.expect("lag wait started"));
    eprintln!(
        "planned switchover with a stalled target: lag wait {lag_wait:?}, write unavailability {:?}, {} writes acked",
        report.longest_gap(),
        report.acked.len()
    );
    // The lag wait began while the applier was blocked, and the promotion came only after it was released.
    let started = planned.lag_wait_start.unwrap();
    assert!(
        started < unlocked,
        "lag wait started {started:?}, lock released {unlocked:?}"
    );
    assert!(
        promotion.at > unlocked,
        "promoted {:?} before the lock was released {unlocked:?}",
        promotion.at
    );
    let text = op.metrics.render();
    assert!(
        text.lines()
            .any(|l| l
                == "bloodraven_planned_failover_lag_wait_seconds_count{target_site=\"pdx\"} 1"),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l
                == "bloodraven_planned_failovers_total{target_site=\"pdx\",result=\"success\"} 1"),
        "{text}"
    );
}
