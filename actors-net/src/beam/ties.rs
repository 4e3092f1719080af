//! Links and monitors across the border: signals of local processes to BEAM processes go out
//! as Erlang's control messages, theirs come in as signals, and a lost connection breaks
//! every tie that crossed it with `noconnection`, as in Erlang.
//!
//! A BEAM process is an [`AnyPid`] here (see `Beam::pid`), so `ctx.monitor`, `ctx.link` and
//! `exit` work on it as on any pid: the node's router hands such signals to this module.

use std::sync::Arc;

use actors::dist::{Backlog, Outbound, Router, Signal};
use actors::etf::{self, ErlPid, ErlRef, Term};
use actors::{AnyPid, CallError, Down, ExitReason, MonitorRef, NodeId};

use super::conn::Conn;
use super::control::{self, Control, Proc};
use super::handshake::flags;
use super::state::{Inner, lock};

impl Inner {
    /// The pid a BEAM process is known by here.
    pub(crate) fn any_pid(&self, pid: &ErlPid) -> Option<AnyPid> {
        let node = self.node()?;
        if let Some(id) = self.local_id(pid) {
            return Some(actors::dist::pid_of(&node, id));
        }
        let home = NodeId::new(pid.node.name(), pid.creation);
        Some(actors::dist::remote_pid(
            &node,
            &home,
            (pid.serial as u64) << 32 | pid.id as u64,
        ))
    }

    /// The Erlang pid of any pid: a local process, or a BEAM process.
    pub(crate) fn erl_pid_of(&self, pid: &AnyPid) -> Option<ErlPid> {
        if pid.is_local() {
            return Some(self.erl_pid(pid.id()));
        }
        if pid.node() == self.me.name() || crate::beam::peers::split_name(pid.node()).is_none() {
            return None;
        }
        Some(ErlPid {
            node: etf::Atom::from(pid.node()),
            id: pid.id() as u32,
            serial: (pid.id() >> 32) as u32,
            creation: pid.creation(),
        })
    }

    /// A monitor's reference as Erlang carries it: three words, where a call's has four.
    fn erl_ref(&self, monitor: MonitorRef) -> ErlRef {
        let raw = monitor.as_raw();
        ErlRef {
            node: self.me.clone(),
            creation: self.creation,
            ids: vec![
                (raw & 0x3_ffff) as u32,
                (raw >> 18) as u32,
                (raw >> 50) as u32,
            ],
        }
    }

    fn monitor_ref(&self, r: &ErlRef) -> Option<MonitorRef> {
        match r.ids.as_slice() {
            [a, b, c] if r.node == self.me => Some(MonitorRef::from_raw(
                *a as u64 | (*b as u64) << 18 | (*c as u64) << 50,
            )),
            _ => None,
        }
    }

    /// Sends `control` for a signal of local process `from` to BEAM process `to`, recording
    /// the tie first; once connected if need be. A signal that cannot go out bounces.
    fn tie(self: &Arc<Self>, to: AnyPid, sig: Signal) {
        match self.conn(to.node()) {
            Some(conn) => self.tie_on(&conn, &to, sig),
            None => {
                let this = self.clone();
                actors::rt::spawn(async move {
                    match this.connect(to.node()).await {
                        Ok(conn) => this.tie_on(&conn, &to, sig),
                        Err(_) => actors::dist::bounce(sig, &to, ExitReason::NoConnection),
                    }
                });
            }
        }
    }

