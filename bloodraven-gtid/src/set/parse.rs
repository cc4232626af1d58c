//! The GTID set text parser, following MySQL 8.3+ `Gtid_set::add_gtid_text`.

use super::{GtidSet, GtidSetBuilder};
use crate::gtid::{parse_gno, skip_ws};
use crate::{Error, Interval, ServerUuid, Tag};

const WHAT: &str = "gtid set";

/// Parses MySQL GTID set text.
///
/// Grammar (whitespace, including newlines, allowed between all tokens):
/// `set = [item] {"," [item]}`, `item = uuid {":" (interval | tag)}`, `interval = gno ["-" gno]`.
/// Empty items are skipped; a reversed interval is ignored; a tag applies to the intervals after it.
pub(super) fn parse(text: &str) -> Result<GtidSet, Error> {
    let s = text.as_bytes();
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
        while s.get(pos) == Some(&b':') {
            pos = skip_ws(s, pos + 1);
            match s.get(pos) {
                Some(c) if c.is_ascii_digit() => {
                    let (start, after) = parse_gno(s, pos, WHAT)?;
                    pos = skip_ws(s, after);
                    let mut end = start;
                    if s.get(pos) == Some(&b'-') {
                        pos = skip_ws(s, pos + 1);
                        let (e, after) = parse_gno(s, pos, WHAT)?;
                        end = e;
                        pos = skip_ws(s, after);
                    }
                    // MySQL ignores a reversed interval (`if (end > start)` on its exclusive end).
                    if start <= end {
                        builder.push_valid(uuid, &tag, Interval { start, end });
                    }
                }
                Some(c) if c.is_ascii_alphabetic() || *c == b'_' => {
                    let start = pos;
                    while s
                        .get(pos)
                        .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
                    {
                        pos += 1;
                    }
                    tag = Tag::from_ascii(&s[start..pos], Some(start))?;
                    pos = skip_ws(s, pos);
                }
                _ => return Err(Error::syntax(WHAT, s, pos, "a gno or a tag after ':'")),
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
    fn errors_name_the_byte() {
        let e = parse(&format!("{U}:1-")).unwrap_err();
        assert_eq!(e.offset(), Some(39));
        assert!(e.to_string().contains("expected a gno"), "{e}");
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
