//! `manifest-<site>.json`: the per-site index of archived binlogs, read and written byte-compatible with
//! the Go implementation.
//!
//! A [`Manifest`] lists the binlog files one site has archived. The encoding follows Go's
//! `json.MarshalIndent(m, "", "  ")` exactly (key order, two-space indent, no trailing newline, Go string
//! escaping, RFC 3339 times with trailing zeros trimmed and the zero time written as
//! `"0001-01-01T00:00:00Z"`), so a Go reader sees the same bytes a Go writer would have produced. The
//! reader is tolerant the way Go's is: unknown keys are ignored, `version` 0 means 1, an empty `site` is
//! filled from the requested one, and keys match case-insensitively when no exact match exists.
//!
//! New information rides in additive optional keys that the Go reader ignores, written after
//! `archivedAt`: `gtids` (the GTIDs the file contains), `sha256` (of the plaintext), `serverUuid`, and for
//! MariaDB files `mariadbGtidList` / `mariadbEndGtidList` (the binlog state at the start and end of the
//! file). `endGtids` keeps its Go position (the Go struct declares it; the Go archiver leaves it empty).
//!
//! # Names of files from a rebuilt server
//!
//! An entry's `name` is normally the local binlog basename. A rebuilt server (reclone, restore, new
//! volume) restarts numbering, so its `mysql-bin.000001` can arrive while the manifest already holds the
//! previous server's `mysql-bin.000001`. Each server's files therefore carry a generation. A server none
//! of whose files is archived yet takes the lowest generation whose names are free and sort after every
//! archived name of the same base: generation 1, its own names, on a fresh archive or when its numbers
//! continue past the archived ones; otherwise some `n >= 2` ([`BinlogName::generation`]), which turns
//! `mysql-bin.000001` into `mysql-bin.g0002.000001`. Every later file of that server stays in its
//! generation (`mysql-bin.g0002.000042`), with the object at `<prefix>/<site>/<name>`.
//!
//! The Go restore downloads a site's files and replays them sorted by name (`sorted(glob("mysql-bin.*"))`),
//! so the names are built to sort in replay order byte-wise: digits sort before `g`, so every generation-1
//! name comes first, and the zero-padded generation keeps `g0002` before `g0010`. The name stays a plain
//! basename starting with the binlog base name, so the Go `pitr-download` accepts it and the restore's glob
//! finds it. Earlier versions named generations per file, `<name>.g<n>` (`mysql-bin.000001.g2`), which
//! sorts among the generation-1 names; such archives are still read, planned and recognised.
//!
//! Which generation a local file is follows from its content, not its name: the entry of the same size,
//! start state (`previousGtids` / `mariadbGtidList`) and `firstEventTime`. A re-run therefore skips it,
//! and a crash before the manifest update picks the same name again. PITR planning and the continuity
//! check order files by GTID continuity, never by name, so generations need no special handling there.

mod json;
mod layout;

use chrono::{DateTime, Utc};

use crate::Error;

pub use layout::{ArchiveLayout, BinlogName, SiteName};

/// The schema version every writer stores.
pub const MANIFEST_VERSION: u32 = 1;

/// The archive index of one site (`manifest-<site>.json`).
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Manifest {
    /// Schema version; always [`MANIFEST_VERSION`] after decoding (0 is read as 1).
    pub version: u32,
    /// The site that wrote the manifest.
    pub site: String,
    /// Archived files, sorted ascending by name (byte-wise) by [`Manifest::upsert`] and on encode.
    pub files: Vec<ManifestEntry>,
    /// Whether `files` was `null` in the decoded text (kept so an untouched manifest re-encodes to
    /// the same bytes).
    files_null: bool,
    /// Keys of another writer's version this one does not know, kept and written back: at the top level, and
    /// per entry (by entry name).
    unknown: serde_json::Map<String, serde_json::Value>,
    unknown_in_entries:
        std::collections::BTreeMap<String, serde_json::Map<String, serde_json::Value>>,
}

