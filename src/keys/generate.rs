//! RSA-2048 key generation (exponent 65537) from the operating system's CSPRNG.

use rsa::traits::PublicKeyParts as _;
use zeroize::Zeroizing;

use super::private_pem::to_pkcs8_pem;
use super::{AdbPublicKey, KeyError};

/// The modulus size of ADB keys, in bits.
const KEY_BITS: usize = 2048;
/// How many times to draw again if a key came out shorter than 2048 bits.
const ATTEMPTS: usize = 8;

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
///
/// # Errors
/// [`KeyError::Generation`] if the operating system's random source fails.
pub fn generate_key_pair() -> Result<GeneratedKeyPair, KeyError> {
    let mut rng = getrandom::SysRng;

    for _ in 0..ATTEMPTS {
        let private_key =
            rsa::PrivateKey::new(&mut rng, KEY_BITS).map_err(|err| KeyError::Generation {
                detail: err.to_string(),
            })?;

        // The primes are drawn with their top bits set, so the modulus has its full size; the
        // check stays because ADB cannot use any other size.
        if private_key.n().bit_width_vartime() as usize != KEY_BITS {
            continue;
        }

        let public = AdbPublicKey::from_rsa(private_key.as_public_key())?;
        let private_pem = to_pkcs8_pem(&private_key)?;
        return Ok(GeneratedKeyPair {
            public,
            private_pem,
        });
    }
    Err(KeyError::Generation {
        detail: format!("no {KEY_BITS}-bit modulus in {ATTEMPTS} attempts"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::private_pem::parse_private_pem;

    #[test]
    fn a_generated_pair_belongs_together() {
        let pair = generate_key_pair().expect("generation works");

        let private_key = parse_private_pem(pair.private_pem.as_bytes()).expect("own PEM parses");
        let public = AdbPublicKey::from_rsa(private_key.as_public_key()).expect("2048-bit key");
        assert_eq!(public, pair.public);
        assert!(
            pair.private_pem
                .starts_with("-----BEGIN PRIVATE KEY-----\n")
        );
    }

    #[test]
    fn two_generated_keys_differ() {
        let first = generate_key_pair().expect("generation works");
        let second = generate_key_pair().expect("generation works");
        assert_ne!(first.public, second.public);
    }
}
