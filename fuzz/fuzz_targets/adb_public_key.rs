//! Fuzzes the `adbkey.pub` parser: no panic, and an accepted key prints back to the same key.
#![no_main]

use adbkeys::keys::PublicKeyLine;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(line) = PublicKeyLine::parse(data) else {
        return;
    };

    let canonical = line.canonical();
    let again = PublicKeyLine::parse(canonical.as_bytes()).expect("a canonical line parses");
    assert_eq!(again.key, line.key);
    assert_eq!(again.canonical(), canonical);
});
