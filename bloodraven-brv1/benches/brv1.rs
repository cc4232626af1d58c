//! Sealing and opening throughput, on one thread and on all cores, through the streaming
//! adapters into and out of memory.
//!
//! The one-thread figures are also measured in this thread's CPU time (groups ending in
//! "(CPU time)"), which stays meaningful on a loaded machine and compares with
//! `openssl speed`, which also divides by CPU time. All-core figures need wall-clock time.
//!
//! `cargo bench -p bloodraven-brv1 --bench brv1 -- --warm-up-time 1 --measurement-time 3`
//! (`benches/compare.sh` measures the same against OpenSSL and age on a 1 GiB file).

use std::hint::black_box;
use std::io::{Read, Write};
use std::num::NonZeroUsize;

use bloodraven_brv1::{Decryptor, Encryptor, Passphrase, ciphertext_len};
use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const LEN: usize = 32 << 20;

fn threads() -> [(&'static str, NonZeroUsize); 2] {
    let all = std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN);
    [("1 thread", NonZeroUsize::MIN), ("all cores", all)]
}

/// Seals `plain` into `out` (cleared first, so its pages are reused between iterations).
fn seal_into(pass: &Passphrase, plain: &[u8], threads: NonZeroUsize, out: &mut Vec<u8>) {
    out.clear();
    let mut enc = Encryptor::new(pass, &mut *out)
        .unwrap()
        .with_threads(threads);
    for part in plain.chunks(256 * 1024) {
        enc.write_all(part).unwrap();
    }
    enc.finish().unwrap();
}

fn seal(pass: &Passphrase, plain: &[u8], threads: NonZeroUsize) -> Vec<u8> {
    let mut out = Vec::with_capacity(ciphertext_len(plain.len() as u64) as usize);
    seal_into(pass, plain, threads, &mut out);
    out
}

fn open(pass: &Passphrase, sealed: &[u8], threads: NonZeroUsize, out: &mut [u8]) {
    let mut dec = Decryptor::new(pass, sealed).unwrap().with_threads(threads);
    let mut total = 0;
    loop {
        let got = dec.read(out).unwrap();
        if got == 0 {
            break;
        }
        total += got;
    }
    assert_eq!(total, LEN);
}

fn inputs() -> (Passphrase, Vec<u8>, Vec<u8>) {
    let pass = Passphrase::new(b"benchmark passphrase".to_vec()).unwrap();
    let plain: Vec<u8> = (0..LEN).map(|i| (i * 31 + i / 4096) as u8).collect();
    let sealed = seal(&pass, &plain, NonZeroUsize::MIN);
    (pass, plain, sealed)
}

fn wall(c: &mut Criterion) {
    let (pass, plain, sealed) = inputs();
    let mut group = c.benchmark_group("seal 32 MiB");
    group.throughput(Throughput::Bytes(LEN as u64));
    group.sample_size(10);
    let mut out = seal(&pass, &plain, NonZeroUsize::MIN);
    for (name, n) in threads() {
        group.bench_function(name, |b| {
            b.iter(|| seal_into(&pass, &plain, n, black_box(&mut out)))
        });
    }
    group.finish();
    let mut group = c.benchmark_group("open 32 MiB");
    group.throughput(Throughput::Bytes(LEN as u64));
    group.sample_size(10);
    let mut out = vec![0u8; 256 * 1024];
    for (name, n) in threads() {
        group.bench_function(name, |b| b.iter(|| open(&pass, &sealed, n, &mut out)));
    }
    group.finish();
}

fn cpu(c: &mut Criterion<CpuTime>) {
    let (pass, plain, sealed) = inputs();
    let mut group = c.benchmark_group("1 thread (CPU time)");
    group.throughput(Throughput::Bytes(LEN as u64));
    group.sample_size(10);
    let mut sealed_out = seal(&pass, &plain, NonZeroUsize::MIN);
    group.bench_function("seal 32 MiB", |b| {
        b.iter(|| seal_into(&pass, &plain, NonZeroUsize::MIN, black_box(&mut sealed_out)))
    });
    let mut out = vec![0u8; 256 * 1024];
    group.bench_function("open 32 MiB", |b| {
        b.iter(|| open(&pass, &sealed, NonZeroUsize::MIN, &mut out))
    });
    group.finish();
}

/// This thread's CPU time (`CLOCK_THREAD_CPUTIME_ID` through the `cpu-time` crate).
struct CpuTime;

impl Measurement for CpuTime {
    type Intermediate = cpu_time::ThreadTime;
    type Value = std::time::Duration;

    fn start(&self) -> cpu_time::ThreadTime {
        cpu_time::ThreadTime::now()
    }

    fn end(&self, start: cpu_time::ThreadTime) -> std::time::Duration {
        start.elapsed()
    }

    fn add(&self, a: &std::time::Duration, b: &std::time::Duration) -> std::time::Duration {
        *a + *b
    }

    fn zero(&self) -> std::time::Duration {
        std::time::Duration::ZERO
    }

    fn to_f64(&self, value: &std::time::Duration) -> f64 {
        value.as_nanos() as f64
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        WallTime.formatter()
    }
}

criterion_group!(wall_clock, wall);
criterion_group! {
    name = cpu_time_group;
    config = Criterion::default().with_measurement(CpuTime);
    targets = cpu
}
criterion_main!(wall_clock, cpu_time_group);
