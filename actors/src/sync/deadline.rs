//! Call deadlines, swept by one task per node.
//!
//! A runtime timer per call would wake the I/O reactor on every call, which costs more than the
//! whole local round trip. Instead every reply slot a node hands out is registered here once,
//! for its whole life (slots are reused call after call, see `spare`), and a call's deadline
//! is one atomic store into its slot. A sweeper runs every `TICK` while some call is pending
//! and fails the overdue ones with `Timeout`; while it runs it also keeps a coarse clock, so
//! arming a deadline reads no clock. The deadline is padded by one tick for the coarseness, so
//! a timeout fires up to two ticks late, never early.

use crate::lock::Unpoisoned;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering, fence};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How often pending deadlines are checked.
pub(crate) const TICK: Duration = Duration::from_millis(5);

/// A deadline that is never due.
pub(crate) const NEVER: u64 = u64::MAX;

/// Something that may carry a deadline.
pub(crate) trait Expire: Send + Sync {
    /// Fails it if its deadline is at or before `now` (nanoseconds on the node's deadline
    /// clock). True while it still awaits something before a deadline to come.
    fn expire_due(&self, now: u64) -> bool;
}

pub(crate) struct Deadlines {
    /// Every slot handed out and not yet dropped by all but this list.
    entries: Mutex<Vec<Arc<dyn Expire>>>,
    sweeping: AtomicBool,
    closed: AtomicBool,
    /// Where the deadline clock starts.
    origin: Instant,
    /// The time at the sweeper's last tick, on the deadline clock: at most one tick behind
    /// while `sweeping`.
    now: AtomicU64,
}

impl Deadlines {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Deadlines {
            entries: Mutex::new(Vec::new()),
            sweeping: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            origin: crate::runtime::now(),
            now: AtomicU64::new(0),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Arc<dyn Expire>>> {
        self.entries.lock().unpoisoned()
    }

    fn clock(&self) -> u64 {
        let since = crate::runtime::now().saturating_duration_since(self.origin);
        u64::try_from(since.as_nanos()).unwrap_or(NEVER - 1)
    }

    /// Watches `what` for as long as anyone else holds it.
    pub(crate) fn register(&self, what: Arc<dyn Expire>) {
        if !self.is_closed() {
            self.lock().push(what);
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// The deadline `timeout` from now on the deadline clock.
    pub(crate) fn deadline(self: &Arc<Self>, timeout: Duration) -> u64 {
        let now = if self.sweeping.load(Ordering::Acquire) {
            self.now.load(Ordering::Acquire)
        } else {
            self.clock()
        };
        u64::try_from((timeout + TICK).as_nanos())
            .ok()
            .and_then(|t| now.checked_add(t))
            .filter(|at| *at < NEVER)
            .unwrap_or(NEVER)
    }

    /// Makes sure a sweeper runs, called after a deadline was stored (`Slot::set_deadline`,
    /// sequentially consistent): either this sees the flag a stopping sweeper cleared, or
    /// that sweeper's last look, after a fence, sees the deadline.
    pub(crate) fn watch(self: &Arc<Self>) {
        if self.sweeping.load(Ordering::SeqCst) || self.is_closed() {
            return;
        }
        // The clock first: a caller that sees the flag set reads `now`, which must not be
        // the time the last sweeper stopped, or its deadline would be due at once.
        self.now.store(self.clock(), Ordering::Release);
        if self
            .sweeping
            .compare_exchange(false, true, Ordering::SeqCst, Ordering::Relaxed)
            .is_ok()
        {
            crate::runtime::spawn(self.clone().sweep());
        }
    }

    /// Looks at every entry once: fails the overdue, drops those nobody else holds. True if
    /// some entry still awaits a deadline.
    fn pass(&self, now: u64) -> bool {
        let mut batch = std::mem::take(&mut *self.lock());
        let mut pending = false;
        batch.retain(|e| {
            pending |= e.expire_due(now);
            Arc::strong_count(e) > 1
        });
        let mut entries = self.lock();
        batch.append(&mut entries);
        *entries = batch;
        pending
    }

    /// Runs while some deadline is pending; a later `watch` starts it again.
    async fn sweep(self: Arc<Self>) {
        loop {
            crate::runtime::sleep(TICK).await;
            if self.is_closed() {
                return;
            }
            let now = self.clock();
            self.now.store(now, Ordering::Release);
            if self.pass(now) {
                continue;
            }
            // Nothing pending: stop, unless a deadline stored meanwhile did not see the flag
            // cleared (it looks at the flag after storing, this looks again after clearing).
            self.sweeping.store(false, Ordering::SeqCst);
            fence(Ordering::SeqCst);
            if !self.pass(now)
                || self
                    .sweeping
                    .compare_exchange(false, true, Ordering::SeqCst, Ordering::Relaxed)
                    .is_err()
            {
                return;
            }
        }
    }

    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.lock().clear();
    }
}
