//! The fault schedule of one seed: what happens when, generated up front from the seed and printed on failure.

use std::fmt;
use std::time::Duration;

use super::world::{Node, Rng};

/// One injected fault or admin request.
#[derive(Clone, Debug, Eq, PartialEq)]
pub(crate) enum Fault {
    /// The server that is the unique writable primary at that moment crashes (nothing if there is none).
    CrashPrimary { lose_data: bool, down_for: Duration },
    /// A given server crashes.
    Crash {
        site: usize,
        lose_data: bool,
        down_for: Duration,
    },
    /// The link between two nodes black-holes.
    Partition { a: Node, b: Node, for_: Duration },
    /// A server is cut from everyone (operator, clients, peers).
    Isolate { site: usize, for_: Duration },
    /// Every call to a server hangs.
    Hang { site: usize, for_: Duration },
    /// Every call to a server is slow.
    Slow {
        site: usize,
        latency: Duration,
        for_: Duration,
    },
    /// A replica's applier stalls (relay backlog builds up).
    Stall { site: usize, for_: Duration },
    /// The operator process restarts (rehydrates from the durable record).
    OperatorRestart { down_for: Duration },
    /// An admin requests a planned failover to a site.
    Planned {
        target: usize,
        max_lag_wait: Option<Duration>,
    },
    /// Another controller holds a guard for a while.
    Gate { gate: GateKind, for_: Duration },
    /// An ordered update hands the primary over to a replicating candidate: an external, recorded promotion that
    /// bumps the authority epoch.
    Handoff { target: usize },
    /// The next `count` saves of the durable record fail.
    SaveFailures { count: u32 },
}

/// Which guard another controller holds ([`crate::engine::Gates`]).
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(crate) enum GateKind {
    /// A bootstrap or clone into a site (another controller's).
    Bootstrap(usize),
    /// An `initFromBackup` restore suppresses automatic bootstraps.
    BootstrapSuppressed,
    /// An in-place restore freezes the topology.
    Frozen,
    /// An ordered update runs (without a handoff).
    OrderedUpdate,
    /// A site's keyring rotates (only started on a read-only site, as the reference refuses the active primary).
    Rotation(usize),
}

/// A timed fault.
#[derive(Clone, Debug, Eq, PartialEq)]
pub(crate) struct Step {
    pub(crate) at: Duration,
    pub(crate) fault: Fault,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t={:>7.1}s ", self.at.as_secs_f64())?;
        let s = |d: &Duration| format!("{:.1}s", d.as_secs_f64());
        match &self.fault {
            Fault::CrashPrimary {
                lose_data,
                down_for,
            } => {
                write!(
                    f,
                    "crash primary lose_data={lose_data} down={}",
                    s(down_for)
                )
            }
            Fault::Crash {
                site,
                lose_data,
                down_for,
            } => {
                write!(
                    f,
                    "crash site{site} lose_data={lose_data} down={}",
                    s(down_for)
                )
            }
            Fault::Partition { a, b, for_ } => write!(f, "partition {a:?}<->{b:?} for {}", s(for_)),
            Fault::Isolate { site, for_ } => write!(f, "isolate site{site} for {}", s(for_)),
            Fault::Hang { site, for_ } => write!(f, "hang site{site} for {}", s(for_)),
            Fault::Slow {
                site,
                latency,
                for_,
            } => write!(f, "slow site{site} latency={} for {}", s(latency), s(for_)),
            Fault::Stall { site, for_ } => write!(f, "stall applier site{site} for {}", s(for_)),
            Fault::OperatorRestart { down_for } => {
                write!(f, "operator restart down={}", s(down_for))
            }
            Fault::Planned {
                target,
                max_lag_wait,
            } => match max_lag_wait {
                Some(m) => write!(f, "planned failover to site{target} maxLagWait={}", s(m)),
                None => write!(f, "planned failover to site{target}"),
            },
            Fault::Gate { gate, for_ } => write!(f, "gate {gate:?} for {}", s(for_)),
            Fault::Handoff { target } => write!(f, "ordered-update handoff to site{target}"),
            Fault::SaveFailures { count } => write!(f, "next {count} record saves fail"),
        }
    }
}

/// Generates the schedule of one seed.
pub(crate) fn generate(rng: &mut Rng, sites: usize, duration: Duration) -> Vec<Step> {
    let count = 3 + rng.below(7);
    let end = duration.saturating_sub(Duration::from_secs(90));
    let mut steps: Vec<Step> = (0..count)
        .map(|_| {
            let at = rng.range(Duration::from_secs(20), end);
            let site = rng.below(sites as u64) as usize;
            let short = rng.range(Duration::from_secs(3), Duration::from_secs(45));
            let fault = match rng.below(124) {
                0..30 => Fault::CrashPrimary {
                    lose_data: rng.chance(0.25),
                    down_for: rng.range(Duration::from_secs(5), Duration::from_secs(120)),
                },
                30..38 => Fault::Crash {
                    site,
                    lose_data: rng.chance(0.2),
                    down_for: rng.range(Duration::from_secs(5), Duration::from_secs(90)),
                },
                38..50 => {
                    let a = pick_node(rng, sites);
                    let mut b = pick_node(rng, sites);
                    if a == b {
                        b = Node::Operator;
                    }
                    Fault::Partition {
                        a,
                        b,
                        for_: rng.range(Duration::from_secs(3), Duration::from_secs(60)),
                    }
                }
                50..58 => Fault::Isolate {
                    site,
                    for_: rng.range(Duration::from_secs(3), Duration::from_secs(60)),
                },
                58..65 => Fault::Hang { site, for_: short },
                65..70 => Fault::Slow {
                    site,
                    latency: rng.range(Duration::from_millis(200), Duration::from_secs(7)),
                    for_: short,
                },
                70..80 => Fault::Stall {
                    site,
                    for_: rng.range(Duration::from_secs(5), Duration::from_secs(50)),
                },
                80..88 => Fault::OperatorRestart {
                    down_for: rng.range(Duration::from_secs(1), Duration::from_secs(10)),
                },
                88..100 => Fault::Planned {
                    target: rng.below(sites.min(3) as u64) as usize,
                    max_lag_wait: rng
                        .chance(0.3)
                        .then(|| rng.range(Duration::from_secs(1), Duration::from_secs(20))),
                },
                100..108 => Fault::Gate {
                    gate: match rng.below(5) {
                        0 => GateKind::Frozen,
                        1 => GateKind::OrderedUpdate,
                        2 => GateKind::Bootstrap(site),
                        3 => GateKind::BootstrapSuppressed,
                        _ => GateKind::Rotation(site),
                    },
                    for_: rng.range(Duration::from_secs(5), Duration::from_secs(60)),
                },
                108..114 => Fault::Handoff {
                    target: rng.below(sites.min(3) as u64) as usize,
                },
                114..118 => Fault::SaveFailures {
                    count: 1 + rng.below(4) as u32,
                },
                _ => Fault::Crash {
                    site,
                    lose_data: true,
                    down_for: rng.range(Duration::from_secs(5), Duration::from_secs(60)),
                },
            };
            Step { at, fault }
        })
        .collect();
    steps.sort_by_key(|s| s.at);
    steps
}

fn pick_node(rng: &mut Rng, sites: usize) -> Node {
    match rng.below(sites as u64 + 2) {
        0 => Node::Operator,
        1 => Node::Client,
        n => Node::Site(n as usize - 2),
    }
}
