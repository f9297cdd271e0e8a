//! Styles. Only the terminal's own palette is used (the 8 named ANSI colors, default
//! foreground and background, bold/dim/reverse), so the dashboard reads on dark and light
//! backgrounds alike. With `NO_COLOR` set, meaning is carried by words and modifiers only.

use ratatui::style::{Color, Modifier, Style};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Theme {
    pub color: bool,
}

impl Theme {
    pub const COLOR: Theme = Theme { color: true };
    pub const MONO: Theme = Theme { color: false };

    /// Color unless `NO_COLOR` is set to anything non-empty (no-color.org).
    pub fn from_env() -> Theme {
        match std::env::var_os("NO_COLOR") {
            Some(v) if !v.is_empty() => Theme::MONO,
            _ => Theme::COLOR,
        }
    }

    fn fg(self, color: Color, mono: Modifier) -> Style {
        if self.color {
            Style::new().fg(color)
        } else {
            Style::new().add_modifier(mono)
        }
    }

    /// Healthy: core up, connected, active keys.
    pub fn good(self) -> Style {
        self.fg(Color::Green, Modifier::empty())
    }

    /// Broken: core down, connection lost, errors.
    pub fn bad(self) -> Style {
        self.fg(Color::Red, Modifier::BOLD)
            .add_modifier(Modifier::BOLD)
    }

    /// Needs attention: pending changes, drift, keys near their limit.
    pub fn warn(self) -> Style {
        self.fg(Color::Yellow, Modifier::BOLD)
    }

    /// Headings, the current tab, numbers worth seeing.
    pub fn accent(self) -> Style {
        self.fg(Color::Cyan, Modifier::BOLD)
            .add_modifier(Modifier::BOLD)
    }

    /// Labels and secondary text.
    pub fn dim(self) -> Style {
        Style::new().add_modifier(Modifier::DIM)
    }

    /// Download (server → client) figures.
    pub fn down(self) -> Style {
        self.fg(Color::Cyan, Modifier::empty())
    }

    /// Upload (client → server) figures.
    pub fn up(self) -> Style {
        self.fg(Color::Magenta, Modifier::empty())
    }

    /// The selected row: reverse video reads on any background.
    pub fn selected(self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD)
    }

    pub fn bold(self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }

    /// A gauge's filled part by how full it is.
    pub fn gauge(self, ratio: f64) -> Style {
        if ratio >= 0.9 {
            self.bad()
        } else if ratio >= 0.7 {
            self.warn()
        } else {
            self.good()
        }
    }
}
