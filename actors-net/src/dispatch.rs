//! What arrives on a connection: messages delivered to local processes, replies to calls,
//! and control frames (links, monitors, exits, lookups, spawns, peer lists).

use std::sync::Arc;

use actors::dist::{Origin, Responder, Signal, Watcher};
use actors::{CallError, Down, ExitReason, MonitorRef, Node, NodeId};

use crate::connection::{Conn, lock};
use crate::frame::{self, Control, Frame, Target};
use crate::net::{Loss, Net};

impl Net {
    /// The pid of a process of this node that a frame names; `None` for an earlier run's.
    fn local_pid(&self, node: &Node, to: Target) -> Option<actors::AnyPid> {
        (to.creation == self.id.creation()).then(|| node.pid_of(to.id))
    }

    /// Acts on one frame from `conn`; an error closes the connection.
    pub(crate) fn dispatch(
        self: &Arc<Self>,
        conn: &Arc<Conn>,
        origin: &Origin,
        frame: Frame<'_>,
    ) -> Result<(), String> {
        let node = self.node.upgrade().ok_or("node gone")?;
        match frame {
            Frame::Tick => {}
            Frame::Cast {
                to,
                identity,
                payload,
            } => {
                if to.creation == self.id.creation() {
                    if let Err(e) =
                        actors::dist::deliver(&node, to.id, identity, payload, None, origin)
                    {
                        if e != CallError::NoProc {
                            tracing::warn!(peer = %conn.name, "cast to process {} dropped: {e}", to.id);
                        }
                    }
                }
            }
            Frame::Call {
                to,
                identity,
                call_ref,
                payload,
            } => {
                let responder = Box::new(NetResponder {
                    conn: Arc::downgrade(conn),
                    call_ref,
                    max_frame: self.config.max_frame,
                });
                if to.creation == self.id.creation() {
                    // Failures are answered to the caller by `deliver` itself.
                    let _ = actors::dist::deliver(
                        &node,
                        to.id,
                        identity,
                        payload,
                        Some(responder),
                        origin,
                    );
                } else {
                    responder.fail(CallError::NoProc);
                }
            }
            Frame::Reply { call_ref, payload } => {
                let call = lock(&conn.pending).remove(&call_ref);
                if let Some(call) = call {
                    call.complete(&node, Ok(payload));
                }
            }
            Frame::Control(cbor) => {
                let control: Control = actors::wire::decode(&node, cbor)
                    .map_err(|e| format!("malformed control frame: {e}"))?;
                self.control(&node, conn, control);
            }
        }
        Ok(())
    }

