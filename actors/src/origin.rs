//! Where a message came from, as the receiving node saw it.
//!
//! A handler that must know which node sent a message cannot take the sender's word for it: a
//! peer can put any node's name in a message. An [`Origin`] argument is filled in by the
//! receiving node from the connection the message arrived on; what the sender wrote in its
//! place is ignored. System services use it to check that a peer speaks only for itself.

use serde::{Serialize, Serializer};

use crate::id::NodeId;

/// The node a message came from and the connection it came over, or `local` for a message
/// sent by a process of this node.
///
/// ```
/// # use actors::prelude::*;
/// # use actors::dist::Origin;
/// #[actor]
/// struct Audit;
///
/// #[actor]
/// impl Audit {
///     #[handle]
///     fn who(&self, from: Origin) -> Option<String> {
///         from.node().map(|n| n.name().to_string())
///     }
/// }
/// # actors::rt::block_on(async {
/// let node = Node::local();
/// let audit = node.spawn(Audit);
/// // Sent from this node: no remote origin, whatever the sender passes.
/// assert_eq!(audit.who(Origin::local()).await.unwrap(), None);
/// # });
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Origin {
    from: Option<(NodeId, u64)>,
}

impl Origin {
    /// The origin a sender writes: it says nothing, and the receiver fills in the truth.
    pub fn local() -> Self {
        Origin { from: None }
    }

    /// The origin of a message that arrived over connection `link` from node `node`.
    pub fn remote(node: NodeId, link: u64) -> Self {
        Origin {
            from: Some((node, link)),
        }
    }

    /// The node the message came from; `None` for a message from this node.
    pub fn node(&self) -> Option<&NodeId> {
        self.from.as_ref().map(|(n, _)| n)
    }

    /// The connection it came over (unique within the receiving node's run); `None` if local.
    pub fn link(&self) -> Option<u64> {
        self.from.as_ref().map(|(_, l)| *l)
    }

    /// True if the message came from the node named `name`, or from this node when `name` is
    /// this node's own (`here`).
    pub fn speaks_for(&self, name: &str, here: &str) -> bool {
        match self.node() {
            Some(n) => n.name() == name,
            None => name == here,
        }
    }
}

impl Serialize for Origin {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_unit()
    }
}
