//! [`GtidSetBuilder`]: collects GTIDs and intervals in any order, then builds a canonical set.

use std::cmp::Ordering;

use super::{Block, GtidSet, ops};
use crate::{Error, Gtid, Interval, ServerUuid, Tag};

/// Builds a [`GtidSet`] from GTIDs or intervals pushed one at a time.
///
/// Pushing in canonical order (as a binlog or a `gtid_executed` dump delivers them) costs O(1) per push and
/// `build` is O(n); any other order is accepted and sorted once in `build`, O(n log n). The text parser and
/// the binary decoder use this builder.
///
/// ```
/// use bloodraven_gtid::{GtidSetBuilder, ServerUuid, Tag};
/// let uuid: ServerUuid = "3e11fa47-71ca-11e1-9e33-c80aa9429562".parse()?;
/// let mut builder = GtidSetBuilder::new();
/// for gno in 1..=5 {
///     builder.push(&bloodraven_gtid::Gtid::new(uuid, Tag::default(), gno)?);
/// }
/// builder.push_interval(uuid, &Tag::parse("t")?, 1, 3)?;
/// assert_eq!(builder.build().to_string(), "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:t:1-3");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct GtidSetBuilder {
    blocks: Vec<Block>,
    /// Every block key is greater than the previous one.
    blocks_sorted: bool,
    /// The last block's intervals are canonical.
    last_sorted: bool,
}

impl GtidSetBuilder {
    /// An empty builder.
    pub fn new() -> GtidSetBuilder {
        GtidSetBuilder {
            blocks: Vec::new(),
            blocks_sorted: true,
            last_sorted: true,
        }
    }

    /// Adds one GTID.
    pub fn push(&mut self, gtid: &Gtid) {
        self.push_valid(
            gtid.uuid(),
            gtid.tag(),
            Interval {
                start: gtid.gno(),
                end: gtid.gno(),
            },
        );
    }

    /// Adds the GNOs `start..=end_inclusive` of `(uuid, tag)`; fails when the interval is reversed or a
    /// bound is outside `1..=`[`MAX_GNO`](crate::MAX_GNO).
    pub fn push_interval(
        &mut self,
        uuid: ServerUuid,
        tag: &Tag,
        start: u64,
        end_inclusive: u64,
    ) -> Result<(), Error> {
        let iv = Interval::new(start, end_inclusive)?;
        self.push_valid(uuid, tag, iv);
        Ok(())
    }

    /// `true` when nothing has been pushed.
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    /// The canonical set of everything pushed.
    pub fn build(mut self) -> GtidSet {
        self.finish_last();
        if !self.blocks_sorted {
            self.blocks.sort_by(Block::cmp_key);
            let mut merged: Vec<Block> = Vec::with_capacity(self.blocks.len());
            for block in self.blocks {
                match merged.last_mut() {
                    Some(last) if last.cmp_key(&block) == Ordering::Equal => {
                        let mut ivs = Vec::with_capacity(last.ivs.len() + block.ivs.len());
                        ops::union(&last.ivs, &block.ivs, &mut ivs);
                        last.ivs = ivs;
                    }
                    _ => merged.push(block),
                }
            }
            self.blocks = merged;
        }
        GtidSet::from_sorted_blocks(self.blocks)
    }

    /// Adds an interval whose bounds are already checked.
    #[inline]
    pub(crate) fn push_valid(&mut self, uuid: ServerUuid, tag: &Tag, iv: Interval) {
        self.select(uuid, tag);
        self.push_last(iv);
    }

    /// Makes `(uuid, tag)` the block that [`push_last`](Self::push_last) appends to. An interval must be
    /// pushed before the next `select` or `build`, so no block stays empty.
    #[inline]
    pub(crate) fn select(&mut self, uuid: ServerUuid, tag: &Tag) {
        if let Some(last) = self.blocks.last() {
            match last.key_cmp(&uuid, tag) {
                Ordering::Equal => return,
                Ordering::Greater => self.blocks_sorted = false,
                Ordering::Less => {}
            }
            self.finish_last();
        }
        if self.blocks.capacity() == 0 {
            // Most sets have one block: allocate just that, directly rather than through `push`'s growth.
            self.blocks.reserve_exact(1);
        }
        self.blocks.push(Block {
            uuid,
            tag: *tag,
            // An interval is always pushed next; 4 is the capacity `push` would choose.
            ivs: Vec::with_capacity(4),
        });
    }

    /// Appends an interval to the selected block.
    #[inline]
    pub(crate) fn push_last(&mut self, iv: Interval) {
        let Some(block) = self.blocks.last_mut() else {
            return;
        };
        match block.ivs.last_mut() {
            None => block.ivs.push(iv),
            Some(l) if iv.start > l.end + 1 => block.ivs.push(iv),
            Some(l) if iv.start >= l.start => l.end = l.end.max(iv.end),
            Some(_) => {
                self.last_sorted = false;
                block.ivs.push(iv);
            }
        }
    }

    /// Makes the last block's intervals canonical before another block starts.
    fn finish_last(&mut self) {
        if !self.last_sorted {
            if let Some(last) = self.blocks.last_mut() {
                ops::normalize(&mut last.ivs);
            }
            self.last_sorted = true;
        }
    }
}
