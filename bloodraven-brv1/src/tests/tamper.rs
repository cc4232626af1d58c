//! The tamper matrix over 3-chunk streams: every modified header byte, a byte of each chunk
//! and of each tag, truncation at every chunk boundary and inside chunks, dropped, duplicated
//! and swapped chunks, and appended bytes. Every case must fail, with the error that names
//! what happened, and must release only authentic plaintext before failing.
//!
//! The matrix runs on the real format (64 KiB chunks) and, on every reading path, on 1 KiB
//! chunks: the decoder's logic does not depend on the chunk size, and debug builds of AES-GCM
//! are slow enough that the small size keeps the suite fast.

use super::{fixed_header, open_with, passphrase, seal_with};
use crate::DecryptError::{self, *};
use crate::{Error, Passphrase, decrypt};

/// Where the records of a 3-chunk stream sit.
#[derive(Clone, Copy)]
struct Layout {
    log2: u16,
    chunk: usize,
    /// Offsets of the three records.
    r: [usize; 3],
}

impl Layout {
    fn new(log2: u16) -> Layout {
        let chunk = 1 << log2;
        let rs = chunk + 16;
        Layout {
            log2,
            chunk,
            r: [32, 32 + rs, 32 + 2 * rs],
        }
    }
}

/// A stream of three chunks: two full ones and a last one of `last_len` bytes.
fn stream(l: Layout, last_len: usize) -> (Vec<u8>, Vec<u8>) {
    let plain: Vec<u8> = (0..2 * l.chunk + last_len)
        .map(|i| (i % 253) as u8 ^ (i >> 10) as u8)
        .collect();
    let sealed = seal_with(&passphrase(), fixed_header(l.log2), &plain, l.chunk, 1);
    assert_eq!(sealed.len(), l.r[2] + last_len + 16);
    (plain, sealed)
}

fn join(header: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut out = header.to_vec();
    for p in parts {
        out.extend_from_slice(p);
    }
    out
}

fn flipped(sealed: &[u8], at: usize, mask: u8) -> Vec<u8> {
    let mut t = sealed.to_vec();
    t[at] ^= mask;
    t
}

/// Checks one case on one thread and, when `thorough`, also on two threads with another read
/// size and through the one-shot helper.
fn check(
    l: Layout,
    name: &str,
    plain: &[u8],
    tampered: &[u8],
    want: &DecryptError,
    pass: &Passphrase,
    thorough: bool,
) {
    let modes: &[(usize, usize)] = if thorough {
        &[(l.chunk, 1), (1_000, 2)]
    } else {
        &[(l.chunk, 1)]
    };
    for &(piece, threads) in modes {
        let (released, got) = open_with(pass, tampered, piece, threads);
        assert_eq!(got.as_ref(), Err(want), "{name} ({threads} threads)");
        assert!(
            released.len() <= plain.len() && released[..] == plain[..released.len()],
            "{name}: released bytes are authentic"
        );
        assert_eq!(
            released.len() % l.chunk,
            0,
            "{name}: only whole chunks are released"
        );
    }
    if thorough {
        match decrypt(pass, tampered) {
            Err(Error::Decrypt(e)) => assert_eq!(&e, want, "{name} (one-shot)"),
            other => panic!("{name} (one-shot): {other:?}"),
        }
    }
}

type Case = (String, Vec<u8>, DecryptError);

/// Every header byte, flipped two ways.
fn header_cases(s: &[u8]) -> Vec<Case> {
    let mut cases = Vec::new();
    for at in 0..32 {
        for mask in [0x01u8, 0x80] {
            let t = flipped(s, at, mask);
            let log2 = u16::from_be_bytes([t[6], t[7]]);
            let want = match at {
                0..4 => BadMagic {
                    found: t[..4].to_vec(),
                },
                4 => UnsupportedVersion { version: 1 ^ mask },
                5 => UnsupportedAlgorithm {
                    algorithm: 1 ^ mask,
                },
                6 | 7 if !(1..=24).contains(&log2) => ChunkSize { chunk_log2: log2 },
                // Another valid chunk size: the records no longer line up, so chunk 0 fails
                // under every key, as with a modified salt or nonce prefix.
                _ => WrongPassphrase { only_chunk: false },
            };
            cases.push((format!("header byte {at} ^ {mask:#04x}"), t, want));
        }
    }
    cases.push(("empty input".into(), Vec::new(), BadMagic { found: vec![] }));
    for cut in [3, 4, 31] {
        cases.push((
            format!("cut at {cut}"),
            s[..cut].to_vec(),
            HeaderTruncated { len: cut },
        ));
    }
    cases
}

