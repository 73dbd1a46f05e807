//! Fingerprints of the 524-byte ADB structure: the phone dialog's MD5 and an OpenSSH-style SHA-256.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use md5::{Digest as _, Md5};
use sha2::Sha256;

/// `10:57:97:...`: 16 upper-case hex pairs joined by `:`, as the phone's "Allow USB debugging?"
/// dialog prints it (adb.md 1.6: MD5 over the decoded blob, not over the base64 text).
pub fn md5(blob: &[u8]) -> String {
    let digest = Md5::digest(blob);

    digest
        .iter()
        .map(|byte| format!("{byte:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// `SHA256:` followed by the unpadded standard base64 of the digest, as `ssh-keygen -l` prints.
pub fn sha256(blob: &[u8]) -> String {
    let digest = Sha256::digest(blob);

    format!("SHA256:{}", STANDARD_NO_PAD.encode(digest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_of_empty_input_matches_rfc_1321() {
        // RFC 1321 A.5: MD5("") = d41d8cd98f00b204e9800998ecf8427e.
        assert_eq!(md5(b""), "D4:1D:8C:D9:8F:00:B2:04:E9:80:09:98:EC:F8:42:7E");
    }

    #[test]
    fn sha256_of_abc_matches_fips_180_example() {
        // FIPS 180-2 B.1: SHA-256("abc") = ba7816bf..., here in unpadded base64.
        assert_eq!(
            sha256(b"abc"),
            "SHA256:ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0"
        );
    }
}
