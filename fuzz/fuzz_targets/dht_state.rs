//! STATE_DIR/dht.json as it may be found after a crash or an edit: any
//! bytes. Errors are fine; panics, and states that do not survive being
//! written and read back, are not.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lowspace::fish::dht::state;

fuzz_target!(|data: &[u8]| {
    if let Ok(loaded) = state::parse(data) {
        let again = state::parse(&state::render(&loaded));
        assert_eq!(again.as_ref().ok(), Some(&loaded));
    }
});
