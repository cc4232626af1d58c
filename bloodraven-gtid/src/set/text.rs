//! Canonical MySQL text output (`Gtid_set::to_string`).

use std::fmt;

use super::GtidSet;
use crate::tag::MAX_TAG_LEN;

/// The longest decimal GNO (u64::MAX has 20 digits).
const MAX_DIGITS: usize = 20;

/// Size of the stack buffer text is assembled in before it goes to the sink.
const CHUNK: usize = 2048;

/// The most one interval can take: ':' start '-' end.
const MAX_INTERVAL: usize = 2 + 2 * MAX_DIGITS;

/// Renders the set as MySQL does: `uuid:iv:iv:tag:iv`, one UUID per block, blocks joined by `sep` (at
/// most a few bytes). Text is assembled in a stack buffer and handed to `sink` in chunks.
pub(super) fn render_to(
    set: &GtidSet,
    sep: &str,
    sink: &mut dyn FnMut(&str) -> fmt::Result,
) -> fmt::Result {
    let mut buf = [0u8; CHUNK];
    let mut pos = 0;
    let mut prev_uuid = None;
    // Room for a separator, a UUID and a tag.
    let header = sep.len() + 36 + 1 + MAX_TAG_LEN;
    for block in set.blocks() {
        if pos + header > CHUNK {
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
            if pos + MAX_INTERVAL > CHUNK {
                flush(&buf, &mut pos, sink)?;
            }
            buf[pos] = b':';
            pos += 1;
            put_u64(&mut buf, &mut pos, iv.start);
            if iv.end != iv.start {
                buf[pos] = b'-';
                pos += 1;
                put_u64(&mut buf, &mut pos, iv.end);
            }
        }
    }
    flush(&buf, &mut pos, sink)
}

/// The text as one `String`, blocks joined by `sep`.
pub(super) fn render(set: &GtidSet, sep: &str) -> String {
    let blocks = set.blocks();
    let estimate = blocks
        .iter()
        .map(|b| 40 + b.tag.as_bytes().len() + 12 * b.ivs.len())
        .sum();
    let mut out = String::with_capacity(estimate);
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

/// Writes the decimal digits of `n`. `out` must have 8 bytes of room past `pos` even for shorter numbers.
#[inline]
fn put_u64(out: &mut [u8], pos: &mut usize, n: u64) {
    if n < 100_000_000 {
        // Up to 8 digits: build all 8 (with leading zeros) from four digit pairs, shift the significant
        // ones to the front of a little-endian word, and store the word whole.
        let len = 1
            + usize::from(n >= 10)
            + usize::from(n >= 100)
            + usize::from(n >= 1_000)
            + usize::from(n >= 10_000)
            + usize::from(n >= 100_000)
            + usize::from(n >= 1_000_000)
            + usize::from(n >= 10_000_000);
        let (hi, lo) = ((n / 10_000) as usize, (n % 10_000) as usize);
        let mut word = [0u8; 8];
        for (chunk, pair) in word
            .chunks_exact_mut(2)
            .zip([hi / 100, hi % 100, lo / 100, lo % 100])
        {
            chunk.copy_from_slice(&PAIRS[2 * pair..2 * pair + 2]);
        }
        let digits = u64::from_le_bytes(word) >> (8 * (8 - len));
        out[*pos..*pos + 8].copy_from_slice(&digits.to_le_bytes());
        *pos += len;
        return;
    }
    let len = n.ilog10() as usize + 1;
    let dst = &mut out[*pos..*pos + len];
    let mut n = n;
    let mut i = len;
    while n >= 100 {
        let pair = 2 * (n % 100) as usize;
        n /= 100;
        i -= 2;
        dst[i..i + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    }
    if n >= 10 {
        let pair = 2 * n as usize;
        dst[..2].copy_from_slice(&PAIRS[pair..pair + 2]);
    } else {
        dst[0] = b'0' + n as u8;
    }
    *pos += len;
}

/// "00" to "99".
const PAIRS: &[u8; 200] = b"\
    0001020304050607080910111213141516171819\
    2021222324252627282930313233343536373839\
    4041424344454647484950515253545556575859\
    6061626364656667686970717273747576777879\
    8081828384858687888990919293949596979899";

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
    fn digits() {
        for n in [
            0,
            1,
            9,
            10,
            99,
            100,
            101,
            12345,
            9_223_372_036_854_775_806,
            u64::MAX,
        ] {
            let mut out = [0u8; 20];
            let mut pos = 0;
            put_u64(&mut out, &mut pos, n);
            assert_eq!(std::str::from_utf8(&out[..pos]).unwrap(), n.to_string());
        }
    }
}
