//! The async runtime seam: the only module that names async-std (and its executor,
//! async-global-executor).
//!
//! Everything in this workspace that spawns a task, sleeps, reads the clock, draws random
//! bytes or opens a socket does it through here, so that moving to another runtime (or to a
//! simulated one, in virtual time and with seeded randomness) is a change to this one file.
//!
//! Tasks are spawned on async-std's executor directly rather than through
//! `async_std::task::spawn`, which wraps every task in task-local storage nobody here uses:
//! a process is a task, and that wrapper would cost every idle process memory and every spawn
//! time.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// A handle to a spawned task; awaiting it yields the task's output.
///
/// Dropping the handle detaches the task; [`JoinHandle::cancel`] stops it.
pub struct JoinHandle<T>(Option<Task<T>>);

enum Task<T> {
    Pool(async_global_executor::Task<T>),
    #[cfg(feature = "sim")]
    Sim(crate::sim::SimTask<T>),
}

impl<T> JoinHandle<T> {
    /// Stops the task at its next suspension point and waits until it is gone.
    pub async fn cancel(mut self) -> Option<T> {
        match self.0.take()? {
            Task::Pool(t) => t.cancel().await,
            #[cfg(feature = "sim")]
            Task::Sim(t) => t.cancel().await,
        }
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        match self.0.take() {
            Some(Task::Pool(t)) => t.detach(),
            #[cfg(feature = "sim")]
            Some(Task::Sim(t)) => t.detach(),
            None => {}
        }
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = T;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        match self
            .0
            .as_mut()
            .expect("a JoinHandle is polled only until it completes")
        {
            Task::Pool(t) => Pin::new(t).poll(cx),
            // A task of a killed simulated machine never ends, as a killed OS process's
            // work never does.
            #[cfg(feature = "sim")]
            Task::Sim(t) => match Pin::new(t).poll(cx) {
                Poll::Ready(Some(out)) => Poll::Ready(out),
                _ => Poll::Pending,
            },
        }
    }
}

/// True while a simulation (feature `sim`) runs on this thread: every call below goes to it.
#[inline]
pub fn simulated() -> bool {
    #[cfg(feature = "sim")]
    {
        crate::sim::active()
    }
    #[cfg(not(feature = "sim"))]
    {
        false
    }
}

/// Runs `f` outside any simulation running on this thread: for what is made once per OS
/// process and outlives a simulation.
pub(crate) fn outside_simulation<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(feature = "sim")]
    if simulated() {
        return crate::sim::outside(f);
    }
    f()
}

pub use crate::domain::Domain;

/// The domain of the running task: what a node made now belongs to.
pub fn current_domain() -> Domain {
    #[cfg(feature = "sim")]
    if simulated() {
        return crate::sim::running_domain();
    }
    Domain::OBSERVER
}

/// Runs `future` on the shared thread pool (or, in a simulation, as a task of the domain of
/// the task running now).
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    spawn_in(current_domain(), future)
}

/// Runs `future` as a task of `domain`: in a simulation, a node's processes run in the
/// node's domain whoever spawns them. Outside one, the same as [`spawn`].
pub fn spawn_in<F>(domain: Domain, future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    #[cfg(feature = "sim")]
    if simulated() {
        return JoinHandle(Some(Task::Sim(crate::sim::spawn(domain, future))));
    }
    let _ = domain;
    #[cfg(feature = "tokio")]
    let future = tokio_context::InTokio { future };
    JoinHandle(Some(Task::Pool(async_global_executor::spawn(future))))
}

/// The tokio runtime whose context every task is polled in (feature `tokio`): the one the
/// application runs (`#[tokio::main]`) if the first task is spawned from inside it, or else
/// one of our own with a single worker thread, which drives tokio's timers and sockets.
#[cfg(feature = "tokio")]
pub fn tokio_handle() -> &'static tokio::runtime::Handle {
    use std::sync::OnceLock;
    static HANDLE: OnceLock<tokio::runtime::Handle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        if let Ok(current) = tokio::runtime::Handle::try_current() {
            return current;
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("actors-tokio")
            .enable_all()
            .build()
            .expect("a tokio runtime starts");
        let handle = runtime.handle().clone();
        // Lives as long as the process: tasks may hold its timers and sockets at any time.
        std::mem::forget(runtime);
        handle
    })
}

#[cfg(feature = "tokio")]
mod tokio_context {
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    pin_project_lite::pin_project! {
        /// A future polled inside a tokio runtime's context.
        pub(super) struct InTokio<F> {
            #[pin]
            pub(super) future: F,
        }
    }

    thread_local! {
        static ENTERED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }

    impl<F: Future> Future for InTokio<F> {
        type Output = F::Output;
        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
            // The context is entered once per thread and stays: entering it at every poll
            // costs two atomic operations on the runtime's handle, a third of a cast.
            if !ENTERED.with(std::cell::Cell::get) {
                std::mem::forget(super::tokio_handle().enter());
                ENTERED.with(|e| e.set(true));
            }
            self.project().future.poll(cx)
        }
    }
}

