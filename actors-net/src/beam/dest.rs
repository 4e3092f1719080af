//! Where messages to BEAM processes go, and what is told of BEAM nodes.

use actors::etf::ErlPid;

/// A BEAM node connected or disconnected: [`Beam::monitor_nodes`](super::Beam::monitor_nodes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BeamNodeEvent {
    /// A connection to the node is up.
    Up(String),
    /// The connection to the node is gone (closed, killed, or silent a whole tick time).
    Down(String),
}

/// A BEAM process to send to: a registered name on a node, or a pid.
#[derive(Debug, Clone, PartialEq)]
pub enum BeamDest {
    /// `{Name, Node}`.
    Name {
        /// The registered name.
        name: String,
        /// The node, `name@host`.
        node: String,
    },
    /// A pid.
    Pid(ErlPid),
}

impl BeamDest {
    /// `{name, node}`.
    pub fn name(name: &str, node: &str) -> Self {
        BeamDest::Name {
            name: name.to_string(),
            node: node.to_string(),
        }
    }

    /// A pid found in a message from a BEAM node (as an `AnyPid`): a BEAM process to send
    /// to, call, or `gen_server:cast` to. `None` for a pid of a Rust node that BEAM nodes
    /// cannot reach.
    pub fn pid(pid: &actors::AnyPid) -> Option<Self> {
        match actors::etf::to_term(pid) {
            Ok(actors::etf::Term::Pid(erl)) => Some(BeamDest::Pid(erl)),
            _ => None,
        }
    }

    pub(crate) fn node(&self) -> &str {
        match self {
            BeamDest::Name { node, .. } => node,
            BeamDest::Pid(pid) => pid.node.name(),
        }
    }
}

impl From<ErlPid> for BeamDest {
    fn from(pid: ErlPid) -> Self {
        BeamDest::Pid(pid)
    }
}

impl From<&ErlPid> for BeamDest {
    fn from(pid: &ErlPid) -> Self {
        BeamDest::Pid(pid.clone())
    }
}
