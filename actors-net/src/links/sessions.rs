//! Sessions relayed over the overlay: a byte stream to a node that is not (or need not be)
//! a neighbour, carried hop by hop in `Relay` frames. Each session is a
//! [`Stream`](crate::transport::Stream), so the node's handshake, frames, calls, monitors and
//! node events run over it exactly as over TCP.
//!
//! Order and loss: each direction numbers its frames. A frame that overtook others (on a
//! route that changed) waits for them, for a grace period; a gap still open then (frames
//! lost with a link) ends the session with a reset, as a broken TCP stream ends, so a
//! session never delivers with a gap. A session also ends when no route has led to its peer
//! for the grace period: that is how a node far away is seen down.

use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::{Context, Poll, Waker};

use actors::dist::Unpoisoned;
use actors::dist::rt::HashMap;
use actors::dist::rt::io::{AsyncRead, AsyncWrite};

use super::link::Link;
use crate::overlay::wire::{Hop, LinkFrame};
use crate::transport::Stream;

/// The most bytes one relayed frame carries.
const CHUNK: usize = 64 * 1024;

/// The most frames a session holds ahead of a gap.
const MAX_AHEAD: usize = 1024;

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
    /// Frames that arrived ahead of their turn, and since when the first gap is open.
    ahead: BTreeMap<u64, Vec<u8>>,
    gap_since: Option<std::time::Instant>,
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

    /// Takes the frame numbered `seq`, in turn or ahead of it; false if it is one already
    /// taken, or would hold more than `max` bytes (or `MAX_AHEAD` frames) unread.
    fn push(&self, seq: u64, bytes: Vec<u8>, max: usize) -> bool {
        let waker = {
            let mut st = self.inbound();
            let st = &mut *st;
            if st.end.is_some() || seq < st.next_seq || st.bytes + bytes.len() > max {
                return false;
            }
            st.bytes += bytes.len();
            if seq > st.next_seq {
                if st.ahead.len() >= MAX_AHEAD || st.ahead.insert(seq, bytes).is_some() {
                    return false;
                }
                st.gap_since.get_or_insert_with(actors::rt::now);
                return true;
            }
            st.next_seq += 1;
            if !bytes.is_empty() {
                st.chunks.push_back(bytes);
            }
            while let Some(next) = st.ahead.remove(&st.next_seq) {
                st.next_seq += 1;
                if !next.is_empty() {
                    st.chunks.push_back(next);
                }
            }
            st.gap_since = match st.ahead.is_empty() {
                true => None,
                false => Some(actors::rt::now()),
            };
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
    /// `first` numbers the first session opened here: from the clock at start, so that a
    /// restarted node's sessions do not take the numbers of its earlier run's, which a peer
    /// may not have let go of yet.
    pub(crate) fn new(me: &str, first: u64, max: usize, max_unread: usize) -> Self {
        Sessions {
            me: me.to_string(),
            table: Mutex::new(HashMap::default()),
            next: AtomicU64::new(first),
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
                tracing::debug!(node = %self.me, peer = %hop.from, seq, "session reset: a frame out of turn or over its bound");
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
        tracing::debug!(node = %self.me, %peer, "sessions reset: no route");
        let ended: Vec<Arc<Session>> = {
            let mut table = self.table();
            let keys: Vec<Key> = table.keys().filter(|k| k.0 == peer).cloned().collect();
            keys.iter().filter_map(|k| table.remove(k)).collect()
        };
        for session in ended {
            session.end(End::Reset);
        }
    }

    /// Ends the sessions whose gap has been open for `grace`; returns their hops, for the
    /// peers to be told.
    pub(crate) fn expire_gaps(&self, grace: std::time::Duration) -> Vec<Hop> {
        let ended: Vec<Arc<Session>> = {
            let mut table = self.table();
            let keys: Vec<Key> = table
                .iter()
                .filter(|(_, s)| {
                    s.inbound()
                        .gap_since
                        .is_some_and(|t| actors::rt::elapsed(t) >= grace)
                })
                .map(|(k, _)| k.clone())
                .collect();
            keys.iter().filter_map(|k| table.remove(k)).collect()
        };
        ended
            .into_iter()
            .map(|session| {
                tracing::debug!(node = %self.me, peer = %session.hop.to, "session reset: frames lost on the way");
                session.end(End::Reset);
                session.hop.clone()
            })
            .collect()
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
            closer: Some(closer),
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
    closer: Option<Closer>,
}

impl Drop for Reader {
    fn drop(&mut self) {
        if let Some(closer) = &self.closer {
            closer.close();
        }
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
        let seq = self.session.out_seq.load(Ordering::Relaxed);
        let sent = crate::overlay::wire::encode_relay(&self.session.hop, seq, &buf[..n])
            .is_ok_and(|bytes| link.send(bytes));
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
    use std::time::Duration;

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
    fn frames_that_overtook_others_are_read_in_turn() {
        use futures::AsyncReadExt;
        let sessions = Sessions::new("me", 1, 8, 100);
        let Delivered::New(session) = sessions.deliver(&hop("a", 1), 0, vec![0]) else {
            panic!("a new session");
        };
        for (seq, byte) in [(3, 3), (2, 2), (1, 1)] {
            assert!(matches!(
                sessions.deliver(&hop("a", 1), seq, vec![byte]),
                Delivered::Taken
            ));
        }
        let mut reader = crate::links::sessions::Reader {
            session,
            closer: None,
        };
        let mut read = [0u8; 4];
        futures::executor::block_on(reader.read_exact(&mut read)).unwrap();
        assert_eq!(read, [0, 1, 2, 3]);
    }

    #[test]
    fn a_session_takes_frames_in_turn_and_is_bounded() {
        let sessions = Sessions::new("me", 1, 2, 10);
        assert!(matches!(
            sessions.deliver(&hop("a", 1), 0, vec![1]),
            Delivered::New(_)
        ));
        assert!(matches!(
            sessions.deliver(&hop("a", 1), 1, vec![2]),
            Delivered::Taken
        ));
        // Ahead of its turn: held for the frames it overtook.
        assert!(matches!(
            sessions.deliver(&hop("a", 1), 3, vec![3]),
            Delivered::Taken
        ));
        assert!(sessions.expire_gaps(Duration::from_secs(60)).is_empty());
        // A gap that stays open past the grace period ends the session.
        assert_eq!(sessions.expire_gaps(Duration::ZERO).len(), 1);
        assert_eq!(sessions.len(), 0);
        // So does a frame already taken.
        assert!(matches!(
            sessions.deliver(&hop("e", 1), 0, vec![]),
            Delivered::New(_)
        ));
        assert!(matches!(
            sessions.deliver(&hop("e", 1), 0, vec![]),
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
