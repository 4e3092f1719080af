//! The global server: one per distributed node, an ordinary actor holding that node's part of
//! the registry and its locks, answering the other nodes' registering tasks.

use std::collections::HashMap;
use std::sync::Arc;

use actors::{AnyPid, Ctx, Down, ExitReason, MonitorRef, Node, Pid, actor};

use super::{GlobalError, Resolver, SERVER_NAME, Shared};
use crate::connection::lock;
use crate::node::{DistNode, NodeEvent};

/// How long a node that another lost may take to show it is alive before nothing is cut.
const CONFIRM_LOST: std::time::Duration = std::time::Duration::from_secs(1);

/// Starts the global server of a freshly started distributed node.
pub(crate) fn start(node: &Node, shared: Arc<Shared>) {
    let server = node.spawn(GlobalServer {
        shared: shared.clone(),
        watched: HashMap::new(),
        watch_of: HashMap::new(),
        locks: HashMap::new(),
        holders: HashMap::new(),
        decided: HashMap::new(),
        settled: HashMap::new(),
    });
    let _ = node.register(SERVER_NAME, &server);
    *shared
        .server
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(server.clone());
    // Node events reach the server as casts.
    let mut events = node.monitor_nodes();
    actors::rt::spawn(async move {
        while let Some(event) = events.next().await {
            let sent = match event {
                NodeEvent::Up(peer) => server.node_up(peer),
                NodeEvent::Down(peer) => server.node_down(peer),
            };
            if sent.is_err() {
                return;
            }
        }
    });
}

/// A process holding cluster locks, and how many times it holds each.
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
    /// Lock id -> holder.
    locks: HashMap<String, AnyPid>,
    holders: HashMap<AnyPid, Holder>,
    /// Conflicts this node decided: (name, smaller pid, greater pid) -> the winner.
    decided: HashMap<(String, AnyPid, AnyPid), Option<AnyPid>>,
    /// The last decision applied here, by name: passed on to nodes that connect later, and
    /// kept so that a table synced from a node that has not heard of it yet does not bring
    /// an excluded pid back.
    settled: HashMap<String, Decision>,
}

/// A conflict's decision: the two pids, and the one kept (if any).
type Decision = (AnyPid, AnyPid, Option<AnyPid>);

impl GlobalServer {
    fn bind(&mut self, name: &str, pid: AnyPid, ctx: &mut Ctx<Self>) {
        let old = {
            let mut names = self.shared.write();
            if let Some(previous) = names.by_pid.get(&pid) {
                if previous != name {
                    let previous = previous.clone();
                    names.by_name.remove(&previous);
                }
            }
            let old = names.by_name.insert(name.to_string(), pid.clone());
            if let Some(old) = &old {
                names.by_pid.remove(old);
            }
            names.by_pid.insert(pid.clone(), name.to_string());
            old
        };
        if old.as_ref() != Some(&pid) {
            if let Some(old) = old {
                self.unwatch(&old, ctx);
            }
            if !self.watch_of.contains_key(&pid) {
                let monitor = ctx.monitor(&pid);
                self.watched.insert(monitor, pid.clone());
                self.watch_of.insert(pid, monitor);
            }
        }
    }

