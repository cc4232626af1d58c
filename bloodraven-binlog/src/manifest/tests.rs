//! Golden tests for the manifest encoding (spec reference-formats §2.2).

use chrono::{TimeZone, Utc};

use super::json::{format_time, parse_time};
use super::*;
use crate::Error;

fn site(s: &str) -> SiteName {
    SiteName::parse(s).expect("valid site")
}

/// The spec's example plaintext (test/envtest/standbycluster_test.go, compact form).
const SPEC_COMPACT: &str = r#"{"version":1,"site":"site1","files":[{"name":"b1","remotePath":"orders/binlogs/site1/b1","size":1024,"firstEventTime":"2026-05-20T00:00:00Z","lastEventTime":"2026-05-20T03:59:59Z","archivedAt":"2026-05-20T04:00:01Z"}]}"#;

/// What Go's `json.MarshalIndent(m, "", "  ")` makes of it: two-space indent, `": "`, no trailing newline.
const SPEC_INDENTED: &str = "{\n  \"version\": 1,\n  \"site\": \"site1\",\n  \"files\": [\n    {\n      \"name\": \"b1\",\n      \"remotePath\": \"orders/binlogs/site1/b1\",\n      \"size\": 1024,\n      \"firstEventTime\": \"2026-05-20T00:00:00Z\",\n      \"lastEventTime\": \"2026-05-20T03:59:59Z\",\n      \"archivedAt\": \"2026-05-20T04:00:01Z\"\n    }\n  ]\n}";

#[test]
fn spec_example_decodes_and_encodes_as_go_marshal_indent() {
    let m = Manifest::decode(SPEC_COMPACT.as_bytes(), "k", &site("site1")).unwrap();
    assert_eq!(m.version, 1);
    assert_eq!(m.site, "site1");
    assert_eq!(m.files.len(), 1);
    let e = &m.files[0];
    assert_eq!(e.name, "b1");
    assert_eq!(e.remote_path, "orders/binlogs/site1/b1");
    assert_eq!(e.size, 1024);
    assert_eq!(
        e.first_event_time,
        Some(Utc.with_ymd_and_hms(2026, 5, 20, 0, 0, 0).unwrap())
    );
    assert_eq!(
        e.last_event_time,
        Some(Utc.with_ymd_and_hms(2026, 5, 20, 3, 59, 59).unwrap())
    );
    assert_eq!(e.previous_gtids, "");
    assert_eq!(e.gtids, None);
    assert_eq!(String::from_utf8(m.encode()).unwrap(), SPEC_INDENTED);
    // The indented form decodes to the same value and re-encodes to the same bytes.
    let again = Manifest::decode(SPEC_INDENTED.as_bytes(), "k", &site("site1")).unwrap();
    assert_eq!(again, m);
    assert_eq!(again.encode(), SPEC_INDENTED.as_bytes());
}

