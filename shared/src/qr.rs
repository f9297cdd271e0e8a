//! QR codes of share links as text: Unicode half blocks (two modules per character cell,
//! `qrcode`'s `Dense1x2` renderer) with the standard 4-module quiet zone, so a phone can
//! scan a link straight off an SSH session.
//!
//! Terminals mostly draw light text on a dark background, so by default the *light*
//! modules (and the quiet zone) are drawn as blocks: the code then shows dark-on-light as a
//! scanner expects. [`Colors::Inverted`] is for light-background terminals.

use qrcode::render::unicode::Dense1x2;
use qrcode::{EcLevel, QrCode};
use thiserror::Error;

/// The width the code should fit in.
pub const TERMINAL_COLUMNS: usize = 80;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Colors {
    /// For dark-background terminals: light modules are drawn as blocks.
    #[default]
    DarkTerminal,
    /// For light-background terminals: dark modules are drawn as blocks.
    Inverted,
}

#[derive(Debug, Error)]
#[error("cannot make a QR code of {bytes} bytes: {reason}")]
pub struct QrError {
    bytes: usize,
    reason: String,
}

/// A rendered code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Qr {
    /// The lines, joined with `\n`, without a trailing newline.
    pub text: String,
    /// Character cells per line (modules plus the quiet zone).
    pub columns: usize,
    /// Lines of text.
    pub rows: usize,
}

impl Qr {
    /// Whether it fits a terminal [`TERMINAL_COLUMNS`] wide.
    pub fn fits(&self) -> bool {
        self.columns <= TERMINAL_COLUMNS
    }
}

/// Renders `data` with the strongest error correction (M, else L) that still fits in
/// [`TERMINAL_COLUMNS`]; when even L does not fit, the L code is returned (check
/// [`Qr::fits`]).
pub fn render(data: &str, colors: Colors) -> Result<Qr, QrError> {
    let mut last = None;
    for level in [EcLevel::M, EcLevel::L] {
        let code =
            QrCode::with_error_correction_level(data.as_bytes(), level).map_err(|e| QrError {
                bytes: data.len(),
                reason: e.to_string(),
            })?;
        let qr = draw(&code, colors);
        if qr.fits() {
            return Ok(qr);
        }
        last = Some(qr);
    }
    last.ok_or_else(|| QrError {
        bytes: data.len(),
        reason: "no error-correction level was tried".into(),
    })
}

/// `data` as a standalone SVG image (dark modules on white, a 4-module quiet zone, error
/// correction M), for web pages: no script, no external reference, scales to its box.
pub fn svg(data: &str) -> Result<String, QrError> {
    let code =
        QrCode::with_error_correction_level(data.as_bytes(), EcLevel::M).map_err(|e| QrError {
            bytes: data.len(),
            reason: e.to_string(),
        })?;
    let width = code.width();
    let size = width + 8;
    let mut path = String::new();
    for (index, color) in code.to_colors().iter().enumerate() {
        if *color == qrcode::Color::Dark {
            let (x, y) = (index % width + 4, index / width + 4);
            path.push_str(&format!("M{x} {y}h1v1h-1z"));
        }
    }
    Ok(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {size} {size}\" \
         shape-rendering=\"crispEdges\"><rect width=\"{size}\" height=\"{size}\" \
         fill=\"#fff\"/><path fill=\"#000\" d=\"{path}\"/></svg>"
    ))
}

fn draw(code: &QrCode, colors: Colors) -> Qr {
    let (dark, light) = match colors {
        Colors::DarkTerminal => (Dense1x2::Light, Dense1x2::Dark),
        Colors::Inverted => (Dense1x2::Dark, Dense1x2::Light),
    };
    let text = code
        .render::<Dense1x2>()
        .dark_color(dark)
        .light_color(light)
        .quiet_zone(true)
        .build();
    let columns = text.lines().map(|l| l.chars().count()).max().unwrap_or(0);
    let rows = text.lines().count();
    Qr {
        text,
        columns,
        rows,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn a_typical_link_fits_and_has_a_quiet_zone() {
        let link = format!(
            "vless://6f1c1f4e-8a5e-4d43-9a57-1b0a4b3c2d1e@vpn.example.com:443?encryption=none\
             &flow=xtls-rprx-vision&security=reality&sni=www.example.com&fp=chrome&pbk={}\
             &sid=0123456789abcdef&spx=%2F&type=tcp&headerType=none#{}",
            "A".repeat(43),
            "x".repeat(64)
        );
        let qr = render(&link, Colors::DarkTerminal).unwrap();
        assert!(qr.fits(), "{} columns", qr.columns);
        let first = qr.text.lines().next().unwrap();
        // The top quiet zone is light, drawn as full blocks on a dark terminal.
        assert!(first.chars().all(|c| c == '█'), "{first:?}");
        let inverted = render(&link, Colors::Inverted).unwrap();
        assert!(
            inverted
                .text
                .lines()
                .next()
                .unwrap()
                .chars()
                .all(|c| c == ' ')
        );
    }
}
