//! The ADB RSAPublicKey structure (524 bytes) and the `adbkey.pub` text line built on it.
//!
//! Layout (adb.md 1.1, from AOSP `libcrypto_utils/android_pubkey.c`), all little-endian:
//! modulus size in 32-bit words (64), n0inv = -(n^-1) mod 2^32, n (256 bytes), R^2 mod n with
//! R = 2^2048 (256 bytes), exponent (u32).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rsa::BoxedUint;
use rsa::traits::PublicKeyParts as _;

use super::KeyError;

/// The only modulus size ADB handles, in bits.
const MODULUS_BITS: u32 = 2048;
/// The modulus size in 32-bit words, as the structure's first field says.
const MODULUS_WORDS: u32 = MODULUS_BITS / 32;
/// Bytes in the modulus and in R^2 mod n.
const MODULUS_BYTES: usize = 256;
/// The only public exponent adbkeys accepts (what `adb keygen` uses).
const EXPONENT: u32 = 65537;

const N0INV_RANGE: std::ops::Range<usize> = 4..8;
const MODULUS_RANGE: std::ops::Range<usize> = 8..8 + MODULUS_BYTES;
const RR_RANGE: std::ops::Range<usize> = 8 + MODULUS_BYTES..8 + 2 * MODULUS_BYTES;
const EXPONENT_RANGE: std::ops::Range<usize> = 8 + 2 * MODULUS_BYTES..AdbPublicKey::ENCODED_LEN;

/// The UTF-8 byte-order mark some editors put at the start of a text file.
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// An RSA-2048 public key with exponent 65537, held as its validated 524-byte ADB structure.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct AdbPublicKey {
    blob: [u8; AdbPublicKey::ENCODED_LEN],
}

impl AdbPublicKey {
    /// Size of Android's RSAPublicKey structure for a 2048-bit key.
    pub const ENCODED_LEN: usize = 524;
    /// Length of the structure's base64 text.
    pub const BASE64_LEN: usize = 700;

    /// Encodes an RSA public key; refuses anything but 2048 bits and exponent 65537.
    ///
    /// # Errors
    /// [`KeyError::ModulusSize`] or [`KeyError::Exponent`] for any other key.
    pub fn from_rsa(key: &rsa::PublicKey) -> Result<Self, KeyError> {
        let bits = key.n().bit_width_vartime();
        if bits != MODULUS_BITS {
            return Err(KeyError::ModulusSize {
                bits: bits as usize,
            });
        }

        let exponent = exponent_of(key);
        if exponent != u64::from(EXPONENT) {
            return Err(KeyError::Exponent { exponent });
        }

        Ok(Self { blob: encode(key) })
    }

    /// Decodes and checks a 524-byte structure strictly (size word, bits, exponent, n0inv, rr).
    ///
    /// # Errors
    /// The first rule the bytes break, in the order: length, size word, odd modulus, 2048 bits,
    /// exponent 65537, n0inv, R^2 mod n.
    pub fn from_blob(bytes: &[u8]) -> Result<Self, KeyError> {
        let blob: [u8; Self::ENCODED_LEN] = bytes.try_into().map_err(|_| length_error(bytes))?;

        let words = read_u32(&blob, 0);
        if words != MODULUS_WORDS {
            return Err(KeyError::SizeWord { words });
        }

        let modulus = BoxedUint::from_le_slice_vartime(&blob[MODULUS_RANGE]);
        if blob[MODULUS_RANGE.start] & 1 == 0 {
            return Err(KeyError::EvenModulus);
        }
        let bits = modulus.bit_width_vartime();
        if bits != MODULUS_BITS {
            return Err(KeyError::ModulusSize {
                bits: bits as usize,
            });
        }

        let exponent = read_u32(&blob, EXPONENT_RANGE.start);
        if exponent != EXPONENT {
            return Err(KeyError::Exponent {
                exponent: u64::from(exponent),
            });
        }

        // Older phones compute with the stored n0inv and R^2 rather than recomputing them, so a
        // structure whose constants do not belong to its modulus is refused.
        let key = rsa::PublicKey::new(modulus, BoxedUint::from(EXPONENT)).map_err(|err| {
            KeyError::InvalidPublicKey {
                detail: err.to_string(),
            }
        })?;
        let expected = encode(&key);
        if blob[N0INV_RANGE] != expected[N0INV_RANGE] {
            return Err(KeyError::N0invMismatch {
                stored: read_u32(&blob, N0INV_RANGE.start),
                expected: read_u32(&expected, N0INV_RANGE.start),
            });
        }
        if blob[RR_RANGE] != expected[RR_RANGE] {
            return Err(KeyError::RrMismatch);
        }

        Ok(Self { blob })
    }

