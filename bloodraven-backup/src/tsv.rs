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
    let Some(value) = value else {
        out.extend_from_slice(b"\\N");
        return;
    };
    let mut start = 0;
    for (i, &b) in value.iter().enumerate() {
        let escaped: &[u8] = match b {
            b'\\' => b"\\\\",
            b'\t' => b"\\t",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            0 => b"\\0",
            _ => continue,
        };
        out.extend_from_slice(&value[start..i]);
        out.extend_from_slice(escaped);
        start = i + 1;
    }
    out.extend_from_slice(&value[start..]);
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
}
