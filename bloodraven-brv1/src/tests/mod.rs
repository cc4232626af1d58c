//! Tests that need crate-internal hooks: known-answer vectors with a fixed salt and nonce
//! prefix, the tamper matrix, the chunk budget, and multi-core output equivalence.

use std::io::{Read, Write};
use std::num::NonZeroUsize;

use crate::{DecryptError, Decryptor, Encryptor, Header, Passphrase};

mod budget;
mod copy_paths;
mod tamper;
mod vectors;

/// The salt and nonce prefix of the shared vectors.
pub(crate) fn fixed_header(chunk_log2: u16) -> Header {
    Header {
        chunk_log2,
        salt: std::array::from_fn(|i| i as u8),
        nonce_prefix: std::array::from_fn(|i| 0xa0 + i as u8),
    }
}

pub(crate) fn passphrase() -> Passphrase {
    Passphrase::new(b"correct horse battery staple".to_vec()).unwrap()
}

/// Seals `plain` under `header`, writing in pieces of `piece` bytes, on `threads` threads.
pub(crate) fn seal_with(
    pass: &Passphrase,
    header: Header,
    plain: &[u8],
    piece: usize,
    threads: usize,
) -> Vec<u8> {
    let mut enc = Encryptor::with_header(pass, Vec::new(), header)
        .with_threads(NonZeroUsize::new(threads).unwrap());
    for part in plain.chunks(piece.max(1)) {
        enc.write_all(part).unwrap();
    }
    enc.finish().unwrap()
}

/// Opens `sealed` on `threads` threads, reading in pieces of `piece` bytes. Returns the
/// plaintext released before the error, too.
pub(crate) fn open_with(
    pass: &Passphrase,
    sealed: &[u8],
    piece: usize,
    threads: usize,
) -> (Vec<u8>, Result<(), DecryptError>) {
    let mut dec = match Decryptor::new(pass, sealed) {
        Ok(d) => d.with_threads(NonZeroUsize::new(threads).unwrap()),
        Err(e) => {
            return (
                Vec::new(),
                Err(e
                    .decrypt()
                    .cloned()
                    .expect("header errors are decrypt errors")),
            );
        }
    };
    let mut out = Vec::new();
    let mut buf = vec![0u8; piece.max(1)];
    loop {
        match dec.read(&mut buf) {
            Ok(0) => return (out, Ok(())),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) => {
                let typed = DecryptError::from_io(&e)
                    .cloned()
                    .unwrap_or_else(|| panic!("untyped error {e}"));
                // The io kind follows truncation versus tampering.
                let want = if typed.is_truncation() {
                    std::io::ErrorKind::UnexpectedEof
                } else {
                    std::io::ErrorKind::InvalidData
                };
                assert_eq!(e.kind(), want, "{typed}");
                // Errors are sticky: the reader never turns into a clean end-of-stream.
                assert!(dec.read(&mut buf).is_err());
                return (out, Err(typed));
            }
        }
    }
}

#[test]
fn multi_core_output_is_identical_to_single_core() {
    let pass = passphrase();
    // 1.3 MiB: past the 1 MiB that is sealed inline, so the pool seals the rest; the last
    // chunk is short.
    let plain: Vec<u8> = (0..1_300_005)
        .map(|i: usize| (i * 7 + i / 65_536) as u8)
        .collect();
    let one = seal_with(&pass, fixed_header(16), &plain, 1 << 20, 1);
    for threads in [2, 3] {
        assert!(
            seal_with(&pass, fixed_header(16), &plain, 100_003, threads) == one,
            "{threads} threads"
        );
    }
    for threads in [1, 2] {
        let (out, result) = open_with(&pass, &one, 70_000, threads);
        assert_eq!(result, Ok(()));
        assert!(out == plain, "{threads} threads");
    }
}

#[test]
fn small_chunks_exercise_many_segments_on_many_threads() {
    // chunk_log2 10: 1 KiB chunks, so 2.8 MiB make 2 868 chunks in 6 segments of 512, and the
    // segments in flight on four workers finish out of order.
    let pass = passphrase();
    let plain: Vec<u8> = (0..2_936_000u32).map(|i| (i % 251) as u8).collect();
    let one = seal_with(&pass, fixed_header(10), &plain, 99_999, 1);
    assert_eq!(
        one.len(),
        32 + plain.len() + 16 * plain.len().div_ceil(1024)
    );
    assert!(seal_with(&pass, fixed_header(10), &plain, 4_099, 4) == one);
    let (out, result) = open_with(&pass, &one, 13_001, 4);
    assert_eq!(result, Ok(()));
    assert!(out == plain);
}

/// A reader that returns at most `step` bytes per call.
struct Trickle<'a> {
    data: &'a [u8],
    step: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.step.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

#[test]
fn copy_from_writes_what_write_writes() {
    let pass = passphrase();
    // Empty, one byte, one chunk, exactly one segment (8 chunks), one byte more, and past the
    // 1 MiB after which worker threads seal.
    for len in [0usize, 1, 65_536, 524_288, 524_289, 1_100_000] {
        let plain: Vec<u8> = (0..len).map(|i| (i % 239) as u8).collect();
        let want = seal_with(&pass, fixed_header(16), &plain, 65_536, 1);
        let ways: &[(usize, usize)] = if len > 600_000 {
            &[(65_536, 2)]
        } else {
            &[(usize::MAX, 1), (65_536, 2), (10_007, 3)]
        };
        for &(step, threads) in ways {
            let mut enc = Encryptor::with_header(&pass, Vec::new(), fixed_header(16))
                .with_threads(NonZeroUsize::new(threads).unwrap());
            let n = enc.copy_from(&mut Trickle { data: &plain, step }).unwrap();
            assert_eq!(n, len as u64);
            assert_eq!(enc.plaintext_len(), len as u64);
            assert!(
                enc.finish().unwrap() == want,
                "{len} bytes, reads of {step}, {threads} threads"
            );
        }
    }
}
