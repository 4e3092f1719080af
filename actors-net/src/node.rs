//! What a distributed node can do beyond a local one: the `DistNode` trait.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use actors::{Actor, AnyPid, Node, Pid};
use serde::Serialize;
use serde::de::DeserializeOwned;

use futures::Stream;
use futures::channel::mpsc;

use crate::builder::NodeBuilder;
use crate::connection::{ConnectionInfo, lock};
use crate::net::{Net, NodeEvent};
use crate::requests::{LookupError, Routing, SpawnError};

/// A stream of [`NodeEvent`]s from [`DistNode::monitor_nodes`].
pub struct NodeEvents(mpsc::UnboundedReceiver<NodeEvent>);

impl NodeEvents {
    /// The next event; `None` once the node is gone.
    pub async fn next(&mut self) -> Option<NodeEvent> {
        futures::StreamExt::next(&mut self.0).await
    }
}

impl Stream for NodeEvents {
    type Item = NodeEvent;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<NodeEvent>> {
        Pin::new(&mut self.0).poll_next(cx)
    }
}

/// Why a connection could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// This node has no network (`Node::local()`).
    #[error(
        "this node is not distributed: start it with Node::builder(\"name@host:port\") to connect"
    )]
    NotDistributed,
    /// The name is not `name@host:port`, is this node's own, or is blocked.
    #[error(
        "cannot connect to {0}: a node's name is name@host:port, not this node's own, and not blocked"
    )]
    Unreachable(String),
    /// The attempt failed, with the reason.
    #[error("cannot connect to {node}: {reason}")]
    Failed {
        /// The node.
        node: String,
        /// Why.
        reason: String,
    },
}

fn net(node: &Node) -> Option<Arc<Net>> {
    actors::dist::extension::<Net>(node)
}

/// The overlay `node` runs, if it runs one: where services publish their notes.
pub(crate) fn overlay(node: &Node) -> Option<Arc<crate::links::Overlay>> {
    net(node)?.overlay().cloned()
}

/// What a distributed node adds to [`Node`]; in `actors_net::prelude`.
pub trait DistNode: Sized {
    /// Starts building a distributed node named `name@host:port`.
    fn builder(name: &str) -> NodeBuilder;

    /// Connects to `node` (and, through it, to every node it knows: full mesh). Sends to a
    /// node's pids connect by themselves; this waits for the connection.
    ///
    /// ```
    /// # use actors_net::prelude::*;
    /// # actors::rt::block_on(async {
    /// let a = Node::builder("a@127.0.0.1:0").cookie("c").start().await.unwrap();
    /// let b = Node::builder("b@127.0.0.1:0").cookie("c").start().await.unwrap();
    /// a.connect(b.name()).await.expect("b is up, with the same cookie");
    /// assert_eq!(a.nodes(), vec![b.name().to_string()]);
    /// # });
    /// ```
    fn connect(&self, node: &str) -> impl Future<Output = Result<(), ConnectError>> + Send;

    /// Closes the connection to `node`; both sides see `NodeEvent::Down`.
    fn disconnect(&self, node: &str) -> bool;

    /// The nodes connected now, sorted.
    fn nodes(&self) -> Vec<String>;

    /// Connections coming up and going down, from now on.
    fn monitor_nodes(&self) -> NodeEvents;

    /// Cuts the connection to `node` and refuses it until [`DistNode::unblock`], as OTP's
    /// `disconnect_node` with an allow list: how tests cut a cluster into partitions.
    fn block(&self, node: &str);

    /// Allows the connection to `node` again.
    fn unblock(&self, node: &str);

    /// The process registered as `name` on `node`, if it is an `A`: `{Name, Node}` addressing.
    ///
    /// ```
    /// # use actors_net::prelude::*;
    /// # #[actor] #[derive(serde::Serialize, serde::Deserialize)] struct Counter { n: u64 }
    /// # #[actor] impl Counter { #[handle] fn add(&mut self, by: u64) -> u64 { self.n += by; self.n } }
    /// # actors::rt::block_on(async {
    /// # let a = Node::builder("a@127.0.0.1:0").cookie("c").start().await.unwrap();
    /// # let b = Node::builder("b@127.0.0.1:0").cookie("c").start().await.unwrap();
    /// b.register("counter", b.spawn(Counter { n: 0 })).unwrap();
    /// let remote: Pid<Counter> = a.whereis_on("counter", b.name()).await.unwrap();
    /// assert_eq!(remote.add(3).await, Ok(3));               // a call across the network
    /// # });
    /// ```
    fn whereis_on<A: Actor>(
        &self,
        name: &str,
        node: &str,
    ) -> impl Future<Output = Result<Pid<A>, LookupError>> + Send;

    /// Lets other nodes start processes of actor type `A` here (`spawn_on`, `spawn_link_on`,
    /// remote supervised children). Erlang spawns any loaded code; here a node says which
    /// types it runs.
    fn allow_spawn<A: Actor + Serialize + DeserializeOwned>(&self);

    /// Starts `actor` on `node`, which must allow its type: the actor's state crosses the
    /// wire, so it is `Serialize` (and `Deserialize` where it runs).
    ///
    /// ```
    /// # use actors_net::prelude::*;
    /// # #[actor] #[derive(serde::Serialize, serde::Deserialize)] struct Counter { n: u64 }
    /// # #[actor] impl Counter { #[handle] fn add(&mut self, by: u64) -> u64 { self.n += by; self.n } }
    /// # actors::rt::block_on(async {
    /// # let a = Node::builder("a@127.0.0.1:0").cookie("c").start().await.unwrap();
    /// # let b = Node::builder("b@127.0.0.1:0").cookie("c").start().await.unwrap();
    /// # a.connect(b.name()).await.unwrap();
    /// b.allow_spawn::<Counter>();
    /// let there = a.spawn_on(b.name(), Counter { n: 10 }).await.unwrap();
    /// assert_eq!(there.node(), b.name());
    /// assert_eq!(there.add(1).await, Ok(11));
    /// # });
    /// ```
    fn spawn_on<A: Actor + Serialize>(
        &self,
        node: &str,
        actor: A,
    ) -> impl Future<Output = Result<Pid<A>, SpawnError>> + Send;

