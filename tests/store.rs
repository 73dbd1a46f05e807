//! The key-pair store through its public interface: operations, uniqueness, the quota under
//! concurrency, reopening, the wait on another process's lock, and damaged stores.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::thread;

use adbkeys::rules::{KEY_PAIR_QUOTA, new_key_pair_id};
use adbkeys::store::{KeyPairRecord, SCHEMA_VERSION, Source, Store, StoreError, TenantCount};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Duration, TimeZone, Utc};
use tempfile::TempDir;

/// A distinct 524-byte stand-in for an ADB public key structure. The store only hashes it,
/// so its content need not be a valid RSA key.
fn blob(seed: u32) -> Vec<u8> {
    let mut bytes = vec![0u8; 524];
    for (index, byte) in bytes.iter_mut().enumerate() {
        *byte = (seed.wrapping_mul(31).wrapping_add(index as u32) % 251) as u8;
    }
    bytes[..4].copy_from_slice(&seed.to_le_bytes());
    bytes
}

fn base_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 6, 30, 8, 45, 9)
        .single()
        .expect("a valid time")
}

fn record(tenant: &str, name: &str, seed: u32) -> KeyPairRecord {
    KeyPairRecord {
        schema: SCHEMA_VERSION,
        tenant: tenant.to_string(),
        key_pair_id: new_key_pair_id(),
        key_pair_name: name.to_string(),
        public_key_line: format!("{} user@host", BASE64.encode(blob(seed))),
        source: Source::Imported,
        created: base_time() + Duration::seconds(i64::from(seed)),
    }
}

fn new_store() -> (TempDir, Store) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let store = Store::new(dir.path().join("store")).expect("a new store");
    (dir, store)
}

fn ids(records: &[KeyPairRecord]) -> Vec<String> {
    records.iter().map(|r| r.key_pair_id.clone()).collect()
}

#[test]
fn new_creates_the_directory_and_parents_with_mode_0700() {
    use std::os::unix::fs::PermissionsExt;

    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("a/b/store");
    let store = Store::new(&path).expect("a new store");
    assert_eq!(store.path(), path);

    let mode = std::fs::metadata(&path)
        .expect("the directory")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700);

    // Usable at once, and empty.
    assert_eq!(store.list("default").expect("list"), vec![]);
    assert_eq!(store.tenants().expect("tenants"), vec![]);
}

#[test]
fn default_path_is_under_xdg_data_home() {
    // Read only: the variable is not changed, so tests running in parallel are not disturbed.
    let path = Store::default_path().expect("a home directory");
    assert!(path.ends_with("adbkeys"), "{}", path.display());
    if let Some(data_home) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        assert_eq!(path, Path::new(&data_home).join("adbkeys"));
    } else {
        let home = std::env::var_os("HOME").expect("HOME is set");
        assert_eq!(path, Path::new(&home).join(".local/share/adbkeys"));
    }
}

