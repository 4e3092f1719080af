//! A live page of the cluster, served by one node, as Erlang's observer and Phoenix
//! LiveDashboard show a running system (feature `observer`).
//!
//! The serving node asks every node it is connected to (through [`crate::introspect`]),
//! so one page shows the whole cluster: the nodes and their connections as a graph; per
//! node its supervision trees and its processes by mailbox length or message rate; the
//! global names; the groups and their members; a process in full (links, monitors, its
//! state when its actor shows it). With actions enabled, a process can be killed and a
//! node disconnected from the page. The page updates itself every second (server-sent
//! events); its assets are inside the crate.
//!
//! It listens on loopback unless [`ObserverBuilder::allow_remote`], and needs a token: the
//! URL returned by [`Observer::url`] carries it, and the page keeps it in a cookie.
//!
//! ```
//! # use actors_net::prelude::*;
//! # actors::rt::block_on(async {
//! let node = Node::builder("a@127.0.0.1:0").cookie("c").start().await?;
//! let observer = node.observer("127.0.0.1:0").actions(true).start().await?;
//! println!("open {}", observer.url());     // http://127.0.0.1:PORT/?token=...
//! # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
//! ```

mod cluster;
mod routes;
mod view;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use actors::Node;
use futures::FutureExt;

pub use crate::http::HttpError;
use crate::http::{self, Server};
use cluster::Cluster;
use routes::Site;

/// Processes listed per node, the longest mailboxes first.
const MAX_LISTED: usize = 1_000;

/// The observer of a node; in `actors_net::prelude` with feature `observer`.
pub trait NodeObserver {
    /// A page of the cluster served by this node at `addr` (`ip:port`, port 0 for any free
    /// one), once started.
    fn observer(&self, addr: &str) -> ObserverBuilder;
}

impl NodeObserver for Node {
    fn observer(&self, addr: &str) -> ObserverBuilder {
        ObserverBuilder {
            node: self.clone(),
            addr: addr.to_string(),
            remote: false,
            actions: false,
            token: None,
            every: Duration::from_secs(1),
        }
    }
}

/// An observer to start: [`NodeObserver::observer`].
#[must_use = "the observer serves nothing until started"]
pub struct ObserverBuilder {
    node: Node,
    addr: String,
    remote: bool,
    actions: bool,
    token: Option<String>,
    every: Duration,
}

impl ObserverBuilder {
    /// Serves on an address that is not loopback. Anyone with the token then sees every
    /// process's state the actors show: keep it behind TLS termination and a firewall.
    pub fn allow_remote(mut self) -> Self {
        self.remote = true;
        self
    }

    /// Lets the page kill processes and disconnect nodes (off by default).
    pub fn actions(mut self, on: bool) -> Self {
        self.actions = on;
        self
    }

    /// Uses `token` rather than a fresh random one (16 bytes, in hex).
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// How often the page is sent the cluster anew (default every second).
    pub fn every(mut self, every: Duration) -> Self {
        self.every = every;
        self
    }

    /// Serves the page until the node shuts down or [`Observer::stop`].
    pub async fn start(self) -> Result<Observer, HttpError> {
        let token = match self.token {
            Some(t) => t,
            None => fresh_token()?,
        };
        let site = Arc::new(Site {
            cluster: Cluster::new(&self.node, self.actions, MAX_LISTED, self.every / 2),
            token: token.clone(),
            every: self.every,
            server: OnceLock::new(),
        });
        let serving = site.clone();
        let handler: http::Handler =
            Arc::new(move |req| routes::handle(serving.clone(), req).boxed());
        let server = http::serve(&self.node, &self.addr, self.remote, handler).await?;
        let _ = site.server.set(server.clone());
        let observer = Observer { server, token };
        tracing::info!(node = %self.node.name(), "observer at {}", observer.url());
        Ok(observer)
    }
}

fn fresh_token() -> Result<String, HttpError> {
    let mut bytes = [0u8; 16];
    actors::dist::rt::fill_random(&mut bytes).map_err(|reason| HttpError::Bind {
        addr: "the token".into(),
        reason,
    })?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// A running observer.
pub struct Observer {
    server: Server,
    token: String,
}

impl Observer {
    /// The address it listens on.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.server.addr
    }

    /// The token the page needs.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The page's URL, with its token: print it for whoever should see the cluster.
    pub fn url(&self) -> String {
        format!("http://{}/?token={}", self.server.addr, self.token)
    }

    /// Stops serving; open pages stop updating (it stops by itself when its node shuts
    /// down).
    pub fn stop(&self) {
        self.server.stop();
    }
}
