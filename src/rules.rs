//! The cloud API's rules for names and tenants, and its identifiers and timestamps.

use chrono::{DateTime, Utc};

/// The most key pairs one tenant may hold, created and imported together.
pub const KEY_PAIR_QUOTA: usize = 500;

/// The tenant used when none is named.
pub const DEFAULT_TENANT: &str = "default";

/// A broken naming rule. The message names the rule and, where there is one, the 1-based
/// position of the first offending character.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RuleError {
    pub message: String,
    /// 1-based character position of the first offending character, if one is to blame.
    pub position: Option<usize>,
}

/// Checks a KeyPairName: 2-128 characters of ASCII letters, CJK ideographs (U+4E00-U+9FFF,
/// U+3400-U+4DBF), ASCII digits, `:`, `_`, `-`, starting with a letter or an ideograph.
pub fn validate_key_pair_name(name: &str) -> Result<(), RuleError> {
    let _ = name;
    unimplemented!("store helper")
}

/// Checks a tenant: 1-64 characters of `[A-Za-z0-9._-]`, not starting with `.` or `-`.
pub fn validate_tenant(tenant: &str) -> Result<(), RuleError> {
    let _ = tenant;
    unimplemented!("store helper")
}

/// A new KeyPairId: `kp-` and 17 random characters of `[a-z0-9]`.
pub fn new_key_pair_id() -> String {
    unimplemented!("store helper")
}

/// A new RequestId: an upper-case UUID v4.
pub fn new_request_id() -> String {
    unimplemented!("store helper")
}

/// GmtCreated as the API writes it: `2024-06-30 08:45:09.0` (UTC, one decimal of the second).
pub fn format_gmt(time: DateTime<Utc>) -> String {
    let _ = time;
    unimplemented!("store helper")
}
