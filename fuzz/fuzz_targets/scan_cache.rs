//! STATE_DIR/scan.json as it may be found after a crash or an edit: any
//! bytes. Errors are fine; panics, and caches that do not survive being
//! written and read back, are not.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lowspace::rotate::scan_cache::ScanCache;

fuzz_target!(|data: &[u8]| {
    if let Ok(loaded) = ScanCache::parse(data) {
        let again = ScanCache::parse(&loaded.render());
        assert_eq!(again.as_ref().ok(), Some(&loaded));
    }
});
