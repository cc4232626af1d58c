//! Tokio adapters: [`AsyncEncryptor`] (`AsyncWrite`) and [`AsyncDecryptor`] (`AsyncRead`).
//!
//! They produce and accept exactly the bytes of the blocking adapters. Chunks are sealed and
//! opened on the task that polls them, one at a time (about 40 µs per 64 KiB chunk), so they
//! never block an executor for long and start no threads.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::chunk::ChunkCipher;
use crate::decrypt::{Framer, Serving};
use crate::encrypt::random_header;
use crate::header::{HEADER_LEN, Header, MAX_CHUNKS, TAG_LEN};
use crate::{DecryptError, Error, Passphrase};

/// Plaintext bytes the async reader frames at once (at least one chunk, and two when they fit,
/// so a failing chunk 0 can be told from a wrong passphrase).
const READ_AHEAD: usize = 256 * 1024;

/// Encrypts everything written to it into a BRV1 stream on the inner writer.
///
/// `poll_shutdown` seals the final chunk; **a stream that is never shut down is truncated** and
/// every decoder rejects it. Output is identical to [`Encryptor`](crate::Encryptor)'s.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
/// use bloodraven_brv1::{AsyncDecryptor, AsyncEncryptor, Passphrase};
///
/// let passphrase = Passphrase::new(b"correct horse battery staple".to_vec())?;
/// let mut enc = AsyncEncryptor::new(&passphrase, Vec::new())?;
/// enc.write_all(b"hello world").await?;
/// enc.shutdown().await?;
/// let sealed = enc.into_inner();
///
/// let mut plain = Vec::new();
/// AsyncDecryptor::new(&passphrase, &sealed[..]).read_to_end(&mut plain).await?;
/// assert_eq!(plain, b"hello world");
/// # Ok(())
/// # }
/// ```
pub struct AsyncEncryptor<W> {
    inner: W,
    cipher: ChunkCipher,
    chunk_size: usize,
    /// The chunk being filled, with room for its tag.
    chunk: Vec<u8>,
    filled: usize,
    /// Sealed bytes (the header first) not yet accepted by the inner writer.
    out: Vec<u8>,
    out_pos: usize,
    counter: u64,
    sealed_final: bool,
    failed: bool,
}

impl<W: AsyncWrite + Unpin> AsyncEncryptor<W> {
    /// Starts a stream with a fresh random salt and nonce prefix.
    pub fn new(passphrase: &Passphrase, inner: W) -> Result<AsyncEncryptor<W>, Error> {
        Ok(AsyncEncryptor::with_header(
            passphrase,
            inner,
            random_header()?,
        ))
    }

    pub(crate) fn with_header(
        passphrase: &Passphrase,
        inner: W,
        header: Header,
    ) -> AsyncEncryptor<W> {
        AsyncEncryptor {
            inner,
            cipher: ChunkCipher::new(passphrase, &header),
            chunk_size: header.chunk_size(),
            chunk: vec![0; header.record_size()],
            filled: 0,
            out: header.to_bytes().to_vec(),
            out_pos: 0,
            counter: 0,
            sealed_final: false,
            failed: false,
        }
    }

    /// The inner writer (call after `shutdown`).
    pub fn into_inner(self) -> W {
        self.inner
    }

    /// Writes pending sealed bytes to the inner writer.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.out_pos < self.out.len() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.out[self.out_pos..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.out_pos += n;
        }
        self.out.clear();
        self.out_pos = 0;
        Poll::Ready(Ok(()))
    }

    /// Seals the buffered chunk into `out` (which must be drained).
    fn seal(&mut self, last: bool) -> io::Result<()> {
        if self.counter >= MAX_CHUNKS {
            self.failed = true;
            return Err(Error::TooLarge.into());
        }
        let len = self.filled + TAG_LEN;
        self.cipher.seal(self.counter, last, &mut self.chunk[..len]);
        std::mem::swap(&mut self.chunk, &mut self.out);
        self.out.truncate(len);
        self.chunk.resize(self.chunk_size + TAG_LEN, 0);
        self.counter += 1;
        self.filled = 0;
        Ok(())
    }

    fn check(&self) -> io::Result<()> {
        if self.failed {
            return Err(io::Error::other(
                "brv1 encryptor failed earlier; the stream is incomplete",
            ));
        }
        if self.sealed_final {
            return Err(io::Error::other("brv1 stream already finished by shutdown"));
        }
        Ok(())
    }
}

impl<W: AsyncWrite + Unpin> AsyncWrite for AsyncEncryptor<W> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.check()?;
        ready!(this.poll_drain(cx))?;
        if data.is_empty() {
            return Poll::Ready(Ok(0));
        }
        if this.filled == this.chunk_size {
            // More data follows, so the full chunk is not the final one.
            this.seal(false)?;
            ready!(this.poll_drain(cx))?;
        }
        let n = (this.chunk_size - this.filled).min(data.len());
        this.chunk[this.filled..this.filled + n].copy_from_slice(&data[..n]);
        this.filled += n;
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.sealed_final {
            if this.failed {
                this.check()?;
            }
            ready!(this.poll_drain(cx))?;
            this.seal(true)?;
            this.sealed_final = true;
        }
        ready!(this.poll_drain(cx))?;
        ready!(Pin::new(&mut this.inner).poll_flush(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

impl<W> std::fmt::Debug for AsyncEncryptor<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncEncryptor")
            .field("next_chunk", &self.counter)
            .field("finished", &self.sealed_final)
            .finish_non_exhaustive()
    }
}

