//! [`Encryptor`]: a `std::io::Write` adapter that seals everything written to it into BRV1.

use std::io::{self, Read, Write};
use std::num::NonZeroUsize;

use crate::chunk::{ChunkCipher, Segment};
use crate::header::{HEADER_LEN, Header, MAX_CHUNKS, TAG_LEN};
use crate::pipeline::{Op, Pipeline, default_threads};
use crate::{Error, Passphrase};

/// Encrypts everything written to it into a BRV1 stream on the inner writer.
///
/// Data is cut into 64 KiB chunks; a chunk is sealed once the next byte arrives (or at
/// [`finish`](Encryptor::finish), which seals the last chunk with the final flag). Memory stays
/// bounded by the chunks in flight (a few MiB at most) whatever the size of the input.
///
/// Long streams are sealed on all cores (see [`with_threads`](Encryptor::with_threads)); the
/// output is byte for byte what one thread writes.
///
/// **Call [`finish`](Encryptor::finish).** Dropping an encryptor without it leaves a stream
/// without its final chunk, which every decoder rejects as truncated.
///
/// ```
/// use std::io::Write;
/// use bloodraven_brv1::{Encryptor, Passphrase};
///
/// let passphrase = Passphrase::new(b"correct horse battery staple".to_vec())?;
/// let mut enc = Encryptor::new(&passphrase, Vec::new())?;
/// enc.write_all(b"hello ")?;
/// enc.write_all(b"world")?;
/// let sealed = enc.finish()?;
/// assert_eq!(sealed.len(), 32 + 11 + 16);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Encryptor<W: Write> {
    inner: W,
    /// The header, until it has been written.
    header: Option<[u8; HEADER_LEN]>,
    pipeline: Pipeline,
    /// The segment being filled: plaintext at record stride, with room for the tags.
    segment: Vec<u8>,
    /// Plaintext bytes in `segment`.
    filled: usize,
    chunk_size: usize,
    next_counter: u64,
    plaintext_len: u64,
    broken: bool,
}

impl<W: Write> Encryptor<W> {
    /// Starts a stream with a fresh random salt and nonce prefix; nothing is written until the
    /// first chunk is complete or the stream is finished.
    pub fn new(passphrase: &Passphrase, inner: W) -> Result<Encryptor<W>, Error> {
        Ok(Encryptor::with_header(passphrase, inner, random_header()?))
    }

    /// Starts a stream with this exact header (tests reproduce the known-answer vectors with it).
    pub(crate) fn with_header(passphrase: &Passphrase, inner: W, header: Header) -> Encryptor<W> {
        let cipher = ChunkCipher::new(passphrase, &header);
        let chunk_size = header.chunk_size();
        let mut pipeline = Pipeline::new(cipher, Op::Seal, chunk_size, default_threads());
        let segment = pipeline.buffer();
        Encryptor {
            inner,
            header: Some(header.to_bytes()),
            pipeline,
            segment,
            filled: 0,
            chunk_size,
            next_counter: 0,
            plaintext_len: 0,
            broken: false,
        }
    }

    /// Seals on at most this many threads (default: all cores). One thread never starts a
    /// worker; more start only once a stream passes 1 MiB. Set it before writing 1 MiB.
    #[must_use]
    pub fn with_threads(mut self, threads: NonZeroUsize) -> Encryptor<W> {
        self.pipeline.set_threads(threads);
        self
    }

    /// Plaintext bytes accepted so far.
    pub fn plaintext_len(&self) -> u64 {
        self.plaintext_len
    }

    /// Seals the last chunk with the final flag, writes everything out, flushes and returns the
    /// inner writer. Only a finished stream decodes.
    pub fn finish(mut self) -> io::Result<W> {
        self.check()?;
        self.dispatch(true)?;
        self.inner.flush()?;
        Ok(self.inner)
    }

    /// Moves to a chunk counter near the limit (tests of the 2^24-chunk budget).
    #[cfg(test)]
    pub(crate) fn skip_to_counter(&mut self, counter: u64) {
        self.next_counter = counter;
    }

    fn check(&self) -> io::Result<()> {
        if self.broken {
            return Err(io::Error::other(
                "brv1 encryptor failed earlier; the stream is incomplete",
            ));
        }
        Ok(())
    }

    fn capacity(&self) -> usize {
        self.pipeline.records_per_segment() * self.chunk_size
    }

    /// Seals the current segment (its last chunk final if `last`) and writes out what is done.
    fn dispatch(&mut self, last: bool) -> io::Result<()> {
        let result = self.try_dispatch(last);
        self.broken |= result.is_err();
        result
    }

