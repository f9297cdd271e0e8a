//! Input rules (names' length and characters, positive ids, UUID format). A name is what a phone shows as the profile title, so every script
//! and emoji is welcome; what is refused is what breaks a line, hides text or makes a name
//! ambiguous with an id or a UUID. Safety comes from bound SQL parameters and encoding at
//! each output, not from banning characters here.

use serde::Deserialize;
use thiserror::Error;
use unicode_normalization::UnicodeNormalization;
use unicode_properties::{
    GeneralCategory, GeneralCategoryGroup, UnicodeEmoji, UnicodeGeneralCategory,
};
use uuid::Uuid;

use crate::model::KeyRef;

/// The longest name, in Unicode scalar values after trimming.
pub const NAME_MAX_CHARS: usize = 64;
/// The longest note, in Unicode scalar values.
pub const NOTE_MAX_CHARS: usize = 1000;
/// The longest bulk prefix, leaving room for `-NNNNN` within [`NAME_MAX_CHARS`].
pub const PREFIX_MAX_CHARS: usize = 48;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum InvalidInput {
    #[error("name is empty")]
    EmptyName,
    #[error("name is {0} characters long; the limit is {NAME_MAX_CHARS}")]
    NameTooLong(usize),
    #[error("name contains {0}, which is not allowed in a name")]
    BadNameChar(String),
    #[error(
        "name contains {0}, which does not show on screen; two names that look the same must \
         be the same name"
    )]
    HiddenNameChar(String),
    #[error("name shows nothing on screen (only spaces, marks or invisible characters)")]
    InvisibleName,
    #[error("name '{0}' looks like a numeric id; add a letter so ids stay unambiguous")]
    NameLooksLikeId(String),
    #[error("name '{0}' looks like a UUID; choose another so UUIDs stay unambiguous")]
    NameLooksLikeUuid(String),
    #[error("note is {0} characters long; the limit is {NOTE_MAX_CHARS}")]
    NoteTooLong(usize),
    #[error("note contains {0}, which is not allowed in a note")]
    BadNoteChar(String),
    #[error("key id must be a positive integer, got {0}")]
    BadId(i64),
    #[error("'{0}' is not a valid UUID")]
    BadUuid(String),
    #[error("key id {0} is too large")]
    IdOutOfRange(String),
    #[error("key reference is empty")]
    EmptyRef,
    #[error(
        "expires_at {0} is out of range; give Unix seconds from {EXPIRES_MIN} (2000-01-01) to {EXPIRES_MAX} (9999-12-31 23:59:59 UTC)"
    )]
    ExpiryOutOfRange(i64),
}

/// The earliest expiry accepted: 2000-01-01T00:00:00Z (anything earlier is a mistake, such
/// as milliseconds read as a negative number).
pub const EXPIRES_MIN: i64 = 946_684_800;
/// The latest expiry accepted: 9999-12-31T23:59:59Z (the last second a four-digit year
/// can show).
pub const EXPIRES_MAX: i64 = 253_402_300_799;

/// Checks an expiry time (Unix seconds) is within [`EXPIRES_MIN`]..=[`EXPIRES_MAX`].
pub fn expires_at(secs: i64) -> Result<i64, InvalidInput> {
    if (EXPIRES_MIN..=EXPIRES_MAX).contains(&secs) {
        Ok(secs)
    } else {
        Err(InvalidInput::ExpiryOutOfRange(secs))
    }
}

/// Describes a refused character for an error message without echoing it raw.
fn describe(c: char) -> String {
    format!("U+{:04X}", u32::from(c))
}

/// Bidirectional overrides and isolates can make a terminal show text in another order
/// than it is stored (spoofed names in tables and logs), so they are refused.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

fn is_noncharacter(c: char) -> bool {
    let v = u32::from(c);
    (0xFDD0..=0xFDEF).contains(&v) || (v & 0xFFFE) == 0xFFFE
}

/// Characters no name or note may hold: controls (tabs, line breaks, escapes), the
/// Unicode line and paragraph separators, bidi controls and noncharacters. Public so output
/// code can neutralize them in anything it did not validate itself.
pub fn refused_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}')
        || is_bidi_control(c)
        || is_noncharacter(c)
}

