//! The key table. Only the rows on screen are built, so 10,000 keys draw as fast as 20.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Row, Table};
use veil_shared::model::{Key, KeyState};

use super::parts::{bar, missing, table_rows};
use crate::dash::app::{App, SortBy, Traffic};
use crate::format;
use crate::text;

/// One column: its title, its width (0: takes the rest), and from which terminal width on
/// it is shown.
struct Column {
    title: &'static str,
    width: u16,
    from: u16,
    sort: Option<SortBy>,
}

const COLUMNS: &[Column] = &[
    Column {
        title: "id",
        width: 5,
        from: 100,
        sort: Some(SortBy::Id),
    },
    Column {
        title: "name",
        width: 0,
        from: 0,
        sort: Some(SortBy::Name),
    },
    Column {
        title: "state",
        width: 13,
        from: 0,
        sort: Some(SortBy::State),
    },
    Column {
        title: "↓ now",
        width: 8,
        from: 0,
        sort: Some(SortBy::Rate),
    },
    Column {
        title: "↑ now",
        width: 8,
        from: 0,
        sort: Some(SortBy::Rate),
    },
    Column {
        title: "used / limit",
        width: 16,
        from: 0,
        sort: Some(SortBy::Used),
    },
    Column {
        title: "expires",
        width: 8,
        from: 0,
        sort: Some(SortBy::Expiry),
    },
    Column {
        title: "online",
        width: 6,
        from: 0,
        sort: Some(SortBy::Active),
    },
    Column {
        title: "note",
        width: 20,
        from: 110,
        sort: None,
    },
];

pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let [info, table_area] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
    info_line(frame, info, app);
    let columns: Vec<&Column> = COLUMNS.iter().filter(|c| area.width >= c.from).collect();
    let widths: Vec<Constraint> = columns
        .iter()
        .map(|c| {
            if c.width == 0 {
                Constraint::Min(8)
            } else {
                Constraint::Length(c.width)
            }
        })
        .collect();
    let t = app.theme;
    let header = Row::new(columns.iter().map(|c| {
        let arrow = match (c.sort == Some(app.sort), app.descending) {
            (true, true) => "▼",
            (true, false) => "▲",
            _ => "",
        };
        let style = if arrow.is_empty() {
            t.dim()
        } else {
            t.accent()
        };
        Line::from(Span::styled(format!("{}{arrow}", c.title), style))
    }));
    let rows_shown = table_rows(app.width, app.height).min(usize::from(table_area.height));
    let name_width = name_width(&columns, area.width);
    let rows: Vec<Row> = app
        .visible
        .iter()
        .enumerate()
        .skip(app.offset)
        .take(rows_shown)
        .filter_map(|(pos, &i)| app.keys.get(i).map(|k| (pos, k)))
        .map(|(pos, key)| {
            let row = row(app, key, &columns, name_width);
            if pos == app.cursor {
                row.style(t.selected())
            } else {
                row
            }
        })
        .collect();
    if app.visible.is_empty() {
        let text = if !app.keys_loaded {
            Span::styled("loading keys…", t.dim())
        } else if app.filter.is_empty() {
            Span::styled("no keys yet — press a to add one", t.dim())
        } else {
            Span::styled("no key matches the filter — Esc clears it", t.dim())
        };
        let [head, rest] =
            Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(table_area);
        frame.render_widget(Table::new(Vec::<Row>::new(), widths).header(header), head);
        frame.render_widget(Paragraph::new(text), rest);
        return;
    }
    frame.render_widget(Table::new(rows, widths).header(header), table_area);
}

/// The width the flexible name column ends up with.
fn name_width(columns: &[&Column], total: u16) -> usize {
    let fixed: u16 = columns.iter().map(|c| c.width).sum();
    let gaps = u16::try_from(columns.len().saturating_sub(1)).unwrap_or(0);
    usize::from(total.saturating_sub(fixed + gaps).max(8))
}

