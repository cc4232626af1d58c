//! The archiver poller (reference-failover.md §4.5, reference-formats.md §2.9): every sidecar of a group with
//! `spec.backup.pitr.enabled` is asked for its `GET /archiver/status`; the answers become `status.pitr` and the
//! `bloodraven_archiver_*` gauges.
//!
//! [`summarize`] is the pure part: each site's sidecar owns its own manifest (`manifest-<site>.json`), so the
//! archive the group holds is the sum of what every site reports. A sidecar that does not answer keeps its last
//! answer in the totals (its manifest did not vanish with it) and is named in `status.pitr.message`, as is a
//! sidecar whose archiver reports an error. [`run`] is the loop: only the leader polls, at most 3 s per sidecar, and
//! `status.pitr` is written only when it changed.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::join_all;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::reflector::Store;
use kube::{Client, ResourceExt};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::watch;

use bloodraven_api::failovergroup::MysqlFailoverGroup;
use bloodraven_api::failovergroup::status::PitrStatus;
use bloodraven_api::names::metric as name;

use super::spec::SiteEndpoints;

/// How often the Go operator polls the sidecars, and this one by default.
pub const POLL_INTERVAL: Duration = Duration::from_secs(30);

/// How long one sidecar gets to answer.
const SIDECAR_TIMEOUT: Duration = Duration::from_secs(3);

/// The port every rendered sidecar listens on (`LISTEN_ADDR=:8080`).
const SIDECAR_PORT: u16 = 8080;

/// What a sidecar's `GET /archiver/status` says (the keys this poller reads; others are ignored).
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SidecarArchive {
    /// PITR is on in that sidecar.
    #[serde(default)]
    pub enabled: bool,
    /// The sidecar's server was writable at its last scan (only that one archives).
    #[serde(default)]
    pub primary: bool,
    /// The archiver's last error, absent when its last scan was clean.
    #[serde(default)]
    pub last_error: Option<String>,
    /// Failed uploads, manifest writes and scans since the sidecar started.
    #[serde(default)]
    pub upload_failures: u64,
    /// When it last archived a file.
    #[serde(default)]
    pub last_upload_at: Option<DateTime<Utc>>,
    /// Sealed binlogs not archived yet.
    #[serde(default)]
    pub backlog_files: u64,
    /// Entries in the site's manifest.
    #[serde(default)]
    pub manifest_file_count: u64,
    /// Bytes of those entries.
    #[serde(default)]
    pub manifest_bytes: u64,
    /// Oldest first-event time in the site's manifest.
    #[serde(default)]
    pub oldest_archived_time: Option<DateTime<Utc>>,
    /// Newest last-event time in the site's manifest.
    #[serde(default)]
    pub newest_archived_time: Option<DateTime<Utc>>,
}

/// One site's part of a poll.
#[derive(Clone, Debug, PartialEq)]
pub struct SiteAnswer {
    /// The site.
    pub site: String,
    /// The sidecar's last answer (this poll's, or an earlier one when it did not answer now).
    pub last: Option<SidecarArchive>,
    /// Why this poll got no answer.
    pub error: Option<String>,
}

/// `status.pitr` from the sites' answers, for a group whose `spec.backup.pitr` names `profile`.
pub fn summarize(profile: Option<&str>, answers: &[SiteAnswer]) -> PitrStatus {
    let archives: Vec<&SidecarArchive> = answers
        .iter()
        .filter_map(|a| a.last.as_ref())
        .filter(|a| a.enabled)
        .collect();
    let mut problems: Vec<String> = Vec::new();
    for a in answers {
        if let Some(e) = &a.error {
            problems.push(format!("site {}: sidecar did not answer: {e}", a.site));
        } else if let Some(SidecarArchive { enabled: false, .. }) = &a.last {
            problems.push(format!("site {}: the sidecar has PITR off", a.site));
        }
        if let Some(e) = a.last.as_ref().and_then(|l| l.last_error.as_deref()) {
            problems.push(format!("site {}: {e}", a.site));
        }
    }
    let time = |t: Option<DateTime<Utc>>| t.map(time);
    let answered = !archives.is_empty();
    PitrStatus {
        enabled: Some(true),
        profile_name: profile.map(str::to_owned),
        oldest_archived_time: time(archives.iter().filter_map(|a| a.oldest_archived_time).min()),
        newest_archived_time: time(archives.iter().filter_map(|a| a.newest_archived_time).max()),
        archived_file_count: answered.then(|| {
            let n: u64 = archives.iter().map(|a| a.manifest_file_count).sum();
            i32::try_from(n).unwrap_or(i32::MAX)
        }),
        archived_bytes: answered.then(|| {
            let n: u64 = archives.iter().map(|a| a.manifest_bytes).sum();
            i64::try_from(n).unwrap_or(i64::MAX)
        }),
        last_archived_time: time(archives.iter().filter_map(|a| a.last_upload_at).max()),
        message: (!problems.is_empty()).then(|| problems.join("; ")),
    }
}

