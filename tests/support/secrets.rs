//! Hunting for private keys in files: the pieces of a key to look for, and the files holding any.

use std::collections::HashSet;
use std::path::Path;

/// Every 16-byte window of `secret`.
pub fn windows(secret: &[u8], into: &mut HashSet<Vec<u8>>) {
    for window in secret.windows(16) {
        into.insert(window.to_vec());
    }
}

/// The parts of a private key PEM worth hunting for: the private exponent and the primes as
/// bytes, and the PEM's base64 body as text, each as 16-byte windows.
pub fn secret_windows(pem: &str, into: &mut HashSet<Vec<u8>>) {
    use rsa::traits::PrivateKeyParts;

    let key = adbkeys::keys::private_pem::parse_private_pem(pem.as_bytes()).expect("the PEM");
    windows(&key.d().to_be_bytes(), into);
    for prime in key.primes() {
        windows(&prime.to_be_bytes(), into);
    }
    let body: String = pem
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    windows(body.as_bytes(), into);
}

/// Files under `root` holding any of the windows.
pub fn files_holding(root: &Path, secrets: &HashSet<Vec<u8>>) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(path) = pending.pop() {
        if path.is_dir() {
            for entry in std::fs::read_dir(&path).expect("read dir") {
                pending.push(entry.expect("an entry").path());
            }
            continue;
        }
        let bytes = std::fs::read(&path).expect("read a file");
        if bytes.windows(16).any(|window| secrets.contains(window)) {
            found.push(path.display().to_string());
        }
    }
    found
}

/// Asserts that no file under the store directory nor under the log directory holds any of
/// the windows.
#[track_caller]
pub fn assert_none_in_store_or_log(store: &Path, log: &Path, secrets: &HashSet<Vec<u8>>) {
    assert_eq!(
        files_holding(store, secrets),
        Vec::<String>::new(),
        "a private key was found in the store"
    );
    assert_eq!(
        files_holding(log, secrets),
        Vec::<String>::new(),
        "a private key was found in the log directory"
    );
}
