//! Call deadlines, swept by one task per node.
//!
//! A runtime timer per call would wake the I/O reactor on every call, which costs more than the
//! whole local round trip. Instead a call records (deadline, weak reference) under one short lock,
//! and a sweeper that runs every `TICK` while calls are pending fails the overdue ones with
//! `Timeout`. While it runs, the sweeper also keeps a coarse clock, so recording a deadline
//! reads no clock; the deadline is padded by one tick for the coarseness. A timeout therefore
//! fires up to two ticks late, never early.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};

/// How often pending deadlines are checked.
pub(crate) const TICK: Duration = Duration::from_millis(5);

/// Something with a deadline.
pub(crate) trait Expire: Send + Sync {
    /// The deadline passed.
    fn expire(&self);
    /// True once it no longer needs watching.
    fn settled(&self) -> bool;
}

pub(crate) struct Deadlines {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    entries: Vec<(Instant, Weak<dyn Expire>)>,
    sweeping: bool,
    closed: bool,
    /// The time at the sweeper's last tick: at most one tick behind while it runs.
    now: Option<Instant>,
}

impl Deadlines {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Deadlines {
            state: Mutex::new(State::default()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Fails `what` with a timeout once `timeout` has passed.
    pub(crate) fn add(self: &Arc<Self>, timeout: Duration, what: Weak<dyn Expire>) {
        let mut st = self.lock();
        if st.closed {
            return;
        }
        let now = match (st.sweeping, st.now) {
            (true, Some(now)) => now,
            _ => crate::rt::now(),
        };
        let Some(at) = now.checked_add(timeout).and_then(|at| at.checked_add(TICK)) else {
            // No deadline this side of the end of time.
            return;
        };
        st.entries.push((at, what));
        if !st.sweeping {
            st.sweeping = true;
            st.now = Some(now);
            drop(st);
            crate::rt::spawn(self.clone().sweep());
        }
    }

    /// Runs while entries exist; a later `add` starts it again.
    async fn sweep(self: Arc<Self>) {
        loop {
            crate::rt::sleep(TICK).await;
            let mut batch = std::mem::take(&mut self.lock().entries);
            let now = crate::rt::now();
            batch.retain(|(at, what)| match what.upgrade() {
                None => false,
                Some(e) if e.settled() => false,
                Some(e) if *at <= now => {
                    e.expire();
                    false
                }
                Some(_) => true,
            });
            let mut st = self.lock();
            if st.closed {
                return;
            }
            st.now = Some(now);
            batch.append(&mut st.entries);
            st.entries = batch;
            if st.entries.is_empty() {
                st.sweeping = false;
                return;
            }
        }
    }

    pub(crate) fn close(&self) {
        let mut st = self.lock();
        st.closed = true;
        st.entries.clear();
    }
}
