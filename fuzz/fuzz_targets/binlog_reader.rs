//! Fuzzes the binlog reader: any bytes give events or an error naming an offset inside the input, never a
//! panic; the events tile the input in order, and every event body decodes or fails cleanly.
#![no_main]

use bloodraven_binlog::reader::{self, EventDecoder, MAGIC, Reader};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // A leading 0 byte stands for the magic number, so the fuzzer reaches the events quickly.
    let with_magic;
    let input = match data.split_first() {
        Some((0, rest)) => {
            with_magic = [&MAGIC[..], rest].concat();
            &with_magic[..]
        }
        _ => data,
    };
    let mut next = 4u64;
    let decoder = EventDecoder::new().with_max_event_size(1 << 20);
    for event in Reader::with_decoder(input, decoder) {
        match event {
            Ok(event) => {
                assert_eq!(event.offset(), next);
                next += event.raw().len() as u64;
                let _ = event.data();
            }
            Err(e) => {
                assert!(e.offset().is_some_and(|o| o <= input.len() as u64), "{e}");
                break;
            }
        }
    }
    let _ = reader::summarize(input);
});
