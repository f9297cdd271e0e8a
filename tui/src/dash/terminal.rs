//! The terminal: raw mode and the alternate screen on the way in; everything undone on the
//! way out — on return, on error and on panic (the hook restores before the message is
//! printed, so it lands on a sane screen).

use std::io::{self, Stdout, Write};
use std::sync::Once;

use base64::Engine as _;
use crossterm::event::{DisableBracketedPaste, EnableBracketedPaste};
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use crossterm::{cursor, execute};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

pub type Term = Terminal<CrosstermBackend<Stdout>>;

/// Owns the terminal while the dashboard runs; restores it when dropped.
pub struct Guard {
    pub terminal: Term,
}

impl Guard {
    pub fn enter() -> io::Result<Guard> {
        install_panic_hook();
        enable_raw_mode()?;
        let mut out = io::stdout();
        if let Err(e) = execute!(
            out,
            EnterAlternateScreen,
            EnableBracketedPaste,
            cursor::Hide
        ) {
            restore();
            return Err(e);
        }
        match Terminal::new(CrosstermBackend::new(io::stdout())) {
            Ok(terminal) => Ok(Guard { terminal }),
            Err(e) => {
                restore();
                Err(e)
            }
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        restore();
    }
}

/// Leaves raw mode and the alternate screen, shows the cursor. Safe to call twice.
pub fn restore() {
    let _ = disable_raw_mode();
    let _ = execute!(
        io::stdout(),
        DisableBracketedPaste,
        LeaveAlternateScreen,
        cursor::Show
    );
}

fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
    });
}

/// Whether OSC 52 is worth sending: the Linux console and dumb terminals ignore it.
pub fn clipboard_supported() -> bool {
    !matches!(
        std::env::var("TERM").as_deref(),
        Ok("linux" | "dumb") | Err(_)
    )
}

/// The OSC 52 sequence that puts `text` on the clipboard (`c`). Inside tmux it is wrapped
/// in a DCS passthrough so it reaches the outer terminal too.
pub fn osc52(text: &str, in_tmux: bool) -> String {
    let payload = base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
    let seq = format!("\x1b]52;c;{payload}\x07");
    if in_tmux {
        format!("\x1bPtmux;{}\x1b\\", seq.replace('\x1b', "\x1b\x1b"))
    } else {
        seq
    }
}

/// Writes the OSC 52 sequence for `text` to the terminal.
pub fn copy_to_clipboard(out: &mut impl Write, text: &str) -> io::Result<()> {
    // Plain for the terminal (and tmux with set-clipboard on); wrapped as well inside tmux,
    // for tmux with allow-passthrough on.
    out.write_all(osc52(text, false).as_bytes())?;
    if std::env::var_os("TMUX").is_some() {
        out.write_all(osc52(text, true).as_bytes())?;
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn osc52_is_base64_in_the_clipboard_slot() {
        assert_eq!(osc52("hi", false), "\x1b]52;c;aGk=\x07");
        assert_eq!(osc52("hi", true), "\x1bPtmux;\x1b\x1b]52;c;aGk=\x07\x1b\\");
    }
}