fn info_line(frame: &mut Frame, area: Rect, app: &App) {
    let t = app.theme;
    let shown = app.visible.len();
    let total = app.keys.len();
    let mut spans = vec![Span::styled(
        match (shown == total, total) {
            (true, 1) => " 1 key".to_owned(),
            (true, _) => format!(" {total} keys"),
            (false, _) => format!(" {shown} of {total} keys"),
        },
        t.bold(),
    )];
    spans.push(Span::styled(
        format!(
            " · sorted by {} {}",
            app.sort.label(),
            if app.descending { "▼" } else { "▲" }
        ),
        t.dim(),
    ));
    if !app.filter.is_empty() {
        spans.push(Span::styled(" · filter ", t.dim()));
        spans.push(Span::styled(format!("“{}”", app.filter), t.accent()));
    }
    if app.keys.iter().any(|k| k.pending) {
        spans.push(Span::styled(" · * pending in the core", t.warn()));
    }
    if shown > 0 {
        spans.push(Span::styled(
            format!(" · {}/{shown}", app.cursor + 1),
            t.dim(),
        ));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn row<'a>(app: &App, key: &'a Key, columns: &[&Column], name_width: usize) -> Row<'a> {
    let t = app.theme;
    let traffic = app.traffic.get(&key.id);
    let supported = app.traffic_supported == Some(true);
    let cells = columns.iter().map(|c| match c.title {
        "id" => Line::from(Span::styled(key.id.to_string(), t.dim())),
        "name" => Line::from(text::clip(&key.name, name_width)),
        "state" => Line::from(Span::styled(format::state(key), state_style(app, key))),
        "↓ now" => rate_cell(app, supported, traffic.map(|t| t.downlink_rate), t.down()),
        "↑ now" => rate_cell(app, supported, traffic.map(|t| t.uplink_rate), t.up()),
        "used / limit" => used_cell(app, key, traffic),
        "expires" => {
            let text = format::expiry(key.expires_at, app.now);
            let soon = key.expires_at.is_some_and(|at| at - app.now < 3 * 86_400);
            if soon {
                Line::from(Span::styled(text, t.warn()))
            } else {
                Line::from(text)
            }
        }
        "online" => online_cell(app, supported, traffic),
        "note" => Line::from(Span::styled(
            text::clip(&key.note.replace('\n', " "), 20),
            t.dim(),
        )),
        _ => Line::from(""),
    });
    Row::new(cells.collect::<Vec<_>>())
}

pub fn state_style(app: &App, key: &Key) -> ratatui::style::Style {
    let t = app.theme;
    match key.state {
        _ if key.pending => t.warn(),
        KeyState::Active => t.good(),
        KeyState::Disabled => t.bad(),
        KeyState::Deleted => t.dim(),
    }
}

fn rate_cell(
    app: &App,
    supported: bool,
    rate: Option<u64>,
    style: ratatui::style::Style,
) -> Line<'static> {
    match (supported, rate) {
        (false, _) => Line::from(missing(app)),
        (true, None | Some(0)) => Line::from(Span::styled("0", app.theme.dim())),
        (true, Some(r)) => Line::from(Span::styled(format::rate(r), style)),
    }
}

fn used_cell(app: &App, key: &Key, traffic: Option<&Traffic>) -> Line<'static> {
    let t = app.theme;
    if app.traffic_supported != Some(true) {
        return match key.data_limit {
            Some(limit) => Line::from(vec![
                missing(app),
                Span::raw(format!(" / {}", format::bytes(limit))),
            ]),
            None => Line::from(missing(app)),
        };
    }
    let used = traffic.map_or(0, Traffic::used);
    match key.data_limit {
        None => Line::from(vec![
            Span::raw(format::bytes(used)),
            Span::styled(" / ∞", t.dim()),
        ]),
        Some(limit) => {
            #[allow(clippy::cast_precision_loss)]
            let ratio = used as f64 / limit.max(1) as f64;
            let (full, empty) = bar(ratio, 4);
            Line::from(vec![
                Span::styled(full, t.gauge(ratio)),
                Span::styled(empty, t.dim()),
                Span::raw(format!(" {}/{}", format::bytes(used), format::bytes(limit))),
            ])
        }
    }
}

fn online_cell(app: &App, supported: bool, traffic: Option<&Traffic>) -> Line<'static> {
    let t = app.theme;
    if !supported {
        return Line::from(missing(app));
    }
    match traffic {
        Some(tr) if app.is_online(tr) => Line::from(Span::styled("● now", t.good())),
        Some(Traffic {
            last_active: Some(at),
            ..
        }) => Line::from(Span::styled(
            format::short_span(app.now.saturating_sub(*at).unsigned_abs()),
            t.dim(),
        )),
        _ => Line::from(Span::styled("never", t.dim())),
    }
}
