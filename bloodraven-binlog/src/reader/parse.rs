//! Body decoders for the event types the reader understands; every length is checked against the body.

use bloodraven_gtid::{Gtid, GtidSet, MariadbGtid, ServerUuid, Tag};

use super::event::{
    Checksum, Compression, Event, EventData, EventHeader, EventType, Flavor, FormatDescription,
    GtidEvent, GtidKind, Incident, MariadbGtidEvent, Query, Rotate, TransactionPayload,
};
use crate::error::{CorruptKind, Error};

/// Decodes `event`'s body according to its type.
pub(crate) fn event_data(event: &Event) -> Result<EventData<'_>, Error> {
    let ty = event.event_type();
    let mut c = Cursor {
        bytes: event.body(),
        pos: 0,
        event,
    };
    let data = match ty {
        EventType::FORMAT_DESCRIPTION => {
            let (fde, _) = format_description(event.offset, &event.raw)?;
            EventData::FormatDescription(fde)
        }
        EventType::ROTATE => {
            let position = if event.post_header_len >= 8 {
                c.u64("the position")?
            } else {
                4
            };
            c.skip_to(usize::from(event.post_header_len), "the post-header")?;
            EventData::Rotate(Rotate {
                position,
                next_file: c.rest(),
            })
        }
        EventType::STOP => EventData::Stop,
        EventType::PREVIOUS_GTIDS => EventData::PreviousGtids(
            GtidSet::decode(c.bytes).map_err(|e| c.bad(format!("undecodable GTID set ({e})")))?,
        ),
        EventType::GTID | EventType::ANONYMOUS_GTID => EventData::Gtid(gtid_event(&mut c, ty)?),
        EventType::GTID_TAGGED => EventData::Gtid(tagged_gtid_event(&mut c)?),
        EventType::XID => EventData::Xid(c.u64("the xid")?),
        EventType::QUERY => EventData::Query(query(&mut c, event.post_header_len)?),
        EventType::TRANSACTION_PAYLOAD => EventData::TransactionPayload(payload(&mut c)?),
        EventType::INCIDENT => {
            let number = c.u16("the incident number")?;
            if number == 0 || number >= 2 {
                return Err(c.bad(format!(
                    "invalid incident number {number} (only 1, LOST_EVENTS, exists)"
                )));
            }
            let len = c.u8("the message length")?;
            EventData::Incident(Incident {
                number,
                message: c.take(usize::from(len), "the message")?,
            })
        }
        EventType::MARIADB_GTID => {
            let seq = c.u64("the sequence number")?;
            let domain = c.u32("the domain id")?;
            let flags = c.u8("the flags")?;
            let commit_id = if flags & MariadbGtidEvent::FL_GROUP_COMMIT_ID != 0 {
                Some(c.u64("the commit id")?)
            } else {
                None
            };
            let gtid = MariadbGtid {
                domain,
                server_id: event.header.server_id,
                seq,
            };
            EventData::MariadbGtid(MariadbGtidEvent {
                gtid,
                flags,
                commit_id,
            })
        }
        EventType::MARIADB_GTID_LIST => {
            let count = c.u32("the count")? & 0x0fff_ffff;
            if u64::from(count) * 16 > c.remaining() as u64 {
                return Err(c.bad(format!(
                    "{count} entries overrun the {}-byte body",
                    c.bytes.len()
                )));
            }
            let mut list = Vec::with_capacity(count as usize);
            for _ in 0..count {
                let domain = c.u32("a domain id")?;
                let server_id = c.u32("a server id")?;
                let seq = c.u64("a sequence number")?;
                list.push(MariadbGtid {
                    domain,
                    server_id,
                    seq,
                });
            }
            EventData::MariadbGtidList(list)
        }
        EventType::MARIADB_BINLOG_CHECKPOINT => {
            let len = c.u32("the file name length")?;
            EventData::MariadbBinlogCheckpoint(c.take(len as usize, "the file name")?)
        }
        _ => EventData::Other,
    };
    Ok(data)
}

