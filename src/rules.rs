//! The cloud API's rules for names and tenants, and its identifiers and timestamps.

use chrono::{DateTime, Timelike, Utc};
use rand::rand_core::UnwrapErr;
use rand::rngs::SysRng;
use rand::seq::IndexedRandom;

/// The most key pairs one tenant may hold, created and imported together.
pub const KEY_PAIR_QUOTA: usize = 500;

/// The tenant used when none is named.
pub const DEFAULT_TENANT: &str = "default";

/// The shortest and longest KeyPairName, in characters.
pub const KEY_PAIR_NAME_LENGTH: std::ops::RangeInclusive<usize> = 2..=128;

/// The shortest and longest tenant, in characters.
pub const TENANT_LENGTH: std::ops::RangeInclusive<usize> = 1..=64;

/// How many random characters follow `kp-` in a KeyPairId.
const KEY_PAIR_ID_RANDOM_LENGTH: usize = 17;

/// The characters a KeyPairId's random part is drawn from.
const KEY_PAIR_ID_ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// What a name may hold, as the messages phrase it.
const NAME_CHARACTERS_RULE: &str =
    "names use ASCII letters, Chinese characters, digits, ':', '_' and '-'";

/// What a tenant may hold, as the messages phrase it.
const TENANT_CHARACTERS_RULE: &str = "tenants use ASCII letters, digits, '.', '_' and '-'";

/// A broken naming rule. The message names the rule and, where there is one, the 1-based
/// position of the first offending character.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RuleError {
    pub message: String,
    /// 1-based character position of the first offending character, if one is to blame.
    pub position: Option<usize>,
}

impl RuleError {
    fn whole(message: String) -> Self {
        Self {
            message,
            position: None,
        }
    }

    fn at(position: usize, message: String) -> Self {
        Self {
            message,
            position: Some(position),
        }
    }
}

/// Whether `c` is a Chinese character the name rule accepts: CJK Unified Ideographs
/// (U+4E00-U+9FFF) or their Extension A (U+3400-U+4DBF).
fn is_cjk_ideograph(c: char) -> bool {
    matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}')
}

/// How a character appears in a message: itself in quotes when it is visible, else its code
/// point, so that a message never holds a character that moves or hides the text around it.
fn shown(c: char) -> String {
    if c.is_control() || c.is_whitespace() && c != ' ' || is_invisible(c) {
        format!("U+{:04X}", u32::from(c))
    } else {
        format!("'{c}'")
    }
}

/// Characters that draw nothing or change how the text around them is drawn: format
/// characters (bidirectional controls, zero-width joiners, the BOM, tag characters), variation
/// selectors and the Hangul fillers, which terminals show as blank.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'..='\u{1160}'
            | '\u{17B4}'..='\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF0}'..='\u{FFFB}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E0FFF}'
    )
}

/// "SUBJECT is N characters long", or "is empty", or "is 1 character long".
fn length_problem(subject: &str, length: usize) -> String {
    match length {
        0 => format!("{subject} is empty"),
        1 => format!("{subject} is 1 character long"),
        _ => format!("{subject} is {length} characters long"),
    }
}

/// Checks a KeyPairName: 2-128 characters of ASCII letters, CJK ideographs (U+4E00-U+9FFF,
/// U+3400-U+4DBF), ASCII digits, `:`, `_`, `-`, starting with a letter or an ideograph.
///
/// Nothing is trimmed or normalised: a space or a full-width letter is an offending character
/// like any other.
///
/// # Errors
/// A [`RuleError`] naming the broken rule, with the position of the first offending character
/// when one is to blame.
pub fn validate_key_pair_name(name: &str) -> Result<(), RuleError> {
    for (index, c) in name.chars().enumerate() {
        let position = index + 1;
        let allowed =
            c.is_ascii_alphanumeric() || is_cjk_ideograph(c) || matches!(c, ':' | '_' | '-');
        if !allowed {
            return Err(RuleError::at(
                position,
                format!(
                    "character {position} {} is not allowed: {NAME_CHARACTERS_RULE}",
                    shown(c)
                ),
            ));
        }

        if index == 0 && !(c.is_ascii_alphabetic() || is_cjk_ideograph(c)) {
            return Err(RuleError::at(
                position,
                format!(
                    "character 1 {} cannot start a name: names start with an ASCII letter or a \
                     Chinese character",
                    shown(c)
                ),
            ));
        }
    }

    let length = name.chars().count();
    if !KEY_PAIR_NAME_LENGTH.contains(&length) {
        return Err(RuleError::whole(format!(
            "{}: names are {} to {} characters",
            length_problem("name", length),
            KEY_PAIR_NAME_LENGTH.start(),
            KEY_PAIR_NAME_LENGTH.end()
        )));
    }
    Ok(())
}

