//! Private keys as PEM: writing PKCS#8 as `adb keygen` does, and reading PKCS#8 or PKCS#1.
//!
//! Formats: RFC 7468 (PEM text), RFC 5208 / RFC 5958 (PKCS#8 `PRIVATE KEY`), RFC 8017 A.1.2
//! (PKCS#1 `RSA PRIVATE KEY`). Every buffer that holds private key material is zeroized.

use pkcs8::der::asn1::OctetStringRef;
use pkcs8::der::{Decode as _, Reader as _, SliceReader};
use pkcs8::{EncodePrivateKey as _, LineEnding, ObjectIdentifier, PrivateKeyInfoRef};
use rsa::pkcs1::{DecodeRsaPrivateKey as _, RsaPrivateKeyRef, RsaPublicKeyRef};
use zeroize::Zeroizing;

use super::KeyError;
use super::adb_public_key::{PublicKeyLine, decode_base64};

const PKCS8_LABEL: &str = "PRIVATE KEY";
const PKCS1_LABEL: &str = "RSA PRIVATE KEY";
const ENCRYPTED_PKCS8_LABEL: &str = "ENCRYPTED PRIVATE KEY";

const SPKI_FORMAT: &str = "an X.509 SubjectPublicKeyInfo public key ('BEGIN PUBLIC KEY')";
const PKCS1_PUBLIC_FORMAT: &str = "a PKCS#1 RSA public key ('BEGIN RSA PUBLIC KEY')";

/// Encodes a private key as `-----BEGIN PRIVATE KEY-----` PEM with LF endings: 64-column
/// base64 and a final newline, byte for byte what `adb keygen` writes.
///
/// # Errors
/// [`KeyError::InvalidPrivateKey`] if the key cannot be encoded (a multi-prime key).
pub fn to_pkcs8_pem(key: &rsa::PrivateKey) -> Result<Zeroizing<String>, KeyError> {
    key.to_pkcs8_pem(LineEnding::LF)
        .map_err(|err| KeyError::InvalidPrivateKey {
            detail: err.to_string(),
        })
}

/// Reads one unencrypted RSA private key (PKCS#8 or PKCS#1 PEM).
///
/// Text outside the PEM block is ignored, as RFC 7468 allows; LF, CRLF and CR-only endings
/// (also mixed) and a UTF-8 byte-order mark are accepted.
///
/// # Errors
/// Encrypted and non-RSA keys, public keys, a label that does not match the body, a file
/// with more than one key, and malformed PEM each have their own [`KeyError`].
pub fn parse_private_pem(text: &[u8]) -> Result<rsa::PrivateKey, KeyError> {
    let text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text);
    if text
        .iter()
        .all(|byte| byte.is_ascii_whitespace() || *byte == 0)
    {
        return Err(KeyError::Empty);
    }

    let blocks = scan_pem_blocks(text)?;
    if blocks.is_empty() {
        return Err(not_pem(text));
    }

    let key_blocks: Vec<&PemBlock> = blocks.iter().filter(|block| block.holds_key()).collect();
    let block = match key_blocks.as_slice() {
        [] => {
            return Err(KeyError::MalformedPem {
                detail: format!("it holds {} but no key", block_name(&blocks[0].label)),
            });
        }
        [block] => *block,
        _ => {
            return Err(KeyError::MultipleKeys {
                count: key_blocks.len(),
            });
        }
    };

    let key = parse_key_block(block)?;

    if let Some(other) = blocks.iter().find(|other| !other.holds_key()) {
        return Err(KeyError::MalformedPem {
            detail: format!(
                "besides the key it holds {}; give the private key alone",
                block_name(&other.label)
            ),
        });
    }
    Ok(key)
}

/// One `-----BEGIN LABEL-----` ... `-----END LABEL-----` block.
struct PemBlock {
    label: String,
    /// Whether an RFC 1421 header says `Proc-Type: 4,ENCRYPTED` (OpenSSL's legacy encryption).
    encrypted_header: bool,
    /// Any other RFC 1421 header line, which RFC 7468 does not allow.
    other_header: Option<String>,
    /// The base64 lines joined, without white space.
    base64: Zeroizing<Vec<u8>>,
}

