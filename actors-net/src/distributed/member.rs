//! One node's member of a distributed supervisor: it holds the replicated child table, follows
//! the supervisor's process group to know the live members, and runs the children placement
//! gives it.
//!
//! Every change converges through one step, `reconcile`: start what this member owns and does
//! not run, stop what it runs and no longer owns (or that was removed). A change is a write
//! here or merged from a peer, a member joining or leaving (a node lost leaves with all its
//! members), a child ending, or a retry after a failed start.

use std::collections::{BTreeSet, VecDeque};
use std::time::Duration;

use actors::dist::Origin;
use actors::dist::rt::{HashMap, HashSet};
use actors::rt::Instant;
use actors::supervisor::Restart;
use actors::{AnyPid, Ctx, Exit, ExitReason, Pid, Reply, actor};

use super::child::{ChildDef, ChildInfo};
use super::consensus::tick_interval;
use super::consistent::{Command, Consistent, NameChange, Waiter};
use super::error::DistError;
use super::fence::{TokenClock, starting};
use super::placement::owner;
use super::table::{ChildTable, Entry, Refused};
use crate::connection::lock;
use crate::groups::{GroupEvent, ProcessGroups};
use crate::requests::Routing;

/// How often a member tells its peers its table's digest, so that a write lost in a race
/// (a peer that joined while it was broadcast) is repaired.
const DIGEST_EVERY: Duration = Duration::from_secs(2);
/// How long a child whose start failed waits before it is tried again.
const RETRY_AFTER: Duration = Duration::from_millis(200);
/// How long the node of a consistent name's holder must stay out of the leader's reach
/// before the name is freed: a connection that comes back sooner keeps it.
const NAME_GRACE: Duration = Duration::from_secs(2);
/// How often a child's global name is tried (every `RETRY_AFTER`) while another holds it.
const NAME_TRIES: u32 = 50;
/// How long a leaving member waits for each peer to take a handed-off state.
const HAND_OFF_WAIT: Duration = Duration::from_secs(2);

/// The process-group scope of every distributed supervisor's members: apart from the
/// default scope, so that a user's groups list only their own.
const SCOPE: &str = "actors_net.distributed";

/// The local name of a member, and the process group of all members, of supervisor `name`.
pub(crate) fn member_name(name: &str) -> String {
    format!("actors_net.distributed:{name}")
}

#[actor(name = "actors_net.DistributedMember")]
pub(crate) struct Member {
    name: String,
    table: ChildTable,
    /// The members as the supervisor's group lists them (this one included once it joined).
    peers: Vec<AnyPid>,
    /// The children this member runs, both ways.
    running: HashMap<String, AnyPid>,
    by_pid: HashMap<AnyPid, String>,
    /// When each child was restarted here after failing, for its intensity.
    starts: HashMap<String, VecDeque<Instant>>,
    /// Children whose last run here crashed or whose start failed: their next start counts.
    failed: HashSet<String>,
    /// Children whose start failed, not tried again before then.
    backoff: HashMap<String, Instant>,
    joined: bool,
    waiting: Vec<Reply<()>>,
    leaving: bool,
    /// Consistent mode: the voters, and (once started) the log.
    voters: Option<Vec<String>>,
    consistent: Option<Consistent>,
    /// Whether this member held the log's lease when it last reconciled.
    lease: bool,
    /// The fencing tokens of the starts this member makes (consistent mode).
    tokens: TokenClock,
    /// Consistent names' pids this member watches, so that a name is freed when its
    /// process ends or its node is lost (proposed by the leader).
    watched: HashMap<actors::MonitorRef, (String, AnyPid)>,
    /// Names whose process was seen to end, until the log has freed them: whichever member
    /// is leader proposes it. With the time it happened when it was the connection to the
    /// process's node that was lost, which a partition or a reset does too.
    gone: Vec<(String, AnyPid, Option<Instant>)>,
}

