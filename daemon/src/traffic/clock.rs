//! The clocks the epoch test needs: the host's monotonic clock (the one the core's own
//! uptime runs on) and the boot id (a reboot restarts the monotonic clock, and the core).

use std::sync::OnceLock;

use nix::time::{ClockId, clock_gettime};

/// Milliseconds on `CLOCK_MONOTONIC`: shared by every process of this boot, never set back,
/// and what Go's `time.Since` (the core's uptime) measures.
pub fn monotonic_ms() -> i64 {
    match clock_gettime(ClockId::CLOCK_MONOTONIC) {
        Ok(t) => t.tv_sec() * 1000 + t.tv_nsec() / 1_000_000,
        // Cannot happen on Linux; a constant makes every epoch look the same, which only
        // weakens restart detection to the lower-counter rule.
        Err(_) => 0,
    }
}

/// This boot's id (`/proc/sys/kernel/random/boot_id`), or "" where there is none.
pub fn boot_id() -> &'static str {
    static BOOT: OnceLock<String> = OnceLock::new();
    BOOT.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .map(|s| s.trim().to_owned())
            .unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_monotonic_clock_moves_forward_and_the_boot_has_an_id() {
        let a = monotonic_ms();
        std::thread::sleep(std::time::Duration::from_millis(5));
        let b = monotonic_ms();
        assert!(b >= a + 4, "{a} -> {b}");
        assert_eq!(boot_id().len(), 36);
    }
}
