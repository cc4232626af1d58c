//! The MariaDB driver against real servers: every [`Site`] operation, fencing as clients see it, session kills
//! that spare replication, GTID waits, and the exact binary-log divergence audit.

mod live_support;

use std::time::Duration;

use bloodraven_operator::driver::{DriverSite, SiteConfig};
use bloodraven_operator::engine::divergence;
use bloodraven_operator::site::{Flavor, GtidState, Site, SiteError, SourceSpec};
use bloodraven_test_support::mariadb::MariaDb;
use live_support::{Group, app_opts, host};
use mysql_async::prelude::Queryable;

fn driver(name: &str, server: &MariaDb) -> DriverSite {
    DriverSite::new(
        SiteConfig::new(name, "127.0.0.1", server.port(), "root", ""),
        Flavor::Mariadb,
    )
}

fn source(group: &Group, i: usize) -> SourceSpec {
    SourceSpec {
        host: host(i),
        port: group.servers[i].port(),
        user: "root".into(),
        password: Default::default(),
        tls: false,
    }
}

#[tokio::test]
async fn mariadb_driver_operations_on_real_servers() {
    let group = Group::start(2);
    let (a, b) = (
        driver("iad", &group.servers[0]),
        driver("pdx", &group.servers[1]),
    );
    group.servers[0]
        .sql("INSERT INTO d.t VALUES (1, 'x'), (2, 'x')")
        .unwrap();

    // Probe: flags, identity, positions, replica status.
    let pa = a.probe().await.unwrap();
    assert!(!pa.read_only);
    assert_eq!(pa.super_read_only, None);
    assert_eq!((pa.server_id.as_str(), pa.flavor), ("1", Flavor::Mariadb));
    assert!(pa.version.contains("MariaDB"), "{}", pa.version);
    assert_eq!(pa.replica, None);
    let GtidState::Mariadb(state_a) = &pa.executed else {
        panic!("flavour")
    };
    let pos = group.servers[0]
        .sql("SELECT @@global.gtid_binlog_pos")
        .unwrap();
    assert_eq!(state_a.binlog_pos.to_string(), pos.trim());
    assert_eq!(state_a.binlog_state, vec![pos.trim().parse().unwrap()]);
    assert_eq!(
        DriverSite::detect(SiteConfig::new(
            "x",
            "127.0.0.1",
            group.servers[0].port(),
            "root",
            ""
        ))
        .await
        .unwrap()
        .flavor(),
        Flavor::Mariadb
    );

    // The replica catches up, and says so through the driver.
    assert!(
        b.wait_for_executed(&pa.executed, Duration::from_secs(10))
            .await
            .unwrap()
    );
    let pb = b.probe().await.unwrap();
    assert!(pb.read_only);
    let r = pb.replica.expect("replica status");
    assert!(r.is_healthy(), "{r:?}");
    assert_eq!(
        (r.source_host, r.source_port),
        (host(0), group.servers[0].port())
    );
    assert_eq!(r.executed, pos.trim());
    assert_eq!(r.retrieved, pos.trim());
    assert!(pb.executed.contains(&pa.executed));

    // A position never written times out: false, not an error.
    let ahead = GtidState::Mariadb(bloodraven_operator::site::MariadbState {
        binlog_pos: "0-1-999".parse().unwrap(),
        ..Default::default()
    });
    assert!(
        !b.wait_for_executed(&ahead, Duration::from_millis(300))
            .await
            .unwrap()
    );

    // Fencing binds clients: an application session (no READ ONLY ADMIN) cannot write any more.
    let mut app = mysql_async::Conn::new(app_opts(group.servers[0].port()))
        .await
        .unwrap();
    app.query_drop("INSERT INTO d.t VALUES (3, 'app')")
        .await
        .unwrap();
    a.fence().await.unwrap();
    let err = app
        .query_drop("INSERT INTO d.t VALUES (4, 'app')")
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("read-only") || err.to_string().contains("1290"),
        "{err}"
    );
    assert!(a.probe().await.unwrap().read_only);

    // Killing client sessions kills the application session but spares the replica's binlog dump thread.
    let killed = a.kill_client_sessions().await.unwrap();
    assert!(killed >= 1, "killed {killed}");
    assert!(
        app.query_drop("SELECT 1").await.is_err(),
        "the app session must be gone"
    );
    a.unfence().await.unwrap();
    group.servers[0]
        .sql("INSERT INTO d.t VALUES (5, 'x')")
        .unwrap();
    let pa = a.probe().await.unwrap();
    assert!(!pa.read_only);
    assert!(
        b.wait_for_executed(&pa.executed, Duration::from_secs(10))
            .await
            .unwrap(),
        "replication survived the kill"
    );

    // Stop, reset: no channel any more.
    b.stop_replication().await.unwrap();
    let r = b.replica_status().await.unwrap().unwrap();
    assert!(!r.io_running && !r.sql_running);
    b.reset_replication().await.unwrap();
    assert_eq!(b.replica_status().await.unwrap(), None);

    // Demote A under B: B becomes writable and writes, A (a former primary) replicates from it with
    // MASTER_USE_GTID=slave_pos after the driver aligned its slave position.
    b.unfence().await.unwrap();
    group.servers[1]
        .sql("INSERT INTO d.t VALUES (6, 'b')")
        .unwrap();
    a.fence().await.unwrap();
    a.stop_replication().await.unwrap();
    a.replicate_from(&source(&group, 1)).await.unwrap();
    let pb = b.probe().await.unwrap();
    assert!(
        a.wait_for_executed(&pb.executed, Duration::from_secs(10))
            .await
            .unwrap()
    );
    assert_eq!(group.ids(0), group.ids(1));
    let r = a.replica_status().await.unwrap().unwrap();
    assert!(r.is_healthy(), "{r:?}");

    // CLONE does not exist on MariaDB: a typed error, nothing sent.
    let e = Site::clone_from(&a, &source(&group, 1)).await.unwrap_err();
    assert!(
        matches!(
            e,
            SiteError::Unsupported {
                flavor: Flavor::Mariadb,
                ..
            }
        ),
        "{e}"
    );

    // User schemas: `d` exists here, not on a fresh server.
    assert!(a.has_user_schemas().await.unwrap());
    let fresh = MariaDb::builder().server_id(9).start().unwrap();
    assert!(!driver("fresh", &fresh).has_user_schemas().await.unwrap());
}