/// Modified, cut, dropped, duplicated, swapped and appended chunks.
fn body_cases(l: Layout, s: &[u8], last_len: usize) -> Vec<Case> {
    let h = &s[..32];
    let [r0, r1, r2] = l.r;
    let c = [&s[r0..r1], &s[r1..r2], &s[r2..]];
    let end = s.len() as u64;
    let last_full = last_len == l.chunk;
    let mut cases = Vec::new();
    let mut case = |name: String, t: Vec<u8>, want: DecryptError| cases.push((name, t, want));

    // A byte of each chunk (first, middle, last ciphertext byte) and of each tag (first, last).
    for (k, (start, record)) in l.r.into_iter().zip(c).enumerate() {
        let len = record.len();
        let want = Corrupt {
            chunk: k as u64,
            offset: start as u64,
            last: k == 2,
        };
        for at in [
            start,
            start + (len - 16) / 2,
            start + len - 17,
            start + len - 16,
            start + len - 1,
        ] {
            case(
                format!("chunk {k} byte {at}"),
                flipped(s, at, 0x04),
                want.clone(),
            );
        }
    }

    // Truncation at every chunk boundary and inside every chunk.
    for (k, (start, record)) in l.r.into_iter().zip(c).enumerate() {
        let (len, chunk) = (record.len(), k as u64);
        case(
            format!("cut at chunk {k} start"),
            s[..start].to_vec(),
            Truncated {
                chunk,
                offset: start as u64,
            },
        );
        for extra in [1, 15] {
            let cut = start + extra;
            case(
                format!("cut at {cut}"),
                s[..cut].to_vec(),
                Truncated {
                    chunk,
                    offset: cut as u64,
                },
            );
        }
        for extra in [16, len / 2, len - 1] {
            let cut = start + extra;
            // The cut chunk is now the last one: indistinguishable from a modified last chunk
            // (for chunk 0, from a wrong passphrase), and the error says so.
            let want = match k {
                0 => WrongPassphrase { only_chunk: true },
                _ => Corrupt {
                    chunk,
                    offset: start as u64,
                    last: true,
                },
            };
            case(
                format!("cut at {cut} inside chunk {k}"),
                s[..cut].to_vec(),
                want,
            );
        }
    }

    // Dropped, duplicated and swapped chunks.
    let misplaced = |at: usize, original: u64, original_final: bool| Misplaced {
        chunk: at as u64,
        offset: l.r[at] as u64,
        original,
        original_final,
    };
    case(
        "drop chunk 0".into(),
        join(h, &[c[1], c[2]]),
        misplaced(0, 1, false),
    );
    case(
        "drop chunk 1".into(),
        join(h, &[c[0], c[2]]),
        misplaced(1, 2, true),
    );
    case(
        "drop chunk 2".into(),
        join(h, &[c[0], c[1]]),
        Truncated {
            chunk: 2,
            offset: r2 as u64,
        },
    );
    case(
        "duplicate chunk 0".into(),
        join(h, &[c[0], c[0], c[1], c[2]]),
        misplaced(1, 0, false),
    );
    case(
        "duplicate chunk 1".into(),
        join(h, &[c[0], c[1], c[1], c[2]]),
        misplaced(2, 1, false),
    );
    case(
        "duplicate chunk 2".into(),
        join(h, &[c[0], c[1], c[2], c[2]]),
        TrailingData {
            chunk: 2,
            offset: end,
        },
    );
    case(
        "swap chunks 0 and 1".into(),
        join(h, &[c[1], c[0], c[2]]),
        misplaced(0, 1, false),
    );
    let (swap12, reversed) = if last_full {
        (misplaced(1, 2, true), misplaced(0, 2, true))
    } else {
        // A short final chunk moved forward shifts every record boundary after it, so the
        // records that follow are no chunk at all.
        (
            Corrupt {
                chunk: 1,
                offset: r1 as u64,
                last: false,
            },
            WrongPassphrase { only_chunk: false },
        )
    };
    case(
        "swap chunks 1 and 2".into(),
        join(h, &[c[0], c[2], c[1]]),
        swap12,
    );
    case(
        "all chunks reversed".into(),
        join(h, &[c[2], c[1], c[0]]),
        reversed,
    );

    // Appended bytes.
    for extra in [1usize, 2, 16] {
        case(
            format!("{extra} bytes appended"),
            join(s, &[&vec![0x0a; extra]]),
            TrailingData {
                chunk: 2,
                offset: end,
            },
        );
    }
    cases
}

