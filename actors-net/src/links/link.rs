//! One overlay link: a stream to a neighbour, after the cookie handshake, with a queue of
//! frames to write and the tasks that write and read them.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use actors::dist::Unpoisoned;
use actors::dist::rt::io::{AsyncRead, AsyncWrite, ReadExt, WriteExt};

use crate::overlay::wire::{self, LinkFrame};

/// Frames waiting to be written.
#[derive(Default)]
struct Outbox {
    frames: VecDeque<Vec<u8>>,
    bytes: usize,
    writer: Option<Waker>,
    /// Senders waiting for the queue to shrink.
    space: Vec<Waker>,
}

/// A link to a neighbour.
pub(crate) struct Link {
    /// The neighbour, as the handshake proved it.
    pub(crate) peer: String,
    /// This link's own number on this node: a message about a link names it, so one about
    /// a link since replaced is known as such.
    pub(crate) id: u64,
    /// The node that dialled. Of two links between the same two nodes, both keep the one
    /// the smaller name dialled, so both agree without a word.
    pub(crate) dialled_by: String,
    out: Mutex<Outbox>,
    received: AtomicU64,
    received_bytes: AtomicU64,
    written: AtomicU64,
    closed: AtomicBool,
    close: Box<dyn Fn() + Send + Sync>,
}

impl Link {
    pub(crate) fn new(
        peer: String,
        id: u64,
        dialled_by: String,
        close: Box<dyn Fn() + Send + Sync>,
    ) -> Self {
        Link {
            peer,
            id,
            dialled_by,
            out: Mutex::new(Outbox::default()),
            received: AtomicU64::new(0),
            received_bytes: AtomicU64::new(0),
            written: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            close,
        }
    }

    fn out(&self) -> MutexGuard<'_, Outbox> {
        self.out.lock().unpoisoned()
    }

    /// Queues an encoded frame; false if the link is closed.
    pub(crate) fn send(&self, frame: Vec<u8>) -> bool {
        if self.is_closed() {
            return false;
        }
        let waker = {
            let mut out = self.out();
            out.bytes += frame.len();
            out.frames.push_back(frame);
            out.writer.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
        true
    }

    /// Queues a frame passed on for others, unless `limit` bytes are queued already: then it
    /// is dropped, and the session it belongs to resets at its end (a relay never holds
    /// more than its limit for nodes it does not serve).
    pub(crate) fn forward(&self, frame: Vec<u8>, limit: usize) -> bool {
        if self.out().bytes > limit {
            return false;
        }
        self.send(frame)
    }

    /// Ready once fewer than `limit` bytes are queued (or the link is closed).
    pub(crate) fn poll_room(&self, cx: &mut Context<'_>, limit: usize) -> Poll<()> {
        let mut out = self.out();
        if out.bytes < limit || self.is_closed() {
            return Poll::Ready(());
        }
        out.space.push(cx.waker().clone());
        Poll::Pending
    }

    /// Frames and bytes read so far.
    pub(crate) fn received(&self) -> (u64, u64) {
        (
            self.received.load(Ordering::Relaxed),
            self.received_bytes.load(Ordering::Relaxed),
        )
    }

    /// Frames read and batches written so far, for the heartbeat.
    pub(crate) fn traffic(&self) -> (u64, u64) {
        (
            self.received.load(Ordering::Relaxed),
            self.written.load(Ordering::Relaxed),
        )
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Closes the link: the stream is shut, its tasks end, queued frames are dropped.
    /// False if it already was.
    pub(crate) fn shut(&self) -> bool {
        if self.closed.swap(true, Ordering::AcqRel) {
            return false;
        }
        (self.close)();
        let wakers = {
            let mut out = self.out();
            out.frames.clear();
            out.bytes = 0;
            let mut wakers = std::mem::take(&mut out.space);
            wakers.extend(out.writer.take());
            wakers
        };
        wakers.into_iter().for_each(Waker::wake);
        true
    }

    /// Takes every queued frame into `batch`; `None` once the link is closed.
    fn poll_batch(&self, cx: &mut Context<'_>, batch: &mut Vec<u8>) -> Poll<Option<()>> {
        let mut out = self.out();
        if self.is_closed() {
            return Poll::Ready(None);
        }
        if out.frames.is_empty() {
            out.writer = Some(cx.waker().clone());
            return Poll::Pending;
        }
        batch.clear();
        for frame in out.frames.drain(..) {
            batch.extend_from_slice(&frame);
        }
        out.bytes = 0;
        let wakers = std::mem::take(&mut out.space);
        drop(out);
        wakers.into_iter().for_each(Waker::wake);
        Poll::Ready(Some(()))
    }
}

/// Writes the link's frames as they are queued, many to a write.
pub(crate) async fn write_loop(
    link: Arc<Link>,
    mut writer: Box<dyn AsyncWrite + Send + Unpin>,
) -> std::io::Result<()> {
    let mut batch = Vec::new();
    while std::future::poll_fn(|cx| link.poll_batch(cx, &mut batch))
        .await
        .is_some()
    {
        writer.write_all(&batch).await?;
        writer.flush().await?;
        link.written.fetch_add(1, Ordering::Relaxed);
        if batch.capacity() > 1 << 20 {
            batch = Vec::new();
        }
    }
    Ok(())
}

/// Reads the link's frames and hands each, with its encoded body, to `take` until the link
/// closes or a frame is refused. Returns why it ended.
pub(crate) async fn read_loop(
    link: &Link,
    mut reader: Box<dyn AsyncRead + Send + Unpin>,
    max_frame: usize,
    budget: &crate::io::PartialBudget,
    mut take: impl FnMut(LinkFrame, &[u8]) -> Result<(), String>,
) -> String {
    let mut body = Vec::new();
    loop {
        if link.is_closed() {
            return "closed".into();
        }
        let mut prefix = [0u8; wire::LEN];
        if let Err(e) = reader.read_exact(&mut prefix).await {
            return format!("read failed: {e}");
        }
        let len = u32::from_be_bytes(prefix) as usize;
        if len == 0 || len > max_frame {
            return format!("an overlay frame of {len} bytes (at most {max_frame})");
        }
        let held = match crate::io::read_body(&mut reader, &mut body, len, budget).await {
            Ok(held) => held,
            Err(e) => return e,
        };
        link.received.fetch_add(1, Ordering::Relaxed);
        link.received_bytes
            .fetch_add((wire::LEN + len) as u64, Ordering::Relaxed);
        let result = wire::decode(&body).and_then(|frame| take(frame, &body));
        drop(held);
        if let Err(e) = result {
            return e;
        }
        if body.capacity() > 1 << 20 {
            body = Vec::new();
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::links::link::Link;

    #[test]
    fn a_relay_holds_no_more_than_its_limit_for_others_but_its_own_frames_queue() {
        let link = Link::new("peer".into(), 1, "me".into(), Box::new(|| {}));
        assert!(link.forward(vec![0; 600], 1000));
        assert!(link.forward(vec![0; 600], 1000));
        // Past the limit: dropped, so the session it belongs to resets at its end.
        assert!(!link.forward(vec![0; 10], 1000));
        // A frame of this node's own is queued; its sender waits for room instead.
        assert!(link.send(vec![0; 10]));
        assert!(link.shut());
        assert!(!link.send(vec![0; 10]));
        assert!(!link.shut());
    }
}
