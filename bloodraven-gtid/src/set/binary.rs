//! The binary GTID set encoding of `PREVIOUS_GTIDS` events and `COM_BINLOG_DUMP_GTID`
//! (`Gtid_set::encode` / `add_gtid_encoding`).
//!
//! ```text
//! untagged: n_tsids u64 LE (top byte 0)                | { uuid[16]                     n u64 { start i64, end_excl i64 }* }*
//! tagged:   01 | n_tsids (6 bytes LE) | 01             | { uuid[16] varint(len) tag[len] n u64 { start i64, end_excl i64 }* }*
//! ```
//! All integers are little-endian; intervals are `[start, end)`.

use super::{EncodingFormat, GtidSet, GtidSetBuilder};
use crate::tag::MAX_TAG_LEN;
use crate::{Error, Interval, ServerUuid, Tag};

pub(super) fn encode(set: &GtidSet) -> Vec<u8> {
    let blocks = set.blocks();
    let tagged = set.has_tags();
    let size = 8 + blocks
        .iter()
        .map(|b| 16 + 1 + b.tag.as_bytes().len() + 8 + 16 * b.ivs.len())
        .sum::<usize>();
    let mut out = Vec::with_capacity(size);
    let n = blocks.len() as u64;
    if tagged {
        out.push(1);
        out.extend_from_slice(&n.to_le_bytes()[..6]);
        out.push(1);
    } else {
        out.extend_from_slice(&n.to_le_bytes());
    }
    for block in blocks {
        out.extend_from_slice(block.uuid.as_bytes());
        if tagged {
            let tag = block.tag.as_bytes();
            // A serialization varint: values below 128 take one byte, `value << 1`; tags hold at most 32 bytes.
            out.push((tag.len() as u8) << 1);
            out.extend_from_slice(tag);
        }
        out.extend_from_slice(&(block.ivs.len() as u64).to_le_bytes());
        for iv in &block.ivs {
            out.extend_from_slice(&iv.start.to_le_bytes());
            out.extend_from_slice(&(iv.end + 1).to_le_bytes());
        }
    }
    out
}

/// Reads the 8-byte header: the format and the number of (uuid, tag) entries that follow.
pub(super) fn decode_header(bytes: &[u8]) -> Result<(EncodingFormat, u64), Error> {
    let mut r = Reader { bytes, pos: 0 };
    let header = r.take(8, "the 8-byte tsid count")?;
    match (header[0], header[7]) {
        (_, 0) => Ok((EncodingFormat::Untagged, u64_le(header))),
        (1, 1) => {
            let count = [
                header[1], header[2], header[3], header[4], header[5], header[6], 0, 0,
            ];
            Ok((EncodingFormat::Tagged, u64_le(&count)))
        }
        (first, last) => Err(Error::decode(
            0,
            format!(
                "unknown format: bytes 0 and 7 are {first} and {last} (expected byte 7 = 0, \
                 or both 1 for the tagged format)"
            ),
        )),
    }
}

pub(super) fn decode(bytes: &[u8]) -> Result<GtidSet, Error> {
    let (format, n_tsids) = decode_header(bytes)?;
    let tagged = format == EncodingFormat::Tagged;
    let mut r = Reader { bytes, pos: 8 };
    let mut builder = GtidSetBuilder::new();
    for _ in 0..n_tsids {
        let uuid_bytes = r.take(16, "a 16-byte server uuid")?;
        let mut uuid = [0u8; 16];
        uuid.copy_from_slice(uuid_bytes);
        let uuid = ServerUuid::from_bytes(uuid);
        let tag = if tagged { r.tag()? } else { Tag::default() };
        let count_at = r.pos;
        let n_intervals = u64_le(r.take(8, "an 8-byte interval count")?);
        let remaining = (bytes.len() - r.pos) as u64;
        if n_intervals > remaining / 16 {
            return Err(Error::decode(
                count_at,
                format!(
                    "{n_intervals} intervals declared but only {remaining} bytes follow (16 bytes each)"
                ),
            ));
        }
        let mut last_end: i64 = 0;
        for _ in 0..n_intervals {
            let at = r.pos;
            let start = i64::from_le_bytes(r.array()?);
            let end = i64::from_le_bytes(r.array()?);
            if start <= last_end {
                return Err(Error::decode(
                    at,
                    format!(
                        "interval start {start} is not after the previous interval's end {last_end} (intervals must be positive, sorted and not touch)"
                    ),
                ));
            }
            if end <= start {
                return Err(Error::decode(
                    at + 8,
                    format!("interval end {end} is not after its start {start}"),
                ));
            }
            last_end = end;
            // 1 <= start < end <= i64::MAX, so both inclusive bounds are within 1..=MAX_GNO.
            builder.push_valid(
                uuid,
                &tag,
                Interval {
                    start: start as u64,
                    end: end as u64 - 1,
                },
            );
        }
    }
    if r.pos != bytes.len() {
        return Err(Error::decode(
            r.pos,
            format!("{} trailing bytes after the last tsid", bytes.len() - r.pos),
        ));
    }
    Ok(builder.build())
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], Error> {
        match self.bytes.get(self.pos..self.pos + n) {
            Some(slice) => {
                self.pos += n;
                Ok(slice)
            }
            None => Err(Error::decode(
                self.pos,
                format!(
                    "truncated: expected {what}, found {} bytes",
                    self.bytes.len().saturating_sub(self.pos)
                ),
            )),
        }
    }

    fn array(&mut self) -> Result<[u8; 8], Error> {
        let mut out = [0u8; 8];
        out.copy_from_slice(self.take(8, "an 8-byte interval bound")?);
        Ok(out)
    }

    /// A tag: its length as a MySQL serialization varint, then the bytes.
    fn tag(&mut self) -> Result<Tag, Error> {
        let at = self.pos;
        let first = self.take(1, "the tag length")?[0];
        let extra = first.trailing_ones() as usize;
        let len = if extra == 0 {
            u64::from(first >> 1)
        } else {
            let rest = self.take(extra, "the rest of the tag length")?;
            let mut word = [0u8; 8];
            if extra == 8 {
                word.copy_from_slice(rest);
                u64_le(&word)
            } else {
                word[0] = first;
                word[1..=extra].copy_from_slice(rest);
                u64_le(&word) >> (extra + 1)
            }
        };
        if len > MAX_TAG_LEN as u64 {
            return Err(Error::decode(
                at,
                format!("tag length {len} is longer than 32"),
            ));
        }
        let text = self.take(len as usize, "the tag bytes")?;
        let tag = Tag::from_ascii(text, None)
            .map_err(|e| Error::decode(at + 1 + extra, e.to_string()))?;
        if tag.as_bytes() != text {
            return Err(Error::decode(
                at + 1 + extra,
                format!("tag {:?} is not lower-case", tag.as_str()),
            ));
        }
        Ok(tag)
    }
}

fn u64_le(b: &[u8]) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&b[..8]);
    u64::from_le_bytes(word)
}
