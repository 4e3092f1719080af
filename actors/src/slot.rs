//! A one-shot slot: one side fills it once, the other awaits the value.
//!
//! Used for call replies and for `Down`s awaited outside an actor. Cheaper than a channel:
//! one allocation, one short lock on each side.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

pub(crate) struct Slot<T> {
    state: Mutex<State<T>>,
    /// Set once filled or closed: read without the lock by the deadline sweeper.
    settled: std::sync::atomic::AtomicBool,
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
            settled: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// A slot whose value, or its absence, is handed to `f` instead of being awaited.
    pub(crate) fn forward(f: impl FnOnce(Option<T>) + Send + 'static) -> Self {
        Slot {
            state: Mutex::new(State::Forward(Box::new(f))),
            settled: std::sync::atomic::AtomicBool::new(false),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Fills the slot; false (and `value` dropped) if it was already filled or closed.
    pub(crate) fn fill(&self, value: T) -> bool {
        let mut st = self.lock();
        self.settled
            .store(true, std::sync::atomic::Ordering::Release);
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
        self.settled
            .store(true, std::sync::atomic::Ordering::Release);
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
        let mut st = self.lock();
        match &mut *st {
            State::Empty(waker) => {
                match waker {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    _ => *waker = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
            State::Full(_) => match std::mem::replace(&mut *st, State::Taken) {
                State::Full(v) => Poll::Ready(Some(v)),
                _ => unreachable!("matched Full above"),
            },
            State::Closed | State::Taken | State::Forward(_) => Poll::Ready(None),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        matches!(*self.lock(), State::Empty(_))
    }

    /// True once filled or closed; no lock taken.
    pub(crate) fn is_settled(&self) -> bool {
        self.settled.load(std::sync::atomic::Ordering::Acquire)
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