    fn tie_on(&self, conn: &Arc<Conn>, to: &AnyPid, sig: Signal) {
        let Some(target) = self.erl_pid_of(to) else {
            return actors::dist::bounce(sig, to, ExitReason::NoProc);
        };
        let control = {
            let mut ties = lock(&self.ties);
            // Checked under the lock that a loss takes to break ties: either the loss sees
            // this tie, or this sees the loss.
            if conn.is_closed() {
                drop(ties);
                return actors::dist::bounce(sig, to, ExitReason::NoConnection);
            }
            match sig {
                Signal::Link(from) => {
                    let from_erl = self.erl_pid(from.id());
                    ties.links
                        .entry(conn.id)
                        .or_default()
                        .insert((from.id(), target.clone()));
                    Control::Link {
                        from: from_erl,
                        to: target,
                    }
                }
                Signal::Unlink(from) => {
                    if let Some(set) = ties.links.get_mut(&conn.id) {
                        set.remove(&(from.id(), target.clone()));
                    }
                    let from = self.erl_pid(from.id());
                    if conn.peer.flags & flags::UNLINK_ID != 0 {
                        Control::UnlinkId {
                            id: actors::dist::rt::unique(),
                            from,
                            to: target,
                        }
                    } else {
                        Control::Unlink { from, to: target }
                    }
                }
                Signal::Exit {
                    from,
                    reason,
                    linked,
                } => {
                    if linked && let Some(set) = ties.links.get_mut(&conn.id) {
                        set.remove(&(from.id(), target.clone()));
                    }
                    let (from, reason) =
                        (self.erl_pid(from.id()), actors::dist::exit_reason(&reason));
                    if linked {
                        Control::Exit {
                            from,
                            to: target,
                            reason,
                        }
                    } else {
                        Control::Exit2 {
                            from,
                            to: target,
                            reason,
                        }
                    }
                }
                Signal::Stop(reason) => Control::Exit2 {
                    from: self.caller(),
                    to: target,
                    reason: actors::dist::exit_reason(&reason),
                },
                Signal::Kill => Control::Exit2 {
                    from: self.caller(),
                    to: target,
                    reason: Term::atom("kill"),
                },
                Signal::Monitor(monitor, watcher) => {
                    let from = watcher
                        .pid()
                        .filter(|p| p.is_local())
                        .map_or_else(|| self.caller(), |p| self.erl_pid(p.id()));
                    let reference = self.erl_ref(monitor);
                    ties.watching
                        .insert(reference.clone(), (conn.id, watcher, to.clone()));
                    Control::Monitor {
                        from,
                        to: Proc::Pid(target),
                        reference,
                    }
                }
                Signal::Demonitor(monitor) => {
                    let reference = self.erl_ref(monitor);
                    let from = match ties.watching.remove(&reference) {
                        Some((_, watcher, _)) => watcher
                            .pid()
                            .filter(|p| p.is_local())
                            .map_or_else(|| self.caller(), |p| self.erl_pid(p.id())),
                        None => return,
                    };
                    Control::Demonitor {
                        from,
                        to: Proc::Pid(target),
                        reference,
                    }
                }
                Signal::Down(_) | Signal::Info(_) | Signal::State(_) => return,
            }
        };
        let _ = conn.send(control::encode(&control, None));
    }

    /// A BEAM process's monitor of ours ended, or a monitor of ours on one of its processes
    /// fired: `true` if `reference` was one of our monitors.
    pub(crate) fn monitor_fired(&self, conn: &Conn, reference: &ErlRef, reason: &Term) -> bool {
        let held = {
            let mut ties = lock(&self.ties);
            match ties.watching.get(reference) {
                // Only the connection the monitor went out on may fire it.
                Some((c, _, _)) if *c == conn.id => ties.watching.remove(reference),
                _ => None,
            }
        };
        let Some((_, watcher, pid)) = held else {
            return false;
        };
        if let Some(monitor_ref) = self.monitor_ref(reference) {
            watcher.notify(Down {
                monitor_ref,
                pid,
                reason: actors::dist::exit_reason_of(reason),
            });
        }
        true
    }

