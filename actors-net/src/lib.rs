//! Distribution for `actors`: nodes that connect over TCP and carry calls, casts and signals
//! between processes on different nodes, so that a pid of another node is used exactly like a
//! local one.
//!
//! ```no_run
//! use actors_net::prelude::*;
//!
//! #[actor]
//! struct Counter { n: u64 }
//!
//! #[actor]
//! impl Counter {
//!     #[handle]
//!     fn add(&mut self, by: u64) -> u64 { self.n += by; self.n }
//! }
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let a = Node::builder("a@127.0.0.1:0").cookie("secret").start().await?;
//! let b = Node::builder("b@127.0.0.1:0").cookie("secret").start().await?;
//! a.connect(b.name()).await?;
//! let counter = b.spawn(Counter { n: 0 });
//! b.register("counter", &counter)?;
//! let remote: Pid<Counter> = a.whereis_on("counter", b.name()).await?;
//! assert_eq!(remote.add(2).await?, 2);        // the same call, across the network
//! # Ok(()) }
//! ```
//!
//! Between two nodes there is one TCP connection (TLS with the `tls` feature: [`tls::Tls`]).
//! A handshake proves both know the cookie (HMAC-SHA256 over fresh nonces; the cookie never
//! crosses the wire). Frames are
//! length-prefixed; messages are CBOR. Heartbeats find a frozen node; a killed one is seen at
//! once through its closed socket.

#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod config;
mod connection;
mod dispatch;
pub mod frame;
pub mod global;
pub mod groups;
pub mod handshake;
mod io;
mod net;
mod node;
mod router;
mod setup;
mod spawn;
mod system;
#[cfg(feature = "tls")]
pub mod tls;
pub mod transport;

pub use actors;
pub use node::{
    ConnectError, ConnectionInfo, DistNode, LookupError, NodeBuilder, NodeEvent, NodeEvents,
    StartError,
};

pub use spawn::{DistCtx, SpawnError, failover_child, remote_child};

/// Everything a distributed program needs: `use actors_net::prelude::*;`.
pub mod prelude {
    pub use crate::node::{DistNode, NodeEvent};
    pub use crate::spawn::DistCtx;
    pub use actors::prelude::*;
}
