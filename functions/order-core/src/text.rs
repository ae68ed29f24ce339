//! Text as the system stores it: sanitized names, normalized e-mail addresses, checked SKUs.
//!
//! Sanitizing removes what a person cannot see or did not mean: leading and trailing
//! whitespace, runs of whitespace (any Unicode white space, tabs and line breaks included)
//! inside, control characters (`\0`, `ESC`, …) and the invisible characters used to spoof
//! text (bidirectional overrides and isolates, zero-width space, byte-order mark). Letters of
//! every script, accents and emoji (including zero-width joiner sequences) are kept.

use std::sync::OnceLock;

use infra_model::contract::api::patterns;
use regex_lite::Regex;

/// Characters dropped from text: controls that are not white space, bidirectional
/// embedding/override/isolate controls and marks, the zero-width space and the BOM.
fn is_invisible(c: char) -> bool {
    (c.is_control() && !c.is_whitespace())
        || matches!(
            c,
            '\u{200B}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}'
        )
}

/// One line of text: trimmed, inner white space collapsed to single spaces, invisible
/// characters removed.
pub fn clean_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending_space = false;
    for c in s.chars() {
        if c.is_whitespace() {
            pending_space = !out.is_empty();
        } else if !is_invisible(c) {
            if pending_space {
                out.push(' ');
                pending_space = false;
            }
            out.push(c);
        }
    }
    out
}

/// Text that may span lines (a product description): each line cleaned like [`clean_text`],
/// `\r\n` and `\r` read as line breaks, at most one empty line in a row, none at the start or
/// the end.
pub fn clean_multiline(s: &str) -> String {
    let normalized = s.replace("\r\n", "\n").replace('\r', "\n");
    let mut out: Vec<String> = Vec::new();
    for line in normalized.split('\n') {
        let line = clean_text(line);
        let previous_empty = out.last().is_none_or(|l| l.is_empty());
        if !line.is_empty() || !previous_empty {
            out.push(line);
        }
    }
    while out.last().is_some_and(|l| l.is_empty()) {
        out.pop();
    }
    out.join("\n")
}

/// The length the limits count: characters (Unicode scalar values), not bytes.
pub fn char_len(s: &str) -> usize {
    s.chars().count()
}

/// Whether `s` has something to read: a character that is neither white space nor invisible
/// (what [`patterns::VISIBLE`] matches, and what [`clean_text`] keeps).
pub fn has_visible(s: &str) -> bool {
    s.chars().any(|c| !c.is_whitespace() && !is_invisible(c))
}

