//! RSA-2048 key generation (exponent 65537) from the operating system's CSPRNG.

use zeroize::Zeroizing;

use super::{AdbPublicKey, KeyError};

/// A freshly made key pair: the ADB public key and the private key as PEM PKCS#8, once.
pub struct GeneratedKeyPair {
    pub public: AdbPublicKey,
    /// `-----BEGIN PRIVATE KEY-----`, 64-column base64, LF endings, final newline.
    pub private_pem: Zeroizing<String>,
}

impl std::fmt::Debug for GeneratedKeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeneratedKeyPair")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

/// Generates a key pair. Blocking and CPU-bound (tens of milliseconds): call it off the async
/// runtime.
pub fn generate_key_pair() -> Result<GeneratedKeyPair, KeyError> {
    unimplemented!("keys helper")
}
