//! A node's presence server: writes this node's replica, sends its changes to the other
//! servers as deltas on a heartbeat, takes theirs, and asks for a whole replica when a
//! delta shows a gap. The servers find each other as the members of one process group.

use std::sync::Arc;
use std::time::Duration;

use actors::dist::Origin;
use actors::dist::rt::HashMap;
use actors::{AnyPid, Ctx, Down, MonitorRef, Pid, actor};

use super::state::{Change, Delta, Entry, EntryId, Refused, Seen};
use super::view::View;
use crate::groups::{GroupEvent, ProcessGroups};

/// The scope of the servers' group, apart from the user's groups, and the group.
pub(crate) const SCOPE: &str = "actors_net.presence";
const GROUP: &str = "servers";
/// The local name of a node's presence server.
pub(crate) const SERVER_NAME: &str = "actors_net.presence";
/// How often changes are sent: the time a join takes to be seen elsewhere, at most.
const HEARTBEAT: Duration = Duration::from_millis(100);
/// Every this many heartbeats without changes, the version alone is sent, so a peer that
/// lost a delta (and hears nothing after it) finds the gap.
const VERSION_EVERY: u32 = 20;

#[actor(name = "actors_net.PresenceServer")]
pub(crate) struct PresenceServer {
    view: Arc<View>,
    limit: usize,
    /// The other servers: as the group lists them, and any that spoke to this one (so a
    /// group event missed on either side cannot keep two servers apart), each monitored.
    peers: Vec<Pid<PresenceServer>>,
    peer_monitors: HashMap<MonitorRef, Pid<PresenceServer>>,
    /// This replica's version, and the changes made since the last delta was sent.
    version: u64,
    sent: u64,
    pending: Vec<Change>,
    /// The local processes tracked: each entry's monitor, both ways.
    monitors: HashMap<MonitorRef, EntryId>,
    entries: HashMap<EntryId, (MonitorRef, AnyPid)>,
    quiet: u32,
}

impl PresenceServer {
    pub(crate) fn new(view: Arc<View>, limit: usize) -> Self {
        PresenceServer {
            view,
            limit,
            peers: Vec::new(),
            peer_monitors: HashMap::default(),
            version: 0,
            sent: 0,
            pending: Vec::new(),
            monitors: HashMap::default(),
            entries: HashMap::default(),
            quiet: 0,
        }
    }

    /// A change to this node's replica: applied here at once, sent with the next heartbeat.
    fn change(&mut self, change: Change, ctx: &Ctx<Self>) {
        let seen = self.record(change, ctx);
        self.view.tell(seen);
    }

    /// Applies a change to this node's replica and queues it for the peers; what it did here.
    fn record(&mut self, change: Change, ctx: &Ctx<Self>) -> Vec<Seen> {
        let mut seen = Vec::new();
        let delta = Delta {
            from: self.version,
            to: self.version + 1,
            changes: vec![change.clone()],
        };
        // This replica's own writer takes every change: no gap, and no limit on its own.
        let _ = self
            .view
            .with(&ctx.pid().any(), |r| r.take(delta, usize::MAX, &mut seen));
        self.version += 1;
        self.pending.push(change);
        seen
    }

    /// Tracks an entry a predecessor held, telling no watcher: for them it never left.
    fn retrack(&mut self, entry: Entry, ctx: &mut Ctx<Self>) {
        let id = (entry.topic.clone(), entry.key.clone(), entry.pid.id());
        let monitor = ctx.monitor(&entry.pid);
        self.monitors.insert(monitor, id.clone());
        self.entries.insert(id, (monitor, entry.pid.clone()));
        self.record(Change::Put(entry), ctx);
    }

    fn own_entries(&self, ctx: &Ctx<Self>) -> Vec<Entry> {
        self.view
            .with(&ctx.pid().any(), |r| r.entries.values().cloned().collect())
    }

    fn send_replica(&self, to: &Pid<PresenceServer>, ctx: &Ctx<Self>) {
        let _ = to.replica(
            Origin::local(),
            ctx.pid(),
            self.version,
            self.own_entries(ctx),
        );
    }

    fn untrack_entry(&mut self, id: &EntryId, ctx: &mut Ctx<Self>) {
        if let Some((monitor, pid)) = self.entries.remove(id) {
            self.monitors.remove(&monitor);
            ctx.demonitor(monitor);
            let (topic, key, _) = id.clone();
            self.change(Change::Remove { topic, key, pid }, ctx);
        }
    }

    fn told(&self, seen: Vec<Seen>) {
        self.view.tell(seen);
    }
}

