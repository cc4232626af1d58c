//! Point-in-time recovery: plan which archived files to replay, then download them.
//!
//! [`plan`] takes the manifests of all sites, the dump's GTID set and a [`Target`] (latest, a time, or
//! a GTID set to stop at, inclusive or exclusive). It walks the history in GTID order from the dump's set
//! — each next file is one whose previous set is already covered — so it follows failovers from one site
//! to the next and never relies on file names across servers. The [`Plan`] lists the files in replay
//! order, the [`Stop`] option for the last one, and a report: what will be recovered, the last
//! recoverable time, gaps, and why a target cannot be reached when it cannot.
//!
//! Entries written by the Go archiver carry only their previous GTIDs, so the newest file of each such site
//! has no end set (the [`continuity`] rules bound a file by the next one of its site). The planner cannot
//! know what that file holds: it leaves it out and, when the file could hold transactions of the
//! requested window, names it in [`Plan::unverifiable_in_window`] and calls the plan incomplete rather
//! than stopping one file short in silence. A caller that can read the archive runs [`learn_end_sets`]
//! first: it reads those files from the store with the crate's own reader and completes their entries,
//! so the plan includes them (the `pitr-plan` and `pitr-download` commands do this).
//!
//! [`download`] fetches the planned files (decrypting BRV1 when needed) into `<dir>/<site>/<name>`, each
//! written to a `.part` file, checked against the manifest's `size` and `sha256`, synced and renamed.
//!
//! Replay with MariaDB runs one `mariadb-binlog` per file with [`PlannedFile::binlog_args`]: MariaDB
//! does not skip transactions it already has, so each file starts after the GTID position reached so far
//! (`--start-position=<gtid list>`). MySQL skips executed GTIDs itself.

mod download;
mod learn;

use std::path::Path;

use bloodraven_gtid::{MariadbGtid, MariadbGtidList};
use chrono::{DateTime, Utc};

use crate::Error;
use crate::continuity::{self, FileRef, Gap, History};
use crate::manifest::{Manifest, ManifestEntry};

pub use download::download;
pub use learn::{Learned, learn_end_sets};

/// Where recovery should stop.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum Target {
    /// Everything the archive has.
    Latest,
    /// Transactions before this time (`--stop-datetime`: the first event at or after it is not applied).
    Time(DateTime<Utc>),
    /// Up to and including the target transactions (`inclusive`), or up to just before them (exclusive,
    /// e.g. a bad `DROP`), per source: a MySQL server UUID and tag, or a MariaDB domain.
    ///
    /// - MariaDB: each domain's highest sequence number names one transaction, so `0-1-100` (parsed by
    ///   [`History::parse`], which reads it as everything up to 100) and the single transaction `0-1-100`
    ///   mean the same target: inclusive replays the domain through seq 100, exclusive through seq 99. A
    ///   list names one transaction per domain (`0-1-100,1-2-7`).
    /// - MySQL: inclusive replays each UUID (and tag) of the set up to its highest GNO. Exclusive stops
    ///   just before the set's lowest transaction that the dump does not already hold, like `START REPLICA
    ///   UNTIL SQL_BEFORE_GTIDS` (so `uuid:1-100` with a dump at `uuid:1-40` stops before `uuid:41`).
    ///
    /// A source the set does not name is replayed as far as the files needed for the named ones reach.
    /// A target the dump is already past (it holds a transaction after the stop point) is unreachable:
    /// a replay cannot undo it.
    Gtids {
        /// The target transactions.
        set: History,
        /// Whether the target transactions themselves are replayed.
        inclusive: bool,
    },
}

impl std::fmt::Display for Target {
    /// `latest`, `before <RFC 3339 time>`, `through <transactions>` or `just before <transactions>`, the
    /// MariaDB transactions as `domain D seq N` (one per domain).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Latest => f.write_str("latest"),
            Target::Time(t) => write!(f, "before {}", t.to_rfc3339()),
            Target::Gtids { set, inclusive } => write!(
                f,
                "{} {}",
                if *inclusive { "through" } else { "just before" },
                named(set)
            ),
        }
    }
}

/// The stop option for the last file.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum Stop {
    /// `--stop-datetime='YYYY-MM-DD HH:MM:SS'` (UTC; run the tool with `TZ=UTC`).
    Datetime(DateTime<Utc>),
    /// `--exclude-gtids=<set>` (MySQL): the transactions of the last file beyond the target.
    ExcludeGtids(String),
    /// `--stop-position=<gtid list>` (MariaDB, inclusive).
    MariadbGtid(String),
}

