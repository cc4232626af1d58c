//! One-shot helpers: whole slices in memory, and files written beside their target and renamed
//! into place only once complete.

use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;

use crate::{Decryptor, Encryptor, Error, Inspection, Passphrase, ciphertext_len};

/// Encrypts a whole slice into a new BRV1 object.
///
/// ```
/// use bloodraven_brv1::{Passphrase, decrypt, encrypt};
///
/// let passphrase = Passphrase::new(b"correct horse battery staple".to_vec())?;
/// let sealed = encrypt(&passphrase, b"hello world")?;
/// assert!(bloodraven_brv1::looks_encrypted(&sealed));
/// assert_eq!(decrypt(&passphrase, &sealed)?, b"hello world");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn encrypt(passphrase: &Passphrase, plaintext: &[u8]) -> Result<Vec<u8>, Error> {
    let capacity = usize::try_from(ciphertext_len(plaintext.len() as u64)).unwrap_or(usize::MAX);
    let mut enc = Encryptor::new(passphrase, Vec::with_capacity(capacity))?;
    let io = |source| Error::from_io(source, || "cannot encrypt into memory".into());
    enc.write_all(plaintext).map_err(io)?;
    enc.finish().map_err(io)
}

/// Authenticates and decrypts a whole BRV1 object in memory; nothing is returned unless every
/// chunk verified.
pub fn decrypt(passphrase: &Passphrase, ciphertext: &[u8]) -> Result<Vec<u8>, Error> {
    let mut dec = Decryptor::new(passphrase, ciphertext)?;
    let mut plaintext = Vec::with_capacity(ciphertext.len());
    dec.read_to_end(&mut plaintext)
        .map_err(|source| Error::from_io(source, || "cannot decrypt in memory".into()))?;
    Ok(plaintext)
}

/// Encrypts the file `src` into `dst`, returning the plaintext length.
///
/// The object is written to a temporary file beside `dst`, synced, and renamed over `dst` only
/// when complete; on any failure `dst` is left as it was and the temporary file is removed.
pub fn encrypt_file(passphrase: &Passphrase, src: &Path, dst: &Path) -> Result<u64, Error> {
    let mut input = open(src)?;
    let out = AtomicFile::create(dst)?;
    if let Ok(meta) = input.metadata() {
        preallocate(out.file(), ciphertext_len(meta.len()));
    }
    let mut enc = Encryptor::new(passphrase, out.file())?;
    enc.copy_from(&mut input).map_err(|source| {
        Error::from_io(source, || {
            format!("cannot encrypt {} to {}", src.display(), out.display())
        })
    })?;
    let len = enc.plaintext_len();
    enc.finish()
        .map_err(|source| Error::from_io(source, || format!("cannot write {}", out.display())))?;
    out.commit()?;
    Ok(len)
}

/// Decrypts the BRV1 file `src` into `dst`, returning the plaintext length.
///
/// Plaintext goes to a temporary file beside `dst` (mode 0600 on Unix) that is renamed over
/// `dst` only after the final chunk verified: `dst` never holds unauthenticated or partial data.
pub fn decrypt_file(passphrase: &Passphrase, src: &Path, dst: &Path) -> Result<u64, Error> {
    let input = open(src)?;
    let input_len = input.metadata().map(|m| m.len());
    let mut dec = Decryptor::new(passphrase, input).map_err(|e| match e {
        Error::Io { source, .. } => io_error(source, "cannot read", src),
        other => other,
    })?;
    let out = AtomicFile::create(dst)?;
    if let Ok(Ok(info)) = input_len.map(|len| Inspection::from_len(*dec.header(), len)) {
        preallocate(out.file(), info.plaintext_len);
    }
    dec.copy_to(&mut out.file()).map_err(|source| {
        Error::from_io(source, || {
            format!("cannot decrypt {} to {}", src.display(), out.display())
        })
    })?;
    let len = dec.plaintext_len();
    out.commit()?;
    Ok(len)
}

/// Reserves disk space for the `len` bytes about to be written to `file` from its current
/// position, without changing its size (`fallocate` with `FALLOC_FL_KEEP_SIZE`), so the
/// filesystem allocates the blocks in one go rather than write by write: about 8% less system
/// time per GiB written on ext4 (`docs/benchmarks.md`). Best effort: a file system that cannot
/// do it, or a platform other than Linux, just goes without.
pub(crate) fn preallocate(file: &File, len: u64) {
    #[cfg(target_os = "linux")]
    {
        use std::io::Seek;
        let mut file = file;
        if len > 0
            && file.metadata().is_ok_and(|m| m.is_file())
            && let Ok(offset) = file.stream_position()
        {
            let keep_size = rustix::fs::FallocateFlags::KEEP_SIZE;
            let _ = rustix::fs::fallocate(file, keep_size, offset, len);
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (file, len);
}

fn open(path: &Path) -> Result<File, Error> {
    File::open(path).map_err(|source| io_error(source, "cannot open", path))
}

fn io_error(source: std::io::Error, what: &str, path: &Path) -> Error {
    Error::Io {
        context: format!("{what} {}", path.display()),
        source,
    }
}

/// A file written under a temporary name beside its target and renamed into place by
/// [`commit`](AtomicFile::commit); dropped uncommitted, it is removed.
#[derive(Debug)]
pub(crate) struct AtomicFile {
    temp: tempfile::NamedTempFile,
    target: std::path::PathBuf,
}

impl AtomicFile {
    pub(crate) fn create(target: &Path) -> Result<AtomicFile, Error> {
        let dir = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let temp = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .suffix(".brv1-partial")
            .tempfile_in(dir)
            .map_err(|source| io_error(source, "cannot create a temporary file beside", target))?;
        Ok(AtomicFile {
            temp,
            target: target.to_owned(),
        })
    }

    pub(crate) fn file(&self) -> &File {
        self.temp.as_file()
    }

    fn display(&self) -> std::path::Display<'_> {
        self.target.display()
    }

    /// Syncs the data, renames it over the target and syncs the directory.
    pub(crate) fn commit(self) -> Result<(), Error> {
        self.file()
            .sync_all()
            .map_err(|source| io_error(source, "cannot sync", self.temp.path()))?;
        let target = self.target;
        self.temp
            .persist(&target)
            .map_err(|e| io_error(e.error, "cannot rename the temporary file to", &target))?;
        if let Some(dir) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
            // Best effort: not every platform can open a directory to sync it.
            if let Ok(dir) = File::open(dir) {
                let _ = dir.sync_all();
            }
        }
        Ok(())
    }
}
