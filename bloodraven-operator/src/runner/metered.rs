//! The runner's side of the metrics export: what only the runner sees (probe latency, taint operations) plus the
//! engine's counters and the status gauges after every poll.

use std::sync::Arc;

use super::Runner;
use crate::metrics::Exporter;
use crate::platform::Platform;
use crate::site::Site;

/// An exporter shared by the runners of every group.
#[derive(Clone, Debug)]
pub(super) struct Metered {
    pub(super) exporter: Arc<Exporter>,
}

impl<S: Site + 'static, P: Platform> Runner<S, P> {
    /// Exports this group's metrics (labelled with [`RunnerConfig::namespace`](super::RunnerConfig::namespace))
    /// into `exporter`, updated after every poll.
    #[must_use]
    pub fn with_metrics(mut self, exporter: Arc<Exporter>) -> Self {
        self.metrics = Some(Metered { exporter });
        self
    }
}

#[cfg(feature = "http")]
impl<S: Site + 'static, P: Platform> Runner<S, P> {
    /// Publishes every poll of this group into `topology`, which the auxiliary server answers from.
    #[must_use]
    pub fn with_topology(mut self, topology: crate::http::Topology) -> Self {
        self.topology = Some(topology);
        self
    }
}