/// Decodes a FORMAT_DESCRIPTION event from its raw bytes (header included). Returns the description and
/// whether the event ends with a checksum algorithm byte and CRC (servers from MySQL 5.6.1 / MariaDB 5.3).
pub(crate) fn format_description(
    offset: u64,
    raw: &[u8],
) -> Result<(FormatDescription, bool), Error> {
    let bad = |what: String| {
        Error::corrupt(
            offset,
            Some(EventType::FORMAT_DESCRIPTION),
            CorruptKind::BadEvent,
            what,
        )
    };
    const FIXED: usize = 2 + 50 + 4 + 1;
    let body = raw.get(EventHeader::LEN..).unwrap_or_default();
    if body.len() < FIXED {
        return Err(bad(format!(
            "FORMAT_DESCRIPTION event: {}-byte body is shorter than {FIXED} bytes",
            body.len()
        )));
    }
    let binlog_version = u16::from_le_bytes([body[0], body[1]]);
    let version_bytes = &body[2..52];
    let version_len = version_bytes.iter().position(|&b| b == 0).unwrap_or(50);
    let server_version = String::from_utf8_lossy(&version_bytes[..version_len]).into_owned();
    if !server_version.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(bad(format!(
            "FORMAT_DESCRIPTION event: server version {server_version:?} does not start with a version number"
        )));
    }
    let create_timestamp = u32::from_le_bytes([body[52], body[53], body[54], body[55]]);
    let header_len = body[56];
    if usize::from(header_len) < EventHeader::LEN {
        return Err(bad(format!(
            "FORMAT_DESCRIPTION event: common header length {header_len} is below 19"
        )));
    }
    let flavor = if server_version.contains("MariaDB") {
        Flavor::Mariadb
    } else {
        Flavor::Mysql
    };
    let has_alg = match flavor {
        Flavor::Mariadb => version_triple(&server_version) >= (5, 3, 0),
        Flavor::Mysql => version_triple(&server_version) >= (5, 6, 1),
    };
    let table_end = body.len() - if has_alg { 5 } else { 0 };
    if table_end < FIXED {
        return Err(bad(format!(
            "FORMAT_DESCRIPTION event: {}-byte body has no room for the checksum of server {server_version}",
            body.len()
        )));
    }
    let checksum = if has_alg {
        match body[table_end] {
            0 => Checksum::Off,
            1 => Checksum::Crc32,
            255 => Checksum::None,
            alg => {
                return Err(Error::corrupt(
                    offset,
                    Some(EventType::FORMAT_DESCRIPTION),
                    CorruptKind::Unsupported,
                    format!("unknown binlog checksum algorithm {alg} in FORMAT_DESCRIPTION event"),
                ));
            }
        }
    } else {
        Checksum::None
    };
    let fde = FormatDescription {
        binlog_version,
        server_version,
        create_timestamp,
        header_len,
        post_header_lens: body[FIXED..table_end].to_vec(),
        checksum,
        flavor,
    };
    Ok((fde, has_alg))
}

/// The leading `major.minor.patch` numbers of a server version string (missing parts are 0).
fn version_triple(version: &str) -> (u32, u32, u32) {
    let mut parts = version
        .split(|c: char| !c.is_ascii_digit())
        .map(|p| p.parse::<u32>().unwrap_or(0));
    (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    )
}

fn gtid_event(c: &mut Cursor<'_>, ty: EventType) -> Result<GtidEvent, Error> {
    let flags = c.u8("the flags")?;
    let uuid = ServerUuid::from_bytes(c.array::<16>("the server uuid")?);
    let gno = c.u64("the gno")?;
    let (kind, gtid) = if ty == EventType::GTID {
        let gtid = Gtid::new(uuid, Tag::default(), gno)
            .map_err(|e| c.bad(format!("invalid gtid {uuid}:{gno} ({e})")))?;
        (GtidKind::Gtid, Some(gtid))
    } else {
        (GtidKind::Anonymous, None)
    };
    let mut event = GtidEvent {
        kind,
        gtid,
        flags,
        last_committed: None,
        sequence_number: None,
        immediate_commit_timestamp: None,
        original_commit_timestamp: None,
        transaction_length: None,
        immediate_server_version: None,
        original_server_version: None,
    };
    // Later server versions append fields; each is present when the body is long enough.
    if c.remaining() >= 17 {
        c.u8("the logical timestamp type")?;
        event.last_committed = Some(c.u64("last_committed")? as i64);
        event.sequence_number = Some(c.u64("sequence_number")? as i64);
    }
    if c.remaining() >= 7 {
        let immediate = c.u56("the commit timestamp")?;
        let original = if immediate & (1 << 55) != 0 {
            c.u56("the original commit timestamp")?
        } else {
            immediate
        };
        event.immediate_commit_timestamp = Some(immediate & !(1 << 55));
        event.original_commit_timestamp = Some(original);
    }
    if c.remaining() >= 1 {
        event.transaction_length = Some(c.net_length("the transaction length")?);
    }
    if c.remaining() >= 4 {
        let immediate = c.u32("the server version")?;
        let original = if immediate & (1 << 31) != 0 {
            c.u32("the original server version")?
        } else {
            immediate
        };
        event.immediate_server_version = Some(immediate & !(1 << 31));
        event.original_server_version = Some(original);
    }
    Ok(event)
}

