//! Spawning a process and the loop that runs it.

use std::collections::VecDeque;
use std::future::Future;
use std::future::poll_fn;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures::FutureExt;
use futures::future::Either;

use crate::decoding::DecodeContext;
use crate::decoding::with_lent_context;
use crate::error::WireError;
use crate::exit::{ExitReason, panic_message};
use crate::kernel::actor::Actor;
use crate::kernel::cell::Cell;
use crate::kernel::cell::{Envelope, Wire};
use crate::kernel::ctx::{Ctx, HookCall};
use crate::kernel::node::Node;
use crate::kernel::node::NodeInner;
use crate::kernel::pid::{AnyPid, Pid, Route, RouteKind};
use crate::kernel::seam::{IncomingCall, fail};
use crate::kernel::signal::Signal;
use crate::lock::Unpoisoned;

impl Node {
    /// Starts a process running `actor` and returns its pid.
    ///
    /// ```
    /// # use actors::prelude::*;
    /// # #[actor] struct Counter { n: u64 }
    /// # #[actor] impl Counter {
    /// #     #[handle] fn add(&mut self, by: u64) -> u64 { self.n += by; self.n }
    /// #     #[handle(cast)] fn reset(&mut self) { self.n = 0 }
    /// # }
    /// # actors::rt::block_on(async {
    /// let node = Node::local();
    /// let counter: Pid<Counter> = node.spawn(Counter { n: 0 });
    /// assert_eq!(counter.add(2).await, Ok(2));
    /// # });
    /// ```
    pub fn spawn<A: Actor>(&self, actor: A) -> Pid<A> {
        spawn(&self.inner, actor, None)
    }
}

impl<A: Actor> Ctx<A> {
    /// Starts another process on this node.
    pub fn spawn<B: Actor>(&self, actor: B) -> Pid<B> {
        spawn(&self.cell.node, actor, None)
    }

    /// Starts another process linked to this one; the link exists before the child runs.
    pub fn spawn_link<B: Actor>(&mut self, actor: B) -> Pid<B> {
        let child = spawn(&self.cell.node, actor, Some(self.me()));
        self.links_mut().push(child.any());
        child
    }
}

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

/// Wire byte buffers larger than this shrink when traffic is light.
const SHRINK_BYTES_ABOVE: usize = 4 * 1024;

