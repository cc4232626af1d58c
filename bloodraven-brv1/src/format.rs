//! The BRV1 byte format, as the Go implementation writes it (documentation only).
//!
//! A BRV1 object is a 32-byte header followed by one or more sealed chunks. There is no
//! trailer, no length field, no key id and no associated data: every integrity property comes
//! from the AES-256-GCM tags and the way the nonces are built.
//!
//! # Header
//!
//! ```text
//!  offset  0       4   5   6       8                              24              32
//!          +-------+---+---+-------+------------------------------+---------------+
//!          | magic |ver|alg| log2  |             salt             | nonce prefix  |
//!          | BRV1  |01 |01 | 00 10 |          16 bytes            |    8 bytes    |
//!          +-------+---+---+-------+------------------------------+---------------+
//!   42 52 56 31     version 1, algorithm 1 = AES-256-GCM, chunk_log2 big-endian u16
//! ```
//!
//! * `chunk_log2` is 16 in everything this crate (and the Go encoder) writes: 65 536-byte
//!   plaintext chunks. Decoders accept 1..=24.
//! * `salt` and `nonce_prefix` are fresh random bytes for every object.
//!
//! # Key
//!
//! ```text
//! key = HKDF-SHA256(ikm = passphrase, salt = header[8..24],
//!                   info = "bloodraven-backup-encryption-v1", length = 32)
//! ```
//!
//! The passphrase is used as raw bytes. Passphrase files lose leading and trailing `\n`, `\r`,
//! space and tab, nothing else ([`Passphrase::from_file`](crate::Passphrase::from_file)).
//!
//! # Chunks
//!
//! ```text
//! header | chunk 0 ciphertext | tag 0 | chunk 1 ciphertext | tag 1 | ... | last ciphertext | tag
//!          <--- 65 536 bytes --> <16>                                     <- 0..65 536 -> <16>
//!
//! nonce(c) = nonce_prefix (8 bytes) | c as 24-bit big-endian | 0x01 if last chunk else 0x00
//! ```
//!
//! * Every chunk but the last holds exactly `1 << chunk_log2` plaintext bytes. The last holds
//!   1..=65 536 bytes, or 0 only when the whole plaintext is empty, so an object is never
//!   shorter than 48 bytes and a plaintext of exactly `n × 65 536` bytes ends with a full chunk.
//! * Each chunk is sealed independently with AES-256-GCM under `nonce(c)` and empty associated
//!   data, which is what lets this crate seal and open chunks on several cores.
//! * A stream holds at most 2^24 chunks (1 TiB of plaintext at 64 KiB chunks).
//! * Encrypted size: `32 + L + 16 × max(1, ⌈L / 65 536⌉)` ([`ciphertext_len`](crate::ciphertext_len)).
//!
//! # Decoding
//!
//! The decoder reads the header and checks, in this order, the magic, the version, the
//! algorithm and `chunk_log2`. It then reads records of `chunk size + 16` bytes. Which record is
//! the last is decided by looking ahead: the record after which the input ends. That record must
//! authenticate with the final flag, every other one without it, so
//!
//! * a stream cut at a chunk boundary fails (its last record was sealed as non-final),
//! * bytes after the final chunk fail (the final chunk is no longer last),
//! * a removed, duplicated or reordered chunk fails (its counter is part of the nonce),
//! * any modified byte fails its chunk's tag; a modified salt or nonce prefix fails chunk 0.
//!
//! When a record fails, this crate tries it at neighbouring positions, with the other flag and
//! without a few appended bytes, only to say precisely what happened
//! ([`DecryptError`](crate::DecryptError)); what counts as valid is never relaxed.
//!
//! # Detection
//!
//! An object is taken for encrypted when its first four bytes are `BRV1`
//! ([`looks_encrypted`](crate::looks_encrypted)). Object names do not change when encrypted.
