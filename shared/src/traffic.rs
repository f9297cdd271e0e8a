//! Traffic on the wire: per-key totals and live rates, history buckets, resets, online
//! users, the poller's cycle report and the `event.traffic` notification.
//!
//! Every byte count is an integer number of bytes (`u64`); every time is Unix seconds (UTC).
//! Uplink is client → server, downlink server → client, as the core counts them.

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::model::{DisableReason, KeyRef, KeyState};

/// When a key's traffic totals go back to zero by themselves. Boundaries are midnight UTC.
/// On the wire and on the command line: `none`, `daily`, `weekly:mon` (`mon`…`sun`, or
/// `1`…`7` with 1 = Monday), `monthly:N` (1–31; a month shorter than N resets on its last day).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ResetSchedule {
    #[default]
    None,
    Daily,
    /// ISO weekday, 1 = Monday … 7 = Sunday.
    Weekly(u8),
    /// Day of the month, 1–31.
    Monthly(u8),
}

const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const WEEKDAY_NAMES: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

impl ResetSchedule {
    /// The period's name as stored: `none`, `daily`, `weekly`, `monthly`.
    pub fn period(self) -> &'static str {
        match self {
            ResetSchedule::None => "none",
            ResetSchedule::Daily => "daily",
            ResetSchedule::Weekly(_) => "weekly",
            ResetSchedule::Monthly(_) => "monthly",
        }
    }

    /// The day of the period (0 for none and daily).
    pub fn day(self) -> u8 {
        match self {
            ResetSchedule::None | ResetSchedule::Daily => 0,
            ResetSchedule::Weekly(d) | ResetSchedule::Monthly(d) => d,
        }
    }

    /// Rebuilds a schedule from its stored period and day.
    pub fn from_parts(period: &str, day: u8) -> Option<Self> {
        match period {
            "none" => Some(ResetSchedule::None),
            "daily" => Some(ResetSchedule::Daily),
            "weekly" if (1..=7).contains(&day) => Some(ResetSchedule::Weekly(day)),
            "monthly" if (1..=31).contains(&day) => Some(ResetSchedule::Monthly(day)),
            _ => None,
        }
    }
}

impl fmt::Display for ResetSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResetSchedule::None => f.write_str("none"),
            ResetSchedule::Daily => f.write_str("daily"),
            ResetSchedule::Weekly(d) => {
                let name = WEEKDAYS
                    .get(usize::from(*d).wrapping_sub(1))
                    .unwrap_or(&"?");
                write!(f, "weekly:{name}")
            }
            ResetSchedule::Monthly(d) => write!(f, "monthly:{d}"),
        }
    }
}

impl FromStr for ResetSchedule {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let text = raw.trim().to_ascii_lowercase();
        let (period, day) = match text.split_once(':') {
            Some((p, d)) => (p.trim(), Some(d.trim())),
            None => (text.as_str(), None),
        };
        let usage = "a reset schedule is none, daily, weekly:DAY (mon…sun) or monthly:N (1–31)";
        match (period, day) {
            ("none" | "never", None) => Ok(ResetSchedule::None),
            ("daily", None) => Ok(ResetSchedule::Daily),
            ("weekly", Some(day)) => {
                let n = match (0..7).find(|&i| day == WEEKDAYS[i] || day == WEEKDAY_NAMES[i]) {
                    Some(i) => i + 1,
                    None => day.parse::<usize>().unwrap_or(0),
                };
                if (1..=7).contains(&n) {
                    Ok(ResetSchedule::Weekly(n as u8))
                } else {
                    Err(format!(
                        "'{raw}': the weekday must be mon…sun or 1…7; {usage}"
                    ))
                }
            }
            ("monthly", Some(day)) => match day.parse::<u8>() {
                Ok(n) if (1..=31).contains(&n) => Ok(ResetSchedule::Monthly(n)),
                _ => Err(format!("'{raw}': the day must be 1 to 31; {usage}")),
            },
            _ => Err(format!("'{raw}': {usage}")),
        }
    }
}

