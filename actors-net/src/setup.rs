//! Setting connections up: dialling, answering, and putting a handshaken stream to work.
//!
//! One connection per pair of nodes. A connection is reserved in the peer table the moment
//! either side wants it, under one lock: by a dial, or by an incoming handshake once the
//! peer has proved the cookie (never before). When both sides dial at once, the side with
//! the greater name keeps its own attempt, so both agree on which socket survives.

use std::sync::Arc;
use std::time::Duration;

use actors::NodeId;

use crate::connection::{Conn, Side, State, lock};
use crate::frame::Control;
use crate::handshake::{self, HandshakeError, Status};
use crate::io::{heartbeat, read_loop, write_loop};
use crate::net::{Loss, Net, NodeEvent, address};
use crate::transport::{Incoming, Listener, Stream};

/// After a failed attempt, how long sends to that node fail at once instead of dialling again;
/// doubled with each failure in a row, up to `RETRY_CEILING`.
const RETRY_AFTER: Duration = Duration::from_millis(200);
const RETRY_CEILING: Duration = Duration::from_secs(5);

/// How long a node keeps trying to reach a peer whose link failed.
const HEAL_FOR: Duration = Duration::from_secs(300);

/// How often the healer looks for severed peers to dial again.
const HEAL_EVERY: Duration = Duration::from_millis(500);

fn retry_after(failures: u32) -> Duration {
    RETRY_AFTER
        .saturating_mul(1 << failures.saturating_sub(1).min(8))
        .min(RETRY_CEILING)
}

/// How soon a dial answered `Alive` (the peer still holds a connection this node closed) is
/// tried again, within the handshake deadline.
const ALIVE_RETRY: Duration = Duration::from_millis(20);

/// The longest node name accepted from a peer's list.
const MAX_NAME: usize = 255;

/// How many nodes of a peer's list are dialled at once.
const DIAL_AT_ONCE: usize = 8;

impl Net {
    /// What to answer `peer`, which has proved the cookie; reserves the connection if
    /// accepted.
    pub(crate) fn decide(&self, peer: &NodeId) -> (Status, Option<Arc<Conn>>) {
        let mut peers = lock(&self.peers);
        if self.is_closing() {
            return (Status::Refused("node shutting down".into()), None);
        }
        if peers.blocked.contains(peer.name()) {
            return (Status::Refused("blocked".into()), None);
        }
        if self.is_apart(&peers, peer) {
            return (
                Status::Refused("kept apart to keep partitions clean".into()),
                None,
            );
        }
        match peers.conns.get(peer.name()) {
            None if peers.conns.len() >= self.config.max_peers => (
                Status::Refused(format!(
                    "already connected to {} nodes",
                    self.config.max_peers
                )),
                None,
            ),
            None => {
                let conn = self.new_conn(peer.name(), Side::Accepting);
                peers.conns.insert(peer.name().to_string(), conn.clone());
                (Status::Ok, Some(conn))
            }
            Some(conn) => {
                let mut state = conn.state();
                match *state {
                    State::Connecting(Side::Dialing) if self.id.name() > peer.name() => {
                        (Status::Nok, None)
                    }
                    State::Connecting(Side::Dialing) => {
                        // The peer's attempt wins; ours will hear `Nok` and leave this to it.
                        *state = State::Connecting(Side::Accepting);
                        drop(state);
                        (Status::Ok, Some(conn.clone()))
                    }
                    _ => {
                        // Over the overlay, the session this node holds may be one the peer
                        // has let go of without its reset getting here (no route at the
                        // time): a ping on it draws a reset if so, and the peer's next
                        // attempt finds the way clear, as OTP's `alive` answer lets it.
                        if self.overlay().is_some() {
                            self.send_control(conn, &Control::Ping { request: 0 });
                        }
                        (Status::Alive, None)
                    }
                }
            }
        }
    }

