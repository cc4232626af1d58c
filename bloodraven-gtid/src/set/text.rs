//! Canonical MySQL text output (`Gtid_set::to_string`).
//!
//! The text is written once, in place, into a buffer sized from a cheap upper bound of its length: each
//! number is a table lookup stored as a whole 8-byte word (the bytes past its digits are overwritten by
//! what follows or cut off at the end), and every byte written is ASCII.

use std::fmt;

use super::GtidSet;
use crate::{Interval, ServerUuid};

/// Room past the text that whole-word stores may touch: an interval of short numbers is written as
/// two 8-byte words into a 24-byte window.
const SLACK: usize = 24;

/// Sets whose text bound is at most this are formatted through a stack buffer by `Display`.
const STACK: usize = 256;

/// The canonical text as a new `String`, blocks joined by `",\n"` or, without `newline`, by `","`.
/// One allocation, written in place.
#[allow(
    clippy::slow_vector_initialization,
    reason = "vec![0; n] calls calloc, which is slower here (see below)"
)]
pub(super) fn render(set: &GtidSet, newline: bool) -> String {
    if let [block] = set.blocks()
        && let [iv] = block.ivs[..]
        && block.tag.is_untagged()
    {
        return render_one_range(block.uuid, iv);
    }
    // Zeroed by `resize` rather than `vec![0; n]`: glibc's calloc skips its per-thread cache, which costs
    // more than the zeroing on small texts.
    let cap = len_bound(set) + SLACK;
    let mut buf = Vec::with_capacity(cap);
    buf.resize(cap, 0u8);
    let len = write(set, newline, &mut buf);
    buf.truncate(len);
    ascii_string(buf)
}

/// The text of the commonest set, `uuid:start-end` (one server, no gap, no tag): written on the stack, then
/// copied into an allocation of its exact length.
fn render_one_range(uuid: ServerUuid, iv: Interval) -> String {
    let mut buf = [0u8; ONE_RANGE];
    let len = write_one_range(uuid, iv, &mut buf);
    ascii_str(&buf[..len]).to_owned()
}

/// Room for `uuid:start-end` with 20-digit numbers, and 7 bytes a last word store may touch.
const ONE_RANGE: usize = 36 + 2 * (1 + 20) + 7;

/// Writes `uuid:start-end` (or `uuid:start`) into `buf` and returns its length.
fn write_one_range(uuid: ServerUuid, iv: Interval, buf: &mut [u8; ONE_RANGE]) -> usize {
    let (head, _) = buf
        .split_first_chunk_mut::<36>()
        .expect("the buffer holds a uuid");
    uuid.write_into(head);
    put_interval(buf, 36, iv)
}

/// Formats the canonical text into `f` with a single `write_str`.
pub(super) fn fmt(set: &GtidSet, newline: bool, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    if let [block] = set.blocks()
        && let [iv] = block.ivs[..]
        && block.tag.is_untagged()
    {
        let mut buf = [0u8; ONE_RANGE];
        let len = write_one_range(block.uuid, iv, &mut buf);
        return f.write_str(ascii_str(&buf[..len]));
    }
    if len_bound(set) + SLACK <= STACK {
        let mut buf = [0u8; STACK];
        let len = write(set, newline, &mut buf);
        f.write_str(ascii_str(&buf[..len]))
    } else {
        f.write_str(&render(set, newline))
    }
}

