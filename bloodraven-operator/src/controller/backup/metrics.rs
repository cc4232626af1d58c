//! The `bloodraven_backup_*` families (reference-api §12), per `group` and `profile`: backup runs, durations, last
//! success / attempt / size, and the five verification families; and the three `bloodraven_restore_*` families per
//! `namespace`, `group`, `restore_kind` and `target_site`; and the four encryption data-plane families the Jobs'
//! `BLOODRAVEN_ENCRYPT_METRICS` lines feed ([`BackupMetrics::encrypt_stages`]). One process-wide set, which the `bloodraven`
//! binary registers in its exporter ([`register`]) and the backup and verification controllers record into.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use bloodraven_api::names::metric as name;

use crate::jobs::result::EncryptMetrics;

type Labels = Vec<(&'static str, String)>;

/// Backup durations: 15 s … 8 h.
const BACKUP_BUCKETS: &[f64] = &[
    15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0,
];

/// Encrypt and decrypt stage durations: 1 s … 1 h (the Go buckets).
const CRYPT_BUCKETS: &[f64] = &[
    1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
];

#[derive(Default)]
struct State {
    counters: BTreeMap<&'static str, BTreeMap<Labels, u64>>,
    gauges: BTreeMap<&'static str, BTreeMap<Labels, i64>>,
    histograms: BTreeMap<&'static str, BTreeMap<Labels, Histogram>>,
}

/// The process-wide backup metrics.
#[derive(Clone, Default)]
pub struct BackupMetrics(Arc<Mutex<State>>);

impl fmt::Debug for BackupMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BackupMetrics")
    }
}

/// The process's backup metrics.
pub fn global() -> &'static BackupMetrics {
    static METRICS: OnceLock<BackupMetrics> = OnceLock::new();
    METRICS.get_or_init(BackupMetrics::default)
}

/// Registers the process's backup metrics in `registry` (once per registry).
pub fn register(registry: &mut Registry) {
    registry.register_collector(Box::new(global().clone()));
}

fn labels(group: &str, profile: &str) -> Labels {
    vec![("group", group.to_owned()), ("profile", profile.to_owned())]
}

impl BackupMetrics {
    fn with(&self, f: impl FnOnce(&mut State)) {
        f(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner));
    }

    /// A backup reached a final phase.
    pub fn backup_finished(
        &self,
        group: &str,
        profile: &str,
        succeeded: bool,
        now: i64,
        duration_seconds: Option<f64>,
        size_bytes: Option<u64>,
    ) {
        self.with(|s| {
            let mut l = labels(group, profile);
            s.gauges
                .entry(name::BACKUP_LAST_ATTEMPT_TIMESTAMP_SECONDS)
                .or_default()
                .insert(l.clone(), now);
            if succeeded {
                s.gauges
                    .entry(name::BACKUP_LAST_SUCCESS_TIMESTAMP_SECONDS)
                    .or_default()
                    .insert(l.clone(), now);
                if let Some(b) = size_bytes {
                    s.gauges
                        .entry(name::BACKUP_LAST_SIZE_BYTES)
                        .or_default()
                        .insert(l.clone(), i64::try_from(b).unwrap_or(i64::MAX));
                }
                if let Some(d) = duration_seconds {
                    s.histograms
                        .entry(name::BACKUP_DURATION_SECONDS)
                        .or_default()
                        .entry(l.clone())
                        .or_insert_with(|| Histogram::new(BACKUP_BUCKETS.iter().copied()))
                        .observe(d);
                }
            }
            l.push((
                "result",
                if succeeded { "success" } else { "failure" }.into(),
            ));
            *s.counters
                .entry(name::BACKUP_RUNS_TOTAL)
                .or_default()
                .entry(l)
                .or_default() += 1;
        });
    }

    /// A standby's restore drill passed at `now` (`bloodraven_dr_restorable_timestamp_seconds`).
    pub fn dr_restorable(&self, namespace: &str, standby: &str, now: i64) {
        self.with(|s| {
            s.gauges
                .entry(name::DR_RESTORABLE_TIMESTAMP_SECONDS)
                .or_default()
                .insert(
                    vec![
                        ("namespace", namespace.to_owned()),
                        ("standby", standby.to_owned()),
                    ],
                    now,
                );
        });
    }

    /// A verification reached a final phase.
    pub fn verification_finished(
        &self,
        group: &str,
        profile: &str,
        succeeded: bool,
        now: i64,
        duration_seconds: Option<f64>,
        replay_lag_seconds: Option<i64>,
    ) {
        self.with(|s| {
            let mut l = labels(group, profile);
            s.gauges
                .entry(name::BACKUP_VERIFICATION_LAST_ATTEMPT_TIMESTAMP_SECONDS)
                .or_default()
                .insert(l.clone(), now);
            if succeeded {
                s.gauges
                    .entry(name::BACKUP_VERIFIED_TIMESTAMP_SECONDS)
                    .or_default()
                    .insert(l.clone(), now);
                if let Some(lag) = replay_lag_seconds {
                    s.gauges
                        .entry(name::BACKUP_VERIFICATION_REPLAY_LAG_SECONDS)
                        .or_default()
                        .insert(l.clone(), lag);
                }
            }
            if let Some(d) = duration_seconds {
                s.histograms
                    .entry(name::BACKUP_VERIFICATION_DURATION_SECONDS)
                    .or_default()
                    .entry(l.clone())
                    .or_insert_with(|| Histogram::new(BACKUP_BUCKETS.iter().copied()))
                    .observe(d);
            }
            l.push((
                "result",
                if succeeded { "success" } else { "failure" }.into(),
            ));
            *s.counters
                .entry(name::BACKUP_VERIFICATION_RUNS_TOTAL)
                .or_default()
                .entry(l)
                .or_default() += 1;
        });
    }
}

