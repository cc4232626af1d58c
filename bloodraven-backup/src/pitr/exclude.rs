//! Skipping transactions during a replay (`--exclude-gtids`, `pointInTime.excludeGtids`): a bad migration
//! ran at GTID X; restore the dump and replay everything except X.
//!
//! - MySQL: `mysqlbinlog --exclude-gtids=SET` drops them; afterwards each skipped GTID is committed as an
//!   empty transaction, so `gtid_executed` still ends at exactly the plan's set (the standard MySQL way to
//!   skip a transaction, and what keeps the final GTID check exact).
//! - MariaDB: `mariadb-binlog` has no per-transaction exclude. [`locate`] reads each downloaded file with
//!   the binlog crate's reader and finds the byte offset of every skipped transaction's GTID event and the
//!   GTID position just after it; [`segments`] then cuts that file's replay into runs around them: the
//!   first run keeps the file's GTID start and stops at the skipped event's offset (`--stop-position=N`),
//!   each next one starts at the GTID position after the skipped transaction (`--start-position=<list>`,
//!   which also skips whatever the previous runs applied) and the last keeps the file's own stop option.
//!   `mariadb-binlog` 10.11 accepts a GTID start with a numeric stop. Positions are high-water marks: the
//!   expected position is that of the plan's set without the skipped transactions (lower than the plan's only
//!   when the newest transactions of a domain are skipped), and the final check stays exact.
//!
//! Every excluded GTID must be a transaction the replay would apply: one already in the dump, beyond the
//! target, after a stop time or absent from the archive is refused before anything is replayed, naming it
//! (most likely a typo).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use bloodraven_binlog::continuity::History;
use bloodraven_binlog::pitr::{Plan, PlannedFile, Stop, Target};
use bloodraven_binlog::reader::{EventData, Reader};
use bloodraven_gtid::{GtidSet, MariadbGtid, MariadbGtidList};
use chrono::{DateTime, Utc};

use crate::error::Error;

/// GTIDs a replay skips: a MySQL GTID set (`uuid:5,uuid:9-10`) or MariaDB GTIDs (`0-1-7,0-1-12`, each one
/// transaction, not a position).
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct ExcludedGtids {
    mysql: GtidSet,
    mariadb: Vec<MariadbGtid>,
}

impl ExcludedGtids {
    /// Parses the option's text; empty text is the empty set.
    pub fn parse(text: &str) -> Result<ExcludedGtids, Error> {
        let t = text.trim();
        let bad = |e: bloodraven_gtid::Error| {
            Error::Pitr(format!(
                "excluded gtids {text:?}: {e}; expected MariaDB GTIDs (domain-server-seq, comma-separated) \
                 or a MySQL GTID set (uuid:1-5,...)"
            ))
        };
        if t.is_empty() {
            return Ok(ExcludedGtids::default());
        }
        let looks_mariadb = t.split(',').all(|p| {
            let parts: Vec<_> = p.trim().split('-').collect();
            parts.len() == 3
                && parts
                    .iter()
                    .all(|x| !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit()))
        });
        if looks_mariadb {
            let mut mariadb = t
                .split(',')
                .map(|p| MariadbGtid::from_str(p.trim()).map_err(bad))
                .collect::<Result<Vec<_>, _>>()?;
            mariadb.sort();
            mariadb.dedup();
            if let Some(zero) = mariadb.iter().find(|g| g.seq == 0) {
                return Err(Error::Pitr(format!(
                    "excluded gtid {zero}: sequence numbers start at 1"
                )));
            }
            Ok(ExcludedGtids {
                mysql: GtidSet::new(),
                mariadb,
            })
        } else {
            Ok(ExcludedGtids {
                mysql: GtidSet::parse(t).map_err(bad)?,
                mariadb: Vec::new(),
            })
        }
    }

    /// Whether nothing is excluded.
    pub fn is_empty(&self) -> bool {
        self.mysql.is_empty() && self.mariadb.is_empty()
    }

    /// The MySQL part (empty for MariaDB GTIDs).
    pub fn mysql(&self) -> &GtidSet {
        &self.mysql
    }

    /// The excluded transactions as a history.
    pub(crate) fn history(&self) -> History {
        self.mariadb
            .iter()
            .map(single)
            .fold(History::from_mysql(self.mysql.clone()), |h, g| h.union(&g))
    }

    /// Those of the excluded GTIDs not in `window`, as text (empty when all are in it).
    fn outside(&self, window: &History) -> String {
        if self.mariadb.is_empty() {
            return self.mysql.difference(window.mysql()).to_compact_string();
        }
        self.mariadb
            .iter()
            .filter(|g| !single(g).is_subset(window))
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",")
    }
}

