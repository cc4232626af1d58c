//! Fuzzes the text parsers: never a panic, and whatever parses prints canonical text that parses back to
//! the same set, in every form (canonical, compact, binary).
#![no_main]

use bloodraven_gtid::{Gtid, GtidSet, MariadbGtidList, Tag};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(set) = GtidSet::parse(text) {
        let canonical = set.to_string();
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
