//! The seam through which a distribution layer carries traffic for pids of other nodes: the
//! router it installs, what a message bound for another node is, and the two ends of a call
//! that crosses: where its reply goes, and who answers it.

use std::sync::Arc;

use crate::cbor::encode_reply;
use crate::error::{CallError, WireError};
use crate::exit::ExitReason;
use crate::kernel::cell::AnyCell;
use crate::kernel::node::Node;
use crate::kernel::pid::AnyPid;
use crate::kernel::signal::Signal;

/// How a connection stands after a send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backlog {
    /// Keeping up.
    Clear,
    /// Past its limit: the sender should wait for it to drain.
    Busy,
}

/// Carries messages and signals to processes on other nodes. `actors-net` installs one per
/// node with [`crate::dist::install_router`]; a node without one reaches only its own processes.
pub trait Router: Send + Sync + 'static {
    /// Sends an encoded message to `to`, a pid of another node; says whether the connection
    /// now has more queued than it should (a process that sent it then waits before its next
    /// message, as Erlang suspends a process on a busy distribution port).
    ///
    /// Errors only when the message cannot be sent at all (no connection); a message to a dead
    /// process is dropped on the far side, as in Erlang.
    fn send(&self, to: &AnyPid, msg: Outbound<'_>) -> Result<Backlog, CallError>;

    /// Sends a signal to `to`, a pid of another node; hands it back with the reason when the
    /// node cannot be reached, so that it bounces (a monitor gets `Down(NoConnection)`).
    fn signal(&self, to: &AnyPid, sig: Signal) -> Result<(), (Signal, ExitReason)>;

    /// The small number that stands for `node` when a pid is printed (`#PID<3.94.0>`).
    fn node_index(&self, node: &str) -> u32;

    /// The node has shut down its processes: close every connection.
    fn shutdown(&self) {}

    /// Ready when a call to `to` may be sent: pending while the connection to its node has
    /// too much queued (Erlang's busy distribution port), so that callers wait instead of
    /// growing the queue.
    fn poll_ready(&self, _to: &AnyPid, _cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        std::task::Poll::Ready(())
    }
}

/// A call that came over the wire, given to the decoder of its message: who answers it, and
/// the process it is for (whose exit reason answers it if it ends first).
pub struct IncomingCall {
    pub(crate) responder: Box<dyn Responder>,
    pub(crate) target: Arc<dyn AnyCell>,
}

/// Where a call's reply goes, as its encoder returns it.
pub type Pending = Box<dyn PendingCall>;

/// Appends an encoded message to a buffer; for a call, returns where its reply goes.
pub type Encode<'a> =
    dyn FnMut(&mut Vec<u8>) -> Result<Option<Box<dyn PendingCall>>, WireError> + 'a;

/// A message bound for a process of another node. The router encodes it straight into the
/// connection's buffer with `encode`, which returns, for a call, where the reply goes.
pub struct Outbound<'a> {
    /// The wire identity hash of the target's actor type.
    pub identity: u64,
    /// True for a call (a reply is expected), false for a cast.
    pub is_call: bool,
    /// Appends the CBOR-encoded message; for a call, returns its pending reply.
    pub encode: &'a mut Encode<'a>,
}

/// The caller's side of a call in flight to another node.
pub trait PendingCall: Send {
    /// Completes the call with the reply frame's payload (CBOR of `Result<R, CallError>`),
    /// or with an error such as `NoConnection`.
    fn complete(self: Box<Self>, node: &Node, reply: Result<&[u8], CallError>);
    /// True once the caller stopped waiting (timed out or dropped the call).
    fn abandoned(&self) -> bool;
}

/// The callee's side of a call from another node: sends the encoded reply back.
pub trait Responder: Send {
    /// Sends the reply payload: CBOR of `Result<R, CallError>`.
    fn respond(self: Box<Self>, payload: Vec<u8>);
}

/// Answers a call's `responder`, if it is one, with `err`; and returns it.
pub(crate) fn fail(responder: Option<Box<dyn Responder>>, err: CallError) -> Result<(), CallError> {
    if let Some(r) = responder {
        r.respond(encode_reply::<()>(Err(err.clone())));
    }
    Err(err)
}