pub(crate) fn spawn<A: Actor>(node: &Arc<NodeInner>, actor: A, link: Option<AnyPid>) -> Pid<A> {
    let cell = Arc::new(Cell::<A>::new(node.clone(), node.next_id()));
    let pid = Pid::from_route(Route(RouteKind::Local(cell.clone())));
    if node.is_stopping() {
        // A node that is shutting down starts nothing; the pid is dead from the start.
        let _ = cell.mailbox.close(ExitReason::Shutdown);
        if let Some(parent) = link {
            crate::kernel::cell::bounce(Signal::Link(parent), &pid.any(), ExitReason::NoProc);
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
        ctx.add_parent(parent);
    }
    let running = Running {
        cell: running_as,
        future: run(Proc {
            actor,
            ctx,
            batch: VecDeque::new(),
            wire: None,
            last_handler: "started",
        }),
    };
    crate::runtime::spawn_in(node.domain, running);
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
    /// What it decodes messages from other nodes with; made for the first.
    wire: Option<Box<WireIn>>,
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
                tracing::warn!(pid = %p.ctx.pid().logged(), "stopped hook panicked: {}", panic_message(&*payload));
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
        HookCall::Exit(exit) => Either::Left(Either::Left(actor.on_exit(exit, ctx))),
        HookCall::Down(down) => Either::Left(Either::Right(actor.on_down(down, ctx))),
        HookCall::State(request) => {
            (request.apply)(actor);
            if request.then_stop {
                ctx.stop(ExitReason::Shutdown);
            }
            Either::Right(std::future::ready(()))
        }
        HookCall::Info(mut info, request) => {
            info.state = actor.debug_state();
            (request.reply)(info);
            Either::Right(std::future::ready(()))
        }
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
    let name = cell.node.names.lock().unpoisoned().name_of(cell.id);
    tracing::error!(
        pid = %ctx.pid().logged(),
        name = name.as_deref().unwrap_or(""),
        actor = A::identity().name,
        handler,
        %reason,
        "process crashed"
    );
}

/// What a process decodes its messages from other nodes with (see `cell::Wire`).
struct WireIn {
    /// The bytes of the `Wire` messages of the batch at hand, in order.
    bytes: Vec<u8>,
    /// Where the next one starts.
    at: usize,
    /// This node, and the origin of the last one: lent to each decode.
    ctx: Option<DecodeContext>,
}

impl WireIn {
    /// The batch is done: its bytes are cleared, keeping their room for the next unless a
    /// burst left far more than this batch used.
    fn taken(&mut self) {
        let used = self.bytes.len();
        self.bytes.clear();
        if self.bytes.capacity() > SHRINK_BYTES_ABOVE && used < self.bytes.capacity() / 4 {
            self.bytes.shrink_to(used.max(SHRINK_BYTES_ABOVE / 4));
        }
        self.at = 0;
    }
}

/// Takes the mailbox's backlog into `batch`, and the bytes of its wire messages into `wire`.
fn poll_batch<A: Actor>(
    cell: &Arc<Cell<A>>,
    cx: &mut std::task::Context<'_>,
    batch: &mut VecDeque<Envelope<A::Msg>>,
    wire: &mut Option<Box<WireIn>>,
) -> std::task::Poll<()> {
    cell.mailbox.poll_batch(cx, batch, |bytes| {
        let w = wire.get_or_insert_with(|| {
            Box::new(WireIn {
                bytes: Vec::new(),
                at: 0,
                ctx: Some(DecodeContext::new(cell.node.clone())),
            })
        });
        std::mem::swap(&mut w.bytes, bytes);
    })
}

/// Decodes a message that came over the wire; a call that cannot be is answered with why,
/// a cast is dropped with a log line.
fn decode_wire<A: Actor>(
    cell: &Arc<Cell<A>>,
    wire: &mut Option<Box<WireIn>>,
    mut w: Wire,
) -> Option<A::Msg> {
    let mut call = w.take_call().map(|responder| IncomingCall {
        responder,
        target: cell.clone(),
    });
    let result = match wire {
        Some(wire) => {
            let start = wire.at;
            wire.at += w.len as usize;
            if let (Some(origin), Some(ctx)) = (w.take_origin(), &mut wire.ctx) {
                ctx.origin = origin;
            }
            match wire.bytes.get(start..start + w.len as usize) {
                Some(bytes) => with_lent_context(&mut wire.ctx, || A::decode_msg(bytes, &mut call)),
                None => Err(WireError::Decode("a message's bytes are missing".into())),
            }
        }
        None => Err(WireError::Decode("a message's bytes are missing".into())),
    };
    match (result, call) {
        (Ok(msg), None) => Some(msg),
        // The decoder takes a call's reply half into the message; one left over was a cast.
        (Ok(msg), Some(call)) => {
            let _ = fail(
                Some(call.responder),
                WireError::Decode("a call frame carried a cast".into()).into(),
            );
            Some(msg)
        }
        (Err(e), Some(call)) => {
            let _ = fail(Some(call.responder), e.into());
            None
        }
        (Err(e), None) => {
            let pid = crate::kernel::pid::Pid::<A>::from_route(crate::kernel::pid::Route(
                crate::kernel::pid::RouteKind::Local(cell.clone()),
            ));
            tracing::warn!(pid = %pid.logged(), actor = A::identity().name, "a cast from another node dropped: {e}");
            None
        }
    }
}

/// Handles messages and signals until the process is told to end. Reaches the process's
/// parts through `p` rather than a reference to each, which its future would keep apiece.
async fn serve<A: Actor>(p: &mut Proc<A>) -> ExitReason {
    p.actor.started(&mut p.ctx).await;
    if p.ctx.cell.mailbox.is_killed() {
        return ExitReason::Killed;
    }
    let mut budget = BUDGET;
    let mut was_busy = false;
    loop {
        if let Some(reason) = p.ctx.take_stop() {
            return reason;
        }
        if was_busy && p.ctx.cell.mailbox.is_empty() {
            // A sender on another thread is likely still sending: going round the executor
            // once is far cheaper than parking and being woken, which costs the sender a
            // system call.
            crate::runtime::yield_now().await;
        }
        poll_fn(|cx| poll_batch(&p.ctx.cell, cx, &mut p.batch, &mut p.wire)).await;
        let taken = p.batch.len();
        while let Some(env) = p.batch.pop_front() {
            p.ctx.cell.mailbox.set_in_hand(p.batch.len());
            if p.ctx.cell.mailbox.is_killed() {
                p.batch.push_front(env);
                return ExitReason::Killed;
            }
            let msg = match env {
                Envelope::Msg(msg) => Some(msg),
                Envelope::Wire(w) => decode_wire(&p.ctx.cell, &mut p.wire, w),
                Envelope::Signal(sig) => {
                    // The hook's call moves into its future before the await, so the
                    // process's future does not keep room for it beside the future.
                    let hook = p
                        .ctx
                        .handle_signal(*sig)
                        .map(|hook| hook_future(&mut p.actor, &mut p.ctx, hook));
                    if let Some(hook) = hook {
                        hook.await
                    }
                    None
                }
            };
            if let Some(msg) = msg {
                // Only this message's casts count: a note left on this thread by other
                // code is not ours.
                take_busy();
                p.last_handler = A::handler_name(&msg);
                // Counted as taken, before the handler runs: a caller that has its reply
                // finds its message counted.
                p.ctx.cell.count_handled();
                p.actor.handle(msg, &mut p.ctx).await;
                // Boxed: a wait that is rare would otherwise widen every process's future
                // by its size.
                let wait = take_busy().map(|to| Box::pin(wait_for_room(to)));
                if let Some(wait) = wait {
                    wait.await;
                }
            }
            if let Some(reason) = p.ctx.take_stop() {
                return reason;
            }
            budget -= 1;
            if budget == 0 {
                budget = BUDGET;
                crate::runtime::yield_now().await;
            }
        }
        if let Some(w) = &mut p.wire {
            w.taken();
        }
        was_busy = taken > 0;
        // A burst leaves a large buffer behind: give it back once traffic is light again.
        if p.batch.capacity() > SHRINK_ABOVE && taken < p.batch.capacity() / 4 {
            p.batch.shrink_to(taken.max(SHRINK_ABOVE / 4));
        }
        if p.ctx.cell.mailbox.is_killed() {
            return ExitReason::Killed;
        }
    }
}
