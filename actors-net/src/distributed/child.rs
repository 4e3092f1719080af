//! What a distributed supervisor runs, described as data every member can act on.

use std::time::Duration;

use actors::supervisor::Restart;
use actors::{Actor, AnyPid};
use serde::{Deserialize, Serialize};

use super::error::DistError;

/// What a distributed supervisor runs: an actor type allowed on every member's node, the
/// state it starts from (anew at each restart), and how it is restarted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChildDef {
    pub(crate) id: String,
    pub(crate) actor: String,
    pub(crate) identity: u64,
    #[serde(with = "serde_bytes")]
    pub(crate) state: Vec<u8>,
    pub(crate) restart: Restart,
    pub(crate) global_name: Option<String>,
    pub(crate) max_restarts: u32,
    pub(crate) within_ms: u64,
    /// Nodes in the order the child prefers them; empty: placed by rendezvous hashing.
    pub(crate) prefer: Vec<String>,
    /// Whether a member that leaves hands the child's state to its next instance.
    pub(crate) hand_off: bool,
    /// The state a member that left handed over: the next start begins from it (once).
    #[serde(with = "serde_bytes")]
    pub(crate) handed: Option<Vec<u8>>,
}

impl ChildDef {
    /// A permanent child `id` that starts from `actor`'s state, restarted at most 3 times in
    /// 5 seconds (then it is removed from the supervisor everywhere).
    pub fn new<A: Actor + Serialize>(id: impl Into<String>, actor: &A) -> Result<Self, DistError> {
        let mut state = Vec::new();
        actors::dist::encode(actor, &mut state).map_err(|e| DistError::Encode(e.to_string()))?;
        let identity = A::identity();
        Ok(ChildDef::raw(
            &id.into(),
            identity.name,
            identity.hash,
            state,
        ))
    }

    pub(crate) fn raw(id: &str, actor: &str, identity: u64, state: Vec<u8>) -> Self {
        ChildDef {
            id: id.to_string(),
            actor: actor.to_string(),
            identity,
            state,
            restart: Restart::Permanent,
            global_name: None,
            max_restarts: 3,
            within_ms: 5_000,
            prefer: Vec::new(),
            hand_off: false,
            handed: None,
        }
    }

    /// When the child is restarted (`Permanent` unless told).
    pub fn restart(mut self, restart: Restart) -> Self {
        self.restart = restart;
        self
    }

    /// At most `max` restarts within `within` before the child is removed.
    pub fn intensity(mut self, max: u32, within: Duration) -> Self {
        self.max_restarts = max;
        self.within_ms = u64::try_from(within.as_millis()).unwrap_or(u64::MAX);
        self
    }

    /// Registers each start of the child under `name` in the cluster-wide registry
    /// (`re_register`, so the name moves from a predecessor whose node is not yet seen down).
    pub fn global_name(mut self, name: impl Into<String>) -> Self {
        self.global_name = Some(name.into());
        self
    }

    /// Runs the child on the first of `nodes` whose member is live (available mode), and on
    /// none of the others; when an earlier node's member comes back, the child moves back to
    /// it (with fresh state), as an OTP distributed application is taken over. Without this,
    /// placement is rendezvous hashing over every member.
    pub fn prefer(mut self, nodes: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.prefer = nodes.into_iter().map(Into::into).collect();
        self
    }

    /// When the member running the child leaves gracefully (`DistributedSupervisor::leave`,
    /// available mode), the child's state at that instant (it is stopped right after, before
    /// it takes another message) is what its next instance starts from, on the member that
    /// takes it over; a restart after a crash begins from the definition's state again. The
    /// whole actor crosses the wire: what it should not carry, it skips (`#[serde(skip)]`) and
    /// makes again in `started`.
    pub fn hand_off(mut self) -> Self {
        self.hand_off = true;
        self
    }

    /// The child's id, unique within its supervisor.
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// Where one child of a distributed supervisor runs, as this member sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChildInfo {
    /// Its id.
    pub id: String,
    /// The member node that owns it by placement.
    pub node: Option<String>,
    /// Its process, if it runs on this node.
    pub pid: Option<AnyPid>,
}
