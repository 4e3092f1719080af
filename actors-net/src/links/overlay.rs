//! The overlay of one node: its links to neighbours, and one task that drives the
//! partial views and the routes with what the links bring and a timer.
//!
//! The task owns the two state machines; the links' readers hand it view messages and
//! adverts, and pass relayed frames on themselves (a frame for a node further on never waits
//! for the task). The next hop of every reachable node is published as a table the sessions'
//! writers read.

use std::collections::{BTreeSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use actors::NodeId;
use actors::dist::Unpoisoned;
use actors::dist::rt::{HashMap, HashSet};
use futures::StreamExt;
use futures::channel::{mpsc, oneshot};

use super::host::Host;
use super::link::{self, Link};
use super::notes::{Board, Noted};
use super::sessions::{self, Carrier, Delivered, Sessions};
use crate::config::Config;
use crate::handshake::{self, Status};
use crate::overlay::wire::{self, LinkFrame};
use crate::overlay::{Adverts, Message, OverlayConfig, PartialView, Refused, Routes, RoutesConfig};
use crate::transport::{Incoming, Stream, Transport};

/// Shuffles run every this many heartbeat intervals.
const SHUFFLE_EVERY: u64 = 10;

/// A link to a node outside the active view (a shuffle's reply, a request that was refused)
/// closes after this many heartbeat intervals.
const TEMPORARY_FOR: u64 = 2;

/// Messages held for a peer while its link is being dialled.
const MAX_HELD: usize = 64;

/// Advert messages held from a linked peer until it is active here too.
const MAX_EARLY_ADVERTS: usize = 16;

/// Frames passed on for a node no route leads to yet (the routes are catching up with a
/// change), in order: sent on when one does, dropped after the grace period.
struct Held {
    since: std::time::Instant,
    frames: VecDeque<(wire::Hop, bool, Vec<u8>)>,
    bytes: usize,
}

enum Event {
    /// Join the overlay through this node, if alone.
    Join(String),
    Up(Arc<Link>),
    Frame(Arc<Link>, LinkFrame),
    Down(Arc<Link>),
    DialFailed(String),
    Tick,
    /// Time to end what outlasted the grace period.
    Expire,
    /// This node's note under a key, set or removed.
    Note(String, Option<Vec<u8>>),
    /// The node is shutting down (handled by the check for that before any event).
    Leave,
}

#[derive(Default)]
struct Links {
    /// The link each peer's messages go out on.
    preferred: HashMap<String, Arc<Link>>,
    all: HashMap<u64, Arc<Link>>,
    dialling: HashSet<String>,
}

/// The overlay of one node.
pub(crate) struct Overlay {
    me: NodeId,
    host: Weak<dyn Host>,
    config: Config,
    transport: Arc<dyn Transport>,
    links: Mutex<Links>,
    /// The next hop to every reachable node.
    hops: Mutex<Arc<HashMap<Arc<str>, Arc<str>>>>,
    pub(crate) sessions: Sessions,
    events: mpsc::UnboundedSender<Event>,
    /// Sessions waiting for a route to their node (while this node joins).
    waiters: Mutex<Vec<(String, oneshot::Sender<()>)>>,
    /// Session writers waiting for routes to change.
    route_wakers: Mutex<Vec<std::task::Waker>>,
    next_link: AtomicU64,
    /// Frames and bytes read from links that have closed.
    ended: Mutex<(u64, u64)>,
    /// Frames for nodes no route leads to for the moment, by node.
    held: Mutex<HashMap<String, Held>>,
    /// Frames of others' sessions passed on.
    relayed: AtomicU64,
    /// Others' notes, as services see them.
    board: Board,
    /// The nodes up, as the task last worked them out.
    up: Mutex<HashSet<String>>,
    /// The size of each of this node's notes, by key: checked against the bound before a
    /// note goes to the task.
    own_notes: Mutex<HashMap<String, usize>>,
}

impl Overlay {
    /// The overlay of the node `me`, with its task and timer started.
    pub(crate) fn start(
        host: &Arc<dyn Host>,
        me: NodeId,
        config: Config,
        transport: Arc<dyn Transport>,
        view: OverlayConfig,
    ) -> Arc<Overlay> {
        let (tx, rx) = mpsc::unbounded();
        // Microseconds since the epoch: a restarted node's adverts and sessions number past
        // those of its earlier run.
        let version = actors::dist::rt::wall_micros().max(1);
        let overlay = Arc::new(Overlay {
            host: Arc::downgrade(host),
            sessions: Sessions::new(
                me.name(),
                version,
                config.max_peers.saturating_mul(2),
                config.send_limit.saturating_mul(4),
            ),
            me: me.clone(),
            config,
            transport,
            links: Mutex::new(Links::default()),
            hops: Mutex::new(Arc::new(HashMap::default())),
            events: tx,
            waiters: Mutex::new(Vec::new()),
            route_wakers: Mutex::new(Vec::new()),
            next_link: AtomicU64::new(1),
            ended: Mutex::new((0, 0)),
            held: Mutex::new(HashMap::default()),
            relayed: AtomicU64::new(0),
            board: Board::default(),
            up: Mutex::new(HashSet::default()),
            own_notes: Mutex::new(HashMap::default()),
        });
        let driver = Driver {
            overlay: overlay.clone(),
            view: PartialView::new(me.name(), view),
            routes: Routes::new(me.name(), version, RoutesConfig::default()),
            rng: u64::from(me.creation()) * 2 + 1,
            held: HashMap::default(),
            early: HashMap::default(),
            beats: HashMap::default(),
            ticks: 0,
            routed: Vec::new(),
            fading: HashMap::default(),
            dirty: HashSet::default(),
            up: HashSet::default(),
            published: u64::MAX,
        };
        host.spawn(Box::pin(driver.run(rx)));
        let tick: fn() -> Event = || Event::Tick;
        let expire: fn() -> Event = || Event::Expire;
        for (every, event) in [
            (overlay.config.heartbeat_interval, tick),
            // Checked four times a grace period, so that what outlasts it ends within a
            // quarter more.
            (overlay.grace() / 4, expire),
        ] {
            let ticker = Arc::downgrade(&overlay);
            host.spawn(Box::pin(async move {
                loop {
                    actors::rt::sleep(every).await;
                    let Some(overlay) = ticker.upgrade() else {
                        return;
                    };
                    if overlay.closing() || overlay.events.unbounded_send(event()).is_err() {
                        return;
                    }
                }
            }));
        }
        overlay
    }

    fn links(&self) -> MutexGuard<'_, Links> {
        self.links.lock().unpoisoned()
    }

    /// How long a route may be missing, and a session's gap open, before its session ends:
    /// long enough for the routes to catch up with a change in the views (a flood of
    /// adverts: milliseconds, but a loaded node may take longer to be scheduled; a fifth of
    /// the heartbeat interval reset sessions while 128 nodes formed on two cores), one
    /// heartbeat interval.
    fn grace(&self) -> std::time::Duration {
        self.config.heartbeat_interval
    }

    fn closing(&self) -> bool {
        self.host.upgrade().is_none_or(|host| host.is_closing())
    }

    /// What the overlay holds now.
    pub(crate) fn info(&self) -> crate::overlay::OverlayInfo {
        let mut neighbours: Vec<String> = self.links().preferred.keys().cloned().collect();
        neighbours.sort();
        let mut reachable: Vec<String> = self
            .hops
            .lock()
            .unpoisoned()
            .keys()
            .map(|n| n.to_string())
            .collect();
        reachable.sort();
        let (mut frames_in, mut bytes_in) = *self.ended.lock().unpoisoned();
        for link in self.links().all.values() {
            let (frames, bytes) = link.received();
            frames_in += frames;
            bytes_in += bytes;
        }
        crate::overlay::OverlayInfo {
            neighbours,
            reachable,
            sessions: self.sessions.len(),
            frames_in,
            bytes_in,
            relayed: self.relayed.load(Ordering::Relaxed),
        }
    }

    /// Sets this node's note under `key` (or with `None` removes it): every node hears of it
    /// with the next flood of this node's advert. Refused when this node's notes would pass
    /// [`RoutesConfig::max_notes`].
    pub(crate) fn note(&self, key: &str, body: Option<Vec<u8>>) -> Result<(), Refused> {
        {
            let mut own = self.own_notes.lock().unpoisoned();
            let size = body.as_ref().map_or(0, |b| key.len() + b.len());
            let others: usize = own.iter().filter(|(k, _)| *k != key).map(|(_, n)| n).sum();
            let max = RoutesConfig::default().max_notes;
            if others + size > max {
                return Err(Refused::NotesTooLarge {
                    node: self.me.name().to_string(),
                    bytes: others + size,
                    max,
                });
            }
            match body {
                Some(_) => own.insert(key.to_string(), size),
                None => own.remove(key),
            };
        }
        let _ = self
            .events
            .unbounded_send(Event::Note(key.to_string(), body));
        Ok(())
    }

    /// The node is shutting down: the cluster is told it leaves, before the links close.
    pub(crate) fn leave(&self) {
        let _ = self.events.unbounded_send(Event::Leave);
    }

    /// The nodes up for the overlay, sorted.
    pub(crate) fn nodes_up(&self) -> Vec<String> {
        let mut up: Vec<String> = self.up.lock().unpoisoned().iter().cloned().collect();
        up.sort();
        up
    }

    /// Hands `to` the notes of the nodes up under `key`, those shown now and then each
    /// change, in a task of the node's, until `to` says it takes no more (its reader ended).
    pub(crate) fn forward_notes(
        &self,
        key: &str,
        mut to: impl FnMut(Noted) -> bool + Send + 'static,
    ) {
        let Some(host) = self.host.upgrade() else {
            return;
        };
        let mut notes = self.board.watch(key);
        host.spawn(Box::pin(async move {
            while let Some(noted) = notes.next().await {
                if !to(noted) {
                    return;
                }
            }
        }));
    }

    /// Sets `value`, encoded, as this node's note under `key`: see [`Overlay::note`].
    pub(crate) fn publish<T: serde::Serialize>(&self, key: &str, value: &T) -> Result<(), String> {
        let mut body = Vec::new();
        actors::dist::encode(value, &mut body).map_err(|e| e.to_string())?;
        self.note(key, Some(body)).map_err(|e| e.to_string())
    }

    /// Joins the overlay through `contact` if this node has no route yet.
    pub(crate) fn join(&self, contact: &str) {
        if self.hops.lock().unpoisoned().is_empty() {
            let _ = self.events.unbounded_send(Event::Join(contact.to_string()));
        }
    }

    /// A session to `node`, for the node's handshake to run over. A node not yet in an
    /// overlay joins through `node` first, and waits for the route.
    pub(crate) async fn open(self: &Arc<Self>, node: &str) -> std::io::Result<Stream> {
        let no_route = || {
            std::io::Error::new(
                std::io::ErrorKind::NotConnected,
                format!("no route to {node} over the overlay"),
            )
        };
        if !self.hops.lock().unpoisoned().contains_key(node) {
            if !self.hops.lock().unpoisoned().is_empty() {
                return Err(no_route());
            }
            let (tx, rx) = oneshot::channel();
            self.waiters
                .lock()
                .unpoisoned()
                .push((node.to_string(), tx));
            self.join(node);
            // The caller's handshake deadline bounds the wait.
            if rx.await.is_err() {
                return Err(no_route());
            }
        }
        let session = self.sessions.open(node).ok_or_else(|| {
            std::io::Error::other(format!(
                "{} sessions open already",
                self.config.max_peers.saturating_mul(2)
            ))
        })?;
        Ok(sessions::stream(
            &(self.clone() as Arc<dyn Carrier>),
            session,
        ))
    }

    /// A stream accepted by the node's listener: an overlay link, once the cookie is proved.
    pub(crate) async fn accept(self: Arc<Self>, arrived: Incoming) {
        let Incoming { peer: from, stream } = arrived;
        let result = actors::rt::timeout(self.config.handshake_timeout, async {
            let mut stream = stream.await.map_err(handshake::HandshakeError::from)?;
            let open = !self.closing();
            let full = self.links().all.len() >= self.config.max_peers;
            let peer = handshake::accept(&mut stream, &self.me, &self.config.cookie, open, |_| {
                if full {
                    Status::Refused(format!("{} overlay links already", self.config.max_peers))
                } else {
                    Status::Ok
                }
            })
            .await?;
            Ok::<_, handshake::HandshakeError>((stream, peer))
        })
        .await;
        match result {
            Ok(Ok((stream, peer))) => {
                let name = peer.id.name().to_string();
                self.run_link(stream, name.clone(), name);
            }
            Ok(Err(e)) => {
                tracing::warn!(node = %self.me.name(), %from, "overlay link from {from} rejected: {e}");
            }
            Err(_) => {
                tracing::warn!(node = %self.me.name(), %from, "overlay link from {from} rejected: handshake timed out");
            }
        }
    }

    /// Dials `peer` for a link.
    fn dial(self: &Arc<Self>, peer: String) {
        let Some(host) = self.host.upgrade() else {
            return;
        };
        let overlay = self.clone();
        host.spawn(Box::pin(async move {
            let attempt = async {
                let addr = crate::transport::address(&peer).ok_or_else(|| {
                    handshake::HandshakeError::Malformed("no address in the node name".into())
                })?;
                let mut stream = overlay.transport.dial(addr).await?;
                match handshake::initiate(&mut stream, &overlay.me, &overlay.config.cookie, &peer)
                    .await
                {
                    Ok(_) => Ok(stream),
                    Err(e) => {
                        (stream.close)();
                        Err(e)
                    }
                }
            };
            match actors::rt::timeout(overlay.config.handshake_timeout, attempt).await {
                Ok(Ok(stream)) => {
                    overlay.run_link(stream, peer, overlay.me.name().to_string());
                }
                Ok(Err(e)) => {
                    tracing::debug!(node = %overlay.me.name(), %peer, "overlay link to {peer} failed: {e}");
                    let _ = overlay.events.unbounded_send(Event::DialFailed(peer));
                }
                Err(_) => {
                    let _ = overlay.events.unbounded_send(Event::DialFailed(peer));
                }
            }
        }));
    }

    /// Puts a handshaken stream to work as a link to `peer`.
    fn run_link(self: &Arc<Self>, stream: Stream, peer: String, dialled_by: String) {
        let Some(host) = self.host.upgrade() else {
            (stream.close)();
            return;
        };
        let Stream {
            reader,
            writer,
            close,
            ..
        } = stream;
        let id = self.next_link.fetch_add(1, Ordering::Relaxed);
        let link = Arc::new(Link::new(peer, id, dialled_by, close));
        let _ = self.events.unbounded_send(Event::Up(link.clone()));
        let writing = link.clone();
        host.spawn(Box::pin(async move {
            let _ = link::write_loop(writing.clone(), writer).await;
            writing.shut();
        }));
        let overlay = self.clone();
        host.spawn(Box::pin(async move {
            let Some(host) = overlay.host.upgrade() else {
                return;
            };
            let reason = link::read_loop(
                &link,
                reader,
                overlay.config.max_frame,
                host.budget(),
                |frame, body| overlay.take(&link, frame, body),
            )
            .await;
            drop(host);
            if link.shut() {
                tracing::debug!(node = %overlay.me.name(), peer = %link.peer, "overlay link lost: {reason}");
            }
            let _ = overlay.events.unbounded_send(Event::Down(link));
        }));
    }

    /// A frame read from `link`: relayed frames are passed on or delivered here, the rest go
    /// to the task.
    fn take(
        self: &Arc<Self>,
        link: &Arc<Link>,
        frame: LinkFrame,
        body: &[u8],
    ) -> Result<(), String> {
        match frame {
            LinkFrame::Tick => Ok(()),
            LinkFrame::Relay { hop, seq, bytes } if hop.to == self.me.name() => {
                match self.sessions.deliver(&hop, seq, bytes.into_vec()) {
                    Delivered::Taken => {}
                    Delivered::New(session) => {
                        if let Some(host) = self.host.upgrade() {
                            host.answer(sessions::stream(
                                &(self.clone() as Arc<dyn Carrier>),
                                session,
                            ));
                        }
                    }
                    Delivered::Refused => {
                        self.send_toward(&hop.from, &LinkFrame::Reset { hop: hop.back() });
                    }
                }
                Ok(())
            }
            LinkFrame::Reset { hop } if hop.to == self.me.name() => {
                self.sessions.reset(&hop);
                Ok(())
            }
            LinkFrame::Relay { hop, .. } => {
                self.pass_on(&hop, body, true);
                Ok(())
            }
            LinkFrame::Reset { hop } => {
                self.pass_on(&hop, body, false);
                Ok(())
            }
            other => self
                .events
                .unbounded_send(Event::Frame(link.clone(), other))
                .map_err(|_| "the node is shutting down".to_string()),
        }
    }

    /// Passes a frame for another node on, untouched. Without a route for it yet, it waits
    /// (behind any other held for that node) for the grace period; a relay that cannot pass
    /// it on tells the sender, so that its session ends at once.
    fn pass_on(&self, hop: &wire::Hop, body: &[u8], is_relay: bool) {
        let mut bytes = Vec::with_capacity(wire::LEN + body.len());
        bytes.extend_from_slice(&(body.len() as u32).to_be_bytes());
        bytes.extend_from_slice(body);
        self.relayed.fetch_add(1, Ordering::Relaxed);
        if !self.forward_or_hold(hop, is_relay, bytes) && is_relay {
            tracing::debug!(node = %self.me.name(), to = %hop.to, "relayed frame dropped: a full queue");
            self.send_toward(&hop.from, &LinkFrame::Reset { hop: hop.back() });
        }
    }

    /// Sends an encoded frame toward `hop.to`, or holds it until a route leads there (behind
    /// any other held for that node); false if it can be neither.
    fn forward_or_hold(&self, hop: &wire::Hop, is_relay: bool, bytes: Vec<u8>) -> bool {
        let limit = self.room().saturating_mul(4);
        let mut held = self.held.lock().unpoisoned();
        let link = match held.contains_key(&hop.to) {
            true => None,
            false => self.link_toward(&hop.to),
        };
        let passed = match link {
            Some(link) => link.forward(bytes, limit),
            None => {
                // Bounded in all: what peers send for nodes nobody reaches (names they made
                // up, say) costs at most `limit` bytes, for the grace period.
                let total: usize = held.values().map(|q| q.bytes).sum();
                let room = total + bytes.len() <= limit;
                let queue = held.entry(hop.to.clone());
                match queue {
                    std::collections::hash_map::Entry::Occupied(mut q) if room => {
                        let q = q.get_mut();
                        q.bytes += bytes.len();
                        q.frames.push_back((hop.clone(), is_relay, bytes));
                        true
                    }
                    std::collections::hash_map::Entry::Vacant(v) if room => {
                        v.insert(Held {
                            since: actors::rt::now(),
                            bytes: bytes.len(),
                            frames: VecDeque::from([(hop.clone(), is_relay, bytes)]),
                        });
                        true
                    }
                    _ => false,
                }
            }
        };
        drop(held);
        passed
    }

    /// Sends on the frames held for nodes a route now leads to; drops those held past the
    /// grace period, telling their senders.
    fn release_held(&self) {
        let limit = self.room().saturating_mul(4);
        let mut expired = Vec::new();
        {
            let mut held = self.held.lock().unpoisoned();
            if held.is_empty() {
                return;
            }
            let grace = self.grace();
            let nodes: Vec<String> = held.keys().cloned().collect();
            for node in nodes {
                if let Some(link) = self.link_toward(&node) {
                    let queue = held.remove(&node).expect("listed above");
                    for (_, _, bytes) in queue.frames {
                        link.forward(bytes, limit);
                    }
                } else if held
                    .get(&node)
                    .is_some_and(|q| actors::rt::elapsed(q.since) >= grace)
                {
                    let queue = held.remove(&node).expect("listed above");
                    expired.extend(queue.frames.into_iter().filter(|f| f.1).map(|f| f.0));
                }
            }
        }
        expired.dedup_by(|a, b| a.from == b.from && a.session == b.session);
        for hop in expired {
            tracing::debug!(node = %self.me.name(), to = %hop.to, "relayed frames dropped: no route within the grace period");
            self.send_toward(&hop.from, &LinkFrame::Reset { hop: hop.back() });
        }
    }

    /// Closes every link and session.
    pub(crate) fn shutdown(&self) {
        let links: Vec<Arc<Link>> = self.links().all.values().cloned().collect();
        for link in links {
            link.shut();
        }
        self.sessions.reset_all();
    }
}

