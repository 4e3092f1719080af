//! A process's mailbox: many senders, one receiver, unbounded.
//!
//! Senders push under a short lock and wake the receiver only when it is parked. The receiver
//! takes the whole backlog in one swap, so a busy actor pays one lock per batch, not per message,
//! and both queues keep their capacity: no allocation per message in steady state.
//! The same lock guards the process's liveness: once closed with an exit reason, pushes fail,
//! which is how a sender learns, race-free, that the process is gone.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use crate::exit::ExitReason;
use crate::signal::Signal;

/// What a mailbox holds: a message of the actor's type, or a system signal.
pub(crate) enum Envelope<M> {
    Msg(M),
    /// Boxed so that signals do not widen every queue slot.
    Signal(Box<Signal>),
}

pub(crate) struct Mailbox<M> {
    state: Mutex<State<M>>,
    /// Set by `kill`: checked before every message, so a backlog cannot delay it.
    killed: AtomicBool,
}

struct State<M> {
    queue: VecDeque<Envelope<M>>,
    /// The receiver's waker: while it is parked on an empty queue, or (`kill_only`) while it
    /// waits inside a handler, where only `kill` should wake it.
    waker: Option<Waker>,
    kill_only: bool,
    /// `Some` once the process has ended: the mailbox is closed. Boxed: set once, at the end.
    exit: Option<Box<ExitReason>>,
    /// The process holds a local name, to be freed when it ends.
    named: bool,
}

impl<M> Mailbox<M> {
    pub(crate) fn new() -> Self {
        Mailbox {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                waker: None,
                kill_only: false,
                exit: None,
                named: false,
            }),
            killed: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<M>> {
        // No user code runs under this lock, so a poisoned lock still holds consistent data.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `env`, or hands it back if the process has ended.
    #[inline]
    pub(crate) fn push(&self, env: Envelope<M>) -> Result<(), Envelope<M>> {
        let mut st = self.lock();
        if st.exit.is_some() {
            return Err(env);
        }
        st.queue.push_back(env);
        let waker = if st.kill_only { None } else { st.waker.take() };
        drop(st);
        if let Some(w) = waker {
            w.wake();
        }
        Ok(())
    }

    /// Swaps the backlog into `batch` (which must be empty), or parks the receiver.
    pub(crate) fn poll_batch(
        &self,
        cx: &mut Context<'_>,
        batch: &mut VecDeque<Envelope<M>>,
    ) -> Poll<()> {
        debug_assert!(batch.is_empty());
        let mut st = self.lock();
        if !st.queue.is_empty() || self.is_killed() {
            std::mem::swap(&mut st.queue, batch);
            return Poll::Ready(());
        }
        st.kill_only = false;
        match &st.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => st.waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// The receiver waits inside a handler: only `kill` may wake it.
    pub(crate) fn wake_on_kill(&self, cx: &mut Context<'_>) {
        let mut st = self.lock();
        st.kill_only = true;
        match &st.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => st.waker = Some(cx.waker().clone()),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().queue.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.lock().queue.is_empty()
    }

    pub(crate) fn kill(&self) {
        self.killed.store(true, Ordering::Relaxed);
        let waker = self.lock().waker.take();
        if let Some(w) = waker {
            w.wake();
        }
    }

    #[inline]
    pub(crate) fn is_killed(&self) -> bool {
        self.killed.load(Ordering::Relaxed)
    }

    /// Marks the process ended; returns what was still queued and whether it held a name.
    pub(crate) fn close(&self, reason: ExitReason) -> (VecDeque<Envelope<M>>, bool) {
        let mut st = self.lock();
        st.exit = Some(Box::new(reason));
        st.waker = None;
        (std::mem::take(&mut st.queue), st.named)
    }

    pub(crate) fn exit_reason(&self) -> Option<ExitReason> {
        self.lock().exit.as_deref().cloned()
    }

    /// Records that the process holds a name; fails if it has already ended.
    pub(crate) fn set_named(&self, named: bool) -> Result<(), ()> {
        let mut st = self.lock();
        if st.exit.is_some() {
            return Err(());
        }
        st.named = named;
        Ok(())
    }
}
