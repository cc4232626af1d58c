//! Typed event bodies, checked against the values PROVENANCE.md decodes by hand from the fixture bytes.

use std::fs::File;
use std::path::PathBuf;

use bloodraven_binlog::reader::{
    Checksum, Compression, Event, EventData, EventType, Flavor, GtidKind, MariadbGtidEvent, Reader,
};

fn events(name: &str) -> Vec<Event> {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/fixtures/binlog"
    ))
    .join(name);
    Reader::new(File::open(path).unwrap())
        .collect::<Result<_, _>>()
        .unwrap()
}

fn of_type(events: &[Event], ty: EventType) -> Vec<&Event> {
    events.iter().filter(|e| e.event_type() == ty).collect()
}

#[test]
fn gtid_tagged_event_decodes_the_serialization_message() {
    let events = events("rust_mysql_common/binlog_transaction_with_GTID_TAG.000001");
    let tagged = of_type(&events, EventType::GTID_TAGGED);
    assert_eq!(tagged.len(), 1);
    assert_eq!(tagged[0].offset(), 245);
    let EventData::Gtid(g) = tagged[0].data().unwrap() else {
        panic!()
    };
    assert_eq!(g.kind, GtidKind::Tagged);
    assert_eq!(
        g.gtid.unwrap().to_string(),
        "55778904-0299-11f1-b1b8-4ef0c4956feb:mytag:3"
    );
    assert_eq!((g.last_committed, g.sequence_number), (Some(0), Some(1)));
    assert_eq!(g.transaction_length, Some(296));
    assert_eq!(g.immediate_server_version, Some(90600));
    assert_eq!(g.original_server_version, Some(90600));
    assert_eq!(g.immediate_commit_timestamp, g.original_commit_timestamp);
    // The header length table of 9.6 is 123 bytes long in all, and type 42 has no post-header.
    let EventData::FormatDescription(fde) = events[0].data().unwrap() else {
        panic!()
    };
    assert_eq!(
        (fde.server_version.as_str(), fde.header_len, fde.checksum),
        ("9.6.0", 19, Checksum::Crc32)
    );
    assert_eq!(events[0].raw().len(), 123);
    assert_eq!(fde.post_header_len(EventType::GTID_TAGGED), 0);
}

#[test]
fn mysql8_gtid_event_has_logical_clock_and_commit_times() {
    let events = events("mysql-binlog-connector-rust/mysql-bin.000057");
    let gtids = of_type(&events, EventType::GTID);
    let EventData::Gtid(first) = gtids[0].data().unwrap() else {
        panic!()
    };
    assert_eq!(first.kind, GtidKind::Gtid);
    assert_eq!(
        first.gtid.unwrap().to_string(),
        "76f3e7be-6720-11ed-9cad-0242ac110002:11"
    );
    // PROVENANCE: the DDL transaction has gtid_flags = 1.
    assert_eq!(first.flags, 1);
    assert!(first.sequence_number.unwrap() > first.last_committed.unwrap());
    // 8.0.31 writes commit timestamps in microseconds and its own version.
    let ts = first.immediate_commit_timestamp.unwrap();
    let secs = (ts / 1_000_000) as u32;
    assert!(secs.abs_diff(gtids[0].header().timestamp) <= 1, "{ts}");
    assert_eq!(first.immediate_server_version, Some(80031));
}

#[test]
fn anonymous_gtid_event_has_no_gtid() {
    let events = events("rust_mysql_common/binlog_transaction_with_anonymous_GTID.000001");
    for e in of_type(&events, EventType::ANONYMOUS_GTID) {
        let EventData::Gtid(g) = e.data().unwrap() else {
            panic!()
        };
        assert_eq!((g.kind, g.gtid), (GtidKind::Anonymous, None));
    }
}

#[test]
fn transaction_payload_stays_opaque_with_its_sizes() {
    let events = events("rust_mysql_common/transaction_compression.000001");
    let payload = of_type(&events, EventType::TRANSACTION_PAYLOAD);
    let EventData::TransactionPayload(p) = payload[0].data().unwrap() else {
        panic!()
    };
    assert_eq!(
        (p.compression, p.payload_size, p.uncompressed_size),
        (Compression::Zstd, 124, 179)
    );
    // A zstd frame starts with its magic number.
    assert_eq!(&p.payload[..4], &[0x28, 0xb5, 0x2f, 0xfd]);

    let events = self::events("mysql-binlog-connector-java/mysql-bin.compressed");
    let EventData::TransactionPayload(p) = of_type(&events, EventType::TRANSACTION_PAYLOAD)[0]
        .data()
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(
        (p.compression, p.payload_size, p.uncompressed_size),
        (Compression::Zstd, 451, 960)
    );
}

