//! Criterion benchmarks: parse, print, union, subtract and subset at 1, 1 000 and 100 000 intervals
//! (one UUID) and at 1 000 UUIDs (3 intervals each). `benches/python_peer.py` runs these and the same
//! workloads in python-mysql-replication, then prints ratios; see docs/benchmarks.md.
//!
//! Times are this thread's CPU time (see `support/cpu_time.rs`), not wall-clock time, because the
//! benchmark machine is shared.

#[path = "support/cpu_time.rs"]
mod cpu_time;

use std::hint::black_box;

use bloodraven_gtid::GtidSet;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

use crate::cpu_time::CpuTime;

/// Interval shapes, kept in sync with `python_peer.py`: interval k is `10k+lo ..= 10k+hi`.
const A: (u64, u64) = (1, 5);
/// Disjoint from A and interleaved with it (the peer's union rejects overlapping input).
const B_UNION: (u64, u64) = (7, 8);
/// Overlapping A.
const B_SUB: (u64, u64) = (4, 8);

/// (name, number of UUIDs, intervals per UUID).
const WORKLOADS: [(&str, usize, u64); 4] = [
    ("1_interval", 1, 1),
    ("1k_intervals", 1, 1_000),
    ("100k_intervals", 1, 100_000),
    ("1k_uuids", 1_000, 3),
];

fn text(uuids: usize, n: u64, (lo, hi): (u64, u64)) -> String {
    (0..uuids)
        .map(|u| {
            let ivs: Vec<String> = (0..n)
                .map(|k| format!("{}-{}", 10 * k + lo, 10 * k + hi))
                .collect();
            format!(
                "{:08x}-71ca-11e1-9e33-c80aa9429562:{}",
                0x3e11_0000 + u,
                ivs.join(":")
            )
        })
        .collect::<Vec<_>>()
        .join(",\n")
}

fn bench(c: &mut Criterion<CpuTime>) {
    for (name, uuids, n) in WORKLOADS {
        let a_text = text(uuids, n, A);
        let a = GtidSet::parse(&a_text).expect("workload parses");
        let b_union = GtidSet::parse(&text(uuids, n, B_UNION)).expect("workload parses");
        let b_sub = GtidSet::parse(&text(uuids, n, B_SUB)).expect("workload parses");
        let superset = a.union(&b_union);
        assert!(a.is_subset(&superset));

        let mut group = c.benchmark_group("parse");
        group.throughput(Throughput::Bytes(a_text.len() as u64));
        group.bench_function(BenchmarkId::from_parameter(name), |bench| {
            bench.iter(|| GtidSet::parse(black_box(&a_text)))
        });
        group.finish();

        // `print` is the fastest way to print a set: `write_text` into a `String` reused across calls,
        // as a hot loop would. `to_text` also allocates the `String` each time, and `to_string` goes
        // through `Display` and a formatter; both are measured beside it.
        let mut group = c.benchmark_group("print");
        group.throughput(Throughput::Bytes(a_text.len() as u64));
        let mut out = String::new();
        group.bench_function(BenchmarkId::from_parameter(name), |bench| {
            bench.iter(|| {
                out.clear();
                black_box(&a).write_text(&mut out);
                black_box(out.len())
            })
        });
        group.finish();
        let mut group = c.benchmark_group("print_to_text");
        group.throughput(Throughput::Bytes(a_text.len() as u64));
        group.bench_function(BenchmarkId::from_parameter(name), |bench| {
            bench.iter(|| black_box(&a).to_text())
        });
        group.finish();
        let mut group = c.benchmark_group("print_to_string");
        group.throughput(Throughput::Bytes(a_text.len() as u64));
        group.bench_function(BenchmarkId::from_parameter(name), |bench| {
            bench.iter(|| black_box(&a).to_string())
        });
        group.finish();

        c.benchmark_group("union")
            .bench_function(BenchmarkId::from_parameter(name), |bench| {
                bench.iter(|| black_box(&a).union(black_box(&b_union)))
            });
        c.benchmark_group("subtract")
            .bench_function(BenchmarkId::from_parameter(name), |bench| {
                bench.iter(|| black_box(&a).difference(black_box(&b_sub)))
            });
        c.benchmark_group("subset")
            .bench_function(BenchmarkId::from_parameter(name), |bench| {
                bench.iter(|| black_box(&a).is_subset(black_box(&superset)))
            });
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(CpuTime);
    targets = bench
}
criterion_main!(benches);