impl Carrier for Overlay {
    fn sessions(&self) -> &Sessions {
        &self.sessions
    }

    /// To the next hop of the node's route, or to the node itself if it is a neighbour the
    /// routes do not count yet.
    fn link_toward(&self, node: &str) -> Option<Arc<Link>> {
        let hop = self.hops.lock().unpoisoned().get(node).cloned();
        let links = self.links();
        links.preferred.get(hop.as_deref().unwrap_or(node)).cloned()
    }

    fn wait_for_route(&self, cx: &std::task::Context<'_>) {
        let mut wakers = self.route_wakers.lock().unpoisoned();
        if !wakers.iter().any(|w| w.will_wake(cx.waker())) {
            wakers.push(cx.waker().clone());
        }
    }

    fn room(&self) -> usize {
        self.config.send_limit
    }

    /// A reset waits for a route as relayed frames do: lost, it would leave the peer's end
    /// of the session open with nothing to tell it otherwise.
    fn send_toward(&self, node: &str, frame: &LinkFrame) {
        let hop = match frame {
            LinkFrame::Relay { hop, .. } | LinkFrame::Reset { hop } => hop,
            _ => return,
        };
        debug_assert_eq!(hop.to, node);
        if let Ok(bytes) = wire::encode(frame) {
            self.forward_or_hold(hop, false, bytes);
        }
    }
}

