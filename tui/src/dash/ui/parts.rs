//! Small pieces every screen uses: how many rows fit, centering, the "missing" mark and
//! bars. A leaf: the screens use it, it uses none of them.

use ratatui::layout::Rect;
use ratatui::text::Span;

use crate::dash::app::App;

/// How many key rows the table shows at this terminal size.
pub fn table_rows(width: u16, height: u16) -> usize {
    let _ = width;
    // Header, footer, the table's info line and its column titles.
    usize::from(height.saturating_sub(4))
}

/// How many log lines the events screen shows.
pub fn events_rows(width: u16, height: u16) -> usize {
    let _ = width;
    usize::from(height.saturating_sub(3))
}

/// A rectangle of at most `width`×`height`, centered in `area`.
pub fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width);
    let h = height.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

/// "—" in the dim style: a value this daemon does not report (yet).
pub fn missing(app: &App) -> Span<'static> {
    Span::styled("—", app.theme.dim())
}

/// A text bar of `width` cells filled to `ratio`.
pub fn bar(ratio: f64, width: usize) -> (String, String) {
    let ratio = if ratio.is_finite() {
        ratio.clamp(0.0, 1.0)
    } else {
        0.0
    };
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let filled = ((ratio * width as f64).round() as usize).min(width);
    ("▰".repeat(filled), "▱".repeat(width - filled))
}