/// Reads a BRV1 stream from the inner reader and yields its plaintext.
///
/// The same guarantees as [`Decryptor`](crate::Decryptor): plaintext is released chunk by
/// chunk, each chunk authenticated first; any damage is an error (`UnexpectedEof` for
/// truncation, `InvalidData` otherwise, with a [`DecryptError`] inside) returned before
/// end-of-stream, and end-of-stream means the final chunk verified with nothing after it.
/// The header is read on the first poll.
pub struct AsyncDecryptor<R> {
    inner: R,
    state: ReadState,
}

enum ReadState {
    Header {
        passphrase: Passphrase,
        bytes: [u8; HEADER_LEN],
        filled: usize,
    },
    Body(Box<Body>),
    Done,
    Failed(DecryptError),
}

struct Body {
    cipher: ChunkCipher,
    framer: Framer,
    buf: Vec<u8>,
    /// Bytes framed at once.
    segment_len: usize,
    filled: usize,
    /// The buffer is full; one byte of look-ahead decides whether its last record is final.
    need_lookahead: bool,
    serving: Option<Serving>,
}

impl<R: AsyncRead + Unpin> AsyncDecryptor<R> {
    /// A reader of the BRV1 stream `inner`; nothing is read until it is polled.
    pub fn new(passphrase: &Passphrase, inner: R) -> AsyncDecryptor<R> {
        AsyncDecryptor {
            inner,
            state: ReadState::Header {
                passphrase: passphrase.clone(),
                bytes: [0; HEADER_LEN],
                filled: 0,
            },
        }
    }

    /// The inner reader.
    pub fn into_inner(self) -> R {
        self.inner
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for AsyncDecryptor<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            match &mut this.state {
                ReadState::Done => return Poll::Ready(Ok(())),
                ReadState::Failed(e) => return Poll::Ready(Err(e.clone().into())),
                ReadState::Header {
                    passphrase,
                    bytes,
                    filled,
                } => {
                    while *filled < HEADER_LEN {
                        let n = ready!(poll_read_into(&mut this.inner, cx, &mut bytes[*filled..]))?;
                        if n == 0 {
                            break;
                        }
                        *filled += n;
                    }
                    this.state = match Header::parse(&bytes[..*filled]) {
                        Err(e) => ReadState::Failed(e),
                        Ok(header) => {
                            let chunk = header.chunk_size();
                            let records = match chunk {
                                c if c <= READ_AHEAD / 2 => READ_AHEAD / c,
                                c if c <= 2 * READ_AHEAD => 2,
                                _ => 1,
                            };
                            let segment_len = records * header.record_size();
                            ReadState::Body(Box::new(Body {
                                cipher: ChunkCipher::new(passphrase, &header),
                                framer: Framer::new(header.record_size()),
                                buf: vec![0; segment_len],
                                segment_len,
                                filled: 0,
                                need_lookahead: false,
                                serving: None,
                            }))
                        }
                    };
                }
                ReadState::Body(body) => {
                    if let Some(serving) = &mut body.serving {
                        let n = serving.copy_to(out.initialize_unfilled());
                        if n > 0 {
                            out.advance(n);
                            return Poll::Ready(Ok(()));
                        }
                        let done = body
                            .serving
                            .take()
                            .expect("invariant: matched Some just above");
                        match done.finish() {
                            Ok((buf, last)) => {
                                body.buf = buf;
                                if last {
                                    this.state = ReadState::Done;
                                }
                            }
                            Err(e) => this.state = ReadState::Failed(e),
                        }
                        continue;
                    }
                    ready!(body.poll_segment(&mut this.inner, cx))?;
                }
            }
        }
    }
}

impl Body {
    /// Reads one segment of records plus one byte of look-ahead, then opens it.
    fn poll_segment<R: AsyncRead + Unpin>(
        &mut self,
        inner: &mut R,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        if self.filled == 0 && !self.need_lookahead {
            self.buf.resize(self.segment_len, 0);
            self.filled = self.framer.start(&mut self.buf);
        }
        let mut lookahead = None;
        if !self.need_lookahead {
            while self.filled < self.buf.len() {
                let n = ready!(poll_read_into(inner, cx, &mut self.buf[self.filled..]))?;
                if n == 0 {
                    break;
                }
                self.filled += n;
            }
            self.need_lookahead = self.filled == self.buf.len();
        }
        if self.need_lookahead {
            let mut byte = [0u8];
            if ready!(poll_read_into(inner, cx, &mut byte))? == 1 {
                lookahead = Some(byte[0]);
            }
        }
        let buf = std::mem::take(&mut self.buf);
        let (mut segment, tail) = self.framer.frame(buf, self.filled, lookahead);
        self.filled = 0;
        self.need_lookahead = false;
        segment.open(&self.cipher);
        self.serving = Some(Serving::new(segment, tail, &self.cipher));
        Poll::Ready(Ok(()))
    }
}

impl<R> std::fmt::Debug for AsyncDecryptor<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match &self.state {
            ReadState::Header { .. } => "header",
            ReadState::Body(_) => "body",
            ReadState::Done => "done",
            ReadState::Failed(_) => "failed",
        };
        f.debug_struct("AsyncDecryptor")
            .field("state", &state)
            .finish_non_exhaustive()
    }
}

fn poll_read_into<R: AsyncRead + Unpin>(
    inner: &mut R,
    cx: &mut Context<'_>,
    buf: &mut [u8],
) -> Poll<io::Result<usize>> {
    let mut rb = ReadBuf::new(buf);
    ready!(Pin::new(inner).poll_read(cx, &mut rb))?;
    Poll::Ready(Ok(rb.filled().len()))
}
