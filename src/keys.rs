//! ADB key formats: the 524-byte RSAPublicKey structure, its text line, private-key PEM,
//! fingerprints, and RSA-2048 key generation. Pure functions, no I/O.
//!
//! ../shared/docs/adb.md (Part 1) is the reference for every format here.

pub mod adb_public_key;
pub mod fingerprint;
pub mod generate;
pub mod import;
pub mod primes;
pub mod private_pem;

pub use adb_public_key::{AdbPublicKey, PublicKeyLine};
pub use generate::{GeneratedKeyPair, generate_key_pair};
pub use import::{ImportedKey, parse_import};

/// Splits a text into lines at LF, CRLF or a lone CR: terminals send pasted line breaks as CR,
/// and files from other systems use CRLF. Like `split`, a text ending in a break yields a final
/// empty line.
pub(crate) fn split_lines(text: &[u8]) -> Vec<&[u8]> {
    let mut lines = Vec::new();
    let mut start = 0;
    let mut index = 0;
    while index < text.len() {
        match text[index] {
            b'\n' => {
                lines.push(&text[start..index]);
                start = index + 1;
            }
            b'\r' => {
                lines.push(&text[start..index]);
                if text.get(index + 1) == Some(&b'\n') {
                    index += 1;
                }
                start = index + 1;
            }
            _ => {}
        }
        index += 1;
    }

    lines.push(&text[start..]);
    lines
}

/// Why a key was refused or could not be made. Each message names the rule that was broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("the key is empty")]
    Empty,
    /// `detail` says what is wrong and at which character, e.g. "character 3 ('#') is not in
    /// the standard base64 alphabet".
    #[error("the key is not valid base64: {detail}")]
    NotBase64 { detail: String },
    #[error("the key decodes to {len} bytes; an ADB public key is 524 bytes")]
    WrongLength { len: usize },
    #[error("the key's modulus size word is {words}; a 2048-bit ADB key has 64")]
    SizeWord { words: u32 },
    #[error("the key is {bits}-bit; ADB accepts only 2048-bit RSA keys")]
    ModulusSize { bits: usize },
    #[error("the public exponent is {exponent}; adbkeys accepts only 65537")]
    Exponent { exponent: u64 },
    #[error("n0inv does not match the modulus (stored {stored:#010x}, expected {expected:#010x})")]
    N0invMismatch { stored: u32, expected: u32 },
    #[error("R^2 mod n does not match the modulus")]
    RrMismatch,
    #[error("the modulus is even, so it is not an RSA modulus")]
    EvenModulus,
    #[error("the public key is invalid: {detail}")]
    InvalidPublicKey { detail: String },
    #[error("line {line} is not part of the key; an ADB public key file holds one key line")]
    ExtraLine { line: usize },
    /// An input in another format; `format` names it, e.g. "an OpenSSH ssh-rsa public key".
    #[error("this is {format}, not an ADB public key; `adb pubkey PRIVATE_KEY` prints the ADB one")]
    OtherPublicFormat { format: &'static str },
    /// A private key given where a public key was expected, or similar; `found` names it.
    #[error(
        "this is {found}, not an ADB public key; import it as a private key instead (only \
             its public half is kept)"
    )]
    PublicKeyExpected { found: &'static str },
    /// A public key given where a private key PEM was expected; `found` names it.
    #[error("this is {found}, not a private key PEM; import it as a public key instead")]
    PrivateKeyExpected { found: &'static str },
    #[error("the private key is encrypted; ADB keys are unencrypted PEM (adb refuses them too)")]
    EncryptedPrivateKey,
    /// `algorithm` names it, e.g. "EC" or "Ed25519".
    #[error("the private key uses {algorithm}, not RSA; ADB keys are RSA")]
    NotRsa { algorithm: String },
    /// A private key in a container adb cannot load, e.g. OpenSSH's own format.
    #[error(
        "the private key is {format}, which adb cannot load; convert it to PKCS#8 PEM \
             ('BEGIN PRIVATE KEY') first"
    )]
    UnsupportedPrivateFormat { format: &'static str },
    #[error("the PEM label '{label}' does not match its contents: {detail}")]
    PemLabelMismatch { label: String, detail: String },
    #[error("the input holds {count} keys; import one key at a time (none was imported)")]
    MultipleKeys { count: usize },
    #[error("the PEM is malformed: {detail}")]
    MalformedPem { detail: String },
    #[error("the private key is invalid: {detail}")]
    InvalidPrivateKey { detail: String },
    #[error("key generation failed: {detail}")]
    Generation { detail: String },
}
