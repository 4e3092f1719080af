//! Looking into the cluster from any node, as Erlang's observer does: each node runs an
//! introspection server, so one node can ask another what [`actors::introspect`] tells
//! locally (its processes, a process's state, its supervision trees) and what only a
//! distributed node knows (its connections, the global names and groups it sees).
//!
//! ```
//! # use actors_net::prelude::*;
//! # actors::rt::block_on(async {
//! let a = Node::builder("a@127.0.0.1:0").cookie("c").start().await?;
//! let b = Node::builder("b@127.0.0.1:0").cookie("c").start().await?;
//! a.connect(b.name()).await?;
//! let seen = a.introspect().overview(b.name()).await?;
//! assert_eq!(seen.name, b.name());
//! assert_eq!(seen.connections[0].node, a.name());
//! let everyone = a.introspect().cluster().await;
//! assert_eq!(everyone.len(), 2);
//! # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
//! ```

pub(crate) mod overview;
pub(crate) mod server;

use actors::introspect::SupervisionTree;
use actors::{AnyPid, CallError, Node, Pid, ProcessInfo};

pub use crate::connection::Traffic;
use crate::node::DistNode;
use crate::requests::LookupError;
pub use overview::{GlobalName, Group, NodeOverview, PeerConnection};
use server::{IntrospectServer, SERVER_NAME};

/// Why another node could not be asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IntrospectError {
    /// Its introspection server could not be found.
    #[error("cannot ask {node}: {source}")]
    Lookup {
        /// The node asked.
        node: String,
        /// Why.
        source: LookupError,
    },
    /// It did not answer.
    #[error("{node} did not answer: {source}")]
    Call {
        /// The node asked.
        node: String,
        /// Why.
        source: CallError,
    },
}

/// Introspection of the cluster from a node; in `actors_net::prelude`.
pub trait NodeIntrospect {
    /// This node's handle for looking into itself and the nodes it is connected to.
    fn introspect(&self) -> Introspect;
}

impl NodeIntrospect for Node {
    fn introspect(&self) -> Introspect {
        Introspect { node: self.clone() }
    }
}

/// Asks this node, or another over the cluster: [`NodeIntrospect::introspect`]. Questions
/// about this node are answered here without a message.
#[derive(Clone)]
pub struct Introspect {
    node: Node,
}

impl Introspect {
    async fn server(&self, node: &str) -> Result<Pid<IntrospectServer>, IntrospectError> {
        self.node
            .whereis_on::<IntrospectServer>(SERVER_NAME, node)
            .await
            .map_err(|source| IntrospectError::Lookup {
                node: node.to_string(),
                source,
            })
    }

    fn call_error(node: &str) -> impl FnOnce(CallError) -> IntrospectError + '_ {
        move |source| IntrospectError::Call {
            node: node.to_string(),
            source,
        }
    }

    /// What `node` is connected to and sees: its load, connections, global names, groups.
    pub async fn overview(&self, node: &str) -> Result<NodeOverview, IntrospectError> {
        if node == self.node.name() {
            return Ok(overview::of(&self.node));
        }
        let server = self.server(node).await?;
        server.overview().await.map_err(Self::call_error(node))
    }

    /// This node's overview and that of every node connected to it that answers, in
    /// node-name order; the nodes are asked at once.
    pub async fn cluster(&self) -> Vec<NodeOverview> {
        let mut names = self.node.nodes();
        names.push(self.node.name().to_string());
        names.sort();
        let asked = names.iter().map(|n| self.overview(n));
        futures::future::join_all(asked)
            .await
            .into_iter()
            .filter_map(Result::ok)
            .collect()
    }

    /// Every process of `node`, as [`Node::processes`] lists them there.
    pub async fn processes(&self, node: &str) -> Result<Vec<ProcessInfo>, IntrospectError> {
        if node == self.node.name() {
            return Ok(self.node.processes().await);
        }
        let server = self.server(node).await?;
        server.processes().await.map_err(Self::call_error(node))
    }

    /// What process `pid` holds and has done, with its state when its actor opts in
    /// (`#[actor(debug)]`), on whichever node it runs; `Ok(None)` if it is not alive.
    pub async fn inspect(&self, pid: &AnyPid) -> Result<Option<ProcessInfo>, IntrospectError> {
        let node = pid.node().to_string();
        if node == self.node.name() {
            return Ok(self.node.inspect(pid.clone()).await);
        }
        let server = self.server(&node).await?;
        server
            .inspect(pid.clone())
            .await
            .map_err(Self::call_error(&node))
    }

    /// The supervision trees of `node`, as [`Node::supervision_trees`] gives them there.
    pub async fn supervision_trees(
        &self,
        node: &str,
    ) -> Result<Vec<SupervisionTree>, IntrospectError> {
        if node == self.node.name() {
            return Ok(self.node.supervision_trees().await);
        }
        let server = self.server(node).await?;
        server
            .supervision_trees()
            .await
            .map_err(Self::call_error(node))
    }
}