#[actor]
impl PresenceServer {
    fn started(&mut self, ctx: &mut Ctx<Self>) {
        let node = ctx.node();
        // A server restarted after a crash takes its predecessor's replica over from the
        // node's view: the presences of processes still alive are tracked anew (monitored
        // again, and sent to the peers as this server's), quietly here, where nothing
        // changed; those of processes that ended meanwhile leave.
        for server in self.view.servers() {
            if server.node() == node.name() && server != ctx.pid().any() {
                let mut gone = Vec::new();
                for entry in self.view.take_replica(&server) {
                    if node.is_alive(entry.pid.clone()) {
                        self.retrack(entry, ctx);
                    } else {
                        gone.push(Seen::Left(entry));
                    }
                }
                self.told(gone);
            }
        }
        let groups = node.scope(SCOPE);
        let (members, events) = groups.monitor(GROUP);
        for pid in members.to_vec() {
            self.joined(pid, ctx);
        }
        ctx.attach_stream(
            events,
            |me, event| match event {
                GroupEvent::Joined { pids, .. } => me.membership(pids, Vec::new()),
                GroupEvent::Left { pids, .. } => me.membership(Vec::new(), pids),
            },
            |_| Ok(()),
        );
        actors::rt::spawn(join_group(node, ctx.pid()));
        ctx.send_after(HEARTBEAT, |me| me.heartbeat());
    }

    /// Servers that joined or left the group (a lost node's leave with it).
    #[handle(cast)]
    fn membership(&mut self, joined: Vec<AnyPid>, left: Vec<AnyPid>, ctx: &mut Ctx<Self>) {
        for pid in joined {
            self.joined(pid, ctx);
        }
        for pid in left {
            self.part(&pid, ctx);
        }
    }

    /// Tracks `pid`, a process of this node, as `key` in `topic` (or updates its metadata).
    #[handle]
    fn track(
        &mut self,
        topic: String,
        key: String,
        pid: AnyPid,
        meta: serde_bytes::ByteBuf,
        ctx: &mut Ctx<Self>,
    ) -> bool {
        if pid.node() != ctx.node().name() {
            return false;
        }
        let id = (topic.clone(), key.clone(), pid.id());
        if !self.entries.contains_key(&id) {
            let monitor = ctx.monitor(&pid);
            self.monitors.insert(monitor, id.clone());
            self.entries.insert(id, (monitor, pid.clone()));
        }
        self.change(
            Change::Put(Entry {
                topic,
                key,
                pid,
                meta: meta.into_vec(),
            }),
            ctx,
        );
        true
    }

    #[handle]
    fn untrack(&mut self, topic: String, key: String, pid: AnyPid, ctx: &mut Ctx<Self>) {
        self.untrack_entry(&(topic, key, pid.id()), ctx);
    }

    /// A tracked process ended: its presences leave.
    fn on_down(&mut self, down: Down, ctx: &mut Ctx<Self>) {
        if self.peer_monitors.contains_key(&down.monitor_ref) {
            self.part(&down.pid, ctx);
            return;
        }
        if let Some(id) = self.monitors.remove(&down.monitor_ref)
            && let Some((_, pid)) = self.entries.remove(&id)
        {
            let (topic, key, _) = id;
            self.change(Change::Remove { topic, key, pid }, ctx);
        }
    }

    #[handle(cast)]
    fn heartbeat(&mut self, ctx: &mut Ctx<Self>) {
        let me = ctx.pid();
        if !self.pending.is_empty() {
            let delta = Delta {
                from: self.sent,
                to: self.version,
                changes: std::mem::take(&mut self.pending),
            };
            for peer in &self.peers {
                let _ = peer.delta(Origin::local(), me.clone(), delta.clone());
            }
            self.sent = self.version;
            self.quiet = 0;
        } else {
            self.quiet += 1;
            if self.quiet >= VERSION_EVERY {
                self.quiet = 0;
                for peer in &self.peers {
                    let _ = peer.version(Origin::local(), me.clone(), self.version);
                }
            }
        }
        ctx.send_after(HEARTBEAT, |me| me.heartbeat());
    }

