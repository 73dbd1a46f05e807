//! Logins with the real `adb` client to a fake phone: keys made by `adb keygen` and by adbkeys,
//! trusted through an adb_keys file, refused when absent (issue 4).

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use rsa::pkcs8::DecodePrivateKey as _;
use rsa::traits::PrivateKeyParts as _;
use support::adb_client::{CommandOutput, adb_keygen, public_key_path, run_with_timeout};
use support::fake_adbd::AuthEvent;
use support::{assert_logged_in, assert_refused, attempt_login};

/// How long one `adbkeys` command may take.
const ADBKEYS_TIMEOUT: Duration = Duration::from_secs(60);

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

/// A tenant of its own: a temporary store driven through the `adbkeys` binary, with HOME and
/// the XDG directories in the same temporary directory.
struct Tenant {
    dir: tempfile::TempDir,
}

impl Tenant {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("creates a temporary directory"),
        }
    }

    fn store(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    /// A path for key files, outside the store.
    fn keys_dir(&self) -> PathBuf {
        let keys = self.dir.path().join("keys");
        fs::create_dir_all(&keys).expect("creates the keys directory");
        keys
    }

    /// Runs `adbkeys --store STORE ARGS...` and requires it to succeed.
    fn adbkeys(&self, args: &[&str]) -> CommandOutput {
        let home = self.dir.path().join("home");
        fs::create_dir_all(&home).expect("creates HOME");

        let mut command = Command::new(env!("CARGO_BIN_EXE_adbkeys"));
        command
            .arg("--store")
            .arg(self.store())
            .args(args)
            .env("HOME", &home)
            .env("XDG_DATA_HOME", home.join("data"))
            .env("XDG_STATE_HOME", home.join("state"))
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env_remove("ADBKEYS_STORE")
            .env_remove("ADBKEYS_TENANT");
        let output = run_with_timeout(command, ADBKEYS_TIMEOUT);
        assert!(output.success(), "adbkeys {args:?} failed: {output:?}");
        output
    }

    /// Runs a `--json` command and returns `Data.KeyPairId`.
    fn key_pair_id(&self, args: &[&str]) -> String {
        let output = self.adbkeys(&[&["--json"], args].concat());
        let reply: serde_json::Value =
            serde_json::from_str(&output.stdout).unwrap_or_else(|error| {
                panic!("adbkeys {args:?} printed no JSON ({error}): {output:?}")
            });
        reply["Data"]["KeyPairId"]
            .as_str()
            .unwrap_or_else(|| panic!("adbkeys {args:?} gave no Data.KeyPairId: {reply}"))
            .to_owned()
    }

    /// `adbkeys create NAME --save-private FILE`; returns the ID and the private key's path.
    fn create(&self, name: &str) -> (String, PathBuf) {
        let private_key = self.keys_dir().join(name);
        let path = private_key.to_str().expect("temporary paths are UTF-8");
        let id = self.key_pair_id(&["create", name, "--save-private", path]);
        (id, private_key)
    }

    /// `adbkeys import NAME --public-key FILE` or `--private-key FILE`.
    fn import(&self, name: &str, flag: &str, file: &Path) -> String {
        let path = file.to_str().expect("temporary paths are UTF-8");
        self.key_pair_id(&["import", name, flag, path])
    }

    /// `adbkeys export-adb-keys`: the tenant's adb_keys text, as a phone would be given it.
    fn export_adb_keys(&self) -> String {
        self.adbkeys(&["export-adb-keys"]).stdout
    }

    /// `adbkeys delete ID --yes`.
    fn delete(&self, id: &str) {
        self.adbkeys(&["--json", "delete", id, "--yes"]);
    }

    /// The contents of every file under the store.
    fn store_files(&self) -> Vec<(PathBuf, Vec<u8>)> {
        let mut files = Vec::new();
        let mut pending = vec![self.store()];
        while let Some(dir) = pending.pop() {
            for entry in fs::read_dir(&dir).expect("reads a store directory") {
                let path = entry.expect("reads a directory entry").path();
                if path.is_dir() {
                    pending.push(path);
                } else {
                    let bytes = fs::read(&path).expect("reads a store file");
                    files.push((path, bytes));
                }
            }
        }
        files
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// Issue 4, test 1: a key pair made by `adbkeys create --save-private` logs in to a phone that
/// was given the tenant's `export-adb-keys`.
#[test]
fn created_key_logs_in_to_a_phone_given_the_export() {
    let tenant = Tenant::new();
    tenant.create("other-phone");
    let (_, private_key) = tenant.create("phone-a");
    let adb_keys_file = tenant.keys_dir().join("adb_keys");
    tenant.adbkeys(&[
        "export-adb-keys",
        "--output",
        adb_keys_file.to_str().expect("temporary paths are UTF-8"),
    ]);
    let adb_keys = fs::read_to_string(&adb_keys_file).expect("reads the exported adb_keys");

    let attempt = attempt_login(&adb_keys, &private_key);

    assert_eq!(attempt.trusted_keys, 2, "{}", attempt.describe());
    assert_logged_in(&attempt);
}

/// Issue 4, test 2: a key pair made by `adb keygen`, imported by its public half, logs in with
/// the `adb keygen` private key.
#[test]
fn imported_public_key_logs_in_with_the_adb_keygen_private_key() {
    let tenant = Tenant::new();
    let private_key = adb_keygen(&tenant.keys_dir(), "adbkey");
    tenant.import("laptop", "--public-key", &public_key_path(&private_key));

    let attempt = attempt_login(&tenant.export_adb_keys(), &private_key);

    assert_eq!(attempt.trusted_keys, 1, "{}", attempt.describe());
    assert_logged_in(&attempt);
}

/// Issue 4, test 3: importing an `adb keygen` private key keeps its public half, which logs in,
/// and nothing of the private key: neither the PEM body nor the private exponent or primes.
#[test]
fn imported_private_key_logs_in_and_is_not_kept() {
    let tenant = Tenant::new();
    let private_key = adb_keygen(&tenant.keys_dir(), "adbkey");
    tenant.import("laptop", "--private-key", &private_key);

    let attempt = attempt_login(&tenant.export_adb_keys(), &private_key);

    assert_eq!(attempt.trusted_keys, 1, "{}", attempt.describe());
    assert_logged_in(&attempt);

    let pem = fs::read_to_string(&private_key).expect("reads the private key");
    let body_lines: Vec<&str> = pem
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    let parsed = rsa::PrivateKey::from_pkcs8_pem(&pem).expect("adb keygen writes PKCS#8");
    let mut secrets: Vec<(String, Vec<u8>)> = vec![(
        "the joined PEM body".to_owned(),
        body_lines.concat().into_bytes(),
    )];
    for (index, line) in body_lines.iter().enumerate() {
        secrets.push((format!("PEM body line {index}"), line.as_bytes().to_vec()));
    }
    let numbers = [
        ("d", parsed.d()),
        ("p", &*parsed.primes()[0]),
        ("q", &*parsed.primes()[1]),
    ];
    for (name, number) in numbers {
        let big_endian = number.to_be_bytes_trimmed_vartime().to_vec();
        let little_endian: Vec<u8> = big_endian.iter().rev().copied().collect();
        secrets.push((format!("{name}, big-endian"), big_endian));
        secrets.push((format!("{name}, little-endian"), little_endian));
    }

    let files = tenant.store_files();
    assert!(
        files.iter().any(|(_, bytes)| !bytes.is_empty()),
        "the store holds no data at all: {files:?}"
    );
    for (path, bytes) in &files {
        for (what, secret) in &secrets {
            assert!(
                !contains(bytes, secret),
                "'{}' holds {what} of the imported private key",
                path.display()
            );
        }
    }
}

/// Issue 4, test 4: a private key whose public half is not in the tenant is refused, and adb
/// shows the phone as `unauthorized`.
#[test]
fn key_outside_the_tenant_is_refused() {
    let tenant = Tenant::new();
    tenant.create("phone-a");
    let imported = adb_keygen(&tenant.keys_dir(), "imported");
    tenant.import("laptop", "--public-key", &public_key_path(&imported));
    let stranger = adb_keygen(&tenant.keys_dir(), "stranger");

    let attempt = attempt_login(&tenant.export_adb_keys(), &stranger);

    assert_eq!(attempt.trusted_keys, 2, "{}", attempt.describe());
    assert_refused(&attempt);
}

/// Issue 4, test 5: after `adbkeys delete`, a fresh export no longer lets the key in, while the
/// tenant's other key still logs in.
#[test]
fn deleted_key_is_refused_after_a_fresh_export() {
    let tenant = Tenant::new();
    let (deleted_id, deleted_key) = tenant.create("phone-a");
    let (_, kept_key) = tenant.create("phone-b");

    let before = attempt_login(&tenant.export_adb_keys(), &deleted_key);
    assert_eq!(before.trusted_keys, 2, "{}", before.describe());
    assert_logged_in(&before);

    tenant.delete(&deleted_id);
    let adb_keys = tenant.export_adb_keys();
    let after = attempt_login(&adb_keys, &deleted_key);
    assert_eq!(after.trusted_keys, 1, "{}", after.describe());
    assert_refused(&after);

    let kept = attempt_login(&adb_keys, &kept_key);
    assert_logged_in(&kept);
}
