//! The write workload: one client inserting rows with increasing ids into `playground.writes` on the site the
//! client endpoint (the DNS record) names, as the application account, which `read_only` binds. Each row whose
//! INSERT returned OK is an acknowledged write; the scenarios compare them with what the servers hold.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use mysql_async::prelude::Queryable as _;

use crate::playground::platform::{LocalPlatform, now};

/// The application account (no SUPER: `read_only` refuses its writes).
pub(crate) const APP_USER: &str = "app";
/// Its password (a local demonstration account).
pub(crate) const APP_PASSWORD: &str = "playground";

/// What the workload saw.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub(crate) struct WriteStats {
    /// Acknowledged ids with the site that acknowledged them.
    #[serde(skip)]
    pub(crate) acked: Vec<(u64, usize, Duration)>,
    pub(crate) acknowledged: u64,
    pub(crate) failed_attempts: u64,
    pub(crate) last_site: Option<String>,
}

/// The running workload.
#[derive(Clone, Debug)]
pub(crate) struct Workload {
    pub(crate) stats: Arc<Mutex<WriteStats>>,
    paused: Arc<AtomicBool>,
}

impl Workload {
    /// Starts writing every `pause`; `ports[i]` is the direct port of site `names[i]`.
    pub(crate) fn start(
        platform: LocalPlatform,
        names: Vec<String>,
        ports: Vec<u16>,
        pause: Duration,
    ) -> (Workload, tokio::task::JoinHandle<()>) {
        let workload = Workload {
            stats: Arc::default(),
            paused: Arc::default(),
        };
        let w = workload.clone();
        let task = tokio::spawn(async move {
            let mut conn: Option<(usize, mysql_async::Conn)> = None;
            let mut next = 1u64;
            loop {
                tokio::time::sleep(pause).await;
                if w.paused.load(Ordering::Acquire) {
                    continue;
                }
                let dns = platform.state().dns.clone();
                let Some(i) = dns.and_then(|d| names.iter().position(|n| *n == d)) else {
                    continue;
                };
                if conn.as_ref().is_none_or(|(at, _)| *at != i) {
                    let opts = mysql_async::OptsBuilder::default()
                        .ip_or_hostname("127.0.0.1")
                        .tcp_port(ports[i])
                        .user(Some(APP_USER))
                        .pass(Some(APP_PASSWORD))
                        .prefer_socket(false);
                    let c = tokio::time::timeout(
                        Duration::from_millis(500),
                        mysql_async::Conn::new(opts),
                    )
                    .await;
                    conn = c.ok().and_then(Result::ok).map(|c| (i, c));
                }
                let Some((_, c)) = conn.as_mut() else {
                    w.stats().failed_attempts += 1;
                    continue;
                };
                let sql = format!(
                    "INSERT INTO playground.writes (id, site) VALUES ({next}, '{}')",
                    names[i]
                );
                match tokio::time::timeout(Duration::from_secs(1), c.query_drop(sql)).await {
                    Ok(Ok(())) => {
                        let mut s = w.stats();
                        s.acked.push((next, i, now()));
                        s.acknowledged += 1;
                        s.last_site = Some(names[i].clone());
                        next += 1;
                    }
                    Ok(Err(mysql_async::Error::Server(e))) if e.code == 1062 => {
                        // An earlier attempt committed without an acknowledgement: not counted.
                        next += 1;
                    }
                    _ => {
                        w.stats().failed_attempts += 1;
                        conn = None;
                    }
                }
            }
        });
        (workload, task)
    }

    /// Stops (`true`) or resumes writing; a write in flight finishes first.
    pub(crate) fn pause(&self, on: bool) {
        self.paused.store(on, Ordering::Release);
    }

    pub(crate) fn stats(&self) -> std::sync::MutexGuard<'_, WriteStats> {
        self.stats.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
