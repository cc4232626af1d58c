//! The continuous binlog archiver: a loop around [`bloodraven_binlog::archive::Archiver`] (reference-failover.md
//! §4.5, reference-formats.md §2.4).
//!
//! The library does the crash-safe part — sealed files only, object before manifest entry, conditional manifest
//! writes, BRV1 when a passphrase file is set, files recognised by content so none is archived twice. This module
//! decides *when*: one scan at start, then on every inotify event that touches the binlog index in the binlog
//! directory (MySQL replaces the index by rename, MariaDB rewrites it in place; both are seen) and every poll
//! interval. The `@@read_only` gate makes only the writable primary archive, so after a failover the new primary's
//! sidecar continues the archive under its own site's manifest within one scan. A failed scan or file is retried
//! with exponential backoff (500 ms doubling up to the poll interval) on top of the object store client's own
//! retries. Retention asks the operator's `/pitr-cutoff` at most once per retention interval, on the primary only.

use std::ffi::OsString;
use std::mem::MaybeUninit;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bloodraven_binlog::archive::{ArchiveStore, Archiver, ArchiverStatus, WritableGate};
use bloodraven_binlog::manifest::{ArchiveLayout, SiteName};
use bloodraven_brv1::Passphrase;
use object_store::{ClientOptions, ObjectStore, RetryConfig};
use rustix::fs::inotify;
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::Instrument;

use crate::Error;
use crate::client::Client;
use crate::config::{PitrConfig, Storage, Topology};
use crate::mysql::Mysql;

/// First retry delay after a failed scan.
const BACKOFF_START: Duration = Duration::from_millis(500);
/// How long a SIGTERM waits for the scan in flight before abandoning it.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// Longest wait for sealed files to be closed by the server.
const SETTLE_MAX: Duration = Duration::from_secs(5);
/// A flagged file unmodified this long was left open by a crash.
const SETTLE_AGE: Duration = Duration::from_secs(2);
/// Budget of the `@@read_only` gate.
const GATE_TIMEOUT: Duration = Duration::from_secs(5);

/// The archiver of one sidecar.
#[derive(Clone)]
pub struct ArchiverService {
    archiver: Arc<Archiver>,
    mysql: Mysql,
    client: Client,
    operator: Option<String>,
    topology: Option<Topology>,
    pitr: PitrConfig,
    site: SiteName,
}

impl std::fmt::Debug for ArchiverService {
    /// Names the archive, never the store's credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArchiverService")
            .field("site", &self.site.as_str())
            .field("storage", &self.pitr.storage.kind())
            .field("prefix", &self.pitr.manifest_prefix)
            .finish_non_exhaustive()
    }
}

/// The `@@read_only` gate: only a writable server archives. Asked right before the library reads the index, it
/// also waits for the server to finish closing the sealed files (see [`settle`]).
struct ReadOnlyGate<'a> {
    mysql: &'a Mysql,
    archiver: &'a Archiver,
    dir: &'a Path,
}

impl WritableGate for ReadOnlyGate<'_> {
    async fn is_writable(&self) -> Result<bool, String> {
        let writable = self
            .mysql
            .read_only(GATE_TIMEOUT)
            .await
            .map(|ro| !ro)
            .map_err(|e| e.to_string())?;
        if writable {
            // Until the sealed list is stable across a settle, so a rotation during the wait is waited for too.
            let start = Instant::now();
            while let Ok(sealed) = self.archiver.sealed_files().await {
                let paths: Vec<_> = sealed.iter().map(|n| self.dir.join(n.as_str())).collect();
                settle(&paths).await;
                if start.elapsed() > SETTLE_MAX
                    || self
                        .archiver
                        .sealed_files()
                        .await
                        .is_ok_and(|now| now == sealed)
                {
                    break;
                }
            }
        }
        Ok(writable)
    }
}

