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
//! Between two nodes there is one TCP connection (TLS with the `tls` feature: `tls::Tls`).
//! A handshake proves both know the cookie (HMAC-SHA256 over fresh nonces; the cookie never
//! crosses the wire). Frames are
//! length-prefixed; messages are CBOR. Heartbeats find a frozen node; a killed one is seen at
//! once through its closed socket.
//!
//! # A path through the library
//!
//! 1. [`NodeBuilder`] (`Node::builder(name)`): a node's name, cookie, heartbeat, transport.
//! 2. [`Discovery`]: nodes that find each other by a list or by DNS (feature `dns`,
//!    default), as deployed.
//! 3. [`DistNode`]: [`connect`](DistNode::connect), [`whereis_on`](DistNode::whereis_on),
//!    [`spawn_on`](DistNode::spawn_on), node events; a remote pid is called as a local one.
//! 4. [`GlobalNames`]: cluster-wide names, as Erlang's `global`, with conflict resolution
//!    when partitions heal.
//! 5. [`ProcessGroups`]: process groups, as Erlang's `pg`.
//! 6. [`distributed::DistributedSupervisor`]: children that run on one live member each and
//!    survive the loss of any node; [`failover_child`]: a supervisor's child that prefers
//!    nodes in order and moves down the list when its node is lost, whichever node that is;
//!    [`remote_child`]: a supervisor's child on one other node.
//! 7. [`introspect`]: what any node of the cluster runs and sees, asked from any other.
//! 8. [`beam`]: a node that also speaks Erlang's distribution protocol to BEAM nodes;
//!    `tls` (feature `tls`): mutual TLS between nodes; `sim` (feature `sim`): a simulated
//!    cluster.
//! 9. `logs::init` (feature `logs`, default): logs to stderr, filtered by `RUST_LOG`.

//! # Layers
//!
//! Each module calls only modules of its own layer or below; no two modules import each
//! other, directly or round a circle (`tests/tests/layers.rs` at the workspace root checks it):
//!
//! | layer | modules | what it does |
//! |---|---|---|
//! | 0 settings and transport | `config`, `builder`, `discovery`, `transport`, `tls`, `logs`, `http` | settings; finding nodes by a list or DNS; listen, dial, byte streams; logs to stderr; a small HTTP server |
//! | 1 handshake | `handshake` | the cookie proof, before anything is decided |
//! | 2 frames | `frame` | the wire format of messages and control frames |
//! | 3 connection | `connection`, `io` | one connection: its queue, its tasks, what crosses it |
//! | 4 peers | `net`, `setup` | the peer table, dialling and answering, node events, failed links, healing |
//! | 5 routing | `router`, `requests`, `control`, `dispatch` | messages and signals out to connections; lookups and remote spawns; control frames, one function each; frames in to processes |
//! | 6 distributed node | `node` | `DistNode`: what a distributed node adds to a node |
//! | 7 services | `global`, `groups`, `pubsub`, `presence`, `introspect`, `metrics`, `observer`, `spawn`, `system`, `beam`, `distributed`, `failover` | names, process groups, PubSub and Presence, introspection, metrics, the observer page, remote children, the system supervisor; built on the layers below |
//! | 8 start | `start` | `NodeBuilder::start`: every layer wired together |
//!
//! The connection layer hands what it reads up through `io::Owner`, which the routing layer
//! implements; state of a layer or service that the node keeps is one extension per type
//! (`actors::dist::set_extension`).

#![deny(missing_docs)]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod beam;
pub mod distributed;

/// The README's examples, compiled and run as doc tests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExamples;
mod builder;
mod config;
mod connection;
mod control;
mod discovery;
mod dispatch;
mod failover;
mod frame;
pub mod global;
pub mod groups;
mod handshake;
#[cfg(feature = "http")]
mod http;
pub mod introspect;
mod io;
mod links;
#[cfg(feature = "logs")]
pub mod logs;
#[cfg(feature = "metrics")]
pub mod metrics;
mod net;
mod node;
#[cfg(feature = "observer")]
pub mod observer;
pub mod overlay;
pub mod presence;
pub mod pubsub;
mod requests;
mod router;
mod setup;
#[cfg(feature = "sim")]
pub mod sim;
mod spawn;
mod start;
mod system;
#[cfg(feature = "tls")]
pub mod tls;
pub mod transport;

pub use actors;
pub use builder::NodeBuilder;
pub use connection::ConnectionInfo;
pub use discovery::Discovery;
pub use global::GlobalNames;
pub use groups::ProcessGroups;
pub use net::NodeEvent;
pub use node::{ConnectError, DistNode, NodeEvents};
pub use requests::{LookupError, SpawnError};
pub use start::StartError;

pub use failover::{FailoverChild, failover_child};
pub use spawn::{DistCtx, GlobalChild, remote_child};

/// The raw protocol and the system servers, for tests and fuzz targets that speak them
/// directly (feature `testing`); applications have no use for them.
#[cfg(feature = "testing")]
pub mod testing {
    /// Frames on a connection.
    pub mod frame {
        pub use crate::frame::*;
    }
    /// The cookie handshake.
    pub mod handshake {
        pub use crate::handshake::*;
    }
    pub use crate::global::server::{GlobalServer, Hold, Prepared};
    pub use crate::groups::server::GroupServer;
}

/// Everything a distributed program needs: `use actors_net::prelude::*;`.
pub mod prelude {
    pub use crate::beam::BeamNode;
    pub use crate::global::GlobalNames;
    pub use crate::groups::ProcessGroups;
    pub use crate::introspect::NodeIntrospect;
    #[cfg(feature = "metrics")]
    pub use crate::metrics::NodeMetrics;
    pub use crate::net::NodeEvent;
    pub use crate::node::DistNode;
    #[cfg(feature = "observer")]
    pub use crate::observer::NodeObserver;
    pub use crate::pubsub::NodePubSub;
    pub use crate::spawn::{DistCtx, GlobalChild};
    pub use actors::prelude::*;
}
