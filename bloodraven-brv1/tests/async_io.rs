//! The tokio adapters: byte-identical to the blocking ones, and the same errors.

use std::io::ErrorKind;

use bloodraven_brv1::{AsyncDecryptor, AsyncEncryptor, DecryptError, Passphrase, decrypt, encrypt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn pass() -> Passphrase {
    Passphrase::new(b"async passphrase".to_vec()).unwrap()
}

async fn seal(plain: &[u8], piece: usize) -> Vec<u8> {
    let mut enc = AsyncEncryptor::new(&pass(), Vec::new()).unwrap();
    for part in plain.chunks(piece) {
        enc.write_all(part).await.unwrap();
    }
    enc.shutdown().await.unwrap();
    enc.into_inner()
}

async fn open(sealed: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    AsyncDecryptor::new(&pass(), sealed)
        .read_to_end(&mut out)
        .await?;
    Ok(out)
}

#[tokio::test]
async fn round_trips_through_the_blocking_adapters_both_ways() {
    for len in [0usize, 1, 65_535, 65_536, 65_537, 200_000] {
        let plain: Vec<u8> = (0..len).map(|i| (i % 199) as u8).collect();
        let sealed = seal(&plain, 10_000).await;
        assert_eq!(
            sealed.len() as u64,
            bloodraven_brv1::ciphertext_len(len as u64)
        );
        assert!(
            decrypt(&pass(), &sealed).unwrap() == plain,
            "async seal, blocking open, {len}"
        );
        let blocking = encrypt(&pass(), &plain).unwrap();
        assert!(
            open(&blocking).await.unwrap() == plain,
            "blocking seal, async open, {len}"
        );
    }
}

#[tokio::test]
async fn errors_match_the_blocking_reader() {
    let plain = vec![9u8; 3 * 65_536 + 10];
    let sealed = seal(&plain, 65_536).await;
    let rs = 65_552;
    let mut corrupt = sealed.clone();
    corrupt[32 + rs + 7] ^= 1;
    let cases: Vec<(Vec<u8>, ErrorKind, DecryptError)> = vec![
        (
            sealed[..32 + 2 * rs].to_vec(),
            ErrorKind::UnexpectedEof,
            DecryptError::Truncated {
                chunk: 2,
                offset: 32 + 2 * rs as u64,
            },
        ),
        (
            corrupt,
            ErrorKind::InvalidData,
            DecryptError::Corrupt {
                chunk: 1,
                offset: 32 + rs as u64,
                last: false,
            },
        ),
        (
            [&sealed[..], b"x"].concat(),
            ErrorKind::InvalidData,
            DecryptError::TrailingData {
                chunk: 3,
                offset: sealed.len() as u64,
            },
        ),
        (
            b"plain text".to_vec(),
            ErrorKind::InvalidData,
            DecryptError::BadMagic {
                found: b"plai".to_vec(),
            },
        ),
    ];
    for (input, kind, want) in cases {
        let err = open(&input).await.unwrap_err();
        assert_eq!(err.kind(), kind, "{want}");
        assert_eq!(DecryptError::from_io(&err), Some(&want));
        let blocking = decrypt(&pass(), &input).unwrap_err();
        assert_eq!(
            blocking.decrypt(),
            Some(&want),
            "the blocking reader agrees"
        );
    }
    let wrong = Passphrase::new(b"not it".to_vec()).unwrap();
    let mut out = Vec::new();
    let err = AsyncDecryptor::new(&wrong, &sealed[..])
        .read_to_end(&mut out)
        .await
        .unwrap_err();
    assert_eq!(
        DecryptError::from_io(&err),
        Some(&DecryptError::WrongPassphrase { only_chunk: false })
    );
    assert!(
        out.is_empty(),
        "nothing is released under a wrong passphrase"
    );
}

#[tokio::test]
async fn works_over_a_pipe_with_tiny_buffers() {
    // A duplex pipe of 100 bytes forces many Pending returns on both sides.
    let plain: Vec<u8> = (0..150_000u32).map(|i| (i % 97) as u8).collect();
    let (writer, reader) = tokio::io::duplex(100);
    let expected = plain.clone();
    let producer = tokio::spawn(async move {
        let mut enc = AsyncEncryptor::new(&pass(), writer).unwrap();
        enc.write_all(&plain).await.unwrap();
        enc.shutdown().await.unwrap();
    });
    let mut out = Vec::new();
    AsyncDecryptor::new(&pass(), reader)
        .read_to_end(&mut out)
        .await
        .unwrap();
    producer.await.unwrap();
    assert!(out == expected);
}