impl Stop {
    /// The command-line option for `mysqlbinlog` / `mariadb-binlog`.
    pub fn arg(&self) -> String {
        match self {
            Stop::Datetime(t) => format!("--stop-datetime={}", t.format("%Y-%m-%d %H:%M:%S")),
            Stop::ExcludeGtids(s) => format!("--exclude-gtids={s}"),
            Stop::MariadbGtid(s) => format!("--stop-position={s}"),
        }
    }
}

/// One file of a plan.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct PlannedFile {
    /// Site and name.
    pub file: FileRef,
    /// The manifest entry.
    pub entry: ManifestEntry,
    /// Transactions this file adds to what was recovered before it.
    pub adds: History,
    /// MariaDB: the GTID position reached before this file (`--start-position`), to skip what the file
    /// repeats.
    pub mariadb_start: Option<String>,
    /// The stop option (last file only; with a GTID target: any file holding transactions past it).
    pub stop: Option<Stop>,
    /// MariaDB, a GTID target over several domains: the named domains whose stop was reached in an earlier
    /// file (`--ignore-domain-ids`); `mariadb-binlog` refuses a `--stop-position` already passed.
    pub mariadb_ignore_domains: Vec<u32>,
}

impl PlannedFile {
    /// Arguments for `mariadb-binlog`/`mysqlbinlog` before the file name.
    pub fn binlog_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        if let Some(start) = &self.mariadb_start
            && !start.is_empty()
        {
            args.push(format!("--start-position={start}"));
        }
        args.extend(self.stop.iter().map(Stop::arg));
        args.extend(self.ignore_domains_arg());
        args
    }

    /// `--ignore-domain-ids=<list>` when the file has domains to leave out.
    pub fn ignore_domains_arg(&self) -> Option<String> {
        (!self.mariadb_ignore_domains.is_empty()).then(|| {
            let ids: Vec<String> = self
                .mariadb_ignore_domains
                .iter()
                .map(u32::to_string)
                .collect();
            format!("--ignore-domain-ids={}", ids.join(","))
        })
    }

    /// Where [`download`] puts the file under `dir`.
    pub fn local_path(&self, dir: &Path) -> std::path::PathBuf {
        dir.join(&self.file.site).join(&self.file.name)
    }
}

/// A recovery plan and its report.
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct Plan {
    /// Files in replay order; the last carries the stop option (MySQL, a GTID target: every file that holds
    /// transactions past a named source's stop excludes them).
    pub files: Vec<PlannedFile>,
    /// Transactions recovered after replay: the starting set plus what the files add (for a time
    /// target, an upper bound: the stop time cuts the last file).
    pub recovered: History,
    /// The newest event time among the replayed files, capped at a time target.
    pub last_recoverable_time: Option<DateTime<Utc>>,
    /// Gaps that stop the history (at most one: nothing after a gap is reachable).
    pub gaps: Vec<Gap>,
    /// Entries without an end set (Go-written: only previous GTIDs, and no next file of their site to
    /// bound them; or no GTID information at all), left out of the plan.
    pub unverifiable: Vec<FileRef>,
    /// Those of [`Plan::unverifiable`] that could hold transactions the target asks for: every one for
    /// [`Target::Latest`], those whose first event is before a time target, those whose previous set does
    /// not already contain a GTID target. Any such file makes the plan incomplete; [`learn_end_sets`]
    /// reads them from the store so that they can be planned.
    pub unverifiable_in_window: Vec<FileRef>,
    /// Why the target cannot be reached, when it cannot.
    pub unreachable: Option<String>,
}

impl Plan {
    /// Whether the target is reached without gaps, and no file left out for lack of an end set could
    /// hold transactions of the window.
    pub fn is_complete(&self) -> bool {
        self.unreachable.is_none() && self.gaps.is_empty() && self.unverifiable_in_window.is_empty()
    }
}

