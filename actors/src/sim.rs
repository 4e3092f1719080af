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
//! simulation would see every task waiting. Networks are simulated above it
//! (`actors_net::sim`).
//!
//! Tasks belong to a [`Domain`]: the tasks of one simulated machine, which fail together. A
//! task belongs to the domain of the task that spawned it, and a node's processes to the
//! domain the node was made in. A domain can be killed (its tasks never run again and are
//! dropped, as after SIGKILL), frozen and thawed (not scheduled meanwhile, as SIGSTOP), and
//! given a clock that drifts.

use std::cell::{Cell, RefCell};
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::fmt::Write as _;
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use crate::lock::Unpoisoned;
use async_task::Runnable;

pub use crate::domain::Domain;

/// A simulation: its seed, its virtual clock, its tasks.
pub struct Sim {
    shared: Arc<Shared>,
    seed: u64,
}

/// What the executor knows of a task.
pub(crate) struct Meta {
    /// Counts spawns, so ids are the same every run.
    id: u64,
    domain: Domain,
}

#[derive(Default)]
struct DomainState {
    dead: bool,
    frozen: bool,
    /// How much faster (positive) or slower its clock runs, in parts per million.
    drift_ppm: i32,
    /// Tasks woken while frozen: run once thawed.
    held: Vec<Runnable<Meta>>,
    name: String,
}

struct State {
    rng: u64,
    /// Virtual time since the simulation started.
    now: Duration,
    /// Tasks ready to run.
    ready: Vec<Runnable<Meta>>,
    /// Tasks of killed domains, dropped by the run loop (never under the lock: dropping a
    /// future may wake others).
    doomed: Vec<Runnable<Meta>>,
    next_task: u64,
    next_unique: u64,
    /// Timers by (deadline, order set); the wakers by order set, gone once cancelled.
    timers: BinaryHeap<std::cmp::Reverse<(Duration, u64)>>,
    wakers: HashMap<u64, Waker>,
    next_timer: u64,
    domains: Vec<DomainState>,
    /// A hash of every step taken: which task ran, and where the clock jumped.
    trace: u64,
    steps: u64,
    /// The latest events noted, for a readable timeline.
    events: VecDeque<String>,
    keep_events: usize,
}

struct Shared {
    state: Mutex<State>,
    /// The real instant virtual time counts from: `rt::now()` is `origin + now`.
    origin: Instant,
}

thread_local! {
    static CURRENT: RefCell<Option<Arc<Shared>>> = const { RefCell::new(None) };
    /// The domain of the task being run.
    static RUNNING: Cell<Domain> = const { Cell::new(Domain::OBSERVER) };
}

fn current() -> Arc<Shared> {
    CURRENT
        .with(|c| c.borrow().clone())
        .expect("a simulation runs on this thread")
}

/// True while a simulation runs on this thread.
pub fn active() -> bool {
    CURRENT.with(|c| c.borrow().is_some())
}

/// Runs `f` as if no simulation ran on this thread: for what lives beyond one simulation
/// (a `static` made once per OS process), which must not draw on the running one's seed, or
/// the first run of a seed would differ from the next.
pub(crate) fn outside<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(Option<Arc<Shared>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            CURRENT.with(|c| *c.borrow_mut() = self.0.take());
        }
    }
    let _restore = Restore(CURRENT.with(|c| c.borrow_mut().take()));
    f()
}

/// The domain of the task running now.
pub(crate) fn running_domain() -> Domain {
    RUNNING.with(Cell::get)
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unpoisoned()
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

    fn domain(&mut self, d: Domain) -> &mut DomainState {
        let i = d.0 as usize;
        if self.domains.len() <= i {
            self.domains.resize_with(i + 1, DomainState::default);
        }
        &mut self.domains[i]
    }

    /// Takes the ready tasks of `domain` out of the run queue, the others' order kept.
    fn take_ready(&mut self, domain: Domain) -> Vec<Runnable<Meta>> {
        let (taken, stay) = std::mem::take(&mut self.ready)
            .into_iter()
            .partition(|r| r.metadata().domain == domain);
        self.ready = stay;
        taken
    }

    /// Where a woken task goes: to run, to wait for a thaw, or to be dropped.
    fn schedule(&mut self, r: Runnable<Meta>) {
        let d = self.domain(r.metadata().domain);
        if d.dead {
            self.doomed.push(r);
        } else if d.frozen {
            d.held.push(r);
        } else {
            self.ready.push(r);
        }
    }

    /// `true` time as the clock of `domain` reads it.
    fn local_time(&mut self, domain: Domain, at: Duration) -> Duration {
        let ppm = self.domain(domain).drift_ppm;
        let nanos = at.as_nanos() as i128;
        let skewed = nanos + nanos * i128::from(ppm) / 1_000_000;
        Duration::from_nanos(skewed.max(0) as u64)
    }

    /// How long of true time `d` of the clock of `domain` lasts.
    fn true_span(&mut self, domain: Domain, d: Duration) -> Duration {
        let ppm = self.domain(domain).drift_ppm;
        let nanos = d.as_nanos() * 1_000_000 / (1_000_000 + i128::from(ppm)).max(1) as u128;
        Duration::from_nanos(nanos.min(u128::from(u64::MAX)) as u64)
    }

    fn note(&mut self, text: String) {
        if self.events.len() == self.keep_events {
            self.events.pop_front();
        }
        let at = self.now;
        self.events.push_back(format!(
            "{:>6}.{:06} {text}",
            at.as_secs(),
            at.subsec_micros()
        ));
    }
}