impl fmt::Display for ExcludedGtids {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.mariadb.is_empty() {
            return f.write_str(&self.mysql.to_compact_string());
        }
        let list: Vec<_> = self.mariadb.iter().map(ToString::to_string).collect();
        f.write_str(&list.join(","))
    }
}

/// One MariaDB transaction as a history: the state up to it minus the state before it.
fn single(g: &MariadbGtid) -> History {
    let state = |seq: u64| {
        let mut list = MariadbGtidList::new();
        list.insert(MariadbGtid { seq, ..*g });
        History::from_mariadb_state(&list)
    };
    state(g.seq).difference(&state(g.seq - 1))
}

/// The report lines for the excluded GTIDs: what is skipped and what is outside the replay window.
pub(crate) fn report_lines(plan: &Plan, start: &History, excluded: &ExcludedGtids) -> String {
    if excluded.is_empty() {
        return String::new();
    }
    let mut out = format!("skipped gtids: {excluded}\n");
    let outside = excluded.outside(&plan.recovered.difference(start));
    if !outside.is_empty() {
        out.push_str(&format!(
            "skipped gtids outside the replay window (already in the dump, beyond the target or not archived): {outside}\n"
        ));
    }
    out
}

/// Refuses excluded GTIDs that the plan would not replay (in the dump, beyond the target, not archived).
pub(crate) fn check_window(
    plan: &Plan,
    start: &History,
    excluded: &ExcludedGtids,
) -> Result<(), Error> {
    let outside = excluded.outside(&plan.recovered.difference(start));
    if outside.is_empty() {
        return Ok(());
    }
    Err(Error::Pitr(format!(
        "excluded gtids {outside} are not in the replay window (after the dump's state {start}, up to {}): \
         they are already in the dump, beyond the target or not in the archive; nothing was replayed; \
         check the GTIDs (a typo?) and remove those",
        plan.recovered
    )))
}

/// Where a skipped MariaDB transaction is in a file.
#[derive(Clone, Debug, Eq, PartialEq)]
pub(crate) struct Cut {
    /// The skipped GTID.
    pub(crate) gtid: MariadbGtid,
    /// The byte offset of its GTID event (the run before it stops there).
    pub(crate) offset: u64,
    /// The GTID position just after it (the run after it starts there).
    pub(crate) resume: String,
    /// Whether the run that ends here applies any transaction.
    pub(crate) busy_before: bool,
    /// Whether the run that starts after it (up to the next cut or the end of the file) applies any.
    pub(crate) busy_after: bool,
}

/// Finds every excluded MariaDB GTID in the downloaded files (`paths`, in plan order), where the replay
/// would apply it; fails naming those it cannot find or that come after a stop time. One list of cuts per
/// file, in file order. MySQL needs no cuts (empty lists).
pub(crate) fn locate(
    plan: &Plan,
    paths: &[PathBuf],
    target: &Target,
    excluded: &ExcludedGtids,
) -> Result<Vec<Vec<Cut>>, Error> {
    let mut cuts = vec![Vec::new(); plan.files.len()];
    if excluded.mariadb.is_empty() {
        return Ok(cuts);
    }
    let stop_time = match target {
        Target::Time(t) => Some(*t),
        _ => None,
    };
    let mut wrong_server = BTreeMap::new();
    let mut late = Vec::new();
    for (k, (f, path)) in plan.files.iter().zip(paths).enumerate() {
        let found = scan_file(f, path, stop_time, excluded)?;
        cuts[k] = found.cuts;
        late.extend(found.late);
        wrong_server.extend(found.wrong_server);
    }
    let located: Vec<_> = cuts.iter().flatten().map(|c| c.gtid).collect();
    let missing: Vec<_> = excluded
        .mariadb
        .iter()
        .filter(|g| !located.contains(g))
        .collect();
    if missing.is_empty() {
        return Ok(cuts);
    }
    let why: Vec<_> = missing
        .iter()
        .map(|g| {
            if late.contains(*g) {
                format!("{g} (after the stop time)")
            } else if let Some((other, file)) = wrong_server.get(&(g.domain, g.seq)) {
                format!("{g} (the archive has {other} in {file}: check the server id)")
            } else {
                format!("{g} (not in the replayed files)")
            }
        })
        .collect();
    Err(Error::Pitr(format!(
        "excluded gtids are not transactions this replay applies: {}; nothing was replayed; fix or remove them",
        why.join(", ")
    )))
}

