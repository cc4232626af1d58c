//! Scripted stories run headlessly (`--scenario`), each with its expectations checked and reported:
//!
//! * `switchover`: a planned switchover under the write load loses no acknowledged write.
//! * `failover`: SIGKILL of the primary; the engine promotes within its bound ([`promotion_bound`]); once the old
//!   primary restarts, its divergent set (as the engine audits it from the binary logs) is exactly the rows it holds
//!   that the new primary does not, and every acknowledged write missing from the new primary is among them.
//! * `partition`: the primary's network is cut (its sidecar and in-site clients stay); promotion within the bound,
//!   the isolated old primary fenced by its own sidecar, the divergent set after healing equal to the writes it took
//!   after the last replicated one, and the reclone interlock (a request without the GTID prefix is refused; one
//!   with it rebuilds the site, which replicates again).
//! * `pitr`: a dump (verified in a throwaway server), more writes, a bad migration (a `DELETE` of half the rows),
//!   then a point-in-time restore of the dump plus the archived binary logs up to just before the migration's
//!   GTID into a fresh server: it holds exactly the rows that existed before the migration.
//! * `all`: the four in that order; every scenario ends with the archive continuity check.
//!
//! [`promotion_bound`]: crate::playground::promotion_bound

use std::fmt;
use std::time::Duration;

use mysql_async::prelude::Queryable as _;

use crate::engine::SiteState;
use crate::playground::platform::now;
use crate::playground::{Chaos, Error, Playground, root_conn};

mod pitr;

/// How long a step may take before the scenario gives up.
const STEP: Duration = Duration::from_secs(90);

/// A scenario name.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum ScenarioName {
    /// All of them, in order.
    All,
    /// SIGKILL the primary.
    Failover,
    /// Cut the primary's network.
    Partition,
    /// A bad migration, then a point-in-time restore to just before it into a fresh server.
    Pitr,
    /// Planned switchover.
    Switchover,
}

impl std::str::FromStr for ScenarioName {
    type Err = String;

    fn from_str(s: &str) -> Result<ScenarioName, String> {
        Ok(match s {
            "all" => ScenarioName::All,
            "failover" => ScenarioName::Failover,
            "partition" => ScenarioName::Partition,
            "switchover" => ScenarioName::Switchover,
            "pitr" => ScenarioName::Pitr,
            other => {
                return Err(format!(
                    "unknown scenario {other:?} (failover, switchover, partition, pitr, all)"
                ));
            }
        })
    }
}

/// One checked expectation.
#[derive(Clone, Debug)]
pub struct Check {
    /// What was expected.
    pub what: String,
    /// Whether it held.
    pub ok: bool,
    /// What was seen.
    pub detail: String,
}

/// What one scenario did and saw.
#[derive(Clone, Debug, Default)]
pub struct ScenarioReport {
    /// The scenario.
    pub name: String,
    /// What happened, in order.
    pub story: Vec<String>,
    /// The expectations.
    pub checks: Vec<Check>,
    /// Time from the fault to the promotion, when there was one.
    pub rto: Option<Duration>,
    /// Acknowledged writes missing from the new primary.
    pub writes_lost: Option<usize>,
    /// The divergent set's transaction count.
    pub divergent: Option<u64>,
}

impl ScenarioReport {
    fn new(name: &str) -> ScenarioReport {
        ScenarioReport {
            name: name.to_owned(),
            ..ScenarioReport::default()
        }
    }

    fn say(&mut self, line: impl Into<String>) {
        let line = line.into();
        println!("  [{}] {line}", self.name);
        self.story.push(line);
    }

    fn check(&mut self, what: &str, ok: bool, detail: impl Into<String>) {
        let detail = detail.into();
        println!(
            "  [{}] {} {what}: {detail}",
            self.name,
            if ok { "PASS" } else { "FAIL" }
        );
        self.checks.push(Check {
            what: what.to_owned(),
            ok,
            detail,
        });
    }
}

/// The report of a `--scenario` run.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// One entry per scenario run.
    pub scenarios: Vec<ScenarioReport>,
}