#[test]
fn insert_get_list_rename_delete_and_tenants() {
    let (_dir, store) = new_store();
    let later = record("default", "later", 20);
    let earlier = record("default", "中文key", 10);
    let other = record("team-b", "later", 30);
    for r in [&later, &earlier, &other] {
        store.insert(r, KEY_PAIR_QUOTA).expect("insert");
    }

    // Oldest first, whatever the insertion order.
    let listed = store.list("default").expect("list");
    assert_eq!(listed, vec![earlier.clone(), later.clone()]);
    assert_eq!(
        store.get("default", &later.key_pair_id).expect("get"),
        Some(later.clone())
    );
    assert_eq!(store.get("team-b", &later.key_pair_id).expect("get"), None);
    assert_eq!(store.count("default").expect("count"), 2);
    assert_eq!(store.count("nobody").expect("count"), 0);
    assert_eq!(
        store.tenants().expect("tenants"),
        vec![
            TenantCount {
                tenant: "default".into(),
                key_pair_count: 2
            },
            TenantCount {
                tenant: "team-b".into(),
                key_pair_count: 1
            },
        ]
    );

    // Rename frees the old name and takes the new one.
    store
        .rename("default", &later.key_pair_id, "renamed")
        .expect("rename");
    let renamed = store
        .get("default", &later.key_pair_id)
        .expect("get")
        .expect("present");
    assert_eq!(renamed.key_pair_name, "renamed");
    assert_eq!(renamed.public_key_line, later.public_key_line);
    store
        .insert(&record("default", "later", 21), KEY_PAIR_QUOTA)
        .expect("old name is free");
    store
        .rename("default", &later.key_pair_id, "renamed")
        .expect("same name is no change");

    // Delete several at once.
    let all = ids(&store.list("default").expect("list"));
    assert_eq!(all.len(), 3);
    store.delete("default", &all).expect("delete");
    assert_eq!(store.list("default").expect("list"), vec![]);
    assert_eq!(store.count("default").expect("count"), 0);
    assert_eq!(
        store.tenants().expect("tenants"),
        vec![TenantCount {
            tenant: "team-b".into(),
            key_pair_count: 1
        }]
    );

    // Deleting frees the name and the key for reuse.
    store
        .insert(&record("default", "later", 20), KEY_PAIR_QUOTA)
        .expect("reinsert");
}

#[test]
fn list_breaks_ties_on_key_pair_id() {
    let (_dir, store) = new_store();
    let mut same_time: Vec<KeyPairRecord> = (0..5)
        .map(|i| record("default", &format!("k{i}"), i))
        .collect();
    for r in &mut same_time {
        r.created = base_time();
        store.insert(r, KEY_PAIR_QUOTA).expect("insert");
    }

    let mut expected = ids(&same_time);
    expected.sort();
    assert_eq!(ids(&store.list("default").expect("list")), expected);
}

#[test]
fn a_tenant_does_not_see_another() {
    let (_dir, store) = new_store();
    // "ab" is a prefix of "abc": the separator keeps their keys apart.
    store
        .insert(&record("ab", "one", 1), KEY_PAIR_QUOTA)
        .expect("insert");
    store
        .insert(&record("abc", "two", 2), KEY_PAIR_QUOTA)
        .expect("insert");

    assert_eq!(store.list("ab").expect("list").len(), 1);
    assert_eq!(store.list("abc").expect("list").len(), 1);
    assert_eq!(store.list("a").expect("list"), vec![]);
}

#[test]
fn duplicate_names_and_keys_are_refused_with_the_existing_id() {
    let (_dir, store) = new_store();
    let first = record("default", "phone", 1);
    store.insert(&first, KEY_PAIR_QUOTA).expect("insert");

    let same_name = record("default", "phone", 2);
    match store.insert(&same_name, KEY_PAIR_QUOTA) {
        Err(StoreError::DuplicateName {
            name, existing_id, ..
        }) => {
            assert_eq!(name, "phone");
            assert_eq!(existing_id, first.key_pair_id);
        }
        other => panic!("expected DuplicateName, got {other:?}"),
    }

    // Names are case-sensitive.
    store
        .insert(&record("default", "Phone", 3), KEY_PAIR_QUOTA)
        .expect("other case");

    // The same key with another comment is the same key: identity is the key bytes.
    let mut same_key = record("default", "phone2", 1);
    same_key.public_key_line = format!("{} other@comment", BASE64.encode(blob(1)));
    match store.insert(&same_key, KEY_PAIR_QUOTA) {
        Err(StoreError::DuplicateKey { existing_id, .. }) => {
            assert_eq!(existing_id, first.key_pair_id);
        }
        other => panic!("expected DuplicateKey, got {other:?}"),
    }

    // Another tenant may hold the same name and key.
    store
        .insert(&record("other", "phone", 1), KEY_PAIR_QUOTA)
        .expect("other tenant");

    // Renaming onto a taken name is refused and changes nothing.
    let phone_upper = store.list("default").expect("list")[1].clone();
    match store.rename("default", &phone_upper.key_pair_id, "phone") {
        Err(StoreError::DuplicateName { existing_id, .. }) => {
            assert_eq!(existing_id, first.key_pair_id);
        }
        other => panic!("expected DuplicateName, got {other:?}"),
    }
    let unchanged = store.get("default", &phone_upper.key_pair_id).expect("get");
    assert_eq!(unchanged.expect("present").key_pair_name, "Phone");

    // Refusals left the counter alone.
    assert_eq!(store.count("default").expect("count"), 2);
}