/// GTID_TAGGED_LOG_EVENT: a MySQL serialization message, `02 | varint size | varint last_non_ignorable_id |
/// (varint field id, value)*`; sid bytes are 16 separate varints, gno and the logical clock are zigzag
/// varints, the tag is a varint length and bytes.
fn tagged_gtid_event(c: &mut Cursor<'_>) -> Result<GtidEvent, Error> {
    let format = c.u8("the serialization format")?;
    if format != 2 {
        return Err(c.bad(format!("unknown serialization format {format}")));
    }
    let size = c.varint("the message size")?;
    let end = usize::try_from(size)
        .ok()
        .filter(|&s| s <= c.bytes.len() && s >= c.pos)
        .ok_or_else(|| {
            c.bad(format!(
                "message size {size} overruns the {}-byte body",
                c.bytes.len()
            ))
        })?;
    c.bytes = &c.bytes[..end];
    c.varint("the last non-ignorable field id")?;
    let (mut flags, mut uuid, mut gno, mut tag) = (0, None, None, Tag::default());
    let mut event = GtidEvent {
        kind: GtidKind::Tagged,
        gtid: None,
        flags: 0,
        last_committed: None,
        sequence_number: None,
        immediate_commit_timestamp: None,
        original_commit_timestamp: None,
        transaction_length: None,
        immediate_server_version: None,
        original_server_version: None,
    };
    while c.remaining() > 0 {
        match c.varint("a field id")? {
            0 => flags = c.varint("gtid_flags")? as u8,
            1 => {
                let mut sid = [0u8; 16];
                for b in &mut sid {
                    *b = u8::try_from(c.varint("a server uuid byte")?)
                        .map_err(|_| c.bad("server uuid byte above 255"))?;
                }
                uuid = Some(ServerUuid::from_bytes(sid));
            }
            2 => gno = Some(c.signed_varint("the gno")?),
            3 => {
                let len = c.varint("the tag length")?;
                let bytes = c.take(usize::try_from(len).unwrap_or(usize::MAX), "the tag")?;
                let text = std::str::from_utf8(bytes).map_err(|_| c.bad("tag is not UTF-8"))?;
                tag = Tag::parse(text).map_err(|e| c.bad(format!("invalid tag {text:?} ({e})")))?;
            }
            4 => event.last_committed = Some(c.signed_varint("last_committed")?),
            5 => event.sequence_number = Some(c.signed_varint("sequence_number")?),
            6 => event.immediate_commit_timestamp = Some(c.varint("immediate_commit_timestamp")?),
            7 => event.original_commit_timestamp = Some(c.varint("original_commit_timestamp")?),
            8 => event.transaction_length = Some(c.varint("transaction_length")?),
            9 => {
                event.immediate_server_version = Some(c.varint("immediate_server_version")? as u32)
            }
            10 => event.original_server_version = Some(c.varint("original_server_version")? as u32),
            // A field added by a later server: its size is unknown, and everything we need came before it.
            _ => break,
        }
    }
    event.flags = flags;
    event.original_commit_timestamp = event
        .original_commit_timestamp
        .or(event.immediate_commit_timestamp);
    event.original_server_version = event
        .original_server_version
        .or(event.immediate_server_version);
    let (Some(uuid), Some(gno)) = (uuid, gno) else {
        return Err(c.bad("GTID_TAGGED event has no server uuid or gno"));
    };
    if uuid.as_bytes() != &[0; 16] {
        let gno = u64::try_from(gno).map_err(|_| c.bad(format!("negative gno {gno}")))?;
        let gtid = Gtid::new(uuid, tag, gno)
            .map_err(|e| c.bad(format!("invalid gtid {uuid}:{gno} ({e})")))?;
        event.gtid = Some(gtid);
    }
    Ok(event)
}

fn query<'a>(c: &mut Cursor<'a>, post_header_len: u8) -> Result<Query<'a>, Error> {
    let thread_id = c.u32("the thread id")?;
    let exec_time = c.u32("the execution time")?;
    let schema_len = c.u8("the schema length")?;
    let error_code = c.u16("the error code")?;
    // Binlog v4 adds the status variables' length to the 11-byte v3 post-header.
    let status_len = if post_header_len >= 13 {
        c.u16("the status variables length")?
    } else {
        0
    };
    c.skip_to(usize::from(post_header_len), "the post-header")?;
    let status_vars = c.take(usize::from(status_len), "the status variables")?;
    let schema = c.take(usize::from(schema_len), "the schema name")?;
    if c.u8("the schema name terminator")? != 0 {
        return Err(c.bad("schema name is not NUL-terminated"));
    }
    Ok(Query {
        thread_id,
        exec_time,
        error_code,
        status_vars,
        schema,
        query: c.rest(),
    })
}

