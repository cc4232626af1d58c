//! The crate's errors: [`Error`] for every operation and [`DecryptError`] for what decoding found.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong in this crate.
///
/// Decoding failures carry a [`DecryptError`] that callers can branch on; see [`Error::decrypt`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input is not a valid BRV1 stream under this passphrase.
    #[error(transparent)]
    Decrypt(#[from] DecryptError),
    /// A passphrase was empty (after trimming, for passphrase files).
    #[error("passphrase is empty")]
    EmptyPassphrase,
    /// A passphrase file holds nothing but whitespace.
    #[error("passphrase file {} is empty (only spaces, tabs and line breaks)", .path.display())]
    EmptyPassphraseFile {
        /// The file that was read.
        path: PathBuf,
    },
    /// A passphrase file could not be read.
    #[error("cannot read passphrase file {}", .path.display())]
    PassphraseFile {
        /// The file that was read.
        path: PathBuf,
        /// Why reading failed.
        #[source]
        source: io::Error,
    },
    /// The plaintext needs more than 2^24 chunks (1 TiB at 64 KiB chunks), the format's limit.
    #[error(
        "plaintext exceeds the single-stream budget of 2^24 chunks ({} bytes)",
        (1u64 << 24) << crate::CHUNK_LOG2
    )]
    TooLarge,
    /// The operating system's random number generator failed.
    #[error("cannot draw random salt and nonce prefix: {0}")]
    Random(String),
    /// Reading or writing failed.
    #[error("{context}")]
    Io {
        /// What was being done, naming the path when there is one.
        context: String,
        /// The underlying failure.
        #[source]
        source: io::Error,
    },
}

impl Error {
    /// The decoding failure, if this is one.
    pub fn decrypt(&self) -> Option<&DecryptError> {
        match self {
            Error::Decrypt(e) => Some(e),
            _ => None,
        }
    }

    /// Wraps an I/O error from one of our adapters, unwrapping the typed errors they carry.
    pub(crate) fn from_io(source: io::Error, context: impl FnOnce() -> String) -> Error {
        if source
            .get_ref()
            .is_some_and(|inner| inner.is::<DecryptError>() || inner.is::<Error>())
        {
            let inner = source
                .into_inner()
                .expect("checked above: the error has an inner value");
            return match inner.downcast::<DecryptError>() {
                Ok(e) => Error::Decrypt(*e),
                Err(other) => *other
                    .downcast::<Error>()
                    .expect("checked above: the inner value is one of our two types"),
            };
        }
        Error::Io {
            context: context(),
            source,
        }
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        match e {
            Error::Decrypt(d) => d.into(),
            Error::Io { source, .. } => source,
            Error::TooLarge => io::Error::new(io::ErrorKind::InvalidInput, e),
            other => io::Error::other(other),
        }
    }
}

