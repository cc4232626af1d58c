//! The archiver: copies sealed binlogs into an object store and records them in the site's manifest.
//!
//! [`Archiver::run_cycle`] is one scan (the sidecar calls it in a loop): ask the caller's
//! [`WritableGate`]; read the binlog index; treat every file but the last (active) one as sealed; skip
//! files already in the manifest; and for each new file stream it once from disk (events summarized,
//! plaintext hashed, optionally BRV1-encrypted) into `<prefix>/<site>/<name>`, **then** add its entry to
//! the manifest with a conditional read-modify-write. No temporary copy of a binlog is made on local
//! disk; memory is bounded by [`UploadLimits`].
//!
//! "Already in the manifest" is decided by content, not by name alone: a rebuilt server restarts
//! numbering, so its `mysql-bin.000001` is not the archived `mysql-bin.000001` of the server before it.
//! A local file is the archived entry named `<name>`, `<base>.g<nnnn>.<number>` or (written by earlier
//! versions) `<name>.g<n>` whose size, start state (`previousGtids` / `mariadbGtidList`) and
//! `firstEventTime` agree with the file's head. Files matching none are archived under one generation
//! per server: the generation of the server's newest recognised file, or for a server with none, the
//! lowest one whose names are free and sort after every archived name, so that the Go restore's
//! by-name replay keeps the servers in order (see the [manifest module docs](crate::manifest)). Another
//! server's archived object is never overwritten.
//!
//! Crash safety follows from the order and from atomic object writes: an object appears only when its
//! upload completes, and an entry is written only after its object exists, so a manifest never points at
//! a missing or partial object. A crash between the two leaves an unreferenced object that the next cycle
//! overwrites with the same bytes (the same file gets the same free name again); a file is recognised by
//! its content, so none is archived twice.
//!
//! [`Archiver::prune`] applies retention: manifest first, objects second.

pub mod cursor;
mod identity;
mod status;
mod store;
mod upload;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

use crate::Error;
use crate::manifest::{ArchiveLayout, BinlogName, Manifest, ManifestEntry, SiteName};
use crate::reader::{FileSummary, Flavor};
use identity::Placement;

pub use status::ArchiverStatus;
pub use store::ArchiveStore;
pub use upload::UploadLimits;
pub(crate) use upload::{Tee, hex};

/// The caller's answer to "may this server archive now?" (the Go sidecar asks `SELECT @@read_only`).
pub trait WritableGate {
    /// `Ok(true)` when the local server is writable (the primary).
    fn is_writable(&self) -> impl Future<Output = Result<bool, String>> + Send;
}

impl WritableGate for bool {
    async fn is_writable(&self) -> Result<bool, String> {
        Ok(*self)
    }
}

/// What one cycle did.
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct CycleReport {
    /// Whether the gate said writable (nothing is archived otherwise).
    pub writable: bool,
    /// Sealed files found in the index.
    pub sealed: usize,
    /// Names archived in this cycle, in order.
    pub archived: Vec<String>,
    /// Sealed files already in the manifest.
    pub already_archived: usize,
    /// Files that failed, with the error text; they are retried next cycle.
    pub failed: Vec<(String, String)>,
}

/// What [`Archiver::prune`] removed.
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct PruneReport {
    /// Entries removed from the manifest.
    pub removed: Vec<String>,
    /// Objects deleted.
    pub deleted: usize,
    /// Objects not deleted, with the reason (left for a later pass or an operator).
    pub kept: Vec<(String, String)>,
}

/// Archives one server's sealed binlogs for one site; see the module docs.
#[derive(Debug)]
pub struct Archiver {
    store: ArchiveStore,
    site: SiteName,
    binlog_dir: PathBuf,
    index_file: String,
    server_uuid: Option<String>,
    limits: UploadLimits,
    status: Arc<Mutex<ArchiverStatus>>,
}

impl Archiver {
    /// An archiver for `site` reading `binlog_dir/mysql-bin.index`.
    pub fn new(store: ArchiveStore, site: SiteName, binlog_dir: impl Into<PathBuf>) -> Self {
        Archiver {
            store,
            site,
            binlog_dir: binlog_dir.into(),
            index_file: "mysql-bin.index".into(),
            server_uuid: None,
            limits: UploadLimits::default(),
            status: Arc::default(),
        }
    }

    /// The index file name inside the binlog directory (`log_bin_index`).
    #[must_use]
    pub fn with_index_file(mut self, name: impl Into<String>) -> Self {
        self.index_file = name.into();
        self
    }

