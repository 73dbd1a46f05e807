//! The two primes of an RSA-2048 key, searched for on two threads at once.
//!
//! Each thread searches as `rsa` 0.10 does in `generate_prime_with_rng`: 1024 random bits from
//! the operating system's CSPRNG, made odd and with the top two bits set, then the candidates
//! from that start that no small prime divides (crypto-primes' `SmallFactorsSieve`), each tested
//! with crypto-primes' `is_prime` (Miller-Rabin base 2 and a strong Lucas test, BPSW). The first
//! two primes found by either thread become p and q, so the key takes about as long as one
//! prime takes alone, not two.
//!
//! Each prime is also checked for what `rsa` only finds out when it builds the key: e = 65537
//! must not divide p - 1 (so gcd(e, p - 1) = 1, as 65537 is prime), and, as FIPS 186-4 B.3.1
//! asks, |p - q| > 2^(1024 - 100). A prime that fails either is dropped and the search goes on.
//!
//! Every candidate, every prime that is not used and every difference of two primes is
//! zeroized when dropped. The sieve keeps its own copy of the random start, which crypto-primes
//! does not zeroize (its fields are private and it has no `Zeroize`); `rsa`'s own generation
//! leaves the same copy behind.

use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use crypto_bigint::{BitOps as _, BoxedUint, Limb, NonZero, RandomBits as _};
use crypto_primes::hazmat::SmallFactorsSieve;
use crypto_primes::{Flavor, is_prime};
use zeroize::{Zeroize as _, Zeroizing};

use super::KeyError;

/// The size of each prime, in bits: half of the 2048-bit modulus.
pub const PRIME_BITS: u32 = 1024;

/// The public exponent of ADB keys.
pub const PUBLIC_EXPONENT: u32 = 65_537;

/// p and q must differ by more than 2 to this power (FIPS 186-4 B.3.1: nlen/2 - 100).
pub const MIN_DISTANCE_EXPONENT: u32 = PRIME_BITS - 100;

/// How many threads search at once.
const SEARCH_THREADS: usize = 2;

const PRIME_BITS_NONZERO: NonZeroU32 = NonZeroU32::new(PRIME_BITS).expect("1024 is not zero");
const PUBLIC_EXPONENT_LIMB: NonZero<Limb> =
    NonZero::<Limb>::from_u32(NonZeroU32::new(PUBLIC_EXPONENT).expect("65537 is not zero"));

/// Two distinct 1024-bit primes for an RSA-2048 key with e = 65537, p > q.
pub struct PrimePair {
    pub p: Zeroizing<BoxedUint>,
    pub q: Zeroizing<BoxedUint>,
}

impl std::fmt::Debug for PrimePair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrimePair").finish_non_exhaustive()
    }
}

/// Finds two primes for an RSA-2048 key, searching on two threads (the caller's and one more).
/// If the second thread cannot be started, the caller's thread finds both.
///
/// # Errors
/// [`KeyError::Generation`] if the operating system's random source fails or the search thread
/// dies.
pub fn generate_prime_pair() -> Result<PrimePair, KeyError> {
    let search = Search::default();

    std::thread::scope(|scope| {
        let helpers: Vec<_> = (1..SEARCH_THREADS)
            .filter_map(|index| {
                std::thread::Builder::new()
                    .name(format!("prime-search-{index}"))
                    .spawn_scoped(scope, || search.run())
                    .ok()
            })
            .collect();

        let own_result = search.run();

        let mut result = own_result;
        for helper in helpers {
            let helper_result = helper.join().unwrap_or_else(|_| {
                Err(KeyError::Generation {
                    detail: "the prime search thread panicked".to_string(),
                })
            });
            result = result.and(helper_result);
        }
        result
    })?;

    let mut found = search
        .found
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let (Some(second), Some(first)) = (found.pop(), found.pop()) else {
        return Err(KeyError::Generation {
            detail: "the prime search ended without two primes".to_string(),
        });
    };

    let (p, q) = if *first > *second {
        (first, second)
    } else {
        (second, first)
    };
    Ok(PrimePair { p, q })
}

/// Whether p and q are far enough apart: |p - q| > 2^(1024 - 100).
#[must_use]
pub fn far_apart(p: &BoxedUint, q: &BoxedUint) -> bool {
    let distance = Zeroizing::new(if p > q {
        p.wrapping_sub(q)
    } else {
        q.wrapping_sub(p)
    });

    let mut threshold = BoxedUint::zero_with_precision(distance.bits_precision());
    threshold.set_bit_vartime(MIN_DISTANCE_EXPONENT, true);
    *distance > threshold
}

/// Whether gcd(65537, p - 1) = 1, that is, p mod 65537 is not 1 (65537 is prime).
#[must_use]
pub fn coprime_to_exponent_minus_one(p: &BoxedUint) -> bool {
    let mut remainder = p.rem_limb(PUBLIC_EXPONENT_LIMB);
    let coprime = remainder != Limb::ONE;
    remainder.zeroize();
    coprime
}

/// The state the search threads share: the primes found so far and whether to stop.
#[derive(Default)]
struct Search {
    found: Mutex<Vec<Zeroizing<BoxedUint>>>,
    done: AtomicBool,
}

