//! The key-pair store: sled 0.34 on disk, held open while a process is busy and closed after
//! 50 ms idle or when another process waits, so that several processes (consoles and scripts in
//! different SSH sessions) share one store.
//!
//! Layout, the atomic quota, holding and the retry on sled's directory lock are described in
//! docs/architecture.md.

mod open;

use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionalTree};

use open::{Holder, from_sled, from_transaction, with_db};

pub use open::KeepOpenGuard;

/// The version written into every record.
pub const SCHEMA_VERSION: u32 = 1;

/// How a key pair came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Source {
    Created,
    Imported,
}

impl Source {
    /// `Created` or `Imported`, as the API spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "Created",
            Self::Imported => "Imported",
        }
    }
}

/// One stored key pair: public data only, never a private key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyPairRecord {
    pub schema: u32,
    pub tenant: String,
    pub key_pair_id: String,
    pub key_pair_name: String,
    /// The canonical `adbkey.pub` line: 700 base64 characters, a space, the comment.
    pub public_key_line: String,
    pub source: Source,
    pub created: DateTime<Utc>,
}

/// A tenant and how many key pairs it holds (from the stored counter, not a scan).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantCount {
    pub tenant: String,
    pub key_pair_count: usize,
}

/// What [`Store::check_consistency`] found: how many records each tenant holds by a scan of
/// the records, and every disagreement between the records, the indexes and the counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsistencyReport {
    /// The number of entries in `records`, readable or not.
    pub records: usize,
    /// Each tenant with the number of its readable records (by scan, not from the counter),
    /// ordered by tenant.
    pub tenants: Vec<TenantCount>,
    /// One sentence per problem found; empty when the store is consistent.
    pub problems: Vec<String>,
}

impl ConsistencyReport {
    /// Whether no problem was found.
    pub fn is_consistent(&self) -> bool {
        self.problems.is_empty()
    }
}

/// What can go wrong in the store. Each variant carries what a message needs.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the store at '{}' is busy: another adbkeys process held it for 5 s", path.display())]
    Busy { path: PathBuf },
    #[error("tenant '{tenant}' already holds {limit} key pairs, the most it may hold")]
    QuotaExceeded { tenant: String, limit: usize },
    #[error("tenant '{tenant}' already has a key pair named '{name}' ({existing_id})")]
    DuplicateName {
        tenant: String,
        name: String,
        existing_id: String,
    },
    #[error("tenant '{tenant}' already holds this public key as {existing_id}")]
    DuplicateKey { tenant: String, existing_id: String },
    #[error("no key pair '{key_pair_id}' in tenant '{tenant}'")]
    NotFound { tenant: String, key_pair_id: String },
    #[error("store '{}': {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("store '{}' is damaged or unreadable: {detail}", path.display())]
    Corrupt { path: PathBuf, detail: String },
    /// A record the store refuses to write: its public key line does not start with the
    /// base64 of a key. The caller builds records, so this is a bug in the caller.
    #[error("key pair '{key_pair_id}' cannot be stored: {detail}")]
    InvalidRecord { key_pair_id: String, detail: String },
}

/// The tree of records: `tenant 0x00 key_pair_id` → the record as JSON.
const RECORDS: &str = "records";

/// The name index: `tenant 0x00 key_pair_name` → key_pair_id.
const NAMES: &str = "names";

/// The public-key index: `tenant 0x00 SHA-256(524-byte key)` → key_pair_id.
const PUBLIC_KEYS: &str = "pubkeys";

/// The per-tenant counters: `tenant` → count as a big-endian u64. A tenant whose count drops
/// to zero loses its counter.
const COUNTS: &str = "counts";

/// A handle on a store directory. Cheap to clone: every handle on one directory in a process
/// shares one holder. Each method does one transaction and flushes if it wrote, on the
/// database the process holds open, or opens it first; the database is closed again after
/// 50 ms without an operation, or after the current operation when another process waits.
///
/// Tenants are taken as given: callers check them with [`crate::rules::validate_tenant`]
/// first, which also keeps the 0x00 separator of the index keys out of them.
#[derive(Debug, Clone)]
pub struct Store {
    path: PathBuf,
    holder: Arc<Holder>,
}