impl BackupMetrics {
    /// Records the `BLOODRAVEN_ENCRYPT_METRICS` lines in `text` (a finished Job's termination messages) for
    /// `group` and `profile`: a successful `encrypt` stage observes `bloodraven_backup_encrypt_duration_seconds`
    /// and adds its plaintext bytes to `bloodraven_backup_encrypt_bytes_total`, a successful `decrypt` stage
    /// observes `bloodraven_backup_decrypt_duration_seconds`, and a failed stage counts in
    /// `bloodraven_backup_encrypt_failures_total{stage}`. Returns how many lines were recorded.
    pub fn encrypt_stages(&self, group: &str, profile: &str, text: &str) -> usize {
        let stages = EncryptMetrics::parse_all(text);
        self.with(|s| {
            for m in &stages {
                let l = labels(group, profile);
                if !m.succeeded() {
                    let mut l = l;
                    l.push(("stage", m.stage.clone()));
                    *s.counters
                        .entry(name::BACKUP_ENCRYPT_FAILURES_TOTAL)
                        .or_default()
                        .entry(l)
                        .or_default() += 1;
                    continue;
                }
                let histogram = match m.stage.as_str() {
                    "encrypt" => {
                        *s.counters
                            .entry(name::BACKUP_ENCRYPT_BYTES_TOTAL)
                            .or_default()
                            .entry(l.clone())
                            .or_default() += m.bytes;
                        name::BACKUP_ENCRYPT_DURATION_SECONDS
                    }
                    "decrypt" => name::BACKUP_DECRYPT_DURATION_SECONDS,
                    _ => continue,
                };
                s.histograms
                    .entry(histogram)
                    .or_default()
                    .entry(l)
                    .or_insert_with(|| Histogram::new(CRYPT_BUCKETS.iter().copied()))
                    .observe(m.duration_seconds);
            }
        });
        stages.len()
    }

    /// A restore (`restore_kind` `init_from_backup` or `in_place`) Succeeded: its duration, the time, and the
    /// source's size when known (the size family is dropped for the labels when it is not).
    #[allow(clippy::too_many_arguments)]
    pub fn restore_succeeded(
        &self,
        namespace: &str,
        group: &str,
        kind: &str,
        target_site: &str,
        now: i64,
        duration_seconds: f64,
        source_size_bytes: Option<u64>,
    ) {
        self.with(|s| {
            let l: Labels = vec![
                ("namespace", namespace.to_owned()),
                ("group", group.to_owned()),
                ("restore_kind", kind.to_owned()),
                ("target_site", target_site.to_owned()),
            ];
            s.histograms
                .entry(name::RESTORE_DURATION_SECONDS)
                .or_default()
                .entry(l.clone())
                .or_insert_with(|| Histogram::new(BACKUP_BUCKETS.iter().copied()))
                .observe(duration_seconds);
            s.gauges
                .entry(name::RESTORE_LAST_SUCCESS_TIMESTAMP_SECONDS)
                .or_default()
                .insert(l.clone(), now);
            let sizes = s
                .gauges
                .entry(name::RESTORE_LAST_SOURCE_SIZE_BYTES)
                .or_default();
            match source_size_bytes.filter(|b| *b > 0) {
                Some(b) => {
                    sizes.insert(l, i64::try_from(b).unwrap_or(i64::MAX));
                }
                None => {
                    sizes.remove(&l);
                }
            }
        });
    }
}

const COUNTERS: &[(&str, &str)] = &[
    (
        name::BACKUP_RUNS_TOTAL,
        "Backups that reached a final phase, by result.",
    ),
    (
        name::BACKUP_VERIFICATION_RUNS_TOTAL,
        "Verifications that reached a final phase, by result.",
    ),
    (
        name::BACKUP_ENCRYPT_BYTES_TOTAL,
        "Plaintext bytes processed by the encrypt-upload data plane.",
    ),
    (
        name::BACKUP_ENCRYPT_FAILURES_TOTAL,
        "Failures in the encrypt/decrypt data plane, by stage.",
    ),
];

