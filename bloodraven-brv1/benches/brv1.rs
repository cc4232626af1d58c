//! Sealing and opening throughput, on one thread and on all cores, through the streaming
//! adapters into and out of memory.
//!
//! `cargo bench -p bloodraven-brv1 --bench brv1 -- --warm-up-time 1 --measurement-time 3`
//! (`benches/compare.sh` measures the same against OpenSSL and age on a 1 GiB file).

use std::hint::black_box;
use std::io::{Read, Write};
use std::num::NonZeroUsize;

use bloodraven_brv1::{Decryptor, Encryptor, Passphrase, ciphertext_len};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const LEN: usize = 32 << 20;

fn threads() -> [(&'static str, NonZeroUsize); 2] {
    let all = std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN);
    [("1 thread", NonZeroUsize::MIN), ("all cores", all)]
}

fn seal(pass: &Passphrase, plain: &[u8], threads: NonZeroUsize) -> Vec<u8> {
    let out = Vec::with_capacity(ciphertext_len(plain.len() as u64) as usize);
    let mut enc = Encryptor::new(pass, out).unwrap().with_threads(threads);
    for part in plain.chunks(256 * 1024) {
        enc.write_all(part).unwrap();
    }
    enc.finish().unwrap()
}

fn benches(c: &mut Criterion) {
    let pass = Passphrase::new(b"benchmark passphrase".to_vec()).unwrap();
    let plain: Vec<u8> = (0..LEN).map(|i| (i * 31 + i / 4096) as u8).collect();
    let sealed = seal(&pass, &plain, NonZeroUsize::MIN);

    let mut group = c.benchmark_group("seal 32 MiB");
    group.throughput(Throughput::Bytes(LEN as u64));
    group.sample_size(10);
    for (name, n) in threads() {
        group.bench_function(name, |b| b.iter(|| black_box(seal(&pass, &plain, n))));
    }
    group.finish();

    let mut group = c.benchmark_group("open 32 MiB");
    group.throughput(Throughput::Bytes(LEN as u64));
    group.sample_size(10);
    let mut out = vec![0u8; 256 * 1024];
    for (name, n) in threads() {
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut dec = Decryptor::new(&pass, &sealed[..]).unwrap().with_threads(n);
                let mut total = 0;
                loop {
                    let got = dec.read(&mut out).unwrap();
                    if got == 0 {
                        break;
                    }
                    total += got;
                }
                assert_eq!(total, LEN);
            })
        });
    }
    group.finish();
}

criterion_group!(brv1, benches);
criterion_main!(brv1);
