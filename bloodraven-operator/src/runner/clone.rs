//! Reclone and auto-clone execution (§2.6, §2.4): the long-running clone task the runner spawns.

use std::sync::Arc;
use std::time::Duration;

use crate::engine::{can_skip_clone, is_empty_site};
use crate::runner::{RunnerConfig, deadline, unreachable};
use crate::site::{Site, SiteError, SourceSpec};

/// Reclone (§2.6 execution) and auto-clone (§2.4), run as their own task: donor check, kill recipient sessions,
/// clone, wait for the restart, set up replication.
///
/// An auto-clone first re-reads the recipient: a site that is no longer empty is never cloned over; it only gets
/// replication when the donor contains it (the skip-clone shortcut, which an admin reclone never takes).
pub(crate) async fn reclone<S: Site>(
    r: Arc<S>,
    d: Arc<S>,
    spec: SourceSpec,
    cfg: RunnerConfig,
    auto: bool,
) -> Result<(), SiteError> {
    let op = cfg.op_timeout;
    let dp = deadline(&*d, "probe", op, d.probe()).await?;
    if dp.read_only {
        return Err(unreachable(
            d.name(),
            "donor is no longer writable; authority moved",
        ));
    }
    if auto {
        let rp = deadline(&*r, "probe", op, r.probe()).await?;
        if !is_empty_site(&rp) {
            if !can_skip_clone(&dp.executed, &rp.executed) {
                return Err(SiteError::Query {
                    site: r.name().into(),
                    statement: "auto-clone".into(),
                    message: format!(
                        "recipient is no longer empty (executed {}); not cloning over it",
                        rp.executed
                    ),
                });
            }
            tracing::info!(
                site = r.name(),
                "donor contains the recipient: skipping the clone"
            );
            return setup_replication(&*r, &spec, &cfg).await;
        }
    }
    // No unfence here: `Site::clone_from` lifts only what CLONE needs and keeps application writes out, so a
    // recipient never accepts client transactions that the clone would then silently discard.
    let _ = deadline(&*r, "kill sessions", op, r.kill_client_sessions()).await;
    if let Err(e) = deadline(
        &*r,
        "clone",
        cfg.clone_timeout,
        Site::clone_from(&*r, &spec),
    )
    .await
    {
        let _ = deadline(&*r, "fence", op, r.fence()).await;
        return Err(e);
    }
    let mut wait = Duration::from_secs(2);
    let mut up = false;
    for _ in 0..10 {
        if deadline(&*r, "probe", op, r.probe()).await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(30));
    }
    if !up {
        return Err(unreachable(r.name(), "did not come back after clone"));
    }
    setup_replication(&*r, &spec, &cfg).await
}

/// Phase `SetupReplication`: fence, stop and reset replication (errors ignored), replicate from the donor.
async fn setup_replication<S: Site>(
    r: &S,
    spec: &SourceSpec,
    cfg: &RunnerConfig,
) -> Result<(), SiteError> {
    let (op, ft) = (cfg.op_timeout, cfg.follower_timeout);
    deadline(r, "fence", op, r.fence()).await?;
    let _ = deadline(r, "stop replication", ft, r.stop_replication()).await;
    let _ = deadline(r, "reset replication", ft, r.reset_replication()).await;
    deadline(r, "replicate from", ft, r.replicate_from(spec)).await
}
