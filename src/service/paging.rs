//! DescribeKeyPairs' filters and its NextToken: an opaque cursor bound to the query it was
//! issued for.
//!
//! A token holds the position after which the next page starts (GmtCreated and KeyPairId of
//! the last key pair returned, so pages stay in step when key pairs are added or deleted
//! between calls) and a checksum over that position, the tenant and the filters. A token that
//! was damaged, made up, or issued for another tenant or other filters fails the check. The
//! checksum has no secret key: it catches mistakes, not a forger, who could only page through
//! key pairs they can list anyway.

use std::ops::RangeInclusive;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::store::KeyPairRecord;

/// MaxResults when none is given.
pub const DEFAULT_MAX_RESULTS: u32 = 10;

/// The MaxResults the API accepts.
pub const MAX_RESULTS_RANGE: RangeInclusive<u32> = 1..=100;

const TOKEN_VERSION: u8 = 1;
const CHECKSUM_LEN: usize = 12;
const CHECKSUM_DOMAIN: &[u8] = b"adbkeys DescribeKeyPairs NextToken v1";

/// The filters of one DescribeKeyPairs query.
#[derive(Debug, Clone)]
pub struct Filter<'a> {
    tenant: &'a str,
    name: Option<&'a str>,
    ids: &'a [String],
}

impl<'a> Filter<'a> {
    pub fn new(tenant: &'a str, name: Option<&'a str>, ids: &'a [String]) -> Self {
        Self { tenant, name, ids }
    }

    /// Whether a record passes the name filter (exact, or a glob with `*`) and the ID filter.
    pub fn matches(&self, record: &KeyPairRecord) -> bool {
        let name_matches = match self.name {
            None => true,
            Some(pattern) if pattern.contains('*') => glob_matches(pattern, &record.key_pair_name),
            Some(name) => name == record.key_pair_name,
        };
        let id_matches = self.ids.is_empty() || self.ids.contains(&record.key_pair_id);
        name_matches && id_matches
    }

    /// A token for the page that starts after `last`.
    pub fn encode_token(&self, last: &KeyPairRecord) -> String {
        let mut payload = vec![TOKEN_VERSION];
        payload.extend_from_slice(&last.created.timestamp().to_be_bytes());
        payload.extend_from_slice(&last.created.timestamp_subsec_nanos().to_be_bytes());
        payload.extend_from_slice(last.key_pair_id.as_bytes());

        let checksum = self.checksum(&payload);
        payload.extend_from_slice(&checksum);
        URL_SAFE_NO_PAD.encode(payload)
    }

    /// The cursor a token stands for, or `None` if this query did not issue it.
    pub fn decode_token(&self, token: &str) -> Option<Cursor> {
        let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
        let payload_len = bytes.len().checked_sub(CHECKSUM_LEN)?;
        let (payload, checksum) = bytes.split_at(payload_len);
        if payload.len() < 1 + 8 + 4 || payload[0] != TOKEN_VERSION {
            return None;
        }
        if self.checksum(payload) != checksum {
            return None;
        }

        let seconds = i64::from_be_bytes(payload[1..9].try_into().ok()?);
        let nanos = u32::from_be_bytes(payload[9..13].try_into().ok()?);
        let created = DateTime::from_timestamp(seconds, nanos)?;
        let key_pair_id = String::from_utf8(payload[13..].to_vec()).ok()?;
        Some(Cursor {
            created,
            key_pair_id,
        })
    }

    fn checksum(&self, payload: &[u8]) -> [u8; CHECKSUM_LEN] {
        let mut ids: Vec<&str> = self.ids.iter().map(String::as_str).collect();
        ids.sort_unstable();
        ids.dedup();

        let mut hasher = Sha256::new();
        hasher.update(CHECKSUM_DOMAIN);
        hash_field(&mut hasher, self.tenant.as_bytes());
        match self.name {
            None => hasher.update([0u8]),
            Some(name) => {
                hasher.update([1u8]);
                hash_field(&mut hasher, name.as_bytes());
            }
        }
        hasher.update((ids.len() as u64).to_be_bytes());
        for id in ids {
            hash_field(&mut hasher, id.as_bytes());
        }
        hash_field(&mut hasher, payload);

        let digest = hasher.finalize();
        let mut checksum = [0u8; CHECKSUM_LEN];
        checksum.copy_from_slice(&digest[..CHECKSUM_LEN]);
        checksum
    }
}

