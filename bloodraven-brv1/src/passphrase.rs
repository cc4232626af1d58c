//! [`Passphrase`]: the secret every BRV1 key is derived from, wiped from memory on drop.

use std::fmt;
use std::path::Path;

use zeroize::{Zeroize, Zeroizing};

use crate::Error;

/// The passphrase a BRV1 object's key is derived from (with HKDF-SHA256 and the object's salt).
///
/// It is used as raw bytes, with no normalisation. It is never empty, its memory is zeroized on
/// drop, and its [`Debug`] output never shows it.
///
/// ```
/// use bloodraven_brv1::Passphrase;
///
/// let p = Passphrase::from_file_contents(b"  correct horse battery staple\n".to_vec())?;
/// assert_eq!(format!("{p:?}"), "Passphrase(<redacted, 28 bytes>)");
/// assert!(Passphrase::new(b"".to_vec()).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Passphrase(Zeroizing<Vec<u8>>);

impl Passphrase {
    /// A passphrase made of exactly these bytes; an empty one is refused.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<Passphrase, Error> {
        let bytes = Zeroizing::new(bytes.into());
        if bytes.is_empty() {
            return Err(Error::EmptyPassphrase);
        }
        Ok(Passphrase(bytes))
    }

    /// Reads a passphrase file the way the Go implementation does: the whole file, with leading
    /// and trailing runs of `\n`, `\r`, space and tab removed (bytes inside are kept).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Passphrase, Error> {
        let path = path.as_ref();
        let contents = std::fs::read(path).map_err(|source| Error::PassphraseFile {
            path: path.to_owned(),
            source,
        })?;
        Passphrase::from_file_contents(contents).map_err(|e| match e {
            Error::EmptyPassphrase => Error::EmptyPassphraseFile {
                path: path.to_owned(),
            },
            other => other,
        })
    }

    /// Applies the passphrase-file trimming rule of [`Passphrase::from_file`] to bytes already
    /// read; the input buffer is wiped.
    pub fn from_file_contents(mut contents: Vec<u8>) -> Result<Passphrase, Error> {
        let trimmed = trim_file_whitespace(&contents).to_vec();
        contents.zeroize();
        Passphrase::new(trimmed)
    }

    /// The secret bytes.
    pub(crate) fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Passphrase(<redacted, {} bytes>)", self.0.len())
    }
}

/// Strips leading and trailing `\n`, `\r`, space and tab: exactly these four, as Go's reader does.
fn trim_file_whitespace(bytes: &[u8]) -> &[u8] {
    let is_ws = |b: &u8| matches!(b, b'\n' | b'\r' | b' ' | b'\t');
    let start = bytes.iter().position(|b| !is_ws(b)).unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !is_ws(b))
        .map_or(start, |i| i + 1);
    &bytes[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_only_the_four_whitespace_bytes_at_the_ends() {
        let cases: &[(&[u8], &[u8])] = &[
            (b"secret\n", b"secret"),
            (b"\r\n\t secret \t\r\n", b"secret"),
            (b"two words\n", b"two words"),
            (b"a\n\nb", b"a\n\nb"),
            (b"\x0bsecret\x0c", b"\x0bsecret\x0c"),
            ("\u{a0}x\u{a0}".as_bytes(), "\u{a0}x\u{a0}".as_bytes()),
        ];
        for (input, want) in cases {
            let p = Passphrase::from_file_contents(input.to_vec()).unwrap();
            assert_eq!(p.expose(), *want, "input {input:?}");
        }
    }

    #[test]
    fn empty_passphrases_are_refused() {
        assert!(matches!(
            Passphrase::new(Vec::new()),
            Err(Error::EmptyPassphrase)
        ));
        assert!(matches!(
            Passphrase::from_file_contents(b"\n\n".to_vec()),
            Err(Error::EmptyPassphrase)
        ));
    }

    #[test]
    fn files_report_their_path() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("blank");
        std::fs::write(&empty, " \r\n").unwrap();
        let msg = Passphrase::from_file(&empty).unwrap_err().to_string();
        assert!(msg.contains("blank") && msg.contains("empty"), "{msg}");
        let missing = dir.path().join("missing");
        let msg = Passphrase::from_file(&missing).unwrap_err().to_string();
        assert!(msg.contains("missing"), "{msg}");
        let good = dir.path().join("good");
        std::fs::write(&good, "hunter2\n").unwrap();
        assert_eq!(Passphrase::from_file(&good).unwrap().expose(), b"hunter2");
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let p = Passphrase::new(b"hunter2".to_vec()).unwrap();
        let shown = format!("{p:?} {p:#?}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}
