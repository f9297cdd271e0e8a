//! The key table: filter, sort, cursor and scrolling. Only positions are kept; drawing
//! builds the rows on screen.

use std::cmp::Ordering;

use veil_shared::model::{Key, KeyState};

use crate::dash::app::{App, SortBy, View};
use crate::dash::ui;

// ---- The table --------------------------------------------------------------------------

pub(super) fn page(app: &App) -> isize {
    let rows = match app.view {
        View::Events => ui::events_rows(app.width, app.height),
        _ => ui::table_rows(app.width, app.height),
    };
    isize::try_from(rows.max(1)).unwrap_or(1)
}

pub(super) fn move_cursor(app: &mut App, by: isize) {
    if app.view == View::Events {
        let max = app.log.len().saturating_sub(1);
        app.log_offset = app.log_offset.saturating_add_signed(by).min(max);
        return;
    }
    if app.visible.is_empty() {
        app.cursor = 0;
        return;
    }
    let last = app.visible.len() - 1;
    app.cursor = app.cursor.saturating_add_signed(by).min(last);
    clamp_scroll(app);
}

/// Keeps the cursor inside the shown rows.
pub(super) fn clamp_scroll(app: &mut App) {
    let rows = ui::table_rows(app.width, app.height).max(1);
    let last = app.visible.len().saturating_sub(1);
    app.cursor = app.cursor.min(last);
    if app.cursor < app.offset {
        app.offset = app.cursor;
    } else if app.cursor >= app.offset + rows {
        app.offset = app.cursor + 1 - rows;
    }
    app.offset = app.offset.min(app.visible.len().saturating_sub(rows));
}

pub(super) fn select_id(app: &mut App, id: i64) {
    if let Some(pos) = app
        .visible
        .iter()
        .position(|&i| app.keys.get(i).is_some_and(|k| k.id == id))
    {
        app.cursor = pos;
        clamp_scroll(app);
    }
}

/// Filters and sorts the table again, keeping the cursor on the same key.
pub fn reorder(app: &mut App) {
    let selected = app.selected().map(|k| k.id);
    let needle = app.filter.trim().to_lowercase();
    let mut visible: Vec<usize> = app
        .keys
        .iter()
        .enumerate()
        .filter(|(_, k)| needle.is_empty() || matches_filter(k, &needle))
        .map(|(i, _)| i)
        .collect();
    let traffic = &app.traffic;
    let keys = &app.keys;
    let t = |i: usize| keys.get(i).and_then(|k| traffic.get(&k.id)).copied();
    let by = |a: &usize, b: &usize| -> Ordering {
        let (ka, kb) = (&keys[*a], &keys[*b]);
        let primary = match app.sort {
            SortBy::Id => Ordering::Equal,
            SortBy::Name => ka.name.to_lowercase().cmp(&kb.name.to_lowercase()),
            SortBy::State => state_rank(ka).cmp(&state_rank(kb)),
            SortBy::Rate => t(*a).map(|t| t.rate()).cmp(&t(*b).map(|t| t.rate())),
            SortBy::Used => t(*a).map(|t| t.used()).cmp(&t(*b).map(|t| t.used())),
            SortBy::Expiry => ka
                .expires_at
                .unwrap_or(i64::MAX)
                .cmp(&kb.expires_at.unwrap_or(i64::MAX)),
            SortBy::Active => t(*a)
                .and_then(|t| t.last_active)
                .cmp(&t(*b).and_then(|t| t.last_active)),
        };
        let primary = if app.descending {
            primary.reverse()
        } else {
            primary
        };
        primary.then(ka.id.cmp(&kb.id))
    };
    if app.sort != SortBy::Id || app.descending {
        visible.sort_by(by);
    }
    app.visible = visible;
    if let Some(id) = selected
        && let Some(pos) = app
            .visible
            .iter()
            .position(|&i| app.keys.get(i).is_some_and(|k| k.id == id))
    {
        app.cursor = pos;
    }
    clamp_scroll(app);
}

pub(super) fn state_rank(key: &Key) -> u8 {
    match key.state {
        KeyState::Active => 0,
        KeyState::Disabled => 1,
        KeyState::Deleted => 2,
    }
}

pub(super) fn matches_filter(key: &Key, needle: &str) -> bool {
    key.name.to_lowercase().contains(needle)
        || key.note.to_lowercase().contains(needle)
        || key.uuid.to_string().contains(needle)
        || key.id.to_string() == needle
}
