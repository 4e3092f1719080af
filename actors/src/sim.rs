//! A simulated runtime (feature `sim`): every task on one thread, the next one to run chosen
//! by a seeded random draw, and a virtual clock that jumps to the next timer whenever every
//! task waits. The same seed gives the same run, step for step; a minute of timers takes
//! milliseconds.
//!
//! ```
//! use std::time::Duration;
//! use actors::sim::Sim;
//!
//! let sim = Sim::new(7);
//! let waited = sim.run(async {
//!     let before = actors::rt::now();
//!     actors::rt::sleep(Duration::from_secs(60)).await;
//!     actors::rt::elapsed(before)
//! });
//! assert_eq!(waited, Duration::from_secs(60));
//! ```
//!
//! The runtime module (`actors::rt`) asks, at each call, whether a simulation runs on this
//! thread, and hands the call to it if so: code under test is the code that ships. What it
//! cannot simulate is real I/O: sockets wake their tasks from the OS's reactor thread, and the
//! simulation would see every task waiting.

use std::cell::RefCell;
use std::collections::{BinaryHeap, HashMap};
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use async_task::Runnable;

/// A simulation: its seed, its virtual clock, its tasks.
pub struct Sim {
    shared: Arc<Shared>,
}

struct State {
    rng: u64,
    /// Virtual time since the simulation started.
    now: Duration,
    /// Tasks ready to run, each with its id (ids count spawns, so they are the same every run).
    ready: Vec<Runnable<u64>>,
    next_task: u64,
    /// Timers by (deadline, order set); the wakers by order set, gone once cancelled.
    timers: BinaryHeap<std::cmp::Reverse<(Duration, u64)>>,
    wakers: HashMap<u64, Waker>,
    next_timer: u64,
    /// A hash of every step taken: which task ran, and where the clock jumped.
    trace: u64,
    steps: u64,
}

struct Shared {
    state: Mutex<State>,
    /// The real instant virtual time counts from: `rt::now()` is `origin + now`.
    origin: Instant,
}

thread_local! {
    static CURRENT: RefCell<Option<Arc<Shared>>> = const { RefCell::new(None) };
}

fn current() -> Option<Arc<Shared>> {
    CURRENT.with(|c| c.borrow().clone())
}

/// True while a simulation runs on this thread.
pub(crate) fn active() -> bool {
    CURRENT.with(|c| c.borrow().is_some())
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    /// SplitMix64: small, fast, and the same on every machine.
    fn draw(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn record(&mut self, event: u64) {
        // FNV-1a over the event's bytes.
        for b in event.to_le_bytes() {
            self.trace = (self.trace ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.steps += 1;
    }
}

impl Sim {
    /// A simulation drawing every choice from `seed`.
    pub fn new(seed: u64) -> Sim {
        Sim {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    rng: seed,
                    now: Duration::ZERO,
                    ready: Vec::new(),
                    next_task: 0,
                    timers: BinaryHeap::new(),
                    wakers: HashMap::new(),
                    next_timer: 0,
                    trace: 0xcbf2_9ce4_8422_2325,
                    steps: 0,
                }),
                origin: Instant::now(),
            }),
        }
    }

    /// Runs `main` and every task it spawns on this thread, until `main` ends. Panics if every
    /// task waits and no timer is set: nothing could ever happen again.
    pub fn run<F: Future>(&self, main: F) -> F::Output {
        struct Reset(Option<Arc<Shared>>);
        impl Drop for Reset {
            fn drop(&mut self) {
                CURRENT.with(|c| *c.borrow_mut() = self.0.take());
            }
        }
        let _reset = Reset(CURRENT.with(|c| c.borrow_mut().replace(self.shared.clone())));
        let woken = Arc::new(Flag(AtomicBool::new(true)));
        let waker = Waker::from(woken.clone());
        let mut main = pin!(main);
        loop {
            if woken.0.swap(false, Ordering::AcqRel) {
                if let Poll::Ready(out) = main.as_mut().poll(&mut Context::from_waker(&waker)) {
                    return out;
                }
                continue;
            }
            let next = {
                let mut st = self.shared.lock();
                if st.ready.is_empty() {
                    None
                } else {
                    let i = (st.draw() % st.ready.len() as u64) as usize;
                    let r = st.ready.swap_remove(i);
                    let id = *r.metadata();
                    st.record(id);
                    Some(r)
                }
            };
            match next {
                Some(runnable) => {
                    runnable.run();
                }
                None => {
                    if !self.advance() && !woken.0.load(Ordering::Acquire) {
                        panic!(
                            "the simulation is stuck at {:?}: every task waits, and no timer is set",
                            self.now()
                        );
                    }
                }
            }
        }
    }

    /// Moves the clock to the earliest timer and wakes what waits for it; false if none.
    fn advance(&self) -> bool {
        let mut st = self.shared.lock();
        while let Some(std::cmp::Reverse((at, seq))) = st.timers.pop() {
            let Some(waker) = st.wakers.remove(&seq) else {
                // Cancelled.
                continue;
            };
            if at > st.now {
                st.now = at;
                st.record(u64::MAX ^ at.as_nanos() as u64);
            }
            drop(st);
            waker.wake();
            return true;
        }
        false
    }

    /// Virtual time since the simulation started.
    pub fn now(&self) -> Duration {
        self.shared.lock().now
    }

    /// A hash of every step so far: two runs of one seed give the same.
    pub fn trace_hash(&self) -> u64 {
        self.shared.lock().trace
    }

    /// How many steps (a task run, a jump of the clock) so far.
    pub fn steps(&self) -> u64 {
        self.shared.lock().steps
    }
}

struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::Release);
    }
}

/// Spawns `future` as a task of the simulation running on this thread.
pub(crate) fn spawn<F>(future: F) -> async_task::Task<F::Output, u64>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let shared = current().expect("a simulation runs on this thread");
    let id = {
        let mut st = shared.lock();
        st.next_task += 1;
        st.next_task
    };
    let queue = Arc::downgrade(&shared);
    let schedule = move |r: Runnable<u64>| {
        if let Some(shared) = queue.upgrade() {
            shared.lock().ready.push(r);
        }
    };
    let (runnable, task) = async_task::Builder::new()
        .metadata(id)
        .spawn(move |_| future, schedule);
    runnable.schedule();
    task
}

/// The simulation's clock.
pub(crate) fn now() -> Instant {
    let shared = current().expect("a simulation runs on this thread");
    let now = shared.lock().now;
    shared.origin + now
}

/// Random bytes drawn from the simulation's seed.
pub(crate) fn fill_random(buf: &mut [u8]) {
    let shared = current().expect("a simulation runs on this thread");
    let mut st = shared.lock();
    for chunk in buf.chunks_mut(8) {
        let bytes = st.draw().to_le_bytes();
        chunk.copy_from_slice(&bytes[..chunk.len()]);
    }
}

/// Waits `duration` of virtual time.
pub(crate) fn sleep(duration: Duration) -> Sleep {
    let shared = current().expect("a simulation runs on this thread");
    let at = shared.lock().now + duration;
    Sleep {
        shared,
        at,
        seq: None,
    }
}

/// A timer of the simulation.
pub(crate) struct Sleep {
    shared: Arc<Shared>,
    at: Duration,
    seq: Option<u64>,
}

impl Future for Sleep {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let shared = self.shared.clone();
        let mut st = shared.lock();
        if st.now >= self.at {
            if let Some(seq) = self.seq.take() {
                st.wakers.remove(&seq);
            }
            return Poll::Ready(());
        }
        let seq = match self.seq {
            Some(seq) => seq,
            None => {
                st.next_timer += 1;
                let seq = st.next_timer;
                let at = self.at;
                st.timers.push(std::cmp::Reverse((at, seq)));
                self.seq = Some(seq);
                seq
            }
        };
        st.wakers.insert(seq, cx.waker().clone());
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let Some(seq) = self.seq.take() {
            self.shared.lock().wakers.remove(&seq);
        }
    }
}
