//! Text for the screen: widths in terminal cells (unicode-width), cutting with an ellipsis
//! without splitting a character, and stripping what a terminal would interpret.

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// "key pair" or "key pairs", as `count` needs.
pub fn key_pairs_noun(count: usize) -> &'static str {
    if count == 1 { "key pair" } else { "key pairs" }
}

/// Removes control characters and bidirectional overrides, which could move the cursor or
/// reorder what the user sees.
pub fn sanitize(text: &str) -> String {
    text.chars()
        .filter(|character| !character.is_control() && !is_bidi_control(*character))
        .collect()
}

/// The lines of a pasted text, broken at LF, CRLF or a lone CR (terminals send pasted line
/// breaks as CR); like `str::lines`, a final line break does not start another line.
pub fn pasted_lines(text: &str) -> Vec<&str> {
    let mut lines: Vec<&str> = text
        .split('\n')
        .flat_map(|line| line.strip_suffix('\r').unwrap_or(line).split('\r'))
        .collect();
    if lines.last() == Some(&"") {
        lines.pop();
    }
    lines
}

fn is_bidi_control(character: char) -> bool {
    matches!(
        character,
        '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
    )
}

/// The width of `text` in terminal cells.
pub fn width(text: &str) -> usize {
    UnicodeWidthStr::width(text)
}

/// `text` cut to at most `max` cells; a cut text ends with `…`. A two-cell character that
/// does not fit whole is left out, never split.
pub fn fit(text: &str, max: usize) -> String {
    cut_to(text, max, |budget| {
        fitting(text.chars(), budget).chain(['…']).collect()
    })
}

/// `text` cut from the left to at most `max` cells, keeping its end (for paths).
pub fn fit_left(text: &str, max: usize) -> String {
    cut_to(text, max, |budget| {
        let kept: Vec<char> = fitting(text.chars().rev(), budget).collect();
        std::iter::once('…').chain(kept.into_iter().rev()).collect()
    })
}

/// `text` itself when it fits in `max` cells, nothing when `max` is 0, else what `cut` makes
/// of it given the `max - 1` cells beside the ellipsis.
fn cut_to(text: &str, max: usize, cut: impl FnOnce(usize) -> String) -> String {
    if width(text) <= max {
        text.to_owned()
    } else if max == 0 {
        String::new()
    } else {
        cut(max - 1)
    }
}

/// The first of `characters` that fit in `budget` cells together; none after the first that
/// does not.
fn fitting(characters: impl Iterator<Item = char>, budget: usize) -> impl Iterator<Item = char> {
    let mut used = 0;
    characters.take_while(move |character| {
        used += character.width().unwrap_or(0);
        used <= budget
    })
}

/// `text` broken into lines of at most `max` cells, by character (for base64 and keys).
pub fn wrap_hard(text: &str, max: usize) -> Vec<String> {
    let max = max.max(1);
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut used = 0;
    for character in text.chars() {
        let cells = character.width().unwrap_or(0);
        if used + cells > max && !line.is_empty() {
            lines.push(std::mem::take(&mut line));
            used = 0;
        }
        used += cells;
        line.push(character);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_is_two_cells_and_never_split() {
        assert_eq!(width("密钥"), 4);
        assert_eq!(fit("生产环境密钥", 6), "生产…");
        assert_eq!(fit("生产环境密钥", 5), "生产…");
        assert_eq!(width(&fit("生产环境密钥", 5)), 5);
        assert_eq!(fit("ab", 2), "ab");
        assert_eq!(fit("abc", 0), "");
        assert_eq!(fit("abc", 1), "…");
    }

    #[test]
    fn left_fit_keeps_the_end() {
        assert_eq!(fit_left("/home/op/.local/share/adbkeys", 10), "…e/adbkeys");
        assert_eq!(fit_left("生产环境密钥", 6), "…密钥");
        assert_eq!(fit_left("abc", 0), "");
        assert_eq!(fit_left("abc", 3), "abc");
    }

    #[test]
    fn controls_and_bidi_overrides_are_removed() {
        assert_eq!(sanitize("a\u{1b}[2Jb\u{202e}c\n"), "a[2Jbc");
    }

    #[test]
    fn hard_wrap_cuts_at_the_width() {
        assert_eq!(wrap_hard("abcdefg", 3), vec!["abc", "def", "g"]);
        assert_eq!(wrap_hard("", 3), Vec::<String>::new());
    }
}