struct Scan {
    cuts: Vec<Cut>,
    late: Vec<MariadbGtid>,
    wrong_server: BTreeMap<(u32, u64), (MariadbGtid, String)>,
}

/// Reads one file like `mariadb-binlog` with the file's GTID start would, recording the excluded GTIDs.
fn scan_file(
    f: &PlannedFile,
    path: &Path,
    stop_time: Option<DateTime<Utc>>,
    excluded: &ExcludedGtids,
) -> Result<Scan, Error> {
    let mut state: MariadbGtidList = match f.mariadb_start.as_deref() {
        Some(s) if !s.is_empty() => s
            .parse()
            .map_err(|e| Error::Pitr(format!("planned start position {s:?} of {}: {e}", f.file)))?,
        _ => MariadbGtidList::new(),
    };
    let mut scan = Scan {
        cuts: Vec::new(),
        late: Vec::new(),
        wrong_server: BTreeMap::new(),
    };
    let file = std::fs::File::open(path).map_err(|e| Error::io(path.display().to_string(), e))?;
    let mut past_stop = false;
    // Whether the current run (since the last cut) applies a transaction: runs that apply none are left out,
    // since `mariadb-binlog` fails on a GTID start that is the file's last transaction ("never reached
    // expected GTID state").
    let mut busy = false;
    let bad = |e: bloodraven_binlog::Error| Error::Pitr(format!("reading {}: {e}", path.display()));
    for event in Reader::new(std::io::BufReader::new(file)) {
        let event = event.map_err(bad)?;
        let when = event.header().timestamp;
        if let Some(t) = stop_time
            && when != 0
            && i64::from(when) >= t.timestamp()
        {
            past_stop = true;
        }
        let EventData::MariadbGtid(g) = event.data().map_err(bad)? else {
            continue;
        };
        let g = g.gtid;
        if state.get(g.domain).is_some_and(|s| s.seq >= g.seq) {
            continue; // already applied: the run's GTID start skips it
        }
        state.insert(g);
        if excluded.mariadb.contains(&g) {
            if past_stop {
                scan.late.push(g);
            } else {
                scan.cuts.push(Cut {
                    gtid: g,
                    offset: event.offset(),
                    resume: state.to_string(),
                    busy_before: busy,
                    busy_after: false,
                });
                busy = false;
            }
        } else if !past_stop {
            busy = true;
            if let Some(c) = scan.cuts.last_mut() {
                c.busy_after = true;
            }
        }
        for x in excluded.mariadb.iter() {
            if x.domain == g.domain && x.seq == g.seq && x.server_id != g.server_id {
                scan.wrong_server
                    .insert((x.domain, x.seq), (g, f.file.to_string()));
            }
        }
    }
    Ok(scan)
}

/// The `mariadb-binlog`/`mysqlbinlog` argument lists for one file: one run, or (MariaDB) one run per
/// segment between skipped transactions.
pub(crate) fn segments(
    f: &PlannedFile,
    cuts: &[Cut],
    excluded: &ExcludedGtids,
) -> Vec<Vec<String>> {
    if !excluded.mysql.is_empty() {
        // mysqlbinlog takes one --exclude-gtids: merge with the plan's (beyond a GTID target).
        let mut set = excluded.mysql.clone();
        let mut args = Vec::new();
        if let Some(start) = f.mariadb_start.as_deref().filter(|s| !s.is_empty()) {
            args.push(format!("--start-position={start}"));
        }
        match &f.stop {
            Some(Stop::ExcludeGtids(beyond)) => {
                if let Ok(b) = GtidSet::parse(beyond) {
                    set.union_with(&b);
                }
            }
            Some(other) => args.push(other.arg()),
            None => {}
        }
        args.push(Stop::ExcludeGtids(set.to_compact_string()).arg());
        return vec![args];
    }
    if cuts.is_empty() {
        return vec![f.binlog_args()];
    }
    let mut runs = Vec::new();
    let mut start = f.mariadb_start.clone().filter(|s| !s.is_empty());
    for cut in cuts {
        if cut.busy_before {
            let mut args: Vec<String> = start
                .iter()
                .map(|s| format!("--start-position={s}"))
                .collect();
            args.push(format!("--stop-position={}", cut.offset));
            if let Some(stop @ Stop::Datetime(_)) = &f.stop {
                args.push(stop.arg());
            }
            args.extend(f.ignore_domains_arg());
            runs.push(args);
        }
        start = Some(cut.resume.clone());
    }
    if cuts.last().is_some_and(|c| c.busy_after) {
        let mut last: Vec<String> = start
            .iter()
            .map(|s| format!("--start-position={s}"))
            .collect();
        last.extend(f.stop.iter().map(Stop::arg));
        last.extend(f.ignore_domains_arg());
        runs.push(last);
    }
    runs
}

