//! Prometheus/OpenMetrics export of the engine's metrics under the reference operator's names, labels and types.
//!
//! The [`Exporter`] owns a [`prometheus_client`] registry. After every poll the runner (or a controller) hands it the
//! engine and the poll's [`Decision`]: the decision's typed samples ([`crate::engine::Metric`]) become counter
//! increments and histogram observations under their reference names, and the state gauges follow the status
//! snapshot. The runner adds what only
//! it sees: taint operations and poll latency. [`Exporter::render`] gives the text a `/metrics` endpoint
//! serves; [`Exporter::registry`] gives the registry to mount beside others.
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `bloodraven_poll_latency_seconds` | histogram (0.005 … 10 s) | `site` |
//! | `bloodraven_state_transitions_total` | counter | `site`, `from`, `to` |
//! | `bloodraven_taint_operations_total` | counter | `site`, `action` (`apply`\|`remove`) |
//! | `bloodraven_dns_flips_total` | counter | `site` |
//! | `bloodraven_failovers_total` | counter | `target_site` |
//! | `bloodraven_planned_failovers_total` | counter | `target_site`, `result` |
//! | `bloodraven_planned_failover_duration_seconds` | histogram (1 … 300 s) | `target_site` |
//! | `bloodraven_planned_failover_lag_wait_seconds` | histogram (0.5 … 300 s) | `target_site` |
//! | `bloodraven_split_brain_auto_resolve_total` | counter | `prefer_site` |
//! | `bloodraven_primary_reassert_total` | counter | `site` |
//! | `bloodraven_reclone_operations_total` | counter | `site` |
//! | `bloodraven_auto_clone_operations_total` | counter | `site` (an addition: the reference has none) |
//! | `bloodraven_planned_failovers_deferred_total` | counter | `group`, `reason` |
//! | `bloodraven_keyring_promotions_blocked_total` | counter | `namespace`, `group`, `site`, `outcome` (`skipped`\|`refused`) |
//! | `bloodraven_replication_lag_seconds` | gauge (−1 when NULL) | `namespace`, `group`, `site`, `role` |
//! | `bloodraven_replication_running` | gauge (1/0) | `namespace`, `group`, `site`, `role`, `thread` |
//! | `bloodraven_replication_source_state` | gauge (state-set) | `namespace`, `group`, `site`, `state` |
//! | `bloodraven_site_state` | gauge (state-set) | `namespace`, `group`, `site`, `role`, `state` |
//! | `bloodraven_divergent_transactions` | gauge | `site` |
//!
//! The text is OpenMetrics: a counter's `# TYPE` line names the family without `_total` and its samples carry it,
//! so queries see the same series names as the reference's.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

pub use prometheus_client;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use bloodraven_api::names::metric as name;

use crate::engine::{Decision, Engine, SiteState, Taint};

/// Exports one or more failover groups' metrics.
///
/// ```
/// use bloodraven_operator::engine::{Config, Engine, Role, SiteConfig};
/// use bloodraven_operator::metrics::Exporter;
/// use bloodraven_operator::record::Record;
///
/// let config = Config::new("orders", vec![
///     SiteConfig::new("iad", Role::PrimaryCandidate, "iad.db"),
///     SiteConfig::new("pdx", Role::PrimaryCandidate, "pdx.db"),
/// ]);
/// let mut engine = Engine::new(config, Record::default());
/// let decision = engine.step(std::time::Duration::ZERO, vec![None, None], vec![]);
/// let exporter = Exporter::new();
/// exporter.update("default", &engine, &decision);
/// let text = exporter.render();
/// assert!(text.contains(
///     r#"bloodraven_site_state{namespace="default",group="orders",site="iad",role="primary-candidate",state="unknown"} 1"#
/// ));
/// assert!(text.ends_with("# EOF\n"));
/// ```
#[derive(Debug)]
pub struct Exporter {
    registry: Registry,
    state: Arc<Mutex<State>>,
}

impl Exporter {
    /// An exporter with every metric registered (families without series render only their descriptors).
    pub fn new() -> Exporter {
        let state = Arc::new(Mutex::new(State::default()));
        let mut registry = Registry::default();
        registry.register_collector(Box::new(Snapshot(Arc::clone(&state))));
        Exporter { registry, state }
    }

    /// The registry to mount or encode (it holds one collector reading this exporter's state).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The registry, to register more collectors before serving (the backup controllers' families).
    pub fn registry_mut(&mut self) -> &mut Registry {
        &mut self.registry
    }

    /// The metrics in the OpenMetrics text format, ending with `# EOF`.
    pub fn render(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail, and the collector never returns an error of its own.
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("encoding into a String cannot fail");
        text
    }

