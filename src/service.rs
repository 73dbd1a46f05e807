//! The key-pair service: the cloud API's operations as methods taking request structs and
//! returning response structs. The CLI and the console call only this.
//!
//! Every method is blocking (store I/O, and key generation for `create_key_pair`); async
//! callers run them on a blocking thread. Responses serialize to the API's JSON shapes (field
//! names and order as in the API).

use serde::Serialize;
use zeroize::Zeroizing;

use crate::error::ApiError;
use crate::keys::GeneratedKeyPair;
use crate::keys::import::ImportInput;
use crate::store::Store;

/// CreateKeyPair.
#[derive(Debug, Clone)]
pub struct CreateKeyPairRequest {
    pub tenant: String,
    pub key_pair_name: String,
}

/// CreateKeyPair's `Data`. `PrivateKeyBody` is the only copy of the private key there is.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreatedKeyPair {
    pub key_pair_id: String,
    pub key_pair_name: String,
    pub private_key_body: Zeroizing<String>,
    pub gmt_created: String,
    /// The stored ADB public key line (not part of the API's JSON).
    #[serde(skip)]
    pub public_key_line: String,
}

/// ImportKeyPair.
#[derive(Debug, Clone)]
pub struct ImportKeyPairRequest {
    pub tenant: String,
    pub key_pair_name: String,
    pub input: ImportInput,
    /// The file's bytes: an `adbkey.pub` text or a private key PEM (zeroized after parsing).
    pub body: Zeroizing<Vec<u8>>,
}

/// A key pair as DescribeKeyPairs lists it, and ImportKeyPair's `Data`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyPairSummary {
    pub key_pair_id: String,
    pub key_pair_name: String,
    pub gmt_created: String,
}

/// DescribeKeyPairs.
#[derive(Debug, Clone, Default)]
pub struct DescribeKeyPairsRequest {
    pub tenant: String,
    /// Exact name, or a glob when it contains `*`.
    pub key_pair_name: Option<String>,
    pub key_pair_ids: Vec<String>,
    /// 1-100; `None` means 10.
    pub max_results: Option<u32>,
    pub next_token: Option<String>,
}

/// DescribeKeyPairs' response (without RequestId, which the front end adds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribeKeyPairsPage {
    /// Empty on the last page.
    pub next_token: String,
    pub data: Vec<KeyPairSummary>,
    pub total_count: usize,
}

/// One key pair in full, as `show` and the console's detail pane present it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyPairDetail {
    pub key_pair_id: String,
    pub key_pair_name: String,
    pub gmt_created: String,
    pub source: String,
    pub public_key_body: String,
    pub fingerprint_md5: String,
    pub fingerprint_sha256: String,
}

/// A tenant with its count and quota.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TenantSummary {
    pub tenant: String,
    pub key_pair_count: usize,
    pub quota: usize,
}

/// The service over one store.
#[derive(Debug, Clone)]
pub struct KeyPairService {
    store: Store,
}

impl KeyPairService {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Checks what can be checked before the slow key generation: the tenant, the name, the
    /// name's uniqueness and the quota. `create_key_pair_with` checks all again atomically.
    pub fn precheck_create(&self, request: &CreateKeyPairRequest) -> Result<(), ApiError> {
        let _ = request;
        unimplemented!("service helper")
    }

    /// CreateKeyPair: generates a key pair and stores its public half.
    pub fn create_key_pair(
        &self,
        request: &CreateKeyPairRequest,
    ) -> Result<CreatedKeyPair, ApiError> {
        let _ = request;
        unimplemented!("service helper")
    }

    /// CreateKeyPair with a key pair generated beforehand (the console generates in the
    /// background while the name is typed).
    pub fn create_key_pair_with(
        &self,
        request: &CreateKeyPairRequest,
        generated: GeneratedKeyPair,
    ) -> Result<CreatedKeyPair, ApiError> {
        let _ = (request, generated);
        unimplemented!("service helper")
    }

    /// ImportKeyPair.
    pub fn import_key_pair(
        &self,
        request: &ImportKeyPairRequest,
    ) -> Result<KeyPairSummary, ApiError> {
        let _ = request;
        unimplemented!("service helper")
    }

    /// DescribeKeyPairs: one page.
    pub fn describe_key_pairs(
        &self,
        request: &DescribeKeyPairsRequest,
    ) -> Result<DescribeKeyPairsPage, ApiError> {
        let _ = request;
        unimplemented!("service helper")
    }

    /// Every key pair of a tenant in full, oldest first (the console's list).
    pub fn list_details(&self, tenant: &str) -> Result<Vec<KeyPairDetail>, ApiError> {
        let _ = tenant;
        unimplemented!("service helper")
    }

    /// One key pair in full.
    pub fn show_key_pair(
        &self,
        tenant: &str,
        key_pair_id: &str,
    ) -> Result<KeyPairDetail, ApiError> {
        let _ = (tenant, key_pair_id);
        unimplemented!("service helper")
    }

    /// DeleteKeyPairs: all or nothing.
    pub fn delete_key_pairs(&self, tenant: &str, key_pair_ids: &[String]) -> Result<(), ApiError> {
        let _ = (tenant, key_pair_ids);
        unimplemented!("service helper")
    }

    /// ModifyKeyPairName.
    pub fn modify_key_pair_name(
        &self,
        tenant: &str,
        key_pair_id: &str,
        new_name: &str,
    ) -> Result<(), ApiError> {
        let _ = (tenant, key_pair_id, new_name);
        unimplemented!("service helper")
    }

    /// Every tenant with its count and quota.
    pub fn tenants(&self) -> Result<Vec<TenantSummary>, ApiError> {
        unimplemented!("service helper")
    }

    /// The tenant's public keys as an `adb_keys` file (one line each, LF endings); with
    /// `key_pair_ids`, only those (all must exist).
    pub fn export_adb_keys(
        &self,
        tenant: &str,
        key_pair_ids: &[String],
    ) -> Result<String, ApiError> {
        let _ = (tenant, key_pair_ids);
        unimplemented!("service helper")
    }

    /// The key pairs whose public key belongs to a private key PEM, in one tenant or in all.
    /// The private key is only read, then zeroized.
    pub fn find_by_private_key(
        &self,
        tenant: Option<&str>,
        pem: &[u8],
    ) -> Result<Vec<crate::store::KeyPairRecord>, ApiError> {
        let _ = (tenant, pem);
        unimplemented!("service helper")
    }
}
