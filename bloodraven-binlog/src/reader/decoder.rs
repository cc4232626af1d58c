//! Event framing: a push decoder that splits buffered bytes into checked events.

use bytes::{Buf, BytesMut};

use super::event::{Checksum, Event, EventHeader, EventType, FormatDescription};
use super::parse;
use crate::error::{CorruptKind, Error};

/// The four bytes every binlog file starts with.
pub const MAGIC: [u8; 4] = [0xfe, b'b', b'i', b'n'];

/// The largest event accepted by default: MySQL's largest `max_allowed_packet` (1 GiB) plus headroom.
pub const DEFAULT_MAX_EVENT_SIZE: u32 = (1 << 30) + (1 << 16);

/// The most the decoder reserves ahead of the bytes it has for an incomplete event.
const MAX_RESERVE: usize = 1 << 20;

/// Splits a binlog byte stream into events, in the shape of `tokio_util::codec::Decoder`.
///
/// Feed bytes into a [`BytesMut`] and call [`decode`](Self::decode): it consumes the magic number, then
/// returns `Ok(None)` until a whole event is buffered and `Ok(Some(event))` once it is. At the end of the
/// input call [`decode_eof`](Self::decode_eof), which reports bytes left over as a truncated event. The
/// decoder checks the magic number, requires a FORMAT_DESCRIPTION event first, follows every later
/// FORMAT_DESCRIPTION (relay logs carry the source's after their own), and verifies CRC32 checksums (the
/// FORMAT_DESCRIPTION's own with the in-use flag cleared, as the server computed it). Event bodies are not
/// decoded here; see [`Event::data`].
///
/// Memory: the buffer holds at most one event plus whatever the caller reads ahead.
#[derive(Clone, Debug)]
pub struct EventDecoder {
    offset: u64,
    magic_seen: bool,
    format: Option<FormatDescription>,
    max_event_size: u32,
}

impl Default for EventDecoder {
    fn default() -> Self {
        EventDecoder::new()
    }
}

impl EventDecoder {
    /// A decoder expecting the start of a file.
    pub fn new() -> EventDecoder {
        EventDecoder {
            offset: 0,
            magic_seen: false,
            format: None,
            max_event_size: DEFAULT_MAX_EVENT_SIZE,
        }
    }

    /// Rejects events larger than `size` bytes as corrupt (default [`DEFAULT_MAX_EVENT_SIZE`]); this also
    /// bounds the buffer.
    #[must_use]
    pub fn with_max_event_size(mut self, size: u32) -> EventDecoder {
        self.max_event_size = size;
        self
    }

    /// The file offset of the next byte the decoder will consume.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The FORMAT_DESCRIPTION in force (the most recent one), once one was decoded.
    pub fn format(&self) -> Option<&FormatDescription> {
        self.format.as_ref()
    }

    /// Consumes the magic number or one whole event from the front of `src`; `Ok(None)` when more bytes are
    /// needed.
    pub fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Event>, Error> {
        if !self.magic_seen {
            if src.len() < MAGIC.len() {
                return Ok(None);
            }
            if src[..4] != MAGIC {
                return Err(Error::corrupt(
                    0,
                    None,
                    CorruptKind::BadMagic,
                    format!(
                        "bad magic number {:02x?}, expected fe 62 69 6e (not a binlog file)",
                        &src[..4]
                    ),
                ));
            }
            src.advance(4);
            self.offset = 4;
            self.magic_seen = true;
        }
        if src.len() < EventHeader::LEN {
            return Ok(None);
        }
        let header = EventHeader::parse(src);
        let ty = header.event_type;
        let size = header.event_size;
        let header_len = self
            .format
            .as_ref()
            .map_or(EventHeader::LEN as u8, |f| f.header_len);
        let checksum_len: u8 = match (&self.format, ty) {
            (_, EventType::FORMAT_DESCRIPTION) | (None, _) => 0,
            (Some(f), _) if f.checksum == Checksum::Crc32 => 4,
            _ => 0,
        };
        let min = u32::from(header_len) + u32::from(checksum_len);
        if size < min {
            return Err(self.corrupt(
                ty,
                CorruptKind::BadHeader,
                format!("{ty} event size {size} is smaller than {min}"),
            ));
        }
        if size > self.max_event_size {
            return Err(self.corrupt(
                ty,
                CorruptKind::BadHeader,
                format!(
                    "{ty} event size {size} exceeds the limit of {} bytes",
                    self.max_event_size
                ),
            ));
        }
        let size = size as usize;
        if src.len() < size {
            // Make room for the rest, but never trust a size field with more than the read-ahead: a corrupt
            // size in a short file must not allocate a gigabyte.
            src.reserve((size - src.len()).min(MAX_RESERVE));
            return Ok(None);
        }
        let raw = src.split_to(size).freeze();
        let mut event = Event {
            offset: self.offset,
            header,
            raw,
            header_len,
            post_header_len: 0,
            checksum_len,
        };
        if ty == EventType::FORMAT_DESCRIPTION {
            self.format_description(&mut event)?;
        } else {
            let Some(format) = &self.format else {
                return Err(self.corrupt(
                    ty,
                    CorruptKind::MissingFormatDescription,
                    if ty == EventType::START_V3 {
                        "binlog format v1/v3 (START_V3 event, MySQL before 5.0) is not supported"
                            .to_string()
                    } else {
                        format!("first event is {ty}, not FORMAT_DESCRIPTION")
                    },
                ));
            };
            if checksum_len == 4 {
                verify_crc(&event.raw, false)
                    .map_err(|(stored, computed)| self.bad_crc(ty, stored, computed))?;
            }
            if ty == EventType::MARIADB_START_ENCRYPTION {
                return Err(self.corrupt(
                    ty,
                    CorruptKind::Unsupported,
                    "encrypted MariaDB binlogs are not supported",
                ));
            }
            event.post_header_len = format.post_header_len(ty);
        }
        self.offset += size as u64;
        Ok(Some(event))
    }

