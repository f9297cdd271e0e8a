//! One key in full: identity, limit gauge, expiry, who is online, the share link, and its
//! traffic history at minute, hour or day resolution.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Sparkline, Wrap};
use veil_shared::traffic::{Online, Resolution};

use super::keys::state_style;
use super::parts::{bar, missing};
use crate::dash::app::{App, Detail, Load};
use crate::format;
use crate::text;

/// The detail screen. Long on purpose: it builds the screen's lines top to bottom in the
/// order they are shown (state, limits, expiry, traffic, link, chart), which reads best as
/// one sequence.
#[allow(
    clippy::too_many_lines,
    reason = "the screen top to bottom; see the doc comment"
)]
pub fn draw(frame: &mut Frame, area: Rect, app: &App, d: &Detail) {
    let t = app.theme;
    let Some(key) = app.key(d.id) else {
        frame.render_widget(
            Paragraph::new(Span::styled("this key is gone — Esc goes back", t.dim())),
            area,
        );
        return;
    };
    let title = Line::from(vec![
        Span::styled(format!(" {} ", key.name), t.accent()),
        Span::styled(format!("#{} ", key.id), t.dim()),
        Span::styled(
            format!(" {} ", format::state_long(key)),
            state_style(app, key),
        ),
    ]);
    let outer = Block::default().borders(Borders::ALL).title(title);
    let inner = outer.inner(area);
    frame.render_widget(outer, area);
    let refused = key.apply_error.as_deref().filter(|_| key.pending);
    let info_height = (9u16 + u16::from(refused.is_some())).min(inner.height);
    let [info, history] =
        Layout::vertical([Constraint::Length(info_height), Constraint::Min(0)]).areas(inner);

    let label = |s: &str| Span::styled(format!("{s:<9}"), t.dim());
    let traffic = d.traffic.ready();
    let supported = !matches!(d.traffic, Load::Unsupported);
    let mut lines = vec![
        Line::from(vec![label("uuid"), Span::raw(key.uuid.to_string())]),
        Line::from(vec![
            label("created"),
            Span::raw(format::utc_minute(key.created_at)),
            Span::styled(
                format!("  updated {}", format::utc_minute(key.updated_at)),
                t.dim(),
            ),
        ]),
    ];
    if let Some(why) = refused {
        lines.push(Line::from(vec![
            label("refused"),
            Span::styled(text::one_line(why).into_owned(), t.bad()),
        ]));
    }
    // Limit: the gauge when traffic is known.
    let used = traffic.map(|t| t.traffic.used()).or_else(|| {
        app.traffic
            .get(&key.id)
            .map(super::super::app::Traffic::used)
    });
    let mut limit = vec![label("limit")];
    match (key.data_limit, used) {
        (Some(max), Some(used)) => {
            #[allow(clippy::cast_precision_loss)]
            let ratio = used as f64 / max.max(1) as f64;
            let (full, empty) = bar(ratio, 10);
            limit.push(Span::styled(full, t.gauge(ratio)));
            limit.push(Span::styled(empty, t.dim()));
            limit.push(Span::raw(format!(
                " {} of {} ({:.0}%)",
                format::bytes_long(used),
                format::bytes_long(max),
                ratio * 100.0
            )));
        }
        (Some(max), None) => {
            limit.push(Span::raw(format!("{} (used: —)", format::bytes_long(max))));
        }
        (None, Some(used)) => {
            limit.push(Span::raw("unlimited"));
            limit.push(Span::styled(
                format!(" · used {}", format::bytes_long(used)),
                t.dim(),
            ));
        }
        (None, None) => limit.push(Span::raw("unlimited")),
    }
    lines.push(Line::from(limit));
    let mut expiry = vec![label("expires")];
    match key.expires_at {
        Some(at) => expiry.push(Span::raw(format!(
            "{} ({})",
            format::utc_minute(at),
            format::expiry(Some(at), app.now)
        ))),
        None => expiry.push(Span::raw("never")),
    }
    if let Some(tr) = traffic {
        expiry.push(Span::styled(
            format!("  reset {}", tr.traffic.reset),
            t.dim(),
        ));
    }
    lines.push(Line::from(expiry));
    let mut online = vec![label("online")];
    match (traffic, supported) {
        (Some(tr), _) => online.extend(online_spans(app, &tr.online)),
        (None, true) if matches!(d.traffic, Load::Loading) => {
            online.push(Span::styled("…", t.dim()));
        }
        _ => online.push(missing(app)),
    }
    lines.push(Line::from(online));
    let mut now = vec![label("now")];
    match app.traffic.get(&key.id) {
        Some(tr) if app.traffic_supported == Some(true) => {
            now.push(Span::styled(
                format!("↓{:<9}", format::rate(tr.downlink_rate)),
                t.down(),
            ));
            now.push(Span::styled(
                format!("↑{:<9}", format::rate(tr.uplink_rate)),
                t.up(),
            ));
        }
        _ => now.push(missing(app)),
    }
    if let Some(tr) = traffic {
        now.push(Span::styled(
            format!(
                " lifetime ↓{} ↑{}",
                format::bytes(tr.traffic.lifetime_downlink),
                format::bytes(tr.traffic.lifetime_uplink)
            ),
            t.dim(),
        ));
    }
    lines.push(Line::from(now));
    let note = if key.note.is_empty() {
        Span::styled("(none)", t.dim())
    } else {
        Span::raw(key.note.replace('\n', " ⏎ "))
    };
    lines.push(Line::from(vec![label("note"), note]));
    let link = match &d.link {
        Load::Ready(link) => {
            Span::raw(text::clip(link, usize::from(info.width.saturating_sub(10))))
        }
        Load::Loading | Load::Idle => Span::styled("…", t.dim()),
        Load::Unsupported => missing(app),
        Load::Failed(e) => Span::styled(e.clone(), t.bad()),
    };
    lines.push(Line::from(vec![label("link"), link]));
    lines.push(Line::from(Span::styled(
        "c copies the link · v shows it as a QR code",
        t.dim(),
    )));
    frame.render_widget(Paragraph::new(lines), info);
    history_chart(frame, history, app, d);
}

