//! Deterministic simulation: the real [`crate::runner::Runner`] and [`crate::engine::Engine`]
//! against simulated servers, network, clients, sidecars and a simulated clock, all driven by one seed.
//!
//! Each seed runs on its own single-threaded tokio runtime with a paused clock: time advances only when every task
//! waits, so a run of ten simulated minutes takes milliseconds and the same seed replays exactly. The runner's
//! deadlines (`tokio::time::timeout`) and the simulated world share that clock. The invariants of issue 6 are checked
//! after every 250 ms world step (the module `check` lists the exact rules).

mod check;
mod guards;
mod handoff;
mod lab;
mod platform;
mod schedule;
mod site;
pub(crate) mod world;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::engine::{Config, Role, SiteConfig};
use crate::platform::InMemoryPlatform;
use crate::runner::{Clock, Runner, RunnerConfig};
use crate::site::Flavor;

pub use lab::Lab;
pub use site::SimSite;

use check::Checker;
use handoff::Handoff;
use platform::SimPlatform;
use schedule::{Fault, GateKind, Step};
use site::lock;
use world::{Node, Rng, World, WorldParams};

/// The simulated wall clock starts here (2027-01-15), so durable stamps look real.
const EPOCH: Duration = Duration::from_secs(1_800_000_000);
/// One world step.
const TICK: Duration = Duration::from_millis(250);

/// Options of a simulation run.
#[derive(Clone, Debug)]
pub struct SimOptions {
    /// Number of sites (2..=8): the first three are primary-candidates, the fourth dr-only, the rest readers.
    pub sites: usize,
    /// Simulated time per seed.
    pub duration: Duration,
    /// The server flavour: MySQL (GTID sets, CLONE) or MariaDB (domain-server-sequence positions, no CLONE).
    pub flavor: Flavor,
}

impl Default for SimOptions {
    fn default() -> SimOptions {
        SimOptions {
            sites: 3,
            duration: Duration::from_secs(600),
            flavor: Flavor::Mysql,
        }
    }
}

/// The result of one seed.
#[derive(Clone, Debug)]
pub struct SeedReport {
    /// The seed.
    pub seed: u64,
    /// Invariant violations (empty when the seed passed).
    pub violations: Vec<String>,
    /// Recovery times (primary death → a writable primary) of qualifying primary deaths.
    pub rto: Vec<Duration>,
    /// The fault schedule, one line per step.
    pub schedule: Vec<String>,
    /// Promotions recorded (emergency and planned).
    pub promotions: usize,
    /// Acknowledged client writes.
    pub writes: u64,
}

impl SeedReport {
    /// The command that replays this seed with the same options.
    pub fn replay_command(&self, opts: &SimOptions) -> String {
        format!(
            "cargo run --release -p bloodraven-operator --features sim --bin bloodraven-sim -- --seeds 1 --start {} --sites {} --minutes {} --flavor {}",
            self.seed,
            opts.sites,
            opts.duration.as_secs() / 60,
            opts.flavor
        )
    }
}

/// Runs one seed to completion.
pub fn run_seed(seed: u64, opts: &SimOptions) -> SeedReport {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build();
    match rt {
        Ok(rt) => rt.block_on(simulate(seed, opts)),
        Err(e) => SeedReport {
            seed,
            violations: vec![format!("cannot build the simulation runtime: {e}")],
            rto: Vec::new(),
            schedule: Vec::new(),
            promotions: 0,
            writes: 0,
        },
    }
}

/// The engine configuration of the simulated group.
pub(crate) fn engine_config(sites: usize) -> Config {
    let sites = (0..sites)
        .map(|i| {
            let role = match i {
                0..3 => Role::PrimaryCandidate,
                3 => Role::DrOnly,
                _ => Role::ReadOnly,
            };
            SiteConfig::new(format!("site{i}"), role, format!("site{i}.db"))
        })
        .collect();
    let mut c = Config::new("g", sites);
    c.failover_cooldown = Duration::from_secs(90);
    c
}

