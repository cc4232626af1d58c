//! The GTID set text parser, following MySQL 8.3+ `Gtid_set::add_gtid_text`.

use super::{Block, GtidSet, GtidSetBuilder};
use crate::gtid::{CNumber, skip_ws};
use crate::tag::MAX_TAG_LEN;
use crate::{Error, Interval, MAX_GNO, ServerUuid, Tag};

const WHAT: &str = "gtid set";

/// Parses MySQL GTID set text.
///
/// Grammar (whitespace, including newlines, allowed between all tokens):
/// `set = [item] {"," [item]}`, `item = uuid {":" (tag | interval)}`, `interval = gno ["-" gno]`.
/// Empty items are skipped; a tag applies to the intervals after it; an interval whose end is before its
/// start (or missing, or 0) is ignored, as the server does.
pub(super) fn parse(text: &str) -> Result<GtidSet, Error> {
    let s = text.as_bytes();
    if let Some(set) = parse_one_range(s) {
        return Ok(set);
    }
    let mut builder = GtidSetBuilder::new();
    let mut pos = skip_ws(s, 0);
    loop {
        // Empty items between commas are allowed.
        while s.get(pos) == Some(&b',') {
            pos = skip_ws(s, pos + 1);
        }
        if pos >= s.len() {
            return Ok(builder.build());
        }
        let uuid = ServerUuid::parse_dashed(&s[pos..], pos, WHAT)?;
        pos = skip_ws(s, pos + 36);
        let mut tag = Tag::default();
        // Whether the builder's current block is (uuid, tag); selected lazily so tags without
        // intervals create nothing.
        let mut selected = false;
        while s.get(pos) == Some(&b':') {
            pos += 1;
            let start = match s.get(pos) {
                // Fast path: a plain decimal GNO, the form MySQL prints.
                Some(b'1'..=b'9') => {
                    let (gno, after) = decimal(s, pos)?;
                    pos = after;
                    gno
                }
                // Like MySQL's `Tag::from_cstring`, try a tag first, then a number read as strtoll does.
                _ => {
                    if let Some((new_tag, after)) = read_tag(s, pos)? {
                        tag = new_tag;
                        selected = false;
                        pos = after;
                        continue;
                    }
                    let Some(number) = CNumber::read(s, pos) else {
                        return Err(not_a_gno(s, pos));
                    };
                    pos = number.end;
                    match number.gno(s)? {
                        0 => {
                            return Err(Error::GnoOutOfRange {
                                value: String::from_utf8_lossy(&s[number.start..number.end])
                                    .into_owned(),
                                offset: Some(number.start),
                            });
                        }
                        gno => gno,
                    }
                }
            };
            pos = skip_ws(s, pos);
            let mut end = start;
            if s.get(pos) == Some(&b'-') {
                pos += 1;
                end = match s.get(pos) {
                    Some(b'1'..=b'9') => {
                        let (gno, after) = decimal(s, pos)?;
                        pos = after;
                        gno
                    }
                    // MySQL reads a missing end as 0: the interval is then empty and ignored.
                    _ => match CNumber::read(s, pos) {
                        Some(number) => {
                            pos = number.end;
                            number.gno(s)?
                        }
                        None => 0,
                    },
                };
                pos = skip_ws(s, pos);
            }
            // MySQL adds the interval only `if (end > start)` on its exclusive end.
            if start <= end {
                if !selected {
                    builder.select(uuid, &tag);
                    selected = true;
                }
                builder.push_last(Interval { start, end });
            }
        }
        match s.get(pos) {
            None => return Ok(builder.build()),
            Some(b',') => pos = skip_ws(s, pos + 1),
            Some(_) => {
                return Err(Error::syntax(
                    WHAT,
                    s,
                    pos,
                    "':', ',' or the end of the set",
                ));
            }
        }
    }
}

/// The commonest text, `uuid:start-end` or `uuid:start` and nothing else (a replica's `gtid_executed` with
/// one source), read straight into the set's two exactly sized allocations. `None` for anything else,
/// including whatever the general parser would reject or read differently (leading zeros, whitespace,
/// reversed intervals): it then parses the text and reports any error.
fn parse_one_range(s: &[u8]) -> Option<GtidSet> {
    let uuid = ServerUuid::read_dashed(s)?;
    if s.get(36) != Some(&b':') {
        return None;
    }
    let (start, pos) = plain_gno(s, 37)?;
    let (end, pos) = match s.get(pos) {
        Some(b'-') => plain_gno(s, pos + 1)?,
        _ => (start, pos),
    };
    if pos != s.len() || end < start {
        return None;
    }
    let block = Block {
        uuid,
        tag: Tag::default(),
        ivs: vec![Interval { start, end }],
    };
    Some(GtidSet::from_sorted_blocks(vec![block]))
}

/// A GNO at `pos` written as MySQL prints it (1-9 then digits, at most MAX_GNO), and the position after it.
#[inline]
fn plain_gno(s: &[u8], pos: usize) -> Option<(u64, usize)> {
    match s.get(pos) {
        // Above MAX_GNO is an error the general parser reports.
        Some(b'1'..=b'9') => decimal(s, pos).ok(),
        _ => None,
    }
}

/// Reads decimal digits at `pos` (the first is known to be 1-9); fails above MAX_GNO.
#[inline]
fn decimal(s: &[u8], pos: usize) -> Result<(u64, usize), Error> {
    let mut value: u64 = 0;
    let mut end = pos;
    while let Some(&c) = s.get(end) {
        if !c.is_ascii_digit() {
            break;
        }
        value = value.saturating_mul(10).saturating_add(u64::from(c - b'0'));
        end += 1;
    }
    if value > MAX_GNO {
        return Err(Error::GnoOutOfRange {
            value: String::from_utf8_lossy(&s[pos..end]).into_owned(),
            offset: Some(pos),
        });
    }
    Ok((value, end))
}

