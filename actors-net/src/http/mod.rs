//! A small HTTP server on the runtime, for what a node serves to people and tools: the
//! Prometheus endpoint (feature `metrics`) and the observer page (feature `observer`).
//!
//! It listens on loopback unless told otherwise, holds a bounded number of connections,
//! gives each request's head a time limit, and stops when its node shuts down.

mod io;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use actors::Node;
use bytes::Bytes;
use futures::FutureExt;
use futures::future::BoxFuture;
use http_body_util::BodyExt;
use hyper::{Request, Response, StatusCode};

use actors::dist::Unpoisoned;

/// A response body: whole, or a stream (server-sent events).
pub(crate) type Body = http_body_util::combinators::UnsyncBoxBody<Bytes, Infallible>;

/// What answers each request.
pub(crate) type Handler =
    Arc<dyn Fn(Request<hyper::body::Incoming>) -> BoxFuture<'static, Response<Body>> + Send + Sync>;

/// Connections served at once; more are closed as they arrive.
const MAX_CONNECTIONS: usize = 64;

/// How long a request's head may take to arrive.
const HEAD_WITHIN: Duration = Duration::from_secs(10);

/// Why an HTTP endpoint did not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// The address is not `ip:port` (or `localhost:port`).
    #[error("{0} is not an address to listen on: give ip:port, such as 127.0.0.1:0")]
    BadAddress(String),
    /// The address is not loopback, and serving beyond this machine was not allowed.
    #[error(
        "{0} is not a loopback address: call allow_remote() to serve beyond this machine, behind a firewall"
    )]
    NotLoopback(SocketAddr),
    /// The socket could not be bound.
    #[error("cannot listen on {addr}: {reason}")]
    Bind {
        /// The address.
        addr: String,
        /// Why.
        reason: String,
    },
    /// Another metrics recorder is installed in this process.
    #[error(
        "another metrics recorder is installed: serve its metrics, and call actors_net::metrics::report(&node) to feed it"
    )]
    OtherRecorder,
}

/// The address `addr` names, refused when it is not loopback and `remote` is not allowed.
pub(crate) fn parse_addr(addr: &str, remote: bool) -> Result<SocketAddr, HttpError> {
    let parsed = match addr.strip_prefix("localhost:") {
        Some(port) => port
            .parse::<u16>()
            .map(|p| SocketAddr::from(([127, 0, 0, 1], p)))
            .ok(),
        None => addr.parse::<SocketAddr>().ok(),
    };
    let parsed = parsed.ok_or_else(|| HttpError::BadAddress(addr.to_string()))?;
    if !remote && !parsed.ip().is_loopback() {
        return Err(HttpError::NotLoopback(parsed));
    }
    Ok(parsed)
}

/// Servers of one node, stopped when it shuts down.
#[derive(Default)]
struct Servers(std::sync::Mutex<Vec<Arc<AtomicBool>>>);

impl actors::dist::Extension for Servers {
    fn shutdown(&self) {
        for stop in self.0.lock().unpoisoned().drain(..) {
            stop.store(true, Ordering::Release);
        }
    }
}

/// A running HTTP server.
#[derive(Clone)]
pub(crate) struct Server {
    pub(crate) addr: SocketAddr,
    pub(crate) stopped: Arc<AtomicBool>,
}

impl Server {
    /// Stops taking connections; streams being served end at their next event.
    pub(crate) fn stop(&self) {
        self.stopped.store(true, Ordering::Release);
    }

    pub(crate) fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::Acquire)
    }
}

/// Listens on `addr` for `node`, answering every request with `handler`.
pub(crate) async fn serve(
    node: &Node,
    addr: &str,
    remote: bool,
    handler: Handler,
) -> Result<Server, HttpError> {
    let at = parse_addr(addr, remote)?;
    let bind_error = |e: std::io::Error| HttpError::Bind {
        addr: addr.to_string(),
        reason: e.to_string(),
    };
    let listener = actors::dist::rt::net::TcpListener::bind(at)
        .await
        .map_err(bind_error)?;
    let bound = listener.local_addr().map_err(bind_error)?;
    let stopped = Arc::new(AtomicBool::new(false));
    let servers = actors::dist::extension::<Servers>(node).unwrap_or_else(|| {
        let fresh = Arc::new(Servers::default());
        actors::dist::set_extension(node, fresh.clone());
        actors::dist::extension::<Servers>(node).unwrap_or(fresh)
    });
    servers.0.lock().unpoisoned().push(stopped.clone());
    let server = Server {
        addr: bound,
        stopped,
    };
    let open = Arc::new(AtomicUsize::new(0));
    let accepting = server.clone();
    actors::rt::spawn(async move {
        while !accepting.is_stopped() {
            // Woken now and then to see whether the server was stopped.
            let next = actors::rt::timeout(Duration::from_millis(250), listener.accept()).await;
            let Ok(Ok((stream, _))) = next else {
                continue;
            };
            if open.fetch_add(1, Ordering::AcqRel) >= MAX_CONNECTIONS {
                open.fetch_sub(1, Ordering::AcqRel);
                continue;
            }
            let handler = handler.clone();
            let open = open.clone();
            actors::rt::spawn(async move {
                let service =
                    hyper::service::service_fn(move |req| handler(req).map(Ok::<_, Infallible>));
                let _ = hyper::server::conn::http1::Builder::new()
                    .timer(io::Timer)
                    .header_read_timeout(HEAD_WITHIN)
                    .serve_connection(io::Io(stream), service)
                    .await;
                open.fetch_sub(1, Ordering::AcqRel);
            });
        }
    });
    Ok(server)
}

/// A whole response.
pub(crate) fn respond(
    status: StatusCode,
    content_type: &str,
    body: impl Into<Bytes>,
) -> Response<Body> {
    let mut response = Response::new(
        http_body_util::Full::new(body.into())
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *response.status_mut() = status;
    if let Ok(value) = hyper::header::HeaderValue::from_str(content_type) {
        response
            .headers_mut()
            .insert(hyper::header::CONTENT_TYPE, value);
    }
    response
}

/// A plain-text response, for errors a person reads.
pub(crate) fn text(status: StatusCode, body: impl Into<String>) -> Response<Body> {
    respond(status, "text/plain; charset=utf-8", body.into())
}

/// The body of a request, up to `limit` bytes.
#[cfg(feature = "observer")]
pub(crate) async fn body(
    req: Request<hyper::body::Incoming>,
    limit: usize,
) -> Result<Bytes, Response<Body>> {
    match http_body_util::Limited::new(req.into_body(), limit)
        .collect()
        .await
    {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(text(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("a request body is at most {limit} bytes"),
        )),
        Err(e) => Err(text(
            StatusCode::BAD_REQUEST,
            format!("cannot read the body: {e}"),
        )),
    }
}
