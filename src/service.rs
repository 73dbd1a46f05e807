//! The key-pair service: the cloud API's operations as methods taking request structs and
//! returning response structs. The CLI and the console call only this.
//!
//! Every method is blocking (store I/O, and key generation for `create_key_pair`); async
//! callers run them on a blocking thread. Responses serialize to the API's JSON shapes (field
//! names and order as in the API).

mod paging;
mod user_host;

use base64::Engine as _;
use base64::prelude::BASE64_STANDARD;
use chrono::Utc;
use serde::Serialize;
use zeroize::Zeroizing;

use crate::error::{ApiError, ErrorCode};
use crate::keys::import::{ImportInput, parse_import};
use crate::keys::{
    AdbPublicKey, GeneratedKeyPair, KeyError, PublicKeyLine, fingerprint, generate_key_pair,
};
use crate::rules::{self, KEY_PAIR_QUOTA, RuleError};
use crate::store::{KeyPairRecord, Source, Store, StoreError};

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
        let op = "create";
        check_tenant(op, &request.tenant)?;
        check_name(op, &request.key_pair_name)?;

        let records = self
            .store
            .list(&request.tenant)
            .map_err(|e| store_error(op, e))?;
        if let Some(existing) = records
            .iter()
            .find(|record| record.key_pair_name == request.key_pair_name)
        {
            return Err(store_error(
                op,
                StoreError::DuplicateName {
                    tenant: request.tenant.clone(),
                    name: request.key_pair_name.clone(),
                    existing_id: existing.key_pair_id.clone(),
                },
            ));
        }

        let count = self
            .store
            .count(&request.tenant)
            .map_err(|e| store_error(op, e))?;
        if count >= KEY_PAIR_QUOTA {
            return Err(store_error(
                op,
                StoreError::QuotaExceeded {
                    tenant: request.tenant.clone(),
                    limit: KEY_PAIR_QUOTA,
                },
            ));
        }
        Ok(())
    }

    /// CreateKeyPair: generates a key pair and stores its public half.
    pub fn create_key_pair(
        &self,
        request: &CreateKeyPairRequest,
    ) -> Result<CreatedKeyPair, ApiError> {
        let generated = self.precheck_and_generate(request)?;
        self.create_key_pair_with(request, generated)
    }

    /// The slow half of a creation: generates the key pair on a thread of its own while
    /// `precheck_create` checks the name and the quota in the store, so that the two overlap.
    /// The store stays open until the key is ready, so the insert of `create_key_pair_with`
    /// that follows within 50 ms does not open it again (another process waiting still gets
    /// its turn). When a check fails the key being generated is dropped unseen (zeroized).
    pub fn precheck_and_generate(
        &self,
        request: &CreateKeyPairRequest,
    ) -> Result<GeneratedKeyPair, ApiError> {
        let op = "create";
        check_tenant(op, &request.tenant)?;
        check_name(op, &request.key_pair_name)?;

        let generation = std::thread::Builder::new()
            .name("adbkeys-keygen".to_owned())
            .spawn(generate_key_pair);
        let _keep_open = self.store.keep_open();
        self.precheck_create(request)?;

        let generated = match generation {
            Ok(thread) => thread.join().map_err(|_| {
                ApiError::new(
                    ErrorCode::InternalError,
                    format!("{op}: the key generation failed"),
                )
            })?,
            // No thread to be had: generate on this one, after the checks.
            Err(_) => generate_key_pair(),
        };
        generated.map_err(|error| ApiError::new(ErrorCode::InternalError, format!("{op}: {error}")))
    }

    /// CreateKeyPair with a key pair generated beforehand (the console generates in the
    /// background while the name is typed).
    pub fn create_key_pair_with(
        &self,
        request: &CreateKeyPairRequest,
        generated: GeneratedKeyPair,
    ) -> Result<CreatedKeyPair, ApiError> {
        let op = "create";
        check_tenant(op, &request.tenant)?;
        check_name(op, &request.key_pair_name)?;

        let comment = user_host::creator_comment();
        let record = KeyPairRecord {
            schema: crate::store::SCHEMA_VERSION,
            tenant: request.tenant.clone(),
            key_pair_id: rules::new_key_pair_id(),
            key_pair_name: request.key_pair_name.clone(),
            public_key_line: generated.public.to_line(&comment),
            source: Source::Created,
            created: Utc::now(),
        };
        self.store
            .insert(&record, KEY_PAIR_QUOTA)
            .map_err(|e| store_error(op, e))?;

        Ok(CreatedKeyPair {
            gmt_created: rules::format_gmt(record.created),
            key_pair_id: record.key_pair_id,
            key_pair_name: record.key_pair_name,
            private_key_body: generated.private_pem,
            public_key_line: record.public_key_line,
        })
    }

    /// ImportKeyPair.
    pub fn import_key_pair(
        &self,
        request: &ImportKeyPairRequest,
    ) -> Result<KeyPairSummary, ApiError> {
        let op = "import";
        check_tenant(op, &request.tenant)?;
        check_name(op, &request.key_pair_name)?;

        let imported = parse_import(request.input, &request.body).map_err(|e| key_error(op, e))?;
        let line = PublicKeyLine {
            key: imported.key,
            comment: imported.comment,
        };
        let record = KeyPairRecord {
            schema: crate::store::SCHEMA_VERSION,
            tenant: request.tenant.clone(),
            key_pair_id: rules::new_key_pair_id(),
            key_pair_name: request.key_pair_name.clone(),
            public_key_line: line.canonical(),
            source: Source::Imported,
            created: Utc::now(),
        };
        self.store
            .insert(&record, KEY_PAIR_QUOTA)
            .map_err(|e| store_error(op, e))?;

        Ok(summary(&record))
    }

    /// DescribeKeyPairs: one page.
    pub fn describe_key_pairs(
        &self,
        request: &DescribeKeyPairsRequest,
    ) -> Result<DescribeKeyPairsPage, ApiError> {
        let op = "list";
        check_tenant(op, &request.tenant)?;
        let max_results = match request.max_results {
            None => paging::DEFAULT_MAX_RESULTS,
            Some(n) if paging::MAX_RESULTS_RANGE.contains(&n) => n,
            Some(n) => {
                return Err(ApiError::new(
                    ErrorCode::InvalidMaxResults,
                    format!("list: max results '{n}' is not between 1 and 100"),
                ));
            }
        };
        let filter = paging::Filter::new(
            &request.tenant,
            request.key_pair_name.as_deref(),
            &request.key_pair_ids,
        );
        let after = match request.next_token.as_deref() {
            None | Some("") => None,
            Some(token) => Some(filter.decode_token(token).ok_or_else(|| {
                ApiError::new(
                    ErrorCode::InvalidNextToken,
                    format!("list: next token '{token}' was not issued for this query"),
                )
            })?),
        };

        let records = self
            .store
            .list(&request.tenant)
            .map_err(|e| store_error(op, e))?;
        let matches: Vec<&KeyPairRecord> = records
            .iter()
            .filter(|record| filter.matches(record))
            .collect();
        let total_count = matches.len();

        let remaining = matches
            .iter()
            .filter(|record| after.as_ref().is_none_or(|cursor| cursor.is_before(record)));
        let page: Vec<&KeyPairRecord> = remaining.take(max_results as usize + 1).copied().collect();
        let has_more = page.len() > max_results as usize;
        let page = &page[..page.len().min(max_results as usize)];
        let next_token = match (has_more, page.last()) {
            (true, Some(last)) => filter.encode_token(last),
            _ => String::new(),
        };

        Ok(DescribeKeyPairsPage {
            next_token,
            data: page.iter().map(|record| summary(record)).collect(),
            total_count,
        })
    }

    /// Every key pair of a tenant in full, oldest first (the console's list).
    pub fn list_details(&self, tenant: &str) -> Result<Vec<KeyPairDetail>, ApiError> {
        let op = "list";
        check_tenant(op, tenant)?;

        let records = self.store.list(tenant).map_err(|e| store_error(op, e))?;
        records.iter().map(|record| detail(op, record)).collect()
    }

    /// One key pair in full.
    pub fn show_key_pair(
        &self,
        tenant: &str,
        key_pair_id: &str,
    ) -> Result<KeyPairDetail, ApiError> {
        let op = "show";
        check_tenant(op, tenant)?;

        let record = self
            .store
            .get(tenant, key_pair_id)
            .map_err(|e| store_error(op, e))?
            .ok_or_else(|| not_found(op, tenant, key_pair_id))?;
        detail(op, &record)
    }

    /// DeleteKeyPairs: all or nothing.
    pub fn delete_key_pairs(&self, tenant: &str, key_pair_ids: &[String]) -> Result<(), ApiError> {
        let op = "delete";
        check_tenant(op, tenant)?;

        self.store
            .delete(tenant, key_pair_ids)
            .map_err(|e| store_error(op, e))
    }

    /// ModifyKeyPairName.
    pub fn modify_key_pair_name(
        &self,
        tenant: &str,
        key_pair_id: &str,
        new_name: &str,
    ) -> Result<(), ApiError> {
        let op = "rename";
        check_tenant(op, tenant)?;
        check_name(op, new_name)?;

        self.store
            .rename(tenant, key_pair_id, new_name)
            .map_err(|e| store_error(op, e))
    }

    /// Every tenant with its count and quota.
    pub fn tenants(&self) -> Result<Vec<TenantSummary>, ApiError> {
        let tenants = self
            .store
            .tenants()
            .map_err(|e| store_error("tenants", e))?;
        Ok(tenants
            .into_iter()
            .map(|tenant| TenantSummary {
                tenant: tenant.tenant,
                key_pair_count: tenant.key_pair_count,
                quota: KEY_PAIR_QUOTA,
            })
            .collect())
    }

    /// The tenant's public keys as an `adb_keys` file (one line each, LF endings); with
    /// `key_pair_ids`, only those (all must exist).
    pub fn export_adb_keys(
        &self,
        tenant: &str,
        key_pair_ids: &[String],
    ) -> Result<String, ApiError> {
        let op = "export";
        check_tenant(op, tenant)?;

        let records = self.store.list(tenant).map_err(|e| store_error(op, e))?;
        if let Some(unknown) = key_pair_ids
            .iter()
            .find(|id| !records.iter().any(|record| &record.key_pair_id == *id))
        {
            return Err(not_found(op, tenant, unknown));
        }

        let mut adb_keys = String::new();
        for record in &records {
            if key_pair_ids.is_empty() || key_pair_ids.contains(&record.key_pair_id) {
                adb_keys.push_str(&record.public_key_line);
                adb_keys.push('\n');
            }
        }
        Ok(adb_keys)
    }

    /// The key pairs whose public key belongs to a private key PEM, in one tenant or in all.
    /// The private key is only read, then zeroized.
    pub fn find_by_private_key(
        &self,
        tenant: Option<&str>,
        pem: &[u8],
    ) -> Result<Vec<crate::store::KeyPairRecord>, ApiError> {
        let op = "find";
        if let Some(tenant) = tenant {
            check_tenant(op, tenant)?;
        }

        let imported = parse_import(ImportInput::PrivateKey, pem).map_err(|e| key_error(op, e))?;
        self.store
            .find_by_public_key(tenant, imported.key.blob())
            .map_err(|e| store_error(op, e))
    }
}

