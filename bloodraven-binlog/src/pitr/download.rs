//! Download of planned files: streamed from the store, BRV1-decrypted when needed, verified, and renamed
//! into place.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use bloodraven_brv1::{Decryptor, Passphrase};
use bytes::{Buf, Bytes};
use futures::StreamExt;
use object_store::ObjectStoreExt;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use super::Plan;
use crate::Error;
use crate::archive::{ArchiveStore, hex};
use crate::manifest::{ArchiveLayout, BinlogName, ManifestEntry, SiteName};

/// Downloads every file of `plan` into `<dir>/<site>/<name>` and returns the paths in replay order.
///
/// Each file is written to `<name>.part`, checked against the manifest's plaintext `size` and (when
/// present) `sha256`, synced, and renamed; a failed file leaves no `.part` behind. The object key is the
/// entry's `remotePath` when it lies under `<prefix>/<site>/`, else it is rebuilt from the layout (the
/// rule of the Go `pitr-download`).
pub async fn download(
    store: &ArchiveStore,
    plan: &Plan,
    dir: &Path,
) -> Result<Vec<PathBuf>, Error> {
    let mut out = Vec::with_capacity(plan.files.len());
    for f in &plan.files {
        let (site, name, key) = object_key(store, &f.file.site, &f.entry)?;
        let dest_dir = dir.join(site.as_str());
        fs::create_dir_all(&dest_dir).map_err(|cause| Error::File {
            op: "create directory",
            path: dest_dir.clone(),
            cause,
        })?;
        let dest = dest_dir.join(name.as_str());
        fetch(store, &key, &dest, f.entry.size, f.entry.sha256.as_deref()).await?;
        out.push(dest);
    }
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(out)
}

/// The site, name and object key of an entry of `site`'s manifest: its `remotePath` when it lies under
/// `<prefix>/<site>/`, else the key rebuilt from the layout (the rule of the Go `pitr-download`).
pub(super) fn object_key(
    store: &ArchiveStore,
    site: &str,
    entry: &ManifestEntry,
) -> Result<(SiteName, BinlogName, String), Error> {
    let site = SiteName::parse(site)?;
    let name = BinlogName::parse(&entry.name)?;
    let layout = store.layout();
    let key = if entry.remote_path.starts_with(&layout.site_dir(&site)) {
        entry.remote_path.clone()
    } else {
        layout.object_key(&site, &name)
    };
    Ok((site, name, key))
}

async fn fetch(
    store: &ArchiveStore,
    key: &str,
    dest: &Path,
    size: u64,
    sha256: Option<&str>,
) -> Result<(), Error> {
    let part = part_path(dest);
    let consume = {
        let (key, part, dest) = (key.to_owned(), part.clone(), dest.to_owned());
        let passphrase = store.passphrase.clone();
        let allow_plaintext = store.allow_plaintext;
        let sha256 = sha256.map(str::to_owned);
        move |src: ObjectReader| {
            let r = write_part(src, &key, &part, passphrase, allow_plaintext)
                .and_then(|(n, digest)| verify(&key, n, &digest, size, sha256.as_deref()))
                .and_then(|()| {
                    fs::rename(&part, &dest).map_err(|cause| Error::File {
                        op: "rename",
                        path: part.clone(),
                        cause,
                    })
                });
            if r.is_err() {
                let _ = fs::remove_file(&part);
            }
            r
        }
    };
    stream_object(store, key, consume)
        .await
        .map_err(|join| Error::File {
            op: "write",
            path: dest.to_owned(),
            cause: io::Error::other(join),
        })?
}

/// Streams the object `key` to `consume`, which reads it on a blocking thread (raw object bytes, as
/// stored). The outer error is a failed blocking task.
pub(super) async fn stream_object<T: Send + 'static>(
    store: &ArchiveStore,
    key: &str,
    consume: impl FnOnce(ObjectReader) -> Result<T, Error> + Send + 'static,
) -> Result<Result<T, Error>, tokio::task::JoinError> {
    let result = match store.object_store().get(&ArchiveLayout::path(key)).await {
        Ok(r) => r,
        Err(cause) => {
            return Ok(Err(Error::Store {
                op: "get",
                key: key.to_owned(),
                cause,
            }));
        }
    };
    let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(2);
    let reader = ObjectReader {
        rx,
        current: Bytes::new(),
    };
    let consumer = tokio::task::spawn_blocking(move || consume(reader));
    let mut stream = result.into_stream();
    while let Some(chunk) = stream.next().await {
        let failed = chunk.is_err();
        if tx.send(chunk.map_err(io::Error::other)).await.is_err() || failed {
            break;
        }
    }
    drop(tx);
    consumer.await
}

