//! Proptest versions of the fuzz targets (fuzz/): every parser of user input survives arbitrary
//! input, valid keys round-trip byte for byte, and every refusal reaches the API with an error
//! code and a message. tests/keys.rs covers arbitrary bytes and flipped bytes of the structure;
//! this adds the layouts around a valid key, armoured garbage, names, NextTokens, and the
//! service's errors.

use std::path::Path;
use std::sync::OnceLock;

use adbkeys::error::{ApiError, ErrorCode};
use adbkeys::keys::import::ImportInput;
use adbkeys::keys::{PublicKeyLine, parse_import};
use adbkeys::rules::validate_key_pair_name;
use adbkeys::service::{
    CreateKeyPairRequest, DescribeKeyPairsRequest, ImportKeyPairRequest, KeyPairService,
};
use adbkeys::store::Store;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use proptest::prelude::*;
use tempfile::TempDir;
use zeroize::Zeroizing;

fn case(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/cases")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// `adb keygen`'s two public key files, as written (no final newline).
fn adb_lines() -> [String; 2] {
    ["adbkey.pub", "appendix_a_adbkey.pub"]
        .map(|name| String::from_utf8(case(name)).expect("an ASCII line"))
}

/// A service over a store of its own holding 25 key pairs of tenant `default`, shared by the
/// proptests of this module (they only read it).
fn service() -> &'static KeyPairService {
    static SERVICE: OnceLock<(TempDir, KeyPairService)> = OnceLock::new();
    let (_, service) = SERVICE.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temp dir");
        let store = Store::new(dir.path().join("store")).expect("a store");
        let records: Vec<_> = (0..25)
            .map(|seed| super::synthetic_record("default", &format!("key{seed}"), seed))
            .collect();
        store.insert_many(&records, 500).expect("fill the store");
        (dir, KeyPairService::new(store))
    });
    service
}

fn assert_refusal(error: &ApiError, expected: ErrorCode, op: &str) {
    assert_eq!(error.code, expected, "{error}");
    assert!(!error.code.as_str().is_empty());
    assert!(
        error.message.starts_with(&format!("{op}: ")) && error.message.len() > op.len() + 2,
        "a refusal without a message: {error:?}"
    );
}

/// The KeyPairName rule written out plainly, to hold the validator to.
fn name_is_valid(name: &str) -> bool {
    let ideograph = |c: char| matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}');
    let mut chars = name.chars();
    let starts_well = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || ideograph(c));
    let rest = chars.all(|c| c.is_ascii_alphanumeric() || ideograph(c) || ":_-".contains(c));
    starts_well && rest && (2..=128).contains(&name.chars().count())
}

