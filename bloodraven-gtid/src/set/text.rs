//! Canonical MySQL text output (`Gtid_set::to_string`).
//!
//! The text is written once, in place, into a buffer sized from a cheap upper bound of its length. Numbers
//! are table lookups stored as whole 8-byte words: the bytes past a number's digits are overwritten by what
//! follows or cut off at the end. Every byte written is ASCII.

use std::fmt;

use super::GtidSet;
use crate::{Interval, ServerUuid};

/// Room past the text that whole-word stores may touch: an interval of short numbers is written as
/// two 8-byte words into a 24-byte window.
const SLACK: usize = 24;

/// Sets whose text bound is at most this are formatted through a stack buffer by `Display`.
const STACK: usize = 256;

/// The canonical text as a new `String`, blocks joined by `",\n"` or, without `newline`, by `","`.
pub(super) fn render(set: &GtidSet, newline: bool) -> String {
    let mut out = String::new();
    append(set, newline, &mut out);
    out
}

/// Appends the canonical text to `out`: at most one reservation, written in place.
pub(super) fn append(set: &GtidSet, newline: bool, out: &mut String) {
    if let Some((uuid, iv)) = one_range(set) {
        let mut buf = [0u8; ONE_RANGE];
        let len = write_one_range(uuid, iv, &mut buf);
        out.push_str(ascii_str(&buf[..len]));
        return;
    }
    append_bounded(set, newline, len_bound(set), out);
}

/// `append` for any set, given its `len_bound`.
fn append_bounded(set: &GtidSet, newline: bool, bound: usize, out: &mut String) {
    let mut bytes = std::mem::take(out).into_bytes();
    let start = bytes.len();
    bytes.resize(start + bound + SLACK, 0);
    let len = write(set, newline, &mut bytes[start..]);
    bytes.truncate(start + len);
    *out = ascii_appended(bytes, start);
}

/// The server and interval of the commonest set, `uuid:start-end` (one server, no gap, no tag).
fn one_range(set: &GtidSet) -> Option<(ServerUuid, Interval)> {
    match set.blocks() {
        [block] if block.tag.is_untagged() && block.ivs.len() == 1 => {
            Some((block.uuid, block.ivs[0]))
        }
        _ => None,
    }
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
    if let Some((uuid, iv)) = one_range(set) {
        let mut buf = [0u8; ONE_RANGE];
        let len = write_one_range(uuid, iv, &mut buf);
        return f.write_str(ascii_str(&buf[..len]));
    }
    let bound = len_bound(set);
    if bound + SLACK <= STACK {
        let mut buf = [0u8; STACK];
        let len = write(set, newline, &mut buf);
        f.write_str(ascii_str(&buf[..len]))
    } else {
        let mut text = String::new();
        append_bounded(set, newline, bound, &mut text);
        f.write_str(&text)
    }
}

/// Skips re-validating, as UTF-8, text that [`write`](fn@write) or [`write_one_range`] has just produced
/// (measured in docs/benchmarks.md: the check cost 7–19 % of the instructions of a print).
#[allow(unsafe_code)]
mod ascii {
    /// `bytes` as a `String`, where `bytes[..start]` are the bytes of a `String` and `bytes[start..]` is a
    /// prefix of a zeroed buffer that [`write`](fn@super::write) wrote into.
    pub(super) fn ascii_appended(bytes: Vec<u8>, start: usize) -> String {
        debug_assert!(std::str::from_utf8(&bytes[..start]).is_ok());
        debug_assert!(bytes[start..].is_ascii());
        // SAFETY: `bytes[..start]` was a `String`, so it is valid UTF-8 and ends on a character boundary,
        // and `bytes[start..]` is ASCII, which is valid UTF-8 after a boundary. It is ASCII because the
        // buffer starts zeroed and `write` stores only bytes from: ",\n", ':' and '-'; the hex digits and
        // '-' of `ServerUuid::write_into`; tag bytes (a `Tag` holds only ASCII letters, digits and '_',
        // checked in `Tag::from_ascii`); and number words built from `DIGITS4` (b'0'..=b'9') and `SHORT4`
        // (':', digits, zero bytes and a length of at most 5 in the top byte), shifted, OR-ed with ':' or
        // '-', or XOR-ed with `COLON_TO_DASH` in the low byte (':' to '-'). Shifts only move these bytes or
        // bring in zero bytes.
        unsafe { String::from_utf8_unchecked(bytes) }
    }

