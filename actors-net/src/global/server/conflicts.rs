//! Two pids under one name: the resolver decides once, the loser is excluded, and a
//! merged table never binds the name to it again.

use actors::dist::Unpoisoned;
use actors::{AnyPid, Ctx, ExitReason};

use super::state::GlobalServer;
use crate::global::table::Resolver;

impl GlobalServer {
    pub(super) fn resolver(&self) -> Resolver {
        self.shared.resolver.read().unpoisoned().clone()
    }

    pub(super) fn is_excluded(&self, name: &str, pid: &AnyPid) -> bool {
        self.excluded.get(name).is_some_and(|x| x.contains(pid))
    }

    /// `pids` lost `name`: unbinds it from them here, and keeps them from it. Under the
    /// built-in resolvers, a loser of this node's own is acted on here, once, whichever way
    /// this node learnt of the loss (a conflict of its own, or a peer's table).
    pub(super) fn exclude(&mut self, name: &str, pids: &[AnyPid], ctx: &mut Ctx<Self>) {
        let resolver = self.resolver();
        let node = ctx.node();
        for pid in pids {
            if !self.is_excluded(name, pid) {
                self.excluded
                    .entry(name.to_string())
                    .or_default()
                    .push(pid.clone());
            }
            self.unbind(name, pid, ctx);
            let own = pid.node() == node.name() && pid.creation() == node.id().creation();
            if own && self.acted.insert((name.to_string(), pid.clone())) {
                match resolver {
                    Resolver::StopLoser => node.stop(pid, ExitReason::NameConflict),
                    Resolver::NotifyLoser => node.exit(pid, ExitReason::NameConflict),
                    // Decided (and counted) once, on the node of the smaller pid.
                    Resolver::NotifyBoth => {
                        node.exit(pid, ExitReason::NameConflict);
                        continue;
                    }
                    Resolver::Custom(_) => continue,
                }
                self.count_decision();
                tracing::info!(name, loser = %pid.logged(), "name conflict: this node's process lost");
            }
        }
    }

    /// Merges a peer's table into ours. An entry of an earlier run of a node is passed over,
    /// and one of ours gives way to the peer's: no resolver runs for a process that is gone.
    pub(super) fn merge(&mut self, names: Vec<(String, AnyPid)>, ctx: &mut Ctx<Self>) {
        for (name, theirs) in names {
            if self.is_excluded(&name, &theirs) || Self::is_stale(&theirs, ctx) {
                continue;
            }
            let mut ours = self.shared.read().by_name.get(&name).cloned();
            if let Some(old) = ours.clone().filter(|p| Self::is_stale(p, ctx)) {
                self.unbind(&name, &old, ctx);
                ours = None;
            }
            match ours {
                None => {
                    let names = self.shared.read();
                    let room = names.by_name.len() < self.shared.limits.max_names;
                    let free = !names.by_pid.contains_key(&theirs);
                    drop(names);
                    if room && free {
                        self.bind(&name, theirs, ctx);
                    }
                }
                Some(ours) if ours == theirs => {}
                Some(ours) => self.conflict(&name, ours, theirs, ctx),
            }
        }
    }

    /// `name` is bound to two pids. The built-in resolvers choose by an order every node
    /// shares (the pid of the smaller node name keeps it), so every node that sees the
    /// conflict settles it the same way by itself, whatever order it heard of the two in;
    /// the loser's own node acts on it (see `exclude`). Other resolvers run once, on the node
    /// of the smaller pid, which tells the others what it decided.
    pub(super) fn conflict(&mut self, name: &str, a: AnyPid, b: AnyPid, ctx: &mut Ctx<Self>) {
        if a.node() == b.node() {
            // Two runs of one node: one of them is gone, and only a node that sees the node
            // now can tell which. It drops the other; no one else decides, lest the live
            // process lose to its dead predecessor.
            for p in [&a, &b] {
                if Self::is_stale(p, ctx) {
                    self.unbind(name, p, ctx);
                }
            }
            let bound = self.shared.read().by_name.contains_key(name);
            if !bound
                && let Some(live) = [a, b].into_iter().find(|p| !Self::is_stale(p, ctx))
                && !self.shared.read().by_pid.contains_key(&live)
            {
                self.bind(name, live, ctx);
            }
            return;
        }
        let (first, second) =
            if (a.node(), a.creation(), a.id()) <= (b.node(), b.creation(), b.id()) {
                (a, b)
            } else {
                (b, a)
            };
        let node = ctx.node();
        let winner = match self.resolver() {
            Resolver::StopLoser | Resolver::NotifyLoser => {
                return self.apply(name, &first, &second, Some(first.clone()), ctx);
            }
            _ if first.node() != node.name() => return,
            _ if !self
                .decided
                .insert((name.to_string(), first.clone(), second.clone())) =>
            {
                return;
            }
            Resolver::NotifyBoth => {
                // Each loser's own node tells it (see `exclude`): an exit signal sent from
                // here to a node not connected yet would be lost.
                self.count_decision();
                None
            }
            Resolver::Custom(f) => {
                self.count_decision();
                f(name, &first, &second)
            }
        };
        tracing::info!(name, %first, %second, winner = ?winner, "name conflict resolved");
        self.apply(name, &first, &second, winner.clone(), ctx);
        for peer in self.peer_servers() {
            let _ = peer.resolved(
                name.to_string(),
                first.clone(),
                second.clone(),
                winner.clone(),
            );
        }
    }

    pub(super) fn count_decision(&self) {
        self.shared
            .decisions
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}