impl ArchiverService {
    /// Builds the store (reading the passphrase file and S3 credential files) and the archiver for `site`.
    pub async fn new(
        pitr: &PitrConfig,
        topology: Option<&Topology>,
        operator: Option<&str>,
        mysql: Mysql,
        client: Client,
    ) -> Result<ArchiverService, Error> {
        let site_text = topology.map(|t| t.site.as_str()).ok_or(Error::Missing {
            name: "MY_SITE, POD_NAMESPACE and FAILOVER_GROUP",
            why: "the archive is kept per site (manifest-<site>.json)",
        })?;
        let site = SiteName::parse(site_text)?;
        let store = build_store(pitr)?;
        let uuid = mysql.server_uuid(GATE_TIMEOUT).await;
        let mut archiver = Archiver::new(store, site.clone(), &pitr.binlog_dir)
            .with_index_file(pitr.binlog_index.clone());
        if let Some(uuid) = uuid {
            archiver = archiver.with_server_uuid(uuid);
        }
        Ok(ArchiverService {
            archiver: Arc::new(archiver),
            mysql,
            client,
            operator: operator.map(str::to_owned),
            topology: topology.cloned(),
            pitr: pitr.clone(),
            site,
        })
    }

    /// The library's counters.
    pub fn status(&self) -> ArchiverStatus {
        self.archiver.status()
    }

    /// The `/archiver/status` body.
    pub fn status_json(&self) -> Value {
        let mut body = json!({
            "enabled": true,
            "storageType": self.pitr.storage.kind(),
            "manifestPrefix": self.pitr.manifest_prefix,
            "site": self.site.as_str(),
        });
        if let (Some(obj), Value::Object(st)) = (body.as_object_mut(), self.status().to_json()) {
            obj.extend(st);
        }
        body
    }

    /// The scan loop, until `shutdown` turns true.
    pub async fn run(&self, mut shutdown: watch::Receiver<bool>) {
        let span = tracing::info_span!("archiver", site = %self.site, dir = %self.pitr.binlog_dir.display());
        async move {
            let watch = match IndexWatch::new(&self.pitr.binlog_dir, &self.pitr.binlog_index) {
                Ok(w) => Some(w),
                Err(e) => {
                    tracing::warn!(error = %e, "inotify unavailable; scanning on the poll interval only");
                    None
                }
            };
            let mut backoff = BACKOFF_START;
            let mut last_retention: Option<Instant> = None;
            loop {
                let Some(clean) = self.scan(&mut shutdown).await else {
                    return;
                };
                if clean {
                    backoff = BACKOFF_START;
                    self.maybe_retain(&mut last_retention).await;
                }
                let delay = if clean {
                    self.pitr.poll_interval
                } else {
                    let d = backoff;
                    backoff = (backoff * 2).min(self.pitr.poll_interval.max(BACKOFF_START));
                    tracing::debug!(retry_in = ?d, "scan failed; backing off");
                    d
                };
                let woke = async {
                    match &watch {
                        Some(w) if clean => w.changed().await,
                        _ => std::future::pending().await,
                    }
                };
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    r = woke => if let Err(e) = r {
                        tracing::warn!(error = %e, "inotify read failed");
                    },
                    _ = shutdown.changed() => {}
                }
                if *shutdown.borrow() {
                    return;
                }
            }
        }
        .instrument(span)
        .await
    }

    /// One scan; `None` when shutting down, else whether it was clean (no error, no failed file).
    async fn scan(&self, shutdown: &mut watch::Receiver<bool>) -> Option<bool> {
        let gate = ReadOnlyGate {
            mysql: &self.mysql,
            archiver: &self.archiver,
            dir: &self.pitr.binlog_dir,
        };
        let cycle = self.archiver.run_cycle(&gate);
        tokio::pin!(cycle);
        let result = tokio::select! {
            r = &mut cycle => r,
            _ = shutdown.changed() => {
                match tokio::time::timeout(SHUTDOWN_GRACE, &mut cycle).await {
                    Ok(r) => {
                        log_cycle(&r);
                        return None;
                    }
                    Err(_) => {
                        tracing::warn!("shutting down: abandoning the upload in flight (no manifest entry was written for it)");
                        return None;
                    }
                }
            }
        };
        log_cycle(&result);
        Some(matches!(&result, Ok(r) if r.failed.is_empty()))
    }

    async fn maybe_retain(&self, last: &mut Option<Instant>) {
        let (Some(operator), Some(t), Some(profile)) =
            (&self.operator, &self.topology, &self.pitr.profile)
        else {
            return;
        };
        if !self.status().primary
            || last.is_some_and(|l| l.elapsed() < self.pitr.retention_interval)
        {
            return;
        }
        *last = Some(Instant::now());
        match self.client.pitr_cutoff(operator, t, profile).await {
            Ok(None) => tracing::debug!("no retention cutoff"),
            Ok(Some(cutoff)) => match self.archiver.prune(cutoff).await {
                Ok(r) => {
                    tracing::info!(%cutoff, removed = r.removed.len(), deleted = r.deleted, "retention applied")
                }
                Err(e) => tracing::warn!(error = %e, "retention failed"),
            },
            Err(e) => tracing::warn!(error = %e, "retention cutoff unavailable"),
        }
    }
}