impl Member {
    pub(crate) fn new(name: &str, limit: usize, voters: Option<Vec<String>>) -> Self {
        Member {
            name: name.to_string(),
            table: ChildTable::new(limit),
            peers: Vec::new(),
            running: HashMap::default(),
            by_pid: HashMap::default(),
            starts: HashMap::default(),
            backoff: HashMap::default(),
            failed: HashSet::default(),
            joined: false,
            waiting: Vec::new(),
            leaving: false,
            voters,
            consistent: None,
            lease: false,
            tokens: TokenClock::default(),
            watched: HashMap::default(),
            gone: Vec::new(),
        }
    }

    /// The nodes of the live members, this one's only while it is a member.
    fn nodes(&self, ctx: &Ctx<Self>) -> BTreeSet<String> {
        let here = ctx.node();
        self.peers
            .iter()
            .map(|p| p.node().to_string())
            .filter(|n| !(self.leaving && n == here.name()))
            .collect()
    }

    /// The node among `nodes` that runs child `id` (none for a removed one). A consistent
    /// supervisor passes the lease holder alone, whatever the child prefers.
    fn owner<'a>(&self, nodes: &'a BTreeSet<String>, id: &str) -> Option<&'a str> {
        let def = self.table.get(id)?;
        let prefer = match self.consistent {
            Some(_) => &[][..],
            None => &def.prefer[..],
        };
        owner(nodes, id, prefer)
    }

    fn other_members(&self, ctx: &Ctx<Self>) -> Vec<Pid<Member>> {
        let here = ctx.node();
        let mut seen = HashSet::default();
        self.peers
            .iter()
            .filter(|p| p.node() != here.name() && seen.insert((*p).clone()))
            .filter_map(|p| p.clone().downcast::<Member>())
            .collect()
    }

    fn broadcast(&self, id: &str, entry: &Entry, ctx: &Ctx<Self>) {
        for peer in self.other_members(ctx) {
            let _ = peer.upsert(Origin::local(), ctx.pid(), id.to_string(), entry.clone());
        }
    }

    fn send_table(&self, to: &Pid<Member>, answer: bool, ctx: &Ctx<Self>) {
        let _ = to.sync(Origin::local(), ctx.pid(), self.table.all(), answer);
    }

    /// A write made here, told to every member.
    fn write(
        &mut self,
        id: &str,
        def: Option<ChildDef>,
        ctx: &mut Ctx<Self>,
    ) -> Result<(), DistError> {
        let here = ctx.node();
        if let Some(c) = self.consistent.as_mut() {
            let id = id.to_string();
            c.propose(here.name(), |by| Command::Put { by, id, def }, None);
            return Ok(());
        }
        let entry = self
            .table
            .write(here.name(), id, def)
            .map_err(|Refused::Full| DistError::Full(self.table.limit()))?;
        self.broadcast(id, &entry, ctx);
        self.reconcile(ctx);
        Ok(())
    }

    /// A request through the log, answered to `waiter` once it is applied here; on an
    /// available supervisor, `NotConsistent`.
    fn through_log(
        &mut self,
        command: impl FnOnce(Option<(String, u64)>) -> Command,
        waiter: Waiter,
        ctx: &mut Ctx<Self>,
    ) {
        let here = ctx.node();
        let Some(c) = self.consistent.as_mut() else {
            return waiter.send(Err(DistError::NotConsistent));
        };
        c.propose(here.name(), command, Some(waiter));
        self.pump(ctx);
    }

    /// A write asked for by the handle: answered now (available), or once the log commits it
    /// (consistent).
    fn put(
        &mut self,
        id: &str,
        def: Option<ChildDef>,
        reply: Reply<Result<(), DistError>>,
        ctx: &mut Ctx<Self>,
    ) {
        if self.consistent.is_none() {
            return reply.send(self.write(id, def, ctx));
        }
        let id = id.to_string();
        self.through_log(|by| Command::Put { by, id, def }, Waiter::Done(reply), ctx);
    }

    /// Proposes freeing the names of processes seen to end, while this member is leader and
    /// the log still binds them.
    fn free_gone(&mut self, ctx: &mut Ctx<Self>) {
        let here = ctx.node();
        let Some(c) = self.consistent.as_mut() else {
            return;
        };
        self.gone.retain(|(n, p, _)| c.names.get(n) == Some(p));
        if !c.log.is_leader() {
            return;
        }
        let connected = crate::node::DistNode::nodes(&here);
        let now = actors::rt::now();
        for (name, pid, lost) in std::mem::take(&mut self.gone) {
            if let Some(since) = lost {
                // Lost with its connection, but its node is connected again: it may well live
                // (a connection reset, a partition that healed). Watch it anew.
                if connected.iter().any(|n| n == pid.node()) {
                    let r = ctx.monitor(&pid);
                    self.watched.insert(r, (name, pid));
                    continue;
                }
                // Its node must stay out of reach for a while before the name is freed.
                if now.duration_since(since) < NAME_GRACE {
                    self.gone.push((name, pid, lost));
                    continue;
                }
            }
            c.propose(
                here.name(),
                |by| Command::Unregister {
                    by,
                    name: name.clone(),
                    pid: Some(pid.clone()),
                },
                None,
            );
            self.gone.push((name, pid, lost));
        }
    }

    /// Sends what the log has to send, applies what it committed, and reconciles when that
    /// changed something.
    fn pump(&mut self, ctx: &mut Ctx<Self>) {
        let here = ctx.node();
        let Some(c) = self.consistent.as_mut() else {
            return;
        };
        let now = actors::rt::now();
        let out = c.log.ready(now);
        let applied = !out.committed.is_empty();
        let changes = c.apply(&here, out.committed, &mut self.table);
        let lease = c.log.holds_lease(now);
        for change in changes {
            match change {
                NameChange::Bound(name, pid) => {
                    let r = ctx.monitor(&pid);
                    self.watched.insert(r, (name, pid));
                }
                NameChange::Freed(name, pid) => {
                    self.watched.retain(|r, (n, p)| {
                        let keep = !(*n == name && *p == pid);
                        if !keep {
                            ctx.demonitor(*r);
                        }
                        keep
                    });
                }
            }
        }
        for (to, bytes) in out.messages {
            if let Some(peer) = self
                .peers
                .iter()
                .find(|p| p.node() == to)
                .and_then(|p| p.clone().downcast::<Member>())
            {
                let _ = peer.raft(
                    Origin::local(),
                    ctx.pid(),
                    serde_bytes::ByteBuf::from(bytes),
                );
            }
        }
        // Most log traffic (heartbeats and their answers) changes neither the children nor
        // who may run them: reconcile only when a command was applied or the lease came or went.
        if applied || lease != self.lease {
            self.lease = lease;
            self.reconcile(ctx);
        }
    }

    /// Starts what this member owns and does not run; stops what it runs and does not own.
    fn reconcile(&mut self, ctx: &mut Ctx<Self>) {
        let here = ctx.node();
        // Consistent: the leader runs every child, and only while it holds its lease. A
        // member that leaves runs none, whatever its role.
        let nodes = match &self.consistent {
            _ if self.leaving => BTreeSet::new(),
            Some(c) if c.log.holds_lease(actors::rt::now()) => {
                BTreeSet::from([here.name().to_string()])
            }
            Some(_) => BTreeSet::new(),
            None => self.nodes(ctx),
        };
        let stray: Vec<String> = self
            .running
            .keys()
            .filter(|id| self.owner(&nodes, id) != Some(here.name()))
            .cloned()
            .collect();
        for id in stray {
            if let Some(pid) = self.running.remove(&id) {
                self.by_pid.remove(&pid);
                tracing::info!(supervisor = %self.name, child = %id, "stopping the child here: it belongs to another member now, or was removed");
                ctx.unlink(&pid);
                here.stop(&pid, ExitReason::Shutdown);
            }
        }
        if self.leaving || !self.joined {
            return;
        }
        let due: Vec<(String, ChildDef)> = self
            .table
            .live()
            .filter(|(id, _)| self.owner(&nodes, id) == Some(here.name()))
            .filter(|(id, _)| !self.running.contains_key(*id))
            .filter(|(id, _)| {
                self.backoff
                    .get(*id)
                    .is_none_or(|until| actors::rt::now() >= *until)
            })
            .map(|(id, def)| (id.clone(), def.clone()))
            .collect();
        for (id, def) in due {
            self.start(&id, &def, ctx);
        }
    }

    fn start(&mut self, id: &str, def: &ChildDef, ctx: &mut Ctx<Self>) {
        // Only a restart after a crash or a failed start counts against the intensity: a
        // child moving as members come and go is not failing.
        if self.failed.remove(id) && !self.count_start(id, def, ctx) {
            return;
        }
        let node = ctx.node();
        let spawner = Routing::of(&node).and_then(|r| lock(&r.spawnable).get(&def.actor).cloned());
        // Consistent: only the lease holder starts, so the term is the leader's own.
        let token = match &self.consistent {
            Some(c) => self.tokens.next(c.log.term()),
            None => 0,
        };
        let state = def.handed.as_deref().unwrap_or(&def.state);
        let started = match spawner {
            Some(known) if known.identity == def.identity => {
                starting(token, || (known.spawn)(&node, state, Some(ctx.pid().any())))
            }
            Some(_) => Err(format!(
                "this node has another version of {} (its wire identity differs)",
                def.actor
            )),
            None => Err(format!(
                "{} is not allowed on this node: call allow_spawn for it on every member",
                def.actor
            )),
        };
        match started {
            Ok(pid) => {
                self.backoff.remove(id);
                ctx.link(&pid);
                self.running.insert(id.to_string(), pid.clone());
                self.by_pid.insert(pid.clone(), id.to_string());
                tracing::info!(supervisor = %self.name, child = %id, pid = %pid.logged(), token, "started the child here");
                if let Some(name) = def.global_name.clone() {
                    actors::rt::spawn(take_name(node, name, pid, NAME_TRIES));
                }
                // A handed-over state is for this start alone: restarts begin anew.
                if def.handed.is_some() {
                    let mut fresh = def.clone();
                    fresh.handed = None;
                    let _ = self.write(id, Some(fresh), ctx);
                }
            }
            Err(why) => {
                self.failed.insert(id.to_string());
                tracing::warn!(supervisor = %self.name, child = %id, "the child did not start here: {why}");
                self.backoff
                    .insert(id.to_string(), actors::rt::now() + RETRY_AFTER);
                ctx.send_after(RETRY_AFTER, |me| me.retry());
            }
        }
    }

    /// Stops each child here that hands its state off, with its state at that instant, and
    /// tells every member the state its next instance starts from (available mode), each
    /// answering once it holds it: so whoever takes a child over when this member leaves the
    /// group starts it from that state.
    async fn hand_off(&mut self, ctx: &mut Ctx<Self>) {
        let node = ctx.node();
        let Some(routing) = Routing::of(&node) else {
            return;
        };
        let handing: Vec<(String, AnyPid, ChildDef)> = self
            .running
            .iter()
            .filter_map(|(id, pid)| {
                let def = self.table.get(id).filter(|d| d.hand_off)?;
                Some((id.clone(), pid.clone(), def.clone()))
            })
            .collect();
        for (id, pid, mut def) in handing {
            let Some(known) = lock(&routing.spawnable).get(&def.actor).cloned() else {
                continue;
            };
            // Its end is ours: not an exit to restart it for.
            ctx.unlink(&pid);
            self.running.remove(&id);
            self.by_pid.remove(&pid);
            let encode = known.encode;
            match node
                .with_state_then(pid, true, move |s| encode(s))
                .await
                .flatten()
            {
                Some(Ok(bytes)) => def.handed = Some(bytes),
                Some(Err(why)) => {
                    tracing::warn!(supervisor = %self.name, child = %id, "the child's state could not be encoded for its hand-off; it starts anew: {why}");
                    continue;
                }
                None => continue,
            }
            let Ok(entry) = self.table.write(node.name(), &id, Some(def)) else {
                continue;
            };
            for peer in self.other_members(ctx) {
                let taken = peer.take(Origin::local(), ctx.pid(), id.clone(), entry.clone());
                if let Err(e) = taken.timeout(HAND_OFF_WAIT).await {
                    tracing::warn!(supervisor = %self.name, child = %id, peer = peer.node(), "a member did not take the handed-off state: {e}");
                }
            }
        }
    }

    /// Records one more restart of `id`; false (and the child removed everywhere) once it has
    /// restarted more often than its intensity allows.
    fn count_start(&mut self, id: &str, def: &ChildDef, ctx: &mut Ctx<Self>) -> bool {
        let now = actors::rt::now();
        let window = Duration::from_millis(def.within_ms);
        let starts = self.starts.entry(id.to_string()).or_default();
        while starts
            .front()
            .is_some_and(|t| now.duration_since(*t) > window)
        {
            starts.pop_front();
        }
        starts.push_back(now);
        if starts.len() > def.max_restarts as usize {
            tracing::error!(supervisor = %self.name, child = %id, "the child restarted more than {} times in {:?}: removed", def.max_restarts, window);
            self.starts.remove(id);
            let _ = self.write(id, None, ctx);
            return false;
        }
        true
    }
}