    /// Puts a handshaken stream to work for `conn`.
    pub(crate) fn install(self: &Arc<Self>, conn: Arc<Conn>, stream: Stream, peer: NodeId) {
        let Stream {
            reader,
            writer,
            close,
            peer: addr,
        } = stream;
        {
            let mut peers = lock(&self.peers);
            let current = peers.conns.get(&conn.name);
            if !current.is_some_and(|c| Arc::ptr_eq(c, &conn)) || conn.is_closed() {
                close();
                return;
            }
            if self.is_apart(&peers, &peer) {
                drop(peers);
                close();
                self.close(&conn, "kept apart to keep partitions clean", Loss::Quiet);
                return;
            }
            let failed = peers.failed.remove(&conn.name).map_or(0, |(_, n)| n);
            peers.severed.remove(&conn.name);
            peers.wanted.remove(&conn.name);
            // Emitted before anyone waiting in `connect` wakes: whoever subscribes after
            // `connect` returns must not see this connection's `Up`. On the overlay, nodes
            // are up and down as the overlay reaches them, whether or not a session is open.
            if self.overlay().is_none() {
                self.emit(NodeEvent::Up(conn.name.clone()));
            }
            conn.set_up(peer.clone(), close);
            if failed > 0 {
                tracing::info!(node = %self.id.name(), peer = %conn.name, %addr, failed, "connected to {} after {failed} failed attempts", conn.name);
            } else {
                tracing::info!(node = %self.id.name(), peer = %conn.name, %addr, "connected");
            }
        }
        let Some(owner) = self.owner() else {
            self.close(&conn, "node shutting down", Loss::Quiet);
            return;
        };
        conn.attach(writer);
        self.spawn(write_loop(conn.clone()));
        self.spawn(read_loop(owner.clone(), conn.clone(), reader));
        self.spawn(heartbeat(owner, conn.clone()));
        if self.overlay().is_some() {
            return;
        }
        // Tell the peer who else this node knows: it connects to them too (full mesh).
        let others: Vec<String> = self
            .nodes()
            .into_iter()
            .filter(|n| *n != conn.name)
            .take(self.config.max_peers)
            .collect();
        self.send_control(&conn, &Control::Peers(others));
    }

    /// The connection to `name`, dialling it if there is none (lazy connect). Shortly after a
    /// failed attempt, sends fail at once rather than dial again.
    pub(crate) fn conn(self: &Arc<Self>, name: &str) -> Option<Arc<Conn>> {
        self.conn_or_dial(name, false)
    }

    /// The connection to `name`; `explicit` dials even right after a failed attempt, and
    /// a peer kept apart.
    pub(crate) fn conn_or_dial(self: &Arc<Self>, name: &str, explicit: bool) -> Option<Arc<Conn>> {
        let mut peers = lock(&self.peers);
        if let Some(c) = peers.conns.get(name) {
            return Some(c.clone());
        }
        if self.is_closing()
            || name == self.id.name()
            || peers.blocked.contains(name)
            || address(name).is_none()
            || peers.conns.len() >= self.config.max_peers
            || (!explicit
                && ((peers.apart.contains_key(name) && !peers.severed.contains_key(name))
                    || peers
                        .failed
                        .get(name)
                        .is_some_and(|(t, n)| actors::rt::elapsed(*t) < retry_after(*n))))
        {
            return None;
        }
        let conn = self.new_conn(name, Side::Dialing);
        peers.conns.insert(name.to_string(), conn.clone());
        drop(peers);
        self.spawn(dial(self.clone(), conn.clone()));
        Some(conn)
    }

    /// The connection to the node of `pid`, remembered in the pid for its next sends.
    pub(crate) fn conn_for(self: &Arc<Self>, pid: &actors::AnyPid) -> Option<Arc<Conn>> {
        if let Some(hint) = actors::dist::route_hint(pid)
            && let Ok(conn) = hint.downcast::<Conn>()
            && !conn.is_closed()
        {
            return Some(conn);
        }
        let conn = self.conn(pid.node())?;
        actors::dist::set_route_hint(pid, conn.clone());
        Some(conn)
    }

    /// Dials the peers whose link failed, and the nodes peers listed that this node has not
    /// reached, each at most every few seconds and no more than `DIAL_AT_ONCE` at a time,
    /// until they are reached or `HEAL_FOR` has passed: a link that failed for a moment heals
    /// by itself, and a partition heals once the network does.
    pub(crate) async fn heal_loop(self: Arc<Self>) {
        loop {
            actors::rt::sleep(HEAL_EVERY).await;
            if self.is_closing() || self.node.upgrade().is_none() {
                return;
            }
            let (due, room) = {
                let mut peers = lock(&self.peers);
                peers
                    .severed
                    .retain(|_, (_, since)| actors::rt::elapsed(*since) < HEAL_FOR);
                peers
                    .wanted
                    .retain(|_, since| actors::rt::elapsed(*since) < HEAL_FOR);
                let due: std::collections::BTreeSet<String> = peers
                    .severed
                    .keys()
                    .chain(peers.wanted.keys())
                    .filter(|n| !peers.conns.contains_key(*n))
                    .cloned()
                    .collect();
                let dialling = peers.conns.values().filter(|c| !c.is_up()).count();
                (due, DIAL_AT_ONCE.saturating_sub(dialling))
            };
            let mut started = 0;
            for name in due {
                if started == room {
                    break;
                }
                if self.conn(&name).is_some_and(|c| !c.is_up()) {
                    started += 1;
                }
            }
        }
    }

