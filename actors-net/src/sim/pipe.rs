//! One direction of a simulated connection: bytes in order, each write arriving after a
//! latency drawn from the seed and never before the write ahead of it (TCP keeps order).

use actors::dist::Unpoisoned;
use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::io::{AsyncRead, AsyncWrite};

use super::links::Links;

/// How a direction ended, as its reader will see it once the end arrives.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum End {
    /// The writer closed: end of stream.
    Fin,
    /// The connection was reset (the peer's machine died, or the link was cut).
    Reset,
}

pub(crate) struct PipeState {
    /// Bytes on their way, each write with the time it arrives.
    chunks: VecDeque<(Duration, Vec<u8>)>,
    /// When the last write arrives: a later write never arrives before it.
    last_due: Duration,
    /// How the direction ends, and when its reader learns it.
    end: Option<(Duration, End)>,
    /// The reading side closed its own connection: it reads nothing more.
    closed_here: bool,
    /// Writes fail from then on: the reading side is gone, and its reset has reached the
    /// writer (until then what is written is lost, as it is sent to a closed socket).
    broken_at: Option<Duration>,
    reader: Option<Waker>,
}

/// One direction, from host `from` to host `to`.
pub(crate) struct Pipe {
    pub(crate) from: String,
    pub(crate) to: String,
    state: Mutex<PipeState>,
}

impl Pipe {
    pub(crate) fn new(from: &str, to: &str) -> Arc<Pipe> {
        Arc::new(Pipe {
            from: from.to_string(),
            to: to.to_string(),
            state: Mutex::new(PipeState {
                chunks: VecDeque::new(),
                last_due: Duration::ZERO,
                end: None,
                closed_here: false,
                broken_at: None,
                reader: None,
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, PipeState> {
        self.state.lock().unpoisoned()
    }

    /// The writer's end, arriving after `latency` (behind every byte already written).
    pub(crate) fn end(&self, how: End, latency: Duration) {
        let waker = {
            let mut st = self.lock();
            if st
                .end
                .is_some_and(|(_, e)| e == End::Reset || how == End::Fin)
            {
                return;
            }
            let at = (actors::sim::true_now() + latency).max(st.last_due);
            st.end = Some((at, how));
            st.reader.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// The reading side closed: it reads no more, and writes to it fail once its reset
    /// reaches the writer, `latency` from now.
    pub(crate) fn close_here(&self, latency: Duration) {
        let waker = {
            let mut st = self.lock();
            st.closed_here = true;
            st.chunks.clear();
            let at = actors::sim::true_now() + latency;
            st.broken_at = Some(st.broken_at.map_or(at, |b| b.min(at)));
            st.reader.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Writes fail once the peer's reset arrives, `latency` from now.
    pub(crate) fn break_writes(&self, latency: Duration) {
        let mut st = self.lock();
        let at = actors::sim::true_now() + latency;
        st.broken_at = Some(st.broken_at.map_or(at, |b| b.min(at)));
    }

    /// Wakes the reader to look again (a partition healed).
    pub(crate) fn nudge(&self) {
        let waker = self.lock().reader.take();
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Both sides are done with this direction: its writer ended it and its reader closed.
    pub(crate) fn is_finished(&self) -> bool {
        let st = self.lock();
        st.end.is_some() && st.closed_here
    }

    /// Bytes still on their way.
    pub(crate) fn in_flight(&self) -> usize {
        self.lock().chunks.iter().map(|(_, c)| c.len()).sum()
    }
}

/// The reading end of a pipe.
pub(crate) struct Reader {
    pub(crate) pipe: Arc<Pipe>,
    pub(crate) links: Arc<Links>,
    /// A timer for the first chunk still on its way.
    timer: Option<(Duration, BoxFuture<'static, ()>)>,
    /// Keeps the connection open while either half lives.
    pub(crate) _hold: Arc<dyn Send + Sync>,
}

impl Reader {
    pub(crate) fn new(pipe: Arc<Pipe>, links: Arc<Links>, hold: Arc<dyn Send + Sync>) -> Self {
        Reader {
            pipe,
            links,
            timer: None,
            _hold: hold,
        }
    }
}

impl AsyncRead for Reader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        loop {
            let blocked = self.links.blocked(&self.pipe.from, &self.pipe.to);
            let wait_until = {
                let mut st = self.pipe.lock();
                if st.closed_here {
                    return Poll::Ready(Ok(0));
                }
                st.reader = Some(cx.waker().clone());
                if blocked {
                    // Nothing crosses a partition; what is in flight waits for the heal, as
                    // TCP retransmits.
                    return Poll::Pending;
                }
                let now = actors::sim::true_now();
                match st.chunks.front_mut() {
                    Some((due, chunk)) if *due <= now => {
                        let n = buf.len().min(chunk.len());
                        buf[..n].copy_from_slice(&chunk[..n]);
                        chunk.drain(..n);
                        if chunk.is_empty() {
                            st.chunks.pop_front();
                        }
                        return Poll::Ready(Ok(n));
                    }
                    Some((due, _)) => *due,
                    None => match st.end {
                        Some((at, End::Fin)) if at <= now => return Poll::Ready(Ok(0)),
                        Some((at, End::Reset)) if at <= now => {
                            return Poll::Ready(Err(io::ErrorKind::ConnectionReset.into()));
                        }
                        Some((at, _)) => at,
                        None => return Poll::Pending,
                    },
                }
            };
            let stale = self.timer.as_ref().is_none_or(|(at, _)| *at != wait_until);
            if stale {
                self.timer = Some((wait_until, Box::pin(actors::sim::sleep_until(wait_until))));
            }
            let (_, timer) = self.timer.as_mut().expect("set above");
            match timer.as_mut().poll(cx) {
                Poll::Ready(()) => self.timer = None,
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

/// The writing end of a pipe.
pub(crate) struct Writer {
    pub(crate) pipe: Arc<Pipe>,
    pub(crate) links: Arc<Links>,
    pub(crate) _hold: Arc<dyn Send + Sync>,
}

impl AsyncWrite for Writer {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let latency = self.links.latency();
        let waker = {
            let mut st = self.pipe.lock();
            let now = actors::sim::true_now();
            if st.end.is_some() || st.broken_at.is_some_and(|at| at <= now) {
                return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
            }
            if st.closed_here {
                // Sent to a closed socket: lost, and answered by a reset on its way.
                return Poll::Ready(Ok(buf.len()));
            }
            let due = (actors::sim::true_now() + latency).max(st.last_due);
            st.last_due = due;
            st.chunks.push_back((due, buf.to_vec()));
            st.reader.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let latency = self.links.latency();
        self.pipe.end(End::Fin, latency);
        Poll::Ready(Ok(()))
    }
}
