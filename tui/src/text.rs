//! Text from the daemon made safe and sized for a terminal: sanitizing, display width, and
//! the one truncation routine both the CLI's tables and the dashboard use.
//!
//! Key names may be in any script or be emoji, so widths are counted in terminal cells
//! (CJK and most emoji take two), not in bytes or chars. Every daemon string that reaches
//! a terminal goes through [`one_line`] or [`multi_line`] first: the daemon refuses control
//! and bidi characters in names and notes, but a terminal is the last place where a stray
//! escape or newline could still do harm, so it is checked again here.

use std::borrow::Cow;

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// Display width in terminal cells.
pub fn width(s: &str) -> usize {
    UnicodeWidthStr::width(s)
}

/// Cuts `s` to at most `max` cells, marking the cut with `…`.
pub fn truncate(s: &str, max: usize) -> Cow<'_, str> {
    if width(s) <= max {
        return Cow::Borrowed(s);
    }
    let room = max.saturating_sub(1);
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = c.width().unwrap_or(0);
        if used + w > room {
            break;
        }
        used += w;
        out.push(c);
    }
    // Per-char widths can undercount sequences (e.g. an emoji variation selector makes
    // its base two cells wide), so check the whole string and shorten until it fits.
    while width(&out) > room {
        out.pop();
    }
    if max > 0 {
        out.push('…');
    }
    Cow::Owned(out)
}

/// Daemon text for one cell of at most `max` cells: [`one_line`], then [`truncate`].
pub fn clip(s: &str, max: usize) -> String {
    truncate(&one_line(s), max).into_owned()
}

/// Makes text safe for one line: line breaks and tabs become spaces; other control,
/// separator and bidi-override characters (which the daemon refuses anyway) become `�`.
pub fn one_line(s: &str) -> Cow<'_, str> {
    if !s
        .chars()
        .any(|c| unsafe_char(c) || matches!(c, '\n' | '\t'))
    {
        return Cow::Borrowed(s);
    }
    Cow::Owned(
        s.chars()
            .map(|c| match c {
                '\n' | '\t' | '\r' => ' ',
                c if unsafe_char(c) => '\u{FFFD}',
                c => c,
            })
            .collect(),
    )
}

/// Makes text safe for a multi-line block: like [`one_line`], but keeps line breaks.
pub fn multi_line(s: &str) -> String {
    s.lines().map(one_line).collect::<Vec<_>>().join("\n")
}

/// Characters that could move the cursor, recolor the terminal or reorder what is shown:
/// the same set the daemon refuses in names and notes.
fn unsafe_char(c: char) -> bool {
    veil_shared::validate::refused_char(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_counts_cells_and_marks_the_cut() {
        assert_eq!(truncate("short", 10), "short");
        assert_eq!(truncate("exactly10!", 10), "exactly10!");
        assert_eq!(truncate("a very long name", 8), "a very …");
        assert_eq!(width(&truncate("a very long name", 8)), 8);
        // A wide character that would straddle the limit is left out whole.
        assert_eq!(truncate("東京オフィス", 6), "東京…");
        assert_eq!(truncate("東京オフィス", 7), "東京オ…");
        assert!(width(&truncate("🦊🦊🦊🦊", 4)) <= 4);
        assert!(width(&truncate("❤\u{FE0F}❤\u{FE0F}❤\u{FE0F}", 4)) <= 4);
        assert_eq!(truncate("abc", 0), "");
    }

    #[test]
    fn clipping_sanitizes_then_counts_columns() {
        assert_eq!(clip("alice", 10), "alice");
        assert_eq!(clip("alexandria", 5), "alex…");
        assert_eq!(clip("東京東京", 5), "東京…");
        assert_eq!(clip("abc", 0), "");
        assert_eq!(clip("a\nb\u{1b}[2J", 10), "a b\u{FFFD}[2J");
    }

    #[test]
    fn one_line_neutralizes_escapes() {
        let out = one_line("evil\nname\t\u{1b}[31m a\u{202E}b");
        assert_eq!(out, "evil name \u{FFFD}[31m a\u{FFFD}b");
        assert!(matches!(one_line("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn multi_line_text_keeps_breaks_only() {
        assert_eq!(multi_line("one\ntwo\u{7}"), "one\ntwo\u{FFFD}");
    }
}