impl Search {
    /// Searches until two primes are found (by any thread) or the random source fails; a
    /// failure stops the other threads too.
    fn run(&self) -> Result<(), KeyError> {
        let mut rng = getrandom::SysRng;

        while !self.done.load(Ordering::Acquire) {
            match next_prime(&mut rng, &self.done) {
                Ok(Some(prime)) => self.offer(prime),
                Ok(None) => break,
                Err(err) => {
                    self.done.store(true, Ordering::Release);
                    return Err(err);
                }
            }
        }
        Ok(())
    }

    /// Keeps a prime if the search still needs one and it is far enough from the one already
    /// kept; otherwise it is dropped (and zeroized).
    fn offer(&self, prime: Zeroizing<BoxedUint>) {
        let mut found = self
            .found
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if found.len() >= 2 {
            return;
        }

        if let Some(first) = found.first()
            && !far_apart(first, &prime)
        {
            return;
        }

        found.push(prime);
        if found.len() == 2 {
            self.done.store(true, Ordering::Release);
        }
    }
}

/// Searches from one random start until a usable prime is found, the sieve runs out (then from a
/// new start), or `stop` is set (then `None`).
fn next_prime(
    rng: &mut getrandom::SysRng,
    stop: &AtomicBool,
) -> Result<Option<Zeroizing<BoxedUint>>, KeyError> {
    loop {
        let mut start =
            BoxedUint::try_random_bits(rng, PRIME_BITS).map_err(|err| KeyError::Generation {
                detail: format!("the random source failed: {err}"),
            })?;

        // Odd, with the top two bits set, so that the product of two has exactly 2048 bits.
        start.set_bit_vartime(0, true);
        start.set_bit_vartime(PRIME_BITS - 1, true);
        start.set_bit_vartime(PRIME_BITS - 2, true);

        let sieve = SmallFactorsSieve::new(start, PRIME_BITS_NONZERO, false).map_err(|err| {
            KeyError::Generation {
                detail: format!("the prime sieve refused its start: {err}"),
            }
        })?;

        for candidate in sieve {
            let candidate = Zeroizing::new(candidate);
            if stop.load(Ordering::Relaxed) {
                return Ok(None);
            }

            if coprime_to_exponent_minus_one(&candidate) && is_prime(Flavor::Any, &*candidate) {
                return Ok(Some(candidate));
            }
        }
    }
}

/// Whether this machine has more than one core to search on.
#[must_use]
pub fn concurrent_search_available() -> bool {
    std::thread::available_parallelism().map_or(1, NonZeroUsize::get) > 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn power_of_two(exponent: u32) -> BoxedUint {
        let mut value = BoxedUint::zero_with_precision(PRIME_BITS);
        value.set_bit_vartime(exponent, true);
        value
    }

    #[test]
    fn a_pair_is_two_distinct_1024_bit_primes_with_the_top_two_bits_set() {
        let pair = generate_prime_pair().expect("search works");

        for prime in [&pair.p, &pair.q] {
            assert_eq!(prime.bit_width_vartime(), PRIME_BITS);
            assert!(
                prime.bit_vartime(PRIME_BITS - 2),
                "second bit from the top is set"
            );
            assert!(prime.bit_vartime(0), "odd");
            assert!(is_prime(Flavor::Any, &**prime));
            assert!(coprime_to_exponent_minus_one(prime));
        }
        assert!(*pair.p > *pair.q);
        assert!(far_apart(&pair.p, &pair.q));
    }

    #[test]
    fn the_distance_rule_is_strictly_greater_than_two_to_the_924() {
        let base = power_of_two(PRIME_BITS - 1);
        let exactly = base.wrapping_add(power_of_two(MIN_DISTANCE_EXPONENT));
        let one_more = exactly.wrapping_add(BoxedUint::one_with_precision(PRIME_BITS));

        assert!(!far_apart(&base, &base));
        assert!(
            !far_apart(&base, &exactly),
            "a distance of exactly 2^924 is too close"
        );
        assert!(!far_apart(&exactly, &base), "in either order");
        assert!(far_apart(&base, &one_more));
        assert!(far_apart(&one_more, &base));
    }

    #[test]
    fn a_prime_one_more_than_a_multiple_of_65537_is_refused() {
        // 65537 * 2 + 1 and 65537 * 4 + 1; the rule looks at the residue only.
        assert!(!coprime_to_exponent_minus_one(&BoxedUint::from(131_075u64)));
        assert!(!coprime_to_exponent_minus_one(&BoxedUint::from(262_149u64)));
        assert!(coprime_to_exponent_minus_one(&BoxedUint::from(131_074u64)));
        assert!(coprime_to_exponent_minus_one(&BoxedUint::from(65_537u64)));
    }

    #[test]
    fn a_second_prime_too_close_to_the_first_is_not_kept() {
        let search = Search::default();
        let first = power_of_two(PRIME_BITS - 1).wrapping_add(BoxedUint::one());
        let close = first.wrapping_add(BoxedUint::from(2u64));
        let far = first.wrapping_add(power_of_two(PRIME_BITS - 2));

        search.offer(Zeroizing::new(first.clone()));
        search.offer(Zeroizing::new(close));
        assert_eq!(search.found.lock().expect("not poisoned").len(), 1);
        assert!(!search.done.load(Ordering::Acquire));

        search.offer(Zeroizing::new(far.clone()));
        let found = search.found.lock().expect("not poisoned");
        assert_eq!(found.len(), 2);
        assert_eq!(*found[1], far);
        assert!(search.done.load(Ordering::Acquire));
    }
}
