//! Cluster locks: taken for a request, held by a process, freed when it ends or its node is
//! lost; what one node may hold here is bounded.

use actors::dist::{Origin, Unpoisoned};
use actors::{AnyPid, Ctx};

use crate::connection::lock;

use super::state::{GlobalServer, forget_one};
use crate::global::table::{GlobalError, Hold};

impl GlobalServer {
    pub(super) fn take_locks(
        &mut self,
        ids: &[String],
        holder: &AnyPid,
        request: u64,
        ctx: &mut Ctx<Self>,
    ) -> Result<bool, GlobalError> {
        if ids.iter().any(|id| {
            self.locks
                .get(id)
                .is_some_and(|h| h.0 != *holder || h.1 != request)
        }) {
            return Ok(false);
        }
        let new = ids
            .iter()
            .filter(|id| !self.locks.contains_key(*id))
            .count();
        let held = self.locks_by_node.get(holder.node()).copied().unwrap_or(0);
        if held + new > self.shared.limits.max_locks_per_node {
            return Err(GlobalError::TableFull(
                self.shared.limits.max_locks_per_node,
            ));
        }
        let entry = self.holders.entry(holder.clone()).or_default();
        if entry.monitor.is_none() {
            entry.monitor = Some(ctx.monitor(holder));
        }
        for id in ids {
            if self
                .locks
                .insert(id.clone(), (holder.clone(), request))
                .is_none()
            {
                *self
                    .locks_by_node
                    .entry(holder.node().to_string())
                    .or_insert(0) += 1;
            }
            *entry.locks.entry(id.clone()).or_insert(0) += 1;
        }
        Ok(true)
    }

    pub(super) fn release_locks(
        &mut self,
        ids: &[String],
        holder: &AnyPid,
        request: u64,
        ctx: &mut Ctx<Self>,
    ) {
        let server = self.is_server(holder);
        let Some(entry) = self.holders.get_mut(holder) else {
            return;
        };
        for id in ids {
            if self.locks.get(id).is_none_or(|h| h.1 != request) {
                continue;
            }
            if let Some(n) = entry.locks.get_mut(id) {
                *n -= 1;
                if *n == 0 {
                    entry.locks.remove(id);
                    self.locks.remove(id);
                    forget_one(&mut self.locks_by_node, holder.node());
                }
            }
        }
        // A node's global server holds the locks of every registration made there: its
        // monitor is kept between them (one per peer at most), where dropping and taking it
        // again would cost two more signals to its node per registration.
        if entry.locks.is_empty() && !server {
            if let Some(r) = entry.monitor.take() {
                ctx.demonitor(r);
            }
            self.holders.remove(holder);
        }
    }

    /// Releases every lock of `hold`.
    pub(super) fn release_hold(&mut self, hold: &Hold, ctx: &mut Ctx<Self>) {
        self.release_locks(&hold.ids, &hold.holder, hold.request, ctx)
    }

    /// True if what `origin` says of `hold` counts: its holder is of the sending node.
    pub(super) fn speaks_for(origin: &Origin, hold: &Hold, ctx: &Ctx<Self>) -> bool {
        origin.speaks_for(hold.holder.node(), ctx.node().name())
    }

    /// True if `pid` is this node's global server or a peer's, as last found.
    fn is_server(&self, pid: &AnyPid) -> bool {
        if self.shared.server.read().unpoisoned().as_ref() == Some(pid) {
            return true;
        }
        lock(&self.shared.peers).get(pid.node()) == Some(pid)
    }

    /// True if the node `origin` speaks for holds the lock `id` here.
    pub(super) fn held_by(&self, id: &str, origin: &Origin, ctx: &Ctx<Self>) -> bool {
        self.locks
            .get(id)
            .is_some_and(|(h, _)| origin.speaks_for(h.node(), ctx.node().name()))
    }
}
