//! Damaged binlogs: every truncation and bit flip is an error naming the offset, never a panic; framing
//! works however the bytes arrive.

use std::io::Read;
use std::path::PathBuf;

use bloodraven_binlog::CorruptKind;
use bloodraven_binlog::reader::{self, EventDecoder, EventType, Reader};
use bytes::BytesMut;

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/fixtures/binlog"
    ))
    .join(name);
    std::fs::read(path).unwrap()
}

/// The start offsets of the events of a well-formed file, found by walking the size fields.
fn event_starts(bytes: &[u8]) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut at = 4;
    while at < bytes.len() {
        starts.push(at);
        at += u32::from_le_bytes(bytes[at + 9..at + 13].try_into().unwrap()) as usize;
    }
    assert_eq!(at, bytes.len());
    starts
}

/// The 847-byte MySQL 8.0.45 file with CRC32 checksums.
const CRC_FILE: &str = "percona-binlog-server/binlog.000002";

#[test]
fn bad_magic_is_reported_at_offset_zero() {
    let mut bytes = fixture(CRC_FILE);
    bytes[1] = b'B';
    let err = reader::summarize(&bytes[..]).unwrap_err();
    assert_eq!(err.corrupt_kind(), Some(CorruptKind::BadMagic));
    assert_eq!(
        err.to_string(),
        "bad magic number [fe, 42, 69, 6e], expected fe 62 69 6e (not a binlog file) at offset 0"
    );
    let err = reader::summarize(&b""[..]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "empty file, expected the binlog magic number at offset 0"
    );
}

#[test]
fn every_truncation_names_the_cut_event() {
    let bytes = fixture(CRC_FILE);
    let starts = event_starts(&bytes);
    for len in 0..bytes.len() {
        let result = reader::summarize(&bytes[..len]);
        if len > 4 && starts.contains(&len) {
            // Cut exactly between events: a shorter but valid file.
            let summary = result.unwrap_or_else(|e| panic!("cut at {len}: {e}"));
            assert_eq!(summary.size, len as u64);
            assert_eq!(
                summary.event_count,
                starts.iter().filter(|&&s| s < len).count() as u64
            );
            continue;
        }
        let err = result.expect_err(&format!("cut at {len}"));
        let (kind, offset) = match len {
            0..4 => (CorruptKind::Truncated, 0),
            4 => (CorruptKind::MissingFormatDescription, 4),
            _ => (
                CorruptKind::Truncated,
                *starts.iter().rev().find(|&&s| s < len).unwrap() as u64,
            ),
        };
        assert_eq!(err.corrupt_kind(), Some(kind), "cut at {len}: {err}");
        assert_eq!(err.offset(), Some(offset), "cut at {len}: {err}");
    }
}

/// Where the FORMAT_DESCRIPTION's server version lives: magic, header, binlog version, then 50 bytes.
const SERVER_VERSION_BYTES: std::ops::Range<usize> = 25..75;

#[test]
fn every_bit_flip_in_a_checksummed_file_is_caught() {
    let original = fixture(CRC_FILE);
    for at in 0..original.len() {
        for bit in [0x01u8, 0x10, 0x80] {
            let mut bytes = original.clone();
            bytes[at] ^= bit;
            let result = reader::summarize(&bytes[..]);
            if at == 4 + 17 && bit == 0x01 {
                // The in-use flag of the FORMAT_DESCRIPTION is outside its checksum.
                assert!(result.expect("in-use flag flip").in_use);
                continue;
            }
            let err = result.expect_err(&format!("flip {bit:#04x} at {at}"));
            let offset = err.offset().unwrap();
            // The server version decides whether the FORMAT_DESCRIPTION has a checksum at all, so a damaged
            // version can hide its checksum; the damage then shows as undecodable events further on.
            if !(SERVER_VERSION_BYTES.contains(&at)) {
                assert!(
                    offset <= at as u64,
                    "flip at {at} reported at {offset}: {err}"
                );
            }
        }
    }
}

#[test]
fn bit_flips_without_checksums_never_panic() {
    // MariaDB 10.0 with binlog_checksum=NONE: only the FORMAT_DESCRIPTION is checksummed.
    let original = fixture("zalora-binlog-parser/mysql-bin.07");
    let mut errors = 0;
    for at in 0..original.len() {
        for bit in [0x01u8, 0x04, 0x20, 0x80] {
            let mut bytes = original.clone();
            bytes[at] ^= bit;
            // Each result is fine; what matters is that reading terminates without a panic.
            if reader::summarize(&bytes[..]).is_err() {
                errors += 1;
            }
        }
    }
    assert!(errors > 0);
}

