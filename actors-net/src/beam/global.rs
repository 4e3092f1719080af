//! Erlang's `global` across both kinds of node: a visible Rust node takes part in the BEAM
//! cluster's name registry as a BEAM node's `global_name_server` does, and bridges it to the
//! Rust cluster's. Names registered on BEAM nodes are found by this node's
//! `node.global().whereis`; names this node registers for its own processes are found by
//! `global:whereis_name` on BEAM nodes; both go with their process or its node.
//!
//! The protocol, as `global.erl` (version 8) speaks it, with this node always the side that
//! answers and never the one that locks:
//! - When a BEAM node connects, each side sends the other `{init_connect, {Vsn, Tag}, Node,
//!   {locker, _, Known, Locker}}`, and acknowledges the other's with `{init_connect_ack, ..}`.
//! - The BEAM node's locker takes the cluster lock on both partitions (`{set_lock, Id}` here,
//!   answered from this node's lock table) and sends `{lock_set, Locker, true, Known, Tag}`;
//!   this node answers in kind, and sends its names: `{exchange, Node, Names, [], Tag}`.
//! - Each side resolves the other's names against its own (a name held by two processes is
//!   decided by the node whose name is smaller; here the default resolver of `global`: keep
//!   the process on the smaller node, kill the other) and sends `{resolved, Node, Ops,
//!   Known, _, [], Tag}`; each applies its own operations and the other's.
//! - Afterwards registrations come as `{register, Name, Pid, Method}` calls under the lock
//!   `{global, Registrar}`, removals as `{unregister, Name}`, and news of other nodes as
//!   `{new_nodes, ..}`. This node registers its own names the same way, as a registrar.
//!
//! Every table a BEAM node can grow here is limited: names and locks.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use actors::etf::{Atom, ErlFun, ErlPid, Term};
use actors::{AnyPid, Node};
use futures::FutureExt;
use futures::future::{AbortHandle, Abortable, BoxFuture};

use super::conn::Conn;
use super::control::{self, Control};
use super::dest::{BeamDest, BeamNodeEvent};
use super::error::BeamError;
use super::reply::GenRequest;
use super::spawn::Spawned;
use super::state::{GlobalServer, Inner, lock};
use crate::global::{Bridge, GlobalError, GlobalNames};

/// The registered name of every node's `global` server.
pub(crate) const SERVER: &str = "global_name_server";

/// The protocol version spoken (OTP 25's).
const VSN: i128 = 8;

/// Names registered on BEAM nodes that this node keeps.
const MAX_NAMES: usize = 100_000;

/// Locks BEAM processes may hold on this node.
const MAX_LOCKS: usize = 100_000;

/// How long a registration made here keeps trying to take the BEAM cluster's lock.
const LOCK_PATIENCE: Duration = Duration::from_secs(10);

/// How long each BEAM node has to answer a call of the registrar.
const CALL_WITHIN: Duration = Duration::from_secs(5);

/// A name registered on the BEAM side, as this node keeps it.
struct Entry {
    name: Term,
    pid: AnyPid,
    erl: ErlPid,
    method: Term,
    /// Stops watching the process when the entry goes first.
    watch: AbortHandle,
}

/// A lock of `global` held on this node: by one requester, for the processes that took it.
struct Lock {
    requester: Term,
    holders: Vec<(ErlPid, AbortHandle)>,
}

/// One sync session with a BEAM node, from the connection to the exchange of names.
struct Session {
    my_tag: Term,
    his_tag: Option<Term>,
    his_vsn: i128,
    /// Our operations from its names, once resolved.
    my_ops: Option<Vec<Term>>,
    /// Its `resolved` message, if it came first: its operations for us and the nodes it knows.
    his_resolved: Option<(Vec<Term>, Vec<Term>)>,
}

#[derive(Default)]
struct State {
    /// By the name's text (`rust_counter` for the atom, the text for a binary).
    names: HashMap<String, Entry>,
    sessions: HashMap<String, Session>,
    /// The BEAM nodes synced with, and their protocol versions.
    known: BTreeMap<String, i128>,
    /// By resource id, as the term it arrived as.
    locks: HashMap<Vec<u8>, Lock>,
    /// Holders of all locks together.
    held: usize,
    next_tag: i128,
}

