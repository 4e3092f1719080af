//! The errors of the BEAM side.

use actors::etf::Term;

/// Why talking to a BEAM node failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum BeamError {
    /// The node was not started with [`NodeBuilder::beam`](crate::NodeBuilder::beam).
    #[error("this node does not speak to BEAM nodes: start it with NodeBuilder::beam")]
    NotEnabled,
    /// Not a BEAM node name (`name@host`), or this node's own.
    #[error("{0:?} is not the name of another BEAM node (name@host)")]
    BadName(String),
    /// EPMD could not be reached, or failed.
    #[error("EPMD: {0}")]
    Epmd(String),
    /// EPMD knows no node of that name.
    #[error("no node {0} is registered with its host's EPMD")]
    NoSuchNode(String),
    /// The handshake failed: a wrong cookie, a refusal, a timeout.
    #[error("handshake with {0} failed: {1}")]
    Handshake(String, String),
    /// This node is connected to as many BEAM nodes as it may be.
    #[error("already connected to {0} BEAM nodes, the limit")]
    TooManyPeers(usize),
    /// No connection to the node, or it was lost before the answer.
    #[error("no connection to the process's node")]
    NoConnection,
    /// No process (of that name) when the call arrived.
    #[error("no such process")]
    NoProc,
    /// The process ended before it answered; the reason as Erlang gave it.
    #[error("the process exited: {0}")]
    Exited(Term),
    /// No answer within the timeout.
    #[error("the call timed out")]
    Timeout,
    /// Too much is queued to the node, or too many calls are in flight.
    #[error("overloaded: too much is queued to the node, or too many calls wait")]
    Overloaded,
    /// The process had not joined the group.
    #[error("the process had not joined the group")]
    NotJoined,
    /// The function called by [`Beam::rpc`](super::Beam::rpc) failed: `rpc`'s `{badrpc,
    /// Reason}`, with the reason as Erlang gave it (`{'EXIT', {undef, ..}}` for a function
    /// the node does not have, `nodedown`, ..).
    #[error("the remote function failed: {0}")]
    Rpc(Term),
    /// The request could not be written as a term, or the reply did not read as the type
    /// asked for (it is given as Erlang wrote it).
    #[error("term mismatch: {0}")]
    Term(String),
}

/// Why the BEAM side could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BeamStartError {
    /// The name is not `name@host`.
    #[error("{0:?} is not a BEAM node name (name@host)")]
    BadName(String),
    /// The distribution port could not be listened on.
    #[error("cannot listen for BEAM nodes: {0}")]
    Listen(std::io::Error),
    /// EPMD refused the name, or could not be reached or started.
    #[error("EPMD: {0}")]
    Epmd(std::io::Error),
}
