//! The key-pair store: sled 0.34 on disk, opened for each operation and closed after it, so
//! that several processes (consoles and scripts in different SSH sessions) share one store.
//!
//! Layout, the atomic quota and the retry on sled's directory lock are described in
//! docs/architecture.md.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

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
}

/// A handle on a store directory. Cheap: it holds only the path; every method opens the
/// database, does one transaction, flushes if it wrote, and closes it again.
#[derive(Debug, Clone)]
pub struct Store {
    path: PathBuf,
}

impl Store {
    /// A handle on the store at `path`, creating the directory with mode 0700 if needed.
    pub fn new(path: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let _ = path.into();
        unimplemented!("store helper")
    }

    /// `$ADBKEYS_STORE` is for callers to apply; this is `$XDG_DATA_HOME/adbkeys`.
    pub fn default_path() -> Option<PathBuf> {
        unimplemented!("store helper")
    }

    /// The store directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Inserts a record in one atomic step with the tenant's counter, the name index and the
    /// public-key index; refuses the 501st record, a duplicate name and a duplicate key.
    pub fn insert(&self, record: &KeyPairRecord, quota: usize) -> Result<(), StoreError> {
        let _ = (record, quota);
        unimplemented!("store helper")
    }

    /// Every record of a tenant, oldest first (created, then KeyPairId).
    pub fn list(&self, tenant: &str) -> Result<Vec<KeyPairRecord>, StoreError> {
        let _ = tenant;
        unimplemented!("store helper")
    }

    /// One record, or `None`.
    pub fn get(
        &self,
        tenant: &str,
        key_pair_id: &str,
    ) -> Result<Option<KeyPairRecord>, StoreError> {
        let _ = (tenant, key_pair_id);
        unimplemented!("store helper")
    }

    /// The tenant's count of key pairs (the stored counter).
    pub fn count(&self, tenant: &str) -> Result<usize, StoreError> {
        let _ = tenant;
        unimplemented!("store helper")
    }

    /// Deletes all of `key_pair_ids` or, if one is unknown, none (`NotFound` names it).
    pub fn delete(&self, tenant: &str, key_pair_ids: &[String]) -> Result<(), StoreError> {
        let _ = (tenant, key_pair_ids);
        unimplemented!("store helper")
    }

    /// Renames a key pair, keeping names unique in the tenant.
    pub fn rename(
        &self,
        tenant: &str,
        key_pair_id: &str,
        new_name: &str,
    ) -> Result<(), StoreError> {
        let _ = (tenant, key_pair_id, new_name);
        unimplemented!("store helper")
    }

    /// Every tenant that holds or held key pairs, by name, with its count.
    pub fn tenants(&self) -> Result<Vec<TenantCount>, StoreError> {
        unimplemented!("store helper")
    }

    /// The records whose public key is `blob` (the 524-byte structure), in one tenant or in all.
    pub fn find_by_public_key(
        &self,
        tenant: Option<&str>,
        blob: &[u8],
    ) -> Result<Vec<KeyPairRecord>, StoreError> {
        let _ = (tenant, blob);
        unimplemented!("store helper")
    }
}
