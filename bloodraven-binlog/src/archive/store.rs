//! Manifest storage: load and conditionally store `manifest-<site>.json`, BRV1-wrapped when configured.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bloodraven_brv1::Passphrase;
use bytes::Bytes;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, UpdateVersion};

use crate::Error;
use crate::manifest::{ArchiveLayout, Manifest, SiteName};

/// How many conditional read-modify-write rounds a manifest update tries before giving up.
const MAX_ATTEMPTS: u32 = 16;

/// The archive's objects and manifests in one store, with optional BRV1 encryption.
#[derive(Clone, Debug)]
pub struct ArchiveStore {
    pub(crate) store: Arc<dyn ObjectStore>,
    pub(crate) layout: ArchiveLayout,
    pub(crate) passphrase: Option<Passphrase>,
    pub(crate) allow_plaintext: bool,
    /// Set once the store answered `NotImplemented` to `PutMode::Update` (local filesystem).
    no_update: Arc<AtomicBool>,
}

impl ArchiveStore {
    /// An archive at `layout` in `store`, plaintext.
    pub fn new(store: Arc<dyn ObjectStore>, layout: ArchiveLayout) -> Self {
        ArchiveStore {
            store,
            layout,
            passphrase: None,
            allow_plaintext: false,
            no_update: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Encrypts new objects and manifests with BRV1 under `passphrase`; reading then requires the BRV1
    /// magic (strict, as the Go sidecar) unless [`ArchiveStore::with_plaintext_fallback`] is set.
    #[must_use]
    pub fn with_passphrase(mut self, passphrase: Passphrase) -> Self {
        self.passphrase = Some(passphrase);
        self
    }

    /// Accepts plaintext objects although a passphrase is set (legacy mixed archives).
    #[must_use]
    pub fn with_plaintext_fallback(mut self, allow: bool) -> Self {
        self.allow_plaintext = allow;
        self
    }

    /// The layout.
    pub fn layout(&self) -> &ArchiveLayout {
        &self.layout
    }

    /// The underlying object store.
    pub fn object_store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// Loads `site`'s manifest; a missing object is an empty manifest.
    pub async fn load_manifest(&self, site: &SiteName) -> Result<Manifest, Error> {
        Ok(self.load_versioned(site).await?.0)
    }

    /// Sites that have a manifest under the prefix, in name order.
    pub async fn sites(&self) -> Result<Vec<SiteName>, Error> {
        use futures::TryStreamExt;
        let prefix = self.layout.prefix().to_owned();
        let path = (!prefix.is_empty()).then(|| ArchiveLayout::path(&prefix));
        let metas: Vec<_> =
            self.store
                .list(path.as_ref())
                .try_collect()
                .await
                .map_err(|cause| Error::Store {
                    op: "list",
                    key: prefix.clone(),
                    cause,
                })?;
        let mut sites: Vec<_> = metas
            .iter()
            .filter_map(|m| self.layout.site_of_manifest_key(m.location.as_ref()))
            .collect();
        sites.sort();
        sites.dedup();
        Ok(sites)
    }

    /// The DR cursors under [`ArchiveLayout::dr_cursor_dir`], in key order; an undecodable one is an error
    /// naming its key.
    pub async fn dr_cursors(&self) -> Result<Vec<crate::archive::cursor::DrCursor>, Error> {
        use futures::TryStreamExt;
        let dir = self.layout.dr_cursor_dir();
        let path = ArchiveLayout::path(dir.trim_end_matches('/'));
        let mut metas: Vec<_> =
            self.store
                .list(Some(&path))
                .try_collect()
                .await
                .map_err(|cause| Error::Store {
                    op: "list",
                    key: dir.clone(),
                    cause,
                })?;
        metas.sort_by(|a, b| a.location.cmp(&b.location));
        let mut out = Vec::new();
        for m in metas {
            let key = m.location.to_string();
            if !key.ends_with(".json") {
                continue;
            }
            let bytes = match self.store.get(&m.location).await {
                Ok(r) => r.bytes().await,
                Err(e) => Err(e),
            };
            let bytes = match bytes {
                Ok(b) => b,
                // Deleted between the listing and the read: the claim is gone.
                Err(object_store::Error::NotFound { .. }) => continue,
                Err(cause) => {
                    return Err(Error::Store {
                        op: "get",
                        key,
                        cause,
                    });
                }
            };
            out.push(crate::archive::cursor::DrCursor::parse(&key, &bytes)?);
        }
        Ok(out)
    }

    /// Writes (or replaces) the DR cursor `name` ([`ArchiveLayout::dr_cursor_key`]), in plaintext.
    pub async fn put_dr_cursor(
        &self,
        name: &str,
        cursor: &crate::archive::cursor::DrCursor,
    ) -> Result<String, Error> {
        let key = self.layout.dr_cursor_key(name);
        self.store
            .put(
                &ArchiveLayout::path(&key),
                PutPayload::from(cursor.to_json().into_bytes()),
            )
            .await
            .map_err(|cause| Error::Store {
                op: "put",
                key: key.clone(),
                cause,
            })?;
        Ok(key)
    }

    /// Applies `change` to `site`'s manifest with a conditional write, re-reading and re-applying on a
    /// concurrent change. Returns what the last `change` returned.
    pub async fn update_manifest<T>(
        &self,
        site: &SiteName,
        mut change: impl FnMut(&mut Manifest) -> T,
    ) -> Result<(Manifest, T), Error> {
        let key = self.layout.manifest_key(site);
        for _ in 0..MAX_ATTEMPTS {
            let (mut manifest, version) = self.load_versioned(site).await?;
            let out = change(&mut manifest);
            manifest.site = site.as_str().to_owned();
            let payload = self.seal(&key, Bytes::from(manifest.encode()))?;
            match self.put_conditional(&key, payload, version).await {
                Ok(()) => return Ok((manifest, out)),
                Err(
                    object_store::Error::Precondition { .. }
                    | object_store::Error::AlreadyExists { .. },
                ) => {
                    tracing::debug!(key, "manifest changed concurrently; retrying");
                }
                Err(cause) => {
                    return Err(Error::Store {
                        op: "put",
                        key,
                        cause,
                    });
                }
            }
        }
        Err(Error::ManifestConflict {
            key,
            attempts: MAX_ATTEMPTS,
        })
    }

    async fn put_conditional(
        &self,
        key: &str,
        payload: Bytes,
        version: Option<UpdateVersion>,
    ) -> Result<(), object_store::Error> {
        let path = ArchiveLayout::path(key);
        let mode = match version {
            None => PutMode::Create,
            Some(_) if self.no_update.load(Ordering::Relaxed) => PutMode::Overwrite,
            Some(v) => PutMode::Update(v),
        };
        let update = matches!(mode, PutMode::Update(_));
        let opts = PutOptions {
            mode,
            ..Default::default()
        };
        match self
            .store
            .put_opts(&path, PutPayload::from(payload.clone()), opts)
            .await
        {
            Err(object_store::Error::NotImplemented { .. }) if update => {
                // The local filesystem has no compare-and-swap; each site has one writer (the primary),
                // so fall back to a plain (atomic rename) overwrite, as the Go sidecar always does.
                self.no_update.store(true, Ordering::Relaxed);
                self.store
                    .put(&path, PutPayload::from(payload))
                    .await
                    .map(|_| ())
            }
            other => other.map(|_| ()),
        }
    }

    async fn load_versioned(
        &self,
        site: &SiteName,
    ) -> Result<(Manifest, Option<UpdateVersion>), Error> {
        let key = self.layout.manifest_key(site);
        let result = match self.store.get(&ArchiveLayout::path(&key)).await {
            Ok(r) => r,
            Err(object_store::Error::NotFound { .. }) => return Ok((Manifest::new(site), None)),
            Err(cause) => {
                return Err(Error::Store {
                    op: "get",
                    key,
                    cause,
                });
            }
        };
        let version = UpdateVersion {
            e_tag: result.meta.e_tag.clone(),
            version: result.meta.version.clone(),
        };
        let bytes = result.bytes().await.map_err(|cause| Error::Store {
            op: "get",
            key: key.clone(),
            cause,
        })?;
        let plain = self.open(&key, &bytes)?;
        Ok((Manifest::decode(&plain, &key, site)?, Some(version)))
    }

    /// Encrypts a small object when a passphrase is configured.
    pub(crate) fn seal(&self, key: &str, plain: Bytes) -> Result<Bytes, Error> {
        match &self.passphrase {
            None => Ok(plain),
            Some(p) => bloodraven_brv1::encrypt(p, &plain)
                .map(Bytes::from)
                .map_err(|cause| Error::Encryption {
                    key: key.to_owned(),
                    cause,
                }),
        }
    }

    /// Decrypts a small object according to the strictness rules.
    pub(crate) fn open(&self, key: &str, bytes: &[u8]) -> Result<Vec<u8>, Error> {
        let encrypted = bloodraven_brv1::looks_encrypted(bytes);
        match (&self.passphrase, encrypted) {
            (Some(p), true) => {
                bloodraven_brv1::decrypt(p, bytes).map_err(|cause| Error::Encryption {
                    key: key.to_owned(),
                    cause,
                })
            }
            (Some(_), false) if !self.allow_plaintext => Err(Error::Plaintext {
                key: key.to_owned(),
            }),
            (None, true) => Err(Error::ManifestDecode {
                key: key.to_owned(),
                path: "$".into(),
                what: "the object is BRV1-encrypted but no passphrase is configured".into(),
            }),
            _ => Ok(bytes.to_vec()),
        }
    }
}
