//! A node's PubSub server: the one process other nodes send a broadcast to, once per node,
//! and the member of each topic's process group while the node has subscribers to it.

use std::collections::BTreeSet;
use std::sync::Arc;

use actors::{Ctx, actor};

use super::registry::Registry;
use super::topic::Key;
use crate::groups::ProcessGroups;

/// The process-group scope of the PubSub servers.
pub(crate) const SCOPE: &str = "actors_net.pubsub";

/// The local name of a node's PubSub server.
pub(crate) const SERVER_NAME: &str = "actors_net.pubsub";

#[actor(name = "actors_net.PubSubServer")]
pub(crate) struct PubSubServer {
    registry: Arc<Registry>,
    /// The topics whose group this server is in.
    joined: BTreeSet<Key>,
}

impl PubSubServer {
    pub(crate) fn new(registry: Arc<Registry>) -> Self {
        PubSubServer {
            registry,
            joined: BTreeSet::new(),
        }
    }

    /// Joins or leaves the group of `key` as the node's subscribers now say.
    async fn settle(&mut self, key: Key, ctx: &mut Ctx<Self>) {
        let node = ctx.node();
        let want = self.registry.has(&key);
        if want == self.joined.contains(&key) {
            return;
        }
        let groups = node.scope(SCOPE);
        let done = if want {
            groups.join(&key.group(), ctx.pid()).await
        } else {
            groups.leave(&key.group(), ctx.pid()).await
        };
        match done {
            Ok(()) if want => {
                self.joined.insert(key);
            }
            Ok(()) => {
                self.joined.remove(&key);
            }
            Err(e) => {
                tracing::warn!(topic = %key.name, "the PubSub server could not change its groups: {e}")
            }
        }
    }
}

#[actor]
impl PubSubServer {
    /// A restarted server takes the topics of the node's subscribers back.
    async fn started(&mut self, ctx: &mut Ctx<Self>) {
        for key in self.registry.keys() {
            self.settle(key, ctx).await;
        }
    }

    /// Brings this node's membership of `key`'s group in line with its subscribers; answers
    /// once it is.
    #[handle]
    async fn sync(&mut self, key: Key, ctx: &mut Ctx<Self>) {
        self.settle(key, ctx).await;
    }

    /// As `sync`, unanswered: a subscription dropped (a destructor cannot wait).
    #[handle(cast)]
    async fn forget(&mut self, key: Key, ctx: &mut Ctx<Self>) {
        self.settle(key, ctx).await;
    }

    /// A broadcast from another node: decoded once here, handed to each subscriber.
    #[handle(cast)]
    fn deliver(&mut self, key: Key, payload: serde_bytes::ByteBuf, ctx: &mut Ctx<Self>) {
        if let Err(e) = self.registry.deliver_encoded(&ctx.node(), &key, &payload) {
            tracing::warn!(topic = %key.name, "a broadcast could not be decoded here: {e}");
        }
    }
}
