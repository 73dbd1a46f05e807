//! Private keys as PEM: writing PKCS#8 as `adb keygen` does, and reading PKCS#8 or PKCS#1.

use zeroize::Zeroizing;

use super::KeyError;

/// Encodes a private key as `-----BEGIN PRIVATE KEY-----` PEM with LF endings.
pub fn to_pkcs8_pem(key: &rsa::PrivateKey) -> Result<Zeroizing<String>, KeyError> {
    let _ = key;
    unimplemented!("keys helper")
}

/// Reads one unencrypted RSA private key (PKCS#8 or PKCS#1 PEM).
pub fn parse_private_pem(text: &[u8]) -> Result<rsa::PrivateKey, KeyError> {
    let _ = text;
    unimplemented!("keys helper")
}
