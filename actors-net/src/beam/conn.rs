//! One connection to a BEAM node: a writer task that sends queued packets and ticks when
//! idle, a reader task that hands each packet up and declares the peer down when nothing
//! arrived for a whole tick time.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use actors::rt::io::{BufWriter, WriteExt};
use futures::StreamExt;
use futures::channel::mpsc;

use super::handshake::Peer;
use super::packet::read4;
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
    limit: usize,
    close: Box<dyn Fn() + Send + Sync>,
    closed: AtomicBool,
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

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
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

/// Starts the tasks of a connection that has finished its handshake.
pub(crate) fn start(
    stream: Stream,
    peer: Peer,
    timing: Timing,
    handler: Arc<dyn Handler>,
) -> Arc<Conn> {
    let Stream {
        mut reader,
        writer,
        close,
        ..
    } = stream;
    let (tx, mut rx) = mpsc::unbounded::<Vec<u8>>();
    let conn = Arc::new(Conn {
        id: actors::rt::unique(),
        peer,
        out: tx,
        queued: AtomicUsize::new(0),
        monitors: AtomicUsize::new(0),
        limit: timing.send_limit,
        close,
        closed: AtomicBool::new(false),
    });
    // Erlang ticks four times per tick time, and declares a peer down after a tick time of
    // silence; this side does the same.
    let tick = timing.ticktime / 4;
    let writing = conn.clone();
    actors::rt::spawn(async move {
        let mut w = BufWriter::with_capacity(64 * 1024, writer);
        loop {
            match actors::rt::timeout(tick, rx.next()).await {
                Ok(Some(packet)) => {
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
                }
                Ok(None) => return,
                Err(_) => {
                    if w.write_all(&[0, 0, 0, 0]).await.is_err() || w.flush().await.is_err() {
                        writing.close();
                        return;
                    }
                }
            }
        }
    });
    let reading = conn.clone();
    actors::rt::spawn(async move {
        let reason = loop {
            match actors::rt::timeout(timing.ticktime, read4(&mut reader, timing.max_packet)).await
            {
                Err(_) => break "no tick from the peer within the tick time".to_string(),
                Ok(Err(e)) => break format!("connection closed: {e}"),
                Ok(Ok(p)) if p.is_empty() => {}
                Ok(Ok(p)) => {
                    if let Err(e) = handler.packet(&reading, p) {
                        break format!("invalid data from the peer: {e}");
                    }
                }
            }
        };
        reading.close();
        handler.lost(&reading, &reason);
    });
    conn
}
