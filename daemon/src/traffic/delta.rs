//! The pure arithmetic of a cycle: counter names to key ids, raw counters to deltas
//! against the baselines, and the rates watchers see. No IO, so it is tested exactly.

use veil_shared::traffic::TrafficTick;

use super::db::{Baseline, CycleDone, IdMap, RowUpdate};

/// `(key id, is uplink)` of a counter name `user>>>key-N@veil>>>traffic>>>uplink|downlink`
/// (the email as [`crate::applier::email_for`] makes it), read from the bytes the core sent.
pub fn parse_counter(name: &[u8]) -> Option<(i64, bool)> {
    let rest = name.strip_prefix(b"user>>>key-")?;
    let (digits, uplink) = match rest.strip_suffix(b"@veil>>>traffic>>>uplink") {
        Some(digits) => (digits, true),
        None => (rest.strip_suffix(b"@veil>>>traffic>>>downlink")?, false),
    };
    if digits.is_empty() || digits[0] == b'0' {
        return None;
    }
    let mut id: i64 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        id = id.checked_mul(10)?.checked_add(i64::from(b - b'0'))?;
    }
    Some((id, uplink))
}

/// Per key whose counters differ from its baseline: the bytes to add and the new raw
/// values. A counter of a new epoch, or lower than its baseline, counts from zero; a
/// counter the core does not list leaves its baseline alone. Counters equal to their
/// baseline (most of them, most cycles) cost one lookup and nothing more.
pub fn deltas<'a>(
    counters: impl IntoIterator<Item = (&'a [u8], i64)>,
    baselines: &IdMap<Baseline>,
    epoch: u64,
) -> Vec<RowUpdate> {
    let mut moved: IdMap<(Option<i64>, Option<i64>)> = IdMap::default();
    for (name, value) in counters {
        let Some((id, uplink)) = parse_counter(name) else {
            continue;
        };
        let value = value.max(0);
        let unchanged = baselines.get(&id).is_some_and(|b| {
            b.epoch == epoch && value == if uplink { b.uplink } else { b.downlink }
        });
        if unchanged {
            continue;
        }
        let entry = moved.entry(id).or_default();
        if uplink {
            entry.0 = Some(value);
        } else {
            entry.1 = Some(value);
        }
    }
    let mut rows: Vec<RowUpdate> = moved
        .into_iter()
        .map(|(id, (up, down))| {
            let base = baselines
                .get(&id)
                .copied()
                .filter(|b| b.epoch == epoch)
                .unwrap_or(Baseline {
                    uplink: 0,
                    downlink: 0,
                    epoch,
                });
            let (d_up, raw_up) = step(base.uplink, up);
            let (d_down, raw_down) = step(base.downlink, down);
            RowUpdate {
                key_id: id,
                d_uplink: d_up,
                d_downlink: d_down,
                raw_uplink: raw_up,
                raw_downlink: raw_down,
            }
        })
        .collect();
    rows.sort_unstable_by_key(|r| r.key_id);
    rows
}

fn step(base: i64, raw: Option<i64>) -> (u64, i64) {
    match raw {
        None => (0, base),
        Some(raw) if raw >= base => ((raw - base) as u64, raw),
        Some(raw) => (raw as u64, raw),
    }
}

