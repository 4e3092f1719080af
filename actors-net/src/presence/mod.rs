//! Who is present where, across the cluster, in the role of Phoenix.Presence: a process is
//! tracked under a key in a topic, with metadata; every node lists the same presences once
//! the changes have reached it, and reads them locally.
//!
//! Each node's presence server is the only writer of its node's presences: its replica,
//! whose changes are numbered. The changes go to the other servers as deltas on a heartbeat
//! (every 100 ms); a server that finds a gap in the numbers, or meets another server (a node
//! connected, a partition healed), takes that server's whole replica. A tracked process that
//! ends leaves; a node seen down leaves with all its presences, on every node.
//!
//! Start it on every node that tracks or lists: [`Presence::start`].
//!
//! ```
//! # use actors_net::prelude::*;
//! use actors_net::presence::Presence;
//! use actors_net::pubsub::Topic;
//! #[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
//! struct Status { online_since: u64 }
//! # #[actor] struct User;
//! # #[actor] impl User { #[handle] fn hi(&self) {} }
//! # actors::rt::block_on(async {
//! let node = Node::builder("a@127.0.0.1:0").cookie("c").start().await?;
//! let presence = Presence::start(&node).await?;
//! let lobby: Topic<Status> = Topic::new("room:lobby");
//! let alice = node.spawn(User);
//! presence.track(&lobby, "alice", &alice, Status { online_since: 9 }).await?;
//! let online = presence.list(&lobby);
//! assert_eq!(online["alice"], vec![(alice.any(), Status { online_since: 9 })]);
//! # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
//! ```

mod server;
mod state;
mod view;

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use actors::supervisor::ChildSpec;
use actors::{AnyPid, Node, Pid};
use futures::channel::mpsc;

use crate::pubsub::{Message, Topic};
use server::{PresenceServer, SERVER_NAME};
use state::Seen;
use view::View;

/// How many presences one node's view takes from one other node, by default.
pub const DEFAULT_MAX_PRESENCES: usize = 100_000;

/// Why a presence operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PresenceError {
    /// The node was started with `Node::local()`, not `Node::builder(..).start()`.
    #[error("the node is not distributed: start it with Node::builder(name).start()")]
    NotDistributed,
    /// The node's presence server is not running (the node is shutting down).
    #[error("the node's presence server is not running: is the node shutting down?")]
    ServerDown,
    /// Only a process of this node can be tracked here.
    #[error("{0} is a process of another node: track it there")]
    NotLocal(String),
    /// The metadata could not be encoded for other nodes.
    #[error("the metadata cannot be encoded for other nodes: {0}")]
    Encode(String),
}

/// A node's handle on the cluster's presences.
#[derive(Clone)]
pub struct Presence {
    node: Node,
    view: Arc<View>,
}

/// What happened to a presence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PresenceChange {
    /// The process is present as the key.
    Join,
    /// Its metadata changed.
    Update,
    /// It is no longer present as the key (untracked, ended, or lost with its node).
    Leave,
}

/// A change in a topic's presences, as this node sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct PresenceEvent<M> {
    /// What happened.
    pub change: PresenceChange,
    /// The key it happened to.
    pub key: String,
    /// The process present as the key.
    pub pid: AnyPid,
    /// Its metadata (for a leave, its last).
    pub meta: M,
}

/// A topic's joins and leaves as this node sees them, as a stream.
pub struct PresenceEvents<M> {
    rx: mpsc::UnboundedReceiver<Seen>,
    node: Node,
    _meta: std::marker::PhantomData<fn() -> M>,
}

impl<M: Message> futures::Stream for PresenceEvents<M> {
    type Item = PresenceEvent<M>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            let Some(seen) = futures::ready!(Pin::new(&mut self.rx).poll_next(cx)) else {
                return Poll::Ready(None);
            };
            let e = seen.entry();
            // Metadata of another type (another build's topic of the same name) is passed over.
            let Ok(meta) = actors::dist::decode::<M>(&self.node, &e.meta) else {
                continue;
            };
            let change = match seen {
                Seen::Joined(_) => PresenceChange::Join,
                Seen::Updated(_) => PresenceChange::Update,
                Seen::Left(_) => PresenceChange::Leave,
            };
            return Poll::Ready(Some(PresenceEvent {
                change,
                key: e.key.clone(),
                pid: e.pid.clone(),
                meta,
            }));
        }
    }
}

