//! The routing layer's control frames from a peer, one function each: links, monitors,
//! exits, lookups, spawns, peer lists, goodbyes, pings.

use std::sync::Arc;

use actors::dist::{Signal, Watcher};
use actors::{AnyPid, Down, ExitReason, MonitorRef, Node, NodeId};

use crate::connection::{Conn, lock};
use crate::frame::{Control, Target};
use crate::net::Loss;
use crate::requests::Routing;

impl Routing {
    /// The pid of a process of this node that a frame names; `None` for an earlier run's.
    fn local_pid(&self, node: &Node, to: Target) -> Option<AnyPid> {
        (to.creation == self.net.id.creation()).then(|| actors::dist::pid_of(node, to.id))
    }

    /// A signal for a process of an earlier run of this node: it bounces.
    fn gone(&self, node: &Node, sig: Signal, to: Target) {
        let stale =
            actors::dist::remote_pid(node, &NodeId::new(self.net.id.name(), to.creation), to.id);
        actors::dist::bounce(sig, &stale, ExitReason::NoProc);
    }

    /// Acts on a control frame from `conn`.
    pub(crate) fn control(&self, node: &Node, conn: &Arc<Conn>, control: Control) {
        let net = &self.net;
        match control {
            // Over an overlay, routes say who is there, not peers' lists.
            Control::Peers(names) if net.overlay().is_none() => net.join_peers(names),
            Control::Peers(_) => {}
            Control::Bye => net.close(conn, "the peer said goodbye", Loss::Quiet),
            Control::Link { from, to } => self.link(node, conn, from, to),
            Control::Unlink { from, to } => self.unlink(node, conn, from, to),
            Control::Exit {
                from,
                to,
                reason,
                linked,
            } => self.exit(node, conn, from, to, reason, linked),
            Control::Stop { to, reason } => self.signal(node, to, Signal::Stop(reason)),
            Control::Kill { to } => self.signal(node, to, Signal::Kill),
            Control::Monitor { to, monitor } => self.monitor(node, conn, to, monitor),
            Control::Demonitor { to, monitor } => self.demonitor(node, conn, to, monitor),
            Control::WhereIs { name, request } => {
                let pid = node.whereis_any(&name);
                net.send_control(conn, &Control::WhereIsReply { request, pid });
            }
            Control::WhereIsReply { request, pid } => {
                if let Some(tx) = lock(&conn.lookups).remove(&request) {
                    let _ = tx.send(pid);
                }
            }
            Control::Spawn {
                request,
                actor,
                identity,
                state,
                link,
            } => self.spawn(node, conn, request, &actor, identity, &state, link),
            Control::Spawned { request, result } => {
                if let Some(tx) = lock(&conn.spawns).remove(&request) {
                    let _ = tx.send(result);
                }
            }
            Control::Down { monitor, reason } => self.down(conn, monitor, reason),
            Control::Ping { request } => net.send_control(conn, &Control::Pong { request }),
            Control::Pong { request } => conn.pong(request),
        }
    }

    fn link(&self, node: &Node, conn: &Conn, from: AnyPid, to: Target) {
        match self.local_pid(node, to) {
            Some(local) => {
                lock(&conn.ties).links.insert((local, from.clone()));
                actors::dist::signal_local(node, to.id, Signal::Link(from));
            }
            None => self.gone(node, Signal::Link(from), to),
        }
    }

    fn unlink(&self, node: &Node, conn: &Conn, from: AnyPid, to: Target) {
        if let Some(local) = self.local_pid(node, to) {
            lock(&conn.ties).links.remove(&(local, from.clone()));
            actors::dist::signal_local(node, to.id, Signal::Unlink(from));
        }
    }

    fn exit(
        &self,
        node: &Node,
        conn: &Conn,
        from: AnyPid,
        to: Target,
        reason: ExitReason,
        linked: bool,
    ) {
        if let Some(local) = self.local_pid(node, to) {
            if linked {
                lock(&conn.ties).links.remove(&(local, from.clone()));
            }
            let sig = Signal::Exit {
                from,
                reason,
                linked,
            };
            actors::dist::signal_local(node, to.id, sig);
        }
    }

    /// A stop or a kill: for a process of this run only.
    fn signal(&self, node: &Node, to: Target, sig: Signal) {
        if self.local_pid(node, to).is_some() {
            actors::dist::signal_local(node, to.id, sig);
        }
    }

    /// The peer watches a process here: a local monitor whose `Down` goes back to it.
    fn monitor(&self, node: &Node, conn: &Arc<Conn>, to: Target, monitor: u64) {
        let local_ref = node.make_ref();
        let weak = Arc::downgrade(conn);
        let net = Arc::downgrade(&self.net);
        let watcher = Watcher::callback(move |down: Down| {
            if let (Some(conn), Some(net)) = (weak.upgrade(), net.upgrade()) {
                lock(&conn.ties).watched.remove(&monitor);
                let reason = down.reason;
                net.send_control(&conn, &Control::Down { monitor, reason });
            }
        });
        match self.local_pid(node, to) {
            Some(local) => {
                lock(&conn.ties).watched.insert(monitor, (local_ref, local));
                actors::dist::signal_local(node, to.id, Signal::Monitor(local_ref, watcher));
            }
            None => self.gone(node, Signal::Monitor(local_ref, watcher), to),
        }
    }

    fn demonitor(&self, node: &Node, conn: &Conn, to: Target, monitor: u64) {
        let held = lock(&conn.ties).watched.remove(&monitor);
        if let (Some((local_ref, _)), true) = (held, to.creation == self.net.id.creation()) {
            actors::dist::signal_local(node, to.id, Signal::Demonitor(local_ref));
        }
    }

    /// A process of this node the peer monitored ended.
    fn down(&self, conn: &Conn, monitor: u64, reason: ExitReason) {
        let held = lock(&conn.ties).watching.remove(&monitor);
        if let Some((watcher, pid)) = held {
            watcher.notify(Down {
                monitor_ref: MonitorRef::from_raw(monitor),
                pid,
                reason,
            });
        }
    }

    /// The peer asks for a process of an actor type this node allows.
    #[allow(clippy::too_many_arguments)]
    fn spawn(
        &self,
        node: &Node,
        conn: &Conn,
        request: u64,
        actor: &str,
        identity: u64,
        state: &[u8],
        link: Option<AnyPid>,
    ) {
        let found = lock(&self.spawnable).get(actor).cloned();
        let result = match found {
            None => Err(format!(
                "{actor} may not be spawned on {}: that node must call allow_spawn::<{actor}>() first",
                self.net.id.name()
            )),
            Some(known) if known.identity != identity => Err(format!(
                "{actor} differs between the two nodes (another version of it)"
            )),
            Some(known) => (known.spawn)(node, state, link.clone()),
        };
        if let (Ok(child), Some(parent)) = (&result, link) {
            lock(&conn.ties).links.insert((child.clone(), parent));
        }
        self.net
            .send_control(conn, &Control::Spawned { request, result });
    }
}
