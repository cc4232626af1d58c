//! [`Decryptor`]: a `std::io::Read` adapter that authenticates and decrypts a BRV1 stream.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::num::NonZeroUsize;

use crate::chunk::{ChunkCipher, Segment};
use crate::header::{HEADER_LEN, Header, MAX_CHUNKS, TAG_LEN};
use crate::pipeline::{Op, Pipeline, default_threads};
use crate::writer::{Job, Layout, Sink, first_error};
use crate::{DecryptError, Error, Passphrase};

/// Reads a BRV1 stream from the inner reader and yields its plaintext.
///
/// **What a consumer sees.** Plaintext is released chunk by chunk, each chunk only after its
/// tag verified, so bytes read are always authentic; but a stream that is cut, modified or
/// reordered *later* fails only when the reader reaches that point. `read` returns the error
/// (kind [`UnexpectedEof`](io::ErrorKind::UnexpectedEof) for truncation,
/// [`InvalidData`](io::ErrorKind::InvalidData) otherwise; [`DecryptError::from_io`] gives the
/// typed value) before it ever returns end-of-stream, and end-of-stream (`Ok(0)`) means the
/// final chunk verified and nothing follows it. Consumers that must not act on a partial
/// plaintext write it somewhere temporary first, as [`decrypt_file`](crate::decrypt_file) does.
///
/// The final chunk is recognised by looking ahead one byte for the end of the input, as the
/// format requires. Long streams are opened on all cores (see
/// [`with_threads`](Decryptor::with_threads)); memory stays bounded by the chunks in flight.
///
/// ```
/// use std::io::Read;
/// use bloodraven_brv1::{Decryptor, Passphrase, encrypt};
///
/// let passphrase = Passphrase::new(b"correct horse battery staple".to_vec())?;
/// let sealed = encrypt(&passphrase, b"hello world")?;
/// let mut dec = Decryptor::new(&passphrase, &sealed[..])?;
/// let mut plain = String::new();
/// dec.read_to_string(&mut plain)?;
/// assert_eq!(plain, "hello world");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Decryptor<R: Read> {
    inner: R,
    header: Header,
    pipeline: Pipeline,
    framer: Framer,
    /// For each segment in flight: the error that follows its records, if any.
    tails: VecDeque<Option<DecryptError>>,
    current: Option<Serving>,
    finished: bool,
    failure: Option<DecryptError>,
    broken: bool,
    plaintext_len: u64,
    threads: NonZeroUsize,
}

impl<R: Read> Decryptor<R> {
    /// Reads and checks the 32-byte header and derives the key. Chunks are read on demand.
    pub fn new(passphrase: &Passphrase, mut inner: R) -> Result<Decryptor<R>, Error> {
        let mut bytes = [0u8; HEADER_LEN];
        let n = read_full(&mut inner, &mut bytes).map_err(|source| Error::Io {
            context: "cannot read the brv1 header".into(),
            source,
        })?;
        let header = Header::parse(&bytes[..n])?;
        let cipher = ChunkCipher::new(passphrase, &header);
        let threads = default_threads();
        let pipeline = Pipeline::new(cipher, Op::Open, header.chunk_size(), threads);
        Ok(Decryptor {
            inner,
            framer: Framer::new(header.record_size()),
            header,
            pipeline,
            tails: VecDeque::new(),
            current: None,
            finished: false,
            failure: None,
            broken: false,
            plaintext_len: 0,
            threads,
        })
    }

    /// Opens on at most this many threads (default: all cores). One thread never starts a
    /// worker; more start only once a stream passes 1 MiB, and never for chunks over 1 MiB.
    ///
    /// [`copy_to`](Decryptor::copy_to) spends one of them on writing: see there.
    #[must_use]
    pub fn with_threads(mut self, threads: NonZeroUsize) -> Decryptor<R> {
        self.pipeline.set_threads(threads);
        self.threads = threads;
        self
    }

    /// The stream's header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Authenticated plaintext bytes returned so far.
    pub fn plaintext_len(&self) -> u64 {
        self.plaintext_len
    }

    /// Whether the final chunk has verified and been read to its end (with nothing after it).
    pub fn is_finished(&self) -> bool {
        self.finished && self.current.is_none()
    }

    /// The inner reader.
    pub fn into_inner(self) -> R {
        self.inner
    }

    /// Starts reading at this chunk counter (tests of the 2^24-chunk budget).
    #[cfg(test)]
    pub(crate) fn skip_to_counter(&mut self, counter: u64) {
        self.framer.next_counter = counter;
    }

    /// Chunks read from the input so far.
    pub(crate) fn chunks_read(&self) -> u64 {
        self.framer.next_counter
    }

    /// Reads the next segment of records (with one byte of look-ahead) and queues it.
    fn read_segment(&mut self) -> io::Result<()> {
        let mut buf = self.pipeline.buffer();
        let mut filled = self.framer.start(&mut buf);
        filled += read_full(&mut self.inner, &mut buf[filled..])?;
        let mut lookahead = None;
        if filled == buf.len() {
            let mut byte = [0u8];
            if read_full(&mut self.inner, &mut byte)? == 1 {
                lookahead = Some(byte[0]);
            }
        }
        let (segment, tail) = self.framer.frame(buf, filled, lookahead);
        self.pipeline.submit(segment)?;
        self.tails.push_back(tail);
        Ok(())
    }