impl PemBlock {
    /// Whether the label names a key ("PRIVATE KEY", "EC PRIVATE KEY", "PUBLIC KEY", ...), as
    /// opposed to "CERTIFICATE" or "EC PARAMETERS".
    fn holds_key(&self) -> bool {
        self.label.ends_with("KEY")
    }

    fn der(&self) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        if let Some(header) = &self.other_header {
            return Err(KeyError::MalformedPem {
                detail: format!(
                    "{} has a header line ('{}:'), which RFC 7468 does not allow",
                    block_name(&self.label),
                    quoted_label(header.split(':').next().unwrap_or_default())
                        .unwrap_or("not a plain name")
                ),
            });
        }

        decode_base64(&self.base64)
            .map(Zeroizing::new)
            .map_err(|detail| KeyError::MalformedPem {
                detail: format!(
                    "the body of {} is not base64: {detail}",
                    block_name(&self.label)
                ),
            })
    }
}

/// Finds the PEM blocks of a text; lines outside blocks are skipped.
fn scan_pem_blocks(text: &[u8]) -> Result<Vec<PemBlock>, KeyError> {
    let mut blocks = Vec::new();
    let mut open: Option<PemBlock> = None;

    for line in super::split_lines(text).into_iter().map(<[u8]>::trim_ascii) {
        match open.as_mut() {
            None => {
                if let Some(label) = boundary_label(line, b"-----BEGIN ") {
                    open = Some(PemBlock {
                        label,
                        encrypted_header: false,
                        other_header: None,
                        base64: Zeroizing::new(Vec::with_capacity(text.len())),
                    });
                }
            }
            Some(block) => {
                if let Some(label) = boundary_label(line, b"-----END ") {
                    if label != block.label {
                        let detail = match quoted_label(&label) {
                            Some(end) => {
                                format!("{} ends with 'END {end}'", block_name(&block.label))
                            }
                            None => format!(
                                "{} ends with an END line of another label",
                                block_name(&block.label)
                            ),
                        };
                        return Err(KeyError::MalformedPem { detail });
                    }
                    blocks.extend(open.take());
                } else if line.contains(&b':') {
                    let header = String::from_utf8_lossy(line).into_owned();
                    if header.starts_with("Proc-Type:") && header.contains("ENCRYPTED") {
                        block.encrypted_header = true;
                    } else if !header.starts_with("DEK-Info:") {
                        block.other_header.get_or_insert(header);
                    }
                } else {
                    block.base64.extend_from_slice(line);
                }
            }
        }
    }

    if let Some(block) = open {
        return Err(KeyError::MalformedPem {
            detail: format!("{} has no END line", block_name(&block.label)),
        });
    }
    Ok(blocks)
}

/// The label of a `-----BEGIN LABEL-----` or `-----END LABEL-----` line.
fn boundary_label(line: &[u8], prefix: &[u8]) -> Option<String> {
    let label = line.strip_prefix(prefix)?.strip_suffix(b"-----")?;
    Some(String::from_utf8_lossy(label).into_owned())
}

/// The longest label that error messages quote. Text in a label's place can be key material
/// (a BEGIN line glued to the body when line breaks were lost), so only a short label made of
/// label characters is ever quoted.
const MAX_QUOTED_LABEL: usize = 40;

/// A label fit to quote in a message: 1 to 40 capital letters, digits and spaces; `None` for
/// anything else.
fn quoted_label(label: &str) -> Option<&str> {
    let plain = label
        .bytes()
        .all(|byte| byte.is_ascii_uppercase() || byte.is_ascii_digit() || byte == b' ');
    (plain && !label.is_empty() && label.len() <= MAX_QUOTED_LABEL).then_some(label)
}

/// "the 'LABEL' block", or "a PEM block whose label is not a plain name" when the label is not
/// fit to quote.
fn block_name(label: &str) -> String {
    match quoted_label(label) {
        Some(label) => format!("the '{label}' block"),
        None => "a PEM block whose label is not a plain name".to_string(),
    }
}