/// The crate's only `unsafe` code: it skips re-validating, as UTF-8, text that [`write`](fn@write) or
/// [`write_one_range`] has just produced (measured in docs/benchmarks.md: the check cost 7–19 % of the
/// instructions of a print).
#[allow(unsafe_code)]
mod ascii {
    /// `bytes` as a `String`; `bytes` must be a prefix of a zeroed buffer that [`write`](fn@super::write)
    /// or [`write_one_range`](super::write_one_range) wrote into.
    pub(super) fn ascii_string(bytes: Vec<u8>) -> String {
        debug_assert!(bytes.is_ascii());
        // SAFETY: every byte is ASCII (< 0x80), and ASCII is valid UTF-8. The buffer starts zeroed, and
        // `write` and `write_one_range` store only bytes from: ",\n", ':' and '-'; `HEX_PAIRS` (ASCII
        // hex digits) and '-' for UUIDs; tag bytes (a `Tag` holds only ASCII letters, digits and '_',
        // checked in `Tag::from_ascii`); and number words built from `DIGITS4` (b'0'..=b'9') and
        // `SHORT4` (digits, zero bytes and a length of at most 4 in the top byte), shifted and OR-ed with
        // ':' or '-'. Shifts only move these bytes or bring in zero bytes.
        unsafe { String::from_utf8_unchecked(bytes) }
    }

    /// `bytes` as a `&str`, under the same condition as [`ascii_string`].
    pub(super) fn ascii_str(bytes: &[u8]) -> &str {
        debug_assert!(bytes.is_ascii());
        // SAFETY: as in `ascii_string`: only ASCII bytes, which are valid UTF-8.
        unsafe { std::str::from_utf8_unchecked(bytes) }
    }
}

use ascii::{ascii_str, ascii_string};

/// An upper bound on the text's length: every number of a block is given as many digits as its largest,
/// the last interval's end (blocks are sorted), so it is exact (up to separators) for sets of ranges whose
/// ends have as many digits, and at most 2 bytes per digit of headroom otherwise.
fn len_bound(set: &GtidSet) -> usize {
    set.blocks()
        .iter()
        .map(|block| {
            // A separator and a UUID for every block (blocks of one UUID share them: an upper bound).
            let tag = if block.tag.is_untagged() {
                0
            } else {
                1 + block.tag.as_bytes().len()
            };
            let digits = block.ivs.last().map_or(1, |iv| decimal_len(iv.end));
            2 + 36 + tag + block.ivs.len() * (2 + 2 * digits)
        })
        .sum()
}

/// Writes the text into `out`, which must hold `len_bound + SLACK` bytes, and returns its length.
fn write(set: &GtidSet, newline: bool, out: &mut [u8]) -> usize {
    let blocks = set.blocks();
    let mut pos = 0;
    for (i, block) in blocks.iter().enumerate() {
        if i == 0 || blocks[i - 1].uuid != block.uuid {
            if i > 0 {
                // The '\n' is overwritten by the UUID when the separator is only ','.
                out[pos..pos + 2].copy_from_slice(b",\n");
                pos += 1 + usize::from(newline);
            }
            let (uuid, _) = out[pos..]
                .split_first_chunk_mut::<36>()
                .expect("len_bound leaves room for the uuid");
            block.uuid.write_into(uuid);
            pos += 36;
        }
        if !block.tag.is_untagged() {
            let tag = block.tag.as_bytes();
            out[pos] = b':';
            out[pos + 1..pos + 1 + tag.len()].copy_from_slice(tag);
            pos += 1 + tag.len();
        }
        // Blocks are sorted, so the last end is the block's largest GNO: pick the writer for its size.
        match block.ivs.last().map_or(0, |iv| iv.end) {
            ..10_000 => {
                for &iv in &block.ivs {
                    pos = put_short_interval(out, pos, iv, up_to_4_digits);
                }
            }
            10_000..10_000_000 => {
                let mut digits = SevenDigits::default();
                for &iv in &block.ivs {
                    pos = put_short_interval(out, pos, iv, |n| digits.of(n));
                }
            }
            _ => {
                for &iv in &block.ivs {
                    pos = put_interval(out, pos, iv);
                }
            }
        }
    }
    pos
}