/// A length-prefixed field, so that no two different queries hash the same bytes.
fn hash_field(hasher: &mut Sha256, field: &[u8]) {
    hasher.update((field.len() as u64).to_be_bytes());
    hasher.update(field);
}

/// Where the next page starts: after this GmtCreated and KeyPairId (the list's order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    created: DateTime<Utc>,
    key_pair_id: String,
}

impl Cursor {
    /// Whether `record` comes after the cursor in the list's order.
    pub fn is_before(&self, record: &KeyPairRecord) -> bool {
        (self.created, self.key_pair_id.as_str()) < (record.created, record.key_pair_id.as_str())
    }
}

/// Matches `text` against `pattern`, where `*` stands for any run of characters (also none)
/// and every other character stands for itself.
pub fn glob_matches(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();

    // Greedy matching with backtracking to the last `*`, linear in practice.
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == '*' {
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if let Some((star_p, star_t)) = star {
            p = star_p + 1;
            t = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Source;

    fn record(id: &str, name: &str, seconds: i64) -> KeyPairRecord {
        KeyPairRecord {
            schema: 1,
            tenant: "default".into(),
            key_pair_id: id.into(),
            key_pair_name: name.into(),
            public_key_line: String::new(),
            source: Source::Imported,
            created: DateTime::from_timestamp(seconds, 123_456_789).expect("valid time"),
        }
    }

    #[test]
    fn glob_star_matches_any_run() {
        let cases = [
            ("web-*", "web-01", true),
            ("web-*", "web-", true),
            ("web-*", "db-01", false),
            ("*-01", "web-01", true),
            ("*-01", "web-02", false),
            ("w*b*1", "web-01", true),
            ("w*b*2", "web-01", false),
            ("*", "anything", true),
            ("**", "x", true),
            ("测试*", "测试机01", true),
            ("a*a*a", "aaa", true),
            ("a*a*a", "aa", false),
            ("web?", "web?", true),
            ("web?", "webx", false),
        ];
        for (pattern, text, expected) in cases {
            assert_eq!(
                glob_matches(pattern, text),
                expected,
                "'{pattern}' vs '{text}'"
            );
        }
    }

    #[test]
    fn token_round_trips_for_the_query_that_issued_it() {
        let ids = vec!["kp-b".to_string(), "kp-a".to_string()];
        let filter = Filter::new("default", Some("web*"), &ids);
        let last = record("kp-aaaaaaaaaaaaaaaaa", "web1", 1_700_000_000);

        let token = filter.encode_token(&last);
        let cursor = filter.decode_token(&token).expect("issued token decodes");
        assert!(!cursor.is_before(&last));
        assert!(cursor.is_before(&record("kp-aaaaaaaaaaaaaaaab", "web2", 1_700_000_000)));
        assert!(cursor.is_before(&record("kp-0", "web3", 1_700_000_001)));

        let reordered = vec!["kp-a".to_string(), "kp-b".to_string()];
        assert!(
            Filter::new("default", Some("web*"), &reordered)
                .decode_token(&token)
                .is_some()
        );
    }

    #[test]
    fn token_is_refused_when_damaged_or_used_for_another_query() {
        let filter = Filter::new("default", None, &[]);
        let token = filter.encode_token(&record("kp-aaaaaaaaaaaaaaaaa", "web1", 1_700_000_000));

        assert!(
            Filter::new("other", None, &[])
                .decode_token(&token)
                .is_none()
        );
        assert!(
            Filter::new("default", Some("web1"), &[])
                .decode_token(&token)
                .is_none()
        );
        assert!(filter.decode_token("garbage!").is_none());
        assert!(filter.decode_token("").is_none());
        assert!(filter.decode_token("AAAA").is_none());

        let mut bytes = URL_SAFE_NO_PAD.decode(&token).expect("our own base64");
        bytes[5] ^= 1;
        assert!(
            filter
                .decode_token(&URL_SAFE_NO_PAD.encode(&bytes))
                .is_none()
        );
    }
}