impl Sim {
    /// A simulation drawing every choice from `seed`.
    pub fn new(seed: u64) -> Sim {
        Sim {
            seed,
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    rng: seed,
                    now: Duration::ZERO,
                    ready: Vec::new(),
                    doomed: Vec::new(),
                    next_task: 0,
                    next_unique: 0,
                    timers: BinaryHeap::new(),
                    wakers: HashMap::new(),
                    next_timer: 0,
                    domains: vec![DomainState {
                        name: "observer".into(),
                        ..DomainState::default()
                    }],
                    trace: 0xcbf2_9ce4_8422_2325,
                    steps: 0,
                    events: VecDeque::new(),
                    keep_events: 200,
                }),
                origin: Instant::now(),
            }),
        }
    }

    /// The seed this simulation draws from.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Keeps the latest `n` events noted (default 200) for [`Sim::timeline`].
    pub fn keep_events(self, n: usize) -> Self {
        self.shared.lock().keep_events = n.max(1);
        self
    }

    /// Runs `main` and every task it spawns on this thread, until `main` ends. Panics if every
    /// task waits and no timer is set: nothing could ever happen again.
    pub fn run<F: Future>(&self, main: F) -> F::Output {
        struct Reset(Option<Arc<Shared>>, Domain);
        impl Drop for Reset {
            fn drop(&mut self) {
                CURRENT.with(|c| *c.borrow_mut() = self.0.take());
                RUNNING.with(|r| r.set(self.1));
            }
        }
        let _reset = Reset(
            CURRENT.with(|c| c.borrow_mut().replace(self.shared.clone())),
            RUNNING.with(|r| r.replace(Domain::OBSERVER)),
        );
        let woken = Arc::new(Flag(AtomicBool::new(true)));
        let waker = Waker::from(woken.clone());
        let mut main = pin!(main);
        loop {
            let doomed = std::mem::take(&mut self.shared.lock().doomed);
            if !doomed.is_empty() {
                for r in doomed {
                    RUNNING.with(|d| d.set(r.metadata().domain));
                    drop(r);
                }
                RUNNING.with(|d| d.set(Domain::OBSERVER));
                continue;
            }
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
                    let id = r.metadata().id;
                    st.record(id);
                    Some(r)
                }
            };
            match next {
                Some(runnable) => {
                    RUNNING.with(|d| d.set(runnable.metadata().domain));
                    runnable.run();
                    RUNNING.with(|d| d.set(Domain::OBSERVER));
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

    /// The latest events noted ([`note`]), one line each: virtual time, then what happened.
    pub fn timeline(&self) -> String {
        let st = self.shared.lock();
        let mut out = String::new();
        for e in &st.events {
            let _ = writeln!(out, "{e}");
        }
        out
    }
}

struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::Release);
    }
}

/// A task of the simulation.
pub(crate) type SimTask<T> = async_task::FallibleTask<T, Meta>;

/// Spawns `future` as a task of `domain`, in the simulation running on this thread.
pub(crate) fn spawn<F>(domain: Domain, future: F) -> SimTask<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let shared = current();
    let id = {
        let mut st = shared.lock();
        st.next_task += 1;
        st.next_task
    };
    let queue = Arc::downgrade(&shared);
    let schedule = move |r: Runnable<Meta>| {
        if let Some(shared) = queue.upgrade() {
            shared.lock().schedule(r);
        }
    };
    let (runnable, task) = async_task::Builder::new()
        .metadata(Meta { id, domain })
        .spawn(move |_| future, schedule);
    runnable.schedule();
    task.fallible()
}

