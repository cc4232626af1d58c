//! [`SimSite`]: the [`Site`] trait over the simulated world, as seen from the operator (partitions black-hole
//! calls, crashed servers refuse them, hung servers never answer, slow servers answer late).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bloodraven_gtid::{MariadbGtid, MariadbGtidList};

use crate::engine::{Divergence, Role};
use crate::site::{
    Flavor, GtidState, MariadbState, Probe, ReplicaStatus, Site, SiteError, SourceSpec,
};

use super::world::{Channel, Node, TxId, World};

/// How long a simulated CLONE INSTANCE takes.
const CLONE_TIME: Duration = Duration::from_secs(8);

/// One simulated server as a [`Site`].
#[derive(Clone, Debug)]
pub struct SimSite {
    world: Arc<Mutex<World>>,
    idx: usize,
    name: String,
}

impl SimSite {
    pub(crate) fn new(world: Arc<Mutex<World>>, idx: usize, name: String) -> SimSite {
        SimSite { world, idx, name }
    }

    fn lock(&self) -> MutexGuard<'_, World> {
        lock(&self.world)
    }

    /// Network and server behaviour around one call, then `f` on the world.
    async fn call<T>(
        &self,
        op: &str,
        f: impl FnOnce(&mut World, usize) -> Result<T, SiteError>,
    ) -> Result<T, SiteError> {
        let latency = {
            let mut w = self.lock();
            let s = &w.servers[self.idx];
            if !w.link(Node::Operator, Node::Site(self.idx)) || (s.up && w.now < s.hung_until) {
                None
            } else if !s.up {
                return Err(self.refused(op));
            } else {
                let latency = s.latency;
                if op == "probe" {
                    let until = w.now + latency;
                    w.servers[self.idx].probed_until = until;
                }
                Some(latency)
            }
        };
        let Some(latency) = latency else {
            // Black-holed: never answers; the runner's deadline cancels the call.
            return std::future::pending().await;
        };
        tokio::time::sleep(latency).await;
        let mut w = self.lock();
        if !w.servers[self.idx].up {
            return Err(self.refused(op));
        }
        f(&mut w, self.idx)
    }

    fn refused(&self, op: &str) -> SiteError {
        SiteError::Unreachable {
            site: self.name.clone(),
            message: format!("{op}: connection refused"),
        }
    }
}

pub(crate) fn lock(world: &Mutex<World>) -> MutexGuard<'_, World> {
    // The simulation runs on one thread; a poisoned lock means a panic already failed the seed.
    world.lock().unwrap_or_else(|e| e.into_inner())
}

/// A transaction as a MariaDB GTID: domain 0, the originating server's id (its identity index + 1), its sequence.
pub(crate) fn mariadb_gtid(tx: TxId) -> MariadbGtid {
    MariadbGtid {
        domain: 0,
        server_id: tx.0 + 1,
        seq: tx.1,
    }
}

/// The executed GTID state of server `i` in the world's flavour.
fn state(w: &World, i: usize) -> GtidState {
    let s = &w.servers[i];
    if !w.params.mariadb {
        return GtidState::Mysql(s.executed.clone());
    }
    let pos: MariadbGtidList = s.last.map(mariadb_gtid).into_iter().collect();
    let mut last_per_server: BTreeMap<u32, u64> = BTreeMap::new();
    for (_, tx) in &s.binlog {
        let seq = last_per_server.entry(tx.0).or_default();
        *seq = (*seq).max(tx.1);
    }
    GtidState::Mariadb(MariadbState {
        binlog_pos: pos.clone(),
        current_pos: pos.clone(),
        slave_pos: pos,
        binlog_state: last_per_server
            .into_iter()
            .map(|(origin, seq)| mariadb_gtid((origin, seq)))
            .collect(),
    })
}

fn status(w: &World, i: usize) -> Option<ReplicaStatus> {
    let s = &w.servers[i];
    let ch = s.channel.as_ref()?;
    let (retrieved, executed) = if w.params.mariadb {
        let text = |tx: Option<TxId>| tx.map(|t| mariadb_gtid(t).to_string()).unwrap_or_default();
        (text(ch.last_retrieved), text(s.last))
    } else {
        (
            ch.retrieved.to_compact_string(),
            s.executed.to_compact_string(),
        )
    };
    let behind = ch
        .relay
        .front()
        .map(|(at, _)| w.now.saturating_sub(*at).as_secs())
        .unwrap_or(0);
    Some(ReplicaStatus {
        io_running: ch.io && ch.io_error.is_empty(),
        sql_running: ch.sql,
        source_host: w.servers[ch.source].host.clone(),
        source_port: 3306,
        seconds_behind: ch.sql.then_some(behind),
        retrieved,
        executed,
        last_error: String::new(),
        last_io_error: ch.io_error.clone(),
        last_sql_error: String::new(),
    })
}