/// A BEAM node's `global` as this node takes part in it.
pub(crate) struct BeamGlobal {
    /// Itself, for work handed to tasks.
    this: Weak<BeamGlobal>,
    inner: Weak<Inner>,
    node: actors::WeakNode,
    /// The process BEAM nodes see as this node's locker and registrar: they monitor it while
    /// it holds their locks.
    agent: ErlPid,
    state: Mutex<State>,
}

/// The text a name term is found by from Rust.
fn text(name: &Term) -> String {
    match name {
        Term::Atom(a) => a.name().to_string(),
        Term::Binary(b) => String::from_utf8_lossy(b).into_owned(),
        other => other.to_string(),
    }
}

/// A Rust name as Erlang registers it: an atom, or a binary past an atom's length.
fn name_term(name: &str) -> Term {
    if name.chars().count() <= 255 {
        Term::atom(name)
    } else {
        Term::binary(name)
    }
}

/// `global`'s default resolver, the method names registered here carry.
fn default_method() -> Term {
    Term::Fun(ErlFun::Export {
        module: Atom::from("global"),
        function: Atom::from("random_exit_name"),
        arity: 3,
    })
}

fn key(term: &Term) -> Vec<u8> {
    actors::etf::encode(term)
}

/// Starts the bridge on a node that joins BEAM nodes as a visible node.
pub(crate) fn start(node: &Node) {
    let Some(inner) = actors::dist::extension::<Inner>(node) else {
        return;
    };
    if !inner.visible {
        return;
    }
    let Some(shared) = actors::dist::extension::<crate::global::Shared>(node) else {
        return;
    };
    let agent_pid = node.spawn(Spawned).any();
    let global = Arc::new_cyclic(|this| BeamGlobal {
        this: this.clone(),
        inner: Arc::downgrade(&inner),
        node: node.downgrade(),
        agent: inner.erl_pid(agent_pid.id()),
        state: Mutex::new(State::default()),
    });
    let _ = inner.global.set(global.clone() as Arc<dyn GlobalServer>);
    *shared
        .bridge
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(global.clone());
    let mut events = inner.subscribe();
    let weak = Arc::downgrade(&global);
    for peer in inner.nodes() {
        global.node_up(&peer);
    }
    actors::rt::spawn(async move {
        while let Some(event) = futures::StreamExt::next(&mut events).await {
            let Some(global) = weak.upgrade() else { return };
            match event {
                BeamNodeEvent::Up(peer) => global.node_up(&peer),
                BeamNodeEvent::Down(peer) => global.node_down(&peer),
            }
        }
    });
}

impl BeamGlobal {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// The peer's tag of its session with us, if `tag` is our tag of that session: a
    /// message of an earlier session (one that arrives late, after the connection was
    /// replaced) finds none and is dropped.
    fn his_tag(&self, peer: &str, tag: &Term) -> Option<Term> {
        match self.state().sessions.get(peer) {
            Some(s) if s.my_tag == *tag => s.his_tag.clone(),
            _ => None,
        }
    }

    /// `{'$gen_cast', Message}` to `node`'s global server, from this node's agent.
    fn cast(&self, node: &str, message: Term) {
        tracing::trace!(peer = %node, %message, "global out");
        self.send(node, Term::tuple([Term::atom("$gen_cast"), message]));
    }

    /// `Message` as it is to `node`'s global server.
    fn send(&self, node: &str, message: Term) {
        let Some(inner) = self.inner.upgrade() else {
            return;
        };
        let Some(conn) = inner.conn(node) else { return };
        let control = Control::RegSend {
            from: self.agent.clone(),
            to: Atom::from(SERVER),
        };
        let _ = conn.send(control::encode(&control, Some(&message)));
    }

