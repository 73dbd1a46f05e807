//! Import input: decides whether a text is an ADB public key or a private key PEM and yields
//! the public key to store. A private key is dropped and zeroized as soon as its public half
//! is known.

use super::{AdbPublicKey, KeyError};

/// What kind of input the user gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportInput {
    /// The text of an `adbkey.pub`.
    PublicKey,
    /// A private key PEM file (only its public half is kept).
    PrivateKey,
}

/// The public key an import yields, with the comment to label it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedKey {
    pub key: AdbPublicKey,
    /// The comment of the `adbkey.pub` line, control characters removed; empty for a private key.
    pub comment: String,
}

/// Parses import input of the given kind. Errors name the rule the input broke.
pub fn parse_import(kind: ImportInput, input: &[u8]) -> Result<ImportedKey, KeyError> {
    let _ = (kind, input);
    unimplemented!("keys helper")
}