impl Store {
    /// A handle on the store at `path`, creating the directory (and its parents) with mode 0700
    /// if needed. An existing directory keeps its mode.
    ///
    /// # Errors
    /// `Io`, naming the path, when the directory cannot be created or something other than a
    /// directory is in its place.
    pub fn new(path: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let path = path.into();
        let not_a_directory =
            || std::io::Error::new(std::io::ErrorKind::NotADirectory, "not a directory");

        // Checked before creating too: creating over a file fails with a bare "File exists".
        if path.exists() && !path.is_dir() {
            return Err(StoreError::Io {
                path,
                source: not_a_directory(),
            });
        }
        let created = std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&path);
        if let Err(source) = created {
            return Err(StoreError::Io { path, source });
        }

        if !path.is_dir() {
            return Err(StoreError::Io {
                path,
                source: not_a_directory(),
            });
        }
        let holder = Holder::for_path(&path);
        Ok(Self { path, holder })
    }

    /// Closes the database and releases the store's lock now, if this process holds them;
    /// the next operation opens it again. For a process about to exit, and for anything that
    /// must reach the files directly.
    pub fn release(&self) {
        self.holder.release();
    }

    /// [`Store::release`] for every store this process holds; called at the end of a command.
    pub fn release_all() {
        open::release_all();
    }

    /// Keeps the database open between operations while the guard lives, rather than closing
    /// it after 50 ms idle (another process waiting still gets its turn at once). For a
    /// caller that knows another operation follows after slow work, as a creation does after
    /// generating its key.
    pub fn keep_open(&self) -> KeepOpenGuard {
        self.holder.keep_open()
    }

    /// How many times this process has opened the database of this directory (for tests and
    /// measurements).
    pub fn open_count(&self) -> u64 {
        self.holder.open_count()
    }

    /// `$ADBKEYS_STORE` is for callers to apply; this is `$XDG_DATA_HOME/adbkeys` (by default
    /// `~/.local/share/adbkeys`), or `None` when no home directory is known.
    pub fn default_path() -> Option<PathBuf> {
        directories::BaseDirs::new().map(|dirs| dirs.data_dir().join("adbkeys"))
    }

    /// The store directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Inserts a record in one atomic step with the tenant's counter, the name index and the
    /// public-key index; refuses the 501st record, a duplicate name and a duplicate key.
    ///
    /// # Errors
    /// `QuotaExceeded` when the tenant already holds `quota` key pairs, `DuplicateName` and
    /// `DuplicateKey` with the ID already holding them, `InvalidRecord` when the public key
    /// line does not start with base64, and `Busy`, `Io` or `Corrupt` from the store itself.
    pub fn insert(&self, record: &KeyPairRecord, quota: usize) -> Result<(), StoreError> {
        self.insert_many(std::slice::from_ref(record), quota)
    }

    /// Inserts several records, in any tenants, all or none, in one transaction and one
    /// flush; each is checked as [`Store::insert`] checks one, against the store and against
    /// those before it in `records`.
    ///
    /// # Errors
    /// The first refusal [`Store::insert`] would give, after which nothing is inserted.
    pub fn insert_many(&self, records: &[KeyPairRecord], quota: usize) -> Result<(), StoreError> {
        let prepared = records
            .iter()
            .map(PreparedRecord::new)
            .collect::<Result<Vec<_>, _>>()?;

        self.transact_on_all_trees(|(records, names, public_keys, counts)| {
            for prepared in &prepared {
                let record = prepared.record;
                let tenant = record.tenant.as_str();
                let count = read_count(counts, tenant, &self.path)?;
                if count >= quota as u64 {
                    return abort(StoreError::QuotaExceeded {
                        tenant: tenant.to_string(),
                        limit: quota,
                    });
                }

                if let Some(existing) = names.get(&prepared.name_key)? {
                    return abort(StoreError::DuplicateName {
                        tenant: tenant.to_string(),
                        name: record.key_pair_name.clone(),
                        existing_id: id_text(&existing),
                    });
                }
                if let Some(existing) = public_keys.get(&prepared.public_key_key)? {
                    return abort(StoreError::DuplicateKey {
                        tenant: tenant.to_string(),
                        existing_id: id_text(&existing),
                    });
                }

                // A repeated random ID is all but impossible; refusing it keeps the
                // counter honest should it ever happen.
                if records.get(&prepared.record_key)?.is_some() {
                    return abort(StoreError::InvalidRecord {
                        key_pair_id: record.key_pair_id.clone(),
                        detail: "a key pair with this ID already exists".to_string(),
                    });
                }

                let id = record.key_pair_id.as_bytes();
                records.insert(prepared.record_key.as_slice(), prepared.value.as_slice())?;
                names.insert(prepared.name_key.as_slice(), id)?;
                public_keys.insert(prepared.public_key_key.as_slice(), id)?;
                write_count(counts, tenant, count + 1)?;
            }
            Ok(())
        })
    }

    /// Every record of a tenant, oldest first (created, then KeyPairId).
    ///
    /// # Errors
    /// `Busy`, `Io`, or `Corrupt` when a record cannot be read.
    pub fn list(&self, tenant: &str) -> Result<Vec<KeyPairRecord>, StoreError> {
        let mut records = self.read(|db| {
            let trees = Trees::open(db, &self.path)?;
            let mut records = Vec::new();
            for entry in trees.records.scan_prefix(tenant_key(tenant, b"")) {
                let (key, value) = entry.map_err(|error| from_sled(&self.path, error))?;
                records.push(decode_record(&self.path, &key, &value)?);
            }
            Ok(records)
        })?;

        records.sort_by(|a, b| (a.created, &a.key_pair_id).cmp(&(b.created, &b.key_pair_id)));
        Ok(records)
    }

    /// One record, or `None`.
    ///
    /// # Errors
    /// `Busy`, `Io`, or `Corrupt` when the record cannot be read.
    pub fn get(
        &self,
        tenant: &str,
        key_pair_id: &str,
    ) -> Result<Option<KeyPairRecord>, StoreError> {
        let key = tenant_key(tenant, key_pair_id.as_bytes());
        self.read(|db| {
            let trees = Trees::open(db, &self.path)?;
            let value = trees
                .records
                .get(&key)
                .map_err(|error| from_sled(&self.path, error))?;
            value
                .map(|value| decode_record(&self.path, &key, &value))
                .transpose()
        })
    }

    /// The tenant's count of key pairs (the stored counter).
    ///
    /// # Errors
    /// `Busy`, `Io`, or `Corrupt` when the counter cannot be read.
    pub fn count(&self, tenant: &str) -> Result<usize, StoreError> {
        self.read(|db| {
            let trees = Trees::open(db, &self.path)?;
            let value = trees
                .counts
                .get(tenant.as_bytes())
                .map_err(|error| from_sled(&self.path, error))?;
            match value {
                Some(value) => decode_count(&self.path, tenant, &value),
                None => Ok(0),
            }
        })
    }

    /// Deletes all of `key_pair_ids` or, if one is unknown, none (`NotFound` names it). An ID
    /// given twice is deleted once.
    ///
    /// # Errors
    /// `NotFound` naming the first unknown ID, then `Busy`, `Io` or `Corrupt`.
    pub fn delete(&self, tenant: &str, key_pair_ids: &[String]) -> Result<(), StoreError> {
        let mut ordered_ids: Vec<&str> = Vec::with_capacity(key_pair_ids.len());
        for id in key_pair_ids {
            if !ordered_ids.contains(&id.as_str()) {
                ordered_ids.push(id);
            }
        }

        self.transact_on_all_trees(|(records, names, public_keys, counts)| {
            let count = read_count(counts, tenant, &self.path)?;

            for key_pair_id in &ordered_ids {
                let record_key = tenant_key(tenant, key_pair_id.as_bytes());
                let Some(value) = records.remove(record_key.as_slice())? else {
                    return abort(StoreError::NotFound {
                        tenant: tenant.to_string(),
                        key_pair_id: (*key_pair_id).to_string(),
                    });
                };

                let record = decode_record(&self.path, &record_key, &value).or_else(abort)?;
                let public_key_key = tenant_key(tenant, &stored_digest(&self.path, &record)?);
                names.remove(tenant_key(tenant, record.key_pair_name.as_bytes()))?;
                public_keys.remove(public_key_key)?;
            }

            let deleted = ordered_ids.len() as u64;
            let Some(remaining) = count.checked_sub(deleted) else {
                return abort(StoreError::Corrupt {
                    path: self.path.clone(),
                    detail: format!(
                        "tenant '{tenant}' counts {count} key pairs but {deleted} were \
                         found to delete"
                    ),
                });
            };
            write_count(counts, tenant, remaining)?;
            Ok(())
        })
    }

    /// Renames a key pair, keeping names unique in the tenant. Renaming to the current name
    /// changes nothing.
    ///
    /// # Errors
    /// `NotFound`, `DuplicateName` with the ID holding the name, then `Busy`, `Io` or
    /// `Corrupt`.
    pub fn rename(
        &self,
        tenant: &str,
        key_pair_id: &str,
        new_name: &str,
    ) -> Result<(), StoreError> {
        let record_key = tenant_key(tenant, key_pair_id.as_bytes());
        let new_name_key = tenant_key(tenant, new_name.as_bytes());

        self.write(|db| {
            let trees = Trees::open(db, &self.path)?;
            (&trees.records, &trees.names)
                .transaction(|(records, names)| {
                    let Some(value) = records.get(&record_key)? else {
                        return abort(StoreError::NotFound {
                            tenant: tenant.to_string(),
                            key_pair_id: key_pair_id.to_string(),
                        });
                    };
                    let mut record =
                        decode_record(&self.path, &record_key, &value).or_else(abort)?;
                    if record.key_pair_name == new_name {
                        return Ok(());
                    }

                    if let Some(existing) = names.get(&new_name_key)? {
                        return abort(StoreError::DuplicateName {
                            tenant: tenant.to_string(),
                            name: new_name.to_string(),
                            existing_id: id_text(&existing),
                        });
                    }

                    names.remove(tenant_key(tenant, record.key_pair_name.as_bytes()))?;
                    names.insert(new_name_key.as_slice(), key_pair_id.as_bytes())?;
                    record.key_pair_name = new_name.to_string();
                    let json = serde_json::to_vec(&record).map_err(|error| {
                        ConflictableTransactionError::Abort(StoreError::InvalidRecord {
                            key_pair_id: key_pair_id.to_string(),
                            detail: error.to_string(),
                        })
                    })?;
                    records.insert(record_key.as_slice(), json)?;
                    Ok(())
                })
                .map_err(|error| from_transaction(&self.path, error))
        })
    }

    /// Every tenant that holds key pairs, by name, with its count. A tenant whose last key
    /// pair was deleted is not listed.
    ///
    /// # Errors
    /// `Busy`, `Io`, or `Corrupt` when a counter cannot be read.
    pub fn tenants(&self) -> Result<Vec<TenantCount>, StoreError> {
        self.read(|db| {
            let trees = Trees::open(db, &self.path)?;
            let mut tenants = Vec::new();
            for entry in trees.counts.iter() {
                let (key, value) = entry.map_err(|error| from_sled(&self.path, error))?;
                let tenant = tenant_text(&self.path, &key)?;
                let key_pair_count = decode_count(&self.path, &tenant, &value)?;
                if key_pair_count > 0 {
                    tenants.push(TenantCount {
                        tenant,
                        key_pair_count,
                    });
                }
            }
            Ok(tenants)
        })
    }

    /// The records whose public key is `blob` (the 524-byte structure), in one tenant or in all.
    /// Found through the public-key index, one lookup per tenant.
    ///
    /// # Errors
    /// `Busy`, `Io`, or `Corrupt` when the index points at a missing or unreadable record.
    pub fn find_by_public_key(
        &self,
        tenant: Option<&str>,
        blob: &[u8],
    ) -> Result<Vec<KeyPairRecord>, StoreError> {
        let digest: [u8; 32] = Sha256::digest(blob).into();

        self.read(|db| {
            let trees = Trees::open(db, &self.path)?;
            let tenants = match tenant {
                Some(tenant) => vec![tenant.to_string()],
                None => {
                    let mut tenants = Vec::new();
                    for key in trees.counts.iter().keys() {
                        let key = key.map_err(|error| from_sled(&self.path, error))?;
                        tenants.push(tenant_text(&self.path, &key)?);
                    }
                    tenants
                }
            };

            let mut found = Vec::new();
            for tenant in &tenants {
                let index_key = tenant_key(tenant, &digest);
                let Some(id) = trees
                    .public_keys
                    .get(&index_key)
                    .map_err(|error| from_sled(&self.path, error))?
                else {
                    continue;
                };

                let record_key = tenant_key(tenant, &id);
                let value = trees
                    .records
                    .get(&record_key)
                    .map_err(|error| from_sled(&self.path, error))?
                    .ok_or_else(|| StoreError::Corrupt {
                        path: self.path.clone(),
                        detail: format!(
                            "the public-key index of tenant '{tenant}' names '{}', which is not \
                             stored",
                            id_text(&id)
                        ),
                    })?;
                found.push(decode_record(&self.path, &record_key, &value)?);
            }
            Ok(found)
        })
    }

    /// Reads the whole store and checks that it holds together: every record parses and sits
    /// under its own tenant and ID, has its name and public-key index entries, every index
    /// entry points at a record that holds that name or key, and each tenant's counter equals
    /// its records. Changes nothing.
    ///
    /// # Errors
    /// `Busy`, `Io`, or `Corrupt` only when the store cannot be opened or walked at all; what
    /// is wrong inside it is reported in [`ConsistencyReport::problems`].
    pub fn check_consistency(&self) -> Result<ConsistencyReport, StoreError> {
        self.read(|db| {
            let trees = Trees::open(db, &self.path)?;
            let mut report = ConsistencyReport::default();
            let mut found = ConsistencyScan::default();

            for entry in trees.records.iter() {
                let (key, value) = entry.map_err(|error| from_sled(&self.path, error))?;
                report.records += 1;
                found.check_record(&self.path, &key, &value, &mut report.problems);
            }

            for entry in trees.names.iter() {
                let (key, value) = entry.map_err(|error| from_sled(&self.path, error))?;
                found.check_name_entry(&key, &value, &mut report.problems);
            }
            for entry in trees.public_keys.iter() {
                let (key, value) = entry.map_err(|error| from_sled(&self.path, error))?;
                found.check_public_key_entry(&key, &value, &mut report.problems);
            }
            found.report_missing_index_entries(&mut report.problems);

            let mut counters = std::collections::BTreeMap::new();
            for entry in trees.counts.iter() {
                let (key, value) = entry.map_err(|error| from_sled(&self.path, error))?;
                let tenant = String::from_utf8_lossy(&key).into_owned();
                match decode_count(&self.path, &tenant, &value) {
                    Ok(count) => {
                        counters.insert(tenant, count);
                    }
                    Err(error) => report.problems.push(error.to_string()),
                }
            }
            found.check_counters(&counters, &mut report.problems);

            report.tenants = found
                .records_per_tenant
                .into_iter()
                .map(|(tenant, key_pair_count)| TenantCount {
                    tenant,
                    key_pair_count,
                })
                .collect();
            Ok(report)
        })
    }

    /// Runs `transaction` on the four trees (records, names, public keys, counts) as one
    /// writing operation: all of its changes or none, flushed before it reports success.
    fn transact_on_all_trees<T>(
        &self,
        transaction: impl Fn(&AllTrees) -> Result<T, ConflictableTransactionError<StoreError>>,
    ) -> Result<T, StoreError> {
        self.write(|db| {
            let trees = Trees::open(db, &self.path)?;
            (
                &trees.records,
                &trees.names,
                &trees.public_keys,
                &trees.counts,
            )
                .transaction(&transaction)
                .map_err(|error| from_transaction(&self.path, error))
        })
    }

    /// Runs a reading operation on the store, held or opened for it.
    fn read<T>(
        &self,
        operation: impl FnOnce(&sled::Db) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        with_db(&self.holder, &self.path, operation)
    }

    /// Runs a writing operation, then flushes it to disk before reporting success.
    fn write<T>(
        &self,
        operation: impl FnOnce(&sled::Db) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        with_db(&self.holder, &self.path, |db| {
            let value = operation(db)?;
            db.flush().map_err(|error| from_sled(&self.path, error))?;
            Ok(value)
        })
    }
}