    fn me(&self) -> Term {
        self.inner
            .upgrade()
            .map_or(Term::atom("nonode@nohost"), |i| Term::Atom(i.me.clone()))
    }

    /// A BEAM node connected: a sync session begins with our `init_connect`.
    fn node_up(&self, peer: &str) {
        let mut st = self.state();
        if !st.sessions.contains_key(peer) && !st.known.contains_key(peer) {
            self.begin(&mut st, peer);
        }
    }

    /// A new session with `peer`, announced by our `init_connect`. Sent under the state's
    /// lock, as everything that speaks of a session's tags is: the tasks that call in here
    /// run at once, and a message sent after the lock is let go could overtake one sent
    /// under an older state (an ack of a tag before the `init_connect` that names it), which
    /// `global` takes for a session out of step and restarts, over and over.
    fn begin(&self, st: &mut State, peer: &str) {
        st.next_tag += 1;
        let tag = Term::Int(st.next_tag);
        st.sessions.insert(
            peer.to_string(),
            Session {
                my_tag: tag.clone(),
                his_tag: None,
                his_vsn: VSN,
                my_ops: None,
                his_resolved: None,
            },
        );
        self.init_connect(peer, tag);
    }

    fn init_connect(&self, peer: &str, tag: Term) {
        let locker = Term::tuple([
            Term::atom("locker"),
            Term::atom("no_longer_a_pid"),
            Term::List(Vec::new()),
            Term::Pid(self.agent.clone()),
        ]);
        let message = Term::tuple([
            Term::atom("init_connect"),
            Term::tuple([Term::Int(VSN), tag]),
            self.me(),
            locker,
        ]);
        self.cast(peer, message);
    }

    /// A BEAM node is gone: its session, and it from the known nodes. Its names and locks go
    /// with their processes' monitors.
    fn node_down(&self, peer: &str) {
        let mut st = self.state();
        st.sessions.remove(peer);
        st.known.remove(peer);
    }

    /// A message to this node's `global_name_server` from `conn`'s peer.
    fn receive(self: &Arc<Self>, conn: &Arc<Conn>, message: &Term) {
        tracing::trace!(peer = %conn.peer.name, %message, "global");
        match GenRequest::of(message) {
            Some(GenRequest::Call { from, tag, request }) => {
                if let Some(reply) = self.call(conn, from, request)
                    && let Some(inner) = self.inner.upgrade()
                {
                    inner.gen_reply(conn, self.agent.clone(), from, tag, &reply);
                }
            }
            Some(GenRequest::Cast(request)) => self.cast_in(conn, request),
            None => self.info(conn, message),
        }
    }

    /// A `gen_server:call`: the reply, if any.
    fn call(self: &Arc<Self>, conn: &Arc<Conn>, from: &ErlPid, request: &Term) -> Option<Term> {
        let items = request.as_tuple().unwrap_or(&[]);
        let op = items
            .first()
            .and_then(Term::as_atom)
            .or(request.as_atom())?;
        match (op, items) {
            ("set_lock", [_, id]) => Some(Term::atom(if self.set_lock(id, from) {
                "true"
            } else {
                "false"
            })),
            ("del_lock", [_, id]) => {
                self.del_lock(id, from);
                Some(Term::atom("true"))
            }
            ("register", [_, name, Term::Pid(pid), method])
            | ("register_ext", [_, name, Term::Pid(pid), method, _]) => {
                self.insert(name.clone(), pid.clone(), method.clone());
                Some(Term::atom("yes"))
            }
            ("unregister", [_, name]) => {
                self.remove(&text(name));
                Some(Term::atom("ok"))
            }
            ("get_known", _) | ("get_synced", _) => Some(Term::List(
                self.state().known.keys().map(|n| Term::atom(n)).collect(),
            )),
            ("get_protocol_version", _) => Some(Term::Int(VSN)),
            _ => {
                tracing::debug!(peer = %conn.peer.name, %request, "a global request this node does not serve");
                None
            }
        }
    }