fn payload<'a>(c: &mut Cursor<'a>) -> Result<TransactionPayload<'a>, Error> {
    let (mut compression, mut payload_size, mut uncompressed_size) = (None, None, None);
    loop {
        let field = c.net_length("a header field type")?;
        if field == 0 {
            break;
        }
        let len = c.net_length("a header field length")?;
        let value = c.take(
            usize::try_from(len).unwrap_or(usize::MAX),
            "a header field value",
        )?;
        let mut v = Cursor {
            bytes: value,
            pos: 0,
            event: c.event,
        };
        match field {
            1 => payload_size = Some(v.net_length("the payload size")?),
            2 => compression = Some(v.net_length("the compression type")?),
            3 => uncompressed_size = Some(v.net_length("the uncompressed size")?),
            _ => {}
        }
    }
    let payload = c.rest();
    let payload_size = payload_size.unwrap_or(payload.len() as u64);
    if payload_size != payload.len() as u64 {
        return Err(c.bad(format!(
            "payload size {payload_size} but {} bytes follow the header",
            payload.len()
        )));
    }
    let compression = match compression {
        Some(0) => Compression::Zstd,
        Some(255) | None => Compression::None,
        Some(other) => Compression::Other(other),
    };
    Ok(TransactionPayload {
        compression,
        payload_size,
        uncompressed_size: uncompressed_size.unwrap_or(payload_size),
        payload,
    })
}

/// A bounds-checked reader over an event body; failures name the event, the field and the sizes.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
    event: &'a Event,
}

impl<'a> Cursor<'a> {
    fn bad(&self, what: impl std::fmt::Display) -> Error {
        let ty = self.event.event_type();
        Error::corrupt(
            self.event.offset,
            Some(ty),
            CorruptKind::BadEvent,
            format!("{ty} event: {what}"),
        )
    }

    fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], Error> {
        if n > self.remaining() {
            return Err(self.bad(format!(
                "{what} ({n} bytes at body offset {}) runs past the end of the {}-byte body",
                self.pos,
                self.bytes.len()
            )));
        }
        let out = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    fn skip_to(&mut self, pos: usize, what: &str) -> Result<(), Error> {
        if pos > self.pos {
            self.take(pos - self.pos, what)?;
        }
        Ok(())
    }

    fn rest(&mut self) -> &'a [u8] {
        let out = &self.bytes[self.pos..];
        self.pos = self.bytes.len();
        out
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], Error> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    fn u8(&mut self, what: &str) -> Result<u8, Error> {
        Ok(self.array::<1>(what)?[0])
    }

    fn u16(&mut self, what: &str) -> Result<u16, Error> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }

    fn u32(&mut self, what: &str) -> Result<u32, Error> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    fn u56(&mut self, what: &str) -> Result<u64, Error> {
        let b: [u8; 7] = self.array(what)?;
        Ok(u64::from_le_bytes([
            b[0], b[1], b[2], b[3], b[4], b[5], b[6], 0,
        ]))
    }

    fn u64(&mut self, what: &str) -> Result<u64, Error> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    /// A length-encoded integer of the client protocol (`net_field_length`).
    fn net_length(&mut self, what: &str) -> Result<u64, Error> {
        let first = self.u8(what)?;
        let width = match first {
            0..=250 => return Ok(u64::from(first)),
            252 => 2,
            253 => 3,
            254 => 8,
            _ => {
                return Err(self.bad(format!(
                    "invalid length-encoded integer prefix {first:#04x} in {what}"
                )));
            }
        };
        let mut b = [0u8; 8];
        b[..width].copy_from_slice(self.take(width, what)?);
        Ok(u64::from_le_bytes(b))
    }

    /// A MySQL serialization varint: the count of trailing one bits in the first byte is the number of
    /// extra bytes, and the value is the little-endian bytes shifted right by that count plus one.
    fn varint(&mut self, what: &str) -> Result<u64, Error> {
        let first = self.u8(what)?;
        let extra = first.trailing_ones() as usize;
        if extra == 8 {
            return self.u64(what);
        }
        let mut b = [0u8; 8];
        b[0] = first;
        b[1..=extra].copy_from_slice(self.take(extra, what)?);
        Ok(u64::from_le_bytes(b) >> (extra + 1))
    }

    /// A zigzag-encoded signed serialization varint.
    fn signed_varint(&mut self, what: &str) -> Result<i64, Error> {
        let raw = self.varint(what)?;
        Ok((raw >> 1) as i64 ^ -((raw & 1) as i64))
    }
}
