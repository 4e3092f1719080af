//! A supervisor that belongs to no node: one member on every node that starts it under a
//! name, all holding one replicated set of child definitions, each child run by exactly one
//! live member, chosen by rendezvous hashing over the members it sees (the role of Horde's
//! `DynamicSupervisor` and of Akka's cluster singletons).
//!
//! A child is data every member can act on: an actor type that every member's node allows
//! (`allow_spawn::<A>()`) and the encoded state it starts from, with its restart type and
//! intensity. Whoever adds it, any member may be killed afterwards: the members left see the
//! dead one leave the supervisor's process group when its node is seen down, and the one that
//! now owns each orphan starts it at once.
//!
//! Mode: *available* (AP). In a partition each side runs the children it sees orphaned; when
//! the sides heal, every member sees the same members again, computes the same owner for each
//! child, and the other copies are stopped (`Shutdown`). A child with a global name is also
//! settled by the name's resolver, as any name is.
//!
//! ```no_run
//! # use actors_net::prelude::*;
//! # use actors_net::distributed::{ChildDef, DistributedSupervisor};
//! # #[actor] #[derive(serde::Serialize, serde::Deserialize)] struct Worker { served: u64 }
//! # #[actor] impl Worker { #[handle] fn work(&mut self) -> u64 { self.served += 1; self.served } }
//! # async fn demo(node: Node) -> Result<(), Box<dyn std::error::Error>> {
//! node.allow_spawn::<Worker>();                 // on every node of the cluster
//! let sup = DistributedSupervisor::start(&node, "workers").await?;
//! sup.start_child(ChildDef::new("worker", &Worker { served: 0 })?.global_name("worker"))
//!     .await?;
//! // Wherever it runs now, and after any node is lost:
//! let worker: Pid<Worker> = node.global().send("worker")?;
//! # Ok(()) }
//! ```

mod child;
mod consensus;
mod consistent;
mod error;
mod fence;
mod member;
mod placement;
mod table;

pub use child::{ChildDef, ChildInfo};
pub use error::DistError;
pub use fence::{Fence, FencingToken, Stale};

use actors::supervisor::{ChildSpec, Restart};
use actors::{AnyPid, Node, Pid};

use member::{Member, member_name};

/// How long the handle waits for a write: a consistent one waits for its commit (at most
/// 5 s, then `NoQuorum`).
const WRITE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// How many child ids (live and removed) one supervisor's table holds by default.
pub const DEFAULT_MAX_CHILDREN: usize = 10_000;

/// What a distributed supervisor promises in a partition: chosen per supervisor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Each side runs the children it sees orphaned; one copy again after the heal (Horde's
    /// default). Members are whoever starts the supervisor.
    Available,
    /// A child runs only on the side holding a strict majority of these voters (node names,
    /// each running a member): on the leader of a Raft log, while it holds a lease, so that
    /// no two copies run at once. Writes need a majority (`DistError::NoQuorum` without).
    Consistent(Vec<String>),
}

/// A request that a consistent member answers once the log commits it (at most 5 s, then
/// `NoQuorum`); an available one answers at once.
async fn committed<R: Send + 'static>(
    call: actors::Call<Member, Result<R, DistError>>,
) -> Result<R, DistError> {
    call.timeout(WRITE_TIMEOUT)
        .await
        .map_err(DistError::Member)?
}

/// One node's handle on a distributed supervisor.
#[derive(Debug, Clone)]
pub struct DistributedSupervisor {
    pub(crate) node: Node,
    name: String,
}

impl DistributedSupervisor {
    /// Starts this node's member of the supervisor `name` (under the node's system
    /// supervisor, which restarts it; a restarted member asks its peers for the children),
    /// or finds it if it runs already. Every node that starts a member of the same name is a
    /// member: there is no list of nodes to give, and a node that starts later takes its share.
    pub async fn start(node: &Node, name: &str) -> Result<Self, DistError> {
        Self::start_with(node, name, Mode::Available, DEFAULT_MAX_CHILDREN).await
    }

