//! Sessions relayed over the overlay: a byte stream to a node that is not (or need not be)
//! a neighbour, carried hop by hop in `Relay` frames. Each session is a
//! [`Stream`](crate::transport::Stream), so the node's handshake, frames, calls, monitors and
//! node events run over it exactly as over TCP.
//!
//! Order and loss: each direction numbers its frames; a frame out of turn (one lost with a
//! link, or overtaken on a new route) ends the session with a reset, as a broken TCP stream
//! ends, so a session never delivers with a gap. A session also ends when no route leads to
//! its peer any more: that is how a node far away is seen down.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::{Context, Poll, Waker};

use actors::dist::Unpoisoned;
use actors::dist::rt::io::{AsyncRead, AsyncWrite};

use super::link::Link;
use crate::overlay::wire::{Hop, LinkFrame};
use crate::transport::Stream;

/// The most bytes one relayed frame carries.
const CHUNK: usize = 64 * 1024;

/// A session's name at one end: the peer, whether this end opened it, and the opener's
/// number for it.
type Key = (String, bool, u64);

fn key_at_receiver(hop: &Hop) -> Key {
    (hop.from.clone(), !hop.opener, hop.session)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    /// Closed here: the reader sees the end of the stream.
    Closed,
    /// Reset by the peer, a lost route, or a frame out of turn.
    Reset,
}

#[derive(Default)]
struct Inbound {
    chunks: VecDeque<Vec<u8>>,
    bytes: usize,
    next_seq: u64,
    end: Option<End>,
    reader: Option<Waker>,
    /// The writer, waiting for a route.
    writer: Option<Waker>,
}

/// One end of a session.
pub(crate) struct Session {
    /// The hop of the frames this end sends.
    hop: Hop,
    inbound: Mutex<Inbound>,
    out_seq: AtomicU64,
}

impl Session {
    fn new(hop: Hop) -> Self {
        Session {
            hop,
            inbound: Mutex::new(Inbound::default()),
            out_seq: AtomicU64::new(0),
        }
    }

    fn key(&self) -> Key {
        (self.hop.to.clone(), self.hop.opener, self.hop.session)
    }

    fn inbound(&self) -> MutexGuard<'_, Inbound> {
        self.inbound.lock().unpoisoned()
    }

    /// Takes the frame numbered `seq`; false if it is out of turn or would hold more than
    /// `max` bytes unread.
    fn push(&self, seq: u64, bytes: Vec<u8>, max: usize) -> bool {
        let waker = {
            let mut st = self.inbound();
            if st.end.is_some() || seq != st.next_seq || st.bytes + bytes.len() > max {
                return false;
            }
            st.next_seq += 1;
            st.bytes += bytes.len();
            if !bytes.is_empty() {
                st.chunks.push_back(bytes);
            }
            st.reader.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
        true
    }

    fn end(&self, how: End) {
        let wakers = {
            let mut st = self.inbound();
            if st.end.is_none() {
                st.end = Some(how);
            }
            [st.reader.take(), st.writer.take()]
        };
        wakers.into_iter().flatten().for_each(Waker::wake);
    }

    fn ended(&self) -> bool {
        self.inbound().end.is_some()
    }
}

/// What became of a relayed frame at its destination.
pub(crate) enum Delivered {
    /// Taken by its session.
    Taken,
    /// The first frame of a session the peer opened: it is to be answered.
    New(Arc<Session>),
    /// No session takes it (unknown, ended, out of turn, over its bound): the sender is to
    /// be told with a reset.
    Refused,
}

/// A node's sessions.
pub(crate) struct Sessions {
    me: String,
    table: Mutex<HashMap<Key, Arc<Session>>>,
    next: AtomicU64,
    /// The most sessions at once.
    max: usize,
    /// The most bytes a session holds unread.
    max_unread: usize,
}

impl Sessions {
    pub(crate) fn new(me: &str, max: usize, max_unread: usize) -> Self {
        Sessions {
            me: me.to_string(),
            table: Mutex::new(HashMap::new()),
            next: AtomicU64::new(1),
            max,
            max_unread,
        }
    }

