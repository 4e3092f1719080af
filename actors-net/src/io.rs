//! A connection's tasks: the writer, the reader and the heartbeat. What they read, and the
//! end of the connection, they hand to the layers above through [`Owner`].

use std::future::poll_fn;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use actors::dist::rt::io::{AsyncBufReadExt, BufReader, ReadExt};

use actors::dist::{Inbound, Origin};

use crate::config::Config;
use crate::connection::Conn;
use crate::frame::{self, Frame};

/// What a connection's tasks report to, implemented by the layers above.
pub(crate) trait Owner: Send + Sync {
    /// This node's name, for logs.
    fn node_name(&self) -> &str;
    /// The node's settings.
    fn config(&self) -> &Config;
    /// The node-wide budget of partial frames.
    fn budget(&self) -> &PartialBudget;
    /// Acts on one frame from `conn`; an error closes the connection with it. `inbound` is
    /// the delivery state of the batch of frames this one is read in (made by the first
    /// frame that needs it, dropped at the end of the batch).
    fn frame(
        &self,
        conn: &Arc<Conn>,
        origin: &Origin,
        frame: Frame<'_>,
        inbound: &mut Option<Inbound>,
    ) -> Result<(), String>;
    /// The link failed: the connection is to be closed, and its failure told.
    fn failed(&self, conn: &Arc<Conn>, reason: &str);
}

/// Bytes read from a connection at a time; frames that fit are parsed in place.
const READ_BUFFER: usize = 64 * 1024;

/// How long a connection closed on purpose may take to send what was queued on it.
pub(crate) const FAREWELL: std::time::Duration = std::time::Duration::from_secs(1);

/// Bytes of frames that have begun to arrive but are not complete, on all connections of a
/// node together: reserved as the bytes arrive, released when the frame is handled.
pub(crate) struct PartialBudget {
    held: AtomicUsize,
    max: usize,
}

impl PartialBudget {
    pub(crate) fn new(max: usize) -> Self {
        PartialBudget {
            held: AtomicUsize::new(0),
            max,
        }
    }

    /// Takes `bytes` if they fit. A reservation that does not fit leaves the count as it was
    /// (an add undone after would, for a moment, make others' reservations fail too).
    fn reserve(&self, bytes: usize) -> bool {
        self.held
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                held.checked_add(bytes).filter(|n| *n <= self.max)
            })
            .is_ok()
    }
}

/// What one frame holds of the budget, given back when it is dropped.
pub(crate) struct Held<'a> {
    budget: &'a PartialBudget,
    bytes: usize,
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.budget.held.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

/// Reads a frame body of `len` bytes into `body`, growing it only as bytes arrive, so a peer
/// that announces a large frame and sends little holds little.
pub(crate) async fn read_body<'a>(
    reader: &mut (impl actors::dist::rt::io::AsyncRead + Unpin),
    body: &mut Vec<u8>,
    len: usize,
    budget: &'a PartialBudget,
) -> Result<Held<'a>, String> {
    body.clear();
    let mut held = Held { budget, bytes: 0 };
    while body.len() < len {
        let chunk = (len - body.len()).min(READ_BUFFER);
        if !budget.reserve(chunk) {
            return Err(format!(
                "partial frames on all connections would exceed {} bytes",
                budget.max
            ));
        }
        held.bytes += chunk;
        let start = body.len();
        body.resize(start + chunk, 0);
        reader
            .read_exact(&mut body[start..])
            .await
            .map_err(|e| format!("read failed: {e}"))?;
    }
    Ok(held)
}

pub(crate) async fn write_loop(conn: Arc<Conn>) {
    let mut batch = Vec::new();
    let mut wrote = false;
    loop {
        if wrote && conn.queued() == 0 {
            // Senders are likely still sending: going round the executor once is far cheaper
            // than parking and being woken for the next frame.
            actors::rt::yield_now().await;
        }
        if poll_fn(|cx| conn.poll_batch(cx, &mut batch))
            .await
            .is_none()
        {
            conn.cut();
            return;
        }
        let write = async {
            let mut from = 0;
            while from < batch.len() {
                match poll_fn(|cx| conn.poll_write(cx, &batch[from..])).await? {
                    0 => return Err(std::io::ErrorKind::WriteZero.into()),
                    n => from += n,
                }
            }
            poll_fn(|cx| conn.poll_flush(cx)).await
        };
        let written = if conn.is_closed() {
            // The last words of a connection closed on purpose: a peer that does not read
            // them does not keep the stream open.
            actors::rt::timeout(FAREWELL, write)
                .await
                .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into()))
        } else {
            write.await
        };
        if written.is_err() {
            // The reader sees the same failure and closes the connection with its reason.
            conn.cut();
            return;
        }
        conn.batch_written();
        wrote = true;
        // A burst leaves a large buffer behind: do not keep it while idle.
        if batch.capacity() > 1 << 20 {
            batch = Vec::new();
        }
    }
}

