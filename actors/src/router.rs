//! The seam through which a distribution layer carries traffic for pids of other nodes.

use crate::error::CallError;
use crate::exit::ExitReason;
use crate::pid::AnyPid;
use crate::signal::Signal;
use crate::wire::Outbound;

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
