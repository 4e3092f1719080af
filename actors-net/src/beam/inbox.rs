//! What BEAM nodes send: each distribution message read, checked, and handed to the local
//! process it is for, the call it answers, or the monitor it concerns.

use std::sync::Arc;

use actors::dist::Responder;
use actors::etf::{self, ErlPid, Term};

use super::conn::Conn;
use super::control::{self, Control, Proc};
use super::handshake::flags;
use super::reply::GenReply;
use super::state::{Inner, Outcome, lock};

impl Inner {
    /// One packet from `conn`: an error closes the connection, as Erlang closes one that
    /// sends what it cannot read.
    pub(crate) fn incoming(&self, conn: &Arc<Conn>, packet: &[u8]) -> Result<(), String> {
        let (&tag, mut input) = packet.split_first().ok_or("an empty message")?;
        if tag != control::PASS_THROUGH {
            return Err(format!("a message of kind {tag}, where 112 was expected"));
        }
        let control = etf::decode_prefix(&mut input).map_err(|e| format!("control: {e}"))?;
        let message = if input.is_empty() {
            None
        } else {
            match etf::decode(input) {
                Ok(m) => Some(m),
                // The framing held: one message this side cannot read (too deep, a fun) is
                // dropped, and the connection and everything else on it carry on.
                Err(e) => {
                    tracing::warn!(node = %self.me, peer = %conn.peer.name, %control, "a message this node cannot read was dropped: {e}");
                    return Ok(());
                }
            }
        };
        let Some(parsed) = Control::parse(&control) else {
            tracing::debug!(node = %self.me, peer = %conn.peer.name, %control, "unhandled control message dropped");
            return Ok(());
        };
        if parsed
            .sender_node()
            .is_some_and(|node| node.name() != conn.peer.name)
        {
            tracing::warn!(node = %self.me, peer = %conn.peer.name, %control, "a message on behalf of another node's process dropped");
            return Ok(());
        }
        let mut message = message;
        let mut message = move || message.take().ok_or("a send without its message");
        match parsed {
            Control::Send { to } | Control::SendSender { to, .. } => {
                self.to_pid(conn, &to, message()?);
            }
            Control::RegSend { to, .. } => {
                let message = message()?;
                if self.service(conn, &to, &message) {
                    return Ok(());
                }
                let pid = self.node().and_then(|n| n.whereis_any(to.name()));
                match pid {
                    Some(pid) if pid.is_local() => self.deliver(conn, pid.id(), message),
                    _ => {
                        tracing::debug!(node = %self.me, name = %to, "message to an unregistered name dropped")
                    }
                }
            }
            Control::AliasSend { alias, .. } => {
                self.answer(conn, &alias, Outcome::Reply(message()?))
            }
            Control::Monitor {
                from,
                to,
                reference,
            } => self.monitor(conn, from, to, reference),
            Control::Demonitor { reference, .. } => {
                if let Some((target, monitor)) = self.monitors.release(conn, &(conn.id, reference))
                {
                    self.demonitor(&target, monitor);
                }
            }
            Control::MonitorExit {
                reference, reason, ..
            } => {
                if !self.monitor_fired(conn, &reference, &reason) {
                    self.answer(conn, &reference, Outcome::Down(reason));
                }
            }
            Control::UnlinkId { id, from, to } => {
                let ack = Control::UnlinkIdAck {
                    id,
                    from: to.clone(),
                    to: from.clone(),
                };
                self.signal_in(conn, Control::Unlink { from, to });
                let _ = conn.send(control::encode(&ack, None));
            }
            // Our unlinks take effect at once here; the peer's acknowledgement adds nothing.
            Control::UnlinkIdAck { .. } => {}
            Control::SpawnRequest {
                request,
                from,
                module,
                function,
                options,
            } => self.spawn_request(conn, request, from, module, function, options, message()?),
            // This node makes no spawn requests: a reply answers nothing.
            Control::SpawnReply { .. } => {}
            signal @ (Control::Link { .. }
            | Control::Unlink { .. }
            | Control::Exit { .. }
            | Control::Exit2 { .. }) => self.signal_in(conn, signal),
        }
        Ok(())
    }

    /// A message to a pid: the caller pid's replies, or a local process.
    fn to_pid(&self, conn: &Arc<Conn>, to: &ErlPid, message: Term) {
        let id = self.local_id(to);
        // `{Ref, Reply}` to a call this node made from a process of its own.
        let message = match message {
            Term::Tuple(mut items)
                if id.is_some_and(|id| id != 0)
                    && items.len() == 2
                    && matches!(&items[0], Term::Ref(r) if lock(&self.calls).contains_key(r)) =>
            {
                if let (Some(reply), Some(Term::Ref(reference))) = (items.pop(), items.pop()) {
                    self.answer(conn, &reference, Outcome::Reply(reply));
                }
                return;
            }
            other => other,
        };
        if id == Some(0) {
            // To the caller pid: `{Ref, Reply}`, the answer to a call made from this node.
            match message {
                Term::Tuple(mut items) if items.len() == 2 && matches!(items[0], Term::Ref(_)) => {
                    if let (Some(reply), Some(Term::Ref(reference))) = (items.pop(), items.pop()) {
                        self.answer(conn, &reference, Outcome::Reply(reply));
                    }
                }
                // The caller pid stands as group leader of the functions `rpc` runs: what
                // they print is answered, and dropped.
                Term::Tuple(items) if items.len() == 4 && items[0].is_atom("io_request") => {
                    if let Term::Pid(from) = &items[1] {
                        let reply = Term::tuple([
                            Term::atom("io_reply"),
                            items[2].clone(),
                            Term::atom("ok"),
                        ]);
                        let send = if conn.peer.flags & flags::SEND_SENDER != 0 {
                            Control::SendSender {
                                from: self.caller(),
                                to: from.clone(),
                            }
                        } else {
                            Control::Send { to: from.clone() }
                        };
                        let _ = conn.send(control::encode(&send, Some(&reply)));
                    }
                }
                other => {
                    tracing::debug!(node = %self.me, message = %other, "message to the caller pid that answers no call dropped")
                }
            }
            return;
        }
        match id {
            Some(id) => self.deliver(conn, id, message),
            None => {
                tracing::debug!(node = %self.me, pid = ?to, "message to a pid of no live process dropped")
            }
        }
    }

