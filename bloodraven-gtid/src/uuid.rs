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
        if let Some(uuid) = ServerUuid::read_dashed(text) {
            return Ok(uuid);
        }
        ServerUuid::parse_dashed_slow(text, base, what)
    }

    /// The fast path of `parse_dashed`: checks the four dashes, then decodes the 32 digits at once. `None`
    /// when the text does not start with a dashed UUID.
    #[inline]
    pub(crate) fn read_dashed(text: &[u8]) -> Option<ServerUuid> {
        let t = text.first_chunk::<36>()?;
        if t[8] != b'-' || t[13] != b'-' || t[18] != b'-' || t[23] != b'-' {
            return None;
        }
        let word = |at: usize| u64::from_le_bytes(*t[at..].first_chunk().unwrap_or(&[0; 8]));
        let half = |at: usize| {
            u64::from(u32::from_le_bytes(
                *t[at..].first_chunk().unwrap_or(&[0; 4]),
            ))
        };
        let groups = [
            word(0),
            half(9) | (half(14) << 32),
            half(19) | (half(24) << 32),
            word(28),
        ];
        hex_bytes(groups).map(ServerUuid)
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
        // The 32 digits as four words of 8, first digit in the lowest byte, placed around the dashes.
        let [w0, w1, w2, w3] = hex_words(&self.0);
        let half = |w: u64| (w as u32).to_le_bytes();
        out[..8].copy_from_slice(&w0.to_le_bytes());
        out[8] = b'-';
        out[9..13].copy_from_slice(&half(w1));
        out[13] = b'-';
        out[14..18].copy_from_slice(&half(w1 >> 32));
        out[18] = b'-';
        out[19..23].copy_from_slice(&half(w2));
        out[23] = b'-';
        out[24..28].copy_from_slice(&half(w2 >> 32));
        out[28..].copy_from_slice(&w3.to_le_bytes());
    }
}

/// The 32 lower-case hex digits of 16 bytes as four words of 8, first digit in the lowest byte.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline]
fn hex_words(bytes: &[u8; 16]) -> [u64; 4] {
    sse2::hex_words(bytes)
}

/// [`hex_words`] on other CPUs: a table lookup per byte.
#[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
#[inline]
fn hex_words(bytes: &[u8; 16]) -> [u64; 4] {
    hex_words_by_table(bytes)
}

/// One table lookup per byte (on x86-64 only the tests use it, to check the SSE2 version).
#[cfg_attr(
    all(target_arch = "x86_64", target_feature = "sse2", not(test)),
    allow(dead_code)
)]
fn hex_words_by_table(bytes: &[u8; 16]) -> [u64; 4] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut words = [0u64; 4];
    for (word, chunk) in words.iter_mut().zip(bytes.chunks_exact(4)) {
        *word = chunk.iter().rev().fold(0, |acc, &b| {
            let pair = [DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 0x0f)]];
            (acc << 16) | u64::from(u16::from_le_bytes(pair))
        });
    }
    words
}

/// The 32 digits of a UUID at once in SSE2 registers, both ways. Printing splits the bytes into nibbles,
/// interleaves them in print order and turns each nibble into its digit with one compare: about 25
/// instructions where the table takes about 57. Reading takes 42 where the 64-bit words took 166
/// (docs/benchmarks.md).
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
mod sse2 {
    use std::arch::x86_64::{
        __m128i, _mm_add_epi8, _mm_and_si128, _mm_cmpgt_epi8, _mm_cmplt_epi8, _mm_cvtsi128_si64,
        _mm_movemask_epi8, _mm_or_si128, _mm_packus_epi16, _mm_set_epi64x, _mm_set1_epi8,
        _mm_set1_epi16, _mm_slli_epi16, _mm_srli_epi16, _mm_unpackhi_epi8, _mm_unpackhi_epi64,
        _mm_unpacklo_epi8,
    };

    // SAFETY (both functions below): the functions they call need only SSE2, and this module is compiled
    // only when the target has it (`cfg(target_feature = "sse2")`, part of every x86-64 target), so every
    // CPU it runs on has it. Calling a `#[target_feature]` function is unsafe even so; the functions
    // themselves have no unsafe operation.

    #[inline]
    #[allow(unsafe_code)]
    pub(super) fn hex_words(bytes: &[u8; 16]) -> [u64; 4] {
        // SAFETY: see above.
        unsafe { hex_words_sse2(bytes) }
    }

