//! Plain-text tables aligned by display width, and the text helpers they need.
//!
//! Key names may be in any script or be emoji, so a column is as wide as its widest cell
//! *on screen* (CJK and most emoji take two cells), not in bytes or chars. Cells are
//! made single-line and free of control characters here, whatever the daemon sent: a
//! table is the last place where a stray newline or escape could still do harm.

use std::borrow::Cow;

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// The gap between columns.
const GAP: &str = "  ";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

pub struct Table {
    headers: Vec<&'static str>,
    aligns: Vec<Align>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(columns: &[(&'static str, Align)]) -> Self {
        Self {
            headers: columns.iter().map(|&(h, _)| h).collect(),
            aligns: columns.iter().map(|&(_, a)| a).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; missing cells are blank, extra ones are dropped.
    pub fn push(&mut self, cells: Vec<String>) {
        let mut row: Vec<String> = cells.iter().map(|c| one_line(c).into_owned()).collect();
        row.resize(self.headers.len(), String::new());
        self.rows.push(row);
    }

    /// The header and every row, each line ending in `\n`, without trailing spaces.
    pub fn render(&self) -> String {
        let widths = self.widths();
        let header: Vec<String> = self.headers.iter().map(|h| (*h).to_owned()).collect();
        let mut out = String::new();
        for row in std::iter::once(&header).chain(&self.rows) {
            let line: Vec<String> = row
                .iter()
                .zip(&widths)
                .zip(&self.aligns)
                .map(|((cell, &w), &align)| pad(cell, w, align))
                .collect();
            out.push_str(line.join(GAP).trim_end());
            out.push('\n');
        }
        out
    }

    fn widths(&self) -> Vec<usize> {
        self.headers
            .iter()
            .enumerate()
            .map(|(i, h)| {
                self.rows
                    .iter()
                    .map(|row| width(&row[i]))
                    .chain(std::iter::once(width(h)))
                    .max()
                    .unwrap_or(0)
            })
            .collect()
    }
}

/// Display width in terminal cells.
pub fn width(s: &str) -> usize {
    UnicodeWidthStr::width(s)
}

/// Pads `s` with spaces to `target` cells; a wider `s` is returned as is.
pub fn pad(s: &str, target: usize, align: Align) -> String {
    let fill = " ".repeat(target.saturating_sub(width(s)));
    match align {
        Align::Left => format!("{s}{fill}"),
        Align::Right => format!("{fill}{s}"),
    }
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

/// Makes text safe for one table cell: line breaks and tabs become spaces; other control,
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

    fn table(rows: &[[&str; 3]]) -> String {
        let mut t = Table::new(&[
            ("ID", Align::Right),
            ("NAME", Align::Left),
            ("STATE", Align::Left),
        ]);
        for row in rows {
            t.push(row.iter().map(|c| (*c).to_owned()).collect());
        }
        t.render()
    }

    /// Every line's cells start at the same screen column.
    fn column_starts(rendered: &str, marker: &str) -> Vec<usize> {
        rendered
            .lines()
            .map(|line| {
                let at = line.find(marker).unwrap_or(line.len());
                width(&line[..at])
            })
            .collect()
    }

    #[test]
    fn ascii_columns_align() {
        let out = table(&[["1", "alice", "active"], ["12", "bob", "disabled (manual)"]]);
        assert_eq!(
            out,
            "ID  NAME   STATE\n 1  alice  active\n12  bob    disabled (manual)\n"
        );
    }

    #[test]
    fn wide_characters_align_by_screen_width() {
        let out = table(&[
            ["1", "東京オフィス", "|active"],
            ["2", "🦊 fox", "|active"],
            ["3", "Маша", "|disabled"],
            ["4", "👨‍👩‍👧 family", "|active"],
            ["5", "cafe\u{301}", "|active"],
        ]);
        let starts = column_starts(&out, "|");
        // The header has no marker; every data row's third column starts together.
        assert!(starts[1..].iter().all(|&s| s == starts[1]), "{out}");
        assert_eq!(starts[1], width(" 1  東京オフィス  "));
        assert_eq!(width("東京オフィス"), 12);
        assert_eq!(width("🦊"), 2);
    }

    #[test]
    fn cells_never_break_a_line() {
        let out = table(&[["1", "evil\nname\t\u{1b}[31m", "a\u{202E}b"]]);
        assert_eq!(out.lines().count(), 2, "{out}");
        assert!(!out.contains('\u{1b}'));
        assert!(!out.contains('\u{202E}'));
        assert!(out.contains("evil name \u{FFFD}[31m"));
    }

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
    fn padding_right_aligns_numbers() {
        assert_eq!(pad("7", 3, Align::Right), "  7");
        assert_eq!(pad("東", 4, Align::Left), "東  ");
        assert_eq!(pad("toolong", 3, Align::Left), "toolong");
    }

    #[test]
    fn short_rows_are_filled() {
        let mut t = Table::new(&[("A", Align::Left), ("B", Align::Left)]);
        t.push(vec!["x".into()]);
        assert_eq!(t.render(), "A  B\nx\n");
    }

    #[test]
    fn multi_line_text_keeps_breaks_only() {
        assert_eq!(multi_line("one\ntwo\u{7}"), "one\ntwo\u{FFFD}");
    }
}