    fn control(self: &Arc<Self>, node: &Node, conn: &Arc<Conn>, control: Control) {
        let gone = |sig: Signal, to: Target| {
            let stale = node.remote_pid(&NodeId::new(self.id.name(), to.creation), to.id);
            actors::dist::bounce(sig, &stale, ExitReason::NoProc);
        };
        match control {
            Control::Peers(names) => self.join_peers(names),
            Control::Bye => self.close(conn, "the peer said goodbye", Loss::Quiet),
            Control::Link { from, to } => match self.local_pid(node, to) {
                Some(local) => {
                    lock(&conn.ties).links.insert((local.clone(), from.clone()));
                    node.signal_local(to.id, Signal::Link(from));
                }
                None => gone(Signal::Link(from), to),
            },
            Control::Unlink { from, to } => {
                if let Some(local) = self.local_pid(node, to) {
                    lock(&conn.ties).links.remove(&(local, from.clone()));
                    node.signal_local(to.id, Signal::Unlink(from));
                }
            }
            Control::Exit {
                from,
                to,
                reason,
                linked,
            } => {
                if let Some(local) = self.local_pid(node, to) {
                    if linked {
                        lock(&conn.ties).links.remove(&(local, from.clone()));
                    }
                    node.signal_local(
                        to.id,
                        Signal::Exit {
                            from,
                            reason,
                            linked,
                        },
                    );
                }
            }
            Control::Stop { to, reason } => {
                if self.local_pid(node, to).is_some() {
                    node.signal_local(to.id, Signal::Stop(reason));
                }
            }
            Control::Kill { to } => {
                if self.local_pid(node, to).is_some() {
                    node.signal_local(to.id, Signal::Kill);
                }
            }
            Control::Monitor { to, monitor } => {
                let local_ref = node.make_ref();
                let weak = Arc::downgrade(conn);
                let net = Arc::downgrade(self);
                let watcher = Watcher::callback(move |down: Down| {
                    if let (Some(conn), Some(net)) = (weak.upgrade(), net.upgrade()) {
                        lock(&conn.ties).watched.remove(&monitor);
                        net.send_control(
                            &conn,
                            &Control::Down {
                                monitor,
                                reason: down.reason,
                            },
                        );
                    }
                });
                match self.local_pid(node, to) {
                    Some(local) => {
                        lock(&conn.ties).watched.insert(monitor, (local_ref, local));
                        node.signal_local(to.id, Signal::Monitor(local_ref, watcher));
                    }
                    None => gone(Signal::Monitor(local_ref, watcher), to),
                }
            }
            Control::Demonitor { to, monitor } => {
                let held = lock(&conn.ties).watched.remove(&monitor);
                if let (Some((local_ref, _)), true) = (held, to.creation == self.id.creation()) {
                    node.signal_local(to.id, Signal::Demonitor(local_ref));
                }
            }
            Control::WhereIs { name, request } => {
                let pid = node.whereis_any(&name);
                self.send_control(conn, &Control::WhereIsReply { request, pid });
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
            } => {
                let found = lock(&self.spawnable).get(&actor).cloned();
                let result = match found {
                    None => Err(format!(
                        "{actor} may not be spawned on {} (see allow_spawn)",
                        self.id.name()
                    )),
                    Some((known, _)) if known != identity => Err(format!(
                        "{actor} differs between the two nodes (another version of it)"
                    )),
                    Some((_, spawner)) => spawner(node, &state, link.clone()),
                };
                if let (Ok(child), Some(parent)) = (&result, link) {
                    lock(&conn.ties).links.insert((child.clone(), parent));
                }
                self.send_control(conn, &Control::Spawned { request, result });
            }
            Control::Spawned { request, result } => {
                if let Some(tx) = lock(&conn.spawns).remove(&request) {
                    let _ = tx.send(result);
                }
            }
            Control::Down { monitor, reason } => {
                let held = lock(&conn.ties).watching.remove(&monitor);
                if let Some((watcher, pid)) = held {
                    watcher.notify(Down {
                        monitor_ref: MonitorRef::from_raw(monitor),
                        pid,
                        reason,
                    });
                }
            }
        }
    }
}

/// The callee's side of a call from another node: the reply goes back on the connection.
struct NetResponder {
    conn: std::sync::Weak<Conn>,
    call_ref: u64,
    max_frame: usize,
}

impl NetResponder {
    fn fail(self: Box<Self>, err: CallError) {
        let mut payload = Vec::new();
        let reply: Result<(), CallError> = Err(err);
        if actors::wire::encode(&reply, &mut payload).is_ok() {
            self.respond(payload);
        }
    }
}

impl Responder for NetResponder {
    fn respond(self: Box<Self>, payload: Vec<u8>) {
        let Some(conn) = self.conn.upgrade() else {
            return;
        };
        let size = 1 + 8 + payload.len();
        if size > self.max_frame {
            // The reply cannot cross: the caller learns why, and the connection carries on.
            let max = self.max_frame;
            return self.fail(CallError::Wire(actors::WireError::TooLarge { size, max }));
        }
        let _ = conn.enqueue(|out| frame::reply(out, self.call_ref, &payload));
    }
}