/// Auto-positioning refuses a replica holding transactions its source lacks (error 1236).
fn check_errant(w: &mut World, i: usize) {
    let Some(src) = w.servers[i].channel.as_ref().map(|c| c.source) else {
        return;
    };
    let errant = !w.servers[src].executed.is_superset(&w.servers[i].executed);
    if let Some(ch) = w.servers[i].channel.as_mut() {
        ch.io_error = if errant {
            "Got fatal error 1236: replica has more GTIDs than the source".into()
        } else {
            String::new()
        };
    }
}

impl Site for SimSite {
    fn name(&self) -> &str {
        &self.name
    }

    async fn probe(&self) -> Result<Probe, SiteError> {
        self.call("probe", |w, i| {
            let s = &w.servers[i];
            Ok(Probe {
                read_only: s.read_only,
                super_read_only: Some(s.read_only),
                server_id: w.uuids[s.uuid as usize].to_string(),
                version: "8.4.0-sim".into(),
                flavor: if w.params.mariadb {
                    Flavor::Mariadb
                } else {
                    Flavor::Mysql
                },
                executed: state(w, i),
                replica: status(w, i),
            })
        })
        .await
    }

    async fn fence(&self) -> Result<(), SiteError> {
        self.call("fence", |w, i| {
            w.mutated(i, "fence");
            w.servers[i].read_only = true;
            Ok(())
        })
        .await
    }

    async fn kill_client_sessions(&self) -> Result<u32, SiteError> {
        self.call("kill", |w, i| {
            w.mutated(i, "kill");
            Ok(std::mem::take(&mut w.servers[i].sessions))
        })
        .await
    }

    async fn replica_status(&self) -> Result<Option<ReplicaStatus>, SiteError> {
        self.call("replica status", |w, i| Ok(status(w, i))).await
    }

    async fn start_sql_thread(&self) -> Result<(), SiteError> {
        self.call("start sql thread", |w, i| {
            w.mutated(i, "start sql thread");
            if let Some(ch) = w.servers[i].channel.as_mut() {
                ch.sql = true;
            }
            Ok(())
        })
        .await
    }

    async fn stop_replication(&self) -> Result<(), SiteError> {
        self.call("stop replication", |w, i| {
            w.mutated(i, "stop replication");
            if let Some(ch) = w.servers[i].channel.as_mut() {
                ch.io = false;
                ch.sql = false;
            }
            Ok(())
        })
        .await
    }

    async fn reset_replication(&self) -> Result<(), SiteError> {
        self.call("reset replication", |w, i| {
            w.mutated(i, "reset replication");
            w.servers[i].channel = None;
            Ok(())
        })
        .await
    }

    async fn executed(&self) -> Result<GtidState, SiteError> {
        self.call("executed", |w, i| Ok(state(w, i))).await
    }

    async fn unfence(&self) -> Result<(), SiteError> {
        self.call("unfence", |w, i| {
            w.mutated(i, "unfence");
            if w.servers[i].role != Role::PrimaryCandidate {
                let msg = format!(
                    "invariant 4: non-candidate {} made writable",
                    w.servers[i].name
                );
                w.violations.push(msg);
            }
            w.servers[i].read_only = false;
            let now = w.now;
            if std::env::var_os("SIM_DEBUG").is_some() {
                eprintln!("{now:?} unfence {} (operator)", w.servers[i].name);
            }
            w.unfences.push((now, i));
            Ok(())
        })
        .await
    }

    async fn replicate_from(&self, source: &SourceSpec) -> Result<(), SiteError> {
        self.call("replicate from", |w, i| {
            w.mutated(i, "replicate from");
            let Some(src) = w.servers.iter().position(|s| s.host == source.host) else {
                return Err(SiteError::Query {
                    site: w.servers[i].name.clone(),
                    statement: "CHANGE REPLICATION SOURCE TO".into(),
                    message: format!("unknown host {}", source.host),
                });
            };
            let gen_ = w.servers[src].data_gen;
            w.servers[i].channel = Some(Channel::new(src, gen_));
            check_errant(w, i);
            Ok(())
        })
        .await
    }