/// A record ready to insert: its keys in the three trees and its encoded value.
struct PreparedRecord<'a> {
    record: &'a KeyPairRecord,
    record_key: Vec<u8>,
    name_key: Vec<u8>,
    public_key_key: Vec<u8>,
    value: Vec<u8>,
}

impl<'a> PreparedRecord<'a> {
    fn new(record: &'a KeyPairRecord) -> Result<Self, StoreError> {
        let tenant = record.tenant.as_str();
        let value = serde_json::to_vec(record).map_err(|error| StoreError::InvalidRecord {
            key_pair_id: record.key_pair_id.clone(),
            detail: error.to_string(),
        })?;
        Ok(Self {
            record,
            record_key: tenant_key(tenant, record.key_pair_id.as_bytes()),
            name_key: tenant_key(tenant, record.key_pair_name.as_bytes()),
            public_key_key: tenant_key(tenant, &public_key_digest(record)?),
            value,
        })
    }
}

/// The four trees in a transaction: records, names, public keys, counts.
type AllTrees = (
    TransactionalTree,
    TransactionalTree,
    TransactionalTree,
    TransactionalTree,
);

/// The four trees of one open database.
struct Trees {
    records: sled::Tree,
    names: sled::Tree,
    public_keys: sled::Tree,
    counts: sled::Tree,
}

