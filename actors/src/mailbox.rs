//! A process's mailbox: many senders, one receiver, unbounded.
//!
//! Senders push under a short lock and wake the receiver only when it is parked. The receiver
//! takes the whole backlog in one swap, so a busy actor pays one lock per batch, not per message,
//! and both queues keep their capacity: no allocation per message in steady state.
//! The same lock guards the process's liveness: once closed with an exit reason, pushes fail,
//! which is how a sender learns, race-free, that the process is gone.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use crate::exit::ExitReason;
use crate::lock::Unpoisoned;
use crate::origin::Origin;
use crate::seam::Responder;
use crate::signal::Signal;

/// What a mailbox holds: a message of the actor's type, or a system signal.
pub(crate) enum Envelope<M> {
    Msg(M),
    /// Boxed so that signals do not widen every queue slot.
    Signal(Box<Signal>),
    /// A message that came over the wire, still encoded (see [`Wire`]).
    Wire(Wire),
}

/// A message from another node, queued as it arrived: its bytes are the next `len` of the
/// mailbox's wire bytes. The process decodes it itself, when it comes to it, so that what
/// decoding allocates is allocated on the thread that will also free it (the handler's),
/// and a connection's reader only frames, finds and queues. As small as a pointer and a
/// length, so that it does not widen every queue slot and every process's future.
pub(crate) struct Wire {
    pub(crate) len: u32,
    /// What few carry: boxed.
    pub(crate) extra: Option<Box<WireExtra>>,
}

pub(crate) struct WireExtra {
    /// Who sent it (what an `Origin` argument is filled with); `None` if the same as the
    /// wire message before it in this mailbox, as most are.
    pub(crate) origin: Option<Origin>,
    /// For a call, where its answer goes; answered with `NoProc` if dropped unanswered.
    pub(crate) call: Option<Box<dyn Responder>>,
}

impl Drop for WireExtra {
    fn drop(&mut self) {
        if let Some(responder) = self.call.take() {
            let _ = crate::seam::fail(Some(responder), crate::error::CallError::NoProc);
        }
    }
}

impl Wire {
    /// Takes the origin it carries, if it is not the same as the one before it.
    pub(crate) fn take_origin(&mut self) -> Option<Origin> {
        self.extra.as_mut().and_then(|x| x.origin.take())
    }

    /// Takes the responder of a call.
    pub(crate) fn take_call(&mut self) -> Option<Box<dyn Responder>> {
        self.extra.as_mut().and_then(|x| x.call.take())
    }
}

pub(crate) struct Mailbox<M> {
    state: Mutex<State<M>>,
    /// Set by `kill`: checked before every message, so a backlog cannot delay it.
    killed: AtomicBool,
}

struct State<M> {
    queue: VecDeque<Envelope<M>>,
    /// What the queued `Wire` messages need. Boxed and made on the first one, so a process
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
    /// The bytes of the queued `Wire` messages, in order.
    bytes: Vec<u8>,
    /// The connection the last one came over.
    link: Option<u64>,
}

impl<M> Mailbox<M> {
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
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<M>> {
        // No user code runs under this lock, so a poisoned lock still holds consistent data.
        self.state.lock().unpoisoned()
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

    /// Queues messages that came over the wire from `origin`, still encoded: `bytes` holds
    /// them one after the other, `lens` says how long each is, and `call` is for the last
    /// (a call comes alone). One lock and at most one wake for them all. Hands the call's
    /// responder back if the process has ended.
    pub(crate) fn push_wire(
        &self,
        bytes: &[u8],
        lens: &[usize],
        origin: &Origin,
        mut call: Option<Box<dyn Responder>>,
    ) -> Result<(), Option<Box<dyn Responder>>> {
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
            let origin = origin.take();
            let call = if i + 1 == lens.len() {
                call.take()
            } else {
                None
            };
            let extra =
                (origin.is_some() || call.is_some()).then(|| Box::new(WireExtra { origin, call }));
            st.queue.push_back(Envelope::Wire(Wire {
                // A frame is far smaller than 4 GiB.
                len: u32::try_from(*len).unwrap_or(u32::MAX),
                extra,
            }));
        }
        let waker = if st.kill_only { None } else { st.waker.take() };
        drop(st);
        if let Some(w) = waker {
            w.wake();
        }
        Ok(())
    }

    /// Swaps the backlog into `batch` (which must be empty), or parks the receiver. The
    /// bytes of the `Wire` messages in it are handed to `wire`, which swaps them with a
    /// cleared buffer of its own.
    pub(crate) fn poll_batch(
        &self,
        cx: &mut Context<'_>,
        batch: &mut VecDeque<Envelope<M>>,
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
