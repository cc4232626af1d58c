//! [`History`]: a set of transactions in either GTID flavour, with the set algebra continuity needs.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use bloodraven_gtid::{GtidSet, MariadbGtid, MariadbGtidList};

use crate::Error;

/// A set of transactions: MySQL GTIDs (per server UUID and tag) and MariaDB GTIDs (per domain, as
/// sequence-number ranges).
///
/// MariaDB numbers the transactions of a domain 1, 2, 3, ... on whichever server is primary, so a binlog
/// state such as `0-1-100` (domain 0, last sequence 100) stands for the transactions `1..=100` of domain 0,
/// and a failover that keeps the domain continues the same sequence. MySQL GTID sets are exact already.
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct History {
    mysql: GtidSet,
    mariadb: BTreeMap<u32, Ranges>,
}

/// Sorted, disjoint, non-adjacent inclusive ranges.
type Ranges = Vec<(u64, u64)>;

impl History {
    /// The empty set.
    pub fn new() -> Self {
        History::default()
    }

    /// A MySQL GTID set.
    pub fn from_mysql(set: GtidSet) -> Self {
        History {
            mysql: set,
            mariadb: BTreeMap::new(),
        }
    }

    /// Everything up to each position of a MariaDB binlog state (`gtid_binlog_pos` text, a GTID_LIST).
    pub fn from_mariadb_state(list: &MariadbGtidList) -> Self {
        let mut mariadb = BTreeMap::new();
        for g in list.iter() {
            let top = mariadb.entry(g.domain).or_insert(0u64);
            *top = (*top).max(g.seq);
        }
        let mariadb = mariadb
            .into_iter()
            .filter(|(_, top)| *top > 0)
            .map(|(d, top)| (d, vec![(1, top)]))
            .collect();
        History {
            mysql: GtidSet::new(),
            mariadb,
        }
    }