/// Registers a child's global name, moving it from a predecessor on a lost node. A
/// predecessor still alive (a copy being stopped as two sides of a partition agree again)
/// holds it a moment longer: tried again until it is free, while the child lives.
async fn take_name(node: actors::Node, name: String, pid: AnyPid, tries: u32) {
    let global = crate::global::GlobalNames::global(&node);
    let mut last = None;
    for _ in 0..tries {
        if !node.is_alive(pid.clone()) {
            return;
        }
        match global.re_register(&name, pid.clone()).await {
            Ok(()) => return,
            Err(e) => last = Some(e),
        }
        actors::rt::sleep(RETRY_AFTER).await;
    }
    if let Some(e) = last {
        tracing::warn!(name, "the child could not take its global name: {e}");
    }
}

#[actor]
impl Member {
    fn started(&mut self, ctx: &mut Ctx<Self>) {
        ctx.trap_exit(true);
        let node = ctx.node();
        if let Some(voters) = &self.voters {
            match Consistent::new(&node, &self.name, voters) {
                Ok(c) => self.consistent = Some(c),
                Err(e) => {
                    tracing::error!(supervisor = %self.name, "the consistent member cannot start: {e}");
                    ctx.stop(ExitReason::Error(e.to_string()));
                    return;
                }
            }
            ctx.send_after(tick_interval(), |me| me.raft_tick());
        }
        let group = member_name(&self.name);
        let (members, events) = node.scope(SCOPE).monitor(&group);
        self.peers = members.to_vec();
        ctx.attach_stream(
            events,
            |me, event| match event {
                GroupEvent::Joined { pids, .. } => me.membership(pids, Vec::new()),
                GroupEvent::Left { pids, .. } => me.membership(Vec::new(), pids),
            },
            |_| Ok(()),
        );
        let me = ctx.pid();
        actors::rt::spawn(async move {
            match node.scope(SCOPE).join(&group, &me).await {
                Ok(()) => {
                    let _ = me.now_member();
                }
                Err(e) => tracing::warn!(group, "the member could not join its group: {e}"),
            }
        });
        ctx.send_after(DIGEST_EVERY, |me| me.tick());
    }

