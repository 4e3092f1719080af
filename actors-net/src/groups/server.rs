//! A scope's server: one per node and scope, an ordinary actor holding who joined what on its
//! node, and what each peer's server last said of its own.

use actors::dist::rt::HashMap;
use std::sync::Arc;

use actors::dist::Origin;
use actors::{AnyPid, Ctx, Down, MonitorRef, Pid, actor};

use super::table::{GroupError, Shared, remove_from, server_name};
use crate::node::DistNode;

/// A local member: the monitor that tells when it ends, and its groups (once per join).
pub(super) struct Member {
    monitor: MonitorRef,
    pub(super) groups: Vec<String>,
}

/// A peer's server of the same scope: our monitor on it, and its members as it last told us.
struct Peer {
    monitor: MonitorRef,
    groups: HashMap<String, Vec<AnyPid>>,
}

/// The scope's state on the overlay.
pub(super) struct OnOverlay {
    /// Each other node's members, as its note last said: a node is here, members or none,
    /// while its note is read (it runs the scope and is up).
    pub(super) nodes: HashMap<String, HashMap<String, Vec<AnyPid>>>,
    /// A publish is queued in the server's mailbox.
    pub(super) queued: bool,
    /// This node's memberships, as counted against the bound.
    pub(super) bytes: usize,
}

/// One node's server of one process-group scope.
#[actor]
pub struct GroupServer {
    pub(super) shared: Arc<Shared>,
    /// This node's members, by pid.
    pub(super) local: HashMap<AnyPid, Member>,
    /// The servers of this scope on other nodes that discovered us or that we discovered.
    peers: HashMap<Pid<GroupServer>, Peer>,
    /// Callers on this node waiting for the members of a node whose server is not known yet,
    /// by node name.
    pub(super) waiting: HashMap<String, Vec<actors::Reply<()>>>,
    /// Callers waiting for a peer's answer to a fresh request for its members, by token,
    /// with the peer asked: only its echo answers them.
    echoes: HashMap<u64, (Pid<GroupServer>, Vec<actors::Reply<()>>)>,
    next_token: u64,
    /// On the overlay: the other nodes' members from their notes (and no peers above).
    pub(super) overlay: Option<OnOverlay>,
}

impl GroupServer {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        GroupServer {
            shared,
            local: HashMap::default(),
            peers: HashMap::default(),
            waiting: HashMap::default(),
            echoes: HashMap::default(),
            next_token: 0,
            overlay: None,
        }
    }

    /// Asks `peer` for its members afresh, then to echo `token`: the echo comes back after
    /// the members (one sender, one receiver, in order), so whoever waits on the token then
    /// sees every member `peer` had when it read the request.
    fn ask_afresh(
        &mut self,
        peer: &Pid<GroupServer>,
        replies: Vec<actors::Reply<()>>,
        ctx: &Ctx<Self>,
    ) {
        self.next_token += 1;
        let token = self.next_token;
        let me = ctx.pid();
        let _ = peer.discover(Origin::local(), me.clone());
        let _ = peer.echo(Origin::local(), me, token);
        self.echoes.insert(token, (peer.clone(), replies));
    }

    /// This node's members, as a `sync` carries them.
    pub(super) fn local_groups(&self) -> Vec<(String, Vec<AnyPid>)> {
        self.shared
            .read()
            .local
            .iter()
            .map(|(g, pids)| (g.clone(), pids.to_vec()))
            .collect()
    }

    fn broadcast(&self, ctx: &Ctx<Self>, send: impl Fn(&Pid<GroupServer>, Pid<GroupServer>)) {
        let me = ctx.pid();
        for peer in self.peers.keys() {
            send(peer, me.clone());
        }
    }

    fn know(&mut self, peer: &Pid<GroupServer>, ctx: &mut Ctx<Self>) -> bool {
        if self.peers.contains_key(peer) {
            return false;
        }
        let monitor = ctx.monitor(peer);
        self.peers.insert(
            peer.clone(),
            Peer {
                monitor,
                groups: HashMap::default(),
            },
        );
        true
    }
}

