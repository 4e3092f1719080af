//! The global server: one per distributed node, an ordinary actor holding that node's part of
//! the registry and its locks, answering the other nodes' registering tasks, and keeping
//! partitions clean.
//!
//! Every message a peer's server sends carries an [`Origin`], which the receiving node fills
//! in from the connection it arrived on: a server acts only on what a peer says of its own
//! processes and its own links.

use actors::dist::Origin;
use actors::dist::Unpoisoned;
use actors::{AnyPid, Ctx, Down, Pid, actor};

use super::table::{GlobalError, SERVER_NAME, name_lock};
pub use super::table::{Hold, Prepared};
use crate::connection::lock;
use crate::node::DistNode;

mod conflicts;
mod locks;
mod notes;
mod partitions;
mod state;

pub use state::GlobalServer;
use state::{GlobalServerApi, forget_one};

/// How often a server tells peers its table's digest.
const DIGEST_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// How many peers a server tells its digest each round, in turn: every peer in a cluster of
/// up to this many and one, and no more as the cluster grows, so idle traffic stays bounded.
const DIGEST_PEERS: usize = 8;

/// One node's part of the cluster-wide registry and its locks.
#[actor]
impl GlobalServer {
    /// A server (re)started: watches every name this node already holds, and asks the peers
    /// for their tables, so that a restarted server carries on where the last one stopped.
    fn started(&mut self, ctx: &mut Ctx<Self>) {
        *self.shared.server.write().unpoisoned() = Some(ctx.pid().any());
        if self.start_on_overlay(ctx) {
            return;
        }
        let held: Vec<AnyPid> = self.shared.read().by_pid.keys().cloned().collect();
        for pid in held {
            self.watch(pid, ctx);
        }
        lock(&self.shared.peers).clear();
        self.told = Self::net(ctx).map(|n| n.severed()).unwrap_or_default();
        let node = ctx.node();
        let me = ctx.pid();
        for peer in node.nodes() {
            let _ = me.node_up(peer, true);
        }
        ctx.send_after(DIGEST_EVERY, |me| me.tell_digest());
    }

    /// Tells peers this table's digest, now and every `DIGEST_EVERY`: `DIGEST_PEERS` of
    /// them a round, taking turns, so each hears it at least every N / `DIGEST_PEERS` rounds.
    #[handle(cast)]
    fn tell_digest(&mut self, ctx: &mut Ctx<Self>) {
        let digest = self
            .shared
            .digest
            .load(std::sync::atomic::Ordering::Relaxed);
        let me = ctx.pid();
        let mut peers = self.peer_servers();
        peers.sort_by(|a, b| a.node().cmp(b.node()));
        let start = match peers.len() {
            0 => 0,
            n => self.digest_turn % n,
        };
        for peer in peers
            .iter()
            .cycle()
            .skip(start)
            .take(DIGEST_PEERS.min(peers.len()))
        {
            let _ = peer.digest(Origin::local(), me.clone(), digest);
        }
        self.digest_turn = start + DIGEST_PEERS;
        ctx.send_after(DIGEST_EVERY, |me| me.tell_digest());
    }

    /// A peer's table digest. Tables differ for a moment while registrations travel; if
    /// they still differ at the next digest, an update was missed (a node that connected
    /// while a registration was committed), and the two exchange their tables.
    #[handle(cast)]
    fn digest(
        &mut self,
        origin: Origin,
        from: Pid<GlobalServer>,
        digest: u64,
        ctx: &mut Ctx<Self>,
    ) {
        let node = ctx.node();
        if from.node() == node.name() || !origin.speaks_for(from.node(), node.name()) {
            return;
        }
        let ours = self
            .shared
            .digest
            .load(std::sync::atomic::Ordering::Relaxed);
        if ours == digest {
            self.differing.remove(from.node());
        } else if !self.differing.insert(from.node().to_string()) {
            self.differing.remove(from.node());
            tracing::debug!(peer = %from.node(), "tables differ: exchanging them");
            self.send_table(&from, true, ctx);
        }
    }

    fn on_down(&mut self, down: Down, ctx: &mut Ctx<Self>) {
        if let Some(pid) = self.watched.remove(&down.monitor_ref) {
            self.watch_of.remove(&pid);
            if self.overlay.is_some() {
                return self.claimed_ended(&pid, ctx);
            }
            let name = self.shared.read().by_pid.get(&pid).cloned();
            if let Some(name) = name {
                self.unbind(&name, &pid, ctx);
            }
        }
        // A holder that ended frees its locks.
        if let Some(holder) = self.holders.remove(&down.pid) {
            for id in holder.locks.keys() {
                if self.locks.remove(id).is_some() {
                    forget_one(&mut self.locks_by_node, down.pid.node());
                }
            }
        }
    }

