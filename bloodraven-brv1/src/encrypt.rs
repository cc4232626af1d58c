//! [`Encryptor`]: a `std::io::Write` adapter that seals everything written to it into BRV1.

use std::io::{self, IoSliceMut, Read, Write};
use std::num::NonZeroUsize;

use crate::chunk::{ChunkCipher, Segment};
use crate::header::{HEADER_LEN, Header, MAX_CHUNKS, TAG_LEN};
use crate::pipeline::{Op, Pipeline, default_threads};
use crate::writer::{Job, Layout, Sink, first_error};
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
    state: Sealing,
}

/// Everything of an [`Encryptor`] but its writer, so the writer can be lent to a writer thread
/// while the calling thread keeps reading and sealing.
struct Sealing {
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
    threads: NonZeroUsize,
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
        let threads = default_threads();
        let mut pipeline = Pipeline::new(cipher, Op::Seal, chunk_size, threads);
        let segment = pipeline.buffer();
        Encryptor {
            inner,
            state: Sealing {
                header: Some(header.to_bytes()),
                pipeline,
                segment,
                filled: 0,
                chunk_size,
                next_counter: 0,
                plaintext_len: 0,
                threads,
                broken: false,
            },
        }
    }

    /// Seals on at most this many threads (default: all cores). One thread never starts a
    /// worker; more start only once a stream passes 1 MiB. Set it before writing 1 MiB.
    ///
    /// [`copy_from`](Encryptor::copy_from) spends one of them on writing: see there.
    #[must_use]
    pub fn with_threads(mut self, threads: NonZeroUsize) -> Encryptor<W> {
        self.state.pipeline.set_threads(threads);
        self.state.threads = threads;
        self
    }

    /// Plaintext bytes accepted so far.
    pub fn plaintext_len(&self) -> u64 {
        self.state.plaintext_len
    }

    /// Seals the last chunk with the final flag, writes everything out, flushes and returns the
    /// inner writer. Only a finished stream decodes.
    pub fn finish(mut self) -> io::Result<W> {
        self.state.check()?;
        self.state
            .dispatch(&mut Sink::Direct(&mut self.inner), true)?;
        self.inner.flush()?;
        Ok(self.inner)
    }

    /// Moves to a chunk counter near the limit (tests of the 2^24-chunk budget).
    #[cfg(test)]
    pub(crate) fn skip_to_counter(&mut self, counter: u64) {
        self.state.next_counter = counter;
    }
}

impl<W: Write + Send> Encryptor<W> {
    /// Reads `reader` to its end straight into the chunk buffers (saving the copy that
    /// [`write`](Write::write) makes) and returns the number of bytes read. Call
    /// [`finish`](Encryptor::finish) afterwards as usual.
    ///
    /// This is the fast path for files. Plaintext is read a segment (512 KiB) at a time with
    /// vectored reads, straight into the slots of a buffer laid out as ciphertext, sealed in
    /// place and written with one `write`. With 2 or more threads (see
    /// [`with_threads`](Encryptor::with_threads)) and an input longer than one segment, the
    /// writes move to a scoped thread of their own, so the kernel's copy into the output
    /// overlaps reading and sealing: the calling thread reads and seals, and with 3 or more
    /// threads it only reads while the others seal. With one thread nothing is ever started.
    /// The output is byte for byte the same in every case.
    pub fn copy_from(&mut self, reader: &mut impl Read) -> io::Result<u64> {
        self.state.check()?;
        let (inner, state) = (&mut self.inner, &mut self.state);
        let result = std::thread::scope(|scope| {
            let mut sink = Sink::Direct(inner);
            let result = state.copy_from(reader, &mut sink, scope);
            first_error(result, sink.finish())
        });
        self.state.broken |= result.is_err();
        result
    }
}

impl Sealing {
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
    fn dispatch<W: Write + ?Sized>(
        &mut self,
        sink: &mut Sink<'_, W>,
        last: bool,
    ) -> io::Result<()> {
        let next = if last {
            Vec::new()
        } else {
            self.pipeline.buffer()
        };
        let buf = std::mem::replace(&mut self.segment, next);
        let filled = std::mem::take(&mut self.filled);
        let result = self.submit(sink, buf, filled, last);
        self.broken |= result.is_err();
        result
    }

