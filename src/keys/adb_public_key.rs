//! The ADB RSAPublicKey structure (524 bytes) and the `adbkey.pub` text line built on it.

use super::KeyError;

/// An RSA-2048 public key with exponent 65537, held as its validated 524-byte ADB structure.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct AdbPublicKey {
    blob: [u8; AdbPublicKey::ENCODED_LEN],
}

impl AdbPublicKey {
    /// Size of Android's RSAPublicKey structure for a 2048-bit key.
    pub const ENCODED_LEN: usize = 524;
    /// Length of the structure's base64 text.
    pub const BASE64_LEN: usize = 700;

    /// Encodes an RSA public key; refuses anything but 2048 bits and exponent 65537.
    pub fn from_rsa(key: &rsa::PublicKey) -> Result<Self, KeyError> {
        let _ = key;
        unimplemented!("keys helper")
    }

    /// Decodes and checks a 524-byte structure strictly (size word, bits, exponent, n0inv, rr).
    pub fn from_blob(bytes: &[u8]) -> Result<Self, KeyError> {
        let _ = bytes;
        unimplemented!("keys helper")
    }

    /// The 524 bytes.
    pub fn blob(&self) -> &[u8; Self::ENCODED_LEN] {
        &self.blob
    }

    /// The 700-character standard base64 of the structure, as in `adbkey.pub`.
    pub fn to_base64(&self) -> String {
        unimplemented!("keys helper")
    }

    /// The `adbkey.pub` line: base64, one space, the comment (no newline).
    pub fn to_line(&self, comment: &str) -> String {
        let _ = comment;
        unimplemented!("keys helper")
    }

    /// The key as an `rsa` public key (for verifying ADB AUTH signatures).
    pub fn to_rsa(&self) -> rsa::PublicKey {
        unimplemented!("keys helper")
    }

    /// MD5 over the structure, as the phone's "Allow USB debugging?" dialog prints it.
    pub fn fingerprint_md5(&self) -> String {
        super::fingerprint::md5(&self.blob)
    }

    /// SHA-256 over the structure, in OpenSSH's `SHA256:` style (unpadded base64).
    pub fn fingerprint_sha256(&self) -> String {
        super::fingerprint::sha256(&self.blob)
    }
}

impl std::fmt::Debug for AdbPublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AdbPublicKey({})", self.fingerprint_md5())
    }
}

/// A parsed `adbkey.pub` line: the key and its comment (a label only; identity is the key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKeyLine {
    pub key: AdbPublicKey,
    pub comment: String,
}

impl PublicKeyLine {
    /// Parses the text of an `adbkey.pub`, as leniently about layout as adbd and strictly about
    /// the key (see the import rules in docs/key-formats.md).
    pub fn parse(text: &[u8]) -> Result<Self, KeyError> {
        let _ = text;
        unimplemented!("keys helper")
    }

    /// The canonical line: 700 base64 characters, a space, the comment without control
    /// characters. With an empty comment, the base64 alone.
    pub fn canonical(&self) -> String {
        unimplemented!("keys helper")
    }
}
