//! Canonical MySQL text output (`Gtid_set::to_string`).

use super::GtidSet;

/// Renders the set: `uuid:iv:iv:tag:iv`, one UUID per block, blocks joined by `sep`.
pub(super) fn render(set: &GtidSet, sep: &str) -> String {
    let blocks = set.blocks();
    let mut out: Vec<u8> = Vec::with_capacity(blocks.iter().map(|b| 40 + b.ivs.len() * 16).sum());
    let mut prev_uuid = None;
    for block in blocks {
        if prev_uuid != Some(block.uuid) {
            if prev_uuid.is_some() {
                out.extend_from_slice(sep.as_bytes());
            }
            let mut buf = [0u8; 36];
            block.uuid.write_into(&mut buf);
            out.extend_from_slice(&buf);
            prev_uuid = Some(block.uuid);
        }
        if !block.tag.is_untagged() {
            out.push(b':');
            out.extend_from_slice(block.tag.as_bytes());
        }
        for iv in &block.ivs {
            out.push(b':');
            push_u64(&mut out, iv.start);
            if iv.end != iv.start {
                out.push(b'-');
                push_u64(&mut out, iv.end);
            }
        }
    }
    // Only ASCII was written: hex digits, tag characters, digits and the separator (a &str).
    String::from_utf8(out).unwrap_or_default()
}

/// Appends the decimal digits of `n`.
#[inline]
fn push_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}
