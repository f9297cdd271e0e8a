//! The key forms: add (name, limit, expiry, note), rename, and edit (limit, expiry, note).
//! Text fields with a cursor; the values are checked here with the shared rules before
//! anything is sent, so a typo is pointed out in the form.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use veil_shared::api::{KeyCreate, KeyUpdate};
use veil_shared::model::{Key, KeyRef};
use veil_shared::validate;

use super::event::{Action, Cmd};
use crate::{format, parse};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FormKind {
    Add,
    Rename { id: i64 },
    Edit { id: i64 },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    pub label: &'static str,
    pub value: String,
    /// Cursor position in characters.
    pub cursor: usize,
    pub hint: &'static str,
    /// The value the form opened with (edit forms send only what changed).
    pub initial: String,
}

impl Field {
    fn new(label: &'static str, value: String, hint: &'static str) -> Field {
        Field {
            label,
            cursor: value.chars().count(),
            initial: value.clone(),
            value,
            hint,
        }
    }

    fn changed(&self) -> bool {
        self.value.trim() != self.initial.trim()
    }

    fn byte_at(&self, chars: usize) -> usize {
        self.value
            .char_indices()
            .nth(chars)
            .map_or(self.value.len(), |(i, _)| i)
    }

    pub fn insert(&mut self, text: &str) {
        for c in text.chars().filter(|c| !c.is_control()) {
            let at = self.byte_at(self.cursor);
            self.value.insert(at, c);
            self.cursor += 1;
        }
    }

    fn backspace(&mut self) {
        if self.cursor > 0 {
            self.cursor -= 1;
            let at = self.byte_at(self.cursor);
            self.value.remove(at);
        }
    }