impl Report {
    /// Whether every expectation held.
    pub fn passed(&self) -> bool {
        !self.scenarios.is_empty() && self.scenarios.iter().all(|s| s.checks.iter().all(|c| c.ok))
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "== playground report ==")?;
        for s in &self.scenarios {
            writeln!(f, "scenario {}:", s.name)?;
            for line in &s.story {
                writeln!(f, "  - {line}")?;
            }
            if let Some(rto) = s.rto {
                writeln!(f, "  RTO (fault to promotion): {:.2} s", rto.as_secs_f64())?;
            }
            if let Some(lost) = s.writes_lost {
                writeln!(f, "  acknowledged writes lost: {lost}")?;
            }
            if let Some(d) = s.divergent {
                writeln!(f, "  divergentGtid count: {d}")?;
            }
            for c in &s.checks {
                writeln!(
                    f,
                    "  [{}] {}: {}",
                    if c.ok { "PASS" } else { "FAIL" },
                    c.what,
                    c.detail
                )?;
            }
        }
        write!(f, "result: {}", if self.passed() { "PASS" } else { "FAIL" })
    }
}

/// Runs `name` on a started playground.
pub async fn run(pg: &Playground, name: ScenarioName) -> Result<Report, Error> {
    let order: &[ScenarioName] = match name {
        ScenarioName::All => &[
            ScenarioName::Switchover,
            ScenarioName::Failover,
            ScenarioName::Partition,
            ScenarioName::Pitr,
        ],
        ScenarioName::Pitr => &[ScenarioName::Pitr],
        ScenarioName::Failover => &[ScenarioName::Failover],
        ScenarioName::Partition => &[ScenarioName::Partition],
        ScenarioName::Switchover => &[ScenarioName::Switchover],
    };
    let mut report = Report::default();
    for s in order {
        settle(pg).await?;
        let mut r = match s {
            ScenarioName::Switchover => switchover(pg).await?,
            ScenarioName::Failover => failover(pg).await?,
            ScenarioName::Pitr => pitr::pitr(pg).await?,
            _ => partition(pg).await?,
        };
        archive_check(pg, &mut r).await;
        report.scenarios.push(r);
    }
    Ok(report)
}

/// Waits until one site is active, the client endpoint follows it, every site not blocked by a divergent recovery
/// replicates, and the failover cooldown of an earlier scenario is over.
async fn settle(pg: &Playground) -> Result<(), Error> {
    pg.wait("a settled group", STEP, |pg| {
        let s = pg.platform.state();
        let Some(status) = s.status.as_ref() else {
            return false;
        };
        let cooled = status
            .last_failover
            .is_none_or(|at| now() > at + pg.config.failover_cooldown + Duration::from_secs(1));
        status.active_site.is_some()
            && s.dns == status.active_site
            && s.planned.is_none()
            && cooled
            && status.sites.iter().all(|site| {
                Some(&site.name) == status.active_site.as_ref()
                    || site.replicating
                    || site.recovery_state == "RecoveryBlocked"
            })
    })
    .await?;
    // Some writes before the fault.
    tokio::time::sleep(Duration::from_secs(2)).await;
    Ok(())
}

fn active(pg: &Playground) -> Result<String, Error> {
    pg.active_site()
        .ok_or_else(|| Error::Timeout("an active site".into()))
}

fn port(pg: &Playground, site: &str) -> u16 {
    let i = pg.names.iter().position(|n| n == site).unwrap_or(0);
    pg.ports()[i]
}

/// Another primary candidate to move to.
fn other_candidate(pg: &Playground, site: &str) -> String {
    pg.config
        .sites
        .iter()
        .find(|s| s.name != site && s.role == crate::engine::Role::PrimaryCandidate)
        .map(|s| s.name.clone())
        .unwrap_or_default()
}

/// Every row of `playground.writes` as `(id, site that took it)`, ordered by id.
async fn rows(port: u16) -> Result<Vec<(u64, String)>, Error> {
    let mut c = root_conn(port).await.map_err(|e| Error::Server {
        site: format!("port {port}"),
        message: e.to_string(),
    })?;
    let rows: Vec<(u64, String)> = c
        .query("SELECT id, site FROM playground.writes ORDER BY id")
        .await
        .map_err(|e| Error::Server {
            site: format!("port {port}"),
            message: e.to_string(),
        })?;
    let _ = c.disconnect().await;
    Ok(rows)
}

async fn ids(port: u16) -> Result<Vec<u64>, Error> {
    Ok(rows(port).await?.into_iter().map(|(id, _)| id).collect())
}

async fn read_only(port: u16) -> Option<bool> {
    let mut c = tokio::time::timeout(Duration::from_secs(1), root_conn(port))
        .await
        .ok()?
        .ok()?;
    let v: Option<i64> = c.query_first("SELECT @@global.read_only").await.ok()?;
    let _ = c.disconnect().await;
    v.map(|v| v != 0)
}

