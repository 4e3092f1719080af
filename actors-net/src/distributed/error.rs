//! The errors of a distributed supervisor.

use actors::CallError;
use serde::{Deserialize, Serialize};

/// Why a distributed supervisor could not do what it was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[non_exhaustive]
pub enum DistError {
    /// The node was started with `Node::local()`, not `Node::builder(..).start()`.
    #[error("the node is not distributed: start it with Node::builder(name).start()")]
    NotDistributed,
    /// This node runs no member of the supervisor (never started, or left).
    #[error("this node runs no member of the distributed supervisor {0:?}: start it first")]
    NotMember(String),
    /// The child's state could not be encoded.
    #[error("the child's state cannot be encoded: {0}")]
    Encode(String),
    /// Its table holds its limit of child ids.
    #[error("the supervisor holds its limit of {0} children: remove some first")]
    Full(usize),
    /// No child of that id.
    #[error("no child {0:?} in the supervisor")]
    NoChild(String),
    /// A consistent supervisor's write needs a majority of its voters, and this node's side
    /// has none (or knows no leader yet).
    #[error(
        "no majority of the consistent supervisor's voters is reachable from here: nothing was written; try again once the cluster heals"
    )]
    NoQuorum,
    /// A consistent name is held by another process.
    #[error("the name {0:?} is registered to another process: unregister it first")]
    NameTaken(String),
    /// The operation needs a consistent supervisor.
    #[error("consistent names need a supervisor started in Mode::Consistent")]
    NotConsistent,
    /// This node is not among a consistent supervisor's voters.
    #[error("{0} is not among the consistent supervisor's voters")]
    NotVoter(String),
    /// The member did not answer.
    #[error("the supervisor's member did not answer: {0}")]
    Member(CallError),
}
