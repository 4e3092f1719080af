//! What the links need of the node they serve.

use futures::future::BoxFuture;

use crate::io::PartialBudget;
use crate::transport::Stream;

/// What the links need of the node they serve; the peers layer implements it, so that this
/// layer does not call up into it.
pub(crate) trait Host: Send + Sync {
    /// Runs a task of the node (in a simulation, on its machine).
    fn spawn(&self, task: BoxFuture<'static, ()>);
    /// Whether the node is shutting down.
    fn is_closing(&self) -> bool;
    /// The node-wide budget of partial frames, links' included.
    fn budget(&self) -> &PartialBudget;
    /// A session a peer opened: the node answers its handshake.
    fn answer(&self, stream: Stream);
    /// Nodes that are up now (a route leads to them) and were not: members of the cluster
    /// for the node's users. No session is opened to them until something is sent.
    fn nodes_up(&self, nodes: Vec<String>);
    /// Nodes that were up and are down now (no route for the grace period, or leaving).
    fn nodes_down(&self, nodes: Vec<String>);
}