    #[inline]
    #[allow(unsafe_code)]
    pub(super) fn hex_bytes(groups: [u64; 4]) -> Option<[u8; 16]> {
        // SAFETY: see above.
        unsafe { hex_bytes_sse2(groups) }
    }

    /// Decodes 16 digits per register: classify each byte as digit or letter with signed compares (bytes
    /// from 0x80 are negative, so they are neither), take its value, and join each pair of nibbles.
    #[target_feature(enable = "sse2")]
    fn hex_bytes_sse2(groups: [u64; 4]) -> Option<[u8; 16]> {
        let decode = |digits: __m128i| {
            let lower = _mm_or_si128(digits, _mm_set1_epi8(0x20));
            let digit = _mm_and_si128(
                _mm_cmpgt_epi8(digits, _mm_set1_epi8(b'0' as i8 - 1)),
                _mm_cmplt_epi8(digits, _mm_set1_epi8(b'9' as i8 + 1)),
            );
            // 'A'..='F' and 'a'..='f' are the only bytes that become 'a'..='f' when bit 5 is set.
            let letter = _mm_and_si128(
                _mm_cmpgt_epi8(lower, _mm_set1_epi8(b'a' as i8 - 1)),
                _mm_cmplt_epi8(lower, _mm_set1_epi8(b'f' as i8 + 1)),
            );
            let valid = _mm_movemask_epi8(_mm_or_si128(digit, letter)) == 0xffff;
            // Digits: the low nibble; letters: the low nibble plus 9 ('a' is 0x61).
            let nibbles = _mm_add_epi8(
                _mm_and_si128(lower, _mm_set1_epi8(0x0f)),
                _mm_and_si128(letter, _mm_set1_epi8(9)),
            );
            // Each 16-bit lane holds a byte's two digits, the first in its low half.
            let high = _mm_slli_epi16::<4>(_mm_and_si128(nibbles, _mm_set1_epi16(0x00ff)));
            (_mm_or_si128(high, _mm_srli_epi16::<8>(nibbles)), valid)
        };
        let (first, first_valid) = decode(_mm_set_epi64x(groups[1] as i64, groups[0] as i64));
        let (second, second_valid) = decode(_mm_set_epi64x(groups[3] as i64, groups[2] as i64));
        let bytes = _mm_packus_epi16(first, second);
        let low = _mm_cvtsi128_si64(bytes) as u64;
        let high = _mm_cvtsi128_si64(_mm_unpackhi_epi64(bytes, bytes)) as u64;
        (first_valid && second_valid)
            .then(|| ((u128::from(high) << 64) | u128::from(low)).to_le_bytes())
    }

    #[target_feature(enable = "sse2")]
    fn hex_words_sse2(bytes: &[u8; 16]) -> [u64; 4] {
        let value = u128::from_le_bytes(*bytes);
        let v = _mm_set_epi64x((value >> 64) as i64, value as i64);
        let nibble = _mm_set1_epi8(0x0f);
        let high = _mm_and_si128(_mm_srli_epi16::<4>(v), nibble);
        let low = _mm_and_si128(v, nibble);
        let digits = |nibbles: __m128i| {
            // '0' + n, plus the gap from '9' + 1 to 'a' where n > 9.
            let letters = _mm_cmpgt_epi8(nibbles, _mm_set1_epi8(9));
            let gap = _mm_and_si128(letters, _mm_set1_epi8((b'a' - b'9' - 1) as i8));
            _mm_add_epi8(_mm_add_epi8(nibbles, _mm_set1_epi8(b'0' as i8)), gap)
        };
        // Bytes 0..8, then 8..16, each as its high digit followed by its low one.
        let first = digits(_mm_unpacklo_epi8(high, low));
        let second = digits(_mm_unpackhi_epi8(high, low));
        let low_word = |v: __m128i| _mm_cvtsi128_si64(v) as u64;
        [
            low_word(first),
            low_word(_mm_unpackhi_epi64(first, first)),
            low_word(second),
            low_word(_mm_unpackhi_epi64(second, second)),
        ]
    }
}

/// The 16 bytes spelled by 32 hex digits (either case), given as four words of 8 digits, first digit in the
/// lowest byte; `None` unless all 32 are hex digits.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline]
fn hex_bytes(groups: [u64; 4]) -> Option<[u8; 16]> {
    sse2::hex_bytes(groups)
}

/// [`hex_bytes`] on other CPUs: 8 digits at a time in 64-bit words.
#[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
#[inline]
fn hex_bytes(groups: [u64; 4]) -> Option<[u8; 16]> {
    hex_bytes_by_words(groups)
}