    fn table(&self) -> MutexGuard<'_, HashMap<Key, Arc<Session>>> {
        self.table.lock().unpoisoned()
    }

    /// A new session to `peer`, opened here; `None` past the bound.
    pub(crate) fn open(&self, peer: &str) -> Option<Arc<Session>> {
        let mut table = self.table();
        if table.len() >= self.max {
            return None;
        }
        let session = Arc::new(Session::new(Hop {
            from: self.me.clone(),
            to: peer.to_string(),
            opener: true,
            session: self.next.fetch_add(1, Ordering::Relaxed),
        }));
        table.insert(session.key(), session.clone());
        Some(session)
    }

    /// A relayed frame for this node.
    pub(crate) fn deliver(&self, hop: &Hop, seq: u64, bytes: Vec<u8>) -> Delivered {
        let key = key_at_receiver(hop);
        let mut table = self.table();
        match table.get(&key) {
            Some(session) => {
                if session.push(seq, bytes, self.max_unread) {
                    return Delivered::Taken;
                }
                let session = table.remove(&key).expect("found above");
                drop(table);
                session.end(End::Reset);
                Delivered::Refused
            }
            None if hop.opener && seq == 0 && table.len() < self.max => {
                let session = Arc::new(Session::new(hop.back()));
                session.push(seq, bytes, self.max_unread);
                table.insert(key, session.clone());
                Delivered::New(session)
            }
            None => Delivered::Refused,
        }
    }

    /// The peer reset the session `hop` names (or a relay could not carry it on).
    pub(crate) fn reset(&self, hop: &Hop) {
        let found = self.table().remove(&key_at_receiver(hop));
        if let Some(session) = found {
            session.end(End::Reset);
        }
    }

    /// No route leads to `peer` any more: its sessions end.
    pub(crate) fn reset_peer(&self, peer: &str) {
        let ended: Vec<Arc<Session>> = {
            let mut table = self.table();
            let keys: Vec<Key> = table.keys().filter(|k| k.0 == peer).cloned().collect();
            keys.iter().filter_map(|k| table.remove(k)).collect()
        };
        for session in ended {
            session.end(End::Reset);
        }
    }

    /// Every session ends (the node shuts down).
    pub(crate) fn reset_all(&self) {
        let ended: Vec<Arc<Session>> = self.table().drain().map(|(_, s)| s).collect();
        for session in ended {
            session.end(End::Reset);
        }
    }

    /// How many sessions are open.
    pub(crate) fn len(&self) -> usize {
        self.table().len()
    }

    /// Ends `session` here; true if it was still open (the peer is then to be told).
    fn close(&self, session: &Arc<Session>) -> bool {
        let mut table = self.table();
        let key = session.key();
        let ours = table.get(&key).is_some_and(|s| Arc::ptr_eq(s, session));
        if ours {
            table.remove(&key);
        }
        drop(table);
        session.end(End::Closed);
        ours
    }
}