    /// Looks for nodes as `discovery` says, every interval, and joins those found as it joins
    /// the nodes a peer lists, until the node closes. A failing look is logged once as a
    /// warning, its repeats at debug with their count, and the recovery once.
    pub(crate) async fn discovery_loop(self: Arc<Self>, discovery: crate::discovery::Discovery) {
        let mut failing = 0u32;
        while !self.is_closing() && self.node.upgrade().is_some() {
            match discovery.look().await {
                Ok(found) => {
                    if failing > 0 {
                        tracing::info!(node = %self.id.name(), "discovery finds nodes again after {failing} failed looks");
                        failing = 0;
                    }
                    self.join_peers(found);
                }
                Err(why) => {
                    failing += 1;
                    if failing == 1 {
                        tracing::warn!(node = %self.id.name(), "discovery failed: {why} (looking again every {:?}; each failure after this is logged at debug)", discovery.interval());
                    } else {
                        tracing::debug!(node = %self.id.name(), failed = failing, "discovery failed again: {why}");
                    }
                }
            }
            actors::rt::sleep(discovery.interval()).await;
        }
    }

    /// Joins the nodes a peer listed (full mesh): names that are not node names, or longer
    /// than any node name needs, are passed over; no more are dialled than the peer table has
    /// room for, and no more than `DIAL_AT_ONCE` at a time.
    pub(crate) fn join_peers(self: &Arc<Self>, names: Vec<String>) {
        if let Some(overlay) = self.overlay() {
            // A node joins an overlay once, through one member; the routes tell it the rest.
            if let Some(contact) = names
                .iter()
                .find(|n| n.len() <= MAX_NAME && *n != self.id.name() && address(n).is_some())
            {
                overlay.join(contact);
            }
            return;
        }
        self.reach(names);
    }

    /// Connects to each of `names` not connected yet, and keeps each wanted (redialled
    /// until reached) if a dial fails.
    pub(crate) fn reach(self: &Arc<Self>, names: Vec<String>) {
        let wanted: Vec<String> = {
            let mut peers = lock(&self.peers);
            let room = self.config.max_peers.saturating_sub(peers.conns.len());
            let valid: Vec<String> = names
                .into_iter()
                .filter(|n| n.len() <= MAX_NAME && n != self.id.name() && address(n).is_some())
                .take(self.config.max_peers)
                .collect();
            // Every listed node not up now is wanted, a dial under way included: it may fail
            // (the network still cut) and must then be tried again.
            let now = actors::rt::now();
            for name in &valid {
                let up = peers.conns.get(name).is_some_and(|c| c.is_up());
                if !up && peers.wanted.len() < self.config.max_peers {
                    peers.wanted.entry(name.clone()).or_insert(now);
                }
            }
            valid
                .into_iter()
                .filter(|n| !peers.conns.contains_key(n))
                .take(room)
                .collect()
        };
        self.dial_all(wanted);
    }

    /// Dials each of `names`, no more than `DIAL_AT_ONCE` at a time.
    pub(crate) fn dial_all(self: &Arc<Self>, wanted: Vec<String>) {
        if wanted.is_empty() {
            return;
        }
        let net = self.clone();
        self.spawn(async move {
            let dial = |name: String| {
                let net = net.clone();
                async move {
                    if let Some(conn) = net.conn(&name) {
                        let _ = std::future::poll_fn(|cx| conn.poll_settled(cx)).await;
                    }
                }
            };
            futures::StreamExt::for_each_concurrent(
                futures::stream::iter(wanted),
                DIAL_AT_ONCE,
                dial,
            )
            .await;
        });
    }

