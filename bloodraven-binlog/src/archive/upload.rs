//! One pass over a sealed binlog: read it once, summarize its events, hash the plaintext, optionally
//! BRV1-encrypt, and stream the result into a multipart upload with bounded memory.
//!
//! A blocking thread reads the file and hands chunks through a small bounded channel to the async
//! uploader, which keeps at most a few parts in flight. The upload is completed only after the whole file
//! was read and parsed without error; otherwise it is aborted, so the object key never shows a partial
//! object (multipart uploads become visible only when completed).

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use bloodraven_brv1::{Encryptor, Passphrase};
use bytes::{Bytes, BytesMut};
use object_store::{MultipartUpload, ObjectStore, ObjectStoreExt, PutPayloadMut};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::Error;
use crate::manifest::ArchiveLayout;
use crate::reader::{FileSummary, Reader, Summarizer};

/// Bytes handed from the reading thread to the uploader at a time.
const CHUNK: usize = 1 << 20;
/// Chunks buffered between the reading thread and the uploader.
const CHANNEL_DEPTH: usize = 2;

/// Upload tuning: part size and parallel parts bound the memory an upload holds.
#[derive(Clone, Copy, Debug)]
pub struct UploadLimits {
    /// Multipart part size in bytes (S3 needs at least 5 MiB for all but the last part).
    pub part_size: usize,
    /// Parts in flight at once.
    pub max_concurrency: usize,
}

impl Default for UploadLimits {
    fn default() -> Self {
        UploadLimits {
            part_size: 8 << 20,
            max_concurrency: 3,
        }
    }
}

/// What one pass learned about the file.
#[derive(Debug)]
pub(crate) struct Uploaded {
    pub(crate) summary: FileSummary,
    pub(crate) sha256: String,
    pub(crate) size: u64,
}

/// Streams `path` to `key`; returns the file's summary and digest once the object is complete.
pub(crate) async fn upload_file(
    store: &dyn ObjectStore,
    key: &str,
    path: &Path,
    passphrase: Option<&Passphrase>,
    limits: UploadLimits,
) -> Result<Uploaded, Error> {
    let store_err = |cause| Error::Store {
        op: "multipart upload",
        key: key.to_owned(),
        cause,
    };
    let file = File::open(path).map_err(|cause| Error::File {
        op: "open",
        path: path.to_owned(),
        cause,
    })?;
    let (tx, mut rx) = mpsc::channel::<Bytes>(CHANNEL_DEPTH);
    let passphrase = passphrase.cloned();
    let owned_path = path.to_owned();
    let producer = tokio::task::spawn_blocking(move || produce(file, owned_path, passphrase, tx));

    let mut upload = store
        .put_multipart(&ArchiveLayout::path(key))
        .await
        .map_err(store_err)?;
    let sent = send_parts(upload.as_mut(), &mut rx, limits).await;
    drop(rx);
    let produced = match producer.await {
        Ok(result) => result,
        Err(join) => Err(Error::File {
            op: "read",
            path: path.to_owned(),
            cause: io::Error::other(join),
        }),
    };
    let outcome = match (produced, sent) {
        (Ok(uploaded), Ok(())) => match upload.complete().await {
            Ok(_) => return Ok(uploaded),
            Err(cause) => store_err(cause),
        },
        (Err(e), _) => e,
        (Ok(_), Err(cause)) => store_err(cause),
    };
    // Best effort: the store (or a bucket lifecycle rule) drops abandoned parts anyway, and the error
    // that matters is the one that stopped the upload.
    if let Err(e) = upload.abort().await {
        tracing::debug!(key, error = %e, "aborting a failed multipart upload failed");
    }
    Err(outcome)
}