async fn simulate(seed: u64, opts: &SimOptions) -> SeedReport {
    let n = opts.sites.clamp(2, 8);
    let config = engine_config(n);
    let mut rng = Rng::new(seed);
    let schedule = schedule::generate(&mut rng, n, opts.duration);
    let params = WorldParams {
        replication_lag: Duration::from_millis(300),
        apply_per_tick: 10,
        mariadb: opts.flavor == Flavor::Mariadb,
        write_probability: 0.6,
        lease_timeout: Duration::from_secs(20),
        peer_check_interval: Duration::from_secs(5),
    };
    let names: Vec<(String, Role)> = config
        .sites
        .iter()
        .map(|s| (s.name.clone(), s.role))
        .collect();
    let world = Arc::new(Mutex::new(World::new(
        &names,
        params,
        Rng::new(seed.wrapping_mul(31).wrapping_add(7)),
    )));
    let platform = InMemoryPlatform::new();
    let clock = Clock::starting_at(EPOCH);
    let sites: Vec<Arc<SimSite>> = (0..n)
        .map(|i| Arc::new(SimSite::new(Arc::clone(&world), i, format!("site{i}"))))
        .collect();
    let sim_platform = SimPlatform {
        inner: platform.clone(),
        world: Arc::clone(&world),
    };
    let spawn_operator = || {
        let (config, sites, platform) = (
            config.clone(),
            sites.clone(),
            Arc::new(sim_platform.clone()),
        );
        tokio::spawn(async move {
            Runner::new(config, sites, platform, RunnerConfig::default(), clock)
                .await
                .run()
                .await;
        })
    };
    let mut operator = Some(spawn_operator());
    let mut checker = Checker::new(&config, &schedule);
    let mut pending: Vec<(Duration, Pending)> = Vec::new();
    let mut next_step = 0;
    let mut admin_rng = Rng::new(seed ^ 0xadad);
    let mut handoff: Option<Handoff> = None;
    let ticks = (opts.duration.as_millis() / TICK.as_millis()) as u64;
    for _ in 0..ticks {
        tokio::time::sleep(TICK).await;
        let now = clock.now() - EPOCH;
        // Scheduled faults and their ends.
        while next_step < schedule.len() && schedule[next_step].at <= now {
            let step = schedule[next_step].clone();
            next_step += 1;
            let mut w = lock(&world);
            w.now = now;
            apply(&mut w, &step, &mut pending, &platform, &mut checker, now);
            if let Fault::Handoff { target } = step.fault
                && handoff.is_none()
            {
                handoff = Handoff::start(&mut w, &platform, target, now);
            }
            if let Fault::OperatorRestart { down_for } = step.fault
                && let Some(op) = operator.take()
            {
                op.abort();
                w.operator_up = false;
                pending.push((now + down_for, Pending::OperatorStart));
            }
        }
        pending.sort_by_key(|p| p.0);
        while pending.first().is_some_and(|p| p.0 <= now) {
            let (_, p) = pending.remove(0);
            let mut w = lock(&world);
            w.now = now;
            w.last_disturbance = now;
            match p {
                Pending::Restart(i, lose) => w.restart(i, lose),
                Pending::Heal(a, b) => w.block(a, b, false),
                Pending::Unhang(i) => w.servers[i].hung_until = Duration::ZERO,
                Pending::Unslow(i) => w.servers[i].latency = Duration::from_millis(2),
                Pending::GateOff(gate) => {
                    let mut p = platform.state();
                    match gate {
                        GateKind::Bootstrap(_) => p.gates.bootstrap = None,
                        GateKind::BootstrapSuppressed => p.gates.bootstrap_suppressed = false,
                        GateKind::Frozen => p.gates.frozen = false,
                        GateKind::OrderedUpdate => p.gates.ordered_update = false,
                        GateKind::Rotation(i) => {
                            let name = w.servers[i].name.clone();
                            p.gates.rotating.remove(&name);
                        }
                    }
                }
                Pending::OperatorStart => {
                    w.operator_up = true;
                    drop(w);
                    operator = Some(spawn_operator());
                }
            }
        }
        let mut w = lock(&world);
        w.now = now;
        if let Some(h) = handoff.as_mut()
            && h.step(&mut w, &platform, now)
        {
            handoff = None;
        }
        if w.operator_up {
            let (active, at) = platform.state().active_site.clone();
            w.active_site = active;
            w.active_observed = at;
        }
        w.tick();
        checker.check(&mut w, &platform, now);
        admin(&mut w, &platform, &mut admin_rng, &mut checker);
    }
    if let Some(op) = operator.take() {
        op.abort();
    }
    let w = lock(&world);
    let mut violations = std::mem::take(&mut checker.violations);
    violations.extend(w.violations.iter().cloned());
    SeedReport {
        seed,
        violations,
        rto: checker.rto.clone(),
        schedule: schedule.iter().map(ToString::to_string).collect(),
        promotions: platform
            .state()
            .record
            .as_ref()
            .map_or(0, |r| r.history.len()),
        writes: w.acked,
    }
}

/// Something to undo later.
#[derive(Clone, Copy, Debug)]
enum Pending {
    Heal(Node, Node),
    OperatorStart,
    GateOff(GateKind),
    Restart(usize, bool),
    Unhang(usize),
    Unslow(usize),
}

