//! Fuzzes the private-key import path: no panic, and an accepted key is a valid ADB key.
#![no_main]

use adbkeys::keys::import::ImportInput;
use adbkeys::keys::{AdbPublicKey, parse_import};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(imported) = parse_import(ImportInput::PrivateKey, data) else {
        return;
    };

    let again = AdbPublicKey::from_blob(imported.key.blob()).expect("an imported key validates");
    assert_eq!(again, imported.key);
});
