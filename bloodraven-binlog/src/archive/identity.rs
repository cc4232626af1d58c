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

/// Decides where each local sealed file (`(name, path)`, in index order) belongs, given the manifest.
///
/// First each file is looked up by content among its own generations in the manifest (`<name>`,
/// [`BinlogName::generation`] and the older `<name>.g<n>`): when none has the file's size, it is new
/// without reading it; otherwise its head is read and compared.
///
/// Then the new files get one generation, the local server's: the generation under which its newest
/// recognised file is archived. When none is recognised (a first cycle, or a rebuilt server that
/// restarted numbering), it is the lowest generation whose names are free and sort, byte-wise, after
/// every archived name of the same base, so that the Go restore, which replays a site's files sorted by
/// name, replays them after everything archived before them. A name held by another file is never
/// reused.
pub(crate) async fn place_all(
    manifest: &Manifest,
    sealed: &[(BinlogName, PathBuf)],
) -> Vec<Result<Placement, Error>> {
    let mut found = Vec::with_capacity(sealed.len());
    for (local, path) in sealed {
        found.push(identify(manifest, local, path).await);
    }
    let current = sealed
        .iter()
        .zip(&found)
        .rev()
        .find_map(|((local, _), r)| match r {
            Ok(Some(name)) => local.generation_of(name),
            _ => None,
        });
    let new: Vec<&BinlogName> = sealed
        .iter()
        .zip(&found)
        .filter(|(_, r)| matches!(r, Ok(None)))
        .map(|((local, _), _)| local)
        .collect();
    let held = |local: &BinlogName, n: u32| {
        manifest.contains(local.generation(n).as_str())
            || manifest
                .files
                .iter()
                .any(|e| local.generation_of(&e.name) == Some(n))
    };
    let sorts_last = |local: &BinlogName, n: u32| {
        let name = local.generation(n);
        manifest
            .files
            .iter()
            .filter(|e| e.name.starts_with(local.family()))
            .all(|e| e.name.as_bytes() < name.as_str().as_bytes())
    };
    let shared = match current {
        Some(g) => Some(g),
        None => (1..=BinlogName::MAX_GENERATION)
            .find(|&n| new.iter().all(|l| !held(l, n) && sorts_last(l, n))),
    };
    if shared.is_none() && !new.is_empty() {
        tracing::warn!(
            "no generation of the new binlog names sorts after the archived ones; archiving each under \
             its lowest free generation, so the Go restore may replay them out of order"
        );
    }
    sealed
        .iter()
        .zip(found)
        .map(|((local, _), r)| {
            r.map(|archived| match archived {
                Some(name) => Placement::Archived(name),
                None => {
                    // The manifest holds finitely many names, so a free generation exists.
                    let free = (shared.unwrap_or(1)..).find(|&n| !held(local, n));
                    Placement::New(local.generation(free.unwrap_or(u32::MAX)))
                }
            })
        })
        .collect()
}

/// The manifest name of the local file `local` (at `path`), if one of its generations is this file.
async fn identify(
    manifest: &Manifest,
    local: &BinlogName,
    path: &Path,
) -> Result<Option<String>, Error> {
    let candidates: Vec<&ManifestEntry> = manifest
        .files
        .iter()
        .filter(|e| local.generation_of(&e.name).is_some())
        .collect();
    if candidates.is_empty() {
        return Ok(None);
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
            return Ok(Some(e.name.clone()));
        }
    }
    Ok(None)
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

    /// Places `sealed` (name, path) files, in index order.
    async fn place(m: &Manifest, sealed: &[(&str, &str)]) -> Vec<Placement> {
        let sealed: Vec<_> = sealed
            .iter()
            .map(|(n, p)| (BinlogName::parse(n).unwrap(), PathBuf::from(p)))
            .collect();
        place_all(m, &sealed)
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect()
    }

    fn new_name(name: &str) -> Placement {
        Placement::New(BinlogName::parse(name).unwrap())
    }

    #[tokio::test]
    async fn same_content_is_found_under_any_generation() {
        for name in [
            "mysql-bin.000001",
            "mysql-bin.g0002.000001",
            // After retention removed the old server's file, its successor stays recognised, under
            // the name earlier versions gave it too.
            "mysql-bin.000001.g2",
        ] {
            let m = manifest(vec![entry_for_fixture(name)]);
            let placed = place(&m, &[("mysql-bin.000001", FIXTURE)]).await;
            assert_eq!(placed, [Placement::Archived(name.into())]);
        }
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
        let placed = place(&m, &[("mysql-bin.000001", FIXTURE)]).await;
        assert_eq!(placed, [Placement::New(local().generation(3))]);
        assert_eq!(placed, [new_name("mysql-bin.g0003.000001")]);
    }

    #[tokio::test]
    async fn a_recognised_file_sets_the_generation_without_reading_new_names() {
        // 000001 failed last cycle while 000002 was archived: it keeps its own name, and a file whose
        // name is not archived is not read.
        let m = manifest(vec![entry_for_fixture("mysql-bin.000002")]);
        let placed = place(
            &m,
            &[
                ("mysql-bin.000001", "/nonexistent/mysql-bin.000001"),
                ("mysql-bin.000002", FIXTURE),
                ("mysql-bin.000003", "/nonexistent/mysql-bin.000003"),
            ],
        )
        .await;
        assert_eq!(
            placed,
            [
                new_name("mysql-bin.000001"),
                Placement::Archived("mysql-bin.000002".into()),
                new_name("mysql-bin.000003"),
            ]
        );
        // The same for a server archived under generation 2.
        let m = manifest(vec![entry_for_fixture("mysql-bin.g0002.000002")]);
        let placed = place(
            &m,
            &[
                ("mysql-bin.000002", FIXTURE),
                ("mysql-bin.000003", "/nonexistent/mysql-bin.000003"),
            ],
        )
        .await;
        assert_eq!(placed[1], new_name("mysql-bin.g0002.000003"));
    }

    #[tokio::test]
    async fn a_new_server_takes_one_generation_that_sorts_after_the_archive() {
        // The old server archived 000001..000003; the rebuilt one restarts at 000001 and passes 000003.
        let old = |name: &str| {
            let mut e = entry_for_fixture(name);
            e.size += 1;
            e
        };
        let m = manifest(vec![
            old("mysql-bin.000001"),
            old("mysql-bin.000002"),
            old("mysql-bin.000003"),
        ]);
        let sealed = [
            ("mysql-bin.000001", FIXTURE),
            ("mysql-bin.000002", FIXTURE),
            ("mysql-bin.000003", FIXTURE),
            ("mysql-bin.000004", "/nonexistent/mysql-bin.000004"),
        ];
        let placed = place(&m, &sealed).await;
        let want = [
            "mysql-bin.g0002.000001",
            "mysql-bin.g0002.000002",
            "mysql-bin.g0002.000003",
            "mysql-bin.g0002.000004",
        ];
        assert_eq!(placed, want.map(new_name));

        // Generation 10 follows generation 9 and sorts after it.
        let m = manifest(vec![old("mysql-bin.g0009.000001")]);
        let placed = place(&m, &[("mysql-bin.000001", FIXTURE)]).await;
        assert_eq!(placed, [new_name("mysql-bin.g0010.000001")]);
        assert!("mysql-bin.g0009.000001" < "mysql-bin.g0010.000001");

        // A first cycle on an empty manifest keeps the local names.
        let placed = place(&manifest(Vec::new()), &sealed).await;
        assert_eq!(placed[0], new_name("mysql-bin.000001"));
        assert_eq!(placed[3], new_name("mysql-bin.000004"));
    }
}
