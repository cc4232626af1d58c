//! The file fast paths, [`Encryptor::copy_from`] and [`Decryptor::copy_to`], on every thread
//! layout (one thread; a writer thread; a writer thread and workers) against the
//! single-threaded stream.

use std::io::{IoSlice, Read, Write};
use std::num::NonZeroUsize;

use super::{fixed_header, open_with, passphrase, seal_with};
use crate::{DecryptError, Decryptor, Encryptor};

/// Empty, one byte, around one chunk, one segment (8 chunks) and one byte more, several
/// segments (past the 1 MiB after which workers start) with a partial last segment and a
/// short last chunk, and several whole segments.
const SIZES: [usize; 9] = [
    0, 1, 65_535, 65_536, 65_537, 524_288, 524_289, 1_400_007, 1_572_864,
];

fn plaintext(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i % 239) as u8 ^ (i >> 16) as u8)
        .collect()
}

fn threads(n: usize) -> NonZeroUsize {
    NonZeroUsize::new(n).unwrap()
}

/// A writer that takes at most `step` bytes per call, vectored or not, so every vectored
/// write is cut somewhere inside its slices.
struct Dribble {
    out: Vec<u8>,
    step: usize,
}

impl Write for Dribble {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.write_vectored(&[IoSlice::new(buf)])
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> std::io::Result<usize> {
        let mut room = self.step;
        for buf in bufs {
            let n = room.min(buf.len());
            self.out.extend_from_slice(&buf[..n]);
            room -= n;
            if room == 0 {
                break;
            }
        }
        Ok(self.step - room)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn copy_from_and_copy_to_match_the_single_threaded_stream() {
    let pass = passphrase();
    for len in SIZES {
        let plain = plaintext(len);
        let want = seal_with(&pass, fixed_header(16), &plain, 65_536, 1);
        for n in [1, 2, 3] {
            // `&[u8]` reads vectored, like a file: whole segments per call.
            let mut enc = Encryptor::with_header(&pass, Vec::new(), fixed_header(16))
                .with_threads(threads(n));
            assert_eq!(enc.copy_from(&mut &plain[..]).unwrap(), len as u64);
            assert!(
                enc.finish().unwrap() == want,
                "seal {len} bytes, {n} threads"
            );

            let mut dec = Decryptor::new(&pass, &want[..])
                .unwrap()
                .with_threads(threads(n));
            let mut out = Dribble {
                out: Vec::new(),
                step: 100_003,
            };
            assert_eq!(dec.copy_to(&mut out).unwrap(), len as u64);
            assert!(dec.is_finished());
            assert!(out.out == plain, "open {len} bytes, {n} threads");
        }
    }
}

#[test]
fn copy_to_goes_on_where_read_stopped() {
    let pass = passphrase();
    let plain = plaintext(1_400_007);
    let sealed = seal_with(&pass, fixed_header(16), &plain, 65_536, 1);
    for n in [1, 2] {
        let mut dec = Decryptor::new(&pass, &sealed[..])
            .unwrap()
            .with_threads(threads(n));
        let mut out = vec![0u8; 70_000];
        dec.read_exact(&mut out).unwrap();
        assert_eq!(dec.copy_to(&mut out).unwrap(), 1_330_007);
        assert!(out == plain, "{n} threads");
        assert_eq!(dec.read(&mut [0u8; 8]).unwrap(), 0);
    }
}

#[test]
fn copy_to_writes_only_authenticated_plaintext_then_fails_like_read() {
    let pass = passphrase();
    let plain = plaintext(1_400_007);
    let sealed = seal_with(&pass, fixed_header(16), &plain, 65_536, 1);
    let record = 65_536 + 16;
    let mut flipped = sealed.clone();
    // A byte of chunk 17, in the third segment: the writer thread is running by then.
    flipped[32 + 17 * record + 5] ^= 0x40;
    let cut = &sealed[..32 + 18 * record];
    for (damaged, name) in [(&flipped[..], "flipped"), (cut, "cut")] {
        let (want_out, want_err) = open_with(&pass, damaged, 65_536, 1);
        assert!(matches!(
            want_err,
            Err(DecryptError::Corrupt { chunk: 17, .. } | DecryptError::Truncated { chunk: 18, .. })
        ));
        for n in [1, 2, 3] {
            let mut dec = Decryptor::new(&pass, damaged)
                .unwrap()
                .with_threads(threads(n));
            let mut out = Vec::new();
            let err = dec.copy_to(&mut out).unwrap_err();
            assert_eq!(DecryptError::from_io(&err).cloned(), want_err.clone().err());
            assert!(out == want_out, "{name}, {n} threads");
            // Errors are sticky here too.
            assert!(dec.copy_to(&mut Vec::new()).is_err());
        }
    }
}

#[test]
fn a_failing_writer_fails_the_copy_and_the_stream() {
    struct Broken;
    impl Write for Broken {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::new(
                std::io::ErrorKind::StorageFull,
                "disk full",
            ))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let pass = passphrase();
    let plain = plaintext(1_400_007);
    let sealed = seal_with(&pass, fixed_header(16), &plain, 65_536, 1);
    for n in [1, 2, 3] {
        let mut enc =
            Encryptor::with_header(&pass, Broken, fixed_header(16)).with_threads(threads(n));
        let err = enc.copy_from(&mut &plain[..]).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::StorageFull, "{n} threads");
        assert!(enc.finish().is_err());

        let mut dec = Decryptor::new(&pass, &sealed[..])
            .unwrap()
            .with_threads(threads(n));
        let err = dec.copy_to(&mut Broken).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::StorageFull, "{n} threads");
    }
}
