//! The share link as a QR code, two modules per character cell (upper/lower half blocks),
//! so each module is about square.
//!
//! With color the code is painted black on white whatever the terminal's own colors, and
//! the white fill around it is the quiet zone. Without color (`NO_COLOR`) the terminal's
//! foreground draws the light modules plus a 4-module quiet zone (right for light text on
//! a dark background); `i` swaps that for light terminals. A code that does not fit says
//! how much room it needs and shows the link as text instead.

use qrcode::{Color as Module, EcLevel, QrCode};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use crate::dash::app::{App, Load};

/// A code as rows of text, and its size in cells.
pub struct Drawn {
    pub lines: Vec<String>,
    pub width: u16,
    pub height: u16,
}

/// Renders `data` with `quiet` light modules around it. `blocks_for_dark`: dark modules are
/// drawn as blocks (black-on-white painting, or light terminals).
pub fn render(code: &QrCode, quiet: usize, blocks_for_dark: bool) -> Drawn {
    let size = code.width();
    let modules = code.to_colors();
    let full = size + 2 * quiet;
    let block_at = |x: usize, y: usize| -> bool {
        let dark = if x < quiet || y < quiet || x >= quiet + size || y >= quiet + size {
            false
        } else {
            modules
                .get((y - quiet) * size + (x - quiet))
                .is_some_and(|m| *m == Module::Dark)
        };
        dark == blocks_for_dark
    };
    let mut lines = Vec::with_capacity(full.div_ceil(2));
    for y in (0..full).step_by(2) {
        let line: String = (0..full)
            .map(|x| {
                let top = block_at(x, y);
                let bottom = y + 1 < full && block_at(x, y + 1);
                match (top, bottom) {
                    (true, true) => '█',
                    (true, false) => '▀',
                    (false, true) => '▄',
                    (false, false) => ' ',
                }
            })
            .collect();
        lines.push(line);
    }
    Drawn {
        width: u16::try_from(full).unwrap_or(u16::MAX),
        height: u16::try_from(lines.len()).unwrap_or(u16::MAX),
        lines,
    }
}

/// The strongest error correction whose code fits `room` (M, else L); the L code when
/// none fits.
fn encode(link: &str) -> Option<Vec<QrCode>> {
    let codes: Vec<QrCode> = [EcLevel::M, EcLevel::L]
        .into_iter()
        .filter_map(|level| QrCode::with_error_correction_level(link.as_bytes(), level).ok())
        .collect();
    (!codes.is_empty()).then_some(codes)
}

