//! The deterministic simulation as a test: 2 100 seeds, the five invariants of issue 6 and the four of the guards and
//! the authority epoch (see `sim::check` and `sim::guards`) after every step.
//!
//! Longer runs: `cargo run --release -p bloodraven-operator --features sim --bin bloodraven-sim -- --seeds 100000 --jobs 2`.

use std::time::Duration;

use bloodraven_operator::sim::{SimOptions, run_seed};
use bloodraven_operator::site::Flavor;

/// Simulated time per seed in the test suite (the binary defaults to 10 minutes).
const MINUTES: u64 = 5;

fn run(start: u64, count: u64, sites: usize) -> Vec<Duration> {
    run_flavor(start, count, sites, Flavor::Mysql)
}

fn run_flavor(start: u64, count: u64, sites: usize, flavor: Flavor) -> Vec<Duration> {
    let opts = SimOptions {
        sites,
        duration: Duration::from_secs(MINUTES * 60),
        flavor,
    };
    let mut failures = Vec::new();
    let mut rto = Vec::new();
    for seed in start..start + count {
        let r = run_seed(seed, &opts);
        if !r.violations.is_empty() {
            failures.push(format!(
                "seed {seed}:\n  {}\n  schedule:\n    {}\n  replay: {}",
                r.violations.join("\n  "),
                r.schedule.join("\n    "),
                r.replay_command(&opts)
            ));
        }
        rto.extend(r.rto);
    }
    assert!(
        failures.is_empty(),
        "{} failing seeds:\n{}",
        failures.len(),
        failures.join("\n")
    );
    rto
}

#[test]
fn three_sites_seeds_0_to_700() {
    let rto = run(0, 700, 3);
    assert!(!rto.is_empty(), "no qualifying primary death was timed");
}

#[test]
fn three_sites_seeds_700_to_1400() {
    run(700, 700, 3);
}

#[test]
fn two_sites_seeds_0_to_400() {
    run(0, 400, 2);
}

#[test]
fn five_sites_with_dr_only_and_reader_seeds_0_to_300() {
    run(0, 300, 5);
}

#[test]
fn mariadb_three_sites_seeds_0_to_200() {
    // Domain-server-sequence positions, invariant 3 through the per-(domain, server) comparison and the binary-log
    // scan the MariaDB driver uses, and no CLONE (auto-clones and reclones fail with the typed error).
    let rto = run_flavor(0, 200, 3, Flavor::Mariadb);
    assert!(!rto.is_empty(), "no qualifying primary death was timed");
}

#[test]
fn a_seed_replays_exactly() {
    let opts = SimOptions {
        sites: 3,
        duration: Duration::from_secs(MINUTES * 60),
        flavor: Flavor::Mysql,
    };
    for seed in [7, 42] {
        let a = run_seed(seed, &opts);
        let b = run_seed(seed, &opts);
        assert_eq!(a.schedule, b.schedule);
        assert_eq!(a.violations, b.violations);
        assert_eq!(a.rto, b.rto);
        assert_eq!((a.writes, a.promotions), (b.writes, b.promotions));
        assert!(a.writes > 0);
    }
}
