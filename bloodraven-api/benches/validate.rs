//! Cost of reading and checking manifests (what `lint` and the operator's admission path pay).
//!
//! `cargo bench -p bloodraven-api --bench validate -- --warm-up-time 1 --measurement-time 2`
#![allow(missing_docs)]

use bloodraven_api::MysqlFailoverGroup;
use bloodraven_api::duration::Duration;
use bloodraven_api::manifest::{self, Manifest};
use bloodraven_api::validate::Validate;
use criterion::{Criterion, criterion_group, criterion_main};
use kube::CustomResourceExt;

const GROUP: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/fixtures/manifests/failovergroup-source-pitr.yaml"
));

fn benches(c: &mut Criterion) {
    let value = manifest::documents(GROUP).unwrap().remove(0);
    // Warm the per-kind schema cache so the figures are per document, not per process.
    assert!(manifest::check(&value).unwrap().violations.is_empty());
    let Manifest::FailoverGroup(group) = Manifest::from_value(value.clone()).unwrap() else {
        unreachable!()
    };

    c.bench_function("yaml_to_json_value (1.2 KB group)", |b| {
        b.iter(|| manifest::documents(std::hint::black_box(GROUP)).unwrap())
    });
    c.bench_function("check (schema walk + decode + rules)", |b| {
        b.iter(|| manifest::check(std::hint::black_box(&value)).unwrap())
    });
    c.bench_function("typed violations()", |b| {
        b.iter(|| std::hint::black_box(&group).violations())
    });
    c.bench_function("duration parse 1h30m15.5s", |b| {
        b.iter(|| Duration::parse(std::hint::black_box("1h30m15.5s")).unwrap())
    });
    c.bench_function("MysqlFailoverGroup::crd() (uncached)", |b| {
        b.iter(MysqlFailoverGroup::crd)
    });
}

criterion_group!(group, benches);
criterion_main!(group);