    /// Records `@@server_uuid` in each new entry (`serverUuid`).
    #[must_use]
    pub fn with_server_uuid(mut self, uuid: impl Into<String>) -> Self {
        self.server_uuid = Some(uuid.into());
        self
    }

    /// Upload part size and parallelism.
    #[must_use]
    pub fn with_limits(mut self, limits: UploadLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The archive store.
    pub fn store(&self) -> &ArchiveStore {
        &self.store
    }

    /// A snapshot of the counters for `/archiver/status`.
    pub fn status(&self) -> ArchiverStatus {
        self.status.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// One scan; see the module docs. Per-file failures are counted and reported, not returned: only a
    /// failure that stops the whole cycle (gate, index, manifest load) is an `Err`.
    pub async fn run_cycle(&self, gate: &impl WritableGate) -> Result<CycleReport, Error> {
        let result = self.cycle(gate).await;
        let mut st = self.status.lock().unwrap_or_else(|p| p.into_inner());
        st.last_scan_at = Some(Utc::now());
        match &result {
            Ok(report) => {
                if let Some((name, e)) = report.failed.last() {
                    st.last_error = Some(format!("{name}: {e}"));
                } else if report.writable || report.sealed == 0 {
                    st.last_error = None;
                }
            }
            Err(e) => {
                st.upload_failures += 1;
                st.last_error = Some(e.to_string());
            }
        }
        result
    }

    async fn cycle(&self, gate: &impl WritableGate) -> Result<CycleReport, Error> {
        let mut report = CycleReport::default();
        let writable = gate
            .is_writable()
            .await
            .map_err(|cause| Error::Gate { cause })?;
        self.with_status(|s| s.primary = writable);
        if !writable {
            self.with_status(|s| {
                s.backlog_files = 0;
                s.last_error = None;
            });
            return Ok(report);
        }
        report.writable = true;
        let sealed = self.sealed_files().await?;
        report.sealed = sealed.len();
        let manifest = self.store.load_manifest(&self.site).await?;
        let mut todo = Vec::new();
        let sealed: Vec<_> = sealed
            .into_iter()
            .map(|name| {
                let path = self.binlog_dir.join(name.as_str());
                (name, path)
            })
            .collect();
        let placements = identity::place_all(&manifest, &sealed).await;
        for ((name, _), placement) in sealed.into_iter().zip(placements) {
            match placement {
                Ok(Placement::Archived(_)) => report.already_archived += 1,
                Ok(Placement::New(target)) => {
                    if target != name {
                        tracing::warn!(
                            file = %name,
                            archive_name = %target,
                            "archiving under a generation name: the server restarted binlog \
                             numbering (rebuilt) after earlier files were archived"
                        );
                    }
                    todo.push((name, target));
                }
                Err(e) => {
                    tracing::warn!(file = %name, error = %e, "identifying a binlog failed");
                    self.with_status(|s| s.upload_failures += 1);
                    report.failed.push((name.to_string(), e.to_string()));
                }
            }
        }
        self.with_status(|s| s.backlog_files = todo.len() as u64);
        let mut latest = manifest;
        for (name, target) in todo {
            match self.archive_one(&name, &target).await {
                Ok((m, size)) => {
                    latest = m;
                    report.archived.push(target.to_string());
                    self.with_status(|s| {
                        s.files_archived += 1;
                        s.bytes_archived += size;
                        s.backlog_files = s.backlog_files.saturating_sub(1);
                        s.last_upload_at = Some(Utc::now());
                    });
                }
                Err(e) => {
                    tracing::warn!(file = %name, error = %e, "archiving a binlog failed");
                    self.with_status(|s| s.upload_failures += 1);
                    report.failed.push((name.to_string(), e.to_string()));
                }
            }
        }
        self.with_status(|s| s.set_manifest(&latest));
        Ok(report)
    }

    /// Streams the local file `name` to the object of `target` (its archive name), then records it in
    /// the manifest under `target`.
    async fn archive_one(
        &self,
        name: &BinlogName,
        target: &BinlogName,
    ) -> Result<(Manifest, u64), Error> {
        let key = self.store.layout.object_key(&self.site, target);
        let path = self.binlog_dir.join(name.as_str());
        let up = upload::upload_file(
            self.store.store.as_ref(),
            &key,
            &path,
            self.store.passphrase.as_ref(),
            self.limits,
        )
        .await?;
        let entry = entry_for(
            target,
            key,
            &up.summary,
            up.size,
            up.sha256,
            self.server_uuid.clone(),
        );
        let (manifest, ()) = self
            .store
            .update_manifest(&self.site, |m| m.upsert(entry.clone()))
            .await?;
        tracing::info!(file = %name, archive_name = %target, bytes = up.size, "archived binlog");
        Ok((manifest, up.size))
    }

    /// The sealed files named by the index: every entry but the last, in index order (the server
    /// appends to it; the Go sidecar sorts the names instead, which agrees while they are zero-padded).
    pub async fn sealed_files(&self) -> Result<Vec<BinlogName>, Error> {
        let path = self.binlog_dir.join(&self.index_file);
        let text = match tokio::fs::read_to_string(&path).await {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(cause) => {
                return Err(Error::File {
                    op: "read index",
                    path,
                    cause,
                });
            }
        };
        let mut names = Vec::new();
        for line in text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            let base = Path::new(line)
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or(line);
            names.push(BinlogName::parse(base)?);
        }
        names.pop();
        Ok(names)
    }

    /// Retention: drops entries whose non-zero last event time is before `cutoff` from the manifest,
    /// then deletes their objects. Only objects under `<prefix>/<site>/` are deleted.
    ///
    /// The live DR cursors under [`ArchiveLayout::dr_cursor_dir`] move `cutoff` back to their oldest
    /// `keepFrom` ([`cursor::retention_cutoff`]); an undecodable cursor stops the prune with an error.
    pub async fn prune(&self, cutoff: DateTime<Utc>) -> Result<PruneReport, Error> {
        let cursors = self.store.dr_cursors().await?;
        let effective = cursor::retention_cutoff(cutoff, &cursors, Utc::now());
        if effective < cutoff {
            tracing::info!(%cutoff, %effective, cursors = cursors.len(), "DR cursors hold retention back");
        }
        let cutoff = effective;
        let (manifest, removed) = self
            .store
            .update_manifest(&self.site, |m| m.prune_before(cutoff))
            .await?;
        self.with_status(|s| s.set_manifest(&manifest));
        let mut report = PruneReport {
            removed: removed.iter().map(|e| e.name.clone()).collect(),
            ..Default::default()
        };
        let site_dir = self.store.layout.site_dir(&self.site);
        for entry in removed {
            if !entry.remote_path.starts_with(&site_dir) {
                report
                    .kept
                    .push((entry.remote_path, format!("outside {site_dir}")));
                continue;
            }
            match self
                .store
                .store
                .delete(&ArchiveLayout::path(&entry.remote_path))
                .await
            {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => report.deleted += 1,
                Err(e) => {
                    tracing::warn!(key = %entry.remote_path, error = %e, "deleting a pruned binlog failed");
                    report.kept.push((entry.remote_path, e.to_string()));
                }
            }
        }
        Ok(report)
    }

    fn with_status(&self, f: impl FnOnce(&mut ArchiverStatus)) {
        let mut st = self.status.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut st);
    }
}