#[test]
fn sizes_that_overrun_are_rejected() {
    let original = fixture("zalora-binlog-parser/mysql-bin.07");
    let second = event_starts(&original)[1];
    for (size, kind, fragment) in [
        (u32::MAX, CorruptKind::BadHeader, "exceeds the limit"),
        (5, CorruptKind::BadHeader, "is smaller than 19"),
        (1 << 20, CorruptKind::Truncated, "of 1048576 bytes"),
    ] {
        let mut bytes = original.clone();
        bytes[second + 9..second + 13].copy_from_slice(&size.to_le_bytes());
        let err = reader::summarize(&bytes[..]).unwrap_err();
        assert_eq!(err.corrupt_kind(), Some(kind), "{err}");
        assert_eq!(err.offset(), Some(second as u64), "{err}");
        assert!(err.to_string().contains(fragment), "{err}");
    }
    // A GTID_LIST claiming more entries than its body holds.
    let mut bytes = original.clone();
    bytes[second + 19..second + 23].copy_from_slice(&1000u32.to_le_bytes());
    let err = reader::summarize(&bytes[..]).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "MARIADB_GTID_LIST event: 1000 entries overrun the 20-byte body at offset {second}"
        )
    );
}

#[test]
fn a_file_that_does_not_start_with_a_format_description_is_rejected() {
    let original = fixture(CRC_FILE);
    let starts = event_starts(&original);
    let mut bytes = original[..4].to_vec();
    bytes.extend_from_slice(&original[starts[1]..]);
    let err = reader::summarize(&bytes[..]).unwrap_err();
    assert_eq!(
        err.corrupt_kind(),
        Some(CorruptKind::MissingFormatDescription)
    );
    assert_eq!(
        err.to_string(),
        "first event is PREVIOUS_GTIDS, not FORMAT_DESCRIPTION at offset 4"
    );
}

/// Hands out one byte per `read` call.
struct Trickle<'a>(&'a [u8]);

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let Some((first, rest)) = self.0.split_first() else {
            return Ok(0);
        };
        buf[0] = *first;
        self.0 = rest;
        Ok(1)
    }
}

#[test]
fn one_byte_reads_give_the_same_events() {
    for name in [
        CRC_FILE,
        "rust_mysql_common/rpl_unfiltered_hidden_gcol.000001",
        "rust_mysql_common/mariadb-bin.000001",
    ] {
        let bytes = fixture(name);
        let whole: Vec<_> = Reader::new(&bytes[..])
            .map(|e| e.unwrap().raw().to_vec())
            .collect();
        let trickled: Vec<_> = Reader::new(Trickle(&bytes))
            .map(|e| e.unwrap().raw().to_vec())
            .collect();
        assert_eq!(whole, trickled, "{name}");
        assert_eq!(whole.concat(), bytes[4..], "{name}: events tile the file");
        assert_eq!(
            reader::summarize(&bytes[..]).unwrap(),
            reader::summarize(Trickle(&bytes)).unwrap()
        );
    }
}

#[test]
fn decoder_waits_for_whole_events() {
    let bytes = fixture(CRC_FILE);
    let starts = event_starts(&bytes);
    let mut decoder = EventDecoder::new();
    let mut buf = BytesMut::new();
    let mut seen = Vec::new();
    for (i, b) in bytes.iter().enumerate() {
        buf.extend_from_slice(&[*b]);
        if let Some(event) = decoder.decode(&mut buf).unwrap() {
            // An event comes out exactly when its last byte arrives.
            assert_eq!(event.offset() + event.raw().len() as u64, i as u64 + 1);
            seen.push(event.offset() as usize);
        }
    }
    assert!(decoder.decode_eof(&mut buf).unwrap().is_none());
    assert_eq!(seen, starts);
    assert_eq!(decoder.offset(), bytes.len() as u64);
    assert_eq!(
        decoder.format().map(|f| f.server_version.as_str()),
        Some("8.0.45")
    );
}

#[test]
fn event_type_names() {
    assert_eq!(EventType(15).to_string(), "FORMAT_DESCRIPTION");
    assert_eq!(
        EventType::MARIADB_GTID_LIST.to_string(),
        "MARIADB_GTID_LIST"
    );
    assert_eq!(EventType(100).to_string(), "UNKNOWN_100");
    assert_eq!(EventType(100).name(), None);
}

#[test]
fn a_damaged_server_version_is_caught_in_the_format_description() {
    let mut bytes = fixture(CRC_FILE);
    bytes[SERVER_VERSION_BYTES.start] = b'(';
    let err = reader::summarize(&bytes[..]).unwrap_err();
    assert_eq!(
        (err.corrupt_kind(), err.offset()),
        (Some(CorruptKind::BadEvent), Some(4))
    );
    assert_eq!(
        err.to_string(),
        "FORMAT_DESCRIPTION event: server version \"(.0.45\" does not start with a version number at offset 4"
    );
}
