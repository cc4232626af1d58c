//! Where dumps live: a store URL opened as an object store and a key prefix, and the streams that write and
//! read one dump object (compression, BRV1 encryption, size and SHA-256).
//!
//! Writes stream straight to the store (multipart uploads on S3, a temporary file renamed into place on a
//! local directory), so nothing is staged on local disk and memory is bounded by the buffers of the objects
//! in flight.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};

use async_compression::tokio::bufread::{GzipDecoder, ZstdDecoder};
use async_compression::tokio::write::{GzipEncoder, ZstdEncoder};
use bloodraven_brv1::{AsyncDecryptor, AsyncEncryptor, Passphrase};
use bytes::Bytes;
use object_store::buffered::{BufReader, BufWriter};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};

use crate::error::Error;
use crate::format::{Compression, FileEntry, hex};

/// Buffer of one streaming upload before it turns into a multipart upload.
const UPLOAD_BUFFER: usize = 8 * 1024 * 1024;
/// Parts of one object uploaded at the same time.
const UPLOAD_CONCURRENCY: usize = 2;
/// zstd level of data chunks. Level 1 took half the CPU time of zstd's default level 3 on the benchmark's
/// TSV at about the same size (docs/benchmarks.md), and compression is most of a dump's client time.
const ZSTD_LEVEL: async_compression::Level = async_compression::Level::Precise(1);

/// A dump directory: an object store and the key prefix of the dump's objects.
#[derive(Clone, Debug)]
pub struct DumpLocation {
    store: Arc<dyn ObjectStore>,
    prefix: Path,
    display: String,
}

impl DumpLocation {
    /// A dump at `prefix` in `store`.
    pub fn new(store: Arc<dyn ObjectStore>, prefix: &str) -> DumpLocation {
        let prefix = Path::from(prefix.trim_matches('/'));
        DumpLocation {
            display: format!("{store}/{prefix}"),
            store,
            prefix,
        }
    }

    /// Opens a dump directory URL: `file:///dir` (or a plain absolute path; the directory is created),
    /// `s3://bucket/prefix` (endpoint, region and credentials from the `AWS_*` variables such as
    /// `AWS_ENDPOINT`, `AWS_ALLOW_HTTP`, `AWS_ACCESS_KEY_ID`, with the `aws` feature), or any other URL
    /// `object_store::parse_url_opts` knows.
    pub fn parse(text: &str) -> Result<DumpLocation, Error> {
        let bad = |reason: String| Error::StoreUrl {
            url: text.to_owned(),
            reason,
        };
        let url = if text.contains("://") {
            url::Url::parse(text).map_err(|e| bad(e.to_string()))?
        } else {
            let path = std::path::Path::new(text);
            if !path.is_absolute() {
                return Err(bad(
                    "a local path must be absolute (or use file:///dir)".into()
                ));
            }
            url::Url::from_directory_path(path).map_err(|()| bad("not a directory path".into()))?
        };
        if url.scheme() == "file" {
            let dir = url
                .to_file_path()
                .map_err(|()| bad("not a local path".into()))?;
            std::fs::create_dir_all(&dir).map_err(|e| bad(format!("cannot create it: {e}")))?;
            let fs = object_store::local::LocalFileSystem::new_with_prefix(&dir)
                .map_err(|e| bad(e.to_string()))?;
            return Ok(DumpLocation {
                store: Arc::new(fs),
                prefix: Path::default(),
                display: url.to_string(),
            });
        }
        let options = std::env::vars()
            .filter(|(k, _)| k.starts_with("AWS_"))
            .map(|(k, v)| (k.to_ascii_lowercase(), v));
        let (store, path) = object_store::parse_url_opts(&url, options).map_err(|e| {
            bad(format!(
                "{e} (S3 needs the `aws` feature and AWS_* variables for endpoint and credentials)"
            ))
        })?;
        Ok(DumpLocation {
            store: Arc::from(store),
            prefix: path,
            display: text.to_owned(),
        })
    }

    /// The URL or store description this location was made from.
    pub fn display(&self) -> &str {
        &self.display
    }

    /// The object store.
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// The key prefix of the dump's objects.
    pub fn prefix(&self) -> &Path {
        &self.prefix
    }

    /// The key of object `name` of this dump.
    pub fn key(&self, name: &str) -> Path {
        // Dump object names hold no `/` and no character object_store would escape.
        let mut parts: Vec<_> = self.prefix.parts().collect();
        parts.push(object_store::path::PathPart::from(name));
        Path::from_iter(parts)
    }

