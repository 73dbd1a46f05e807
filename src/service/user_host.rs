//! The `user@host` comment of created keys, found the way `adb keygen` finds it.

use std::env;
use std::fs;

/// What stands in for a user or host name that cannot be found.
const UNKNOWN: &str = "unknown";

/// `user@host` of this session: `$LOGNAME` (or `$USER`) and `$HOSTNAME` (or the kernel's host
/// name), as `adb keygen` writes after the key; `unknown` for a part that cannot be found.
pub fn creator_comment() -> String {
    let user = first_usable([env::var("LOGNAME").ok(), env::var("USER").ok()]);
    let host = first_usable([
        env::var("HOSTNAME").ok(),
        fs::read_to_string("/proc/sys/kernel/hostname").ok(),
        fs::read_to_string("/etc/hostname").ok(),
    ]);
    format!("{user}@{host}")
}

/// The first candidate that is non-empty once whitespace and control characters are removed.
fn first_usable<const N: usize>(candidates: [Option<String>; N]) -> String {
    candidates
        .into_iter()
        .flatten()
        .map(|value| {
            value
                .chars()
                .filter(|c| !c.is_whitespace() && !c.is_control())
                .collect::<String>()
        })
        .find(|value| !value.is_empty())
        .unwrap_or_else(|| UNKNOWN.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_usable_skips_missing_and_blank_values() {
        let found = first_usable([None, Some(" \n".into()), Some("vm\n".into())]);
        assert_eq!(found, "vm");
        assert_eq!(first_usable([None, Some(String::new())]), "unknown");
    }

    #[test]
    fn comment_has_one_at_sign_and_no_spaces() {
        let comment = creator_comment();
        assert_eq!(comment.matches('@').count(), 1, "{comment}");
        assert!(!comment.contains(char::is_whitespace), "{comment}");
    }
}
