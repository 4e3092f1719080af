//! A one-shot slot: one side fills it once, the other awaits the value.
//!
//! Used for call replies and for `Down`s awaited outside an actor. Cheaper than a channel:
//! one allocation, one short lock on each side.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

pub(crate) struct Slot<T> {
    state: Mutex<State<T>>,
}

enum State<T> {
    Empty(Option<Waker>),
    Full(T),
    /// The filling side went away without a value.
    Closed,
    Taken,
}

impl<T> Slot<T> {
    pub(crate) fn new() -> Self {
        Slot {
            state: Mutex::new(State::Empty(None)),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Fills the slot; false (and `value` dropped) if it was already filled or closed.
    pub(crate) fn fill(&self, value: T) -> bool {
        let mut st = self.lock();
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
            _ => false,
        }
    }

    /// The filling side gives up: the awaiting side sees `None`.
    pub(crate) fn close(&self) {
        let mut st = self.lock();
        if let State::Empty(waker) = &mut *st {
            let waker = waker.take();
            *st = State::Closed;
            drop(st);
            if let Some(w) = waker {
                w.wake();
            }
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
            State::Closed | State::Taken => Poll::Ready(None),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        matches!(*self.lock(), State::Empty(_))
    }
}
