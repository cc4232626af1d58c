//! Fuzzes the binary decoder: never a panic, and whatever decodes re-encodes to bytes that decode to the
//! same set; the re-encoding of a decoded set is canonical (encoding it again gives the same bytes).
#![no_main]

use bloodraven_gtid::GtidSet;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = GtidSet::decode_header(data);
    if let Ok(set) = GtidSet::decode(data) {
        let encoded = set.encode();
        let again = GtidSet::decode(&encoded).expect("a set's own encoding decodes");
        assert_eq!(again, set);
        assert_eq!(again.encode(), encoded);
        assert_eq!(GtidSet::parse(&set.to_string()).as_ref(), Ok(&set));
    }
});
