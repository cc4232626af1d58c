//! Single GTIDs (`uuid[:tag]:gno`) and inclusive GNO intervals.

use std::fmt;
use std::str::FromStr;

use crate::{Error, ServerUuid, Tag};

/// The largest GNO MySQL accepts: 2^63-2 (9223372036854775806).
pub const MAX_GNO: u64 = (1 << 63) - 2;

/// One global transaction identifier: the source server's UUID, an optional tag, and the transaction's
/// sequence number (GNO), `1..=`[`MAX_GNO`].
///
/// ```
/// use bloodraven_gtid::Gtid;
/// let gtid: Gtid = "3E11FA47-71CA-11E1-9E33-C80AA9429562:Batch:23".parse()?;
/// assert_eq!(gtid.gno(), 23);
/// assert_eq!(gtid.tag().as_str(), "batch");
/// assert_eq!(gtid.to_string(), "3e11fa47-71ca-11e1-9e33-c80aa9429562:batch:23");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub struct Gtid {
    uuid: ServerUuid,
    tag: Tag,
    gno: u64,
}

impl Gtid {
    /// A GTID; fails when `gno` is 0 or above [`MAX_GNO`].
    pub fn new(uuid: ServerUuid, tag: Tag, gno: u64) -> Result<Gtid, Error> {
        check_gno(gno)?;
        Ok(Gtid { uuid, tag, gno })
    }

    /// The source server's UUID.
    pub fn uuid(&self) -> ServerUuid {
        self.uuid
    }

    /// The tag; [`Tag::is_untagged`] for a plain `uuid:gno`.
    pub fn tag(&self) -> &Tag {
        &self.tag
    }

    /// The transaction's sequence number, `1..=`[`MAX_GNO`].
    pub fn gno(&self) -> u64 {
        self.gno
    }
}

impl fmt::Display for Gtid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.tag.is_untagged() {
            write!(f, "{}:{}", self.uuid, self.gno)
        } else {
            write!(f, "{}:{}:{}", self.uuid, self.tag, self.gno)
        }
    }
}

impl FromStr for Gtid {
    type Err = Error;

    /// Parses `uuid:gno` or `uuid:tag:gno`; whitespace around each part is allowed, as in GTID sets.
    fn from_str(s: &str) -> Result<Gtid, Error> {
        let bytes = s.as_bytes();
        let start = skip_ws(bytes, 0);
        let colon = match bytes[start..].iter().position(|&c| c == b':') {
            Some(i) => start + i,
            None => {
                return Err(Error::syntax(
                    "gtid",
                    bytes,
                    bytes.len(),
                    "':' after the server uuid",
                ));
            }
        };
        let uuid_text = s[start..colon].trim_end_matches(|c: char| c.is_ascii_whitespace());
        let uuid: ServerUuid = uuid_text.parse().map_err(|e| shift(e, start))?;
        let rest_start = colon + 1;
        let (tag, gno_start) = match bytes[rest_start..].iter().position(|&c| c == b':') {
            Some(i) => {
                let tag_start = skip_ws(bytes, rest_start);
                let tag_text = s[tag_start..rest_start + i]
                    .trim_end_matches(|c: char| c.is_ascii_whitespace());
                (
                    Tag::from_ascii(tag_text.as_bytes(), Some(tag_start))?,
                    rest_start + i + 1,
                )
            }
            None => (Tag::default(), rest_start),
        };
        let num_start = skip_ws(bytes, gno_start);
        let (gno, end) = parse_gno(bytes, num_start, "gtid")?;
        let end = skip_ws(bytes, end);
        if end != bytes.len() {
            return Err(Error::syntax(
                "gtid",
                bytes,
                end,
                "end of input after the gno",
            ));
        }
        Ok(Gtid { uuid, tag, gno })
    }
}

/// An inclusive range of GNOs, `start..=end`, with `1 <= start <= end <=` [`MAX_GNO`].
///
/// MySQL prints it as `start-end`, or just `start` when both are equal.
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub struct Interval {
    pub(crate) start: u64,
    pub(crate) end: u64,
}

impl Interval {
    /// The interval `start..=end`; fails when a bound is out of range or `start > end`.
    pub fn new(start: u64, end: u64) -> Result<Interval, Error> {
        check_gno(start)?;
        check_gno(end)?;
        if start > end {
            return Err(Error::ReversedInterval { start, end });
        }
        Ok(Interval { start, end })
    }

    /// First GNO.
    pub fn start(&self) -> u64 {
        self.start
    }

    /// Last GNO (inclusive).
    pub fn end(&self) -> u64 {
        self.end
    }

    /// Number of GNOs in the interval (never zero).
    #[allow(
        clippy::len_without_is_empty,
        reason = "an interval always holds at least one gno"
    )]
    pub fn len(&self) -> u64 {
        self.end - self.start + 1
    }

    /// `true` when `gno` lies in the interval.
    pub fn contains(&self, gno: u64) -> bool {
        self.start <= gno && gno <= self.end
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.start == self.end {
            write!(f, "{}", self.start)
        } else {
            write!(f, "{}-{}", self.start, self.end)
        }
    }
}

/// Fails when `gno` is outside `1..=MAX_GNO`.
pub(crate) fn check_gno(gno: u64) -> Result<(), Error> {
    if (1..=MAX_GNO).contains(&gno) {
        Ok(())
    } else {
        Err(Error::GnoOutOfRange {
            value: gno.to_string(),
            offset: None,
        })
    }
}

