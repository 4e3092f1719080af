//! The global server: one per distributed node, an ordinary actor holding that node's part of
//! the registry and its locks, answering the other nodes' registering tasks, and keeping
//! partitions clean.
//!
//! Every message a peer's server sends carries an [`Origin`], which the receiving node fills
//! in from the connection it arrived on: a server acts only on what a peer says of its own
//! processes and its own links.

use actors::dist::rt::{HashMap, HashSet};
use std::sync::Arc;

use actors::dist::Origin;
use actors::{AnyPid, Ctx, Down, ExitReason, MonitorRef, Pid, actor};

use super::table::{GlobalError, Resolver, SERVER_NAME, Shared, name_lock};
use crate::connection::lock;
use crate::net::Net;
use crate::node::DistNode;

/// How often a server tells its peers its table's digest.
const DIGEST_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// A process holding cluster locks: the monitor that frees them when it ends, and each lock
/// it holds with the request that took it and how many times.
#[derive(Default)]
struct Holder {
    monitor: Option<MonitorRef>,
    locks: HashMap<String, u32>,
}

/// One node's part of the cluster-wide registry and its locks.
#[actor]
pub struct GlobalServer {
    shared: Arc<Shared>,
    /// Monitors on registered pids, to drop their names when they end; both ways, so that
    /// neither a `Down` nor an unregistration scans the table.
    watched: HashMap<MonitorRef, AnyPid>,
    watch_of: HashMap<AnyPid, MonitorRef>,
    /// Lock id -> its holder and the request that took it: a holder may take a lock again
    /// under the same request (`set_lock`), never under another (two registrations).
    locks: HashMap<String, (AnyPid, u64)>,
    holders: HashMap<AnyPid, Holder>,
    /// Locks held by the processes of each node: what one node may hold here is bounded.
    locks_by_node: HashMap<String, usize>,
    /// Conflicts this node decided with a resolver that runs once: (name, smaller pid,
    /// greater pid).
    decided: HashSet<(String, AnyPid, AnyPid)>,
    /// Processes of this node that lost a name, and were stopped or told so, once.
    acted: HashSet<(String, AnyPid)>,
    /// Pids that lost a name in a conflict: never bound to it again (until it is registered
    /// anew), whatever a table synced from a node that has not heard of it says.
    excluded: HashMap<String, Vec<AnyPid>>,
    /// What each peer last said of its failed links, with the connection it said it on: only
    /// the word of a peer on the connection up now counts.
    reports: HashMap<String, (u64, Vec<(String, u32)>)>,
    /// This node's failed links, as last told to the peers.
    told: Vec<(String, u32)>,
    /// Peers whose table digest differed from ours last time they sent it: if it differs
    /// again, the tables are exchanged (an update missed in a race is repaired).
    differing: HashSet<String>,
}