fn acked(pg: &Playground) -> Vec<(u64, usize, Duration)> {
    pg.workload
        .as_ref()
        .map(|w| w.stats().acked.clone())
        .unwrap_or_default()
}

fn missing(acked: &[(u64, usize, Duration)], present: &[u64]) -> Vec<u64> {
    acked
        .iter()
        .map(|(id, _, _)| *id)
        .filter(|id| present.binary_search(id).is_err())
        .collect()
}

async fn switchover(pg: &Playground) -> Result<ScenarioReport, Error> {
    let mut r = ScenarioReport::new("switchover");
    let source = active(pg)?;
    let target = other_candidate(pg, &source);
    r.say(format!(
        "planned switchover {source} -> {target} under the write load"
    ));
    let at = now();
    pg.chaos(&Chaos::Switchover(target.clone())).await?;
    pg.wait("the switchover to end", STEP, |pg| {
        pg.platform
            .state()
            .status
            .as_ref()
            .and_then(|s| s.planned.as_ref())
            .is_some_and(|p| {
                p.target == target && !p.phase.in_flight() && p.start >= at - Duration::from_secs(5)
            })
            && pg.platform.state().dns.as_deref() == Some(target.as_str())
    })
    .await?;
    let planned = pg
        .platform
        .state()
        .status
        .as_ref()
        .and_then(|s| s.planned.clone());
    let phase = planned
        .as_ref()
        .map(|p| format!("{:?}", p.phase))
        .unwrap_or_default();
    r.check(
        "the planned switchover succeeded",
        phase == "Succeeded",
        phase.clone(),
    );
    let done = pg.platform.state().dns_changed_at.unwrap_or_else(now);
    r.rto = Some(done.saturating_sub(at));
    r.say(format!(
        "client endpoint on {target} {:.2} s after the request",
        done.saturating_sub(at).as_secs_f64()
    ));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let acked = acked(pg);
    let on_target = ids(port(pg, &target)).await?;
    let lost = missing(&acked, &on_target);
    r.writes_lost = Some(lost.len());
    r.check(
        "zero acknowledged writes lost",
        lost.is_empty(),
        format!(
            "{} acknowledged, {} missing on {target}: {lost:?}",
            acked.len(),
            lost.len()
        ),
    );
    Ok(r)
}

async fn failover(pg: &Playground) -> Result<ScenarioReport, Error> {
    let mut r = ScenarioReport::new("failover");
    let old = active(pg)?;
    r.say(format!("SIGKILL {old}'s mariadbd under the write load"));
    let killed = now();
    pg.chaos(&Chaos::Kill(old.clone())).await?;
    let new = promoted(pg, &old, killed, &mut r).await?;
    r.say(format!("restarting {old} (read-only, as every start)"));
    pg.chaos(&Chaos::Restart(old.clone())).await?;
    if audit(pg, &old, &new, &mut r).await? {
        reclone_interlock(pg, &old, &mut r).await?;
    }
    Ok(r)
}

async fn partition(pg: &Playground) -> Result<ScenarioReport, Error> {
    let mut r = ScenarioReport::new("partition");
    let old = active(pg)?;
    r.say(format!(
        "cutting {old}'s network: the operator and the replicas lose it, its sidecar and in-site clients do not"
    ));
    let cut = now();
    pg.chaos(&Chaos::Partition(old.clone())).await?;
    let new = promoted(pg, &old, cut, &mut r).await?;
    if pg.sidecars.is_empty() {
        r.say("no sidecars: the isolated old primary is fenced only once the operator reaches it again");
    } else {
        let p = port(pg, &old);
        let fenced = pg
            .wait_async(
                "the isolated old primary fenced by its sidecar",
                Duration::from_secs(60),
                || async move { read_only(p).await == Some(true) },
            )
            .await;
        r.check(
            "the isolated old primary is fenced by its own sidecar",
            fenced.is_ok(),
            format!(
                "{:.2} s after the cut",
                now().saturating_sub(cut).as_secs_f64()
            ),
        );
    }
    r.say(format!("healing {old}'s network"));
    pg.chaos(&Chaos::Heal(old.clone())).await?;
    let blocked = audit(pg, &old, &new, &mut r).await?;
    if blocked {
        reclone_interlock(pg, &old, &mut r).await?;
    }
    Ok(r)
}

