//! The router `actors-net` installs in its node: messages and signals for pids of other nodes
//! become frames on the connection to that node.

use std::sync::Arc;

use actors::dist::{Outbound, Router, Signal};
use actors::{AnyPid, CallError, ExitReason};

use crate::connection::{QueueError, lock};
use crate::frame::{self, Control, Target};
use crate::net::{Net, queue};

pub(crate) struct NetRouter {
    pub(crate) net: Arc<Net>,
}

fn target(pid: &AnyPid) -> Target {
    Target {
        creation: pid.creation(),
        id: pid.id(),
    }
}

impl Router for NetRouter {
    fn send(&self, to: &AnyPid, msg: Outbound) -> Result<(), CallError> {
        let to_target = target(to);
        let Some(pending) = msg.call else {
            return queue(&self.net, to.node(), |_, out| {
                frame::cast(out, to_target, msg.identity, &msg.payload)
            })
            .map(drop);
        };
        let conn = self.net.conn(to.node()).ok_or(CallError::NoConnection)?;
        let call_ref = conn.next_call_ref();
        // Registered before the frame goes out, so that even the fastest reply finds it.
        lock(&conn.pending).insert(call_ref, pending);
        let queued =
            conn.enqueue(|out| frame::call(out, to_target, msg.identity, call_ref, &msg.payload));
        match queued {
            Ok(()) => Ok(()),
            Err(e) => {
                lock(&conn.pending).remove(&call_ref);
                Err(match e {
                    QueueError::Closed => CallError::NoConnection,
                    QueueError::Overloaded => CallError::Overloaded,
                })
            }
        }
    }

    fn signal(&self, to: &AnyPid, sig: Signal) -> Result<(), (Signal, ExitReason)> {
        let Some(conn) = self.net.conn(to.node()) else {
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
                sig @ (Signal::Down(_) | Signal::Info(_)) => return Err((sig, ExitReason::NoProc)),
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
        match self.net.conn(to.node()) {
            Some(conn) => conn.poll_space(cx),
            // Unreachable: the send itself will say so.
            None => std::task::Poll::Ready(()),
        }
    }
}