/// The heartbeat's view of one link.
#[derive(Default)]
struct Beat {
    received: u64,
    written: u64,
    silent: u32,
    age: u64,
}

/// The task's state: the two state machines and what it keeps about links.
struct Driver {
    overlay: Arc<Overlay>,
    view: PartialView,
    routes: Routes,
    rng: u64,
    /// View messages for peers being dialled.
    held: HashMap<String, Vec<Message>>,
    /// Adverts from linked peers not yet in the routes' peers, by link.
    early: HashMap<u64, Vec<Adverts>>,
    beats: HashMap<u64, Beat>,
    ticks: u64,
    /// The peers the routes were last given.
    routed: Vec<String>,
    /// Nodes no route has led to since when: their sessions end after the grace period.
    fading: HashMap<String, std::time::Instant>,
    /// Nodes that may have come up or gone down, or whose notes changed, since last shown.
    dirty: HashSet<String>,
    /// The nodes up: a route leads to them, or did within the grace period, and they are not
    /// leaving.
    up: HashSet<String>,
    /// The routes' generation the next hops were last published at.
    published: u64,
}

impl Driver {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Event>) {
        while let Some(event) = rx.next().await {
            if self.overlay.closing() {
                // Shutting down: the cluster is told this node leaves, so that its names and
                // members go at once rather than after the grace period. The links close a
                // moment later (`Net::shutdown`), once the advert has had its moment.
                self.routes.leave();
                let out = self.routes.flush();
                self.send_adverts(out);
                break;
            }
            self.handle(event);
            while let Ok(event) = rx.try_recv() {
                self.handle(event);
            }
            let out = self.routes.flush();
            self.send_adverts(out);
            self.publish();
            self.refresh();
            self.overlay.release_held();
        }
        self.overlay.board.clear();
        // The leaving advert goes out before the links close.
        actors::rt::sleep(crate::io::FAREWELL / 4).await;
        self.overlay.shutdown();
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::Join(contact) => {
                if self.view.active().is_empty() && !self.held.contains_key(&contact) {
                    let out = self.view.join(&contact);
                    self.send_view(out);
                }
            }
            Event::Up(link) => self.up(link),
            Event::Frame(link, LinkFrame::View(message)) => {
                self.step(|view, mut draw| view.receive(&link.peer, message, &mut draw));
            }
            Event::Frame(link, LinkFrame::Adverts(adverts)) => self.adverts(&link, adverts),
            Event::Frame(..) => {}
            Event::Down(link) => self.down(&link),
            Event::DialFailed(peer) => {
                self.overlay.links().dialling.remove(&peer);
                self.held.remove(&peer);
                self.failed(&peer);
            }
            Event::Tick => self.tick(),
            Event::Expire => self.expire(),
            Event::Leave => {}
            Event::Note(key, body) => {
                // Checked by `Overlay::note` against the same bound.
                if let Err(refused) = self.routes.set_note(&key, body) {
                    tracing::warn!(node = %self.overlay.me.name(), "note not published: {refused}");
                }
            }
        }
        self.sync_routes();
    }

    fn failed(&mut self, peer: &str) {
        self.step(|view, mut draw| view.failed(peer, &mut draw));
    }

    /// Runs one step of the views with this node's randomness, and sends what it says.
    fn step(
        &mut self,
        f: impl FnOnce(&mut PartialView, &mut dyn FnMut() -> u64) -> Vec<(String, Message)>,
    ) {
        let mut rng = self.rng;
        let out = f(&mut self.view, &mut || next(&mut rng));
        self.rng = rng;
        self.send_view(out);
    }

    fn up(&mut self, link: Arc<Link>) {
        if link.is_closed() {
            return;
        }
        let me = self.overlay.me.name().to_string();
        {
            let mut links = self.overlay.links();
            links.all.insert(link.id, link.clone());
            if link.dialled_by == me {
                links.dialling.remove(&link.peer);
            }
            let keep = match links.preferred.get(&link.peer) {
                None => true,
                Some(old) if old.dialled_by != link.dialled_by => link.dialled_by < old.dialled_by,
                Some(_) => true,
            };
            if keep {
                links.preferred.insert(link.peer.clone(), link.clone());
            }
        }
        self.beats.insert(link.id, Beat::default());
        if let Some(held) = self.held.remove(&link.peer) {
            for message in held {
                self.send_view(vec![(link.peer.clone(), message)]);
            }
        }
    }

    fn down(&mut self, link: &Arc<Link>) {
        if self.beats.remove(&link.id).is_some() {
            let (frames, bytes) = link.received();
            let mut ended = self.overlay.ended.lock().unpoisoned();
            ended.0 += frames;
            ended.1 += bytes;
        }
        self.early.remove(&link.id);
        let lost = {
            let mut links = self.overlay.links();
            links.all.remove(&link.id);
            let was_preferred = links
                .preferred
                .get(&link.peer)
                .is_some_and(|l| l.id == link.id);
            if !was_preferred {
                false
            } else {
                links.preferred.remove(&link.peer);
                let me = self.overlay.me.name();
                let other = links
                    .all
                    .values()
                    .filter(|l| l.peer == link.peer && !l.is_closed())
                    .min_by(|a, b| {
                        (a.dialled_by.as_str() != me, a.id)
                            .cmp(&(b.dialled_by.as_str() != me, b.id))
                    })
                    .cloned();
                match other {
                    Some(other) => {
                        links.preferred.insert(link.peer.clone(), other);
                        false
                    }
                    None => true,
                }
            }
        };
        if lost && self.view.active().iter().any(|p| *p == link.peer) {
            tracing::info!(node = %self.overlay.me.name(), peer = %link.peer, "overlay neighbour lost");
            self.failed(&link.peer);
        }
    }

    fn adverts(&mut self, link: &Arc<Link>, adverts: Adverts) {
        if !self.routed.contains(&link.peer) {
            // The peer took this node into its view a moment before this node took it:
            // kept until it does, or these adverts would be lost.
            let early = self.early.entry(link.id).or_default();
            if early.len() < MAX_EARLY_ADVERTS {
                early.push(adverts);
            }
            return;
        }
        match self.routes.receive(&link.peer, adverts) {
            Ok(out) => self.send_adverts(out),
            Err(refused) => {
                tracing::warn!(node = %self.overlay.me.name(), peer = %link.peer, "overlay link closed: {refused}");
                link.shut();
            }
        }
    }

    /// Gives the routes the active peers that have a link; replays adverts held from peers
    /// that have just become active.
    fn sync_routes(&mut self) {
        let peers: Vec<String> = {
            let links = self.overlay.links();
            let mut peers: Vec<String> = self
                .view
                .active()
                .iter()
                .filter(|p| links.preferred.contains_key(*p))
                .cloned()
                .collect();
            peers.sort();
            peers
        };
        if peers == self.routed {
            return;
        }
        let added: Vec<String> = peers
            .iter()
            .filter(|p| !self.routed.contains(p))
            .cloned()
            .collect();
        self.routed = peers;
        let out = self.routes.set_peers(&self.routed);
        self.send_adverts(out);
        for peer in added {
            let ids: Vec<u64> = self
                .overlay
                .links()
                .all
                .values()
                .filter(|l| l.peer == peer)
                .map(|l| l.id)
                .collect();
            for id in ids {
                let Some(held) = self.early.remove(&id) else {
                    continue;
                };
                let Some(link) = self.overlay.links().all.get(&id).cloned() else {
                    continue;
                };
                for adverts in held {
                    self.adverts(&link, adverts);
                }
            }
        }
    }

    fn send_view(&mut self, out: Vec<(String, Message)>) {
        for (peer, message) in out {
            let link = self.overlay.links().preferred.get(&peer).cloned();
            match link {
                Some(link) => {
                    if let Ok(bytes) = wire::encode(&LinkFrame::View(message)) {
                        link.send(bytes);
                    }
                }
                None => {
                    // Names in view messages come from peers: dials under way are bounded,
                    // as links are, and a message past the bound is dropped (the views
                    // repair what it would have done at the next shuffle).
                    let mut links = self.overlay.links();
                    if !links.dialling.contains(&peer)
                        && links.dialling.len() >= self.overlay.config.max_peers
                    {
                        continue;
                    }
                    let dial = links.dialling.insert(peer.clone());
                    drop(links);
                    let held = self.held.entry(peer.clone()).or_default();
                    if held.len() < MAX_HELD {
                        held.push(message);
                    }
                    if dial {
                        self.overlay.dial(peer);
                    }
                }
            }
        }
    }

    fn send_adverts(&mut self, out: Vec<(String, Adverts)>) {
        // A flood sends the same adverts to each peer but one: encoded once (the adverts
        // carry notes, and encoding them is much of a flood's cost). The adverts last
        // encoded are held, so that comparing them by pointer is sound.
        let mut last: Option<(Adverts, Vec<u8>)> = None;
        for (peer, adverts) in out {
            let Some(link) = self.overlay.links().preferred.get(&peer).cloned() else {
                continue;
            };
            let same = last.as_ref().is_some_and(|(sent, _)| {
                sent.0.len() == adverts.0.len()
                    && sent
                        .0
                        .iter()
                        .zip(&adverts.0)
                        .all(|(a, b)| Arc::ptr_eq(a, b))
            });
            if !same {
                match wire::encode(&LinkFrame::Adverts(adverts.clone())) {
                    Ok(bytes) => last = Some((adverts, bytes)),
                    Err(_) => continue,
                }
            }
            if let Some((_, bytes)) = &last {
                link.send(bytes.clone());
            }
        }
    }

    fn tick(&mut self) {
        self.ticks += 1;
        let misses = self.overlay.config.heartbeat_misses;
        let active: BTreeSet<String> = self.view.active().iter().cloned().collect();
        let links: Vec<Arc<Link>> = self.overlay.links().all.values().cloned().collect();
        let mut preferred: HashSet<u64> = HashSet::default();
        for link in self.overlay.links().preferred.values() {
            preferred.insert(link.id);
        }
        for link in links {
            let Some(beat) = self.beats.get_mut(&link.id) else {
                continue;
            };
            beat.age += 1;
            let (received, written) = link.traffic();
            if received == beat.received {
                beat.silent += 1;
            } else {
                beat.silent = 0;
                beat.received = received;
            }
            if beat.silent >= misses {
                tracing::warn!(node = %self.overlay.me.name(), peer = %link.peer, "no traffic from overlay neighbour {} for {misses} intervals: declaring it down", link.peer);
                link.shut();
                continue;
            }
            let needed = active.contains(&link.peer) && preferred.contains(&link.id);
            if !needed && beat.age >= TEMPORARY_FOR && !self.held.contains_key(&link.peer) {
                // A link for one exchange, or the loser of two dialled at once.
                link.shut();
                continue;
            }
            if written == beat.written
                && let Ok(bytes) = wire::encode(&LinkFrame::Tick)
            {
                link.send(bytes);
            }
            beat.written = link.traffic().1;
        }
        if self.ticks.is_multiple_of(SHUFFLE_EVERY) {
            self.step(|view, mut draw| view.tick(&mut draw));
        }
        self.routes.tick();
    }

    /// Ends the sessions of nodes no route has led to for the grace period, and those whose
    /// gap has stayed open as long.
    fn expire(&mut self) {
        let grace = self.overlay.grace();
        let gone: Vec<String> = self
            .fading
            .iter()
            .filter(|(n, since)| actors::rt::elapsed(**since) >= grace || self.routes.is_leaving(n))
            .map(|(n, _)| n.clone())
            .collect();
        for node in gone {
            self.fading.remove(&node);
            self.overlay.sessions.reset_peer(&node);
            self.dirty.insert(node);
        }
        for hop in self.overlay.sessions.expire_gaps(grace) {
            let to = hop.to.clone();
            self.overlay.send_toward(&to, &LinkFrame::Reset { hop });
        }
    }

    /// Publishes the next hops; opens sessions to nodes newly reached and ends those to
    /// nodes no longer reached.
    fn publish(&mut self) {
        // Adverts that change notes alone (most of a flood's) move no path.
        if self.routes.generation() == self.published {
            return;
        }
        self.published = self.routes.generation();
        // Only what changed: a flood moves the paths of a few nodes at a time, and each node
        // rebuilding its whole table after each was most of the cost of a flood.
        let (gone, set) = self.routes.changed_paths();
        if gone.is_empty() && set.is_empty() {
            return;
        }
        let (reached, lost) = {
            let mut hops = self.overlay.hops.lock().unpoisoned();
            let hops = Arc::make_mut(&mut hops);
            let removed: HashSet<Arc<str>> = gone
                .into_iter()
                .filter(|n| hops.remove(n).is_some())
                .collect();
            let mut reached = Vec::new();
            for (node, hop) in set {
                if hops.insert(node.clone(), hop).is_none() && !removed.contains(&node) {
                    reached.push(node.to_string());
                }
            }
            let lost: Vec<String> = removed
                .into_iter()
                .filter(|n| !hops.contains_key(n))
                .map(|n| n.to_string())
                .collect();
            (reached, lost)
        };
        let wakers = std::mem::take(&mut *self.overlay.route_wakers.lock().unpoisoned());
        wakers.into_iter().for_each(std::task::Waker::wake);
        self.dirty.extend(reached);
        // A node no route leads to may be a moment away from a new one (the adverts of a
        // change in the views are still on their way): its sessions wait for the grace
        // period before they end.
        let now = actors::rt::now();
        for node in lost {
            self.fading.entry(node).or_insert(now);
        }
        let table = self.overlay.hops.lock().unpoisoned().clone();
        self.fading.retain(|n, _| !table.contains_key(n.as_str()));
        let waiting: Vec<oneshot::Sender<()>> = {
            let mut waiters = self.overlay.waiters.lock().unpoisoned();
            let (ready, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut *waiters)
                .into_iter()
                .partition(|(node, _)| table.contains_key(node.as_str()));
            *waiters = rest
                .into_iter()
                .filter(|(_, tx)| !tx.is_canceled())
                .collect();
            ready.into_iter().map(|(_, tx)| tx).collect()
        };
        for tx in waiting {
            let _ = tx.send(());
        }
    }
}

