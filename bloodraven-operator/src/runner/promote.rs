//! The promotion sequence (§1.10) and the follower operations the runner performs on more than one call: source
//! convergence (§1.12) and the writable confirmation.

use crate::platform::Platform;
use crate::runner::drain::drain_relay_log;
use crate::runner::{Runner, deadline, unreachable};
use crate::site::{GtidState, Probe, Site, SiteError, SourceSpec};

use std::time::Duration;

impl<S: Site + 'static, P: Platform> Runner<S, P> {
    /// The promotion sequence (§1.10).
    pub(crate) async fn promote(
        &self,
        target: &str,
        old_primary: Option<&str>,
        planned: bool,
    ) -> Result<String, SiteError> {
        let op = self.cfg.op_timeout;
        let t = self
            .site(target)
            .ok_or_else(|| unreachable(target, "unknown site"))?;
        if let Some(old) = old_primary.and_then(|o| self.site(o)) {
            if let Err(e) = deadline(&*old, "fence", op, old.fence()).await {
                tracing::warn!(site = old.name(), error = %e, "could not fence old primary (it may be dead)");
            }
            if let Err(e) = deadline(&*old, "kill sessions", op, old.kill_client_sessions()).await {
                tracing::warn!(site = old.name(), error = %e, "could not kill old primary sessions");
            }
        }
        let budget = if planned {
            op
        } else {
            self.engine.config().relay_drain_timeout
        };
        if let Err(e) = drain_relay_log(&*t, budget, op).await {
            tracing::warn!(site = target, error = %e, "relay log drain incomplete; promoting anyway");
        }
        deadline(&*t, "stop replication", op, t.stop_replication()).await?;
        deadline(&*t, "reset replication", op, t.reset_replication()).await?;
        let gtid = match deadline(&*t, "executed", op, t.executed()).await {
            Ok(g) => g.to_string(),
            Err(e) => {
                tracing::warn!(site = target, error = %e, "failed to record promotion GTID");
                String::new()
            }
        };
        self.authority_unchanged(target, planned).await?;
        deadline(&*t, "unfence", op, t.unfence()).await?;
        confirm_writable(&*t, op).await?;
        Ok(gtid)
    }

    /// The last check before the irreversible unfence: the sequence takes seconds (fence and kill the old primary,
    /// drain the relay log), and meanwhile another writer may have recorded a promotion (the authority epoch moved),
    /// the target's keyring rotation may have started (refused for planned promotions too, as the reference's
    /// `PlannedPromote` does), or, for an automatic promotion, another controller may have raised a guard (§1.7).
    /// Each aborts the promotion; the engine decides again from fresh observations.
    async fn authority_unchanged(&self, target: &str, planned: bool) -> Result<(), SiteError> {
        let Ok(o) = self.platform.observe_group().await else {
            return Ok(()); // cannot tell: the poll's reading stands
        };
        let moved = self.poll_epoch.is_some_and(|e| e != o.record_epoch);
        let rotating = o.gates.rotating.contains(target);
        let guarded = !planned
            && self
                .engine
                .cross_site_suppression(&o.gates, false)
                .is_some();
        if moved || rotating || guarded {
            tracing::warn!(
                site = target,
                moved,
                rotating,
                guarded,
                "promotion aborted before unfence"
            );
            return Err(unreachable(
                target,
                "promotion aborted before unfence: a promotion was recorded, the target's keyring rotation \
                 started or a guard was raised meanwhile",
            ));
        }
        Ok(())
    }
}

/// Source convergence of one follower: containment, stop, containment again, change source, start; rollback by
/// restarting the old channel.
pub(crate) async fn repoint<S: Site>(
    s: &S,
    src: &S,
    spec: &SourceSpec,
    ft: Duration,
) -> Result<(), SiteError> {
    let contained = async || -> Result<bool, SiteError> {
        let mine: GtidState = deadline(s, "executed", ft, s.executed()).await?;
        let theirs = deadline(src, "executed", ft, src.executed()).await?;
        Ok(theirs.contains(&mine))
    };
    if !contained().await? {
        return Err(SiteError::Query {
            site: s.name().into(),
            statement: "GTID containment".into(),
            message: "follower has transactions the active primary lacks".into(),
        });
    }
    deadline(s, "stop replication", ft, s.stop_replication()).await?;
    match contained().await {
        Ok(true) => {}
        Ok(false) => {
            return Err(SiteError::Query {
                site: s.name().into(),
                statement: "GTID containment".into(),
                message: "diverged while stopping; replication left stopped".into(),
            });
        }
        Err(e) => {
            let _ = deadline(s, "start replication", ft, s.start_replication()).await;
            return Err(e);
        }
    }
    if let Err(e) = deadline(s, "replicate from", ft, s.replicate_from(spec)).await {
        let _ = deadline(s, "start replication", ft, s.start_replication()).await;
        return Err(e);
    }
    Ok(())
}

pub(crate) async fn confirm_writable<S: Site>(s: &S, op: Duration) -> Result<(), SiteError> {
    let p: Probe = deadline(s, "probe", op, s.probe()).await?;
    if p.read_only {
        return Err(SiteError::Query {
            site: s.name().into(),
            statement: "SELECT @@read_only".into(),
            message: "still read-only after unfence".into(),
        });
    }
    Ok(())
}