    /// The 524 bytes.
    pub fn blob(&self) -> &[u8; Self::ENCODED_LEN] {
        &self.blob
    }

    /// The 700-character standard base64 of the structure, as in `adbkey.pub`.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.blob)
    }

    /// The `adbkey.pub` line: base64, one space, the comment (no newline). With an empty
    /// comment, the base64 alone.
    pub fn to_line(&self, comment: &str) -> String {
        if comment.is_empty() {
            self.to_base64()
        } else {
            format!("{} {comment}", self.to_base64())
        }
    }

    /// The key as an `rsa` public key (for verifying ADB AUTH signatures).
    pub fn to_rsa(&self) -> rsa::PublicKey {
        let modulus = BoxedUint::from_le_slice_vartime(&self.blob[MODULUS_RANGE]);

        // `from_blob` and `from_rsa` only admit an odd 2048-bit modulus, which is all that
        // `new_unchecked` requires.
        rsa::PublicKey::new_unchecked(modulus, BoxedUint::from(EXPONENT))
    }

    /// MD5 over the structure, as the phone's "Allow USB debugging?" dialog prints it.
    pub fn fingerprint_md5(&self) -> String {
        super::fingerprint::md5(&self.blob)
    }

    /// SHA-256 over the structure, in OpenSSH's `SHA256:` style (unpadded base64).
    pub fn fingerprint_sha256(&self) -> String {
        super::fingerprint::sha256(&self.blob)
    }
}

impl std::fmt::Debug for AdbPublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AdbPublicKey({})", self.fingerprint_md5())
    }
}

/// Builds the 524-byte structure of a key already known to be 2048-bit with exponent 65537.
fn encode(key: &rsa::PublicKey) -> [u8; AdbPublicKey::ENCODED_LEN] {
    let modulus = key.n();
    let modulus_le = modulus.to_le_bytes();
    let n0 = u32::from_le_bytes([modulus_le[0], modulus_le[1], modulus_le[2], modulus_le[3]]);

    // R^2 mod n with R = 2^2048: reduce 2^4096, held with one spare limb of precision.
    let r_squared = BoxedUint::one_with_precision(2 * MODULUS_BITS + 64).shl(2 * MODULUS_BITS);
    let rr_le = r_squared.rem_vartime(modulus).to_le_bytes();

    let mut blob = [0u8; AdbPublicKey::ENCODED_LEN];
    blob[0..4].copy_from_slice(&MODULUS_WORDS.to_le_bytes());
    blob[N0INV_RANGE].copy_from_slice(&inverse_mod_2_32(n0).wrapping_neg().to_le_bytes());
    blob[MODULUS_RANGE].copy_from_slice(&modulus_le[..MODULUS_BYTES]);
    blob[RR_RANGE].copy_from_slice(&rr_le[..MODULUS_BYTES]);
    blob[EXPONENT_RANGE].copy_from_slice(&EXPONENT.to_le_bytes());
    blob
}