    /// A link, unlink or exit signal from a BEAM process to a local one.
    pub(crate) fn signal_in(&self, conn: &Arc<Conn>, control: Control) {
        let Some(node) = self.node() else { return };
        let (from, to) = match &control {
            Control::Link { from, to }
            | Control::Unlink { from, to }
            | Control::Exit { from, to, .. }
            | Control::Exit2 { from, to, .. } => (from.clone(), to.clone()),
            _ => return,
        };
        let (Some(id), Some(from_pid)) = (self.local_id(&to), self.any_pid(&from)) else {
            return;
        };
        let sig = match control {
            Control::Link { .. } => {
                let mut ties = lock(&self.ties);
                let links = ties.links.entry(conn.id).or_default();
                if links.len() >= self.limits.max_monitors_per_peer {
                    drop(ties);
                    tracing::warn!(node = %self.me, peer = %conn.peer.name, "a BEAM node holds too many links; this one breaks at once");
                    let exit = Control::Exit {
                        from: to,
                        to: from,
                        reason: Term::atom("system_limit"),
                    };
                    let _ = conn.send(control::encode(&exit, None));
                    return;
                }
                links.insert((id, from));
                Signal::Link(from_pid)
            }
            Control::Unlink { .. } => {
                if let Some(set) = lock(&self.ties).links.get_mut(&conn.id) {
                    set.remove(&(id, from));
                }
                Signal::Unlink(from_pid)
            }
            Control::Exit { reason, .. } => {
                if let Some(set) = lock(&self.ties).links.get_mut(&conn.id) {
                    set.remove(&(id, from));
                }
                Signal::Exit {
                    from: from_pid,
                    reason: actors::dist::exit_reason_of(&reason),
                    linked: true,
                }
            }
            Control::Exit2 { reason, .. } if reason.is_atom("kill") => Signal::Kill,
            Control::Exit2 { reason, .. } => Signal::Exit {
                from: from_pid,
                reason: actors::dist::exit_reason_of(&reason),
                linked: false,
            },
            _ => return,
        };
        actors::dist::signal_local(&node, id, sig);
    }

    /// A connection is gone: every link across it breaks with `noconnection`, every monitor
    /// of ours on its processes fires with `noconnection`.
    pub(crate) fn break_ties(&self, conn: &Conn) {
        let (links, watching) = {
            let mut ties = lock(&self.ties);
            let links = ties.links.remove(&conn.id).unwrap_or_default();
            let refs: Vec<ErlRef> = ties
                .watching
                .iter()
                .filter(|(_, (c, _, _))| *c == conn.id)
                .map(|(r, _)| r.clone())
                .collect();
            let watching: Vec<_> = refs
                .into_iter()
                .filter_map(|r| ties.watching.remove(&r).map(|w| (r, w)))
                .collect();
            (links, watching)
        };
        let Some(node) = self.node() else { return };
        for (id, erl) in links {
            if let Some(from) = self.any_pid(&erl) {
                let sig = Signal::Exit {
                    from,
                    reason: ExitReason::NoConnection,
                    linked: true,
                };
                actors::dist::signal_local(&node, id, sig);
            }
        }
        for (reference, (_, watcher, pid)) in watching {
            if let Some(monitor_ref) = self.monitor_ref(&reference) {
                watcher.notify(Down {
                    monitor_ref,
                    pid,
                    reason: ExitReason::NoConnection,
                });
            }
        }
    }
}

/// The node's router hands signals for BEAM processes here.
pub(crate) struct BeamRouter(pub(crate) Arc<Inner>);

impl Router for BeamRouter {
    fn send(&self, _to: &AnyPid, _msg: Outbound<'_>) -> Result<Backlog, CallError> {
        Err(CallError::TypeMismatch(
            "a BEAM process takes terms, not typed messages: use Beam::send, cast or call".into(),
        ))
    }

    fn signal(&self, to: &AnyPid, sig: Signal) -> Result<(), (Signal, ExitReason)> {
        self.0.tie(to.clone(), sig);
        Ok(())
    }

    fn node_index(&self, _node: &str) -> u32 {
        0
    }
}