#[cfg(test)]
mod tests {
    use bloodraven_binlog::continuity::FileRef;
    use bloodraven_binlog::manifest::ManifestEntry;

    use super::*;

    fn planned(start: Option<&str>, stop: Option<Stop>) -> PlannedFile {
        PlannedFile {
            file: FileRef {
                site: "east".into(),
                name: "mysql-bin.000002".into(),
            },
            entry: ManifestEntry::default(),
            adds: History::new(),
            mariadb_start: start.map(str::to_owned),
            stop,
            mariadb_ignore_domains: Vec::new(),
        }
    }

    #[test]
    fn parses_mariadb_transactions_not_positions() {
        let x = ExcludedGtids::parse(" 0-1-7, 0-1-3,0-1-7").unwrap();
        assert_eq!(x.to_string(), "0-1-3,0-1-7");
        let window = History::parse("0-1-10", "t")
            .unwrap()
            .difference(&History::parse("0-1-2", "t").unwrap());
        assert_eq!(x.outside(&window), "");
        let window = History::parse("0-1-10", "t")
            .unwrap()
            .difference(&History::parse("0-1-5", "t").unwrap());
        assert_eq!(x.outside(&window), "0-1-3");
        assert!(ExcludedGtids::parse("").unwrap().is_empty());
        assert!(ExcludedGtids::parse("0-1-0").is_err());
        assert!(ExcludedGtids::parse("0-1").is_err());
    }

    #[test]
    fn mysql_excludes_merge_with_the_plans_stop() {
        let uuid = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
        let x = ExcludedGtids::parse(&format!("{uuid}:5")).unwrap();
        let f = planned(None, Some(Stop::ExcludeGtids(format!("{uuid}:9-10"))));
        assert_eq!(
            segments(&f, &[], &x),
            vec![vec![format!("--exclude-gtids={uuid}:5:9-10")]]
        );
        let f = planned(None, None);
        assert_eq!(
            segments(&f, &[], &x),
            vec![vec![format!("--exclude-gtids={uuid}:5")]]
        );
    }

    #[test]
    fn mariadb_runs_go_around_each_cut() {
        let x = ExcludedGtids::parse("0-1-4,0-1-6").unwrap();
        let cut = |seq, offset, resume: &str| Cut {
            gtid: MariadbGtid {
                domain: 0,
                server_id: 1,
                seq,
            },
            offset,
            resume: resume.into(),
            busy_before: true,
            busy_after: true,
        };
        let cuts = [cut(4, 832, "0-1-4"), cut(6, 1232, "0-1-6")];
        let f = planned(Some("0-1-2"), Some(Stop::MariadbGtid("0-1-9".into())));
        assert_eq!(
            segments(&f, &cuts, &x),
            vec![
                vec![
                    "--start-position=0-1-2".to_owned(),
                    "--stop-position=832".into()
                ],
                vec![
                    "--start-position=0-1-4".to_owned(),
                    "--stop-position=1232".into()
                ],
                vec![
                    "--start-position=0-1-6".to_owned(),
                    "--stop-position=0-1-9".into()
                ],
            ]
        );
        // No GTID start (an empty dump state): the first run starts at the top of the file.
        let f = planned(None, None);
        assert_eq!(
            segments(&f, &cuts[..1], &x),
            vec![
                vec!["--stop-position=832".to_owned()],
                vec!["--start-position=0-1-4".to_owned()],
            ]
        );
        // Runs that apply nothing are left out: the skipped transaction opens the file or ends it.
        let mut lone = cut(4, 832, "0-1-4");
        lone.busy_before = false;
        lone.busy_after = false;
        assert!(segments(&f, &[lone], &x).is_empty());
        let mut first = cut(4, 832, "0-1-4");
        first.busy_before = false;
        assert_eq!(
            segments(&f, &[first], &x),
            vec![vec!["--start-position=0-1-4".to_owned()]]
        );
    }
}
