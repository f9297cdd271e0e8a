//! Keys as data: every binding names where it applies, the action it triggers and the
//! words `?` shows for it. Dispatch and the help screen read the same table.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// What a key asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Intent {
    Quit,
    Help,
    NextView,
    PrevView,
    Overview,
    Keys,
    Events,
    Nodes,
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    Open,
    Back,
    Filter,
    Sort,
    Reverse,
    Add,
    Rename,
    Edit,
    Toggle,
    Delete,
    ResetTraffic,
    CopyLink,
    Qr,
    SubQr,
    FinerHistory,
    CoarserHistory,
    Refresh,
}

/// Where a binding applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Every screen.
    Global,
    /// The key table and the key detail.
    Keys,
    /// The key detail only.
    Detail,
    /// Lists (keys, events).
    List,
}

/// One key (with modifiers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Chord {
    pub code: KeyCode,
    pub mods: KeyModifiers,
}

const fn key(c: char) -> Chord {
    Chord {
        code: KeyCode::Char(c),
        mods: KeyModifiers::NONE,
    }
}

const fn code(code: KeyCode) -> Chord {
    Chord {
        code,
        mods: KeyModifiers::NONE,
    }
}

const fn ctrl(c: char) -> Chord {
    Chord {
        code: KeyCode::Char(c),
        mods: KeyModifiers::CONTROL,
    }
}

pub struct Binding {
    pub chords: &'static [Chord],
    /// How the keys are written in the help.
    pub keys: &'static str,
    pub scope: Scope,
    pub intent: Intent,
    pub help: &'static str,
}

pub const BINDINGS: &[Binding] = &[
    Binding {
        chords: &[key('q'), ctrl('c')],
        keys: "q  Ctrl-C",
        scope: Scope::Global,
        intent: Intent::Quit,
        help: "quit",
    },
    Binding {
        chords: &[key('?'), code(KeyCode::F(1))],
        keys: "?  F1",
        scope: Scope::Global,
        intent: Intent::Help,
        help: "this help",
    },
    Binding {
        chords: &[code(KeyCode::Tab)],
        keys: "Tab",
        scope: Scope::Global,
        intent: Intent::NextView,
        help: "next screen",
    },
    Binding {
        chords: &[code(KeyCode::BackTab)],
        keys: "Shift-Tab",
        scope: Scope::Global,
        intent: Intent::PrevView,
        help: "previous screen",
    },
    Binding {
        chords: &[key('1')],
        keys: "1",
        scope: Scope::Global,
        intent: Intent::Overview,
        help: "overview",
    },
    Binding {
        chords: &[key('2')],
        keys: "2",
        scope: Scope::Global,
        intent: Intent::Keys,
        help: "keys",
    },
    Binding {
        chords: &[key('3')],
        keys: "3",
        scope: Scope::Global,
        intent: Intent::Events,
        help: "events",
    },
    Binding {
        chords: &[key('4')],
        keys: "4",
        scope: Scope::Global,
        intent: Intent::Nodes,
        help: "nodes (a fleet node)",
    },
    Binding {
        chords: &[ctrl('l'), code(KeyCode::F(5))],
        keys: "Ctrl-L  F5",
        scope: Scope::Global,
        intent: Intent::Refresh,
        help: "reload from veild",
    },
    Binding {
        chords: &[code(KeyCode::Up), key('k')],
        keys: "↑  k",
        scope: Scope::List,
        intent: Intent::Up,
        help: "up",
    },
    Binding {
        chords: &[code(KeyCode::Down), key('j')],
        keys: "↓  j",
        scope: Scope::List,
        intent: Intent::Down,
        help: "down",
    },
    Binding {
        chords: &[code(KeyCode::PageUp), ctrl('b'), ctrl('u')],
        keys: "PgUp  Ctrl-B",
        scope: Scope::List,
        intent: Intent::PageUp,
        help: "page up",
    },
    Binding {
        chords: &[code(KeyCode::PageDown), ctrl('f'), ctrl('d')],
        keys: "PgDn  Ctrl-F",
        scope: Scope::List,
        intent: Intent::PageDown,
        help: "page down",
    },
    Binding {
        chords: &[code(KeyCode::Home), key('g')],
        keys: "Home  g",
        scope: Scope::List,
        intent: Intent::Top,
        help: "first",
    },
    Binding {
        chords: &[code(KeyCode::End), key('G')],
        keys: "End  G",
        scope: Scope::List,
        intent: Intent::Bottom,
        help: "last",
    },
    Binding {
        chords: &[code(KeyCode::Enter), key('l'), code(KeyCode::Right)],
        keys: "Enter  l",
        scope: Scope::Keys,
        intent: Intent::Open,
        help: "open: link, QR, history",
    },
    Binding {
        chords: &[code(KeyCode::Esc), code(KeyCode::Backspace), key('h')],
        keys: "Esc  h",
        scope: Scope::Detail,
        intent: Intent::Back,
        help: "back to the list",
    },
    Binding {
        chords: &[key('/')],
        keys: "/",
        scope: Scope::Keys,
        intent: Intent::Filter,
        help: "filter (Esc clears)",
    },
    Binding {
        chords: &[key('s')],
        keys: "s",
        scope: Scope::Keys,
        intent: Intent::Sort,
        help: "sort by next column",
    },
    Binding {
        chords: &[key('S')],
        keys: "S",
        scope: Scope::Keys,
        intent: Intent::Reverse,
        help: "reverse the order",
    },
    Binding {
        chords: &[key('a')],
        keys: "a",
        scope: Scope::Keys,
        intent: Intent::Add,
        help: "add a key",
    },
    Binding {
        chords: &[key('r')],
        keys: "r",
        scope: Scope::Keys,
        intent: Intent::Rename,
        help: "rename",
    },
    Binding {
        chords: &[key('e')],
        keys: "e",
        scope: Scope::Keys,
        intent: Intent::Edit,
        help: "limit, expiry, note",
    },
    Binding {
        chords: &[key('d'), key(' ')],
        keys: "d  Space",
        scope: Scope::Keys,
        intent: Intent::Toggle,
        help: "disable / enable",
    },
    Binding {
        chords: &[key('x'), code(KeyCode::Delete)],
        keys: "x  Del",
        scope: Scope::Keys,
        intent: Intent::Delete,
        help: "delete (asks first)",
    },
    Binding {
        chords: &[key('z')],
        keys: "z",
        scope: Scope::Keys,
        intent: Intent::ResetTraffic,
        help: "reset traffic (asks)",
    },
    Binding {
        chords: &[key('c'), key('y')],
        keys: "c  y",
        scope: Scope::Keys,
        intent: Intent::CopyLink,
        help: "copy link (OSC 52)",
    },
    Binding {
        chords: &[key('v')],
        keys: "v",
        scope: Scope::Keys,
        intent: Intent::Qr,
        help: "link as QR code",
    },
    Binding {
        chords: &[key('u')],
        keys: "u",
        scope: Scope::Keys,
        intent: Intent::SubQr,
        help: "subscription QR code",
    },
    Binding {
        chords: &[key('['), key('-')],
        keys: "[  -",
        scope: Scope::Detail,
        intent: Intent::FinerHistory,
        help: "history: finer",
    },
    Binding {
        chords: &[key(']'), key('+'), key('=')],
        keys: "]  +",
        scope: Scope::Detail,
        intent: Intent::CoarserHistory,
        help: "history: coarser",
    },
];

