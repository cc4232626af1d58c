//! Fuzzes the BRV1 decoder (bloodraven-brv1): never a panic on any input, and an edited copy of a
//! valid stream never decrypts, except to the original plaintext when the edits changed nothing.
#![no_main]

use bloodraven_brv1::{Passphrase, decrypt, inspect};
use libfuzzer_sys::fuzz_target;

/// Three 16-byte chunks (chunk_log2 4), so edits reach every part of the body decoder.
const SEALED: &[u8] = include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/fixtures/brv1/v5-log2-4.brv1"));
const PLAIN: &[u8] = include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/fixtures/brv1/v5-log2-4.plain"));

fuzz_target!(|data: &[u8]| {
    let pass = Passphrase::new(b"correct horse battery staple".to_vec()).expect("not empty");
    let Some((&mode, rest)) = data.split_first() else { return };
    if mode % 2 == 0 {
        // Arbitrary bytes.
        let _ = decrypt(&pass, rest);
        let _ = inspect(rest);
        return;
    }
    // Edits of the valid stream, two bytes each: (position, value) overwrites, then a cut or
    // an extension chosen by the mode byte.
    let mut edited = SEALED.to_vec();
    for pair in rest.chunks_exact(2) {
        let at = pair[0] as usize % edited.len().max(1);
        if let Some(b) = edited.get_mut(at) {
            *b = pair[1];
        }
    }
    match mode / 2 % 4 {
        1 => edited.truncate(mode as usize % (SEALED.len() + 1)),
        2 => edited.extend_from_slice(&rest[..rest.len().min(40)]),
        _ => {}
    }
    match decrypt(&pass, &edited) {
        Ok(plain) => {
            assert_eq!(edited, SEALED, "an edited stream decrypted");
            assert_eq!(plain, PLAIN);
        }
        Err(e) => assert!(e.decrypt().is_some(), "decoding errors are typed: {e}"),
    }
    let _ = inspect(&edited[..]);
});