impl Trees {
    fn open(db: &sled::Db, path: &Path) -> Result<Self, StoreError> {
        let tree = |name: &str| db.open_tree(name).map_err(|error| from_sled(path, error));
        Ok(Self {
            records: tree(RECORDS)?,
            names: tree(NAMES)?,
            public_keys: tree(PUBLIC_KEYS)?,
            counts: tree(COUNTS)?,
        })
    }
}

/// What a consistency check has seen so far: the index entries each readable record needs, and
/// the records per tenant.
#[derive(Default)]
struct ConsistencyScan {
    /// Index key (tenant, 0x00, name or digest) → the ID of the record that needs it, for the
    /// name and public-key indexes; an entry is removed when the index is found to hold it.
    expected_names: std::collections::HashMap<Vec<u8>, Vec<u8>>,
    expected_public_keys: std::collections::HashMap<Vec<u8>, Vec<u8>>,
    /// Every record key seen, readable or not, so an index entry can be told to point at one.
    record_keys: std::collections::HashSet<Vec<u8>>,
    records_per_tenant: std::collections::BTreeMap<String, usize>,
}

impl ConsistencyScan {
    fn check_record(&mut self, path: &Path, key: &[u8], value: &[u8], problems: &mut Vec<String>) {
        self.record_keys.insert(key.to_vec());
        let shown_key = String::from_utf8_lossy(key).replace('\0', "/");

        let record = match decode_record(path, key, value) {
            Ok(record) => record,
            Err(error) => {
                problems.push(error.to_string());
                return;
            }
        };
        if tenant_key(&record.tenant, record.key_pair_id.as_bytes()) != key {
            problems.push(format!(
                "record '{shown_key}' holds tenant '{}' and ID '{}', not those of its key",
                record.tenant, record.key_pair_id
            ));
            return;
        }

        *self
            .records_per_tenant
            .entry(record.tenant.clone())
            .or_default() += 1;
        let id = record.key_pair_id.as_bytes().to_vec();
        let name_key = tenant_key(&record.tenant, record.key_pair_name.as_bytes());
        self.expected_names.insert(name_key, id.clone());
        match public_key_digest(&record) {
            Ok(digest) => {
                let public_key_key = tenant_key(&record.tenant, &digest);
                self.expected_public_keys.insert(public_key_key, id);
            }
            Err(error) => problems.push(format!("record '{shown_key}': {error}")),
        }
    }

