//! The API's error codes, their messages and the CLI exit code each one maps to.

use std::fmt;

/// One error code of the cloud API, as it appears in the `Code` field of a JSON error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    InvalidKeyPairName,
    InvalidPublicKeyBody,
    InvalidMaxResults,
    InvalidNextToken,
    InvalidTenant,
    DuplicateKeyPairName,
    DuplicatePublicKey,
    QuotaExceeded,
    KeyPairNotFound,
    StoreBusy,
    InternalError,
}

impl ErrorCode {
    /// The code as the API spells it, e.g. `InvalidParameter.KeyPairName`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidKeyPairName => "InvalidParameter.KeyPairName",
            Self::InvalidPublicKeyBody => "InvalidParameter.PublicKeyBody",
            Self::InvalidMaxResults => "InvalidParameter.MaxResults",
            Self::InvalidNextToken => "InvalidParameter.NextToken",
            Self::InvalidTenant => "InvalidParameter.Tenant",
            Self::DuplicateKeyPairName => "InvalidKeyPairName.Duplicate",
            Self::DuplicatePublicKey => "InvalidPublicKey.Duplicate",
            Self::QuotaExceeded => "QuotaExceeded.KeyPair",
            Self::KeyPairNotFound => "InvalidKeyPairId.NotFound",
            Self::StoreBusy => "StoreBusy",
            Self::InternalError => "InternalError",
        }
    }

    /// The process exit code the CLI uses for this error (2 is reserved for usage errors).
    pub fn exit_code(self) -> i32 {
        match self {
            Self::InternalError => 1,
            Self::InvalidKeyPairName
            | Self::InvalidPublicKeyBody
            | Self::InvalidMaxResults
            | Self::InvalidNextToken
            | Self::InvalidTenant => 3,
            Self::KeyPairNotFound => 4,
            Self::QuotaExceeded => 5,
            Self::DuplicateKeyPairName | Self::DuplicatePublicKey => 6,
            Self::StoreBusy => 7,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error as the API reports it: a code and a message for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}