fn apply(
    w: &mut World,
    step: &Step,
    pending: &mut Vec<(Duration, Pending)>,
    platform: &InMemoryPlatform,
    checker: &mut Checker,
    now: Duration,
) {
    match step.fault {
        Fault::CrashPrimary {
            lose_data,
            down_for,
        } => {
            let writable: Vec<usize> = (0..w.servers.len())
                .filter(|&i| w.servers[i].up && !w.servers[i].read_only)
                .collect();
            if let [p] = writable.as_slice() {
                checker.primary_died(w, platform, *p, now);
                w.servers[*p].up = false;
                pending.push((now + down_for, Pending::Restart(*p, lose_data)));
            }
        }
        Fault::Crash {
            site,
            lose_data,
            down_for,
        } => {
            if w.servers[site].up {
                if !w.servers[site].read_only {
                    checker.primary_died(w, platform, site, now);
                }
                w.servers[site].up = false;
                pending.push((now + down_for, Pending::Restart(site, lose_data)));
            }
        }
        Fault::Partition { a, b, for_ } => {
            w.block(a, b, true);
            pending.push((now + for_, Pending::Heal(a, b)));
        }
        Fault::Isolate { site, for_ } => {
            let me = Node::Site(site);
            let others: Vec<Node> = [Node::Operator, Node::Client]
                .into_iter()
                .chain((0..w.servers.len()).filter(|&j| j != site).map(Node::Site))
                .collect();
            for o in others {
                w.block(me, o, true);
                pending.push((now + for_, Pending::Heal(me, o)));
            }
        }
        Fault::Hang { site, for_ } => {
            w.servers[site].hung_until = now + for_;
            pending.push((now + for_, Pending::Unhang(site)));
        }
        Fault::Slow {
            site,
            latency,
            for_,
        } => {
            w.servers[site].latency = latency;
            pending.push((now + for_, Pending::Unslow(site)));
        }
        Fault::Stall { site, for_ } => w.servers[site].stall_until = now + for_,
        Fault::OperatorRestart { .. } => {}
        Fault::Planned {
            target,
            max_lag_wait,
        } => {
            let value = match max_lag_wait {
                Some(m) => format!("site{target}:maxLagWait={}ms", m.as_millis()),
                None => format!("site{target}"),
            };
            platform.state().planned = Some(value);
        }
        Fault::Gate { gate, for_ } => {
            let mut p = platform.state();
            match gate {
                GateKind::Bootstrap(i) => p.gates.bootstrap = Some(w.servers[i].name.clone()),
                GateKind::BootstrapSuppressed => p.gates.bootstrap_suppressed = true,
                GateKind::Frozen => p.gates.frozen = true,
                GateKind::OrderedUpdate => p.gates.ordered_update = true,
                GateKind::Rotation(i) => {
                    // The reference refuses a rotation on the active primary.
                    if !w.servers[i].read_only {
                        return;
                    }
                    p.gates.rotating.insert(w.servers[i].name.clone());
                }
            }
            pending.push((now + for_, Pending::GateOff(gate)));
        }
        Fault::SaveFailures { count } => platform.state().fail_saves += count,
        Fault::Handoff { .. } => {}
    }
}

/// The simulated admin: answers blocked or empty sites with reclone annotations, sometimes wrong ones.
fn admin(w: &mut World, platform: &InMemoryPlatform, rng: &mut Rng, checker: &mut Checker) {
    if !rng.chance(0.01) {
        return;
    }
    let mut p = platform.state();
    if p.reclone.is_some() {
        return;
    }
    let Some(status) = p.status.clone() else {
        return;
    };
    for (i, s) in status.sites.iter().enumerate() {
        if Some(&s.name) == status.active_site.as_ref() || !w.servers[i].up {
            continue;
        }
        let value = if !s.divergent_gtid.is_empty() {
            match rng.below(10) {
                0..6 => format!(
                    "{}:{}",
                    s.name,
                    &s.divergent_gtid[..12.min(s.divergent_gtid.len())]
                ),
                6..8 => format!(
                    "{}:{}",
                    s.name,
                    &s.divergent_gtid[..5.min(s.divergent_gtid.len())]
                ),
                _ => format!(
                    "{}:{}x",
                    s.name,
                    &s.divergent_gtid[..10.min(s.divergent_gtid.len())]
                ),
            }
        } else if w.servers[i].truth.is_empty() && s.state == crate::engine::SiteState::ReadOnly {
            if rng.chance(0.8) {
                format!("{}:confirm=g", s.name)
            } else {
                s.name.clone()
            }
        } else {
            continue;
        };
        checker.reclone_requested(i, value.clone());
        p.reclone = Some(value);
        return;
    }
}