/// Writes `:start` or `:start-end` for numbers of at most 7 digits, given as `digits(n)` = (a word whose
/// low bytes are the ASCII digits, first digit lowest, and whose top byte may be junk; their count): two
/// word stores, no branch.
#[inline(always)]
fn put_short_interval(
    out: &mut [u8],
    pos: usize,
    iv: Interval,
    mut digits: impl FnMut(u64) -> (u64, usize),
) -> usize {
    let (start, start_len) = digits(iv.start);
    let (end, end_len) = digits(iv.end);
    let (window, _) = out[pos..]
        .split_first_chunk_mut::<24>()
        .expect("len_bound leaves SLACK bytes past the text");
    // Shifting in the separator also drops the junk top byte.
    window[..8].copy_from_slice(&((start << 8) | u64::from(b':')).to_le_bytes());
    let dash = 1 + (start_len & 7);
    // Written even for a single GNO, and then not counted.
    window[dash..dash + 8].copy_from_slice(&((end << 8) | u64::from(b'-')).to_le_bytes());
    let end_part = if iv.end == iv.start { 0 } else { 1 + end_len };
    pos + dash + end_part
}

/// `n < 10^4` for `put_short_interval`: one lookup.
#[inline(always)]
fn up_to_4_digits(n: u64) -> (u64, usize) {
    let entry = SHORT4[n as usize];
    (entry, (entry >> 56) as usize)
}

/// Digits of numbers below 10^7 for `put_short_interval`, for a block's ascending GNOs: the digits above
/// the last four are looked up once per run of numbers that share them, so most numbers cost one lookup.
#[derive(Default)]
struct SevenDigits {
    /// The numbers in `base..base + 10^4` share `high`; 0 when no such run is current.
    base: u64,
    /// The digits of `base / 10^4` (and a junk top byte), and their count.
    high: u64,
    high_len: usize,
}

impl SevenDigits {
    #[inline(always)]
    fn of(&mut self, n: u64) -> (u64, usize) {
        let mut low = n.wrapping_sub(self.base);
        if low >= 10_000 || self.base == 0 {
            if n < 10_000 {
                return up_to_4_digits(n);
            }
            let high = n / 10_000;
            self.base = high * 10_000;
            (self.high, self.high_len) = up_to_4_digits(high);
            low = n - self.base;
        }
        // At most 3 high digits, so the low ones end by byte 6, clear of the junk top byte.
        let low_digits = u64::from(DIGITS4[low as usize]) << (8 * (self.high_len & 3));
        (self.high | low_digits, self.high_len + 4)
    }
}

/// Writes `:start` or `:start-end` (any GNO) and returns the position after it.
#[inline(always)]
fn put_interval(out: &mut [u8], pos: usize, iv: Interval) -> usize {
    out[pos] = b':';
    let pos = put_u64(out, pos + 1, iv.start);
    if iv.end == iv.start {
        return pos;
    }
    out[pos] = b'-';
    put_u64(out, pos + 1, iv.end)
}

/// The number of decimal digits of `n`.
fn decimal_len(n: u64) -> usize {
    match n {
        ..10_000 => (SHORT4[n as usize] >> 56) as usize,
        _ => n.ilog10() as usize + 1,
    }
}

/// Writes the decimal digits of `n` and returns the position after them. `out` must have room for
/// 27 bytes past `pos` (20 digits, and 7 more that the last whole 8-byte word store may touch).
#[inline(always)]
fn put_u64(out: &mut [u8], pos: usize, n: u64) -> usize {
    if n < 100_000_000 {
        put_up_to_8(out, pos, n)
    } else {
        put_large(out, pos, n)
    }
}

/// `put_u64` for `n >= 10^8`.
#[inline(never)]
fn put_large(out: &mut [u8], pos: usize, n: u64) -> usize {
    // GNOs past 10^8 are ordinary on busy servers: the leading part, then 8-digit groups.
    let (high, low) = (n / 100_000_000, n % 100_000_000);
    let pos = if high < 100_000_000 {
        put_up_to_8(out, pos, high)
    } else {
        let pos = put_up_to_8(out, pos, high / 100_000_000);
        put_exactly_8(out, pos, high % 100_000_000)
    };
    put_exactly_8(out, pos, low)
}