/// Runs `future` to completion on the current thread, driving the pool meanwhile.
///
/// ```
/// assert_eq!(actors::rt::block_on(async { 1 + 1 }), 2);
/// ```
pub fn block_on<F: Future>(future: F) -> F::Output {
    assert!(
        !simulated(),
        "block_on inside a simulation would stop it: await the future instead"
    );
    async_std::task::block_on(future)
}

/// Runs blocking code on a thread meant for it, so it does not stall the pool.
pub fn spawn_blocking<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    if simulated() {
        return spawn(async move { f() });
    }
    let blocking = async_std::task::spawn_blocking(f);
    spawn(blocking)
}

/// A point in time of the runtime's clock: every timer, deadline and back-off in the
/// workspace reads this clock, never the OS's directly.
pub type Instant = std::time::Instant;

/// The runtime's clock, now.
pub fn now() -> Instant {
    #[cfg(feature = "sim")]
    if simulated() {
        return crate::sim::now();
    }
    std::time::Instant::now()
}

/// How long since `since`, by the runtime's clock.
pub fn elapsed(since: Instant) -> Duration {
    now().saturating_duration_since(since)
}

/// Microseconds since the Unix epoch by the wall clock: a number that a node's next run
/// starts above this run's (in a simulation, the virtual time since it began).
pub fn wall_micros() -> u64 {
    #[cfg(feature = "sim")]
    if simulated() {
        return u64::try_from(crate::sim::true_now().as_micros()).unwrap_or(u64::MAX);
    }
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// Fills `buf` with random bytes (from the OS).
pub fn fill_random(buf: &mut [u8]) -> Result<(), String> {
    #[cfg(feature = "sim")]
    if simulated() {
        crate::sim::fill_random(buf);
        return Ok(());
    }
    getrandom::fill(buf).map_err(|e| format!("no randomness: {e}"))
}

/// A number no other call in this OS process returns (in a simulation: in this simulation,
/// counting from 1 on every run, so that ids are the same on each run of a seed).
pub fn unique() -> u64 {
    #[cfg(feature = "sim")]
    if simulated() {
        return crate::sim::unique();
    }
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The hasher of [`HashMap`] and [`HashSet`]: keyed at random per map, so a peer cannot
/// choose keys that collide, yet in a simulation keyed from the seed, so that a map's order,
/// and every loop over it, is the same on each run of a seed.
#[derive(Clone, Debug)]
pub struct RandomState(u64);

impl Default for RandomState {
    fn default() -> Self {
        #[cfg(feature = "sim")]
        if simulated() {
            return RandomState(crate::sim::draw());
        }
        use std::sync::OnceLock;
        use std::sync::atomic::{AtomicU64, Ordering};
        static BASE: OnceLock<u64> = OnceLock::new();
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let base = *BASE.get_or_init(|| {
            let mut b = [0u8; 8];
            let _ = getrandom::fill(&mut b);
            u64::from_le_bytes(b)
        });
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        RandomState(base ^ n.wrapping_mul(0x9e37_79b9_7f4a_7c15))
    }
}

impl std::hash::BuildHasher for RandomState {
    type Hasher = std::collections::hash_map::DefaultHasher;
    fn build_hasher(&self) -> Self::Hasher {
        use std::hash::Hasher;
        let mut h = std::collections::hash_map::DefaultHasher::new();
        h.write_u64(self.0);
        h
    }
}

/// A hash map keyed by [`RandomState`]: what the workspace's tables use.
pub type HashMap<K, V> = std::collections::HashMap<K, V, RandomState>;

/// A hash set keyed by [`RandomState`].
pub type HashSet<T> = std::collections::HashSet<T, RandomState>;

/// Waits for `duration`.
pub async fn sleep(duration: Duration) {
    #[cfg(feature = "sim")]
    if simulated() {
        return crate::sim::sleep(duration).await;
    }
    async_std::task::sleep(duration).await
}

/// Lets other tasks run before this one continues.
pub async fn yield_now() {
    async_std::task::yield_now().await
}

/// The error of [`timeout`]: the deadline passed first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("deadline has elapsed")]
pub struct Elapsed;

/// Awaits `future`, giving up after `duration`.
pub async fn timeout<F: Future>(duration: Duration, future: F) -> Result<F::Output, Elapsed> {
    #[cfg(feature = "sim")]
    if simulated() {
        let future = std::pin::pin!(future);
        let timer = std::pin::pin!(crate::sim::sleep(duration));
        return match futures::future::select(future, timer).await {
            futures::future::Either::Left((out, _)) => Ok(out),
            futures::future::Either::Right(_) => Err(Elapsed),
        };
    }
    async_std::future::timeout(duration, future)
        .await
        .map_err(|_| Elapsed)
}

/// TCP and UDP sockets of the runtime.
pub mod net {
    pub use async_std::net::{TcpListener, TcpStream, UdpSocket};
}

/// Async byte-stream traits and helpers of the runtime.
pub mod io {
    pub use async_std::io::{BufReader, BufWriter, ReadExt, WriteExt};
    pub use futures::io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncWrite};
}
