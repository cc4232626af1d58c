//! Which archived entry, if any, a local sealed file already is: content identity across reused names.
//!
//! A rebuilt server (reclone, restore, new volume) restarts binlog numbering, so a local
//! `mysql-bin.000001` may be a different file than the archived `mysql-bin.000001`. A file is identified
//! by its *head*: its size, the binlog state it starts from (MySQL `PREVIOUS_GTIDS`, MariaDB
//! `GTID_LIST`) and the time of its first event after those, all of which every manifest entry records
//! (Go-written ones included). Reading the head costs a few events, not the whole file.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use bloodraven_gtid::{GtidSet, MariadbGtidList};
use chrono::{DateTime, Utc};

use crate::Error;
use crate::manifest::{BinlogName, Manifest, ManifestEntry};
use crate::reader::{EventType, Reader, Summarizer};

/// Events read at most to find a file's start state and first event time.
const HEAD_EVENTS: usize = 8;

/// Where a local sealed file goes.
#[derive(Debug, Eq, PartialEq)]
pub(crate) enum Placement {
    /// Already archived under this manifest name.
    Archived(String),
    /// Not archived yet: archive it under this name.
    New(BinlogName),
}

/// Decides where the local file `local` (at `path`) belongs, given the manifest.
///
/// Only the file's generations in the manifest (`<name>`, `<name>.g2`, ...; see
/// [`BinlogName::generation`]) are candidates. When none has the local file's size, the file is new
/// without reading it; otherwise its head is read and compared.
pub(crate) async fn place(
    manifest: &Manifest,
    local: &BinlogName,
    path: &Path,
) -> Result<Placement, Error> {
    let candidates: Vec<&ManifestEntry> = manifest
        .files
        .iter()
        .filter(|e| local.generation_of(&e.name).is_some())
        .collect();
    if candidates.is_empty() {
        return Ok(Placement::New(local.clone()));
    }
    let size = tokio::fs::metadata(path)
        .await
        .map_err(|cause| Error::File {
            op: "stat",
            path: path.to_owned(),
            cause,
        })?
        .len();
    if candidates.iter().any(|e| e.size == size) {
        let owned = path.to_owned();
        let head = tokio::task::spawn_blocking(move || Head::read(owned, size))
            .await
            .map_err(|join| Error::File {
                op: "read",
                path: path.to_owned(),
                cause: std::io::Error::other(join),
            })??;
        if let Some(e) = candidates.iter().find(|e| head.is_same_file(e)) {
            return Ok(Placement::Archived(e.name.clone()));
        }
    }
    let free = (1..)
        .map(|n| local.generation(n))
        .find(|name| !manifest.contains(name.as_str()))
        .unwrap_or_else(|| local.clone());
    Ok(Placement::New(free))
}

/// The identifying start of a binlog file.
#[derive(Debug)]
struct Head {
    size: u64,
    previous_gtids: Option<GtidSet>,
    mariadb_gtid_list: Option<MariadbGtidList>,
    first_event_time: Option<DateTime<Utc>>,
}

impl Head {
    /// Reads events up to the first one past the file's header events (FORMAT_DESCRIPTION,
    /// PREVIOUS_GTIDS, GTID_LIST, BINLOG_CHECKPOINT), at most [`HEAD_EVENTS`].
    fn read(path: PathBuf, size: u64) -> Result<Head, Error> {
        let file = File::open(&path).map_err(|cause| Error::File {
            op: "open",
            path: path.clone(),
            cause,
        })?;
        let mut reader = Reader::new(std::io::BufReader::new(file));
        let mut summarizer = Summarizer::new();
        for _ in 0..HEAD_EVENTS {
            let Some(event) = reader.next_event()? else {
                break;
            };
            summarizer.push(&event)?;
            let header_event = matches!(
                event.event_type(),
                EventType::FORMAT_DESCRIPTION
                    | EventType::PREVIOUS_GTIDS
                    | EventType::MARIADB_GTID_LIST
                    | EventType::MARIADB_BINLOG_CHECKPOINT
            );
            if !header_event {
                break;
            }
        }
        let summary = summarizer.finish();
        Ok(Head {
            size,
            previous_gtids: summary.as_ref().and_then(|s| s.previous_gtids.clone()),
            mariadb_gtid_list: summary.as_ref().and_then(|s| s.mariadb_gtid_list.clone()),
            first_event_time: summary.and_then(|s| s.first_event_time),
        })
    }

