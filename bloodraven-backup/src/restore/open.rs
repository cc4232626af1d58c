//! Opening a dump for reading: the completion marker, `@.json`, and a check that every recorded object is
//! there with its recorded size, before anything touches a server.

use std::collections::BTreeMap;

use bloodraven_brv1::Passphrase;

use crate::error::Error;
use crate::format::{
    DONE_MARKER, DUMP_META, DoneMeta, DumpMeta, ENCRYPTION_MARKER, EncryptionMarker,
    FORMAT_VERSION, FileEntry,
};
use crate::store::DumpLocation;

/// A complete dump, its metadata read and its object list checked.
#[derive(Clone, Debug)]
pub struct OpenDump {
    /// Where it is.
    pub location: DumpLocation,
    /// `@.json`.
    pub meta: DumpMeta,
    /// `@.done.json`.
    pub done: DoneMeta,
    /// The passphrase its objects are encrypted with (`None`: a plain dump).
    pub passphrase: Option<Passphrase>,
}

impl OpenDump {
    /// Reads and verifies a metadata object listed in the marker; parses it as JSON.
    pub(crate) async fn json<T: serde::de::DeserializeOwned>(
        &self,
        name: &str,
    ) -> Result<T, Error> {
        let body = self.small(name).await?;
        serde_json::from_slice(&body)
            .map_err(|e| Error::metadata(self.location.key(name).as_ref(), e.to_string()))
    }

    /// Reads and verifies a small object listed in the marker.
    pub(crate) async fn small(&self, name: &str) -> Result<Vec<u8>, Error> {
        let entry = self.entry(name)?;
        self.location
            .get_small(name, self.passphrase.as_ref(), Some(entry))
            .await?
            .ok_or_else(|| Error::MissingObject {
                object: self.location.key(name).to_string(),
                expected_size: entry.size,
            })
    }

    /// The marker's entry of `name`.
    pub(crate) fn entry(&self, name: &str) -> Result<&FileEntry, Error> {
        self.done.files.get(name).ok_or_else(|| {
            Error::metadata(
                self.location.key(DONE_MARKER).as_ref(),
                format!("{name} is not listed"),
            )
        })
    }
}

/// Opens the dump at `location`: refuses a dump without `@.done.json`, an encrypted dump without a
/// passphrase (or with the wrong one), and a dump with a missing object or an object of the wrong size.
pub async fn open_dump(
    location: &DumpLocation,
    passphrase: Option<&Passphrase>,
) -> Result<OpenDump, Error> {
    open_dump_with(location, passphrase, false).await
}

/// [`open_dump`]; with `decrypted_copy`, `location` may be a plaintext copy of an encrypted dump made by
/// [`crate::transfer::decrypt_download`] (which checked every object against the marker and leaves the marker
/// out): its `@.json` says `encrypted: true`, no marker is there, and no passphrase is given.
pub async fn open_dump_with(
    location: &DumpLocation,
    passphrase: Option<&Passphrase>,
    decrypted_copy: bool,
) -> Result<OpenDump, Error> {
    let marker = location.get_small(ENCRYPTION_MARKER, None, None).await?;
    let marker: Option<EncryptionMarker> = match marker {
        Some(body) => Some(serde_json::from_slice(&body).map_err(|e| {
            Error::metadata(location.key(ENCRYPTION_MARKER).as_ref(), e.to_string())
        })?),
        None => None,
    };
    let passphrase = match (&marker, passphrase) {
        (Some(_), None) => {
            return Err(Error::Encryption(format!(
                "dump {} is encrypted ({ENCRYPTION_MARKER} is present): give its passphrase (--passphrase-file)",
                location.display()
            )));
        }
        (Some(_), Some(p)) => Some(p.clone()),
        (None, Some(_)) => {
            tracing::warn!(
                location = location.display(),
                "dump is not encrypted; ignoring the passphrase"
            );
            None
        }
        (None, None) => None,
    };
    let done_entry = marker
        .as_ref()
        .and_then(|m| m.files.get(DONE_MARKER))
        .map(|sha| FileEntry {
            size: 0,
            sha256: sha.clone(),
        });
    let Some(done) = location
        .get_small(DONE_MARKER, passphrase.as_ref(), None)
        .await?
    else {
        return Err(Error::Incomplete {
            location: location.display().to_owned(),
            marker: DONE_MARKER.into(),
        });
    };
    if let Some(expected) = done_entry {
        let actual = crate::format::hex(&<sha2::Sha256 as sha2::Digest>::digest(&done));
        if actual != expected.sha256 {
            return Err(Error::Corrupt {
                object: location.key(DONE_MARKER).to_string(),
                what: "sha256",
                expected: expected.sha256,
                actual,
            });
        }
    }
    let done: DoneMeta = serde_json::from_slice(&done)
        .map_err(|e| Error::metadata(location.key(DONE_MARKER).as_ref(), e.to_string()))?;
    let meta_body = location
        .get_small(DUMP_META, passphrase.as_ref(), done.files.get(DUMP_META))
        .await?
        .ok_or_else(|| Error::MissingObject {
            object: location.key(DUMP_META).to_string(),
            expected_size: done.files.get(DUMP_META).map_or(0, |e| e.size),
        })?;
    let meta: DumpMeta = serde_json::from_slice(&meta_body)
        .map_err(|e| Error::metadata(location.key(DUMP_META).as_ref(), e.to_string()))?;
    if meta.version != FORMAT_VERSION {
        return Err(Error::metadata(
            location.key(DUMP_META).as_ref(),
            format!(
                "format version {:?} is not {FORMAT_VERSION:?} (written by {})",
                meta.version, meta.dumper
            ),
        ));
    }
    let decrypted = decrypted_copy && meta.encrypted && marker.is_none() && passphrase.is_none();
    if meta.encrypted != passphrase.is_some() && !decrypted {
        return Err(Error::metadata(
            location.key(DUMP_META).as_ref(),
            format!(
                "encrypted is {} but {ENCRYPTION_MARKER} is {}",
                meta.encrypted,
                if marker.is_some() {
                    "present"
                } else {
                    "absent"
                }
            ),
        ));
    }
    check_stored(location, &done.files, passphrase.is_some()).await?;
    Ok(OpenDump {
        location: location.clone(),
        meta,
        done,
        passphrase,
    })
}

/// Checks that every object of `files` is stored in `location` with the size its entry implies (the
/// BRV1 length when `encrypted`); names the first missing or resized object.
pub(crate) async fn check_stored(
    location: &DumpLocation,
    files: &BTreeMap<String, FileEntry>,
    encrypted: bool,
) -> Result<(), Error> {
    let stored: BTreeMap<String, u64> = location.list().await?.into_iter().collect();
    for (name, entry) in files {
        let expected = if encrypted {
            bloodraven_brv1::ciphertext_len(entry.size)
        } else {
            entry.size
        };
        match stored.get(name) {
            None => {
                return Err(Error::MissingObject {
                    object: location.key(name).to_string(),
                    expected_size: entry.size,
                });
            }
            Some(&size) if size != expected => {
                return Err(Error::Corrupt {
                    object: location.key(name).to_string(),
                    what: "stored size",
                    expected: expected.to_string(),
                    actual: size.to_string(),
                });
            }
            Some(_) => {}
        }
    }
    Ok(())
}