/// Checks a tenant: 1-64 characters of `[A-Za-z0-9._-]`, not starting with `.` or `-`.
///
/// # Errors
/// A [`RuleError`] naming the broken rule, with the position of the first offending character
/// when one is to blame.
pub fn validate_tenant(tenant: &str) -> Result<(), RuleError> {
    for (index, c) in tenant.chars().enumerate() {
        let position = index + 1;
        let allowed = c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
        if !allowed {
            return Err(RuleError::at(
                position,
                format!(
                    "tenant character {position} {} is not allowed: {TENANT_CHARACTERS_RULE}",
                    shown(c)
                ),
            ));
        }

        if index == 0 && matches!(c, '.' | '-') {
            return Err(RuleError::at(
                position,
                format!("tenant character 1 {} cannot start a tenant", shown(c)),
            ));
        }
    }

    let length = tenant.chars().count();
    if !TENANT_LENGTH.contains(&length) {
        return Err(RuleError::whole(format!(
            "{}: tenants are {} to {} characters",
            length_problem("tenant", length),
            TENANT_LENGTH.start(),
            TENANT_LENGTH.end()
        )));
    }
    Ok(())
}

/// A new KeyPairId: `kp-` and 17 random characters of `[a-z0-9]`, drawn uniformly from the
/// operating system's CSPRNG.
pub fn new_key_pair_id() -> String {
    // The OS generator failing (getrandom(2) erroring) leaves no safe way to make an ID, and
    // Linux does not fail it once booted, so a failure panics inside `UnwrapErr`.
    let mut rng = UnwrapErr(SysRng);
    let mut id = String::with_capacity(3 + KEY_PAIR_ID_RANDOM_LENGTH);
    id.push_str("kp-");
    for _ in 0..KEY_PAIR_ID_RANDOM_LENGTH {
        let byte = KEY_PAIR_ID_ALPHABET
            .choose(&mut rng)
            .expect("the alphabet is not empty");
        id.push(char::from(*byte));
    }
    id
}

/// A new RequestId: an upper-case UUID v4.
pub fn new_request_id() -> String {
    uuid::Uuid::new_v4()
        .hyphenated()
        .to_string()
        .to_ascii_uppercase()
}

