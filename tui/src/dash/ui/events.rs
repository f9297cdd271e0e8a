//! The event log, newest first: key changes with the uid that made them, resyncs, errors.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::parts::events_rows;
use crate::dash::app::{App, LogKind};
use crate::format;
use crate::text;

pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let t = app.theme;
    let [head, body] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
    let mut title = vec![Span::styled(format!(" {} events", app.log.len()), t.bold())];
    if app.log_offset > 0 {
        title.push(Span::styled(
            format!(" · scrolled {} back (g: newest)", app.log_offset),
            t.dim(),
        ));
    } else {
        title.push(Span::styled(" · newest first · times UTC", t.dim()));
    }
    frame.render_widget(Paragraph::new(Line::from(title)), head);
    if app.log.is_empty() {
        frame.render_widget(
            Paragraph::new(Span::styled(" nothing has happened yet", t.dim())),
            body,
        );
        return;
    }
    let rows = events_rows(app.width, app.height).min(usize::from(body.height));
    let width = usize::from(body.width.saturating_sub(17));
    let lines: Vec<Line> = app
        .log
        .iter()
        .skip(app.log_offset)
        .take(rows)
        .map(|e| {
            let (tag, style) = match e.kind {
                LogKind::Key => ("key   ", t.accent()),
                LogKind::Resync => ("resync", t.good()),
                LogKind::Error => ("error ", t.bad()),
                LogKind::Info => ("info  ", t.dim()),
            };
            let when = if app.now - e.at < 86_400 {
                format::utc_clock(e.at)
            } else {
                format::utc_date(e.at)
            };
            Line::from(vec![
                Span::styled(format!(" {when:>10} "), t.dim()),
                Span::styled(tag, style),
                Span::raw(" "),
                Span::raw(text::clip(&e.text, width)),
            ])
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), body);
}