#[test]
fn rename_of_an_unknown_id_is_not_found() {
    let (_dir, store) = new_store();
    assert!(matches!(
        store.rename("default", "kp-doesnotexist0000", "name"),
        Err(StoreError::NotFound { .. })
    ));
}

#[test]
fn find_by_public_key_uses_the_decoded_structure() {
    let (_dir, store) = new_store();
    let mine = record("default", "mine", 7);
    let theirs = record("team-b", "theirs", 7);
    store.insert(&mine, KEY_PAIR_QUOTA).expect("insert");
    store.insert(&theirs, KEY_PAIR_QUOTA).expect("insert");
    store
        .insert(&record("default", "unrelated", 8), KEY_PAIR_QUOTA)
        .expect("insert");

    let found = store
        .find_by_public_key(Some("default"), &blob(7))
        .expect("find");
    assert_eq!(found, vec![mine.clone()]);
    assert_eq!(
        store
            .find_by_public_key(Some("nobody"), &blob(7))
            .expect("find"),
        vec![]
    );
    assert_eq!(
        store.find_by_public_key(None, &blob(7)).expect("find"),
        vec![mine, theirs]
    );
    assert_eq!(
        store.find_by_public_key(None, &blob(9)).expect("find"),
        vec![]
    );
}

#[test]
fn a_record_without_base64_is_refused() {
    let (_dir, store) = new_store();
    let mut bad = record("default", "bad", 1);
    bad.public_key_line = "not*base64 comment".to_string();
    assert!(
        matches!(
            store.insert(&bad, KEY_PAIR_QUOTA),
            Err(StoreError::InvalidRecord { .. })
        ),
        "a line without base64 must be refused"
    );
    assert_eq!(store.count("default").expect("count"), 0);
}