/// Whether `s` matches `pattern`, one of the contract's [`patterns`]: the handlers check the
/// very patterns the requests' JSON Schemas state.
pub fn matches(pattern: &str, s: &str) -> bool {
    static COMPILED: OnceLock<Vec<(&'static str, Regex)>> = OnceLock::new();
    let compiled = COMPILED.get_or_init(|| {
        patterns::ALL
            .iter()
            .map(|p| {
                (
                    *p,
                    Regex::new(p).expect("the contract's patterns compile (a unit test checks)"),
                )
            })
            .collect()
    });
    match compiled.iter().find(|(p, _)| *p == pattern) {
        Some((_, r)) => r.is_match(s),
        None => Regex::new(pattern).is_ok_and(|r| r.is_match(s)),
    }
}

/// An e-mail address as stored and compared: in lower case (it is checked as written).
pub fn normalize_email(s: &str) -> String {
    s.to_ascii_lowercase()
}

/// Why an e-mail address, as the client wrote it, is not accepted, as a rule: `None` when it
/// is fine. The rule is the contract's [`patterns::EMAIL`] and a length of 3 to `max_len`.
pub fn email_problem(email: &str, max_len: usize) -> Option<String> {
    if char_len(email) > max_len {
        return Some(format!("must be at most {max_len} characters"));
    }
    (!matches(patterns::EMAIL, email))
        .then(|| "must be a valid e-mail address such as name@example.com".into())
}

/// The rule of a SKU, for messages.
pub const SKU_RULE: &str =
    "must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit";

/// Whether `s` matches [`limits::SKU_PATTERN`](infra_model::contract::api::limits::SKU_PATTERN),
/// `^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`, without a regex engine.
pub fn is_valid_sku(s: &str) -> bool {
    let bytes = s.as_bytes();
    match bytes.split_first() {
        Some((first, rest)) => {
            first.is_ascii_alphanumeric()
                && rest.len() <= 63
                && rest
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use infra_model::contract::api::limits;

    #[test]
    fn clean_text_trims_collapses_and_strips() {
        assert_eq!(clean_text("  Ada   Lovelace \t"), "Ada Lovelace");
        assert_eq!(clean_text("Ada\n\r\nLovelace"), "Ada Lovelace");
        assert_eq!(clean_text("A\u{0}d\u{1b}a\u{7f}"), "Ada");
        assert_eq!(clean_text("a \u{0} b"), "a b");
        assert_eq!(clean_text("\u{202E}evil\u{202C}"), "evil");
        assert_eq!(clean_text("\u{FEFF}zero\u{200B}width"), "zerowidth");
        assert_eq!(
            clean_text("non\u{00A0}breaking\u{3000}space"),
            "non breaking space"
        );
        assert_eq!(clean_text(" \t\n "), "");
        assert_eq!(clean_text(""), "");
    }

    #[test]
    fn clean_text_keeps_letters_of_every_script_and_emoji() {
        assert_eq!(clean_text("Zoë  Ørsted"), "Zoë Ørsted");
        assert_eq!(clean_text("東京 タワー"), "東京 タワー");
        assert_eq!(clean_text("مرحبا"), "مرحبا");
        // A family emoji is joined with U+200D, which must survive.
        assert_eq!(clean_text("👨\u{200D}👩\u{200D}👧"), "👨\u{200D}👩\u{200D}👧");
    }

    #[test]
    fn clean_multiline_keeps_paragraphs() {
        assert_eq!(
            clean_multiline("\r\n  First  line \r\nsecond\tline\n\n\n\nnext \u{0}para\n\n"),
            "First line\nsecond line\n\nnext para"
        );
        assert_eq!(clean_multiline("\n\n \n"), "");
        assert_eq!(clean_multiline("one\rtwo"), "one\ntwo");
    }

    #[test]
    fn lengths_count_characters() {
        assert_eq!(char_len("Zoë"), 3);
        assert_eq!(char_len("東京"), 2);
    }

    #[test]
    fn emails_are_normalized_and_checked() {
        assert_eq!(
            normalize_email("Ann.Lee+Tag@Example.COM"),
            "ann.lee+tag@example.com"
        );
        for ok in [
            "a@b.co",
            "ann.lee+tag@example.com",
            "o'brien@mail.example.ie",
            "x_y-z@sub-domain.example.org",
            "a@xn--p1ai.xn--p1ai",
        ] {
            assert_eq!(email_problem(ok, limits::MAX_EMAIL), None, "{ok}");
        }
        for bad in [
            "",
            " a@b.co",
            "a@b.co ",
            "plain",
            "@example.com",
            "a@",
            "a@b",
            "a@b.c",
            "a@@b.co",
            "a@b@c.co",
            ".a@b.co",
            "a.@b.co",
            "a..b@c.co",
            "a b@c.co",
            "a@b..co",
            "a@-b.co",
            "a@b-.co",
            "a@1.2.3.4",
            "a@[1.2.3.4]",
            "\"a\"@b.co",
            "zoë@example.com",
            "a@exämple.com",
            "a\u{0}@b.co",
        ] {
            assert_eq!(
                email_problem(bad, limits::MAX_EMAIL).as_deref(),
                Some("must be a valid e-mail address such as name@example.com"),
                "{bad:?}"
            );
        }
        let long_label = format!("a@{}.co", "b".repeat(64));
        assert!(email_problem(&long_label, limits::MAX_EMAIL).is_some());
        let long = format!("a@{}.com", "b".repeat(251));
        assert_eq!(
            email_problem(&long, limits::MAX_EMAIL).as_deref(),
            Some("must be at most 254 characters")
        );
    }

    #[test]
    fn every_contract_pattern_compiles() {
        for p in patterns::ALL {
            assert!(Regex::new(p).is_ok(), "{p}");
        }
    }

    /// The pattern of the schemas and the predicate of the handlers agree on every character of
    /// the Basic Multilingual Plane and a sample beyond it.
    #[test]
    fn the_visible_pattern_is_what_clean_text_keeps() {
        let chars = (0u32..0x1_0000)
            .chain((0x1_0000..0x11_0000).step_by(97))
            .filter_map(char::from_u32);
        for c in chars {
            let s = c.to_string();
            assert_eq!(
                matches(patterns::VISIBLE, &s),
                has_visible(&s),
                "U+{:04X}",
                c as u32
            );
            assert_eq!(has_visible(&s), !clean_text(&s).is_empty(), "U+{:04X}", c as u32);
        }
        assert!(matches(patterns::VISIBLE, "  a  "));
        assert!(!matches(patterns::VISIBLE, " \u{200B}\t\u{3000}"));
    }

    #[test]
    fn skus_follow_the_contract_pattern() {
        assert_eq!(limits::SKU_PATTERN, "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$");
        for ok in ["a", "laptop", "LAPTOP-15.v2_b", "9", &"x".repeat(64)] {
            assert!(is_valid_sku(ok), "{ok}");
            assert!(matches(patterns::SKU, ok), "{ok}");
        }
        for bad in [
            "",
            "-a",
            ".a",
            "_a",
            "a b",
            "a/b",
            "a#1",
            "ä",
            "a\n",
            &"x".repeat(65),
        ] {
            assert!(!is_valid_sku(bad), "{bad:?}");
            assert!(!matches(patterns::SKU, bad), "{bad:?}");
        }
    }
}