/// Reads a tag after ':' as `Tag::from_cstring` does: optional whitespace, up to 32 tag characters, optional
/// whitespace, then ':' or ',' or the end must follow. Whitespace alone before such a character is the
/// empty (untagged) tag. Returns `None` when there is no tag here, so the caller reads an interval.
fn read_tag(s: &[u8], pos: usize) -> Result<Option<(Tag, usize)>, Error> {
    let start = skip_ws(s, pos);
    let mut end = start;
    while end - start < MAX_TAG_LEN
        && s.get(end).is_some_and(|&c| {
            c.is_ascii_alphabetic() || c == b'_' || (c.is_ascii_digit() && end > start)
        })
    {
        end += 1;
    }
    let after = skip_ws(s, end);
    if after == pos || !matches!(s.get(after), None | Some(b':' | b',')) {
        return Ok(None);
    }
    Ok(Some((Tag::from_ascii(&s[start..end], Some(start))?, after)))
}

/// The error for text after ':' that is neither a tag nor a number.
fn not_a_gno(s: &[u8], pos: usize) -> Error {
    let start = skip_ws(s, pos);
    let run = s[start..]
        .iter()
        .take_while(|&&c| c.is_ascii_alphanumeric() || c == b'_')
        .count();
    let tag_like = s
        .get(start)
        .is_some_and(|&c| c.is_ascii_alphabetic() || c == b'_');
    if tag_like && run > MAX_TAG_LEN {
        return Error::InvalidTag {
            tag: String::from_utf8_lossy(&s[start..start + run]).into_owned(),
            offset: Some(start),
            reason: "longer than 32 characters",
        };
    }
    if tag_like {
        return Error::syntax(
            WHAT,
            s,
            skip_ws(s, start + run),
            "':', ',' or the end of the set after the tag",
        );
    }
    Error::syntax(
        WHAT,
        s,
        start,
        "a tag or a gno (a number from 1 to 9223372036854775806) after ':'",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const U: &str = "3e11fa47-71ca-11e1-9e33-c80aa9429562";

    #[test]
    fn whitespace_and_empty_items() {
        let set = parse(&format!(" ,, {U} : 1 - 3 :\n5 , ,")).unwrap();
        assert_eq!(set.to_string(), format!("{U}:1-3:5"));
        assert!(parse(" \n,\t").unwrap().is_empty());
        assert!(parse(U).unwrap().is_empty());
    }

    #[test]
    fn tags_switch_and_reset_per_item() {
        let set = parse(&format!("{U}:1-5:T:3:u:9, {U}:7")).unwrap();
        assert_eq!(set.to_string(), format!("{U}:1-5:7:t:3:u:9"));
    }

    #[test]
    fn numbers_follow_strtoll_like_the_server() {
        // MySQL's parse_gno is strtoll(.., 0): a sign, octal after 0, hex after 0x.
        let set = parse(&format!("{U}:+5:010:0x1f-0X20")).unwrap();
        assert_eq!(set.to_string(), format!("{U}:5:8:31-32"));
        // A missing, zero or smaller end makes an empty interval, which MySQL ignores.
        assert!(parse(&format!("{U}:1-")).unwrap().is_empty());
        assert!(parse(&format!("{U}:3-0, {U}:5-,")).unwrap().is_empty());
        assert!(parse(&format!("{U}:1-x")).is_err());
        assert!(parse(&format!("{U}:08")).is_err(), "octal 0 then '8'");
        assert!(parse(&format!("{U}:1-9223372036854775807")).is_err());
        assert!(parse(&format!("{U}:1--3")).is_err());
    }

    #[test]
    fn whitespace_alone_after_colon_is_the_untagged_tag() {
        let set = parse(&format!("{U}:t:1: :2,{U}:t:3: ")).unwrap();
        assert_eq!(set.to_string(), format!("{U}:2:t:1:3"));
        assert!(parse(&format!("{U}:t:1:")).is_err());
        assert!(parse(&format!("{U}::1")).is_err());
    }

    #[test]
    fn errors_name_the_byte() {
        let e = parse(&format!("{U}:1:")).unwrap_err();
        assert_eq!(e.offset(), Some(39));
        assert!(e.to_string().contains("expected a tag or a gno"), "{e}");
        let e = parse(&format!("{U}:-1")).unwrap_err();
        assert!(
            matches!(
                e,
                Error::GnoOutOfRange {
                    offset: Some(37),
                    ..
                }
            ),
            "{e}"
        );
        let e = parse(&format!("{U}:a-1")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid gtid set at byte 38: expected ':', ',' or the end of the set after the tag, found '-'"
        );
        let e = parse(&format!("{U}:1 x")).unwrap_err();
        assert_eq!(e.offset(), Some(39));
        assert_eq!(
            e.to_string(),
            "invalid gtid set at byte 39: expected ':', ',' or the end of the set, found 'x'"
        );
        let e = parse(&format!("{U}:0")).unwrap_err();
        assert!(
            matches!(
                e,
                Error::GnoOutOfRange {
                    offset: Some(37),
                    ..
                }
            ),
            "{e}"
        );
        let e = parse(&format!("{U}:{}", "a".repeat(33))).unwrap_err();
        assert!(
            matches!(
                e,
                Error::InvalidTag {
                    offset: Some(37),
                    ..
                }
            ),
            "{e}"
        );
        let e = parse("+3e11fa47").unwrap_err();
        assert_eq!(e.offset(), Some(0));
    }
}