    /// Checks one entry of the name index against the records seen.
    fn check_name_entry(&mut self, key: &[u8], id: &[u8], problems: &mut Vec<String>) {
        check_index_entry(
            &mut self.expected_names,
            &self.record_keys,
            "name",
            key,
            id,
            problems,
        );
    }

    /// Checks one entry of the public-key index against the records seen.
    fn check_public_key_entry(&mut self, key: &[u8], id: &[u8], problems: &mut Vec<String>) {
        let expected = &mut self.expected_public_keys;
        check_index_entry(expected, &self.record_keys, "public-key", key, id, problems);
    }

    fn report_missing_index_entries(&self, problems: &mut Vec<String>) {
        for (index, expected) in [
            ("name", &self.expected_names),
            ("public-key", &self.expected_public_keys),
        ] {
            let mut missing: Vec<String> = expected.values().map(|id| id_text(id)).collect();
            missing.sort();
            for id in missing {
                problems.push(format!("record '{id}' has no entry in the {index} index"));
            }
        }
    }

    fn check_counters(
        &self,
        counters: &std::collections::BTreeMap<String, usize>,
        problems: &mut Vec<String>,
    ) {
        for (tenant, &records) in &self.records_per_tenant {
            let counted = counters.get(tenant).copied().unwrap_or(0);
            if counted != records {
                problems.push(format!(
                    "tenant '{tenant}' counts {counted} key pairs but holds {records}"
                ));
            }
        }
        for (tenant, &counted) in counters {
            if !self.records_per_tenant.contains_key(tenant) {
                problems.push(format!(
                    "tenant '{tenant}' counts {counted} key pairs but holds none"
                ));
            }
        }
    }
}