    /// `bytes` as a `&str`, where `bytes` is a prefix of a zeroed buffer that [`write`](fn@super::write)
    /// or [`write_one_range`](super::write_one_range) wrote into.
    pub(super) fn ascii_str(bytes: &[u8]) -> &str {
        debug_assert!(bytes.is_ascii());
        // SAFETY: as in `ascii_appended`: only ASCII bytes, which are valid UTF-8.
        unsafe { std::str::from_utf8_unchecked(bytes) }
    }
}

use ascii::{ascii_appended, ascii_str};

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
    let mut pos = 0;
    let mut previous: Option<&ServerUuid> = None;
    for block in set.blocks() {
        if previous != Some(&block.uuid) {
            if previous.is_some() {
                // The '\n' is overwritten by the UUID when the separator is only ','.
                out[pos..pos + 2].copy_from_slice(b",\n");
                pos += 1 + usize::from(newline);
            }
            let (uuid, _) = out[pos..]
                .split_first_chunk_mut::<36>()
                .expect("len_bound leaves room for the uuid");
            block.uuid.write_into(uuid);
            pos += 36;
            previous = Some(&block.uuid);
        }
        if !block.tag.is_untagged() {
            let tag = block.tag.as_bytes();
            out[pos] = b':';
            out[pos + 1..pos + 1 + tag.len()].copy_from_slice(tag);
            pos += 1 + tag.len();
        }
        pos = write_intervals(&block.ivs, out, pos);
    }
    pos
}

/// Writes `:start-end` or `:start` for each interval of a block; returns the position after them.
fn write_intervals(ivs: &[Interval], out: &mut [u8], pos: usize) -> usize {
    // Intervals are sorted, so the last end is the block's largest GNO: pick the writer for its size.
    match ivs.last().map_or(0, |iv| iv.end) {
        ..10_000 => ivs
            .iter()
            .fold(pos, |pos, &iv| put_short_interval(out, pos, iv, short)),
        10_000..10_000_000 => put_run_intervals(ivs, out, pos),
        _ => ivs.iter().fold(pos, |pos, &iv| put_interval(out, pos, iv)),
    }
}

/// Turns the ':' that starts a number's word into the '-' of an interval's end.
const COLON_TO_DASH: u64 = (b':' ^ b'-') as u64;

/// Writes `:start` or `:start-end` for numbers of at most 7 digits, given as `digits(n)` = (a word of ':'
/// and the ASCII digits of `n`, first byte lowest, bytes past them ASCII junk; the count of both): two
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
    put_words(out, pos, start, start_len, end);
    pos + (start_len & 15) + if iv.end == iv.start { 0 } else { end_len }
}

/// Stores an interval's two number words at `pos`: `start` (':' and its digits, `start_len` bytes), then
/// `end` with its ':' turned into '-'. The end is written even for a single GNO, and then not counted.
#[inline(always)]
fn put_words(out: &mut [u8], pos: usize, start: u64, start_len: usize, end: u64) {
    let (window, _) = out[pos..]
        .split_first_chunk_mut::<24>()
        .expect("len_bound leaves SLACK bytes past the text");
    window[..8].copy_from_slice(&start.to_le_bytes());
    let dash = start_len & 15;
    window[dash..dash + 8].copy_from_slice(&(end ^ COLON_TO_DASH).to_le_bytes());
}

/// `n < 10^4` for `put_short_interval`: one lookup.
#[inline(always)]
fn short(n: u64) -> (u64, usize) {
    let entry = SHORT4[n as usize];
    (entry, (entry >> 56) as usize)
}