#[test]
fn optional_and_additive_keys_keep_go_order() {
    let mut m = Manifest::new(&site("iad"));
    m.upsert(ManifestEntry {
        name: "mysql-bin.000002".into(),
        remote_path: "orders/binlogs/iad/mysql-bin.000002".into(),
        size: 7,
        first_event_time: None,
        last_event_time: None,
        previous_gtids: "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5".into(),
        end_gtids: "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-9".into(),
        archived_at: Some(Utc.timestamp_opt(1_779_249_601, 123_456_789).unwrap()),
        gtids: Some("3e11fa47-71ca-11e1-9e33-c80aa9429562:6-9".into()),
        sha256: Some("ab".repeat(32)),
        server_uuid: Some("3e11fa47-71ca-11e1-9e33-c80aa9429562".into()),
        mariadb_gtid_list: None,
        mariadb_end_gtid_list: None,
    });
    m.upsert(ManifestEntry {
        name: "mysql-bin.000001".into(),
        remote_path: "orders/binlogs/iad/mysql-bin.000001".into(),
        archived_at: Some(Utc.timestamp_opt(1_779_249_600, 100_000_000).unwrap()),
        mariadb_gtid_list: Some("0-1-5".into()),
        mariadb_end_gtid_list: Some("0-1-9".into()),
        ..Default::default()
    });
    let text = String::from_utf8(m.encode()).unwrap();
    let expected = "{\n  \"version\": 1,\n  \"site\": \"iad\",\n  \"files\": [\n    {\n      \"name\": \"mysql-bin.000001\",\n      \"remotePath\": \"orders/binlogs/iad/mysql-bin.000001\",\n      \"size\": 0,\n      \"firstEventTime\": \"0001-01-01T00:00:00Z\",\n      \"lastEventTime\": \"0001-01-01T00:00:00Z\",\n      \"archivedAt\": \"2026-05-20T04:00:00.1Z\",\n      \"mariadbGtidList\": \"0-1-5\",\n      \"mariadbEndGtidList\": \"0-1-9\"\n    },\n    {\n      \"name\": \"mysql-bin.000002\",\n      \"remotePath\": \"orders/binlogs/iad/mysql-bin.000002\",\n      \"size\": 7,\n      \"firstEventTime\": \"0001-01-01T00:00:00Z\",\n      \"lastEventTime\": \"0001-01-01T00:00:00Z\",\n      \"previousGtids\": \"3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5\",\n      \"endGtids\": \"3e11fa47-71ca-11e1-9e33-c80aa9429562:1-9\",\n      \"archivedAt\": \"2026-05-20T04:00:01.123456789Z\",\n      \"gtids\": \"3e11fa47-71ca-11e1-9e33-c80aa9429562:6-9\",\n      \"sha256\": \"abababababababababababababababababababababababababababababababab\",\n      \"serverUuid\": \"3e11fa47-71ca-11e1-9e33-c80aa9429562\"\n    }\n  ]\n}";
    assert_eq!(text, expected);
    let back = Manifest::decode(text.as_bytes(), "k", &site("iad")).unwrap();
    assert_eq!(back, m);
}

#[test]
fn empty_and_null_files_round_trip() {
    let empty = Manifest::new(&site("a"));
    assert_eq!(
        String::from_utf8(empty.encode()).unwrap(),
        "{\n  \"version\": 1,\n  \"site\": \"a\",\n  \"files\": []\n}"
    );
    let null = br#"{"version":1,"site":"a","files":null}"#;
    let m = Manifest::decode(null, "k", &site("a")).unwrap();
    assert!(m.files.is_empty());
    assert_eq!(
        String::from_utf8(m.encode()).unwrap(),
        "{\n  \"version\": 1,\n  \"site\": \"a\",\n  \"files\": null\n}"
    );
}

#[test]
fn tolerant_reader_rules() {
    // version 0 → 1, empty site filled in, unknown keys ignored, case-insensitive keys, nulls as zero.
    let text = br#"{"version":0,"site":"","extra":{"x":[1]},"Files":[{"NAME":"b1","size":null,"remotePath":"p","firstEventTime":"0001-01-01T00:00:00Z","future":true}]}"#;
    let m = Manifest::decode(text, "k", &site("east")).unwrap();
    assert_eq!(m.version, 1);
    assert_eq!(m.site, "east");
    assert_eq!(m.files[0].name, "b1");
    assert_eq!(m.files[0].size, 0);
    assert_eq!(m.files[0].first_event_time, None);
    // Keys of another version are kept, top level and per entry, and written back.
    let again = Manifest::decode(&m.encode(), "k", &site("east")).unwrap();
    let text = String::from_utf8(again.encode()).unwrap();
    assert!(text.contains("\n  \"extra\": {\"x\":[1]}\n}"), "{text}");
    assert!(text.contains(",\n      \"future\": true\n    }"), "{text}");
    assert_eq!(again, m);
    // Missing version and files.
    let m = Manifest::decode(b"{}", "k", &site("east")).unwrap();
    assert_eq!((m.version, m.site.as_str(), m.files.len()), (1, "east", 0));
}