#[test]
fn delete_is_all_or_nothing() {
    let (_dir, store) = new_store();
    let kept: Vec<KeyPairRecord> = (0..3)
        .map(|i| record("default", &format!("k{i}"), i))
        .collect();
    for r in &kept {
        store.insert(r, KEY_PAIR_QUOTA).expect("insert");
    }

    let mut request = ids(&kept);
    request.insert(1, "kp-doesnotexist0000".to_string());
    match store.delete("default", &request) {
        Err(StoreError::NotFound {
            key_pair_id,
            tenant,
        }) => {
            assert_eq!(key_pair_id, "kp-doesnotexist0000");
            assert_eq!(tenant, "default");
        }
        other => panic!("expected NotFound, got {other:?}"),
    }
    assert_eq!(store.list("default").expect("list"), kept);
    assert_eq!(store.count("default").expect("count"), 3);

    // An ID of another tenant is unknown here.
    let elsewhere = record("other", "x1", 99);
    store.insert(&elsewhere, KEY_PAIR_QUOTA).expect("insert");
    assert!(matches!(
        store.delete("default", std::slice::from_ref(&elsewhere.key_pair_id)),
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(store.count("other").expect("count"), 1);

    // An ID named twice is deleted once, and the counter stays right.
    let twice = vec![kept[0].key_pair_id.clone(), kept[0].key_pair_id.clone()];
    store.delete("default", &twice).expect("delete");
    assert_eq!(store.count("default").expect("count"), 2);
    assert_eq!(store.list("default").expect("list"), kept[1..].to_vec());
}

#[test]
fn the_501st_insert_is_refused() {
    let (_dir, store) = new_store();
    let mut refused = 0;
    for seed in 0..=KEY_PAIR_QUOTA as u32 {
        match store.insert(
            &record("default", &format!("k{seed}"), seed),
            KEY_PAIR_QUOTA,
        ) {
            Ok(()) => {}
            Err(StoreError::QuotaExceeded { tenant, limit }) => {
                assert_eq!((tenant.as_str(), limit), ("default", 500));
                refused += 1;
            }
            Err(other) => panic!("unexpected error: {other}"),
        }
    }
    assert_eq!(refused, 1);
    assert_eq!(store.list("default").expect("list").len(), 500);
    assert_eq!(store.count("default").expect("count"), 500);

    // Another tenant has its own quota; a deletion makes room again.
    store
        .insert(&record("other", "k0", 0), KEY_PAIR_QUOTA)
        .expect("other tenant");
    let first = store.list("default").expect("list")[0].key_pair_id.clone();
    store.delete("default", &[first]).expect("delete");
    store
        .insert(&record("default", "again", 9999), KEY_PAIR_QUOTA)
        .expect("room again");
    assert_eq!(store.count("default").expect("count"), 500);
}

#[test]
fn records_survive_reopening_as_written() {
    let (_dir, store) = new_store();
    let written = record("default", "durable", 1);
    store.insert(&written, KEY_PAIR_QUOTA).expect("insert");

    let reopened = Store::new(store.path()).expect("the same store");
    assert_eq!(
        reopened.get("default", &written.key_pair_id).expect("get"),
        Some(written)
    );
}

#[test]
fn concurrent_inserts_stop_at_the_quota() {
    let (_dir, store) = new_store();
    let store = Arc::new(store);

    let threads: Vec<_> = (0..8u32)
        .map(|worker| {
            let store = Arc::clone(&store);
            thread::spawn(move || {
                let mut outcomes = (0, 0);
                for n in 0..70u32 {
                    let seed = worker * 1000 + n;
                    match store.insert(&record("default", &format!("w{worker}n{n}"), seed), 500) {
                        Ok(()) => outcomes.0 += 1,
                        Err(StoreError::QuotaExceeded { .. }) => outcomes.1 += 1,
                        Err(other) => panic!("unexpected error: {other}"),
                    }
                }
                outcomes
            })
        })
        .collect();

    let (stored, refused) = threads
        .into_iter()
        .map(|t| t.join().expect("a worker"))
        .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    assert_eq!((stored, refused), (500, 8 * 70 - 500));
    assert_eq!(store.count("default").expect("count"), 500);
    assert_eq!(store.list("default").expect("list").len(), 500);
}

#[test]
fn concurrent_inserts_of_one_name_have_one_winner() {
    let (_dir, store) = new_store();
    let store = Arc::new(store);

    let threads: Vec<_> = (0..8u32)
        .map(|worker| {
            let store = Arc::clone(&store);
            thread::spawn(move || store.insert(&record("default", "contested", worker), 500))
        })
        .collect();

    let results: Vec<_> = threads
        .into_iter()
        .map(|t| t.join().expect("a worker"))
        .collect();
    let winners = results.iter().filter(|r| r.is_ok()).count();
    let duplicates = results
        .iter()
        .filter(|r| matches!(r, Err(StoreError::DuplicateName { .. })))
        .count();
    assert_eq!((winners, duplicates), (1, 7), "{results:?}");
    assert_eq!(store.count("default").expect("count"), 1);
}

#[test]
fn one_hundred_rapid_close_and_reopen_cycles() {
    let (_dir, store) = new_store();
    let mut written = HashSet::new();
    for cycle in 0..100u32 {
        if cycle % 2 == 0 {
            let r = record("default", &format!("c{cycle}"), cycle);
            store
                .insert(&r, KEY_PAIR_QUOTA)
                .expect("a write after a close");
            written.insert(r.key_pair_id);
        } else {
            let listed = store.list("default").expect("a read after a close");
            assert_eq!(listed.len(), written.len());
        }
    }
    let listed: HashSet<String> = ids(&store.list("default").expect("list"))
        .into_iter()
        .collect();
    assert_eq!(listed, written);
}
