//! Server UUIDs: the 16-byte source identifier of a MySQL GTID.

use std::fmt;
use std::str::FromStr;

use crate::Error;

/// A MySQL `server_uuid`: 16 bytes, printed lower-case as `8-4-4-4-12` hex digits.
///
/// Ordering is by the 16 bytes, which is the order MySQL prints GTID set blocks in.
///
/// ```
/// use bloodraven_gtid::ServerUuid;
/// let uuid: ServerUuid = "3E11FA47-71CA-11E1-9E33-C80AA9429562".parse()?;
/// assert_eq!(uuid.to_string(), "3e11fa47-71ca-11e1-9e33-c80aa9429562");
/// assert_eq!(uuid.as_bytes()[0], 0x3e);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Default, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub struct ServerUuid([u8; 16]);

impl ServerUuid {
    /// The UUID with these 16 bytes.
    pub const fn from_bytes(bytes: [u8; 16]) -> ServerUuid {
        ServerUuid(bytes)
    }

    /// The 16 bytes, in the order they are printed and encoded.
    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// Parses exactly the 36-character dashed form, as the GTID set parser reads it.
    ///
    /// `text` may be longer (the rest is ignored); `base` is added to error offsets.
    #[inline]
    pub(crate) fn parse_dashed(
        text: &[u8],
        base: usize,
        what: &'static str,
    ) -> Result<ServerUuid, Error> {
        // Fast path: check the four dashes, then decode 32 digits through a table, OR-ing the table's
        // "invalid" bit across all of them.
        if let Some(t) = text.get(..36)
            && t[8] == b'-'
            && t[13] == b'-'
            && t[18] == b'-'
            && t[23] == b'-'
        {
            let mut bytes = [0u8; 16];
            let mut invalid = 0u8;
            for (out, &p) in bytes.iter_mut().zip(DIGIT_POSITIONS.iter()) {
                let hi = HEX_VALUE[usize::from(t[p])];
                let lo = HEX_VALUE[usize::from(t[p + 1])];
                invalid |= hi | lo;
                *out = (hi << 4) | (lo & 0x0f);
            }
            if invalid & INVALID == 0 {
                return Ok(ServerUuid(bytes));
            }
        }
        ServerUuid::parse_dashed_slow(text, base, what)
    }

    /// Like `parse_dashed`, one character at a time, to report exactly where the text goes wrong.
    #[cold]
    fn parse_dashed_slow(
        text: &[u8],
        base: usize,
        what: &'static str,
    ) -> Result<ServerUuid, Error> {
        let mut bytes = [0u8; 16];
        let mut pos = 0usize;
        for (i, out) in bytes.iter_mut().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                if text.get(pos) != Some(&b'-') {
                    return Err(uuid_error(what, text, base, pos, "'-' in the server uuid"));
                }
                pos += 1;
            }
            let hi = hex_value(text, pos).ok_or_else(|| uuid_error(what, text, base, pos, HEX))?;
            let lo = hex_value(text, pos + 1)
                .ok_or_else(|| uuid_error(what, text, base, pos + 1, HEX))?;
            *out = (hi << 4) | lo;
            pos += 2;
        }
        Ok(ServerUuid(bytes))
    }

    /// Writes the 36 lower-case characters into `out`.
    #[inline]
    pub(crate) fn write_into(&self, out: &mut [u8; 36]) {
        out[8] = b'-';
        out[13] = b'-';
        out[18] = b'-';
        out[23] = b'-';
        for (&b, &p) in self.0.iter().zip(DIGIT_POSITIONS.iter()) {
            out[p..p + 2].copy_from_slice(&HEX_PAIRS[usize::from(b)].to_le_bytes());
        }
    }
}

/// Where each byte's two hex digits start in the dashed form.
const DIGIT_POSITIONS: [usize; 16] = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];

/// The two lower-case hex digits of every byte value, the first in the low byte.
const HEX_PAIRS: [u16; 256] = {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut table = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = u16::from_le_bytes([DIGITS[i >> 4], DIGITS[i & 0x0f]]);
        i += 1;
    }
    table
};

/// Marks a byte that is not a hex digit in `HEX_VALUE`.
const INVALID: u8 = 0x80;