impl Serialize for ResetSchedule {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// A string in the canonical forms (the parser also takes upper case, `never`, full weekday
/// names and spaces around the colon).
impl JsonSchema for ResetSchedule {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ResetSchedule".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "When the key's traffic totals go back to zero: none, daily, weekly:DAY (mon…sun or 1…7) or monthly:N (1–31); midnight UTC",
            "pattern": "^(none|never|daily|weekly:([1-7]|mon|tue|wed|thu|fri|sat|sun)|monthly:([1-9]|[12][0-9]|3[01]))$"
        })
    }
}

impl<'de> Deserialize<'de> for ResetSchedule {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A key's traffic as `traffic.get` and `traffic.list` report it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct KeyTraffic {
    pub id: i64,
    pub name: String,
    pub state: KeyState,
    pub disable_reason: Option<DisableReason>,
    /// Bytes client → server since the last reset.
    pub uplink: u64,
    /// Bytes server → client since the last reset.
    pub downlink: u64,
    /// Bytes since the key was made; resets leave these alone.
    pub lifetime_uplink: u64,
    pub lifetime_downlink: u64,
    /// Bytes per second over the poller's last cycle; 0 when the key did not move.
    pub uplink_rate: u64,
    pub downlink_rate: u64,
    /// The last cycle in which the key moved any bytes.
    pub last_active: Option<i64>,
    /// Bytes (uplink + downlink since the last reset) after which the key is disabled.
    pub data_limit: Option<u64>,
    pub expires_at: Option<i64>,
    pub reset: ResetSchedule,
    pub next_reset_at: Option<i64>,
    pub last_reset_at: Option<i64>,
}

impl KeyTraffic {
    /// Uplink + downlink since the last reset: what the data limit is compared with.
    pub fn used(&self) -> u64 {
        self.uplink.saturating_add(self.downlink)
    }
}

/// `traffic.get`: the key's traffic, who is online on it, and its recent resets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct KeyTrafficDetail {
    #[serde(flatten)]
    pub traffic: KeyTraffic,
    pub online: Online,
    /// Newest first, at most 20.
    pub resets: Vec<TrafficReset>,
}

/// Who is connected with a key right now, as far as the core can tell.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Online {
    /// The core cannot report it (v2fly has no online statistics; old Xray lacks the call).
    Unsupported { reason: String },
    /// The core's policy does not track online users for the keys' level
    /// (`policy.levels."0".statsUserOnline` is not true).
    Off,
    /// `count` distinct source IPs with an open connection, and those IPs when the core
    /// lists them.
    Known { count: u64, ips: Vec<OnlineIp> },
    /// The core could not be asked just now.
    Unavailable { error: String },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OnlineIp {
    pub ip: String,
    /// Unix seconds.
    pub last_seen: i64,
}

/// One reset of a key's totals, with the usage it cleared.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TrafficReset {
    pub at: i64,
    pub uplink: u64,
    pub downlink: u64,
    /// `manual` (traffic.reset) or `periodic` (the key's schedule).
    pub reason: String,
}

/// `traffic.list` ordering.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TrafficSort {
    /// By key id (the default).
    #[default]
    Id,
    /// Most used (uplink + downlink since the last reset) first.
    Usage,
    /// Fastest (over the last cycle) first.
    Rate,
    /// Most recently active first.
    Active,
}

/// History bucket width.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    Minute,
    #[default]
    Hour,
    Day,
}