impl GlobalServer {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        GlobalServer {
            shared,
            watched: HashMap::default(),
            watch_of: HashMap::default(),
            locks: HashMap::default(),
            holders: HashMap::default(),
            locks_by_node: HashMap::default(),
            decided: HashSet::default(),
            acted: HashSet::default(),
            excluded: HashMap::default(),
            reports: HashMap::default(),
            told: Vec::new(),
            differing: HashSet::default(),
        }
    }

    fn net(ctx: &Ctx<Self>) -> Option<Arc<Net>> {
        actors::dist::extension::<Net>(&ctx.node())
    }

    fn bind(&mut self, name: &str, pid: AnyPid, ctx: &mut Ctx<Self>) {
        let old = {
            let mut names = self.shared.write();
            if let Some(previous) = names.by_pid.get(&pid)
                && previous != name
            {
                let previous = previous.clone();
                names.by_name.remove(&previous);
                self.shared.flip(&previous, &pid);
            }
            let old = names.by_name.insert(name.to_string(), pid.clone());
            if let Some(old) = &old {
                names.by_pid.remove(old);
                self.shared.flip(name, old);
            }
            names.by_pid.insert(pid.clone(), name.to_string());
            self.shared.flip(name, &pid);
            old
        };
        if old.as_ref() != Some(&pid) {
            if let Some(old) = old {
                self.unwatch(&old, ctx);
            }
            self.watch(pid, ctx);
        }
    }

    fn watch(&mut self, pid: AnyPid, ctx: &mut Ctx<Self>) {
        if !self.watch_of.contains_key(&pid) {
            let monitor = ctx.monitor(&pid);
            self.watched.insert(monitor, pid.clone());
            self.watch_of.insert(pid, monitor);
        }
    }

    fn unbind(&mut self, name: &str, pid: &AnyPid, ctx: &mut Ctx<Self>) {
        let removed = {
            let mut names = self.shared.write();
            if names.by_name.get(name) == Some(pid) {
                names.by_name.remove(name);
                names.by_pid.remove(pid);
                self.shared.flip(name, pid);
                true
            } else {
                false
            }
        };
        if removed {
            self.unwatch(pid, ctx);
        }
    }

    fn unwatch(&mut self, pid: &AnyPid, ctx: &mut Ctx<Self>) {
        if let Some(r) = self.watch_of.remove(pid) {
            self.watched.remove(&r);
            ctx.demonitor(r);
        }
    }

    fn peer_servers(&self) -> Vec<Pid<GlobalServer>> {
        lock(&self.shared.peers)
            .values()
            .filter_map(|p| p.downcast())
            .collect()
    }

    fn is_excluded(&self, name: &str, pid: &AnyPid) -> bool {
        self.excluded.get(name).is_some_and(|x| x.contains(pid))
    }

    /// `pids` lost `name`: unbinds it from them here, and keeps them from it. Under the
    /// built-in resolvers, a loser of this node's own is acted on here, once, whichever way
    /// this node learnt of the loss (a conflict of its own, or a peer's table).
    fn exclude(&mut self, name: &str, pids: &[AnyPid], ctx: &mut Ctx<Self>) {
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
                tracing::info!(name, loser = %pid, "name conflict: this node's process lost");
            }
        }
    }

    fn resolver(&self) -> Resolver {
        self.shared
            .resolver
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// True if `pid` is of an earlier run of a node whose later run is this node or one
    /// connected now: that process is gone, whatever a table that has not heard says.
    fn is_stale(pid: &AnyPid, ctx: &Ctx<Self>) -> bool {
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
    fn forget_earlier_runs(&mut self, peer: &str, ctx: &mut Ctx<Self>) {
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

    /// Merges a peer's table into ours. An entry of an earlier run of a node is passed over,
    /// and one of ours gives way to the peer's: no resolver runs for a process that is gone.
    fn merge(&mut self, names: Vec<(String, AnyPid)>, ctx: &mut Ctx<Self>) {
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
    fn conflict(&mut self, name: &str, a: AnyPid, b: AnyPid, ctx: &mut Ctx<Self>) {
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

    fn count_decision(&self) {
        self.shared
            .decisions
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Applies a decision between `a` and `b`: whichever it did not keep is excluded. A
    /// third pid bound here meanwhile meets the winner as a conflict of its own.
    fn apply(
        &mut self,
        name: &str,
        a: &AnyPid,
        b: &AnyPid,
        winner: Option<AnyPid>,
        ctx: &mut Ctx<Self>,
    ) {
        let losers: Vec<AnyPid> = [a, b]
            .into_iter()
            .filter(|p| winner.as_ref() != Some(*p))
            .cloned()
            .collect();
        self.exclude(name, &losers, ctx);
        let Some(winner) = winner else { return };
        if self.is_excluded(name, &winner) {
            return;
        }
        let current = self.shared.read().by_name.get(name).cloned();
        match current {
            None => {
                if !self.shared.read().by_pid.contains_key(&winner) {
                    self.bind(name, winner, ctx);
                }
            }
            Some(cur) if cur == winner => {}
            Some(cur) => self.conflict(name, cur, winner, ctx),
        }
    }

    /// Why `name` could not go to `pid` here, if it could not.
    fn refusal(&self, name: &str, pid: &AnyPid, moving: bool) -> Option<GlobalError> {
        let names = self.shared.read();
        match (names.by_name.get(name), names.by_pid.get(pid)) {
            (Some(p), _) if p == pid => None,
            (Some(_), _) if !moving => Some(GlobalError::NameTaken(name.to_string())),
            (_, Some(other)) if other != name => Some(GlobalError::AlreadyNamed(other.clone())),
            (None, _) if names.by_name.len() >= self.shared.limits.max_names => {
                Some(GlobalError::TableFull(self.shared.limits.max_names))
            }
            _ => None,
        }
    }

    fn take_locks(
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

    fn release_locks(
        &mut self,
        ids: &[String],
        holder: &AnyPid,
        request: u64,
        ctx: &mut Ctx<Self>,
    ) {
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
        if entry.locks.is_empty() {
            if let Some(r) = entry.monitor.take() {
                ctx.demonitor(r);
            }
            self.holders.remove(holder);
        }
    }

    /// True if the node `origin` speaks for holds the lock `id` here.
    fn held_by(&self, id: &str, origin: &Origin, ctx: &Ctx<Self>) -> bool {
        self.locks
            .get(id)
            .is_some_and(|(h, _)| origin.speaks_for(h.node(), ctx.node().name()))
    }

    /// Sends `to` this node's failed links, its table and its exclusions; a large table goes
    /// in parts, each well within a frame.
    fn send_table(&self, to: &Pid<GlobalServer>, answer: bool, ctx: &Ctx<Self>) {
        let table: Vec<(String, AnyPid)> = self
            .shared
            .read()
            .by_name
            .iter()
            .map(|(n, p)| (n.clone(), p.clone()))
            .collect();
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
    fn tell_severed(&mut self, ctx: &Ctx<Self>) {
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
    fn keep_partitions_clean(&mut self, ctx: &Ctx<Self>) {
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

fn forget_one(counts: &mut HashMap<String, usize>, node: &str) {
    if let Some(n) = counts.get_mut(node) {
        *n -= 1;
        if *n == 0 {
            counts.remove(node);
        }
    }
}

#[actor]
impl GlobalServer {
    /// A server (re)started: watches every name this node already holds, and asks the peers
    /// for their tables, so that a restarted server carries on where the last one stopped.
    fn started(&mut self, ctx: &mut Ctx<Self>) {
        *self
            .shared
            .server
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(ctx.pid().any());
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

    /// Tells every peer this table's digest, now and every `DIGEST_EVERY`.
    #[handle(cast)]
    fn tell_digest(&mut self, ctx: &mut Ctx<Self>) {
        let digest = self
            .shared
            .digest
            .load(std::sync::atomic::Ordering::Relaxed);
        let me = ctx.pid();
        for peer in self.peer_servers() {
            let _ = peer.digest(Origin::local(), me.clone(), digest);
        }
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
        // A registration made now supersedes old conflicts over the name, and what they
        // left behind here.
        self.excluded.remove(&name);
        self.acted.retain(|(n, _)| *n != name);
        self.decided.retain(|(n, _, _)| *n != name);
        self.bind(&name, pid, ctx);
        Ok(())
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
        lock(&self.shared.peers).remove(&peer);
        self.tell_severed(ctx);
        self.keep_partitions_clean(ctx);
    }
}
