//! Messages that came over the wire, queued for local processes.

use std::sync::Arc;

use crate::error::CallError;
use crate::exit::ExitReason;
use crate::kernel::cell::AnyCell;
use crate::kernel::node::Node;
use crate::kernel::seam::{Responder, fail};
use crate::origin::Origin;

/// Queues messages from one peer for the processes they are for, as a connection's reader
/// reads them; each process decodes its own (see `cell::Wire`). A run of casts to one
/// process is held and queued at once, under one lock of its mailbox, when the run ends:
/// at a message for another process, at a call, at [`Inbound::flush`], or when dropped.
/// Hold one for a batch of frames, not for the life of a connection: it keeps the node,
/// and the last process's cell, alive.
///
/// Flush before acting on anything else from the same peer, so that what it sent stays in
/// the order it sent it. A call (a `responder` given) always gets an answer: the handler's
/// reply, or an error reply when the process is gone, of another type, or the payload does
/// not decode.
pub struct Inbound {
    node: Node,
    origin: Origin,
    /// The process of the run of casts held, and the run: their bytes and lengths.
    last: Option<Arc<dyn AnyCell>>,
    held: Vec<u8>,
    lens: Vec<usize>,
}

impl Inbound {
    /// Delivery of messages that arrived from `origin`.
    pub fn new(node: Node, origin: Origin) -> Self {
        Inbound {
            node,
            origin,
            last: None,
            held: Vec::new(),
            lens: Vec::new(),
        }
    }

    /// The node delivered to.
    pub fn node(&self) -> &Node {
        &self.node
    }

    /// A cast to process `id` of this node: held with the run of casts to it.
    pub fn cast(&mut self, id: u64, identity: u64, payload: &[u8]) -> Result<(), CallError> {
        if self.last.as_ref().is_none_or(|cell| cell.id() != id) {
            self.flush();
            self.last = Some(self.node.inner.procs.get(id).ok_or(CallError::NoProc)?);
        }
        let Some(cell) = &self.last else {
            unreachable!("set above")
        };
        check_identity(cell, identity)?;
        self.held.extend_from_slice(payload);
        self.lens.push(payload.len());
        Ok(())
    }

    /// Queues a call to process `id` of this node; its answer goes to `responder`. Always
    /// looked up afresh: a call to a process that has ended is answered with why.
    pub fn call(
        &mut self,
        id: u64,
        identity: u64,
        payload: &[u8],
        responder: Box<dyn Responder>,
    ) -> Result<(), CallError> {
        self.flush();
        let Some(cell) = self.node.inner.procs.get(id) else {
            return fail(Some(responder), CallError::NoProc);
        };
        if let Err(e) = check_identity(&cell, identity) {
            return fail(Some(responder), e);
        }
        queue(
            &cell,
            payload,
            &[payload.len()],
            &self.origin,
            Some(responder),
        )
    }

    /// Queues the run of casts held.
    pub fn flush(&mut self) {
        if let (Some(cell), false) = (&self.last, self.lens.is_empty()) {
            // A process that has ended drops them, as a send to a dead pid does.
            let _ = queue(cell, &self.held, &self.lens, &self.origin, None);
        }
        self.held.clear();
        self.lens.clear();
    }
}

impl Drop for Inbound {
    fn drop(&mut self) {
        self.flush();
    }
}

fn check_identity(cell: &Arc<dyn AnyCell>, identity: u64) -> Result<(), CallError> {
    if cell.identity().hash == identity {
        return Ok(());
    }
    Err(CallError::TypeMismatch(format!(
        "process {} is a {}, and the sender's actor type differs: another type, or another build of it (run the same version on both nodes)",
        cell.id(),
        cell.identity().name
    )))
}

fn queue(
    cell: &Arc<dyn AnyCell>,
    payloads: &[u8],
    lens: &[usize],
    origin: &Origin,
    responder: Option<Box<dyn Responder>>,
) -> Result<(), CallError> {
    match cell.deliver_wire(payloads, lens, origin, responder) {
        Ok(()) => Ok(()),
        Err(responder) => {
            let reason = cell.exit_reason().unwrap_or(ExitReason::NoProc);
            fail(responder, CallError::exited(reason))
        }
    }
}