    fn unbind(&mut self, name: &str, pid: &AnyPid, ctx: &mut Ctx<Self>) {
        let removed = {
            let mut names = self.shared.write();
            if names.by_name.get(name) == Some(pid) {
                names.by_name.remove(name);
                names.by_pid.remove(pid);
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
        lock(&self.shared.peers).values().cloned().collect()
    }

    /// Merges a peer's table into ours.
    fn merge(&mut self, names: Vec<(String, AnyPid)>, ctx: &mut Ctx<Self>) {
        for (name, theirs) in names {
            let excluded = self.settled.get(&name).is_some_and(|(a, b, w)| {
                (*a == theirs || *b == theirs) && w.as_ref() != Some(&theirs)
            });
            if excluded {
                continue;
            }
            let ours = self.shared.read().by_name.get(&name).cloned();
            match ours {
                None => {
                    if !self.shared.read().by_pid.contains_key(&theirs) {
                        self.bind(&name, theirs, ctx);
                    }
                }
                Some(ours) if ours == theirs => {}
                Some(ours) => self.conflict(&name, ours, theirs, ctx),
            }
        }
    }

    fn conflict(&mut self, name: &str, a: AnyPid, b: AnyPid, ctx: &mut Ctx<Self>) {
        let (first, second) = if (a.node(), a.id()) <= (b.node(), b.id()) {
            (a, b)
        } else {
            (b, a)
        };
        // The node of the pid whose node name is smaller decides, once.
        if first.node() != ctx.node().name() {
            return;
        }
        let key = (name.to_string(), first.clone(), second.clone());
        let winner = match self.decided.get(&key) {
            Some(winner) => winner.clone(),
            None => {
                let resolver = self
                    .shared
                    .resolver
                    .read()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .clone();
                self.shared
                    .decisions
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let node = ctx.node();
                let winner = match resolver {
                    Resolver::StopLoser => {
                        node.stop(&second, ExitReason::NameConflict);
                        Some(first.clone())
                    }
                    Resolver::NotifyLoser => {
                        node.exit(&second, ExitReason::NameConflict);
                        Some(first.clone())
                    }
                    Resolver::NotifyBoth => {
                        node.exit(&first, ExitReason::NameConflict);
                        node.exit(&second, ExitReason::NameConflict);
                        None
                    }
                    Resolver::Custom(f) => f(name, &first, &second),
                };
                tracing::info!(name, %first, %second, winner = ?winner, "name conflict resolved");
                self.decided.insert(key, winner.clone());
                winner
            }
        };
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

    fn apply(
        &mut self,
        name: &str,
        a: &AnyPid,
        b: &AnyPid,
        winner: Option<AnyPid>,
        ctx: &mut Ctx<Self>,
    ) {
        self.settled
            .insert(name.to_string(), (a.clone(), b.clone(), winner.clone()));
        let current = self.shared.read().by_name.get(name).cloned();
        match (current, winner) {
            (Some(cur), Some(w)) if (cur == *a || cur == *b) && cur != w => {
                self.unbind(name, &cur, ctx);
                self.bind(name, w, ctx);
            }
            (Some(cur), None) if cur == *a || cur == *b => self.unbind(name, &cur, ctx),
            (None, Some(w)) => self.bind(name, w, ctx),
            _ => {}
        }
    }

    /// Why `name` could not go to `pid` here, if it could not.
    fn refusal(&self, name: &str, pid: &AnyPid, moving: bool) -> Option<GlobalError> {
        let names = self.shared.read();
        match (names.by_name.get(name), names.by_pid.get(pid)) {
            (Some(p), _) if p == pid => None,
            (Some(_), _) if !moving => Some(GlobalError::NameTaken(name.to_string())),
            (_, Some(other)) if other != name => Some(GlobalError::AlreadyNamed(other.clone())),
            _ => None,
        }
    }

    fn take_locks(&mut self, ids: &[String], holder: &AnyPid, ctx: &mut Ctx<Self>) -> bool {
        if ids
            .iter()
            .any(|id| self.locks.get(id).is_some_and(|h| h != holder))
        {
            return false;
        }
        let entry = self.holders.entry(holder.clone()).or_default();
        if entry.monitor.is_none() {
            entry.monitor = Some(ctx.monitor(holder));
        }
        for id in ids {
            self.locks.insert(id.clone(), holder.clone());
            *entry.locks.entry(id.clone()).or_insert(0) += 1;
        }
        true
    }

    fn release_locks(&mut self, ids: &[String], holder: &AnyPid, ctx: &mut Ctx<Self>) {
        let Some(entry) = self.holders.get_mut(holder) else {
            return;
        };
        for id in ids {
            if let Some(n) = entry.locks.get_mut(id) {
                *n -= 1;
                if *n == 0 {
                    entry.locks.remove(id);
                    self.locks.remove(id);
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
}

#[actor]
impl GlobalServer {
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
                self.locks.remove(id);
            }
        }
    }

    /// Takes all of `ids` for `holder`, or none; with `check`, also says why that name could
    /// not go to that pid here, if it could not, saving a round trip.
    #[handle]
    fn lock(
        &mut self,
        ids: Vec<String>,
        holder: AnyPid,
        check: Option<(String, AnyPid, bool)>,
        ctx: &mut Ctx<Self>,
    ) -> (bool, Option<GlobalError>) {
        let taken = self.take_locks(&ids, &holder, ctx);
        let refused = match check {
            Some((name, pid, moving)) if taken => self.refusal(&name, &pid, moving),
            _ => None,
        };
        (taken, refused)
    }

    /// Releases `ids` held by `holder`.
    #[handle(cast)]
    fn unlock(&mut self, ids: Vec<String>, holder: AnyPid, ctx: &mut Ctx<Self>) {
        self.release_locks(&ids, &holder, ctx)
    }

    /// Binds `name` to `pid` here (the commit of a registration).
    #[handle]
    fn commit(&mut self, name: String, pid: AnyPid, ctx: &mut Ctx<Self>) {
        // A registration made now supersedes an old conflict's decision.
        self.settled.remove(&name);
        self.bind(&name, pid, ctx)
    }

    /// Unbinds `name` here, if it is bound to `pid`.
    #[handle]
    fn remove(&mut self, name: String, pid: AnyPid, ctx: &mut Ctx<Self>) {
        self.unbind(&name, &pid, ctx)
    }

    /// A peer's table and the decisions it applied, when the two nodes connect.
    #[handle(cast)]
    fn sync(
        &mut self,
        names: Vec<(String, AnyPid)>,
        decisions: Vec<(String, Decision)>,
        ctx: &mut Ctx<Self>,
    ) {
        for (name, (a, b, winner)) in decisions {
            if !self.settled.contains_key(&name) {
                self.apply(&name, &a, &b, winner, ctx);
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

    /// `by` lost its connection to `lost`.
    #[handle(cast)]
    fn lost(&mut self, by: String, lost: String, ctx: &mut Ctx<Self>) {
        let node = ctx.node();
        if !self.shared.clean_partitions || !connected_to_both(&node, &by, &lost) {
            return;
        }
        // A node that died is lost to every node within moments, and cutting a live link
        // for it would split the survivors. Only a node that still answers was cut off
        // from `by` alone. Asking runs apart, so this server does not wait.
        actors::rt::spawn(async move {
            let asked = node.whereis_on::<GlobalServer>(SERVER_NAME, &lost);
            let answers = actors::rt::timeout(CONFIRM_LOST, asked)
                .await
                .is_ok_and(|r| r.is_ok());
            if answers && connected_to_both(&node, &by, &lost) {
                // Every node connected to both drops the same one: the greater.
                let drop = if by > lost { by } else { lost };
                tracing::info!(node = %node.name(), %drop, "disconnecting to keep partitions clean");
                node.disconnect(&drop);
            }
        });
    }

    /// A node connected: find its server and send it this table.
    #[handle(cast)]
    async fn node_up(&mut self, peer: String, ctx: &mut Ctx<Self>) {
        let node = ctx.node();
        let Ok(server) = node.whereis_on::<GlobalServer>(SERVER_NAME, &peer).await else {
            return;
        };
        lock(&self.shared.peers).insert(peer, server.clone());
        let table: Vec<(String, AnyPid)> = self
            .shared
            .read()
            .by_name
            .iter()
            .map(|(n, p)| (n.clone(), p.clone()))
            .collect();
        let decisions: Vec<(String, Decision)> = self
            .settled
            .iter()
            .map(|(n, d)| (n.clone(), d.clone()))
            .collect();
        let _ = server.sync(table, decisions);
    }

    /// A node's connection is lost: tell the others, for clean partitions.
    #[handle(cast)]
    fn node_down(&mut self, peer: String, ctx: &mut Ctx<Self>) {
        lock(&self.shared.peers).remove(&peer);
        if self.shared.clean_partitions {
            let me = ctx.node().name().to_string();
            for server in self.peer_servers() {
                let _ = server.lost(me.clone(), peer.clone());
            }
        }
    }
}

fn connected_to_both(node: &Node, a: &str, b: &str) -> bool {
    let nodes = node.nodes();
    nodes.iter().any(|n| n == a) && nodes.iter().any(|n| n == b)
}
