//! A connection's tasks: the writer, the reader and the heartbeat.

use std::future::poll_fn;
use std::sync::Arc;

use actors::rt::io::{AsyncBufReadExt, BufReader, ReadExt, WriteExt};

use crate::connection::Conn;
use crate::frame;
use crate::net::Net;

/// Bytes read from a connection at a time; frames that fit are parsed in place.
const READ_BUFFER: usize = 64 * 1024;

pub(crate) async fn write_loop(
    conn: Arc<Conn>,
    mut writer: Box<dyn actors::rt::io::AsyncWrite + Send + Unpin>,
) {
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
            return;
        }
        if writer.write_all(&batch).await.is_err() || writer.flush().await.is_err() {
            // The reader sees the same failure and closes the connection with its reason.
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
    net: Arc<Net>,
    conn: Arc<Conn>,
    reader: Box<dyn actors::rt::io::AsyncRead + Send + Unpin>,
) {
    let mut reader = BufReader::with_capacity(READ_BUFFER, reader);
    let mut body = Vec::new();
    let reason = loop {
        let mut len = [0u8; frame::LEN];
        if let Err(e) = reader.read_exact(&mut len).await {
            break format!("read failed: {e}");
        }
        let len = match frame::body_len(len, net.config.max_frame) {
            Ok(len) => len,
            Err(e) => break e.to_string(),
        };
        // A frame already in the read buffer is parsed where it lies; a larger one is read
        // into `body`, bounded by the frame limit.
        let in_place = match reader.fill_buf().await {
            Ok(buffered) => buffered.len() >= len,
            Err(e) => break format!("read failed: {e}"),
        };
        let result = if in_place {
            let buffered = reader.buffer();
            conn.mark_recv();
            let result = frame::parse(&buffered[..len])
                .map_err(|e| e.to_string())
                .and_then(|frame| net.dispatch(&conn, frame));
            reader.consume_unpin(len);
            result
        } else {
            body.resize(len, 0);
            if let Err(e) = reader.read_exact(&mut body).await {
                break format!("read failed: {e}");
            }
            conn.mark_recv();
            let result = frame::parse(&body)
                .map_err(|e| e.to_string())
                .and_then(|frame| net.dispatch(&conn, frame));
            if body.capacity() > 1 << 20 {
                body = Vec::new();
            }
            result
        };
        if let Err(e) = result {
            break e;
        }
    };
    if !conn.is_closed() {
        tracing::warn!(node = %net.id.name(), peer = %conn.name, "closing the connection to {}: {reason}", conn.name);
    }
    net.close(&conn, &reason);
}

/// Sends a tick when nothing else went out for an interval; declares the peer down when
/// nothing came in for `misses` intervals.
pub(crate) async fn heartbeat(net: Arc<Net>, conn: Arc<Conn>) {
    let interval = net.config.heartbeat_interval;
    let misses = net.config.heartbeat_misses;
    let (mut received, mut written) = conn.traffic();
    let mut silent = 0;
    loop {
        actors::rt::sleep(interval).await;
        if conn.is_closed() {
            return;
        }
        let (now_received, now_written) = conn.traffic();
        if now_received == received {
            silent += 1;
            if silent >= misses {
                tracing::warn!(node = %net.id.name(), peer = %conn.name, "no traffic from {} for {silent} intervals of {interval:?}: declaring it down", conn.name);
                net.close(&conn, "heartbeat timeout");
                return;
            }
        } else {
            silent = 0;
            received = now_received;
        }
        if now_written == written {
            let _ = conn.enqueue(frame::tick);
        }
        written = now_written;
        conn.sweep_abandoned_calls();
    }
}