    /// Completes a call waiting on `reference`, if it went out on `conn`: a late or unknown
    /// answer is dropped, and so is one from another node than the call went to.
    fn answer(&self, conn: &Conn, reference: &etf::ErlRef, outcome: Outcome) {
        let pending = {
            let mut calls = lock(&self.calls);
            match calls.get(reference) {
                Some(p) if p.conn == conn.id => calls.remove(reference),
                _ => None,
            }
        };
        if let Some(pending) = pending {
            let _ = pending.done.send(outcome);
        }
    }

    /// Hands a message to local process `id`: a `gen_server` call or cast, or a plain
    /// message, read as a cast request.
    fn deliver(&self, conn: &Arc<Conn>, id: u64, message: Term) {
        let Some(node) = self.node() else { return };
        if let Some((from, tag, request)) = super::services::system_request(&message) {
            return self.system(conn, id, from, tag, request);
        }
        let (request, responder) = match &message {
            Term::Tuple(items) if items.len() == 3 && items[0].is_atom("$gen_call") => {
                match items[1].as_tuple() {
                    Some([Term::Pid(from), tag]) => {
                        let responder: Box<dyn Responder> = Box::new(GenReply {
                            conn: Arc::downgrade(conn),
                            server: self.erl_pid(id),
                            to: from.clone(),
                            tag: tag.clone(),
                        });
                        (&items[2], Some(responder))
                    }
                    _ => (&message, None),
                }
            }
            Term::Tuple(items) if items.len() == 2 && items[0].is_atom("$gen_cast") => {
                (&items[1], None)
            }
            _ => (&message, None),
        };
        let is_call = responder.is_some();
        if let Err(e) = actors::dist::deliver_term(&node, id, request, responder)
            && !is_call
        {
            let pid = actors::dist::pid_of(&node, id);
            tracing::warn!(node = %self.me, pid = %pid.logged(), %request, "message from a BEAM node fits no handler: {e}");
        }
    }
}

impl Inner {
    /// Takes back our monitor on a local process.
    pub(crate) fn demonitor(&self, target: &actors::AnyPid, monitor: actors::MonitorRef) {
        if let Some(node) = self.node() {
            actors::dist::signal_local(
                &node,
                target.id(),
                actors::dist::Signal::Demonitor(monitor),
            );
        }
    }

    /// A BEAM process monitors a local one (by pid or registered name): `{'DOWN', ..}` goes
    /// back when it ends, `noproc` at once if there is none.
    fn monitor(&self, conn: &Arc<Conn>, from: ErlPid, to: Proc, reference: etf::ErlRef) {
        let Some(node) = self.node() else { return };
        let target = match &to {
            // The caller pid, which stands as group leader for what `rpc` runs, never ends
            // before the node: its monitor never fires.
            Proc::Pid(p) if self.local_id(p) == Some(0) => return,
            Proc::Pid(p) => self.local_id(p).map(|id| actors::dist::pid_of(&node, id)),
            // Nor does a built-in service (a `gen_server:call` to one monitors it first).
            Proc::Name(name) if self.is_service(name) => return,
            Proc::Name(name) => node.whereis_any(name.name()).filter(|p| p.is_local()),
        };
        let exit = |reason: Term| Control::MonitorExit {
            from: to.clone(),
            to: from.clone(),
            reference: reference.clone(),
            reason,
        };
        let Some(target) = target else {
            let _ = conn.send(control::encode(&exit(Term::atom("noproc")), None));
            return;
        };
        // A callback on the process itself, not a task per monitor: `gen_server:call` takes
        // one per call.
        let monitor = node.make_ref();
        if !self
            .monitors
            .hold(conn, reference.clone(), target.clone(), monitor)
        {
            tracing::warn!(node = %self.me, peer = %conn.peer.name, "a BEAM node holds too many monitors; this one fails at once");
            let _ = conn.send(control::encode(&exit(Term::atom("system_limit")), None));
            return;
        }
        let weak = Arc::downgrade(conn);
        let monitors = self.monitors.clone();
        let key = (conn.id, reference.clone());
        let mut message = exit(Term::atom("normal"));
        let watcher = actors::dist::Watcher::callback(move |down| {
            let Some(conn) = weak.upgrade() else { return };
            // Only a monitor still held fires: one demonitored meanwhile is gone.
            if monitors.release(&conn, &key).is_some() {
                if let Control::MonitorExit { reason, .. } = &mut message {
                    *reason = actors::dist::exit_reason(&down.reason);
                }
                let _ = conn.send(control::encode(&message, None));
            }
        });
        actors::dist::signal_local(
            &node,
            target.id(),
            actors::dist::Signal::Monitor(monitor, watcher),
        );
    }
}