impl Driver {
    /// Works out which of the nodes that may have changed are up (a route leads to them, or
    /// did within the grace period, and they are not leaving): tells the node those that came
    /// up and went down, and shows the board their notes (none for a node down).
    fn refresh(&mut self) {
        let mut dirty = std::mem::take(&mut self.dirty);
        dirty.extend(self.routes.take_changed());
        if dirty.is_empty() {
            return;
        }
        let hops = self.overlay.hops.lock().unpoisoned().clone();
        let (mut came, mut went) = (Vec::new(), Vec::new());
        for node in dirty {
            let up = (hops.contains_key(node.as_str()) || self.fading.contains_key(&node))
                && !self.routes.is_leaving(&node);
            let advert = match up {
                true => self.routes.advert(&node).cloned(),
                false => None,
            };
            self.overlay.board.show(&node, advert);
            if up && self.up.insert(node.clone()) {
                came.push(node);
            } else if !up && self.up.remove(&node) {
                went.push(node);
            }
        }
        if came.is_empty() && went.is_empty() {
            return;
        }
        *self.overlay.up.lock().unpoisoned() = self.up.clone();
        let Some(host) = self.overlay.host.upgrade() else {
            return;
        };
        if !went.is_empty() {
            host.nodes_down(went);
        }
        if !came.is_empty() {
            host.nodes_up(came);
        }
    }
}

fn next(rng: &mut u64) -> u64 {
    *rng ^= *rng >> 12;
    *rng ^= *rng << 25;
    *rng ^= *rng >> 27;
    rng.wrapping_mul(0x2545_f491_4f6c_dd1d)
}
