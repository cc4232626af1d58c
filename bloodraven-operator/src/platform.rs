//! The [`Platform`] trait (DNS record, node taints, events, status, durable record, admin annotations) and an
//! in-memory implementation; the Kubernetes one comes with the controllers.

use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::engine::{Event, Gates, Status, Taint};
use crate::record::{FailoverStamp, Record};

/// A failed platform call.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[error("platform {operation} failed: {message}")]
#[non_exhaustive]
pub struct PlatformError {
    /// Which call.
    pub operation: &'static str,
    /// Why.
    pub message: String,
}

impl PlatformError {
    /// A new error for `operation`.
    pub fn new(operation: &'static str, message: impl Into<String>) -> PlatformError {
        PlatformError {
            operation,
            message: message.into(),
        }
    }
}

/// Everything the runner touches besides the database servers.
pub trait Platform: Send + Sync {
    /// Points the group's DNS record at `site`.
    fn set_dns(&self, site: &str) -> impl Future<Output = Result<(), PlatformError>> + Send;
    /// Applies or removes the read-only taint on the nodes of `site`.
    fn taint(
        &self,
        site: &str,
        taint: Taint,
    ) -> impl Future<Output = Result<(), PlatformError>> + Send;
    /// Emits an event on the group object.
    fn emit(&self, event: &Event) -> impl Future<Output = Result<(), PlatformError>> + Send;
    /// Writes the status snapshot.
    fn write_status(
        &self,
        status: &Status,
    ) -> impl Future<Output = Result<(), PlatformError>> + Send;
    /// Publishes the effective active site (what `/active-site` serves to sidecars).
    fn publish_active_site(&self, site: Option<&str>, observed_at: Duration);
    /// Loads the durable record (status copy) and the out-of-band annotation copy `(last-failover, target)`.
    fn load_record(&self) -> impl Future<Output = Result<StoredRecord, PlatformError>> + Send;
    /// Saves the durable record (both copies).
    fn save_record(
        &self,
        record: &Record,
    ) -> impl Future<Output = Result<(), PlatformError>> + Send;
    /// The admin annotations currently on the group.
    fn annotations(&self) -> impl Future<Output = Result<AdminAnnotations, PlatformError>> + Send;
    /// What the runner reads of the group besides the sites, before and again after probing: the guards other
    /// controllers hold and the authority epoch of the persisted record.
    fn observe_group(&self)
    -> impl Future<Output = Result<GroupObservation, PlatformError>> + Send;
    /// Removes a consumed admin annotation.
    fn remove_annotation(
        &self,
        annotation: Annotation,
    ) -> impl Future<Output = Result<(), PlatformError>> + Send;
}

/// The admin annotations the engine consumes ([`Platform::annotations`]).
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct AdminAnnotations {
    /// `bloodraven.shipstream.io/planned-failover`.
    pub planned_failover: Option<String>,
    /// `bloodraven.shipstream.io/reclone-site`.
    pub reclone_site: Option<String>,
}

/// One admin annotation ([`Platform::remove_annotation`]).
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum Annotation {
    /// `bloodraven.shipstream.io/planned-failover`.
    PlannedFailover,
    /// `bloodraven.shipstream.io/reclone-site`.
    RecloneSite,
}

impl Annotation {
    /// The annotation's key.
    pub fn key(self) -> &'static str {
        match self {
            Annotation::PlannedFailover => bloodraven_api::names::annotation::PLANNED_FAILOVER,
            Annotation::RecloneSite => bloodraven_api::names::annotation::RECLONE_SITE,
        }
    }
}

/// One reading of the group object ([`Platform::observe_group`]).
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct GroupObservation {
    /// The guards other controllers hold (in-place restore, ordered update, bootstrap, keyring rotation).
    pub gates: Gates,
    /// [`Record::epoch`] of the persisted record (0 when none was saved yet).
    pub record_epoch: u64,
}

/// Both durable copies of the failover record as loaded on start.
#[derive(Clone, Debug, Default)]
pub struct StoredRecord {
    /// The status copy.
    pub status: Option<Record>,
    /// The annotation copy of the cooldown stamp.
    pub stamp: Option<FailoverStamp>,
}