    /// The object names directly in this dump directory, with their stored sizes.
    pub async fn list(&self) -> Result<Vec<(String, u64)>, Error> {
        let prefix = (!self.prefix.as_ref().is_empty()).then_some(&self.prefix);
        let listing = self
            .store
            .list_with_delimiter(prefix)
            .await
            .map_err(|e| Error::store(self.prefix.as_ref(), e))?;
        Ok(listing
            .objects
            .into_iter()
            .filter_map(|o| {
                let name = o.location.filename()?.to_owned();
                Some((name, o.size))
            })
            .collect())
    }

    /// Stores a small object whole; returns the size and SHA-256 of `bytes` (before encryption).
    pub(crate) async fn put_small(
        &self,
        name: &str,
        bytes: Vec<u8>,
        passphrase: Option<&Passphrase>,
    ) -> Result<FileEntry, Error> {
        let entry = FileEntry {
            size: bytes.len() as u64,
            sha256: hex(&Sha256::digest(&bytes)),
        };
        let body = match passphrase {
            Some(p) => bloodraven_brv1::encrypt(p, &bytes)?,
            None => bytes,
        };
        let key = self.key(name);
        self.store
            .put(&key, PutPayload::from(body))
            .await
            .map_err(|e| Error::store(key.as_ref(), e))?;
        Ok(entry)
    }

    /// Reads a small object whole, decrypting it with `passphrase`; checks it against `expected` when given.
    /// A missing object is `Ok(None)`.
    pub(crate) async fn get_small(
        &self,
        name: &str,
        passphrase: Option<&Passphrase>,
        expected: Option<&FileEntry>,
    ) -> Result<Option<Vec<u8>>, Error> {
        let key = self.key(name);
        let body = match self.store.get(&key).await {
            Ok(r) => r.bytes().await.map_err(|e| Error::store(key.as_ref(), e))?,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(Error::store(key.as_ref(), e)),
        };
        let plain = match passphrase {
            Some(p) => bloodraven_brv1::decrypt(p, &body).map_err(|e| {
                Error::Encryption(format!(
                    "cannot decrypt {key}: {e} (wrong passphrase, or the object was altered)"
                ))
            })?,
            None => body.to_vec(),
        };
        if let Some(expected) = expected {
            check(
                key.as_ref(),
                expected,
                plain.len() as u64,
                &Sha256::digest(&plain),
            )?;
        }
        Ok(Some(plain))
    }

    /// A streaming writer of object `name`: bytes written are compressed with `compression`, hashed, then
    /// encrypted when `passphrase` is set. [`ObjectWriter::finish`] completes the upload.
    pub(crate) fn writer(
        &self,
        name: &str,
        compression: Compression,
        passphrase: Option<&Passphrase>,
    ) -> Result<ObjectWriter, Error> {
        let key = self.key(name);
        let upload = ShutdownOnce {
            inner: BufWriter::with_capacity(Arc::clone(&self.store), key.clone(), UPLOAD_BUFFER)
                .with_max_concurrency(UPLOAD_CONCURRENCY),
            shutting_down: false,
        };
        let sink: Box<dyn AsyncWrite + Send + Unpin> = match passphrase {
            Some(p) => Box::new(AsyncEncryptor::new(p, upload)?),
            None => Box::new(upload),
        };
        let digest = Arc::new(Mutex::new((Sha256::new(), 0u64)));
        let hashed = HashWriter {
            inner: sink,
            digest: Arc::clone(&digest),
        };
        let out: Box<dyn AsyncWrite + Send + Unpin> = match compression {
            Compression::Zstd => Box::new(ZstdEncoder::with_quality(hashed, ZSTD_LEVEL)),
            Compression::Gzip => Box::new(GzipEncoder::new(hashed)),
            Compression::None => Box::new(hashed),
        };
        Ok(ObjectWriter {
            key: key.to_string(),
            out,
            digest,
        })
    }