    /// Answers once this member is in the group (its peers can see it).
    #[handle]
    fn joined(&mut self, reply: Reply<()>) {
        if self.joined {
            reply.send(());
        } else {
            self.waiting.push(reply);
        }
    }

    #[handle(cast)]
    fn now_member(&mut self, ctx: &mut Ctx<Self>) {
        self.joined = true;
        for reply in self.waiting.drain(..) {
            reply.send(());
        }
        // Whatever the others hold, this one learns and they learn from it (available mode;
        // a consistent member learns from the log).
        if self.consistent.is_none() {
            for peer in self.other_members(ctx) {
                self.send_table(&peer, true, ctx);
            }
        }
        self.reconcile(ctx);
    }

    /// Members that joined or left the supervisor's group (a lost node's leave with it).
    #[handle(cast)]
    fn membership(&mut self, joined: Vec<AnyPid>, left: Vec<AnyPid>, ctx: &mut Ctx<Self>) {
        for pid in joined {
            // An empty table has nothing to tell (as its digests, see `tick`): a new member
            // that holds children sends them, and this one answers with its own then. So a
            // supervisor without children opens no connection to anyone.
            if self.consistent.is_none()
                && !self.table.is_empty()
                && pid.node() != ctx.node().name()
                && let Some(peer) = pid.clone().downcast::<Member>()
            {
                self.send_table(&peer, true, ctx);
            }
            self.peers.push(pid);
        }
        for pid in left {
            if let Some(i) = self.peers.iter().position(|p| *p == pid) {
                self.peers.swap_remove(i);
            }
        }
        self.reconcile(ctx);
    }