/// Waits for the promotion away from `old`; checks the engine's bound.
async fn promoted(
    pg: &Playground,
    old: &str,
    fault: Duration,
    r: &mut ScenarioReport,
) -> Result<String, Error> {
    pg.wait("a promotion", STEP, |pg| {
        let s = pg.platform.state();
        let active = s.status.as_ref().and_then(|st| st.active_site.clone());
        active.as_deref().is_some_and(|a| a != old) && s.dns == active
    })
    .await?;
    let new = active(pg)?;
    let record = pg
        .platform
        .state()
        .record
        .as_ref()
        .and_then(|rec| rec.history.last().cloned());
    let at = record.as_ref().map_or_else(now, |f| f.at);
    let rto = at.saturating_sub(fault);
    let bound = crate::playground::promotion_bound(&pg.config, &pg.runner_cfg);
    r.rto = Some(rto);
    r.say(format!(
        "{new} promoted {:.2} s after the fault",
        rto.as_secs_f64()
    ));
    r.check(
        "promotion within the engine's bound",
        rto <= bound,
        format!("{:.2} s <= {:.2} s", rto.as_secs_f64(), bound.as_secs_f64()),
    );
    let first = pg.wait("a write on the new primary", STEP, |pg| {
        let i = pg.names.iter().position(|n| *n == new);
        acked(pg)
            .iter()
            .any(|(_, site, t)| Some(*site) == i && *t > fault)
    });
    if first.await.is_ok() {
        let t = acked(pg)
            .iter()
            .find(|(_, site, t)| pg.names[*site] == new && *t > fault)
            .map(|(_, _, t)| *t)
            .unwrap_or(fault);
        r.say(format!(
            "first acknowledged write on {new} {:.2} s after the fault",
            t.saturating_sub(fault).as_secs_f64()
        ));
    }
    Ok(new)
}

/// Waits until the returning old primary either rejoins or is blocked with a divergent set; checks that set
/// against the rows. Returns whether it is blocked.
async fn audit(
    pg: &Playground,
    old: &str,
    new: &str,
    r: &mut ScenarioReport,
) -> Result<bool, Error> {
    pg.wait(
        &format!("{old} rejoined or reported divergent"),
        STEP,
        |pg| {
            pg.platform
                .state()
                .status
                .as_ref()
                .and_then(|s| s.site(old).cloned())
                .is_some_and(|s| {
                    s.state == SiteState::ReadOnly
                        && ((s.replicating && s.recovery_state.is_empty())
                            || s.recovery_state == "RecoveryBlocked")
                })
        },
    )
    .await?;
    let site = pg
        .platform
        .state()
        .status
        .as_ref()
        .and_then(|s| s.site(old).cloned())
        .unwrap_or_default_site();
    let blocked = site.recovery_state == "RecoveryBlocked";
    // A row is the same write only if the same site took it: a write the old primary committed but never
    // acknowledged is retried by the client on the new primary under the same id.
    // The acknowledgements first: a write acknowledged after the new primary's rows were read is not lost.
    let acked: Vec<(u64, String)> = acked(pg)
        .into_iter()
        .map(|(id, site, _)| (id, pg.names[site].clone()))
        .collect();
    let on_old = rows(port(pg, old)).await?;
    let on_new = rows(port(pg, new)).await?;
    let diverged: Vec<(u64, String)> = on_old
        .iter()
        .filter(|row| !on_new.contains(row))
        .cloned()
        .collect();
    let lost: Vec<&(u64, String)> = acked.iter().filter(|row| !on_new.contains(row)).collect();
    r.divergent = Some(site.divergent_count);
    r.writes_lost = Some(lost.len());
    if blocked {
        r.say(format!(
            "{old} came back with divergent transactions {} ({}), kept fenced (RecoveryBlocked)",
            site.divergent_gtid, site.divergent_count
        ));
    } else {
        r.say(format!(
            "{old} came back with nothing the new primary lacks and rejoined as a replica of {new}"
        ));
    }
    r.check(
        "the divergent set is exactly the writes the old primary took after the last replicated one",
        site.divergent_count == diverged.len() as u64,
        format!(
            "divergentGtid {:?} ({} transactions); rows on {old} missing on {new}: {}",
            site.divergent_gtid,
            site.divergent_count,
            diverged.len()
        ),
    );
    r.check(
        "every acknowledged write lost is in the divergent set",
        lost.iter().all(|row| diverged.contains(row)),
        format!("{} acknowledged writes missing on {new}", lost.len()),
    );
    Ok(blocked)
}

