//! The gRPC channel to the core and the generic unary call.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use prost::Message;
use tonic::transport::{Channel, Endpoint};

use super::error::CoreError;
use super::flavor::{Flavor, FlavorApi as _};

/// The largest reply accepted from the core (a QueryStats over 2.5 million keys).
pub const MAX_REPLY_BYTES: usize = 256 * 1024 * 1024;

/// How to reach the core's API.
#[derive(Clone, Debug)]
pub struct LinkOptions {
    /// Decides the gRPC paths and TypedMessage type strings.
    pub flavor: Flavor,
    /// `host:port` of the API (Xray `api.listen`, or the dokodemo-door inbound
    /// on v2ray), e.g. `127.0.0.1:10085`. Plain h2c: keep it on loopback.
    pub api: String,
    /// Bound for connecting and for each call, so a wedged core cannot stall
    /// the daemon.
    pub call_timeout: Duration,
}

impl Default for LinkOptions {
    fn default() -> Self {
        Self {
            flavor: Flavor::Xray,
            api: "127.0.0.1:10085".to_owned(),
            call_timeout: Duration::from_secs(5),
        }
    }
}

/// Told how every call through the link went (metrics); the link keeps no figures itself.
pub trait CallObserver: Send + Sync + std::fmt::Debug {
    /// `call` is one of the link's fixed names (`add_user`, `remove_user`, `query_stats`,
    /// `sys_stats`, …); `ok` is what the caller got, so a duplicate add or an absent
    /// user's removal, which the link reports as done, counts as ok.
    fn observe(&self, call: &'static str, ok: bool, took: Duration);
}

/// A cheap-to-clone handle on the core's API.
///
/// The channel connects lazily and reconnects by itself, so a link can be made
/// before the core is up and survives core restarts; calls made while the core
/// is down fail with [`CoreError::Transport`].
#[derive(Clone, Debug)]
pub struct CoreLink {
    channel: Channel,
    flavor: Flavor,
    call_timeout: Duration,
    observer: Option<Arc<dyn CallObserver>>,
}

impl CoreLink {
    /// Builds the link without touching the network.
    pub fn new(opts: LinkOptions) -> Result<Self, CoreError> {
        let uri = format!("http://{}", opts.api);
        let endpoint = Endpoint::from_shared(uri.clone())
            .map_err(|e| CoreError::Config(format!("bad core API address {:?}: {e}", opts.api)))?
            .connect_timeout(opts.call_timeout)
            .timeout(opts.call_timeout)
            .tcp_nodelay(true);
        Ok(Self {
            channel: endpoint.connect_lazy(),
            flavor: opts.flavor,
            call_timeout: opts.call_timeout,
            observer: None,
        })
    }

    /// The same link, telling `observer` about every call.
    #[must_use]
    pub fn with_observer(mut self, observer: Arc<dyn CallObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Runs one of the link's calls, named `call`, and tells the observer how it went. A
    /// call the core's flavor lacks was never made, and is not told.
    pub(super) async fn observed<T>(
        &self,
        call: &'static str,
        run: impl Future<Output = Result<T, CoreError>>,
    ) -> Result<T, CoreError> {
        let started = Instant::now();
        let result = run.await;
        if let Some(observer) = &self.observer
            && !matches!(result, Err(CoreError::Unsupported(_)))
        {
            observer.observe(call, result.is_ok(), started.elapsed());
        }
        result
    }

    /// The core flavor this link was configured for.
    pub fn flavor(&self) -> Flavor {
        self.flavor
    }

    /// One unary call to `/<prefix><service>/<method>`.
    ///
    /// The path is built at run time because generated clients hard-code the
    /// package of our own .proto files, which no core knows. The whole call is
    /// also bounded by a timer, as a backstop for waits tonic does not time
    /// (e.g. a full channel buffer).
    pub(super) async fn unary<Req, Resp>(
        &self,
        service: &str,
        method: &str,
        request: Req,
    ) -> Result<Resp, CoreError>
    where
        Req: Message + Send + Sync + 'static,
        Resp: Message + Default + Send + Sync + 'static,
    {
        let path = self.flavor.rpc_path(service, method)?;
        // QueryStats for every user is ~95 bytes per key: far above tonic's 4 MiB default
        // at 100,000 keys.
        let mut grpc = tonic::client::Grpc::new(self.channel.clone())
            .max_decoding_message_size(MAX_REPLY_BYTES);
        let call = async {
            grpc.ready()
                .await
                .map_err(|e| CoreError::Transport(format!("core API not ready: {e}")))?;
            let codec = tonic_prost::ProstCodec::<Req, Resp>::default();
            let response = grpc
                .unary(tonic::Request::new(request), path, codec)
                .await?;
            Ok(response.into_inner())
        };
        // Connect and call each get `call_timeout` from tonic; allow both.
        match tokio::time::timeout(self.call_timeout.saturating_mul(2), call).await {
            Ok(result) => result,
            Err(_) => Err(CoreError::Transport(format!(
                "{method} timed out after {:?}",
                self.call_timeout.saturating_mul(2)
            ))),
        }
    }
}
