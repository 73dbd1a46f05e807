//! RSA-2048 key generation (e = 65537) from the OS CSPRNG, on two cores when there are two.

use rsa::BoxedUint;
use rsa::traits::PublicKeyParts as _;
use zeroize::Zeroizing;

use super::private_pem::to_pkcs8_pem;
use super::{AdbPublicKey, KeyError, primes};

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
/// runtime. Uses two cores when there are two (see [`generate_private_key`]).
///
/// # Errors
/// [`KeyError::Generation`] if the operating system's random source fails.
pub fn generate_key_pair() -> Result<GeneratedKeyPair, KeyError> {
    let private_key = generate_private_key()?;

    let public = AdbPublicKey::from_rsa(private_key.as_public_key())?;
    let private_pem = to_pkcs8_pem(&private_key)?;
    Ok(GeneratedKeyPair {
        public,
        private_pem,
    })
}

/// Generates the RSA-2048 private key of a pair: its two primes searched for on two threads
/// ([`generate_private_key_concurrently`]) when more than one core is available, otherwise
/// with the `rsa` crate's own generation ([`generate_private_key_with_library`]).
///
/// # Errors
/// [`KeyError::Generation`] if the operating system's random source fails.
pub fn generate_private_key() -> Result<rsa::PrivateKey, KeyError> {
    if primes::concurrent_search_available() {
        generate_private_key_concurrently()
    } else {
        generate_private_key_with_library()
    }
}

/// Builds the key from two primes searched for on two threads ([`primes::generate_prime_pair`])
/// with `rsa`'s `from_p_q` (d = e^-1 mod lcm(p - 1, q - 1)), then validates it.
///
/// # Errors
/// [`KeyError::Generation`] if the operating system's random source fails or the key does not
/// validate.
pub fn generate_private_key_concurrently() -> Result<rsa::PrivateKey, KeyError> {
    let pair = primes::generate_prime_pair()?;

    // `from_p_q` takes the primes by value; the key zeroizes its copies when dropped, the pair
    // its own.
    let private_key = rsa::PrivateKey::from_p_q(
        (*pair.p).clone(),
        (*pair.q).clone(),
        BoxedUint::from(u64::from(primes::PUBLIC_EXPONENT)),
    )
    .map_err(|err| KeyError::Generation {
        detail: format!("the key could not be built from its primes: {err}"),
    })?;
    drop(pair);

    private_key.validate().map_err(|err| KeyError::Generation {
        detail: format!("the key built from its primes does not validate: {err}"),
    })?;

    // Primes with their top two bits set always give a 2048-bit modulus; ADB cannot use any
    // other size, so it is checked all the same.
    let bits = private_key.n().bit_width_vartime() as usize;
    if bits != KEY_BITS {
        return Err(KeyError::Generation {
            detail: format!("the modulus has {bits} bits, not {KEY_BITS}"),
        });
    }
    Ok(private_key)
}

/// Generates the key with the `rsa` crate's own single-threaded generation.
///
/// # Errors
/// [`KeyError::Generation`] if the operating system's random source fails.
pub fn generate_private_key_with_library() -> Result<rsa::PrivateKey, KeyError> {
    let mut rng = getrandom::SysRng;

    for _ in 0..ATTEMPTS {
        let private_key =
            rsa::PrivateKey::new(&mut rng, KEY_BITS).map_err(|err| KeyError::Generation {
                detail: err.to_string(),
            })?;

        // The primes are drawn with their top bits set, so the modulus has its full size; the
        // check stays because ADB cannot use any other size.
        if private_key.n().bit_width_vartime() as usize == KEY_BITS {
            return Ok(private_key);
        }
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

    /// Checks everything the concurrent generation promises, independently of how it found the
    /// primes: the key validates, n = p * q has 2048 bits, e = 65537, and the primes follow the
    /// size, distance and gcd rules.
    fn assert_key_follows_the_rules(private_key: &rsa::PrivateKey) {
        use crypto_bigint::{ConcatenatingMul as _, Gcd as _};
        use rsa::traits::PrivateKeyParts as _;

        private_key.validate().expect("the key validates");
        assert_eq!(private_key.n().bit_width_vartime(), 2048);
        assert_eq!(*private_key.e(), BoxedUint::from(65_537u64));

        let [p, q] = private_key.primes() else {
            panic!("two primes, got {}", private_key.primes().len());
        };
        let (p, q) = (p.as_ref(), q.as_ref());
        assert_ne!(p, q);
        assert_eq!(
            p.concatenating_mul(q),
            *private_key.n().as_ref(),
            "n = p * q"
        );

        let exponent = BoxedUint::from(65_537u64);
        for prime in [p, q] {
            assert_eq!(prime.bit_width_vartime(), 1024);
            assert!(prime.bit_vartime(1022), "the top two bits are set");
            let prime_minus_one = prime.wrapping_sub(BoxedUint::one());
            let gcd = exponent.gcd(&prime_minus_one);
            assert_eq!(gcd.bit_width_vartime(), 1, "gcd(e, p - 1) = 1, got {gcd}");
        }

        let distance = if p > q {
            p.wrapping_sub(q)
        } else {
            q.wrapping_sub(p)
        };
        // |p - q| > 2^924: more than 925 bits, or 925 bits and not exactly 2^924.
        let bits = distance.bit_width_vartime();
        assert!(
            bits > 925 || (bits == 925 && distance.trailing_zeros_vartime() < 924),
            "p and q are {bits} bits apart"
        );
    }

    #[test]
    fn concurrent_keys_follow_every_rule() {
        for _ in 0..3 {
            let private_key = generate_private_key_concurrently().expect("generation works");
            assert_key_follows_the_rules(&private_key);
        }
    }

    #[test]
    fn the_library_fallback_follows_the_same_rules_except_the_distance() {
        let private_key = generate_private_key_with_library().expect("generation works");
        private_key.validate().expect("the key validates");
        assert_eq!(private_key.n().bit_width_vartime(), 2048);
        assert_eq!(*private_key.e(), BoxedUint::from(65_537u64));
    }

    #[test]
    fn a_concurrent_key_signs_an_adb_token_that_its_adb_public_key_verifies() {
        use sha1::Sha1;

        let private_key = generate_private_key_concurrently().expect("generation works");
        let public = AdbPublicKey::from_rsa(private_key.as_public_key()).expect("2048-bit key");

        // adb signs the 20-byte token as if it were a SHA-1 digest; it is not hashed again.
        let token: Vec<u8> = (100u8..120).collect();
        let signature = private_key
            .sign(rsa::Pkcs1v15Sign::new::<Sha1>(), &token)
            .expect("signing works");
        assert_eq!(signature.len(), 256);

        let verifier = public.to_rsa();
        verifier
            .verify(rsa::Pkcs1v15Sign::new::<Sha1>(), &token, &signature)
            .expect("the signature verifies with the ADB public key");

        let mut other_token = token.clone();
        other_token[19] ^= 1;
        assert!(
            verifier
                .verify(rsa::Pkcs1v15Sign::new::<Sha1>(), &other_token, &signature)
                .is_err()
        );
    }

    #[test]
    fn two_generated_keys_differ() {
        let first = generate_key_pair().expect("generation works");
        let second = generate_key_pair().expect("generation works");
        assert_ne!(first.public, second.public);
    }
}
