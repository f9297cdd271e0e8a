//! Windows over the screen: the key help, the key forms and confirmations.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Position, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use unicode_width::UnicodeWidthStr;

use super::parts::centered;
use crate::dash::app::{App, Confirm};
use crate::dash::form::Form;
use crate::dash::keymap::{BINDINGS, Scope};
use crate::text;

fn frame_block(title: &str, app: &App) -> Block<'static> {
    Block::default()
        .borders(Borders::ALL)
        .title(Span::styled(format!(" {title} "), app.theme.accent()))
}

pub fn help(frame: &mut Frame, area: Rect, app: &App) {
    let t = app.theme;
    let rect = centered(area, 80, 22);
    frame.render_widget(Clear, rect);
    let block = frame_block("Keys — any key closes", app);
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    let [left, right] =
        Layout::horizontal([Constraint::Ratio(1, 2), Constraint::Ratio(1, 2)]).areas(inner);
    let section = |title: &str, scopes: &[Scope], width: u16| -> Vec<Line<'static>> {
        let mut lines = vec![Line::from(Span::styled(title.to_owned(), t.bold()))];
        let help_width = usize::from(width.saturating_sub(14));
        for b in BINDINGS.iter().filter(|b| scopes.contains(&b.scope)) {
            lines.push(Line::from(vec![
                Span::styled(format!(" {:<13}", b.keys), t.accent()),
                Span::raw(text::clip(b.help, help_width)),
            ]));
        }
        lines
    };
    let mut l = section("Everywhere", &[Scope::Global], left.width);
    l.extend(section("Lists", &[Scope::List], left.width));
    let mut r = section("Keys screen", &[Scope::Keys], right.width);
    r.extend(section("Key detail", &[Scope::Detail], right.width));
    frame.render_widget(Paragraph::new(l), left);
    frame.render_widget(Paragraph::new(r), right);
}

pub fn form(frame: &mut Frame, area: Rect, app: &App, form: &Form) {
    let t = app.theme;
    let height = u16::try_from(form.fields.len() * 2 + 5).unwrap_or(u16::MAX);
    let rect = centered(area, 64, height);
    frame.render_widget(Clear, rect);
    let block = frame_block(form.title(), app);
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    let label_width = 8u16;
    let value_width = usize::from(inner.width.saturating_sub(label_width + 1));
    let mut lines = Vec::new();
    let mut cursor = None;
    for (i, field) in form.fields.iter().enumerate() {
        let focused = i == form.focus;
        let shown = tail(&field.value, field.cursor, value_width);
        let style = if focused { t.selected() } else { t.bold() };
        let pad = value_width.saturating_sub(shown.0.width());
        lines.push(Line::from(vec![
            Span::styled(
                format!("{:<w$}", field.label, w = usize::from(label_width)),
                if focused { t.accent() } else { t.dim() },
            ),
            Span::raw(" "),
            Span::styled(format!("{}{}", shown.0, " ".repeat(pad)), style),
        ]));
        lines.push(Line::from(Span::styled(
            format!("{:w$} {}", "", field.hint, w = usize::from(label_width)),
            t.dim(),
        )));
        if focused {
            let row = u16::try_from(i * 2).unwrap_or(0);
            let col = u16::try_from(shown.1).unwrap_or(0);
            cursor = Some(Position {
                x: inner.x + label_width + 1 + col,
                y: inner.y + row,
            });
        }
    }
    let status = match (&form.error, form.busy) {
        (Some(e), _) => Line::from(Span::styled(e.clone(), t.bad())),
        (None, true) => Line::from(Span::styled("sending…", t.warn())),
        (None, false) => Line::from(Span::styled(
            "Tab/↑↓ move · Enter next/save · Ctrl-S save · Esc cancel",
            t.dim(),
        )),
    };
    lines.push(status);
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
    if let Some(pos) = cursor
        && inner.contains(pos)
        && !form.busy
    {
        frame.set_cursor_position(pos);
    }
}

/// The part of `value` that fits `width` columns with the cursor in view, and the
/// cursor's column in it.
fn tail(value: &str, cursor: usize, width: usize) -> (String, usize) {
    let before: String = value.chars().take(cursor).collect();
    let mut start = 0;
    let chars: Vec<char> = value.chars().collect();
    while before.chars().skip(start).collect::<String>().width() + 1 > width && start < cursor {
        start += 1;
    }
    let mut shown = String::new();
    for c in chars.iter().skip(start) {
        let next = format!("{shown}{c}");
        if next.width() > width {
            break;
        }
        shown = next;
    }
    let col = before.chars().skip(start).collect::<String>().width();
    (shown, col)
}

pub fn confirm(frame: &mut Frame, area: Rect, app: &App, confirm: &Confirm) {
    let t = app.theme;
    let (title, question, consequence) = match confirm {
        Confirm::Delete { name, .. } => (
            "Delete",
            format!("Delete “{name}”?"),
            "Its link stops working at once. This cannot be undone.",
        ),
        Confirm::ResetTraffic { name, .. } => (
            "Reset traffic",
            format!("Reset the traffic of “{name}” to zero?"),
            "The used bytes count from zero again; the old figure is kept in the log.",
        ),
    };
    let rect = centered(area, 60, 7);
    frame.render_widget(Clear, rect);
    let block = frame_block(title, app);
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    let lines = vec![
        Line::from(Span::styled(question, t.bold())),
        Line::from(Span::styled(consequence, t.dim())),
        Line::from(""),
        Line::from(vec![
            Span::styled("y", t.bad()),
            Span::raw(" yes   "),
            Span::styled("n", t.accent()),
            Span::raw(" / Esc no"),
        ]),
    ];
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), inner);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_scroll_to_keep_the_cursor_in_view() {
        assert_eq!(tail("alice", 5, 10), ("alice".to_owned(), 5));
        let (shown, col) = tail("abcdefghij", 10, 5);
        assert_eq!((shown.as_str(), col), ("ghij", 4));
        assert_eq!(tail("東京", 2, 10), ("東京".to_owned(), 4));
    }
}