    fn try_dispatch(&mut self, last: bool) -> io::Result<()> {
        let next = if last {
            Vec::new()
        } else {
            self.pipeline.buffer()
        };
        let buf = std::mem::replace(&mut self.segment, next);
        let filled = std::mem::take(&mut self.filled);
        self.submit(buf, filled, last)
    }

    /// Seals a segment holding `filled` plaintext bytes and writes out what is done.
    fn submit(&mut self, mut buf: Vec<u8>, filled: usize, last: bool) -> io::Result<()> {
        let records = filled.div_ceil(self.chunk_size).max(1);
        if self.next_counter + records as u64 > MAX_CHUNKS {
            return Err(Error::TooLarge.into());
        }
        buf.truncate(filled + records * TAG_LEN);
        self.pipeline.submit(Segment {
            buf,
            record_size: self.chunk_size + TAG_LEN,
            first: self.next_counter,
            last_is_final: last,
            failed: None,
        })?;
        self.next_counter += records as u64;
        while self.pipeline.is_full() || (last && !self.pipeline.is_empty()) {
            self.write_next()?;
        }
        Ok(())
    }

    /// Reads `reader` to its end straight into the chunk buffers (saving the copy that
    /// [`write`](Write::write) makes) and returns the number of bytes read. Call
    /// [`finish`](Encryptor::finish) afterwards as usual.
    pub fn copy_from(&mut self, reader: &mut impl Read) -> io::Result<u64> {
        self.check()?;
        let record_size = self.chunk_size + TAG_LEN;
        let mut total = 0u64;
        loop {
            if self.filled == self.capacity() {
                // Only data that follows makes these chunks non-final: read it into a fresh
                // segment first.
                let mut next = self.pipeline.buffer();
                let n = read_some(reader, &mut next[..self.chunk_size])?;
                if n == 0 {
                    self.pipeline.recycle(next);
                    return Ok(total);
                }
                let full = std::mem::replace(&mut self.segment, next);
                let filled = std::mem::replace(&mut self.filled, n);
                self.plaintext_len += n as u64;
                total += n as u64;
                let result = self.submit(full, filled, false);
                self.broken |= result.is_err();
                result?;
                continue;
            }
            let (slot, within) = (self.filled / self.chunk_size, self.filled % self.chunk_size);
            let at = slot * record_size + within;
            let n = read_some(reader, &mut self.segment[at..at + self.chunk_size - within])?;
            if n == 0 {
                return Ok(total);
            }
            self.filled += n;
            self.plaintext_len += n as u64;
            total += n as u64;
        }
    }

    /// Writes the oldest sealed segment (after the header, the first time).
    fn write_next(&mut self) -> io::Result<()> {
        let Some(segment) = self.pipeline.next() else {
            return Ok(());
        };
        let segment = segment?;
        if let Some(header) = self.header.take() {
            self.inner.write_all(&header)?;
        }
        self.inner.write_all(&segment.buf)?;
        self.pipeline.recycle(segment.buf);
        Ok(())
    }
}

impl<W: Write> Write for Encryptor<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.check()?;
        let record_size = self.chunk_size + TAG_LEN;
        let mut rest = data;
        while !rest.is_empty() {
            if self.filled == self.capacity() {
                // More data follows, so every chunk of this segment is non-final.
                self.dispatch(false)?;
            }
            let (slot, within) = (self.filled / self.chunk_size, self.filled % self.chunk_size);
            let n = (self.chunk_size - within).min(rest.len());
            let at = slot * record_size + within;
            self.segment[at..at + n].copy_from_slice(&rest[..n]);
            self.filled += n;
            rest = &rest[n..];
        }
        self.plaintext_len += data.len() as u64;
        Ok(data.len())
    }

    /// Writes out every sealed chunk and flushes the inner writer. The chunk being filled stays
    /// buffered: sealing it early would change the stream.
    fn flush(&mut self) -> io::Result<()> {
        self.check()?;
        while !self.pipeline.is_empty() {
            if let Err(e) = self.write_next() {
                self.broken = true;
                return Err(e);
            }
        }
        self.inner.flush()
    }
}

impl<W: Write> std::fmt::Debug for Encryptor<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encryptor")
            .field("plaintext_len", &self.plaintext_len)
            .field("next_chunk", &self.next_counter)
            .finish_non_exhaustive()
    }
}

/// One `read`, retried on `Interrupted`.
fn read_some(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match reader.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            other => return other,
        }
    }
}

/// A header with a fresh random salt and nonce prefix from the operating system.
pub(crate) fn random_header() -> Result<Header, Error> {
    let mut salt = [0u8; 16];
    let mut nonce_prefix = [0u8; 8];
    getrandom::fill(&mut salt)
        .and_then(|()| getrandom::fill(&mut nonce_prefix))
        .map_err(|e| Error::Random(e.to_string()))?;
    Ok(Header::new(salt, nonce_prefix))
}
