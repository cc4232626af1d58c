//! The 2^24-chunk budget, reached through hooks that start the counter near the limit.

use std::io::{Read, Write};

use super::{fixed_header, passphrase};
use crate::chunk::ChunkCipher;
use crate::header::MAX_CHUNKS;
use crate::{DecryptError, Decryptor, Encryptor};

fn encryptor_at(counter: u64) -> Encryptor<Vec<u8>> {
    let mut enc = Encryptor::with_header(&passphrase(), Vec::new(), fixed_header(16));
    enc.skip_to_counter(counter);
    enc
}

#[test]
fn the_last_counter_can_hold_the_final_chunk() {
    let mut enc = encryptor_at(MAX_CHUNKS - 2);
    enc.write_all(&[1u8; 65_537]).unwrap();
    let sealed = enc.finish().unwrap();
    let mut dec = Decryptor::new(&passphrase(), &sealed[..]).unwrap();
    dec.skip_to_counter(MAX_CHUNKS - 2);
    let mut out = Vec::new();
    dec.read_to_end(&mut out).unwrap();
    assert_eq!(out, vec![1u8; 65_537]);
}

#[test]
fn sealing_past_the_budget_fails() {
    let mut enc = encryptor_at(MAX_CHUNKS - 1);
    enc.write_all(&[0u8; 65_537]).unwrap();
    let err = enc.finish().unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("2^24 chunks"), "{err}");

    // A whole segment (8 chunks) past the limit fails as soon as more data arrives.
    let mut enc = encryptor_at(MAX_CHUNKS - 7);
    let err = enc.write_all(&vec![0u8; 9 * 65_536]).unwrap_err();
    assert!(err.to_string().contains("2^24 chunks"), "{err}");
    assert!(
        enc.write_all(b"more").is_err(),
        "a failed encryptor stays failed"
    );
}

#[test]
fn opening_past_the_budget_fails() {
    let header = fixed_header(16);
    let cipher = ChunkCipher::new(&passphrase(), &header);
    // The chunk at the last counter, sealed as non-final, then bytes for one more record.
    let mut record = vec![3u8; 65_552];
    cipher.seal(MAX_CHUNKS - 1, false, &mut record);
    let mut sealed = header.to_bytes().to_vec();
    sealed.extend_from_slice(&record);
    sealed.extend_from_slice(&[0u8; 40]);
    let mut dec = Decryptor::new(&passphrase(), &sealed[..]).unwrap();
    dec.skip_to_counter(MAX_CHUNKS - 1);
    let mut out = Vec::new();
    let err = dec.read_to_end(&mut out).unwrap_err();
    assert_eq!(
        out,
        vec![3u8; 65_536],
        "the chunk within the budget is released"
    );
    assert_eq!(
        DecryptError::from_io(&err),
        Some(&DecryptError::TooManyChunks {
            offset: 32 + MAX_CHUNKS * 65_552
        })
    );

    // Sealed as final, the same chunk followed by bytes is a stream with trailing data.
    let mut record = vec![3u8; 65_552];
    cipher.seal(MAX_CHUNKS - 1, true, &mut record);
    sealed.truncate(32);
    sealed.extend_from_slice(&record);
    sealed.extend_from_slice(&[0u8; 40]);
    let mut dec = Decryptor::new(&passphrase(), &sealed[..]).unwrap();
    dec.skip_to_counter(MAX_CHUNKS - 1);
    let err = dec.read_to_end(&mut Vec::new()).unwrap_err();
    assert_eq!(
        DecryptError::from_io(&err),
        Some(&DecryptError::TrailingData {
            chunk: MAX_CHUNKS - 1,
            offset: 32 + MAX_CHUNKS * 65_552
        })
    );
}
