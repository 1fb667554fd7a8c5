//! Text a person reads: names of tenants, products and API keys, user e-mail addresses. Such
//! text is shown in the admin API, the CLI, audit logs and usage reports, so it may hold no
//! character that is invisible or that changes how the text around it is displayed: a
//! right-to-left override makes `gpj.exe` read as `exe.jpg`, a zero-width space makes two
//! different tenant names look the same, a newline forges a line in a terminal or a log.

use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

use crate::error::{Error, Result};

/// Why `c` may not appear in text a person reads, or `None` when it may.
///
/// Refused: control characters (general category `Cc`: C0, DEL, C1), every format character
/// (`Cf`: bidirectional marks, embeddings, overrides and isolates, zero-width spaces and
/// joiners, the word joiner, invisible operators, the byte-order mark, tag characters, …) and
/// the line and paragraph separators (`Zl`, `Zp`), which break a line like a newline does.
///
/// ```
/// use license_core::text::hidden_character;
/// assert_eq!(hidden_character('a'), None);
/// assert_eq!(hidden_character('é'), None);
/// assert!(hidden_character('\u{202E}').is_some()); // right-to-left override
/// assert!(hidden_character('\u{200B}').is_some()); // zero-width space
/// assert!(hidden_character('\n').is_some());
/// ```
pub fn hidden_character(c: char) -> Option<&'static str> {
    // The bidirectional controls are named apart: they are the ones used to disguise text.
    if matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
    {
        return Some("a bidirectional control character");
    }
    match c.general_category() {
        GeneralCategory::Control => Some("a control character"),
        GeneralCategory::Format => Some("an invisible formatting character"),
        GeneralCategory::LineSeparator | GeneralCategory::ParagraphSeparator => {
            Some("a line or paragraph separator")
        }
        _ => None,
    }
}

/// Refuses `value` if it holds a character [`hidden_character`] names: an `invalid_input`
/// error naming `field` and the character by code point (never the character itself, which
/// would carry its effect into the error message). Every type holding text a person reads
/// checks it here.
///
/// ```
/// use license_core::text::check_readable;
/// assert!(check_readable("name", "Acme CAD — Zürich").is_ok());
/// let e = check_readable("name", "Acme\u{202E}DAC").unwrap_err();
/// assert_eq!(e.code(), "invalid_input");
/// assert!(e.to_string().contains("U+202E"), "{e}");
/// ```
pub fn check_readable(field: &'static str, value: &str) -> Result<()> {
    match value
        .chars()
        .find_map(|c| hidden_character(c).map(|why| (c, why)))
    {
        None => Ok(()),
        Some((c, why)) => Err(Error::invalid(
            field,
            format!(
                "contains U+{:04X} ({why}), which is not allowed in text people read",
                u32::from(c)
            ),
        )),
    }
}

/// A display name (of a tenant, a product, an API key): trimmed, 1 to `max` characters, and
/// [readable](check_readable). Returns the trimmed name.
///
/// ```
/// use license_core::text::parse_name;
/// assert_eq!(parse_name("name", "  Acme CAD ", 128)?, "Acme CAD");
/// assert!(parse_name("name", "   ", 128).is_err());
/// assert!(parse_name("name", "Acme\u{200B}", 128).is_err());
/// # Ok::<(), license_core::Error>(())
/// ```
pub fn parse_name<'a>(field: &'static str, value: &'a str, max: usize) -> Result<&'a str> {
    let name = value.trim();
    let len = name.chars().count();
    if len == 0 || len > max {
        return Err(Error::invalid(
            field,
            format!("must be 1 to {max} printable characters, got {len}"),
        ));
    }
    check_readable(field, name)?;
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every character the issue names, and a few more of the same kinds.
    const REFUSED: &[char] = &[
        // Cc: C0, DEL, C1.
        '\u{0000}',
        '\u{0007}',
        '\t',
        '\n',
        '\r',
        '\u{001B}',
        '\u{007F}',
        '\u{0085}',
        '\u{009B}',
        // Bidirectional marks, embeddings, overrides, isolates.
        '\u{061C}',
        '\u{200E}',
        '\u{200F}',
        '\u{202A}',
        '\u{202B}',
        '\u{202C}',
        '\u{202D}',
        '\u{202E}',
        '\u{2066}',
        '\u{2067}',
        '\u{2068}',
        '\u{2069}',
        // Zero-width and invisible formatting (Cf).
        '\u{00AD}',
        '\u{200B}',
        '\u{200C}',
        '\u{200D}',
        '\u{2060}',
        '\u{2061}',
        '\u{2064}',
        '\u{206F}',
        '\u{FEFF}',
        '\u{FFF9}',
        '\u{180E}',
        '\u{E0001}',
        '\u{E0041}',
        // Line and paragraph separators.
        '\u{2028}',
        '\u{2029}',
    ];

    #[test]
    fn controls_bidi_and_invisible_characters_are_refused_by_code_point() {
        for &c in REFUSED {
            assert!(hidden_character(c).is_some(), "U+{:04X}", u32::from(c));
            let e = check_readable("name", &format!("Acme{c}CAD")).unwrap_err();
            let text = e.to_string();
            assert!(text.contains(&format!("U+{:04X}", u32::from(c))), "{text}");
            assert!(
                !text.contains(c),
                "the message must not carry the character"
            );
            assert!(
                matches!(e, Error::InvalidInput { field: "name", .. }),
                "{e:?}"
            );
        }
    }

    #[test]
    fn ordinary_text_in_any_script_is_readable() {
        for text in [
            "Acme CAD",
            "Zürich GmbH & Co. KG",
            "株式会社アクメ",
            "شركة أكمي",
            "עברית",
            "Ελληνικά",
            "ada.lovelace+cad@example.co.uk",
            "名前@例え.jp",
            "CAD Pro 2026 — ™ ©",
            "😀 emoji",
            "non\u{00A0}breaking space",
        ] {
            assert!(check_readable("name", text).is_ok(), "{text}");
        }
    }

    #[test]
    fn names_are_trimmed_bounded_and_readable() {
        assert_eq!(parse_name("name", " x ", 1).unwrap(), "x");
        assert!(parse_name("name", "xy", 1).is_err());
        assert!(parse_name("name", "", 1).is_err());
        assert!(parse_name("name", "a\u{2066}b", 10).is_err());
        // Trimming removes outer whitespace only; a control character inside stays refused.
        assert!(parse_name("name", "a\tb", 10).is_err());
    }
}