/// A sidecar's time as an API time.
fn time(t: DateTime<Utc>) -> Time {
    let nanos = i32::try_from(t.timestamp_subsec_nanos()).unwrap_or(0);
    Time(k8s_openapi::jiff::Timestamp::new(t.timestamp(), nanos).unwrap_or_default())
}

/// The `bloodraven_archiver_*` gauges, per `namespace`, `group` and `site`.
#[derive(Clone, Default)]
pub struct ArchiverGauges(Arc<Mutex<BySite>>);

/// Sidecar answers by `(namespace, group, site)`.
type BySite = BTreeMap<(String, String, String), SidecarArchive>;

impl fmt::Debug for ArchiverGauges {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ArchiverGauges")
    }
}

/// The process's archiver gauges.
pub fn gauges() -> &'static ArchiverGauges {
    static GAUGES: OnceLock<ArchiverGauges> = OnceLock::new();
    GAUGES.get_or_init(ArchiverGauges::default)
}

/// Registers the process's archiver gauges in `registry` (once per registry).
pub fn register(registry: &mut Registry) {
    registry.register_collector(Box::new(gauges().clone()));
}

impl ArchiverGauges {
    /// Sets a group's series from its sites' last answers and drops those of sites that have none.
    pub fn set(&self, namespace: &str, group: &str, answers: &[SiteAnswer]) {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        for a in answers {
            let key = (namespace.to_owned(), group.to_owned(), a.site.clone());
            match &a.last {
                Some(last) if last.enabled => map.insert(key, last.clone()),
                _ => map.remove(&key),
            };
        }
    }

    /// Keeps only the series of the groups in `keep` (`(namespace, group)`).
    pub fn retain(&self, keep: &BTreeSet<(String, String)>) {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        map.retain(|(ns, g, _), _| keep.contains(&(ns.clone(), g.clone())));
    }
}

type Gauge = (
    &'static str,
    &'static str,
    fn(&SidecarArchive) -> Option<i64>,
);

const GAUGES: &[Gauge] = &[
    (
        name::ARCHIVER_UPLOAD_FAILURES,
        "Failed uploads, manifest writes and scans the site's sidecar counted since it started.",
        |a| i64::try_from(a.upload_failures).ok(),
    ),
    (
        name::ARCHIVER_LAST_UPLOAD_TIMESTAMP_SECONDS,
        "When the site's sidecar last archived a binlog (Unix seconds).",
        |a| a.last_upload_at.map(|t| t.timestamp()),
    ),
    (
        name::ARCHIVER_BACKLOG_FILES,
        "Sealed binlogs the site's sidecar has not archived yet.",
        |a| i64::try_from(a.backlog_files).ok(),
    ),
];

impl Collector for ArchiverGauges {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        for (metric, help, value) in GAUGES {
            let mut family = encoder.encode_descriptor(metric, help, None, MetricType::Gauge)?;
            for ((namespace, group, site), archive) in map.iter() {
                let Some(v) = value(archive) else { continue };
                let labels = [
                    ("namespace", namespace.as_str()),
                    ("group", group.as_str()),
                    ("site", site.as_str()),
                ];
                family.encode_family(&labels)?.encode_gauge(&v)?;
            }
        }
        Ok(())
    }
}

/// Polls the sidecars of every group in `groups` with PITR on, every `every`, while this process leads.
/// `endpoints` overrides where a site's sidecar is reached (`--sidecar-endpoint`; by default its internal Service
/// on port 8080).
pub async fn run(
    client: Client,
    groups: Store<MysqlFailoverGroup>,
    endpoints: SiteEndpoints,
    leader: watch::Receiver<bool>,
    every: Duration,
) {
    let http = match reqwest::Client::builder().timeout(SIDECAR_TIMEOUT).build() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot build the HTTP client for the archiver poller; status.pitr stays empty");
            return;
        }
    };
    let mut last = BySite::new();
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if !*leader.borrow() {
            continue;
        }
        let mut polled = BTreeSet::new();
        for group in groups.state() {
            let Some(pitr) = pitr_on(&group) else {
                continue;
            };
            let namespace = group.namespace().unwrap_or_default();
            let name = group.name_any();
            let span = tracing::info_span!("archiver_poll", %namespace, group = %name);
            let answers = poll(&http, &endpoints, &group, &mut last);
            let answers = tracing::Instrument::instrument(answers, span.clone()).await;
            gauges().set(&namespace, &name, &answers);
            let status = summarize(pitr.as_deref(), &answers);
            let current = group.status.as_ref().and_then(|s| s.pitr.as_ref());
            if current != Some(&status) {
                let api: Api<MysqlFailoverGroup> = Api::namespaced(client.clone(), &namespace);
                let patch = json!({ "status": { "pitr": merge_patch(&status) } });
                if let Err(e) = api
                    .patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await
                {
                    span.in_scope(|| tracing::warn!(error = %e, "could not write status.pitr"));
                }
            }
            polled.insert((namespace, name));
        }
        last.retain(|(ns, g, _), _| polled.contains(&(ns.clone(), g.clone())));
        gauges().retain(&polled);
    }
}