    /// Tops up the segments in flight and makes the oldest one current.
    fn advance(&mut self) -> io::Result<()> {
        while !self.framer.done && !self.pipeline.is_full() {
            self.read_segment()?;
        }
        let segment = self.pipeline.next().ok_or_else(|| {
            io::Error::other("brv1 reader ran out of segments before the final chunk")
        })??;
        let tail = self.tails.pop_front().flatten();
        self.current = Some(Serving::new(segment, tail, self.pipeline.cipher()));
        Ok(())
    }
}

impl<R: Read> Decryptor<R> {
    /// Authenticates and decrypts the rest of the stream into `out` and returns the plaintext
    /// bytes written; `Ok` means the final chunk verified and nothing follows it.
    ///
    /// This is the fast path for files: each segment (512 KiB) of ciphertext is read with one
    /// `read` (and a one-byte look-ahead for the end of the stream), opened in place, and its
    /// plaintext written with one vectored `write` that skips the tags, with no copy between. With 2 or more threads (see
    /// [`with_threads`](Decryptor::with_threads)) and a stream longer than one segment, the
    /// writes move to a scoped thread of their own: the calling thread reads and opens, and with
    /// 3 or more threads it only reads while the others open. With one thread nothing is ever
    /// started.
    ///
    /// As with [`read`](Read::read), only authenticated plaintext is written, but a stream that
    /// is damaged further on fails only when the damage is reached: the error comes after the
    /// plaintext before it. Write to a temporary place first when that matters, as
    /// [`decrypt_file`](crate::decrypt_file) does.
    ///
    /// ```
    /// use bloodraven_brv1::{Decryptor, Passphrase, encrypt};
    ///
    /// let passphrase = Passphrase::new(b"correct horse battery staple".to_vec())?;
    /// let sealed = encrypt(&passphrase, &vec![7u8; 200_000])?;
    /// let mut plain = Vec::new();
    /// let n = Decryptor::new(&passphrase, &sealed[..])?.copy_to(&mut plain)?;
    /// assert_eq!((n, plain), (200_000, vec![7u8; 200_000]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn copy_to<W: Write + Send + ?Sized>(&mut self, out: &mut W) -> io::Result<u64> {
        std::thread::scope(|scope| {
            let mut sink = Sink::Direct(out);
            let result = self.copy_into(&mut sink, scope);
            first_error(result, sink.finish())
        })
    }

    /// [`Decryptor::copy_to`] with the writing side given as `sink`.
    fn copy_into<'scope, W: Write + Send + ?Sized>(
        &mut self,
        sink: &mut Sink<'scope, W>,
        scope: &'scope std::thread::Scope<'scope, '_>,
    ) -> io::Result<u64> {
        let threads = self.threads.get();
        self.pipeline.leave_one_for_writing(self.threads);
        let mut total = 0u64;
        loop {
            if let Some(serving) = self.current.take() {
                let (job, outcome) = serving.into_job();
                let n = job.len() as u64;
                let pipeline = &mut self.pipeline;
                if let Err(e) = sink.write(job, |buf| pipeline.recycle(buf)) {
                    self.broken = true;
                    return Err(e);
                }
                total += n;
                self.plaintext_len += n;
                match outcome {
                    Ok(last) => self.finished |= last,
                    Err(e) => self.failure = Some(e),
                }
                continue;
            }
            if let Some(e) = &self.failure {
                return Err(e.clone().into());
            }
            if self.finished {
                return Ok(total);
            }
            if self.broken {
                return Err(io::Error::other(
                    "brv1 reader failed earlier; the stream cannot continue",
                ));
            }
            if threads > 1 && self.framer.next_counter > 0 && !self.framer.done {
                // The stream goes on past its first segment: worth a writer thread.
                sink.start_thread(scope)?;
            }
            if let Err(e) = self.advance() {
                self.broken = true;
                return Err(e);
            }
        }
    }
}

impl<R: Read> Read for Decryptor<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            if let Some(serving) = &mut self.current {
                let n = serving.copy_to(out);
                if n > 0 {
                    self.plaintext_len += n as u64;
                    return Ok(n);
                }
                let done = self
                    .current
                    .take()
                    .expect("invariant: matched Some just above");
                match done.finish() {
                    Ok((buf, last)) => {
                        self.finished |= last;
                        self.pipeline.recycle(buf);
                    }
                    Err(e) => self.failure = Some(e),
                }
                continue;
            }
            if let Some(e) = &self.failure {
                return Err(e.clone().into());
            }
            if self.finished {
                return Ok(0);
            }
            if self.broken {
                return Err(io::Error::other(
                    "brv1 reader failed earlier; the stream cannot continue",
                ));
            }
            if let Err(e) = self.advance() {
                self.broken = true;
                return Err(e);
            }
        }
    }
}

impl<R: Read> std::fmt::Debug for Decryptor<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decryptor")
            .field("header", &self.header)
            .field("plaintext_len", &self.plaintext_len)
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

