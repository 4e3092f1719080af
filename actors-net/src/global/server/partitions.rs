//! Keeping partitions clean: what a peer says of its failed links, tables exchanged with a
//! peer that comes back, and names of a node's earlier runs forgotten.

use actors::dist::Origin;
use actors::dist::rt::HashMap;
use actors::{AnyPid, Ctx, Pid};

use super::state::GlobalServer;

impl GlobalServer {
    /// True if `pid` is of an earlier run of a node whose later run is this node or one
    /// connected now: that process is gone, whatever a table that has not heard says.
    pub(super) fn is_stale(pid: &AnyPid, ctx: &Ctx<Self>) -> bool {
        let node = ctx.node();
        if pid.node() == node.name() {
            return pid.creation() != node.id().creation();
        }
        Self::net(ctx)
            .and_then(|net| net.creation_of(pid.node()))
            .is_some_and(|now| now != pid.creation())
    }

    /// Unbinds every name held by a pid of an earlier run of `peer`, which has just
    /// connected as a new run.
    pub(super) fn forget_earlier_runs(&mut self, peer: &str, ctx: &mut Ctx<Self>) {
        let stale: Vec<(String, AnyPid)> = self
            .shared
            .read()
            .by_name
            .iter()
            .filter(|(_, p)| p.node() == peer && Self::is_stale(p, ctx))
            .map(|(n, p)| (n.clone(), p.clone()))
            .collect();
        for (name, pid) in stale {
            self.unbind(&name, &pid, ctx);
        }
    }

    /// Sends `to` this node's failed links, its table and its exclusions; a large table goes
    /// in parts, each well within a frame.
    pub(super) fn send_table(&self, to: &Pid<GlobalServer>, answer: bool, ctx: &Ctx<Self>) {
        let table = self.shared.read().entries();
        let excluded: Vec<(String, Vec<AnyPid>)> = self
            .excluded
            .iter()
            .map(|(n, x)| (n.clone(), x.clone()))
            .collect();
        let _ = to.severed(Origin::local(), self.told.clone());
        // Parts of at most a quarter of a frame, by a generous estimate of each entry's size.
        let budget = Self::net(ctx).map_or(64 * 1024, |n| n.config.max_frame / 4);
        let size = |name: &str, pids: &[AnyPid]| {
            name.len() + pids.iter().map(|p| p.node().len() + 48).sum::<usize>()
        };
        let mut table = table.into_iter().peekable();
        let mut excluded = excluded.into_iter().peekable();
        let mut first = true;
        while first || table.peek().is_some() || excluded.peek().is_some() {
            let mut used = 0;
            let mut fits = |n: &str, pids: &[AnyPid]| {
                let fits = used == 0 || used + size(n, pids) <= budget;
                if fits {
                    used += size(n, pids);
                }
                fits
            };
            let names: Vec<_> =
                std::iter::from_fn(|| table.next_if(|(n, p)| fits(n, std::slice::from_ref(p))))
                    .collect();
            let losers: Vec<_> =
                std::iter::from_fn(|| excluded.next_if(|(n, x)| fits(n, x))).collect();
            // Only the first part asks for an answer: one table back is enough.
            let _ = to.sync(Origin::local(), ctx.pid(), answer && first, names, losers);
            first = false;
        }
    }

    /// Tells every peer this node's failed links, if they changed since it last did.
    pub(super) fn tell_severed(&mut self, ctx: &Ctx<Self>) {
        let Some(net) = Self::net(ctx) else { return };
        let now = net.severed();
        if now != self.told {
            self.told = now;
            for peer in self.peer_servers() {
                let _ = peer.severed(Origin::local(), self.told.clone());
            }
        }
    }

    /// Clean partitions: a node connected to two nodes whose link failed drops the greater of
    /// them, and keeps it away while the smaller one, connected here, still says so. Each
    /// node acts on the word of the smaller node only (which is alive: it just said so over a
    /// live connection), so a node that died makes nobody cut a live link, and every node
    /// connected to both drops the same one.
    pub(super) fn keep_partitions_clean(&mut self, ctx: &Ctx<Self>) {
        if !self.shared.clean_partitions {
            return;
        }
        let Some(net) = Self::net(ctx) else { return };
        let me = ctx.node().name().to_string();
        self.reports
            .retain(|reporter, (link, _)| net.link_to(reporter) == Some(*link));
        let mut apart = HashMap::default();
        for (reporter, (_, lost)) in &self.reports {
            for (name, creation) in lost {
                if name.as_str() > reporter.as_str() && *name != me {
                    apart.insert(name.clone(), *creation);
                }
            }
        }
        for name in net.keep_apart(apart) {
            // No longer kept apart: the link that failed is back, so this one may be too.
            net.conn_or_dial(&name, true);
        }
    }
}