/// The inverse of an odd number modulo 2^32, by Newton's iteration (each step doubles the
/// number of correct low bits; an odd `x` is its own inverse modulo 8).
fn inverse_mod_2_32(odd: u32) -> u32 {
    let mut inverse = odd;
    for _ in 0..4 {
        inverse = inverse.wrapping_mul(2u32.wrapping_sub(odd.wrapping_mul(inverse)));
    }
    inverse
}

/// The public exponent, saturated to `u64::MAX` when it does not fit.
fn exponent_of(key: &rsa::PublicKey) -> u64 {
    let bytes = key.e_bytes();
    if bytes.len() > 8 {
        return u64::MAX;
    }
    bytes
        .iter()
        .fold(0u64, |value, byte| (value << 8) | u64::from(*byte))
}

fn read_u32(bytes: &[u8], offset: usize) -> u32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[offset..offset + 4]);
    u32::from_le_bytes(word)
}

/// The error for a structure that is not 524 bytes: an ADB-style structure of another modulus
/// size (its size word agrees with its length) is named by that size.
fn length_error(bytes: &[u8]) -> KeyError {
    if bytes.len() >= 4 {
        let words = read_u32(bytes, 0) as usize;
        if words != 0 && words.checked_mul(8).and_then(|n| n.checked_add(12)) == Some(bytes.len()) {
            return KeyError::ModulusSize { bits: words * 32 };
        }
    }
    KeyError::WrongLength { len: bytes.len() }
}

/// Decodes standard base64 with padding, strictly; the error says what is wrong and where.
pub(super) fn decode_base64(text: &[u8]) -> Result<Vec<u8>, String> {
    STANDARD
        .decode(text)
        .map_err(|err| base64_error_detail(&err, text.len()))
}

fn base64_error_detail(err: &base64::DecodeError, len: usize) -> String {
    match *err {
        base64::DecodeError::InvalidByte(offset, byte) => format!(
            "character {} ({}) is not in the standard base64 alphabet",
            offset + 1,
            quote_byte(byte)
        ),
        base64::DecodeError::InvalidLength(_) => {
            format!("its length, {len} characters, is not a whole number of base64 groups")
        }
        base64::DecodeError::InvalidLastSymbol(offset, byte) => format!(
            "its last character {} at {} does not end base64 cleanly",
            quote_byte(byte),
            offset + 1
        ),
        base64::DecodeError::InvalidPadding => "its '=' padding is wrong".to_string(),
    }
}

fn quote_byte(byte: u8) -> String {
    if byte.is_ascii_graphic() || byte == b' ' {
        format!("'{}'", char::from(byte))
    } else {
        format!("byte 0x{byte:02x}")
    }
}

/// A parsed `adbkey.pub` line: the key and its comment (a label only; identity is the key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKeyLine {
    pub key: AdbPublicKey,
    pub comment: String,
}

impl PublicKeyLine {
    /// Parses the text of an `adbkey.pub`, as leniently about layout as adbd and strictly about
    /// the key (see the import rules in docs/key-formats.md).
    ///
    /// Layout that is accepted: a UTF-8 byte-order mark, surrounding white space, LF, CRLF or
    /// CR-only endings (also mixed; terminals paste line breaks as CR), blank lines, NUL or
    /// other control bytes between the key and the comment, and the base64 wrapped over several
    /// lines when the joined text is exactly one key.
    ///
    /// # Errors
    /// Other formats (OpenSSH, X.509, PKCS#1, a private key) are named; a file with more than
    /// one key is refused with the count; otherwise the first rule the key breaks.
    pub fn parse(text: &[u8]) -> Result<Self, KeyError> {
        let text = text.strip_prefix(UTF8_BOM).unwrap_or(text);

        let lines: Vec<(usize, &[u8])> = super::split_lines(text)
            .into_iter()
            .map(trim_layout)
            .enumerate()
            .filter(|(_, line)| !line.is_empty())
            .map(|(index, line)| (index + 1, line))
            .collect();
        if lines.is_empty() {
            return Err(KeyError::Empty);
        }
        if let Some(err) = other_format(&lines) {
            return Err(err);
        }

        let key_lines: Vec<usize> = lines
            .iter()
            .filter(|(_, line)| holds_one_key(key_token(line).0))
            .map(|(number, _)| *number)
            .collect();
        match (lines.len(), key_lines.len()) {
            (1, _) => parse_single_line(lines[0].1),
            (_, 0) => parse_wrapped(&lines),
            (_, 1) => {
                let extra = lines
                    .iter()
                    .find(|(number, _)| *number != key_lines[0])
                    .map_or(0, |(number, _)| *number);
                Err(KeyError::ExtraLine { line: extra })
            }
            (_, count) => Err(KeyError::MultipleKeys { count }),
        }
    }