    /// Whether `entry` records this file: equal size, and no recorded start state or first event time
    /// contradicts the head (fields an entry lacks, e.g. from an older writer, do not count).
    fn is_same_file(&self, entry: &ManifestEntry) -> bool {
        if entry.size != self.size {
            return false;
        }
        if let (Some(a), Some(b)) = (self.first_event_time, entry.first_event_time)
            && a != b
        {
            return false;
        }
        if let Some(local) = &self.previous_gtids
            && !entry.previous_gtids.is_empty()
            && GtidSet::parse(&entry.previous_gtids).is_ok_and(|archived| archived != *local)
        {
            return false;
        }
        if let (Some(local), Some(text)) = (&self.mariadb_gtid_list, &entry.mariadb_gtid_list)
            && MariadbGtidList::from_str(text).is_ok_and(|archived| archived != *local)
        {
            return false;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::SiteName;

    const FIXTURE: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/fixtures/binlog/percona-binlog-server/binlog.000001"
    );

    fn entry_for_fixture(name: &str) -> ManifestEntry {
        let s = crate::reader::summarize_file(Path::new(FIXTURE)).unwrap();
        ManifestEntry {
            name: name.into(),
            size: s.size,
            first_event_time: s.first_event_time,
            previous_gtids: s
                .previous_gtids
                .map(|p| p.to_compact_string())
                .unwrap_or_default(),
            ..Default::default()
        }
    }

    fn manifest(entries: Vec<ManifestEntry>) -> Manifest {
        let mut m = Manifest::new(&SiteName::parse("iad").unwrap());
        for e in entries {
            m.upsert(e);
        }
        m
    }

    fn local() -> BinlogName {
        BinlogName::parse("mysql-bin.000001").unwrap()
    }

    #[tokio::test]
    async fn same_content_is_found_under_any_generation() {
        let m = manifest(vec![entry_for_fixture("mysql-bin.000001")]);
        let placed = place(&m, &local(), Path::new(FIXTURE)).await.unwrap();
        assert_eq!(placed, Placement::Archived("mysql-bin.000001".into()));

        // After retention removed the old server's file, its successor stays recognised as `.g2`.
        let m = manifest(vec![entry_for_fixture("mysql-bin.000001.g2")]);
        let placed = place(&m, &local(), Path::new(FIXTURE)).await.unwrap();
        assert_eq!(placed, Placement::Archived("mysql-bin.000001.g2".into()));
    }

    #[tokio::test]
    async fn same_size_other_head_is_a_new_generation() {
        let mut other_time = entry_for_fixture("mysql-bin.000001");
        other_time.first_event_time = other_time
            .first_event_time
            .map(|t| t - chrono::Duration::days(30));
        let mut other_start = entry_for_fixture("mysql-bin.000001.g2");
        other_start.previous_gtids = "396e294c-1ca4-11f1-9ae7-00155da79c6b:1-3".into();
        let m = manifest(vec![other_time, other_start]);
        let placed = place(&m, &local(), Path::new(FIXTURE)).await.unwrap();
        assert_eq!(placed, Placement::New(local().generation(3)));
    }

    #[tokio::test]
    async fn unarchived_name_keeps_its_own_name_without_reading_the_file() {
        let m = manifest(vec![entry_for_fixture("mysql-bin.000002")]);
        let placed = place(&m, &local(), Path::new("/nonexistent/mysql-bin.000001"))
            .await
            .unwrap();
        assert_eq!(placed, Placement::New(local()));
    }
}
