//! ADB key formats against independent sources: the Appendix A vector of the ADB reference,
//! files made by `adb keygen` (tests/data/cases, see its README), and the real `adb pubkey`.

use std::path::{Path, PathBuf};
use std::process::Command;

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

#[test]
fn adb_pubkey_prints_our_base64_for_fresh_keys() {
    let adb = adb_binary();
    let dir = tempfile::tempdir().expect("temp dir");

    for round in 0..3 {
        let pair = generate_key_pair().expect("generation works");
        let key_file = dir.path().join(format!("adbkey{round}"));
        std::fs::write(&key_file, pair.private_pem.as_bytes()).expect("write key");

        let output = Command::new(&adb)
            .arg("pubkey")
            .arg(&key_file)
            .env("HOME", dir.path())
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

        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(base64_field(stdout.as_bytes()), pair.public.to_base64());

        let printed = PublicKeyLine::parse(stdout.as_bytes()).expect("adb's line parses");
        assert_eq!(printed.key, pair.public);
    }
}