/// Cuts the chunk stream into parts of `part_size` and uploads up to `max_concurrency` at once.
async fn send_parts(
    upload: &mut dyn MultipartUpload,
    rx: &mut mpsc::Receiver<Bytes>,
    limits: UploadLimits,
) -> Result<(), object_store::Error> {
    let part_size = limits.part_size.max(1);
    let mut in_flight = JoinSet::new();
    let mut part = PutPayloadMut::new();
    let mut parts = 0usize;
    loop {
        let chunk = rx.recv().await;
        let last = chunk.is_none();
        if let Some(mut chunk) = chunk {
            while !chunk.is_empty() {
                let take = (part_size - part.content_length()).min(chunk.len());
                part.push(chunk.split_to(take));
                if part.content_length() == part_size {
                    in_flight.spawn(upload.put_part(std::mem::take(&mut part).freeze()));
                    parts += 1;
                }
            }
        } else if part.content_length() > 0 || parts == 0 {
            // The last part (an empty file still needs one).
            in_flight.spawn(upload.put_part(std::mem::take(&mut part).freeze()));
        }
        while in_flight.len() > limits.max_concurrency.max(1) || (last && !in_flight.is_empty()) {
            match in_flight.join_next().await {
                Some(Ok(result)) => result?,
                Some(Err(join)) => return Err(object_store::Error::JoinError { source: join }),
                None => break,
            }
        }
        if last {
            return Ok(());
        }
    }
}

/// The reading thread: file → (hash, events) → optional encryption → chunks on the channel.
fn produce(
    file: File,
    path: PathBuf,
    passphrase: Option<Passphrase>,
    tx: mpsc::Sender<Bytes>,
) -> Result<Uploaded, Error> {
    let sink = ChunkSink {
        buf: BytesMut::with_capacity(CHUNK),
        tx,
    };
    let io_err = |op, cause| Error::File {
        op,
        path: path.clone(),
        cause,
    };
    let (summary, sha256, size) = match passphrase {
        None => {
            let mut tee = Tee::new(file, sink);
            let summary = summarize(&mut tee)?;
            tee.sink.flush_all().map_err(|e| io_err("upload", e))?;
            (summary, tee.hasher, tee.count)
        }
        Some(p) => {
            let enc =
                Encryptor::new(&p, sink).map_err(|e| io_err("encrypt", io::Error::other(e)))?;
            let mut tee = Tee::new(file, enc);
            let summary = summarize(&mut tee)?;
            let mut sink = tee.sink.finish().map_err(|e| io_err("encrypt", e))?;
            sink.flush_all().map_err(|e| io_err("upload", e))?;
            (summary, tee.hasher, tee.count)
        }
    };
    if summary.size != size {
        return Err(Error::Mismatch {
            key: path.display().to_string(),
            what: format!(
                "read {size} bytes but the events end at offset {}",
                summary.size
            ),
        });
    }
    Ok(Uploaded {
        summary,
        sha256: hex(&sha256.finalize()),
        size,
    })
}

fn summarize(r: &mut impl Read) -> Result<FileSummary, Error> {
    let mut reader = Reader::new(r);
    let mut summarizer = Summarizer::new();
    while let Some(event) = reader.next_event()? {
        summarizer.push(&event)?;
    }
    summarizer.finish().ok_or_else(|| {
        Error::corrupt(
            4,
            None,
            crate::CorruptKind::MissingFormatDescription,
            "no FORMAT_DESCRIPTION event",
        )
    })
}

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Copies everything read from the file into the hash and the sink.
pub(crate) struct Tee<R, W> {
    inner: R,
    sink: W,
    pub(crate) hasher: Sha256,
    pub(crate) count: u64,
}

impl<R: Read, W: Write> Tee<R, W> {
    pub(crate) fn new(inner: R, sink: W) -> Self {
        Tee {
            inner,
            sink,
            hasher: Sha256::new(),
            count: 0,
        }
    }
}

impl<R: Read, W: Write> Read for Tee<R, W> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.sink.write_all(&buf[..n])?;
        self.count += n as u64;
        Ok(n)
    }
}

/// Gathers bytes into [`CHUNK`]-sized pieces and sends them to the uploader (blocking when it lags).
struct ChunkSink {
    buf: BytesMut,
    tx: mpsc::Sender<Bytes>,
}

impl ChunkSink {
    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = self.buf.split().freeze();
        self.buf.reserve(CHUNK);
        self.tx
            .blocking_send(chunk)
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the upload stopped"))
    }

    fn flush_all(&mut self) -> io::Result<()> {
        self.send()
    }
}

impl Write for ChunkSink {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = CHUNK - self.buf.len();
        let n = room.min(data.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
