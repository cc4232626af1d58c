//! The BRV1 encryption envelope of Bloodraven backups, archived binlogs and manifests:
//! byte-compatible with the Go implementation, streaming, tamper-evident and multi-core.
//!
//! # The model
//!
//! A BRV1 object is a 32-byte header (magic `BRV1`, version, algorithm, chunk size, a random
//! salt and nonce prefix) followed by the plaintext cut into 64 KiB chunks, each sealed with
//! AES-256-GCM. The key is derived from a [`Passphrase`] with HKDF-SHA256 and the object's salt;
//! each chunk's nonce holds its position and whether it is the last one. So every modified byte,
//! every cut, every removed, duplicated or reordered chunk and every trailing byte makes
//! decoding fail, and [`DecryptError`] says which of these it was and where. The [`format`](mod@format)
//! module documents the bytes.
//!
//! Three layers, from the most to the least convenient:
//!
//! * one-shot helpers: [`encrypt`] and [`decrypt`] for slices, [`encrypt_file`] and
//!   [`decrypt_file`] for files (written beside the target and renamed only when complete);
//! * streaming adapters: [`Encryptor`] (a [`std::io::Write`]) and [`Decryptor`] (a
//!   [`std::io::Read`]), plus `AsyncEncryptor` and `AsyncDecryptor` for tokio (feature
//!   `tokio`);
//! * inspection: [`looks_encrypted`] on a prefix, [`inspect`] (layout from the header and the
//!   length) and [`verify`] (authenticates every chunk).
//!
//! Memory stays bounded by the chunks in flight, whatever the input size. Long streams are
//! sealed and opened on all cores with plain std threads; the output is byte for byte what a
//! single thread writes. The file paths ([`Encryptor::copy_from`], [`Decryptor::copy_to`], the
//! file helpers and the CLI) copy nothing in user space: they read straight into buffers laid
//! out as ciphertext, run the cipher in place and, given two or more threads, hand the buffers
//! to a writer thread, because on files the kernel's copies cost more than AES-GCM does. With
//! one thread nothing but the calling thread ever runs. The `brv1` command-line tool (feature
//! `cli`, on by default) wraps the same API.
//!
//! Secrets in memory: the [`Passphrase`] and the derived 32-byte key are zeroized on drop. The
//! chunk cipher is `ring`'s AES-256-GCM (assembly, several times faster than the pure-Rust
//! alternatives); its expanded AES key schedule and GHASH table are not zeroized when an
//! encryptor or decryptor is dropped, because ring offers no way to. Plaintext buffers are
//! ordinary memory and are not wiped either.
//!
//! # Example: streaming
//!
//! ```
//! use std::io::{Read, Write};
//! use bloodraven_brv1::{DecryptError, Decryptor, Encryptor, Passphrase};
//!
//! let passphrase = Passphrase::new(b"correct horse battery staple".to_vec())?;
//!
//! // Seal: write any amount, then finish() to seal the final chunk.
//! let mut enc = Encryptor::new(&passphrase, Vec::new())?;
//! for line in ["GTID 1-100\n", "GTID 101-250\n"] {
//!     enc.write_all(line.as_bytes())?;
//! }
//! let sealed: Vec<u8> = enc.finish()?;
//!
//! // Open: plaintext comes out chunk by chunk, each chunk authenticated first.
//! let mut plain = String::new();
//! Decryptor::new(&passphrase, &sealed[..])?.read_to_string(&mut plain)?;
//! assert_eq!(plain, "GTID 1-100\nGTID 101-250\n");
//!
//! // A stream cut at a chunk boundary is an error, never a short read.
//! let mut enc = Encryptor::new(&passphrase, Vec::new())?;
//! enc.write_all(&vec![0u8; 100_000])?;
//! let sealed = enc.finish()?;
//! let cut = &sealed[..32 + 65_536 + 16];
//! let err = Decryptor::new(&passphrase, cut)?.read_to_end(&mut Vec::new()).unwrap_err();
//! assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof);
//! assert_eq!(
//!     DecryptError::from_io(&err),
//!     Some(&DecryptError::Truncated { chunk: 1, offset: 65_584 })
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Crate features
//!
//! * `cli` (default): the `brv1` binary (`encrypt`, `decrypt`, `inspect`). Library users can
//!   set `default-features = false` to drop its dependencies (clap, anyhow).
//! * `tokio`: `AsyncEncryptor` and `AsyncDecryptor`, implementing tokio's `AsyncWrite` and
//!   `AsyncRead`.
//!
//! For details, see [`format`](mod@format), [`Encryptor`], [`Decryptor`] and [`DecryptError`].
#![cfg_attr(docsrs, feature(doc_cfg))]
#![doc(test(attr(deny(warnings))))]

#[cfg(feature = "tokio")]
mod async_io;
mod chunk;
mod decrypt;
mod encrypt;
mod error;
pub mod format;
mod header;
mod inspect;
mod oneshot;
mod passphrase;
mod pipeline;
#[cfg(test)]
mod tests;
mod writer;

#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub use async_io::{AsyncDecryptor, AsyncEncryptor};
pub use decrypt::Decryptor;
pub use encrypt::Encryptor;
pub use error::{DecryptError, Error};
pub use header::{
    ALGORITHM_AES_256_GCM, CHUNK_LOG2, HEADER_LEN, Header, MAGIC, MAX_CHUNK_LOG2, MAX_CHUNKS,
    TAG_LEN, VERSION, ciphertext_len, looks_encrypted,
};
pub use inspect::{Inspection, inspect, verify};
pub use oneshot::{decrypt, decrypt_file, encrypt, encrypt_file};
pub use passphrase::Passphrase;
