//! ADB key formats against independent sources: the Appendix A vector of the ADB reference,
//! files made by `adb keygen` (tests/data/cases, see its README), and the real `adb pubkey`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use adbkeys::keys::import::{ImportInput, parse_import};
use adbkeys::keys::private_pem::{parse_private_pem, to_pkcs8_pem};
use adbkeys::keys::{AdbPublicKey, KeyError, PublicKeyLine, generate_key_pair};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest as _, Sha256};

fn case_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/cases")
        .join(name)
}

fn case(name: &str) -> Vec<u8> {
    let path = case_path(name);
    std::fs::read(&path).unwrap_or_else(|err| panic!("read {}: {err}", path.display()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    let text = text.trim();
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex digits"))
        .collect()
}

/// The first whitespace-separated field of a file: the base64 of an `adbkey.pub`.
fn base64_field(text: &[u8]) -> String {
    String::from_utf8_lossy(text)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

fn appendix_a_key() -> AdbPublicKey {
    PublicKeyLine::parse(&case("appendix_a_adbkey.pub"))
        .expect("the Appendix A key parses")
        .key
}

fn adbkey_pub() -> PublicKeyLine {
    PublicKeyLine::parse(&case("adbkey.pub")).expect("adbkey.pub parses")
}

// Appendix A known-answer vector.

#[test]
fn appendix_a_vector_decodes_to_the_published_values() {
    let key = appendix_a_key();
    let blob = key.blob();

    assert_eq!(&blob[0..4], &64u32.to_le_bytes(), "modulus size words");
    assert_eq!(&blob[4..8], &0xc3ca_c3fbu32.to_le_bytes(), "n0inv");
    assert_eq!(&blob[8..12], &0xae06_30cdu32.to_le_bytes(), "n mod 2^32");
    assert_eq!(hex(&blob[0..16]), "40000000fbc3cac3cd3006aeb27a7116");
    assert_eq!(hex(&blob[264..272]), "0171d55eb06cffcb", "rr bytes");
    assert_eq!(&blob[520..524], &[0x01, 0x00, 0x01, 0x00], "exponent");

    let mut modulus_be = blob[8..264].to_vec();
    modulus_be.reverse();
    assert!(hex(&modulus_be).starts_with("bac13dc0c7062bc6013eeb9e25e39656"));
    assert!(hex(&modulus_be).ends_with("ae0630cd"));

    assert_eq!(
        hex(&Sha256::digest(blob)),
        "d29dd3a9126317325e5942c8168fa9e9520617df48ce971dba4ef0b14a2b28c4"
    );
    assert_eq!(
        key.fingerprint_md5(),
        "C4:D2:A2:0F:E3:0C:B1:D4:22:F0:AE:49:F1:8A:35:2E"
    );
}

#[test]
fn appendix_a_private_key_encodes_to_the_published_blob() {
    let private_key = parse_private_pem(&case("appendix_a_adbkey")).expect("PKCS#8 parses");
    let encoded = AdbPublicKey::from_rsa(private_key.as_public_key()).expect("2048-bit key");

    assert_eq!(encoded, appendix_a_key());
    assert_eq!(
        encoded.to_line("@unknown").as_bytes(),
        case("appendix_a_adbkey.pub")
    );
}

#[test]
fn appendix_a_signature_verifies_with_to_rsa() {
    use sha1::{Digest as _, Sha1};

    // adb signs the 20-byte token as if it were a SHA-1 digest (`RSA_sign(NID_sha1, token)`):
    // the token itself goes into the DigestInfo, it is not hashed again.
    let token: Vec<u8> = (0u8..20).collect();
    let signature = unhex(&String::from_utf8_lossy(&case("kat_sig_token00-13.hex")));
    assert_eq!(signature.len(), 256);
    assert_eq!(hex(&signature[..4]), "557ea55b");

    let public_key = appendix_a_key().to_rsa();
    public_key
        .verify(rsa::Pkcs1v15Sign::new::<Sha1>(), &token, &signature)
        .expect("the Appendix A signature verifies");

    let mut other_token = token.clone();
    other_token[0] = 1;
    assert!(
        public_key
            .verify(rsa::Pkcs1v15Sign::new::<Sha1>(), &other_token, &signature)
            .is_err(),
        "a signature of another token must not verify"
    );
    assert!(
        public_key
            .verify(
                rsa::Pkcs1v15Sign::new::<Sha1>(),
                &Sha1::digest(&token),
                &signature
            )
            .is_err(),
        "the token is signed as the digest, not hashed again"
    );
}

// Files made by `adb keygen` and their variants (tests/data/cases/README.md).

#[test]
fn adbkey_pub_gives_the_readme_fingerprints() {
    let line = adbkey_pub();

    assert_eq!(line.comment, "user@host");
    assert_eq!(
        line.key.fingerprint_md5(),
        "10:57:97:18:C7:7C:68:7E:70:97:99:32:E8:42:1A:5A"
    );
    assert_eq!(
        line.key.fingerprint_sha256(),
        "SHA256:3YLpHFMEwHuy3l6tWgCxMOEUFQiXlZxVkaapfp9+bVI"
    );
}

#[test]
fn adbkey_pub_round_trips_byte_for_byte() {
    let text = case("adbkey.pub");
    let line = adbkey_pub();

    assert_eq!(line.canonical().as_bytes(), text.as_slice());
    assert_eq!(line.key.to_base64().len(), AdbPublicKey::BASE64_LEN);
    assert_eq!(line.key.to_base64(), base64_field(&text));

    let blob = STANDARD.decode(base64_field(&text)).expect("base64");
    let decoded = AdbPublicKey::from_blob(&blob).expect("valid blob");
    assert_eq!(decoded.blob().as_slice(), blob.as_slice());

    let reencoded = AdbPublicKey::from_rsa(&decoded.to_rsa()).expect("2048-bit key");
    assert_eq!(reencoded.blob().as_slice(), blob.as_slice());
}

#[test]
fn adbkey_private_key_gives_adbkey_pub() {
    let private_key = parse_private_pem(&case("adbkey")).expect("PKCS#8 parses");
    let public = AdbPublicKey::from_rsa(private_key.as_public_key()).expect("2048-bit key");

    assert_eq!(public, adbkey_pub().key);
}

#[test]
fn adbkey_reencodes_to_the_same_pem_bytes() {
    let text = case("adbkey");
    let private_key = parse_private_pem(&text).expect("PKCS#8 parses");

    let pem = to_pkcs8_pem(&private_key).expect("encodes");
    assert_eq!(pem.as_bytes(), text.as_slice(), "layout of `adb keygen`");
    assert!(pem.ends_with("-----END PRIVATE KEY-----\n"));
    assert!(
        pem.lines()
            .skip(1)
            .take_while(|l| !l.starts_with("-----"))
            .all(|l| l.len() <= 64)
    );
}

#[test]
fn crlf_and_nosuffix_variants_give_the_same_key() {
    let expected = adbkey_pub();

    let crlf = PublicKeyLine::parse(&case("adbkey.pub.crlf")).expect("CRLF line parses");
    assert_eq!(crlf, expected);

    let bare = PublicKeyLine::parse(&case("adbkey.pub.nosuffix")).expect("bare base64 parses");
    assert_eq!(bare.key, expected.key);
    assert_eq!(bare.comment, "");
    assert_eq!(bare.canonical().as_bytes(), case("adbkey.pub.nosuffix"));
}

#[test]
fn pkcs1_private_key_gives_the_same_public_key() {
    let imported =
        parse_import(ImportInput::PrivateKey, &case("adbkey.pkcs1.pem")).expect("PKCS#1 imports");

    assert_eq!(imported.key, adbkey_pub().key);
    assert_eq!(imported.comment, "");
}

#[test]
fn importing_adbkey_as_private_key_keeps_only_the_public_half() {
    let imported = parse_import(ImportInput::PrivateKey, &case("adbkey")).expect("imports");

    assert_eq!(imported.key, adbkey_pub().key);
    assert_eq!(imported.comment, "");
}

#[test]
fn importing_adbkey_pub_keeps_its_comment() {
    let imported =
        parse_import(ImportInput::PublicKey, &case("adbkey.pub")).expect("public key imports");

    assert_eq!(imported.key, adbkey_pub().key);
    assert_eq!(imported.comment, "user@host");
}

#[test]
fn openssh_line_is_refused_with_the_way_to_the_adb_form() {
    let err = parse_import(ImportInput::PublicKey, &case("adbkey.pub.openssh"))
        .expect_err("OpenSSH is not ADB");

    assert!(matches!(err, KeyError::OtherPublicFormat { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("OpenSSH 'ssh-rsa'"), "{message}");
    assert!(message.contains("`adb pubkey PRIVATE_KEY`"), "{message}");
}

#[test]
fn spki_pem_is_refused_as_x509() {
    let err = parse_import(ImportInput::PublicKey, &case("adbkey.pub.spki.pem"))
        .expect_err("SPKI is not ADB");

    assert!(
        err.to_string().contains("X.509 SubjectPublicKeyInfo"),
        "{err}"
    );
    assert!(err.to_string().contains("adb pubkey"), "{err}");
}

#[test]
fn empty_file_is_refused_as_empty() {
    let public = parse_import(ImportInput::PublicKey, &case("adbkey.pub.empty"));
    assert_eq!(public, Err(KeyError::Empty));

    let private = parse_import(ImportInput::PrivateKey, &case("adbkey.pub.empty"));
    assert_eq!(private, Err(KeyError::Empty));
}

#[test]
fn encrypted_private_key_is_refused() {
    let result = parse_import(ImportInput::PrivateKey, &case("adbkey.encrypted_pkcs8.pem"));
    assert_eq!(result, Err(KeyError::EncryptedPrivateKey));
}

#[test]
fn ec_private_key_is_refused_as_not_rsa() {
    let result = parse_import(ImportInput::PrivateKey, &case("ec_p256_private.pem"));
    assert_eq!(
        result,
        Err(KeyError::NotRsa {
            algorithm: "EC".to_string()
        })
    );
}

#[test]
fn rsa4096_key_is_refused_in_both_forms() {
    let public = parse_import(ImportInput::PublicKey, &case("rsa4096_adbkey.pub"));
    assert_eq!(public, Err(KeyError::ModulusSize { bits: 4096 }));

    let private = parse_import(ImportInput::PrivateKey, &case("rsa4096_adbkey"));
    assert_eq!(private, Err(KeyError::ModulusSize { bits: 4096 }));
}

#[test]
fn rsa1024_key_is_refused() {
    let result = parse_import(ImportInput::PublicKey, &case("rsa1024_adbkey.pub"));
    assert_eq!(result, Err(KeyError::ModulusSize { bits: 1024 }));
}

#[test]
fn exponent_3_key_is_refused() {
    let result = parse_import(ImportInput::PublicKey, &case("rsa2048_e3_adbkey.pub"));
    assert_eq!(result, Err(KeyError::Exponent { exponent: 3 }));
}

// The real `adb pubkey` on fresh keys.

/// The real `adb` binary; fails the test when it is missing rather than skipping it.
fn adb_binary() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("adb"))
        .find(|candidate| candidate.is_file())
        .expect("this test needs the real `adb` (Debian: `apt-get install -y adb`)")
}

/// Runs the real `adb pubkey` on a private key file, with HOME in `home`, and checks that adb
/// accepted the key.
fn adb_pubkey(adb: &Path, key_file: &Path, home: &Path) -> Output {
    let output = Command::new(adb)
        .arg("pubkey")
        .arg(key_file)
        .env("HOME", home)
        .env("ADB_MDNS", "0")
        .env("ADB_USB", "0")
        .env("ADB_EMU", "0")
        .output()
        .expect("run adb pubkey");
    assert!(
        output.status.success(),
        "adb refused our PEM: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Writes `pem` to a key file in a new directory and checks that the real `adb pubkey` (with
/// HOME there) prints the base64 of `public` for it; gives the line adb printed.
#[track_caller]
fn assert_adb_pubkey_prints(pem: &str, public: &AdbPublicKey) -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    let key_file = dir.path().join("adbkey");
    std::fs::write(&key_file, pem.as_bytes()).expect("write key");

    let output = adb_pubkey(&adb_binary(), &key_file, dir.path());

    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert_eq!(base64_field(stdout.as_bytes()), public.to_base64());
    stdout
}

#[test]
fn adb_pubkey_prints_our_base64_for_fresh_keys() {
    for _ in 0..3 {
        let pair = generate_key_pair().expect("generation works");

        let stdout = assert_adb_pubkey_prints(&pair.private_pem, &pair.public);

        let printed = PublicKeyLine::parse(stdout.as_bytes()).expect("adb's line parses");
        assert_eq!(printed.key, pair.public);
    }
}

// Strict about the key: each broken rule has its own error.

/// The 524 bytes of adbkey.pub, to tamper with.
fn adbkey_blob() -> Vec<u8> {
    adbkey_pub().key.blob().to_vec()
}

/// Parses a tampered structure as an `adbkey.pub` line.
fn parse_blob_line(blob: &[u8]) -> Result<PublicKeyLine, KeyError> {
    PublicKeyLine::parse(format!("{} user@host", STANDARD.encode(blob)).as_bytes())
}

#[test]
fn tampered_n0inv_is_refused_with_both_values() {
    let mut blob = adbkey_blob();
    let stored = u32::from_le_bytes([blob[4], blob[5], blob[6], blob[7]]);
    blob[4] ^= 0x01;

    let err = parse_blob_line(&blob).expect_err("n0inv does not match");
    assert_eq!(
        err,
        KeyError::N0invMismatch {
            stored: stored ^ 0x01,
            expected: stored
        }
    );
    assert!(
        err.to_string().contains("n0inv does not match the modulus"),
        "{err}"
    );
}

#[test]
fn tampered_rr_is_refused() {
    let mut blob = adbkey_blob();
    blob[300] ^= 0x80;
    assert_eq!(AdbPublicKey::from_blob(&blob), Err(KeyError::RrMismatch));

    let mut blob = adbkey_blob();
    blob[519] ^= 0x01;
    assert_eq!(parse_blob_line(&blob), Err(KeyError::RrMismatch));
}

#[test]
fn a_modulus_changed_without_its_constants_is_refused() {
    let mut blob = adbkey_blob();
    blob[100] ^= 0x10;

    let err = AdbPublicKey::from_blob(&blob).expect_err("constants belong to the old modulus");
    assert!(
        matches!(err, KeyError::N0invMismatch { .. } | KeyError::RrMismatch),
        "{err:?}"
    );
}

#[test]
fn wrong_size_word_is_refused() {
    let mut blob = adbkey_blob();
    blob[0] = 63;
    assert_eq!(
        parse_blob_line(&blob),
        Err(KeyError::SizeWord { words: 63 })
    );
}

#[test]
fn structures_of_523_and_525_bytes_are_refused() {
    let blob = adbkey_blob();
    assert_eq!(
        parse_blob_line(&blob[..523]),
        Err(KeyError::WrongLength { len: 523 })
    );

    let mut longer = blob.clone();
    longer.push(0);
    assert_eq!(
        parse_blob_line(&longer),
        Err(KeyError::WrongLength { len: 525 })
    );
    assert_eq!(
        AdbPublicKey::from_blob(&[]),
        Err(KeyError::WrongLength { len: 0 })
    );
}

#[test]
fn even_modulus_is_refused() {
    let mut blob = adbkey_blob();
    blob[8] &= 0xfe;
    assert_eq!(parse_blob_line(&blob), Err(KeyError::EvenModulus));
}

#[test]
fn a_2047_bit_modulus_is_refused_by_its_size() {
    let mut blob = adbkey_blob();
    blob[263] = 0x7f;
    assert_eq!(
        parse_blob_line(&blob),
        Err(KeyError::ModulusSize { bits: 2047 })
    );
}

#[test]
fn other_exponents_are_refused_in_the_structure_and_from_rsa() {
    let mut blob = adbkey_blob();
    blob[520..524].copy_from_slice(&3u32.to_le_bytes());
    assert_eq!(
        parse_blob_line(&blob),
        Err(KeyError::Exponent { exponent: 3 })
    );

    let mut modulus_be = adbkey_blob()[8..264].to_vec();
    modulus_be.reverse();
    let modulus = rsa::BoxedUint::from_be_slice_vartime(&modulus_be);
    let e3 = rsa::PublicKey::new(modulus, rsa::BoxedUint::from(3u32)).expect("valid RSA key");
    assert_eq!(
        AdbPublicKey::from_rsa(&e3),
        Err(KeyError::Exponent { exponent: 3 })
    );
}

#[test]
fn text_that_is_not_base64_is_refused_with_the_position() {
    let mut text = base64_field(&case("adbkey.pub"));
    text.replace_range(10..11, "#");

    let err = PublicKeyLine::parse(text.as_bytes()).expect_err("'#' is not base64");
    assert_eq!(
        err,
        KeyError::NotBase64 {
            detail: "character 11 ('#') is not in the standard base64 alphabet".to_string()
        }
    );
    assert_eq!(
        err.to_string(),
        "the key is not valid base64: character 11 ('#') is not in the standard base64 alphabet"
    );

    let url_safe = base64_field(&case("adbkey.pub"))
        .replace('+', "-")
        .replace('/', "_");
    let err = PublicKeyLine::parse(url_safe.as_bytes()).expect_err("URL-safe is not standard");
    assert!(matches!(err, KeyError::NotBase64 { .. }), "{err:?}");

    let unpadded = base64_field(&case("adbkey.pub"))
        .trim_end_matches('=')
        .to_string();
    let err = PublicKeyLine::parse(unpadded.as_bytes()).expect_err("padding is required");
    assert!(matches!(err, KeyError::NotBase64 { .. }), "{err:?}");

    let err = PublicKeyLine::parse(b"hello world").expect_err("not a key");
    assert!(matches!(err, KeyError::NotBase64 { .. }), "{err:?}");
}

#[test]
fn empty_and_blank_input_is_refused_as_empty() {
    for text in [&b""[..], b"\n", b" \r\n\t ", b"\xEF\xBB\xBF", b"\0\0"] {
        assert_eq!(PublicKeyLine::parse(text), Err(KeyError::Empty), "{text:?}");
    }
}

// Lenient about layout, as adbd is.

#[test]
fn layout_variants_give_the_same_key_and_comment() {
    let line = String::from_utf8(case("adbkey.pub")).expect("UTF-8");
    let base64 = base64_field(line.as_bytes());
    let expected = adbkey_pub();

    let variants = [
        format!("{line}\n"),
        format!("{line}\r\n"),
        format!("  {line}  \n"),
        format!("\u{feff}{line}\n"),
        format!("\n\n{line}\n\n"),
        format!("{base64}\tuser@host"),
        format!("{base64}\0user@host"),
        format!("{base64}\0 user@host\0"),
        format!("{base64} \x07user@host\x1b"),
        format!("{base64}   user@host   "),
    ];
    for text in &variants {
        let parsed = PublicKeyLine::parse(text.as_bytes())
            .unwrap_or_else(|err| panic!("{text:?} should parse: {err}"));
        assert_eq!(parsed, expected, "{text:?}");
        assert_eq!(parsed.canonical(), line, "{text:?}");
    }
}

#[test]
fn control_characters_are_removed_from_the_comment() {
    let base64 = base64_field(&case("adbkey.pub"));
    let text = format!("{base64} my\x01 phone\u{7f} key");

    let parsed = PublicKeyLine::parse(text.as_bytes()).expect("parses");
    assert_eq!(parsed.comment, "my phone key");
    assert_eq!(parsed.canonical(), format!("{base64} my phone key"));
}

#[test]
fn base64_wrapped_over_several_lines_is_one_key() {
    let base64 = base64_field(&case("adbkey.pub"));
    let expected = adbkey_pub();

    for width in [64, 76, 100] {
        let lines: Vec<&str> = base64
            .as_bytes()
            .chunks(width)
            .map(|chunk| std::str::from_utf8(chunk).expect("ASCII"))
            .collect();

        let wrapped = format!("{}\n", lines.join("\n"));
        let parsed = PublicKeyLine::parse(wrapped.as_bytes()).expect("wrapped key parses");
        assert_eq!(parsed.key, expected.key, "width {width}");
        assert_eq!(parsed.comment, "");

        let with_comment = format!("{} user@host\r\n", lines.join("\r\n"));
        let parsed = PublicKeyLine::parse(with_comment.as_bytes()).expect("wrapped with comment");
        assert_eq!(parsed, expected, "width {width}");
    }
}

#[test]
fn a_wrapped_text_that_is_not_one_key_is_refused() {
    let base64 = base64_field(&case("adbkey.pub"));
    let (head, tail) = base64.split_at(400);

    let missing = format!("{head}\n{}\n", &tail[..200]);
    let err = PublicKeyLine::parse(missing.as_bytes()).expect_err("part of a key");
    assert!(
        matches!(
            err,
            KeyError::NotBase64 { .. } | KeyError::WrongLength { .. }
        ),
        "{err:?}"
    );
}

// More than one key, and input of the wrong kind.

#[test]
fn several_key_lines_are_refused_with_the_count() {
    let line = String::from_utf8(case("adbkey.pub")).expect("UTF-8");
    let other = String::from_utf8(case("appendix_a_adbkey.pub")).expect("UTF-8");

    let two = format!("{line}\n{other}\n");
    assert_eq!(
        PublicKeyLine::parse(two.as_bytes()),
        Err(KeyError::MultipleKeys { count: 2 })
    );

    let three = format!("{line}\n\n{other}\r\n{line}");
    let result = parse_import(ImportInput::PublicKey, three.as_bytes());
    assert_eq!(result, Err(KeyError::MultipleKeys { count: 3 }));
    assert!(
        KeyError::MultipleKeys { count: 3 }
            .to_string()
            .contains("3 keys"),
        "the message names the count"
    );
}

#[test]
fn two_wrapped_keys_are_refused_with_the_count() {
    let first = base64_field(&case("adbkey.pub"));
    let second = base64_field(&case("appendix_a_adbkey.pub"));
    let joined = format!("{first}{second}");

    let wrapped: Vec<&str> = joined
        .as_bytes()
        .chunks(64)
        .map(|chunk| std::str::from_utf8(chunk).expect("ASCII"))
        .collect();
    let result = PublicKeyLine::parse(wrapped.join("\n").as_bytes());
    assert_eq!(result, Err(KeyError::MultipleKeys { count: 2 }));
}

#[test]
fn a_line_besides_the_key_is_refused() {
    let line = String::from_utf8(case("adbkey.pub")).expect("UTF-8");

    let text = format!("# my laptop\n{line}\n");
    assert_eq!(
        PublicKeyLine::parse(text.as_bytes()),
        Err(KeyError::ExtraLine { line: 1 })
    );

    let text = format!("{line}\n\nsomething else\n");
    assert_eq!(
        PublicKeyLine::parse(text.as_bytes()),
        Err(KeyError::ExtraLine { line: 3 })
    );
}

#[test]
fn pkcs1_public_key_is_refused_as_pkcs1() {
    let err = parse_import(ImportInput::PublicKey, &case("adbkey.pub.pkcs1.pem"))
        .expect_err("PKCS#1 is not ADB");

    assert!(err.to_string().contains("PKCS#1 RSA public key"), "{err}");
    assert!(
        err.to_string().contains("`adb pubkey PRIVATE_KEY`"),
        "{err}"
    );

    let err = parse_import(ImportInput::PrivateKey, &case("adbkey.pub.pkcs1.pem"))
        .expect_err("a public key is not a private key");
    assert!(err.to_string().contains("PKCS#1 RSA public key"), "{err}");
}

#[test]
fn a_private_key_given_as_public_key_says_so() {
    let err = parse_import(ImportInput::PublicKey, &case("adbkey")).expect_err("wrong kind");
    assert_eq!(
        err,
        KeyError::PublicKeyExpected {
            found: "a private key"
        }
    );
    assert!(
        err.to_string().contains("import it as a private key"),
        "{err}"
    );
}

#[test]
fn a_public_key_given_as_private_key_says_so() {
    let err = parse_import(ImportInput::PrivateKey, &case("adbkey.pub")).expect_err("wrong kind");
    assert_eq!(
        err,
        KeyError::PrivateKeyExpected {
            found: "an ADB public key"
        }
    );

    let err = parse_import(ImportInput::PrivateKey, &case("adbkey.pub.spki.pem"))
        .expect_err("wrong kind");
    assert!(
        err.to_string().contains("X.509 SubjectPublicKeyInfo"),
        "{err}"
    );

    let err =
        parse_import(ImportInput::PrivateKey, &case("adbkey.pub.openssh")).expect_err("wrong kind");
    assert!(err.to_string().contains("OpenSSH"), "{err}");
}

// Private keys: what is refused.

#[test]
fn legacy_encrypted_pkcs1_is_refused() {
    let result = parse_import(ImportInput::PrivateKey, &case("adbkey.encrypted_pkcs1.pem"));
    assert_eq!(result, Err(KeyError::EncryptedPrivateKey));
}

#[test]
fn other_algorithms_are_refused_by_name() {
    let result = parse_import(ImportInput::PrivateKey, &case("ed25519_private.pem"));
    assert_eq!(
        result,
        Err(KeyError::NotRsa {
            algorithm: "Ed25519".to_string()
        })
    );

    let result = parse_import(
        ImportInput::PrivateKey,
        &case("ec_p256_sec1_with_params.pem"),
    );
    assert_eq!(
        result,
        Err(KeyError::NotRsa {
            algorithm: "EC".to_string()
        })
    );
    assert_eq!(
        result.expect_err("EC").to_string(),
        "the private key uses EC, not RSA; ADB keys are RSA"
    );
}

#[test]
fn openssh_private_key_is_refused_as_unloadable() {
    let err = parse_import(ImportInput::PrivateKey, &case("openssh_rsa_private"))
        .expect_err("adb cannot load it");
    assert!(
        matches!(err, KeyError::UnsupportedPrivateFormat { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("PKCS#8"), "{err}");
}

#[test]
fn a_label_that_does_not_match_the_body_is_refused() {
    let pkcs8 = String::from_utf8(case("adbkey")).expect("UTF-8");
    let relabelled = pkcs8.replace("PRIVATE KEY", "RSA PRIVATE KEY");
    let err = parse_private_pem(relabelled.as_bytes()).expect_err("PKCS#8 under a PKCS#1 label");
    assert_eq!(
        err,
        KeyError::PemLabelMismatch {
            label: "RSA PRIVATE KEY".to_string(),
            detail: "the body is a PKCS#8 private key, labelled 'PRIVATE KEY'".to_string()
        }
    );

    let pkcs1 = String::from_utf8(case("adbkey.pkcs1.pem")).expect("UTF-8");
    let relabelled = pkcs1.replace("RSA PRIVATE KEY", "PRIVATE KEY");
    let err = parse_private_pem(relabelled.as_bytes()).expect_err("PKCS#1 under a PKCS#8 label");
    assert!(matches!(err, KeyError::PemLabelMismatch { ref label, .. } if label == "PRIVATE KEY"));
    assert!(err.to_string().contains("PKCS#1 RSA private key"), "{err}");

    let encrypted = String::from_utf8(case("adbkey.encrypted_pkcs8.pem")).expect("UTF-8");
    let relabelled = encrypted.replace("ENCRYPTED PRIVATE KEY", "PRIVATE KEY");
    let err = parse_private_pem(relabelled.as_bytes()).expect_err("encrypted under PKCS#8");
    assert!(err.to_string().contains("encrypted PKCS#8"), "{err}");
}

#[test]
fn a_file_with_two_private_keys_is_refused_with_the_count() {
    let mut text = case("adbkey");
    text.extend_from_slice(&case("adbkey.pkcs1.pem"));
    text.extend_from_slice(&case("rsa4096_adbkey"));

    let result = parse_import(ImportInput::PrivateKey, &text);
    assert_eq!(result, Err(KeyError::MultipleKeys { count: 3 }));
}

#[test]
fn private_key_layout_variants_are_accepted() {
    let pem = String::from_utf8(case("adbkey")).expect("UTF-8");
    let expected = adbkey_pub().key;

    let variants = [
        pem.replace('\n', "\r\n"),
        format!("\u{feff}{pem}"),
        format!("Bag Attributes\n    friendlyName: adbkey\n{pem}\n\n"),
        pem.trim_end().to_string(),
    ];
    for text in &variants {
        let imported = parse_import(ImportInput::PrivateKey, text.as_bytes())
            .unwrap_or_else(|err| panic!("{text:?} should import: {err}"));
        assert_eq!(imported.key, expected);
    }
}

#[test]
fn a_corrupted_pem_body_is_refused_as_malformed() {
    let pem = String::from_utf8(case("adbkey")).expect("UTF-8");
    let corrupted = pem.replacen(
        "MIIEvAIBADANBgkqhkiG9w0BAQEFAASC",
        "MIIEvAIBADANBgkqhkiG9w0BAQEFAA#C",
        1,
    );

    let err = parse_private_pem(corrupted.as_bytes()).expect_err("not base64");
    assert!(matches!(err, KeyError::MalformedPem { .. }), "{err:?}");
    assert!(err.to_string().contains("not base64"), "{err}");
}

// Fresh keys.

#[test]
fn generated_keys_round_trip_through_the_line_and_the_pem() {
    let pair = generate_key_pair().expect("generation works");
    let line = pair.public.to_line("user@host");

    let parsed = PublicKeyLine::parse(line.as_bytes()).expect("own line parses");
    assert_eq!(parsed.key, pair.public);
    assert_eq!(parsed.canonical(), line);
    assert_eq!(line.len(), AdbPublicKey::BASE64_LEN + " user@host".len());

    let imported = parse_import(ImportInput::PrivateKey, pair.private_pem.as_bytes())
        .expect("own PEM imports");
    assert_eq!(imported.key, pair.public);
}

// Properties: no input panics, any changed byte is caught, layout never changes the key.

mod properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1500)) {
            let _ = PublicKeyLine::parse(&bytes);
            let _ = parse_private_pem(&bytes);
            let _ = AdbPublicKey::from_blob(&bytes);
        }

        #[test]
        fn any_changed_byte_of_the_structure_is_refused(
            index in 0usize..AdbPublicKey::ENCODED_LEN,
            flip in 1u8..=255,
        ) {
            let mut blob = adbkey_blob();
            blob[index] ^= flip;
            prop_assert!(AdbPublicKey::from_blob(&blob).is_err(), "byte {} ^ {:#x}", index, flip);
        }

        #[test]
        fn layout_around_the_key_does_not_change_it(
            bom in any::<bool>(),
            before in "[ \t\r\n]{0,4}",
            separator in prop::sample::select(vec![" ", "\t", "\0", "\0 ", " \u{1}", "  "]),
            comment in "[a-zA-Z0-9@._-]{0,24}",
            after in "[ \t\r\n\0]{0,4}",
        ) {
            let base64 = base64_field(&case("adbkey.pub"));
            let text = format!(
                "{}{before}{base64}{separator}{comment}{after}",
                if bom { "\u{feff}" } else { "" },
            );

            let parsed = PublicKeyLine::parse(text.as_bytes());
            prop_assert!(parsed.is_ok(), "{:?}: {:?}", text, parsed);
            let parsed = parsed.expect("checked above");
            prop_assert_eq!(&parsed.key, &adbkey_pub().key);
            prop_assert_eq!(parsed.comment, comment);
        }
    }
}

// Keys whose two primes were searched for on two threads.

#[test]
fn adb_pubkey_prints_our_base64_for_concurrently_generated_keys() {
    use adbkeys::keys::generate::generate_private_key_concurrently;

    for _ in 0..3 {
        let private_key = generate_private_key_concurrently().expect("generation works");
        let public = AdbPublicKey::from_rsa(private_key.as_public_key()).expect("2048-bit key");
        let pem = to_pkcs8_pem(&private_key).expect("PEM encoding works");
        assert_adb_pubkey_prints(&pem, &public);
    }
}

#[test]
fn a_concurrently_generated_key_signs_a_token_as_adb_does() {
    use adbkeys::keys::generate::generate_private_key_concurrently;
    use sha1::Sha1;

    let private_key = generate_private_key_concurrently().expect("generation works");
    let public = AdbPublicKey::from_rsa(private_key.as_public_key()).expect("2048-bit key");
    let token: Vec<u8> = (0u8..20).map(|byte| byte.wrapping_mul(13)).collect();

    let signature = private_key
        .sign(rsa::Pkcs1v15Sign::new::<Sha1>(), &token)
        .expect("signing works");

    public
        .to_rsa()
        .verify(rsa::Pkcs1v15Sign::new::<Sha1>(), &token, &signature)
        .expect("the signature verifies with the ADB public key");
}

/// The base64 body of `tests/data/cases/adbkey`, the lines between BEGIN and END joined.
fn adbkey_body() -> String {
    String::from_utf8(case("adbkey"))
        .expect("adbkey is text")
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect()
}

/// Broken variants of the real private key PEM, each as a user could give it.
fn malformed_private_keys() -> Vec<(&'static str, Vec<u8>)> {
    let pem = String::from_utf8(case("adbkey")).expect("adbkey is text");
    let body = adbkey_body();
    let lines: Vec<&str> = pem.lines().collect();
    let half = pem.len() / 2;
    let with_lines = |lines: &[&str]| (lines.join("\n") + "\n").into_bytes();

    let mut garbled_lines = lines.clone();
    let garbled = lines[5].replacen(&lines[5][10..11], "#", 1);
    garbled_lines[5] = &garbled;
    let mut header_lines = lines.clone();
    let header = format!("{}:{}", &lines[3][..20], &lines[3][20..]);
    header_lines[3] = &header;
    let mut short_lines = lines.clone();
    short_lines.remove(7);
    let mut end_lines = lines.clone();
    *end_lines.last_mut().expect("an END line") = "-----END RSA PRIVATE KEY-----";
    let mut begin_lines = lines.clone();
    begin_lines[0] = "-----BEGIN RSA PRIVATE KEY-----";
    *begin_lines.last_mut().expect("an END line") = "-----END RSA PRIVATE KEY-----";
    let body_label = format!("-----BEGIN {}-----", &body[..64]);
    let body_end = format!("-----END {}-----", &body[..64]);
    let mut body_label_lines = lines.clone();
    body_label_lines[0] = &body_label;
    *body_label_lines.last_mut().expect("an END line") = &body_end;
    let mut glued_end = lines.clone();
    let end = format!("-----END {}-----", &body[100..200]);
    *glued_end.last_mut().expect("an END line") = &end;

    vec![
        ("CR-only line breaks", pem.replace('\n', "\r").into_bytes()),
        (
            "CR-only, truncated",
            pem.replace('\n', "\r").as_bytes()[..half].to_vec(),
        ),
        (
            "CRLF, truncated",
            pem.replace('\n', "\r\n").as_bytes()[..half].to_vec(),
        ),
        ("no line breaks", pem.replace('\n', "").into_bytes()),
        (
            "spaces for line breaks",
            pem.replace('\n', " ").into_bytes(),
        ),
        ("tabs for line breaks", pem.replace('\n', "\t").into_bytes()),
        ("NULs for line breaks", pem.replace('\n', "\0").into_bytes()),
        ("truncated", pem.as_bytes()[..half].to_vec()),
        ("missing END line", with_lines(&lines[..lines.len() - 1])),
        ("body garbled", with_lines(&garbled_lines)),
        ("body line with a colon", with_lines(&header_lines)),
        ("body line missing", with_lines(&short_lines)),
        ("END label differs", with_lines(&end_lines)),
        ("PKCS#8 body labelled PKCS#1", with_lines(&begin_lines)),
        ("body as the label", with_lines(&body_label_lines)),
        ("body in the END label", with_lines(&glued_end)),
        (
            "BEGIN glued to the body",
            pem.replacen("-----\n", "-----", 1).into_bytes(),
        ),
        (
            "body glued to END",
            pem.replace("\n-----END", "-----END").into_bytes(),
        ),
        ("padding removed", pem.replace('=', "").into_bytes()),
        ("body only", body.clone().into_bytes()),
        ("two keys", format!("{pem}{pem}").into_bytes()),
        (
            "key and a certificate",
            (pem.replace("PRIVATE KEY", "CERTIFICATE") + &pem).into_bytes(),
        ),
    ]
}

#[test]
fn no_error_message_quotes_private_key_material() {
    let body = adbkey_body();
    let runs: Vec<&str> = (0..=body.len() - 16).map(|at| &body[at..at + 16]).collect();
    let dir = tempfile::tempdir().expect("temp dir");
    let service = adbkeys::service::KeyPairService::new(
        adbkeys::store::Store::new(dir.path().join("store")).expect("store"),
    );
    let assert_clean = |what: &str, message: &str| {
        if let Some(run) = runs.iter().find(|run| message.contains(**run)) {
            panic!("{what}: the message quotes key material '{run}': {message}");
        }
    };

    let mut failures = 0;
    for (what, input) in malformed_private_keys() {
        for kind in [ImportInput::PrivateKey, ImportInput::PublicKey] {
            if let Err(err) = parse_import(kind, &input) {
                failures += 1;
                assert_clean(what, &err.to_string());
            }

            let request = adbkeys::service::ImportKeyPairRequest {
                tenant: "acme".into(),
                key_pair_name: "k1".into(),
                input: kind,
                body: zeroize::Zeroizing::new(input.clone()),
            };
            if let Err(err) = service.import_key_pair(&request) {
                assert_clean(what, &err.message);
            }
        }
        if let Err(err) = parse_private_pem(&input) {
            assert_clean(what, &err.to_string());
        }
        if let Err(err) = service.find_by_private_key(Some("acme"), &input) {
            assert_clean(what, &err.message);
        }
    }
    assert!(
        failures >= 30,
        "most variants must be refused, only {failures} were"
    );
}

/// A text with its line breaks (LF or CRLF) rewritten: `"\r"` for CR-only, `"\r\n"`, or
/// `"mixed"` for CR, LF and CRLF in turn.
fn with_breaks(text: &[u8], breaks: &str) -> Vec<u8> {
    let text = String::from_utf8(text.to_vec()).expect("a text file");
    let lines: Vec<&str> = text
        .split('\n')
        .map(|line| line.trim_end_matches('\r'))
        .collect();
    if breaks != "mixed" {
        return lines.join(breaks).into_bytes();
    }

    let mut out = String::new();
    for (index, line) in lines.iter().enumerate() {
        out.push_str(line);
        if index + 1 < lines.len() {
            out.push_str(["\r", "\n", "\r\n"][index % 3]);
        }
    }
    out.into_bytes()
}

const MD5_OF_ADBKEY_PUB: &str = "10:57:97:18:C7:7C:68:7E:70:97:99:32:E8:42:1A:5A";

#[test]
fn private_keys_with_cr_crlf_or_mixed_line_breaks_give_the_readme_key() {
    for file in ["adbkey", "adbkey.pkcs1.pem"] {
        for breaks in ["\r", "\r\n", "mixed"] {
            let text = with_breaks(&case(file), breaks);
            let key = parse_import(ImportInput::PrivateKey, &text)
                .unwrap_or_else(|err| panic!("{file} with {breaks:?} breaks: {err}"))
                .key;
            assert_eq!(
                key.fingerprint_md5(),
                MD5_OF_ADBKEY_PUB,
                "{file} {breaks:?}"
            );
        }
    }

    let appendix = with_breaks(&case("appendix_a_adbkey"), "\r");
    let key = parse_import(ImportInput::PrivateKey, &appendix).expect("appendix A with CR");
    assert_eq!(key.key, appendix_a_key());
}

#[test]
fn refusals_that_read_pem_lines_hold_with_cr_line_breaks() {
    let encrypted = with_breaks(&case("adbkey.encrypted_pkcs1.pem"), "\r");
    assert_eq!(
        parse_private_pem(&encrypted),
        Err(KeyError::EncryptedPrivateKey)
    );

    let ec = with_breaks(&case("ec_p256_sec1_with_params.pem"), "\r");
    assert_eq!(
        parse_private_pem(&ec).map(|_| ()),
        Err(KeyError::NotRsa {
            algorithm: "EC".into()
        })
    );
}

#[test]
fn public_keys_with_cr_crlf_or_mixed_line_breaks_give_the_readme_key() {
    let line = String::from_utf8(case("adbkey.pub")).expect("text");
    let (base64, comment) = line.split_once(' ').expect("a comment");
    let wrapped = |width: usize| {
        let mut lines: Vec<String> = base64
            .as_bytes()
            .chunks(width)
            .map(|chunk| String::from_utf8_lossy(chunk).into_owned())
            .collect();
        if let Some(last) = lines.last_mut() {
            last.push(' ');
            last.push_str(comment);
        }
        lines.join("\n") + "\n"
    };

    for (what, text) in [
        ("one line", format!("{line}\n")),
        ("wrapped at 64", wrapped(64)),
        ("wrapped at 76", wrapped(76)),
        ("blank lines around", format!("\n\n{line}\n\n")),
    ] {
        for breaks in ["\r", "\r\n", "mixed"] {
            let text = with_breaks(text.as_bytes(), breaks);
            let imported = parse_import(ImportInput::PublicKey, &text)
                .unwrap_or_else(|err| panic!("{what} with {breaks:?} breaks: {err}"));
            assert_eq!(
                imported.key.fingerprint_md5(),
                MD5_OF_ADBKEY_PUB,
                "{what} {breaks:?}"
            );
            assert_eq!(imported.comment, "user@host", "{what} {breaks:?}");
        }
    }

    let nosuffix = with_breaks(&case("adbkey.pub.nosuffix"), "\r");
    let imported = parse_import(ImportInput::PublicKey, &nosuffix).expect("nosuffix with CR");
    assert_eq!(imported.key.fingerprint_md5(), MD5_OF_ADBKEY_PUB);
}

#[test]
fn a_second_line_after_a_cr_is_still_an_extra_line() {
    let text = [case("adbkey.pub"), b"\r\rnot a key".to_vec()].concat();
    assert_eq!(
        PublicKeyLine::parse(&text),
        Err(KeyError::ExtraLine { line: 3 })
    );
}
