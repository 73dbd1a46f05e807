//! Logins with the real `adb` client to a fake phone: keys made by `adb keygen` and by adbkeys,
//! trusted through an adb_keys file, refused when absent (issue 4).

mod support;

use std::fs;

use support::adb_client::{adb_keygen, public_key_path};
use support::fake_adbd::AuthEvent;
use support::{assert_logged_in, assert_refused, attempt_login};

/// The harness itself: a key that `adb keygen` made logs in when its `.pub` line is in the
/// phone's adb_keys, and a service the host opens afterwards is closed by the phone.
#[test]
fn harness_lets_a_trusted_adb_keygen_key_in() {
    let dir = tempfile::tempdir().expect("creates a temporary directory");
    let other_key = adb_keygen(dir.path(), "other");
    let key = adb_keygen(dir.path(), "adbkey");
    let adb_keys = format!(
        "{}\n{}\n",
        fs::read_to_string(public_key_path(&other_key)).expect("reads other.pub"),
        fs::read_to_string(public_key_path(&key)).expect("reads adbkey.pub"),
    );

    let attempt = attempt_login(&adb_keys, &key);

    assert_eq!(attempt.trusted_keys, 2);
    assert_logged_in(&attempt);
    assert!(
        attempt
            .events
            .contains(&AuthEvent::SignatureAccepted { key_index: 1 }),
        "{}",
        attempt.describe()
    );
}

/// The harness itself: a key that is not in adb_keys is refused, and the host ends up offering
/// its public key, as it does to a phone that shows the "Allow USB debugging?" dialog.
#[test]
fn harness_keeps_an_untrusted_adb_keygen_key_out() {
    let dir = tempfile::tempdir().expect("creates a temporary directory");
    let trusted_key = adb_keygen(dir.path(), "trusted");
    let key = adb_keygen(dir.path(), "adbkey");
    let adb_keys = fs::read_to_string(public_key_path(&trusted_key)).expect("reads .pub");

    let attempt = attempt_login(&adb_keys, &key);

    assert_eq!(attempt.trusted_keys, 1);
    assert_refused(&attempt);
}
