//! Canonical MySQL text output (`Gtid_set::to_string`).

use std::fmt;

use super::GtidSet;
use crate::tag::MAX_TAG_LEN;

/// The longest decimal GNO (u64::MAX has 20 digits).
const MAX_DIGITS: usize = 20;

/// Size of the stack buffer text is assembled in before it goes to the sink.
const CHUNK: usize = 2048;

/// The buffer for sets whose text is about this short or shorter: zeroing 2 KB would cost more than
/// printing them.
const SMALL_CHUNK: usize = 256;

/// The most one interval can take: ':' start '-' end, plus the 7 bytes past a number's last digit that
/// its final 8-byte store may touch.
const MAX_INTERVAL: usize = 2 + 2 * MAX_DIGITS + 7;

/// Renders the set as MySQL does: `uuid:iv:iv:tag:iv`, one UUID per block, blocks joined by `sep` (at
/// most a few bytes). Text is assembled in a stack buffer and handed to `sink` in chunks.
pub(super) fn render_to(
    set: &GtidSet,
    sep: &str,
    sink: &mut dyn FnMut(&str) -> fmt::Result,
) -> fmt::Result {
    if estimated_len(set) <= SMALL_CHUNK {
        render_chunked::<SMALL_CHUNK>(set, sep, sink)
    } else {
        render_chunked::<CHUNK>(set, sep, sink)
    }
}

/// About the length of the text (exact for 5-digit GNOs without tags).
fn estimated_len(set: &GtidSet) -> usize {
    set.blocks()
        .iter()
        .map(|b| 40 + b.tag.as_bytes().len() + 12 * b.ivs.len())
        .sum()
}

/// `render_to` with an `N`-byte buffer; `N` must hold a block header plus one interval.
fn render_chunked<const N: usize>(
    set: &GtidSet,
    sep: &str,
    sink: &mut dyn FnMut(&str) -> fmt::Result,
) -> fmt::Result {
    let mut buf = [0u8; N];
    let mut pos = 0;
    let mut prev_uuid = None;
    // Room for a separator, a UUID and a tag.
    let header = sep.len() + 36 + 1 + MAX_TAG_LEN;
    for block in set.blocks() {
        if pos + header > N {
            flush(&buf, &mut pos, sink)?;
        }
        if prev_uuid != Some(block.uuid) {
            if prev_uuid.is_some() {
                put(&mut buf, &mut pos, sep.as_bytes());
            }
            let mut uuid = [0u8; 36];
            block.uuid.write_into(&mut uuid);
            put(&mut buf, &mut pos, &uuid);
            prev_uuid = Some(block.uuid);
        }
        if !block.tag.is_untagged() {
            put(&mut buf, &mut pos, b":");
            put(&mut buf, &mut pos, block.tag.as_bytes());
        }
        for iv in &block.ivs {
            if pos + MAX_INTERVAL > N {
                flush(&buf, &mut pos, sink)?;
            }
            buf[pos] = b':';
            pos = put_u64(&mut buf, pos + 1, iv.start);
            if iv.end != iv.start {
                buf[pos] = b'-';
                pos = put_u64(&mut buf, pos + 1, iv.end);
            }
        }
    }
    flush(&buf, &mut pos, sink)
}

/// The text as one `String`, blocks joined by `sep`.
pub(super) fn render(set: &GtidSet, sep: &str) -> String {
    let mut out = String::with_capacity(estimated_len(set));
    // Writing into a String cannot fail.
    let _ = render_to(set, sep, &mut |s| {
        out.push_str(s);
        Ok(())
    });
    out
}

fn flush(buf: &[u8], pos: &mut usize, sink: &mut dyn FnMut(&str) -> fmt::Result) -> fmt::Result {
    if *pos > 0 {
        // Only ASCII is ever written: hex digits, tag characters, digits, ':', '-' and the separator.
        sink(std::str::from_utf8(&buf[..*pos]).map_err(|_| fmt::Error)?)?;
        *pos = 0;
    }
    Ok(())
}

#[inline]
fn put(out: &mut [u8], pos: &mut usize, bytes: &[u8]) {
    out[*pos..*pos + bytes.len()].copy_from_slice(bytes);
    *pos += bytes.len();
}

/// Writes the decimal digits of `n` and returns the position after them. `out` must have room for
/// `MAX_DIGITS + 8` bytes past `pos`: the digits are stored as whole 8-byte words.
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
        assert!(expected.join(",\n").len() > 4 * CHUNK);
        assert_eq!(set.to_string(), expected.join(",\n"));
        assert_eq!(set.to_compact_string(), expected.join(","));
    }

    #[test]
    fn short_estimate_with_long_numbers_crosses_chunks_intact() {
        // 2 blocks of 6 intervals: estimated under SMALL_CHUNK, but 20-digit GNOs make the text far longer.
        let mut set = GtidSet::new();
        let mut expected = Vec::new();
        for (uuid, tag) in [
            ("3e11fa47-71ca-11e1-9e33-c80aa9429562", ""),
            ("4e11fa47-71ca-11e1-9e33-c80aa9429562", "tag_x"),
        ] {
            let mut block = uuid.to_owned();
            if !tag.is_empty() {
                block.push_str(&format!(":{tag}"));
            }
            for k in 0..6u64 {
                // Near the largest GNO (2^63 - 2): 19 digits each.
                let (start, end) = (
                    i64::MAX as u64 - 100 + 10 * k,
                    i64::MAX as u64 - 95 + 10 * k,
                );
                let tag_value = crate::Tag::parse(tag).unwrap();
                set.insert_interval(uuid.parse().unwrap(), &tag_value, start, end)
                    .unwrap();
                block.push_str(&format!(":{start}-{end}"));
            }
            expected.push(block);
        }
        assert!(estimated_len(&set) <= SMALL_CHUNK);
        assert!(expected.join(",\n").len() > 2 * SMALL_CHUNK);
        assert_eq!(set.to_string(), expected.join(",\n"));
        assert_eq!(set.to_compact_string(), expected.join(","));
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
            let mut out = [b'x'; MAX_DIGITS + 8];
            let end = put_u64(&mut out, 1, n);
            assert_eq!(std::str::from_utf8(&out[1..end]).unwrap(), n.to_string());
            assert_eq!(out[0], b'x', "{n}: wrote before its position");
        }
    }
}
