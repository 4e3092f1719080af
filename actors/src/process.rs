//! Spawning a process and the loop that runs it.

use std::collections::VecDeque;
use std::future::Future;
use std::future::poll_fn;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures::FutureExt;
use futures::future::Either;

use crate::actor::Actor;
use crate::cell::Cell;
use crate::ctx::{Ctx, HookCall};
use crate::exit::{ExitReason, panic_message};
use crate::mailbox::Envelope;
use crate::node::NodeInner;
use crate::pid::{AnyPid, Pid, Route, RouteKind};
use crate::signal::Signal;

thread_local! {
    /// The cell of the process being polled on this thread (its address), so that a call
    /// from a process to itself fails at once instead of waiting out its timeout.
    static RUNNING: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    /// A pid the message being handled cast to over a connection that is now too far behind:
    /// the process waits for it before its next message.
    static BUSY: std::cell::RefCell<Option<AnyPid>> = const { std::cell::RefCell::new(None) };
    /// Whether `BUSY` holds anything: checked for every message, so kept to one load.
    static NOTED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Notes that a cast went to a connection that is too far behind.
pub(crate) fn note_busy(to: AnyPid) {
    BUSY.with(|b| *b.borrow_mut() = Some(to));
    NOTED.with(|n| n.set(true));
}

#[inline]
fn take_busy() -> Option<AnyPid> {
    if !NOTED.with(|n| n.replace(false)) {
        return None;
    }
    BUSY.with(|b| b.borrow_mut().take())
}

/// Waits until the connection to `to` has drained below its limit.
async fn wait_for_room(to: AnyPid) {
    if let Some(router) = to.view().binding().router().cloned() {
        poll_fn(|cx| router.poll_ready(&to, cx)).await;
    }
}

/// Messages handled before a busy process lets other tasks of its thread run.
const BUDGET: u32 = 1024;

/// Batch buffers larger than this (in messages) shrink when traffic is light.
const SHRINK_ABOVE: usize = 1024;

pub(crate) fn spawn<A: Actor>(node: &Arc<NodeInner>, actor: A, link: Option<AnyPid>) -> Pid<A> {
    let cell = Arc::new(Cell::<A>::new(node.clone(), node.next_id()));
    let pid = Pid::from_route(Route(RouteKind::Local(cell.clone())));
    if node.is_stopping() {
        // A node that is shutting down starts nothing; the pid is dead from the start.
        let _ = cell.mailbox.close(ExitReason::Shutdown);
        if let Some(parent) = link {
            crate::cell::bounce(Signal::Link(parent), &pid.any(), ExitReason::NoProc);
        }
        return pid;
    }
    node.procs.insert(cell.clone());
    if node.is_stopping() {
        // Shutdown began while we inserted: it may not have seen this process.
        let _ = cell.mailbox.push(Envelope::Signal(Box::new(Signal::Stop(
            ExitReason::Shutdown,
        ))));
    }
    let running_as = address(&cell);
    let mut ctx = Ctx::new(cell);
    if let Some(parent) = link {
        ctx.add_link(parent);
    }
    let running = Running {
        cell: running_as,
        future: run(Proc {
            actor,
            ctx,
            batch: VecDeque::new(),
            last_handler: "started",
        }),
    };
    crate::rt::spawn_in(node.domain, running);
    pid
}

/// The address that tells a process's cell apart while it runs.
pub(crate) fn address<T: ?Sized>(cell: &Arc<T>) -> usize {
    Arc::as_ptr(cell) as *const u8 as usize
}

/// True while the process of `cell` is the one being polled on this thread: its own code
/// is running, not a task it spawned.
pub(crate) fn is_running<T: ?Sized>(cell: &Arc<T>) -> bool {
    RUNNING.with(std::cell::Cell::get) == address(cell)
}

pin_project_lite::pin_project! {
    /// A process's future, marking the process as running on its thread while it is polled.
    struct Running<F> {
        cell: usize,
        #[pin]
        future: F,
    }
}

impl<F: Future> Future for Running<F> {
    type Output = F::Output;
    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<F::Output> {
        let this = self.project();
        let before = RUNNING.with(|r| r.replace(*this.cell));
        let out = this.future.poll(cx);
        RUNNING.with(|r| r.set(before));
        out
    }
}

/// What a running process owns.
struct Proc<A: Actor> {
    actor: A,
    ctx: Ctx<A>,
    /// The messages taken from the mailbox, handled one by one.
    batch: VecDeque<Envelope<A::Msg>>,
    /// The handler of the last message taken, for a crash report.
    last_handler: &'static str,
}

/// A process's life. Not an async fn: one moves its arguments into locals of its own, beside
/// the captured originals, so the `Proc` would take its room in the future twice.
#[allow(clippy::manual_async_fn)]
fn run<A: Actor>(mut p: Proc<A>) -> impl Future<Output = ()> + Send {
    async move {
        let outcome = AssertUnwindSafe(serve(&mut p)).catch_unwind().await;
        let reason = match outcome {
            Ok(reason) => reason,
            Err(payload) => ExitReason::Panic(panic_message(&*payload)),
        };
        crash_report(&p.ctx, &reason, p.last_handler);
        if reason != ExitReason::Killed {
            let stopped = AssertUnwindSafe(p.actor.stopped(&reason, &mut p.ctx))
                .catch_unwind()
                .await;
            if let Err(payload) = stopped {
                tracing::warn!(pid = %p.ctx.pid(), "stopped hook panicked: {}", panic_message(&*payload));
            }
        }
        let Proc {
            actor, ctx, batch, ..
        } = p;
        drop(actor);
        ctx.terminate(reason, batch);
    }
}

/// The future of the hook a signal calls for. Not an async fn: the signal's value moves into
/// the hook at once, instead of being kept in every process's future across the await.
fn hook_future<'a, A: Actor>(
    actor: &'a mut A,
    ctx: &'a mut Ctx<A>,
    hook: HookCall,
) -> impl Future<Output = ()> + Send + 'a {
    match hook {
        HookCall::Exit(exit) => Either::Left(actor.on_exit(exit, ctx)),
        HookCall::Down(down) => Either::Right(actor.on_down(down, ctx)),
    }
}