/// Writes the intervals of a block whose GNOs are below 10^7. GNOs ascend, so they come in runs that share
/// all digits but the last four: an interval inside the current run costs two lookups and two stores.
/// Not inlined, so that its loop gets the registers to itself.
#[inline(never)]
fn put_run_intervals(ivs: &[Interval], out: &mut [u8], pos: usize) -> usize {
    // The run's fields as plain locals, so that they stay in registers across the cold call (as a `Run`
    // the loop takes 4 % more instructions).
    let Run {
        mut base,
        mut prefix,
        mut shift,
        mut len,
    } = Run::NONE;
    let mut pos = pos;
    for &iv in ivs {
        let (start, end) = (iv.start.wrapping_sub(base), iv.end.wrapping_sub(base));
        if start < 10_000 && end < 10_000 {
            let word = |low: u64| prefix | (u64::from(DIGITS4[low as usize]) << shift);
            put_words(out, pos, word(start), len, word(end));
            pos += if start == end { len } else { 2 * len };
        } else {
            let run;
            (run, pos) = put_interval_new_run(
                out,
                pos,
                iv,
                Run {
                    base,
                    prefix,
                    shift,
                    len,
                },
            );
            Run {
                base,
                prefix,
                shift,
                len,
            } = run;
        }
    }
    pos
}

/// `put_run_intervals` for an interval that leaves the current run: returns the run of its end.
#[cold]
#[inline(never)]
fn put_interval_new_run(out: &mut [u8], pos: usize, iv: Interval, run: Run) -> (Run, usize) {
    let run = if iv.end < 10_000 {
        run
    } else {
        Run::of(iv.end)
    };
    let digits = |n: u64| match n.wrapping_sub(run.base) {
        low @ ..10_000 => (run.word(low), run.len),
        _ if n < 10_000 => short(n),
        _ => {
            let start_run = Run::of(n);
            (start_run.word(n - start_run.base), start_run.len)
        }
    };
    (run, put_short_interval(out, pos, iv, digits))
}

/// GNOs in `base..base + 10^4`, which share every digit but the last four.
#[derive(Clone, Copy)]
struct Run {
    base: u64,
    /// ':' and the digits of `base / 10^4`.
    prefix: u64,
    /// Where the last four digits go: 8 times the length of `prefix`.
    shift: u32,
    /// The length of ':' and a number of the run.
    len: usize,
}

impl Run {
    /// No run: `base` is above every GNO, so no GNO is in it.
    const NONE: Run = Run {
        base: 1 << 63,
        prefix: 0,
        shift: 0,
        len: 0,
    };

    /// The run of `10^4 <= n < 10^7`.
    fn of(n: u64) -> Run {
        // At most 3 high digits: ':' and 7 digits fill the word exactly.
        debug_assert!((10_000..10_000_000).contains(&n));
        let high = n / 10_000;
        let (prefix, prefix_len) = short(high);
        Run {
            base: high * 10_000,
            prefix: prefix & 0x00ff_ffff_ffff_ffff,
            shift: 8 * prefix_len as u32,
            len: prefix_len + 4,
        }
    }

    /// The word of ':' and the number `base + low`, `low < 10^4`.
    #[inline(always)]
    fn word(&self, low: u64) -> u64 {
        self.prefix | (u64::from(DIGITS4[low as usize]) << self.shift)
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
        ..10_000 => short(n).1 - 1,
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

/// Entry `n < 10^4` is ':' followed by the ASCII digits of `n` without leading zeros, first byte lowest,
/// and in the top byte the count of both (at most 5): a number is one load.
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
        table[n] = b':' as u64 | (digits << 8) | ((1 + len as u64) << 56);
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

    /// `:start-end`, or `:start` for a single GNO, written with `format!`.
    fn interval_text(start: u64, end: u64) -> String {
        if start == end {
            format!(":{start}")
        } else {
            format!(":{start}-{end}")
        }
    }

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
                    block.push_str(&interval_text(start, end));
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
                        block.push_str(&interval_text(start, end));
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
                let expected = format!("{uuid}{}", interval_text(start, end));
                assert_eq!(set.to_text(), expected);
                assert_eq!(set.to_string(), expected);
                assert_eq!(set.to_compact_string(), expected);
                // A tag or a second interval takes the general writer.
                let mut tagged = set.clone();
                tagged
                    .insert_interval(uuid, &crate::Tag::parse("t").unwrap(), start, end)
                    .unwrap();
                let with_tag = format!("{expected}:t{}", interval_text(start, end));
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