    /// Parses a dump's GTID text: a MariaDB list (`0-1-100,1-2-7`) or a MySQL GTID set; `what` names the
    /// value in errors.
    pub fn parse(text: &str, what: &str) -> Result<Self, Error> {
        let t = text.trim();
        let looks_mariadb = !t.is_empty()
            && t.split(',').all(|p| {
                let parts: Vec<_> = p.trim().split('-').collect();
                parts.len() == 3
                    && parts
                        .iter()
                        .all(|x| !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit()))
            });
        let err = |cause: bloodraven_gtid::Error| Error::Gtid {
            what: what.to_owned(),
            text: text.to_owned(),
            cause: cause.to_string(),
        };
        if looks_mariadb {
            Ok(History::from_mariadb_state(
                &MariadbGtidList::from_str(t).map_err(err)?,
            ))
        } else {
            Ok(History::from_mysql(GtidSet::parse(t).map_err(err)?))
        }
    }

    /// Whether no transaction is in the set.
    pub fn is_empty(&self) -> bool {
        self.mysql.is_empty() && self.mariadb.is_empty()
    }

    /// Number of transactions.
    pub fn count(&self) -> u128 {
        let maria: u128 = self
            .mariadb
            .values()
            .flatten()
            .map(|(a, b)| u128::from(b - a) + 1)
            .sum();
        self.mysql.count() + maria
    }

    /// The MySQL part.
    pub fn mysql(&self) -> &GtidSet {
        &self.mysql
    }

    /// The highest MariaDB sequence number of each domain.
    pub fn mariadb_tips(&self) -> impl Iterator<Item = (u32, u64)> + '_ {
        self.mariadb
            .iter()
            .filter_map(|(d, r)| r.last().map(|&(_, hi)| (*d, hi)))
    }

    /// The lowest MariaDB sequence number of each domain.
    pub fn mariadb_firsts(&self) -> impl Iterator<Item = (u32, u64)> + '_ {
        self.mariadb
            .iter()
            .filter_map(|(d, r)| r.first().map(|&(lo, _)| (*d, lo)))
    }

    /// self ∪ other.
    pub fn union(&self, other: &History) -> History {
        let mut out = self.clone();
        out.mysql.union_with(&other.mysql);
        for (d, r) in &other.mariadb {
            let mine = out.mariadb.entry(*d).or_default();
            *mine = ranges_union(mine, r);
        }
        out
    }

    /// self − other.
    pub fn difference(&self, other: &History) -> History {
        let mysql = self.mysql.difference(&other.mysql);
        let mut mariadb = BTreeMap::new();
        for (d, r) in &self.mariadb {
            let rest = match other.mariadb.get(d) {
                Some(o) => ranges_difference(r, o),
                None => r.clone(),
            };
            if !rest.is_empty() {
                mariadb.insert(*d, rest);
            }
        }
        History { mysql, mariadb }
    }

    /// self ∩ other.
    pub fn intersection(&self, other: &History) -> History {
        self.difference(&self.difference(other))
    }

    /// Whether every transaction of self is in other.
    pub fn is_subset(&self, other: &History) -> bool {
        self.difference(other).is_empty()
    }

    /// Per source, everything from 1 up to the highest transaction of self (an inclusive stop target).
    pub fn up_to_max(&self) -> History {
        self.map_sources(|ranges| ranges.last().map(|&(_, hi)| (1, hi)))
    }

    /// Per source, everything from 1 up to just before the lowest transaction of self (an exclusive stop).
    pub fn before_min(&self) -> History {
        self.map_sources(|ranges| {
            ranges
                .first()
                .and_then(|&(lo, _)| (lo > 1).then_some((1, lo - 1)))
        })
    }

    /// The transactions of self whose source (server UUID and tag, or MariaDB domain) appears in other.
    pub fn restricted_to_sources_of(&self, other: &History) -> History {
        let mut mysql = GtidSet::new();
        for (uuid, tag, iv) in self.mysql.intervals() {
            if !other.mysql.intervals_of(&uuid, tag).is_empty() {
                // Invariant: the interval came from a valid set, so it is valid.
                let _ = mysql.insert_interval(uuid, tag, iv.start(), iv.end());
            }
        }
        let mariadb = self
            .mariadb
            .iter()
            .filter(|(d, _)| other.mariadb.contains_key(d))
            .map(|(d, r)| (*d, r.clone()))
            .collect();
        History { mysql, mariadb }
    }

    /// A MariaDB `--start-position`/`--stop-position` list for the tips of self, taking server ids from
    /// `known` states (0 when unknown).
    pub fn mariadb_position(&self, known: &[&MariadbGtidList]) -> MariadbGtidList {
        let mut list = MariadbGtidList::new();
        for (domain, seq) in self.mariadb_tips() {
            let server_id = known
                .iter()
                .find_map(|l| {
                    l.iter()
                        .find(|g| g.domain == domain && g.seq == seq)
                        .map(|g| g.server_id)
                })
                .unwrap_or(0);
            list.insert(MariadbGtid {
                domain,
                server_id,
                seq,
            });
        }
        list
    }

    fn map_sources(&self, f: impl Fn(&Ranges) -> Option<(u64, u64)>) -> History {
        let mut mysql = GtidSet::new();
        let mut per: BTreeMap<(bloodraven_gtid::ServerUuid, bloodraven_gtid::Tag), Ranges> =
            BTreeMap::new();
        for (uuid, tag, iv) in self.mysql.intervals() {
            per.entry((uuid, *tag))
                .or_default()
                .push((iv.start(), iv.end()));
        }
        for ((uuid, tag), ranges) in per {
            if let Some((lo, hi)) = f(&ranges) {
                let _ = mysql.insert_interval(uuid, &tag, lo, hi);
            }
        }
        let mariadb = self
            .mariadb
            .iter()
            .filter_map(|(d, r)| f(r).map(|x| (*d, vec![x])))
            .collect();
        History { mysql, mariadb }
    }
}