/// One `error` event for a process that ended of itself and not cleanly (a panic, an error
/// it stopped with), as OTP's crash report: which process, its name, why, and the handler
/// of the last message it took. Exits it was sent (`killed`, a linked process's reason) and
/// clean ends are not crashes of its own.
fn crash_report<A: Actor>(ctx: &Ctx<A>, reason: &ExitReason, handler: &'static str) {
    if !matches!(reason, ExitReason::Panic(_) | ExitReason::Error(_)) {
        return;
    }
    let cell = &ctx.cell;
    let name = cell
        .node
        .names
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .name_of(cell.id);
    tracing::error!(
        pid = %ctx.pid(),
        name = name.as_deref().unwrap_or(""),
        actor = A::IDENTITY.name,
        handler,
        %reason,
        "process crashed"
    );
}

/// Handles messages and signals until the process is told to end.
async fn serve<A: Actor>(p: &mut Proc<A>) -> ExitReason {
    let Proc {
        actor,
        ctx,
        batch,
        last_handler,
    } = p;
    let cell = ctx.cell.clone();
    actor.started(ctx).await;
    if cell.mailbox.is_killed() {
        return ExitReason::Killed;
    }
    let mut budget = BUDGET;
    let mut was_busy = false;
    loop {
        if let Some(reason) = ctx.take_stop() {
            return reason;
        }
        if was_busy && cell.mailbox.is_empty() {
            // A sender on another thread is likely still sending: going round the executor
            // once is far cheaper than parking and being woken, which costs the sender a
            // system call.
            crate::rt::yield_now().await;
        }
        poll_fn(|cx| cell.mailbox.poll_batch(cx, batch)).await;
        let taken = batch.len();
        while let Some(env) = batch.pop_front() {
            if cell.mailbox.is_killed() {
                batch.push_front(env);
                return ExitReason::Killed;
            }
            match env {
                Envelope::Msg(msg) => {
                    // Only this message's casts count: a note left on this thread by other
                    // code is not ours.
                    take_busy();
                    *last_handler = A::handler_name(&msg);
                    actor.handle(msg, ctx).await;
                    // Boxed: a wait that is rare would otherwise widen every process's
                    // future by its size.
                    let wait = take_busy().map(|to| Box::pin(wait_for_room(to)));
                    if let Some(wait) = wait {
                        wait.await;
                    }
                }
                Envelope::Signal(sig) => {
                    // The hook's call moves into its future before the await, so the
                    // process's future does not keep room for it beside the future.
                    let hook = ctx
                        .handle_signal(*sig)
                        .map(|hook| hook_future(actor, ctx, hook));
                    if let Some(hook) = hook {
                        hook.await
                    }
                }
            }
            if let Some(reason) = ctx.take_stop() {
                return reason;
            }
            budget -= 1;
            if budget == 0 {
                budget = BUDGET;
                crate::rt::yield_now().await;
            }
        }
        was_busy = taken > 0;
        // A burst leaves a large buffer behind: give it back once traffic is light again.
        if batch.capacity() > SHRINK_ABOVE && taken < batch.capacity() / 4 {
            batch.shrink_to(taken.max(SHRINK_ABOVE / 4));
        }
        if cell.mailbox.is_killed() {
            return ExitReason::Killed;
        }
    }
}
