//! `encrypt-upload` and `decrypt-download` for dump directories written by other tools (MySQL Shell,
//! mydumper), byte-compatible with the Go implementation (reference-formats §3.4): every file BRV1-encrypted
//! under `<prefix>/<relative path>`, and a plaintext `BLOODRAVEN_ENCRYPTION.json` listing each file's
//! plaintext SHA-256. Files stream through; nothing is staged.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bloodraven_brv1::{AsyncDecryptor, AsyncEncryptor, Passphrase};
use futures::TryStreamExt;
use object_store::buffered::{BufReader, BufWriter};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use crate::error::Error;
use crate::format::{ENCRYPTION_MARKER, EncryptionMarker, hex};

/// The side file of the Go dump script, never uploaded.
const DUMP_META_SIDE_FILE: &str = "BLOODRAVEN_DUMP_META.json";
/// Attempts per file, as the Go uploader makes.
const ATTEMPTS: u32 = 3;

/// What a transfer moved.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TransferReport {
    /// Relative path → lower-case hex SHA-256 of the plaintext.
    pub files: BTreeMap<String, String>,
    /// Plaintext bytes.
    pub plaintext_bytes: u64,
    /// Stored (encrypted) bytes.
    pub ciphertext_bytes: u64,
}

/// Encrypts every regular file below `source` into `<prefix>/<relative path>` of `store`, then writes the
/// plaintext marker. Refuses symlinks and other non-regular entries; skips `BLOODRAVEN_DUMP_META.json`.
pub async fn encrypt_upload(
    source: &Path,
    store: &Arc<dyn ObjectStore>,
    prefix: &ObjectPath,
    passphrase: &Passphrase,
) -> Result<TransferReport, Error> {
    let mut rels = Vec::new();
    walk(source, source, &mut rels)?;
    rels.sort();
    let mut report = TransferReport::default();
    for rel in &rels {
        let key = child(prefix, rel)?;
        let mut attempt = 1;
        let (digest, plain, stored) = loop {
            match upload_one(&source.join(rel), store, &key, passphrase).await {
                Ok(done) => break done,
                Err(e) if attempt < ATTEMPTS => {
                    tracing::warn!(file = rel, attempt, error = %e, "upload failed; retrying");
                    tokio::time::sleep(Duration::from_millis(500 << (attempt - 1))).await;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        };
        report.files.insert(rel.clone(), digest);
        report.plaintext_bytes += plain;
        report.ciphertext_bytes += stored;
    }
    let marker = EncryptionMarker {
        version: 1,
        algorithm: "AES-256-GCM".into(),
        created_at: crate::dump::now_rfc3339(),
        file_count: report.files.len() as u64,
        files: report.files.clone(),
    };
    let key = child(prefix, ENCRYPTION_MARKER)?;
    store
        .put(&key, PutPayload::from(marker.to_go_json().into_bytes()))
        .await
        .map_err(|e| Error::store(key.as_ref(), e))?;
    Ok(report)
}

/// Downloads and decrypts every object below `prefix` into `target` (each to `<file>.part`, renamed when
/// complete), checking each plaintext SHA-256 the marker lists. With `plaintext_fallback`, objects without
/// the BRV1 magic are copied as they are.
pub async fn decrypt_download(
    store: &Arc<dyn ObjectStore>,
    prefix: &ObjectPath,
    target: &Path,
    passphrase: &Passphrase,
    plaintext_fallback: bool,
) -> Result<TransferReport, Error> {
    let marker_key = child(prefix, ENCRYPTION_MARKER)?;
    let marker: Option<EncryptionMarker> = match store.get(&marker_key).await {
        Ok(r) => match r.bytes().await.map(|b| serde_json::from_slice(&b)) {
            Ok(Ok(m)) => Some(m),
            other => {
                tracing::warn!(
                    ?other,
                    "encryption marker unreadable; digests are not checked"
                );
                None
            }
        },
        Err(e) => {
            tracing::warn!(error = %e, "no encryption marker; digests are not checked");
            None
        }
    };
    let objects: Vec<object_store::ObjectMeta> = store
        .list(Some(prefix))
        .try_collect()
        .await
        .map_err(|e| Error::store(prefix.as_ref(), e))?;
    let depth = prefix.parts().count();
    let mut report = TransferReport::default();
    for meta in objects {
        let parts: Vec<String> = meta
            .location
            .parts()
            .skip(depth)
            .map(|p| p.as_ref().to_owned())
            .collect();
        let rel = parts.join("/");
        if rel.is_empty() || rel == ENCRYPTION_MARKER || rel.ends_with('/') {
            continue;
        }
        if parts.iter().any(|p| p == ".." || p == "." || p.is_empty()) {
            return Err(Error::metadata(
                meta.location.as_ref(),
                "unsafe relative path",
            ));
        }
        let dest = target.join(&rel);
        let (digest, plain) =
            download_one(store, &meta, &dest, passphrase, plaintext_fallback).await?;
        if let Some(expected) = marker.as_ref().and_then(|m| m.files.get(&rel))
            && *expected != digest
        {
            let _ = tokio::fs::remove_file(&dest).await;
            return Err(Error::Corrupt {
                object: meta.location.to_string(),
                what: "sha256",
                expected: expected.clone(),
                actual: digest,
            });
        }
        report.files.insert(rel, digest);
        report.plaintext_bytes += plain;
        report.ciphertext_bytes += meta.size;
    }
    Ok(report)
}

async fn upload_one(
    path: &Path,
    store: &Arc<dyn ObjectStore>,
    key: &ObjectPath,
    passphrase: &Passphrase,
) -> Result<(String, u64, u64), Error> {
    let name = path.display().to_string();
    let mut file = tokio::fs::File::open(path)
        .await
        .map_err(|e| Error::io(&name, e))?;
    let upload = BufWriter::with_capacity(Arc::clone(store), key.clone(), 8 * 1024 * 1024);
    let mut enc = AsyncEncryptor::new(passphrase, crate::store::ShutdownOnce::new(upload))?;
    let mut hasher = Sha256::new();
    let mut plain = 0u64;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = file.read(&mut buf).await.map_err(|e| Error::io(&name, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        plain += n as u64;
        enc.write_all(&buf[..n])
            .await
            .map_err(|e| Error::io(key.as_ref(), e))?;
    }
    enc.shutdown()
        .await
        .map_err(|e| Error::io(key.as_ref(), e))?;
    Ok((
        hex(&hasher.finalize()),
        plain,
        bloodraven_brv1::ciphertext_len(plain),
    ))
}

async fn download_one(
    store: &Arc<dyn ObjectStore>,
    meta: &object_store::ObjectMeta,
    dest: &Path,
    passphrase: &Passphrase,
    plaintext_fallback: bool,
) -> Result<(String, u64), Error> {
    let key = meta.location.to_string();
    if let Some(dir) = dest.parent() {
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| Error::io(dir.display().to_string(), e))?;
    }
    let mut head = [0u8; 4];
    let raw = BufReader::new(Arc::clone(store), meta);
    let mut raw = tokio::io::BufReader::new(raw);
    let peeked = {
        use tokio::io::AsyncBufReadExt;
        let buf = raw.fill_buf().await.map_err(|e| Error::io(&key, e))?;
        let n = buf.len().min(4);
        head[..n].copy_from_slice(&buf[..n]);
        n
    };
    let encrypted = bloodraven_brv1::looks_encrypted(&head[..peeked]);
    if !encrypted && !plaintext_fallback {
        return Err(Error::Encryption(format!(
            "{key} is not BRV1-encrypted (allow the plaintext fallback to copy it as is)"
        )));
    }
    let mut reader: Box<dyn AsyncRead + Send + Unpin> = if encrypted {
        Box::new(AsyncDecryptor::new(passphrase, raw))
    } else {
        Box::new(raw)
    };
    let part = PathBuf::from(format!("{}.part", dest.display()));
    let result = async {
        let mut out = tokio::fs::File::create(&part)
            .await
            .map_err(|e| Error::io(part.display().to_string(), e))?;
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = reader
                .read(&mut buf)
                .await
                .map_err(|e| Error::io(&key, e))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            size += n as u64;
            out.write_all(&buf[..n])
                .await
                .map_err(|e| Error::io(part.display().to_string(), e))?;
        }
        out.sync_all()
            .await
            .map_err(|e| Error::io(part.display().to_string(), e))?;
        Ok::<_, Error>((hex(&hasher.finalize()), size))
    }
    .await;
    match result {
        Ok(done) => {
            tokio::fs::rename(&part, dest)
                .await
                .map_err(|e| Error::io(dest.display().to_string(), e))?;
            Ok(done)
        }
        Err(e) => {
            let _ = tokio::fs::remove_file(&part).await;
            Err(e)
        }
    }
}

/// Relative paths (`/`-separated) of the regular files below `dir`; any other kind of entry is an error.
fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<(), Error> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir.display().to_string(), e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir.display().to_string(), e))?;
        let path = entry.path();
        let kind = entry
            .file_type()
            .map_err(|e| Error::io(path.display().to_string(), e))?;
        if kind.is_dir() {
            walk(root, &path, out)?;
        } else if kind.is_file() {
            if entry.file_name() == DUMP_META_SIDE_FILE {
                continue;
            }
            let rel = path
                .strip_prefix(root)
                .map_err(|_| Error::metadata(path.display().to_string(), "outside the source"))?;
            let parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            out.push(parts.join("/"));
        } else {
            return Err(Error::metadata(
                path.display().to_string(),
                "not a regular file or directory (symlinks, devices, FIFOs and sockets are refused)",
            ));
        }
    }
    Ok(())
}

/// `<prefix>/<rel>` without re-escaping (`rel` may hold MySQL Shell's `%XX` names).
fn child(prefix: &ObjectPath, rel: &str) -> Result<ObjectPath, Error> {
    let full = if prefix.as_ref().is_empty() {
        rel.to_owned()
    } else {
        format!("{}/{rel}", prefix.as_ref())
    };
    ObjectPath::parse(&full).map_err(|e| Error::metadata(full.clone(), e.to_string()))
}