    /// A message of the log from a peer member.
    #[handle(cast)]
    fn raft(
        &mut self,
        origin: Origin,
        from: Pid<Member>,
        bytes: serde_bytes::ByteBuf,
        ctx: &mut Ctx<Self>,
    ) {
        if !origin.speaks_for(from.node(), ctx.node().name()) {
            return;
        }
        if let Some(c) = self.consistent.as_mut()
            && let Err(e) = c.log.step(from.node(), &bytes)
        {
            tracing::debug!(supervisor = %self.name, peer = from.node(), "a log message was refused: {e}");
        }
        self.pump(ctx);
    }

    #[handle(cast)]
    fn raft_tick(&mut self, ctx: &mut Ctx<Self>) {
        if let Some(c) = self.consistent.as_mut() {
            c.log.tick();
            c.expire(actors::rt::now());
        }
        self.free_gone(ctx);
        self.pump(ctx);
        ctx.send_after(tick_interval(), |me| me.raft_tick());
    }

    /// A peer's whole table; answered with this one's when `answer`.
    #[handle(cast)]
    fn sync(
        &mut self,
        origin: Origin,
        from: Pid<Member>,
        entries: Vec<(String, Entry)>,
        answer: bool,
        ctx: &mut Ctx<Self>,
    ) {
        let node = ctx.node();
        if self.consistent.is_some() || !origin.speaks_for(from.node(), node.name()) {
            return;
        }
        let mut full = false;
        for (id, entry) in entries {
            full |= self.table.merge(&id, entry).is_err();
        }
        if full {
            tracing::warn!(supervisor = %self.name, peer = from.node(), "a peer's table holds more children than this member's limit of {}: the rest were not taken", self.table.limit());
        }
        if answer {
            self.send_table(&from, false, ctx);
        }
        self.reconcile(ctx);
    }

