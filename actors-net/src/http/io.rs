//! The runtime's sockets and timers as hyper wants them: hyper runs on any runtime that
//! hands it byte streams and sleeps.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use actors::dist::rt::io::{AsyncRead, AsyncWrite};

/// A byte stream of the runtime, read and written by hyper.
pub(crate) struct Io<S>(pub(crate) S);

impl<S: AsyncRead + Unpin> hyper::rt::Read for Io<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        // Through a buffer of its own: filling hyper's uninitialised one directly needs
        // unsafe code, and a page served to a person does not need the copy saved.
        let mut tmp = [0u8; 8192];
        let want = buf.remaining().min(tmp.len());
        let n = ready!(Pin::new(&mut self.0).poll_read(cx, &mut tmp[..want]))?;
        buf.put_slice(&tmp[..n]);
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> hyper::rt::Write for Io<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_close(cx)
    }
}

/// The runtime's timer, for hyper's time limits (how long a request's head may take).
#[derive(Clone, Copy)]
pub(crate) struct Timer;

type SleepFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// One sleep. hyper wants it `Sync`; the mutex makes it so without being locked, since
/// polling has the sleep to itself.
struct Sleep(std::sync::Mutex<SleepFuture>);

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match self.get_mut().0.get_mut() {
            Ok(sleep) => sleep.as_mut().poll(cx),
            // A sleep that panicked while polled once is over.
            Err(_) => Poll::Ready(()),
        }
    }
}

impl hyper::rt::Sleep for Sleep {}

impl hyper::rt::Timer for Timer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(Sleep(std::sync::Mutex::new(Box::pin(actors::rt::sleep(
            duration,
        )))))
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        self.sleep(deadline.saturating_duration_since(actors::rt::now()))
    }
}