    /// Takes lock `id` (`{ResourceId, RequesterId}`) for `holder`, as `global` does: a
    /// resource is held by one requester at a time, for as many of its processes as ask.
    fn set_lock(self: &Arc<Self>, id: &Term, holder: &ErlPid) -> bool {
        let Some([resource, requester]) = id.as_tuple() else {
            return false;
        };
        let mut st = self.state();
        let held = st.held;
        let k = key(resource);
        match st.locks.get_mut(&k) {
            Some(lock) if lock.requester != *requester => false,
            Some(lock) if lock.holders.iter().any(|(p, _)| p == holder) => true,
            _ if held >= MAX_LOCKS => {
                tracing::warn!(
                    ?holder,
                    "BEAM processes hold as many global locks as allowed; this one is refused"
                );
                false
            }
            existing => {
                let watch = self.watch(holder, {
                    let (resource, holder) = (resource.clone(), holder.clone());
                    move |me: &BeamGlobal| me.unlock(&resource, &holder)
                });
                match existing {
                    Some(lock) => lock.holders.push((holder.clone(), watch)),
                    None => {
                        st.locks.insert(
                            k,
                            Lock {
                                requester: requester.clone(),
                                holders: vec![(holder.clone(), watch)],
                            },
                        );
                    }
                }
                st.held += 1;
                true
            }
        }
    }

    fn del_lock(&self, id: &Term, holder: &ErlPid) {
        if let Some([resource, requester]) = id.as_tuple() {
            let same = self
                .state()
                .locks
                .get(&key(resource))
                .is_some_and(|l| l.requester == *requester);
            if same {
                self.unlock(resource, holder);
            }
        }
    }

    fn unlock(&self, resource: &Term, holder: &ErlPid) {
        let mut st = self.state();
        let k = key(resource);
        let mut freed = 0;
        if let Some(lock) = st.locks.get_mut(&k) {
            lock.holders.retain(|(p, watch)| {
                let keep = p != holder;
                if !keep {
                    watch.abort();
                    freed += 1;
                }
                keep
            });
            if lock.holders.is_empty() {
                st.locks.remove(&k);
            }
        }
        st.held -= freed;
    }

    /// Runs `gone` once `pid` ends (or its node is lost), unless the returned handle aborts
    /// the watch first.
    fn watch(
        self: &Arc<Self>,
        pid: &ErlPid,
        gone: impl FnOnce(&BeamGlobal) + Send + 'static,
    ) -> AbortHandle {
        let (handle, registration) = AbortHandle::new_pair();
        let (Some(node), Some(inner)) = (self.node.upgrade(), self.inner.upgrade()) else {
            return handle;
        };
        let Some(any) = inner.any_pid(pid) else {
            return handle;
        };
        let weak = Arc::downgrade(self);
        let watching = Abortable::new(node.monitor(any), registration);
        actors::rt::spawn(async move {
            if watching.await.is_ok()
                && let Some(me) = weak.upgrade()
            {
                gone(&me);
            }
        });
        handle
    }

    /// A name registered on the BEAM side, kept until its process ends.
    fn insert(self: &Arc<Self>, name: Term, erl: ErlPid, method: Term) {
        let Some(inner) = self.inner.upgrade() else {
            return;
        };
        let Some(pid) = inner.any_pid(&erl) else {
            return;
        };
        let t = text(&name);
        // A name this node registered for its own process needs no second entry.
        let own = pid.is_local()
            && self
                .node
                .upgrade()
                .is_some_and(|node| node.global().whereis_any(&t).is_some_and(|p| p == pid));
        if own {
            return;
        }
        let mut st = self.state();
        if st.names.get(&t).is_some_and(|e| e.erl == erl) {
            return;
        }
        if !st.names.contains_key(&t) && st.names.len() >= MAX_NAMES {
            tracing::warn!(name = %t, "BEAM nodes registered as many global names as this node keeps; this one is not");
            return;
        }
        let watch = self.watch(&erl, {
            let (t, erl) = (t.clone(), erl.clone());
            move |me: &BeamGlobal| {
                let mut st = me.state();
                if st.names.get(&t).is_some_and(|e| e.erl == erl) {
                    st.names.remove(&t);
                }
            }
        });
        if let Some(old) = st.names.insert(
            t,
            Entry {
                name,
                pid,
                erl,
                method,
                watch,
            },
        ) {
            old.watch.abort();
        }
    }

