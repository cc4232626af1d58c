//! Counters for the sidecar's `GET /archiver/status`.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::manifest::Manifest;

/// A snapshot of the archiver's counters ([`crate::archive::Archiver::status`]).
///
/// [`ArchiverStatus::to_json`] gives the keys of the Go sidecar's `/archiver/status` that the archiver
/// owns; the sidecar adds `enabled`, `storageType`, `manifestPrefix` and `site` from its configuration.
#[derive(Clone, Debug, Default, Eq, PartialEq)]
#[non_exhaustive]
pub struct ArchiverStatus {
    /// The gate said writable at the last scan.
    pub primary: bool,
    /// When the last scan ran.
    pub last_scan_at: Option<DateTime<Utc>>,
    /// Files archived by this process.
    pub files_archived: u64,
    /// Plaintext bytes archived by this process.
    pub bytes_archived: u64,
    /// Failed uploads, manifest updates and scans.
    pub upload_failures: u64,
    /// The last error, cleared by a clean scan.
    pub last_error: Option<String>,
    /// When the last file was archived.
    pub last_upload_at: Option<DateTime<Utc>>,
    /// Sealed files not yet archived.
    pub backlog_files: u64,
    /// Entries in the site's manifest.
    pub manifest_file_count: u64,
    /// Plaintext bytes of those entries.
    pub manifest_bytes: u64,
    /// Oldest first event time in the manifest.
    pub oldest_archived_time: Option<DateTime<Utc>>,
    /// Newest last event time in the manifest.
    pub newest_archived_time: Option<DateTime<Utc>>,
}

impl ArchiverStatus {
    /// The Go keys (`filesArchived`, `uploadFailures`, ...); times as RFC 3339, absent ones as `null`,
    /// `lastError` omitted when empty.
    pub fn to_json(&self) -> Value {
        let time = |t: Option<DateTime<Utc>>| t.map_or(Value::Null, |t| json!(t.to_rfc3339()));
        let mut m = Map::new();
        m.insert("primary".into(), json!(self.primary));
        m.insert("lastScanAt".into(), time(self.last_scan_at));
        m.insert("filesArchived".into(), json!(self.files_archived));
        m.insert("bytesArchived".into(), json!(self.bytes_archived));
        if let Some(e) = &self.last_error {
            m.insert("lastError".into(), json!(e));
        }
        m.insert("uploadFailures".into(), json!(self.upload_failures));
        m.insert("lastUploadAt".into(), time(self.last_upload_at));
        m.insert("backlogFiles".into(), json!(self.backlog_files));
        m.insert("manifestFileCount".into(), json!(self.manifest_file_count));
        m.insert("manifestBytes".into(), json!(self.manifest_bytes));
        m.insert("oldestArchivedTime".into(), time(self.oldest_archived_time));
        m.insert("newestArchivedTime".into(), time(self.newest_archived_time));
        Value::Object(m)
    }

    pub(crate) fn set_manifest(&mut self, m: &Manifest) {
        self.manifest_file_count = m.files.len() as u64;
        self.manifest_bytes = m.total_bytes();
        self.oldest_archived_time = m.oldest_event_time();
        self.newest_archived_time = m.newest_event_time();
    }
}