/// Waits (at most [`SETTLE_MAX`]) until no sealed file still carries the "in use" flag of its FORMAT_DESCRIPTION
/// event: MariaDB lists the next file in the index before it finishes closing the previous one and clears that
/// flag in place, so a file read at once would be archived with one byte different from the file on disk. A file
/// left flagged by a crash never gets cleared; it is archived as it is once unmodified for [`SETTLE_AGE`].
async fn settle(paths: &[std::path::PathBuf]) {
    let start = Instant::now();
    'wait: while start.elapsed() < SETTLE_MAX {
        for p in paths {
            if in_use(p).await {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue 'wait;
            }
        }
        return;
    }
    tracing::debug!("sealed binlogs still flagged in use; archiving them as they are");
}

/// Whether the file's FORMAT_DESCRIPTION header has `LOG_EVENT_BINLOG_IN_USE_F` set and the file changed recently.
async fn in_use(path: &Path) -> bool {
    use tokio::io::AsyncReadExt;
    let Ok(mut f) = tokio::fs::File::open(path).await else {
        return false;
    };
    let recent = match f.metadata().await.and_then(|m| m.modified()) {
        Ok(t) => t.elapsed().map_or(true, |age| age < SETTLE_AGE),
        Err(_) => false,
    };
    let mut head = [0u8; 23];
    // Magic (4) + timestamp (4) + type (1) + server id (4) + size (4) + next position (4) = flags at byte 21.
    recent && f.read_exact(&mut head).await.is_ok() && head[21] & 0x01 != 0
}

fn log_cycle(result: &Result<bloodraven_binlog::archive::CycleReport, bloodraven_binlog::Error>) {
    match result {
        Ok(r) if !r.writable => tracing::debug!("read-only: not archiving"),
        Ok(r) => {
            for (file, error) in &r.failed {
                tracing::warn!(%file, %error, "archiving failed; retrying");
            }
            if !r.archived.is_empty() {
                tracing::info!(archived = ?r.archived, "scan archived files");
            }
        }
        Err(e) => tracing::warn!(error = %e, "scan failed"),
    }
}

/// The archive store of `pitr`: S3 (with credential files and a custom endpoint) or a directory.
pub fn build_store(pitr: &PitrConfig) -> Result<ArchiveStore, Error> {
    let retry = RetryConfig {
        max_retries: 3,
        retry_timeout: pitr.request_timeout,
        ..RetryConfig::default()
    };
    let client = ClientOptions::new()
        .with_timeout(pitr.request_timeout)
        .with_connect_timeout(Duration::from_secs(5));
    let store: Arc<dyn ObjectStore> = match &pitr.storage {
        Storage::Pvc { mount_path } => Arc::new(
            object_store::local::LocalFileSystem::new_with_prefix(mount_path).map_err(|cause| {
                Error::Store {
                    storage: "PVC",
                    cause,
                }
            })?,
        ),
        Storage::S3 {
            bucket,
            region,
            endpoint,
            creds_dir,
        } => {
            let mut b = object_store::aws::AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .with_retry(retry)
                .with_client_options(client);
            if let Some(region) = region {
                b = b.with_region(region);
            }
            if let Some(endpoint) = endpoint {
                b = b
                    .with_endpoint(endpoint)
                    .with_allow_http(endpoint.starts_with("http://"));
            }
            if let Some(dir) = creds_dir {
                let read = |name: &str, required: bool| -> Result<Option<String>, Error> {
                    let path = dir.join(name);
                    match std::fs::read_to_string(&path) {
                        Ok(s) => Ok(Some(s.trim().to_owned())),
                        Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                        Err(cause) => Err(Error::File {
                            what: "BLOODRAVEN_PITR_AWS_CREDS_DIR credential file",
                            path,
                            cause,
                        }),
                    }
                };
                b = b
                    .with_access_key_id(read("AWS_ACCESS_KEY_ID", true)?.unwrap_or_default())
                    .with_secret_access_key(
                        read("AWS_SECRET_ACCESS_KEY", true)?.unwrap_or_default(),
                    );
                if let Some(token) = read("AWS_SESSION_TOKEN", false)? {
                    b = b.with_token(token);
                }
                if region.is_none()
                    && let Some(r) = read("AWS_REGION", false)?
                {
                    b = b.with_region(r);
                }
            }
            Arc::new(b.build().map_err(|cause| Error::Store {
                storage: "S3",
                cause,
            })?)
        }
    };
    let mut archive = ArchiveStore::new(store, ArchiveLayout::new(&pitr.manifest_prefix))
        .with_plaintext_fallback(pitr.allow_plaintext_fallback);
    if let Some(path) = &pitr.passphrase_file {
        let pass = Passphrase::from_file(path).map_err(|cause| Error::Passphrase {
            path: path.clone(),
            cause,
        })?;
        archive = archive.with_passphrase(pass);
    }
    Ok(archive)
}

