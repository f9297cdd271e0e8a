//! Drawing. Every function here takes the state by shared reference and only paints:
//! nothing is fetched, nothing is changed. Each screen and popup is its own module.
//!
//! - `overview`: core, daemon, keys, traffic, the rate sparkline, the busiest keys.
//! - `keys`: the key table (only the rows on screen are built).
//! - `detail`: one key: link, limits, online, history chart.
//! - `events`: the event log.
//! - `popup`: help, forms, confirmations; `qr`: the QR code.
//! - `parts`: rows that fit, centering, bars: the pieces the screens share.

mod detail;
mod events;
mod keys;
mod nodes;
mod overview;
mod parts;
mod popup;
mod qr;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::app::{App, Conn, Popup, Tone, View};
use crate::format;

pub use self::parts::{bar, centered, events_rows, missing, table_rows};

/// Below this size only a short note is drawn.
pub const MIN_WIDTH: u16 = 40;
pub const MIN_HEIGHT: u16 = 10;

/// The header's clock: it only changes once a minute, so an idle dashboard redraws
/// about once a minute.
pub fn clock_text(now: i64) -> String {
    format!("{} UTC", format::utc_hm(now))
}

pub fn draw(frame: &mut Frame, app: &App) {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        too_small(frame, area, app);
        return;
    }
    let [header_area, body, footer_area] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(area);
    header(frame, header_area, app);
    match app.view {
        View::Overview => overview::draw(frame, body, app),
        View::Keys => match &app.detail {
            Some(d) => detail::draw(frame, body, app, d),
            None => keys::draw(frame, body, app),
        },
        View::Events => events::draw(frame, body, app),
        View::Nodes => nodes::draw(frame, body, app),
    }
    footer(frame, footer_area, app);
    match &app.popup {
        Some(Popup::Help) => popup::help(frame, area, app),
        Some(Popup::Form(form)) => popup::form(frame, area, app, form),
        Some(Popup::Confirm(c)) => popup::confirm(frame, area, app, c),
        Some(Popup::Qr {
            name,
            link,
            inverted,
            ..
        }) => qr::draw(frame, area, app, name, link, *inverted),
        None => {}
    }
}

fn too_small(frame: &mut Frame, area: Rect, app: &App) {
    let t = app.theme;
    let status = match &app.conn {
        Conn::Up { .. } => Span::styled("connected", t.good()),
        Conn::Connecting => Span::styled("connecting…", t.warn()),
        Conn::Down { .. } => Span::styled("reconnecting…", t.bad()),
    };
    let lines = vec![
        Line::from(vec![Span::styled("Veil ", t.accent()), status]),
        Line::from(format!(
            "{}×{}: make it {MIN_WIDTH}×{MIN_HEIGHT} or more",
            area.width, area.height
        )),
        Line::from("q quits"),
    ];
    frame.render_widget(
        Paragraph::new(lines).wrap(ratatui::widgets::Wrap { trim: true }),
        area,
    );
}

fn header(frame: &mut Frame, area: Rect, app: &App) {
    let t = app.theme;
    let mut left = vec![Span::styled(" Veil ", t.accent())];
    for (i, view) in View::tabs(app.is_fleet()).iter().enumerate() {
        let label = format!(" {} {} ", i + 1, view.title());
        let style = if *view == app.view {
            t.selected()
        } else {
            t.dim()
        };
        left.push(Span::raw(" "));
        left.push(Span::styled(label, style));
    }
    let (dot, text, style) = match &app.conn {
        Conn::Up { version } => ("●", format!("veild {version}"), t.good()),
        Conn::Connecting => ("○", "connecting…".to_owned(), t.warn()),
        Conn::Down { since, .. } => (
            "✕",
            format!(
                "reconnecting… {}",
                format::short_span(app.now.saturating_sub(*since).unsigned_abs())
            ),
            t.bad(),
        ),
    };
    let right = Line::from(vec![
        Span::styled(format!("{dot} {text}"), style),
        Span::styled(format!("  {} ", clock_text(app.now)), t.dim()),
    ]);
    let right_width = u16::try_from(right.width())
        .unwrap_or(u16::MAX)
        .min(area.width);
    let [l, r] =
        Layout::horizontal([Constraint::Min(0), Constraint::Length(right_width)]).areas(area);
    frame.render_widget(Paragraph::new(Line::from(left)), l);
    frame.render_widget(Paragraph::new(right), r);
}

fn footer(frame: &mut Frame, area: Rect, app: &App) {
    let t = app.theme;
    let line = if app.filtering {
        Line::from(vec![
            Span::styled(" / ", t.accent()),
            Span::raw(app.filter.clone()),
            Span::styled("█", t.dim()),
            Span::styled("   Enter keep · Esc clear", t.dim()),
        ])
    } else if let Some(toast) = &app.toast {
        let style = match toast.tone {
            Tone::Good => t.good(),
            Tone::Bad => t.bad(),
            Tone::Info => Style::new(),
        };
        Line::from(Span::styled(format!(" {}", toast.text), style))
    } else {
        hints(app)
    };
    frame.render_widget(Paragraph::new(line), area);
}

fn hints(app: &App) -> Line<'static> {
    let t = app.theme;
    let pairs: &[(&str, &str)] = match app.view {
        View::Keys if app.detail.is_some() => &[
            ("Esc", "back"),
            ("c", "copy link"),
            ("v", "QR"),
            ("[ ]", "history"),
            ("e", "edit"),
            ("d", "on/off"),
            ("?", "help"),
        ],
        View::Keys => &[
            ("a", "add"),
            ("Enter", "open"),
            ("/", "filter"),
            ("s", "sort"),
            ("d", "on/off"),
            ("x", "delete"),
            ("?", "help"),
            ("q", "quit"),
        ],
        _ => &[
            ("Tab", "next screen"),
            ("2", "keys"),
            ("?", "help"),
            ("q", "quit"),
        ],
    };
    let mut spans = vec![Span::raw(" ")];
    for (key, what) in pairs {
        spans.push(Span::styled(*key, t.accent()));
        spans.push(Span::styled(format!(" {what}  "), t.dim()));
    }
    Line::from(spans)
}
