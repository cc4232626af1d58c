//! Canonical MySQL text output (`Gtid_set::to_string`).

use super::GtidSet;

/// The longest decimal GNO (u64::MAX has 20 digits).
const MAX_DIGITS: usize = 20;

/// Renders the set: `uuid:iv:iv:tag:iv`, one UUID per block, blocks joined by `sep`.
///
/// Writes into a buffer sized for the worst case, so each piece is one bounds-checked copy.
pub(super) fn render(set: &GtidSet, sep: &str) -> String {
    let blocks = set.blocks();
    let upper: usize = blocks
        .iter()
        .map(|b| sep.len() + 36 + 1 + b.tag.as_bytes().len() + b.ivs.len() * (2 + 2 * MAX_DIGITS))
        .sum();
    let mut out = vec![0u8; upper];
    let mut pos = 0;
    let mut prev_uuid = None;
    for block in blocks {
        if prev_uuid != Some(block.uuid) {
            if prev_uuid.is_some() {
                put(&mut out, &mut pos, sep.as_bytes());
            }
            let mut buf = [0u8; 36];
            block.uuid.write_into(&mut buf);
            put(&mut out, &mut pos, &buf);
            prev_uuid = Some(block.uuid);
        }
        if !block.tag.is_untagged() {
            put(&mut out, &mut pos, b":");
            put(&mut out, &mut pos, block.tag.as_bytes());
        }
        for iv in &block.ivs {
            put(&mut out, &mut pos, b":");
            put_u64(&mut out, &mut pos, iv.start);
            if iv.end != iv.start {
                put(&mut out, &mut pos, b"-");
                put_u64(&mut out, &mut pos, iv.end);
            }
        }
    }
    out.truncate(pos);
    // Only ASCII was written: hex digits, tag characters, digits and the separator (a &str).
    String::from_utf8(out).unwrap_or_default()
}

#[inline]
fn put(out: &mut [u8], pos: &mut usize, bytes: &[u8]) {
    out[*pos..*pos + bytes.len()].copy_from_slice(bytes);
    *pos += bytes.len();
}

/// Writes the decimal digits of `n`, two at a time from the right.
#[inline]
fn put_u64(out: &mut [u8], pos: &mut usize, mut n: u64) {
    let len = n.checked_ilog10().unwrap_or(0) as usize + 1;
    let dst = &mut out[*pos..*pos + len];
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