/// Checks that an index entry is one a record needs (removing it from `expected`), or reports
/// what it points at instead.
fn check_index_entry(
    expected: &mut std::collections::HashMap<Vec<u8>, Vec<u8>>,
    record_keys: &std::collections::HashSet<Vec<u8>>,
    index: &str,
    key: &[u8],
    id: &[u8],
    problems: &mut Vec<String>,
) {
    if expected
        .get(key)
        .is_some_and(|expected_id| expected_id == id)
    {
        expected.remove(key);
        return;
    }

    let tenant_end = key.iter().position(|&byte| byte == 0).unwrap_or(key.len());
    let tenant = String::from_utf8_lossy(&key[..tenant_end]);
    let record_key = [&key[..tenant_end], b"\0", id].concat();
    let what = if record_keys.contains(&record_key) {
        "a record that does not hold that entry"
    } else {
        "a record that is not stored"
    };
    problems.push(format!(
        "the {index} index of tenant '{tenant}' points at '{}', {what}",
        id_text(id)
    ));
}

/// Ends a transaction with a refusal.
fn abort<T>(error: StoreError) -> Result<T, ConflictableTransactionError<StoreError>> {
    Err(ConflictableTransactionError::Abort(error))
}

/// An index key: the tenant, a 0x00 separator, then `rest`.
fn tenant_key(tenant: &str, rest: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(tenant.len() + 1 + rest.len());
    key.extend_from_slice(tenant.as_bytes());
    key.push(0);
    key.extend_from_slice(rest);
    key
}

