//! The route. Mounted by the HTTP listener (`Router::merge`); tests serve it on their own.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{ConnectInfo, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use veil_shared::subscription::{self, Format, headers, render};

use crate::service::Service;
use crate::service::subs::{EndpointCache, SubView, url_of};

/// Fetches an address earns back per minute by default (`[http] sub_rate_per_minute`);
/// clients refresh hourly, but one carrier NAT can hide many phones.
const PER_MINUTE: u32 = 60;
/// Addresses remembered before old ones are forgotten.
const REMEMBERED: usize = 10_000;

struct SubState {
    service: Arc<Service>,
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    endpoints: EndpointCache,
    /// The listener serves TLS itself: the page's URL is `https://` whatever the headers.
    tls: bool,
}

/// The subscription route, `GET /sub/{token}` (HEAD too), with its own per-address limit
/// at the default rate (a burst of 30 fetches, then 60 a minute).
pub fn routes(service: Arc<Service>) -> Router {
    routes_per_minute(service, PER_MINUTE, false)
}

/// [`routes`] at `per_minute` fetches per address (`[http] sub_rate_per_minute`), after a
/// burst of half as many; `tls`: the listener serves TLS itself.
pub fn routes_per_minute(service: Arc<Service>, per_minute: u32, tls: bool) -> Router {
    with_state(service, per_minute, burst(per_minute), tls)
}

/// The burst allowed at `per_minute`: half of it, at least one.
fn burst(per_minute: u32) -> u32 {
    (per_minute / 2).max(1)
}

/// [`routes`] with another per-address limit (benchmarks: one address, many clients).
pub fn routes_with_limit(service: Arc<Service>, per_minute: u32, burst: u32) -> Router {
    with_state(service, per_minute, burst, false)
}

fn with_state(service: Arc<Service>, per_minute: u32, burst: u32, tls: bool) -> Router {
    let per_minute = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
    let state = Arc::new(SubState {
        service,
        limiter: RateLimiter::keyed(Quota::per_minute(per_minute).allow_burst(burst)),
        endpoints: EndpointCache::default(),
        tls,
    });
    Router::new()
        .route("/sub/{token}", get(fetch))
        .with_state(state)
}

fn no_store(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

fn plain(status: StatusCode, text: &'static str) -> Response {
    no_store(
        (
            status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            text,
        )
            .into_response(),
    )
}

fn peer(request: &Request) -> IpAddr {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |ConnectInfo(a)| a.ip())
}

fn limited(state: &SubState, ip: IpAddr) -> Option<Response> {
    if state.limiter.len() > REMEMBERED {
        state.limiter.retain_recent();
    }
    let not_until = state.limiter.check_key(&ip).err()?;
    let wait = not_until.wait_time_from(DefaultClock::default().now());
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let mut response = plain(StatusCode::TOO_MANY_REQUESTS, "too many requests\n");
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
    Some(response)
}

fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.to_ascii_lowercase().contains("text/html"))
}

/// The address the browser used, for the page's QR code when no base URL is configured:
/// the `Host` header if it is a plain host[:port], with `https` when veild serves TLS
/// (`tls`) or a proxy says so.
fn seen_url(headers: &HeaderMap, token: &str, tls: bool) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.len() <= 260
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
        });
    let https = tls
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|p| p.eq_ignore_ascii_case("https"));
    match host {
        Some(host) => format!(
            "{}://{host}/sub/{token}",
            if https { "https" } else { "http" }
        ),
        None => url_of(None, token),
    }
}

async fn fetch(
    State(state): State<Arc<SubState>>,
    Path(token): Path<String>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
    request: Request,
) -> Response {
    let query = query.map(|Query(q)| q).unwrap_or_default();
    if let Some(response) = limited(&state, peer(&request)) {
        return response;
    }
    let view = match state.service.sub_lookup(&token, &state.endpoints).await {
        Ok(Some(view)) => view,
        Ok(None) => return no_store(StatusCode::NOT_FOUND.into_response()),
        Err(e) => {
            tracing::warn!(error = %e.message, "subscription fetch failed");
            return plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "the subscription is unavailable right now; try again later\n",
            );
        }
    };
    let headers = request.headers();
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let format = match query.get("format") {
        Some(asked) => match Format::from_query(asked, user_agent) {
            Some(format) => format,
            None => {
                return plain(
                    StatusCode::BAD_REQUEST,
                    "unknown format; use base64, links, singbox, mihomo, clash or xray\n",
                );
            }
        },
        None if wants_html(headers) => {
            let url = view.base.as_deref().map_or_else(
                || seen_url(headers, &token, state.tls),
                |b| url_of(Some(b), &token),
            );
            return page_response(&view, &url);
        }
        None => Format::from_user_agent(user_agent),
    };
    answer(&view, format)
}

fn answer(view: &SubView, format: Format) -> Response {
    let entries = subscription::entries(&view.sub, &view.servers, crate::store::now());
    let body = match render::body(format, &entries) {
        Ok(body) => body,
        Err(e) => {
            tracing::error!(error = %e, "subscription body failed");
            return plain(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n");
        }
    };
    let mut response = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, format.content_type())],
        body,
    )
        .into_response();
    let h = response.headers_mut();
    for (name, value) in headers::headers(&view.sub, format, &view.settings) {
        // Values are ASCII without controls by construction; a failure drops the header.
        if let Ok(value) = HeaderValue::from_str(&value) {
            h.insert(HeaderName::from_static(name), value);
        }
    }
    no_store(response)
}

/// What the page may load: nothing but its own inline styles and data: images.
pub const PAGE_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; \
                            base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

fn page_response(view: &SubView, url: &str) -> Response {
    let html = super::page::render(view, url, crate::store::now());
    let mut response = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        html,
    )
        .into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(PAGE_CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    no_store(response)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_burst_is_half_the_rate_and_never_zero() {
        assert_eq!(super::burst(super::PER_MINUTE), 30);
        assert_eq!(super::burst(1), 1);
        assert_eq!(super::burst(1000), 500);
    }

    #[test]
    fn the_page_url_is_https_when_veild_serves_tls() {
        let mut headers = super::HeaderMap::new();
        headers.insert(
            super::header::HOST,
            super::HeaderValue::from_static("vpn.example.com:8443"),
        );
        assert_eq!(
            super::seen_url(&headers, "T", true),
            "https://vpn.example.com:8443/sub/T"
        );
        assert_eq!(
            super::seen_url(&headers, "T", false),
            "http://vpn.example.com:8443/sub/T"
        );
    }
}