/// Names what a text without any PEM block is.
fn not_pem(text: &[u8]) -> KeyError {
    let start = text.trim_ascii_start();
    if PublicKeyLine::parse(text).is_ok() {
        KeyError::PrivateKeyExpected {
            found: "an ADB public key",
        }
    } else if start.starts_with(b"ssh-rsa ") {
        KeyError::OtherPublicFormat {
            format: "an OpenSSH 'ssh-rsa' public key",
        }
    } else if start.starts_with(b"---- BEGIN SSH2 PUBLIC KEY") {
        KeyError::OtherPublicFormat {
            format: "an SSH2 (RFC 4716) public key",
        }
    } else {
        KeyError::MalformedPem {
            detail: "no '-----BEGIN' line found".to_string(),
        }
    }
}

fn parse_key_block(block: &PemBlock) -> Result<rsa::PrivateKey, KeyError> {
    if block.encrypted_header {
        return Err(KeyError::EncryptedPrivateKey);
    }

    match block.label.as_str() {
        ENCRYPTED_PKCS8_LABEL => Err(KeyError::EncryptedPrivateKey),
        PKCS8_LABEL => parse_pkcs8(&block.der()?),
        PKCS1_LABEL => parse_pkcs1(&block.der()?),
        "EC PRIVATE KEY" => Err(KeyError::NotRsa {
            algorithm: "EC".to_string(),
        }),
        "DSA PRIVATE KEY" => Err(KeyError::NotRsa {
            algorithm: "DSA".to_string(),
        }),
        "OPENSSH PRIVATE KEY" => Err(KeyError::UnsupportedPrivateFormat {
            format: "an OpenSSH private key ('BEGIN OPENSSH PRIVATE KEY')",
        }),
        "PUBLIC KEY" => Err(KeyError::OtherPublicFormat {
            format: SPKI_FORMAT,
        }),
        "RSA PUBLIC KEY" => Err(KeyError::OtherPublicFormat {
            format: PKCS1_PUBLIC_FORMAT,
        }),
        other => Err(KeyError::MalformedPem {
            detail: match quoted_label(other) {
                Some(label) => {
                    format!("the label '{label}' is not '{PKCS8_LABEL}' or '{PKCS1_LABEL}'")
                }
                None => format!(
                    "the BEGIN line's label is not a plain name like '{PKCS8_LABEL}' or \
                     '{PKCS1_LABEL}'"
                ),
            },
        }),
    }
}

fn parse_pkcs8(der: &[u8]) -> Result<rsa::PrivateKey, KeyError> {
    let Ok(info) = PrivateKeyInfoRef::from_der(der) else {
        return Err(label_mismatch(PKCS8_LABEL, der));
    };

    if info.algorithm.oid != rsa::pkcs1::ALGORITHM_OID {
        return Err(KeyError::NotRsa {
            algorithm: algorithm_name(info.algorithm.oid),
        });
    }
    rsa::PrivateKey::try_from(info).map_err(|err| KeyError::InvalidPrivateKey {
        detail: err.to_string(),
    })
}

fn parse_pkcs1(der: &[u8]) -> Result<rsa::PrivateKey, KeyError> {
    if RsaPrivateKeyRef::from_der(der).is_err() {
        return Err(label_mismatch(PKCS1_LABEL, der));
    }

    rsa::PrivateKey::from_pkcs1_der(der).map_err(|err| KeyError::InvalidPrivateKey {
        detail: err.to_string(),
    })
}

