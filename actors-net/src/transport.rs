//! The transport seam: listen, dial, and a byte stream each way.
//!
//! Everything above it (handshake, frames, heartbeats) is the same whichever transport runs.
//! TCP is the default.

use std::io;

use actors::dist::rt::io::{AsyncRead, AsyncWrite};
use actors::dist::rt::net::{TcpListener, TcpStream};
use futures::future::BoxFuture;

/// One connection's two directions, and a way to cut it from outside.
pub struct Stream {
    /// Bytes from the peer.
    pub reader: Box<dyn AsyncRead + Send + Unpin>,
    /// Bytes to the peer.
    pub writer: Box<dyn AsyncWrite + Send + Unpin>,
    /// Shuts both directions down, waking a blocked reader.
    pub close: Box<dyn Fn() + Send + Sync>,
    /// The peer's address, for logs.
    pub peer: String,
}

/// A connection just accepted: who it is from, and its stream once the transport's own
/// handshake (TLS, say) is done. That handshake runs in the connection's task, under the
/// node's handshake deadline, so a slow peer never holds up the accepting of others.
pub struct Incoming {
    /// The peer's address, for logs.
    pub peer: String,
    /// The stream, ready for the node's handshake.
    pub stream: BoxFuture<'static, io::Result<Stream>>,
}

/// Accepts incoming streams.
pub trait Listener: Send + Sync {
    /// The address actually bound (with the real port when asked for port 0).
    fn local_addr(&self) -> io::Result<String>;
    /// The next incoming connection.
    fn accept(&self) -> BoxFuture<'_, io::Result<Incoming>>;
}

/// Makes listeners and outgoing streams.
pub trait Transport: Send + Sync + 'static {
    /// Listens on `addr` (`host:port`).
    fn listen<'a>(&'a self, addr: &'a str) -> BoxFuture<'a, io::Result<Box<dyn Listener>>>;
    /// Connects to `addr` (`host:port`).
    fn dial<'a>(&'a self, addr: &'a str) -> BoxFuture<'a, io::Result<Stream>>;
}

/// The `host:port` a node name carries.
pub(crate) fn address(name: &str) -> Option<&str> {
    let (_, addr) = name.rsplit_once('@')?;
    addr.rsplit_once(':')?.1.parse::<u16>().ok()?;
    Some(addr)
}

/// Plain TCP, with Nagle's algorithm off: frames are batched by the writer already.
pub struct Tcp;

/// The peer's address of `tcp`, for logs.
pub(crate) fn peer_of(tcp: &TcpStream) -> String {
    tcp.peer_addr()
        .map_or_else(|_| "?".to_string(), |a| a.to_string())
}

fn stream(tcp: TcpStream) -> io::Result<Stream> {
    tcp.set_nodelay(true)?;
    let peer = peer_of(&tcp);
    let closer = tcp.clone();
    Ok(Stream {
        reader: Box::new(tcp.clone()),
        writer: Box::new(tcp),
        close: Box::new(move || {
            let _ = closer.shutdown(std::net::Shutdown::Both);
        }),
        peer,
    })
}

struct TcpListen(TcpListener);

impl Listener for TcpListen {
    fn local_addr(&self) -> io::Result<String> {
        Ok(self.0.local_addr()?.to_string())
    }
    fn accept(&self) -> BoxFuture<'_, io::Result<Incoming>> {
        Box::pin(async move {
            let (tcp, _) = self.0.accept().await?;
            Ok(Incoming {
                peer: peer_of(&tcp),
                stream: Box::pin(async move { stream(tcp) }),
            })
        })
    }
}

impl Transport for Tcp {
    fn listen<'a>(&'a self, addr: &'a str) -> BoxFuture<'a, io::Result<Box<dyn Listener>>> {
        Box::pin(async move {
            let l: Box<dyn Listener> = Box::new(TcpListen(TcpListener::bind(addr).await?));
            Ok(l)
        })
    }
    fn dial<'a>(&'a self, addr: &'a str) -> BoxFuture<'a, io::Result<Stream>> {
        Box::pin(async move { stream(TcpStream::connect(addr).await?) })
    }
}
