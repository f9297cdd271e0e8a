//! Small renderings of single values for people: times, durations, sizes, key states.
//! Everything here is pure so the exact wording is pinned by tests.

use time::OffsetDateTime;
use time::macros::format_description;
use veil_shared::model::{Key, KeyState};

/// Unix seconds as `2026-11-26 16:03` in UTC. A server's keys are looked at from many
/// places, so one zone for everyone beats each reader's local time.
pub use veil::dash::fmt::utc_minute;

/// The current wall-clock time as `16:03:07` (UTC), to stamp watched events.
pub fn utc_clock_now() -> String {
    let format = format_description!("[hour]:[minute]:[second]");
    OffsetDateTime::now_utc()
        .format(&format)
        .unwrap_or_default()
}

/// A span as its two largest units: `3d 4h`, `2h 5m`, `42s`.
pub use veil::dash::fmt::duration;

/// Bytes in binary units with one decimal: `512 B`, `1.5 KiB`, `10.0 GiB`.
pub use veil::dash::fmt::bytes_long as bytes;

/// A key's desired state with the reason it is disabled: `active`, `disabled (limited)`.
pub fn state(key: &Key) -> String {
    match (key.state, key.disable_reason) {
        (KeyState::Disabled, Some(reason)) => format!("disabled ({reason})"),
        (state, _) => state.to_string(),
    }
}

/// What the core has: the applied state, or that it has never seen the key.
pub fn applied(key: &Key) -> String {
    match key.applied {
        Some(state) => state.to_string(),
        None => "not yet".to_owned(),
    }
}

pub fn plural(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("{n} {one}")
    } else {
        format!("{n} {many}")
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use uuid::Uuid;
    use veil_shared::model::DisableReason;

    use super::*;

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
        }
    }

    #[test]
    fn times_are_utc_to_the_minute() {
        assert_eq!(utc_minute(1_795_708_980), "2026-11-26 16:03");
        assert_eq!(utc_minute(0), "1970-01-01 00:00");
        assert_eq!(utc_minute(59), "1970-01-01 00:00");
        assert_eq!(utc_minute(i64::MAX), format!("@{}", i64::MAX));
        assert_eq!(utc_clock_now().len(), "16:03:07".len());
    }

    #[test]
    fn durations_keep_two_units() {
        assert_eq!(duration(0), "0s");
        assert_eq!(duration(42), "42s");
        assert_eq!(duration(60), "1m");
        assert_eq!(duration(125), "2m 5s");
        assert_eq!(duration(7_500), "2h 5m");
        assert_eq!(duration(3 * 86_400 + 4 * 3_600 + 59), "3d 4h");
        assert_eq!(duration(86_400 + 30), "1d");
    }

    #[test]
    fn sizes_use_binary_units() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1023), "1023 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(10 * 1024 * 1024 * 1024), "10.0 GiB");
        assert_eq!(bytes(u64::MAX), "16.0 EiB");
    }

    #[test]
    fn states_carry_the_disable_reason() {
        let mut k = key(1, "a");
        assert_eq!(state(&k), "active");
        k.state = KeyState::Disabled;
        assert_eq!(state(&k), "disabled");
        for reason in DisableReason::ALL {
            k.disable_reason = Some(reason);
            assert_eq!(state(&k), format!("disabled ({})", reason.as_str()));
        }
        assert_eq!(state(&k), "disabled (expired)");
        // A stale reason on a re-enabled key is not shown.
        k.state = KeyState::Active;
        assert_eq!(state(&k), "active");
        k.state = KeyState::Deleted;
        assert_eq!(state(&k), "deleted");
    }

    #[test]
    fn applied_says_when_the_core_never_saw_the_key() {
        let mut k = key(1, "a");
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