/// A new domain: the tasks of one more simulated machine, named for the timeline.
pub fn new_domain(name: &str) -> Domain {
    let shared = current();
    let mut st = shared.lock();
    let d = Domain(st.domains.len() as u32);
    st.domain(d).name = name.to_string();
    d
}

/// Kills `domain`: its tasks never run again, and each is dropped as it is next woken (or at
/// once if ready), as the OS ends a killed process. A new domain stands for a restart.
pub fn kill(domain: Domain) {
    let shared = current();
    let mut st = shared.lock();
    let name = st_name(&mut st, domain);
    st.note(format!("kill {name}"));
    let d = st.domain(domain);
    d.dead = true;
    let held = std::mem::take(&mut d.held);
    st.doomed.extend(held);
    let gone = st.take_ready(domain);
    st.doomed.extend(gone);
}

/// Freezes `domain`: none of its tasks runs until [`thaw`]; its timers still come due.
pub fn freeze(domain: Domain) {
    let shared = current();
    let mut st = shared.lock();
    let name = st_name(&mut st, domain);
    st.note(format!("freeze {name}"));
    if st.domain(domain).dead {
        return;
    }
    st.domain(domain).frozen = true;
    let held = st.take_ready(domain);
    st.domain(domain).held.extend(held);
}

/// Lets a frozen `domain` run again.
pub fn thaw(domain: Domain) {
    let shared = current();
    let mut st = shared.lock();
    let name = st_name(&mut st, domain);
    st.note(format!("thaw {name}"));
    let d = st.domain(domain);
    d.frozen = false;
    let held = std::mem::take(&mut d.held);
    st.ready.extend(held);
}

/// True once `domain` was killed.
pub fn is_dead(domain: Domain) -> bool {
    current().lock().domain(domain).dead
}

/// True while `domain` is frozen.
pub fn is_frozen(domain: Domain) -> bool {
    current().lock().domain(domain).frozen
}

/// Makes the clock of `domain` run `ppm` parts per million fast (or slow, if negative): its
/// timers and `rt::now()` drift from the others', as a machine's crystal does.
pub fn set_drift(domain: Domain, ppm: i32) {
    current().lock().domain(domain).drift_ppm = ppm.clamp(-500_000, 500_000);
}

fn st_name(st: &mut State, d: Domain) -> String {
    st.domain(d).name.clone()
}

/// Notes an event for the timeline ([`Sim::timeline`]), with the time and the domain running.
pub fn note(text: impl std::fmt::Display) {
    let Some(shared) = CURRENT.with(|c| c.borrow().clone()) else {
        return;
    };
    let mut st = shared.lock();
    let who = st_name(&mut st, running_domain());
    st.note(format!("[{who}] {text}"));
}

/// A random number drawn from the simulation's seed (0 outside a simulation: what is dropped
/// after a run ends may still ask).
pub fn draw() -> u64 {
    CURRENT
        .with(|c| c.borrow().clone())
        .map_or(0, |s| s.lock().draw())
}

/// The simulation's true time (no domain's drift), since it started (zero outside one).
pub fn true_now() -> Duration {
    CURRENT
        .with(|c| c.borrow().clone())
        .map_or(Duration::ZERO, |s| s.lock().now)
}

/// The next of the simulation's unique numbers (`rt::unique`).
pub(crate) fn unique() -> u64 {
    let shared = current();
    let mut st = shared.lock();
    st.next_unique += 1;
    st.next_unique
}

/// The running domain's clock.
pub(crate) fn now() -> Instant {
    let shared = current();
    let mut st = shared.lock();
    let now = st.now;
    shared.origin + st.local_time(running_domain(), now)
}

/// Random bytes drawn from the simulation's seed.
pub(crate) fn fill_random(buf: &mut [u8]) {
    let shared = current();
    let mut st = shared.lock();
    for chunk in buf.chunks_mut(8) {
        let bytes = st.draw().to_le_bytes();
        chunk.copy_from_slice(&bytes[..chunk.len()]);
    }
}

/// Waits `duration` of the running domain's clock.
pub(crate) fn sleep(duration: Duration) -> Sleep {
    let shared = current();
    let at = {
        let mut st = shared.lock();
        st.now + st.true_span(running_domain(), duration)
    };
    Sleep {
        shared,
        at,
        seq: None,
    }
}

/// Waits until the simulation's true time is `at`: for the simulated world itself (links
/// delivering bytes), which keeps no domain's clock.
pub fn sleep_until(at: Duration) -> impl Future<Output = ()> + Send + 'static {
    Sleep {
        shared: current(),
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
