//! The Prometheus endpoint: `GET /metrics` in the text format, on loopback unless allowed
//! further.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use actors::{Node, WeakNode};
use futures::FutureExt;
use hyper::{Method, StatusCode};
use metrics_exporter_prometheus::{Matcher, PrometheusHandle};

use crate::connection::lock;
use crate::http::{self, HttpError, Server};

/// Bucket bounds of the call-duration histogram, in seconds: a local call takes about a
/// microsecond, a remote one tens, a slow handler seconds.
const CALL_BUCKETS: [f64; 22] = [
    1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2,
    5e-2, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// How often recorded call durations are folded into their histogram, so that they take
/// bounded memory however long nobody scrapes.
const UPKEEP: Duration = Duration::from_secs(1);

/// The process's Prometheus recorder, installed as the global recorder at the first
/// endpoint; `None` when another recorder was installed first.
fn recorder() -> Option<PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = metrics_exporter_prometheus::PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full("actors_call_duration_seconds".into()),
                    &CALL_BUCKETS,
                )
                .ok()?
                .build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok()?;
            // Timed only now that the durations have somewhere to go.
            actors::introspect::time_calls(true);
            let upkeep = handle.clone();
            actors::rt::spawn(async move {
                loop {
                    actors::rt::sleep(UPKEEP).await;
                    upkeep.run_upkeep();
                }
            });
            Some(handle)
        })
        .clone()
}

/// The nodes of this process that serve metrics: a scrape of any one reports them all,
/// since they share the recorder.
fn nodes() -> &'static Mutex<Vec<WeakNode>> {
    static NODES: OnceLock<Mutex<Vec<WeakNode>>> = OnceLock::new();
    NODES.get_or_init(Mutex::default)
}

/// A node's metrics; in `actors_net::prelude` with feature `metrics`.
pub trait NodeMetrics {
    /// An endpoint that serves this node's metrics to Prometheus at `addr` (`ip:port`, port
    /// 0 for any free one), once started.
    fn prometheus(&self, addr: &str) -> PrometheusBuilder;
}

impl NodeMetrics for Node {
    fn prometheus(&self, addr: &str) -> PrometheusBuilder {
        PrometheusBuilder {
            node: self.clone(),
            addr: addr.to_string(),
            remote: false,
        }
    }
}

/// A Prometheus endpoint to start: [`NodeMetrics::prometheus`].
#[must_use = "the endpoint serves nothing until started"]
pub struct PrometheusBuilder {
    node: Node,
    addr: String,
    remote: bool,
}

impl PrometheusBuilder {
    /// Serves on an address that is not loopback, so that other machines can scrape it:
    /// behind a firewall, since anyone who reaches it reads the figures.
    pub fn allow_remote(mut self) -> Self {
        self.remote = true;
        self
    }

    /// Installs this process's Prometheus recorder (once for all nodes), turns the timing
    /// of calls on, and serves `GET /metrics` until the node shuts down.
    pub async fn start(self) -> Result<PrometheusEndpoint, HttpError> {
        let handle = recorder().ok_or(HttpError::OtherRecorder)?;
        http::parse_addr(&self.addr, self.remote)?;
        let handler: http::Handler = Arc::new(move |req| {
            let handle = handle.clone();
            async move {
                if req.uri().path() != "/metrics" {
                    return http::text(StatusCode::NOT_FOUND, "metrics are at /metrics\n");
                }
                if req.method() != Method::GET {
                    let mut r = http::text(StatusCode::METHOD_NOT_ALLOWED, "GET /metrics\n");
                    r.headers_mut().insert(
                        hyper::header::ALLOW,
                        hyper::header::HeaderValue::from_static("GET"),
                    );
                    return r;
                }
                let live: Vec<Node> = {
                    let mut nodes = lock(nodes());
                    nodes.retain(|n| n.upgrade().is_some());
                    nodes.iter().filter_map(WeakNode::upgrade).collect()
                };
                for node in &live {
                    super::report::report(node);
                }
                handle.run_upkeep();
                http::respond(
                    StatusCode::OK,
                    "text/plain; version=0.0.4; charset=utf-8",
                    handle.render(),
                )
            }
            .boxed()
        });
        let server = http::serve(&self.node, &self.addr, self.remote, handler).await?;
        lock(nodes()).push(self.node.downgrade());
        tracing::info!(node = %self.node.name(), "metrics at http://{}/metrics", server.addr);
        Ok(PrometheusEndpoint { server })
    }
}

/// A running Prometheus endpoint.
pub struct PrometheusEndpoint {
    server: Server,
}

impl PrometheusEndpoint {
    /// The address it listens on.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.server.addr
    }

    /// Stops serving (it stops by itself when its node shuts down).
    pub fn stop(&self) {
        self.server.stop();
    }
}
