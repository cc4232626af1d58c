//! [`SimPlatform`]: the in-memory platform as the simulated operator sees it, recording every read of the group
//! object in the world so the checker can tell which poll decided each action (authority epoch, guards).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::engine::{Event, Status, Taint};
use crate::platform::{
    AdminAnnotations, Annotation, GroupObservation, InMemoryPlatform, Platform, PlatformError,
    StoredRecord,
};
use crate::record::Record;

use super::site::lock;
use super::world::World;

/// The in-memory platform plus the world's log of group-object reads.
#[derive(Clone, Debug)]
pub(crate) struct SimPlatform {
    pub(crate) inner: InMemoryPlatform,
    pub(crate) world: Arc<Mutex<World>>,
}

impl Platform for SimPlatform {
    async fn set_dns(&self, site: &str) -> Result<(), PlatformError> {
        self.inner.set_dns(site).await
    }

    async fn taint(&self, site: &str, taint: Taint) -> Result<(), PlatformError> {
        self.inner.taint(site, taint).await
    }

    async fn emit(&self, event: &Event) -> Result<(), PlatformError> {
        self.inner.emit(event).await
    }

    async fn write_status(&self, status: &Status) -> Result<(), PlatformError> {
        self.inner.write_status(status).await
    }

    fn publish_active_site(&self, site: Option<&str>, observed_at: Duration) {
        self.inner.publish_active_site(site, observed_at);
    }

    async fn load_record(&self) -> Result<StoredRecord, PlatformError> {
        self.inner.load_record().await
    }

    async fn save_record(&self, record: &Record) -> Result<(), PlatformError> {
        self.inner.save_record(record).await
    }

    async fn annotations(&self) -> Result<AdminAnnotations, PlatformError> {
        self.inner.annotations().await
    }

    async fn observe_group(&self) -> Result<GroupObservation, PlatformError> {
        let o = self.inner.observe_group().await?;
        let planned = self
            .inner
            .state()
            .record
            .as_ref()
            .and_then(|r| r.planned.as_ref())
            .filter(|p| p.phase.in_flight())
            .map(|p| p.source.clone());
        let mut w = lock(&self.world);
        w.seq += 1;
        let seq = w.seq;
        w.group_reads.push((seq, o.gates.clone(), planned));
        Ok(o)
    }

    async fn remove_annotation(&self, annotation: Annotation) -> Result<(), PlatformError> {
        self.inner.remove_annotation(annotation).await
    }
}