    /// Takes one poll of a group in `namespace`: the engine's counter totals and new histogram observations, and
    /// the state gauges from the decision's status.
    pub fn update(&self, namespace: &str, engine: &Engine, decision: &Decision) {
        let group = engine.config().group.clone();
        let mut guard = self.lock();
        let state = &mut *guard;
        for sample in &decision.metrics {
            let labels = sample.labels(namespace, &group);
            match sample.observation() {
                None => state.inc(sample.name(), labels),
                Some(value) => state.observe(sample.name(), labels, value),
            }
        }
        let active = decision.status.active_site.as_deref();
        for (config, site) in engine.config().sites.iter().zip(&decision.status.sites) {
            let role = config.role.to_string();
            let base = [
                ("namespace", namespace.to_owned()),
                ("group", group.clone()),
                ("site", site.name.clone()),
            ];
            let with = |extra: &[(&'static str, &str)]| -> Labels {
                let mut l = base
                    .iter()
                    .map(|(k, v)| (*k, v.clone()))
                    .collect::<Labels>();
                l.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
                l
            };
            for s in [
                SiteState::Writable,
                SiteState::ReadOnly,
                SiteState::Unreachable,
                SiteState::Unknown,
            ] {
                let one = i64::from(u8::from(site.state == s));
                state.set_gauge(
                    name::SITE_STATE,
                    with(&[("role", &role), ("state", &s.to_string())]),
                    one,
                );
            }
            let divergent = i64::try_from(site.divergent_count).unwrap_or(i64::MAX);
            state.set_gauge(
                name::DIVERGENT_TRANSACTIONS,
                vec![("site", site.name.clone())],
                divergent,
            );
            let convergence = site.source_convergence_state.to_ascii_lowercase();
            if !convergence.is_empty() {
                for s in ["converged", "pending", "blocked"] {
                    let one = i64::from(u8::from(convergence == s));
                    state.set_gauge(name::REPLICATION_SOURCE_STATE, with(&[("state", s)]), one);
                }
            }
            let lag_labels = with(&[("role", &role)]);
            let running = |thread: &'static str| with(&[("role", &role), ("thread", thread)]);
            let replica = engine
                .config()
                .index(&site.name)
                .and_then(|i| engine.sites[i].probe.as_ref())
                .and_then(|p| p.replica.as_ref());
            match replica {
                // A follower (or a site still carrying a channel): lag and thread health.
                Some(r) if active != Some(site.name.as_str()) => {
                    let lag = r
                        .seconds_behind
                        .map_or(-1, |s| i64::try_from(s).unwrap_or(i64::MAX));
                    state.set_gauge(name::REPLICATION_LAG_SECONDS, lag_labels, lag);
                    state.set_gauge(
                        name::REPLICATION_RUNNING,
                        running("io"),
                        i64::from(u8::from(r.io_running)),
                    );
                    state.set_gauge(
                        name::REPLICATION_RUNNING,
                        running("sql"),
                        i64::from(u8::from(r.sql_running)),
                    );
                }
                // Unreachable: keep the last values (the reference only updates on a successful poll).
                _ if site.state == SiteState::Unreachable => {}
                // The active primary or a site without a channel: no follower series.
                _ => {
                    state.remove_gauge(name::REPLICATION_LAG_SECONDS, &lag_labels);
                    state.remove_gauge(name::REPLICATION_RUNNING, &running("io"));
                    state.remove_gauge(name::REPLICATION_RUNNING, &running("sql"));
                }
            }
        }
    }

    /// Counts a node-taint operation on `site` (`action="apply"` or `"remove"`, as the reference labels them).
    pub fn taint(&self, site: &str, taint: Taint) {
        self.lock().inc(
            name::TAINT_OPERATIONS_TOTAL,
            vec![("site", site.to_owned()), ("action", taint.to_string())],
        );
    }

    /// Observes how long one poll (probe) of `site` took.
    pub fn poll_latency(&self, site: &str, latency: Duration) {
        self.lock().observe(
            name::POLL_LATENCY_SECONDS,
            vec![("site", site.to_owned())],
            latency,
        );
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state holds plain numbers: a panic elsewhere cannot leave it half-updated in a harmful way.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Default for Exporter {
    fn default() -> Self {
        Exporter::new()
    }
}

/// Label pairs in the order they render.
type Labels = Vec<(&'static str, String)>;

/// Current values, sorted so that every render lists series in the same order.
#[derive(Debug, Default)]
struct State {
    counters: BTreeMap<&'static str, BTreeMap<Labels, u64>>,
    gauges: BTreeMap<&'static str, BTreeMap<Labels, i64>>,
    histograms: BTreeMap<&'static str, BTreeMap<Labels, Histogram>>,
}

impl State {
    fn inc(&mut self, metric: &'static str, labels: Labels) {
        *self
            .counters
            .entry(metric)
            .or_default()
            .entry(labels)
            .or_default() += 1;
    }

    fn observe(&mut self, metric: &'static str, labels: Labels, value: Duration) {
        let buckets = HISTOGRAMS
            .iter()
            .find(|h| h.name == metric)
            .map_or(DEFAULT_BUCKETS, |h| h.buckets);
        self.histograms
            .entry(metric)
            .or_default()
            .entry(labels)
            .or_insert_with(|| Histogram::new(buckets.iter().copied()))
            .observe(value.as_secs_f64());
    }

    fn set_gauge(&mut self, metric: &'static str, labels: Labels, value: i64) {
        self.gauges.entry(metric).or_default().insert(labels, value);
    }

    fn remove_gauge(&mut self, metric: &'static str, labels: &Labels) {
        if let Some(series) = self.gauges.get_mut(metric) {
            series.remove(labels);
        }
    }
}

/// The collector registered in the exporter's registry: encodes [`State`] at scrape time.
#[derive(Debug)]
struct Snapshot(Arc<Mutex<State>>);

impl Collector for Snapshot {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let state = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        for spec in COUNTERS {
            let family = spec.name.strip_suffix("_total").unwrap_or(spec.name);
            let mut metric =
                encoder.encode_descriptor(family, spec.help, None, MetricType::Counter)?;
            for (labels, value) in state.counters.get(spec.name).into_iter().flatten() {
                metric
                    .encode_family(labels)?
                    .encode_counter::<NoLabelSet, _, u64>(value, None)?;
            }
        }
        for spec in GAUGES {
            let mut metric =
                encoder.encode_descriptor(spec.name, spec.help, None, MetricType::Gauge)?;
            for (labels, value) in state.gauges.get(spec.name).into_iter().flatten() {
                metric.encode_family(labels)?.encode_gauge(value)?;
            }
        }
        for spec in HISTOGRAMS {
            let mut metric =
                encoder.encode_descriptor(spec.name, spec.help, None, MetricType::Histogram)?;
            for (labels, histogram) in state.histograms.get(spec.name).into_iter().flatten() {
                histogram.encode(metric.encode_family(labels)?)?;
            }
        }
        Ok(())
    }
}

struct Spec {
    name: &'static str,
    help: &'static str,
}

struct HistogramSpec {
    name: &'static str,
    help: &'static str,
    buckets: &'static [f64],
}

const COUNTERS: &[Spec] = &[
    Spec {
        name: name::STATE_TRANSITIONS_TOTAL,
        help: "Number of state transitions per site.",
    },
    Spec {
        name: name::TAINT_OPERATIONS_TOTAL,
        help: "Number of taint/untaint operations.",
    },
    Spec {
        name: name::DNS_FLIPS_TOTAL,
        help: "Number of DNS flips per target site.",
    },
    Spec {
        name: name::FAILOVERS_TOTAL,
        help: "Total number of automatic failovers executed, counted after a successful promotion.",
    },
    Spec {
        name: name::PLANNED_FAILOVERS_TOTAL,
        help: "Total number of admin-triggered planned failovers, by result (success|rejected|failed_timeout|failed_other).",
    },
    Spec {
        name: name::SPLIT_BRAIN_AUTO_RESOLVE_TOTAL,
        help: "Total losing-site fences while auto-resolving split brain by site priorities; the label is the winning site.",
    },
    Spec {
        name: name::PRIMARY_REASSERT_TOTAL,
        help: "Total times writability was restored on the promoted primary after it was found fenced with no writable site.",
    },
    Spec {
        name: name::RECLONE_OPERATIONS_TOTAL,
        help: "Total number of admin-triggered reclone operations per site.",
    },
    Spec {
        name: name::AUTO_CLONE_OPERATIONS_TOTAL,
        help: "Total number of automatic clones of empty sites from the active primary.",
    },
    Spec {
        name: name::PLANNED_FAILOVERS_DEFERRED_TOTAL,
        help: "Total number of planned failovers deferred instead of started, by reason.",
    },
    Spec {
        name: name::KEYRING_PROMOTIONS_BLOCKED_TOTAL,
        help: "Total polls in which a promotion candidate mid keyring rotation was skipped or every candidate was refused.",
    },
];

const GAUGES: &[Spec] = &[
    Spec {
        name: name::REPLICATION_LAG_SECONDS,
        help: "Replication lag in seconds on a follower site; -1 if lag is NULL (not replicating).",
    },
    Spec {
        name: name::REPLICATION_RUNNING,
        help: "Whether a replication thread (io or sql) is running (1) or not (0).",
    },
    Spec {
        name: name::REPLICATION_SOURCE_STATE,
        help: "Direct-primary replication source convergence as a state-set.",
    },
    Spec {
        name: name::SITE_STATE,
        help: "Current site state as a state-set (1 for the current state, 0 for the others).",
    },
    Spec {
        name: name::DIVERGENT_TRANSACTIONS,
        help: "Number of divergent transactions on a site pending recovery; 0 when healthy.",
    },
];

/// The client libraries' default buckets (seconds), as the reference's poll-latency histogram uses.
const DEFAULT_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

const HISTOGRAMS: &[HistogramSpec] = &[
    HistogramSpec {
        name: name::POLL_LATENCY_SECONDS,
        help: "Latency of MySQL poll operations.",
        buckets: DEFAULT_BUCKETS,
    },
    HistogramSpec {
        name: name::PLANNED_FAILOVER_DURATION_SECONDS,
        help: "Wall-clock duration of a planned failover from acceptance to its terminal phase.",
        buckets: &[1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0],
    },
    HistogramSpec {
        name: name::PLANNED_FAILOVER_LAG_WAIT_SECONDS,
        help: "Time spent waiting for the target's GTID set to cover the fenced source's during a planned failover.",
        buckets: &[0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0],
    },
];