/// Plans recovery from `start` (the dump's GTID set) to `target` over every site's manifest.
pub fn plan(manifests: &[Manifest], start: &History, target: &Target) -> Result<Plan, Error> {
    let (files, unverifiable) = continuity::archived_files(manifests)?;
    let goal = goal(target, start);
    let wanted = |f: &continuity::ArchivedFile| match target {
        Target::Time(t) => f.entry.first_event_time.is_none_or(|first| first < *t),
        _ => true,
    };
    let unverifiable_in_window = unverifiable
        .iter()
        .filter(|file| {
            manifests
                .iter()
                .filter(|m| m.site == file.site)
                .flat_map(|m| m.files.iter())
                .find(|e| e.name == file.name)
                .is_none_or(|e| in_window(e, target, goal.as_ref()))
        })
        .cloned()
        .collect();
    let walk = continuity::walk(&files, start, wanted, |covered| {
        goal.as_ref().is_some_and(|g| g.is_subset(covered))
    });
    let known: Vec<_> = files.iter().flat_map(|f| f.mariadb_lists.iter()).collect();
    // Each planned file's own starting state.
    let mut previous: Vec<&History> = Vec::new();
    let mut plan = Plan {
        unverifiable,
        unverifiable_in_window,
        gaps: walk.gaps,
        ..Default::default()
    };
    for (k, &i) in walk.order.iter().enumerate() {
        let f = &files[i];
        let before = &walk.before[k];
        let adds = f.contained.difference(before);
        let (mariadb_start, idle) = if f.mariadb_lists.is_empty() {
            (None, Vec::new())
        } else {
            let (start, ignore) =
                mariadb_options(before, &f.previous, &adds, &History::new(), &known);
            (Some(start), ignore)
        };
        previous.push(&f.previous);
        plan.files.push(PlannedFile {
            file: f.file.clone(),
            entry: f.entry.clone(),
            adds,
            mariadb_start,
            stop: None,
            mariadb_ignore_domains: idle,
        });
    }
    plan.recovered = walk.covered;
    let newest_in_plan = plan
        .files
        .iter()
        .filter_map(|f| f.entry.last_event_time)
        .max();
    plan.last_recoverable_time = newest_in_plan;
    if let Some(gap) = plan.gaps.first() {
        plan.unreachable = Some(format!("the archive has a gap: {gap}"));
    }
    match target {
        Target::Latest => {}
        Target::Time(t) => {
            if let Some(last) = plan.files.last_mut() {
                last.stop = Some(Stop::Datetime(*t));
            }
            plan.last_recoverable_time = newest_in_plan.map(|n| n.min(*t));
            // Every entry counts, those left out for lack of an end set too: their times are known.
            let newest_archived = manifests
                .iter()
                .flat_map(|m| m.files.iter())
                .filter_map(|e| e.last_event_time)
                .max();
            if plan.unreachable.is_none() && newest_archived.is_none_or(|n| n < *t) {
                plan.unreachable = Some(match newest_archived {
                    Some(n) => {
                        format!("the target time {t} is after the newest archived event ({n})")
                    }
                    None => format!("no archived event carries a time, so {t} cannot be located"),
                });
            }
        }
        Target::Gtids { set, .. } => {
            let goal = goal.unwrap_or_default();
            let missing = goal.difference(&plan.recovered);
            let past = past_target(start, target).unwrap_or_default();
            if !past.is_empty() {
                plan.unreachable = Some(format!(
                    "the dump already holds {past}, past the target ({target}): a replay \
                     cannot undo transactions; restore a backup taken before the target"
                ));
            } else if !missing.is_empty() {
                if plan.unreachable.is_none() {
                    plan.unreachable = Some(format!(
                        "the archive does not contain {missing} of the target"
                    ));
                }
            } else if !plan.files.is_empty() {
                // MySQL: each file leaves out what it holds past a named source's stop, since a source can
                // reach its stop before the files another one needs (`uuid1:13,uuid2:3`). MariaDB: the last
                // file stops at the goal's position.
                for f in plan.files.iter_mut().filter(|f| f.mariadb_start.is_none()) {
                    let exclude = f.adds.restricted_to_sources_of(set).difference(&goal);
                    if !exclude.is_empty() {
                        f.stop = Some(Stop::ExcludeGtids(exclude.mysql().to_compact_string()));
                    }
                }
                // MariaDB, per file that holds transactions past a named domain's stop (always the last):
                // stop each domain not yet reached at its own transaction, and leave out the domains whose
                // stop an earlier file reached.
                let last = plan.files.len() - 1;
                for (k, f) in plan.files.iter_mut().enumerate() {
                    let past = f.adds.restricted_to_sources_of(set).difference(&goal);
                    if f.mariadb_start.is_none() || (past.is_empty() && k != last) {
                        continue;
                    }
                    let before = &walk.before[k];
                    let pending = goal.difference(before);
                    let stops = goal.restricted_to_sources_of(&pending);
                    f.stop = Some(Stop::MariadbGtid(
                        stops.mariadb_position(&known).to_string(),
                    ));
                    // The named domains whose stop an earlier file reached are left out here.
                    let reached = set.difference(&set.restricted_to_sources_of(&stops));
                    let replayed = f
                        .adds
                        .difference(&f.adds.restricted_to_sources_of(&reached));
                    let (start, ignore) =
                        mariadb_options(before, previous[k], &replayed, &reached, &known);
                    f.mariadb_start = Some(start);
                    f.mariadb_ignore_domains = ignore;
                }
                let beyond = plan
                    .recovered
                    .restricted_to_sources_of(set)
                    .difference(&goal);
                plan.recovered = plan.recovered.difference(&beyond);
            }
        }
    }
    Ok(plan)
}

