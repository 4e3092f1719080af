//! Starting processes on other nodes: `spawn_on`, `spawn_link_on`, `spawn_monitor_on`, and
//! supervised children that live on another node.
//!
//! A node starts only the actor types it allows (`allow_spawn::<A>()`), from their encoded
//! state; both nodes must be built from the same version of the type (same wire identity).

use std::future::Future;

use actors::supervisor::{ChildSpec, Supervisor};
use actors::{Actor, Ctx, MonitorRef, Node, Pid};
use serde::Serialize;

use crate::requests::{Routing, SpawnError};

async fn spawn_on<A: Actor + Serialize>(
    node: &Node,
    on: &str,
    actor: A,
    link: Option<actors::AnyPid>,
) -> Result<Pid<A>, SpawnError> {
    let routing = Routing::of(node).ok_or_else(|| SpawnError::NoConnection(on.to_string()))?;
    routing.spawn_on(on, actor, link).await
}

/// A child spec's cluster-wide name: in `actors_net::prelude`.
pub trait GlobalChild {
    /// Registers each start of the child under `name` in the cluster-wide registry, moving
    /// the name from a predecessor whose node is not yet seen as lost (`re_register`); a
    /// registration that fails counts as a failed start. Callers find the child by the name
    /// wherever it runs now: `node.global().whereis::<A>(name)`.
    fn global_name(self, name: impl Into<String>) -> Self;
}

impl GlobalChild for ChildSpec {
    fn global_name(self, name: impl Into<String>) -> Self {
        let name = name.into();
        self.on_start(move |ctx, pid| {
            let name = name.clone();
            let node = ctx.node();
            Box::pin(async move {
                crate::global::GlobalNames::global(&node)
                    .re_register(&name, pid.clone())
                    .await
                    .map_err(|e| format!("could not take the name {name:?}: {e}"))?;
                Ok(pid)
            })
        })
    }
}

/// What a process can do across nodes beyond a local one; in `actors_net::prelude`.
pub trait DistCtx {
    /// Starts `actor` on `node`, linked to this process from its first moment.
    fn spawn_link_on<A: Actor + Serialize>(
        &mut self,
        node: &str,
        actor: A,
    ) -> impl Future<Output = Result<Pid<A>, SpawnError>> + Send;

    /// Starts `actor` on `node` and monitors it. (A process that ends before the monitor is
    /// in place is reported with `NoProc`.)
    fn spawn_monitor_on<A: Actor + Serialize>(
        &mut self,
        node: &str,
        actor: A,
    ) -> impl Future<Output = Result<(Pid<A>, MonitorRef), SpawnError>> + Send;
}

impl<B: Actor> DistCtx for Ctx<B> {
    async fn spawn_link_on<A: Actor + Serialize>(
        &mut self,
        node: &str,
        actor: A,
    ) -> Result<Pid<A>, SpawnError> {
        let child = spawn_on(&self.node(), node, actor, Some(self.pid().any())).await?;
        // The child holds its half of the link since its first moment; this is ours. An
        // exit of the child waits in this process's mailbox until this handler returns.
        self.link(&child);
        Ok(child)
    }

    async fn spawn_monitor_on<A: Actor + Serialize>(
        &mut self,
        node: &str,
        actor: A,
    ) -> Result<(Pid<A>, MonitorRef), SpawnError> {
        let child = spawn_on(&self.node(), node, actor, None).await?;
        let monitor = self.monitor(&child);
        Ok((child, monitor))
    }
}

/// A supervised child that runs on `node`: the supervisor starts it there with
/// `spawn_link_on`, and restarts it (on that node) like any child. If the node cannot be
/// reached, the start counts as a restart, within the supervisor's intensity.
///
/// For a child that moves to another node when its node is lost, see
/// [`failover_child`](crate::failover_child).
pub fn remote_child<A: Actor + Serialize>(
    id: impl Into<String>,
    node: impl Into<String>,
    mut factory: impl FnMut() -> A + Send + 'static,
) -> ChildSpec {
    let node = node.into();
    ChildSpec::with_start(id, move |ctx: &mut Ctx<Supervisor>| {
        let (node, actor) = (node.clone(), factory());
        Box::pin(async move {
            if node == ctx.node().name() {
                return Ok(ctx.spawn_link(actor).any());
            }
            ctx.spawn_link_on(&node, actor)
                .await
                .map(|pid| pid.any())
                .map_err(|e| format!("{node}: {e}"))
        })
    })
}