/// The plaintext of an object: its bytes, or their BRV1 decryption. Plaintext where the store requires
/// encryption is refused unless the store allows the fallback; an encrypted object without a passphrase
/// is an error.
pub(super) fn open_plaintext(
    mut src: ObjectReader,
    key: &str,
    passphrase: Option<&Passphrase>,
    allow_plaintext: bool,
) -> Result<Plaintext, Error> {
    let head = src.peek(4).map_err(|cause| Error::Store {
        op: "get",
        key: key.to_owned(),
        cause: object_store::Error::Generic {
            store: "archive",
            source: Box::new(cause),
        },
    })?;
    let encrypted = bloodraven_brv1::looks_encrypted(&head);
    match (passphrase, encrypted) {
        (Some(p), true) => Decryptor::new(p, src)
            .map(|d| Plaintext::Decrypted(Box::new(d)))
            .map_err(|cause| Error::Encryption {
                key: key.to_owned(),
                cause,
            }),
        (Some(_), false) if !allow_plaintext => Err(Error::Plaintext {
            key: key.to_owned(),
        }),
        (None, true) => Err(Error::Mismatch {
            key: key.to_owned(),
            what: "the object is BRV1-encrypted but no passphrase is configured".into(),
        }),
        _ => Ok(Plaintext::Clear(src)),
    }
}

/// A reader of an object's plaintext ([`open_plaintext`]).
pub(super) enum Plaintext {
    /// The object as stored.
    Clear(ObjectReader),
    /// The object's BRV1 decryption.
    Decrypted(Box<Decryptor<ObjectReader>>),
}

impl Read for Plaintext {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Plaintext::Clear(r) => r.read(buf),
            Plaintext::Decrypted(r) => r.read(buf),
        }
    }
}

fn part_path(dest: &Path) -> PathBuf {
    let mut name = dest.file_name().unwrap_or_default().to_os_string();
    name.push(".part");
    dest.with_file_name(name)
}

/// Writes the (decrypted) stream to `part` and fsyncs it; returns the plaintext length and digest.
fn write_part(
    src: ObjectReader,
    key: &str,
    part: &Path,
    passphrase: Option<Passphrase>,
    allow_plaintext: bool,
) -> Result<(u64, String), Error> {
    let io_err = |op, cause| Error::File {
        op,
        path: part.to_owned(),
        cause,
    };
    let plain = open_plaintext(src, key, passphrase.as_ref(), allow_plaintext)?;
    let mut file = File::create(part).map_err(|e| io_err("create", e))?;
    let mut hasher = Sha256::new();
    let n = copy(plain, &mut file, &mut hasher).map_err(|e| {
        match bloodraven_brv1::DecryptError::from_io(&e) {
            Some(d) => Error::Encryption {
                key: key.to_owned(),
                cause: d.clone().into(),
            },
            None => io_err("download", e),
        }
    })?;
    file.sync_all().map_err(|e| io_err("fsync", e))?;
    Ok((n, hex(&hasher.finalize())))
}

fn verify(key: &str, n: u64, digest: &str, size: u64, sha256: Option<&str>) -> Result<(), Error> {
    if n != size {
        return Err(Error::Mismatch {
            key: key.to_owned(),
            what: format!("{n} plaintext bytes, the manifest says {size}"),
        });
    }
    match sha256 {
        Some(want) if !want.eq_ignore_ascii_case(digest) => Err(Error::Mismatch {
            key: key.to_owned(),
            what: format!("sha256 {digest}, the manifest says {want}"),
        }),
        _ => Ok(()),
    }
}

fn copy(mut r: impl Read, w: &mut File, hasher: &mut Sha256) -> io::Result<u64> {
    let mut buf = vec![0u8; 256 * 1024];
    let mut n = 0u64;
    loop {
        let got = match r.read(&mut buf) {
            Ok(0) => return Ok(n),
            Ok(got) => got,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..got]);
        w.write_all(&buf[..got])?;
        n += got as u64;
    }
}

/// A blocking `Read` over an object's chunks, sent by the async side ([`stream_object`]).
pub(super) struct ObjectReader {
    rx: mpsc::Receiver<io::Result<Bytes>>,
    current: Bytes,
}

impl ObjectReader {
    /// The first `n` bytes (fewer at end of stream) without consuming them.
    fn peek(&mut self, n: usize) -> io::Result<Vec<u8>> {
        while self.current.len() < n {
            match self.rx.blocking_recv() {
                Some(chunk) => {
                    let chunk = chunk?;
                    let mut joined = Vec::with_capacity(self.current.len() + chunk.len());
                    joined.extend_from_slice(&self.current);
                    joined.extend_from_slice(&chunk);
                    self.current = Bytes::from(joined);
                }
                None => break,
            }
        }
        Ok(self.current[..n.min(self.current.len())].to_vec())
    }
}

impl Read for ObjectReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(chunk) => self.current = chunk?,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        self.current.advance(n);
        Ok(n)
    }
}
