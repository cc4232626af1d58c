//! The crate's one error type.

use std::fmt;

/// Everything that can go wrong in this crate: malformed text, out-of-range numbers, bad binary encodings.
///
/// Parse errors carry the byte offset into the input and what the parser expected there, so a caller can
/// point at the exact spot. [`Error::offset`] returns it for every variant that has one.
#[derive(Clone, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// Text did not follow the grammar.
    Syntax {
        /// What was being parsed, e.g. "gtid set" or "server uuid".
        what: &'static str,
        /// Byte offset into the input where the problem starts.
        offset: usize,
        /// What the parser expected at `offset`.
        expected: &'static str,
        /// What it found instead, quoted, or "end of input".
        found: String,
    },
    /// A GNO outside `1..=9223372036854775806` (2^63-2).
    GnoOutOfRange {
        /// The offending number as written.
        value: String,
        /// Byte offset of the number in the parsed text, when the GNO came from text.
        offset: Option<usize>,
    },
    /// An interval whose start is after its end.
    ReversedInterval {
        /// First GNO.
        start: u64,
        /// Last GNO (inclusive).
        end: u64,
    },
    /// A tag that does not match `[a-z_][a-z0-9_]{0,31}` after trimming and lower-casing.
    InvalidTag {
        /// The offending tag as written.
        tag: String,
        /// Byte offset of the tag in the parsed text, when it came from a larger text.
        offset: Option<usize>,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// A binary GTID set encoding was malformed.
    Decode {
        /// Byte offset into the encoding where the problem starts.
        offset: usize,
        /// What is wrong there.
        reason: String,
    },
}

impl Error {
    /// The byte offset into the input where the problem starts, when the error came from parsing or decoding.
    pub fn offset(&self) -> Option<usize> {
        match self {
            Error::Syntax { offset, .. } | Error::Decode { offset, .. } => Some(*offset),
            Error::GnoOutOfRange { offset, .. } | Error::InvalidTag { offset, .. } => *offset,
            Error::ReversedInterval { .. } => None,
        }
    }

    pub(crate) fn syntax(
        what: &'static str,
        input: &[u8],
        offset: usize,
        expected: &'static str,
    ) -> Error {
        Error::Syntax {
            what,
            offset,
            expected,
            found: describe_at(input, offset),
        }
    }

    pub(crate) fn decode(offset: usize, reason: impl Into<String>) -> Error {
        Error::Decode {
            offset,
            reason: reason.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Syntax {
                what,
                offset,
                expected,
                found,
            } => {
                write!(
                    f,
                    "invalid {what} at byte {offset}: expected {expected}, found {found}"
                )
            }
            Error::GnoOutOfRange { value, offset } => {
                write!(f, "gno {value}")?;
                if let Some(offset) = offset {
                    write!(f, " at byte {offset}")?;
                }
                write!(f, " is out of range (a gno is 1..=9223372036854775806)")
            }
            Error::ReversedInterval { start, end } => {
                write!(
                    f,
                    "interval {start}-{end} is reversed (the start must not be after the end)"
                )
            }
            Error::InvalidTag {
                tag,
                offset,
                reason,
            } => {
                write!(f, "invalid tag {tag:?}")?;
                if let Some(offset) = offset {
                    write!(f, " at byte {offset}")?;
                }
                write!(f, ": {reason} (a tag matches [a-z_][a-z0-9_]{{0,31}})")
            }
            Error::Decode { offset, reason } => {
                write!(f, "invalid binary gtid set at byte {offset}: {reason}")
            }
        }
    }
}

impl std::error::Error for Error {}

/// Describes the input at `offset` for an error message: the character quoted, or "end of input".
fn describe_at(input: &[u8], offset: usize) -> String {
    match input.get(offset..) {
        None | Some([]) => "end of input".to_owned(),
        Some(rest) => {
            // Show one whole UTF-8 character when the input is text; a lone byte otherwise.
            let shown = match std::str::from_utf8(&rest[..rest.len().min(4)]) {
                Ok(s) => s.chars().next(),
                Err(e) if e.valid_up_to() > 0 => std::str::from_utf8(&rest[..e.valid_up_to()])
                    .ok()
                    .and_then(|s| s.chars().next()),
                Err(_) => None,
            };
            match shown {
                Some(c) => format!("{c:?}"),
                None => format!("byte 0x{:02x}", rest[0]),
            }
        }
    }
}