/// The error for a body that does not parse as its label says: names what the body is, if it
/// is another key structure.
fn label_mismatch(label: &str, der: &[u8]) -> KeyError {
    let body = if PrivateKeyInfoRef::from_der(der).is_ok() {
        "a PKCS#8 private key, labelled 'PRIVATE KEY'"
    } else if RsaPrivateKeyRef::from_der(der).is_ok() {
        "a PKCS#1 RSA private key, labelled 'RSA PRIVATE KEY'"
    } else if is_encrypted_pkcs8(der) {
        "an encrypted PKCS#8 private key, labelled 'ENCRYPTED PRIVATE KEY'"
    } else if pkcs8::SubjectPublicKeyInfoRef::from_der(der).is_ok() {
        "an X.509 public key, labelled 'PUBLIC KEY'"
    } else if RsaPublicKeyRef::from_der(der).is_ok() {
        "a PKCS#1 RSA public key, labelled 'RSA PUBLIC KEY'"
    } else {
        return KeyError::MalformedPem {
            detail: format!("the body of the '{label}' block is not a '{label}' structure"),
        };
    };

    KeyError::PemLabelMismatch {
        label: label.to_string(),
        detail: format!("the body is {body}"),
    }
}

/// Whether DER is an EncryptedPrivateKeyInfo: SEQUENCE { AlgorithmIdentifier, OCTET STRING }.
fn is_encrypted_pkcs8(der: &[u8]) -> bool {
    let Ok(mut reader) = SliceReader::new(der) else {
        return false;
    };

    let parsed = reader.sequence(|inner| {
        pkcs8::AlgorithmIdentifierRef::decode(inner)?;
        <&OctetStringRef>::decode(inner)?;
        Ok::<(), pkcs8::der::Error>(())
    });
    parsed.is_ok() && reader.is_finished()
}

/// A readable name for a PKCS#8 algorithm identifier.
fn algorithm_name(oid: ObjectIdentifier) -> String {
    let name = match oid.to_string().as_str() {
        "1.2.840.10045.2.1" => "EC",
        "1.2.840.10040.4.1" => "DSA",
        "1.2.840.113549.1.1.10" => "RSASSA-PSS (an RSA key restricted to PSS signatures)",
        "1.2.840.113549.1.3.1" => "Diffie-Hellman",
        "1.3.101.110" => "X25519",
        "1.3.101.111" => "X448",
        "1.3.101.112" => "Ed25519",
        "1.3.101.113" => "Ed448",
        other => return format!("the algorithm with OID '{other}'"),
    };
    name.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundary_label_reads_begin_and_end_lines() {
        assert_eq!(
            boundary_label(b"-----BEGIN PRIVATE KEY-----", b"-----BEGIN "),
            Some("PRIVATE KEY".to_string())
        );
        assert_eq!(
            boundary_label(b"-----BEGIN PRIVATE KEY", b"-----BEGIN "),
            None
        );
        assert_eq!(boundary_label(b"-----END X-----", b"-----BEGIN "), None);
    }

    #[test]
    fn an_unterminated_block_is_malformed() {
        let err = parse_private_pem(b"-----BEGIN PRIVATE KEY-----\nMIIE\n").expect_err("no END");
        assert_eq!(
            err,
            KeyError::MalformedPem {
                detail: "the 'PRIVATE KEY' block has no END line".into()
            }
        );
    }

    #[test]
    fn mismatched_begin_and_end_labels_are_malformed() {
        let text = b"-----BEGIN PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----\n";
        let err = parse_private_pem(text).expect_err("labels differ");
        assert!(matches!(err, KeyError::MalformedPem { .. }), "{err:?}");
    }

    #[test]
    fn legacy_encrypted_pkcs1_is_refused_as_encrypted() {
        let text = b"-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n\
            DEK-Info: AES-128-CBC,00112233445566778899AABBCCDDEEFF\n\nMIIE\n\
            -----END RSA PRIVATE KEY-----\n";
        assert_eq!(parse_private_pem(text), Err(KeyError::EncryptedPrivateKey));
    }

    #[test]
    fn algorithm_names_cover_common_oids() {
        let ed25519 = ObjectIdentifier::new_unwrap("1.3.101.112");
        assert_eq!(algorithm_name(ed25519), "Ed25519");

        let unknown = ObjectIdentifier::new_unwrap("1.2.3.4");
        assert_eq!(algorithm_name(unknown), "the algorithm with OID '1.2.3.4'");
    }
}
