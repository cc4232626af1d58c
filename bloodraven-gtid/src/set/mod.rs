//! [`GtidSet`]: per (uuid, tag) sorted, disjoint, merged GNO intervals, and its algebra.

mod binary;
mod builder;
pub(crate) mod ops;
mod parse;
mod text;

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

pub use builder::GtidSetBuilder;

use crate::{Error, Gtid, Interval, ServerUuid, Tag};

/// A set of GTIDs with exact MySQL semantics.
///
/// For every (server UUID, tag) pair that has at least one GTID, the set holds a list of inclusive GNO
/// intervals that is sorted, disjoint and merged (no two intervals overlap or touch). Pairs are kept in
/// MySQL's print order: by the UUID's 16 bytes, then by tag with the untagged tag first. Because this form
/// is canonical, two sets are equal exactly when their representations are, and `Hash` agrees with `Eq`.
///
/// All binary operations walk both sets once, so they take time linear in the number of intervals.
///
/// ```
/// use bloodraven_gtid::{GtidSet, SetRelation};
/// let primary: GtidSet = "3E11FA47-71CA-11E1-9E33-C80AA9429562:1-10:12, 3e11fa47-71ca-11e1-9e33-c80aa9429562:11".parse()?;
/// assert_eq!(primary.to_string(), "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-12");
/// let replica = GtidSet::parse("3e11fa47-71ca-11e1-9e33-c80aa9429562:1-9")?;
/// assert_eq!(replica.compare(&primary), SetRelation::Subset);
/// assert_eq!(primary.difference(&replica).to_string(), "3e11fa47-71ca-11e1-9e33-c80aa9429562:10-12");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Default, Eq, Hash, PartialEq)]
pub struct GtidSet {
    /// Sorted by (uuid, tag), strictly; never an empty interval list.
    blocks: Vec<Block>,
}

/// The two binary GTID set formats; see [`GtidSet::decode_header`].
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
#[non_exhaustive]
pub enum EncodingFormat {
    /// MySQL 8.3+: header `01 | count (6 bytes LE) | 01`, and every entry carries a tag (possibly empty).
    Tagged,
    /// The classic format: header is the entry count as a u64 LE; no tags.
    Untagged,
}

/// How two GTID sets relate, as answered by [`GtidSet::compare`].
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum SetRelation {
    /// Both sets are non-empty and share no GTID.
    Disjoint,
    /// Both sets hold the same GTIDs (two empty sets are equal).
    Equal,
    /// Each set has GTIDs the other lacks, and they share some: the split-brain case.
    Incomparable,
    /// The left set is a proper subset of the right one (an empty set is a subset of any non-empty set).
    Subset,
    /// The left set is a proper superset of the right one.
    Superset,
}

impl SetRelation {
    /// The lower-case name: `disjoint`, `equal`, `incomparable`, `subset` or `superset`.
    pub fn as_str(&self) -> &'static str {
        match self {
            SetRelation::Disjoint => "disjoint",
            SetRelation::Equal => "equal",
            SetRelation::Incomparable => "incomparable",
            SetRelation::Subset => "subset",
            SetRelation::Superset => "superset",
        }
    }
}

impl fmt::Display for SetRelation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The intervals of one (uuid, tag) pair.
#[derive(Clone, Debug, Eq, Hash, PartialEq)]
pub(crate) struct Block {
    pub(crate) uuid: ServerUuid,
    pub(crate) tag: Tag,
    pub(crate) ivs: Vec<Interval>,
}

impl Block {
    #[inline]
    pub(crate) fn key_cmp(&self, uuid: &ServerUuid, tag: &Tag) -> Ordering {
        self.uuid.cmp(uuid).then_with(|| self.tag.cmp(tag))
    }

    #[inline]
    fn cmp_key(&self, other: &Block) -> Ordering {
        self.key_cmp(&other.uuid, &other.tag)
    }
}

impl GtidSet {
    /// The empty set.
    pub fn new() -> GtidSet {
        GtidSet::default()
    }

    /// Parses MySQL GTID set text exactly as the server does (see the crate docs for the rules).
    pub fn parse(text: &str) -> Result<GtidSet, Error> {
        parse::parse(text)
    }

    /// Decodes the binary form used by `PREVIOUS_GTIDS` events and `COM_BINLOG_DUMP_GTID`, untagged or
    /// tagged (MySQL 8.3+). Rejects truncation, overlapping or unsorted intervals and trailing bytes.
    pub fn decode(bytes: &[u8]) -> Result<GtidSet, Error> {
        binary::decode(bytes)
    }

    /// Reads only the 8-byte header of a binary encoding: its format and how many (uuid, tag) entries
    /// follow.
    pub fn decode_header(bytes: &[u8]) -> Result<(EncodingFormat, u64), Error> {
        binary::decode_header(bytes)
    }

