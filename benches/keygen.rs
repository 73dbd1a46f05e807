//! RSA-2048 key generation: adbkeys' generator against the `rsa` crate's own, 0.10 and 0.9.
//!
//! Four generators: "adbkeys" is what `generate_key_pair` uses (the two primes searched for on
//! two threads when there are two cores), "adbkeys 1t" the same search on the caller's thread
//! alone (what the second thread gains), "rsa 0.10" and "rsa 0.9" the libraries' own
//! single-threaded `PrivateKey::new` / `RsaPrivateKey::new`.
//!
//! Criterion measures each generator and reports its mean; then a loop of its own makes the
//! same number of keys with each generator, taking turns key by key so that load from other
//! work on the machine falls on all three alike, and prints mean, median and 95th percentile
//! with the ratios between them. It prints figures only, never a verdict.
//!
//! `cargo bench --bench keygen`; `ADBKEYS_BENCH_KEYS=N` sets the number of keys per generator
//! in the second part (default 100, at least 50 for the figures in docs/performance.md).

#[path = "support/machine.rs"]
mod machine;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode};
use machine::{cores, cpu_model, load_average};

/// How many keys each generator makes in the loop when `ADBKEYS_BENCH_KEYS` is not set.
const DEFAULT_KEYS: usize = 100;
/// The fewest keys per generator whose mean, median and p95 the docs compare.
const MIN_KEYS: usize = 50;
/// How many keys each generator makes when the bench runs as a test (`cargo test --benches`).
const TEST_MODE_KEYS: usize = 2;
/// The sample size criterion uses: one key per sample.
const CRITERION_SAMPLES: usize = 50;

/// A way of making an RSA-2048 key; the key is dropped once made.
struct Generator {
    name: &'static str,
    generate: fn(),
}

fn adbkeys_generator() {
    let key = adbkeys::keys::generate::generate_private_key().expect("adbkeys generation works");
    black_box(key);
}

fn adbkeys_one_thread_generator() {
    let key = adbkeys::keys::generate::generate_private_key_searching_on(1)
        .expect("adbkeys generation works");
    black_box(key);
}

fn rsa010_generator() {
    let key =
        rsa::PrivateKey::new(&mut getrandom::SysRng, 2048).expect("rsa 0.10 generation works");
    black_box(key);
}

fn rsa09_generator() {
    let key = rsa09::RsaPrivateKey::new(&mut rsa09::rand_core::OsRng, 2048)
        .expect("rsa 0.9 generation works");
    black_box(key);
}

const GENERATORS: [Generator; 4] = [
    Generator {
        name: "adbkeys",
        generate: adbkeys_generator,
    },
    Generator {
        name: "adbkeys 1t",
        generate: adbkeys_one_thread_generator,
    },
    Generator {
        name: "rsa 0.10",
        generate: rsa010_generator,
    },
    Generator {
        name: "rsa 0.9",
        generate: rsa09_generator,
    },
];

fn criterion_means(criterion: &mut Criterion) {
    let mut group = criterion.benchmark_group("rsa-2048 keygen");
    group
        .sample_size(CRITERION_SAMPLES)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));

    for generator in &GENERATORS {
        group.bench_function(generator.name, |bencher| bencher.iter(generator.generate));
    }
    group.finish();
}

/// Mean, median and 95th percentile (nearest rank) of a set of durations, in milliseconds.
struct Summary {
    mean: f64,
    median: f64,
    p95: f64,
    min: f64,
    max: f64,
}

impl Summary {
    fn of(durations: &[Duration]) -> Summary {
        let mut millis: Vec<f64> = durations.iter().map(|d| d.as_secs_f64() * 1e3).collect();
        millis.sort_by(f64::total_cmp);

        let count = millis.len();
        let median = if count % 2 == 1 {
            millis[count / 2]
        } else {
            (millis[count / 2 - 1] + millis[count / 2]) / 2.0
        };
        let p95_rank = (count * 95).div_ceil(100).max(1);
        Summary {
            mean: millis.iter().sum::<f64>() / count as f64,
            median,
            p95: millis[p95_rank - 1],
            min: millis[0],
            max: millis[count - 1],
        }
    }
}

fn distribution(keys: usize) {
    let load_before = load_average();
    let mut durations: Vec<Vec<Duration>> = vec![Vec::with_capacity(keys); GENERATORS.len()];

    // Taking turns key by key (and rotating who goes first) spreads the machine's other load
    // over all generators alike.
    for round in 0..keys {
        for offset in 0..GENERATORS.len() {
            let index = (round + offset) % GENERATORS.len();
            let started = Instant::now();
            (GENERATORS[index].generate)();
            durations[index].push(started.elapsed());
        }
    }

    let load_after = load_average();
    let summaries: Vec<Summary> = durations.iter().map(|d| Summary::of(d)).collect();
    let path = if adbkeys::keys::primes::concurrent_search_available() {
        "two threads"
    } else {
        "rsa 0.10 fallback, one core"
    };

    println!();
    println!(
        "RSA-2048 key generation, {keys} keys per generator, taking turns ({} cores, {})",
        cores(),
        cpu_model()
    );
    println!("adbkeys uses: {path}; load average {load_before} before, {load_after} after");
    println!(
        "{:<11} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "generator", "mean ms", "median", "p95", "min", "max"
    );
    for (generator, summary) in GENERATORS.iter().zip(&summaries) {
        println!(
            "{:<11} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
            generator.name, summary.mean, summary.median, summary.p95, summary.min, summary.max
        );
    }

    let ours = &summaries[0];
    println!();
    println!("ratios (adbkeys / other; below 1 means adbkeys is faster)");
    for (generator, other) in GENERATORS.iter().zip(&summaries).skip(1) {
        println!(
            "adbkeys / {:<10}  mean {:.2}  median {:.2}  p95 {:.2}",
            generator.name,
            ours.mean / other.mean,
            ours.median / other.median,
            ours.p95 / other.p95
        );
    }
}

fn main() {
    let bench_mode = std::env::args().any(|arg| arg == "--bench");
    let keys = if bench_mode {
        std::env::var("ADBKEYS_BENCH_KEYS")
            .ok()
            .and_then(|value| value.parse().ok())
            .unwrap_or(DEFAULT_KEYS)
    } else {
        TEST_MODE_KEYS
    };
    if bench_mode && keys < MIN_KEYS {
        println!(
            "note: {keys} keys per generator, fewer than the {MIN_KEYS} the figures in \
             docs/performance.md need; the p95 of so few keys is close to the largest"
        );
    }

    let mut criterion = Criterion::default().configure_from_args();
    criterion_means(&mut criterion);
    criterion.final_summary();

    distribution(keys);
}
