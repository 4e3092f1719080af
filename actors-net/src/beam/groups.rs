//! Erlang's process groups (`pg`) across the border: a scope server on this node that speaks
//! to the BEAM nodes' scope servers of the same name as theirs speak to each other.
//!
//! The protocol, as OTP's `pg` has it: a scope server sends `{discover, Self}` to the scope
//! of each node it meets; the one discovered answers with `{sync, Self, Groups}` (a
//! `gen_server` cast listing its local members), monitors the discoverer, and discovers it
//! back. Afterwards each sends `{join, Self, Group, Pids}` and `{leave, Self, Pids, Groups}`
//! as its own members come and go, and a server that goes down takes its members with it.
//! BEAM nodes do not discover a hidden node; this node discovers them. Each scope
//! (`pg` by default, any other by name, as `pg:start_link(Scope)` starts one) has a server of
//! its own, registered under the scope's name.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use actors::etf::{ErlPid, Term, encode};
use actors::supervisor::ChildSpec;
use actors::{AnyPid, Ctx, Down, MonitorRef, Node, actor};

use super::dest::{BeamDest, BeamNodeEvent};
use super::state::{Inner, lock};

/// The scope this node joins from its start: OTP's default.
pub(crate) const SCOPE: &str = "pg";

/// Groups by their encoded term (terms are compared as Erlang compares them: exactly).
type Groups = HashMap<Vec<u8>, (Term, Vec<ErlPid>)>;

/// The local memberships, kept outside the server so that a restarted server has them.
#[derive(Default)]
pub(crate) struct Local {
    /// Each local member's groups, once per join.
    members: Mutex<HashMap<u64, (AnyPid, Vec<Term>)>>,
}

/// A BEAM node's scope server, as it last told us.
struct Peer {
    monitor: MonitorRef,
    groups: Groups,
    count: usize,
}

/// This node's server of one `pg` scope toward BEAM nodes.
#[actor]
pub(crate) struct PgScope {
    /// The scope's name, which its servers on every node are registered under.
    scope: String,
    inner: Arc<Inner>,
    local: Arc<Local>,
    /// Our monitors of the local members.
    watching: HashMap<u64, MonitorRef>,
    peers: HashMap<ErlPid, Peer>,
}

fn key(group: &Term) -> Vec<u8> {
    encode(group)
}