/// `status.pitr` as a JSON merge patch: the fields it lacks are sent as `null`, so that a message or a time from an
/// earlier poll does not stay behind.
fn merge_patch(status: &PitrStatus) -> serde_json::Value {
    let mut value = serde_json::to_value(status).unwrap_or_else(|_| json!({}));
    if let Some(fields) = value.as_object_mut() {
        for key in [
            "enabled",
            "profileName",
            "oldestArchivedTime",
            "newestArchivedTime",
            "archivedFileCount",
            "archivedBytes",
            "lastArchivedTime",
            "message",
        ] {
            fields.entry(key).or_insert(serde_json::Value::Null);
        }
    }
    value
}

/// `Some(profile)` when the group archives binlogs.
fn pitr_on(group: &MysqlFailoverGroup) -> Option<Option<String>> {
    let pitr = group.spec.backup.as_ref()?.pitr.as_ref()?;
    pitr.enabled
        .unwrap_or(false)
        .then(|| pitr.profile_name.clone())
}

async fn poll(
    http: &reqwest::Client,
    endpoints: &SiteEndpoints,
    group: &MysqlFailoverGroup,
    last: &mut BySite,
) -> Vec<SiteAnswer> {
    let namespace = group.namespace().unwrap_or_default();
    let name = group.name_any();
    let asks = group.spec.sites.iter().map(|site| {
        let (host, port) = endpoints
            .get(&namespace, &name, &site.name)
            .unwrap_or_else(|| {
                (
                    super::spec::internal_host(&name, &site.name, &namespace),
                    SIDECAR_PORT,
                )
            });
        let url = format!("http://{host}:{port}/archiver/status");
        async move {
            let answer = async {
                let response = http.get(&url).send().await?.error_for_status()?;
                response.bytes().await
            };
            let parsed = match answer.await {
                Ok(body) => serde_json::from_slice::<SidecarArchive>(&body)
                    .map_err(|e| format!("{url}: not an archiver status: {e}")),
                Err(e) => Err(format!("{url}: {e}")),
            };
            (site.name.clone(), parsed)
        }
    });
    let mut answers = Vec::new();
    for (site, result) in join_all(asks).await {
        let key = (namespace.clone(), name.clone(), site.clone());
        let error = match result {
            Ok(archive) => {
                last.insert(key.clone(), archive);
                None
            }
            Err(e) => {
                tracing::debug!(%site, error = %e, "sidecar archiver status unavailable");
                Some(e)
            }
        };
        answers.push(SiteAnswer {
            site,
            last: last.get(&key).cloned(),
            error,
        });
    }
    answers
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Option<DateTime<Utc>> {
        Some(s.parse().unwrap())
    }

    fn archive(files: u64, oldest: &str, newest: &str) -> SidecarArchive {
        SidecarArchive {
            enabled: true,
            manifest_file_count: files,
            manifest_bytes: files * 1000,
            oldest_archived_time: at(oldest),
            newest_archived_time: at(newest),
            last_upload_at: at(newest),
            ..SidecarArchive::default()
        }
    }

    #[test]
    fn the_sidecar_json_parses_with_the_go_keys() {
        let text = r#"{"enabled":true,"primary":true,"lastScanAt":"2026-12-07T10:00:00Z","filesArchived":3,
            "lastError":"upload failed: 503","storageType":"S3","manifestPrefix":"orders/binlogs","site":"iad",
            "uploadFailures":2,"lastUploadAt":"2026-12-07T09:59:00Z","backlogFiles":1,"manifestFileCount":7,
            "manifestBytes":7000,"oldestArchivedTime":"2026-12-06T00:00:00Z","newestArchivedTime":null}"#;
        let a: SidecarArchive = serde_json::from_str(text).unwrap();
        assert_eq!(a.upload_failures, 2);
        assert_eq!(a.backlog_files, 1);
        assert_eq!(a.manifest_file_count, 7);
        assert_eq!(a.last_error.as_deref(), Some("upload failed: 503"));
        assert_eq!(a.newest_archived_time, None);
        let off: SidecarArchive = serde_json::from_str(r#"{"enabled":false}"#).unwrap();
        assert!(!off.enabled);
    }

    #[test]
    fn the_sites_manifests_add_up_and_problems_are_named() {
        let answers = [
            SiteAnswer {
                site: "iad".into(),
                last: Some(archive(5, "2026-12-06T00:00:00Z", "2026-12-07T10:00:00Z")),
                error: None,
            },
            // A former primary whose sidecar stopped answering: its manifest still counts.
            SiteAnswer {
                site: "pdx".into(),
                last: Some(archive(2, "2026-12-05T00:00:00Z", "2026-12-06T00:00:00Z")),
                error: Some("connection refused".into()),
            },
            SiteAnswer {
                site: "fra".into(),
                last: Some(SidecarArchive {
                    last_error: Some("upload failed: 503".into()),
                    ..archive(0, "2026-12-07T00:00:00Z", "2026-12-07T00:00:00Z")
                }),
                error: None,
            },
        ];
        let s = summarize(Some("nightly"), &answers);
        assert_eq!(s.enabled, Some(true));
        assert_eq!(s.profile_name.as_deref(), Some("nightly"));
        assert_eq!(s.archived_file_count, Some(7));
        assert_eq!(s.archived_bytes, Some(7000));
        assert_eq!(s.oldest_archived_time, at("2026-12-05T00:00:00Z").map(time));
        assert_eq!(s.newest_archived_time, at("2026-12-07T10:00:00Z").map(time));
        assert_eq!(s.last_archived_time, at("2026-12-07T10:00:00Z").map(time));
        assert_eq!(
            s.message.as_deref(),
            Some(
                "site pdx: sidecar did not answer: connection refused; site fra: upload failed: 503"
            )
        );
    }

    #[test]
    fn no_answer_at_all_leaves_the_totals_unknown() {
        let answers = [SiteAnswer {
            site: "iad".into(),
            last: None,
            error: Some("timed out".into()),
        }];
        let s = summarize(None, &answers);
        assert_eq!(s.archived_file_count, None);
        assert_eq!(s.archived_bytes, None);
        assert_eq!(
            s.message.as_deref(),
            Some("site iad: sidecar did not answer: timed out")
        );
        let healthy = summarize(
            None,
            &[SiteAnswer {
                site: "iad".into(),
                last: Some(archive(1, "2026-12-07T00:00:00Z", "2026-12-07T00:00:00Z")),
                error: None,
            }],
        );
        assert_eq!(healthy.message, None, "healthy: no message");
    }

    #[test]
    fn the_patch_clears_what_the_new_status_lacks() {
        let healthy = summarize(None, &[]);
        let patch = merge_patch(&healthy);
        assert_eq!(patch["message"], serde_json::Value::Null);
        assert_eq!(patch["profileName"], serde_json::Value::Null);
        assert_eq!(patch["enabled"], true);
        assert_eq!(patch.as_object().unwrap().len(), 8, "{patch}");
        let back: PitrStatus = serde_json::from_value(patch).unwrap();
        assert_eq!(back, healthy);
    }

    #[test]
    fn gauges_render_per_site_and_go_with_their_group() {
        let g = ArchiverGauges::default();
        let answers = [SiteAnswer {
            site: "iad".into(),
            last: Some(SidecarArchive {
                upload_failures: 3,
                backlog_files: 2,
                ..archive(1, "2026-12-07T00:00:00Z", "2026-12-07T00:00:10Z")
            }),
            error: None,
        }];
        g.set("shop", "orders", &answers);
        let mut registry = Registry::default();
        registry.register_collector(Box::new(g.clone()));
        let render = |r: &Registry| {
            let mut text = String::new();
            prometheus_client::encoding::text::encode(&mut text, r).unwrap();
            text
        };
        let text = render(&registry);
        for line in [
            r#"bloodraven_archiver_upload_failures{namespace="shop",group="orders",site="iad"} 3"#,
            r#"bloodraven_archiver_backlog_files{namespace="shop",group="orders",site="iad"} 2"#,
            r#"bloodraven_archiver_last_upload_timestamp_seconds{namespace="shop",group="orders",site="iad"} 1796601610"#,
        ] {
            assert!(text.contains(line), "{line} missing from:\n{text}");
        }
        g.retain(&BTreeSet::new());
        assert!(!render(&registry).contains("site=\"iad\""));
    }
}