    /// The canonical line: 700 base64 characters, a space, the comment without control
    /// characters. With an empty comment, the base64 alone.
    pub fn canonical(&self) -> String {
        self.key.to_line(&clean_comment(&self.comment))
    }
}

/// Removes control characters and surrounding white space from a comment.
fn clean_comment(comment: &str) -> String {
    comment
        .chars()
        .filter(|c| !c.is_control())
        .collect::<String>()
        .trim()
        .to_string()
}

/// A line without surrounding white space, carriage return, NUL or other control bytes.
fn trim_layout(line: &[u8]) -> &[u8] {
    let is_layout = |byte: &u8| byte.is_ascii_whitespace() || byte.is_ascii_control();
    let start = line
        .iter()
        .position(|b| !is_layout(b))
        .unwrap_or(line.len());
    let end = line
        .iter()
        .rposition(|b| !is_layout(b))
        .map_or(start, |end| end + 1);
    &line[start..end]
}

/// Splits a trimmed line into the key text and the rest: the key ends at the first space, tab,
/// NUL or other control byte (adbd cuts at the first space or tab).
fn key_token(line: &[u8]) -> (&[u8], &[u8]) {
    let end = line
        .iter()
        .position(|byte| *byte == b' ' || byte.is_ascii_control())
        .unwrap_or(line.len());
    line.split_at(end)
}

/// Whether a text is the base64 of exactly one 524-byte structure (valid or not).
fn holds_one_key(token: &[u8]) -> bool {
    token.len() == AdbPublicKey::BASE64_LEN
        && decode_base64(token).is_ok_and(|bytes| bytes.len() == AdbPublicKey::ENCODED_LEN)
}

fn parse_single_line(line: &[u8]) -> Result<PublicKeyLine, KeyError> {
    let (token, rest) = key_token(line);

    let blob = decode_base64(token).map_err(|detail| KeyError::NotBase64 { detail })?;
    let key = AdbPublicKey::from_blob(&blob)?;

    let comment = clean_comment(&String::from_utf8_lossy(rest));
    Ok(PublicKeyLine { key, comment })
}

/// A key whose base64 is wrapped over several lines; only the last line may carry a comment.
fn parse_wrapped(lines: &[(usize, &[u8])]) -> Result<PublicKeyLine, KeyError> {
    let (last, body) = lines.split_last().ok_or(KeyError::Empty)?;
    if let Some((_, line)) = body
        .iter()
        .find(|(_, line)| key_token(line).0.len() != line.len())
    {
        // A line before the last that carries more than base64 is not a wrapped key.
        return parse_single_line(line);
    }

    let mut joined: Vec<u8> = body
        .iter()
        .flat_map(|(_, line)| line.iter().copied())
        .collect();
    joined.extend_from_slice(last.1);

    let (token, _) = key_token(&joined);
    let chunks = token.len() / AdbPublicKey::BASE64_LEN;
    if chunks > 1
        && token.len() % AdbPublicKey::BASE64_LEN == 0
        && token.chunks(AdbPublicKey::BASE64_LEN).all(holds_one_key)
    {
        return Err(KeyError::MultipleKeys { count: chunks });
    }
    parse_single_line(&joined)
}