/// The context a key press lands in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Context {
    pub keys_view: bool,
    pub detail: bool,
    pub list: bool,
}

impl Scope {
    fn applies(self, ctx: Context) -> bool {
        match self {
            Scope::Global => true,
            Scope::Keys => ctx.keys_view,
            Scope::Detail => ctx.detail,
            Scope::List => ctx.list,
        }
    }
}

/// The intent of a key press in `ctx`, if any binding has it. Shift is ignored for
/// characters (the character itself says it: `G`, `?`).
pub fn intent(ctx: Context, event: KeyEvent) -> Option<Intent> {
    let mods = match event.code {
        KeyCode::Char(_) => event.modifiers - KeyModifiers::SHIFT,
        _ => event.modifiers,
    };
    BINDINGS
        .iter()
        .filter(|b| b.scope.applies(ctx))
        .find(|b| {
            b.chords
                .iter()
                .any(|c| c.code == event.code && c.mods == mods)
        })
        .map(|b| b.intent)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEYS: Context = Context {
        keys_view: true,
        detail: false,
        list: true,
    };

    fn press(code: KeyCode, mods: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, mods)
    }

    #[test]
    fn arrows_and_vim_keys_move() {
        for (code, want) in [
            (KeyCode::Down, Intent::Down),
            (KeyCode::Char('j'), Intent::Down),
            (KeyCode::Up, Intent::Up),
            (KeyCode::Char('k'), Intent::Up),
            (KeyCode::Char('G'), Intent::Bottom),
        ] {
            assert_eq!(intent(KEYS, press(code, KeyModifiers::NONE)), Some(want));
        }
        assert_eq!(
            intent(KEYS, press(KeyCode::Char('G'), KeyModifiers::SHIFT)),
            Some(Intent::Bottom)
        );
    }

    #[test]
    fn key_actions_only_on_the_keys_screen() {
        let overview = Context {
            keys_view: false,
            detail: false,
            list: false,
        };
        let a = press(KeyCode::Char('a'), KeyModifiers::NONE);
        assert_eq!(intent(KEYS, a), Some(Intent::Add));
        assert_eq!(intent(overview, a), None);
        let q = press(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(intent(overview, q), Some(Intent::Quit));
    }

    #[test]
    fn no_chord_is_bound_twice_in_one_context() {
        for (i, a) in BINDINGS.iter().enumerate() {
            for b in &BINDINGS[i + 1..] {
                let overlap = a.scope == b.scope
                    || a.scope == Scope::Global
                    || b.scope == Scope::Global
                    || matches!(
                        (a.scope, b.scope),
                        (Scope::Keys | Scope::List, Scope::Keys | Scope::List)
                    );
                if !overlap {
                    continue;
                }
                for c in a.chords {
                    assert!(
                        !b.chords.contains(c),
                        "{:?} is bound to {:?} and {:?}",
                        c,
                        a.intent,
                        b.intent
                    );
                }
            }
        }
    }
}
