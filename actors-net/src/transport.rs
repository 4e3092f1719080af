//! The transport seam: listen, dial, and a byte stream each way.
//!
//! Everything above it (handshake, frames, heartbeats) is the same whichever transport runs.
//! TCP is the default.

use std::io;

use actors::rt::io::{AsyncRead, AsyncWrite};
use actors::rt::net::{TcpListener, TcpStream};
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

/// Accepts incoming streams.
pub trait Listener: Send + Sync {
    /// The address actually bound (with the real port when asked for port 0).
    fn local_addr(&self) -> io::Result<String>;
    /// The next incoming stream.
    fn accept(&self) -> BoxFuture<'_, io::Result<Stream>>;
}

/// Makes listeners and outgoing streams.
pub trait Transport: Send + Sync + 'static {
    /// Listens on `addr` (`host:port`).
    fn listen<'a>(&'a self, addr: &'a str) -> BoxFuture<'a, io::Result<Box<dyn Listener>>>;
    /// Connects to `addr` (`host:port`).
    fn dial<'a>(&'a self, addr: &'a str) -> BoxFuture<'a, io::Result<Stream>>;
}

/// Plain TCP, with Nagle's algorithm off: frames are batched by the writer already.
pub struct Tcp;

fn stream(tcp: TcpStream) -> io::Result<Stream> {
    tcp.set_nodelay(true)?;
    let peer = tcp
        .peer_addr()
        .map_or_else(|_| "?".to_string(), |a| a.to_string());
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
    fn accept(&self) -> BoxFuture<'_, io::Result<Stream>> {
        Box::pin(async move { stream(self.0.accept().await?.0) })
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
