//! One connection to one peer node: its outbound queue, its writer and reader, the calls in
//! flight on it, and the links and monitors that cross it.
//!
//! Senders append encoded frames to one byte buffer under a short lock; the writer swaps the
//! whole buffer out and writes it in one call, so frames batch under load. A frame that finds
//! the connection idle (the writer parked, no frame sent in the last few microseconds) is
//! written by its sender at once, as Erlang's ports do: a call and its reply then cost no hop
//! to the writer's task, which on an idle machine means no wake-up of another CPU. A
//! connection exists from the moment something wants to reach the peer: frames queue while
//! it connects, and are dropped (calls failing with `NoConnection`) if it fails.

use actors::dist::rt::{HashMap, HashSet};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use actors::dist::rt::io::AsyncWrite;

use actors::dist::Unpoisoned;
use std::task::{Context, Poll, Waker};

use actors::dist::{PendingCall, Watcher};
use actors::{AnyPid, MonitorRef, NodeId};
use futures::channel::oneshot;

pub(crate) fn lock<T: ?Sized>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unpoisoned()
}

/// What crosses one connection now, for monitoring and leak checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct ConnectionInfo {
    /// Links between a process here and one there.
    pub links: usize,
    /// Monitors processes here hold on processes there (including one per process-group
    /// scope both nodes run: the scopes' servers watch each other).
    pub monitors_held: usize,
    /// Monitors processes there hold on processes here.
    pub monitors_served: usize,
    /// Calls sent there awaiting their reply.
    pub pending_calls: usize,
    /// Bytes waiting to be written.
    pub queued_bytes: usize,
    /// Frames received over this connection so far (heartbeats included).
    pub frames_in: u64,
    /// Bytes of those frames, length prefixes included.
    pub bytes_in: u64,
    /// Frames queued for the peer so far (ticks included).
    pub frames_out: u64,
    /// Bytes written to the peer so far, length prefixes included.
    pub bytes_out: u64,
    /// How long ago the heartbeat last found traffic from the peer: a healthy connection
    /// stays below one heartbeat interval; one that nears the interval times the misses
    /// allowed is about to be declared down.
    pub heard_ago: Duration,
    /// The round trip of the last [`DistNode::ping`](crate::DistNode::ping) over this
    /// connection, if any was answered.
    pub round_trip: Option<Duration>,
}

/// Frames and bytes each way over all of a node's connections since it started, those
/// that have ended included.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct Traffic {
    /// Frames received.
    pub frames_in: u64,
    /// Bytes received, length prefixes included.
    pub bytes_in: u64,
    /// Frames queued for peers.
    pub frames_out: u64,
    /// Bytes written to peers.
    pub bytes_out: u64,
}

impl Traffic {
    pub(crate) fn add(&mut self, info: &ConnectionInfo) {
        self.frames_in += info.frames_in;
        self.bytes_in += info.bytes_in;
        self.frames_out += info.frames_out;
        self.bytes_out += info.bytes_out;
    }
}

/// How a connection came to be, while it is being set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    /// This node is dialling.
    Dialing,
    /// The peer dialled, and this node is answering.
    Accepting,
}

pub(crate) enum State {
    Connecting(Side),
    Up,
    Down(String),
}

/// Links and monitors that cross this connection, so that losing it resolves every one.
#[derive(Default)]
pub(crate) struct Ties {
    /// (local process, remote process) pairs linked across the connection.
    pub(crate) links: HashSet<(AnyPid, AnyPid)>,
    /// Monitors local watchers hold on remote processes, by monitor ref.
    pub(crate) watching: HashMap<u64, (Watcher, AnyPid)>,
    /// Monitors the peer holds on local processes: the peer's ref -> (local ref, local pid).
    pub(crate) watched: HashMap<u64, (MonitorRef, AnyPid)>,
}

