//! Publish and subscribe across the cluster, in the role of Phoenix.PubSub: a process
//! subscribes to a topic and receives every message broadcast to it, from any node.
//!
//! A broadcast crosses the wire once per node that has subscribers, not once per subscriber:
//! each node runs one PubSub server, a member of the process group of every topic the node
//! has subscribers to (in the scope `actors_net.pubsub`, apart from the user's groups); a
//! broadcast is encoded once, sent to each of those servers, and each hands a copy to its
//! node's subscribers. Subscribers on the broadcasting node get theirs at once, without the
//! wire. A subscription is a stream: attach it to an actor (`ctx.attach_stream`), and it
//! ends with the process; dropped, it is unsubscribed.
//!
//! Order: the broadcasts of one process to one topic reach each subscriber in the order
//! they were made, as the messages of one process to another do; broadcasts of different
//! processes interleave. A node that is not connected misses what is broadcast meanwhile
//! (pg's membership, and no replay).
//!
//! ```
//! # use actors_net::prelude::*;
//! use actors_net::pubsub::Topic;
//! use futures::StreamExt;
//! #[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
//! struct Line(String);
//! # actors::rt::block_on(async {
//! let a = Node::builder("a@127.0.0.1:0").cookie("c").start().await?;
//! let lobby: Topic<Line> = Topic::new("room:lobby");
//! let mut sub = a.pubsub().subscribe(&lobby).await?;
//! a.pubsub().broadcast(&lobby, Line("hello".into()))?;
//! assert_eq!(sub.next().await, Some(Line("hello".into())));
//! # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
//! ```

mod registry;
mod server;
mod topic;

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use actors::supervisor::ChildSpec;
use actors::{Node, Pid};
use futures::channel::mpsc;

use registry::Registry;
use server::{PubSubServer, SCOPE, SERVER_NAME};
use topic::Key;
pub use topic::{Message, Topic};

use crate::groups::ProcessGroups;

/// Why a PubSub operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PubSubError {
    /// The node was started with `Node::local()`, not `Node::builder(..).start()`.
    #[error("the node is not distributed: start it with Node::builder(name).start()")]
    NotDistributed,
    /// The node's PubSub server is not running (the node is shutting down).
    #[error("the node's PubSub server is not running: is the node shutting down?")]
    ServerDown,
    /// The message could not be encoded for other nodes.
    #[error("the message cannot be encoded for other nodes: {0}")]
    Encode(String),
}

/// PubSub of a node; in `actors_net::prelude`.
pub trait NodePubSub {
    /// This node's handle on the cluster's PubSub.
    fn pubsub(&self) -> PubSub;
}

impl NodePubSub for Node {
    fn pubsub(&self) -> PubSub {
        let registry = actors::dist::extension::<Registry>(self).unwrap_or_else(|| {
            let fresh = Arc::new(Registry::default());
            actors::dist::set_extension(self, fresh.clone());
            actors::dist::extension::<Registry>(self).unwrap_or(fresh)
        });
        PubSub {
            node: self.clone(),
            registry,
        }
    }
}

/// A node's handle on the cluster's PubSub: [`NodePubSub::pubsub`].
#[derive(Clone)]
pub struct PubSub {
    node: Node,
    registry: Arc<Registry>,
}

/// Which subscription a [`PubSub::broadcast_from`] leaves out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SubscriptionId(u64);

/// Messages broadcast to a topic, as a stream; unsubscribed when dropped.
pub struct Subscription<M: Message> {
    id: u64,
    key: Key,
    rx: mpsc::UnboundedReceiver<M>,
    registry: Arc<Registry>,
    node: Node,
}

impl<M: Message> Subscription<M> {
    /// Its id, for [`PubSub::broadcast_from`].
    pub fn id(&self) -> SubscriptionId {
        SubscriptionId(self.id)
    }
}

impl<M: Message> futures::Stream for Subscription<M> {
    type Item = M;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<M>> {
        Pin::new(&mut self.rx).poll_next(cx)
    }
}

impl<M: Message> Drop for Subscription<M> {
    fn drop(&mut self) {
        // The server now: the system supervisor may have restarted it since.
        if self.registry.unsubscribe(&self.key, self.id)
            && let Some(server) = self.node.whereis::<PubSubServer>(SERVER_NAME)
        {
            let _ = server.forget(self.key.clone());
        }
    }
}