    /// [`DistributedSupervisor::start`] in `mode`, with a limit on the child ids its table
    /// holds. Consistent: every voter starts its member with the same voters.
    pub async fn start_with(
        node: &Node,
        name: &str,
        mode: Mode,
        max_children: usize,
    ) -> Result<Self, DistError> {
        if let Mode::Consistent(voters) = &mode
            && !voters.iter().any(|v| v == node.name())
        {
            return Err(DistError::NotVoter(node.name().to_string()));
        }
        let voters = match mode {
            Mode::Available => None,
            Mode::Consistent(v) => Some(v),
        };
        let handle = DistributedSupervisor {
            node: node.clone(),
            name: name.to_string(),
        };
        if handle.member().is_err() {
            let (sup_name, local) = (name.to_string(), member_name(name));
            // Transient: restarted after a crash, not after `leave`.
            let spec = ChildSpec::new(local.clone(), move || {
                Member::new(&sup_name, max_children, voters.clone())
            })
            .restart(Restart::Transient)
            .name(local);
            if !crate::system::add(node, spec).await && handle.member().is_err() {
                return Err(DistError::NotDistributed);
            }
        }
        handle.member()?.joined().await.map_err(DistError::Member)?;
        Ok(handle)
    }

    /// This node's member.
    fn member(&self) -> Result<Pid<Member>, DistError> {
        self.node
            .whereis::<Member>(&member_name(&self.name))
            .ok_or_else(|| DistError::NotMember(self.name.clone()))
    }

    /// Adds a child to the cluster's set (or replaces the one of the same id): the member
    /// that owns it by placement starts it.
    pub async fn start_child(&self, def: ChildDef) -> Result<(), DistError> {
        committed(self.member()?.add(def)).await
    }

    /// Removes a child from the cluster's set: the member running it stops it.
    pub async fn terminate_child(&self, id: &str) -> Result<(), DistError> {
        committed(self.member()?.remove(id.to_string())).await
    }

    /// Every child, with the node that owns it and, for those on this node, its pid.
    pub async fn children(&self) -> Result<Vec<ChildInfo>, DistError> {
        self.member()?.children().await.map_err(DistError::Member)
    }

    /// Registers `name` to `pid` through a consistent supervisor's log: linearizable, and
    /// refused with `NoQuorum` on a side without a majority, `NameTaken` if another process
    /// holds it. The name is freed when the process ends, or when its node stays out of the
    /// leader's reach for 2 s.
    pub async fn register_name(&self, name: &str, pid: impl Into<AnyPid>) -> Result<(), DistError> {
        committed(self.member()?.register_name(name.to_string(), pid.into())).await
    }

    /// Frees a consistent name (whoever holds it).
    pub async fn unregister_name(&self, name: &str) -> Result<(), DistError> {
        committed(self.member()?.unregister_name(name.to_string())).await
    }

    /// Who holds a consistent name, read through the log (linearizable).
    pub async fn whereis_name(&self, name: &str) -> Result<Option<AnyPid>, DistError> {
        committed(self.member()?.whereis_name(name.to_string())).await
    }

    /// The leader of a consistent supervisor, as this member knows it.
    pub async fn leader(&self) -> Result<Option<String>, DistError> {
        self.member()?.leader().await.map_err(DistError::Member)
    }

    /// The nodes whose members this member sees (the voters, if consistent), sorted.
    pub async fn members(&self) -> Result<Vec<String>, DistError> {
        self.member()?.members().await.map_err(DistError::Member)
    }

    /// The process of child `id`, asked of the member that owns it.
    pub async fn whereis_child(&self, id: &str) -> Result<Option<AnyPid>, DistError> {
        let owner = self
            .member()?
            .owner_of(id.to_string())
            .await
            .map_err(DistError::Member)?;
        match owner {
            Some(member) => member
                .running(id.to_string())
                .await
                .map_err(DistError::Member),
            None => Ok(None),
        }
    }

    /// Every copy of child `id` that the members this one sees run: one, except while a
    /// partition lasts (each side runs its own) and briefly after it heals. A member that does
    /// not answer within `within` is passed over.
    pub async fn locate(
        &self,
        id: &str,
        within: std::time::Duration,
    ) -> Result<Vec<AnyPid>, DistError> {
        let peers = self.member()?.peers().await.map_err(DistError::Member)?;
        let mut found = Vec::new();
        for peer in peers {
            if let Ok(Some(pid)) = peer.running(id.to_string()).timeout(within).await {
                found.push(pid);
            }
        }
        Ok(found)
    }

    /// Leaves the supervisor gracefully: this member leaves the group first, so the others
    /// take its children over, then stops them and itself.
    pub async fn leave(&self) -> Result<(), DistError> {
        self.member()?.leave().await.map_err(DistError::Member)
    }
}