#[tokio::test]
async fn unreachable_and_refused_statements_are_typed_errors() {
    let mut server = MariaDb::builder().server_id(5).start().unwrap();
    let site = driver("iad", &server);
    server
        .sql("CREATE USER 'weak'@'%' IDENTIFIED BY 'w'")
        .unwrap();
    let weak = DriverSite::new(
        SiteConfig::new("iad", "127.0.0.1", server.port(), "weak", "w"),
        Flavor::Mariadb,
    );
    let e = weak.fence().await.unwrap_err();
    assert!(
        matches!(&e, SiteError::Query { statement, .. } if statement == "SET GLOBAL read_only = ON"),
        "{e}"
    );
    let mysql = DriverSite::new(
        SiteConfig::new("iad", "127.0.0.1", server.port(), "root", ""),
        Flavor::Mysql,
    );
    let e = mysql.probe().await.unwrap_err();
    assert!(e.to_string().contains("iad"), "{e}");
    server.kill().unwrap();
    let e = site.probe().await.unwrap_err();
    assert!(e.is_unreachable(), "{e}");
}

/// Old primary A keeps committing after replica B's IO thread stopped; B is promoted and writes. The binary-log
/// audit names exactly A's transactions B lacks, across a binlog rotation and around a sequence gap, where the
/// state-only computation has to assume consecutive sequence numbers.
#[tokio::test]
async fn mariadb_divergence_scan_is_exact() {
    let group = Group::start(2);
    let (a, b) = (
        driver("iad", &group.servers[0]),
        driver("pdx", &group.servers[1]),
    );
    let (pa, pb) = (&group.servers[0], &group.servers[1]);
    pa.sql("INSERT INTO d.t VALUES (1, 'a'), (2, 'a')").unwrap();
    group.wait_caught_up(1, 0, Duration::from_secs(10));
    let base: u64 = pa
        .sql("SELECT @@global.gtid_binlog_pos")
        .unwrap()
        .trim()
        .rsplit('-')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    pb.sql("STOP SLAVE IO_THREAD").unwrap();
    // base+1, base+2 | rotate | base+3, then a gap to 0-1-20.
    pa.sql("INSERT INTO d.t VALUES (3, 'a'); INSERT INTO d.t VALUES (4, 'a'); FLUSH BINARY LOGS; \
            INSERT INTO d.t VALUES (5, 'a'); SET SESSION gtid_seq_no = 20; INSERT INTO d.t VALUES (6, 'a')")
        .unwrap();
    a.fence().await.unwrap();
    b.stop_replication().await.unwrap();
    b.reset_replication().await.unwrap();
    b.unfence().await.unwrap();
    pb.sql("INSERT INTO d.t VALUES (100, 'b'); INSERT INTO d.t VALUES (101, 'b')")
        .unwrap();

    let GtidState::Mariadb(new) = b.executed().await.unwrap() else {
        panic!("flavour")
    };
    let d = a
        .mariadb_divergence(&new)
        .await
        .unwrap()
        .expect("divergence");
    assert_eq!(d.text, format!("0-1-{}..{},0-1-20", base + 1, base + 3));
    assert_eq!(d.count, 4);
    // The state-only estimate agrees on where the run starts but cannot see the gap.
    let estimate = divergence(
        &a.executed().await.unwrap(),
        &GtidState::Mariadb(new.clone()),
    )
    .unwrap();
    assert_eq!(estimate.text, format!("0-1-{}..20", base + 1));

    // Once B holds A's transactions (replayed), nothing diverges any more.
    let caught_up = bloodraven_operator::site::MariadbState {
        binlog_state: vec![
            "0-1-20".parse().unwrap(),
            format!("0-2-{}", base + 2).parse().unwrap(),
        ],
        ..new
    };
    assert_eq!(a.mariadb_divergence(&caught_up).await.unwrap(), None);
    // MySQL sites never scan.
    let mysql = DriverSite::new(
        SiteConfig::new("x", "127.0.0.1", 1, "root", ""),
        Flavor::Mysql,
    );
    assert!(matches!(
        mysql.mariadb_divergence(&caught_up).await,
        Err(SiteError::Unsupported { .. })
    ));
}
