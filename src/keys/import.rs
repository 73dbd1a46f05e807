//! Import input: decides whether a text is an ADB public key or a private key PEM and yields
//! the public key to store. A private key is dropped and zeroized as soon as its public half
//! is known.

use super::private_pem::parse_private_pem;
use super::{AdbPublicKey, KeyError, PublicKeyLine};

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
///
/// # Errors
/// See [`PublicKeyLine::parse`] and [`parse_private_pem`]; a private key that is not 2048-bit
/// with exponent 65537 is refused as its public half would be.
pub fn parse_import(kind: ImportInput, input: &[u8]) -> Result<ImportedKey, KeyError> {
    match kind {
        ImportInput::PublicKey => {
            let line = PublicKeyLine::parse(input)?;
            Ok(ImportedKey {
                key: line.key,
                comment: line.comment,
            })
        }
        ImportInput::PrivateKey => {
            // `rsa::PrivateKey` zeroizes its numbers on drop, which happens at the end of this
            // block, before the public key is handed on.
            let key = {
                let private_key = parse_private_pem(input)?;
                AdbPublicKey::from_rsa(private_key.as_public_key())?
            };
            Ok(ImportedKey {
                key,
                comment: String::new(),
            })
        }
    }
}