    fn remove(&self, name: &str) {
        if let Some(old) = self.state().names.remove(name) {
            old.watch.abort();
        }
    }

    /// Every name this node knows, as `{Name, Pid, Method}`: those of BEAM nodes, and those
    /// this node registered for its own processes.
    fn names_list(&self) -> Vec<Term> {
        let mut list: Vec<Term> = self
            .state()
            .names
            .values()
            .map(|e| Term::tuple([e.name.clone(), Term::Pid(e.erl.clone()), e.method.clone()]))
            .collect();
        if let (Some(node), Some(inner)) = (self.node.upgrade(), self.inner.upgrade()) {
            let global = node.global();
            for name in global.registered_names() {
                if let Some(pid) = global.whereis_any(&name)
                    && pid.is_local()
                    && !self.state().names.contains_key(&name)
                {
                    list.push(Term::tuple([
                        name_term(&name),
                        Term::Pid(inner.erl_pid(pid.id())),
                        default_method(),
                    ]));
                }
            }
        }
        list
    }

    /// The known nodes, as `resolved` lists them: `{Node, Vsn}`, but for `except`.
    fn known_list(&self, except: &str) -> Vec<Term> {
        self.state()
            .known
            .iter()
            .filter(|(n, _)| n.as_str() != except)
            .map(|(n, v)| Term::tuple([Term::atom(n), Term::Int(*v)]))
            .collect()
    }

    /// A `gen_server:cast` to the global server.
    fn cast_in(self: &Arc<Self>, conn: &Arc<Conn>, request: &Term) {
        let peer = conn.peer.name.as_str();
        let items = request.as_tuple().unwrap_or(&[]);
        match (items.first().and_then(Term::as_atom), items) {
            (Some("init_connect"), [_, vsn, node, _]) => {
                if text(node) != peer {
                    return;
                }
                let (his_vsn, his_tag) = match vsn.as_tuple() {
                    Some([Term::Int(v), tag, ..]) => (*v, tag.clone()),
                    _ => return,
                };
                let mut st = self.state();
                // A session of its own asking, even with a node synced before (its global
                // restarted).
                if !st.sessions.contains_key(peer) {
                    st.known.remove(peer);
                    self.begin(&mut st, peer);
                }
                let Some(session) = st.sessions.get_mut(peer) else {
                    return;
                };
                session.his_tag = Some(his_tag.clone());
                session.his_vsn = his_vsn.min(VSN);
                let my_tag = session.my_tag.clone();
                self.send(
                    peer,
                    Term::tuple([Term::atom("init_connect_ack"), self.me(), his_tag, my_tag]),
                );
            }
            // The BEAM node's locker holds both partitions' lock: answer in kind, and send
            // our names.
            (Some("lock_set"), [_, Term::Pid(_), set, _, tag]) if set.is_atom("true") => {
                let Some(his_tag) = self.his_tag(peer, tag) else {
                    return;
                };
                let answer = Term::tuple([
                    Term::atom("lock_set"),
                    Term::Pid(self.agent.clone()),
                    Term::atom("true"),
                    Term::List(self.known_list(peer)),
                    his_tag.clone(),
                ]);
                self.cast(peer, answer);
                let exchange = Term::tuple([
                    Term::atom("exchange"),
                    self.me(),
                    Term::List(self.names_list()),
                    Term::List(Vec::new()),
                    his_tag,
                ]);
                self.cast(peer, exchange);
            }
            (Some("exchange"), [_, _, Term::List(names), _, tag]) => {
                self.exchange(peer, names, tag);
            }
            (Some("resolved"), [_, _, Term::List(ops), Term::List(known), _, _, tag]) => {
                let ready = {
                    let mut st = self.state();
                    match st.sessions.get_mut(peer) {
                        Some(s) if s.my_tag == *tag => {
                            s.his_resolved = Some((ops.clone(), known.clone()));
                            s.my_ops.is_some()
                        }
                        _ => false,
                    }
                };
                if ready {
                    self.synced(peer);
                }
            }
            (Some("new_nodes"), [_, _, Term::List(ops), _, Term::List(nodes), ..]) => {
                self.apply(ops);
                let me = self.me();
                for n in nodes {
                    let name = match n {
                        Term::Tuple(nv) if !nv.is_empty() => text(&nv[0]),
                        other => text(other),
                    };
                    if Term::atom(&name) != me {
                        self.meet(&name);
                    }
                }
            }
            (Some("in_sync"), [_, node, _]) => {
                if text(node) == peer {
                    let mut st = self.state();
                    st.sessions.remove(peer);
                    st.known.insert(peer.to_string(), VSN);
                }
            }
            _ => {
                tracing::debug!(%peer, %request, "a global cast this node does not act on");
            }
        }
    }

