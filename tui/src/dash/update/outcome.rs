//! What one message did, and the small state changes every part of `update` makes: the
//! status-line toast, the event log, rate samples. A leaf: the rest of `update` uses it,
//! it uses none of them.

use crate::dash::app::{App, LOG_LINES, LogEntry, LogKind, RATE_SAMPLES, RateSample, Toast, Tone};
use crate::dash::event::{Cmd, Effect};

/// How long a status-line message stays.
const TOAST_SECS: i64 = 5;
/// At most this many keys are asked for today's history (the most recently active).
pub(crate) const TODAY_MAX_KEYS: usize = 2_000;

/// What one message did: whether the screen must be drawn again, and what to do.
#[derive(Debug, Default, PartialEq)]
pub struct Outcome {
    pub redraw: bool,
    pub effects: Vec<Effect>,
}

impl Outcome {
    pub(crate) fn call(&mut self, cmd: Cmd) {
        self.effects.push(Effect::Call(cmd));
    }
}

pub(crate) fn push_rate(app: &mut App, at: i64, uplink: u64, downlink: u64) {
    app.rates.push_back(RateSample {
        at,
        uplink,
        downlink,
    });
    while app.rates.len() > RATE_SAMPLES {
        app.rates.pop_front();
    }
}

pub(crate) fn toast(app: &mut App, tone: Tone, text: String) {
    app.toast = Some(Toast {
        text,
        tone,
        until: app.now + TOAST_SECS,
    });
}

pub(crate) fn log(app: &mut App, kind: LogKind, text: String) {
    let at = app.now;
    push_log(app, LogEntry { at, kind, text });
}

pub(crate) fn push_log(app: &mut App, entry: LogEntry) {
    app.log.push_front(entry);
    while app.log.len() > LOG_LINES {
        app.log.pop_back();
    }
    if app.log_offset > 0 {
        // Keep the lines being read in place.
        app.log_offset = (app.log_offset + 1).min(app.log.len().saturating_sub(1));
    }
}