/// One archived binlog file.
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct ManifestEntry {
    /// Archive name: the binlog basename, e.g. `mysql-bin.000042`, or `mysql-bin.g0002.000042` for a file
    /// of a rebuilt server (`mysql-bin.000042.g2` in archives of earlier versions; see the module docs).
    pub name: String,
    /// Storage key of the object (`<prefix>/<site>/<name>`, `name` being the archive name).
    pub remote_path: String,
    /// Plaintext size of the local file in bytes at archive time.
    pub size: u64,
    /// Time of the first event that is neither FORMAT_DESCRIPTION nor PREVIOUS_GTIDS and has a
    /// non-zero timestamp; `None` is Go's zero time.
    pub first_event_time: Option<DateTime<Utc>>,
    /// Time of the last such event (the trailing ROTATE/STOP included); `None` is Go's zero time.
    pub last_event_time: Option<DateTime<Utc>>,
    /// GTID set of the file's PREVIOUS_GTIDS event (`""` when absent; omitted from the JSON then).
    pub previous_gtids: String,
    /// GTIDs executed at the end of the file: previous ∪ contained (`""` when unknown).
    pub end_gtids: String,
    /// Wall clock when the entry was written; `None` is Go's zero time.
    pub archived_at: Option<DateTime<Utc>>,
    /// Additive: GTIDs the file contains (MySQL GTID set text), when known.
    pub gtids: Option<String>,
    /// Additive: lower-case hex SHA-256 of the plaintext file, when known.
    pub sha256: Option<String>,
    /// Additive: `@@server_uuid` of the server that wrote the file, when known.
    pub server_uuid: Option<String>,
    /// Additive (MariaDB): the file's GTID_LIST, i.e. the binlog state before its first transaction.
    pub mariadb_gtid_list: Option<String>,
    /// Additive (MariaDB): the binlog state after the file's last transaction.
    pub mariadb_end_gtid_list: Option<String>,
}

impl Manifest {
    /// An empty manifest for `site` (what a missing object means).
    pub fn new(site: &SiteName) -> Self {
        Manifest {
            version: MANIFEST_VERSION,
            site: site.as_str().to_owned(),
            files: Vec::new(),
            files_null: false,
            unknown: serde_json::Map::new(),
            unknown_in_entries: std::collections::BTreeMap::new(),
        }
    }

    /// Decodes manifest text with the Go reader's tolerance. `key` names the object in errors and
    /// `site` fills an empty `site` field.
    pub fn decode(bytes: &[u8], key: &str, site: &SiteName) -> Result<Self, Error> {
        json::decode(bytes, key, site)
    }

    /// Encodes exactly as Go's `json.MarshalIndent(m, "", "  ")` would, files sorted by name.
    pub fn encode(&self) -> Vec<u8> {
        json::encode(self)
    }

    /// The entry named `name`, if archived.
    pub fn get(&self, name: &str) -> Option<&ManifestEntry> {
        self.files.iter().find(|e| e.name == name)
    }

    /// Whether a file named `name` is archived.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Replaces the entry with the same name or appends it, then sorts by name (the Go writer's rule).
    pub fn upsert(&mut self, entry: ManifestEntry) {
        match self.files.iter_mut().find(|e| e.name == entry.name) {
            Some(slot) => *slot = entry,
            None => self.files.push(entry),
        }
        self.sort();
        self.version = MANIFEST_VERSION;
        self.files_null = false;
    }

    /// Removes every entry whose non-zero `lastEventTime` is strictly before `cutoff` and returns the
    /// removed entries (the Go retention rule). Entries with a zero time are kept.
    pub fn prune_before(&mut self, cutoff: DateTime<Utc>) -> Vec<ManifestEntry> {
        let (old, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut self.files)
            .into_iter()
            .partition(|e| e.last_event_time.is_some_and(|t| t < cutoff));
        self.files = keep;
        self.files_null = false;
        old
    }

    /// Total plaintext bytes of all entries.
    pub fn total_bytes(&self) -> u64 {
        self.files.iter().map(|e| e.size).sum()
    }

    /// Oldest non-zero `firstEventTime`.
    pub fn oldest_event_time(&self) -> Option<DateTime<Utc>> {
        self.files.iter().filter_map(|e| e.first_event_time).min()
    }

    /// Newest non-zero `lastEventTime`.
    pub fn newest_event_time(&self) -> Option<DateTime<Utc>> {
        self.files.iter().filter_map(|e| e.last_event_time).max()
    }

    pub(crate) fn sort(&mut self) {
        self.files
            .sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    }
}

#[cfg(test)]
mod tests;