/// True for text that reads as a numeric id (optionally signed).
fn looks_like_id(s: &str) -> bool {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// Validates and normalizes a key name: trimmed, NFC, 1–64 characters of printable text
/// that shows on screen, not shaped like an id or a UUID.
///
/// Refused, because two names that look the same must be one name: format characters
/// (zero-width spaces and joiners, word joiners, soft hyphens, byte-order marks, tag
/// characters…), Hangul fillers and other blanks, and names with nothing visible (only
/// combining marks, say). Emoji stay whole: a zero-width joiner between two emoji (a
/// family, a rainbow flag) and a variation selector after an emoji are allowed.
pub fn name(raw: &str) -> Result<String, InvalidInput> {
    let name: String = raw.trim().nfc().collect();
    if name.is_empty() {
        return Err(InvalidInput::EmptyName);
    }
    if let Some(c) = name.chars().find(|&c| refused_char(c)) {
        return Err(InvalidInput::BadNameChar(describe(c)));
    }
    let chars: Vec<char> = name.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let prev = i.checked_sub(1).map(|p| chars[p]);
        if hides(prev, c, chars.get(i + 1).copied()) {
            return Err(InvalidInput::HiddenNameChar(describe(c)));
        }
    }
    if !chars.iter().any(|&c| shows(c)) {
        return Err(InvalidInput::InvisibleName);
    }
    let len = chars.len();
    if len > NAME_MAX_CHARS {
        return Err(InvalidInput::NameTooLong(len));
    }
    if looks_like_id(&name) {
        return Err(InvalidInput::NameLooksLikeId(name));
    }
    if Uuid::try_parse(&name).is_ok() {
        return Err(InvalidInput::NameLooksLikeUuid(name));
    }
    Ok(name)
}

/// A JSON Schema `pattern` (ECMA-262, Unicode) for names, derived from the rules above so
/// that it cannot drift from them: none of the characters refused anywhere in a name; not
/// only characters that do not show; not shaped like an id or a UUID. What it cannot say
/// is context (a joiner or variation selector is allowed only inside an emoji): such names
/// match and are still refused. The length (1–64) is the schema's `minLength`/`maxLength`.
pub fn name_pattern() -> &'static str {
    static PATTERN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PATTERN.get_or_init(|| {
        let refused = char_class(|c| {
            refused_char(c) || (c != ZWJ && !is_variation_selector(c) && hides(None, c, None))
        });
        let unseen = char_class(|c| !shows(c));
        let hex = |n: usize| format!("[0-9A-Fa-f]{{{n}}}");
        // The forms `Uuid::try_parse` reads: simple, hyphenated, braced, URN (any case).
        let hyphenated = format!("{}-{}-{}-{}-{}", hex(8), hex(4), hex(4), hex(4), hex(12));
        let uuid = format!(
            r"(?:{}|{hyphenated}|\{{{hyphenated}\}}|[Uu][Rr][Nn]:[Uu][Uu][Ii][Dd]:{hyphenated})",
            hex(32)
        );
        format!(r"^(?!\s*[+-]?[0-9]+\s*$)(?!\s*{uuid}\s*$)(?=.*[^{unseen}])[^{refused}]+$")
    })
}

/// A JSON Schema `pattern` for notes: none of the characters a note refuses (line breaks
/// and tabs are allowed). The length is the schema's `maxLength`.
pub fn note_pattern() -> &'static str {
    static PATTERN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PATTERN.get_or_init(|| {
        let refused = char_class(|c| !matches!(c, '\n' | '\t') && refused_char(c));
        format!("^[^{refused}]*$")
    })
}

/// A regex character class body of every `char` for which `member` holds, as ranges of the
/// characters themselves (no escapes needed: none of them is `]`, `\\`, `^` or `-`).
fn char_class(member: impl Fn(char) -> bool) -> String {
    let mut out = String::new();
    let mut run: Option<(char, char)> = None;
    let close = |out: &mut String, (a, b): (char, char)| {
        out.push(a);
        if b != a {
            out.push('-');
            out.push(b);
        }
    };
    for c in (0..=0x10_FFFF_u32).filter_map(char::from_u32) {
        if !member(c) {
            continue;
        }
        run = match run {
            Some((a, b)) if u32::from(b) + 1 == u32::from(c) => Some((a, c)),
            Some(done) => {
                close(&mut out, done);
                Some((c, c))
            }
            None => Some((c, c)),
        };
    }
    if let Some(done) = run {
        close(&mut out, done);
    }
    out
}

const ZWJ: char = '\u{200D}';

/// Characters that are blank however they are drawn, though not format characters.
fn is_blank(c: char) -> bool {
    matches!(
        c,
        '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}' // Hangul fillers
            | '\u{2800}' // braille blank
            | '\u{034F}' // combining grapheme joiner
            | '\u{17B4}' | '\u{17B5}' // Khmer inherent vowels
            | '\u{180B}'..='\u{180F}' // Mongolian variation selectors
    )
}

