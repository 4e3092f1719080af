//! Kill ends a process even while it waits inside an async handler or hook.
//!
//! Generated dispatch runs each *async* handler and hook through [`KillSwitch::run`], which
//! gives up at the handler's next await once the process is killed, as an Erlang kill does not
//! wait for the process to finish what it is doing. Synchronous handlers run to completion in
//! one poll, so they need no switch, and the message loop checks for a kill between messages.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::kernel::actor::Actor;
use crate::kernel::cell::Cell;
use crate::kernel::ctx::Ctx;

/// Watches for a kill of the process it was taken from.
pub struct KillSwitch<A: Actor>(Arc<Cell<A>>);

impl<A: Actor> KillSwitch<A> {
    /// The switch of the process `ctx` belongs to.
    pub fn of(ctx: &Ctx<A>) -> Self {
        KillSwitch(ctx.cell.clone())
    }

    /// Runs `fut`; `None` if the process was killed first.
    pub fn run<F: Future>(self, fut: F) -> Killable<A, F> {
        Killable { switch: self, fut }
    }
}

pin_project_lite::pin_project! {
    /// A handler's future that gives up when its process is killed.
    pub struct Killable<A: Actor, F> {
        switch: KillSwitch<A>,
        #[pin]
        fut: F,
    }
}

impl<A: Actor, F: Future> Future for Killable<A, F> {
    type Output = Option<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mailbox = &this.switch.0.mailbox;
        if mailbox.is_killed() {
            return Poll::Ready(None);
        }
        match this.fut.poll(cx) {
            Poll::Ready(out) => Poll::Ready(Some(out)),
            Poll::Pending => {
                mailbox.wake_on_kill(cx);
                // A kill between the check above and registering the waker must not be missed.
                if mailbox.is_killed() {
                    Poll::Ready(None)
                } else {
                    Poll::Pending
                }
            }
        }
    }
}