impl Presence {
    /// Starts this node's presence server (under the node's system supervisor), or finds it.
    pub async fn start(node: &Node) -> Result<Presence, PresenceError> {
        Self::start_with(node, DEFAULT_MAX_PRESENCES).await
    }

    /// [`Presence::start`], taking at most `limit` presences from any one other node.
    pub async fn start_with(node: &Node, limit: usize) -> Result<Presence, PresenceError> {
        let view = actors::dist::extension::<View>(node).unwrap_or_else(|| {
            let fresh = Arc::new(View::default());
            actors::dist::set_extension(node, fresh.clone());
            actors::dist::extension::<View>(node).unwrap_or(fresh)
        });
        if node.whereis::<PresenceServer>(SERVER_NAME).is_none() {
            let v = view.clone();
            let spec = ChildSpec::new(SERVER_NAME, move || PresenceServer::new(v.clone(), limit))
                .name(SERVER_NAME);
            if !crate::system::add(node, spec).await
                && node.whereis::<PresenceServer>(SERVER_NAME).is_none()
            {
                return Err(if crate::requests::Routing::of(node).is_none() {
                    PresenceError::NotDistributed
                } else {
                    PresenceError::ServerDown
                });
            }
        }
        node.whereis::<PresenceServer>(SERVER_NAME)
            .ok_or(PresenceError::ServerDown)?;
        Ok(Presence {
            node: node.clone(),
            view,
        })
    }

    /// The handle on this node's presence server if it runs ([`Presence::start`] started it).
    pub fn of(node: &Node) -> Option<Presence> {
        node.whereis::<PresenceServer>(SERVER_NAME)?;
        Some(Presence {
            node: node.clone(),
            view: actors::dist::extension::<View>(node)?,
        })
    }

    /// The node's server now (the system supervisor may have restarted it).
    fn server(&self) -> Result<Pid<PresenceServer>, PresenceError> {
        self.node
            .whereis::<PresenceServer>(SERVER_NAME)
            .ok_or(PresenceError::ServerDown)
    }

    /// Tracks `pid`, a process of this node, as `key` in `topic` with `meta`; tracking it
    /// again under the same key updates its metadata. Its presence ends when it ends.
    pub async fn track<M: Message>(
        &self,
        topic: &Topic<M>,
        key: &str,
        pid: impl Into<AnyPid>,
        meta: M,
    ) -> Result<(), PresenceError> {
        let pid = pid.into();
        let mut bytes = Vec::new();
        actors::dist::encode(&meta, &mut bytes)
            .map_err(|e| PresenceError::Encode(e.to_string()))?;
        let tracked = self
            .server()?
            .track(
                topic.name().to_string(),
                key.to_string(),
                pid.clone(),
                serde_bytes::ByteBuf::from(bytes),
            )
            .await
            .map_err(|_| PresenceError::ServerDown)?;
        if tracked {
            Ok(())
        } else {
            Err(PresenceError::NotLocal(pid.to_string()))
        }
    }

    /// Changes the metadata of a presence: [`Presence::track`] again.
    pub async fn update<M: Message>(
        &self,
        topic: &Topic<M>,
        key: &str,
        pid: impl Into<AnyPid>,
        meta: M,
    ) -> Result<(), PresenceError> {
        self.track(topic, key, pid, meta).await
    }

    /// Ends the presence of `pid` as `key` in `topic`.
    pub async fn untrack<M: Message>(
        &self,
        topic: &Topic<M>,
        key: &str,
        pid: impl Into<AnyPid>,
    ) -> Result<(), PresenceError> {
        self.server()?
            .untrack(topic.name().to_string(), key.to_string(), pid.into())
            .await
            .map_err(|_| PresenceError::ServerDown)
    }

    /// Who is present in `topic`, by key, as this node knows now: a local read.
    pub fn list<M: Message>(&self, topic: &Topic<M>) -> BTreeMap<String, Vec<(AnyPid, M)>> {
        let mut by_key: BTreeMap<String, Vec<(AnyPid, M)>> = BTreeMap::new();
        for entry in self.view.list(topic.name()) {
            if let Ok(meta) = actors::dist::decode::<M>(&self.node, &entry.meta) {
                by_key.entry(entry.key).or_default().push((entry.pid, meta));
            }
        }
        by_key
    }

    /// From now on, the joins, updates and leaves of `topic` as this node sees them.
    pub fn subscribe<M: Message>(&self, topic: &Topic<M>) -> PresenceEvents<M> {
        PresenceEvents {
            rx: self.view.watch(topic.name()),
            node: self.node.clone(),
            _meta: std::marker::PhantomData,
        }
    }
}