    /// A streaming reader of object `name`'s plaintext: decrypted, checked against `expected` (size and
    /// SHA-256, reported at the end of the stream through the returned [`Integrity`]) and decompressed.
    pub(crate) async fn reader(
        &self,
        name: &str,
        compression: Compression,
        passphrase: Option<&Passphrase>,
        expected: &FileEntry,
    ) -> Result<(Box<dyn AsyncRead + Send + Unpin>, Integrity), Error> {
        let key = self.key(name);
        let meta = match self.store.head(&key).await {
            Ok(m) => m,
            Err(object_store::Error::NotFound { .. }) => {
                return Err(Error::MissingObject {
                    object: key.to_string(),
                    expected_size: expected.size,
                });
            }
            Err(e) => return Err(Error::store(key.as_ref(), e)),
        };
        let stored_expected = match passphrase {
            Some(_) => bloodraven_brv1::ciphertext_len(expected.size),
            None => expected.size,
        };
        if meta.size != stored_expected {
            return Err(Error::Corrupt {
                object: key.to_string(),
                what: "stored size",
                expected: stored_expected.to_string(),
                actual: meta.size.to_string(),
            });
        }
        let raw = BufReader::new(Arc::clone(&self.store), &meta);
        let plain: Box<dyn AsyncRead + Send + Unpin> = match passphrase {
            Some(p) => Box::new(AsyncDecryptor::new(p, raw)),
            None => Box::new(raw),
        };
        let integrity = Integrity::default();
        let checked = VerifyReader {
            inner: plain,
            key: key.to_string(),
            expected: expected.clone(),
            hasher: Sha256::new(),
            size: 0,
            integrity: integrity.clone(),
        };
        // Multiple members: the decoder reads on to the end of the object instead of stopping after the
        // first frame, so the digest check at the end always runs.
        let out: Box<dyn AsyncRead + Send + Unpin> = match compression {
            Compression::Zstd => {
                let mut d = ZstdDecoder::new(tokio::io::BufReader::new(checked));
                d.multiple_members(true);
                Box::new(d)
            }
            Compression::Gzip => {
                let mut d = GzipDecoder::new(tokio::io::BufReader::new(checked));
                d.multiple_members(true);
                Box::new(d)
            }
            Compression::None => Box::new(checked),
        };
        Ok((out, integrity))
    }
}

impl DumpLocation {
    /// Reads object `name` to its end (decrypting it) and checks its size and SHA-256 against `expected`:
    /// tells a corrupt object from a load that failed for another reason.
    pub(crate) async fn verify_object(
        &self,
        name: &str,
        passphrase: Option<&Passphrase>,
        expected: &FileEntry,
    ) -> Result<(), Error> {
        use tokio::io::AsyncReadExt;
        let (mut reader, integrity) = self
            .reader(name, Compression::None, passphrase, expected)
            .await?;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match reader.read(&mut buf).await {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => {
                    return Err(integrity
                        .take()
                        .unwrap_or_else(|| Error::io(self.key(name).as_ref(), e)));
                }
            }
        }
        integrity.take().map_or(Ok(()), Err)
    }
}

/// A streaming upload of one dump object; see [`DumpLocation::writer`].
pub(crate) struct ObjectWriter {
    key: String,
    out: Box<dyn AsyncWrite + Send + Unpin>,
    digest: Arc<Mutex<(Sha256, u64)>>,
}

impl ObjectWriter {
    /// Writes all of `bytes`.
    pub(crate) async fn write(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.out
            .write_all(bytes)
            .await
            .map_err(|e| Error::io(&self.key, e))
    }

    /// Flushes the compressor and the encryptor and completes the upload; returns the size and SHA-256 of
    /// the stored bytes before encryption. Dropping the writer instead leaves no object behind.
    pub(crate) async fn finish(mut self) -> Result<FileEntry, Error> {
        self.out
            .shutdown()
            .await
            .map_err(|e| Error::io(&self.key, e))?;
        let digest = self
            .digest
            .lock()
            .map_err(|_| Error::io(&self.key, io::Error::other("digest lock poisoned")))?;
        Ok(FileEntry {
            size: digest.1,
            sha256: hex(&digest.0.clone().finalize()),
        })
    }
}

/// Makes `poll_flush` a no-op once shutdown has begun: the BRV1 encryptor flushes its inner writer again
/// when a shutdown was pending, and object_store's `BufWriter` panics on a flush after shutdown started.
pub(crate) struct ShutdownOnce {
    inner: BufWriter,
    shutting_down: bool,
}

impl ShutdownOnce {
    pub(crate) fn new(inner: BufWriter) -> ShutdownOnce {
        ShutdownOnce {
            inner,
            shutting_down: false,
        }
    }
}