/// Eight digits at a time in 64-bit words (on x86-64 only the tests use it, to check the SSE2 version).
#[cfg_attr(
    all(target_arch = "x86_64", target_feature = "sse2", not(test)),
    allow(dead_code)
)]
fn hex_bytes_by_words(groups: [u64; 4]) -> Option<[u8; 16]> {
    let mut bytes = [0u8; 16];
    let mut valid = true;
    for (out, group) in bytes.chunks_exact_mut(4).zip(groups) {
        let (value, ok) = hex8_value(group);
        out.copy_from_slice(&value.to_le_bytes());
        valid &= ok;
    }
    valid.then_some(bytes)
}

/// The 4 bytes spelled by 8 hex digits (either case) packed in a word, first digit in the lowest byte, as
/// a little-endian word (first byte lowest), and whether all 8 are hex digits. Branch-free: each byte is range-checked with the high-bit trick.
#[cfg_attr(
    all(target_arch = "x86_64", target_feature = "sse2", not(test)),
    allow(dead_code)
)]
#[inline]
fn hex8_value(x: u64) -> (u32, bool) {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // For bytes below 0x80: the high bit of `b + (0x80 - lo)` is set iff b >= lo.
    let at_least = |x: u64, lo: u8| x.wrapping_add(ONES * u64::from(0x80 - lo)) & HIGH;
    let ascii = x & HIGH == 0;
    let digit = at_least(x, b'0') & !at_least(x, b'9' + 1);
    // 'A'..='F' and 'a'..='f' are the only bytes that become 'a'..='f' when bit 5 is set.
    let lower = x | (ONES * 0x20);
    let letter = at_least(lower, b'a') & !at_least(lower, b'f' + 1);
    let valid = ascii && (digit | letter) == HIGH;
    // Digits: the low nibble; letters: the low nibble plus 9 ('a' is 0x61).
    let nibbles = (lower & (ONES * 0x0f)) + (letter >> 7) * 9;
    // Pair the nibbles into bytes, then gather the four bytes, first digit pair lowest.
    let pairs = ((nibbles << 4) | (nibbles >> 8)) & 0x00ff_00ff_00ff_00ff;
    let quads = (pairs | (pairs >> 8)) & 0x0000_ffff_0000_ffff;
    let packed = (quads | (quads >> 16)) as u32;
    (packed, valid)
}

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
    fn both_digit_writers_agree_on_every_byte_value_in_every_position() {
        for v in 0..=255u8 {
            for at in 0..16 {
                let mut bytes = [0x5au8; 16];
                bytes[at] = v;
                bytes[15 - at] ^= !v;
                assert_eq!(
                    hex_words(&bytes),
                    hex_words_by_table(&bytes),
                    "{bytes:02x?}"
                );
            }
        }
    }

    #[test]
    fn both_digit_readers_agree_on_every_byte_value_in_every_position() {
        for at in 0..32 {
            for c in 0..=255u8 {
                let mut text = *b"0f9A5b3E7c1D2e4F0a9B8c7D6e5F4a3B";
                text[at] = c;
                let groups = [0, 8, 16, 24]
                    .map(|i| u64::from_le_bytes(text[i..i + 8].try_into().expect("8 bytes")));
                let expected = std::str::from_utf8(&text)
                    .ok()
                    .filter(|t| t.bytes().all(|b| b.is_ascii_hexdigit()))
                    .and_then(|t| u128::from_str_radix(t, 16).ok())
                    .map(u128::to_be_bytes);
                assert_eq!(hex_bytes(groups), expected, "{c:#04x} at {at}");
                assert_eq!(hex_bytes_by_words(groups), expected, "{c:#04x} at {at}");
            }
        }
    }

    #[test]
    fn hex8_value_checks_every_byte_value_in_every_position() {
        for at in 0..8 {
            for c in 0..=255u8 {
                let mut text = *b"0f9A5b3E";
                text[at] = c;
                let (value, valid) = hex8_value(u64::from_le_bytes(text));
                let expected = std::str::from_utf8(&text)
                    .ok()
                    .filter(|t| t.bytes().all(|b| b.is_ascii_hexdigit()))
                    .and_then(|t| u32::from_str_radix(t, 16).ok());
                assert_eq!(valid, expected.is_some(), "byte {c:#04x} at {at}");
                if let Some(expected) = expected {
                    assert_eq!(value, expected.swap_bytes(), "byte {c:#04x} at {at}");
                }
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
