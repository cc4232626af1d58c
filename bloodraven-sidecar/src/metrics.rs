//! `/metrics`: the archiver gauges under the reference's names (reference-api.md §12) and the sidecar's own
//! fence counters, in the OpenMetrics text format.
//!
//! Values are copied from the archiver's and the monitor's snapshots at scrape time, so nothing else in the
//! sidecar touches the registry.
//!
//! | metric | labels | meaning |
//! |---|---|---|
//! | `bloodraven_archiver_upload_failures` | `namespace`, `group`, `site` | failed uploads, manifest updates and scans |
//! | `bloodraven_archiver_last_upload_timestamp_seconds` | same | Unix time of the last archived file (0: none) |
//! | `bloodraven_archiver_backlog_files` | same | sealed files not yet archived |
//! | `bloodraven_archiver_files_archived` | same | files archived by this process |
//! | `bloodraven_sidecar_self_fences` | `namespace`, `group`, `site` | self-fences that landed |
//! | `bloodraven_http_requests_total` | `server="sidecar"`, `handler`, `method`, `status` (class) | requests served |
//! | `bloodraven_http_request_duration_seconds` | `server="sidecar"`, `handler`, `method` | request durations |

use std::sync::atomic::AtomicU64;

use bloodraven_binlog::archive::ArchiverStatus;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::config::Topology;
use crate::fencing::FenceStats;

type Labels = Vec<(&'static str, String)>;

/// The registry and its families.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    labels: Labels,
    upload_failures: Family<Labels, Gauge>,
    last_upload: Family<Labels, Gauge<f64, AtomicU64>>,
    backlog: Family<Labels, Gauge>,
    archived: Family<Labels, Gauge>,
    fences: Family<Labels, Gauge>,
    http_requests: Family<Labels, Counter>,
    http_duration: Family<Labels, Histogram, fn() -> Histogram>,
}

fn duration_histogram() -> Histogram {
    // 1 ms … ~16 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

impl Metrics {
    /// A registry labelled with this sidecar's namespace, group and site (empty when unknown).
    pub fn new(topology: Option<&Topology>) -> Metrics {
        let (ns, group, site) = topology.map_or_else(Default::default, |t| {
            (t.namespace.clone(), t.group.clone(), t.site.clone())
        });
        let mut m = Metrics {
            registry: Registry::default(),
            labels: vec![("namespace", ns), ("group", group), ("site", site)],
            upload_failures: Family::default(),
            last_upload: Family::default(),
            backlog: Family::default(),
            archived: Family::default(),
            fences: Family::default(),
            http_requests: Family::default(),
            http_duration: Family::new_with_constructor(duration_histogram as fn() -> Histogram),
        };
        m.registry.register(
            "bloodraven_archiver_upload_failures",
            "Failed binlog uploads, manifest updates and scans of the sidecar archiver",
            m.upload_failures.clone(),
        );
        m.registry.register(
            "bloodraven_archiver_last_upload_timestamp_seconds",
            "Unix time of the last binlog the sidecar archived",
            m.last_upload.clone(),
        );
        m.registry.register(
            "bloodraven_archiver_backlog_files",
            "Sealed binlogs not yet archived",
            m.backlog.clone(),
        );
        m.registry.register(
            "bloodraven_archiver_files_archived",
            "Binlogs archived by this sidecar process",
            m.archived.clone(),
        );
        m.registry.register(
            "bloodraven_sidecar_self_fences",
            "Self-fences of the local server by this sidecar process",
            m.fences.clone(),
        );
        m.registry.register(
            "bloodraven_http_requests",
            "HTTP requests served",
            m.http_requests.clone(),
        );
        m.registry.register(
            "bloodraven_http_request_duration_seconds",
            "HTTP request durations",
            m.http_duration.clone(),
        );
        m
    }

    /// Counts one request of `handler` (the route) answered with `status` after `seconds`.
    pub fn observe_http(&self, handler: &str, method: &str, status: u16, seconds: f64) {
        let base = || {
            vec![
                ("server", "sidecar".to_owned()),
                ("handler", handler.to_owned()),
                ("method", method.to_owned()),
            ]
        };
        let mut with_status = base();
        with_status.push(("status", format!("{}xx", status / 100)));
        self.http_requests.get_or_create(&with_status).inc();
        self.http_duration.get_or_create(&base()).observe(seconds);
    }

    /// The text exposition of the current snapshots.
    pub fn render(
        &self,
        archiver: Option<&ArchiverStatus>,
        fences: Option<&FenceStats>,
    ) -> Result<String, std::fmt::Error> {
        let gauge = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        if let Some(st) = archiver {
            self.upload_failures
                .get_or_create(&self.labels)
                .set(gauge(st.upload_failures));
            self.backlog
                .get_or_create(&self.labels)
                .set(gauge(st.backlog_files));
            self.archived
                .get_or_create(&self.labels)
                .set(gauge(st.files_archived));
            let last = st
                .last_upload_at
                .map_or(0.0, |t| t.timestamp_millis() as f64 / 1000.0);
            self.last_upload.get_or_create(&self.labels).set(last);
        }
        if let Some(f) = fences {
            self.fences.get_or_create(&self.labels).set(gauge(f.fences));
        }
        let mut out = String::new();
        encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archiver_gauges_carry_the_reference_names_and_labels() {
        let t = Topology {
            site: "iad".into(),
            namespace: "db".into(),
            group: "orders".into(),
        };
        let m = Metrics::new(Some(&t));
        let mut st = ArchiverStatus::default();
        st.upload_failures = 3;
        st.backlog_files = 2;
        let text = m.render(Some(&st), None).unwrap();
        let labels = r#"{namespace="db",group="orders",site="iad"}"#;
        assert!(
            text.contains(&format!("bloodraven_archiver_upload_failures{labels} 3")),
            "{text}"
        );
        assert!(
            text.contains(&format!("bloodraven_archiver_backlog_files{labels} 2")),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "bloodraven_archiver_last_upload_timestamp_seconds{labels} 0"
            )),
            "{text}"
        );
    }
}