/// A number as C's `strtoll(text, &end, 0)` reads it, which is how MySQL's `parse_gno` reads a GNO: optional
/// whitespace, an optional sign, then decimal digits, or octal after a leading `0`, or hex after `0x`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CNumber {
    /// Offset of the first byte after leading whitespace (where the number starts).
    pub(crate) start: usize,
    /// Offset after the last digit.
    pub(crate) end: usize,
    /// A '-' sign preceded a non-zero magnitude.
    pub(crate) negative: bool,
    /// The magnitude, saturated at `u64::MAX`.
    pub(crate) magnitude: u64,
}

impl CNumber {
    /// Reads a number at `pos`; `None` when there are no digits (strtoll converts nothing).
    #[inline]
    pub(crate) fn read(text: &[u8], pos: usize) -> Option<CNumber> {
        let start = skip_ws(text, pos);
        let mut p = start;
        let mut negative = false;
        match text.get(p) {
            Some(b'+') => p += 1,
            Some(b'-') => {
                negative = true;
                p += 1;
            }
            _ => {}
        }
        let digits_start = p;
        let mut value: u64 = 0;
        if text.get(p) == Some(&b'0') {
            if matches!(text.get(p + 1), Some(b'x' | b'X'))
                && text.get(p + 2).is_some_and(u8::is_ascii_hexdigit)
            {
                p += 2;
                while let Some(d) = text.get(p).and_then(|&c| char::from(c).to_digit(16)) {
                    value = value.saturating_mul(16).saturating_add(u64::from(d));
                    p += 1;
                }
            } else {
                while let Some(&c) = text.get(p).filter(|c| (b'0'..=b'7').contains(c)) {
                    value = value.saturating_mul(8).saturating_add(u64::from(c - b'0'));
                    p += 1;
                }
            }
        } else {
            while let Some(&c) = text.get(p).filter(|c| c.is_ascii_digit()) {
                value = value.saturating_mul(10).saturating_add(u64::from(c - b'0'));
                p += 1;
            }
        }
        if p == digits_start {
            return None;
        }
        Some(CNumber {
            start,
            end: p,
            negative: negative && value != 0,
            magnitude: value,
        })
    }

    /// The number as a GNO bound, `0..=MAX_GNO`; negative or too large numbers are errors (MySQL's
    /// `parse_gno` returns -1 for them).
    pub(crate) fn gno(&self, text: &[u8]) -> Result<u64, Error> {
        if self.negative || self.magnitude > MAX_GNO {
            return Err(Error::GnoOutOfRange {
                value: String::from_utf8_lossy(&text[self.start..self.end]).into_owned(),
                offset: Some(self.start),
            });
        }
        Ok(self.magnitude)
    }
}

/// Parses a GNO (`1..=MAX_GNO`) at `pos` with MySQL's rules; returns it and the offset after its digits.
pub(crate) fn parse_gno(
    text: &[u8],
    pos: usize,
    what: &'static str,
) -> Result<(u64, usize), Error> {
    let Some(number) = CNumber::read(text, pos) else {
        return Err(Error::syntax(
            what,
            text,
            skip_ws(text, pos),
            "a gno (a number from 1 to 9223372036854775806)",
        ));
    };
    match number.gno(text)? {
        0 => Err(Error::GnoOutOfRange {
            value: String::from_utf8_lossy(&text[number.start..number.end]).into_owned(),
            offset: Some(number.start),
        }),
        gno => Ok((gno, number.end)),
    }
}

/// MySQL's whitespace (`my_isspace`): space, tab, newline, vertical tab, form feed, carriage return.
pub(crate) fn is_ws(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// The offset of the first non-whitespace byte at or after `pos`.
pub(crate) fn skip_ws(text: &[u8], mut pos: usize) -> usize {
    while text.get(pos).is_some_and(|&c| is_ws(c)) {
        pos += 1;
    }
    pos
}

fn shift(mut e: Error, by: usize) -> Error {
    if let Error::Syntax { offset, .. } = &mut e {
        *offset += by;
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_and_tagged() {
        let g: Gtid = " 3e11fa47-71ca-11e1-9e33-c80aa9429562 : 7 "
            .parse()
            .unwrap();
        assert_eq!(g.gno(), 7);
        assert!(g.tag().is_untagged());
        let g: Gtid = "3e11fa47-71ca-11e1-9e33-c80aa9429562:T1:9".parse().unwrap();
        assert_eq!(g.to_string(), "3e11fa47-71ca-11e1-9e33-c80aa9429562:t1:9");
    }

    #[test]
    fn rejects_bad_gtids() {
        for bad in [
            "3e11fa47-71ca-11e1-9e33-c80aa9429562",
            "3e11fa47-71ca-11e1-9e33-c80aa9429562:0",
            "3e11fa47-71ca-11e1-9e33-c80aa9429562:9223372036854775807",
            "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-2",
            "3e11fa47-71ca-11e1-9e33-c80aa9429562:1x:2",
            "3e11fa47-71ca-11e1-9e33-c80aa942956:1",
        ] {
            assert!(bad.parse::<Gtid>().is_err(), "{bad}");
        }
        let e = "3e11fa47-71ca-11e1-9e33-c80aa9429562:99999999999999999999"
            .parse::<Gtid>()
            .unwrap_err();
        assert_eq!(e.offset(), Some(37));
    }

    #[test]
    fn interval_rules() {
        assert!(Interval::new(0, 1).is_err());
        assert!(Interval::new(5, 4).is_err());
        assert!(Interval::new(1, MAX_GNO + 1).is_err());
        assert_eq!(Interval::new(1, MAX_GNO).unwrap().len(), MAX_GNO);
        assert_eq!(Interval::new(3, 3).unwrap().to_string(), "3");
        assert_eq!(Interval::new(3, 4).unwrap().to_string(), "3-4");
    }
}