impl Resolution {
    pub fn secs(self) -> i64 {
        match self {
            Resolution::Minute => 60,
            Resolution::Hour => 3_600,
            Resolution::Day => 86_400,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TrafficPage {
    pub keys: Vec<KeyTraffic>,
    /// How many keys match, ignoring offset and limit.
    pub total: u64,
    pub poller: PollerInfo,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PollerInfo {
    pub interval_ms: u64,
    /// The last cycle that read the core, if any since veild started.
    pub last_cycle: Option<CycleReport>,
}

/// What one poller cycle did (also `traffic.sync`'s result).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CycleReport {
    /// Unix seconds the cycle's deltas were stamped with.
    pub at: i64,
    /// Per-key counters the core returned (two per key that has connected since the core
    /// started).
    pub counters: u64,
    /// Keys whose counters moved since the last cycle.
    pub moved: u64,
    /// The core's epoch (a new one begins each time the core restarts).
    pub epoch: u64,
    /// True when this cycle saw the core's first counters of a new epoch.
    pub new_epoch: bool,
    /// Wall time of the whole cycle (core calls and the database transaction), µs.
    pub took_us: u64,
    /// Keys the cycle disabled (over their limit, or expired).
    pub disabled: Vec<i64>,
    /// Keys the cycle enabled again (no longer over their limit, or no longer expired).
    pub enabled: Vec<i64>,
    /// Keys whose totals the cycle reset on their schedule.
    pub reset: Vec<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrafficHistoryPage {
    pub key_id: i64,
    pub resolution: Resolution,
    /// Oldest first; buckets without traffic are left out.
    pub buckets: Vec<TrafficBucket>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrafficBucket {
    /// The bucket's start, Unix seconds (UTC minute, hour or day).
    pub at: i64,
    pub uplink: u64,
    pub downlink: u64,
}

/// `event.traffic`: sent after every cycle in which some key moved, with only those keys.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrafficEvent {
    pub at: i64,
    /// The span the rates are measured over (0 on veild's first cycle: no rates yet).
    pub interval_ms: u64,
    pub keys: Vec<TrafficTick>,
}

/// One moved key in `event.traffic`: rates over the cycle and the totals now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrafficTick {
    pub id: i64,
    pub uplink_rate: u64,
    pub downlink_rate: u64,
    pub uplink: u64,
    pub downlink: u64,
}

/// Reads a member that may be absent (no change), `null` (clear) or a value (set).
pub fn double_option<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// `traffic.get`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrafficGet {
    pub key: KeyRef,
}

/// `traffic.list`: like `key.list` (deleted keys only with `state: deleted`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TrafficList {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<KeyState>,
    /// Case-insensitive substring of the name, the note or the UUID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort: Option<TrafficSort>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
}

/// `traffic.sync`: runs a poller cycle now and returns its report.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrafficSync {}

/// `traffic.reset`: the key's totals go back to zero (recorded with the usage cleared).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrafficResetParams {
    pub key: KeyRef,
}

/// `traffic.history`: buckets between `since` and `until` (Unix seconds; defaults: the last
/// 60 minutes, 48 hours or 30 days).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrafficHistory {
    pub key: KeyRef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<Resolution>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_read_and_write() {
        let cases = [
            ("none", ResetSchedule::None, "none"),
            ("Daily", ResetSchedule::Daily, "daily"),
            ("weekly:mon", ResetSchedule::Weekly(1), "weekly:mon"),
            ("weekly:Sunday", ResetSchedule::Weekly(7), "weekly:sun"),
            ("weekly:3", ResetSchedule::Weekly(3), "weekly:wed"),
            ("monthly:1", ResetSchedule::Monthly(1), "monthly:1"),
            (" monthly:31 ", ResetSchedule::Monthly(31), "monthly:31"),
        ];
        for (raw, want, shown) in cases {
            assert_eq!(raw.parse::<ResetSchedule>(), Ok(want), "{raw}");
            assert_eq!(want.to_string(), shown);
            assert_eq!(
                ResetSchedule::from_parts(want.period(), want.day()),
                Some(want)
            );
        }
        for bad in [
            "",
            "weekly",
            "weekly:0",
            "weekly:8",
            "weekly:xyz",
            "monthly:0",
            "monthly:32",
            "monthly",
            "daily:3",
            "hourly",
        ] {
            assert!(bad.parse::<ResetSchedule>().is_err(), "{bad}");
        }
    }
}
