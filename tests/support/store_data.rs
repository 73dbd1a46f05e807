//! Synthetic store contents and their size on disk, for the store's tests and benchmarks.

use std::path::Path;

use adbkeys::rules::new_key_pair_id;
use adbkeys::store::{KeyPairRecord, SCHEMA_VERSION, Source};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{TimeZone, Utc};

/// A distinct synthetic `adbkey.pub` line. The store only hashes the decoded bytes, so they
/// need not be a valid RSA key; the line has the real length (700 base64 characters).
pub fn synthetic_record(tenant: &str, name: &str, seed: u64) -> KeyPairRecord {
    let mut blob = vec![0u8; 524];
    for (index, byte) in blob.iter_mut().enumerate() {
        *byte = (seed.wrapping_mul(131).wrapping_add(index as u64) % 251) as u8;
    }
    blob[..8].copy_from_slice(&seed.to_le_bytes());
    let created = Utc
        .with_ymd_and_hms(2024, 6, 30, 8, 45, 9)
        .single()
        .expect("a valid time")
        + chrono::Duration::seconds(seed as i64);

    KeyPairRecord {
        schema: SCHEMA_VERSION,
        tenant: tenant.to_string(),
        key_pair_id: new_key_pair_id(),
        key_pair_name: name.to_string(),
        public_key_line: format!("{} user@host", BASE64.encode(&blob)),
        source: Source::Imported,
        created,
    }
}

/// The total size of the files under `path`.
pub fn directory_size(path: &Path) -> u64 {
    std::fs::read_dir(path)
        .expect("the directory")
        .map(|entry| {
            let entry = entry.expect("an entry");
            let metadata = entry.metadata().expect("metadata");
            if metadata.is_dir() {
                directory_size(&entry.path())
            } else {
                metadata.len()
            }
        })
        .sum()
}
