//! The simulated world: servers with GTID state, read-only flags, replication with lag and relay backlog, the
//! network between every pair of nodes (operator, clients, sites), client writes and the sidecars' self-fencing.

use std::collections::{BTreeSet, VecDeque};
use std::time::Duration;

use bloodraven_gtid::{Gtid, GtidSet, ServerUuid, Tag};

use crate::engine::{Gates, Role};
use crate::fence::{self, ActiveView, Lease, Verdict};

/// A network node.
#[derive(Clone, Copy, Debug, Eq, Ord, PartialEq, PartialOrd)]
pub(crate) enum Node {
    Client,
    Operator,
    Site(usize),
}

/// A transaction identity: (index of the originating server UUID, GNO).
pub(crate) type TxId = (u32, u64);

/// A replication channel.
#[derive(Clone, Debug)]
pub(crate) struct Channel {
    pub(crate) source: usize,
    pub(crate) source_gen: u64,
    pub(crate) io: bool,
    pub(crate) sql: bool,
    pub(crate) pos: usize,
    pub(crate) relay: VecDeque<(Duration, TxId)>,
    pub(crate) retrieved: GtidSet,
    /// The last transaction the IO thread wrote to the relay log (MariaDB `Gtid_IO_Pos`).
    pub(crate) last_retrieved: Option<TxId>,
    pub(crate) io_error: String,
}

/// The sidecar next to one server (§4.4): the shipped rules of [`crate::fence`] on a simulated schedule.
#[derive(Clone, Debug, Default)]
pub(crate) struct Sidecar {
    /// Peers are the other servers, in order, without this one.
    pub(crate) lease: Lease,
    pub(crate) next_tick: Duration,
}

/// One simulated server.
#[derive(Clone, Debug)]
pub(crate) struct Server {
    pub(crate) name: String,
    pub(crate) host: String,
    pub(crate) role: Role,
    pub(crate) up: bool,
    pub(crate) up_since: Duration,
    pub(crate) data_gen: u64,
    pub(crate) read_only: bool,
    pub(crate) uuid: u32,
    pub(crate) executed: GtidSet,
    pub(crate) truth: BTreeSet<TxId>,
    pub(crate) binlog: Vec<(Duration, TxId)>,
    /// The last transaction committed (MariaDB `gtid_current_pos` of the one domain).
    pub(crate) last: Option<TxId>,
    pub(crate) next_gno: u64,
    pub(crate) channel: Option<Channel>,
    pub(crate) sessions: u32,
    pub(crate) hung_until: Duration,
    pub(crate) latency: Duration,
    pub(crate) stall_until: Duration,
    pub(crate) sidecar: Sidecar,
    /// Until when the operator's last probe of this server is out (world time, tick-granular).
    pub(crate) probed_until: Duration,
    /// The server has no CLONE (as MariaDB): `clone_from` returns the typed unsupported error.
    pub(crate) clone_unsupported: bool,
}

/// Tunables of the world.
#[derive(Clone, Debug)]
pub(crate) struct WorldParams {
    pub(crate) replication_lag: Duration,
    pub(crate) apply_per_tick: usize,
    /// MariaDB servers: domain-server-sequence GTIDs (one domain, sequence numbers shared by every server) and no
    /// CLONE.
    pub(crate) mariadb: bool,
    pub(crate) write_probability: f64,
    pub(crate) lease_timeout: Duration,
    pub(crate) peer_check_interval: Duration,
}

