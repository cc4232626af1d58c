//! Continuity of the archive: per-site chains and a gap-free GTID history across sites.
//!
//! Each archived file is described by three transaction sets ([`History`]): what was executed before it
//! (MySQL `previousGtids`, MariaDB `mariadbGtidList`), what it contains, and what was executed at its end.
//! Two rules follow:
//!
//! - **Chain per site**: consecutive files of one site's manifest must chain, i.e. each file's previous
//!   set equals the prior file's end set. A break names both files and the transactions that are missing
//!   or unexpected between them.
//! - **History across sites**: starting from a dump's GTID set, files are applied in GTID order (the
//!   same walk the PITR planner does, never file-name order across servers) until the newest archived
//!   transaction is covered. A file whose previous set is not yet covered marks a gap: the report names
//!   the missing transactions and the files on both sides.
//!
//! Entries written by the Go archiver carry only `previousGtids` (none at all for a server's first file,
//! whose previous set is empty). Such an entry takes its end set from the next entry of the same site
//! when that one's previous set contains its own (the chain rule); the last one of a site cannot be
//! bounded and is reported as unverifiable rather than guessed at. Whoever can read the objects learns
//! its end set from the file itself ([`pitr::learn_end_sets`](crate::pitr::learn_end_sets)).

mod history;

use std::fmt;

use bloodraven_gtid::{GtidSet, MariadbGtidList};

use crate::Error;
use crate::manifest::{Manifest, ManifestEntry};

pub use history::History;

/// A file in the archive: site and binlog name.
#[derive(Clone, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub struct FileRef {
    /// Site whose manifest lists the file.
    pub site: String,
    /// Binlog basename.
    pub name: String,
}

impl fmt::Display for FileRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.site, self.name)
    }
}

/// Consecutive files of one site that do not chain.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct ChainBreak {
    /// The earlier file.
    pub before: FileRef,
    /// The next file in the manifest.
    pub after: FileRef,
    /// Transactions the next file's previous set has but the earlier file's end set lacks.
    pub missing: History,
    /// Transactions the earlier file ended with that the next file's previous set lacks.
    pub unexpected: History,
}

/// Transactions no archived file provides at the point where the history needs them.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Gap {
    /// The missing transactions.
    pub missing: History,
    /// The last file applied before the gap (`None`: the gap follows the starting set).
    pub after: Option<FileRef>,
    /// The first file that needs the missing transactions.
    pub before: FileRef,
}

impl fmt::Display for Gap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.after {
            Some(a) => write!(
                f,
                "missing {} between {a} and {}",
                self.missing, self.before
            ),
            None => write!(
                f,
                "missing {} between the starting set and {}",
                self.missing, self.before
            ),
        }
    }
}

/// The result of [`check`].
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct ContinuityReport {
    /// Per-site chain breaks.
    pub chain_breaks: Vec<ChainBreak>,
    /// Gaps in the history from the starting set.
    pub gaps: Vec<Gap>,
    /// Entries without GTID information (written by an older archiver).
    pub unverifiable: Vec<FileRef>,
    /// Everything reachable without a gap: the starting set plus the files applied in order.
    pub covered: History,
    /// Everything the archive knows of: the starting set plus every file's end set.
    pub newest: History,
}

impl ContinuityReport {
    /// Transactions in the archive that cannot be reached from the starting set.
    pub fn unreachable(&self) -> History {
        self.newest.difference(&self.covered)
    }

    /// No chain break, no gap and nothing unverifiable.
    pub fn is_continuous(&self) -> bool {
        self.chain_breaks.is_empty() && self.gaps.is_empty() && self.unverifiable.is_empty()
    }
}

/// Checks chains per site and the history from `start` across all `manifests`.
pub fn check(manifests: &[Manifest], start: &History) -> Result<ContinuityReport, Error> {
    let (files, unverifiable) = archived_files(manifests)?;
    let mut report = ContinuityReport {
        unverifiable,
        ..Default::default()
    };
    for pair in files.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        if a.file.site == b.file.site && a.end != b.previous {
            report.chain_breaks.push(ChainBreak {
                before: a.file.clone(),
                after: b.file.clone(),
                missing: b.previous.difference(&a.end),
                unexpected: a.end.difference(&b.previous),
            });
        }
    }
    let walk = walk(&files, start, |_| true, |_| false);
    report.covered = walk.covered;
    report.gaps = walk.gaps;
    report.newest = files.iter().fold(start.clone(), |acc, f| acc.union(&f.end));
    Ok(report)
}

/// One manifest entry with its transaction sets.
#[derive(Clone, Debug)]
pub(crate) struct ArchivedFile {
    pub(crate) file: FileRef,
    pub(crate) entry: ManifestEntry,
    pub(crate) previous: History,
    pub(crate) contained: History,
    pub(crate) end: History,
    /// MariaDB states as written (server ids for positions).
    pub(crate) mariadb_lists: Vec<MariadbGtidList>,
}

