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
pub struct JoinHandle<T>(Option<async_global_executor::Task<T>>);

impl<T> JoinHandle<T> {
    /// Stops the task at its next suspension point and waits until it is gone.
    pub async fn cancel(mut self) -> Option<T> {
        self.0.take()?.cancel().await
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        if let Some(task) = self.0.take() {
            task.detach();
        }
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = T;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let task = self
            .0
            .as_mut()
            .expect("a JoinHandle is polled only until it completes");
        Pin::new(task).poll(cx)
    }
}

/// Runs `future` on the shared thread pool.
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    JoinHandle(Some(async_global_executor::spawn(future)))
}

/// Runs `future` to completion on the current thread, driving the pool meanwhile.
///
/// ```
/// assert_eq!(actors::rt::block_on(async { 1 + 1 }), 2);
/// ```
pub fn block_on<F: Future>(future: F) -> F::Output {
    async_std::task::block_on(future)
}

/// Runs blocking code on a thread meant for it, so it does not stall the pool.
pub fn spawn_blocking<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let blocking = async_std::task::spawn_blocking(f);
    spawn(blocking)
}

/// A point in time of the runtime's clock: every timer, deadline and back-off in the
/// workspace reads this clock, never the OS's directly.
pub type Instant = std::time::Instant;

/// The runtime's clock, now.
pub fn now() -> Instant {
    std::time::Instant::now()
}

/// How long since `since`, by the runtime's clock.
pub fn elapsed(since: Instant) -> Duration {
    now().saturating_duration_since(since)
}

/// Fills `buf` with random bytes (from the OS).
pub fn fill_random(buf: &mut [u8]) -> Result<(), String> {
    getrandom::fill(buf).map_err(|e| format!("no randomness: {e}"))
}

/// Waits for `duration`.
pub async fn sleep(duration: Duration) {
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
    async_std::future::timeout(duration, future)
        .await
        .map_err(|_| Elapsed)
}

/// TCP sockets of the runtime.
pub mod net {
    pub use async_std::net::{TcpListener, TcpStream};
}

/// Async byte-stream traits and helpers of the runtime.
pub mod io {
    pub use async_std::io::{BufReader, BufWriter, ReadExt, WriteExt};
    pub use futures::io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncWrite};
}