#[test]
fn query_rotate_and_xid_bodies() {
    let events = events("percona-binlog-server/binlog.000001");
    let queries: Vec<_> = of_type(&events, EventType::QUERY)
        .into_iter()
        .map(|e| match e.data().unwrap() {
            EventData::Query(q) => String::from_utf8_lossy(q.query).into_owned(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert!(
        queries.iter().filter(|q| *q == "BEGIN").count() >= 3,
        "{queries:?}"
    );
    let EventData::Rotate(r) = events.last().unwrap().data().unwrap() else {
        panic!()
    };
    assert_eq!((r.position, r.next_file), (4, &b"binlog.000002"[..]));
    for xid in of_type(&events, EventType::XID) {
        let EventData::Xid(id) = xid.data().unwrap() else {
            panic!()
        };
        assert!(id > 0);
    }
}

#[test]
fn mariadb_gtid_list_checkpoint_and_gtid_events() {
    let events = events("rust_mysql_common/mariadb-bin.000001");
    let EventData::FormatDescription(fde) = events[0].data().unwrap() else {
        panic!()
    };
    assert_eq!((fde.flavor, events[0].raw().len()), (Flavor::Mariadb, 252));
    let EventData::MariadbGtidList(list) = events[1].data().unwrap() else {
        panic!()
    };
    assert!(list.is_empty());
    let EventData::MariadbBinlogCheckpoint(name) = events[2].data().unwrap() else {
        panic!()
    };
    assert_eq!(name, b"mariadb-bin.000001");
    let gtids: Vec<MariadbGtidEvent> = of_type(&events, EventType::MARIADB_GTID)
        .into_iter()
        .map(|e| match e.data().unwrap() {
            EventData::MariadbGtid(g) => g,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        gtids.iter().map(|g| g.gtid.to_string()).collect::<Vec<_>>(),
        ["0-1-1", "0-1-2"]
    );
    // PROVENANCE: flags 0x0c (transactional, allow parallel) on 10.5 row transactions.
    assert!(
        gtids
            .iter()
            .all(|g| g.flags == 0x0c && g.commit_id.is_none())
    );

    let events = self::events("zalora-binlog-parser/mysql-bin.07");
    let EventData::MariadbGtidList(list) = events[1].data().unwrap() else {
        panic!()
    };
    assert_eq!(
        list.iter().map(ToString::to_string).collect::<Vec<_>>(),
        ["0-3704-2814"]
    );
    let EventData::MariadbGtid(ddl) = of_type(&events, EventType::MARIADB_GTID)[0].data().unwrap()
    else {
        panic!()
    };
    assert_eq!(
        ddl.flags & MariadbGtidEvent::FL_STANDALONE,
        MariadbGtidEvent::FL_STANDALONE
    );
}

#[test]
fn relay_log_follows_the_sources_format_description() {
    let events = events("rust_mysql_common/rpl_unfiltered_hidden_gcol.000001");
    let fdes = of_type(&events, EventType::FORMAT_DESCRIPTION);
    assert_eq!(fdes.len(), 2);
    // The relay log's own FDE carries LOG_EVENT_RELAY_LOG_F; the source's does not.
    assert_ne!(fdes[0].header().flags & 0x40, 0);
    assert_eq!(fdes[1].header().flags & 0x40, 0);
    // Every event after the second FDE was decoded and checksummed under it.
    assert!(events.iter().all(|e| e.data().is_ok()));
}

#[test]
fn unknown_aurora_event_is_skipped_by_length() {
    let events = events("mysql-binlog-connector-java/mysql-bin.aurora-padding");
    let padding = of_type(&events, EventType(100));
    assert_eq!(padding.len(), 1);
    assert_eq!(padding[0].raw().len(), 928);
    assert_eq!(padding[0].data().unwrap(), EventData::Other);
    // The 181-byte FDE's header table reaches past type 100.
    let EventData::FormatDescription(fde) = events[0].data().unwrap() else {
        panic!()
    };
    assert_eq!(events[0].raw().len(), 181);
    assert!(fde.post_header_lens.len() >= 100);
}
