//! A process's mailbox: many senders, one receiver, unbounded.
//!
//! Senders push under a short lock and wake the receiver only when it is parked. The receiver
//! takes the whole backlog in one swap, so a busy actor pays one lock per batch, not per message,
//! and both queues keep their capacity: no allocation per message in steady state.
//! The same lock guards the process's liveness: once closed with an exit reason, pushes fail,
//! which is how a sender learns, race-free, that the process is gone.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use crate::exit::ExitReason;
use crate::lock::Unpoisoned;
use crate::origin::Origin;

pub(crate) struct Mailbox<T> {
    state: Mutex<State<T>>,
    /// Set by `kill`: checked before every message, so a backlog cannot delay it.
    killed: AtomicBool,
    /// What the receiver has taken from the queue and not yet handled; written by it alone.
    /// Beside `killed`, it fits in room the struct has anyway.
    in_hand: AtomicU32,
}

struct State<T> {
    queue: VecDeque<T>,
    /// The bytes of the queued wire messages. Boxed and made on the first one, so a process
    /// that never hears from another node pays one pointer.
    wire: Option<Box<WireQueue>>,
    /// The receiver's waker: while it is parked on an empty queue, or (`kill_only`) while it
    /// waits inside a handler, where only `kill` should wake it.
    waker: Option<Waker>,
    kill_only: bool,
    /// `Some` once the process has ended: the mailbox is closed. Boxed: set once, at the end.
    exit: Option<Box<ExitReason>>,
    /// The process holds a local name, to be freed when it ends.
    named: bool,
}

#[derive(Default)]
struct WireQueue {
    /// The bytes of the queued wire messages, in order.
    bytes: Vec<u8>,
    /// The connection the last one came over.
    link: Option<u64>,
}

impl<T> Mailbox<T> {
    pub(crate) fn new() -> Self {
        Mailbox {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                wire: None,
                waker: None,
                kill_only: false,
                exit: None,
                named: false,
            }),
            killed: AtomicBool::new(false),
            in_hand: AtomicU32::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // No user code runs under this lock, so a poisoned lock still holds consistent data.
        self.state.lock().unpoisoned()
    }

    /// Queues `env`, or hands it back if the process has ended.
    #[inline]
    pub(crate) fn push(&self, env: T) -> Result<(), T> {
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

    /// Queues messages that came over the wire from `origin`, still encoded: `bytes` holds
    /// them one after the other, `lens` says how long each is, and `call` is for the last
    /// (a call comes alone). `item` makes the queue entry of each from its length, the origin
    /// if it differs from the one before it in this mailbox, and the call. One lock and at
    /// most one wake for them all. Hands `call` back if the process has ended.
    pub(crate) fn push_wire<C>(
        &self,
        bytes: &[u8],
        lens: &[usize],
        origin: &Origin,
        mut call: Option<C>,
        item: impl Fn(u32, Option<Origin>, Option<C>) -> T,
    ) -> Result<(), Option<C>> {
        let mut st = self.lock();
        if st.exit.is_some() {
            return Err(call);
        }
        let wire = st.wire.get_or_insert_default();
        wire.bytes.extend_from_slice(bytes);
        let mut origin = (wire.link != origin.link() || origin.link().is_none()).then(|| {
            wire.link = origin.link();
            origin.clone()
        });
        for (i, len) in lens.iter().enumerate() {
            let call = if i + 1 == lens.len() {
                call.take()
            } else {
                None
            };
            // A frame is far smaller than 4 GiB.
            let len = u32::try_from(*len).unwrap_or(u32::MAX);
            st.queue.push_back(item(len, origin.take(), call));
        }
        let waker = if st.kill_only { None } else { st.waker.take() };
        drop(st);
        if let Some(w) = waker {
            w.wake();
        }
        Ok(())
    }

    /// Swaps the backlog into `batch` (which must be empty), or parks the receiver. The
    /// bytes of the wire messages in it are handed to `wire`, which swaps them with a
    /// cleared buffer of its own.
    pub(crate) fn poll_batch(
        &self,
        cx: &mut Context<'_>,
        batch: &mut VecDeque<T>,
        wire: impl FnOnce(&mut Vec<u8>),
    ) -> Poll<()> {
        debug_assert!(batch.is_empty());
        let mut st = self.lock();
        if !st.queue.is_empty() || self.is_killed() {
            std::mem::swap(&mut st.queue, batch);
            if let Some(w) = st.wire.as_mut().filter(|w| !w.bytes.is_empty()) {
                wire(&mut w.bytes);
            }
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

    /// Messages and signals waiting: in the queue, and taken by the receiver but not yet
    /// handled.
    pub(crate) fn len(&self) -> usize {
        self.lock().queue.len() + self.in_hand.load(Ordering::Relaxed) as usize
    }

    /// The receiver says how much it holds taken and not yet handled.
    #[inline]
    pub(crate) fn set_in_hand(&self, n: usize) {
        self.in_hand
            .store(u32::try_from(n).unwrap_or(u32::MAX), Ordering::Relaxed);
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
    pub(crate) fn close(&self, reason: ExitReason) -> (VecDeque<T>, bool) {
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