trait OrDefaultSite {
    fn unwrap_or_default_site(self) -> crate::engine::SiteStatus;
}

impl OrDefaultSite for Option<crate::engine::SiteStatus> {
    fn unwrap_or_default_site(self) -> crate::engine::SiteStatus {
        self.unwrap_or_else(|| crate::engine::SiteStatus {
            name: String::new(),
            state: SiteState::Unknown,
            last_seen: None,
            source_host: String::new(),
            source_convergence_state: String::new(),
            source_convergence_reason: String::new(),
            replicating: false,
            seconds_behind: None,
            gtid_executed: String::new(),
            recovery_state: String::new(),
            divergent_gtid: String::new(),
            divergent_count: 0,
        })
    }
}

/// A bare reclone request is refused (the GTID-prefix interlock); one with the recorded divergent set's prefix
/// is accepted.
async fn reclone_interlock(
    pg: &Playground,
    old: &str,
    r: &mut ScenarioReport,
) -> Result<(), Error> {
    let seen = pg.platform.state().timeline.len();
    let event = |reason: &'static str| {
        move |pg: &Playground| {
            pg.platform
                .state()
                .timeline
                .iter()
                .skip(seen.saturating_sub(1))
                .any(|e| e.reason == reason)
        }
    };
    pg.chaos(&Chaos::Reclone(old.to_owned())).await?;
    let refused = pg
        .wait(
            "RecloneRejected",
            Duration::from_secs(30),
            event("RecloneRejected"),
        )
        .await;
    r.check(
        "a reclone request without the GTID prefix is refused",
        refused.is_ok(),
        format!("reclone {old:?}"),
    );
    let divergent = pg
        .platform
        .state()
        .status
        .as_ref()
        .and_then(|s| s.site(old).map(|s| s.divergent_gtid.clone()))
        .unwrap_or_default();
    // The prefix the refusal suggests: the divergent set's first eight characters.
    let prefix: String = divergent.chars().take(8).collect();
    let value = format!("{old}:{prefix}");
    pg.chaos(&Chaos::Reclone(value.clone())).await?;
    let accepted = pg
        .wait(
            "RecloneRequested",
            Duration::from_secs(30),
            event("RecloneRequested"),
        )
        .await;
    r.check(
        "a reclone request with the divergent set's prefix is accepted",
        accepted.is_ok(),
        format!("reclone {value:?}"),
    );
    let started = now();
    let rejoined = pg
        .wait(&format!("{old} recloned"), STEP, |pg| {
            pg.platform
                .state()
                .status
                .as_ref()
                .and_then(|s| s.site(old).cloned())
                .is_some_and(|s| {
                    s.replicating && s.recovery_state.is_empty() && s.divergent_gtid.is_empty()
                })
        })
        .await;
    let discarded = match (pg.active_site(), rejoined.is_ok()) {
        (Some(active), true) => {
            let on_old = rows(port(pg, old)).await?;
            let on_new = rows(port(pg, &active)).await?;
            on_old.iter().filter(|row| !on_new.contains(row)).count()
        }
        _ => usize::MAX,
    };
    r.check(
        "the recloned site replicates again, its divergent transactions discarded",
        rejoined.is_ok() && discarded == 0,
        if rejoined.is_ok() {
            format!(
                "rebuilt from the template and caught up in {:.1} s",
                now().saturating_sub(started).as_secs_f64()
            )
        } else {
            format!("{old} not replicating within {STEP:?}")
        },
    );
    Ok(())
}

/// Seals the active site's binary log, lets the archiver ship it, and checks the archive's continuity.
async fn archive_check(pg: &Playground, r: &mut ScenarioReport) {
    if pg.sidecars.is_empty() {
        r.say("no sidecars, no archive to check");
        return;
    }
    if let Some(a) = pg.active_site()
        && let Ok(mut c) = root_conn(port(pg, &a)).await
    {
        let _ = c.query_drop("FLUSH BINARY LOGS").await;
        let _ = c.disconnect().await;
    }
    tokio::time::sleep(Duration::from_secs(6)).await;
    let view = crate::playground::dashboard::check_archive(&pg.archive_at).await;
    *pg.archive
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = view.clone();
    r.check(
        "the binlog archive is continuous across the scenario",
        view.continuous == Some(true),
        format!(
            "{} files, covers {} {}",
            view.files,
            view.covered,
            if view.continuous == Some(true) {
                String::new()
            } else {
                view.detail
            }
        ),
    );
}