    /// Plain messages to the global server (`global` sends a few without `gen_server`).
    fn info(self: &Arc<Self>, conn: &Arc<Conn>, message: &Term) {
        let peer = conn.peer.name.as_str();
        let items = message.as_tuple().unwrap_or(&[]);
        match (items.first().and_then(Term::as_atom), items) {
            // Both sides agree on the session (the peer names our tag, then its own), or it
            // starts over.
            (Some("init_connect_ack"), [_, _, my_tag, his_tag]) => {
                let mut st = self.state();
                let agreed = st.sessions.get(peer).is_none_or(|s| {
                    s.his_tag.is_none()
                        || (s.my_tag == *my_tag && s.his_tag.as_ref() == Some(his_tag))
                });
                if !agreed {
                    // As `global` does: the peer's attempt is cancelled too, and both start
                    // over.
                    let cancel = [Term::atom("cancel_connect"), self.me(), his_tag.clone()];
                    self.send(peer, Term::tuple(cancel));
                    self.restart(&mut st, peer);
                }
            }
            (Some("cancel_connect"), [_, _, tag]) => {
                let mut st = self.state();
                if st.sessions.get(peer).is_some_and(|s| s.my_tag == *tag) {
                    self.restart(&mut st, peer);
                }
            }
            // Overlapping partitions are prevented as `global` prevents them: a node that
            // lost another asks everyone connected to both to drop the other.
            (Some("lost_connection"), [_, a, _, _, b]) => {
                let me = self.me();
                let gone = if *b == me { text(a) } else { text(b) };
                self.drop_node(&gone);
            }
            (Some("remove_connection"), [_, node]) => self.drop_node(&text(node)),
            _ => {
                tracing::debug!(%peer, %message, "a global message this node does not act on");
            }
        }
    }

    fn drop_node(&self, node: &str) {
        if let Some(inner) = self.inner.upgrade()
            && let Some(conn) = inner.conn(node)
        {
            tracing::warn!(node = %inner.me, peer = %node, "disconnecting, as global asks, to prevent overlapping partitions");
            conn.close();
        }
    }

    /// Starts the session with `peer` over: a new tag, a new `init_connect`.
    fn restart(&self, st: &mut State, peer: &str) {
        st.sessions.remove(peer);
        if !st.known.contains_key(peer) {
            self.begin(st, peer);
        }
    }

    /// A node another node told of: connect to it, and tell it we are in sync, as
    /// `global`'s `sync_others` does.
    fn meet(self: &Arc<Self>, node: &str) {
        let Some(inner) = self.inner.upgrade() else {
            return;
        };
        if inner.me.name() == node {
            return;
        }
        self.state().known.insert(node.to_string(), VSN);
        let (me, node) = (self.clone(), node.to_string());
        actors::rt::spawn(async move {
            if inner.connect(&node).await.is_ok() {
                me.cast(
                    &node,
                    Term::tuple([Term::atom("in_sync"), me.me(), Term::atom("true")]),
                );
            }
        });
    }

