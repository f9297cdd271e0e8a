//! The overview: is the core up, is veild keeping up, how many keys in which state, how
//! much traffic today and now, and who is moving it.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Row, Sparkline, Table};
use veil_shared::api::CoreStatus;

use super::parts::missing;
use crate::dash::app::{App, Conn};
use crate::format;
use crate::text;

pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let tall = area.height >= 30;
    // One more line in the veild panel when the HTTP API is on.
    let http = app.health.as_ref().is_some_and(|h| h.http.is_some());
    let [top, traffic, busiest] = Layout::vertical([
        Constraint::Length(if http { 7 } else { 6 }),
        Constraint::Length(if tall { 10 } else { 6 }),
        Constraint::Min(3),
    ])
    .areas(area);
    let [core, daemon, keys] = Layout::horizontal([
        Constraint::Ratio(1, 3),
        Constraint::Ratio(1, 3),
        Constraint::Ratio(1, 3),
    ])
    .areas(top);
    core_panel(frame, core, app);
    daemon_panel(frame, daemon, app);
    keys_panel(frame, keys, app);
    traffic_panel(frame, traffic, app);
    busiest_panel(frame, busiest, app);
}

fn block(title: &str, app: &App) -> Block<'static> {
    Block::default()
        .borders(Borders::ALL)
        .title(Span::styled(format!(" {title} "), app.theme.bold()))
}

fn label(text: &str, app: &App) -> Span<'static> {
    Span::styled(format!("{text} "), app.theme.dim())
}

fn core_panel(frame: &mut Frame, area: Rect, app: &App) {
    let t = app.theme;
    let lines = match &app.health {
        None => vec![Line::from(match app.conn {
            Conn::Down { .. } => Span::styled("veild unreachable", t.bad()),
            _ => Span::styled("asking veild…", t.dim()),
        })],
        Some(h) => {
            let c = &h.core;
            let status = match c.status {
                CoreStatus::Up => Span::styled("● up", t.good()),
                CoreStatus::Down => Span::styled("✕ down", t.bad()),
                CoreStatus::Unknown => Span::styled("? unknown", t.warn()),
            };
            let mut lines = vec![
                Line::from(vec![status, Span::raw("  "), Span::raw(c.flavor.clone())]),
                Line::from(vec![
                    label("uptime", app),
                    c.uptime_secs
                        .map_or_else(|| missing(app), |s| Span::raw(format::uptime(s))),
                ]),
                Line::from(vec![
                    label("memory", app),
                    c.memory_bytes
                        .map_or_else(|| missing(app), |b| Span::raw(format::bytes_long(b))),
                ]),
            ];
            match (&c.last_error, c.status) {
                (Some(e), CoreStatus::Down) => {
                    lines.push(Line::from(Span::styled(e.clone(), t.bad())));
                }
                _ => lines.push(Line::from(vec![
                    label("api", app),
                    Span::raw(c.api.clone()),
                ])),
            }
            lines
        }
    };
    frame.render_widget(Paragraph::new(lines).block(block("Core", app)), area);
}

fn daemon_panel(frame: &mut Frame, area: Rect, app: &App) {
    let t = app.theme;
    let Some(h) = &app.health else {
        frame.render_widget(
            Block::default().borders(Borders::ALL).title(" veild "),
            area,
        );
        return;
    };
    let pending = if h.pending > 0 {
        Span::styled(h.pending.to_string(), t.warn())
    } else {
        Span::styled("0", t.good())
    };
    let drift = match h.core.drift {
        None => missing(app),
        Some(0) => Span::styled("0", t.good()),
        Some(n) => Span::styled(n.to_string(), t.warn()),
    };
    let resync = match &h.core.last_resync {
        None => vec![label("resync", app), missing(app)],
        Some(r) => vec![
            label("resync", app),
            Span::raw(format!(
                "{}, {}",
                format::utc_hm(r.at),
                r.reason.replace('_', " ")
            )),
        ],
    };
    let config = match h.config.as_ref().and_then(|c| c.last_error.as_ref()) {
        Some(e) => Line::from(vec![label("config", app), Span::styled(e.clone(), t.bad())]),
        None => {
            let writes = h.config.as_ref().map_or(0, |c| c.writes);
            let behind = h.config.as_ref().map_or(0, |c| c.behind);
            let state = if behind == 0 {
                Span::styled("ok", t.good())
            } else {
                // Keys live in the core that the file lists only after its next write.
                Span::styled(format!("{behind} behind"), t.warn())
            };
            Line::from(vec![
                label("config", app),
                state,
                Span::styled(format!(" · {writes} writes"), t.dim()),
            ])
        }
    };
    let mut lines = vec![
        Line::from(vec![
            label("pending", app),
            pending,
            Span::raw("  "),
            label("drift", app),
            drift,
        ]),
        Line::from(resync),
        config,
        Line::from(vec![
            label("up", app),
            Span::raw(format::uptime(h.uptime_secs)),
            Span::styled(format!(" · pid {}", h.pid), t.dim()),
        ]),
    ];
    if let Some(http) = &h.http {
        let fails = http.auth_failures.len();
        lines.push(Line::from(vec![
            label("http", app),
            Span::raw(text::one_line(&http.listen).into_owned()),
            Span::styled(format!(" · {}/min", http.requests_last_minute), t.dim()),
            if fails > 0 {
                Span::styled(format!(" · {fails} fail"), t.warn())
            } else {
                Span::raw("")
            },
        ]));
    }
    let title = format!("veild {}", h.version);
    frame.render_widget(Paragraph::new(lines).block(block(&title, app)), area);
}