#[actor]
impl GroupServer {
    /// A server (re)started: it watches this node's members again, forgets what peers said
    /// (their servers watched the last one and saw it end), and discovers them anew.
    fn started(&mut self, ctx: &mut Ctx<Self>) {
        let mut members: HashMap<AnyPid, Vec<String>> = HashMap::default();
        {
            let mut table = self.shared.write();
            for (group, pids) in &table.local {
                for pid in pids.iter() {
                    members.entry(pid.clone()).or_default().push(group.clone());
                }
            }
            // The members of other nodes come back with their servers' syncs.
            let remote: Vec<(String, Vec<AnyPid>)> = table
                .all
                .iter()
                .map(|(g, all)| {
                    let local = table.local.get(g).map_or(&[][..], |m| &m[..]);
                    (g.clone(), difference(all, local))
                })
                .collect();
            for (group, pids) in remote {
                table.remove(&group, &pids, false);
            }
        }
        for (pid, groups) in members {
            let monitor = ctx.monitor(&pid);
            self.local.insert(pid, Member { monitor, groups });
        }
        self.shared.set_server(Some(ctx.pid().any()));
        if self.start_on_overlay(ctx) {
            return;
        }
        let node = ctx.node();
        let me = ctx.pid();
        for peer in node.nodes() {
            let _ = me.node_up(peer);
        }
    }

    fn on_down(&mut self, down: Down, ctx: &mut Ctx<Self>) {
        if let Some(member) = self.local.remove(&down.pid) {
            let mut left: HashMap<String, Vec<AnyPid>> = HashMap::default();
            for group in member.groups {
                self.counted(&group, false, ctx);
                left.entry(group).or_default().push(down.pid.clone());
            }
            let mut table = self.shared.write();
            for (group, pids) in &left {
                table.remove(group, pids, true);
            }
            drop(table);
            for (group, pids) in left {
                self.broadcast(ctx, |peer, me| {
                    let _ = peer.left(Origin::local(), me, group.clone(), pids.clone());
                });
            }
        } else {
            // A pid in a `Down` may not carry its actor type: find the peer by its monitor.
            let peer = self
                .peers
                .iter()
                .find(|(_, p)| p.monitor == down.monitor_ref)
                .map(|(pid, _)| pid.clone());
            if let Some(gone) = peer.and_then(|p| self.peers.remove(&p)) {
                let mut table = self.shared.write();
                for (group, pids) in &gone.groups {
                    table.remove(group, pids, false);
                }
            }
        }
    }

    /// Adds `pid` (of this node) to `group`, and tells the peers.
    #[handle]
    fn join(&mut self, group: String, pid: AnyPid, ctx: &mut Ctx<Self>) -> Result<(), GroupError> {
        own(&pid, ctx)?;
        self.room_for(&group, ctx)?;
        match self.local.get_mut(&pid) {
            Some(member) => member.groups.push(group.clone()),
            None => {
                let monitor = ctx.monitor(&pid);
                let groups = vec![group.clone()];
                self.local.insert(pid.clone(), Member { monitor, groups });
            }
        }
        let pids = vec![pid];
        self.shared.write().add(&group, &pids, true);
        self.counted(&group, true, ctx);
        self.broadcast(ctx, |peer, me| {
            let _ = peer.joined(Origin::local(), me, group.clone(), pids.clone());
        });
        Ok(())
    }

    /// Removes one of `pid`'s memberships of `group`, and tells the peers.
    #[handle]
    fn leave(&mut self, group: String, pid: AnyPid, ctx: &mut Ctx<Self>) -> Result<(), GroupError> {
        own(&pid, ctx)?;
        let member = self
            .local
            .get_mut(&pid)
            .ok_or_else(|| GroupError::NotJoined(group.clone()))?;
        let i = member
            .groups
            .iter()
            .position(|g| *g == group)
            .ok_or_else(|| GroupError::NotJoined(group.clone()))?;
        member.groups.swap_remove(i);
        if member.groups.is_empty() {
            let monitor = member.monitor;
            self.local.remove(&pid);
            ctx.demonitor(monitor);
        }
        let pids = vec![pid];
        self.shared.write().remove(&group, &pids, true);
        self.counted(&group, false, ctx);
        self.broadcast(ctx, |peer, me| {
            let _ = peer.left(Origin::local(), me, group.clone(), pids.clone());
        });
        Ok(())
    }