impl PubSub {
    /// The node's server, started under the system supervisor at the first subscription.
    async fn server(&self) -> Result<Pid<PubSubServer>, PubSubError> {
        if let Some(pid) = self.node.whereis::<PubSubServer>(SERVER_NAME) {
            return Ok(pid);
        }
        let registry = self.registry.clone();
        let spec = ChildSpec::new(SERVER_NAME, move || PubSubServer::new(registry.clone()))
            .name(SERVER_NAME);
        if !crate::system::add(&self.node, spec).await
            && self.node.whereis::<PubSubServer>(SERVER_NAME).is_none()
        {
            return Err(if crate::requests::Routing::of(&self.node).is_none() {
                PubSubError::NotDistributed
            } else {
                PubSubError::ServerDown
            });
        }
        self.node
            .whereis::<PubSubServer>(SERVER_NAME)
            .ok_or(PubSubError::ServerDown)
    }

    /// Subscribes to `topic`: from when this returns, the stream has every message broadcast
    /// to it here, and, once this node's membership has reached them (at once for nodes
    /// connected now, as a process group's join), from other nodes.
    pub async fn subscribe<M: Message>(
        &self,
        topic: &Topic<M>,
    ) -> Result<Subscription<M>, PubSubError> {
        let server = self.server().await?;
        let key = topic.key();
        let (id, rx) = self.registry.subscribe::<M>(&key);
        let sub = Subscription {
            id,
            key: key.clone(),
            rx,
            registry: self.registry.clone(),
            node: self.node.clone(),
        };
        server
            .sync(key)
            .await
            .map_err(|_| PubSubError::ServerDown)?;
        Ok(sub)
    }

    /// Sends `msg` to every subscriber of `topic` on every connected node: encoded once,
    /// one frame per node that has subscribers.
    pub fn broadcast<M: Message>(&self, topic: &Topic<M>, msg: M) -> Result<(), PubSubError> {
        self.send(topic, msg, None)
    }

    /// As [`PubSub::broadcast`], but not to subscription `from` (the sender's own).
    pub fn broadcast_from<M: Message>(
        &self,
        from: SubscriptionId,
        topic: &Topic<M>,
        msg: M,
    ) -> Result<(), PubSubError> {
        self.send(topic, msg, Some(from.0))
    }

    /// The other nodes with subscribers to `topic`, as this node knows them now (what a
    /// broadcast from here reaches besides this node): a local read.
    pub fn nodes<M: Message>(&self, topic: &Topic<M>) -> Vec<String> {
        let here = self.node.name();
        let mut nodes: Vec<String> = self
            .node
            .scope(SCOPE)
            .members(&topic.key().group())
            .to_vec()
            .into_iter()
            .map(|p| p.node().to_string())
            .filter(|n| n != here)
            .collect();
        nodes.sort();
        nodes.dedup();
        nodes
    }

    /// Sends `msg` to the subscribers of `topic` on this node only; how many took it.
    pub fn local_broadcast<M: Message>(&self, topic: &Topic<M>, msg: M) -> usize {
        self.registry.deliver(&topic.key(), &msg, None)
    }

    fn send<M: Message>(
        &self,
        topic: &Topic<M>,
        msg: M,
        except: Option<u64>,
    ) -> Result<(), PubSubError> {
        let key = topic.key();
        let here = self.node.name();
        let servers: Vec<Pid<PubSubServer>> = self
            .node
            .scope(SCOPE)
            .members(&key.group())
            .to_vec()
            .into_iter()
            .filter(|p| p.node() != here)
            .filter_map(|p| p.downcast::<PubSubServer>())
            .collect();
        if !servers.is_empty() {
            let mut bytes = Vec::new();
            actors::dist::encode(&msg, &mut bytes)
                .map_err(|e| PubSubError::Encode(e.to_string()))?;
            let payload = serde_bytes::ByteBuf::from(bytes);
            for server in servers {
                // A node going away misses it, as with any message to it.
                let _ = server.deliver(key.clone(), payload.clone());
            }
        }
        self.registry.deliver(&key, &msg, except);
        Ok(())
    }
}