struct Out {
    buf: Vec<u8>,
    /// Bytes the writer has taken but not yet written.
    writing: usize,
    writer: Option<Waker>,
    /// Senders waiting for the queue to drain below the soft limit.
    space: Vec<Waker>,
    /// Frames queued so far, and bytes written: counted under the lock senders take anyway.
    frames: u64,
    sent_bytes: u64,
    /// A sender wrote through, and the stream's flush did not finish: the writer flushes.
    unflushed: bool,
    /// When a frame last went out: a sender finished writing it through, or the writer
    /// took a batch.
    sent_at: Option<Instant>,
}

/// Frames closer together than this are a burst: after one goes straight out, the rest go
/// to the writer, which writes them in batches (a write per frame would cost a burst of
/// casts most of its rate).
const BURST: Duration = Duration::from_micros(5);

/// The stream's writing half.
pub(crate) type Writer = Box<dyn AsyncWrite + Send + Unpin>;

/// Why a frame could not be queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum QueueError {
    Closed,
    Overloaded,
}

pub(crate) struct Conn {
    /// The peer's name, as dialled or as it introduced itself.
    pub(crate) name: String,
    /// This connection's identity, unique within this node's run: what arrives on it, and
    /// what is said about it, is tagged with it, so news of an old connection never acts on
    /// a new one.
    pub(crate) link: u64,
    /// Set when the connection is being closed on purpose: the writer sends what is queued
    /// (a goodbye last) before it cuts the stream.
    flush_then_cut: AtomicBool,
    /// The peer's name and creation, once the handshake has told.
    peer: Mutex<Option<NodeId>>,
    state: Mutex<State>,
    /// Tasks waiting for the connection to be up or down.
    state_waiters: Mutex<Vec<Waker>>,
    closed: AtomicBool,
    out: Mutex<Out>,
    /// The stream's writing half, once up: the writer task's, and a sender's that finds the
    /// connection idle. Locked only inside a poll, never across an await.
    stream: Mutex<Option<Writer>>,
    /// Cuts the transport stream, once installed.
    cut: Mutex<Option<Box<dyn Fn() + Send + Sync>>>,
    pub(crate) pending: Mutex<HashMap<u64, Box<dyn PendingCall>>>,
    /// Remote name lookups awaiting their answer.
    pub(crate) lookups: Mutex<HashMap<u64, oneshot::Sender<Option<AnyPid>>>>,
    /// Remote spawns awaiting their answer.
    pub(crate) spawns: Mutex<HashMap<u64, oneshot::Sender<Result<AnyPid, String>>>>,
    /// Pings awaiting their answer, with when each was sent.
    pub(crate) pings: Mutex<HashMap<u64, (Instant, oneshot::Sender<Duration>)>>,
    /// The last round trip measured by a ping, in nanoseconds; 0 before the first.
    round_trip_ns: AtomicU64,
    /// When the heartbeat last found traffic from the peer (or the connection began).
    heard_at: Mutex<Instant>,
    next_call: AtomicU64,
    pub(crate) ties: Mutex<Ties>,
    /// Frames received and batches written so far: the heartbeat compares them between its
    /// ticks, which costs less than reading the clock for every frame.
    received: AtomicU64,
    received_bytes: AtomicU64,
    written: AtomicU64,
    soft_limit: usize,
    hard_limit: usize,
}

