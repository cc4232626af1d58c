//! Fuzzes the text parsers: never a panic, and whatever parses prints canonical text that parses back to
//! the same set, in every form (canonical, compact, binary).
#![no_main]

use bloodraven_gtid::{Gtid, GtidSet, MariadbGtidList, Tag};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let parsed = GtidSet::parse(text);
    // A leading space takes the general parser past the one-range fast path: both must agree.
    match (&parsed, GtidSet::parse(&format!(" {text}"))) {
        (Ok(set), Ok(general)) => assert_eq!(set, &general),
        (Err(_), Err(_)) => {}
        (fast, general) => panic!("{text:?}: {fast:?} against {general:?}"),
    }
    if let Ok(set) = parsed {
        let canonical = set.to_string();
        assert_eq!(set.to_text(), canonical);
        let mut appended = String::from("é");
        set.write_text(&mut appended);
        assert_eq!(appended, format!("é{canonical}"));
        assert_eq!(GtidSet::parse(&canonical).as_ref(), Ok(&set), "canonical text {canonical:?}");
        assert_eq!(GtidSet::parse(&set.to_compact_string()).as_ref(), Ok(&set));
        assert_eq!(GtidSet::decode(&set.encode()).as_ref(), Ok(&set));
        // Canonical text is a fixed point.
        assert_eq!(GtidSet::parse(&canonical).map(|s| s.to_string()), Ok(canonical));
        let count: u128 = set.intervals().map(|(_, _, iv)| u128::from(iv.len())).sum();
        assert_eq!(set.count(), count);
    }
    if let Ok(gtid) = text.parse::<Gtid>() {
        assert_eq!(gtid.to_string().parse::<Gtid>(), Ok(gtid));
    }
    if let Ok(tag) = Tag::parse(text) {
        assert_eq!(Tag::parse(tag.as_str()), Ok(tag));
    }
    if let Ok(list) = text.parse::<MariadbGtidList>() {
        assert_eq!(list.to_string().parse::<MariadbGtidList>().as_ref(), Ok(&list));
    }
});