fn summary(record: &KeyPairRecord) -> KeyPairSummary {
    KeyPairSummary {
        key_pair_id: record.key_pair_id.clone(),
        key_pair_name: record.key_pair_name.clone(),
        gmt_created: rules::format_gmt(record.created),
    }
}

/// A record in full, with the fingerprints of its stored public key.
///
/// The key was checked in full (modulus, exponent, n0inv, R^2) when it was stored, so reading
/// it back only decodes its structure: re-checking R^2 for every row made a list of 500 take
/// tens of milliseconds, and the console lists every 1.5 s.
fn detail(op: &str, record: &KeyPairRecord) -> Result<KeyPairDetail, ApiError> {
    let blob = stored_blob(record).map_err(|error| {
        ApiError::new(
            ErrorCode::InternalError,
            format!(
                "{op}: the stored public key of '{}' is damaged: {error}",
                record.key_pair_id
            ),
        )
    })?;

    Ok(KeyPairDetail {
        key_pair_id: record.key_pair_id.clone(),
        key_pair_name: record.key_pair_name.clone(),
        gmt_created: rules::format_gmt(record.created),
        source: record.source.as_str().to_owned(),
        public_key_body: record.public_key_line.clone(),
        fingerprint_md5: fingerprint::md5(&blob),
        fingerprint_sha256: fingerprint::sha256(&blob),
    })
}

