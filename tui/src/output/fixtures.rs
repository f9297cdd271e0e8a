//! Values the output tests share.

use uuid::Uuid;
use veil_shared::model::{Key, KeyState};

/// A key with plain values; tests change the fields they care about.
pub(crate) fn key(id: i64, name: &str) -> Key {
    Key {
        id,
        uuid: Uuid::from_u128(0x6f1c1f4e_8a5e_4d43_9a57_1b0a4b3c2d00 + id as u128),
        name: name.to_owned(),
        note: String::new(),
        created_at: 1_795_708_980, // 2026-11-26 16:03 UTC
        updated_at: 1_795_708_980,
        state: KeyState::Active,
        applied: Some(KeyState::Active),
        pending: false,
        disable_reason: None,
        data_limit: None,
        expires_at: None,
        apply_error: None,
        nodes: None,
    }
}