const GAUGES: &[(&str, &str)] = &[
    (
        name::BACKUP_LAST_SUCCESS_TIMESTAMP_SECONDS,
        "Unix time of the last Succeeded backup.",
    ),
    (
        name::BACKUP_LAST_ATTEMPT_TIMESTAMP_SECONDS,
        "Unix time of the last backup that reached a final phase.",
    ),
    (
        name::BACKUP_LAST_SIZE_BYTES,
        "Size of the last Succeeded backup.",
    ),
    (
        name::BACKUP_VERIFIED_TIMESTAMP_SECONDS,
        "Unix time of the last Succeeded verification.",
    ),
    (
        name::BACKUP_VERIFICATION_LAST_ATTEMPT_TIMESTAMP_SECONDS,
        "Unix time of the last verification that reached a final phase.",
    ),
    (
        name::BACKUP_VERIFICATION_REPLAY_LAG_SECONDS,
        "completionTime minus replayedThroughBinlog.timestamp of the last Succeeded verification.",
    ),
    (
        name::RESTORE_LAST_SUCCESS_TIMESTAMP_SECONDS,
        "Unix time of the last Succeeded restore.",
    ),
    (
        name::RESTORE_LAST_SOURCE_SIZE_BYTES,
        "Size of the source artifact of the last Succeeded restore (absent when unknown).",
    ),
    (
        name::DR_RESTORABLE_TIMESTAMP_SECONDS,
        "Unix time of the last passing restore drill of a MysqlStandbyCluster's discovered dump and binlog window.",
    ),
];

const HISTOGRAMS: &[(&str, &str)] = &[
    (
        name::BACKUP_DURATION_SECONDS,
        "Duration of Succeeded backups.",
    ),
    (
        name::BACKUP_VERIFICATION_DURATION_SECONDS,
        "Duration of verifications from start to completion.",
    ),
    (
        name::RESTORE_DURATION_SECONDS,
        "Duration of Succeeded restores from Job creation to completion.",
    ),
    (
        name::BACKUP_ENCRYPT_DURATION_SECONDS,
        "Wall-clock duration of the encrypt-upload data plane.",
    ),
    (
        name::BACKUP_DECRYPT_DURATION_SECONDS,
        "Wall-clock duration of the decrypt-download data plane.",
    ),
];

impl Collector for BackupMetrics {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let state = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        for (metric, help) in COUNTERS {
            let family = metric.strip_suffix("_total").unwrap_or(metric);
            let mut m = encoder.encode_descriptor(family, help, None, MetricType::Counter)?;
            for (l, v) in state.counters.get(metric).into_iter().flatten() {
                m.encode_family(l)?
                    .encode_counter::<NoLabelSet, _, u64>(v, None)?;
            }
        }
        for (metric, help) in GAUGES {
            let mut m = encoder.encode_descriptor(metric, help, None, MetricType::Gauge)?;
            for (l, v) in state.gauges.get(metric).into_iter().flatten() {
                m.encode_family(l)?.encode_gauge(v)?;
            }
        }
        for (metric, help) in HISTOGRAMS {
            let mut m = encoder.encode_descriptor(metric, help, None, MetricType::Histogram)?;
            for (l, h) in state.histograms.get(metric).into_iter().flatten() {
                h.encode(m.encode_family(l)?)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_render_with_group_and_profile() {
        let m = BackupMetrics::default();
        m.backup_finished(
            "orders",
            "nightly",
            true,
            1_700_000_000,
            Some(20.0),
            Some(4096),
        );
        m.verification_finished("orders", "nightly", false, 1_700_000_100, Some(3.0), None);
        m.restore_succeeded(
            "dr",
            "orders",
            "init_from_backup",
            "iad",
            1_700_000_200,
            42.0,
            None,
        );
        m.dr_restorable("dr", "orders-dr", 1_700_000_200);
        let mut registry = Registry::default();
        registry.register_collector(Box::new(m));
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        for line in [
            r#"bloodraven_backup_runs_total{group="orders",profile="nightly",result="success"} 1"#,
            r#"bloodraven_backup_last_size_bytes{group="orders",profile="nightly"} 4096"#,
            r#"bloodraven_backup_verification_runs_total{group="orders",profile="nightly",result="failure"} 1"#,
            r#"bloodraven_backup_verification_last_attempt_timestamp_seconds{group="orders",profile="nightly"} 1700000100"#,
            r#"bloodraven_backup_duration_seconds_count{group="orders",profile="nightly"} 1"#,
            r#"bloodraven_restore_last_success_timestamp_seconds{namespace="dr",group="orders",restore_kind="init_from_backup",target_site="iad"} 1700000200"#,
            r#"bloodraven_restore_duration_seconds_count{namespace="dr",group="orders",restore_kind="init_from_backup",target_site="iad"} 1"#,
            r#"bloodraven_dr_restorable_timestamp_seconds{namespace="dr",standby="orders-dr"} 1700000200"#,
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
        assert!(
            !text.contains("bloodraven_backup_verified_timestamp_seconds{"),
            "{text}"
        );
        assert!(
            !text.contains("bloodraven_restore_last_source_size_bytes{"),
            "an unknown size is not exported: {text}"
        );
    }
}