/// The 524-byte structure of a stored (canonical) public key line.
fn stored_blob(record: &KeyPairRecord) -> Result<Vec<u8>, KeyError> {
    let encoded = record.public_key_line.split(' ').next().unwrap_or_default();
    let blob = BASE64_STANDARD
        .decode(encoded)
        .map_err(|error| KeyError::NotBase64 {
            detail: error.to_string(),
        })?;
    if blob.len() != AdbPublicKey::ENCODED_LEN {
        return Err(KeyError::WrongLength { len: blob.len() });
    }
    Ok(blob)
}

fn check_tenant(op: &str, tenant: &str) -> Result<(), ApiError> {
    rules::validate_tenant(tenant).map_err(|e| rule_error(op, ErrorCode::InvalidTenant, e))
}

fn check_name(op: &str, name: &str) -> Result<(), ApiError> {
    rules::validate_key_pair_name(name)
        .map_err(|e| rule_error(op, ErrorCode::InvalidKeyPairName, e))
}

fn rule_error(op: &str, code: ErrorCode, error: RuleError) -> ApiError {
    ApiError::new(code, format!("{op}: {error}"))
}

fn key_error(op: &str, error: KeyError) -> ApiError {
    ApiError::new(ErrorCode::InvalidPublicKeyBody, format!("{op}: {error}"))
}

fn not_found(op: &str, tenant: &str, key_pair_id: &str) -> ApiError {
    store_error(
        op,
        StoreError::NotFound {
            tenant: tenant.to_owned(),
            key_pair_id: key_pair_id.to_owned(),
        },
    )
}

/// Maps a store error to the API's code; the message keeps the store's context (the tenant,
/// the existing KeyPairId, the path).
fn store_error(op: &str, error: StoreError) -> ApiError {
    let code = match &error {
        StoreError::Busy { .. } => ErrorCode::StoreBusy,
        StoreError::QuotaExceeded { .. } => ErrorCode::QuotaExceeded,
        StoreError::DuplicateName { .. } => ErrorCode::DuplicateKeyPairName,
        StoreError::DuplicateKey { .. } => ErrorCode::DuplicatePublicKey,
        StoreError::NotFound { .. } => ErrorCode::KeyPairNotFound,
        StoreError::Io { .. } | StoreError::Corrupt { .. } | StoreError::InvalidRecord { .. } => {
            ErrorCode::InternalError
        }
    };
    ApiError::new(code, format!("{op}: {error}"))
}