impl AsyncWrite for ShutdownOnce {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.shutting_down {
            return Poll::Ready(Err(io::Error::other("write after shutdown")));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.shutting_down {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.shutting_down = true;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Hashes and counts the bytes its inner writer accepts.
struct HashWriter {
    inner: Box<dyn AsyncWrite + Send + Unpin>,
    digest: Arc<Mutex<(Sha256, u64)>>,
}

impl AsyncWrite for HashWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let n = ready!(Pin::new(&mut self.inner).poll_write(cx, buf))?;
        let mut digest = self
            .digest
            .lock()
            .map_err(|_| io::Error::other("digest lock poisoned"))?;
        digest.0.update(&buf[..n]);
        digest.1 += n as u64;
        Poll::Ready(Ok(n))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The outcome of the integrity check of a streamed object, known once the stream has ended.
#[derive(Clone, Debug, Default)]
pub(crate) struct Integrity(Arc<Mutex<(Option<Error>, bool)>>);

impl Integrity {
    /// The integrity error found while streaming, if any (taken: a second call returns `None`).
    pub(crate) fn take(&self) -> Option<Error> {
        self.0.lock().ok().and_then(|mut e| e.0.take())
    }

    /// `true` once the whole object was read and matched its size and digest.
    pub(crate) fn verified(&self) -> bool {
        self.0.lock().is_ok_and(|e| e.1)
    }

    fn set(&self, error: Error) {
        if let Ok(mut slot) = self.0.lock() {
            slot.0.get_or_insert(error);
        }
    }

    fn set_verified(&self) {
        if let Ok(mut slot) = self.0.lock() {
            slot.1 = true;
        }
    }
}

/// Hashes what it reads and compares size and SHA-256 with the recorded entry at the end.
struct VerifyReader {
    inner: Box<dyn AsyncRead + Send + Unpin>,
    key: String,
    expected: FileEntry,
    hasher: Sha256,
    size: u64,
    integrity: Integrity,
}

impl AsyncRead for VerifyReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let room = buf.remaining() > 0;
        let this = &mut *self;
        if let Err(e) = ready!(Pin::new(&mut this.inner).poll_read(cx, buf)) {
            this.integrity.set(Error::io(
                this.key.clone(),
                io::Error::new(e.kind(), e.to_string()),
            ));
            return Poll::Ready(Err(e));
        }
        let new = &buf.filled()[before..];
        this.hasher.update(new);
        this.size += new.len() as u64;
        if new.is_empty() && room {
            let digest = this.hasher.clone().finalize();
            if let Err(e) = check(&this.key, &this.expected, this.size, &digest) {
                let message = e.to_string();
                this.integrity.set(e);
                return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, message)));
            }
            this.integrity.set_verified();
        } else if this.size > this.expected.size {
            let e = Error::Corrupt {
                object: this.key.clone(),
                what: "size",
                expected: this.expected.size.to_string(),
                actual: format!("more than {}", this.expected.size),
            };
            let message = e.to_string();
            this.integrity.set(e);
            return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, message)));
        }
        Poll::Ready(Ok(()))
    }
}

fn check(key: &str, expected: &FileEntry, size: u64, digest: &[u8]) -> Result<(), Error> {
    if size != expected.size {
        return Err(Error::Corrupt {
            object: key.to_owned(),
            what: "size",
            expected: expected.size.to_string(),
            actual: size.to_string(),
        });
    }
    let actual = hex(digest);
    if actual != expected.sha256 {
        return Err(Error::Corrupt {
            object: key.to_owned(),
            what: "sha256",
            expected: expected.sha256.clone(),
            actual,
        });
    }
    Ok(())
}

/// Reads `reader` to its end as a stream of byte chunks (for `LOAD DATA LOCAL INFILE`).
pub(crate) fn into_stream(
    reader: Box<dyn AsyncRead + Send + Unpin>,
) -> futures::stream::BoxStream<'static, io::Result<Bytes>> {
    use futures::StreamExt;
    use tokio::io::AsyncReadExt;
    futures::stream::unfold(Some(reader), |state| async move {
        let mut reader = state?;
        let mut buf = vec![0u8; 256 * 1024];
        let mut filled = 0;
        // Fill most of the buffer: fewer, larger packets to the server.
        while filled < buf.len() {
            match reader.read(&mut buf[filled..]).await {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) => return Some((Err(e), None)),
            }
        }
        if filled == 0 {
            return None;
        }
        buf.truncate(filled);
        Some((Ok(Bytes::from(buf)), Some(reader)))
    })
    .boxed()
}