impl fmt::Display for History {
    /// MySQL part as a single-line GTID set; MariaDB part as `domain D seq A-B[,C-D]`; `;` between.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if !self.mysql.is_empty() {
            parts.push(self.mysql.to_compact_string());
        }
        for (d, r) in &self.mariadb {
            let ranges: Vec<_> = r
                .iter()
                .map(|(a, b)| {
                    if a == b {
                        a.to_string()
                    } else {
                        format!("{a}-{b}")
                    }
                })
                .collect();
            parts.push(format!("domain {d} seq {}", ranges.join(",")));
        }
        if parts.is_empty() {
            f.write_str("(none)")
        } else {
            f.write_str(&parts.join("; "))
        }
    }
}

fn ranges_union(a: &Ranges, b: &Ranges) -> Ranges {
    let mut all: Ranges = a.iter().chain(b).copied().collect();
    all.sort_unstable();
    let mut out: Ranges = Vec::with_capacity(all.len());
    for (lo, hi) in all {
        match out.last_mut() {
            Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
            _ => out.push((lo, hi)),
        }
    }
    out
}

fn ranges_difference(a: &Ranges, b: &Ranges) -> Ranges {
    let mut out = Vec::new();
    for &(lo, hi) in a {
        let mut cur = lo;
        let mut covered = false;
        for &(blo, bhi) in b {
            if bhi < cur {
                continue;
            }
            if blo > hi {
                break;
            }
            if blo > cur {
                out.push((cur, blo - 1));
            }
            if bhi >= hi {
                covered = true;
                break;
            }
            cur = bhi + 1;
        }
        if !covered {
            out.push((cur, hi));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(text: &str) -> History {
        History::parse(text, "test").unwrap()
    }

    #[test]
    fn mariadb_state_is_everything_up_to_each_tip() {
        let a = h("0-1-100,1-2-7");
        assert_eq!(a.count(), 107);
        assert!(h("0-2-50").is_subset(&a));
        assert!(!h("0-2-101").is_subset(&a));
        assert_eq!(
            h("0-1-120").difference(&a).to_string(),
            "domain 0 seq 101-120"
        );
        assert_eq!(a.mariadb_position(&[]).to_string(), "0-0-100,1-0-7");
        let known: MariadbGtidList = "0-9-100".parse().unwrap();
        assert_eq!(a.mariadb_position(&[&known]).to_string(), "0-9-100,1-0-7");
    }

    #[test]
    fn range_algebra() {
        assert_eq!(
            ranges_union(&vec![(1, 3)], &vec![(4, 6), (9, 9)]),
            vec![(1, 6), (9, 9)]
        );
        assert_eq!(
            ranges_difference(&vec![(1, 10)], &vec![(3, 4), (8, 20)]),
            vec![(1, 2), (5, 7)]
        );
        assert_eq!(ranges_difference(&vec![(1, 10)], &vec![(1, 10)]), vec![]);
        assert_eq!(
            ranges_difference(&vec![(5, 6)], &vec![(1, 2)]),
            vec![(5, 6)]
        );
        assert_eq!(
            ranges_difference(&vec![(1, 10)], &vec![(5, 5)]),
            vec![(1, 4), (6, 10)]
        );
    }

    #[test]
    fn mysql_sets_and_targets() {
        let u = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
        let v = "4e11fa47-71ca-11e1-9e33-c80aa9429562";
        let target = h(&format!("{u}:57-60"));
        assert_eq!(target.up_to_max(), h(&format!("{u}:1-60")));
        assert_eq!(target.before_min(), h(&format!("{u}:1-56")));
        let file = h(&format!("{u}:50-100,{v}:1-5"));
        assert_eq!(
            file.restricted_to_sources_of(&target),
            h(&format!("{u}:50-100"))
        );
        assert!(
            History::parse("nonsense", "start set")
                .unwrap_err()
                .to_string()
                .contains("start set")
        );
        assert_eq!(h("").to_string(), "(none)");
    }
}
