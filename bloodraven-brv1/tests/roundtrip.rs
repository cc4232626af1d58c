//! Round trips through the public API: the boundary sizes, random sizes and write patterns,
//! property tests, and the file helpers' write-then-rename contract.

use std::io::{Read, Write};
use std::num::NonZeroUsize;

use bloodraven_brv1::{
    DecryptError, Decryptor, Encryptor, Error, Passphrase, ciphertext_len, decrypt, decrypt_file,
    encrypt, encrypt_file, inspect,
};
use proptest::prelude::*;

fn pass() -> Passphrase {
    Passphrase::new(b"round trip passphrase".to_vec()).unwrap()
}

fn data(len: usize, seed: u64) -> Vec<u8> {
    // xorshift: cheap, deterministic, incompressible enough.
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn seal(plain: &[u8], piece: usize, threads: usize) -> Vec<u8> {
    let mut enc = Encryptor::new(&pass(), Vec::new())
        .unwrap()
        .with_threads(NonZeroUsize::new(threads).unwrap());
    for part in plain.chunks(piece.max(1)) {
        enc.write_all(part).unwrap();
    }
    assert_eq!(enc.plaintext_len(), plain.len() as u64);
    enc.finish().unwrap()
}

fn open(sealed: &[u8], piece: usize, threads: usize) -> Result<Vec<u8>, std::io::Error> {
    let mut dec = Decryptor::new(&pass(), sealed)
        .unwrap()
        .with_threads(NonZeroUsize::new(threads).unwrap());
    let mut out = Vec::new();
    let mut buf = vec![0u8; piece.max(1)];
    loop {
        match dec.read(&mut buf)? {
            0 => break,
            n => out.extend_from_slice(&buf[..n]),
        }
    }
    assert!(dec.is_finished());
    assert_eq!(dec.plaintext_len(), out.len() as u64);
    Ok(out)
}

#[test]
fn boundary_sizes_round_trip_with_the_reference_length() {
    for len in [0usize, 1, 65_535, 65_536, 65_537, 131_072] {
        let plain = data(len, len as u64);
        for (piece, threads) in [(len.max(1), 1), (4_097, 2)] {
            let sealed = seal(&plain, piece, threads);
            assert_eq!(sealed.len() as u64, ciphertext_len(len as u64), "{len}");
            assert_eq!(&sealed[..8], &[0x42, 0x52, 0x56, 0x31, 1, 1, 0, 16]);
            let info = inspect(&sealed[..]).unwrap();
            assert_eq!(info.chunks, (len as u64).div_ceil(65_536).max(1), "{len}");
            assert_eq!(info.plaintext_len, len as u64);
            assert!(open(&sealed, 65_536, threads).unwrap() == plain, "{len}");
        }
    }
}

#[test]
fn random_sizes_round_trip() {
    let mut sizes = data(24, 7)
        .chunks(3)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], 0]) as usize % 400_000)
        .collect::<Vec<_>>();
    sizes.push(65_536 * 3 - 1);
    for (i, len) in sizes.into_iter().enumerate() {
        let plain = data(len, i as u64 + 100);
        let sealed = encrypt(&pass(), &plain).unwrap();
        assert!(decrypt(&pass(), &sealed).unwrap() == plain, "{len}");
        assert!(open(&sealed, 1 + i * 1_000, 2).unwrap() == plain, "{len}");
    }
}

#[test]
fn every_object_gets_a_fresh_salt_and_nonce_prefix() {
    let a = encrypt(&pass(), b"same").unwrap();
    let b = encrypt(&pass(), b"same").unwrap();
    assert_ne!(a[8..24], b[8..24], "salt");
    assert_ne!(a[24..32], b[24..32], "nonce prefix");
    assert_ne!(a, b);
}

#[test]
fn an_unfinished_encryptor_leaves_a_truncated_stream() {
    let mut out = Vec::new();
    {
        let mut enc = Encryptor::new(&pass(), &mut out).unwrap();
        enc.write_all(&data(600_000, 3)).unwrap();
        enc.flush().unwrap();
        // Dropped without finish().
    }
    let err = decrypt(&pass(), &out).unwrap_err();
    assert!(
        matches!(err.decrypt(), Some(DecryptError::Truncated { .. })),
        "{err}"
    );
}

#[test]
fn files_appear_only_when_complete() {
    let dir = tempfile::tempdir().unwrap();
    let plain = data(150_000, 11);
    let src = dir.path().join("dump.sql");
    let sealed = dir.path().join("dump.sql.brv1");
    let back = dir.path().join("restored.sql");
    std::fs::write(&src, &plain).unwrap();
    assert_eq!(
        encrypt_file(&pass(), &src, &sealed).unwrap(),
        plain.len() as u64
    );
    assert_eq!(
        decrypt_file(&pass(), &sealed, &back).unwrap(),
        plain.len() as u64
    );
    assert!(std::fs::read(&back).unwrap() == plain);

    // A damaged object: the target is not created and no temporary file is left behind.
    let mut bytes = std::fs::read(&sealed).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&sealed, &bytes).unwrap();
    let failed = dir.path().join("never.sql");
    let err = decrypt_file(&pass(), &sealed, &failed).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Decrypt(DecryptError::Corrupt {
                chunk: 2,
                last: true,
                ..
            })
        ),
        "{err}"
    );
    assert!(!failed.exists());
    // An existing target is left as it was.
    std::fs::write(&failed, b"old contents").unwrap();
    decrypt_file(&pass(), &sealed, &failed).unwrap_err();
    assert_eq!(std::fs::read(&failed).unwrap(), b"old contents");
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 4, "no temporary files left: {names:?}");

    let err =
        encrypt_file(&pass(), &dir.path().join("missing"), &dir.path().join("x")).unwrap_err();
    assert!(err.to_string().contains("missing"), "{err}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn any_plaintext_in_any_pieces_round_trips(
        len in prop_oneof![0usize..300, 65_400usize..65_700, 0usize..140_000],
        seed in any::<u64>(),
        piece in 1usize..70_000,
        threads in 1usize..4,
    ) {
        let plain = data(len, seed);
        let sealed = seal(&plain, piece, threads);
        prop_assert_eq!(sealed.len() as u64, ciphertext_len(len as u64));
        prop_assert!(open(&sealed, piece, threads).unwrap() == plain);
    }

    #[test]
    fn any_single_byte_change_is_rejected(len in 0usize..140_000, at in any::<prop::sample::Index>(), mask in 1u8..) {
        let sealed = encrypt(&pass(), &data(len, 5)).unwrap();
        let mut t = sealed.clone();
        t[at.index(sealed.len())] ^= mask;
        prop_assert!(decrypt(&pass(), &t).is_err());
    }

    #[test]
    fn any_truncation_or_extension_is_rejected(len in 0usize..140_000, cut in any::<prop::sample::Index>(), extra in prop::collection::vec(any::<u8>(), 1..40)) {
        let sealed = encrypt(&pass(), &data(len, 6)).unwrap();
        let cut = cut.index(sealed.len());
        let err = decrypt(&pass(), &sealed[..cut]).unwrap_err();
        prop_assert!(err.decrypt().is_some(), "{}", err);
        prop_assert!(decrypt(&pass(), &[&sealed[..], &extra[..]].concat()).is_err());
    }

    #[test]
    fn arbitrary_input_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..300), header in any::<bool>()) {
        // With a valid header prefix, the body decoder sees arbitrary records.
        let input = if header { [&encrypt(&pass(), b"").unwrap()[..32], &bytes[..]].concat() } else { bytes };
        let _ = decrypt(&pass(), &input);
        let _ = inspect(&input[..]);
    }
}