    /// Seals a segment holding `filled` plaintext bytes and writes out what is done.
    fn submit<W: Write + ?Sized>(
        &mut self,
        sink: &mut Sink<'_, W>,
        mut buf: Vec<u8>,
        filled: usize,
        last: bool,
    ) -> io::Result<()> {
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
            self.write_next(sink)?;
        }
        Ok(())
    }

    /// Writes the oldest sealed segment (after the header, the first time).
    fn write_next<W: Write + ?Sized>(&mut self, sink: &mut Sink<'_, W>) -> io::Result<()> {
        let Some(segment) = self.pipeline.next() else {
            return Ok(());
        };
        let job = Job {
            buf: segment?.buf,
            prefix: self.header.take(),
            layout: Layout::Whole,
        };
        let pipeline = &mut self.pipeline;
        sink.write(job, |buf| pipeline.recycle(buf))
    }

    /// Writes out every sealed segment.
    fn drain<W: Write + ?Sized>(&mut self, sink: &mut Sink<'_, W>) -> io::Result<()> {
        while !self.pipeline.is_empty() {
            self.write_next(sink)?;
        }
        Ok(())
    }

    /// [`Encryptor::copy_from`] with the writer's side lent out as `sink`.
    fn copy_from<'scope, W: Write + Send + ?Sized>(
        &mut self,
        reader: &mut impl Read,
        sink: &mut Sink<'scope, W>,
        scope: &'scope std::thread::Scope<'scope, '_>,
    ) -> io::Result<u64> {
        let threads = self.threads.get();
        self.pipeline.leave_one_for_writing(self.threads);
        let mut total = 0u64;
        loop {
            if self.filled == self.capacity() {
                // Only data that follows makes these chunks non-final: read it into a fresh
                // segment first.
                let mut next = self.pipeline.buffer();
                let n = read_slots(reader, &mut next, 0, self.capacity(), self.chunk_size)?;
                if n == 0 {
                    self.pipeline.recycle(next);
                    break;
                }
                if threads > 1 {
                    sink.start_thread(scope)?;
                }
                let full = std::mem::replace(&mut self.segment, next);
                let filled = std::mem::replace(&mut self.filled, n);
                self.plaintext_len += n as u64;
                total += n as u64;
                self.submit(sink, full, filled, false)?;
                continue;
            }
            let capacity = self.capacity();
            let n = read_slots(
                reader,
                &mut self.segment,
                self.filled,
                capacity,
                self.chunk_size,
            )?;
            if n == 0 {
                break;
            }
            self.filled += n;
            self.plaintext_len += n as u64;
            total += n as u64;
        }
        // What is sealed goes out now, while the writer thread is still there.
        self.drain(sink)?;
        Ok(total)
    }
}

impl<W: Write> Write for Encryptor<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let state = &mut self.state;
        state.check()?;
        let record_size = state.chunk_size + TAG_LEN;
        let mut rest = data;
        while !rest.is_empty() {
            if state.filled == state.capacity() {
                // More data follows, so every chunk of this segment is non-final.
                state.dispatch(&mut Sink::Direct(&mut self.inner), false)?;
            }
            let (slot, within) = (
                state.filled / state.chunk_size,
                state.filled % state.chunk_size,
            );
            let n = (state.chunk_size - within).min(rest.len());
            let at = slot * record_size + within;
            state.segment[at..at + n].copy_from_slice(&rest[..n]);
            state.filled += n;
            rest = &rest[n..];
        }
        state.plaintext_len += data.len() as u64;
        Ok(data.len())
    }

    /// Writes out every sealed chunk and flushes the inner writer. The chunk being filled stays
    /// buffered: sealing it early would change the stream.
    fn flush(&mut self) -> io::Result<()> {
        self.state.check()?;
        if let Err(e) = self.state.drain(&mut Sink::Direct(&mut self.inner)) {
            self.state.broken = true;
            return Err(e);
        }
        self.inner.flush()
    }
}

impl<W: Write> std::fmt::Debug for Encryptor<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encryptor")
            .field("plaintext_len", &self.state.plaintext_len)
            .field("next_chunk", &self.state.next_counter)
            .finish_non_exhaustive()
    }
}

/// One vectored read into the plaintext slots of a segment buffer laid out as records
/// (`chunk_size` bytes of plaintext then room for a tag), from plaintext offset `filled` up to
/// `capacity`; retried on `Interrupted`. Returns the bytes read, 0 at the end of the input.
fn read_slots(
    reader: &mut impl Read,
    buf: &mut [u8],
    filled: usize,
    capacity: usize,
    chunk_size: usize,
) -> io::Result<usize> {
    let record_size = chunk_size + TAG_LEN;
    let (first, within) = (filled / chunk_size, filled % chunk_size);
    let records = capacity / chunk_size;
    let mut slots = Vec::with_capacity(records - first);
    for (i, record) in buf
        .chunks_mut(record_size)
        .enumerate()
        .take(records)
        .skip(first)
    {
        let start = if i == first { within } else { 0 };
        slots.push(IoSliceMut::new(&mut record[start..chunk_size]));
    }
    loop {
        match reader.read_vectored(&mut slots) {
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