/// Files with GTID information in manifest order (site by site), and the refs of those without.
pub(crate) fn archived_files(
    manifests: &[Manifest],
) -> Result<(Vec<ArchivedFile>, Vec<FileRef>), Error> {
    let mut files = Vec::new();
    let mut unverifiable = Vec::new();
    for m in manifests {
        for (i, e) in m.files.iter().enumerate() {
            let file = FileRef {
                site: m.site.clone(),
                name: e.name.clone(),
            };
            let what = |field: &str| format!("{} files[{i}].{field} of site {}", e.name, m.site);
            let parsed = if let (Some(start), Some(end)) =
                (&e.mariadb_gtid_list, &e.mariadb_end_gtid_list)
            {
                let parse = |t: &str, f: &str| {
                    t.parse::<MariadbGtidList>().map_err(|c| Error::Gtid {
                        what: what(f),
                        text: t.to_owned(),
                        cause: c.to_string(),
                    })
                };
                let (s, en) = (
                    parse(start, "mariadbGtidList")?,
                    parse(end, "mariadbEndGtidList")?,
                );
                let previous = History::from_mariadb_state(&s);
                let end = History::from_mariadb_state(&en);
                Some((
                    previous.clone(),
                    end.difference(&previous),
                    end,
                    vec![s, en],
                ))
            } else if e.gtids.is_some() || !e.end_gtids.is_empty() || go_chained(&m.files, i) {
                let parse = |t: &str, f: &str| {
                    GtidSet::parse(t)
                        .map(History::from_mysql)
                        .map_err(|c| Error::Gtid {
                            what: what(f),
                            text: t.to_owned(),
                            cause: c.to_string(),
                        })
                };
                let previous = parse(&e.previous_gtids, "previousGtids")?;
                let (contained, end) = match (&e.gtids, e.end_gtids.is_empty()) {
                    (Some(g), false) => (parse(g, "gtids")?, parse(&e.end_gtids, "endGtids")?),
                    (Some(g), true) => {
                        let g = parse(g, "gtids")?;
                        let end = previous.union(&g);
                        (g, end)
                    }
                    (None, false) => {
                        let end = parse(&e.end_gtids, "endGtids")?;
                        (end.difference(&previous), end)
                    }
                    // A Go-written entry: its end is the next file's previous set (the chain rule).
                    (None, true) => {
                        let end = parse(&m.files[i + 1].previous_gtids, "previousGtids")?;
                        (end.difference(&previous), end)
                    }
                };
                Some((previous, contained, end, Vec::new()))
            } else {
                None
            };
            match parsed {
                Some((previous, contained, end, mariadb_lists)) => files.push(ArchivedFile {
                    file,
                    entry: e.clone(),
                    previous,
                    contained,
                    end,
                    mariadb_lists,
                }),
                None => unverifiable.push(file),
            }
        }
    }
    Ok((files, unverifiable))
}

/// Whether entry `i` is a Go-written MySQL entry (previous GTIDs only) followed by an entry with a
/// previous set that contains it, so its end set can be taken from the chain.
fn go_chained(files: &[ManifestEntry], i: usize) -> bool {
    let (Some(e), Some(next)) = (files.get(i), files.get(i + 1)) else {
        return false;
    };
    // An empty previous set is a server's first file (Go omits the key then); the next file's previous
    // set bounds it all the same.
    if next.previous_gtids.is_empty() || e.mariadb_gtid_list.is_some() {
        return false;
    }
    match (
        GtidSet::parse(&e.previous_gtids),
        GtidSet::parse(&next.previous_gtids),
    ) {
        (Ok(a), Ok(b)) => a.is_subset(&b),
        _ => false,
    }
}

/// The result of walking the history.
pub(crate) struct Walk {
    /// Indexes into the files, in replay order.
    pub(crate) order: Vec<usize>,
    /// Coverage before each applied file (same length as `order`).
    pub(crate) before: Vec<History>,
    pub(crate) covered: History,
    pub(crate) gaps: Vec<Gap>,
}

/// Applies files in GTID order from `start`: repeatedly the file whose previous set is covered and that
/// adds something, preferring the earliest (smallest previous set, then earliest first event). `wanted`
/// filters files that may be applied at all and `done` ends the walk early (the planner's target). Stops at the first gap and reports it,
/// together with the transactions that the stuck files need.
pub(crate) fn walk(
    files: &[ArchivedFile],
    start: &History,
    wanted: impl Fn(&ArchivedFile) -> bool,
    done: impl Fn(&History) -> bool,
) -> Walk {
    let mut covered = start.clone();
    let mut used = vec![false; files.len()];
    let mut w = Walk {
        order: Vec::new(),
        before: Vec::new(),
        covered: History::new(),
        gaps: Vec::new(),
    };
    while !done(&covered) {
        let useful: Vec<usize> = (0..files.len())
            .filter(|&i| !used[i] && wanted(&files[i]) && !files[i].contained.is_subset(&covered))
            .collect();
        if useful.is_empty() {
            break;
        }
        let ready = useful
            .iter()
            .copied()
            .filter(|&i| files[i].previous.is_subset(&covered))
            .min_by_key(|&i| {
                (
                    files[i].previous.count(),
                    files[i].entry.first_event_time,
                    files[i].file.clone(),
                )
            });
        match ready {
            Some(i) => {
                used[i] = true;
                w.order.push(i);
                w.before.push(covered.clone());
                covered = covered.union(&files[i].end);
            }
            None => {
                // The stuck file that needs the least is where the history breaks.
                let stuck = useful
                    .iter()
                    .map(|&i| (i, files[i].previous.difference(&covered)))
                    .min_by_key(|(i, m)| (m.count(), files[*i].file.clone()));
                let Some((i, missing)) = stuck else { break };
                w.gaps.push(Gap {
                    missing,
                    after: w.order.last().map(|&j| files[j].file.clone()),
                    before: files[i].file.clone(),
                });
                break;
            }
        }
    }
    w.covered = covered;
    w
}

#[cfg(test)]
pub(crate) mod tests;