fn keys_panel(frame: &mut Frame, area: Rect, app: &App) {
    let t = app.theme;
    let c = app.counts();
    let total = c.active + c.disabled;
    let mut reasons = Vec::new();
    for (n, what) in [
        (c.manual, "manual"),
        (c.limited, "limit"),
        (c.expired, "exp."),
    ] {
        if n > 0 {
            reasons.push(Span::raw(format!("{n} ")));
            reasons.push(Span::styled(format!("{what} "), t.dim()));
        }
    }
    if reasons.is_empty() {
        reasons.push(Span::styled("none disabled", t.dim()));
    }
    let online = if app.traffic_supported == Some(true) {
        Span::raw(c.online.to_string())
    } else {
        missing(app)
    };
    let lines = vec![
        Line::from(vec![
            label("active", app),
            Span::styled(c.active.to_string(), t.good()),
            Span::raw("  "),
            label("online", app),
            online,
        ]),
        Line::from(vec![
            label("disabled", app),
            Span::raw(c.disabled.to_string()),
            Span::raw("  "),
            label("pending", app),
            if c.pending > 0 {
                Span::styled(c.pending.to_string(), t.warn())
            } else {
                Span::raw("0")
            },
        ]),
        Line::from(reasons),
        Line::from(vec![label("total", app), Span::raw(total.to_string())]),
    ];
    frame.render_widget(Paragraph::new(lines).block(block("Keys", app)), area);
}

fn traffic_panel(frame: &mut Frame, area: Rect, app: &App) {
    let t = app.theme;
    let outer = block("Traffic", app);
    let inner = outer.inner(area);
    frame.render_widget(outer, area);
    let [numbers, chart] =
        Layout::horizontal([Constraint::Length(26), Constraint::Min(0)]).areas(inner);
    let supported = app.traffic_supported == Some(true);
    let pair = |up: u64, down: u64, f: fn(u64) -> String| -> Vec<Span<'static>> {
        vec![
            Span::styled("↓", t.down()),
            Span::raw(format!("{:<8}", f(down))),
            Span::styled("↑", t.up()),
            Span::raw(f(up)),
        ]
    };
    let mut lines = Vec::new();
    let mut today = vec![label("today", app)];
    match app.today {
        Some(d) if supported => today.extend(pair(d.uplink, d.downlink, format::bytes)),
        _ => today.push(missing(app)),
    }
    lines.push(Line::from(today));
    let mut now = vec![label("now  ", app)];
    if supported {
        let (up, down) = app.total_rate();
        now.extend(pair(up, down, format::rate));
    } else {
        now.push(missing(app));
    }
    lines.push(Line::from(now));
    let peak = app
        .rates
        .iter()
        .map(|s| s.uplink.saturating_add(s.downlink))
        .max()
        .unwrap_or(0);
    let mut peak_line = vec![label("peak ", app)];
    if supported {
        peak_line.push(Span::raw(format::rate(peak)));
        peak_line.push(Span::styled(
            format!(" / {}", format::short_span(span_secs(app))),
            t.dim(),
        ));
    } else {
        peak_line.push(missing(app));
    }
    lines.push(Line::from(peak_line));
    if !supported && inner.height > 3 {
        lines.push(Line::from(Span::styled(
            "this veild reports no traffic",
            t.dim(),
        )));
    }
    frame.render_widget(Paragraph::new(lines), numbers);
    // Newest at the right edge, like a strip chart.
    let width = usize::from(chart.width);
    let recent = app.rates.len().min(width);
    let mut data = vec![0u64; width - recent];
    data.extend(
        app.rates
            .iter()
            .skip(app.rates.len() - recent)
            .map(|s| s.uplink.saturating_add(s.downlink)),
    );
    frame.render_widget(
        Sparkline::default()
            .data(&data)
            .max(peak.max(1))
            .style(t.down()),
        chart,
    );
}

/// The time the sparkline covers.
fn span_secs(app: &App) -> u64 {
    match (app.rates.front(), app.rates.back()) {
        (Some(a), Some(b)) => b.at.saturating_sub(a.at).unsigned_abs().max(1),
        _ => 0,
    }
}

fn busiest_panel(frame: &mut Frame, area: Rect, app: &App) {
    let t = app.theme;
    let outer = block("Busiest now", app);
    if app.traffic_supported != Some(true) {
        let text = Line::from(vec![
            missing(app),
            Span::styled(" no traffic figures", t.dim()),
        ]);
        frame.render_widget(Paragraph::new(text).block(outer), area);
        return;
    }
    if app.busiest.is_empty() {
        let text = Span::styled("nothing is moving", t.dim());
        frame.render_widget(Paragraph::new(text).block(outer), area);
        return;
    }
    let rows: Vec<Row> = app
        .busiest
        .iter()
        .filter_map(|id| Some((app.key(*id)?, app.traffic.get(id)?)))
        .map(|(key, tr)| {
            Row::new(vec![
                Line::from(text::clip(&key.name, 30)),
                Line::from(Span::styled(format::rate(tr.downlink_rate), t.down())),
                Line::from(Span::styled(format::rate(tr.uplink_rate), t.up())),
                Line::from(format::bytes(tr.used())),
            ])
        })
        .collect();
    let header = Row::new(vec!["name", "↓ now", "↑ now", "used"]).style(t.dim());
    let table = Table::new(
        rows,
        [
            Constraint::Min(12),
            Constraint::Length(9),
            Constraint::Length(9),
            Constraint::Length(7),
        ],
    )
    .header(header)
    .block(outer);
    frame.render_widget(table, area);
}