    /// Takes all of `ids` for `holder` under `request`, or none; with `check`, also says why
    /// that name could not go to that pid here, if it could not, saving a round trip. A node
    /// takes locks only for its own processes.
    #[handle]
    fn lock(
        &mut self,
        origin: Origin,
        ids: Vec<String>,
        holder: AnyPid,
        request: u64,
        check: Option<(String, AnyPid, bool)>,
        ctx: &mut Ctx<Self>,
    ) -> (bool, Option<GlobalError>) {
        if !origin.speaks_for(holder.node(), ctx.node().name()) {
            return (false, Some(GlobalError::NotLocal(holder.to_string())));
        }
        match self.take_locks(&ids, &holder, request, ctx) {
            Ok(true) => {
                let refused =
                    check.and_then(|(name, pid, moving)| self.refusal(&name, &pid, moving));
                (true, refused)
            }
            Ok(false) => (false, None),
            Err(e) => (false, Some(e)),
        }
    }

    /// Releases `ids` held by `holder` under `request`.
    #[handle(cast)]
    fn unlock(
        &mut self,
        origin: Origin,
        ids: Vec<String>,
        holder: AnyPid,
        request: u64,
        ctx: &mut Ctx<Self>,
    ) {
        if origin.speaks_for(holder.node(), ctx.node().name()) {
            self.release_locks(&ids, &holder, request, ctx)
        }
    }

    /// Binds `name` to `pid` here (the commit of a registration): only by the node that holds
    /// the name's lock.
    #[handle]
    fn commit(
        &mut self,
        origin: Origin,
        name: String,
        pid: AnyPid,
        ctx: &mut Ctx<Self>,
    ) -> Result<(), GlobalError> {
        if !self.held_by(&name_lock(&name), &origin, ctx) {
            return Err(GlobalError::Busy(name));
        }
        let names = self.shared.read();
        if !names.by_name.contains_key(&name) && names.by_name.len() >= self.shared.limits.max_names
        {
            return Err(GlobalError::TableFull(self.shared.limits.max_names));
        }
        drop(names);
        self.supersede(&name);
        self.bind(&name, pid, ctx);
        Ok(())
    }

    /// The first phase of a registration: takes its locks here and, if `name` may go to
    /// `pid` here, binds it at once, so that a registration costs one round trip to each
    /// node. [`committed`](Self::committed) ends it; [`abort`](Self::abort) undoes it.
    #[handle]
    fn lock_commit(
        &mut self,
        origin: Origin,
        hold: Hold,
        name: String,
        pid: AnyPid,
        ctx: &mut Ctx<Self>,
    ) -> Prepared {
        if !Self::speaks_for(&origin, &hold, ctx) {
            return Prepared::Refused(GlobalError::NotLocal(hold.holder.to_string()));
        }
        match self.take_locks(&hold.ids, &hold.holder, hold.request, ctx) {
            Ok(false) => Prepared::Busy,
            Err(e) => Prepared::Refused(e),
            Ok(true) => match self.refusal(&name, &pid, false) {
                Some(e) => Prepared::Refused(e),
                None if self.shared.read().by_name.get(&name) == Some(&pid) => {
                    Prepared::AlreadyBound
                }
                None => {
                    self.bind(&name, pid, ctx);
                    Prepared::Bound
                }
            },
        }
    }

    /// A registration bound everywhere: it supersedes old conflicts over the name here, and
    /// its locks go.
    #[handle(cast)]
    fn committed(&mut self, origin: Origin, hold: Hold, name: String, ctx: &mut Ctx<Self>) {
        if Self::speaks_for(&origin, &hold, ctx) {
            if self.held_by(&name_lock(&name), &origin, ctx) {
                self.supersede(&name);
            }
            self.release_hold(&hold, ctx)
        }
    }

    /// A registration that did not go through everywhere: the name bound here by its
    /// `lock_commit` is unbound, and its locks go. A call, so that the registering task
    /// returns its error only once the name is gone.
    #[handle]
    fn abort(
        &mut self,
        origin: Origin,
        hold: Hold,
        name: String,
        pid: AnyPid,
        ctx: &mut Ctx<Self>,
    ) {
        if Self::speaks_for(&origin, &hold, ctx) {
            if self.held_by(&name_lock(&name), &origin, ctx) {
                self.unbind(&name, &pid, ctx);
            }
            self.release_hold(&hold, ctx)
        }
    }

    /// Unbinds `name` here, if it is bound to `pid`: only by the node that holds its lock.
    #[handle]
    fn remove(&mut self, origin: Origin, name: String, pid: AnyPid, ctx: &mut Ctx<Self>) {
        if self.held_by(&name_lock(&name), &origin, ctx) {
            self.unbind(&name, &pid, ctx)
        }
    }

