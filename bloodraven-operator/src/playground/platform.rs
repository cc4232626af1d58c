//! The playground's [`Platform`]: the durable record in `record.json` (written to a temporary file, synced, then
//! renamed over the old one), events appended to `events.log` and kept for the dashboard's timeline, the DNS
//! record and the admin annotations in memory (the chaos actions set the annotations).

use std::collections::VecDeque;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::engine::{Event, Status, Taint};
use crate::platform::{
    AdminAnnotations, Annotation, GroupObservation, Platform, PlatformError, StoredRecord,
};
use crate::record::{Record, format_rfc3339};

/// How many timeline entries the dashboard keeps.
const TIMELINE: usize = 200;

/// One timeline entry: when (since the epoch), kind (`Normal`, `Warning`, `Chaos`, `Playground`), reason, message.
#[derive(Clone, Debug, serde::Serialize)]
pub(crate) struct TimelineEntry {
    pub(crate) at: String,
    #[serde(skip)]
    pub(crate) at_since_epoch: Duration,
    pub(crate) kind: String,
    pub(crate) reason: String,
    pub(crate) message: String,
}

/// What the platform holds.
#[derive(Debug, Default)]
pub(crate) struct LocalState {
    pub(crate) dns: Option<String>,
    pub(crate) dns_changed_at: Option<Duration>,
    pub(crate) tainted: Vec<String>,
    pub(crate) status: Option<Status>,
    pub(crate) active_site: Option<String>,
    pub(crate) record: Option<Record>,
    pub(crate) planned: Option<String>,
    pub(crate) reclone: Option<String>,
    pub(crate) timeline: VecDeque<TimelineEntry>,
}

/// The local platform (cheap to clone).
#[derive(Clone, Debug)]
pub(crate) struct LocalPlatform {
    dir: PathBuf,
    state: Arc<Mutex<LocalState>>,
}

impl LocalPlatform {
    /// A platform keeping its files in `dir`.
    pub(crate) fn new(dir: PathBuf) -> LocalPlatform {
        LocalPlatform {
            dir,
            state: Arc::default(),
        }
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, LocalState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds a timeline entry and appends it to `events.log`.
    pub(crate) fn note(&self, kind: &str, reason: &str, message: &str) {
        let now = now();
        let entry = TimelineEntry {
            at: format_rfc3339(now),
            at_since_epoch: now,
            kind: kind.to_owned(),
            reason: reason.to_owned(),
            message: message.to_owned(),
        };
        let line = format!("{} {kind} {reason}: {message}\n", entry.at);
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("events.log"))
        {
            let _ = f.write_all(line.as_bytes());
        }
        let mut s = self.state();
        s.timeline.push_back(entry);
        while s.timeline.len() > TIMELINE {
            s.timeline.pop_front();
        }
    }

    fn record_path(&self) -> PathBuf {
        self.dir.join("record.json")
    }
}

/// Wall-clock time since the epoch.
pub(crate) fn now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

impl Platform for LocalPlatform {
    async fn set_dns(&self, site: &str) -> Result<(), PlatformError> {
        let changed = {
            let mut s = self.state();
            let changed = s.dns.as_deref() != Some(site);
            if changed {
                s.dns = Some(site.to_owned());
                s.dns_changed_at = Some(now());
            }
            changed
        };
        if changed {
            self.note(
                "Playground",
                "DnsRecord",
                &format!("the client endpoint now points at {site}"),
            );
        }
        Ok(())
    }

    async fn taint(&self, site: &str, taint: Taint) -> Result<(), PlatformError> {
        let mut s = self.state();
        s.tainted.retain(|t| t != site);
        if taint == Taint::Apply {
            s.tainted.push(site.to_owned());
        }
        Ok(())
    }

    async fn emit(&self, event: &Event) -> Result<(), PlatformError> {
        self.note(
            &format!("{:?}", event.kind()),
            event.reason.as_str(),
            &event.message,
        );
        Ok(())
    }

    async fn write_status(&self, status: &Status) -> Result<(), PlatformError> {
        self.state().status = Some(status.clone());
        Ok(())
    }

    fn publish_active_site(&self, site: Option<&str>, _observed_at: Duration) {
        self.state().active_site = site.map(str::to_owned);
    }

    async fn load_record(&self) -> Result<StoredRecord, PlatformError> {
        let path = self.record_path();
        let record = match std::fs::read(&path) {
            Ok(bytes) => Some(serde_json::from_slice::<Record>(&bytes).map_err(|e| {
                PlatformError::new("load_record", format!("{}: {e}", path.display()))
            })?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                return Err(PlatformError::new(
                    "load_record",
                    format!("{}: {e}", path.display()),
                ));
            }
        };
        self.state().record = record.clone();
        Ok(StoredRecord {
            stamp: record.as_ref().and_then(Record::stamp),
            status: record,
        })
    }

    async fn save_record(&self, record: &Record) -> Result<(), PlatformError> {
        let fail = |e: std::io::Error| PlatformError::new("save_record", e.to_string());
        let json = serde_json::to_vec_pretty(record)
            .map_err(|e| PlatformError::new("save_record", e.to_string()))?;
        let tmp = self.dir.join("record.json.tmp");
        {
            let mut f = std::fs::File::create(&tmp).map_err(fail)?;
            f.write_all(&json).map_err(fail)?;
            f.sync_all().map_err(fail)?;
        }
        std::fs::rename(&tmp, self.record_path()).map_err(fail)?;
        self.state().record = Some(record.clone());
        Ok(())
    }

    async fn annotations(&self) -> Result<AdminAnnotations, PlatformError> {
        let s = self.state();
        Ok(AdminAnnotations {
            planned_failover: s.planned.clone(),
            reclone_site: s.reclone.clone(),
        })
    }

    async fn observe_group(&self) -> Result<GroupObservation, PlatformError> {
        Ok(GroupObservation {
            gates: Default::default(),
            record_epoch: self.state().record.as_ref().map_or(0, |r| r.epoch),
        })
    }

    async fn remove_annotation(&self, annotation: Annotation) -> Result<(), PlatformError> {
        let mut s = self.state();
        match annotation {
            Annotation::PlannedFailover => s.planned = None,
            Annotation::RecloneSite => s.reclone = None,
        }
        Ok(())
    }
}
