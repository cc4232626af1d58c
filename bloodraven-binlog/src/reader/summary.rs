//! The per-file summary: what a binlog holds, by GTID and time, in one pass.

use std::collections::BTreeMap;

use bloodraven_gtid::{GtidSet, GtidSetBuilder, MariadbGtid, MariadbGtidList};
use chrono::{DateTime, Utc};

use super::event::{Checksum, Event, EventData, EventHeader, EventType, Flavor};
use crate::Error;

/// How a file ends.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum Terminal {
    /// A ROTATE event: the server moved on to `next_file`.
    Rotate {
        /// The next file's name.
        next_file: String,
    },
    /// A STOP event: the server shut down.
    Stop,
}

/// What a binlog file holds: who wrote it, how it is checksummed, its GTIDs and times, and how it ends.
///
/// Built by [`summarize`](super::summarize) or, event by event, by a [`Summarizer`].
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct FileSummary {
    /// The server version from the first FORMAT_DESCRIPTION event.
    pub server_version: String,
    /// MySQL or MariaDB.
    pub flavor: Flavor,
    /// The checksum algorithm the file's writer declared.
    pub checksum: Checksum,
    /// The in-use flag of the first FORMAT_DESCRIPTION: the server had the file open (it may still be
    /// growing, or the server crashed).
    pub in_use: bool,
    /// Number of events, FORMAT_DESCRIPTION included.
    pub event_count: u64,
    /// Number of events per type name (see [`EventType`]'s `Display`).
    pub events_by_type: BTreeMap<String, u64>,
    /// The GTIDs executed before this file (MySQL `PREVIOUS_GTIDS`); `None` when the file has no such event.
    pub previous_gtids: Option<GtidSet>,
    /// The GTIDs of the transactions in this file (MySQL GTID and GTID_TAGGED events).
    pub gtids: GtidSet,
    /// `previous_gtids ∪ gtids`: everything executed once this file is applied; `None` without
    /// PREVIOUS_GTIDS.
    pub end_gtids: Option<GtidSet>,
    /// The MariaDB GTIDs of the event groups in this file, in file order (16 bytes per transaction: the one
    /// part of the summary that grows with the file; [`FileSummary::mariadb_end_gtid_list`] condenses it).
    pub mariadb_gtids: Vec<MariadbGtid>,
    /// The MariaDB binlog state at the start of the file (its GTID_LIST event), one position per domain.
    pub mariadb_gtid_list: Option<MariadbGtidList>,
    /// The time of the first event other than FORMAT_DESCRIPTION and PREVIOUS_GTIDS with a non-zero
    /// timestamp (the reference implementation's rule).
    pub first_event_time: Option<DateTime<Utc>>,
    /// The time of the last such event (the closing ROTATE or STOP included).
    pub last_event_time: Option<DateTime<Utc>>,
    /// The closing event; `None` when the file is still open or the server crashed.
    pub terminal: Option<Terminal>,
    /// The number of bytes read: the file size when the whole file was summarized.
    pub size: u64,
}

impl FileSummary {
    /// The MariaDB binlog state at the end of the file: the starting GTID list updated with the last GTID of
    /// each domain seen in the file; `None` for files without GTID_LIST or GTIDs.
    pub fn mariadb_end_gtid_list(&self) -> Option<MariadbGtidList> {
        if self.mariadb_gtid_list.is_none() && self.mariadb_gtids.is_empty() {
            return None;
        }
        let mut list = self.mariadb_gtid_list.clone().unwrap_or_default();
        for gtid in &self.mariadb_gtids {
            list.insert(*gtid);
        }
        Some(list)
    }
}

/// Builds a [`FileSummary`] from events pushed in file order (for callers that already read the events,
/// such as an archiver streaming the file elsewhere).
#[derive(Debug, Default)]
pub struct Summarizer {
    fde: Option<(String, Flavor, Checksum, bool)>,
    event_count: u64,
    by_type: BTreeMap<EventType, u64>,
    previous_gtids: Option<GtidSet>,
    gtids: GtidSetBuilder,
    mariadb_gtids: Vec<MariadbGtid>,
    mariadb_gtid_list: Option<MariadbGtidList>,
    first_time: u32,
    last_time: u32,
    terminal: Option<Terminal>,
    size: u64,
}

impl Summarizer {
    /// An empty summarizer.
    pub fn new() -> Summarizer {
        Summarizer::default()
    }

    /// Accounts for one event; decodes the bodies the summary needs, so malformed ones are errors here.
    pub fn push(&mut self, event: &Event) -> Result<(), Error> {
        let header = event.header();
        let ty = header.event_type;
        self.event_count += 1;
        *self.by_type.entry(ty).or_insert(0) += 1;
        self.size = event.offset() + u64::from(header.event_size);
        if ty != EventType::FORMAT_DESCRIPTION
            && ty != EventType::PREVIOUS_GTIDS
            && header.timestamp > 0
        {
            if self.first_time == 0 {
                self.first_time = header.timestamp;
            }
            self.last_time = header.timestamp;
        }
        self.terminal = None;
        match event.data()? {
            EventData::FormatDescription(fde) if self.fde.is_none() => {
                let in_use = header.flags & EventHeader::FLAG_IN_USE != 0;
                self.fde = Some((fde.server_version, fde.flavor, fde.checksum, in_use));
            }
            EventData::PreviousGtids(set) if self.previous_gtids.is_none() => {
                self.previous_gtids = Some(set);
            }
            EventData::Gtid(gtid) => {
                if let Some(gtid) = &gtid.gtid {
                    self.gtids.push(gtid);
                }
            }
            EventData::MariadbGtid(gtid) => self.mariadb_gtids.push(gtid.gtid),
            EventData::MariadbGtidList(list) if self.mariadb_gtid_list.is_none() => {
                let mut positions = MariadbGtidList::new();
                // The most recent GTID of each domain comes last, so later entries win.
                for gtid in list {
                    positions.insert(gtid);
                }
                self.mariadb_gtid_list = Some(positions);
            }
            EventData::Rotate(rotate) => {
                self.terminal = Some(Terminal::Rotate {
                    next_file: String::from_utf8_lossy(rotate.next_file).into_owned(),
                });
            }
            EventData::Stop => self.terminal = Some(Terminal::Stop),
            _ => {}
        }
        Ok(())
    }

    /// The summary of the events pushed so far; `None` before the first FORMAT_DESCRIPTION.
    pub fn finish(self) -> Option<FileSummary> {
        let (server_version, flavor, checksum, in_use) = self.fde?;
        let gtids = self.gtids.build();
        let end_gtids = self.previous_gtids.as_ref().map(|p| p.union(&gtids));
        let time = |t: u32| {
            (t > 0)
                .then(|| DateTime::from_timestamp(i64::from(t), 0))
                .flatten()
        };
        Some(FileSummary {
            server_version,
            flavor,
            checksum,
            in_use,
            event_count: self.event_count,
            events_by_type: self
                .by_type
                .into_iter()
                .map(|(ty, n)| (ty.to_string(), n))
                .collect(),
            previous_gtids: self.previous_gtids,
            gtids,
            end_gtids,
            mariadb_gtids: self.mariadb_gtids,
            mariadb_gtid_list: self.mariadb_gtid_list,
            first_event_time: time(self.first_time),
            last_event_time: time(self.last_time),
            terminal: self.terminal,
            size: self.size,
        })
    }
}