/// The state held by [`InMemoryPlatform`].
#[derive(Clone, Debug, Default)]
pub struct PlatformState {
    /// DNS target.
    pub dns: Option<String>,
    /// Sites whose nodes carry the read-only taint.
    pub tainted: Vec<String>,
    /// Events emitted, oldest first.
    pub events: Vec<Event>,
    /// Last written status.
    pub status: Option<Status>,
    /// Effective active site published for sidecars, with the observation time.
    pub active_site: (Option<String>, Duration),
    /// Durable record (status copy).
    pub record: Option<Record>,
    /// Out-of-band annotation copy of the cooldown stamp.
    pub stamp: Option<FailoverStamp>,
    /// Planned-failover annotation.
    pub planned: Option<String>,
    /// Reclone annotation.
    pub reclone: Option<String>,
    /// Number of status writes.
    pub status_writes: u64,
    /// Makes every mutating call fail (to test retries).
    pub fail_writes: bool,
    /// The guards other controllers hold, as [`Platform::observe_group`] reports them.
    pub gates: Gates,
    /// Makes the next this many [`Platform::save_record`] calls fail.
    pub fail_saves: u32,
    /// Number of [`Platform::save_record`] calls that failed.
    pub failed_saves: u64,
}

/// An in-memory [`Platform`], shareable between the runner and a test or the simulation.
#[derive(Clone, Debug, Default)]
pub struct InMemoryPlatform {
    state: Arc<Mutex<PlatformState>>,
}

impl InMemoryPlatform {
    /// An empty platform.
    pub fn new() -> InMemoryPlatform {
        InMemoryPlatform::default()
    }

    /// Locks the state for inspection or changes.
    pub fn state(&self) -> MutexGuard<'_, PlatformState> {
        // A poisoned lock only means a panicking test thread; the data is still consistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn write(
        &self,
        operation: &'static str,
        f: impl FnOnce(&mut PlatformState),
    ) -> Result<(), PlatformError> {
        let mut s = self.state();
        if s.fail_writes {
            return Err(PlatformError::new(operation, "injected failure"));
        }
        f(&mut s);
        Ok(())
    }
}

impl Platform for InMemoryPlatform {
    async fn set_dns(&self, site: &str) -> Result<(), PlatformError> {
        self.write("set_dns", |s| s.dns = Some(site.to_owned()))
    }

    async fn taint(&self, site: &str, taint: Taint) -> Result<(), PlatformError> {
        self.write("taint", |s| {
            s.tainted.retain(|t| t != site);
            if taint == Taint::Apply {
                s.tainted.push(site.to_owned());
            }
        })
    }

    async fn emit(&self, event: &Event) -> Result<(), PlatformError> {
        self.write("emit", |s| s.events.push(event.clone()))
    }

    async fn write_status(&self, status: &Status) -> Result<(), PlatformError> {
        self.write("write_status", |s| {
            s.status = Some(status.clone());
            s.status_writes += 1;
        })
    }

    fn publish_active_site(&self, site: Option<&str>, observed_at: Duration) {
        self.state().active_site = (site.map(str::to_owned), observed_at);
    }

    async fn load_record(&self) -> Result<StoredRecord, PlatformError> {
        let s = self.state();
        Ok(StoredRecord {
            status: s.record.clone(),
            stamp: s.stamp.clone(),
        })
    }

    async fn save_record(&self, record: &Record) -> Result<(), PlatformError> {
        {
            let mut s = self.state();
            if s.fail_saves > 0 {
                s.fail_saves -= 1;
                s.failed_saves += 1;
                return Err(PlatformError::new("save_record", "injected failure"));
            }
        }
        self.write("save_record", |s| {
            s.record = Some(record.clone());
            s.stamp = record.stamp();
        })
    }

    async fn annotations(&self) -> Result<AdminAnnotations, PlatformError> {
        let s = self.state();
        Ok(AdminAnnotations {
            planned_failover: s.planned.clone(),
            reclone_site: s.reclone.clone(),
        })
    }

    async fn observe_group(&self) -> Result<GroupObservation, PlatformError> {
        let s = self.state();
        Ok(GroupObservation {
            gates: s.gates.clone(),
            record_epoch: s.record.as_ref().map_or(0, |r| r.epoch),
        })
    }

    async fn remove_annotation(&self, annotation: Annotation) -> Result<(), PlatformError> {
        self.write("remove_annotation", |s| match annotation {
            Annotation::PlannedFailover => s.planned = None,
            Annotation::RecloneSite => s.reclone = None,
        })
    }
}
