//! The bytes of an OSC 52 clipboard sequence, plain or wrapped for tmux or GNU screen.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

/// GNU screen keeps at most 767 bytes of a string sequence; each chunk of ours, with its
/// `ESC P` and `ESC \`, stays within 768.
pub const SCREEN_CHUNK_MAX: usize = 768 - 4;

const ESC: u8 = 0x1b;

/// `ESC ] 52 ; c ; <base64 of text> BEL`; an empty `text` gives the sequence that clears the
/// selection (`ESC ] 52 ; c ; BEL`).
pub fn plain(text: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut encoded = Zeroizing::new(String::with_capacity(
        base64::encoded_len(text.len(), true)
            .expect("a clipboard text is far below the size where base64 overflows usize"),
    ));
    STANDARD.encode_string(text, &mut encoded);

    let mut sequence = Zeroizing::new(Vec::with_capacity(encoded.len() + 8));
    sequence.extend_from_slice(b"\x1b]52;c;");
    sequence.extend_from_slice(encoded.as_bytes());
    sequence.push(0x07);
    sequence
}

/// tmux's DCS passthrough: `ESC P tmux ; <sequence with every ESC doubled> ESC \`.
pub fn tmux_passthrough(sequence: &[u8]) -> Zeroizing<Vec<u8>> {
    let escapes = sequence.iter().filter(|&&byte| byte == ESC).count();
    let mut wrapped = Zeroizing::new(Vec::with_capacity(sequence.len() + escapes + 9));
    wrapped.extend_from_slice(b"\x1bPtmux;");
    for &byte in sequence {
        if byte == ESC {
            wrapped.push(ESC);
        }
        wrapped.push(byte);
    }
    wrapped.extend_from_slice(b"\x1b\\");
    wrapped
}

/// GNU screen's wrapper: the sequence cut into chunks of at most [`SCREEN_CHUNK_MAX`] bytes,
/// each as its own `ESC P <chunk> ESC \`, which screen passes on unchanged.
pub fn screen_chunks(sequence: &[u8]) -> Zeroizing<Vec<u8>> {
    let chunks = sequence.len().div_ceil(SCREEN_CHUNK_MAX);
    let mut wrapped = Zeroizing::new(Vec::with_capacity(sequence.len() + 4 * chunks));
    for chunk in sequence.chunks(SCREEN_CHUNK_MAX) {
        wrapped.extend_from_slice(b"\x1bP");
        wrapped.extend_from_slice(chunk);
        wrapped.extend_from_slice(b"\x1b\\");
    }
    wrapped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_sequence_carries_standard_base64_between_the_markers() {
        // "hello" -> aGVsbG8= (RFC 4648 alphabet, worked by hand: 68 65 6c | 6c 6f).
        assert_eq!(plain(b"hello").as_slice(), b"\x1b]52;c;aGVsbG8=\x07");

        // "ab?>" exercises '+' and '/': 61 62 3f | 3e -> YWI/ Pg==.
        assert_eq!(plain(b"ab?>").as_slice(), b"\x1b]52;c;YWI/Pg==\x07");
    }

    #[test]
    fn empty_text_gives_the_clearing_sequence() {
        assert_eq!(plain(b"").as_slice(), b"\x1b]52;c;\x07");
    }

    #[test]
    fn tmux_wrapper_doubles_every_escape() {
        let wrapped = tmux_passthrough(&plain(b"hello"));

        assert_eq!(
            wrapped.as_slice(),
            b"\x1bPtmux;\x1b\x1b]52;c;aGVsbG8=\x07\x1b\\"
        );
    }

    #[test]
    fn tmux_wrapper_doubles_escapes_inside_the_sequence_too() {
        assert_eq!(
            tmux_passthrough(b"a\x1bb\x1b").as_slice(),
            b"\x1bPtmux;a\x1b\x1bb\x1b\x1b\x1b\\"
        );
    }

    #[test]
    fn screen_wrapper_keeps_a_short_sequence_in_one_chunk() {
        assert_eq!(
            screen_chunks(&plain(b"hello")).as_slice(),
            b"\x1bP\x1b]52;c;aGVsbG8=\x07\x1b\\"
        );
    }

    #[test]
    fn screen_wrapper_cuts_a_pem_sized_sequence_into_chunks_of_at_most_768_bytes() {
        // A 2048-bit PEM is 1704 bytes: 2272 base64 characters, 2280 bytes of sequence.
        let text = vec![b'k'; 1704];
        let sequence = plain(&text);
        assert_eq!(sequence.len(), 2280);

        let wrapped = screen_chunks(&sequence);
        let mut rebuilt = Vec::new();
        let mut rest = wrapped.as_slice();
        let mut chunk_sizes = Vec::new();
        while !rest.is_empty() {
            assert!(rest.starts_with(b"\x1bP"), "each chunk opens with ESC P");
            let end = (2..rest.len() - 1)
                .find(|&index| &rest[index..index + 2] == b"\x1b\\")
                .expect("each chunk closes with ESC \\");
            chunk_sizes.push(end + 2);
            rebuilt.extend_from_slice(&rest[2..end]);
            rest = &rest[end + 2..];
        }

        assert_eq!(chunk_sizes, vec![768, 768, 2280 - 2 * 764 + 4]);
        assert_eq!(rebuilt, sequence.as_slice());
    }
}