/// Why a BRV1 stream did not decode: callers can tell a wrong passphrase from corruption and
/// truncation, and each variant names the chunk and byte offset.
///
/// Chunks are numbered from 0; offsets count bytes of the encrypted stream, header included.
/// As an [`io::Error`] (from the streaming adapters) truncation has kind
/// [`UnexpectedEof`](io::ErrorKind::UnexpectedEof) and everything else
/// [`InvalidData`](io::ErrorKind::InvalidData); [`DecryptError::from_io`] recovers the typed value.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum DecryptError {
    /// The input does not start with the `BRV1` magic: it is not an encrypted object.
    #[error(
        "not a brv1 stream: starts with {} instead of the magic \"BRV1\"",
        hex_prefix(found)
    )]
    BadMagic {
        /// Up to the first four bytes of the input.
        found: Vec<u8>,
    },
    /// The input starts like a BRV1 header but ends before its 32 bytes.
    #[error("brv1 header truncated: the input ends after {len} of 32 header bytes")]
    HeaderTruncated {
        /// How many bytes there were.
        len: usize,
    },
    /// The header's version byte (offset 4) is not 1.
    #[error("unsupported brv1 version {version} at byte offset 4 (only version 1 exists)")]
    UnsupportedVersion {
        /// The version found.
        version: u8,
    },
    /// The header's algorithm byte (offset 5) is not 1 (AES-256-GCM).
    #[error(
        "unsupported brv1 algorithm {algorithm} at byte offset 5 (only 1, AES-256-GCM, exists)"
    )]
    UnsupportedAlgorithm {
        /// The algorithm id found.
        algorithm: u8,
    },
    /// The header's chunk_log2 (offset 6) is outside 1..=24.
    #[error("brv1 chunk_log2 {chunk_log2} at byte offset 6 is outside 1..=24")]
    ChunkSize {
        /// The value found.
        chunk_log2: u16,
    },
    /// No chunk authenticates under the key derived from this passphrase and the header's salt:
    /// the passphrase is wrong (or the header's salt or nonce prefix was modified).
    ///
    /// Reported when chunk 0 fails and the chunk after it, if any, fails too. When chunk 0
    /// fails but chunk 1 authenticates, the passphrase is right and the error is
    /// [`Corrupt`](DecryptError::Corrupt) instead. When chunk 0 is the only chunk present,
    /// a wrong passphrase cannot be told apart from a modified or cut chunk 0; `only_chunk` says
    /// so and the message names both.
    #[error(
        "wrong passphrase (or a modified header{}): chunk 0 at byte offset 32 does not authenticate",
        if *.only_chunk { ", or chunk 0, the only chunk, was modified or cut short" } else { "" }
    )]
    WrongPassphrase {
        /// Whether chunk 0 was the only chunk in the stream, so no second chunk could confirm
        /// the key.
        only_chunk: bool,
    },
    /// A chunk failed authentication: its bytes (or its tag) were modified. For the last chunk of
    /// the stream this is also what a cut inside that chunk looks like.
    #[error("chunk {chunk} at byte offset {offset} failed authentication: the data was modified{}",
        if *.last { " or cut short inside this chunk" } else { "" })]
    Corrupt {
        /// The chunk's index.
        chunk: u64,
        /// Byte offset of the chunk in the encrypted stream.
        offset: u64,
        /// Whether this was the last chunk present in the stream.
        last: bool,
    },
    /// The chunk at this position is a genuine chunk of the stream, but from another position:
    /// chunks were removed, duplicated or reordered.
    #[error(
        "chunk {chunk} at byte offset {offset} is chunk {original}{} of this stream: chunks were removed, duplicated or reordered",
        if *.original_final { " (the final one)" } else { "" }
    )]
    Misplaced {
        /// The position at which it was found.
        chunk: u64,
        /// Byte offset of the chunk in the encrypted stream.
        offset: u64,
        /// The position it was sealed for.
        original: u64,
        /// Whether it was sealed as the final chunk.
        original_final: bool,
    },
    /// The stream ends before its final chunk: at a chunk boundary, or with fewer than the 16
    /// bytes of a tag left.
    #[error(
        "brv1 stream truncated: it ends at byte offset {offset} before final chunk {chunk} was complete"
    )]
    Truncated {
        /// The index of the chunk that is missing or incomplete.
        chunk: u64,
        /// Where the input ended.
        offset: u64,
    },
    /// Bytes follow the final chunk.
    #[error("unexpected trailing data at byte offset {offset} after the final chunk {chunk}")]
    TrailingData {
        /// Index of the final chunk.
        chunk: u64,
        /// Offset of the first byte after it.
        offset: u64,
    },
    /// The stream has more than 2^24 chunks, the format's limit.
    #[error(
        "chunk counter exhausted at byte offset {offset}: a brv1 stream has at most 2^24 chunks"
    )]
    TooManyChunks {
        /// Offset of the first chunk past the limit.
        offset: u64,
    },
}

impl DecryptError {
    /// The typed error inside an [`io::Error`] returned by this crate's readers, if any.
    pub fn from_io(error: &io::Error) -> Option<&DecryptError> {
        error.get_ref()?.downcast_ref::<DecryptError>()
    }

    /// Whether the stream was cut short (rather than modified).
    pub fn is_truncation(&self) -> bool {
        matches!(
            self,
            DecryptError::Truncated { .. } | DecryptError::HeaderTruncated { .. }
        )
    }
}

impl From<DecryptError> for io::Error {
    fn from(e: DecryptError) -> io::Error {
        let kind = if e.is_truncation() {
            io::ErrorKind::UnexpectedEof
        } else {
            io::ErrorKind::InvalidData
        };
        io::Error::new(kind, e)
    }
}

fn hex_prefix(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "nothing (the input is empty)".to_owned();
    }
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("0x{hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_kinds_follow_truncation_versus_tampering() {
        let t: io::Error = DecryptError::Truncated {
            chunk: 2,
            offset: 99,
        }
        .into();
        assert_eq!(t.kind(), io::ErrorKind::UnexpectedEof);
        let c: io::Error = DecryptError::Corrupt {
            chunk: 1,
            offset: 7,
            last: false,
        }
        .into();
        assert_eq!(c.kind(), io::ErrorKind::InvalidData);
        assert_eq!(
            DecryptError::from_io(&c),
            Some(&DecryptError::Corrupt {
                chunk: 1,
                offset: 7,
                last: false
            })
        );
    }

    #[test]
    fn from_io_recovers_typed_errors() {
        let wrong = DecryptError::WrongPassphrase { only_chunk: false };
        let e = Error::from_io(wrong.clone().into(), || "unused".into());
        assert_eq!(e.decrypt(), Some(&wrong));
        let plain = Error::from_io(io::Error::other("disk on fire"), || "write out.brv1".into());
        assert_eq!(plain.to_string(), "write out.brv1");
    }

    #[test]
    fn messages_name_the_offending_value() {
        let m = DecryptError::BadMagic {
            found: b"PK\x03\x04".to_vec(),
        }
        .to_string();
        assert!(m.contains("0x504b0304"), "{m}");
        let m = DecryptError::Corrupt {
            chunk: 2,
            offset: 131_136,
            last: true,
        }
        .to_string();
        assert!(
            m.contains("chunk 2") && m.contains("131136") && m.contains("cut short"),
            "{m}"
        );
    }
}
