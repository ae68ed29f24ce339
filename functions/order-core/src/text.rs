//! Text as the system stores it: sanitized names, normalized e-mail addresses, checked SKUs.
//!
//! Sanitizing removes what a person cannot see or did not mean: leading and trailing
//! whitespace, runs of whitespace (any Unicode white space, tabs and line breaks included)
//! inside, control characters (`\0`, `ESC`, …) and the invisible characters used to spoof
//! text (bidirectional overrides and isolates, zero-width space, byte-order mark). Letters of
//! every script, accents and emoji (including zero-width joiner sequences) are kept.

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

/// An e-mail address as stored and compared: trimmed and in lower case.
pub fn normalize_email(s: &str) -> String {
    s.trim().to_lowercase()
}

/// Why an (already normalized) e-mail address is not accepted, as a rule: `None` when it is
/// fine. Accepted: `local@domain` in ASCII, the local part 1 to 64 characters of letters,
/// digits and ``!#$%&'*+/=?^_`{|}~.-`` without a leading, trailing or doubled dot; the domain
/// two or more labels of letters, digits and inner hyphens (at most 63 each, 253 in all), the
/// last one not only digits. Quoted local parts, IP literals and non-ASCII addresses are
/// refused: no mail system we send through needs them.
pub fn email_problem(email: &str, max_len: usize) -> Option<String> {
    const RULE: &str = "must be a valid e-mail address such as name@example.com";
    if char_len(email) > max_len {
        return Some(format!("must be at most {max_len} characters"));
    }
    let Some((local, domain)) = email.split_once('@') else {
        return Some(RULE.into());
    };
    let local_ok = (1..=64).contains(&local.len())
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c))
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..");
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = domain.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            (1..=63).contains(&l.len())
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.len() >= 2 && !tld.chars().all(|c| c.is_ascii_digit()));
    (!(local_ok && domain_ok)).then(|| RULE.into())
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
            normalize_email("  Ann.Lee+Tag@Example.COM "),
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
        let long_local = format!("{}@b.co", "a".repeat(65));
        assert!(email_problem(&long_local, limits::MAX_EMAIL).is_some());
        let long = format!("a@{}.com", "b".repeat(251));
        assert_eq!(
            email_problem(&long, limits::MAX_EMAIL).as_deref(),
            Some("must be at most 254 characters")
        );
    }

    #[test]
    fn skus_follow_the_contract_pattern() {
        assert_eq!(limits::SKU_PATTERN, "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$");
        for ok in ["a", "laptop", "LAPTOP-15.v2_b", "9", &"x".repeat(64)] {
            assert!(is_valid_sku(ok), "{ok}");
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
        }
    }
}
