//! The introspection server each distributed node runs under its system supervisor: it
//! answers other nodes' questions with what the node tells of itself.

use actors::introspect::SupervisionTree;
use actors::{AnyPid, Ctx, ProcessInfo, Reply, actor};

use super::overview::{self, NodeOverview};

/// The local name of a node's introspection server.
pub(crate) const SERVER_NAME: &str = "actors_net.introspect";

#[actor(name = "actors_net.IntrospectServer")]
pub(crate) struct IntrospectServer;

#[actor]
impl IntrospectServer {
    #[handle]
    fn overview(&self, ctx: &mut Ctx<Self>) -> NodeOverview {
        overview::of(&ctx.node())
    }

    // The questions below wait on other processes, this one among them: each is answered
    // from a task of its own, so the server stays free to answer.

    #[handle]
    fn processes(&self, reply: Reply<Vec<ProcessInfo>>, ctx: &mut Ctx<Self>) {
        let node = ctx.node();
        actors::rt::spawn(async move { reply.send(node.processes().await) });
    }

    #[handle]
    fn inspect(&self, pid: AnyPid, reply: Reply<Option<ProcessInfo>>, ctx: &mut Ctx<Self>) {
        let node = ctx.node();
        // Only this node's own processes: a pid of another node is not asked on from here.
        if pid.node() != node.name() {
            reply.send(None);
            return;
        }
        actors::rt::spawn(async move { reply.send(node.inspect(pid).await) });
    }

    #[handle]
    fn supervision_trees(&self, reply: Reply<Vec<SupervisionTree>>, ctx: &mut Ctx<Self>) {
        let node = ctx.node();
        actors::rt::spawn(async move { reply.send(node.supervision_trees().await) });
    }
}