/// inotify on the binlog directory, reporting changes of the index file.
///
/// A small thread polls the (non-blocking) inotify descriptor with a timeout and signals the loop; it stops on its
/// own within the timeout once the watch is dropped. (Registering the descriptor with tokio directly needs
/// `unsafe`, which this crate forbids.)
struct IndexWatch {
    rx: tokio::sync::Mutex<tokio::sync::mpsc::Receiver<()>>,
}

impl IndexWatch {
    fn new(dir: &Path, index: &str) -> std::io::Result<IndexWatch> {
        let fd = inotify::init(inotify::CreateFlags::NONBLOCK | inotify::CreateFlags::CLOEXEC)?;
        inotify::add_watch(
            &fd,
            dir,
            inotify::WatchFlags::MODIFY
                | inotify::WatchFlags::CLOSE_WRITE
                | inotify::WatchFlags::CREATE
                | inotify::WatchFlags::MOVED_TO,
        )?;
        let index = OsString::from(index);
        let (tx, rx) = tokio::sync::mpsc::channel(1);
        std::thread::Builder::new()
            .name("binlog-inotify".into())
            .spawn(move || watch_thread(&fd, &index, &tx))?;
        Ok(IndexWatch {
            rx: tokio::sync::Mutex::new(rx),
        })
    }

    /// Waits for an event on the index file.
    async fn changed(&self) -> std::io::Result<()> {
        match self.rx.lock().await.recv().await {
            Some(()) => Ok(()),
            None => Err(std::io::Error::other("the inotify thread stopped")),
        }
    }
}

fn watch_thread(fd: &rustix::fd::OwnedFd, index: &OsString, tx: &tokio::sync::mpsc::Sender<()>) {
    use rustix::event::{PollFd, PollFlags, Timespec};
    let mut buf = [MaybeUninit::<u8>::uninit(); 4096];
    let timeout = Timespec {
        tv_sec: 0,
        tv_nsec: 500_000_000,
    };
    while !tx.is_closed() {
        let mut fds = [PollFd::new(fd, PollFlags::IN)];
        match rustix::event::poll(&mut fds, Some(&timeout)) {
            Ok(0) | Err(rustix::io::Errno::INTR) => continue,
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "inotify poll failed; scanning on the poll interval only");
                return;
            }
        }
        let mut hit = false;
        let mut reader = inotify::Reader::new(fd, &mut buf);
        loop {
            match reader.next() {
                Ok(ev) => hit |= ev.file_name().map(|n| n.to_bytes()) == Some(index.as_bytes()),
                Err(rustix::io::Errno::AGAIN) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "inotify read failed; scanning on the poll interval only");
                    return;
                }
            }
        }
        if hit {
            // A full channel already holds a wake-up: nothing is lost.
            let _ = tx.try_send(());
        }
    }
}
