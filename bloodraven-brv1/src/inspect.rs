//! [`inspect`] and [`verify`]: what a BRV1 object holds, from its header and its length, and
//! optionally from authenticating every chunk.

use std::io::{self, Read};

use crate::decrypt::read_full;
use crate::header::{HEADER_LEN, Header, MAX_CHUNKS, TAG_LEN};
use crate::{DecryptError, Decryptor, Error, Passphrase};

/// The layout of a BRV1 object: header fields, chunk count and sizes.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub struct Inspection {
    /// The header.
    pub header: Header,
    /// Number of chunks.
    pub chunks: u64,
    /// Plaintext bytes in the last chunk.
    pub last_chunk_len: u64,
    /// Total plaintext bytes.
    pub plaintext_len: u64,
    /// Total bytes of the object, header included.
    pub ciphertext_len: u64,
    /// Whether every chunk was authenticated (by [`verify`]).
    pub verified: bool,
}

/// Reads a BRV1 object to its end and reports its layout, without a passphrase.
///
/// This checks the header and that the length is one a BRV1 stream can have; it cannot tell a
/// stream cut at a chunk boundary from a complete one, nor see modified bytes. Use [`verify`]
/// for that.
///
/// ```
/// use bloodraven_brv1::{Passphrase, encrypt, inspect};
///
/// let passphrase = Passphrase::new(b"correct horse battery staple".to_vec())?;
/// let sealed = encrypt(&passphrase, &vec![7u8; 65_537])?;
/// let info = inspect(&sealed[..])?;
/// assert_eq!((info.chunks, info.last_chunk_len, info.plaintext_len), (2, 1, 65_537));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn inspect(mut reader: impl Read) -> Result<Inspection, Error> {
    let mut bytes = [0u8; HEADER_LEN];
    let n = read_full(&mut reader, &mut bytes)
        .map_err(|source| io("cannot read the brv1 header", source))?;
    let header = Header::parse(&bytes[..n])?;
    let body = io::copy(&mut reader, &mut io::sink())
        .map_err(|source| io("cannot read the brv1 object", source))?;
    Ok(layout(header, body)?)
}

/// Authenticates every chunk of a BRV1 object and reports its layout; fails exactly where
/// decryption would.
pub fn verify(passphrase: &Passphrase, reader: impl Read) -> Result<Inspection, Error> {
    let mut dec = Decryptor::new(passphrase, reader)?;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        match dec.read(&mut buf) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(source) => {
                return Err(Error::from_io(source, || {
                    "cannot read the brv1 object".into()
                }));
            }
        }
    }
    let header = *dec.header();
    let chunks = dec.chunks_read();
    let plaintext_len = dec.plaintext_len();
    let full = (chunks - 1) * header.chunk_size() as u64;
    Ok(Inspection {
        header,
        chunks,
        last_chunk_len: plaintext_len - full,
        plaintext_len,
        ciphertext_len: HEADER_LEN as u64 + plaintext_len + chunks * TAG_LEN as u64,
        verified: true,
    })
}

impl Inspection {
    /// The layout a BRV1 object of `ciphertext_len` bytes (header included) with this header
    /// has, without reading it: what [`inspect`] reports once it has read the object to its end.
    /// Fails when no stream can have that length.
    ///
    /// ```
    /// use bloodraven_brv1::{Header, Inspection, ciphertext_len};
    ///
    /// let header = Header::new([0; 16], [0; 8]);
    /// let info = Inspection::from_len(header, ciphertext_len(200_000))?;
    /// assert_eq!((info.chunks, info.plaintext_len), (4, 200_000));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_len(header: Header, ciphertext_len: u64) -> Result<Inspection, DecryptError> {
        match ciphertext_len.checked_sub(HEADER_LEN as u64) {
            Some(body) => layout(header, body),
            None => Err(DecryptError::HeaderTruncated {
                len: ciphertext_len as usize,
            }),
        }
    }
}

/// The layout implied by a header and the number of bytes after it.
fn layout(header: Header, body: u64) -> Result<Inspection, DecryptError> {
    let rs = header.record_size() as u64;
    let end = HEADER_LEN as u64 + body;
    if body == 0 {
        return Err(DecryptError::Truncated {
            chunk: 0,
            offset: end,
        });
    }
    let chunks = body.div_ceil(rs);
    let last_record = body - (chunks - 1) * rs;
    if last_record < TAG_LEN as u64 {
        return Err(DecryptError::Truncated {
            chunk: chunks - 1,
            offset: end,
        });
    }
    if chunks > MAX_CHUNKS {
        return Err(DecryptError::TooManyChunks {
            offset: HEADER_LEN as u64 + MAX_CHUNKS * rs,
        });
    }
    Ok(Inspection {
        header,
        chunks,
        last_chunk_len: last_record - TAG_LEN as u64,
        plaintext_len: body - chunks * TAG_LEN as u64,
        ciphertext_len: end,
        verified: false,
    })
}

fn io(context: &str, source: io::Error) -> Error {
    Error::Io {
        context: context.into(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_len_matches_inspect_and_rejects_impossible_lengths() {
        for len in [0u64, 1, 65_535, 65_536, 65_537, 200_000] {
            let sealed_len = crate::ciphertext_len(len);
            let info = Inspection::from_len(header(), sealed_len).unwrap();
            assert_eq!((info.plaintext_len, info.ciphertext_len), (len, sealed_len));
        }
        assert_eq!(
            Inspection::from_len(header(), 31),
            Err(DecryptError::HeaderTruncated { len: 31 })
        );
        assert_eq!(
            Inspection::from_len(header(), 32 + 15),
            Err(DecryptError::Truncated {
                chunk: 0,
                offset: 47
            })
        );
    }

    fn header() -> Header {
        Header::new([0; 16], [0; 8])
    }

    #[test]
    fn layout_follows_the_length() {
        let l = layout(header(), 16).unwrap();
        assert_eq!(
            (
                l.chunks,
                l.last_chunk_len,
                l.plaintext_len,
                l.ciphertext_len
            ),
            (1, 0, 0, 48)
        );
        let l = layout(header(), 65_552 + 17).unwrap();
        assert_eq!(
            (l.chunks, l.last_chunk_len, l.plaintext_len),
            (2, 1, 65_537)
        );
        let l = layout(header(), 2 * 65_552).unwrap();
        assert_eq!(
            (l.chunks, l.last_chunk_len, l.plaintext_len),
            (2, 65_536, 131_072)
        );
    }

    #[test]
    fn impossible_lengths_are_truncations() {
        assert_eq!(
            layout(header(), 0),
            Err(DecryptError::Truncated {
                chunk: 0,
                offset: 32
            })
        );
        assert_eq!(
            layout(header(), 15),
            Err(DecryptError::Truncated {
                chunk: 0,
                offset: 47
            })
        );
        assert_eq!(
            layout(header(), 65_552 + 3),
            Err(DecryptError::Truncated {
                chunk: 1,
                offset: 32 + 65_555
            })
        );
    }
}