    /// `{exchange, Node, Names, _, Tag}`: the peer's names resolved against ours.
    fn exchange(self: &Arc<Self>, peer: &str, names: &[Term], tag: &Term) {
        let Some(his_tag) = self.his_tag(peer, tag) else {
            return;
        };
        let (Some(node), Some(inner)) = (self.node.upgrade(), self.inner.upgrade()) else {
            return;
        };
        let i_decide = inner.me.name() < peer;
        let mut ops = Vec::new();
        let mut resolved = Vec::new();
        for entry in names {
            let Some([name, Term::Pid(pid), method]) = entry.as_tuple() else {
                continue;
            };
            let t = text(name);
            let in_view = {
                let st = self.state();
                st.names.get(&t).map(|e| (e.erl.clone(), e.method.clone()))
            };
            let ours: Option<(ErlPid, Term)> = in_view.or_else(|| {
                node.global()
                    .whereis_any(&t)
                    .filter(AnyPid::is_local)
                    .map(|p| (inner.erl_pid(p.id()), default_method()))
            });
            match ours {
                Some((mine, _)) if mine == *pid => {}
                Some((mine, my_method)) if i_decide => {
                    // `global:random_exit_name/3`: the process on the smaller node stays,
                    // the other is killed.
                    let (keep, lose) = if pid.node.name() < mine.node.name() {
                        (pid.clone(), mine.clone())
                    } else {
                        (mine.clone(), pid.clone())
                    };
                    if let Some(loser) = inner.any_pid(&lose) {
                        node.kill(loser);
                    }
                    let kept = if keep == *pid {
                        (name.clone(), keep, method.clone())
                    } else {
                        (name.clone(), keep, my_method)
                    };
                    let op = Term::tuple([
                        Term::atom("insert"),
                        Term::tuple([kept.0, Term::Pid(kept.1.clone()), kept.2]),
                    ]);
                    if kept.1 == *pid {
                        ops.push(op);
                    } else {
                        resolved.push(op);
                    }
                }
                // The peer decides.
                Some(_) => {}
                None => ops.push(Term::tuple([
                    Term::atom("insert"),
                    Term::tuple([name.clone(), Term::Pid(pid.clone()), method.clone()]),
                ])),
            }
        }
        let ready = {
            let mut st = self.state();
            match st.sessions.get_mut(peer) {
                Some(s) => {
                    s.my_ops = Some(ops);
                    s.his_resolved.is_some()
                }
                None => return,
            }
        };
        let answer = Term::tuple([
            Term::atom("resolved"),
            self.me(),
            Term::List(resolved),
            Term::List(self.known_list(peer)),
            Term::atom("unused"),
            Term::List(Vec::new()),
            his_tag,
        ]);
        self.cast(peer, answer);
        if ready {
            self.synced(peer);
        }
    }

    /// Both sides resolved: our operations and the peer's are applied, the peer is known, and
    /// the nodes it knows are met.
    fn synced(self: &Arc<Self>, peer: &str) {
        let (ops, known) = {
            let mut st = self.state();
            let Some(session) = st.sessions.remove(peer) else {
                return;
            };
            let (his_ops, his_known) = session.his_resolved.unwrap_or_default();
            let mut ops = session.my_ops.unwrap_or_default();
            ops.extend(his_ops);
            st.known.insert(peer.to_string(), session.his_vsn);
            (ops, his_known)
        };
        self.apply(&ops);
        for n in known {
            let name = match &n {
                Term::Tuple(nv) if !nv.is_empty() => text(&nv[0]),
                other => text(other),
            };
            self.meet(&name);
        }
    }

    /// `{insert, {Name, Pid, Method}}` and `{delete, Name}` operations.
    fn apply(self: &Arc<Self>, ops: &[Term]) {
        for op in ops {
            match op.as_tuple() {
                Some([kind, entry]) if kind.is_atom("insert") => {
                    if let Some([name, Term::Pid(pid), method]) = entry.as_tuple() {
                        self.insert(name.clone(), pid.clone(), method.clone());
                    }
                }
                Some([kind, name]) if kind.is_atom("delete") => self.remove(&text(name)),
                _ => {}
            }
        }
    }

