//! The dashboard: `veil` with no subcommand, on a terminal.
//!
//! One loop, one message type ([`event::Msg`]) fed by three producers — the terminal's
//! event stream, the socket worker ([`net`]) and a one-second clock — then
//! [`update::update`] (no IO), then a redraw only when something visible changed
//! ([`ui::draw`], which only reads [`app::App`]). An idle dashboard therefore draws about
//! once a minute (the header clock).
//!
//! - [`app`]: the state. [`event`]: messages, calls and effects. [`keymap`]: keys as data.
//! - [`form`]: the key forms. [`theme`]: styles. Values are rendered by [`crate::format`]
//!   and [`crate::text`], and typed input read by [`crate::parse`], as in the CLI.
//! - [`terminal`]: raw mode, the alternate screen, restore on exit and on panic, OSC 52.

pub mod app;
pub mod event;
pub mod form;
pub mod keymap;
pub mod net;
pub mod terminal;
pub mod theme;
pub mod ui;
pub mod update;

#[cfg(test)]
pub(crate) mod tests;
#[cfg(test)]
mod tests_nodes;

use std::fmt as stdfmt;
use std::io::{self, IsTerminal};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

use self::app::App;
use self::event::{Effect, Msg};
use self::theme::Theme;

/// Why the dashboard could not run.
#[derive(Debug)]
pub enum RunError {
    /// stdin or stdout is not a terminal (a pipe, a file, cron).
    NotATerminal,
    /// The terminal or the runtime failed.
    Io(String),
}

impl stdfmt::Display for RunError {
    fn fmt(&self, f: &mut stdfmt::Formatter<'_>) -> stdfmt::Result {
        match self {
            RunError::NotATerminal => f.write_str(
                "the dashboard needs a terminal (stdin and stdout); for scripts use the \
                 subcommands, e.g. `veil key list --json` or `veil health` (see veil --help)",
            ),
            RunError::Io(e) => write!(f, "the dashboard failed: {e}"),
        }
    }
}

fn io_err(e: io::Error) -> RunError {
    RunError::Io(e.to_string())
}

/// Unix seconds now.
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Runs the dashboard against the daemon at `socket` until the operator quits.
pub fn run(socket: &Path) -> Result<(), RunError> {
    if !io::stdout().is_terminal() || !io::stdin().is_terminal() {
        return Err(RunError::NotATerminal);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(io_err)?;
    runtime.block_on(run_loop(socket.to_owned()))
}

/// The most messages handled before a frame is drawn, so a burst of events is one frame
/// but input never waits long.
const BATCH: usize = 256;

async fn run_loop(socket: PathBuf) -> Result<(), RunError> {
    let mut guard = terminal::Guard::enter().map_err(io_err)?;
    let size = guard.terminal.size().map_err(io_err)?;
    let mut app = App::new(
        socket.clone(),
        Theme::from_env(),
        unix_now(),
        size.width,
        size.height,
    );
    let (tx, mut rx) = mpsc::channel::<Msg>(1024);
    let (calls, worker) = net::spawn(socket, tx);
    let mut input = crossterm::event::EventStream::new();
    let mut clock = tokio::time::interval(Duration::from_secs(1));
    clock.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut term = signal(SignalKind::terminate()).map_err(io_err)?;
    let mut hangup = signal(SignalKind::hangup()).map_err(io_err)?;
    let mut interrupt = signal(SignalKind::interrupt()).map_err(io_err)?;
    let clipboard = terminal::clipboard_supported();

    guard.terminal.draw(|f| ui::draw(f, &app)).map_err(io_err)?;
    'outer: loop {
        let first = tokio::select! {
            ev = input.next() => match ev {
                Some(Ok(ev)) => Msg::Input(ev),
                // The terminal went away (SSH dropped): nothing left to draw on.
                Some(Err(_)) | None => Msg::Quit,
            },
            msg = rx.recv() => msg.unwrap_or(Msg::Quit),
            _ = clock.tick() => Msg::Tick { now: unix_now() },
            _ = term.recv() => Msg::Quit,
            _ = hangup.recv() => Msg::Quit,
            _ = interrupt.recv() => Msg::Quit,
        };
        let mut redraw = false;
        let mut next = Some(first);
        let mut handled = 0;
        while let Some(msg) = next {
            let out = update::update(&mut app, msg);
            redraw |= out.redraw;
            for effect in out.effects {
                match effect {
                    Effect::Call(cmd) => {
                        // The worker only stops when the dashboard does.
                        let _ = calls.send(cmd);
                    }
                    Effect::Clipboard(text) => {
                        if clipboard {
                            let _ = terminal::copy_to_clipboard(&mut io::stdout(), &text);
                        }
                    }
                    Effect::Quit => break 'outer,
                }
            }
            handled += 1;
            next = if handled < BATCH {
                rx.try_recv().ok()
            } else {
                None
            };
        }
        if redraw {
            guard.terminal.draw(|f| ui::draw(f, &app)).map_err(io_err)?;
        }
    }
    drop(calls);
    worker.abort();
    drop(guard);
    Ok(())
}
