//! A node's way onto the simulated network: the [`Transport`] of one host.

use std::io;
use std::sync::{Arc, Mutex};
use std::task::Poll;

use futures::future::BoxFuture;

use super::world::{Backlog, SimNet, lock};
use crate::transport::{Incoming, Listener, Stream, Transport};

/// The transport of host `host` on a [`SimNet`]: give it to `NodeBuilder::transport`.
pub struct SimTransport {
    pub(crate) net: SimNet,
    pub(crate) host: String,
}

impl SimNet {
    /// The transport of the machine `host` (the host part of its nodes' names).
    pub fn transport(&self, host: &str) -> SimTransport {
        SimTransport {
            net: self.clone(),
            host: host.to_string(),
        }
    }
}

struct SimListener {
    net: SimNet,
    addr: String,
    backlog: Arc<Mutex<Backlog>>,
}

impl Drop for SimListener {
    fn drop(&mut self) {
        self.net.unlisten(&self.addr);
    }
}

impl Listener for SimListener {
    fn local_addr(&self) -> io::Result<String> {
        Ok(self.addr.clone())
    }

    fn accept(&self) -> BoxFuture<'_, io::Result<Incoming>> {
        Box::pin(futures::future::poll_fn(move |cx| {
            let mut b = lock(&self.backlog);
            if let Some((peer, stream)) = b.queue.pop_front() {
                return Poll::Ready(Ok(Incoming {
                    peer,
                    stream: Box::pin(async move { Ok::<Stream, io::Error>(stream) }),
                }));
            }
            if b.closed {
                return Poll::Ready(Err(io::ErrorKind::NotConnected.into()));
            }
            b.waker = Some(cx.waker().clone());
            Poll::Pending
        }))
    }
}

impl Transport for SimTransport {
    fn listen<'a>(&'a self, addr: &'a str) -> BoxFuture<'a, io::Result<Box<dyn Listener>>> {
        Box::pin(async move {
            let port = addr.rsplit_once(':').map_or("0", |(_, p)| p);
            let (addr, backlog) = self.net.listen(&format!("{}:{port}", self.host))?;
            let l: Box<dyn Listener> = Box::new(SimListener {
                net: self.net.clone(),
                addr,
                backlog,
            });
            Ok(l)
        })
    }

    fn dial<'a>(&'a self, addr: &'a str) -> BoxFuture<'a, io::Result<Stream>> {
        Box::pin(self.net.dial(&self.host, addr))
    }
}