fn is_variation_selector(c: char) -> bool {
    matches!(c, '\u{FE00}'..='\u{FE0F}' | '\u{E0100}'..='\u{E01EF}')
}

/// An emoji for the purpose of joining: a pictograph (not an ASCII digit, `#` or `*`,
/// which are emoji only inside keycap sequences), or a skin-tone modifier.
fn is_pictograph(c: char) -> bool {
    !c.is_ascii() && c.is_emoji_char_or_emoji_component()
}

/// Whether `c`, between `prev` and `next`, is there without showing.
fn hides(prev: Option<char>, c: char, next: Option<char>) -> bool {
    if is_blank(c) {
        return true;
    }
    if c == ZWJ {
        // Only inside an emoji sequence (the emoji before may end in a selector).
        let after_emoji = prev.is_some_and(|p| is_pictograph(p) || is_variation_selector(p));
        return !(after_emoji && next.is_some_and(is_pictograph));
    }
    if is_variation_selector(c) {
        return !prev.is_some_and(UnicodeEmoji::is_emoji_char);
    }
    c.general_category() == GeneralCategory::Format
}

/// A character that puts something on screen by itself.
fn shows(c: char) -> bool {
    !c.is_whitespace()
        && c.general_category_group() != GeneralCategoryGroup::Mark
        && c.general_category() != GeneralCategory::Format
        && !is_blank(c)
}

/// The form of a name that uniqueness is checked on: NFKC, then full Unicode case folding,
/// then NFKC again (Unicode's compatibility caseless match, without the ignorable
/// characters a name cannot hold anyway). Names equal in this form are one name:
/// `Straße` and `STRASSE`, `ΟΔΟΣ` and `οδος`, `ｆｕｌｌ` and `full`.
pub fn name_fold(name: &str) -> String {
    let compat: String = name.nfkc().collect();
    caseless::default_case_fold_str(&compat).nfkc().collect()
}

/// Validates a note: up to 1000 characters; line breaks and tabs are allowed here (a note
/// is free text), other controls are not.
pub fn note(raw: &str) -> Result<String, InvalidInput> {
    let note: String = raw.trim().nfc().collect();
    if let Some(c) = note
        .chars()
        .find(|&c| !matches!(c, '\n' | '\t') && refused_char(c))
    {
        return Err(InvalidInput::BadNoteChar(describe(c)));
    }
    let len = note.chars().count();
    if len > NOTE_MAX_CHARS {
        return Err(InvalidInput::NoteTooLong(len));
    }
    Ok(note)
}

/// Validates a bulk-creation prefix: the same rules as a name, shorter, so that
/// `PREFIX-N` is always a valid name.
pub fn prefix(raw: &str) -> Result<String, InvalidInput> {
    let prefix = name(raw)?;
    let len = prefix.chars().count();
    if len > PREFIX_MAX_CHARS {
        return Err(InvalidInput::NameTooLong(len));
    }
    Ok(prefix)
}

pub fn key_id(id: i64) -> Result<KeyRef, InvalidInput> {
    if id > 0 {
        Ok(KeyRef::Id(id))
    } else {
        Err(InvalidInput::BadId(id))
    }
}

/// Parses a UUID in any form the `uuid` crate reads (hyphenated, simple, braced, URN),
/// returning it canonical (lower-case hyphenated when displayed).
pub fn uuid(raw: &str) -> Result<Uuid, InvalidInput> {
    Uuid::try_parse(raw.trim()).map_err(|_| InvalidInput::BadUuid(raw.to_owned()))
}

/// On the wire a key reference is a JSON number (an id) or a string (id, UUID or name),
/// read by the same rules as any other input (here, so the model needs no validation).
impl<'de> Deserialize<'de> for KeyRef {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(i64),
            Text(String),
        }
        match Raw::deserialize(deserializer)
            .map_err(|_| serde::de::Error::custom("a key is a numeric id, a UUID or a name"))?
        {
            Raw::Number(id) => key_id(id).map_err(serde::de::Error::custom),
            Raw::Text(text) => key_ref(&text).map_err(serde::de::Error::custom),
        }
    }
}

