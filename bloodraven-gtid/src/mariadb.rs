//! MariaDB GTIDs (`domain-server-seq`) and position lists (`gtid_binlog_pos`, `gtid_current_pos`,
//! `gtid_slave_pos`).

use std::fmt;
use std::str::FromStr;

use crate::gtid::skip_ws;
use crate::{Error, SetRelation};

/// One MariaDB GTID, `domain-server_id-seq`, e.g. `0-1-42`.
///
/// ```
/// use bloodraven_gtid::MariadbGtid;
/// let gtid: MariadbGtid = "0-1-42".parse()?;
/// assert_eq!((gtid.domain, gtid.server_id, gtid.seq), (0, 1, 42));
/// assert_eq!(gtid.to_string(), "0-1-42");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub struct MariadbGtid {
    /// Replication domain (`gtid_domain_id`).
    pub domain: u32,
    /// The server that wrote the transaction (`server_id`).
    pub server_id: u32,
    /// Sequence number within the domain.
    pub seq: u64,
}

impl MariadbGtid {
    /// `true` when this position includes `other`: same domain and a sequence number at least as high.
    /// The server id is ignored, as MariaDB does.
    pub fn contains(&self, other: &MariadbGtid) -> bool {
        self.domain == other.domain && self.seq >= other.seq
    }

    fn parse_at(s: &[u8], pos: usize) -> Result<(MariadbGtid, usize), Error> {
        let (domain, pos) = number(s, pos, u64::from(u32::MAX), "a domain id (0..=4294967295)")?;
        let pos = dash(s, pos)?;
        let (server_id, pos) = number(s, pos, u64::from(u32::MAX), "a server id (0..=4294967295)")?;
        let pos = dash(s, pos)?;
        let (seq, pos) = number(
            s,
            pos,
            u64::MAX,
            "a sequence number (0..=18446744073709551615)",
        )?;
        // Both bounds were checked by `number`.
        Ok((
            MariadbGtid {
                domain: domain as u32,
                server_id: server_id as u32,
                seq,
            },
            pos,
        ))
    }
}

impl fmt::Display for MariadbGtid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}-{}", self.domain, self.server_id, self.seq)
    }
}

impl FromStr for MariadbGtid {
    type Err = Error;

    fn from_str(s: &str) -> Result<MariadbGtid, Error> {
        let b = s.as_bytes();
        let (gtid, pos) = MariadbGtid::parse_at(b, skip_ws(b, 0))?;
        let pos = skip_ws(b, pos);
        if pos != b.len() {
            return Err(Error::syntax(WHAT, b, pos, "the end of the gtid"));
        }
        Ok(gtid)
    }
}

/// A MariaDB GTID position list: at most one GTID per domain, kept sorted by domain.
///
/// Parses the comma list MariaDB prints for `gtid_binlog_pos`, `gtid_current_pos` and `gtid_slave_pos`
/// (whitespace around items allowed); when a domain appears twice, the later entry wins. Prints the GTIDs
/// sorted by domain, joined by `","`; the empty list prints as `""`.
///
/// A position stands for every transaction of its domain up to `seq`, so lists compare per domain by
/// sequence number; server ids do not take part.
///
/// ```
/// use bloodraven_gtid::{MariadbGtidList, SetRelation};
/// let old: MariadbGtidList = "0-1-100,1-2-7".parse()?;
/// let new: MariadbGtidList = "1-3-9, 0-1-100".parse()?;
/// assert_eq!(new.to_string(), "0-1-100,1-3-9");
/// assert_eq!(old.compare(&new), SetRelation::Subset);
/// assert_eq!(new.get(1).map(|g| g.seq), Some(9));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default, Eq, Hash, PartialEq)]
pub struct MariadbGtidList {
    gtids: Vec<MariadbGtid>,
}

impl MariadbGtidList {
    /// The empty list.
    pub fn new() -> MariadbGtidList {
        MariadbGtidList::default()
    }

    /// The GTID of `domain`, if the list has one.
    pub fn get(&self, domain: u32) -> Option<&MariadbGtid> {
        self.gtids
            .binary_search_by_key(&domain, |g| g.domain)
            .ok()
            .map(|i| &self.gtids[i])
    }

