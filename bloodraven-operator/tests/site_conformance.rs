//! One `Site` conformance suite, run against the simulation's model of a server and against the MariaDB driver on
//! real servers, so the model the simulation proves the engine on cannot drift from what the drivers do.
//!
//! Both start from the same topology: server 0 writable, server 1 replicating from it. The suite then walks the
//! operations a failover uses: probe, replicate and wait, fence and unfence, session kills, stopping and starting
//! replication, and a promotion of the replica with the old primary rejoining under it.

mod live_support;

use std::sync::Arc;
use std::time::Duration;

use bloodraven_gtid::SetRelation;
use bloodraven_operator::sim::Lab;
use bloodraven_operator::site::{Flavor, GtidState, Site, SourceSpec};
use live_support::{APP_PASSWORD, APP_USER, Group, host};

/// The two servers under test and how to write to them as a client.
struct Pair<S> {
    sites: [Arc<S>; 2],
    hosts: [String; 2],
    write: Box<dyn Fn(usize) -> bool>,
}

impl<S: Site> Pair<S> {
    fn source(&self, i: usize) -> SourceSpec {
        SourceSpec {
            host: self.hosts[i].clone(),
            port: 3306,
            user: "root".into(),
            password: Default::default(),
            tls: false,
        }
    }

    async fn executed(&self, i: usize) -> GtidState {
        self.sites[i].executed().await.unwrap()
    }

    /// Writes on `from` and waits until `to` has applied it.
    async fn write_and_replicate(&self, from: usize, to: usize) {
        assert!((self.write)(from), "a client write on server {from} failed");
        let target = self.executed(from).await;
        let caught_up = self.sites[to]
            .wait_for_executed(&target, Duration::from_secs(20))
            .await
            .unwrap();
        assert!(caught_up, "server {to} did not reach {target}");
        assert!(self.executed(to).await.contains(&target));
    }
}

async fn conformance<S: Site>(p: Pair<S>) {
    let [a, b] = &p.sites;
    let (a, b) = (a.as_ref(), b.as_ref());

    // The primary is writable and replicates from nobody; the replica is read-only, with both threads running
    // against the primary's host.
    let pa = a.probe().await.unwrap();
    assert!(!pa.read_only, "{pa:?}");
    assert_eq!(pa.replica, None);
    assert_eq!(pa.executed, p.executed(0).await);
    let pb = b.probe().await.unwrap();
    assert!(pb.read_only);
    let r = pb.replica.expect("a replication channel on the replica");
    assert_eq!(r.source_host, p.hosts[0]);
    assert!(r.io_running && r.sql_running && r.is_healthy(), "{r:?}");
    assert_eq!(
        b.replica_status().await.unwrap().map(|s| s.source_host),
        Some(p.hosts[0].clone())
    );

    // Writes replicate, and the replica's set contains the primary's.
    p.write_and_replicate(0, 1).await;
    p.write_and_replicate(0, 1).await;
    assert_eq!(
        p.executed(1).await.compare(&p.executed(0).await),
        SetRelation::Equal
    );

    // Fencing stops clients; unfencing lets them write again.
    a.fence().await.unwrap();
    assert!(a.probe().await.unwrap().read_only);
    assert!(!(p.write)(0), "a client wrote to a fenced server");
    a.kill_client_sessions().await.unwrap();
    a.unfence().await.unwrap();
    assert!(!a.probe().await.unwrap().read_only);
    p.write_and_replicate(0, 1).await;

    // Stopped replication stops applying; started again, it catches up.
    b.stop_replication().await.unwrap();
    let stopped = b
        .replica_status()
        .await
        .unwrap()
        .expect("the channel stays configured");
    assert!(!stopped.io_running && !stopped.sql_running, "{stopped:?}");
    assert!((p.write)(0));
    let target = p.executed(0).await;
    assert!(
        !b.wait_for_executed(&target, Duration::from_millis(1500))
            .await
            .unwrap(),
        "a stopped replica applied a new write"
    );
    b.start_replication().await.unwrap();
    assert!(
        b.wait_for_executed(&target, Duration::from_secs(20))
            .await
            .unwrap()
    );

    // Promotion of the replica: fence the old primary, stop and reset the replica's channel, make it writable;
    // the old primary rejoins under it and receives its writes.
    a.fence().await.unwrap();
    b.stop_replication().await.unwrap();
    b.reset_replication().await.unwrap();
    assert_eq!(b.replica_status().await.unwrap(), None);
    b.unfence().await.unwrap();
    let pb = b.probe().await.unwrap();
    assert!(!pb.read_only && pb.replica.is_none(), "{pb:?}");
    a.replicate_from(&p.source(1)).await.unwrap();
    let r = a
        .replica_status()
        .await
        .unwrap()
        .expect("the old primary's new channel");
    assert_eq!(r.source_host, p.hosts[1]);
    p.write_and_replicate(1, 0).await;
    assert_eq!(
        p.executed(0).await.compare(&p.executed(1).await),
        SetRelation::Equal
    );
    assert!(a.has_user_schemas().await.unwrap());
}

#[tokio::test(start_paused = true)]
async fn the_simulated_server_conforms() {
    for flavor in [Flavor::Mariadb, Flavor::Mysql] {
        let lab = std::rc::Rc::new(Lab::start(2, flavor));
        let writer = std::rc::Rc::clone(&lab);
        conformance(Pair {
            sites: [Arc::new(lab.site(0)), Arc::new(lab.site(1))],
            hosts: [lab.host(0), lab.host(1)],
            write: Box::new(move |i| writer.write(i)),
        })
        .await;
    }
}

#[tokio::test]
async fn the_mariadb_driver_conforms_on_real_servers() {
    let group = Group::start(2);
    let sites = group.sites();
    let ports = [group.servers[0].port(), group.servers[1].port()];
    conformance(Pair {
        sites: [Arc::clone(&sites[0]), Arc::clone(&sites[1])],
        hosts: [host(0), host(1)],
        // A client write as the application account, which `read_only` stops (root would not be).
        write: Box::new(move |i| {
            let id = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
                % 1_000_000_000_000;
            std::process::Command::new("mariadb")
                .args([
                    "--protocol=tcp",
                    "-h127.0.0.1",
                    &format!("-P{}", ports[i]),
                    &format!("-u{APP_USER}"),
                    &format!("-p{APP_PASSWORD}"),
                    "-e",
                    &format!("INSERT INTO d.t VALUES ({id}, 'conformance')"),
                ])
                .output()
                .is_ok_and(|o| o.status.success())
        }),
    })
    .await;
    drop(group);
}