use object_store::ObjectStoreExt as _;

/// The manifest entry for a file that was just uploaded.
fn entry_for(
    name: &BinlogName,
    remote_path: String,
    s: &FileSummary,
    size: u64,
    sha256: String,
    server_uuid: Option<String>,
) -> ManifestEntry {
    let mut entry = ManifestEntry {
        name: name.to_string(),
        remote_path,
        size,
        first_event_time: s.first_event_time,
        last_event_time: s.last_event_time,
        archived_at: Some(Utc::now()),
        sha256: Some(sha256),
        server_uuid,
        ..Default::default()
    };
    gtid_fields(&mut entry, s);
    entry
}

/// Sets the transaction fields of `entry` from the file's summary: `previousGtids`, `endGtids` and
/// `gtids` for MySQL, `mariadbGtidList` and `mariadbEndGtidList` for MariaDB.
pub(crate) fn gtid_fields(entry: &mut ManifestEntry, s: &FileSummary) {
    let text = |set: &bloodraven_gtid::GtidSet| set.to_compact_string();
    let mariadb = s.flavor == Flavor::Mariadb;
    entry.previous_gtids = s.previous_gtids.as_ref().map(text).unwrap_or_default();
    entry.end_gtids = s.end_gtids.as_ref().map(text).unwrap_or_default();
    entry.gtids = (!mariadb).then(|| text(&s.gtids));
    entry.mariadb_gtid_list =
        mariadb.then(|| s.mariadb_gtid_list.clone().unwrap_or_default().to_string());
    entry.mariadb_end_gtid_list = s
        .mariadb_end_gtid_list()
        .filter(|_| mariadb)
        .map(|l| l.to_string());
}
