//! Calls to the operator's auxiliary server and to peer sidecars, each under the reference's timeout.
//!
//! Views of the active site carry wall-clock times (`observedAt`, as Go's RFC 3339 with nanoseconds): the
//! operator's answer is stamped when it is received, and a peer relays the stamp it holds. [`ActiveView`]'s
//! `observed_at` is that wall clock as a duration since the Unix epoch, so views from different sidecars compare.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bloodraven_operator::fence::ActiveView;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;

use crate::Error;
use crate::config::Topology;

/// `/healthz`, `/active-site` and peer calls (reference-failover.md §4.4).
const CALL_TIMEOUT: Duration = Duration::from_secs(2);
/// `/pitr-cutoff` (reference-formats.md §2.6).
const CUTOFF_TIMEOUT: Duration = Duration::from_secs(3);

/// An HTTP client for the operator and the peers.
#[derive(Clone, Debug)]
pub struct Client {
    http: reqwest::Client,
}

/// What the operator's `/active-site` said.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum OperatorAnswer {
    /// 200 with this view (site `None`: the operator names no active site).
    View(ActiveView),
    /// Any other status, or no answer.
    Unavailable(String),
}

#[derive(Deserialize)]
struct ActiveSiteBody {
    #[serde(rename = "activeSite", default)]
    active_site: String,
}

#[derive(Deserialize)]
struct RelayedBody {
    #[serde(rename = "activeSite", default)]
    active_site: String,
    #[serde(rename = "observedAt")]
    observed_at: String,
}

#[derive(Deserialize)]
struct CutoffBody {
    #[serde(rename = "cutoffTime", default)]
    cutoff_time: Option<String>,
}

impl Default for Client {
    fn default() -> Self {
        Client::new()
    }
}

impl Client {
    /// A client without proxies (cluster-internal calls).
    pub fn new() -> Client {
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(CALL_TIMEOUT)
            .build()
            .unwrap_or_default();
        Client { http }
    }

    /// `GET http://<operator>/healthz` → 200.
    pub async fn operator_healthy(&self, operator: &str) -> bool {
        self.status_ok(&format!("{}/healthz", base(operator))).await
    }

    /// `GET http://<operator>/active-site?namespace=&group=`, stamped with the time of the answer.
    pub async fn active_site(&self, operator: &str, t: &Topology) -> OperatorAnswer {
        let url = format!(
            "{}/active-site?namespace={}&group={}",
            base(operator),
            t.namespace,
            t.group
        );
        let resp = match self.http.get(&url).send().await {
            Ok(r) => r,
            Err(e) => return OperatorAnswer::Unavailable(e.to_string()),
        };
        if resp.status() != reqwest::StatusCode::OK {
            return OperatorAnswer::Unavailable(format!("status {}", resp.status()));
        }
        match resp.json::<ActiveSiteBody>().await {
            Ok(body) => {
                let site = Some(body.active_site.as_str()).filter(|s| !s.is_empty());
                OperatorAnswer::View(ActiveView::new(site, wall_now()))
            }
            Err(e) => OperatorAnswer::Unavailable(format!("body: {e}")),
        }
    }

    /// `GET http://<peer>/peer/ping` → 200.
    pub async fn peer_ping(&self, peer: &str) -> bool {
        self.status_ok(&format!("{}/peer/ping", base(peer))).await
    }

    /// `GET http://<peer>/peer/active-site`: the peer's cached view, `None` on 204, 404 (an old peer) or error.
    pub async fn peer_view(&self, peer: &str) -> Option<ActiveView> {
        let resp = self
            .http
            .get(format!("{}/peer/active-site", base(peer)))
            .send()
            .await
            .ok()?;
        if resp.status() != reqwest::StatusCode::OK {
            return None;
        }
        let body: RelayedBody = resp.json().await.ok()?;
        let at = DateTime::parse_from_rfc3339(&body.observed_at).ok()?;
        let observed_at = Duration::new(
            u64::try_from(at.timestamp()).ok()?,
            at.timestamp_subsec_nanos(),
        );
        let site = Some(body.active_site.as_str()).filter(|s| !s.is_empty());
        Some(ActiveView::new(site, observed_at))
    }

    /// `GET http://<operator>/pitr-cutoff?namespace=&group=&profile=`: the retention cutoff, `Ok(None)` when the
    /// operator has none.
    pub async fn pitr_cutoff(
        &self,
        operator: &str,
        t: &Topology,
        profile: &str,
    ) -> Result<Option<DateTime<Utc>>, Error> {
        let url = format!(
            "{}/pitr-cutoff?namespace={}&group={}&profile={}",
            base(operator),
            t.namespace,
            t.group,
            profile
        );
        let fail = |what: String| Error::Http {
            url: url.clone(),
            what,
        };
        let resp = self
            .http
            .get(&url)
            .timeout(CUTOFF_TIMEOUT)
            .send()
            .await
            .map_err(|e| fail(e.to_string()))?;
        if resp.status() != reqwest::StatusCode::OK {
            return Err(fail(format!("status {}", resp.status())));
        }
        let body: CutoffBody = resp.json().await.map_err(|e| fail(e.to_string()))?;
        match body.cutoff_time.filter(|t| !t.is_empty()) {
            None => Ok(None),
            Some(t) => DateTime::parse_from_rfc3339(&t)
                .map(|t| Some(t.with_timezone(&Utc)))
                .map_err(|e| fail(format!("cutoffTime {t:?}: {e}"))),
        }
    }

    async fn status_ok(&self, url: &str) -> bool {
        matches!(self.http.get(url).send().await, Ok(r) if r.status() == reqwest::StatusCode::OK)
    }
}

/// The wall clock as a duration since the Unix epoch.
pub fn wall_now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// A view's time as Go's RFC 3339 with nanoseconds.
pub fn rfc3339(observed_at: Duration) -> String {
    let secs = i64::try_from(observed_at.as_secs()).unwrap_or(i64::MAX);
    DateTime::<Utc>::from_timestamp(secs, observed_at.subsec_nanos())
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// `host:port` → `http://host:port`; a value with a scheme is kept.
fn base(addr: &str) -> String {
    let addr = addr.trim_end_matches('/');
    if addr.contains("://") {
        addr.to_owned()
    } else {
        format!("http://{addr}")
    }
}