    async fn start_replication(&self) -> Result<(), SiteError> {
        self.call("start replication", |w, i| {
            w.mutated(i, "start replication");
            if let Some(ch) = w.servers[i].channel.as_mut() {
                ch.io = true;
                ch.sql = true;
            }
            check_errant(w, i);
            Ok(())
        })
        .await
    }

    async fn wait_for_executed(
        &self,
        target: &GtidState,
        timeout: Duration,
    ) -> Result<bool, SiteError> {
        let until = tokio::time::Instant::now() + timeout;
        loop {
            if self.executed().await?.contains(target) {
                return Ok(true);
            }
            if tokio::time::Instant::now() >= until {
                return Ok(false);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn clone_from(&self, donor: &SourceSpec) -> Result<(), SiteError> {
        let donor_idx = self
            .call("clone", |w, i| {
                if w.servers[i].clone_unsupported {
                    return Err(SiteError::Unsupported {
                        site: w.servers[i].name.clone(),
                        operation: "CLONE INSTANCE".into(),
                        flavor: Flavor::Mariadb,
                    });
                }
                let d = w.servers.iter().position(|s| s.host == donor.host);
                if d == Some(i) || w.active_site.as_deref() == Some(w.servers[i].name.as_str()) {
                    let msg = format!(
                        "invariant 4: reclone of the active primary {}",
                        w.servers[i].name
                    );
                    w.violations.push(msg);
                }
                let now = w.now;
                let empty = w.servers[i].truth.is_empty() && w.servers[i].channel.is_none();
                w.clones.push((now, i, empty));
                w.mutated(i, "clone");
                d.ok_or_else(|| SiteError::Unreachable {
                    site: donor.host.clone(),
                    message: "unknown donor".into(),
                })
            })
            .await?;
        tokio::time::sleep(CLONE_TIME).await;
        self.call("clone", |w, i| {
            let d = w.servers[donor_idx].clone();
            if !d.up {
                return Err(SiteError::Query {
                    site: w.servers[i].name.clone(),
                    statement: "CLONE INSTANCE".into(),
                    message: "donor went away".into(),
                });
            }
            let s = &mut w.servers[i];
            s.executed = d.executed;
            s.truth = d.truth;
            s.binlog = d.binlog;
            s.last = d.last;
            s.channel = None;
            s.data_gen += 1;
            s.read_only = true; // restarted by CLONE
            s.sessions = 0;
            Ok(())
        })
        .await
    }

    /// MariaDB: the driver's binary-log scan, on the simulated binary log — every transaction this server wrote
    /// whose sequence number the new primary's state does not reach for its server id, as sequence runs per server.
    async fn divergence(&self, new_primary: &GtidState) -> Result<Option<Divergence>, SiteError> {
        let GtidState::Mariadb(new) = new_primary else {
            let own = self.executed().await?;
            return Ok(crate::engine::divergence(&own, new_primary));
        };
        let known = |g: &MariadbGtid| {
            new.binlog_state
                .iter()
                .chain(new.current_pos.iter())
                .any(|h| h.domain == g.domain && h.server_id == g.server_id && h.seq >= g.seq)
        };
        self.call("binlog scan", |w, i| {
            let mut runs: BTreeMap<u32, Vec<u64>> = BTreeMap::new();
            for (_, tx) in &w.servers[i].binlog {
                let g = mariadb_gtid(*tx);
                if !known(&g) {
                    runs.entry(g.server_id).or_default().push(g.seq);
                }
            }
            let mut parts = Vec::new();
            let mut count = 0;
            for (server, mut seqs) in runs {
                seqs.sort_unstable();
                count += seqs.len() as u64;
                let mut k = 0;
                while k < seqs.len() {
                    let first = seqs[k];
                    while k + 1 < seqs.len() && seqs[k + 1] == seqs[k] + 1 {
                        k += 1;
                    }
                    let last = seqs[k];
                    parts.push(if first == last {
                        format!("0-{server}-{first}")
                    } else {
                        format!("0-{server}-{first}..{last}")
                    });
                    k += 1;
                }
            }
            Ok((count > 0).then(|| Divergence {
                text: parts.join(","),
                count,
            }))
        })
        .await
    }

    async fn has_user_schemas(&self) -> Result<bool, SiteError> {
        self.call("schemas", |w, i| Ok(!w.servers[i].truth.is_empty()))
            .await
    }
}
