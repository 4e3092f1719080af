//! The router `actors-net` installs in its node: messages and signals for pids of other nodes
//! become frames on the connection to that node.

use std::sync::Arc;

use actors::dist::{Backlog, Outbound, Router, Signal};
use actors::{AnyPid, CallError, ExitReason, WireError};

use crate::connection::{QueueError, lock};
use crate::frame::{self, Control, Target};
use crate::net::Net;

pub(crate) struct NetRouter {
    pub(crate) net: Arc<Net>,
    /// Where pids of BEAM nodes (`name@host`, no port) go, when the node speaks to them.
    pub(crate) beam: std::sync::OnceLock<Arc<dyn Router>>,
}

impl NetRouter {
    /// The router of `to`'s node if it is a BEAM node: `None` for a node of ours. A node
    /// that does not speak to BEAM nodes reads no name here: every remote send asks.
    fn beam_for(&self, to: &AnyPid) -> Option<&Arc<dyn Router>> {
        let beam = self.beam.get()?;
        crate::net::address(to.node()).is_none().then_some(beam)
    }
}

fn target(pid: &AnyPid) -> Target {
    Target {
        creation: pid.creation(),
        id: pid.id(),
    }
}

impl Router for NetRouter {
    fn send(&self, to: &AnyPid, msg: Outbound<'_>) -> Result<Backlog, CallError> {
        if let Some(beam) = self.beam_for(to) {
            return beam.send(to, msg);
        }
        let to_target = target(to);
        let conn = self.net.conn_for(to).ok_or(CallError::NoConnection)?;
        let call_ref = msg.is_call.then(|| conn.next_call_ref());
        let mut failed = None;
        let max = self.net.config.max_frame;
        // The message is encoded straight into the connection's buffer. A call's reply is
        // registered before the lock is released, so even the fastest reply finds it. A
        // message larger than a frame may be is taken back out: it fails alone, and the
        // connection carries on.
        let queued = conn.enqueue(|out| {
            let start = match call_ref {
                Some(r) => frame::begin_call(out, to_target, msg.identity, r),
                None => frame::begin_cast(out, to_target, msg.identity),
            };
            match (msg.encode)(out) {
                Ok(_) if out.len() - start - frame::LEN > max => {
                    let size = out.len() - start - frame::LEN;
                    out.truncate(start);
                    failed = Some(WireError::TooLarge { size, max });
                }
                Ok(pending) => {
                    frame::finish(out, start);
                    if let (Some(r), Some(p)) = (call_ref, pending) {
                        lock(&conn.pending).insert(r, p);
                    }
                }
                Err(e) => {
                    out.truncate(start);
                    failed = Some(e);
                }
            }
        });
        match (queued, failed) {
            (_, Some(e)) => Err(CallError::Wire(e)),
            (Ok(busy), None) => Ok(if busy { Backlog::Busy } else { Backlog::Clear }),
            (Err(QueueError::Closed), None) => Err(CallError::NoConnection),
            (Err(QueueError::Overloaded), None) => Err(CallError::Overloaded),
        }
    }

    fn signal(&self, to: &AnyPid, sig: Signal) -> Result<(), (Signal, ExitReason)> {
        if let Some(beam) = self.beam_for(to) {
            return beam.signal(to, sig);
        }
        let Some(conn) = self.net.conn_for(to) else {
            return Err((sig, ExitReason::NoConnection));
        };
        let t = target(to);
        let control = {
            // Recorded under the ties lock and only while the connection is open: a connection
            // lost afterwards resolves it; one already lost refuses it (and the signal bounces).
            let mut ties = lock(&conn.ties);
            if conn.is_closed() {
                return Err((sig, ExitReason::NoConnection));
            }
            match sig {
                Signal::Link(from) => {
                    ties.links.insert((from.clone(), to.clone()));
                    Control::Link { from, to: t }
                }
                Signal::Unlink(from) => {
                    ties.links.remove(&(from.clone(), to.clone()));
                    Control::Unlink { from, to: t }
                }
                Signal::Exit {
                    from,
                    reason,
                    linked,
                } => {
                    if linked {
                        ties.links.remove(&(from.clone(), to.clone()));
                    }
                    Control::Exit {
                        from,
                        to: t,
                        reason,
                        linked,
                    }
                }
                Signal::Stop(reason) => Control::Stop { to: t, reason },
                Signal::Kill => Control::Kill { to: t },
                Signal::Monitor(monitor_ref, watcher) => {
                    ties.watching
                        .insert(monitor_ref.as_raw(), (watcher, to.clone()));
                    Control::Monitor {
                        to: t,
                        monitor: monitor_ref.as_raw(),
                    }
                }
                Signal::Demonitor(monitor_ref) => {
                    ties.watching.remove(&monitor_ref.as_raw());
                    Control::Demonitor {
                        to: t,
                        monitor: monitor_ref.as_raw(),
                    }
                }
                // Neither crosses the wire: a Down for a remote watcher travels as the answer
                // to its Monitor, and process_info is local.
                sig @ (Signal::Down(_) | Signal::Info(_) | Signal::State(_)) => {
                    return Err((sig, ExitReason::NoProc));
                }
            }
        };
        self.net.send_control(&conn, &control);
        Ok(())
    }

    fn node_index(&self, node: &str) -> u32 {
        self.net.node_index(node)
    }

    fn shutdown(&self) {
        self.net.shutdown()
    }

    fn poll_ready(&self, to: &AnyPid, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        match self.net.conn_for(to) {
            Some(conn) => conn.poll_space(cx),
            // Unreachable: the send itself will say so.
            None => std::task::Poll::Ready(()),
        }
    }
}
