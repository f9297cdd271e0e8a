//! Publishing a generated gRPC server under another service name (the core's real one).

use std::convert::Infallible;
use std::marker::PhantomData;
use std::task::{Context, Poll};

use tonic::codegen::http;
use tonic::server::NamedService;

/// The service name a wrapped generated server is published under, and the
/// name its generated router expects.
pub trait ServiceNames {
    const REAL: &'static str;
    const OURS: &'static str;
}

pub struct XrayHandlerNames;
impl ServiceNames for XrayHandlerNames {
    const REAL: &'static str = "xray.app.proxyman.command.HandlerService";
    const OURS: &'static str = "veil.core.HandlerService";
}

pub struct XrayStatsNames;
impl ServiceNames for XrayStatsNames {
    const REAL: &'static str = "xray.app.stats.command.StatsService";
    const OURS: &'static str = "veil.core.StatsService";
}

/// Publishes a generated server under the core's real service name by
/// rewriting `/<REAL>/<Method>` to `/<OURS>/<Method>` before dispatch.
pub struct Renamed<S, N> {
    inner: S,
    _names: PhantomData<fn() -> N>,
}

impl<S, N> Renamed<S, N> {
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            _names: PhantomData,
        }
    }
}

impl<S: Clone, N> Clone for Renamed<S, N> {
    fn clone(&self) -> Self {
        Self::new(self.inner.clone())
    }
}

impl<S, N: ServiceNames> NamedService for Renamed<S, N> {
    const NAME: &'static str = N::REAL;
}

impl<S, N> tonic::codegen::Service<http::Request<tonic::body::Body>> for Renamed<S, N>
where
    S: tonic::codegen::Service<http::Request<tonic::body::Body>, Error = Infallible>,
    N: ServiceNames,
{
    type Response = S::Response;
    type Error = Infallible;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<tonic::body::Body>) -> Self::Future {
        let real_prefix = format!("/{}/", N::REAL);
        if let Some(method) = req.uri().path().strip_prefix(&real_prefix) {
            let path = format!("/{}/{method}", N::OURS);
            let mut parts = req.uri().clone().into_parts();
            parts.path_and_query = http::uri::PathAndQuery::try_from(path.as_str()).ok();
            if let Ok(uri) = http::Uri::from_parts(parts) {
                *req.uri_mut() = uri;
            }
        }
        self.inner.call(req)
    }
}