/// The value of each hex digit (either case), or `INVALID`.
const HEX_VALUE: [u8; 256] = {
    let mut table = [INVALID; 256];
    let mut i = 0;
    while i < 10 {
        table[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        table[b'a' as usize + i] = 10 + i as u8;
        table[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    table
};

impl fmt::Display for ServerUuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; 36];
        self.write_into(&mut buf);
        // Only ASCII hex digits and dashes were written.
        f.write_str(std::str::from_utf8(&buf).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for ServerUuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ServerUuid({self})")
    }
}

impl FromStr for ServerUuid {
    type Err = Error;

    /// Accepts what MySQL's `Uuid::parse` accepts: the 36-character `8-4-4-4-12` form, the same wrapped in
    /// braces, or 32 hex digits without dashes; hex digits in either case. The GTID *set* parser accepts only
    /// the 36-character form, as the server does.
    fn from_str(s: &str) -> Result<ServerUuid, Error> {
        let b = s.as_bytes();
        match b.len() {
            36 => ServerUuid::parse_dashed(b, 0, "server uuid"),
            38 if b[0] == b'{' && b[37] == b'}' => {
                ServerUuid::parse_dashed(&b[1..37], 1, "server uuid")
            }
            32 => {
                let mut bytes = [0u8; 16];
                for (i, out) in bytes.iter_mut().enumerate() {
                    let hi = hex_value(b, 2 * i)
                        .ok_or_else(|| uuid_error("server uuid", b, 0, 2 * i, HEX))?;
                    let lo = hex_value(b, 2 * i + 1)
                        .ok_or_else(|| uuid_error("server uuid", b, 0, 2 * i + 1, HEX))?;
                    *out = (hi << 4) | lo;
                }
                Ok(ServerUuid(bytes))
            }
            _ => Err(Error::Syntax {
                what: "server uuid",
                offset: 0,
                expected: "36 characters in 8-4-4-4-12 hex form",
                found: format!("{} characters {s:?}", s.chars().count()),
            }),
        }
    }
}

const HEX: &str = "a hex digit of the server uuid";

fn uuid_error(
    what: &'static str,
    text: &[u8],
    base: usize,
    pos: usize,
    expected: &'static str,
) -> Error {
    let mut e = Error::syntax(what, text, pos, expected);
    if let Error::Syntax { offset, .. } = &mut e {
        *offset += base;
    }
    e
}

fn hex_value(text: &[u8], pos: usize) -> Option<u8> {
    let c = *text.get(pos)?;
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_mysql_spellings() {
        let dashed: ServerUuid = "3e11fa47-71ca-11e1-9e33-c80aa9429562".parse().unwrap();
        let upper: ServerUuid = "3E11FA47-71CA-11E1-9E33-C80AA9429562".parse().unwrap();
        let braced: ServerUuid = "{3e11fa47-71ca-11e1-9e33-c80aa9429562}".parse().unwrap();
        let bare: ServerUuid = "3e11fa4771ca11e19e33c80aa9429562".parse().unwrap();
        assert_eq!(dashed, upper);
        assert_eq!(dashed, braced);
        assert_eq!(dashed, bare);
        assert_eq!(dashed.to_string(), "3e11fa47-71ca-11e1-9e33-c80aa9429562");
    }

    #[test]
    fn prints_every_byte_value_in_every_position() {
        for v in 0..=255u8 {
            for first in 0..16 {
                let mut bytes = [0x5au8; 16];
                bytes[first] = v;
                bytes[15 - first] = v.rotate_left(4);
                let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
                let expected = format!(
                    "{}-{}-{}-{}-{}",
                    &hex[..8],
                    &hex[8..12],
                    &hex[12..16],
                    &hex[16..20],
                    &hex[20..]
                );
                let uuid = ServerUuid::from_bytes(bytes);
                assert_eq!(uuid.to_string(), expected);
                assert_eq!(expected.parse::<ServerUuid>().unwrap(), uuid);
            }
        }
    }

    #[test]
    fn rejects_with_offsets() {
        let e = "3e11fa47-71ca-11e1-9e33-c80aa942956g"
            .parse::<ServerUuid>()
            .unwrap_err();
        assert_eq!(e.offset(), Some(35));
        let e = "3e11fa47x71ca-11e1-9e33-c80aa9429562"
            .parse::<ServerUuid>()
            .unwrap_err();
        assert_eq!(e.offset(), Some(8));
        assert!(e.to_string().contains("'-'"), "{e}");
        assert!("3e11fa47".parse::<ServerUuid>().is_err());
        assert!(
            "{3e11fa47-71ca-11e1-9e33-c80aa9429562]"
                .parse::<ServerUuid>()
                .is_err()
        );
    }
}
