//! Plain-text tables aligned by display width, and `label: value` blocks.
//!
//! Cells are made single-line and free of control characters here, whatever the daemon
//! sent (see [`veil::text`]), and columns are as wide as their widest cell on screen.

use veil::text::{one_line, width};

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

/// Pads `s` with spaces to `target` cells; a wider `s` is returned as is.
pub fn pad(s: &str, target: usize, align: Align) -> String {
    let fill = " ".repeat(target.saturating_sub(width(s)));
    match align {
        Align::Left => format!("{s}{fill}"),
        Align::Right => format!("{fill}{s}"),
    }
}

/// `label:` then values in one column; continuation lines of a value are indented to it.
pub fn labelled(rows: &[(&str, String)]) -> String {
    let width = rows.iter().map(|(l, _)| l.len()).max().unwrap_or(0) + 2;
    let indent = " ".repeat(width);
    let mut out = String::new();
    for (label, value) in rows {
        let head = format!("{label}:");
        let value = value.replace('\n', &format!("\n{indent}"));
        out.push_str(&format!("{head:<width$}{value}\n"));
    }
    out
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
}
