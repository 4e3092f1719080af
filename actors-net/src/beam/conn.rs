//! One connection to a BEAM node: a writer task that sends queued packets, a reader task that
//! hands each packet up, and a ticker that sends a tick when nothing went out for a quarter
//! of the tick time and declares the peer down when nothing came in for all of it.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actors::dist::rt::io::{BufReader, BufWriter, WriteExt};
use futures::StreamExt;
use futures::channel::mpsc;

use super::handshake::Peer;
use super::packet::read4;
use crate::connection::lock;
use crate::transport::Stream;

/// A connection, as the rest of the BEAM side holds it.
pub(crate) struct Conn {
    /// This connection's identity: what refers to it (calls, monitors) carries it, so that a
    /// late event of a replaced connection is not taken for the new one's.
    pub(crate) id: u64,
    pub(crate) peer: Peer,
    out: mpsc::UnboundedSender<Vec<u8>>,
    queued: AtomicUsize,
    /// Monitors the peer's processes hold on ours (limited: `Limits::max_monitors_per_peer`).
    pub(crate) monitors: AtomicUsize,
    /// Processes the peer's spawn requests run now (limited: `Limits::max_spawned_per_peer`).
    pub(crate) spawned: AtomicUsize,
    limit: usize,
    close: Box<dyn Fn() + Send + Sync>,
    closed: AtomicBool,
    /// When something was last read and written, in milliseconds since `born`.
    last_in: AtomicU64,
    last_out: AtomicU64,
    born: actors::rt::Instant,
    /// Why the ticker closed the connection, for the reader to report.
    cut: Mutex<Option<String>>,
    /// Set by whoever first handles the connection's loss: it is handled once.
    lost: AtomicBool,
}

/// Why a packet was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The connection is closed.
    Closed,
    /// The peer is not reading: too much is queued to it already.
    Overloaded,
}

impl Conn {
    /// Queues one distribution message.
    pub(crate) fn send(&self, packet: Vec<u8>) -> Result<(), Refused> {
        let len = packet.len();
        if self.queued.fetch_add(len, Ordering::AcqRel) > self.limit {
            self.queued.fetch_sub(len, Ordering::AcqRel);
            return Err(Refused::Overloaded);
        }
        self.out.unbounded_send(packet).map_err(|_| {
            self.queued.fetch_sub(len, Ordering::AcqRel);
            Refused::Closed
        })
    }

    /// Closes the socket: the reader ends, and with it the connection.
    pub(crate) fn close(&self) {
        if !self.closed.swap(true, Ordering::AcqRel) {
            self.out.close_channel();
            (self.close)();
        }
    }

    /// True the first time it is called: the caller handles the loss.
    pub(crate) fn take_loss(&self) -> bool {
        !self.lost.swap(true, Ordering::AcqRel)
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    fn now(&self) -> u64 {
        actors::rt::elapsed(self.born).as_millis() as u64
    }
}

/// What a connection hands up.
pub(crate) trait Handler: Send + Sync + 'static {
    /// One packet (not a tick).
    fn packet(&self, conn: &Arc<Conn>, packet: Vec<u8>) -> Result<(), String>;
    /// The connection ended, for `reason`.
    fn lost(&self, conn: &Arc<Conn>, reason: &str);
}

/// Settings of a connection.
#[derive(Clone, Copy)]
pub(crate) struct Timing {
    pub(crate) ticktime: Duration,
    pub(crate) max_packet: usize,
    pub(crate) send_limit: usize,
}

/// Starts the tasks of a connection that has finished its handshake; its reader waits for
/// the [`Opener`].
pub(crate) fn start(
    stream: Stream,
    peer: Peer,
    timing: Timing,
    handler: Arc<dyn Handler>,
) -> (Arc<Conn>, Opener) {
    let Stream {
        reader,
        writer,
        close,
        ..
    } = stream;
    let (tx, mut rx) = mpsc::unbounded::<Vec<u8>>();
    let conn = Arc::new(Conn {
        id: actors::dist::rt::unique(),
        peer,
        out: tx,
        queued: AtomicUsize::new(0),
        monitors: AtomicUsize::new(0),
        spawned: AtomicUsize::new(0),
        limit: timing.send_limit,
        close,
        closed: AtomicBool::new(false),
        last_in: AtomicU64::new(0),
        last_out: AtomicU64::new(0),
        born: actors::rt::now(),
        cut: Mutex::new(None),
        lost: AtomicBool::new(false),
    });
    let writing = conn.clone();
    actors::rt::spawn(async move {
        let mut w = BufWriter::with_capacity(64 * 1024, writer);
        while let Some(packet) = rx.next().await {
            let mut batch = 0;
            let mut next = Some(packet);
            while let Some(p) = next.take() {
                batch += p.len();
                if w.write_all(&(p.len() as u32).to_be_bytes()).await.is_err()
                    || w.write_all(&p).await.is_err()
                {
                    writing.close();
                    return;
                }
                if let Ok(p) = rx.try_recv() {
                    next = Some(p);
                }
            }
            writing.queued.fetch_sub(batch, Ordering::AcqRel);
            if w.flush().await.is_err() {
                writing.close();
                return;
            }
            writing.last_out.store(writing.now(), Ordering::Release);
        }
    });
    // Erlang ticks four times per tick time, and declares a peer down after a tick time of
    // silence; this side does the same.
    let tick = timing.ticktime / 4;
    let ticking = Arc::downgrade(&conn);
    actors::rt::spawn(async move {
        loop {
            actors::rt::sleep(tick).await;
            let Some(conn) = ticking.upgrade() else {
                return;
            };
            if conn.is_closed() {
                return;
            }
            let now = conn.now();
            if now.saturating_sub(conn.last_in.load(Ordering::Acquire))
                >= timing.ticktime.as_millis() as u64
            {
                *lock(&conn.cut) = Some("no tick from the peer within the tick time".into());
                conn.close();
                return;
            }
            if now.saturating_sub(conn.last_out.load(Ordering::Acquire)) >= tick.as_millis() as u64
            {
                // An empty packet is a tick.
                let _ = conn.send(Vec::new());
            }
        }
    });
    let reading = conn.clone();
    let (open, opened) = futures::channel::oneshot::channel::<()>();
    actors::rt::spawn(async move {
        // Nothing the peer sent is handled before the connection is in the node's table and
        // announced: a reply to it would find no connection and be dropped, as `global`'s
        // `init_connect` was when a BEAM node's first message beat the table.
        let _ = opened.await;
        let mut reader = BufReader::with_capacity(64 * 1024, reader);
        let reason = loop {
            match read4(&mut reader, timing.max_packet).await {
                Err(e) => break format!("connection closed: {e}"),
                Ok(p) => {
                    reading.last_in.store(reading.now(), Ordering::Release);
                    if p.is_empty() {
                        continue;
                    }
                    if let Err(e) = handler.packet(&reading, p) {
                        break format!("invalid data from the peer: {e}");
                    }
                }
            }
        };
        reading.close();
        let reason = lock(&reading.cut).take().unwrap_or(reason);
        handler.lost(&reading, &reason);
    });
    (conn, Opener(open))
}

/// Lets a started connection's reader go: the owner calls [`Opener::open`] once the
/// connection is where replies to its messages will look for it. Dropped unopened, the reader
/// goes all the same.
pub(crate) struct Opener(futures::channel::oneshot::Sender<()>);

impl Opener {
    pub(crate) fn open(self) {
        let _ = self.0.send(());
    }
}
