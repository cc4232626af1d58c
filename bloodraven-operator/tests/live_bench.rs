//! Live failover benchmarks on real MariaDB servers: they assert the behaviour (promotion, never two writable
//! sites, zero lost acknowledged writes) and print the measured distribution (never a timed assertion). The
//! figures in docs/benchmarks.md come from 10 runs of each:
//!
//! ```text
//! BLOODRAVEN_LIVE_BENCH_RUNS=10 cargo test -p bloodraven-operator --test live_bench -- --nocapture --test-threads=1
//! ```
//!
//! The normal test run does [`DEFAULT_RUNS`] of each, to keep CI short.
//!
//! * `live_rto_at_default_settings`: two sites, the reference defaults (poll 2 s, 3 failed probes, 30 s drain
//!   budget); a client writes every 2 ms following the DNS record; SIGKILL of the primary. Per run: kill → new
//!   primary writable (sampled every 20 ms) and kill → first acknowledged client write on it.
//! * `planned_switchover_write_unavailability`: two sites, defaults, a client writing every 1 ms through the
//!   `-primary` Service model (DNS target, no endpoint while the fenced source drains); the planned-failover
//!   annotation names the replica. Per run: the longest gap between two acknowledged writes, that no
//!   acknowledged write was lost, and where the time went (annotation seen → fence → sessions drained → target
//!   caught up and promoted → DNS flipped).

mod live_support;

use std::time::{Duration, Instant};

use bloodraven_operator::engine::Config;
use live_support::{Group, Monitor, Operator, WriteLoad, replicating};

const WAIT: Duration = Duration::from_secs(60);

/// Runs of each benchmark in the normal test run.
const DEFAULT_RUNS: usize = 3;

fn runs() -> usize {
    std::env::var("BLOODRAVEN_LIVE_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_RUNS)
}

#[test]
fn live_rto_at_default_settings() {
    let mut writable = Vec::new();
    let mut client = Vec::new();
    for run in 0..runs() {
        let mut group = Group::start(2);
        let ports: Vec<u16> = group.servers.iter().map(|s| s.port()).collect();
        let op = Operator::start(&group, Config::new("orders", group.site_configs()));
        op.wait("a healthy group", WAIT, |s| {
            s.active_site.as_deref() == Some("iad") && replicating(s, "pdx")
        });
        let epoch = Instant::now();
        let monitor = Monitor::start(ports.clone(), Duration::from_millis(20), epoch);
        let load = WriteLoad::start(ports, op.dns_route(), Duration::from_millis(2), epoch);
        // Kill at a random phase of the poll cycle.
        std::thread::sleep(Duration::from_millis(500 + 397 * run as u64 % 2000));
        group.servers[0].kill().unwrap();
        let killed = epoch.elapsed();
        op.wait("pdx promoted", WAIT, |s| {
            s.active_site.as_deref() == Some("pdx")
        });
        op.wait("the DNS record on pdx", WAIT, |_| {
            op.platform.state().dns.as_deref() == Some("pdx")
        });
        std::thread::sleep(Duration::from_millis(300));
        let report = load.finish();
        let samples = monitor.finish();
        assert_eq!(Monitor::max_writable(&samples), 1);
        let w = Monitor::first_writable(&samples, 1, killed).expect("pdx writable") - killed;
        let c = report
            .first_ack_elsewhere(0, killed)
            .expect("client write on pdx")
            - killed;
        eprintln!("run {run}: kill -> pdx writable {w:?}, kill -> first client write {c:?}");
        writable.push(w);
        client.push(c);
        op.stop();
    }
    eprintln!(
        "live RTO (defaults: poll 2s, failureThreshold 3), {} runs: writable median {:.2}s max {:.2}s; \
         first client write median {:.2}s max {:.2}s",
        writable.len(),
        median(&writable),
        max(&writable),
        median(&client),
        max(&client)
    );
}

#[test]
fn planned_switchover_write_unavailability() {
    let mut gaps = Vec::new();
    for run in 0..runs() {
        let group = Group::start(2);
        let ports: Vec<u16> = group.servers.iter().map(|s| s.port()).collect();
        let op = Operator::start(&group, Config::new("orders", group.site_configs()));
        op.wait("a healthy group", WAIT, |s| {
            s.active_site.as_deref() == Some("iad") && replicating(s, "pdx")
        });
        let epoch = Instant::now();
        let load = WriteLoad::start(ports, op.service_route(), Duration::from_millis(1), epoch);
        std::thread::sleep(Duration::from_millis(1000));
        let planned = op.switch_over("pdx", WAIT);
        let promotion = op.last_promotion();
        let since = |t: Option<Duration>| {
            t.map_or("-".to_owned(), |t| {
                format!(
                    "{:.0}ms",
                    (t.saturating_sub(planned.start)).as_secs_f64() * 1e3
                )
            })
        };
        std::thread::sleep(Duration::from_millis(300));
        let report = load.finish();
        let on_pdx = group.ids(1);
        let lost = report.missing_from(&on_pdx);
        assert!(lost.is_empty(), "acknowledged writes lost: {lost:?}");
        let gap = report.longest_gap();
        eprintln!(
            "run {run}: write unavailability {gap:?}, {} writes acked, 0 lost; after the annotation was \
             seen: fenced {}, drained {}, promoted {}, completed {}; fence -> promoted {:?}",
            report.acked.len(),
            since(planned.drain_start),
            since(planned.lag_wait_start),
            since(Some(promotion.at)),
            since(planned.completion),
            promotion.write_unavailability.unwrap_or_default(),
        );
        let writable = group
            .servers
            .iter()
            .filter(|s| {
                s.sql("SELECT @@global.read_only")
                    .is_ok_and(|v| v.trim() == "0")
            })
            .count();
        assert_eq!(
            writable, 1,
            "exactly one writable site after the switchover"
        );
        gaps.push(gap);
        op.stop();
    }
    eprintln!(
        "planned switchover (defaults: poll 2s), {} runs: write unavailability median {:.2}s max {:.2}s, 0 lost",
        gaps.len(),
        median(&gaps),
        max(&gaps)
    );
}

fn median(v: &[Duration]) -> f64 {
    let mut s: Vec<f64> = v.iter().map(Duration::as_secs_f64).collect();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n == 0 {
        return 0.0;
    }
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

fn max(v: &[Duration]) -> f64 {
    v.iter().map(Duration::as_secs_f64).fold(0.0, f64::max)
}