fn run(l: Layout, last_len: usize, header: bool, thorough: bool) -> usize {
    let (plain, s) = stream(l, last_len);
    let mut count = 0;
    if header {
        for (name, tampered, want) in header_cases(&s) {
            check(l, &name, &plain, &tampered, &want, &passphrase(), false);
            count += 1;
        }
    }
    for (name, tampered, want) in body_cases(l, &s, last_len) {
        check(l, &name, &plain, &tampered, &want, &passphrase(), thorough);
        count += 1;
    }
    count
}

#[test]
fn tampered_real_format_streams_fail_precisely() {
    // 64 KiB chunks, as written: a short last chunk, then a full one.
    assert!(run(Layout::new(16), 1_000, true, false) > 100);
    run(Layout::new(16), 65_536, false, false);
}

#[test]
fn tampered_streams_fail_precisely_on_every_reading_path() {
    for last_len in [100, 1024] {
        run(Layout::new(10), last_len, true, true);
    }
}

#[test]
fn a_wrong_passphrase_is_reported_as_such() {
    let l = Layout::new(16);
    let wrong = Passphrase::new(b"correct horse battery stapler".to_vec()).unwrap();
    let (plain, sealed) = stream(l, 1_000);
    check(
        l,
        "wrong passphrase",
        &plain,
        &sealed,
        &WrongPassphrase { only_chunk: false },
        &wrong,
        true,
    );
    let one_chunk = seal_with(&passphrase(), fixed_header(16), b"hello", 5, 1);
    check(
        l,
        "wrong passphrase, one chunk",
        b"hello",
        &one_chunk,
        &WrongPassphrase { only_chunk: true },
        &wrong,
        true,
    );
}

#[test]
fn tampering_deep_in_a_long_stream_is_found_on_every_thread_count() {
    // 1 KiB chunks: 1 400 chunks in 3 segments of 512; the damaged chunk is in the third,
    // which a worker thread opens when there are several.
    let pass = passphrase();
    let plain: Vec<u8> = (0..1_400 * 1024u32).map(|i| (i % 241) as u8).collect();
    let sealed = seal_with(&pass, fixed_header(10), &plain, 1 << 20, 1);
    let rs = 1024 + 16;
    let chunk = 1_301u64;
    let at = 32 + chunk as usize * rs + 5;
    let want = Corrupt {
        chunk,
        offset: 32 + chunk * rs as u64,
        last: false,
    };
    for threads in [1, 2, 4] {
        let (released, got) = open_with(&pass, &flipped(&sealed, at, 1), 1 << 16, threads);
        assert_eq!(got, Err(want.clone()), "{threads} threads");
        assert_eq!(
            released.len() as u64,
            chunk * 1024,
            "everything before the damaged chunk, nothing after"
        );
        assert!(released[..] == plain[..released.len()]);
    }
    let cut = &sealed[..32 + 1_250 * rs];
    for threads in [1, 3] {
        let (_, got) = open_with(&pass, cut, 1 << 16, threads);
        assert_eq!(
            got,
            Err(Truncated {
                chunk: 1_250,
                offset: cut.len() as u64
            }),
            "{threads} threads"
        );
    }
}