/// The 8 zero-padded ASCII digits of `n < 10^8`, most significant first in memory (little-endian word).
#[inline]
fn eight_digits(n: u64) -> u64 {
    let (hi, lo) = ((n / 10_000) as usize, (n % 10_000) as usize);
    u64::from(DIGITS4[hi]) | (u64::from(DIGITS4[lo]) << 32)
}

/// `n < 10^8` without leading zeros (a single `0` for zero).
#[inline(always)]
fn put_up_to_8(out: &mut [u8], pos: usize, n: u64) -> usize {
    let word = eight_digits(n);
    // Leading zeros are the low bytes equal to b'0'; bit 63 keeps the last digit even for zero.
    let skip = ((word ^ 0x3030_3030_3030_3030) | (1 << 63)).trailing_zeros() & !7;
    out[pos..pos + 8].copy_from_slice(&(word >> skip).to_le_bytes());
    pos + 8 - (skip / 8) as usize
}

/// `n < 10^8` as exactly 8 digits, zero-padded.
#[inline]
fn put_exactly_8(out: &mut [u8], pos: usize, n: u64) -> usize {
    out[pos..pos + 8].copy_from_slice(&eight_digits(n).to_le_bytes());
    pos + 8
}

/// Entry `n < 10^4` holds the ASCII digits of `n` without leading zeros, first digit lowest, and their
/// count in the top byte: a number is one load.
static SHORT4: [u64; 10_000] = {
    let mut table = [0u64; 10_000];
    let mut n = 0;
    while n < 10_000 {
        let len = if n >= 1000 {
            4
        } else if n >= 100 {
            3
        } else if n >= 10 {
            2
        } else {
            1
        };
        let mut digits = 0u64;
        let mut rest = n;
        let mut i = 0;
        while i < len {
            digits = (digits << 8) | (b'0' as u64 + (rest % 10) as u64);
            rest /= 10;
            i += 1;
        }
        table[n] = digits | ((len as u64) << 56);
        n += 1;
    }
    table
};

