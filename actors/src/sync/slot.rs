//! A one-shot slot: one side fills it once, the other awaits the value.
//!
//! Used for call replies and for `Down`s awaited outside an actor. Cheaper than a channel:
//! one allocation, one short lock on each side.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use crate::lock::Unpoisoned;
use crate::sync::deadline::NEVER;

pub(crate) struct Slot<T> {
    state: Mutex<State<T>>,
    /// Set once filled or closed: read without the lock.
    settled: AtomicBool,
    /// When a value awaited here is overdue, on the node's deadline clock (`timer`): 0 for
    /// not yet set, `timer::NEVER` for never.
    deadline: AtomicU64,
}

enum State<T> {
    Empty(Option<Waker>),
    Full(T),
    /// The filling side went away without a value.
    Closed,
    Taken,
    /// Nobody awaits here: the value goes to this function (a caller on another node).
    Forward(Box<dyn FnOnce(Option<T>) + Send>),
}

impl<T> Slot<T> {
    pub(crate) fn new() -> Self {
        Slot {
            state: Mutex::new(State::Empty(None)),
            settled: AtomicBool::new(false),
            deadline: AtomicU64::new(0),
        }
    }

    /// A slot whose value, or its absence, is handed to `f` instead of being awaited.
    pub(crate) fn forward(f: impl FnOnce(Option<T>) + Send + 'static) -> Self {
        Slot {
            state: Mutex::new(State::Forward(Box::new(f))),
            settled: AtomicBool::new(false),
            deadline: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unpoisoned()
    }

    /// Fills the slot; false (and `value` dropped) if it was already filled or closed.
    pub(crate) fn fill(&self, value: T) -> bool {
        let st = self.lock();
        self.fill_locked(st, value)
    }

    fn fill_locked(&self, mut st: MutexGuard<'_, State<T>>, value: T) -> bool {
        self.settled.store(true, Ordering::Release);
        match &mut *st {
            State::Empty(waker) => {
                let waker = waker.take();
                *st = State::Full(value);
                drop(st);
                if let Some(w) = waker {
                    w.wake();
                }
                true
            }
            State::Forward(_) => {
                let State::Forward(f) = std::mem::replace(&mut *st, State::Taken) else {
                    unreachable!("matched Forward above")
                };
                drop(st);
                f(Some(value));
                true
            }
            _ => false,
        }
    }

    /// The filling side gives up: the awaiting side sees `None`.
    pub(crate) fn close(&self) {
        let mut st = self.lock();
        self.settled.store(true, Ordering::Release);
        match std::mem::replace(&mut *st, State::Closed) {
            State::Empty(waker) => {
                drop(st);
                if let Some(w) = waker {
                    w.wake();
                }
            }
            State::Forward(f) => {
                *st = State::Taken;
                drop(st);
                f(None);
            }
            other => *st = other,
        }
    }

    /// The value once filled; `None` if closed without one.
    pub(crate) fn poll_take(&self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.poll_then(cx, || State::Taken)
    }

    /// As `poll_take`, for a slot registered with a deadline list: once the value is taken,
    /// the slot is emptied for another round in the same step if nobody holds it but the
    /// caller and that list (the callee has let go of it, and no weak reference could reach
    /// it later), and the answer says so.
    pub(crate) fn poll_recycle(self: &Arc<Self>, cx: &mut Context<'_>) -> Poll<Option<(T, bool)>> {
        let mut reuse = false;
        let polled = self.poll_then(cx, || {
            reuse = Arc::strong_count(self) == 2 && Arc::weak_count(self) == 0;
            if !reuse {
                return State::Taken;
            }
            self.deadline.store(0, Ordering::Relaxed);
            self.settled.store(false, Ordering::Relaxed);
            State::Empty(None)
        });
        polled.map(|v| v.map(|v| (v, reuse)))
    }

    /// The value once filled, under one lock; the slot then becomes what `next` makes.
    fn poll_then(&self, cx: &mut Context<'_>, next: impl FnOnce() -> State<T>) -> Poll<Option<T>> {
        let mut st = self.lock();
        match &mut *st {
            State::Empty(waker) => {
                match waker {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    _ => *waker = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
            State::Full(_) => match std::mem::replace(&mut *st, next()) {
                State::Full(v) => Poll::Ready(Some(v)),
                _ => unreachable!("matched Full above"),
            },
            State::Closed | State::Taken | State::Forward(_) => Poll::Ready(None),
        }
    }

    /// Sets when the value awaited here is overdue (see `fill_if_due`). A full barrier, so
    /// that a deadline sweeper stopping meanwhile either sees it or is seen stopped (see
    /// `timer`).
    pub(crate) fn set_deadline(&self, at: u64) {
        self.deadline.swap(at, Ordering::SeqCst);
    }

    /// Fills the slot with `value()` if it is still awaited and its deadline is at or before
    /// `now`, in one step: a slot emptied again for another round meanwhile is left alone.
    /// True while it is still awaited before a deadline to come.
    pub(crate) fn fill_if_due(&self, now: u64, value: impl FnOnce() -> T) -> bool {
        // The deadline first: one set after a sweeper stopping looked is seen here, or that
        // setter saw the sweeper stopped and started another.
        if matches!(self.deadline.load(Ordering::SeqCst), 0 | NEVER) {
            return false;
        }
        let st = self.lock();
        if !matches!(*st, State::Empty(_)) {
            return false;
        }
        // Again under the lock: the slot may have been emptied for another call meanwhile.
        match self.deadline.load(Ordering::Relaxed) {
            0 | NEVER => false,
            at if at <= now => {
                self.fill_locked(st, value());
                false
            }
            _ => true,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        matches!(*self.lock(), State::Empty(_))
    }

    /// True once filled or closed; no lock taken.
    pub(crate) fn is_settled(&self) -> bool {
        self.settled.load(Ordering::Acquire)
    }
}

/// The filling side of a slot: filled once, or closed when dropped unfilled, so the awaiting
/// side is never left hanging when the value cannot come (a signal to a dead process).
pub(crate) struct SlotSender<T>(Arc<Slot<T>>);

impl<T> SlotSender<T> {
    pub(crate) fn new(slot: Arc<Slot<T>>) -> Self {
        SlotSender(slot)
    }

    pub(crate) fn fill(self, value: T) {
        self.0.fill(value);
    }
}

impl<T> Drop for SlotSender<T> {
    fn drop(&mut self) {
        self.0.close();
    }
}