    /// A peer's changes.
    #[handle(cast)]
    fn delta(
        &mut self,
        origin: Origin,
        from: Pid<PresenceServer>,
        delta: Delta,
        ctx: &mut Ctx<Self>,
    ) {
        // A server speaks for its own node's processes alone.
        let foreign = delta.changes.iter().any(|c| match c {
            Change::Put(e) => e.pid.node() != from.node(),
            Change::Remove { pid, .. } => pid.node() != from.node(),
        });
        if foreign || !origin.speaks_for(from.node(), ctx.node().name()) {
            return;
        }
        self.meet(from.clone(), ctx);
        let mut seen = Vec::new();
        let taken = self
            .view
            .with(&from.any(), |r| r.take(delta, self.limit, &mut seen));
        self.told(seen);
        match taken {
            Ok(()) => {}
            Err(Refused::Gap) => {
                let _ = from.request(Origin::local(), ctx.pid());
            }
            Err(Refused::Full) => {
                tracing::warn!(
                    peer = from.node(),
                    "a peer's presences pass this node's limit of {}: its changes were not taken",
                    self.limit
                );
            }
        }
    }

    /// A peer's version, when it had no changes to send: ask for its replica if it is ahead.
    #[handle(cast)]
    fn version(
        &mut self,
        origin: Origin,
        from: Pid<PresenceServer>,
        version: u64,
        ctx: &mut Ctx<Self>,
    ) {
        if !origin.speaks_for(from.node(), ctx.node().name()) {
            return;
        }
        self.meet(from.clone(), ctx);
        if self.view.with(&from.any(), |r| r.version) < version {
            let _ = from.request(Origin::local(), ctx.pid());
        }
    }

    /// A peer asks for this node's whole replica.
    #[handle(cast)]
    fn request(&mut self, origin: Origin, from: Pid<PresenceServer>, ctx: &mut Ctx<Self>) {
        if origin.speaks_for(from.node(), ctx.node().name()) {
            self.meet(from.clone(), ctx);
            self.send_replica(&from, ctx);
        }
    }

    /// A peer's whole replica.
    #[handle(cast)]
    fn replica(
        &mut self,
        origin: Origin,
        from: Pid<PresenceServer>,
        version: u64,
        entries: Vec<Entry>,
        ctx: &mut Ctx<Self>,
    ) {
        if !origin.speaks_for(from.node(), ctx.node().name())
            || entries.iter().any(|e| e.pid.node() != from.node())
        {
            return;
        }
        self.meet(from.clone(), ctx);
        let mut seen = Vec::new();
        let taken = self.view.with(&from.any(), |r| {
            r.replace(version, entries, self.limit, &mut seen)
        });
        self.told(seen);
        if taken == Err(Refused::Full) {
            tracing::warn!(
                peer = from.node(),
                "a peer's presences pass this node's limit of {}: not taken",
                self.limit
            );
        }
    }
}

/// Joins the servers' group, trying again until it is in (a scope server still starting, or
/// restarting, refuses for a moment): a server outside the group is one no peer listens to.
async fn join_group(node: actors::Node, me: Pid<PresenceServer>) {
    let groups = node.scope(SCOPE);
    let mut wait = Duration::from_millis(10);
    while node.is_alive(me.clone()) {
        match groups.join(GROUP, &me).await {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(
                    "the presence server could not join its group, trying again in {wait:?}: {e}"
                );
            }
        }
        actors::rt::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(1));
    }
}

impl PresenceServer {
    /// A server seen in the group.
    fn joined(&mut self, pid: AnyPid, ctx: &mut Ctx<Self>) {
        if let Some(peer) = pid.downcast::<PresenceServer>() {
            self.meet(peer, ctx);
        }
    }

    /// A server met, in the group or by a message of its own: a peer from now on, monitored
    /// (its loss takes its replica out of this view), and the two swap whole replicas, both
    /// ways, since what either sent before it knew the other may have been passed over.
    fn meet(&mut self, peer: Pid<PresenceServer>, ctx: &mut Ctx<Self>) {
        if peer == ctx.pid() || self.peers.contains(&peer) {
            return;
        }
        let monitor = ctx.monitor(&peer);
        self.peer_monitors.insert(monitor, peer.clone());
        self.send_replica(&peer, ctx);
        let _ = peer.request(Origin::local(), ctx.pid());
        self.peers.push(peer);
    }

    /// A server left the group or ended: its presences leave this view.
    fn part(&mut self, pid: &AnyPid, ctx: &mut Ctx<Self>) {
        if let Some(i) = self.peers.iter().position(|p| p.any() == *pid) {
            self.peers.swap_remove(i);
        }
        self.peer_monitors.retain(|r, p| {
            let keep = p.any() != *pid;
            if !keep {
                ctx.demonitor(*r);
            }
            keep
        });
        let seen = self.view.drop_replica(pid);
        self.told(seen);
    }
}
