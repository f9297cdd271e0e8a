//! `GET /sub/{token}`: the subscription URL phones refresh by themselves, and the page a
//! browser sees at the same address.
//!
//! - [`http`]: the route ([`routes`]): its own per-address rate limit, the token lookup
//!   (404 and nothing else for an unknown or revoked token), the format by `?format=` or
//!   `User-Agent`, the headers, `Cache-Control: no-store`.
//! - [`page`]: the self-contained HTML page for `Accept: text/html` (inline CSS and SVG,
//!   no script, no external asset).
//!
//! Bodies and headers are pure functions in `veil_shared::subscription`; the token and the
//! key behind it come from the service (`Service::sub_lookup`).

pub mod http;
pub mod page;

pub use http::{routes, routes_with_limit};
