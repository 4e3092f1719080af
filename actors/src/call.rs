//! Calls (send a request, await the reply with a timeout) and casts (send and go on).

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::actor::Actor;
use crate::cell::{AnyCell, Cell, Target, resolve_remote};
use crate::error::{CallError, SendError};
use crate::exit::ExitReason;
use crate::lock::Unpoisoned;
use crate::mailbox::Envelope;
use crate::monitor::MonitorHandle;
use crate::node::NodeInner;
use crate::pid::{Route, RouteKind};
use crate::sync::slot::Slot;

/// How long a call waits for its reply unless told otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

pub(crate) type ReplySlot<R> = Slot<Result<R, CallError>>;

impl<R: Send + 'static> crate::sync::deadline::Expire for ReplySlot<R> {
    fn expire_due(&self, now: u64) -> bool {
        self.fill_if_due(now, || Err(CallError::Timeout))
    }
}

/// The reply half of a call inside its message, handed to the handler's dispatch: the
/// handler's return value goes back through it. Dropped without a value (the process ended
/// first), the caller learns why.
///
/// One pointer wide, so that call messages stay small in the mailbox. Encoding a call for the
/// wire takes the slot out of it (through `&self`, as serde encodes), hence the `Cell`.
pub struct ReplyHalf<R>(pub(crate) std::cell::Cell<Option<Arc<ReplySlot<R>>>>);

impl<R> ReplyHalf<R> {
    pub(crate) fn new(slot: Arc<ReplySlot<R>>) -> Self {
        ReplyHalf(std::cell::Cell::new(Some(slot)))
    }

    /// Sends the reply to the caller.
    pub fn send(self, value: R) {
        if let Some(slot) = self.0.take() {
            slot.fill(Ok(value));
        }
    }
}

impl<R> Drop for ReplyHalf<R> {
    fn drop(&mut self) {
        if let Some(slot) = self.0.take() {
            slot.close();
        }
    }
}

/// The reply a caller awaits, taken by a handler that answers later: a handler with a
/// `Reply<T>` argument (and no return value) is a call returning `T` to its caller, answered
/// when [`Reply::send`] is called, from this process or from any task or process it hands
/// the `Reply` to (a cast handler may take one as an argument), on this node or another: a
/// `Reply` sent to another node is lent, and its answer comes back through this node. Its
/// mailbox goes on meanwhile, as OTP's `{noreply, State}` and `gen_server:reply/2`. A `Reply` dropped unanswered fails its caller with
/// [`CallError::NoReply`] at once; the caller's timeout holds as for any call.
///
/// ```
/// use actors::prelude::*;
///
/// #[actor]
/// struct Router { shard: Pid<Shard> }
///
/// #[actor]
/// impl Router {
///     /// Asks the shard without holding the router's mailbox.
///     #[handle]
///     fn get(&self, key: u32, reply: Reply<Option<u32>>) {
///         let shard = self.shard.clone();
///         actors::rt::spawn(async move { reply.send(shard.get(key).await.ok().flatten()) });
///     }
/// }
///
/// #[actor]
/// struct Shard;
///
/// #[actor]
/// impl Shard {
///     #[handle]
///     fn get(&self, key: u32) -> Option<u32> { Some(key * 2) }
/// }
///
/// actors::rt::block_on(async {
///     let node = Node::local();
///     let shard = node.spawn(Shard);
///     let router = node.spawn(Router { shard });
///     assert_eq!(router.get(21).await, Ok(Some(42)));
/// });
/// ```
#[must_use = "a Reply dropped unanswered fails its caller with NoReply"]
pub struct Reply<R> {
    /// Taken when answered, or when the `Reply` is encoded to cross the wire (through
    /// `&self`, as serde encodes), hence the lock.
    to: std::sync::Mutex<Option<To<R>>>,
}

/// Where an answer goes.
pub(crate) enum To<R> {
    /// The call's own slot, on the node that took the call.
    Here {
        slot: Arc<ReplySlot<R>>,
        /// That node: a `Reply` handed to another node is lent from it.
        node: Option<crate::Node>,
    },
    /// A `Reply` lent by another node: the answer goes back to it, encoded.
    There(crate::lend::Lender<R>),
}

impl<R> Reply<R> {
    pub(crate) fn new(to: To<R>) -> Self {
        Reply {
            to: std::sync::Mutex::new(Some(to)),
        }
    }

    pub(crate) fn take(&self) -> Option<To<R>> {
        self.to.lock().unpoisoned().take()
    }

    fn answer(&self, result: Result<R, CallError>) {
        match self.take() {
            Some(To::Here { slot, .. }) => {
                slot.fill(result);
            }
            Some(To::There(lender)) => lender.answer(Some(result)),
            None => {}
        }
    }

    /// Answers the caller (on this node or another). Once the caller has given up (its
    /// timeout passed), the value is dropped.
    pub fn send(self, value: R) {
        self.answer(Ok(value));
    }

    /// Fails the call with `error` instead of answering it.
    pub fn fail(self, error: CallError) {
        self.answer(Err(error));
    }

    /// True once the call is over: answered, failed, or given up by its caller (timeout).
    /// A `Reply` lent by another node cannot tell, and says `false` until answered here.
    pub fn is_done(&self) -> bool {
        match &*self.to.lock().unpoisoned() {
            Some(To::Here { slot, .. }) => slot.is_settled(),
            Some(To::There(_)) => false,
            None => true,
        }
    }
}

impl<R> std::fmt::Debug for Reply<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Reply({})",
            if self.is_done() { "done" } else { "awaited" }
        )
    }
}

impl<R> Drop for Reply<R> {
    fn drop(&mut self) {
        match self.take() {
            Some(To::Here { slot, .. }) => {
                slot.fill(Err(CallError::NoReply));
            }
            Some(To::There(lender)) => lender.answer(None),
            None => {}
        }
    }
}

/// The handler-facing `Reply` of a call's reply half (generated dispatch of a handler that
/// takes its `Reply`), on the node that took the call.
#[doc(hidden)]
pub fn defer<R>(half: ReplyHalf<R>, node: crate::Node) -> Reply<R> {
    match half.0.take() {
        Some(slot) => Reply::new(To::Here {
            slot,
            node: Some(node),
        }),
        None => Reply {
            to: std::sync::Mutex::new(None),
        },
    }
}

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
        let slot = crate::spare::take(&node_of(target).deadlines);
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
        }
    }
}

/// The future of an awaited [`Call`].
#[must_use = "futures do nothing unless polled"]
pub struct CallFuture<A: Actor, R> {
    state: State<A, R>,
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
                        Ok((target, slot)) => self.state = State::Waiting { target, slot },
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
                            && reuse
                        {
                            crate::spare::give(&node_of(&target).deadlines, slot);
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
            Target::Remote(_) => crate::remote::send_call(&target, msg)?,
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
pub(crate) fn local_exit(pid: &crate::AnyPid) -> Option<ExitReason> {
    match &pid.0 {
        crate::pid::AnyRoute::Local(cell) => cell.exit_reason(),
        crate::pid::AnyRoute::Remote(_) => None,
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
            Target::Remote(_) => crate::remote::send_cast(target, msg),
            Target::Gone(_) => Ok(()),
            Target::Local(_) => unreachable!("a remote address resolves to a found cell"),
        },
    }
}