    pub(crate) async fn accept_loop(self: Arc<Self>, listener: Box<dyn Listener>) {
        while !self.is_closing() && self.node.upgrade().is_some() {
            match listener.accept().await {
                Ok(arrived) => match self.overlay() {
                    Some(overlay) => {
                        self.spawn(overlay.clone().accept(arrived));
                    }
                    None => {
                        self.spawn(incoming(self.clone(), arrived));
                    }
                },
                Err(e) => {
                    tracing::warn!(node = %self.id.name(), "accept failed: {e}");
                    actors::rt::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }
}

/// The overlay's links reach the node through this.
impl crate::links::Host for Net {
    fn spawn(&self, task: futures::future::BoxFuture<'static, ()>) {
        Net::spawn(self, task);
    }
    fn is_closing(&self) -> bool {
        Net::is_closing(self)
    }
    fn budget(&self) -> &crate::io::PartialBudget {
        &self.partial
    }
    fn answer(&self, stream: Stream) {
        let Some(net) = self.myself() else {
            return;
        };
        let arrived = Incoming {
            peer: stream.peer.clone(),
            stream: Box::pin(async move { Ok(stream) }),
        };
        self.spawn(incoming(net, arrived));
    }
    fn nodes_up(&self, nodes: Vec<String>) {
        if self.is_closing() {
            return;
        }
        for node in nodes {
            self.emit(NodeEvent::Up(node));
        }
    }

    fn nodes_down(&self, nodes: Vec<String>) {
        for node in nodes {
            self.emit(NodeEvent::Down(node));
        }
    }
}

impl Net {
    /// Logs a failed dial: the first of a run of failures as a warning, the retries after it
    /// at debug with their count (a lost node is redialled for minutes; its survivors should
    /// not fill the logs meanwhile). The recovery is logged by `install`.
    fn dial_failed(&self, conn: &Conn, why: &str) {
        let before = lock(&self.peers)
            .failed
            .get(&conn.name)
            .map_or(0, |(_, n)| *n);
        if before == 0 {
            tracing::warn!(node = %self.id.name(), peer = %conn.name, "connection to {} failed: {why} (retrying; each retry is logged at debug)", conn.name);
        } else {
            let attempt = before + 1;
            tracing::debug!(node = %self.id.name(), peer = %conn.name, attempt, "connection to {} failed again: {why}", conn.name);
        }
    }
}

pub(crate) async fn dial(net: Arc<Net>, conn: Arc<Conn>) {
    let Some(addr) = address(&conn.name) else {
        net.close(&conn, "no address in the node name", Loss::Quiet);
        return;
    };
    // The connection may meanwhile be carried by the peer's own attempt: a failure of this
    // one then matters no more.
    let superseded = || !matches!(*conn.state(), State::Connecting(Side::Dialing));
    let attempt = async {
        loop {
            let mut stream = match net.overlay() {
                Some(overlay) => overlay.open(&conn.name).await,
                None => net.transport.dial(addr).await,
            }
            .map_err(HandshakeError::from)?;
            match handshake::initiate(&mut stream, &net.id, &net.config.cookie, &conn.name).await {
                // The peer still holds a connection this node has let go of (closed here a
                // moment ago; its goodbye is on its way): it will see it close, so try again.
                Err(HandshakeError::Alive) if !superseded() => {
                    (stream.close)();
                    actors::rt::sleep(ALIVE_RETRY).await;
                }
                result => return Ok::<_, HandshakeError>((stream, result?)),
            }
        }
    };
    let result = actors::rt::timeout(net.config.handshake_timeout, attempt).await;
    match result {
        Ok(Ok((stream, peer))) => net.install(conn, stream, peer.id),
        Ok(Err(HandshakeError::Lost)) => {
            // The peer's own attempt is the one to use; give it the handshake time.
            actors::rt::sleep(net.config.handshake_timeout).await;
            if !conn.is_up() {
                net.close(&conn, "simultaneous connect did not complete", Loss::Quiet);
            }
        }
        Ok(Err(e)) if superseded() => {
            tracing::debug!(node = %net.id.name(), peer = %conn.name, "superseded attempt ended: {e}");
        }
        Ok(Err(e)) => {
            net.dial_failed(&conn, &e.to_string());
            net.close(&conn, &e.to_string(), Loss::Quiet);
        }
        Err(_) if superseded() => {}
        Err(_) => {
            net.dial_failed(&conn, "timed out");
            net.close(&conn, "connect timed out", Loss::Quiet);
        }
    }
}

pub(crate) async fn incoming(net: Arc<Net>, arrived: Incoming) {
    let Incoming { peer: from, stream } = arrived;
    let mut reserved = None;
    let mut opened = None;
    // The transport's handshake and ours share one deadline.
    let result = actors::rt::timeout(net.config.handshake_timeout, async {
        let stream = opened.insert(stream.await.map_err(HandshakeError::from)?);
        let open = !net.is_closing();
        handshake::accept(stream, &net.id, &net.config.cookie, open, |peer| {
            let (status, conn) = net.decide(peer);
            reserved = conn;
            status
        })
        .await
    })
    .await;
    let close = || {
        if let Some(stream) = &opened {
            (stream.close)();
        }
    };
    match result {
        Ok(Ok(peer)) => match (reserved, opened) {
            (Some(conn), Some(stream)) => net.install(conn, stream, peer.id),
            (_, opened) => {
                if let Some(stream) = opened {
                    (stream.close)();
                }
            }
        },
        Ok(Err(HandshakeError::Lost | HandshakeError::Alive)) => close(),
        Ok(Err(e)) => {
            tracing::warn!(node = %net.id.name(), %from, "connection from {from} rejected: {e}");
            close();
            if let Some(conn) = reserved {
                net.close(&conn, &e.to_string(), Loss::Quiet);
            }
        }
        Err(_) => {
            tracing::warn!(node = %net.id.name(), %from, "connection from {from} rejected: handshake timed out");
            close();
            if let Some(conn) = reserved {
                net.close(&conn, "handshake timed out", Loss::Quiet);
            }
        }
    }
}
