//! Fuzzes the KeyPairName validator: no panic, and it agrees with the rule written out plainly.
#![no_main]

use adbkeys::rules::validate_key_pair_name;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|name: &str| {
    let ideograph = |c: char| matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}');
    let mut chars = name.chars();
    let starts_well = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || ideograph(c));
    let rest_allowed = chars
        .all(|c| c.is_ascii_alphanumeric() || ideograph(c) || matches!(c, ':' | '_' | '-'));
    let length = name.chars().count();
    let expected = starts_well && rest_allowed && (2..=128).contains(&length);

    match validate_key_pair_name(name) {
        Ok(()) => assert!(expected, "accepted '{name}'"),
        Err(error) => {
            assert!(!expected, "refused '{name}': {error}");
            assert!(!error.to_string().is_empty());
        }
    }
});