impl Conn {
    pub(crate) fn new(name: &str, link: u64, side: Side, soft_limit: usize) -> Self {
        Conn {
            name: name.to_string(),
            link,
            flush_then_cut: AtomicBool::new(false),
            peer: Mutex::new(None),
            state: Mutex::new(State::Connecting(side)),
            state_waiters: Mutex::new(Vec::new()),
            closed: AtomicBool::new(false),
            out: Mutex::new(Out {
                buf: Vec::new(),
                writing: 0,
                writer: None,
                space: Vec::new(),
                frames: 0,
                sent_bytes: 0,
                unflushed: false,
                sent_at: None,
            }),
            stream: Mutex::new(None),
            cut: Mutex::new(None),
            pending: Mutex::new(HashMap::default()),
            lookups: Mutex::new(HashMap::default()),
            spawns: Mutex::new(HashMap::default()),
            pings: Mutex::new(HashMap::default()),
            round_trip_ns: AtomicU64::new(0),
            heard_at: Mutex::new(actors::rt::now()),
            next_call: AtomicU64::new(1),
            ties: Mutex::new(Ties::default()),
            received: AtomicU64::new(0),
            received_bytes: AtomicU64::new(0),
            written: AtomicU64::new(0),
            soft_limit,
            hard_limit: soft_limit.saturating_mul(4),
        }
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    pub(crate) fn is_up(&self) -> bool {
        matches!(*self.state(), State::Up)
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Marks the connection up over a stream that `cut` can close.
    pub(crate) fn set_up(&self, peer: NodeId, cut: Box<dyn Fn() + Send + Sync>) {
        *lock(&self.peer) = Some(peer);
        *lock(&self.cut) = Some(cut);
        self.heard();
        *self.state() = State::Up;
        self.wake_state_waiters();
        // Frames queued while connecting can go now.
        if let Some(w) = lock(&self.out).writer.take() {
            w.wake();
        }
    }

    /// The peer's name and creation, once the handshake has told.
    pub(crate) fn peer_id(&self) -> Option<NodeId> {
        lock(&self.peer).clone()
    }

    /// Marks the connection down; false if it already was. Cuts the stream and wakes
    /// everyone; with `flush`, the writer first sends what is queued, then cuts.
    pub(crate) fn set_down(&self, reason: &str, flush: bool) -> bool {
        {
            let mut st = self.state();
            if matches!(*st, State::Down(_)) {
                return false;
            }
            let was_up = matches!(*st, State::Up);
            *st = State::Down(reason.to_string());
            self.flush_then_cut
                .store(flush && was_up, Ordering::Release);
        }
        self.closed.store(true, Ordering::Release);
        if !self.flush_then_cut.load(Ordering::Acquire) {
            self.cut();
        }
        let (writer, space) = {
            let mut out = lock(&self.out);
            if !self.flush_then_cut.load(Ordering::Acquire) {
                out.buf = Vec::new();
            }
            (out.writer.take(), std::mem::take(&mut out.space))
        };
        for w in writer.into_iter().chain(space) {
            w.wake();
        }
        self.wake_state_waiters();
        true
    }

    /// Cuts the transport stream, if it is not cut already, and drops its writing half:
    /// nobody writes to it any more.
    pub(crate) fn cut(&self) {
        if let Some(cut) = lock(&self.cut).take() {
            cut();
        }
        *lock(&self.stream) = None;
    }

    fn wake_state_waiters(&self) {
        for w in lock(&self.state_waiters).drain(..) {
            w.wake();
        }
    }

    /// Ready once the connection is up (`Ok`) or down (`Err` with the reason).
    pub(crate) fn poll_settled(&self, cx: &mut Context<'_>) -> Poll<Result<(), String>> {
        let mut waiters = lock(&self.state_waiters);
        match &*self.state() {
            State::Up => Poll::Ready(Ok(())),
            State::Down(reason) => Poll::Ready(Err(reason.clone())),
            State::Connecting(_) => {
                waiters.push(cx.waker().clone());
                Poll::Pending
            }
        }
    }

    /// A frame of `bytes` (its length prefix included) arrived.
    pub(crate) fn mark_recv(&self, frames: u64, bytes: usize) {
        if frames == 0 {
            return;
        }
        self.received.fetch_add(frames, Ordering::Relaxed);
        self.received_bytes
            .fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// (frames received, batches written) so far.
    pub(crate) fn traffic(&self) -> (u64, u64) {
        (
            self.received.load(Ordering::Relaxed),
            self.written.load(Ordering::Relaxed),
        )
    }

    /// Appends a frame with `write`, unless the connection is down or far too far behind;
    /// true if it is now past its soft limit (the sender should wait for it).
    pub(crate) fn enqueue(&self, write: impl FnOnce(&mut Vec<u8>)) -> Result<bool, QueueError> {
        if self.is_closed() {
            return Err(QueueError::Closed);
        }
        let mut out = lock(&self.out);
        if out.buf.len() + out.writing > self.hard_limit {
            return Err(QueueError::Overloaded);
        }
        // Idle: the writer is parked with nothing to write. A writer that has just written
        // a batch goes round the executor once before it parks, so a sender still sending
        // finds it busy, and its frames batch.
        let idle = out.buf.is_empty() && out.writing == 0 && !out.unflushed && out.writer.is_some();
        write(&mut out.buf);
        out.frames += 1;
        if idle && self.write_through(&mut out) {
            return Ok(false);
        }
        let busy = out.buf.len() + out.writing > self.soft_limit;
        let writer = out.writer.take();
        drop(out);
        if let Some(w) = writer {
            w.wake();
        }
        Ok(busy)
    }

    /// Writes the queue (the one frame just queued on an idle connection) to the stream at
    /// once, without waiting: true if all of it went and was flushed. Otherwise what is left, and the
    /// flush, are the writer's, to be woken for.
    fn write_through(&self, out: &mut Out) -> bool {
        let now = actors::rt::now();
        if out.sent_at.is_some_and(|t| now.duration_since(t) < BURST) {
            return false;
        }
        // The writer task polls the stream under this lock: if it is there now, it is the
        // writer's turn.
        let Ok(mut stream) = self.stream.try_lock() else {
            return false;
        };
        let Some(w) = stream.as_mut() else {
            return false;
        };
        // A stream that is not ready keeps this no-op waker only until the writer, woken
        // below, polls it with its own.
        let mut cx = Context::from_waker(Waker::noop());
        let n = match Pin::new(&mut **w).poll_write(&mut cx, &out.buf) {
            Poll::Ready(Ok(n)) => n,
            _ => return false,
        };
        // From the write's end: the sender's next frame, encoded right after, is a burst.
        out.sent_at = Some(actors::rt::now());
        out.buf.drain(..n);
        out.sent_bytes += n as u64;
        self.written.fetch_add(1, Ordering::Relaxed);
        if !out.buf.is_empty() {
            return false;
        }
        match Pin::new(&mut **w).poll_flush(&mut cx) {
            Poll::Ready(Ok(())) => true,
            _ => {
                out.unflushed = true;
                false
            }
        }
    }

    /// Hands the stream's writing half to the connection, for the writer and for senders
    /// that write through.
    pub(crate) fn attach(&self, writer: Writer) {
        *lock(&self.stream) = Some(writer);
    }

    /// Writes some of `buf` to the stream (the writer task's part).
    pub(crate) fn poll_write(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.poll_stream(|w| w.poll_write(cx, buf))
    }

    /// Flushes the stream (the writer task's part).
    pub(crate) fn poll_flush(&self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.poll_stream(|w| w.poll_flush(cx))
    }

    /// Polls the stream's writing half with `f`; a broken pipe once it is cut.
    fn poll_stream<T>(
        &self,
        f: impl FnOnce(Pin<&mut Writer>) -> Poll<std::io::Result<T>>,
    ) -> Poll<std::io::Result<T>> {
        match lock(&self.stream).as_mut() {
            Some(w) => f(Pin::new(w)),
            None => Poll::Ready(Err(std::io::ErrorKind::BrokenPipe.into())),
        }
    }

    /// Ready once fewer than the soft limit's bytes wait to be written (Erlang's busy port).
    pub(crate) fn poll_space(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut out = lock(&self.out);
        if self.is_closed() || out.buf.len() + out.writing <= self.soft_limit {
            Poll::Ready(())
        } else {
            out.space.push(cx.waker().clone());
            Poll::Pending
        }
    }

    /// Bytes waiting to be written, including the batch being written.
    pub(crate) fn queued(&self) -> usize {
        let out = lock(&self.out);
        out.buf.len() + out.writing
    }

    /// The next batch of bytes to write, swapped into `batch`; `None` once down (after the
    /// last queued bytes, when the connection is closed on purpose).
    pub(crate) fn poll_batch(&self, cx: &mut Context<'_>, batch: &mut Vec<u8>) -> Poll<Option<()>> {
        let mut out = lock(&self.out);
        if self.is_closed() && (out.buf.is_empty() || !self.flush_then_cut.load(Ordering::Acquire))
        {
            return Poll::Ready(None);
        }
        // Still connecting: nothing goes out before the handshake is done.
        if (out.buf.is_empty() && !out.unflushed) || !(self.is_up() || self.is_closed()) {
            out.writer = Some(cx.waker().clone());
            return Poll::Pending;
        }
        batch.clear();
        std::mem::swap(&mut out.buf, batch);
        out.writing = batch.len();
        out.sent_at = Some(actors::rt::now());
        // The writer flushes after writing, even an empty batch.
        out.unflushed = false;
        Poll::Ready(Some(()))
    }

    /// The batch was written: wake senders waiting for room.
    pub(crate) fn batch_written(&self) {
        self.written.fetch_add(1, Ordering::Relaxed);
        let space = {
            let mut out = lock(&self.out);
            out.sent_bytes += out.writing as u64;
            out.writing = 0;
            if out.buf.len() <= self.soft_limit {
                std::mem::take(&mut out.space)
            } else {
                Vec::new()
            }
        };
        for w in space {
            w.wake();
        }
    }

    pub(crate) fn next_call_ref(&self) -> u64 {
        self.next_call.fetch_add(1, Ordering::Relaxed)
    }

    /// What crosses this connection now.
    pub(crate) fn info(&self) -> ConnectionInfo {
        let (frames_out, bytes_out) = {
            let out = lock(&self.out);
            (out.frames, out.sent_bytes)
        };
        let round_trip = match self.round_trip_ns.load(Ordering::Relaxed) {
            0 => None,
            ns => Some(Duration::from_nanos(ns)),
        };
        let heard_ago = actors::rt::elapsed(*lock(&self.heard_at));
        let ties = lock(&self.ties);
        ConnectionInfo {
            links: ties.links.len(),
            monitors_held: ties.watching.len(),
            monitors_served: ties.watched.len(),
            pending_calls: lock(&self.pending).len(),
            queued_bytes: self.queued(),
            frames_in: self.received.load(Ordering::Relaxed),
            bytes_in: self.received_bytes.load(Ordering::Relaxed),
            frames_out,
            bytes_out,
            heard_ago,
            round_trip,
        }
    }

    /// The heartbeat found traffic from the peer.
    pub(crate) fn heard(&self) {
        *lock(&self.heard_at) = actors::rt::now();
    }

    /// The answer to ping `request` arrived: its round trip is recorded and told to the
    /// asker. An answer to no ping of ours (late, twice, or made up) changes nothing.
    pub(crate) fn pong(&self, request: u64) {
        let Some((sent, tx)) = lock(&self.pings).remove(&request) else {
            return;
        };
        let rtt = actors::rt::elapsed(sent);
        let ns = u64::try_from(rtt.as_nanos()).unwrap_or(u64::MAX).max(1);
        self.round_trip_ns.store(ns, Ordering::Relaxed);
        let _ = tx.send(rtt);
    }

    /// Forgets calls whose callers gave up (timed out), so they do not pile up.
    pub(crate) fn sweep_abandoned_calls(&self) {
        lock(&self.pending).retain(|_, call| !call.abandoned());
    }
}