    /// One write made by a peer.
    #[handle(cast)]
    fn upsert(
        &mut self,
        origin: Origin,
        from: Pid<Member>,
        id: String,
        entry: Entry,
        ctx: &mut Ctx<Self>,
    ) {
        if self.consistent.is_some() || !origin.speaks_for(from.node(), ctx.node().name()) {
            return;
        }
        match self.table.merge(&id, entry) {
            Ok(true) => self.reconcile(ctx),
            Ok(false) => {}
            Err(Refused::Full) => {
                tracing::warn!(supervisor = %self.name, peer = from.node(), child = %id, "not taken: this member holds its limit of {} children", self.table.limit());
            }
        }
    }

    /// A peer's digest: if it differs from this table's, the two exchange tables.
    #[handle(cast)]
    fn digest(&mut self, origin: Origin, from: Pid<Member>, digest: u64, ctx: &mut Ctx<Self>) {
        if self.consistent.is_none()
            && origin.speaks_for(from.node(), ctx.node().name())
            && digest != self.table.digest()
        {
            self.send_table(&from, true, ctx);
        }
    }

    #[handle(cast)]
    fn tick(&mut self, ctx: &mut Ctx<Self>) {
        // A child's name follows its placement: a copy elsewhere (a side of a healed
        // partition restarting its own before it learnt the other was back) may have taken
        // it; the owner takes it back.
        let node = ctx.node();
        let global = crate::global::GlobalNames::global(&node);
        for (id, pid) in &self.running {
            if let Some(name) = self.table.get(id).and_then(|d| d.global_name.clone())
                && global.whereis_any(&name).as_ref() != Some(pid)
            {
                actors::rt::spawn(take_name(node.clone(), name, pid.clone(), 1));
            }
        }
        // An empty table has nothing to repair with: a peer holding children sends its own
        // digest, and the two exchange tables then. So a supervisor without children (every
        // node's failover supervisor, until one is added) costs nothing on the wire.
        if self.consistent.is_none() && !self.table.is_empty() {
            let digest = self.table.digest();
            for peer in self.other_members(ctx) {
                let _ = peer.digest(Origin::local(), ctx.pid(), digest);
            }
        }
        ctx.send_after(DIGEST_EVERY, |me| me.tick());
    }