    /// Encodes the set in the binary form of `PREVIOUS_GTIDS` / `COM_BINLOG_DUMP_GTID`: the untagged format
    /// unless some GTID has a tag, then the MySQL 8.3+ tagged format.
    pub fn encode(&self) -> Vec<u8> {
        binary::encode(self)
    }

    /// The canonical text, exactly as [`Display`](fmt::Display) and `to_string()` give it, but faster:
    /// written in place into one allocation, where `to_string()` goes through a formatter and copies it
    /// once more. Where printing is hot, [`write_text`](GtidSet::write_text) into a reused `String` is
    /// faster still.
    ///
    /// ```
    /// use bloodraven_gtid::GtidSet;
    /// let set = GtidSet::parse("3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:7, 4e11fa47-71ca-11e1-9e33-c80aa9429562:3")?;
    /// assert_eq!(set.to_text(), "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:7,\n4e11fa47-71ca-11e1-9e33-c80aa9429562:3");
    /// assert_eq!(set.to_text(), set.to_string());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn to_text(&self) -> String {
        text::render(self, true)
    }

    /// Appends the canonical text to `out`, growing it at most once; when `out` already has the room
    /// (a buffer reused across calls), printing allocates nothing. The fastest way to print a set.
    ///
    /// ```
    /// use bloodraven_gtid::GtidSet;
    /// let sets = ["3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5", "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:7"];
    /// let mut line = String::new();
    /// for text in sets {
    ///     let set = GtidSet::parse(text)?;
    ///     line.clear();
    ///     line.push_str("executed: ");
    ///     set.write_text(&mut line);
    ///     assert_eq!(line, format!("executed: {text}"));
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write_text(&self, out: &mut String) {
        text::append(self, true, out)
    }

    /// The canonical text on one line: blocks joined by `","` instead of `",\n"`.
    pub fn to_compact_string(&self) -> String {
        text::render(self, false)
    }

    /// `true` when the set holds no GTID.
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    /// `true` when some GTID in the set carries a tag.
    pub fn has_tags(&self) -> bool {
        self.blocks.iter().any(|b| !b.tag.is_untagged())
    }

    /// The number of GTIDs in the set.
    pub fn count(&self) -> u128 {
        self.blocks
            .iter()
            .flat_map(|b| &b.ivs)
            .map(|iv| u128::from(iv.len()))
            .sum()
    }

    /// `true` when `gtid` is in the set. O(log n).
    pub fn contains(&self, gtid: &Gtid) -> bool {
        let Ok(i) = self.find(&gtid.uuid(), gtid.tag()) else {
            return false;
        };
        let ivs = &self.blocks[i].ivs;
        let j = ivs.partition_point(|iv| iv.end < gtid.gno());
        ivs.get(j).is_some_and(|iv| iv.start <= gtid.gno())
    }

    /// Adds one GTID. Appending the next GNO of a (uuid, tag) is O(log n) and allocation-free.
    pub fn insert(&mut self, gtid: &Gtid) {
        let iv = Interval {
            start: gtid.gno(),
            end: gtid.gno(),
        };
        self.insert_valid(gtid.uuid(), gtid.tag(), iv);
    }

    /// Adds the GNOs `start..=end_inclusive` of `(uuid, tag)`; fails when the interval is reversed or a
    /// bound is outside `1..=`[`MAX_GNO`](crate::MAX_GNO).
    pub fn insert_interval(
        &mut self,
        uuid: ServerUuid,
        tag: &Tag,
        start: u64,
        end_inclusive: u64,
    ) -> Result<(), Error> {
        let iv = Interval::new(start, end_inclusive)?;
        self.insert_valid(uuid, tag, iv);
        Ok(())
    }

    /// `self ∪ other`.
    pub fn union(&self, other: &GtidSet) -> GtidSet {
        self.merge(other, true, true, ops::union)
    }

    /// `self ∩ other`.
    pub fn intersection(&self, other: &GtidSet) -> GtidSet {
        self.merge(other, false, false, ops::intersection)
    }

    /// `self − other`: the GTIDs of `self` that `other` lacks (MySQL's `GTID_SUBTRACT(self, other)`).
    pub fn difference(&self, other: &GtidSet) -> GtidSet {
        self.merge(other, true, false, ops::difference)
    }

    /// The GTIDs in exactly one of the two sets.
    pub fn symmetric_difference(&self, other: &GtidSet) -> GtidSet {
        self.merge(other, true, true, ops::symmetric_difference)
    }

    /// Adds every GTID of `other` to `self`.
    pub fn union_with(&mut self, other: &GtidSet) {
        if other.blocks.iter().map(|b| b.ivs.len()).sum::<usize>() <= 4 {
            // A few intervals (the common "add this transaction" case): insert in place.
            for b in &other.blocks {
                for &iv in &b.ivs {
                    self.insert_valid(b.uuid, &b.tag, iv);
                }
            }
        } else {
            *self = self.union(other);
        }
    }

    /// Removes every GTID of `other` from `self`.
    pub fn difference_with(&mut self, other: &GtidSet) {
        *self = self.difference(other);
    }

    /// Keeps only the GTIDs that are also in `other`.
    pub fn intersection_with(&mut self, other: &GtidSet) {
        *self = self.intersection(other);
    }

    /// `self ⊆ other`.
    pub fn is_subset(&self, other: &GtidSet) -> bool {
        let mut j = 0;
        for a in &self.blocks {
            // Blocks are sorted, so other's matching block (if any) is ahead of j.
            while j < other.blocks.len() && other.blocks[j].cmp_key(a) == Ordering::Less {
                j += 1;
            }
            match other.blocks.get(j) {
                Some(b) if b.cmp_key(a) == Ordering::Equal && ops::is_subset(&a.ivs, &b.ivs) => {}
                _ => return false,
            }
        }
        true
    }

    /// `self ⊇ other`.
    pub fn is_superset(&self, other: &GtidSet) -> bool {
        other.is_subset(self)
    }

    /// `true` when the sets share no GTID.
    pub fn is_disjoint(&self, other: &GtidSet) -> bool {
        let (mut i, mut j) = (0, 0);
        while i < self.blocks.len() && j < other.blocks.len() {
            let (a, b) = (&self.blocks[i], &other.blocks[j]);
            match a.cmp_key(b) {
                Ordering::Less => i += 1,
                Ordering::Greater => j += 1,
                Ordering::Equal => {
                    if ops::intersects(&a.ivs, &b.ivs) {
                        return false;
                    }
                    i += 1;
                    j += 1;
                }
            }
        }
        true
    }

    /// Classifies `self` against `other`: which replica is fresher, or whether they diverged.
    ///
    /// Checked in this order: [`Equal`](SetRelation::Equal), [`Subset`](SetRelation::Subset),
    /// [`Superset`](SetRelation::Superset), [`Disjoint`](SetRelation::Disjoint), else
    /// [`Incomparable`](SetRelation::Incomparable). So an empty set against a non-empty one is a subset.
    pub fn compare(&self, other: &GtidSet) -> SetRelation {
        if self == other {
            return SetRelation::Equal;
        }
        if self.is_subset(other) {
            return SetRelation::Subset;
        }
        if other.is_subset(self) {
            return SetRelation::Superset;
        }
        if self.is_disjoint(other) {
            SetRelation::Disjoint
        } else {
            SetRelation::Incomparable
        }
    }

    /// The distinct server UUIDs in the set, in ascending order.
    pub fn uuids(&self) -> impl Iterator<Item = ServerUuid> + '_ {
        let mut last = None;
        self.blocks.iter().filter_map(move |b| {
            if last == Some(b.uuid) {
                None
            } else {
                last = Some(b.uuid);
                Some(b.uuid)
            }
        })
    }

    /// Every interval with its (uuid, tag), in canonical order.
    pub fn intervals(&self) -> impl Iterator<Item = (ServerUuid, &Tag, Interval)> + '_ {
        self.blocks
            .iter()
            .flat_map(|b| b.ivs.iter().map(move |iv| (b.uuid, &b.tag, *iv)))
    }

    /// The intervals of one (uuid, tag) pair; empty when the pair has no GTID.
    pub fn intervals_of(&self, uuid: &ServerUuid, tag: &Tag) -> &[Interval] {
        match self.find(uuid, tag) {
            Ok(i) => &self.blocks[i].ivs,
            Err(_) => &[],
        }
    }

    /// Every GTID, in canonical order. Beware: a set like `uuid:1-1000000000` yields a billion items.
    pub fn iter(&self) -> impl Iterator<Item = Gtid> + '_ {
        self.intervals().flat_map(|(uuid, tag, iv)| {
            let tag = *tag;
            // Bounds were checked when the interval entered the set.
            (iv.start..=iv.end).filter_map(move |gno| Gtid::new(uuid, tag, gno).ok())
        })
    }

    /// The GTIDs of one server (all its tags).
    pub fn project(&self, uuid: ServerUuid) -> GtidSet {
        let r = self.uuid_range(&uuid);
        GtidSet {
            blocks: self.blocks[r].to_vec(),
        }
    }

    /// The GTIDs of every server except `uuid`.
    pub fn without_uuid(&self, uuid: ServerUuid) -> GtidSet {
        let r = self.uuid_range(&uuid);
        let mut blocks = Vec::with_capacity(self.blocks.len() - r.len());
        blocks.extend_from_slice(&self.blocks[..r.start]);
        blocks.extend_from_slice(&self.blocks[r.end..]);
        GtidSet { blocks }
    }

    pub(crate) fn blocks(&self) -> &[Block] {
        &self.blocks
    }

    /// Wraps blocks that are already sorted, unique by key and non-empty.
    pub(crate) fn from_sorted_blocks(blocks: Vec<Block>) -> GtidSet {
        debug_assert!(
            blocks
                .windows(2)
                .all(|w| w[0].cmp_key(&w[1]) == Ordering::Less)
        );
        debug_assert!(blocks.iter().all(|b| !b.ivs.is_empty()));
        GtidSet { blocks }
    }

    fn find(&self, uuid: &ServerUuid, tag: &Tag) -> Result<usize, usize> {
        self.blocks.binary_search_by(|b| b.key_cmp(uuid, tag))
    }

    fn uuid_range(&self, uuid: &ServerUuid) -> std::ops::Range<usize> {
        let start = self.blocks.partition_point(|b| b.uuid < *uuid);
        let end = start + self.blocks[start..].partition_point(|b| b.uuid == *uuid);
        start..end
    }

    fn insert_valid(&mut self, uuid: ServerUuid, tag: &Tag, iv: Interval) {
        // Fast path: the last block (GTIDs of one server usually arrive together).
        if let Some(last) = self.blocks.last_mut() {
            match last.key_cmp(&uuid, tag) {
                Ordering::Equal => return ops::insert(&mut last.ivs, iv),
                Ordering::Less => {
                    self.blocks.push(Block {
                        uuid,
                        tag: *tag,
                        ivs: vec![iv],
                    });
                    return;
                }
                Ordering::Greater => {}
            }
        }
        match self.find(&uuid, tag) {
            Ok(i) => ops::insert(&mut self.blocks[i].ivs, iv),
            Err(i) => self.blocks.insert(
                i,
                Block {
                    uuid,
                    tag: *tag,
                    ivs: vec![iv],
                },
            ),
        }
    }

    /// Merge-joins the blocks of both sets; `op` combines the intervals of a key present in both.
    fn merge(
        &self,
        other: &GtidSet,
        keep_left: bool,
        keep_right: bool,
        op: fn(&[Interval], &[Interval], &mut Vec<Interval>),
    ) -> GtidSet {
        let (a, b) = (&self.blocks, &other.blocks);
        let mut blocks = Vec::with_capacity(
            if keep_left { a.len() } else { 0 } + if keep_right { b.len() } else { 0 },
        );
        let (mut i, mut j) = (0, 0);
        while i < a.len() && j < b.len() {
            match a[i].cmp_key(&b[j]) {
                Ordering::Less => {
                    if keep_left {
                        blocks.push(a[i].clone());
                    }
                    i += 1;
                }
                Ordering::Greater => {
                    if keep_right {
                        blocks.push(b[j].clone());
                    }
                    j += 1;
                }
                Ordering::Equal => {
                    let mut ivs = Vec::new();
                    op(&a[i].ivs, &b[j].ivs, &mut ivs);
                    if !ivs.is_empty() {
                        blocks.push(Block {
                            uuid: a[i].uuid,
                            tag: a[i].tag,
                            ivs,
                        });
                    }
                    i += 1;
                    j += 1;
                }
            }
        }
        if keep_left {
            blocks.extend_from_slice(&a[i..]);
        }
        if keep_right {
            blocks.extend_from_slice(&b[j..]);
        }
        GtidSet { blocks }
    }
}

impl fmt::Display for GtidSet {
    /// The canonical MySQL text, blocks joined by `",\n"`; empty for the empty set.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        text::fmt(self, true, f)
    }
}

impl fmt::Debug for GtidSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GtidSet({:?})", self.to_compact_string())
    }
}

impl FromStr for GtidSet {
    type Err = Error;

    fn from_str(s: &str) -> Result<GtidSet, Error> {
        parse::parse(s)
    }
}

impl From<Gtid> for GtidSet {
    fn from(gtid: Gtid) -> GtidSet {
        let mut set = GtidSet::new();
        set.insert(&gtid);
        set
    }
}

impl FromIterator<Gtid> for GtidSet {
    fn from_iter<I: IntoIterator<Item = Gtid>>(iter: I) -> GtidSet {
        let mut builder = GtidSetBuilder::new();
        for gtid in iter {
            builder.push(&gtid);
        }
        builder.build()
    }
}

impl Extend<Gtid> for GtidSet {
    fn extend<I: IntoIterator<Item = Gtid>>(&mut self, iter: I) {
        for gtid in iter {
            self.insert(&gtid);
        }
    }
}