/// What carries sessions' frames: the overlay, which knows the routes and the links.
pub(crate) trait Carrier: Send + Sync {
    /// The node's sessions.
    fn sessions(&self) -> &Sessions;
    /// The link toward `node`, if a route leads there.
    fn link_toward(&self, node: &str) -> Option<Arc<Link>>;
    /// Wakes the task of `cx` when the routes next change.
    fn wait_for_route(&self, cx: &Context<'_>);
    /// Bytes queued on a link past which a session's writer waits.
    fn room(&self) -> usize;
    /// Sends `frame` toward `node`, if a route leads there; dropped otherwise.
    fn send_toward(&self, node: &str, frame: &LinkFrame);
}

type Overlay = dyn Carrier;

/// `session` as a stream, its bytes carried by `overlay`.
pub(crate) fn stream(overlay: &Arc<Overlay>, session: Arc<Session>) -> Stream {
    let peer = format!("{} (relayed)", session.hop.to);
    let closer = Closer {
        overlay: Arc::downgrade(overlay),
        session: session.clone(),
    };
    let close = Closer {
        overlay: Arc::downgrade(overlay),
        session: session.clone(),
    };
    Stream {
        reader: Box::new(Reader {
            session: session.clone(),
            _closer: closer,
        }),
        writer: Box::new(Writer {
            overlay: Arc::downgrade(overlay),
            session,
        }),
        close: Box::new(move || close.close()),
        peer,
    }
}

/// Closes the session, telling the peer, once: on `close`, and when the reader is dropped
/// (the connection above it has ended, or its handshake failed).
struct Closer {
    overlay: Weak<Overlay>,
    session: Arc<Session>,
}

impl Closer {
    fn close(&self) {
        let Some(overlay) = self.overlay.upgrade() else {
            return;
        };
        if overlay.sessions().close(&self.session) {
            overlay.send_toward(
                &self.session.hop.to,
                &LinkFrame::Reset {
                    hop: self.session.hop.clone(),
                },
            );
        }
    }
}

struct Reader {
    session: Arc<Session>,
    _closer: Closer,
}

impl Drop for Reader {
    fn drop(&mut self) {
        self._closer.close();
    }
}

impl AsyncRead for Reader {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let mut st = self.session.inbound();
        if let Some(chunk) = st.chunks.front_mut() {
            let n = buf.len().min(chunk.len());
            buf[..n].copy_from_slice(&chunk[..n]);
            chunk.drain(..n);
            if chunk.is_empty() {
                st.chunks.pop_front();
            }
            st.bytes -= n;
            return Poll::Ready(Ok(n));
        }
        match st.end {
            Some(End::Closed) => Poll::Ready(Ok(0)),
            Some(End::Reset) => Poll::Ready(Err(io::ErrorKind::ConnectionReset.into())),
            None => {
                st.reader = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

struct Writer {
    overlay: Weak<Overlay>,
    session: Arc<Session>,
}

impl AsyncWrite for Writer {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let Some(overlay) = self.overlay.upgrade() else {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        };
        if self.session.ended() {
            return Poll::Ready(Err(io::ErrorKind::ConnectionReset.into()));
        }
        let Some(link) = overlay.link_toward(&self.session.hop.to) else {
            // The peer's first frame came along a route this node has not learnt yet (its
            // adverts are a hop or two behind): wait for it. A session whose peer was
            // reachable and no longer is has been ended by then; a handshake that never
            // finds one is bounded by the handshake's deadline.
            self.session.inbound().writer = Some(cx.waker().clone());
            overlay.wait_for_route(cx);
            if overlay.link_toward(&self.session.hop.to).is_none() && !self.session.ended() {
                return Poll::Pending;
            }
            return self.poll_write(cx, buf);
        };
        if link.poll_room(cx, overlay.room()).is_pending() {
            return Poll::Pending;
        }
        let n = buf.len().min(CHUNK);
        let frame = LinkFrame::Relay {
            hop: self.session.hop.clone(),
            seq: self.session.out_seq.load(Ordering::Relaxed),
            bytes: serde_bytes::ByteBuf::from(buf[..n].to_vec()),
        };
        let sent = crate::overlay::wire::encode(&frame).is_ok_and(|bytes| link.send(bytes));
        match sent {
            true => {
                self.session.out_seq.fetch_add(1, Ordering::Relaxed);
                Poll::Ready(Ok(n))
            }
            false => {
                overlay.sessions().close(&self.session);
                self.session.end(End::Reset);
                Poll::Ready(Err(io::ErrorKind::ConnectionReset.into()))
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use crate::links::sessions::{Delivered, Sessions};
    use crate::overlay::wire::Hop;

    fn hop(seq_from: &str, session: u64) -> Hop {
        Hop {
            from: seq_from.into(),
            to: "me".into(),
            opener: true,
            session,
        }
    }

    #[test]
    fn a_session_takes_frames_in_turn_and_is_bounded() {
        let sessions = Sessions::new("me", 2, 10);
        assert!(matches!(
            sessions.deliver(&hop("a", 1), 0, vec![1]),
            Delivered::New(_)
        ));
        assert!(matches!(
            sessions.deliver(&hop("a", 1), 1, vec![2]),
            Delivered::Taken
        ));
        // Out of turn: the session ends and the sender is told.
        assert!(matches!(
            sessions.deliver(&hop("a", 1), 3, vec![3]),
            Delivered::Refused
        ));
        assert_eq!(sessions.len(), 0);
        // Only a first frame opens one, and no more than the bound do.
        assert!(matches!(
            sessions.deliver(&hop("b", 1), 1, vec![]),
            Delivered::Refused
        ));
        assert!(matches!(
            sessions.deliver(&hop("b", 1), 0, vec![]),
            Delivered::New(_)
        ));
        assert!(matches!(
            sessions.deliver(&hop("c", 1), 0, vec![]),
            Delivered::New(_)
        ));
        assert!(matches!(
            sessions.deliver(&hop("d", 1), 0, vec![]),
            Delivered::Refused
        ));
        // More unread than a session holds ends it.
        assert!(matches!(
            sessions.deliver(&hop("b", 1), 1, vec![0; 11]),
            Delivered::Refused
        ));
        assert_eq!(sessions.len(), 1);
    }
}
