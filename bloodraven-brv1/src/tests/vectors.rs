//! The shared known-answer vectors, both directions: sealing with the vector's salt and nonce
//! prefix reproduces the `.brv1` bytes exactly, and opening them gives the `.plain` bytes.

use sha2::{Digest, Sha256};

use super::{open_with, seal_with};
use crate::chunk::derive_key;
use crate::{Header, Inspection, Passphrase, decrypt, inspect, verify};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/fixtures/brv1/");

struct Vector {
    name: String,
    pass: Passphrase,
    plain: Vec<u8>,
    sealed: Vec<u8>,
    header: Header,
    key: String,
    plain_sha256: String,
    brv1_sha256: String,
}

fn vectors() -> Vec<Vector> {
    let index: serde_json::Value = serde_json::from_slice(
        &std::fs::read(format!("{DIR}index.json")).expect("fixtures index.json"),
    )
    .unwrap();
    let list = index.as_array().expect("index.json is a list");
    assert_eq!(list.len(), 5, "the shared set has five vectors");
    list.iter()
        .map(|v| {
            let s = |k: &str| {
                v[k].as_str()
                    .unwrap_or_else(|| panic!("{k} in {v}"))
                    .to_owned()
            };
            let name = s("name");
            let read = |ext: &str| std::fs::read(format!("{DIR}{name}.{ext}")).unwrap();
            let mut salt = [0u8; 16];
            salt.copy_from_slice(&unhex(&s("salt")));
            let mut nonce_prefix = [0u8; 8];
            nonce_prefix.copy_from_slice(&unhex(&s("nonce_prefix")));
            let vector = Vector {
                pass: Passphrase::from_file(format!("{DIR}{name}.pass")).unwrap(),
                plain: read("plain"),
                sealed: read("brv1"),
                header: Header {
                    chunk_log2: v["chunk_log2"].as_u64().unwrap() as u16,
                    salt,
                    nonce_prefix,
                },
                key: s("key"),
                plain_sha256: s("plain_sha256"),
                brv1_sha256: s("brv1_sha256"),
                name,
            };
            assert_eq!(vector.plain.len() as u64, v["plain_len"].as_u64().unwrap());
            assert_eq!(vector.sealed.len() as u64, v["brv1_len"].as_u64().unwrap());
            vector
        })
        .collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn fixture_files_match_their_index() {
    for v in vectors() {
        assert_eq!(sha256_hex(&v.plain), v.plain_sha256, "{}", v.name);
        assert_eq!(sha256_hex(&v.sealed), v.brv1_sha256, "{}", v.name);
    }
}

#[test]
fn keys_match_the_vectors() {
    for v in vectors() {
        let key = derive_key(&v.pass, &v.header.salt);
        let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, v.key, "{}", v.name);
    }
}

#[test]
fn headers_parse_to_the_vector_fields() {
    for v in vectors() {
        assert_eq!(Header::parse(&v.sealed).unwrap(), v.header, "{}", v.name);
        assert_eq!(v.header.to_bytes()[..], v.sealed[..32], "{}", v.name);
    }
}

#[test]
fn sealing_reproduces_every_vector_exactly() {
    for v in vectors() {
        // Including v5 (chunk_log2 4), which our writer never picks on its own.
        for piece in [1, 7, 65_536, usize::MAX] {
            let sealed = seal_with(
                &v.pass,
                v.header,
                &v.plain,
                piece.min(v.plain.len().max(1)),
                1,
            );
            assert!(
                sealed == v.sealed,
                "{} written in pieces of {piece}",
                v.name
            );
        }
        let sealed = seal_with(&v.pass, v.header, &v.plain, 4096, 4);
        assert!(sealed == v.sealed, "{} on 4 threads", v.name);
    }
}

#[test]
fn opening_every_vector_gives_its_plaintext() {
    for v in vectors() {
        for (piece, threads) in [(1, 1), (5, 2), (1 << 20, 4)] {
            let (out, result) = open_with(&v.pass, &v.sealed, piece, threads);
            assert_eq!(result, Ok(()), "{}", v.name);
            assert!(out == v.plain, "{} read in pieces of {piece}", v.name);
        }
        assert!(
            decrypt(&v.pass, &v.sealed).unwrap() == v.plain,
            "{}",
            v.name
        );
    }
}

#[test]
fn the_documented_ciphertext_excerpts_match() {
    let all = vectors();
    let get = |name: &str| all.iter().find(|v| v.name == name).unwrap();
    let hex = |b: &[u8]| b.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let v3 = &get("v3-one-chunk").sealed;
    assert_eq!(
        hex(&v3[32..64]),
        "36b049993eac083efd355e9950669c047e98407327a57de4acb00507981cd8c7"
    );
    assert_eq!(
        hex(&v3[v3.len() - 32..]),
        "fb17c925dba193d98a92f5f450451b3179d3fabcde1bda4f798adab025446c88"
    );
    let v4 = &get("v4-chunk-plus-one").sealed;
    assert_eq!(
        hex(&v4[32..64]),
        "bb23a74ae95ec89d01b5cc64ec57f448fbd53177efd156e212910003992b98d1"
    );
    assert_eq!(
        hex(&v4[v4.len() - 32..]),
        "2a09044e5732cc40b347c1acb6337635c719871ce4387d70b3b48553939e1613"
    );
}

#[test]
fn inspect_and_verify_report_the_vector_layouts() {
    for v in vectors() {
        let info = inspect(&v.sealed[..]).unwrap();
        let chunk = 1u64 << v.header.chunk_log2;
        let chunks = (v.plain.len() as u64).div_ceil(chunk).max(1);
        assert_eq!(info.header, v.header, "{}", v.name);
        assert_eq!(info.chunks, chunks, "{}", v.name);
        assert_eq!(info.plaintext_len, v.plain.len() as u64, "{}", v.name);
        assert_eq!(
            info.last_chunk_len,
            v.plain.len() as u64 - (chunks - 1) * chunk,
            "{}",
            v.name
        );
        assert_eq!(info.ciphertext_len, v.sealed.len() as u64, "{}", v.name);
        assert!(!info.verified);
        let checked = verify(&v.pass, &v.sealed[..]).unwrap();
        assert!(checked.verified);
        assert_eq!(
            Inspection {
                verified: false,
                ..checked
            },
            info,
            "{}",
            v.name
        );
    }
}