    /// The GTIDs, sorted by domain.
    pub fn iter(&self) -> impl Iterator<Item = &MariadbGtid> + '_ {
        self.gtids.iter()
    }

    /// Number of domains.
    pub fn len(&self) -> usize {
        self.gtids.len()
    }

    /// `true` when the list has no GTID.
    pub fn is_empty(&self) -> bool {
        self.gtids.is_empty()
    }

    /// Sets the position of `gtid.domain` to `gtid`, replacing any earlier one (even with a higher seq).
    pub fn insert(&mut self, gtid: MariadbGtid) {
        match self.gtids.binary_search_by_key(&gtid.domain, |g| g.domain) {
            Ok(i) => self.gtids[i] = gtid,
            Err(i) => self.gtids.insert(i, gtid),
        }
    }

    /// Replaces the position of every domain in `other` (MariaDB applying a newer position list).
    pub fn update(&mut self, other: &MariadbGtidList) {
        for gtid in &other.gtids {
            self.insert(*gtid);
        }
    }

    /// `true` when every domain of `other` is in `self` with a sequence number at least as high.
    pub fn contains(&self, other: &MariadbGtidList) -> bool {
        other
            .gtids
            .iter()
            .all(|g| self.get(g.domain).is_some_and(|mine| mine.contains(g)))
    }

    /// Classifies `self` against `other` per domain by sequence number: [`SetRelation::Equal`] when both
    /// contain each other, then subset, superset, disjoint (no domain in common, both non-empty), else
    /// incomparable.
    pub fn compare(&self, other: &MariadbGtidList) -> SetRelation {
        match (other.contains(self), self.contains(other)) {
            (true, true) => SetRelation::Equal,
            (true, false) => SetRelation::Subset,
            (false, true) => SetRelation::Superset,
            (false, false) if self.gtids.iter().all(|g| other.get(g.domain).is_none()) => {
                SetRelation::Disjoint
            }
            (false, false) => SetRelation::Incomparable,
        }
    }
}

impl fmt::Display for MariadbGtidList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, gtid) in self.gtids.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{gtid}")?;
        }
        Ok(())
    }
}

impl FromStr for MariadbGtidList {
    type Err = Error;

    fn from_str(s: &str) -> Result<MariadbGtidList, Error> {
        let b = s.as_bytes();
        let mut list = MariadbGtidList::new();
        let mut pos = skip_ws(b, 0);
        if pos == b.len() {
            return Ok(list);
        }
        loop {
            let (gtid, after) = MariadbGtid::parse_at(b, pos)?;
            list.insert(gtid);
            pos = skip_ws(b, after);
            match b.get(pos) {
                None => return Ok(list),
                Some(b',') => pos = skip_ws(b, pos + 1),
                Some(_) => {
                    return Err(Error::syntax(
                        WHAT_LIST,
                        b,
                        pos,
                        "',' or the end of the list",
                    ));
                }
            }
        }
    }
}

impl<'a> IntoIterator for &'a MariadbGtidList {
    type Item = &'a MariadbGtid;
    type IntoIter = std::slice::Iter<'a, MariadbGtid>;

    fn into_iter(self) -> Self::IntoIter {
        self.gtids.iter()
    }
}

impl FromIterator<MariadbGtid> for MariadbGtidList {
    fn from_iter<I: IntoIterator<Item = MariadbGtid>>(iter: I) -> MariadbGtidList {
        let mut list = MariadbGtidList::new();
        for gtid in iter {
            list.insert(gtid);
        }
        list
    }
}

const WHAT: &str = "mariadb gtid";
const WHAT_LIST: &str = "mariadb gtid list";

fn number(s: &[u8], pos: usize, max: u64, expected: &'static str) -> Result<(u64, usize), Error> {
    let mut end = pos;
    let mut value: u64 = 0;
    let mut overflow = false;
    while let Some(c) = s.get(end).filter(|c| c.is_ascii_digit()) {
        match value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(c - b'0')))
        {
            Some(v) => value = v,
            None => overflow = true,
        }
        end += 1;
    }
    if end == pos || overflow || value > max {
        return Err(Error::syntax(WHAT, s, pos, expected));
    }
    Ok((value, end))
}

fn dash(s: &[u8], pos: usize) -> Result<usize, Error> {
    if s.get(pos) == Some(&b'-') {
        Ok(pos + 1)
    } else {
        Err(Error::syntax(WHAT, s, pos, "'-'"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_keeps_one_per_domain() {
        let list: MariadbGtidList = "2-2-2,1-1-1,2-9-1".parse().unwrap();
        assert_eq!(list.to_string(), "1-1-1,2-9-1");
        assert_eq!(list.len(), 2);
    }

    #[test]
    fn compare_per_domain() {
        let a: MariadbGtidList = "0-1-5,1-1-5".parse().unwrap();
        let b: MariadbGtidList = "0-1-6,1-1-4".parse().unwrap();
        let c: MariadbGtidList = "2-1-1".parse().unwrap();
        assert_eq!(a.compare(&b), SetRelation::Incomparable);
        assert_eq!(a.compare(&c), SetRelation::Disjoint);
        assert_eq!(MariadbGtidList::new().compare(&c), SetRelation::Subset);
        assert_eq!(
            MariadbGtidList::new().compare(&MariadbGtidList::new()),
            SetRelation::Equal
        );
    }

    #[test]
    fn errors_have_offsets() {
        let e = "0-1-1,0-1-x".parse::<MariadbGtidList>().unwrap_err();
        assert_eq!(e.offset(), Some(10));
        let e = "0-1-1 1-1-1".parse::<MariadbGtidList>().unwrap_err();
        assert_eq!(e.offset(), Some(6));
    }
}
