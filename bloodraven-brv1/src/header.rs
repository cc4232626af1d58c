//! The 32-byte BRV1 header: parsing, encoding and cheap detection.

use crate::DecryptError;

/// The four magic bytes every BRV1 object starts with.
pub const MAGIC: [u8; 4] = *b"BRV1";
/// The only wire version.
pub const VERSION: u8 = 1;
/// Algorithm id of AES-256-GCM, the only algorithm.
pub const ALGORITHM_AES_256_GCM: u8 = 1;
/// The chunk size exponent this crate writes: 65 536-byte plaintext chunks.
pub const CHUNK_LOG2: u16 = 16;
/// The largest chunk size exponent a decoder accepts (16 MiB chunks).
pub const MAX_CHUNK_LOG2: u16 = 24;
/// Size of the header in bytes.
pub const HEADER_LEN: usize = 32;
/// Size of the AES-GCM tag that ends every sealed chunk.
pub const TAG_LEN: usize = 16;
/// A stream holds at most this many chunks (the nonce counter has 24 bits).
pub const MAX_CHUNKS: u64 = 1 << 24;

/// The fields of a BRV1 header. Nothing in it is secret.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
#[non_exhaustive]
pub struct Header {
    /// Plaintext chunk size exponent: chunks hold `1 << chunk_log2` bytes.
    pub chunk_log2: u16,
    /// The HKDF salt, random per object.
    pub salt: [u8; 16],
    /// First eight bytes of every chunk nonce, random per object.
    pub nonce_prefix: [u8; 8],
}

impl Header {
    /// A header for the format this crate writes (chunk_log2 16) with this salt and prefix.
    pub fn new(salt: [u8; 16], nonce_prefix: [u8; 8]) -> Header {
        Header {
            chunk_log2: CHUNK_LOG2,
            salt,
            nonce_prefix,
        }
    }

    /// Parses and validates a header from the start of `bytes`, in the reference order: magic,
    /// version, algorithm, chunk size.
    pub fn parse(bytes: &[u8]) -> Result<Header, DecryptError> {
        let magic_len = bytes.len().min(4);
        if bytes[..magic_len] != MAGIC[..magic_len] || bytes.is_empty() {
            return Err(DecryptError::BadMagic {
                found: bytes[..magic_len].to_vec(),
            });
        }
        if bytes.len() < HEADER_LEN {
            return Err(DecryptError::HeaderTruncated { len: bytes.len() });
        }
        if bytes[4] != VERSION {
            return Err(DecryptError::UnsupportedVersion { version: bytes[4] });
        }
        if bytes[5] != ALGORITHM_AES_256_GCM {
            return Err(DecryptError::UnsupportedAlgorithm {
                algorithm: bytes[5],
            });
        }
        let chunk_log2 = u16::from_be_bytes([bytes[6], bytes[7]]);
        if !(1..=MAX_CHUNK_LOG2).contains(&chunk_log2) {
            return Err(DecryptError::ChunkSize { chunk_log2 });
        }
        let mut salt = [0; 16];
        salt.copy_from_slice(&bytes[8..24]);
        let mut nonce_prefix = [0; 8];
        nonce_prefix.copy_from_slice(&bytes[24..32]);
        Ok(Header {
            chunk_log2,
            salt,
            nonce_prefix,
        })
    }

    /// The 32 bytes of this header.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut out = [0; HEADER_LEN];
        out[..4].copy_from_slice(&MAGIC);
        out[4] = VERSION;
        out[5] = ALGORITHM_AES_256_GCM;
        out[6..8].copy_from_slice(&self.chunk_log2.to_be_bytes());
        out[8..24].copy_from_slice(&self.salt);
        out[24..32].copy_from_slice(&self.nonce_prefix);
        out
    }

    /// Plaintext bytes per chunk (every chunk but the last is exactly this long).
    pub fn chunk_size(&self) -> usize {
        1 << self.chunk_log2
    }

    /// Bytes per sealed chunk: the chunk size plus the tag.
    pub fn record_size(&self) -> usize {
        self.chunk_size() + TAG_LEN
    }
}

