//! A file's bytes as the text edits work on, and back: the UTF-8 BOM is stripped and
//! remembered, line endings are detected and normalized to `\n` for matching, and a file
//! that is not UTF-8 or holds a NUL byte is binary (refused by the applier).
//!
//! Also the one place that knows how a missing final newline is handled: matching works on
//! text that ends with `\n` ([`open`]), and [`close`] takes the added newline away again, so
//! an edit keeps a file's "no newline at end of file" unless its text decides otherwise.

use crate::fence::normalize;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// How a text file is stored on disk, apart from its text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct TextFormat {
    /// It started with a UTF-8 byte order mark.
    pub(super) bom: bool,
    /// Most of its line breaks were `\r\n`.
    pub(super) crlf: bool,
}

/// The file's format and its text with `\n` line endings, or `None` when it is binary.
pub(super) fn decode(bytes: &[u8]) -> Option<(TextFormat, String)> {
    let (bom, body) = match bytes.strip_prefix(BOM) {
        Some(body) => (true, body),
        None => (false, bytes),
    };
    let text = std::str::from_utf8(body).ok()?;
    if text.contains('\0') {
        return None;
    }
    let line_breaks = text.matches('\n').count();
    let crlf_breaks = text.matches("\r\n").count();
    // "Most": a file with a few stray `\n` among `\r\n` is still a CRLF file, and is written
    // back all CRLF; ties go to `\n`.
    let crlf = crlf_breaks > line_breaks - crlf_breaks;
    let format = TextFormat { bom, crlf };
    Some((format, normalize(text).into_owned()))
}

/// The bytes to write for `text` (which has `\n` line endings) in `format`.
pub(super) fn encode(format: TextFormat, text: &str) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(text.len() + 3);
    if format.bom {
        bytes.extend_from_slice(BOM);
    }
    let text = normalize(text);
    if format.crlf {
        bytes.extend_from_slice(text.replace('\n', "\r\n").as_bytes());
    } else {
        bytes.extend_from_slice(text.as_bytes());
    }
    bytes
}

/// `text` ending with `\n` (unless empty) for line matching, and whether a `\n` was added.
pub(super) fn open(text: &str) -> (String, bool) {
    if text.is_empty() || text.ends_with('\n') {
        (text.to_owned(), false)
    } else {
        (format!("{text}\n"), true)
    }
}

/// Undoes [`open`] on the edited text: takes the added `\n` away again.
pub(super) fn close(mut text: String, added: bool) -> String {
    if added && text.ends_with('\n') {
        text.pop();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn crlf_with_bom_round_trips() {
        let bytes = b"\xEF\xBB\xBFa\r\nb\r\n";
        let (format, text) = decode(bytes).unwrap();
        assert_eq!(
            format,
            TextFormat {
                bom: true,
                crlf: true
            }
        );
        assert_eq!(text, "a\nb\n");
        assert_eq!(encode(format, &text), bytes.to_vec());
    }

    #[test]
    fn mostly_lf_files_stay_lf() {
        let (format, _) = decode(b"a\r\nb\nc\n").unwrap();
        assert!(!format.crlf);
    }

    #[test]
    fn invalid_utf8_and_nul_are_binary() {
        assert!(decode(b"\xFF\xFEa").is_none());
        assert!(decode(b"a\0b").is_none());
    }

    #[test]
    fn open_and_close_keep_a_missing_final_newline() {
        let (text, added) = open("a\nb");
        assert_eq!((text.as_str(), added), ("a\nb\n", true));
        assert_eq!(close("a\nc\n".to_owned(), added), "a\nc");
        assert_eq!(open(""), (String::new(), false));
    }
}