/// Names a public key in another format, which the user can convert with `adb pubkey`.
fn other_format(lines: &[(usize, &[u8])]) -> Option<KeyError> {
    for (_, line) in lines {
        let format = if line.starts_with(b"-----BEGIN PUBLIC KEY-----") {
            "an X.509 SubjectPublicKeyInfo public key ('BEGIN PUBLIC KEY')"
        } else if line.starts_with(b"-----BEGIN RSA PUBLIC KEY-----") {
            "a PKCS#1 RSA public key ('BEGIN RSA PUBLIC KEY')"
        } else if line.starts_with(b"---- BEGIN SSH2 PUBLIC KEY") {
            "an SSH2 (RFC 4716) public key"
        } else if line.starts_with(b"-----BEGIN CERTIFICATE-----") {
            "an X.509 certificate"
        } else if line.starts_with(b"-----BEGIN ") && contains(line, b"PRIVATE KEY-----") {
            return Some(KeyError::PublicKeyExpected {
                found: "a private key",
            });
        } else if line.starts_with(b"-----BEGIN ") {
            "a PEM file"
        } else if line.starts_with(b"ssh-rsa ") || contains(line, b" ssh-rsa AAAA") {
            "an OpenSSH 'ssh-rsa' public key"
        } else if line.starts_with(b"ssh-")
            || line.starts_with(b"ecdsa-sha2-")
            || line.starts_with(b"sk-")
        {
            "an OpenSSH public key"
        } else {
            continue;
        };
        return Some(KeyError::OtherPublicFormat { format });
    }
    None
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverse_mod_2_32_inverts_odd_numbers() {
        for odd in [1u32, 3, 0xae06_30cd, 0xffff_ffff, 0x8000_0001] {
            assert_eq!(
                odd.wrapping_mul(inverse_mod_2_32(odd)),
                1,
                "inverse of {odd:#x}"
            );
        }
    }

    #[test]
    fn trim_layout_removes_white_space_and_control_bytes_at_both_ends() {
        assert_eq!(trim_layout(b" \t\0abc d\r"), b"abc d");
        assert_eq!(trim_layout(b"\r\0 "), b"");
    }

    #[test]
    fn key_token_ends_at_space_tab_or_control_byte() {
        assert_eq!(
            key_token(b"QUJD user@host"),
            (&b"QUJD"[..], &b" user@host"[..])
        );
        assert_eq!(key_token(b"QUJD\tuser"), (&b"QUJD"[..], &b"\tuser"[..]));
        assert_eq!(key_token(b"QUJD\0user"), (&b"QUJD"[..], &b"\0user"[..]));
        assert_eq!(key_token(b"QUJD"), (&b"QUJD"[..], &b""[..]));
    }

    #[test]
    fn clean_comment_drops_control_characters() {
        assert_eq!(clean_comment("\0 user@host\u{7}\u{85} "), "user@host");
    }

    #[test]
    fn an_adb_style_structure_of_another_size_is_named_by_its_size() {
        let mut small = vec![0u8; 4 + 4 + 128 + 128 + 4];
        small[0] = 32;
        assert_eq!(length_error(&small), KeyError::ModulusSize { bits: 1024 });

        assert_eq!(
            length_error(&[0u8; 523]),
            KeyError::WrongLength { len: 523 }
        );
    }

    #[test]
    fn base64_errors_name_the_position_and_character() {
        let detail = decode_base64(b"QU#D").expect_err("'#' is not base64");
        assert_eq!(
            detail,
            "character 3 ('#') is not in the standard base64 alphabet"
        );

        let detail = decode_base64(b"QUJDR").expect_err("5 characters are not base64");
        assert!(detail.contains("5 characters"), "{detail}");
    }
}