fn online_spans(app: &App, online: &Online) -> Vec<Span<'static>> {
    let t = app.theme;
    match online {
        Online::Known { count, ips } => {
            let mut spans = vec![Span::styled(
                count.to_string(),
                if *count > 0 { t.good() } else { t.dim() },
            )];
            if !ips.is_empty() {
                let list: Vec<&str> = ips.iter().take(4).map(|ip| ip.ip.as_str()).collect();
                spans.push(Span::styled(format!(" · {}", list.join(", ")), t.dim()));
            }
            spans
        }
        Online::Off => vec![Span::styled(
            "not tracked (statsUserOnline is off)",
            t.dim(),
        )],
        Online::Unsupported { reason } => vec![Span::styled(reason.clone(), t.dim())],
        Online::Unavailable { error } => vec![Span::styled(error.clone(), t.bad())],
    }
}

/// How many buckets of each resolution the chart spans.
fn span_of(resolution: Resolution) -> i64 {
    match resolution {
        Resolution::Minute => 60,
        Resolution::Hour => 48,
        Resolution::Day => 30,
    }
}

/// The history chart with its axes and labels; one widget built step by step, hence the
/// length.
fn history_chart(frame: &mut Frame, area: Rect, app: &App, d: &Detail) {
    let t = app.theme;
    if area.height < 3 {
        return;
    }
    let name = match d.resolution {
        Resolution::Minute => "per minute, last hour",
        Resolution::Hour => "per hour, last 2 days",
        Resolution::Day => "per day, last 30 days",
    };
    let block = Block::default()
        .borders(Borders::TOP)
        .title(Line::from(vec![
            Span::styled(" history ", t.bold()),
            Span::styled(format!("{name} · [ ] finer/coarser "), t.dim()),
        ]));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let page = match &d.history {
        Load::Ready(page) => page,
        Load::Loading | Load::Idle => {
            frame.render_widget(Paragraph::new(Span::styled("…", t.dim())), inner);
            return;
        }
        Load::Unsupported => {
            frame.render_widget(
                Paragraph::new(Line::from(vec![
                    missing(app),
                    Span::styled(" this veild keeps no history", t.dim()),
                ])),
                inner,
            );
            return;
        }
        Load::Failed(e) => {
            frame.render_widget(
                Paragraph::new(Span::styled(e.clone(), t.bad())).wrap(Wrap { trim: true }),
                inner,
            );
            return;
        }
    };
    let step = d.resolution.secs();
    let count = span_of(d.resolution);
    let end = app.now - app.now.rem_euclid(step);
    let start = end - (count - 1) * step;
    let mut values = vec![0u64; usize::try_from(count).unwrap_or(0)];
    for b in &page.buckets {
        if b.at >= start && b.at <= end {
            let i = usize::try_from((b.at - start) / step).unwrap_or(0);
            if let Some(v) = values.get_mut(i) {
                *v = v.saturating_add(b.uplink.saturating_add(b.downlink));
            }
        }
    }
    let total: u64 = values.iter().sum();
    let peak = values.iter().copied().max().unwrap_or(0);
    let [chart, legend] =
        Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(inner);
    let width = usize::from(chart.width);
    let shown: Vec<u64> = values.iter().rev().take(width).rev().copied().collect();
    let first = end - (i64::try_from(shown.len()).unwrap_or(0) - 1).max(0) * step;
    frame.render_widget(
        Sparkline::default()
            .data(&shown)
            .max(peak.max(1))
            .style(t.down()),
        chart,
    );
    let when = |at: i64| match d.resolution {
        Resolution::Minute => format::utc_hm(at),
        _ => format::utc_minute(at),
    };
    let text = format!(
        "{} … {}   total {}   peak {}",
        when(first),
        when(end),
        format::bytes_long(total),
        format::bytes_long(peak)
    );
    frame.render_widget(Paragraph::new(Span::styled(text, t.dim())), legend);
}