pub(crate) async fn read_loop(
    net: Arc<dyn Owner>,
    conn: Arc<Conn>,
    reader: Box<dyn actors::dist::rt::io::AsyncRead + Send + Unpin>,
) {
    let mut reader = BufReader::with_capacity(READ_BUFFER, reader);
    // What arrives here is from this peer, on this connection, whatever it says of itself.
    let origin = match conn.peer_id() {
        Some(peer) => actors::dist::Origin::remote(peer, conn.link),
        None => return,
    };
    let mut body = Vec::new();
    let reason = loop {
        // A connection closed here takes nothing more from the peer, even what was already
        // on its way: what depended on it has been released.
        if conn.is_closed() {
            break "closed".to_string();
        }
        // Every frame already whole in the read buffer is handled in one go, where it lies.
        let whole = match reader.fill_buf().await {
            Ok(buffered) => handle_whole(&*net, &conn, &origin, buffered),
            Err(e) => break format!("read failed: {e}"),
        };
        match whole {
            Ok(0) => {}
            Ok(used) => {
                reader.consume_unpin(used);
                continue;
            }
            Err(e) => break e,
        }
        // The frame in front is not all here yet (or the peer closed): it is read on its
        // own, into `body`, bounded by the frame limit.
        let mut len = [0u8; frame::LEN];
        if let Err(e) = reader.read_exact(&mut len).await {
            break format!("read failed: {e}");
        }
        let len = match frame::body_len(len, net.config().max_frame) {
            Ok(len) => len,
            Err(e) => break e.to_string(),
        };
        let held = match read_body(&mut reader, &mut body, len, net.budget()).await {
            Ok(held) => held,
            Err(e) => break e,
        };
        conn.mark_recv(1, frame::LEN + len);
        let result = frame::parse(&body)
            .map_err(|e| e.to_string())
            .and_then(|frame| net.frame(&conn, &origin, frame, &mut None));
        drop(held);
        if body.capacity() > 1 << 20 {
            body = Vec::new();
        }
        if let Err(e) = result {
            break e;
        }
    };
    if !conn.is_closed() {
        tracing::warn!(node = %net.node_name(), peer = %conn.name, "closing the connection to {}: {reason}", conn.name);
    }
    net.failed(&conn, &reason);
}

/// Handles the frames that lie whole at the front of `buffered`; returns the bytes they
/// took. The batch shares one delivery state, dropped before the reader waits again.
fn handle_whole(
    net: &dyn Owner,
    conn: &Arc<Conn>,
    origin: &Origin,
    buffered: &[u8],
) -> Result<usize, String> {
    let mut inbound = None;
    let (mut used, mut frames) = (0, 0);
    while let Some(prefix) = buffered.get(used..used + frame::LEN) {
        let prefix: [u8; frame::LEN] = prefix.try_into().map_err(|_| "short prefix")?;
        let len = frame::body_len(prefix, net.config().max_frame).map_err(|e| e.to_string())?;
        let start = used + frame::LEN;
        let Some(body) = buffered.get(start..start + len) else {
            break;
        };
        if conn.is_closed() {
            // As the read loop does between frames.
            return Err("closed".to_string());
        }
        let frame = frame::parse(body).map_err(|e| e.to_string())?;
        net.frame(conn, origin, frame, &mut inbound)?;
        used = start + len;
        frames += 1;
    }
    // Counted once for the batch: the heartbeat asks only whether anything arrived.
    conn.mark_recv(frames, used);
    Ok(used)
}

/// Sends a tick when nothing else went out for an interval; declares the peer down when
/// nothing came in for `misses` intervals.
pub(crate) async fn heartbeat(net: Arc<dyn Owner>, conn: Arc<Conn>) {
    let interval = net.config().heartbeat_interval;
    let misses = net.config().heartbeat_misses;
    // A session over an overlay is watched by its links and routes: ticks of its own would
    // send every node's heartbeats to every other, the cost the overlay is there to avoid.
    let watched = net.config().overlay.is_none();
    let (mut received, mut written) = conn.traffic();
    let mut silent = 0;
    loop {
        actors::rt::sleep(interval).await;
        if conn.is_closed() {
            return;
        }
        let (now_received, now_written) = conn.traffic();
        if !watched {
            conn.sweep_abandoned_calls();
            continue;
        }
        if now_received == received {
            silent += 1;
            if silent >= misses {
                tracing::warn!(node = %net.node_name(), peer = %conn.name, "no traffic from {} for {silent} intervals of {interval:?}: declaring it down", conn.name);
                net.failed(&conn, "heartbeat timeout");
                return;
            }
        } else {
            silent = 0;
            received = now_received;
            conn.heard();
        }
        if now_written == written {
            let _ = conn.enqueue(frame::tick);
        }
        written = now_written;
        conn.sweep_abandoned_calls();
    }
}