    #[handle(cast)]
    fn retry(&mut self, ctx: &mut Ctx<Self>) {
        self.reconcile(ctx);
    }

    #[handle]
    fn add(&mut self, def: ChildDef, reply: Reply<Result<(), DistError>>, ctx: &mut Ctx<Self>) {
        let id = def.id.clone();
        self.starts.remove(&id);
        self.put(&id, Some(def), reply, ctx);
    }

    #[handle]
    fn remove(&mut self, id: String, reply: Reply<Result<(), DistError>>, ctx: &mut Ctx<Self>) {
        if self.table.get(&id).is_none() {
            reply.send(Err(DistError::NoChild(id)));
            return;
        }
        self.put(&id, None, reply, ctx);
    }

    #[handle]
    fn children(&self, ctx: &mut Ctx<Self>) -> Vec<ChildInfo> {
        let nodes = match &self.consistent {
            Some(c) => c
                .log
                .leader()
                .map(|l| BTreeSet::from([l.to_string()]))
                .unwrap_or_default(),
            None => self.nodes(ctx),
        };
        self.table
            .live()
            .map(|(id, _)| ChildInfo {
                id: id.clone(),
                node: self.owner(&nodes, id).map(str::to_string),
                pid: self.running.get(id).cloned(),
            })
            .collect()
    }

    /// The members this one sees (available), or the voters (consistent).
    #[handle]
    fn members(&self, ctx: &mut Ctx<Self>) -> Vec<String> {
        match &self.consistent {
            Some(c) => c.log.voters().cloned().collect(),
            None => self.nodes(ctx).into_iter().collect(),
        }
    }

    /// Registers a consistent name.
    #[handle]
    fn register_name(
        &mut self,
        name: String,
        pid: AnyPid,
        reply: Reply<Result<(), DistError>>,
        ctx: &mut Ctx<Self>,
    ) {
        self.through_log(
            |by| Command::Register { by, name, pid },
            Waiter::Done(reply),
            ctx,
        );
    }

    /// Frees a consistent name.
    #[handle]
    fn unregister_name(
        &mut self,
        name: String,
        reply: Reply<Result<(), DistError>>,
        ctx: &mut Ctx<Self>,
    ) {
        self.through_log(
            |by| Command::Unregister {
                by,
                name,
                pid: None,
            },
            Waiter::Done(reply),
            ctx,
        );
    }

