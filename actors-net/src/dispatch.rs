//! The routing layer, inbound: messages delivered to local processes, replies to calls, and
//! control frames handed to `control`. It is what the connection layer's tasks report to.

use std::sync::Arc;

use actors::CallError;
use actors::dist::{Inbound, Origin, Responder};

use crate::config::Config;
use crate::connection::{Conn, lock};
use crate::frame::{self, Control, Frame};
use crate::io::{Owner, PartialBudget};
use crate::net::Loss;
use crate::requests::Routing;

impl Owner for Routing {
    fn node_name(&self) -> &str {
        self.net.id.name()
    }
    fn config(&self) -> &Config {
        &self.net.config
    }
    fn budget(&self) -> &PartialBudget {
        &self.net.partial
    }
    fn frame(
        &self,
        conn: &Arc<Conn>,
        origin: &Origin,
        frame: Frame<'_>,
        inbound: &mut Option<Inbound>,
    ) -> Result<(), String> {
        let inbound = match inbound {
            Some(inbound) => inbound,
            None => {
                let node = self.net.node.upgrade().ok_or("node gone")?;
                inbound.insert(Inbound::new(node, origin.clone()))
            }
        };
        self.dispatch(conn, inbound, frame)
    }
    fn failed(&self, conn: &Arc<Conn>, reason: &str) {
        self.net.close(conn, reason, Loss::Severed)
    }
}

impl Routing {
    /// Acts on one frame from `conn`; an error closes the connection.
    fn dispatch(
        &self,
        conn: &Arc<Conn>,
        inbound: &mut Inbound,
        frame: Frame<'_>,
    ) -> Result<(), String> {
        let net = &self.net;
        if !matches!(frame, Frame::Cast { .. }) {
            // Whatever else the peer sent (a reply, a signal, a call) comes after the casts
            // it sent before it: those held are queued first.
            inbound.flush();
        }
        match frame {
            Frame::Tick => {}
            Frame::Cast {
                to,
                identity,
                payload,
            } => {
                if to.creation == net.id.creation()
                    && let Err(e) = inbound.cast(to.id, identity, payload)
                    && e != CallError::NoProc
                {
                    tracing::warn!(peer = %conn.name, "cast to process {} dropped: {e}", to.id);
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
                    max_frame: net.config.max_frame,
                });
                if to.creation == net.id.creation() {
                    // Failures are answered to the caller by `call` itself.
                    let _ = inbound.call(to.id, identity, payload, responder);
                } else {
                    responder.fail(CallError::NoProc);
                }
            }
            Frame::Reply { call_ref, payload } => {
                let call = lock(&conn.pending).remove(&call_ref);
                if let Some(call) = call {
                    call.complete(inbound.node(), Ok(payload));
                }
            }
            Frame::Control(cbor) => {
                let node = inbound.node();
                let control: Control = actors::dist::decode(node, cbor)
                    .map_err(|e| format!("malformed control frame: {e}"))?;
                self.control(node, conn, control);
            }
        }
        Ok(())
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
        if actors::dist::encode(&reply, &mut payload).is_ok() {
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