    fn delete(&mut self) {
        if self.cursor < self.value.chars().count() {
            let at = self.byte_at(self.cursor);
            self.value.remove(at);
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Form {
    pub kind: FormKind,
    pub fields: Vec<Field>,
    pub focus: usize,
    pub error: Option<String>,
    /// Sent; waiting for the daemon's answer.
    pub busy: bool,
}

/// What a key press did to the form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FormInput {
    Handled,
    Cancel,
    Submit,
}

const NAME_HINT: &str = "what the phone shows; 1–64 characters";
const LIMIT_HINT: &str = "e.g. 50G, 500M; empty: unlimited";
const EXPIRY_HINT: &str = "e.g. 30d, 2w, 2026-12-31; empty: never";
const NOTE_HINT: &str = "free text, optional";

impl Form {
    pub fn add() -> Form {
        Form {
            kind: FormKind::Add,
            fields: vec![
                Field::new("Name", String::new(), NAME_HINT),
                Field::new("Limit", String::new(), LIMIT_HINT),
                Field::new("Expiry", String::new(), EXPIRY_HINT),
                Field::new("Note", String::new(), NOTE_HINT),
            ],
            focus: 0,
            error: None,
            busy: false,
        }
    }

    pub fn rename(key: &Key) -> Form {
        Form {
            kind: FormKind::Rename { id: key.id },
            fields: vec![Field::new("Name", key.name.clone(), NAME_HINT)],
            focus: 0,
            error: None,
            busy: false,
        }
    }

    pub fn edit(key: &Key) -> Form {
        // Shown exactly, so saving an untouched field would store the same value.
        let limit = key.data_limit.map(format::bytes_exact).unwrap_or_default();
        let expiry = key.expires_at.map(format::expiry_input).unwrap_or_default();
        Form {
            kind: FormKind::Edit { id: key.id },
            fields: vec![
                Field::new("Limit", limit, LIMIT_HINT),
                Field::new("Expiry", expiry, EXPIRY_HINT),
                Field::new("Note", key.note.clone(), NOTE_HINT),
            ],
            focus: 0,
            error: None,
            busy: false,
        }
    }

    pub fn title(&self) -> &'static str {
        match self.kind {
            FormKind::Add => "Add a key",
            FormKind::Rename { .. } => "Rename",
            FormKind::Edit { .. } => "Limit, expiry, note",
        }
    }

    pub fn focused(&mut self) -> Option<&mut Field> {
        self.fields.get_mut(self.focus)
    }

    /// Edits the focused field or moves between fields.
    pub fn input(&mut self, key: KeyEvent) -> FormInput {
        if self.busy {
            return match key.code {
                KeyCode::Esc => FormInput::Cancel,
                _ => FormInput::Handled,
            };
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let last = self.fields.len().saturating_sub(1);
        match key.code {
            KeyCode::Esc => return FormInput::Cancel,
            KeyCode::Enter if self.focus >= last => return FormInput::Submit,
            KeyCode::Enter | KeyCode::Tab | KeyCode::Down => {
                self.focus = (self.focus + 1).min(last);
            }
            KeyCode::BackTab | KeyCode::Up => self.focus = self.focus.saturating_sub(1),
            KeyCode::Char('s') if ctrl => return FormInput::Submit,
            KeyCode::Char('u') if ctrl => {
                if let Some(f) = self.focused() {
                    f.value.clear();
                    f.cursor = 0;
                }
            }
            KeyCode::Char(c) if !ctrl => {
                if let Some(f) = self.focused() {
                    f.insert(&c.to_string());
                }
            }
            KeyCode::Backspace => {
                if let Some(f) = self.focused() {
                    f.backspace();
                }
            }
            KeyCode::Delete => {
                if let Some(f) = self.focused() {
                    f.delete();
                }
            }
            KeyCode::Left => {
                if let Some(f) = self.focused() {
                    f.cursor = f.cursor.saturating_sub(1);
                }
            }
            KeyCode::Right => {
                if let Some(f) = self.focused() {
                    f.cursor = (f.cursor + 1).min(f.value.chars().count());
                }
            }
            KeyCode::Home => {
                if let Some(f) = self.focused() {
                    f.cursor = 0;
                }
            }
            KeyCode::End => {
                if let Some(f) = self.focused() {
                    f.cursor = f.value.chars().count();
                }
            }
            _ => {}
        }
        self.error = None;
        FormInput::Handled
    }

    fn value(&self, label: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.label == label)
    }

    /// The call the form asks for, or what is wrong with it (and which field to focus).
    pub fn build(&self, now: i64) -> Result<Cmd, (usize, String)> {
        let at = |label: &str| {
            self.fields
                .iter()
                .position(|f| f.label == label)
                .unwrap_or(0)
        };
        let text = |label: &str| {
            self.value(label)
                .map(|f| f.value.clone())
                .unwrap_or_default()
        };
        let name = || validate::name(&text("Name")).map_err(|e| (at("Name"), e.to_string()));
        let note = || validate::note(&text("Note")).map_err(|e| (at("Note"), e.to_string()));
        let limit = || parse_limit(&text("Limit")).map_err(|e| (at("Limit"), e));
        let expiry = || parse_expiry(&text("Expiry"), now).map_err(|e| (at("Expiry"), e));
        match self.kind {
            FormKind::Add => {
                let name = name()?;
                let note = note()?;
                Ok(Cmd::Create(KeyCreate {
                    name,
                    note: (!note.is_empty()).then_some(note),
                    data_limit: limit()?,
                    expires_at: expiry()?,
                    reset: None,
                    nodes: None,
                }))
            }
            FormKind::Rename { id } => Ok(Cmd::Update {
                update: KeyUpdate {
                    key: KeyRef::Id(id),
                    name: Some(name()?),
                    note: None,
                    data_limit: None,
                    expires_at: None,
                    reset: None,
                    nodes: None,
                },
                what: Action::Renamed,
            }),
            FormKind::Edit { id } => {
                let changed = |label: &str| self.value(label).is_some_and(Field::changed);
                let update = KeyUpdate {
                    key: KeyRef::Id(id),
                    name: None,
                    note: if changed("Note") { Some(note()?) } else { None },
                    data_limit: if changed("Limit") {
                        Some(limit()?)
                    } else {
                        None
                    },
                    expires_at: if changed("Expiry") {
                        Some(expiry()?)
                    } else {
                        None
                    },
                    reset: None,
                    nodes: None,
                };
                Ok(Cmd::Update {
                    update,
                    what: Action::Edited,
                })
            }
        }
    }
}

/// A data limit as typed in the form: empty is unlimited, anything else is read by the
/// shared parser (so `10GB` here is what `veil key add --limit 10GB` stores).
fn parse_limit(raw: &str) -> Result<Option<u64>, String> {
    if raw.trim().is_empty() {
        return Ok(None);
    }
    parse::limit(raw).map_err(|e| format!("{e} (empty: unlimited)"))
}

/// An expiry as typed in the form: empty is never, anything else is read by the shared
/// parser; unlike the CLI, the form refuses a time already past, which is surely a typo.
fn parse_expiry(raw: &str, now: i64) -> Result<Option<i64>, String> {
    let text = raw.trim();
    if text.is_empty() {
        return Ok(None);
    }
    match parse::expiry(text, now) {
        Ok(Some(at)) if at <= now => Err(format!("{text} is in the past")),
        Ok(at) => Ok(at),
        Err(e) => Err(format!("{e} (empty: never)")),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn press(form: &mut Form, code: KeyCode) -> FormInput {
        form.input(KeyEvent::new(code, KeyModifiers::NONE))
    }

    fn type_text(form: &mut Form, text: &str) {
        for c in text.chars() {
            press(form, KeyCode::Char(c));
        }
    }

    #[test]
    fn add_builds_a_create_with_limit_and_expiry() {
        let mut form = Form::add();
        type_text(&mut form, "Маша 🦊");
        press(&mut form, KeyCode::Tab);
        type_text(&mut form, "10G");
        press(&mut form, KeyCode::Tab);
        type_text(&mut form, "30d");
        press(&mut form, KeyCode::Tab);
        type_text(&mut form, "phone");
        assert_eq!(press(&mut form, KeyCode::Enter), FormInput::Submit);
        let Cmd::Create(create) = form.build(1_000).unwrap() else {
            panic!("not a create");
        };
        assert_eq!(create.name, "Маша 🦊");
        assert_eq!(create.data_limit, Some(10 << 30));
        assert_eq!(create.expires_at, Some(1_000 + 30 * 86_400));
        assert_eq!(create.note.as_deref(), Some("phone"));
    }

    #[test]
    fn bad_values_point_at_their_field() {
        let mut form = Form::add();
        assert_eq!(form.build(0).unwrap_err().0, 0);
        type_text(&mut form, "ok");
        press(&mut form, KeyCode::Tab);
        type_text(&mut form, "lots");
        let (field, message) = form.build(0).unwrap_err();
        assert_eq!(field, 1);
        assert!(message.contains("not a size"), "{message}");
    }

    #[test]
    fn the_form_reads_sizes_and_dates_like_the_cli() {
        let now = 1_795_708_980; // 2026-11-26 16:03 UTC
        assert_eq!(parse_limit(""), Ok(None));
        assert_eq!(parse_limit("-"), Ok(None));
        assert_eq!(parse_limit("10GB"), Ok(Some(10_000_000_000)));
        assert_eq!(parse_limit("10G"), Ok(Some(10 << 30)));
        assert_eq!(parse_limit("500 MiB"), Ok(Some(500 << 20)));
        assert!(parse_limit("x").unwrap_err().contains("not a size"));
        assert_eq!(parse_expiry("", now), Ok(None));
        assert_eq!(parse_expiry("2026-12-31", now), Ok(Some(1_798_761_599)));
        assert_eq!(parse_expiry("30d", now), Ok(Some(now + 30 * 86_400)));
        assert!(parse_expiry("2020-01-01", now).is_err());
        assert!(parse_expiry("soon", now).is_err());
        assert!(parse_expiry("0d", now).is_err());
    }

    #[test]
    fn edit_shows_values_that_save_back_unchanged() {
        let mut key = crate::dash::tests::key(3, "bob");
        key.data_limit = Some(10_000_000_000);
        key.expires_at = Some(1_801_439_999);
        let form = Form::edit(&key);
        assert_eq!(form.fields[0].value, "10GB");
        assert_eq!(form.fields[1].value, "2027-01-31");
        assert_eq!(parse_limit(&form.fields[0].value), Ok(key.data_limit));
        assert_eq!(parse_expiry(&form.fields[1].value, 0), Ok(key.expires_at));
    }

    #[test]
    fn editing_moves_the_cursor_by_characters() {
        let mut form = Form::add();
        type_text(&mut form, "東京x");
        press(&mut form, KeyCode::Left);
        press(&mut form, KeyCode::Backspace);
        type_text(&mut form, "都");
        assert_eq!(form.fields[0].value, "東都x");
        press(&mut form, KeyCode::Home);
        press(&mut form, KeyCode::Delete);
        assert_eq!(form.fields[0].value, "都x");
    }

    #[test]
    fn edit_sends_only_what_changed() {
        let mut key = crate::dash::tests::key(3, "bob");
        key.data_limit = Some(5 << 30);
        let mut form = Form::edit(&key);
        assert_eq!(form.fields[0].value, "5GiB");
        press(&mut form, KeyCode::Down);
        press(&mut form, KeyCode::Down);
        type_text(&mut form, "laptop");
        let Cmd::Update { update, .. } = form.build(0).unwrap() else {
            panic!("not an update");
        };
        assert_eq!(update.note.as_deref(), Some("laptop"));
        assert_eq!(update.data_limit, None);
        assert_eq!(update.expires_at, None);
        // Clearing the limit sends null (unlimited).
        let mut form = Form::edit(&key);
        form.input(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL));
        let Cmd::Update { update, .. } = form.build(0).unwrap() else {
            panic!("not an update");
        };
        assert_eq!(update.data_limit, Some(None));
    }
}