/// The transactions of a dump (`start`) past a GTID `target`, among the sources the target names: a replay cannot
/// undo them, so a dump holding any cannot reach the target and an older one is needed. `None` for other
/// targets or when the dump is not past the target.
pub fn past_target(start: &History, target: &Target) -> Option<History> {
    let Target::Gtids { set, .. } = target else {
        return None;
    };
    let goal = goal(target, start)?;
    let past = start.restricted_to_sources_of(set).difference(&goal);
    (!past.is_empty()).then_some(past)
}

/// MariaDB `--start-position` and `--ignore-domain-ids` of a file that replays the domains of `replayed`:
/// those start from what came `before`; every other domain is left out, and starts from the file's own
/// starting state (`previous`) where it has one. mariadb-binlog wants a start for each domain of the file's
/// starting state ("does not specify an initial value"), and fails a start it never passes, such as a
/// domain's last transaction in the file ("never reached expected GTID state").
fn mariadb_options(
    before: &History,
    previous: &History,
    replayed: &History,
    also_ignored: &History,
    known: &[&bloodraven_gtid::MariadbGtidList],
) -> (String, Vec<u32>) {
    let start = before
        .restricted_to_sources_of(replayed)
        .union(&previous.difference(&previous.restricted_to_sources_of(replayed)));
    let others = before.union(previous).union(also_ignored).difference(
        &before
            .union(previous)
            .union(also_ignored)
            .restricted_to_sources_of(replayed),
    );
    let ignore = others.mariadb_tips().map(|(domain, _)| domain).collect();
    (start.mariadb_position(known).to_string(), ignore)
}

/// The history a GTID target needs covered, per source the target names (see [`Target::Gtids`]).
///
/// MariaDB: each domain's highest sequence number is the target transaction, whether the set came from a
/// position (`0-1-100` is `1..=100`) or from single transactions. MySQL: inclusive, up to each source's
/// highest GNO; exclusive, up to just before the lowest GNO the dump does not hold (or, when the dump holds
/// all of a source's, before its lowest one, which the caller then reports as already past). `None` for other
/// targets.
pub fn goal(target: &Target, start: &History) -> Option<History> {
    let Target::Gtids { set, inclusive } = target else {
        return None;
    };
    let mariadb: MariadbGtidList = set
        .mariadb_tips()
        .map(|(domain, seq)| MariadbGtid {
            domain,
            server_id: 0,
            seq: if *inclusive {
                seq
            } else {
                seq.saturating_sub(1)
            },
        })
        .collect();
    let mariadb = History::from_mariadb_state(&mariadb);
    let named = History::from_mysql(set.mysql().clone());
    let mysql = if *inclusive {
        named.up_to_max()
    } else {
        let pending = named.difference(start);
        let held = named.difference(&named.restricted_to_sources_of(&pending));
        pending.before_min().union(&held.before_min())
    };
    Some(mysql.union(&mariadb))
}

/// The target transactions as the user named them: the MySQL set, and each MariaDB domain's one
/// transaction (`domain D seq N`).
fn named(set: &History) -> String {
    let mut parts: Vec<String> = Vec::new();
    if !set.mysql().is_empty() {
        parts.push(set.mysql().to_compact_string());
    }
    parts.extend(
        set.mariadb_tips()
            .map(|(domain, seq)| format!("domain {domain} seq {seq}")),
    );
    parts.join("; ")
}

/// Whether a file whose end set is unknown could hold transactions the target asks for: always for the
/// latest; for a time, unless its first event is at or after it; for GTIDs, unless its previous set
/// already contains the goal (a previous set that does not parse counts as unknown).
fn in_window(entry: &ManifestEntry, target: &Target, goal: Option<&History>) -> bool {
    match target {
        Target::Latest => true,
        Target::Time(t) => entry.first_event_time.is_none_or(|first| first < *t),
        Target::Gtids { .. } => {
            let previous = History::parse(&entry.previous_gtids, "previousGtids");
            !matches!((goal, previous), (Some(g), Ok(p)) if g.is_subset(&p))
        }
    }
}

#[cfg(test)]
mod tests;