/// A stored KeyPairId as text (IDs are ASCII; anything else shows lossily).
fn id_text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The SHA-256 of the key a record holds: the decoded base64 before the first space of its
/// public key line. The same digest [`Store::find_by_public_key`] takes of the raw structure.
fn public_key_digest(record: &KeyPairRecord) -> Result<[u8; 32], StoreError> {
    let base64_part = record
        .public_key_line
        .split([' ', '\t'])
        .next()
        .unwrap_or_default();
    let blob = BASE64
        .decode(base64_part)
        .map_err(|error| StoreError::InvalidRecord {
            key_pair_id: record.key_pair_id.clone(),
            detail: format!("its public key line does not start with base64: {error}"),
        })?;
    if blob.is_empty() {
        return Err(StoreError::InvalidRecord {
            key_pair_id: record.key_pair_id.clone(),
            detail: "its public key line is empty".to_string(),
        });
    }
    Ok(Sha256::digest(&blob).into())
}

/// [`public_key_digest`] of a record read back, where a failure means the store is damaged.
fn stored_digest(
    path: &Path,
    record: &KeyPairRecord,
) -> Result<[u8; 32], ConflictableTransactionError<StoreError>> {
    public_key_digest(record).map_err(|error| {
        ConflictableTransactionError::Abort(StoreError::Corrupt {
            path: path.to_path_buf(),
            detail: error.to_string(),
        })
    })
}