/// Reads a textual key reference: digits are an id, a UUID is a UUID, anything else is a name.
pub fn key_ref(raw: &str) -> Result<KeyRef, InvalidInput> {
    let text = raw.trim();
    if text.is_empty() {
        return Err(InvalidInput::EmptyRef);
    }
    if looks_like_id(text) {
        return match text.parse::<i64>() {
            Ok(id) => key_id(id),
            Err(_) => Err(InvalidInput::IdOutOfRange(text.to_owned())),
        };
    }
    if let Ok(uuid) = Uuid::try_parse(text) {
        return Ok(KeyRef::Uuid(uuid));
    }
    Ok(KeyRef::Name(text.nfc().collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_hide_are_refused() {
        for raw in [
            "alice\u{200B}",     // zero-width space
            "al\u{2060}ice",     // word joiner
            "ali\u{00AD}ce",     // soft hyphen
            "\u{FEFF}alice",     // byte-order mark
            "alice\u{E0041}",    // tag character
            "a\u{200D}b",        // a joiner outside emoji
            "\u{1F98A}\u{200D}", // a joiner at the end
            "\u{3164}",          // Hangul filler
            "ab\u{115F}",        // Hangul choseong filler
            "x\u{2800}",         // braille blank
            "a\u{FE0F}",         // a selector after a letter
        ] {
            assert!(
                matches!(name(raw), Err(InvalidInput::HiddenNameChar(_))),
                "{raw:?}: {:?}",
                name(raw)
            );
        }
        for raw in ["\u{0301}\u{0301}", "\u{0301}", "\u{20DD}"] {
            assert_eq!(name(raw), Err(InvalidInput::InvisibleName), "{raw:?}");
        }
    }

    #[test]
    fn emoji_sequences_stay_whole() {
        for raw in [
            "\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467}", // family
            "\u{1F3F3}\u{FE0F}\u{200D}\u{1F308}",          // rainbow flag
            "\u{2764}\u{FE0F}",                            // red heart
            "\u{1F44B}\u{1F3FD}",                          // waving hand, skin tone
            "\u{1F9D1}\u{1F3FD}\u{200D}\u{1F4BB}",         // technologist, skin tone
            "\u{1F1E9}\u{1F1EA}",                          // a flag
            "1\u{FE0F}\u{20E3}",                           // keycap one
            "Маша \u{1F98A}",
            "Jose\u{0301}",
        ] {
            assert!(name(raw).is_ok(), "{raw:?}: {:?}", name(raw));
        }
    }

    #[test]
    fn names_fold_to_one_form_across_case_and_width() {
        for (a, b) in [
            ("Straße", "STRASSE"),
            ("ΟΔΟΣ", "οδος"),
            ("ｆｕｌｌ", "full"),
            ("Ǆemal", "džemal"),
            ("Jose\u{0301}", "JOSÉ"),
            ("ﬁle", "FILE"),
        ] {
            assert_eq!(name_fold(a), name_fold(b), "{a} vs {b}");
        }
        assert_ne!(name_fold("alice"), name_fold("alicé"));
    }

    #[test]
    fn expiry_is_bounded_to_four_digit_years() {
        for bad in [i64::MIN, -1, 0, EXPIRES_MIN - 1, EXPIRES_MAX + 1, i64::MAX] {
            assert_eq!(expires_at(bad), Err(InvalidInput::ExpiryOutOfRange(bad)));
        }
        for good in [EXPIRES_MIN, 1_801_439_999, EXPIRES_MAX] {
            assert_eq!(expires_at(good), Ok(good));
        }
    }

    #[test]
    fn names_of_every_script_are_welcome() {
        for ok in [
            "alice",
            "Маша",
            "東京 office",
            "🦊 fox",
            "a+b=c&d#e%f",
            "👨‍👩‍👧 family",
            "O'Brien; DROP TABLE keys",
        ] {
            assert_eq!(name(ok).as_deref(), Ok(ok), "{ok}");
        }
        assert_eq!(name("  padded  ").as_deref(), Ok("padded"));
    }

    #[test]
    fn names_that_break_lines_or_hide_text_are_refused() {
        assert_eq!(name(""), Err(InvalidInput::EmptyName));
        assert_eq!(name("   "), Err(InvalidInput::EmptyName));
        assert!(matches!(name("a\nb"), Err(InvalidInput::BadNameChar(_))));
        assert!(matches!(name("a\tb"), Err(InvalidInput::BadNameChar(_))));
        assert!(matches!(
            name("a\u{1b}[31mb"),
            Err(InvalidInput::BadNameChar(_))
        ));
        assert!(matches!(
            name("a\u{2028}b"),
            Err(InvalidInput::BadNameChar(_))
        ));
        assert!(matches!(
            name("abc\u{202E}gpj"),
            Err(InvalidInput::BadNameChar(_))
        ));
        assert!(matches!(
            name("a\u{FFFF}"),
            Err(InvalidInput::BadNameChar(_))
        ));
        assert_eq!(name(&"x".repeat(64)).map(|n| n.len()), Ok(64));
        assert_eq!(name(&"я".repeat(65)), Err(InvalidInput::NameTooLong(65)));
    }

    #[test]
    fn names_shaped_like_identifiers_are_refused() {
        assert!(matches!(name("42"), Err(InvalidInput::NameLooksLikeId(_))));
        assert!(matches!(name("-7"), Err(InvalidInput::NameLooksLikeId(_))));
        assert!(matches!(
            name("6f1c1f4e-8a5e-4d43-9a57-1b0a4b3c2d1e"),
            Err(InvalidInput::NameLooksLikeUuid(_))
        ));
        assert!(matches!(
            name("6F1C1F4E8A5E4D439A571B0A4B3C2D1E"),
            Err(InvalidInput::NameLooksLikeUuid(_))
        ));
        assert!(name("42a").is_ok());
    }

    #[test]
    fn names_fold_case_and_normalization() {
        assert_eq!(name_fold("ALICE"), name_fold("alice"));
        assert_eq!(name_fold("МАША"), name_fold("маша"));
        // "é" precomposed and decomposed are one name.
        assert_eq!(name_fold("caf\u{e9}"), name_fold("cafe\u{301}"));
    }

    #[test]
    fn key_refs_resolve_to_one_kind() {
        assert_eq!(key_ref("17"), Ok(KeyRef::Id(17)));
        assert_eq!(key_ref("0"), Err(InvalidInput::BadId(0)));
        assert_eq!(key_ref("-3"), Err(InvalidInput::BadId(-3)));
        assert!(matches!(
            key_ref("99999999999999999999"),
            Err(InvalidInput::IdOutOfRange(_))
        ));
        let u = "6f1c1f4e-8a5e-4d43-9a57-1b0a4b3c2d1e";
        assert_eq!(
            key_ref(&u.to_uppercase()),
            Ok(KeyRef::Uuid(uuid(u).unwrap_or_default()))
        );
        assert_eq!(key_ref("alice"), Ok(KeyRef::Name("alice".into())));
        assert_eq!(key_ref(" "), Err(InvalidInput::EmptyRef));
    }

    #[test]
    fn notes_allow_line_breaks_but_not_escapes() {
        assert_eq!(
            note("line one\nline two").as_deref(),
            Ok("line one\nline two")
        );
        assert!(matches!(
            note("bell\u{7}"),
            Err(InvalidInput::BadNoteChar(_))
        ));
        assert!(matches!(
            note(&"n".repeat(1001)),
            Err(InvalidInput::NoteTooLong(1001))
        ));
    }

    /// Every character of the first three planes and a spread of the rest, alone and inside
    /// a name (and in a note).
    fn sample() -> impl Iterator<Item = char> {
        (0..0x3_0000_u32)
            .chain((0x3_0000..=0x10_FFFF).step_by(97))
            .filter_map(char::from_u32)
    }

    /// The schema's name pattern accepts every valid name, and refuses every invalid one
    /// but for what it cannot see: a joiner or a variation selector, allowed by context.
    #[test]
    fn the_name_pattern_says_what_the_name_rules_say() {
        let re = fancy_regex::Regex::new(name_pattern()).unwrap();
        for c in sample() {
            for s in [format!("a{c}b"), c.to_string(), format!("{c}1")] {
                let matched = re.is_match(&s).unwrap();
                match name(&s) {
                    Ok(_) => assert!(matched, "{s:?} is a valid name the pattern refuses"),
                    Err(e) => assert!(
                        !matched || c == ZWJ || is_variation_selector(c),
                        "{s:?} is refused ({e}) but the pattern accepts it"
                    ),
                }
            }
        }
        let h = "67e55044-10b1-426f-9247-bb680e5fe0c8";
        let simple = h.replace('-', "");
        for s in [
            "12",
            "-3",
            " 7 ",
            h,
            &simple,
            &format!("{{{h}}}"),
            &format!("urn:uuid:{h}"),
            &format!("URN:Uuid:{h}"),
        ] {
            assert!(name(s).is_err() && !re.is_match(s).unwrap(), "{s:?}");
        }
        // Near-UUIDs are names.
        for s in [
            format!("{{{simple}}}"),
            h.replacen('-', "", 1),
            format!("{h}0"),
            format!("urn:uuid:{simple}"),
        ] {
            assert!(name(&s).is_ok(), "{s:?}");
            assert!(re.is_match(&s).unwrap(), "{s:?}");
        }
    }

    #[test]
    fn the_note_pattern_says_what_the_note_rules_say() {
        let re = fancy_regex::Regex::new(note_pattern()).unwrap();
        for c in sample() {
            let s = format!("n{c}n");
            assert_eq!(re.is_match(&s).unwrap(), note(&s).is_ok(), "{s:?}");
        }
    }
}
