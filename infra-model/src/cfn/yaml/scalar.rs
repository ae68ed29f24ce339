//! The YAML emitter's view of a scalar: which characters libyaml treats as breaks, blanks and
//! printable, which styles a string allows (yaml_emitter_analyze_scalar), and whether serde_yaml
//! would read it back as something other than a string (and so quotes it).

pub(super) fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// IS_BLANKZ: the NUL is libyaml's end of the string.
pub(super) fn is_blankz(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\0') || is_break(c)
}

/// IS_PRINTABLE: not tab, CR, other C0 and C1 controls, DEL, the BOM, U+FFFE and U+FFFF.
pub(super) fn is_printable(c: char) -> bool {
    matches!(c, '\n' | ' '..='~' | '\u{A0}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
        && c != '\u{FEFF}'
}

/// What yaml_emitter_analyze_scalar finds in a scalar, in block context (the only flow
/// collections written are empty).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Analysis {
    /// It has a `\n`: serde_yaml asks for a literal block.
    pub newline: bool,
    /// It has a line break of any kind: not a simple key.
    pub multiline: bool,
    /// It may be written plain (in block context).
    pub plain: bool,
    /// It may be written single-quoted.
    pub single_quoted: bool,
    /// It may be written as a literal block.
    pub literal: bool,
}

/// yaml_emitter_analyze_scalar.
pub(super) fn analyze(s: &str) -> Analysis {
    // Most strings: a letter or a digit, then printable ASCII, and not a `:` at the end. Nothing in
    // them is an indicator or special. (Tested in a loop that has no exit: it is vectorized.)
    let bytes = s.as_bytes();
    let graphic = bytes.iter().fold(true, |all, b| all & b.is_ascii_graphic());
    if graphic && bytes.first().is_some_and(u8::is_ascii_alphanumeric) && bytes.last() != Some(&b':') {
        return Analysis {
            newline: false,
            multiline: false,
            plain: true,
            single_quoted: true,
            literal: true,
        };
    }
    let mut indicators = s.starts_with("---") || s.starts_with("...");
    let (mut newline, mut line_breaks, mut special, mut break_space, mut space_break) =
        (false, false, false, false, false);
    let (mut previous_space, mut previous_break, mut preceded_by_whitespace) = (false, false, true);
    // Else most of a string is still skipped in a tight loop: printable ASCII past the start (or a
    // letter or digit at it), but a `:` before a blank or a `#` after one, the indicators there.
    let plain = |j: usize| {
        bytes[j].is_ascii_graphic()
            && (bytes[j] != b':' || bytes.get(j + 1).is_some_and(u8::is_ascii_graphic))
    };
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if plain(i) && (i > 0 || b.is_ascii_alphanumeric()) && !(b == b'#' && preceded_by_whitespace) {
            i = (i + 1..bytes.len()).find(|&j| !plain(j)).unwrap_or(bytes.len());
            (previous_space, previous_break, preceded_by_whitespace) = (false, false, false);
            continue;
        }
        let (at_start, c) = (i == 0, s[i..].chars().next().unwrap_or_default());
        i += c.len_utf8();
        let followed_by_whitespace = s[i..].chars().next().is_none_or(is_blankz);
        indicators |= match c {
            '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"' | '%' | '@'
            | '`' => at_start || (c == '#' && preceded_by_whitespace),
            '?' | '-' => at_start && followed_by_whitespace,
            ':' => followed_by_whitespace,
            _ => false,
        };
        special |= !is_printable(c);
        newline |= c == '\n';
        if c == ' ' {
            break_space |= previous_break;
        } else if is_break(c) {
            line_breaks = true;
            space_break |= previous_space;
        }
        (previous_space, previous_break, preceded_by_whitespace) = (c == ' ', is_break(c), is_blankz(c));
    }
    let last = s.chars().next_back();
    let edge = |c: Option<char>| c.is_some_and(|c| c == ' ' || is_break(c));
    let edges = edge(s.chars().next()) || edge(last); // leading or trailing space or break
    Analysis {
        newline,
        multiline: line_breaks,
        plain: !(edges || indicators || break_space || space_break || special || line_breaks),
        single_quoted: !(break_space || space_break || special),
        // Not the empty string.
        literal: last.is_some_and(|c| c != ' ') && !(space_break || special),
    }
}

/// serde_yaml's `visit_untagged_scalar` (de.rs) would not read it as a string: empty, null, a
/// boolean, an integer, a float, or digits after a leading zero (`digits_but_not_number`).
pub(super) fn reads_as_non_string(v: &str) -> bool {
    const KEYWORDS: [&str; 10] = [
        "~", "null", "Null", "NULL", "true", "True", "TRUE", "false", "False", "FALSE",
    ];
    let digits_but_not_number = |s: &str| {
        let s = s.strip_prefix(['-', '+']).unwrap_or(s);
        s.len() > 1 && s.starts_with('0') && s[1..].bytes().all(|b| b.is_ascii_digit())
    };
    // parse_unsigned_int and parse_negative_int, for u128 and i128 (which accept what u64 and i64 do).
    let unsigned = || {
        let unpositive = v.strip_prefix('+').unwrap_or(v);
        for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] {
            match unpositive.strip_prefix(prefix) {
                Some(rest) if rest.starts_with(['+', '-']) => return false,
                Some(rest) if u128::from_str_radix(rest, radix).is_ok() => return true,
                _ => {}
            }
        }
        !unpositive.starts_with(['+', '-']) && !digits_but_not_number(v) && unpositive.parse::<u128>().is_ok()
    };
    let negative = || {
        let prefixed = |(prefix, radix): (&str, u32)| {
            let rest = v.strip_prefix(prefix);
            rest.is_some_and(|rest| i128::from_str_radix(&format!("-{rest}"), radix).is_ok())
        };
        [("-0x", 16), ("-0o", 8), ("-0b", 2)].into_iter().any(prefixed)
            || (!digits_but_not_number(v) && v.parse::<i128>().is_ok())
    };
    // parse_f64: finite floats, and `.inf`/`.nan` in three spellings.
    let float = || {
        let unpositive = match v.strip_prefix('+') {
            Some(rest) if rest.starts_with(['+', '-']) => return false,
            Some(rest) => rest,
            None => v,
        };
        matches!(unpositive, ".inf" | ".Inf" | ".INF")
            || matches!(v, "-.inf" | "-.Inf" | "-.INF" | ".nan" | ".NaN" | ".NAN")
            || unpositive.parse::<f64>().is_ok_and(f64::is_finite)
    };
    match v.bytes().next() {
        None => true,
        Some(b'~' | b'n' | b'N' | b't' | b'T' | b'f' | b'F') => KEYWORDS.contains(&v),
        Some(b) => {
            (b.is_ascii_digit() || b"+-.".contains(&b))
                && (unsigned() || negative() || digits_but_not_number(v) || float())
        }
    }
}