/// Reads a record, refusing one this version does not understand.
fn decode_record(path: &Path, key: &[u8], value: &[u8]) -> Result<KeyPairRecord, StoreError> {
    let shown_key = String::from_utf8_lossy(key).replace('\0', "/");
    let record: KeyPairRecord =
        serde_json::from_slice(value).map_err(|error| StoreError::Corrupt {
            path: path.to_path_buf(),
            detail: format!("record '{shown_key}' cannot be read: {error}"),
        })?;
    if record.schema > SCHEMA_VERSION {
        return Err(StoreError::Corrupt {
            path: path.to_path_buf(),
            detail: format!(
                "record '{shown_key}' has schema {}, newer than this adbkeys reads ({})",
                record.schema, SCHEMA_VERSION
            ),
        });
    }
    Ok(record)
}

/// A tenant name from the counters' keys.
fn tenant_text(path: &Path, key: &[u8]) -> Result<String, StoreError> {
    String::from_utf8(key.to_vec()).map_err(|_| StoreError::Corrupt {
        path: path.to_path_buf(),
        detail: "a tenant counter has a name that is not UTF-8".to_string(),
    })
}

/// A stored counter: eight bytes, big-endian.
fn decode_count(path: &Path, tenant: &str, value: &[u8]) -> Result<usize, StoreError> {
    let bytes: [u8; 8] = value.try_into().map_err(|_| StoreError::Corrupt {
        path: path.to_path_buf(),
        detail: format!(
            "the counter of tenant '{tenant}' is {} bytes, not 8",
            value.len()
        ),
    })?;
    usize::try_from(u64::from_be_bytes(bytes)).map_err(|_| StoreError::Corrupt {
        path: path.to_path_buf(),
        detail: format!("the counter of tenant '{tenant}' is out of range"),
    })
}

/// The tenant's counter inside a transaction (0 when absent).
fn read_count(
    counts: &TransactionalTree,
    tenant: &str,
    path: &Path,
) -> Result<u64, ConflictableTransactionError<StoreError>> {
    match counts.get(tenant.as_bytes())? {
        Some(value) => decode_count(path, tenant, &value)
            .map(|count| count as u64)
            .or_else(abort),
        None => Ok(0),
    }
}

/// Writes the tenant's counter inside a transaction, removing it at zero.
fn write_count(
    counts: &TransactionalTree,
    tenant: &str,
    count: u64,
) -> Result<(), sled::transaction::UnabortableTransactionError> {
    if count == 0 {
        counts.remove(tenant.as_bytes())?;
    } else {
        counts.insert(tenant.as_bytes(), &count.to_be_bytes())?;
    }
    Ok(())
}
