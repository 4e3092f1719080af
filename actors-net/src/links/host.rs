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
    /// Nodes a route leads to now that none did: the node opens sessions to them.
    fn reach(&self, nodes: Vec<String>);
}
