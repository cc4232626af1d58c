//! `bloodraven-sim`: runs the deterministic failover simulation over many seeds.
//!
//! ```text
//! bloodraven-sim --seeds N [--start S] [--sites K] [--minutes M] [--jobs J] [--flavor mysql|mariadb] [--verbose]
//! ```
//! Prints each failing seed with its violations, its schedule and the command that replays it, then one final line
//! `seeds=N violations=V rto_p50=…s rto_p99=…s rto_max=…s` (simulated time). Exit status: 0 when every invariant
//! held, 1 when any was violated, 2 on a usage error. With `SIM_DEBUG=1` in the environment the simulation also
//! traces primary deaths (and whether they qualify for the RTO bound), unfences and sidecar self-fences on stderr.

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bloodraven_operator::sim::{SeedReport, SimOptions, run_seed};
use bloodraven_operator::site::Flavor;

const USAGE: &str = "usage: bloodraven-sim --seeds N [--start S] [--sites K] [--minutes M] [--jobs J] [--flavor mysql|mariadb] [--verbose]";

struct Args {
    seeds: u64,
    start: u64,
    opts: SimOptions,
    jobs: usize,
    verbose: bool,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        seeds: 100,
        start: 0,
        opts: SimOptions::default(),
        jobs: 1,
        verbose: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--verbose" {
            a.verbose = true;
            continue;
        }
        if flag == "-h" || flag == "--help" {
            return Err(String::new());
        }
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let num = |v: &str| {
            v.parse::<u64>()
                .map_err(|_| format!("{flag} expects a number, got {v:?}"))
        };
        match flag.as_str() {
            "--seeds" => a.seeds = num(&value)?,
            "--start" => a.start = num(&value)?,
            "--sites" => {
                let k = num(&value)?;
                if !(2..=8).contains(&k) {
                    return Err(format!("--sites must be between 2 and 8, got {k}"));
                }
                a.opts.sites = k as usize;
            }
            "--minutes" => a.opts.duration = Duration::from_secs(num(&value)?.max(2) * 60),
            "--jobs" => a.jobs = num(&value)?.clamp(1, 64) as usize,
            "--flavor" => {
                a.opts.flavor = match value.as_str() {
                    "mysql" => Flavor::Mysql,
                    "mariadb" => Flavor::Mariadb,
                    other => {
                        return Err(format!("--flavor expects mysql or mariadb, got {other:?}"));
                    }
                }
            }
            other => return Err(format!("unknown flag {other:?}")),
        }
    }
    Ok(a)
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(a) => a,
        Err(e) if e.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("bloodraven-sim: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let next = Arc::new(AtomicU64::new(args.start));
    let end = args.start + args.seeds;
    let results: Arc<Mutex<(u64, Vec<Duration>)>> = Arc::new(Mutex::new((0, Vec::new())));
    let workers: Vec<_> = (0..args.jobs)
        .map(|_| {
            let (next, results, opts, verbose) = (
                Arc::clone(&next),
                Arc::clone(&results),
                args.opts.clone(),
                args.verbose,
            );
            std::thread::spawn(move || {
                loop {
                    let seed = next.fetch_add(1, Ordering::Relaxed);
                    if seed >= end {
                        break;
                    }
                    let r = run_seed(seed, &opts);
                    report(&r, &opts, verbose);
                    let mut g = results.lock().unwrap_or_else(|e| e.into_inner());
                    g.0 += r.violations.len() as u64;
                    g.1.extend(r.rto);
                }
            })
        })
        .collect();
    for w in workers {
        if w.join().is_err() {
            eprintln!("bloodraven-sim: a worker panicked");
            return ExitCode::from(2);
        }
    }
    let (violations, mut rto) =
        std::mem::take(&mut *results.lock().unwrap_or_else(|e| e.into_inner()));
    rto.sort();
    let pct = |p: f64| {
        rto.get(((rto.len() as f64 - 1.0) * p).round() as usize)
            .map_or(0.0, |d| d.as_secs_f64())
    };
    println!(
        "seeds={} violations={violations} rto_p50={:.1}s rto_p99={:.1}s rto_max={:.1}s",
        args.seeds,
        pct(0.5),
        pct(0.99),
        rto.last().map_or(0.0, |d| d.as_secs_f64())
    );
    if violations > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn report(r: &SeedReport, opts: &SimOptions, verbose: bool) {
    if r.violations.is_empty() && !verbose {
        return;
    }
    let mut out = format!(
        "seed {}: {} violation(s), {} promotion(s), {} writes\n",
        r.seed,
        r.violations.len(),
        r.promotions,
        r.writes
    );
    for v in &r.violations {
        out.push_str(&format!("  violation: {v}\n"));
    }
    out.push_str("  schedule:\n");
    for s in &r.schedule {
        out.push_str(&format!("    {s}\n"));
    }
    out.push_str(&format!("  replay: {}\n", r.replay_command(opts)));
    print!("{out}");
}
