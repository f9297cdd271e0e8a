//! Key states and counts in words.

use veil_shared::model::{DisableReason, Key, KeyState};

/// A desired state with the reason it is disabled, for prose and the CLI's tables:
/// `active`, `disabled (limited)`. A stale reason on an enabled key is not shown.
pub fn state_reason(state: KeyState, reason: Option<DisableReason>) -> String {
    match (state, reason) {
        (KeyState::Disabled, Some(reason)) => format!("disabled ({reason})"),
        (state, _) => state.to_string(),
    }
}

/// A key's state in a narrow cell: `active`, `off (limit)`; a trailing `*` while the core
/// does not reflect it yet.
pub fn state(key: &Key) -> String {
    let base = match (key.state, key.disable_reason) {
        (KeyState::Active, _) => "active",
        (KeyState::Disabled, Some(DisableReason::Limited)) => "off (limit)",
        (KeyState::Disabled, Some(DisableReason::Expired)) => "off (expired)",
        (KeyState::Disabled, _) => "off (manual)",
        (KeyState::Deleted, _) => "deleted",
    };
    if key.pending {
        format!("{base}*")
    } else {
        base.to_owned()
    }
}

/// A key's state in prose with whether the core has it: `disabled (limited), pending in
/// the core`.
pub fn state_long(key: &Key) -> String {
    let base = state_reason(key.state, key.disable_reason);
    if key.pending {
        format!("{base}, pending in the core")
    } else {
        base
    }
}

/// What the core has: the applied state, or that it has never seen the key.
pub fn applied(key: &Key) -> String {
    match key.applied {
        Some(state) => state.to_string(),
        None => "not yet".to_owned(),
    }
}

/// `1 key`, `12 keys`.
pub fn plural(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("{n} {one}")
    } else {
        format!("{n} {many}")
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    fn key(state: KeyState, reason: Option<DisableReason>) -> Key {
        Key {
            id: 1,
            uuid: Uuid::from_u128(1),
            name: "a".into(),
            note: String::new(),
            created_at: 0,
            updated_at: 0,
            state,
            applied: Some(state),
            pending: false,
            disable_reason: reason,
            data_limit: None,
            expires_at: None,
            apply_error: None,
            nodes: None,
        }
    }

    #[test]
    fn states_carry_the_disable_reason() {
        assert_eq!(state_reason(KeyState::Active, None), "active");
        assert_eq!(state_reason(KeyState::Disabled, None), "disabled");
        for reason in DisableReason::ALL {
            assert_eq!(
                state_reason(KeyState::Disabled, Some(reason)),
                format!("disabled ({})", reason.as_str())
            );
        }
        assert_eq!(
            state_reason(KeyState::Active, Some(DisableReason::Limited)),
            "active"
        );
        assert_eq!(state_reason(KeyState::Deleted, None), "deleted");
        let mut k = key(KeyState::Disabled, Some(DisableReason::Limited));
        assert_eq!(state(&k), "off (limit)");
        k.pending = true;
        assert_eq!(state(&k), "off (limit)*");
        assert_eq!(state_long(&k), "disabled (limited), pending in the core");
    }

    #[test]
    fn applied_says_when_the_core_never_saw_the_key() {
        let mut k = key(KeyState::Active, None);
        assert_eq!(applied(&k), "active");
        k.applied = None;
        assert_eq!(applied(&k), "not yet");
    }

    #[test]
    fn plurals() {
        assert_eq!(plural(1, "key", "keys"), "1 key");
        assert_eq!(plural(0, "key", "keys"), "0 keys");
        assert_eq!(plural(12, "key", "keys"), "12 keys");
    }
}
