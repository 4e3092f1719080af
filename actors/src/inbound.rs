//! Messages that came over the wire, delivered to local processes.

use std::sync::Arc;

use crate::cell::AnyCell;
use crate::error::{CallError, WireError};
use crate::node::Node;
use crate::origin::Origin;
use crate::wire::{Context, IncomingCall, Responder, fail, with_lent_context};

/// Delivers messages from one peer, as a connection's reader reads them: it sets up the
/// decoding context once, and remembers the process it last delivered a cast to, so a
/// stream of casts to one process looks it up once. Hold one for a batch of frames, not for
/// the life of a connection: it keeps the node, and the last process's cell, alive.
///
/// A call (a `responder` given) always gets an answer: the handler's reply, or an error
/// reply when the process is gone, of another type, or the payload does not decode.
pub struct Inbound {
    node: Node,
    ctx: Option<Context>,
    last: Option<Arc<dyn AnyCell>>,
}

impl Inbound {
    /// Delivery of messages that arrived from `origin`.
    pub fn new(node: Node, origin: Origin) -> Self {
        let mut ctx = Context::new(node.inner.clone());
        ctx.origin = origin;
        Inbound {
            node,
            ctx: Some(ctx),
            last: None,
        }
    }

    /// The node delivered to.
    pub fn node(&self) -> &Node {
        &self.node
    }

    /// Decodes a cast to process `id` of this node and queues it.
    pub fn cast(&mut self, id: u64, identity: u64, payload: &[u8]) -> Result<(), CallError> {
        if self.last.as_ref().is_none_or(|cell| cell.id() != id) {
            self.last = Some(self.node.inner.procs.get(id).ok_or(CallError::NoProc)?);
        }
        let Some(cell) = &self.last else {
            unreachable!("set above")
        };
        deliver(&mut self.ctx, cell, identity, payload, None)
    }

    /// Decodes a call to process `id` of this node and queues it; its answer goes to
    /// `responder`. Always looked up afresh: a call to a process that has ended is answered
    /// with the reason.
    pub fn call(
        &mut self,
        id: u64,
        identity: u64,
        payload: &[u8],
        responder: Box<dyn Responder>,
    ) -> Result<(), CallError> {
        let Some(cell) = self.node.inner.procs.get(id) else {
            return fail(Some(responder), CallError::NoProc);
        };
        deliver(&mut self.ctx, &cell, identity, payload, Some(responder))
    }
}

fn deliver(
    ctx: &mut Option<Context>,
    cell: &Arc<dyn AnyCell>,
    identity: u64,
    payload: &[u8],
    responder: Option<Box<dyn Responder>>,
) -> Result<(), CallError> {
    if cell.identity().hash != identity {
        let err = CallError::TypeMismatch(format!(
            "process {} is a {}; the sender's actor type differs (another type, or another version of it)",
            cell.id(),
            cell.identity().name
        ));
        return fail(responder, err);
    }
    let mut call = responder.map(|responder| IncomingCall {
        responder,
        target: cell.clone(),
    });
    let result = with_lent_context(ctx, || cell.deliver_wire(payload, &mut call));
    match (result, call) {
        (Ok(()), None) => Ok(()),
        // The decoder takes a call's reply half into the message; one left over was a cast.
        (Ok(()), Some(call)) => fail(
            Some(call.responder),
            WireError::Decode("a call frame carried a cast".into()).into(),
        ),
        (Err(e), call) => fail(call.map(|c| c.responder), e.into()),
    }
}