/// The members of a term that is a pid or a list of pids.
fn pids(term: &Term) -> Vec<ErlPid> {
    match term {
        Term::Pid(p) => vec![p.clone()],
        Term::List(items) => items
            .iter()
            .filter_map(|t| match t {
                Term::Pid(p) => Some(p.clone()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

impl PgScope {
    pub(crate) fn new(scope: &str, inner: Arc<Inner>, local: Arc<Local>) -> Self {
        PgScope {
            scope: scope.to_string(),
            inner,
            local,
            watching: HashMap::new(),
            peers: HashMap::new(),
        }
    }

    fn me(&self, ctx: &Ctx<Self>) -> ErlPid {
        self.inner.erl_pid(ctx.pid().id())
    }

    /// Tells every BEAM scope server that local process `id` left `groups`.
    fn tell_left(&self, id: u64, groups: Vec<Term>, ctx: &Ctx<Self>) {
        let me = Term::Pid(self.me(ctx));
        let member = Term::Pid(self.inner.erl_pid(id));
        self.broadcast(Term::tuple([
            Term::atom("leave"),
            me,
            member,
            Term::List(groups),
        ]));
    }

    /// Sends `message` to every BEAM scope server we know.
    fn broadcast(&self, message: Term) {
        for peer in self.peers.keys() {
            self.send(peer.clone(), message.clone());
        }
    }

    fn send(&self, to: ErlPid, message: Term) {
        let inner = self.inner.clone();
        actors::rt::spawn(async move {
            let _ = inner.send(&BeamDest::Pid(to), message).await;
        });
    }

    fn discover_node(&self, node: &str, ctx: &Ctx<Self>) {
        let message = Term::tuple([Term::atom("discover"), Term::Pid(self.me(ctx))]);
        let inner = self.inner.clone();
        let to = BeamDest::name(&self.scope, node);
        actors::rt::spawn(async move {
            let _ = inner.send(&to, message).await;
        });
    }

    /// The local members, group by group, as `sync` lists them.
    fn local_groups(&self) -> Vec<Term> {
        let mut groups: Groups = HashMap::new();
        for (id, (_, joined)) in lock(&self.local.members).iter() {
            for group in joined {
                groups
                    .entry(key(group))
                    .or_insert_with(|| (group.clone(), Vec::new()))
                    .1
                    .push(self.inner.erl_pid(*id));
            }
        }
        groups
            .into_values()
            .map(|(g, ps)| Term::tuple([g, Term::List(ps.into_iter().map(Term::Pid).collect())]))
            .collect()
    }

    /// Takes `peer` as the scope server of its node, monitored: `Some(true)` if it was known,
    /// `Some(false)` if it is new, `None` if it is refused. One
    /// server per connected node: a new one (its scope restarted) replaces the old, and a
    /// pid of a node not connected is not taken, so no peer can grow this table by naming
    /// servers that do not exist.
    fn know(&mut self, peer: &ErlPid, ctx: &mut Ctx<Self>) -> Option<bool> {
        if self.peers.contains_key(peer) {
            return Some(true);
        }
        self.inner.conn(peer.node.name())?;
        let old: Vec<ErlPid> = self
            .peers
            .keys()
            .filter(|p| p.node == peer.node)
            .cloned()
            .collect();
        for old in old {
            if let Some(p) = self.peers.remove(&old) {
                ctx.demonitor(p.monitor);
            }
        }
        let pid = self.inner.any_pid(peer)?;
        let monitor = ctx.monitor(pid);
        self.peers.insert(
            peer.clone(),
            Peer {
                monitor,
                groups: HashMap::new(),
                count: 0,
            },
        );
        Some(false)
    }

    fn add(&mut self, peer: &ErlPid, group: Term, members: Vec<ErlPid>) {
        let limit = self.inner.limits.max_group_members_per_peer;
        let Some(p) = self.peers.get_mut(peer) else {
            return;
        };
        if p.count + members.len() > limit {
            tracing::warn!(peer = ?peer, "a BEAM scope lists more group members than allowed; the rest are not taken");
            return;
        }
        p.count += members.len();
        p.groups
            .entry(key(&group))
            .or_insert_with(|| (group, Vec::new()))
            .1
            .extend(members);
    }
}

#[actor]
impl PgScope {
    fn started(&mut self, ctx: &mut Ctx<Self>) {
        // A restarted server takes the local members back, and asks the BEAM nodes afresh.
        let members: Vec<(u64, AnyPid)> = lock(&self.local.members)
            .iter()
            .map(|(id, (pid, _))| (*id, pid.clone()))
            .collect();
        for (id, pid) in members {
            let monitor = ctx.monitor(pid);
            self.watching.insert(id, monitor);
        }
        // Subscribed before listing, so that no node connecting in between is missed.
        let events = self.inner.subscribe();
        for node in self.inner.nodes() {
            self.discover_node(&node, ctx);
        }
        ctx.attach_stream(
            events,
            |me, event| match event {
                BeamNodeEvent::Up(node) => me.node_up(node),
                BeamNodeEvent::Down(_) => Ok(()),
            },
            |_| Ok(()),
        );
    }

    /// A BEAM node connected: discover its scope.
    #[handle(cast)]
    fn node_up(&mut self, node: String, ctx: &mut Ctx<Self>) {
        self.discover_node(&node, ctx);
    }

    /// `{discover, Peer}` from a BEAM scope server: tell it our members, and discover it
    /// back if it is new.
    #[handle(cast)]
    fn discover(&mut self, peer: ErlPid, ctx: &mut Ctx<Self>) {
        let Some(known) = self.know(&peer, ctx) else {
            return;
        };
        let me = Term::Pid(self.me(ctx));
        let sync = Term::tuple([
            Term::atom("sync"),
            me.clone(),
            Term::List(self.local_groups()),
        ]);
        self.send(peer.clone(), Term::tuple([Term::atom("$gen_cast"), sync]));
        if !known {
            self.send(peer, Term::tuple([Term::atom("discover"), me]));
        }
    }

    /// `{sync, Peer, [{Group, Pids}]}`: everything the peer has, replacing what it had.
    #[handle(cast)]
    fn sync(&mut self, peer: ErlPid, groups: Vec<(Term, Vec<ErlPid>)>, ctx: &mut Ctx<Self>) {
        if self.know(&peer, ctx).is_none() {
            return;
        }
        if let Some(p) = self.peers.get_mut(&peer) {
            p.groups.clear();
            p.count = 0;
        }
        for (group, members) in groups {
            self.add(&peer, group, members);
        }
    }

    /// `{join, Peer, Group, PidOrPids}`; from a scope we do not know, ignored (as `pg` does).
    #[handle(cast)]
    fn join(&mut self, peer: ErlPid, group: Term, members: Term) {
        self.add(&peer, group, pids(&members));
    }

    /// `{leave, Peer, PidOrPids, Groups}`.
    #[handle(cast)]
    fn leave(&mut self, peer: ErlPid, members: Term, groups: Vec<Term>) {
        let gone = pids(&members);
        let Some(p) = self.peers.get_mut(&peer) else {
            return;
        };
        for group in groups {
            let k = key(&group);
            if let Some((_, list)) = p.groups.get_mut(&k) {
                for pid in &gone {
                    if let Some(at) = list.iter().position(|x| x == pid) {
                        list.remove(at);
                        p.count -= 1;
                    }
                }
                if list.is_empty() {
                    p.groups.remove(&k);
                }
            }
        }
    }

    /// A local process joins `group`.
    #[handle]
    fn join_local(&mut self, group: Term, pid: AnyPid, ctx: &mut Ctx<Self>) -> bool {
        if !pid.is_local() {
            return false;
        }
        let id = pid.id();
        lock(&self.local.members)
            .entry(id)
            .or_insert_with(|| (pid.clone(), Vec::new()))
            .1
            .push(group.clone());
        if let std::collections::hash_map::Entry::Vacant(e) = self.watching.entry(id) {
            e.insert(ctx.monitor(pid));
        }
        let me = Term::Pid(self.me(ctx));
        let member = Term::Pid(self.inner.erl_pid(id));
        self.broadcast(Term::tuple([Term::atom("join"), me, group, member]));
        true
    }

    /// A local process leaves `group` (once, for one join); false if it had not joined.
    #[handle]
    fn leave_local(&mut self, group: Term, pid: AnyPid, ctx: &mut Ctx<Self>) -> bool {
        let id = pid.id();
        let left = {
            let mut members = lock(&self.local.members);
            let Some((_, groups)) = members.get_mut(&id) else {
                return false;
            };
            let Some(at) = groups.iter().position(|g| *g == group) else {
                return false;
            };
            groups.remove(at);
            if groups.is_empty() {
                members.remove(&id);
                true
            } else {
                false
            }
        };
        if left && let Some(monitor) = self.watching.remove(&id) {
            ctx.demonitor(monitor);
        }
        self.tell_left(id, vec![group], ctx);
        true
    }

    /// Every member of `group`, on this node and on the BEAM nodes.
    #[handle]
    fn members(&self, group: Term) -> Vec<ErlPid> {
        let k = key(&group);
        let mut all: Vec<ErlPid> = lock(&self.local.members)
            .iter()
            .flat_map(|(id, (_, groups))| {
                let n = groups.iter().filter(|g| **g == group).count();
                std::iter::repeat_n(self.inner.erl_pid(*id), n)
            })
            .collect();
        for p in self.peers.values() {
            if let Some((_, list)) = p.groups.get(&k) {
                all.extend(list.iter().cloned());
            }
        }
        all
    }

    fn on_down(&mut self, down: Down, ctx: &mut Ctx<Self>) {
        // A BEAM scope server gone: its members with it.
        let peer = self
            .peers
            .iter()
            .find(|(_, p)| p.monitor == down.monitor_ref)
            .map(|(k, _)| k.clone());
        if let Some(peer) = peer {
            self.peers.remove(&peer);
            return;
        }
        // A local member ended: it leaves every group it was in.
        let id = down.pid.id();
        if self.watching.get(&id) != Some(&down.monitor_ref) {
            return;
        }
        self.watching.remove(&id);
        let Some((_, groups)) = lock(&self.local.members).remove(&id) else {
            return;
        };
        self.tell_left(id, groups, ctx);
    }
}

/// The child spec of the server of `scope`: registered under the scope's name, where BEAM
/// scope servers look for it.
pub(crate) fn spec(node: &Node, scope: &str) -> Option<ChildSpec> {
    let inner = actors::dist::extension::<Inner>(node)?;
    let local = Arc::new(Local::default());
    let name = scope.to_string();
    Some(
        ChildSpec::new(format!("beam_pg:{scope}"), move || {
            PgScope::new(&name, inner.clone(), local.clone())
        })
        .name(scope),
    )
}