    /// Looks a consistent name up, through the log.
    #[handle]
    fn whereis_name(
        &mut self,
        name: String,
        reply: Reply<Result<Option<AnyPid>, DistError>>,
        ctx: &mut Ctx<Self>,
    ) {
        self.through_log(
            |by| Command::Whereis { by, name },
            Waiter::Found(reply),
            ctx,
        );
    }

    /// A named process ended, or its node was lost: its name is freed, by the leader's word.
    fn on_down(&mut self, down: actors::Down, ctx: &mut Ctx<Self>) {
        if let Some((name, pid)) = self.watched.remove(&down.monitor_ref) {
            let lost = (down.reason == ExitReason::NoConnection).then(actors::rt::now);
            self.gone.push((name, pid, lost));
            self.free_gone(ctx);
        }
    }

    /// The leader this consistent member knows of, if any.
    #[handle]
    fn leader(&self) -> Option<String> {
        self.consistent.as_ref()?.log.leader().map(str::to_string)
    }

    /// The member that owns child `id` by placement, as this one sees the members.
    #[handle]
    fn owner_of(&self, id: String, ctx: &mut Ctx<Self>) -> Option<Pid<Member>> {
        self.table.get(&id)?;
        let nodes = match &self.consistent {
            Some(c) => BTreeSet::from([c.log.leader()?.to_string()]),
            None => self.nodes(ctx),
        };
        let node = self.owner(&nodes, &id)?;
        self.peers
            .iter()
            .find(|p| p.node() == node)
            .and_then(|p| p.clone().downcast::<Member>())
    }

    /// Every member this one sees, itself included.
    #[handle]
    fn peers(&self) -> Vec<Pid<Member>> {
        let mut seen = HashSet::default();
        self.peers
            .iter()
            .filter(|p| seen.insert((*p).clone()))
            .filter_map(|p| p.clone().downcast::<Member>())
            .collect()
    }

    #[handle]
    fn running(&self, id: String) -> Option<AnyPid> {
        self.running.get(&id).cloned()
    }

    /// A peer's write, answered once taken: a leaving member hands its children's state over
    /// this way before it leaves, so that whoever takes a child over has it.
    #[handle]
    fn take(
        &mut self,
        origin: Origin,
        from: Pid<Member>,
        id: String,
        entry: Entry,
        ctx: &mut Ctx<Self>,
    ) {
        self.upsert(origin, from, id, entry, ctx);
    }

    /// Leaves the group first, so the others take the children over, then stops them here;
    /// children that hand their state off are stopped and handed over before.
    #[handle]
    async fn leave(&mut self, ctx: &mut Ctx<Self>) {
        if self.consistent.is_none() {
            self.hand_off(ctx).await;
        }
        self.leaving = true;
        let node = ctx.node();
        if let Err(e) = node
            .scope(SCOPE)
            .leave(&member_name(&self.name), ctx.pid())
            .await
        {
            tracing::warn!(supervisor = %self.name, "the member could not leave its group: {e}");
        }
        self.reconcile(ctx);
        ctx.stop(ExitReason::Normal);
    }

    fn on_exit(&mut self, exit: Exit, ctx: &mut Ctx<Self>) {
        let Some(id) = self.by_pid.remove(&exit.from) else {
            // Not a child: a link of our own parent or of someone else, honoured as Erlang does.
            if !exit.reason.is_normal() {
                ctx.stop(exit.reason);
            }
            return;
        };
        self.running.remove(&id);
        let Some(def) = self.table.get(&id).cloned() else {
            return;
        };
        let again = match def.restart {
            Restart::Permanent => true,
            Restart::Transient => !exit.reason.is_clean(),
            Restart::Temporary => false,
        };
        if again {
            self.failed.insert(id.clone());
            tracing::info!(supervisor = %self.name, child = %id, reason = %exit.reason, "the child ended: restarting it");
            self.reconcile(ctx);
        } else {
            let _ = self.write(&id, None, ctx);
        }
    }
}