    /// `peer` asks for this node's members: answer, and discover it back if it is new.
    #[handle(cast)]
    fn discover(&mut self, origin: Origin, peer: Pid<GroupServer>, ctx: &mut Ctx<Self>) {
        if peer.node() == ctx.node().name() || !speaks_for(&origin, &peer) {
            return;
        }
        let me = ctx.pid();
        let _ = peer.sync(Origin::local(), me.clone(), self.local_groups());
        if self.know(&peer, ctx) {
            let _ = peer.discover(Origin::local(), me);
        }
    }

    /// All of `peer`'s members: replaces what was known of it.
    #[handle(cast)]
    fn sync(
        &mut self,
        origin: Origin,
        peer: Pid<GroupServer>,
        groups: Vec<(String, Vec<AnyPid>)>,
        ctx: &mut Ctx<Self>,
    ) {
        if peer.node() == ctx.node().name() || !speaks_for(&origin, &peer) {
            return;
        }
        self.know(&peer, ctx);
        let Some(known) = self.peers.get_mut(&peer) else {
            return;
        };
        let new: HashMap<String, Vec<AnyPid>> = groups
            .into_iter()
            .map(|(group, pids)| (group, of_node(&peer, pids)))
            .filter(|(_, pids)| !pids.is_empty())
            .collect();
        let old = std::mem::replace(&mut known.groups, new.clone());
        self.replace(&old, &new);
        if let Some(replies) = self.waiting.remove(peer.node()) {
            self.ask_afresh(&peer, replies, ctx);
        }
    }

    /// Answers once this server has every member `node` had when the question reached it:
    /// for callers on this node only, so no peer can grow the lists of those waiting.
    #[handle]
    fn await_peer(
        &mut self,
        origin: Origin,
        node: String,
        reply: actors::Reply<()>,
        ctx: &mut Ctx<Self>,
    ) {
        if origin.node().is_some() {
            return reply.fail(actors::CallError::NoProc);
        }
        self.echoes
            .retain(|_, (_, replies)| replies.iter().any(|r| !r.is_done()));
        if self.heard_from(&node) == Some(true) {
            return reply.send(());
        }
        let known = self.peers.keys().find(|p| p.node() == node).cloned();
        match known {
            Some(peer) => self.ask_afresh(&peer, vec![reply], ctx),
            None => {
                let waiting = self.waiting.entry(node).or_default();
                waiting.retain(|r| !r.is_done());
                waiting.push(reply);
            }
        }
    }

    /// `peer` asks to have `token` echoed, after the members it asked for just before.
    #[handle(cast)]
    fn echo(&mut self, origin: Origin, peer: Pid<GroupServer>, token: u64, ctx: &mut Ctx<Self>) {
        if peer.node() == ctx.node().name() || !speaks_for(&origin, &peer) {
            return;
        }
        let _ = peer.echoed(Origin::local(), ctx.pid(), token);
    }

    /// The echo of `token`: the members asked for with it are in. An echo from another
    /// server than the one asked (a stray or a lie) answers no one.
    #[handle(cast)]
    fn echoed(&mut self, origin: Origin, peer: Pid<GroupServer>, token: u64) {
        if !speaks_for(&origin, &peer) || self.echoes.get(&token).is_none_or(|(p, _)| *p != peer) {
            return;
        }
        if let Some((_, replies)) = self.echoes.remove(&token) {
            for reply in replies {
                reply.send(());
            }
        }
    }

    /// `pids` of `peer`'s node joined `group`.
    #[handle(cast)]
    fn joined(&mut self, origin: Origin, peer: Pid<GroupServer>, group: String, pids: Vec<AnyPid>) {
        if !speaks_for(&origin, &peer) {
            return;
        }
        // From a peer not known yet, this is ignored: its `sync` will carry it.
        let pids = of_node(&peer, pids);
        if let Some(known) = self.peers.get_mut(&peer) {
            known
                .groups
                .entry(group.clone())
                .or_default()
                .extend_from_slice(&pids);
            self.shared.write().add(&group, &pids, false);
        }
    }

