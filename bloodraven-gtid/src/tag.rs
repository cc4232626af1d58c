//! GTID tags (MySQL 8.3+): a short lower-case name that splits one server's GTIDs into separate sequences.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use crate::Error;

/// The longest tag MySQL accepts.
pub(crate) const MAX_TAG_LEN: usize = 32;

/// A MySQL 8.3+ GTID tag: `[a-z_][a-z0-9_]{0,31}`, stored trimmed and lower-cased.
///
/// The empty tag ([`Tag::default`]) means "untagged"; it sorts before every other tag, which is the order
/// MySQL prints a UUID's blocks in. Tags are stored inline (no allocation) and are `Copy`.
///
/// ```
/// use bloodraven_gtid::Tag;
/// let tag = Tag::parse("  Batch_7 ")?;
/// assert_eq!(tag.as_str(), "batch_7");
/// assert!(Tag::default().is_untagged());
/// assert!(Tag::parse("7up").is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy)]
pub struct Tag {
    len: u8,
    bytes: [u8; MAX_TAG_LEN],
}

impl Tag {
    /// Parses a tag as MySQL does: surrounding whitespace is trimmed, letters are lower-cased, and the result
    /// must match `[a-z_][a-z0-9_]{0,31}`. Empty (or all-whitespace) text is the untagged tag.
    pub fn parse(text: &str) -> Result<Tag, Error> {
        let trimmed = text.trim_matches(|c: char| c.is_ascii_whitespace());
        Tag::from_ascii(trimmed.as_bytes(), None)
    }

    /// The tag text, lower-case; empty when untagged.
    pub fn as_str(&self) -> &str {
        // Only ASCII letters, digits and '_' are ever stored (checked in `from_ascii`).
        std::str::from_utf8(self.as_bytes()).unwrap_or("")
    }

    /// `true` for the empty tag, i.e. a plain `uuid:gno` GTID.
    pub fn is_untagged(&self) -> bool {
        self.len == 0
    }

    /// The tag text as bytes.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// Validates and lower-cases an already trimmed tag; `offset` locates it in a larger text for errors.
    pub(crate) fn from_ascii(text: &[u8], offset: Option<usize>) -> Result<Tag, Error> {
        let invalid = |reason| Error::InvalidTag {
            tag: String::from_utf8_lossy(text).into_owned(),
            offset,
            reason,
        };
        if text.len() > MAX_TAG_LEN {
            return Err(invalid("longer than 32 characters"));
        }
        let mut tag = Tag {
            len: text.len() as u8,
            bytes: [0; MAX_TAG_LEN],
        };
        for (i, &c) in text.iter().enumerate() {
            tag.bytes[i] = match c {
                b'a'..=b'z' | b'_' => c,
                b'A'..=b'Z' => c.to_ascii_lowercase(),
                b'0'..=b'9' if i > 0 => c,
                b'0'..=b'9' => return Err(invalid("starts with a digit")),
                _ => {
                    return Err(invalid(
                        "contains a character other than a letter, digit or '_'",
                    ));
                }
            };
        }
        Ok(tag)
    }
}

impl Default for Tag {
    /// The untagged (empty) tag.
    fn default() -> Tag {
        Tag {
            len: 0,
            bytes: [0; MAX_TAG_LEN],
        }
    }
}

impl PartialEq for Tag {
    fn eq(&self, other: &Tag) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Tag {}

impl Hash for Tag {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

impl Ord for Tag {
    fn cmp(&self, other: &Tag) -> Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl PartialOrd for Tag {
    fn partial_cmp(&self, other: &Tag) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tag({:?})", self.as_str())
    }
}

impl FromStr for Tag {
    type Err = Error;

    fn from_str(s: &str) -> Result<Tag, Error> {
        Tag::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_and_orders() {
        assert_eq!(Tag::parse("\t Foo_1\r").unwrap().as_str(), "foo_1");
        assert!(Tag::parse(" ").unwrap().is_untagged());
        assert!(Tag::default() < Tag::parse("a").unwrap());
        assert!(Tag::parse("a").unwrap() < Tag::parse("ab").unwrap());
        assert_eq!(Tag::parse("ABC").unwrap(), Tag::parse("abc").unwrap());
    }

    #[test]
    fn rejects_bad_tags() {
        for bad in ["1a", "a-b", "a b", "é", &"a".repeat(33)] {
            let e = Tag::parse(bad).unwrap_err();
            assert!(matches!(e, Error::InvalidTag { .. }), "{bad}: {e}");
        }
        assert!(Tag::parse(&"a".repeat(32)).is_ok());
    }
}