/// Whether `prefix` (the first bytes of an object, at least 4) starts with the BRV1 magic.
///
/// This is the reference implementation's cheap detector: it does not validate the header.
///
/// ```
/// assert!(bloodraven_brv1::looks_encrypted(b"BRV1\x01\x01\x00\x10"));
/// assert!(!bloodraven_brv1::looks_encrypted(b"{\"binlogs\": []}"));
/// assert!(!bloodraven_brv1::looks_encrypted(b"BRV"));
/// ```
pub fn looks_encrypted(prefix: &[u8]) -> bool {
    prefix.starts_with(&MAGIC)
}

/// The encrypted size of `plaintext_len` bytes in the format this crate writes:
/// `32 + L + 16 × max(1, ⌈L / 65536⌉)`.
///
/// ```
/// assert_eq!(bloodraven_brv1::ciphertext_len(0), 48);
/// assert_eq!(bloodraven_brv1::ciphertext_len(65_537), 65_601);
/// ```
pub fn ciphertext_len(plaintext_len: u64) -> u64 {
    let chunks = plaintext_len.div_ceil(1 << CHUNK_LOG2).max(1);
    HEADER_LEN as u64 + plaintext_len + TAG_LEN as u64 * chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> [u8; 32] {
        Header::new([1; 16], [2; 8]).to_bytes()
    }

    #[test]
    fn encodes_the_documented_first_eight_bytes() {
        assert_eq!(
            valid()[..8],
            [0x42, 0x52, 0x56, 0x31, 0x01, 0x01, 0x00, 0x10]
        );
        assert_eq!(
            Header::parse(&valid()).unwrap(),
            Header::new([1; 16], [2; 8])
        );
    }

    #[test]
    fn checks_fields_in_reference_order() {
        let mut b = valid();
        b[4] = 2;
        b[5] = 9;
        assert_eq!(
            Header::parse(&b),
            Err(DecryptError::UnsupportedVersion { version: 2 })
        );
        b[4] = 1;
        assert_eq!(
            Header::parse(&b),
            Err(DecryptError::UnsupportedAlgorithm { algorithm: 9 })
        );
        b[5] = 1;
        for bad in [0u16, 25, 0x1000] {
            b[6..8].copy_from_slice(&bad.to_be_bytes());
            assert_eq!(
                Header::parse(&b),
                Err(DecryptError::ChunkSize { chunk_log2: bad })
            );
        }
        for good in [1u16, 4, 24] {
            b[6..8].copy_from_slice(&good.to_be_bytes());
            assert_eq!(Header::parse(&b).unwrap().chunk_size(), 1 << good);
        }
    }

    #[test]
    fn short_or_foreign_input_is_not_brv1() {
        assert_eq!(
            Header::parse(b""),
            Err(DecryptError::BadMagic { found: vec![] })
        );
        assert_eq!(
            Header::parse(b"PK\x03\x04 a zip file"),
            Err(DecryptError::BadMagic {
                found: b"PK\x03\x04".to_vec()
            })
        );
        assert_eq!(
            Header::parse(b"BR"),
            Err(DecryptError::HeaderTruncated { len: 2 })
        );
        assert_eq!(
            Header::parse(&valid()[..31]),
            Err(DecryptError::HeaderTruncated { len: 31 })
        );
    }

    #[test]
    fn ciphertext_len_matches_the_reference_formula() {
        assert_eq!(ciphertext_len(11), 59);
        assert_eq!(ciphertext_len(65_536), 65_584);
        assert_eq!(ciphertext_len(131_072), 32 + 131_072 + 32);
        assert_eq!(ciphertext_len(131_073), 32 + 131_073 + 48);
    }
}