/// Layout that adbd and the parser accept around a key line.
fn layout() -> impl Strategy<Value = (bool, String, String, String)> {
    (
        any::<bool>(),
        "[ \t\r\n]{0,4}",
        "[ \t\r\n]{0,4}",
        prop_oneof![
            Just(" ".to_string()),
            Just("\t".to_string()),
            Just("\0".to_string())
        ],
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn a_valid_line_in_any_accepted_layout_round_trips_byte_for_byte(
        which in 0usize..2,
        (bom, before, after, separator) in layout(),
    ) {
        let original = adb_lines()[which].clone();
        let (base64_part, comment) = original.split_once(' ').expect("a comment");
        let mut text = Vec::new();
        if bom {
            text.extend_from_slice(b"\xEF\xBB\xBF");
        }
        text.extend_from_slice(before.as_bytes());
        text.extend_from_slice(format!("{base64_part}{separator}{comment}").as_bytes());
        text.extend_from_slice(after.as_bytes());

        let line = PublicKeyLine::parse(&text).expect("an accepted layout");
        prop_assert_eq!(line.canonical(), original.clone());
        let again = PublicKeyLine::parse(line.canonical().as_bytes()).expect("canonical parses");
        prop_assert_eq!(again.canonical(), original);
    }

    #[test]
    fn any_changed_character_of_a_key_line_is_refused_or_the_same_key(
        which in 0usize..2,
        position in 0usize..700,
        replacement in any::<u8>(),
    ) {
        let original = adb_lines()[which].clone();
        let mut text = original.clone().into_bytes();
        text[position] = replacement;

        match PublicKeyLine::parse(&text) {
            // Only a change the base64 decoder does not see can leave the key unchanged.
            Ok(line) => prop_assert_eq!(
                line.key,
                PublicKeyLine::parse(original.as_bytes()).expect("the original").key
            ),
            Err(error) => prop_assert!(!error.to_string().is_empty()),
        }
    }

    #[test]
    fn armoured_garbage_is_refused_as_a_private_key_without_panic(
        label in prop_oneof![
            Just("PRIVATE KEY"), Just("RSA PRIVATE KEY"), Just("ENCRYPTED PRIVATE KEY"),
            Just("PUBLIC KEY"), Just("EC PRIVATE KEY"), Just("OPENSSH PRIVATE KEY"),
        ],
        body in proptest::collection::vec(any::<u8>(), 0..1300),
    ) {
        let encoded = BASE64.encode(&body);
        let wrapped: Vec<&str> = encoded
            .as_bytes()
            .chunks(64)
            .map(|chunk| std::str::from_utf8(chunk).expect("base64 is ASCII"))
            .collect();
        let body = wrapped.join("\n");
        let pem = format!("-----BEGIN {label}-----\n{body}\n-----END {label}-----\n");
        let refused = parse_import(ImportInput::PrivateKey, pem.as_bytes());
        prop_assert!(refused.is_err(), "random bytes made a key");
    }

    #[test]
    fn a_real_private_key_with_a_changed_byte_is_refused_or_the_same_key(
        position in 0usize..1700,
        flip in 1u8..=255,
    ) {
        let original = case("adbkey");
        let mut text = original.clone();
        let position = position % text.len();
        text[position] ^= flip;

        let expected = parse_import(ImportInput::PrivateKey, &original).expect("the case key");
        match parse_import(ImportInput::PrivateKey, &text) {
            Ok(imported) => prop_assert_eq!(imported.key, expected.key),
            Err(error) => prop_assert!(!error.to_string().is_empty()),
        }
    }

    #[test]
    fn the_name_validator_agrees_with_the_rule(
        name in prop_oneof![
            any::<String>(),
            "[A-Za-z\u{4E00}-\u{4E10}][A-Za-z0-9:_\u{3400}-\u{3410}-]{0,130}",
            "[ -~]{0,10}",
        ],
    ) {
        match validate_key_pair_name(&name) {
            Ok(()) => prop_assert!(name_is_valid(&name), "accepted '{}'", name),
            Err(error) => {
                prop_assert!(!name_is_valid(&name), "refused '{}': {}", name, error.message);
                prop_assert!(!error.message.is_empty());
            }
        }
    }

    #[test]
    fn the_service_refuses_bad_names_with_a_code_and_a_message(name in any::<String>()) {
        prop_assume!(!name_is_valid(&name));
        let request = CreateKeyPairRequest {
            tenant: "default".to_string(),
            key_pair_name: name,
        };
        let error = service().precheck_create(&request).expect_err("an invalid name");
        assert_refusal(&error, ErrorCode::InvalidKeyPairName, "create");
    }

    #[test]
    fn the_service_refuses_bad_key_files_with_a_code_and_a_message(
        private in any::<bool>(),
        body in proptest::collection::vec(any::<u8>(), 0..900),
    ) {
        let request = ImportKeyPairRequest {
            tenant: "default".to_string(),
            key_pair_name: "imported".to_string(),
            input: if private { ImportInput::PrivateKey } else { ImportInput::PublicKey },
            body: Zeroizing::new(body),
        };
        let error = service().import_key_pair(&request).expect_err("random bytes are no key");
        assert_refusal(&error, ErrorCode::InvalidPublicKeyBody, "import");
    }

    #[test]
    fn an_arbitrary_next_token_is_refused_with_a_code_and_a_message(token in any::<String>()) {
        prop_assume!(!token.is_empty());
        let request = DescribeKeyPairsRequest {
            tenant: "default".to_string(),
            next_token: Some(token),
            ..DescribeKeyPairsRequest::default()
        };
        let error = service().describe_key_pairs(&request).expect_err("a made-up token");
        assert_refusal(&error, ErrorCode::InvalidNextToken, "list");
    }

    #[test]
    fn a_changed_next_token_is_refused_and_a_real_one_gives_the_next_page(
        position in 0usize..64,
        replacement in "[A-Za-z0-9_=+/-]",
    ) {
        let first = service()
            .describe_key_pairs(&DescribeKeyPairsRequest {
                tenant: "default".to_string(),
                ..DescribeKeyPairsRequest::default()
            })
            .expect("the first page");
        prop_assert_eq!(first.data.len(), 10);
        let token = first.next_token.clone();

        let mut changed: Vec<char> = token.chars().collect();
        let position = position % changed.len();
        let replacement = replacement.chars().next().expect("one character");
        prop_assume!(changed[position] != replacement);
        changed[position] = replacement;
        let changed: String = changed.into_iter().collect();

        let refused = service().describe_key_pairs(&DescribeKeyPairsRequest {
            tenant: "default".to_string(),
            next_token: Some(changed),
            ..DescribeKeyPairsRequest::default()
        });
        assert_refusal(&refused.expect_err("a changed token"), ErrorCode::InvalidNextToken, "list");

        let second = service()
            .describe_key_pairs(&DescribeKeyPairsRequest {
                tenant: "default".to_string(),
                next_token: Some(token),
                ..DescribeKeyPairsRequest::default()
            })
            .expect("the second page");
        prop_assert_eq!(&second.data[0].key_pair_name, "key10");
    }
}
