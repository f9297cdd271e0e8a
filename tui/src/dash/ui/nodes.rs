//! A fleet node's view of every node: its core, keys active and pending on it, the bytes
//! through it, when it last beat, and whether it is drained.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::dash::app::App;
use crate::format;
use crate::text;

pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let t = app.theme;
    let [head, body] = Layout::vertical([Constraint::Length(2), Constraint::Min(0)]).areas(area);
    let Some(list) = &app.nodes else {
        frame.render_widget(
            Paragraph::new(Span::styled(
                " asking veild for the fleet's nodes…",
                t.dim(),
            )),
            head,
        );
        return;
    };
    let registry = if list.registry_up {
        Span::styled("registry reachable", t.good())
    } else {
        Span::styled(
            "registry UNREACHABLE: key changes refused; the list as last read",
            t.bad(),
        )
    };
    let title = Line::from(vec![
        Span::styled(format!(" {} nodes", list.nodes.len()), t.bold()),
        Span::styled(
            format!(" · this is {} · ", text::one_line(&list.this)),
            t.dim(),
        ),
        registry,
    ]);
    let columns = Line::from(Span::styled(
        format!(
            " {:<20} {:<8} {:>8} {:>8} {:>10} {:>10} {:>10}  {}",
            "NODE", "CORE", "ACTIVE", "PENDING", "UP", "DOWN", "SEEN", "STATE"
        ),
        t.dim(),
    ));
    frame.render_widget(Paragraph::new(vec![title, columns]), head);
    let count = |n: Option<u64>| n.map_or_else(|| "-".to_owned(), |n| n.to_string());
    let lines: Vec<Line> = list
        .nodes
        .iter()
        .take(usize::from(body.height))
        .map(|n| {
            let seen = n.last_seen.map_or_else(
                || "never".to_owned(),
                |at| format::short_span(app.now.saturating_sub(at).max(0).unsigned_abs()),
            );
            let core = n.core.as_deref().unwrap_or("-");
            let core_style = if core == "up" { t.good() } else { t.bad() };
            let (state, state_style) = if n.draining {
                ("drained", t.warn())
            } else {
                ("serving", t.good())
            };
            let mark = if n.name == list.this { "*" } else { " " };
            Line::from(vec![
                Span::raw(format!(
                    "{mark}{:<20} ",
                    text::truncate(&text::one_line(&n.name), 20)
                )),
                Span::styled(format!("{core:<8} "), core_style),
                Span::raw(format!(
                    "{:>8} {:>8} {:>10} {:>10} {:>10}  ",
                    count(n.keys_active),
                    count(n.keys_pending),
                    format::bytes(n.uplink),
                    format::bytes(n.downlink),
                    seen
                )),
                Span::styled(state, state_style),
            ])
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), body);
}
