//! `failover_child`: a supervised child that prefers nodes in an order, held by a distributed
//! supervisor that every distributed node runs a member of, so that no node is special.
//!
//! The local supervisor that starts the child adds it to that supervisor's replicated set
//! and links to wherever it runs; the members place it on the first listed node that is up.
//! When any node is lost, the one that started it included, the members left restart it on
//! the first listed node still up.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actors::supervisor::{ChildSpec, Restart, Supervisor};
use actors::{Actor, AnyPid, Ctx};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::connection::lock;
use crate::distributed::{ChildDef, DistributedSupervisor};
use crate::node::DistNode;

/// The distributed supervisor that holds every failover child: each distributed node runs a
/// member of it from its start (it costs nothing on the wire while it holds no child).
pub(crate) const FAILOVER: &str = "actors_net.failover";

/// How long a start waits for the members to run the child somewhere.
const START_WAIT: Duration = Duration::from_secs(10);

/// A child that runs on the first of a list of nodes that is up, and moves down the list when
/// its node is lost; made by [`failover_child`], added to a supervisor with `.child(..)`.
pub struct FailoverChild<A> {
    id: String,
    nodes: Vec<String>,
    factory: Arc<Mutex<dyn FnMut() -> A + Send>>,
    global_name: Option<String>,
}

/// A supervised child that runs on the first of `nodes` that is up, and moves to the next
/// when its node is lost, with fresh state, as an OTP distributed application fails over;
/// when an earlier node comes back, the child moves back to it (a takeover). Whichever node
/// is lost, the one whose supervisor added the child included, the others restart it: the
/// child is held by a distributed supervisor that every distributed node runs a member of,
/// and the supervisor here follows it (its children list the child's pid, wherever it runs).
///
/// Each of `nodes` must allow the type (`allow_spawn::<A>()`; this node allows it by adding
/// the child). A listed node that is not up is passed over. The id names the child in the
/// whole cluster: two supervisors that add the same id share one child. Stopping the child
/// from the supervisor here (or shutting that supervisor down) removes it everywhere; a crash
/// is restarted (three times in five seconds at most, then it is removed).
///
/// Whoever must find it after a failover finds it by a cluster-wide name:
/// [`FailoverChild::global_name`].
///
/// ```no_run
/// # use actors_net::prelude::*;
/// # use actors::supervisor::{Strategy, Supervisor};
/// # #[actor] #[derive(serde::Serialize, serde::Deserialize)] struct Worker;
/// # #[actor] impl Worker { #[handle] fn work(&self) {} }
/// # async fn demo(node: Node) {
/// let sup = Supervisor::new(Strategy::OneForOne)
///     .child(
///         actors_net::failover_child(
///             "worker",
///             ["c@10.0.0.3:4370", "b@10.0.0.2:4370", node.name()],
///             || Worker,
///         )
///         .global_name("worker"),
///     )
///     .start(&node)
///     .await
///     .expect("a node could start it");
/// # }
/// ```
pub fn failover_child<A: Actor + Serialize + DeserializeOwned>(
    id: impl Into<String>,
    nodes: impl IntoIterator<Item = impl Into<String>>,
    factory: impl FnMut() -> A + Send + 'static,
) -> FailoverChild<A> {
    FailoverChild {
        id: id.into(),
        nodes: nodes.into_iter().map(Into::into).collect(),
        factory: Arc::new(Mutex::new(factory)),
        global_name: None,
    }
}

impl<A> FailoverChild<A> {
    /// Registers each start of the child, on whichever node, under `name` in the cluster-wide
    /// registry: callers find it by `node.global().whereis::<A>(name)`.
    pub fn global_name(mut self, name: impl Into<String>) -> Self {
        self.global_name = Some(name.into());
        self
    }
}

impl<A: Actor + Serialize + DeserializeOwned> From<FailoverChild<A>> for ChildSpec {
    fn from(child: FailoverChild<A>) -> ChildSpec {
        let FailoverChild {
            id,
            nodes,
            factory,
            global_name,
        } = child;
        let key = id.clone();
        ChildSpec::with_start(key, move |ctx: &mut Ctx<Supervisor>| {
            let actor = (*lock(&factory))();
            let def = ChildDef::new(&id, &actor).map(|d| {
                let d = d.prefer(nodes.clone()).restart(Restart::Transient);
                match &global_name {
                    Some(name) => d.global_name(name.clone()),
                    None => d,
                }
            });
            let (id, global_name) = (id.clone(), global_name.clone());
            Box::pin(async move {
                let def = def.map_err(|e| e.to_string())?;
                let node = ctx.node();
                node.allow_spawn::<A>();
                let sup = DistributedSupervisor::start(&node, FAILOVER)
                    .await
                    .map_err(|e| e.to_string())?;
                // Added anew at each start: the child's state is the factory's, and a set
                // that lost it (every member restarted) has it again.
                sup.start_child(def).await.map_err(|e| e.to_string())?;
                let pid = running(&sup, &id, global_name.as_deref()).await?;
                ctx.link(&pid);
                Ok(pid)
            })
        })
    }
}

/// The child's process once a member runs it, and holds its name here if it has one.
async fn running(
    sup: &DistributedSupervisor,
    id: &str,
    name: Option<&str>,
) -> Result<AnyPid, String> {
    let deadline = actors::rt::now() + START_WAIT;
    let global = crate::global::GlobalNames::global(&sup.node);
    loop {
        match sup.whereis_child(id).await {
            Ok(Some(pid)) if name.is_none_or(|n| global.whereis_any(n) == Some(pid.clone())) => {
                return Ok(pid);
            }
            Ok(Some(_)) | Ok(None) if actors::rt::now() < deadline => {
                actors::rt::sleep(Duration::from_millis(10)).await;
            }
            Ok(Some(_)) => {
                return Err(format!(
                    "it runs, but did not take its name {name:?} within {START_WAIT:?}"
                ));
            }
            Err(_) if actors::rt::now() < deadline => {
                actors::rt::sleep(Duration::from_millis(10)).await;
            }
            Ok(None) => {
                return Err(format!(
                    "no listed node ran it within {START_WAIT:?}: is one up, and does it allow the type?"
                ));
            }
            Err(e) => return Err(e.to_string()),
        }
    }
}