    /// A peer's server, its table, and the pids it knows lost their names: when the two
    /// nodes connect, or when that server (re)starts and asks for this one's (`answer`).
    #[handle(cast)]
    fn sync(
        &mut self,
        origin: Origin,
        from: Pid<GlobalServer>,
        answer: bool,
        names: Vec<(String, AnyPid)>,
        excluded: Vec<(String, Vec<AnyPid>)>,
        ctx: &mut Ctx<Self>,
    ) {
        let node = ctx.node();
        if from.node() == node.name() || !origin.speaks_for(from.node(), node.name()) {
            return;
        }
        lock(&self.shared.peers).insert(from.node().to_string(), from.any());
        if answer {
            self.send_table(&from, false, ctx);
        }
        for (name, losers) in excluded {
            if self.excluded.contains_key(&name)
                || self.excluded.len() < self.shared.limits.max_names
            {
                self.exclude(&name, &losers, ctx);
            }
        }
        self.merge(names, ctx)
    }

    /// The decision on a conflict, from the node that decided it.
    #[handle(cast)]
    fn resolved(
        &mut self,
        name: String,
        a: AnyPid,
        b: AnyPid,
        winner: Option<AnyPid>,
        ctx: &mut Ctx<Self>,
    ) {
        self.apply(&name, &a, &b, winner, ctx)
    }

    /// A peer's failed links, as it says on the connection it says it on.
    #[handle(cast)]
    fn severed(&mut self, origin: Origin, lost: Vec<(String, u32)>, ctx: &mut Ctx<Self>) {
        let (Some(from), Some(link)) = (origin.node(), origin.link()) else {
            return;
        };
        // A peer has at most as many links as this node lets it have peers.
        let mut lost = lost;
        if let Some(net) = Self::net(ctx) {
            lost.truncate(net.config.max_peers);
        }
        self.reports.insert(from.name().to_string(), (link, lost));
        self.keep_partitions_clean(ctx);
    }

    /// A node connected: find its server, send it this node's failed links and table. A
    /// server that has just (re)started also asks for the peer's table back.
    #[handle(cast)]
    async fn node_up(&mut self, peer: String, answer: bool, ctx: &mut Ctx<Self>) {
        if self.overlay.is_some() {
            // Names travel in notes there.
            return;
        }
        self.forget_earlier_runs(&peer, ctx);
        self.tell_severed(ctx);
        self.keep_partitions_clean(ctx);
        let node = ctx.node();
        let Ok(server) = node.whereis_on::<GlobalServer>(SERVER_NAME, &peer).await else {
            return;
        };
        lock(&self.shared.peers).insert(peer, server.any());
        self.send_table(&server, answer, ctx);
    }

    /// A node's connection is lost: tell the others if the link failed.
    #[handle(cast)]
    fn node_down(&mut self, peer: String, ctx: &mut Ctx<Self>) {
        if self.overlay.is_some() {
            return;
        }
        lock(&self.shared.peers).remove(&peer);
        self.tell_severed(ctx);
        self.keep_partitions_clean(ctx);
    }

    /// On the overlay: `node`'s claims changed (or it went down, with `None`).
    #[handle(cast)]
    fn noted(&mut self, origin: Origin, node: String, body: Option<Vec<u8>>, ctx: &mut Ctx<Self>) {
        // Only the overlay's stream on this node says what a node's note is.
        if origin.node().is_none() {
            self.apply_note(node, body, ctx);
        }
    }

    /// On the overlay: publishes this node's claims, once a burst of changes is in.
    #[handle(cast)]
    fn publish(&mut self, origin: Origin, ctx: &mut Ctx<Self>) {
        if origin.node().is_none() {
            self.publish_now(ctx);
        }
    }

    /// On the overlay: claims `name` for `pid` on this node's behalf (`register`, or with
    /// `moving`, `re_register`); for callers on this node.
    #[handle]
    fn claim_name(
        &mut self,
        origin: Origin,
        name: String,
        pid: AnyPid,
        moving: bool,
        ctx: &mut Ctx<Self>,
    ) -> Result<(), GlobalError> {
        if origin.node().is_some() {
            return Err(GlobalError::NotLocal(pid.to_string()));
        }
        self.claim(name, pid, moving, ctx)
    }

    /// On the overlay: drops this node's claim of `name` (`unregister`, from any node).
    #[handle]
    fn disclaim_name(&mut self, name: String, ctx: &mut Ctx<Self>) {
        self.disclaim(&name, ctx);
    }

    /// On the overlay: the node whose claim binds `name` now, if not this one.
    #[handle]
    fn claimant_of(&mut self, name: String) -> Option<String> {
        self.claimant(&name)
    }
}