/// Everything simulated, behind one lock.
#[derive(Debug)]
pub(crate) struct World {
    pub(crate) now: Duration,
    pub(crate) servers: Vec<Server>,
    pub(crate) blocked: BTreeSet<(Node, Node)>,
    pub(crate) uuids: Vec<ServerUuid>,
    pub(crate) params: WorldParams,
    pub(crate) rng: Rng,
    pub(crate) operator_up: bool,
    /// When the last fault ended (heal, restart, operator start): the operator's poll backoff may still be high.
    pub(crate) last_disturbance: Duration,
    pub(crate) active_site: Option<String>,
    pub(crate) active_observed: Duration,
    /// Acknowledged client writes: (site, tx, time).
    pub(crate) acked: u64,
    /// Invariant violations found by the site calls themselves.
    pub(crate) violations: Vec<String>,
    /// Unfence calls: (time, site).
    pub(crate) unfences: Vec<(Duration, usize)>,
    /// Clone calls: (time, recipient, whether the recipient was empty: no transactions, no replication channel).
    pub(crate) clones: Vec<(Duration, usize, bool)>,
    /// Orders the operator's group reads, its mutations and the external promotions exactly.
    pub(crate) seq: u64,
    /// Operator reads of the group object: (seq, the guards read, the source of the planned failover in flight in
    /// the record).
    pub(crate) group_reads: Vec<(u64, Gates, Option<String>)>,
    /// External promotions (ordered-update handoffs), by seq.
    pub(crate) external_promotions: Vec<u64>,
    /// Operator calls that change a server: (seq, time, site, operation).
    pub(crate) mutations: Vec<(u64, Duration, usize, &'static str)>,
    /// An ordered-update handoff is under way.
    pub(crate) handoff_active: bool,
}

impl World {
    pub(crate) fn new(names: &[(String, Role)], params: WorldParams, rng: Rng) -> World {
        let n = names.len();
        let mut w = World {
            now: Duration::ZERO,
            servers: Vec::new(),
            blocked: BTreeSet::new(),
            uuids: Vec::new(),
            params,
            rng,
            operator_up: true,
            last_disturbance: Duration::ZERO,
            active_site: None,
            active_observed: Duration::ZERO,
            acked: 0,
            violations: Vec::new(),
            unfences: Vec::new(),
            clones: Vec::new(),
            seq: 0,
            group_reads: Vec::new(),
            external_promotions: Vec::new(),
            mutations: Vec::new(),
            handoff_active: false,
        };
        for (i, (name, role)) in names.iter().enumerate() {
            let uuid = w.new_uuid();
            w.servers.push(Server {
                name: name.clone(),
                host: format!("{name}.db"),
                role: *role,
                up: true,
                up_since: Duration::ZERO,
                data_gen: 0,
                read_only: i != 0,
                uuid,
                executed: GtidSet::new(),
                truth: BTreeSet::new(),
                binlog: Vec::new(),
                last: None,
                next_gno: 1,
                channel: (i != 0).then(|| Channel::new(0, 0)),
                sessions: 0,
                hung_until: Duration::ZERO,
                latency: Duration::from_millis(2),
                stall_until: Duration::ZERO,
                probed_until: Duration::ZERO,
                clone_unsupported: w.params.mariadb,
                sidecar: Sidecar {
                    lease: Lease::new(Duration::ZERO, n - 1),
                    next_tick: Duration::ZERO,
                },
            });
        }
        w
    }

    pub(crate) fn new_uuid(&mut self) -> u32 {
        let idx = self.uuids.len() as u32;
        let v = 0x3e11_fa47_71ca_11e1_9e33_c80a_0000_0000u128 + u128::from(idx);
        self.uuids.push(ServerUuid::from_bytes(v.to_be_bytes()));
        idx
    }

    pub(crate) fn gtid(&self, tx: TxId) -> Gtid {
        // Invariant: GNOs start at 1 and UUIDs come from `uuids`, so the GTID is always valid.
        Gtid::new(self.uuids[tx.0 as usize], Tag::default(), tx.1)
            .expect("simulated GTIDs are valid")
    }

    /// Logs an operator call that changes server `i`.
    pub(crate) fn mutated(&mut self, i: usize, op: &'static str) {
        self.seq += 1;
        let (seq, now) = (self.seq, self.now);
        self.mutations.push((seq, now, i, op));
    }

    pub(crate) fn link(&self, a: Node, b: Node) -> bool {
        let (x, y) = if a <= b { (a, b) } else { (b, a) };
        !self.blocked.contains(&(x, y))
    }

    pub(crate) fn block(&mut self, a: Node, b: Node, on: bool) {
        let key = if a <= b { (a, b) } else { (b, a) };
        if on {
            self.blocked.insert(key);
        } else {
            self.blocked.remove(&key);
        }
    }

    /// Commits a transaction on server `i` (a client write or an applied replicated one).
    pub(crate) fn commit(&mut self, i: usize, tx: TxId) {
        let g = self.gtid(tx);
        let s = &mut self.servers[i];
        if s.truth.insert(tx) {
            s.last = Some(tx);
            s.executed.insert(&g);
            s.binlog.push((self.now, tx));
        }
    }

    /// Advances replication, client writes and sidecars by one tick.
    pub(crate) fn tick(&mut self) {
        self.replicate();
        self.client_writes();
        self.sidecars();
    }

    fn replicate(&mut self) {
        let lag = self.params.replication_lag;
        for i in 0..self.servers.len() {
            if !self.servers[i].up {
                continue;
            }
            let Some(mut ch) = self.servers[i].channel.take() else {
                continue;
            };
            let src = ch.source;
            if ch.io
                && self.servers[src].up
                && self.link(Node::Site(i), Node::Site(src))
                && ch.io_error.is_empty()
            {
                if ch.source_gen != self.servers[src].data_gen {
                    ch.source_gen = self.servers[src].data_gen;
                    ch.pos = 0;
                }
                let log = &self.servers[src].binlog;
                while ch.pos < log.len() && log[ch.pos].0 + lag <= self.now {
                    let (at, tx) = log[ch.pos];
                    ch.pos += 1;
                    let g = self.gtid(tx);
                    if !self.servers[i].executed.contains(&g) && !ch.retrieved.contains(&g) {
                        ch.retrieved.insert(&g);
                        ch.last_retrieved = Some(tx);
                        ch.relay.push_back((at, tx));
                    }
                }
            }
            if ch.sql && self.now >= self.servers[i].stall_until {
                for _ in 0..self.params.apply_per_tick {
                    let Some((_, tx)) = ch.relay.pop_front() else {
                        break;
                    };
                    self.commit(i, tx);
                }
            }
            self.servers[i].channel = Some(ch);
        }
    }