    /// `pids` of `peer`'s node left `group`.
    #[handle(cast)]
    fn left(&mut self, origin: Origin, peer: Pid<GroupServer>, group: String, pids: Vec<AnyPid>) {
        if !speaks_for(&origin, &peer) {
            return;
        }
        if let Some(known) = self.peers.get_mut(&peer) {
            let Some(members) = known.groups.get_mut(&group) else {
                return;
            };
            let gone = remove_from(members, &pids);
            if members.is_empty() {
                known.groups.remove(&group);
            }
            self.shared.write().remove(&group, &gone, false);
        }
    }

    /// A node connected: find its server of this scope, and discover it. The lookup runs
    /// apart, so a slow node does not hold up this server.
    #[handle(cast)]
    fn node_up(&mut self, peer: String, ctx: &mut Ctx<Self>) {
        if self.overlay.is_some() {
            // Members travel in notes there.
            return;
        }
        let node = ctx.node();
        let me = ctx.pid();
        let name = server_name(&self.shared.scope);
        actors::rt::spawn(async move {
            // A node without this scope has nothing to tell; it discovers us when it starts it.
            if let Ok(server) = node.whereis_on::<GroupServer>(&name, &peer).await {
                let _ = server.discover(Origin::local(), me);
            }
        });
    }

    /// On the overlay: `node`'s note changed (or it went down, with `None`).
    #[handle(cast)]
    fn noted(&mut self, origin: Origin, node: String, body: Option<Vec<u8>>, ctx: &mut Ctx<Self>) {
        // Only the overlay's stream on this node says what a node's note is.
        if origin.node().is_none() {
            self.apply_note(node, body, ctx);
        }
    }

    /// On the overlay: publishes this node's members, once a burst of changes is in.
    #[handle(cast)]
    fn publish(&mut self, origin: Origin, ctx: &mut Ctx<Self>) {
        if origin.node().is_none() {
            self.publish_now(ctx);
        }
    }
}

impl GroupServer {
    /// What was known of a node's members is now `new`: the table loses and gains the
    /// difference.
    pub(super) fn replace(
        &self,
        old: &HashMap<String, Vec<AnyPid>>,
        new: &HashMap<String, Vec<AnyPid>>,
    ) {
        let mut table = self.shared.write();
        for (group, before) in old {
            let now = new.get(group).map_or(&[][..], Vec::as_slice);
            table.remove(group, &difference(before, now), false);
        }
        for (group, now) in new {
            let before = old.get(group).map_or(&[][..], Vec::as_slice);
            table.add(group, &difference(now, before), false);
        }
    }
}

/// Only this node's processes join and leave through its server, as in `pg`: it speaks for
/// them to the other nodes.
fn own(pid: &AnyPid, ctx: &Ctx<GroupServer>) -> Result<(), GroupError> {
    let node = ctx.node();
    if pid.node() == node.name() && pid.creation() == node.id().creation() {
        Ok(())
    } else {
        Err(GroupError::NotLocal(pid.to_string()))
    }
}

/// True if `peer`, a server named in a message, is of the node the message came from: a
/// server speaks only for itself, never in the name of a third node's.
fn speaks_for(origin: &Origin, peer: &Pid<GroupServer>) -> bool {
    match origin.node() {
        Some(from) => from.name() == peer.node() && from.creation() == peer.any().creation(),
        // From this node: only a local test or tool would send it, and it is trusted.
        None => true,
    }
}

/// The pids of `peer`'s node: a server speaks only for its own node's members, so a
/// confused or hostile peer cannot list another node's processes here.
fn of_node(peer: &Pid<GroupServer>, mut pids: Vec<AnyPid>) -> Vec<AnyPid> {
    let creation = peer.any().creation();
    pids.retain(|p| p.node() == peer.node() && p.creation() == creation);
    pids
}

/// The elements of `a` not matched one for one in `b`.
fn difference(a: &[AnyPid], b: &[AnyPid]) -> Vec<AnyPid> {
    let mut unmatched: HashMap<&AnyPid, usize> = HashMap::default();
    for pid in b {
        *unmatched.entry(pid).or_insert(0) += 1;
    }
    a.iter()
        .filter(|pid| match unmatched.get_mut(pid) {
            Some(n) if *n > 0 => {
                *n -= 1;
                false
            }
            _ => true,
        })
        .cloned()
        .collect()
}