    /// Calls every synced BEAM node's global server as this node's registrar.
    async fn call_all(&self, request: Term) -> Vec<Result<Term, BeamError>> {
        let Some(inner) = self.inner.upgrade() else {
            return Vec::new();
        };
        let dests: Vec<BeamDest> = self
            .state()
            .known
            .keys()
            .map(|n| BeamDest::name(SERVER, n))
            .collect();
        let calls = dests
            .iter()
            .map(|to| inner.call_from(self.agent.clone(), to, request.clone(), CALL_WITHIN));
        futures::future::join_all(calls).await
    }

    /// Runs `f` holding `global`'s own lock, `{global, Registrar}`, on this node and every
    /// synced BEAM node, as `global`'s registrar does; `Busy` if it cannot be had in time.
    async fn with_lock<T>(self: &Arc<Self>, f: impl AsyncFnOnce() -> T) -> Result<T, GlobalError> {
        let id = Term::tuple([Term::atom("global"), Term::Pid(self.agent.clone())]);
        let started = actors::rt::now();
        let mut wait = Duration::from_millis(20);
        loop {
            let here = self.set_lock(&id, &self.agent);
            let there = self
                .call_all(Term::tuple([Term::atom("set_lock"), id.clone()]))
                .await;
            if here
                && there
                    .iter()
                    .all(|r| matches!(r, Ok(t) if t.is_atom("true")))
            {
                break;
            }
            self.release_lock(&id).await;
            if actors::rt::elapsed(started) > LOCK_PATIENCE {
                return Err(GlobalError::Busy("global".into()));
            }
            actors::rt::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_millis(500));
        }
        let out = f().await;
        self.release_lock(&id).await;
        Ok(out)
    }

    async fn release_lock(&self, id: &Term) {
        self.call_all(Term::tuple([Term::atom("del_lock"), id.clone()]))
            .await;
        self.del_lock(id, &self.agent);
    }
}

impl Bridge for BeamGlobal {
    fn whereis(&self, name: &str) -> Option<AnyPid> {
        self.state().names.get(name).map(|e| e.pid.clone())
    }

    fn names(&self) -> Vec<String> {
        self.state().names.keys().cloned().collect()
    }

    fn claim(
        &self,
        name: String,
        pid: AnyPid,
        moving: bool,
    ) -> BoxFuture<'static, Result<(), GlobalError>> {
        let Some(me) = self.self_arc() else {
            return futures::future::ready(Ok(())).boxed();
        };
        async move {
            let Some(inner) = me.inner.upgrade() else {
                return Ok(());
            };
            let erl = inner.erl_pid(pid.id());
            me.with_lock(async || {
                let taken = me.state().names.get(&name).is_some_and(|e| e.erl != erl);
                if taken && !moving {
                    return Err(GlobalError::NameTaken(name.clone()));
                }
                let request = Term::tuple([
                    Term::atom("register"),
                    name_term(&name),
                    Term::Pid(erl.clone()),
                    default_method(),
                ]);
                me.call_all(request).await;
                me.remove(&name);
                Ok(())
            })
            .await?
        }
        .boxed()
    }

    fn release(&self, name: String) -> BoxFuture<'static, ()> {
        let Some(me) = self.self_arc() else {
            return futures::future::ready(()).boxed();
        };
        async move {
            let _ = me
                .with_lock(async || {
                    let request = Term::tuple([Term::atom("unregister"), name_term(&name)]);
                    me.call_all(request).await;
                })
                .await;
        }
        .boxed()
    }
}

impl BeamGlobal {
    fn self_arc(&self) -> Option<Arc<BeamGlobal>> {
        self.this.upgrade()
    }
}

impl GlobalServer for BeamGlobal {
    fn message(&self, conn: &Arc<Conn>, message: &Term) {
        if let Some(me) = self.self_arc() {
            me.receive(conn, message);
        }
    }
}