    /// Like [`decode`](Self::decode), at the end of the input: bytes that do not form a whole event are a
    /// truncation error; `Ok(None)` means the input ended cleanly between events.
    pub fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Event>, Error> {
        if let Some(event) = self.decode(src)? {
            return Ok(Some(event));
        }
        if !self.magic_seen {
            let what = if src.is_empty() {
                "empty file, expected the binlog magic number".to_string()
            } else {
                format!(
                    "file of {} bytes is too short for the binlog magic number",
                    src.len()
                )
            };
            return Err(Error::corrupt(0, None, CorruptKind::Truncated, what));
        }
        if src.is_empty() {
            return Ok(None);
        }
        let ty = (src.len() > 4).then(|| EventType(src[4]));
        let what = match ty {
            None => format!(
                "truncated event header ({} of {} bytes)",
                src.len(),
                EventHeader::LEN
            ),
            Some(ty) if src.len() < EventHeader::LEN => {
                format!(
                    "truncated {ty} event header ({} of {} bytes)",
                    src.len(),
                    EventHeader::LEN
                )
            }
            Some(ty) => {
                let header = EventHeader::parse(src);
                format!(
                    "truncated {ty} event ({} of {} bytes)",
                    src.len(),
                    header.event_size
                )
            }
        };
        Err(Error::corrupt(
            self.offset,
            ty,
            CorruptKind::Truncated,
            what,
        ))
    }

    fn format_description(&mut self, event: &mut Event) -> Result<(), Error> {
        let (format, has_alg) = parse::format_description(event.offset, &event.raw)?;
        if has_alg {
            event.checksum_len = 4;
            verify_crc(&event.raw, true).map_err(|(stored, computed)| {
                self.bad_crc(EventType::FORMAT_DESCRIPTION, stored, computed)
            })?;
        }
        if format.binlog_version != 4 {
            return Err(self.corrupt(
                EventType::FORMAT_DESCRIPTION,
                CorruptKind::Unsupported,
                format!(
                    "binlog format version {} is not supported (only 4)",
                    format.binlog_version
                ),
            ));
        }
        event.header_len = EventHeader::LEN as u8;
        event.post_header_len = format.post_header_len(EventType::FORMAT_DESCRIPTION);
        self.format = Some(format);
        Ok(())
    }

    fn corrupt(&self, ty: EventType, kind: CorruptKind, what: impl Into<String>) -> Error {
        Error::corrupt(self.offset, Some(ty), kind, what)
    }

    fn bad_crc(&self, ty: EventType, stored: u32, computed: u32) -> Error {
        self.corrupt(
            ty,
            CorruptKind::BadChecksum,
            format!(
                "{ty} event checksum mismatch (stored {stored:#010x}, computed {computed:#010x})"
            ),
        )
    }
}

/// Checks the CRC32 in the last four bytes of `raw`; `mask_in_use` clears the in-use header flag first, as the
/// server computed the FORMAT_DESCRIPTION checksum before setting it. Returns (stored, computed) on mismatch.
fn verify_crc(raw: &[u8], mask_in_use: bool) -> Result<(), (u32, u32)> {
    let (data, crc) = raw.split_at(raw.len() - 4);
    let stored = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
    let computed = if mask_in_use && data[17] & 1 != 0 {
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(&data[..17]);
        hasher.update(&[data[17] & !1]);
        hasher.update(&data[18..]);
        hasher.finalize()
    } else {
        crc32fast::hash(data)
    };
    if stored == computed {
        Ok(())
    } else {
        Err((stored, computed))
    }
}
