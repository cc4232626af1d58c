//! Criterion benchmarks: parse, print, union, subtract and subset at 1, 1 000 and 100 000 intervals
//! (one UUID) and at 1 000 UUIDs. `benches/python_peer.py` runs these and the same workloads in
//! python-mysql-replication, then prints ratios; see docs/benchmarks.md.

use std::hint::black_box;

use bloodraven_gtid::GtidSet;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

/// The workloads: (name, set A text, set B text). B overlaps A partly, so every operation does real work.
/// Kept in sync with `python_peer.py`.
fn workloads() -> Vec<(&'static str, String, String)> {
    let uuid = |i: usize| format!("{:08x}-71ca-11e1-9e33-c80aa9429562", 0x3e11_0000 + i);
    let intervals = |n: usize, shift: u64| {
        (0..n as u64)
            .map(|k| format!("{}-{}", 10 * k + 1 + shift, 10 * k + 5 + shift))
            .collect::<Vec<_>>()
            .join(":")
    };
    let one_uuid = |n: usize, shift: u64| format!("{}:{}", uuid(0), intervals(n, shift));
    let many_uuids = |n: usize, shift: u64| {
        (0..n)
            .map(|i| format!("{}:{}", uuid(i), intervals(3, shift)))
            .collect::<Vec<_>>()
            .join(",\n")
    };
    vec![
        ("1_interval", one_uuid(1, 0), one_uuid(1, 3)),
        ("1k_intervals", one_uuid(1_000, 0), one_uuid(1_000, 3)),
        ("100k_intervals", one_uuid(100_000, 0), one_uuid(100_000, 3)),
        ("1k_uuids", many_uuids(1_000, 0), many_uuids(1_000, 3)),
    ]
}

fn bench(c: &mut Criterion) {
    for (name, a_text, b_text) in workloads() {
        let a = GtidSet::parse(&a_text).expect("workload parses");
        let b = GtidSet::parse(&b_text).expect("workload parses");
        let ab = a.union(&b);

        let mut group = c.benchmark_group("parse");
        group.throughput(Throughput::Bytes(a_text.len() as u64));
        group.bench_function(BenchmarkId::from_parameter(name), |bench| {
            bench.iter(|| GtidSet::parse(black_box(&a_text)))
        });
        group.finish();

        let mut group = c.benchmark_group("print");
        group.throughput(Throughput::Bytes(a_text.len() as u64));
        group.bench_function(BenchmarkId::from_parameter(name), |bench| {
            bench.iter(|| black_box(&a).to_string())
        });
        group.finish();

        c.benchmark_group("union")
            .bench_function(BenchmarkId::from_parameter(name), |bench| {
                bench.iter(|| black_box(&a).union(&b))
            });
        c.benchmark_group("subtract")
            .bench_function(BenchmarkId::from_parameter(name), |bench| {
                bench.iter(|| black_box(&a).difference(&b))
            });
        c.benchmark_group("subset")
            .bench_function(BenchmarkId::from_parameter(name), |bench| {
                bench.iter(|| black_box(&a).is_subset(&ab))
            });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