pub fn ticks(rows: &[RowUpdate], done: &CycleDone, span_ms: Option<i64>) -> Vec<TrafficTick> {
    let moved: IdMap<&RowUpdate> = rows.iter().map(|r| (r.key_id, r)).collect();
    done.totals
        .iter()
        .filter_map(|&(id, uplink, downlink)| {
            let row = moved.get(&id)?;
            let rate = |bytes: u64| match span_ms {
                Some(ms) => {
                    (u128::from(bytes) * 1000 / ms.max(1) as u128).min(u128::from(u64::MAX)) as u64
                }
                None => 0,
            };
            Some(TrafficTick {
                id,
                uplink_rate: rate(row.d_uplink),
                downlink_rate: rate(row.d_downlink),
                uplink,
                downlink,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn as_bytes(list: &[(String, i64)]) -> impl Iterator<Item = (&[u8], i64)> {
        list.iter().map(|(name, value)| (name.as_bytes(), *value))
    }

    fn counters(list: &[(i64, i64, i64)]) -> Vec<(String, i64)> {
        let mut out = Vec::new();
        for &(id, up, down) in list {
            out.push((format!("user>>>key-{id}@veil>>>traffic>>>uplink"), up));
            out.push((format!("user>>>key-{id}@veil>>>traffic>>>downlink"), down));
        }
        out
    }

    fn base(up: i64, down: i64, epoch: u64) -> Baseline {
        Baseline {
            uplink: up,
            downlink: down,
            epoch,
        }
    }

    #[test]
    fn counter_names_match_the_emails_the_applier_gives() {
        for id in [1, 9, 10, 12_345, i64::MAX] {
            let email = crate::applier::email_for(id);
            let name = format!("user>>>{email}>>>traffic>>>downlink");
            assert_eq!(parse_counter(name.as_bytes()), Some((id, false)));
            assert_eq!(crate::applier::id_from_email(&email), Some(id));
        }
    }

    #[test]
    fn counter_names_are_parsed_strictly() {
        assert_eq!(
            parse_counter(b"user>>>key-12@veil>>>traffic>>>uplink"),
            Some((12, true))
        );
        assert_eq!(
            parse_counter(b"user>>>key-1@veil>>>traffic>>>downlink"),
            Some((1, false))
        );
        for bad in [
            "user>>>alice@example>>>traffic>>>uplink",
            "inbound>>>vless-in>>>traffic>>>uplink",
            "user>>>key-01@veil>>>traffic>>>uplink",
            "user>>>key-1@veil>>>traffic>>>sideways",
            "user>>>key-1@veil>>>online",
            "user>>>key-1x@veil>>>traffic>>>uplink",
            "user>>>key-99999999999999999999@veil>>>traffic>>>uplink",
        ] {
            assert_eq!(parse_counter(bad.as_bytes()), None, "{bad}");
        }
    }

    #[test]
    fn deltas_are_counted_once_from_the_baseline() {
        let mut known = IdMap::default();
        known.insert(1, base(100, 1_000, 1));
        known.insert(2, base(50, 50, 1));
        let rows = deltas(
            as_bytes(&counters(&[(1, 150, 1_500), (2, 50, 50), (3, 7, 9)])),
            &known,
            1,
        );
        assert_eq!(
            rows,
            vec![
                RowUpdate {
                    key_id: 1,
                    d_uplink: 50,
                    d_downlink: 500,
                    raw_uplink: 150,
                    raw_downlink: 1_500
                },
                // Key 3 is new: all of its counters count.
                RowUpdate {
                    key_id: 3,
                    d_uplink: 7,
                    d_downlink: 9,
                    raw_uplink: 7,
                    raw_downlink: 9
                },
            ]
        );
    }

    #[test]
    fn a_lower_counter_or_a_new_epoch_counts_from_zero() {
        let mut known = IdMap::default();
        known.insert(1, base(100, 1_000, 1));
        // Lower than the baseline in the same epoch: reset behind our back.
        let rows = deltas(as_bytes(&counters(&[(1, 30, 2_000)])), &known, 1);
        assert_eq!((rows[0].d_uplink, rows[0].d_downlink), (30, 1_000));
        // A new epoch: the old baselines are worth nothing, even if the counter is higher.
        let rows = deltas(as_bytes(&counters(&[(1, 500, 5_000)])), &known, 2);
        assert_eq!((rows[0].d_uplink, rows[0].d_downlink), (500, 5_000));
        // A new epoch with counters still at zero: no bytes, but the baseline moves to it.
        let rows = deltas(as_bytes(&counters(&[(1, 0, 0)])), &known, 2);
        assert_eq!(
            rows,
            vec![RowUpdate {
                key_id: 1,
                d_uplink: 0,
                d_downlink: 0,
                raw_uplink: 0,
                raw_downlink: 0
            }]
        );
    }

    #[test]
    fn a_missing_counter_keeps_its_baseline() {
        let mut known = IdMap::default();
        known.insert(1, base(100, 1_000, 1));
        let only_down = vec![("user>>>key-1@veil>>>traffic>>>downlink".to_owned(), 1_200)];
        let rows = deltas(as_bytes(&only_down), &known, 1);
        assert_eq!(
            rows,
            vec![RowUpdate {
                key_id: 1,
                d_uplink: 0,
                d_downlink: 200,
                raw_uplink: 100,
                raw_downlink: 1_200
            }]
        );
    }
}
