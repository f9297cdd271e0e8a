//! The CLI and the dashboard read sizes and dates with one parser, so what `veil key add`
//! stores is what the dashboard's add form would store: `10GB` is 10⁹ bytes times ten, and
//! a bare date is the end of that day in UTC (the key keeps working on it). The dashboard's
//! side of the agreement is a unit test in the `veil` crate; this pins the CLI's end to end.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::daemon::Daemon;
use support::tempdir;

/// 2027-01-31T23:59:59Z in Unix seconds: the last second of the 31st.
const END_OF_JAN_31_2027: i64 = 1_801_439_999;

#[test]
fn key_add_stores_decimal_gigabytes_and_the_end_of_the_day() {
    let dir = tempdir();
    let d = Daemon::start(dir.path());

    let (code, _, err) = d.veil(&[
        "key",
        "add",
        "x",
        "--limit",
        "10GB",
        "--expires",
        "2027-01-31",
    ]);
    assert_eq!(code, 0, "veil key add failed: {err}");

    let key = d.veil_json(&["key", "show", "x"]);
    assert_eq!(key["data_limit"], 10_000_000_000_i64, "{key}");
    assert_eq!(key["expires_at"], END_OF_JAN_31_2027, "{key}");

    // The binary unit is the other meaning, and an update reads dates the same way.
    let key = d.veil_json(&[
        "key",
        "update",
        "x",
        "--limit",
        "10GiB",
        "--expires",
        "2027-01-31T23:59:59Z",
    ]);
    assert_eq!(key["data_limit"], 10_737_418_240_i64, "{key}");
    assert_eq!(key["expires_at"], END_OF_JAN_31_2027, "{key}");
}
