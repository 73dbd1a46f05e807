//! Fingerprints of the 524-byte ADB structure: the phone dialog's MD5 and an OpenSSH-style SHA-256.

/// `10:57:97:...`: 16 upper-case hex pairs joined by `:`.
pub fn md5(blob: &[u8]) -> String {
    let _ = blob;
    unimplemented!("keys helper")
}

/// `SHA256:` followed by the unpadded standard base64 of the digest.
pub fn sha256(blob: &[u8]) -> String {
    let _ = blob;
    unimplemented!("keys helper")
}