/// The QR popup. Long on purpose: it picks the densest code that fits, then lays out the
/// code, its caption and the fallbacks in order; the steps share the measurements.
#[allow(
    clippy::too_many_lines,
    reason = "the steps share the measurements; see the doc comment"
)]
pub fn draw(
    frame: &mut Frame,
    area: Rect,
    app: &App,
    name: &str,
    link: &Load<String>,
    inverted: bool,
) {
    let t = app.theme;
    frame.render_widget(Clear, area);
    let caption = Line::from(vec![
        Span::styled(format!(" {name} "), t.accent()),
        Span::styled(
            "· scan with the phone · c copy · i invert · Esc close",
            t.dim(),
        ),
    ]);
    let link = match link {
        Load::Ready(link) => link,
        other => {
            let text = match other {
                Load::Unsupported => "this veild cannot make links yet".to_owned(),
                Load::Failed(e) => e.clone(),
                _ => "asking veild for the link…".to_owned(),
            };
            let block = Block::default().borders(Borders::ALL).title(caption);
            frame.render_widget(Paragraph::new(text).block(block), area);
            return;
        }
    };
    let Some(codes) = encode(link) else {
        let block = Block::default().borders(Borders::ALL).title(caption);
        frame.render_widget(
            Paragraph::new("the link is too long for a QR code")
                .wrap(Wrap { trim: true })
                .block(block),
            area,
        );
        return;
    };
    // Color: black on white, one light module of margin is enough (the fill is white).
    // Without color: the standard 4-module quiet zone, drawn by the terminal's foreground.
    let (quiet, blocks_for_dark) = if t.color { (1, true) } else { (4, inverted) };
    let room = Rect {
        height: area.height.saturating_sub(1),
        ..area
    };
    let mut drawn = None;
    for code in &codes {
        let d = render(code, quiet, blocks_for_dark);
        let fits = d.width <= room.width && d.height <= room.height;
        let last = drawn.is_some();
        drawn = Some((d, fits));
        if fits || last {
            break;
        }
    }
    let Some((d, true)) = drawn else {
        let need = drawn
            .map(|(d, _)| (d.width, d.height + 1))
            .unwrap_or_default();
        let lines = vec![
            Line::from(Span::styled(
                format!(
                    "The QR code needs {}×{} cells; this terminal has {}×{}.",
                    need.0, need.1, area.width, area.height
                ),
                t.warn(),
            )),
            Line::from("Enlarge the window or zoom out (often Ctrl -), then press v again."),
            Line::from(""),
            Line::from(Span::styled("The link (c copies it):", t.dim())),
            Line::from(link.clone()),
        ];
        let block = Block::default().borders(Borders::ALL).title(caption);
        frame.render_widget(
            Paragraph::new(lines)
                .wrap(Wrap { trim: false })
                .block(block),
            area,
        );
        return;
    };
    let style = if t.color {
        Style::new().fg(Color::Black).bg(Color::White)
    } else {
        Style::new()
    };
    if t.color {
        // The white fill is the quiet zone.
        frame.render_widget(Block::default().style(style), room);
    }
    let x = room.x + (room.width - d.width) / 2;
    let y = room.y + (room.height - d.height) / 2;
    let code_area = Rect {
        x,
        y,
        width: d.width,
        height: d.height,
    };
    let lines: Vec<Line> = d
        .lines
        .into_iter()
        .map(|l| Line::styled(l, style))
        .collect();
    frame.render_widget(Paragraph::new(lines), code_area);
    let caption_area = Rect {
        y: area.y + area.height.saturating_sub(1),
        height: 1.min(area.height),
        ..area
    };
    frame.render_widget(Paragraph::new(caption), caption_area);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn two_modules_per_cell_with_the_quiet_zone() {
        let code =
            QrCode::with_error_correction_level(b"vless://x@127.0.0.1:1?type=tcp#a", EcLevel::L)
                .unwrap();
        let d = render(&code, 4, false);
        let size = code.width() + 8;
        assert_eq!(usize::from(d.width), size);
        assert_eq!(usize::from(d.height), size.div_ceil(2));
        // Light quiet zone drawn as blocks on the top row.
        assert!(d.lines[0].chars().all(|c| c == '█'), "{:?}", d.lines[0]);
        let d = render(&code, 1, true);
        assert!(
            d.lines[0].starts_with(" ▄▄▄▄▄▄▄") || d.lines[0].starts_with(" ▄"),
            "{:?}",
            d.lines[0]
        );
    }

    /// Turns drawn rows back into pixels (one per module) and decodes them.
    fn decode(d: &Drawn, blocks_for_dark: bool) -> String {
        let width = usize::from(d.width);
        let height = usize::from(d.height) * 2;
        let block = |x: usize, y: usize| -> bool {
            let c = d.lines[y / 2].chars().nth(x).unwrap_or(' ');
            matches!((c, y % 2), ('█', _) | ('▀', 0) | ('▄', 1))
        };
        let mut img = rqrr::PreparedImage::prepare_from_greyscale(width + 8, height + 8, |x, y| {
            let inside = x >= 4 && y >= 4 && x < width + 4 && y < height + 4;
            let dark = inside && (block(x - 4, y - 4) == blocks_for_dark);
            if dark { 0 } else { 255 }
        });
        let grids = img.detect_grids();
        assert_eq!(grids.len(), 1, "one code found");
        grids[0].decode().unwrap().1
    }

    #[test]
    fn drawn_codes_scan_back_to_the_link() {
        let link = format!(
            "vless://6f1c1f4e-8a5e-4d43-9a57-1b0a4b3c2d01@vpn.example.com:443?encryption=none\
             &security=reality&sni=www.example.com&fp=chrome&pbk={}&sid=0123456789abcdef\
             &type=tcp#%D0%9C%D0%B0%D1%88%D0%B0",
            "A".repeat(43)
        );
        for code in encode(&link).unwrap() {
            assert_eq!(decode(&render(&code, 1, true), true), link);
            assert_eq!(decode(&render(&code, 4, false), false), link);
        }
    }
}