/// Entry `n` holds the four zero-padded ASCII digits of `n`, the first in the lowest byte. One load per
/// four digits is what makes printing fast; the table is 40 KB of read-only data.
static DIGITS4: [u32; 10_000] = {
    let mut table = [0u32; 10_000];
    let mut n = 0;
    while n < 10_000 {
        let digits = [n / 1000, n / 100 % 10, n / 10 % 10, n % 10];
        table[n] = u32::from_le_bytes([
            b'0' + digits[0] as u8,
            b'0' + digits[1] as u8,
            b'0' + digits[2] as u8,
            b'0' + digits[3] as u8,
        ]);
        n += 1;
    }
    table
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_crosses_chunks_intact() {
        let uuids = [
            "3e11fa47-71ca-11e1-9e33-c80aa9429562",
            "4e11fa47-71ca-11e1-9e33-c80aa9429562",
        ];
        let mut set = GtidSet::new();
        let mut expected = Vec::new();
        for uuid in uuids {
            let mut block = uuid.to_owned();
            for (tag, base) in [("", 0u64), ("t", 1_000_000_000_000)] {
                let tag_value = crate::Tag::parse(tag).unwrap();
                if !tag.is_empty() {
                    block.push_str(&format!(":{tag}"));
                }
                for k in 0..500u64 {
                    let (start, end) = (base + 10 * k + 1, base + 10 * k + 1 + k % 3);
                    set.insert_interval(uuid.parse().unwrap(), &tag_value, start, end)
                        .unwrap();
                    if start == end {
                        block.push_str(&format!(":{start}"));
                    } else {
                        block.push_str(&format!(":{start}-{end}"));
                    }
                }
            }
            expected.push(block);
        }
        assert!(expected.join(",\n").len() > 40 * STACK);
        assert_eq!(set.to_string(), expected.join(",\n"));
        assert_eq!(set.to_compact_string(), expected.join(","));
    }

    #[test]
    fn length_bound_holds_on_both_sides_of_the_stack_buffer() {
        // Small and huge GNOs in one block (the bound assumes the largest digit count for all), tags,
        // singletons, and sizes from well under to well over the stack buffer.
        for blocks in 1..=4usize {
            for n in 0..12u64 {
                let mut set = GtidSet::new();
                let mut expected = Vec::new();
                for b in 0..blocks {
                    let uuid = format!("{:08x}-71ca-11e1-9e33-c80aa9429562", 0x3e11_0000 + b);
                    let tag = if b % 2 == 1 { "tag_x" } else { "" };
                    let mut block = uuid.clone();
                    if !tag.is_empty() {
                        block.push_str(&format!(":{tag}"));
                    }
                    let mut ivs: Vec<(u64, u64)> =
                        (0..n).map(|k| (10 * k + 1, 10 * k + 1 + k % 2)).collect();
                    ivs.push((i64::MAX as u64 - 5, i64::MAX as u64 - 1));
                    for (start, end) in ivs {
                        let tag_value = crate::Tag::parse(tag).unwrap();
                        set.insert_interval(uuid.parse().unwrap(), &tag_value, start, end)
                            .unwrap();
                        if start == end {
                            block.push_str(&format!(":{start}"));
                        } else {
                            block.push_str(&format!(":{start}-{end}"));
                        }
                    }
                    expected.push(block);
                }
                let text = expected.join(",\n");
                assert!(len_bound(&set) >= text.len());
                assert_eq!(set.to_string(), text);
                assert_eq!(render(&set, true), text);
                assert_eq!(set.to_compact_string(), expected.join(","));
            }
        }
    }

    #[test]
    fn one_range_sets_at_every_magnitude() {
        let uuid: crate::ServerUuid = "3e11fa47-71ca-11e1-9e33-c80aa9429562".parse().unwrap();
        let mut ends = vec![
            1,
            9,
            10,
            9_999,
            10_000,
            99_999_999,
            100_000_000,
            i64::MAX as u64 - 1,
        ];
        ends.extend((1..19).map(|k| 10u64.pow(k) + 7));
        for &end in &ends {
            for start in [1, end / 2 + 1, end] {
                let mut set = GtidSet::new();
                set.insert_interval(uuid, &crate::Tag::default(), start, end)
                    .unwrap();
                let expected = if start == end {
                    format!("{uuid}:{end}")
                } else {
                    format!("{uuid}:{start}-{end}")
                };
                assert_eq!(set.to_text(), expected);
                assert_eq!(set.to_string(), expected);
                assert_eq!(set.to_compact_string(), expected);
                // A tag or a second interval takes the general writer.
                let mut tagged = set.clone();
                tagged
                    .insert_interval(uuid, &crate::Tag::parse("t").unwrap(), start, end)
                    .unwrap();
                let with_tag = if start == end {
                    format!("{expected}:t:{end}")
                } else {
                    format!("{expected}:t:{start}-{end}")
                };
                assert_eq!(tagged.to_text(), with_tag);
                assert_eq!(tagged.to_string(), with_tag);
            }
        }
    }

    #[test]
    fn digits() {
        // Every digit count, both sides of each power of ten, the 8-digit group boundaries and the extremes.
        let mut values = vec![
            0,
            1,
            9,
            12345,
            9_223_372_036_854_775_806,
            u64::MAX,
            u64::MAX - 1,
        ];
        for k in 1..=19 {
            let p = 10u64.pow(k);
            values.extend([p - 1, p, p + 1, p + p / 2 + 7]);
        }
        for n in values {
            let mut out = [b'x'; 20 + 8];
            let end = put_u64(&mut out, 1, n);
            assert_eq!(std::str::from_utf8(&out[1..end]).unwrap(), n.to_string());
            assert_eq!(out[0], b'x', "{n}: wrote before its position");
        }
    }
}