    fn client_writes(&mut self) {
        if !self.rng.chance(self.params.write_probability) {
            return;
        }
        let n = self.servers.len();
        let start = self.rng.below(n as u64) as usize;
        for k in 0..n {
            if self.client_write((start + k) % n) {
                return;
            }
        }
    }

    /// One client write on server `i`, if a client can write there (up, writable, reachable, not hung); returns
    /// whether it was acknowledged.
    pub(crate) fn client_write(&mut self, i: usize) -> bool {
        let s = &self.servers[i];
        if !s.up
            || s.read_only
            || !self.link(Node::Client, Node::Site(i))
            || self.now < s.hung_until
        {
            return false;
        }
        // MariaDB numbers the domain's transactions in one sequence, whichever server writes them.
        let gno = if self.params.mariadb {
            s.last.map_or(0, |t| t.1) + 1
        } else {
            s.next_gno
        };
        let tx = (s.uuid, gno);
        self.servers[i].next_gno += 1;
        self.servers[i].sessions = (self.servers[i].sessions + 1).min(3);
        self.commit(i, tx);
        self.acked += 1;
        true
    }

    /// §4.4: every sidecar of an up server ticks on its own schedule.
    fn sidecars(&mut self) {
        let n = self.servers.len();
        for i in 0..n {
            if !self.servers[i].up || self.now < self.servers[i].sidecar.next_tick {
                continue;
            }
            let now = self.now;
            self.servers[i].sidecar.next_tick = now + self.params.peer_check_interval;
            if self.operator_up && self.link(Node::Operator, Node::Site(i)) {
                let view = ActiveView::new(self.active_site.as_deref(), self.active_observed);
                self.servers[i].sidecar.lease.operator_reachable(now, view);
            }
            for j in 0..n {
                if j == i || !self.servers[j].up || !self.link(Node::Site(i), Node::Site(j)) {
                    continue;
                }
                let relayed = self.servers[j].sidecar.lease.view().cloned();
                let peer = if j < i { j } else { j - 1 };
                self.servers[i]
                    .sidecar
                    .lease
                    .peer_reachable(peer, now, relayed);
            }
            let lease = self.params.lease_timeout;
            let s = &mut self.servers[i];
            if let Verdict::Fence(reason) =
                s.sidecar.lease.evaluate(now, &s.name, s.read_only, lease)
            {
                if std::env::var_os("SIM_DEBUG").is_some() {
                    eprintln!("{now:?} sidecar self-fences {} ({reason})", s.name);
                }
                s.read_only = true;
                s.sidecar.lease.fenced();
                s.sessions = 0;
            }
        }
    }

    /// A server (re)starts: read-only (my.cnf), replication threads stopped (skip_replica_start), fresh sidecar
    /// lease; the sidecar's startup safety net fences first then unfences only if the operator names this site.
    pub(crate) fn restart(&mut self, i: usize, lose_data: bool) {
        let now = self.now;
        let n = self.servers.len();
        if lose_data {
            let uuid = self.new_uuid();
            let s = &mut self.servers[i];
            s.uuid = uuid;
            s.next_gno = 1;
            s.executed = GtidSet::new();
            s.truth.clear();
            s.binlog.clear();
            s.last = None;
            s.channel = None;
            s.data_gen += 1;
        }
        let answer = (self.operator_up && self.link(Node::Operator, Node::Site(i)))
            .then(|| ActiveView::new(self.active_site.as_deref(), self.active_observed));
        let s = &mut self.servers[i];
        s.up = true;
        s.up_since = now;
        s.read_only = true;
        s.sessions = 0;
        if let Some(ch) = s.channel.as_mut() {
            ch.io = false;
            ch.sql = false;
        }
        s.sidecar = Sidecar {
            lease: Lease::new(now, n - 1),
            next_tick: now,
        };
        // The safety net never unfences a server whose data volume is empty (see `fence`).
        if fence::startup_unfence(answer.as_ref(), &s.name, !s.truth.is_empty()) {
            s.read_only = false;
            if std::env::var_os("SIM_DEBUG").is_some() {
                eprintln!("{now:?} unfence {} (sidecar safety net)", s.name);
            }
            self.unfences.push((now, i));
        }
    }
}

impl Channel {
    pub(crate) fn new(source: usize, source_gen: u64) -> Channel {
        Channel {
            source,
            source_gen,
            io: true,
            sql: true,
            pos: 0,
            relay: VecDeque::new(),
            retrieved: GtidSet::new(),
            last_retrieved: None,
            io_error: String::new(),
        }
    }
}

/// SplitMix64: small, fast, deterministic.
#[derive(Clone, Debug)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9e37_79b9_7f4a_7c15)
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub(crate) fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }

    pub(crate) fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }

    pub(crate) fn range(&mut self, lo: Duration, hi: Duration) -> Duration {
        let span = hi.saturating_sub(lo).as_millis() as u64;
        lo + Duration::from_millis(self.below(span + 1))
    }
}
