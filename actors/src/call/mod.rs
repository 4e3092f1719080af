//! Calls (send a request, await the reply with a timeout) and casts (send and go on).

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::error::{CallError, SendError};
use crate::exit::ExitReason;
use crate::kernel::actor::Actor;
use crate::kernel::cell::Envelope;
use crate::kernel::cell::{AnyCell, Cell, Target, resolve_remote};
use crate::kernel::node::NodeInner;
use crate::kernel::pid::{Route, RouteKind};
use crate::monitor::MonitorHandle;

mod half;
mod remote;
mod reply;
mod spare;
mod timing;

pub use half::ReplyHalf;
pub(crate) use half::ReplySlot;
pub(crate) use remote::{pending, reply_to};
pub use reply::{Reply, defer};
#[cfg(feature = "metrics")]
pub use timing::{time_calls, timing_calls};

/// How long a call waits for its reply unless told otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// A call that has not been sent yet: await it (`pid.add(1).await`) to send it and get the
/// reply. [`Call::timeout`] changes how long it waits (default 5 s).
#[must_use = "a call is sent only when awaited"]
pub struct Call<A: Actor, R> {
    target: Route<A>,
    msg: A::Msg,
    slot: Arc<ReplySlot<R>>,
    timeout: Duration,
}

impl<A: Actor, R: Send + 'static> Call<A, R> {
    /// Builds a call to `target`: `make` puts the reply half into the message.
    pub fn new(target: &Route<A>, make: impl FnOnce(ReplyHalf<R>) -> A::Msg) -> Self {
        let slot = spare::take(&node_of(target).deadlines);
        let msg = make(ReplyHalf::new(slot.clone()));
        Call {
            target: target.clone(),
            msg,
            slot,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Waits at most `timeout` for the reply, then fails with [`CallError::Timeout`].
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

impl<A: Actor, R: Send + 'static> IntoFuture for Call<A, R> {
    type Output = Result<R, CallError>;
    type IntoFuture = CallFuture<A, R>;

    fn into_future(self) -> CallFuture<A, R> {
        CallFuture {
            state: State::Unsent(Some(self)),
            timer: timing::Timer::default(),
        }
    }
}

/// The future of an awaited [`Call`].
#[must_use = "futures do nothing unless polled"]
pub struct CallFuture<A: Actor, R> {
    state: State<A, R>,
    timer: timing::Timer,
}

enum State<A: Actor, R> {
    Unsent(Option<Call<A, R>>),
    Waiting {
        target: Route<A>,
        slot: Arc<ReplySlot<R>>,
    },
    /// The callee ended before replying; waiting to learn why.
    Exiting(MonitorHandle),
    Done,
}

// No field is structurally pinned: every state is moved out or polled through an `Arc`.
impl<A: Actor, R> Unpin for CallFuture<A, R> {}

impl<A: Actor, R: Send + 'static> Future for CallFuture<A, R> {
    type Output = Result<R, CallError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            match &mut self.state {
                State::Unsent(call) => {
                    if let Some(call) = call.as_ref() {
                        std::task::ready!(poll_ready(&call.target, cx));
                    }
                    let call = call.take().expect("an unsent call holds its message");
                    match send_call(call) {
                        Ok((target, slot)) => {
                            self.timer.start();
                            self.state = State::Waiting { target, slot }
                        }
                        Err(e) => {
                            self.state = State::Done;
                            return Poll::Ready(Err(e));
                        }
                    }
                }
                State::Waiting { target, slot } => match slot.poll_recycle(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Some((result, reuse))) => {
                        if let State::Waiting { target, slot } =
                            std::mem::replace(&mut self.state, State::Done)
                        {
                            let node = node_of(&target);
                            self.timer.stop(node);
                            if reuse {
                                spare::give(&node.deadlines, slot);
                            }
                        }
                        return Poll::Ready(result);
                    }
                    Poll::Ready(None) => match callee_exit(target) {
                        Ok(reason) => {
                            self.state = State::Done;
                            return Poll::Ready(Err(CallError::exited(reason)));
                        }
                        Err(handle) => self.state = State::Exiting(handle),
                    },
                },
                State::Exiting(handle) => {
                    let down = std::task::ready!(Pin::new(&mut *handle).poll(cx));
                    // The callee may have ended between our look and the monitor, which then
                    // says only `NoProc`: its cell still knows the real reason.
                    let reason = match (&down.reason, local_exit(handle.pid())) {
                        (ExitReason::NoProc, Some(known)) => known,
                        _ => down.reason,
                    };
                    self.state = State::Done;
                    return Poll::Ready(Err(CallError::exited(reason)));
                }
                State::Done => panic!("CallFuture polled after completion"),
            }
        }
    }
}

