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
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

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

/// One 64 KiB chunk sealed and opened by each AES-256-GCM implementation considered for the
/// chunk cipher (RustCrypto `aes-gcm`, `ring`), in this thread's CPU time: the same work as
/// `openssl speed -evp aes-256-gcm -bytes 65536`.
fn chunk(c: &mut Criterion<CpuTime>) {
    use aes_gcm::aead::AeadInOut;
    use aes_gcm::{Aes256Gcm, KeyInit, Tag};
    use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};

    const CHUNK: usize = 64 * 1024;
    let key = [7u8; 32];
    let nonce = [9u8; 12];
    let mut buf: Vec<u8> = (0..CHUNK).map(|i| i as u8).collect();
    let mut group = c.benchmark_group("chunk 64 KiB (CPU time)");
    group.throughput(Throughput::Bytes(CHUNK as u64));

    let rc = Aes256Gcm::new_from_slice(&key).unwrap();
    let rc_tag = rc
        .encrypt_inout_detached(&nonce.into(), &[], buf.as_mut_slice().into())
        .unwrap();
    let rc_sealed = buf.clone();
    group.bench_function("aes-gcm seal", |b| {
        b.iter(|| {
            rc.encrypt_inout_detached(&nonce.into(), &[], black_box(buf.as_mut_slice()).into())
                .unwrap()
        })
    });
    // Every open gets a fresh copy of the sealed chunk (made outside the timing), so it
    // authenticates and does the whole work.
    group.bench_function("aes-gcm open", |b| {
        b.iter_batched_ref(
            || rc_sealed.clone(),
            |sealed| {
                rc.decrypt_inout_detached(
                    &nonce.into(),
                    &[],
                    sealed.as_mut_slice().into(),
                    &Tag::from(rc_tag),
                )
                .unwrap()
            },
            BatchSize::SmallInput,
        )
    });
    let ring_key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &key).unwrap());
    let ring_tag = ring_key
        .seal_in_place_separate_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut buf)
        .unwrap();
    let ring_sealed = buf.clone();
    group.bench_function("ring seal", |b| {
        b.iter(|| {
            ring_key
                .seal_in_place_separate_tag(
                    Nonce::assume_unique_for_key(nonce),
                    Aad::empty(),
                    black_box(buf.as_mut_slice()),
                )
                .unwrap()
        })
    });
    group.bench_function("ring open", |b| {
        b.iter_batched_ref(
            || ring_sealed.clone(),
            |sealed| {
                ring_key
                    .open_in_place_separate_tag(
                        Nonce::assume_unique_for_key(nonce),
                        Aad::empty(),
                        ring_tag,
                        sealed.as_mut_slice(),
                        0..,
                    )
                    .unwrap()
                    .len()
            },
            BatchSize::SmallInput,
        )
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
    targets = cpu, chunk
}
criterion_main!(wall_clock, cpu_time_group);