#[test]
fn decode_errors_name_the_key_and_field_path() {
    let cases: [(&[u8], &str); 5] = [
        (b"{\"version\":1,", "$"),
        (b"[]", "$"),
        (br#"{"files":[{"name":"b","size":-3}]}"#, "files[0].size"),
        (
            br#"{"files":[{"name":"b","lastEventTime":"yesterday"}]}"#,
            "files[0].lastEventTime",
        ),
        (br#"{"files":[{"name":7}]}"#, "files[0].name"),
    ];
    for (text, want) in cases {
        let err = Manifest::decode(text, "orders/binlogs/manifest-a.json", &site("a")).unwrap_err();
        match &err {
            Error::ManifestDecode { key, path, .. } => {
                assert_eq!(key, "orders/binlogs/manifest-a.json");
                assert_eq!(path, want, "{err}");
            }
            other => panic!("unexpected error {other:?}"),
        }
        assert!(
            err.to_string().contains("orders/binlogs/manifest-a.json"),
            "{err}"
        );
    }
}

#[test]
fn go_string_escaping() {
    let mut m = Manifest::new(&site("a"));
    m.upsert(ManifestEntry {
        name: "a<b>&\"\\\n\u{1}\u{2028}é".into(),
        ..Default::default()
    });
    let text = String::from_utf8(m.encode()).unwrap();
    assert!(
        text.contains(r#""name": "a\u003cb\u003e\u0026\"\\\n\u0001\u2028é""#),
        "{text}"
    );
    let back = Manifest::decode(text.as_bytes(), "k", &site("a")).unwrap();
    assert_eq!(back.files[0].name, m.files[0].name);
}

#[test]
fn go_time_format() {
    let t = |s, n| Some(Utc.timestamp_opt(s, n).unwrap());
    assert_eq!(format_time(None), "0001-01-01T00:00:00Z");
    assert_eq!(format_time(t(1_779_235_200, 0)), "2026-05-20T00:00:00Z");
    assert_eq!(
        format_time(t(1_779_235_200, 120_000_000)),
        "2026-05-20T00:00:00.12Z"
    );
    assert_eq!(
        format_time(t(1_779_235_200, 1)),
        "2026-05-20T00:00:00.000000001Z"
    );
    assert_eq!(
        parse_time("2026-05-20T02:00:00+02:00"),
        Some(t(1_779_235_200, 0))
    );
    assert_eq!(parse_time("0001-01-01T00:00:00Z"), Some(None));
    assert_eq!(parse_time("2026-05-20"), None);
}

#[test]
fn upsert_replaces_and_sorts_bytewise() {
    let mut m = Manifest::new(&site("a"));
    for name in ["b.10", "B.2", "b.09"] {
        m.upsert(ManifestEntry {
            name: name.into(),
            ..Default::default()
        });
    }
    m.upsert(ManifestEntry {
        name: "b.09".into(),
        size: 5,
        ..Default::default()
    });
    let names: Vec<_> = m.files.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["B.2", "b.09", "b.10"]);
    assert_eq!(m.get("b.09").unwrap().size, 5);
}

#[test]
fn prune_keeps_zero_times_and_entries_at_the_cutoff() {
    let mut m = Manifest::new(&site("a"));
    let at = |h| Some(Utc.with_ymd_and_hms(2026, 5, 20, h, 0, 0).unwrap());
    for (name, last) in [("f1", at(1)), ("f2", at(2)), ("f3", None), ("f4", at(3))] {
        m.upsert(ManifestEntry {
            name: name.into(),
            last_event_time: last,
            ..Default::default()
        });
    }
    let removed = m.prune_before(at(2).unwrap());
    assert_eq!(
        removed.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(),
        ["f1"]
    );
    assert_eq!(
        m.files.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(),
        ["f2", "f3", "f4"]
    );
}

#[test]
fn names_and_layout() {
    assert!(SiteName::parse("us-east-1").is_ok());
    for bad in ["", "Upper", "a_b", "a/b"] {
        assert!(SiteName::parse(bad).is_err(), "{bad}");
    }
    for bad in ["", ".", "..", "a/b", "a\\b", "a\u{1}"] {
        assert!(BinlogName::parse(bad).is_err(), "{bad:?}");
    }
    let l = ArchiveLayout::for_profile_prefix("orders/");
    let s = site("iad");
    let n = BinlogName::parse("mysql-bin.000042").unwrap();
    assert_eq!(l.manifest_key(&s), "orders/binlogs/manifest-iad.json");
    assert_eq!(l.object_key(&s, &n), "orders/binlogs/iad/mysql-bin.000042");
    assert_eq!(
        l.site_of_manifest_key("orders/binlogs/manifest-iad.json"),
        Some(s)
    );
    assert_eq!(l.site_of_manifest_key("orders/binlogs/iad/x.json"), None);
    assert_eq!(
        ArchiveLayout::for_profile_prefix("").manifest_key(&site("a")),
        "binlogs/manifest-a.json"
    );
}

#[test]
fn generation_names_are_plain_basenames_and_map_back() {
    let local = BinlogName::parse("mysql-bin.000001").unwrap();
    assert_eq!(local.generation(1), local);
    assert_eq!(local.generation(2).as_str(), "mysql-bin.g0002.000001");
    assert_eq!(local.generation(12).as_str(), "mysql-bin.g0012.000001");
    // Still valid under the pitr-download basename rule.
    assert!(BinlogName::parse(local.generation(3).as_str()).is_ok());
    for n in [1, 2, 3, 12, BinlogName::MAX_GENERATION] {
        assert_eq!(local.generation_of(local.generation(n).as_str()), Some(n));
    }
    // The names earlier versions wrote are still recognised.
    assert_eq!(local.generation_of("mysql-bin.000001.g2"), Some(2));
    assert_eq!(local.generation_of("mysql-bin.000001.g12"), Some(12));
    for other in [
        "mysql-bin.000002",
        "mysql-bin.0000010",
        "mysql-bin.000001.g",
        "mysql-bin.000001.g1",
        "mysql-bin.000001.g02",
        "mysql-bin.000001.gx",
        "mysql-bin.000001.2",
        "mysql-bin.000001.g0002",
        "mysql-bin.00000",
        "mysql-bin.g0001.000001",
        "mysql-bin.g2.000001",
        "mysql-bin.g00002.000001",
        "mysql-bin.g0002.000002",
        "mysql-bin.g0002.0000010",
        "mysql-bin.gxxxx.000001",
    ] {
        assert_eq!(local.generation_of(other), None, "{other}");
    }
    // A name without a '.': the generation is a suffix.
    let plain = BinlogName::parse("binlog").unwrap();
    assert_eq!(plain.generation(2).as_str(), "binlog.g0002");
    assert_eq!(plain.generation_of("binlog.g0002"), Some(2));
    assert_eq!(plain.generation_of("binlog.g2"), Some(2));
}

/// The Go restore replays a site's files sorted by name, byte-wise: every file of generation `n` must
/// sort before every file of generation `n + 1`, and within a generation by number.
#[test]
fn generation_names_sort_in_replay_order() {
    let name = |n: u32, number: u32| {
        BinlogName::parse(&format!("mysql-bin.{number:06}"))
            .unwrap()
            .generation(n)
            .as_str()
            .to_owned()
    };
    let mut replay = Vec::new();
    for n in [
        1,
        2,
        3,
        9,
        10,
        11,
        99,
        100,
        999,
        1000,
        BinlogName::MAX_GENERATION,
    ] {
        for number in [1, 2, 9, 10, 999, 1000, 999_999] {
            replay.push(name(n, number));
        }
    }
    let mut sorted = replay.clone();
    sorted.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    assert_eq!(sorted, replay);
}