/// Waits while the connection a remote call would go on is too far behind.
fn poll_ready<A: Actor>(target: &Route<A>, cx: &mut Context<'_>) -> Poll<()> {
    match &target.0 {
        RouteKind::Remote(addr) if addr.home != addr.via.id => match addr.via.router() {
            Some(router) => router.poll_ready(&target.any(), cx),
            None => Poll::Ready(()),
        },
        _ => Poll::Ready(()),
    }
}

type Sent<A, R> = (Route<A>, Arc<ReplySlot<R>>);

fn send_call<A: Actor, R: Send + 'static>(call: Call<A, R>) -> Result<Sent<A, R>, CallError> {
    let Call {
        target,
        msg,
        slot,
        timeout,
    } = call;
    match &target.0 {
        RouteKind::Local(cell) => {
            if crate::process::is_running(cell) {
                return Err(CallError::CallingSelf);
            }
            push(cell, msg)?;
        }
        RouteKind::Remote(addr) => match resolve_remote(addr) {
            Target::Found(cell) if crate::process::is_running(&cell) => {
                return Err(CallError::CallingSelf);
            }
            Target::Found(cell) => push(&*typed::<A>(cell)?, msg)?,
            Target::Remote(_) => remote::send_call(&target, msg)?,
            Target::Gone(reason) => return Err(CallError::exited(reason)),
            Target::Local(_) => unreachable!("a remote address resolves to a found cell"),
        },
    }
    let deadlines = &node_of(&target).deadlines;
    slot.set_deadline(deadlines.deadline(timeout));
    deadlines.watch();
    Ok((target, slot))
}

fn push<A: Actor>(cell: &Cell<A>, msg: A::Msg) -> Result<(), CallError> {
    cell.mailbox
        .push(Envelope::Msg(msg))
        .map_err(|_| CallError::NoProc)
}

fn typed<A: Actor>(cell: Arc<dyn AnyCell>) -> Result<Arc<Cell<A>>, CallError> {
    let found = cell.identity().name;
    cell.into_any().downcast::<Cell<A>>().map_err(|_| {
        CallError::TypeMismatch(format!("{found} where {} was expected", A::identity().name))
    })
}

/// The node whose deadline sweeper watches calls to `target`.
fn node_of<A: Actor>(target: &Route<A>) -> &Arc<NodeInner> {
    match &target.0 {
        RouteKind::Local(cell) => &cell.node,
        RouteKind::Remote(addr) => &addr.via,
    }
}

/// Why the callee ended: known now, or a handle that will tell.
fn callee_exit<A: Actor>(target: &Route<A>) -> Result<ExitReason, MonitorHandle> {
    match &target.0 {
        RouteKind::Local(cell) => match cell.mailbox.exit_reason() {
            Some(reason) => Ok(reason),
            None => Err(MonitorHandle::new(&cell.node, target.any())),
        },
        // A remote reply half answers for itself; a closed one means the link is gone.
        RouteKind::Remote(_) => Ok(ExitReason::NoConnection),
    }
}

/// Why the local process `pid` ended, if it has.
pub(crate) fn local_exit(pid: &crate::kernel::pid::AnyPid) -> Option<ExitReason> {
    match &pid.0 {
        crate::kernel::pid::AnyRoute::Local(cell) => cell.exit_reason(),
        crate::kernel::pid::AnyRoute::Remote(_) => None,
    }
}

/// Sends a cast. A cast to a dead process is dropped silently, as an Erlang send is.
#[inline]
pub fn cast<A: Actor>(target: &Route<A>, msg: A::Msg) -> Result<(), SendError> {
    match &target.0 {
        RouteKind::Local(cell) => {
            let _ = cell.mailbox.push(Envelope::Msg(msg));
            Ok(())
        }
        RouteKind::Remote(addr) => match resolve_remote(addr) {
            Target::Found(cell) => {
                if let Ok(cell) = typed::<A>(cell) {
                    let _ = cell.mailbox.push(Envelope::Msg(msg));
                }
                Ok(())
            }
            Target::Remote(_) => remote::send_cast(target, msg),
            Target::Gone(_) => Ok(()),
            Target::Local(_) => unreachable!("a remote address resolves to a found cell"),
        },
    }
}
