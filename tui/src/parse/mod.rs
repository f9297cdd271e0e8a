//! The one reader of sizes, spans and dates that people type, for the CLI's flags and the
//! dashboard's forms alike, so `10GB` or `2027-01-31` means the same wherever it is typed.
//!
//! **Sizes** ([`size`], [`limit`]): a number, optionally with a fraction, then a unit;
//! spaces between them are allowed and the unit's case does not matter.
//! - no unit, or `B`: bytes (`1048576`);
//! - `KB`, `MB`, `GB`, `TB`, `PB`, `EB`: powers of 1000 (`10GB` = 10 000 000 000);
//! - `KiB`, `MiB`, `GiB`, `TiB`, `PiB`, `EiB`: powers of 1024 (`10GiB` = 10 737 418 240);
//! - `K`, `M`, `G`, `T`, `P`, `E` alone: powers of 1024, like `KiB` … (as the dashboard
//!   prints them, and as both readers took them before);
//! - a fraction is cut to whole bytes (`1.5KiB` = 1536); at most 2⁶³−1 bytes;
//! - for a data limit, `none`, `unlimited`, `off` or `-` mean no limit.
//!
//! **Points in time** ([`expiry`], [`since`]), all UTC:
//! - a bare date `2027-01-31` is the END of that day (`2027-01-31T23:59:59Z`) as an
//!   expiry, so the key keeps working on the 31st; as the start of a range (`--since`) it is
//!   the day's beginning (`00:00:00`);
//! - a date and time: `2027-01-31 18:30`, `2027-01-31T18:30`, with `:SS` seconds too
//!   (UTC), or full RFC 3339 with a zone: `2027-01-31T23:59:59Z`, `…T18:30:00+02:00`;
//! - a span counted from now (forward for an expiry, back for `--since`): `30d`, `12h`,
//!   `90m`, `2w`, `45s`, combined (`1d 12h`) or spelt out (`3 days`); any case (`90M` is
//!   minutes). Months and years are refused: they have no fixed length;
//! - for an expiry, `never`, `none`, `off` or `-` mean it never expires.
//!
//! Whatever [`crate::format`] prints parses back: exactly for [`crate::format::bytes_exact`],
//! [`crate::format::utc_rfc3339`] and [`crate::format::expiry_input`]; within the shown
//! precision for the rounded forms (`1.5 KiB`, `2026-11-26 16:03`, `3d 4h`).

mod size;
mod when;

#[cfg(test)]
mod tests;

pub use self::size::{limit, size};
pub use self::when::{expiry, since, span};
