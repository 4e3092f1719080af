//! Spawning a process and the loop that runs it.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures::FutureExt;

use crate::actor::Actor;
use crate::cell::Cell;
use crate::ctx::Ctx;
use crate::exit::{ExitReason, panic_message};
use crate::mailbox::Envelope;
use crate::node::NodeInner;
use crate::pid::{AnyPid, Pid, Route, RouteKind};
use crate::signal::Signal;

/// Messages handled before a busy process lets other tasks of its thread run.
const BUDGET: u32 = 1024;

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
    let mut ctx = Ctx::new(cell);
    if let Some(parent) = link {
        ctx.add_link(parent);
    }
    crate::rt::spawn(run(actor, ctx));
    pid
}

async fn run<A: Actor>(mut actor: A, mut ctx: Ctx<A>) {
    let mut batch = VecDeque::new();
    let outcome = AssertUnwindSafe(async {
        actor.started(&mut ctx).await;
        serve(&mut actor, &mut ctx, &mut batch).await
    })
    .catch_unwind()
    .await;
    let reason = match outcome {
        Ok(reason) => reason,
        Err(payload) => ExitReason::Panic(panic_message(&*payload)),
    };
    if reason != ExitReason::Killed {
        let stopped = AssertUnwindSafe(actor.stopped(&reason, &mut ctx))
            .catch_unwind()
            .await;
        if let Err(payload) = stopped {
            tracing::warn!(pid = %ctx.pid(), "stopped hook panicked: {}", panic_message(&*payload));
        }
    }
    drop(actor);
    ctx.terminate(reason, batch);
}

/// Handles messages and signals until the process is told to end.
async fn serve<A: Actor>(
    actor: &mut A,
    ctx: &mut Ctx<A>,
    batch: &mut VecDeque<Envelope<A::Msg>>,
) -> ExitReason {
    let cell = ctx.cell.clone();
    let mut budget = BUDGET;
    loop {
        if let Some(reason) = ctx.stop.take() {
            return reason;
        }
        poll_fn(|cx| cell.mailbox.poll_batch(cx, batch)).await;
        while let Some(env) = batch.pop_front() {
            if cell.mailbox.is_killed() {
                batch.push_front(env);
                return ExitReason::Killed;
            }
            match env {
                Envelope::Msg(msg) => actor.handle(msg, ctx).await,
                Envelope::Signal(sig) => ctx.handle_signal(actor, *sig).await,
            }
            if let Some(reason) = ctx.stop.take() {
                return reason;
            }
            budget -= 1;
            if budget == 0 {
                budget = BUDGET;
                crate::rt::yield_now().await;
            }
        }
        if cell.mailbox.is_killed() {
            return ExitReason::Killed;
        }
    }
}