    /// Resolves once the connection to `node` is down (at once if it cannot be made), as
    /// Erlang's `monitor_node`.
    fn monitor_node(&self, node: &str) -> impl Future<Output = ()> + Send;

    /// What crosses the connection to `node` now, if there is one.
    fn connection_info(&self, node: &str) -> Option<ConnectionInfo>;

    /// Connects to `node` if need be, and measures the round trip of one ping over the
    /// connection, as Erlang's `net_adm:ping` (`pong` is `Ok`, `pang` an error). The figure
    /// is kept in [`ConnectionInfo::round_trip`].
    ///
    /// ```
    /// # use actors_net::prelude::*;
    /// # actors::rt::block_on(async {
    /// let a = Node::builder("a@127.0.0.1:0").cookie("c").start().await.unwrap();
    /// let b = Node::builder("b@127.0.0.1:0").cookie("c").start().await.unwrap();
    /// let rtt = a.ping(b.name()).await.expect("pong");
    /// assert_eq!(a.connection_info(b.name()).unwrap().round_trip, Some(rtt));
    /// # });
    /// ```
    fn ping(&self, node: &str) -> impl Future<Output = Result<Duration, ConnectError>> + Send;

    /// The overlay's neighbours and routes, for a node started with
    /// [`NodeBuilder::overlay`](crate::NodeBuilder::overlay); `None` on a full mesh.
    fn overlay_info(&self) -> Option<crate::overlay::OverlayInfo>;
}

impl DistNode for Node {
    fn builder(name: &str) -> NodeBuilder {
        NodeBuilder::new(name)
    }

    async fn connect(&self, node: &str) -> Result<(), ConnectError> {
        let net = net(self).ok_or(ConnectError::NotDistributed)?;
        let conn = net
            .conn_or_dial(node, true)
            .ok_or_else(|| ConnectError::Unreachable(node.to_string()))?;
        std::future::poll_fn(|cx| conn.poll_settled(cx))
            .await
            .map_err(|reason| ConnectError::Failed {
                node: node.to_string(),
                reason,
            })
    }

    fn disconnect(&self, node: &str) -> bool {
        net(self).is_some_and(|net| net.disconnect(node))
    }

    fn nodes(&self) -> Vec<String> {
        net(self).map(|net| net.nodes()).unwrap_or_default()
    }

    fn monitor_nodes(&self) -> NodeEvents {
        let (tx, rx) = mpsc::unbounded();
        if let Some(net) = net(self) {
            net.subscribe(tx);
        }
        NodeEvents(rx)
    }

    fn block(&self, node: &str) {
        if let Some(net) = net(self) {
            net.block(node, true);
        }
    }

    fn unblock(&self, node: &str) {
        if let Some(net) = net(self) {
            net.block(node, false);
        }
    }

    fn allow_spawn<A: Actor + Serialize + DeserializeOwned>(&self) {
        if let Some(routing) = Routing::of(self) {
            routing.allow_spawn::<A>();
        }
    }

    async fn spawn_on<A: Actor + Serialize>(
        &self,
        node: &str,
        actor: A,
    ) -> Result<Pid<A>, SpawnError> {
        let routing =
            Routing::of(self).ok_or_else(|| SpawnError::NoConnection(node.to_string()))?;
        routing.spawn_on(node, actor, None).await
    }

    async fn monitor_node(&self, node: &str) {
        let mut events = self.monitor_nodes();
        if self.connect(node).await.is_err() {
            return;
        }
        if !self.nodes().iter().any(|n| n == node) {
            return;
        }
        while let Some(event) = events.next().await {
            if event == NodeEvent::Down(node.to_string()) {
                return;
            }
        }
    }

    async fn ping(&self, node: &str) -> Result<Duration, ConnectError> {
        self.connect(node).await?;
        let routing = Routing::of(self).ok_or(ConnectError::NotDistributed)?;
        let within = net(self).map_or(Duration::from_secs(5), |net| {
            net.config.heartbeat_interval * net.config.heartbeat_misses
        });
        routing
            .ping(node, within)
            .await
            .map_err(|reason| ConnectError::Failed {
                node: node.to_string(),
                reason,
            })
    }

    fn overlay_info(&self) -> Option<crate::overlay::OverlayInfo> {
        Some(net(self)?.overlay()?.info())
    }

    fn connection_info(&self, node: &str) -> Option<ConnectionInfo> {
        let net = net(self)?;
        let conn = lock(&net.peers).conns.get(node).cloned()?;
        Some(conn.info())
    }

    async fn whereis_on<A: Actor>(&self, name: &str, node: &str) -> Result<Pid<A>, LookupError> {
        if node == self.name() {
            return self
                .whereis(name)
                .ok_or_else(|| LookupError::NotRegistered {
                    name: name.to_string(),
                    node: node.to_string(),
                });
        }
        let routing =
            Routing::of(self).ok_or_else(|| LookupError::NoConnection(node.to_string()))?;
        let found: Option<AnyPid> = routing.lookup(node, name).await?;
        let pid = found.ok_or_else(|| LookupError::NotRegistered {
            name: name.to_string(),
            node: node.to_string(),
        })?;
        pid.downcast()
            .ok_or_else(|| LookupError::WrongType(name.to_string()))
    }
}
