//! `[traffic]` in `veild.toml`: the poller's interval and how long history is kept.

use serde::Deserialize;

use super::history;

/// `[traffic]` in `veild.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrafficConfig {
    /// How often the poller reads the core's counters.
    #[serde(default = "defaults::interval_ms")]
    pub interval_ms: u64,
    /// How long per-minute history is kept.
    #[serde(default = "defaults::minute_retention_hours")]
    pub minute_retention_hours: u64,
    /// How long per-hour history is kept.
    #[serde(default = "defaults::hour_retention_days")]
    pub hour_retention_days: u64,
    /// How long per-day history is kept.
    #[serde(default = "defaults::day_retention_days")]
    pub day_retention_days: u64,
}

mod defaults {
    pub fn interval_ms() -> u64 {
        10_000
    }
    pub fn minute_retention_hours() -> u64 {
        48
    }
    pub fn hour_retention_days() -> u64 {
        62
    }
    pub fn day_retention_days() -> u64 {
        1_830
    }
}

impl Default for TrafficConfig {
    fn default() -> Self {
        Self {
            interval_ms: defaults::interval_ms(),
            minute_retention_hours: defaults::minute_retention_hours(),
            hour_retention_days: defaults::hour_retention_days(),
            day_retention_days: defaults::day_retention_days(),
        }
    }
}

impl TrafficConfig {
    /// Every value in range, or the first one that is not: (key, value, problem).
    pub fn check(&self) -> Result<(), (&'static str, u64, String)> {
        let ranges: [(&'static str, u64, u64, u64); 4] = [
            ("traffic.interval_ms", self.interval_ms, 50, 3_600_000),
            (
                "traffic.minute_retention_hours",
                self.minute_retention_hours,
                2,
                24 * 92,
            ),
            (
                "traffic.hour_retention_days",
                self.hour_retention_days,
                2,
                3_660,
            ),
            (
                "traffic.day_retention_days",
                self.day_retention_days,
                2,
                36_600,
            ),
        ];
        for (key, value, min, max) in ranges {
            if !(min..=max).contains(&value) {
                return Err((key, value, format!("must be from {min} to {max}")));
            }
        }
        Ok(())
    }

    pub fn retention(&self) -> history::Retention {
        history::Retention {
            minutes: (self.minute_retention_hours * 60) as i64,
            hours: (self.hour_retention_days * 24) as i64,
            days: self.day_retention_days as i64,
        }
    }
}
