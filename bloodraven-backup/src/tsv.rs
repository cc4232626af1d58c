//! The TSV dialect of data files (pure, no I/O).
//!
//! One row per line, fields separated by a tab, lines ended by a newline: MySQL Shell's default `tsv`
//! dialect, which is also `LOAD DATA`'s default (`FIELDS TERMINATED BY '\t' ESCAPED BY '\\' LINES TERMINATED
//! BY '\n'`, nothing enclosed). Field bytes are written as the server stored them (the connection character
//! set is `binary`), with these escapes:
//!
//! | byte | written as |
//! |---|---|
//! | `\` (0x5c) | `\\` |
//! | tab (0x09) | `\t` |
//! | newline (0x0a) | `\n` |
//! | carriage return (0x0d) | `\r` |
//! | NUL (0x00) | `\0` |
//!
//! SQL `NULL` is `\N`; an empty string is an empty field. Every other byte, including any non-UTF-8 byte of a
//! binary column, is written unchanged. `LOAD DATA ... CHARACTER SET binary` reads exactly this back.
//!
//! ```
//! use bloodraven_backup::tsv;
//!
//! let mut line = Vec::new();
//! tsv::push_row(&mut line, [Some(&b"a\tb"[..]), None, Some(&b""[..])]);
//! assert_eq!(line, b"a\\tb\t\\N\t\n");
//! assert_eq!(
//!     tsv::parse_line(&line[..line.len() - 1]),
//!     [Some(b"a\tb".to_vec()), None, Some(Vec::new())]
//! );
//! ```

/// Appends one field (`None` is SQL `NULL`) to `out`, escaped.
pub fn push_field(out: &mut Vec<u8>, value: Option<&[u8]>) {
    let Some(mut value) = value else {
        out.extend_from_slice(b"\\N");
        return;
    };
    while let Some(i) = next_special(value) {
        let escaped: &[u8] = match value[i] {
            b'\\' => b"\\\\",
            b'\t' => b"\\t",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            _ => b"\\0",
        };
        out.extend_from_slice(&value[..i]);
        out.extend_from_slice(escaped);
        value = &value[i + 1..];
    }
    out.extend_from_slice(value);
}

/// Whether `b` is one of the bytes [`push_field`] escapes.
fn is_special(b: u8) -> bool {
    matches!(b, b'\\' | b'\t' | b'\n' | b'\r' | 0)
}

/// The index of the first byte of `value` that needs an escape.
///
/// Dump data is mostly free of such bytes, so eight bytes are tested at a time: a word is skipped whole
/// unless one of its bytes is below 14 (which covers NUL, tab, newline and carriage return) or is a
/// backslash, the usual "has a byte less than n" and "has a zero byte" bit tricks (no false negatives;
/// a false positive only sends that word to the byte-by-byte test).
fn next_special(value: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    const BACKSLASHES: u64 = u64::from_ne_bytes([b'\\'; 8]);
    let mut words = value.chunks_exact(8);
    let mut start = 0;
    for word in words.by_ref() {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(word);
        let x = u64::from_ne_bytes(bytes);
        let below_14 = x.wrapping_sub(ONES * 14) & !x & HIGHS;
        let y = x ^ BACKSLASHES;
        let backslash = y.wrapping_sub(ONES) & !y & HIGHS;
        if below_14 | backslash != 0
            && let Some(i) = word.iter().position(|&b| is_special(b))
        {
            return Some(start + i);
        }
        start += 8;
    }
    words
        .remainder()
        .iter()
        .position(|&b| is_special(b))
        .map(|i| start + i)
}

/// Appends a row: fields separated by tabs, ended by a newline.
pub fn push_row<'a>(out: &mut Vec<u8>, fields: impl IntoIterator<Item = Option<&'a [u8]>>) {
    for (i, field) in fields.into_iter().enumerate() {
        if i > 0 {
            out.push(b'\t');
        }
        push_field(out, field);
    }
    out.push(b'\n');
}

/// Splits one line (without its newline) into fields, undoing [`push_field`]; `None` is `NULL`. Unknown
/// escapes `\x` read as `x`, as `LOAD DATA` does.
pub fn parse_line(line: &[u8]) -> Vec<Option<Vec<u8>>> {
    let mut fields = Vec::new();
    for raw in line.split(|&b| b == b'\t') {
        if raw == b"\\N" {
            fields.push(None);
            continue;
        }
        let mut field = Vec::with_capacity(raw.len());
        let mut bytes = raw.iter();
        while let Some(&b) = bytes.next() {
            if b != b'\\' {
                field.push(b);
                continue;
            }
            match bytes.next() {
                Some(b't') => field.push(b'\t'),
                Some(b'n') => field.push(b'\n'),
                Some(b'r') => field.push(b'\r'),
                Some(b'0') => field.push(0),
                Some(&other) => field.push(other),
                None => field.push(b'\\'),
            }
        }
        fields.push(Some(field));
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_exactly_the_documented_bytes() {
        let mut out = Vec::new();
        push_row(
            &mut out,
            [
                Some(&b"a\tb\nc\\d\re\0f"[..]),
                None,
                Some(&b""[..]),
                Some(&b"\\N"[..]),
                Some(&[0xff, 0xfe, b'"', b'\''][..]),
            ],
        );
        assert_eq!(
            out,
            b"a\\tb\\nc\\\\d\\re\\0f\t\\N\t\t\\\\N\t\xff\xfe\"'\n".to_vec()
        );
    }

    #[test]
    fn parse_undoes_push_for_every_byte() {
        let all: Vec<u8> = (0..=255u8).collect();
        let values = [
            Some(all.clone()),
            None,
            Some(Vec::new()),
            Some(b"\\N".to_vec()),
        ];
        let mut out = Vec::new();
        push_row(&mut out, values.iter().map(|v| v.as_deref()));
        assert_eq!(out.last(), Some(&b'\n'));
        assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1);
        assert_eq!(parse_line(&out[..out.len() - 1]), values);
    }

    #[test]
    fn every_special_byte_is_found_at_every_offset() {
        // The word-at-a-time scan must find a special byte in any of the eight lanes, after a whole word,
        // in the tail, and next to bytes that are close in value (13, 14, 0x5b, 0x5d, 0x80, 0xff).
        for special in [0u8, b'\t', b'\n', b'\r', b'\\'] {
            for len in 1..=24 {
                for at in 0..len {
                    let mut value = vec![b'a'; len];
                    for (i, b) in value.iter_mut().enumerate() {
                        *b = [b'a', 14, 0x5b, 0x5d, 0x80, 0xff, 11, 12][i % 8];
                        if is_special(*b) {
                            *b = b'a';
                        }
                    }
                    value[at] = special;
                    assert_eq!(next_special(&value), Some(at), "{special} at {at} of {len}");
                    let mut out = Vec::new();
                    push_field(&mut out, Some(&value));
                    assert_eq!(out.len(), len + 1);
                    assert_eq!(parse_line(&out), [Some(value)]);
                }
            }
        }
        assert_eq!(
            next_special(&[14, 0x5b, 0x5d, 0x80, 0xff, 11, 12, 1, 2, 3]),
            None
        );
    }
}