/// Cuts the input into segments of records and decides, by looking ahead, which record is the
/// final one. Shared by the blocking and the async readers.
pub(crate) struct Framer {
    record_size: usize,
    /// Counter of the next record.
    pub(crate) next_counter: u64,
    /// The look-ahead byte read past the previous segment.
    carry: Option<u8>,
    /// The last segment has been framed.
    pub(crate) done: bool,
}

impl Framer {
    pub(crate) fn new(record_size: usize) -> Framer {
        Framer {
            record_size,
            next_counter: 0,
            carry: None,
            done: false,
        }
    }

    /// Puts the carried look-ahead byte at the start of `buf`; returns the bytes now filled.
    pub(crate) fn start(&mut self, buf: &mut [u8]) -> usize {
        match self.carry.take() {
            Some(byte) => {
                buf[0] = byte;
                1
            }
            None => 0,
        }
    }

    /// Frames `filled` bytes of `buf` as records. `lookahead` is the byte that followed a full
    /// buffer, or `None` when the input ended: then the last record is the final chunk.
    /// Returns the segment and the error that follows its records, if any.
    pub(crate) fn frame(
        &mut self,
        mut buf: Vec<u8>,
        mut filled: usize,
        lookahead: Option<u8>,
    ) -> (Segment, Option<DecryptError>) {
        let rs = self.record_size;
        let first = self.next_counter;
        let offset = HEADER_LEN as u64 + first * rs as u64;
        let mut last_is_final = lookahead.is_none();
        self.carry = lookahead;
        let mut records = filled.div_ceil(rs);
        let mut tail = None;
        if filled == 0 {
            tail = Some(DecryptError::Truncated {
                chunk: first,
                offset,
            });
        } else if last_is_final && filled - (records - 1) * rs < TAG_LEN {
            // Fewer bytes than a tag: no chunk can end here.
            records -= 1;
            tail = Some(DecryptError::Truncated {
                chunk: first + records as u64,
                offset: offset + filled as u64,
            });
            filled = records * rs;
            last_is_final = false;
        }
        if first + records as u64 > MAX_CHUNKS {
            records = (MAX_CHUNKS - first) as usize;
            tail = Some(DecryptError::TooManyChunks {
                offset: HEADER_LEN as u64 + MAX_CHUNKS * rs as u64,
            });
            filled = records * rs;
            last_is_final = false;
        }
        self.done |= last_is_final || tail.is_some();
        buf.truncate(filled);
        self.next_counter += records as u64;
        let segment = Segment {
            buf,
            record_size: rs,
            first,
            last_is_final,
            failed: None,
        };
        (segment, tail)
    }
}

/// An opened segment whose plaintext is being handed out, then what follows it.
pub(crate) struct Serving {
    segment: Segment,
    /// Records that authenticated.
    usable: usize,
    record: usize,
    pos: usize,
    /// The error after the usable records, if any.
    then: Option<DecryptError>,
}

impl Serving {
    /// Wraps an opened segment; a failed record is diagnosed now, while its bytes are intact.
    pub(crate) fn new(
        segment: Segment,
        tail: Option<DecryptError>,
        cipher: &ChunkCipher,
    ) -> Serving {
        let (usable, then) = match segment.failed {
            Some(i) => (i, Some(segment.diagnose(cipher, i))),
            None => (segment.records(), tail),
        };
        Serving {
            segment,
            usable,
            record: 0,
            pos: 0,
            then,
        }
    }

    /// Copies authenticated plaintext into `out`; 0 once every usable record is handed out.
    pub(crate) fn copy_to(&mut self, out: &mut [u8]) -> usize {
        while self.record < self.usable {
            let range = self.segment.record_range(self.record);
            let plain = &self.segment.buf[range.start..range.end - TAG_LEN];
            let n = (plain.len() - self.pos).min(out.len());
            out[..n].copy_from_slice(&plain[self.pos..self.pos + n]);
            self.pos += n;
            if self.pos == plain.len() {
                self.record += 1;
                self.pos = 0;
            }
            if n > 0 || out.is_empty() {
                return n;
            }
        }
        0
    }

    /// The plaintext not handed out yet, as a job for a [`Sink`], and what follows it: whether
    /// the final chunk was in it, or the error.
    pub(crate) fn into_job(self) -> (Job, Result<bool, DecryptError>) {
        let outcome = match self.then {
            Some(e) => Err(e),
            None => Ok(self.segment.last_is_final),
        };
        let job = Job {
            layout: Layout::Plaintext {
                record_size: self.segment.record_size,
                first: self.record,
                skip: self.pos,
                end: self.usable,
            },
            buf: self.segment.buf,
            prefix: None,
        };
        (job, outcome)
    }

    /// After the plaintext: the buffer for reuse and whether the final chunk was in it, or the
    /// error that follows.
    pub(crate) fn finish(self) -> Result<(Vec<u8>, bool), DecryptError> {
        match self.then {
            Some(e) => Err(e),
            None => Ok((self.segment.buf, self.segment.last_is_final)),
        }
    }
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
pub(crate) fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}