/// GmtCreated as the API writes it: `2024-06-30 08:45:09.0` (UTC, one decimal of the second,
/// truncated, not rounded).
pub fn format_gmt(time: DateTime<Utc>) -> String {
    // chrono marks a leap second with a nanosecond count of one second or more; it still shows
    // as second 59, so its tenth is capped at 9.
    let tenth = (time.nanosecond() / 100_000_000).min(9);
    format!("{}.{tenth}", time.format("%Y-%m-%d %H:%M:%S"))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    /// What a name check should give: accepted, or rejected at a position (0: no position).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Expect {
        Accept,
        RejectAt(usize),
        RejectLength,
    }

    use Expect::{Accept, RejectAt, RejectLength};

    fn name_cases() -> Vec<(String, Expect, &'static str)> {
        vec![
            (String::new(), RejectLength, "empty"),
            ("a".into(), RejectLength, "1 character"),
            ("中".into(), RejectLength, "1 Chinese character"),
            ("ab".into(), Accept, "2 characters"),
            ("a1".into(), Accept, "letter then digit"),
            ("中文".into(), Accept, "2 Chinese characters"),
            ("a".repeat(128), Accept, "128 characters"),
            ("a".repeat(129), RejectLength, "129 characters"),
            (
                "中".repeat(128),
                Accept,
                "128 Chinese characters (384 bytes)",
            ),
            ("中".repeat(129), RejectLength, "129 Chinese characters"),
            ("中文key".into(), Accept, "Chinese at the start"),
            ("key中文".into(), Accept, "Chinese inside"),
            (
                "k中-x:y_z".into(),
                Accept,
                "Chinese and every symbol inside",
            ),
            (
                "\u{4E00}\u{9FFF}".into(),
                Accept,
                "CJK Unified Ideographs edges",
            ),
            ("\u{3400}\u{4DBF}".into(), Accept, "CJK Extension A edges"),
            (
                "a\u{4DC0}".into(),
                RejectAt(2),
                "U+4DC0 (Yijing hexagram) after Extension A",
            ),
            (
                "a\u{A000}".into(),
                RejectAt(2),
                "U+A000 (Yi) after the ideographs",
            ),
            (
                "a\u{20000}".into(),
                RejectAt(2),
                "Extension B is not in the rule",
            ),
            ("Zz09".into(), Accept, "letter and digit edges"),
            ("1abc".into(), RejectAt(1), "leading digit"),
            ("_abc".into(), RejectAt(1), "leading underscore"),
            (":abc".into(), RejectAt(1), "leading colon"),
            ("-abc".into(), RejectAt(1), "leading hyphen"),
            (
                "a:b_c-d".into(),
                Accept,
                "colon, underscore and hyphen inside",
            ),
            ("ab:".into(), Accept, "colon at the end"),
            ("http://x".into(), RejectAt(6), "URL: first '/' at 6"),
            ("my key".into(), RejectAt(3), "space inside"),
            (" ab".into(), RejectAt(1), "leading space (not trimmed)"),
            ("ab ".into(), RejectAt(3), "trailing space (not trimmed)"),
            ("ab\tc".into(), RejectAt(3), "tab"),
            ("ab\n".into(), RejectAt(3), "newline"),
            ("ab😀".into(), RejectAt(3), "emoji"),
            ("😀ab".into(), RejectAt(1), "leading emoji"),
            ("ａｂ".into(), RejectAt(1), "full-width letters"),
            ("ab１".into(), RejectAt(3), "full-width digit"),
            ("abc：".into(), RejectAt(4), "full-width colon"),
            ("café".into(), RejectAt(4), "Latin letter with accent"),
            ("Émile".into(), RejectAt(1), "leading accented letter"),
            (
                "cafe\u{301}".into(),
                RejectAt(5),
                "combining accent (not normalised)",
            ),
            ("ab\0c".into(), RejectAt(3), "NUL"),
            ("a.b".into(), RejectAt(2), "dot"),
            ("中文，".into(), RejectAt(3), "Chinese comma"),
            ("a　b".into(), RejectAt(2), "ideographic space"),
            (
                format!("{}!", "a".repeat(140)),
                RejectAt(141),
                "bad character beyond the limit",
            ),
        ]
    }

    #[test]
    fn key_pair_names_at_every_boundary() {
        for (name, expected, what) in name_cases() {
            let got = match validate_key_pair_name(&name) {
                Ok(()) => Accept,
                Err(RuleError {
                    position: Some(p), ..
                }) => RejectAt(p),
                Err(RuleError { position: None, .. }) => RejectLength,
            };
            assert_eq!(got, expected, "{what}: {name:?}");
        }
    }

    #[test]
    fn name_messages_name_the_rule_and_the_position() {
        let error = validate_key_pair_name("my key").expect_err("a space is not allowed");
        assert_eq!(
            error.message,
            "character 3 ' ' is not allowed: names use ASCII letters, Chinese characters, \
             digits, ':', '_' and '-'"
        );

        let error = validate_key_pair_name("ab\tc").expect_err("a tab is not allowed");
        assert!(
            error
                .message
                .starts_with("character 3 U+0009 is not allowed"),
            "{error}"
        );

        let error = validate_key_pair_name("ab\0").expect_err("NUL is not allowed");
        assert!(
            error
                .message
                .starts_with("character 3 U+0000 is not allowed"),
            "{error}"
        );

        let error = validate_key_pair_name("9lives").expect_err("a digit cannot lead");
        assert!(
            error
                .message
                .contains("character 1 '9' cannot start a name"),
            "{error}"
        );

        let error = validate_key_pair_name(&"x".repeat(129)).expect_err("129 is too long");
        assert_eq!(
            error.message,
            "name is 129 characters long: names are 2 to 128 characters"
        );
        let error = validate_key_pair_name("x").expect_err("1 is too short");
        assert_eq!(
            error.message,
            "name is 1 character long: names are 2 to 128 characters"
        );
        let error = validate_key_pair_name("").expect_err("empty");
        assert_eq!(
            error.message,
            "name is empty: names are 2 to 128 characters"
        );
        let error = validate_tenant("").expect_err("empty");
        assert_eq!(
            error.message,
            "tenant is empty: tenants are 1 to 64 characters"
        );
    }

    #[test]
    fn invisible_characters_are_named_by_code_point() {
        for (name, code_point) in [
            ("ab\u{202E}cd", "U+202E"),
            ("ab\u{200B}cd", "U+200B"),
            ("ab\u{FEFF}cd", "U+FEFF"),
            ("ab\u{2066}cd", "U+2066"),
            ("ab\u{E0041}cd", "U+E0041"),
            ("ab\u{3164}cd", "U+3164"),
        ] {
            let error = validate_key_pair_name(name).expect_err("not allowed");
            assert!(
                error
                    .message
                    .starts_with(&format!("character 3 {code_point} is not allowed")),
                "{name:?}: {error}"
            );
        }

        let error = validate_key_pair_name("abＡ").expect_err("a full-width letter");
        assert!(
            error.message.starts_with("character 3 'Ａ' is not allowed"),
            "{error}"
        );
    }

    #[test]
    fn tenants_at_every_boundary() {
        let accepted = [
            "a".to_string(),
            "default".into(),
            "Team_1.prod-eu".into(),
            "0team".into(),
            "_x".into(),
            "a".repeat(64),
        ];
        for tenant in &accepted {
            assert_eq!(validate_tenant(tenant), Ok(()), "{tenant:?}");
        }

        let rejected: [(String, Option<usize>); 9] = [
            (String::new(), None),
            ("a".repeat(65), None),
            (".hidden".into(), Some(1)),
            ("-x".into(), Some(1)),
            ("a b".into(), Some(2)),
            ("a/b".into(), Some(2)),
            ("a\0b".into(), Some(2)),
            ("租户".into(), Some(1)),
            ("ab:c".into(), Some(3)),
        ];
        for (tenant, position) in &rejected {
            let error = validate_tenant(tenant).expect_err("tenant must be rejected");
            assert_eq!(error.position, *position, "{tenant:?}: {error}");
        }
    }

    #[test]
    fn key_pair_ids_are_kp_and_17_lowercase_alphanumerics() {
        let ids: std::collections::HashSet<String> = (0..1000).map(|_| new_key_pair_id()).collect();
        assert_eq!(ids.len(), 1000, "IDs repeat");

        let mut seen = std::collections::HashSet::new();
        for id in &ids {
            let random = id.strip_prefix("kp-").expect("IDs start with kp-");
            assert_eq!(random.len(), 17, "{id}");
            assert!(
                random
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()),
                "{id}"
            );
            seen.extend(random.bytes());
        }

        // 17,000 uniform draws from 36 characters: each is all but certain to appear.
        assert_eq!(seen.len(), 36, "the whole alphabet is used");
    }

    #[test]
    fn request_ids_are_upper_case_uuid_v4() {
        let id = new_request_id();
        let parsed = uuid::Uuid::parse_str(&id).expect("a RequestId is a UUID");
        assert_eq!(parsed.get_version_num(), 4);
        assert_eq!(id.len(), 36);
        assert_eq!(id, id.to_ascii_uppercase());
        assert_eq!(id.matches('-').count(), 4);
        assert_ne!(id, new_request_id());
    }

    #[test]
    fn gmt_has_one_truncated_decimal() {
        let base = Utc
            .with_ymd_and_hms(2024, 6, 30, 8, 45, 9)
            .single()
            .expect("a valid time");
        assert_eq!(format_gmt(base), "2024-06-30 08:45:09.0");

        let almost_next = base + chrono::Duration::nanoseconds(999_999_999);
        assert_eq!(format_gmt(almost_next), "2024-06-30 08:45:09.9");

        let a_quarter = base + chrono::Duration::milliseconds(250);
        assert_eq!(format_gmt(a_quarter), "2024-06-30 08:45:09.2");

        let new_year = Utc
            .with_ymd_and_hms(1999, 12, 31, 23, 59, 59)
            .single()
            .expect("a valid time");
        assert_eq!(format_gmt(new_year), "1999-12-31 23:59:59.0");
    }
}
